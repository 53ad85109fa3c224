/*
 * test-monitor.c: the monitor end to end on fixture trees (tests/fixtures:
 * a cgroup v1 Docker host copied from a real one; pure v2 with Docker's
 * systemd driver, Kubernetes with containerd, and Podman written from the
 * kernel's documentation and the runtimes' source), and on a scratch tree
 * changed between refreshes for CPU%, new cgroups and removed ones.
 */

#include <sys/stat.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "memprof.h"
#include "monitor.h"

#define MiB	1048576ULL

/* Create a monitor on fixture NAME (a directory in tests/fixtures). */
static struct monitor *
fixture_monitor(const char *name, int all, char **base)
{
	struct monitor_config	 cfg;
	struct monitor		*m;
	const char		*src = getenv("MEMPROF_SRCDIR");
	char			*cause = NULL, *p[6];

	xasprintf(base, "%s/tests/fixtures/%s", src != NULL ? src : ".", name);
	xasprintf(&p[0], "%s/proc", *base);
	xasprintf(&p[1], "%s/sys/fs/cgroup", *base);
	xasprintf(&p[2], "%s/var/lib/docker", *base);
	xasprintf(&p[3], "%s/run/containerd", *base);
	xasprintf(&p[4], "%s/var/lib/containers/storage", *base);
	xasprintf(&p[5], "%s/run/containers/storage", *base);
	memset(&cfg, 0, sizeof cfg);
	cfg.proc_root = p[0];
	cfg.cgroup_root = p[1];
	cfg.docker_root = p[2];
	cfg.containerd_root = p[3];
	cfg.podman_root = p[4];
	cfg.crio_root = p[5];
	cfg.docker_socket = "";
	cfg.all = all;
	m = monitor_create(&cfg, &cause);
	if (m == NULL)
		fail_msg("monitor_create(%s): %s", name, cause);
	for (int i = 0; i < 6; i++)
		free(p[i]);
	return m;
}

/* Find a row by name; fail the test if it is not there. */
static const struct monitor_row *
row_named(const struct monitor_snapshot *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->nrows; i++) {
		if (strcmp(s->rows[i].name, name) == 0)
			return &s->rows[i];
	}
	fail_msg("no row named %s", name);
	return NULL;
}

/* Refresh and return the snapshot, failing the test on error. */
static const struct monitor_snapshot *
refresh(struct monitor *m)
{
	const struct monitor_snapshot	*s;
	char				*cause = NULL;

	s = monitor_refresh(m, &cause);
	if (s == NULL)
		fail_msg("monitor_refresh: %s", cause);
	return s;
}

static void
test_v1_docker(void **state)
{
	const struct monitor_snapshot	*s;
	const struct monitor_row	*r;
	struct monitor			*m;
	char				*base;

	m = fixture_monitor("cgroup-v1-docker", 0, &base);
	s = refresh(m);
	assert_string_equal(s->layout, "hybrid");
	assert_int_equal(s->nrows, 3);
	assert_int_equal(s->mem_total, 24683620ULL * 1024);
	/* memory.usage_in_bytes 888832 - total_inactive_file 344064, as docker computes. */
	r = row_named(s, "mp-net1");
	assert_string_equal(r->id, "64a8fd0dde756f1d1af9941df390c6d6c36dc0dfc90a0534b101966572d5335b");
	assert_string_equal(r->runtime, "docker");
	assert_string_equal(r->image, "memprof-busybox:test");
	assert_int_equal(r->mem_usage, 888832 - 344064);
	assert_int_equal(r->mem_limit, 134217728);
	assert_int_equal(r->cpu_usage_ns, 4130863165ULL);
	assert_int_equal(r->pids, 2);
	assert_true(r->have & MONITOR_HAVE_NET);
	assert_int_equal(r->net_rx, 1532);
	assert_int_equal(r->net_tx, 0);
	assert_true(r->have & MONITOR_HAVE_PSI);		/* from the hybrid v2 mount */
	assert_true(r->have & MONITOR_HAVE_OOM_KILL);
	assert_null(r->note);
	r = row_named(s, "mp-fixture");
	assert_int_equal(r->mem_usage, 1220608 - 344064);
	assert_int_equal(r->mem_limit, 67108864);
	r = row_named(s, "mp-probe");
	assert_int_equal(r->mem_usage, 1081344 - 344064);
	assert_true(r->mem_percent > 0.27 && r->mem_percent < 0.28);
	/* Nothing changed between two reads of a fixture: CPU% is 0, not garbage. */
	s = refresh(m);
	assert_true(row_named(s, "mp-probe")->cpu_percent == 0);
	monitor_free(m);
	free(base);
}

