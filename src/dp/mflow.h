/*
 * mflow: the megaflow cache shared by all PMD threads. A megaflow is a match
 * (key + mask: exactly the bits the pipeline looked at) and the compiled
 * datapath actions the pipeline decided for every packet it covers. It is a
 * cls (cls.h) without priorities: megaflows computed from the same tables do
 * not overlap, so the first hit is the answer.
 *
 * Installs come from PMD threads: a PMD that misses runs the pipeline itself
 * and calls mflow_insert(). All writers (PMD installs, control-thread removal,
 * sweeps, flushes) take mf->lock, a mutex held only on a miss or a control
 * operation, never per packet. Readers (mflow_lookup) take no lock. Two PMDs
 * installing the same match: the second finds the first's entry under the
 * lock (cls_find_exact) and gets it back with *existed = true; its actions
 * are dropped. Overlapping but different matches (two PMDs racing on packets
 * of one future megaflow) are harmless: both are correct for the version they
 * were computed at, and the lookup returns either.
 *
 * Stats: per PMD, per entry, written only by that PMD with relaxed stores (no
 * RMW) and summed by the control thread. They live in one array per PMD
 * indexed by the entry's id (ids are dense and recycled), not in the entry:
 * no two PMDs ever write one cache line, and an entry costs 32 bytes per PMD
 * that uses it (the arrays are calloc'd, so untouched pages cost nothing).
 *
 * Lifetime. Removal marks the entry dead, bumps its generation in every PMD's
 * slot, unlinks it and queues it; mflow_gc() (control thread) waits for a
 * grace period and frees what was queued before. EMCs keep (entry, id,
 * generation) across quiescent states and validate the generation — in the
 * id-indexed slot, which is never freed — before touching the entry: a
 * generation that still matches proves the entry was not freed before the
 * PMD's current loop iteration began (it was bumped before the grace period
 * that precedes the free).
 *
 * Revalidation: each entry carries the version (of the tables) it was
 * computed at. The pipeline walks the cache (mflow_foreach) after a table
 * change, recomputes stale entries and either mflow_update()s their actions
 * (an RCU swap) or mflow_remove()s them.
 */
#ifndef XVIO_MFLOW_H
#define XVIO_MFLOW_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "cls.h"

#define MFLOW_MAX_PMDS		64
#define MFLOW_DEFAULT_MAX	200000
#define MFLOW_DEFAULT_IDLE_NS	(10ull * 1000000000ull)

/* Compiled datapath actions: opaque bytes, format owned by dpact. */
struct mflow_actions {
	struct mflow_actions *gc_next;	/* retired list */
	uint32_t len;			/* bytes of data */
	uint32_t pad;
	alignas(8) unsigned char data[];
};

/* Per PMD per entry id. Only the PMD writes packets/bytes/used; gen is
 * written under mf->lock on removal, and the slot is reset when the id is
 * recycled after a grace period. */
struct mflow_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t used_ns;
	uint32_t gen;
	uint32_t pad;
};

struct mflow_entry {
	/* What a PMD reads after a hit: first cache line. */
	const struct mflow_actions *actions;	/* RCU */
	uint32_t id;				/* stats slot */
	bool dead;				/* set (release) before unlinking */
	uint64_t version;			/* tables version it was computed at */
	uint64_t created_ns;
	struct mflow_entry *gc_next;
	alignas(CACHE_LINE) struct cls_rule cr;	/* match; priority 0 */
	/* The first actions follow inline. */
};

struct mflow {
	struct cls cls;			/* writers hold lock */
	pthread_mutex_t lock;		/* guards cls writes, ids, retired lists */
	uint32_t n_pmds;
	uint32_t max_entries;
	struct mflow_stats *stats[MFLOW_MAX_PMDS];	/* [pmd][id] */
	uint32_t *free_ids;		/* stack of recyclable ids */
	uint32_t n_free;
	uint32_t next_id;		/* ids below were handed out once */
	struct mflow_entry *retired;	/* unlinked, free after a grace period */
	struct mflow_actions *retired_actions;
	uint64_t n_inserted, n_removed, n_insert_races;
};

/* Control thread, before PMDs start. max_entries 0 = MFLOW_DEFAULT_MAX.
 * 0, -EINVAL or -ENOMEM. */
int mflow_init(struct mflow *mf, uint32_t n_pmds, uint32_t max_entries);
/* No readers may remain. Frees every entry. */
void mflow_destroy(struct mflow *mf);

/* PMD (reader): the live megaflow matching key, or NULL. Valid until the
 * caller's next quiescent state. */
static inline struct mflow_entry *mflow_lookup(const struct mflow *mf, const struct flow_key *key)
{
	const struct cls_rule *r = cls_lookup_first(&mf->cls, key);
	struct mflow_entry *e;

	if (!r)
		return NULL;
	e = container_of(r, struct mflow_entry, cr);
	if (unlikely(__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE)))
		return NULL;
	return e;
}

