/*
 * top.c: the interactive dashboard's loop and its container screens.
 *
 * The loop waits in ui_wait() for a key, for the worker's pipe (a new
 * snapshot) or for the clock, never for data: the worker thread
 * (top-worker.c) does every cgroupfs and /proc read.  Each new snapshot
 * replaces the one shown (unless paused), feeds the memory history, and
 * the view is rebuilt from it: filter, sort or tree (top-model.c), with
 * the selection kept on the same cgroup across refreshes and re-sorts.
 * Enter drills into the selected container's processes, which the worker
 * then reads on each refresh; a container that goes away while drilled
 * into sends the view back with a note.  Under `run --live` a pane for
 * the profiled program (top-live.c) takes the upper part of the screen;
 * the loop then waits through top_live_wait(), which also copies the
 * model from the collector's thread when due.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memprof.h"
#include "top.h"
#include "top-live.h"
#include "ui.h"

/* Redraw at least this often, for the clock and "updated Ns ago". */
#define TOP_TICK_MS		1000
/* A note in the footer stays this long. */
#define TOP_MSG_NS		4000000000ULL

enum top_view {
	TOP_VIEW_LIST,
	TOP_VIEW_PROCS
};

struct top {
	const struct top_options *opt;
	struct top_worker	*worker;
	struct top_live		*live;
	struct top_snap		*snap;		/* shown */
	struct top_history	 hist;
	struct top_order	 order;
	struct ui_column	 cols[TOP_NCOLS];
	struct ui_column	 pcols[TOP_NPCOLS];
	struct ui_table		 table;
	struct ui_table		 ptable;
	enum top_view		 view;
	char			*sel_cgroup;	/* the selected row's cgroup */
	char			*procs_cgroup;	/* drilled into */
	char			*procs_name;
	char			 filter[128];
	int			 editing;
	int			 tree;
	int			 paused;
	int			 help;
	int			 quit;
	int			 shown;		/* snapshots shown */
	char			 msg[160];
	uint64_t		 msg_until;
	int			 table_h;	/* lines of rows last drawn */
};

static const char *const top_help_lines[] = {
	"Up/Down j/k\tmove the selection (PgUp/PgDn, Home/End)",
	"Enter, Right\tprocesses of the container (RSS, PSS, USS, swap)",
	"Esc, Left\tback to the containers; clear the filter",
	"/\tfilter by name, id, cgroup or image; Enter keeps it",
	"s F6 >  <\tsort by the next / previous column",
	"r I\treverse the order",
	"M P N\tsort by memory, CPU, name",
	"t F5\ttree of cgroups",
	"p Z\tpause / resume updates",
	"Tab\t(run --live) keys go to the call sites or the containers",
	"s Enter\t(run --live) order sites by live bytes, rate, allocated,",
	"\tcount; Enter shows a site's Python stacks",
	"? F1 h\tthis help",
	"q F10\tquit (run --live: leave the dashboard, keep recording;",
	"\tattach --live: detach and leave the process running)",
	"",
	"Columns: memory is docker's working set (usage - inactive file);",
	"LIMIT and MEM % are docker's (the cgroup's own limit; a tighter",
	"parent's shows in the graph's title); OOM counts OOM kills;",
	"PSI is memory pressure, some avg10 in %.",
	NULL
};

/* Monotonic clock in ns. */
static uint64_t
top_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Show a note in the footer for a few seconds. */
static void __attribute__((format(printf, 2, 3)))
top_note(struct top *t, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_until = top_now() + TOP_MSG_NS;
}

/* Remember which cgroup the selection is on. */
static void
top_remember_sel(struct top *t)
{
	free(t->sel_cgroup);
	t->sel_cgroup = NULL;
	if (t->snap != NULL && t->table.sel < t->order.n)
		t->sel_cgroup = xstrdup(t->snap->rows[t->order.index[t->table.sel]].cgroup);
}

