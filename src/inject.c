/*
 * inject.c: what `memprof attach` checks before touching a process, and
 * the injection sequence itself (the ptrace mechanics are in
 * inject-ptrace.c; the why of each step is in docs/attach.md).
 *
 * Checks, all from /proc, nothing stopped: the process exists and is not a
 * zombie or stopped; nobody traces it; Yama's ptrace_scope and our
 * CAP_SYS_PTRACE allow it; same user or the capability; it is dumpable or
 * we have the capability; it is an x86-64 ELF program; it has a dynamic
 * libc with dlopen (a static program has no loader to call).  Each failure
 * is one line saying what is missing and how to get it.
 *
 * Sequence: dlopen, dlsym and dlerror are looked up in the target's own
 * libc (the file as the target sees it, through /proc/PID/root, checked
 * against the mapped inode; never our libc, which may differ in a
 * container).  The agent must be openable by the target: if the file at
 * our path is the same inode in the target's mount namespace it is used as
 * is, otherwise a copy named after its content goes into the target's /tmp
 * (then /dev/shm, /var/tmp, for a noexec /tmp), is loaded and unlinked;
 * attaching again later loads the same name, which the dynamic loader
 * matches against the loaded objects before looking for a file.  One
 * thread is then borrowed for dlopen(path, RTLD_NOW), dlsym and
 * memprof_agent_attach(config), and given back.
 */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "inject.h"
#include "inject-int.h"

/* The agent's entry point (src/agent/agent-attach.c). */
#define INJECT_ENTRY	"memprof_agent_attach"
/* dlopen's RTLD_NOW on glibc and musl. */
#define INJECT_RTLD_NOW	2
/* glibc's private __RTLD_DLOPEN flag, which __libc_dlopen_mode needs (glibc < 2.34). */
#define INJECT_RTLD_DLOPEN	0x80000000UL
/* The agent's error codes (agent-attach.c). */
#define INJECT_EBUSY	(-2)

/* CAP_SYS_PTRACE's bit in CapEff. */
#define INJECT_CAP_SYS_PTRACE	19

/* The compose hint that ends every "needs CAP_SYS_PTRACE" message. */
#define INJECT_CAP_HINT \
	"run memprof as root with CAP_SYS_PTRACE (docker: --cap-add=SYS_PTRACE; " \
	"docker compose: cap_add: [SYS_PTRACE])"

