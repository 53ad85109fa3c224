/*
 * cmd-top.c: `memprof top`, the interactive dashboard of containers (or
 * every cgroup with --all), and its plain-text form `--batch -n N` for
 * scripts and tests.  Both read through the same sampler (top-worker.c)
 * and format rows with the same code (top-model.c); batch mode never
 * touches curses.  The monitor is made here, before the screen is taken,
 * so a bad cgroup root is a one-line error on a normal terminal.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"
#include "top.h"

/* Shorter refreshes cost more than they tell: /proc/stat counts 10 ms ticks. */
#define CMD_TOP_MIN_DELAY	0.1

static int	cmd_top_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.args = "[OPTIONS]",
	.summary = "Interactive dashboard of containers, processes and call sites.",
	.help =
	    "Options:\n"
	    "  -d, --delay SECONDS    refresh interval (default 2)\n"
	    "  -b, --batch            print refreshes as plain text, no curses\n"
	    "  -n, --iterations N     stop after N refreshes (with --batch: N frames)\n"
	    "  -a, --all              every cgroup, not only containers\n"
	    "  -s, --sort COLUMN      name, id, cpu, mem, limit, mem%, swap, oom, psi,\n"
	    "                         net, block or pids (default mem)\n"
	    "  -f, --filter TEXT      only rows whose name, id, cgroup or image has TEXT\n"
	    "  -t, --tree             show cgroups as a tree\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Keys: ? or F1 help, / filter, F6 or s sort, t tree, p pause, Enter processes,\n"
	    "Esc back, q quit.  NO_COLOR turns colours off.\n",
	.exec = cmd_top_exec,
};

static const struct option cmd_top_options[] = {
	{ "delay", required_argument, NULL, 'd' },
	{ "batch", no_argument, NULL, 'b' },
	{ "iterations", required_argument, NULL, 'n' },
	{ "all", no_argument, NULL, 'a' },
	{ "sort", required_argument, NULL, 's' },
	{ "filter", required_argument, NULL, 'f' },
	{ "tree", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct cmd_top_args {
	struct top_options	 opt;
	int			 batch;
};

/* Sleep for s seconds, resuming after signals that did not kill us. */
static void
cmd_top_sleep(double s)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Batch mode: one sample to start CPU% from, then a frame every delay
 * (the first one too, so its CPU% covers a full interval), N times or
 * until stdout fails.
 */
static int
cmd_top_batch(struct top_sampler *s, const struct cmd_top_args *a)
{
	struct top_snap		*snap;
	struct top_order	 order;
	int			 i, failed = 0;

	top_snap_free(top_sampler_take(s, NULL));
	for (i = 0; a->opt.iterations == 0 || i < a->opt.iterations; i++) {
		cmd_top_sleep(a->opt.delay);
		snap = top_sampler_take(s, NULL);
		if (snap->error != NULL) {
			log_warnx("top: %s", snap->error);
			top_snap_free(snap);
			failed = 1;
			break;
		}
		top_order_build(&order, snap, a->opt.filter, a->opt.sort,
		    top_cols[a->opt.sort].desc, a->opt.tree);
		top_print_batch(stdout, snap, &order, a->opt.all);
		top_order_free(&order);
		top_snap_free(snap);
		if (ferror(stdout)) {
			failed = 1;
			break;
		}
	}
	top_sampler_free(s);
	return failed ? CMD_RETURN_ERROR : CMD_RETURN_OK;
}

/* Parse top's options into a; returns -1 with *rc set when done (help, error). */
static int
cmd_top_parse(const struct cmd_entry *self, int argc, char **argv, struct cmd_top_args *a,
    int *rc)
{
	char	*cause;
	int	 ch, col;

	memset(a, 0, sizeof *a);
	a->opt.delay = TOP_DELAY_DEFAULT;
	a->opt.sort = TOP_COL_MEM;
	while ((ch = getopt_long(argc, argv, ":d:bn:as:f:th", cmd_top_options, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (parse_seconds(optarg, &a->opt.delay, &cause) != 0) {
				*rc = cmd_usage_cause(self, cause);
				return -1;
			}
			if (a->opt.delay < CMD_TOP_MIN_DELAY) {
				*rc = cmd_usage_error(self, "delay must be at least %.1f seconds",
				    CMD_TOP_MIN_DELAY);
				return -1;
			}
			break;
		case 'n':
			if (parse_pid(optarg, &a->opt.iterations, &cause) != 0) {
				free(cause);
				*rc = cmd_usage_error(self, "invalid count '%s'", optarg);
				return -1;
			}
			break;
		case 'b':
			a->batch = 1;
			break;
		case 'a':
			a->opt.all = 1;
			break;
		case 's':
			if ((col = top_col_find(optarg)) < 0) {
				*rc = cmd_usage_error(self, "unknown sort column '%s'", optarg);
				return -1;
			}
			a->opt.sort = (enum top_col)col;
			a->opt.sort_set = 1;
			break;
		case 'f':
			a->opt.filter = optarg;
			break;
		case 't':
			a->opt.tree = 1;
			break;
		case 'h':
			cmd_print_help(self, stdout);
			*rc = CMD_RETURN_OK;
			return -1;
		default:
			*rc = cmd_option_error(self, ch, argv, cmd_top_options);
			return -1;
		}
	}
	if (optind < argc) {
		*rc = cmd_usage_error(self, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

/* Parse top's options, make the monitor, run the dashboard or the batch. */
static int
cmd_top_exec(const struct cmd_entry *self, int argc, char **argv)
{
	struct cmd_top_args	 a;
	struct monitor_config	 cfg;
	struct monitor		*m;
	struct top_sampler	*s;
	char			*cause = NULL;
	int			 rc;

	if (cmd_top_parse(self, argc, argv, &a, &rc) != 0)
		return rc;
	if (!a.batch && (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))) {
		log_warnx("top: %s is not a terminal; use --batch for plain text",
		    isatty(STDOUT_FILENO) ? "standard input" : "standard output");
		return CMD_RETURN_ERROR;
	}
	monitor_config_from_env(&cfg);
	cfg.all = a.opt.all;
	if ((m = monitor_create(&cfg, &cause)) == NULL) {
		log_warnx("top: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	s = top_sampler_create(m, cfg.proc_root);
	if (a.batch)
		return cmd_top_batch(s, &a);
	return top_run(s, &a.opt, NULL) == 0 ? CMD_RETURN_OK : CMD_RETURN_ERROR;
}
