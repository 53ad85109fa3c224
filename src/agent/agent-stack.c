/*
 * agent-stack.c: capturing the stack of a recorded allocation and interning
 * it, per thread, into the ids that WIRE_REC_ALLOC refers to.
 *
 * Capture.  Python frames come from agent_python_walk_raw (agent-python.c)
 * as raw (code object, instruction pointer) pairs, cooked into (code
 * object, instruction offset) pairs by agent_python_cook.  Native return
 * addresses are captured when MEMPROF_NATIVE=1, and also whenever the
 * thread runs no Python code (a C program, the interpreter's startup), or
 * there would be no site at all.  A stack is sent innermost first: native frames, then
 * Python frames; the two are not interleaved (which native frame runs which
 * Python frame is not known here).
 *
 * Native unwinding uses libgcc's _Unwind_Backtrace on the DWARF CFI, not
 * frame pointers (most of a distribution is built without them).  glibc's
 * backtrace() is unsafe in a malloc hook because it dlopens libgcc_s on
 * first use; the agent links libgcc_s directly instead (a DT_NEEDED loaded
 * with the program), and libgcc 12+ finds unwind tables with glibc's
 * lock-free, allocation-free _dl_find_object.  Only objects registered with
 * __register_frame_info (JITs) make libgcc allocate, and that allocation
 * goes to the real malloc under the guard.  It does so holding its
 * object_mutex, though, so an allocation whose caller is libgcc_s itself
 * (the program's own exception unwinding) is never unwound from: its stack
 * is just that caller, as unwinding would take the same mutex again.  The
 * leading frames that belong to the agent itself are skipped by address
 * (its own executable segment).
 *
 * Interning.  Each thread keeps two open-addressing tables in mmap'd memory:
 * a 64-bit hash of the raw frames (code address, code fingerprint from
 * agent_python_code_key, offset; native addresses) to a stack id, and (code
 * address, fingerprint) to a code id.  Including the fingerprint makes a
 * code object freed and replaced at the same address a different stack.  On
 * a miss the thread sends the WIRE_REC_CODE records its stack needs that it
 * has not sent yet, then the WIRE_REC_STACK record; ids come from global
 * counters, so a thread only ever refers to records it reserved itself,
 * earlier in the ring.  Two threads may send the same stack or code under
 * different ids; the controller interns by content.  A 64-bit hash
 * collision would merge two stacks: with a million distinct stacks in one
 * thread the odds are ~3e-8.  Tables double up to a cap, then start over
 * empty (stacks are sent again under new ids), so memory stays bounded.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* ElfW in <link.h> */
#endif

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unwind.h>

#include "agent-core.h"

/*
 * Initial table sizes: one page each (256 x 16 and 128 x 24 bytes), since
 * every thread that samples gets its own; they double as sites appear.
 */
#define STACK_SLOTS_MIN		256ULL
#define STACK_CODES_MIN		128ULL
/* Caps: 1 Mi stacks (16 MiB), 64 Ki code objects (1.5 MiB) per thread, then start over. */
#define STACK_SLOTS_MAX		(1ULL << 20)
#define STACK_CODES_MAX		(1ULL << 16)

/* Code ids live in bits 32..62 of a Python frame (wire.h). */
#define STACK_CODE_ID_MAX	0x7fffffffU

struct stack_slot {
	uint64_t	hash;		/* 0: empty */
	uint32_t	id;
	uint32_t	pad;
};

struct stack_code_slot {
	uintptr_t	code;		/* 0: empty */
	uint64_t	key;
	uint32_t	id;
	uint32_t	pad;
};

/* Where the unwinder is while it collects return addresses. */
struct stack_unwind {
	uintptr_t	*ips;
	int		 n;
	int		 max;
	int		 skipping;	/* still inside the agent's own frames */
	int		 truncated;
};

/* Our own ELF header, defined by the linker (GNU ld, gold and lld). */
extern const ElfW(Ehdr) __ehdr_start AGENT_HIDDEN;

/* The agent's executable segment: leading frames in it are skipped. */
static uintptr_t stack_self_lo, stack_self_hi;

