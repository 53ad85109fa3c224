/*
 * top-worker.c: where the dashboard's data comes from, off the UI thread.
 *
 * A sampler owns the monitor, kept-open /proc/stat, /proc/meminfo and
 * /proc/loadavg, and a procmem reader.  top_sampler_take() refreshes the
 * monitor and copies the rows into a self-contained struct top_snap (one
 * string arena), adds host figures and, when asked, the processes of one
 * cgroup with RSS/PSS/USS/swap (smaps_rollup walks page tables, so only
 * the drilled-into container's processes are read).  `--batch` calls it
 * directly.
 *
 * The worker thread calls the sampler every delay (or at once when poked)
 * and publishes the result: under the mutex it swaps one pointer (a
 * double buffer: the sampler fills the next snapshot unlocked), then
 * writes a byte to a pipe the UI polls with stdin.  The UI takes the
 * snapshot (ownership moves to it) whenever it likes; a snapshot it never
 * took is freed by the next publication.  The thread blocks every signal,
 * so SIGWINCH and friends reach the UI thread and wake its poll.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"
#include "top.h"

/* How long quitting waits for a sample in progress (a monitor refresh takes ms). */
#define TOP_WORKER_JOIN_NS	2000000000ULL
/* /proc/stat is ~100 bytes per CPU; /proc/meminfo ~1.5 KiB. */
#define TOP_PROC_BUF	65536

struct top_sampler {
	struct monitor		*monitor;
	struct procmem_reader	*procmem;
	int			 stat_fd;
	int			 meminfo_fd;
	int			 loadavg_fd;
	uint64_t		 prev_busy;
	uint64_t		 prev_total;
	int			 have_prev;
	unsigned		 seq;
	char			*buf;
};

struct top_worker {
	struct top_sampler	*sampler;
	uint64_t		 delay_ns;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct top_snap		*published;	/* under lock */
	char			*want;		/* under lock: cgroup to list processes of */
	int			 poke;		/* under lock */
	int			 stop;		/* under lock */
	int			 done;		/* under lock: the thread is about to return */
	int			 pipe[2];	/* [0] polled by the UI */
};

