/*
 * shim.c: stands in for agent-core.c so that agent-python.c and
 * agent-pymem.c can be tested inside real interpreters.  Built with them
 * (and src/linetable.c) into one test library that check.py loads with
 * ctypes, usually also preloaded (LD_PRELOAD) so that its malloc family and
 * mmap interposers see the process from its first allocation:
 *  - the guard and the agent_record_* functions count what they are given
 *    into static arrays (no allocation) that check.py queries;
 *  - with SHIM_EARLY=1 every unguarded malloc plays the recorder's slow
 *    path (agent_python_detect, agent_pymem_maybe_install), and with
 *    SHIM_STRESS=1 also walks and describes the Python stack, all through
 *    interpreter start-up, threads and finalization;
 *  - any allocation made while the walker or describe runs is counted as a
 *    violation, and so is one made by detection or the install from the
 *    hook; allocations under the guard are counted by size so that nested
 *    pymalloc fallbacks can be told apart from double counts.
 * The exported shim_* functions are the test's entry points.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "linetable.h"

/* glibc's own entry points, so the interposers need no dlsym. */
void	*__libc_malloc(size_t);
void	*__libc_calloc(size_t, size_t);
void	*__libc_realloc(void *, size_t);
void	 __libc_free(void *);

#define SHIM_LOG_SIZE		(1 << 16)	/* recent alloc records kept */
#define SHIM_MAX_FRAMES		WIRE_STACK_MAX_FRAMES

/* Counters check.py reads by index (shim_counter). */
enum shim_counter {
	SHIM_ENTER_OK,		/* unused: agent_enter is inline (agent-core.h) */
	SHIM_ENTER_REFUSED,	/* unused */
	SHIM_ALLOC_PYMEM,
	SHIM_ALLOC_PYOBJECT,
	SHIM_ALLOC_OTHER,
	SHIM_FREE_PYMEM,
	SHIM_FREE_PYOBJECT,
	SHIM_UNMAP,
	SHIM_EXIT,
	SHIM_PYTHON,
	SHIM_VIOLATIONS,	/* allocations while walking or describing */
	SHIM_NESTED_MALLOC,	/* malloc family calls under the guard */
	SHIM_NESTED_BIG,	/* ... of at least shim_big bytes */
	SHIM_PLAIN_BIG,		/* unguarded malloc family calls of at least shim_big */
	SHIM_MMAP_GUARDED,
	SHIM_MMAP_PLAIN,
	SHIM_WALKS,		/* stress walks done from the hooks */
	SHIM_WALK_FRAMES,
	SHIM_DESCRIBE_FAIL,
	SHIM_SLOW_ALLOCS,	/* allocations inside detect and maybe_install */
	SHIM_NCOUNTERS
};

struct shim_alloc {
	uintptr_t	addr;
	uint64_t	size;
	int		allocator;
};

/* One described frame, filled by shim_walk for check.py. */
struct shim_frame {
	uint64_t	code;
	uint64_t	key;
	uint32_t	offset;
	int32_t		line;
	int32_t		firstlineno;
	int32_t		table_format;
	int32_t		name_len;
	int32_t		filename_len;
	char		name[256];
	char		filename[768];
};

static _Atomic uint64_t		shim_counters[SHIM_NCOUNTERS];
static struct shim_alloc	shim_log[SHIM_LOG_SIZE];
static _Atomic uint64_t		shim_log_next;
static _Atomic uint64_t		shim_big = UINT64_MAX;
static uint32_t			shim_py_hex, shim_py_flags;
static int			shim_early, shim_stress;
static AGENT_TLS int		shim_checking;
static AGENT_TLS int		shim_in_slow;

static void	shim_stress_walk(void);

/* Adds one to a counter. */
static void
shim_count(enum shim_counter c)
{
	atomic_fetch_add_explicit(&shim_counters[c], 1, memory_order_relaxed);
}

/* Reads the test switches once, before main. */
__attribute__((constructor)) static void
shim_init(void)
{
	const char	*e = getenv("SHIM_EARLY"), *s = getenv("SHIM_STRESS");

	shim_early = e != NULL && *e == '1';
	shim_stress = s != NULL && *s == '1';
}

