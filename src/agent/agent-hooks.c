/*
 * agent-hooks.c: the interposed allocator entry points of libmemprof.so,
 * the only symbols it exports.
 *
 * The real functions are the next definitions in link-map order
 * (dlsym(RTLD_NEXT)), so an allocator preloaded after us (jemalloc,
 * tcmalloc) stays the one that allocates.  They are resolved by the
 * constructor in agent-core.c, or by whichever hook runs first: until then
 * every function pointer leads to a bootstrap stub that resolves, and
 * allocations made while resolving (older glibc's dlsym calls calloc) come
 * from a static arena that free and realloc recognise and never hand to
 * the real allocator.
 *
 * Every hook follows one pattern.  A call made while the thread's guard is
 * set (from inside the agent, or from the real allocator calling another
 * entry point through the PLT, as glibc's reallocarray calls realloc) goes
 * straight to the real function; the one exception is a recorded mapping
 * going away (munmap, mremap, MAP_FIXED), which is sent whoever unmaps it.
 * Otherwise the hook sets the guard, calls
 * the real function, and records the result only when the sampling
 * countdown runs out (agent_sample_due) or, for free, when the address set
 * says the block may be recorded; the guard covers the real call too, so
 * the mmaps an allocator makes for itself are not counted as allocations.
 * Allocations are recorded after the real call returns; frees, munmaps and
 * the old block of a realloc before, so that a FREE is always reserved on
 * the ring before the address can be handed out again (wire.h).  The fast
 * path touches no errno, makes no system call and takes no lock; the slow
 * paths in agent-record.c save and restore errno.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* RTLD_NEXT, mremap, pvalloc, reallocarray */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent-core.h"

/*
 * Bootstrap arena: 64 KiB, far more than dlsym ever needed (heaptrack gets
 * by with 1 KiB), static so it exists before anything runs.
 */
#define HOOKS_BOOT_SIZE		(64U << 10)
/* A bootstrap block: 16 bytes holding its size, then the block, 16-aligned like malloc's. */
#define HOOKS_BOOT_HEADER	16U

#define HOOKS_UNRESOLVED	0
#define HOOKS_RESOLVING		1
#define HOOKS_READY		2

/* glibc's own entry points, a fallback if dlsym cannot find the next malloc. */
extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	 __libc_free(void *);
extern void	*__libc_memalign(size_t, size_t);

static void	*hooks_boot_malloc(size_t);
static void	 hooks_boot_free(void *);
static void	*hooks_boot_calloc(size_t, size_t);
static void	*hooks_boot_realloc(void *, size_t);
static int	 hooks_boot_posix_memalign(void **, size_t, size_t);
static void	*hooks_boot_aligned_alloc(size_t, size_t);
static void	*hooks_boot_memalign(size_t, size_t);
static void	*hooks_boot_valloc(size_t);
static void	*hooks_boot_pvalloc(size_t);
static void	*hooks_boot_reallocarray(void *, size_t, size_t);
static void	*hooks_boot_mmap(void *, size_t, int, int, int, off_t);
static int	 hooks_boot_munmap(void *, size_t);
static void	*hooks_boot_mremap(void *, size_t, size_t, int, ...);
static size_t	 hooks_boot_usable_size(void *);

/* The real functions; bootstrap stubs until agent_hooks_resolve has run. */
static struct {
	void	*(*malloc)(size_t);
	void	 (*free)(void *);
	void	*(*calloc)(size_t, size_t);
	void	*(*realloc)(void *, size_t);
	int	 (*posix_memalign)(void **, size_t, size_t);
	void	*(*aligned_alloc)(size_t, size_t);
	void	*(*memalign)(size_t, size_t);
	void	*(*valloc)(size_t);
	void	*(*pvalloc)(size_t);
	void	*(*reallocarray)(void *, size_t, size_t);
	void	*(*mmap)(void *, size_t, int, int, int, off_t);
	void	*(*mmap64)(void *, size_t, int, int, int, off_t);
	int	 (*munmap)(void *, size_t);
	void	*(*mremap)(void *, size_t, size_t, int, ...);
	size_t	 (*usable_size)(void *);
} hooks_real = {
	.malloc = hooks_boot_malloc,
	.free = hooks_boot_free,
	.calloc = hooks_boot_calloc,
	.realloc = hooks_boot_realloc,
	.posix_memalign = hooks_boot_posix_memalign,
	.aligned_alloc = hooks_boot_aligned_alloc,
	.memalign = hooks_boot_memalign,
	.valloc = hooks_boot_valloc,
	.pvalloc = hooks_boot_pvalloc,
	.reallocarray = hooks_boot_reallocarray,
	.mmap = hooks_boot_mmap,
	.mmap64 = hooks_boot_mmap,
	.munmap = hooks_boot_munmap,
	.mremap = hooks_boot_mremap,
	.usable_size = hooks_boot_usable_size,
};

