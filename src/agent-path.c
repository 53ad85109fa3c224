/*
 * agent-path.c: where the controller finds the agent library.
 *
 * In order: $MEMPROF_AGENT (tests and unusual installs), the libtool build
 * tree next to the running binary (./.libs/libmemprof.so, so a freshly built
 * memprof works without installing), then the install location compiled in
 * (MEMPROF_AGENT_DIR, $(pkglibdir)).  The result is an absolute path, as
 * LD_PRELOAD needs one that stays valid whatever the child's working folder.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"

#ifndef MEMPROF_AGENT_DIR
#define MEMPROF_AGENT_DIR "/usr/local/lib/memprof"
#endif
#define AGENT_PATH_NAME	"libmemprof.so"

/* Return the agent's absolute path (caller frees), or NULL and a message. */
char *
agent_path_find(char **cause)
{
	char		 exe[PATH_MAX], *slash, *path, *real;
	const char	*env;
	ssize_t		 n;

	env = getenv("MEMPROF_AGENT");
	if (env != NULL && *env != '\0') {
		real = realpath(env, NULL);
		if (real == NULL || access(real, R_OK) != 0) {
			xasprintf(cause, "MEMPROF_AGENT=%s: %s", env, strerror(errno));
			free(real);
			return NULL;
		}
		return real;
	}

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			xasprintf(&path, "%s/.libs/%s", exe, AGENT_PATH_NAME);
			if (access(path, R_OK) == 0)
				return path;
			free(path);
		}
	}

	xasprintf(&path, "%s/%s", MEMPROF_AGENT_DIR, AGENT_PATH_NAME);
	if (access(path, R_OK) == 0)
		return path;
	xasprintf(cause, "agent library not found at %s (reinstall memprof or set MEMPROF_AGENT)", path);
	free(path);
	return NULL;
}
