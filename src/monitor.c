/*
 * monitor.c: the container monitor's one interface (see monitor.h).
 *
 * A monitor owns the cgroup layout, a walker that keeps the set of cgroups
 * current (cgroup-walk.c), and one entry per cgroup of interest: its node
 * with kept-open files, its container identity and name (resolved once),
 * its previous CPU reading, and the pid and kept-open net/dev file its
 * network figures come from.  A refresh applies the walker's changes,
 * reads /proc/stat once, samples every entry, turns samples into rows with
 * docker's formulas, and drops entries whose cgroup went away mid-read.
 * Rows point into the entries and live until the next refresh.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memprof.h"
#include "monitor.h"

/* Re-read ancestors' limits every this many refreshes: limits change rarely. */
#define MONITOR_PARENT_EVERY	30
/* Retry an unresolved name every this many refreshes (its files may not exist yet). */
#define MONITOR_RESOLVE_EVERY	5

struct monitor_entry {
	struct cgroup_node	*node;
	struct container_info	 ci;
	int			 resolved;
	unsigned		 seen;		/* walk generation that reported it */
	int			 gone;
	uint64_t		 prev_cpu_ns;
	int			 have_prev;
	uint64_t		 parent_limit;	/* v2: tightest ancestor memory.max */
	unsigned		 parent_age;
	pid_t			 net_pid;	/* the task whose netns we read */
	int			 net_fd;	/* its /proc/PID/net/dev */
	int			 net_host;	/* that netns is the host's */
	char			*note;
	struct monitor_entry	*hnext;
};

struct monitor {
	char			*proc_root;
	int			 all;
	int			 explicit_root;
	struct container_paths	 paths;
	struct cgroup_layout	 layout;
	struct cgroup_walk	*walk;
	unsigned		 generation;
	unsigned		 refreshes;

	struct monitor_entry	**entries;
	size_t			 nentries;
	size_t			 capentries;
	struct monitor_entry	**buckets;
	size_t			 nbuckets;

	int			 stat_fd;
	uint64_t		 prev_system_ns;
	int			 have_prev_system;
	uint64_t		 mem_total;
	ino_t			 host_netns;

	struct monitor_snapshot	 snap;
	size_t			 caprows;
};

/* FNV-1a over a path: cheap and good enough for a few thousand cgroups. */
static size_t
monitor_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Find an entry by cgroup path; NULL if there is none. */
static struct monitor_entry *
monitor_find(struct monitor *m, const char *path)
{
	struct monitor_entry	*e;

	for (e = m->buckets[monitor_hash(path) % m->nbuckets]; e != NULL; e = e->hnext) {
		if (strcmp(e->node->path, path) == 0)
			return e;
	}
	return NULL;
}

/* Grow the hash table when it gets full, so chains stay short. */
static void
monitor_rehash(struct monitor *m)
{
	struct monitor_entry	**old = m->buckets, *e, *next;
	size_t			  n = m->nbuckets, i, b;

	m->nbuckets = n * 4;
	m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
	for (i = 0; i < n; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->hnext;
			b = monitor_hash(e->node->path) % m->nbuckets;
			e->hnext = m->buckets[b];
			m->buckets[b] = e;
		}
	}
	free(old);
}

/* Is this kind a container (a row without --all)? */
static int
monitor_is_container(enum container_kind kind)
{
	return kind != CONTAINER_NONE && kind != CONTAINER_SYSTEMD;
}

/* Start tracking a cgroup path. */
static void
monitor_add(struct monitor *m, const char *path)
{
	struct monitor_entry	*e;
	struct container_info	 ci;
	size_t			 b;

	container_classify(path, &ci);
	if (!m->all && !monitor_is_container(ci.kind)) {
		container_info_clear(&ci);
		return;
	}
	if (m->nentries >= m->nbuckets)
		monitor_rehash(m);
	e = xcalloc(1, sizeof *e);
	e->node = cgroup_node_create(path);
	e->node->owner = e;
	e->ci = ci;
	e->net_fd = -1;
	e->parent_limit = UINT64_MAX;
	e->seen = m->generation;
	if (monitor_is_container(ci.kind))
		e->resolved = container_resolve(&m->paths, &e->ci) == 0;
	else
		e->resolved = 1;
	if (m->nentries == m->capentries) {
		m->capentries = m->capentries == 0 ? 64 : m->capentries * 2;
		m->entries = xreallocarray(m->entries, m->capentries, sizeof *m->entries);
	}
	m->entries[m->nentries++] = e;
	b = monitor_hash(path) % m->nbuckets;
	e->hnext = m->buckets[b];
	m->buckets[b] = e;
}

