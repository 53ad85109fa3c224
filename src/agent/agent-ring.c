/*
 * agent-ring.c: the producer side of the event ring shared with the
 * controller, exactly as wire.h describes it.
 *
 * The ring lives in a memfd (a header page, then a power-of-two data area)
 * that agent-core.c sends to the controller with the hello.  Any thread is
 * a producer: it reserves room by compare-and-swap on write_pos against the
 * consumer's read_pos, fills its record (type, flags, payload) and publishes
 * it with a release store of the record's len.  A record never wraps: when
 * it would cross the end of the data area, the same reservation also covers
 * the tail, which is published as a WIRE_REC_PAD record.  The common case,
 * a reservation that fits at once, and the commit are inline in
 * agent-core.h (agent_ring_reserve, agent_ring_commit); everything else is
 * here.
 *
 * A full ring never blocks a sampling agent: the record is dropped and
 * counted in the header.  An exact agent waits for the consumer (spinning,
 * then yielding, then sleeping), holding no lock while it waits; after a
 * second without any progress of read_pos it gives up, drops and counts,
 * and keeps dropping without waiting until the consumer moves again.
 *
 * Only the fork child ever unmaps the ring (a single thread then), so a
 * producer never writes into memory that went away under it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, F_ADD_SEALS */
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent-core.h"

/*
 * Give up waiting for a consumer that is still connected but has not moved
 * for this long (exact mode).  --exact promises every record, and a
 * collector slowed by load (or by ASan in CI) was seen stalling for over a
 * second; a collector that has gone away is noticed at once instead
 * (agent_core_peer_gone), so the long wait only ever hits a stopped one.
 */
#define RING_STALL_NS		30000000000ULL

/* Spin this many times, then yield this many more times, then sleep. */
#define RING_SPINS		64
#define RING_YIELDS		64
/* 100 us: long enough to let a consumer on another core drain, short for the target. */
#define RING_SLEEP_NS		100000L

/* The largest record: a quarter of the ring, at most 64 KiB (a CODE record with its line table). */
#define RING_RECORD_MAX		(64U << 10)

/* The ring of this process image (agent-core.h). */
struct agent_ring agent_ring = { .stalled_at = ~0ULL };

/* One producer's waiting state while the ring is full (exact mode). */
struct ring_wait {
	unsigned int	 rounds;
	uint64_t	 last_read;
	uint64_t	 since_ns;
};

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no system call). */
static uint64_t
ring_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Sleep briefly.  A raw system call, because glibc's nanosleep is a
 * cancellation point and malloc must never become one.
 */
static void
ring_sleep(long ns)
{
	struct timespec	ts = { 0, ns };

	syscall(SYS_clock_nanosleep, (long)CLOCK_MONOTONIC, 0L, &ts, NULL);
}

/*
 * Create the ring: a sealed memfd of header plus size data bytes, mapped
 * here.  Returns 0 and the memfd in *fdp (the caller sends it, then closes
 * it), or -1 with errno set.
 */
