/*
 * agent-pymem.c: wraps Python's own allocator domains and marks the end of
 * the program's code, from a context that holds the GIL.
 *
 * pymalloc serves most Python objects from 1 MiB (256 KiB before 3.10)
 * arenas that it maps itself, so the malloc hooks alone see arenas, not
 * objects.  Once the interpreter is initialized, agent_pymem_maybe_install
 * (called from the recorder's slow path, inside a hook) schedules
 * pymem_install once with Py_AddPendingCall, the one CPython entry point
 * that any thread may call without the GIL.  The main thread runs it soon
 * after, between two bytecodes, holding the GIL.  It then:
 *  - wraps PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ after asking which
 *    allocator they run on: each wrapper calls the saved original and
 *    records the block, under the agent guard whenever the original may
 *    call malloc underneath (pymalloc's fallback for large blocks, or any
 *    other allocator), so that nothing is counted twice; in sampling mode
 *    free stays the interpreter's own (see the wrappers).  The RAW domain
 *    is malloc itself, which the hooks already see;
 *  - wraps the arena allocator so that arena mmaps run under the guard and
 *    are not counted as mappings on top of the objects in them;
 *  - registers a builtin function with the atexit module.  atexit runs
 *    handlers last-in first-out, so it runs after every handler registered
 *    later, which is all of the program's own when the recorder calls us on
 *    its first slow path after start-up (exact mode); it runs after
 *    non-daemon threads were joined and before modules are torn down: "the
 *    program's own code has finished" (agent_record_exit);
 *  - announces the interpreter (agent_record_python).
 * Every C-API function is resolved with dlsym: the agent does not link
 * libpython.  On any failure the program runs on untouched, no exception is
 * left set and nothing is printed.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent.h"
#include "agent-core.h"

/* pymalloc serves requests up to 512 bytes itself (SMALL_REQUEST_THRESHOLD, 3.8-3.13). */
#define PYMEM_SMALL_REQUEST	512

/* Opaque PyObject. */
struct pymem_object;

/* PyMemAllocatorEx, unchanged since 3.5. */
struct pymem_allocator {
	void	*ctx;
	void	*(*malloc)(void *ctx, size_t size);
	void	*(*calloc)(void *ctx, size_t nelem, size_t elsize);
	void	*(*realloc)(void *ctx, void *ptr, size_t new_size);
	void	(*free)(void *ctx, void *ptr);
};

/* PyObjectArenaAllocator, unchanged since 3.4. */
struct pymem_arena_allocator {
	void	*ctx;
	void	*(*alloc)(void *ctx, size_t size);
	void	(*free)(void *ctx, void *ptr, size_t size);
};

/* PyMethodDef, part of the stable ABI. */
struct pymem_method_def {
	const char	*ml_name;
	void		*ml_meth;
	int		 ml_flags;
	const char	*ml_doc;
};

/* PyMemAllocatorDomain values (stable since 3.4). */
#define PYMEM_DOMAIN_MEM	1
#define PYMEM_DOMAIN_OBJ	2

/* METH_NOARGS from methodobject.h. */
#define PYMEM_METH_NOARGS	0x0004

/*
 * 3.8 only: offsetof(_PyRuntimeState, ceval.pending.finishing), printed by
 * tests/agent-python/gen-offsets.sh.  3.8's Py_AddPendingCall prints an
 * error when called while finalization runs the atexit handlers, which
 * neither Py_IsInitialized nor _Py_IsFinalizing reveal; 3.9 dropped it.
 */
#define PYMEM_FINISHING_3_8	600

/*
 * One wrapped domain: the original allocator, saved at the first install,
 * what we installed over it, how its blocks are tagged, and the least size
 * a sampled block is asked of the original (see the wrappers below).
 */
struct pymem_domain {
	int			domain;
	enum wire_allocator	allocator;
	struct pymem_allocator	orig;
	struct pymem_allocator	installed;
	size_t			sampled_min;
};

/*
 * A domain's two wrapper sets: the fast one over pymalloc when sampling,
 * the guarded one in exact mode or over any other allocator.  ctx is
 * filled in with the original's.
 */
struct pymem_wrappers {
	struct pymem_allocator	fast;
	struct pymem_allocator	guarded;
};

