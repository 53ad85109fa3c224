/*
 * collect.c: the recording loop.  Each record read from a ring is written
 * to the capture and applied to the live model in the same step, so a
 * report of the capture and what a live view showed never disagree.  Every
 * COLLECT_TICK_NS the loop samples each running image's RSS from
 * /proc/PID/statm and adds a clock tick (memory over time); every
 * COLLECT_FLUSH_NS it closes a capture chunk, which bounds what an abrupt
 * end of memprof can lose.
 *
 * Native frames: the controller, not the agent, learns each image's code
 * mappings from /proc/PID/maps (modules.c): at the hello, and before any
 * STACK record with an address outside the known ones.  The resulting
 * WIRE_REC_MODULE records go through the same path as the agent's records
 * (capture, then model), in the image's stream ahead of the stack.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "collect.h"

/* 100 ms: fine enough for memory-over-time plots, cheap at any process count. */
#define COLLECT_TICK_NS		100000000ULL
/* Records in one round above which the loop keeps draining without sleeping. */
#define COLLECT_BUSY_RECORDS	1024
/* One second of recording at most is lost if memprof itself is killed. */
#define COLLECT_FLUSH_NS	1000000000ULL

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t
collect_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* modules.c callback: a module record of an image goes to the capture and the model. */
static void
collect_emit_module(void *arg, struct process *p, const void *payload, size_t len)
{
	struct collect	*co = arg;

	capture_write(co->writer, CAP_REC_WIRE, WIRE_REC_MODULE, p->serial, payload, len);
	profile_apply_wire(co->pf, p, WIRE_REC_MODULE, payload, len);
}

/* Channel callback: a record of an image goes to the capture and the model. */
static int
collect_on_record(void *arg, struct channel_conn *c, uint16_t type, uint16_t flags,
    const void *payload, size_t len)
{
	struct collect		*co = arg;
	struct process		*p = profile_process(co->pf, c->serial);
	union wire_full		 full;

	if (p == NULL)
		return -1;
	co->records++;
	/* The compact forms become the full ones: captures and the profile know only those. */
	if (wire_full_form(&type, flags, &payload, &len, &full) != 0)
		return -1;
	if (type == WIRE_REC_STACK)
		modules_on_stack(co->modules, co->pf, p, payload, len, collect_emit_module, co);
	capture_write(co->writer, CAP_REC_WIRE, type, c->serial, payload, len);
	return profile_apply_wire(co->pf, p, type, payload, len);
}

/* Channel callback: a new image said hello. */
static void
collect_on_hello(void *arg, struct channel_conn *c)
{
	struct collect	*co = arg;
	struct process	*p;

	capture_write(co->writer, CAP_REC_PROCESS, 0, c->serial, &c->hello, sizeof c->hello);
	p = profile_add_process(co->pf, c->serial, &c->hello);
	modules_on_hello(co->modules, co->pf, p, collect_emit_module, co);
}

/* Channel callback: an image ended (exit, exec, kill); its ring is drained. */
static void
collect_on_end(void *arg, struct channel_conn *c)
{
	struct collect		*co = arg;
	struct process		*p = profile_process(co->pf, c->serial);
	struct capture_end	 e;

	if (p == NULL)
		return;
	memset(&e, 0, sizeof e);
	e.wait_status = -1;
	if (c->ring != NULL) {
		e.dropped_records = __atomic_load_n(&c->ring->dropped_records, __ATOMIC_RELAXED);
		e.dropped_bytes = __atomic_load_n(&c->ring->dropped_bytes, __ATOMIC_RELAXED);
	}
	capture_write(co->writer, CAP_REC_END, 0, c->serial, &e, sizeof e);
	profile_apply_end(co->pf, p, e.wait_status, e.dropped_records, e.dropped_bytes);
}

static const struct channel_events *
collect_events(struct collect *co)
{
	static struct channel_events	ev;

	ev.hello = collect_on_hello;
	ev.end = collect_on_end;
	ev.record = collect_on_record;
	ev.arg = co;
	return &ev;
}

/*
 * Resident bytes of pid now and at its highest since it started (or
 * exec'd), from /proc/PID/status's VmRSS and VmHWM: the kernel's
 * high-water mark catches a peak between two ticks.  0 if it cannot be
 * read (the process is gone, or is a zombie with no memory left).
 */
static uint64_t
collect_read_rss(int pid, uint64_t *hwm)
{
	char			path[64], buf[4096], *at;
	unsigned long long	kb;
	uint64_t		rss = 0;
	ssize_t			n;
	int			fd;

	*hwm = 0;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((at = strstr(buf, "\nVmRSS:")) != NULL && sscanf(at + 7, "%llu kB", &kb) == 1)
		rss = (uint64_t)kb * 1024;
	if ((at = strstr(buf, "\nVmHWM:")) != NULL && sscanf(at + 7, "%llu kB", &kb) == 1)
		*hwm = (uint64_t)kb * 1024;
	return rss;
}

