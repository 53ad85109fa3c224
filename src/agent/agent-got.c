/*
 * agent-got.c: attach mode's interposition.  An injected agent is not
 * preloaded, so the program's calls to malloc and friends still bind to
 * libc.  Instead every loaded module's relocated slots that point at libc's
 * allocator functions (R_X86_64_JUMP_SLOT in .got.plt, R_X86_64_GLOB_DAT in
 * .got for -fno-plt code and address-taken uses, R_X86_64_64 data pointers)
 * are rewritten to point at the agent's exported hooks (agent-hooks.c),
 * which call the same libc functions as their "real" ones.
 *
 * Only a slot that holds exactly the function libc resolves to is patched,
 * so a module bound to another allocator (jemalloc linked in, a private
 * malloc) is left alone: the agent never mixes two allocators.  Restoring
 * is the same walk backwards: every slot that still holds a hook gets libc's
 * function again.  Nothing is remembered between the two walks, so a module
 * unloaded meanwhile is never written to.  Slots inside PT_GNU_RELRO are
 * made writable for the one store and read-only again.  Aligned 8-byte
 * stores are atomic on x86-64: a concurrent caller jumps to either target.
 *
 * Modules loaded later: dlopen's slots are patched too, to a stub that
 * loads the module and patches it before returning when the name contains a
 * slash (no search path involved); a bare name is passed on with a tail
 * jump, so glibc still sees the real caller and searches its RUNPATH.  The
 * agent's watcher thread (agent-attach.c) catches those, and modules loaded
 * any other way, by polling dl_iterate_phdr's load counter.
 *
 * Skipped: the agent itself, the dynamic loader (its own allocations go to
 * its internal pointers) and the vDSO.  See docs/attach.md.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "agent-core.h"
#include "agent-attach.h"

/* What gets patched: the allocator entry points agent-hooks.c exports, and dlopen. */
static const char *const got_names[] = {
	"malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc",
	"memalign", "valloc", "pvalloc", "reallocarray", "mmap", "mmap64",
	"munmap", "mremap", "dlopen",
};
#define GOT_NNAMES	(sizeof got_names / sizeof got_names[0])
#define GOT_DLOPEN	(GOT_NNAMES - 1)

static struct {
	uintptr_t	 real[GOT_NNAMES];	/* libc's functions */
	uintptr_t	 hook[GOT_NNAMES];	/* the agent's */
	uintptr_t	 self_base;		/* the agent's load address */
	int		 resolved;		/* 1 ok, -1 impossible */
	int		 lock;
	int		 active;		/* patching wanted */
	unsigned long long adds;		/* dlpi_adds at the last walk */
	unsigned int	 patched;		/* slots written by the last walk */
} got;

/* The real dlopen, for the stub below (hidden: referenced from assembly). */
AGENT_HIDDEN void *(*got_real_dlopen)(const char *, int);
AGENT_HIDDEN int got_dlopen_has_slash(const char *);
AGENT_HIDDEN void *got_dlopen_patching(const char *, int);
AGENT_HIDDEN void got_dlopen_stub(void);

/*
 * The dlopen hook.  glibc's dlopen takes its caller's return address to
 * pick the search path (RUNPATH, $ORIGIN), so for a bare name the stub
 * must not be the caller: it jumps to the real dlopen with the stack as it
 * found it.  A name with a slash is not searched: the C function below
 * loads it and patches the new modules before the caller can use them.
 * At entry %rsp is 8 mod 16; two pushes and 8 bytes align the call.
 */
__asm__(
	".text\n"
	".p2align 4\n"
	".globl got_dlopen_stub\n"
	".hidden got_dlopen_stub\n"
	".type got_dlopen_stub, @function\n"
	"got_dlopen_stub:\n"
	"	pushq %rdi\n"
	"	pushq %rsi\n"
	"	subq $8, %rsp\n"
	"	call got_dlopen_has_slash\n"
	"	addq $8, %rsp\n"
	"	popq %rsi\n"
	"	popq %rdi\n"
	"	testl %eax, %eax\n"
	"	jnz got_dlopen_patching\n"
	"	jmp *got_real_dlopen(%rip)\n"
	".size got_dlopen_stub, .-got_dlopen_stub\n"
);