/* Read a small /proc file into buf (NUL-terminated); length or -1. */
static ssize_t
inject_read_file(const char *path, char *buf, size_t cap)
{
	ssize_t	n, total = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((size_t)total < cap - 1 && (n = read(fd, buf + total, cap - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

/* The value after "Key:" in a /proc/PID/status text, or NULL. */
static const char *
inject_status_field(const char *status, const char *key)
{
	size_t		 n = strlen(key);
	const char	*p = status;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && p[n] == ':')
			return p + n + 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* 1 if we hold CAP_SYS_PTRACE (effective). */
static int
inject_have_cap(void)
{
	char			 buf[4096];
	const char		*v;
	unsigned long long	 caps;

	if (inject_read_file("/proc/self/status", buf, sizeof buf) < 0 ||
	    (v = inject_status_field(buf, "CapEff")) == NULL)
		return 0;
	caps = strtoull(v, NULL, 16);
	return (caps >> INJECT_CAP_SYS_PTRACE) & 1;
}

/* 1 if we are an ancestor of pid (Yama scope 1 lets ancestors attach). */
static int
inject_is_ancestor(pid_t pid)
{
	char		 path[64], buf[4096];
	const char	*v;
	int		 depth;

	for (depth = 0; depth < 64 && pid > 1; depth++) {
		snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
		if (inject_read_file(path, buf, sizeof buf) < 0 ||
		    (v = inject_status_field(buf, "PPid")) == NULL)
			return 0;
		pid = (pid_t)strtol(v, NULL, 10);
		if (pid == getpid())
			return 1;
	}
	return 0;
}

/* Check the architecture from /proc/PID/exe's ELF header; 0 or -1 and a message. */
static int
inject_check_arch(pid_t pid, char **cause)
{
	unsigned char	ident[EI_NIDENT + 4];
	char		path[64];
	uint16_t	machine;
	int		fd;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;	/* unreadable (kernel thread, gone): the maps check decides */
	if (read(fd, ident, sizeof ident) != (ssize_t)sizeof ident ||
	    memcmp(ident, ELFMAG, SELFMAG) != 0) {
		close(fd);
		return 0;
	}
	close(fd);
	memcpy(&machine, ident + EI_NIDENT + 2, sizeof machine);
	if (ident[EI_CLASS] != ELFCLASS64 || machine != EM_X86_64) {
		xasprintf(cause, "process %d is a %s program (ELF machine %u); this memprof "
		    "injects into 64-bit x86-64 processes only", (int)pid,
		    ident[EI_CLASS] == ELFCLASS32 ? "32-bit" : "different-architecture",
		    (unsigned int)machine);
		return -1;
	}
	return 0;
}

/*
 * Read /proc/PID/maps: libc's and libdl's first mappings into t, the unsafe
 * ranges (libc, loader, agent) into u.  0, or -1 and a message.
 */
static int
inject_read_maps(pid_t pid, struct inject_target *t, struct inject_ranges *u, char **cause)
{
	char			 path[64], line[1024], file[512], *base;
	unsigned long		 lo, hi, off, inode;
	FILE			*f;
	int			 n, loader = 0, musl = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL) {
		xasprintf(cause, "cannot read /proc/%d/maps: %s", (int)pid, strerror(errno));
		return -1;
	}
	if (u != NULL)
		u->n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		file[0] = '\0';
		n = sscanf(line, "%lx-%lx %*s %lx %*s %lu %511[^\n]", &lo, &hi, &off, &inode, file);
		if (n < 4 || file[0] != '/')
			continue;
		base = strrchr(file, '/') + 1;
		if (strncmp(base, "ld-linux", 8) == 0)
			loader = 1;
		if (strncmp(base, "ld-musl", 7) == 0)
			musl = 1;
		if (u != NULL && u->n < 64 && (strncmp(base, "libc.so", 7) == 0 ||
		    strncmp(base, "libc-", 5) == 0 || strncmp(base, "ld-linux", 8) == 0 ||
		    strncmp(base, "libpthread", 10) == 0 || strncmp(base, "libdl", 5) == 0 ||
		    strstr(base, "memprof") != NULL)) {
			u->lo[u->n] = lo;
			u->hi[u->n++] = hi;
		}
		if (off != 0)
			continue;
		if (t->libc[0] == '\0' && (strncmp(base, "libc.so.6", 9) == 0 ||
		    (strncmp(base, "libc-2.", 7) == 0 && strstr(base, ".so") != NULL))) {
			snprintf(t->libc, sizeof t->libc, "%s", file);
			t->libc_start = lo;
			t->libc_inode = inode;
		} else if (t->libdl[0] == '\0' && strncmp(base, "libdl.so", 8) == 0) {
			snprintf(t->libdl, sizeof t->libdl, "%s", file);
			t->libdl_start = lo;
		}
	}
	fclose(f);
	if (t->libc[0] != '\0')
		return 0;
	if (musl)
		xasprintf(cause, "process %d uses musl libc; attach supports glibc programs "
		    "(use `memprof run` instead)", (int)pid);
	else if (!loader)
		xasprintf(cause, "process %d is a statically linked program: it has no dynamic "
		    "loader and no dlopen to load the agent with (use `memprof run` instead)",
		    (int)pid);
	else
		xasprintf(cause, "process %d has no glibc loaded, so there is no dlopen to call",
		    (int)pid);
	return -1;
}

/* Explain why ptrace access to pid is refused (EPERM/EACCES); always -1. */
static int
inject_explain_denied(pid_t pid, const struct inject_target *t, char **cause)
{
	char	path[64];
	struct stat st;

	if (t->uid != geteuid() && !t->has_cap) {
		xasprintf(cause, "process %d belongs to uid %u and memprof lacks CAP_SYS_PTRACE: "
		    INJECT_CAP_HINT, (int)pid, (unsigned int)t->uid);
		return -1;
	}
	/* A non-dumpable process's /proc files belong to root, whatever its uid. */
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if (!t->has_cap && (t->uid == 0 || (stat(path, &st) == 0 && st.st_uid != t->uid))) {
		xasprintf(cause, "process %d is not dumpable (prctl PR_SET_DUMPABLE 0, setuid, or "
		    "changed credentials), so only CAP_SYS_PTRACE may attach: " INJECT_CAP_HINT,
		    (int)pid);
		return -1;
	}
	xasprintf(cause, "ptrace access to process %d is denied (a security module such as "
	    "SELinux deny_ptrace or AppArmor?): " INJECT_CAP_HINT, (int)pid);
	return -1;
}

/* See inject.h. */
int
inject_preflight(pid_t pid, struct inject_target *t, char **cause)
{
	char		 path[64], status[8192];
	const char	*v;
	long		 tracer, scope = 0;
	int		 fd;

	memset(t, 0, sizeof *t);
	t->pid = pid;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (inject_read_file(path, status, sizeof status) < 0) {
		xasprintf(cause, "no process with pid %d", (int)pid);
		return -1;
	}
	if ((v = inject_status_field(status, "Name")) != NULL)
		sscanf(v, " %63[^\n]", t->comm);
	if ((v = inject_status_field(status, "Uid")) != NULL) {
		unsigned int real, eff;

		if (sscanf(v, "%u %u", &real, &eff) == 2)
			t->uid = eff;
	}
	t->has_cap = inject_have_cap();
	if (pid == getpid()) {
		xasprintf(cause, "memprof cannot attach to itself");
		return -1;
	}
	if ((v = inject_status_field(status, "State")) != NULL) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == 'Z' || *v == 'X') {
			xasprintf(cause, "process %d (%s) has exited (zombie)", (int)pid, t->comm);
			return -1;
		}
		if (*v == 'T' || *v == 't') {
			xasprintf(cause, "process %d (%s) is stopped (%s): resume it first (kill -CONT %d)",
			    (int)pid, t->comm, *v == 'T' ? "SIGSTOP" : "by a debugger", (int)pid);
			return -1;
		}
	}
	if ((v = inject_status_field(status, "TracerPid")) != NULL &&
	    (tracer = strtol(v, NULL, 10)) != 0) {
		char	tpath[64], tcomm[64] = "?";

		snprintf(tpath, sizeof tpath, "/proc/%ld/comm", tracer);
		if (inject_read_file(tpath, tcomm, sizeof tcomm) > 0)
			tcomm[strcspn(tcomm, "\n")] = '\0';
		xasprintf(cause, "process %d (%s) is already traced by pid %ld (%s): a process has "
		    "one tracer at a time; detach the debugger (gdb, strace, py-spy) first",
		    (int)pid, t->comm, tracer, tcomm);
		return -1;
	}
	{
		char	buf[16];

		if (inject_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) > 0)
			scope = strtol(buf, NULL, 10);
	}
	if (scope >= 3) {
		xasprintf(cause, "ptrace is disabled on this host (kernel.yama.ptrace_scope=3, "
		    "which only a reboot resets)");
		return -1;
	}
	if (scope == 2 && !t->has_cap) {
		xasprintf(cause, "kernel.yama.ptrace_scope=2 lets only CAP_SYS_PTRACE attach: "
		    INJECT_CAP_HINT);
		return -1;
	}
	if (scope == 1 && !t->has_cap && !inject_is_ancestor(pid)) {
		xasprintf(cause, "kernel.yama.ptrace_scope=1 lets a process attach only to its own "
		    "descendants: run `sysctl kernel.yama.ptrace_scope=0`, or " INJECT_CAP_HINT);
		return -1;
	}
	/* /proc/PID/mem takes the same access check as PTRACE_ATTACH: try it now. */
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == EACCES || errno == EPERM)
			return inject_explain_denied(pid, t, cause);
		if (errno == ENOENT || errno == ESRCH) {
			xasprintf(cause, "no process with pid %d", (int)pid);
			return -1;
		}
	} else
		close(fd);
	if (inject_check_arch(pid, cause) != 0)
		return -1;
	return inject_read_maps(pid, t, NULL, cause);
}

