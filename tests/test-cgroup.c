/*
 * test-cgroup.c: unit tests for the monitor's parsers: mountinfo and
 * layout discovery (pure v1, pure v2, hybrid as on Debian 12, a controller
 * moved to v2), cgroup v1 and v2 files, /proc files, the runtimes' JSON,
 * container classification, and rejection of malformed text.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"
#include "monitor.h"
#include "stats.h"

/* This host's /proc/self/mountinfo (Debian 12 VM, hybrid), cgroup lines and two others. */
static const char mountinfo_hybrid[] =
    "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* A pure v2 systemd host (Debian 12 default), with optional fields. */
static const char mountinfo_v2[] =
    "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    "26 30 0:6 / /sys/kernel/security rw,nosuid shared:8 - securityfs securityfs rw\n";

/* A legacy v1 host with joined cpu,cpuacct and a mount point with a space. */
static const char mountinfo_v1[] =
    "30 22 0:27 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/mem\\040ory rw shared:15 - cgroup cgroup rw,memory\n";

static void
test_mountinfo(void **state)
{
	struct cgroup_layout	l;
	int			i;

	memset(&l, 0, sizeof l);
	assert_int_equal(cgroup_parse_mountinfo(mountinfo_hybrid, &l), 0);
	assert_int_equal(l.nhier, 7);
	assert_string_equal(l.hier[0].path, "/sys/fs/cgroup/cpu");
	assert_string_equal(l.hier[0].options, "cpu");
	assert_string_equal(l.hier[5].options, "name=systemd");
	assert_int_equal(l.hier[6].version, 2);
	assert_string_equal(l.hier[6].path, "/sys/fs/cgroup/unified");
	cgroup_layout_close(&l);

	memset(&l, 0, sizeof l);
	assert_int_equal(cgroup_parse_mountinfo(mountinfo_v2, &l), 0);
	assert_int_equal(l.nhier, 1);
	assert_int_equal(l.hier[0].version, 2);
	cgroup_layout_close(&l);

	memset(&l, 0, sizeof l);
	assert_int_equal(cgroup_parse_mountinfo(mountinfo_v1, &l), 0);
	assert_int_equal(l.nhier, 2);
	assert_string_equal(l.hier[0].options, "cpu,cpuacct");
	assert_string_equal(l.hier[1].path, "/sys/fs/cgroup/mem ory");
	for (i = 0; i < l.nhier; i++)
		assert_int_equal(l.hier[i].version, 1);
	cgroup_layout_close(&l);
}

static void
test_mountinfo_rejects(void **state)
{
	static const char *bad[] = {
		"31 30 0:28 / /sys/fs/cgroup/cpu rw cgroup cgroup rw,cpu\n",	/* no "-" */
		"31 30 0:28\n",
		"31 30 0:28 / /x rw - cgroup\n",				/* no source */
		"31 30 0:28 / /x rw - cgroup cgroup\n",				/* no options */
	};
	struct cgroup_layout	l;
	size_t			i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&l, 0, sizeof l);
		assert_int_equal(cgroup_parse_mountinfo(bad[i], &l), -1);
		cgroup_layout_close(&l);
	}
}

static void
test_v1_memory_stat(void **state)
{
	struct cgroup_sample	s;

	memset(&s, 0, sizeof s);
	s.mem_hier_limit = UINT64_MAX;
	assert_int_equal(cgroup_v1_parse_memory_stat(
	    "cache 25165824\nrss 122880\ninactive_file 1\nhierarchical_memory_limit 67108864\n"
	    "total_swap 4096\ntotal_inactive_file 25165824\n", &s), 0);
	assert_true(s.mem_has_inactive);
	assert_int_equal(s.mem_inactive_file, 25165824);	/* total_, not the local key */
	assert_int_equal(s.mem_hier_limit, 67108864);
	assert_int_equal(s.swap, 4096);
	assert_true(s.have & MONITOR_HAVE_SWAP);

	assert_int_equal(cgroup_v1_parse_memory_stat("cache x\n", &s), -1);
	assert_int_equal(cgroup_v1_parse_memory_stat("cache  1\n", &s), -1);
	assert_int_equal(cgroup_v1_parse_memory_stat("ca-che 1\n", &s), -1);
	assert_int_equal(cgroup_v1_parse_memory_stat("cache 99999999999999999999999\n", &s), -1);
	assert_int_equal(cgroup_v1_parse_memory_stat("cache 1 2\n", &s), -1);
	assert_int_equal(cgroup_v1_parse_memory_stat("", &s), 0);
}

