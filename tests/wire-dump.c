/*
 * wire-dump.c: a debugging consumer of the agent's wire protocol (wire.h),
 * standalone, and the harness of the agent's own tests.
 *
 * It listens on an abstract SOCK_SEQPACKET socket, runs a command with the
 * agent preloaded (MEMPROF_SOCKET, LD_PRELOAD and the MEMPROF_* options in
 * its environment), accepts one hello per process image (fork children and
 * exec'd programs included), maps each ring, drains it as the controller
 * would (records in order up to the first unpublished one, consumed bytes
 * zeroed, then read_pos advanced), and pairs frees and unmaps with what was
 * allocated.  At the end it prints one summary line per process image, the
 * top stacks by allocated weight, and with -S one line per site (innermost
 * frame) for scripts.  It exits with the command's status (128+N if killed
 * by signal N).
 *
 * Usage: wire-dump [-eNnSv] [-a agent] [-D ms] [-o file] [-r size]
 *                  [-s size] [-w secs] [-z ms] [--] command [arg ...]
 *   -a agent  the agent library to preload (default $MEMPROF_AGENT)
 *   -e        exact mode (MEMPROF_SAMPLE_EVERY=0); -s size: sampling interval
 *   -n        native frames too (MEMPROF_NATIVE=1); -N: MEMPROF_FOLLOW=0
 *   -r size   ring data size (MEMPROF_RING_SIZE)
 *   -o file   write the report there, so the command keeps stdout to itself
 *   -S        one "site" line per innermost frame (the innermost Python
 *             frame if the stack has one), with its totals
 *   -D ms     ask every agent to detach (controller_state) after ms
 *   -z ms     drain nothing for the first ms (a stalled controller)
 *   -w secs   after the command exits, wait at most this long for the
 *             connections of processes it left running (default 5)
 *   -v        trace unmatched frees on stderr; -vv every record
 *
 * Summary line fields: record counts per type (an ALLOC the agent
 * cancelled counts as an ALLOC, a FREE and in cancelled), allocated (sum of ALLOC
 * weights), live_exit (live weight at the EXIT record, -1 if none),
 * live_end (at the end of the stream), the ring's dropped counters and
 * agent_state, and what did not pair: frees of unknown addresses, unmaps
 * of no recorded mapping, an ALLOC of an address still live (reused),
 * references to unknown stack or code ids, malformed records (bad).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4, MSG_CMSG_CLOEXEC, strndup */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/wire.h"

#define DUMP_TOP	5

/* A small open-addressing map from a non-zero 64-bit key to two values. */
struct hval {
	uint64_t	a;
	uint64_t	b;
};

struct hmap {
	uint64_t	*keys;
	struct hval	*vals;
	size_t		 cap;
	size_t		 n;
};

/* A recorded mapping (ALLOC with WIRE_ALLOC_MMAP). */
struct dmap {
	uint64_t	addr;
	uint64_t	len;
	uint64_t	weight;
	uint32_t	stack;
};

struct dstack {
	uint32_t	 id;
	uint16_t	 nframes;
	uint16_t	 truncated;
	uint64_t	*frames;
	uint64_t	 alloc_weight;
	uint64_t	 allocs;
	uint64_t	 live_exit;
	uint64_t	 live_end;
};

struct dcode {
	char		*filename;
	char		*name;
	int32_t		 firstlineno;
};

struct session {
	int			 fd;
	int			 hello;
	int			 eof;
	int			 corrupt;
	struct wire_hello	 h;
	struct wire_ring	*ring;		/* unmapped once finished */
	char			*data;
	size_t			 map_len;
	uint64_t		 dropped_records;	/* the header's, kept at the end */
	uint64_t		 dropped_bytes;
	uint32_t		 agent_state;

	uint64_t		 claim;		/* claim_pos as announced (wire.h, Cancelling) */
	uint64_t		 count[16];
	uint64_t		 allocated;
	uint64_t		 allocations;
	int64_t			 live;
	int64_t			 live_exit;	/* -1: no EXIT record */
	uint64_t		 unmatched_frees;
	uint64_t		 unmatched_unmaps;
	uint64_t		 reused;
	uint64_t		 unknown_stacks;
	uint64_t		 unknown_codes;
	uint64_t		 bad;
	uint32_t		 python;