/* Rebuild the view of the shown snapshot, keeping the selection on its cgroup. */
static void
top_rebuild(struct top *t)
{
	size_t	i;

	top_order_free(&t->order);
	if (t->snap == NULL)
		return;
	top_order_build(&t->order, t->snap, t->filter, (enum top_col)t->table.sort,
	    t->table.desc, t->tree);
	t->table.nrows = t->order.n;
	if (t->sel_cgroup != NULL) {
		for (i = 0; i < t->order.n; i++) {
			if (strcmp(t->snap->rows[t->order.index[i]].cgroup, t->sel_cgroup) == 0) {
				t->table.sel = i;
				break;
			}
		}
	}
	/* Gone: the row now at the same place is selected. */
	ui_table_scroll(&t->table, t->table_h > 0 ? t->table_h : 1);
	top_remember_sel(t);
	if (t->snap->procs.cgroup != NULL)
		top_procs_sort(t->snap->procs.procs, t->snap->procs.nprocs,
		    (enum top_pcol)t->ptable.sort, t->ptable.desc);
	t->ptable.nrows = t->snap->procs.cgroup != NULL && t->procs_cgroup != NULL &&
	    strcmp(t->snap->procs.cgroup, t->procs_cgroup) == 0 ? t->snap->procs.nprocs : 0;
}

/* Leave the process view. */
static void
top_leave_procs(struct top *t)
{
	t->view = TOP_VIEW_LIST;
	free(t->procs_cgroup);
	free(t->procs_name);
	t->procs_cgroup = t->procs_name = NULL;
	top_worker_want_procs(t->worker, NULL);
	t->ptable.nrows = 0;
}

/* A new snapshot from the worker: show it, unless paused. */
static void
top_take(struct top *t)
{
	struct top_snap	*s = top_worker_take(t->worker);
	size_t		 i;

	if (s == NULL)
		return;
	if (t->paused) {
		top_snap_free(s);
		return;
	}
	top_snap_free(t->snap);
	t->snap = s;
	t->shown++;
	top_history_update(&t->hist, s);
	if (t->view == TOP_VIEW_PROCS) {
		for (i = 0; i < s->nrows; i++) {
			if (strcmp(s->rows[i].cgroup, t->procs_cgroup) == 0)
				break;
		}
		if (i == s->nrows) {
			top_note(t, "%s went away", t->procs_name);
			top_leave_procs(t);
		}
	}
	top_rebuild(t);
	if (t->opt->iterations > 0 && t->shown >= t->opt->iterations)
		t->quit = 1;
}

/* The row under the selection, or NULL. */
static const struct monitor_row *
top_selected(const struct top *t)
{
	if (t->snap == NULL || t->table.sel >= t->order.n)
		return NULL;
	return &t->snap->rows[t->order.index[t->table.sel]];
}

/* The row of the drilled-into container, or NULL. */
static const struct monitor_row *
top_drilled(const struct top *t)
{
	size_t	i;

	if (t->snap == NULL || t->procs_cgroup == NULL)
		return NULL;
	for (i = 0; i < t->snap->nrows; i++) {
		if (strcmp(t->snap->rows[i].cgroup, t->procs_cgroup) == 0)
			return &t->snap->rows[i];
	}
	return NULL;
}

/* Colour of a container cell: limits, OOM kills and pressure stand out. */
static enum ui_role
top_cell_role(const struct monitor_row *r, int col, const char *text)
{
	if (strcmp(text, "--") == 0)
		return UI_DIM;
	switch (col) {
	case TOP_COL_ID:
		return UI_DIM;
	case TOP_COL_MEMPCT:
	case TOP_COL_MEM:
		if (r->mem_limit != 0 && r->mem_percent >= 90)
			return UI_CRIT;
		if (r->mem_limit != 0 && r->mem_percent >= 70)
			return UI_WARN;
		return col == TOP_COL_MEM ? UI_GOOD : UI_NORMAL;
	case TOP_COL_OOM:
		return r->oom_kills > 0 ? UI_CRIT : UI_NORMAL;
	case TOP_COL_PSI:
		return r->psi_some_avg10 >= 10 ? UI_CRIT : r->psi_some_avg10 >= 1 ? UI_WARN :
		    UI_NORMAL;
	case TOP_COL_SWAP:
		return r->swap > 0 ? UI_WARN : UI_NORMAL;
	default:
		return UI_NORMAL;
	}
}