/* Free an entry and everything it keeps open. */
static void
monitor_entry_free(struct monitor *m, struct monitor_entry *e)
{
	if (e->net_fd != -1)
		close(e->net_fd);
	cgroup_node_free(&m->layout, e->node);
	container_info_clear(&e->ci);
	free(e->note);
	free(e);
}

/* Drop entries marked gone (and their hash links). */
static void
monitor_sweep(struct monitor *m)
{
	struct monitor_entry	**pp, *e;
	size_t			  i, j;

	for (i = j = 0; i < m->nentries; i++) {
		e = m->entries[i];
		if (!e->gone) {
			m->entries[j++] = e;
			continue;
		}
		pp = &m->buckets[monitor_hash(e->node->path) % m->nbuckets];
		while (*pp != e)
			pp = &(*pp)->hnext;
		*pp = e->hnext;
		monitor_entry_free(m, e);
	}
	m->nentries = j;
}

/* Walker callback: a cgroup appeared (added) or was removed. */
static void
monitor_walk_cb(void *arg, const char *path, int added)
{
	struct monitor		*m = arg;
	struct monitor_entry	*e;

	if (strcmp(path, "/") == 0)
		return;		/* the root is the host, not a row */
	e = monitor_find(m, path);
	if (!added) {
		if (e != NULL)
			e->gone = 1;
		return;
	}
	if (e != NULL)
		e->seen = m->generation;
	else
		monitor_add(m, path);
}

/* Fill a config from MEMPROF_*_ROOT and MEMPROF_DOCKER_SOCKET. */
void
monitor_config_from_env(struct monitor_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->proc_root = getenv("MEMPROF_PROC_ROOT");
	cfg->cgroup_root = getenv("MEMPROF_CGROUP_ROOT");
	cfg->docker_root = getenv("MEMPROF_DOCKER_ROOT");
	cfg->containerd_root = getenv("MEMPROF_CONTAINERD_ROOT");
	cfg->podman_root = getenv("MEMPROF_PODMAN_ROOT");
	cfg->crio_root = getenv("MEMPROF_CRIO_ROOT");
	cfg->docker_socket = getenv("MEMPROF_DOCKER_SOCKET");
}

/* Duplicate a configured path or its default. */
static char *
monitor_path(const char *set, const char *dflt)
{
	return xstrdup(set != NULL && *set != '\0' ? set : dflt);
}