int
agent_ring_create(uint64_t size, int *fdp)
{
	struct wire_ring	*hdr;
	size_t			 len = WIRE_RING_HEADER_SIZE + size;
	void			*p;
	int			 fd;

	fd = memfd_create("memprof-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -1;
	if (ftruncate(fd, (off_t)len) == -1)
		goto fail;
	/* Sealed so the controller can trust that the size never changes under it. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);

	/* A raw mmap (not through our own hook); syscall() reads longs. */
	p = (void *)syscall(SYS_mmap, 0L, (long)len, (long)(PROT_READ | PROT_WRITE),
	    (long)MAP_SHARED, (long)fd, 0L);
	if (p == MAP_FAILED)
		goto fail;

	hdr = p;
	hdr->magic = WIRE_MAGIC;
	hdr->version = WIRE_VERSION;
	hdr->header_size = WIRE_RING_HEADER_SIZE;
	hdr->data_size = size;
	hdr->agent_state = WIRE_STATE_STARTING;

	agent_ring.hdr = hdr;
	agent_ring.data = (char *)p + WIRE_RING_HEADER_SIZE;
	agent_ring.size = size;
	agent_ring.mask = size - 1;
	agent_ring.map_len = len;
	agent_ring.stalled_at = ~0ULL;
	agent_ring.size_log2 = (unsigned int)__builtin_ctzll(size);
	agent_ring.serial++;
	*fdp = fd;
	return 0;

fail:
	close(fd);
	return -1;
}

/* Forget the ring (fork child, failed start); producers must be gone. */
void
agent_ring_destroy(void)
{
	if (agent_ring.hdr == NULL)
		return;
	syscall(SYS_munmap, agent_ring.hdr, (long)agent_ring.map_len);
	agent_ring.hdr = NULL;
	agent_ring.data = NULL;
}

/* Publish the agent's state in the header (WIRE_STATE_*). */
void
agent_ring_set_state(uint32_t state)
{
	if (agent_ring.hdr != NULL)
		__atomic_store_n(&agent_ring.hdr->agent_state, state, __ATOMIC_RELEASE);
}

/* The largest record this ring accepts (a multiple of 8). */
uint32_t
agent_ring_max_record(void)
{
	uint64_t	max = agent_ring.size / 4;

	return (uint32_t)(max < RING_RECORD_MAX ? max : RING_RECORD_MAX);
}

/* Count a record that could not be written, and the bytes it stood for. */
void
agent_ring_drop(uint64_t weight)
{
	if (agent_ring.hdr == NULL)
		return;
	__atomic_fetch_add(&agent_ring.hdr->dropped_records, 1, __ATOMIC_RELAXED);
	if (weight != 0)
		__atomic_fetch_add(&agent_ring.hdr->dropped_bytes, weight, __ATOMIC_RELAXED);
}

/*
 * Wait a little for the consumer to make room.  Returns 1 to try again, 0
 * to give up and drop.  Called without any lock held; keeps errno (the
 * inline reservation of agent-core.h leaves it alone, so the callers never
 * save it for the ring's sake).
 */
static int
ring_wait(struct ring_wait *w, uint64_t read_pos)
{
	uint64_t	now;
	int		saved = errno, again = 1;

	if (agent_mode_get() != AGENT_MODE_EXACT ||
	    __atomic_load_n(&agent_ring.stalled_at, __ATOMIC_RELAXED) == read_pos ||
	    agent_ring_controller_state() == WIRE_CTL_DETACH)
		return 0;

	if (w->rounds == 0 || read_pos != w->last_read) {
		w->last_read = read_pos;
		w->since_ns = ring_now();
	}
	w->rounds++;
	if (w->rounds < RING_SPINS) {
		AGENT_CPU_RELAX();
		return 1;
	}
	if (w->rounds < RING_SPINS + RING_YIELDS) {
		sched_yield();
		return 1;
	}
	ring_sleep(RING_SLEEP_NS);

	now = ring_now();
	if (now - w->since_ns >= RING_STALL_NS || agent_core_peer_gone()) {
		/* From now on drop at once, until read_pos moves. */
		__atomic_store_n(&agent_ring.stalled_at, read_pos, __ATOMIC_RELAXED);
		again = 0;
	}
	errno = saved;
	return again;
}

/*
 * The slow path of agent_ring_reserve (agent-core.h), the same contract:
 * retries a lost race, pads a tail too short for the record, waits for
 * room (exact mode) or drops and counts.  Keeps errno.
 */
struct wire_rec *
agent_ring_begin(uint32_t len, uint64_t weight)
{
	struct wire_ring	*hdr = agent_ring.hdr;
	struct wire_rec		*pad;
	struct ring_wait	 w = { 0, 0, 0 };
	uint64_t		 rd, wr, off, tail, need;

	if (hdr == NULL)
		return NULL;
	for (;;) {
		/*
		 * read_pos first, with acquire: the consumer zeroes what it
		 * consumed before it advances read_pos, so every byte behind
		 * rd is clean.  Loaded before write_pos, rd can only be older
		 * (smaller) than the truth, which errs on the side of "full".
		 */
		rd = __atomic_load_n(&hdr->read_pos, __ATOMIC_ACQUIRE);
		wr = __atomic_load_n(&hdr->write_pos, __ATOMIC_RELAXED);
		off = wr & agent_ring.mask;
		tail = agent_ring.size - off;
		need = len <= tail ? len : tail + len;
		if (rd <= wr && wr - rd + need <= agent_ring.size) {
			if (__atomic_compare_exchange_n(&hdr->write_pos, &wr,
			    wr + need, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				break;
			continue;
		}
		if (!ring_wait(&w, rd)) {
			agent_ring_drop(weight);
			return NULL;
		}
	}
	if (__atomic_load_n(&agent_ring.stalled_at, __ATOMIC_RELAXED) != ~0ULL)
		__atomic_store_n(&agent_ring.stalled_at, ~0ULL, __ATOMIC_RELAXED);

	agent_ring_mine(wr, wr + need);
	if (need != len) {
		/* The tail is too short: pad it (tail >= 8, records are 8-aligned). */
		pad = (struct wire_rec *)(agent_ring.data + off);
		pad->type = WIRE_REC_PAD;
		pad->flags = 0;
		__atomic_store_n(&pad->len, (uint32_t)tail, __ATOMIC_RELEASE);
		off = 0;
	}
	return (struct wire_rec *)(agent_ring.data + off);
}
