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
 *  - wraps PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ: each wrapper takes the
 *    agent guard, calls the saved original through ctx and records the
 *    block, so what pymalloc asks of malloc underneath (its fallback for
 *    large blocks) runs under the guard and is not counted twice.  The RAW
 *    domain is malloc itself, which the hooks already see;
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

/* One wrapped domain: the original allocator and how its blocks are tagged. */
struct pymem_domain {
	struct pymem_allocator	orig;
	enum wire_allocator	allocator;
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
	struct pymem_object	*none;
	const char		*runtime;	/* &_PyRuntime, for 3.8 */
	uint32_t		 hexversion;
};

/* Install states (pymem_state). */
enum pymem_state {
	PYMEM_IDLE,		/* nothing scheduled yet */
	PYMEM_BUSY,		/* one thread is resolving or scheduling */
	PYMEM_SCHEDULED,	/* pymem_install is queued */
	PYMEM_DONE,		/* it ran */
	PYMEM_OFF,		/* not possible in this process */
};

static struct pymem_api			pymem_api;
static _Atomic int			pymem_state = PYMEM_IDLE;
static bool				pymem_resolved;
static struct pymem_domain		pymem_mem = {
	.allocator = WIRE_ALLOC_PYMEM
};
static struct pymem_domain		pymem_obj = {
	.allocator = WIRE_ALLOC_PYOBJECT
};
static struct pymem_arena_allocator	pymem_arena_orig;

static struct pymem_object	*pymem_on_exit(struct pymem_object *,
				    struct pymem_object *);

/* The atexit handler; static because CPython keeps a pointer to it. */
static struct pymem_method_def	pymem_exit_def = {
	"memprof_program_exit", (void *)pymem_on_exit, PYMEM_METH_NOARGS,
	"memprof: the program's own code has finished"
};

/*
 * The sampled case of the small-request fast path: record under the guard,
 * keeping errno.  Out of line so the fast path stays a few instructions.
 */
static void __attribute__((noinline, cold))
pymem_sample_slow(void *p, size_t size, enum wire_allocator allocator)
{
	int	saved = errno;

	if (agent_enter()) {
		agent_record_alloc_slow(p, size, allocator, (uintptr_t)__builtin_return_address(0));
		agent_leave();
	}
	errno = saved;
}

/*
 * The wrappers are split in two: a fast path of a few instructions that
 * only calls the original (the countdown is taken before the call, so the
 * call is a tail call and the fast path saves no register), and out-of-line
 * paths for everything that records.  A sample point reached by a request
 * that then fails is simply not recorded: failures are rare and the next
 * draw starts afresh, so the estimate stays unbiased for the requests that
 * succeed.  The fast path serves the hot case of every
 * Python object in sampling mode: a small request served from a pymalloc
 * pool without reaching malloc (new arenas go through the wrapped arena
 * allocator, which guards itself), so no guard is needed around it, and an
 * unsampled one costs a TLS countdown and nothing else.
 */

/* Whether a small request can take the fast path: sampling mode, not inside the agent. */
static inline bool
pymem_fast(size_t size)
{
	return AGENT_LIKELY(size <= PYMEM_SMALL_REQUEST && !agent_tls.guard &&
	    agent_mode_get() == AGENT_MODE_SAMPLE);
}

/* malloc's slow path: the original, recorded under the guard. */
static void * AGENT_NOINLINE
pymem_malloc_slow(struct pymem_domain *d, size_t size)
{
	void	*p;
	int	 saved;

	if (!agent_enter())
		return d->orig.malloc(d->orig.ctx, size);
	p = d->orig.malloc(d->orig.ctx, size);
	saved = errno;
	if (p != NULL)
		agent_record_alloc(p, size, d->allocator);
	agent_leave();
	errno = saved;
	return p;
}

/* malloc at a sample point of the fast path: the original, then the record. */
static void * AGENT_COLD
pymem_malloc_sampled(struct pymem_domain *d, size_t size)
{
	void	*p = d->orig.malloc(d->orig.ctx, size);

	if (p != NULL)
		pymem_sample_slow(p, size, d->allocator);
	return p;
}

/* PYMEM_DOMAIN_MEM/OBJ malloc. */
static void *
pymem_wrap_malloc(void *ctx, size_t size)
{
	struct pymem_domain	*d = ctx;

	if (pymem_fast(size)) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.malloc(d->orig.ctx, size);
		return pymem_malloc_sampled(d, size);
	}
	return pymem_malloc_slow(d, size);
}

/* calloc's slow path: as malloc's; the original rejects overflows. */
static void * AGENT_NOINLINE
pymem_calloc_slow(struct pymem_domain *d, size_t nelem, size_t elsize)
{
	void	*p;
	int	 saved;

	if (!agent_enter())
		return d->orig.calloc(d->orig.ctx, nelem, elsize);
	p = d->orig.calloc(d->orig.ctx, nelem, elsize);
	saved = errno;
	if (p != NULL)
		agent_record_alloc(p, nelem * elsize, d->allocator);
	agent_leave();
	errno = saved;
	return p;
}

/* calloc at a sample point of the fast path. */
static void * AGENT_COLD
pymem_calloc_sampled(struct pymem_domain *d, size_t nelem, size_t elsize)
{
	void	*p = d->orig.calloc(d->orig.ctx, nelem, elsize);

	if (p != NULL)
		pymem_sample_slow(p, nelem * elsize, d->allocator);
	return p;
}

