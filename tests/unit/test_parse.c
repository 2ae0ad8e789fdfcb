/* Unit tests for src/dp/parse.c: every protocol flow_extract parses, checked
 * field by field in network byte order; the header offsets; malformed and
 * truncated frames (each run on a malloc'd copy of exactly the frame's
 * length, so ASan catches a read past the end); padding; the key hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"
#include "dp/flow.h"
#include "dp/parse.h"

/* ---- frame builder ---- */

struct frame {
	uint8_t b[4096];
	uint32_t n;
};

static uint8_t *put(struct frame *f, const void *src, uint32_t n)
{
	uint8_t *at = f->b + f->n;

	assert_true(f->n + n <= sizeof(f->b));
	if (src)
		memcpy(at, src, n);
	else
		memset(at, 0, n);
	f->n += n;
	return at;
}

static void put8(struct frame *f, uint8_t v) { put(f, &v, 1); }
static void put16(struct frame *f, uint16_t v) { v = htons(v); put(f, &v, 2); }
static void put32(struct frame *f, uint32_t v) { v = htonl(v); put(f, &v, 4); }

static const uint8_t MAC_D[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t MAC_S[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t MAC_X[6] = { 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f };
static const uint8_t MAC_Y[6] = { 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b };
static const uint8_t IP6_A[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa };
static const uint8_t IP6_B[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb };
static const uint8_t IP6_T[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };

static void eth(struct frame *f, uint16_t type)
{
	f->n = 0;
	put(f, MAC_D, 6);
	put(f, MAC_S, 6);
	put16(f, type);
}

/* IPv4 header; tot_len patched by ip4_done(). Returns its offset. */
static uint32_t ip4(struct frame *f, uint8_t proto, uint16_t frag, uint8_t n_opt_words)
{
	uint32_t at = f->n;

	put8(f, (uint8_t)(0x40 | (5 + n_opt_words)));
	put8(f, 0xb9);			/* DSCP 46, ECN 1 */
	put16(f, 0);			/* tot_len */
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0x0a000001);
	put32(f, 0xc0a80102);
	for (uint8_t i = 0; i < n_opt_words; i++)
		put32(f, 0x01010101);	/* NOPs */
	return at;
}

static void ip4_done(struct frame *f, uint32_t at)
{
	uint16_t tot = htons((uint16_t)(f->n - at));

	memcpy(f->b + at + 2, &tot, 2);
}

static uint32_t ip6(struct frame *f, uint8_t nh)
{
	uint32_t at = f->n;

	put32(f, 0x6 << 28 | 0xb9 << 20 | 0xabcde);	/* TC 0xb9, label 0xabcde */
	put16(f, 0);					/* plen */
	put8(f, nh);
	put8(f, 255);
	put(f, IP6_A, 16);
	put(f, IP6_B, 16);
	return at;
}

static void ip6_done(struct frame *f, uint32_t at)
{
	uint16_t plen = htons((uint16_t)(f->n - at - 40));

	memcpy(f->b + at + 4, &plen, 2);
}

/* Generic extension header of 8·(len8+1) bytes. */
static void ip6_ext(struct frame *f, uint8_t nh, uint8_t len8)
{
	put8(f, nh);
	put8(f, len8);
	put(f, NULL, 6 + 8u * len8);
}

static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint16_t flags)
{
	put16(f, sp);
	put16(f, dp);
	put32(f, 1000);
	put32(f, 0);
	put16(f, (uint16_t)(5 << 12 | flags));
	put16(f, 65535);
	put32(f, 0);
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp)
{
	put16(f, sp);
	put16(f, dp);
	put16(f, 8);
	put16(f, 0);
}

/* ---- running the parser ---- */

static struct pkt *P;

/* Parse a malloc'd copy of exactly len bytes of f into *k (prefilled with
 * garbage to prove everything is written). */
static void extract_len(const struct frame *f, uint32_t len, struct flow_key *k)
{
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, f->b, len);
	memset(k, 0xa5, sizeof(*k));
	P->data = copy;
	P->len = (uint16_t)len;
	P->in_port = 7;
	P->l3_off = P->l4_off = 0xee;
	flow_extract(P, k);
	P->data = NULL;
	free(copy);
}

static void extract(const struct frame *f, struct flow_key *k)
{
	extract_len(f, f->n, k);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#define ZERO(k, m)	all_zero(&(k)->m, sizeof((k)->m))

/* Invariants of every key: padding and tail zero, metadata zero but in_port. */
static void check_invariants(const struct flow_key *k)
{
	size_t tail = offsetof(struct flow_key, pad_end) + sizeof(k->pad_end);

	assert_int_equal(k->in_port, 7);
	assert_true(all_zero((const uint8_t *)k + 4, offsetof(struct flow_key, dl_dst) - 4));
	assert_true(ZERO(k, pad_l2));
	assert_true(ZERO(k, pad_l4));
	assert_true(all_zero((const uint8_t *)k + offsetof(struct flow_key, pad_end),
			     sizeof(*k) - offsetof(struct flow_key, pad_end)));
	assert_true(tail <= sizeof(*k));
	assert_true(P->l3_off != 0xee && P->l4_off != 0xee);
	assert_true(P->l4_off == 0 || P->l4_off > P->l3_off);
	assert_true(!P->l4_off || P->l3_off);
	assert_true(ntohs(k->tcp_flags) <= 0x0fff);
}

static void check_l2(const struct flow_key *k, uint16_t dl_type)
{
	assert_memory_equal(k->dl_dst, MAC_D, 6);
	assert_memory_equal(k->dl_src, MAC_S, 6);
	assert_int_equal(k->dl_type, htons(dl_type));
}

/* Nothing past L2. */
static void check_no_l3(const struct flow_key *k)
{
	size_t from = offsetof(struct flow_key, mpls_lse);

	assert_true(all_zero((const uint8_t *)k + from, sizeof(*k) - from));
}

static void check_no_l4(const struct flow_key *k)
{
	assert_int_equal(k->tp_src, 0);
	assert_int_equal(k->tp_dst, 0);
	assert_int_equal(k->tcp_flags, 0);
	assert_true(ZERO(k, nd_target));
}

static void check_ip4_l3(const struct flow_key *k, uint8_t proto)
{
	assert_int_equal(k->nw_src, htonl(0x0a000001));
	assert_int_equal(k->nw_dst, htonl(0xc0a80102));
	assert_int_equal(k->nw_proto, proto);
	assert_int_equal(k->nw_tos, 0xb9);
	assert_int_equal(k->nw_ttl, 64);
	assert_int_equal(k->ipv6_label, 0);
	assert_true(ZERO(k, ipv6_src) && ZERO(k, ipv6_dst));
	assert_true(ZERO(k, arp_sha) && ZERO(k, arp_tha));
	assert_true(ZERO(k, mpls_lse));
	assert_int_equal(k->vlan_tci, 0);
}

static void check_ip6_l3(const struct flow_key *k, uint8_t proto)
{
	assert_memory_equal(k->ipv6_src, IP6_A, 16);
	assert_memory_equal(k->ipv6_dst, IP6_B, 16);
	assert_int_equal(k->ipv6_label, htonl(0xabcde));
	assert_int_equal(k->nw_tos, 0xb9);
	assert_int_equal(k->nw_ttl, 255);
	assert_int_equal(k->nw_proto, proto);
	assert_int_equal(k->nw_src, 0);
	assert_int_equal(k->nw_dst, 0);
}

/* ---- L2 ---- */

static void test_runt(void **state)
{
	struct frame f;
	struct flow_key k;

	(void)state;
	eth(&f, 0x0800);
	for (uint32_t len = 0; len < 14; len++) {
		extract_len(&f, len, &k);
		check_invariants(&k);
		assert_true(all_zero((const uint8_t *)&k + 4, sizeof(k) - 4));
		assert_int_equal(P->l3_off, 0);
		assert_int_equal(P->l4_off, 0);
	}
}

static void test_eth_unknown_type(void **state)
{
	struct frame f;
	struct flow_key k;

	(void)state;
	eth(&f, 0x88cc);			/* LLDP */
	put(&f, NULL, 46);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x88cc);
	check_no_l3(&k);
	assert_int_equal(P->l3_off, 0);
	assert_int_equal(P->l4_off, 0);
}

