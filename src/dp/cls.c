/*
 * cls: tuple-space search. See cls.h for the design and the threading rules.
 *
 * A subtable's hash table uses open addressing with linear probing. A slot
 * holds the rule pointer (the head of a group of rules with the same match,
 * highest priority first), the hash, and the rule's masked key words packed
 * in the order of the subtable's word index. Slots are filled once and never
 * reused: removal stores a tombstone; a table with too many tombstones, or
 * too full, is rebuilt into a new allocation that is then published and the
 * old one retired. Replacing the head of a group (a higher-priority rule with
 * the same match, or removing the head) is a single release store of the
 * slot's rule pointer: the words of the group are the same.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cls.h"

#define TOMB	((struct cls_rule *)(uintptr_t)1)

struct cls_slot {
	struct cls_rule *rule;		/* NULL = empty, TOMB = removed; release-stored */
	uint32_t hash;
	uint32_t pad;
	uint64_t w[];			/* n_words masked key words */
};

struct cls_stab {
	struct cls_gc gc;		/* first: retired as a whole */
	uint32_t n_slots;		/* any size; index by multiply-shift */
	uint32_t slot_bytes;
	uint32_t n_used;		/* live + tombstones (writer) */
	uint32_t n_live;
	alignas(CACHE_LINE) unsigned char slots[];
};

struct cls_subtable {
	struct cls_gc gc;
	struct cls_stab *tab;		/* RCU */
	uint32_t n_words;
	uint8_t idx[FLOW_U64S];		/* words of flow_key the mask touches */
	uint64_t mw[FLOW_U64S];		/* the mask's words, packed like idx */
	uint8_t plen[CLS_N_TRIES];	/* prefix length on a tracked field, 0 = none */
	/* Writer side. */
	struct cls_subtable *map_next;
	uint32_t mask_hash;
	uint32_t sub_idx;		/* position in cls->subs */
	uint32_t n_rules;		/* including same-match duplicates */
	int32_t max_pri;
	uint32_t n_max;			/* rules at max_pri */
	bool max_stale;			/* max_pri is only an upper bound */
	struct flow_key mask;
};

struct cls_vec_ent {
	int32_t max_pri;
	uint32_t pad;
	struct cls_subtable *st;
};

struct cls_vec {
	struct cls_gc gc;
	uint32_t n;
	struct cls_vec_ent e[];
};

/* A node at depth d stands for a d-bit prefix (MSB first, host order). */
struct cls_trie_node {
	struct cls_gc gc;			/* retired alone when pruned */
	struct cls_trie_node *child[2];		/* RCU: linked once complete */
	uint32_t n_rules;			/* with exactly this prefix (atomic) */
	uint32_t pad;
};

static const size_t trie_off[CLS_N_TRIES] = {
	offsetof(struct flow_key, nw_src),
	offsetof(struct flow_key, nw_dst),
};

/* The tracked field of k, host order. */
static inline uint32_t trie_field(const struct flow_key *k, unsigned f)
{
	uint32_t v;

	memcpy(&v, (const char *)k + trie_off[f], sizeof(v));
	return ntohl(v);
}

/* Network-order mask of the first n bits. */
static inline uint32_t prefix_mask(unsigned n)
{
	return n == 0 ? 0 : htonl(~0u << (32 - n));
}

/* Reader: walk the trie with address a. Returns the set of prefix lengths
 * (bit L for length L) some rule has along a's path; *checked gets the number
 * of leading bits of a the walk depended on. */
static inline uint64_t trie_lookup(const struct cls_trie_node *n, uint32_t a, unsigned *checked)
{
	uint64_t plens = 0;
	unsigned d = 0;

	for (;;) {
		if (__atomic_load_n(&n->n_rules, __ATOMIC_RELAXED))
			plens |= 1ull << d;
		if (d == 32)
			break;
		/* Acquire: a node is complete before it is linked. */
		n = __atomic_load_n(&n->child[(a >> (31 - d)) & 1], __ATOMIC_ACQUIRE);
		d++;
		if (!n)
			break;
	}
	*checked = d;
	return plens;
}

