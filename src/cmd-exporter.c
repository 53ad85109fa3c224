/*
 * cmd-exporter.c: `memprof exporter`, a Prometheus /metrics endpoint.
 * Options are parsed and checked now; the exporter comes after the monitor
 * (issue #4).
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "memprof.h"

static int	cmd_exporter_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_exporter_entry = {
	.name = "exporter",
	.args = "[OPTIONS]",
	.summary = "Serve container and process metrics to Prometheus.",
	.help =
	    "Options:\n"
	    "  -l, --listen ADDR:PORT address to serve /metrics on (default 127.0.0.1:9464)\n"
	    "  -a, --all              every cgroup, not only containers\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_exporter_exec,
};

static const struct option cmd_exporter_options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse and check the exporter's options. */
static int
cmd_exporter_exec(const struct cmd_entry *self, int argc, char **argv)
{
	int	 ch, port;
	char	*host, *cause;

	while ((ch = getopt_long(argc, argv, ":l:ah", cmd_exporter_options, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (parse_listen(optarg, &host, &port, &cause) != 0)
				return cmd_usage_cause(self, cause);
			free(host);
			break;
		case 'a':
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_exporter_options);
		}
	}
	if (optind < argc)
		return cmd_usage_error(self, "unexpected argument '%s'", argv[optind]);
	return cmd_not_built(self, "after issue #4");
}