/* The interpreter's allocator at the first install (_PyMem_GetCurrentAllocatorName). */
enum pymem_family {
	PYMEM_PYMALLOC,		/* "pymalloc": the default */
	PYMEM_MALLOC,		/* "malloc": PYTHONMALLOC=malloc, libc underneath */
	PYMEM_OTHER,		/* debug hooks, mimalloc, tracemalloc, an embedder's */
};

/* The C API, resolved once with dlsym. */
struct pymem_api {
	int			(*is_initialized)(void);
	int			(*is_finalizing)(void);		/* may be NULL */
	int			(*add_pending_call)(int (*)(void *), void *);
	void			(*get_allocator)(int, struct pymem_allocator *);
	void			(*set_allocator)(int, struct pymem_allocator *);
	void			(*get_arena)(struct pymem_arena_allocator *);
	void			(*set_arena)(struct pymem_arena_allocator *);
	struct pymem_object	*(*import_module)(const char *);
	struct pymem_object	*(*get_attr)(struct pymem_object *, const char *);
	struct pymem_object	*(*call_args)(struct pymem_object *, ...);
	struct pymem_object	*(*new_cfunction)(struct pymem_method_def *,
				    struct pymem_object *, struct pymem_object *);
	void			(*incref)(struct pymem_object *);
	void			(*decref)(struct pymem_object *);
	void			(*err_fetch)(struct pymem_object **,
				    struct pymem_object **, struct pymem_object **);
	void			(*err_restore)(struct pymem_object *,
				    struct pymem_object *, struct pymem_object *);
	void			(*err_clear)(void);
	const char		*(*allocator_name)(void);	/* may be NULL */
	struct pymem_object	*none;
	const char		*runtime;	/* &_PyRuntime, for 3.8 */
	uint32_t		 hexversion;
};

static struct pymem_api			pymem_api;
_Atomic int				agent_pymem_state = AGENT_PYMEM_IDLE;
static bool				pymem_resolved;
static enum pymem_family		pymem_family = PYMEM_OTHER;
static struct pymem_domain		pymem_mem = {
	.domain = PYMEM_DOMAIN_MEM, .allocator = WIRE_ALLOC_PYMEM
};
static struct pymem_domain		pymem_obj = {
	.domain = PYMEM_DOMAIN_OBJ, .allocator = WIRE_ALLOC_PYOBJECT
};
static struct pymem_arena_allocator	pymem_arena_orig, pymem_arena_installed;

static struct pymem_object	*pymem_on_exit(struct pymem_object *,
				    struct pymem_object *);

/* The atexit handler; static because CPython keeps a pointer to it. */
static struct pymem_method_def	pymem_exit_def = {
	"memprof_program_exit", (void *)pymem_on_exit, PYMEM_METH_NOARGS,
	"memprof: the program's own code has finished"
};

/*
 * The wrappers are split in two: a fast path of a few instructions that
 * only calls the original (the countdown is taken before the call, so the
 * call is a tail call and the fast path saves no register), and out-of-line
 * paths for everything that records.  A sample point reached by a request
 * that then fails is simply not recorded: failures are rare and the next
 * draw starts afresh, so the estimate stays unbiased for the requests that
 * succeed.  The fast path serves the hot case of every Python object in
 * sampling mode: a small request served from a pymalloc pool without
 * reaching malloc (new arenas go through the wrapped arena allocator, which
 * guards itself), so no guard is needed around it, and an unsampled one
 * costs a TLS countdown and nothing else.  It is installed only over
 * pymalloc, and only when sampling: any other allocator may call malloc for
 * small requests, whose hook would count them again, so the others get the
 * guarded slow paths, and so does exact mode, which records every call.
 *
 * free is not wrapped at all in sampling mode over pymalloc (or over
 * PYTHONMALLOC=malloc): the interpreter keeps its own free, and with it the
 * fast path that a PGO build inlines into its callers behind a test that the
 * allocator is still the default.  The blocks memprof must see leave are
 * the sampled ones, and a sampled small request is asked of pymalloc with a
 * size above its small-request limit, so pymalloc serves it from malloc and
 * its free goes through PyMem_RawFree to free(), whose hook sends it.  (A
 * sampled block is one in about 64 KiB / its size: the padding costs
 * under 1% of memory.)  The blocks a profiler run keeps count of stay the
 * same.  Exact mode, and any other allocator, keep the wrapped free.
 */