/* libgcc_s's: an allocation called from there is not unwound from. */
static uintptr_t stack_gcc_lo, stack_gcc_hi;

static uint32_t stack_next_id = 1;
static uint32_t stack_next_code_id = 1;

/* The range of the executable segments of the object whose ELF header is at eh. */
static void
stack_text_range(const ElfW(Ehdr) *eh, uintptr_t *lop, uintptr_t *hip)
{
	const ElfW(Phdr)	*ph;
	uintptr_t		 base = 0, lo = UINTPTR_MAX, hi = 0;
	int			 i;

	/* Integer arithmetic: the headers lie beyond the object the linker's symbol names. */
	ph = (const ElfW(Phdr) *)((uintptr_t)eh + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			base = (uintptr_t)eh - ph[i].p_vaddr;
			break;
		}
	}
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		if (base + ph[i].p_vaddr < lo)
			lo = base + ph[i].p_vaddr;
		if (base + ph[i].p_vaddr + ph[i].p_memsz > hi)
			hi = base + ph[i].p_vaddr + ph[i].p_memsz;
	}
	*lop = lo;
	*hip = hi;
}

/* Find the agent's and libgcc_s's code ranges (constructor; dladdr does not allocate). */
void
agent_stack_init(void)
{
	Dl_info	info;

	stack_text_range(&__ehdr_start, &stack_self_lo, &stack_self_hi);
	if (dladdr((void *)_Unwind_Backtrace, &info) != 0 && info.dli_fbase != NULL)
		stack_text_range(info.dli_fbase, &stack_gcc_lo, &stack_gcc_hi);
}

/* Map a zeroed table of slots entries of size bytes each; 0 or -1. */
static int
stack_table_create(struct agent_intern *t, uint64_t slots, size_t size)
{
	size_t	bytes = (slots * size + agent_page_size - 1) & ~(agent_page_size - 1);
	void	*p;

	p = agent_os_map(bytes);
	if (p == NULL)
		return -1;
	t->slots = p;
	t->mask = slots - 1;
	t->count = 0;
	t->bytes = bytes;
	return 0;
}

/* Give the thread state its two tables; 0 or -1. */
int
agent_stack_setup(struct agent_thread *th)
{
	if (th->stacks.slots == NULL &&
	    stack_table_create(&th->stacks, STACK_SLOTS_MIN, sizeof (struct stack_slot)) == -1)
		return -1;
	if (th->codes.slots == NULL &&
	    stack_table_create(&th->codes, STACK_CODES_MIN, sizeof (struct stack_code_slot)) == -1)
		return -1;
	return 0;
}

/* Forget every id a thread state knows (a new session after fork). */
void
agent_stack_reset(struct agent_thread *th)
{
	if (th->stacks.slots != NULL) {
		memset(th->stacks.slots, 0, th->stacks.bytes);
		th->stacks.count = 0;
	}
	if (th->codes.slots != NULL) {
		memset(th->codes.slots, 0, th->codes.bytes);
		th->codes.count = 0;
	}
	th->memo.nraw = 0;
}

/* Fold one word into a running hash: multiply, rotate (cheap, order-sensitive). */
static inline uint64_t
stack_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return (h << 27) | (h >> 37);
}

/* Look a frame hash up; its stack id or 0. */
static uint32_t
stack_find(const struct agent_intern *t, uint64_t hash)
{
	const struct stack_slot	*s = t->slots;
	uint64_t		 i = hash & t->mask;

	for (;;) {
		if (s[i].hash == hash)
			return s[i].id;
		if (s[i].hash == 0)
			return 0;
		i = (i + 1) & t->mask;
	}
}

/*
 * Make room for one more entry in a table kept at most half full: double
 * it, or start it over empty at the cap.  Each rehash runs here, in the
 * owning thread only.
 */
static int
stack_table_room(struct agent_intern *t, size_t size, uint64_t max,
    void (*rehash)(struct agent_intern *, const void *, uint64_t))
{
	struct agent_intern	 n;
	uint64_t		 slots = t->mask + 1;

	if ((t->count + 1) * 2 <= slots)
		return 0;
	if (slots >= max) {
		memset(t->slots, 0, t->bytes);
		t->count = 0;
		return 0;
	}
	if (stack_table_create(&n, slots * 2, size) == -1)
		return -1;
	rehash(&n, t->slots, slots);
	agent_os_unmap(t->slots, t->bytes);
	*t = n;
	return 0;
}

