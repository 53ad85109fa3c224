/*
 * alloc-test.c: a program with known allocations, for tests/agent-core/run.sh.
 *
 * Modes:
 *  known KB [THREADS]  every hooked function, from one noinline site_*
 *                      function each, about KB KiB per site and worker, in
 *                      the main thread, THREADS threads (default 4) and a
 *                      forked child; some blocks are freed, some kept to the
 *                      end.  The exact expected totals per site are appended
 *                      to $ALLOC_TEST_EXPECT as
 *                      "expect ROLE PID SITE ALLOCATED LIVE" lines.
 *  errno               errno survives every hook, sampled or not.
 *  exit3               allocate, then _exit(3).
 *  kill                allocate, then SIGKILL itself.
 *  churn SECS THREADS  threads allocate and free each other's blocks for
 *                      SECS seconds while another thread keeps forking.
 *  signals SECS        mmap/munmap in a loop for SECS seconds while a
 *                      timer signal's handler does the same (both are
 *                      async-signal-safe): the handler often lands inside
 *                      the agent's own bookkeeping of a mapping.
 *  unwind              registers an unwind table with libgcc_s, then
 *                      unwinds: libgcc allocates while holding its own
 *                      mutex, which the agent must not unwind into again.
 *
 * Build it without optimisation (-O0): sites must stay separate functions
 * that call the allocator (no inlining, no tail calls, no elided malloc),
 * non-PIE so that nm gives their run-time addresses, and with
 * -shared-libgcc so that unwind mode uses libgcc_s like the agent.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#define NOINLINE	__attribute__((noinline))

enum site {
	S_MALLOC, S_CALLOC, S_REALLOC, S_REALLOCARRAY, S_POSIX_MEMALIGN,
	S_ALIGNED_ALLOC, S_MEMALIGN, S_VALLOC, S_PVALLOC, S_MMAP, S_R0,
	NSITES
};

static const char *site_names[NSITES] = {
	"site_malloc", "site_calloc", "site_realloc", "site_reallocarray",
	"site_posix_memalign", "site_aligned_alloc", "site_memalign",
	"site_valloc", "site_pvalloc", "site_mmap", "site_r0",
};

static _Atomic uint64_t	expect_alloc[NSITES];
static _Atomic int64_t	expect_live[NSITES];
static size_t		page;

/* Account an allocation of n bytes at a site. */
static void
note_alloc(enum site s, size_t n)
{
	expect_alloc[s] += n;
	expect_live[s] += (int64_t)n;
}

/* Account n bytes of a site going away. */
static void
note_free(enum site s, size_t n)
{
	expect_live[s] -= (int64_t)n;
}

NOINLINE static void *site_malloc(size_t n) { void *p = malloc(n); return p; }
NOINLINE static void *site_calloc(size_t n, size_t m) { void *p = calloc(n, m); return p; }
NOINLINE static void *site_realloc(void *q, size_t n) { void *p = realloc(q, n); return p; }
NOINLINE static void *site_reallocarray(void *q, size_t n, size_t m) { void *p = reallocarray(q, n, m); return p; }
NOINLINE static void *site_posix_memalign(size_t a, size_t n) { void *p = NULL; if (posix_memalign(&p, a, n) != 0) p = NULL; return p; }
NOINLINE static void *site_aligned_alloc(size_t a, size_t n) { void *p = aligned_alloc(a, n); return p; }
NOINLINE static void *site_memalign(size_t a, size_t n) { void *p = memalign(a, n); return p; }
NOINLINE static void *site_valloc(size_t n) { void *p = valloc(n); return p; }
NOINLINE static void *site_pvalloc(size_t n) { void *p = pvalloc(n); return p; }
NOINLINE static void *site_mmap(size_t n) { void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); return p; }
NOINLINE static void *site_r0(size_t n) { void *p = malloc(n); return p; }

/* A small deterministic generator (per worker). */
static uint32_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* Keep 1 block in keep_every, free the rest at once. */
#define KEEP_EVERY	16

struct kept {
	void		*p;
	size_t		 n;
	enum site	 s;
};

static void	die(const char *);

/* Free or keep a block: returns 1 if kept. */
static int
keep_or_free(struct kept *k, size_t *nk, size_t cap, uint64_t *r, void *p,
    size_t n, enum site s)
{
	if (rnd(r) % KEEP_EVERY == 0 && *nk < cap) {
		k[*nk].p = p;
		k[*nk].n = n;
		k[*nk].s = s;
		(*nk)++;
		return 1;
	}
	free(p);
	note_free(s, n);
	return 0;
}

