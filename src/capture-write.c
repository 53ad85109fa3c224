/*
 * capture-write.c: the capture writer.  Records accumulate in a raw buffer;
 * a full buffer (or a flush, about once a second) is compressed into one
 * chunk and written with a single write(2), so a chunk is either wholly in
 * the file or not at all as far as a reader can tell (its CRC says which).
 * Compression is zstd at level 1: in --exact mode the collector handles
 * millions of records a second and zlib's deflate alone could not keep up
 * (60% of the collector's time, measured); zstd -1 is several times faster
 * at a similar ratio.  The CRC-32 covers the compressed bytes.
 *
 * Compressing and writing a chunk happen on a thread of their own while
 * the collector fills the other buffer: in --exact mode the collector is
 * what the program waits for, and zstd was a fifth of its time.  One chunk
 * is in flight at most; a flush waits for the previous one, so chunks
 * reach the file in order.  The thread blocks every signal (they stay the
 * controller's main thread's business); if it cannot be started, chunks
 * are compressed in line as before.
 *
 * A write error (a full disk) stops writing, keeps the chunks already
 * written, and is reported once at the end; the profiled program is never
 * disturbed by it.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "memprof.h"
#include "capture.h"

struct capture_writer {
	int		 fd;
	char		*path;
	unsigned char	*raw;		/* the buffer being filled */
	size_t		 len;
	size_t		 cap;
	int		 run_open;	/* a CAP_REC_EVENTS run is being filled */
	uint32_t	 run_proc;
	size_t		 run_start;	/* offset of its record header in raw */
	uint64_t	 run_prev;	/* its last address */
	uint64_t	 records;
	_Atomic int	 failed;	/* error is set: stop writing */

	/* The chunk in flight, the compressor's; under lock once the thread runs. */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 threaded;
	int		 busy;		/* chunk holds a chunk to write */
	int		 quit;
	unsigned char	*chunk;
	size_t		 chunk_len;
	size_t		 chunk_cap;
	unsigned char	*out;
	size_t		 outcap;
	ZSTD_CCtx	*zc;
	char		*error;		/* first error, or NULL */
};

static void	capture_run_close(struct capture_writer *);
static void	capture_compressor_start(struct capture_writer *);

