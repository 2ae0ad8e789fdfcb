/* Unit tests for the classifier (cls), the megaflow cache (mflow) and the
 * exact-match cache (emc): basic behaviour, differential tests against a
 * linear-scan model on random rules and packets (answers and megaflow
 * wildcards), the fast path (EMC on and off, megaflows) against the model, and
 * RCU concurrency (reader threads racing inserts, removes, sweeps). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "dp/cls.h"
#include "dp/emc.h"
#include "dp/mflow.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- random keys and masks ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint32_t prefix32(unsigned len)
{
	return len == 0 ? 0 : htonl(~0u << (32 - len));
}

static void prefix_bytes(uint8_t *m, unsigned n_bytes, unsigned len)
{
	for (unsigned i = 0; i < n_bytes; i++, len = len > 8 ? len - 8 : 0)
		m[i] = len >= 8 ? 0xff : (uint8_t)(0xff00 >> len);
}

/* Packets from a small universe, so rules match often and overlap. */
static void rand_key(struct flow_key *k)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x0806, 0x8100 };
	static const uint16_t ports[] = { 80, 443, 22, 53, 1000, 1001 };
	static const uint8_t protos[] = { 6, 17, 1, 58 };

	memset(k, 0, sizeof(*k));
	k->in_port = 1 + rndn(4);
	k->metadata = rndn(3);
	k->regs[0] = rndn(16);
	k->regs[5] = rndn(4);
	k->tun_id = rndn(3) ? 0 : rndn(4);
	k->ct_state = (uint8_t)(rndn(2) ? CS_TRACKED | (1u << rndn(3)) : 0);
	k->ct_zone = (uint16_t)rndn(3);
	k->dl_dst[0] = 0x02;
	k->dl_dst[5] = (uint8_t)rndn(4);
	k->dl_src[5] = (uint8_t)rndn(4);
	k->dl_type = htons(types[rndn(4)]);
	k->vlan_tci = rndn(2) ? 0 : htons(FLOW_VLAN_PRESENT | (1 + rndn(3)));
	k->nw_src = htonl(0x0a000000 | (rndn(4) << 16) | (rndn(4) << 8) | rndn(4));
	k->nw_dst = htonl(0xc0a80000 | (rndn(4) << 8) | rndn(8));
	k->ipv6_src[0] = 0x20;
	k->ipv6_src[15] = (uint8_t)rndn(4);
	k->ipv6_dst[1] = (uint8_t)rndn(3);
	k->nw_proto = protos[rndn(4)];
	k->nw_tos = (uint8_t)(rndn(4) << 2);
	k->nw_ttl = (uint8_t)(63 + rndn(2));
	k->nw_frag = (uint8_t)(rndn(8) ? 0 : FLOW_FRAG_ANY);
	k->tp_src = htons(ports[rndn(6)]);
	k->tp_dst = htons(ports[rndn(6)]);
	k->tcp_flags = htons((uint16_t)rndn(64));
}

/* Clear the padding so a perturbed key stays canonical. */
static void clear_pads(struct flow_key *k)
{
	k->tun_v6 = 0;		/* no field covers it */
	k->pad_ct = 0;
	k->pad_l2 = 0;
	k->pad_l4 = 0;
	memset(k->pad_end, 0, sizeof(k->pad_end));
	memset((char *)k + offsetof(struct flow_key, pad_end) + sizeof(k->pad_end), 0,
	       sizeof(*k) - offsetof(struct flow_key, pad_end) - sizeof(k->pad_end));
	/* Holes the compiler may leave are covered by the fixed layout: none. */
}

static void rand_mask(struct flow_key *m)
{
	memset(m, 0, sizeof(*m));
	if (rndn(3) == 0)
		m->in_port = 0xffff;
	if (rndn(4) == 0)
		m->metadata = rndn(2) ? ~0ull : rnd() & 3;
	if (rndn(4) == 0)
		m->regs[0] = rndn(2) ? ~0u : (uint32_t)rnd() & 0xf;
	if (rndn(8) == 0)
		m->regs[5] = ~0u;
	if (rndn(8) == 0)
		m->tun_id = ~0ull;
	if (rndn(6) == 0)
		m->ct_state = (uint8_t)rnd();
	if (rndn(8) == 0)
		m->ct_zone = 0xffff;
	if (rndn(3) == 0) {
		if (rndn(2))
			memset(m->dl_dst, 0xff, 6);
		else
			for (int i = 0; i < 6; i++)
				m->dl_dst[i] = (uint8_t)rnd();
	}
	if (rndn(6) == 0)
		memset(m->dl_src, 0xff, 6);
	if (rndn(2) == 0)
		m->dl_type = 0xffff;
	if (rndn(5) == 0)
		m->vlan_tci = rndn(2) ? 0xffff : htons(FLOW_VLAN_PRESENT);
	if (rndn(2) == 0)
		m->nw_src = prefix32(rndn(33));
	if (rndn(2) == 0)
		m->nw_dst = rndn(4) ? prefix32(rndn(33)) : (uint32_t)rnd();
	if (rndn(6) == 0)
		prefix_bytes(m->ipv6_src, 16, rndn(129));
	if (rndn(8) == 0)
		prefix_bytes(m->ipv6_dst, 16, rndn(129));
	if (rndn(3) == 0)
		m->nw_proto = 0xff;
	if (rndn(8) == 0)
		m->nw_tos = 0xfc;
	if (rndn(10) == 0)
		m->nw_ttl = 0xff;
	if (rndn(8) == 0)
		m->nw_frag = (uint8_t)(rnd() & 3);
	if (rndn(4) == 0)
		m->tp_src = rndn(2) ? 0xffff : (uint16_t)rnd();
	if (rndn(3) == 0)
		m->tp_dst = rndn(2) ? 0xffff : (uint16_t)rnd();
	if (rndn(8) == 0)
		m->tcp_flags = htons((uint16_t)(rnd() & 0xfff));
}

