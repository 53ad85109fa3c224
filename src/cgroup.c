/*
 * cgroup.c: the host's cgroup layout and reading a cgroup's files.
 *
 * Discovery runs once: /proc/self/mountinfo lists every cgroup (v1) and
 * cgroup2 mount; each controller the monitor reads (memory, CPU usage,
 * block I/O, pids) is resolved to the hierarchy that serves it, and that
 * hierarchy's ops table (cgroup-v1.c or cgroup-v2.c) is chosen for it, so
 * pure v1, pure v2 and hybrid hosts (and a controller moved to v2 with
 * cgroup_no_v1=) all work through one path.  When a cgroup root is given
 * explicitly (tests, fixture trees), the layout is probed from that
 * directory instead of the mount table.
 *
 * Files are opened relative to the hierarchy's directory fd and kept open
 * per node, then re-read with pread at offset 0: the kernel regenerates a
 * cgroupfs file on every read from offset 0, and this costs a third of
 * open+read+close.  The number of kept fds is bounded by RLIMIT_NOFILE;
 * past the budget files are opened and closed each time.
 */

#include <sys/resource.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* Limits and absent files are re-read every this many samples (8 s at 1 Hz). */
#define CGROUP_SLOW_EVERY	8

/* v1 controller name of each class; CPU usage lives in cpuacct on v1. */
static const char *cgroup_v1_names[CGROUP_NCTRL] = {
	[CGROUP_MEMORY] = "memory",
	[CGROUP_CPU] = "cpuacct",
	[CGROUP_IO] = "blkio",
	[CGROUP_PIDS] = "pids",
};

/* v2 controller name of each class, as listed in cgroup.controllers. */
static const char *cgroup_v2_names[CGROUP_NCTRL] = {
	[CGROUP_MEMORY] = "memory",
	[CGROUP_CPU] = "cpu",
	[CGROUP_IO] = "io",
	[CGROUP_PIDS] = "pids",
};

/* Name a layout mode for output. */
const char *
cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_V2:
		return "v2";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	default:
		return "none";
	}
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
cgroup_unescape(char *s)
{
	char	*d = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else
			*d++ = *s++;
	}
	*d = '\0';
}

/* Add a hierarchy to the layout; -1 when the table is full. */
static int
cgroup_add_hier(struct cgroup_layout *l, const char *path, int version, const char *opts)
{
	struct cgroup_hier	*h;
	int			 i;

	for (i = 0; i < l->nhier; i++) {
		if (strcmp(l->hier[i].path, path) == 0)
			return 0;	/* the same mount seen twice (bind mounts) */
	}
	if (l->nhier == CGROUP_MAX_HIER)
		return -1;
	h = &l->hier[l->nhier++];
	h->path = xstrdup(path);
	h->version = version;
	h->options = xstrdup(opts != NULL ? opts : "");
	h->fd = -1;
	return 0;
}

/*
 * Parse one mountinfo line; add it if it is a cgroup or cgroup2 mount.
 * Returns 0 (added or not a cgroup mount) or -1 if the line is malformed.
 */
