/*
 * symbolize.c: a small ELF reader that names the function around a code
 * address, for native frames (symbolize.h has the interface).
 *
 * Input is untrusted (a capture may name any file; files change on disk):
 * every offset, size and count read from the file is checked against the
 * file's length before use, every structure is copied out with memcpy (no
 * alignment assumption), and names must end inside their string table.
 * Only ELF64 little-endian (x86-64) is read.  A file is mapped read-only,
 * parsed into a self-contained table (symbols sorted by address, names
 * copied into one pool) and unmapped, so no long-lived mapping can fault
 * if the file is truncated later.
 *
 * Address translation: the controller knows, from /proc/PID/maps, the file
 * offset of an address (mapping offset + distance from the mapping start).
 * The PT_LOAD segment holding that offset turns it into the ELF virtual
 * address that symbols use; this handles executables, PIE and shared
 * objects alike (the load bias never matters).
 *
 * Lines: the DWARF line table (dwarf-line.c) of the file, else of its
 * separate debug file, its sections inflated first if compressed (zlib or
 * zstd); a file without one gives function names only.  Opening a file
 * only notes where its table is: it is read (mapped again, parsed,
 * unmapped) on the first line lookup, so names alone never pay for it.
 *
 * Symbols: STT_FUNC and STT_GNU_IFUNC with a section.  Of several names at
 * one address (aliases such as malloc and __libc_malloc) the one kept is
 * sized, then global before weak before local, then has fewer leading
 * underscores, then is shorter.  A lookup takes the nearest symbol at or
 * below the address and accepts it only if the address falls inside its
 * size (a few earlier symbols are tried for nested ones), so an address in
 * a function missing from .dynsym is reported unknown, not misnamed.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "memprof.h"
#include "dwarf-line.h"
#include "hmap.h"
#include "symbolize.h"

/* Where distributions install separate debug files (build-id and debuglink). */
#define SYMBOLIZE_DEBUG_ROOT	"/usr/lib/debug"
/* Earlier symbols tried when the nearest one does not cover an address. */
#define SYMBOLIZE_NESTED	4
/* A build-id longer than this is not a GNU build-id (SHA-1 is 20 bytes). */
#define SYMBOLIZE_BUILD_ID_MAX	64
/* A compressed debug section is inflated only up to this size. */
#define SYMBOLIZE_INFLATE_MAX	((uint64_t)1 << 30)
#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD	2
#endif

struct symbolize_load {
	uint64_t	off;
	uint64_t	filesz;
	uint64_t	vaddr;
};

struct symbolize_sym {
	uint64_t	value;
	uint64_t	size;
	uint32_t	name;		/* offset into names */
	uint32_t	rank;		/* lower is preferred among aliases */
};

struct symbolize_elf {
	struct symbolize_load	*loads;
	size_t			 nloads;
	struct symbolize_sym	*syms;
	size_t			 nsyms;
	char			*names;
	size_t			 names_len;
	int			 source;	/* SYMBOLIZE_SRC_*, 0: no symbols */
	unsigned char		 build_id[SYMBOLIZE_BUILD_ID_MAX];
	size_t			 build_id_len;
	char			*debuglink;
	struct dwarf_lines	 lines;		/* nrows 0: no line table (yet) */
	char			*lines_path;	/* the file with .debug_line, read on first use */
	uint64_t		 lines_inode;	/* its inode, 0: unchecked */
	int			 lines_read;	/* lines_path was read (or there is none) */
};

struct symbolize_entry {
	char			*path;
	uint64_t		 inode;
	struct symbolize_elf	*elf;		/* NULL: could not be read */
};

struct symbolize {
	struct symbolize_entry	*v;
	size_t			 n;
	struct hmap		 index;		/* hash(path, inode) -> index in v */
};

/* An ELF image being parsed. */
struct symbolize_image {
	const unsigned char	*b;
	size_t			 len;
	Elf64_Ehdr		 eh;
	uint64_t		 shnum;
	uint64_t		 shstrndx;
};

