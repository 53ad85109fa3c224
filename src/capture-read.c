/*
 * capture-read.c: reading a capture back into a model, and the one function
 * that applies a capture record to a model (the collector uses it live, so
 * `memprof report` replays exactly what `memprof run` saw).
 *
 * A file that ends inside a chunk or without a trailer is incomplete, not
 * corrupt: the recording was cut short (SIGKILL, OOM kill, full disk) and
 * every whole chunk is still reported.  Bad magic, a chunk whose checksum
 * or decompression fails, or a malformed record is corruption: an error.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "memprof.h"
#include "capture.h"

/* Split a NUL-terminated argv list ("a\0b\0") into the model's command. */
static void
capture_apply_command(struct profile *pf, const char *s, size_t len)
{
	const char	*nul;
	size_t		 start = 0, n;

	while (start < len) {
		nul = memchr(s + start, '\0', len - start);
		n = nul == NULL ? len - start : (size_t)(nul - (s + start));
		pf->command = xreallocarray(pf->command, pf->ncommand + 1, sizeof *pf->command);
		pf->command[pf->ncommand++] = xstrndup(s + start, n);
		start += n + 1;
	}
}

/* Apply one capture record to a model; -1 if it is malformed. */
int
capture_apply(struct profile *pf, uint16_t type, uint16_t sub, uint32_t proc,
    const void *payload, size_t len)
{
	struct wire_hello	 h;
	struct capture_end	 e;
	struct process		*p = NULL;
	uint64_t		 v, hwm = 0, ring = 0;

	if (type == CAP_REC_WIRE || type == CAP_REC_RSS || type == CAP_REC_END) {
		if ((p = profile_process(pf, proc)) == NULL)
			return -1;
	}
	switch (type) {
	case CAP_REC_COMMAND:
		capture_apply_command(pf, payload, len);
		return 0;
	case CAP_REC_PROCESS:
		if (len < sizeof h || proc == 0 || profile_process(pf, proc) != NULL)
			return -1;
		memcpy(&h, payload, sizeof h);
		profile_add_process(pf, proc, &h);
		return 0;
	case CAP_REC_WIRE:
		return profile_apply_wire(pf, p, sub, payload, len);
	case CAP_REC_TIME:
	case CAP_REC_RSS:
		if (len < sizeof v)
			return -1;
		memcpy(&v, payload, sizeof v);
		if (type == CAP_REC_TIME)
			profile_apply_time(pf, v);
		else {
			/*
			 * Newer captures (November 2026 on) add the high-water
			 * mark, then the ring's resident bytes in both.
			 */
			if (len >= 2 * sizeof v)
				memcpy(&hwm, (const char *)payload + sizeof v, sizeof hwm);
			if (len >= 3 * sizeof v)
				memcpy(&ring, (const char *)payload + 2 * sizeof v, sizeof ring);
			profile_apply_rss(pf, p, v, hwm, ring);
		}
		return 0;
	case CAP_REC_END:
		if (len < sizeof e)
			return -1;
		memcpy(&e, payload, sizeof e);
		profile_apply_end(pf, p, e.wait_status, e.dropped_records, e.dropped_bytes);
		return 0;
	case CAP_REC_TRAILER:
		return 0;
	default:
		return -1;
	}
}

/* Apply every record of one decompressed chunk; -1 on a malformed record. */
int
capture_apply_chunk(struct profile *pf, const unsigned char *raw, size_t len,
    struct capture_info *info)
{
	struct capture_rec	r;
	size_t			off = 0;

	while (off < len) {
		if (len - off < sizeof r)
			return -1;
		memcpy(&r, raw + off, sizeof r);
		off += sizeof r;
		if (r.len > len - off)
			return -1;
		if (r.type == CAP_REC_EVENTS) {
			if (capture_unpack_run(pf, r.proc, raw + off, r.len, &info->records) != 0)
				return -1;
			off += r.len;
			continue;
		}
		if (capture_apply(pf, r.type, r.sub, r.proc, raw + off, r.len) != 0)
			return -1;
		if (r.type == CAP_REC_TRAILER)
			info->complete = 1;
		off += r.len;
		info->records++;
	}
	return 0;
}

