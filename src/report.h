/*
 * report.h: what every report format shares: selecting processes, adding
 * stacks up into sites (a site is the innermost Python frame of the
 * allocating stack), totals, sorting by the view, and the small formatters
 * (byte sizes, counts, Python versions).
 */

#ifndef MEMPROF_REPORT_H
#define MEMPROF_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "profile.h"

enum report_view {
	REPORT_VIEW_ALLOCATED,
	REPORT_VIEW_LIVE,
	REPORT_VIEW_PEAK,
	REPORT_VIEW_LEAKS,
};

struct report_site {
	uint32_t	frame;		/* the site's frame id */
	uint64_t	allocated;
	double		allocations;
	int64_t		live_end;	/* live when the recording ended */
	int64_t		at_exit;	/* live when the program's code finished */
	int64_t		at_peak;	/* live at each process's peak */
	uint32_t	top_stack;	/* the stack contributing most under the view */
	int64_t		top_stack_value;
};

struct report_totals {
	uint64_t	allocated;
	double		allocations;
	int64_t		peak;
	int64_t		at_exit;
	int64_t		live_end;
	uint64_t	rss_peak;
	uint64_t	dropped_records;
	uint64_t	dropped_bytes;
	size_t		processes;
};

struct report {
	const struct profile	*pf;
	enum report_view	 view;
	int			 pid;		/* 0: every process */
	struct report_site	*sites;		/* sorted by the view, largest first */
	size_t			 nsites;
	struct report_totals	 totals;
};

/* Build the site table; -1 and a message if pid selects no process. */
int		report_build(struct report *, const struct profile *, int pid,
		    enum report_view, char **cause);
void		report_free(struct report *);
int		report_selects(const struct report *, const struct process *);
int64_t		report_site_value(const struct report *, const struct report_site *);
/* A stack's figure in one process under the report's view. */
int64_t		report_stack_value(const struct report *, const struct process *, uint32_t stack);
/* Write s as a JSON string, quotes included. */
void		report_json_str(FILE *, const char *);
const char	*report_view_name(enum report_view);
int		report_view_parse(const char *, enum report_view *);

/* "1.5 MiB"-style sizes; buf of at least 16 bytes. */
const char	*report_fmt_bytes(char *buf, size_t len, double bytes);
/* A frame's place for humans: "file:line", or "(module)" for a native frame. */
void		 report_text_where(const struct profile *, const struct frame *, char *, size_t);
/* End-of-recording summaries (run, attach): a site line, then the closing lines. */
void		 report_text_summary_site(const struct profile *, uint32_t frame, int64_t, FILE *);
void		 report_text_summary_end(const struct report *, const char *path, int lost, FILE *);
/* "12.3K"-style counts. */
const char	*report_fmt_count(char *buf, size_t len, double n);
/* "0.42 s", "12.3 s", "4m 05s", "2h 03m". */
const char	*report_fmt_duration(char *buf, size_t len, uint64_t ns);
/* "3.11.7" from PY_VERSION_HEX. */
const char	*report_fmt_python(char *buf, size_t len, uint32_t hex);

/* Formats. */
int		report_text(const struct report *, FILE *);
int		report_json(const struct report *, FILE *);
int		report_collapsed(const struct report *, FILE *);
int		report_speedscope(const struct report *, FILE *);

#endif /* MEMPROF_REPORT_H */
