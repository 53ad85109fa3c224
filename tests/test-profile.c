/*
 * test-profile.c: unit tests for the model (profile.c) and the hash map it
 * is built on: allocation and free accounting, the O(1) peak bookkeeping
 * against a brute-force recomputation, live at exit, unmaps, address reuse,
 * and malformed records.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memprof.h"
#include "hmap.h"
#include "profile.h"

/* A process image as a hello would start it. */
static struct process *
new_process(struct profile *pf, uint32_t serial, int pid)
{
	struct wire_hello	h;

	memset(&h, 0, sizeof h);
	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION;
	h.pid = pid;
	h.ppid = 1;
	strcpy(h.exe, "/usr/bin/python3");
	return profile_add_process(pf, serial, &h);
}

/* Send a code object and a one-frame stack using it; returns the agent stack id. */
static uint32_t
send_stack(struct profile *pf, struct process *p, uint32_t id, const char *file, const char *fn)
{
	unsigned char		 buf[512];
	struct wire_code	 c;
	struct wire_stack	 s;
	uint64_t		 frame = WIRE_FRAME_PY(id, 0);
	/* A 3.11+ location table: one "no column" entry, line delta 0, 1 code unit. */
	unsigned char		 table[] = { 0x80 | (13 << 3) | 0, 0 };

	memset(&c, 0, sizeof c);
	c.id = id;
	c.firstlineno = 10 + (int32_t)id;
	c.filename_len = (uint16_t)strlen(file);
	c.name_len = (uint16_t)strlen(fn);
	c.table_len = sizeof table;
	c.table_format = WIRE_LINES_LOCATIONS;
	memcpy(buf, &c, sizeof c);
	memcpy(buf + sizeof c, file, c.filename_len);
	memcpy(buf + sizeof c + c.filename_len, fn, c.name_len);
	memcpy(buf + sizeof c + c.filename_len + c.name_len, table, sizeof table);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_CODE, buf,
	    sizeof c + c.filename_len + c.name_len + sizeof table), 0);

	memset(&s, 0, sizeof s);
	s.id = id;
	s.nframes = 1;
	memcpy(buf, &s, sizeof s);
	memcpy(buf + sizeof s, &frame, sizeof frame);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_STACK, buf, sizeof s + sizeof frame), 0);
	return id;
}

/* An exact ALLOC, or an ALLOC_FREED (freed before the controller read it, wire.h). */
static void
send_alloc(struct profile *pf, struct process *p, uint16_t type, uint64_t addr, uint64_t size,
    uint32_t stack)
{
	struct wire_alloc	a;

	memset(&a, 0, sizeof a);
	a.addr = addr;
	a.size = size;
	a.weight = size;
	a.stack = stack;
	a.allocator = WIRE_ALLOC_MALLOC;
	assert_int_equal(profile_apply_wire(pf, p, type, &a, sizeof a), 0);
}

static void
alloc(struct profile *pf, struct process *p, uint64_t addr, uint64_t size, uint32_t stack)
{
	send_alloc(pf, p, WIRE_REC_ALLOC, addr, size, stack);
}

static void
alloc_freed(struct profile *pf, struct process *p, uint64_t size, uint32_t stack)
{
	send_alloc(pf, p, WIRE_REC_ALLOC_FREED, 0, size, stack);
}

static void
release(struct profile *pf, struct process *p, uint64_t addr)
{
	struct wire_free	f;

	memset(&f, 0, sizeof f);
	f.addr = addr;
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_FREE, &f, sizeof f), 0);
}

/* The global stack id the process maps an agent stack id to. */
static uint32_t
gid(struct process *p, uint32_t agent_id)
{
	uint32_t	g = UINT32_MAX;

	assert_true(profile_stack_lookup(p, agent_id, &g));
	return g;
}