/* Read and check the file header into the model. */
static int
capture_read_header(FILE *f, const char *path, struct profile *pf, char **cause)
{
	struct capture_header	h;

	if (fread(&h, 1, sizeof h, f) != sizeof h || memcmp(h.magic, CAPTURE_MAGIC, 8) != 0) {
		xasprintf(cause, "'%s' is not a memprof capture", path);
		return -1;
	}
	if (h.version < CAPTURE_VERSION_MIN || h.version > CAPTURE_VERSION ||
	    h.header_size < sizeof h) {
		xasprintf(cause, "'%s' is a capture of format %u; this memprof reads format %u",
		    path, h.version, CAPTURE_VERSION);
		return -1;
	}
	if (h.header_size > sizeof h && fseek(f, (long)h.header_size, SEEK_SET) != 0) {
		xasprintf(cause, "'%s' is not a memprof capture", path);
		return -1;
	}
	pf->start_unix_ns = h.start_unix_ns;
	pf->sample_every = h.sample_every;
	pf->flags = h.flags;
	return 0;
}

/* Read one chunk: 1 read, 0 end of file, -1 corrupt (cause set), -2 truncated. */
static int
capture_read_chunk(FILE *f, const char *path, struct profile *pf, struct capture_info *info,
    char **cause)
{
	uint32_t	 hdr[4];
	size_t		 n;
	unsigned char	*comp = NULL, *raw = NULL;
	size_t		 rawlen;
	long		 at = ftell(f);
	int		 rc = -1;

	n = fread(hdr, 1, sizeof hdr, f);
	if (n == 0 && feof(f))
		return 0;
	if (n != sizeof hdr)
		return -2;
	if (hdr[0] != CAPTURE_CHUNK_MAGIC || hdr[1] > CAPTURE_CHUNK_LIMIT ||
	    hdr[2] > CAPTURE_CHUNK_LIMIT) {
		xasprintf(cause, "capture '%s' is corrupt at byte %ld (bad chunk header)", path, at);
		return -1;
	}
	comp = xmalloc(hdr[1]);
	if (fread(comp, 1, hdr[1], f) != hdr[1]) {
		free(comp);
		return -2;
	}
	raw = xmalloc(hdr[2]);
	if (crc32(0L, comp, hdr[1]) != hdr[3])
		xasprintf(cause, "capture '%s' is corrupt at byte %ld (bad chunk checksum)", path, at);
	else if (ZSTD_isError(rawlen = ZSTD_decompress(raw, hdr[2], comp, hdr[1])) ||
	    rawlen != hdr[2])
		xasprintf(cause, "capture '%s' is corrupt at byte %ld (bad compressed data)", path, at);
	else if (capture_apply_chunk(pf, raw, rawlen, info) != 0)
		xasprintf(cause, "capture '%s' is corrupt at byte %ld (malformed record)", path, at);
	else
		rc = 1;
	info->chunks += rc == 1;
	free(comp);
	free(raw);
	return rc;
}

/* Load a capture from an open stream (name is for messages). */
struct profile *
capture_load_stream(FILE *f, const char *path, struct capture_info *info, char **cause)
{
	struct profile	*pf;
	int		 rc;

	memset(info, 0, sizeof *info);
	pf = profile_create();
	pf->native_lines = 1;
	if (capture_read_header(f, path, pf, cause) != 0)
		goto fail;
	while ((rc = capture_read_chunk(f, path, pf, info, cause)) == 1)
		;
	if (rc == -1)
		goto fail;
	if (rc == -2)
		info->truncated = 1;
	if (ferror(f)) {
		xasprintf(cause, "reading capture '%s' failed: %s", path, strerror(errno));
		goto fail;
	}
	return pf;
fail:
	profile_free(pf);
	return NULL;
}

/* Load a capture file into a new model. */
struct profile *
capture_load(const char *path, struct capture_info *info, char **cause)
{
	struct profile	*pf;
	FILE		*f;

	memset(info, 0, sizeof *info);
	if ((f = fopen(path, "rb")) == NULL) {
		xasprintf(cause, "cannot open capture '%s': %s", path, strerror(errno));
		return NULL;
	}
	pf = capture_load_stream(f, path, info, cause);
	fclose(f);
	return pf;
}
