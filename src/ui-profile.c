/*
 * ui-profile.c: draws the profiled-program pane of `memprof run --live`
 * from the copies top-live.c makes of the model (struct top_live_view); it
 * never reads the model itself.  Top to bottom: the command and its state,
 * RSS and heap now and at their highest; its cgroup's row; RSS and heap
 * over the whole run (the per-tick series squeezed into the width, the
 * largest value of each column kept); the call sites table, or a site's
 * stacks in a box; the last line of the command's output.
 */

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "report.h"
#include "top-live.h"
#include "ui.h"

const struct ui_column top_live_cols[TOP_LIVE_NCOLS] = {
	[TOP_LIVE_LIVE] = { "LIVE", 10, 1, 0 },
	[TOP_LIVE_RATE] = { "ALLOC/s", 10, 1, 0 },
	[TOP_LIVE_ALLOC] = { "ALLOCATED", 10, 1, 1 },
	[TOP_LIVE_COUNT] = { "ALLOCS", 8, 1, 2 },
	[TOP_LIVE_FUNC] = { "FUNCTION", 24, 0, 0 },
	[TOP_LIVE_WHERE] = { "FILE:LINE", 0, 0, 0 },
};

/* Bytes in docker's binary units; negatives as 0. */
static const char *
ui_profile_bytes(char *buf, size_t size, double v)
{
	top_format_bytes(v < 0 ? 0 : (uint64_t)v, buf, size);
	return buf;
}

/* First line: the command, its state, RSS and heap now and at their highest. */
static void
ui_profile_status(const struct top_live *l, int y)
{
	const struct top_live_view	*v = &l->view;
	char				 buf[512], a[32], b[32], c[32], d[32], e[32], st[96];
	const char			*end = v->finished ? ", recording ended" : "";
	enum ui_role			 role = UI_HEADER;
	int				 x;

	if (!v->reaped)
		snprintf(st, sizeof st, "%s %llu:%02llu", v->attached ? "attached" : "running",
		    (unsigned long long)v->seconds / 60, (unsigned long long)v->seconds % 60);
	else if (v->attached)
		snprintf(st, sizeof st, "ENDED or DETACHED after %llus%s",
		    (unsigned long long)v->seconds, end);
	else if (WIFSIGNALED(v->wstatus))
		snprintf(st, sizeof st, "KILLED by signal %d after %llus%s", WTERMSIG(v->wstatus),
		    (unsigned long long)v->seconds, end);
	else
		snprintf(st, sizeof st, "EXITED with status %d after %llus%s",
		    WIFEXITED(v->wstatus) ? WEXITSTATUS(v->wstatus) : -1,
		    (unsigned long long)v->seconds, end);
	if (v->reaped && v->attached)
		role = UI_CRIT;
	else if (v->reaped)
		role = WIFEXITED(v->wstatus) && WEXITSTATUS(v->wstatus) == 0 ? UI_GOOD : UI_CRIT;
	snprintf(buf, sizeof buf, " PID %d %s  %s  ", (int)l->pid, v->prog, st);
	ui_fill(y, 0, -1, UI_HEADER);
	x = ui_put(y, 0, -1, role, buf);
	snprintf(buf, sizeof buf, "RSS %s max %s  heap %s max %s  allocated %s",
	    ui_profile_bytes(a, sizeof a, (double)v->rss),
	    ui_profile_bytes(b, sizeof b, (double)v->rss_max),
	    ui_profile_bytes(c, sizeof c, (double)v->heap),
	    ui_profile_bytes(d, sizeof d, (double)v->heap_max),
	    ui_profile_bytes(e, sizeof e, (double)v->allocated));
	ui_put(y, x, -1, UI_HEADER, buf);
}

/* Second line: the command's cgroup row, or why there is none. */
static void
ui_profile_row(const struct top_live *l, int y, const struct monitor_row *r)
{
	char	buf[512], a[32], b[32];

	if (r == NULL) {
		snprintf(buf, sizeof buf, " cgroup %s: not listed yet", l->cgroup ? l->cgroup : "?");
		ui_put(y, 0, -1, UI_DIM, buf);
		return;
	}
	top_format_bytes(r->mem_usage, a, sizeof a);
	top_format_bytes(r->mem_limit, b, sizeof b);
	snprintf(buf, sizeof buf, " %s %s: mem %s / %s (%.2f%%)  CPU %.2f%%  PIDS %llu  "
	    "OOM kills %llu  PSI %.1f", strcmp(r->runtime, "cgroup") == 0 ? "cgroup" : r->runtime,
	    r->name, a, b, r->mem_percent, r->cpu_percent, (unsigned long long)r->pids,
	    (unsigned long long)r->oom_kills, r->psi_some_avg10);
	ui_put(y, 0, -1, r->mem_percent >= 90 ? UI_CRIT : r->mem_percent >= 70 ? UI_WARN :
	    UI_NORMAL, buf);
}

