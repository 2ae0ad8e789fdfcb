/*
 * mflow: the megaflow cache. See mflow.h for the design and threading.
 */
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "mflow.h"

int mflow_init(struct mflow *mf, uint32_t n_pmds, uint32_t max_entries)
{
	memset(mf, 0, sizeof(*mf));
	if (n_pmds == 0 || n_pmds > MFLOW_MAX_PMDS)
		return -EINVAL;
	if (max_entries == 0)
		max_entries = MFLOW_DEFAULT_MAX;
	mf->n_pmds = n_pmds;
	mf->max_entries = max_entries;
	if (cls_init(&mf->cls))
		return -ENOMEM;
	/* Megaflows never overlap and are found with cls_lookup_first, which
	 * needs no wildcards: prefix tries would be upkeep for nothing. */
	cls_set_prefix_tracking(&mf->cls, false);
	pthread_mutex_init(&mf->lock, NULL);
	mf->free_ids = malloc(max_entries * sizeof(*mf->free_ids));
	if (!mf->free_ids)
		goto err_free;
	for (uint32_t p = 0; p < n_pmds; p++) {
		/* calloc of this size is mmap'd: pages cost only once touched,
		 * and ids are recycled lowest-first... roughly, via a stack. */
		mf->stats[p] = calloc(max_entries, sizeof(struct mflow_stats));
		if (!mf->stats[p])
			goto err_free;
	}
	return 0;

err_free:
	mflow_destroy(mf);
	return -ENOMEM;
}

static void entry_free(struct mflow_entry *e)
{
	if (e->actions != (const void *)(e + 1))
		free((void *)e->actions);
	free(e);
}

static void free_retired(struct mflow_entry *e, struct mflow_actions *a)
{
	while (e) {
		struct mflow_entry *next = e->gc_next;

		entry_free(e);
		e = next;
	}
	while (a) {
		struct mflow_actions *next = a->gc_next;

		free(a);
		a = next;
	}
}

void mflow_destroy(struct mflow *mf)
{
	struct cls_cursor cur;
	struct cls_rule *r;

	if (mf->cls.vec) {
		CLS_FOR_EACH(r, &cur, &mf->cls)
			entry_free(container_of(r, struct mflow_entry, cr));
		cls_destroy(&mf->cls);
		pthread_mutex_destroy(&mf->lock);
	}
	free_retired(mf->retired, mf->retired_actions);
	for (uint32_t p = 0; p < MFLOW_MAX_PMDS; p++)
		free(mf->stats[p]);
	free(mf->free_ids);
	memset(mf, 0, sizeof(*mf));
}

static bool alloc_id(struct mflow *mf, uint32_t *id)
{
	if (mf->n_free) {
		*id = mf->free_ids[--mf->n_free];
		return true;
	}
	if (mf->next_id < mf->max_entries) {
		*id = mf->next_id++;
		return true;
	}
	return false;
}

struct mflow_entry *mflow_insert(struct mflow *mf, const struct flow_match *match,
				 const void *actions, uint32_t actions_len, uint64_t version,
				 uint64_t now_ns, bool *existed)
{
	size_t bytes = sizeof(struct mflow_entry) + sizeof(struct mflow_actions) + actions_len;
	struct mflow_entry *e = aligned_alloc(CACHE_LINE, ALIGN_UP(bytes, CACHE_LINE)), *old;
	struct mflow_actions *a;
	struct cls_rule *r;
	int err;

	*existed = false;
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	a = (struct mflow_actions *)(e + 1);
	a->gc_next = NULL;
	a->len = actions_len;
	if (actions_len)	/* a drop megaflow has none, and maybe no buffer */
		memcpy(a->data, actions, actions_len);
	e->actions = a;
	e->version = version;
	e->created_ns = now_ns;
	e->cr.match = *match;
	e->cr.priority = 0;

	pthread_mutex_lock(&mf->lock);
	r = cls_find_exact(&mf->cls, match, 0);
	if (r) {
		old = container_of(r, struct mflow_entry, cr);
		mf->n_insert_races++;
		pthread_mutex_unlock(&mf->lock);
		free(e);
		*existed = true;
		return old;
	}
	if (!alloc_id(mf, &e->id)) {
		err = ENOSPC;
		goto err_unlock;
	}
	/* The id's slots were reset when it was recycled; cls_insert publishes
	 * e (release) after everything above. */
	err = -cls_insert(&mf->cls, &e->cr);
	if (err) {
		mf->free_ids[mf->n_free++] = e->id;
		goto err_unlock;
	}
	mf->n_inserted++;
	pthread_mutex_unlock(&mf->lock);
	return e;

err_unlock:
	pthread_mutex_unlock(&mf->lock);
	free(e);
	errno = err;
	return NULL;
}

static void remove_locked(struct mflow *mf, struct mflow_entry *e)
{
	if (e->dead)
		return;
	/* Release: lookups that still find e skip it from now on. */
	__atomic_store_n(&e->dead, true, __ATOMIC_RELEASE);
	/* EMCs validate the generation before touching e; this store is
	 * ordered before the grace period that precedes e's free. */
	for (uint32_t p = 0; p < mf->n_pmds; p++)
		__atomic_store_n(&mf->stats[p][e->id].gen, mf->stats[p][e->id].gen + 1,
				 __ATOMIC_RELEASE);
	cls_remove(&mf->cls, &e->cr);
	e->gc_next = mf->retired;
	mf->retired = e;
	mf->n_removed++;
}