/* Read MemTotal and note the host's network namespace. */
static int
monitor_read_host(struct monitor *m, char **cause)
{
	char		 buf[8192], *p;
	struct stat	 st;
	int		 fd;
	ssize_t		 n;

	xasprintf(&p, "%s/meminfo", m->proc_root);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	n = fd == -1 ? -1 : procfs_pread(fd, buf, sizeof buf);
	if (fd != -1)
		close(fd);
	if (n < 0 || procfs_parse_meminfo(buf, &m->mem_total) != 0) {
		xasprintf(cause, "%s: %s", p, n < 0 ? strerror(errno) : "no MemTotal");
		free(p);
		return -1;
	}
	free(p);
	xasprintf(&p, "%s/stat", m->proc_root);
	m->stat_fd = open(p, O_RDONLY | O_CLOEXEC);
	if (m->stat_fd == -1) {
		xasprintf(cause, "%s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	xasprintf(&p, "%s/self/ns/net", m->proc_root);
	m->host_netns = stat(p, &st) == 0 ? st.st_ino : 0;
	free(p);
	return 0;
}

/*
 * Create a monitor: discover the layout and open what every refresh
 * reads.  Nothing is sampled until monitor_refresh().  NULL with a
 * message in *cause (caller frees) if the host has no usable cgroups.
 */
struct monitor *
monitor_create(const struct monitor_config *cfg, char **cause)
{
	struct monitor	*m;
	int		 h;

	m = xcalloc(1, sizeof *m);
	m->stat_fd = -1;
	m->all = cfg->all;
	m->proc_root = monitor_path(cfg->proc_root, "/proc");
	m->paths.docker_root = monitor_path(cfg->docker_root, "/var/lib/docker");
	m->paths.containerd_root = monitor_path(cfg->containerd_root, "/run/containerd");
	m->paths.podman_root = monitor_path(cfg->podman_root, "/var/lib/containers/storage");
	m->paths.crio_root = monitor_path(cfg->crio_root, "/run/containers/storage");
	m->paths.docker_socket = xstrdup(cfg->docker_socket != NULL ? cfg->docker_socket :
	    "/var/run/docker.sock");
	m->nbuckets = 256;
	m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
	if (cgroup_layout_open(&m->layout, m->proc_root, cfg->cgroup_root, cause) != 0 ||
	    monitor_read_host(m, cause) != 0) {
		monitor_free(m);
		return NULL;
	}
	h = m->layout.walk_hier;
	m->walk = cgroup_walk_create(m->layout.hier[h].fd, monitor_walk_cb, m);
	m->snap.layout = cgroup_mode_name(m->layout.mode);
	m->snap.mem_total = m->mem_total;
	return m;
}

/* Free a monitor and everything it holds open. */
void
monitor_free(struct monitor *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nentries; i++)
		monitor_entry_free(m, m->entries[i]);
	free(m->entries);
	free(m->buckets);
	cgroup_walk_free(m->walk);
	if (m->layout.nhier != 0)
		cgroup_layout_close(&m->layout);
	if (m->stat_fd != -1)
		close(m->stat_fd);
	free(m->proc_root);
	free(m->paths.docker_root);
	free(m->paths.containerd_root);
	free(m->paths.podman_root);
	free(m->paths.crio_root);
	free(m->paths.docker_socket);
	free(m->snap.rows);
	free(m);
}

/* The time now on CLOCK_MONOTONIC, in ns. */
static uint64_t
monitor_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Open /proc/PID/net/dev for a container's first task and note host sharing. */
static void
monitor_net_open(struct monitor *m, struct monitor_entry *e, pid_t pid)
{
	char		 p[512];
	struct stat	 st;

	if (e->net_fd != -1)
		close(e->net_fd);
	e->net_pid = pid;
	snprintf(p, sizeof p, "%s/%d/net/dev", m->proc_root, (int)pid);
	e->net_fd = open(p, O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/%d/ns/net", m->proc_root, (int)pid);
	e->net_host = m->host_netns != 0 && stat(p, &st) == 0 && st.st_ino == m->host_netns;
}

/*
 * Read a container's network counters from the namespace of one of its
 * tasks (/proc/PID/net/dev shows PID's namespace; no setns needed).  The
 * task's file stays open while it reads well; when the task exits, the
 * first task of cgroup.procs takes over.  A host-network container gets
 * none, like docker's 0B.
 */
static void
monitor_read_net(struct monitor *m, struct monitor_entry *e, struct monitor_row *r)
{
	char	buf[4096];
	pid_t	pid;
	int	tries;

	for (tries = 0; tries < 2; tries++) {
		if (e->net_fd == -1) {
			if (cgroup_read_file(&m->layout, e->node, m->layout.walk_hier, CGF_PROCS,
			    "cgroup.procs", buf, 64) <= 0)
				return;
			/* 63 bytes may cut a later line, never the first pid. */
			if (cgroup_parse_procs_first(buf, &pid) != 0)
				return;
			monitor_net_open(m, e, pid);
			if (e->net_fd == -1)
				return;
		}
		if (e->net_host) {
			r->have |= MONITOR_HAVE_HOSTNET;
			return;
		}
		if (procfs_pread(e->net_fd, buf, sizeof buf) >= 0 &&
		    procfs_parse_net_dev(buf, r->ifaces, &r->nifaces, &r->net_rx, &r->net_tx) == 0) {
			r->have |= MONITOR_HAVE_NET;
			return;
		}
		close(e->net_fd);	/* that task exited: try the cgroup's first one */
		e->net_fd = -1;
	}
}

/* Describe refused files and unresolved names in the entry's note. */
static void
monitor_set_note(struct monitor_entry *e, const struct cgroup_sample *s)
{
	static const struct {
		unsigned	 bit;
		const char	*what;
	} parts[] = {
		{ MONITOR_HAVE_MEM, "memory" }, { MONITOR_HAVE_CPU, "cpu" },
		{ MONITOR_HAVE_BLKIO, "block I/O" }, { MONITOR_HAVE_PIDS, "pids" },
	};
	char	 buf[256] = "";
	size_t	 i;

	for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (s->denied & parts[i].bit)
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", *buf ? ", " : "",
			    parts[i].what);
	}
	if (*buf != '\0')
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ": permission denied");
	if (!e->resolved && e->ci.error == EACCES)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
		    "%sname: %s files need root", *buf ? "; " : "", container_runtime_name(&e->ci));
	free(e->note);
	e->note = *buf != '\0' ? xstrdup(buf) : NULL;
}