static int hooks_state = HOOKS_UNRESOLVED;
static char hooks_boot_arena[HOOKS_BOOT_SIZE] __attribute__((aligned(64)));
static size_t hooks_boot_used;

/* 1 if p comes from the bootstrap arena (never given to the real allocator). */
static inline int
hooks_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)hooks_boot_arena < sizeof hooks_boot_arena;
}

/* Carve size bytes aligned to align (a power of two) from the arena; NULL, ENOMEM when full. */
static void *
hooks_boot_alloc(size_t align, size_t size)
{
	size_t	old, start, end;

	if (align < HOOKS_BOOT_HEADER)
		align = HOOKS_BOOT_HEADER;
	old = __atomic_load_n(&hooks_boot_used, __ATOMIC_RELAXED);
	do {
		start = (old + HOOKS_BOOT_HEADER + align - 1) & ~(align - 1);
		end = start + size;
		if (size > sizeof hooks_boot_arena || end > sizeof hooks_boot_arena) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!__atomic_compare_exchange_n(&hooks_boot_used, &old, end, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	/* The arena is static and never reused, so the block is already zero (calloc). */
	memcpy(hooks_boot_arena + start - sizeof size, &size, sizeof size);
	return hooks_boot_arena + start;
}

/* The size recorded in front of a bootstrap block. */
static size_t
hooks_boot_size(const void *p)
{
	size_t	size;

	memcpy(&size, (const char *)p - sizeof size, sizeof size);
	return size;
}

/* Look one symbol up in the objects after ours. */
static void *
hooks_next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* Fallbacks for entry points the next allocator lacks: fail as an allocator would. */
static void *
hooks_missing_2(size_t a, size_t b)
{
	(void)a;
	(void)b;
	errno = ENOMEM;
	return NULL;
}

/* A missing posix_memalign. */
static int
hooks_missing_posix_memalign(void **p, size_t a, size_t b)
{
	(void)p;
	(void)a;
	(void)b;
	return ENOMEM;
}

/* A missing valloc or pvalloc. */
static void *
hooks_missing_1(size_t a)
{
	(void)a;
	errno = ENOMEM;
	return NULL;
}

/* A missing reallocarray. */
static void *
hooks_missing_reallocarray(void *p, size_t a, size_t b)
{
	(void)p;
	(void)a;
	(void)b;
	errno = ENOMEM;
	return NULL;
}

/* A missing malloc_usable_size: unknown. */
static size_t
hooks_missing_usable_size(void *p)
{
	(void)p;
	return 0;
}

/* mmap without a libc wrapper. */
static void *
hooks_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	/* syscall() reads every argument as a long. */
	return (void *)syscall(SYS_mmap, addr, (long)len, (long)prot, (long)flags,
	    (long)fd, (long)off);
}

/* munmap without a libc wrapper. */
static int
hooks_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, (long)len);
}

/* mremap without a libc wrapper. */
static void *
hooks_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	va_list	 ap;
	void	*new_addr = NULL;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return (void *)syscall(SYS_mremap, old, (long)old_len, (long)new_len,
	    (long)flags, new_addr);
}

/*
 * Resolve every real function, once.  Called by the constructor and by the
 * first bootstrap stub that runs; a hook running in another thread
 * meanwhile is served by the arena.  Must not allocate itself (dlsym on
 * glibc 2.34+ does not; before, its allocations land in the arena).
 */
