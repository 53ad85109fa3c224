/*
 * capture-pack.c: the packed form of allocation events in a capture.
 *
 * In --exact mode a capture holds an ALLOC and a FREE (or one ALLOC_FREED)
 * for every block the program ever had, tens of millions a second; as
 * plain records (a 12-byte capture header and a 32- or 16-byte wire
 * payload each) they were most of the bytes the collector copied and
 * compressed, and compression alone was a sixth of its time.  So
 * consecutive ALLOC, FREE and ALLOC_FREED records of one process are
 * written as one CAP_REC_EVENTS record holding a run of packed
 * events: a tag byte, then LEB128 varints, addresses as the zigzag
 * difference from the run's previous address (blocks handed out together
 * are close together):
 *
 *   tag = kind (bits 0-1: 0 ALLOC, 1 FREE, 2 ALLOC_FREED)
 *         | weight-is-size (bit 2, ALLOC and ALLOC_FREED)
 *         | allocator (bits 3-5, enum wire_allocator)
 *   ALLOC:       tag, addr delta, size, [weight unless bit 2], stack, tid_hash
 *   FREE:        tag, addr delta
 *   ALLOC_FREED: tag, size, [weight unless bit 2], stack, tid_hash
 *
 * An ALLOC_FREED (a block freed before the controller read its ALLOC, wire.h)
 * has no address: nothing looks it up, and the next event's delta is from
 * the address before it.
 * The first address of a run is a delta from 0, so every run, hence every
 * chunk, decodes on its own.  An event is 4 to 12 bytes, 3 to 8 times
 * fewer than before (docs/capture-format.md).  Decoding checks every bound
 * and rejects anything the writer cannot produce: a capture is input.
 */

#include <string.h>

#include "memprof.h"
#include "capture.h"

#define PACK_KIND_ALLOC		0
#define PACK_KIND_FREE		1
#define PACK_KIND_ALLOC_FREED	2
#define PACK_KIND_MASK		0x03
#define PACK_WEIGHT_IS_SIZE	0x04
#define PACK_ALLOCATOR_SHIFT	3
#define PACK_ALLOCATOR_MASK	0x07

