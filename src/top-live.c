/*
 * top-live.c: the profiled-program pane of `memprof run --live`: the
 * collector's thread, and what the pane shows copied out of the model.
 *
 * The collector runs on its own thread: collect_step (at most 10 ms
 * waiting for the agents, as `run` does without --live) under a mutex,
 * then the reaping of the command as cmd-run.c's loop does it.  The model
 * (profile.h) is single-threaded and only ever touched under that mutex,
 * so the UI reads it between two applies.  The UI thread never waits for
 * the mutex: once a second (or at once after a key that needs it) it tries
 * to take it, and when it cannot it raises ui_waiting, which makes the
 * collector step aside after its current step; then it copies what the
 * pane shows: totals, RSS and heap per tick, the sites (the innermost
 * Python frame, summed over stacks and processes: live bytes, bytes and
 * allocations, and the allocation rate since the last copy) with their
 * names, and the stacks of an expanded site.  ui-profile.c draws from
 * those copies.  A target flooding its ring (--exact) makes a collector
 * step long, so the pane's figures lag, never the keys.
 *
 * The command's stdin is /dev/null and its output goes to a log file while
 * the dashboard owns the terminal (top_live_output_*); the pane shows the
 * log's last line.  When the command ends, the pane says how and keeps the
 * last figures on screen until the user quits.
 */

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "collect.h"
#include "report.h"
#include "top-live.h"
#include "ui.h"

/* Followed processes may outlive the command this long, as in cmd-run.c. */
#define TOP_LIVE_GRACE_NS	1000000000ULL
/* The pane's copy of the model is refreshed this often. */
#define TOP_LIVE_AGG_NS		1000000000ULL
/* Longest collector wait for the agents per step. */
#define TOP_LIVE_STEP_MS	10
/* While a copy is pending, the UI retries this often (ms). */
#define TOP_LIVE_RETRY_MS	5
/* Stacks shown when a site is expanded. */
#define TOP_LIVE_STACKS		3

/* CLOCK_MONOTONIC in ns. */
static uint64_t
top_live_now(void)
{
	return collect_now_ns();
}

/* The command's cgroup from /proc/PID/cgroup: the memory line (v1), else "0::". */
static char *
top_live_read_cgroup(pid_t pid)
{
	char	path[64], line[1024], *found = NULL, *p;
	FILE	*fp;

	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	while (fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((p = strchr(line, ':')) == NULL || (p = strchr(p + 1, ':')) == NULL)
			continue;
		if (strstr(line, ":memory:") != NULL) {
			free(found);
			found = xstrdup(p + 1);
			break;
		}
		if (strncmp(line, "0::", 3) == 0 && found == NULL)
			found = xstrdup(p + 1);
	}
	fclose(fp);
	return found;
}

/*
 * Point the command's stdin at /dev/null and its output at log, for the
 * launch that follows (the child inherits fds 0-2); saved[] keeps ours for
 * top_live_output_restore().  Returns 0, or -1 with *cause.
 */
int
top_live_output_open(const char *log, int saved[3], char **cause)
{
	int	fd, null, i;

	if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		xasprintf(cause, "%s: %s", log, strerror(errno));
		return -1;
	}
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "/dev/null: %s", strerror(errno));
		close(fd);
		return -1;
	}
	fflush(NULL);
	for (i = 0; i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	close(null);
	return 0;
}

/* Give memprof its own stdin, stdout and stderr back after the launch. */
void
top_live_output_restore(int saved[3])
{
	int	i;

	for (i = 0; i < 3; i++) {
		if (saved[i] == -1)
			continue;
		dup2(saved[i], i);
		close(saved[i]);
		saved[i] = -1;
	}
}

/* Append src to dst (size bytes in all), cutting what does not fit. */
static void
top_live_append(char *dst, size_t size, const char *src)
{
	size_t	have = strlen(dst), n = strlen(src);

	if (have + 1 >= size)
		return;
	if (n > size - have - 1)
		n = size - have - 1;
	memcpy(dst + have, src, n);
	dst[have + n] = '\0';
}

/* Read what the command wrote since last time; keep its last complete line. */
static void
top_live_read_log(struct top_live *l)
{
	char	buf[4096], *p, *nl;
	ssize_t	n;

	if (l->logfd == -1)
		return;
	while ((n = pread(l->logfd, buf, sizeof buf - 1, l->logoff)) > 0) {
		l->logoff += n;
		buf[n] = '\0';
		for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			*nl = '\0';
			memcpy(l->lastline, l->partial, sizeof l->lastline);
			top_live_append(l->lastline, sizeof l->lastline, p);
			l->partial[0] = '\0';
		}
		top_live_append(l->partial, sizeof l->partial, p);
	}
}

