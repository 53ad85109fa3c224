/*
 * profile.h: the controller's model of a profiled program, built from the
 * event stream: live from the agents' rings during `memprof run`, and again
 * from a capture file by `memprof report`.  Both paths call the same
 * profile_apply_*() functions, so a report is exactly what was seen live.
 *
 * Interning is global (across processes): strings, frames (function, file,
 * line) and stacks (frame sequences) each get a dense id.  Figures are kept
 * per process image (a pid, or a pid after exec), per stack:
 * allocated bytes and count, live bytes and count, bytes at the process's
 * peak, and bytes live when the program's own code finished ("at exit").
 * Reports aggregate stacks into sites (innermost Python frame, else the
 * innermost native frame outside the allocator and the agent).
 *
 * Native frames are symbolized here, once per (process, return address),
 * from the process's modules (WIRE_REC_MODULE, which the collector writes
 * from /proc/PID/maps) and the ELF files they name (symbolize.c).
 *
 * The model is single-threaded: whoever owns it (the collector, the report)
 * calls in from one thread; a UI reads it between two applies.
 */

#ifndef MEMPROF_PROFILE_H
#define MEMPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "wire.h"

struct symbolize;

/*
 * A Python frame, or a native one: then function is the symbol's name, or
 * "0x... (module+0xA)" when it has none (A: the return address as an ELF
 * address of the module, what addr2line -e takes); file is the module's
 * path ("" if no mapping covers the address) and line 0.
 */
struct frame {
	uint32_t	function;	/* string id */
	uint32_t	file;		/* string id */
	int32_t		line;		/* 0: unknown */
	uint32_t	native;		/* 1: a native frame */
	uint32_t	source;		/* string id: a native frame's source file (DWARF), 0: none */
};

struct stack {
	uint32_t	nframes;
	uint32_t	site;		/* frame id of the innermost Python frame (or innermost frame) */
	uint32_t	*frames;	/* frame ids, innermost first */
	uint32_t	truncated;
};

/* Figures of one stack in one process image. */
struct stack_stats {
	uint64_t	alloc_bytes;
	double		alloc_count;	/* an estimate when sampling */
	int64_t		live_bytes;
	double		live_count;
	int64_t		at_peak;	/* valid when peak_epoch == process's epoch, else live_bytes */
	uint64_t	peak_epoch;
	int64_t		at_all_peak;	/* the same at the peak of all processes together */
	uint64_t	all_peak_epoch;
	int64_t		at_exit;
};

/* A recorded allocation still live. */
struct live_alloc {
	uint64_t	size;
	uint64_t	weight;
	uint32_t	stack;		/* global stack id */
	uint16_t	allocator;
	uint16_t	mapped;		/* 1: an mmap, tracked by range too */
};

/* One slot of a process's recent blocks (profile.c): address + 1 (0: empty), pool index. */
struct recent_alloc {
	uint64_t	key;
	uint32_t	idx;
	uint32_t	pad;
};

struct code_info {
	uint32_t	file;		/* string id */
	uint32_t	name;		/* string id */
	int32_t		firstlineno;
	uint16_t	format;		/* WIRE_LINES_* */
	size_t		table_len;
	unsigned char	*table;
};

/* An executable file mapping of a process (from WIRE_REC_MODULE), for native frames. */
struct module_info {
	uint64_t	start;
	uint64_t	end;
	uint64_t	offset;		/* file offset of start */
	uint64_t	inode;
	uint32_t	dev_major;
	uint32_t	dev_minor;
	uint32_t	path;		/* string id */
	uint32_t	name;		/* string id of the path's last component */
};

struct process {
	struct profile		*pf;		/* the model it belongs to */
	uint32_t		 serial;	/* 1-based, order of appearance */
	int32_t			 pid;
	int32_t			 ppid;
	uint32_t		 parent;	/* serial of the parent image, 0 if none seen */
	char			*exe;
	uint32_t		 flags;		/* WIRE_HELLO_* */
	uint64_t		 sample_every;
	uint32_t		 python_hex;	/* 0: no Python seen */
	uint32_t		 python_flags;
	int			 ended;
	int			 exited_code;	/* the EXIT mark was seen */
	int			 execd;		/* replaced by exec: held nothing at exit */
	int			 wait_status;	/* -1 unknown */
	uint64_t		 dropped_records;
	uint64_t		 dropped_bytes;

