/*
 * stats.h: `memprof stats` output (stats-format.c), shared by cmd-stats.c
 * and its tests.  Rows come from the monitor (monitor.h).
 */

#ifndef STATS_H
#define STATS_H

#include <stdint.h>
#include <stdio.h>

#include "monitor.h"

#define STATS_NCOLS	8
#define STATS_CELL	160	/* a name or cgroup path longer than this is cut */

void	stats_format_binary(uint64_t, char *, size_t);
void	stats_format_decimal(uint64_t, char *, size_t);
void	stats_print_table(FILE *, const struct monitor_snapshot *, const int *, int,
	    const char *);
void	stats_print_json_row(FILE *, const struct monitor_row *);

#endif /* STATS_H */
