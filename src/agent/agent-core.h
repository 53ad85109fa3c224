/*
 * agent-core.h: what the recorder's own files share with each other
 * (agent-core.c, agent-record.c, agent-hooks.c, agent-ring.c,
 * agent-sampler.c, agent-addrset.c, agent-maps.c, agent-stack.c).  agent.h stays the
 * interface with agent-python.c and agent-pymem.c; nothing here is needed
 * by them.
 *
 * The hot path lives in the hooks and in the inline functions below: a
 * per-thread byte countdown in initial-exec TLS decides whether an
 * allocation is sampled, and a lock-free probe of the set of recorded
 * addresses decides whether a free has to be sent.  Everything else is the
 * slow path, entered with the thread's guard held.
 */

#ifndef MEMPROF_AGENT_CORE_H
#define MEMPROF_AGENT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"

/*
 * Architecture.  Every assumption about the CPU lives here: x86-64 (little
 * endian as wire.h requires, 64-bit pointers, user addresses below 2^47 so
 * that bit 63 of a return address is free for WIRE_FRAME_NATIVE, SYS_mmap
 * taking its offset in bytes), a pause instruction for spin loops.  The
 * page size is read at run time.  Another target needs this block and a
 * look at the unwinder in agent-stack.c, nothing else.
 */
#if defined(__x86_64__)
#define AGENT_CPU_RELAX()	__builtin_ia32_pause()
#else
#error "libmemprof supports x86-64 only for now (see agent-core.h)"
#endif

#define AGENT_LIKELY(x)		__builtin_expect(!!(x), 1)
#define AGENT_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define AGENT_HIDDEN		__attribute__((visibility("hidden")))
#define AGENT_COLD		__attribute__((noinline, cold))
/* Out of line to keep a fast path short, but hot in --exact: not cold. */
#define AGENT_NOINLINE		__attribute__((noinline))

/* Default mean bytes between samples: jemalloc's and Go's default (512 KiB). */
#define AGENT_SAMPLE_DEFAULT	(512U << 10)

/* agent_mode: what the hooks do; read on every hooked call. */
#define AGENT_MODE_OFF		0	/* pass-through: inert, disabled, detached */
#define AGENT_MODE_SAMPLE	1	/* Poisson sampling; frees probed in the addrset */
#define AGENT_MODE_EXACT	2	/* every allocation and every free is sent */

/* Countdown of a thread that must not sample: effectively never reached. */
#define AGENT_COUNTDOWN_NEVER	INT64_MAX

/*
 * Per-thread hot state, in initial-exec TLS (one %fs-relative access, no
 * __tls_get_addr that could allocate).  Kept tiny because glibc's surplus
 * static TLS is shared by every initial-exec library of the process.
 */
struct agent_tls {
	int64_t			 bytes_left;	/* bytes to the next sample point */
	struct agent_thread	*thread;	/* slow-path state, NULL until needed */
	uint32_t		 guard;		/* non-zero while inside the agent */
	uint32_t		 exited;	/* the thread-exit destructor ran */
	/*
	 * This thread's last reservation on the ring ended at ring_end, and
	 * its reservations since run_start followed each other with no other
	 * thread's in between (wire.h, Cancelling; agent-record.c).
	 */
	uint64_t		 ring_end;
	uint64_t		 run_start;
};
extern AGENT_TLS struct agent_tls agent_tls;

/* Configuration read once from the environment (agent-core.c). */
struct agent_config {
	uint64_t	sample_every;	/* mean bytes; 0 = exact */
	uint64_t	ring_size;	/* data bytes, power of two */
	int		native;		/* MEMPROF_NATIVE=1 */
	int		follow;		/* MEMPROF_FOLLOW != "0" */
	pid_t		root_pid;	/* MEMPROF_ROOT_PID, 0 if unset */
};
extern struct agent_config agent_config;
extern int agent_mode;		/* through agent_mode_get/agent_mode_set */
extern size_t agent_page_size;

/*
 * Per-thread slow-path state: interning tables and scratch buffers, in
 * memory from mmap.  Owned by one thread while it lives, then pooled for
 * the next new thread (agent-core.c).
 */
struct agent_intern {
	void		*slots;
	uint64_t	 mask;		/* capacity - 1 */
	uint64_t	 count;
	size_t		 bytes;		/* mapping length */
};

