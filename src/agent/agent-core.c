/*
 * agent-core.c: the life of libmemprof.so in a process: start and stop,
 * the configuration, the connection to the controller, fork handling, the
 * per-thread state and the guard.  What gets recorded, and how, is in
 * agent-record.c.
 *
 * Start.  The constructor resolves the real allocator (agent-hooks.c),
 * reads MEMPROF_* (wire.h), and, when MEMPROF_SOCKET names a controller and
 * this process is to be profiled, creates the ring (agent-ring.c), connects
 * to the controller's abstract SOCK_SEQPACKET socket and sends the hello
 * with the ring's memfd (SCM_RIGHTS).  The connection stays open, unused,
 * so that the controller sees end-of-file when this image ends.  Without
 * MEMPROF_SOCKET, or when anything fails, the agent stays inert: the hooks
 * pass every call through.
 *
 * Fork.  A child (pthread_atfork) never writes into its parent's ring: it
 * drops the inherited ring and connection and, when following children,
 * starts its own session (new ring, new connection, hello with ppid).  Its
 * profile starts empty: blocks inherited from the parent are not attributed.
 * With MEMPROF_FOLLOW=0 only MEMPROF_ROOT_PID records, so children stay
 * inert, exec'd ones included.
 *
 * Threads.  Each thread that reaches the slow path gets a struct
 * agent_thread (mmap'd; interning tables, random state, scratch); a
 * pthread key destructor gives it back to a pool when the thread exits, so
 * that the memory and the interning work are reused by the next thread.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* F_DUPFD_CLOEXEC, memfd sealing constants */
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-core.h"
#include "agent-attach.h"

/* Ring sizes accepted from MEMPROF_RING_SIZE: 64 KiB (room for a big CODE record) to 1 GiB. */
#define CORE_RING_MIN		(64ULL << 10)
#define CORE_RING_MAX		(1ULL << 30)

/* Connect and hello give up after 5 s: a stuck controller must not hang the program forever. */
#define CORE_SOCKET_TIMEOUT_S	5

AGENT_TLS struct agent_tls agent_tls;

struct agent_config agent_config;
int agent_mode = AGENT_MODE_OFF;
size_t agent_page_size = 4096;
int agent_started;

static struct {
	char			 socket_name[128];	/* a sockaddr_un path fits */
	int			 sock;		/* connection to the controller, or -1 */
	dev_t			 sock_dev;	/* to recognise it after fork */
	ino_t			 sock_ino;
	pthread_key_t		 key;		/* thread-exit destructor */
	int			 key_ok;
	int			 threads_lock;
	struct agent_thread	*threads_all;
	struct agent_thread	*threads_pool;
	uint32_t		 hello_flags;	/* WIRE_HELLO_ATTACHED in attach mode */
	int			 attach_ready;	/* attach's one-time setup is done */
} core = { .sock = -1 };

static void	core_thread_exit(void *);