void
agent_hooks_resolve(void)
{
	int	expected = HOOKS_UNRESOLVED;
	void	*p;

	if (!__atomic_compare_exchange_n(&hooks_state, &expected, HOOKS_RESOLVING,
	    0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
		return;

#define HOOKS_RESOLVE(field, name, fallback) do {			\
	p = hooks_next(name);						\
	if (p != NULL)							\
		memcpy(&hooks_real.field, &p, sizeof p);		\
	else								\
		hooks_real.field = (fallback);				\
} while (0)
	HOOKS_RESOLVE(malloc, "malloc", __libc_malloc);
	HOOKS_RESOLVE(free, "free", __libc_free);
	HOOKS_RESOLVE(calloc, "calloc", __libc_calloc);
	HOOKS_RESOLVE(realloc, "realloc", __libc_realloc);
	HOOKS_RESOLVE(memalign, "memalign", __libc_memalign);
	HOOKS_RESOLVE(posix_memalign, "posix_memalign", hooks_missing_posix_memalign);
	HOOKS_RESOLVE(aligned_alloc, "aligned_alloc", hooks_missing_2);
	HOOKS_RESOLVE(valloc, "valloc", hooks_missing_1);
	HOOKS_RESOLVE(pvalloc, "pvalloc", hooks_missing_1);
	HOOKS_RESOLVE(reallocarray, "reallocarray", hooks_missing_reallocarray);
	HOOKS_RESOLVE(mmap, "mmap", hooks_sys_mmap);
	HOOKS_RESOLVE(mmap64, "mmap64", hooks_real.mmap);
	HOOKS_RESOLVE(munmap, "munmap", hooks_sys_munmap);
	HOOKS_RESOLVE(mremap, "mremap", hooks_sys_mremap);
	HOOKS_RESOLVE(usable_size, "malloc_usable_size", hooks_missing_usable_size);
#undef HOOKS_RESOLVE

	__atomic_store_n(&hooks_state, HOOKS_READY, __ATOMIC_RELEASE);
}

/* 1 once the real functions are known (resolving them now if nobody has). */
static int
hooks_boot_ready(void)
{
	if (__atomic_load_n(&hooks_state, __ATOMIC_ACQUIRE) == HOOKS_UNRESOLVED)
		agent_hooks_resolve();
	return __atomic_load_n(&hooks_state, __ATOMIC_ACQUIRE) == HOOKS_READY;
}

/* The usable size of a live block, from the real allocator (0 if unknown). */
size_t
agent_hooks_usable_size(void *p)
{
	if (hooks_boot_owns(p))
		return hooks_boot_size(p);
	return hooks_real.usable_size(p);
}

/* Bootstrap malloc. */
static void *
hooks_boot_malloc(size_t size)
{
	if (hooks_boot_ready())
		return hooks_real.malloc(size);
	return hooks_boot_alloc(16, size);
}

/* Bootstrap free: arena blocks are never freed. */
static void
hooks_boot_free(void *p)
{
	if (p == NULL || hooks_boot_owns(p))
		return;
	if (hooks_boot_ready())
		hooks_real.free(p);
}

/* Bootstrap calloc. */
static void *
hooks_boot_calloc(size_t n, size_t size)
{
	size_t	total;

	if (hooks_boot_ready())
		return hooks_real.calloc(n, size);
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hooks_boot_alloc(16, total);
}

/*
 * realloc before resolution, or of an arena block: an arena block moves to
 * a fresh block from the public malloc (recorded like any other) and is
 * never reused; realloc(arena block, 0) frees it, i.e. does nothing.
 */
static void *
hooks_boot_realloc(void *p, size_t size)
{
	void	*q;
	size_t	 old;

	if (!hooks_boot_owns(p)) {
		if (hooks_boot_ready())
			return hooks_real.realloc(p, size);
		if (p == NULL)
			return hooks_boot_alloc(16, size);
		/* A block from nowhere we know, before any allocator is known. */
		errno = ENOMEM;
		return NULL;
	}
	if (size == 0)
		return NULL;
	q = malloc(size);
	if (q != NULL) {
		old = hooks_boot_size(p);
		memcpy(q, p, old < size ? old : size);
	}
	return q;
}

/* Bootstrap posix_memalign. */
static int
hooks_boot_posix_memalign(void **pp, size_t align, size_t size)
{
	void	*p;

	if (hooks_boot_ready())
		return hooks_real.posix_memalign(pp, align, size);
	if (align == 0 || (align & (align - 1)) != 0 || align % sizeof (void *) != 0)
		return EINVAL;
	p = hooks_boot_alloc(align, size);
	if (p == NULL)
		return ENOMEM;
	*pp = p;
	return 0;
}

/* Bootstrap aligned_alloc. */
static void *
hooks_boot_aligned_alloc(size_t align, size_t size)
{
	if (hooks_boot_ready())
		return hooks_real.aligned_alloc(align, size);
	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return hooks_boot_alloc(align, size);
}

/* Bootstrap memalign. */
static void *
hooks_boot_memalign(size_t align, size_t size)
{
	if (hooks_boot_ready())
		return hooks_real.memalign(align, size);
	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return hooks_boot_alloc(align, size);
}

/* Bootstrap valloc. */
static void *
hooks_boot_valloc(size_t size)
{
	if (hooks_boot_ready())
		return hooks_real.valloc(size);
	return hooks_boot_alloc(4096, size);
}

/* Bootstrap pvalloc. */
static void *
hooks_boot_pvalloc(size_t size)
{
	if (hooks_boot_ready())
		return hooks_real.pvalloc(size);
	return hooks_boot_alloc(4096, (size + 4095) & ~(size_t)4095);
}

/* Bootstrap reallocarray. */
static void *
hooks_boot_reallocarray(void *p, size_t n, size_t size)
{
	size_t	total;

	if (hooks_boot_ready())
		return hooks_real.reallocarray(p, n, size);
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hooks_boot_realloc(p, total);
}

/* Bootstrap mmap: the system call itself until the next mmap is known. */
static void *
hooks_boot_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (hooks_boot_ready())
		return hooks_real.mmap(addr, len, prot, flags, fd, off);
	return hooks_sys_mmap(addr, len, prot, flags, fd, off);
}