/* 1 if [off, off + size) lies inside an image of len bytes. */
static int
symbolize_in(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Read and check the ELF header and the section count; 0 or -1 and a message. */
static int
symbolize_read_header(struct symbolize_image *im, char **cause)
{
	Elf64_Shdr	sh0;

	if (im->len < sizeof im->eh) {
		xasprintf(cause, "too short for an ELF header");
		return -1;
	}
	memcpy(&im->eh, im->b, sizeof im->eh);
	if (memcmp(im->eh.e_ident, ELFMAG, SELFMAG) != 0) {
		xasprintf(cause, "not an ELF file");
		return -1;
	}
	if (im->eh.e_ident[EI_CLASS] != ELFCLASS64 || im->eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		xasprintf(cause, "not a 64-bit little-endian ELF file");
		return -1;
	}
	if (im->eh.e_type != ET_EXEC && im->eh.e_type != ET_DYN) {
		xasprintf(cause, "not an executable or shared object");
		return -1;
	}
	im->shnum = im->eh.e_shnum;
	im->shstrndx = im->eh.e_shstrndx;
	if (im->eh.e_shoff == 0)
		im->shnum = 0;
	else if (im->eh.e_shentsize != sizeof (Elf64_Shdr))
		im->shnum = 0;
	else if ((im->shnum == 0 || im->shstrndx == SHN_XINDEX) &&
	    symbolize_in(im->len, im->eh.e_shoff, sizeof sh0)) {
		/* Extended numbering: the real counts live in section header 0. */
		memcpy(&sh0, im->b + im->eh.e_shoff, sizeof sh0);
		if (im->shnum == 0)
			im->shnum = sh0.sh_size;
		if (im->shstrndx == SHN_XINDEX)
			im->shstrndx = sh0.sh_link;
	}
	if (im->shnum != 0 && (im->shnum > (im->len / sizeof (Elf64_Shdr)) ||
	    !symbolize_in(im->len, im->eh.e_shoff, im->shnum * sizeof (Elf64_Shdr))))
		im->shnum = 0;	/* no usable sections; segments may still be fine */
	return 0;
}

/* Section header i; 0 or -1 if it is out of range. */
static int
symbolize_section(const struct symbolize_image *im, uint64_t i, Elf64_Shdr *sh)
{
	if (i >= im->shnum)
		return -1;
	memcpy(sh, im->b + im->eh.e_shoff + i * sizeof *sh, sizeof *sh);
	return 0;
}

/* The contents of a section with file bytes; NULL if it has none or they are out of range. */
static const unsigned char *
symbolize_section_data(const struct symbolize_image *im, const Elf64_Shdr *sh)
{
	if (sh->sh_type == SHT_NOBITS || !symbolize_in(im->len, sh->sh_offset, sh->sh_size))
		return NULL;
	return im->b + sh->sh_offset;
}

/* Look for a GNU build-id note in len bytes of notes. */
static void
symbolize_read_notes(struct symbolize_elf *e, const unsigned char *p, uint64_t len)
{
	Elf64_Nhdr	nh;
	uint64_t	at = 0, namesz, descsz;

	while (len - at >= sizeof nh) {
		memcpy(&nh, p + at, sizeof nh);
		at += sizeof nh;
		namesz = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		descsz = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		if (namesz > len - at || descsz > len - at - namesz)
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(p + at, "GNU", 4) == 0 && nh.n_descsz > 0 &&
		    nh.n_descsz <= sizeof e->build_id) {
			memcpy(e->build_id, p + at + namesz, nh.n_descsz);
			e->build_id_len = nh.n_descsz;
			return;
		}
		at += namesz + descsz;
	}
}