static inline struct cls_slot *slot_at(const struct cls_stab *t, uint32_t i)
{
	return (struct cls_slot *)(void *)((unsigned char *)t->slots + (size_t)i * t->slot_bytes);
}

static inline uint32_t slot_home(const struct cls_stab *t, uint32_t h)
{
	return (uint32_t)(((uint64_t)h * t->n_slots) >> 32);
}

static inline uint32_t masked_words(const struct cls_subtable *st, const cls_u64 *k, uint64_t *buf)
{
	uint32_t h = 0;

	for (uint32_t i = 0; i < st->n_words; i++) {
		buf[i] = k[st->idx[i]] & st->mw[i];
		h = cls_hash_add(h, buf[i]);
	}
	return cls_hash_finish(h);
}

static inline bool words_eq(const cls_u64 *a, const cls_u64 *b, uint32_t n)
{
	uint64_t diff = 0;

	for (uint32_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* A subtable's hash and compare of a packet's key, reading its words where
 * they are (no buffer). Inlined with a word count n the compiler knows
 * (st_batch's switch) the loops unroll. Same hash as masked_words(), which
 * the writer uses. */
static inline __attribute__((always_inline)) uint32_t
st_hash_n(const struct cls_subtable *st, const cls_u64 *k, uint32_t n)
{
	uint32_t h = 0;

	for (uint32_t i = 0; i < n; i++)
		h = cls_hash_add(h, k[st->idx[i]] & st->mw[i]);
	return cls_hash_finish(h);
}

static inline __attribute__((always_inline)) bool
slot_eq_n(const struct cls_subtable *st, const struct cls_slot *s, const cls_u64 *k, uint32_t n)
{
	uint64_t diff = 0;

	for (uint32_t i = 0; i < n; i++)
		diff |= s->w[i] ^ (k[st->idx[i]] & st->mw[i]);
	return diff == 0;
}

/* Reader: the head of the group matching k in st, probing from slot i
 * for hash h, or NULL. */
static inline __attribute__((always_inline)) struct cls_rule *
st_probe_n(const struct cls_subtable *st, const struct cls_stab *t, const cls_u64 *k, uint32_t h,
	   uint32_t i, uint32_t n)
{
	for (;;) {
		const struct cls_slot *s = slot_at(t, i);
		/* Acquire: a slot's hash and words are written before its rule. */
		struct cls_rule *r = __atomic_load_n(&s->rule, __ATOMIC_ACQUIRE);

		if (r == NULL)
			return NULL;
		if (s->hash == h && r != TOMB && slot_eq_n(st, s, k, n))
			return r;
		if (++i == t->n_slots)
			i = 0;
	}
}

/* Reader: the head of the group matching k in st, or NULL. */
static inline struct cls_rule *st_lookup(const struct cls_subtable *st, const cls_u64 *k)
{
	/* Acquire: the table's slots were written before it was published. */
	const struct cls_stab *t = __atomic_load_n(&st->tab, __ATOMIC_ACQUIRE);
	uint32_t h = st_hash_n(st, k, st->n_words);

	return st_probe_n(st, t, k, h, slot_home(t, h), st->n_words);
}

/* Reader: whether prefix tracking rules st out for key. If so, the bits the
 * deciding trie walk examined go into wc. tp caches the walks (plens bit 63
 * set = walked; lengths are at most 32). */
struct trie_ctx {
	uint64_t plens[CLS_N_TRIES];
	unsigned checked[CLS_N_TRIES];
};

static inline bool trie_skip(const struct cls *c, const struct cls_subtable *st,
			     const struct flow_key *key, struct flow_key *wc, struct trie_ctx *tc)
{
	for (unsigned f = 0; f < CLS_N_TRIES; f++) {
		unsigned L = st->plen[f];
		const struct cls_trie_node *root;

		if (L == 0)
			continue;
		if (!(tc->plens[f] >> 63)) {
			root = __atomic_load_n(&c->trie[f], __ATOMIC_ACQUIRE);
			if (!root) {
				/* Off (never while st has a plen, but be safe). */
				tc->plens[f] = ~0ull;
				tc->checked[f] = 0;
				continue;
			}
			tc->plens[f] = trie_lookup(root, trie_field(key, f), &tc->checked[f]) | 1ull << 63;
		}
		if (!(tc->plens[f] & (1ull << L))) {
			if (wc) {
				uint32_t m = prefix_mask(tc->checked[f]), w;

				memcpy(&w, (char *)wc + trie_off[f], sizeof(w));
				w |= m;
				memcpy((char *)wc + trie_off[f], &w, sizeof(w));
			}
			return true;
		}
	}
	return false;
}

const struct cls_rule *cls_lookup(const struct cls *c, const struct flow_key *key,
				  struct flow_key *wc)
{
	const struct cls_vec *v = __atomic_load_n(&c->vec, __ATOMIC_ACQUIRE);
	const cls_u64 *k = cls_words(key);
	cls_u64 *wcw = wc ? (cls_u64 *)(void *)wc : NULL;
	const struct cls_rule *best = NULL;
	struct trie_ctx tc = { { 0 } };

	for (uint32_t i = 0; i < v->n; i++) {
		const struct cls_subtable *st = v->e[i].st;
		const struct cls_rule *r;

		if (best && best->priority >= v->e[i].max_pri)
			break;
		if ((st->plen[0] | st->plen[1]) && trie_skip(c, st, key, wc, &tc))
			continue;
		if (wcw)
			for (uint32_t j = 0; j < st->n_words; j++)
				wcw[st->idx[j]] |= st->mw[j];
		r = st_lookup(st, k);
		if (r && (!best || r->priority > best->priority))
			best = r;
	}
	return best;
}

const struct cls_rule *cls_lookup_first(const struct cls *c, const struct flow_key *key)
{
	const struct cls_vec *v = __atomic_load_n(&c->vec, __ATOMIC_ACQUIRE);
	const cls_u64 *k = cls_words(key);

	for (uint32_t i = 0; i < v->n; i++) {
		const struct cls_rule *r = st_lookup(v->e[i].st, k);

		if (r)
			return r;
	}
	return NULL;
}

/* Probe st for the keys of todo's bits: first hash them all and prefetch
 * their home slots, then compare, so the burst's cache misses overlap
 * (at 100,000 megaflows the slots are not in cache). Hits go to out[];
 * returns the bits still unmatched. */
static inline __attribute__((always_inline)) uint32_t
st_batch_n(const struct cls_subtable *st, const struct flow_key *const *keys, uint32_t todo,
	   const struct cls_rule **out, uint32_t n)
{
	/* Acquire: the table's slots were written before it was published. */
	const struct cls_stab *t = __atomic_load_n(&st->tab, __ATOMIC_ACQUIRE);
	uint32_t hash[32], home[32], left = todo;

	for (uint32_t m = todo; m; m &= m - 1) {
		unsigned b = (unsigned)__builtin_ctz(m);
		const unsigned char *s;

		hash[b] = st_hash_n(st, cls_words(keys[b]), n);
		home[b] = slot_home(t, hash[b]);
		s = (const unsigned char *)slot_at(t, home[b]);
		__builtin_prefetch(s);
		__builtin_prefetch(s + t->slot_bytes - 1);
	}
	for (uint32_t m = todo; m; m &= m - 1) {
		unsigned b = (unsigned)__builtin_ctz(m);
		struct cls_rule *r = st_probe_n(st, t, cls_words(keys[b]), hash[b], home[b], n);

		if (r) {
			out[b] = r;
			left &= ~(1u << b);
		}
	}
	return left;
}

static uint32_t st_batch(const struct cls_subtable *st, const struct flow_key *const *keys,
			 uint32_t todo, const struct cls_rule **out)
{
	/* Megaflow masks cover a handful of words: the usual counts get
	 * their own unrolled copy. */
	switch (st->n_words) {
	case 1: return st_batch_n(st, keys, todo, out, 1);
	case 2: return st_batch_n(st, keys, todo, out, 2);
	case 3: return st_batch_n(st, keys, todo, out, 3);
	case 4: return st_batch_n(st, keys, todo, out, 4);
	case 5: return st_batch_n(st, keys, todo, out, 5);
	case 6: return st_batch_n(st, keys, todo, out, 6);
	case 7: return st_batch_n(st, keys, todo, out, 7);
	case 8: return st_batch_n(st, keys, todo, out, 8);
	case 9: return st_batch_n(st, keys, todo, out, 9);
	case 10: return st_batch_n(st, keys, todo, out, 10);
	default: return st_batch_n(st, keys, todo, out, st->n_words);
	}
}

void cls_lookup_first_batch(const struct cls *c, const struct flow_key *const *keys, uint32_t n,
			    const struct cls_rule **out)
{
	const struct cls_vec *v = __atomic_load_n(&c->vec, __ATOMIC_ACQUIRE);
	uint32_t todo = n >= 32 ? ~0u : (1u << n) - 1;

	for (uint32_t i = 0; i < n; i++)
		out[i] = NULL;
	for (uint32_t i = 0; i < v->n && todo; i++)
		todo = st_batch(v->e[i].st, keys, todo, out);
}

uint32_t cls_n_subtables(const struct cls *c)
{
	return __atomic_load_n(&c->vec, __ATOMIC_ACQUIRE)->n;
}

/* ---- writer side ---- */

static void retire(struct cls *c, struct cls_gc *g, size_t bytes)
{
	g->next = c->gc;
	c->gc = g;
	c->n_gc_bytes += bytes;
}

/* ---- prefix tries, writer side ---- */

static struct cls_trie_node *trie_node_new(void)
{
	return calloc(1, sizeof(struct cls_trie_node));
}

/* Count one rule with prefix a/L (host order, 1 <= L <= 32) in trie f.
 * Missing nodes are built as a private chain, then linked with one release
 * store. 0 or -ENOMEM (trie unchanged). */
static int trie_add(struct cls *c, unsigned f, uint32_t a, unsigned L)
{
	struct cls_trie_node *n = c->trie[f];
	unsigned d = 0;

	while (d < L && n->child[(a >> (31 - d)) & 1]) {
		n = n->child[(a >> (31 - d)) & 1];
		d++;
	}
	if (d == L) {
		__atomic_store_n(&n->n_rules, n->n_rules + 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* Chain for depths d+1..L, built bottom-up. */
	struct cls_trie_node *chain = NULL;

	for (unsigned e = L; e > d; e--) {
		struct cls_trie_node *x = trie_node_new();

		if (!x) {
			while (chain) {
				struct cls_trie_node *nx = chain->child[0] ? chain->child[0] : chain->child[1];

				free(chain);
				chain = nx;
			}
			return -ENOMEM;
		}
		if (e == L)
			x->n_rules = 1;
		else
			x->child[(a >> (31 - e)) & 1] = chain;
		chain = x;
	}
	/* Release: the chain is complete before readers can reach it. */
	__atomic_store_n(&n->child[(a >> (31 - d)) & 1], chain, __ATOMIC_RELEASE);
	return 0;
}

/* Uncount one rule with prefix a/L; prune nodes left useless. */
static void trie_del(struct cls *c, unsigned f, uint32_t a, unsigned L)
{
	struct cls_trie_node *path[33];
	struct cls_trie_node *n = c->trie[f];

	path[0] = n;
	for (unsigned d = 0; d < L; d++) {
		n = n->child[(a >> (31 - d)) & 1];
		path[d + 1] = n;
	}
	__atomic_store_n(&n->n_rules, n->n_rules - 1, __ATOMIC_RELAXED);
	for (unsigned d = L; d > 0; d--) {
		struct cls_trie_node *x = path[d];

		if (x->n_rules || x->child[0] || x->child[1])
			break;
		/* Readers already on x may go on reading it until it is freed
		 * after a grace period. */
		__atomic_store_n(&path[d - 1]->child[(a >> (32 - d)) & 1], NULL, __ATOMIC_RELAXED);
		retire(c, &x->gc, sizeof(*x));
	}
}

static void trie_free(struct cls_trie_node *n)
{
	if (!n)
		return;
	trie_free(n->child[0]);
	trie_free(n->child[1]);
	free(n);
}

/* Add (or, with del, remove) r's prefixes to the tries. */
static int rule_tries(struct cls *c, const struct cls_subtable *st, const struct cls_rule *r, bool del)
{
	for (unsigned f = 0; f < CLS_N_TRIES; f++) {
		if (!st->plen[f])
			continue;
		if (del) {
			trie_del(c, f, trie_field(&r->match.key, f), st->plen[f]);
		} else if (trie_add(c, f, trie_field(&r->match.key, f), st->plen[f])) {
			while (f-- > 0)
				if (st->plen[f])
					trie_del(c, f, trie_field(&r->match.key, f), st->plen[f]);
			return -ENOMEM;
		}
	}
	return 0;
}

int cls_set_prefix_tracking(struct cls *c, bool on)
{
	if (c->n_rules || c->n_subs)
		return -EBUSY;
	for (unsigned f = 0; f < CLS_N_TRIES; f++) {
		if (on && !c->trie[f]) {
			if (!(c->trie[f] = trie_node_new()))
				return -ENOMEM;
		} else if (!on && c->trie[f]) {
			/* Empty: just the root. Readers may hold it. */
			struct cls_trie_node *root = c->trie[f];

			__atomic_store_n(&c->trie[f], NULL, __ATOMIC_RELEASE);
			retire(c, &root->gc, sizeof(*root));
		}
	}
	return 0;
}

struct cls_gc *cls_gc_detach(struct cls *c)
{
	struct cls_gc *g = c->gc;

	c->gc = NULL;
	c->n_gc_bytes = 0;
	return g;
}

void cls_gc_free(struct cls_gc *g)
{
	while (g) {
		struct cls_gc *next = g->next;

		free(g);
		g = next;
	}
}

static struct cls_stab *stab_alloc(uint32_t n_words, uint32_t n_slots)
{
	uint32_t slot_bytes = (uint32_t)(sizeof(struct cls_slot) + n_words * sizeof(uint64_t));
	size_t bytes = ALIGN_UP(sizeof(struct cls_stab) + (size_t)n_slots * slot_bytes, CACHE_LINE);
	struct cls_stab *t = aligned_alloc(CACHE_LINE, bytes);

	if (!t)
		return NULL;
	memset(t, 0, bytes);
	t->n_slots = n_slots;
	t->slot_bytes = slot_bytes;
	return t;
}

static size_t stab_bytes(const struct cls_stab *t)
{
	return sizeof(*t) + (size_t)t->n_slots * t->slot_bytes;
}

/* Writer: the live slot holding words buf, or NULL; *empty gets the first
 * empty slot of the probe sequence. */
static struct cls_slot *stab_find(const struct cls_stab *t, const uint64_t *buf, uint32_t n,
				  uint32_t h, struct cls_slot **empty)
{
	uint32_t i = slot_home(t, h);

	for (;;) {
		struct cls_slot *s = slot_at(t, i);

		if (s->rule == NULL) {
			if (empty)
				*empty = s;
			return NULL;
		}
		if (s->rule != TOMB && s->hash == h && words_eq(s->w, buf, n))
			return s;
		if (++i == t->n_slots)
			i = 0;
	}
}

/* Rebuild st's table sized for n_live live groups (plus room to grow),
 * publish it, retire the old one. */
static int stab_rebuild(struct cls *c, struct cls_subtable *st, uint32_t n_live)
{
	struct cls_stab *old = st->tab, *t;
	/* Load at most 1/2 before the next rebuild, about 1/3 right after. */
	uint64_t want = (uint64_t)n_live * 3 + 8;

	if (want > UINT32_MAX / 2)
		return -ENOMEM;
	t = stab_alloc(st->n_words, (uint32_t)want);
	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; old && i < old->n_slots; i++) {
		struct cls_slot *s = slot_at(old, i), *e = NULL;

		if (s->rule == NULL || s->rule == TOMB)
			continue;
		stab_find(t, s->w, st->n_words, s->hash, &e);
		memcpy(e->w, s->w, st->n_words * sizeof(uint64_t));
		e->hash = s->hash;
		e->rule = s->rule;
		t->n_used++;
		t->n_live++;
	}
	/* Release: the new table is complete before readers can find it. */
	__atomic_store_n(&st->tab, t, __ATOMIC_RELEASE);
	if (old)
		retire(c, &old->gc, stab_bytes(old));
	return 0;
}

static uint32_t mask_hash(const struct flow_key *mask)
{
	const cls_u64 *m = cls_words(mask);
	uint32_t h = 0;

	for (size_t i = 0; i < FLOW_U64S; i++)
		h = cls_hash_add(h, m[i]);
	return cls_hash_finish(h);
}

static struct cls_subtable *sub_find(const struct cls *c, const struct flow_key *mask, uint32_t h)
{
	for (struct cls_subtable *st = c->map[h & c->map_mask]; st; st = st->map_next)
		if (st->mask_hash == h && words_eq(cls_words(&st->mask), cls_words(mask), FLOW_U64S))
			return st;
	return NULL;
}

static int map_grow(struct cls *c)
{
	uint32_t n = (c->map_mask + 1) * 2;
	struct cls_subtable **map = calloc(n, sizeof(*map));

	if (!map)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->n_subs; i++) {
		struct cls_subtable *st = c->subs[i];

		st->map_next = map[st->mask_hash & (n - 1)];
		map[st->mask_hash & (n - 1)] = st;
	}
	free(c->map);
	c->map = map;
	c->map_mask = n - 1;
	return 0;
}

static struct cls_subtable *sub_create(struct cls *c, const struct flow_key *mask, uint32_t h)
{
	const cls_u64 *m = cls_words(mask);
	struct cls_subtable *st;

	if (c->n_subs == c->cap_subs) {
		uint32_t cap = c->cap_subs ? c->cap_subs * 2 : 16;
		struct cls_subtable **subs = realloc(c->subs, cap * sizeof(*subs));

		if (!subs)
			return NULL;
		c->subs = subs;
		c->cap_subs = cap;
	}
	if (c->n_subs + 1 > c->map_mask + 1 && map_grow(c))
		return NULL;
	st = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*st), CACHE_LINE));
	if (!st)
		return NULL;
	memset(st, 0, sizeof(*st));
	st->mask = *mask;
	for (uint32_t i = 0; i < FLOW_U64S; i++) {
		if (m[i]) {
			st->idx[st->n_words] = (uint8_t)i;
			st->mw[st->n_words++] = m[i];
		}
	}
	for (unsigned f = 0; f < CLS_N_TRIES; f++) {
		uint32_t pm = trie_field(mask, f);

		/* A CIDR prefix: the complement is a run of low bits. */
		if (c->trie[f] && pm && (~pm & (~pm + 1)) == 0)
			st->plen[f] = (uint8_t)__builtin_popcount(pm);
	}
	if (stab_rebuild(c, st, 1)) {
		free(st);
		return NULL;
	}
	st->mask_hash = h;
	st->map_next = c->map[h & c->map_mask];
	c->map[h & c->map_mask] = st;
	st->sub_idx = c->n_subs;
	c->subs[c->n_subs++] = st;
	c->dirty = true;	/* not searched until the vector is republished */
	return st;
}

