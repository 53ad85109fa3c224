/*
 * agent.h: internal interfaces of libmemprof.so, the agent that runs inside
 * the profiled process.  Never included by the controller; the agent shares
 * only ../wire.h with it.
 *
 * Families:
 *  agent-core.c    start/stop, configuration, fork handling, the per-thread
 *                  state, the guard
 *  agent-record.c  the recorder: allocations, frees, unmaps into records
 *  agent-sampler.c the sampling decision and the weight of a sample
 *  agent-stack.c   stack capture (Python and native) and interning
 *  agent-addrset.c the lock-free set of recorded live addresses
 *  agent-maps.c    the registry of recorded mappings (munmap, mremap)
 *  agent-core.h    what those share (TLS, the hot-path inlines)
 *  agent-ring.c    the producer side of the shared ring (wire.h)
 *  agent-hooks.c   the interposed allocator entry points (malloc family, mmap)
 *  agent-python.c  finding CPython in the process, reading the current
 *                  thread's frames without the GIL, describing code objects
 *  agent-pymem.c   wrapping Python's allocator domains and marking the end of
 *                  the program's own code (atexit), run with the GIL held
 *  agent-attach.c  attach mode: the entry point memprof calls after
 *                  injecting the agent, the watcher thread that detaches
 *  agent-got.c     attach mode: patching modules' GOT slots to the hooks
 *
 * Rules for every file here: no stdio, no exit/abort, no allocation through
 * malloc (use mmap), no lock that a hook can deadlock on, errno preserved by
 * every hook, hidden visibility except the interposed names.
 */

#ifndef MEMPROF_AGENT_H
#define MEMPROF_AGENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../wire.h"

#define AGENT_EXPORT	__attribute__((visibility("default")))
#define AGENT_TLS	__thread __attribute__((tls_model("initial-exec")))

/* agent-core.c */

/* Record an allocation or a free, keeping errno; call between agent_enter and agent_leave (agent-core.h). */
void	agent_record_alloc(void *addr, size_t size, enum wire_allocator allocator);
void	agent_record_free(void *addr, enum wire_allocator allocator);
void	agent_record_unmap(void *addr, size_t len);

/* The program's own code has finished (Python atexit): snapshot point for "live at exit". */
void	agent_record_exit(void);

/* Announce the interpreter once (struct wire_python). */
void	agent_record_python(uint32_t hexversion, uint32_t flags);

/* agent-python.c */

/* One raw Python frame as captured on the hot path: no names, no lines. */
struct agent_pyframe {
	uintptr_t	code;		/* PyCodeObject * */
	uint32_t	offset;		/* byte offset of the current instruction in co_code */
};

/* What the controller needs to know about a code object (struct wire_code). */
struct agent_pycode {
	int32_t		firstlineno;
	uint16_t	table_format;	/* WIRE_LINES_* */
	const char	*filename;	/* UTF-8, in the caller's buffer */
	size_t		filename_len;
	const char	*name;		/* UTF-8, in the caller's buffer */
	size_t		name_len;
	const void	*table;		/* points into the code object's bytes */
	size_t		table_len;
};

/*
 * Find CPython in this process (dynamic or static build) and resolve what
 * the walker needs.  Cheap after the first success; returns PY_VERSION_HEX,
 * or 0 if there is no supported interpreter (yet).  Async-signal-safe after
 * the first call.
 */
uint32_t agent_python_detect(void);

/* 1 if the interpreter in this process is linked into the executable. */
int	agent_python_is_static(void);

/*
 * One Python frame as the walk finds it, before any check: what it runs
 * and where.  Two walks that find the same raw frames at every depth have
 * the same stack, which is what lets a capture skip cooking its memo's.
 */
struct agent_pyraw {
	uintptr_t	frame;		/* its address */
	uintptr_t	code;		/* f_code, f_executable (3.13: maybe not code) */
	uintptr_t	where;		/* 3.11+: instruction pointer and owner; else f_lasti */
};

/* The most raw frames a walk takes: the wire's frames and as many skipped ones. */
#define AGENT_PYRAW_MAX		(2 * WIRE_STACK_MAX_FRAMES)

/*
 * Walk the calling thread's Python frames, innermost first, into raw[]
 * (at most max).  Returns the number written (0: this thread runs no Python
 * code now).  Sets *truncated when deeper frames were left out.  No
 * allocation, no locks, no reference counts, no GIL needed.
 */
int	agent_python_walk_raw(struct agent_pyraw *raw, int max, int *truncated);

/*
 * Walk the calling thread's frames again, knowing the n raw frames of its
 * previous walk (memo[], outermost first, as agent_python_walk_raw found
 * them), and make memo[] this walk's, at most max: returns their number
 * and sets *shared to how many outermost frames were the previous walk's.
 * Returns -1, memo[] then being neither walk's, if the chain is not the
 * same one past its few innermost frames.
 */
int	agent_python_walk_again(struct agent_pyraw *memo, int n, int max, int *shared);

/*
 * Turn a raw frame of the interpreter that agent_python_walk_raw found
 * into *out: 1, or 0 if it is a frame CPython's tracebacks leave out too.
 */
int	agent_python_cook(const struct agent_pyraw *raw, struct agent_pyframe *out);

/*
 * Cook raw[0..nraw) innermost first into frames[] (at most max); returns
 * the number written and sets *truncated if raw frames were left.
 */
int	agent_python_cook_all(const struct agent_pyraw *raw, int nraw,
	    struct agent_pyframe *frames, int max, int *truncated);

/*
 * A cheap fingerprint of a code object (e.g. its name and file pointers and
 * first line) so that a cache keyed by address notices when a freed code
 * object's address is reused by another.
 */
uint64_t agent_python_code_key(uintptr_t code);

/*
 * Describe a code object, copying its file and function names as UTF-8
 * into buf (cap bytes; names are cut to fit).  Returns 0, or -1 if the
 * object does not look like a code object.
 */
int	agent_python_describe(uintptr_t code, struct agent_pycode *out, char *buf, size_t cap);

/* agent-pymem.c */

/*
 * Called from the recorder's slow path: once the interpreter is initialized,
 * arrange (once) for the PyMem/PyObject domains to be wrapped and for the
 * end of the program's code to be marked, from a context holding the GIL.
 */
void	agent_pymem_maybe_install(void);

/* Install states (agent_pymem_state); only IDLE leaves anything to do. */
enum agent_pymem_state {
	AGENT_PYMEM_IDLE,	/* nothing scheduled yet */
	AGENT_PYMEM_BUSY,	/* one thread is resolving or scheduling */
	AGENT_PYMEM_SCHEDULED,	/* the install is queued */
	AGENT_PYMEM_DONE,	/* it ran */
	AGENT_PYMEM_OFF,	/* not possible in this process */
};
extern _Atomic int agent_pymem_state;

/* agent_pymem_maybe_install, inlined down to one load once nothing is left to do. */
static inline void
agent_pymem_poll(void)
{
	if (__builtin_expect(atomic_load_explicit(&agent_pymem_state, memory_order_relaxed) ==
	    AGENT_PYMEM_IDLE, 0))
		agent_pymem_maybe_install();
}

/*
 * For attach mode, from any thread: at detach, arrange for the
 * interpreter's own allocators to be put back; at a later attach, for the
 * wrappers to be installed again for the new session's mode.  Nothing
 * before the first install.
 */
void	agent_pymem_detach(void);
void	agent_pymem_reattach(void);

#endif /* MEMPROF_AGENT_H */
