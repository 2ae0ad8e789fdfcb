/*
 * emc: the per-PMD exact-match cache in front of the megaflow cache. A flow
 * key (the whole struct, every field) maps to the megaflow that covered it.
 * 4-way set-associative; a set's hashes and validation data fill one cache
 * line, keys and megaflow pointers sit in parallel arrays, so a miss touches
 * one line and a hit that line, the key and the pointer.
 *
 * An entry holds (megaflow, id, generation). The megaflow may have been
 * removed and freed since the entry was made: emc_lookup checks the
 * generation in the megaflow cache's id-indexed slot (memory that is never
 * freed) before it dereferences the pointer, then the dead flag; see mflow.h
 * for why a matching generation proves the pointer is still valid.
 *
 * Insertion is probabilistic (OVS emc-insert-inv-prob): with 100,000 active
 * flows and 8,192 entries, inserting on every megaflow hit would only thrash.
 * 1 in insert_inv_prob megaflow hits is inserted (1 = always, 0 = never).
 *
 * Thread-safety: an emc belongs to one PMD thread; nothing else touches it.
 * The control thread asks the PMD to call emc_flush or change settings.
 */
#ifndef XVIO_EMC_H
#define XVIO_EMC_H

#include <stdbool.h>
#include <stdint.h>

#include "mflow.h"
#include "parse.h"

#define EMC_WAYS		4
#define EMC_DEFAULT_ENTRIES	8192
#define EMC_DEFAULT_INV_PROB	100

struct emc_set {
	uint32_t hash[EMC_WAYS];
	uint32_t id[EMC_WAYS];
	uint32_t gen[EMC_WAYS];
	uint32_t pad[EMC_WAYS];
} __attribute__((aligned(CACHE_LINE)));

struct emc {
	struct emc_set *sets;
	struct flow_key *keys;			/* [set * EMC_WAYS + way] */
	struct mflow_entry **flows;		/* NULL = empty */
	struct mflow *mf;
	uint32_t set_mask;
	uint32_t pmd;				/* index into mf's stats */
	bool enabled;
	uint32_t insert_thresh;			/* insert if rand <= thresh */
	uint32_t rng;
	uint64_t n_hits, n_inserts;
};

/* n_entries 0 = EMC_DEFAULT_ENTRIES, else rounded up to a power of two
 * (at least EMC_WAYS). 0 or -ENOMEM. */
int emc_init(struct emc *emc, struct mflow *mf, uint32_t pmd, uint32_t n_entries);
void emc_destroy(struct emc *emc);
void emc_flush(struct emc *emc);
void emc_set_enabled(struct emc *emc, bool on);
void emc_set_insert_inv_prob(struct emc *emc, uint32_t inv_prob);

/* The hash emc_lookup and emc_insert want: of the whole key. */
static inline uint32_t emc_hash(const struct flow_key *key)
{
	/* One whole-key hash in the tree: the parser's, vectorised. */
	return flow_key_hash(key);
}

static inline bool emc_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	const cls_u64 *x = cls_words(a), *y = cls_words(b);
	uint64_t diff = 0;

	for (size_t i = 0; i < FLOW_U64S; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* PMD: the live megaflow cached for key, or NULL. */
static inline struct mflow_entry *emc_lookup(struct emc *emc, const struct flow_key *key,
					     uint32_t hash)
{
	const struct emc_set *s;
	uint32_t set;

	if (!emc->enabled)
		return NULL;
	set = hash & emc->set_mask;
	s = &emc->sets[set];
	for (uint32_t w = 0; w < EMC_WAYS; w++) {
		uint32_t i = set * EMC_WAYS + w;
		struct mflow_entry *e;

		if (s->hash[w] != hash || !emc->flows[i])
			continue;
		/* Generation first: only a matching one makes e safe to touch. */
		if (mflow_gen(emc->mf, emc->pmd, s->id[w]) != s->gen[w])
			continue;
		if (!emc_key_eq(&emc->keys[i], key))
			continue;
		e = emc->flows[i];
		if (unlikely(__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE)))
			continue;
		emc->n_hits++;
		return e;
	}
	return NULL;
}

/* PMD: remember key -> e, e just found by mflow_lookup (or installed) in
 * this loop iteration. Probabilistic unless insert_inv_prob is 1. */
void emc_insert(struct emc *emc, const struct flow_key *key, uint32_t hash,
		struct mflow_entry *e);

#endif