/* One worker's share: about kb KiB at every site. */
static void
worker_run(size_t kb, uint64_t seed)
{
	size_t		 budget = kb << 10, used, n, m, a, nk = 0, cap = 1 << 16;
	struct kept	*k = calloc(cap, sizeof *k);
	uint64_t	 r = seed;
	char		*p, *q, *res;
	int		 i;

	if (k == NULL)
		die("calloc");

	for (used = 0; used < budget; used += n) {
		n = 16 + rnd(&r) % 2000;
		if ((p = site_malloc(n)) == NULL)
			die("malloc");
		note_alloc(S_MALLOC, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_MALLOC);
	}
	for (used = 0; used < budget; used += n * m) {
		n = 1 + rnd(&r) % 64;
		m = 1 + rnd(&r) % 100;
		if ((p = site_calloc(n, m)) == NULL)
			die("calloc");
		note_alloc(S_CALLOC, n * m);
		keep_or_free(k, &nk, cap, &r, p, n * m, S_CALLOC);
	}
	for (used = 0; used < budget;) {
		/* A block that grows three times: each realloc is free(old) + alloc(new). */
		n = 32 + rnd(&r) % 500;
		if ((p = site_realloc(NULL, n)) == NULL)
			die("realloc");
		note_alloc(S_REALLOC, n);
		used += n;
		for (i = 0; i < 3; i++) {
			m = n + 100 + rnd(&r) % 3000;
			if ((q = site_realloc(p, m)) == NULL)
				die("realloc");
			note_free(S_REALLOC, n);
			note_alloc(S_REALLOC, m);
			used += m;
			p = q;
			n = m;
		}
		keep_or_free(k, &nk, cap, &r, p, n, S_REALLOC);
	}
	for (used = 0; used < budget;) {
		n = 1 + rnd(&r) % 40;
		m = 8 + rnd(&r) % 40;
		if ((p = site_reallocarray(NULL, n, m)) == NULL)
			die("reallocarray");
		note_alloc(S_REALLOCARRAY, n * m);
		used += n * m;
		a = n * 3;
		if ((q = site_reallocarray(p, a, m)) == NULL)
			die("reallocarray");
		note_free(S_REALLOCARRAY, n * m);
		note_alloc(S_REALLOCARRAY, a * m);
		used += a * m;
		keep_or_free(k, &nk, cap, &r, q, a * m, S_REALLOCARRAY);
	}
	for (used = 0; used < budget; used += n) {
		n = 8 + rnd(&r) % 3000;
		if ((p = site_posix_memalign(64, n)) == NULL)
			die("posix_memalign");
		note_alloc(S_POSIX_MEMALIGN, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_POSIX_MEMALIGN);
	}
	for (used = 0; used < budget; used += n) {
		n = 64 * (1 + rnd(&r) % 40);
		if ((p = site_aligned_alloc(64, n)) == NULL)
			die("aligned_alloc");
		note_alloc(S_ALIGNED_ALLOC, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_ALIGNED_ALLOC);
	}
	for (used = 0; used < budget; used += n) {
		n = 8 + rnd(&r) % 3000;
		if ((p = site_memalign(128, n)) == NULL)
			die("memalign");
		note_alloc(S_MEMALIGN, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_MEMALIGN);
	}
	for (used = 0; used < budget; used += n) {
		n = 100 + rnd(&r) % 6000;
		if ((p = site_valloc(n)) == NULL)
			die("valloc");
		note_alloc(S_VALLOC, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_VALLOC);
	}
	for (used = 0; used < budget; used += n) {
		/* pvalloc allocates whole pages: that is the size recorded. */
		m = 100 + rnd(&r) % 6000;
		n = (m + page - 1) / page * page;
		if ((p = site_pvalloc(m)) == NULL)
			die("pvalloc");
		note_alloc(S_PVALLOC, n);
		keep_or_free(k, &nk, cap, &r, p, n, S_PVALLOC);
	}
	/*
	 * The mapping section runs in every worker at once: the agent sends
	 * mremap's UNMAP before the call (agent-record.c), so another thread's
	 * mmap landing in a tail just released is never charged for it.
	 */
	for (used = 0; used < budget;) {
		/* Mappings of 2-17 pages: munmap in two parts (the first page, then the rest). */
		n = page * (2 + rnd(&r) % 16);
		if ((p = site_mmap(n)) == MAP_FAILED)
			die("mmap");
		note_alloc(S_MMAP, n);
		used += n;
		p[0] = 1;
		if (rnd(&r) % 8 == 0)
			continue;	/* kept to the end */
		if (munmap(p, page) == -1 || munmap(p + page, n - page) == -1)
			die("munmap");
		note_free(S_MMAP, n);
	}
	/*
	 * mremap of a recorded mapping is a free of the old range and an
	 * allocation of the result, as realloc is, whether it shrinks in place
	 * or moves (MREMAP_FIXED over a PROT_NONE reservation, which is not an
	 * allocation); the result inherits the record of site_mmap.
	 */
	n = 8 * page;
	if ((p = site_mmap(n)) == MAP_FAILED)
		die("mmap");
	note_alloc(S_MMAP, n);
	if ((q = mremap(p, n, 4 * page, 0)) != p)
		die("mremap shrink");
	note_free(S_MMAP, 8 * page);
	note_alloc(S_MMAP, 4 * page);
	res = mmap(NULL, 16 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		die("mmap reserve");
	if ((q = mremap(p, 4 * page, 16 * page, MREMAP_MAYMOVE | MREMAP_FIXED, res)) != res)
		die("mremap move");
	note_free(S_MMAP, 4 * page);
	note_alloc(S_MMAP, 16 * page);

	/* realloc(p, 0) frees p on glibc. */
	n = 12345;
	if ((p = site_r0(n)) == NULL)
		die("malloc");
	note_alloc(S_R0, n);
	if (realloc(p, 0) != NULL)
		die("realloc(p, 0) returned a block");
	note_free(S_R0, n);
	if ((p = site_r0(n)) == NULL)
		die("malloc");
	note_alloc(S_R0, n);	/* kept */

	/* Half of what was kept is freed now, the rest stays live to the end. */
	for (size_t j = 0; j < nk; j += 2) {
		free(k[j].p);
		note_free(k[j].s, k[j].n);
	}
	free(k);
}

static size_t known_kb;

/* Thread body for known mode. */
static void *
known_thread(void *arg)
{
	worker_run(known_kb, (uint64_t)(uintptr_t)arg);
	return NULL;
}

/* Append this process's expectations to $ALLOC_TEST_EXPECT. */
static void
expect_write(const char *role)
{
	const char	*path = getenv("ALLOC_TEST_EXPECT");
	int		 fd, i;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd == -1)
		die(path);
	for (i = 0; i < NSITES; i++)
		dprintf(fd, "expect %s %d %s %llu %lld\n", role, (int)getpid(),
		    site_names[i], (unsigned long long)expect_alloc[i],
		    (long long)expect_live[i]);
	close(fd);
}

