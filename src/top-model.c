/*
 * top-model.c: the dashboard's pure logic, shared by the curses screens and
 * `memprof top --batch`: the container and process columns, how each cell
 * is formatted (docker's units, through stats-format.c) and compared,
 * filter, sort and cgroup-tree order, the memory history behind the
 * sparklines, and the parsers of the host's /proc/stat and /proc/meminfo.
 * Nothing here draws, sleeps or reads files, so it is tested on its own
 * (tests/test-ui.c).  An unreadable figure is "--" and sorts below zero.
 */

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "memprof.h"
#include "stats.h"
#include "top.h"

/*
 * Widths hold the widest usual value: "1023.9MiB" is 9, "100.00%" 7,
 * "999.9MB / 999.9MB" 17, and a title with its sort arrow.  Priority decides what an 80-column screen
 * drops first: network and block I/O (docker's, but not about memory).
 */
const struct top_coldef top_cols[TOP_NCOLS] = {
	[TOP_COL_NAME] = { "NAME", "name", 0, 0, 0, 0 },
	[TOP_COL_ID] = { "CONTAINER ID", "id", 12, 0, 5, 0 },
	[TOP_COL_CPU] = { "CPU %", "cpu", 7, 1, 1, 1 },
	[TOP_COL_MEM] = { "MEM USAGE", "mem", 10, 1, 0, 1 },
	[TOP_COL_LIMIT] = { "LIMIT", "limit", 9, 1, 1, 1 },
	[TOP_COL_MEMPCT] = { "MEM %", "mem%", 7, 1, 1, 1 },
	[TOP_COL_SWAP] = { "SWAP", "swap", 8, 1, 2, 1 },
	[TOP_COL_OOM] = { "OOM", "oom", 4, 1, 2, 1 },
	[TOP_COL_PSI] = { "PSI", "psi", 5, 1, 3, 1 },
	[TOP_COL_NET] = { "NET I/O", "net", 17, 1, 4, 1 },
	[TOP_COL_BLOCK] = { "BLOCK I/O", "block", 17, 1, 4, 1 },
	[TOP_COL_PIDS] = { "PIDS", "pids", 5, 1, 2, 1 },
};

const struct top_coldef top_pcols[TOP_NPCOLS] = {
	[TOP_PCOL_PID] = { "PID", "pid", 8, 1, 0, 0 },
	[TOP_PCOL_RSS] = { "RSS", "rss", 10, 1, 0, 1 },
	[TOP_PCOL_PSS] = { "PSS", "pss", 10, 1, 1, 1 },
	[TOP_PCOL_USS] = { "USS", "uss", 10, 1, 1, 1 },
	[TOP_PCOL_SWAP] = { "SWAP", "swap", 10, 1, 2, 1 },
	[TOP_PCOL_CMD] = { "COMMAND", "cmd", 0, 0, 0, 0 },
};

/* The column whose --sort name is s, or -1. */
int
top_col_find(const char *s)
{
	int	c;

	for (c = 0; c < TOP_NCOLS; c++) {
		if (strcasecmp(top_cols[c].key, s) == 0)
			return c;
	}
	return -1;
}

/* Binary units as docker prints memory ("532KiB"). */
void
top_format_bytes(uint64_t v, char *buf, size_t size)
{
	stats_format_binary(v, buf, size);
}

/* Format "A / B" of two decimal sizes, or "--". */
static void
top_format_pair(int ok, uint64_t a, uint64_t b, char *buf, size_t size)
{
	char	sa[32], sb[32];

	if (!ok) {
		snprintf(buf, size, "--");
		return;
	}
	stats_format_decimal(a, sa, sizeof sa);
	stats_format_decimal(b, sb, sizeof sb);
	snprintf(buf, size, "%s / %s", sa, sb);
}

/* Is this row a plain cgroup or unit rather than a container (no id to show)? */
static int
top_row_is_cgroup(const struct monitor_row *r)
{
	return strcmp(r->runtime, "cgroup") == 0 || strcmp(r->runtime, "systemd") == 0;
}

