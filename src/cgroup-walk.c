/*
 * cgroup-walk.c: discover the cgroups of one hierarchy and keep the list
 * current without walking the tree on every refresh.
 *
 * The first update walks the whole tree once, putting an inotify watch on
 * every directory before reading it (so a child made in between is seen
 * either by the read or by the watch).  Later updates only drain inotify:
 * mkdir of a cgroup arrives as IN_CREATE|IN_ISDIR on its parent and is
 * walked, rmdir as IN_DELETE|IN_ISDIR.  The caller hears of each path
 * through a callback (added or removed).  When inotify is unavailable,
 * out of watches or overflowed, the next update walks the tree again and
 * says so, and the caller drops what that walk did not report.
 */

#include <sys/inotify.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* Real cgroup trees are a few levels deep; this bounds recursion on odd ones. */
#define CGROUP_WALK_MAX_DEPTH	32

/* One watched directory: inotify's watch descriptor and the cgroup path. */
struct cgroup_walk_dir {
	int	 wd;
	char	*path;
};

struct cgroup_walk {
	int			 rootfd;	/* the hierarchy's directory (not ours) */
	int			 ifd;		/* inotify, or -1 */
	int			 full;		/* the next update must walk everything */
	struct cgroup_walk_dir	*dirs;		/* sorted by wd: wds only grow */
	size_t			 ndirs;
	size_t			 capdirs;
	cgroup_walk_cb		*cb;
	void			*arg;
};

/* Create a walker over the hierarchy open at rootfd; nothing is read yet. */
struct cgroup_walk *
cgroup_walk_create(int rootfd, cgroup_walk_cb *cb, void *arg)
{
	struct cgroup_walk	*w;

	w = xcalloc(1, sizeof *w);
	w->rootfd = rootfd;
	w->cb = cb;
	w->arg = arg;
	w->full = 1;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return w;
}

