/*
 * hmap.c: the general 64-bit -> 64-bit map over the table of
 * hmap-table.h (linear probing, backward-shift deletion), and the mixer
 * and byte hash every table here uses.
 */

#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "hmap.h"
#include "hmap-table.h"

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

HMAP_TABLE(hmap_table, struct hmap_slot, struct hmap)

/* Pointer to key's value, or NULL; valid until the next put. */
uint64_t *
hmap_get(const struct hmap *m, uint64_t key)
{
	struct hmap_slot	*s = hmap_table_find(m, key);

	return s == NULL ? NULL : &s->value;
}

/* Insert key or overwrite its value. */
void
hmap_put(struct hmap *m, uint64_t key, uint64_t value)
{
	int	existed;

	hmap_table_insert(m, key, &existed)->value = value;
}

/* Insert or replace with one probe run; 1 and the replaced value in *old if key was there. */
int
hmap_swap(struct hmap *m, uint64_t key, uint64_t value, uint64_t *old)
{
	struct hmap_slot	*s;
	int			 existed;

	s = hmap_table_insert(m, key, &existed);
	if (existed)
		*old = s->value;
	s->value = value;
	return existed;
}

/* Remove key; 1 if it was present. */
int
hmap_del(struct hmap *m, uint64_t key, uint64_t *value)
{
	struct hmap_slot	*s = hmap_table_find(m, key);

	if (s == NULL)
		return 0;
	if (value != NULL)
		*value = s->value;
	hmap_table_remove(m, s);
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
