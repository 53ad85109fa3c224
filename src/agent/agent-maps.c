/*
 * agent-maps.c: the registry of recorded anonymous mappings.
 *
 * Policy: an mmap is an allocation only when it is anonymous (MAP_ANONYMOUS,
 * private or shared) and accessible (prot != PROT_NONE).  File mappings are
 * not heap (shared libraries, mapped data files), and PROT_NONE mappings are
 * address-space reservations (allocators, runtimes) that hold no memory
 * until something commits them with mprotect, which we do not see.
 *
 * The registry remembers which ranges were recorded, with their weight and
 * stack, so that munmap and mremap send something only when they touch a
 * recorded range (an UNMAP for the part removed), and so that the part of a
 * recorded mapping that mremap moves or grows inherits the original sampling
 * decision, its site and its weight per byte (which keeps the estimate
 * unbiased without a new sampling decision).  It is a sorted array of
 * disjoint ranges under one lock: mappings are made with a system call, so
 * a lock and a memmove are noise, and only recorded ones are kept (all
 * anonymous ones in exact mode, bounded by vm.max_map_count).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* the same feature set as the rest of the agent */
#endif

#include <string.h>

#include "agent-core.h"

/* 256 entries (8 KiB) to start with; doubled as needed. */
#define MAPS_MIN_ENTRIES	256

static struct {
	struct agent_map	*v;
	size_t			 n;	/* read without the lock as an emptiness hint */
	size_t			 cap;
	size_t			 bytes;
	int			 lock;
} maps;

/* Make room for at least need entries (under the lock); 0 or -1. */
static int
maps_reserve(size_t need)
{
	struct agent_map	*v;
	size_t			 cap, bytes;

	if (need <= maps.cap)
		return 0;
	cap = maps.cap != 0 ? maps.cap * 2 : MAPS_MIN_ENTRIES;
	while (cap < need)
		cap *= 2;
	bytes = cap * sizeof *v;
	bytes = (bytes + agent_page_size - 1) & ~(agent_page_size - 1);
	v = agent_os_map(bytes);
	if (v == NULL)
		return -1;
	if (maps.n != 0)
		memcpy(v, maps.v, maps.n * sizeof *v);
	/* Only touched under the lock, so the old array can go at once. */
	if (maps.v != NULL)
		agent_os_unmap(maps.v, maps.bytes);
	maps.v = v;
	maps.cap = bytes / sizeof *v;
	maps.bytes = bytes;
	return 0;
}

