/*
 * test-capture.c: unit tests for the capture file: a round trip through
 * writer and reader, a capture cut at every possible length (incomplete but
 * readable up to the last whole chunk), flipped bytes (corruption reported,
 * never a crash), packed events decoded exactly, and files that are not
 * captures.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "memprof.h"
#include "capture.h"

static char	tmpdir[] = "/tmp/memprof-test-capture.XXXXXX";

/* Path of a file in the test's temporary folder. */
static char *
tmp_path(const char *name)
{
	char	*p;

	xasprintf(&p, "%s/%s", tmpdir, name);
	return p;
}

/* Write a capture of one process with n allocations of 100 bytes, every other freed. */
static void
write_capture(const char *path, int n, int chunks)
{
	struct capture_writer	*w;
	struct wire_hello	 h;
	struct wire_alloc	 a;
	struct wire_free	 f;
	char			*cause = NULL, argv[] = "python3\0app.py\0";
	uint64_t		 t;
	int			 i;

	w = capture_writer_open(path, 0, CAPTURE_FLAG_EXACT, &cause);
	assert_non_null(w);
	capture_write(w, CAP_REC_COMMAND, 0, 0, argv, sizeof argv - 1);
	memset(&h, 0, sizeof h);
	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION;
	h.pid = 4242;
	capture_write(w, CAP_REC_PROCESS, 0, 1, &h, sizeof h);
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof a);
		a.addr = 0x1000 + (uint64_t)i * 0x100;
		a.size = a.weight = 100;
		capture_write(w, CAP_REC_WIRE, WIRE_REC_ALLOC, 1, &a, sizeof a);
		if (i % 2) {
			memset(&f, 0, sizeof f);
			f.addr = a.addr;
			capture_write(w, CAP_REC_WIRE, WIRE_REC_FREE, 1, &f, sizeof f);
		}
		if (chunks > 1 && i % (n / chunks) == 0) {
			t = (uint64_t)i;
			capture_write(w, CAP_REC_TIME, 0, 0, &t, sizeof t);
			capture_writer_flush(w);
		}
	}
	assert_int_equal(capture_writer_close(w, &cause), 0);
}

/* Read a whole file into memory. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE		*f = fopen(path, "rb");
	unsigned char	*buf;
	long		 n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Write len bytes of buf to path. */
