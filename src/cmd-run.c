/*
 * cmd-run.c: `memprof run [OPTIONS] [--] COMMAND [ARG...]`, launch a command
 * with the agent preloaded and record its allocations into a capture.
 *
 * Option parsing stops at the first non-option word, so the command's own
 * options (python -X ..., --help) are never taken for memprof's.
 *
 * With --live the collector runs on a thread of top-live.c under the
 * dashboard; the command's output goes to CAPTURE.log meanwhile.  Leaving
 * it with q lets the command run on and the recording go on until it ends,
 * as without --live; when the command ends first, the dashboard says so and
 * keeps the last figures until q.
 */

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memprof.h"
#include "collect.h"
#include "launch.h"
#include "report.h"
#include "top-live.h"

/* Default mean bytes between samples; docs/sampling.md says how it was chosen. */
#define CMD_RUN_SAMPLE_EVERY	(64ULL * 1024)
/* How long followed processes may outlive the command before recording stops. */
#define CMD_RUN_GRACE_NS	1000000000ULL

struct cmd_run_options {
	const char	*output;
	uint64_t	 sample_every;
	int		 exact;
	int		 sampled;
	int		 live;
	int		 native;
	int		 follow;
};

static int	cmd_run_exec(const struct cmd_entry *, int, char **);

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.args = "[OPTIONS] [--] COMMAND [ARG...]",
	.summary = "Run a command under the profiler and write a capture.",
	.help =
	    "Options:\n"
	    "  -o, --output FILE       capture file (default memprof-PROG.PID.mprof)\n"
	    "      --live              open the dashboard on the program while it runs\n"
	    "      --sample-every SIZE mean bytes between samples (default 64K)\n"
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

/* The capture path: -o, or memprof-PROG.PID.mprof in the current folder. */
static char *
cmd_run_output(const struct cmd_run_options *o, const char *prog, pid_t pid)
{
	char	*copy, *path;

	if (o->output != NULL)
		return xstrdup(o->output);
	copy = xstrdup(prog);
	xasprintf(&path, "memprof-%s.%d.mprof", basename(copy), (int)pid);
	free(copy);
	return path;
}

/* Print the end-of-run summary on stderr: peak, top sites at peak, where the capture is. */
static void
cmd_run_summary(const struct profile *pf, const char *path, int lost)
{
	struct report		 r;
	char			 a[32], b[32], c[32], procs[48] = "", *cause = NULL;
	size_t			 i, npython = 0;

	if (report_build(&r, pf, 0, REPORT_VIEW_PEAK, &cause) != 0) {
		free(cause);
		return;
	}
	for (i = 0; i < pf->nprocs; i++)
		npython += pf->procs[i]->python_hex != 0;
	if (npython > 0 && npython < r.totals.processes)
		snprintf(procs, sizeof procs, " (%zu running Python)", npython);
	fprintf(stderr, "memprof: %zu process%s%s, peak heap %s (peak RSS %s), %s allocated\n",
	    r.totals.processes, r.totals.processes == 1 ? "" : "es", procs,
	    report_fmt_bytes(a, sizeof a, (double)r.totals.peak),
	    r.totals.rss_peak ? report_fmt_bytes(b, sizeof b, (double)r.totals.rss_peak) : "n/a",
	    report_fmt_bytes(c, sizeof c, (double)r.totals.allocated));
	for (i = 0; i < r.nsites && i < 5; i++) {
		if (r.sites[i].at_peak <= 0)
			break;
		if (i == 0)
			fprintf(stderr, "memprof: top sites at peak:\n");
		report_text_summary_site(pf, r.sites[i].frame, r.sites[i].at_peak, stderr);
	}
	report_text_summary_end(&r, path, lost, stderr);
	report_free(&r);
}

/* Collect until the command exits and its followed processes end (or a grace period). */
static int
cmd_run_loop(struct collect *co, pid_t pid)
{
	uint64_t	end_ns = 0;
	int		wstatus = 0, reaped = 0;
	pid_t		w;

	for (;;) {
		/*
		 * Checked before waiting again, so the last agent's end costs no
		 * extra 10 ms; a final look without waiting accepts connections
		 * still queued (children that ended before the command did).
		 */
		if (reaped && channel_open_count(&co->chan) == 0)
			collect_step(co, 0);
		if (reaped && (channel_open_count(&co->chan) == 0 || collect_now_ns() >= end_ns))
			break;
		collect_step(co, 10);
		if (!reaped) {
			w = waitpid(pid, &wstatus, WNOHANG);
			if (w == pid || (w < 0 && errno == ECHILD)) {
				reaped = 1;
				end_ns = collect_now_ns() + CMD_RUN_GRACE_NS;
			}
		}
	}
	return wstatus;
}

/* --live: send the command's output to CAPTURE.log; -1 (and a warning) if it cannot be. */
static int
cmd_run_live_output(const char *path, char **log, int saved[3])
{
	char	*cause = NULL;

	xasprintf(log, "%s.log", path);
	if (top_live_output_open(*log, saved, &cause) == 0)
		return 0;
	log_warnx("run: --live: %s; recording without the dashboard", cause);
	free(cause);
	free(*log);
	*log = NULL;
	return -1;
}

