/*
 * agent-python.c: finds CPython in this process and reads the calling
 * thread's Python frames in place, from inside an allocator hook.
 *
 * Detection (agent_python_detect) resolves a handful of exported symbols
 * with dlsym(RTLD_DEFAULT), which finds them whether the interpreter lives
 * in libpython3.X.so or is linked into the executable, reads the version
 * and picks one struct python_layout: the offsets of every field the walker
 * touches, one table per minor version (austin's "version differences are
 * data").  The tables for 3.8-3.13 were printed by
 * tests/agent-python/gen-offsets.sh, which compiles offsetof() against the
 * headers installed with each version; on 3.13 the fields that
 * _Py_DebugOffsets carries (the first member of _PyRuntime) are then taken
 * from the running interpreter itself.  Once published the layout is
 * read-only, so everything after detection is async-signal-safe.
 *
 * Walking (agent_python_walk_raw) needs no GIL: a thread's frame chain is
 * only ever changed by that thread, and the walker runs on it.  It takes
 * the thread's own thread state and follows the chain innermost first,
 * copying each frame's code and instruction pointer as they are: a
 * capture compares those with its previous one's and "cooks" only the
 * frames that differ (agent_python_cook) into (code object, byte offset)
 * pairs, skipping the frames CPython's own traceback skips (3.12+ C-stack
 * shim frames, 3.11+ frames that have not reached their first traceable
 * instruction).  Under a 42-frame stack, walking and checking every frame
 * on every allocation was most of --exact's cost.  Neither step
 * allocates, locks, calls into Python or touches a reference count.
 *
 * The byte offset is the one CPython's PyFrame_GetLineNumber feeds to
 * PyCode_Addr2Line for the same frame, so src/linetable.c yields the line a
 * traceback prints:
 *  3.8-3.9  f_lasti, bytes: the instruction being executed (a predicted
 *           opcode pair keeps the first one's offset, as tracebacks do);
 *  3.10     f_lasti in code units, times 2: the instruction being executed;
 *  3.11-12  prev_instr - co_code_adaptive: the instruction being executed,
 *           or in a caller the last inline cache entry of its CALL;
 *  3.13     instr_ptr - co_code_adaptive: the instruction being executed.
 * A frame that has not started (f_lasti == -1) carries
 * LINETABLE_OFFSET_UNSTARTED, for which CPython reports co_firstlineno.
 *
 * Describing a code object (agent_python_describe) copies its file and
 * qualified name out of the str objects by reading their state bits, and
 * points at the raw line table bytes, which the controller decodes.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

#include "agent.h"
#include "../linetable.h"

/* How a version chains its frames. */
enum python_frames {
	PYTHON_FRAMES_OBJECT = 0,	/* <= 3.10: PyFrameObject, tstate->frame */
	PYTHON_FRAMES_INTERP = 1,	/* >= 3.11: _PyInterpreterFrame */
};

/* What a frame's instruction field holds. */
enum python_instr {
	PYTHON_INSTR_LASTI_BYTES = 0,	/* int f_lasti, in bytes (3.8-3.9) */
	PYTHON_INSTR_LASTI_UNITS = 1,	/* int f_lasti, in 2-byte code units (3.10) */
	PYTHON_INSTR_POINTER = 2,	/* _Py_CODEUNIT * in co_code_adaptive (3.11+) */
};

/* Offsets (bytes) of everything the walker and describe read; -1: absent. */
struct python_layout {
	int		minor;
	int		frames;			/* enum python_frames */
	int		instr;			/* enum python_instr */
	int		table_format;		/* WIRE_LINES_* */

	int		tstate_frame;		/* frame, cframe, current_frame */
	int		tstate_thread_id;	/* unsigned long, pthread_self() */
	int		cframe_current;		/* _PyCFrame.current_frame (3.11-12) */

	int		frame_previous;		/* f_back or previous */
	int		frame_code;		/* f_code or f_executable */
	int		frame_instr;		/* f_lasti, prev_instr or instr_ptr */
	int		frame_owner;		/* char owner (3.11+) */
	int		owner_generator;	/* FRAME_OWNED_BY_GENERATOR */
	int		owner_cstack;		/* FRAME_OWNED_BY_CSTACK (3.12+) */

	int		code_basicsize;		/* PyCode_Type.tp_basicsize */
	int		code_filename;
	int		code_name;		/* co_qualname 3.11+, else co_name */
	int		code_firstlineno;	/* int */
	int		code_linetable;		/* co_lnotab (<= 3.9) or co_linetable */
	int		code_adaptive;		/* co_code_adaptive (3.11+) */
	int		code_firsttraceable;	/* int, code units (3.11+) */

	int		bytes_size;		/* ob_size */
	int		bytes_data;		/* ob_sval */

