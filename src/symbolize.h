/*
 * symbolize.h: function names for native return addresses, read from the
 * ELF files the profiled process had mapped (no libelf, no libdw).  The
 * controller calls it when it interns a native frame (profile.c), live and
 * when reading a capture; docs/native.md describes the whole path.
 *
 * A struct symbolize is a cache of ELF files by path (and inode, so a file
 * replaced on disk since the recording is noticed).  Each file is read once:
 * its PT_LOAD segments, to turn a file offset into an ELF virtual address,
 * and one sorted table of its function symbols, from .symtab, else from a
 * separate debug file (build-id or .gnu_debuglink under /usr/lib/debug),
 * else from .dynsym; and its DWARF line table, if it or its debug file has
 * one (dwarf-line.h).  Names are copied out and the file is unmapped at
 * once.
 */

#ifndef MEMPROF_SYMBOLIZE_H
#define MEMPROF_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct symbolize;
struct symbolize_elf;

/* Where a symbol table came from (struct symbolize_elf's source). */
#define SYMBOLIZE_SRC_SYMTAB	1	/* the file's own .symtab */
#define SYMBOLIZE_SRC_DEBUG	2	/* .symtab of a separate debug file */
#define SYMBOLIZE_SRC_DYNSYM	3	/* .dynsym only: exported functions */

struct symbolize	*symbolize_create(void);
void			 symbolize_free(struct symbolize *);
/*
 * The name of the function containing the byte at file offset off of path's
 * code, or NULL if none is known (no such file, not ELF, changed inode, no
 * symbol covering it).  *vaddr gets the byte's ELF virtual address (what
 * addr2line -e path takes), or off when the file cannot say.  inode 0 skips
 * the inode check.  The string belongs to the cache and lives until
 * symbolize_free.
 */
const char		*symbolize_lookup(struct symbolize *, const char *path, uint64_t inode,
			    uint64_t off, uint64_t *vaddr);

/*
 * Source file and line of ELF virtual address vaddr of path (as
 * symbolize_lookup gives it), from the file's DWARF line table or its
 * separate debug file's; 0, or -1 if unknown.  *file lives until
 * symbolize_free.
 */
int			 symbolize_lookup_line(struct symbolize *, const char *path,
			    uint64_t inode, uint64_t vaddr, const char **file, uint32_t *line);

/* One ELF file, for the cache and for tests. */
struct symbolize_elf	*symbolize_elf_open(const char *path, char **cause);
/* Parse an ELF image in memory (not kept: names are copied); NULL and a message if malformed. */
struct symbolize_elf	*symbolize_elf_parse(const void *buf, size_t len, char **cause);
void			 symbolize_elf_close(struct symbolize_elf *);
/* Function containing file offset off, or NULL; *sym_off gets the offset into it. */
const char		*symbolize_elf_find(const struct symbolize_elf *, uint64_t off,
			    uint64_t *sym_off);
/* Function containing ELF virtual address vaddr, or NULL. */
const char		*symbolize_elf_find_vaddr(const struct symbolize_elf *, uint64_t vaddr,
			    uint64_t *sym_off);
/*
 * Source file and line of ELF virtual address vaddr; 0, or -1 if unknown.
 * A file's line table is read on the first call (names alone need none).
 */
int			 symbolize_elf_find_line(struct symbolize_elf *, uint64_t vaddr,
			    const char **file, uint32_t *line);
size_t			 symbolize_elf_count(const struct symbolize_elf *);
int			 symbolize_elf_source(const struct symbolize_elf *);

#endif /* MEMPROF_SYMBOLIZE_H */