	struct hmap		 codes;		/* agent code id -> index in code[] */
	struct code_info	*code;
	size_t			 ncode;
	uint32_t		*stack_vec;	/* agent stack id -> global id + 1 (0: unknown), */
	size_t			 stack_vec_len;	/* for ids below PROFILE_STACK_VEC_MAX; */
	struct hmap		 stack_ids;	/* above, agent stack id -> global stack id */
	struct hmap		 frame_cache;	/* (code id << 32 | offset) -> frame id */
	struct module_info	*modules;	/* sorted by start, disjoint */
	size_t			 nmodules;
	struct hmap		 native_cache;	/* native return address + 1 -> frame id */
	struct hmap		 live;		/* address -> index in live_pool */
	struct recent_alloc	*recent;	/* the newest blocks, not yet in live */
	unsigned int		 recent_shift;	/* 64 - log2(slots in recent) */
	struct live_alloc	*live_pool;
	size_t			 live_pool_len;
	uint32_t		*live_free;	/* free list of live_pool indexes */
	size_t			 live_free_len;
	size_t			 live_free_cap;
	uint64_t		*mapped;	/* addresses of live mmaps, for partial unmaps */
	size_t			 nmapped;

	struct stack_stats	*stats;		/* indexed by global stack id */
	size_t			 nstats;

	uint64_t		 allocated;	/* totals over all stacks */
	double			 allocations;
	int64_t			 live_total;
	int64_t			 peak;
	uint64_t		 peak_epoch;
	int64_t			 at_exit_total;
	int			 all_ended;	/* its bytes left the all-process sum */
	uint64_t		 end_all_epoch;	/* the all-process epoch when it ended */
	uint64_t		 events;
	uint64_t		 unmatched_frees;

	uint64_t		 rss_last;	/* latest RSS sample, bytes */
	uint64_t		 ring_max;	/* the most of memprof's ring seen resident in it */
	uint64_t		 rss_peak;
	int			 rss_gone;	/* its peak left the running images' sum */
};

/* Memory over time: one point per process per tick. */
struct timeline_point {
	uint64_t	t_ns;
	uint32_t	serial;
	int64_t		heap;		/* estimated live heap */
	uint64_t	rss;		/* 0: not sampled */
};

struct profile {
	char			**strings;
	size_t			 nstrings;
	struct hmap		 string_index;	/* hash -> string id (+ collision chain by probing ids) */

	struct frame		*frames;
	size_t			 nframes;
	struct hmap		 frame_index;

	struct stack		*stacks;
	size_t			 nstacks;
	struct hmap		 stack_index;

	struct process		**procs;
	size_t			 nprocs;
	int64_t			 live_all;	/* live bytes of all running images together */
	int64_t			 peak_all;	/* their highest sum, in the collector's order */
	uint64_t		 peak_all_epoch;

	char			**command;	/* argv of the profiled command */
	size_t			 ncommand;
	uint64_t		 start_unix_ns;
	uint64_t		 sample_every;
	uint32_t		 flags;
	uint64_t		 now_ns;	/* latest time seen */

	struct timeline_point	*timeline;
	size_t			 ntimeline;

	uint64_t		 rss_running;	/* sum of the running images' peak RSS */
	uint64_t		 rss_peak_all;	/* its highest: images that ran at once */
	struct symbolize	*symbols;	/* ELF symbol cache, made on first use */
	/*
	 * Give native frames their source lines (reports from a capture).  The
	 * collector does not: reading a line table (libpython's: ~50 ms, 30 MB)
	 * for the start-up frames of every run would cost every run.
	 */
	int			 native_lines;
};

struct profile	*profile_create(void);
void		 profile_free(struct profile *);

uint32_t	 profile_intern_string(struct profile *, const char *, size_t);
const char	*profile_string(const struct profile *, uint32_t);

/* A new process image (a hello); returns it. */
struct process	*profile_add_process(struct profile *, uint32_t serial, const struct wire_hello *);
struct process	*profile_process(const struct profile *, uint32_t serial);
int		 profile_stack_lookup(const struct process *, uint32_t agent_id, uint32_t *gid);
/* The live block recorded at an address, or NULL. */
const struct live_alloc *profile_live_block(const struct process *, uint64_t addr);

/*
 * Apply one wire record of a process image.  Returns 0, or -1 when the
 * record is malformed (too short, unknown ids are tolerated).
 */
int		 profile_apply_wire(struct profile *, struct process *, uint16_t type,
		     const void *payload, size_t len);
void		 profile_apply_end(struct profile *, struct process *, int wait_status,
		     uint64_t dropped_records, uint64_t dropped_bytes);
/* RSS and VmHWM of an image; ring: how much of them is memprof's ring (0: unknown). */
void		 profile_apply_rss(struct profile *, struct process *, uint64_t rss,
		    uint64_t hwm, uint64_t ring);
void		 profile_apply_time(struct profile *, uint64_t t_ns);

/* The module of a process that covers addr, or NULL. */
const struct module_info *profile_module_find(const struct process *, uint64_t addr);

/* Bytes a stack held at its process's peak. */
int64_t		 profile_stack_at_peak(const struct process *, uint32_t stack);
/* Bytes a stack of this process held when all processes together peaked. */
int64_t		 profile_stack_at_all_peak(const struct process *, uint32_t stack);

#endif /* MEMPROF_PROFILE_H */