static void
test_hmap(void **state)
{
	struct hmap	m;
	uint64_t	i, v, k, *pv;
	size_t		pos = 0, seen = 0;

	hmap_init(&m);
	for (i = 1; i <= 10000; i++)
		hmap_put(&m, i * 16, i);
	assert_int_equal(m.used, 10000);
	for (i = 1; i <= 10000; i += 2)
		assert_int_equal(hmap_del(&m, i * 16, &v), 1);
	assert_int_equal(hmap_del(&m, 16, NULL), 0);
	for (i = 1; i <= 10000; i++) {
		pv = hmap_get(&m, i * 16);
		if (i % 2)
			assert_null(pv);
		else
			assert_int_equal(*pv, i);
	}
	while (hmap_next(&m, &pos, &k, &v)) {
		assert_int_equal(k, v * 16);
		seen++;
	}
	assert_int_equal(seen, 5000);
	hmap_free(&m);
}

/* Random puts and deletes against a plain array: backward-shift deletion keeps every key findable. */
static void
test_hmap_random_against_shadow(void **state)
{
	enum { KEYS = 2000, OPS = 200000 };
	static uint64_t	shadow[KEYS];	/* 0: absent, else value */
	struct hmap	m;
	unsigned	seed = 7;
	uint64_t	k, v, *pv;
	int		i;

	hmap_init(&m);
	memset(shadow, 0, sizeof shadow);
	for (i = 0; i < OPS; i++) {
		seed = seed * 1103515245 + 12345;
		k = (seed >> 8) % KEYS;
		if ((seed >> 4) % 3 == 0) {
			assert_int_equal(hmap_del(&m, (k + 1) * 8, &v), shadow[k] != 0);
			if (shadow[k] != 0)
				assert_int_equal(v, shadow[k]);
			shadow[k] = 0;
		} else {
			shadow[k] = (uint64_t)i + 1;
			hmap_put(&m, (k + 1) * 8, shadow[k]);
		}
		if (i % 997 == 0) {
			size_t	n = 0, j;

			for (j = 0; j < KEYS; j++) {
				pv = hmap_get(&m, (j + 1) * 8);
				if (shadow[j] == 0)
					assert_null(pv);
				else {
					assert_non_null(pv);
					assert_int_equal(*pv, shadow[j]);
					n++;
				}
			}
			assert_int_equal(m.used, n);
		}
	}
	hmap_free(&m);
}

static void
test_strings_interned(void **state)
{
	struct profile	*pf = profile_create();
	uint32_t	 a = profile_intern_string(pf, "main.py", 7);
	uint32_t	 b = profile_intern_string(pf, "main.pyx", 7);
	uint32_t	 c = profile_intern_string(pf, "other.py", 8);

	assert_int_equal(a, b);
	assert_int_not_equal(a, c);
	assert_string_equal(profile_string(pf, c), "other.py");
	profile_free(pf);
}

static void
test_alloc_free_and_sites(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	uint32_t	 s1 = send_stack(pf, p, 1, "/app/a.py", "f");
	uint32_t	 s2 = send_stack(pf, p, 2, "/app/b.py", "g");
	const struct frame *f;

	alloc(pf, p, 0x1000, 100, s1);
	alloc(pf, p, 0x2000, 50, s2);
	release(pf, p, 0x1000);
	alloc(pf, p, 0x3000, 30, s1);
	release(pf, p, 0x9999);		/* never recorded: ignored */
	assert_int_equal(p->allocated, 180);
	assert_int_equal(p->live_total, 80);
	assert_int_equal(p->peak, 150);
	assert_int_equal(p->stats[gid(p, s1)].alloc_bytes, 130);
	assert_int_equal(p->stats[gid(p, s1)].live_bytes, 30);
	assert_int_equal(p->unmatched_frees, 1);
	f = &pf->frames[pf->stacks[gid(p, s2)].site];
	assert_string_equal(profile_string(pf, f->file), "/app/b.py");
	assert_string_equal(profile_string(pf, f->function), "g");
	assert_int_equal(f->line, 12);	/* firstlineno 12, line delta 0 */
	profile_free(pf);
}

/*
 * Recompute each stack's bytes at the peak, and what it allocated, by brute
 * force and compare with the model; a quarter of the events are blocks freed
 * before they were read, live for an instant.
 */
