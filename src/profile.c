/*
 * profile.c: building the model of profile.h from wire records.
 *
 * Peak tracking costs O(1) per event: a process's peak_epoch increments
 * each time its live total reaches a new maximum, which makes every stack's
 * current live bytes its "bytes at peak".  A stack about to change for the
 * first time since the latest peak first saves its live bytes as at_peak and
 * stamps the epoch; a stack not touched since then still holds its peak
 * value in live_bytes.  So no snapshot of all stacks is ever taken.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "linetable.h"
#include "profile.h"
#include "symbolize.h"

#define PROFILE_NO_STACK	0	/* global stack id of allocations without a stack */
/* No allocation is larger than x86-64's 2^47-byte user address space; 2^48 leaves room. */
#define PROFILE_SIZE_MAX	(1ULL << 48)
/*
 * Agent stack ids are dense (one counter per image), so those below this
 * bound map through a vector, one load per allocation instead of a hash
 * probe; larger ones (a hostile capture) through a hash map.  4 Mi ids
 * is 16 MiB of vector at most.
 */
#define PROFILE_STACK_VEC_MAX	(1U << 22)

/* Create an empty model; stack 0 is "no stack" with an [unknown] frame. */
struct profile *
profile_create(void)
{
	struct profile	*pf = xcalloc(1, sizeof *pf);
	struct frame	 unknown;

	hmap_init(&pf->string_index);
	hmap_init(&pf->frame_index);
	hmap_init(&pf->stack_index);
	profile_intern_string(pf, "", 0);
	memset(&unknown, 0, sizeof unknown);
	unknown.function = profile_intern_string(pf, "[unknown]", 9);
	pf->frames = xcalloc(1, sizeof *pf->frames);
	pf->frames[0] = unknown;
	pf->nframes = 1;
	pf->stacks = xcalloc(1, sizeof *pf->stacks);
	pf->stacks[0].nframes = 0;
	pf->stacks[0].site = 0;
	pf->nstacks = 1;
	return pf;
}

/* Free one process image. */
static void
profile_free_process(struct process *p)
{
	size_t	i;

	for (i = 0; i < p->ncode; i++)
		free(p->code[i].table);
	free(p->code);
	hmap_free(&p->codes);
	free(p->stack_vec);
	hmap_free(&p->stack_ids);
	hmap_free(&p->frame_cache);
	hmap_free(&p->native_cache);
	free(p->modules);
	hmap_free(&p->live);
	free(p->recent);
	free(p->live_pool);
	free(p->live_free);
	free(p->mapped);
	free(p->stats);
	free(p->exe);
	free(p);
}

/* Free the model and everything it holds. */
void
profile_free(struct profile *pf)
{
	size_t	i;

	if (pf == NULL)
		return;
	for (i = 0; i < pf->nstrings; i++)
		free(pf->strings[i]);
	free(pf->strings);
	hmap_free(&pf->string_index);
	free(pf->frames);
	hmap_free(&pf->frame_index);
	for (i = 0; i < pf->nstacks; i++)
		free(pf->stacks[i].frames);
	free(pf->stacks);
	hmap_free(&pf->stack_index);
	for (i = 0; i < pf->nprocs; i++)
		profile_free_process(pf->procs[i]);
	free(pf->procs);
	for (i = 0; i < pf->ncommand; i++)
		free(pf->command[i]);
	free(pf->command);
	free(pf->timeline);
	symbolize_free(pf->symbols);
	free(pf);
}

/* Intern a string of len bytes (not necessarily NUL-terminated); returns its id. */
uint32_t
profile_intern_string(struct profile *pf, const char *s, size_t len)
{
	uint64_t	 key = hmap_hash_bytes(s, len, 0), *v;
	uint32_t	 id;

	/* Collisions probe on by re-mixing the key, so ids stay exact. */
	while ((v = hmap_get(&pf->string_index, key)) != NULL) {
		const char	*t = pf->strings[*v];

		if (strlen(t) == len && memcmp(t, s, len) == 0)
			return (uint32_t)*v;
		key = hmap_mix(key) | 1;
	}
	id = (uint32_t)pf->nstrings;
	pf->strings = xreallocarray(pf->strings, pf->nstrings + 1, sizeof *pf->strings);
	pf->strings[pf->nstrings++] = xstrndup(s, len);
	hmap_put(&pf->string_index, key, id);
	return id;
}

/* The string with this id ("" for an unknown id). */
const char *
profile_string(const struct profile *pf, uint32_t id)
{
	return id < pf->nstrings ? pf->strings[id] : "";
}