	int		str_length;		/* code points */
	int		str_state;		/* the bitfield word */
	int		str_ascii_size;		/* sizeof(PyASCIIObject) */
	int		str_compact_size;	/* sizeof(PyCompactUnicodeObject) */
	int		str_legacy_data;	/* PyUnicodeObject.data.any */
	int		str_basicsize;		/* PyUnicode_Type.tp_basicsize */
	int		str_kind_shift;		/* kind: 3 bits */
	int		str_compact_bit;
	int		str_ascii_bit;
	int		str_ready_bit;		/* <= 3.11 */
};

/*
 * The offsets, one column per minor version, -1 where a field does not
 * exist; frames is an enum python_frames, instr an enum python_instr,
 * table_format a WIRE_LINES_* value.  Printed by
 * tests/agent-python/gen-offsets.sh, which compiles offsetof() against the
 * headers installed with each version (x86-64, default non-debug builds);
 * Debian's 3.11.2 headers give the same 3.11 column.  CPython keeps these
 * layouts fixed within a minor version.
 */
#define PYTHON_LAYOUT_TABLE(X)						\
	/* field		3.8.18	3.9.18	3.10.13	3.11.7	3.12.1	3.13.0 */	\
	X(frames,		0,	0,	0,	1,	1,	1)	\
	X(instr,		0,	0,	1,	2,	2,	2)	\
	X(tstate_frame,		24,	24,	24,	56,	56,	72)	\
	X(cframe_current,	-1,	-1,	-1,	8,	0,	-1)	\
	X(frame_previous,	24,	24,	24,	48,	8,	8)	\
	X(frame_code,		32,	32,	32,	32,	0,	0)	\
	X(frame_instr,		104,	104,	96,	56,	56,	56)	\
	X(frame_owner,		-1,	-1,	-1,	69,	70,	70)	\
	X(owner_generator,	-1,	-1,	-1,	1,	1,	1)	\
	X(owner_cstack,		-1,	-1,	-1,	-1,	3,	3)	\
	X(tstate_thread_id,	176,	176,	176,	152,	136,	152)	\
	X(code_basicsize,	176,	176,	176,	184,	192,	200)	\
	X(code_filename,	104,	104,	104,	112,	112,	112)	\
	X(code_name,		112,	112,	112,	128,	128,	128)	\
	X(code_adaptive,	-1,	-1,	-1,	184,	192,	200)	\
	X(code_firsttraceable,	-1,	-1,	-1,	168,	176,	184)	\
	X(code_firstlineno,	40,	40,	40,	72,	68,	68)	\
	X(table_format,		1,	1,	2,	3,	3,	3)	\
	X(code_linetable,	120,	120,	120,	136,	136,	136)	\
	X(bytes_size,		16,	16,	16,	16,	16,	16)	\
	X(bytes_data,		32,	32,	32,	32,	32,	32)	\
	X(str_length,		16,	16,	16,	16,	16,	16)	\
	X(str_state,		32,	32,	32,	32,	32,	32)	\
	X(str_ascii_size,	48,	48,	48,	48,	40,	40)	\
	X(str_compact_size,	72,	72,	72,	72,	56,	56)	\
	X(str_legacy_data,	72,	72,	72,	72,	56,	56)	\
	X(str_basicsize,	80,	80,	80,	80,	64,	64)	\
	X(str_kind_shift,	2,	2,	2,	2,	2,	2)	\
	X(str_compact_bit,	5,	5,	5,	5,	5,	5)	\
	X(str_ascii_bit,	6,	6,	6,	6,	6,	6)	\
	X(str_ready_bit,	7,	7,	7,	7,	-1,	-1)	\

#define PYTHON_COLUMN_8(f, v8, v9, v10, v11, v12, v13)	.f = v8,
#define PYTHON_COLUMN_9(f, v8, v9, v10, v11, v12, v13)	.f = v9,
#define PYTHON_COLUMN_10(f, v8, v9, v10, v11, v12, v13)	.f = v10,
#define PYTHON_COLUMN_11(f, v8, v9, v10, v11, v12, v13)	.f = v11,
#define PYTHON_COLUMN_12(f, v8, v9, v10, v11, v12, v13)	.f = v12,
#define PYTHON_COLUMN_13(f, v8, v9, v10, v11, v12, v13)	.f = v13,

/* 3.13's column is then corrected by python_apply_debug_offsets. */
static const struct python_layout python_layouts[] = {
	{ .minor = 8, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_8) },
	{ .minor = 9, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_9) },
	{ .minor = 10, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_10) },
	{ .minor = 11, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_11) },
	{ .minor = 12, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_12) },
	{ .minor = 13, PYTHON_LAYOUT_TABLE(PYTHON_COLUMN_13) },
};

/*
 * The head of 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h of
 * 3.13.0), up to the groups we read.  Stable within 3.13, not beyond: it is
 * only trusted when its own version field says 3.13.
 */