static void
test_v2_systemd(void **state)
{
	const struct monitor_snapshot	*s;
	const struct monitor_row	*r;
	struct monitor			*m;
	pid_t				*pids;
	size_t				 n;
	char				*base;

	m = fixture_monitor("cgroup-v2-systemd", 0, &base);
	s = refresh(m);
	assert_string_equal(s->layout, "v2");
	assert_int_equal(s->nrows, 2);		/* containers only: no services, no slices */
	r = row_named(s, "web");
	assert_string_equal(r->cgroup,
	    "/system.slice/docker-3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a.scope");
	assert_string_equal(r->image, "nginx:1.27");
	assert_int_equal(r->mem_usage, 250 * MiB);
	assert_int_equal(r->mem_raw_usage, 300 * MiB);
	assert_int_equal(r->mem_limit, 512 * MiB);
	assert_true(r->mem_percent > 48.82 && r->mem_percent < 48.83);
	assert_int_equal(r->cpu_usage_ns, 12000000000ULL);
	assert_int_equal(r->blk_read, 4096000);
	assert_int_equal(r->blk_write, 8192000);
	assert_int_equal(r->pids, 5);
	assert_int_equal(r->oom_events, 2);
	assert_int_equal(r->oom_kills, 1);
	assert_true(r->psi_some_avg10 == 1.5 && r->psi_full_avg10 == 0.25);
	assert_int_equal(r->net_rx, 1500000);
	assert_int_equal(r->net_tx, 250000);
	assert_int_equal(r->nifaces, 2);
	assert_false(r->have & MONITOR_HAVE_PARENT);
	assert_int_equal(monitor_pids(m, r, &pids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], 4101);
	assert_int_equal(pids[1], 4102);
	free(pids);
	/* Unlimited under a 256 MiB slice: the limit is MemTotal, the slice's is noted. */
	r = row_named(s, "worker");
	assert_int_equal(r->mem_limit, 16384000ULL * 1024);
	assert_true(r->have & MONITOR_HAVE_PARENT);
	assert_int_equal(r->mem_parent_limit, 256 * MiB);
	monitor_free(m);
	free(base);

	m = fixture_monitor("cgroup-v2-systemd", 1, &base);
	s = refresh(m);
	r = row_named(s, "nginx-proxy.service");	/* unescaped \x2d */
	assert_string_equal(r->runtime, "systemd");
	r = row_named(s, "session-2.scope");
	assert_int_equal(r->mem_usage, 25 * MiB);
	r = row_named(s, "user.slice");		/* no controller files: nothing, not zeros */
	assert_false(r->have & (MONITOR_HAVE_MEM | MONITOR_HAVE_CPU | MONITOR_HAVE_PIDS));
	monitor_free(m);
	free(base);
}

static void
test_v2_k8s(void **state)
{
	const struct monitor_snapshot	*s;
	const struct monitor_row	*r;
	struct monitor			*m;
	char				*base;

	m = fixture_monitor("cgroup-v2-k8s", 0, &base);
	s = refresh(m);
	assert_int_equal(s->nrows, 3);
	r = row_named(s, "shop-api-7d9f8b6c5-x2k4q/api");
	assert_string_equal(r->runtime, "kubernetes");
	assert_string_equal(r->pod, "shop-api-7d9f8b6c5-x2k4q");
	assert_string_equal(r->namespace, "shop");
	assert_string_equal(r->image, "registry.example/shop/api:2.3.1");
	assert_int_equal(r->mem_usage, 159 * MiB);
	assert_int_equal(r->mem_limit, 512 * MiB);
	/* The pod's 256 MiB is tighter than the container's 512 MiB. */
	assert_true(r->have & MONITOR_HAVE_PARENT);
	assert_int_equal(r->mem_parent_limit, 256 * MiB);
	r = row_named(s, "shop-api-7d9f8b6c5-x2k4q/POD");
	assert_string_equal(r->runtime, "kubernetes");
	r = row_named(s, "redis-0/redis");
	assert_string_equal(r->namespace, "cache");
	assert_int_equal(r->mem_limit, 128 * MiB);
	assert_false(r->have & MONITOR_HAVE_PARENT);	/* the pod's 128 MiB is not tighter */
	monitor_free(m);
	free(base);
}

