/*
 * launch.c: fork and exec the profiled command.
 *
 * The child gets the agent prepended to LD_PRELOAD (prepended, so it sits
 * before any allocator the user preloads, see reference/lowlevel.md §1.7)
 * and the MEMPROF_* configuration, then execs.  An exec failure is reported
 * back through a close-on-exec pipe, so memprof can say "not found" instead
 * of passing off a child's exit 127 as the command's.  memprof stays in the
 * same process group as the command: Ctrl-C from the terminal reaches the
 * command itself, and memprof ignores it and keeps collecting until the
 * command exits.  SIGTERM and SIGHUP sent to memprof are relayed.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memprof.h"
#include "launch.h"
#include "wire.h"

static volatile pid_t	launch_child = -1;

/* Signal handler: pass the signal on to the command. */
static void
launch_relay(int sig)
{
	if (launch_child > 0)
		kill(launch_child, sig);
}

/* Relay termination signals to pid; ignore the terminal's interrupt and quit. */
void
launch_relay_signals(pid_t pid)
{
	struct sigaction	sa;

	launch_child = pid;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = launch_relay;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

/* The shell-style status: exit code, or 128 + the signal that killed it. */
int
launch_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return CMD_RETURN_ERROR;
}

/* In the child: set up the environment and exec; never returns. */
static void __attribute__((noreturn))
launch_child_exec(char **argv, const struct launch_config *cfg, int errfd)
{
	const char	*old = getenv("LD_PRELOAD");
	char		*preload, num[32];
	sigset_t	 none;
	int		 err;

	if (old != NULL && *old != '\0')
		xasprintf(&preload, "%s:%s", cfg->agent, old);
	else
		preload = xstrdup(cfg->agent);
	snprintf(num, sizeof num, "%llu", (unsigned long long)cfg->sample_every);
	if (setenv("LD_PRELOAD", preload, 1) != 0 ||
	    setenv(WIRE_ENV_SOCKET, cfg->socket, 1) != 0 ||
	    setenv(WIRE_ENV_SAMPLE_EVERY, num, 1) != 0 ||
	    setenv(WIRE_ENV_NATIVE, cfg->native ? "1" : "0", 1) != 0 ||
	    setenv(WIRE_ENV_FOLLOW, cfg->follow ? "1" : "0", 1) != 0)
		goto fail;
	snprintf(num, sizeof num, "%d", (int)getpid());
	if (setenv(WIRE_ENV_ROOT_PID, num, 1) != 0)
		goto fail;
	/* Give the command the signal state memprof itself was started with. */
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
fail:
	err = errno;
	if (write(errfd, &err, sizeof err) != (ssize_t)sizeof err)
		_exit(127);
	_exit(127);
}

/* Fork and exec argv with the agent; see launch.h. */
pid_t
launch_start(char **argv, const struct launch_config *cfg, int *status, char **cause)
{
	int	pfd[2], err, wstatus;
	pid_t	pid;
	ssize_t	n;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		xasprintf(cause, "cannot start '%s': %s", argv[0], strerror(errno));
		*status = CMD_RETURN_ERROR;
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		xasprintf(cause, "cannot start '%s': %s", argv[0], strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		*status = CMD_RETURN_ERROR;
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		launch_child_exec(argv, cfg, pfd[1]);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &err, sizeof err);
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof err) {
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		*status = err == ENOENT ? 127 : 126;
		xasprintf(cause, "cannot run '%s': %s", argv[0],
		    err == ENOENT ? "command not found" : strerror(err));
		return -1;
	}
	return pid;
}