struct python_debug_offsets {
	char		cookie[8];		/* "xdebugpy", no NUL */
	uint64_t	version;		/* PY_VERSION_HEX */
	uint64_t	free_threaded;
	uint64_t	runtime_state[3];
	uint64_t	interpreter_state[13];
	struct {
		uint64_t	size, prev, next, interp, current_frame, thread_id;
		uint64_t	native_thread_id, datastack_chunk, status;
	} thread_state;
	struct {
		uint64_t	size, previous, executable, instr_ptr;
		uint64_t	localsplus, owner;
	} interpreter_frame;
	struct {
		uint64_t	size, filename, name, qualname, linetable;
		uint64_t	firstlineno, argcount, localsplusnames;
		uint64_t	localspluskinds, co_code_adaptive;
	} code_object;
	uint64_t	pyobject[2];
	uint64_t	type_object[4];
	uint64_t	tuple_object[3];
	uint64_t	list_object[3];
	uint64_t	dict_object[3];
	uint64_t	float_object[2];
	uint64_t	long_object[3];
	struct {
		uint64_t	size, ob_size, ob_sval;
	} bytes_object;
	struct {
		uint64_t	size, state, length, asciiobject_size;
	} unicode_object;
};

#define PYTHON_DEBUG_COOKIE	"xdebugpy"

/* Unicode kinds (PyUnicode_1BYTE_KIND...); 0 is a not-ready wstr string (<= 3.11). */
#define PYTHON_KIND_1BYTE	1
#define PYTHON_KIND_2BYTE	2
#define PYTHON_KIND_4BYTE	4

/* Detection states (python_state). */
enum python_state {
	PYTHON_UNKNOWN,		/* not found yet: try again later */
	PYTHON_BUSY,		/* one thread is detecting */
	PYTHON_READY,		/* python_rt is complete and read-only */
	PYTHON_UNSUPPORTED,	/* found, but a version or build we cannot read */
};

/*
 * A process that has no Python (yet) calls detect on every slow path;
 * look the symbols up again at most this often, because a failed dlsym
 * costs microseconds and formats an error string.
 */
#define PYTHON_RETRY_NS		(100 * 1000 * 1000)

/*
 * A 3.11+ raw frame's owner rides in the top byte of its instruction
 * pointer (user space ends below bit 56), so one word compares both.
 */
#define PYTHON_OWNER_SHIFT	56
#define PYTHON_INSTR_MASK	((UINT64_C(1) << PYTHON_OWNER_SHIFT) - 1)

/* Everything detection found; written by one thread before PYTHON_READY. */
struct python_runtime {
	struct python_layout	 layout;
	uint32_t		 hexversion;
	int			 is_static;
	uintptr_t		 code_type;	/* &PyCode_Type */
	uintptr_t		 str_type;	/* &PyUnicode_Type */
	uintptr_t		 bytes_type;	/* &PyBytes_Type */
	void			*(*get_current)(void);	/* attached or GIL holder */
	void			*(*get_own)(void);	/* the thread's PyGILState */
};

static struct python_runtime	python_rt;
static _Atomic int		python_state = PYTHON_UNKNOWN;
static _Atomic int64_t		python_next_try_ns;

/* Loads a pointer-sized word at p + off. */
static inline uintptr_t
python_read_ptr(uintptr_t p, int off)
{
	uintptr_t	v;

	__builtin_memcpy(&v, (const void *)(p + (uintptr_t)off), sizeof v);
	return v;
}

/* Loads a C int at p + off. */
static inline int
python_read_int(uintptr_t p, int off)
{
	int	v;

	__builtin_memcpy(&v, (const void *)(p + (uintptr_t)off), sizeof v);
	return v;
}

/* Loads a byte at p + off. */
static inline int
python_read_char(uintptr_t p, int off)
{
	return *(const signed char *)(p + (uintptr_t)off);
}

/* A 3.11+ raw frame's where: its instruction pointer ip, its owner (at offset owner) above it. */
static inline uintptr_t
python_interp_where(uintptr_t f, uintptr_t ip, int owner)
{
	return ip ^ (uintptr_t)(unsigned char)python_read_char(f, owner) << PYTHON_OWNER_SHIFT;
}

/*
 * A cheap plausibility test for an object or frame pointer: user space
 * (x86-64 canonical lower half), past the zero page, 8-byte aligned.
 */
static inline bool
python_ptr_ok(uintptr_t p)
{
	return p >= 4096 && p < (1ULL << 47) && (p & 7) == 0;
}

/* True if p looks like an object whose ob_type is exactly type. */
static inline bool
python_is_type(uintptr_t p, uintptr_t type)
{
	/* ob_type follows ob_refcnt in every non-debug build 3.8-3.13. */
	return python_ptr_ok(p) && python_read_ptr(p, 8) == type;
}

/* CLOCK_MONOTONIC_COARSE in nanoseconds: a vDSO read, signal-safe. */
static int64_t
python_now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Parses the "3.9.18 (main, ..." that Py_GetVersion returns into a
 * PY_VERSION_HEX ("3.10.0rc2+" and the like included); 0 if unreadable.
 */