static void mask_key(struct flow_key *dst, const struct flow_key *k, const struct flow_key *m)
{
	cls_u64 *d = (cls_u64 *)(void *)dst;
	const cls_u64 *kk = cls_words(k), *mm = cls_words(m);

	for (size_t i = 0; i < FLOW_U64S; i++)
		d[i] = kk[i] & mm[i];
}

/* k2 agrees with k on the bits of wc; elsewhere random (another packet, or
 * k with random bits flipped). */
static void perturb(struct flow_key *k2, const struct flow_key *k, const struct flow_key *wc)
{
	cls_u64 *d = (cls_u64 *)(void *)k2;
	const cls_u64 *kk = cls_words(k), *w = cls_words(wc);

	if (rndn(2)) {
		struct flow_key other;

		rand_key(&other);
		for (size_t i = 0; i < FLOW_U64S; i++)
			d[i] = (kk[i] & w[i]) | (cls_words(&other)[i] & ~w[i]);
	} else {
		*k2 = *k;
		for (int n = 1 + rndn(4); n > 0; n--) {
			size_t i = rndn(FLOW_U64S);

			d[i] ^= (rnd() & rnd()) & ~w[i];
		}
		clear_pads(k2);
	}
}

/* ---- the model: a plain array of rules, linear scan ---- */

struct trule {
	struct cls_rule cr;
	uint32_t id;
	bool live;
};

#define MAX_RULES 4096

struct model {
	struct trule *r[MAX_RULES];
	uint32_t n;
};

static struct trule *trule_new(const struct flow_key *mask, const struct flow_key *pkt,
			       int32_t pri, uint32_t id)
{
	struct trule *t = aligned_alloc(CACHE_LINE, sizeof(*t));

	assert_non_null(t);
	memset(t, 0, sizeof(*t));
	t->cr.match.mask = *mask;
	mask_key(&t->cr.match.key, pkt, mask);
	t->cr.priority = pri;
	t->id = id;
	return t;
}

/* The highest priority among the rules matching k, INT32_MIN if none. */
static int64_t model_best(const struct model *m, const struct flow_key *k)
{
	int64_t best = INT64_MIN;

	for (uint32_t i = 0; i < m->n; i++)
		if (m->r[i]->cr.priority > best && flow_match_key(&m->r[i]->cr.match, k))
			best = m->r[i]->cr.priority;
	return best;
}

static void check_answer(const struct model *m, const struct flow_key *k, const struct cls_rule *r)
{
	int64_t best = model_best(m, k);

	if (best == INT64_MIN) {
		assert_null(r);
		return;
	}
	assert_non_null(r);
	assert_true(flow_match_key(&r->match, k));
	assert_int_equal(r->priority, best);
	assert_true(container_of(r, struct trule, cr)->live);
}

static void model_remove_at(struct model *m, uint32_t i)
{
	m->r[i] = m->r[--m->n];
}

/* ---- basic ---- */

static void test_basic(void **state)
{
	struct flow_key mask, pkt, wc;
	struct trule *a, *b, *c2;
	struct cls c;

	(void)state;
	assert_int_equal(cls_init(&c), 0);
	assert_null(cls_lookup(&c, &pkt, NULL));

	memset(&mask, 0, sizeof(mask));
	memset(&pkt, 0, sizeof(pkt));
	mask.nw_dst = prefix32(24);
	pkt.nw_dst = htonl(0x0a000105);
	a = trule_new(&mask, &pkt, 10, 1);
	b = trule_new(&mask, &pkt, 20, 2);	/* same match, higher priority */
	assert_int_equal(cls_insert(&c, &a->cr), 0);
	assert_int_equal(cls_insert(&c, &b->cr), 0);
	assert_int_equal(cls_count(&c), 2);
	assert_int_equal(cls_n_subtables(&c), 1);
	assert_ptr_equal(cls_lookup(&c, &pkt, NULL), &b->cr);
	assert_ptr_equal(cls_find_exact(&c, &a->cr.match, 10), &a->cr);
	assert_ptr_equal(cls_find_exact(&c, &a->cr.match, 20), &b->cr);
	assert_null(cls_find_exact(&c, &a->cr.match, 15));

	/* A key bit outside the mask is refused. */
	c2 = trule_new(&mask, &pkt, 5, 3);
	c2->cr.match.key.nw_src = 1;
	assert_int_equal(cls_insert(&c, &c2->cr), -EINVAL);

	/* wc gets the probed subtable's mask, hit or miss. */
	memset(&wc, 0, sizeof(wc));
	pkt.nw_dst = htonl(0x0a000107);
	assert_ptr_equal(cls_lookup(&c, &pkt, &wc), &b->cr);
	assert_int_equal(wc.nw_dst, prefix32(24));
	/* Unless prefix tracking skips it: 0x0b leaves the trie (0x0a) at
	 * bit 7, so only the first 8 bits matter. */
	memset(&wc, 0, sizeof(wc));
	pkt.nw_dst = htonl(0x0b000000);
	assert_null(cls_lookup(&c, &pkt, &wc));
	assert_int_equal(wc.nw_dst, prefix32(8));

	cls_remove(&c, &b->cr);
	pkt.nw_dst = htonl(0x0a0001ff);
	assert_ptr_equal(cls_lookup(&c, &pkt, NULL), &a->cr);
	cls_remove(&c, &a->cr);
	assert_null(cls_lookup(&c, &pkt, NULL));
	assert_int_equal(cls_count(&c), 0);
	assert_int_equal(cls_n_subtables(&c), 0);
	cls_gc_free(cls_gc_detach(&c));
	cls_destroy(&c);
	free(a);
	free(b);
	free(c2);
}

/* Early termination: a high-priority hit skips lower subtables, and their
 * masks stay out of wc. */