/* Per-domain functions: the domain is a constant, so ctx passes through untouched. */
#define PYMEM_DOMAIN_WRAPPERS(name, dom)					\
static void *								\
pymem_##name##_malloc(void *ctx, size_t size)				\
{									\
	return pymem_malloc(&dom, ctx, size);				\
}									\
static void *								\
pymem_##name##_calloc(void *ctx, size_t nelem, size_t elsize)		\
{									\
	return pymem_calloc(&dom, ctx, nelem, elsize);			\
}									\
static void *								\
pymem_##name##_realloc(void *ctx, void *ptr, size_t size)		\
{									\
	return pymem_realloc(&dom, ctx, ptr, size);			\
}									\
static void								\
pymem_##name##_free(void *ctx, void *ptr)				\
{									\
	pymem_free(&dom, ctx, ptr);					\
}									\
static void *								\
pymem_##name##_malloc_guarded(void *ctx, size_t size)			\
{									\
	(void)ctx;							\
	return pymem_malloc_slow(&dom, size);				\
}									\
static void *								\
pymem_##name##_calloc_guarded(void *ctx, size_t nelem, size_t elsize)	\
{									\
	(void)ctx;							\
	return pymem_calloc_slow(&dom, nelem, elsize);			\
}									\
static void *								\
pymem_##name##_realloc_guarded(void *ctx, void *ptr, size_t size)	\
{									\
	(void)ctx;							\
	return pymem_realloc_slow(&dom, ptr, size);			\
}									\
static const struct pymem_wrappers pymem_##name##_wrappers = {		\
	.fast = { NULL, pymem_##name##_malloc, pymem_##name##_calloc,	\
	    pymem_##name##_realloc, pymem_##name##_free },		\
	.guarded = { NULL, pymem_##name##_malloc_guarded,		\
	    pymem_##name##_calloc_guarded, pymem_##name##_realloc_guarded,\
	    pymem_##name##_free },					\
};

/*
 * The record of a sampled small block p (NULL: the request failed), and
 * the end of the guard its request ran under: the original may have called
 * malloc for it (see sampled_min), whose hook must not count it again.
 * Keeps errno.
 */
static void AGENT_COLD
pymem_sample_done(void *p, size_t size, enum wire_allocator allocator, uintptr_t caller)
{
	int	saved = errno;

	if (p != NULL)
		agent_record_alloc_slow(p, size, allocator, caller);
	agent_leave();
	errno = saved;
}

/*
 * Whether a request may take the fast path: a small one.  The fast
 * wrappers are installed only in sampling mode (pymem_wrap_domain), and
 * neither the mode nor the guard is tested here, on every Python object:
 * the sample points test both (pymem_sample_point).  Inside the agent, or
 * once the recorder has stopped, a request the countdown lets through is
 * simply the original's, as it would be on the slow path; a recorder that
 * stopped parks the countdown, and one reached in exact mode (the moment
 * between a new attach and the rewrap) takes the slow path, which records.
 */
static inline bool
pymem_fast(size_t size)
{
	return AGENT_LIKELY(size <= PYMEM_SMALL_REQUEST);
}

/* At a sample point of the fast path: record it?  Sampling mode, outside the agent. */
static inline bool
pymem_sample_point(void)
{
	return !agent_tls.guard && agent_mode_get() == AGENT_MODE_SAMPLE;
}

/* The size to ask of the original for a sampled request of size bytes. */
static inline size_t
pymem_sampled_size(const struct pymem_domain *d, size_t size)
{
	return size < d->sampled_min ? d->sampled_min : size;
}

/*
 * malloc's slow path: the original, recorded under the guard.  The slow
 * paths leave errno to agent_record_*, which keep it (agent.h): saving it
 * here as well cost two more __errno_location calls on every event of
 * exact mode.
 */
static void * AGENT_NOINLINE
pymem_malloc_slow(struct pymem_domain *d, size_t size)
{
	void	*p;

	if (!agent_enter())
		return d->orig.malloc(d->orig.ctx, size);
	p = d->orig.malloc(d->orig.ctx, size);
	if (p != NULL)
		agent_record_alloc(p, size, d->allocator);
	agent_leave();
	return p;
}

/* malloc at a sample point of the fast path: the original, then the record. */
static void * AGENT_COLD
pymem_malloc_sampled(struct pymem_domain *d, size_t size)
{
	void	*p;

	if (!pymem_sample_point() || !agent_enter())
		return pymem_malloc_slow(d, size);
	p = d->orig.malloc(d->orig.ctx, pymem_sampled_size(d, size));
	pymem_sample_done(p, size, d->allocator, (uintptr_t)__builtin_return_address(0));
	return p;
}

static inline __attribute__((always_inline)) void *
pymem_malloc(struct pymem_domain *d, void *ctx, size_t size)
{
#ifdef MEMPROF_BENCH_FLOOR
	return d->orig.malloc(ctx, size);	/* bench/floor.sh: the floor of any wrapper */
#endif
	if (pymem_fast(size)) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.malloc(ctx, size);
		return pymem_malloc_sampled(d, size);
	}
	return pymem_malloc_slow(d, size);
}