/* Fill memory figures with docker's formulas. */
static void
monitor_fill_memory(struct monitor *m, struct monitor_entry *e, const struct cgroup_sample *s,
    struct monitor_row *r)
{
	uint64_t	parent;

	if (!(s->have & MONITOR_HAVE_MEM))
		return;
	r->mem_raw_usage = s->mem_usage;
	r->mem_usage = s->mem_usage;
	if (s->mem_has_inactive && s->mem_inactive_file < s->mem_usage)
		r->mem_usage = s->mem_usage - s->mem_inactive_file;
	if (s->have & MONITOR_HAVE_LIMIT) {
		/* docker: a limit above the machine's memory is the machine's memory. */
		r->mem_limit = s->mem_limit > m->mem_total ? m->mem_total : s->mem_limit;
		if (r->mem_limit != 0)
			r->mem_percent = (double)r->mem_usage / (double)r->mem_limit * 100.0;
	}
	/* v1 states the effective limit; on v2 the ancestors are read now and then. */
	parent = s->mem_hier_limit;
	if (m->layout.ops[CGROUP_MEMORY] == &cgroup_v2_ops) {
		if (e->parent_age++ % MONITOR_PARENT_EVERY == 0)
			cgroup_v2_parent_limit(&m->layout, m->layout.ctrl_hier[CGROUP_MEMORY],
			    e->node->path, &e->parent_limit);
		parent = e->parent_limit;
	}
	if ((s->have & MONITOR_HAVE_LIMIT) && parent < s->mem_limit && parent < m->mem_total) {
		r->mem_parent_limit = parent;
		r->have |= MONITOR_HAVE_PARENT;
	}
}

/* Build a row from an entry's sample; CPU% from the previous sample. */
static void
monitor_fill_row(struct monitor *m, struct monitor_entry *e, const struct cgroup_sample *s,
    const struct procfs_cpu *sys, struct monitor_row *r)
{
	uint64_t	cpu_delta, sys_delta;

	memset(r, 0, sizeof *r);
	r->id = e->ci.id != NULL ? e->ci.id : e->node->path;
	r->name = e->ci.name != NULL ? e->ci.name : e->node->path;
	r->cgroup = e->node->path;
	r->runtime = container_runtime_name(&e->ci);
	r->image = e->ci.image;
	r->pod = e->ci.pod;
	r->namespace = e->ci.namespace;
	r->have = s->have & ~MONITOR_HAVE_LIMIT;
	if (s->have & MONITOR_HAVE_CPU) {
		r->cpu_usage_ns = s->cpu_usage_ns;
		/* docker: Δcgroup / Δsystem × online CPUs × 100, 0 unless both grew. */
		if (e->have_prev && m->have_prev_system && s->cpu_usage_ns > e->prev_cpu_ns &&
		    sys->system_ns > m->prev_system_ns) {
			cpu_delta = s->cpu_usage_ns - e->prev_cpu_ns;
			sys_delta = sys->system_ns - m->prev_system_ns;
			r->cpu_percent = (double)cpu_delta / (double)sys_delta * sys->ncpus * 100.0;
		}
		e->prev_cpu_ns = s->cpu_usage_ns;
		e->have_prev = 1;
	}
	monitor_fill_memory(m, e, s, r);
	r->swap = s->swap;
	r->oom_events = s->oom_events;
	r->oom_kills = s->oom_kills;
	r->psi_some_avg10 = s->psi_some_avg10;
	r->psi_full_avg10 = s->psi_full_avg10;
	r->blk_read = s->io_read;
	r->blk_write = s->io_write;
	r->pids = s->pids;
	r->pids_limit = s->pids_max == UINT64_MAX ? 0 : s->pids_max;
	if (monitor_is_container(e->ci.kind))
		monitor_read_net(m, e, r);
	r->note = e->note;
}

/* Read docker's system CPU time and CPU count from /proc/stat. */
static int
monitor_read_system(struct monitor *m, struct procfs_cpu *sys)
{
	/* A line per CPU of ~100 bytes: 64 KiB covers hundreds of CPUs. */
	static char	buf[65536];

	if (procfs_pread(m->stat_fd, buf, sizeof buf) < 0)
		return -1;
	return procfs_parse_stat(buf, sys);
}