static void test_early_termination(void **state)
{
	struct flow_key m1, m2, pkt, wc;
	struct trule *hi, *lo;
	struct cls c;

	(void)state;
	assert_int_equal(cls_init(&c), 0);
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	memset(&pkt, 0, sizeof(pkt));
	m1.in_port = 0xffff;
	m2.tp_dst = 0xffff;
	pkt.in_port = 1;
	pkt.tp_dst = htons(80);
	hi = trule_new(&m1, &pkt, 100, 1);
	lo = trule_new(&m2, &pkt, 50, 2);
	assert_int_equal(cls_insert(&c, &lo->cr), 0);
	assert_int_equal(cls_insert(&c, &hi->cr), 0);
	memset(&wc, 0, sizeof(wc));
	assert_ptr_equal(cls_lookup(&c, &pkt, &wc), &hi->cr);
	assert_int_equal(wc.in_port, 0xffff);
	assert_int_equal(wc.tp_dst, 0);
	/* A miss in the high subtable probes the low one too. */
	pkt.in_port = 2;
	memset(&wc, 0, sizeof(wc));
	assert_ptr_equal(cls_lookup(&c, &pkt, &wc), &lo->cr);
	assert_int_equal(wc.in_port, 0xffff);
	assert_int_equal(wc.tp_dst, 0xffff);
	cls_remove(&c, &hi->cr);
	cls_remove(&c, &lo->cr);
	cls_destroy(&c);
	free(hi);
	free(lo);
}

/* ---- differential: cls against the model ---- */

#define N_MASKS 48

static void diff_run(uint64_t seed, uint32_t target_rules, uint32_t n_lookups, bool batches)
{
	static struct flow_key masks[N_MASKS];
	struct model *m = calloc(1, sizeof(*m));
	struct trule *removed[MAX_RULES];
	uint32_t n_removed = 0, next_id = 0;
	size_t n_hits = 0, n_perturb = 0, n_batch = 0;
	struct cls c;

	assert_non_null(m);
	rng_state = seed;
	for (int i = 0; i < N_MASKS; i++)
		rand_mask(&masks[i]);
	/* A few wide masks (10 words and more), for the batch lookup's
	 * general case beside its unrolled ones. */
	for (int i = 1; i < 4; i++) {
		for (int j = 0; j < 3; j++) {
			struct flow_key more;

			rand_mask(&more);
			for (size_t w = 0; w < FLOW_U64S; w++)
				flow_u64_mut(&masks[i])[w] |= flow_u64(&more)[w];
		}
	}
	memset(&masks[0], 0, sizeof(masks[0]));	/* a catch-all subtable */
	assert_int_equal(cls_init(&c), 0);

	for (uint32_t step = 0; step < n_lookups; step++) {
		/* Churn: grow toward target, then replace rules. */
		uint32_t n_ops = step == 0 ? target_rules / 2 : (step % 8 == 0 ? 1 + rndn(3) : 0);
		bool batch = batches && n_ops > 1;

		if (batch)
			cls_defer(&c);
		for (uint32_t op = 0; op < n_ops; op++) {
			if (m->n < target_rules && (m->n < target_rules / 2 || rndn(2))) {
				struct flow_key pkt;
				const struct flow_key *mask = &masks[rndn(N_MASKS)];
				struct trule *t;

				rand_key(&pkt);
				/* The catch-all only at low priority, like a table-miss rule. */
				t = trule_new(mask, &pkt, mask == &masks[0] ? 0 : (int32_t)rndn(64) - 8,
					      next_id++);
				if (cls_find_exact(&c, &t->cr.match, t->cr.priority)) {
					free(t);	/* same match + priority: caller refuses */
					continue;
				}
				assert_int_equal(cls_insert(&c, &t->cr), 0);
				t->live = true;
				m->r[m->n++] = t;
			} else if (m->n) {
				uint32_t i = rndn(m->n);
				struct trule *t = m->r[i];

				assert_ptr_equal(cls_find_exact(&c, &t->cr.match, t->cr.priority), &t->cr);
				cls_remove(&c, &t->cr);
				t->live = false;
				model_remove_at(m, i);
				removed[n_removed++] = t;
			}
		}
		if (batch)
			assert_int_equal(cls_publish(&c), 0);
		assert_int_equal(cls_count(&c), m->n);
		if (n_removed > MAX_RULES / 2 || step + 1 == n_lookups) {
			/* No readers here: the grace period is trivially over. */
			cls_gc_free(cls_gc_detach(&c));
			while (n_removed)
				free(removed[--n_removed]);
		}

		struct flow_key k, k2, wc;
		const struct cls_rule *r;

		rand_key(&k);
		memset(&wc, 0, sizeof(wc));
		r = cls_lookup(&c, &k, &wc);
		check_answer(m, &k, r);
		n_hits += r != NULL;
		/* The lookup without wc, and the first-hit variant's consistency. */
		assert_ptr_equal(cls_lookup(&c, &k, NULL), r);
		if (r)
			assert_non_null(cls_lookup_first(&c, &k));
		/* The batch variant answers each key as the single one does
		 * (same subtable order, same probe), batch sizes 1..32 with
		 * repeated keys. */
		if (step % 16 == 0) {
			struct flow_key bk[32];
			const struct flow_key *bp[32];
			const struct cls_rule *br[32];
			uint32_t nb = 1 + rndn(32);

			for (uint32_t b = 0; b < nb; b++) {
				if (b && rndn(4) == 0)
					bk[b] = bk[rndn(b)];
				else if (rndn(2))
					bk[b] = k;
				else
					rand_key(&bk[b]);
				bp[b] = &bk[b];
			}
			cls_lookup_first_batch(&c, bp, nb, br);
			for (uint32_t b = 0; b < nb; b++)
				assert_ptr_equal(br[b], cls_lookup_first(&c, &bk[b]));
			n_batch += nb;
		}
		/* Megaflow property: same answer for any key agreeing on wc. */
		for (int p = 0; p < 2; p++) {
			perturb(&k2, &k, &wc);
			assert_ptr_equal(cls_lookup(&c, &k2, NULL), r);
			check_answer(m, &k2, r);
			n_perturb++;
		}
	}
	/* Iteration sees every rule once. */
	{
		struct cls_cursor cur;
		struct cls_rule *r;
		size_t n = 0;

		CLS_FOR_EACH(r, &cur, &c) {
			assert_true(container_of(r, struct trule, cr)->live);
			n++;
		}
		assert_int_equal(n, m->n);
	}
	print_message("diff seed %llu: %u lookups (%zu hit), %zu perturbed, %zu batched, %u rules, "
		      "%u subtables\n", (unsigned long long)seed, n_lookups, n_hits, n_perturb,
		      n_batch, m->n, cls_n_subtables(&c));
	assert_true(n_hits > n_lookups / 4);
	cls_defer(&c);
	while (m->n) {
		cls_remove(&c, &m->r[m->n - 1]->cr);
		free(m->r[--m->n]);
	}
	assert_int_equal(cls_publish(&c), 0);
	assert_int_equal(cls_n_subtables(&c), 0);
	cls_destroy(&c);
	free(m);
}

