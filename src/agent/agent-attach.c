/*
 * agent-attach.c: the agent's side of `memprof attach`.
 *
 * The controller stops one thread of the target with ptrace, makes it call
 * dlopen on libmemprof.so (the constructor finds no MEMPROF_SOCKET and
 * stays inert) and then memprof_agent_attach(config), and resumes it
 * (src/inject.c, docs/attach.md).  The environment of a running process
 * cannot carry the options, so config is one string written into the
 * target's memory: "socket=@NAME;every=N;native=0|1;ring=N".
 *
 * memprof_agent_attach does the minimum in the borrowed thread: start a
 * session exactly as run mode does (ring, connection, hello), patch every
 * module's allocator slots (agent-got.c), and start one watcher thread.
 * The watcher owns the end of the session: when the controller shuts its
 * end of the connection (detach, or memprof killed: the kernel closes it)
 * or asks for WIRE_CTL_DETACH, it gives the slots back to libc, stops
 * recording, releases the ring and closes the connection, then exits.  In
 * between it re-patches when modules were loaded.  Python's allocator
 * domains are wrapped by agent-pymem.c as in run mode, from a pending
 * call; on detach another pending call puts the interpreter's own
 * allocators back, and the next attach wraps them again for its own mode
 * (agent_pymem_detach, agent_pymem_reattach).
 *
 * Attaching again later reuses the same loaded library (dlopen of the same
 * name returns it, -z nodelete keeps it): this entry point re-initialises
 * the session; the constructor does not run again.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent-core.h"
#include "agent-attach.h"

/* Return values of memprof_agent_attach below 0 (docs/attach.md, src/inject.c). */
#define ATTACH_ECONFIG	(-1)	/* malformed config string */
#define ATTACH_EBUSY	(-2)	/* a session is still running or ending */
#define ATTACH_ESESSION	(-3)	/* ring or connection to the controller failed */
#define ATTACH_EGOT	(-4)	/* libc's allocator could not be found */
#define ATTACH_ETHREAD	(-5)	/* the watcher thread could not start */

/* How often the watcher looks for newly loaded modules: 20 ms. */
#define ATTACH_POLL_MS	20
/* How long an attach waits for the previous session's watcher to exit. */
#define ATTACH_BUSY_WAIT_MS	500

static struct {
	int		busy;		/* a session or its watcher exists */
	int		sock;		/* the session's connection */
	int		fork_ready;	/* our atfork child handler is registered */
} attach = { .sock = -1 };

