/*
 * agent-addrset.c: the set of the addresses of recorded live allocations,
 * in sampling mode, so that a free of an unrecorded block (nearly all of
 * them) costs one hash probe and sends nothing.
 *
 * The idea is Chromium's LockFreeAddressHashSet: readers (every free) never
 * lock; writers (only sampled allocations and their frees, rare by design)
 * take one small lock.  The table is open addressing with linear probing
 * over a power-of-two array of keys (0 = empty), with the values (what a
 * failed realloc needs to announce the block again) in a parallel array so
 * that probes touch only keys.
 *
 * Removal does not leave tombstones, which would lengthen every miss until
 * the table is rebuilt: it shifts the following entries of the cluster back
 * (Knuth's algorithm R).  A reader racing with a shift could miss a key that
 * moved behind it, so removals run under a seqlock; a reader that missed
 * while seq was odd or changed answers "maybe", and the caller confirms
 * under the lock.  A key being looked up is never itself moved away by its
 * own removal meanwhile: every operation on one address is ordered by the
 * program (the allocator hands it out once until it is freed).
 *
 * Growth replaces the table and leaks the old one, never unmapped, because a
 * reader may still be probing it; an old table is frozen, and a stale
 * reader's answers are only hints confirmed under the lock.  Tables double,
 * so the leak is bounded by the size of the current table.  The table keeps
 * its load at most 1/2 so that every probe meets an empty slot.
 *
 * In front of the table sits a bit filter (agent-core.h): a static 4 KiB
 * bitmap indexed by the same hash's top bits, so that the common free, of
 * an unrecorded block, costs one load that stays in cache.  Writers keep a
 * count of the addresses present per bit (never read by the free path); a
 * bit is set before its first address enters the table and cleared when
 * its last one leaves, so a reader never sees a present key's bit clear,
 * and a recorded block's address, once freed and reused by the allocator
 * (pymalloc's free lists hand the same blocks out again and again), stops
 * sending its frees to the table.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* the same feature set as the rest of the agent */
#endif

#include <string.h>

#include "agent-core.h"

/* 1024 slots: at the default 512 KiB, 512 live samples, i.e. ~256 MiB live, before growing. */
#define ADDRSET_MIN_SLOTS	1024ULL
/* 64 Mi slots (2 GiB of table) is past any sane live set; beyond, samples are dropped. */
#define ADDRSET_MAX_SLOTS	(1ULL << 26)

#define ADDRSET_FILTER_WORDS	((1U << AGENT_FILTER_LOG2) / 64)

struct agent_addrset	*agent_addrset_table;
uint64_t		 agent_addrset_filter[ADDRSET_FILTER_WORDS];
static int		 addrset_lock;
/* Addresses present per filter bit, under the lock; 32 bits as the set holds at most 2^26. */
static uint32_t		 addrset_filter_count[1U << AGENT_FILTER_LOG2];

/* Allocate an empty table of slots entries (a power of two), or NULL. */
static struct agent_addrset *
addrset_alloc(uint64_t slots)
{
	struct agent_addrset	*t;
	size_t			 bytes;
	unsigned int		 log2;

	/* Keys start on their own cache line, after the header. */
	bytes = 64 + slots * sizeof (uintptr_t) + slots * sizeof (struct agent_live);
	bytes = (bytes + agent_page_size - 1) & ~(agent_page_size - 1);
	t = agent_os_map(bytes);
	if (t == NULL)
		return NULL;
	log2 = (unsigned int)__builtin_ctzll(slots);
	t->shift = 64 - log2;
	t->mask = slots - 1;
	t->bytes = bytes;
	t->keys = (uintptr_t *)((char *)t + 64);
	t->vals = (struct agent_live *)(t->keys + slots);
	return t;
}

/* The home slot of addr in t. */
static uint64_t
addrset_home(const struct agent_addrset *t, uintptr_t addr)
{
	return (addr * AGENT_ADDRSET_MUL) >> t->shift;
}

/* The filter bit of addr. */
static uint64_t
addrset_filter_bit(uintptr_t addr)
{
	return (addr * AGENT_ADDRSET_MUL) >> (64 - AGENT_FILTER_LOG2);
}

/* Count addr in the filter, setting its bit for the first one (under the lock). */
static void
addrset_filter_add(uintptr_t addr)
{
	uint64_t	h = addrset_filter_bit(addr);

	if (addrset_filter_count[h]++ == 0)
		__atomic_or_fetch(&agent_addrset_filter[h >> 6], 1ULL << (h & 63),
		    __ATOMIC_RELEASE);
}

/* Uncount addr, clearing its bit with the last one (under the lock). */
static void
addrset_filter_del(uintptr_t addr)
{
	uint64_t	h = addrset_filter_bit(addr);

	if (--addrset_filter_count[h] == 0)
		__atomic_and_fetch(&agent_addrset_filter[h >> 6], ~(1ULL << (h & 63)),
		    __ATOMIC_RELAXED);
}