/* Does a later row sit at this depth under the same parent (before the tree climbs above it)? */
static int
top_tree_more(const struct top_order *o, size_t row, int depth)
{
	size_t	i;

	for (i = row + 1; i < o->n && o->depth[i] >= depth; i++) {
		if (o->depth[i] == depth)
			return 1;
	}
	return 0;
}

/* The tree's lines in front of a row's name: "│  ├─ " and the like. */
static void
top_tree_prefix(const struct top_order *o, size_t row, char *buf, size_t size)
{
	int	d = o->depth[row], k, utf8 = ui_utf8();
	size_t	n = 0;

	buf[0] = '\0';
	for (k = 1; k <= d && n + 8 < size; k++) {
		if (k < d)
			n += (size_t)snprintf(buf + n, size - n, "%s", top_tree_more(o, row, k) ?
			    (utf8 ? "\xe2\x94\x82  " : "|  ") : "   ");
		else
			n += (size_t)snprintf(buf + n, size - n, "%s", top_tree_more(o, row, k) ?
			    (utf8 ? "\xe2\x94\x9c\xe2\x94\x80 " : "|- ") :
			    (utf8 ? "\xe2\x94\x94\xe2\x94\x80 " : "`- "));
	}
}

/* Cell callback of the container table. */
static void
top_list_cell(void *arg, size_t row, int col, char *buf, size_t size, enum ui_role *role)
{
	struct top			*t = arg;
	const struct monitor_row	*r = &t->snap->rows[t->order.index[row]];
	char				 name[160], tree[96];

	top_cell_format(r, (enum top_col)col, name, sizeof name);
	*role = top_cell_role(r, col, name);
	if (col != TOP_COL_NAME || t->order.depth[row] == 0) {
		snprintf(buf, size, "%s", name);
		return;
	}
	top_tree_prefix(&t->order, row, tree, sizeof tree);
	snprintf(buf, size, "%s%s", tree, name);
}

/* Cell callback of the process table. */
static void
top_proc_cell(void *arg, size_t row, int col, char *buf, size_t size, enum ui_role *role)
{
	struct top	*t = arg;

	top_pcell_format(&t->snap->procs.procs[row], (enum top_pcol)col, buf, size);
	if (strcmp(buf, "--") == 0)
		*role = UI_DIM;
	else if (col == TOP_PCOL_USS || col == TOP_PCOL_RSS)
		*role = UI_GOOD;
}

/* Draw the title line: name, clock, layout, counts, state. */
static void
top_draw_title(struct top *t, int y)
{
	char		 buf[256], when[16];
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n;

	strftime(when, sizeof when, "%H:%M:%S", localtime_r(&now, &tm));
	ui_fill(y, 0, -1, UI_TITLE);
	n = snprintf(buf, sizeof buf, " memprof %s  %s", t->live == NULL ? "top" :
	    t->live->attached ? "attach --live" : "run --live", when);
	if (t->snap != NULL)
		snprintf(buf + n, sizeof buf - (size_t)n, "  cgroup %s  %zu %s%s%s", t->snap->layout,
		    t->order.n, t->opt->all ? "cgroup" : "container", t->order.n == 1 ? "" : "s",
		    t->order.n != t->snap->nrows ? " (filtered)" : "");
	ui_put(y, 0, -1, UI_TITLE, buf);
	if (t->paused)
		ui_put(y, ui_cols() - 9, 8, UI_INPUT, " PAUSED ");
}

