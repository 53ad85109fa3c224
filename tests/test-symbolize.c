/*
 * test-symbolize.c: unit tests for native symbolization: the ELF reader
 * (symbolize.c) on this test binary itself and on the C library, as mapped
 * in this process (modules.c reads /proc/self/maps); the maps parser on a
 * fixture text; malformed ELF input (truncations, garbage, bit flips,
 * non-files) that must fail cleanly; and the model (profile.c) turning
 * MODULE and STACK records into named frames and choosing sites; the
 * collector's maps watcher on a fixture proc root.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "memprof.h"
#include "hmap.h"
#include "modules.h"
#include "profile.h"
#include "symbolize.h"

/* Kept out of line and not cloned, so the symbol table has it under its own name. */
#if defined(__clang__)
#define NATIVE_NOINLINE	__attribute__((noinline))
#else
#define NATIVE_NOINLINE	__attribute__((noinline, noclone))
#endif

int	symbolize_test_target(int);

/* A function with a known name in this binary's .symtab. */
NATIVE_NOINLINE int
symbolize_test_target(int x)
{
	volatile int	y = x;

	return y * 3 + 1;
}

/* Load this process's executable file mappings. */
static struct module_map *
self_maps(size_t *n)
{
	struct module_map	*maps;

	assert_int_equal(modules_read_maps("/proc", getpid(), &maps, n), 0);
	assert_true(*n > 0);
	return maps;
}

/* The mapping covering addr, or fail. */
static const struct module_map *
find_map(const struct module_map *maps, size_t n, uintptr_t addr)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (addr >= maps[i].start && addr < maps[i].end)
			return &maps[i];
	}
	fail_msg("no executable mapping covers %#lx", (unsigned long)addr);
	return NULL;
}

/* Symbolize a runtime address of this process through the cache. */
static const char *
lookup_self(struct symbolize *sy, const struct module_map *maps, size_t n, uintptr_t addr)
{
	const struct module_map	*m = find_map(maps, n, addr);
	uint64_t		 vaddr;

	return symbolize_lookup(sy, m->path, m->inode, addr - m->start + m->offset, &vaddr);
}

/* libc's own malloc (not a sanitizer's interposed one). */
static uintptr_t
libc_function(const char *name)
{
	void	*h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void	*f;

	assert_non_null(h);
	f = dlsym(h, name);
	assert_non_null(f);
	dlclose(h);
	return (uintptr_t)f;
}

/* A function of this binary resolves to its name, anywhere inside it. */
static void
test_self_function(void **state)
{
	struct symbolize	*sy = symbolize_create();
	struct module_map	*maps;
	uintptr_t		 a = (uintptr_t)symbolize_test_target;
	const char		*name;
	size_t			 n;

	(void)state;
	maps = self_maps(&n);
	name = lookup_self(sy, maps, n, a);
	assert_non_null(name);
	assert_string_equal(name, "symbolize_test_target");
	name = lookup_self(sy, maps, n, a + 4);
	assert_non_null(name);
	assert_string_equal(name, "symbolize_test_target");
	name = lookup_self(sy, maps, n, (uintptr_t)test_self_function + 1);
	assert_non_null(name);
	assert_string_equal(name, "test_self_function");
	/* A wrong inode means the file changed: no name rather than a wrong one. */
	{
		const struct module_map	*m = find_map(maps, n, a);
		uint64_t		 vaddr;

		assert_null(symbolize_lookup(sy, m->path, m->inode + 1, a - m->start + m->offset,
		    &vaddr));
	}
	modules_free_maps(maps, n);
	symbolize_free(sy);
}