/* Read the PT_LOAD segments (and a build-id note); 0 or -1 and a message. */
static int
symbolize_read_segments(struct symbolize_elf *e, const struct symbolize_image *im, char **cause)
{
	Elf64_Phdr	ph;
	uint64_t	i;

	if (im->eh.e_phentsize != sizeof ph || im->eh.e_phnum == 0 ||
	    !symbolize_in(im->len, im->eh.e_phoff, (uint64_t)im->eh.e_phnum * sizeof ph)) {
		xasprintf(cause, "no valid program headers");
		return -1;
	}
	for (i = 0; i < im->eh.e_phnum; i++) {
		memcpy(&ph, im->b + im->eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_NOTE && e->build_id_len == 0 &&
		    symbolize_in(im->len, ph.p_offset, ph.p_filesz))
			symbolize_read_notes(e, im->b + ph.p_offset, ph.p_filesz);
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0 || ph.p_offset > UINT64_MAX - ph.p_filesz)
			continue;
		e->loads = xreallocarray(e->loads, e->nloads + 1, sizeof *e->loads);
		e->loads[e->nloads].off = ph.p_offset;
		e->loads[e->nloads].filesz = ph.p_filesz;
		e->loads[e->nloads].vaddr = ph.p_vaddr;
		e->nloads++;
	}
	if (e->nloads == 0) {
		xasprintf(cause, "no loadable segment");
		return -1;
	}
	return 0;
}

/* Rank of a name among aliases at one address: sized, global, fewer underscores, shorter. */
static uint32_t
symbolize_rank(const Elf64_Sym *s, const char *name, size_t len)
{
	uint32_t	bind = ELF64_ST_BIND(s->st_info), r, u = 0;

	r = s->st_size == 0 ? 1U << 30 : 0;
	r |= (bind == STB_GLOBAL ? 0U : bind == STB_WEAK ? 1U : 2U) << 28;
	while (u < 15 && name[u] == '_')
		u++;
	r |= u << 24;
	r |= len > 0xffffff ? 0xffffff : (uint32_t)len;
	return r;
}

/* Add a name to the pool; returns its offset. */
static uint32_t
symbolize_add_name(struct symbolize_elf *e, const char *name, size_t len, size_t *cap)
{
	uint32_t	at = (uint32_t)e->names_len;

	if (e->names_len + len + 1 > *cap) {
		while (e->names_len + len + 1 > *cap)
			*cap = *cap == 0 ? 4096 : *cap * 2;
		e->names = xrealloc(e->names, *cap);
	}
	memcpy(e->names + e->names_len, name, len);
	e->names[e->names_len + len] = '\0';
	e->names_len += len + 1;
	return at;
}

/* qsort order: address, then the preferred alias first. */
static int
symbolize_cmp_syms(const void *a, const void *b)
{
	const struct symbolize_sym	*x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Read the function symbols of symbol table section sh into e; 0 or -1. */
static int
symbolize_read_symbols(struct symbolize_elf *e, const struct symbolize_image *im,
    const Elf64_Shdr *sh)
{
	const unsigned char	*syms, *strs;
	Elf64_Shdr		 strsh;
	Elf64_Sym		 s;
	const char		*name, *nul, *at;
	uint64_t		 i, n;
	size_t			 cap = 0, out, len;
	unsigned		 type;

	if (sh->sh_entsize != sizeof s || (syms = symbolize_section_data(im, sh)) == NULL)
		return -1;
	if (symbolize_section(im, sh->sh_link, &strsh) == -1 || strsh.sh_type != SHT_STRTAB ||
	    (strs = symbolize_section_data(im, &strsh)) == NULL)
		return -1;
	n = sh->sh_size / sizeof s;
	for (i = 0; i < n; i++) {
		memcpy(&s, syms + i * sizeof s, sizeof s);
		type = ELF64_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
		    s.st_value == 0 || s.st_name == 0 || s.st_name >= strsh.sh_size)
			continue;
		name = (const char *)strs + s.st_name;
		if ((nul = memchr(name, '\0', strsh.sh_size - s.st_name)) == NULL || nul == name)
			continue;
		len = (size_t)(nul - name);
		/* "__libc_start_main@@GLIBC_2.34": the version is noise in a report. */
		if ((at = memchr(name, '@', len)) != NULL && at != name)
			len = (size_t)(at - name);
		if ((e->nsyms & (e->nsyms - 1)) == 0)
			e->syms = xreallocarray(e->syms, e->nsyms == 0 ? 1 : e->nsyms * 2,
			    sizeof *e->syms);
		e->syms[e->nsyms].value = s.st_value;
		e->syms[e->nsyms].size = s.st_size;
		e->syms[e->nsyms].rank = symbolize_rank(&s, name, len);
		e->syms[e->nsyms].name = symbolize_add_name(e, name, len, &cap);
		e->nsyms++;
	}
	if (e->nsyms == 0)
		return -1;
	qsort(e->syms, e->nsyms, sizeof *e->syms, symbolize_cmp_syms);
	/* Keep the preferred alias at each address. */
	for (i = 1, out = 1; i < e->nsyms; i++) {
		if (e->syms[i].value != e->syms[out - 1].value)
			e->syms[out++] = e->syms[i];
	}
	e->nsyms = out;
	return 0;
}

