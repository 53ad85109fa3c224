/*
 * container.c: which cgroups are containers, of which runtime, and their
 * names.
 *
 * Classification looks only at the cgroup path, using the layouts every
 * runtime creates (reference/containers.md section 10.2): docker-<id>.scope
 * or /docker/<id>, cri-containerd-<id>.scope under kubepods, crio-<id>,
 * libpod-<id>.scope, lxc.payload.<name>, machine-<name>.scope, and systemd
 * units.  A bare 64-hex basename (containerd's cgroupfs layout, docker's
 * --cgroup-parent) is asked of every runtime in turn.  Names then come from
 * the runtime's own files (container-docker.c, container-k8s.c,
 * container-podman.c), never from a daemon, so they work with dockerd
 * down and for runtimes without an API; until a name resolves, the short
 * id stands in.  Resolution runs once per container, not per refresh.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* Runtime state files bigger than this are refused (containers.json grows ~1 KiB a container). */
#define CONTAINER_FILE_MAX	(16 * 1024 * 1024)

/* Is s[0..n) a 64-character lowercase hex container id? */
static int
container_is_id(const char *s, size_t n)
{
	return n == 64 && strspn(s, "0123456789abcdef") >= 64;
}

/* Match BASE against PREFIX<64hex>SUFFIX; store the id on success. */
static int
container_match(const char *base, const char *prefix, const char *suffix,
    struct container_info *ci, enum container_kind kind)
{
	size_t	plen = strlen(prefix), slen = strlen(suffix), blen = strlen(base);

	if (blen != plen + 64 + slen || strncmp(base, prefix, plen) != 0 ||
	    strcmp(base + plen + 64, suffix) != 0 || !container_is_id(base + plen, 64))
		return 0;
	ci->kind = kind;
	ci->id = xstrndup(base + plen, 64);
	return 1;
}

/* Note the owner of a rootless runtime: ".../user@UID.service/...". */
static void
container_find_owner(const char *path, struct container_info *ci)
{
	const char	*p;
	char		*end;
	unsigned long	 uid;

	if ((p = strstr(path, "/user@")) == NULL)
		return;
	uid = strtoul(p + 6, &end, 10);
	if (end == p + 6 || strncmp(end, ".service/", 9) != 0)
		return;
	ci->owner = (uid_t)uid;
	ci->rootless = 1;
}

/*
 * Classify a cgroup path.  Fills ci (free with container_info_clear) and
 * returns its kind: CONTAINER_NONE for a cgroup that is neither a
 * container nor a systemd unit.
 */
int
container_classify(const char *path, struct container_info *ci)
{
	const char	*base, *slash;
	char		 parent[256];
	size_t		 plen;

	memset(ci, 0, sizeof *ci);
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	parent[0] = '\0';
	if (slash != NULL && slash != path) {
		const char	*ps = slash - 1;

		while (ps > path && *ps != '/')
			ps--;
		if (*ps == '/')
			ps++;
		plen = (size_t)(slash - ps);
		if (plen < sizeof parent) {
			memcpy(parent, ps, plen);
			parent[plen] = '\0';
		}
	}
	container_find_owner(path, ci);
	if (container_match(base, "docker-", ".scope", ci, CONTAINER_DOCKER) ||
	    container_match(base, "cri-containerd-", ".scope", ci, CONTAINER_CONTAINERD) ||
	    container_match(base, "nerdctl-", ".scope", ci, CONTAINER_CONTAINERD) ||
	    container_match(base, "crio-", ".scope", ci, CONTAINER_CRIO) ||
	    container_match(base, "crio-", "", ci, CONTAINER_CRIO) ||
	    container_match(base, "libpod-", ".scope", ci, CONTAINER_PODMAN))
		return ci->kind;
	if (container_is_id(base, strlen(base))) {
		ci->id = xstrdup(base);
		if (strcmp(parent, "docker") == 0)
			ci->kind = CONTAINER_DOCKER;
		else if (strstr(path, "/kubepods") != NULL)
			ci->kind = CONTAINER_CONTAINERD;
		else
			ci->kind = CONTAINER_UNKNOWN;
		return ci->kind;
	}
	if (strncmp(base, "lxc.payload.", 12) == 0 && base[12] != '\0') {
		ci->kind = CONTAINER_LXC;
		ci->id = xstrdup(base + 12);
	} else if ((strcmp(parent, "lxc.payload") == 0 || strcmp(parent, "lxc") == 0) &&
	    *base != '\0') {
		ci->kind = CONTAINER_LXC;
		ci->id = xstrdup(base);
	} else if (strcmp(parent, "machine.slice") == 0 && strncmp(base, "machine-", 8) == 0 &&
	    strlen(base) > 14 && strcmp(base + strlen(base) - 6, ".scope") == 0) {
		ci->kind = CONTAINER_NSPAWN;
		ci->id = container_systemd_unescape(base + 8, strlen(base) - 14);
	} else
		return container_systemd_classify(base, parent, ci);
	ci->name = xstrdup(ci->id);
	return ci->kind;
}