/* libc's malloc resolves to malloc or one of its aliases; a stripped libc still has .dynsym. */
static void
test_libc_malloc(void **state)
{
	struct symbolize	*sy = symbolize_create();
	struct module_map	*maps;
	const char		*name;
	size_t			 n;

	(void)state;
	maps = self_maps(&n);
	name = lookup_self(sy, maps, n, libc_function("malloc") + 1);
	assert_non_null(name);
	if (strcmp(name, "malloc") != 0 && strcmp(name, "__libc_malloc") != 0 &&
	    strcmp(name, "__malloc") != 0)
		fail_msg("libc malloc resolved to %s", name);
	name = lookup_self(sy, maps, n, libc_function("qsort"));
	assert_non_null(name);
	assert_non_null(strstr(name, "qsort"));
	modules_free_maps(maps, n);
	symbolize_free(sy);
}

/* The ELF reader's view of libc: where its symbols came from and how fast lookups are. */
static void
test_libc_table(void **state)
{
	struct symbolize_elf	*e;
	struct module_map	*maps;
	const struct module_map	*m;
	struct timespec		 t0, t1;
	uintptr_t		 a = libc_function("malloc");
	char			*cause = NULL;
	size_t			 n, i, found = 0;
	uint64_t		 base;
	double			 ns;

	(void)state;
	maps = self_maps(&n);
	m = find_map(maps, n, a);
	e = symbolize_elf_open(m->path, &cause);
	assert_non_null(e);
	assert_true(symbolize_elf_count(e) > 100);
	assert_true(symbolize_elf_source(e) >= SYMBOLIZE_SRC_SYMTAB &&
	    symbolize_elf_source(e) <= SYMBOLIZE_SRC_DYNSYM);
	/* Informational only (tests never assert on time): a million lookups. */
	base = m->offset;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 1000000; i++) {
		if (symbolize_elf_find(e, base + (i * 7919) % (m->end - m->start), NULL) != NULL)
			found++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	print_message("libc: %zu function symbols from %s; 1e6 lookups in %.1f ms (%.0f ns each), "
	    "%zu named\n", symbolize_elf_count(e),
	    symbolize_elf_source(e) == SYMBOLIZE_SRC_SYMTAB ? ".symtab" :
	    symbolize_elf_source(e) == SYMBOLIZE_SRC_DEBUG ? "a debug file" : ".dynsym",
	    ns / 1e6, ns / 1e6, found);
	assert_true(found > 0);
	symbolize_elf_close(e);
	modules_free_maps(maps, n);
}

/*
 * Source lines of this binary (built with -g, as configure's default
 * CFLAGS are): the target function's own lines, and for addresses across
 * several functions the same line numbers as binutils' addr2line (whose
 * file names can be wrong for DWARF 5 header code, so only the lines are
 * compared).
 */