/* Forget the symbols of e (before reading a better table). */
static void
symbolize_drop_symbols(struct symbolize_elf *e)
{
	free(e->syms);
	free(e->names);
	e->syms = NULL;
	e->names = NULL;
	e->nsyms = e->names_len = 0;
	e->source = 0;
}

/* The first section of a type, or -1. */
static int
symbolize_find_section(const struct symbolize_image *im, uint32_t type, Elf64_Shdr *sh)
{
	uint64_t	i;

	for (i = 0; i < im->shnum; i++) {
		if (symbolize_section(im, i, sh) == 0 && sh->sh_type == type)
			return 0;
	}
	return -1;
}

/* Remember the file name in .gnu_debuglink, if the image has one. */
static void
symbolize_read_debuglink(struct symbolize_elf *e, const struct symbolize_image *im)
{
	const unsigned char	*names, *data;
	Elf64_Shdr		 strsh, sh;
	uint64_t		 i;
	const char		*nul;

	if (symbolize_section(im, im->shstrndx, &strsh) == -1 ||
	    (names = symbolize_section_data(im, &strsh)) == NULL)
		return;
	for (i = 0; i < im->shnum; i++) {
		if (symbolize_section(im, i, &sh) == -1 || sh.sh_name >= strsh.sh_size ||
		    strsh.sh_size - sh.sh_name < sizeof ".gnu_debuglink" ||
		    memcmp(names + sh.sh_name, ".gnu_debuglink", sizeof ".gnu_debuglink") != 0)
			continue;
		if ((data = symbolize_section_data(im, &sh)) == NULL ||
		    (nul = memchr(data, '\0', sh.sh_size)) == NULL || nul == (const char *)data ||
		    memchr(data, '/', (size_t)(nul - (const char *)data)) != NULL)
			return;
		e->debuglink = xstrndup((const char *)data, (size_t)(nul - (const char *)data));
		return;
	}
}

/* The section called name, or -1. */
static int
symbolize_section_named(const struct symbolize_image *im, const char *name, Elf64_Shdr *sh)
{
	const unsigned char	*names;
	Elf64_Shdr		 strsh;
	size_t			 len = strlen(name) + 1;
	uint64_t		 i;

	if (symbolize_section(im, im->shstrndx, &strsh) == -1 ||
	    (names = symbolize_section_data(im, &strsh)) == NULL)
		return -1;
	for (i = 0; i < im->shnum; i++) {
		if (symbolize_section(im, i, sh) == 0 && sh->sh_name < strsh.sh_size &&
		    strsh.sh_size - sh->sh_name >= len &&
		    memcmp(names + sh->sh_name, name, len) == 0)
			return 0;
	}
	return -1;
}

/*
 * The bytes of the section called name, inflated if it is compressed
 * (SHF_COMPRESSED, zlib or zstd: *owned then gets the buffer to free);
 * NULL if it is absent or unreadable.
 */