static void sub_destroy(struct cls *c, struct cls_subtable *st)
{
	struct cls_subtable **pp = &c->map[st->mask_hash & c->map_mask];

	while (*pp != st)
		pp = &(*pp)->map_next;
	*pp = st->map_next;
	c->subs[st->sub_idx] = c->subs[--c->n_subs];
	c->subs[st->sub_idx]->sub_idx = st->sub_idx;
	retire(c, &st->tab->gc, stab_bytes(st->tab));
	retire(c, &st->gc, sizeof(*st));
}

static void sub_recompute_max(struct cls_subtable *st)
{
	const struct cls_stab *t = st->tab;

	st->max_pri = INT32_MIN;
	st->n_max = 0;
	for (uint32_t i = 0; i < t->n_slots; i++) {
		const struct cls_rule *r = slot_at(t, i)->rule;

		/* The head of a group has the group's highest priority. */
		if (r == NULL || r == TOMB)
			continue;
		for (; r && r->priority >= st->max_pri; r = r->dup_next) {
			if (r->priority > st->max_pri) {
				st->max_pri = r->priority;
				st->n_max = 0;
			}
			st->n_max++;
		}
	}
	st->max_stale = false;
}

static int vec_cmp(const void *a_, const void *b_)
{
	const struct cls_vec_ent *a = a_, *b = b_;

	if (a->max_pri != b->max_pri)
		return a->max_pri > b->max_pri ? -1 : 1;
	/* Then bigger subtables first: a first-hit lookup finds more sooner. */
	if (a->st->n_rules != b->st->n_rules)
		return a->st->n_rules > b->st->n_rules ? -1 : 1;
	return 0;
}

