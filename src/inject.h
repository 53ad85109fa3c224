/*
 * inject.h: putting the agent into a running process for `memprof attach`
 * (inject.c: checks, ptrace, remote calls; docs/attach.md).
 */

#ifndef MEMPROF_INJECT_H
#define MEMPROF_INJECT_H

#include <sys/types.h>

struct inject_target {
	pid_t		 pid;
	char		 comm[64];	/* /proc/PID/comm */
	uid_t		 uid;		/* effective uid */
	int		 has_cap;	/* we hold CAP_SYS_PTRACE */
	char		 libc[512];	/* libc's path as the target sees it */
	unsigned long	 libc_start;	/* first mapping of libc (offset 0) */
	unsigned long	 libc_inode;
	char		 libdl[512];	/* libdl.so.2 (glibc < 2.34), "" if none */
	unsigned long	 libdl_start;
};

/* What an injection did, for the attach line and the tests. */
struct inject_stats {
	pid_t		 tid;		/* the borrowed thread */
	long		 syscall;	/* the system call it was blocked in, -1 if running */
	unsigned long	 stopped_us;	/* how long it was stopped */
};

/*
 * Check, without stopping anything, that pid can be attached to: it exists,
 * is not traced, ptrace is allowed (Yama, CAP_SYS_PTRACE, dumpable), it is
 * an x86-64 program with a dynamic libc.  Fills t; 0, or -1 and a one-line
 * message saying what is missing.
 */
int	inject_preflight(pid_t pid, struct inject_target *t, char **cause);

/*
 * Load agent (a path in memprof's mount namespace) into the target and call
 * memprof_agent_attach(config) in it.  One thread is stopped at a safe
 * point, borrowed for the calls, and resumed with every register as it
 * was.  Returns the entry point's result (>= 0: slots patched), or -1 and
 * a message; on every path the target is left running.
 */
int	inject_agent(const struct inject_target *t, const char *agent, const char *config,
	    struct inject_stats *stats, char **cause);

/* The name of a system call a borrowed thread can be found in, or NULL. */
const char *inject_syscall_name(long nr);

#endif /* MEMPROF_INJECT_H */
