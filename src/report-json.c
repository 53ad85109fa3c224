/*
 * report-json.c: the JSON report, one object, with the schema pinned in
 * DESIGN.md (version, command, processes, totals, sites sorted by
 * allocated_bytes) plus extra keys a script may want (the view, sampling,
 * dropped records, each site's heaviest call path).  Strings are escaped
 * per RFC 8259; file names that are not valid UTF-8 pass through as bytes
 * with control characters escaped.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "report.h"

/*
 * Write a frame's fields: function, file, line, and for a native frame
 * "native":true, with "source" (its source file, whose line "line" is)
 * when its module has a line table.
 */
static void
report_json_frame_fields(const struct report *r, const struct frame *f, FILE *out)
{
	fputs("\"function\":", out);
	report_json_str(out, profile_string(r->pf, f->function));
	fputs(",\"file\":", out);
	report_json_str(out, profile_string(r->pf, f->file));
	fprintf(out, ",\"line\":%d", f->line);
	if (f->native && f->source != 0) {
		fputs(",\"source\":", out);
		report_json_str(out, profile_string(r->pf, f->source));
	}
	if (f->native)
		fputs(",\"native\":true", out);
}

/* Write a frame as an object. */
static void
report_json_frame(const struct report *r, const struct frame *f, FILE *out)
{
	fputc('{', out);
	report_json_frame_fields(r, f, out);
	fputc('}', out);
}

/* The processes array. */
static void
report_json_processes(const struct report *r, FILE *out)
{
	const struct process	*p;
	char			 v[32];
	size_t			 i, n = 0;

	fputs("\"processes\":[", out);
	for (i = 0; i < r->pf->nprocs; i++) {
		p = r->pf->procs[i];
		if (!report_selects(r, p))
			continue;
		fprintf(out, "%s{\"pid\":%d,\"ppid\":%d,\"exe\":", n++ ? "," : "", p->pid, p->ppid);
		report_json_str(out, p->exe);
		fputs(",\"python\":", out);
		if (p->python_hex != 0)
			report_json_str(out, report_fmt_python(v, sizeof v, p->python_hex));
		else
			fputs("null", out);
		fprintf(out, ",\"allocated_bytes\":%" PRIu64 ",\"peak_bytes\":%" PRId64
		    ",\"live_bytes_at_exit\":%" PRId64 ",\"rss_peak_bytes\":%" PRIu64
		    ",\"dropped_records\":%" PRIu64 ",\"ended\":%s}",
		    p->allocated, p->peak, p->ended || p->exited_code ? p->at_exit_total : p->live_total,
		    p->rss_peak, p->dropped_records, p->ended ? "true" : "false");
	}
	fputs("]", out);
}

static int
report_json_cmp_allocated(const void *a, const void *b)
{
	const struct report_site	*x = *(const struct report_site * const *)a;
	const struct report_site	*y = *(const struct report_site * const *)b;

	if (x->allocated != y->allocated)
		return x->allocated > y->allocated ? -1 : 1;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* One site object. */
static void
report_json_site(const struct report *r, const struct report_site *s, FILE *out)
{
	const struct frame	*f = &r->pf->frames[s->frame];
	const struct stack	*st = &r->pf->stacks[s->top_stack];
	uint32_t		 i;

	/* A native site (no Python frame in its stacks) says so, as its frames do. */
	fputc('{', out);
	report_json_frame_fields(r, f, out);
	fprintf(out, ",\"allocated_bytes\":%" PRIu64 ",\"allocations\":%.0f"
	    ",\"live_bytes_at_exit\":%" PRId64 ",\"bytes_at_peak\":%" PRId64
	    ",\"live_bytes_at_end\":%" PRId64 ",\"stack\":[",
	    s->allocated, s->allocations, s->at_exit, s->at_peak, s->live_end);
	for (i = 0; i < st->nframes; i++) {
		if (i > 0)
			fputc(',', out);
		report_json_frame(r, &r->pf->frames[st->frames[i]], out);
	}
	fputs("]}", out);
}

/* Write the JSON report. */
int
report_json(const struct report *r, FILE *out)
{
	const struct report_site	**order;
	size_t				 i;

	fputs("{\"version\":1,\"command\":[", out);
	for (i = 0; i < r->pf->ncommand; i++) {
		if (i > 0)
			fputc(',', out);
		report_json_str(out, r->pf->command[i]);
	}
	fprintf(out, "],\"view\":\"%s\",\"exact\":%s,\"sample_every\":%" PRIu64 ",",
	    report_view_name(r->view), r->pf->sample_every == 0 ? "true" : "false",
	    r->pf->sample_every);
	report_json_processes(r, out);
	fprintf(out, ",\"totals\":{\"allocated_bytes\":%" PRIu64 ",\"allocations\":%.0f"
	    ",\"peak_bytes\":%" PRId64 ",\"live_bytes_at_exit\":%" PRId64
	    ",\"live_bytes_at_end\":%" PRId64 ",\"rss_peak_bytes\":%" PRIu64
	    ",\"dropped_records\":%" PRIu64 ",\"duration_seconds\":%.3f},\"sites\":[",
	    r->totals.allocated, r->totals.allocations, r->totals.peak, r->totals.at_exit,
	    r->totals.live_end, r->totals.rss_peak, r->totals.dropped_records,
	    (double)r->pf->now_ns / 1e9);
	/* The schema pins sites in allocated-bytes order whatever the view. */
	order = xreallocarray(NULL, r->nsites == 0 ? 1 : r->nsites, sizeof *order);
	for (i = 0; i < r->nsites; i++)
		order[i] = &r->sites[i];
	if (r->nsites > 1)
		qsort(order, r->nsites, sizeof *order, report_json_cmp_allocated);
	for (i = 0; i < r->nsites; i++) {
		if (i > 0)
			fputc(',', out);
		report_json_site(r, order[i], out);
	}
	free(order);
	fputs("]}\n", out);
	return ferror(out) ? -1 : 0;
}