/* Format one cell of the container table. */
void
top_cell_format(const struct monitor_row *r, enum top_col c, char *buf, size_t size)
{
	unsigned	h = r->have;

	switch (c) {
	case TOP_COL_NAME:
		snprintf(buf, size, "%s", r->name);
		return;
	case TOP_COL_ID:
		snprintf(buf, size, "%.12s", top_row_is_cgroup(r) ? "-" : r->id);
		return;
	case TOP_COL_CPU:
		if (h & MONITOR_HAVE_CPU)
			snprintf(buf, size, "%.2f%%", r->cpu_percent);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_MEM:
		if (h & MONITOR_HAVE_MEM)
			top_format_bytes(r->mem_usage, buf, size);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_LIMIT:
		/* docker's limit, as MEM % uses; a tighter parent's is shown apart. */
		if ((h & MONITOR_HAVE_MEM) && r->mem_limit != 0)
			top_format_bytes(r->mem_limit, buf, size);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_MEMPCT:
		if ((h & MONITOR_HAVE_MEM) && r->mem_limit != 0)
			snprintf(buf, size, "%.2f%%", r->mem_percent);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_SWAP:
		if (h & MONITOR_HAVE_SWAP)
			top_format_bytes(r->swap, buf, size);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_OOM:
		if (h & MONITOR_HAVE_OOM_KILL)
			snprintf(buf, size, "%llu", (unsigned long long)r->oom_kills);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_PSI:
		if (h & MONITOR_HAVE_PSI)
			snprintf(buf, size, "%.1f", r->psi_some_avg10);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_COL_NET:
		top_format_pair((h & (MONITOR_HAVE_NET | MONITOR_HAVE_HOSTNET)) != 0,
		    r->net_rx, r->net_tx, buf, size);
		return;
	case TOP_COL_BLOCK:
		top_format_pair((h & MONITOR_HAVE_BLKIO) != 0, r->blk_read, r->blk_write,
		    buf, size);
		return;
	case TOP_COL_PIDS:
		if (h & MONITOR_HAVE_PIDS)
			snprintf(buf, size, "%llu", (unsigned long long)r->pids);
		else
			snprintf(buf, size, "--");
		return;
	case TOP_NCOLS:
		break;
	}
	snprintf(buf, size, "?");
}

/* Format one cell of the process table; PSS and USS are "--" when smaps was unreadable. */
void
top_pcell_format(const struct procmem *p, enum top_pcol c, char *buf, size_t size)
{
	switch (c) {
	case TOP_PCOL_PID:
		snprintf(buf, size, "%d", (int)p->pid);
		return;
	case TOP_PCOL_RSS:
		top_format_bytes(p->rss, buf, size);
		return;
	case TOP_PCOL_PSS:
	case TOP_PCOL_USS:
	case TOP_PCOL_SWAP:
		if (!p->smaps_ok)
			snprintf(buf, size, "--");
		else
			top_format_bytes(c == TOP_PCOL_PSS ? p->pss : c == TOP_PCOL_USS ?
			    p->uss : p->swap, buf, size);
		return;
	case TOP_PCOL_CMD:
		snprintf(buf, size, "%s", p->cmd);
		return;
	case TOP_NPCOLS:
		break;
	}
	snprintf(buf, size, "?");
}

/* The value a column sorts by; -1 when the figure is unknown. */
static double
top_row_key(const struct monitor_row *r, enum top_col c)
{
	unsigned	h = r->have;

	switch (c) {
	case TOP_COL_CPU:
		return (h & MONITOR_HAVE_CPU) ? r->cpu_percent : -1;
	case TOP_COL_MEM:
		return (h & MONITOR_HAVE_MEM) ? (double)r->mem_usage : -1;
	case TOP_COL_LIMIT:
		return (h & MONITOR_HAVE_MEM) && r->mem_limit ? (double)r->mem_limit : -1;
	case TOP_COL_MEMPCT:
		return (h & MONITOR_HAVE_MEM) && r->mem_limit ? r->mem_percent : -1;
	case TOP_COL_SWAP:
		return (h & MONITOR_HAVE_SWAP) ? (double)r->swap : -1;
	case TOP_COL_OOM:
		return (h & MONITOR_HAVE_OOM_KILL) ? (double)r->oom_kills : -1;
	case TOP_COL_PSI:
		return (h & MONITOR_HAVE_PSI) ? r->psi_some_avg10 : -1;
	case TOP_COL_NET:
		return (h & (MONITOR_HAVE_NET | MONITOR_HAVE_HOSTNET)) ?
		    (double)r->net_rx + (double)r->net_tx : -1;
	case TOP_COL_BLOCK:
		return (h & MONITOR_HAVE_BLKIO) ? (double)r->blk_read + (double)r->blk_write : -1;
	case TOP_COL_PIDS:
		return (h & MONITOR_HAVE_PIDS) ? (double)r->pids : -1;
	default:
		return 0;
	}
}