/* Insert hash -> id (the table has room). */
static void
stack_put(struct agent_intern *t, uint64_t hash, uint32_t id)
{
	struct stack_slot	*s = t->slots;
	uint64_t		 i = hash & t->mask;

	while (s[i].hash != 0)
		i = (i + 1) & t->mask;
	s[i].hash = hash;
	s[i].id = id;
	t->count++;
}

/* Move the entries of an old stack table into a new one. */
static void
stack_rehash(struct agent_intern *n, const void *old, uint64_t slots)
{
	const struct stack_slot	*s = old;
	uint64_t		 i;

	for (i = 0; i < slots; i++) {
		if (s[i].hash != 0)
			stack_put(n, s[i].hash, s[i].id);
	}
}

/* The home slot of a code object in the code table. */
static uint64_t
stack_code_home(const struct agent_intern *t, uintptr_t code, uint64_t key)
{
	return agent_mix(code ^ key) & t->mask;
}

/* Insert (code, key) -> id (the table has room). */
static void
stack_code_put(struct agent_intern *t, uintptr_t code, uint64_t key, uint32_t id)
{
	struct stack_code_slot	*s = t->slots;
	uint64_t		 i = stack_code_home(t, code, key);

	while (s[i].code != 0)
		i = (i + 1) & t->mask;
	s[i].code = code;
	s[i].key = key;
	s[i].id = id;
	t->count++;
}

/* Move the entries of an old code table into a new one. */
static void
stack_code_rehash(struct agent_intern *n, const void *old, uint64_t slots)
{
	const struct stack_code_slot	*s = old;
	uint64_t			 i;

	for (i = 0; i < slots; i++) {
		if (s[i].code != 0)
			stack_code_put(n, s[i].code, s[i].key, s[i].id);
	}
}

/* Look (code, key) up; its code id or 0. */
static uint32_t
stack_code_find(const struct agent_intern *t, uintptr_t code, uint64_t key)
{
	const struct stack_code_slot	*s = t->slots;
	uint64_t			 i = stack_code_home(t, code, key);

	for (;;) {
		if (s[i].code == code && s[i].key == key)
			return s[i].id;
		if (s[i].code == 0)
			return 0;
		i = (i + 1) & t->mask;
	}
}

/*
 * Send a WIRE_REC_CODE for a code object; returns its new id, or 0 if it
 * could not be sent (full ring).  A code object the describer rejects is
 * still sent, nameless, so the stack keeps its depth.
 */
static uint32_t
stack_code_send(struct agent_thread *th, uintptr_t code)
{
	struct agent_pycode	 pc;
	struct wire_rec		*rec;
	struct wire_code	*wc;
	char			*p;
	size_t			 fn, nm, tab, base;
	uint32_t		 len, id;

	memset(&pc, 0, sizeof pc);
	if (agent_python_describe(code, &pc, th->names, sizeof th->names) != 0)
		memset(&pc, 0, sizeof pc);
	fn = pc.filename != NULL ? pc.filename_len : 0;
	nm = pc.name != NULL ? pc.name_len : 0;
	tab = pc.table != NULL ? pc.table_len : 0;
	if (fn > sizeof th->names)
		fn = sizeof th->names;
	if (nm > sizeof th->names)
		nm = sizeof th->names;

	base = sizeof *rec + sizeof *wc + fn + nm;
	if (base > agent_ring_max_record()) {
		fn = nm = 0;
		base = sizeof *rec + sizeof *wc;
	}
	/* A line table too big for one record is left out: lines then fall back to firstlineno. */
	if (base + tab > agent_ring_max_record() || tab > UINT32_MAX)
		tab = 0;
	len = (uint32_t)((base + tab + 7) & ~(size_t)7);

	id = __atomic_fetch_add(&stack_next_code_id, 1, __ATOMIC_RELAXED);
	if (id == 0 || id > STACK_CODE_ID_MAX)
		return 0;
	rec = agent_ring_reserve(len, 0);
	if (rec == NULL)
		return 0;
	wc = (struct wire_code *)(rec + 1);
	memset(wc, 0, sizeof *wc);
	wc->id = id;
	wc->firstlineno = pc.firstlineno;
	wc->filename_len = (uint16_t)fn;
	wc->name_len = (uint16_t)nm;
	wc->table_len = (uint32_t)tab;
	wc->table_format = pc.table_format;
	p = (char *)(wc + 1);
	if (fn != 0)
		memcpy(p, pc.filename, fn);
	if (nm != 0)
		memcpy(p + fn, pc.name, nm);
	if (tab != 0)
		memcpy(p + fn + nm, pc.table, tab);
	memset(p + fn + nm + tab, 0, len - (base + tab));
	agent_ring_commit(rec, len, WIRE_REC_CODE, 0);
	return id;
}