static int vec_publish(struct cls *c)
{
	struct cls_vec *v, *old = c->vec;

	/* Allocate first: an empty subtable may be retired only once a vector
	 * without it is published. */
	v = malloc(sizeof(*v) + c->n_subs * sizeof(v->e[0]));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->n_subs;) {
		struct cls_subtable *st = c->subs[i];
		struct cls_stab *t = st->tab;

		if (st->n_rules == 0) {
			sub_destroy(c, st);	/* moves the last one to i */
			continue;
		}
		if (st->max_stale)
			sub_recompute_max(st);
		/* Tombstones lengthen every miss; compact when they dominate. */
		if (t->n_used - t->n_live > t->n_live + 16)
			stab_rebuild(c, st, t->n_live);	/* on failure keep the old one */
		i++;
	}
	v->n = c->n_subs;
	for (uint32_t i = 0; i < c->n_subs; i++)
		v->e[i] = (struct cls_vec_ent){ .max_pri = c->subs[i]->max_pri, .st = c->subs[i] };
	qsort(v->e, v->n, sizeof(v->e[0]), vec_cmp);
	/* Release: the vector and every subtable in it are complete. */
	__atomic_store_n(&c->vec, v, __ATOMIC_RELEASE);
	retire(c, &old->gc, sizeof(*old) + old->n * sizeof(old->e[0]));
	c->dirty = false;
	return 0;
}

