/*
 * agent-attach.h: attach mode inside the agent (agent-attach.c, agent-got.c)
 * and the two entry points agent-core.c gives it.  Nothing here is used in
 * run mode.
 */

#ifndef MEMPROF_AGENT_ATTACH_H
#define MEMPROF_AGENT_ATTACH_H

#include "agent-core.h"

/* agent-got.c */

/* Point every loaded module's allocator slots at the hooks; slots written, or -1. */
int	agent_got_patch(void);
/* Patch modules loaded since (idempotent). */
void	agent_got_refresh(void);
/* Patch again if dl_iterate_phdr says modules were added (cheap otherwise). */
void	agent_got_poll(void);
/* Give every patched slot libc's function back; slots written. */
int	agent_got_restore(void);

/* agent-core.c */

/*
 * Start a session in an already running process: socket is the controller's
 * "@name", cfg the options.  Returns the connected socket, or -1 with
 * nothing left behind (recording stays off).
 */
int	agent_core_attach(const char *socket, const struct agent_config *cfg);
/*
 * End an attach session: recording off, the ring released after in-flight
 * records had time to land, then the connection closed (the controller's
 * end of file).
 */
void	agent_core_detach(void);

#endif /* MEMPROF_AGENT_ATTACH_H */
