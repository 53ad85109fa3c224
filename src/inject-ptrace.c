/*
 * inject-ptrace.c: borrowing one thread of a running process to make
 * function calls in it (x86-64 Linux).
 *
 * A thread is chosen before anything is stopped, from
 * /proc/PID/task/TID/syscall: first one blocked in a system call that
 * holds no lock of the allocator or the dynamic loader (sleep, poll,
 * select, epoll, read, accept, wait), the main thread preferred; then one
 * waiting on a futex (it waits for a lock, it does not hold it); last, a
 * running thread, stopped and let go again until its instruction pointer is
 * outside libc, the dynamic loader and the agent (so it is not inside
 * malloc holding an arena lock that dlopen would need).  Only that thread
 * is stopped (PTRACE_SEIZE, then PTRACE_INTERRUPT: no SIGSTOP is queued,
 * so nothing can be left stopped if memprof dies); the others run on and
 * release whatever locks they hold.
 *
 * A call: registers and the whole xstate (FP/SIMD) are saved; the strings
 * go below the red zone of the thread's stack; a return address of 0 is
 * pushed so the callee "returns" into a SIGSEGV at rip 0, which ends the
 * call (no code is written anywhere).  orig_rax is set to -1 so that the
 * kernel does not take the borrowed context for an interrupted system call
 * and rewind rip by two bytes (the research's SIGILL).  Signals that arrive
 * during a call are delivered.  Afterwards the saved registers go back
 * exactly, orig_rax and rax included, so a thread that was blocked in a
 * restartable system call restarts it, and the thread is detached with no
 * signal.  See docs/attach.md.
 */

#include <errno.h>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "inject.h"
#include "inject-int.h"

/* How long one remote call may run: dlopen of the agent takes milliseconds. */
#define PTRACE_CALL_TIMEOUT_MS	30000
/* How long a stop may take to be reported. */
#define PTRACE_STOP_TIMEOUT_MS	5000
/* A running thread is stopped at most this many times in search of a safe point. */
#define PTRACE_BUSY_TRIES	400

/* Wait for a state change of tid, at most timeout_ms; 0, or -1 (ETIMEDOUT, ECHILD). */
static int
ptrace_wait(pid_t tid, int *status, int timeout_ms)
{
	struct timespec	nap = { 0, 100000 };	/* 0.1 ms */
	long		waited_us = 0;
	pid_t		r;

	for (;;) {
		r = waitpid(tid, status, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited_us / 1000 >= timeout_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&nap, NULL);
		waited_us += 100;
	}
}

/* After PTRACE_INTERRUPT: wait for the stop, delivering signals met first; 0 or -1. */
static int
ptrace_wait_stop(pid_t tid)
{
	int	status, sig;

	for (;;) {
		if (ptrace_wait(tid, &status, PTRACE_STOP_TIMEOUT_MS) != 0)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			errno = ESRCH;
			return -1;
		}
		if (!WIFSTOPPED(status))
			continue;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal-delivery stop came first: deliver it, then ask again. */
		sig = WSTOPSIG(status);
		if (ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig) != 0 ||
		    ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
			return -1;
	}
}

/* Read /proc/PID/task/TID/syscall's number: >= 0, -1 blocked elsewhere, -2 running/unknown. */
static long
ptrace_task_syscall(pid_t pid, pid_t tid)
{
	char	path[96], buf[256];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -2;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -2;
	buf[n] = '\0';
	if (strncmp(buf, "running", 7) == 0)
		return -2;
	return strtol(buf, NULL, 10);
}

/* 1 if tid is the agent's own watcher thread (left from a session ending now). */
static int
ptrace_is_agent(pid_t pid, pid_t tid)
{
	char	path[96], comm[32];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, comm, sizeof comm - 1);
	close(fd);
	return n >= 13 && strncmp(comm, "memprof-agent", 13) == 0;
}

/*
 * System calls that a thread blocks in without holding a lock dlopen or
 * malloc needs (numbers from the x86-64 table).
 */
static int
ptrace_syscall_benign(long nr)
{
	switch (nr) {
	case SYS_read: case SYS_poll: case SYS_select: case SYS_pause:
	case SYS_nanosleep: case SYS_accept: case SYS_recvfrom: case SYS_recvmsg:
	case SYS_wait4: case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend:
	case SYS_epoll_wait: case SYS_clock_nanosleep: case SYS_waitid:
	case SYS_pselect6: case SYS_ppoll: case SYS_epoll_pwait: case SYS_accept4:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
		return 1;
	}
	return 0;
}

/*
 * Candidate threads in order of preference into tids; returns how many.
 * Each thread's state is read once: it changes while we look.
 */
