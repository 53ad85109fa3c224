/*
 * launch.h: starting the profiled command for `memprof run`.
 */

#ifndef MEMPROF_LAUNCH_H
#define MEMPROF_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

struct launch_config {
	const char	*agent;		/* absolute path of libmemprof.so */
	const char	*socket;	/* MEMPROF_SOCKET value */
	uint64_t	 sample_every;	/* 0: exact */
	int		 native;
	int		 follow;
};

/*
 * Fork and exec argv with the agent preloaded.  Returns the child's pid, or
 * -1 with a message and the exit status to use (127: not found, 126: not
 * executable) when the command could not be started.
 */
pid_t	launch_start(char **argv, const struct launch_config *, int *status, char **cause);
/* The shell-style exit status of a wait status: the code, or 128+signal. */
int	launch_exit_code(int wstatus);
/* Relay SIGTERM/SIGHUP to pid and ignore terminal SIGINT/SIGQUIT (they reach it directly). */
void	launch_relay_signals(pid_t pid);

#endif /* MEMPROF_LAUNCH_H */