static uint32_t
python_parse_version(const char *s)
{
	unsigned	part[3] = { 0, 0, 0 }, level = 0xf, serial = 0;
	int		i;

	for (i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		for (; *s >= '0' && *s <= '9'; s++)
			part[i] = part[i] * 10 + (unsigned)(*s - '0');
		if (i < 2 && *s++ != '.')
			return 0;
	}
	if (*s == 'a' || *s == 'b' || *s == 'r') {
		/* PY_RELEASE_LEVEL_ALPHA 0xA, BETA 0xB, GAMMA ("rc") 0xC */
		level = *s == 'a' ? 0xa : *s == 'b' ? 0xb : 0xc;
		s += *s == 'r' ? 2 : 1;
		for (; *s >= '0' && *s <= '9'; s++)
			serial = serial * 10 + (unsigned)(*s - '0');
	}
	if (part[0] > 255 || part[1] > 255 || part[2] > 255 || serial > 15)
		return 0;
	return part[0] << 24 | part[1] << 16 | part[2] << 8 | level << 4 | serial;
}

/*
 * The interpreter's PY_VERSION_HEX, parsed from Py_GetVersion(), which only
 * snprintf()s constants into a static buffer (no allocation, no interpreter
 * state needed), then replaced by the Py_Version constant on 3.11+.  The
 * order matters: a dlsym that fails allocates its error message, so
 * Py_Version is only looked up where it exists.
 */
static uint32_t
python_read_version(void)
{
	const unsigned long	*py_version;
	const char		*(*get_version)(void);
	uint32_t		 hexversion;

	get_version = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	if (get_version == NULL)
		return 0;
	hexversion = python_parse_version(get_version());
	if (hexversion >= 0x030b0000 &&
	    (py_version = dlsym(RTLD_DEFAULT, "Py_Version")) != NULL)
		hexversion = (uint32_t)*py_version;
	return hexversion;
}

/* 1 if sym lives in the main executable rather than in a shared library. */
static int
python_symbol_in_executable(const void *sym)
{
	Dl_info	sym_info, exe_info;
	void	*phdr = (void *)getauxval(AT_PHDR);

	if (phdr == NULL || dladdr(sym, &sym_info) == 0 || dladdr(phdr, &exe_info) == 0)
		return 0;
	return sym_info.dli_fbase == exe_info.dli_fbase;
}

/* Checks that a debug offset fits the group it belongs to, and stores it. */
static bool
python_take_offset(int *dst, uint64_t off, uint64_t group_size, size_t width)
{
	/* Offsets are small; anything past 64K means we misread the table. */
	if (off + width > group_size || group_size > 65536)
		return false;
	*dst = (int)off;
	return true;
}

/*
 * 3.13: overrides the built-in offsets with the running interpreter's own
 * _Py_DebugOffsets where it has them.  Returns false if the table is not
 * there or not for this build, leaving the layout untouched.
 */
static bool
python_apply_debug_offsets(struct python_layout *l, uint32_t hexversion)
{
	const struct python_debug_offsets	*d;
	struct python_layout			 t = *l;
	bool					 ok = true;

	d = dlsym(RTLD_DEFAULT, "_PyRuntime");
	if (d == NULL || memcmp(d->cookie, PYTHON_DEBUG_COOKIE, 8) != 0 ||
	    (d->version >> 16) != (hexversion >> 16) || d->free_threaded != 0)
		return false;
	ok &= python_take_offset(&t.tstate_frame, d->thread_state.current_frame,
	    d->thread_state.size, sizeof(void *));
	ok &= python_take_offset(&t.tstate_thread_id, d->thread_state.thread_id,
	    d->thread_state.size, sizeof(unsigned long));
	ok &= python_take_offset(&t.frame_previous, d->interpreter_frame.previous,
	    d->interpreter_frame.size, sizeof(void *));
	ok &= python_take_offset(&t.frame_code, d->interpreter_frame.executable,
	    d->interpreter_frame.size, sizeof(void *));
	ok &= python_take_offset(&t.frame_instr, d->interpreter_frame.instr_ptr,
	    d->interpreter_frame.size, sizeof(void *));
	ok &= python_take_offset(&t.frame_owner, d->interpreter_frame.owner,
	    d->interpreter_frame.size, 1);
	ok &= python_take_offset(&t.code_filename, d->code_object.filename,
	    d->code_object.size, sizeof(void *));
	ok &= python_take_offset(&t.code_name, d->code_object.qualname,
	    d->code_object.size, sizeof(void *));
	ok &= python_take_offset(&t.code_linetable, d->code_object.linetable,
	    d->code_object.size, sizeof(void *));
	ok &= python_take_offset(&t.code_firstlineno, d->code_object.firstlineno,
	    d->code_object.size, sizeof(int));
	/* co_code_adaptive is the variable tail: it may equal the fixed size. */
	ok &= python_take_offset(&t.code_adaptive, d->code_object.co_code_adaptive,
	    d->code_object.size, 0);
	ok &= python_take_offset(&t.bytes_size, d->bytes_object.ob_size,
	    d->bytes_object.size, sizeof(long));
	ok &= python_take_offset(&t.bytes_data, d->bytes_object.ob_sval,
	    d->bytes_object.size, 1);
	ok &= python_take_offset(&t.str_state, d->unicode_object.state,
	    d->unicode_object.size, sizeof(uint32_t));
	ok &= python_take_offset(&t.str_length, d->unicode_object.length,
	    d->unicode_object.size, sizeof(long));
	if (!ok || d->unicode_object.asciiobject_size != (uint64_t)l->str_ascii_size)
		return false;
	*l = t;
	return true;
}