/* Draw the host meters: CPU, memory, swap, with their figures. */
static void
top_draw_host(struct top *t, int y)
{
	const struct top_host	*h;
	char			 a[32], b[32], buf[96];
	int			 w = (ui_cols() - 2) / 3, x = 0;
	double			 used;

	if (t->snap == NULL) {
		ui_put(y, 0, -1, UI_DIM, "reading cgroups...");
		return;
	}
	h = &t->snap->host;
	snprintf(buf, sizeof buf, "CPU %5.1f%%", h->cpu_percent);
	ui_put(y, x, 11, UI_NORMAL, buf);
	ui_bar(y, x + 11, w - 12, h->cpu_percent / 100.0, h->cpu_percent > 90 ? UI_CRIT : UI_GOOD);
	x += w + 1;
	used = (double)(h->mem_total - h->mem_available);
	top_format_bytes(h->mem_total - h->mem_available, a, sizeof a);
	top_format_bytes(h->mem_total, b, sizeof b);
	snprintf(buf, sizeof buf, "Mem %s/%s", a, b);
	ui_put(y, x, w, UI_NORMAL, buf);
	if (w - (int)strlen(buf) - 1 >= 5)
		ui_bar(y, x + (int)strlen(buf) + 1, w - (int)strlen(buf) - 1,
		    h->mem_total ? used / (double)h->mem_total : 0, UI_GOOD);
	x += w + 1;
	top_format_bytes(h->swap_total - h->swap_free, a, sizeof a);
	top_format_bytes(h->swap_total, b, sizeof b);
	snprintf(buf, sizeof buf, "Swap %s/%s", a, b);
	ui_put(y, x, w, UI_NORMAL, buf);
	if (w - (int)strlen(buf) - 1 >= 5)
		ui_bar(y, x + (int)strlen(buf) + 1, w - (int)strlen(buf) - 1, h->swap_total ?
		    (double)(h->swap_total - h->swap_free) / (double)h->swap_total : 0, UI_WARN);
}

/* Draw the memory sparkline of a container in h lines (title included). */
static void
top_draw_graph(struct top *t, const struct monitor_row *r, int y, int h)
{
	const struct top_hist	*hist;
	uint64_t		 v[TOP_HISTORY], lo = UINT64_MAX, hi = 0;
	char			 now[32], a[32], b[32], lim[64] = "", buf[256];
	size_t			 n, i;
	int			 w = ui_cols();

	ui_fill(y, 0, -1, UI_HEADER);
	if (r == NULL || (hist = top_history_find(&t->hist, r->cgroup)) == NULL ||
	    hist->n == 0) {
		ui_put(y, 1, -1, UI_HEADER, "Memory over time: no container selected");
		return;
	}
	n = top_hist_values(hist, v, (size_t)(w - 1));
	for (i = 0; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	top_format_bytes(r->mem_usage, now, sizeof now);
	if ((r->have & MONITOR_HAVE_PARENT) && r->mem_parent_limit != 0) {
		top_format_bytes(r->mem_parent_limit, a, sizeof a);
		snprintf(lim, sizeof lim, ", parent's limit %s", a);
	} else if (r->mem_limit != 0) {
		top_format_bytes(r->mem_limit, a, sizeof a);
		snprintf(lim, sizeof lim, ", limit %s", a);
	}
	top_format_bytes(lo, a, sizeof a);
	top_format_bytes(hi, b, sizeof b);
	snprintf(buf, sizeof buf, "Memory of %s: %s now, %s..%s over %.0fs%s", r->name, now, a, b,
	    (double)n * t->opt->delay, lim);
	ui_put(y, 1, -1, UI_HEADER, buf);
	/* Scale to the largest value shown, with headroom, so growth is visible. */
	ui_spark_draw(y + 1, 0, h - 1, w, v, n, hi + hi / 8);
}

/* Draw the footer: the filter being typed, a note, or the keys. */
static void
top_draw_footer(struct top *t, int y)
{
	static const char *const	keys[][2] = {
		{ "F1", "Help" }, { "/", "Filter" }, { "F6", "Sort" }, { "t", "Tree" },
		{ "p", "Pause" }, { "Enter", "Procs" }, { "q", "Quit" },
	};
	char				buf[192];
	size_t				i;
	int				x = 0;

	ui_fill(y, 0, -1, UI_NORMAL);
	if (t->editing) {
		snprintf(buf, sizeof buf, "Filter: %s_", t->filter);
		ui_fill(y, 0, -1, UI_INPUT);
		ui_put(y, 0, -1, UI_INPUT, buf);
		return;
	}
	if (t->msg[0] != '\0' && top_now() < t->msg_until) {
		ui_put(y, 0, -1, UI_WARN, t->msg);
		return;
	}
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (t->view == TOP_VIEW_PROCS && strcmp(keys[i][0], "Enter") == 0) {
			x += ui_put(y, x, -1, UI_KEY, "Esc");
			x += ui_put(y, x, -1, UI_KEYTEXT, "Back  ");
			continue;
		}
		x += ui_put(y, x, -1, UI_KEY, keys[i][0]);
		x += ui_put(y, x, -1, UI_KEYTEXT, keys[i][1]);
		x += ui_put(y, x, -1, UI_KEYTEXT, "  ");
	}
	if (t->filter[0] != '\0' && x + 10 < ui_cols()) {
		snprintf(buf, sizeof buf, " filter: %s", t->filter);
		ui_put(y, x, -1, UI_INPUT, buf);
	}
}

