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
 * Adaptive bypass: with far more active flows than entries (100,000 flows,
 * 8,192 entries) nearly every lookup misses, and a miss costs the whole-key
 * hash and a cache miss on a random set before the megaflow lookup that
 * decides anyway. The PMD reports each burst's lookups and hits; when fewer
 * than 1 in EMC_MIN_HIT_DIV lookups of a window of EMC_WINDOW hit, it goes
 * into bypass: EMC_SKIP_BURSTS bursts go straight to the megaflow cache (no
 * hash, no probe, no insert), then one burst samples (looks up, inserts),
 * and so on until a window of sampled lookups hits often enough again. Off with adaptive=false
 * (the differential test runs both ways). The PMD also leaves the EMC out
 * while the megaflow cache has one subtable (dp_proc.c, classify).
 *
 * Thread-safety: an emc belongs to one PMD thread; nothing else touches it.
 * The control thread asks the PMD to call emc_flush or change settings.
 */
#ifndef XVIO_EMC_H
#define XVIO_EMC_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "mflow.h"
#include "parse.h"

#define EMC_WAYS		4
#define EMC_DEFAULT_ENTRIES	8192
#define EMC_DEFAULT_INV_PROB	100
#define EMC_WINDOW		4096	/* lookups per bypass decision */
#define EMC_MIN_HIT_DIV		8	/* bypass below 1 hit in 8 lookups */
#define EMC_SKIP_BURSTS		63	/* bypassed bursts per sampled one */

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
	bool adaptive;				/* bypass when it does not pay */
	bool bypass;				/* sampling 1 burst in EMC_SKIP_BURSTS + 1 */
	uint32_t skip;				/* bursts left to bypass */
	uint32_t win_lookups, win_hits;
	uint64_t n_hits, n_inserts;
};

/* n_entries 0 = EMC_DEFAULT_ENTRIES, else rounded up to a power of two
 * (at least EMC_WAYS). 0 or -ENOMEM. */
int emc_init(struct emc *emc, struct mflow *mf, uint32_t pmd, uint32_t n_entries);
void emc_destroy(struct emc *emc);
void emc_flush(struct emc *emc);
void emc_set_enabled(struct emc *emc, bool on);
void emc_set_insert_inv_prob(struct emc *emc, uint32_t inv_prob);

/* Whether the EMC can ever hold key: not an IPv6 tunnel's, unique by
 * construction (flow.h, tun_v6), which would only miss and evict others. */
static inline bool emc_can_hold(const struct flow_key *key)
{
	return likely(!key->tun_v6);
}

/* The hash emc_lookup and emc_insert want: of the whole key. */
static inline uint32_t emc_hash(const struct flow_key *key)
{
	/* One whole-key hash in the tree: the parser's, vectorised. */
	return flow_key_hash(key);
}

/* Whole-key equality (the hashed lines: see flow.h) without branches per
 * word. Spelled out in vectors: at -O2 the compilers leave the plain loop
 * scalar (40 xor/or pairs). */
static inline bool emc_key_eq(const struct flow_key *a, const struct flow_key *b)
{
#if defined(__AVX512F__)
	__m512i d = _mm512_setzero_si512();

#pragma GCC unroll 8
	for (size_t i = 0; i < FLOW_HASHED_BYTES / 64; i++)
		d = _mm512_or_si512(d, _mm512_xor_si512(
			_mm512_loadu_si512((const char *)a + 64 * i),
			_mm512_loadu_si512((const char *)b + 64 * i)));
	return _mm512_test_epi64_mask(d, d) == 0;
#elif defined(__AVX2__)
	__m256i d = _mm256_setzero_si256();

#pragma GCC unroll 16
	for (size_t i = 0; i < FLOW_HASHED_BYTES / 32; i++)
		d = _mm256_or_si256(d, _mm256_xor_si256(
			_mm256_loadu_si256((const __m256i *)(const void *)((const char *)a + 32 * i)),
			_mm256_loadu_si256((const __m256i *)(const void *)((const char *)b + 32 * i))));
	return _mm256_testz_si256(d, d);
#else
	const cls_u64 *x = cls_words(a), *y = cls_words(b);
	uint64_t diff = 0;

	for (size_t i = 0; i < FLOW_HASHED_BYTES / 8; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
#endif
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

/* PMD, per burst: whether this burst looks the EMC up at all. */
static inline bool emc_burst_active(struct emc *emc)
{
	if (!emc->enabled)
		return false;
	if (likely(emc->skip == 0))
		return true;
	emc->skip--;
	return false;
}

/* PMD, after a burst that used the EMC: its lookups and hits. */
static inline void emc_burst_done(struct emc *emc, uint32_t lookups, uint32_t hits)
{
	if (!emc->adaptive)
		return;
	emc->win_lookups += lookups;
	emc->win_hits += hits;
	if (emc->win_lookups >= EMC_WINDOW) {
		emc->bypass = emc->win_hits * EMC_MIN_HIT_DIV < emc->win_lookups;
		emc->win_lookups = emc->win_hits = 0;
	}
	if (emc->bypass)
		emc->skip = EMC_SKIP_BURSTS;
}

/* PMD: remember key -> e, e just found by mflow_lookup (or installed) in
 * this loop iteration. Probabilistic unless insert_inv_prob is 1. */
void emc_insert(struct emc *emc, const struct flow_key *key, uint32_t hash,
		struct mflow_entry *e);

#endif
