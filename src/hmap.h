/*
 * hmap.h: an open-addressing hash map from 64-bit keys to 64-bit values,
 * the controller's one general-purpose index (live addresses, agent ids,
 * interned frames and stacks by hash).  Key 0 is reserved (an empty
 * slot), so callers never use 0 as a key.
 */

#ifndef MEMPROF_HMAP_H
#define MEMPROF_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t	key;	/* 0: empty */
	uint64_t	value;
};

struct hmap {
	struct hmap_slot	*slots;
	size_t			 mask;		/* capacity - 1, capacity a power of two */
	size_t			 used;		/* live keys */
};

void	 hmap_init(struct hmap *);
void	 hmap_free(struct hmap *);
/* Pointer to the value of key, or NULL. */
uint64_t *hmap_get(const struct hmap *, uint64_t key);
/* Insert or overwrite. */
void	 hmap_put(struct hmap *, uint64_t key, uint64_t value);
/* Remove key; returns 1 if it was there (and its value in *value if not NULL). */
int	 hmap_del(struct hmap *, uint64_t key, uint64_t *value);
/* Insert key -> value; 1 and the value it replaced in *old if key was there. */
int	 hmap_swap(struct hmap *, uint64_t key, uint64_t value, uint64_t *old);
/* Iterate: start with *pos = 0; returns 0 at the end. */
int	 hmap_next(const struct hmap *, size_t *pos, uint64_t *key, uint64_t *value);

/* A good 64-bit mixer (splitmix64's finalizer) and a byte-string hash. */
uint64_t hmap_mix(uint64_t);
uint64_t hmap_hash_bytes(const void *, size_t, uint64_t seed);

#endif /* MEMPROF_HMAP_H */
