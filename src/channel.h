/*
 * channel.h: the controller's end of the agent channel (wire.h): the
 * listening abstract socket, one connection per process image, and the
 * consumer side of each image's shared ring.
 */

#ifndef MEMPROF_CHANNEL_H
#define MEMPROF_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

struct channel_conn {
	int			 fd;		/* the connection; -1 once closed */
	uint32_t		 serial;	/* process image serial, 0 before the hello */
	struct wire_hello	 hello;
	struct wire_ring	*ring;		/* mapped header page + data */
	size_t			 map_len;
	unsigned char		*data;
	uint64_t		 pos;		/* the next record to read */
	uint64_t		 released;	/* read_pos as last published */
	int			 punch;		/* release whole pages to the kernel (channel_release) */
	int			 idle_return;	/* an exact ring given back when still (channel_idle_return) */
	uint64_t		 idle_since;	/* still since when (ms, CLOCK_MONOTONIC); 0: not still */
	uint64_t		 returned;	/* write_pos after the last idle return (channel_idle_return) */
	uint64_t		 claim;		/* claim_pos as last announced */
	uint64_t		 seen_write;	/* write_pos at the last claim */
	int			 held;		/* the last claim held records back */
	int			 broken;	/* the ring held garbage: stop reading it */
	int			 ended;		/* EOF seen and the ring drained for the last time */
};

struct channel {
	int			 listen_fd;
	char			 name[64];	/* abstract name, without the leading NUL */
	char			 env[68];	/* "@" + name, the MEMPROF_SOCKET value */
	struct channel_conn	**conns;
	size_t			 nconns;
	uint32_t		 next_serial;
	int			 held;		/* the last drain held records back */
};

/* Handle one record; return -1 to stop reading this ring (malformed record). */
typedef int (*channel_record_cb)(void *arg, struct channel_conn *, uint16_t type,
	    uint16_t flags, const void *payload, size_t len);

int	channel_listen(struct channel *, char **cause);
void	channel_close(struct channel *);
/*
 * Wait up to timeout_ms for activity, accept connections, read hellos and
 * notice ends of file.  New images and ended ones are reported through the
 * callbacks (hello: after its ring is mapped; end: after a last drain).
 */
struct channel_events {
	void	(*hello)(void *arg, struct channel_conn *);
	void	(*end)(void *arg, struct channel_conn *);
	channel_record_cb record;
	void	*arg;
};
void	channel_poll(struct channel *, int timeout_ms, const struct channel_events *);
/*
 * At most this many records per ring per call: a target flooding its ring
 * (--exact) must not keep one collector step going for seconds, so that the
 * clock ticks, the other rings and the dashboard's reads come in between.
 */
#define CHANNEL_DRAIN_MAX	65536

/*
 * Drain every ring; returns the number of records read.  hold: while an
 * exact agent keeps writing, leave its newest records for a later call
 * (channel.c; ch->held then says some were); 0: read everything published.
 */
size_t	channel_drain_all(struct channel *, const struct channel_events *, int hold);
/* Number of images still connected. */
size_t	channel_open_count(const struct channel *);
/* Ask every connected agent to stop recording (attach's detach). */
void	channel_request_detach(struct channel *);

#endif /* MEMPROF_CHANNEL_H */