/*
 * An innermost frame a thread's memo has seen under its other frames:
 * what it cooked to and the stack id it made (agent-stack.c).
 */
struct agent_stack_leaf {
	uintptr_t		 code, where;	/* the raw frame (its address aside) */
	struct agent_pyframe	 frame;
	uint64_t		 key, hash;
	int			 npy;
	uint32_t		 id;
	uint32_t		 gen;		/* valid while the memo's leaf_gen */
};
#define AGENT_STACK_LEAVES	8

/*
 * A thread's last Python-only capture, the memo of agent-stack.c, by raw
 * frame outermost first: the raw frame, what it cooked to (code 0: a frame
 * left out), its code key, the running hash and the count of cooked frames
 * from the outermost through it.
 */
struct agent_stack_memo {
	int			 nraw;		/* 0: no memo */
	uint32_t		 id;
	struct agent_pyraw	 raw[WIRE_STACK_MAX_FRAMES];
	struct agent_pyframe	 frames[WIRE_STACK_MAX_FRAMES];
	uint64_t		 keys[WIRE_STACK_MAX_FRAMES];	/* agent_python_code_key */
	uint64_t		 hash[WIRE_STACK_MAX_FRAMES];
	int			 npy[WIRE_STACK_MAX_FRAMES];
	/* The innermost frames seen under the memo's outer ones (leaf_gen's). */
	uint32_t		 leaf_gen;
	struct agent_stack_leaf	 leaf[AGENT_STACK_LEAVES];
};

/*
 * A small block this thread allocated in exact mode, and where its
 * WIRE_REC_ALLOC_EXACT sits on the ring: if the same thread frees it while
 * the controller has not read that record yet, the record is cancelled
 * (wire.h, Cancelling).  Direct-mapped by address; a newer block takes the
 * slot.  256 slots cover what a Python thread frees within a few hundred
 * allocations, most of its temporaries, in 4 KiB.
 */
#define AGENT_YOUNG_SLOTS	256
/* Bigger blocks are never cancelled: the live figures may lag the truth by at most 256 of these. */
#define AGENT_YOUNG_SIZE_MAX	1024

struct agent_young {
	uint64_t	addr;	/* 0: empty */
	uint64_t	pos;	/* ring position of its ALLOC_EXACT */
};

struct agent_thread {
	struct agent_thread	*all_next;	/* every state ever made */
	struct agent_thread	*pool_next;	/* free states of exited threads */
	int32_t			 tid;
	int			 sampling;	/* countdown drawn at least once */
	int			*errnop;	/* this thread's errno, without a call */
	uint64_t		 rng;		/* xorshift64* state, never 0 */
	/* This thread's young exact blocks, by address (agent-record.c, Cancelling). */
	uint64_t		 young_ring;	/* agent_ring.serial they were recorded under */
	struct agent_young	 young[AGENT_YOUNG_SLOTS];
	struct agent_intern	 stacks;	/* frame-hash -> stack id */
	struct agent_intern	 codes;		/* (code, key) -> code id */
	/* The frames of the capture being made, innermost first, as walked. */
	struct agent_pyraw	 raw[AGENT_PYRAW_MAX];
	struct agent_pyframe	 walked[WIRE_STACK_MAX_FRAMES];
	struct agent_stack_memo	 memo;
	uintptr_t		 native[WIRE_STACK_MAX_FRAMES];
	uint64_t		 frames[WIRE_STACK_MAX_FRAMES];
	/* agent_python_describe's buffer: file and function names, cut beyond 4 KiB. */
	char			 names[4096];
};

/*
 * What the address set keeps for a recorded block, so that a realloc that
 * fails after its FREE was sent can announce the block again unchanged.
 */
struct agent_live {
	uint64_t	size;
	uint64_t	weight;
	uint32_t	stack;
	uint16_t	allocator;
	uint16_t	pad;
};

/*
 * The set of recorded live addresses (agent-addrset.c), open addressing
 * with linear probing.  Readers never lock: keys are read with atomic
 * loads, a removal shifts entries back under a seqlock (odd seq while it
 * runs), and a table that grows is replaced and the old one leaked, so a
 * reader holding a stale pointer reads valid, frozen memory.
 */
