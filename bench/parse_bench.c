/*
 * Micro-benchmark of src/dp/parse.c: ns per packet for flow_extract, the
 * key hashes, and both together (what the PMD does per packet before the
 * exact-match cache), one packet at a time and as a burst of 32 (extract all,
 * then hash all, as the PMD should). A benchmark, not a test: it prints, it never fails.
 *
 *   ninja -C build src/dp/parse_bench && build/src/dp/parse_bench [iterations]
 *
 * Each case parses a ring of 256 frames of one shape with varying addresses
 * and ports into a burst-sized (32) array of keys that stays in L1, as in a
 * PMD. Run it pinned on an idle core (taskset -c N) for stable figures.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pkt.h"
#include "dp/flow.h"
#include "dp/parse.h"

#define N_PKTS	256

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum shape { IPV4_TCP, IPV4_UDP, VLAN_IPV4_UDP, IPV6_TCP, ARP, N_SHAPES };
static const char *const shape_name[N_SHAPES] = {
	"ipv4/tcp 64B", "ipv4/udp 64B", "vlan/ipv4/udp 64B", "ipv6/tcp 78B", "arp 60B",
};

static uint16_t build(uint8_t *b, enum shape s, uint32_t i)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	uint16_t n = 12, l3;
	uint16_t sp = htons((uint16_t)(1024 + i)), dp = htons(80);
	uint32_t a;

	memset(b, 0, 128);
	memcpy(b, macs, 12);
	if (s == VLAN_IPV4_UDP) {
		b[n++] = 0x81, b[n++] = 0x00, b[n++] = 0x00, b[n++] = 10;
	}
	if (s == IPV6_TCP) {
		b[n++] = 0x86, b[n++] = 0xdd;
		l3 = n;
		b[l3] = 0x60, b[l3 + 5] = 20, b[l3 + 6] = 6, b[l3 + 7] = 64;
		a = htonl(i);
		memcpy(b + l3 + 8 + 12, &a, 4);
		b[l3 + 24] = 0x20;
		memcpy(b + l3 + 40, &sp, 2);
		memcpy(b + l3 + 42, &dp, 2);
		b[l3 + 52] = 0x50;
		return (uint16_t)(l3 + 60);
	}
	if (s == ARP) {
		static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };

		b[n++] = 0x08, b[n++] = 0x06;
		memcpy(b + n, hdr, 8);
		a = htonl(0x0a000000 | i);
		memcpy(b + n + 14, &a, 4);
		return 60;
	}
	b[n++] = 0x08, b[n++] = 0x00;
	l3 = n;
	b[l3] = 0x45, b[l3 + 3] = s == IPV4_TCP ? 40 : 28, b[l3 + 8] = 64;
	b[l3 + 9] = s == IPV4_TCP ? 6 : 17;
	a = htonl(0x0a000000 | i);
	memcpy(b + l3 + 12, &a, 4);
	a = htonl(0x0a0000fe);
	memcpy(b + l3 + 16, &a, 4);
	memcpy(b + l3 + 20, &sp, 2);
	memcpy(b + l3 + 22, &dp, 2);
	if (s == IPV4_TCP)
		b[l3 + 32] = 0x50, b[l3 + 33] = 0x10;
	return s == VLAN_IPV4_UDP ? 64 : 60;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	static struct pkt pkts[N_PKTS];
	static struct flow_key keys[N_PKTS];
	uint32_t sink = 0;

	printf("%-20s %12s %12s %12s %12s %12s\n", "frame", "extract", "key_hash", "extract+hash",
	       "burst32 e+h", "hash_5tuple");
	for (enum shape s = 0; s < N_SHAPES; s++) {
		double ns[5];

		for (uint32_t i = 0; i < N_PKTS; i++) {
			pkts[i].data = pkts[i].buf + PKT_HEADROOM;
			pkts[i].len = build(pkts[i].data, s, i);
			pkts[i].in_port = 1;
		}
		for (int m = 0; m < 5; m++) {
			uint64_t best = UINT64_MAX;

			for (int rep = 0; rep < 5; rep++) {
				uint64_t t0 = now_ns();

				for (long it = 0; it < iters; it++) {
					for (uint32_t i = 0; i < N_PKTS; i++) {
						switch (m) {
						case 0:
							flow_extract(&pkts[i], &keys[i % PKT_BURST]);
							break;
						case 1:
							sink += flow_key_hash(&keys[i % PKT_BURST]);
							break;
						case 2:
							flow_extract(&pkts[i], &keys[i % PKT_BURST]);
							sink += flow_key_hash(&keys[i % PKT_BURST]);
							break;
						case 3:
							/* A burst: extract 32, then hash 32
							 * (the keys' stores have retired). */
							if (i % PKT_BURST)
								break;
							for (uint32_t b = i; b < i + PKT_BURST; b++)
								flow_extract(&pkts[b], &keys[b - i]);
							for (uint32_t b = i; b < i + PKT_BURST; b++)
								sink += flow_key_hash(&keys[b - i]);
							break;
						default:
							sink += flow_hash_5tuple(&keys[i % PKT_BURST], 0);
							break;
						}
					}
				}
				t0 = now_ns() - t0;
				best = t0 < best ? t0 : best;
			}
			ns[m] = (double)best / ((double)iters * N_PKTS);
		}
		printf("%-20s %9.2f ns %9.2f ns %9.2f ns %9.2f ns %9.2f ns\n", shape_name[s], ns[0],
		       ns[1], ns[2], ns[3], ns[4]);
	}
	printf("(checksum %08x)\n", sink);
	return 0;
}