static void
test_peak_matches_brute_force(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	uint32_t	 ids[4], i, j, o;
	int64_t		 live[4] = { 0 }, best[4] = { 0 }, total = 0, peak = 0;
	uint64_t	 addrs[64] = { 0 }, sizes[64] = { 0 }, allocated[4] = { 0 }, sz;
	uint32_t	 owner[64];
	unsigned	 seed = 12345;

	for (i = 0; i < 4; i++)
		ids[i] = send_stack(pf, p, i + 1, "/app/x.py", "fn");
	for (j = 0; j < 5000; j++) {
		seed = seed * 1103515245 + 12345;
		i = (seed >> 8) % 64;
		if ((seed >> 28) % 4 == 0) {
			sz = 1 + (seed >> 12) % 3000;
			o = (seed >> 4) % 4;
			alloc_freed(pf, p, sz, ids[o]);
			allocated[o] += sz;
			if (total + (int64_t)sz > peak) {
				peak = total + (int64_t)sz;
				memcpy(best, live, sizeof best);
				best[o] += (int64_t)sz;
			}
			continue;
		}
		if (addrs[i] == 0) {
			addrs[i] = 0x10000 + i * 0x100;
			sizes[i] = 1 + (seed >> 16) % 1000;
			owner[i] = (seed >> 4) % 4;
			alloc(pf, p, addrs[i], sizes[i], ids[owner[i]]);
			allocated[owner[i]] += sizes[i];
			live[owner[i]] += (int64_t)sizes[i];
			total += (int64_t)sizes[i];
		} else {
			release(pf, p, addrs[i]);
			live[owner[i]] -= (int64_t)sizes[i];
			total -= (int64_t)sizes[i];
			addrs[i] = 0;
		}
		if (total > peak) {
			peak = total;
			memcpy(best, live, sizeof best);
		}
	}
	assert_int_equal(p->peak, peak);
	assert_int_equal(p->live_total, total);
	for (i = 0; i < 4; i++) {
		assert_int_equal(profile_stack_at_peak(p, gid(p, ids[i])), best[i]);
		assert_int_equal(p->stats[gid(p, ids[i])].alloc_bytes, allocated[i]);
		assert_int_equal(p->stats[gid(p, ids[i])].live_bytes, live[i]);
	}
	profile_free(pf);
}

static void
test_exit_snapshot(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	uint32_t	 s = send_stack(pf, p, 1, "/app/a.py", "f");

	alloc(pf, p, 0x1000, 100, s);
	alloc(pf, p, 0x2000, 40, s);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_EXIT, NULL, 0), 0);
	release(pf, p, 0x1000);		/* interpreter teardown frees after the mark */
	profile_apply_end(pf, p, 0, 0, 0);
	assert_int_equal(p->at_exit_total, 140);
	assert_int_equal(p->stats[gid(p, s)].at_exit, 140);
	assert_int_equal(p->live_total, 40);
	profile_free(pf);
}

/*
 * Resident figures leave out memprof's ring: the RSS samples and the
 * agent's EXIT both carry the ring's resident bytes, which come off; an
 * EXIT without them (older agents) counts whole.
 */
static void
test_rss_without_ring(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	struct process	*q = new_process(pf, 2, 101);
	uint64_t	 exit_rss[2] = { 90 << 20, 16 << 20 };

	profile_apply_rss(pf, p, 50 << 20, 60 << 20, 16 << 20);
	assert_int_equal(p->rss_last, 34 << 20);
	assert_int_equal(p->rss_peak, 44 << 20);
	/* A ring bigger than the figure (a process still starting) reads 0, not a wrap. */
	profile_apply_rss(pf, p, 1 << 20, 1 << 20, 4 << 20);
	assert_int_equal(p->rss_last, 0);
	assert_int_equal(p->rss_peak, 44 << 20);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_EXIT, exit_rss, sizeof exit_rss), 0);
	assert_int_equal(p->rss_peak, 74 << 20);
	assert_int_equal(profile_apply_wire(pf, q, WIRE_REC_EXIT, exit_rss, sizeof exit_rss[0]),
	    0);
	assert_int_equal(q->rss_peak, 90 << 20);
	profile_free(pf);
}

/*
 * A ring given back to the kernel (an exact ring gone still) must not turn
 * into the program's memory: a high-water mark reached while the ring was
 * whole loses the whole ring, though the ring now is a few pages.
 */