/* GNU symbol versioning: the hidden bit marks a non-default version. */
#define INJECT_VERSYM_HIDDEN	0x8000

/*
 * Look names up in the .dynsym of the target's file path (loaded at
 * start, the mapping of file offset 0); addrs[i] is 0 when missing.  0, or
 * -1 and a message.
 */
static int
inject_symbols(pid_t pid, const char *file, unsigned long start, unsigned long inode,
    const char *const *names, unsigned long *addrs, size_t n, char **cause)
{
	const Elf64_Ehdr	*eh;
	const Elf64_Shdr	*sh, *dynsym = NULL, *versym = NULL;
	const Elf64_Phdr	*ph;
	const Elf64_Sym		*sym;
	const uint16_t		*ver = NULL;
	const char		*strtab;
	char			 path[1100];
	unsigned long		 lowest = ~0UL, nsyms, j;
	struct stat		 st;
	unsigned char		*map;
	size_t			 i;
	int			 fd, rc = -1, pref[16];

	memset(addrs, 0, n * sizeof *addrs);
	memset(pref, 0, sizeof pref);
	snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		xasprintf(cause, "cannot open the target's %s: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (inode != 0 && st.st_ino != inode) {
		close(fd);
		xasprintf(cause, "%s on disk is not the one process %d has loaded (upgraded since "
		    "it started?)", file, (int)pid);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		xasprintf(cause, "cannot map %s: %s", file, strerror(errno));
		return -1;
	}
	eh = (const Elf64_Ehdr *)map;
	if ((size_t)st.st_size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff == 0 ||
	    eh->e_shoff + (unsigned long)eh->e_shnum * sizeof *sh > (unsigned long)st.st_size ||
	    eh->e_phoff + (unsigned long)eh->e_phnum * sizeof *ph > (unsigned long)st.st_size)
		goto bad;
	ph = (const Elf64_Phdr *)(map + eh->e_phoff);
	for (j = 0; j < eh->e_phnum; j++) {
		if (ph[j].p_type == PT_LOAD && ph[j].p_vaddr < lowest)
			lowest = ph[j].p_vaddr;
	}
	sh = (const Elf64_Shdr *)(map + eh->e_shoff);
	for (j = 0; j < eh->e_shnum; j++) {
		if (sh[j].sh_type == SHT_DYNSYM)
			dynsym = &sh[j];
		else if (sh[j].sh_type == SHT_GNU_versym)
			versym = &sh[j];
	}
	if (dynsym == NULL || lowest == ~0UL || dynsym->sh_link >= eh->e_shnum ||
	    dynsym->sh_offset + dynsym->sh_size > (unsigned long)st.st_size ||
	    sh[dynsym->sh_link].sh_offset + sh[dynsym->sh_link].sh_size >
	    (unsigned long)st.st_size)
		goto bad;
	sym = (const Elf64_Sym *)(map + dynsym->sh_offset);
	nsyms = dynsym->sh_size / sizeof *sym;
	strtab = (const char *)map + sh[dynsym->sh_link].sh_offset;
	if (versym != NULL && versym->sh_offset + nsyms * 2 <= (unsigned long)st.st_size)
		ver = (const uint16_t *)(map + versym->sh_offset);
	for (j = 1; j < nsyms; j++) {
		if (sym[j].st_shndx == SHN_UNDEF || sym[j].st_value == 0 ||
		    sym[j].st_name >= sh[dynsym->sh_link].sh_size)
			continue;
		for (i = 0; i < n && i < 16; i++) {
			int	def = ver == NULL || !(ver[j] & INJECT_VERSYM_HIDDEN);

			if (strcmp(strtab + sym[j].st_name, names[i]) != 0)
				continue;
			/* The default version wins over an old compatibility one. */
			if (addrs[i] == 0 || (def && !pref[i])) {
				addrs[i] = start - (lowest & ~0xfffUL) + sym[j].st_value;
				pref[i] = def;
			}
		}
	}
	rc = 0;
	goto out;
bad:
	xasprintf(cause, "%s: not a 64-bit ELF file with a dynamic symbol table", file);
out:
	munmap(map, (size_t)st.st_size);
	return rc;
}