int cls_init(struct cls *c)
{
	memset(c, 0, sizeof(*c));
	c->vec = calloc(1, sizeof(*c->vec));
	c->map = calloc(16, sizeof(*c->map));
	if (!c->vec || !c->map) {
		free(c->vec);
		free(c->map);
		return -ENOMEM;
	}
	c->map_mask = 15;
	if (cls_set_prefix_tracking(c, true)) {
		cls_destroy(c);
		return -ENOMEM;
	}
	return 0;
}

void cls_destroy(struct cls *c)
{
	for (uint32_t i = 0; i < c->n_subs; i++) {
		free(c->subs[i]->tab);
		free(c->subs[i]);
	}
	free(c->subs);
	free(c->map);
	free(c->vec);
	for (unsigned f = 0; f < CLS_N_TRIES; f++)
		trie_free(c->trie[f]);
	cls_gc_free(cls_gc_detach(c));
	memset(c, 0, sizeof(*c));
}

void cls_defer(struct cls *c)
{
	c->defer++;
}

int cls_publish(struct cls *c)
{
	if (c->defer > 0)
		c->defer--;
	if (c->defer == 0 && c->dirty)
		return vec_publish(c);
	return 0;
}

static inline void maybe_publish(struct cls *c)
{
	/* On -ENOMEM readers keep the old vector, which is still correct but
	 * stale; dirty stays set and the next change retries. */
	if (c->defer == 0 && c->dirty)
		vec_publish(c);
}

