/*
 * stats-format.c: `memprof stats` output: docker's table with its human
 * units, and JSON lines with raw numbers.
 *
 * Units copy docker's CLI (formatter_stats.go with go-units): memory as
 * binary sizes printed "%.4g" ("876KiB / 256MiB"), network and block I/O
 * as decimal sizes printed "%.3g" ("1.04kB / 0B"), percentages "%.2f%%",
 * and "--" for a figure that could not be read.  Columns are padded like
 * docker's tabwriter (cell width + 3, at least 10).  JSON keeps the keys
 * pinned in DESIGN.md and adds more; an unreadable figure is null, never 0.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "monitor.h"
#include "stats.h"

/* Docker's tabwriter: minimum cell width 10, padding 3. */
#define STATS_MIN_WIDTH	10
#define STATS_PADDING	3

/* Format a size with a base, precision and unit names, as go-units does. */
static void
stats_format_size(double v, double base, int prec, const char *const *units, size_t nunits,
    char *buf, size_t size)
{
	size_t	i = 0;

	while (v >= base && i < nunits - 1) {
		v /= base;
		i++;
	}
	snprintf(buf, size, "%.*g%s", prec, v, units[i]);
}

/* docker's BytesSize: binary units, 4 significant digits ("876KiB"). */
void
stats_format_binary(uint64_t v, char *buf, size_t size)
{
	static const char *const units[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"
	};

	stats_format_size((double)v, 1024.0, 4, units, sizeof units / sizeof units[0], buf, size);
}

/* docker's HumanSizeWithPrecision(v, 3): decimal units ("1.04kB"). */
void
stats_format_decimal(uint64_t v, char *buf, size_t size)
{
	static const char *const units[] = {
		"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"
	};

	stats_format_size((double)v, 1000.0, 3, units, sizeof units / sizeof units[0], buf, size);
}

/* Format "A / B" of two decimal sizes, or "-- / --". */
static void
stats_format_pair(int ok, uint64_t a, uint64_t b, char *buf, size_t size)
{
	char	sa[32], sb[32];

	if (!ok) {
		snprintf(buf, size, "-- / --");
		return;
	}
	stats_format_decimal(a, sa, sizeof sa);
	stats_format_decimal(b, sb, sizeof sb);
	snprintf(buf, size, "%s / %s", sa, sb);
}

/* Fill the table cells of one row. */
static void
stats_row_cells(const struct monitor_row *r, int no_trunc, char cell[STATS_NCOLS][STATS_CELL])
{
	char	a[32], b[32];

	if (strcmp(r->runtime, "cgroup") == 0 || strcmp(r->runtime, "systemd") == 0)
		snprintf(cell[0], STATS_CELL, "-");
	else
		snprintf(cell[0], STATS_CELL, "%.*s", no_trunc ? STATS_CELL - 1 : 12, r->id);
	snprintf(cell[1], STATS_CELL, "%s", r->name);
	if (r->have & MONITOR_HAVE_CPU)
		snprintf(cell[2], STATS_CELL, "%.2f%%", r->cpu_percent);
	else
		snprintf(cell[2], STATS_CELL, "--");
	if (r->have & MONITOR_HAVE_MEM) {
		stats_format_binary(r->mem_usage, a, sizeof a);
		if (r->mem_limit != 0)
			stats_format_binary(r->mem_limit, b, sizeof b);
		else
			snprintf(b, sizeof b, "--");
		snprintf(cell[3], STATS_CELL, "%s / %s", a, b);
		if (r->mem_limit != 0)
			snprintf(cell[4], STATS_CELL, "%.2f%%", r->mem_percent);
		else
			snprintf(cell[4], STATS_CELL, "--");
	} else {
		snprintf(cell[3], STATS_CELL, "-- / --");
		snprintf(cell[4], STATS_CELL, "--");
	}
	stats_format_pair((r->have & (MONITOR_HAVE_NET | MONITOR_HAVE_HOSTNET)) != 0,
	    r->net_rx, r->net_tx, cell[5], STATS_CELL);
	stats_format_pair((r->have & MONITOR_HAVE_BLKIO) != 0, r->blk_read, r->blk_write,
	    cell[6], STATS_CELL);
	if (r->have & MONITOR_HAVE_PIDS)
		snprintf(cell[7], STATS_CELL, "%llu", (unsigned long long)r->pids);
	else
		snprintf(cell[7], STATS_CELL, "--");
}

/*
 * Print the table of the selected rows (all when sel is NULL) into fp.
 * EOL is what ends each line: "\n", or "\033[K\n" to erase what a previous
 * frame left when refreshing in place.
 */
void
stats_print_table(FILE *fp, const struct monitor_snapshot *snap, const int *sel, int no_trunc,
    const char *eol)
{
	static const char	*head[STATS_NCOLS] = {
		"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
		"BLOCK I/O", "PIDS"
	};
	char			(*cells)[STATS_NCOLS][STATS_CELL];
	size_t			 i, n = 0, w[STATS_NCOLS];
	int			 c;

	cells = xreallocarray(NULL, snap->nrows + 1, sizeof *cells);
	for (c = 0; c < STATS_NCOLS; c++) {
		snprintf(cells[0][c], STATS_CELL, "%s", head[c]);
		w[c] = STATS_MIN_WIDTH;
	}
	n = 1;
	for (i = 0; i < snap->nrows; i++) {
		if (sel == NULL || sel[i])
			stats_row_cells(&snap->rows[i], no_trunc, cells[n++]);
	}
	for (i = 0; i < n; i++) {
		for (c = 0; c < STATS_NCOLS; c++) {
			if (strlen(cells[i][c]) + STATS_PADDING > w[c])
				w[c] = strlen(cells[i][c]) + STATS_PADDING;
		}
	}
	for (i = 0; i < n; i++) {
		for (c = 0; c < STATS_NCOLS - 1; c++)
			fprintf(fp, "%-*s", (int)w[c], cells[i][c]);
		fprintf(fp, "%s%s", cells[i][STATS_NCOLS - 1], eol);
	}
	free(cells);
}

