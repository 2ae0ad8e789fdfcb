/* Unit tests for the LPM tables (src/l3/lpm.h): fixed cases, and a
 * differential test of IPv4 and IPv6 against a linear-scan model over random
 * tables with random inserts and deletes (many prefix lengths, overlapping
 * prefixes, group collapse and reuse), checked on well over 100k lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "l3/lpm.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the model: a list scanned end to end ---- */

struct mroute {
	uint8_t addr[16];
	unsigned depth;
	uint32_t value;
};

struct model {
	unsigned bytes;
	size_t n;
	struct mroute r[8192];
};

static bool covers(const uint8_t *p, unsigned depth, const uint8_t *a)
{
	unsigned full = depth / 8, rest = depth % 8;

	if (memcmp(p, a, full))
		return false;
	return !rest || !((p[full] ^ a[full]) & (uint8_t)(0xff00u >> rest));
}

static void clear_tail(uint8_t *a, unsigned bytes, unsigned depth)
{
	for (unsigned b = depth; b < bytes * 8; b++)
		a[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
}

/* Longest route covering a with depth < below; -1 if none. */
static ssize_t model_best(const struct model *m, const uint8_t *a, unsigned below)
{
	ssize_t best = -1;

	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].depth < below && covers(m->r[i].addr, m->r[i].depth, a) &&
		    (best < 0 || m->r[i].depth > m->r[best].depth))
			best = (ssize_t)i;
	return best;
}

static ssize_t model_find(const struct model *m, const uint8_t *a, unsigned depth)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].depth == depth && !memcmp(m->r[i].addr, a, m->bytes))
			return (ssize_t)i;
	return -1;
}

static int64_t lookup(const struct lpm *t, const uint8_t *a)
{
	if (t->addr_bytes == 4) {
		uint32_t ip = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

		return lpm4_lookup(t, ip);
	}
	return lpm6_lookup(t, a);
}

static void model_add(struct model *m, struct lpm *t, const uint8_t *a, unsigned depth,
		      uint32_t value)
{
	ssize_t i = model_find(m, a, depth);

	assert_int_equal(lpm_add(t, a, depth, value), 0);
	if (i < 0) {
		i = (ssize_t)m->n++;
		memcpy(m->r[i].addr, a, 16);
		m->r[i].depth = depth;
	}
	m->r[i].value = value;
}

static void model_del(struct model *m, struct lpm *t, size_t i)
{
	struct mroute r = m->r[i];
	ssize_t p;

	m->r[i] = m->r[--m->n];
	p = model_best(m, r.addr, r.depth);
	assert_int_equal(lpm_del(t, r.addr, r.depth, p >= 0, p >= 0 ? m->r[p].depth : 0,
				 p >= 0 ? m->r[p].value : 0), 0);
}

/* A random address near the table's prefixes, so lookups hit the deep
 * entries and the edges of ranges as well as empty space. */
static void rand_addr(const struct model *m, uint8_t *a)
{
	for (unsigned i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	if (m->n && rnd() % 4) {
		const struct mroute *r = &m->r[rnd() % m->n];
		unsigned keep = r->depth + (unsigned)(rnd() % 3);

		for (unsigned b = 0; b < keep && b < m->bytes * 8; b++) {
			uint8_t bit = (uint8_t)(0x80u >> (b % 8));

			a[b / 8] = (uint8_t)((a[b / 8] & ~bit) | (r->addr[b / 8] & bit));
		}
	}
}

/* Prefixes come from a few clusters so they overlap and nest. */
static void rand_prefix(const struct model *m, const uint8_t bases[8][16], uint8_t *a,
			unsigned *depth)
{
	unsigned bits = m->bytes * 8, d;
	uint64_t c = rnd() % 10;

	memcpy(a, bases[rnd() % 8], 16);
	for (unsigned i = 0; i < 16; i++)
		if (rnd() % 2)
			a[i] ^= (uint8_t)(rnd() >> (rnd() % 8));
	if (c < 2)	/* anything, /0 included; short ones (millions of entries) rarely */
		d = rnd() % 16 ? 8 + (unsigned)(rnd() % (bits - 7)) : (unsigned)(rnd() % 9);
	else if (bits == 32)
		d = 16 + (unsigned)(rnd() % 17);		/* 16..32: both levels */
	else
		d = 16 + (unsigned)(rnd() % 113);		/* 16..128 */
	/* Share long stretches with the cluster base, to nest. */
	if (rnd() % 2)
		for (unsigned b = 0; b < d && b < bits - 4; b++)
			if (b < d - (unsigned)(rnd() % 9)) {
				uint8_t bit = (uint8_t)(0x80u >> (b % 8));

				a[b / 8] = (uint8_t)((a[b / 8] & ~bit) | (bases[0][b / 8] & bit));
			}
	clear_tail(a, m->bytes, d);
	*depth = d;
}

static void check_all(const struct model *m, const struct lpm *t, unsigned n, unsigned long *checked)
{
	uint8_t a[16];

	for (unsigned i = 0; i < n; i++) {
		ssize_t best;
		int64_t got;

		rand_addr(m, a);
		best = model_best(m, a, 1000);
		got = lookup(t, a);
		if (got != (best < 0 ? -1 : (int64_t)m->r[best].value))
			fail_msg("lookup disagrees: got %lld, model %lld (route /%u), after %lu checks",
				 (long long)got, best < 0 ? -1LL : (long long)m->r[best].value,
				 best < 0 ? 0 : m->r[best].depth, *checked);
		(*checked)++;
	}
}

static void differential(unsigned bytes, uint64_t seed)
{
	static struct model m;
	uint8_t bases[8][16], a[16];
	unsigned long checked = 0;
	struct lpm *t = lpm_create(bytes, 1u << 14);

	assert_non_null(t);
	rng_state = seed;
	memset(&m, 0, sizeof(m));
	m.bytes = bytes;
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 16; j++)
			bases[i][j] = (uint8_t)rnd();
	for (int round = 0; round < 40; round++) {
		unsigned n_ops = 50 + (unsigned)(rnd() % 150);

		for (unsigned op = 0; op < n_ops; op++) {
			unsigned d;

			if (m.n && (rnd() % 100 < (m.n > 1500 ? 70u : 30u))) {
				model_del(&m, t, rnd() % m.n);
			} else if (m.n < ARRAY_SIZE(m.r)) {
				rand_prefix(&m, bases, a, &d);
				model_add(&m, t, a, d, (uint32_t)(rnd() % (LPM_MAX_VAL + 1)));
			}
		}
		check_all(&m, t, 3000, &checked);
		if (round % 3 == 0)
			lpm_reclaim(t);
	}
	/* Empty it: every group must collapse back to the root. */
	while (m.n)
		model_del(&m, t, rnd() % m.n);
	check_all(&m, t, 2000, &checked);
	assert_int_equal(t->n_live, 0);
	assert_true(checked >= 100000);
	lpm_destroy(t);
}

