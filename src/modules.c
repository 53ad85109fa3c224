/*
 * modules.c: reading /proc/PID/maps of profiled processes and turning new
 * executable file mappings into WIRE_REC_MODULE records (modules.h).
 *
 * When.  At each hello, the image's mappings are read at once: the
 * executable and everything loaded before main (the agent says hello from
 * its constructor).  Modules loaded later (dlopen, Python extension
 * modules) are noticed when a STACK record holds a native address that no
 * known mapping covers: the maps are read again before the record is
 * written or applied, so the capture always has a module record before the
 * first stack that needs it, and `memprof report` symbolizes exactly as the
 * live view did.  An address still uncovered after a read (JIT code, the
 * vdso, an anonymous trampoline) is remembered and never causes another.
 *
 * Only mappings that are new to the model are sent: the model (profile.c)
 * is the one table of what is known, live and offline.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "modules.h"

/* /proc/PID/maps of a big process (a JVM, a Python with hundreds of modules) is < 1 MiB. */
#define MODULES_MAPS_MAX	(64U << 20)
/* Re-reads per image: bounds the cost of a program with many JIT addresses. */
#define MODULES_REREADS_MAX	256

struct modules_proc {
	struct hmap	misses;		/* native address + 1 -> 1: uncovered after a read */
	unsigned	rereads;
	int		gone;		/* its maps could not be read: it has exited */
};

struct modules {
	char			*proc_root;
	struct modules_proc	*v;		/* indexed by process serial */
	size_t			 n;
};

/* Parse a hexadecimal field ending at one of the stop characters; 0 or -1. */
static int
modules_hex(const char **p, const char *end, char stop, uint64_t *v)
{
	const char	*s = *p;
	uint64_t	 x = 0;
	int		 d, n = 0;

	while (s < end && *s != stop) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return -1;
		if (n++ == 16)
			return -1;
		x = x << 4 | (uint64_t)d;
		s++;
	}
	if (n == 0 || s == end)
		return -1;
	*v = x;
	*p = s + 1;
	return 0;
}

/* Parse one line of maps (without its newline); 1 kept, 0 skipped, -1 malformed. */
static int
modules_parse_line(const char *s, const char *end, struct module_map *m)
{
	uint64_t	 major, minor, inode = 0;
	const char	*perms;

	memset(m, 0, sizeof *m);
	if (modules_hex(&s, end, '-', &m->start) == -1 || modules_hex(&s, end, ' ', &m->end) == -1 ||
	    m->end <= m->start || end - s < 5 || s[4] != ' ')
		return -1;
	perms = s;
	s += 5;
	if (modules_hex(&s, end, ' ', &m->offset) == -1 || modules_hex(&s, end, ':', &major) == -1 ||
	    modules_hex(&s, end, ' ', &minor) == -1 || major > UINT32_MAX || minor > UINT32_MAX)
		return -1;
	if (s == end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		if (inode > (UINT64_MAX - 9) / 10)
			return -1;
		inode = inode * 10 + (uint64_t)(*s++ - '0');
	}
	if (s < end && *s != ' ')
		return -1;
	while (s < end && *s == ' ')
		s++;
	/* Code of a file: anonymous memory, [vdso] and [heap] have no symbols to read. */
	if (perms[2] != 'x' || s == end || *s != '/')
		return 0;
	m->dev_major = (uint32_t)major;
	m->dev_minor = (uint32_t)minor;
	m->inode = inode;
	m->path = xstrndup(s, (size_t)(end - s));
	return 1;
}

/* Parse maps text into the executable file mappings it lists. */
int
modules_parse_maps(const char *text, size_t len, struct module_map **maps, size_t *n)
{
	const char		*p = text, *end = text + len, *nl;
	struct module_map	 m, *v = NULL;
	size_t			 count = 0;
	int			 rc;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p) {
			if ((rc = modules_parse_line(p, nl, &m)) == -1) {
				modules_free_maps(v, count);
				errno = EINVAL;
				return -1;
			}
			if (rc == 1) {
				v = xreallocarray(v, count + 1, sizeof *v);
				v[count++] = m;
			}
		}
		p = nl + 1;
	}
	*maps = v;
	*n = count;
	return 0;
}

