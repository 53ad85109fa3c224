/*
 * inject-int.h: between inject.c (checks, symbols, staging, the sequence)
 * and inject-ptrace.c (stopping a thread, calls in it).  Nothing else
 * includes it.
 */

#ifndef MEMPROF_INJECT_INT_H
#define MEMPROF_INJECT_INT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

/* Address ranges where a stopped thread must not be borrowed. */
struct inject_ranges {
	unsigned long	lo[64];
	unsigned long	hi[64];
	size_t		n;
};

/* A borrowed thread and everything needed to give it back unchanged. */
struct inject_thread {
	pid_t			 tid;
	struct user_regs_struct	 saved;
	struct user_fpregs_struct fp;
	unsigned char		 xstate[16384] __attribute__((aligned(64)));
	size_t			 xlen;
	int			 fpmode;	/* 2 xstate, 1 fpregs */
};

/* Choose, stop and save one thread of pid at a safe point; 0, or -1 and a message. */
int	inject_ptrace_stop(pid_t pid, const struct inject_ranges *unsafe,
	    struct inject_thread *th, char **cause);
/*
 * Call fn(args...) in the stopped thread with its stack pointer at sp
 * (16-aligned, below anything to keep); 0 with the return value, -1 with a
 * message (the thread stays stopped), -2 if the process died.
 */
int	inject_ptrace_call(struct inject_thread *th, pid_t pid, unsigned long sp,
	    unsigned long fn, const unsigned long *args, int nargs, unsigned long *ret,
	    char **cause);
/* Restore the saved state and let the thread go; 0 or -1. */
int	inject_ptrace_release(struct inject_thread *th);
/* Memory of the target (process_vm_*); 0 or -1. */
int	inject_ptrace_write(pid_t pid, unsigned long addr, const void *buf, size_t len);
int	inject_ptrace_read(pid_t pid, unsigned long addr, void *buf, size_t len);

#endif /* MEMPROF_INJECT_INT_H */