/* The index of the first entry ending after addr (under the lock). */
static size_t
maps_lower(uintptr_t addr)
{
	size_t	lo = 0, hi = maps.n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (maps.v[mid].addr + maps.v[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The share of weight that keep bytes out of len carry. */
static uint64_t
maps_scale(uint64_t weight, uint64_t keep, uint64_t len)
{
	if (len == 0)
		return 0;
	return (uint64_t)((unsigned __int128)weight * keep / len);
}

/* Set the entry count; also read without the lock, hence atomic. */
static void
maps_set_count(size_t n)
{
	__atomic_store_n(&maps.n, n, __ATOMIC_RELAXED);
}

/*
 * Cut [addr, addr+len) out of the registry (under the lock, with room for
 * one more entry already reserved).  Returns 1 if anything overlapped.
 */
static int
maps_cut(uintptr_t addr, uint64_t len)
{
	struct agent_map	*e;
	uintptr_t		 end = addr + len, eend;
	uint64_t		 left, right;
	size_t			 i;
	int			 hit = 0;

	i = maps_lower(addr);
	while (i < maps.n && maps.v[i].addr < end) {
		e = &maps.v[i];
		eend = e->addr + e->len;
		left = addr > e->addr ? addr - e->addr : 0;
		right = eend > end ? eend - end : 0;
		hit = 1;
		if (left != 0 && right != 0) {
			/* A hole in the middle: split into two entries. */
			memmove(e + 2, e + 1, (maps.n - i - 1) * sizeof *e);
			e[1] = *e;
			e[1].addr = end;
			e[1].len = right;
			e[1].weight = maps_scale(e->weight, right, e->len);
			e->weight = maps_scale(e->weight, left, e->len);
			e->len = left;
			maps_set_count(maps.n + 1);
			return hit;
		}
		if (left != 0) {
			e->weight = maps_scale(e->weight, left, e->len);
			e->len = left;
			i++;
		} else if (right != 0) {
			e->weight = maps_scale(e->weight, right, e->len);
			e->addr = end;
			e->len = right;
			i++;
		} else {
			memmove(e, e + 1, (maps.n - i - 1) * sizeof *e);
			maps_set_count(maps.n - 1);
		}
	}
	return hit;
}

/* Register a recorded mapping; 0, or -1 if there is no memory for it. */
int
agent_maps_add(const struct agent_map *m)
{
	size_t	i;
	int	error = -1;

	agent_lock(&maps.lock);
	if (maps_reserve(maps.n + 2) == -1)
		goto out;
	/* Whatever was there is gone (MAP_FIXED replaced it, or we missed its munmap). */
	maps_cut(m->addr, m->len);
	i = maps_lower(m->addr);
	memmove(&maps.v[i + 1], &maps.v[i], (maps.n - i) * sizeof *maps.v);
	maps.v[i] = *m;
	maps_set_count(maps.n + 1);
	error = 0;
out:
	agent_unlock(&maps.lock);
	return error;
}

/* Forget [addr, addr+len); returns 1 if it overlapped a recorded mapping. */
int
agent_maps_remove(uintptr_t addr, uint64_t len)
{
	int	hit = 0;

	agent_lock(&maps.lock);
	/*
	 * A split needs one more entry.  Without memory for it, leave the
	 * registry alone and say "hit": an UNMAP the controller did not need
	 * is harmless, a missing one is not.
	 */
	if (maps_reserve(maps.n + 1) == 0)
		hit = maps_cut(addr, len);
	else
		hit = 1;
	agent_unlock(&maps.lock);
	return hit;
}

/* Copy the recorded mapping containing addr into *m; 1 if there is one. */
int
agent_maps_find(uintptr_t addr, struct agent_map *m)
{
	size_t	i;
	int	found = 0;

	agent_lock(&maps.lock);
	i = maps_lower(addr);
	if (i < maps.n && maps.v[i].addr <= addr) {
		*m = maps.v[i];
		found = 1;
	}
	agent_unlock(&maps.lock);
	return found;
}

/* The addresses of up to max recorded mappings exactly len bytes long; their count. */
size_t
agent_maps_with_len(uint64_t len, uintptr_t *addrs, size_t max)
{
	size_t	i, n = 0;

	agent_lock(&maps.lock);
	for (i = 0; i < maps.n && n < max; i++) {
		if (maps.v[i].len == len)
			addrs[n++] = maps.v[i].addr;
	}
	agent_unlock(&maps.lock);
	return n;
}

/*
 * 1 if the registry's lock is taken right now.  A call made with the guard
 * already set may come from a signal handler (munmap is async-signal-safe)
 * that interrupted this very thread inside the lock; such a call asks
 * first and, if the lock is busy, leaves the registry alone.  If it is
 * free, it stays free of this thread until the call returns.
 */
int
agent_maps_busy(void)
{
	if (__atomic_exchange_n(&maps.lock, 1, __ATOMIC_ACQUIRE) != 0)
		return 1;
	agent_unlock(&maps.lock);
	return 0;
}

/* A lock-free hint for munmap's fast path: 1 if nothing is registered. */
int
agent_maps_empty(void)
{
	return __atomic_load_n(&maps.n, __ATOMIC_RELAXED) == 0;
}

/* Before fork: hold the lock so the child never inherits it taken. */
void
agent_maps_fork_prepare(void)
{
	agent_lock(&maps.lock);
}

/* After fork, in the parent. */
void
agent_maps_fork_parent(void)
{
	agent_unlock(&maps.lock);
}

/* After fork, in the child: a new session knows none of the parent's mappings. */
void
agent_maps_fork_child(void)
{
	maps.n = 0;
	maps.lock = 0;
}