static void
test_self_lines(void **state)
{
	static const uintptr_t	 fns[] = {
		(uintptr_t)symbolize_test_target, (uintptr_t)test_self_function,
		(uintptr_t)lookup_self, (uintptr_t)symbolize_lookup, (uintptr_t)profile_add_process,
		(uintptr_t)hmap_put, (uintptr_t)modules_parse_maps,
	};
	struct symbolize	*sy = symbolize_create();
	struct module_map	*maps;
	const struct module_map	*m;
	const char		*file, *base;
	char			 cmd[16384], got[256];
	uint64_t		 vaddr[7 * 24];
	uint32_t		 line[7 * 24];
	int			 known[7 * 24];
	size_t			 n, i, k, nv = 0, len, checked = 0;
	FILE			*p;

	(void)state;
	maps = self_maps(&n);
	m = find_map(maps, n, (uintptr_t)symbolize_test_target);
	(void)symbolize_lookup(sy, m->path, m->inode,
	    (uintptr_t)symbolize_test_target - m->start + m->offset, &vaddr[0]);
	if (symbolize_lookup_line(sy, m->path, m->inode, vaddr[0], &file, &line[0]) != 0) {
		modules_free_maps(maps, n);
		symbolize_free(sy);
		print_message("this test binary has no DWARF line table (built without -g)\n");
		skip();
	}
	base = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
	assert_string_equal(base, "test-symbolize.c");
	/* symbolize_test_target spans these lines of this file. */
	assert_true(line[0] >= 43 && line[0] <= 49);

	len = (size_t)snprintf(cmd, sizeof cmd, "addr2line -e '%s'", m->path);
	for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		m = find_map(maps, n, fns[i]);
		for (k = 0; k < 24; k++) {
			(void)symbolize_lookup(sy, m->path, m->inode,
			    fns[i] + k * 5 - m->start + m->offset, &vaddr[nv]);
			known[nv] = symbolize_lookup_line(sy, m->path, m->inode, vaddr[nv], &file,
			    &line[nv]) == 0;
			len += (size_t)snprintf(cmd + len, sizeof cmd - len, " %#llx",
			    (unsigned long long)vaddr[nv]);
			nv++;
		}
	}
	assert_true(len < sizeof cmd - 32);
	snprintf(cmd + len, sizeof cmd - len, " 2>/dev/null");
	if (system("command -v addr2line >/dev/null 2>&1") != 0) {
		print_message("addr2line not found: lines not compared with it\n");
		goto out;
	}
	assert_non_null(p = popen(cmd, "r"));
	for (i = 0; i < nv && fgets(got, sizeof got, p) != NULL; i++) {
		char	*colon = strrchr(got, ':');
		long	 theirs = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;

		/* "file:line (discriminator N)" or "??:?" / "??:0" when unknown. */
		if (colon == NULL || theirs <= 0) {
			if (known[i])
				fail_msg("%#llx: ours line %u, addr2line %s", (unsigned long long)vaddr[i],
				    line[i], got);
			continue;
		}
		if (!known[i] || (long)line[i] != theirs)
			fail_msg("%#llx: ours %s%u, addr2line %s", (unsigned long long)vaddr[i],
			    known[i] ? "line " : "unknown ", known[i] ? line[i] : 0, got);
		checked++;
	}
	pclose(p);
	assert_int_equal(i, nv);
	print_message("%zu of %zu addresses have lines, all as addr2line says\n", checked, nv);
	assert_true(checked > nv / 2);
out:
	modules_free_maps(maps, n);
	symbolize_free(sy);
}

