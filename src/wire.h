/*
 * wire.h: the only interface between the agent (libmemprof.so, inside the
 * profiled process) and the controller (memprof).  Nothing else is shared.
 *
 * Channel.  The controller listens on an abstract unix SOCK_SEQPACKET socket
 * whose name it passes in MEMPROF_SOCKET ("@memprof.<pid>.<random>").  When
 * the agent starts in a process (at load, after exec, and in the child after
 * fork) it creates its own event ring in a memfd, connects to that socket and
 * sends one struct wire_hello with the memfd attached (SCM_RIGHTS).  It keeps
 * the connection open: the controller sees end-of-file when the process exits
 * or execs, which is how it knows that image is finished, even after SIGKILL.
 * The socket is close-on-exec; a program that closes every fd (subprocess's
 * close_fds) does not lose profiling, because each image connects anew.
 *
 * Ring.  One per process image: a header page (struct wire_ring) followed by
 * a power-of-two data area.  Any thread of the target is a producer: it
 * reserves space by compare-and-swap on write_pos, writes its record, then
 * publishes it with a release store of the record's header.  Reservation
 * order is a total order consistent with causality (an allocation is
 * reserved before malloc returns the block to anyone; a free is reserved
 * before the block goes back to the allocator), so the controller needs no
 * sequence numbers to pair frees with allocations or to handle address
 * reuse.  The single consumer (the controller) reads records in order, stops
 * at the first unpublished one, zeroes what it consumed (so stale bytes never
 * look published on the next lap) and then advances read_pos.  A sampling
 * ring's consumer instead returns consumed pages to the kernel (they read
 * back as zeros, and stop being the program's memory), 64 KiB at a time,
 * and may leave read_pos behind what it has read, at a 64 KiB boundary,
 * until the rest of that stretch is read.  An exact ring's consumer, once
 * the ring has stood still for a second with everything read, reserves the
 * free space itself as a producer would (compare-and-swap on write_pos),
 * returns its pages to the kernel and reads on past it: producers see
 * write_pos jump, which they must allow for.  A record never
 * wraps: a producer whose record would cross the end reserves the tail as a
 * WIRE_PAD record as part of the same reservation.  When the ring is full a
 * sampling agent drops the record and counts it; an exact agent waits for the
 * consumer (bounded, then drops and counts).  All integers are native
 * (little-endian x86-64) and naturally aligned; records are 8-byte aligned.
 *
 * Cancelling.  In exact mode most blocks die young, and an ALLOC followed by
 * its FREE costs both sides twice what one record would.  So a thread that
 * frees a small block whose WIRE_REC_ALLOC_EXACT it wrote itself, with no
 * other thread's record since (so nothing else can have touched that
 * address in between), may turn that ALLOC into WIRE_REC_ALLOC_EXACT_FREED
 * in place instead of sending a FREE, provided the consumer has not claimed
 * it yet.  The consumer announces how far it may read in claim_pos, then
 * issues a full fence, then reads; the producer changes the record's header
 * word with a compare-and-swap (which must find the record's own lap in its
 * flags, so a record that was consumed and overwritten is never touched),
 * then loads claim_pos.  If claim_pos is still at or before the record, the
 * consumer is bound to see the new type and no FREE is sent; otherwise the
 * FREE is sent anyway, and a consumer that saw the new type finds no live
 * block for it, which is harmless.
 *
 * Configuration is passed to the agent in the environment (WIRE_ENV_*).
 */

#ifndef MEMPROF_WIRE_H
#define MEMPROF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC		0x474e52464f52504dULL	/* "MPROFRNG" */
#define WIRE_VERSION		3

/* Environment read by the agent. */
#define WIRE_ENV_SOCKET		"MEMPROF_SOCKET"	/* "@name": abstract socket */
#define WIRE_ENV_SAMPLE_EVERY	"MEMPROF_SAMPLE_EVERY"	/* mean bytes; 0 = exact */
#define WIRE_ENV_NATIVE		"MEMPROF_NATIVE"	/* "1": native frames too */
#define WIRE_ENV_FOLLOW		"MEMPROF_FOLLOW"	/* "0": only the root pid */
#define WIRE_ENV_ROOT_PID	"MEMPROF_ROOT_PID"	/* pid that memprof launched */
#define WIRE_ENV_RING_SIZE	"MEMPROF_RING_SIZE"	/* data bytes, power of two */

/*
 * Default ring sizes.  An exact agent sends every allocation and free (tens
 * of millions a second at most) and waits when the ring is full, so it gets
 * room for the collector's slower moments: 16 MiB took a third of a second
 * off bench/workloads/threads.py's 5 s under --exact against 4 MiB, and
 * 64 MiB nothing more.
 */