/* The slot holding addr, or ~0 (under the lock). */
static uint64_t
addrset_find(const struct agent_addrset *t, uintptr_t addr)
{
	uint64_t	i = addrset_home(t, addr);

	for (;;) {
		if (t->keys[i] == addr)
			return i;
		if (t->keys[i] == 0)
			return ~0ULL;
		i = (i + 1) & t->mask;
	}
}

/* Store addr into its first free slot; the value first, so a reader never sees half an entry. */
static void
addrset_put(struct agent_addrset *t, uintptr_t addr, const struct agent_live *live)
{
	uint64_t	i = addrset_home(t, addr);

	while (t->keys[i] != 0)
		i = (i + 1) & t->mask;
	t->vals[i] = *live;
	__atomic_store_n(&t->keys[i], addr, __ATOMIC_RELEASE);
	t->live++;
}

/* Create the first table; 0, or -1 if there is no memory. */
int
agent_addrset_create(void)
{
	struct agent_addrset	*t;

	if (agent_addrset_table != NULL)
		return 0;
	t = addrset_alloc(ADDRSET_MIN_SLOTS);
	if (t == NULL)
		return -1;
	__atomic_store_n(&agent_addrset_table, t, __ATOMIC_RELEASE);
	return 0;
}

/* Replace t by a table twice as big holding the same entries; NULL if impossible. */
static struct agent_addrset *
addrset_grow(struct agent_addrset *t)
{
	struct agent_addrset	*n;
	uint64_t		 i;

	if (t->mask + 1 >= ADDRSET_MAX_SLOTS)
		return NULL;
	n = addrset_alloc((t->mask + 1) * 2);
	if (n == NULL)
		return NULL;
	for (i = 0; i <= t->mask; i++) {
		if (t->keys[i] != 0)
			addrset_put(n, t->keys[i], &t->vals[i]);
	}
	/* The old table stays mapped for readers that loaded its pointer. */
	__atomic_store_n(&agent_addrset_table, n, __ATOMIC_RELEASE);
	return n;
}

/*
 * Add a recorded block.  Returns 0, or -1 if the set cannot hold it (the
 * caller then does not record the block).  An address already present is a
 * block whose free we never saw (freed by a path we do not hook): its entry
 * is replaced.
 */
int
agent_addrset_insert(uintptr_t addr, const struct agent_live *live)
{
	struct agent_addrset	*t;
	uint64_t		 i;
	int			 error = 0;

	agent_lock(&addrset_lock);
	t = agent_addrset_table;
	if (t == NULL) {
		error = -1;
		goto out;
	}
	i = addrset_find(t, addr);
	if (i != ~0ULL) {
		t->vals[i] = *live;
		goto out;
	}
	/* Keep the load at most 1/2: probes stay short and always end on an empty slot. */
	if ((t->live + 1) * 2 > t->mask + 1) {
		t = addrset_grow(t);
		if (t == NULL) {
			error = -1;
			goto out;
		}
	}
	/* The bit before the key: a reader that finds the key never finds the bit clear. */
	addrset_filter_add(addr);
	addrset_put(t, addr, live);
out:
	agent_unlock(&addrset_lock);
	return error;
}

/*
 * Remove addr; returns 1 and its value in *live if it was there, else 0.
 * The entries after it in its cluster shift back, under the seqlock.
 */
int
agent_addrset_remove(uintptr_t addr, struct agent_live *live)
{
	struct agent_addrset	*t;
	uint64_t		 i, j, h, seq;
	uintptr_t		 k;
	int			 found = 0;

	agent_lock(&addrset_lock);
	t = agent_addrset_table;
	if (t == NULL)
		goto out;
	i = addrset_find(t, addr);
	if (i == ~0ULL)
		goto out;
	found = 1;
	*live = t->vals[i];

	seq = t->seq;
	__atomic_store_n(&t->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		k = t->keys[j];
		if (k == 0)
			break;
		h = addrset_home(t, k);
		/* k may fill the hole at i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		t->vals[i] = t->vals[j];
		__atomic_store_n(&t->keys[i], k, __ATOMIC_RELAXED);
		i = j;
	}
	__atomic_store_n(&t->keys[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->seq, seq + 2, __ATOMIC_RELEASE);
	t->live--;
	addrset_filter_del(addr);
out:
	agent_unlock(&addrset_lock);
	return found;
}

/* Before fork: hold the lock so the child never inherits it taken. */
void
agent_addrset_fork_prepare(void)
{
	agent_lock(&addrset_lock);
}

/* After fork, in the parent. */
void
agent_addrset_fork_parent(void)
{
	agent_unlock(&addrset_lock);
}

/*
 * After fork, in the child: its session starts empty (the controller knows
 * none of the parent's blocks), and it is the only thread, so the table is
 * cleared in place.
 */
void
agent_addrset_fork_child(void)
{
	struct agent_addrset	*t = agent_addrset_table;

	addrset_lock = 0;
	memset(agent_addrset_filter, 0, sizeof agent_addrset_filter);
	memset(addrset_filter_count, 0, sizeof addrset_filter_count);
	if (t == NULL)
		return;
	memset(t->keys, 0, (t->mask + 1) * sizeof *t->keys);
	t->live = 0;
	t->seq = 0;
}
