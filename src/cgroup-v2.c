/*
 * cgroup-v2.c: readers for controllers on the unified (v2) hierarchy, as
 * one ops table that cgroup.c picks per controller at discovery.
 *
 * The files follow containerd's cgroup2 package, which dockerd reads:
 * memory.current minus memory.stat's inactive_file is docker's working
 * set, memory.max the limit, memory.events the OOM counters, cpu.stat's
 * usage_usec the CPU time, io.stat's rbytes/wbytes summed over devices the
 * block I/O, pids.current the tasks.  All of these are hierarchical.
 */

#include <fcntl.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* Parse a "max" or a number (memory.max, pids.max); "max" is UINT64_MAX. */
int
cgroup_v2_parse_max(const char *text, uint64_t *out)
{
	if (strcmp(text, "max\n") == 0 || strcmp(text, "max") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	return cgroup_parse_u64(text, out);
}

/* Parse a v2 memory.stat for inactive_file; -1 with EINVAL if malformed. */
int
cgroup_v2_parse_memory_stat(const char *text, struct cgroup_sample *s)
{
	const char	*p = text, *key;
	size_t		 klen;
	uint64_t	 v;
	int		 rc;

	while ((rc = cgroup_scan_keyed(&p, &key, &klen, &v)) == 1) {
		if (cgroup_key_is(key, klen, "inactive_file")) {
			s->mem_inactive_file = v;
			s->mem_has_inactive = 1;
		}
	}
	return rc;
}

/* Parse one "key=value" token of io.stat; adds rbytes/wbytes. */
static int
cgroup_v2_parse_io_token(const char *tok, size_t len, uint64_t *rd, uint64_t *wr)
{
	const char	*eq;
	char		 num[24];
	uint64_t	 v;
	size_t		 vlen;

	eq = memchr(tok, '=', len);
	if (eq == NULL || eq == tok)
		return -1;
	vlen = len - (size_t)(eq + 1 - tok);
	if (vlen == 0 || vlen >= sizeof num)
		return -1;
	memcpy(num, eq + 1, vlen);
	num[vlen] = '\0';
	if ((eq - tok == 6 && strncmp(tok, "rbytes", 6) == 0) ||
	    (eq - tok == 6 && strncmp(tok, "wbytes", 6) == 0)) {
		if (cgroup_parse_u64(num, &v) != 0)
			return -1;
		*(tok[0] == 'r' ? rd : wr) += v;
		return 0;
	}
	/* Other keys (rios, dbytes, cost.vrate=135.04 with iocost) may be decimals. */
	return strspn(num, "0123456789.") == vlen ? 0 : -1;
}

/*
 * Parse io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ..." per device, or a
 * bare "MAJ:MIN" for a device without I/O yet.  Sums rbytes and wbytes
 * over all devices, as docker does.  Returns 0, or -1 with EINVAL.
 */
int
cgroup_v2_parse_io_stat(const char *text, uint64_t *rd, uint64_t *wr)
{
	const char	*p = text, *e, *t;
	size_t		 n;

	*rd = *wr = 0;
	for (; *p != '\0'; p = *e == '\n' ? e + 1 : e) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			continue;
		n = strspn(p, "0123456789:");
		if (n == 0 || memchr(p, ':', n) == NULL || (p + n != e && p[n] != ' '))
			goto bad;
		for (t = p + n; t < e; t += n) {
			if (*t == ' ') {
				n = 1;
				continue;
			}
			n = strcspn(t, " \n");
			if (cgroup_v2_parse_io_token(t, n, rd, wr) != 0)
				goto bad;
		}
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Read memory: current, inactive_file, max, swap, events (oom, oom_kill). */
static int
cgroup_v2_read_memory(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	char		buf[4096];
	uint64_t	v;

	if (cgroup_read_u64(l, n, h, CGF_MEM_USAGE, "memory.current", &s->mem_usage) != 0)
		return -1;
	if (cgroup_read_file(l, n, h, CGF_MEM_STAT, "memory.stat", buf, sizeof buf) == -1)
		return -1;
	if (cgroup_v2_parse_memory_stat(buf, s) != 0)
		return -1;
	s->have |= MONITOR_HAVE_MEM;
	if (cgroup_read_limit(l, n, h, CGF_MEM_LIMIT, "memory.max", &s->mem_limit) == 0)
		s->have |= MONITOR_HAVE_LIMIT;
	/* memory.swap.current is absent without swap accounting (and in the root). */
	if (cgroup_read_u64(l, n, h, CGF_MEM_SWAP, "memory.swap.current", &s->swap) == 0)
		s->have |= MONITOR_HAVE_SWAP;
	if (cgroup_read_file(l, n, h, CGF_MEM_EVENTS, "memory.events", buf, sizeof buf) > 0) {
		if (cgroup_parse_keyed(buf, "oom", &v) == 0) {
			s->oom_events = v;
			s->have |= MONITOR_HAVE_OOM;
		}
		if (cgroup_parse_keyed(buf, "oom_kill", &v) == 0) {
			s->oom_kills = v;
			s->have |= MONITOR_HAVE_OOM_KILL;
		}
	}
	return 0;
}

/* Read CPU usage from cpu.stat's usage_usec, in ns. */
static int
cgroup_v2_read_cpu(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	char		buf[1024];
	uint64_t	usec;

	if (cgroup_read_file(l, n, h, CGF_CPU_USAGE, "cpu.stat", buf, sizeof buf) == -1)
		return -1;
	if (cgroup_parse_keyed(buf, "usage_usec", &usec) != 0)
		return -1;
	if (usec > UINT64_MAX / 1000) {
		errno = EINVAL;
		return -1;
	}
	s->cpu_usage_ns = usec * 1000;
	s->have |= MONITOR_HAVE_CPU;
	return 0;
}

/* Read io.stat; a device list longer than the buffer is cut at a line end. */
static int
cgroup_v2_read_io(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	char	 buf[8192], *nl;
	ssize_t	 len;

	len = cgroup_read_file(l, n, h, CGF_IO, "io.stat", buf, sizeof buf);
	if (len == -1)
		return -1;
	if ((size_t)len == sizeof buf - 1 && (nl = strrchr(buf, '\n')) != NULL)
		nl[1] = '\0';
	if (cgroup_v2_parse_io_stat(buf, &s->io_read, &s->io_write) != 0)
		return -1;
	s->have |= MONITOR_HAVE_BLKIO;
	return 0;
}

/* Read pids.current and pids.max. */
static int
cgroup_v2_read_pids(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	if (cgroup_read_u64(l, n, h, CGF_PIDS, "pids.current", &s->pids) != 0)
		return -1;
	s->have |= MONITOR_HAVE_PIDS;
	cgroup_read_limit(l, n, h, CGF_PIDS_MAX, "pids.max", &s->pids_max);
	return 0;
}

/*
 * Find the tightest memory.max among the ancestors of PATH in hierarchy H
 * (not PATH itself, not the root, which has none).  Sets *limit
 * (UINT64_MAX: none) and returns 0.  Opens files on each call: the monitor
 * calls it rarely, as limits seldom change.
 */
int
cgroup_v2_parent_limit(struct cgroup_layout *l, int h, const char *path, uint64_t *limit)
{
	char		 rel[PATH_MAX], buf[64], *slash;
	uint64_t	 v;
	ssize_t		 len;
	int		 fd;

	*limit = UINT64_MAX;
	if (h < 0 || l->hier[h].fd == -1 || strlen(path) >= sizeof rel - 16)
		return 0;
	snprintf(rel, sizeof rel, "%s", path + 1);
	while ((slash = strrchr(rel, '/')) != NULL) {
		*slash = '\0';
		memcpy(slash, "/memory.max", sizeof "/memory.max");
		fd = openat(l->hier[h].fd, rel, O_RDONLY | O_CLOEXEC);
		*slash = '\0';
		if (fd == -1)
			continue;
		len = procfs_pread(fd, buf, sizeof buf);
		close(fd);
		if (len > 0 && cgroup_v2_parse_max(buf, &v) == 0 && v < *limit)
			*limit = v;
	}
	return 0;
}

const struct cgroup_ops cgroup_v2_ops = {
	.name = "v2",
	.read_memory = cgroup_v2_read_memory,
	.read_cpu = cgroup_v2_read_cpu,
	.read_io = cgroup_v2_read_io,
	.read_pids = cgroup_v2_read_pids,
};