/* The built-in layout for a minor version, or NULL. */
static const struct python_layout *
python_find_layout(uint32_t hexversion)
{
	size_t	i;

	if ((hexversion >> 24) != 3)
		return NULL;
	for (i = 0; i < sizeof python_layouts / sizeof python_layouts[0]; i++) {
		if (python_layouts[i].minor == (int)((hexversion >> 16) & 0xff))
			return &python_layouts[i];
	}
	return NULL;
}

/*
 * True if the type objects have the sizes of the layout: a cheap check
 * that this is the build the table describes.  A Py_TRACE_REFS or a
 * free-threaded build has a longer object header, which moves
 * tp_basicsize (after ob_refcnt, ob_type, ob_size and tp_name in the
 * default build) and changes the sizes themselves.
 */
static bool
python_check_types(const struct python_runtime *rt)
{
	const int	tp_basicsize = 32;

	return python_read_ptr(rt->code_type, tp_basicsize) ==
	    (uintptr_t)rt->layout.code_basicsize &&
	    python_read_ptr(rt->str_type, tp_basicsize) ==
	    (uintptr_t)rt->layout.str_basicsize;
}

/* Resolves the thread state getters and type objects; false if one is missing. */
static bool
python_resolve_symbols(struct python_runtime *rt)
{
	const char	*current;

	/* 3.13 made the unchecked getter public and dropped the private name. */
	current = rt->layout.minor >= 13 ? "PyThreadState_GetUnchecked" :
	    "_PyThreadState_UncheckedGet";
	rt->get_current = (void *(*)(void))dlsym(RTLD_DEFAULT, current);
	rt->get_own = (void *(*)(void))dlsym(RTLD_DEFAULT,
	    "PyGILState_GetThisThreadState");
	rt->code_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyCode_Type");
	rt->str_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyUnicode_Type");
	rt->bytes_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyBytes_Type");
	return rt->get_current != NULL && rt->get_own != NULL && rt->code_type != 0 &&
	    rt->str_type != 0 && rt->bytes_type != 0;
}

/*
 * Does the work of detection; returns the next state.  Only the thread
 * that moved python_state to PYTHON_BUSY runs this.
 */
static int
python_detect_slow(void)
{
	const struct python_layout	*layout;
	void				*probe;

	/* Present in every version; if it is missing there is no Python (yet). */
	if ((probe = dlsym(RTLD_DEFAULT, "Py_IsInitialized")) == NULL)
		return PYTHON_UNKNOWN;
	python_rt.hexversion = python_read_version();
	if ((layout = python_find_layout(python_rt.hexversion)) == NULL)
		return PYTHON_UNSUPPORTED;
	python_rt.layout = *layout;
	if (layout->minor == 13 &&
	    !python_apply_debug_offsets(&python_rt.layout, python_rt.hexversion))
		return PYTHON_UNSUPPORTED;
	if (!python_resolve_symbols(&python_rt) || !python_check_types(&python_rt))
		return PYTHON_UNSUPPORTED;
	python_rt.is_static = python_symbol_in_executable(probe);
	return PYTHON_READY;
}

/* See agent.h. */
uint32_t
agent_python_detect(void)
{
	int	state = atomic_load_explicit(&python_state, memory_order_acquire);
	int	expected = PYTHON_UNKNOWN;
	int64_t	now;

	if (state == PYTHON_READY)
		return python_rt.hexversion;
	if (state != PYTHON_UNKNOWN)
		return 0;
	now = python_now_ns();
	if (now < atomic_load_explicit(&python_next_try_ns, memory_order_relaxed))
		return 0;
	if (!atomic_compare_exchange_strong(&python_state, &expected, PYTHON_BUSY))
		return 0;
	state = python_detect_slow();
	if (state == PYTHON_UNKNOWN)
		atomic_store_explicit(&python_next_try_ns, now + PYTHON_RETRY_NS,
		    memory_order_relaxed);
	atomic_store_explicit(&python_state, state, memory_order_release);
	return state == PYTHON_READY ? python_rt.hexversion : 0;
}

/* See agent.h. */
int
agent_python_is_static(void)
{
	if (atomic_load_explicit(&python_state, memory_order_acquire) != PYTHON_READY)
		return 0;
	return python_rt.is_static;
}

/* True if tstate belongs to the calling thread. */
static inline bool
python_tstate_is_mine(uintptr_t tstate)
{
	return python_ptr_ok(tstate) &&
	    python_read_ptr(tstate, python_rt.layout.tstate_thread_id) ==
	    (uintptr_t)pthread_self();
}

