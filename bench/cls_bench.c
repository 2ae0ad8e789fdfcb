/*
 * cls_bench: micro-benchmarks of the classifier, the megaflow cache and the
 * EMC. Single thread, no RCU readers registered (lookups cost the same).
 *
 *   ninja -C build bench-cls  (or: ninja -C build src/dp/cls_bench)
 *   build/src/dp/cls_bench
 *
 * Lookups run over a precomputed array of packet keys (4,096 or as many as
 * flows), so the figures include the cache misses of touching the keys.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp/cls.h"
#include "dp/emc.h"
#include "dp/mflow.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct brule {
	struct cls_rule cr;
};

static volatile uintptr_t sink;

/* n_sub distinct masks over a 5-tuple plus in_port/regs; rule i goes to
 * subtable i % n_sub. */
static void make_mask(struct flow_key *m, uint32_t s)
{
	memset(m, 0, sizeof(*m));
	m->dl_type = 0xffff;
	m->nw_dst = htonl(~0u << (s % 17));		/* /32 .. /16 */
	if (s & 1)
		m->nw_proto = 0xff;
	if (s & 2)
		m->tp_dst = 0xffff;
	if (s & 4)
		m->in_port = 0xffff;
	m->regs[0] = (uint32_t)(s / 17 / 8 + 1) << 8;	/* keeps masks distinct */
}

static void make_pkt(struct flow_key *k, uint32_t i)
{
	memset(k, 0, sizeof(*k));
	k->in_port = 1;
	k->dl_type = htons(0x0800);
	k->nw_src = htonl(0x0a000001);
	k->nw_dst = htonl(0xc0000000 | i);
	k->nw_proto = 6;
	k->tp_src = htons(1234);
	k->tp_dst = htons(80);
}

static double bench_lookup(const struct cls *c, const struct flow_key *keys, uint32_t n_keys,
			   uint32_t iters, bool wc, bool first)
{
	struct flow_key w;
	uint64_t t0 = now_ns();

	for (uint32_t it = 0; it < iters; it++) {
		const struct flow_key *k = &keys[it & (n_keys - 1)];

		if (first) {
			sink += (uintptr_t)cls_lookup_first(c, k);
		} else if (wc) {
			memset(&w, 0, sizeof(w));
			sink += (uintptr_t)cls_lookup(c, k, &w);
		} else {
			sink += (uintptr_t)cls_lookup(c, k, NULL);
		}
	}
	return (double)(now_ns() - t0) / iters;
}

/* n_rules rules spread over n_sub subtables, all at priority = subtable
 * index (so a packet matching only the lowest subtable probes them all). */
static void scenario_subtables(uint32_t n_sub, uint32_t n_rules)
{
	struct brule *rules = aligned_alloc(64, sizeof(*rules) * n_rules);
	struct flow_key *keys = aligned_alloc(64, sizeof(*keys) * 4096);
	struct cls c;
	double hit, worst, wc;

	cls_init(&c);
	cls_defer(&c);
	for (uint32_t i = 0; i < n_rules; i++) {
		struct flow_key pkt;
		uint32_t s = i % n_sub;

		memset(&rules[i], 0, sizeof(rules[i]));
		make_mask(&rules[i].cr.match.mask, s);
		make_pkt(&pkt, i);
		for (size_t w = 0; w < FLOW_U64S; w++)
			((cls_u64 *)&rules[i].cr.match.key)[w] =
				cls_words(&pkt)[w] & cls_words(&rules[i].cr.match.mask)[w];
		rules[i].cr.priority = (int32_t)(n_sub - s);
		if (cls_insert(&c, &rules[i].cr))
			abort();
	}
	cls_publish(&c);
	/* Packets hitting random rules. */
	for (uint32_t i = 0; i < 4096; i++)
		make_pkt(&keys[i], (uint32_t)(rnd() % n_rules));
	hit = bench_lookup(&c, keys, 4096, 4000000, false, false);
	wc = bench_lookup(&c, keys, 4096, 4000000, true, false);
	/* Packets matching nothing: every subtable probed. */
	for (uint32_t i = 0; i < 4096; i++) {
		make_pkt(&keys[i], (uint32_t)rnd());
		keys[i].dl_type = htons(0x86dd);
	}
	worst = bench_lookup(&c, keys, 4096, 2000000, false, false);
	printf("cls %3u subtables %6u rules: hit %6.1f ns  hit+wc %6.1f ns  miss(all probed) %7.1f ns  (%.2f ns/subtable)\n",
	       cls_n_subtables(&c), n_rules, hit, wc, worst, worst / cls_n_subtables(&c));
	cls_destroy(&c);
	free(rules);
	free(keys);
}