static void test_llc_snap(void **state)
{
	static const uint8_t snap[8] = { 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00 };
	static const uint8_t stp[3] = { 0x42, 0x42, 0x03 };
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 100);				/* 802.3 length */
	put(&f, snap, 8);
	at = ip4(&f, 17, 0, 0);
	udp(&f, 53, 5353);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x0800);
	check_ip4_l3(&k, 17);
	assert_int_equal(P->l3_off, 22);
	assert_int_equal(P->l4_off, 42);
	assert_int_equal(k.tp_dst, htons(5353));

	eth(&f, 38);				/* STP: LLC, not SNAP */
	put(&f, stp, 3);
	put(&f, NULL, 35);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, PARSE_DL_TYPE_NONE);
	check_no_l3(&k);

	eth(&f, 38);				/* SNAP cut short */
	put(&f, snap, 7);
	extract(&f, &k);
	check_l2(&k, PARSE_DL_TYPE_NONE);
}

static void test_vlan(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x8100);
	put16(&f, 5 << 13 | 1 << 12 | 100);	/* PCP 5, DEI set, VID 100 */
	put16(&f, 0x0800);
	at = ip4(&f, 6, 0, 0);
	tcp(&f, 1234, 80, 0x002);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x0800);
	assert_int_equal(k.vlan_tci, htons(5 << 13 | FLOW_VLAN_PRESENT | 100));
	assert_int_equal(k.vlan_tci2, 0);
	assert_int_equal(k.nw_dst, htonl(0xc0a80102));
	assert_int_equal(k.tp_dst, htons(80));
	assert_int_equal(P->l3_off, 18);
	assert_int_equal(P->l4_off, 38);

	/* VID 0, PCP 0: still marked present, so vlan_tci=0 means untagged. */
	eth(&f, 0x8100);
	put16(&f, 0);
	put16(&f, 0x88cc);
	put(&f, NULL, 42);
	extract(&f, &k);
	assert_int_equal(k.vlan_tci, htons(FLOW_VLAN_PRESENT));
	check_l2(&k, 0x88cc);
}

static void test_qinq(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x88a8);
	put16(&f, 3 << 13 | 200);
	put16(&f, 0x8100);
	put16(&f, 7 << 13 | 4095);
	put16(&f, 0x86dd);
	at = ip6(&f, 17);
	udp(&f, 4789, 4789);
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x86dd);
	assert_int_equal(k.vlan_tci, htons(3 << 13 | FLOW_VLAN_PRESENT | 200));
	assert_int_equal(k.vlan_tci2, htons(7 << 13 | FLOW_VLAN_PRESENT | 4095));
	check_ip6_l3(&k, 17);
	assert_int_equal(k.tp_src, htons(4789));
	assert_int_equal(P->l3_off, 22);
	assert_int_equal(P->l4_off, 62);

	/* 0x8100 outer, 0x8100 inner (old-style QinQ). */
	eth(&f, 0x8100);
	put16(&f, 10);
	put16(&f, 0x8100);
	put16(&f, 20);
	put16(&f, 0x0806);
	extract(&f, &k);
	assert_int_equal(k.vlan_tci, htons(FLOW_VLAN_PRESENT | 10));
	assert_int_equal(k.vlan_tci2, htons(FLOW_VLAN_PRESENT | 20));
	check_l2(&k, 0x0806);
	assert_int_equal(P->l3_off, 0);		/* ARP payload missing */

	/* A third tag is not skipped: its TPID is the dl_type. */
	eth(&f, 0x88a8);
	put16(&f, 1);
	put16(&f, 0x8100);
	put16(&f, 2);
	put16(&f, 0x8100);
	put16(&f, 3);
	put16(&f, 0x0800);
	put(&f, NULL, 40);
	extract(&f, &k);
	check_l2(&k, 0x8100);
	assert_int_equal(k.vlan_tci2, htons(FLOW_VLAN_PRESENT | 2));
	assert_int_equal(k.nw_proto, 0);
	assert_int_equal(P->l3_off, 0);
}

static void test_vlan_truncated(void **state)
{
	struct frame f;
	struct flow_key k;

	(void)state;
	eth(&f, 0x8100);
	put16(&f, 100);
	put16(&f, 0x0800);
	for (uint32_t len = 14; len < 18; len++) {
		extract_len(&f, len, &k);
		check_invariants(&k);
		check_l2(&k, 0x8100);
		check_no_l3(&k);
		assert_int_equal(k.vlan_tci, 0);
	}
	extract_len(&f, 18, &k);
	assert_int_equal(k.vlan_tci, htons(FLOW_VLAN_PRESENT | 100));
	check_l2(&k, 0x0800);
	assert_int_equal(P->l3_off, 0);		/* no IPv4 header */
}

