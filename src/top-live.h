/*
 * top-live.h: the profiled-program pane of `memprof run --live`.
 *
 * top-live.c runs the collector (collect.c) on its own thread, each step
 * under a mutex, and copies what the pane shows out of the model
 * (profile.h) under that mutex once a second, with a trylock: the UI
 * thread never waits for a collector step, so a target flooding the ring
 * (--exact) cannot freeze keys.  ui-profile.c draws the pane from those
 * copies and never touches the model.
 */

#ifndef MEMPROF_TOP_LIVE_H
#define MEMPROF_TOP_LIVE_H

#include <sys/types.h>

#include <pthread.h>
#include <stdint.h>

#include "hmap.h"
#include "monitor.h"
#include "top.h"
#include "ui.h"

struct collect;

struct top_live	*top_live_create(struct collect *, pid_t, const char *);
void		 top_live_free(struct top_live *);
int		 top_live_run(struct top_live *);
int		 top_live_output_open(const char *, int[3], char **);
void		 top_live_output_restore(int[3]);
int		 top_live_reaped(struct top_live *);
int		 top_live_finish(struct top_live *);
void		 top_live_set_attached(struct top_live *);
void		 top_live_stop(struct top_live *);

/* For top.c's loop. */
int		 top_live_wait(struct top_live *, int, int);
int		 top_live_quit(struct top_live *);
int		 top_live_key(struct top_live *, int);
int		 top_live_height(struct top_live *, int);
void		 top_live_draw(struct top_live *, int, int, const struct monitor_row *);
const struct monitor_row *top_live_row(struct top_live *, const struct top_snap *);

/* ---- shared by top-live.c and ui-profile.c ------------------------------ */

enum top_live_col {
	TOP_LIVE_LIVE,
	TOP_LIVE_RATE,
	TOP_LIVE_ALLOC,
	TOP_LIVE_COUNT,
	TOP_LIVE_FUNC,
	TOP_LIVE_WHERE,
	TOP_LIVE_NCOLS
};

#define TOP_LIVE_EXPAND		48	/* lines of an expanded site's stacks */

/* One call site, summed over processes and stacks, with its names copied. */
struct top_live_site {
	uint32_t	frame;
	int64_t		live;
	uint64_t	alloc;
	double		count;
	double		rate;		/* bytes per second over the last interval */
	char		func[96];
	char		where[256];
};

/* What the pane shows, copied from the model under the lock. */
struct top_live_view {
	char			 prog[64];
	int			 reaped;
	int			 finished;
	int			 wstatus;
	int			 attached;	/* attach mode: no wait status, just "ended" */
	uint64_t		 seconds;
	uint64_t		 rss;
	uint64_t		 rss_max;
	int64_t			 heap;
	int64_t			 heap_max;
	uint64_t		 allocated;
	uint64_t		*rss_series;	/* per 100 ms tick, summed over processes */
	uint64_t		*heap_series;
	size_t			 nseries;
	size_t			 capseries;
	struct top_live_site	*sites;
	size_t			 nsites;
	char			 expand[TOP_LIVE_EXPAND][256];
	int			 expand_role[TOP_LIVE_EXPAND];	/* 0 frame, 1 heading, 2 site */
	int			 nexpand;
	uint32_t		 expand_frame;	/* +1; 0: none copied */
};

struct top_live {
	struct collect		*co;
	pid_t			 pid;
	int			 attached;	/* not our child: `memprof attach --live` */
	char			*cgroup;	/* the command's cgroup path */

	/* The collector thread; under lock: everything it writes. */
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	int			 running;
	int			 stop;
	int			 detached;	/* the dashboard is gone: end when done */
	int			 ui_waiting;	/* atomic: the UI wants the lock */
	int			 pipe[2];	/* the command's state changed */
	int			 reaped;
	int			 finished;	/* reaped and the grace period over */
	int			 wstatus;
	uint64_t		 start_ns;
	uint64_t		 end_ns;	/* reaped at + grace */
	uint64_t		 ended_ns;

	/* The UI thread's own. */
	struct top_live_view	 view;
	size_t			 timeline_at;	/* model timeline points copied */
	uint64_t		 tick_t;	/* t_ns of the tick being summed */
	struct hmap		 prev;		/* frame + 1 -> bytes allocated last time */
	uint64_t		 agg_ns;
	int			 agg_now;	/* aggregate at the next chance */
	uint32_t		 sel_frame;	/* +1; 0 none */
	int			 moved;		/* the user moved the selection */
	struct ui_table		 table;
	int			 table_h;
	int			 focus;		/* 1: keys go to the sites */
	int			 expand;
	const char		*log;
	int			 logfd;
	off_t			 logoff;
	char			 lastline[256];
	char			 partial[256];
};

/* ui-profile.c */
extern const struct ui_column top_live_cols[TOP_LIVE_NCOLS];
void		 ui_profile_draw(struct top_live *, int, int, const struct monitor_row *);

#endif /* MEMPROF_TOP_LIVE_H */
