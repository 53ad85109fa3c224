/*
 * livemap.h: the controller's index of a process's live blocks, address ->
 * what was recorded of the block, with the record inline in the table's
 * slot (one cache line touched per allocation or free in --exact mode, where
 * the index sees tens of millions of each; an index into a separate pool
 * touched two).  The table is hmap-table.h's.
 */

#ifndef MEMPROF_LIVEMAP_H
#define MEMPROF_LIVEMAP_H

#include <stddef.h>
#include <stdint.h>

/* What a live block's record said. */
struct live_alloc {
	uint64_t	size;
	uint64_t	weight;
	uint32_t	stack;		/* global stack id */
	uint16_t	allocator;
	uint16_t	mapped;		/* 1: an mmap, tracked by range too */
};

struct livemap_slot {
	uint64_t		key;	/* address + 1; 0: empty */
	struct live_alloc	a;
};

struct livemap {
	struct livemap_slot	*slots;
	size_t			 mask;
	size_t			 used;
};

void	livemap_init(struct livemap *);
void	livemap_free(struct livemap *);
/* The block at addr, or NULL; valid until the next change. */
struct live_alloc *livemap_get(const struct livemap *, uint64_t addr);
/*
 * The block at addr, made (zeroed) if there was none; *existed says which,
 * and the caller reads the old block before overwriting it.  Valid until
 * the next change.
 */
struct live_alloc *livemap_put(struct livemap *, uint64_t addr, int *existed);
/* Remove the block at addr; 1 and its record in *out (if not NULL) if it was there. */
int	livemap_del(struct livemap *, uint64_t addr, struct live_alloc *out);

#endif /* MEMPROF_LIVEMAP_H */
