/*
 * agent-record.c: the recorder proper: what a sampled allocation, a
 * recorded free, an unmap or an mremap turns into on the ring, and the
 * entry points agent-pymem.c calls (agent.h).
 *
 * The hooks (agent-hooks.c) call in here with the thread's guard held, and
 * only when the countdown ran out inside an allocation or the address set
 * said a freed block may be recorded.  A sampled allocation gets its weight
 * (agent-sampler.c), its stack id (agent-stack.c, which sends the CODE and
 * STACK records it needs first), a place where its free will be looked for
 * (the address set in sampling mode, the mapping registry for mmaps) and
 * then its ALLOC record.  Every entry point saves and restores errno.
 *
 * Ordering (wire.h): an ALLOC is reserved after the real call returned the
 * block, a FREE or UNMAP before the block goes back, so that the ring's
 * reservation order pairs frees with allocations across address reuse.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* CLOCK_MONOTONIC_COARSE */
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent-core.h"

/* A thread met before the constructor ran looks again after this many bytes. */
#define RECORD_COUNTDOWN_STARTING	((int64_t)1 << 20)

/* Try to find the interpreter at most once a millisecond until it is there. */
#define RECORD_PYTHON_RETRY_NS		1000000ULL

/* record.python_sent: the announcement went out (a bit above every WIRE_PYTHON_* flag). */
#define RECORD_PYTHON_SENT		0x80000000U

static struct {
	int		exit_sent;
	uint32_t	python_hexversion;
	uint32_t	python_sent;	/* RECORD_PYTHON_SENT | flags sent */
	uint64_t	python_tried_ns;
} record;

/* CLOCK_MONOTONIC_COARSE in nanoseconds (vDSO, a few ns). */
static uint64_t
record_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Is the recorder running?  If not, park this thread's countdown so the
 * hooks stop calling in; the controller's detach request is noticed here.
 */
static int
record_running(void)
{
	if (agent_mode_get() == AGENT_MODE_OFF) {
		agent_tls.bytes_left = __atomic_load_n(&agent_started, __ATOMIC_ACQUIRE) ?
		    AGENT_COUNTDOWN_NEVER : RECORD_COUNTDOWN_STARTING;
		return 0;
	}
	if (AGENT_UNLIKELY(agent_ring_controller_state() == WIRE_CTL_DETACH)) {
		agent_core_stop(WIRE_STATE_DETACHED);
		agent_tls.bytes_left = AGENT_COUNTDOWN_NEVER;
		return 0;
	}
	return 1;
}

/*
 * Find the interpreter (rate-limited until it appears), let agent-pymem.c
 * install its hooks, and announce the interpreter once if pymem has not.
 */
static void
record_python_poll(void)
{
	uint32_t	hv = __atomic_load_n(&record.python_hexversion, __ATOMIC_RELAXED);
	uint64_t	now, tried;

	if (hv == 0) {
		now = record_now();
		tried = __atomic_load_n(&record.python_tried_ns, __ATOMIC_RELAXED);
		if (tried != 0 && now - tried < RECORD_PYTHON_RETRY_NS)
			return;
		__atomic_store_n(&record.python_tried_ns, now, __ATOMIC_RELAXED);
		hv = agent_python_detect();
		if (hv == 0)
			return;
		__atomic_store_n(&record.python_hexversion, hv, __ATOMIC_RELAXED);
	}
	agent_pymem_poll();
	if (!(__atomic_load_n(&record.python_sent, __ATOMIC_RELAXED) & RECORD_PYTHON_SENT))
		agent_record_python(hv, agent_python_is_static() ? WIRE_PYTHON_STATIC : 0);
}

/* The young slot of an address (the multiply spreads 16-byte-aligned addresses). */
static inline struct agent_young *
record_young_slot(struct agent_thread *th, uintptr_t addr)
{
	return &th->young[((uint64_t)addr * 0x9e3779b97f4a7c15ULL) >>
	    (64 - __builtin_ctz(AGENT_YOUNG_SLOTS))];
}

/* Remember a small block of this thread whose ALLOC_EXACT is at pos (wire.h, Cancelling). */
static inline void
record_young_add(struct agent_thread *th, uintptr_t addr, uint64_t pos)
{
	struct agent_young	*y;

	if (AGENT_UNLIKELY(th->young_ring != agent_ring.serial)) {
		memset(th->young, 0, sizeof th->young);
		th->young_ring = agent_ring.serial;
	}
	y = record_young_slot(th, addr);
	y->addr = addr;
	y->pos = pos;
}