/* PMD (reader): mflow_lookup() for n keys (n <= 32) at once; out[i] is
 * keys[i]'s live megaflow or NULL. The probes of the burst overlap, and
 * each hit's entry is prefetched before any is read. */
static inline void mflow_lookup_batch(const struct mflow *mf, const struct flow_key *const *keys,
				      uint32_t n, struct mflow_entry **out)
{
	const struct cls_rule *r[32];

	cls_lookup_first_batch(&mf->cls, keys, n, r);
	for (uint32_t i = 0; i < n; i++) {
		out[i] = r[i] ? container_of(r[i], struct mflow_entry, cr) : NULL;
		__builtin_prefetch(out[i]);	/* NULL does not fault */
	}
	for (uint32_t i = 0; i < n; i++)
		if (out[i] && unlikely(__atomic_load_n(&out[i]->dead, __ATOMIC_ACQUIRE)))
			out[i] = NULL;
}

static inline const struct mflow_actions *mflow_actions(const struct mflow_entry *e)
{
	/* Acquire: an updated action block is complete before it is published. */
	return __atomic_load_n(&e->actions, __ATOMIC_ACQUIRE);
}

/* PMD: count a hit. Relaxed load+store, no RMW: only this PMD writes. */
static inline void mflow_account(struct mflow *mf, uint32_t pmd, const struct mflow_entry *e,
				 uint32_t n_packets, uint32_t n_bytes, uint64_t now_ns)
{
	struct mflow_stats *s = &mf->stats[pmd][e->id];

	__atomic_store_n(&s->packets, __atomic_load_n(&s->packets, __ATOMIC_RELAXED) + n_packets,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes, __atomic_load_n(&s->bytes, __ATOMIC_RELAXED) + n_bytes,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->used_ns, now_ns, __ATOMIC_RELAXED);
}

/* The generation of id as PMD pmd sees it (for the EMC). */
static inline uint32_t mflow_gen(const struct mflow *mf, uint32_t pmd, uint32_t id)
{
	return __atomic_load_n(&mf->stats[pmd][id].gen, __ATOMIC_RELAXED);
}

/*
 * Any thread (takes the lock). Install match -> actions (copied), computed
 * at tables version `version`. The match's mask must be what the pipeline
 * looked at; its key must have no bits outside the mask. Returns the entry
 * (the existing one if this exact match is already installed, *existed =
 * true), or NULL with errno ENOSPC (cache full), EINVAL or ENOMEM.
 */
struct mflow_entry *mflow_insert(struct mflow *mf, const struct flow_match *match,
				 const void *actions, uint32_t actions_len, uint64_t version,
				 uint64_t now_ns, bool *existed);

/* Any thread (takes the lock). Unlink and queue for mflow_gc(); PMDs stop
 * finding it at once, EMCs at their next lookup. Idempotent. */
void mflow_remove(struct mflow *mf, struct mflow_entry *e);

/* Any thread (takes the lock). Replace e's actions (revalidation); the old
 * block is freed by mflow_gc(). 0 or -ENOMEM. */
int mflow_update(struct mflow *mf, struct mflow_entry *e, const void *actions,
		 uint32_t actions_len, uint64_t version);

/* Control thread: wait for a grace period (synchronize_rcu) and free what
 * was removed before the call; recycle ids. */
void mflow_gc(struct mflow *mf);

/* Control thread (takes the lock). Remove entries not used for idle_ns
 * (never used: since creation); returns how many. Call mflow_gc() after. */
size_t mflow_sweep(struct mflow *mf, uint64_t now_ns, uint64_t idle_ns);
/* Control thread (takes the lock): remove everything. */
size_t mflow_flush(struct mflow *mf);

struct mflow_sum {
	uint64_t packets;
	uint64_t bytes;
	uint64_t used_ns;	/* 0 = never */
};

/* Control thread: sum of the PMDs' stats of e. */
void mflow_get_stats(const struct mflow *mf, const struct mflow_entry *e, struct mflow_sum *sum);

enum mflow_walk {
	MFLOW_WALK_NEXT,
	MFLOW_WALK_REMOVE,	/* remove this entry (as mflow_remove) and go on */
	MFLOW_WALK_STOP,
};

/* Control thread: visit every live entry with the lock held (so fn must not
 * call locking mflow_* functions; it may read stats and return REMOVE).
 * Returns the number removed; call mflow_gc() after. */
size_t mflow_foreach(struct mflow *mf, enum mflow_walk (*fn)(struct mflow_entry *e, void *arg),
		     void *arg);

static inline size_t mflow_count(const struct mflow *mf)
{
	return cls_count(&mf->cls);
}

#endif
