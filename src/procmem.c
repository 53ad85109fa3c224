/*
 * procmem.c: per-process memory (RSS, PSS, USS, swap) through procps-ng's
 * libproc2, for the processes of a container (monitor_pids() lists them).
 *
 * One pids_info is kept per reader (libproc2 is not thread-safe) and asked
 * for one pid at a time with procps_pids_select.  RSS comes from
 * /proc/PID/status; PSS, USS (private clean + dirty) and swap from
 * smaps_rollup, which walks the page tables: callers should not ask for
 * every process on every refresh.  libproc2 leaves smaps figures at 0 when
 * smaps_rollup cannot be read (EACCES for others' or non-dumpable
 * processes, ESRCH for kernel threads), so the reader probes the file
 * itself and says so instead of passing zeros off as data.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libproc2/pids.h>

#include "memprof.h"
#include "monitor.h"

/* The items asked for, in this order; PROCMEM_* index them in a stack. */
enum {
	PROCMEM_PID,
	PROCMEM_CMD,
	PROCMEM_RSS,
	PROCMEM_PSS,
	PROCMEM_USS,
	PROCMEM_SWAP,
	PROCMEM_NITEMS
};

/*
 * PIDS_VAL takes the info argument up to procps 4.0.4 and not from 4.0.5;
 * both expand to this, so reading the result directly works with either.
 */
#define PROCMEM_VAL(i, type, stack)	((stack)->head[(i)].result.type)

struct procmem_reader {
	struct pids_info	*info;
	char			*proc_root;
};

/* Open a reader; PROC is where smaps_rollup is probed (libproc2 reads /proc). NULL with errno. */
struct procmem_reader *
procmem_open(const char *proc)
{
	static enum pids_item	 items[PROCMEM_NITEMS] = {
		[PROCMEM_PID] = PIDS_ID_PID,
		[PROCMEM_CMD] = PIDS_CMD,
		[PROCMEM_RSS] = PIDS_VM_RSS,
		[PROCMEM_PSS] = PIDS_SMAP_PSS,
		[PROCMEM_USS] = PIDS_SMAP_PRV_TOTAL,
		[PROCMEM_SWAP] = PIDS_SMAP_SWAP,
	};
	struct procmem_reader	*r;
	int			 rc;

	r = xcalloc(1, sizeof *r);
	rc = procps_pids_new(&r->info, items, PROCMEM_NITEMS);
	if (rc < 0) {
		free(r);
		errno = -rc;
		return NULL;
	}
	r->proc_root = xstrdup(proc != NULL ? proc : "/proc");
	return r;
}

/* Close a reader. */
void
procmem_close(struct procmem_reader *r)
{
	if (r == NULL)
		return;
	procps_pids_unref(&r->info);
	free(r->proc_root);
	free(r);
}

/* Can this process's smaps_rollup be read?  0 with errno if not. */
static int
procmem_smaps_readable(struct procmem_reader *r, pid_t pid)
{
	char	path[512], c;
	int	fd;
	ssize_t	n;

	snprintf(path, sizeof path, "%s/%d/smaps_rollup", r->proc_root, (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, &c, 1);	/* kernel threads open fine and fail here with ESRCH */
	close(fd);
	return n == 1;
}

/*
 * Read one process's memory into pm (bytes).  Returns 0, or -1 with
 * errno ESRCH when the process has exited; pm->smaps_ok says whether PSS,
 * USS and swap could be read.
 */
int
procmem_read(struct procmem_reader *r, pid_t pid, struct procmem *pm)
{
	struct pids_fetch	*f;
	struct pids_stack	*st;
	unsigned		 want = (unsigned)pid;

	memset(pm, 0, sizeof *pm);
	pm->pid = pid;
	pm->smaps_ok = procmem_smaps_readable(r, pid);
	f = procps_pids_select(r->info, &want, 1, PIDS_SELECT_PID);
	if (f == NULL || f->counts == NULL || f->counts->total < 1) {
		errno = ESRCH;
		return -1;
	}
	st = f->stacks[0];
	if ((pid_t)PROCMEM_VAL(PROCMEM_PID, s_int, st) != pid) {
		errno = ESRCH;
		return -1;
	}
	snprintf(pm->cmd, sizeof pm->cmd, "%s", PROCMEM_VAL(PROCMEM_CMD, str, st));
	/* libproc2 reports KiB. */
	pm->rss = (uint64_t)PROCMEM_VAL(PROCMEM_RSS, ul_int, st) * 1024;
	if (pm->smaps_ok) {
		pm->pss = (uint64_t)PROCMEM_VAL(PROCMEM_PSS, ul_int, st) * 1024;
		pm->uss = (uint64_t)PROCMEM_VAL(PROCMEM_USS, ul_int, st) * 1024;
		pm->swap = (uint64_t)PROCMEM_VAL(PROCMEM_SWAP, ul_int, st) * 1024;
	}
	return 0;
}