/*
 * Exact mode, before addr goes back to its allocator: if this thread wrote
 * addr's ALLOC_EXACT and the controller has not claimed it, turn it into
 * ALLOC_EXACT_FREED; 1 if so, and then no FREE must be sent (wire.h,
 * Cancelling).  The block cannot have changed hands since its ALLOC: every
 * record since then is this thread's (the ring's write position is where
 * this thread's last reservation ended, and its reservations since the
 * ALLOC followed each other), and another thread's free or allocation of
 * the address would have been a record.
 */
static int
record_cancel(uintptr_t addr)
{
	struct agent_thread	*th = agent_tls.thread;
	struct wire_ring	*hdr = agent_ring.hdr;
	struct agent_young	*y;
	uint64_t		 pos, expect, want;
	uint16_t		 lap;

	if (th == NULL || th->young_ring != agent_ring.serial || hdr == NULL)
		return 0;
	y = record_young_slot(th, addr);
	if (y->addr != addr)
		return 0;
	y->addr = 0;
	pos = y->pos;
	if (pos < agent_tls.run_start ||
	    __atomic_load_n(&hdr->write_pos, __ATOMIC_RELAXED) != agent_tls.ring_end ||
	    __atomic_load_n(&hdr->claim_pos, __ATOMIC_RELAXED) > pos)
		return 0;
	lap = WIRE_LAP(pos, agent_ring.size_log2);
	expect = WIRE_REC_WORD(sizeof (struct wire_rec) + sizeof (struct wire_alloc_exact),
	    WIRE_REC_ALLOC_EXACT, lap);
	want = WIRE_REC_WORD(sizeof (struct wire_rec) + sizeof (struct wire_alloc_exact),
	    WIRE_REC_ALLOC_EXACT_FREED, lap);
	/* Sequentially consistent: the claim is loaded after the swap is visible. */
	if (!__atomic_compare_exchange_n((uint64_t *)(void *)(agent_ring.data +
	    (pos & agent_ring.mask)), &expect, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		return 0;
	return __atomic_load_n(&hdr->claim_pos, __ATOMIC_SEQ_CST) <= pos;
}

/* Exact mode's FREE: none if the ALLOC could be cancelled. */
static inline void
record_free_exact(uintptr_t addr, enum wire_allocator allocator)
{
	if (!record_cancel(addr))
		agent_record_free_now(addr, allocator);
}

/*
 * Write a WIRE_REC_ALLOC record, or the compact WIRE_REC_ALLOC_EXACT when
 * the weight is the size (every block in exact mode); 0, or -1 if it was
 * dropped.  A small exact block of a thread with a state is remembered as
 * young (record_cancel).
 */
static int
record_emit_alloc(uintptr_t addr, const struct agent_live *live, struct agent_thread *th)
{
	struct wire_rec		*rec;
	struct wire_alloc	*wa;
	struct wire_alloc_exact	*we;
	uint32_t		 len;
	uint64_t		 pos;
	uint16_t		 tid = th != NULL ? (uint16_t)th->tid : 0;

	if (live->weight == live->size) {
		len = sizeof *rec + sizeof *we;
		rec = agent_ring_reserve(len, live->weight);
		if (rec == NULL)
			return -1;
		pos = agent_tls.ring_end - len;
		we = (struct wire_alloc_exact *)(rec + 1);
		we->addr = addr;
		we->size = live->size;
		we->stack = live->stack;
		we->allocator = live->allocator;
		we->tid_hash = tid;
		agent_ring_commit(rec, len, WIRE_REC_ALLOC_EXACT,
		    WIRE_LAP(pos, agent_ring.size_log2));
		if (th != NULL && live->size <= AGENT_YOUNG_SIZE_MAX &&
		    live->allocator != WIRE_ALLOC_MMAP && agent_mode_get() == AGENT_MODE_EXACT)
			record_young_add(th, addr, pos);
		return 0;
	}
	len = sizeof *rec + sizeof *wa;
	rec = agent_ring_reserve(len, live->weight);
	if (rec == NULL)
		return -1;
	wa = (struct wire_alloc *)(rec + 1);
	wa->addr = addr;
	wa->size = live->size;
	wa->weight = live->weight;
	wa->stack = live->stack;
	wa->allocator = live->allocator;
	wa->tid_hash = tid;
	agent_ring_commit(rec, len, WIRE_REC_ALLOC, 0);
	return 0;
}

/* Write a WIRE_REC_UNMAP record. */
static void
record_emit_unmap(uintptr_t addr, uint64_t len)
{
	struct wire_rec		*rec;
	struct wire_unmap	*wu;
	uint32_t		 rlen = sizeof *rec + sizeof *wu;

	rec = agent_ring_reserve(rlen, 0);
	if (rec == NULL)
		return;
	wu = (struct wire_unmap *)(rec + 1);
	wu->addr = addr;
	wu->len = len;
	agent_ring_commit(rec, rlen, WIRE_REC_UNMAP, 0);
}

/*
 * Record a block: register it where its free or unmap will be looked for
 * (the address set in sampling mode, the mapping registry for mmaps), then
 * send it.  A block that cannot be registered is not sent; one that cannot
 * be sent is unregistered.  Either way it counts as dropped.
 */
static void
record_block(uintptr_t addr, const struct agent_live *live, struct agent_thread *th)
{
	struct agent_map	m;
	struct agent_live	gone;

	if (live->allocator == WIRE_ALLOC_MMAP) {
		m.addr = addr;
		m.len = live->size;
		m.weight = live->weight;
		m.stack = live->stack;
		m.pad = 0;
		if (agent_maps_add(&m) == -1) {
			agent_ring_drop(live->weight);
			return;
		}
		if (record_emit_alloc(addr, live, th) == -1)
			agent_maps_remove(addr, live->size);
		return;
	}
	if (agent_mode_get() == AGENT_MODE_SAMPLE) {
		if (agent_addrset_insert(addr, live) == -1) {
			agent_ring_drop(live->weight);
			return;
		}
		if (record_emit_alloc(addr, live, th) == -1)
			agent_addrset_remove(addr, &gone);
		return;
	}
	record_emit_alloc(addr, live, th);
}

/*
 * Slow path of every allocation hook: the countdown ran out inside this
 * allocation of size bytes at addr (or every time, in exact mode); caller
 * is the address the hook returns to.  Draw the next sample point, weigh
 * the sample, capture and intern the stack and record the block.  Guard
 * held; errno preserved.
 */
void
agent_record_alloc_slow(void *addr, size_t size, enum wire_allocator allocator,
    uintptr_t caller)
{
	struct agent_thread	*th = agent_tls.thread;
	struct agent_live	 live;
	int			*errnop, saved;

	/* errno through the thread's own pointer: __errno_location is a call. */
	errnop = AGENT_LIKELY(th != NULL) ? th->errnop : &errno;
	saved = *errnop;
	if (!record_running())
		goto out;
	if (AGENT_UNLIKELY(th == NULL))
		th = agent_core_thread_new();
	if (agent_mode_get() == AGENT_MODE_EXACT) {
		agent_tls.bytes_left = 0;
		live.weight = size;
	} else {
		if (th == NULL) {
			agent_tls.bytes_left = AGENT_COUNTDOWN_NEVER;
			goto out;
		}
		if (!th->sampling) {
			/* This thread's first draw: the countdown starts at this allocation. */
			th->sampling = 1;
			agent_tls.bytes_left += agent_sampler_next(th);
			if (agent_tls.bytes_left > 0)
				goto out;
		}
		/* Memoryless: the next point is a fresh draw from the end of this block. */
		agent_tls.bytes_left = agent_sampler_next(th);
		if (size == 0)
			goto out;
		live.weight = agent_sampler_weight(size);
	}
	live.size = size;
	live.allocator = (uint16_t)allocator;
	live.pad = 0;
	record_python_poll();
	live.stack = th != NULL ?
	    agent_stack_capture(th, record.python_hexversion != 0, caller) : 0;
	record_block((uintptr_t)addr, &live, th);
out:
	*errnop = saved;
}

/*
 * Slow path of free: addr may be recorded.  Send its FREE (and forget it)
 * before the caller hands the block back to the allocator, so the FREE is
 * reserved before anyone can be given the same address.  Guard held.
 */
void
agent_record_free_slow(void *addr, enum wire_allocator allocator)
{
	struct agent_live	live;
	int			saved;

	if (agent_mode_get() == AGENT_MODE_EXACT) {
		record_free_exact((uintptr_t)addr, allocator);
		return;
	}
	saved = errno;		/* the set's lock may yield */
	if (agent_mode_get() == AGENT_MODE_SAMPLE &&
	    agent_addrset_remove((uintptr_t)addr, &live))
		agent_record_free_now((uintptr_t)addr, allocator);
	errno = saved;
}

/*
 * Before a realloc of a possibly recorded block: send its FREE now, since a
 * successful realloc may hand the old address to another thread before it
 * returns.  Returns 1 if a FREE went out (*live then says what was freed).
 */
int
agent_record_realloc_begin(void *addr, struct agent_live *live)
{
	int	saved, sent = 0;

	if (agent_mode_get() == AGENT_MODE_EXACT) {
		memset(live, 0, sizeof *live);
		record_free_exact((uintptr_t)addr, WIRE_ALLOC_REALLOC);
		return 1;
	}
	saved = errno;		/* the set's lock may yield */
	if (agent_mode_get() == AGENT_MODE_SAMPLE &&
	    agent_addrset_remove((uintptr_t)addr, live)) {
		agent_record_free_now((uintptr_t)addr, WIRE_ALLOC_REALLOC);
		sent = 1;
	}
	errno = saved;
	return sent;
}

/*
 * The realloc failed after its FREE was sent: the block is still live, so
 * announce it again, with what the set kept (sampling).  Exact mode keeps
 * nothing per block: the usable size stands in for the requested one and
 * the stack is lost; realloc failing is rare enough for that.
 */
void
agent_record_realloc_fail(void *addr, const struct agent_live *live)
{
	struct agent_live	again = *live;
	int			saved = errno;

	if (agent_mode_get() == AGENT_MODE_OFF)
		goto out;
	if (agent_mode_get() == AGENT_MODE_EXACT) {
		again.size = agent_hooks_usable_size(addr);
		again.weight = again.size;
		again.stack = 0;
		again.allocator = WIRE_ALLOC_REALLOC;
	}
	record_block((uintptr_t)addr, &again, agent_tls.thread);
out:
	errno = saved;
}

/*
 * munmap (or a mapping replaced by MAP_FIXED): send an UNMAP if a recorded
 * mapping overlaps.  nested: the guard was already set (see
 * agent_maps_busy); with the registry busy the UNMAP is sent blind, which
 * costs the controller nothing when nothing recorded was there.
 */
void
agent_record_unmap_range(uintptr_t addr, size_t len, int nested)
{
	int	saved = errno;

	if (agent_mode_get() == AGENT_MODE_OFF)
		goto out;
	if (nested && agent_maps_busy())
		record_emit_unmap(addr, len);
	else if (agent_maps_remove(addr, len))
		record_emit_unmap(addr, len);
out:
	errno = saved;
}

/* Record the part of mapping m that a grown or moved mremap added, with m's weight per byte. */
static void
record_remap_add(uintptr_t addr, uint64_t len, const struct agent_map *m)
{
	struct agent_live	live;

	live.size = len;
	live.weight = m->len != 0 ?
	    (uint64_t)((unsigned __int128)m->weight * len / m->len) : len;
	live.stack = m->stack;
	live.allocator = WIRE_ALLOC_MMAP;
	live.pad = 0;
	record_block(addr, &live, agent_tls.thread);
}

/*
 * mremap of a recorded mapping m, in two steps around the call, as realloc
 * does: the old range is unmapped before the call, because as soon as the
 * kernel releases a part of it another thread's mmap may land there and be
 * recorded, and an UNMAP sent after that would take the newcomer's bytes.
 * Then the resulting range is announced again with m's sampling decision,
 * site and weight per byte: the new range if the call succeeded, the old
 * one if it failed.  old_len 0 duplicates a shared mapping and leaves the
 * old one in place.  Lengths are rounded to pages, as the kernel does.
 */
void
agent_record_remap_begin(uintptr_t old, size_t old_len)
{
	uint64_t	mask = agent_page_size - 1;

	if (old_len != 0 && record_running())
		agent_record_unmap_range(old, (old_len + mask) & ~mask, 0);
}

/* The second step: new is the call's result, or 0 if it failed. */
void
agent_record_remap_end(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
    const struct agent_map *m)
{
	uint64_t	mask = agent_page_size - 1;
	int		saved = errno;

	if (!record_running())
		goto out;
	if (new != 0)
		record_remap_add(new, (new_len + mask) & ~mask, m);
	else if (old_len != 0)
		record_remap_add(old, (old_len + mask) & ~mask, m);
out:
	errno = saved;
}

/* An allocation seen by agent-pymem.c: the same sampling as the hooks. */
void
agent_record_alloc(void *addr, size_t size, enum wire_allocator allocator)
{
	if (addr != NULL && agent_sample_due(size))
		agent_record_alloc_slow(addr, size, allocator,
		    (uintptr_t)__builtin_return_address(0));
}

/* A free seen by agent-pymem.c: sent if the block was recorded. */
void
agent_record_free(void *addr, enum wire_allocator allocator)
{
	int	mode = agent_mode_get();

	if (addr == NULL || mode == AGENT_MODE_OFF)
		return;
	if (mode == AGENT_MODE_EXACT)
		record_free_exact((uintptr_t)addr, allocator);
	else if (agent_addrset_probe((uintptr_t)addr))
		agent_record_free_slow(addr, allocator);
}

/* An unmap seen outside the hooks. */
void
agent_record_unmap(void *addr, size_t len)
{
	if (agent_mode_get() != AGENT_MODE_OFF && !agent_maps_empty())
		agent_record_unmap_range((uintptr_t)addr, len, 0);
}

/*
 * This image's peak resident bytes (VmHWM of /proc/self/status: the mm's
 * high-water mark, which exec resets, unlike getrusage's ru_maxrss); 0 if
 * it cannot be read.  Once per image, at its end: no allocation.
 */
static uint64_t
record_peak_rss(void)
{
	char			 buf[4096], *at;
	unsigned long long	 kb;
	ssize_t			 n;
	int			 fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((at = strstr(buf, "\nVmHWM:")) == NULL)
		return 0;
	/* "VmHWM:\t   12345 kB", parsed by hand: nothing here may allocate or lock. */
	for (at += 7; *at == ' ' || *at == '\t'; at++)
		continue;
	for (kb = 0; *at >= '0' && *at <= '9' && kb < (1ULL << 50); at++)
		kb = kb * 10 + (unsigned long long)(*at - '0');
	return (uint64_t)kb * 1024;
}

/*
 * The end of the program's own code: one WIRE_REC_EXIT per image, with its
 * peak resident set so far, which a process shorter than the collector's
 * 100 ms tick would otherwise never report, and the part of it that is the
 * ring itself (wire_ring_resident).
 */
void
agent_record_exit(void)
{
	struct wire_rec	*rec;
	uint64_t	 v[2];
	uint32_t	 len = sizeof *rec + sizeof v;
	int		 saved = errno;

	if (agent_mode_get() == AGENT_MODE_OFF ||
	    __atomic_exchange_n(&record.exit_sent, 1, __ATOMIC_ACQ_REL) != 0)
		goto out;
	v[0] = record_peak_rss();
	v[1] = agent_ring.hdr == NULL ? 0 :
	    wire_ring_resident(agent_ring.hdr, agent_ring.map_len, agent_page_size);
	rec = agent_ring_reserve(len, 0);
	if (rec != NULL) {
		memcpy(rec + 1, v, sizeof v);
		agent_ring_commit(rec, len, WIRE_REC_EXIT, 0);
	}
out:
	errno = saved;
}

/*
 * Announce the interpreter.  Sent once; sent again only if it brings new
 * flags (agent-pymem.c adding WIRE_PYTHON_PYMEM after the recorder's own
 * announcement), so the controller keeps the last one.
 */
void
agent_record_python(uint32_t hexversion, uint32_t flags)
{
	struct wire_rec		*rec;
	struct wire_python	*wp;
	uint32_t		 old, want, len = sizeof *rec + sizeof *wp;
	int			 saved = errno;

	if (agent_mode_get() == AGENT_MODE_OFF || hexversion == 0)
		goto out;
	old = __atomic_load_n(&record.python_sent, __ATOMIC_RELAXED);
	do {
		want = old | flags | RECORD_PYTHON_SENT;
		if (want == old)
			goto out;
	} while (!__atomic_compare_exchange_n(&record.python_sent, &old, want, 1,
	    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	__atomic_store_n(&record.python_hexversion, hexversion, __ATOMIC_RELAXED);

	rec = agent_ring_reserve(len, 0);
	if (rec == NULL)
		goto out;
	wp = (struct wire_python *)(rec + 1);
	wp->hexversion = hexversion;
	wp->flags = want & ~RECORD_PYTHON_SENT;
	agent_ring_commit(rec, len, WIRE_REC_PYTHON, 0);
out:
	errno = saved;
}

/*
 * After fork, in the child, once its own session is up (recording) or not:
 * the new session has had no EXIT yet, and needs the interpreter announced
 * again if the parent's was.
 */
void
agent_record_fork_child(int recording)
{
	uint32_t	sent = record.python_sent;

	record.exit_sent = 0;
	record.python_sent = 0;
	if (recording && (sent & RECORD_PYTHON_SENT))
		agent_record_python(record.python_hexversion, sent & ~RECORD_PYTHON_SENT);
}