	struct hmap		 addrs;		/* addr -> (weight, stack) */
	struct dmap		*maps;
	size_t			 nmaps, capmaps;
	struct hmap		 stack_ids;	/* id -> index + 1 */
	struct dstack		*stacks;
	size_t			 nstacks, capstacks;
	struct hmap		 code_ids;	/* id -> index + 1 */
	struct dcode		*codes;
	size_t			 ncodes, capcodes;
};

static struct session	**sessions;
static size_t		 capsessions;
static int		 nsessions;
static int		 verbose;
static FILE		*out;

/* Print a message and exit 99 (automake: hard error). */
static void __attribute__((noreturn, format(printf, 1, 2)))
dump_fatal(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "wire-dump: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(99);
}

/* calloc that exits on failure. */
static void *
dump_calloc(size_t n, size_t size)
{
	void	*p = calloc(n, size);

	if (p == NULL)
		dump_fatal("out of memory");
	return p;
}

/* Grow an array of *cap elements of size bytes to hold need. */
static void *
dump_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t	n = *cap != 0 ? *cap : 16;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = realloc(p, n * size);
	if (p == NULL)
		dump_fatal("out of memory");
	*cap = n;
	return p;
}

/* Mix a key into a slot index. */
static size_t
hmap_slot(const struct hmap *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

/* The values of key, or NULL. */
static struct hval *
hmap_get(struct hmap *m, uint64_t key)
{
	size_t	i;

	if (m->cap == 0)
		return NULL;
	for (i = hmap_slot(m, key); m->keys[i] != 0; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
	}
	return NULL;
}

static struct hval *hmap_put(struct hmap *, uint64_t);

/* Double the map. */
static void
hmap_grow(struct hmap *m)
{
	struct hmap	old = *m;
	size_t		i;

	m->cap = old.cap != 0 ? old.cap * 2 : 1024;
	m->keys = dump_calloc(m->cap, sizeof *m->keys);
	m->vals = dump_calloc(m->cap, sizeof *m->vals);
	m->n = 0;
	for (i = 0; i < old.cap; i++) {
		if (old.keys[i] != 0)
			*hmap_put(m, old.keys[i]) = old.vals[i];
	}
	free(old.keys);
	free(old.vals);
}

/* The values of key, inserted as zeroes if absent. */
static struct hval *
hmap_put(struct hmap *m, uint64_t key)
{
	size_t	i;

	if ((m->n + 1) * 2 > m->cap)
		hmap_grow(m);
	for (i = hmap_slot(m, key); m->keys[i] != 0; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
	}
	m->keys[i] = key;
	memset(&m->vals[i], 0, sizeof m->vals[i]);
	m->n++;
	return &m->vals[i];
}

/* Remove key (backward shift, no tombstones); 1 if it was there. */
static int
hmap_del(struct hmap *m, uint64_t key)
{
	size_t	i, j, h;

	if (m->cap == 0)
		return 0;
	for (i = hmap_slot(m, key); m->keys[i] != key; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == 0)
			return 0;
	}
	for (j = i;;) {
		j = (j + 1) & (m->cap - 1);
		if (m->keys[j] == 0)
			break;
		h = hmap_slot(m, m->keys[j]);
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		i = j;
	}
	m->keys[i] = 0;
	m->n--;
	return 1;
}

/* The stack with this id, or NULL. */
static struct dstack *
session_stack(struct session *s, uint32_t id)
{
	struct hval	*v;

	if (id == 0 || (v = hmap_get(&s->stack_ids, id)) == NULL)
		return NULL;
	return &s->stacks[v->a - 1];
}

/* The code object with this id, or NULL. */
static struct dcode *
session_code(struct session *s, uint32_t id)
{
	struct hval	*v;

	if (id == 0 || (v = hmap_get(&s->code_ids, id)) == NULL)
		return NULL;
	return &s->codes[v->a - 1];
}

/* Snapshot the live weight per stack into live_exit (at) or live_end. */
static void
session_snapshot(struct session *s, int at_exit)
{
	struct dstack	*st;
	size_t		 i;

	for (i = 0; i < s->nstacks; i++) {
		if (at_exit)
			s->stacks[i].live_exit = 0;
		else
			s->stacks[i].live_end = 0;
	}
	for (i = 0; i < s->addrs.cap; i++) {
		if (s->addrs.keys[i] == 0)
			continue;
		st = session_stack(s, (uint32_t)s->addrs.vals[i].b);
		if (st != NULL)
			*(at_exit ? &st->live_exit : &st->live_end) += s->addrs.vals[i].a;
	}
	for (i = 0; i < s->nmaps; i++) {
		st = session_stack(s, s->maps[i].stack);
		if (st != NULL)
			*(at_exit ? &st->live_exit : &st->live_end) += s->maps[i].weight;
	}
}

