/*
 * cgroup-v1.c: readers for controllers mounted as cgroup v1 hierarchies,
 * as one ops table that cgroup.c picks per controller at discovery.
 *
 * The files and their use follow containerd's cgroup1 package, which is
 * what dockerd reads (reference/containers.md section 1): memory from
 * memory.usage_in_bytes and the hierarchical total_* keys of memory.stat,
 * CPU from cpuacct.usage, block I/O from the blkio throttle files, tasks
 * from pids.current.  Each reader fills its part of a cgroup_sample and
 * returns 0, or -1 with errno when its main file cannot be read; optional
 * files only leave their figure out.
 */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

/*
 * Parse a v1 memory.stat: total_inactive_file (docker subtracts it from
 * usage), total_swap (present only with swap accounting) and
 * hierarchical_memory_limit (the tightest limit of this cgroup and its
 * ancestors).  Returns 0, or -1 with EINVAL on a malformed line.
 */
int
cgroup_v1_parse_memory_stat(const char *text, struct cgroup_sample *s)
{
	const char	*p = text, *key;
	size_t		 klen;
	uint64_t	 v;
	int		 rc;

	while ((rc = cgroup_scan_keyed(&p, &key, &klen, &v)) == 1) {
		if (cgroup_key_is(key, klen, "total_inactive_file")) {
			s->mem_inactive_file = v;
			s->mem_has_inactive = 1;
		} else if (cgroup_key_is(key, klen, "total_swap")) {
			s->swap = v;
			s->have |= MONITOR_HAVE_SWAP;
		} else if (cgroup_key_is(key, klen, "hierarchical_memory_limit"))
			s->mem_hier_limit = v;
	}
	return rc;
}

/*
 * Parse blkio.throttle.io_service_bytes: "MAJ:MIN Op BYTES" lines, Op one
 * of Read, Write, Sync, Async, Discard, Total, and a last "Total BYTES".
 * Sums Read and Write over devices like docker's calculateBlockIO.
 * Returns 0, or -1 with EINVAL.
 */
int
cgroup_v1_parse_blkio(const char *text, uint64_t *rd, uint64_t *wr)
{
	const char	*p = text, *e;
	char		 line[80], dev[32], op[16], num[24], extra[2];
	uint64_t	 v;
	int		 n;

	*rd = *wr = 0;
	for (; *p != '\0'; p = *e == '\n' ? e + 1 : e) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			continue;
		if ((size_t)(e - p) >= sizeof line)
			goto bad;
		memcpy(line, p, (size_t)(e - p));
		line[e - p] = '\0';
		if (strncmp(line, "Total ", 6) == 0) {
			n = sscanf(line, "Total %23[0-9]%1s", num, extra);
			if (n != 1 || cgroup_parse_u64(num, &v) != 0)
				goto bad;
			continue;
		}
		n = sscanf(line, "%31[0-9:] %15[A-Za-z] %23[0-9]%1s", dev, op, num, extra);
		if (n != 3 || strchr(dev, ':') == NULL || cgroup_parse_u64(num, &v) != 0)
			goto bad;
		if (strcmp(op, "Read") == 0)
			*rd += v;
		else if (strcmp(op, "Write") == 0)
			*wr += v;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Read memory: usage, working-set inputs, limit, swap, failcnt, OOM kills. */
static int
cgroup_v1_read_memory(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	char		buf[4096];
	uint64_t	v;

	if (cgroup_read_u64(l, n, h, CGF_MEM_USAGE, "memory.usage_in_bytes", &s->mem_usage) != 0)
		return -1;
	if (cgroup_read_file(l, n, h, CGF_MEM_STAT, "memory.stat", buf, sizeof buf) == -1)
		return -1;
	if (cgroup_v1_parse_memory_stat(buf, s) != 0)
		return -1;
	s->have |= MONITOR_HAVE_MEM;
	/* Unlimited reads as PAGE_COUNTER_MAX pages, far above MemTotal: capped later. */
	if (cgroup_read_limit(l, n, h, CGF_MEM_LIMIT, "memory.limit_in_bytes", &s->mem_limit) == 0)
		s->have |= MONITOR_HAVE_LIMIT;
	/* failcnt is what docker reports as failcnt; on v2 it maps memory.events "oom". */
	if (cgroup_read_u64(l, n, h, CGF_MEM_FAILCNT, "memory.failcnt", &v) == 0) {
		s->oom_events = v;
		s->have |= MONITOR_HAVE_OOM;
	}
	/* oom_kill appeared in memory.oom_control with Linux 4.13. */
	if (cgroup_read_file(l, n, h, CGF_MEM_EVENTS, "memory.oom_control", buf, sizeof buf) > 0 &&
	    cgroup_parse_keyed(buf, "oom_kill", &v) == 0) {
		s->oom_kills = v;
		s->have |= MONITOR_HAVE_OOM_KILL;
	}
	return 0;
}

/* Read CPU usage in ns from cpuacct.usage (hierarchical). */
static int
cgroup_v1_read_cpu(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	if (cgroup_read_u64(l, n, h, CGF_CPU_USAGE, "cpuacct.usage", &s->cpu_usage_ns) != 0)
		return -1;
	s->have |= MONITOR_HAVE_CPU;
	return 0;
}

/*
 * Read block I/O.  containerd reads blkio.throttle.io_service_bytes when
 * CFQ's files are absent (they are, since CFQ left the kernel in 5.0); the
 * _recursive variant (4.19+) is the same for a container and also right
 * for a parent cgroup, so it comes first.
 */
static int
cgroup_v1_read_io(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	char	buf[8192];

	if (cgroup_read_file(l, n, h, CGF_IO, "blkio.throttle.io_service_bytes_recursive",
	    buf, sizeof buf) == -1) {
		if (errno != ENOENT)
			return -1;
		n->absent &= ~(1U << CGF_IO);	/* the slot is not absent, its first name is */
		if (cgroup_read_file(l, n, h, CGF_IO, "blkio.throttle.io_service_bytes", buf,
		    sizeof buf) == -1)
			return -1;
	}
	if (cgroup_v1_parse_blkio(buf, &s->io_read, &s->io_write) != 0)
		return -1;
	s->have |= MONITOR_HAVE_BLKIO;
	return 0;
}

/* Read pids.current and pids.max ("max": no limit). */
static int
cgroup_v1_read_pids(struct cgroup_layout *l, struct cgroup_node *n, int h,
    struct cgroup_sample *s)
{
	if (cgroup_read_u64(l, n, h, CGF_PIDS, "pids.current", &s->pids) != 0)
		return -1;
	s->have |= MONITOR_HAVE_PIDS;
	cgroup_read_limit(l, n, h, CGF_PIDS_MAX, "pids.max", &s->pids_max);
	return 0;
}

const struct cgroup_ops cgroup_v1_ops = {
	.name = "v1",
	.read_memory = cgroup_v1_read_memory,
	.read_cpu = cgroup_v1_read_cpu,
	.read_io = cgroup_v1_read_io,
	.read_pids = cgroup_v1_read_pids,
};