/* The code id of a frame's code object, sending its record first if needed; 0 on failure. */
static uint32_t
stack_code_id(struct agent_thread *th, uintptr_t code, uint64_t key)
{
	uint32_t	id;

	id = stack_code_find(&th->codes, code, key);
	if (id != 0)
		return id;
	if (stack_table_room(&th->codes, sizeof (struct stack_code_slot),
	    STACK_CODES_MAX, stack_code_rehash) == -1)
		return 0;
	id = stack_code_send(th, code);
	if (id != 0)
		stack_code_put(&th->codes, code, key, id);
	return id;
}

/* _Unwind_Backtrace callback: collect one return address. */
static _Unwind_Reason_Code
stack_unwind_frame(struct _Unwind_Context *ctx, void *arg)
{
	struct stack_unwind	*u = arg;
	uintptr_t		 ip = _Unwind_GetIP(ctx);

	if (ip == 0)
		return _URC_END_OF_STACK;
	if (u->skipping) {
		if (ip >= stack_self_lo && ip < stack_self_hi)
			return _URC_NO_REASON;
		u->skipping = 0;
	}
	if (u->n == u->max) {
		u->truncated = 1;
		return _URC_END_OF_STACK;
	}
	u->ips[u->n++] = ip;
	return _URC_NO_REASON;
}

/* Collect at most max native return addresses of the caller, innermost first. */
static int
stack_unwind(uintptr_t *ips, int max, int *truncated)
{
	struct stack_unwind	u = { ips, 0, max, 1, 0 };

	if (max <= 0)
		return 0;
	_Unwind_Backtrace(stack_unwind_frame, &u);
	if (u.truncated)
		*truncated = 1;
	return u.n;
}

/* Send the WIRE_REC_STACK record for the frames in th; 0 if it could not be sent. */
static uint32_t
stack_send(struct agent_thread *th, int nframes, int truncated)
{
	struct wire_rec		*rec;
	struct wire_stack	*ws;
	uint32_t		 len, id;

	len = (uint32_t)(sizeof *rec + sizeof *ws + (size_t)nframes * sizeof (uint64_t));
	id = __atomic_fetch_add(&stack_next_id, 1, __ATOMIC_RELAXED);
	if (id == 0)
		return 0;
	rec = agent_ring_reserve(len, 0);
	if (rec == NULL)
		return 0;
	ws = (struct wire_stack *)(rec + 1);
	ws->id = id;
	ws->nframes = (uint16_t)nframes;
	ws->truncated = (uint16_t)(truncated != 0);
	memcpy(ws + 1, th->frames, (size_t)nframes * sizeof (uint64_t));
	agent_ring_commit(rec, len, WIRE_REC_STACK, 0);
	return id;
}

/* The leaf slot of a raw frame. */
static inline struct agent_stack_leaf *
stack_leaf_slot(struct agent_stack_memo *m, const struct agent_pyraw *r)
{
	return &m->leaf[((r->where >> 1) ^ (r->where >> 5)) & (AGENT_STACK_LEAVES - 1)];
}

