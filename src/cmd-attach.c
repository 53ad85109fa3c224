/*
 * cmd-attach.c: `memprof attach --pid PID`, profile a process that is
 * already running, then leave it running as it was.
 *
 * The flow: check the target from /proc (inject_preflight: every reason it
 * cannot work, in one line), listen for the agent (in the target's network
 * namespace when it has its own, since the agent connects to an abstract
 * socket name and those are per network namespace), inject the agent
 * (inject.c), record as `run` does (collect.c) until --duration, Ctrl-C or
 * the process ends, then detach: shutting our end of the connection down
 * tells the agent's watcher thread to give the program's allocator slots
 * back, stop recording and close; its end of file ends the image in the
 * capture.  docs/attach.md has the details.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* setns, CLONE_NEWNET */
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memprof.h"
#include "collect.h"
#include "inject.h"
#include "monitor.h"
#include "report.h"
#include "top-live.h"

/* Default mean bytes between samples: run's (docs/sampling.md). */
#define CMD_ATTACH_SAMPLE_EVERY	(64ULL * 1024)
/* How long the agent has to say hello after the injection returned. */
#define CMD_ATTACH_HELLO_NS	5000000000ULL
/* How long the agent has to finish detaching before memprof stops waiting. */
#define CMD_ATTACH_DETACH_NS	5000000000ULL

struct cmd_attach_options {
	const char	*output;
	uint64_t	 sample_every;
	double		 duration;	/* 0: until Ctrl-C */
	int		 pid;
	int		 exact;
	int		 sampled;
	int		 live;
	int		 native;
};

static int	cmd_attach_exec(const struct cmd_entry *, int, char **);
static int	cmd_attach_live(struct collect *, pid_t);

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.args = "[OPTIONS] --pid PID",
	.summary = "Inject the profiler into a running process.",
	.help =
	    "Options:\n"
	    "  -p, --pid PID           process to profile (required)\n"
	    "  -o, --output FILE       capture file (default memprof-PROG.PID.mprof)\n"
	    "      --duration SECONDS  detach after recording this long (default: on Ctrl-C)\n"
	    "      --live              open the dashboard on the process; q detaches\n"
	    "      --sample-every SIZE mean bytes between samples (default 64K)\n"
	    "      --exact             record every allocation\n"
	    "      --native            record native frames as well as Python frames\n"
	    "  -h, --help              show this help\n"
	    "\n"
	    "The process keeps running: memprof stops one thread for a few\n"
	    "milliseconds to load its agent, and on detach the agent unhooks\n"
	    "itself.  Needs ptrace rights over the process: the same user (and\n"
	    "kernel.yama.ptrace_scope 0), or CAP_SYS_PTRACE (root; in docker\n"
	    "compose, cap_add: [SYS_PTRACE]).  Works from the host into a\n"
	    "container and inside the container.  See docs/attach.md.\n",
	.exec = cmd_attach_exec,
};

enum { OPT_DURATION = 256, OPT_LIVE, OPT_SAMPLE, OPT_EXACT, OPT_NATIVE, OPT_NO_FOLLOW };