/* ---- MPLS ---- */

static uint32_t lse(uint32_t label, uint32_t tc, bool bos, uint8_t ttl)
{
	return label << 12 | tc << 9 | (uint32_t)bos << 8 | ttl;
}

static void test_mpls(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x8847);
	put32(&f, lse(16, 5, true, 63));
	at = ip4(&f, 6, 0, 0);
	tcp(&f, 1, 2, 0);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x8847);
	assert_int_equal(k.mpls_lse[0], htonl(lse(16, 5, true, 63)));
	assert_int_equal(k.mpls_lse[1], 0);
	assert_int_equal(k.mpls_lse[2], 0);
	/* Nothing beneath MPLS is parsed. */
	assert_int_equal(k.nw_src, 0);
	assert_int_equal(k.nw_proto, 0);
	assert_int_equal(k.tp_dst, 0);
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 0);

	/* Four labels: the first three are kept. */
	eth(&f, 0x8848);
	for (uint32_t i = 0; i < 4; i++)
		put32(&f, lse(100 + i, i, i == 3, (uint8_t)(10 + i)));
	put(&f, NULL, 30);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x8848);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(k.mpls_lse[i], htonl(lse(100 + i, i, false, (uint8_t)(10 + i))));
	assert_int_equal(k.nw_src, 0);

	/* BOS on the second: the third slot stays zero. */
	eth(&f, 0x8847);
	put32(&f, lse(1, 0, false, 1));
	put32(&f, lse(2, 0, true, 2));
	put32(&f, lse(3, 0, true, 3));
	extract(&f, &k);
	assert_int_equal(k.mpls_lse[1], htonl(lse(2, 0, true, 2)));
	assert_int_equal(k.mpls_lse[2], 0);

	/* Stack cut after 1.5 entries; then no entry at all. */
	eth(&f, 0x8847);
	put32(&f, lse(1, 0, false, 1));
	put16(&f, 0xffff);
	extract(&f, &k);
	assert_int_equal(k.mpls_lse[0], htonl(lse(1, 0, false, 1)));
	assert_int_equal(k.mpls_lse[1], 0);
	extract_len(&f, 17, &k);
	check_l2(&k, 0x8847);
	check_no_l3(&k);
	assert_int_equal(P->l3_off, 0);
}

/* ---- ARP ---- */

static void arp(struct frame *f, uint16_t type, uint16_t htype, uint16_t ptype, uint8_t hlen,
		uint8_t plen, uint16_t op)
{
	eth(f, type);
	put16(f, htype);
	put16(f, ptype);
	put8(f, hlen);
	put8(f, plen);
	put16(f, op);
	put(f, MAC_X, 6);
	put32(f, 0x0a000001);
	put(f, MAC_Y, 6);
	put32(f, 0x0a0000fe);
	put(f, NULL, 18);			/* Ethernet padding */
}

static void test_arp(void **state)
{
	struct frame f;
	struct flow_key k;

	(void)state;
	arp(&f, 0x0806, 1, 0x0800, 6, 4, 1);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x0806);
	assert_int_equal(k.nw_proto, 1);
	assert_int_equal(k.nw_src, htonl(0x0a000001));
	assert_int_equal(k.nw_dst, htonl(0x0a0000fe));
	assert_memory_equal(k.arp_sha, MAC_X, 6);
	assert_memory_equal(k.arp_tha, MAC_Y, 6);
	assert_int_equal(k.nw_ttl, 0);
	assert_int_equal(k.tp_src, 0);
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 0);

	arp(&f, 0x8035, 1, 0x0800, 6, 4, 4);	/* RARP reply */
	extract(&f, &k);
	check_l2(&k, 0x8035);
	assert_int_equal(k.nw_proto, 4);
	assert_memory_equal(k.arp_tha, MAC_Y, 6);

	arp(&f, 0x0806, 1, 0x0800, 6, 4, 0x0102);	/* opcode > 255 */
	extract(&f, &k);
	assert_int_equal(k.nw_proto, 0);
	assert_int_equal(k.nw_src, htonl(0x0a000001));

	/* Not Ethernet/IPv4: only L2. */
	arp(&f, 0x0806, 6, 0x0800, 6, 4, 1);
	extract(&f, &k);
	check_l2(&k, 0x0806);
	check_no_l3(&k);
	arp(&f, 0x0806, 1, 0x86dd, 6, 4, 1);
	extract(&f, &k);
	check_no_l3(&k);
	arp(&f, 0x0806, 1, 0x0800, 8, 4, 1);
	extract(&f, &k);
	check_no_l3(&k);
	arp(&f, 0x0806, 1, 0x0800, 6, 16, 1);
	extract(&f, &k);
	check_no_l3(&k);

	/* 27 bytes of ARP: too short. */
	arp(&f, 0x0806, 1, 0x0800, 6, 4, 2);
	extract_len(&f, 14 + 27, &k);
	check_l2(&k, 0x0806);
	check_no_l3(&k);
	assert_int_equal(P->l3_off, 0);
	extract_len(&f, 14 + 28, &k);
	assert_int_equal(k.nw_proto, 2);
}

/* ---- IPv4 ---- */

static void test_ipv4_tcp(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 6, 0x4000, 0);		/* DF */
	tcp(&f, 49152, 443, 0x100 | 0x010 | 0x002);	/* NS, ACK, SYN */
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x0800);
	check_ip4_l3(&k, 6);
	assert_int_equal(k.nw_frag, 0);
	assert_int_equal(k.tp_src, htons(49152));
	assert_int_equal(k.tp_dst, htons(443));
	assert_int_equal(k.tcp_flags, htons(0x112));
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 34);

	/* A bogus data offset still yields ports (see parse.h). */
	f.b[34 + 12] = 0x10;
	extract(&f, &k);
	assert_int_equal(k.tp_dst, htons(443));
	assert_int_equal(P->l4_off, 34);
}

