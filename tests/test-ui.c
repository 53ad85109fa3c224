/*
 * test-ui.c: the dashboard's pure logic, without a terminal: cell
 * formatting in docker's units and "--" for unread figures, sort order
 * (unknown below zero, ties by name), filter, the cgroup tree, memory
 * history, sparkline scaling, table layout and scrolling, the host
 * /proc parsers, and the sampler end to end on the v1 Docker fixture.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"
#include "monitor.h"
#include "top.h"
#include "ui.h"

#define MiB	1048576ULL

/* A row with a name, cgroup and memory figures. */
static struct monitor_row
mkrow(const char *name, const char *cgroup, uint64_t mem, uint64_t limit, unsigned have)
{
	struct monitor_row	r;

	memset(&r, 0, sizeof r);
	r.id = cgroup;
	r.name = name;
	r.cgroup = cgroup;
	r.runtime = "cgroup";
	r.have = have;
	r.mem_usage = mem;
	r.mem_limit = limit;
	r.mem_percent = limit ? 100.0 * (double)mem / (double)limit : 0;
	return r;
}

static void
test_cells(void **state)
{
	struct monitor_row	r = mkrow("web", "/docker/abc", 532 * 1024, 128 * MiB,
				    MONITOR_HAVE_MEM | MONITOR_HAVE_CPU | MONITOR_HAVE_NET);
	struct procmem		p;
	char			buf[64];

	(void)state;
	r.runtime = "docker";
	r.id = "64a8fd0dde756f1d1af9941df390c6d6c36dc0dfc90a0534b101966572d5335b";
	r.cpu_percent = 12.345;
	r.net_rx = 1532;
	top_cell_format(&r, TOP_COL_MEM, buf, sizeof buf);
	assert_string_equal(buf, "532KiB");
	top_cell_format(&r, TOP_COL_LIMIT, buf, sizeof buf);
	assert_string_equal(buf, "128MiB");
	top_cell_format(&r, TOP_COL_MEMPCT, buf, sizeof buf);
	assert_string_equal(buf, "0.41%");
	top_cell_format(&r, TOP_COL_CPU, buf, sizeof buf);
	assert_string_equal(buf, "12.35%");
	top_cell_format(&r, TOP_COL_ID, buf, sizeof buf);
	assert_string_equal(buf, "64a8fd0dde75");
	top_cell_format(&r, TOP_COL_NET, buf, sizeof buf);
	assert_string_equal(buf, "1.53kB / 0B");
	/* Not read: "--", never 0. */
	top_cell_format(&r, TOP_COL_SWAP, buf, sizeof buf);
	assert_string_equal(buf, "--");
	top_cell_format(&r, TOP_COL_OOM, buf, sizeof buf);
	assert_string_equal(buf, "--");
	top_cell_format(&r, TOP_COL_BLOCK, buf, sizeof buf);
	assert_string_equal(buf, "--");
	/* docker's own limit, the one MEM % divides by, even with a tighter parent. */
	r.have |= MONITOR_HAVE_PARENT;
	r.mem_parent_limit = 64 * MiB;
	top_cell_format(&r, TOP_COL_LIMIT, buf, sizeof buf);
	assert_string_equal(buf, "128MiB");

	memset(&p, 0, sizeof p);
	p.pid = 42;
	p.rss = 3 * MiB;
	snprintf(p.cmd, sizeof p.cmd, "python3");
	top_pcell_format(&p, TOP_PCOL_RSS, buf, sizeof buf);
	assert_string_equal(buf, "3MiB");
	top_pcell_format(&p, TOP_PCOL_PSS, buf, sizeof buf);
	assert_string_equal(buf, "--");		/* smaps unreadable */
	p.smaps_ok = 1;
	p.uss = 2 * MiB;
	top_pcell_format(&p, TOP_PCOL_USS, buf, sizeof buf);
	assert_string_equal(buf, "2MiB");
	top_pcell_format(&p, TOP_PCOL_CMD, buf, sizeof buf);
	assert_string_equal(buf, "python3");
	assert_int_equal(top_col_find("MEM"), TOP_COL_MEM);
	assert_int_equal(top_col_find("mem%"), TOP_COL_MEMPCT);
	assert_int_equal(top_col_find("bogus"), -1);
}