static size_t
ptrace_candidates(pid_t pid, pid_t *tids, int *kinds, size_t cap)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*e;
	pid_t		 all[1024], tid;
	int		 kind[1024];
	long		 nr;
	size_t		 n = 0, nall = 0, i;
	int		 pass;

	/* The main thread first, so it comes first within each kind. */
	all[nall++] = pid;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && nall < sizeof all / sizeof all[0]) {
		if ((tid = (pid_t)strtol(e->d_name, NULL, 10)) > 0 && tid != pid)
			all[nall++] = tid;
	}
	closedir(d);
	for (i = 0; i < nall; i++) {
		nr = ptrace_task_syscall(pid, all[i]);
		if (ptrace_is_agent(pid, all[i]))
			kind[i] = -1;
		else if (nr >= 0 && ptrace_syscall_benign(nr))
			kind[i] = 0;
		else if (nr == SYS_futex)
			kind[i] = 1;
		else
			kind[i] = 2;	/* running, or in another call: stopped and checked */
	}
	/* 0: benign system calls; 1: futex waits; 2: the rest. */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < nall && n < cap; i++) {
			if (kind[i] == pass) {
				tids[n] = all[i];
				kinds[n++] = pass;
			}
		}
	}
	return n;
}

/* 1 if addr lies in one of the unsafe ranges (libc, the loader, the agent). */
static int
ptrace_unsafe(const struct inject_ranges *u, unsigned long addr)
{
	size_t	i;

	for (i = 0; i < u->n; i++) {
		if (addr >= u->lo[i] && addr < u->hi[i])
			return 1;
	}
	return 0;
}

/* Save registers and FP/SIMD state of a stopped thread; 0 or -1. */
static int
ptrace_save(struct inject_thread *th)
{
	struct iovec	iov;

	if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->saved) != 0)
		return -1;
	iov.iov_base = th->xstate;
	iov.iov_len = sizeof th->xstate;
	if (ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_X86_XSTATE, &iov) == 0) {
		th->xlen = iov.iov_len;
		th->fpmode = 2;
	} else if (ptrace(PTRACE_GETFPREGS, th->tid, 0, &th->fp) == 0)
		th->fpmode = 1;
	else
		return -1;
	return 0;
}

/* Put back what ptrace_save took, exactly; 0 or -1. */
static int
ptrace_restore(struct inject_thread *th)
{
	struct iovec	iov;
	int		rc = 0;

	if (ptrace(PTRACE_SETREGS, th->tid, 0, &th->saved) != 0)
		rc = -1;
	if (th->fpmode == 2) {
		iov.iov_base = th->xstate;
		iov.iov_len = th->xlen;
		if (ptrace(PTRACE_SETREGSET, th->tid, (void *)NT_X86_XSTATE, &iov) != 0)
			rc = -1;
	} else if (th->fpmode == 1 && ptrace(PTRACE_SETFPREGS, th->tid, 0, &th->fp) != 0)
		rc = -1;
	return rc;
}

/*
 * Stop one candidate and check it is at a safe point; 0 with th filled
 * (stopped, state saved), or -1 (not stopped, errno says why).
 */
static int
ptrace_try_thread(pid_t tid, const struct inject_ranges *unsafe,
    struct inject_thread *th)
{
	struct timespec	nap = { 0, 2000000 };	/* 2 ms */
	int		tries, saved;

	memset(th, 0, sizeof *th);
	th->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0)
		return -1;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0 || ptrace_wait_stop(tid) != 0)
		goto fail;
	for (tries = 0; tries < PTRACE_BUSY_TRIES; tries++) {
		if (ptrace_save(th) != 0)
			goto fail;
		if ((long)th->saved.orig_rax >= 0) {
			/* In a system call: fine if it is one of the kinds we chose it for. */
			if (ptrace_syscall_benign((long)th->saved.orig_rax) ||
			    (long)th->saved.orig_rax == SYS_futex)
				return 0;
		} else if (!ptrace_unsafe(unsafe, th->saved.rip))
			return 0;
		/* Not there yet: let it run a little and look again. */
		if (ptrace(PTRACE_CONT, tid, 0, 0) != 0)
			goto fail;
		nanosleep(&nap, NULL);
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0 || ptrace_wait_stop(tid) != 0)
			goto fail;
	}
	errno = EAGAIN;
fail:
	saved = errno;
	ptrace(PTRACE_DETACH, tid, 0, 0);
	errno = saved;
	return -1;
}