/* Close the inotify instance and free the walker. */
void
cgroup_walk_free(struct cgroup_walk *w)
{
	size_t	i;

	if (w == NULL)
		return;
	if (w->ifd != -1)
		close(w->ifd);
	for (i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	free(w);
}

/* Is the walker keeping up with inotify (rather than re-walking)? */
int
cgroup_walk_watching(struct cgroup_walk *w)
{
	return w->ifd != -1;
}

/* Find a watch by descriptor; its index, or -1. */
static ssize_t
cgroup_walk_find(struct cgroup_walk *w, int wd)
{
	size_t	lo = 0, hi = w->ndirs, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (w->dirs[mid].wd == wd)
			return (ssize_t)mid;
		if (w->dirs[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Remember a watch; the same wd again (same inode) just updates its path. */
static void
cgroup_walk_remember(struct cgroup_walk *w, int wd, const char *path)
{
	ssize_t	i = cgroup_walk_find(w, wd);
	size_t	at;

	if (i >= 0) {
		free(w->dirs[i].path);
		w->dirs[i].path = xstrdup(path);
		return;
	}
	if (w->ndirs == w->capdirs) {
		w->capdirs = w->capdirs == 0 ? 64 : w->capdirs * 2;
		w->dirs = xreallocarray(w->dirs, w->capdirs, sizeof *w->dirs);
	}
	/* wds grow, so this is nearly always an append; after a wrap, insert in order. */
	at = w->ndirs;
	while (at > 0 && w->dirs[at - 1].wd > wd)
		at--;
	memmove(&w->dirs[at + 1], &w->dirs[at], (w->ndirs - at) * sizeof *w->dirs);
	w->dirs[at].wd = wd;
	w->dirs[at].path = xstrdup(path);
	w->ndirs++;
}

/* Watch one directory (relative path REL, "." for the root). */
static void
cgroup_walk_watch(struct cgroup_walk *w, int dirfd, const char *path)
{
	char	proc[64];
	int	wd;

	if (w->ifd == -1)
		return;
	/* inotify takes a path: name the open directory through /proc/self/fd. */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
	wd = inotify_add_watch(w->ifd, proc, IN_CREATE | IN_DELETE | IN_MOVED_FROM |
	    IN_MOVED_TO | IN_ONLYDIR);
	if (wd == -1) {
		/* Out of watches (ENOSPC) or no inotify here: re-walk every time. */
		close(w->ifd);
		w->ifd = -1;
		return;
	}
	cgroup_walk_remember(w, wd, path);
}

/* Walk the directory open at dirfd (cgroup PATH) and all below it. */
static void
cgroup_walk_dir(struct cgroup_walk *w, int dirfd, const char *path, int depth)
{
	struct dirent	*de;
	DIR		*d;
	char		*child;
	int		 fd, cfd;

	cgroup_walk_watch(w, dirfd, path);
	w->cb(w->arg, path, 1);
	if (depth >= CGROUP_WALK_MAX_DEPTH || (fd = dup(dirfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		cfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd == -1)
			continue;	/* removed meanwhile: it simply is not there */
		if (strcmp(path, "/") == 0)
			xasprintf(&child, "/%s", de->d_name);
		else
			xasprintf(&child, "%s/%s", path, de->d_name);
		cgroup_walk_dir(w, cfd, child, depth + 1);
		free(child);
		close(cfd);
	}
	closedir(d);
}

/* Walk a newly created cgroup PATH (and anything already made under it). */
static void
cgroup_walk_added(struct cgroup_walk *w, const char *path)
{
	int	fd;

	fd = openat(w->rootfd, path + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return;		/* gone again already */
	cgroup_walk_dir(w, fd, path, 1);
	close(fd);
}

/* Handle one inotify event. */
static void
cgroup_walk_event(struct cgroup_walk *w, const struct inotify_event *ev)
{
	ssize_t	 i;
	char	*path;

	if (ev->mask & IN_Q_OVERFLOW) {
		w->full = 1;
		return;
	}
	if ((i = cgroup_walk_find(w, ev->wd)) == -1)
		return;
	if (ev->mask & IN_IGNORED) {
		free(w->dirs[i].path);
		memmove(&w->dirs[i], &w->dirs[i + 1], (w->ndirs - (size_t)i - 1) * sizeof *w->dirs);
		w->ndirs--;
		return;
	}
	if (!(ev->mask & IN_ISDIR) || ev->len == 0)
		return;
	if (strcmp(w->dirs[i].path, "/") == 0)
		xasprintf(&path, "/%s", ev->name);
	else
		xasprintf(&path, "%s/%s", w->dirs[i].path, ev->name);
	if (ev->mask & (IN_CREATE | IN_MOVED_TO))
		cgroup_walk_added(w, path);
	else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		w->cb(w->arg, path, 0);
	free(path);
}

/* Drain pending inotify events; -1 if inotify failed (walk again). */
static int
cgroup_walk_drain(struct cgroup_walk *w)
{
	char				 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;

	for (;;) {
		n = read(w->ifd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			cgroup_walk_event(w, ev);
		}
	}
}

/*
 * Bring the caller up to date: the first time, after an overflow or
 * without inotify, walk the tree (every cgroup reported as added) and
 * return 1, so the caller drops what was not reported; otherwise report
 * only changes and return 0.
 */
int
cgroup_walk_update(struct cgroup_walk *w, int force)
{
	size_t	i;

	if (w->ifd != -1 && !w->full && !force) {
		if (cgroup_walk_drain(w) == 0 && !w->full)
			return 0;
	}
	if (w->ifd != -1) {
		/* Start over with fresh watches. */
		close(w->ifd);
		w->ifd = -1;
		for (i = 0; i < w->ndirs; i++)
			free(w->dirs[i].path);
		w->ndirs = 0;
	}
	if (w->full || force)
		w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->full = 0;
	cgroup_walk_dir(w, w->rootfd, "/", 0);
	return 1;
}