static void test_ipv4_udp_sctp_other(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 17, 0, 0);
	udp(&f, 67, 68);
	ip4_done(&f, at);
	put(&f, NULL, 18);			/* Ethernet padding to 60 */
	extract(&f, &k);
	check_invariants(&k);
	check_ip4_l3(&k, 17);
	assert_int_equal(k.tp_src, htons(67));
	assert_int_equal(k.tp_dst, htons(68));
	assert_int_equal(k.tcp_flags, 0);
	assert_int_equal(P->l4_off, 34);

	/* tot_len leaves 4 bytes of UDP: the padding after it is not UDP. */
	at = 14;
	f.b[at + 3] = 24;
	extract(&f, &k);
	check_ip4_l3(&k, 17);
	check_no_l4(&k);
	assert_int_equal(P->l4_off, 0);

	eth(&f, 0x0800);
	at = ip4(&f, 132, 0, 0);
	put16(&f, 2905);
	put16(&f, 36412);
	put32(&f, 0xdeadbeef);
	put32(&f, 0);
	ip4_done(&f, at);
	extract(&f, &k);
	check_ip4_l3(&k, 132);
	assert_int_equal(k.tp_src, htons(2905));
	assert_int_equal(k.tp_dst, htons(36412));
	assert_int_equal(P->l4_off, 34);
	extract_len(&f, f.n, &k);
	f.b[17] = 31;				/* tot_len: 11 bytes of SCTP */
	extract_len(&f, f.n - 1, &k);
	check_no_l4(&k);

	/* GRE: no L4 fields, but l4_off marks where GRE starts. */
	eth(&f, 0x0800);
	at = ip4(&f, 47, 0, 0);
	put32(&f, 0x00006558);
	ip4_done(&f, at);
	extract(&f, &k);
	check_ip4_l3(&k, 47);
	check_no_l4(&k);
	assert_int_equal(P->l4_off, 34);
}

static void test_icmpv4(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 1, 0, 0);
	put8(&f, 3);				/* dest unreachable */
	put8(&f, 13);
	put16(&f, 0);
	put32(&f, 0);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip4_l3(&k, 1);
	assert_int_equal(k.tp_src, htons(3));
	assert_int_equal(k.tp_dst, htons(13));
	assert_int_equal(P->l4_off, 34);

	f.b[17] = 27;				/* 7 bytes of ICMP: too short */
	extract_len(&f, f.n - 1, &k);
	check_ip4_l3(&k, 1);
	check_no_l4(&k);
}

static void test_ipv4_options(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 6, 0, 10);			/* IHL 15: 40 bytes of options */
	tcp(&f, 22, 2222, 0x001);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip4_l3(&k, 6);
	assert_int_equal(k.tp_src, htons(22));
	assert_int_equal(k.tcp_flags, htons(1));
	assert_int_equal(P->l4_off, 14 + 60);
}

static void test_ipv4_fragments(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	/* First fragment: MF, offset 0. */
	eth(&f, 0x0800);
	at = ip4(&f, 17, 0x2000, 0);
	udp(&f, 1000, 2000);
	put(&f, NULL, 16);
	ip4_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip4_l3(&k, 17);
	assert_int_equal(k.nw_frag, FLOW_FRAG_ANY);
	assert_int_equal(k.tp_dst, htons(2000));
	assert_int_equal(P->l4_off, 34);

	/* Middle fragment: MF, offset 3 (24 bytes). */
	f.b[20] = 0x20;
	f.b[21] = 3;
	extract(&f, &k);
	check_ip4_l3(&k, 17);
	assert_int_equal(k.nw_frag, FLOW_FRAG_ANY | FLOW_FRAG_LATER);
	check_no_l4(&k);
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 0);

	/* Last fragment: no MF, offset ≠ 0 (high offset bits too). */
	f.b[20] = 0x10;
	f.b[21] = 0;
	extract(&f, &k);
	assert_int_equal(k.nw_frag, FLOW_FRAG_ANY | FLOW_FRAG_LATER);
	check_no_l4(&k);

	/* DF and the reserved bit are not fragment bits. */
	f.b[20] = 0xc0;
	f.b[21] = 0;
	extract(&f, &k);
	assert_int_equal(k.nw_frag, 0);
	assert_int_equal(k.tp_src, htons(1000));
}

static void test_ipv4_malformed(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 6, 0, 0);
	tcp(&f, 1, 2, 0);
	ip4_done(&f, at);

	for (uint8_t ihl = 0; ihl < 5; ihl++) {	/* IHL < 5 */
		f.b[14] = (uint8_t)(0x40 | ihl);
		extract(&f, &k);
		check_invariants(&k);
		check_l2(&k, 0x0800);
		check_no_l3(&k);
		assert_int_equal(P->l3_off, 0);
		assert_int_equal(P->l4_off, 0);
	}
	f.b[14] = 0x4f;				/* IHL 60 > tot_len 40 */
	extract(&f, &k);
	check_no_l3(&k);
	f.b[14] = 0x45;
	f.b[17] = 41;				/* tot_len > bytes present */
	extract(&f, &k);
	check_no_l3(&k);
	f.b[17] = 19;				/* tot_len < IHL */
	extract(&f, &k);
	check_no_l3(&k);
	f.b[17] = 20;				/* header only: L3 but no L4 */
	extract(&f, &k);
	check_ip4_l3(&k, 6);
	check_no_l4(&k);
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 0);
}

/* Truncation at every length: the raw frame (tot_len then exceeds what is
 * present: only L2), and with tot_len following the cut (a short packet:
 * L3 once 20 bytes of IP are there, L4 once 20 bytes of TCP are). */
static void test_ipv4_tcp_truncated(void **state)
{
	struct frame f, g;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x8100);
	put16(&f, 42);
	put16(&f, 0x0800);
	at = ip4(&f, 6, 0, 1);
	tcp(&f, 5555, 80, 0x018);
	ip4_done(&f, at);
	assert_int_equal(f.n, 18 + 24 + 20);

	for (uint32_t len = 0; len <= f.n; len++) {
		extract_len(&f, len, &k);
		check_invariants(&k);
		if (len < 14) {
			assert_true(all_zero((const uint8_t *)&k + 4, sizeof(k) - 4));
			continue;
		}
		assert_memory_equal(k.dl_dst, MAC_D, 6);
		if (len < 18) {
			check_l2(&k, 0x8100);
			check_no_l3(&k);
			continue;
		}
		check_l2(&k, 0x0800);
		if (len < f.n) {
			check_no_l3(&k);
			assert_int_equal(P->l3_off, 0);
			continue;
		}
		assert_int_equal(k.tp_src, htons(5555));
		assert_int_equal(k.tcp_flags, htons(0x018));
	}

	for (uint32_t len = 18 + 20; len <= f.n; len++) {
		uint16_t tot = htons((uint16_t)(len - 18));

		g = f;
		memcpy(g.b + 18 + 2, &tot, 2);
		extract_len(&g, len, &k);
		check_invariants(&k);
		if (len < 18 + 24) {		/* shorter than the IHL */
			check_no_l3(&k);
			continue;
		}
		assert_int_equal(k.vlan_tci, htons(FLOW_VLAN_PRESENT | 42));
		assert_int_equal(k.nw_src, htonl(0x0a000001));
		assert_int_equal(k.nw_proto, 6);
		assert_int_equal(P->l3_off, 18);
		if (len < f.n) {
			check_no_l4(&k);
			assert_int_equal(P->l4_off, 0);
		} else {
			assert_int_equal(k.tp_dst, htons(80));
			assert_int_equal(P->l4_off, 42);
		}
	}
}