/* Order rows by name, then cgroup path, for a stable table. */
static int
monitor_row_cmp(const void *a, const void *b)
{
	const struct monitor_row	*ra = a, *rb = b;
	int				 c = strcmp(ra->name, rb->name);

	return c != 0 ? c : strcmp(ra->cgroup, rb->cgroup);
}

/* Retry names that did not resolve yet, now and then. */
static void
monitor_retry_names(struct monitor *m, struct monitor_entry *e)
{
	if (e->resolved || e->ci.error == EACCES || m->refreshes % MONITOR_RESOLVE_EVERY != 0)
		return;
	e->resolved = container_resolve(&m->paths, &e->ci) == 0;
}

/*
 * Take a new sample of every cgroup of interest and return the snapshot
 * (owned by the monitor, valid until the next call).  Cgroups that went
 * away, even mid-read, are left out.  NULL with *cause only if /proc/stat
 * cannot be read.
 */
const struct monitor_snapshot *
monitor_refresh(struct monitor *m, char **cause)
{
	struct procfs_cpu	 sys;
	struct cgroup_sample	 s;
	struct monitor_entry	*e;
	size_t			 i, n = 0;

	m->generation++;
	if (cgroup_walk_update(m->walk, 0) == 1) {
		for (i = 0; i < m->nentries; i++) {
			if (m->entries[i]->seen != m->generation)
				m->entries[i]->gone = 1;
		}
	}
	monitor_sweep(m);
	if (monitor_read_system(m, &sys) != 0) {
		xasprintf(cause, "%s/stat: %s", m->proc_root, strerror(errno));
		return NULL;
	}
	if (m->nentries > m->caprows) {
		m->caprows = m->nentries;
		m->snap.rows = xreallocarray(m->snap.rows, m->caprows, sizeof *m->snap.rows);
	}
	for (i = 0; i < m->nentries; i++) {
		e = m->entries[i];
		if (cgroup_sample_read(&m->layout, e->node, &s) != 0) {
			e->gone = 1;	/* removed since the walk: simply not in this set */
			continue;
		}
		monitor_retry_names(m, e);
		monitor_set_note(e, &s);
		monitor_fill_row(m, e, &s, &sys, &m->snap.rows[n++]);
	}
	monitor_sweep(m);
	m->prev_system_ns = sys.system_ns;
	m->have_prev_system = 1;
	m->refreshes++;
	if (n > 1)
		qsort(m->snap.rows, n, sizeof *m->snap.rows, monitor_row_cmp);
	m->snap.nrows = n;
	m->snap.ncpus = sys.ncpus;
	m->snap.time_ns = monitor_now();
	return &m->snap;
}

/*
 * List the pids of a row's cgroup (its processes, not threads) into a new
 * array (caller frees).  Returns 0, or -1 with errno (ENOENT: gone).
 */
int
monitor_pids(struct monitor *m, const struct monitor_row *r, pid_t **pids, size_t *npids)
{
	struct cgroup_node	*node;
	char			*buf, *p, *end;
	size_t			 size = 65536, cap = 0;
	ssize_t			 len;
	long			 v;

	*pids = NULL;
	*npids = 0;
	node = cgroup_node_create(r->cgroup);
	buf = xmalloc(size);
	/* A one-off read: no slot is kept, so the node frees cleanly. */
	len = cgroup_read_file(&m->layout, node, m->layout.walk_hier, CGF_PROCS, "cgroup.procs",
	    buf, size);
	if (len >= 0 && node->fd[CGF_PROCS] != -1) {
		close(node->fd[CGF_PROCS]);
		node->fd[CGF_PROCS] = -1;
		m->layout.fds_open--;
	}
	cgroup_node_free(&m->layout, node);
	if (len < 0) {
		free(buf);
		return -1;
	}
	for (p = buf; *p != '\0'; p = end) {
		v = strtol(p, &end, 10);
		if (end == p || v <= 0 || (*end != '\n' && *end != '\0'))
			break;
		if (*npids == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*pids = xreallocarray(*pids, cap, sizeof **pids);
		}
		(*pids)[(*npids)++] = (pid_t)v;
		if (*end == '\n')
			end++;
	}
	free(buf);
	return 0;
}