static const unsigned char *
symbolize_section_bytes(const struct symbolize_image *im, const char *name, size_t *len,
    unsigned char **owned)
{
	const unsigned char	*data;
	unsigned char		*out;
	Elf64_Shdr		 sh;
	Elf64_Chdr		 ch;
	uLongf			 zlen;
	size_t			 n;

	*len = 0;
	*owned = NULL;
	if (symbolize_section_named(im, name, &sh) == -1 ||
	    (data = symbolize_section_data(im, &sh)) == NULL)
		return NULL;
	if (!(sh.sh_flags & SHF_COMPRESSED)) {
		*len = sh.sh_size;
		return data;
	}
	if (sh.sh_size < sizeof ch)
		return NULL;
	memcpy(&ch, data, sizeof ch);
	/* zlib inflates at most ~1032:1; real debug sections, 3-20:1. */
	if (ch.ch_size == 0 || ch.ch_size > SYMBOLIZE_INFLATE_MAX ||
	    ch.ch_size / 1100 > sh.sh_size)
		return NULL;
	out = xmalloc(ch.ch_size);
	if (ch.ch_type == ELFCOMPRESS_ZLIB) {
		zlen = (uLongf)ch.ch_size;
		if (uncompress(out, &zlen, data + sizeof ch, (uLong)(sh.sh_size - sizeof ch)) != Z_OK ||
		    zlen != ch.ch_size)
			goto fail;
	} else if (ch.ch_type == ELFCOMPRESS_ZSTD) {
		n = ZSTD_decompress(out, ch.ch_size, data + sizeof ch, sh.sh_size - sizeof ch);
		if (ZSTD_isError(n) || n != ch.ch_size)
			goto fail;
	} else
		goto fail;
	*owned = out;
	*len = ch.ch_size;
	return out;
fail:
	free(out);
	return NULL;
}

/* Read the DWARF line table of an image into e, if it has one and e has none yet. */
static void
symbolize_read_lines(struct symbolize_elf *e, const struct symbolize_image *im)
{
	struct dwarf_sections	 s;
	unsigned char		*own_line, *own_line_str, *own_str;

	if (e->lines.nrows != 0)
		return;
	memset(&s, 0, sizeof s);
	s.line = symbolize_section_bytes(im, ".debug_line", &s.line_len, &own_line);
	if (s.line != NULL) {
		s.line_str = symbolize_section_bytes(im, ".debug_line_str", &s.line_str_len,
		    &own_line_str);
		s.str = symbolize_section_bytes(im, ".debug_str", &s.str_len, &own_str);
		(void)dwarf_lines_parse(&s, &e->lines);
		free(own_line_str);
		free(own_str);
	}
	free(own_line);
}

/* Remember that the file at path (this image) has a line table, unless one is known already. */
static void
symbolize_note_lines(struct symbolize_elf *e, const struct symbolize_image *im, const char *path,
    uint64_t inode)
{
	Elf64_Shdr	sh;

	if (e->lines_path == NULL && !e->lines_read &&
	    symbolize_section_named(im, ".debug_line", &sh) == 0) {
		e->lines_path = xstrdup(path);
		e->lines_inode = inode;
	}
}

/*
 * Parse the main image: segments, then .symtab or (for now) .dynsym.  Its
 * line table is read now if lines is set (an image in memory), else only
 * noted (symbolize_note_lines) and read on first use.
 */
static int
symbolize_parse_image(struct symbolize_elf *e, const void *buf, size_t len, int lines,
    char **cause)
{
	struct symbolize_image	im;
	Elf64_Shdr		sh;

	memset(&im, 0, sizeof im);
	im.b = buf;
	im.len = len;
	if (symbolize_read_header(&im, cause) == -1 || symbolize_read_segments(e, &im, cause) == -1)
		return -1;
	if (lines) {
		symbolize_read_lines(e, &im);
		e->lines_read = 1;
	}
	if (symbolize_find_section(&im, SHT_SYMTAB, &sh) == 0 &&
	    symbolize_read_symbols(e, &im, &sh) == 0) {
		e->source = SYMBOLIZE_SRC_SYMTAB;
		return 0;
	}
	symbolize_drop_symbols(e);
	symbolize_read_debuglink(e, &im);
	if (symbolize_find_section(&im, SHT_DYNSYM, &sh) == 0 &&
	    symbolize_read_symbols(e, &im, &sh) == 0)
		e->source = SYMBOLIZE_SRC_DYNSYM;
	else
		symbolize_drop_symbols(e);
	return 0;
}

