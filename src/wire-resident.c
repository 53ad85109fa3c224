/*
 * wire-resident.c: how much of a ring is resident, for the agent and the
 * controller alike (wire.h).  mincore() reports a shared mapping's page
 * cache, the same pages whichever process asks; the vector is on the stack,
 * 4 MiB of ring per call (one call for a sampling ring, four for an exact
 * one, per process and tick), because the agent may not allocate.
 */

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE	/* mincore */
#endif

#include <sys/mman.h>

#include "wire.h"

/* See wire.h.  map is page-aligned (an mmap's start). */
uint64_t
wire_ring_resident(void *map, size_t len, size_t page)
{
	unsigned char	vec[1024];
	uint64_t	resident = 0;
	size_t		off, n, i;

	for (off = 0; page != 0 && off < len; off += n * page) {
		n = (len - off + page - 1) / page;
		if (n > sizeof vec)
			n = sizeof vec;
		if (mincore((char *)map + off, len - off < n * page ? len - off : n * page,
		    vec) != 0)
			return 0;
		for (i = 0; i < n; i++)
			resident += vec[i] & 1;
	}
	return resident * page;
}
