/*
 * agent-load.c: the agent's load-time entry.  Until the recorder lands this
 * library only proves that it loads cleanly into any process: it changes
 * nothing, allocates nothing and exports nothing but memprof_agent_version.
 */

#include "agent.h"

AGENT_EXPORT unsigned	memprof_agent_version(void);

/* The wire protocol this agent speaks; lets the controller check a library it found. */
AGENT_EXPORT unsigned
memprof_agent_version(void)
{
	return WIRE_VERSION;
}