/* Parse a decimal number; 0 or -1. */
static int
attach_number(const char *s, size_t len, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Parse "key=value;..." into socket and cfg without allocating; 0 or -1.
 * Unknown keys are ignored, so an older agent accepts a newer controller's
 * string.
 */
static int
attach_parse(const char *s, char *sock, size_t cap, struct agent_config *cfg)
{
	const char	*k, *eq, *end;
	size_t		 klen, vlen;
	uint64_t	 v;

	memset(cfg, 0, sizeof *cfg);
	cfg->sample_every = AGENT_SAMPLE_DEFAULT;
	sock[0] = '\0';
	for (k = s; *k != '\0'; k = *end == ';' ? end + 1 : end) {
		end = strchr(k, ';');
		if (end == NULL)
			end = k + strlen(k);
		eq = memchr(k, '=', (size_t)(end - k));
		if (eq == NULL)
			return -1;
		klen = (size_t)(eq - k);
		vlen = (size_t)(end - eq - 1);
		if (klen == 6 && memcmp(k, "socket", 6) == 0) {
			if (vlen < 2 || vlen >= cap || eq[1] != '@')
				return -1;
			memcpy(sock, eq + 1, vlen);
			sock[vlen] = '\0';
		} else if (klen == 5 && memcmp(k, "every", 5) == 0) {
			if (attach_number(eq + 1, vlen, &cfg->sample_every) != 0)
				return -1;
		} else if (klen == 6 && memcmp(k, "native", 6) == 0) {
			if (attach_number(eq + 1, vlen, &v) != 0)
				return -1;
			cfg->native = v != 0;
		} else if (klen == 4 && memcmp(k, "ring", 4) == 0) {
			/* 64 KiB to 1 GiB, a power of two, as MEMPROF_RING_SIZE. */
			if (attach_number(eq + 1, vlen, &v) != 0 || (v & (v - 1)) != 0 ||
			    v < (64U << 10) || v > (1U << 30))
				return -1;
			cfg->ring_size = v;
		}
	}
	if (cfg->ring_size == 0)
		cfg->ring_size = cfg->sample_every == 0 ? WIRE_RING_EXACT_SIZE :
		    WIRE_RING_DEFAULT_SIZE;
	/* Children of an attached process are not followed (docs/attach.md). */
	cfg->follow = 0;
	cfg->root_pid = getpid();
	return sock[0] == '\0' ? -1 : 0;
}

/* 1 when the controller has gone or asked us to detach. */
static int
attach_should_end(void)
{
	struct pollfd	pfd;
	char		c;
	long		n;

	pfd.fd = attach.sock;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	n = poll(&pfd, 1, ATTACH_POLL_MS);
	if (n > 0) {
		if (pfd.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))
			return 1;
		n = syscall(SYS_recvfrom, (long)attach.sock, &c, 1L, (long)MSG_DONTWAIT,
		    NULL, NULL);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
	return agent_ring_controller_state() == WIRE_CTL_DETACH ||
	    agent_mode_get() == AGENT_MODE_OFF;
}

/* The watcher thread: patch new modules until the session ends, then detach. */
static void *
attach_watch(void *arg)
{
	(void)arg;
	/* Nothing this thread allocates is the program's. */
	agent_tls.guard = 1;
	prctl(PR_SET_NAME, (unsigned long)"memprof-agent", 0, 0, 0);
	while (!attach_should_end())
		agent_got_poll();
	/* Slots first: from here on no new call enters a hook. */
	agent_got_restore();
	/* Python's own allocators back, when the main thread next runs bytecode. */
	agent_pymem_detach();
	/* Last, the close: memprof may attach again as soon as it sees it. */
	agent_core_detach();
	attach.sock = -1;
	__atomic_store_n(&attach.busy, 0, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * After fork, in the child: attach mode does not follow children
 * (agent-core.c stopped recording there); give the child's slots back to
 * libc and let it be attached on its own.  The watcher did not come along.
 */
static void
attach_fork_child(void)
{
	int	saved = errno;

	if (__atomic_load_n(&attach.busy, __ATOMIC_RELAXED)) {
		agent_got_restore();
		attach.sock = -1;
		attach.busy = 0;
	}
	errno = saved;
}

/* Start the watcher with every signal blocked (the program's signals are not ours); 0 or -1. */
static int
attach_start_watcher(void)
{
	pthread_attr_t	attr;
	pthread_t	tid;
	sigset_t	all, old;
	int		rc;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* 256 KiB: the watcher's deepest path is dl_iterate_phdr plus a few frames. */
	pthread_attr_setstacksize(&attr, 256U << 10);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, attach_watch, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

/*
 * The entry point the controller calls in a thread it borrowed with ptrace.
 * Returns the number of slots patched (>= 0), or ATTACH_E*.  Never blocks
 * for long: connecting to a listening socket and one sendmsg.
 */
AGENT_EXPORT int memprof_agent_attach(const char *config);

int
memprof_agent_attach(const char *config)
{
	struct agent_config	cfg;
	struct timespec		ms = { 0, 1000000 };
	char			sock[128];
	int			saved = errno, rc, fd, i;

	if (config == NULL || attach_parse(config, sock, sizeof sock, &cfg) != 0)
		return ATTACH_ECONFIG;
	/*
	 * Busy: attached already, or preloaded by `memprof run` and recording.
	 * A watcher that has just closed its connection needs microseconds
	 * more to finish: wait for it up to ATTACH_BUSY_WAIT_MS.
	 */
	for (i = 0; __atomic_exchange_n(&attach.busy, 1, __ATOMIC_ACQUIRE) != 0; i++) {
		if (i >= ATTACH_BUSY_WAIT_MS)
			return ATTACH_EBUSY;
		nanosleep(&ms, NULL);
	}
	if (agent_mode_get() != AGENT_MODE_OFF) {
		__atomic_store_n(&attach.busy, 0, __ATOMIC_RELEASE);
		return ATTACH_EBUSY;
	}
	agent_tls.guard++;
	if (!attach.fork_ready)
		attach.fork_ready = pthread_atfork(NULL, NULL, attach_fork_child) == 0;
	fd = agent_core_attach(sock, &cfg);
	if (fd < 0) {
		rc = ATTACH_ESESSION;
		goto fail;
	}
	/* Python's domains wrapped again if an earlier session unwrapped them. */
	agent_pymem_reattach();
	attach.sock = fd;
	rc = agent_got_patch();
	if (rc < 0) {
		agent_core_detach();
		rc = ATTACH_EGOT;
		goto fail;
	}
	if (attach_start_watcher() != 0) {
		agent_got_restore();
		agent_core_detach();
		rc = ATTACH_ETHREAD;
		goto fail;
	}
	agent_tls.guard--;
	errno = saved;
	return rc;

fail:
	attach.sock = -1;
	__atomic_store_n(&attach.busy, 0, __ATOMIC_RELEASE);
	agent_tls.guard--;
	errno = saved;
	return rc;
}