/* qsort_r comparator of sites by the table's column, largest first unless reversed. */
static int
top_live_site_cmp(const void *a, const void *b, void *arg)
{
	const struct top_live_site	*sa = a, *sb = b;
	const struct ui_table		*t = arg;
	double				 ka, kb;
	int				 d;

	switch (t->sort) {
	case TOP_LIVE_RATE:
		ka = sa->rate, kb = sb->rate;
		break;
	case TOP_LIVE_ALLOC:
		ka = (double)sa->alloc, kb = (double)sb->alloc;
		break;
	case TOP_LIVE_COUNT:
		ka = sa->count, kb = sb->count;
		break;
	default:
		ka = (double)sa->live, kb = (double)sb->live;
		break;
	}
	d = ka < kb ? -1 : ka > kb;
	if (d == 0)
		d = sa->frame < sb->frame ? 1 : sa->frame > sb->frame ? -1 : 0;
	return t->desc ? -d : d;
}

/* The command's cgroup row in a snapshot, or NULL. */
const struct monitor_row *
top_live_row(struct top_live *l, const struct top_snap *s)
{
	size_t	i;

	if (l->cgroup == NULL || s == NULL)
		return NULL;
	for (i = 0; i < s->nrows; i++) {
		if (strcmp(s->rows[i].cgroup, l->cgroup) == 0)
			return &s->rows[i];
	}
	return NULL;
}

/* Lines of the pane out of avail: most of the screen, the containers keep a few. */
int
top_live_height(struct top_live *l, int avail)
{
	(void)l;
	if (avail < 16)
		return avail - 3 > 6 ? avail - 3 : avail;
	return avail * 3 / 5;
}

/* Make the pane for a launched command (pid) recorded by co; log is its output. */
struct top_live *
top_live_create(struct collect *co, pid_t pid, const char *log)
{
	struct top_live	*l = xcalloc(1, sizeof *l);

	l->co = co;
	l->pid = pid;
	l->start_ns = top_live_now();
	l->cgroup = top_live_read_cgroup(pid);
	l->log = log;
	l->logfd = log != NULL ? open(log, O_RDONLY | O_CLOEXEC) : -1;
	l->pipe[0] = l->pipe[1] = -1;
	pthread_mutex_init(&l->lock, NULL);
	hmap_init(&l->prev);
	l->table.cols = top_live_cols;
	l->table.ncols = TOP_LIVE_NCOLS;
	l->table.sort = TOP_LIVE_LIVE;
	l->table.desc = 1;
	l->focus = 1;
	l->agg_now = 1;
	return l;
}

/* Free the pane (its thread is stopped). */
void
top_live_free(struct top_live *l)
{
	if (l == NULL)
		return;
	if (l->logfd != -1)
		close(l->logfd);
	hmap_free(&l->prev);
	pthread_mutex_destroy(&l->lock);
	free(l->view.sites);
	free(l->view.rss_series);
	free(l->view.heap_series);
	free(l->cgroup);
	free(l);
}

/* Reap the command and end the grace period as cmd-run.c's loop does; 1 if that changed. */
static int
top_live_check_end(struct top_live *l)
{
	uint64_t	now = top_live_now();
	pid_t		w;

	if (!l->reaped) {
		/* An attached process is not ours to wait for: it ended when it is gone or detached. */
		if (l->attached)
			w = channel_open_count(&l->co->chan) == 0 ||
			    (kill(l->pid, 0) == -1 && errno == ESRCH) ? l->pid : 0;
		else
			w = waitpid(l->pid, &l->wstatus, WNOHANG);
		if (w == l->pid || (w < 0 && errno == ECHILD)) {
			__atomic_store_n(&l->reaped, 1, __ATOMIC_RELEASE);
			l->ended_ns = now;
			l->end_ns = now + TOP_LIVE_GRACE_NS;
			return 1;
		}
		return 0;
	}
	if (!l->finished && (channel_open_count(&l->co->chan) == 0 || now >= l->end_ns)) {
		l->finished = 1;
		return 1;
	}
	return 0;
}