/*
 * What agent-pymem.c's inlined fast paths read from the core (agent-core.h):
 * the shim never samples (mode EXACT), so those paths always take the
 * guard (agent_enter, inline: the guard is agent_tls.guard) and fall
 * through to the agent_record_* functions below, which the checks count.
 */
#include "agent-core.h"

AGENT_TLS struct agent_tls	agent_tls;
int				agent_mode = AGENT_MODE_EXACT;
struct agent_addrset		*agent_addrset_table;
uint64_t			 agent_addrset_filter[(1U << AGENT_FILTER_LOG2) / 64];

/* The shim records no mappings: no early pymalloc arena to forget. */
size_t
agent_maps_with_len(uint64_t len, uintptr_t *addrs, size_t max)
{
	(void)len;
	(void)addrs;
	(void)max;
	return 0;
}

void
agent_record_unmap_range(uintptr_t addr, size_t len, int nested)
{
	(void)addr;
	(void)len;
	(void)nested;
}

/* Never reached while the mode is EXACT; present for the linker. */
void
agent_record_alloc_slow(void *addr, size_t size, enum wire_allocator allocator, uintptr_t ret)
{
	(void)ret;
	agent_record_alloc(addr, size, allocator);
}

/* Logs an allocation record. */
void
agent_record_alloc(void *addr, size_t size, enum wire_allocator allocator)
{
	uint64_t	i = atomic_fetch_add(&shim_log_next, 1) % SHIM_LOG_SIZE;

	shim_log[i].addr = (uintptr_t)addr;
	shim_log[i].size = size;
	shim_log[i].allocator = allocator;
	shim_count(allocator == WIRE_ALLOC_PYMEM ? SHIM_ALLOC_PYMEM :
	    allocator == WIRE_ALLOC_PYOBJECT ? SHIM_ALLOC_PYOBJECT : SHIM_ALLOC_OTHER);
	if (shim_stress)
		shim_stress_walk();
}

/* Counts a free record. */
void
agent_record_free(void *addr, enum wire_allocator allocator)
{
	(void)addr;
	if (allocator == WIRE_ALLOC_PYMEM)
		shim_count(SHIM_FREE_PYMEM);
	else if (allocator == WIRE_ALLOC_PYOBJECT)
		shim_count(SHIM_FREE_PYOBJECT);
}

/* Counts an unmap record. */
void
agent_record_unmap(void *addr, size_t len)
{
	(void)addr;
	(void)len;
	shim_count(SHIM_UNMAP);
}

/* Counts the exit mark and says so on stderr, for ordering checks. */
void
agent_record_exit(void)
{
	static const char	msg[] = "memprof-shim: exit recorded\n";
	ssize_t			r;

	shim_count(SHIM_EXIT);
	r = write(2, msg, sizeof msg - 1);
	(void)r;
}

/* Keeps the interpreter announcement. */
void
agent_record_python(uint32_t hexversion, uint32_t flags)
{
	shim_py_hex = hexversion;
	shim_py_flags = flags;
	shim_count(SHIM_PYTHON);
}

/* Walks and describes every frame, decoding lines; returns the frame count. */
static int
shim_walk_into(struct shim_frame *out, int max, int *truncated)
{
	struct agent_pyraw	raw[AGENT_PYRAW_MAX];
	struct agent_pyframe	frames[SHIM_MAX_FRAMES];
	struct agent_pycode	pc;
	char			buf[1024];
	int			i, n;

	if (max > SHIM_MAX_FRAMES)
		max = SHIM_MAX_FRAMES;
	shim_checking++;
	n = agent_python_walk_raw(raw, AGENT_PYRAW_MAX, truncated);
	n = agent_python_cook_all(raw, n, frames, max, truncated);
	for (i = 0; i < n && out != NULL; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].code = frames[i].code;
		out[i].offset = frames[i].offset;
		out[i].key = agent_python_code_key(frames[i].code);
		out[i].line = -2;
		if (agent_python_describe(frames[i].code, &pc, buf, sizeof buf) != 0) {
			shim_count(SHIM_DESCRIBE_FAIL);
			continue;
		}
		out[i].firstlineno = pc.firstlineno;
		out[i].table_format = pc.table_format;
		out[i].name_len = (int)pc.name_len;
		out[i].filename_len = (int)pc.filename_len;
		memcpy(out[i].name, pc.name, pc.name_len < 255 ? pc.name_len : 255);
		memcpy(out[i].filename, pc.filename,
		    pc.filename_len < 767 ? pc.filename_len : 767);
		out[i].line = linetable_line(pc.table_format, pc.table, pc.table_len,
		    pc.firstlineno, frames[i].offset);
	}
	shim_checking--;
	return n;
}

