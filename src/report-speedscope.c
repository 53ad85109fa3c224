/*
 * report-speedscope.c: `memprof report --format speedscope`, a file for
 * https://www.speedscope.app (and other viewers of its schema): the frames
 * that the selected stacks use, once each in "shared.frames", then one
 * "sampled" profile per process whose samples are the stacks (frame
 * indexes, outermost first) weighted by their bytes under the view.
 * Stacks worth 0 bytes are left out; each profile's weights add up to that
 * process's total under the view.
 */

#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "report.h"

/* Number the frames the selected stacks use; index[frame] = -1 for the others. */
static size_t
report_speedscope_frames(const struct report *r, int64_t *index, FILE *out)
{
	const struct profile	*pf = r->pf;
	const struct process	*p;
	const struct stack	*st;
	const struct frame	*f;
	const char		*file;
	size_t			 i, n = 0;
	uint32_t		 sid, k;

	for (i = 0; i < pf->nframes; i++)
		index[i] = -1;
	fputs("\"shared\":{\"frames\":[", out);
	for (i = 0; i < pf->nprocs; i++) {
		p = pf->procs[i];
		if (!report_selects(r, p))
			continue;
		for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
			if (report_stack_value(r, p, sid) <= 0)
				continue;
			st = &pf->stacks[sid];
			for (k = 0; k < st->nframes; k++) {
				if (index[st->frames[k]] >= 0)
					continue;
				index[st->frames[k]] = (int64_t)n;
				f = &pf->frames[st->frames[k]];
				fputs(n++ > 0 ? ",{\"name\":" : "{\"name\":", out);
				report_json_str(out, profile_string(pf, f->function));
				/* A native frame's line is in its source file, when it has one. */
				file = profile_string(pf, f->native && f->source != 0 ? f->source : f->file);
				if (*file != '\0') {
					fputs(",\"file\":", out);
					report_json_str(out, file);
				}
				if (f->line > 0)
					fprintf(out, ",\"line\":%d", f->line);
				fputc('}', out);
			}
		}
	}
	fputs("]}", out);
	return n;
}

/* One process's profile: its stacks as weighted samples. */
static void
report_speedscope_profile(const struct report *r, const struct process *p, const int64_t *index,
    FILE *out)
{
	const struct profile	*pf = r->pf;
	const struct stack	*st;
	int64_t			 value, total = 0;
	uint32_t		 sid, k;
	int			 first = 1;
	char			 name[160];

	for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
		if ((value = report_stack_value(r, p, sid)) > 0)
			total += value;
	}
	fputs("{\"type\":\"sampled\",\"name\":", out);
	snprintf(name, sizeof name, "%s [%d], %s bytes", p->exe != NULL ? p->exe : "", p->pid,
	    report_view_name(r->view));
	report_json_str(out, name);
	fprintf(out, ",\"unit\":\"bytes\",\"startValue\":0,\"endValue\":%lld,\"samples\":[",
	    (long long)total);
	for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
		if (report_stack_value(r, p, sid) <= 0)
			continue;
		st = &pf->stacks[sid];
		fputs(first ? "[" : ",[", out);
		first = 0;
		for (k = st->nframes; k > 0; k--)
			fprintf(out, k < st->nframes ? ",%lld" : "%lld",
			    (long long)index[st->frames[k - 1]]);
		fputc(']', out);
	}
	fputs("],\"weights\":[", out);
	first = 1;
	for (sid = 0; sid < p->nstats && sid < pf->nstacks; sid++) {
		if ((value = report_stack_value(r, p, sid)) <= 0)
			continue;
		fprintf(out, first ? "%lld" : ",%lld", (long long)value);
		first = 0;
	}
	fputs("]}", out);
}

/* Write the report as a speedscope file; -1 on a write error. */
int
report_speedscope(const struct report *r, FILE *out)
{
	const struct profile	*pf = r->pf;
	int64_t			*index;
	size_t			 i;
	int			 first = 1;

	index = xreallocarray(NULL, pf->nframes > 0 ? pf->nframes : 1, sizeof *index);
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	    "\"exporter\":\"memprof " PACKAGE_VERSION "\",\"name\":", out);
	report_json_str(out, pf->ncommand > 0 ? pf->command[pf->ncommand > 1 ? 1 : 0] : "memprof");
	fputc(',', out);
	report_speedscope_frames(r, index, out);
	fputs(",\"profiles\":[", out);
	for (i = 0; i < pf->nprocs; i++) {
		if (!report_selects(r, pf->procs[i]))
			continue;
		if (!first)
			fputc(',', out);
		first = 0;
		report_speedscope_profile(r, pf->procs[i], index, out);
	}
	fputs("]}\n", out);
	free(index);
	return ferror(out) ? -1 : 0;
}