/* /proc/PID/maps text: only executable file mappings are kept, paths with spaces whole. */
static void
test_parse_maps(void **state)
{
	static const char	 text[] =
	    "55d4c5a00000-55d4c5a02000 r--p 00000000 08:01 1234 /usr/bin/prog\n"
	    "55d4c5a02000-55d4c5a05000 r-xp 00002000 08:01 1234 /usr/bin/prog\n"
	    "55d4c6000000-55d4c6021000 rw-p 00000000 00:00 0 [heap]\n"
	    "7f0000000000-7f0000010000 r-xp 00001000 fd:02 99 /opt/my lib/libx.so (deleted)\n"
	    "7f0000020000-7f0000030000 rwxp 00000000 00:00 0 \n"
	    "7ffd1000000-7ffd1002000 r-xp 00000000 00:00 0                          [vdso]\n";
	struct module_map	*maps;
	size_t			 n;

	(void)state;
	assert_int_equal(modules_parse_maps(text, sizeof text - 1, &maps, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(maps[0].start, 0x55d4c5a02000ULL);
	assert_int_equal(maps[0].end, 0x55d4c5a05000ULL);
	assert_int_equal(maps[0].offset, 0x2000);
	assert_int_equal(maps[0].inode, 1234);
	assert_int_equal(maps[0].dev_major, 8);
	assert_string_equal(maps[0].path, "/usr/bin/prog");
	assert_string_equal(maps[1].path, "/opt/my lib/libx.so (deleted)");
	assert_int_equal(maps[1].dev_major, 0xfd);
	assert_int_equal(maps[1].dev_minor, 2);
	modules_free_maps(maps, n);

	assert_int_equal(modules_parse_maps("zz-1 r-xp 0 0:0 0 /x\n", 21, &maps, &n), -1);
	assert_int_equal(modules_parse_maps("2000-1000 r-xp 0 0:0 0 /x\n", 26, &maps, &n), -1);
	assert_int_equal(modules_parse_maps("1000-2000 r-xp\n", 15, &maps, &n), -1);
	assert_int_equal(modules_parse_maps("1000-2000 r-xp 0 0:0 x /x\n", 26, &maps, &n), -1);
	assert_int_equal(modules_parse_maps("", 0, &maps, &n), 0);
	assert_int_equal(n, 0);
	/* A process that does not exist. */
	assert_int_equal(modules_read_maps("/proc", 0x7ffffff0, &maps, &n), -1);
}

/* Read a whole file into memory. */
static unsigned char *
read_file(const char *path, size_t *len)
{
	struct stat	 st;
	unsigned char	*b;
	int		 fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = xmalloc((size_t)st.st_size);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

/* Parse and look up: a malformed image may give no names but must never crash. */
static void
try_image(const unsigned char *b, size_t len, uint64_t probe)
{
	struct symbolize_elf	*e;
	char			*cause = NULL;
	const char		*file;
	uint32_t		 line;

	e = symbolize_elf_parse(b, len, &cause);
	if (e == NULL) {
		assert_non_null(cause);
		free(cause);
		return;
	}
	(void)symbolize_elf_find(e, probe, NULL);
	(void)symbolize_elf_find_vaddr(e, probe, NULL);
	(void)symbolize_elf_find_line(e, probe, &file, &line);
	symbolize_elf_close(e);
}

/* Truncated, corrupted and non-ELF inputs fail cleanly. */
static void
test_malformed(void **state)
{
	unsigned char	*b, *c, garbage[4096];
	char		*cause = NULL;
	size_t		 len, cut, i;
	uint64_t	 probe = (uint64_t)((uintptr_t)symbolize_test_target & 0xfffff);
	unsigned	 seed = 12345;

	(void)state;
	b = read_file("/proc/self/exe", &len);
	try_image(b, len, probe);
	for (cut = 0; cut < len; cut += cut < 4096 ? 1 : 4093)
		try_image(b, cut, probe);
	/* Random bit flips in the headers and anywhere. */
	c = xmalloc(len);
	for (i = 0; i < 3000; i++) {
		memcpy(c, b, len);
		seed = seed * 1103515245 + 12345;
		c[(i % 2 ? seed % len : seed % 256) ] ^= (unsigned char)(1U << (seed >> 16) % 8);
		seed = seed * 1103515245 + 12345;
		c[seed % 4096 % len] = (unsigned char)(seed >> 16);
		try_image(c, len, probe);
	}
	free(c);
	for (i = 0; i < sizeof garbage; i++)
		garbage[i] = (unsigned char)(i * 131 + 7);
	assert_null(symbolize_elf_parse(garbage, sizeof garbage, &cause));
	free(cause);
	memcpy(garbage, b, 64);		/* a valid header over garbage */
	try_image(garbage, sizeof garbage, probe);
	free(b);

	assert_null(symbolize_elf_open("/nonexistent/libnothing.so", &cause));
	free(cause);
	assert_null(symbolize_elf_open("/dev/null", &cause));
	free(cause);
	assert_null(symbolize_elf_open("/", &cause));
	free(cause);
	assert_null(symbolize_elf_open("/proc/self/status", &cause));
	free(cause);
}

/* A process image as a hello would start it. */
static struct process *
new_process(struct profile *pf, uint32_t serial)
{
	struct wire_hello	h;

	memset(&h, 0, sizeof h);
	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION;
	h.pid = getpid();
	h.ppid = 1;
	strcpy(h.exe, "/proc/self/exe");
	return profile_add_process(pf, serial, &h);
}

/* Apply a MODULE record for a mapping. */
static int
send_module(struct profile *pf, struct process *p, const struct module_map *m)
{
	unsigned char	*buf;
	size_t		 len = modules_encode(m, &buf);
	int		 rc = profile_apply_wire(pf, p, WIRE_REC_MODULE, buf, len);

	free(buf);
	return rc;
}

/* Apply a STACK record of native frames and return its global stack. */
static const struct stack *
send_native_stack(struct profile *pf, struct process *p, uint32_t id, const uintptr_t *ret,
    uint16_t n)
{
	unsigned char		 buf[sizeof (struct wire_stack) + 8 * 8];
	struct wire_stack	 ws;
	struct wire_alloc	 a;
	uint64_t		 f;
	uint16_t		 i;

	memset(&ws, 0, sizeof ws);
	ws.id = id;
	ws.nframes = n;
	memcpy(buf, &ws, sizeof ws);
	for (i = 0; i < n; i++) {
		f = WIRE_FRAME_NATIVE | ret[i];
		memcpy(buf + sizeof ws + i * 8, &f, 8);
	}
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_STACK, buf, sizeof ws + n * 8), 0);
	memset(&a, 0, sizeof a);
	a.addr = 0x1000 * id;
	a.size = a.weight = 100;
	a.stack = id;
	a.allocator = WIRE_ALLOC_MALLOC;
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_ALLOC, &a, sizeof a), 0);
	return &pf->stacks[profile_live_block(p, a.addr)->stack];
}

