/*
 * report.c: adding a model's per-stack figures up into sites for the
 * selected processes, totals, and ordering by the chosen view.  Sampled
 * figures are already unbiased per record, so sums stay unbiased.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "report.h"

/* The view's figure for one stack of one process. */
/*
 * A stack's bytes at "the peak": for one process (--pid) its own peak, for
 * a whole capture the moment all its processes together held the most.
 */
static int64_t
report_stack_at_peak(const struct report *r, const struct process *p, uint32_t sid)
{
	return r->pid != 0 ? profile_stack_at_peak(p, sid) : profile_stack_at_all_peak(p, sid);
}

/* A stack's figure under the report's view. */
int64_t
report_stack_value(const struct report *r, const struct process *p, uint32_t sid)
{
	const struct stack_stats	*s = &p->stats[sid];

	switch (r->view) {
	case REPORT_VIEW_ALLOCATED:
		return (int64_t)s->alloc_bytes;
	case REPORT_VIEW_LIVE:
		return s->live_bytes;
	case REPORT_VIEW_PEAK:
		return report_stack_at_peak(r, p, sid);
	case REPORT_VIEW_LEAKS:
		return p->ended || p->exited_code ? s->at_exit : s->live_bytes;
	}
	return 0;
}

/* The view's figure for a site. */
int64_t
report_site_value(const struct report *r, const struct report_site *s)
{
	switch (r->view) {
	case REPORT_VIEW_ALLOCATED:
		return (int64_t)s->allocated;
	case REPORT_VIEW_LIVE:
		return s->live_end;
	case REPORT_VIEW_PEAK:
		return s->at_peak;
	case REPORT_VIEW_LEAKS:
		return s->at_exit;
	}
	return 0;
}