/* Map len bytes of zeroed private memory for the agent itself, or NULL. */
void *
agent_os_map(size_t len)
{
	void	*p;

	/*
	 * A raw system call: the agent's own memory must not go through its
	 * mmap hook.  syscall() reads every argument as a long: pass longs.
	 */
	p = (void *)syscall(SYS_mmap, 0L, (long)len, (long)(PROT_READ | PROT_WRITE),
	    (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
	if (p == MAP_FAILED)
		return NULL;
#ifdef PR_SET_VMA_ANON_NAME
	/* Name it, so it can be told apart in /proc/PID/maps (Linux 5.17+; harmless before). */
	prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, len,
	    (unsigned long)"memprof");
#endif
	return p;
}

/* Give back memory from agent_os_map. */
void
agent_os_unmap(void *p, size_t len)
{
	syscall(SYS_munmap, p, (long)len);
}

/* Back off in a contended agent_lock (a system call; only on the slow path). */
void
agent_lock_yield(void)
{
	sched_yield();
}

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t
core_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Parse a size such as 524288, 512K, 4M or 1G (binary units); 0 or -1. */
static int
core_parse_size(const char *s, uint64_t *out)
{
	uint64_t	v = 0, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case 'k': case 'K': mul = 1ULL << 10; s++; break;
	case 'm': case 'M': mul = 1ULL << 20; s++; break;
	case 'g': case 'G': mul = 1ULL << 30; s++; break;
	}
	if (mul != 1 && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

/*
 * Read MEMPROF_* into agent_config.  Returns 1 if this process is to be
 * profiled, 0 if the agent stays inert.
 */
static int
core_config_read(void)
{
	const char	*s;
	uint64_t	 v;

	/* Copied: the program may change its environment before a fork child reconnects. */
	s = getenv(WIRE_ENV_SOCKET);
	if (s == NULL || *s == '\0' || (s[0] == '@' && s[1] == '\0') ||
	    strlen(s) >= sizeof core.socket_name)
		return 0;
	memcpy(core.socket_name, s, strlen(s) + 1);

	agent_config.sample_every = AGENT_SAMPLE_DEFAULT;
	s = getenv(WIRE_ENV_SAMPLE_EVERY);
	if (s != NULL && core_parse_size(s, &v) == 0)
		agent_config.sample_every = v;

	s = getenv(WIRE_ENV_RING_SIZE);
	if (s != NULL && core_parse_size(s, &v) == 0 && (v & (v - 1)) == 0 &&
	    v >= CORE_RING_MIN && v <= CORE_RING_MAX)
		agent_config.ring_size = v;
	else
		agent_config.ring_size = agent_config.sample_every == 0 ?
		    WIRE_RING_EXACT_SIZE : WIRE_RING_DEFAULT_SIZE;

	s = getenv(WIRE_ENV_NATIVE);
	agent_config.native = s != NULL && strcmp(s, "1") == 0;

	s = getenv(WIRE_ENV_FOLLOW);
	agent_config.follow = s == NULL || strcmp(s, "0") != 0;

	s = getenv(WIRE_ENV_ROOT_PID);
	if (s != NULL && core_parse_size(s, &v) == 0 && v <= INT32_MAX)
		agent_config.root_pid = (pid_t)v;

	/*
	 * Not following: only the process memprof launched records.  Without
	 * MEMPROF_ROOT_PID there is no telling, so this image records (and
	 * its fork children do not).
	 */
	if (!agent_config.follow && agent_config.root_pid != 0 &&
	    getpid() != agent_config.root_pid)
		return 0;
	return 1;
}

/*
 * Move a descriptor high, out of the way of programs that number their own
 * (shells use 3-9 and 255 for redirections and would close ours).  3/4 of
 * the soft limit, at most 768: below what busy programs reach, above what
 * they pick by hand.  Returns the new descriptor, or fd unchanged.
 */
static int
core_fd_high(int fd)
{
	struct rlimit	rl;
	rlim_t		lim;
	int		nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return fd;
	lim = rl.rlim_cur < 1024 ? rl.rlim_cur : 1024;
	if (lim < 64)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, (int)(lim / 4 * 3));
	if (nfd == -1)
		return fd;
	close(fd);
	return nfd;
}

/* Connect to the controller ("@name": abstract; otherwise a path); the socket or -1. */
static int
core_connect(const char *name)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { CORE_SOCKET_TIMEOUT_S, 0 };
	socklen_t		len;
	size_t			n = strlen(name);
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (name[0] == '@') {
		/* Abstract: a leading NUL, then the name without its terminator. */
		if (n > sizeof sun.sun_path)
			return -1;
		memcpy(sun.sun_path + 1, name + 1, n - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		if (n >= sizeof sun.sun_path)
			return -1;
		memcpy(sun.sun_path, name, n);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* For unix sockets SO_SNDTIMEO also bounds connect() on a full backlog. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, len) == -1) {
		close(fd);
		return -1;
	}
	return core_fd_high(fd);
}