int cls_insert(struct cls *c, struct cls_rule *r)
{
	const cls_u64 *k = cls_words(&r->match.key), *m = cls_words(&r->match.mask);
	uint64_t buf[FLOW_U64S];
	struct cls_subtable *st;
	struct cls_slot *s, *e = NULL;
	uint32_t h;

	for (size_t i = 0; i < FLOW_U64S; i++)
		if (k[i] & ~m[i])
			return -EINVAL;
	h = mask_hash(&r->match.mask);
	st = sub_find(c, &r->match.mask, h);
	if (!st && !(st = sub_create(c, &r->match.mask, h)))
		return -ENOMEM;
	/* Before r can be found: a reader's tries never lack a rule. */
	if (rule_tries(c, st, r, false))
		return -ENOMEM;

	h = masked_words(st, k, buf);
	r->hash = h;
	r->st = st;
	r->dup_next = NULL;
	s = stab_find(st->tab, buf, st->n_words, h, &e);
	if (s) {
		struct cls_rule *head = s->rule;

		if (r->priority > head->priority) {
			r->dup_next = head;
			/* Release: r is complete before it becomes the head. */
			__atomic_store_n(&s->rule, r, __ATOMIC_RELEASE);
		} else {
			/* Readers never follow dup_next: plain stores. */
			struct cls_rule *p = head;

			while (p->dup_next && p->dup_next->priority >= r->priority)
				p = p->dup_next;
			r->dup_next = p->dup_next;
			p->dup_next = r;
		}
	} else {
		struct cls_stab *t = st->tab;

		if ((t->n_used + 1) * 2 > t->n_slots) {
			if (stab_rebuild(c, st, t->n_live + 1)) {
				rule_tries(c, st, r, true);
				return -ENOMEM;
			}
			t = st->tab;
			stab_find(t, buf, st->n_words, h, &e);
		}
		memcpy(e->w, buf, st->n_words * sizeof(uint64_t));
		e->hash = h;
		/* Release: words and hash before the rule pointer. */
		__atomic_store_n(&e->rule, r, __ATOMIC_RELEASE);
		t->n_used++;
		t->n_live++;
	}

	if (st->n_rules++ == 0 || r->priority > st->max_pri) {
		st->max_pri = r->priority;
		st->n_max = 1;
		st->max_stale = false;
		c->dirty = true;
	} else if (r->priority == st->max_pri) {
		st->n_max++;
	}
	c->n_rules++;
	maybe_publish(c);
	return 0;
}