/* ---- IPv6 ---- */

static void test_ipv6_tcp(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x86dd);
	at = ip6(&f, 6);
	tcp(&f, 40000, 22, 0x804);		/* reserved bit 11, RST */
	ip6_done(&f, at);
	put(&f, NULL, 4);			/* trailing Ethernet bytes */
	extract(&f, &k);
	check_invariants(&k);
	check_l2(&k, 0x86dd);
	check_ip6_l3(&k, 6);
	assert_int_equal(k.nw_frag, 0);
	assert_int_equal(k.tp_src, htons(40000));
	assert_int_equal(k.tp_dst, htons(22));
	assert_int_equal(k.tcp_flags, htons(0x804));
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 54);

	/* Payload length beyond the frame: only L2. */
	f.b[19] = 41;
	extract_len(&f, f.n - 4, &k);
	check_l2(&k, 0x86dd);
	check_no_l3(&k);
	assert_int_equal(P->l3_off, 0);
	/* 39 bytes of IPv6. */
	extract_len(&f, 14 + 39, &k);
	check_no_l3(&k);
}

static void test_ipv6_ext(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x86dd);
	at = ip6(&f, 0);			/* hop-by-hop */
	ip6_ext(&f, 60, 0);			/* → dest opts, 8 bytes */
	ip6_ext(&f, 43, 2);			/* → routing, 24 bytes */
	ip6_ext(&f, 51, 1);			/* → AH, 16 bytes */
	put8(&f, 60);				/* AH → dest opts, (len+2)·4 = 16 */
	put8(&f, 2);
	put(&f, NULL, 14);
	ip6_ext(&f, 17, 0);			/* → UDP */
	udp(&f, 546, 547);
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip6_l3(&k, 17);
	assert_int_equal(k.tp_src, htons(546));
	assert_int_equal(k.tp_dst, htons(547));
	assert_int_equal(P->l4_off, 54 + 8 + 24 + 16 + 16 + 8);

	/* Cut inside the chain (payload length follows): only the addresses. */
	for (uint32_t cut = 54; cut < 54 + 8 + 24 + 16 + 16 + 8; cut++) {
		struct frame g = f;
		uint16_t plen = htons((uint16_t)(cut - 54));

		memcpy(g.b + 18, &plen, 2);
		extract_len(&g, cut, &k);
		check_invariants(&k);
		assert_memory_equal(k.ipv6_src, IP6_A, 16);
		assert_memory_equal(k.ipv6_dst, IP6_B, 16);
		assert_int_equal(k.nw_proto, 0);
		assert_int_equal(k.nw_ttl, 0);
		assert_int_equal(k.ipv6_label, 0);
		check_no_l4(&k);
		assert_int_equal(P->l3_off, 14);
		assert_int_equal(P->l4_off, 0);
	}
}

static void test_ipv6_ext_limits(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	/* PARSE_MAX_IPV6_EXT headers are walked; one more is too many. */
	for (unsigned n = PARSE_MAX_IPV6_EXT; n <= PARSE_MAX_IPV6_EXT + 1; n++) {
		eth(&f, 0x86dd);
		at = ip6(&f, 60);
		for (unsigned i = 0; i < n; i++)
			ip6_ext(&f, i + 1 < n ? 60 : 6, 0);
		tcp(&f, 7, 8, 0);
		ip6_done(&f, at);
		extract(&f, &k);
		check_invariants(&k);
		if (n == PARSE_MAX_IPV6_EXT) {
			check_ip6_l3(&k, 6);
			assert_int_equal(k.tp_dst, htons(8));
			assert_int_equal(P->l4_off, 54 + 8 * n);
		} else {
			assert_memory_equal(k.ipv6_src, IP6_A, 16);
			assert_int_equal(k.nw_proto, 0);
			check_no_l4(&k);
		}
	}

	/* ESP and no-next-header end the walk; no L4 fields. */
	eth(&f, 0x86dd);
	at = ip6(&f, 0);
	ip6_ext(&f, 50, 0);
	put32(&f, 0x1000);			/* SPI */
	put32(&f, 1);
	ip6_done(&f, at);
	extract(&f, &k);
	check_ip6_l3(&k, 50);
	check_no_l4(&k);
	assert_int_equal(P->l4_off, 62);
	f.b[54] = 59;
	extract(&f, &k);
	check_ip6_l3(&k, 59);

	/* A 2 KiB hop-by-hop header: L4 parsed, but l4_off does not fit. */
	eth(&f, 0x86dd);
	at = ip6(&f, 0);
	ip6_ext(&f, 6, 255);
	tcp(&f, 9, 10, 0);
	ip6_done(&f, at);
	extract(&f, &k);
	check_ip6_l3(&k, 6);
	assert_int_equal(k.tp_dst, htons(10));
	assert_int_equal(P->l3_off, 14);
	assert_int_equal(P->l4_off, 0);
}

static void ip6_frag(struct frame *f, uint8_t nh, uint16_t off8, bool more)
{
	put8(f, nh);
	put8(f, 0);
	put16(f, (uint16_t)(off8 << 3 | more));
	put32(f, 0xcafe);
}