/* Bootstrap munmap. */
static int
hooks_boot_munmap(void *addr, size_t len)
{
	if (hooks_boot_ready())
		return hooks_real.munmap(addr, len);
	return hooks_sys_munmap(addr, len);
}

/* Bootstrap mremap. */
static void *
hooks_boot_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	va_list	 ap;
	void	*new_addr = NULL;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (hooks_boot_ready())
		return hooks_real.mremap(old, old_len, new_len, flags, new_addr);
	return hooks_sys_mremap(old, old_len, new_len, flags, new_addr);
}

/* Bootstrap malloc_usable_size. */
static size_t
hooks_boot_usable_size(void *p)
{
	if (hooks_boot_ready())
		return hooks_real.usable_size(p);
	return 0;
}

/* 1 if a free or realloc of p has something to send (recorded, or exact mode). */
static inline int
hooks_maybe_recorded(void *p)
{
	int	mode = agent_mode_get();

	if (AGENT_LIKELY(mode == AGENT_MODE_SAMPLE))
		return p != NULL && agent_addrset_probe((uintptr_t)p);
	return mode == AGENT_MODE_EXACT && p != NULL;
}

/*
 * The address an exported hook returns to: the allocation's caller, which
 * the stack capture needs to know before it unwinds (see agent-stack.c).
 */
#define HOOKS_CALLER()	((uintptr_t)__builtin_return_address(0))

/* Round a mapping length up to whole pages, as the kernel does. */
static inline size_t
hooks_page_round(size_t len)
{
	return (len + agent_page_size - 1) & ~(agent_page_size - 1);
}

/* malloc: record after the real call. */
AGENT_EXPORT void *
malloc(size_t size)
{
	void	*p;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.malloc(size);
	agent_tls.guard = 1;
	p = hooks_real.malloc(size);
	if (AGENT_LIKELY(p != NULL) && agent_sample_due(size))
		agent_record_alloc_slow(p, size, WIRE_ALLOC_MALLOC, HOOKS_CALLER());
	agent_tls.guard = 0;
	return p;
}

/* free: a recorded block is sent before it goes back to the allocator. */
AGENT_EXPORT void
free(void *p)
{
	if (AGENT_UNLIKELY(hooks_boot_owns(p)))
		return;
	if (AGENT_UNLIKELY(agent_tls.guard)) {
		hooks_real.free(p);
		return;
	}
	agent_tls.guard = 1;
	if (AGENT_UNLIKELY(hooks_maybe_recorded(p)))
		agent_record_free_slow(p, WIRE_ALLOC_MALLOC);
	hooks_real.free(p);
	agent_tls.guard = 0;
}

/* calloc: n * size bytes, when that does not overflow (the real calloc then fails anyway). */
AGENT_EXPORT void *
calloc(size_t n, size_t size)
{
	void	*p;
	size_t	 total;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.calloc(n, size);
	agent_tls.guard = 1;
	p = hooks_real.calloc(n, size);
	if (AGENT_LIKELY(p != NULL) && !__builtin_mul_overflow(n, size, &total) &&
	    agent_sample_due(total))
		agent_record_alloc_slow(p, total, WIRE_ALLOC_CALLOC, HOOKS_CALLER());
	agent_tls.guard = 0;
	return p;
}