/* Send the hello with the ring's memfd attached; 0 or -1. */
static int
core_send_hello(int sock, int memfd, pid_t ppid)
{
	struct wire_hello	 hello;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cmsg;
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof (int))];
	} control;
	ssize_t			 n;

	memset(&hello, 0, sizeof hello);
	hello.magic = WIRE_MAGIC;
	hello.version = WIRE_VERSION;
	if (agent_config.sample_every == 0)
		hello.flags |= WIRE_HELLO_EXACT;
	if (agent_config.native)
		hello.flags |= WIRE_HELLO_NATIVE;
	hello.flags |= core.hello_flags;
	hello.pid = getpid();
	hello.ppid = ppid;
	hello.sample_every = agent_config.sample_every;
	hello.ring_size = agent_config.ring_size;
	hello.start_ns = core_now();
	n = readlink("/proc/self/exe", hello.exe, sizeof hello.exe - 1);
	if (n < 0)
		hello.exe[0] = '\0';

	memset(&msg, 0, sizeof msg);
	memset(&control, 0, sizeof control);
	iov.iov_base = &hello;
	iov.iov_len = sizeof hello;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof (int));
	memcpy(CMSG_DATA(cmsg), &memfd, sizeof memfd);

	/* MSG_NOSIGNAL: a controller gone meanwhile must not SIGPIPE the program. */
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	return n == (ssize_t)sizeof hello ? 0 : -1;
}

/* Close our connection, if the descriptor is still ours (the program may have reused it). */
static void
core_sock_close(void)
{
	struct stat	st;

	if (core.sock == -1)
		return;
	if (fstat(core.sock, &st) == 0 && st.st_dev == core.sock_dev &&
	    st.st_ino == core.sock_ino)
		close(core.sock);
	core.sock = -1;
}

/*
 * Start a session: ring, connection, hello, then recording.  Returns 0, or
 * -1 with everything undone (the agent stays inert).
 */
static int
core_session_start(pid_t ppid)
{
	struct stat	st;
	int		memfd, sock;

	if (agent_config.sample_every != 0 && agent_addrset_create() == -1)
		return -1;
	if (agent_ring_create(agent_config.ring_size, &memfd) == -1)
		return -1;
	sock = core_connect(core.socket_name);
	if (sock == -1)
		goto fail;
	/* Recording before the hello: the controller may look at the header at once. */
	agent_ring_set_state(WIRE_STATE_RECORDING);
	if (core_send_hello(sock, memfd, ppid) == -1) {
		close(sock);
		goto fail;
	}
	close(memfd);

	core.sock = sock;
	if (fstat(sock, &st) == 0) {
		core.sock_dev = st.st_dev;
		core.sock_ino = st.st_ino;
	}
	agent_mode_set(agent_config.sample_every == 0 ? AGENT_MODE_EXACT : AGENT_MODE_SAMPLE);
	return 0;

fail:
	close(memfd);
	agent_ring_destroy();
	return -1;
}

/* Stop recording for good in this image; state is WIRE_STATE_DISABLED or _DETACHED. */
void
agent_core_stop(uint32_t state)
{
	agent_mode_set(AGENT_MODE_OFF);
	agent_ring_set_state(state);
}

/*
 * 1 if the controller has closed its end (checked only while waiting on a
 * full ring); recording then stops.  A raw recvfrom, because glibc's recv
 * is a cancellation point.
 */
int
agent_core_peer_gone(void)
{
	char	c;
	long	n;

	if (core.sock == -1)
		return 1;
	n = syscall(SYS_recvfrom, (long)core.sock, &c, 1L, (long)(MSG_PEEK | MSG_DONTWAIT),
	    NULL, NULL);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		agent_core_stop(WIRE_STATE_DISABLED);
		return 1;
	}
	return 0;
}