/* 64-bit FNV-1a of a file's bytes, for the staged copy's name; 0 on error. */
static unsigned long long
inject_file_hash(const char *path, unsigned char **data, size_t *len)
{
	unsigned long long	 h = 0xcbf29ce484222325ULL;
	struct stat		 st;
	unsigned char		*p;
	size_t			 i;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) != 0 || st.st_size <= 0) {
		close(fd);
		return 0;
	}
	p = xmalloc((size_t)st.st_size);
	if (read(fd, p, (size_t)st.st_size) != st.st_size) {
		close(fd);
		free(p);
		return 0;
	}
	close(fd);
	for (i = 0; i < (size_t)st.st_size; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	*data = p;
	*len = (size_t)st.st_size;
	return h;
}

/*
 * An agent already loaded by an earlier attach, under whatever name (the
 * same file, or a staged copy of the same content, maybe unlinked since):
 * its name as the target loaded it, or NULL.  Loading that name again
 * returns the loaded object, where another name would load a second copy.
 */
static char *
inject_loaded_agent(pid_t pid, const struct stat *ours, const char *staged_name)
{
	char		 path[64], line[1024], file[512], *p, *base, *found = NULL;
	struct stat	 st;
	FILE		*f;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof line, f) != NULL) {
		if ((p = strchr(line, '/')) == NULL || strstr(p, "memprof") == NULL)
			continue;
		snprintf(file, sizeof file, "%s", p);
		file[strcspn(file, "\n")] = '\0';
		if ((p = strstr(file, " (deleted)")) != NULL)
			*p = '\0';
		base = strrchr(file, '/') + 1;
		if (strcmp(base, staged_name) == 0)
			found = xstrdup(file);
		else if (strcmp(base, "libmemprof.so") == 0) {
			xasprintf(&p, "/proc/%d/root%s", (int)pid, file);
			if (stat(p, &st) == 0 && st.st_dev == ours->st_dev && st.st_ino == ours->st_ino)
				found = xstrdup(file);
			free(p);
		}
	}
	fclose(f);
	return found;
}

