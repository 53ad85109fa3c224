/*
 * hmap-table.h: the open-addressing table behind struct hmap (hmap.c) and
 * struct livemap (livemap.c), written once for any slot type whose first
 * member is a uint64_t key (0: empty) and any map type with members slots,
 * mask (capacity - 1, capacity a power of two) and used.
 *
 * Linear probing over keys mixed with hmap_mix, so sequential addresses
 * spread out.  Deletion shifts the following entries of the probe run back
 * instead of leaving tombstones: the live-address index sees millions of
 * inserts and deletes in --exact mode, and tombstones made every miss walk
 * long runs (the collector's top cost, measured).  The table grows past
 * 3/4 full, the load at which linear probing's expected probe count is
 * still small (1/2 was measured slower: the larger table misses the cache
 * more often than the shorter runs save).
 *
 * HMAP_TABLE(prefix, slot_t, map_t) defines, all static:
 *   slot_t *prefix_find(const map_t *, uint64_t key)     the key's slot or NULL
 *   slot_t *prefix_insert(map_t *, uint64_t key, int *existed)
 *       the key's slot after one probe run, made (key set, rest zeroed) if
 *       it was not there; *existed says which.  Valid until the next change.
 *   void    prefix_remove(map_t *, slot_t *)             empty a slot of the map
 */

#ifndef MEMPROF_HMAP_TABLE_H
#define MEMPROF_HMAP_TABLE_H

#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "memprof.h"

#define HMAP_TABLE_MIN	16

#define HMAP_TABLE(prefix, slot_t, map_t)					\
static void								\
prefix##_resize(map_t *m, size_t want)					\
{									\
	slot_t	*old = m->slots;					\
	size_t	 oldcap = old == NULL ? 0 : m->mask + 1, cap = HMAP_TABLE_MIN, i, j; \
									\
	while (cap / 4 * 3 <= want)					\
		cap *= 2;						\
	m->slots = xcalloc(cap, sizeof *m->slots);			\
	m->mask = cap - 1;						\
	for (i = 0; i < oldcap; i++) {					\
		if (old[i].key == 0)					\
			continue;					\
		for (j = hmap_mix(old[i].key) & m->mask; m->slots[j].key != 0; \
		    j = (j + 1) & m->mask)				\
			;						\
		m->slots[j] = old[i];					\
	}								\
	free(old);							\
}									\
									\
static slot_t *								\
prefix##_find(const map_t *m, uint64_t key)				\
{									\
	size_t	i;							\
									\
	if (m->slots == NULL)						\
		return NULL;						\
	for (i = hmap_mix(key) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) { \
		if (m->slots[i].key == key)				\
			return &m->slots[i];				\
	}								\
	return NULL;							\
}									\
									\
static slot_t *								\
prefix##_insert(map_t *m, uint64_t key, int *existed)			\
{									\
	size_t	i;							\
									\
	if (m->slots == NULL || m->used + 1 > (m->mask + 1) / 4 * 3)	\
		prefix##_resize(m, m->used + 1);			\
	for (i = hmap_mix(key) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) { \
		if (m->slots[i].key == key) {				\
			*existed = 1;					\
			return &m->slots[i];				\
		}							\
	}								\
	memset(&m->slots[i], 0, sizeof m->slots[i]);			\
	m->slots[i].key = key;						\
	m->used++;							\
	*existed = 0;							\
	return &m->slots[i];						\
}									\
									\
/* Each later entry of the run that may live in the hole (its home is	\
 * not cyclically in (hole, i]) moves into it. */			\
static void								\
prefix##_remove(map_t *m, slot_t *s)					\
{									\
	size_t	hole = (size_t)(s - m->slots), i, home;			\
									\
	for (i = (hole + 1) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) { \
		home = hmap_mix(m->slots[i].key) & m->mask;		\
		if (((i - home) & m->mask) < ((i - hole) & m->mask))	\
			continue;					\
		m->slots[hole] = m->slots[i];				\
		hole = i;						\
	}								\
	m->slots[hole].key = 0;						\
	m->used--;							\
}

#endif /* MEMPROF_HMAP_TABLE_H */