static void
test_v2_podman(void **state)
{
	const struct monitor_snapshot	*s;
	const struct monitor_row	*r;
	struct monitor			*m;
	char				*base;

	m = fixture_monitor("cgroup-v2-podman", 0, &base);
	s = refresh(m);
	assert_int_equal(s->nrows, 3);		/* db, api, and the rootless one; no conmon */
	r = row_named(s, "db");
	assert_string_equal(r->runtime, "podman");
	assert_string_equal(r->image, "docker.io/library/postgres:16");
	assert_int_equal(r->mem_usage, 225 * MiB);
	assert_int_equal(r->mem_limit, 1024 * MiB);
	assert_int_equal(r->blk_read, 5000000);
	r = row_named(s, "api");
	assert_string_equal(r->image, "localhost/shop/api:latest");
	/* Rootless, owner uid 4242 has no home here: the short id stands in. */
	r = row_named(s, "cccccccc3333");
	assert_string_equal(r->runtime, "podman");
	monitor_free(m);
	free(base);
}

/* Write a file in the scratch tree. */
static void __attribute__((format(printf, 3, 4)))
put(const char *dir, const char *name, const char *fmt, ...)
{
	char	*path;
	FILE	*fp;
	va_list	 ap;

	xasprintf(&path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fclose(fp);
	free(path);
}

/* Make a v2 cgroup with the files the monitor reads. */
static void
put_cgroup(const char *dir, unsigned long long usec)
{
	mkdir(dir, 0755);
	put(dir, "memory.current", "%llu\n", 100 * MiB);
	put(dir, "memory.stat", "anon 1\ninactive_file %llu\n", 10 * MiB);
	put(dir, "memory.max", "max\n");
	put(dir, "cpu.stat", "usage_usec %llu\nuser_usec 0\nsystem_usec 0\n", usec);
	put(dir, "pids.current", "1\n");
	put(dir, "cgroup.procs", "%s", "");
}

/* Remove a cgroup of the scratch tree with its files. */
static void
rm_cgroup(const char *dir)
{
	static const char *files[] = {
		"memory.current", "memory.stat", "memory.max", "cpu.stat", "pids.current",
		"cgroup.procs"
	};
	char	*p;
	size_t	 i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		xasprintf(&p, "%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

static void
test_scratch_tree(void **state)
{
	const struct monitor_snapshot	*s;
	struct monitor_config		 cfg;
	struct monitor			*m;
	char				 tmpl[] = "/tmp/memprof-test-monitor.XXXXXX";
	char				*root, *cg, *proc, *a, *b, *cause = NULL;

	assert_non_null(mkdtemp(tmpl));
	xasprintf(&root, "%s/cg", tmpl);
	xasprintf(&proc, "%s/proc", tmpl);
	mkdir(root, 0755);
	mkdir(proc, 0755);
	put(root, "cgroup.controllers", "cpu memory pids\n");
	put(proc, "meminfo", "MemTotal: 1048576 kB\n");
	/* 2 CPUs; ticks are 10 ms. */
	put(proc, "stat", "cpu  100 0 0 100 0 0 0 0 0 0\ncpu0 0\ncpu1 0\n");
	xasprintf(&a, "%s/a", root);
	put_cgroup(a, 1000000);
	memset(&cfg, 0, sizeof cfg);
	cfg.proc_root = proc;
	cfg.cgroup_root = root;
	cfg.docker_socket = "";
	cfg.all = 1;
	m = monitor_create(&cfg, &cause);
	assert_non_null(m);
	s = refresh(m);
	assert_int_equal(s->nrows, 1);
	assert_true(s->rows[0].cpu_percent == 0);	/* no previous sample yet */

	/* 0.5 s of the cgroup's CPU in 1 s of system time on 2 CPUs: docker says 100%. */
	put(a, "cpu.stat", "usage_usec %llu\n", 1500000ULL);
	put(proc, "stat", "cpu  150 0 0 150 0 0 0 0 0 0\ncpu0 0\ncpu1 0\n");
	xasprintf(&b, "%s/b", root);
	put_cgroup(b, 0);
	s = refresh(m);
	assert_int_equal(s->nrows, 2);				/* b seen through inotify */
	assert_true(s->rows[0].cpu_percent > 99.99 && s->rows[0].cpu_percent < 100.01);
	assert_int_equal(s->rows[0].mem_usage, 90 * MiB);
	assert_int_equal(s->rows[0].mem_limit, 1024 * MiB);	/* max: capped at MemTotal */

	/* A cgroup removed between refreshes is simply gone; so is a recreated counter drop. */
	rm_cgroup(b);
	put(a, "cpu.stat", "usage_usec 10\n");
	s = refresh(m);
	assert_int_equal(s->nrows, 1);
	assert_string_equal(s->rows[0].cgroup, "/a");
	assert_true(s->rows[0].cpu_percent == 0);

	/* Malformed files: the figure is left out, the row stays. */
	put(a, "memory.stat", "inactive_file lots\n");
	put(a, "cpu.stat", "usage_usec\n");
	s = refresh(m);
	assert_int_equal(s->nrows, 1);
	assert_false(s->rows[0].have & (MONITOR_HAVE_MEM | MONITOR_HAVE_CPU));
	assert_true(s->rows[0].have & MONITOR_HAVE_PIDS);

	/* A malformed /proc/stat fails the refresh with a message, no crash. */
	put(proc, "stat", "garbage\n");
	assert_null(monitor_refresh(m, &cause));
	assert_non_null(cause);
	free(cause);
	monitor_free(m);
	rm_cgroup(a);
	xasprintf(&cg, "rm -rf %s", tmpl);
	assert_int_equal(system(cg), 0);
	free(cg);
	free(a);
	free(b);
	free(root);
	free(proc);
}

static void
test_create_errors(void **state)
{
	struct monitor_config	 cfg;
	char			 tmpl[] = "/tmp/memprof-test-empty.XXXXXX";
	char			*cause = NULL;

	assert_non_null(mkdtemp(tmpl));
	memset(&cfg, 0, sizeof cfg);
	cfg.cgroup_root = "/nonexistent/memprof";
	assert_null(monitor_create(&cfg, &cause));
	assert_non_null(strstr(cause, "/nonexistent/memprof"));
	free(cause);
	cause = NULL;
	cfg.cgroup_root = tmpl;			/* a directory, but no hierarchy */
	assert_null(monitor_create(&cfg, &cause));
	assert_non_null(strstr(cause, "no cgroup hierarchy"));
	free(cause);
	rmdir(tmpl);
}

static void
test_procmem(void **state)
{
	struct procmem_reader	*r;
	struct procmem		 pm;
	char			*p;
	size_t			 size = 16 * MiB, i;
	pid_t			 child;

	r = procmem_open(NULL);
	assert_non_null(r);
	p = malloc(size);
	assert_non_null(p);
	for (i = 0; i < size; i += 4096)
		p[i] = 1;	/* 16 MiB private and resident */
	assert_int_equal(procmem_read(r, getpid(), &pm), 0);
	assert_true(pm.rss >= size);
	if (pm.smaps_ok) {
		assert_true(pm.uss >= size);
		assert_true(pm.pss >= pm.uss && pm.pss <= pm.rss);
	}
	assert_non_null(strstr(pm.cmd, "test-monitor"));
	free(p);
	/* A process that has exited: ESRCH, no figures. */
	child = fork();
	if (child == 0)
		_exit(0);
	assert_true(child > 0);
	waitpid(child, NULL, 0);
	assert_int_equal(procmem_read(r, child, &pm), -1);
	procmem_close(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_docker),
		cmocka_unit_test(test_v2_systemd),
		cmocka_unit_test(test_v2_k8s),
		cmocka_unit_test(test_v2_podman),
		cmocka_unit_test(test_scratch_tree),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_procmem),
	};

	return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