/* See inject-int.h. */
int
inject_ptrace_stop(pid_t pid, const struct inject_ranges *unsafe, struct inject_thread *th,
    char **cause)
{
	pid_t	tids[64];
	int	kinds[64];
	size_t	n, i;

	n = ptrace_candidates(pid, tids, kinds, 64);
	if (n == 0) {
		xasprintf(cause, "process %d has no thread that can be stopped safely", (int)pid);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ptrace_try_thread(tids[i], unsafe, th) == 0)
			return 0;
		if (errno == EPERM) {
			xasprintf(cause, "cannot ptrace process %d: %s", (int)pid, strerror(errno));
			return -1;
		}
	}
	xasprintf(cause, "no thread of process %d reached a safe point (outside malloc and the "
	    "dynamic loader) in time; try again", (int)pid);
	return -1;
}

/* See inject-int.h. */
int
inject_ptrace_release(struct inject_thread *th)
{
	int	rc;

	rc = ptrace_restore(th);
	if (ptrace(PTRACE_DETACH, th->tid, 0, 0) != 0)
		rc = -1;
	return rc;
}

/*
 * The same through /proc/PID/mem: Docker's default seccomp profile refuses
 * process_vm_readv/writev to a container without CAP_SYS_PTRACE, while
 * ptrace itself and /proc/PID/mem (same access check) are allowed.
 */
static int
ptrace_mem_rw(pid_t pid, unsigned long addr, void *buf, size_t len, int write)
{
	char	path[64];
	ssize_t	n;
	int	fd, saved;

	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0)
		return -1;
	n = write ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

/* See inject-int.h. */
int
inject_ptrace_write(pid_t pid, unsigned long addr, const void *buf, size_t len)
{
	struct iovec	local = { (void *)buf, len }, remote = { (void *)addr, len };

	if (process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	return ptrace_mem_rw(pid, addr, (void *)buf, len, 1);
}

/* See inject-int.h. */
int
inject_ptrace_read(pid_t pid, unsigned long addr, void *buf, size_t len)
{
	struct iovec	local = { buf, len }, remote = { (void *)addr, len };

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len)
		return 0;
	return ptrace_mem_rw(pid, addr, buf, len, 0);
}

/* See inject-int.h. */
int
inject_ptrace_call(struct inject_thread *th, pid_t pid, unsigned long sp, unsigned long fn,
    const unsigned long *args, int nargs, unsigned long *ret, char **cause)
{
	struct user_regs_struct	r = th->saved, out;
	unsigned long		zero = 0;
	int			status, sig;

	/* sp is 16-aligned; the pushed return address makes it 8 mod 16 at entry (the ABI). */
	sp -= 8;
	if (inject_ptrace_write(pid, sp, &zero, sizeof zero) != 0) {
		xasprintf(cause, "cannot write the target's stack: %s", strerror(errno));
		return -1;
	}
	r.rip = fn;
	r.rsp = sp;
	r.rdi = nargs > 0 ? args[0] : 0;
	r.rsi = nargs > 1 ? args[1] : 0;
	r.rdx = nargs > 2 ? args[2] : 0;
	r.rcx = nargs > 3 ? args[3] : 0;
	r.rax = 0;			/* no vector registers used by a variadic callee */
	r.orig_rax = (unsigned long)-1;	/* not a system call: no restart rewind */
	r.eflags &= ~0x400UL;		/* DF clear, as the ABI requires at a call */
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) != 0 ||
	    ptrace(PTRACE_CONT, th->tid, 0, 0) != 0) {
		xasprintf(cause, "cannot start a call in the target: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (ptrace_wait(th->tid, &status, PTRACE_CALL_TIMEOUT_MS) != 0) {
			if (errno == ETIMEDOUT) {
				/* Abandon the call: stop the thread again so its registers go back. */
				if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0)
					ptrace_wait_stop(th->tid);
				xasprintf(cause, "a call in process %d did not return within %d s",
				    (int)pid, PTRACE_CALL_TIMEOUT_MS / 1000);
			} else
				xasprintf(cause, "lost the thread during a call: %s",
				    strerror(errno));
			return -1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			xasprintf(cause, "process %d exited during the injection", (int)pid);
			return -2;
		}
		if (!WIFSTOPPED(status))
			continue;
		sig = WSTOPSIG(status);
		if ((status >> 16) == PTRACE_EVENT_STOP) {
			ptrace(PTRACE_CONT, th->tid, 0, 0);
			continue;
		}
		if (sig == SIGSEGV) {
			if (ptrace(PTRACE_GETREGS, th->tid, 0, &out) != 0) {
				xasprintf(cause, "cannot read the call's result: %s",
				    strerror(errno));
				return -1;
			}
			if (out.rip == 0) {
				*ret = out.rax;
				return 0;
			}
			xasprintf(cause, "the call faulted in process %d at %#llx", (int)pid,
			    (unsigned long long)out.rip);
			return -1;
		}
		/* Someone else's signal: deliver it (a handler runs on top of our call). */
		ptrace(PTRACE_CONT, th->tid, 0, (void *)(long)sig);
	}
}
