/*
 * gen-offsets.c: prints the offsets that src/agent/agent-python.c
 * hard-codes (PYTHON_LAYOUT_TABLE) for one CPython minor version.
 *
 * Compiled by gen-offsets.sh against each installed version's own headers
 * (with Py_BUILD_CORE, for the internal frame structs), so every number in
 * the agent's tables comes from offsetof() on the real definitions.  The
 * agent itself never includes a Python header.
 */

#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#endif

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The lowest set bit of a 32-bit word, or -1. */
static int
gen_bit_of(unsigned int word)
{
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (word & (1U << bit))
			return bit;
	}
	return -1;
}

/* Reads the raw state word of a string header whose bitfields were set. */
static unsigned int
gen_state_word(const PyASCIIObject *o)
{
	unsigned int word;

	memcpy(&word, (const char *)o + offsetof(PyASCIIObject, state), sizeof word);
	return word;
}

/* Prints the bit positions of the string state bitfields. */
static void
gen_print_state_bits(void)
{
	PyASCIIObject o;

	memset(&o, 0, sizeof o);
	o.state.kind = 1;
	printf("str_kind_shift %d\n", gen_bit_of(gen_state_word(&o)));
	memset(&o, 0, sizeof o);
	o.state.compact = 1;
	printf("str_compact_bit %d\n", gen_bit_of(gen_state_word(&o)));
	memset(&o, 0, sizeof o);
	o.state.ascii = 1;
	printf("str_ascii_bit %d\n", gen_bit_of(gen_state_word(&o)));
#if PY_VERSION_HEX < 0x030c0000
	memset(&o, 0, sizeof o);
	o.state.ready = 1;
	printf("str_ready_bit %d\n", gen_bit_of(gen_state_word(&o)));
#else
	printf("str_ready_bit -1\n");
#endif
}

/* Prints the thread state and frame offsets. */
static void
gen_print_frames(void)
{
#if PY_VERSION_HEX < 0x030b0000
	printf("frames 0\n");	/* PYTHON_FRAMES_OBJECT */
#if PY_VERSION_HEX < 0x030a0000
	printf("instr 0\n");	/* PYTHON_INSTR_LASTI_BYTES */
#else
	printf("instr 1\n");	/* PYTHON_INSTR_LASTI_UNITS */
#endif
	printf("tstate_frame %zu\n", offsetof(PyThreadState, frame));
	printf("cframe_current -1\n");
	printf("frame_previous %zu\n", offsetof(PyFrameObject, f_back));
	printf("frame_code %zu\n", offsetof(PyFrameObject, f_code));
	printf("frame_instr %zu\n", offsetof(PyFrameObject, f_lasti));
	printf("frame_owner -1\n");
	printf("owner_generator -1\n");
	printf("owner_cstack -1\n");
#else
	printf("frames 1\n");	/* PYTHON_FRAMES_INTERP */
	printf("instr 2\n");	/* PYTHON_INSTR_POINTER */
#if PY_VERSION_HEX < 0x030d0000
	printf("tstate_frame %zu\n", offsetof(PyThreadState, cframe));
	printf("cframe_current %zu\n", offsetof(_PyCFrame, current_frame));
	printf("frame_code %zu\n", offsetof(_PyInterpreterFrame, f_code));
	printf("frame_instr %zu\n", offsetof(_PyInterpreterFrame, prev_instr));
#else
	printf("tstate_frame %zu\n", offsetof(PyThreadState, current_frame));
	printf("cframe_current -1\n");
	printf("frame_code %zu\n", offsetof(_PyInterpreterFrame, f_executable));
	printf("frame_instr %zu\n", offsetof(_PyInterpreterFrame, instr_ptr));
#endif
	printf("frame_previous %zu\n", offsetof(_PyInterpreterFrame, previous));
	printf("frame_owner %zu\n", offsetof(_PyInterpreterFrame, owner));
	printf("owner_generator %d\n", FRAME_OWNED_BY_GENERATOR);
#if PY_VERSION_HEX < 0x030c0000
	printf("owner_cstack -1\n");
#else
	printf("owner_cstack %d\n", FRAME_OWNED_BY_CSTACK);
#endif
#endif
	printf("tstate_thread_id %zu\n", offsetof(PyThreadState, thread_id));
}

/* Prints the code object offsets. */
static void
gen_print_code(void)
{
	/* PyCode_Type.tp_basicsize: the fixed part only from 3.11 on. */
#if PY_VERSION_HEX < 0x030b0000
	printf("code_basicsize %zu\n", sizeof(PyCodeObject));
#else
	printf("code_basicsize %zu\n", offsetof(PyCodeObject, co_code_adaptive));
#endif
	printf("code_filename %zu\n", offsetof(PyCodeObject, co_filename));
#if PY_VERSION_HEX < 0x030b0000
	printf("code_name %zu\n", offsetof(PyCodeObject, co_name));
	printf("code_adaptive -1\n");
	printf("code_firsttraceable -1\n");
#else
	printf("code_name %zu\n", offsetof(PyCodeObject, co_qualname));
	printf("code_adaptive %zu\n", offsetof(PyCodeObject, co_code_adaptive));
	printf("code_firsttraceable %zu\n",
	    offsetof(PyCodeObject, _co_firsttraceable));
#endif
	printf("code_firstlineno %zu\n", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030a0000
	printf("table_format 1\n");	/* WIRE_LINES_LNOTAB */
	printf("code_linetable %zu\n", offsetof(PyCodeObject, co_lnotab));
#else
#if PY_VERSION_HEX < 0x030b0000
	printf("table_format 2\n");	/* WIRE_LINES_PEP626 */
#else
	printf("table_format 3\n");	/* WIRE_LINES_LOCATIONS */
#endif
	printf("code_linetable %zu\n", offsetof(PyCodeObject, co_linetable));
#endif
}

/* Prints the bytes and str object offsets. */
static void
gen_print_objects(void)
{
	printf("bytes_size %zu\n", offsetof(PyVarObject, ob_size));
	printf("bytes_data %zu\n", offsetof(PyBytesObject, ob_sval));
	printf("str_length %zu\n", offsetof(PyASCIIObject, length));
	printf("str_state %zu\n", offsetof(PyASCIIObject, state));
	printf("str_ascii_size %zu\n", sizeof(PyASCIIObject));
	printf("str_compact_size %zu\n", sizeof(PyCompactUnicodeObject));
	printf("str_legacy_data %zu\n", offsetof(PyUnicodeObject, data));
	printf("str_basicsize %zu\n", sizeof(PyUnicodeObject));
	gen_print_state_bits();
}

/*
 * Prints "field value" lines for one version, the version first; the
 * script pivots them into the rows of PYTHON_LAYOUT_TABLE.
 */
int
main(void)
{
	printf("version %s\n", PY_VERSION);
	gen_print_frames();
	gen_print_code();
	gen_print_objects();
#if PY_VERSION_HEX < 0x03090000
	/* 3.8 only: see agent-pymem.c */
	printf("pymem_finishing_3_8 %zu\n",
	    offsetof(_PyRuntimeState, ceval.pending.finishing));
#endif
	return 0;
}
