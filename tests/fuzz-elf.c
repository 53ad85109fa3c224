/*
 * fuzz-elf.c: libFuzzer target for the native-frame inputs the controller
 * reads: ELF files (symbolize.c: headers, segments, sections, symbol and
 * string tables, notes, debuglink, compressed sections), DWARF line
 * programs (dwarf-line.c: input starting with 'D' is a .debug_line section,
 * its second half standing in for .debug_line_str and .debug_str) and
 * /proc/PID/maps text (modules.c: input starting with 'M').
 * Build with ./configure --enable-fuzzing CC=clang; run tests/fuzz-elf
 * [corpus] (seed it with a few small binaries and .so files).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "dwarf-line.h"
#include "modules.h"
#include "symbolize.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symbolize_elf	*e;
	struct module_map	*maps;
	char			*cause = NULL;
	uint64_t		 probe, off;
	size_t			 n, i;

	if (size < 1)
		return 0;
	if (data[0] == 'D') {
		struct dwarf_sections	s;
		struct dwarf_lines	l;
		const char		*file;
		uint32_t		 line;

		memset(&s, 0, sizeof s);
		s.line = data + 1;
		s.line_len = size - 1;
		s.line_str = s.str = data + 1 + (size - 1) / 2;
		s.line_str_len = s.str_len = (size - 1) - (size - 1) / 2;
		if (dwarf_lines_parse(&s, &l) == 0) {
			for (i = 1; i + 8 <= size && i < 256; i += 8) {
				memcpy(&probe, data + i, sizeof probe);
				(void)dwarf_lines_find(&l, probe, &file, &line);
			}
			dwarf_lines_free(&l);
		}
		return 0;
	}
	if (data[0] == 'M') {
		if (modules_parse_maps((const char *)data + 1, size - 1, &maps, &n) == 0)
			modules_free_maps(maps, n);
		return 0;
	}
	if ((e = symbolize_elf_parse(data, size, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	/* Probe addresses taken from the input itself, and the edges of the space. */
	for (i = 0; i + 8 <= size && i < 256; i += 8) {
		memcpy(&probe, data + i, sizeof probe);
		(void)symbolize_elf_find(e, probe, &off);
		(void)symbolize_elf_find_vaddr(e, probe, &off);
	}
	(void)symbolize_elf_find_vaddr(e, 0, NULL);
	{
		const char	*file;
		uint32_t	 line;

		for (i = 0; i + 8 <= size && i < 256; i += 8) {
			memcpy(&probe, data + i, sizeof probe);
			(void)symbolize_elf_find_line(e, probe, &file, &line);
		}
	}
	(void)symbolize_elf_find_vaddr(e, UINT64_MAX, NULL);
	symbolize_elf_close(e);
	return 0;
}