static void test_ipv6_fragments(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	/* First fragment, after a hop-by-hop header. */
	eth(&f, 0x86dd);
	at = ip6(&f, 0);
	ip6_ext(&f, 44, 0);
	ip6_frag(&f, 17, 0, true);
	udp(&f, 1111, 2222);
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip6_l3(&k, 17);
	assert_int_equal(k.nw_frag, FLOW_FRAG_ANY);
	assert_int_equal(k.tp_src, htons(1111));
	assert_int_equal(P->l4_off, 54 + 16);

	/* Later fragment: nw_proto is 44 (as OVS), no L4. */
	eth(&f, 0x86dd);
	at = ip6(&f, 44);
	ip6_frag(&f, 6, 185, false);
	tcp(&f, 1, 2, 0);			/* looks like TCP but is not a header */
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip6_l3(&k, 44);
	assert_int_equal(k.nw_frag, FLOW_FRAG_ANY | FLOW_FRAG_LATER);
	check_no_l4(&k);
	assert_int_equal(P->l4_off, 0);

	/* Atomic fragment (offset 0, no M): not a fragment. */
	eth(&f, 0x86dd);
	at = ip6(&f, 44);
	ip6_frag(&f, 6, 0, false);
	tcp(&f, 3, 4, 0);
	ip6_done(&f, at);
	extract(&f, &k);
	check_ip6_l3(&k, 6);
	assert_int_equal(k.nw_frag, 0);
	assert_int_equal(k.tp_dst, htons(4));
}

/* ---- ICMPv6 and ND ---- */

static uint32_t nd(struct frame *f, uint8_t type, uint8_t code)
{
	uint32_t at;

	eth(f, 0x86dd);
	at = ip6(f, 58);
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put32(f, type == 136 ? 0x60000000 : 0);	/* NA: S|O */
	put(f, IP6_T, 16);
	return at;
}

static void lla(struct frame *f, uint8_t type, const uint8_t *mac)
{
	put8(f, type);
	put8(f, 1);
	put(f, mac, 6);
}

static void test_icmpv6_echo(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	eth(&f, 0x86dd);
	at = ip6(&f, 58);
	put8(&f, 128);
	put8(&f, 0);
	put16(&f, 0);
	put32(&f, 0x00010001);
	put(&f, IP6_T, 16);			/* payload that looks like a target */
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip6_l3(&k, 58);
	assert_int_equal(k.tp_src, htons(128));
	assert_int_equal(k.tp_dst, 0);
	assert_true(ZERO(&k, nd_target));
	assert_int_equal(P->l4_off, 54);

	/* ICMPv4 over IPv6 and ICMPv6 over IPv4 are not parsed as such. */
	f.b[20] = 1;
	extract(&f, &k);
	check_ip6_l3(&k, 1);
	check_no_l4(&k);
	assert_int_equal(P->l4_off, 54);
}

static void test_nd(void **state)
{
	struct frame f;
	struct flow_key k;
	uint32_t at;

	(void)state;
	at = nd(&f, 135, 0);
	lla(&f, 1, MAC_X);
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	check_ip6_l3(&k, 58);
	assert_int_equal(k.tp_src, htons(135));
	assert_int_equal(k.tp_dst, 0);
	assert_memory_equal(k.nd_target, IP6_T, 16);
	assert_memory_equal(k.arp_sha, MAC_X, 6);
	assert_true(ZERO(&k, arp_tha));
	assert_int_equal(P->l4_off, 54);

	/* NA with an unknown option first, then TLL. */
	at = nd(&f, 136, 0);
	put8(&f, 14);				/* nonce option, 8 bytes */
	put8(&f, 1);
	put(&f, NULL, 6);
	lla(&f, 2, MAC_Y);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_int_equal(k.tp_src, htons(136));
	assert_memory_equal(k.nd_target, IP6_T, 16);
	assert_true(ZERO(&k, arp_sha));
	assert_memory_equal(k.arp_tha, MAC_Y, 6);

	/* Both options (OVS accepts either in either message). */
	at = nd(&f, 136, 0);
	lla(&f, 2, MAC_Y);
	lla(&f, 1, MAC_X);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_memory_equal(k.arp_sha, MAC_X, 6);
	assert_memory_equal(k.arp_tha, MAC_Y, 6);

	/* A repeated SLL: ND fields absent, type/code kept. */
	at = nd(&f, 135, 0);
	lla(&f, 1, MAC_X);
	lla(&f, 1, MAC_Y);
	ip6_done(&f, at);
	extract(&f, &k);
	check_invariants(&k);
	assert_int_equal(k.tp_src, htons(135));
	assert_true(ZERO(&k, nd_target));
	assert_true(ZERO(&k, arp_sha) && ZERO(&k, arp_tha));

	/* A zero-length option ends the walk, keeping what was found. */
	at = nd(&f, 135, 0);
	lla(&f, 1, MAC_X);
	put8(&f, 2);
	put8(&f, 0);
	put(&f, NULL, 6);
	lla(&f, 2, MAC_Y);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_memory_equal(k.nd_target, IP6_T, 16);
	assert_memory_equal(k.arp_sha, MAC_X, 6);
	assert_true(ZERO(&k, arp_tha));

	/* An SLL of length 2 (16 bytes) is not an Ethernet address. */
	at = nd(&f, 135, 0);
	put8(&f, 1);
	put8(&f, 2);
	put(&f, MAC_X, 6);
	put(&f, NULL, 8);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_memory_equal(k.nd_target, IP6_T, 16);
	assert_true(ZERO(&k, arp_sha));

	/* An option longer than the packet: walk ends. */
	at = nd(&f, 135, 0);
	put8(&f, 1);
	put8(&f, 2);
	put(&f, MAC_X, 6);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_memory_equal(k.nd_target, IP6_T, 16);
	assert_true(ZERO(&k, arp_sha));

	/* Code ≠ 0: not ND. */
	at = nd(&f, 135, 1);
	lla(&f, 1, MAC_X);
	ip6_done(&f, at);
	extract(&f, &k);
	assert_int_equal(k.tp_src, htons(135));
	assert_int_equal(k.tp_dst, htons(1));
	assert_true(ZERO(&k, nd_target) && ZERO(&k, arp_sha));
}