/* PYMEM_DOMAIN_MEM/OBJ calloc. */
static void *
pymem_wrap_calloc(void *ctx, size_t nelem, size_t elsize)
{
	struct pymem_domain	*d = ctx;
	size_t			 size;

	if (!__builtin_mul_overflow(nelem, elsize, &size) && pymem_fast(size)) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.calloc(d->orig.ctx, nelem, elsize);
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
 * allocated but untracked: its size is not known here.
 */
static void * AGENT_NOINLINE
pymem_realloc_slow(struct pymem_domain *d, void *ptr, size_t size)
{
	void	*p;
	int	 saved;

	if (!agent_enter())
		return d->orig.realloc(d->orig.ctx, ptr, size);
	if (ptr != NULL)
		agent_record_free(ptr, d->allocator);
	p = d->orig.realloc(d->orig.ctx, ptr, size);
	saved = errno;
	if (p != NULL)
		agent_record_alloc(p, size, d->allocator);
	agent_leave();
	errno = saved;
	return p;
}

/*
 * PYMEM_DOMAIN_MEM/OBJ realloc.  An unsampled block resized within
 * pymalloc's range (strings being built, lists growing) has nothing to send
 * for the old block, and the new one takes the same sampling decision as a
 * malloc.  A larger size may reach malloc, which needs the guard: the slow
 * path.
 */
static void *
pymem_wrap_realloc(void *ctx, void *ptr, size_t size)
{
	struct pymem_domain	*d = ctx;
	void			*p;

	if (pymem_fast(size) && (ptr == NULL || !agent_addrset_probe((uintptr_t)ptr))) {
		if (AGENT_LIKELY(!agent_sample_due(size)))
			return d->orig.realloc(d->orig.ctx, ptr, size);
		p = d->orig.realloc(d->orig.ctx, ptr, size);
		if (p != NULL)
			pymem_sample_slow(p, size, d->allocator);
		return p;
	}
	return pymem_realloc_slow(d, ptr, size);
}

/* free's slow path: recorded before the block goes back. */
static void AGENT_NOINLINE
pymem_free_slow(struct pymem_domain *d, void *ptr)
{
	int	saved;

	if (ptr == NULL || !agent_enter()) {
		d->orig.free(d->orig.ctx, ptr);
		return;
	}
	saved = errno;
	agent_record_free(ptr, d->allocator);
	errno = saved;
	d->orig.free(d->orig.ctx, ptr);
	agent_leave();
}

/*
 * PYMEM_DOMAIN_MEM/OBJ free: a block that was not sampled costs one filter
 * load.  No guard test here: a free inside the agent of a block the filter
 * clears needs nothing recorded anyway, and any other goes to the slow
 * path, which does not record under the guard.
 */
static void
pymem_wrap_free(void *ctx, void *ptr)
{
	struct pymem_domain	*d = ctx;

	if (AGENT_LIKELY(agent_mode_get() == AGENT_MODE_SAMPLE &&
	    !agent_addrset_probe((uintptr_t)ptr))) {
		d->orig.free(d->orig.ctx, ptr);
		return;
	}
	pymem_free_slow(d, ptr);
}

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

/* Wraps one allocator domain, saving the original in d. */
static void
pymem_wrap_domain(int domain, struct pymem_domain *d)
{
	struct pymem_allocator	wrapper = {
		.ctx = d,
		.malloc = pymem_wrap_malloc,
		.calloc = pymem_wrap_calloc,
		.realloc = pymem_wrap_realloc,
		.free = pymem_wrap_free,
	};

	pymem_api.get_allocator(domain, &d->orig);
	pymem_api.set_allocator(domain, &wrapper);
}

/* Wraps the arena allocator, unless it has no functions (some embedders). */
static void
pymem_wrap_arena(void)
{
	struct pymem_arena_allocator	wrapper = {
		.ctx = NULL,
		.alloc = pymem_wrap_arena_alloc,
		.free = pymem_wrap_arena_free,
	};

	pymem_api.get_arena(&pymem_arena_orig);
	if (pymem_arena_orig.alloc == NULL || pymem_arena_orig.free == NULL)
		return;
	pymem_api.set_arena(&wrapper);
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
	pymem_wrap_domain(PYMEM_DOMAIN_MEM, &pymem_mem);
	pymem_wrap_domain(PYMEM_DOMAIN_OBJ, &pymem_obj);
	pymem_wrap_arena();
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
	atomic_store_explicit(&pymem_state, PYMEM_DONE, memory_order_release);
	return 0;
}

/* See agent.h.  Cheap (one atomic load) once scheduled or impossible. */
void
agent_pymem_maybe_install(void)
{
	int	expected = PYMEM_IDLE;

	if (atomic_load_explicit(&pymem_state, memory_order_relaxed) != PYMEM_IDLE)
		return;
	if (agent_python_detect() == 0)
		return;
	if (!atomic_compare_exchange_strong(&pymem_state, &expected, PYMEM_BUSY))
		return;
	if (!pymem_resolved) {
		pymem_resolved = true;
		if (!pymem_resolve(&pymem_api)) {
			atomic_store_explicit(&pymem_state, PYMEM_OFF,
			    memory_order_release);
			return;
		}
	}
	if (!pymem_interpreter_running(&pymem_api)) {
		atomic_store_explicit(&pymem_state, PYMEM_IDLE, memory_order_release);
		return;
	}
	/*
	 * SCHEDULED before the call: the main thread may run pymem_install,
	 * which stores DONE, before Py_AddPendingCall returns here.  A full
	 * queue (-1) is retried on a later slow path.
	 */
	atomic_store_explicit(&pymem_state, PYMEM_SCHEDULED, memory_order_release);
	if (pymem_api.add_pending_call(pymem_install, NULL) != 0)
		atomic_store_explicit(&pymem_state, PYMEM_IDLE, memory_order_release);
}
