/*
 * collect.h: the recording loop shared by `run` and `attach`: agents'
 * records go from the channel into the capture file and into the live
 * model, with RSS samples and clock ticks for memory over time.
 */

#ifndef MEMPROF_COLLECT_H
#define MEMPROF_COLLECT_H

#include <stdint.h>

#include "capture.h"
#include "channel.h"
#include "modules.h"
#include "profile.h"

struct collect {
	struct channel		 chan;
	struct capture_writer	*writer;
	struct profile		*pf;		/* the live model */
	uint64_t		 t0_ns;		/* CLOCK_MONOTONIC at start */
	uint64_t		 last_tick_ns;
	uint64_t		 last_flush_ns;
	uint64_t		 records;
	int			 busy;		/* the last drain found records */
	struct modules		*modules;	/* /proc/PID/maps watcher (native frames) */
};

int	collect_start(struct collect *, const char *path, uint64_t sample_every,
	    uint32_t flags, char **argv, char **cause);
/* One round: wait up to timeout_ms for agents, drain every ring, tick. */
void	collect_step(struct collect *, int timeout_ms);
/* Final drain, trailer and close; -1 and a message if the capture lost data. */
int	collect_finish(struct collect *, char **cause);
uint64_t collect_now_ns(void);

#endif /* MEMPROF_COLLECT_H */