/* Intern a frame; returns its id. */
static uint32_t
profile_intern_frame(struct profile *pf, const struct frame *f)
{
	uint64_t	 key = hmap_hash_bytes(f, sizeof *f, 1), *v;
	uint32_t	 id;

	while ((v = hmap_get(&pf->frame_index, key)) != NULL) {
		if (memcmp(&pf->frames[*v], f, sizeof *f) == 0)
			return (uint32_t)*v;
		key = hmap_mix(key) | 1;
	}
	id = (uint32_t)pf->nframes;
	pf->frames = xreallocarray(pf->frames, pf->nframes + 1, sizeof *pf->frames);
	pf->frames[pf->nframes++] = *f;
	hmap_put(&pf->frame_index, key, id);
	return id;
}

/*
 * 1 if a native frame is an allocator's own entry point, which is never the
 * interesting site: the agent (it skips its own frames, but a copy loaded
 * twice would not be skipped), the C allocation functions (reached through
 * an alias the agent does not interpose) and C++'s operator new.
 */
static int
profile_frame_is_allocator(const struct profile *pf, const struct frame *f)
{
	static const char	*names[] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
		"aligned_alloc", "memalign", "valloc", "pvalloc", "__libc_malloc",
		"__libc_calloc", "__libc_realloc", "__libc_memalign", "__libc_valloc",
		"__libc_pvalloc", "__posix_memalign"
	};
	const char		*file = profile_string(pf, f->file), *base, *fn;
	size_t			 i;

	if (!f->native)
		return 0;
	base = strrchr(file, '/');
	base = base != NULL ? base + 1 : file;
	if (strncmp(base, "libmemprof.", 11) == 0)
		return 1;
	fn = profile_string(pf, f->function);
	/* Itanium mangling of operator new and new[], every overload. */
	if (strncmp(fn, "_Znwm", 5) == 0 || strncmp(fn, "_Znam", 5) == 0)
		return 1;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(fn, names[i]) == 0)
			return 1;
	}
	return 0;
}

/* Intern a stack of frame ids (innermost first); returns its id. */
static uint32_t
profile_intern_stack(struct profile *pf, const uint32_t *frames, uint32_t n, uint32_t truncated)
{
	uint64_t	 key = hmap_hash_bytes(frames, n * sizeof *frames, 2 + truncated), *v;
	struct stack	*st;
	uint32_t	 id, i;

	while ((v = hmap_get(&pf->stack_index, key)) != NULL) {
		st = &pf->stacks[*v];
		if (st->nframes == n && st->truncated == truncated &&
		    memcmp(st->frames, frames, n * sizeof *frames) == 0)
			return (uint32_t)*v;
		key = hmap_mix(key) | 1;
	}
	id = (uint32_t)pf->nstacks;
	pf->stacks = xreallocarray(pf->stacks, pf->nstacks + 1, sizeof *pf->stacks);
	st = &pf->stacks[pf->nstacks++];
	st->nframes = n;
	st->truncated = truncated;
	st->frames = xreallocarray(NULL, n == 0 ? 1 : n, sizeof *frames);
	memcpy(st->frames, frames, n * sizeof *frames);
	/*
	 * The site is the innermost Python frame; without one, the innermost
	 * native frame that is not an allocator's entry point; else the
	 * innermost frame at all.
	 */
	st->site = n > 0 ? frames[0] : 0;
	for (i = 0; i < n; i++) {
		if (!pf->frames[frames[i]].native) {
			st->site = frames[i];
			break;
		}
	}
	if (i == n) {
		for (i = 0; i < n; i++) {
			if (!profile_frame_is_allocator(pf, &pf->frames[frames[i]])) {
				st->site = frames[i];
				break;
			}
		}
	}
	hmap_put(&pf->stack_index, key, id);
	return id;
}

static void	profile_snapshot_exit(struct process *);

/*
 * Peak RSS of the whole run: each image counts with its own peak while it
 * runs, so images that ran one after another (a launcher's short helpers)
 * do not add up, and images that ran together do (an upper bound, as their
 * peaks need not have coincided).
 */
static void
profile_rss_raise(struct profile *pf, struct process *p, uint64_t peak)
{
	if (peak <= p->rss_peak)
		return;
	if (!p->rss_gone) {
		pf->rss_running += peak - p->rss_peak;
		if (pf->rss_running > pf->rss_peak_all)
			pf->rss_peak_all = pf->rss_running;
	}
	p->rss_peak = peak;
}

/*
 * A resident figure of an image without memprof's ring (wire_ring_resident).
 * A figure of now loses the ring of now.  A high-water mark loses the most
 * ring ever seen in the image (p->ring_max): the ring's pages can go back
 * to the kernel (channel.c), and taking a shrunken ring off a mark reached
 * while it was whole would report memprof's 16 MiB as the program's; the
 * most can only err low, by what the ring grew after the mark, and the
 * per-tick samples bound the peak from below as well.
 */
static uint64_t
profile_less_ring(uint64_t bytes, uint64_t ring)
{
	return bytes > ring ? bytes - ring : 0;
}

/* An image ended (or was replaced by exec): its peak leaves the running sum. */
static void
profile_rss_leave(struct profile *pf, struct process *p)
{
	if (!p->rss_gone) {
		pf->rss_running -= p->rss_peak;
		p->rss_gone = 1;
	}
}

