/*
 * stats-refresh.c: CPU cost of one monitor refresh.  Creates a monitor
 * (every cgroup with -a, else containers only; MEMPROF_CGROUP_ROOT and
 * friends apply), takes the first sample (the tree walk), then measures
 * the user+system CPU of N refreshes with getrusage, R times, and prints
 * the median per refresh and the number of rows.  Driven by
 * stats-refresh.sh, which builds the cgroups and the comparisons.
 *
 *	stats-refresh [-a] [-n REFRESHES] [-r RUNS]
 */

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* CPU time (user + system) used by this process so far, in microseconds. */
static double
bench_cpu_us(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Order doubles for the median. */
static int
bench_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct monitor_config		 cfg;
	const struct monitor_snapshot	*s = NULL;
	struct monitor			*m;
	char				*cause = NULL;
	double				 t0, t1, walk, *runs;
	int				 ch, n = 20, r = 7, i, j;

	monitor_config_from_env(&cfg);
	while ((ch = getopt(argc, argv, "an:r:")) != -1) {
		switch (ch) {
		case 'a':
			cfg.all = 1;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'r':
			r = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: stats-refresh [-a] [-n REFRESHES] [-r RUNS]\n");
			return 2;
		}
	}
	if (n < 1 || r < 1)
		return 2;
	if ((m = monitor_create(&cfg, &cause)) == NULL)
		fatalx("%s", cause);
	t0 = bench_cpu_us();
	if (monitor_refresh(m, &cause) == NULL)
		fatalx("%s", cause);
	walk = bench_cpu_us() - t0;
	runs = xcalloc((size_t)r, sizeof *runs);
	for (i = 0; i < r; i++) {
		t0 = bench_cpu_us();
		for (j = 0; j < n; j++) {
			if ((s = monitor_refresh(m, &cause)) == NULL)
				fatalx("%s", cause);
		}
		t1 = bench_cpu_us();
		runs[i] = (t1 - t0) / n;
	}
	qsort(runs, (size_t)r, sizeof *runs, bench_cmp);
	printf("rows %zu first_refresh_ms %.2f refresh_ms %.3f min_ms %.3f max_ms %.3f\n",
	    s->nrows, walk / 1000, runs[r / 2] / 1000, runs[0] / 1000, runs[r - 1] / 1000);
	free(runs);
	monitor_free(m);
	return 0;
}