/* OpenFlow-like table: n_rules of n_masks mixed masks and priorities. */
static void scenario_mixed(uint32_t n_rules, uint32_t n_masks)
{
	struct brule *rules = aligned_alloc(64, sizeof(*rules) * n_rules);
	struct flow_key *masks = aligned_alloc(64, sizeof(*masks) * n_masks);
	struct flow_key *keys = aligned_alloc(64, sizeof(*keys) * 4096);
	uint64_t t0, t1;
	uint32_t n = 0;
	struct cls c;

	for (uint32_t m = 0; m < n_masks; m++) {
		struct flow_key *mk = &masks[m];

		memset(mk, 0, sizeof(*mk));
		mk->dl_type = 0xffff;
		mk->nw_src = htonl(~0u << (rnd() % 25));
		mk->nw_dst = htonl(~0u << (rnd() % 25));
		if (rnd() & 1)
			mk->nw_proto = 0xff;
		if (rnd() & 1)
			mk->tp_dst = (uint16_t)(rnd() & 1 ? 0xffff : rnd());
		if (rnd() & 1)
			mk->in_port = 0xffff;
		if (rnd() % 4 == 0)
			mk->metadata = rnd();
	}
	for (uint32_t i = 0; i < n_rules; i++) {
		struct flow_key pkt;
		const struct flow_key *mk = &masks[rnd() % n_masks];

		make_pkt(&pkt, (uint32_t)rnd());
		pkt.nw_src = (uint32_t)rnd();
		pkt.tp_dst = (uint16_t)rnd();
		pkt.metadata = rnd();
		memset(&rules[i], 0, sizeof(rules[i]));
		rules[i].cr.match.mask = *mk;
		for (size_t w = 0; w < FLOW_U64S; w++)
			((cls_u64 *)&rules[i].cr.match.key)[w] = cls_words(&pkt)[w] & cls_words(mk)[w];
		rules[i].cr.priority = (int32_t)(rnd() % 1000);
	}
	cls_init(&c);
	t0 = now_ns();
	cls_defer(&c);
	for (uint32_t i = 0; i < n_rules; i++) {
		if (cls_find_exact(&c, &rules[i].cr.match, rules[i].cr.priority))
			continue;
		if (cls_insert(&c, &rules[i].cr))
			abort();
		n++;
	}
	cls_publish(&c);
	t1 = now_ns();
	/* Packets built from random rules' keys, so most hit something. */
	for (uint32_t i = 0; i < 4096; i++) {
		const struct cls_rule *r = &rules[rnd() % n_rules].cr;

		keys[i] = r->match.key;
		keys[i].nw_src |= (uint32_t)rnd() & ~r->match.mask.nw_src;
	}
	printf("cls mixed %6u rules %4u subtables: insert %.0f ms (%.2f Mrules/s); lookup %.1f ns, +wc %.1f ns\n",
	       n, cls_n_subtables(&c), (double)(t1 - t0) / 1e6, n / ((double)(t1 - t0) / 1e3),
	       bench_lookup(&c, keys, 4096, 1000000, false, false),
	       bench_lookup(&c, keys, 4096, 1000000, true, false));
	cls_destroy(&c);
	free(rules);
	free(masks);
	free(keys);
}