/* Squeeze a series into w columns, the largest value of each; returns the columns used. */
static size_t
ui_profile_squeeze(const uint64_t *in, size_t n, uint64_t *out, size_t w, uint64_t *hi)
{
	size_t	per = n / w + 1, i, col, used = 0;

	*hi = 0;
	memset(out, 0, w * sizeof *out);
	for (i = 0; i < n; i++) {
		col = i / per;
		if (col >= w)
			break;
		out[col] = in[i] > out[col] ? in[i] : out[col];
		*hi = in[i] > *hi ? in[i] : *hi;
		used = col + 1;
	}
	return used;
}

/* Graphs of RSS and heap over the whole run, side by side, gh lines high. */
static void
ui_profile_graphs(const struct top_live *l, int y, int gh)
{
	const struct top_live_view	*v = &l->view;
	int				 w = ui_cols() / 2 - 10, half = ui_cols() / 2;
	uint64_t			*col, hi;
	size_t				 n;
	char				 a[32];

	if (w < 4)
		return;
	col = xcalloc((size_t)w, sizeof *col);
	n = ui_profile_squeeze(v->rss_series, v->nseries, col, (size_t)w, &hi);
	ui_put(y, 1, 8, UI_DIM, "RSS max");
	ui_put(y + 1, 1, 8, UI_NORMAL, ui_profile_bytes(a, sizeof a, (double)hi));
	ui_spark_draw(y, 10, gh, w, col, n, hi + hi / 8);
	n = ui_profile_squeeze(v->heap_series, v->nseries, col, (size_t)w, &hi);
	ui_put(y, half + 1, 8, UI_DIM, "heap max");
	ui_put(y + 1, half + 1, 8, UI_NORMAL, ui_profile_bytes(a, sizeof a, (double)hi));
	ui_spark_draw(y, half + 10, gh, w, col, n, hi + hi / 8);
	free(col);
}

/* Cell callback of the sites table. */
static void
ui_profile_cell(void *arg, size_t row, int col, char *buf, size_t size, enum ui_role *role)
{
	const struct top_live		*l = arg;
	const struct top_live_site	*s = &l->view.sites[row];
	char				 a[32];

	switch (col) {
	case TOP_LIVE_LIVE:
		snprintf(buf, size, "%s", ui_profile_bytes(a, sizeof a, (double)s->live));
		*role = s->live > 0 ? UI_GOOD : UI_DIM;
		break;
	case TOP_LIVE_RATE:
		snprintf(buf, size, "%s", ui_profile_bytes(a, sizeof a, s->rate));
		*role = s->rate > 0 ? UI_WARN : UI_DIM;
		break;
	case TOP_LIVE_ALLOC:
		snprintf(buf, size, "%s", ui_profile_bytes(a, sizeof a, (double)s->alloc));
		break;
	case TOP_LIVE_COUNT:
		report_fmt_count(buf, size, s->count);
		break;
	case TOP_LIVE_FUNC:
		snprintf(buf, size, "%s", s->func);
		break;
	case TOP_LIVE_WHERE:
		snprintf(buf, size, "%s", s->where);
		*role = UI_DIM;
		break;
	}
}

/* The expanded site: its heaviest stacks, innermost frame first, in a box. */
static void
ui_profile_expand(const struct top_live *l, int y, int h)
{
	const struct top_live_view	*v = &l->view;
	static const enum ui_role	 roles[3] = { UI_NORMAL, UI_WARN, UI_GOOD };
	int				 i;

	ui_box(y, 1, h, ui_cols() - 2, "Python stacks of the site (any key closes)");
	if (v->expand_frame == 0 || v->expand_frame != l->sel_frame) {
		ui_put(y + 1, 3, -1, UI_DIM, "reading the stacks...");
		return;
	}
	for (i = 0; i < v->nexpand && i < h - 2; i++)
		ui_put(y + 1 + i, 3, ui_cols() - 6, roles[v->expand_role[i]], v->expand[i]);
}

/*
 * Draw the pane in h lines from y: status, container row, graphs, the
 * sites table (or a site's stacks), the command's last output line.
 */
void
ui_profile_draw(struct top_live *l, int y, int h, const struct monitor_row *row)
{
	int	gh = h >= 16 ? 3 : h >= 12 ? 2 : 0, th;
	char	buf[512];

	ui_profile_status(l, y);
	ui_profile_row(l, y + 1, row);
	if (gh > 0)
		ui_profile_graphs(l, y + 2, gh);
	th = h - 3 - gh;
	l->table_h = th - 1;
	if (l->expand)
		ui_profile_expand(l, y + 2 + gh, th);
	else {
		ui_table_draw(&l->table, y + 2 + gh, 0, th, ui_cols(), ui_profile_cell, l);
		if (l->focus)
			ui_put(y + 2 + gh, ui_cols() - 14, 14, UI_SORTED, "[Tab: sites] ");
		if (l->view.nsites == 0)
			ui_put(y + 3 + gh, 1, -1, UI_DIM, "no allocations recorded yet");
	}
	snprintf(buf, sizeof buf, " output (%s): %s", l->log != NULL ? l->log : "terminal",
	    l->lastline[0] != '\0' ? l->lastline : l->partial);
	ui_put(y + h - 1, 0, -1, UI_DIM, buf);
}
