/*
 * emc: per-PMD exact-match cache. See emc.h.
 */
#include <stdlib.h>
#include <string.h>

#include "emc.h"

int emc_init(struct emc *emc, struct mflow *mf, uint32_t pmd, uint32_t n_entries)
{
	uint32_t n = EMC_WAYS;

	memset(emc, 0, sizeof(*emc));
	if (n_entries == 0)
		n_entries = EMC_DEFAULT_ENTRIES;
	while (n < n_entries && n < (1u << 24))
		n <<= 1;
	emc->sets = aligned_alloc(CACHE_LINE, n / EMC_WAYS * sizeof(struct emc_set));
	emc->keys = aligned_alloc(CACHE_LINE, n * sizeof(struct flow_key));
	emc->flows = calloc(n, sizeof(*emc->flows));
	if (!emc->sets || !emc->keys || !emc->flows) {
		emc_destroy(emc);
		return -ENOMEM;
	}
	memset(emc->sets, 0, n / EMC_WAYS * sizeof(struct emc_set));
	memset(emc->keys, 0, n * sizeof(struct flow_key));
	emc->set_mask = n / EMC_WAYS - 1;
	emc->mf = mf;
	emc->pmd = pmd;
	emc->enabled = true;
	emc->adaptive = true;
	emc->rng = 0x9e3779b9u ^ (pmd * 0x85ebca6bu);
	emc_set_insert_inv_prob(emc, EMC_DEFAULT_INV_PROB);
	return 0;
}

void emc_destroy(struct emc *emc)
{
	free(emc->sets);
	free(emc->keys);
	free(emc->flows);
	memset(emc, 0, sizeof(*emc));
}

void emc_flush(struct emc *emc)
{
	memset(emc->flows, 0, (size_t)(emc->set_mask + 1) * EMC_WAYS * sizeof(*emc->flows));
}

void emc_set_enabled(struct emc *emc, bool on)
{
	emc->enabled = on;
	emc->skip = emc->win_lookups = emc->win_hits = 0;
	emc->bypass = false;
	if (!on)
		emc_flush(emc);
}

void emc_set_insert_inv_prob(struct emc *emc, uint32_t inv_prob)
{
	/* 0: never insert (lookups still run). */
	emc->insert_thresh = inv_prob == 0 ? 0 : UINT32_MAX / inv_prob;
}

static inline uint32_t rng_next(struct emc *emc)
{
	/* xorshift32: cheap and good enough to pick victims and sample. */
	uint32_t x = emc->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	emc->rng = x;
	return x;
}

void emc_insert(struct emc *emc, const struct flow_key *key, uint32_t hash,
		struct mflow_entry *e)
{
	struct emc_set *s;
	uint32_t set, gen, victim = EMC_WAYS;

	if (!emc->enabled || emc->insert_thresh == 0 || !emc_can_hold(key))
		return;
	/* The set's line was read by the lookup that missed, earlier in the
	 * same burst, so it is likely still in cache. A
	 * free or stale way is taken always, so a few hundred flows are all
	 * cached within their first packets; only evicting a live entry is
	 * left to chance (insert_inv_prob), which is what keeps 100,000 flows
	 * from thrashing 8,192 entries. */
	set = hash & emc->set_mask;
	s = &emc->sets[set];
	for (uint32_t w = 0; w < EMC_WAYS; w++) {
		uint32_t i = set * EMC_WAYS + w;

		if (!emc->flows[i] || mflow_gen(emc->mf, emc->pmd, s->id[w]) != s->gen[w]) {
			if (victim == EMC_WAYS)
				victim = w;	/* free or stale */
			continue;
		}
		if (s->hash[w] == hash && emc_key_eq(&emc->keys[i], key)) {
			victim = w;		/* same key: refresh */
			break;
		}
	}
	if (victim == EMC_WAYS) {
		if (emc->insert_thresh != UINT32_MAX && rng_next(emc) > emc->insert_thresh)
			return;
		victim = rng_next(emc) % EMC_WAYS;
	}
	/* Acquire the generation, then check dead: mflow_remove sets dead
	 * before bumping the generation, so a generation read here that is
	 * already the bumped one comes with dead visible, and a stale entry
	 * can never be cached under a valid generation. */
	gen = __atomic_load_n(&emc->mf->stats[emc->pmd][e->id].gen, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&e->dead, __ATOMIC_ACQUIRE))
		return;

	uint32_t i = set * EMC_WAYS + victim;

	emc->keys[i] = *key;
	emc->flows[i] = e;
	s->hash[victim] = hash;
	s->id[victim] = e->id;
	s->gen[victim] = gen;
	emc->n_inserts++;
}