/* The widest name in the view, tree indent included. */
static int
top_name_width(const struct top *t)
{
	size_t	i, len, w = 0;

	for (i = 0; t->snap != NULL && i < t->order.n; i++) {
		len = strlen(t->snap->rows[t->order.index[i]].name) + 2 * (size_t)t->order.depth[i];
		w = len > w ? len : w;
	}
	return (int)w;
}

/* Draw the container or process table and the graph in lines [y, y+h). */
static void
top_draw_body(struct top *t, int y, int h)
{
	const struct monitor_row	*r;
	int				 gh = 0;
	char				 buf[256];

	if (h >= 14)
		gh = h >= 26 ? 7 : 5;
	if (t->snap != NULL && t->snap->error != NULL)
		top_note(t, "%s", t->snap->error);
	if (t->view == TOP_VIEW_PROCS) {
		r = top_drilled(t);
		if (strcmp(t->procs_name, t->procs_cgroup) == 0)
			snprintf(buf, sizeof buf, "Processes of %s", t->procs_name);
		else
			snprintf(buf, sizeof buf, "Processes of %s  (%s)", t->procs_name,
			    t->procs_cgroup);
		ui_put(y, 0, -1, UI_WARN, buf);
		t->table_h = h - gh - 2;
		if (t->ptable.nrows == 0 && t->snap != NULL && (t->snap->procs.cgroup == NULL ||
		    strcmp(t->snap->procs.cgroup, t->procs_cgroup) != 0))
			ui_put(y + 2, 1, -1, UI_DIM, "reading processes...");
		else if (t->ptable.nrows == 0)
			ui_put(y + 2, 1, -1, UI_DIM, "no processes");
		ui_table_draw(&t->ptable, y + 1, 0, h - gh - 1, ui_cols(), top_proc_cell, t);
	} else {
		r = top_selected(t);
		t->table_h = h - gh - 1;
		t->table.flex_want = top_name_width(t);
		ui_table_draw(&t->table, y, 0, h - gh, ui_cols(), top_list_cell, t);
		if (t->snap != NULL && t->order.n == 0)
			ui_put(y + 2, 1, -1, UI_DIM, t->filter[0] != '\0' ? "nothing matches the filter" :
			    t->opt->all ? "no cgroups" : "no containers (--all lists every cgroup)");
	}
	if (gh > 0)
		top_draw_graph(t, r, y + h - gh, gh);
}

/* Draw the whole screen. */
static void
top_draw(struct top *t)
{
	int	lines = ui_lines(), y = 0, live_h = 0;

	if (ui_cols() < UI_MIN_COLS || lines < UI_MIN_LINES) {
		ui_too_small();
		return;
	}
	ui_erase();
	top_draw_title(t, y++);
	top_draw_host(t, y++);
	if (t->live != NULL) {
		live_h = top_live_height(t->live, lines - 3);
		top_live_draw(t->live, y, live_h, top_live_row(t->live, t->snap));
		y += live_h;
	}
	top_draw_body(t, y, lines - 1 - y);
	top_draw_footer(t, lines - 1);
	if (t->help)
		ui_help_draw(top_help_lines, t->live == NULL ? "memprof top: keys" :
		    t->live->attached ? "memprof attach --live: keys" : "memprof run --live: keys");
	ui_flush();
}