/* Append v as an unsigned LEB128 varint; returns the bytes written (1 to 10). */
static size_t
pack_varint(unsigned char *out, uint64_t v)
{
	size_t	n = 0;

	while (v >= 0x80) {
		out[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (unsigned char)v;
	return n;
}

/* Read a varint from [*p, end) into *v; -1 if it is cut or longer than 64 bits. */
static int
pack_read_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t	x = 0;
	unsigned int	shift = 0;
	unsigned char	b;

	do {
		if (*p >= end || shift > 63)
			return -1;
		b = *(*p)++;
		if (shift == 63 && (b & 0x7e) != 0)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	*v = x;
	return 0;
}

/* The zigzag code of the difference a - b (small either way -> small). */
static uint64_t
pack_zigzag(uint64_t a, uint64_t b)
{
	int64_t	d = (int64_t)(a - b);

	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

/* Undo pack_zigzag: the address whose difference from prev was coded as z. */
static uint64_t
pack_unzigzag(uint64_t prev, uint64_t z)
{
	return prev + ((z >> 1) ^ (uint64_t)-(int64_t)(z & 1));
}

/* The fields after the address of an ALLOC or ALLOC_FREED, whose tag is out[0]. */
static size_t
pack_alloc_rest(unsigned char *out, size_t n, const struct wire_alloc *a)
{
	n += pack_varint(out + n, a->size);
	if (!(out[0] & PACK_WEIGHT_IS_SIZE))
		n += pack_varint(out + n, a->weight);
	n += pack_varint(out + n, a->stack);
	n += pack_varint(out + n, a->tid_hash);
	return n;
}

/* The tag of an ALLOC or ALLOC_FREED. */
static unsigned char
pack_alloc_tag(unsigned int kind, const struct wire_alloc *a)
{
	return (unsigned char)(kind | (a->weight == a->size ? PACK_WEIGHT_IS_SIZE : 0) |
	    ((a->allocator & PACK_ALLOCATOR_MASK) << PACK_ALLOCATOR_SHIFT));
}

/* Pack an ALLOC after *prev (updated); returns its length, at most CAPTURE_PACK_MAX. */
size_t
capture_pack_alloc(unsigned char *out, uint64_t *prev, const struct wire_alloc *a)
{
	size_t	n = 1;

	out[0] = pack_alloc_tag(PACK_KIND_ALLOC, a);
	n += pack_varint(out + n, pack_zigzag(a->addr, *prev));
	*prev = a->addr;
	return pack_alloc_rest(out, n, a);
}

/* Pack an ALLOC_FREED (no address, *prev unchanged); returns its length. */
size_t
capture_pack_alloc_freed(unsigned char *out, const struct wire_alloc *a)
{
	out[0] = pack_alloc_tag(PACK_KIND_ALLOC_FREED, a);
	return pack_alloc_rest(out, 1, a);
}

/* Pack a FREE after *prev (updated); returns its length. */
size_t
capture_pack_free(unsigned char *out, uint64_t *prev, const struct wire_free *f)
{
	size_t	n = 1;

	out[0] = (unsigned char)(PACK_KIND_FREE |
	    ((f->allocator & PACK_ALLOCATOR_MASK) << PACK_ALLOCATOR_SHIFT));
	n += pack_varint(out + n, pack_zigzag(f->addr, *prev));
	*prev = f->addr;
	return n;
}

/* Decode the ALLOC (with its address) or ALLOC_FREED (address 0) after tag at *p into *a. */
static int
pack_read_alloc(const unsigned char **p, const unsigned char *end, unsigned char tag,
    uint64_t *prev, struct wire_alloc *a)
{
	uint64_t	z = 0, v;
	int		freed = (tag & PACK_KIND_MASK) == PACK_KIND_ALLOC_FREED;

	memset(a, 0, sizeof *a);
	if ((!freed && pack_read_varint(p, end, &z) != 0) ||
	    pack_read_varint(p, end, &a->size) != 0)
		return -1;
	if (tag & PACK_WEIGHT_IS_SIZE)
		a->weight = a->size;
	else if (pack_read_varint(p, end, &a->weight) != 0)
		return -1;
	if (pack_read_varint(p, end, &v) != 0 || v > UINT32_MAX)
		return -1;
	a->stack = (uint32_t)v;
	if (pack_read_varint(p, end, &v) != 0 || v > UINT16_MAX)
		return -1;
	a->tid_hash = (uint16_t)v;
	a->allocator = (tag >> PACK_ALLOCATOR_SHIFT) & PACK_ALLOCATOR_MASK;
	if (!freed) {
		a->addr = pack_unzigzag(*prev, z);
		*prev = a->addr;
	}
	return 0;
}

/*
 * Decode the event at *p (advanced) after *prev (updated): its wire type
 * (WIRE_REC_ALLOC or WIRE_REC_ALLOC_FREED into *a, WIRE_REC_FREE into *f),
 * or -1 if malformed.
 */
int
capture_unpack_next(const unsigned char **p, const unsigned char *end, uint64_t *prev,
    struct wire_alloc *a, struct wire_free *f)
{
	uint64_t	z;
	unsigned char	tag;

	if (*p >= end)
		return -1;
	tag = *(*p)++;
	if ((tag & ~(PACK_KIND_MASK | PACK_WEIGHT_IS_SIZE |
	    (PACK_ALLOCATOR_MASK << PACK_ALLOCATOR_SHIFT))) != 0)
		return -1;
	switch (tag & PACK_KIND_MASK) {
	case PACK_KIND_ALLOC:
		if (pack_read_alloc(p, end, tag, prev, a) != 0)
			return -1;
		return WIRE_REC_ALLOC;
	case PACK_KIND_ALLOC_FREED:
		if (pack_read_alloc(p, end, tag, prev, a) != 0)
			return -1;
		return WIRE_REC_ALLOC_FREED;
	case PACK_KIND_FREE:
		if ((tag & PACK_WEIGHT_IS_SIZE) || pack_read_varint(p, end, &z) != 0)
			return -1;
		memset(f, 0, sizeof *f);
		f->addr = pack_unzigzag(*prev, z);
		f->allocator = (tag >> PACK_ALLOCATOR_SHIFT) & PACK_ALLOCATOR_MASK;
		*prev = f->addr;
		return WIRE_REC_FREE;
	default:
		return -1;
	}
}

/*
 * Apply a run of packed events of process proc to the model, counting them
 * in *records; -1 on anything malformed.
 */
int
capture_unpack_run(struct profile *pf, uint32_t proc, const unsigned char *p, size_t len,
    uint64_t *records)
{
	const unsigned char	*end = p + len;
	struct wire_alloc	 a;
	struct wire_free	 f;
	uint64_t		 prev = 0;
	int			 type;

	while (p < end) {
		type = capture_unpack_next(&p, end, &prev, &a, &f);
		if (type == WIRE_REC_ALLOC || type == WIRE_REC_ALLOC_FREED) {
			if (capture_apply(pf, CAP_REC_WIRE, (uint16_t)type, proc, &a, sizeof a) != 0)
				return -1;
		} else if (type == WIRE_REC_FREE) {
			if (capture_apply(pf, CAP_REC_WIRE, WIRE_REC_FREE, proc, &f, sizeof f) != 0)
				return -1;
		} else
			return -1;
		(*records)++;
	}
	return 0;
}