static void test_diff_cls(void **state)
{
	(void)state;
	diff_run(1, 600, 60000, false);
	diff_run(2, 1500, 30000, true);
	diff_run(3, 40, 20000, false);	/* few rules: many misses, empty subtables */
}

/* ---- the fast path: EMC -> megaflows -> classifier, against the model ---- */

struct fastpath {
	struct cls *c;
	struct mflow *mf;
	struct emc emc;
	uint64_t n_emc, n_mflow, n_upcall;
};

/* One packet through the caches; returns the rule decided (the "actions"
 * of a megaflow are the rule pointer). */
static const struct cls_rule *fp_process(struct fastpath *fp, const struct flow_key *k, uint64_t now)
{
	uint32_t h = emc_hash(k);
	struct mflow_entry *e = emc_lookup(&fp->emc, k, h);
	const struct cls_rule *r;

	if (e) {
		fp->n_emc++;
	} else if ((e = mflow_lookup(fp->mf, k)) != NULL) {
		fp->n_mflow++;
		emc_insert(&fp->emc, k, h, e);
	} else {
		struct flow_match m;
		bool existed;

		fp->n_upcall++;
		memset(&m.mask, 0, sizeof(m.mask));
		r = cls_lookup(fp->c, k, &m.mask);
		mask_key(&m.key, k, &m.mask);
		e = mflow_insert(fp->mf, &m, &r, sizeof(r), 0, now, &existed);
		if (!e)
			return r;	/* cache full: still forwarded */
		emc_insert(&fp->emc, k, h, e);
	}
	mflow_account(fp->mf, fp->emc.pmd, e, 1, 64, now);
	memcpy(&r, mflow_actions(e)->data, sizeof(r));
	return r;
}

static void test_diff_fastpath(void **state)
{
	static struct flow_key masks[N_MASKS];
	struct model *m = calloc(1, sizeof(*m));
	struct fastpath fp[2];
	struct mflow mf;
	struct cls c;
	uint64_t now = 1;

	(void)state;
	assert_non_null(m);
	rng_state = 42;
	for (int i = 0; i < N_MASKS; i++)
		rand_mask(&masks[i]);
	assert_int_equal(cls_init(&c), 0);
	assert_int_equal(mflow_init(&mf, 2, 50000), 0);
	for (int i = 0; i < 2; i++) {
		fp[i] = (struct fastpath){ .c = &c, .mf = &mf };
		assert_int_equal(emc_init(&fp[i].emc, &mf, (uint32_t)i, 1024), 0);
	}
	emc_set_enabled(&fp[1].emc, false);
	emc_set_insert_inv_prob(&fp[0].emc, 1);

	for (uint32_t step = 0; step < 100000; step++, now += 1000) {
		struct flow_key k;
		const struct cls_rule *r0, *r1;

		/* A table change every 5,000 packets; the crude revalidation
		 * here is a flush, so no megaflow survives a change. */
		if (step % 5000 == 0) {
			for (int n = 0; n < 300; n++) {
				if (m->n > 400 && rndn(2)) {
					uint32_t i = rndn(m->n);

					cls_remove(&c, &m->r[i]->cr);
					free(m->r[i]);	/* no readers */
					model_remove_at(m, i);
				} else {
					struct flow_key pkt;
					struct trule *t;

					rand_key(&pkt);
					t = trule_new(&masks[rndn(N_MASKS)], &pkt, (int32_t)rndn(32), 0);
					if (cls_find_exact(&c, &t->cr.match, t->cr.priority)) {
						free(t);
						continue;
					}
					assert_int_equal(cls_insert(&c, &t->cr), 0);
					t->live = true;
					m->r[m->n++] = t;
				}
			}
			mflow_flush(&mf);
			mflow_gc(&mf);
			cls_gc_free(cls_gc_detach(&c));
		}
		/* Repeat packets so that the EMC and megaflows get hits. */
		if (rndn(4) != 0)
			rng_state = 1000 + rndn(500);
		rand_key(&k);
		r0 = fp_process(&fp[0], &k, now);
		r1 = fp_process(&fp[1], &k, now);
		check_answer(m, &k, r0);
		assert_ptr_equal(r0, r1);
		rng_state = step * 7919 + 13;
	}
	print_message("fastpath: emc-on %llu emc / %llu megaflow / %llu upcall; emc-off %llu / %llu / %llu; %zu megaflows\n",
		      (unsigned long long)fp[0].n_emc, (unsigned long long)fp[0].n_mflow,
		      (unsigned long long)fp[0].n_upcall, (unsigned long long)fp[1].n_emc,
		      (unsigned long long)fp[1].n_mflow, (unsigned long long)fp[1].n_upcall,
		      mflow_count(&mf));
	assert_true(fp[0].n_emc > 10000);
	assert_int_equal(fp[1].n_emc, 0);
	assert_true(fp[1].n_mflow > 10000);

	/* Stats, sweep and expiry. */
	{
		struct mflow_entry *e;
		struct mflow_sum sum;
		struct flow_key k;
		size_t n;

		rand_key(&k);
		fp_process(&fp[1], &k, now);
		e = mflow_lookup(&mf, &k);
		assert_non_null(e);
		mflow_get_stats(&mf, e, &sum);
		assert_true(sum.packets >= 1);
		assert_int_equal(sum.bytes, sum.packets * 64);
		assert_int_equal(sum.used_ns, now);
		/* Every entry but e was last used at now - 1000 or before. */
		n = mflow_count(&mf);
		assert_int_equal(mflow_sweep(&mf, now + 500, 1000), n - 1);
		assert_int_equal(mflow_count(&mf), 1);
		assert_ptr_equal(mflow_lookup(&mf, &k), e);
		mflow_gc(&mf);
		n = mflow_count(&mf);
		assert_int_equal(mflow_sweep(&mf, now + 1000000, 1000), n);
		assert_int_equal(mflow_count(&mf), 0);
		mflow_gc(&mf);
	}

	for (int i = 0; i < 2; i++)
		emc_destroy(&fp[i].emc);
	mflow_destroy(&mf);
	while (m->n) {
		cls_remove(&c, &m->r[m->n - 1]->cr);
		free(m->r[--m->n]);
	}
	cls_destroy(&c);
	free(m);
}