/*
 * An image replaced by exec: what it held then was not left behind by the
 * program but dropped with the old address space, so it counts as nothing
 * live at exit (a shell or a launcher that execs Python is not a leak).
 * Its ring may still be draining; profile_apply_end keeps it so.
 */
static void
profile_mark_execd(struct process *p)
{
	profile_rss_leave(p->pf, p);
	p->execd = 1;
	p->exited_code = 1;
	profile_snapshot_exit(p);
}

/* Start a process image from its hello. */
struct process *
profile_add_process(struct profile *pf, uint32_t serial, const struct wire_hello *h)
{
	struct process	*p = xcalloc(1, sizeof *p);
	size_t		 i;

	p->pf = pf;
	p->serial = serial;
	p->pid = h->pid;
	p->ppid = h->ppid;
	p->flags = h->flags;
	p->sample_every = h->sample_every;
	p->exe = xstrndup(h->exe, strnlen(h->exe, sizeof h->exe));
	p->wait_status = -1;
	hmap_init(&p->codes);
	hmap_init(&p->stack_ids);
	hmap_init(&p->frame_cache);
	hmap_init(&p->native_cache);
	hmap_init(&p->live);
	/*
	 * The parent is the latest image of ppid, or the previous image of
	 * this pid, which exec replaced (a pid reused after an exit would look
	 * the same; within one run that is rare).
	 */
	for (i = pf->nprocs; i > 0; i--) {
		if (pf->procs[i - 1]->pid == h->ppid || pf->procs[i - 1]->pid == h->pid) {
			p->parent = pf->procs[i - 1]->serial;
			if (pf->procs[i - 1]->pid == h->pid)
				profile_mark_execd(pf->procs[i - 1]);
			break;
		}
	}
	pf->procs = xreallocarray(pf->procs, pf->nprocs + 1, sizeof *pf->procs);
	pf->procs[pf->nprocs++] = p;
	return p;
}

/* The process image with this serial, or NULL. */
struct process *
profile_process(const struct profile *pf, uint32_t serial)
{
	size_t	i;

	/* Serials are dense and in order, so this is normally one step. */
	if (serial >= 1 && serial <= pf->nprocs && pf->procs[serial - 1]->serial == serial)
		return pf->procs[serial - 1];
	for (i = 0; i < pf->nprocs; i++) {
		if (pf->procs[i]->serial == serial)
			return pf->procs[i];
	}
	return NULL;
}

/* The figures of a stack in a process, growing the table as needed. */
static struct stack_stats *
profile_stats(struct process *p, uint32_t stack)
{
	size_t	n;

	if (stack >= p->nstats) {
		n = p->nstats == 0 ? 64 : p->nstats;
		while (n <= stack)
			n *= 2;
		p->stats = xreallocarray(p->stats, n, sizeof *p->stats);
		memset(p->stats + p->nstats, 0, (n - p->nstats) * sizeof *p->stats);
		p->nstats = n;
	}
	return &p->stats[stack];
}

/* Bytes a stack held at its process's latest peak. */
int64_t
profile_stack_at_peak(const struct process *p, uint32_t stack)
{
	const struct stack_stats	*s;

	if (stack >= p->nstats)
		return 0;
	s = &p->stats[stack];
	return s->peak_epoch == p->peak_epoch ? s->at_peak : s->live_bytes;
}

/*
 * The same at the peak of all processes together.  An image that ended
 * before that peak held nothing then: its figures stay for the leaks view,
 * but its bytes left the sum when it ended.
 */
int64_t
profile_stack_at_all_peak(const struct process *p, uint32_t stack)
{
	const struct stack_stats	*s;

	if (stack >= p->nstats)
		return 0;
	if (p->all_ended && p->end_all_epoch != p->pf->peak_all_epoch)
		return 0;
	s = &p->stats[stack];
	return s->all_peak_epoch == p->pf->peak_all_epoch ? s->at_all_peak : s->live_bytes;
}

/* Change a stack's live figures (and totals), keeping its value at the peak. */
static void
profile_change_live(struct process *p, uint32_t stack, int64_t bytes, double count)
{
	struct stack_stats	*s = profile_stats(p, stack);
	struct profile		*pf = p->pf;

	/*
	 * The peak trick, twice (the process's peak, all processes' peak): a
	 * stack's value at the latest peak is saved on its first change after
	 * that peak, so a new peak costs one epoch increment, not a snapshot.
	 */
	if (s->peak_epoch != p->peak_epoch) {
		s->at_peak = s->live_bytes;
		s->peak_epoch = p->peak_epoch;
	}
	if (s->all_peak_epoch != pf->peak_all_epoch) {
		s->at_all_peak = s->live_bytes;
		s->all_peak_epoch = pf->peak_all_epoch;
	}
	/* Wrapping arithmetic: a hostile ring cannot make the controller hit UB. */
	s->live_bytes = (int64_t)((uint64_t)s->live_bytes + (uint64_t)bytes);
	s->live_count += count;
	p->live_total = (int64_t)((uint64_t)p->live_total + (uint64_t)bytes);
	if (p->live_total > p->peak) {
		p->peak = p->live_total;
		p->peak_epoch++;
	}
	if (!p->all_ended) {
		pf->live_all = (int64_t)((uint64_t)pf->live_all + (uint64_t)bytes);
		if (pf->live_all > pf->peak_all) {
			pf->peak_all = pf->live_all;
			pf->peak_all_epoch++;
		}
	}
}