/* The model names native frames from MODULE records and picks sites past allocators. */
static void
test_profile_native(void **state)
{
	struct profile		*pf = profile_create();
	struct process		*p = new_process(pf, 1);
	struct module_map	*maps, bad;
	const struct stack	*st;
	const struct frame	*f;
	uintptr_t		 ret[3];
	uint32_t		 target;
	size_t			 n, i;

	(void)state;
	pf->native_lines = 1;	/* as a report from a capture does */
	maps = self_maps(&n);
	for (i = 0; i < n; i++)
		assert_int_equal(send_module(pf, p, &maps[i]), 0);
	assert_int_equal(p->nmodules, n);
	/* The same mapping again changes nothing. */
	assert_int_equal(send_module(pf, p, &maps[0]), 0);
	assert_int_equal(p->nmodules, n);

	/* malloc (an allocator entry point) called from the target, called from an unknown address. */
	ret[0] = libc_function("malloc") + 1;
	ret[1] = (uintptr_t)symbolize_test_target + 5;
	ret[2] = 0x10;
	st = send_native_stack(pf, p, 1, ret, 3);
	assert_int_equal(st->nframes, 3);
	f = &pf->frames[st->frames[1]];
	assert_int_equal(f->native, 1);
	/* With a line table (-g), the source line too; without one, none. */
	if (f->source != 0) {
		assert_non_null(strstr(profile_string(pf, f->source), "test-symbolize.c"));
		assert_true(f->line >= 43 && f->line <= 49);
	} else
		assert_int_equal(f->line, 0);
	assert_string_equal(profile_string(pf, f->function), "symbolize_test_target");
	assert_string_equal(profile_string(pf, f->file),
	    find_map(maps, n, (uintptr_t)symbolize_test_target)->path);
	assert_int_equal(st->site, st->frames[1]);
	f = &pf->frames[st->frames[2]];
	assert_string_equal(profile_string(pf, f->function), "0x10");
	assert_string_equal(profile_string(pf, f->file), "");

	/* Another address in the same function is the same frame if it is on the same line. */
	target = st->frames[1];
	ret[0] = (uintptr_t)symbolize_test_target + 9;
	st = send_native_stack(pf, p, 2, ret, 1);
	f = &pf->frames[st->frames[0]];
	assert_string_equal(profile_string(pf, f->function), "symbolize_test_target");
	if (f->line == pf->frames[target].line)
		assert_int_equal(st->frames[0], target);
	else
		assert_int_not_equal(st->frames[0], target);

	/* A module overlapping known ones replaces them; unknown symbols show module+address. */
	memset(&bad, 0, sizeof bad);
	bad.start = find_map(maps, n, (uintptr_t)symbolize_test_target)->start;
	bad.end = bad.start + 0x1000;
	bad.path = (char *)"/nonexistent/libgone.so";
	assert_int_equal(send_module(pf, p, &bad), 0);
	assert_int_equal(p->nmodules, n);
	ret[0] = bad.start + 0x10;
	st = send_native_stack(pf, p, 3, ret, 1);
	f = &pf->frames[st->frames[0]];
	assert_non_null(strstr(profile_string(pf, f->function), "(libgone.so+0x10)"));
	assert_string_equal(profile_string(pf, f->file), "/nonexistent/libgone.so");

	/* Malformed module records. */
	{
		unsigned char		b[sizeof (struct wire_module) + 4];
		struct wire_module	w;

		memset(&w, 0, sizeof w);
		w.start = 0x2000;
		w.end = 0x1000;
		w.path_len = 4;
		memcpy(b, &w, sizeof w);
		memcpy(b + sizeof w, "/x/y", 4);
		assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_MODULE, b, sizeof b), -1);
		w.end = 0x3000;
		w.path_len = 5;
		memcpy(b, &w, sizeof w);
		assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_MODULE, b, sizeof b), -1);
		assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_MODULE, b, 8), -1);
	}
	modules_free_maps(maps, n);
	profile_free(pf);
}