/* Apply an ALLOC record. */
static void
session_alloc(struct session *s, const struct wire_alloc *a)
{
	struct hval	*v;
	struct dstack	*st;

	s->allocated += a->weight;
	s->allocations++;
	s->live += (int64_t)a->weight;
	st = session_stack(s, a->stack);
	if (st != NULL) {
		st->alloc_weight += a->weight;
		st->allocs++;
	} else if (a->stack != 0)
		s->unknown_stacks++;

	if (a->allocator == WIRE_ALLOC_MMAP) {
		s->maps = dump_grow(s->maps, &s->capmaps, s->nmaps + 1, sizeof *s->maps);
		s->maps[s->nmaps].addr = a->addr;
		s->maps[s->nmaps].len = a->size;
		s->maps[s->nmaps].weight = a->weight;
		s->maps[s->nmaps].stack = a->stack;
		s->nmaps++;
		return;
	}
	v = hmap_get(&s->addrs, a->addr);
	if (v != NULL) {
		/* Its free was never seen: the newer block replaces it. */
		s->reused++;
		s->live -= (int64_t)v->a;
	} else
		v = hmap_put(&s->addrs, a->addr);
	v->a = a->weight;
	v->b = a->stack;
}

/* Apply a FREE record. */
static void
session_free(struct session *s, const struct wire_free *f)
{
	struct hval	*v = hmap_get(&s->addrs, f->addr);

	if (v == NULL) {
		if (verbose)
			fprintf(stderr, "[%d] unmatched free %#" PRIx64 "\n", s->h.pid,
			    (uint64_t)f->addr);
		s->unmatched_frees++;
		return;
	}
	s->live -= (int64_t)v->a;
	hmap_del(&s->addrs, f->addr);
}

/* Apply an UNMAP record: every recorded mapping overlapping the range loses that part. */
static void
session_unmap(struct session *s, const struct wire_unmap *u)
{
	uint64_t	end = u->addr + u->len, mend, left, right, w;
	struct dmap	*m;
	size_t		 i;
	int		 hit = 0;

	for (i = 0; i < s->nmaps; i++) {
		m = &s->maps[i];
		mend = m->addr + m->len;
		if (mend <= u->addr || m->addr >= end)
			continue;
		hit = 1;
		left = u->addr > m->addr ? u->addr - m->addr : 0;
		right = mend > end ? mend - end : 0;
		w = m->weight;
		s->live -= (int64_t)w;
		if (left != 0 && right != 0) {
			s->maps = dump_grow(s->maps, &s->capmaps, s->nmaps + 1, sizeof *s->maps);
			m = &s->maps[i];
			s->maps[s->nmaps] = *m;
			s->maps[s->nmaps].addr = end;
			s->maps[s->nmaps].len = right;
			s->maps[s->nmaps].weight = (uint64_t)((unsigned __int128)w * right / m->len);
			s->live += (int64_t)s->maps[s->nmaps].weight;
			s->nmaps++;
			m->weight = (uint64_t)((unsigned __int128)w * left / m->len);
			m->len = left;
			s->live += (int64_t)m->weight;
		} else if (left != 0 || right != 0) {
			m->weight = (uint64_t)((unsigned __int128)w * (left + right) / m->len);
			if (left == 0)
				m->addr = end;
			m->len = left + right;
			s->live += (int64_t)m->weight;
		} else {
			s->maps[i--] = s->maps[--s->nmaps];
		}
	}
	if (!hit)
		s->unmatched_unmaps++;
}

