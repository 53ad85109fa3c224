/*
 * cmd-run.c: `memprof run [OPTIONS] [--] COMMAND [ARG...]`, launch a command
 * with the agent preloaded and record its allocations into a capture.
 *
 * Option parsing stops at the first non-option word, so the command's own
 * options (python -X ..., --help) are never taken for memprof's.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "memprof.h"

static int	cmd_run_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.args = "[OPTIONS] [--] COMMAND [ARG...]",
	.summary = "Run a command under the profiler and write a capture.",
	.help =
	    "Options:\n"
	    "  -o, --output FILE       capture file (default memprof-PROG.PID.mprof)\n"
	    "      --live              open the dashboard on the program while it runs\n"
	    "      --sample-every SIZE mean bytes between samples (e.g. 64K, 1M)\n"
	    "      --exact             record every allocation\n"
	    "      --native            record native frames as well as Python frames\n"
	    "      --no-follow         do not profile child processes\n"
	    "  -h, --help              show this help\n",
	.exec = cmd_run_exec,
};

enum { OPT_LIVE = 256, OPT_SAMPLE, OPT_EXACT, OPT_NATIVE, OPT_NO_FOLLOW };

static const struct option cmd_run_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "live", no_argument, NULL, OPT_LIVE },
	{ "sample-every", required_argument, NULL, OPT_SAMPLE },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "native", no_argument, NULL, OPT_NATIVE },
	{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse run's options and launch the command. */
static int
cmd_run_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int		 ch, exact = 0, sampled = 0;
	uint64_t	 every;
	char		*cause;

	while ((ch = getopt_long(argc, argv, "+:o:h", cmd_run_options, NULL)) != -1) {
		switch (ch) {
		case OPT_SAMPLE:
			if (parse_size(optarg, &every, &cause) != 0)
				return cmd_usage_error(self, "%s", cause);
			sampled = 1;
			break;
		case OPT_EXACT:
			exact = 1;
			break;
		case 'o':
		case OPT_LIVE:
		case OPT_NATIVE:
		case OPT_NO_FOLLOW:
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_run_options);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(self, "missing COMMAND to run");
	if (exact && sampled)
		return cmd_usage_error(self, "--exact and --sample-every exclude each other");
	return cmd_not_built(self, "issue #3");
}