/* calloc's slow path: as malloc's; the original rejects overflows. */
static void * AGENT_NOINLINE
pymem_calloc_slow(struct pymem_domain *d, size_t nelem, size_t elsize)
{
	void	*p;

	if (!agent_enter())
		return d->orig.calloc(d->orig.ctx, nelem, elsize);
	p = d->orig.calloc(d->orig.ctx, nelem, elsize);
	if (p != NULL)
		agent_record_alloc(p, nelem * elsize, d->allocator);
	agent_leave();
	return p;
}

/* calloc at a sample point of the fast path (nelem * elsize does not overflow). */
static void * AGENT_COLD
pymem_calloc_sampled(struct pymem_domain *d, size_t nelem, size_t elsize)
{
	size_t	 size = nelem * elsize;
	void	*p;

	if (!pymem_sample_point() || !agent_enter())
		return pymem_calloc_slow(d, nelem, elsize);
	p = d->orig.calloc(d->orig.ctx, 1, pymem_sampled_size(d, size));
	pymem_sample_done(p, size, d->allocator, (uintptr_t)__builtin_return_address(0));
	return p;
}

static inline __attribute__((always_inline)) void *
pymem_calloc(struct pymem_domain *d, void *ctx, size_t nelem, size_t elsize)
{
	size_t	size;

#ifdef MEMPROF_BENCH_FLOOR
	return d->orig.calloc(ctx, nelem, elsize);	/* bench/floor.sh: the floor of any wrapper */
#endif
	if (!__builtin_mul_overflow(nelem, elsize, &size) && pymem_fast(size)) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.calloc(ctx, nelem, elsize);
		return pymem_calloc_sampled(d, nelem, elsize);
	}
	return pymem_calloc_slow(d, nelem, elsize);
}

/*
 * realloc's slow path.  The free of the old block is recorded before the
 * original runs, because the old address may be handed to another thread
 * as soon as it returns (wire.h: a free is reserved before the block goes
 * back to the allocator).  CPython's realloc(p, 0) returns a valid block,
 * recorded with size 0.  If the original fails the old block stays
 * allocated but untracked: its size is not known here.  A block that is
 * not pymalloc's stays outside pymalloc when resized, so a sampled block
 * keeps being freed through free() (see above).
 */
static void * AGENT_NOINLINE
pymem_realloc_slow(struct pymem_domain *d, void *ptr, size_t size)
{
	void	*p;

	if (!agent_enter())
		return d->orig.realloc(d->orig.ctx, ptr, size);
	if (ptr != NULL)
		agent_record_free(ptr, d->allocator);
	p = d->orig.realloc(d->orig.ctx, ptr, size);
	if (p != NULL)
		agent_record_alloc(p, size, d->allocator);
	agent_leave();
	return p;
}

/* realloc of an unrecorded block at a sample point of the fast path. */
static void * AGENT_COLD
pymem_realloc_sampled(struct pymem_domain *d, void *ptr, size_t size)
{
	void	*p;

	if (!pymem_sample_point() || !agent_enter())
		return pymem_realloc_slow(d, ptr, size);
	p = d->orig.realloc(d->orig.ctx, ptr, pymem_sampled_size(d, size));
	pymem_sample_done(p, size, d->allocator, (uintptr_t)__builtin_return_address(0));
	return p;
}