/* Open a kept file under the proc root; -1 if it cannot be. */
static int
top_sampler_open(const char *root, const char *name)
{
	char	path[4096];

	snprintf(path, sizeof path, "%s/%s", root, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * Make a sampler over a monitor (which it then owns) and the proc root
 * (NULL: /proc).  Never fails: a missing host file leaves its figures 0.
 */
struct top_sampler *
top_sampler_create(struct monitor *m, const char *proc_root)
{
	struct top_sampler	*s = xcalloc(1, sizeof *s);
	const char		*root = proc_root != NULL ? proc_root : "/proc";

	s->monitor = m;
	s->procmem = procmem_open(root);
	s->stat_fd = top_sampler_open(root, "stat");
	s->meminfo_fd = top_sampler_open(root, "meminfo");
	s->loadavg_fd = top_sampler_open(root, "loadavg");
	s->buf = xmalloc(TOP_PROC_BUF);
	return s;
}

/* Free a sampler and its monitor. */
void
top_sampler_free(struct top_sampler *s)
{
	if (s == NULL)
		return;
	monitor_free(s->monitor);
	procmem_close(s->procmem);
	if (s->stat_fd != -1)
		close(s->stat_fd);
	if (s->meminfo_fd != -1)
		close(s->meminfo_fd);
	if (s->loadavg_fd != -1)
		close(s->loadavg_fd);
	free(s->buf);
	free(s);
}

/* Read the host's CPU, memory and load into h. */
static void
top_sampler_host(struct top_sampler *s, struct top_host *h)
{
	uint64_t	busy, total;
	int		ncpus;

	if (s->stat_fd != -1 && procfs_pread(s->stat_fd, s->buf, TOP_PROC_BUF) >= 0 &&
	    top_parse_cpu(s->buf, &busy, &total, &ncpus) == 0) {
		h->ncpus = ncpus;
		if (s->have_prev && total > s->prev_total && busy >= s->prev_busy) {
			h->cpu_percent = 100.0 * (double)(busy - s->prev_busy) /
			    (double)(total - s->prev_total);
			h->have_cpu = 1;
		}
		s->prev_busy = busy;
		s->prev_total = total;
		s->have_prev = 1;
	}
	if (s->meminfo_fd != -1 && procfs_pread(s->meminfo_fd, s->buf, TOP_PROC_BUF) >= 0)
		top_parse_meminfo(s->buf, h);
	if (h->mem_available > h->mem_total)
		h->mem_available = h->mem_total;
	if (h->swap_free > h->swap_total)
		h->swap_free = h->swap_total;
	if (s->loadavg_fd != -1 && procfs_pread(s->loadavg_fd, s->buf, TOP_PROC_BUF) >= 0)
		h->load1 = strtod(s->buf, NULL);
}

/* Copy a string into the arena at *off; NULL stays NULL. */
static const char *
top_arena_put(char *arena, size_t *off, const char *str)
{
	size_t	n;
	char	*at;

	if (str == NULL)
		return NULL;
	n = strlen(str) + 1;
	at = arena + *off;
	memcpy(at, str, n);
	*off += n;
	return at;
}

/* Bytes the arena needs for a string (0 for NULL). */
static size_t
top_arena_len(const char *str)
{
	return str != NULL ? strlen(str) + 1 : 0;
}

/* Copy the monitor's rows into the snapshot, strings into one arena. */
static void
top_snap_copy_rows(struct top_snap *snap, const struct monitor_snapshot *ms)
{
	const struct monitor_row	*r;
	struct monitor_row		*d;
	size_t				 i, len = 1, off = 0;

	for (i = 0; i < ms->nrows; i++) {
		r = &ms->rows[i];
		len += top_arena_len(r->id) + top_arena_len(r->name) + top_arena_len(r->cgroup) +
		    top_arena_len(r->runtime) + top_arena_len(r->image) + top_arena_len(r->pod) +
		    top_arena_len(r->namespace) + top_arena_len(r->note);
	}
	snap->arena = xmalloc(len);
	snap->rows = xreallocarray(NULL, ms->nrows + 1, sizeof *snap->rows);
	for (i = 0; i < ms->nrows; i++) {
		r = &ms->rows[i];
		d = &snap->rows[i];
		*d = *r;
		d->id = top_arena_put(snap->arena, &off, r->id);
		d->name = top_arena_put(snap->arena, &off, r->name);
		d->cgroup = top_arena_put(snap->arena, &off, r->cgroup);
		d->runtime = top_arena_put(snap->arena, &off, r->runtime);
		d->image = top_arena_put(snap->arena, &off, r->image);
		d->pod = top_arena_put(snap->arena, &off, r->pod);
		d->namespace = top_arena_put(snap->arena, &off, r->namespace);
		d->note = top_arena_put(snap->arena, &off, r->note);
	}
	snap->nrows = ms->nrows;
	snap->time_ns = ms->time_ns;
	snap->layout = ms->layout;
}

/* Read the processes of the row whose cgroup is want; gone or unreadable: error set. */
static void
top_sampler_procs(struct top_sampler *s, struct top_snap *snap, const char *want)
{
	struct top_procs	*tp = &snap->procs;
	pid_t			*pids;
	size_t			 npids, i;

	tp->cgroup = xstrdup(want);
	for (i = 0; i < snap->nrows; i++) {
		if (strcmp(snap->rows[i].cgroup, want) == 0)
			break;
	}
	if (i == snap->nrows) {
		tp->error = ENOENT;
		return;
	}
	if (monitor_pids(s->monitor, &snap->rows[i], &pids, &npids) != 0) {
		tp->error = errno != 0 ? errno : EIO;
		return;
	}
	tp->procs = xreallocarray(NULL, npids + 1, sizeof *tp->procs);
	for (i = 0; i < npids; i++) {
		/* A process that exited between the list and the read is left out. */
		if (s->procmem != NULL && procmem_read(s->procmem, pids[i], &tp->procs[tp->nprocs]) == 0)
			tp->nprocs++;
	}
	free(pids);
}

/*
 * Take one sample: refresh the monitor, copy its rows, read the host and,
 * if want is not NULL, the processes of that cgroup.  Always returns a
 * snapshot (the caller frees it); a failed refresh sets its error.
 */
struct top_snap *
top_sampler_take(struct top_sampler *s, const char *want)
{
	const struct monitor_snapshot	*ms;
	struct top_snap			*snap = xcalloc(1, sizeof *snap);
	char				*cause = NULL;

	snap->seq = ++s->seq;
	snap->layout = "?";
	if ((ms = monitor_refresh(s->monitor, &cause)) == NULL)
		snap->error = cause;
	else
		top_snap_copy_rows(snap, ms);
	top_sampler_host(s, &snap->host);
	if (ms != NULL && snap->host.mem_total == 0)
		snap->host.mem_total = ms->mem_total;
	if (want != NULL && ms != NULL)
		top_sampler_procs(s, snap, want);
	return snap;
}

/* Free a snapshot (NULL is fine). */
void
top_snap_free(struct top_snap *snap)
{
	if (snap == NULL)
		return;
	free(snap->rows);
	free(snap->arena);
	free(snap->procs.cgroup);
	free(snap->procs.procs);
	free(snap->error);
	free(snap);
}

/* CLOCK_REALTIME deadline delay_ns from now, for pthread_cond_timedwait. */
static struct timespec
top_worker_deadline(uint64_t delay_ns)
{
	struct timespec	ts;
	uint64_t	ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (uint64_t)ts.tv_nsec + delay_ns;
	ts.tv_sec += (time_t)(ns / 1000000000ULL);
	ts.tv_nsec = (long)(ns % 1000000000ULL);
	return ts;
}

/* The thread: sample, publish, wait for the delay or a poke, until stopped. */
static void *
top_worker_main(void *arg)
{
	struct top_worker	*w = arg;
	struct top_snap		*snap, *old;
	struct timespec		 until;
	char			*want, c = 1;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		want = w->want != NULL ? xstrdup(w->want) : NULL;
		w->poke = 0;
		pthread_mutex_unlock(&w->lock);

		snap = top_sampler_take(w->sampler, want);
		free(want);

		pthread_mutex_lock(&w->lock);
		old = w->published;
		w->published = snap;
		pthread_mutex_unlock(&w->lock);
		top_snap_free(old);
		/* The pipe is non-blocking: a full pipe already wakes the UI. */
		if (write(w->pipe[1], &c, 1) == -1 && errno != EAGAIN)
			break;

		pthread_mutex_lock(&w->lock);
		until = top_worker_deadline(w->delay_ns);
		while (!w->stop && !w->poke) {
			if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
				break;
		}
	}
	w->done = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * Start the worker on a sampler (which it then owns) with a refresh delay
 * in seconds.  Exits through fatal() if the thread cannot be made.
 */
struct top_worker *
top_worker_start(struct top_sampler *s, double delay)
{
	struct top_worker	*w = xcalloc(1, sizeof *w);
	sigset_t		 all, old;
	int			 i;

	w->sampler = s;
	w->delay_ns = (uint64_t)(delay * 1e9);
	if (pipe(w->pipe) != 0)
		fatal("top: pipe");
	for (i = 0; i < 2; i++) {
		fcntl(w->pipe[i], F_SETFL, fcntl(w->pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(w->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((errno = pthread_create(&w->thread, NULL, top_worker_main, w)) != 0)
		fatal("top: pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

/* The fd the UI polls: readable when a snapshot was published. */
int
top_worker_fd(struct top_worker *w)
{
	return w->pipe[0];
}

/* Take the newest snapshot (the caller owns it), or NULL if none is new. */
struct top_snap *
top_worker_take(struct top_worker *w)
{
	struct top_snap	*snap;
	char		 buf[64];

	while (read(w->pipe[0], buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&w->lock);
	snap = w->published;
	w->published = NULL;
	pthread_mutex_unlock(&w->lock);
	return snap;
}

/* Ask for the processes of a cgroup in the next snapshots (NULL: none). */
void
top_worker_want_procs(struct top_worker *w, const char *cgroup)
{
	pthread_mutex_lock(&w->lock);
	free(w->want);
	w->want = cgroup != NULL ? xstrdup(cgroup) : NULL;
	pthread_mutex_unlock(&w->lock);
}

/* Sample now rather than at the end of the delay. */
void
top_worker_poke(struct top_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->poke = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Stop the thread, free what it holds, the sampler and the monitor.  A
 * thread stuck in a read for longer than TOP_WORKER_JOIN_NS (a hung file
 * system, a FIFO where a cgroup file should be) is left behind with what it
 * uses: quitting must not hang on data any more than a key may.
 */
void
top_worker_stop(struct top_worker *w)
{
	struct timespec	until;
	int		done;

	if (w == NULL)
		return;
	/* Not pthread_timedjoin_np: ASan's interceptor turns it into a plain join. */
	until = top_worker_deadline(TOP_WORKER_JOIN_NS);
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	while (!w->done) {
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
			break;
	}
	done = w->done;
	pthread_mutex_unlock(&w->lock);
	if (!done) {
		pthread_detach(w->thread);
		return;
	}
	pthread_join(w->thread, NULL);
	top_snap_free(w->published);
	top_sampler_free(w->sampler);
	free(w->want);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
