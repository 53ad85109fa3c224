/*
 * cmd-report.c: `memprof report [OPTIONS] CAPTURE`, turn a capture into a
 * report.  Options are parsed and checked now; reports are issue #3.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"

static int	cmd_report_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.args = "[OPTIONS] CAPTURE",
	.summary = "Turn a capture into a report (text, JSON, flamegraph, ...).",
	.help =
	    "Options:\n"
	    "  -f, --format FORMAT    text, json, flamegraph, html, collapsed, pprof or\n"
	    "                         speedscope (default text)\n"
	    "  -v, --view VIEW        allocated, live, peak or leaks (default peak for\n"
	    "                         flamegraph and html, allocated otherwise)\n"
	    "  -o, --output FILE      write the report to FILE instead of stdout\n"
	    "  -p, --pid PID          only this process of a multi-process capture\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_report_exec,
};

static const struct option cmd_report_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "view", required_argument, NULL, 'v' },
	{ "output", required_argument, NULL, 'o' },
	{ "pid", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char *cmd_report_formats[] = {
	"text", "json", "flamegraph", "html", "collapsed", "pprof", "speedscope", NULL
};
static const char *cmd_report_views[] = { "allocated", "live", "peak", "leaks", NULL };

/* Return 1 if word is one of the NULL-terminated list. */
static int
cmd_report_in(const char *word, const char **list)
{
	for (; *list != NULL; list++) {
		if (strcmp(word, *list) == 0)
			return 1;
	}
	return 0;
}

/* Parse and check report's options. */
static int
cmd_report_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int	 ch, pid;
	char	*cause;

	while ((ch = getopt_long(argc, argv, ":f:v:o:p:h", cmd_report_options, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (!cmd_report_in(optarg, cmd_report_formats))
				return cmd_usage_error(self, "unknown format '%s'", optarg);
			break;
		case 'v':
			if (!cmd_report_in(optarg, cmd_report_views))
				return cmd_usage_error(self, "unknown view '%s'", optarg);
			break;
		case 'p':
			if (parse_pid(optarg, &pid, &cause) != 0)
				return cmd_usage_error(self, "%s", cause);
			break;
		case 'o':
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_report_options);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(self, "missing CAPTURE file");
	if (optind + 1 < argc)
		return cmd_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
	return cmd_not_built(self, "issue #3");
}
