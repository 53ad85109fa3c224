/*
 * linetable.h: maps an instruction offset of a Python code object to a source
 * line through the code object's raw line table, in the three formats the
 * agent sends (wire.h WIRE_LINES_*).  Self-contained: no allocation, no
 * state, usable by the controller, the tests and fuzzers alike.
 */

#ifndef MEMPROF_LINETABLE_H
#define MEMPROF_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The offset a frame carries before it has executed its first instruction
 * (f_lasti == -1 on CPython <= 3.10).  CPython reports the code object's
 * first line for such a frame, and so does linetable_line.
 */
#define LINETABLE_OFFSET_UNSTARTED	UINT32_MAX

/*
 * Return the line of the instruction at byte_offset (bytes into co_code)
 * of a code object whose line table (format WIRE_LINES_*, len bytes) and
 * co_firstlineno are given: the line CPython itself reports for a frame
 * stopped there (PyCode_Addr2Line).  Returns -1 when the instruction has no
 * line (an artificial instruction), the offset lies beyond the table, the
 * format is unknown or the table is malformed.  Never reads past len.
 */
int	linetable_line(int format, const void *table, size_t len, int firstlineno,
	    uint32_t byte_offset);

#endif /* MEMPROF_LINETABLE_H */
