/*
 * test-dwarf-line.c: unit tests for the DWARF line-table reader
 * (dwarf-line.c) on line programs built here byte by byte, DWARF 5 and
 * DWARF 4, whose every row is known: lookups inside, between and past the
 * sequences, file names joined with their directories, discarded code
 * (address 0) left out; then every truncation and thousands of corruptions
 * of those programs, which must fail or parse cleanly (run under ASan and
 * UBSan in CI).  Real line tables are checked against addr2line in
 * test-symbolize.c.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"
#include "dwarf-line.h"

/* A growing byte buffer. */
struct buf {
	unsigned char	b[1024];
	size_t		n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof b->b);
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
put_u8(struct buf *b, unsigned v)
{
	unsigned char	c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put_le(struct buf *b, uint64_t v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		put_u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static void
put_uleb(struct buf *b, uint64_t v)
{
	do {
		put_u8(b, (unsigned)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
}

static void
put_sleb(struct buf *b, int64_t v)
{
	int	more = 1;

	while (more) {
		unsigned char	c = (unsigned char)(v & 0x7f);

		v >>= 7;
		if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40)))
			more = 0;
		else
			c |= 0x80;
		put_u8(b, c);
	}
}

static void
put_str(struct buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

/* Opcode parameters shared by both programs. */
#define LINE_BASE	(-5)
#define LINE_RANGE	14
#define OPCODE_BASE	13

static const unsigned char std_lengths[OPCODE_BASE - 1] = { 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1 };

static void
op_set_address(struct buf *b, uint64_t a)
{
	put_u8(b, 0);
	put_uleb(b, 9);
	put_u8(b, 2);		/* DW_LNE_set_address */
	put_le(b, a, 8);
}

static void
op_end_sequence(struct buf *b)
{
	put_u8(b, 0);
	put_uleb(b, 1);
	put_u8(b, 1);		/* DW_LNE_end_sequence */
}

/* A special opcode: address += addr_adv, line += line_adv, then a row. */
static void
op_special(struct buf *b, unsigned addr_adv, int line_adv)
{
	put_u8(b, (unsigned)(line_adv - LINE_BASE) + LINE_RANGE * addr_adv + OPCODE_BASE);
}

/*
 * The program both versions run, with first the index of file a.c (0 in
 * DWARF 5, 1 before) and then b.h's:
 *   0x1000 a.c:10, 0x1004 a.c:12, 0x100c b.h:12, end at 0x1010;
 *   then a sequence of discarded code at address 0 (left out);
 *   then 0x2000 b.h:100 (advance_line -50 from 150), end at 0x2008.
 */
static void
put_program(struct buf *b, unsigned file_a, unsigned file_b)
{
	op_set_address(b, 0x1000);
	put_u8(b, 4);			/* DW_LNS_set_file */
	put_uleb(b, file_a);
	put_u8(b, 3);			/* DW_LNS_advance_line */
	put_sleb(b, 9);
	put_u8(b, 1);			/* DW_LNS_copy: 0x1000 a.c:10 */
	op_special(b, 4, 2);		/* 0x1004 a.c:12 */
	put_u8(b, 4);
	put_uleb(b, file_b);
	put_u8(b, 2);			/* DW_LNS_advance_pc */
	put_uleb(b, 8);
	put_u8(b, 1);			/* 0x100c b.h:12 */
	put_u8(b, 2);
	put_uleb(b, 4);
	op_end_sequence(b);		/* 0x1010 */

	op_set_address(b, 0);
	put_u8(b, 1);
	put_u8(b, 2);
	put_uleb(b, 64);
	op_end_sequence(b);

	op_set_address(b, 0x2000);
	put_u8(b, 4);
	put_uleb(b, file_b);
	put_u8(b, 3);
	put_sleb(b, 149);
	put_u8(b, 5);			/* DW_LNS_set_column: an operand to skip */
	put_uleb(b, 7);
	put_u8(b, 3);
	put_sleb(b, -50);
	put_u8(b, 1);			/* 0x2000 b.h:100 */
	put_u8(b, 9);			/* DW_LNS_fixed_advance_pc */
	put_le(b, 8, 2);
	op_end_sequence(b);		/* 0x2008 */
}

/* Wrap header fields and a program into a unit: unit_length, version, ..., program. */
static void
put_unit(struct buf *out, int version, const struct buf *tables, const struct buf *program)
{
	struct buf	h;
	size_t		i;

	memset(&h, 0, sizeof h);
	put_u8(&h, 1);			/* minimum_instruction_length */
	if (version >= 4)
		put_u8(&h, 1);		/* maximum_operations_per_instruction */
	put_u8(&h, 1);			/* default_is_stmt */
	put_u8(&h, (unsigned)(LINE_BASE & 0xff));
	put_u8(&h, LINE_RANGE);
	put_u8(&h, OPCODE_BASE);
	for (i = 0; i < sizeof std_lengths; i++)
		put_u8(&h, std_lengths[i]);
	put(&h, tables->b, tables->n);

	put_le(out, 2 + (version >= 5 ? 2 : 0) + 4 + h.n + program->n, 4);
	put_le(out, (uint64_t)version, 2);
	if (version >= 5) {
		put_u8(out, 8);		/* address_size */
		put_u8(out, 0);		/* segment_selector_size */
	}
	put_le(out, h.n, 4);		/* header_length */
	put(out, h.b, h.n);
	put(out, program->b, program->n);
}

/* A DWARF 5 unit: directories /src (the compilation directory) and inc, files a.c and inc/b.h. */
static void
build_v5(struct buf *out, struct buf *line_str)
{
	struct buf	t, p;

	memset(&t, 0, sizeof t);
	memset(&p, 0, sizeof p);
	/* Directories: one format (path as DW_FORM_line_strp), two entries. */
	put_u8(&t, 1);
	put_uleb(&t, 1);		/* DW_LNCT_path */
	put_uleb(&t, 0x1f);		/* DW_FORM_line_strp */
	put_uleb(&t, 2);
	put_le(&t, line_str->n, 4);
	put_str(line_str, "/src");
	put_le(&t, line_str->n, 4);
	put_str(line_str, "inc");
	/* Files: path (DW_FORM_string), directory index (udata), MD5 (data16), two entries. */
	put_u8(&t, 3);
	put_uleb(&t, 1);
	put_uleb(&t, 0x08);
	put_uleb(&t, 2);		/* DW_LNCT_directory_index */
	put_uleb(&t, 0x0f);
	put_uleb(&t, 5);		/* DW_LNCT_MD5 */
	put_uleb(&t, 0x1e);
	put_uleb(&t, 2);
	put_str(&t, "a.c");
	put_uleb(&t, 0);
	put(&t, "0123456789abcdef", 16);
	put_str(&t, "b.h");
	put_uleb(&t, 1);
	put(&t, "0123456789abcdef", 16);
	put_program(&p, 0, 1);
	put_unit(out, 5, &t, &p);
}

/* A DWARF 4 unit: include directory /usr/include/x, files a.c and b.h in it. */
static void
build_v4(struct buf *out)
{
	struct buf	t, p;

	memset(&t, 0, sizeof t);
	memset(&p, 0, sizeof p);
	put_str(&t, "/usr/include/x");
	put_u8(&t, 0);
	put_str(&t, "a.c");
	put_uleb(&t, 0);
	put_uleb(&t, 0);
	put_uleb(&t, 0);
	put_str(&t, "b.h");
	put_uleb(&t, 1);
	put_uleb(&t, 0);
	put_uleb(&t, 0);
	put_u8(&t, 0);
	put_program(&p, 1, 2);
	put_unit(out, 4, &t, &p);
}

/* Look addr up: "file:line", or "-" if unknown. */
static const char *
where(const struct dwarf_lines *l, uint64_t addr)
{
	static char	out[256];
	const char	*file;
	uint32_t	 line;

	if (dwarf_lines_find(l, addr, &file, &line) != 0)
		return "-";
	snprintf(out, sizeof out, "%s:%u", file, line);
	return out;
}

/* The rows of the shared program, with a.c and b.h where the version puts them. */
static void
check_program(const struct dwarf_lines *l, const char *a, const char *b)
{
	char	want[256];

	assert_string_equal(where(l, 0xfff), "-");
	snprintf(want, sizeof want, "%s:10", a);
	assert_string_equal(where(l, 0x1000), want);
	assert_string_equal(where(l, 0x1003), want);
	snprintf(want, sizeof want, "%s:12", a);
	assert_string_equal(where(l, 0x1004), want);
	assert_string_equal(where(l, 0x100b), want);
	snprintf(want, sizeof want, "%s:12", b);
	assert_string_equal(where(l, 0x100c), want);
	assert_string_equal(where(l, 0x100f), want);
	/* Past the end of a sequence, and inside the discarded one: nothing. */
	assert_string_equal(where(l, 0x1010), "-");
	assert_string_equal(where(l, 0x1fff), "-");
	assert_string_equal(where(l, 0x10), "-");
	snprintf(want, sizeof want, "%s:100", b);
	assert_string_equal(where(l, 0x2000), want);
	assert_string_equal(where(l, 0x2007), want);
	assert_string_equal(where(l, 0x2008), "-");
	assert_string_equal(where(l, UINT64_MAX), "-");
}

static void
test_v5(void **state)
{
	struct dwarf_sections	s;
	struct dwarf_lines	l;
	struct buf		unit, strs;

	(void)state;
	memset(&unit, 0, sizeof unit);
	memset(&strs, 0, sizeof strs);
	build_v5(&unit, &strs);
	memset(&s, 0, sizeof s);
	s.line = unit.b;
	s.line_len = unit.n;
	s.line_str = strs.b;
	s.line_str_len = strs.n;
	assert_int_equal(dwarf_lines_parse(&s, &l), 0);
	/* Directory 0 is the compilation directory; a relative directory lies under it. */
	check_program(&l, "/src/a.c", "/src/inc/b.h");
	dwarf_lines_free(&l);
}

static void
test_v4(void **state)
{
	struct dwarf_sections	s;
	struct dwarf_lines	l;
	struct buf		unit;

	(void)state;
	memset(&unit, 0, sizeof unit);
	build_v4(&unit);
	memset(&s, 0, sizeof s);
	s.line = unit.b;
	s.line_len = unit.n;
	assert_int_equal(dwarf_lines_parse(&s, &l), 0);
	/* Directory 0 (the compilation directory) is not named before DWARF 5. */
	check_program(&l, "a.c", "/usr/include/x/b.h");
	dwarf_lines_free(&l);
}

/* Two units in one section, and a unit of an unknown version between them, skipped. */
static void
test_several_units(void **state)
{
	struct dwarf_sections	s;
	struct dwarf_lines	l;
	struct buf		all, strs, v4;

	(void)state;
	memset(&all, 0, sizeof all);
	memset(&strs, 0, sizeof strs);
	memset(&v4, 0, sizeof v4);
	build_v5(&all, &strs);
	put_le(&all, 6, 4);		/* a version 9 unit of 6 bytes */
	put_le(&all, 9, 2);
	put_le(&all, 0, 4);
	build_v4(&v4);
	put(&all, v4.b, v4.n);
	memset(&s, 0, sizeof s);
	s.line = all.b;
	s.line_len = all.n;
	s.line_str = strs.b;
	s.line_str_len = strs.n;
	assert_int_equal(dwarf_lines_parse(&s, &l), 0);
	/* Both cover the same addresses: the first unit's sequence wins, the overlap is left out. */
	assert_string_equal(where(&l, 0x1000), "/src/a.c:10");
	assert_string_equal(where(&l, 0x2000), "/src/inc/b.h:100");
	assert_string_equal(where(&l, 0x1010), "-");
	dwarf_lines_free(&l);
}

/* Parse a possibly broken section and probe it; must not crash or leak. */
static void
try_parse(const unsigned char *line, size_t len, const struct buf *strs)
{
	struct dwarf_sections	s;
	struct dwarf_lines	l;
	uint64_t		a;

	memset(&s, 0, sizeof s);
	s.line = line;
	s.line_len = len;
	s.line_str = strs->b;
	s.line_str_len = strs->n;
	if (dwarf_lines_parse(&s, &l) != 0)
		return;
	for (a = 0xff0; a < 0x1020; a++)
		(void)where(&l, a);
	(void)where(&l, 0x2004);
	dwarf_lines_free(&l);
}

/* Every truncation and many corruptions of both versions fail or parse cleanly. */
static void
test_malformed(void **state)
{
	struct buf	unit, strs, bad;
	size_t		cut, i;
	unsigned	seed = 4242;
	int		v;

	(void)state;
	for (v = 4; v <= 5; v++) {
		memset(&unit, 0, sizeof unit);
		memset(&strs, 0, sizeof strs);
		if (v == 5)
			build_v5(&unit, &strs);
		else
			build_v4(&unit);
		for (cut = 0; cut <= unit.n; cut++)
			try_parse(unit.b, cut, &strs);
		for (i = 0; i < 20000; i++) {
			bad = unit;
			seed = seed * 1103515245 + 12345;
			bad.b[(seed >> 8) % bad.n] ^= (unsigned char)(1U << ((seed >> 4) % 8));
			seed = seed * 1103515245 + 12345;
			if (i % 3 == 0)
				bad.b[(seed >> 8) % bad.n] = (unsigned char)(seed >> 20);
			try_parse(bad.b, bad.n, &strs);
		}
	}
	/* Huge counts and lengths. */
	memset(&bad, 0, sizeof bad);
	put_le(&bad, 0xffffffff, 4);
	put_le(&bad, UINT64_MAX, 8);
	try_parse(bad.b, bad.n, &strs);
	memset(&bad, 0xff, sizeof bad.b);
	try_parse(bad.b, sizeof bad.b, &strs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v5),
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_several_units),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("dwarf-line", tests, NULL, NULL);
}