/* Every cut of an NS with SLL, payload length following the cut. */
static void test_nd_truncated(void **state)
{
	struct frame f, g;
	struct flow_key k;
	uint32_t at;

	(void)state;
	at = nd(&f, 135, 0);
	lla(&f, 1, MAC_X);
	ip6_done(&f, at);
	assert_int_equal(f.n, 54 + 8 + 16 + 8);

	for (uint32_t len = 0; len <= f.n; len++) {
		uint16_t plen = htons((uint16_t)(len > 54 ? len - 54 : 0));

		g = f;
		memcpy(g.b + 18, &plen, 2);
		extract_len(&g, len, &k);
		check_invariants(&k);
		if (len < 54) {
			check_no_l3(&k);
			continue;
		}
		check_ip6_l3(&k, 58);
		if (len < 62) {
			check_no_l4(&k);
			assert_int_equal(P->l4_off, 0);
			continue;
		}
		assert_int_equal(k.tp_src, htons(135));
		assert_int_equal(P->l4_off, 54);
		if (len < 78) {
			assert_true(ZERO(&k, nd_target));
			continue;
		}
		assert_memory_equal(k.nd_target, IP6_T, 16);
		if (len < f.n)
			assert_true(ZERO(&k, arp_sha));
		else
			assert_memory_equal(k.arp_sha, MAC_X, 6);
	}

	/* And the raw cuts: only L2 unless complete. */
	for (uint32_t len = 14; len < f.n; len++) {
		extract_len(&f, len, &k);
		check_invariants(&k);
		check_l2(&k, 0x86dd);
		check_no_l3(&k);
	}
}

/* ---- hashes ---- */

static void test_key_hash(void **state)
{
	struct frame f;
	struct flow_key k, k2;
	uint32_t h, at;
	unsigned n_same = 0;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 6, 0, 0);
	tcp(&f, 1, 2, 0);
	ip4_done(&f, at);
	extract(&f, &k);
	h = flow_key_hash(&k);
	extract(&f, &k2);
	assert_int_equal(flow_key_hash(&k2), h);

	/* Every single-bit change of the hashed lines changes the hash (2,560
	 * trials of a 32-bit hash: a collision would be a flaw, not bad luck);
	 * the sixth line (IPv6 tunnel addresses) is not hashed (flow.h). */
	for (size_t bit = 0; bit < FLOW_HASHED_BYTES * 8; bit++) {
		k2 = k;
		((uint8_t *)&k2)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		n_same += flow_key_hash(&k2) == h;
	}
	assert_int_equal(n_same, 0);

	/* Keys differing in one port spread over the low bits (EMC index). */
	{
		static uint8_t seen[1024];
		unsigned n_buckets = 0;

		for (uint32_t i = 0; i < 1024; i++) {
			k2 = k;
			k2.tp_src = htons((uint16_t)i);
			seen[flow_key_hash(&k2) & 1023] = 1;
		}
		for (uint32_t i = 0; i < 1024; i++)
			n_buckets += seen[i];
		assert_true(n_buckets > 550);	/* ~647 expected for random */
	}
}

static void test_hash_5tuple(void **state)
{
	struct frame f;
	struct flow_key k, k2;
	uint32_t h, at;

	(void)state;
	eth(&f, 0x0800);
	at = ip4(&f, 17, 0, 0);
	udp(&f, 1000, 53);
	ip4_done(&f, at);
	extract(&f, &k);
	h = flow_hash_5tuple(&k, 0);
	assert_int_not_equal(flow_hash_5tuple(&k, 1), h);

	k2 = k;					/* outside the 5-tuple: same */
	k2.dl_src[5] ^= 1;
	k2.nw_ttl = 1;
	k2.in_port = 9;
	k2.vlan_tci = htons(FLOW_VLAN_PRESENT | 5);
	assert_int_equal(flow_hash_5tuple(&k2, 0), h);
	k2 = k;
	k2.tp_src = htons(1001);
	assert_int_not_equal(flow_hash_5tuple(&k2, 0), h);
	k2 = k;
	k2.nw_dst ^= htonl(1);
	assert_int_not_equal(flow_hash_5tuple(&k2, 0), h);
	k2 = k;
	k2.nw_proto = 6;
	assert_int_not_equal(flow_hash_5tuple(&k2, 0), h);

	/* ICMP: ports (type/code) are not hashed. */
	k.nw_proto = 1;
	k2 = k;
	k2.tp_src = htons(8);
	assert_int_equal(flow_hash_5tuple(&k2, 0), flow_hash_5tuple(&k, 0));

	/* IPv6 addresses count; non-IP falls back to MACs. */
	eth(&f, 0x86dd);
	at = ip6(&f, 6);
	tcp(&f, 1, 2, 0);
	ip6_done(&f, at);
	extract(&f, &k);
	k2 = k;
	k2.ipv6_src[0] ^= 0x80;
	assert_int_not_equal(flow_hash_5tuple(&k2, 0), flow_hash_5tuple(&k, 0));
	eth(&f, 0x88cc);
	put(&f, NULL, 46);
	extract(&f, &k);
	k2 = k;
	k2.dl_src[0] ^= 2;
	assert_int_not_equal(flow_hash_5tuple(&k2, 0), flow_hash_5tuple(&k, 0));
}

/* A random frame of one of many shapes (some malformed or cut short). */
static void random_frame(struct frame *f, uint32_t *len)
{
	uint32_t at, shape = (uint32_t)rand() % 10;
	uint16_t type = shape == 7 ? 0x86dd : shape == 8 ? 0x0806 : 0x0800;

	eth(f, rand() % 4 ? type : 0x8100);
	if (f->b[12] == 0x81) {
		put16(f, (uint16_t)rand());
		put16(f, type);
	}
	if (shape == 7) {
		at = ip6(f, 6);
		tcp(f, (uint16_t)rand(), 80, 0x12);
		ip6_done(f, at);
	} else if (shape == 9 && rand() % 2) {
		/* MPLS (as decapsulated MPLS over GRE/UDP): 1-4 labels, the
		 * bottom-of-stack bit anywhere or nowhere, IPv4 beneath. */
		uint32_t labels = 1 + (uint32_t)rand() % 4, bos = (uint32_t)rand() % 5;

		f->b[f->n - 2] = 0x88;
		f->b[f->n - 1] = rand() % 2 ? 0x47 : 0x48;
		for (uint32_t i = 0; i < labels; i++)
			put32(f, lse((uint32_t)rand() & 0xfffff, (uint32_t)rand() & 7, i == bos,
				     (uint8_t)rand()));
		at = ip4(f, 17, 0, 0);
		udp(f, (uint16_t)(rand() % 3), 53);
		ip4_done(f, at);
	} else if (shape == 8) {
		put(f, NULL, 28);
		f->b[f->n - 28 + 1] = 1;
		f->b[f->n - 28 + 2] = 8;
		f->b[f->n - 28 + 4] = 6;
		f->b[f->n - 28 + 5] = 4;
	} else {
		static const uint8_t protos[] = { 6, 17, 1, 132, 47, 6, 17 };
		uint8_t proto = protos[rand() % 7];
		uint16_t frag = rand() % 8 ? 0 : (rand() % 2 ? 0x2000 : 0x0010);

		at = ip4(f, proto, frag, (uint8_t)(rand() % 3 ? 0 : rand() % 11));
		if (proto == 6)
			tcp(f, (uint16_t)rand(), (uint16_t)(rand() % 4), (uint16_t)(rand() & 0x3f));
		else
			udp(f, (uint16_t)(rand() % 3), 53);
		put(f, NULL, (uint32_t)(rand() % 40));
		ip4_done(f, at);
	}
	*len = f->n;
	if (rand() % 5 == 0)
		*len = (uint32_t)rand() % (f->n + 1);	/* cut short */
}