static void
test_v1_blkio(void **state)
{
	uint64_t	rd, wr;

	assert_int_equal(cgroup_v1_parse_blkio(
	    "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Async 12288\n"
	    "254:0 Discard 0\n254:0 Total 12288\n8:0 Read 1\n8:0 Write 2\nTotal 12291\n",
	    &rd, &wr), 0);
	assert_int_equal(rd, 4097);
	assert_int_equal(wr, 8194);
	assert_int_equal(cgroup_v1_parse_blkio("Total 0\n", &rd, &wr), 0);
	assert_int_equal(rd, 0);
	assert_int_equal(cgroup_v1_parse_blkio("254:0 Read\n4096\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v1_parse_blkio("254:0 Read -1\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v1_parse_blkio("garbage\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v1_parse_blkio("Total 1 2\n", &rd, &wr), -1);
}

static void
test_v2_files(void **state)
{
	struct cgroup_sample	s;
	uint64_t		rd, wr, v;

	assert_int_equal(cgroup_v2_parse_io_stat(
	    "254:0 rbytes=4096000 wbytes=8192000 rios=12 wios=34 dbytes=0 dios=0\n253:0\n"
	    "8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0 cost.vrate=135.04 cost.usage=7\n",
	    &rd, &wr), 0);
	assert_int_equal(rd, 4096001);
	assert_int_equal(wr, 8192002);
	assert_int_equal(cgroup_v2_parse_io_stat("", &rd, &wr), 0);
	assert_int_equal(cgroup_v2_parse_io_stat("254:0 rbytes=x\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v2_parse_io_stat("rbytes=1\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v2_parse_io_stat("254:0 rbytes\n", &rd, &wr), -1);
	assert_int_equal(cgroup_v2_parse_io_stat("254:0 =5\n", &rd, &wr), -1);

	memset(&s, 0, sizeof s);
	assert_int_equal(cgroup_v2_parse_memory_stat("anon 5\nfile 9\ninactive_file 7\n", &s), 0);
	assert_int_equal(s.mem_inactive_file, 7);
	assert_int_equal(cgroup_v2_parse_memory_stat("anon\n", &s), -1);

	assert_int_equal(cgroup_v2_parse_max("max\n", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cgroup_v2_parse_max("536870912\n", &v), 0);
	assert_int_equal(v, 536870912);
	assert_int_equal(cgroup_v2_parse_max("maximum\n", &v), -1);
	assert_int_equal(cgroup_v2_parse_max("", &v), -1);
}

static void
test_keyed_and_psi(void **state)
{
	uint64_t	v;
	double		some, full;
	pid_t		pid;

	assert_int_equal(cgroup_parse_keyed("low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n", "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_parse_keyed("oom_kill 1\n", "oom", &v), -1);
	assert_int_equal(cgroup_parse_keyed("usage_usec 12\n", "usage_usec", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(cgroup_parse_keyed("usage_usec 1x\n", "usage_usec", &v), -1);

	assert_int_equal(cgroup_parse_psi(
	    "some avg10=1.50 avg60=0.80 avg300=0.20 total=123456\n"
	    "full avg10=0.25 avg60=0.10 avg300=0.02 total=23456\n", &some, &full), 0);
	assert_true(some == 1.5 && full == 0.25);
	assert_int_equal(cgroup_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	    &some, &full), 0);
	assert_int_equal(cgroup_parse_psi("", &some, &full), -1);
	assert_int_equal(cgroup_parse_psi("some avg10=x\n", &some, &full), -1);
	assert_int_equal(cgroup_parse_psi("some avg10=101.0 x\n", &some, &full), -1);
	assert_int_equal(cgroup_parse_psi("half avg10=1.0 x\n", &some, &full), -1);

	assert_int_equal(cgroup_parse_procs_first("4101\n4102\n", &pid), 0);
	assert_int_equal(pid, 4101);
	assert_int_equal(cgroup_parse_procs_first("", &pid), -1);
	assert_int_equal(cgroup_parse_procs_first("0\n", &pid), -1);
	assert_int_equal(cgroup_parse_procs_first("12a\n", &pid), -1);
	assert_int_equal(cgroup_parse_procs_first("99999999999999\n", &pid), -1);
}

static void
test_procfs(void **state)
{
	struct procfs_cpu	cpu;
	struct monitor_iface	ifs[MONITOR_MAX_IFACES];
	uint64_t		total, rx, tx;
	int			n;

	assert_int_equal(procfs_parse_stat(
	    "cpu  10000 0 5000 80000 100 0 50 7 9 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
	    "cpu1 1 2 3 4 5 6 7 8 9 0\nintr 1\n", &cpu), 0);
	/* user+nice+system+idle+iowait+irq+softirq = 95150 ticks of 10 ms; steal left out. */
	assert_int_equal(cpu.system_ns, 95150ULL * 10000000ULL);
	assert_int_equal(cpu.ncpus, 2);
	assert_int_equal(procfs_parse_stat("cpu0 1 2 3\n", &cpu), -1);
	assert_int_equal(procfs_parse_stat("cpu  1 2 3\n", &cpu), -1);

	assert_int_equal(procfs_parse_meminfo("MemTotal:       16384000 kB\nMemFree: 1 kB\n", &total), 0);
	assert_int_equal(total, 16384000ULL * 1024);
	assert_int_equal(procfs_parse_meminfo("MemFree: 1 kB\n", &total), -1);
	assert_int_equal(procfs_parse_meminfo("XMemTotal: 5 kB\n", &total), -1);

	assert_int_equal(procfs_parse_net_dev(
	    "Inter-|   Receive\n face |bytes\n"
	    "    lo:    4000      40    0    0    0     0          0         0     4000      40    0    0    0     0       0          0\n"
	    "  eth0: 1500000    1200    0    0    0     0          0         0   250000     900    0    0    0     0       0          0\n",
	    ifs, &n, &rx, &tx), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rx, 1500000);		/* lo left out, as docker does */
	assert_int_equal(tx, 250000);
	assert_string_equal(ifs[0].name, "lo");
	assert_int_equal(ifs[0].rx_bytes, 4000);
	assert_int_equal(procfs_parse_net_dev("a\nb\neth0 1 2\n", ifs, &n, &rx, &tx), -1);
	assert_int_equal(procfs_parse_net_dev("a\nb\neth0: 1 2\n", ifs, &n, &rx, &tx), -1);
	assert_int_equal(procfs_parse_net_dev("", ifs, &n, &rx, &tx), -1);
}

static void
test_json(void **state)
{
	static const char doc[] =
	    "{\"State\":{\"Pid\":21240,\"Health\":null},\"Name\":\"/mp-probe\","
	    "\"Config\":{\"Labels\":{\"a\":[1,2,{\"b\":true}]},\"Image\":\"busy\\\"box\\u00e9\"},"
	    "\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"p\",\"nerdctl/name\":\"n\"}}";
	static const char arr[] =
	    "[{\"id\":\"a1\",\"names\":[\"db\"]},{\"id\":\"b2\",\"names\":[\"api\",\"x\"]}]";
	char		 out[64];
	const char	*obj;
	size_t		 olen;
	long long	 v;

	assert_int_equal(json_get_string(doc, strlen(doc), "Name", out, sizeof out), 0);
	assert_string_equal(out, "/mp-probe");
	assert_int_equal(json_get_string(doc, strlen(doc), "Config|Image", out, sizeof out), 0);
	assert_string_equal(out, "busy\"box\xc3\xa9");
	assert_int_equal(json_get_string(doc, strlen(doc),
	    "annotations|io.kubernetes.cri.sandbox-name", out, sizeof out), 0);
	assert_string_equal(out, "p");
	assert_int_equal(json_get_string(doc, strlen(doc), "annotations|nerdctl/name", out,
	    sizeof out), 0);
	assert_string_equal(out, "n");
	assert_int_equal(json_get_int(doc, strlen(doc), "State|Pid", &v), 0);
	assert_int_equal(v, 21240);
	assert_int_equal(json_get_string(doc, strlen(doc), "Missing", out, sizeof out), -1);
	assert_int_equal(json_get_string(doc, strlen(doc), "State|Pid", out, sizeof out), -1);
	assert_int_equal(json_get_string(doc, strlen(doc), "Name", out, 4), -1);	/* too long */

	assert_int_equal(json_array_find(arr, strlen(arr), "id", "b2", &obj, &olen), 0);
	assert_int_equal(json_get_string(obj, olen, "names", out, sizeof out), 0);
	assert_string_equal(out, "api");
	assert_int_equal(json_array_find(arr, strlen(arr), "id", "zz", &obj, &olen), -1);

	/* Malformed: truncated, bad escapes, unbalanced, deep nesting. */
	assert_int_equal(json_get_string("{\"Name\":\"ab", 10, "Name", out, sizeof out), -1);
	assert_int_equal(json_get_string("{\"Name\":\"a\\q\"}", 14, "Name", out, sizeof out), -1);
	assert_int_equal(json_get_string("{\"X\":[1,2,\"Name\":\"a\"}", 21, "Name", out, sizeof out), -1);
	{
		char	deep[400];

		memset(deep, '[', sizeof deep);
		memcpy(deep, "{\"A\":", 5);
		assert_int_equal(json_get_string(deep, sizeof deep, "B", out, sizeof out), -1);
	}
}

static void
test_classify(void **state)
{
	static const char id[] = "3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a";
	struct container_info	ci;
	char			path[512];

	snprintf(path, sizeof path, "/docker/%s", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_DOCKER);
	assert_string_equal(ci.id, id);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/system.slice/docker-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_DOCKER);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_DOCKER);
	assert_true(ci.rootless);
	assert_int_equal(ci.owner, 1000);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/kubepods.slice/kubepods-pod1.slice/cri-containerd-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_CONTAINERD);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/kubepods/burstable/pod1/%s", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_CONTAINERD);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/machine.slice/libpod-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_PODMAN);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/machine.slice/libpod-conmon-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_SYSTEMD);	/* not a container */
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/kubepods.slice/crio-%s.scope", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_CRIO);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/custom/%s", id);
	assert_int_equal(container_classify(path, &ci), CONTAINER_UNKNOWN);
	container_info_clear(&ci);
	assert_int_equal(container_classify("/lxc.payload.web1", &ci), CONTAINER_LXC);
	assert_string_equal(ci.name, "web1");
	container_info_clear(&ci);
	assert_int_equal(container_classify("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope", &ci),
	    CONTAINER_NSPAWN);
	assert_string_equal(ci.name, "qemu-1-vm");
	container_info_clear(&ci);
	assert_int_equal(container_classify("/system.slice/nginx\\x2dproxy.service", &ci),
	    CONTAINER_SYSTEMD);
	assert_string_equal(ci.name, "nginx-proxy.service");
	container_info_clear(&ci);
	assert_int_equal(container_classify("/process_api/01148333", &ci), CONTAINER_NONE);
	container_info_clear(&ci);
	snprintf(path, sizeof path, "/docker/%.63s", id);	/* 63 hex: not an id */
	assert_int_equal(container_classify(path, &ci), CONTAINER_NONE);
	container_info_clear(&ci);
}

static void
test_units(void **state)
{
	char	buf[32];

	stats_format_binary(896000, buf, sizeof buf);
	assert_string_equal(buf, "875KiB");
	stats_format_binary(268435456, buf, sizeof buf);
	assert_string_equal(buf, "256MiB");
	stats_format_binary(1417674, buf, sizeof buf);
	assert_string_equal(buf, "1.352MiB");
	stats_format_binary(0, buf, sizeof buf);
	assert_string_equal(buf, "0B");
	stats_format_binary(25276026880ULL, buf, sizeof buf);
	assert_string_equal(buf, "23.54GiB");
	stats_format_decimal(1532, buf, sizeof buf);
	assert_string_equal(buf, "1.53kB");
	stats_format_decimal(0, buf, sizeof buf);
	assert_string_equal(buf, "0B");
	stats_format_decimal(8192000, buf, sizeof buf);
	assert_string_equal(buf, "8.19MB");
	stats_format_decimal(999, buf, sizeof buf);
	assert_string_equal(buf, "999B");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_mountinfo_rejects),
		cmocka_unit_test(test_v1_memory_stat),
		cmocka_unit_test(test_v1_blkio),
		cmocka_unit_test(test_v2_files),
		cmocka_unit_test(test_keyed_and_psi),
		cmocka_unit_test(test_procfs),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_units),
	};

	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