/* Compare two rows by a column, ascending; ties by name, then cgroup path. */
int
top_row_compare(const struct monitor_row *a, const struct monitor_row *b, enum top_col c)
{
	double	ka, kb;
	int	d = 0;

	if (c == TOP_COL_NAME)
		d = strcasecmp(a->name, b->name);
	else if (c == TOP_COL_ID)
		d = strcmp(a->id, b->id);
	else {
		ka = top_row_key(a, c);
		kb = top_row_key(b, c);
		d = ka < kb ? -1 : ka > kb;
	}
	if (d == 0)
		d = strcmp(a->name, b->name);
	return d != 0 ? d : strcmp(a->cgroup, b->cgroup);
}

/* Compare two processes by a column, ascending; ties by pid. */
int
top_proc_compare(const struct procmem *a, const struct procmem *b, enum top_pcol c)
{
	uint64_t	ka = 0, kb = 0;
	int		d;

	switch (c) {
	case TOP_PCOL_RSS:
		ka = a->rss, kb = b->rss;
		break;
	case TOP_PCOL_PSS:
		ka = a->smaps_ok ? a->pss + 1 : 0, kb = b->smaps_ok ? b->pss + 1 : 0;
		break;
	case TOP_PCOL_USS:
		ka = a->smaps_ok ? a->uss + 1 : 0, kb = b->smaps_ok ? b->uss + 1 : 0;
		break;
	case TOP_PCOL_SWAP:
		ka = a->smaps_ok ? a->swap + 1 : 0, kb = b->smaps_ok ? b->swap + 1 : 0;
		break;
	case TOP_PCOL_CMD:
		if ((d = strcmp(a->cmd, b->cmd)) != 0)
			return d;
		break;
	default:
		break;
	}
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/* Case-insensitive substring test; an empty needle matches. */
static int
top_contains(const char *hay, const char *needle)
{
	size_t	n = strlen(needle);

	if (hay == NULL)
		return 0;
	for (; *hay != '\0'; hay++) {
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	}
	return n == 0;
}

/* Does a row match the filter (name, id, cgroup path or image, any case)? */
int
top_row_matches(const struct monitor_row *r, const char *filter)
{
	if (filter == NULL || *filter == '\0')
		return 1;
	return top_contains(r->name, filter) || top_contains(r->id, filter) ||
	    top_contains(r->cgroup, filter) || top_contains(r->image, filter);
}

struct top_sort_ctx {
	const struct monitor_row	*rows;
	enum top_col			 col;
	int				 desc;
	const size_t			*idx;	/* tree: positions map through this */
};

/* qsort_r comparator over row indexes. */
static int
top_order_cmp(const void *a, const void *b, void *arg)
{
	const struct top_sort_ctx	*ctx = arg;
	const size_t			*ia = a, *ib = b;
	int				 d;

	d = top_row_compare(&ctx->rows[*ia], &ctx->rows[*ib], ctx->col);
	return ctx->desc ? -d : d;
}

/* qsort_r comparator over positions in ctx->idx (tree siblings). */
static int
top_order_pos_cmp(const void *a, const void *b, void *arg)
{
	const struct top_sort_ctx	*ctx = arg;
	const size_t			*pa = a, *pb = b;

	return top_order_cmp(&ctx->idx[*pa], &ctx->idx[*pb], arg);
}

/* qsort_r comparator by cgroup path, for the tree. */
static int
top_order_path_cmp(const void *a, const void *b, void *arg)
{
	const struct monitor_row	*rows = arg;
	const size_t			*ia = a, *ib = b;

	return strcmp(rows[*ia].cgroup, rows[*ib].cgroup);
}

/* Is path a descendant of dir ("/a" of "/a/b", "/" of everything)? */
static int
top_path_under(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return strcmp(path, "/") != 0;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Emit a node (a position in idx) and its children, sorted by the column, depth first. */
static void
top_order_visit(struct top_order *o, const size_t *parent, size_t n, size_t node, int depth,
    const struct top_sort_ctx *ctx)
{
	size_t	*kids, nk = 0, i;

	o->index[o->n] = ctx->idx[node];
	o->depth[o->n++] = depth;
	kids = xreallocarray(NULL, n + 1, sizeof *kids);
	for (i = node + 1; i < n; i++) {
		if (parent[i] == node)
			kids[nk++] = i;
	}
	qsort_r(kids, nk, sizeof *kids, top_order_pos_cmp, (void *)ctx);
	for (i = 0; i < nk; i++)
		top_order_visit(o, parent, n, kids[i], depth + 1, ctx);
	free(kids);
}

/* Tree order: rows under their nearest listed ancestor cgroup, siblings sorted. */
static void
top_order_tree(struct top_order *o, size_t *idx, size_t n, struct top_sort_ctx *ctx)
{
	size_t	*parent, *stack, *roots, nstack = 0, nroots = 0, i;

	qsort_r(idx, n, sizeof *idx, top_order_path_cmp, (void *)ctx->rows);
	ctx->idx = idx;
	parent = xreallocarray(NULL, n + 1, sizeof *parent);
	stack = xreallocarray(NULL, n + 1, sizeof *stack);
	roots = xreallocarray(NULL, n + 1, sizeof *roots);
	for (i = 0; i < n; i++) {
		while (nstack > 0 && !top_path_under(ctx->rows[idx[i]].cgroup,
		    ctx->rows[idx[stack[nstack - 1]]].cgroup))
			nstack--;
		parent[i] = nstack > 0 ? stack[nstack - 1] : SIZE_MAX;
		if (parent[i] == SIZE_MAX)
			roots[nroots++] = i;
		stack[nstack++] = i;
	}
	qsort_r(roots, nroots, sizeof *roots, top_order_pos_cmp, ctx);
	for (i = 0; i < nroots; i++)
		top_order_visit(o, parent, n, roots[i], 0, ctx);
	free(parent);
	free(stack);
	free(roots);
}

/*
 * Build the view of a snapshot: rows matching filter, sorted by col (desc:
 * descending), or as a cgroup tree with siblings sorted.  o is overwritten;
 * free it with top_order_free.
 */
void
top_order_build(struct top_order *o, const struct top_snap *s, const char *filter,
    enum top_col col, int desc, int tree)
{
	struct top_sort_ctx	 ctx = { s->rows, col, desc, NULL };
	size_t			*idx, n = 0, i;

	o->index = xreallocarray(NULL, s->nrows + 1, sizeof *o->index);
	o->depth = xcalloc(s->nrows + 1, sizeof *o->depth);
	o->n = 0;
	idx = xreallocarray(NULL, s->nrows + 1, sizeof *idx);
	for (i = 0; i < s->nrows; i++) {
		if (top_row_matches(&s->rows[i], filter))
			idx[n++] = i;
	}
	if (tree)
		top_order_tree(o, idx, n, &ctx);
	else {
		qsort_r(idx, n, sizeof *idx, top_order_cmp, &ctx);
		memcpy(o->index, idx, n * sizeof *idx);
		o->n = n;
	}
	free(idx);
}

/* Free an order's arrays. */
void
top_order_free(struct top_order *o)
{
	free(o->index);
	free(o->depth);
	memset(o, 0, sizeof *o);
}

/* qsort_r comparator for processes. */
static int
top_procs_cmp(const void *a, const void *b, void *arg)
{
	const int	*how = arg;
	int		 d = top_proc_compare(a, b, (enum top_pcol)how[0]);

	return how[1] ? -d : d;
}

/* Sort processes in place by a column. */
void
top_procs_sort(struct procmem *p, size_t n, enum top_pcol col, int desc)
{
	int	how[2] = { (int)col, desc };

	if (n > 1)
		qsort_r(p, n, sizeof *p, top_procs_cmp, how);
}

/*
 * Parse /proc/stat: busy and total jiffies of the "cpu" line (busy: all
 * but idle and iowait, as top and htop count) and the number of "cpuN"
 * lines.  Returns 0, or -1 on malformed text.
 */
int
top_parse_cpu(const char *buf, uint64_t *busy, uint64_t *total, int *ncpus)
{
	unsigned long long	v[8] = { 0 };
	const char		*p;
	int			n;

	if (strncmp(buf, "cpu ", 4) != 0)
		return -1;
	n = sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n < 4)
		return -1;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*total = *busy + v[3] + v[4];
	*ncpus = 0;
	for (p = strchr(buf, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
		if (strncmp(p + 1, "cpu", 3) == 0 && isdigit((unsigned char)p[4]))
			(*ncpus)++;
	}
	return 0;
}

/* Parse /proc/meminfo's totals into h (bytes).  Returns 0, or -1 without MemTotal. */
int
top_parse_meminfo(const char *buf, struct top_host *h)
{
	static const struct {
		const char	*key;
		size_t		 off;
	} keys[] = {
		{ "MemTotal:", offsetof(struct top_host, mem_total) },
		{ "MemAvailable:", offsetof(struct top_host, mem_available) },
		{ "SwapTotal:", offsetof(struct top_host, swap_total) },
		{ "SwapFree:", offsetof(struct top_host, swap_free) },
	};
	const char		*p = buf;
	unsigned long long	 kb;
	size_t			 k, n;
	int			 seen = 0;

	while (p != NULL && *p != '\0') {
		for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			n = strlen(keys[k].key);
			if (strncmp(p, keys[k].key, n) == 0 &&
			    sscanf(p + n, "%llu", &kb) == 1) {
				*(uint64_t *)(void *)((char *)h + keys[k].off) = kb * 1024;
				seen |= 1 << k;
			}
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (seen & 1) ? 0 : -1;
}

/* Find a history entry's slot by binary search; *found says whether it is there. */
static size_t
top_history_slot(const struct top_history *hs, const char *cgroup, int *found)
{
	size_t	lo = 0, hi = hs->n, mid;
	int	d;

	*found = 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		d = strcmp(hs->h[mid]->cgroup, cgroup);
		if (d == 0) {
			*found = 1;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add a snapshot's memory figures to the history; forget cgroups no longer listed. */
void
top_history_update(struct top_history *hs, const struct top_snap *s)
{
	struct top_hist	*h;
	size_t		 i, at, kept;
	int		 found;

	hs->gen++;
	for (i = 0; i < s->nrows; i++) {
		at = top_history_slot(hs, s->rows[i].cgroup, &found);
		if (!found) {
			if (hs->n == hs->cap) {
				hs->cap = hs->cap == 0 ? 16 : hs->cap * 2;
				hs->h = xreallocarray(hs->h, hs->cap, sizeof *hs->h);
			}
			memmove(&hs->h[at + 1], &hs->h[at], (hs->n - at) * sizeof *hs->h);
			h = hs->h[at] = xcalloc(1, sizeof *h);
			h->cgroup = xstrdup(s->rows[i].cgroup);
			hs->n++;
		}
		h = hs->h[at];
		h->seen = hs->gen;
		if (!(s->rows[i].have & MONITOR_HAVE_MEM))
			continue;
		h->limit = s->rows[i].mem_limit;
		h->mem[h->head] = s->rows[i].mem_usage;
		h->head = (h->head + 1) % TOP_HISTORY;
		if (h->n < TOP_HISTORY)
			h->n++;
	}
	for (i = kept = 0; i < hs->n; i++) {
		if (hs->h[i]->seen == hs->gen) {
			hs->h[kept++] = hs->h[i];
			continue;
		}
		free(hs->h[i]->cgroup);
		free(hs->h[i]);
	}
	hs->n = kept;
}

/* The history of a cgroup, or NULL. */
const struct top_hist *
top_history_find(const struct top_history *hs, const char *cgroup)
{
	size_t	at;
	int	found;

	at = top_history_slot(hs, cgroup, &found);
	return found ? hs->h[at] : NULL;
}

/* Copy the newest (up to max) samples, oldest first; returns how many. */
size_t
top_hist_values(const struct top_hist *h, uint64_t *out, size_t max)
{
	size_t	n = h->n < max ? h->n : max, i, start;

	start = (h->head + TOP_HISTORY - n) % TOP_HISTORY;
	for (i = 0; i < n; i++)
		out[i] = h->mem[(start + i) % TOP_HISTORY];
	return n;
}

/* Free every history entry. */
void
top_history_free(struct top_history *hs)
{
	size_t	i;

	for (i = 0; i < hs->n; i++) {
		free(hs->h[i]->cgroup);
		free(hs->h[i]);
	}
	free(hs->h);
	memset(hs, 0, sizeof *hs);
}

/* Print the batch header: time, layout, count, then the host line. */
static void
top_print_header(FILE *fp, const struct top_snap *s, size_t shown, int all)
{
	const struct top_host	*h = &s->host;
	char			 a[32], b[32], c[32], d[32], when[32];
	struct tm		 tm;
	time_t			 now = time(NULL);

	strftime(when, sizeof when, "%H:%M:%S", localtime_r(&now, &tm));
	fprintf(fp, "memprof top - %s - cgroup %s - %zu %s", when, s->layout, shown,
	    all ? (shown == 1 ? "cgroup" : "cgroups") : (shown == 1 ? "container" : "containers"));
	if (shown != s->nrows)
		fprintf(fp, " of %zu", s->nrows);
	fputc('\n', fp);
	top_format_bytes(h->mem_total - h->mem_available, a, sizeof a);
	top_format_bytes(h->mem_total, b, sizeof b);
	top_format_bytes(h->swap_total - h->swap_free, c, sizeof c);
	top_format_bytes(h->swap_total, d, sizeof d);
	fprintf(fp, "Host: CPU ");
	if (h->have_cpu)
		fprintf(fp, "%.1f%%", h->cpu_percent);
	else
		fprintf(fp, "--");
	fprintf(fp, " of %d CPUs  Mem %s / %s (%.1f%%)  Swap %s / %s\n", h->ncpus, a, b,
	    h->mem_total ? 100.0 * (double)(h->mem_total - h->mem_available) /
	    (double)h->mem_total : 0.0, c, d);
	if (s->error != NULL)
		fprintf(fp, "error: %s\n", s->error);
}

/*
 * Print one batch frame: the header and every column of the rows in
 * order, names in full (scripts split on two or more spaces), then a blank
 * line.  Tree depth indents the name.
 */
void
top_print_batch(FILE *fp, const struct top_snap *s, const struct top_order *o, int all)
{
	char	cell[STATS_CELL];
	size_t	i, namew = strlen(top_cols[TOP_COL_NAME].title), len;
	int	c, w;

	top_print_header(fp, s, o->n, all);
	for (i = 0; i < o->n; i++) {
		len = strlen(s->rows[o->index[i]].name) + 2 * (size_t)o->depth[i];
		if (len > namew)
			namew = len;
	}
	for (c = 0; c < TOP_NCOLS; c++) {
		w = c == TOP_COL_NAME ? (int)namew : top_cols[c].width;
		fprintf(fp, "%s%*s", c ? "  " : "", top_cols[c].right ? w : -w, top_cols[c].title);
	}
	fputc('\n', fp);
	for (i = 0; i < o->n; i++) {
		for (c = 0; c < TOP_NCOLS; c++) {
			top_cell_format(&s->rows[o->index[i]], (enum top_col)c, cell, sizeof cell);
			w = c == TOP_COL_NAME ? (int)namew : top_cols[c].width;
			if (c == TOP_COL_NAME)
				fprintf(fp, "%*s%-*s", 2 * o->depth[i], "", w - 2 * o->depth[i], cell);
			else
				fprintf(fp, "  %*s", top_cols[c].right ? w : -w, cell);
		}
		fputc('\n', fp);
	}
	fputc('\n', fp);
	fflush(fp);
}
