/*
 * cmd-stats.c: `memprof stats [OPTIONS] [CONTAINER...]`, a docker-stats-like
 * table or JSON lines, no curses.
 *
 * It drives the monitor (monitor.h): one sample, a short wait so CPU% has
 * a previous sample to compare with (docker's --no-stream waits for the
 * daemon's second sample in the same way), then a snapshot per second.
 * The table refreshes in place with the same ANSI sequences docker uses
 * when stdout is a terminal, and is printed frame after frame otherwise.
 * CONTAINER arguments select rows by name, full id, id prefix or cgroup
 * path; each must match at the first snapshot, later disappearances just
 * drop the row.
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
#include "stats.h"

/*
 * First CPU% after this long: dockerd's two samples for --no-stream are
 * one collector interval (1 s) apart, and a shorter window is noisier
 * (/proc/stat counts 10 ms ticks).
 */
#define STATS_FIRST_NS	1000000000L
/* Then one frame a second, the interval of dockerd's stats collector. */
#define STATS_EVERY_NS	1000000000L

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
	    "      --no-trunc         show full container ids in the table\n"
	    "  -h, --help             show this help\n",
	.exec = cmd_stats_exec,
};

enum { OPT_NO_STREAM = 256, OPT_NO_TRUNC };

static const struct option cmd_stats_options[] = {
	{ "no-stream", no_argument, NULL, OPT_NO_STREAM },
	{ "format", required_argument, NULL, 'f' },
	{ "all", no_argument, NULL, 'a' },
	{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct cmd_stats {
	int		 json;
	int		 stream;
	int		 no_trunc;
	int		 tty;
	int		 frames;
	char		**want;		/* CONTAINER arguments, NULL: all rows */
	int		 nwant;
	char		**ids;		/* cgroup paths they matched at the start */
	size_t		 nids;
};

/* Does a row match a CONTAINER argument (name, id, id prefix, cgroup path)? */
static int
cmd_stats_match(const struct monitor_row *r, const char *arg)
{
	size_t	n = strlen(arg);

	return strcmp(r->name, arg) == 0 || strcmp(r->cgroup, arg) == 0 ||
	    (n > 0 && strncmp(r->id, arg, n) == 0);
}

/*
 * Resolve the CONTAINER arguments against the first snapshot: each must
 * name exactly one row (a name wins over an id prefix).  Returns 0, or -1
 * after printing the error.
 */
static int
cmd_stats_resolve(struct cmd_stats *st, const struct monitor_snapshot *snap)
{
	const struct monitor_row	*hit;
	size_t				 i, nhit;
	int				 a;

	st->ids = xreallocarray(NULL, (size_t)st->nwant, sizeof *st->ids);
	for (a = 0; a < st->nwant; a++) {
		hit = NULL;
		nhit = 0;
		for (i = 0; i < snap->nrows; i++) {
			if (strcmp(snap->rows[i].name, st->want[a]) == 0) {
				hit = &snap->rows[i];
				nhit = 1;
				break;
			}
			if (cmd_stats_match(&snap->rows[i], st->want[a])) {
				hit = &snap->rows[i];
				nhit++;
			}
		}
		if (nhit == 0) {
			log_warnx("stats: no such container: %s", st->want[a]);
			return -1;
		}
		if (nhit > 1) {
			log_warnx("stats: '%s' matches %zu containers; give more of the id",
			    st->want[a], nhit);
			return -1;
		}
		st->ids[st->nids++] = xstrdup(hit->cgroup);
	}
	return 0;
}

/* Mark which rows to show: those whose cgroup the arguments matched. */
static int *
cmd_stats_select(const struct cmd_stats *st, const struct monitor_snapshot *snap)
{
	int	*sel;
	size_t	 i, j;

	if (st->want == NULL)
		return NULL;
	sel = xcalloc(snap->nrows + 1, sizeof *sel);
	for (i = 0; i < snap->nrows; i++) {
		for (j = 0; j < st->nids; j++) {
			if (strcmp(snap->rows[i].cgroup, st->ids[j]) == 0)
				sel[i] = 1;
		}
	}
	return sel;
}

/* Print one frame: a table (in place on a terminal) or JSON lines. */
static void
cmd_stats_print(struct cmd_stats *st, const struct monitor_snapshot *snap)
{
	int	*sel;
	size_t	 i;

	sel = cmd_stats_select(st, snap);
	if (st->json) {
		for (i = 0; i < snap->nrows; i++) {
			if (sel == NULL || sel[i])
				stats_print_json_row(stdout, &snap->rows[i]);
		}
	} else if (st->stream && st->tty) {
		/* docker's redraw: clear once, then home, erase each line's tail and below. */
		fputs(st->frames == 0 ? "\033[2J\033[H" : "\033[H", stdout);
		stats_print_table(stdout, snap, sel, st->no_trunc, "\033[K\n");
		fputs("\033[J", stdout);
	} else {
		if (st->frames != 0)
			fputc('\n', stdout);
		stats_print_table(stdout, snap, sel, st->no_trunc, "\n");
	}
	fflush(stdout);
	st->frames++;
	free(sel);
}

/* Sleep for ns nanoseconds, resuming after signals that did not kill us. */
static void
cmd_stats_sleep(long ns)
{
	struct timespec	ts = { ns / 1000000000L, ns % 1000000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sample, wait, and print until stopped (or once with --no-stream). */
static int
cmd_stats_run(struct cmd_stats *st, struct monitor *m)
{
	const struct monitor_snapshot	*snap;
	char				*cause = NULL;

	if (monitor_refresh(m, &cause) == NULL)
		goto fail;
	cmd_stats_sleep(STATS_FIRST_NS);
	for (;;) {
		if ((snap = monitor_refresh(m, &cause)) == NULL)
			goto fail;
		if (st->frames == 0 && st->want != NULL && cmd_stats_resolve(st, snap) != 0)
			return CMD_RETURN_ERROR;
		cmd_stats_print(st, snap);
		if (!st->stream || ferror(stdout))
			break;
		cmd_stats_sleep(STATS_EVERY_NS);
	}
	return ferror(stdout) ? CMD_RETURN_ERROR : CMD_RETURN_OK;
fail:
	log_warnx("stats: %s", cause);
	free(cause);
	return CMD_RETURN_ERROR;
}

/* Parse stats' options, then run the monitor. */
static int
cmd_stats_exec(const struct cmd_entry *self, int argc, char **argv)
{
	struct monitor_config	 cfg;
	struct cmd_stats	 st;
	struct monitor		*m;
	char			*cause = NULL;
	size_t			 i;
	int			 ch, all = 0, rc;

	memset(&st, 0, sizeof st);
	st.stream = 1;
	while ((ch = getopt_long(argc, argv, ":f:ah", cmd_stats_options, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0)
				return cmd_usage_error(self, "unknown format '%s' (table or json)", optarg);
			st.json = strcmp(optarg, "json") == 0;
			break;
		case OPT_NO_STREAM:
			st.stream = 0;
			break;
		case OPT_NO_TRUNC:
			st.no_trunc = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'h':
			cmd_print_help(self, stdout);
			return CMD_RETURN_OK;
		default:
			return cmd_option_error(self, ch, argv, cmd_stats_options);
		}
	}
	if (optind < argc) {
		st.want = argv + optind;
		st.nwant = argc - optind;
	}
	st.tty = isatty(STDOUT_FILENO);
	monitor_config_from_env(&cfg);
	cfg.all = all;
	if ((m = monitor_create(&cfg, &cause)) == NULL) {
		log_warnx("stats: %s", cause);
		free(cause);
		return CMD_RETURN_ERROR;
	}
	rc = cmd_stats_run(&st, m);
	monitor_free(m);
	for (i = 0; i < st.nids; i++)
		free(st.ids[i]);
	free(st.ids);
	return rc;
}
