/*
 * monitor.h: the container and process monitor, the data layer under
 * `memprof stats`, the dashboard and the exporter.
 *
 * The one interface for its users is at the top: create a monitor, call
 * monitor_refresh() once per tick, and read the snapshot it returns: one
 * row per container (or per cgroup with `all`), every figure already
 * computed with docker's formulas, rates and CPU% from the previous sample.
 * The snapshot belongs to the monitor and stays valid until the next
 * refresh or monitor_free().
 *
 * Below that are the monitor family's own declarations: cgroup.c finds the
 * layout (v1, v2, hybrid) and picks the ops table of cgroup-v1.c or
 * cgroup-v2.c per controller; cgroup-walk.c discovers cgroups and keeps
 * them current with inotify; container*.c name them from the runtimes'
 * files; procfs.c reads /proc; procmem.c reads per-process memory through
 * libproc2; json-scan.c finds values in the runtimes' JSON files.
 * Readers never print: they return -1 with errno kept.
 */

#ifndef MONITOR_H
#define MONITOR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Where the monitor reads from; NULL fields take the host's defaults. */
struct monitor_config {
	const char	*proc_root;		/* /proc */
	const char	*cgroup_root;		/* /sys/fs/cgroup; set: probe, not mountinfo */
	const char	*docker_root;		/* /var/lib/docker */
	const char	*containerd_root;	/* /run/containerd */
	const char	*podman_root;		/* /var/lib/containers/storage */
	const char	*crio_root;		/* /run/containers/storage */
	const char	*docker_socket;		/* /var/run/docker.sock; "": never */
	int		 all;			/* every cgroup, not only containers */
};

/* Which figures of a row were read (bits of monitor_row.have). */
#define MONITOR_HAVE_CPU	0x0001
#define MONITOR_HAVE_MEM	0x0002
#define MONITOR_HAVE_LIMIT	0x0004
#define MONITOR_HAVE_SWAP	0x0008
#define MONITOR_HAVE_OOM	0x0010	/* oom (limit hit) events */
#define MONITOR_HAVE_OOM_KILL	0x0020
#define MONITOR_HAVE_PSI	0x0040
#define MONITOR_HAVE_NET	0x0080
#define MONITOR_HAVE_BLKIO	0x0100
#define MONITOR_HAVE_PIDS	0x0200
#define MONITOR_HAVE_PARENT	0x0400	/* an ancestor's limit is tighter */
#define MONITOR_HAVE_HOSTNET	0x0800	/* shares the host's network namespace */

#define MONITOR_MAX_IFACES	8

/* One network interface of a container's namespace. */
struct monitor_iface {
	char		name[16];	/* IFNAMSIZ */
	uint64_t	rx_bytes;
	uint64_t	tx_bytes;
};

/* One container (or cgroup) at one refresh, with docker's figures. */
struct monitor_row {
	const char	*id;		/* full container id; the cgroup path if none */
	const char	*name;		/* container name, unit name or cgroup path */
	const char	*cgroup;	/* path inside the hierarchy, "/docker/<id>" */
	const char	*runtime;	/* "docker", "containerd", "kubernetes", ... */
	const char	*image;		/* may be NULL */
	const char	*pod;		/* Kubernetes pod name, or NULL */
	const char	*namespace;	/* Kubernetes namespace, or NULL */
	const char	*note;		/* unreadable files, in words, or NULL */
	unsigned	 have;		/* MONITOR_HAVE_* */

	double		 cpu_percent;	/* docker: 100 = one CPU */
	uint64_t	 cpu_usage_ns;	/* cumulative */
	uint64_t	 mem_usage;	/* working set: usage - inactive_file */
	uint64_t	 mem_raw_usage;	/* memory.current / usage_in_bytes */
	uint64_t	 mem_limit;	/* own limit, capped at MemTotal */
	double		 mem_percent;
	uint64_t	 mem_parent_limit;	/* with MONITOR_HAVE_PARENT */
	uint64_t	 swap;
	uint64_t	 oom_events;
	uint64_t	 oom_kills;
	double		 psi_some_avg10;	/* memory pressure, percent */
	double		 psi_full_avg10;
	uint64_t	 net_rx;
	uint64_t	 net_tx;
	struct monitor_iface ifaces[MONITOR_MAX_IFACES];
	int		 nifaces;
	uint64_t	 blk_read;
	uint64_t	 blk_write;
	uint64_t	 pids;
	uint64_t	 pids_limit;	/* 0: none */
};

/* All rows of one refresh. */
struct monitor_snapshot {
	struct monitor_row	*rows;
	size_t			 nrows;
	uint64_t		 time_ns;	/* CLOCK_MONOTONIC of the refresh */
	uint64_t		 mem_total;	/* host MemTotal, bytes */
	int			 ncpus;		/* online CPUs, docker's count */
	const char		*layout;	/* "v1", "v2" or "hybrid" */
};

struct monitor;

struct monitor	*monitor_create(const struct monitor_config *, char **);
const struct monitor_snapshot *monitor_refresh(struct monitor *, char **);
void		 monitor_free(struct monitor *);
int		 monitor_pids(struct monitor *, const struct monitor_row *,
		     pid_t **, size_t *);