/* known mode: main thread, threads, and a forked child. */
static int
mode_known(size_t kb, int nthreads)
{
	pthread_t	th[64];
	pid_t		pid;
	int		i, status;

	known_kb = kb;
	if (nthreads > 64)
		nthreads = 64;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, known_thread, (void *)(uintptr_t)(i + 2)) != 0)
			die("pthread_create");
	worker_run(kb, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);

	pid = fork();
	if (pid == -1)
		die("fork");
	if (pid == 0) {
		/* The child's profile starts at fork: its own expectations start at zero. */
		for (i = 0; i < NSITES; i++) {
			expect_alloc[i] = 0;
			expect_live[i] = 0;
		}
		worker_run(kb, 99);
		expect_write("child");
		exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("child failed");
	expect_write("parent");
	return 0;
}

static int errno_failures;

/* Check errno after a step of mode_errno. */
static void
errno_check(const char *what, int want)
{
	if (errno != want) {
		fprintf(stderr, "alloc-test: errno %d after %s, expected %d\n", errno, what, want);
		errno_failures++;
	}
}

/* errno mode: every hook leaves errno as it found it on success (and on free). */
static int
mode_errno(void)
{
	void	*p, *q;
	char	*m;
	int	 i;

	for (i = 0; i < 200; i++) {
		errno = EDOM;
		p = malloc(100 + (size_t)i);
		errno_check("malloc", EDOM);
		errno = ERANGE;
		free(p);
		errno_check("free", ERANGE);
		errno = EDOM;
		p = calloc(10, 10);
		errno_check("calloc", EDOM);
		errno = EILSEQ;
		q = realloc(p, 5000);
		errno_check("realloc", EILSEQ);
		errno = EDOM;
		q = reallocarray(q, 3, 3000);
		errno_check("reallocarray", EDOM);
		errno = ERANGE;
		if (realloc(q, 0) != NULL)
			die("realloc(p, 0)");
		errno_check("realloc(p, 0)", ERANGE);
		errno = EDOM;
		if (posix_memalign(&p, 64, 300) != 0)
			die("posix_memalign");
		errno_check("posix_memalign", EDOM);
		free(p);
		errno_check("free", EDOM);
		errno = EAGAIN;
		p = aligned_alloc(64, 640);
		errno_check("aligned_alloc", EAGAIN);
		free(p);
		p = memalign(64, 300);
		free(p);
		p = valloc(300);
		free(p);
		p = pvalloc(300);
		free(p);
		errno_check("memalign/valloc/pvalloc/free", EAGAIN);
		errno = EDOM;
		m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		errno_check("mmap", EDOM);
		m = mremap(m, 3 * page, 6 * page, MREMAP_MAYMOVE);
		errno_check("mremap", EDOM);
		munmap(m, page);
		errno_check("munmap", EDOM);
		munmap(m + page, 5 * page);
		errno_check("munmap", EDOM);
		free(NULL);
		errno_check("free(NULL)", EDOM);
	}
	/* A failing call still reports its own error. */
	errno = 0;
	p = malloc(SIZE_MAX / 2);
	if (p != NULL || errno != ENOMEM) {
		fprintf(stderr, "alloc-test: malloc(huge) gave %p errno %d\n", p, errno);
		errno_failures++;
	}
	errno = EDOM;
	p = malloc(64);
	q = realloc(p, SIZE_MAX / 2);
	if (q != NULL || errno != ENOMEM) {
		fprintf(stderr, "alloc-test: realloc(huge) gave %p errno %d\n", q, errno);
		errno_failures++;
	}
	free(p);
	return errno_failures != 0;
}