/*
 * The calling thread's own thread state, or 0.  The unchecked getter is
 * right for subinterpreters but on 3.8-3.11 it returns whichever thread
 * holds the GIL (NULL while it is released, e.g. inside ctypes or
 * numpy), so it is checked against pthread_self() and the per-thread
 * PyGILState slot (pthread_getspecific) is the fallback.
 */
static uintptr_t
python_own_tstate(void)
{
	uintptr_t	tstate = (uintptr_t)python_rt.get_current();

	if (tstate != 0 && python_tstate_is_mine(tstate))
		return tstate;
	tstate = (uintptr_t)python_rt.get_own();
	if (tstate != 0 && python_tstate_is_mine(tstate))
		return tstate;
	return 0;
}

/* Turns a 3.8-3.10 f_lasti into a byte offset. */
static inline uint32_t
python_lasti_offset(int lasti, int instr)
{
	if (lasti < 0)
		return LINETABLE_OFFSET_UNSTARTED;
	/* 3.10 counts 2-byte code units; 3.8-3.9 count bytes. */
	if (instr == PYTHON_INSTR_LASTI_UNITS)
		return (uint32_t)lasti * 2;
	return (uint32_t)lasti;
}

/* 3.8-3.10: follows PyFrameObjects from tstate->frame through f_back. */
static int
python_walk_objects(uintptr_t f, struct agent_pyraw *raw, int max, int *truncated)
{
	const struct python_layout	*l = &python_rt.layout;
	uintptr_t			 code;
	int				 n = 0;

	for (; python_ptr_ok(f); f = python_read_ptr(f, l->frame_previous)) {
		code = python_read_ptr(f, l->frame_code);
		if (!python_is_type(code, python_rt.code_type))
			break;
		if (n == max) {
			*truncated = 1;
			break;
		}
		raw[n].frame = f;
		raw[n].code = code;
		raw[n].where = (uint32_t)python_read_int(f, l->frame_instr);
		n++;
	}
	return n;
}

/*
 * 3.11+: follows _PyInterpreterFrames from the current one through
 * previous, taking each frame's code (f_executable, which 3.13 lets be
 * something else), instruction pointer and owner as they are: checking
 * them is agent_python_cook's, for the frames a capture does not share
 * with its memo.  The layout is copied into locals first: the stores into
 * raw[] could alias python_rt for all the compiler knows.
 */
static int
python_walk_interp(uintptr_t f, struct agent_pyraw *raw, int max, int *truncated)
{
	const struct python_layout	*l = &python_rt.layout;
	const int			 previous = l->frame_previous, fcode = l->frame_code;
	const int			 instr = l->frame_instr, owner = l->frame_owner;
	int				 n = 0;

	for (; python_ptr_ok(f); f = python_read_ptr(f, previous)) {
		if (n == max) {
			*truncated = 1;
			break;
		}
		raw[n].frame = f;
		raw[n].code = python_read_ptr(f, fcode);
		raw[n].where = python_interp_where(f, python_read_ptr(f, instr), owner);
		n++;
	}
	return n;
}

/* The calling thread's innermost frame (0: none), or 1 if there is no interpreter. */
static uintptr_t
python_current_frame(void)
{
	const struct python_layout	*l = &python_rt.layout;
	uintptr_t			 tstate, f;

	if (atomic_load_explicit(&python_state, memory_order_acquire) != PYTHON_READY)
		return 1;
	if ((tstate = python_own_tstate()) == 0)
		return 0;
	f = python_read_ptr(tstate, l->tstate_frame);
	/* 3.11-3.12 reach the frame through the C-stack _PyCFrame. */
	if (l->frames != PYTHON_FRAMES_OBJECT && l->cframe_current >= 0 && python_ptr_ok(f))
		f = python_read_ptr(f, l->cframe_current);
	return f;
}

/* See agent.h. */
int
agent_python_walk_raw(struct agent_pyraw *raw, int max, int *truncated)
{
	uintptr_t	f;

	*truncated = 0;
	if (max <= 0 || !python_ptr_ok(f = python_current_frame()))
		return 0;
	if (python_rt.layout.frames == PYTHON_FRAMES_OBJECT)
		return python_walk_objects(f, raw, max, truncated);
	return python_walk_interp(f, raw, max, truncated);
}

/* How many frames deeper or shallower than its memo a capture looks for it. */
#define PYTHON_AGAIN_REACH	3

/*
 * See agent.h.  The innermost frames are followed until one is at an
 * address the memo holds (a frame the stack shares with the memo's, or a
 * new frame where one of the memo's was), then the memo's chain is
 * checked link by link: each frame's previous must be the next frame's
 * address in the memo, and the last one's must end the chain.  The
 * addresses come from the memo, not from the loads being checked, so the
 * processor reads frame after frame without waiting on each previous:
 * a correctly predicted branch only ever reads a frame the live chain
 * links to (a mispredicted one reads a stale one speculatively, which is
 * harmless).  Chasing previous pointers costs a load's latency per frame,
 * which under 40 frames was most of a capture.
 */