/* Write s as a JSON string. */
void
report_json_str(FILE *out, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* 1 if the report covers this process. */
int
report_selects(const struct report *r, const struct process *p)
{
	return r->pid == 0 || p->pid == r->pid;
}

static const struct report *report_sorting;

/* qsort order: the view's figure descending, then allocated, then frame id. */
static int
report_cmp_sites(const void *a, const void *b)
{
	const struct report_site	*x = a, *y = b;
	int64_t				 vx = report_site_value(report_sorting, x);
	int64_t				 vy = report_site_value(report_sorting, y);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	if (x->allocated != y->allocated)
		return x->allocated > y->allocated ? -1 : 1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* Add one process's stacks into the site table. */
static void
report_add_process(struct report *r, const struct process *p, struct hmap *index)
{
	const struct profile		*pf = r->pf;
	const struct stack_stats	*s;
	struct report_site		*site;
	uint64_t			*v;
	int64_t				 value;
	uint32_t			 sid;

	for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
		s = &p->stats[sid];
		if (s->alloc_bytes == 0 && s->alloc_count == 0 && s->live_bytes == 0)
			continue;
		if ((v = hmap_get(index, (uint64_t)pf->stacks[sid].site + 1)) == NULL) {
			r->sites = xreallocarray(r->sites, r->nsites + 1, sizeof *r->sites);
			site = &r->sites[r->nsites];
			memset(site, 0, sizeof *site);
			site->frame = pf->stacks[sid].site;
			site->top_stack_value = INT64_MIN;
			hmap_put(index, (uint64_t)site->frame + 1, r->nsites++);
		} else
			site = &r->sites[*v];
		site->allocated += s->alloc_bytes;
		site->allocations += s->alloc_count;
		site->live_end += s->live_bytes;
		site->at_exit += p->ended || p->exited_code ? s->at_exit : s->live_bytes;
		site->at_peak += report_stack_at_peak(r, p, sid);
		value = report_stack_value(r, p, sid);
		if (value > site->top_stack_value) {
			site->top_stack_value = value;
			site->top_stack = sid;
		}
	}
}

/* Build the report for pid (0: all processes) under a view. */
int
report_build(struct report *r, const struct profile *pf, int pid, enum report_view view,
    char **cause)
{
	const struct process	*p;
	struct hmap		 index;
	size_t			 i;

	memset(r, 0, sizeof *r);
	r->pf = pf;
	r->pid = pid;
	r->view = view;
	hmap_init(&index);
	for (i = 0; i < pf->nprocs; i++) {
		p = pf->procs[i];
		if (!report_selects(r, p))
			continue;
		r->totals.processes++;
		r->totals.allocated += p->allocated;
		r->totals.allocations += p->allocations;
		if (r->pid != 0)
			r->totals.peak += p->peak;
		r->totals.at_exit += p->ended || p->exited_code ? p->at_exit_total : p->live_total;
		r->totals.live_end += p->live_total;
		/* One pid's images ran one after another (exec): the highest. */
		if (r->pid != 0 && p->rss_peak > r->totals.rss_peak)
			r->totals.rss_peak = p->rss_peak;
		r->totals.dropped_records += p->dropped_records;
		r->totals.dropped_bytes += p->dropped_bytes;
		report_add_process(r, p, &index);
	}
	if (r->pid == 0) {
		r->totals.peak = pf->peak_all;
		r->totals.rss_peak = pf->rss_peak_all;
	}
	hmap_free(&index);
	if (pid != 0 && r->totals.processes == 0) {
		xasprintf(cause, "the capture has no process with pid %d", pid);
		return -1;
	}
	report_sorting = r;
	if (r->nsites > 1)
		qsort(r->sites, r->nsites, sizeof *r->sites, report_cmp_sites);
	report_sorting = NULL;
	return 0;
}

/* Free the site table. */
void
report_free(struct report *r)
{
	free(r->sites);
	r->sites = NULL;
	r->nsites = 0;
}

static const char *report_view_names[] = { "allocated", "live", "peak", "leaks" };

/* The view's name as given on the command line. */
const char *
report_view_name(enum report_view v)
{
	return report_view_names[v];
}

/* Parse a view name; -1 if unknown. */
int
report_view_parse(const char *s, enum report_view *v)
{
	size_t	i;

	for (i = 0; i < sizeof report_view_names / sizeof report_view_names[0]; i++) {
		if (strcmp(s, report_view_names[i]) == 0) {
			*v = (enum report_view)i;
			return 0;
		}
	}
	return -1;
}

/* Format a byte count with binary units, 3 significant digits ("45.6 MiB"). */
const char *
report_fmt_bytes(char *buf, size_t len, double bytes)
{
	static const char	*units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double			 v = fabs(bytes);
	size_t			 u = 0;

	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (bytes < 0)
		v = -v;
	if (u == 0)
		snprintf(buf, len, "%.0f B", v);
	else
		snprintf(buf, len, fabs(v) < 10 ? "%.2f %s" : fabs(v) < 100 ? "%.1f %s" : "%.0f %s",
		    v, units[u]);
	return buf;
}

/* Format a count with K/M/G suffixes ("12.3K"). */
const char *
report_fmt_count(char *buf, size_t len, double n)
{
	if (n < 1000)
		snprintf(buf, len, "%.0f", n);
	else if (n < 1e6)
		snprintf(buf, len, "%.1fK", n / 1e3);
	else if (n < 1e9)
		snprintf(buf, len, "%.1fM", n / 1e6);
	else
		snprintf(buf, len, "%.1fG", n / 1e9);
	return buf;
}

/* Format a duration: "0.42 s", "12.3 s", "4m 05s", "2h 03m". */
const char *
report_fmt_duration(char *buf, size_t len, uint64_t ns)
{
	double		s = (double)ns / 1e9;
	uint64_t	whole = ns / 1000000000ULL;

	if (s < 10)
		snprintf(buf, len, "%.2f s", s);
	else if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (whole < 3600)
		snprintf(buf, len, "%um %02us", (unsigned)(whole / 60), (unsigned)(whole % 60));
	else
		snprintf(buf, len, "%uh %02um", (unsigned)(whole / 3600),
		    (unsigned)(whole % 3600 / 60));
	return buf;
}

/* Format PY_VERSION_HEX as "3.11.7" (with a1/b2/rc1 for pre-releases). */
const char *
report_fmt_python(char *buf, size_t len, uint32_t hex)
{
	static const char	*levels[] = { "a", "b", "rc" };
	unsigned		 level = (hex >> 4) & 0xf, serial = hex & 0xf;

	if (level >= 0xa && level <= 0xc)
		snprintf(buf, len, "%u.%u.%u%s%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff,
		    levels[level - 0xa], serial);
	else
		snprintf(buf, len, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
	return buf;
}