static int
cgroup_parse_mount_line(char *line, struct cgroup_layout *l)
{
	char	*field[6], *p, *sep, *fstype, *super, *opt, *ctrls, *save;
	size_t	 len;
	int	 i;

	p = line;
	for (i = 0; i < 6; i++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		field[i] = p;
		p += strcspn(p, " ");
		if (*p != '\0')
			*p++ = '\0';
	}
	/* Optional fields end at a lone "-" then fstype, source, super options. */
	sep = strstr(p, "- ");
	if (sep == NULL || (sep != p && sep[-1] != ' '))
		return -1;
	fstype = strtok_r(sep + 2, " ", &save);
	if (fstype == NULL || strtok_r(NULL, " ", &save) == NULL)
		return -1;
	super = strtok_r(NULL, " ", &save);
	if (super == NULL)
		return -1;
	cgroup_unescape(field[4]);
	if (strcmp(fstype, "cgroup2") == 0)
		return cgroup_add_hier(l, field[4], 2, "");
	if (strcmp(fstype, "cgroup") != 0)
		return 0;
	/* Keep the controllers of the super options, drop rw/ro and friends. */
	len = 0;
	ctrls = xcalloc(1, strlen(super) + 1);
	for (opt = strtok_r(super, ",", &save); opt != NULL; opt = strtok_r(NULL, ",", &save)) {
		if (strcmp(opt, "rw") == 0 || strcmp(opt, "ro") == 0 ||
		    strncmp(opt, "release_agent=", 14) == 0 || strcmp(opt, "noprefix") == 0 ||
		    strcmp(opt, "clone_children") == 0 || strcmp(opt, "xattr") == 0)
			continue;
		if (len != 0)
			ctrls[len++] = ',';
		memcpy(ctrls + len, opt, strlen(opt) + 1);
		len += strlen(opt);
	}
	i = cgroup_add_hier(l, field[4], 1, ctrls);
	free(ctrls);
	return i;
}

/* Parse mountinfo text into the layout's hierarchies; -1 with EINVAL if malformed. */
int
cgroup_parse_mountinfo(const char *text, struct cgroup_layout *l)
{
	char	*copy, *line, *save;
	int	 rc = 0;

	copy = xstrdup(text);
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (cgroup_parse_mount_line(line, l) != 0) {
			rc = -1;
			break;
		}
	}
	free(copy);
	if (rc != 0)
		errno = EINVAL;
	return rc;
}