struct agent_addrset {
	uint64_t		 seq;
	uint32_t		 shift;		/* 64 - log2(capacity) */
	uint32_t		 pad;
	uint64_t		 mask;
	uint64_t		 live;
	size_t			 bytes;
	uintptr_t		*keys;		/* 0: empty */
	struct agent_live	*vals;
};
extern struct agent_addrset *agent_addrset_table;

/*
 * The free path's first filter (agent-addrset.c): one bit per hash bucket,
 * set while some recorded address of that bucket may be in the set.  4 KiB,
 * so it stays in cache where the table (8 KiB and up, behind a pointer)
 * would not; at the default interval a few hundred live samples set a few
 * percent of the bits, and only those frees go on to probe the table.
 */
#define AGENT_FILTER_LOG2	15
extern uint64_t agent_addrset_filter[(1U << AGENT_FILTER_LOG2) / 64];

/* Fibonacci hashing: the multiply spreads 16-byte-aligned addresses over the high bits. */
#define AGENT_ADDRSET_MUL	0x9e3779b97f4a7c15ULL

/* A registered mapping that was recorded (agent-maps.c). */
struct agent_map {
	uintptr_t	addr;
	uint64_t	len;
	uint64_t	weight;
	uint32_t	stack;
	uint32_t	pad;
};

/*
 * The ring of this process image (agent-ring.c): hdr is NULL while there is
 * none.  Shared here for the inline reservation below.
 */
struct agent_ring {
	struct wire_ring	*hdr;
	char			*data;
	uint64_t		 size;
	uint64_t		 mask;
	size_t			 map_len;
	uint64_t		 stalled_at;	/* read_pos when we gave up; ~0: not stalled */
	unsigned int		 size_log2;	/* log2(size), for WIRE_LAP */
	uint64_t		 serial;	/* counts rings made: young blocks belong to one */
};
extern struct agent_ring agent_ring AGENT_HIDDEN;

/* agent-core.c */
extern int agent_started;
struct agent_thread *agent_core_thread_new(void);

/* The calling thread's state, made or taken from the pool on first use; NULL if impossible. */
static inline struct agent_thread *
agent_core_thread(void)
{
	struct agent_thread	*th = agent_tls.thread;

	return AGENT_LIKELY(th != NULL) ? th : agent_core_thread_new();
}

void	agent_core_stop(uint32_t);
int	agent_core_peer_gone(void);
void	*agent_os_map(size_t);
void	agent_os_unmap(void *, size_t);
void	agent_lock_yield(void);

/* agent-record.c (the slow paths of the hooks, every call in exact mode; guard held) */
void	agent_record_alloc_slow(void *, size_t, enum wire_allocator, uintptr_t)
	    AGENT_NOINLINE;
void	agent_record_free_slow(void *, enum wire_allocator) AGENT_NOINLINE;
int	agent_record_realloc_begin(void *, struct agent_live *) AGENT_NOINLINE;
void	agent_record_realloc_fail(void *, const struct agent_live *) AGENT_COLD;
void	agent_record_unmap_range(uintptr_t, size_t, int) AGENT_COLD;
void	agent_record_remap_begin(uintptr_t, size_t) AGENT_COLD;
void	agent_record_remap_end(uintptr_t, size_t, uintptr_t, size_t,
	    const struct agent_map *) AGENT_COLD;
void	agent_record_fork_child(int);

/* agent-hooks.c */
void	agent_hooks_resolve(void);
size_t	agent_hooks_usable_size(void *);

/* agent-ring.c */
int	agent_ring_create(uint64_t, int *);
void	agent_ring_destroy(void);
struct wire_rec *agent_ring_begin(uint32_t, uint64_t);
void	agent_ring_drop(uint64_t);
void	agent_ring_set_state(uint32_t);
uint32_t agent_ring_max_record(void);

/* agent-sampler.c */
void	agent_sampler_seed(struct agent_thread *);
int64_t	agent_sampler_next(struct agent_thread *);
uint64_t agent_sampler_weight(uint64_t);

/* agent-addrset.c */
int	agent_addrset_create(void);
int	agent_addrset_insert(uintptr_t, const struct agent_live *);
int	agent_addrset_remove(uintptr_t, struct agent_live *);
void	agent_addrset_fork_prepare(void);
void	agent_addrset_fork_parent(void);
void	agent_addrset_fork_child(void);