/* Add a module [start, end) named path to p. */
static void
add_module(struct profile *pf, struct process *p, uint64_t start, uint64_t end, const char *path)
{
	struct module_map	m;

	memset(&m, 0, sizeof m);
	m.start = start;
	m.end = end;
	m.path = (char *)path;
	assert_int_equal(send_module(pf, p, &m), 0);
}

/* The module table stays sorted and disjoint: inserts anywhere, replacements of several. */
static void
test_module_table(void **state)
{
	struct profile		*pf = profile_create();
	struct process		*p = new_process(pf, 1);
	const struct module_info *m;

	(void)state;
	add_module(pf, p, 0x5000, 0x6000, "/c");
	add_module(pf, p, 0x1000, 0x2000, "/a");
	add_module(pf, p, 0x9000, 0xa000, "/e");
	add_module(pf, p, 0x3000, 0x4000, "/b");
	add_module(pf, p, 0x7000, 0x8000, "/d");
	assert_int_equal(p->nmodules, 5);
	assert_null(profile_module_find(p, 0x0fff));
	assert_null(profile_module_find(p, 0x2000));
	assert_string_equal(profile_string(pf, profile_module_find(p, 0x3fff)->path), "/b");
	assert_string_equal(profile_string(pf, profile_module_find(p, 0x9000)->path), "/e");
	/* One mapping over /b, /c and /d (partly): all three go. */
	add_module(pf, p, 0x3800, 0x7800, "/x");
	assert_int_equal(p->nmodules, 3);
	m = profile_module_find(p, 0x3000);
	assert_null(m);
	assert_string_equal(profile_string(pf, profile_module_find(p, 0x7700)->path), "/x");
	assert_null(profile_module_find(p, 0x7800));
	assert_string_equal(profile_string(pf, p->modules[0].path), "/a");
	assert_string_equal(profile_string(pf, p->modules[1].path), "/x");
	assert_string_equal(profile_string(pf, p->modules[2].path), "/e");
	assert_string_equal(profile_string(pf, p->modules[1].name), "x");
	profile_free(pf);
}

/* Records that modules.c emits, applied to the model as collect.c does. */
struct emitted {
	struct profile	*pf;
	size_t		 n;
};

/* modules_emit_fn for the tests. */
static void
emit_apply(void *arg, struct process *p, const void *payload, size_t len)
{
	struct emitted	*em = arg;

	assert_int_equal(profile_apply_wire(em->pf, p, WIRE_REC_MODULE, payload, len), 0);
	em->n++;
}