/* SHIM_STRESS: what the recorder does for a sampled allocation, every time. */
static void
shim_stress_walk(void)
{
	struct shim_frame	frames[8];
	int			truncated, n;

	n = shim_walk_into(frames, 8, &truncated);
	shim_count(SHIM_WALKS);
	atomic_fetch_add(&shim_counters[SHIM_WALK_FRAMES], (uint64_t)n);
}

/* The recorder's slow path, as an unguarded allocation would run it. */
static void
shim_slow_path(void)
{
	if (!agent_enter())
		return;
	shim_in_slow++;
	agent_python_detect();
	agent_pymem_maybe_install();
	shim_in_slow--;
	if (shim_stress)
		shim_stress_walk();
	agent_leave();
}

/* Classifies one malloc-family call made by the process. */
static void
shim_saw_alloc(size_t size)
{
	if (shim_checking)
		shim_count(SHIM_VIOLATIONS);
	if (shim_in_slow)
		shim_count(SHIM_SLOW_ALLOCS);
	if (agent_tls.guard) {
		shim_count(SHIM_NESTED_MALLOC);
		if (size >= atomic_load_explicit(&shim_big, memory_order_relaxed))
			shim_count(SHIM_NESTED_BIG);
		return;
	}
	if (size >= atomic_load_explicit(&shim_big, memory_order_relaxed))
		shim_count(SHIM_PLAIN_BIG);
	if (shim_early)
		shim_slow_path();
}

/* Interposed malloc. */
AGENT_EXPORT void *
malloc(size_t size)
{
	int	saved = errno;

	shim_saw_alloc(size);
	errno = saved;
	return __libc_malloc(size);
}

/* Interposed calloc. */
AGENT_EXPORT void *
calloc(size_t n, size_t size)
{
	int	saved = errno;

	shim_saw_alloc(n * size);
	errno = saved;
	return __libc_calloc(n, size);
}

/* Interposed realloc. */
AGENT_EXPORT void *
realloc(void *p, size_t size)
{
	int	saved = errno;

	shim_saw_alloc(size);
	errno = saved;
	return __libc_realloc(p, size);
}

/* Interposed free. */
AGENT_EXPORT void
free(void *p)
{
	__libc_free(p);
}

/* Interposed mmap: pymalloc maps its arenas through the PLT. */
AGENT_EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long	r;

	shim_count(agent_tls.guard ? SHIM_MMAP_GUARDED : SHIM_MMAP_PLAIN);
	r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return (void *)r;
}

/* Interposed mmap64: what CPython actually calls (a distinct PLT name). */
AGENT_EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* check.py: PY_VERSION_HEX as detected, 0 if none. */
AGENT_EXPORT uint32_t
shim_detect(void)
{
	return agent_python_detect();
}

/* check.py: agent_python_is_static. */
AGENT_EXPORT int
shim_is_static(void)
{
	return agent_python_is_static();
}

/* check.py: one slow path by hand (the "attach" case, nothing preloaded). */
AGENT_EXPORT void
shim_install(void)
{
	if (agent_enter()) {
		agent_pymem_maybe_install();
		agent_leave();
	}
}

/* check.py: the announced version and flags; flags -1 before the announcement. */
AGENT_EXPORT int64_t
shim_python_flags(void)
{
	return atomic_load(&shim_counters[SHIM_PYTHON]) ? (int64_t)shim_py_flags : -1;
}