static atomic_int churn_stop;
static _Atomic(void *) churn_slots[4096];

/* A churn site, so the test can find these blocks. */
NOINLINE static void *site_churn(size_t n) { void *p = malloc(n); return p; }

/* churn: allocate, swap into a shared slot, free what was there (another thread's block). */
static void *
churn_thread(void *arg)
{
	uint64_t	r = (uint64_t)(uintptr_t)arg;
	void		*p, *old;
	size_t		 n;

	while (!atomic_load(&churn_stop)) {
		n = rnd(&r) % 100 == 0 ? 100000 + rnd(&r) % 300000 : 8 + rnd(&r) % 4000;
		if ((p = site_churn(n)) == NULL)
			die("malloc");
		if (rnd(&r) % 10 == 0 && (p = realloc(p, n * 2)) == NULL)
			die("realloc");
		old = atomic_exchange(&churn_slots[rnd(&r) % 4096], p);
		free(old);
	}
	return NULL;
}

/* churn: a thread that forks children that allocate a little and exit. */
static void *
churn_forker(void *arg)
{
	pid_t	pid;
	int	status;
	void	*p;

	(void)arg;
	while (!atomic_load(&churn_stop)) {
		pid = fork();
		if (pid == -1)
			die("fork");
		if (pid == 0) {
			p = site_churn(1000);
			free(p);
			p = site_churn(3000);
			_exit(p != NULL ? 0 : 1);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			die("churn child");
		usleep(200000);
	}
	return NULL;
}

/* churn mode. */
static int
mode_churn(int secs, int nthreads)
{
	pthread_t	th[64], forker;
	int		i;

	if (nthreads > 64)
		nthreads = 64;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, churn_thread, (void *)(uintptr_t)(i + 7)) != 0)
			die("pthread_create");
	if (pthread_create(&forker, NULL, churn_forker, NULL) != 0)
		die("pthread_create");
	sleep((unsigned int)secs);
	atomic_store(&churn_stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	pthread_join(forker, NULL);
	for (i = 0; i < 4096; i++)
		free(atomic_exchange(&churn_slots[i], NULL));
	return 0;
}

static atomic_long signals_seen;

/* The timer signal: map and unmap a page, as async-signal-safe code may. */
static void
signals_handler(int sig)
{
	int	saved = errno;
	void	*p;

	(void)sig;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		munmap(p, page);
	signals_seen++;
	errno = saved;
}