/* The leaf the memo has seen as raw frame r under its outer frames, or NULL. */
static inline const struct agent_stack_leaf *
stack_leaf_find(struct agent_stack_memo *m, const struct agent_pyraw *r)
{
	const struct agent_stack_leaf	*l = stack_leaf_slot(m, r);

	if (l->gen == m->leaf_gen && l->where == r->where && l->code == r->code)
		return l;
	return NULL;
}

/* Make leaf the memo's innermost frame, at k; its stack id. */
static uint32_t
stack_leaf_take(struct agent_stack_memo *m, int k, const struct agent_stack_leaf *l)
{
	m->frames[k] = l->frame;
	m->keys[k] = l->key;
	m->hash[k] = l->hash;
	m->npy[k] = l->npy;
	m->id = l->id;
	return l->id;
}

/* Keep the memo's innermost frame, at k, as a leaf. */
static void
stack_leaf_put(struct agent_stack_memo *m, int k)
{
	struct agent_stack_leaf	*l = stack_leaf_slot(m, &m->raw[k]);

	l->code = m->raw[k].code;
	l->where = m->raw[k].where;
	l->frame = m->frames[k];
	l->key = m->keys[k];
	l->hash = m->hash[k];
	l->npy = m->npy[k];
	l->id = m->id;
	l->gen = m->leaf_gen;
}

/*
 * Capture the calling thread's stack and return its stack id, sending the
 * CODE and STACK records it needs first; 0 if there is no stack or it could
 * not be sent.  python says whether an interpreter was found; caller is
 * where the allocation was called from.
 */
