/*
 * agent-sampler.c: Poisson sampling by bytes, and the weight of a sample.
 *
 * Every allocated byte is a sample point with probability 1/T (T =
 * MEMPROF_SAMPLE_EVERY), independently, so sample points form a Poisson
 * process along each thread's stream of allocated bytes.  The distance to
 * the next point is exponential with mean T; a per-thread countdown in TLS
 * (agent_tls.bytes_left) holds it, and an allocation is sampled when the
 * countdown runs out inside it.  The process is memoryless: after a sampled
 * allocation, the next point is a fresh exponential draw from the end of
 * that allocation, so one draw per sample is enough, whatever the number of
 * points the allocation covered.
 *
 * Weight.  An allocation of size Z is sampled with probability
 * p = 1 - exp(-Z/T).  Two unbiased estimators exist: heapprofd's
 * T x (number of points inside the allocation), and the inverse-probability
 * estimator Z/p used by jemalloc and Go.  Both have variance ~ T*Z for
 * Z << T, but for large allocations heapprofd's stays T*Z (a 4T block is
 * reported with a 50% standard error) while Z/p tends to Z with a variance
 * Z^2 (1-p)/p that vanishes (14% at 4T, 0.2% at 10T); and big blocks are
 * what memory is made of.  Z/p also reports the true size of every sampled
 * block.  It costs one expm1() per sample, which is noise next to a stack
 * walk.  So memprof uses Z/p, computed here once per sample and stored with
 * the allocation, and the controller subtracts the same weight on free
 * ("unbias, then sum").
 *
 * The random source is a per-thread xorshift64* generator seeded from the
 * thread id, the clock and the state's address, and reseeded when a state
 * changes hands (new thread, fork child), so processes and threads never
 * share a sample stream.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* expm1 and clock_gettime under any -std */
#endif

#include <math.h>
#include <time.h>

#include "agent-core.h"

/* Bound on a draw: 2^62 bytes keeps the int64 countdown far from overflow. */
#define SAMPLER_DRAW_MAX	((int64_t)1 << 62)

/* Seed a thread state's generator (never 0, which xorshift cannot leave). */
void
agent_sampler_seed(struct agent_thread *th)
{
	struct timespec	ts;
	uint64_t	x;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = agent_mix((uint64_t)(uint32_t)th->tid ^
	    ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
	    (uint64_t)(uintptr_t)th);
	th->rng = x != 0 ? x : 0x2545f4914f6cdd1dULL;
}

/* The next 64 random bits of a thread (xorshift64*, Vigna 2016). */
static uint64_t
sampler_random(struct agent_thread *th)
{
	uint64_t	x = th->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	th->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Draw the distance in bytes to the next sample point: exponential, mean T, at least 1. */
int64_t
agent_sampler_next(struct agent_thread *th)
{
	double	u, d;

	/* u in (0, 1], from the top 53 bits, so log(u) is finite. */
	u = (double)((sampler_random(th) >> 11) + 1) * 0x1p-53;
	d = -log(u) * (double)agent_config.sample_every;
	if (d < 1.0)
		return 1;
	if (d >= (double)SAMPLER_DRAW_MAX)
		return SAMPLER_DRAW_MAX;
	return (int64_t)d;
}

/* The unbiased weight of a sampled allocation of size bytes: size / (1 - exp(-size/T)). */
uint64_t
agent_sampler_weight(uint64_t size)
{
	double	p;

	if (size == 0)
		return 0;
	/* expm1 keeps precision when size << T, where 1 - exp() would cancel. */
	p = -expm1(-(double)size / (double)agent_config.sample_every);
	if (!(p > 0.0))
		return size;
	return (uint64_t)((double)size / p + 0.5);
}