/* Apply a STACK record. */
static void
session_stack_rec(struct session *s, const struct wire_stack *ws, uint32_t plen)
{
	const uint64_t	*frames = (const uint64_t *)(ws + 1);
	struct dstack	*st;
	struct hval	*v;
	int		 i;

	if (sizeof *ws + ws->nframes * sizeof (uint64_t) > plen) {
		s->bad++;
		return;
	}
	for (i = 0; i < ws->nframes; i++) {
		if (!(frames[i] & WIRE_FRAME_NATIVE) &&
		    session_code(s, WIRE_FRAME_CODE(frames[i])) == NULL)
			s->unknown_codes++;
	}
	s->stacks = dump_grow(s->stacks, &s->capstacks, s->nstacks + 1, sizeof *s->stacks);
	st = &s->stacks[s->nstacks++];
	memset(st, 0, sizeof *st);
	st->id = ws->id;
	st->nframes = ws->nframes;
	st->truncated = ws->truncated;
	st->frames = dump_calloc(ws->nframes + 1, sizeof (uint64_t));
	memcpy(st->frames, frames, ws->nframes * sizeof (uint64_t));
	v = hmap_put(&s->stack_ids, ws->id);
	v->a = s->nstacks;
}

/* Apply a CODE record. */
static void
session_code_rec(struct session *s, const struct wire_code *wc, uint32_t plen)
{
	const char	*p = (const char *)(wc + 1);
	struct dcode	*c;
	struct hval	*v;

	if (sizeof *wc + (size_t)wc->filename_len + wc->name_len + wc->table_len > plen) {
		s->bad++;
		return;
	}
	s->codes = dump_grow(s->codes, &s->capcodes, s->ncodes + 1, sizeof *s->codes);
	c = &s->codes[s->ncodes++];
	c->filename = strndup(p, wc->filename_len);
	c->name = strndup(p + wc->filename_len, wc->name_len);
	c->firstlineno = wc->firstlineno;
	v = hmap_put(&s->code_ids, wc->id);
	v->a = s->ncodes;
}

/* Apply one record; the payload is plen bytes after the header. */
static void
session_record(struct session *s, const struct wire_rec *rec, uint32_t len, uint16_t type,
    uint16_t flags)
{
	const void		*p = rec + 1;
	uint32_t		 plen = len - (uint32_t)sizeof *rec;
	size_t			 need = 0;
	union wire_full		 full;
	struct wire_free	 gone;
	size_t			 flen = plen;

	/* The compact forms count and pair as the full ones (the controller's reading). */
	if (wire_full_form(&type, flags, &p, &flen, &full) != 0) {
		s->bad++;
		return;
	}
	plen = (uint32_t)flen;
	if (type < 16)
		s->count[type]++;
	switch (type) {
	case WIRE_REC_ALLOC:
	case WIRE_REC_ALLOC_FREED: need = sizeof (struct wire_alloc); break;
	case WIRE_REC_FREE:	need = sizeof (struct wire_free); break;
	case WIRE_REC_UNMAP:	need = sizeof (struct wire_unmap); break;
	case WIRE_REC_STACK:	need = sizeof (struct wire_stack); break;
	case WIRE_REC_CODE:	need = sizeof (struct wire_code); break;
	case WIRE_REC_PYTHON:	need = sizeof (struct wire_python); break;
	case WIRE_REC_THREAD:	need = sizeof (struct wire_thread); break;
	case WIRE_REC_MODULE:	need = sizeof (struct wire_module); break;
	case WIRE_REC_PAD:
	case WIRE_REC_EXIT:	break;
	default:
		s->bad++;
		return;
	}
	if (plen < need) {
		s->bad++;
		return;
	}
	if (verbose > 1)
		fprintf(stderr, "[%d] type %u len %u\n", s->h.pid, type, len);
	switch (type) {
	case WIRE_REC_ALLOC:
		session_alloc(s, p);
		break;
	case WIRE_REC_ALLOC_FREED:
		/* An ALLOC and its FREE in one (cancelled, wire.h): counted as both. */
		s->count[WIRE_REC_ALLOC]++;
		s->count[WIRE_REC_FREE]++;
		session_alloc(s, p);
		memset(&gone, 0, sizeof gone);
		gone.addr = ((const struct wire_alloc *)p)->addr;
		session_free(s, &gone);
		break;
	case WIRE_REC_FREE:
		session_free(s, p);
		break;
	case WIRE_REC_UNMAP:
		session_unmap(s, p);
		break;
	case WIRE_REC_STACK:
		session_stack_rec(s, p, plen);
		break;
	case WIRE_REC_CODE:
		session_code_rec(s, p, plen);
		break;
	case WIRE_REC_PYTHON:
		s->python = ((const struct wire_python *)p)->hexversion;
		break;
	case WIRE_REC_EXIT:
		if (s->live_exit == -1) {
			s->live_exit = s->live;
			session_snapshot(s, 1);
		}
		break;
	}
}

