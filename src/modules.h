/*
 * modules.h: the controller learning where each profiled process has its
 * code mapped, from /proc/PID/maps, so native frames can be symbolized
 * (symbolize.h) live and, through WIRE_REC_MODULE records in the capture,
 * offline.  The agent sends no module records; docs/native.md explains why
 * and what that costs (a process gone before its maps were read).
 */

#ifndef MEMPROF_MODULES_H
#define MEMPROF_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* One executable file mapping, as /proc/PID/maps shows it. */
struct module_map {
	uint64_t	 start;
	uint64_t	 end;
	uint64_t	 offset;
	uint64_t	 inode;
	uint32_t	 dev_major;
	uint32_t	 dev_minor;
	char		*path;
};

/* Parse maps text: executable mappings of files only; -1 (EINVAL) on a malformed line. */
int	modules_parse_maps(const char *text, size_t len, struct module_map **maps, size_t *n);
/* Read proc_root/PID/maps; -1 with errno (ENOENT/ESRCH: the process is gone). */
int	modules_read_maps(const char *proc_root, int pid, struct module_map **maps, size_t *n);
void	modules_free_maps(struct module_map *, size_t);
/* Encode a WIRE_REC_MODULE payload into an xmalloc'd buffer; returns its length. */
size_t	modules_encode(const struct module_map *, unsigned char **buf);

/* Delivers one WIRE_REC_MODULE payload of a process (to the capture and the model). */
typedef void (*modules_emit_fn)(void *arg, struct process *, const void *payload, size_t len);

struct modules;

struct modules	*modules_create(const char *proc_root);
void		 modules_free(struct modules *);
/* A new image said hello: send its mappings (or its fork parent's if it is gone already). */
void		 modules_on_hello(struct modules *, struct profile *, struct process *,
		    modules_emit_fn, void *arg);
/*
 * A STACK record of an image is about to be applied: if a native frame lies
 * outside every known mapping, read the maps again and send what is new.
 * Each such address causes at most one read, and an image at most
 * MODULES_REREADS_MAX of them.
 */
void		 modules_on_stack(struct modules *, struct profile *, struct process *,
		    const void *payload, size_t len, modules_emit_fn, void *arg);

#endif /* MEMPROF_MODULES_H */
