/*
 * Groups: the control side (add, modify, delete, liveness, counters) and the
 * PMD's lookup. See group.h for the model; everything but group_lookup and
 * group_hash5 runs on the control thread.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "group.h"

struct dpact_idtab *group_tab_rcu;

static group_compile_fn *compile_hook;
static uint64_t port_live[PORT_MAX / 64];	/* liveness bitmap */

/* ---- id tables (shared with meter.c) ---- */

struct dpact_idtab *dpact_idtab_build(void *const *objs, uint32_t n)
{
	uint32_t size = 8;
	struct dpact_idtab *t;

	while (size < 2 * n)
		size *= 2;
	t = calloc(1, sizeof(*t) + size * sizeof(t->slot[0]));
	if (!t)
		return NULL;
	t->mask = size - 1;
	t->n = n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = dpact_idhash(*(const uint32_t *)objs[i]) & t->mask;

		while (t->slot[h])
			h = (h + 1) & t->mask;
		t->slot[h] = objs[i];
	}
	return t;
}

int dpact_idtab_replace(struct dpact_idtab **tab, void *add, void *gone,
			void (*free_obj)(void *))
{
	const struct dpact_idtab *cur = *tab;
	uint32_t n = 0, cap = (cur ? cur->n : 0) + 1;
	struct dpact_idtab *t;
	void **objs = malloc(cap * sizeof(*objs));

	if (!objs)
		return -ENOMEM;
	for (uint32_t i = 0; cur && i <= cur->mask; i++)
		if (cur->slot[i] && cur->slot[i] != gone)
			objs[n++] = cur->slot[i];
	if (add)
		objs[n++] = add;
	t = dpact_idtab_build(objs, n);
	free(objs);
	if (!t)
		return -ENOMEM;
	/* Release: the objects' contents are visible before the table. */
	rcu_assign_pointer(*tab, t);
	synchronize_rcu();
	free((void *)cur);
	if (gone)
		free_obj(gone);
	return 0;
}

void dpact_idtab_clear(struct dpact_idtab **tab, void (*free_obj)(void *))
{
	struct dpact_idtab *cur = *tab;

	rcu_assign_pointer(*tab, NULL);
	synchronize_rcu();
	for (uint32_t i = 0; cur && i <= cur->mask; i++)
		if (cur->slot[i])
			free_obj(cur->slot[i]);
	free(cur);
}

/* ---- the PMD side ---- */

struct group *group_lookup(uint32_t id)
{
	return dpact_idtab_find(rcu_dereference(group_tab_rcu), id);
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint32_t group_hash5(const struct flow_key *k)
{
	uint64_t a, b, c;

	if (k->dl_type == __builtin_bswap16(0x86dd)) {
		uint64_t s[2], d[2];

		memcpy(s, k->ipv6_src, 16);
		memcpy(d, k->ipv6_dst, 16);
		a = s[0] ^ mix64(s[1]);
		b = d[0] ^ mix64(d[1]);
	} else {
		a = k->nw_src;
		b = k->nw_dst;
	}
	c = (uint64_t)k->tp_src << 32 | (uint64_t)k->tp_dst << 16 | k->nw_proto;
	return (uint32_t)mix64(mix64(a) ^ mix64(b + 0x9e3779b97f4a7c15ULL) ^ c);
}

/* ---- objects ---- */

static void group_free(struct group *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->n_buckets; i++) {
		free(g->buckets[i].dpacts);
		free(g->buckets[i].ofpacts);
	}
	free(g->buckets);
	free(g->select);
	free(g->ctr);
	free(g);
}

/* Smooth weighted round robin over GROUP_SELECT_SLOTS slots: each bucket
 * gets a share proportional to its weight, interleaved. */
