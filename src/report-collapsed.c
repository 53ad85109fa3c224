/*
 * report-collapsed.c: `memprof report --format collapsed`, the folded stack
 * format of Brendan Gregg's flamegraph.pl, which inferno, speedscope and
 * Pyroscope read too: one line per stack, frames from the outermost to the
 * innermost separated by ';', then a space and the stack's bytes under the
 * view.  A frame is "function (file:line)", or "function (module)" for a
 * native one.  With more than one process selected, each stack starts with
 * a frame naming its process ("python3 [1234]"), so workers stay apart.
 * Stacks worth 0 bytes are left out; the lines' sum is the view's total.
 */

#include <string.h>

#include "memprof.h"
#include "report.h"

/* Write one frame's label, with ';' and line breaks (the format's separators) replaced. */
static void
report_collapsed_label(const struct report *r, const struct frame *f, FILE *out)
{
	char		 where[256], label[768];
	const char	*base;
	size_t		 i;

	if (f->native) {
		report_text_where(r->pf, f, where, sizeof where);
		snprintf(label, sizeof label, "%s %s", profile_string(r->pf, f->function), where);
	} else if (f->line > 0)
		snprintf(label, sizeof label, "%s (%s:%d)", profile_string(r->pf, f->function),
		    profile_string(r->pf, f->file), f->line);
	else {
		base = profile_string(r->pf, f->file);
		snprintf(label, sizeof label, *base != '\0' ? "%s (%s)" : "%s%s",
		    profile_string(r->pf, f->function), base);
	}
	for (i = 0; label[i] != '\0'; i++) {
		if (label[i] == ';')
			label[i] = ':';
		else if (label[i] == '\n' || label[i] == '\r')
			label[i] = ' ';
	}
	fputs(label, out);
}

/* Write the stacks of one process. */
static void
report_collapsed_process(const struct report *r, const struct process *p, int root, FILE *out)
{
	const struct stack	*st;
	const char		*exe, *base;
	int64_t			 value;
	uint32_t		 sid, i;

	for (sid = 0; sid < p->nstats && sid < r->pf->nstacks; sid++) {
		if ((value = report_stack_value(r, p, sid)) <= 0)
			continue;
		st = &r->pf->stacks[sid];
		if (root) {
			exe = p->exe != NULL ? p->exe : "";
			base = strrchr(exe, '/');
			fprintf(out, "%s [%d];", base != NULL ? base + 1 : exe, p->pid);
		}
		for (i = st->nframes; i > 0; i--) {
			report_collapsed_label(r, &r->pf->frames[st->frames[i - 1]], out);
			if (i > 1)
				fputc(';', out);
		}
		if (st->nframes == 0)
			fputs("[unknown]", out);
		fprintf(out, " %lld\n", (long long)value);
	}
}

/* Write the report as folded stacks; -1 on a write error. */
int
report_collapsed(const struct report *r, FILE *out)
{
	size_t	i;

	for (i = 0; i < r->pf->nprocs; i++) {
		if (report_selects(r, r->pf->procs[i]))
			report_collapsed_process(r, r->pf->procs[i], r->totals.processes > 1, out);
	}
	return ferror(out) ? -1 : 0;
}