/*
 * The number of allocations a block of size bytes recorded with weight
 * stands for: one in exact mode, where the weight is the size (every event
 * comes through here, and a division is the slowest instruction in it).
 */
static inline double
profile_count(uint64_t weight, uint64_t size)
{
	if (weight == size || size == 0)
		return 1.0;
	return (double)weight / (double)size;
}

/* Forget a live allocation (by pool index) and give back its bytes. */
static void
profile_release(struct process *p, uint64_t addr, uint32_t idx)
{
	struct live_alloc	*a = &p->live_pool[idx];
	double			 count = profile_count(a->weight, a->size);
	size_t			 i;

	profile_change_live(p, a->stack, -(int64_t)a->weight, -count);
	if (a->mapped) {
		for (i = 0; i < p->nmapped; i++) {
			if (p->mapped[i] == addr) {
				p->mapped[i] = p->mapped[--p->nmapped];
				break;
			}
		}
	}
	/* Grow by doubling: releases come by the million in --exact mode. */
	if (p->live_free_len == p->live_free_cap) {
		p->live_free_cap = p->live_free_cap == 0 ? 16 : p->live_free_cap * 2;
		p->live_free = xreallocarray(p->live_free, p->live_free_cap, sizeof *p->live_free);
	}
	p->live_free[p->live_free_len++] = idx;
}

/* The global id of a process's agent stack id; 0 if it was never sent. */
int
profile_stack_lookup(const struct process *p, uint32_t agent_id, uint32_t *gid)
{
	uint64_t	*v;

	if (agent_id < p->stack_vec_len) {
		if (p->stack_vec[agent_id] == 0)
			return 0;
		*gid = p->stack_vec[agent_id] - 1;
		return 1;
	}
	if (agent_id < PROFILE_STACK_VEC_MAX || (v = hmap_get(&p->stack_ids, agent_id)) == NULL)
		return 0;
	*gid = (uint32_t)*v;
	return 1;
}

/*
 * The live-address index and the recent blocks in front of it.  In --exact
 * mode most blocks are freed a few records after they were allocated, and
 * the index (millions of addresses, far larger than the caches) costs a
 * cache miss to insert and another to delete.  So a block that is not a
 * mapping first goes to a direct-mapped table of recent slots, a free that
 * finds it there never touches the index, and a block moves to the index
 * only when a newer one needs its slot.  An exact process gets 64 Ki slots
 * (1 MiB): Python threads take turns holding the GIL for 5 ms, about 50,000
 * allocations, so a block that outlives its thread's turn would fall out
 * of a 4096-slot table and cost the index after all (the collector's time
 * on bench/workloads/threads.py went down 10% from 4 Ki slots to 64 Ki).
 * A sampling process gets 1 Ki slots (16 KiB), which its few records fill
 * slowly enough.  Only the index and this table know where a block is;
 * everything else reads the pool.  One difference: a block recorded again
 * at an address whose free was lost (a dropped record) while the old one
 * sits in the index is found when the new one moves there, not at once.
 */
#define PROFILE_RECENT_EXACT_LOG2	16
#define PROFILE_RECENT_SAMPLE_LOG2	10

/* The recent slot of an address (the multiply spreads 16-byte-aligned addresses). */
static inline size_t
profile_recent_index(const struct process *p, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ULL) >> p->recent_shift);
}

static inline struct recent_alloc *
profile_recent_slot(struct process *p, uint64_t addr)
{
	return &p->recent[profile_recent_index(p, addr)];
}

/* Put a block in the index; a block already there at that address goes. */
static void
profile_index(struct process *p, uint64_t addr, uint32_t idx)
{
	uint64_t	old;

	/* Key is addr+1 because 0 is the map's empty key; malloc(0) may return any pointer. */
	if (hmap_swap(&p->live, addr + 1, idx, &old)) {
		profile_release(p, addr, (uint32_t)old);
		p->unmatched_frees++;
	}
}

/* The live block at addr, or NULL. */
const struct live_alloc *
profile_live_block(const struct process *p, uint64_t addr)
{
	const struct recent_alloc	*r;
	uint64_t			*v;

	if (p->recent != NULL &&
	    (r = &p->recent[profile_recent_index(p, addr)])->key == addr + 1)
		return &p->live_pool[r->idx];
	if ((v = hmap_get(&p->live, addr + 1)) == NULL)
		return NULL;
	return &p->live_pool[*v];
}