/* Write text as root/PID/maps. */
static void
write_maps(const char *root, int pid, const char *text)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%d", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%d/maps", root, pid);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* A native-only stack record of one frame. */
static void
stack_record(unsigned char *buf, size_t *len, uint64_t ret)
{
	struct wire_stack	ws;
	uint64_t		f = WIRE_FRAME_NATIVE | ret;

	memset(&ws, 0, sizeof ws);
	ws.id = 1;
	ws.nframes = 1;
	memcpy(buf, &ws, sizeof ws);
	memcpy(buf + sizeof ws, &f, sizeof f);
	*len = sizeof ws + sizeof f;
}

/*
 * The collector's watcher on a fixture proc root: mappings at the hello, a
 * re-read for an address mapped later, one read only per uncovered
 * address, and a fork child gone before its hello inheriting its parent's.
 */
static void
test_modules_watch(void **state)
{
	char			 root[] = "/tmp/memprof-test-maps.XXXXXX", cmd[600];
	struct profile		*pf = profile_create();
	struct modules		*mo;
	struct process		*parent, *child;
	struct wire_hello	 h;
	struct emitted		 em = { pf, 0 };
	unsigned char		 rec[64];
	size_t			 len;

	(void)state;
	assert_non_null(mkdtemp(root));
	mo = modules_create(root);
	write_maps(root, 100, "400000-401000 r-xp 00000000 08:01 7 /bin/prog\n");
	memset(&h, 0, sizeof h);
	h.pid = 100;
	h.ppid = 1;
	strcpy(h.exe, "/bin/prog");
	parent = profile_add_process(pf, 1, &h);
	modules_on_hello(mo, pf, parent, emit_apply, &em);
	assert_int_equal(em.n, 1);
	assert_int_equal(parent->nmodules, 1);

	/* A library mapped after the hello: the stack that needs it causes a re-read. */
	write_maps(root, 100, "400000-401000 r-xp 00000000 08:01 7 /bin/prog\n"
	    "7f0000000000-7f0000001000 r-xp 00001000 08:01 8 /lib/libplug.so\n");
	stack_record(rec, &len, 0x7f0000000010);
	modules_on_stack(mo, pf, parent, rec, len, emit_apply, &em);
	assert_int_equal(em.n, 2);
	assert_non_null(profile_module_find(parent, 0x7f0000000010));
	/* A known address reads nothing; an address no file covers reads once, then never. */
	modules_on_stack(mo, pf, parent, rec, len, emit_apply, &em);
	stack_record(rec, &len, 0x9000);
	write_maps(root, 100, "400000-401000 r-xp 00000000 08:01 7 /bin/prog\n");
	modules_on_stack(mo, pf, parent, rec, len, emit_apply, &em);
	write_maps(root, 100, "9000-a000 r-xp 00000000 08:01 9 /lib/late.so\n");
	modules_on_stack(mo, pf, parent, rec, len, emit_apply, &em);
	assert_int_equal(em.n, 2);
	assert_null(profile_module_find(parent, 0x8fff));

	/* A fork child already gone: the parent's mappings stand in. */
	h.pid = 101;
	h.ppid = 100;
	child = profile_add_process(pf, 2, &h);
	assert_int_equal(child->parent, 1);
	modules_on_hello(mo, pf, child, emit_apply, &em);
	assert_int_equal(child->nmodules, 2);
	/* An exec'd child (another exe) gets nothing it cannot vouch for. */
	h.pid = 102;
	strcpy(h.exe, "/bin/other");
	child = profile_add_process(pf, 3, &h);
	modules_on_hello(mo, pf, child, emit_apply, &em);
	assert_int_equal(child->nmodules, 0);

	modules_free(mo);
	profile_free(pf);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_function),
		cmocka_unit_test(test_libc_malloc),
		cmocka_unit_test(test_libc_table),
		cmocka_unit_test(test_self_lines),
		cmocka_unit_test(test_parse_maps),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_profile_native),
		cmocka_unit_test(test_module_table),
		cmocka_unit_test(test_modules_watch),
	};

	return cmocka_run_group_tests_name("symbolize", tests, NULL, NULL);
}