/* Write a WIRE_REC_THREAD record for a thread state just taken. */
static void
core_emit_thread(const struct agent_thread *th)
{
	struct wire_rec		*rec;
	struct wire_thread	*wt;
	uint32_t		 len = sizeof *rec + sizeof *wt;
	char			 name[16];

	memset(name, 0, sizeof name);
	prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
	rec = agent_ring_reserve(len, 0);
	if (rec == NULL)
		return;
	wt = (struct wire_thread *)(rec + 1);
	wt->tid = th->tid;
	memcpy(wt->name, name, sizeof wt->name);
	wt->pad = 0;
	agent_ring_commit(rec, len, WIRE_REC_THREAD, 0);
}

/* Prepare a thread state for the calling thread (new, pooled, or kept by a fork child). */
static void
core_thread_adopt(struct agent_thread *th)
{
	th->tid = (int32_t)syscall(SYS_gettid);
	th->sampling = 0;
	th->young_ring = 0;	/* another thread's young blocks, or the parent's ring's */
	th->errnop = &errno;
	agent_sampler_seed(th);
	agent_tls.thread = th;
	if (core.key_ok)
		pthread_setspecific(core.key, th);
	core_emit_thread(th);
}

/* agent_core_thread's first use in a thread: a state made or taken from the pool. */
struct agent_thread *
agent_core_thread_new(void)
{
	struct agent_thread	*th;

	if (agent_tls.exited)
		return NULL;

	agent_lock(&core.threads_lock);
	th = core.threads_pool;
	if (th != NULL)
		core.threads_pool = th->pool_next;
	agent_unlock(&core.threads_lock);

	if (th == NULL) {
		th = agent_os_map(sizeof *th);
		if (th == NULL)
			return NULL;
		if (agent_stack_setup(th) == -1) {
			if (th->stacks.slots != NULL)
				agent_os_unmap(th->stacks.slots, th->stacks.bytes);
			agent_os_unmap(th, sizeof *th);
			return NULL;
		}
		agent_lock(&core.threads_lock);
		th->all_next = core.threads_all;
		core.threads_all = th;
		agent_unlock(&core.threads_lock);
	}
	th->pool_next = NULL;
	core_thread_adopt(th);
	return th;
}

/*
 * Thread-exit destructor (pthread key): pool the state for the next thread.
 * Allocations of this thread after this point carry no stack (exact mode)
 * or are no longer sampled.
 */
static void
core_thread_exit(void *arg)
{
	struct agent_thread	*th = arg;

	agent_tls.thread = NULL;
	agent_tls.exited = 1;
	if (agent_mode_get() != AGENT_MODE_EXACT)
		agent_tls.bytes_left = AGENT_COUNTDOWN_NEVER;
	agent_lock(&core.threads_lock);
	th->pool_next = core.threads_pool;
	core.threads_pool = th;
	agent_unlock(&core.threads_lock);
}

/* Before fork (any thread): keep the child from inheriting one of our locks taken. */
static void
core_fork_prepare(void)
{
	int	saved = errno;

	agent_tls.guard++;
	agent_lock(&core.threads_lock);
	agent_addrset_fork_prepare();
	agent_maps_fork_prepare();
	errno = saved;
}

/* After fork, in the parent: release what prepare took. */
static void
core_fork_parent(void)
{
	/* Nothing here touches errno: fork's own result must reach the caller. */
	agent_maps_fork_parent();
	agent_addrset_fork_parent();
	agent_unlock(&core.threads_lock);
	agent_tls.guard--;
}

/*
 * After fork, in the child (the only thread now): leave the parent's ring
 * and connection alone, forget every id, pool the states of the threads
 * that did not come along, and start a session of our own if following.
 */