/* Sample RSS of every running image and add a clock tick. */
static void
collect_tick(struct collect *co, uint64_t now)
{
	struct channel_conn	*c;
	struct process		*p;
	uint64_t		 rss[3], t = now - co->t0_ns;
	size_t			 i;

	for (i = 0; i < co->chan.nconns; i++) {
		c = co->chan.conns[i];
		if (c->fd < 0 || c->serial == 0 || (p = profile_process(co->pf, c->serial)) == NULL)
			continue;
		if ((rss[0] = collect_read_rss(c->hello.pid, &rss[1])) == 0)
			continue;
		rss[2] = c->ring == NULL ? 0 :
		    wire_ring_resident(c->ring, c->map_len, (size_t)sysconf(_SC_PAGESIZE));
		capture_write(co->writer, CAP_REC_RSS, 0, c->serial, rss, sizeof rss);
		profile_apply_rss(co->pf, p, rss[0], rss[1], rss[2]);
	}
	capture_write(co->writer, CAP_REC_TIME, 0, 0, &t, sizeof t);
	profile_apply_time(co->pf, t);
}

/* Open the capture, write the command, listen for agents. */
int
collect_start(struct collect *co, const char *path, uint64_t sample_every, uint32_t flags,
    char **argv, char **cause)
{
	char	*cmd = NULL;
	size_t	 len = 0, n, i;

	memset(co, 0, sizeof *co);
	if ((co->writer = capture_writer_open(path, sample_every, flags, cause)) == NULL)
		return -1;
	if (channel_listen(&co->chan, cause) != 0) {
		free(capture_writer_close(co->writer, &cmd) == 0 ? NULL : cmd);
		unlink(path);
		return -1;
	}
	co->pf = profile_create();
	co->modules = modules_create("/proc");
	co->pf->sample_every = sample_every;
	co->pf->flags = flags;
	for (i = 0; argv != NULL && argv[i] != NULL; i++) {
		n = strlen(argv[i]) + 1;
		cmd = xrealloc(cmd, len + n);
		memcpy(cmd + len, argv[i], n);
		len += n;
	}
	capture_write(co->writer, CAP_REC_COMMAND, 0, 0, cmd, len);
	capture_apply(co->pf, CAP_REC_COMMAND, 0, 0, cmd, len);
	free(cmd);
	co->t0_ns = co->last_tick_ns = co->last_flush_ns = collect_now_ns();
	return 0;
}

/*
 * One round of the loop.  While the rings keep delivering, the loop does
 * not sleep: an exact-mode agent waits for ring space, so every millisecond
 * the collector naps is a millisecond the program may stand still.
 */
void
collect_step(struct collect *co, int timeout_ms)
{
	const struct channel_events	*ev = collect_events(co);
	uint64_t			 now;

	/*
	 * Records held back (channel.c) are being written by a running exact
	 * agent: come back soon, before its ring fills and it has to wait.
	 */
	channel_poll(&co->chan, co->busy ? 0 : co->chan.held && timeout_ms > 1 ? 1 : timeout_ms,
	    ev);
	/* A trickle (sampling) can wait for the next round; a flood (exact) cannot. */
	co->busy = channel_drain_all(&co->chan, ev, 1) >= COLLECT_BUSY_RECORDS;
	now = collect_now_ns();
	if (now - co->last_tick_ns >= COLLECT_TICK_NS) {
		collect_tick(co, now);
		co->last_tick_ns = now;
	}
	if (now - co->last_flush_ns >= COLLECT_FLUSH_NS) {
		capture_writer_flush(co->writer);
		co->last_flush_ns = now;
	}
}

/* Drain what is left, end the images still connected, close the capture. */
int
collect_finish(struct collect *co, char **cause)
{
	const struct channel_events	*ev = collect_events(co);
	struct channel_conn		*c;
	size_t				 i;
	int				 rc;

	channel_poll(&co->chan, 0, ev);
	/* Until the rings are empty, or no ring was capped (a producer still going is not chased). */
	while (channel_drain_all(&co->chan, ev, 0) >= CHANNEL_DRAIN_MAX)
		;
	collect_tick(co, collect_now_ns());
	for (i = 0; i < co->chan.nconns; i++) {
		c = co->chan.conns[i];
		if (c->fd >= 0 && c->serial != 0 && !c->ended)
			collect_on_end(co, c);
	}
	channel_close(&co->chan);
	modules_free(co->modules);
	co->modules = NULL;
	rc = capture_writer_close(co->writer, cause);
	co->writer = NULL;
	return rc;
}