static void
test_rss_ring_given_back(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	uint64_t	 exit_rss[2] = { 60 << 20, 64 << 10 };

	profile_apply_rss(pf, p, 50 << 20, 60 << 20, 16 << 20);
	assert_int_equal(p->rss_peak, 44 << 20);
	profile_apply_rss(pf, p, 30 << 20, 60 << 20, 64 << 10);
	assert_int_equal(p->rss_last, (30 << 20) - (64 << 10));
	assert_int_equal(p->rss_peak, 44 << 20);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_EXIT, exit_rss, sizeof exit_rss), 0);
	assert_int_equal(p->rss_peak, 44 << 20);
	/* A resident set that grows past the mark with the ring small still counts. */
	profile_apply_rss(pf, p, 70 << 20, 70 << 20, 64 << 10);
	assert_int_equal(p->rss_peak, (70 << 20) - (64 << 10));
	profile_free(pf);
}

static void
test_unmap_ranges(void **state)
{
	struct profile		*pf = profile_create();
	struct process		*p = new_process(pf, 1, 100);
	struct wire_alloc	 a;
	struct wire_unmap	 u;

	memset(&a, 0, sizeof a);
	a.addr = 0x100000;
	a.size = a.weight = 0x10000;
	a.allocator = WIRE_ALLOC_MMAP;
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_ALLOC, &a, sizeof a), 0);
	u.addr = 0x100000;
	u.len = 0x4000;			/* the head */
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_UNMAP, &u, sizeof u), 0);
	assert_int_equal(p->live_total, 0xc000);
	u.addr = 0x10c000;
	u.len = 0x4000;			/* the tail */
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_UNMAP, &u, sizeof u), 0);
	assert_int_equal(p->live_total, 0x8000);
	u.addr = 0;
	u.len = 0x200000;		/* all of it */
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_UNMAP, &u, sizeof u), 0);
	assert_int_equal(p->live_total, 0);
	assert_int_equal(p->nmapped, 0);
	profile_free(pf);
}

static void
test_reused_address_without_free(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);

	alloc(pf, p, 0x1000, 100, 0);
	alloc(pf, p, 0x1000, 10, 0);	/* the free was dropped */
	assert_int_equal(p->live_total, 10);
	assert_int_equal(p->allocated, 110);
	profile_free(pf);
}

/*
 * Live bytes per stack against a shadow, over random allocations and frees
 * of 20000 addresses: some blocks freed at once (found among the recent
 * blocks), most long after (moved to the index by newer ones).
 */
static void
test_live_random_against_shadow(void **state)
{
	enum { NADDR = 20000, OPS = 300000 };
	struct profile	*pf = profile_create();
	struct process	*p = new_process(pf, 1, 100);
	static uint64_t	 size[NADDR];
	static uint32_t	 owner[NADDR];
	int64_t		 want[4];
	uint32_t	 st[4], k;
	uint64_t	 rng = 88172645463325252ULL;
	size_t		 i, j;
	static const char *const fns[4] = { "a", "b", "c", "d" };

	(void)state;
	for (k = 0; k < 4; k++)
		st[k] = send_stack(pf, p, k + 1, "/app/r.py", fns[k]);
	memset(want, 0, sizeof want);
	for (i = 0; i < OPS; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		/* Half the time the newest block, else any. */
		j = (rng & 1) ? (i / 2) % NADDR : (size_t)((rng >> 8) % NADDR);
		if (size[j] != 0) {
			release(pf, p, 0x7f0000000000ULL + j * 16);
			want[owner[j]] -= (int64_t)size[j];
			size[j] = 0;
		} else {
			size[j] = 1 + (rng >> 40) % 5000;
			owner[j] = (uint32_t)((rng >> 20) & 3);
			alloc(pf, p, 0x7f0000000000ULL + j * 16, size[j], st[owner[j]]);
			want[owner[j]] += (int64_t)size[j];
		}
		if (i % 9973 == 0) {
			for (k = 0; k < 4; k++)
				assert_int_equal(p->stats[gid(p, st[k])].live_bytes, want[k]);
		}
	}
	for (j = 0; j < NADDR; j++) {
		if (size[j] != 0) {
			assert_non_null(profile_live_block(p, 0x7f0000000000ULL + j * 16));
			assert_int_equal(profile_live_block(p, 0x7f0000000000ULL + j * 16)->size, size[j]);
			release(pf, p, 0x7f0000000000ULL + j * 16);
		} else
			assert_null(profile_live_block(p, 0x7f0000000000ULL + j * 16));
	}
	assert_int_equal(p->live_total, 0);
	assert_int_equal(p->unmatched_frees, 0);
	profile_free(pf);
}