/*
 * realloc.  An unsampled block resized within pymalloc's range (strings
 * being built, lists growing) has nothing to send for the old block, and
 * the new one takes the same sampling decision as a malloc.  A larger size
 * may reach malloc, which needs the guard: the slow path.
 */
static inline __attribute__((always_inline)) void *
pymem_realloc(struct pymem_domain *d, void *ctx, void *ptr, size_t size)
{
#ifdef MEMPROF_BENCH_FLOOR
	return d->orig.realloc(ctx, ptr, size);	/* bench/floor.sh: the floor of any wrapper */
#endif
	if (pymem_fast(size) && (ptr == NULL || !agent_addrset_probe((uintptr_t)ptr))) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.realloc(ctx, ptr, size);
		return pymem_realloc_sampled(d, ptr, size);
	}
	return pymem_realloc_slow(d, ptr, size);
}

/* free's slow path: recorded before the block goes back. */
static void AGENT_NOINLINE
pymem_free_slow(struct pymem_domain *d, void *ptr)
{
	if (ptr == NULL || !agent_enter()) {
		d->orig.free(d->orig.ctx, ptr);
		return;
	}
	agent_record_free(ptr, d->allocator);
	d->orig.free(d->orig.ctx, ptr);
	agent_leave();
}

/*
 * The wrapped free (exact mode, other allocators): a block that was not
 * sampled costs one filter load.  No guard test here: a free inside the
 * agent of a block the filter clears needs nothing recorded anyway, and any
 * other goes to the slow path, which does not record under the guard.
 */
static inline __attribute__((always_inline)) void
pymem_free(struct pymem_domain *d, void *ctx, void *ptr)
{
	if (AGENT_LIKELY(agent_mode_get() == AGENT_MODE_SAMPLE &&
	    !agent_addrset_probe((uintptr_t)ptr))) {
		d->orig.free(ctx, ptr);
		return;
	}
	pymem_free_slow(d, ptr);
}

PYMEM_DOMAIN_WRAPPERS(mem, pymem_mem)
PYMEM_DOMAIN_WRAPPERS(obj, pymem_obj)

/* pymalloc's arena mmap, run under the guard so the mmap hook skips it. */
static void *
pymem_wrap_arena_alloc(void *ctx, size_t size)
{
	int	entered = agent_enter();
	void	*p;

	(void)ctx;
	p = pymem_arena_orig.alloc(pymem_arena_orig.ctx, size);
	if (entered) {
		int	saved = errno;

		agent_leave();
		errno = saved;
	}
	return p;
}

/* pymalloc's arena munmap, under the guard: the arena was never recorded. */
static void
pymem_wrap_arena_free(void *ctx, void *ptr, size_t size)
{
	int	entered = agent_enter();

	(void)ctx;
	pymem_arena_orig.free(pymem_arena_orig.ctx, ptr, size);
	if (entered)
		agent_leave();
}

/* The atexit handler: returns None (a new reference), never fails. */
static struct pymem_object *
pymem_on_exit(struct pymem_object *self, struct pymem_object *unused)
{
	(void)self;
	(void)unused;
	if (agent_enter()) {
		agent_record_exit();
		agent_leave();
	}
	pymem_api.incref(pymem_api.none);
	return pymem_api.none;
}