/* Print a JSON string with quotes and escapes. */
static void
stats_json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

/* Print ,"key":value for a u64 that may be unknown (null). */
static void
stats_json_u64(FILE *fp, const char *key, int ok, uint64_t v)
{
	if (ok)
		fprintf(fp, ",\"%s\":%llu", key, (unsigned long long)v);
	else
		fprintf(fp, ",\"%s\":null", key);
}

/* Print ,"key":value for a double that may be unknown (null). */
static void
stats_json_double(FILE *fp, const char *key, int ok, double v)
{
	if (ok)
		fprintf(fp, ",\"%s\":%.3f", key, v);
	else
		fprintf(fp, ",\"%s\":null", key);
}

/* Print ,"key":"value" or ,"key":null. */
static void
stats_json_str(FILE *fp, const char *key, const char *v)
{
	fprintf(fp, ",\"%s\":", key);
	if (v != NULL)
		stats_json_string(fp, v);
	else
		fputs("null", fp);
}

/* Print the per-interface counters as an object. */
static void
stats_json_ifaces(FILE *fp, const struct monitor_row *r)
{
	int	i;

	fputs(",\"net_interfaces\":{", fp);
	for (i = 0; i < r->nifaces; i++) {
		fprintf(fp, "%s", i != 0 ? "," : "");
		stats_json_string(fp, r->ifaces[i].name);
		fprintf(fp, ":{\"rx_bytes\":%llu,\"tx_bytes\":%llu}",
		    (unsigned long long)r->ifaces[i].rx_bytes,
		    (unsigned long long)r->ifaces[i].tx_bytes);
	}
	fputc('}', fp);
}

/* Print one row as one JSON object on one line. */
void
stats_print_json_row(FILE *fp, const struct monitor_row *r)
{
	unsigned	h = r->have;
	int		net = (h & (MONITOR_HAVE_NET | MONITOR_HAVE_HOSTNET)) != 0;
	int		mem = (h & MONITOR_HAVE_MEM) != 0, lim = mem && r->mem_limit != 0;

	fputs("{\"id\":", fp);
	stats_json_string(fp, r->id);
	stats_json_str(fp, "name", r->name);
	stats_json_str(fp, "cgroup", r->cgroup);
	stats_json_double(fp, "cpu_percent", h & MONITOR_HAVE_CPU, r->cpu_percent);
	stats_json_u64(fp, "mem_usage_bytes", mem, r->mem_usage);
	stats_json_u64(fp, "mem_limit_bytes", lim, r->mem_limit);
	stats_json_double(fp, "mem_percent", lim, r->mem_percent);
	stats_json_u64(fp, "net_rx_bytes", net, r->net_rx);
	stats_json_u64(fp, "net_tx_bytes", net, r->net_tx);
	stats_json_u64(fp, "block_read_bytes", h & MONITOR_HAVE_BLKIO, r->blk_read);
	stats_json_u64(fp, "block_write_bytes", h & MONITOR_HAVE_BLKIO, r->blk_write);
	stats_json_u64(fp, "pids", h & MONITOR_HAVE_PIDS, r->pids);
	stats_json_str(fp, "runtime", r->runtime);
	stats_json_str(fp, "image", r->image);
	if (r->pod != NULL) {
		stats_json_str(fp, "pod", r->pod);
		stats_json_str(fp, "namespace", r->namespace);
	}
	stats_json_u64(fp, "cpu_usage_ns", h & MONITOR_HAVE_CPU, r->cpu_usage_ns);
	stats_json_u64(fp, "mem_raw_usage_bytes", mem, r->mem_raw_usage);
	stats_json_u64(fp, "mem_parent_limit_bytes", h & MONITOR_HAVE_PARENT, r->mem_parent_limit);
	stats_json_u64(fp, "swap_bytes", h & MONITOR_HAVE_SWAP, r->swap);
	stats_json_u64(fp, "oom_events", h & MONITOR_HAVE_OOM, r->oom_events);
	stats_json_u64(fp, "oom_kills", h & MONITOR_HAVE_OOM_KILL, r->oom_kills);
	stats_json_double(fp, "mem_psi_some_avg10", h & MONITOR_HAVE_PSI, r->psi_some_avg10);
	stats_json_double(fp, "mem_psi_full_avg10", h & MONITOR_HAVE_PSI, r->psi_full_avg10);
	stats_json_u64(fp, "pids_limit", r->pids_limit != 0, r->pids_limit);
	if (h & MONITOR_HAVE_HOSTNET)
		fputs(",\"net_host\":true", fp);
	if (h & MONITOR_HAVE_NET)
		stats_json_ifaces(fp, r);
	stats_json_str(fp, "note", r->note);
	fputs("}\n", fp);
}
