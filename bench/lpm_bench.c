/*
 * lpm_bench: the vRouter's LPM tables (src/l3/lpm.h). Inserts 100k and 1M
 * IPv4 routes and 100k and 1M IPv6 routes with a BGP-like length mix, and
 * reports insertion time, groups used, and lookup cost (ns and cycles per
 * lookup) over 4M random destinations inside the routed space — one table
 * per run, single thread, no RCU readers registered (a lookup costs the
 * same).
 *
 *   ninja -C build src/l3/lpm_bench && build/src/l3/lpm_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "l3/lpm.h"

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

static unsigned v4_len(void)
{
	unsigned r = (unsigned)(rnd() % 100);

	/* Roughly the global table: most /24, a third /16-/23, a few longer
	 * (customer and host routes, so the groups get used), very few short. */
	if (r < 60)
		return 24;
	if (r < 94)
		return 16 + (unsigned)(rnd() % 8);
	if (r < 99 || rnd() % 2)
		return 25 + (unsigned)(rnd() % 8);
	return 8 + (unsigned)(rnd() % 8);
}

static unsigned v6_len(void)
{
	unsigned r = (unsigned)(rnd() % 100);

	/* Roughly the global table: half /48, most of the rest /29-/47, a few
	 * longer (/49-/64, and host routes). */
	if (r < 50)
		return 48;
	if (r < 90)
		return 29 + (unsigned)(rnd() % 19);
	if (r < 98)
		return 49 + (unsigned)(rnd() % 16);
	return 128;
}

#define N_LOOKUPS	(4u << 20)

static void run(unsigned bytes, unsigned n_routes)
{
	/* A million IPv6 routes need more than the default groups. */
	struct lpm *t = lpm_create(bytes, bytes == 16 && n_routes > 100000 ? 1u << 22 : 0);
	uint8_t (*pfx)[16] = malloc((size_t)n_routes * 16);
	uint8_t (*dst)[16] = malloc((size_t)N_LOOKUPS * 16);
	uint32_t *dst4 = malloc((size_t)N_LOOKUPS * 4);
	uint64_t t0, t1, c0, c1, acc = 0, failed = 0;

	if (!t || !pfx || !dst || !dst4) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (unsigned i = 0; i < n_routes; i++)
		for (unsigned b = 0; b < 16; b += 8) {
			uint64_t r = rnd();

			memcpy(pfx[i] + b, &r, 8);
		}
	/* IPv6 routes sit under a few thousand /29-/32 registry allocations
	 * in 2000::/3, as in the real table, so upper levels are shared. */
	if (bytes == 16)
		for (unsigned i = 0; i < n_routes; i++) {
			uint64_t a = rnd() % 4096 * 0x9e3779b97f4a7c15ull;

			pfx[i][0] = (uint8_t)(0x20 | (a >> 59 & 0x1f));
			pfx[i][1] = (uint8_t)(a >> 40);
			pfx[i][2] = (uint8_t)(a >> 32);
			pfx[i][3] = (uint8_t)((a >> 24 & 0xf8) | (pfx[i][3] & 7));
		}
	t0 = now_ns();
	for (unsigned i = 0; i < n_routes; i++) {
		unsigned d = bytes == 4 ? v4_len() : v6_len();

		if (lpm_add(t, pfx[i], d, i & LPM_MAX_VAL))
			failed++;
	}
	t1 = now_ns();
	printf("%s %8u routes: insert %7.1f ms (%5.0f ns/route), %u groups (%.0f MiB), %lu refused\n",
	       bytes == 4 ? "IPv4" : "IPv6", n_routes, (double)(t1 - t0) / 1e6,
	       (double)(t1 - t0) / n_routes, t->n_live, (double)t->n_live * 1024 / (1 << 20),
	       (unsigned long)failed);
	/* Destinations: inside a random route's prefix, low bits random. */
	for (unsigned i = 0; i < N_LOOKUPS; i++) {
		const uint8_t *p = pfx[rnd() % n_routes];
		uint64_t r = rnd();

		memcpy(dst[i], p, 16);
		memcpy(dst[i] + (bytes == 4 ? 3 : 8), &r, bytes == 4 ? 1 : 8);
		dst4[i] = (uint32_t)dst[i][0] << 24 | (uint32_t)dst[i][1] << 16 |
			  (uint32_t)dst[i][2] << 8 | dst[i][3];
	}
	t0 = now_ns();
	c0 = rdtsc();
	if (bytes == 4)
		for (unsigned i = 0; i < N_LOOKUPS; i++)
			acc += (uint64_t)lpm4_lookup(t, dst4[i]);
	else
		for (unsigned i = 0; i < N_LOOKUPS; i++)
			acc += (uint64_t)lpm6_lookup(t, dst[i]);
	c1 = rdtsc();
	t1 = now_ns();
	printf("     lookup: %5.1f ns, %5.1f TSC cycles per lookup (checksum %llx)\n",
	       (double)(t1 - t0) / N_LOOKUPS, (double)(c1 - c0) / N_LOOKUPS,
	       (unsigned long long)acc);
	lpm_destroy(t);
	free(pfx);
	free(dst);
	free(dst4);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");

	run(4, 100000);
	if (!quick)
		run(4, 1000000);
	run(16, 100000);
	if (!quick)
		run(16, 1000000);
	return 0;
}