/* A snapshot over rows (not copied: the test keeps them alive). */
static struct top_snap
mksnap(struct monitor_row *rows, size_t n)
{
	struct top_snap	s;

	memset(&s, 0, sizeof s);
	s.rows = rows;
	s.nrows = n;
	s.layout = "v2";
	return s;
}

static void
test_sort_filter(void **state)
{
	struct monitor_row	rows[4];
	struct top_snap		s;
	struct top_order	o;

	(void)state;
	rows[0] = mkrow("beta", "/b", 10 * MiB, 0, MONITOR_HAVE_MEM);
	rows[1] = mkrow("alpha", "/a", 30 * MiB, 0, MONITOR_HAVE_MEM);
	rows[2] = mkrow("gamma", "/g", 0, 0, 0);		/* unread: below zero */
	rows[3] = mkrow("delta", "/d", 10 * MiB, 0, MONITOR_HAVE_MEM);
	rows[3].image = "docker.io/library/postgres:16";
	s = mksnap(rows, 4);

	top_order_build(&o, &s, NULL, TOP_COL_MEM, 1, 0);
	assert_int_equal(o.n, 4);
	assert_string_equal(rows[o.index[0]].name, "alpha");
	/* A tie in memory falls back on the name, in the sort's direction. */
	assert_string_equal(rows[o.index[1]].name, "delta");
	assert_string_equal(rows[o.index[2]].name, "beta");
	assert_string_equal(rows[o.index[3]].name, "gamma");
	top_order_free(&o);

	top_order_build(&o, &s, NULL, TOP_COL_MEM, 0, 0);
	assert_string_equal(rows[o.index[0]].name, "gamma");
	top_order_free(&o);

	top_order_build(&o, &s, NULL, TOP_COL_NAME, 0, 0);
	assert_string_equal(rows[o.index[0]].name, "alpha");
	assert_string_equal(rows[o.index[3]].name, "gamma");
	top_order_free(&o);

	/* Filter: any case, name or image. */
	top_order_build(&o, &s, "ALP", TOP_COL_NAME, 0, 0);
	assert_int_equal(o.n, 1);
	assert_string_equal(rows[o.index[0]].name, "alpha");
	top_order_free(&o);
	top_order_build(&o, &s, "postgres", TOP_COL_NAME, 0, 0);
	assert_int_equal(o.n, 1);
	assert_string_equal(rows[o.index[0]].name, "delta");
	top_order_free(&o);
	top_order_build(&o, &s, "nothing-like-it", TOP_COL_NAME, 0, 0);
	assert_int_equal(o.n, 0);
	top_order_free(&o);
}

static void
test_tree(void **state)
{
	struct monitor_row	rows[6];
	struct top_snap		s;
	struct top_order	o;

	(void)state;
	rows[0] = mkrow("system.slice/b.service", "/system.slice/b.service", 5, 0, MONITOR_HAVE_MEM);
	rows[1] = mkrow("system.slice", "/system.slice", 100, 0, MONITOR_HAVE_MEM);
	rows[2] = mkrow("user.slice", "/user.slice", 50, 0, MONITOR_HAVE_MEM);
	rows[3] = mkrow("system.slice/a.service", "/system.slice/a.service", 90, 0, MONITOR_HAVE_MEM);
	rows[4] = mkrow("a/deep", "/system.slice/a.service/x/deep", 1, 0, MONITOR_HAVE_MEM);
	/* A sibling whose path merely starts like another's is no child of it. */
	rows[5] = mkrow("system.slice2", "/system.slice2", 1000, 0, MONITOR_HAVE_MEM);
	s = mksnap(rows, 6);
	top_order_build(&o, &s, NULL, TOP_COL_MEM, 1, 1);
	assert_int_equal(o.n, 6);
	assert_string_equal(rows[o.index[0]].cgroup, "/system.slice2");
	assert_int_equal(o.depth[0], 0);
	assert_string_equal(rows[o.index[1]].cgroup, "/system.slice");
	assert_string_equal(rows[o.index[2]].cgroup, "/system.slice/a.service");
	assert_int_equal(o.depth[2], 1);
	assert_string_equal(rows[o.index[3]].cgroup, "/system.slice/a.service/x/deep");
	assert_int_equal(o.depth[3], 2);
	assert_string_equal(rows[o.index[4]].cgroup, "/system.slice/b.service");
	assert_int_equal(o.depth[4], 1);
	assert_string_equal(rows[o.index[5]].cgroup, "/user.slice");
	assert_int_equal(o.depth[5], 0);
	top_order_free(&o);
}