/*
 * The common body of realloc and reallocarray (array: call the real
 * reallocarray with n and m), size already computed.  A recorded block's
 * FREE goes out before the call; if the call fails with size > 0 the block
 * is still live and is announced again.  size 0 with p set frees p (glibc
 * returns NULL); another allocator may return a new minimal block, which
 * is then recorded like any allocation.
 */
static void *
hooks_realloc(void *p, size_t size, int array, size_t n, size_t m, uintptr_t caller)
{
	struct agent_live	 live;
	void			*q;
	int			 sent = 0;

	agent_tls.guard = 1;
	/* Beyond PTRDIFF_MAX the call fails before touching p: nothing to send. */
	if (size <= PTRDIFF_MAX && hooks_maybe_recorded(p))
		sent = agent_record_realloc_begin(p, &live);
	q = array ? hooks_real.reallocarray(p, n, m) : hooks_real.realloc(p, size);
	if (q == NULL) {
		if (sent && size != 0)
			agent_record_realloc_fail(p, &live);
	} else if (agent_sample_due(size))
		agent_record_alloc_slow(q, size, WIRE_ALLOC_REALLOC, caller);
	agent_tls.guard = 0;
	return q;
}

/* realloc: free(old) + alloc(new) when the old block was recorded. */
AGENT_EXPORT void *
realloc(void *p, size_t size)
{
	if (AGENT_UNLIKELY(hooks_boot_owns(p)))
		return hooks_boot_realloc(p, size);
	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.realloc(p, size);
	return hooks_realloc(p, size, 0, 0, 0, HOOKS_CALLER());
}

/* reallocarray: realloc of n * size bytes; an overflow fails in the real call, unrecorded. */
AGENT_EXPORT void *
reallocarray(void *p, size_t n, size_t size)
{
	size_t	total;

	if (__builtin_mul_overflow(n, size, &total)) {
		if (AGENT_UNLIKELY(hooks_boot_owns(p))) {
			errno = ENOMEM;
			return NULL;
		}
		return hooks_real.reallocarray(p, n, size);
	}
	if (AGENT_UNLIKELY(hooks_boot_owns(p)))
		return hooks_boot_realloc(p, total);
	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.reallocarray(p, n, size);
	return hooks_realloc(p, total, 1, n, size, HOOKS_CALLER());
}

/* posix_memalign: returns an error code and leaves errno alone. */
AGENT_EXPORT int
posix_memalign(void **pp, size_t align, size_t size)
{
	int	error;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.posix_memalign(pp, align, size);
	agent_tls.guard = 1;
	error = hooks_real.posix_memalign(pp, align, size);
	if (error == 0 && *pp != NULL && agent_sample_due(size))
		agent_record_alloc_slow(*pp, size, WIRE_ALLOC_MEMALIGN, HOOKS_CALLER());
	agent_tls.guard = 0;
	return error;
}

/* The common body of aligned_alloc and memalign. */
static void *
hooks_aligned(void *(*fn)(size_t, size_t), size_t align, size_t size, uintptr_t caller)
{
	void	*p;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return fn(align, size);
	agent_tls.guard = 1;
	p = fn(align, size);
	if (p != NULL && agent_sample_due(size))
		agent_record_alloc_slow(p, size, WIRE_ALLOC_MEMALIGN, caller);
	agent_tls.guard = 0;
	return p;
}

/* aligned_alloc (C11). */
AGENT_EXPORT void *
aligned_alloc(size_t align, size_t size)
{
	return hooks_aligned(hooks_real.aligned_alloc, align, size, HOOKS_CALLER());
}

/* memalign (obsolete, still used). */
AGENT_EXPORT void *
memalign(size_t align, size_t size)
{
	return hooks_aligned(hooks_real.memalign, align, size, HOOKS_CALLER());
}

/* valloc: page-aligned, the requested size. */
AGENT_EXPORT void *
valloc(size_t size)
{
	void	*p;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.valloc(size);
	agent_tls.guard = 1;
	p = hooks_real.valloc(size);
	if (p != NULL && agent_sample_due(size))
		agent_record_alloc_slow(p, size, WIRE_ALLOC_MEMALIGN, HOOKS_CALLER());
	agent_tls.guard = 0;
	return p;
}

