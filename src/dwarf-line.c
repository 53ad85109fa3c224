/*
 * dwarf-line.c: reads DWARF line-number programs (.debug_line, DWARF 2 to
 * 5) into one table of rows sorted by address, so that a native frame can
 * say "Objects/listobject.c:74" as well as its function.
 *
 * Each unit (one per compilation unit) has a header (the opcode parameters,
 * its directories and file names: NUL-terminated lists before DWARF 5,
 * typed entries with string forms from DWARF 5 on) and a program of
 * opcodes driving a small state machine whose rows map addresses to (file,
 * line).  The rows of one sequence (a contiguous range of code) only move
 * forward; a sequence ends with a row past its last byte, kept here with
 * line 0 so a lookup past the end finds nothing.  Sequences are sorted by
 * their first address and concatenated, which makes the whole table
 * sorted; those of discarded code (address 0, or the all-ones tombstones
 * of lld) and any that move backwards are dropped.  File names are joined
 * with their directory and interned once across units.
 *
 * Input is untrusted: every read is bounds-checked against its unit, a
 * malformed unit ends the parse with the units before it kept, and the
 * table is capped (DWARF_LINE_MAX_ROWS).
 */

#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "hmap.h"
#include "dwarf-line.h"

/*
 * Rows kept from one file at most (16 bytes each, 64 MiB): libpython has
 * about a million; of a bigger table (a debug build of a large C++ library)
 * the units past the cap have no lines.
 */
#define DWARF_LINE_MAX_ROWS	(1U << 22)
/* Entries of a DWARF 5 directory or file format description at most. */
#define DWARF_LINE_MAX_FORMAT	16

/* Opcodes (DWARF 5, section 6.2.5) and forms (7.5.6) used here. */
enum {
	DW_LNS_copy = 1, DW_LNS_advance_pc, DW_LNS_advance_line, DW_LNS_set_file,
	DW_LNS_set_column, DW_LNS_negate_stmt, DW_LNS_set_basic_block, DW_LNS_const_add_pc,
	DW_LNS_fixed_advance_pc,
	DW_LNE_end_sequence = 1, DW_LNE_set_address = 2,
	DW_LNCT_path = 1, DW_LNCT_directory_index = 2,
	DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05,
	DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07, DW_FORM_string = 0x08,
	DW_FORM_block = 0x09, DW_FORM_block1 = 0x0a, DW_FORM_data1 = 0x0b,
	DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f, DW_FORM_data16 = 0x1e,
	DW_FORM_line_strp = 0x1f,
};

struct dwarf_line_row {
	uint64_t	addr;
	uint32_t	file;		/* file id */
	uint32_t	line;		/* 0: no line (the end of a sequence) */
};

/* A bounds-checked cursor; bad is set by the first read past the end. */
struct dwarf_reader {
	const unsigned char	*p;
	const unsigned char	*end;
	int			 bad;
};

/* One sequence of rows, by its place in the parse's row vector. */
struct dwarf_sequence {
	uint64_t	addr;
	size_t		first;
	size_t		n;
};

/* Everything a parse builds before the final table. */
struct dwarf_parse {
	const struct dwarf_sections	*s;
	struct dwarf_lines		*l;
	struct hmap			 file_index;	/* hash(path) -> file id */
	size_t				 names_cap;
	struct dwarf_line_row		*rows;
	size_t				 nrows;
	struct dwarf_sequence		*seqs;
	size_t				 nseqs;
	int				 full;		/* DWARF_LINE_MAX_ROWS reached */
};

/* A unit's header: what its program needs. */
struct dwarf_unit {
	int			 version;
	int			 offset64;
	unsigned		 min_inst;
	int			 line_base;
	unsigned		 line_range;
	unsigned		 opcode_base;
	unsigned char		 std_len[256];
	uint32_t		*files;		/* the unit's file index -> file id */
	size_t			 nfiles;
	int			 first_file;	/* 1 before DWARF 5, 0 from it */
	const char		**dirs;
	size_t			 ndirs;
};

