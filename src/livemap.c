/*
 * livemap.c: the live-block index (livemap.h) over hmap-table.h's table.
 * Keys are address + 1, since malloc(0) may return any pointer and 0 is the
 * empty slot.
 */

#include <string.h>

#include "livemap.h"
#include "hmap-table.h"

HMAP_TABLE(livemap_table, struct livemap_slot, struct livemap)

/* Make an empty index. */
void
livemap_init(struct livemap *m)
{
	memset(m, 0, sizeof *m);
}

/* Free the index's table. */
void
livemap_free(struct livemap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

struct live_alloc *
livemap_get(const struct livemap *m, uint64_t addr)
{
	struct livemap_slot	*s = livemap_table_find(m, addr + 1);

	return s == NULL ? NULL : &s->a;
}

struct live_alloc *
livemap_put(struct livemap *m, uint64_t addr, int *existed)
{
	return &livemap_table_insert(m, addr + 1, existed)->a;
}

int
livemap_del(struct livemap *m, uint64_t addr, struct live_alloc *out)
{
	struct livemap_slot	*s = livemap_table_find(m, addr + 1);

	if (s == NULL)
		return 0;
	if (out != NULL)
		*out = s->a;
	livemap_table_remove(m, s);
	return 1;
}