static void
core_fork_child(void)
{
	struct agent_thread	*th, *self = agent_tls.thread;
	int			 recording, saved = errno;

	agent_mode_set(AGENT_MODE_OFF);
	agent_ring_destroy();
	core_sock_close();
	agent_addrset_fork_child();
	agent_maps_fork_child();

	core.threads_lock = 0;
	core.threads_pool = NULL;
	for (th = core.threads_all; th != NULL; th = th->all_next) {
		agent_stack_reset(th);
		if (th != self) {
			th->pool_next = core.threads_pool;
			core.threads_pool = th;
		}
	}
	recording = agent_config.follow && core_session_start(getppid()) == 0;
	if (recording && self != NULL)
		core_thread_adopt(self);
	agent_record_fork_child(recording);
	/* Redraw this thread's countdown with the child's own random state. */
	agent_tls.bytes_left = 0;
	agent_tls.guard--;
	errno = saved;
}

/* Load time: resolve the real allocator, read the configuration, start recording if asked to. */
__attribute__((constructor))
static void
core_init(void)
{
	long	pagesz;
	int	saved = errno;

	agent_tls.guard++;
	agent_hooks_resolve();
	pagesz = (long)getauxval(AT_PAGESZ);
	if (pagesz > 0)
		agent_page_size = (size_t)pagesz;

	if (core_config_read()) {
		agent_stack_init();
		core.key_ok = pthread_key_create(&core.key, core_thread_exit) == 0;
		if (core_session_start(getppid()) == 0)
			pthread_atfork(core_fork_prepare, core_fork_parent, core_fork_child);
	}
	__atomic_store_n(&agent_started, 1, __ATOMIC_RELEASE);
	/* Whatever this thread allocated before, its next allocation decides afresh. */
	agent_tls.bytes_left = 0;
	agent_tls.guard--;
	/* The program starts with the errno it would have had without us. */
	errno = saved;
}

/* exit(): a program without an interpreter to say so ends its own code here. */
__attribute__((destructor))
static void
core_fini(void)
{
	agent_tls.guard++;
	agent_record_exit();
	agent_tls.guard--;
}

/*
 * Attach mode (agent-attach.c).  The library was dlopen'd into a running
 * process, so the constructor found no configuration and did none of the
 * setup; an earlier attach session may have left its ids, recorded
 * addresses and mappings behind.  Both are done here, with recording off.
 */
int
agent_core_attach(const char *socket, const struct agent_config *cfg)
{
	struct agent_thread	*th;
	size_t			 n = strlen(socket);
	int			 rc;

	if (n < 2 || n >= sizeof core.socket_name || agent_mode_get() != AGENT_MODE_OFF)
		return -1;
	agent_tls.guard++;
	memcpy(core.socket_name, socket, n + 1);
	agent_config = *cfg;
	core.hello_flags = WIRE_HELLO_ATTACHED;
	if (!core.attach_ready) {
		agent_stack_init();
		if (!core.key_ok)
			core.key_ok = pthread_key_create(&core.key, core_thread_exit) == 0;
		pthread_atfork(core_fork_prepare, core_fork_parent, core_fork_child);
		core.attach_ready = 1;
	}
	agent_ring_destroy();
	core_sock_close();
	agent_addrset_fork_child();
	agent_maps_fork_child();
	agent_lock(&core.threads_lock);
	for (th = core.threads_all; th != NULL; th = th->all_next)
		agent_stack_reset(th);
	agent_unlock(&core.threads_lock);
	rc = core_session_start(getppid());
	/* A new session: the interpreter is announced again, the exit is not sent yet. */
	if (rc == 0)
		agent_record_fork_child(1);
	agent_tls.bytes_left = 0;
	agent_tls.guard--;
	return rc == 0 ? core.sock : -1;
}

/*
 * End an attach session.  Threads that read the mode just before it went
 * off may still be writing a record: the ring stays mapped 50 ms more.
 */
void
agent_core_detach(void)
{
	struct timespec	ts = { 0, 50 * 1000000L };

	agent_tls.guard++;
	agent_core_stop(WIRE_STATE_DETACHED);
	nanosleep(&ts, NULL);
	agent_ring_destroy();
	core_sock_close();
	agent_tls.guard--;
}