static void
test_history(void **state)
{
	struct monitor_row	 rows[2];
	struct top_history	 hs;
	struct top_snap		 s;
	const struct top_hist	*h;
	uint64_t		 v[TOP_HISTORY];
	size_t			 n, i;

	(void)state;
	memset(&hs, 0, sizeof hs);
	rows[0] = mkrow("a", "/a", 1, 0, MONITOR_HAVE_MEM);
	rows[1] = mkrow("b", "/b", 7, 0, MONITOR_HAVE_MEM);
	for (i = 0; i < TOP_HISTORY + 5; i++) {
		rows[0].mem_usage = i;
		s = mksnap(rows, 2);
		top_history_update(&hs, &s);
	}
	h = top_history_find(&hs, "/a");
	assert_non_null(h);
	n = top_hist_values(h, v, TOP_HISTORY);
	assert_int_equal(n, TOP_HISTORY);
	assert_int_equal(v[0], 5);				/* oldest kept */
	assert_int_equal(v[n - 1], TOP_HISTORY + 4);		/* newest last */
	n = top_hist_values(h, v, 3);
	assert_int_equal(n, 3);
	assert_int_equal(v[2], TOP_HISTORY + 4);
	/* "/b" went away: its history is dropped with it. */
	s = mksnap(rows, 1);
	top_history_update(&hs, &s);
	assert_null(top_history_find(&hs, "/b"));
	assert_non_null(top_history_find(&hs, "/a"));
	top_history_free(&hs);
}

static void
test_spark(void **state)
{
	uint64_t	v[4] = { 0, 50, 100, 1 };
	uint8_t		out[6];

	(void)state;
	/* Right-aligned, scaled to the max; 1 of 100 still shows an eighth. */
	ui_spark_levels(v, 4, 0, 1, out, 6);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0);
	assert_int_equal(out[3], 4);
	assert_int_equal(out[4], 8);
	assert_int_equal(out[5], 1);
	/* Two lines: 16 eighths; a fixed scale of 200. */
	ui_spark_levels(v, 4, 200, 2, out, 4);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[2], 8);
	/* Narrower than the history: the newest samples. */
	ui_spark_levels(v, 4, 100, 1, out, 2);
	assert_int_equal(out[0], 8);
	assert_int_equal(out[1], 1);
	/* All zero: empty, no division by zero. */
	memset(v, 0, sizeof v);
	ui_spark_levels(v, 4, 0, 1, out, 4);
	assert_int_equal(out[3], 0);
}

static void
test_table(void **state)
{
	static const struct ui_column	cols[4] = {
		{ "NAME", 0, 0, 0 }, { "MEM", 9, 1, 0 }, { "NET", 17, 1, 4 }, { "PIDS", 5, 1, 2 },
	};
	struct ui_table			t;

	(void)state;
	memset(&t, 0, sizeof t);
	t.cols = cols;
	t.ncols = 4;
	ui_table_layout(&t, 80);
	assert_int_equal(t.nshown, 4);
	assert_int_equal(t.width[0], 80 - 9 - 17 - 5 - 3);
	/* Narrow: NET (priority 4) goes first, then PIDS. */
	ui_table_layout(&t, 40);
	assert_int_equal(t.nshown, 3);
	assert_int_equal(t.shown[2], 3);
	ui_table_layout(&t, 20);
	assert_int_equal(t.nshown, 2);
	assert_int_equal(t.width[0], 10);

	t.nrows = 100;
	t.sel = 50;
	ui_table_scroll(&t, 10);
	assert_int_equal(t.top, 41);
	assert_true(ui_table_key(&t, UI_KEY_HOME, 10));
	assert_int_equal(t.sel, 0);
	assert_int_equal(t.top, 0);
	ui_table_key(&t, UI_KEY_PGDN, 10);
	assert_int_equal(t.sel, 9);
	ui_table_key(&t, UI_KEY_END, 10);
	assert_int_equal(t.sel, 99);
	assert_int_equal(t.top, 90);
	/* Rows vanish under the selection: it stays on the last one. */
	t.nrows = 3;
	ui_table_scroll(&t, 10);
	assert_int_equal(t.sel, 2);
	assert_int_equal(t.top, 0);
	assert_false(ui_table_key(&t, 'x', 10));
}