#define WIRE_RING_DEFAULT_SIZE	(4U << 20)
#define WIRE_RING_EXACT_SIZE	(16U << 20)
#define WIRE_RING_HEADER_SIZE	4096U

/*
 * The bytes of a ring mapping (map, len) resident in memory: the pages of
 * the shared ring that exist, which the agent's process has all touched
 * (every page is first written by the agent), so they are in its VmRSS (as
 * RssShmem) on top of the program's own memory.  Both sides take them off
 * the resident figures they report (the EXIT record, the capture's RSS
 * records).  0 if it cannot be told.  src/wire-resident.c, in both.
 */
uint64_t	wire_ring_resident(void *map, size_t len, size_t page);

/* struct wire_hello.flags */
#define WIRE_HELLO_EXACT	0x1
#define WIRE_HELLO_NATIVE	0x2
#define WIRE_HELLO_ATTACHED	0x4	/* injected by attach, not preloaded */

/* First and only message on the control socket; the ring memfd rides along. */
struct wire_hello {
	uint64_t	magic;		/* WIRE_MAGIC */
	uint32_t	version;	/* WIRE_VERSION */
	uint32_t	flags;		/* WIRE_HELLO_* */
	int32_t		pid;
	int32_t		ppid;
	uint64_t	sample_every;	/* mean bytes between samples; 0 = exact */
	uint64_t	ring_size;	/* data bytes after the header page */
	uint64_t	start_ns;	/* CLOCK_MONOTONIC at agent start */
	char		exe[256];	/* readlink /proc/self/exe, NUL-terminated */
};

/* The header page of a ring.  Producer and consumer fields sit on separate cache lines. */
struct wire_ring {
	uint64_t		magic;		/* WIRE_MAGIC */
	uint32_t		version;
	uint32_t		header_size;	/* WIRE_RING_HEADER_SIZE */
	uint64_t		data_size;	/* power of two */
	char			pad0[40];

	uint64_t		write_pos;	/* producers, atomic CAS */
	char			pad1[56];

	uint64_t		read_pos;	/* consumer only */
	char			pad2[56];

	uint64_t		claim_pos;	/* consumer: records before it may be read (Cancelling) */
	char			pad3[56];

	uint64_t		dropped_records;	/* atomic add, producers */
	uint64_t		dropped_bytes;		/* estimated bytes of dropped allocs */
	uint32_t		agent_state;		/* WIRE_STATE_* (agent writes) */
	uint32_t		controller_state;	/* WIRE_CTL_* (controller writes) */
};

#define WIRE_STATE_STARTING	0
#define WIRE_STATE_RECORDING	1
#define WIRE_STATE_DISABLED	2	/* agent gave up (no memory, ...) */
#define WIRE_STATE_DETACHED	3

#define WIRE_CTL_RUNNING	0
#define WIRE_CTL_DETACH		1	/* controller asks the agent to stop */

/*
 * Every record starts with this header.  len is the record's total length
 * including the header, a multiple of 8.  The producer writes the payload
 * and type first, then stores len with release semantics; len == 0 means
 * "not published yet".
 */
struct wire_rec {
	uint32_t	len;
	uint16_t	type;		/* WIRE_REC_* */
	uint16_t	flags;
};

enum wire_rec_type {
	WIRE_REC_PAD = 1,	/* skip len bytes */
	WIRE_REC_ALLOC,		/* struct wire_alloc */
	WIRE_REC_FREE,		/* struct wire_free */
	WIRE_REC_UNMAP,		/* struct wire_unmap: range, may be partial */
	WIRE_REC_STACK,		/* struct wire_stack + frames */
	WIRE_REC_CODE,		/* struct wire_code + strings + line table */
	WIRE_REC_PYTHON,	/* struct wire_python */
	WIRE_REC_EXIT,		/* program code finished (Python atexit, exit()); optional
				   u64: the image's peak resident bytes then (VmHWM), 0 unknown;
				   optional u64: the ring's resident bytes in it */
	WIRE_REC_THREAD,	/* struct wire_thread */
	WIRE_REC_MODULE,	/* struct wire_module + path: for native symbols */
	WIRE_REC_ALLOC_EXACT,	/* struct wire_alloc_exact: an ALLOC whose weight is its size */
	WIRE_REC_FREE_ADDR,	/* uint64_t address: a FREE, its allocator in the header's flags */
	WIRE_REC_ALLOC_EXACT_FREED,	/* struct wire_alloc_exact, freed before it was read
				   (Cancelling): allocated, live only for an instant */
	WIRE_REC_ALLOC_FREED,	/* struct wire_alloc: the full form of the above; never on a ring */
};

