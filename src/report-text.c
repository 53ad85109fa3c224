/*
 * report-text.c: the plain-text report: what ran, totals, then the top
 * sites under the chosen view, each with the call path that contributes
 * most to it, so a reader sees both "which line" and "called from where".
 */

#include <stdio.h>
#include <string.h>

#include "memprof.h"
#include "report.h"

#define REPORT_TEXT_SITES	20	/* sites listed */
#define REPORT_TEXT_PATHS	5	/* sites whose call path is shown */
#define REPORT_TEXT_DEPTH	8	/* frames shown per call path */

/* The last component of a path. */
static const char *
report_text_base(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/*
 * Print "file:line" of a frame, shortening long paths from the left; a
 * native frame shows its module's file name, "(libc.so.6)", or "(native)"
 * when no module covers it, after its source file's name and line when the
 * module has a line table: "listobject.c:74 (libpython3.11.so.1.0)".
 */
void
report_text_where(const struct profile *pf, const struct frame *f, char *buf, size_t len)
{
	const char	*file = profile_string(pf, f->file), *base;
	size_t		 n = strlen(file);

	if (f->native) {
		base = report_text_base(file);
		if (f->source != 0 && f->line > 0)
			snprintf(buf, len, "%s:%d (%s)",
			    report_text_base(profile_string(pf, f->source)), f->line,
			    *base != '\0' ? base : "native");
		else
			snprintf(buf, len, "(%s)", *base != '\0' ? base : "native");
		return;
	}
	if (*file == '\0') {
		buf[0] = '\0';
		return;
	}
	if (n > 40)
		file += n - 40;
	snprintf(buf, len, "%s%s:%d", n > 40 ? "..." : "", file, f->line);
}

/* The header: command, processes, sampling, totals. */
static void
report_text_header(const struct report *r, FILE *out)
{
	const struct profile	*pf = r->pf;
	const struct process	*p;
	char			 a[32], b[32], c[32], d[32];
	size_t			 i, shown = 0, python = 0;

	fprintf(out, "Command:    ");
	for (i = 0; i < pf->ncommand; i++)
		fprintf(out, "%s%s", i == 0 ? "" : " ", pf->command[i]);
	/*
	 * Python processes are the interesting ones; shells and launchers (a
	 * pyenv shim runs dozens) are only counted.
	 */
	for (i = 0; i < pf->nprocs; i++)
		python += report_selects(r, pf->procs[i]) && pf->procs[i]->python_hex != 0;
	fprintf(out, "\nProcesses:  %zu", r->totals.processes);
	if (python == 0 && r->totals.processes > 0)
		fprintf(out, ", none running Python");
	else if (python < r->totals.processes)
		fprintf(out, ", %zu running Python", python);
	for (i = 0; i < pf->nprocs && shown < 6; i++) {
		p = pf->procs[i];
		if (!report_selects(r, p) || p->python_hex == 0)
			continue;
		fprintf(out, "%s pid %d (Python %s)", shown++ == 0 ? ":" : ",", p->pid,
		    report_fmt_python(a, sizeof a, p->python_hex));
	}
	if (python > shown)
		fprintf(out, ", ...");
	fputc('\n', out);
	report_fmt_duration(b, sizeof b, pf->now_ns);
	if (pf->sample_every == 0)
		fprintf(out, "Recording:  %s, every allocation (--exact)\n", b);
	else
		fprintf(out, "Recording:  %s, sampled every %s on average; figures are estimates\n",
		    b, report_fmt_bytes(a, sizeof a, (double)pf->sample_every));
	fprintf(out, "Allocated:  %s in %s allocations\n",
	    report_fmt_bytes(a, sizeof a, (double)r->totals.allocated),
	    report_fmt_count(b, sizeof b, r->totals.allocations));
	fprintf(out, "Peak heap:  %s   Live at exit: %s   Peak RSS: %s\n",
	    report_fmt_bytes(a, sizeof a, (double)r->totals.peak),
	    report_fmt_bytes(c, sizeof c, (double)r->totals.at_exit),
	    r->totals.rss_peak ? report_fmt_bytes(d, sizeof d, (double)r->totals.rss_peak) : "n/a");
	if (r->totals.dropped_records > 0)
		fprintf(out, "Warning:    %llu records were dropped (the collector fell behind)\n",
		    (unsigned long long)r->totals.dropped_records);
}

/* The call path of a site's heaviest stack, outermost last. */
static void
report_text_path(const struct report *r, const struct report_site *s, FILE *out)
{
	const struct profile	*pf = r->pf;
	const struct stack	*st = &pf->stacks[s->top_stack];
	const struct frame	*f;
	char			 where[64];
	uint32_t		 i;

	for (i = 0; i < st->nframes && i < REPORT_TEXT_DEPTH; i++) {
		f = &pf->frames[st->frames[i]];
		report_text_where(pf, f, where, sizeof where);
		fprintf(out, "      %s %s  %s\n", i == 0 ? "at" : "by", profile_string(pf, f->function),
		    where);
	}
	if (st->nframes > REPORT_TEXT_DEPTH || st->truncated)
		fprintf(out, "      ... (%u more frames)\n",
		    st->nframes > REPORT_TEXT_DEPTH ? st->nframes - REPORT_TEXT_DEPTH : 0);
}

/*
 * One line of an end-of-recording summary: bytes, function, and where:
 * a Python site with its full path (terminals make it a link), a native one
 * with its module, an unnamed address (which already names its module) alone.
 */
void
report_text_summary_site(const struct profile *pf, uint32_t frame, int64_t bytes, FILE *out)
{
	const struct frame	*f = &pf->frames[frame];
	char			 a[32], where[256];

	if (f->native && strncmp(profile_string(pf, f->function), "0x", 2) == 0)
		where[0] = '\0';
	else if (f->native)
		report_text_where(pf, f, where, sizeof where);
	else
		snprintf(where, sizeof where, "%s:%d", profile_string(pf, f->file), f->line);
	fprintf(out, "  %10s  %s  %s\n", report_fmt_bytes(a, sizeof a, (double)bytes),
	    profile_string(pf, f->function), where);
}

/* The end of a summary: dropped records, if any, and where the capture is. */
void
report_text_summary_end(const struct report *r, const char *path, int lost, FILE *out)
{
	if (r->totals.dropped_records > 0)
		fprintf(out, "memprof: warning: %llu records were dropped\n",
		    (unsigned long long)r->totals.dropped_records);
	fprintf(out, "memprof: capture %s%s; see it with: memprof report %s\n", path,
	    lost ? " (incomplete)" : "", path);
}

/* Write the text report. */
int
report_text(const struct report *r, FILE *out)
{
	static const char	*titles[] = {
		"allocated bytes", "bytes live at the end of the recording",
		"bytes live at the peak", "bytes still live when the program's code finished"
	};
	const struct profile	*pf = r->pf;
	const struct report_site *s;
	const struct frame	*f;
	char			 v[32], a[32], n[32], pk[32], ex[32], where[64];
	size_t			 i;
	int			 live = r->view == REPORT_VIEW_LIVE;

	report_text_header(r, out);
	fprintf(out, "\nTop sites by %s:\n\n", titles[r->view]);
	/*
	 * allocated, peak and leaks rank by a column the table has anyway;
	 * only live (at the end of the recording) needs one of its own.
	 */
	if (live)
		fprintf(out, "  %10s", "live");
	fprintf(out, "  %10s %8s %10s %10s  %-24s %s\n",
	    "allocated", "count", "at peak", "at exit", "function", "location");
	for (i = 0; i < r->nsites && i < REPORT_TEXT_SITES; i++) {
		s = &r->sites[i];
		if (report_site_value(r, s) <= 0 && r->view != REPORT_VIEW_ALLOCATED)
			break;
		f = &pf->frames[s->frame];
		report_text_where(pf, f, where, sizeof where);
		if (live)
			fprintf(out, "  %10s", report_fmt_bytes(v, sizeof v, (double)report_site_value(r, s)));
		fprintf(out, "  %10s %8s %10s %10s  %-24s %s\n",
		    report_fmt_bytes(a, sizeof a, (double)s->allocated),
		    report_fmt_count(n, sizeof n, s->allocations),
		    report_fmt_bytes(pk, sizeof pk, (double)s->at_peak),
		    report_fmt_bytes(ex, sizeof ex, (double)s->at_exit),
		    profile_string(pf, f->function), where);
	}
	if (r->nsites == 0)
		fprintf(out, "  (no allocations were recorded)\n");
	for (i = 0; i < r->nsites && i < REPORT_TEXT_PATHS; i++) {
		s = &r->sites[i];
		if (report_site_value(r, s) <= 0)
			break;
		if (i == 0)
			fprintf(out, "\nCall paths of the top sites:\n");
		fprintf(out, "\n  #%zu %s\n", i + 1,
		    report_fmt_bytes(v, sizeof v, (double)s->top_stack_value));
		report_text_path(r, s, out);
	}
	return ferror(out) ? -1 : 0;
}