/* Drain a session's ring up to the first unpublished record. */
static void
session_drain(struct session *s)
{
	struct wire_rec	*rec;
	uint64_t	 rp, off, size, word, wr;
	uint32_t	 len;

	if (s->ring == NULL || s->corrupt)
		return;
	size = s->ring->data_size;
	for (;;) {
		rp = s->ring->read_pos;
		if (rp >= s->claim) {
			/* Claim before reading, as the controller does (wire.h, Cancelling). */
			wr = __atomic_load_n(&s->ring->write_pos, __ATOMIC_ACQUIRE);
			if (wr <= rp)
				break;
			__atomic_store_n(&s->ring->claim_pos, wr, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			s->claim = wr;
		}
		off = rp & (size - 1);
		rec = (struct wire_rec *)(s->data + off);
		word = __atomic_load_n((uint64_t *)(void *)rec, __ATOMIC_ACQUIRE);
		len = (uint32_t)word;
		if (len == 0)
			break;
		if (len < sizeof *rec || len % 8 != 0 || len > size - off) {
			fprintf(stderr, "wire-dump: pid %d: corrupt record at %" PRIu64 " (len %u)\n",
			    s->h.pid, rp, len);
			s->corrupt = 1;
			s->bad++;
			return;
		}
		session_record(s, rec, len, (uint16_t)(word >> 32), (uint16_t)(word >> 48));
		/* Zero what was consumed before giving it back, so stale bytes never look published. */
		memset(rec, 0, len);
		__atomic_store_n(&s->ring->read_pos, rp + len, __ATOMIC_RELEASE);
	}
}

/* The image is gone: drain what it published, keep the header's counters, unmap. */
static void
session_finish(struct session *s)
{
	if (s->ring == NULL)
		return;
	session_drain(s);
	s->dropped_records = s->ring->dropped_records;
	s->dropped_bytes = s->ring->dropped_bytes;
	s->agent_state = s->ring->agent_state;
	munmap(s->ring, s->map_len);
	s->ring = NULL;
	s->data = NULL;
}

/* Read the hello and map the ring that comes with it. */
static void
session_read_hello(struct session *s)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof (int))];
	} control;
	struct stat	 st;
	ssize_t		 n;
	int		 memfd = -1;
	void		*p;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = &s->h;
	iov.iov_len = sizeof s->h;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->eof = 1;
		return;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&memfd, CMSG_DATA(cmsg), sizeof memfd);
	}
	s->hello = 1;
	if (n != (ssize_t)sizeof s->h || s->h.magic != WIRE_MAGIC ||
	    s->h.version != WIRE_VERSION || memfd == -1) {
		fprintf(stderr, "wire-dump: bad hello (%zd bytes)\n", n);
		s->bad++;
		goto out;
	}
	s->h.exe[sizeof s->h.exe - 1] = '\0';
	if (fstat(memfd, &st) == -1 ||
	    (uint64_t)st.st_size < WIRE_RING_HEADER_SIZE + s->h.ring_size) {
		s->bad++;
		goto out;
	}
	s->map_len = WIRE_RING_HEADER_SIZE + s->h.ring_size;
	p = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		s->bad++;
		goto out;
	}
	s->ring = p;
	s->data = (char *)p + WIRE_RING_HEADER_SIZE;
	if (s->ring->magic != WIRE_MAGIC || s->ring->data_size != s->h.ring_size ||
	    (s->ring->data_size & (s->ring->data_size - 1)) != 0) {
		fprintf(stderr, "wire-dump: pid %d: bad ring header\n", s->h.pid);
		s->ring = NULL;
		s->bad++;
	}
out:
	if (memfd != -1)
		close(memfd);
}

/* Watch a session's socket: the hello first, then end-of-file. */
static void
session_poll(struct session *s)
{
	char	c;
	ssize_t	n;

	if (!s->hello) {
		session_read_hello(s);
		return;
	}
	n = recv(s->fd, &c, 1, MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		session_finish(s);
		s->eof = 1;
		close(s->fd);
		s->fd = -1;
	}
}

