/*
 * capture.h: the capture file (.mprof) that `memprof run` writes and
 * `memprof report` reads.  Format (docs/capture-format.md has the details):
 *
 *   header (64 bytes) | chunk | chunk | ... | (trailer record in the last chunk)
 *   chunk = { u32 magic "MPCK", u32 compressed length, u32 raw length,
 *             u32 CRC-32 of the compressed bytes } + zstd frame
 *   raw chunk data = records { u32 payload length, u16 type, u16 sub,
 *             u32 process serial } + payload
 *   (ALLOC and FREE records in runs of packed events: capture-pack.c)
 *
 * Chunks are written whole with one write each (about every second or every
 * MiB), so when the program, an OOM kill or memprof itself ends the recording
 * abruptly, every chunk before the cut is intact and readable; a missing
 * trailer only means the capture is incomplete.
 */

#ifndef MEMPROF_CAPTURE_H
#define MEMPROF_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"

#define CAPTURE_MAGIC		"MPROFCAP"
#define CAPTURE_VERSION		3	/* 2: CAP_REC_EVENTS; 3: ALLOC_FREED; 1 and 2 are read too */
#define CAPTURE_VERSION_MIN	1
#define CAPTURE_HEADER_SIZE	64
#define CAPTURE_CHUNK_MAGIC	0x4b43504dU	/* "MPCK" */
#define CAPTURE_CHUNK_RAW_MAX	(1U << 20)	/* flush a chunk once it holds 1 MiB */
#define CAPTURE_CHUNK_LIMIT	(64U << 20)	/* a reader refuses chunks larger than this */

/* Record types. */
enum capture_rec_type {
	CAP_REC_COMMAND = 1,	/* argv, NUL-separated */
	CAP_REC_PROCESS,	/* struct wire_hello: a process image starts */
	CAP_REC_WIRE,		/* a wire record of a process; sub = enum wire_rec_type */
	CAP_REC_TIME,		/* u64 ns since the start */
	CAP_REC_RSS,		/* u64 resident bytes of a process, then (optional) u64 its peak,
				   then (optional) u64 the bytes of both that are memprof's ring */
	CAP_REC_END,		/* struct capture_end: a process image ended */
	CAP_REC_TRAILER,	/* u64 number of records before it: the capture is complete */
	CAP_REC_EVENTS,		/* a run of packed ALLOC/FREE events of a process (v2) */
};

#define CAPTURE_FLAG_EXACT	0x1
#define CAPTURE_FLAG_NATIVE	0x2

struct capture_header {
	char		magic[8];
	uint32_t	version;
	uint32_t	header_size;
	uint64_t	start_unix_ns;
	uint64_t	sample_every;
	uint32_t	flags;
	uint32_t	reserved;
	char		pad[24];
};

struct capture_rec {
	uint32_t	len;		/* payload bytes */
	uint16_t	type;
	uint16_t	sub;
	uint32_t	proc;		/* process serial, 0 for the capture as a whole */
};

struct capture_end {
	int32_t		wait_status;	/* -1: unknown (not our child, or exec) */
	uint32_t	pad;
	uint64_t	dropped_records;
	uint64_t	dropped_bytes;
};

struct capture_writer;

/* capture-write.c */
struct capture_writer *capture_writer_open(const char *path, uint64_t sample_every,
		    uint32_t flags, char **cause);
void		capture_write(struct capture_writer *, uint16_t type, uint16_t sub, uint32_t proc,
		    const void *payload, size_t len);
void		capture_writer_flush(struct capture_writer *);
int		capture_writer_close(struct capture_writer *, char **cause);

/* capture-pack.c: packed events (at most CAPTURE_PACK_MAX bytes each) */
#define CAPTURE_PACK_MAX	48	/* tag + 4 varints of 10 bytes + one of 3 */
size_t		capture_pack_alloc(unsigned char *, uint64_t *prev, const struct wire_alloc *);
size_t		capture_pack_alloc_freed(unsigned char *, const struct wire_alloc *);
size_t		capture_pack_free(unsigned char *, uint64_t *prev, const struct wire_free *);
int		capture_unpack_next(const unsigned char **, const unsigned char *,
		    uint64_t *prev, struct wire_alloc *, struct wire_free *);
int		capture_unpack_run(struct profile *, uint32_t proc, const unsigned char *,
		    size_t, uint64_t *records);

/* capture-read.c */
struct capture_info {
	int		complete;	/* the trailer was read */
	int		truncated;	/* the file ends inside a chunk */
	uint64_t	records;
	uint64_t	chunks;
};

/* Apply one capture record to a model (used live and when reading). */
int		capture_apply(struct profile *, uint16_t type, uint16_t sub, uint32_t proc,
		    const void *payload, size_t len);
/* Apply the records of a decompressed chunk; -1 on a malformed one. */
int		capture_apply_chunk(struct profile *, const unsigned char *, size_t,
		    struct capture_info *);
/* Read a whole capture into a new model; NULL and a message if it is unreadable. */
struct profile	*capture_load(const char *path, struct capture_info *, char **cause);
struct profile	*capture_load_stream(FILE *, const char *name, struct capture_info *,
		    char **cause);

#endif /* MEMPROF_CAPTURE_H */
