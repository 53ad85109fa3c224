/*
 * dwarf-line.h: source file and line of a code address, from an ELF file's
 * DWARF line-number programs (.debug_line, versions 2 to 5), for native
 * frames.  symbolize.c finds the sections (in the file or its separate
 * debug file, decompressing them if needed) and keeps the result with the
 * file's symbols.
 */

#ifndef MEMPROF_DWARF_LINE_H
#define MEMPROF_DWARF_LINE_H

#include <stddef.h>
#include <stdint.h>

/* The raw sections a line program refers to; absent ones are NULL with length 0. */
struct dwarf_sections {
	const unsigned char	*line;		/* .debug_line */
	size_t			 line_len;
	const unsigned char	*line_str;	/* .debug_line_str (DWARF 5 file names) */
	size_t			 line_str_len;
	const unsigned char	*str;		/* .debug_str */
	size_t			 str_len;
};

struct dwarf_line_row;

/* Every row of every sequence, sorted by address; file names copied out. */
struct dwarf_lines {
	struct dwarf_line_row	*rows;
	size_t			 nrows;
	char			*names;		/* NUL-terminated paths */
	size_t			 names_len;
	uint32_t		*files;		/* file id -> offset into names */
	size_t			 nfiles;
};

/*
 * Parse every line-number program of s into l (which it fills in; free it
 * with dwarf_lines_free).  Untrusted input: a malformed unit ends the parse
 * there, keeping the units before it.  0 if at least one row was read,
 * else -1.
 */
int		 dwarf_lines_parse(const struct dwarf_sections *s, struct dwarf_lines *l);
void		 dwarf_lines_free(struct dwarf_lines *);
/* File and line of the instruction at ELF virtual address vaddr; 0, or -1 if unknown. */
int		 dwarf_lines_find(const struct dwarf_lines *, uint64_t vaddr, const char **file,
		    uint32_t *line);

#endif /* MEMPROF_DWARF_LINE_H */