/* Map a regular file read-only; NULL and a message on failure. */
static void *
symbolize_map(const char *path, uint64_t inode, size_t *len, char **cause)
{
	struct stat	 st;
	void		*m;
	int		 fd;

	/* O_NONBLOCK: a capture may name a FIFO; opening one must not hang. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof (Elf64_Ehdr)) {
		xasprintf(cause, "%s: not a regular ELF file", path);
		close(fd);
		return NULL;
	}
	if (inode != 0 && (uint64_t)st.st_ino != inode) {
		xasprintf(cause, "%s: the file changed since the recording", path);
		close(fd);
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	return m;
}

/* Look for a build-id in the SHT_NOTE sections (a debug file's segments have no bytes). */
static void
symbolize_read_note_sections(struct symbolize_elf *e, const struct symbolize_image *im)
{
	const unsigned char	*data;
	Elf64_Shdr		 sh;
	uint64_t		 i;

	for (i = 0; i < im->shnum && e->build_id_len == 0; i++) {
		if (symbolize_section(im, i, &sh) == 0 && sh.sh_type == SHT_NOTE &&
		    (data = symbolize_section_data(im, &sh)) != NULL)
			symbolize_read_notes(e, data, sh.sh_size);
	}
}

/*
 * Read what e lacks from a separate debug file at path: .symtab unless e
 * has its own, and the line table; 0 if it gave either, else -1.
 */
static int
symbolize_try_debug(struct symbolize_elf *e, const char *path)
{
	struct symbolize_elf	 d;
	struct symbolize_image	 im;
	Elf64_Shdr		 sh;
	char			*cause = NULL;
	void			*m;
	size_t			 len;
	int			 rc = -1;

	if ((m = symbolize_map(path, 0, &len, &cause)) == NULL) {
		free(cause);
		return -1;
	}
	memset(&d, 0, sizeof d);
	memset(&im, 0, sizeof im);
	im.b = m;
	im.len = len;
	if (symbolize_read_header(&im, &cause) == 0) {
		/* A debuglink names a file, not a build: refuse a mismatched one. */
		if (e->build_id_len != 0)
			symbolize_read_note_sections(&d, &im);
		if (d.build_id_len != 0 && e->build_id_len != 0 &&
		    (d.build_id_len != e->build_id_len ||
		    memcmp(d.build_id, e->build_id, d.build_id_len) != 0))
			goto out;
		if (e->source != SYMBOLIZE_SRC_SYMTAB &&
		    symbolize_find_section(&im, SHT_SYMTAB, &sh) == 0 &&
		    symbolize_read_symbols(&d, &im, &sh) == 0) {
			symbolize_drop_symbols(e);
			e->syms = d.syms;
			e->nsyms = d.nsyms;
			e->names = d.names;
			e->names_len = d.names_len;
			e->source = SYMBOLIZE_SRC_DEBUG;
			d.syms = NULL;
			d.names = NULL;
			rc = 0;
		}
		symbolize_note_lines(e, &im, path, 0);
		if (e->lines_path != NULL)
			rc = 0;
	}
out:
	free(cause);
	free(d.loads);
	free(d.syms);
	free(d.names);
	free(d.debuglink);
	munmap(m, len);
	return rc;
}

/* Look for a separate debug file by build-id, then by .gnu_debuglink. */
static void
symbolize_find_debug(struct symbolize_elf *e, const char *path)
{
	char	 buf[PATH_MAX], hex[2 * SYMBOLIZE_BUILD_ID_MAX + 1], *dir, *slash;
	size_t	 i;

	if (e->build_id_len > 1) {
		for (i = 0; i < e->build_id_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", e->build_id[i]);
		snprintf(buf, sizeof buf, "%s/.build-id/%.2s/%s.debug", SYMBOLIZE_DEBUG_ROOT, hex,
		    hex + 2);
		if (symbolize_try_debug(e, buf) == 0)
			return;
	}
	if (e->debuglink == NULL || (dir = realpath(path, NULL)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	snprintf(buf, sizeof buf, "%s%s/%s", SYMBOLIZE_DEBUG_ROOT, dir, e->debuglink);
	if (symbolize_try_debug(e, buf) != 0) {
		snprintf(buf, sizeof buf, "%s/.debug/%s", dir, e->debuglink);
		(void)symbolize_try_debug(e, buf);
	}
	free(dir);
}

/* Parse an ELF image held in memory. */
struct symbolize_elf *
symbolize_elf_parse(const void *buf, size_t len, char **cause)
{
	struct symbolize_elf	*e = xcalloc(1, sizeof *e);

	if (symbolize_parse_image(e, buf, len, 1, cause) == -1) {
		symbolize_elf_close(e);
		return NULL;
	}
	return e;
}

/*
 * Open and read an ELF file, with a separate debug file when it has no
 * .symtab or no line table; where the line table is is only noted.
 */
static struct symbolize_elf *
symbolize_elf_open_inode(const char *path, uint64_t inode, char **cause)
{
	struct symbolize_elf	*e;
	struct symbolize_image	 im;
	char			*ignored = NULL;
	void			*m;
	size_t			 len;

	if ((m = symbolize_map(path, inode, &len, cause)) == NULL)
		return NULL;
	e = xcalloc(1, sizeof *e);
	if (symbolize_parse_image(e, m, len, 0, cause) == -1) {
		munmap(m, len);
		symbolize_elf_close(e);
		return NULL;
	}
	memset(&im, 0, sizeof im);
	im.b = m;
	im.len = len;
	if (symbolize_read_header(&im, &ignored) == 0)
		symbolize_note_lines(e, &im, path, inode);
	free(ignored);
	munmap(m, len);
	if (e->source != SYMBOLIZE_SRC_SYMTAB || e->lines_path == NULL)
		symbolize_find_debug(e, path);
	return e;
}

/* Read the line table noted by symbolize_note_lines, once. */
static void
symbolize_load_lines(struct symbolize_elf *e)
{
	struct symbolize_image	 im;
	char			*cause = NULL;
	void			*m;
	size_t			 len;

	e->lines_read = 1;
	if (e->lines_path == NULL ||
	    (m = symbolize_map(e->lines_path, e->lines_inode, &len, &cause)) == NULL) {
		free(cause);
		return;
	}
	memset(&im, 0, sizeof im);
	im.b = m;
	im.len = len;
	if (symbolize_read_header(&im, &cause) == 0)
		symbolize_read_lines(e, &im);
	free(cause);
	munmap(m, len);
}

/* Open and read one ELF file; NULL and a message if it cannot be used. */
struct symbolize_elf *
symbolize_elf_open(const char *path, char **cause)
{
	return symbolize_elf_open_inode(path, 0, cause);
}

/* Free a parsed file. */
void
symbolize_elf_close(struct symbolize_elf *e)
{
	if (e == NULL)
		return;
	free(e->loads);
	free(e->syms);
	free(e->names);
	free(e->debuglink);
	free(e->lines_path);
	dwarf_lines_free(&e->lines);
	free(e);
}

/* The function containing an ELF virtual address, or NULL. */
const char *
symbolize_elf_find_vaddr(const struct symbolize_elf *e, uint64_t vaddr, uint64_t *sym_off)
{
	const struct symbolize_sym	*s;
	size_t				 lo = 0, hi = e->nsyms, mid, i;

	/* The last symbol at or below vaddr. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (e->syms[mid].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i > 0 && lo - i < SYMBOLIZE_NESTED; i--) {
		s = &e->syms[i - 1];
		if (vaddr - s->value < s->size || (s->size == 0 && vaddr == s->value)) {
			if (sym_off != NULL)
				*sym_off = vaddr - s->value;
			return e->names + s->name;
		}
	}
	return NULL;
}

/* The function containing file offset off, or NULL. */
const char *
symbolize_elf_find(const struct symbolize_elf *e, uint64_t off, uint64_t *sym_off)
{
	const struct symbolize_load	*l;
	size_t				 i;

	for (i = 0; i < e->nloads; i++) {
		l = &e->loads[i];
		if (off >= l->off && off - l->off < l->filesz)
			return symbolize_elf_find_vaddr(e, l->vaddr + (off - l->off), sym_off);
	}
	return NULL;
}

/* Number of function symbols read. */
size_t
symbolize_elf_count(const struct symbolize_elf *e)
{
	return e->nsyms;
}

/* Where the symbols came from (SYMBOLIZE_SRC_*, 0: none). */
int
symbolize_elf_source(const struct symbolize_elf *e)
{
	return e->source;
}

/* Create an empty cache. */
struct symbolize *
symbolize_create(void)
{
	struct symbolize	*sy = xcalloc(1, sizeof *sy);

	hmap_init(&sy->index);
	return sy;
}

/* Free the cache and every file in it. */
void
symbolize_free(struct symbolize *sy)
{
	size_t	i;

	if (sy == NULL)
		return;
	for (i = 0; i < sy->n; i++) {
		free(sy->v[i].path);
		symbolize_elf_close(sy->v[i].elf);
	}
	free(sy->v);
	hmap_free(&sy->index);
	free(sy);
}

/* The cached file for (path, inode), reading it on first use; NULL if unusable. */
static struct symbolize_elf *
symbolize_get(struct symbolize *sy, const char *path, uint64_t inode)
{
	struct symbolize_entry	*en;
	uint64_t		 key, *v;
	char			*cause = NULL;

	key = hmap_hash_bytes(path, strlen(path), inode) | 1;
	while ((v = hmap_get(&sy->index, key)) != NULL) {
		en = &sy->v[*v];
		if (en->inode == inode && strcmp(en->path, path) == 0)
			return en->elf;
		key = hmap_mix(key) | 1;
	}
	sy->v = xreallocarray(sy->v, sy->n + 1, sizeof *sy->v);
	en = &sy->v[sy->n];
	en->path = xstrdup(path);
	en->inode = inode;
	/* Failures are cached too: a missing file is looked for once. */
	en->elf = symbolize_elf_open_inode(path, inode, &cause);
	free(cause);
	hmap_put(&sy->index, key, sy->n++);
	return en->elf;
}

/* The function at file offset off of path, or NULL; *vaddr gets its ELF address if known. */
const char *
symbolize_lookup(struct symbolize *sy, const char *path, uint64_t inode, uint64_t off,
    uint64_t *vaddr)
{
	const struct symbolize_load	*l;
	struct symbolize_elf		*e;
	size_t				 i;

	*vaddr = off;
	if (path == NULL || *path != '/' || (e = symbolize_get(sy, path, inode)) == NULL)
		return NULL;
	for (i = 0; i < e->nloads; i++) {
		l = &e->loads[i];
		if (off >= l->off && off - l->off < l->filesz) {
			*vaddr = l->vaddr + (off - l->off);
			return symbolize_elf_find_vaddr(e, *vaddr, NULL);
		}
	}
	return NULL;
}

/* Source file and line of ELF virtual address vaddr; 0, or -1 if unknown. */
int
symbolize_elf_find_line(struct symbolize_elf *e, uint64_t vaddr, const char **file,
    uint32_t *line)
{
	if (!e->lines_read)
		symbolize_load_lines(e);
	return dwarf_lines_find(&e->lines, vaddr, file, line);
}

/* Source file and line of ELF virtual address vaddr of path; 0, or -1 if unknown. */
int
symbolize_lookup_line(struct symbolize *sy, const char *path, uint64_t inode, uint64_t vaddr,
    const char **file, uint32_t *line)
{
	struct symbolize_elf	*e;

	if (path == NULL || *path != '/' || (e = symbolize_get(sy, path, inode)) == NULL)
		return -1;
	return symbolize_elf_find_line(e, vaddr, file, line);
}