/* agent-maps.c */
int	agent_maps_add(const struct agent_map *);
int	agent_maps_remove(uintptr_t, uint64_t);
int	agent_maps_find(uintptr_t, struct agent_map *);
int	agent_maps_empty(void);
size_t	agent_maps_with_len(uint64_t, uintptr_t *, size_t);
int	agent_maps_busy(void);
void	agent_maps_fork_prepare(void);
void	agent_maps_fork_parent(void);
void	agent_maps_fork_child(void);

/* agent-stack.c */
void	agent_stack_init(void);
uint32_t agent_stack_capture(struct agent_thread *, int, uintptr_t);
int	agent_stack_setup(struct agent_thread *);
void	agent_stack_reset(struct agent_thread *);

/* The current AGENT_MODE_*; relaxed: it changes a few times per process. */
static inline int
agent_mode_get(void)
{
	return __atomic_load_n(&agent_mode, __ATOMIC_RELAXED);
}

/* Switch every thread's hooks to another AGENT_MODE_*. */
static inline void
agent_mode_set(int mode)
{
	__atomic_store_n(&agent_mode, mode, __ATOMIC_RELAXED);
}

/*
 * Sampling decision, inlined into every allocation hook: charge size bytes
 * to this thread's countdown and say whether a sample point fell inside.
 */
static inline int
agent_sample_due(size_t size)
{
	return AGENT_UNLIKELY((agent_tls.bytes_left -= (int64_t)size) <= 0);
}

/*
 * Free-path filter, inlined into free(): 1 if addr may be a recorded block
 * (the caller confirms under the set's lock), 0 if it certainly is not.
 * One multiply and one load of the bit filter; only when its bit is set,
 * a probe of the table, usually one slot at the table's low load.
 */
static inline int
agent_addrset_probe(uintptr_t addr)
{
	struct agent_addrset	*t;
	uint64_t		 s1, i, h;
	uintptr_t		 k;

	/* The filter first: a clear bit proves absence with one load from .bss. */
	h = (addr * AGENT_ADDRSET_MUL) >> (64 - AGENT_FILTER_LOG2);
	if (AGENT_LIKELY((__atomic_load_n(&agent_addrset_filter[h >> 6], __ATOMIC_RELAXED) &
	    (1ULL << (h & 63))) == 0))
		return 0;
	t = __atomic_load_n(&agent_addrset_table, __ATOMIC_ACQUIRE);
	if (t == NULL)
		return 0;
	s1 = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
	i = (addr * AGENT_ADDRSET_MUL) >> t->shift;
	for (;;) {
		k = __atomic_load_n(&t->keys[i], __ATOMIC_RELAXED);
		if (k == addr)
			return 1;
		if (k == 0)
			break;
		i = (i + 1) & t->mask;
	}
	/* A removal shifting entries meanwhile may have hidden addr: say "maybe". */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (s1 & 1) || __atomic_load_n(&t->seq, __ATOMIC_RELAXED) != s1;
}

/*
 * splitmix64's finalizer: every input bit affects every output bit.  Seeds
 * the samplers' generators (a weak tid and clock in) and finishes the stack
 * and code hashes.
 */
static inline uint64_t
agent_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* A tiny lock for the rare writers (set insert/remove, maps, thread pool). */
static inline void
agent_lock(int *lock)
{
	unsigned int	spins = 0;

	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) != 0) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) {
			if (++spins < 128)
				AGENT_CPU_RELAX();
			else
				agent_lock_yield();
		}
	}
}

