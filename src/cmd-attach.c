/*
 * cmd-attach.c: `memprof attach --pid PID`, inject the agent into a running
 * process.  Options are parsed and checked now; injection is issue #6.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "memprof.h"

static int	cmd_attach_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.args = "[OPTIONS] --pid PID",
	.summary = "Inject the profiler into a running process.",
	.help =
	    "Options:\n"
	    "  -p, --pid PID          process to profile (required)\n"
	    "  -o, --output FILE      capture file (default memprof-PROG.PID.mprof)\n"
	    "      --duration SECONDS detach after this long (default: on Ctrl-C or q)\n"
	    "      --live             open the dashboard on the process\n"
	    "      --sample-every SIZE mean bytes between samples (e.g. 64K, 1M)\n"
	    "      --exact            record every allocation\n"
	    "      --native           record native frames as well as Python frames\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_attach_exec,
};

enum { OPT_DURATION = 256, OPT_LIVE, OPT_SAMPLE, OPT_EXACT, OPT_NATIVE };

static const struct option cmd_attach_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "output", required_argument, NULL, 'o' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "live", no_argument, NULL, OPT_LIVE },
	{ "sample-every", required_argument, NULL, OPT_SAMPLE },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "native", no_argument, NULL, OPT_NATIVE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse and check attach's options. */
static int
cmd_attach_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int		 ch, pid = 0, exact = 0, sampled = 0;
	double		 duration;
	uint64_t	 every;
	char		*cause;

	while ((ch = getopt_long(argc, argv, ":p:o:h", cmd_attach_options, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_pid(optarg, &pid, &cause) != 0)
				return cmd_usage_cause(self, cause);
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, &duration, &cause) != 0)
				return cmd_usage_cause(self, cause);
			break;
		case OPT_SAMPLE:
			if (parse_size(optarg, &every, &cause) != 0)
				return cmd_usage_cause(self, cause);
			sampled = 1;
			break;
		case OPT_EXACT:
			exact = 1;
			break;
		case 'o':
		case OPT_LIVE:
		case OPT_NATIVE:
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_attach_options);
		}
	}
	if (optind < argc)
		return cmd_usage_error(self, "unexpected argument '%s'", argv[optind]);
	if (pid == 0)
		return cmd_usage_error(self, "missing --pid PID");
	if (exact && sampled)
		return cmd_usage_error(self, "--exact and --sample-every exclude each other");
	return cmd_not_built(self, "issue #6");
}