/*
 * The paths under which the target can open the agent, best first, into
 * paths[] (target's view) and staged[] (our view of a copy to unlink
 * afterwards, or NULL).  Returns how many; 0 and a message if none.
 */
static size_t
inject_stage(pid_t pid, const char *agent, char **paths, char **staged, size_t cap,
    char **cause)
{
	static const char *const dirs[] = { "/tmp", "/dev/shm", "/var/tmp" };
	struct stat		 ours, theirs;
	unsigned long long	 h;
	unsigned char		*data = NULL;
	size_t			 len = 0, n = 0, i;
	char			*p, *tmp, name[64];
	int			 fd;

	if (stat(agent, &ours) != 0 || (h = inject_file_hash(agent, &data, &len)) == 0) {
		xasprintf(cause, "%s: %s", agent, strerror(errno));
		return 0;
	}
	snprintf(name, sizeof name, "memprof-agent-%016llx.so", h);
	if ((paths[0] = inject_loaded_agent(pid, &ours, name)) != NULL) {
		staged[0] = NULL;
		free(data);
		return 1;
	}
	xasprintf(&p, "/proc/%d/root%s", (int)pid, agent);
	if (stat(p, &theirs) == 0 && theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
		paths[n] = xstrdup(agent);
		staged[n++] = NULL;
	}
	free(p);
	/* Otherwise a copy in each candidate folder: a noexec /tmp fails dlopen, the next may not. */
	for (i = 0; i < sizeof dirs / sizeof dirs[0] && (n == 0 || staged[0] != NULL) &&
	    n < cap; i++) {
		xasprintf(&p, "/proc/%d/root%s/%s", (int)pid, dirs[i], name);
		xasprintf(&tmp, "%s.%d", p, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		if (fd >= 0 && write(fd, data, len) == (ssize_t)len && fchmod(fd, 0755) == 0 &&
		    close(fd) == 0 && rename(tmp, p) == 0) {
			xasprintf(&paths[n], "%s/%s", dirs[i], name);
			staged[n++] = p;
		} else {
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			free(p);
		}
		free(tmp);
	}
	free(data);
	if (n == 0)
		xasprintf(cause, "cannot copy the agent into process %d's filesystem "
		    "(/proc/%d/root/tmp): %s", (int)pid, (int)pid, strerror(errno));
	return n;
}

/* Read a NUL-terminated string of at most cap-1 bytes from the target. */
static void
inject_read_string(pid_t pid, unsigned long addr, char *buf, size_t cap)
{
	size_t	i;

	buf[0] = '\0';
	if (addr == 0)
		return;
	for (i = 0; i + 1 < cap; i++) {
		if (inject_ptrace_read(pid, addr + i, buf + i, 1) != 0)
			break;
		if (buf[i] == '\0')
			return;
	}
	buf[i] = '\0';
}

/* What a negative result of the entry point means. */
static const char *
inject_entry_error(long r)
{
	switch (r) {
	case -1: return "it rejected its configuration (memprof and libmemprof.so differ?)";
	case INJECT_EBUSY: return "another memprof is attached to it (or still detaching)";
	case -3: return "it could not connect to memprof (network namespace?)";
	case -4: return "it could not find libc's allocator";
	case -5: return "it could not start its thread";
	}
	return "unknown error";
}

/* The remote part: calls in the borrowed thread; result or -1 with cause. */
static int
inject_calls(pid_t pid, struct inject_thread *th, const unsigned long *fn, int internal,
    char **paths, size_t npaths, const char *config, char **cause)
{
	char		 err[512], *scratch;
	unsigned long	 top, base, handle = 0, entry = 0, r, args[4];
	size_t		 len = 0, off, i, plen[8];
	int		 rc;

	/* Strings go below the red zone: every path, the entry's name, the configuration. */
	for (i = 0; i < npaths; i++)
		len += (plen[i] = strlen(paths[i]) + 1);
	len += sizeof INJECT_ENTRY + strlen(config) + 1;
	scratch = xcalloc(1, len);
	top = (th->saved.rsp - 128) & ~15UL;
	base = (top - len) & ~15UL;
	for (off = 0, i = 0; i < npaths; i++) {
		memcpy(scratch + off, paths[i], plen[i]);
		off += plen[i];
	}
	memcpy(scratch + off, INJECT_ENTRY, sizeof INJECT_ENTRY);
	memcpy(scratch + off + sizeof INJECT_ENTRY, config, strlen(config) + 1);
	rc = inject_ptrace_write(pid, base, scratch, len);
	free(scratch);
	if (rc != 0) {
		xasprintf(cause, "cannot write into process %d: %s", (int)pid, strerror(errno));
		return -1;
	}
	err[0] = '\0';
	for (off = 0, i = 0; i < npaths && handle == 0; off += plen[i], i++) {
		args[0] = base + off;
		args[1] = INJECT_RTLD_NOW | (internal ? INJECT_RTLD_DLOPEN : 0);
		if ((rc = inject_ptrace_call(th, pid, base, fn[0], args, 2, &handle, cause)) != 0)
			return rc;
		if (handle == 0 && fn[2] != 0 &&
		    (rc = inject_ptrace_call(th, pid, base, fn[2], args, 0, &r, cause)) == 0)
			inject_read_string(pid, r, err, sizeof err);
		else if (rc != 0)
			return rc;
	}
	if (handle == 0) {
		xasprintf(cause, "dlopen of the agent failed in process %d: %s", (int)pid,
		    err[0] != '\0' ? err : "no reason given");
		return -1;
	}
	args[0] = handle;
	args[1] = base + off;
	for (; i < npaths; i++)
		args[1] += plen[i];
	if ((rc = inject_ptrace_call(th, pid, base, fn[1], args, 2, &entry, cause)) != 0)
		return rc;
	if (entry == 0) {
		xasprintf(cause, "the agent loaded into process %d has no %s (an older "
		    "libmemprof.so?)", (int)pid, INJECT_ENTRY);
		return -1;
	}
	args[0] = args[1] + sizeof INJECT_ENTRY;
	if ((rc = inject_ptrace_call(th, pid, base, entry, args, 1, &r, cause)) != 0)
		return rc;
	if ((int)r < 0) {
		xasprintf(cause, "the agent did not start in process %d: %s", (int)pid,
		    inject_entry_error((int)r));
		return -1;
	}
	return (int)r;
}

/* See inject.h. */
const char *
inject_syscall_name(long nr)
{
	static const struct {
		long		 nr;
		const char	*name;
	} names[] = {
		{ SYS_read, "read" }, { SYS_poll, "poll" }, { SYS_select, "select" },
		{ SYS_pause, "pause" }, { SYS_nanosleep, "nanosleep" }, { SYS_accept, "accept" },
		{ SYS_recvfrom, "recvfrom" }, { SYS_recvmsg, "recvmsg" }, { SYS_wait4, "wait4" },
		{ SYS_futex, "futex" }, { SYS_epoll_wait, "epoll_wait" },
		{ SYS_clock_nanosleep, "clock_nanosleep" }, { SYS_waitid, "waitid" },
		{ SYS_pselect6, "pselect6" }, { SYS_ppoll, "ppoll" },
		{ SYS_epoll_pwait, "epoll_pwait" }, { SYS_accept4, "accept4" },
		{ SYS_rt_sigtimedwait, "rt_sigtimedwait" }, { SYS_rt_sigsuspend, "rt_sigsuspend" },
	};
	size_t	i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (names[i].nr == nr)
			return names[i].name;
	}
	return NULL;
}