/* The collector's thread: a step under the lock, stepping aside when the UI waits. */
static void *
top_live_main(void *arg)
{
	struct top_live	*l = arg;
	int		 changed, done, leave;
	char		 c = 1;

	for (;;) {
		/* Let the UI in between two steps: a mutex is not fair. */
		while (__atomic_load_n(&l->ui_waiting, __ATOMIC_ACQUIRE))
			poll(NULL, 0, 1);
		pthread_mutex_lock(&l->lock);
		if (l->stop) {
			pthread_mutex_unlock(&l->lock);
			break;
		}
		changed = 0;
		if (!l->finished) {
			collect_step(l->co, TOP_LIVE_STEP_MS);
			changed = top_live_check_end(l);
		}
		done = l->finished;
		leave = done && l->detached;
		pthread_mutex_unlock(&l->lock);
		if (changed && write(l->pipe[1], &c, 1) == -1 && errno != EAGAIN)
			break;
		if (leave)
			break;
		/* Recording is over: nothing to do but wait to be stopped. */
		if (done)
			poll(NULL, 0, 50);
	}
	return NULL;
}

/* Start the collector's thread (signals blocked: they are the UI's). */
static void
top_live_start(struct top_live *l)
{
	sigset_t	all, old;
	int		i;

	if (pipe(l->pipe) != 0)
		fatal("run: pipe");
	for (i = 0; i < 2; i++) {
		fcntl(l->pipe[i], F_SETFL, fcntl(l->pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(l->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((errno = pthread_create(&l->thread, NULL, top_live_main, l)) != 0)
		fatal("run: pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	l->running = 1;
}

/* Never asks the loop to stop: the user quits with q. */
int
top_live_quit(struct top_live *l)
{
	(void)l;
	return 0;
}

/* After the dashboard: has the command ended yet?  (No lock: a step may be long.) */
int
top_live_reaped(struct top_live *l)
{
	return __atomic_load_n(&l->reaped, __ATOMIC_ACQUIRE);
}

/* Join the collector's thread once it was told to end, and close its pipe. */
static void
top_live_join(struct top_live *l)
{
	pthread_join(l->thread, NULL);
	l->running = 0;
	close(l->pipe[0]);
	close(l->pipe[1]);
	l->pipe[0] = l->pipe[1] = -1;
}

/*
 * After the dashboard: let the collector's thread record on until the
 * command and its followed processes are done (as `run` without --live),
 * then join it.  Returns the command's wait status; the model is the
 * caller's again.
 */
int
top_live_finish(struct top_live *l)
{
	if (!l->running) {
		while (!l->finished) {
			collect_step(l->co, TOP_LIVE_STEP_MS);
			top_live_check_end(l);
		}
		return l->wstatus;
	}
	pthread_mutex_lock(&l->lock);
	l->detached = 1;
	pthread_mutex_unlock(&l->lock);
	top_live_join(l);
	return l->wstatus;
}

/*
 * Attach mode: the process is not a child (never waited for), and the
 * caller stops recording with top_live_stop when the dashboard closes, to
 * detach, instead of recording on to the end.
 */
void
top_live_set_attached(struct top_live *l)
{
	l->attached = 1;
	l->view.attached = 1;
}

/* Stop the collector's thread now, wherever the recording is; the model is the caller's again. */
void
top_live_stop(struct top_live *l)
{
	if (!l->running)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_mutex_unlock(&l->lock);
	top_live_join(l);
}

/* Sort the sites by the table's column, keeping the selection on its site. */
static void
top_live_sort(struct top_live *l)
{
	struct top_live_view	*v = &l->view;
	size_t			 i;

	if (v->nsites > 1)
		qsort_r(v->sites, v->nsites, sizeof *v->sites, top_live_site_cmp, &l->table);
	l->table.nrows = v->nsites;
	/*
	 * The selection follows its site once the user has moved it; before
	 * that it stays on the top row, so a site that grows past the first
	 * one seen (start-up imports) is not scrolled out of sight.
	 */
	for (i = 0; l->moved && l->sel_frame != 0 && i < v->nsites; i++) {
		if (v->sites[i].frame + 1 == l->sel_frame)
			l->table.sel = i;
	}
	ui_table_scroll(&l->table, l->table_h > 0 ? l->table_h : 1);
	l->sel_frame = l->table.sel < v->nsites ? v->sites[l->table.sel].frame + 1 : 0;
}

/* Copy the totals and the command's state (under the lock). */
static void
top_live_copy_status(struct top_live *l)
{
	const struct profile	*pf = l->co->pf;
	const struct process	*p;
	struct top_live_view	*v = &l->view;
	size_t			 i;
	uint64_t		 rss = 0, rss_peak = 0, alloc = 0;
	int64_t			 heap = 0, peak = 0;
	const char		*prog = pf->ncommand > 0 ? pf->command[pf->ncommand > 1 ? 1 : 0] : "?";

	for (i = 0; i < pf->nprocs; i++) {
		p = pf->procs[i];
		if (!p->ended)
			rss += p->rss_last;
		rss_peak = p->rss_peak > rss_peak ? p->rss_peak : rss_peak;
		heap += p->live_total;
		peak = p->peak > peak ? p->peak : peak;
		alloc += p->allocated;
	}
	v->rss = rss;
	v->heap = heap;
	v->allocated = alloc;
	/* Sums over processes: their peak is at least the largest sum seen. */
	v->rss_max = rss > v->rss_max ? rss : v->rss_max;
	v->rss_max = rss_peak > v->rss_max ? rss_peak : v->rss_max;
	v->heap_max = heap > v->heap_max ? heap : v->heap_max;
	v->heap_max = peak > v->heap_max ? peak : v->heap_max;
	snprintf(v->prog, sizeof v->prog, "%s", prog);
	v->reaped = l->reaped;
	v->finished = l->finished;
	v->wstatus = l->wstatus;
	v->seconds = ((l->reaped ? l->ended_ns : top_live_now()) - l->start_ns) / 1000000000ULL;
}

/* Append one tick's sums to the series. */
static void
top_live_push_tick(struct top_live_view *v, uint64_t rss, int64_t heap)
{
	if (v->nseries == v->capseries) {
		v->capseries = v->capseries == 0 ? 1024 : v->capseries * 2;
		v->rss_series = xreallocarray(v->rss_series, v->capseries, sizeof *v->rss_series);
		v->heap_series = xreallocarray(v->heap_series, v->capseries, sizeof *v->heap_series);
	}
	v->rss_series[v->nseries] = rss;
	v->heap_series[v->nseries++] = heap > 0 ? (uint64_t)heap : 0;
}

/* Copy the timeline points added since last time, summed per tick (under the lock). */
static void
top_live_copy_timeline(struct top_live *l)
{
	const struct profile	*pf = l->co->pf;
	size_t			 i = l->timeline_at;
	uint64_t		 rss;
	int64_t			 heap;

	/* collect_tick adds every point of a tick in one step: ticks are whole here. */
	while (i < pf->ntimeline) {
		l->tick_t = pf->timeline[i].t_ns;
		rss = 0;
		heap = 0;
		for (; i < pf->ntimeline && pf->timeline[i].t_ns == l->tick_t; i++) {
			rss += pf->timeline[i].rss;
			heap += pf->timeline[i].heap;
		}
		top_live_push_tick(&l->view, rss, heap);
	}
	l->timeline_at = i;
}

/* Add one stack's figures of one process to its site. */
static void
top_live_add(struct top_live_view *v, struct hmap *index, size_t *cap, uint32_t frame,
    const struct stack_stats *st)
{
	struct top_live_site	*s;
	uint64_t		*at;

	if ((at = hmap_get(index, (uint64_t)frame + 1)) == NULL) {
		if (v->nsites == *cap) {
			*cap = *cap == 0 ? 64 : *cap * 2;
			v->sites = xreallocarray(v->sites, *cap, sizeof *v->sites);
		}
		s = &v->sites[v->nsites];
		memset(s, 0, sizeof *s);
		s->frame = frame;
		hmap_put(index, (uint64_t)frame + 1, v->nsites++);
	} else
		s = &v->sites[*at];
	s->live += st->live_bytes;
	s->alloc += st->alloc_bytes;
	s->count += st->alloc_count;
}

/*
 * Name a site: its function and file:line, or "(native)" and where the
 * text report puts it: "(libc.so.6)", "listobject.c:74 (libpython3.11.so.1.0)".
 */
static void
top_live_name_site(const struct profile *pf, struct top_live_site *s)
{
	const struct frame	*f = &pf->frames[s->frame];
	char			 where[240];

	snprintf(s->func, sizeof s->func, "%s", profile_string(pf, f->function));
	if (f->native) {
		report_text_where(pf, f, where, sizeof where);
		snprintf(s->where, sizeof s->where, "(native) %s", where);
	} else
		snprintf(s->where, sizeof s->where, "%s:%d", profile_string(pf, f->file), f->line);
}

/* Sum the model's stacks into sites and measure rates (under the lock). */
static void
top_live_copy_sites(struct top_live *l, uint64_t now)
{
	const struct profile	*pf = l->co->pf;
	const struct process	*p;
	struct top_live_view	*v = &l->view;
	struct hmap		 index;
	size_t			 i, cap = 0, sid;
	uint64_t		*prev;
	double			 dt = l->agg_ns ? (double)(now - l->agg_ns) / 1e9 : 0;

	hmap_init(&index);
	free(v->sites);
	v->sites = NULL;
	v->nsites = 0;
	for (i = 0; i < pf->nprocs; i++) {
		p = pf->procs[i];
		for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
			if (p->stats[sid].alloc_bytes == 0 && p->stats[sid].live_bytes == 0)
				continue;
			top_live_add(v, &index, &cap, pf->stacks[sid].site, &p->stats[sid]);
		}
	}
	hmap_free(&index);
	for (i = 0; i < v->nsites; i++) {
		top_live_name_site(pf, &v->sites[i]);
		prev = hmap_get(&l->prev, (uint64_t)v->sites[i].frame + 1);
		if (dt > 0 && !l->finished)
			v->sites[i].rate = (double)(v->sites[i].alloc - (prev ? *prev : 0)) / dt;
		hmap_put(&l->prev, (uint64_t)v->sites[i].frame + 1, v->sites[i].alloc);
	}
}

/* Add a line to the expanded view. */
static void __attribute__((format(printf, 3, 4)))
top_live_expand_line(struct top_live_view *v, int role, const char *fmt, ...)
{
	va_list	ap;

	if (v->nexpand >= TOP_LIVE_EXPAND)
		return;
	va_start(ap, fmt);
	vsnprintf(v->expand[v->nexpand], sizeof v->expand[0], fmt, ap);
	va_end(ap);
	v->expand_role[v->nexpand++] = role;
}

/* Bytes a stack holds over every process; 1 for one with only allocations. */
static int64_t
top_live_stack_value(const struct profile *pf, size_t sid)
{
	const struct process	*p;
	int64_t			 v = 0;
	size_t			 i;

	for (i = 0; i < pf->nprocs; i++) {
		p = pf->procs[i];
		if (sid < p->nstats)
			v += p->stats[sid].live_bytes > 0 ? p->stats[sid].live_bytes :
			    (int64_t)(p->stats[sid].alloc_bytes > 0);
	}
	return v;
}

/* Copy the heaviest stacks of the selected site, innermost frame first (under the lock). */
static void
top_live_copy_expand(struct top_live *l)
{
	const struct profile	*pf = l->co->pf;
	struct top_live_view	*v = &l->view;
	const struct stack	*st;
	const struct frame	*f;
	uint32_t		 best[TOP_LIVE_STACKS], frame, i;
	int64_t			 val[TOP_LIVE_STACKS], x;
	size_t			 sid, nbest = 0, k;
	char			 a[32], where[256];

	v->nexpand = 0;
	v->expand_frame = l->sel_frame;
	if (l->sel_frame == 0)
		return;
	frame = l->sel_frame - 1;
	for (sid = 0; sid < pf->nstacks; sid++) {
		if (pf->stacks[sid].site != frame)
			continue;
		x = top_live_stack_value(pf, sid);
		for (k = nbest; k > 0 && val[k - 1] < x; k--)
			;
		if (k >= TOP_LIVE_STACKS)
			continue;
		if (nbest < TOP_LIVE_STACKS)
			nbest++;
		memmove(&best[k + 1], &best[k], (nbest - 1 - k) * sizeof *best);
		memmove(&val[k + 1], &val[k], (nbest - 1 - k) * sizeof *val);
		best[k] = (uint32_t)sid;
		val[k] = x;
	}
	for (k = 0; k < nbest; k++) {
		st = &pf->stacks[best[k]];
		top_format_bytes(val[k] > 1 ? (uint64_t)val[k] : 0, a, sizeof a);
		top_live_expand_line(v, 1, "%s live in this stack (%u frames%s):", a, st->nframes,
		    st->truncated ? ", truncated" : "");
		for (i = 0; i < st->nframes; i++) {
			f = &pf->frames[st->frames[i]];
			if (f->native) {
				report_text_where(pf, f, where, sizeof where);
				top_live_expand_line(v, st->frames[i] == st->site ? 2 : 0,
				    "  %s  (native) %s", profile_string(pf, f->function), where);
			} else
				top_live_expand_line(v, st->frames[i] == st->site ? 2 : 0,
				    "  %s  %s:%d", profile_string(pf, f->function),
				    profile_string(pf, f->file), f->line);
		}
	}
}

/*
 * Copy what the pane shows out of the model, if the collector lets us
 * now.  Returns 1 after a copy, 0 when the collector holds the lock (it
 * then steps aside after its current step).
 */
static int
top_live_copy(struct top_live *l)
{
	uint64_t	now = top_live_now();

	if (pthread_mutex_trylock(&l->lock) != 0) {
		__atomic_store_n(&l->ui_waiting, 1, __ATOMIC_RELEASE);
		return 0;
	}
	__atomic_store_n(&l->ui_waiting, 0, __ATOMIC_RELEASE);
	top_live_copy_status(l);
	top_live_copy_timeline(l);
	top_live_copy_sites(l, now);
	if (l->expand)
		top_live_copy_expand(l);
	pthread_mutex_unlock(&l->lock);
	l->agg_ns = now;
	l->agg_now = 0;
	top_live_sort(l);
	top_live_read_log(l);
	return 1;
}

/*
 * One turn of the dashboard's loop: wait for a key, the monitor's fd or the
 * collector's news, then copy the model when due.  Returns a key,
 * UI_KEY_DATA when there is something new to draw, or UI_KEY_NONE.
 */
int
top_live_wait(struct top_live *l, int fd, int ms)
{
	char	buf[16];
	int	key, due;

	if (!l->running)
		top_live_start(l);
	due = l->agg_now || top_live_now() - l->agg_ns >= TOP_LIVE_AGG_NS;
	if (due && top_live_copy(l))
		return UI_KEY_DATA;
	if (due)
		ms = TOP_LIVE_RETRY_MS;
	key = ui_wait2(fd, l->pipe[0], ms);
	if (key == UI_KEY_DATA2) {
		while (read(l->pipe[0], buf, sizeof buf) > 0)
			;
		l->agg_now = 1;
		return UI_KEY_NONE;
	}
	return key;
}

/*
 * Run the dashboard with this pane over every cgroup (the command's own
 * selected) until the user quits; the collector's thread runs meanwhile,
 * and on after it until top_live_finish().
 * Returns 0, or -1 after a message when the monitor or the terminal cannot
 * be used (the caller records on).
 */
int
top_live_run(struct top_live *l)
{
	struct monitor_config	 cfg;
	struct monitor		*m;
	struct top_options	 opt;
	char			*cause = NULL;

	monitor_config_from_env(&cfg);
	cfg.all = 1;
	if ((m = monitor_create(&cfg, &cause)) == NULL) {
		log_warnx("run: --live: %s", cause);
		free(cause);
		return -1;
	}
	memset(&opt, 0, sizeof opt);
	opt.delay = TOP_DELAY_DEFAULT;
	opt.all = 1;
	opt.sort = TOP_COL_MEM;
	opt.select = l->cgroup;
	/* The collector's thread records on after the dashboard: see top_live_finish. */
	return top_run(top_sampler_create(m, cfg.proc_root), &opt, l);
}

/* Handle a key meant for the pane; returns 1 if it was one. */
int
top_live_key(struct top_live *l, int key)
{
	if (key == '\t') {
		l->focus = !l->focus;
		l->expand = 0;
		return 1;
	}
	if (!l->focus)
		return 0;
	if (l->expand) {
		if (key == 'q' || key == UI_KEY_INTR)
			return 0;
		l->expand = 0;
		return 1;
	}
	if (ui_table_key(&l->table, key, l->table_h)) {
		l->moved = 1;
		l->sel_frame = l->table.sel < l->view.nsites ?
		    l->view.sites[l->table.sel].frame + 1 : 0;
		return 1;
	}
	switch (key) {
	case 's': case '>': case UI_KEY_F6:
		l->table.sort = (l->table.sort + 1) % TOP_LIVE_FUNC;
		break;
	case '<':
		l->table.sort = (l->table.sort + TOP_LIVE_FUNC - 1) % TOP_LIVE_FUNC;
		break;
	case 'r': case 'I':
		l->table.desc = !l->table.desc;
		break;
	case UI_KEY_ENTER: case UI_KEY_RIGHT:
		l->expand = l->view.nsites > 0;
		l->view.nexpand = 0;
		l->view.expand_frame = 0;
		l->agg_now = 1;
		return 1;
	default:
		return 0;
	}
	top_live_sort(l);
	return 1;
}

/* Draw the pane (from the copies) in h lines from y. */
void
top_live_draw(struct top_live *l, int y, int h, const struct monitor_row *row)
{
	ui_profile_draw(l, y, h, row);
}