int
agent_python_walk_again(struct agent_pyraw *memo, int n, int max, int *shared)
{
	const struct python_layout	*l = &python_rt.layout;
	const int			 previous = l->frame_previous, fcode = l->frame_code;
	const int			 instr = l->frame_instr, owner = l->frame_owner;
	const bool			 objects = l->frames == PYTHON_FRAMES_OBJECT;
	struct agent_pyraw		 head[PYTHON_AGAIN_REACH];
	uintptr_t			 f, code, where, ip;
	int				 s, k = -1, k0, low, cut;

	if (n <= 0 || !python_ptr_ok(f = python_current_frame()))
		return -1;
	/* The innermost frames, until one is where the memo has a frame. */
	low = n - 1 - PYTHON_AGAIN_REACH;
	for (s = 0; s < PYTHON_AGAIN_REACH && python_ptr_ok(f); s++) {
		for (k = n - 1; k >= 0 && k >= low && memo[k].frame != f; k--)
			;
		if (k >= 0 && k >= low)
			break;
		k = -1;
		head[s].frame = f;
		head[s].code = python_read_ptr(f, fcode);
		if (objects) {
			if (!python_is_type(head[s].code, python_rt.code_type))
				return -1;
			head[s].where = (uint32_t)python_read_int(f, instr);
		} else
			head[s].where = python_interp_where(f, python_read_ptr(f, instr), owner);
		f = python_read_ptr(f, previous);
	}
	if (k < 0 || k + 1 + s > max)
		return -1;
	/* The memo's chain from memo[k] outward, checked; cut: the outermost frame that changed. */
	k0 = k;
	cut = k0 + 1;
	for (; k >= 0; k--) {
		f = memo[k].frame;
		if (objects) {
			code = python_read_ptr(f, fcode);
			where = (uint32_t)python_read_int(f, instr);
			if (code != memo[k].code || where != memo[k].where) {
				/* A frame object reused for another code is checked again. */
				if (code != memo[k].code &&
				    !python_is_type(code, python_rt.code_type))
					return -1;
				memo[k].code = code;
				memo[k].where = where;
				cut = k;
			}
		} else if ((memo[k].where & PYTHON_INSTR_MASK) != (ip = python_read_ptr(f, instr))) {
			/*
			 * 3.11+: the instruction pointer is into the code object's
			 * own bytes, so the same one is the same code, run by
			 * the same owner.
			 */
			memo[k].code = python_read_ptr(f, fcode);
			memo[k].where = python_interp_where(f, ip, owner);
			cut = k;
		}
		f = python_read_ptr(f, previous);
		if (k > 0 ? f != memo[k - 1].frame : python_ptr_ok(f))
			return -1;
	}
	/* The frames deeper than the memo's, outermost first. */
	for (k = k0 + 1; s > 0; k++)
		memo[k] = head[--s];
	*shared = cut;
	return k;
}

/*
 * See agent.h.  3.11+ skips the frames CPython's own traceback skips: a
 * C-stack shim (3.12+), a frame whose code is not a code object (3.13), a
 * frame that has not reached its first traceable instruction
 * (_PyFrame_IsIncomplete; a generator's frame is never incomplete).
 */
int
agent_python_cook(const struct agent_pyraw *raw, struct agent_pyframe *out)
{
	const struct python_layout	*l = &python_rt.layout;
	uintptr_t			 code = raw->code;
	intptr_t			 off;
	int				 owner;

	if (l->frames == PYTHON_FRAMES_OBJECT) {
		/* The walk stopped at the first frame without a code object. */
		out->code = code;
		out->offset = python_lasti_offset((int)(uint32_t)raw->where, l->instr);
		return 1;
	}
	owner = (int)(raw->where >> PYTHON_OWNER_SHIFT);
	if (!python_is_type(code, python_rt.code_type) || owner == l->owner_cstack)
		return 0;
	off = (intptr_t)((raw->where & PYTHON_INSTR_MASK) - (code + (uintptr_t)l->code_adaptive));
	if (owner != l->owner_generator &&
	    off < (intptr_t)python_read_int(code, l->code_firsttraceable) * 2)
		return 0;
	out->code = code;
	out->offset = off < 0 ? LINETABLE_OFFSET_UNSTARTED : (uint32_t)off;
	return 1;
}

/* See agent.h. */
int
agent_python_cook_all(const struct agent_pyraw *raw, int nraw, struct agent_pyframe *frames,
    int max, int *truncated)
{
	int	i, n = 0;

	for (i = 0; i < nraw; i++) {
		if (n == max) {
			*truncated = 1;
			break;
		}
		n += agent_python_cook(&raw[i], &frames[n]);
	}
	return n;
}