static int build_select(struct group *g)
{
	int64_t cur[GROUP_MAX_BUCKETS] = { 0 };
	int64_t total = 0;

	for (uint32_t i = 0; i < g->n_buckets; i++)
		total += g->buckets[i].weight;
	if (!total)
		return 0;	/* no bucket can be chosen: drop */
	g->select = malloc(GROUP_SELECT_SLOTS);
	if (!g->select)
		return -ENOMEM;
	for (uint32_t s = 0; s < GROUP_SELECT_SLOTS; s++) {
		uint32_t best = 0;

		for (uint32_t i = 0; i < g->n_buckets; i++) {
			cur[i] += g->buckets[i].weight;
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		g->select[s] = (uint8_t)best;
	}
	return 0;
}

static bool port_is_live(uint16_t port)
{
	return port < PORT_MAX && (port_live[port / 64] >> (port % 64) & 1);
}

static int32_t ff_first_live(const struct group *g)
{
	for (uint32_t i = 0; i < g->n_buckets; i++) {
		uint16_t w = g->buckets[i].watch_port;

		if (w == PORT_ID_NONE || port_is_live(w))
			return (int32_t)i;
	}
	return -1;
}

static struct group *group_build(uint32_t id, enum group_type type,
				 const struct group_bucket_spec *spec, uint32_t n, int *err)
{
	struct group *g;
	size_t stride;

	*err = -EINVAL;
	if (id > OFPG_MAX || type > GROUP_FF || n > GROUP_MAX_BUCKETS ||
	    (type == GROUP_INDIRECT && n != 1))
		return NULL;
	*err = -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->id = id;
	g->type = type;
	g->ff_live = -1;
	g->buckets = calloc(n ? n : 1, sizeof(g->buckets[0]));
	stride = ALIGN_UP((size_t)(n ? n : 1) * sizeof(struct group_ctr), CACHE_LINE);
	g->ctr_stride = (uint32_t)(stride / sizeof(struct group_ctr));
	g->ctr = aligned_alloc(CACHE_LINE, stride * DPACT_PMD_MAX);
	if (!g->buckets || !g->ctr)
		goto err_free;
	memset(g->ctr, 0, stride * DPACT_PMD_MAX);
	for (uint32_t i = 0; i < n; i++) {
		struct group_bucket *b = &g->buckets[i];
		struct dpact_buf db = { 0 };

		g->n_buckets = i + 1;	/* so group_free frees what is set */
		b->weight = spec[i].weight;
		b->watch_port = spec[i].watch_port;
		if (spec[i].ofpacts_len) {
			b->ofpacts = malloc(spec[i].ofpacts_len);
			if (!b->ofpacts)
				goto err_free;
			memcpy(b->ofpacts, spec[i].ofpacts, spec[i].ofpacts_len);
			b->ofpacts_len = spec[i].ofpacts_len;
		}
		if (spec[i].dpacts) {
			if (spec[i].dpacts_len) {
				db.data = malloc(spec[i].dpacts_len);
				if (!db.data)
					goto err_free;
				memcpy(db.data, spec[i].dpacts, spec[i].dpacts_len);
				db.len = spec[i].dpacts_len;
			}
		} else if (spec[i].ofpacts_len) {
			if (!compile_hook) {
				*err = -EOPNOTSUPP;
				goto err_free;
			}
			*err = compile_hook(spec[i].ofpacts, spec[i].ofpacts_len, &db);
			if (*err) {
				dpact_buf_free(&db);
				goto err_free;
			}
			*err = -ENOMEM;
		}
		b->dpacts = db.data;
		b->dpacts_len = (uint32_t)db.len;
		if (dpact_validate(b->dpacts, b->dpacts_len)) {
			*err = -EINVAL;
			goto err_free;
		}
	}
	if (type == GROUP_SELECT && build_select(g))
		goto err_free;
	if (type == GROUP_FF)
		g->ff_live = ff_first_live(g);
	*err = 0;
	return g;

err_free:
	group_free(g);
	return NULL;
}

/* ---- the table ---- */

/* Publish the current groups with `add` added and `gone` removed, then free
 * `gone` once no PMD can hold it. */
static void group_free_obj(void *g)
{
	group_free(g);
}

static int publish(struct group *add, struct group *gone)
{
	return dpact_idtab_replace(&group_tab_rcu, add, gone, group_free_obj);
}

void group_set_compile(group_compile_fn *fn)
{
	compile_hook = fn;
}

int group_add(uint32_t id, enum group_type type, const struct group_bucket_spec *b, uint32_t n)
{
	struct group *g;
	int err;

	if (group_find(id))
		return -EEXIST;
	g = group_build(id, type, b, n, &err);
	if (!g)
		return err;
	err = publish(g, NULL);
	if (err)
		group_free(g);
	return err;
}

int group_mod(uint32_t id, enum group_type type, const struct group_bucket_spec *b, uint32_t n)
{
	struct group *old = (struct group *)group_find(id), *g;
	int err;

	if (!old)
		return -ENOENT;
	g = group_build(id, type, b, n, &err);
	if (!g)
		return err;
	err = publish(g, old);
	if (err)
		group_free(g);
	return err;
}

int group_del(uint32_t id)
{
	if (id == OFPG_ALL) {
		dpact_idtab_clear(&group_tab_rcu, group_free_obj);
		return 0;
	}
	if (!group_find(id))
		return -ENOENT;
	return publish(NULL, (struct group *)group_find(id));
}

const struct group *group_find(uint32_t id)
{
	return dpact_idtab_find(group_tab_rcu, id);
}

uint32_t group_count(void)
{
	return group_tab_rcu ? group_tab_rcu->n : 0;
}

void group_foreach(void (*fn)(const struct group *g, void *arg), void *arg)
{
	const struct dpact_idtab *t = group_tab_rcu;

	for (uint32_t i = 0; t && i <= t->mask; i++)
		if (t->slot[i])
			fn(t->slot[i], arg);
}

struct group_ctr group_bucket_stats(const struct group *g, uint32_t bucket)
{
	struct group_ctr s = { 0, 0 };

	if (bucket >= g->n_buckets)
		return s;
	for (uint32_t p = 0; p < DPACT_PMD_MAX; p++) {
		const struct group_ctr *c = &g->ctr[(size_t)p * g->ctr_stride + bucket];

		s.packets += COUNTER_READ(c->packets);
		s.bytes += COUNTER_READ(c->bytes);
	}
	return s;
}

/* ---- liveness ---- */

static void ff_recompute(const struct group *g, void *arg)
{
	(void)arg;
	if (g->type == GROUP_FF)
		__atomic_store_n(&((struct group *)g)->ff_live, ff_first_live(g),
				 __ATOMIC_RELAXED);
}

void group_port_set_live(uint16_t port_id, bool live)
{
	if (port_id >= PORT_MAX || port_is_live(port_id) == live)
		return;
	port_live[port_id / 64] ^= 1ULL << (port_id % 64);
	group_foreach(ff_recompute, NULL);
}

bool group_port_live(uint16_t port_id)
{
	return port_is_live(port_id);
}

void group_liveness_refresh(void)
{
	for (uint16_t id = 0; id < PORT_MAX; id++) {
		struct port *p = port_by_id(id);

		group_port_set_live(id, p && (!p->ops->link_up || p->ops->link_up(p)));
	}
}