/* pvalloc (glibc): recorded as what it allocates, whole pages (one for size 0). */
AGENT_EXPORT void *
pvalloc(size_t size)
{
	void	*p;
	size_t	 rounded;

	if (AGENT_UNLIKELY(agent_tls.guard))
		return hooks_real.pvalloc(size);
	agent_tls.guard = 1;
	p = hooks_real.pvalloc(size);
	rounded = size == 0 ? agent_page_size : hooks_page_round(size);
	if (p != NULL && agent_sample_due(rounded))
		agent_record_alloc_slow(p, rounded, WIRE_ALLOC_MEMALIGN, HOOKS_CALLER());
	agent_tls.guard = 0;
	return p;
}

/*
 * The common body of mmap and mmap64.  MAP_FIXED replaces whatever was
 * mapped there: that is an unmap, sent before the call.  Only anonymous,
 * accessible mappings are allocations (see agent-maps.c), page-rounded.
 */
static void *
hooks_mmap(void *(*fn)(void *, size_t, int, int, int, off_t), void *addr,
    size_t len, int prot, int flags, int fd, off_t off, uintptr_t caller)
{
	uint32_t	 guard = agent_tls.guard;
	size_t		 rounded = hooks_page_round(len);
	void		*p;

	agent_tls.guard = 1;
	/* A recorded range going away is sent even under the guard (see munmap). */
	if ((flags & MAP_FIXED) && agent_mode_get() != AGENT_MODE_OFF && !agent_maps_empty())
		agent_record_unmap_range((uintptr_t)addr, rounded, guard != 0);
	p = fn(addr, len, prot, flags, fd, off);
	if (!guard && p != MAP_FAILED && (flags & MAP_ANONYMOUS) && prot != PROT_NONE &&
	    agent_sample_due(rounded))
		agent_record_alloc_slow(p, rounded, WIRE_ALLOC_MMAP, caller);
	agent_tls.guard = guard;
	return p;
}

/* mmap. */
AGENT_EXPORT void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return hooks_mmap(hooks_real.mmap, addr, len, prot, flags, fd, off, HOOKS_CALLER());
}

/* mmap64: the same function on 64-bit glibc, exported under its own name. */
AGENT_EXPORT void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return hooks_mmap(hooks_real.mmap64, addr, len, prot, flags, fd, off,
	    HOOKS_CALLER());
}

/*
 * munmap: the range (possibly part of a recorded mapping) is sent before the
 * call, if it overlaps one; arguments the kernel would reject send nothing.
 * Unlike recording an allocation, this is done under the guard too: a
 * recorded range that goes away must be sent whoever unmaps it (pymalloc
 * arenas recorded before agent-pymem.c wrapped them are freed from inside
 * its guarded wrapper).  An unrecorded range costs one load.
 */
AGENT_EXPORT int
munmap(void *addr, size_t len)
{
	uint32_t	guard = agent_tls.guard;
	int		r;

	agent_tls.guard = 1;
	if (agent_mode_get() != AGENT_MODE_OFF && !agent_maps_empty() && len != 0 &&
	    ((uintptr_t)addr & (agent_page_size - 1)) == 0)
		agent_record_unmap_range((uintptr_t)addr, hooks_page_round(len), guard != 0);
	r = hooks_real.munmap(addr, len);
	agent_tls.guard = guard;
	return r;
}

/*
 * mremap: only a recorded mapping matters: its old range is unmapped
 * before the call and the outcome inherits its record (agent-record.c).
 * MREMAP_FIXED replaces whatever was at the target, like MAP_FIXED.
 */
AGENT_EXPORT void *
mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct agent_map	 m;
	va_list			 ap;
	void			*new_addr = NULL, *q;
	uint32_t		 guard;
	int			 have = 0, saved;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	/* As munmap: a recorded mapping is followed even under the guard. */
	guard = agent_tls.guard;
	agent_tls.guard = 1;
	/* Nested with the registry busy (a signal handler, see agent_maps_busy): not followed. */
	if (agent_mode_get() != AGENT_MODE_OFF && !agent_maps_empty() &&
	    (guard == 0 || !agent_maps_busy())) {
		have = agent_maps_find((uintptr_t)old, &m);
		if (flags & MREMAP_FIXED)
			agent_record_unmap_range((uintptr_t)new_addr,
			    hooks_page_round(new_len), 0);
	}
	if (have)
		agent_record_remap_begin((uintptr_t)old, old_len);
	q = hooks_real.mremap(old, old_len, new_len, flags, new_addr);
	if (have) {
		saved = errno;
		agent_record_remap_end((uintptr_t)old, old_len,
		    q != MAP_FAILED ? (uintptr_t)q : 0, new_len, &m);
		errno = saved;
	}
	agent_tls.guard = guard;
	return q;
}