static uint64_t
dwarf_fixed(struct dwarf_reader *r, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

/* A LEB128 number, sign-extended if sign is set; 0 (and bad) if it runs past the end. */
static uint64_t
dwarf_leb(struct dwarf_reader *r, int sign)
{
	uint64_t	v = 0;
	unsigned	shift = 0;
	unsigned char	b;

	do {
		if (r->bad || r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return v;
}

static uint64_t
dwarf_uleb(struct dwarf_reader *r)
{
	return dwarf_leb(r, 0);
}

static int64_t
dwarf_sleb(struct dwarf_reader *r)
{
	return (int64_t)dwarf_leb(r, 1);
}

static void
dwarf_skip(struct dwarf_reader *r, uint64_t n)
{
	if (r->bad || (uint64_t)(r->end - r->p) < n) {
		r->bad = 1;
		return;
	}
	r->p += n;
}

/* An inline NUL-terminated string; NULL (and bad) if it runs past the end. */
static const char *
dwarf_cstr(struct dwarf_reader *r)
{
	const unsigned char	*nul;
	const char		*s;

	if (r->bad || (nul = memchr(r->p, '\0', (size_t)(r->end - r->p))) == NULL) {
		r->bad = 1;
		return NULL;
	}
	s = (const char *)r->p;
	r->p = nul + 1;
	return s;
}

/* The string at offset off of a string section; NULL if out of range or unterminated. */
static const char *
dwarf_section_str(const unsigned char *sec, size_t len, uint64_t off)
{
	if (sec == NULL || off >= len || memchr(sec + off, '\0', len - off) == NULL)
		return NULL;
	return (const char *)sec + off;
}

/*
 * Read one attribute of a DWARF 5 entry in form; a string form gives *str
 * (NULL if it points nowhere), an integer form *num.  0, or -1 for a form
 * this reader does not know (the rest of the unit cannot be found).
 */
static int
dwarf_form(struct dwarf_parse *dp, struct dwarf_reader *r, const struct dwarf_unit *u,
    uint64_t form, const char **str, uint64_t *num)
{
	uint64_t	off;

	*str = NULL;
	*num = 0;
	switch (form) {
	case DW_FORM_string:
		*str = dwarf_cstr(r);
		return 0;
	case DW_FORM_line_strp:
	case DW_FORM_strp:
		off = dwarf_fixed(r, u->offset64 ? 8 : 4);
		*str = form == DW_FORM_line_strp ?
		    dwarf_section_str(dp->s->line_str, dp->s->line_str_len, off) :
		    dwarf_section_str(dp->s->str, dp->s->str_len, off);
		return 0;
	case DW_FORM_udata:
		*num = dwarf_uleb(r);
		return 0;
	case DW_FORM_data1:
		*num = dwarf_fixed(r, 1);
		return 0;
	case DW_FORM_data2:
		*num = dwarf_fixed(r, 2);
		return 0;
	case DW_FORM_data4:
		*num = dwarf_fixed(r, 4);
		return 0;
	case DW_FORM_data8:
		*num = dwarf_fixed(r, 8);
		return 0;
	case DW_FORM_data16:
		dwarf_skip(r, 16);
		return 0;
	case DW_FORM_block:
		dwarf_skip(r, dwarf_uleb(r));
		return 0;
	case DW_FORM_block1:
		dwarf_skip(r, dwarf_fixed(r, 1));
		return 0;
	case DW_FORM_block2:
		dwarf_skip(r, dwarf_fixed(r, 2));
		return 0;
	case DW_FORM_block4:
		dwarf_skip(r, dwarf_fixed(r, 4));
		return 0;
	}
	return -1;
}

/*
 * The file id of a path made of up to three parts (compilation directory,
 * directory, name; NULL or empty ones left out), from the last absolute
 * one on, interned.
 */
static uint32_t
dwarf_intern_file(struct dwarf_parse *dp, const char *const part[3])
{
	struct dwarf_lines	*l = dp->l;
	size_t			 plen[3], len = 0;
	uint64_t		 key, *v;
	char			*at;
	int			 i, from = 0;

	for (i = 0; i < 3; i++) {
		plen[i] = part[i] != NULL ? strlen(part[i]) : 0;
		if (plen[i] != 0 && part[i][0] == '/')
			from = i;
	}
	for (i = from; i < 3; i++)
		len += plen[i] + (plen[i] != 0);
	if (len == 0)
		len = 1;	/* "?" */
	/* Build the path at the end of the pool; it stays there only if it is new. */
	if (l->names_len + len + 1 > dp->names_cap) {
		while (l->names_len + len + 1 > dp->names_cap)
			dp->names_cap = dp->names_cap == 0 ? 4096 : dp->names_cap * 2;
		l->names = xrealloc(l->names, dp->names_cap);
	}
	at = l->names + l->names_len;
	len = 0;
	for (i = from; i < 3; i++) {
		if (plen[i] == 0)
			continue;
		if (len != 0 && at[len - 1] != '/')
			at[len++] = '/';
		memcpy(at + len, part[i], plen[i]);
		len += plen[i];
	}
	if (len == 0)
		at[len++] = '?';
	at[len] = '\0';
	key = hmap_hash_bytes(at, len, 0) | 1;
	while ((v = hmap_get(&dp->file_index, key)) != NULL) {
		if (strcmp(l->names + l->files[*v], at) == 0)
			return (uint32_t)*v;
		key = hmap_mix(key) | 1;
	}
	if ((l->nfiles & (l->nfiles - 1)) == 0)
		l->files = xreallocarray(l->files, l->nfiles == 0 ? 1 : l->nfiles * 2,
		    sizeof *l->files);
	l->files[l->nfiles] = (uint32_t)l->names_len;
	l->names_len += len + 1;
	hmap_put(&dp->file_index, key, l->nfiles);
	return (uint32_t)l->nfiles++;
}

/*
 * Add a file of the unit (its index is the next one): its name under its
 * directory, a relative directory under the compilation directory
 * (directory 0, which only DWARF 5 names here).
 */
static void
dwarf_unit_file(struct dwarf_parse *dp, struct dwarf_unit *u, const char *name, uint64_t dir)
{
	const char	*part[3] = { NULL, NULL, name };

	if (dir < u->ndirs) {
		part[1] = u->dirs[dir];
		if (dir != 0 && u->ndirs > 0)
			part[0] = u->dirs[0];
	}
	if ((u->nfiles & (u->nfiles - 1)) == 0)
		u->files = xreallocarray(u->files, u->nfiles == 0 ? 1 : u->nfiles * 2,
		    sizeof *u->files);
	u->files[u->nfiles++] = dwarf_intern_file(dp, part);
}

/* Add a directory of the unit. */
static void
dwarf_unit_dir(struct dwarf_unit *u, const char *dir)
{
	if ((u->ndirs & (u->ndirs - 1)) == 0)
		u->dirs = xreallocarray(u->dirs, u->ndirs == 0 ? 1 : u->ndirs * 2, sizeof *u->dirs);
	u->dirs[u->ndirs++] = dir;
}

/* DWARF 2-4 directories and files: NUL-terminated lists, each ended by an empty entry. */
static int
dwarf_tables_v4(struct dwarf_parse *dp, struct dwarf_reader *r, struct dwarf_unit *u)
{
	const char	*s;
	uint64_t	 dir;

	/* Directory 0 is the compilation directory, which only .debug_info names. */
	dwarf_unit_dir(u, NULL);
	while ((s = dwarf_cstr(r)) != NULL && *s != '\0')
		dwarf_unit_dir(u, s);
	/* File 0 does not exist before DWARF 5: a placeholder keeps indexes direct. */
	dwarf_unit_file(dp, u, NULL, 0);
	while ((s = dwarf_cstr(r)) != NULL && *s != '\0') {
		dir = dwarf_uleb(r);
		(void)dwarf_uleb(r);	/* modification time */
		(void)dwarf_uleb(r);	/* length */
		if (r->bad)
			return -1;
		dwarf_unit_file(dp, u, s, dir);
	}
	return r->bad ? -1 : 0;
}

/* DWARF 5: an entry format, then count entries of it (directories, or files if dirs is 0). */
static int
dwarf_entries_v5(struct dwarf_parse *dp, struct dwarf_reader *r, struct dwarf_unit *u,
    int dirs)
{
	uint64_t	 type[DWARF_LINE_MAX_FORMAT], form[DWARF_LINE_MAX_FORMAT], count, i, num, dir;
	unsigned	 nformat, j;
	const char	*str, *path;

	nformat = (unsigned)dwarf_fixed(r, 1);
	if (nformat > DWARF_LINE_MAX_FORMAT)
		return -1;
	for (j = 0; j < nformat; j++) {
		type[j] = dwarf_uleb(r);
		form[j] = dwarf_uleb(r);
	}
	count = dwarf_uleb(r);
	/* Each entry takes at least a byte: a count beyond what is left is malformed. */
	if (r->bad || count > (uint64_t)(r->end - r->p))
		return -1;
	for (i = 0; i < count; i++) {
		path = NULL;
		dir = 0;
		for (j = 0; j < nformat; j++) {
			if (dwarf_form(dp, r, u, form[j], &str, &num) == -1 || r->bad)
				return -1;
			if (type[j] == DW_LNCT_path)
				path = str;
			else if (type[j] == DW_LNCT_directory_index)
				dir = num;
		}
		if (dirs)
			dwarf_unit_dir(u, path);
		else
			dwarf_unit_file(dp, u, path, dir);
	}
	return 0;
}

/* Append a row to the current sequence; 0, or -1 once the table is full. */
static int
dwarf_emit(struct dwarf_parse *dp, uint64_t addr, uint32_t file, uint32_t line)
{
	if (dp->nrows >= DWARF_LINE_MAX_ROWS) {
		dp->full = 1;
		return -1;
	}
	if ((dp->nrows & (dp->nrows - 1)) == 0)
		dp->rows = xreallocarray(dp->rows, dp->nrows == 0 ? 1 : dp->nrows * 2,
		    sizeof *dp->rows);
	dp->rows[dp->nrows].addr = addr;
	dp->rows[dp->nrows].file = file;
	dp->rows[dp->nrows].line = line;
	dp->nrows++;
	return 0;
}

/*
 * Close the sequence of rows [first, nrows): keep it if it covers real code
 * and moves forward, else forget its rows.
 */
static void
dwarf_end_sequence(struct dwarf_parse *dp, size_t first)
{
	size_t	i, n = dp->nrows - first;
	int	keep = n >= 2 && dp->rows[first].addr != 0 &&
		    dp->rows[dp->nrows - 1].addr < UINT64_MAX - 1;

	for (i = first + 1; keep && i < dp->nrows; i++)
		keep = dp->rows[i].addr >= dp->rows[i - 1].addr;
	if (!keep) {
		dp->nrows = first;
		return;
	}
	if ((dp->nseqs & (dp->nseqs - 1)) == 0)
		dp->seqs = xreallocarray(dp->seqs, dp->nseqs == 0 ? 1 : dp->nseqs * 2,
		    sizeof *dp->seqs);
	dp->seqs[dp->nseqs].addr = dp->rows[first].addr;
	dp->seqs[dp->nseqs].first = first;
	dp->seqs[dp->nseqs].n = n;
	dp->nseqs++;
}

/* The file id of the unit's file index i (an unknown index gives the placeholder "?"). */
static uint32_t
dwarf_file_id(struct dwarf_parse *dp, const struct dwarf_unit *u, uint64_t i)
{
	static const char *const	unknown[3] = { NULL, NULL, "?" };

	if (i < u->nfiles)
		return u->files[i];
	return dwarf_intern_file(dp, unknown);
}

/* A line register as a row's line: 0 (none) unless in 1..INT32_MAX. */
static uint32_t
dwarf_line(uint64_t line)
{
	return line >= 1 && line <= INT32_MAX ? (uint32_t)line : 0;
}

/* Run a unit's line program over [r->p, r->end); 0, or -1 if it was malformed. */
static int
dwarf_program(struct dwarf_parse *dp, struct dwarf_reader *r, const struct dwarf_unit *u)
{
	uint64_t	addr = 0, file = 1, line = 1, n;
	size_t		first = dp->nrows;
	unsigned	op, adj, i;

	while (r->p < r->end && !r->bad) {
		op = *r->p++;
		if (op >= u->opcode_base) {
			adj = op - u->opcode_base;
			addr += (uint64_t)(adj / u->line_range) * u->min_inst;
			/* Wrapping arithmetic: hostile input cannot make this undefined. */
			line += (uint64_t)(int64_t)u->line_base + adj % u->line_range;
			if (dwarf_emit(dp, addr, dwarf_file_id(dp, u, file), dwarf_line(line)) == -1)
				return -1;
			continue;
		}
		switch (op) {
		case 0:		/* extended */
			n = dwarf_uleb(r);
			if (n == 0 || r->bad || n > (uint64_t)(r->end - r->p))
				return -1;
			op = *r->p++;
			n--;
			if (op == DW_LNE_end_sequence) {
				if (dwarf_emit(dp, addr, dwarf_file_id(dp, u, file), 0) == -1)
					return -1;
				dwarf_end_sequence(dp, first);
				first = dp->nrows;
				addr = 0;
				file = 1;
				line = 1;
			} else if (op == DW_LNE_set_address && (n == 8 || n == 4))
				addr = dwarf_fixed(r, (size_t)n);
			else
				dwarf_skip(r, n);
			break;
		case DW_LNS_copy:
			if (dwarf_emit(dp, addr, dwarf_file_id(dp, u, file), dwarf_line(line)) == -1)
				return -1;
			break;
		case DW_LNS_advance_pc:
			addr += dwarf_uleb(r) * u->min_inst;
			break;
		case DW_LNS_advance_line:
			line += (uint64_t)dwarf_sleb(r);
			break;
		case DW_LNS_set_file:
			file = dwarf_uleb(r);
			break;
		case DW_LNS_const_add_pc:
			addr += (uint64_t)((255 - u->opcode_base) / u->line_range) * u->min_inst;
			break;
		case DW_LNS_fixed_advance_pc:
			addr += dwarf_fixed(r, 2);
			break;
		case DW_LNS_set_column:
		case DW_LNS_negate_stmt:
		case DW_LNS_set_basic_block:
		default:
			/* Any other standard opcode: skip its operands, as the header says. */
			for (i = 0; i < u->std_len[op]; i++)
				(void)dwarf_uleb(r);
			break;
		}
	}
	/* Rows of a sequence the unit never ended are dropped. */
	dp->nrows = first;
	return r->bad ? -1 : 0;
}

/* Parse the unit starting at r->p; r->p moves past it.  0, or -1 to stop. */
static int
dwarf_unit(struct dwarf_parse *dp, struct dwarf_reader *r)
{
	struct dwarf_unit	u;
	struct dwarf_reader	h, prog;
	uint64_t		length, header_length;
	const unsigned char	*unit_end;
	unsigned		i;
	int			rc = -1;

	memset(&u, 0, sizeof u);
	length = dwarf_fixed(r, 4);
	if (length == 0xffffffffU) {
		u.offset64 = 1;
		length = dwarf_fixed(r, 8);
	} else if (length >= 0xfffffff0U)
		return -1;
	if (r->bad || length > (uint64_t)(r->end - r->p))
		return -1;
	unit_end = r->p + length;
	h.p = r->p;
	h.end = unit_end;
	h.bad = 0;
	r->p = unit_end;

	u.version = (int)dwarf_fixed(&h, 2);
	if (u.version < 2 || u.version > 5)
		return h.bad ? -1 : 0;	/* a version we do not read: skip it */
	if (u.version >= 5)
		dwarf_skip(&h, 2);	/* address_size, segment_selector_size */
	header_length = dwarf_fixed(&h, u.offset64 ? 8 : 4);
	if (h.bad || header_length > (uint64_t)(h.end - h.p))
		return -1;
	prog.p = h.p + header_length;
	prog.end = unit_end;
	prog.bad = 0;
	h.end = prog.p;
	u.min_inst = (unsigned)dwarf_fixed(&h, 1);
	if (u.version >= 4)
		(void)dwarf_fixed(&h, 1);	/* maximum_operations_per_instruction: VLIW only */
	(void)dwarf_fixed(&h, 1);		/* default_is_stmt */
	u.line_base = (int)(signed char)dwarf_fixed(&h, 1);
	u.line_range = (unsigned)dwarf_fixed(&h, 1);
	u.opcode_base = (unsigned)dwarf_fixed(&h, 1);
	if (h.bad || u.line_range == 0 || u.opcode_base == 0)
		return -1;
	for (i = 1; i < u.opcode_base; i++)
		u.std_len[i] = (unsigned char)dwarf_fixed(&h, 1);
	if (h.bad)
		return -1;
	if (u.version >= 5) {
		if (dwarf_entries_v5(dp, &h, &u, 1) == -1 || dwarf_entries_v5(dp, &h, &u, 0) == -1)
			goto out;
	} else if (dwarf_tables_v4(dp, &h, &u) == -1)
		goto out;
	rc = dwarf_program(dp, &prog, &u);
out:
	free(u.files);
	free(u.dirs);
	return rc;
}

/* qsort order of sequences: first address, then earlier in the file first. */
static int
dwarf_cmp_seqs(const void *a, const void *b)
{
	const struct dwarf_sequence	*x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

int
dwarf_lines_parse(const struct dwarf_sections *s, struct dwarf_lines *l)
{
	struct dwarf_parse	dp;
	struct dwarf_reader	r;
	size_t			i, at = 0;

	memset(l, 0, sizeof *l);
	memset(&dp, 0, sizeof dp);
	if (s->line == NULL || s->line_len == 0)
		return -1;
	dp.s = s;
	dp.l = l;
	hmap_init(&dp.file_index);
	r.p = s->line;
	r.end = s->line + s->line_len;
	r.bad = 0;
	while (r.p < r.end && !dp.full && dwarf_unit(&dp, &r) == 0)
		continue;
	hmap_free(&dp.file_index);

	if (dp.nseqs > 0) {
		qsort(dp.seqs, dp.nseqs, sizeof *dp.seqs, dwarf_cmp_seqs);
		l->rows = xreallocarray(NULL, dp.nrows, sizeof *l->rows);
		for (i = 0; i < dp.nseqs; i++) {
			/* A sequence overlapping the one before it (bad input) is left out. */
			if (at > 0 && dp.seqs[i].addr < l->rows[at - 1].addr)
				continue;
			memcpy(l->rows + at, dp.rows + dp.seqs[i].first,
			    dp.seqs[i].n * sizeof *l->rows);
			at += dp.seqs[i].n;
		}
		l->nrows = at;
	}
	free(dp.rows);
	free(dp.seqs);
	if (l->nrows == 0) {
		dwarf_lines_free(l);
		return -1;
	}
	return 0;
}

void
dwarf_lines_free(struct dwarf_lines *l)
{
	free(l->rows);
	free(l->names);
	free(l->files);
	memset(l, 0, sizeof *l);
}

int
dwarf_lines_find(const struct dwarf_lines *l, uint64_t vaddr, const char **file, uint32_t *line)
{
	size_t	lo = 0, hi = l->nrows, mid;

	/* The last row at or below vaddr: of rows at one address, the last one. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->rows[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || l->rows[lo - 1].line == 0 || l->rows[lo - 1].file >= l->nfiles)
		return -1;
	*file = l->names + l->files[l->rows[lo - 1].file];
	*line = l->rows[lo - 1].line;
	return 0;
}