uint32_t
agent_stack_capture(struct agent_thread *th, int python, uintptr_t caller)
{
	struct agent_stack_memo	*m = &th->memo;
	uint64_t		 hash = 0x6d656d70726f66ULL;	/* any non-zero seed */
	const struct agent_stack_leaf *leaf;
	uintptr_t		 was = 0;
	uint32_t		 id, cid;
	int			 nraw = 0, npy = 0, nnat = 0, truncated = 0, memo, shared = 0;
	int			 keyed, nkept, leaves = 0, i, k;

	/*
	 * The memo (exact mode, Python-only stacks): the raw frames this
	 * capture shares with the thread's previous one, counted from the
	 * outermost, are not cooked again and keep their code keys and running
	 * hash where the memo holds them, so a loop body that allocates on
	 * line after line under 40 frames cooks one frame and costs two hash
	 * steps, and the very same frames cost a check per frame
	 * (agent_python_walk_again).  A raw frame is its code object and
	 * instruction pointer; a shared frame's code object is the one the
	 * memo saw unless it was freed and another was created at the same
	 * address and entered from the same instruction of the same callers,
	 * without this thread recording an allocation in between; creating a
	 * code object is an allocation, recorded in exact mode with a stack
	 * that ends above the new frame.  The first frame that differs, if
	 * only by its line, is in the same case: it keeps its key.  Sampling
	 * mode records too rarely for that to hold, and too rarely to need the
	 * memo: there the memo is only a buffer.  A stack deeper than the
	 * wire's frames is cut, and cooked from the innermost instead.
	 *
	 * The leaves: while only the innermost frame changes (a loop body
	 * allocating on its lines in turn), each innermost frame seen keeps
	 * what it made, so coming back to it costs no cooking, hashing or
	 * lookup; any other change forgets them all (leaf_gen).
	 */
	memo = python && !agent_config.native && agent_mode_get() == AGENT_MODE_EXACT;
	if (memo && m->nraw > 0) {
		nkept = m->nraw;
		nraw = agent_python_walk_again(m->raw, m->nraw, WIRE_STACK_MAX_FRAMES, &shared);
		if (nraw > 0) {
			if (shared == nraw && nraw == nkept)
				return m->id;
			if (nraw == nkept && shared == nraw - 1) {
				if ((leaf = stack_leaf_find(m, &m->raw[shared])) != NULL)
					return stack_leaf_take(m, shared, leaf);
				leaves = 1;
			}
			if (shared < nkept)
				was = m->frames[shared].code;
		} else
			m->nraw = 0;
	}
	if (memo && m->nraw == 0) {
		nraw = agent_python_walk_raw(th->raw, AGENT_PYRAW_MAX, &truncated);
		if (nraw > WIRE_STACK_MAX_FRAMES || truncated)
			memo = 0;
		/* The memo holds them outermost first. */
		for (k = 0; memo && k < nraw; k++)
			m->raw[k] = th->raw[nraw - 1 - k];
	}
	if (memo) {
		keyed = shared;
		if (shared != 0) {
			hash = m->hash[shared - 1];
			npy = m->npy[shared - 1];
		}
		nkept = nraw;
	} else {
		if (python && nraw == 0)
			nraw = agent_python_walk_raw(th->raw, AGENT_PYRAW_MAX, &truncated);
		keyed = 0;
		npy = agent_python_cook_all(th->raw, nraw, th->walked, WIRE_STACK_MAX_FRAMES,
		    &truncated);
		nkept = npy;
	}

	/*
	 * Outermost Python frame first, then the native frames, into the
	 * memo from the first frame that differs.  One multiply per word and
	 * a full mix only at the end: this runs on every recorded allocation
	 * (all of them with --exact), and three murmur finalizers per frame
	 * made it the agent's top cost.  The multiply-rotate chain still
	 * spreads every input bit before the final mix, which is what the
	 * 64-bit table key needs.  The hash is a function of the cooked
	 * frames alone, whatever the memo held and whichever way they came.
	 */
	for (k = shared; k < nkept; k++) {
		if (memo) {
			if (!agent_python_cook(&m->raw[k], &m->frames[k])) {
				m->frames[k].code = 0;
				m->hash[k] = hash;
				m->npy[k] = npy;
				continue;
			}
			/* The first frame that differs keeps its key if only its line did. */
			if (k == shared && was != 0 && m->frames[k].code == was)
				keyed++;
		} else
			m->frames[k] = th->walked[npy - 1 - k];
		if (k >= keyed)
			m->keys[k] = agent_python_code_key(m->frames[k].code);
		hash = stack_step(hash, m->frames[k].code);
		hash = stack_step(hash, m->keys[k] ^ ((uint64_t)m->frames[k].offset << 40));
		m->hash[k] = hash;
		m->npy[k] = memo ? ++npy : npy;
	}
	/* Valid again only once this capture has its id. */
	m->nraw = 0;

	if (npy == WIRE_STACK_MAX_FRAMES || (!agent_config.native && npy != 0))
		nnat = 0;
	else if (caller >= stack_gcc_lo && caller < stack_gcc_hi) {
		/* Called by libgcc's unwinder, perhaps under its mutex: no unwinding. */
		th->native[0] = caller;
		nnat = 1;
	} else
		nnat = stack_unwind(th->native, WIRE_STACK_MAX_FRAMES - npy, &truncated);
	if (npy + nnat == 0)
		return 0;
	for (i = 0; i < nnat; i++)
		hash = stack_step(hash, th->native[i]);
	hash = agent_mix(hash ^ ((uint64_t)npy << 32 | (uint64_t)nnat << 1 | (truncated != 0)));
	if (hash == 0)
		hash = 1;

	id = stack_find(&th->stacks, hash);
	if (id == 0) {
		for (i = 0; i < nnat; i++)
			th->frames[i] = WIRE_FRAME_NATIVE | th->native[i];
		for (i = nnat, k = nkept - 1; k >= 0; k--) {
			if (m->frames[k].code == 0)
				continue;
			cid = stack_code_id(th, m->frames[k].code, m->keys[k]);
			if (cid == 0)
				return 0;
			th->frames[i++] = WIRE_FRAME_PY(cid, m->frames[k].offset);
		}
		if (stack_table_room(&th->stacks, sizeof (struct stack_slot),
		    STACK_SLOTS_MAX, stack_rehash) == -1)
			return 0;
		id = stack_send(th, nnat + npy, truncated);
		if (id == 0)
			return 0;
		stack_put(&th->stacks, hash, id);
	}
	if (memo && nnat == 0) {
		/* This capture becomes the memo, its innermost frame a leaf. */
		m->nraw = nraw;
		m->id = id;
		if (!leaves)
			m->leaf_gen++;
		stack_leaf_put(m, nraw - 1);
	}
	return id;
}