static void test_diff_v4(void **state)
{
	(void)state;
	differential(4, 1);
	differential(4, 2);
}

static void test_diff_v6(void **state)
{
	(void)state;
	differential(16, 3);
	differential(16, 4);
}

static void test_basic_v4(void **state)
{
	struct lpm *t = lpm_create(4, 64);
	uint8_t p8[4] = { 10, 0, 0, 0 }, p24[4] = { 10, 1, 2, 0 }, p32[4] = { 10, 1, 2, 3 };
	uint8_t zero[4] = { 0 };

	(void)state;
	assert_non_null(t);
	assert_int_equal(lpm4_lookup(t, 0x0a010203), -1);
	assert_int_equal(lpm_add(t, p8, 8, 1), 0);
	assert_int_equal(lpm_add(t, p24, 24, 2), 0);
	assert_int_equal(lpm_add(t, p32, 32, 3), 0);
	assert_int_equal(lpm4_lookup(t, 0x0a010203), 3);
	assert_int_equal(lpm4_lookup(t, 0x0a010204), 2);
	assert_int_equal(lpm4_lookup(t, 0x0a010304), 1);
	assert_int_equal(lpm4_lookup(t, 0x0b000000), -1);
	assert_int_equal(lpm4_lookup_depth(t, 0x0a010203), 32);
	assert_int_equal(t->n_live, 1);
	/* Deleting the /24 under the /32 puts the /8 back in its group. */
	assert_int_equal(lpm_del(t, p24, 24, true, 8, 1), 0);
	assert_int_equal(lpm4_lookup(t, 0x0a010204), 1);
	assert_int_equal(lpm4_lookup(t, 0x0a010203), 3);
	assert_int_equal(lpm_del(t, p32, 32, true, 8, 1), 0);
	assert_int_equal(t->n_live, 0);
	assert_int_equal(t->n_pending, 1);
	lpm_reclaim(t);
	assert_int_equal(t->n_free, 1);
	assert_int_equal(lpm4_lookup(t, 0x0a010203), 1);
	assert_int_equal(lpm_add(t, zero, 0, 7), 0);
	assert_int_equal(lpm4_lookup(t, 0xc0a80001), 7);
	assert_int_equal(lpm_add(t, zero, 33, 7), -EINVAL);
	assert_int_equal(lpm_add(t, zero, 8, LPM_MAX_VAL + 1), -EINVAL);
	lpm_destroy(t);
}

static void test_groups_exhausted(void **state)
{
	struct lpm *t = lpm_create(16, 4);
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	assert_non_null(t);
	/* A /128 needs 14 groups; only 4 exist: refused, nothing changed. */
	assert_int_equal(lpm_add(t, a, 128, 5), -ENOSPC);
	assert_int_equal(t->n_live, 0);
	assert_int_equal(lpm6_lookup(t, a), -1);
	assert_int_equal(lpm_add(t, a, 48, 5), 0);
	assert_int_equal(lpm6_lookup(t, a), 5);
	lpm_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_v4),
		cmocka_unit_test(test_groups_exhausted),
		cmocka_unit_test(test_diff_v4),
		cmocka_unit_test(test_diff_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