/* Count an allocation, live or already freed, as allocated by its stack; returns the stack. */
static uint32_t
profile_count_alloc(struct process *p, const struct wire_alloc *w, double count)
{
	struct stack_stats	*s;
	uint32_t		 stack = PROFILE_NO_STACK, gid;

	if (profile_stack_lookup(p, w->stack, &gid))
		stack = gid;
	s = profile_stats(p, stack);
	s->alloc_bytes += w->weight;
	s->alloc_count += count;
	p->allocated += w->weight;
	p->allocations += count;
	return stack;
}

/* Apply WIRE_REC_ALLOC. */
static void
profile_apply_alloc(struct profile *pf, struct process *p, const struct wire_alloc *w)
{
	struct recent_alloc	*r;
	struct live_alloc	*a;
	uint32_t		 idx, stack;
	unsigned int		 log2;
	double			 count = profile_count(w->weight, w->size);

	stack = profile_count_alloc(p, w, count);
	if (p->live_free_len > 0)
		idx = p->live_free[--p->live_free_len];
	else {
		if ((p->live_pool_len & (p->live_pool_len - 1)) == 0)
			p->live_pool = xreallocarray(p->live_pool,
			    p->live_pool_len == 0 ? 1 : p->live_pool_len * 2, sizeof *p->live_pool);
		idx = (uint32_t)p->live_pool_len++;
	}
	a = &p->live_pool[idx];
	a->size = w->size;
	a->weight = w->weight;
	a->stack = stack;
	a->allocator = w->allocator;
	a->mapped = w->allocator == WIRE_ALLOC_MMAP;
	if (a->mapped) {
		profile_index(p, w->addr, idx);
		p->mapped = xreallocarray(p->mapped, p->nmapped + 1, sizeof *p->mapped);
		p->mapped[p->nmapped++] = w->addr;
	} else {
		if (p->recent == NULL) {
			log2 = p->sample_every == 0 ? PROFILE_RECENT_EXACT_LOG2 :
			    PROFILE_RECENT_SAMPLE_LOG2;
			p->recent = xcalloc((size_t)1 << log2, sizeof *p->recent);
			p->recent_shift = 64 - log2;
		}
		r = profile_recent_slot(p, w->addr);
		if (r->key == w->addr + 1) {
			/* Allocated again: its free was not seen (dropped). */
			profile_release(p, w->addr, r->idx);
			p->unmatched_frees++;
		} else if (r->key != 0)
			profile_index(p, r->key - 1, r->idx);
		r->key = w->addr + 1;
		r->idx = idx;
	}

	profile_change_live(p, stack, (int64_t)w->weight, count);
	(void)pf;
}

/*
 * Apply WIRE_REC_ALLOC_FREED, a block freed before the controller read its
 * ALLOC (wire.h, Cancelling): allocated, and live for an instant, so a peak
 * it makes is still seen; it never reaches the address index.
 */
static void
profile_apply_alloc_freed(struct process *p, const struct wire_alloc *w)
{
	double		count = profile_count(w->weight, w->size);
	uint32_t	stack = profile_count_alloc(p, w, count);

	if ((int64_t)((uint64_t)p->live_total + w->weight) > p->peak ||
	    (!p->all_ended && (int64_t)((uint64_t)p->pf->live_all + w->weight) > p->pf->peak_all)) {
		profile_change_live(p, stack, (int64_t)w->weight, count);
		profile_change_live(p, stack, -(int64_t)w->weight, -count);
	}
}

/* Apply WIRE_REC_FREE: frees of addresses never recorded are normal and ignored. */
static void
profile_apply_free(struct process *p, const struct wire_free *w)
{
	struct recent_alloc	*r;
	uint64_t		 idx;

	if (p->recent != NULL && (r = profile_recent_slot(p, w->addr))->key == w->addr + 1) {
		profile_release(p, w->addr, r->idx);
		r->key = 0;
	} else if (hmap_del(&p->live, w->addr + 1, &idx))
		profile_release(p, w->addr, (uint32_t)idx);
	else
		p->unmatched_frees++;
}

/*
 * Apply WIRE_REC_UNMAP: each recorded mapping that overlaps the range loses
 * the overlap; one covered entirely is freed.  A hole punched in the middle
 * shrinks the mapping's figure without splitting it.
 */