/* Release a lock taken with agent_lock. */
static inline void
agent_unlock(int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/*
 * This thread reserved [start, end): a new run of its own reservations
 * unless the last one ended at start (agent_tls.ring_end, run_start).
 */
static inline void
agent_ring_mine(uint64_t start, uint64_t end)
{
	if (start != agent_tls.ring_end)
		agent_tls.run_start = start;
	agent_tls.ring_end = end;
}

/*
 * How far ahead of its reservation a producer fetches the ring for writing.
 * A ring line is written once a lap, long after this core last held it
 * (the consumer read it since, from another core), so every line's first
 * store misses; the compare-and-swap of the next reservation then waits
 * for that store to drain.  Asking for the line 32 lines ahead hides the
 * miss: --exact ran 6-17% faster on threads, json_roundtrip and
 * deep_stack on a 2-core KVM Xeon (docs/sampling.md, session 10).  The
 * line lies a lap behind the consumer's reading, never on its unread side
 * unless the ring is within this distance of full.
 */
#define AGENT_RING_PREFETCH	2048U

/*
 * Reserve len bytes (a multiple of 8, at most agent_ring_max_record()) for
 * one record, inlined into every recording path: one compare-and-swap when
 * the ring has room and the record fits before its end, else
 * agent_ring_begin (padding the tail, waiting, dropping).  Returns the
 * record for agent_ring_commit, or NULL if it was dropped (counted, with
 * weight, the bytes an ALLOC stood for); the record's position on the ring
 * is then agent_tls.ring_end - len.  Leaves errno alone.
 */
static inline struct wire_rec *
agent_ring_reserve(uint32_t len, uint64_t weight)
{
	struct wire_ring	*hdr = agent_ring.hdr;
	uint64_t		 rd, wr;

	if (AGENT_LIKELY(hdr != NULL &&
	    __atomic_load_n(&agent_ring.stalled_at, __ATOMIC_RELAXED) == ~0ULL)) {
		/* read_pos first: loaded before write_pos it can only err towards "full". */
		rd = __atomic_load_n(&hdr->read_pos, __ATOMIC_ACQUIRE);
		wr = __atomic_load_n(&hdr->write_pos, __ATOMIC_RELAXED);
		if (AGENT_LIKELY(rd <= wr && wr - rd + len <= agent_ring.size &&
		    (wr & agent_ring.mask) + len <= agent_ring.size &&
		    __atomic_compare_exchange_n(&hdr->write_pos, &wr, wr + len, 0,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED))) {
			agent_ring_mine(wr, wr + len);
			__builtin_prefetch(agent_ring.data +
			    ((wr + AGENT_RING_PREFETCH) & agent_ring.mask), 1, 3);
			return (struct wire_rec *)(agent_ring.data + (wr & agent_ring.mask));
		}
	}
	return agent_ring_begin(len, weight);
}

/* The controller's request (WIRE_CTL_*), RUNNING when there is no ring. */
static inline uint32_t
agent_ring_controller_state(void)
{
	struct wire_ring	*hdr = agent_ring.hdr;

	if (hdr == NULL)
		return WIRE_CTL_RUNNING;
	return __atomic_load_n(&hdr->controller_state, __ATOMIC_RELAXED);
}

/* Publish a record filled after agent_ring_reserve: len last, with release. */
static inline void
agent_ring_commit(struct wire_rec *rec, uint32_t len, uint16_t type, uint16_t flags)
{
	rec->type = type;
	rec->flags = flags;
	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);
}

/*
 * Send the FREE of a block, the compact WIRE_REC_FREE_ADDR with the
 * allocator in its flags: every free of exact mode goes through here
 * (guard held).  Leaves errno alone.
 */
static inline void
agent_record_free_now(uintptr_t addr, enum wire_allocator allocator)
{
	struct wire_rec	*rec;
	uint64_t	 a = addr;
	uint32_t	 len = sizeof *rec + sizeof a;

	rec = agent_ring_reserve(len, 0);
	if (rec == NULL)
		return;
	__builtin_memcpy(rec + 1, &a, sizeof a);
	agent_ring_commit(rec, len, WIRE_REC_FREE_ADDR, (uint16_t)allocator);
}

/*
 * Enter the recorder: returns 1 and sets this thread's guard when the caller
 * may record, 0 when recording is off or this thread is already inside the
 * agent (a nested allocation, which must go straight to the real function).
 * Every 1 must be paired with agent_leave().
 */
static inline int
agent_enter(void)
{
	if (agent_tls.guard || agent_mode_get() == AGENT_MODE_OFF)
		return 0;
	agent_tls.guard = 1;
	return 1;
}

/* Leave the recorder after agent_enter returned 1. */
static inline void
agent_leave(void)
{
	agent_tls.guard = 0;
}

#endif /* MEMPROF_AGENT_CORE_H */