/* The same match installed twice returns the first entry; an EMC entry of
 * a removed megaflow misses; update swaps actions. */
static void test_mflow_basic(void **state)
{
	struct flow_match mt;
	struct mflow_entry *e, *e2;
	struct mflow mf;
	struct emc emc;
	bool existed;
	uint32_t a = 7, b = 9, h;

	(void)state;
	assert_int_equal(mflow_init(&mf, 1, 4), 0);
	assert_int_equal(emc_init(&emc, &mf, 0, 64), 0);
	emc_set_insert_inv_prob(&emc, 1);
	memset(&mt, 0, sizeof(mt));
	mt.mask.in_port = 0xffff;
	mt.key.in_port = 3;
	e = mflow_insert(&mf, &mt, &a, sizeof(a), 1, 1, &existed);
	assert_non_null(e);
	assert_false(existed);
	e2 = mflow_insert(&mf, &mt, &b, sizeof(b), 1, 1, &existed);
	assert_ptr_equal(e, e2);
	assert_true(existed);
	assert_int_equal(mflow_actions(e)->len, sizeof(a));
	assert_memory_equal(mflow_actions(e)->data, &a, sizeof(a));

	h = emc_hash(&mt.key);
	emc_insert(&emc, &mt.key, h, e);
	assert_ptr_equal(emc_lookup(&emc, &mt.key, h), e);
	assert_int_equal(mflow_update(&mf, e, &b, sizeof(b), 2), 0);
	assert_memory_equal(mflow_actions(e)->data, &b, sizeof(b));
	assert_int_equal(e->version, 2);

	mflow_remove(&mf, e);
	assert_null(mflow_lookup(&mf, &mt.key));
	assert_null(emc_lookup(&emc, &mt.key, h));
	mflow_gc(&mf);
	/* The id is recycled; the stale EMC entry must still miss. */
	e2 = mflow_insert(&mf, &mt, &a, sizeof(a), 3, 1, &existed);
	assert_non_null(e2);
	assert_int_equal(e2->id, 0);
	assert_null(emc_lookup(&emc, &mt.key, h));

	/* Capacity. */
	for (uint32_t i = 0; i < 3; i++) {
		mt.key.in_port = 10 + i;
		assert_non_null(mflow_insert(&mf, &mt, &a, sizeof(a), 3, 1, &existed));
	}
	mt.key.in_port = 99;
	assert_null(mflow_insert(&mf, &mt, &a, sizeof(a), 3, 1, &existed));
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(mflow_flush(&mf), 4);
	mflow_gc(&mf);
	emc_destroy(&emc);
	mflow_destroy(&mf);
}

/* Insertion at the default 1-in-100: a key whose set has a free way is
 * cached at once (a few hundred flows warm up in their first packets);
 * evicting a live entry stays a 1-in-100 chance. */
static void test_emc_insert_free_ways(void **state)
{
	struct flow_match mt;
	struct mflow_entry *e;
	struct mflow mf;
	struct emc emc;
	struct flow_key k;
	bool existed;
	uint32_t a = 7, cached = 0, evicted = 0;

	(void)state;
	assert_int_equal(mflow_init(&mf, 1, 4), 0);
	assert_int_equal(emc_init(&emc, &mf, 0, 1024), 0);	/* 256 sets */
	memset(&mt, 0, sizeof(mt));
	mt.mask.in_port = 0xffff;
	mt.key.in_port = 3;
	e = mflow_insert(&mf, &mt, &a, sizeof(a), 1, 1, &existed);
	assert_non_null(e);
	memset(&k, 0, sizeof(k));
	k.in_port = 3;
	/* 64 keys into 256 sets of 4 ways: each finds a free way. */
	for (uint32_t i = 0; i < 64; i++) {
		k.nw_src = i;
		emc_insert(&emc, &k, emc_hash(&k), e);
	}
	for (uint32_t i = 0; i < 64; i++) {
		k.nw_src = i;
		cached += emc_lookup(&emc, &k, emc_hash(&k)) == e;
	}
	assert_int_equal(cached, 64);
	/* Fill set 0 (hashes w << 8), then offer it 1,000 new keys: ~10 may
	 * evict. */
	emc_flush(&emc);
	for (uint32_t w = 0; w < EMC_WAYS; w++) {
		k.nw_src = 500000 + w;
		emc_insert(&emc, &k, w << 8, e);
		assert_ptr_equal(emc_lookup(&emc, &k, w << 8), e);
	}
	for (uint32_t i = 0; i < 1000; i++) {
		uint64_t before = emc.n_inserts;

		k.nw_src = 1000000 + i;
		emc_insert(&emc, &k, (4 + i) << 8, e);
		evicted += emc.n_inserts != before;
	}
	assert_true(evicted >= 1 && evicted <= 40);
	emc_destroy(&emc);
	mflow_remove(&mf, e);
	mflow_gc(&mf);
	mflow_destroy(&mf);
}