static void
spill(const char *path, const unsigned char *buf, size_t len)
{
	FILE	*f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void
test_round_trip(void **state)
{
	char			*path = tmp_path("round.mprof"), *cause = NULL;
	struct capture_info	 info;
	struct profile		*pf;

	write_capture(path, 1000, 1);
	pf = capture_load(path, &info, &cause);
	assert_non_null(pf);
	assert_true(info.complete);
	assert_false(info.truncated);
	assert_int_equal(pf->ncommand, 2);
	assert_string_equal(pf->command[1], "app.py");
	assert_int_equal(pf->nprocs, 1);
	assert_int_equal(pf->procs[0]->pid, 4242);
	assert_int_equal(pf->procs[0]->allocated, 100000);
	assert_int_equal(pf->procs[0]->live_total, 50000);
	assert_int_equal(pf->sample_every, 0);
	profile_free(pf);
	free(path);
}

/* Every prefix of a multi-chunk capture loads (or is rejected as not a capture), never crashes. */
static void
test_every_truncation(void **state)
{
	char			*path = tmp_path("full.mprof"), *cut = tmp_path("cut.mprof");
	char			*cause;
	struct capture_info	 info;
	struct profile		*pf;
	unsigned char		*buf;
	size_t			 len, n;
	uint64_t		 last = 0;

	write_capture(path, 2000, 8);
	buf = slurp(path, &len);
	for (n = 0; n < len; n += (n < CAPTURE_HEADER_SIZE + 64 ? 1 : 37)) {
		spill(cut, buf, n);
		cause = NULL;
		pf = capture_load(cut, &info, &cause);
		if (n < CAPTURE_HEADER_SIZE) {
			assert_null(pf);
			assert_non_null(strstr(cause, "not a memprof capture"));
			free(cause);
			continue;
		}
		assert_non_null(pf);
		assert_false(info.complete);
		/* More bytes never means fewer allocations. */
		assert_true(pf->nprocs == 0 || pf->procs[0]->allocated >= last);
		if (pf->nprocs > 0)
			last = pf->procs[0]->allocated;
		profile_free(pf);
	}
	free(buf);
	free(path);
	free(cut);
}

static void
test_flipped_bytes(void **state)
{
	char			*path = tmp_path("good.mprof"), *bad = tmp_path("bad.mprof");
	char			*cause;
	struct capture_info	 info;
	struct profile		*pf;
	unsigned char		*buf;
	size_t			 len, i, rejected = 0;

	write_capture(path, 500, 4);
	buf = slurp(path, &len);
	for (i = CAPTURE_HEADER_SIZE; i < len; i += 7) {
		buf[i] ^= 0x5a;
		spill(bad, buf, len);
		buf[i] ^= 0x5a;
		cause = NULL;
		pf = capture_load(bad, &info, &cause);
		if (pf == NULL) {
			assert_non_null(cause);
			assert_non_null(strstr(cause, "bad.mprof"));
			rejected++;
			free(cause);
		} else
			profile_free(pf);
	}
	/* CRC-32 catches every flipped byte in compressed data. */
	assert_true(rejected > (len - CAPTURE_HEADER_SIZE) / 7 / 2);
	free(buf);
	free(path);
	free(bad);
}

/* A small deterministic generator for the packing test. */
static uint64_t
pack_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Packed events decode to exactly what was packed, extremes included; cut ones are rejected. */
static void
test_pack_round_trip(void **state)
{
	static const uint64_t	addrs[] = { 0, 1, UINT64_MAX, 0x8000000000000000ULL,
				    0x7fffffffffffffffULL, 0x10, 0x7f0000001000ULL };
	unsigned char		 buf[4096 * CAPTURE_PACK_MAX];
	struct wire_alloc	 a[4096], da;
	struct wire_free	 f[4096], df;
	const unsigned char	*p, *end;
	uint64_t		 seed = 0x1234567, prev = 0, dprev = 0, r;
	size_t			 len = 0, n, i, cut;
	int			 kind[4096];

	(void)state;
	for (i = 0; i < 4096; i++) {
		r = pack_rand(&seed);
		kind[i] = (int)(r % 3);	/* 0 ALLOC, 1 FREE, 2 ALLOC_FREED */
		memset(&a[i], 0, sizeof a[i]);
		memset(&f[i], 0, sizeof f[i]);
		a[i].addr = f[i].addr = i < 7 ? addrs[i] : (r % 3 == 0 ? pack_rand(&seed) :
		    0x7f0000000000ULL + (pack_rand(&seed) & 0xffffff) * 16);
		a[i].size = i % 5 == 0 ? (1ULL << 48) - 1 : pack_rand(&seed) & 0xffff;
		a[i].weight = i % 3 == 0 ? a[i].size : pack_rand(&seed) >> (r & 63);
		a[i].stack = i % 7 == 0 ? UINT32_MAX : (uint32_t)(pack_rand(&seed) & 0xfff);
		a[i].allocator = f[i].allocator = (uint16_t)(1 + i % 7);
		a[i].tid_hash = (uint16_t)pack_rand(&seed);
		if (kind[i] == 2) {
			/* Packed without its address, which must not move the delta base. */
			n = capture_pack_alloc_freed(buf + len, &a[i]);
			a[i].addr = 0;
		} else
			n = kind[i] ? capture_pack_free(buf + len, &prev, &f[i]) :
			    capture_pack_alloc(buf + len, &prev, &a[i]);
		assert_true(n >= 2 && n <= CAPTURE_PACK_MAX);
		len += n;
	}
	p = buf;
	end = buf + len;
	for (i = 0; i < 4096; i++) {
		if (kind[i] == 2) {
			assert_int_equal(capture_unpack_next(&p, end, &dprev, &da, &df),
			    WIRE_REC_ALLOC_FREED);
			assert_memory_equal(&da, &a[i], sizeof da);
		} else if (kind[i] == 1) {
			assert_int_equal(capture_unpack_next(&p, end, &dprev, &da, &df), WIRE_REC_FREE);
			assert_memory_equal(&df, &f[i], sizeof df);
		} else {
			assert_int_equal(capture_unpack_next(&p, end, &dprev, &da, &df), WIRE_REC_ALLOC);
			assert_memory_equal(&da, &a[i], sizeof da);
		}
	}
	assert_ptr_equal(p, end);
	/* Every cut inside the first event is an error, never a read past the end. */
	prev = 0;
	n = capture_pack_alloc(buf, &prev, &a[5]);
	for (cut = 0; cut < n; cut++) {
		p = buf;
		dprev = 0;
		assert_int_equal(capture_unpack_next(&p, buf + cut, &dprev, &da, &df), -1);
	}
	/* So is every cut inside an ALLOC_FREED. */
	n = capture_pack_alloc_freed(buf, &a[5]);
	for (cut = 0; cut < n; cut++) {
		p = buf;
		dprev = 0;
		assert_int_equal(capture_unpack_next(&p, buf + cut, &dprev, &da, &df), -1);
	}
	/* Unknown tag bits, kind 3 and an 11-byte varint are rejected. */
	buf[0] = 0x03;
	p = buf;
	assert_int_equal(capture_unpack_next(&p, buf + 1, &dprev, &da, &df), -1);
	buf[0] = 0x40;
	p = buf;
	assert_int_equal(capture_unpack_next(&p, buf + 1, &dprev, &da, &df), -1);
	buf[0] = 0x01;
	memset(buf + 1, 0xff, 10);
	buf[11] = 0x01;
	p = buf;
	assert_int_equal(capture_unpack_next(&p, buf + 12, &dprev, &da, &df), -1);
}

static void
test_not_a_capture(void **state)
{
	char			*path = tmp_path("text.mprof"), *cause = NULL;
	struct capture_info	 info;
	unsigned char		 junk[200];

	memset(junk, 'x', sizeof junk);
	spill(path, junk, sizeof junk);
	assert_null(capture_load(path, &info, &cause));
	assert_non_null(strstr(cause, "not a memprof capture"));
	free(cause);
	cause = NULL;
	assert_null(capture_load("/nonexistent/x.mprof", &info, &cause));
	assert_non_null(strstr(cause, "cannot open"));
	free(cause);
	free(path);
}

static void
test_unwritable(void **state)
{
	char	*cause = NULL;

	assert_null(capture_writer_open("/nonexistent/dir/x.mprof", 0, 0, &cause));
	assert_non_null(strstr(cause, "cannot write capture"));
	free(cause);
}

static int
setup(void **state)
{
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	*cmd;

	xasprintf(&cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_pack_round_trip),
		cmocka_unit_test(test_not_a_capture),
		cmocka_unit_test(test_unwritable),
	};

	return cmocka_run_group_tests_name("capture", tests, setup, teardown);
}