/* flow_extract_same against flow_extract: whenever it says a frame's key is
 * the one before it, parsing it gives exactly that key and those offsets;
 * and it does say so for identical IPv4 frames with the transport header
 * near the front and for identical MPLS frames. */
static void test_extract_same(void **state)
{
	struct pkt *a = aligned_alloc(CACHE_LINE, sizeof(*a)), *b = aligned_alloc(CACHE_LINE, sizeof(*b));
	struct flow_key ka, kb;
	struct frame f;
	unsigned n_same = 0, n_differ = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	srand(99);
	for (int it = 0; it < 200000; it++) {
		uint32_t len, m = (uint32_t)rand() % 10;

		random_frame(&f, &len);
		memset(a, 0, offsetof(struct pkt, buf));
		a->data = a->buf + PKT_HEADROOM;
		memset(a->data, 0xcc, PARSE_SAME_BYTES);
		memcpy(a->data, f.b, len);
		a->len = (uint16_t)len;
		a->in_port = 3;
		if (m >= 6) {		/* both out of one tunnel */
			a->flags |= PKT_F_TUN;
			a->tun.id = (uint64_t)rand();
			a->tun.v6 = rand() % 4 == 0;	/* IPv6 outer addresses, whole */
			for (unsigned i = 0; i < (a->tun.v6 ? 16u : 4u); i++) {
				a->tun.src[i] = (uint8_t)rand();
				a->tun.dst[i] = (uint8_t)rand();
			}
			a->tun.flags = (uint16_t)rand();
			a->tun.tos = (uint8_t)rand();
			a->tun.ttl = (uint8_t)rand();
			a->tun.opts[rand() % sizeof(a->tun.opts)] = (uint8_t)rand();
		}
		flow_extract(a, &ka);
		*b = *a;	/* whole packet, buffer included */
		b->data = b->buf + PKT_HEADROOM;
		b->l3_off = b->l4_off = 0xee;
		if (m == 1)		/* one byte changed, inside or past the frame */
			b->data[rand() % (len + 16)] ^= (uint8_t)(1 + rand() % 255);
		else if (m == 2)
			b->len = (uint16_t)(len + (rand() % 2 ? 1 : -1));
		else if (m == 3)
			b->in_port = 4;
		else if (m == 4)
			b->meta[rand() % 3] = 1;
		else if (m == 5) {	/* out of a tunnel: tun_* come from pkt.tun */
			b->flags |= PKT_F_TUN;
			b->tun.id = 42;
		} else if (m == 7) {	/* another tunnel, or not one */
			switch (rand() % 8) {
			case 0: b->tun.id ^= 1; break;
			case 1: b->tun.src[rand() % (b->tun.v6 ? 16 : 4)] ^= (uint8_t)(1u << (rand() % 8)); break;
			case 2: b->tun.dst[rand() % (b->tun.v6 ? 16 : 4)] ^= (uint8_t)(1u << (rand() % 8)); break;
			case 3: b->tun.flags ^= 1; break;
			case 4: b->tun.tos ^= 4; break;
			case 5: b->tun.ttl ^= 1; break;
			case 6: b->tun.opts[rand() % sizeof(b->tun.opts)] ^= 0x10; break;
			default: b->flags &= (uint16_t)~PKT_F_TUN; break;
			}
		} else if (m == 9) {	/* what the key does not take may differ */
			b->tun.pad[rand() % sizeof(b->tun.pad)] ^= 0x5a;
			b->tun.opt_len ^= 1;
		}
		if (!flow_extract_same(b, a, &ka)) {
			n_differ++;
			if ((m == 0 || m == 6 || m >= 8) && ka.dl_type == htons(0x0800) && a->l4_off &&
			    a->l4_off <= PARSE_SAME_BYTES - 20)
				fail_msg("identical eligible frame not recognised");
			if ((m == 0 || m == 6 || m >= 8) &&
			    (ka.dl_type == htons(0x8847) || ka.dl_type == htons(0x8848)))
				fail_msg("identical MPLS frame not recognised");
			continue;
		}
		n_same++;
		{
			uint8_t l3 = b->l3_off, l4 = b->l4_off;

			flow_extract(b, &kb);
			/* tun_v6 numbers each IPv6 tunnel key apart (flow.h). */
			assert_int_equal(!ka.tun_v6, !kb.tun_v6);
			kb.tun_v6 = ka.tun_v6;
			assert_memory_equal(&ka, &kb, sizeof(ka));
			assert_int_equal(l3, b->l3_off);
			assert_int_equal(l4, b->l4_off);
		}
	}
	printf("extract_same: %u recognised, %u not\n", n_same, n_differ);
	assert_true(n_same > 20000);
	assert_true(n_differ > 20000);
	free(a);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	P = aligned_alloc(CACHE_LINE, sizeof(*P));
	if (!P)
		return -1;
	memset(P, 0, offsetof(struct pkt, buf));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(P);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runt),
		cmocka_unit_test(test_eth_unknown_type),
		cmocka_unit_test(test_llc_snap),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_qinq),
		cmocka_unit_test(test_vlan_truncated),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ipv4_tcp),
		cmocka_unit_test(test_ipv4_udp_sctp_other),
		cmocka_unit_test(test_icmpv4),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_ipv4_tcp_truncated),
		cmocka_unit_test(test_ipv6_tcp),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_ipv6_ext_limits),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_icmpv6_echo),
		cmocka_unit_test(test_nd),
		cmocka_unit_test(test_nd_truncated),
		cmocka_unit_test(test_key_hash),
		cmocka_unit_test(test_hash_5tuple),
		cmocka_unit_test(test_extract_same),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