/* 1 if dlopen's name contains a slash (a path, not searched). */
int
got_dlopen_has_slash(const char *name)
{
	return name != NULL && strchr(name, '/') != NULL;
}

/* dlopen of a path: load, then patch whatever it brought in. */
void *
got_dlopen_patching(const char *name, int mode)
{
	void	*h;

	h = got_real_dlopen(name, mode);
	if (h != NULL && __atomic_load_n(&got.active, __ATOMIC_ACQUIRE))
		agent_got_refresh();
	return h;
}

/* Resolve libc's functions and the agent's hooks, once; 0 or -1. */
static int
got_resolve(void)
{
	Dl_info		 info;
	void		*self, *p;
	size_t		 i;

	if (got.resolved != 0)
		return got.resolved > 0 ? 0 : -1;
	got.resolved = -1;
	if (dladdr((void *)got_resolve, &info) == 0 || info.dli_fname == NULL)
		return -1;
	got.self_base = (uintptr_t)info.dli_fbase;
	/*
	 * The agent's own handle, by the name it was loaded under (matched
	 * against the loaded objects before any file is opened): a plain
	 * reference to malloc from here would bind to libc's, which comes
	 * first in the global scope.
	 */
	self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	if (self == NULL)
		return -1;
	for (i = 0; i < GOT_NNAMES; i++) {
		p = dlsym(RTLD_NEXT, got_names[i]);
		got.real[i] = (uintptr_t)p;
		if (i == GOT_DLOPEN)
			got.hook[i] = (uintptr_t)got_dlopen_stub;
		else
			got.hook[i] = (uintptr_t)dlsym(self, got_names[i]);
		if (got.hook[i] == got.real[i])
			got.real[i] = 0;	/* never patch a slot to itself */
	}
	dlclose(self);
	memcpy(&got_real_dlopen, &got.real[GOT_DLOPEN], sizeof got_real_dlopen);
	if (got_real_dlopen == NULL || got.real[0] == 0 || got.hook[0] == 0)
		return -1;
	got.resolved = 1;
	return 0;
}

/* glibc relocates .dynamic's pointers in place; other loaders do not (memray's rule). */
static uintptr_t
got_ptr(uintptr_t base, uintptr_t p)
{
	return p < base ? p + base : p;
}

/* Store v into *slot, lifting RELRO's protection for the store when needed. */
static void
got_store(uintptr_t *slot, uintptr_t v, uintptr_t relro_lo, uintptr_t relro_hi)
{
	uintptr_t	page = (uintptr_t)slot & ~(uintptr_t)(agent_page_size - 1);
	int		ro = (uintptr_t)slot >= relro_lo && (uintptr_t)slot < relro_hi;

	if (ro && mprotect((void *)page, agent_page_size, PROT_READ | PROT_WRITE) != 0)
		return;
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
	if (ro)
		mprotect((void *)page, agent_page_size, PROT_READ);
	got.patched++;
}