/* ---- concurrency ---- */

#define N_STABLE 64

struct conc {
	struct cls c;
	struct mflow mf;
	struct trule *stable[N_STABLE];
	volatile bool stop;
	uint64_t n_lookups[2];
	uint64_t n_wrong[2];
};

static void stable_key(struct flow_key *k, uint32_t i, uint64_t salt)
{
	uint64_t save = rng_state;

	rng_state = salt;
	rand_key(k);
	rng_state = save;
	k->dl_type = htons(0x0800);
	k->nw_dst = htonl(0xac100000 | i);	/* outside the churn universe */
}

static void *cls_reader(void *arg)
{
	struct conc *cc = arg;
	uint64_t n = 0, wrong = 0, salt = 77;

	rcu_register_thread();
	while (!__atomic_load_n(&cc->stop, __ATOMIC_RELAXED)) {
		for (int j = 0; j < 64; j++, n++) {
			uint32_t i = (uint32_t)(salt % N_STABLE);
			struct flow_key k, wc;
			const struct cls_rule *r;

			stable_key(&k, i, salt++);
			memset(&wc, 0, sizeof(wc));
			r = cls_lookup(&cc->c, &k, &wc);
			if (r != &cc->stable[i]->cr)
				wrong++;
			/* Churn packets: whatever matches must really match. */
			k.nw_dst = htonl(0xc0a80000 | (uint32_t)(salt & 0x3ff));
			r = cls_lookup(&cc->c, &k, NULL);
			if (r && !flow_match_key(&r->match, &k))
				wrong++;
		}
		/* The batch lookup under the same churn: a stable key always
		 * finds a rule, and whatever it finds must match. */
		{
			struct flow_key bk[32];
			const struct flow_key *bp[32];
			const struct cls_rule *br[32];

			for (int b = 0; b < 32; b++, n++) {
				stable_key(&bk[b], (uint32_t)(salt % N_STABLE), salt);
				salt++;
				if (b & 1)
					bk[b].nw_dst = htonl(0xc0a80000 | (uint32_t)(salt & 0x3ff));
				bp[b] = &bk[b];
			}
			cls_lookup_first_batch(&cc->c, bp, 32, br);
			for (int b = 0; b < 32; b++)
				if ((br[b] && !flow_match_key(&br[b]->match, &bk[b])) ||
				    (!(b & 1) && !br[b]))
					wrong++;
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	cc->n_lookups[0] = n;
	cc->n_wrong[0] = wrong;
	return NULL;
}

static void test_concurrent_cls(void **state)
{
	struct conc *cc = calloc(1, sizeof(*cc));
	struct trule *churn[512] = { 0 }, *dead[4096];
	uint32_t n_dead = 0;
	pthread_t th;
	struct flow_key mask;

	(void)state;
	rng_state = 5;
	assert_int_equal(cls_init(&cc->c), 0);
	memset(&mask, 0, sizeof(mask));
	mask.dl_type = 0xffff;
	mask.nw_dst = 0xffffffff;
	for (uint32_t i = 0; i < N_STABLE; i++) {
		struct flow_key k;

		stable_key(&k, i, 1);
		cc->stable[i] = trule_new(&mask, &k, 1000, i);
		assert_int_equal(cls_insert(&cc->c, &cc->stable[i]->cr), 0);
	}
	assert_int_equal(pthread_create(&th, NULL, cls_reader, cc), 0);
	for (uint32_t round = 0; round < 150000; round++) {
		uint32_t i = rndn(512);
		struct flow_key m, k;

		if (churn[i]) {
			cls_remove(&cc->c, &churn[i]->cr);
			dead[n_dead++] = churn[i];
			churn[i] = NULL;
		} else {
			rand_mask(&m);
			rand_key(&k);
			churn[i] = trule_new(&m, &k, (int32_t)rndn(1000), 0);
			if (cls_find_exact(&cc->c, &churn[i]->cr.match, churn[i]->cr.priority) ||
			    cls_insert(&cc->c, &churn[i]->cr)) {
				free(churn[i]);
				churn[i] = NULL;
			}
		}
		if (n_dead == 4096 || cc->c.n_gc_bytes > (1u << 20)) {
			struct cls_gc *g = cls_gc_detach(&cc->c);

			synchronize_rcu();
			cls_gc_free(g);
			while (n_dead)
				free(dead[--n_dead]);
		}
	}
	__atomic_store_n(&cc->stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	print_message("concurrent cls: %llu reader lookups, %llu wrong\n",
		      (unsigned long long)cc->n_lookups[0], (unsigned long long)cc->n_wrong[0]);
	assert_true(cc->n_lookups[0] > 0);
	assert_int_equal(cc->n_wrong[0], 0);

	cls_defer(&cc->c);
	for (uint32_t i = 0; i < 512; i++)
		if (churn[i]) {
			cls_remove(&cc->c, &churn[i]->cr);
			free(churn[i]);
		}
	for (uint32_t i = 0; i < N_STABLE; i++) {
		cls_remove(&cc->c, &cc->stable[i]->cr);
		free(cc->stable[i]);
	}
	cls_publish(&cc->c);
	while (n_dead)
		free(dead[--n_dead]);
	cls_destroy(&cc->c);
	free(cc);
}

struct pmd_arg {
	struct conc *cc;
	uint32_t idx;
};

/* Two PMDs: EMC -> megaflow -> classifier (stable table) with installs
 * racing each other and the control thread's sweeps and flushes. */
static void *mflow_pmd(void *arg_)
{
	struct pmd_arg *arg = arg_;
	struct conc *cc = arg->cc;
	struct fastpath fp = { .c = &cc->c, .mf = &cc->mf };
	uint64_t n = 0, wrong = 0, salt = 1000 * (arg->idx + 1);

	assert_int_equal(emc_init(&fp.emc, &cc->mf, arg->idx, 256), 0);
	emc_set_insert_inv_prob(&fp.emc, 2);
	rcu_register_thread();
	while (!__atomic_load_n(&cc->stop, __ATOMIC_RELAXED)) {
		for (int j = 0; j < 32; j++, n++) {
			uint32_t i = (uint32_t)(salt % N_STABLE);
			struct flow_key k;

			stable_key(&k, i, salt++ % 700);
			if (fp_process(&fp, &k, n + 1) != &cc->stable[i]->cr)
				wrong++;
		}
		__atomic_store_n(&cc->n_lookups[arg->idx], n, __ATOMIC_RELAXED);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	emc_destroy(&fp.emc);
	cc->n_lookups[arg->idx] = n;
	cc->n_wrong[arg->idx] = wrong;
	return NULL;
}

static void test_concurrent_mflow(void **state)
{
	struct conc *cc = calloc(1, sizeof(*cc));
	struct pmd_arg args[2];
	pthread_t th[2];
	struct flow_key mask;

	(void)state;
	assert_int_equal(cls_init(&cc->c), 0);
	assert_int_equal(mflow_init(&cc->mf, 2, 0), 0);
	memset(&mask, 0, sizeof(mask));
	mask.dl_type = 0xffff;
	mask.nw_dst = 0xffffffff;
	for (uint32_t i = 0; i < N_STABLE; i++) {
		struct flow_key k;

		stable_key(&k, i, 1);
		cc->stable[i] = trule_new(&mask, &k, 1000, i);
		assert_int_equal(cls_insert(&cc->c, &cc->stable[i]->cr), 0);
	}
	for (uint32_t i = 0; i < 2; i++) {
		args[i] = (struct pmd_arg){ cc, i };
		assert_int_equal(pthread_create(&th[i], NULL, mflow_pmd, &args[i]), 0);
	}
	/* Until both PMDs have done real work and the control thread enough
	 * rounds of flush/sweep + grace period + free. */
	for (int round = 0; round < 300 ||
	     __atomic_load_n(&cc->n_lookups[0], __ATOMIC_RELAXED) < 300000 ||
	     __atomic_load_n(&cc->n_lookups[1], __ATOMIC_RELAXED) < 300000; round++) {
		if (round % 3 == 0)
			mflow_flush(&cc->mf);
		else
			mflow_sweep(&cc->mf, 1ull << 40, 1);
		mflow_gc(&cc->mf);
	}
	__atomic_store_n(&cc->stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	print_message("concurrent mflow: %llu + %llu packets, %llu + %llu wrong, %llu install races\n",
		      (unsigned long long)cc->n_lookups[0], (unsigned long long)cc->n_lookups[1],
		      (unsigned long long)cc->n_wrong[0], (unsigned long long)cc->n_wrong[1],
		      (unsigned long long)cc->mf.n_insert_races);
	assert_int_equal(cc->n_wrong[0] + cc->n_wrong[1], 0);
	assert_true(cc->n_lookups[0] > 0 && cc->n_lookups[1] > 0);
	mflow_destroy(&cc->mf);
	for (uint32_t i = 0; i < N_STABLE; i++) {
		cls_remove(&cc->c, &cc->stable[i]->cr);
		free(cc->stable[i]);
	}
	cls_destroy(&cc->c);
	free(cc);
}

/* 100,000 rules of mixed masks inserted as a batch, well under 2 s. */
static void test_bulk_insert(void **state)
{
	static struct flow_key masks[200];
	struct trule **rules = calloc(100000, sizeof(*rules));
	uint64_t t0, t1;
	struct cls c;
	size_t n = 0;

	(void)state;
	rng_state = 9;
	for (int i = 0; i < 200; i++)
		rand_mask(&masks[i]);
	assert_int_equal(cls_init(&c), 0);
	for (uint32_t i = 0; i < 100000; i++) {
		struct flow_key k;

		memset(&k, 0, sizeof(k));
		k.nw_src = (uint32_t)rnd();
		k.nw_dst = (uint32_t)rnd();
		k.tp_dst = (uint16_t)rnd();
		k.dl_dst[2] = (uint8_t)rnd();
		k.regs[0] = (uint32_t)rnd();
		k.in_port = i;
		k.dl_type = htons(0x0800);
		rules[i] = trule_new(&masks[rndn(200)], &k, (int32_t)rndn(1000), i);
	}
	t0 = mono_ns();
	cls_defer(&c);
	for (uint32_t i = 0; i < 100000; i++) {
		if (cls_find_exact(&c, &rules[i]->cr.match, rules[i]->cr.priority)) {
			free(rules[i]);
			rules[i] = NULL;
			continue;
		}
		assert_int_equal(cls_insert(&c, &rules[i]->cr), 0);
		n++;
	}
	assert_int_equal(cls_publish(&c), 0);
	t1 = mono_ns();
	print_message("bulk: %zu rules, %u subtables, inserted in %.1f ms\n", n,
		      cls_n_subtables(&c), (double)(t1 - t0) / 1e6);
	/* A guard against insertion going quadratic (which would take minutes),
	 * not the product bar: that is add-flows end to end, bench/addflows.sh.
	 * Here 200 random masks (200 subtables, random trie prefixes) take about
	 * 1 s on a quiet 2.3 GHz core, so a tighter bound only measures load. */
#ifndef __SANITIZE_ADDRESS__
	assert_true(t1 - t0 < 5000000000ull);
#endif
	cls_gc_free(cls_gc_detach(&c));
	cls_defer(&c);
	for (size_t i = 0; i < 100000; i++)
		if (rules[i])
			cls_remove(&c, &rules[i]->cr);
	assert_int_equal(cls_publish(&c), 0);
	assert_int_equal(cls_count(&c), 0);
	cls_destroy(&c);
	for (uint32_t i = 0; i < 100000; i++)
		free(rules[i]);
	free(rules);
}

/* Prefix tracking: a security-group-like table of many /32 and /24 nw_dst
 * drops above a catch-all. For a packet outside all those prefixes, wc must
 * hold only the nw_dst bits down to where the address leaves the trie (one
 * past the longest common prefix with any rule), not all 32; and every packet
 * agreeing on wc must still get the catch-all. */
static unsigned cpl32(uint32_t a, uint32_t b)
{
	return a == b ? 32 : (unsigned)__builtin_clz(a ^ b);
}

static void test_prefix_tracking(void **state)
{
	enum { N32 = 600, N24 = 300 };
	struct trule *rules[N32 + N24 + 1];
	uint32_t pfx[N32 + N24];
	unsigned plen[N32 + N24];
	struct flow_key mask, pkt, wc;
	unsigned max_bits = 0, n_pkts = 0, sum_bits = 0;
	struct cls c;

	(void)state;
	rng_state = 77;
	assert_int_equal(cls_init(&c), 0);
	cls_defer(&c);
	for (uint32_t i = 0; i < N32 + N24; i++) {
		memset(&mask, 0, sizeof(mask));
		memset(&pkt, 0, sizeof(pkt));
		mask.dl_type = 0xffff;
		pkt.dl_type = htons(0x0800);
		if (i < N32) {
			plen[i] = 32;
			pfx[i] = 0x0a000000 | rndn(1u << 16);		/* 10.0/16 */
		} else {
			plen[i] = 24;
			pfx[i] = 0xac100000 | (rndn(1u << 12) << 8);	/* 172.16/12 */
		}
		mask.nw_dst = prefix32(plen[i]);
		pkt.nw_dst = htonl(pfx[i]);
		rules[i] = trule_new(&mask, &pkt, 100, i);
		assert_int_equal(cls_insert(&c, &rules[i]->cr), 0);
	}
	memset(&mask, 0, sizeof(mask));
	memset(&pkt, 0, sizeof(pkt));
	rules[N32 + N24] = trule_new(&mask, &pkt, 0, N32 + N24);
	assert_int_equal(cls_insert(&c, &rules[N32 + N24]->cr), 0);
	assert_int_equal(cls_publish(&c), 0);

	for (uint32_t t = 0; t < 20000; t++) {
		/* Outside, near (10.x, 172.16-31.x) and far (192.168.x). */
		static const uint32_t base[] = { 0x0a000000, 0xac100000, 0xc0a80000, 0x0b000000 };
		uint32_t a = base[t % 4] | (uint32_t)rndn(1u << 20);
		unsigned need = 0;
		bool inside = false;

		for (uint32_t i = 0; i < N32 + N24; i++) {
			unsigned l = cpl32(a, pfx[i]);

			if (l >= plen[i])
				inside = true;
			if (l > need)
				need = l;
		}
		memset(&pkt, 0, sizeof(pkt));
		pkt.dl_type = htons(0x0800);
		pkt.nw_dst = htonl(a);
		memset(&wc, 0, sizeof(wc));
		const struct cls_rule *r = cls_lookup(&c, &pkt, &wc);

		if (inside) {
			assert_int_equal(r->priority, 100);
			continue;
		}
		n_pkts++;
		assert_ptr_equal(r, &rules[N32 + N24]->cr);
		unsigned bits = (unsigned)__builtin_popcount(wc.nw_dst);

		assert_int_equal(wc.nw_dst, prefix32(bits));
		assert_true(bits <= need + 1);
		if (bits > max_bits)
			max_bits = bits;
		sum_bits += bits;
		/* Soundness: flip bits outside wc. */
		for (int k = 0; k < 4; k++) {
			struct flow_key p2 = pkt;

			p2.nw_dst = (pkt.nw_dst & wc.nw_dst) | ((uint32_t)rnd() & ~wc.nw_dst);
			assert_ptr_equal(cls_lookup(&c, &p2, NULL), &rules[N32 + N24]->cr);
		}
	}
	assert_true(n_pkts > 10000);
	/* Without tracking every one would be 32. */
	assert_true(sum_bits < n_pkts * 20);
	print_message("prefix tracking: %u packets outside %u prefixes, nw_dst bits in wc: "
		      "mean %.1f, max %u\n", n_pkts, N32 + N24, (double)sum_bits / n_pkts, max_bits);

	/* Removing the rules prunes the tries; the catch-all then needs no
	 * nw_dst bits at all. */
	cls_defer(&c);
	for (uint32_t i = 0; i < N32 + N24; i++)
		cls_remove(&c, &rules[i]->cr);
	assert_int_equal(cls_publish(&c), 0);
	memset(&wc, 0, sizeof(wc));
	assert_ptr_equal(cls_lookup(&c, &pkt, &wc), &rules[N32 + N24]->cr);
	assert_int_equal(wc.nw_dst, 0);
	cls_remove(&c, &rules[N32 + N24]->cr);
	cls_gc_free(cls_gc_detach(&c));
	cls_destroy(&c);
	for (uint32_t i = 0; i <= N32 + N24; i++)
		free(rules[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_early_termination),
		cmocka_unit_test(test_diff_cls),
		cmocka_unit_test(test_mflow_basic),
		cmocka_unit_test(test_emc_insert_free_ways),
		cmocka_unit_test(test_diff_fastpath),
		cmocka_unit_test(test_concurrent_cls),
		cmocka_unit_test(test_concurrent_mflow),
		cmocka_unit_test(test_bulk_insert),
		cmocka_unit_test(test_prefix_tracking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
