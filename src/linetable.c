/*
 * linetable.c: decoders for CPython's three line-table formats, each a
 * forward scan that reproduces PyCode_Addr2Line of the version that wrote
 * the table (Objects/codeobject.c of 3.8, 3.10 and 3.11; 3.12 and 3.13 kept
 * the 3.11 format).  The agent ships tables raw and this runs in the
 * controller, once per (code object, offset) it needs.
 *
 *  WIRE_LINES_LNOTAB     co_lnotab, 3.8-3.9: (byte delta, signed line delta)
 *                        pairs; a line applies from the accumulated offset on.
 *  WIRE_LINES_PEP626     co_linetable, 3.10: (byte delta, signed line delta)
 *                        pairs, each pair a half-open range of bytes; a line
 *                        delta of -128 means "no line".
 *  WIRE_LINES_LOCATIONS  co_linetable, 3.11+: one entry per run of code
 *                        units, a first byte 1CCCCLLL (code C, L+1 units) and
 *                        varint operands; the line delta depends on C.
 */

#include <limits.h>

#include "linetable.h"
#include "wire.h"

/* 3.10: the line delta that marks a range without a line. */
#define LINETABLE_PEP626_NO_LINE	(-128)

/* 3.11+: entry codes (Include/cpython/code.h _PyCodeLocationInfoKind). */
#define LINETABLE_LOC_ONE_LINE0		10
#define LINETABLE_LOC_ONE_LINE2		12
#define LINETABLE_LOC_NO_COLUMNS	13
#define LINETABLE_LOC_LONG		14
#define LINETABLE_LOC_NONE		15

/* 3.11+: a code unit is two bytes (an opcode and its argument). */
#define LINETABLE_CODE_UNIT		2

/*
 * Lines are summed in 64 bits, so no table can overflow them; a sum that
 * leaves int's range is a malformed table.
 */
static int
linetable_result(int64_t line)
{
	return line < INT_MIN || line > INT_MAX ? -1 : (int)line;
}

/* 3.8-3.9: the line in effect at byte_offset, as 3.8's PyCode_Addr2Line. */
static int
linetable_line_lnotab(const uint8_t *p, size_t len, int firstlineno, uint32_t off)
{
	uint64_t	addr = 0;
	int64_t		line = firstlineno;
	size_t		i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += p[i];
		if (addr > off)
			break;
		line += (int8_t)p[i + 1];
	}
	return linetable_result(line);
}

/* 3.10: the line of the range holding byte_offset, as _PyCode_CheckLineNumber. */
static int
linetable_line_pep626(const uint8_t *p, size_t len, int firstlineno, uint32_t off)
{
	uint64_t	end = 0;
	int64_t		computed = firstlineno, line;
	size_t		i;

	for (i = 0; i + 1 < len; i += 2) {
		int	ldelta = (int8_t)p[i + 1];

		/* CPython advances the running line even over empty ranges. */
		end += p[i];
		if (ldelta == LINETABLE_PEP626_NO_LINE)
			line = -1;
		else {
			computed += ldelta;
			line = computed;
		}
		if (p[i] != 0 && off < end)
			return linetable_result(line);
	}
	return -1;
}

/*
 * 3.11+: read the unsigned varint at p[*i] (6 bits a byte, 0x40 means more
 * follow), advancing *i.  Returns -1 if it runs off the table or overflows.
 */
static int64_t
linetable_read_varint(const uint8_t *p, size_t len, size_t *i)
{
	uint64_t	val = 0;
	unsigned	shift = 0;
	uint8_t		b;

	do {
		/* 31 bits are plenty for a line delta; more is malformed. */
		if (*i >= len || shift > 30)
			return -1;
		b = p[(*i)++];
		val |= (uint64_t)(b & 0x3f) << shift;
		shift += 6;
	} while (b & 0x40);
	return (int64_t)val;
}

/* 3.11+: the line delta of the entry whose first byte is p[*i], as get_line_delta. */
static int
linetable_loc_delta(const uint8_t *p, size_t len, size_t i, int *delta)
{
	int	code = (p[i] >> 3) & 15;
	int64_t	uval;

	*delta = 0;
	if (code == LINETABLE_LOC_NO_COLUMNS || code == LINETABLE_LOC_LONG) {
		i++;
		if ((uval = linetable_read_varint(p, len, &i)) < 0)
			return -1;
		/* Signed varints keep the sign in the low bit. */
		*delta = (uval & 1) ? -(int)(uval >> 1) : (int)(uval >> 1);
	} else if (code >= LINETABLE_LOC_ONE_LINE0 && code <= LINETABLE_LOC_ONE_LINE2)
		*delta = code - LINETABLE_LOC_ONE_LINE0;
	return 0;
}

/* 3.11+: the line of the entry covering byte_offset, as _PyCode_CheckLineNumber. */
static int
linetable_line_locations(const uint8_t *p, size_t len, int firstlineno, uint32_t off)
{
	uint64_t	end = 0;
	int64_t		computed = firstlineno;
	int		delta;
	size_t		i = 0;

	while (i < len) {
		/* Every entry starts with the high bit set. */
		if (!(p[i] & 0x80) || linetable_loc_delta(p, len, i, &delta) != 0)
			return -1;
		computed += delta;
		end += (uint64_t)((p[i] & 7) + 1) * LINETABLE_CODE_UNIT;
		if (off < end) {
			if (((p[i] >> 3) & 15) == LINETABLE_LOC_NONE)
				return -1;
			return linetable_result(computed);
		}
		for (i++; i < len && !(p[i] & 0x80); i++)
			;
	}
	return -1;
}

/* See linetable.h. */
int
linetable_line(int format, const void *table, size_t len, int firstlineno,
    uint32_t byte_offset)
{
	if (byte_offset == LINETABLE_OFFSET_UNSTARTED)
		return firstlineno;
	if (table == NULL && len != 0)
		return -1;
	switch (format) {
	case WIRE_LINES_LNOTAB:
		return linetable_line_lnotab(table, len, firstlineno, byte_offset);
	case WIRE_LINES_PEP626:
		return linetable_line_pep626(table, len, firstlineno, byte_offset);
	case WIRE_LINES_LOCATIONS:
		return linetable_line_locations(table, len, firstlineno, byte_offset);
	}
	return -1;
}