static void
test_host_parsers(void **state)
{
	struct top_host	h;
	uint64_t	busy, total;
	int		ncpus;

	(void)state;
	assert_int_equal(top_parse_cpu("cpu  100 5 50 800 40 3 2 0 0 0\n"
	    "cpu0 50 2 25 400 20 1 1 0 0 0\ncpu1 50 3 25 400 20 2 1 0 0 0\nintr 1\n",
	    &busy, &total, &ncpus), 0);
	assert_int_equal(busy, 100 + 5 + 50 + 3 + 2);
	assert_int_equal(total, busy + 800 + 40);
	assert_int_equal(ncpus, 2);
	assert_int_equal(top_parse_cpu("intr 1\n", &busy, &total, &ncpus), -1);
	assert_int_equal(top_parse_cpu("cpu  x\n", &busy, &total, &ncpus), -1);

	memset(&h, 0, sizeof h);
	assert_int_equal(top_parse_meminfo("MemTotal:       24683620 kB\nMemFree: 1 kB\n"
	    "MemAvailable:   20000000 kB\nSwapTotal: 1024 kB\nSwapFree: 512 kB\n", &h), 0);
	assert_int_equal(h.mem_total, 24683620ULL * 1024);
	assert_int_equal(h.mem_available, 20000000ULL * 1024);
	assert_int_equal(h.swap_total, 1024 * 1024);
	assert_int_equal(h.swap_free, 512 * 1024);
	assert_int_equal(top_parse_meminfo("garbage\n", &h), -1);
}

/* The sampler on the v1 Docker fixture: rows copied whole, host figures read. */
static void
test_sampler_fixture(void **state)
{
	struct monitor_config	 cfg;
	struct monitor		*m;
	struct top_sampler	*smp;
	struct top_snap		*s;
	struct top_order	 o;
	const char		*src = getenv("MEMPROF_SRCDIR");
	char			*p[3], *cause = NULL;
	size_t			 i;
	int			 found = 0;

	(void)state;
	xasprintf(&p[0], "%s/tests/fixtures/cgroup-v1-docker/proc", src ? src : ".");
	xasprintf(&p[1], "%s/tests/fixtures/cgroup-v1-docker/sys/fs/cgroup", src ? src : ".");
	xasprintf(&p[2], "%s/tests/fixtures/cgroup-v1-docker/var/lib/docker", src ? src : ".");
	memset(&cfg, 0, sizeof cfg);
	cfg.proc_root = p[0];
	cfg.cgroup_root = p[1];
	cfg.docker_root = p[2];
	cfg.docker_socket = "";
	m = monitor_create(&cfg, &cause);
	if (m == NULL)
		fail_msg("monitor_create: %s", cause);
	smp = top_sampler_create(m, p[0]);
	s = top_sampler_take(smp, "/docker/no-such-container");
	assert_null(s->error);
	assert_int_equal(s->nrows, 3);
	assert_int_equal(s->host.mem_total, 24683620ULL * 1024);
	assert_int_equal(s->procs.error, ENOENT);
	top_order_build(&o, s, NULL, TOP_COL_MEM, 1, 0);
	assert_string_equal(s->rows[o.index[0]].name, "mp-fixture");
	assert_string_equal(s->rows[o.index[2]].name, "mp-net1");
	for (i = 0; i < s->nrows; i++)
		found += strcmp(s->rows[i].image, "memprof-busybox:test") == 0;
	assert_int_equal(found, 3);
	top_order_free(&o);
	top_snap_free(s);
	top_sampler_free(smp);
	for (i = 0; i < 3; i++)
		free(p[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_sort_filter),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_spark),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_host_parsers),
		cmocka_unit_test(test_sampler_fixture),
	};

	return cmocka_run_group_tests_name("ui", tests, NULL, NULL);
}