void mflow_remove(struct mflow *mf, struct mflow_entry *e)
{
	pthread_mutex_lock(&mf->lock);
	remove_locked(mf, e);
	pthread_mutex_unlock(&mf->lock);
}

int mflow_update(struct mflow *mf, struct mflow_entry *e, const void *actions,
		 uint32_t actions_len, uint64_t version)
{
	struct mflow_actions *a = malloc(sizeof(*a) + actions_len), *old;

	if (!a)
		return -ENOMEM;
	a->gc_next = NULL;
	a->len = actions_len;
	if (actions_len)
		memcpy(a->data, actions, actions_len);
	pthread_mutex_lock(&mf->lock);
	old = (struct mflow_actions *)e->actions;
	/* Release: the block is complete before PMDs can load it. */
	__atomic_store_n(&e->actions, a, __ATOMIC_RELEASE);
	e->version = version;
	/* The inline block goes with the entry; others wait a grace period. */
	if (old != (struct mflow_actions *)(e + 1)) {
		old->gc_next = mf->retired_actions;
		mf->retired_actions = old;
	}
	pthread_mutex_unlock(&mf->lock);
	return 0;
}

void mflow_gc(struct mflow *mf)
{
	struct mflow_entry *e, *retired;
	struct mflow_actions *retired_actions;
	struct cls_gc *g;

	pthread_mutex_lock(&mf->lock);
	retired = mf->retired;
	retired_actions = mf->retired_actions;
	mf->retired = NULL;
	mf->retired_actions = NULL;
	g = cls_gc_detach(&mf->cls);
	pthread_mutex_unlock(&mf->lock);
	if (!retired && !retired_actions && !g)
		return;

	synchronize_rcu();

	/* No PMD holds any of these now (EMCs hold them, but fail the
	 * generation check first), so nobody writes the ids' slots either. */
	pthread_mutex_lock(&mf->lock);
	for (e = retired; e; e = e->gc_next) {
		for (uint32_t p = 0; p < mf->n_pmds; p++) {
			struct mflow_stats *s = &mf->stats[p][e->id];

			s->packets = s->bytes = s->used_ns = 0;
		}
		mf->free_ids[mf->n_free++] = e->id;
	}
	pthread_mutex_unlock(&mf->lock);
	free_retired(retired, retired_actions);
	cls_gc_free(g);
}

void mflow_get_stats(const struct mflow *mf, const struct mflow_entry *e, struct mflow_sum *sum)
{
	*sum = (struct mflow_sum){ 0 };
	for (uint32_t p = 0; p < mf->n_pmds; p++) {
		const struct mflow_stats *s = &mf->stats[p][e->id];
		uint64_t used = __atomic_load_n(&s->used_ns, __ATOMIC_RELAXED);

		sum->packets += __atomic_load_n(&s->packets, __ATOMIC_RELAXED);
		sum->bytes += __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
		sum->used_ns = MAX(sum->used_ns, used);
	}
}

size_t mflow_foreach(struct mflow *mf, enum mflow_walk (*fn)(struct mflow_entry *e, void *arg),
		     void *arg)
{
	struct cls_cursor cur;
	struct cls_rule *r;
	size_t n = 0;

	pthread_mutex_lock(&mf->lock);
	/* Deferred: removing the rule the cursor just returned is allowed. */
	cls_defer(&mf->cls);
	CLS_FOR_EACH(r, &cur, &mf->cls) {
		struct mflow_entry *e = container_of(r, struct mflow_entry, cr);
		enum mflow_walk w = fn(e, arg);

		if (w == MFLOW_WALK_REMOVE) {
			remove_locked(mf, e);
			n++;
		} else if (w == MFLOW_WALK_STOP) {
			break;
		}
	}
	cls_publish(&mf->cls);
	pthread_mutex_unlock(&mf->lock);
	return n;
}

struct sweep_arg {
	const struct mflow *mf;
	uint64_t now_ns;
	uint64_t idle_ns;
};

static enum mflow_walk sweep_one(struct mflow_entry *e, void *arg_)
{
	struct sweep_arg *arg = arg_;
	struct mflow_sum sum;
	uint64_t used;

	mflow_get_stats(arg->mf, e, &sum);
	used = MAX(sum.used_ns, e->created_ns);
	return arg->now_ns > used && arg->now_ns - used >= arg->idle_ns ?
	       MFLOW_WALK_REMOVE : MFLOW_WALK_NEXT;
}

size_t mflow_sweep(struct mflow *mf, uint64_t now_ns, uint64_t idle_ns)
{
	struct sweep_arg arg = { mf, now_ns, idle_ns };

	return mflow_foreach(mf, sweep_one, &arg);
}

static enum mflow_walk flush_one(struct mflow_entry *e, void *arg)
{
	(void)e, (void)arg;
	return MFLOW_WALK_REMOVE;
}

size_t mflow_flush(struct mflow *mf)
{
	return mflow_foreach(mf, flush_one, NULL);
}