/* Write all of buf or fail with errno set. */
static int
capture_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create the capture file and write its header; NULL and a message on failure. */
struct capture_writer *
capture_writer_open(const char *path, uint64_t sample_every, uint32_t flags, char **cause)
{
	struct capture_writer	*w;
	struct capture_header	 h;
	struct timespec		 ts;
	int			 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		xasprintf(cause, "cannot write capture '%s': %s", path, strerror(errno));
		return NULL;
	}
	memset(&h, 0, sizeof h);
	memcpy(h.magic, CAPTURE_MAGIC, sizeof h.magic);
	h.version = CAPTURE_VERSION;
	h.header_size = CAPTURE_HEADER_SIZE;
	clock_gettime(CLOCK_REALTIME, &ts);
	h.start_unix_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	h.sample_every = sample_every;
	h.flags = flags;
	if (capture_write_all(fd, &h, sizeof h) != 0) {
		xasprintf(cause, "cannot write capture '%s': %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	w = xcalloc(1, sizeof *w);
	w->fd = fd;
	w->path = xstrdup(path);
	w->cap = w->chunk_cap = CAPTURE_CHUNK_RAW_MAX + 4096;
	w->raw = xmalloc(w->cap);
	w->chunk = xmalloc(w->chunk_cap);
	if ((w->zc = ZSTD_createCCtx()) == NULL)
		fatalx("cannot create a zstd context");
	capture_compressor_start(w);
	return w;
}

/* Compress and write the chunk in w->chunk; sets w->error on failure. */
static void
capture_write_chunk(struct capture_writer *w)
{
	uint32_t	hdr[4];
	size_t		outlen;
	char		*error = NULL;

	outlen = ZSTD_compressBound(w->chunk_len);
	if (outlen + sizeof hdr > w->outcap) {
		w->outcap = outlen + sizeof hdr;
		w->out = xrealloc(w->out, w->outcap);
	}
	/* Level 1: captures are written while the program runs; speed beats ratio. */
	outlen = ZSTD_compressCCtx(w->zc, w->out + sizeof hdr, outlen, w->chunk, w->chunk_len, 1);
	if (ZSTD_isError(outlen))
		xasprintf(&error, "cannot compress capture data: %s", ZSTD_getErrorName(outlen));
	else {
		hdr[0] = CAPTURE_CHUNK_MAGIC;
		hdr[1] = (uint32_t)outlen;
		hdr[2] = (uint32_t)w->chunk_len;
		hdr[3] = (uint32_t)crc32(0L, w->out + sizeof hdr, (uInt)outlen);
		memcpy(w->out, hdr, sizeof hdr);
		if (capture_write_all(w->fd, w->out, sizeof hdr + outlen) != 0)
			xasprintf(&error, "writing capture '%s' failed: %s", w->path,
			    strerror(errno));
	}
	if (error != NULL) {
		if (w->threaded)
			pthread_mutex_lock(&w->lock);
		w->error = error;
		atomic_store(&w->failed, 1);
		if (w->threaded)
			pthread_mutex_unlock(&w->lock);
	}
}

/* The compressor thread: writes each chunk handed to it, until told to quit. */
static void *
capture_compressor(void *arg)
{
	struct capture_writer	*w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->busy)
			break;
		pthread_mutex_unlock(&w->lock);
		capture_write_chunk(w);
		pthread_mutex_lock(&w->lock);
		w->busy = 0;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Start the compressor thread with every signal blocked; in line if it cannot start. */
static void
capture_compressor_start(struct capture_writer *w)
{
	sigset_t	all, old;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->threaded = pthread_create(&w->thread, NULL, capture_compressor, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Wait for the chunk in flight to be written (the lock is held). */
static void
capture_compressor_wait(struct capture_writer *w)
{
	while (w->busy)
		pthread_cond_wait(&w->cond, &w->lock);
}

/* Compress and write the buffered records as one chunk (on the compressor thread). */
void
capture_writer_flush(struct capture_writer *w)
{
	unsigned char	*t;
	size_t		 c;

	capture_run_close(w);
	if (w->len == 0 || atomic_load(&w->failed))
		return;
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		capture_compressor_wait(w);
	}
	/* Swap the buffers: the full one goes, the written one is filled next. */
	t = w->chunk;
	c = w->chunk_cap;
	w->chunk = w->raw;
	w->chunk_cap = w->cap;
	w->chunk_len = w->len;
	w->raw = t;
	w->cap = c;
	w->len = 0;
	if (w->threaded) {
		w->busy = 1;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	} else
		capture_write_chunk(w);
}

/* Close the open run of packed events, if any, by writing its header's length. */
static void
capture_run_close(struct capture_writer *w)
{
	struct capture_rec	r;

	if (!w->run_open)
		return;
	r.len = (uint32_t)(w->len - w->run_start - sizeof r);
	r.type = CAP_REC_EVENTS;
	r.sub = 0;
	r.proc = w->run_proc;
	memcpy(w->raw + w->run_start, &r, sizeof r);
	w->run_open = 0;
}

/* Append an ALLOC or FREE of proc to a run of packed events (capture-pack.c). */
static void
capture_write_event(struct capture_writer *w, uint16_t sub, uint32_t proc, const void *payload)
{
	struct wire_alloc	a;
	struct wire_free	f;

	if (w->run_open && (w->run_proc != proc ||
	    w->len + CAPTURE_PACK_MAX > CAPTURE_CHUNK_RAW_MAX))
		capture_run_close(w);
	if (!w->run_open) {
		if (w->len + sizeof (struct capture_rec) + CAPTURE_PACK_MAX >
		    CAPTURE_CHUNK_RAW_MAX && w->len > 0)
			capture_writer_flush(w);
		w->run_open = 1;
		w->run_proc = proc;
		w->run_start = w->len;
		w->run_prev = 0;
		w->len += sizeof (struct capture_rec);
	}
	if (sub == WIRE_REC_ALLOC)
		w->len += capture_pack_alloc(w->raw + w->len, &w->run_prev, WIRE_VIEW(payload, &a));
	else if (sub == WIRE_REC_ALLOC_FREED)
		w->len += capture_pack_alloc_freed(w->raw + w->len, WIRE_VIEW(payload, &a));
	else
		w->len += capture_pack_free(w->raw + w->len, &w->run_prev, WIRE_VIEW(payload, &f));
	w->records++;
}

/* Append one record, flushing a chunk when the buffer is full. */
void
capture_write(struct capture_writer *w, uint16_t type, uint16_t sub, uint32_t proc,
    const void *payload, size_t len)
{
	struct capture_rec	r;

	if (atomic_load_explicit(&w->failed, memory_order_relaxed))
		return;
	if (type == CAP_REC_WIRE && (((sub == WIRE_REC_ALLOC || sub == WIRE_REC_ALLOC_FREED) &&
	    len == sizeof (struct wire_alloc)) ||
	    (sub == WIRE_REC_FREE && len == sizeof (struct wire_free)))) {
		capture_write_event(w, sub, proc, payload);
		return;
	}
	capture_run_close(w);
	if (w->len + sizeof r + len > CAPTURE_CHUNK_RAW_MAX && w->len > 0)
		capture_writer_flush(w);
	if (sizeof r + len > w->cap) {
		w->cap = sizeof r + len;
		w->raw = xrealloc(w->raw, w->cap);
	}
	r.len = (uint32_t)len;
	r.type = type;
	r.sub = sub;
	r.proc = proc;
	memcpy(w->raw + w->len, &r, sizeof r);
	if (len > 0)
		memcpy(w->raw + w->len + sizeof r, payload, len);
	w->len += sizeof r + len;
	w->records++;
}


/* Write the trailer, flush and close; -1 and a message if anything was lost. */
int
capture_writer_close(struct capture_writer *w, char **cause)
{
	uint64_t	n = w->records;
	int		rc = 0;

	capture_write(w, CAP_REC_TRAILER, 0, 0, &n, sizeof n);
	capture_writer_flush(w);
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		capture_compressor_wait(w);
		w->quit = 1;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	if (w->error == NULL && close(w->fd) != 0)
		xasprintf(&w->error, "closing capture '%s' failed: %s", w->path, strerror(errno));
	else if (w->error != NULL)
		close(w->fd);
	if (w->error != NULL) {
		*cause = w->error;
		w->error = NULL;
		rc = -1;
	}
	ZSTD_freeCCtx(w->zc);
	free(w->raw);
	free(w->chunk);
	free(w->out);
	free(w->path);
	free(w);
	return rc;
}