/* Where each symbol of struct pymem_api goes; all are required. */
static const struct {
	const char	*name;
	size_t		 offset;
} pymem_symbols[] = {
	{ "Py_IsInitialized", offsetof(struct pymem_api, is_initialized) },
	{ "Py_AddPendingCall", offsetof(struct pymem_api, add_pending_call) },
	{ "PyMem_GetAllocator", offsetof(struct pymem_api, get_allocator) },
	{ "PyMem_SetAllocator", offsetof(struct pymem_api, set_allocator) },
	{ "PyObject_GetArenaAllocator", offsetof(struct pymem_api, get_arena) },
	{ "PyObject_SetArenaAllocator", offsetof(struct pymem_api, set_arena) },
	{ "PyImport_ImportModule", offsetof(struct pymem_api, import_module) },
	{ "PyObject_GetAttrString", offsetof(struct pymem_api, get_attr) },
	{ "PyObject_CallFunctionObjArgs", offsetof(struct pymem_api, call_args) },
	{ "PyCFunction_NewEx", offsetof(struct pymem_api, new_cfunction) },
	{ "Py_IncRef", offsetof(struct pymem_api, incref) },
	{ "Py_DecRef", offsetof(struct pymem_api, decref) },
	{ "PyErr_Fetch", offsetof(struct pymem_api, err_fetch) },
	{ "PyErr_Restore", offsetof(struct pymem_api, err_restore) },
	{ "PyErr_Clear", offsetof(struct pymem_api, err_clear) },
	{ "_Py_NoneStruct", offsetof(struct pymem_api, none) },
	{ "_PyRuntime", offsetof(struct pymem_api, runtime) },
};

/*
 * Resolves the API once; false if anything we need is missing.  Every
 * name exists in 3.8-3.13, and a failed dlsym would allocate its message.
 * Stores through void * slots: POSIX makes dlsym results convertible to
 * function pointers of the same representation.
 */
static bool
pymem_resolve(struct pymem_api *a)
{
	size_t	i;
	void	*sym;

	if ((a->hexversion = agent_python_detect()) == 0)
		return false;
	for (i = 0; i < sizeof pymem_symbols / sizeof pymem_symbols[0]; i++) {
		if ((sym = dlsym(RTLD_DEFAULT, pymem_symbols[i].name)) == NULL)
			return false;
		memcpy((char *)a + pymem_symbols[i].offset, &sym, sizeof sym);
	}
	/* 3.13 made it public and dropped the private name. */
	sym = dlsym(RTLD_DEFAULT, a->hexversion >= 0x030d0000 ?
	    "Py_IsFinalizing" : "_Py_IsFinalizing");
	memcpy(&a->is_finalizing, &sym, sizeof sym);
	/* Private but exported by every version 3.8-3.13. */
	sym = dlsym(RTLD_DEFAULT, "_PyMem_GetCurrentAllocatorName");
	memcpy(&a->allocator_name, &sym, sizeof sym);
	return true;
}

/* True once the interpreter runs and is not finalizing: pending calls are safe. */
static bool
pymem_interpreter_running(const struct pymem_api *a)
{
	if (!a->is_initialized())
		return false;
	if (a->is_finalizing != NULL && a->is_finalizing())
		return false;
	if ((a->hexversion >> 16) == 0x0308 &&
	    *(const volatile int *)(a->runtime + PYMEM_FINISHING_3_8) != 0)
		return false;
	return true;
}

/* Which allocator the interpreter runs on, asked before anything is wrapped. */
static enum pymem_family
pymem_detect_family(void)
{
	const char	*name = pymem_api.allocator_name != NULL ?
	    pymem_api.allocator_name() : NULL;

	if (name != NULL && strcmp(name, "pymalloc") == 0)
		return PYMEM_PYMALLOC;
	if (name != NULL && strcmp(name, "malloc") == 0)
		return PYMEM_MALLOC;
	return PYMEM_OTHER;
}

/*
 * Wraps one domain over d->orig, for the current mode: the fast wrappers
 * over pymalloc when sampling, the guarded ones (every call recorded, or
 * another allocator underneath) otherwise; free left to the original
 * when it reaches free() for every sampled block (see the wrappers).
 */
static void
pymem_wrap_domain(struct pymem_domain *d, const struct pymem_wrappers *w)
{
	bool	own_free = agent_mode_get() == AGENT_MODE_SAMPLE &&
	    pymem_family != PYMEM_OTHER;

	d->installed = pymem_family == PYMEM_PYMALLOC &&
	    agent_mode_get() == AGENT_MODE_SAMPLE ? w->fast : w->guarded;
	d->installed.ctx = d->orig.ctx;
	d->sampled_min = 0;
	if (own_free) {
		d->installed.free = d->orig.free;
		if (pymem_family == PYMEM_PYMALLOC)
			d->sampled_min = PYMEM_SMALL_REQUEST + 1;
	}
	pymem_api.set_allocator(d->domain, &d->installed);
}