/* Describe a frame as file:function+offset, or a native address. */
static void
dump_frame(struct session *s, uint64_t f, char *buf, size_t len)
{
	struct dcode	*c;

	if (f & WIRE_FRAME_NATIVE) {
		snprintf(buf, len, "0x%" PRIx64, (uint64_t)(f & ~WIRE_FRAME_NATIVE));
		return;
	}
	c = session_code(s, WIRE_FRAME_CODE(f));
	if (c == NULL)
		snprintf(buf, len, "?code%u+%u", WIRE_FRAME_CODE(f), WIRE_FRAME_OFFSET(f));
	else
		snprintf(buf, len, "%s:%s+%u", c->filename, c->name, WIRE_FRAME_OFFSET(f));
}

/* The frame that names a stack's site: the innermost Python frame, else the innermost one. */
static uint64_t
dump_site_frame(const struct dstack *st)
{
	int	i;

	for (i = 0; i < st->nframes; i++) {
		if (!(st->frames[i] & WIRE_FRAME_NATIVE))
			return st->frames[i];
	}
	return st->nframes > 0 ? st->frames[0] : WIRE_FRAME_NATIVE;
}

/* A key for a stack's content, so that ids of the same stack from several threads merge. */
static uint64_t
dump_stack_key(struct session *s, const struct dstack *st)
{
	uint64_t	 h = 1469598103934665603ULL;
	struct dcode	*c;
	const char	*q;
	int		 i;

	for (i = 0; i < st->nframes; i++) {
		if (st->frames[i] & WIRE_FRAME_NATIVE) {
			h = (h ^ st->frames[i]) * 1099511628211ULL;
			continue;
		}
		c = session_code(s, WIRE_FRAME_CODE(st->frames[i]));
		for (q = c != NULL ? c->filename : "?"; *q != '\0'; q++)
			h = (h ^ (unsigned char)*q) * 1099511628211ULL;
		for (q = c != NULL ? c->name : "?"; *q != '\0'; q++)
			h = (h ^ (unsigned char)*q) * 1099511628211ULL;
		h = (h ^ WIRE_FRAME_OFFSET(st->frames[i])) * 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

struct dump_agg {
	uint64_t	 key;
	uint64_t	 alloc;
	uint64_t	 count;
	uint64_t	 live_exit;
	uint64_t	 live_end;
	struct dstack	*st;
};

/* Sort aggregates by allocated weight, descending. */
static int
dump_agg_cmp(const void *a, const void *b)
{
	const struct dump_agg	*x = a, *y = b;

	if (x->alloc != y->alloc)
		return x->alloc < y->alloc ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* Aggregate the stacks of s by key (content, or site frame); returns the count. */
static size_t
dump_aggregate(struct session *s, int by_site, struct dump_agg **aggp)
{
	struct dump_agg	*agg = dump_calloc(s->nstacks + 1, sizeof *agg);
	struct hmap	 idx;
	struct hval	*v;
	struct dstack	*st;
	size_t		 i, n = 0;
	uint64_t	 key;

	memset(&idx, 0, sizeof idx);
	for (i = 0; i < s->nstacks; i++) {
		st = &s->stacks[i];
		if (by_site) {
			char	buf[1024];

			dump_frame(s, dump_site_frame(st), buf, sizeof buf);
			key = 1469598103934665603ULL;
			for (char *q = buf; *q != '\0'; q++)
				key = (key ^ (unsigned char)*q) * 1099511628211ULL;
			if (key == 0)
				key = 1;
		} else
			key = dump_stack_key(s, st);
		v = hmap_put(&idx, key);
		if (v->a == 0) {
			agg[n].key = key;
			agg[n].st = st;
			v->a = ++n;
		}
		agg[v->a - 1].alloc += st->alloc_weight;
		agg[v->a - 1].count += st->allocs;
		agg[v->a - 1].live_exit += st->live_exit;
		agg[v->a - 1].live_end += st->live_end;
	}
	free(idx.keys);
	free(idx.vals);
	qsort(agg, n, sizeof *agg, dump_agg_cmp);
	*aggp = agg;
	return n;
}

/* Print everything known about one process image. */
static void
session_report(struct session *s, int sites)
{
	struct dump_agg	*agg;
	char		 buf[1024];
	size_t		 n, i;

	session_snapshot(s, 0);
	fprintf(out, "process pid=%d ppid=%d exe=%s mode=%s sample_every=%" PRIu64
	    " python=%#x eof=%d", s->h.pid, s->h.ppid, s->h.exe,
	    s->h.sample_every == 0 ? "exact" : "sample", s->h.sample_every,
	    s->python, s->eof);
	fprintf(out, " alloc=%" PRIu64 " free=%" PRIu64 " cancelled=%" PRIu64 " stack=%" PRIu64
	    " code=%" PRIu64 " unmap=%" PRIu64 " exit=%" PRIu64 " thread=%" PRIu64
	    " python_recs=%" PRIu64 " pad=%" PRIu64,
	    s->count[WIRE_REC_ALLOC], s->count[WIRE_REC_FREE],
	    s->count[WIRE_REC_ALLOC_FREED], s->count[WIRE_REC_STACK], s->count[WIRE_REC_CODE],
	    s->count[WIRE_REC_UNMAP], s->count[WIRE_REC_EXIT],
	    s->count[WIRE_REC_THREAD], s->count[WIRE_REC_PYTHON],
	    s->count[WIRE_REC_PAD]);
	fprintf(out, " allocated=%" PRIu64 " live_exit=%" PRId64 " live_end=%" PRId64,
	    s->allocated, s->live_exit, s->live);
	fprintf(out, " dropped_records=%" PRIu64 " dropped_bytes=%" PRIu64
	    " agent_state=%u",
	    s->dropped_records, s->dropped_bytes, s->agent_state);
	fprintf(out, " unmatched_frees=%" PRIu64 " unmatched_unmaps=%" PRIu64
	    " reused=%" PRIu64 " unknown_stacks=%" PRIu64 " unknown_codes=%" PRIu64
	    " bad=%" PRIu64 "\n", s->unmatched_frees, s->unmatched_unmaps,
	    s->reused, s->unknown_stacks, s->unknown_codes, s->bad);

	n = dump_aggregate(s, 0, &agg);
	for (i = 0; i < n && i < DUMP_TOP; i++) {
		dump_frame(s, dump_site_frame(agg[i].st), buf, sizeof buf);
		fprintf(out, "  top%zu %" PRIu64 " bytes in %" PRIu64 " allocations at %s"
		    " (%u frames%s)\n", i + 1, agg[i].alloc, agg[i].count, buf,
		    agg[i].st->nframes, agg[i].st->truncated ? ", truncated" : "");
	}
	free(agg);

	if (!sites)
		return;
	n = dump_aggregate(s, 1, &agg);
	for (i = 0; i < n; i++) {
		dump_frame(s, dump_site_frame(agg[i].st), buf, sizeof buf);
		fprintf(out, "site pid=%d frame=%s alloc=%" PRIu64 " count=%" PRIu64
		    " live_exit=%" PRIu64 " live_end=%" PRIu64 "\n", s->h.pid, buf,
		    agg[i].alloc, agg[i].count, agg[i].live_exit, agg[i].live_end);
	}
	free(agg);
}

/* Milliseconds of CLOCK_MONOTONIC. */
static uint64_t
dump_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Set name=value in the environment or die. */
static void
dump_setenv(const char *name, const char *value)
{
	if (setenv(name, value, 1) == -1)
		dump_fatal("setenv %s: %s", name, strerror(errno));
}

/* Print usage and exit 99. */
static void __attribute__((noreturn))
dump_usage(void)
{
	fprintf(stderr, "usage: wire-dump [-eNnSv] [-a agent] [-D ms] [-o file] [-r size]\n"
	    "                 [-s size] [-w secs] [-z ms] [--] command [arg ...]\n");
	exit(99);
}

/* Accept a new connection, if any. */
static void
dump_accept(int lfd)
{
	struct session	*s;
	int		 fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) != -1) {
		sessions = dump_grow(sessions, &capsessions, (size_t)nsessions + 1,
		    sizeof *sessions);
		s = dump_calloc(1, sizeof *s);
		s->fd = fd;
		s->live_exit = -1;
		sessions[nsessions++] = s;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	struct pollfd		*pfd = NULL;
	size_t			 cappfd = 0;
	const char		*agent = getenv("MEMPROF_AGENT"), *outpath = NULL;
	char			 name[96], buf[4096], *old;
	uint64_t		 start, detach_ms = 0, stall_ms = 0, wait_s = 5, exited_at = 0;
	pid_t			 child, w;
	int			 opt, lfd, status = 0, done = 0, sites = 0, i, n, open_n;

	out = stdout;
	while ((opt = getopt(argc, argv, "+a:D:eNno:r:Ss:vw:z:")) != -1) {
		switch (opt) {
		case 'a': agent = optarg; break;
		case 'D': detach_ms = strtoull(optarg, NULL, 10); break;
		case 'e': dump_setenv(WIRE_ENV_SAMPLE_EVERY, "0"); break;
		case 'N': dump_setenv(WIRE_ENV_FOLLOW, "0"); break;
		case 'n': dump_setenv(WIRE_ENV_NATIVE, "1"); break;
		case 'o': outpath = optarg; break;
		case 'r': dump_setenv(WIRE_ENV_RING_SIZE, optarg); break;
		case 'S': sites = 1; break;
		case 's': dump_setenv(WIRE_ENV_SAMPLE_EVERY, optarg); break;
		case 'v': verbose++; break;
		case 'w': wait_s = strtoull(optarg, NULL, 10); break;
		case 'z': stall_ms = strtoull(optarg, NULL, 10); break;
		default: dump_usage();
		}
	}
	if (optind == argc || agent == NULL)
		dump_usage();
	/* LD_PRELOAD needs a path that stays valid whatever the child's working folder. */
	if ((agent = realpath(agent, NULL)) == NULL)
		dump_fatal("agent: %s", strerror(errno));
	if (outpath != NULL && (out = fopen(outpath, "w")) == NULL)
		dump_fatal("%s: %s", outpath, strerror(errno));

	snprintf(name, sizeof name, "memprof-dump.%d.%ld", (int)getpid(), (long)dump_now_ms());
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd == -1)
		dump_fatal("socket: %s", strerror(errno));
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name, strlen(name));
	if (bind(lfd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) == -1 ||
	    listen(lfd, 128) == -1)
		dump_fatal("bind: %s", strerror(errno));

	start = dump_now_ms();
	child = fork();
	if (child == -1)
		dump_fatal("fork: %s", strerror(errno));
	if (child == 0) {
		snprintf(buf, sizeof buf, "@%s", name);
		dump_setenv(WIRE_ENV_SOCKET, buf);
		old = getenv("LD_PRELOAD");
		if (old != NULL && *old != '\0')
			snprintf(buf, sizeof buf, "%s:%s", agent, old);
		else
			snprintf(buf, sizeof buf, "%s", agent);
		dump_setenv("LD_PRELOAD", buf);
		snprintf(buf, sizeof buf, "%d", (int)getpid());
		dump_setenv(WIRE_ENV_ROOT_PID, buf);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "wire-dump: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	signal(SIGPIPE, SIG_IGN);

	while (!done) {
		pfd = dump_grow(pfd, &cappfd, (size_t)nsessions + 1, sizeof *pfd);
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < nsessions; i++) {
			pfd[i + 1].fd = sessions[i]->fd;
			pfd[i + 1].events = POLLIN;
		}
		n = poll(pfd, (nfds_t)nsessions + 1, 2);
		if (n == -1 && errno != EINTR)
			dump_fatal("poll: %s", strerror(errno));
		dump_accept(lfd);
		for (i = 0; i < nsessions; i++) {
			if (sessions[i]->fd != -1)
				session_poll(sessions[i]);
		}
		if (dump_now_ms() - start >= stall_ms) {
			for (i = 0; i < nsessions; i++)
				session_drain(sessions[i]);
		}
		/* Once asked, every ring is told, those of processes started later too. */
		if (detach_ms != 0 && dump_now_ms() - start >= detach_ms) {
			for (i = 0; i < nsessions; i++) {
				if (sessions[i]->ring != NULL)
					__atomic_store_n(&sessions[i]->ring->controller_state,
					    WIRE_CTL_DETACH, __ATOMIC_RELAXED);
			}
		}
		if (exited_at == 0) {
			w = waitpid(child, &status, WNOHANG);
			if (w == child)
				exited_at = dump_now_ms();
		}
		if (exited_at != 0) {
			open_n = 0;
			for (i = 0; i < nsessions; i++)
				open_n += sessions[i]->fd != -1;
			if (open_n == 0 || dump_now_ms() - exited_at > wait_s * 1000)
				done = 1;
		}
	}
	for (i = 0; i < nsessions; i++)
		session_finish(sessions[i]);
	for (i = 0; i < nsessions; i++) {
		if (sessions[i]->hello)
			session_report(sessions[i], sites);
	}
	fprintf(out, "sessions=%d\n", nsessions);
	fflush(out);

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 99;
}