/* Free what a container_info holds. */
void
container_info_clear(struct container_info *ci)
{
	free(ci->id);
	free(ci->name);
	free(ci->image);
	free(ci->pod);
	free(ci->namespace);
	memset(ci, 0, sizeof *ci);
}

/* The runtime's name for output: "docker", "kubernetes", "podman"... */
const char *
container_runtime_name(const struct container_info *ci)
{
	switch (ci->kind) {
	case CONTAINER_DOCKER:
		return "docker";
	case CONTAINER_CONTAINERD:
		return ci->pod != NULL ? "kubernetes" : "containerd";
	case CONTAINER_CRIO:
		return ci->pod != NULL ? "kubernetes" : "cri-o";
	case CONTAINER_PODMAN:
		return "podman";
	case CONTAINER_LXC:
		return "lxc";
	case CONTAINER_NSPAWN:
		return "machine";
	case CONTAINER_SYSTEMD:
		return "systemd";
	case CONTAINER_UNKNOWN:
		return "container";
	default:
		return "cgroup";
	}
}

/*
 * Read a whole runtime state file (small JSON) into a new NUL-terminated
 * buffer and its length; NULL with errno (EACCES: the runtime's state is
 * root-only, EFBIG: too large to be one of its files).
 */
char *
container_read_file(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size > CONTAINER_FILE_MAX) {
		if (st.st_size > CONTAINER_FILE_MAX)
			errno = EFBIG;
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	/* The runtime may have rewritten the file since fstat: read what is there. */
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* The directory REL under a user's home ("~uid/.local/share/docker"), or NULL. */
char *
container_user_root(uid_t uid, const char *rel)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[4096], *path;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || res == NULL)
		return NULL;
	xasprintf(&path, "%s/%s", pw.pw_dir, rel);
	return path;
}

/*
 * Resolve a container's name (and image, pod) from its runtime's files.
 * Returns 0 when the runtime's files named it, -1 with ci->error set
 * otherwise; either way ci->name is set (to the short id at worst).
 */
int
container_resolve(const struct container_paths *paths, struct container_info *ci)
{
	int	rc = 0;

	switch (ci->kind) {
	case CONTAINER_DOCKER:
		rc = container_docker_resolve(paths, ci);
		break;
	case CONTAINER_CONTAINERD:
		rc = container_k8s_resolve(paths, ci);
		break;
	case CONTAINER_CRIO:
		rc = container_crio_resolve(paths, ci);
		break;
	case CONTAINER_PODMAN:
		rc = container_podman_resolve(paths, ci);
		break;
	case CONTAINER_UNKNOWN:
		/* Ask each runtime; the first whose files know the id claims it. */
		if ((rc = container_docker_resolve(paths, ci)) == 0)
			ci->kind = CONTAINER_DOCKER;
		else if ((rc = container_k8s_resolve(paths, ci)) == 0)
			ci->kind = CONTAINER_CONTAINERD;
		else if ((rc = container_podman_resolve(paths, ci)) == 0)
			ci->kind = CONTAINER_PODMAN;
		break;
	default:
		break;
	}
	if (ci->name == NULL && ci->id != NULL)
		ci->name = xstrndup(ci->id, 12);	/* docker's short id */
	return rc;
}