/* Wraps the arena allocator, unless it has no functions (some embedders). */
static void
pymem_wrap_arena(void)
{
	pymem_arena_installed = (struct pymem_arena_allocator){
		.ctx = NULL,
		.alloc = pymem_wrap_arena_alloc,
		.free = pymem_wrap_arena_free,
	};
	if (pymem_arena_orig.alloc == NULL || pymem_arena_orig.free == NULL)
		return;
	pymem_api.set_arena(&pymem_arena_installed);
}

/* Both domains and the arena allocator, over the saved originals. */
static void
pymem_wrap_all(void)
{
	pymem_wrap_domain(&pymem_mem, &pymem_mem_wrappers);
	pymem_wrap_domain(&pymem_obj, &pymem_obj_wrappers);
	pymem_wrap_arena();
}

/* atexit.register(memprof_program_exit); false (no exception left) on failure. */
static bool
pymem_register_exit(void)
{
	struct pymem_object	*atexit_mod, *reg = NULL, *fn = NULL, *res = NULL;

	if ((atexit_mod = pymem_api.import_module("atexit")) != NULL &&
	    (reg = pymem_api.get_attr(atexit_mod, "register")) != NULL &&
	    (fn = pymem_api.new_cfunction(&pymem_exit_def, NULL, NULL)) != NULL)
		res = pymem_api.call_args(reg, fn, (struct pymem_object *)NULL);
	if (res == NULL)
		pymem_api.err_clear();
	pymem_api.decref(res);
	pymem_api.decref(fn);
	pymem_api.decref(reg);
	pymem_api.decref(atexit_mod);
	return res != NULL;
}

/*
 * pymalloc's arenas mapped before the wrappers were installed (interpreter
 * start-up) were recorded as anonymous mmaps, and the objects pymalloc
 * serves from them from now on are recorded through the domains: the same
 * bytes twice, and a "leak" that never goes away, since the arena hooks
 * guard their munmap.  Forget them (an UNMAP to the controller) by their
 * size, which is fixed per version: 256 KiB before 3.10, 1 MiB since
 * (USE_LARGE_ARENAS on 64-bit).  Before the first pending call nothing
 * else in the process maps anonymous memory of exactly that size.
 */
static void
pymem_forget_early_arenas(void)
{
	uintptr_t	addrs[64];
	uint64_t	len;
	size_t		i, n;

	len = pymem_api.hexversion >= 0x030a0000 ? 1ULL << 20 : 256ULL << 10;
	n = agent_maps_with_len(len, addrs, sizeof addrs / sizeof addrs[0]);
	for (i = 0; i < n; i++)
		agent_record_unmap_range(addrs[i], len, 0);
}

/*
 * The pending call: runs on the main thread with the GIL held.  Whatever
 * exception was set when it started is set again when it returns, and it
 * always returns 0 so the interpreter never sees a failure from it.
 */
static int
pymem_install(void *arg)
{
	struct pymem_object	*type, *value, *tb;
	uint32_t		 flags = WIRE_PYTHON_PYMEM;

	(void)arg;
	pymem_api.err_fetch(&type, &value, &tb);
	pymem_family = pymem_detect_family();
	pymem_api.get_allocator(PYMEM_DOMAIN_MEM, &pymem_mem.orig);
	pymem_api.get_allocator(PYMEM_DOMAIN_OBJ, &pymem_obj.orig);
	pymem_api.get_arena(&pymem_arena_orig);
	pymem_wrap_all();
	pymem_register_exit();
	pymem_api.err_restore(type, value, tb);
	if (agent_python_is_static())
		flags |= WIRE_PYTHON_STATIC;
	if (agent_enter()) {
		if (pymem_arena_orig.alloc != NULL)
			pymem_forget_early_arenas();
		agent_record_python(pymem_api.hexversion, flags);
		agent_leave();
	}
	atomic_store_explicit(&agent_pymem_state, AGENT_PYMEM_DONE, memory_order_release);
	return 0;
}