/* check.py: the announced PY_VERSION_HEX. */
AGENT_EXPORT uint32_t
shim_python_hex(void)
{
	return shim_py_hex;
}

/* check.py: reads one counter. */
AGENT_EXPORT uint64_t
shim_counter(int which)
{
	if (which < 0 || which >= SHIM_NCOUNTERS)
		return 0;
	return atomic_load(&shim_counters[which]);
}

/* check.py: zeroes the per-test counters and the log; sets the "big" size. */
AGENT_EXPORT void
shim_reset(uint64_t big)
{
	int	i;

	for (i = 0; i < SHIM_NCOUNTERS; i++)
		if (i != SHIM_EXIT && i != SHIM_PYTHON && i != SHIM_VIOLATIONS &&
		    i != SHIM_WALKS && i != SHIM_WALK_FRAMES && i != SHIM_SLOW_ALLOCS)
			atomic_store(&shim_counters[i], 0);
	atomic_store(&shim_log_next, 0);
	memset(shim_log, 0, sizeof shim_log);
	atomic_store(&shim_big, big);
}

/* check.py: the newest logged allocation at addr; returns its allocator or 0. */
AGENT_EXPORT int
shim_find_alloc(uint64_t addr, uint64_t *size)
{
	uint64_t	n = atomic_load(&shim_log_next), i;

	for (i = n; i > 0 && n - i < SHIM_LOG_SIZE; i--) {
		struct shim_alloc	*a = &shim_log[(i - 1) % SHIM_LOG_SIZE];

		if (a->addr == addr) {
			*size = a->size;
			return a->allocator;
		}
	}
	return 0;
}

/* check.py: walks the calling thread's stack into out[max]. */
AGENT_EXPORT int
shim_walk(struct shim_frame *out, int max, int *truncated)
{
	return shim_walk_into(out, max, truncated);
}

/* check.py: the line decoder, for comparison with CPython's own. */
AGENT_EXPORT int
shim_linetable_line(int format, const void *table, size_t len, int firstlineno,
    uint32_t offset)
{
	return linetable_line(format, table, len, firstlineno, offset);
}

/* check.py: describe with a small buffer, to test cutting. */
AGENT_EXPORT int
shim_describe_cut(uint64_t code, size_t cap, char *out, int *name_len, int *file_len)
{
	struct agent_pycode	pc;

	if (agent_python_describe(code, &pc, out, cap) != 0)
		return -1;
	*name_len = (int)pc.name_len;
	*file_len = (int)pc.filename_len;
	/* Both names must lie inside out[0..cap). */
	if (pc.name < out || pc.name + pc.name_len > out + cap ||
	    pc.filename < out || pc.filename + pc.filename_len > out + cap)
		return -2;
	return 0;
}

/* Nanoseconds from a to b. */
static double
shim_elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/* check.py: the mean cost of one walk of the current stack, in nanoseconds. */
AGENT_EXPORT double
shim_bench_walk(int iters, int *depth)
{
	struct agent_pyraw	raw[AGENT_PYRAW_MAX];
	struct agent_pyframe	frames[SHIM_MAX_FRAMES];
	struct timespec		a, b;
	int			i, truncated, n = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < iters; i++) {
		n = agent_python_walk_raw(raw, AGENT_PYRAW_MAX, &truncated);
		n = agent_python_cook_all(raw, n, frames, SHIM_MAX_FRAMES, &truncated);
		__asm__ volatile("" : : "r"(frames) : "memory");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	*depth = n;
	return shim_elapsed_ns(&a, &b) / iters;
}

/* check.py: the mean cost of describing one code object, in nanoseconds. */
AGENT_EXPORT double
shim_bench_describe(uint64_t code, int iters)
{
	struct agent_pycode	pc;
	struct timespec		a, b;
	char			buf[1024];
	int			i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < iters; i++) {
		agent_python_describe(code, &pc, buf, sizeof buf);
		__asm__ volatile("" : : "r"(buf) : "memory");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return shim_elapsed_ns(&a, &b) / iters;
}