/* The index in got_names of a symbol name, or -1 (a cheap first-letter filter first). */
static int
got_lookup(const char *name)
{
	size_t	i;

	if (name[0] != 'm' && name[0] != 'f' && name[0] != 'c' && name[0] != 'r' &&
	    name[0] != 'p' && name[0] != 'a' && name[0] != 'v' && name[0] != 'd')
		return -1;
	for (i = 0; i < GOT_NNAMES; i++) {
		if (strcmp(name, got_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* One relocation table: patch (restore = 0) or restore the slots naming our functions. */
static void
got_walk_table(uintptr_t base, const ElfW(Rela) *r, size_t size, const ElfW(Sym) *symtab,
    const char *strtab, uintptr_t relro_lo, uintptr_t relro_hi, int restore)
{
	const ElfW(Rela)	*end = (const ElfW(Rela) *)((const char *)r + size);
	uintptr_t		*slot, from, to;
	unsigned long		 type;
	int			 i;

	for (; r < end; r++) {
		type = ELF64_R_TYPE(r->r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
		    !(type == R_X86_64_64 && r->r_addend == 0))
			continue;
		if (ELF64_R_SYM(r->r_info) == 0)
			continue;
		i = got_lookup(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name);
		if (i < 0 || got.real[i] == 0 || got.hook[i] == 0)
			continue;
		from = restore ? got.hook[i] : got.real[i];
		to = restore ? got.real[i] : got.hook[i];
		slot = (uintptr_t *)(base + r->r_offset);
		if (__atomic_load_n(slot, __ATOMIC_RELAXED) == from)
			got_store(slot, to, relro_lo, relro_hi);
	}
}

/* dl_iterate_phdr callback: one module. */
static int
got_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	const ElfW(Dyn)		*dyn = NULL, *d;
	const ElfW(Sym)		*symtab = NULL;
	const char		*strtab = NULL, *name = info->dlpi_name;
	uintptr_t		 base = info->dlpi_addr, relro_lo = 0, relro_hi = 0;
	uintptr_t		 rela = 0, jmprel = 0;
	size_t			 relasz = 0, pltrelsz = 0;
	long			 pltrel = DT_RELA;
	int			 restore = *(int *)arg, i;

	(void)size;
	got.adds = info->dlpi_adds;
	if (base == got.self_base)
		return 0;
	if (name != NULL && (strstr(name, "/ld-linux") != NULL || strstr(name, "/ld-musl") != NULL ||
	    strstr(name, "linux-vdso") != NULL))
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(base + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			relro_lo = (base + ph->p_vaddr) & ~(uintptr_t)(agent_page_size - 1);
			relro_hi = (base + ph->p_vaddr + ph->p_memsz) &
			    ~(uintptr_t)(agent_page_size - 1);
		}
	}
	if (dyn == NULL)
		return 0;
	for (d = dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = (const ElfW(Sym) *)got_ptr(base, d->d_un.d_ptr); break;
		case DT_STRTAB: strtab = (const char *)got_ptr(base, d->d_un.d_ptr); break;
		case DT_RELA: rela = got_ptr(base, d->d_un.d_ptr); break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		case DT_JMPREL: jmprel = got_ptr(base, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
		case DT_PLTREL: pltrel = (long)d->d_un.d_val; break;
		}
	}
	if (symtab == NULL || strtab == NULL)
		return 0;
	if (rela != 0)
		got_walk_table(base, (const ElfW(Rela) *)rela, relasz, symtab, strtab,
		    relro_lo, relro_hi, restore);
	/* x86-64 uses RELA only; a REL jump table would be a foreign object: leave it. */
	if (jmprel != 0 && pltrel == DT_RELA)
		got_walk_table(base, (const ElfW(Rela) *)jmprel, pltrelsz, symtab, strtab,
		    relro_lo, relro_hi, restore);
	return 0;
}

/* Walk every module under the lock; returns the number of slots written. */
static unsigned int
got_walk(int restore)
{
	unsigned int	n;

	agent_lock(&got.lock);
	got.patched = 0;
	dl_iterate_phdr(got_module, &restore);
	n = got.patched;
	agent_unlock(&got.lock);
	return n;
}

/* See agent-attach.h. */
int
agent_got_patch(void)
{
	if (got_resolve() != 0)
		return -1;
	__atomic_store_n(&got.active, 1, __ATOMIC_RELEASE);
	return (int)got_walk(0);
}

/* See agent-attach.h. */
void
agent_got_refresh(void)
{
	if (__atomic_load_n(&got.active, __ATOMIC_ACQUIRE))
		got_walk(0);
}

/* dl_iterate_phdr callback that only reads the load counter. */
static int
got_count(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

/* See agent-attach.h. */
void
agent_got_poll(void)
{
	unsigned long long	adds = 0;

	if (!__atomic_load_n(&got.active, __ATOMIC_ACQUIRE))
		return;
	dl_iterate_phdr(got_count, &adds);
	if (adds != __atomic_load_n(&got.adds, __ATOMIC_RELAXED))
		got_walk(0);
}

/* See agent-attach.h. */
int
agent_got_restore(void)
{
	if (got.resolved <= 0)
		return 0;
	__atomic_store_n(&got.active, 0, __ATOMIC_RELEASE);
	return (int)got_walk(1);
}