/* See agent.h.  Cheap (one atomic load) once scheduled or impossible. */
void
agent_pymem_maybe_install(void)
{
	int	expected = AGENT_PYMEM_IDLE;

	if (atomic_load_explicit(&agent_pymem_state, memory_order_relaxed) != AGENT_PYMEM_IDLE)
		return;
	if (agent_python_detect() == 0)
		return;
	if (!atomic_compare_exchange_strong(&agent_pymem_state, &expected, AGENT_PYMEM_BUSY))
		return;
	if (!pymem_resolved) {
		pymem_resolved = true;
		if (!pymem_resolve(&pymem_api)) {
			atomic_store_explicit(&agent_pymem_state, AGENT_PYMEM_OFF,
			    memory_order_release);
			return;
		}
	}
	if (!pymem_interpreter_running(&pymem_api)) {
		atomic_store_explicit(&agent_pymem_state, AGENT_PYMEM_IDLE, memory_order_release);
		return;
	}
	/*
	 * SCHEDULED before the call: the main thread may run pymem_install,
	 * which stores DONE, before Py_AddPendingCall returns here.  A full
	 * queue (-1) is retried on a later slow path.
	 */
	atomic_store_explicit(&agent_pymem_state, AGENT_PYMEM_SCHEDULED, memory_order_release);
	if (pymem_api.add_pending_call(pymem_install, NULL) != 0)
		atomic_store_explicit(&agent_pymem_state, AGENT_PYMEM_IDLE, memory_order_release);
}

/*
 * Pending call at detach: the interpreter's own allocators back, where ours
 * are still the installed ones (tracemalloc started on top of them since
 * stays untouched), so a detached process pays nothing for them.  Blocks
 * allocated through a wrapper go back to the same original either way.
 */
static int
pymem_unwrap(void *arg)
{
	struct pymem_domain		*d[2] = { &pymem_mem, &pymem_obj };
	struct pymem_allocator		 cur;
	struct pymem_arena_allocator	 cura;
	int				 i;

	(void)arg;
	for (i = 0; i < 2; i++) {
		pymem_api.get_allocator(d[i]->domain, &cur);
		if (memcmp(&cur, &d[i]->installed, sizeof cur) != 0)
			return 0;
	}
	for (i = 0; i < 2; i++)
		pymem_api.set_allocator(d[i]->domain, &d[i]->orig);
	pymem_api.get_arena(&cura);
	if (memcmp(&cura, &pymem_arena_installed, sizeof cura) == 0)
		pymem_api.set_arena(&pymem_arena_orig);
	return 0;
}

/*
 * Pending call at a later attach: wrap again, for this session's mode, over
 * the interpreter's own allocators or over our earlier wrappers; anything
 * else installed meanwhile is left alone.  Pending calls run in order, so
 * an unwrap still queued from the last detach runs first.
 */
static int
pymem_rewrap(void *arg)
{
	struct pymem_domain		*d[2] = { &pymem_mem, &pymem_obj };
	struct pymem_allocator		 cur;
	struct pymem_arena_allocator	 cura;
	int				 i;

	(void)arg;
	for (i = 0; i < 2; i++) {
		pymem_api.get_allocator(d[i]->domain, &cur);
		if (memcmp(&cur, &d[i]->orig, sizeof cur) != 0 &&
		    memcmp(&cur, &d[i]->installed, sizeof cur) != 0)
			return 0;
	}
	pymem_wrap_domain(&pymem_mem, &pymem_mem_wrappers);
	pymem_wrap_domain(&pymem_obj, &pymem_obj_wrappers);
	pymem_api.get_arena(&cura);
	if (memcmp(&cura, &pymem_arena_orig, sizeof cura) == 0)
		pymem_wrap_arena();
	return 0;
}

/* Queue fn once the wrappers were installed and while the interpreter runs. */
static void
pymem_queue(int (*fn)(void *))
{
	if (atomic_load_explicit(&agent_pymem_state, memory_order_acquire) == AGENT_PYMEM_DONE &&
	    pymem_interpreter_running(&pymem_api))
		pymem_api.add_pending_call(fn, NULL);
}

/* See agent.h. */
void
agent_pymem_detach(void)
{
	pymem_queue(pymem_unwrap);
}

/* See agent.h. */
void
agent_pymem_reattach(void)
{
	pymem_queue(pymem_rewrap);
}