static const struct option cmd_attach_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "output", required_argument, NULL, 'o' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "live", no_argument, NULL, OPT_LIVE },
	{ "sample-every", required_argument, NULL, OPT_SAMPLE },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "native", no_argument, NULL, OPT_NATIVE },
	{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Set by SIGINT, SIGTERM, SIGHUP: detach now. */
static volatile sig_atomic_t cmd_attach_stop;

/* Signal handler: ask the loop to detach. */
static void
cmd_attach_on_signal(int sig)
{
	(void)sig;
	cmd_attach_stop = 1;
}

/* Parse attach's options into o; -1 (usage printed, *rc set) on a mistake or --help. */
static int
cmd_attach_parse(const struct cmd_entry *self, int argc, char **argv,
    struct cmd_attach_options *o, int *rc)
{
	int	 ch;
	char	*cause;

	memset(o, 0, sizeof *o);
	o->sample_every = CMD_ATTACH_SAMPLE_EVERY;
	while ((ch = getopt_long(argc, argv, ":p:o:h", cmd_attach_options, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_pid(optarg, &o->pid, &cause) != 0) {
				*rc = cmd_usage_cause(self, cause);
				return -1;
			}
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_DURATION:
			if (parse_seconds(optarg, &o->duration, &cause) != 0) {
				*rc = cmd_usage_cause(self, cause);
				return -1;
			}
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
			break;	/* attach never follows children (docs/attach.md) */
		case 'h':
			cmd_print_help(self, stdout);
			*rc = CMD_RETURN_OK;
			return -1;
		default:
			*rc = cmd_option_error(self, ch, argv, cmd_attach_options);
			return -1;
		}
	}
	if (optind < argc) {
		*rc = cmd_usage_error(self, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (o->pid == 0) {
		*rc = cmd_usage_error(self, "missing --pid PID");
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

/* The target's command line as an argv (NULL-terminated; free both). */
static char **
cmd_attach_cmdline(pid_t pid, char **buf)
{
	char	 path[64], **argv;
	size_t	 len = 0, cap = 4096, n = 0, i;
	ssize_t	 r;
	int	 fd;

	*buf = xmalloc(cap + 1);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		while ((r = read(fd, *buf + len, cap - len)) > 0) {
			len += (size_t)r;
			if (len == cap) {
				cap *= 2;
				*buf = xrealloc(*buf, cap + 1);
			}
		}
		close(fd);
	}
	(*buf)[len] = '\0';
	argv = xcalloc(len + 2, sizeof *argv);
	for (i = 0; i < len; i += strlen(*buf + i) + 1)
		argv[n++] = *buf + i;
	return argv;
}

/* Run collect_start in pid's network namespace when it is not ours; 0 or -1. */
static int
cmd_attach_listen(struct collect *co, pid_t pid, const char *path, uint64_t every,
    uint32_t flags, char **argv, char **cause)
{
	struct stat	ours, theirs;
	char		nspath[64];
	int		self = -1, target = -1, rc;

	snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &ours) != 0 || stat(nspath, &theirs) != 0 ||
	    (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino))
		return collect_start(co, path, every, flags, argv, cause);
	/* Abstract socket names live in a network namespace: listen in the target's. */
	if ((self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (target = open(nspath, O_RDONLY | O_CLOEXEC)) < 0 ||
	    setns(target, CLONE_NEWNET) != 0) {
		xasprintf(cause, "cannot enter process %d's network namespace (needs "
		    "CAP_SYS_ADMIN, e.g. root on the host): %s", (int)pid, strerror(errno));
		if (self >= 0)
			close(self);
		if (target >= 0)
			close(target);
		return -1;
	}
	close(target);
	rc = collect_start(co, path, every, flags, argv, cause);
	if (setns(self, CLONE_NEWNET) != 0)
		fatal("cannot return to memprof's network namespace");
	close(self);
	return rc;
}

/* One line naming the container pid runs in, if any (stderr). */
static void
cmd_attach_container(pid_t pid)
{
	struct container_paths	 paths = {
		"/var/lib/docker", "/run/containerd", "/var/lib/containers/storage",
		"/run/containers/storage", ""
	};
	struct container_info	 ci;
	char			 path[64], buf[4096], *line, *save = NULL, *cg;

	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	{
		FILE	*f = fopen(path, "re");
		size_t	 n;

		if (f == NULL)
			return;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
	}
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		/* "ID:CONTROLLERS:PATH": the memory controller's, or v2's (empty controllers). */
		if ((cg = strchr(line, ':')) == NULL || (cg = strchr(cg + 1, ':')) == NULL)
			continue;
		memset(&ci, 0, sizeof ci);
		if (container_classify(cg + 1, &ci) != CONTAINER_NONE &&
		    ci.kind != CONTAINER_SYSTEMD) {
			container_resolve(&paths, &ci);
			fprintf(stderr, "memprof: process %d runs in %s container %s\n", (int)pid,
			    container_runtime_name(&ci), ci.name != NULL ? ci.name : ci.id);
			container_info_clear(&ci);
			return;
		}
		container_info_clear(&ci);
	}
}

/* The end-of-attach summary on stderr: peak, top sites, where the capture is. */
static void
cmd_attach_summary(const struct profile *pf, const char *path, int lost, double secs)
{
	struct report		 r;
	char			 a[32], b[32], *cause = NULL;
	size_t			 i;

	if (report_build(&r, pf, 0, REPORT_VIEW_ALLOCATED, &cause) != 0) {
		free(cause);
		return;
	}
	fprintf(stderr, "memprof: detached after %.1f s; %s allocated, peak heap %s\n", secs,
	    report_fmt_bytes(a, sizeof a, (double)r.totals.allocated),
	    report_fmt_bytes(b, sizeof b, (double)r.totals.peak));
	for (i = 0; i < r.nsites && i < 5; i++) {
		if (i == 0)
			fprintf(stderr, "memprof: top sites by bytes allocated:\n");
		report_text_summary_site(pf, r.sites[i].frame, (int64_t)r.sites[i].allocated,
		    stderr);
	}
	report_text_summary_end(&r, path, lost, stderr);
	report_free(&r);
}

/* 1 once some image has said hello. */
static int
cmd_attach_greeted(const struct collect *co)
{
	size_t	i;

	for (i = 0; i < co->chan.nconns; i++) {
		if (co->chan.conns[i]->serial != 0)
			return 1;
	}
	return 0;
}

/*
 * Record until the duration, a signal or the end of the process; then
 * detach.  Returns 0, or -1 if the agent never said hello.
 */
static int
cmd_attach_loop(struct collect *co, const struct cmd_attach_options *o)
{
	uint64_t	end = 0, until;
	size_t		i;

	until = collect_now_ns() + CMD_ATTACH_HELLO_NS;
	while (!cmd_attach_greeted(co) && collect_now_ns() < until)
		collect_step(co, 10);
	/* --duration is recording time: it counts from the agent's hello, not from the injection. */
	if (o->duration > 0)
		end = collect_now_ns() + (uint64_t)(o->duration * 1e9);
	if (!cmd_attach_greeted(co))
		log_warnx("attach: the agent did not connect; detaching");
	else if (!o->live || cmd_attach_live(co, o->pid) != 0) {
		while (!cmd_attach_stop && (end == 0 || collect_now_ns() < end) &&
		    channel_open_count(&co->chan) > 0)
			collect_step(co, 20);
	}
	/* Detach: the agent's watcher sees our end shut and unhooks; its close ends the image. */
	for (i = 0; i < co->chan.nconns; i++) {
		if (co->chan.conns[i]->fd >= 0)
			shutdown(co->chan.conns[i]->fd, SHUT_WR);
	}
	until = collect_now_ns() + CMD_ATTACH_DETACH_NS;
	while (channel_open_count(&co->chan) > 0 && collect_now_ns() < until)
		collect_step(co, 10);
	if (channel_open_count(&co->chan) > 0)
		log_warnx("attach: the agent did not confirm its detach within %llu s",
		    (unsigned long long)(CMD_ATTACH_DETACH_NS / 1000000000ULL));
	return cmd_attach_greeted(co) ? 0 : -1;
}

/*
 * Record under the dashboard (--live) until the user quits it or the
 * process ends or detaches; 0, or -1 if the dashboard could not open (the
 * caller records without it).
 */
static int
cmd_attach_live(struct collect *co, pid_t pid)
{
	struct top_live	*live;
	int		 rc;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		log_warnx("attach: --live needs a terminal; recording without the dashboard");
		return -1;
	}
	live = top_live_create(co, pid, NULL);
	top_live_set_attached(live);
	rc = top_live_run(live);
	top_live_stop(live);
	top_live_free(live);
	return rc;
}

/* Attach, record, detach, summarize. */
static int
cmd_attach_exec(const struct cmd_entry *self, int argc, char **argv)
{
	struct cmd_attach_options	 o;
	struct inject_target		 t;
	struct collect			 co;
	struct sigaction		 sa;
	struct inject_stats		 st;
	char				*agent, *path, *config, *cmdbuf, **cmd, *cause = NULL;
	char				 how[96];
	uint64_t			 t0;
	int				 rc, lost, greeted;

	if (cmd_attach_parse(self, argc, argv, &o, &rc) != 0)
		return rc;
	if (inject_preflight(o.pid, &t, &cause) != 0) {
		log_warnx("attach: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	if ((agent = agent_path_find(&cause)) == NULL) {
		log_warnx("attach: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	if (o.output != NULL)
		path = xstrdup(o.output);
	else
		xasprintf(&path, "memprof-%s.%d.mprof", t.comm[0] != '\0' ? t.comm : "process",
		    o.pid);
	cmd = cmd_attach_cmdline(o.pid, &cmdbuf);
	rc = cmd_attach_listen(&co, o.pid, path, o.sample_every,
	    o.exact ? CAPTURE_FLAG_EXACT : 0, cmd, &cause);
	free(cmd);
	free(cmdbuf);
	if (rc != 0) {
		log_warnx("attach: %s", cause);
		free(cause);
		free(path);
		free(agent);
		return CMD_RETURN_ERROR;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cmd_attach_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	xasprintf(&config, "socket=%s;every=%llu;native=%d", co.chan.env,
	    (unsigned long long)o.sample_every, o.native);
	t0 = collect_now_ns();
	memset(&st, 0, sizeof st);
	rc = inject_agent(&t, agent, config, &st, &cause);
	free(config);
	free(agent);
	if (rc < 0) {
		log_warnx("attach: %s", cause);
		free(cause);
		cause = NULL;
		if (collect_finish(&co, &cause) != 0)
			free(cause);
		profile_free(co.pf);
		unlink(path);
		free(path);
		return CMD_RETURN_ERROR;
	}
	if (st.syscall >= 0 && inject_syscall_name(st.syscall) != NULL)
		snprintf(how, sizeof how, "thread %d, blocked in %s,", (int)st.tid,
		    inject_syscall_name(st.syscall));
	else if (st.syscall >= 0)
		snprintf(how, sizeof how, "thread %d, blocked in system call %ld,", (int)st.tid,
		    st.syscall);
	else
		snprintf(how, sizeof how, "thread %d, running,", (int)st.tid);
	fprintf(stderr, "memprof: attached to process %d (%s): %s stopped %.1f ms; %d hooks%s\n",
	    o.pid, t.comm, how, (double)st.stopped_us / 1000.0, rc,
	    o.duration > 0 ? "" : "; press Ctrl-C to detach");
	cmd_attach_container(o.pid);

	greeted = cmd_attach_loop(&co, &o) == 0;
	lost = collect_finish(&co, &cause) != 0;
	if (lost) {
		log_warnx("attach: %s", cause);
		free(cause);
	}
	cmd_attach_summary(co.pf, path, lost, (double)(collect_now_ns() - t0) / 1e9);
	profile_free(co.pf);
	free(path);
	return greeted ? CMD_RETURN_OK : CMD_RETURN_ERROR;
}