static void
profile_apply_unmap(struct process *p, const struct wire_unmap *w)
{
	uint64_t		 lo = w->addr, hi = w->addr + w->len, idx, *v;
	uint64_t		 start, end, overlap, shed;
	struct live_alloc	*a;
	size_t			 i;

	for (i = 0; i < p->nmapped; ) {
		start = p->mapped[i];
		if ((v = hmap_get(&p->live, start + 1)) == NULL) {
			p->mapped[i] = p->mapped[--p->nmapped];
			continue;
		}
		a = &p->live_pool[*v];
		end = start + a->size;
		if (end <= lo || start >= hi) {
			i++;
			continue;
		}
		if (lo <= start && hi >= end) {
			hmap_del(&p->live, start + 1, &idx);
			profile_release(p, start, (uint32_t)idx);	/* removes mapped[i] */
			continue;
		}
		overlap = (hi < end ? hi : end) - (lo > start ? lo : start);
		shed = a->size == 0 ? 0 : (uint64_t)((double)a->weight * (double)overlap / (double)a->size);
		profile_change_live(p, a->stack, -(int64_t)shed, 0);
		a->weight -= shed;
		a->size -= overlap;
		if (lo <= start) {
			/* The head went: the mapping now starts at hi. */
			idx = *v;
			hmap_del(&p->live, start + 1, NULL);
			hmap_put(&p->live, hi + 1, idx);
			p->mapped[i] = hi;
		}
		i++;
	}
}

/* Apply WIRE_REC_CODE: remember a code object's names and line table. */
static int
profile_apply_code(struct profile *pf, struct process *p, const unsigned char *b, size_t len)
{
	struct wire_code	 w;
	struct code_info	*c;
	const unsigned char	*s;

	if (len < sizeof w)
		return -1;
	memcpy(&w, b, sizeof w);
	if (sizeof w + (size_t)w.filename_len + w.name_len + w.table_len > len || w.id == 0)
		return -1;
	s = b + sizeof w;
	p->code = xreallocarray(p->code, p->ncode + 1, sizeof *p->code);
	c = &p->code[p->ncode];
	c->file = profile_intern_string(pf, (const char *)s, w.filename_len);
	c->name = profile_intern_string(pf, (const char *)s + w.filename_len, w.name_len);
	c->firstlineno = w.firstlineno;
	c->format = w.table_format;
	c->table_len = w.table_len;
	c->table = xmalloc(w.table_len);
	memcpy(c->table, s + w.filename_len + w.name_len, w.table_len);
	hmap_put(&p->codes, w.id, p->ncode);
	p->ncode++;
	return 0;
}

/* The module of p covering addr, or NULL. */
const struct module_info *
profile_module_find(const struct process *p, uint64_t addr)
{
	size_t	lo = 0, hi = p->nmodules, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->modules[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && addr < p->modules[lo - 1].end)
		return &p->modules[lo - 1];
	return NULL;
}

/*
 * Apply WIRE_REC_MODULE: add a mapping, replacing any it overlaps (a
 * library unloaded and another mapped there).  A replacement forgets the
 * process's symbolized addresses, which may now name different code.
 */
static int
profile_apply_module(struct profile *pf, struct process *p, const unsigned char *b, size_t len)
{
	const struct module_info	*k;
	struct wire_module		 w;
	struct module_info		 m;
	const char			*path, *slash;
	size_t				 lo, hi, mid;

	if (len < sizeof w)
		return -1;
	memcpy(&w, b, sizeof w);
	if (w.path_len == 0 || w.path_len > len - sizeof w || w.start >= w.end)
		return -1;
	path = (const char *)b + sizeof w;
	memset(&m, 0, sizeof m);
	m.start = w.start;
	m.end = w.end;
	m.offset = w.offset;
	m.inode = w.inode;
	m.dev_major = w.dev_major;
	m.dev_minor = w.dev_minor;
	m.path = profile_intern_string(pf, path, w.path_len);
	slash = memrchr(path, '/', w.path_len);
	slash = slash != NULL ? slash + 1 : path;
	m.name = profile_intern_string(pf, slash, w.path_len - (size_t)(slash - path));
	k = profile_module_find(p, m.start);
	if (k != NULL && memcmp(k, &m, sizeof m) == 0)
		return 0;
	/* Modules are sorted and disjoint, so their ends are sorted too: [lo, hi) overlap m. */
	lo = 0;
	hi = p->nmodules;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->modules[mid].end <= m.start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < p->nmodules && p->modules[hi].start < m.end; hi++)
		continue;
	if (hi > lo) {
		hmap_free(&p->native_cache);
		hmap_init(&p->native_cache);
		memmove(p->modules + lo + 1, p->modules + hi, (p->nmodules - hi) * sizeof *p->modules);
		p->nmodules -= hi - lo - 1;
	} else {
		p->modules = xreallocarray(p->modules, p->nmodules + 1, sizeof *p->modules);
		memmove(p->modules + lo + 1, p->modules + lo, (p->nmodules - lo) * sizeof *p->modules);
		p->nmodules++;
	}
	p->modules[lo] = m;
	return 0;
}

