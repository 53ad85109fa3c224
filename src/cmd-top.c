/*
 * cmd-top.c: `memprof top`, the interactive dashboard.  Options are parsed
 * and checked now; the dashboard is issue #5.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "memprof.h"

static int	cmd_top_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_top_entry = {
	.name = "top",
	.args = "[OPTIONS]",
	.summary = "Interactive dashboard of containers, processes and call sites.",
	.help =
	    "Options:\n"
	    "  -d, --delay SECONDS    refresh interval (default 2)\n"
	    "  -b, --batch            print refreshes as plain text, no curses\n"
	    "  -n, --iterations N     with --batch, number of refreshes\n"
	    "  -a, --all              every cgroup, not only containers\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_top_exec,
};

static const struct option cmd_top_options[] = {
	{ "delay", required_argument, NULL, 'd' },
	{ "batch", no_argument, NULL, 'b' },
	{ "iterations", required_argument, NULL, 'n' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse and check top's options. */
static int
cmd_top_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int	 ch, n;
	double	 delay;
	char	*cause;

	while ((ch = getopt_long(argc, argv, ":d:bn:ah", cmd_top_options, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (parse_seconds(optarg, &delay, &cause) != 0)
				return cmd_usage_cause(self, cause);
			break;
		case 'n':
			if (parse_pid(optarg, &n, &cause) != 0)
				return cmd_usage_error(self, "invalid count '%s'", optarg);
			break;
		case 'b':
		case 'a':
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_top_options);
		}
	}
	if (optind < argc)
		return cmd_usage_error(self, "unexpected argument '%s'", argv[optind]);
	return cmd_not_built(self, "issue #5");
}
