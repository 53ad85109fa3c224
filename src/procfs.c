/*
 * procfs.c: the few /proc files the container monitor needs, and the
 * pread helper every kernel-file reader shares.
 *
 * /proc/stat gives docker's "system CPU usage" and online CPU count,
 * /proc/meminfo the MemTotal that caps limits, /proc/PID/net/dev a
 * container's interfaces (any task of the container shows its network
 * namespace's counters, no setns needed).  Parsers take text and reject
 * what does not look like the kernel's format; readers never print.
 */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/*
 * Read a kernel file from offset 0 into buf, NUL-terminated, at most
 * size - 1 bytes.  Reading at offset 0 makes the kernel regenerate it, so
 * a kept-open fd gives fresh figures.  Returns the length or -1 with errno.
 */
ssize_t
procfs_pread(int fd, char *buf, size_t size)
{
	size_t	 got = 0;
	ssize_t	 n;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	while (got < size - 1) {
		n = pread(fd, buf + got, size - 1 - got, (off_t)got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
		/* A short read is the end: kernel files come whole in one read. */
		if (n == 0 || (size_t)n < size - 1 - (got - (size_t)n))
			break;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Read a whole file from an open fd (path only for symmetry); -1 with errno. */
int
procfs_read_all(int fd, const char *path, char *buf, size_t size)
{
	ssize_t	n;

	(void)path;
	n = procfs_pread(fd, buf, size);
	return n < 0 ? -1 : (int)n;
}

/*
 * Parse /proc/stat: docker's system CPU time is the first seven fields of
 * the "cpu " line (user nice system idle iowait irq softirq; steal and
 * guest left out) in USER_HZ ticks, which docker hard-codes as 100 per
 * second; its CPU count is the number of "cpuN" lines.  -1 with EINVAL.
 */
int
procfs_parse_stat(const char *text, struct procfs_cpu *cpu)
{
	unsigned long long	 f[7];
	const char		*p;
	uint64_t		 ticks = 0;
	int			 i, n;

	if (strncmp(text, "cpu ", 4) != 0)
		goto bad;
	n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu",
	    &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]);
	if (n != 7)
		goto bad;
	for (i = 0; i < 7; i++) {
		if (f[i] > UINT64_MAX / 8 / 10000000)
			goto bad;	/* far beyond any uptime: a corrupt line */
		ticks += f[i];
	}
	/* USER_HZ is 100 on every Linux ABI: 1 tick = 10 ms = 1e7 ns. */
	cpu->system_ns = ticks * 10000000ULL;
	cpu->ncpus = 0;
	for (p = strchr(text, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
		if (strncmp(p + 1, "cpu", 3) == 0 && isdigit((unsigned char)p[4]))
			cpu->ncpus++;
	}
	if (cpu->ncpus == 0)
		cpu->ncpus = 1;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Parse MemTotal (kB) from /proc/meminfo into bytes; -1 with EINVAL. */
int
procfs_parse_meminfo(const char *text, uint64_t *total)
{
	unsigned long long	 kb;
	const char		*p;

	p = strstr(text, "MemTotal:");
	if (p == NULL || (p != text && p[-1] != '\n'))
		goto bad;
	if (sscanf(p, "MemTotal: %llu kB", &kb) != 1 || kb == 0 || kb > UINT64_MAX / 1024)
		goto bad;
	*total = kb * 1024;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * Parse /proc/PID/net/dev: two header lines, then "IFACE: rx_bytes
 * rx_packets ... (8 receive fields) tx_bytes ...".  Fills up to
 * MONITOR_MAX_IFACES interfaces and sums rx/tx over all but loopback, as
 * docker does.  Returns 0, or -1 with EINVAL.
 */
int
procfs_parse_net_dev(const char *text, struct monitor_iface *ifs, int *nifs,
    uint64_t *rx, uint64_t *tx)
{
	unsigned long long	 v[16];
	const char		*p, *colon;
	size_t			 nlen;
	int			 line = 0;

	*nifs = 0;
	*rx = *tx = 0;
	for (p = text; *p != '\0'; p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : p + strlen(p)) {
		if (line++ < 2 || *p == '\n')
			continue;	/* "Inter-|   Receive ..." and " face |bytes ..." */
		p += strspn(p, " ");
		colon = strchr(p, ':');
		if (colon == NULL || colon == p || memchr(p, '\n', (size_t)(colon - p)) != NULL)
			goto bad;
		nlen = (size_t)(colon - p);
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu "
		    "%llu %llu %llu %llu %llu %llu %llu %llu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		    &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) != 16)
			goto bad;
		if (nlen != 2 || strncmp(p, "lo", 2) != 0) {
			*rx += v[0];
			*tx += v[8];
		}
		if (*nifs < MONITOR_MAX_IFACES && nlen < sizeof ifs[0].name) {
			memcpy(ifs[*nifs].name, p, nlen);
			ifs[*nifs].name[nlen] = '\0';
			ifs[*nifs].rx_bytes = v[0];
			ifs[*nifs].tx_bytes = v[8];
			(*nifs)++;
		}
	}
	if (line < 2)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