/* The frame id of a native return address of a process, symbolized once. */
static uint32_t
profile_resolve_native(struct profile *pf, struct process *p, uint64_t addr)
{
	const struct module_info	*m;
	struct frame			 f;
	const char			*name = NULL, *source;
	char				 buf[320];
	uint64_t			*v, pc, off = 0;
	uint32_t			 id, line;

	if ((v = hmap_get(&p->native_cache, addr + 1)) != NULL)
		return (uint32_t)*v;
	memset(&f, 0, sizeof f);
	f.native = 1;
	/* A return address: the call is the byte before it (the next may be another function). */
	pc = addr > 0 ? addr - 1 : 0;
	if ((m = profile_module_find(p, pc)) != NULL) {
		if (pf->symbols == NULL)
			pf->symbols = symbolize_create();
		off = pc - m->start + m->offset;
		name = symbolize_lookup(pf->symbols, profile_string(pf, m->path), m->inode, off,
		    &off);
		f.file = m->path;
		/* With a line table, the call's source line too (off is now the ELF address). */
		if (pf->native_lines && symbolize_lookup_line(pf->symbols,
		    profile_string(pf, m->path), m->inode, off, &source, &line) == 0) {
			f.source = profile_intern_string(pf, source, strlen(source));
			f.line = (int32_t)line;
		}
	}
	if (name != NULL)
		f.function = profile_intern_string(pf, name, strlen(name));
	else {
		if (m != NULL)
			snprintf(buf, sizeof buf, "0x%llx (%.256s+0x%llx)", (unsigned long long)addr,
			    profile_string(pf, m->name), (unsigned long long)off + 1);
		else
			snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)addr);
		f.function = profile_intern_string(pf, buf, strlen(buf));
	}
	id = profile_intern_frame(pf, &f);
	hmap_put(&p->native_cache, addr + 1, id);
	return id;
}

/* The frame id of one wire frame of a process. */
static uint32_t
profile_resolve_frame(struct profile *pf, struct process *p, uint64_t wf)
{
	struct frame		 f;
	struct code_info	*c;
	uint64_t		*v, key;
	uint32_t		 id;
	int			 line;

	memset(&f, 0, sizeof f);
	if (wf & WIRE_FRAME_NATIVE)
		return profile_resolve_native(pf, p, wf & ~WIRE_FRAME_NATIVE);
	key = wf + 1;
	if ((v = hmap_get(&p->frame_cache, key)) != NULL)
		return (uint32_t)*v;
	if ((v = hmap_get(&p->codes, WIRE_FRAME_CODE(wf))) == NULL) {
		f.function = profile_intern_string(pf, "[unknown code]", 14);
	} else {
		c = &p->code[*v];
		line = linetable_line(c->format, c->table, c->table_len, c->firstlineno,
		    WIRE_FRAME_OFFSET(wf));
		f.function = c->name;
		f.file = c->file;
		f.line = line > 0 ? line : c->firstlineno;
	}
	id = profile_intern_frame(pf, &f);
	hmap_put(&p->frame_cache, key, id);
	return id;
}

/* Apply WIRE_REC_STACK: intern the stack and map the agent's id to it. */
static int
profile_apply_stack(struct profile *pf, struct process *p, const unsigned char *b, size_t len)
{
	struct wire_stack	 w;
	uint32_t		 ids[WIRE_STACK_MAX_FRAMES], i, gid;
	uint64_t		 wf;
	size_t			 n;

	if (len < sizeof w)
		return -1;
	memcpy(&w, b, sizeof w);
	if (w.nframes > WIRE_STACK_MAX_FRAMES || sizeof w + w.nframes * sizeof wf > len || w.id == 0)
		return -1;
	for (i = 0; i < w.nframes; i++) {
		memcpy(&wf, b + sizeof w + i * sizeof wf, sizeof wf);
		ids[i] = profile_resolve_frame(pf, p, wf);
	}
	gid = profile_intern_stack(pf, ids, w.nframes, w.truncated != 0);
	if (w.id >= PROFILE_STACK_VEC_MAX) {
		hmap_put(&p->stack_ids, w.id, gid);
		return 0;
	}
	if (w.id >= p->stack_vec_len) {
		n = p->stack_vec_len == 0 ? 1024 : p->stack_vec_len;
		while (n <= w.id)
			n *= 2;
		p->stack_vec = xreallocarray(p->stack_vec, n, sizeof *p->stack_vec);
		memset(p->stack_vec + p->stack_vec_len, 0,
		    (n - p->stack_vec_len) * sizeof *p->stack_vec);
		p->stack_vec_len = n;
	}
	p->stack_vec[w.id] = gid + 1;
	return 0;
}

/* Snapshot "live at exit" for every stack of a process. */
static void
profile_snapshot_exit(struct process *p)
{
	size_t	i;

	for (i = 0; i < p->nstats; i++)
		p->stats[i].at_exit = p->execd ? 0 : p->stats[i].live_bytes;
	p->at_exit_total = p->execd ? 0 : p->live_total;
}