/* See agent.h. */
uint64_t
agent_python_code_key(uintptr_t code)
{
	const struct python_layout	*l = &python_rt.layout;
	uint64_t			 h;

	if (atomic_load_explicit(&python_state, memory_order_acquire) != PYTHON_READY ||
	    !python_is_type(code, python_rt.code_type))
		return 0;
	/* Multiply-xorshift mixing; the constants are the splitmix64 ones. */
	h = python_read_ptr(code, l->code_filename) * 0x9e3779b97f4a7c15ULL;
	h ^= python_read_ptr(code, l->code_name) + (h << 6) + (h >> 2);
	h ^= python_read_ptr(code, l->code_linetable) * 0xbf58476d1ce4e5b9ULL;
	h ^= (uint64_t)(uint32_t)python_read_int(code, l->code_firstlineno) *
	    0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* Appends code point c as UTF-8 if it fits in cap; returns the new length or 0. */
static size_t
python_put_utf8(char *dst, size_t len, size_t cap, uint32_t c)
{
	unsigned char	b[4];
	size_t		n;

	/* Lone U+DC80..U+DCFF are a file name's undecodable bytes (surrogateescape). */
	if (c >= 0xdc80 && c <= 0xdcff) {
		b[0] = (unsigned char)(c - 0xdc00);
		n = 1;
	} else if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | c >> 6);
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		if (c >= 0xd800 && c <= 0xdfff)
			c = 0xfffd;
		b[0] = (unsigned char)(0xe0 | c >> 12);
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | c >> 18);
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	if (len + n > cap)
		return 0;
	memcpy(dst + len, b, n);
	return len + n;
}

/* Encodes code points of kind 1, 2 or 4 as UTF-8; a cut never splits one. */
static size_t
python_encode_utf8(const void *data, int kind, size_t length, char *dst, size_t cap)
{
	size_t		i, len = 0, next;
	uint32_t	c;

	for (i = 0; i < length; i++) {
		if (kind == PYTHON_KIND_1BYTE)
			c = ((const uint8_t *)data)[i];
		else if (kind == PYTHON_KIND_2BYTE)
			c = ((const uint16_t *)data)[i];
		else
			c = ((const uint32_t *)data)[i];
		if ((next = python_put_utf8(dst, len, cap, c)) == 0)
			break;
		len = next;
	}
	return len;
}

/*
 * Copies str object s into dst as UTF-8, cut to cap bytes; returns the
 * length, 0 for an empty string or anything that is not a ready str.
 */
static size_t
python_copy_str(uintptr_t s, char *dst, size_t cap)
{
	const struct python_layout	*l = &python_rt.layout;
	uint32_t			 state;
	intptr_t			 length;
	uintptr_t			 data;
	int				 kind;

	if (!python_is_type(s, python_rt.str_type))
		return 0;
	state = (uint32_t)python_read_int(s, l->str_state);
	length = (intptr_t)python_read_ptr(s, l->str_length);
	kind = (int)(state >> l->str_kind_shift) & 7;
	if (length <= 0 || (l->str_ready_bit >= 0 && !(state >> l->str_ready_bit & 1)))
		return 0;
	if (kind != PYTHON_KIND_1BYTE && kind != PYTHON_KIND_2BYTE &&
	    kind != PYTHON_KIND_4BYTE)
		return 0;
	if (!(state >> l->str_compact_bit & 1))
		data = python_read_ptr(s, l->str_legacy_data);
	else if (state >> l->str_ascii_bit & 1) {
		data = s + (uintptr_t)l->str_ascii_size;
		if ((size_t)length > cap)
			length = (intptr_t)cap;
		memcpy(dst, (const void *)data, (size_t)length);
		return (size_t)length;
	} else
		data = s + (uintptr_t)l->str_compact_size;
	if (data == 0)
		return 0;
	return python_encode_utf8((const void *)data, kind, (size_t)length, dst, cap);
}

/* See agent.h.  The name takes at most half of buf, the file name the rest. */
int
agent_python_describe(uintptr_t code, struct agent_pycode *out, char *buf, size_t cap)
{
	const struct python_layout	*l = &python_rt.layout;
	uintptr_t			 table;
	size_t				 half;

	if (atomic_load_explicit(&python_state, memory_order_acquire) != PYTHON_READY ||
	    !python_is_type(code, python_rt.code_type))
		return -1;
	table = python_read_ptr(code, l->code_linetable);
	if (!python_is_type(table, python_rt.bytes_type))
		return -1;
	out->firstlineno = python_read_int(code, l->code_firstlineno);
	out->table_format = (uint16_t)l->table_format;
	out->table = (const void *)(table + (uintptr_t)l->bytes_data);
	out->table_len = (size_t)python_read_ptr(table, l->bytes_size);
	/* wire_code carries both lengths in 16 bits. */
	half = cap / 2 < UINT16_MAX ? cap / 2 : UINT16_MAX;
	out->name = buf;
	out->name_len = python_copy_str(python_read_ptr(code, l->code_name), buf, half);
	out->filename = buf + out->name_len;
	cap -= out->name_len;
	out->filename_len = python_copy_str(python_read_ptr(code, l->code_filename),
	    buf + out->name_len, cap < UINT16_MAX ? cap : UINT16_MAX);
	return 0;
}
