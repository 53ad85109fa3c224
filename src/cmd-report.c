/*
 * cmd-report.c: `memprof report [OPTIONS] CAPTURE`, turn a capture into a
 * report.  Text, JSON, collapsed (folded) stacks and speedscope are built;
 * flamegraph, html and pprof are parsed and say they are not built yet.
 *
 * Exit status: 0 with the report (and a warning line on stderr when the
 * capture is incomplete: the recording was cut short, everything before the
 * cut is reported), 1 when the capture cannot be read or is corrupt, or the
 * report cannot be written, 2 for usage errors.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "capture.h"
#include "report.h"

static int	cmd_report_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.args = "[OPTIONS] CAPTURE",
	.summary = "Turn a capture into a report (text, JSON, flamegraph, ...).",
	.help =
	    "Options:\n"
	    "  -f, --format FORMAT    text, json, collapsed (folded stacks for\n"
	    "                         flamegraph.pl, inferno), speedscope (default\n"
	    "                         text); flamegraph, html and pprof: not built yet\n"
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

/* Write the report in the chosen format to path (NULL: stdout). */
static int
cmd_report_write(const struct report *r, const char *format, const char *path)
{
	FILE	*out = stdout;
	int	 rc;

	if (path != NULL && (out = fopen(path, "w")) == NULL) {
		log_warn("report: cannot write '%s'", path);
		return CMD_RETURN_ERROR;
	}
	if (strcmp(format, "json") == 0)
		rc = report_json(r, out);
	else if (strcmp(format, "collapsed") == 0)
		rc = report_collapsed(r, out);
	else if (strcmp(format, "speedscope") == 0)
		rc = report_speedscope(r, out);
	else
		rc = report_text(r, out);
	if (fflush(out) != 0)
		rc = -1;
	if (rc != 0)
		log_warn("report: writing %s failed", path != NULL ? path : "the report");
	if (path != NULL && fclose(out) != 0 && rc == 0) {
		log_warn("report: writing '%s' failed", path);
		rc = -1;
	}
	return rc == 0 ? CMD_RETURN_OK : CMD_RETURN_ERROR;
}

/* Parse report's options, read the capture, write the report. */
static int
cmd_report_exec(const struct cmd_entry *self, int argc, char **argv)
{
	const char		*format = "text", *view = NULL, *output = NULL;
	struct capture_info	 info;
	struct profile		*pf;
	struct report		 r;
	enum report_view	 v;
	int			 ch, pid = 0, rc;
	char			*cause;

	while ((ch = getopt_long(argc, argv, ":f:v:o:p:h", cmd_report_options, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (!cmd_report_in(optarg, cmd_report_formats))
				return cmd_usage_error(self, "unknown format '%s'", optarg);
			format = optarg;
			break;
		case 'v':
			if (!cmd_report_in(optarg, cmd_report_views))
				return cmd_usage_error(self, "unknown view '%s'", optarg);
			view = optarg;
			break;
		case 'p':
			if (parse_pid(optarg, &pid, &cause) != 0)
				return cmd_usage_cause(self, cause);
			break;
		case 'o':
			output = optarg;
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
	if (strcmp(format, "flamegraph") == 0 || strcmp(format, "html") == 0 ||
	    strcmp(format, "pprof") == 0) {
		log_warnx("report: format '%s' is not built yet; use text, json, collapsed or "
		    "speedscope", format);
		return CMD_RETURN_ERROR;
	}
	if (view == NULL)
		view = strcmp(format, "flamegraph") == 0 || strcmp(format, "html") == 0 ?
		    "peak" : "allocated";
	report_view_parse(view, &v);

	if ((pf = capture_load(argv[optind], &info, &cause)) == NULL) {
		log_warnx("report: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	if (!info.complete)
		log_warnx("report: capture '%s' is incomplete (the recording was cut short); "
		    "reporting the %llu records it holds", argv[optind],
		    (unsigned long long)info.records);
	if (report_build(&r, pf, pid, v, &cause) != 0) {
		log_warnx("report: %s", cause);
		free(cause);
		profile_free(pf);
		return CMD_RETURN_ERROR;
	}
	rc = cmd_report_write(&r, format, output);
	report_free(&r);
	profile_free(pf);
	return rc;
}
