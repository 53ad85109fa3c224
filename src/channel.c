/*
 * channel.c: accepting agents and draining their rings.
 *
 * Every connection's first message is a struct wire_hello with the ring's
 * memfd attached.  The ring is mapped once the header checks out (magic,
 * version, a power-of-two size that matches the memfd's length).  The ring
 * belongs to an untrusted process, so every record header read from it is
 * checked before use and a bad one marks the ring broken rather than
 * crashing the controller.  End of file on a connection means the image
 * exited or exec'd: its ring is drained one last time and unmapped.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "channel.h"

/* The largest ring the controller maps (the agent's default is 4 MiB). */
#define CHANNEL_RING_MAX	(1ULL << 30)
/* A sampling ring goes back to the kernel CHANNEL_PUNCH bytes at a time (channel_release). */
#define CHANNEL_PAGE		4096U
#define CHANNEL_PUNCH		(64U << 10)
/* An exact ring still for this long goes back to the kernel (channel_idle_return). */
#define CHANNEL_IDLE_MS		1000U

/* Listen on a fresh abstract socket named after our pid and a random tag. */
int
channel_listen(struct channel *ch, char **cause)
{
	struct sockaddr_un	sun;
	struct timespec		ts;
	socklen_t		len;
	size_t			n;

	memset(ch, 0, sizeof *ch);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(ch->name, sizeof ch->name, "memprof.%d.%lx", (int)getpid(),
	    (unsigned long)(ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20)));
	snprintf(ch->env, sizeof ch->env, "@%s", ch->name);
	ch->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ch->listen_fd < 0) {
		xasprintf(cause, "cannot create the agent socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	n = strlen(ch->name);
	memcpy(sun.sun_path + 1, ch->name, n);	/* sun_path[0] == 0: abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	if (bind(ch->listen_fd, (struct sockaddr *)&sun, len) != 0 ||
	    listen(ch->listen_fd, 64) != 0) {
		xasprintf(cause, "cannot listen on the agent socket: %s", strerror(errno));
		close(ch->listen_fd);
		return -1;
	}
	ch->next_serial = 1;
	return 0;
}

/* Unmap one connection's ring and close its socket. */
static void
channel_conn_close(struct channel_conn *c)
{
	if (c->ring != NULL)
		munmap(c->ring, c->map_len);
	c->ring = NULL;
	c->data = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Close every connection and the listening socket. */
void
channel_close(struct channel *ch)
{
	size_t	i;

	for (i = 0; i < ch->nconns; i++) {
		channel_conn_close(ch->conns[i]);
		free(ch->conns[i]);
	}
	free(ch->conns);
	ch->conns = NULL;
	ch->nconns = 0;
	if (ch->listen_fd >= 0)
		close(ch->listen_fd);
	ch->listen_fd = -1;
}

/* Map a ring memfd after checking its header; -1 if it is not a valid ring. */
static int
channel_map_ring(struct channel_conn *c, int memfd)
{
	struct wire_ring	*hdr;
	struct stat		 st;
	uint64_t		 size;

	if (fstat(memfd, &st) != 0 || st.st_size < (off_t)WIRE_RING_HEADER_SIZE)
		return -1;
	hdr = mmap(NULL, WIRE_RING_HEADER_SIZE, PROT_READ, MAP_SHARED, memfd, 0);
	if (hdr == MAP_FAILED)
		return -1;
	size = hdr->data_size;
	if (hdr->magic != WIRE_MAGIC || hdr->version != WIRE_VERSION ||
	    hdr->header_size != WIRE_RING_HEADER_SIZE || size < 4096 ||
	    size > CHANNEL_RING_MAX || (size & (size - 1)) != 0 ||
	    (uint64_t)st.st_size < WIRE_RING_HEADER_SIZE + size) {
		munmap(hdr, WIRE_RING_HEADER_SIZE);
		return -1;
	}
	munmap(hdr, WIRE_RING_HEADER_SIZE);
	c->map_len = WIRE_RING_HEADER_SIZE + size;
	c->ring = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (c->ring == MAP_FAILED) {
		c->ring = NULL;
		return -1;
	}
	c->data = (unsigned char *)c->ring + WIRE_RING_HEADER_SIZE;
	c->pos = c->released = __atomic_load_n(&c->ring->read_pos, __ATOMIC_ACQUIRE);
	return 0;
}

/*
 * Whether c's pages can go back to the kernel (channel_release for a
 * sampling ring, channel_idle_return for an exact one): a ring of at least
 * 16 punches (what is held back is then a sixteenth of it at most), with
 * pages the size its header is aligned to.
 */
static int
channel_returnable(const struct channel_conn *c)
{
	return sysconf(_SC_PAGESIZE) == CHANNEL_PAGE &&
	    c->map_len - WIRE_RING_HEADER_SIZE >= 16 * CHANNEL_PUNCH;
}

/* Receive the hello and its memfd; 0 done, -1 bad (close the connection). */
static int
channel_read_hello(struct channel *ch, struct channel_conn *c)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	struct ucred	 cred;
	socklen_t	 credlen = sizeof cred;
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	} u;
	ssize_t		 n;
	int		 memfd = -1, rc = -1;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = &c->hello;
	iov.iov_len = sizeof c->hello;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&memfd, CMSG_DATA(cm), sizeof memfd);
	}
	if (n == (ssize_t)sizeof c->hello && c->hello.magic == WIRE_MAGIC &&
	    c->hello.version == WIRE_VERSION && memfd >= 0 && channel_map_ring(c, memfd) == 0) {
		c->hello.exe[sizeof c->hello.exe - 1] = '\0';
		/* Trust the kernel, not the message, for who is on the other end. */
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0 && cred.pid > 0)
			c->hello.pid = cred.pid;
		c->serial = ch->next_serial++;
		c->punch = channel_returnable(c) && !(c->hello.flags & WIRE_HELLO_EXACT);
		c->idle_return = channel_returnable(c) && (c->hello.flags & WIRE_HELLO_EXACT);
		rc = 0;
	}
	if (memfd >= 0)
		close(memfd);
	return rc;
}