/* Follow the capture's rename with its log. */
static void
cmd_run_live_rename(const char *path, char **log)
{
	char	*to;

	xasprintf(&to, "%s.log", path);
	if (rename(*log, to) == 0) {
		free(*log);
		*log = to;
	} else
		free(to);
}

/*
 * Collect under the dashboard, then on without it if the user left while
 * the command still ran.  Returns the command's wait status.
 */
static int
cmd_run_live(struct collect *co, pid_t pid, const char *log)
{
	struct top_live	*live = top_live_create(co, pid, log);
	int		 wstatus;

	if (top_live_run(live) != 0)
		log_warnx("run: recording without the dashboard; the output goes to %s", log);
	else if (!top_live_reaped(live))
		log_warnx("run: dashboard closed; pid %d runs on and is still recorded "
		    "(its output goes to %s)", (int)pid, log);
	else
		log_warnx("run: the program's output is in %s", log);
	wstatus = top_live_finish(live);
	top_live_free(live);
	return wstatus;
}

/* Parse run's options into o; returns -1 (and prints the usage error) on a mistake. */
static int
cmd_run_parse(const struct cmd_entry *self, int argc, char **argv, struct cmd_run_options *o,
    int *rc)
{
	int	 ch;
	char	*cause;

	memset(o, 0, sizeof *o);
	o->follow = 1;
	o->sample_every = CMD_RUN_SAMPLE_EVERY;
	while ((ch = getopt_long(argc, argv, "+:o:h", cmd_run_options, NULL)) != -1) {
		switch (ch) {
		case 'o':
			o->output = optarg;
			break;
		case OPT_SAMPLE:
			if (parse_size(optarg, &o->sample_every, &cause) != 0) {
				*rc = cmd_usage_cause(self, cause);
				return -1;
			}
			o->sampled = 1;
			break;
		case OPT_EXACT:
			o->exact = 1;
			break;
		case OPT_LIVE:
			o->live = 1;
			break;
		case OPT_NATIVE:
			o->native = 1;
			break;
		case OPT_NO_FOLLOW:
			o->follow = 0;
			break;
		case 'h':
			cmd_print_help(self, stdout);
			*rc = CMD_RETURN_OK;
			return -1;
		default:
			*rc = cmd_option_error(self, ch, argv, cmd_run_options);
			return -1;
		}
	}
	if (optind >= argc) {
		*rc = cmd_usage_error(self, "missing COMMAND to run");
		return -1;
	}
	if (o->exact && o->sampled) {
		*rc = cmd_usage_error(self, "--exact and --sample-every exclude each other");
		return -1;
	}
	if (o->exact)
		o->sample_every = 0;
	return 0;
}

/* Parse run's options, launch the command under the agent, collect, summarize. */
static int
cmd_run_exec(const struct cmd_entry *self, int argc, char **argv)
{
	struct cmd_run_options	 o;
	struct launch_config	 cfg;
	struct collect		 co;
	char			*agent, *path, *final, *log = NULL, *cause = NULL;
	char			**cmd;
	int			 rc, wstatus, lost, saved[3];
	pid_t			 pid;

	if (cmd_run_parse(self, argc, argv, &o, &rc) != 0)
		return rc;
	if (o.live && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		log_warnx("run: --live needs a terminal; recording without the dashboard");
		o.live = 0;
	}
	cmd = argv + optind;
	if ((agent = agent_path_find(&cause)) == NULL) {
		log_warnx("run: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	path = cmd_run_output(&o, cmd[0], getpid());
	if (collect_start(&co, path, o.sample_every, o.exact ? CAPTURE_FLAG_EXACT : 0, cmd,
	    &cause) != 0) {
		log_warnx("run: %s", cause);
		free(cause);
		free(path);
		free(agent);
		return CMD_RETURN_ERROR;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.agent = agent;
	cfg.socket = co.chan.env;
	cfg.sample_every = o.sample_every;
	cfg.native = o.native;
	cfg.follow = o.follow;
	if (o.live && cmd_run_live_output(path, &log, saved) != 0)
		o.live = 0;
	pid = launch_start(cmd, &cfg, &rc, &cause);
	if (o.live)
		top_live_output_restore(saved);
	if (pid < 0) {
		log_warnx("run: %s", cause);
		free(cause);
		cause = NULL;
		if (collect_finish(&co, &cause) != 0)
			free(cause);
		unlink(path);
		if (log != NULL)
			unlink(log);
		profile_free(co.pf);
		free(log);
		free(path);
		free(agent);
		return rc;
	}
	launch_relay_signals(pid);
	final = cmd_run_output(&o, cmd[0], pid);
	if (o.output == NULL && rename(path, final) == 0) {
		free(path);
		path = final;
		if (log != NULL)
			cmd_run_live_rename(path, &log);
	} else
		free(final);

	if (o.live)
		wstatus = cmd_run_live(&co, pid, log);
	else
		wstatus = cmd_run_loop(&co, pid);
	lost = collect_finish(&co, &cause) != 0;
	if (lost) {
		log_warnx("run: %s", cause);
		free(cause);
	}
	cmd_run_summary(co.pf, path, lost);
	profile_free(co.pf);
	free(log);
	free(path);
	free(agent);
	return launch_exit_code(wstatus);
}