/* See inject.h. */
int
inject_agent(const struct inject_target *t, const char *agent, const char *config,
    struct inject_stats *stats, char **cause)
{
	static const char *const names[] = { "dlopen", "dlsym", "dlerror" };
	static const char *const inames[] = { "__libc_dlopen_mode", "__libc_dlsym" };
	struct inject_target	 cur;
	struct inject_ranges	 unsafe;
	struct inject_thread	*th;
	unsigned long		 fn[3];
	char			*paths[4], *staged[4];
	size_t			 npaths, i;
	sigset_t		 block, old;
	struct timespec		 t0, t1;
	int			 rc, internal = 0;

	memset(&cur, 0, sizeof cur);
	if (inject_read_maps(t->pid, &cur, &unsafe, cause) != 0)
		return -1;
	if (inject_symbols(t->pid, cur.libc, cur.libc_start, cur.libc_inode, names, fn, 3,
	    cause) != 0)
		return -1;
	if (fn[0] == 0 && cur.libdl[0] != '\0' &&
	    inject_symbols(t->pid, cur.libdl, cur.libdl_start, 0, names, fn, 3, cause) != 0)
		return -1;
	if (fn[0] == 0 || fn[1] == 0) {
		/* glibc before 2.34 without libdl loaded: its private entry points. */
		if (inject_symbols(t->pid, cur.libc, cur.libc_start, cur.libc_inode, inames, fn, 2,
		    cause) != 0)
			return -1;
		fn[2] = 0;
		internal = 1;
		if (fn[0] == 0 || fn[1] == 0) {
			xasprintf(cause, "process %d's libc (%s) has no dlopen", (int)t->pid,
			    cur.libc);
			return -1;
		}
	}
	if ((npaths = inject_stage(t->pid, agent, paths, staged, 3, cause)) == 0)
		return -1;

	/* From the first stop to the last detach, memprof must not die of a signal. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGTSTP);
	sigprocmask(SIG_BLOCK, &block, &old);
	th = xcalloc(1, sizeof *th);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = inject_ptrace_stop(t->pid, &unsafe, th, cause);
	if (rc == 0) {
		stats->tid = th->tid;
		stats->syscall = (long)th->saved.orig_rax;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = inject_calls(t->pid, th, fn, internal, paths, npaths, config, cause);
		if (rc != -2 && inject_ptrace_release(th) != 0 && rc >= 0) {
			xasprintf(cause, "cannot restore thread %d of process %d: %s", (int)th->tid,
			    (int)t->pid, strerror(errno));
			rc = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		stats->stopped_us = (unsigned long)((t1.tv_sec - t0.tv_sec) * 1000000L +
		    (t1.tv_nsec - t0.tv_nsec) / 1000);
	}
	free(th);
	sigprocmask(SIG_SETMASK, &old, NULL);

	for (i = 0; i < npaths; i++) {
		if (staged[i] != NULL) {
			unlink(staged[i]);
			free(staged[i]);
		}
		free(paths[i]);
	}
	return rc < 0 ? -1 : rc;
}