void		 monitor_config_from_env(struct monitor_config *);

/* Per-process memory (procmem.c), in bytes. */
struct procmem {
	pid_t		 pid;
	char		 cmd[64];
	uint64_t	 rss;
	uint64_t	 pss;
	uint64_t	 uss;
	uint64_t	 swap;
	int		 smaps_ok;	/* 0: PSS/USS unreadable (EACCES, ESRCH) */
};

struct procmem_reader;

struct procmem_reader *procmem_open(const char *);
int		 procmem_read(struct procmem_reader *, pid_t, struct procmem *);
void		 procmem_close(struct procmem_reader *);

/* ---- internal to the monitor family -------------------------------- */

/* Controller classes the monitor reads. */
enum cgroup_ctrl {
	CGROUP_MEMORY,
	CGROUP_CPU,
	CGROUP_IO,
	CGROUP_PIDS,
	CGROUP_NCTRL
};

enum cgroup_mode {
	CGROUP_MODE_NONE,
	CGROUP_MODE_V1,
	CGROUP_MODE_V2,
	CGROUP_MODE_HYBRID
};

#define CGROUP_MAX_HIER	16

/* Files a node keeps open, one slot each. */
enum cgroup_file_id {
	CGF_MEM_USAGE,
	CGF_MEM_STAT,
	CGF_MEM_LIMIT,
	CGF_MEM_SWAP,
	CGF_MEM_EVENTS,
	CGF_MEM_FAILCNT,
	CGF_MEM_PRESSURE,
	CGF_CPU_USAGE,
	CGF_IO,
	CGF_PIDS,
	CGF_PIDS_MAX,
	CGF_PROCS,
	CGF_COUNT
};

/* Raw figures of one cgroup at one time (bits as in MONITOR_HAVE_*). */
struct cgroup_sample {
	unsigned	 have;
	unsigned	 denied;	/* MONITOR_HAVE_* bits refused with EACCES */
	uint64_t	 mem_usage;
	uint64_t	 mem_inactive_file;
	int		 mem_has_inactive;
	uint64_t	 mem_limit;	/* UINT64_MAX: none */
	uint64_t	 mem_hier_limit;	/* v1: hierarchical_memory_limit */
	uint64_t	 swap;
	uint64_t	 oom_events;
	uint64_t	 oom_kills;
	double		 psi_some_avg10;
	double		 psi_full_avg10;
	uint64_t	 cpu_usage_ns;
	uint64_t	 io_read;
	uint64_t	 io_write;
	uint64_t	 pids;
	uint64_t	 pids_max;	/* UINT64_MAX: none */
};

/* One cgroup the monitor knows, with its kept-open files. */
struct cgroup_node {
	char		*path;		/* "/" or "/a/b", relative to each mount */
	int		 fd[CGF_COUNT];	/* kept-open files; -1: not open */
	unsigned	 absent;	/* CGF_* bits of files that did not exist */
	unsigned	 cached;	/* CGF_* bits with a value in cache[] */
	uint64_t	 cache[CGF_COUNT];	/* limits, re-read now and then */
	unsigned	 age;		/* samples taken */
	void		*owner;		/* the monitor's entry for this node */
};

struct cgroup_layout;

/* Per-version readers, chosen once per controller at discovery. */
struct cgroup_ops {
	const char	*name;
	int		(*read_memory)(struct cgroup_layout *, struct cgroup_node *,
			    int, struct cgroup_sample *);
	int		(*read_cpu)(struct cgroup_layout *, struct cgroup_node *,
			    int, struct cgroup_sample *);
	int		(*read_io)(struct cgroup_layout *, struct cgroup_node *,
			    int, struct cgroup_sample *);
	int		(*read_pids)(struct cgroup_layout *, struct cgroup_node *,
			    int, struct cgroup_sample *);
};

/* One mounted hierarchy. */
struct cgroup_hier {
	char		*path;		/* mount point, after remapping */
	int		 version;	/* 1 or 2 */
	char		*options;	/* v1: controller list, "cpu,cpuacct" */
	int		 fd;		/* O_DIRECTORY fd of the mount point */
};

