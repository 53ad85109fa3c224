/*
 * malloc-loop.c: the cost of malloc+free in a tight loop, the agent's hot
 * path (bench/malloc-loop.sh runs it bare and under the agent).
 *
 * Two patterns, small sizes (16-271 bytes, all served by glibc's tcache or
 * fastbins, so the allocator itself is as cheap as it gets and the agent's
 * share shows): "pair" frees each block at once, "batch" allocates 64
 * blocks and frees them in another order.  Prints one line per pattern:
 * the pattern's name and nanoseconds per malloc+free pair, in this
 * thread's CPU time, so that other processes sharing the machine (the
 * consumer included) do not inflate the figure.
 *
 * Usage: malloc-loop [PAIRS]   (default 20000000)
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH	64

/* Keep the compiler from pairing malloc with free and removing both. */
#define KEEP(p)	__asm__ volatile("" : : "r"(p) : "memory")

/* Nanoseconds of this thread's CPU time. */
static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* malloc then free at once, n times; ns per pair. */
static double
loop_pair(long n)
{
	double	t0 = now_ns();
	void	*p;
	long	 i;

	for (i = 0; i < n; i++) {
		p = malloc(16 + (size_t)(i & 255));
		KEEP(p);
		free(p);
	}
	return (now_ns() - t0) / (double)n;
}

/* 64 mallocs, then 64 frees in a scrambled order, n pairs in all; ns per pair. */
static double
loop_batch(long n)
{
	double	 t0 = now_ns();
	void	*v[BATCH];
	long	 i;
	int	 j;

	for (i = 0; i < n; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			v[j] = malloc(16 + (size_t)((i + j * 37) & 255));
			KEEP(v[j]);
		}
		/* 29 is odd, so j*29 mod 64 visits every block once. */
		for (j = 0; j < BATCH; j++)
			free(v[(j * 29) & (BATCH - 1)]);
	}
	return (now_ns() - t0) / (double)n;
}

int
main(int argc, char **argv)
{
	long	n = argc > 1 ? atol(argv[1]) : 20000000L;

	if (n < BATCH)
		n = BATCH;
	/* Warm up: page faults, tcache, the agent's per-thread state. */
	loop_pair(n / 20 + 1);
	printf("pair %.2f\n", loop_pair(n));
	printf("batch %.2f\n", loop_batch(n));
	return 0;
}
