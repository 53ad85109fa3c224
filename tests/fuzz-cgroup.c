/*
 * fuzz-cgroup.c: libFuzzer target for every parser of kernel and runtime
 * files in the monitor: mountinfo, cgroup v1 and v2 files, PSI, /proc
 * files and the runtimes' JSON.  Build with ./configure --enable-fuzzing
 * CC=clang; run tests/fuzz-cgroup.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_layout	 l;
	struct cgroup_sample	 s;
	struct procfs_cpu	 cpu;
	struct monitor_iface	 ifs[MONITOR_MAX_IFACES];
	struct container_info	 ci;
	const char		*obj;
	char			*t, out[128];
	uint64_t		 a, b;
	double			 x, y;
	size_t			 olen;
	long long		 ll;
	pid_t			 pid;
	int			 n;

	/* The parsers take C strings: stop at the first NUL like a kernel file read would. */
	t = xstrndup((const char *)data, size);
	size = strlen(t);
	memset(&l, 0, sizeof l);
	cgroup_parse_mountinfo(t, &l);
	cgroup_layout_close(&l);
	memset(&s, 0, sizeof s);
	cgroup_v1_parse_memory_stat(t, &s);
	cgroup_v2_parse_memory_stat(t, &s);
	cgroup_v1_parse_blkio(t, &a, &b);
	cgroup_v2_parse_io_stat(t, &a, &b);
	cgroup_v2_parse_max(t, &a);
	cgroup_parse_keyed(t, "oom_kill", &a);
	cgroup_parse_psi(t, &x, &y);
	cgroup_parse_procs_first(t, &pid);
	procfs_parse_stat(t, &cpu);
	procfs_parse_meminfo(t, &a);
	procfs_parse_net_dev(t, ifs, &n, &a, &b);
	json_get_string(t, size, "Config|Image", out, sizeof out);
	json_get_int(t, size, "State|Pid", &ll);
	if (json_array_find(t, size, "id", "x", &obj, &olen) == 0)
		json_get_string(obj, olen, "names", out, sizeof out);
	container_classify(t, &ci);
	container_info_clear(&ci);
	free(t);
	return 0;
}