/* The host's cgroup layout: every hierarchy and who serves each controller. */
struct cgroup_layout {
	enum cgroup_mode	 mode;
	struct cgroup_hier	 hier[CGROUP_MAX_HIER];
	int			 nhier;
	int			 ctrl_hier[CGROUP_NCTRL];	/* -1: none */
	const struct cgroup_ops	*ops[CGROUP_NCTRL];
	int			 v2_hier;	/* unified hierarchy, -1: none */
	int			 walk_hier;	/* the one discovery walks */
	int			 fds_open;	/* files kept open by all nodes */
	int			 fds_budget;	/* keep no more open than this */
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* cgroup.c */
int		 cgroup_parse_mountinfo(const char *, struct cgroup_layout *);
int		 cgroup_layout_open(struct cgroup_layout *, const char *,
		     const char *, char **);
void		 cgroup_layout_close(struct cgroup_layout *);
const char	*cgroup_mode_name(enum cgroup_mode);
struct cgroup_node *cgroup_node_create(const char *);
void		 cgroup_node_free(struct cgroup_layout *, struct cgroup_node *);
ssize_t		 cgroup_read_file(struct cgroup_layout *, struct cgroup_node *, int,
		     enum cgroup_file_id, const char *, char *, size_t);
int		 cgroup_read_u64(struct cgroup_layout *, struct cgroup_node *, int,
		     enum cgroup_file_id, const char *, uint64_t *);
int		 cgroup_read_limit(struct cgroup_layout *, struct cgroup_node *, int,
		     enum cgroup_file_id, const char *, uint64_t *);
int		 cgroup_sample_read(struct cgroup_layout *, struct cgroup_node *,
		     struct cgroup_sample *);
int		 cgroup_is_gone(int);
int		 cgroup_parse_u64(const char *, uint64_t *);
int		 cgroup_parse_keyed(const char *, const char *, uint64_t *);
int		 cgroup_parse_psi(const char *, double *, double *);
int		 cgroup_parse_procs_first(const char *, pid_t *);
int		 cgroup_scan_keyed(const char **, const char **, size_t *, uint64_t *);
int		 cgroup_key_is(const char *, size_t, const char *);

/* cgroup-v1.c, cgroup-v2.c: parsers, exposed for tests and fuzzing */
int		 cgroup_v1_parse_blkio(const char *, uint64_t *, uint64_t *);
int		 cgroup_v1_parse_memory_stat(const char *, struct cgroup_sample *);
int		 cgroup_v2_parse_io_stat(const char *, uint64_t *, uint64_t *);
int		 cgroup_v2_parse_memory_stat(const char *, struct cgroup_sample *);
int		 cgroup_v2_parse_max(const char *, uint64_t *);
int		 cgroup_v2_parent_limit(struct cgroup_layout *, int, const char *,
		     uint64_t *);

/* cgroup-walk.c: discovery and inotify */
struct cgroup_walk;
typedef void	cgroup_walk_cb(void *, const char *, int);
struct cgroup_walk *cgroup_walk_create(int, cgroup_walk_cb *, void *);
int		 cgroup_walk_update(struct cgroup_walk *, int);
void		 cgroup_walk_free(struct cgroup_walk *);
int		 cgroup_walk_watching(struct cgroup_walk *);

/* procfs.c */
struct procfs_cpu {
	uint64_t	 system_ns;	/* docker: user..softirq ticks in ns */
	int		 ncpus;		/* "cpuN" lines */
};
int		 procfs_parse_stat(const char *, struct procfs_cpu *);
int		 procfs_parse_meminfo(const char *, uint64_t *);
int		 procfs_parse_net_dev(const char *, struct monitor_iface *, int *,
		     uint64_t *, uint64_t *);
int		 procfs_read_all(int, const char *, char *, size_t);
ssize_t		 procfs_pread(int, char *, size_t);

/* json-scan.c */
int		 json_get_string(const char *, size_t, const char *, char *, size_t);
int		 json_get_int(const char *, size_t, const char *, long long *);
int		 json_array_find(const char *, size_t, const char *, const char *,
		     const char **, size_t *);

/* container.c: classification and names */
enum container_kind {
	CONTAINER_NONE,
	CONTAINER_UNKNOWN,	/* a 64-hex id no runtime's files claim */
	CONTAINER_DOCKER,
	CONTAINER_CONTAINERD,
	CONTAINER_CRIO,
	CONTAINER_PODMAN,
	CONTAINER_LXC,
	CONTAINER_NSPAWN,
	CONTAINER_SYSTEMD
};

struct container_paths {
	char		*docker_root;
	char		*containerd_root;
	char		*podman_root;
	char		*crio_root;
	char		*docker_socket;	/* "": do not ask the API */
};

/* What a cgroup path says about a container, and what its runtime's files add. */
struct container_info {
	enum container_kind kind;
	char		*id;		/* 64-hex id, or a unit, machine or LXC name */
	char		*name;		/* NULL until resolved */
	char		*image;
	char		*pod;		/* Kubernetes */
	char		*namespace;
	int		 sandbox;	/* a Kubernetes pod's pause container */
	uid_t		 owner;		/* rootless: the user */
	int		 rootless;
	int		 error;		/* errno of the last failed resolution */
};

int		 container_classify(const char *, struct container_info *);
int		 container_resolve(const struct container_paths *,
		     struct container_info *);
void		 container_info_clear(struct container_info *);
const char	*container_runtime_name(const struct container_info *);
char		*container_read_file(const char *, size_t *);
char		*container_user_root(uid_t, const char *);
int		 container_docker_resolve(const struct container_paths *,
		     struct container_info *);
int		 container_k8s_resolve(const struct container_paths *,
		     struct container_info *);
int		 container_crio_resolve(const struct container_paths *,
		     struct container_info *);
int		 container_podman_resolve(const struct container_paths *,
		     struct container_info *);
int		 container_systemd_classify(const char *, const char *,
		     struct container_info *);
char		*container_systemd_unescape(const char *, size_t);

#endif /* MONITOR_H */