/* Cycle the sort column of the current table by step. */
static void
top_sort_step(struct top *t, int step)
{
	struct ui_table	*tb = t->view == TOP_VIEW_PROCS ? &t->ptable : &t->table;
	const struct top_coldef *defs = t->view == TOP_VIEW_PROCS ? top_pcols : top_cols;

	tb->sort = (tb->sort + step + tb->ncols) % tb->ncols;
	tb->desc = defs[tb->sort].desc;
	top_note(t, "sorted by %s%s", defs[tb->sort].title, tb->desc ? ", largest first" : "");
}

/* Keys while typing a filter. */
static void
top_key_filter(struct top *t, int key)
{
	size_t	n = strlen(t->filter);

	if (key == UI_KEY_ENTER)
		t->editing = 0;
	else if (key == UI_KEY_ESC) {
		t->editing = 0;
		t->filter[0] = '\0';
	} else if (key == UI_KEY_BACKSPACE) {
		if (n > 0)
			t->filter[n - 1] = '\0';
	} else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof t->filter) {
		t->filter[n] = (char)key;
		t->filter[n + 1] = '\0';
	}
	t->table.sel = 0;
	top_rebuild(t);
}

/* Drill into the selected container's processes. */
static void
top_enter_procs(struct top *t)
{
	const struct monitor_row	*r = top_selected(t);

	if (r == NULL)
		return;
	t->view = TOP_VIEW_PROCS;
	t->procs_cgroup = xstrdup(r->cgroup);
	t->procs_name = xstrdup(r->name);
	t->ptable.sel = t->ptable.top = 0;
	t->ptable.nrows = 0;
	top_worker_want_procs(t->worker, r->cgroup);
	top_worker_poke(t->worker);
}

/* Sort shortcuts (htop's M, P, N); returns 1 if key was one. */
static int
top_key_sort(struct top *t, int key)
{
	struct ui_table	*tb = t->view == TOP_VIEW_PROCS ? &t->ptable : &t->table;
	int		 col = -1;

	switch (key) {
	case 's': case '>': case '.': case UI_KEY_F6:
		top_sort_step(t, 1);
		return 1;
	case '<': case ',':
		top_sort_step(t, -1);
		return 1;
	case 'r': case 'I':
		tb->desc = !tb->desc;
		return 1;
	case 'M':
		col = t->view == TOP_VIEW_PROCS ? TOP_PCOL_RSS : TOP_COL_MEM;
		break;
	case 'P':
		col = t->view == TOP_VIEW_PROCS ? TOP_PCOL_PID : TOP_COL_CPU;
		break;
	case 'N':
		col = t->view == TOP_VIEW_PROCS ? TOP_PCOL_CMD : TOP_COL_NAME;
		break;
	default:
		return 0;
	}
	tb->sort = col;
	tb->desc = (t->view == TOP_VIEW_PROCS ? top_pcols : top_cols)[col].desc;
	return 1;
}

/* Handle one key. */
static void
top_key(struct top *t, int key)
{
	struct ui_table	*tb = t->view == TOP_VIEW_PROCS ? &t->ptable : &t->table;

	if (t->help) {
		t->help = 0;
		return;
	}
	if (t->editing) {
		top_key_filter(t, key);
		return;
	}
	if (t->live != NULL && top_live_key(t->live, key))
		return;
	if (ui_table_key(tb, key, t->table_h)) {
		if (tb == &t->table)
			top_remember_sel(t);
		return;
	}
	if (top_key_sort(t, key)) {
		top_rebuild(t);
		return;
	}
	switch (key) {
	case 'q': case UI_KEY_F10: case UI_KEY_INTR:
		t->quit = 1;
		break;
	case '?': case 'h': case UI_KEY_F1:
		t->help = 1;
		break;
	case '/': case UI_KEY_F3:
		t->editing = 1;
		break;
	case 't': case UI_KEY_F5:
		t->tree = !t->tree;
		top_note(t, "tree of cgroups %s", t->tree ? "on" : "off");
		top_rebuild(t);
		break;
	case 'p': case 'Z':
		t->paused = !t->paused;
		break;
	case UI_KEY_ENTER: case UI_KEY_RIGHT:
		if (t->view == TOP_VIEW_LIST)
			top_enter_procs(t);
		break;
	case UI_KEY_ESC: case UI_KEY_LEFT: case UI_KEY_BACKSPACE:
		if (t->view == TOP_VIEW_PROCS)
			top_leave_procs(t);
		else if (t->filter[0] != '\0') {
			t->filter[0] = '\0';
			top_rebuild(t);
		}
		break;
	}
}

