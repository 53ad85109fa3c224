/*
 * cmd-stats.c: `memprof stats [OPTIONS] [CONTAINER...]`, a docker-stats-like
 * table or JSON lines, no curses.  Options are parsed and checked now; the
 * monitor behind it is issue #4.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

static int	cmd_stats_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.args = "[OPTIONS] [CONTAINER...]",
	.summary = "Container resource usage, like docker stats.",
	.help =
	    "Options:\n"
	    "      --no-stream        print one snapshot and exit\n"
	    "  -f, --format FORMAT    table or json (one object per line)\n"
	    "  -a, --all              every cgroup, not only containers\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_stats_exec,
};

enum { OPT_NO_STREAM = 256 };

static const struct option cmd_stats_options[] = {
	{ "no-stream", no_argument, NULL, OPT_NO_STREAM },
	{ "format", required_argument, NULL, 'f' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse and check stats' options. */
static int
cmd_stats_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int	ch;

	while ((ch = getopt_long(argc, argv, ":f:ah", cmd_stats_options, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0)
				return cmd_usage_error(self, "unknown format '%s' (table or json)", optarg);
			break;
		case OPT_NO_STREAM:
		case 'a':
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_stats_options);
		}
	}
	return cmd_not_built(self, "issue #4");
}