/* Accept every pending connection. */
static void
channel_accept(struct channel *ch)
{
	struct channel_conn	*c;
	int			 fd;

	while ((fd = accept4(ch->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		c = xcalloc(1, sizeof *c);
		c->fd = fd;
		ch->conns = xreallocarray(ch->conns, ch->nconns + 1, sizeof *ch->conns);
		ch->conns[ch->nconns++] = c;
	}
}

/*
 * Zero the consumed bytes between ring positions from and to (at most one
 * lap), so the next lap never reads stale lengths.
 */
static void
channel_zero(struct channel_conn *c, uint64_t mask, uint64_t from, uint64_t to)
{
	uint64_t	off = from & mask, n = to - from, first;

	first = n <= mask + 1 - off ? n : mask + 1 - off;
	memset(c->data + off, 0, first);
	if (n > first)
		memset(c->data, 0, n - first);
}

/* Punch the whole pages of ring positions [from, to) (at most one lap) out of the memfd. */
static int
channel_punch(struct channel_conn *c, uint64_t mask, uint64_t from, uint64_t to)
{
	uint64_t	off = from & mask, n = to - from, first;

	first = n <= mask + 1 - off ? n : mask + 1 - off;
	if (madvise(c->data + off, first, MADV_REMOVE) != 0)
		return -1;
	if (n > first && madvise(c->data, n - first, MADV_REMOVE) != 0)
		return -1;
	return 0;
}

/*
 * Give the bytes consumed up to pos back to the producers: zero them, then
 * publish read_pos (wire.h).  A sampling ring instead returns whole pages
 * to the kernel (a hole punched in the memfd reads back as zeros), 64 KiB
 * at a time (one call, one TLB flush in the agent), and publishes read_pos
 * at the last 64 KiB boundary, the rest waiting until it is consumed whole:
 * its agent writes a few records a second, so the pages it faults in again
 * cost it nothing that shows, and the ring stays typically under 128 KiB
 * resident instead of up to all of it (4 MiB per process, charged to the
 * program's container).  An exact ring is rewritten at tens of megabytes a
 * second and is zeroed in place: a fault per page would cost its agent
 * more than the memory is worth.  A page whose bytes of the next lap could
 * already be reserved is never punched: only [released, pos) is, and
 * producers stay before released + ring size.
 */
static void
channel_release(struct channel_conn *c, uint64_t mask, uint64_t pos)
{
	uint64_t	to = pos;

	if (c->punch) {
		to = pos & ~(uint64_t)(CHANNEL_PUNCH - 1);
		if (to <= c->released)
			return;
		if (channel_punch(c, mask, c->released, to) != 0) {
			/* Not on this kernel or file system: zero in place from now on. */
			c->punch = 0;
			to = pos;
			channel_zero(c, mask, c->released, pos);
		}
	} else
		channel_zero(c, mask, c->released, pos);
	c->released = to;
	__atomic_store_n(&c->ring->read_pos, to, __ATOMIC_RELEASE);
}

/*
 * Claims (wire.h, Cancelling).  The consumer announces how far it may read
 * before it reads, CHANNEL_CLAIM_STEP bytes at a time (one fence per step),
 * so that an exact agent can still cancel the ALLOCs beyond.  While an exact
 * agent keeps writing it also leaves the newest CHANNEL_HOLD bytes (an
 * eighth of a smaller ring) unclaimed: the blocks that die within that
 * stretch, most of a Python program's, then never cost the program a FREE
 * nor the controller two records.  Once write_pos stands still between two
 * claims, or the caller wants everything, the rest is read: a program that
 * stops allocating is seen whole within one round.  Returns the new claim
 * (maybe still pos).
 */
#define CHANNEL_CLAIM_STEP	(64U << 10)
#define CHANNEL_HOLD		(256U << 10)

static uint64_t
channel_claim(struct channel_conn *c, uint64_t pos, int hold)
{
	struct wire_ring	*r = c->ring;
	uint64_t		 wr, end, held;

	wr = __atomic_load_n(&r->write_pos, __ATOMIC_ACQUIRE);
	end = wr;
	if (hold && (c->hello.flags & WIRE_HELLO_EXACT) && wr != c->seen_write) {
		/* At most an eighth of the ring: a producer must never wait on the hold. */
		held = c->map_len - WIRE_RING_HEADER_SIZE;
		held = held / 8 < CHANNEL_HOLD ? held / 8 : CHANNEL_HOLD;
		end = wr - pos > held ? wr - held : pos;
		c->held = 1;
	} else
		c->held = 0;
	c->seen_write = wr;
	if (end > pos && end - pos > CHANNEL_CLAIM_STEP)
		end = pos + CHANNEL_CLAIM_STEP;
	if (end > c->claim) {
		__atomic_store_n(&r->claim_pos, end, __ATOMIC_RELAXED);
		/* Before any record it covers is read (store, fence, load: see wire.h). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		c->claim = end;
	}
	return c->claim;
}

/*
 * Read the published records of one ring (up to CHANNEL_DRAIN_MAX) and
 * release their space, a batch of records at a time (channel_release).
 * Returns the number of records read.
 */
static size_t
channel_drain(struct channel_conn *c, const struct channel_events *ev, int hold)
{
	struct wire_ring	*r = c->ring;
	struct wire_rec		*rec;
	uint64_t		 pos, mask, off, word, claim;
	uint32_t		 len;
	size_t			 n = 0;

	if (r == NULL || c->broken) {
		c->held = 0;	/* an ended or broken ring holds nothing back */
		return 0;
	}
	mask = c->map_len - WIRE_RING_HEADER_SIZE - 1;
	pos = c->pos;
	claim = c->claim;
	for (;;) {
		if (pos >= claim && (claim = channel_claim(c, pos, hold)) <= pos)
			break;
		off = pos & mask;
		rec = (struct wire_rec *)(c->data + off);
		/* The whole header at once: a producer may be cancelling this ALLOC (wire.h). */
		word = __atomic_load_n((uint64_t *)(void *)rec, __ATOMIC_ACQUIRE);
		len = (uint32_t)word;
		if (len == 0)
			break;
		if (len < sizeof *rec || (len & 7) != 0 || len > mask + 1 - off) {
			c->broken = 1;
			break;
		}
		if ((uint16_t)(word >> 32) != WIRE_REC_PAD &&
		    ev->record(ev->arg, c, (uint16_t)(word >> 32), (uint16_t)(word >> 48),
		    rec + 1, len - sizeof *rec) != 0) {
			c->broken = 1;
			break;
		}
		pos += len;
		n++;
		/* Release space in batches so producers waiting on a full ring move on. */
		if ((n & 1023) == 0) {
			c->pos = pos;
			channel_release(c, mask, pos);
		}
		if (n >= CHANNEL_DRAIN_MAX)
			break;
	}
	c->pos = pos;
	channel_release(c, mask, pos);
	return n;
}

/* Milliseconds of CLOCK_MONOTONIC, never 0. */
static uint64_t
channel_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
}

/*
 * An exact ring is zeroed in place as it is read (channel_release), so a
 * process that allocated a lap's worth once keeps all 16 MiB of it
 * resident, idle or not; and its free space cannot simply be punched, since
 * a producer may reserve it at any moment.  So once the ring has stood
 * still for CHANNEL_IDLE_MS (everything written has been read, write_pos
 * unchanged), the consumer reserves that free space itself, as a producer
 * would, with a compare-and-swap of write_pos (which fails, and changes
 * nothing, if a producer reserved first), punches its whole pages out of
 * the memfd and reads on past it, releasing it at once.  The free space is
 * all zeros (wire.h), so nothing needs writing; the last CHANNEL_PUNCH
 * bytes before read_pos + size stay free for producers meanwhile.  Done
 * once per stillness.
 */
static void
channel_idle_return(struct channel_conn *c, size_t nread)
{
	struct wire_ring	*r = c->ring;
	uint64_t		 mask, wr, end, from, now;

	if (r == NULL || c->broken || !c->idle_return)
		return;
	/* Still: nothing read this round and nothing unread (so write_pos has not moved). */
	wr = __atomic_load_n(&r->write_pos, __ATOMIC_ACQUIRE);
	if (nread != 0 || wr != c->pos || wr == c->returned) {
		c->idle_since = 0;
		return;
	}
	now = channel_now_ms();
	if (c->idle_since == 0) {
		c->idle_since = now;
		return;
	}
	if (now - c->idle_since < CHANNEL_IDLE_MS)
		return;
	mask = c->map_len - WIRE_RING_HEADER_SIZE - 1;
	end = (c->released + mask + 1 - CHANNEL_PUNCH) & ~(uint64_t)(CHANNEL_PAGE - 1);
	from = (wr + CHANNEL_PAGE - 1) & ~(uint64_t)(CHANNEL_PAGE - 1);
	c->idle_since = 0;
	if (end <= from || !__atomic_compare_exchange_n(&r->write_pos, &wr, end, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	/* [wr, end) is ours now: no producer writes there until read_pos passes it. */
	(void)channel_punch(c, mask, from, end);
	c->pos = c->released = c->returned = end;
	if (c->claim < end) {
		__atomic_store_n(&r->claim_pos, end, __ATOMIC_RELAXED);
		c->claim = end;
	}
	__atomic_store_n(&r->read_pos, end, __ATOMIC_RELEASE);
}

/* Drain every ring; returns the number of records read. */
size_t
channel_drain_all(struct channel *ch, const struct channel_events *ev, int hold)
{
	size_t	i, n = 0, nread;

	ch->held = 0;
	for (i = 0; i < ch->nconns; i++) {
		nread = channel_drain(ch->conns[i], ev, hold);
		channel_idle_return(ch->conns[i], nread);
		ch->held |= ch->conns[i]->held;
		n += nread;
	}
	return n;
}

/* Handle readable data or end of file on one connection. */
static void
channel_service(struct channel *ch, struct channel_conn *c, const struct channel_events *ev)
{
	char	buf[64];
	ssize_t	n;

	if (c->serial == 0) {
		switch (channel_read_hello(ch, c)) {
		case 0:
			ev->hello(ev->arg, c);
			return;
		case 1:
			return;
		default:
			channel_conn_close(c);
			c->ended = 1;
			return;
		}
	}
	/* After the hello the agent sends nothing; readable means end of file. */
	n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	while (channel_drain(c, ev, 0) > 0)
		;
	c->ended = 1;
	ev->end(ev->arg, c);
	channel_conn_close(c);
}

/* Wait for activity (at most timeout_ms), then accept, read hellos, handle ends. */
void
channel_poll(struct channel *ch, int timeout_ms, const struct channel_events *ev)
{
	struct pollfd	*pfd;
	size_t		 i, n = 0;

	pfd = xcalloc(ch->nconns + 1, sizeof *pfd);
	pfd[n].fd = ch->listen_fd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < ch->nconns; i++) {
		pfd[n].fd = ch->conns[i]->fd;	/* a negative fd is ignored by poll */
		pfd[n++].events = POLLIN;
	}
	if (poll(pfd, n, timeout_ms) > 0) {
		if (pfd[0].revents & POLLIN)
			channel_accept(ch);
		for (i = 0; i + 1 < n; i++) {
			if (pfd[i + 1].revents != 0 && ch->conns[i]->fd >= 0)
				channel_service(ch, ch->conns[i], ev);
		}
		/*
		 * New connections at once: an agent that connected, said hello
		 * and ended just before the last poll (a pool worker reaped by
		 * its parent) must not wait for a poll that never comes.
		 */
		for (i = n - 1; i < ch->nconns; i++)
			channel_service(ch, ch->conns[i], ev);
	}
	free(pfd);
}

/* Number of connections still open (images that have not ended). */
size_t
channel_open_count(const struct channel *ch)
{
	size_t	i, n = 0;

	for (i = 0; i < ch->nconns; i++)
		n += ch->conns[i]->fd >= 0;
	return n;
}

/* Ask every connected agent to stop recording. */
void
channel_request_detach(struct channel *ch)
{
	size_t	i;

	for (i = 0; i < ch->nconns; i++) {
		if (ch->conns[i]->ring != NULL)
			__atomic_store_n(&ch->conns[i]->ring->controller_state, WIRE_CTL_DETACH,
			    __ATOMIC_RELEASE);
	}
}