static void
test_malformed_records(void **state)
{
	struct profile		*pf = profile_create();
	struct process		*p = new_process(pf, 1, 100);
	unsigned char		 buf[64];
	struct wire_stack	 s;
	struct wire_code	 c;

	memset(buf, 0, sizeof buf);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_ALLOC, buf, 4), -1);
	assert_int_equal(profile_apply_wire(pf, p, 999, buf, 8), -1);
	memset(&s, 0, sizeof s);
	s.id = 1;
	s.nframes = 50;			/* more frames than bytes */
	memcpy(buf, &s, sizeof s);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_STACK, buf, sizeof buf), -1);
	memset(&c, 0, sizeof c);
	c.id = 1;
	c.filename_len = 1000;
	memcpy(buf, &c, sizeof c);
	assert_int_equal(profile_apply_wire(pf, p, WIRE_REC_CODE, buf, sizeof buf), -1);
	profile_free(pf);
}

/*
 * The peak of all processes together: the moment their summed live bytes
 * were highest, each stack's share then, and an image that ended before
 * that moment holding nothing at it (or all it held, if it ended after).
 */
static void
test_all_process_peak(void **state)
{
	struct profile	*pf = profile_create();
	struct process	*p1 = new_process(pf, 1, 100), *p2 = new_process(pf, 2, 200);
	uint32_t	 s1, s2, s3, g1, g2, g3;

	(void)state;
	s1 = send_stack(pf, p1, 1, "/a.py", "one");
	s2 = send_stack(pf, p2, 2, "/b.py", "two");
	s3 = send_stack(pf, p2, 3, "/b.py", "three");
	g1 = gid(p1, s1);
	g2 = gid(p2, s2);
	g3 = gid(p2, s3);
	alloc(pf, p1, 0x1000, 100, s1);
	alloc(pf, p2, 0x2000, 50, s2);		/* all: 150, a peak */
	assert_int_equal(pf->peak_all, 150);
	release(pf, p1, 0x1000);		/* all: 50 */
	profile_apply_end(pf, p1, 0, 0, 0);
	assert_int_equal(profile_stack_at_all_peak(p1, g1), 100);	/* ended after the peak */
	alloc(pf, p2, 0x3000, 120, s3);		/* all: 170, a new peak without p1 */
	assert_int_equal(pf->peak_all, 170);
	assert_int_equal(profile_stack_at_all_peak(p1, g1), 0);
	assert_int_equal(profile_stack_at_all_peak(p2, g2), 50);
	assert_int_equal(profile_stack_at_all_peak(p2, g3), 120);
	assert_int_equal(p1->peak, 100);
	assert_int_equal(p2->peak, 170);
	assert_int_equal(profile_stack_at_peak(p1, g1), 100);

	/* An image that ends holding memory takes it out of the sum. */
	alloc(pf, p2, 0x4000, 10, s2);		/* all: 180 */
	profile_apply_end(pf, p2, 0, 0, 0);
	assert_int_equal(pf->live_all, 0);
	assert_int_equal(pf->peak_all, 180);
	assert_int_equal(profile_stack_at_all_peak(p2, g2), 60);
	profile_free(pf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmap),
		cmocka_unit_test(test_hmap_random_against_shadow),
		cmocka_unit_test(test_strings_interned),
		cmocka_unit_test(test_alloc_free_and_sites),
		cmocka_unit_test(test_peak_matches_brute_force),
		cmocka_unit_test(test_exit_snapshot),
		cmocka_unit_test(test_rss_without_ring),
		cmocka_unit_test(test_rss_ring_given_back),
		cmocka_unit_test(test_unmap_ranges),
		cmocka_unit_test(test_reused_address_without_free),
		cmocka_unit_test(test_live_random_against_shadow),
		cmocka_unit_test(test_malformed_records),
		cmocka_unit_test(test_all_process_peak),
	};

	return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