/* Megaflows: n_flows 5-tuple-ish megaflows in n_sub masks; then the EMC. */
static void scenario_mflow(uint32_t n_flows, uint32_t n_sub)
{
	uint32_t n_keys = 1;
	struct flow_key *keys;
	struct mflow mf;
	struct emc emc;
	uint64_t t0;
	double ml, eh, ehr, fp;

	while (n_keys < n_flows)
		n_keys <<= 1;
	keys = aligned_alloc(64, sizeof(*keys) * n_keys);
	mflow_init(&mf, 1, n_flows + 16);
	for (uint32_t i = 0; i < n_flows; i++) {
		struct flow_match m;
		bool existed;
		uint64_t act = i;

		make_mask(&m.mask, i % n_sub);
		m.mask.nw_dst = 0xffffffff;
		make_pkt(&keys[i], i);
		for (size_t w = 0; w < FLOW_U64S; w++)
			((cls_u64 *)&m.key)[w] = cls_words(&keys[i])[w] & cls_words(&m.mask)[w];
		if (!mflow_insert(&mf, &m, &act, sizeof(act), 0, 0, &existed))
			abort();
	}
	for (uint32_t i = n_flows; i < n_keys; i++)
		keys[i] = keys[i % n_flows];
	/* Shuffle so consecutive lookups touch unrelated entries. */
	for (uint32_t i = n_keys - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd() % (i + 1));
		struct flow_key t = keys[i];

		keys[i] = keys[j];
		keys[j] = t;
	}
	t0 = now_ns();
	for (uint32_t it = 0; it < 4000000; it++)
		sink += (uintptr_t)mflow_lookup(&mf, &keys[it & (n_keys - 1)]);
	ml = (double)(now_ns() - t0) / 4000000;

	emc_init(&emc, &mf, 0, 8192);
	emc_set_insert_inv_prob(&emc, 1);
	/* EMC-hit cost: 1,024 flows (they fit), looked up repeatedly. */
	for (uint32_t i = 0; i < 1024; i++) {
		struct mflow_entry *e = mflow_lookup(&mf, &keys[i]);

		emc_insert(&emc, &keys[i], emc_hash(&keys[i]), e);
	}
	t0 = now_ns();
	for (uint32_t it = 0; it < 4000000; it++) {
		const struct flow_key *k = &keys[it & 1023];
		struct mflow_entry *e = emc_lookup(&emc, k, emc_hash(k));

		sink += (uintptr_t)e;
	}
	eh = (double)(now_ns() - t0) / 4000000;
	ehr = 100.0 * (double)emc.n_hits / 4000000;
	emc.n_hits = 0;
	/* Fast path: all keys, EMC (insert 1/100) then megaflow, hash and
	 * stats included. */
	emc_set_insert_inv_prob(&emc, 100);
	t0 = now_ns();
	for (uint32_t it = 0; it < 4000000; it++) {
		const struct flow_key *k = &keys[it & (n_keys - 1)];
		uint32_t h = emc_hash(k);
		struct mflow_entry *e = emc_lookup(&emc, k, h);

		if (!e) {
			e = mflow_lookup(&mf, k);
			emc_insert(&emc, k, h, e);
		}
		mflow_account(&mf, 0, e, 1, 64, it);
		sink += (uintptr_t)mflow_actions(e);
	}
	fp = (double)(now_ns() - t0) / 4000000;
	printf("mflow %6u megaflows %3u subtables: mflow lookup %.1f ns; EMC hit+hash %.1f ns (%.0f%% hits); EMC->mflow path %.1f ns (%.0f%% EMC hits)\n",
	       n_flows, cls_n_subtables(&mf.cls), ml, eh, ehr, fp,
	       100.0 * (double)emc.n_hits / 4000000);
	emc_destroy(&emc);
	mflow_destroy(&mf);
	free(keys);
}

int main(void)
{
	struct flow_key k;
	uint64_t t0;

	scenario_subtables(1, 1000);
	scenario_subtables(10, 1000);
	scenario_subtables(100, 1000);
	scenario_mixed(1000, 20);
	scenario_mixed(100000, 100);
	scenario_mixed(100000, 1000);
	scenario_mflow(1000, 1);
	scenario_mflow(1000, 10);
	scenario_mflow(100000, 1);
	scenario_mflow(100000, 10);

	make_pkt(&k, 1);
	t0 = now_ns();
	for (uint32_t i = 0; i < 10000000; i++) {
		k.nw_dst = i;
		sink += emc_hash(&k);
	}
	printf("emc_hash: %.1f ns\n", (double)(now_ns() - t0) / 10000000);
	return 0;
}