/* Does a comma-separated list contain a word? */
static int
cgroup_list_has(const char *list, const char *word)
{
	size_t	 n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ',' || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\n'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Probe an explicit cgroup root: a cgroup.controllers file there means a
 * v2 mount; otherwise each subdirectory with cgroup.procs is a v1
 * hierarchy named by its controllers, and one with cgroup.controllers is
 * the hybrid v2 mount.  Symlinks (cpu -> cpu,cpuacct) are skipped.
 */
static int
cgroup_probe_root(struct cgroup_layout *l, const char *root)
{
	struct dirent	*de;
	DIR		*d;
	char		*p;
	struct stat	 st;

	xasprintf(&p, "%s/cgroup.controllers", root);
	if (stat(p, &st) == 0) {
		free(p);
		return cgroup_add_hier(l, root, 2, "");
	}
	free(p);
	if ((d = opendir(root)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		xasprintf(&p, "%s/%s/cgroup.controllers", root, de->d_name);
		if (stat(p, &st) == 0) {
			free(p);
			xasprintf(&p, "%s/%s", root, de->d_name);
			cgroup_add_hier(l, p, 2, "");
			free(p);
			continue;
		}
		free(p);
		xasprintf(&p, "%s/%s/cgroup.procs", root, de->d_name);
		if (stat(p, &st) == 0) {
			free(p);
			xasprintf(&p, "%s/%s", root, de->d_name);
			cgroup_add_hier(l, p, 1, de->d_name);
		}
		free(p);
	}
	closedir(d);
	return 0;
}

/* Read a whole small file by path into a new string; NULL with errno. */
static char *
cgroup_slurp(const char *path)
{
	char	*buf;
	size_t	 size = 16384;
	int	 fd, n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	buf = xmalloc(size);
	n = procfs_read_all(fd, path, buf, size);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Give each controller class the hierarchy that serves it, and its ops. */
static void
cgroup_assign_controllers(struct cgroup_layout *l)
{
	char	*ctl = NULL, *p;
	int	 c, i, nv1 = 0;

	l->v2_hier = -1;
	for (i = 0; i < l->nhier; i++) {
		if (l->hier[i].version == 2 && l->v2_hier == -1)
			l->v2_hier = i;
		if (l->hier[i].version == 1)
			nv1++;
	}
	if (l->v2_hier != -1) {
		xasprintf(&p, "%s/cgroup.controllers", l->hier[l->v2_hier].path);
		ctl = cgroup_slurp(p);
		free(p);
	}
	for (c = 0; c < CGROUP_NCTRL; c++) {
		l->ctrl_hier[c] = -1;
		l->ops[c] = NULL;
		for (i = 0; i < l->nhier; i++) {
			if (l->hier[i].version == 1 &&
			    cgroup_list_has(l->hier[i].options, cgroup_v1_names[c]))
				break;
		}
		if (i < l->nhier) {
			l->ctrl_hier[c] = i;
			l->ops[c] = &cgroup_v1_ops;
			continue;
		}
		/* cpu.stat's usage_usec exists in every v2 cgroup, enabled or not. */
		if (l->v2_hier != -1 && (c == CGROUP_CPU ||
		    (ctl != NULL && cgroup_list_has(ctl, cgroup_v2_names[c])))) {
			l->ctrl_hier[c] = l->v2_hier;
			l->ops[c] = &cgroup_v2_ops;
		}
	}
	free(ctl);
	if (nv1 == 0)
		l->mode = l->v2_hier == -1 ? CGROUP_MODE_NONE : CGROUP_MODE_V2;
	else
		l->mode = l->v2_hier == -1 ? CGROUP_MODE_V1 : CGROUP_MODE_HYBRID;
	/* Walk the memory hierarchy: memory is what users come for. */
	l->walk_hier = l->ctrl_hier[CGROUP_MEMORY];
	if (l->walk_hier == -1)
		l->walk_hier = l->ctrl_hier[CGROUP_CPU];
	if (l->walk_hier == -1)
		l->walk_hier = l->v2_hier != -1 ? l->v2_hier : 0;
}

/* Allow as many kept-open files as the fd limit leaves room for. */
static void
cgroup_set_fd_budget(struct cgroup_layout *l)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Leave 128 fds for /proc, stdio, inotify and the runtimes' files. */
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = INT_MAX;
	l->fds_budget = rl.rlim_cur > 256 ? (int)rl.rlim_cur - 128 : 0;
	l->fds_open = 0;
}

/*
 * Discover the layout: from PROC/self/mountinfo, or by probing ROOT when
 * one is given.  On failure returns -1 with a message in *cause.
 */
int
cgroup_layout_open(struct cgroup_layout *l, const char *proc, const char *root, char **cause)
{
	char	*p, *text;
	int	 i;

	memset(l, 0, sizeof *l);
	if (root != NULL) {
		if (cgroup_probe_root(l, root) != 0) {
			xasprintf(cause, "%s: %s", root, strerror(errno));
			return -1;
		}
	} else {
		xasprintf(&p, "%s/self/mountinfo", proc);
		text = cgroup_slurp(p);
		if (text == NULL || cgroup_parse_mountinfo(text, l) != 0) {
			xasprintf(cause, "%s: %s", p, text == NULL ? strerror(errno) : "malformed");
			free(text);
			free(p);
			cgroup_layout_close(l);
			return -1;
		}
		free(text);
		free(p);
	}
	for (i = 0; i < l->nhier; i++)
		l->hier[i].fd = open(l->hier[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cgroup_assign_controllers(l);
	if (l->mode == CGROUP_MODE_NONE || l->hier[l->walk_hier].fd == -1) {
		xasprintf(cause, "no cgroup hierarchy found%s%s", root != NULL ? " under " : "",
		    root != NULL ? root : "");
		cgroup_layout_close(l);
		return -1;
	}
	cgroup_set_fd_budget(l);
	return 0;
}

/* Close the layout's hierarchy fds and free its strings. */
void
cgroup_layout_close(struct cgroup_layout *l)
{
	int	i;

	for (i = 0; i < l->nhier; i++) {
		if (l->hier[i].fd != -1)
			close(l->hier[i].fd);
		free(l->hier[i].path);
		free(l->hier[i].options);
	}
	l->nhier = 0;
}

/* Create a node for a cgroup path ("/" or "/a/b") with no files open. */
struct cgroup_node *
cgroup_node_create(const char *path)
{
	struct cgroup_node	*n;
	int			 i;

	n = xcalloc(1, sizeof *n);
	n->path = xstrdup(path);
	for (i = 0; i < CGF_COUNT; i++)
		n->fd[i] = -1;
	return n;
}

/* Close a node's kept-open files and free it. */
void
cgroup_node_free(struct cgroup_layout *l, struct cgroup_node *n)
{
	int	i;

	if (n == NULL)
		return;
	for (i = 0; i < CGF_COUNT; i++) {
		if (n->fd[i] != -1) {
			close(n->fd[i]);
			l->fds_open--;
		}
	}
	free(n->path);
	free(n);
}

/* Is this errno the normal "it went away" of a removed cgroup or exited pid? */
int
cgroup_is_gone(int error)
{
	return error == ENOENT || error == ENODEV || error == ESRCH;
}

/*
 * Read file NAME of a node in hierarchy HIER into buf (NUL-terminated),
 * through the node's kept-open fd for slot FID when there is one.  Returns
 * the length, or -1 with errno (ENOENT/ENODEV: removed; EACCES: refused).
 */
ssize_t
cgroup_read_file(struct cgroup_layout *l, struct cgroup_node *n, int hier,
    enum cgroup_file_id fid, const char *name, char *buf, size_t size)
{
	char	 rel[PATH_MAX];
	ssize_t	 len;
	int	 fd, saved;

	if (hier < 0 || hier >= l->nhier || l->hier[hier].fd == -1 ||
	    (n->absent & (1U << fid))) {
		errno = ENOENT;
		return -1;
	}
	fd = n->fd[fid];
	if (fd == -1) {
		if (strcmp(n->path, "/") == 0)
			len = snprintf(rel, sizeof rel, "%s", name);
		else
			len = snprintf(rel, sizeof rel, "%s/%s", n->path + 1, name);
		if (len < 0 || (size_t)len >= sizeof rel) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(l->hier[hier].fd, rel, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOENT)
				n->absent |= 1U << fid;	/* until the next retry, see cgroup_sample_read */
			return -1;
		}
	}
	len = procfs_pread(fd, buf, size);
	saved = errno;
	if (len == -1 || n->fd[fid] != -1) {
		if (len == -1 && n->fd[fid] != -1) {
			close(fd);
			n->fd[fid] = -1;
			l->fds_open--;
		} else if (len == -1)
			close(fd);
		errno = saved;
		return len;
	}
	if (l->fds_open < l->fds_budget) {
		n->fd[fid] = fd;
		l->fds_open++;
	} else
		close(fd);
	return len;
}

/* Read a file holding one unsigned number; -1 with errno (EINVAL if malformed). */
int
cgroup_read_u64(struct cgroup_layout *l, struct cgroup_node *n, int hier,
    enum cgroup_file_id fid, const char *name, uint64_t *out)
{
	char	buf[64];

	if (cgroup_read_file(l, n, hier, fid, name, buf, sizeof buf) == -1)
		return -1;
	return cgroup_parse_u64(buf, out);
}

/*
 * Read a limit file (memory.limit_in_bytes, memory.max, pids.max: a
 * number or "max") through the node's cache: limits change rarely, so the
 * file is re-read every CGROUP_SLOW_EVERY samples only, which saves a
 * third of the reads of a refresh.
 */
int
cgroup_read_limit(struct cgroup_layout *l, struct cgroup_node *n, int hier,
    enum cgroup_file_id fid, const char *name, uint64_t *out)
{
	char	buf[64];

	if ((n->cached & (1U << fid)) && n->age % CGROUP_SLOW_EVERY != 0) {
		*out = n->cache[fid];
		return 0;
	}
	n->cached &= ~(1U << fid);
	if (cgroup_read_file(l, n, hier, fid, name, buf, sizeof buf) == -1 ||
	    cgroup_v2_parse_max(buf, out) == -1)
		return -1;
	n->cache[fid] = *out;
	n->cached |= 1U << fid;
	return 0;
}

/* Parse a decimal u64 followed by at most a newline; -1 with EINVAL otherwise. */
int
cgroup_parse_u64(const char *s, uint64_t *out)
{
	uint64_t	v = 0;
	const char	*p = s;

	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10 && (v > UINT64_MAX / 10 ||
		    (uint64_t)(*p - '0') > UINT64_MAX - v * 10))
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\n')
		p++;
	if (*p != '\0')
		goto bad;
	*out = v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * Find "KEY VALUE" in a flat-keyed file (memory.stat, cpu.stat,
 * memory.events) and parse VALUE.  Keys are matched whole: new keys appear
 * anywhere between kernel versions.  Returns 0, or -1 with ENOENT (no such
 * key) or EINVAL (a malformed value).
 */
int
cgroup_parse_keyed(const char *text, const char *key, uint64_t *out)
{
	size_t		 klen = strlen(key);
	const char	*p = text, *end;
	char		 num[32];

	while (*p != '\0') {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			if ((size_t)(end - p - (ptrdiff_t)klen - 1) >= sizeof num)
				break;
			memcpy(num, p + klen + 1, (size_t)(end - p) - klen - 1);
			num[end - p - (ptrdiff_t)klen - 1] = '\0';
			return cgroup_parse_u64(num, out);
		}
		p = *end == '\n' ? end + 1 : end;
	}
	errno = p == text + strlen(text) ? ENOENT : EINVAL;
	return -1;
}

/*
 * Parse avg10 of the "some" and "full" lines of a PSI file ("some
 * avg10=0.12 avg60=... total=..."); "full" is absent for cpu.pressure on
 * older kernels.  Returns 0, or -1 with EINVAL for anything else.
 */
int
cgroup_parse_psi(const char *text, double *some, double *full)
{
	const char	*p = text;
	double		*dst;
	char		*end;
	int		 got = 0;

	*some = *full = 0;
	while (*p != '\0') {
		if (strncmp(p, "some avg10=", 11) == 0)
			dst = some;
		else if (strncmp(p, "full avg10=", 11) == 0)
			dst = full;
		else
			goto bad;
		p += 11;
		if (!isdigit((unsigned char)*p))
			goto bad;
		*dst = strtod(p, &end);
		if (*end != ' ' || *dst > 100)
			goto bad;
		got++;
		p = strchr(end, '\n');
		if (p == NULL)
			break;
		p++;
	}
	if (got == 0)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Parse the first pid of a cgroup.procs file; -1 with ENOENT if it is empty. */
int
cgroup_parse_procs_first(const char *text, pid_t *pid)
{
	uint64_t	 v = 0;
	char		 num[16];
	size_t		 n;

	n = strcspn(text, "\n");
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n >= sizeof num) {
		errno = EINVAL;
		return -1;
	}
	memcpy(num, text, n);
	num[n] = '\0';
	if (cgroup_parse_u64(num, &v) != 0 || v == 0 || v > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

/*
 * Has a node's cgroup been removed?  A missing file is not enough: on v2 a
 * controller's files exist only where the parent enabled it.  ENODEV on a
 * kept-open file, or the directory itself missing, is.
 */
static int
cgroup_node_gone(struct cgroup_layout *l, struct cgroup_node *n)
{
	struct stat	st;

	if (errno == ENODEV)
		return 1;
	if (strcmp(n->path, "/") == 0)
		return 0;
	return fstatat(l->hier[l->walk_hier].fd, n->path + 1, &st, 0) == -1 && errno == ENOENT;
}

/* Run one controller's reader, recording refusals; -1 only if the cgroup is gone. */
static int
cgroup_sample_one(struct cgroup_layout *l, struct cgroup_node *n, int c,
    struct cgroup_sample *s)
{
	int	(*fn)(struct cgroup_layout *, struct cgroup_node *, int, struct cgroup_sample *);
	static const unsigned bit[CGROUP_NCTRL] = {
		[CGROUP_MEMORY] = MONITOR_HAVE_MEM, [CGROUP_CPU] = MONITOR_HAVE_CPU,
		[CGROUP_IO] = MONITOR_HAVE_BLKIO, [CGROUP_PIDS] = MONITOR_HAVE_PIDS,
	};
	const struct cgroup_ops	*ops = l->ops[c];
	int			 hier = l->ctrl_hier[c];

	if (ops == NULL)
		return 0;
	fn = c == CGROUP_MEMORY ? ops->read_memory : c == CGROUP_CPU ? ops->read_cpu :
	    c == CGROUP_IO ? ops->read_io : ops->read_pids;
	if (fn(l, n, hier, s) == 0)
		return 0;
	if (errno == EACCES || errno == EPERM)
		s->denied |= bit[c];
	else if (cgroup_is_gone(errno) && hier == l->walk_hier && cgroup_node_gone(l, n))
		return -1;
	/* Otherwise the controller is not enabled here, or not in that hierarchy. */
	return 0;
}

/*
 * Read every figure of a node.  Returns 0 (figures in s->have, refusals in
 * s->denied) or -1 with errno when the cgroup has gone away.
 */
int
cgroup_sample_read(struct cgroup_layout *l, struct cgroup_node *n, struct cgroup_sample *s)
{
	char	buf[512];
	int	c;

	memset(s, 0, sizeof *s);
	s->mem_limit = s->mem_hier_limit = s->pids_max = UINT64_MAX;
	/* Files found absent are tried again now and then: a controller may get enabled. */
	if (n->age++ % CGROUP_SLOW_EVERY == 0)
		n->absent = 0;
	for (c = 0; c < CGROUP_NCTRL; c++) {
		if (cgroup_sample_one(l, n, c, s) != 0)
			return -1;
	}
	/* PSI comes from the v2 tree, even on hybrid hosts where it is the only thing there. */
	if (l->v2_hier != -1 && cgroup_read_file(l, n, l->v2_hier, CGF_MEM_PRESSURE,
	    "memory.pressure", buf, sizeof buf) > 0 &&
	    cgroup_parse_psi(buf, &s->psi_some_avg10, &s->psi_full_avg10) == 0)
		s->have |= MONITOR_HAVE_PSI;
	return 0;
}

/*
 * Scan one "KEY VALUE\n" line of a flat-keyed file at *p and advance past
 * it.  Returns 1 with the key (not NUL-terminated) and value, 0 at the end
 * of the text, -1 with EINVAL if the line is malformed.
 */
int
cgroup_scan_keyed(const char **p, const char **key, size_t *klen, uint64_t *val)
{
	const char	*s = *p, *k;
	char		 num[24];
	size_t		 n;

	if (*s == '\0')
		return 0;
	k = s;
	while (*s == '_' || isalnum((unsigned char)*s))
		s++;
	if (s == k || *s != ' ')
		goto bad;
	*key = k;
	*klen = (size_t)(s - k);
	s++;
	n = strspn(s, "0123456789");
	if (n == 0 || n >= sizeof num || (s[n] != '\n' && s[n] != '\0'))
		goto bad;
	memcpy(num, s, n);
	num[n] = '\0';
	if (cgroup_parse_u64(num, val) != 0)
		goto bad;
	s += n;
	if (*s == '\n')
		s++;
	*p = s;
	return 1;
bad:
	errno = EINVAL;
	return -1;
}

/* Does a scanned key equal a C string? */
int
cgroup_key_is(const char *key, size_t klen, const char *want)
{
	return strlen(want) == klen && memcmp(key, want, klen) == 0;
}