/* Apply one wire record of a process image; -1 if it is malformed. */
int
profile_apply_wire(struct profile *pf, struct process *p, uint16_t type, const void *payload,
    size_t len)
{
	struct wire_alloc	a;
	struct wire_free	f;
	struct wire_unmap	u;
	struct wire_python	py;
	uint64_t		exit_rss[2];
	const struct wire_alloc	*ap;
	const struct wire_free	*fp;

	p->events++;
	switch (type) {
	case WIRE_REC_PAD:
	case WIRE_REC_THREAD:
		return 0;
	case WIRE_REC_MODULE:
		return profile_apply_module(pf, p, payload, len);
	case WIRE_REC_ALLOC:
	case WIRE_REC_ALLOC_FREED:
		if (len < sizeof a)
			return -1;
		ap = WIRE_VIEW(payload, &a);
		if (ap->size > PROFILE_SIZE_MAX || ap->weight > PROFILE_SIZE_MAX)
			return -1;
		if (type == WIRE_REC_ALLOC)
			profile_apply_alloc(pf, p, ap);
		else
			profile_apply_alloc_freed(p, ap);
		return 0;
	case WIRE_REC_FREE:
		if (len < sizeof f)
			return -1;
		fp = WIRE_VIEW(payload, &f);
		profile_apply_free(p, fp);
		return 0;
	case WIRE_REC_UNMAP:
		if (len < sizeof u)
			return -1;
		memcpy(&u, payload, sizeof u);
		if (u.len > PROFILE_SIZE_MAX || u.addr > UINT64_MAX - u.len)
			return -1;
		profile_apply_unmap(p, &u);
		return 0;
	case WIRE_REC_STACK:
		return profile_apply_stack(pf, p, payload, len);
	case WIRE_REC_CODE:
		return profile_apply_code(pf, p, payload, len);
	case WIRE_REC_PYTHON:
		if (len < sizeof py)
			return -1;
		memcpy(&py, payload, sizeof py);
		p->python_hex = py.hexversion;
		p->python_flags = py.flags;
		return 0;
	case WIRE_REC_EXIT:
		if (!p->exited_code) {
			profile_snapshot_exit(p);
			p->exited_code = 1;
		}
		/* The image's own peak resident set, if the agent read it, less the ring's pages. */
		if (len >= sizeof exit_rss[0]) {
			memset(exit_rss, 0, sizeof exit_rss);
			memcpy(exit_rss, payload, len < sizeof exit_rss ? len : sizeof exit_rss);
			if (exit_rss[1] > p->ring_max)
				p->ring_max = exit_rss[1];
			if (exit_rss[0] != 0)
				profile_rss_raise(pf, p, profile_less_ring(exit_rss[0], p->ring_max));
		}
		return 0;
	default:
		return -1;
	}
}

/* A process image ended (exit, exec or kill); its last live figures count as at exit. */
void
profile_apply_end(struct profile *pf, struct process *p, int wait_status,
    uint64_t dropped_records, uint64_t dropped_bytes)
{
	if (!p->exited_code)
		profile_snapshot_exit(p);
	/* Its memory went back to the system: out of the all-process sum. */
	if (!p->all_ended) {
		pf->live_all = (int64_t)((uint64_t)pf->live_all - (uint64_t)p->live_total);
		p->all_ended = 1;
		p->end_all_epoch = pf->peak_all_epoch;
	}
	profile_rss_leave(pf, p);
	p->ended = 1;
	p->wait_status = wait_status;
	p->dropped_records = dropped_records;
	p->dropped_bytes = dropped_bytes;
}

/* A resident-set sample of a process, with its high-water mark (0 if unknown). */
void
profile_apply_rss(struct profile *pf, struct process *p, uint64_t rss, uint64_t hwm,
    uint64_t ring)
{
	if (ring > p->ring_max)
		p->ring_max = ring;
	rss = profile_less_ring(rss, ring);
	hwm = profile_less_ring(hwm, p->ring_max);
	p->rss_last = rss;
	profile_rss_raise(pf, p, rss > hwm ? rss : hwm);
}

/* A clock tick: add one timeline point per running process. */
void
profile_apply_time(struct profile *pf, uint64_t t_ns)
{
	struct timeline_point	*tp;
	size_t			 i;

	pf->now_ns = t_ns;
	for (i = 0; i < pf->nprocs; i++) {
		if (pf->procs[i]->ended)
			continue;
		if ((pf->ntimeline & (pf->ntimeline - 1)) == 0)
			pf->timeline = xreallocarray(pf->timeline,
			    pf->ntimeline == 0 ? 1 : pf->ntimeline * 2, sizeof *pf->timeline);
		tp = &pf->timeline[pf->ntimeline++];
		tp->t_ns = t_ns;
		tp->serial = pf->procs[i]->serial;
		tp->heap = pf->procs[i]->live_total;
		tp->rss = pf->procs[i]->rss_last;
	}
}