/*
 * The header flags of WIRE_REC_ALLOC_EXACT: the record's lap around the
 * ring, (position / data_size) mod 2^16, so that a producer cancelling it
 * (Cancelling) never mistakes a later record at the same offset for it.
 */
#define WIRE_LAP(pos, size_log2)	((uint16_t)((pos) >> (size_log2)))

/* A record header as the one 64-bit word a producer compares and swaps. */
#define WIRE_REC_WORD(len, type, flags)					\
	((uint64_t)(uint32_t)(len) | (uint64_t)(uint16_t)(type) << 32 |		\
	    (uint64_t)(uint16_t)(flags) << 48)

/* Which allocator an allocation came from (struct wire_alloc.allocator). */
enum wire_allocator {
	WIRE_ALLOC_MALLOC = 1,
	WIRE_ALLOC_CALLOC,
	WIRE_ALLOC_REALLOC,
	WIRE_ALLOC_MEMALIGN,	/* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */
	WIRE_ALLOC_MMAP,
	WIRE_ALLOC_PYMEM,	/* PyMem_* domain (pymalloc or its malloc fallback) */
	WIRE_ALLOC_PYOBJECT,	/* PyObject_* domain */
};

/*
 * An allocation that was recorded (sampled, or every one in exact mode).
 * weight is the unbiased estimate of the bytes this record stands for
 * (size itself in exact mode); the controller subtracts the same weight when
 * the address is freed.  stack is a WIRE_REC_STACK id sent earlier by this
 * process (0: no stack).  A realloc that moves or resizes a recorded block is
 * sent as WIRE_REC_FREE of the old address followed by WIRE_REC_ALLOC.
 */
struct wire_alloc {
	uint64_t	addr;
	uint64_t	size;
	uint64_t	weight;
	uint32_t	stack;
	uint16_t	allocator;	/* enum wire_allocator */
	uint16_t	tid_hash;	/* low bits of the kernel tid, for display */
};

/*
 * The compact ALLOC of --exact mode (and of any block whose weight is its
 * size): 32 bytes on the ring instead of 40.  The compact FREE is the
 * address alone (16 bytes instead of 24).  In --exact mode the ring carries
 * every allocation and every free, and its bytes are what both sides pay
 * for; the controller turns both back into struct wire_alloc and
 * wire_free as it reads them.
 */
struct wire_alloc_exact {
	uint64_t	addr;
	uint64_t	size;
	uint32_t	stack;
	uint16_t	allocator;
	uint16_t	tid_hash;
};

/* A free of an address that the agent recorded (every free in exact mode). */
struct wire_free {
	uint64_t	addr;
	uint16_t	allocator;
	uint16_t	pad[3];
};

/* Room for the full form of a compact record (wire_full_form). */
union wire_full {
	struct wire_alloc	alloc;
	struct wire_free	free;
};

/*
 * Turn a compact ALLOC or FREE (type, header flags, payload of len bytes)
 * into its full form in *buf, updating type, payload and len; any other
 * record is left as it is.  0, or -1 if a compact record is too short.
 */
static inline int
wire_full_form(uint16_t *type, uint16_t flags, const void **payload, size_t *len,
    union wire_full *buf)
{
	struct wire_alloc_exact	e;

	if (*type == WIRE_REC_ALLOC_EXACT || *type == WIRE_REC_ALLOC_EXACT_FREED) {
		if (*len < sizeof e)
			return -1;
		__builtin_memcpy(&e, *payload, sizeof e);
		buf->alloc.addr = e.addr;
		buf->alloc.size = buf->alloc.weight = e.size;
		buf->alloc.stack = e.stack;
		buf->alloc.allocator = e.allocator;
		buf->alloc.tid_hash = e.tid_hash;
		*type = *type == WIRE_REC_ALLOC_EXACT ? WIRE_REC_ALLOC : WIRE_REC_ALLOC_FREED;
		*len = sizeof buf->alloc;
	} else if (*type == WIRE_REC_FREE_ADDR) {
		if (*len < sizeof buf->free.addr)
			return -1;
		__builtin_memset(&buf->free, 0, sizeof buf->free);
		__builtin_memcpy(&buf->free.addr, *payload, sizeof buf->free.addr);
		buf->free.allocator = flags;
		*type = WIRE_REC_FREE;
		*len = sizeof buf->free;
	} else
		return 0;
	*payload = buf;
	return 0;
}

