/*
 * The LPM tables' writer side (lpm.h): prefix expansion into the root and
 * the 256-entry groups, group allocation, collapse of groups a delete made
 * uniform, deferred reuse. Control thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lpm.h"

#define GROUP_SIZE	256
#define DEFAULT_GROUPS	(1u << 20)

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Lookups jump around tens of MiB: with 4 KiB pages each level would
	 * add a TLB miss (and a page walk) to its cache miss. Advice only:
	 * without THP the table still works. */
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static size_t root_bytes(const struct lpm *t)
{
	return ((size_t)1 << t->root_bits) * sizeof(uint32_t);
}

static size_t groups_bytes(const struct lpm *t)
{
	return (size_t)t->max_groups * GROUP_SIZE * sizeof(uint32_t);
}

struct lpm *lpm_create(unsigned addr_bytes, uint32_t max_groups)
{
	struct lpm *t;

	if (addr_bytes != 4 && addr_bytes != 16) {
		errno = EINVAL;
		return NULL;
	}
	if (!max_groups || max_groups > LPM_MAX_VAL + 1)
		max_groups = DEFAULT_GROUPS;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->addr_bytes = (uint8_t)addr_bytes;
	t->root_bits = addr_bytes == 4 ? 24 : 16;
	t->max_groups = max_groups;
	t->root = map(root_bytes(t));
	t->groups = map(groups_bytes(t));
	t->free_ids = calloc(max_groups, sizeof(uint32_t));
	t->pending = calloc(max_groups, sizeof(uint32_t));
	if (!t->root || !t->groups || !t->free_ids || !t->pending) {
		lpm_destroy(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void lpm_destroy(struct lpm *t)
{
	if (!t)
		return;
	if (t->root)
		munmap(t->root, root_bytes(t));
	if (t->groups)
		munmap(t->groups, groups_bytes(t));
	free(t->free_ids);
	free(t->pending);
	free(t);
}

uint64_t lpm_mem_bytes(const struct lpm *t)
{
	return (uint64_t)t->n_live * GROUP_SIZE * sizeof(uint32_t) + root_bytes(t);
}

/* ---- the walk ---- */

enum op { OP_ADD, OP_DEL };

struct walk {
	struct lpm *t;
	enum op op;
	unsigned depth;
	uint32_t set;			/* entry to write (ADD: the route; DEL: the parent or 0) */
	uint8_t addr[16];		/* bits past depth cleared */
};

static inline uint32_t *group(const struct lpm *t, uint32_t g)
{
	return &t->groups[(size_t)g * GROUP_SIZE];
}

static inline void store(uint32_t *e, uint32_t v)
{
	__atomic_store_n(e, v, __ATOMIC_RELEASE);
}

static inline uint32_t make_entry(unsigned depth, uint32_t value)
{
	return LPM_VALID | (uint32_t)depth << LPM_DEPTH_SHIFT | value;
}

/* Index of the entry for addr at the level starting at bit lo, stride bits. */
static uint32_t level_index(const uint8_t *addr, unsigned lo, unsigned stride)
{
	uint32_t idx = 0;

	for (unsigned b = lo / 8; b < (lo + stride) / 8; b++)
		idx = idx << 8 | addr[b];
	return idx;
}

static void group_release(struct lpm *t, uint32_t g)
{
	t->pending[t->n_pending++] = g;
	t->n_live--;
}

/* A group whose entries are all the same plain entry can go: its parent
 * entry takes that value. */
static void try_collapse(struct lpm *t, uint32_t *parent)
{
	uint32_t pe = *parent, g, first;
	const uint32_t *ge;

	if (!(pe & LPM_EXT))
		return;
	g = pe & LPM_VAL_MASK;
	ge = group(t, g);
	first = ge[0];
	if (first & LPM_EXT)
		return;
	for (unsigned i = 1; i < GROUP_SIZE; i++)
		if (ge[i] != first)
			return;
	store(parent, first);
	group_release(t, g);
}

static void update_entry(struct walk *w, uint32_t *e);

static void update_group(struct walk *w, uint32_t g)
{
	uint32_t *ge = group(w->t, g);

	for (unsigned i = 0; i < GROUP_SIZE; i++)
		update_entry(w, &ge[i]);
}

/* An entry wholly inside the prefix: ADD overwrites shallower answers; DEL
 * puts the parent back where this prefix's answer is. Child groups get the
 * same treatment throughout. */
static void update_entry(struct walk *w, uint32_t *e)
{
	uint32_t v = *e;

	if (v & LPM_EXT) {
		update_group(w, v & LPM_VAL_MASK);
		if (w->op == OP_DEL)
			try_collapse(w->t, e);
		return;
	}
	if (w->op == OP_ADD) {
		if (!(v & LPM_VALID) || lpm_entry_depth(v) <= w->depth)
			store(e, w->set);
	} else if ((v & LPM_VALID) && lpm_entry_depth(v) == w->depth) {
		store(e, w->set);
	}
}

static uint32_t group_alloc(struct lpm *t)
{
	t->n_live++;
	if (t->n_free)
		return t->free_ids[--t->n_free];
	return t->n_used++;
}

static void walk_level(struct walk *w, uint32_t *tab, unsigned lo, unsigned stride)
{
	uint32_t idx = level_index(w->addr, lo, stride);
	uint32_t *e;

	if (w->depth <= lo + stride) {
		uint32_t n = 1u << (lo + stride - w->depth);

		for (uint32_t i = 0; i < n; i++)
			update_entry(w, &tab[idx + i]);
		return;
	}
	e = &tab[idx];
	if (!(*e & LPM_EXT)) {
		uint32_t g, *ge;

		if (w->op == OP_DEL)
			return;		/* nothing deeper here: the prefix is not in the table */
		/* The new group starts as the entry it replaces: same answers
		 * until the walk below writes the new route into it. */
		g = group_alloc(w->t);
		ge = group(w->t, g);
		for (unsigned i = 0; i < GROUP_SIZE; i++)
			ge[i] = *e;
		store(e, LPM_EXT | g);
	}
	walk_level(w, group(w->t, *e & LPM_VAL_MASK), lo + stride, 8);
	if (w->op == OP_DEL)
		try_collapse(w->t, e);
}

/* Groups an ADD of depth would need: one per level below the root that the
 * path reaches without an existing group. */
static uint32_t groups_needed(const struct walk *w)
{
	const struct lpm *t = w->t;
	const uint32_t *tab = t->root;
	unsigned lo = 0, stride = t->root_bits;
	uint32_t need = 0;

	while (w->depth > lo + stride) {
		uint32_t e = tab[level_index(w->addr, lo, stride)];

		if (!(e & LPM_EXT)) {
			/* Every level below is new. */
			need += (w->depth - (lo + stride) + 7) / 8;
			break;
		}
		tab = group(t, e & LPM_VAL_MASK);
		lo += stride;
		stride = 8;
	}
	return need;
}

static int walk_init(struct walk *w, struct lpm *t, const uint8_t *addr, unsigned depth)
{
	if (depth > t->addr_bytes * 8u)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->depth = depth;
	memcpy(w->addr, addr, t->addr_bytes);
	for (unsigned b = depth; b < t->addr_bytes * 8u; b++)
		w->addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	return 0;
}

int lpm_add(struct lpm *t, const uint8_t *addr, unsigned depth, uint32_t value)
{
	struct walk w;

	if (value > LPM_MAX_VAL || walk_init(&w, t, addr, depth))
		return -EINVAL;
	if (groups_needed(&w) > t->n_free + (t->max_groups - t->n_used))
		return -ENOSPC;
	w.op = OP_ADD;
	w.set = make_entry(depth, value);
	walk_level(&w, t->root, 0, t->root_bits);
	t->n_routes++;
	return 0;
}

int lpm_del(struct lpm *t, const uint8_t *addr, unsigned depth, bool repl_valid,
	    unsigned repl_depth, uint32_t repl_value)
{
	struct walk w;

	if (walk_init(&w, t, addr, depth) || (repl_valid && (repl_depth >= depth ||
							      repl_value > LPM_MAX_VAL)))
		return -EINVAL;
	w.op = OP_DEL;
	w.set = repl_valid ? make_entry(repl_depth, repl_value) : 0;
	walk_level(&w, t->root, 0, t->root_bits);
	if (t->n_routes)
		t->n_routes--;
	return 0;
}

void lpm_reclaim(struct lpm *t)
{
	while (t->n_pending)
		t->free_ids[t->n_free++] = t->pending[--t->n_pending];
}