/* Set up the tables' columns from the model's definitions. */
static void
top_init_tables(struct top *t)
{
	int	c;

	for (c = 0; c < TOP_NCOLS; c++) {
		t->cols[c].title = top_cols[c].title;
		t->cols[c].width = top_cols[c].width;
		t->cols[c].right = top_cols[c].right;
		t->cols[c].priority = top_cols[c].priority;
	}
	for (c = 0; c < TOP_NPCOLS; c++) {
		t->pcols[c].title = top_pcols[c].title;
		t->pcols[c].width = top_pcols[c].width;
		t->pcols[c].right = top_pcols[c].right;
		t->pcols[c].priority = top_pcols[c].priority;
	}
	t->table.cols = t->cols;
	t->table.ncols = TOP_NCOLS;
	t->table.sort = t->opt->sort_set ? (int)t->opt->sort : TOP_COL_MEM;
	t->table.desc = top_cols[t->table.sort].desc;
	t->ptable.cols = t->pcols;
	t->ptable.ncols = TOP_NPCOLS;
	t->ptable.sort = TOP_PCOL_RSS;
	t->ptable.desc = 1;
}

/* One wait of the loop: a key, data, or the tick; under --live, copies the model when due. */
static int
top_wait(struct top *t, uint64_t next_tick)
{
	uint64_t	now = top_now();
	int		ms = next_tick > now ? (int)((next_tick - now) / 1000000) : 0;

	if (t->live == NULL)
		return ui_wait(top_worker_fd(t->worker), ms);
	return top_live_wait(t->live, top_worker_fd(t->worker), ms);
}

/*
 * Run the dashboard on a sampler (which it then owns) until q or the
 * iteration count.  live is NULL for `memprof top`.  Returns 0, or -1
 * with a message printed when the terminal cannot be used.
 */
int
top_run(struct top_sampler *s, const struct top_options *opt, struct top_live *live)
{
	struct top	 t;
	char		*cause = NULL;
	uint64_t	 next_tick = 0;
	int		 key, dirty = 1;

	memset(&t, 0, sizeof t);
	t.opt = opt;
	t.live = live;
	t.tree = opt->tree;
	if (opt->select != NULL)
		t.sel_cgroup = xstrdup(opt->select);
	if (opt->filter != NULL)
		snprintf(t.filter, sizeof t.filter, "%s", opt->filter);
	top_init_tables(&t);
	if (ui_start(&cause) != 0) {
		log_warnx("%s: %s", live != NULL ? "run" : "top", cause);
		free(cause);
		top_sampler_free(s);
		return -1;
	}
	t.worker = top_worker_start(s, opt->delay);
	while (!t.quit && (live == NULL || !top_live_quit(live))) {
		if (dirty || top_now() >= next_tick) {
			top_draw(&t);
			next_tick = top_now() + TOP_TICK_MS * 1000000ULL;
			dirty = 0;
		}
		key = top_wait(&t, next_tick);
		if (key == UI_KEY_NONE)
			continue;
		dirty = 1;
		if (key == UI_KEY_DATA)
			top_take(&t);
		else if (key != UI_KEY_RESIZE)
			top_key(&t, key);
	}
	ui_stop();
	top_worker_stop(t.worker);
	top_snap_free(t.snap);
	top_order_free(&t.order);
	top_history_free(&t.hist);
	free(t.sel_cgroup);
	free(t.procs_cgroup);
	free(t.procs_name);
	return 0;
}