/* signals mode. */
static int
mode_signals(int secs)
{
	struct sigaction	sa;
	struct itimerval	it;
	time_t			end = time(NULL) + secs;
	char			*p;
	long			 loops = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = signals_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		die("sigaction");
	/* Every 50 us: the kernel's timer slack makes it a few thousand a second. */
	it.it_interval.tv_sec = 0;
	it.it_interval.tv_usec = 50;
	it.it_value = it.it_interval;
	if (setitimer(ITIMER_REAL, &it, NULL) == -1)
		die("setitimer");
	while (time(NULL) < end) {
		p = site_mmap(4 * page);
		if (p == MAP_FAILED)
			die("mmap");
		p[0] = 1;
		if (munmap(p + page, page) == -1 || munmap(p, page) == -1 ||
		    munmap(p + 2 * page, 2 * page) == -1)
			die("munmap");
		loops++;
	}
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	printf("%ld loops, %ld signals\n", loops, (long)signals_seen);
	return 0;
}

extern void	__register_frame(void *);
extern void	__deregister_frame(void *);

/* Count the frames _Unwind_Backtrace reports. */
static _Unwind_Reason_Code
unwind_count(struct _Unwind_Context *ctx, void *arg)
{
	(void)ctx;
	(*(int *)arg)++;
	return _URC_NO_REASON;
}

/*
 * unwind mode: a hand-made .eh_frame (one CIE, one FDE for a code range
 * nothing runs in) registered with libgcc_s makes its next FDE search sort
 * the object, calling malloc while it holds object_mutex.  Under an exact
 * agent that malloc is recorded; unwinding from it would lock the mutex
 * again and hang.
 */
static int
mode_unwind(void)
{
	static uint64_t	eh[16] __attribute__((aligned(8)));
	unsigned char	*p = (unsigned char *)eh;
	uint32_t	 u;
	uint64_t	 pc = 0x1000, range = 0x100;
	int		 frames = 0;

	/* CIE: length 16, id 0, version 1, "", code align 1, data align -8, RA r16. */
	u = 16; memcpy(p, &u, 4);
	u = 0; memcpy(p + 4, &u, 4);
	p[8] = 1; p[9] = 0; p[10] = 1; p[11] = 0x78; p[12] = 16;
	/* def_cfa rsp+8; r16 at cfa-8; nop. */
	p[13] = 0x0c; p[14] = 7; p[15] = 8; p[16] = 0x90; p[17] = 1; p[18] = 0; p[19] = 0;
	/* FDE at 20: length 20, CIE pointer 24 (back to offset 0), pc_begin, pc_range. */
	u = 20; memcpy(p + 20, &u, 4);
	u = 24; memcpy(p + 24, &u, 4);
	memcpy(p + 28, &pc, 8);
	memcpy(p + 36, &range, 8);
	/* Terminator at 44. */
	u = 0; memcpy(p + 44, &u, 4);

	__register_frame(eh);
	_Unwind_Backtrace(unwind_count, &frames);
	__deregister_frame(eh);
	printf("unwound %d frames\n", frames);
	return frames > 0 ? 0 : 1;
}

/* Report a failed step and exit 2. */
static void
die(const char *what)
{
	fprintf(stderr, "alloc-test: %s failed: %s\n", what, strerror(errno));
	exit(2);
}

int
main(int argc, char **argv)
{
	void	*p;

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "known") == 0 && argc >= 3)
		return mode_known(strtoul(argv[2], NULL, 10), argc > 3 ? atoi(argv[3]) : 4);
	if (strcmp(argv[1], "errno") == 0)
		return mode_errno();
	if (strcmp(argv[1], "exit3") == 0) {
		p = site_malloc(1000);
		(void)p;
		_exit(3);
	}
	if (strcmp(argv[1], "kill") == 0) {
		for (int i = 0; i < 1000; i++)
			p = site_malloc(1000);
		raise(SIGKILL);
		return 1;
	}
	if (strcmp(argv[1], "churn") == 0 && argc >= 4)
		return mode_churn(atoi(argv[2]), atoi(argv[3]));
	if (strcmp(argv[1], "unwind") == 0)
		return mode_unwind();
	if (strcmp(argv[1], "signals") == 0 && argc >= 3)
		return mode_signals(atoi(argv[2]));
usage:
	fprintf(stderr, "usage: alloc-test known KB [THREADS] | errno | exit3 | kill | churn SECS THREADS | signals SECS | unwind\n");
	return 2;
}