void cls_remove(struct cls *c, struct cls_rule *r)
{
	struct cls_subtable *st = r->st;
	uint64_t buf[FLOW_U64S];
	struct cls_slot *s;

	masked_words(st, cls_words(&r->match.key), buf);
	s = stab_find(st->tab, buf, st->n_words, r->hash, NULL);
	if (s->rule == r) {
		/* Release: the new head (if any) was complete long ago; TOMB
		 * leaves the words in place for readers already probing. r's
		 * dup_next stays intact for a cursor positioned on r. */
		__atomic_store_n(&s->rule, r->dup_next ? r->dup_next : TOMB, __ATOMIC_RELEASE);
		if (!r->dup_next)
			st->tab->n_live--;
	} else {
		struct cls_rule *p = s->rule;

		while (p->dup_next != r)
			p = p->dup_next;
		p->dup_next = r->dup_next;
	}
	rule_tries(c, st, r, true);
	c->n_rules--;
	if (--st->n_rules == 0) {
		c->dirty = true;
	} else if (r->priority == st->max_pri && --st->n_max == 0) {
		/* The vector's max_pri stays a valid upper bound until the
		 * next publish recomputes it. */
		st->max_stale = true;
		c->dirty = true;
	}
	maybe_publish(c);
}

struct cls_rule *cls_find_exact(const struct cls *c, const struct flow_match *m, int32_t priority)
{
	uint32_t h = mask_hash(&m->mask);
	struct cls_subtable *st = sub_find(c, &m->mask, h);
	uint64_t buf[FLOW_U64S];
	struct cls_slot *s;

	if (!st)
		return NULL;
	h = masked_words(st, cls_words(&m->key), buf);
	s = stab_find(st->tab, buf, st->n_words, h, NULL);
	for (struct cls_rule *r = s ? s->rule : NULL; r && r->priority >= priority; r = r->dup_next)
		if (r->priority == priority)
			return r;
	return NULL;
}

void cls_cursor_init(struct cls_cursor *cur, const struct cls *c)
{
	*cur = (struct cls_cursor){ .c = c };
}

struct cls_rule *cls_cursor_next(struct cls_cursor *cur)
{
	const struct cls *c = cur->c;
	struct cls_rule *r = cur->next;

	while (!r) {
		const struct cls_stab *t;

		if (cur->sub >= c->n_subs)
			return NULL;
		t = c->subs[cur->sub]->tab;
		if (cur->slot >= t->n_slots) {
			cur->sub++;
			cur->slot = 0;
			continue;
		}
		r = slot_at(t, cur->slot++)->rule;
		if (r == TOMB)
			r = NULL;
	}
	cur->next = r->dup_next;
	return r;
}