/*
 * A record's payload seen as its struct: the payload itself when it is
 * aligned for it (ring records are), else a copy in *tmp (records inside a
 * capture chunk are only 4-aligned).  Readers then take the fields they need
 * through the pointer: copying a struct that wire_full_form has just
 * written field by field with one wide load stalls that load on the stores
 * (store forwarding fails), once per record.
 */
static inline const void *
wire_view(const void *payload, void *tmp, size_t size, size_t align)
{
	if (((uintptr_t)payload & (align - 1)) == 0)
		return payload;
	__builtin_memcpy(tmp, payload, size);
	return tmp;
}
#define WIRE_VIEW(payload, tmp)						\
	((const __typeof__(*(tmp)) *)wire_view((payload), (tmp), sizeof *(tmp),	\
	    _Alignof(__typeof__(*(tmp)))))

/* munmap or the unmapped part of mremap: every recorded mapping overlapping the range loses it. */
struct wire_unmap {
	uint64_t	addr;
	uint64_t	len;
};

/*
 * A call stack, innermost frame first.  Each frame is a uint64_t:
 *  - Python frame: bit 63 clear; code id (a WIRE_REC_CODE id) in bits 32..62,
 *    byte offset of the current instruction into co_code in bits 0..31
 *    (the controller maps it to a line through the code's line table);
 *  - native frame: bit 63 set; the return address in bits 0..62.
 * Ids are unique within one process image; the same stack may be sent more
 * than once under different ids (the controller interns by content).
 */
#define WIRE_FRAME_NATIVE	(1ULL << 63)
#define WIRE_FRAME_PY(code, off)	(((uint64_t)(code) << 32) | (uint32_t)(off))
#define WIRE_FRAME_CODE(f)	((uint32_t)(((f) >> 32) & 0x7fffffffU))
#define WIRE_FRAME_OFFSET(f)	((uint32_t)(f))

#define WIRE_STACK_MAX_FRAMES	128

struct wire_stack {
	uint32_t	id;		/* > 0 */
	uint16_t	nframes;
	uint16_t	truncated;	/* 1: deeper frames were cut */
	/* uint64_t frames[nframes] follow */
};

/* Line table formats (struct wire_code.table_format). */
#define WIRE_LINES_LNOTAB	1	/* CPython <= 3.9 co_lnotab */
#define WIRE_LINES_PEP626	2	/* CPython 3.10 co_linetable */
#define WIRE_LINES_LOCATIONS	3	/* CPython >= 3.11 co_linetable (location table) */

/*
 * A code object, sent the first time a stack refers to it.  Followed by
 * filename_len bytes of UTF-8 file name, name_len bytes of UTF-8 function
 * name (qualified name where CPython has one), then table_len bytes of the
 * raw line table, then padding to 8 bytes.
 */
struct wire_code {
	uint32_t	id;		/* > 0 */
	int32_t		firstlineno;
	uint16_t	filename_len;
	uint16_t	name_len;
	uint32_t	table_len;
	uint16_t	table_format;	/* WIRE_LINES_* */
	uint16_t	pad[3];
};

/* The interpreter, sent once when the agent finds Python in the process. */
struct wire_python {
	uint32_t	hexversion;	/* PY_VERSION_HEX */
	uint32_t	flags;		/* WIRE_PYTHON_* */
};
#define WIRE_PYTHON_STATIC	0x1	/* interpreter linked into the executable */
#define WIRE_PYTHON_PYMEM	0x2	/* PyMem/PyObject domains are hooked */

/* A thread's name, sent when first seen. */
struct wire_thread {
	int32_t		tid;
	char		name[16];
	uint32_t	pad;
};

/*
 * An executable file mapping of a process, for symbolizing native frames:
 * followed by path_len bytes of path (no NUL, no padding).  The agent does
 * not send these: the controller reads them from /proc/PID/maps (at the
 * hello, and again when a stack holds an address no known mapping covers)
 * and writes them into the capture in the image's stream, before the first
 * record that needs them (docs/native.md).  An address a in [start, end)
 * is at file offset a - start + offset; dev and inode identify the file as
 * it was, so a reader can tell a file replaced on disk since.
 */
struct wire_module {
	uint64_t	start;		/* first address of the mapping */
	uint64_t	end;		/* one past the last */
	uint64_t	offset;		/* file offset of start */
	uint64_t	inode;
	uint32_t	dev_major;
	uint32_t	dev_minor;
	uint32_t	path_len;
	uint32_t	flags;		/* 0 */
};

#endif /* MEMPROF_WIRE_H */
