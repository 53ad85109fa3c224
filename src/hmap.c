/*
 * hmap.c: open addressing with linear probing over a power-of-two table.
 * Keys are mixed before probing, so sequential addresses spread out.
 * Deletion shifts the following entries of the probe run back instead of
 * leaving tombstones: the live-address index sees millions of inserts and
 * deletes in --exact mode, and tombstones made every miss walk long runs
 * (the collector's top cost, measured).  The table grows past 3/4 full,
 * the load at which linear probing's expected probe count is still small.
 */

#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "hmap.h"

#define HMAP_MIN	16

/* splitmix64's finalizer: every input bit affects every output bit. */
uint64_t
hmap_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Hash a byte string (FNV-1a folded through the mixer); never returns 0. */
uint64_t
hmap_hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const unsigned char	*s = p;
	uint64_t		 h = 0xcbf29ce484222325ULL ^ seed;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	h = hmap_mix(h);
	return h == 0 ? 1 : h;
}

/* Make an empty map. */
void
hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof *m);
}

/* Free the map's table. */
void
hmap_free(struct hmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

/* Rebuild the table with room for at least want keys. */
static void
hmap_resize(struct hmap *m, size_t want)
{
	struct hmap_slot	*old = m->slots;
	size_t			 oldcap = old == NULL ? 0 : m->mask + 1, cap = HMAP_MIN, i, j;

	while (cap / 4 * 3 <= want)
		cap *= 2;
	m->slots = xcalloc(cap, sizeof *m->slots);
	m->mask = cap - 1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == 0)
			continue;
		for (j = hmap_mix(old[i].key) & m->mask; m->slots[j].key != 0; j = (j + 1) & m->mask)
			;
		m->slots[j] = old[i];
	}
	free(old);
}

/* Return the slot holding key, or NULL. */
static struct hmap_slot *
hmap_find(const struct hmap *m, uint64_t key)
{
	size_t	i;

	if (m->slots == NULL)
		return NULL;
	for (i = hmap_mix(key) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key)
			return &m->slots[i];
	}
	return NULL;
}

/* Pointer to key's value, or NULL; valid until the next put. */
uint64_t *
hmap_get(const struct hmap *m, uint64_t key)
{
	struct hmap_slot	*s = hmap_find(m, key);

	return s == NULL ? NULL : &s->value;
}

/* Insert key or overwrite its value. */
void
hmap_put(struct hmap *m, uint64_t key, uint64_t value)
{
	struct hmap_slot	*s;
	size_t			 i;

	if ((s = hmap_find(m, key)) != NULL) {
		s->value = value;
		return;
	}
	if (m->slots == NULL || m->used + 1 > (m->mask + 1) / 4 * 3)
		hmap_resize(m, m->used + 1);
	for (i = hmap_mix(key) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask)
		;
	s = &m->slots[i];
	s->key = key;
	s->value = value;
	m->used++;
}

/* Insert or replace with one probe run; 1 and the replaced value in *old if key was there. */
int
hmap_swap(struct hmap *m, uint64_t key, uint64_t value, uint64_t *old)
{
	size_t	i;

	if (m->slots == NULL || m->used + 1 > (m->mask + 1) / 4 * 3)
		hmap_resize(m, m->used + 1);
	for (i = hmap_mix(key) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key) {
			*old = m->slots[i].value;
			m->slots[i].value = value;
			return 1;
		}
	}
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->used++;
	return 0;
}

/* The home slot of a key. */
static size_t
hmap_home(const struct hmap *m, uint64_t key)
{
	return hmap_mix(key) & m->mask;
}

/*
 * Remove key; 1 if it was present.  Backward-shift deletion: each later
 * entry of the run that may live in the hole (its home is not strictly
 * between the hole and itself, cyclically) moves into it.
 */
int
hmap_del(struct hmap *m, uint64_t key, uint64_t *value)
{
	struct hmap_slot	*s = hmap_find(m, key);
	size_t			 hole, i, home;

	if (s == NULL)
		return 0;
	if (value != NULL)
		*value = s->value;
	hole = (size_t)(s - m->slots);
	for (i = (hole + 1) & m->mask; m->slots[i].key != 0; i = (i + 1) & m->mask) {
		home = hmap_home(m, m->slots[i].key);
		/* Entry i stays if its home lies cyclically in (hole, i]. */
		if (((i - home) & m->mask) < ((i - hole) & m->mask))
			continue;
		m->slots[hole] = m->slots[i];
		hole = i;
	}
	m->slots[hole].key = 0;
	m->used--;
	return 1;
}

/* Step through the live keys in table order. */
int
hmap_next(const struct hmap *m, size_t *pos, uint64_t *key, uint64_t *value)
{
	size_t	cap = m->slots == NULL ? 0 : m->mask + 1;

	for (; *pos < cap; (*pos)++) {
		if (m->slots[*pos].key != 0) {
			*key = m->slots[*pos].key;
			*value = m->slots[*pos].value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
