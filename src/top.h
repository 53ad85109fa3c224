/*
 * top.h: the dashboard family (`memprof top`, `memprof run --live`).
 *
 * Data flows one way.  A worker thread (top-worker.c) owns the monitor,
 * refreshes it every delay and publishes a self-contained copy of each
 * refresh (struct top_snap) for the UI thread to take; the UI thread never
 * reads cgroupfs or /proc itself, so a slow read never freezes keys.
 * top-model.c is the pure part shared by the dashboard and --batch: the
 * columns, how a cell is formatted and compared, filter, sort and tree
 * order, memory history for the sparklines, host /proc parsers.  top.c is
 * the interactive loop; ui.c is the only file that talks to curses and
 * ui-*.c draw through it.  top-live.c is the profiled-program pane of
 * `run --live`: the collector on its own thread, and copies of the model
 * taken between two collect steps, which ui-profile.c draws.
 */

#ifndef MEMPROF_TOP_H
#define MEMPROF_TOP_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "monitor.h"

/* Default refresh interval, seconds (docker stats uses 1 s, htop 1.5 s). */
#define TOP_DELAY_DEFAULT	2.0
/* Memory samples kept per container: 10 minutes at the default delay. */
#define TOP_HISTORY		300

/* Columns of the container table. */
enum top_col {
	TOP_COL_NAME,
	TOP_COL_ID,
	TOP_COL_CPU,
	TOP_COL_MEM,
	TOP_COL_LIMIT,
	TOP_COL_MEMPCT,
	TOP_COL_SWAP,
	TOP_COL_OOM,
	TOP_COL_PSI,
	TOP_COL_NET,
	TOP_COL_BLOCK,
	TOP_COL_PIDS,
	TOP_NCOLS
};

/* Columns of the process table (drill-down). */
enum top_pcol {
	TOP_PCOL_PID,
	TOP_PCOL_RSS,
	TOP_PCOL_PSS,
	TOP_PCOL_USS,
	TOP_PCOL_SWAP,
	TOP_PCOL_CMD,
	TOP_NPCOLS
};

/* How a column looks and sorts. */
struct top_coldef {
	const char	*title;
	const char	*key;		/* --sort name */
	int		 width;		/* cell width; 0: flexible */
	int		 right;		/* right-aligned */
	int		 priority;	/* dropped first when narrow: higher */
	int		 desc;		/* sorts descending first */
};

extern const struct top_coldef top_cols[TOP_NCOLS];
extern const struct top_coldef top_pcols[TOP_NPCOLS];

/* Host-wide figures for the header. */
struct top_host {
	uint64_t	 mem_total;
	uint64_t	 mem_available;
	uint64_t	 swap_total;
	uint64_t	 swap_free;
	double		 cpu_percent;	/* busy share of all CPUs, 0..100 */
	int		 have_cpu;	/* a previous sample existed */
	int		 ncpus;
	double		 load1;
};

/* The processes of one container, read for the drill-down. */
struct top_procs {
	char		*cgroup;	/* whose processes */
	struct procmem	*procs;
	size_t		 nprocs;
	int		 error;		/* errno of the pid list, 0: read */
};

/* One published refresh, owned by whoever took it (top_snap_free). */
struct top_snap {
	struct monitor_row	*rows;	/* strings point into arena */
	size_t			 nrows;
	char			*arena;
	struct top_host		 host;
	uint64_t		 time_ns;
	const char		*layout;	/* static string */
	unsigned		 seq;
	struct top_procs	 procs;	/* cgroup NULL: none asked */
	char			*error;	/* the refresh failed: why */
};

/* A view of a snapshot: which rows, in which order, at which tree depth. */
struct top_order {
	size_t		*index;		/* into snap->rows */
	int		*depth;		/* tree depth, 0 without tree */
	size_t		 n;
};

/* Per-container memory history, keyed by cgroup path. */
struct top_hist {
	char		*cgroup;
	uint64_t	 mem[TOP_HISTORY];
	uint64_t	 limit;
	size_t		 head;		/* next slot */
	size_t		 n;
	unsigned	 seen;
};

struct top_history {
	struct top_hist	**h;
	size_t		 n;
	size_t		 cap;
	unsigned	 gen;
};

/* top-model.c */
int		 top_col_find(const char *);
void		 top_cell_format(const struct monitor_row *, enum top_col, char *, size_t);
void		 top_pcell_format(const struct procmem *, enum top_pcol, char *, size_t);
int		 top_row_compare(const struct monitor_row *, const struct monitor_row *,
		     enum top_col);
int		 top_proc_compare(const struct procmem *, const struct procmem *,
		     enum top_pcol);
int		 top_row_matches(const struct monitor_row *, const char *);
void		 top_order_build(struct top_order *, const struct top_snap *, const char *,
		     enum top_col, int, int);
void		 top_order_free(struct top_order *);
void		 top_procs_sort(struct procmem *, size_t, enum top_pcol, int);
int		 top_parse_cpu(const char *, uint64_t *, uint64_t *, int *);
int		 top_parse_meminfo(const char *, struct top_host *);
void		 top_format_bytes(uint64_t, char *, size_t);
void		 top_history_update(struct top_history *, const struct top_snap *);
const struct top_hist *top_history_find(const struct top_history *, const char *);
size_t		 top_hist_values(const struct top_hist *, uint64_t *, size_t);
void		 top_history_free(struct top_history *);
void		 top_print_batch(FILE *, const struct top_snap *, const struct top_order *, int);

/* top-worker.c */
struct top_worker;
struct top_sampler;
struct top_sampler *top_sampler_create(struct monitor *, const char *);
struct top_snap	*top_sampler_take(struct top_sampler *, const char *);
void		 top_sampler_free(struct top_sampler *);
void		 top_snap_free(struct top_snap *);
struct top_worker *top_worker_start(struct top_sampler *, double);
struct top_snap	*top_worker_take(struct top_worker *);
void		 top_worker_want_procs(struct top_worker *, const char *);
void		 top_worker_poke(struct top_worker *);
int		 top_worker_fd(struct top_worker *);
void		 top_worker_stop(struct top_worker *);

/* top.c: the interactive dashboard */
struct top_options {
	double		 delay;
	int		 iterations;	/* 0: until quit */
	int		 all;
	enum top_col	 sort;
	int		 sort_set;
	const char	*filter;	/* initial filter, or NULL */
	int		 tree;
	const char	*select;	/* cgroup selected at the start, or NULL */
};
struct top_live;
int		 top_run(struct top_sampler *, const struct top_options *, struct top_live *);

#endif /* MEMPROF_TOP_H */