/* Read and parse proc_root/PID/maps. */
int
modules_read_maps(const char *proc_root, int pid, struct module_map **maps, size_t *n)
{
	char	 path[4096], *buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 got;
	int	 fd, rc, saved;

	snprintf(path, sizeof path, "%s/%d/maps", proc_root, pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		if ((got = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			free(buf);
			errno = saved;
			return -1;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > MODULES_MAPS_MAX) {
			close(fd);
			free(buf);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	/* A zombie's maps read empty: the process is as good as gone. */
	if (len == 0) {
		free(buf);
		errno = ESRCH;
		return -1;
	}
	rc = modules_parse_maps(buf, len, maps, n);
	free(buf);
	return rc;
}

/* Free what modules_parse_maps returned. */
void
modules_free_maps(struct module_map *maps, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
}

/* Encode one mapping as a WIRE_REC_MODULE payload. */
size_t
modules_encode(const struct module_map *m, unsigned char **buf)
{
	struct wire_module	w;
	size_t			plen = strlen(m->path);

	if (plen > UINT16_MAX)
		plen = UINT16_MAX;
	memset(&w, 0, sizeof w);
	w.start = m->start;
	w.end = m->end;
	w.offset = m->offset;
	w.inode = m->inode;
	w.dev_major = m->dev_major;
	w.dev_minor = m->dev_minor;
	w.path_len = (uint32_t)plen;
	*buf = xmalloc(sizeof w + plen);
	memcpy(*buf, &w, sizeof w);
	memcpy(*buf + sizeof w, m->path, plen);
	return sizeof w + plen;
}

/* Create the collector's module watcher; proc_root is normally "/proc". */
struct modules *
modules_create(const char *proc_root)
{
	struct modules	*mo = xcalloc(1, sizeof *mo);

	mo->proc_root = xstrdup(proc_root);
	return mo;
}

/* Free the watcher. */
void
modules_free(struct modules *mo)
{
	size_t	i;

	if (mo == NULL)
		return;
	for (i = 0; i < mo->n; i++)
		hmap_free(&mo->v[i].misses);
	free(mo->v);
	free(mo->proc_root);
	free(mo);
}

/* The watcher's state of an image, growing the table as needed. */
static struct modules_proc *
modules_proc(struct modules *mo, uint32_t serial)
{
	size_t	i;

	if (serial >= mo->n) {
		mo->v = xreallocarray(mo->v, (size_t)serial + 1, sizeof *mo->v);
		for (i = mo->n; i <= serial; i++) {
			memset(&mo->v[i], 0, sizeof mo->v[i]);
			hmap_init(&mo->v[i].misses);
		}
		mo->n = (size_t)serial + 1;
	}
	return &mo->v[serial];
}

/* Send the mappings the model does not know yet; returns how many were sent. */
static size_t
modules_send(struct process *p, const struct module_map *maps, size_t n, modules_emit_fn emit,
    void *arg)
{
	const struct module_info	*k;
	unsigned char			*buf;
	size_t				 i, len, sent = 0;

	for (i = 0; i < n; i++) {
		k = profile_module_find(p, maps[i].start);
		if (k != NULL && k->start == maps[i].start && k->end == maps[i].end &&
		    k->offset == maps[i].offset && k->inode == maps[i].inode)
			continue;
		len = modules_encode(&maps[i], &buf);
		emit(arg, p, buf, len);
		free(buf);
		sent++;
	}
	return sent;
}

/* Read an image's maps and send what is new; -1 if the process is gone. */
static int
modules_refresh(struct modules *mo, struct process *p, modules_emit_fn emit, void *arg)
{
	struct module_map	*maps;
	size_t			 n;

	if (modules_read_maps(mo->proc_root, p->pid, &maps, &n) == -1) {
		modules_proc(mo, p->serial)->gone = 1;
		return -1;
	}
	modules_send(p, maps, n, emit, arg);
	modules_free_maps(maps, n);
	return 0;
}

/* Send a new image's mappings. */
void
modules_on_hello(struct modules *mo, struct profile *pf, struct process *p,
    modules_emit_fn emit, void *arg)
{
	const struct process	*parent;
	struct module_map	 m;
	size_t			 i;

	if (modules_refresh(mo, p, emit, arg) == 0 || p->parent == 0 ||
	    (parent = profile_process(pf, p->parent)) == NULL)
		return;
	/*
	 * Gone before we looked (a short-lived child).  A fork child that did
	 * not exec has its parent's address space: the same exe with the
	 * parent's pid as ppid.  An exec'd child has no such stand-in.
	 */
	if (parent->pid != p->ppid || strcmp(parent->exe, p->exe) != 0)
		return;
	for (i = 0; i < parent->nmodules; i++) {
		m.start = parent->modules[i].start;
		m.end = parent->modules[i].end;
		m.offset = parent->modules[i].offset;
		m.inode = parent->modules[i].inode;
		m.dev_major = parent->modules[i].dev_major;
		m.dev_minor = parent->modules[i].dev_minor;
		m.path = (char *)profile_string(pf, parent->modules[i].path);
		modules_send(p, &m, 1, emit, arg);
	}
}

/* Before a STACK record: make sure its native frames' modules are known. */
void
modules_on_stack(struct modules *mo, struct profile *pf, struct process *p,
    const void *payload, size_t len, modules_emit_fn emit, void *arg)
{
	struct modules_proc	*mp;
	struct wire_stack	 w;
	uint64_t		 wf, pc;
	uint32_t		 i;
	int			 reread = 0;

	(void)pf;
	if (len < sizeof w)
		return;
	memcpy(&w, payload, sizeof w);
	if (w.nframes > WIRE_STACK_MAX_FRAMES || sizeof w + w.nframes * sizeof wf > len)
		return;
	mp = modules_proc(mo, p->serial);
	for (i = 0; i < w.nframes; i++) {
		memcpy(&wf, (const unsigned char *)payload + sizeof w + i * sizeof wf, sizeof wf);
		if (!(wf & WIRE_FRAME_NATIVE))
			continue;
		if ((wf & ~WIRE_FRAME_NATIVE) == 0)
			continue;
		/* A return address: the call is the byte before it. */
		pc = (wf & ~WIRE_FRAME_NATIVE) - 1;
		if (profile_module_find(p, pc) != NULL || hmap_get(&mp->misses, pc + 1) != NULL)
			continue;
		if (!reread && !mp->gone && mp->rereads < MODULES_REREADS_MAX) {
			mp->rereads++;
			reread = 1;
			if (modules_refresh(mo, p, emit, arg) == 0 && profile_module_find(p, pc) != NULL)
				continue;
		}
		hmap_put(&mp->misses, pc + 1, 1);
	}
}
