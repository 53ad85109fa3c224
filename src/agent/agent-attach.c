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
 * call.  On detach another pending call puts the interpreter's own
 * allocators back (saved by a pending call queued before recording
 * starts, so before agent-pymem.c's), if ours are still the installed
 * ones (tracemalloc started meanwhile on top of them stays untouched); the
 * next attach installs the same wrappers again.  Blocks allocated through
 * a wrapper go back to the same original allocator either way: the
 * wrappers only forward.
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
	cfg->ring_size = WIRE_RING_DEFAULT_SIZE;
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
	/* Children of an attached process are not followed (docs/attach.md). */
	cfg->follow = 0;
	cfg->root_pid = getpid();
	return sock[0] == '\0' ? -1 : 0;
}

/* PyMemAllocatorEx and PyObjectArenaAllocator, unchanged since 3.5 and 3.4. */
struct attach_pyalloc {
	void	*ctx;
	void	*fn[4];		/* malloc, calloc, realloc, free */
};
struct attach_pyarena {
	void	*ctx;
	void	*fn[2];		/* alloc, free */
};

/* PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ; RAW is malloc itself, never wrapped. */
static const int attach_domains[2] = { 1, 2 };

/*
 * The interpreter's allocators as they were before the first attach
 * (pristine), and ours as agent-pymem.c installed them (wrapped), for
 * putting one or the other in place from a pending call.
 */
static struct {
	int			 state;		/* 0 unresolved, 1 ready, -1 no Python */
	int			 saved;		/* pristine holds the originals */
	int			 have_wrapped;
	int			 (*add_pending)(int (*)(void *), void *);
	int			 (*is_initialized)(void);
	void			 (*get)(int, struct attach_pyalloc *);
	void			 (*set)(int, struct attach_pyalloc *);
	void			 (*get_arena)(struct attach_pyarena *);
	void			 (*set_arena)(struct attach_pyarena *);
	struct attach_pyalloc	 pristine[2], wrapped[2];
	struct attach_pyarena	 pristine_arena, wrapped_arena;
	uintptr_t		 self_base;
} attach_py;

/* 1 if fn is code of this library (one of agent-pymem.c's wrappers). */
static int
attach_py_ours(void *fn)
{
	Dl_info	info;

	return fn != NULL && dladdr(fn, &info) != 0 &&
	    (uintptr_t)info.dli_fbase == attach_py.self_base;
}

/* Resolve the C API once; 0, or -1 without an interpreter (nothing to do then). */
static int
attach_py_resolve(void)
{
	static const char *const names[] = {
		"Py_AddPendingCall", "Py_IsInitialized", "PyMem_GetAllocator",
		"PyMem_SetAllocator", "PyObject_GetArenaAllocator", "PyObject_SetArenaAllocator",
	};
	void	*fn[6];
	Dl_info	 info;
	size_t	 i;

	if (attach_py.state != 0)
		return attach_py.state > 0 ? 0 : -1;
	attach_py.state = -1;
	if (agent_python_detect() == 0 || dladdr((void *)attach_py_resolve, &info) == 0)
		return -1;
	attach_py.self_base = (uintptr_t)info.dli_fbase;
	for (i = 0; i < 6; i++) {
		if ((fn[i] = dlsym(RTLD_DEFAULT, names[i])) == NULL)
			return -1;
	}
	memcpy(&attach_py.add_pending, &fn[0], sizeof fn[0]);
	memcpy(&attach_py.is_initialized, &fn[1], sizeof fn[1]);
	memcpy(&attach_py.get, &fn[2], sizeof fn[2]);
	memcpy(&attach_py.set, &fn[3], sizeof fn[3]);
	memcpy(&attach_py.get_arena, &fn[4], sizeof fn[4]);
	memcpy(&attach_py.set_arena, &fn[5], sizeof fn[5]);
	attach_py.state = 1;
	return 0;
}

/*
 * Pending call (GIL held), queued before recording starts: remember the
 * interpreter's allocators the first time, and on later attaches put our
 * wrappers back if a detach had removed them.
 */
static int
attach_py_install(void *arg)
{
	struct attach_pyalloc	cur;
	struct attach_pyarena	cura;
	int			i, pristine = 1;

	(void)arg;
	if (!attach_py.saved) {
		for (i = 0; i < 2; i++) {
			attach_py.get(attach_domains[i], &attach_py.pristine[i]);
			if (attach_py_ours(attach_py.pristine[i].fn[0]))
				return 0;	/* wrapped already: no originals to learn here */
		}
		attach_py.get_arena(&attach_py.pristine_arena);
		attach_py.saved = 1;
		return 0;
	}
	if (!attach_py.have_wrapped)
		return 0;
	for (i = 0; i < 2; i++) {
		attach_py.get(attach_domains[i], &cur);
		pristine &= memcmp(&cur, &attach_py.pristine[i], sizeof cur) == 0;
	}
	if (!pristine)
		return 0;	/* someone else's allocator now: leave it */
	for (i = 0; i < 2; i++)
		attach_py.set(attach_domains[i], &attach_py.wrapped[i]);
	attach_py.get_arena(&cura);
	if (memcmp(&cura, &attach_py.pristine_arena, sizeof cura) == 0 &&
	    attach_py.wrapped_arena.fn[0] != NULL)
		attach_py.set_arena(&attach_py.wrapped_arena);
	return 0;
}

/*
 * Pending call (GIL held), queued at detach: if our wrappers are the
 * installed allocators, remember them and put the originals back, so a
 * detached process pays nothing for them.
 */
static int
attach_py_restore(void *arg)
{
	struct attach_pyalloc	cur[2];
	struct attach_pyarena	cura;
	int			i;

	(void)arg;
	if (!attach_py.saved)
		return 0;
	for (i = 0; i < 2; i++) {
		attach_py.get(attach_domains[i], &cur[i]);
		if (!attach_py_ours(cur[i].fn[0]))
			return 0;	/* not ours on top (tracemalloc?): leave them */
	}
	for (i = 0; i < 2; i++) {
		attach_py.wrapped[i] = cur[i];
		attach_py.set(attach_domains[i], &attach_py.pristine[i]);
	}
	attach_py.get_arena(&cura);
	if (attach_py_ours(cura.fn[0])) {
		attach_py.wrapped_arena = cura;
		attach_py.set_arena(&attach_py.pristine_arena);
	}
	attach_py.have_wrapped = 1;
	return 0;
}

/* Queue one of the pending calls above, when there is a running interpreter. */
static void
attach_py_queue(int (*fn)(void *))
{
	if (attach_py_resolve() == 0 && attach_py.is_initialized())
		attach_py.add_pending(fn, NULL);
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
	attach_py_queue(attach_py_restore);
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
	/* Queued before recording starts, so before agent-pymem.c's own pending call. */
	attach_py_queue(attach_py_install);
	fd = agent_core_attach(sock, &cfg);
	if (fd < 0) {
		rc = ATTACH_ESESSION;
		goto fail;
	}
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
