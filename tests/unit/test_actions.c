/* Unit tests for the datapath actions (dpact), groups and meters.
 *
 * Packets are built by hand with checksums computed from scratch; after every
 * rewrite the checksums are verified from scratch again (and, for
 * PKT_F_CSUM_PARTIAL, completed as a device would and then verified), so the
 * incremental updates are checked against an independent computation. SCTP's
 * CRC32c is checked against a bitwise implementation validated on the RFC
 * 3720 test vector. Outputs go to a fake hook that records copies of what
 * each port was given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pkt.h"
#include "dp/dpact.h"
#include "dp/flow.h"
#include "dp/group.h"
#include "dp/meter.h"

/* ---- fake output ---- */

#define NPORTS	8
#define NREC	64

struct rec {
	unsigned n;
	uint16_t len[NREC];
	uint8_t l3_off[NREC], l4_off[NREC];
	const struct pkt *ptr[NREC];
	const uint8_t *buf[NREC];
	uint8_t bytes[NREC][256];
};

static struct rec out[NPORTS];
static unsigned n_out_calls;
static bool keep_pkts;			/* don't free: the test inspects them */
static struct pkt *kept[NPORTS][NREC];

static void fake_output(struct dp_pmd *pmd, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)pmd;
	assert_true(port < NPORTS);
	n_out_calls++;
	for (uint16_t i = 0; i < n; i++) {
		struct rec *r = &out[port];
		struct pkt *p = pkts[i];

		if (r->n < NREC) {
			r->len[r->n] = p->len;
			r->l3_off[r->n] = p->l3_off;
			r->l4_off[r->n] = p->l4_off;
			r->ptr[r->n] = p;
			r->buf[r->n] = p->data;
			memcpy(r->bytes[r->n], p->data, MIN(p->len, 256));
			if (keep_pkts) {
				kept[port][r->n] = p;
				r->n++;
				continue;
			}
			r->n++;
		}
		pkt_free(p);
	}
}

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static struct dpact_ctx ctx;
static struct pkt_pool *pool;

static void reset(void)
{
	memset(out, 0, sizeof(out));
	n_out_calls = 0;
	dpact_ctx_init(&ctx, NULL, 0, fake_output);
	ctx.clock_ns = fake_clock;
}

static int setup(void **state)
{
	(void)state;
	pool = pkt_pool_create("test", 512);
	if (!pool)
		return -1;
	pkt_pool_set_thread(pool);
	reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	group_del(OFPG_ALL);
	meter_del(METER_ALL);
	pkt_pool_destroy(pool);
	return 0;
}

/* ---- from-scratch checksums ---- */

static uint32_t sum16(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		s += (uint32_t)d[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Ones-complement sum of the pseudo-header. */
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	uint32_t s = 0;

	if ((ip[0] >> 4) == 4)
		s = sum16(ip + 12, 8, 0);
	else
		s = sum16(ip + 8, 32, 0);
	return s + proto + (l4len & 0xffff) + (l4len >> 16);
}

static bool ipv4_hdr_ok(const uint8_t *ip)
{
	return fold(sum16(ip, (ip[0] & 0xf) * 4u, 0)) == 0xffff;
}

static bool l4_ok(const uint8_t *ip, const uint8_t *l4, uint8_t proto, uint32_t l4len)
{
	return fold(sum16(l4, l4len, pseudo_sum(ip, proto, l4len))) == 0xffff;
}

static uint16_t l4_csum_off(uint8_t proto)
{
	return proto == 6 ? 16 : proto == 17 ? 6 : 2;
}

/* Write a correct L4 checksum. */
static void l4_fill(uint8_t *ip, uint8_t *l4, uint8_t proto, uint32_t l4len)
{
	uint16_t off = l4_csum_off(proto), c;

	l4[off] = l4[off + 1] = 0;
	c = (uint16_t)~fold(sum16(l4, l4len, pseudo_sum(ip, proto, l4len)));
	if (proto == 17 && c == 0)
		c = 0xffff;
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
}

/* Bitwise CRC32c (the oracle; actions.c uses the hardware or a table). */
static uint32_t crc32c_bitwise(const uint8_t *d, size_t n)
{
	uint32_t c = 0xffffffff;

	for (size_t i = 0; i < n; i++) {
		c ^= d[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

/* ---- packet builders ---- */

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xb };

#define PAYLOAD	13	/* odd, to exercise the trailing byte */

/* Ethernet [+ VLAN] + IPv4 + TCP/UDP/SCTP/ICMP + payload; checksums filled. */
static struct pkt *mk_ipv4(uint8_t proto, bool vlan, struct flow_key *k)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d = p->data, *ip, *l4;
	uint16_t l2 = vlan ? 18 : 14, l4len = proto == 17 ? 8 : proto == 132 ? 12 : proto == 1 ? 8 : 20;
	uint16_t tot = (uint16_t)(20 + l4len + PAYLOAD);

	memset(d, 0, 256);
	memcpy(d, MAC_B, 6);
	memcpy(d + 6, MAC_A, 6);
	if (vlan) {
		d[12] = 0x81, d[13] = 0x00, d[14] = 0x20, d[15] = 0x64;	/* pcp 1 vid 100 */
		d[16] = 0x08, d[17] = 0x00;
	} else {
		d[12] = 0x08, d[13] = 0x00;
	}
	ip = d + l2;
	ip[0] = 0x45, ip[1] = 0x10, ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[4] = 0x12, ip[5] = 0x34, ip[6] = 0x40, ip[8] = 64, ip[9] = proto;
	ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 1;
	ip[16] = 192, ip[17] = 168, ip[18] = 1, ip[19] = 200;
	ip[10] = ip[11] = 0;
	{
		uint16_t c = (uint16_t)~fold(sum16(ip, 20, 0));

		ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	}
	l4 = ip + 20;
	l4[0] = 0x30, l4[1] = 0x39;	/* 12345 */
	l4[2] = 0x00, l4[3] = 0x50;	/* 80 */
	if (proto == 6)
		l4[12] = 0x50, l4[13] = 0x18;
	if (proto == 17)
		l4[4] = (uint8_t)((8 + PAYLOAD) >> 8), l4[5] = (uint8_t)(8 + PAYLOAD);
	for (int i = 0; i < PAYLOAD; i++)
		l4[l4len + i] = (uint8_t)(0xa0 + i * 7);
	if (proto == 6 || proto == 17)
		l4_fill(ip, l4, proto, l4len + PAYLOAD);
	if (proto == 132) {
		uint32_t c = crc32c_bitwise(l4, l4len + PAYLOAD);

		l4[8] = (uint8_t)c, l4[9] = (uint8_t)(c >> 8);
		l4[10] = (uint8_t)(c >> 16), l4[11] = (uint8_t)(c >> 24);
	}
	p->len = (uint16_t)(l2 + tot);
	p->l3_off = (uint8_t)l2;
	p->l4_off = (uint8_t)(l2 + 20);
	if (k) {
		memset(k, 0, sizeof(*k));
		k->dl_type = __builtin_bswap16(0x0800);
		k->nw_proto = proto;
		memcpy(&k->nw_src, ip + 12, 4);
		memcpy(&k->nw_dst, ip + 16, 4);
		memcpy(&k->tp_src, l4, 2);
		memcpy(&k->tp_dst, l4 + 2, 2);
	}
	return p;
}

static struct pkt *mk_ipv6(uint8_t proto, struct flow_key *k)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d = p->data, *ip, *l4;
	uint16_t l4len = proto == 17 ? 8 : 20, plen = (uint16_t)(l4len + PAYLOAD);

	memset(d, 0, 256);
	memcpy(d, MAC_B, 6);
	memcpy(d + 6, MAC_A, 6);
	d[12] = 0x86, d[13] = 0xdd;
	ip = d + 14;
	ip[0] = 0x60, ip[1] = 0x01, ip[2] = 0x23, ip[3] = 0x45;	/* tc 0, label 0x12345 */
	ip[4] = (uint8_t)(plen >> 8), ip[5] = (uint8_t)plen, ip[6] = proto, ip[7] = 64;
	ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[23] = 1;
	ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 2;
	l4 = ip + 40;
	l4[0] = 0x30, l4[1] = 0x39, l4[2] = 0x01, l4[3] = 0xbb;
	if (proto == 6)
		l4[12] = 0x50;
	if (proto == 17)
		l4[4] = (uint8_t)(plen >> 8), l4[5] = (uint8_t)plen;
	for (int i = 0; i < PAYLOAD; i++)
		l4[l4len + i] = (uint8_t)(0x11 * i + 3);
	l4_fill(ip, l4, proto, plen);
	p->len = (uint16_t)(14 + 40 + plen);
	p->l3_off = 14;
	p->l4_off = 54;
	if (k) {
		memset(k, 0, sizeof(*k));
		k->dl_type = __builtin_bswap16(0x86dd);
		k->nw_proto = proto;
		memcpy(k->ipv6_src, ip + 8, 16);
		memcpy(k->ipv6_dst, ip + 24, 16);
	}
	return p;
}

/* ---- list helpers ---- */

static struct dpact_buf L;

static void lreset(void)
{
	dpact_buf_free(&L);
}

static void run1(struct pkt *p, const struct flow_key *k)
{
	assert_int_equal(dpact_validate(L.data, L.len), 0);
	dpact_execute(&ctx, p, k, L.data, L.len);
}

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t v[4] = { a, b, c, d };
	uint32_t r;

	memcpy(&r, v, 4);
	return r;
}

/* run1, the one packet out of port kept for inspection (the caller frees
 * or runs it again). */
static struct pkt *run_kept(struct pkt *p, const struct flow_key *k, unsigned port)
{
	keep_pkts = true;
	run1(p, k);
	keep_pkts = false;
	assert_int_equal(out[port].n, 1);
	return kept[port][0];
}

static const uint8_t *ip_of(const uint8_t *frame)
{
	uint16_t t = (uint16_t)(frame[12] << 8 | frame[13]);

	return frame + (t == 0x8100 ? 18 : 14);
}

static void check_ipv4_frame(const uint8_t *f, uint8_t proto)
{
	const uint8_t *ip = ip_of(f);
	uint16_t tot = (uint16_t)(ip[2] << 8 | ip[3]);

	assert_true(ipv4_hdr_ok(ip));
	if (proto == 6 || proto == 17)
		assert_true(l4_ok(ip, ip + 20, proto, tot - 20u));
}

/* ---- tests ---- */

static void test_set_eth(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(6, false, &k);
	struct dpact_set_eth *e;

	(void)state;
	reset();
	lreset();
	e = dpact_put(&L, DPACT_SET_ETH);
	memcpy(e->dst, (uint8_t[]){ 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f }, 6);
	memset(e->dst_mask, 0xff, 6);
	e->src[5] = 0x77;	/* only the last byte of the source */
	e->src_mask[5] = 0xff;
	dpact_put_output(&L, 3);
	run1(p, &k);
	assert_int_equal(out[3].n, 1);
	assert_memory_equal(out[3].bytes[0], ((uint8_t[]){ 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
							    0x02, 0, 0, 0, 0, 0x77 }), 12);
	check_ipv4_frame(out[3].bytes[0], 6);
}

static void set_ipv4_case(uint8_t proto, bool vlan)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(proto, vlan, &k);
	struct dpact_set_ipv4 *s;
	const uint8_t *ip;

	reset();
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->src = ip4(172, 16, 5, 9), s->src_mask = 0xffffffff;
	s->dst = ip4(0, 0, 7, 0), s->dst_mask = ip4(0, 0, 0xff, 0);	/* one byte */
	s->tos = 0xb8, s->tos_mask = 0xfc;	/* DSCP 46, ECN kept */
	s->ttl = 9, s->ttl_mask = 0xff;
	dpact_put_output(&L, 1);
	run1(p, &k);
	assert_int_equal(out[1].n, 1);
	ip = ip_of(out[1].bytes[0]);
	assert_memory_equal(ip + 12, ((uint8_t[]){ 172, 16, 5, 9, 192, 168, 7, 200 }), 8);
	assert_int_equal(ip[1], 0xb8);
	assert_int_equal(ip[8], 9);
	check_ipv4_frame(out[1].bytes[0], proto);
}

static void test_set_ipv4(void **state)
{
	(void)state;
	set_ipv4_case(6, false);
	set_ipv4_case(17, false);
	set_ipv4_case(6, true);
	set_ipv4_case(1, false);	/* ICMP: no pseudo-header */
}

static void test_udp_zero_csum(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(17, false, &k);
	struct dpact_set_ipv4 *s;
	struct dpact_set_l4 *l;

	(void)state;
	p->data[34 + 6] = p->data[34 + 7] = 0;	/* "no checksum" */
	reset();
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->dst = ip4(8, 8, 8, 8), s->dst_mask = 0xffffffff;
	l = dpact_put(&L, DPACT_SET_L4_PORTS);
	l->proto = 17, l->dst = __builtin_bswap16(53), l->dst_mask = 0xffff;
	dpact_put_output(&L, 1);
	run1(p, &k);
	assert_int_equal(out[1].bytes[0][34 + 6], 0);
	assert_int_equal(out[1].bytes[0][34 + 7], 0);
	assert_int_equal(out[1].bytes[0][34 + 3], 53);
	assert_true(ipv4_hdr_ok(out[1].bytes[0] + 14));
}

/* A frame whose checksum is left to the device: the field holds the
 * uncomplemented pseudo-header sum (as Linux sets it for CHECKSUM_PARTIAL). */
static void make_partial(struct pkt *p, uint8_t proto)
{
	uint8_t *ip = p->data + p->l3_off, *l4 = p->data + p->l4_off;
	uint32_t l4len = p->len - p->l4_off;
	uint16_t off = l4_csum_off(proto), s = fold(pseudo_sum(ip, proto, l4len));

	l4[off] = (uint8_t)(s >> 8), l4[off + 1] = (uint8_t)s;
	p->flags |= PKT_F_CSUM_PARTIAL;
	p->csum_start = p->l4_off;
	p->csum_offset = off;
}

/* What the device does: sum from csum_start to the end, store the complement. */
static void complete_partial(uint8_t *f, uint16_t len, uint16_t start, uint16_t off)
{
	uint16_t c = (uint16_t)~fold(sum16(f + start, len - start, 0));

	f[start + off] = (uint8_t)(c >> 8), f[start + off + 1] = (uint8_t)c;
}

static void test_csum_partial(void **state)
{
	(void)state;
	for (int v6 = 0; v6 < 2; v6++) {
		for (int proto = 6; proto <= 17; proto += 11) {
			struct flow_key k;
			struct pkt *p = v6 ? mk_ipv6((uint8_t)proto, &k) : mk_ipv4((uint8_t)proto, true, &k);
			struct dpact_set_l4 *l;
			struct dpact_vlan *pv;
			uint16_t start;
			uint8_t f[256];

			make_partial(p, (uint8_t)proto);
			start = p->csum_start;
			reset();
			lreset();
			if (v6) {
				struct dpact_set_ipv6 *s = dpact_put(&L, DPACT_SET_IPV6);

				memset(s->src_mask, 0xff, 16);
				s->src[0] = 0xfd, s->src[15] = 0x99;
				s->dst[15] = 0x42, s->dst_mask[15] = 0xff;
			} else {
				struct dpact_set_ipv4 *s = dpact_put(&L, DPACT_SET_IPV4);

				s->src = ip4(1, 2, 3, 4), s->src_mask = 0xffffffff;
				s->ttl = 3, s->ttl_mask = 0xff;
			}
			l = dpact_put(&L, DPACT_SET_L4_PORTS);
			l->proto = (uint8_t)proto, l->src = __builtin_bswap16(999), l->src_mask = 0xffff;
			/* A push moves csum_start along with the headers. */
			pv = dpact_put(&L, DPACT_PUSH_VLAN);
			pv->tpid = 0x88a8, pv->tci = __builtin_bswap16(7);
			dpact_put_output(&L, 2);
			p = run_kept(p, &k, 2);
			assert_int_equal(p->csum_start, start + 4);
			memcpy(f, p->data, p->len);
			complete_partial(f, p->len, p->csum_start, p->csum_offset);
			{
				const uint8_t *ip = f + p->l3_off;

				assert_int_equal(p->l3_off, v6 ? 18 : 22);
				assert_true(l4_ok(ip, f + p->l4_off, (uint8_t)proto, p->len - p->l4_off));
				if (!v6)
					assert_true(ipv4_hdr_ok(ip));
			}
			pkt_free(p);
		}
	}
}

static void test_set_l4_ports(void **state)
{
	(void)state;
	/* The oracle itself, on the RFC 3720 B.4 vector. */
	assert_int_equal(crc32c_bitwise((const uint8_t *)"123456789", 9), 0xe3069283);
	for (int i = 0; i < 3; i++) {
		uint8_t proto = (uint8_t[]){ 6, 17, 132 }[i];
		struct flow_key k;
		struct pkt *p = mk_ipv4(proto, false, &k);
		struct dpact_set_l4 *l;
		const uint8_t *f, *l4;

		reset();
		lreset();
		l = dpact_put(&L, DPACT_SET_L4_PORTS);
		l->proto = proto;
		l->src = __builtin_bswap16(40000), l->src_mask = 0xffff;
		l->dst = __builtin_bswap16(8080), l->dst_mask = 0xffff;
		dpact_put_output(&L, 4);
		run1(p, &k);
		assert_int_equal(out[4].n, 1);
		f = out[4].bytes[0];
		l4 = f + 34;
		assert_int_equal(l4[0] << 8 | l4[1], 40000);
		assert_int_equal(l4[2] << 8 | l4[3], 8080);
		check_ipv4_frame(f, proto);
		if (proto == 132) {
			uint8_t c[64];
			uint32_t crc, got = (uint32_t)(l4[8] | l4[9] << 8 | l4[10] << 16 |
						       (uint32_t)l4[11] << 24);
			size_t n = out[4].len[0] - 34u;

			memcpy(c, l4, n);
			memset(c + 8, 0, 4);
			crc = crc32c_bitwise(c, n);
			assert_int_equal(got, crc);
		}
	}
	/* SCTP fragment: cannot recompute, dropped with its reason. */
	{
		struct flow_key k;
		struct pkt *p = mk_ipv4(132, false, &k);
		struct dpact_set_l4 *l;

		k.nw_frag = FLOW_FRAG_ANY;
		reset();
		lreset();
		l = dpact_put(&L, DPACT_SET_L4_PORTS);
		l->proto = 132, l->src = 1, l->src_mask = 0xffff;
		dpact_put_output(&L, 4);
		run1(p, &k);
		assert_int_equal(out[4].n, 0);
		assert_int_equal(ctx.drops[DPACT_DROP_SCTP_FRAG], 1);
	}
}

static void test_set_ipv6(void **state)
{
	(void)state;
	for (int proto = 6; proto <= 17; proto += 11) {
		struct flow_key k;
		struct pkt *p = mk_ipv6((uint8_t)proto, &k);
		struct dpact_set_ipv6 *s;
		const uint8_t *ip;

		reset();
		lreset();
		s = dpact_put(&L, DPACT_SET_IPV6);
		memset(s->dst_mask, 0xff, 16);
		s->dst[0] = 0xfe, s->dst[1] = 0x80, s->dst[15] = 0x33;
		s->src[7] = 0x5a, s->src_mask[7] = 0xff;
		s->tc = 0xb8, s->tc_mask = 0xff;
		s->label = __builtin_bswap32(0xabcde), s->label_mask = __builtin_bswap32(0xfffff);
		s->hlim = 17, s->hlim_mask = 0xff;
		dpact_put_output(&L, 1);
		run1(p, &k);
		ip = out[1].bytes[0] + 14;
		assert_memory_equal(ip, ((uint8_t[]){ 0x6b, 0x8a, 0xbc, 0xde }), 4);
		assert_int_equal(ip[7], 17);
		assert_int_equal(ip[8 + 7], 0x5a);
		assert_int_equal(ip[24], 0xfe);
		assert_int_equal(ip[39], 0x33);
		assert_true(l4_ok(ip, ip + 40, (uint8_t)proto, out[1].len[0] - 54u));
	}
}

static void test_vlan_push_pop(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(6, false, &k);
	uint8_t orig[256];
	uint16_t olen = p->len;
	struct dpact_vlan *v;
	struct dpact_set_ipv4 *s;

	(void)state;
	memcpy(orig, p->data, olen);
	reset();
	lreset();
	v = dpact_put(&L, DPACT_PUSH_VLAN);
	v->tpid = 0x8100, v->tci = __builtin_bswap16(0x6005);	/* pcp 3 vid 5 */
	/* A rewrite after the push must find the moved IPv4 header. */
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->src = ip4(9, 9, 9, 9), s->src_mask = 0xffffffff;
	v = dpact_put(&L, DPACT_SET_VLAN);
	v->tci = __builtin_bswap16(0x0009), v->mask = __builtin_bswap16(0x0fff);	/* vid 9 */
	dpact_put_output(&L, 1);
	p = run_kept(p, &k, 1);
	assert_int_equal(p->len, olen + 4);
	assert_int_equal(p->l3_off, 18);
	assert_int_equal(p->l4_off, 38);
	assert_memory_equal(p->data, orig, 12);
	assert_memory_equal(p->data + 12, ((uint8_t[]){ 0x81, 0x00, 0x60, 0x09, 0x08, 0x00 }), 6);
	assert_memory_equal(p->data + 18 + 12, ((uint8_t[]){ 9, 9, 9, 9 }), 4);
	check_ipv4_frame(p->data, 6);

	/* Pop it and undo the address: the original bytes come back. */
	reset();
	lreset();
	dpact_put(&L, DPACT_POP_VLAN);
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->src = ip4(10, 0, 0, 1), s->src_mask = 0xffffffff;
	dpact_put_output(&L, 2);
	run1(p, &k);
	assert_int_equal(out[2].n, 1);
	assert_int_equal(out[2].len[0], olen);
	assert_int_equal(out[2].l3_off[0], 14);
	assert_int_equal(out[2].l4_off[0], 34);
	assert_memory_equal(out[2].bytes[0], orig, olen);

	/* Pop on an untagged frame does nothing; set_vlan on one drops. */
	reset();
	lreset();
	dpact_put(&L, DPACT_POP_VLAN);
	dpact_put_output(&L, 2);
	run1(mk_ipv4(6, false, NULL), &k);
	assert_int_equal(out[2].n, 1);
	assert_memory_equal(out[2].bytes[0], orig, olen);
	lreset();
	v = dpact_put(&L, DPACT_SET_VLAN);
	v->mask = __builtin_bswap16(0xfff);
	dpact_put_output(&L, 2);
	run1(mk_ipv4(6, false, NULL), &k);
	assert_int_equal(out[2].n, 1);
	assert_int_equal(ctx.drops[DPACT_DROP_NO_HEADER], 1);
}

static void test_mpls_push_pop(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(17, true, &k);
	uint8_t orig[256];
	uint16_t olen = p->len;
	struct dpact_mpls *m;
	struct dpact_set_mpls *sm;
	const uint8_t *f;

	(void)state;
	memcpy(orig, p->data, olen);
	reset();
	lreset();
	m = dpact_put(&L, DPACT_PUSH_MPLS);
	m->ethertype = 0x8847, m->lse = __builtin_bswap32(100u << 12 | 5u << 9);
	m = dpact_put(&L, DPACT_PUSH_MPLS);
	m->ethertype = 0x8847, m->lse = __builtin_bswap32(200u << 12);
	sm = dpact_put(&L, DPACT_SET_MPLS);
	sm->lse = __builtin_bswap32(201u << 12), sm->mask = __builtin_bswap32(0xfffff000u);
	dpact_put(&L, DPACT_DEC_MPLS_TTL);
	dpact_put_output(&L, 1);
	p = run_kept(p, &k, 1);
	f = p->data;
	assert_int_equal(p->len, olen + 8);
	/* VLAN tag stays outside the label stack. */
	assert_memory_equal(f, orig, 16);
	assert_memory_equal(f + 16, ((uint8_t[]){ 0x88, 0x47 }), 2);
	/* top: label 201, tc 0, bos 0, ttl 64 - 1 (copied from the label below) */
	assert_memory_equal(f + 18, ((uint8_t[]){ 0x00, 0x0c, 0x90, 63 }), 4);
	/* bottom: label 100, tc 5, bos 1, ttl 64 (copied from IPv4) */
	assert_memory_equal(f + 22, ((uint8_t[]){ 0x00, 0x06, 0x4b, 64 }), 4);
	assert_memory_equal(f + 26, orig + 18, olen - 18u);
	assert_int_equal(p->l3_off, 26);
	assert_int_equal(p->l4_off, 46);

	reset();
	lreset();
	m = dpact_put(&L, DPACT_POP_MPLS);
	m->ethertype = 0x8847;
	m = dpact_put(&L, DPACT_POP_MPLS);
	m->ethertype = 0x0800;
	dpact_put(&L, DPACT_DEC_TTL);	/* the IPv4 header is found again */
	dpact_put_output(&L, 2);
	run1(p, &k);
	assert_int_equal(out[2].n, 1);
	assert_int_equal(out[2].len[0], olen);
	assert_int_equal(out[2].l3_off[0], 18);
	assert_memory_equal(out[2].bytes[0], orig, 18 + 8);
	assert_int_equal(out[2].bytes[0][18 + 8], 63);
	check_ipv4_frame(out[2].bytes[0], 17);

	/* pop_mpls on a plain IPv4 frame: no header. */
	reset();
	lreset();
	m = dpact_put(&L, DPACT_POP_MPLS);
	m->ethertype = 0x0800;
	dpact_put_output(&L, 2);
	run1(mk_ipv4(6, false, NULL), &k);
	assert_int_equal(out[2].n, 0);
	assert_int_equal(ctx.drops[DPACT_DROP_NO_HEADER], 1);
}

/* The fast paths: pop_mpls of an untagged frame (the MACs moved as fixed
 * words), set_ipv4 of the TTL alone (whole and partial mask), checked
 * against the original bytes and a full checksum; and which lists may
 * share one key between packets (dpact_writes_keys). */
static void test_untagged_pop_ttl_only(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(17, false, &k);
	uint8_t orig[256];
	uint16_t olen = p->len;
	struct dpact_mpls *m;
	struct dpact_set_ipv4 *s;

	(void)state;
	memcpy(orig, p->data, olen);
	reset();
	lreset();
	m = dpact_put(&L, DPACT_PUSH_MPLS);
	m->ethertype = 0x8847, m->lse = __builtin_bswap32(100u << 12);
	dpact_put_output(&L, 1);
	p = run_kept(p, &k, 1);
	assert_int_equal(p->len, olen + 4);
	assert_memory_equal(p->data, orig, 12);

	reset();
	lreset();
	m = dpact_put(&L, DPACT_POP_MPLS);
	m->ethertype = 0x0800;
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->ttl = 7, s->ttl_mask = 0xff;
	dpact_put_output(&L, 2);
	p = run_kept(p, &k, 2);
	assert_int_equal(p->len, olen);
	assert_int_equal(p->l3_off, 14);
	assert_int_equal(p->l4_off, 34);
	assert_memory_equal(p->data, orig, 14 + 8);
	assert_int_equal(p->data[14 + 8], 7);
	assert_int_equal(p->data[14 + 9], orig[14 + 9]);
	assert_memory_equal(p->data + 14 + 12, orig + 14 + 12, olen - 14u - 12u);
	check_ipv4_frame(p->data, 17);

	/* Partial mask: the TTL's low bits only; checksum still whole. */
	reset();
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->ttl = 0x05, s->ttl_mask = 0x0f;
	dpact_put_output(&L, 3);
	run1(p, &k);
	assert_int_equal(out[3].n, 1);
	assert_int_equal(out[3].bytes[0][14 + 8], 0x05);
	check_ipv4_frame(out[3].bytes[0], 17);

	/* Key sharing: rewrites, routes and outputs never write a key. */
	lreset();
	dpact_put(&L, DPACT_POP_MPLS);
	dpact_put(&L, DPACT_SET_IPV4);
	dpact_put(&L, DPACT_ROUTE);
	assert_false(dpact_writes_keys(L.data, L.len));
	dpact_put(&L, DPACT_CT);
	assert_true(dpact_writes_keys(L.data, L.len));
	lreset();
	dpact_put(&L, DPACT_CT_CLEAR);
	assert_true(dpact_writes_keys(L.data, L.len));
	lreset();
	dpact_put(&L, DPACT_GROUP);	/* buckets not looked into */
	assert_true(dpact_writes_keys(L.data, L.len));
	lreset();
}

static void test_dec_ttl(void **state)
{
	struct flow_key k;
	struct pkt *p;

	(void)state;
	reset();
	lreset();
	dpact_put(&L, DPACT_DEC_TTL);
	dpact_put_output(&L, 1);
	for (int ttl = 3; ttl >= 0; ttl--) {
		p = mk_ipv4(6, false, &k);
		p->data[14 + 8] = (uint8_t)ttl;
		p->data[14 + 10] = p->data[14 + 11] = 0;
		{
			uint16_t c = (uint16_t)~fold(sum16(p->data + 14, 20, 0));

			p->data[24] = (uint8_t)(c >> 8), p->data[25] = (uint8_t)c;
		}
		run1(p, &k);
	}
	assert_int_equal(out[1].n, 2);	/* ttl 3 and 2 pass */
	assert_int_equal(out[1].bytes[0][22], 2);
	assert_int_equal(out[1].bytes[1][22], 1);
	check_ipv4_frame(out[1].bytes[0], 6);
	check_ipv4_frame(out[1].bytes[1], 6);
	assert_int_equal(ctx.drops[DPACT_DROP_TTL_EXPIRED], 2);	/* ttl 1 and 0 */

	p = mk_ipv6(6, &k);
	p->data[14 + 7] = 1;
	run1(p, &k);
	assert_int_equal(ctx.drops[DPACT_DROP_TTL_EXPIRED], 3);
	p = mk_ipv6(6, &k);
	run1(p, &k);
	assert_int_equal(out[1].n, 3);
	assert_int_equal(out[1].bytes[2][14 + 7], 63);
	assert_string_equal(dpact_drop_names[DPACT_DROP_TTL_EXPIRED], "ttl_expired");
}

static void test_mirror(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(6, false, &k);
	uint8_t orig[256];
	uint16_t len = p->len;
	struct dpact_set_eth *e;

	(void)state;
	memcpy(orig, p->data, len);
	reset();
	lreset();
	dpact_put_output(&L, 1);
	dpact_put_output(&L, 2);
	dpact_put_output(&L, 3);
	keep_pkts = true;	/* hold the copies so no buffer is recycled */
	run1(p, &k);
	keep_pkts = false;
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(out[i].n, 1);
		assert_memory_equal(out[i].bytes[0], orig, len);
	}
	pkt_free(kept[1][0]);
	pkt_free(kept[2][0]);
	pkt_free(kept[3][0]);
	assert_ptr_not_equal(out[1].ptr[0], out[2].ptr[0]);
	assert_ptr_not_equal(out[2].ptr[0], out[3].ptr[0]);
	assert_ptr_equal(out[3].ptr[0], p);	/* the last output takes the original */
	assert_ptr_not_equal(out[1].buf[0], out[3].buf[0]);

	/* Rewrites after an output never reach the copy already sent. */
	reset();
	lreset();
	dpact_put_output(&L, 1);
	e = dpact_put(&L, DPACT_SET_ETH);
	memset(e->dst, 0xee, 6);
	memset(e->dst_mask, 0xff, 6);
	dpact_put_output(&L, 2);
	dpact_put(&L, DPACT_DEC_TTL);	/* trimmed by finalize */
	dpact_finalize(&L);
	assert_int_equal(L.len, 8 + sizeof(struct dpact_set_eth) + 8);
	run1(mk_ipv4(6, false, &k), &k);
	assert_memory_equal(out[1].bytes[0], orig, len);
	assert_memory_equal(out[2].bytes[0], ((uint8_t[]){ 0xee, 0xee, 0xee, 0xee, 0xee, 0xee }), 6);
	assert_memory_equal(out[2].bytes[0] + 6, orig + 6, len - 6u);
	assert_int_equal(ctx.drops[DPACT_DROP_FLOW_DROP], 0);

	/* An empty list is the drop action. */
	lreset();
	run1(mk_ipv4(6, false, &k), &k);
	assert_int_equal(ctx.drops[DPACT_DROP_FLOW_DROP], 1);

	/* Copies fail cleanly when the pool is empty. */
	reset();
	lreset();
	dpact_put_output(&L, 1);
	dpact_put_output(&L, 2);
	{
		struct pkt *hold[512];
		struct pkt *q = mk_ipv4(6, false, &k);
		uint16_t n = pkt_alloc_bulk(hold, 512);

		run1(q, &k);
		pkt_free_bulk(hold, n);
	}
	assert_int_equal(out[1].n, 0);
	assert_int_equal(out[2].n, 1);
	assert_int_equal(ctx.drops[DPACT_DROP_CLONE_NO_BUF], 1);
}

static void test_batch(void **state)
{
	struct flow_key keys[PKT_BURST];
	const struct flow_key *kp[PKT_BURST];
	struct pkt *pk[PKT_BURST];
	struct dpact_set_ipv4 *s;

	(void)state;
	reset();
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->dst = ip4(1, 1, 1, 1), s->dst_mask = 0xffffffff;
	dpact_put(&L, DPACT_DEC_TTL);
	dpact_put_output(&L, 5);
	for (int i = 0; i < PKT_BURST; i++) {
		pk[i] = mk_ipv4(i & 1 ? 17 : 6, false, &keys[i]);
		if (i == 7)
			pk[i]->data[22] = 1;	/* expires: squeezed out */
		kp[i] = &keys[i];
	}
	dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
	assert_int_equal(out[5].n, PKT_BURST - 1);
	assert_int_equal(n_out_calls, 1);	/* one output call for the batch */
	assert_int_equal(ctx.drops[DPACT_DROP_TTL_EXPIRED], 1);
	for (unsigned i = 0; i < out[5].n; i++) {
		assert_memory_equal(out[5].bytes[i] + 30, ((uint8_t[]){ 1, 1, 1, 1 }), 4);
		assert_true(ipv4_hdr_ok(out[5].bytes[i] + 14));
	}
	assert_int_equal(pkt_pool_avail(pool), 512);
}

/* A group whose bucket b outputs to port base + b. */
static int add_group(uint32_t id, enum group_type t, const uint16_t *weights, const uint16_t *watch,
		     uint32_t n, uint16_t base)
{
	struct group_bucket_spec sp[8];
	struct dpact_buf bb[8];
	int r;

	memset(bb, 0, sizeof(bb));
	memset(sp, 0, sizeof(sp));
	for (uint32_t i = 0; i < n; i++) {
		dpact_put_output(&bb[i], (uint16_t)(base + i));
		sp[i] = (struct group_bucket_spec){
			.weight = weights ? weights[i] : 0,
			.watch_port = watch ? watch[i] : PORT_ID_NONE,
			.dpacts = bb[i].data, .dpacts_len = bb[i].len,
		};
	}
	r = group_add(id, t, sp, n);
	for (uint32_t i = 0; i < n; i++)
		dpact_buf_free(&bb[i]);
	return r;
}

static void run_group(uint32_t id, struct pkt *p, const struct flow_key *k)
{
	struct dpact_id *g;

	lreset();
	g = dpact_put(&L, DPACT_GROUP);
	g->id = id;
	run1(p, k);
}

static void test_group_select(void **state)
{
	const uint16_t w[3] = { 1, 2, 1 };
	struct flow_key k;
	unsigned cnt[3] = { 0 };
	const unsigned N = 4000;

	(void)state;
	reset();
	assert_int_equal(add_group(10, GROUP_SELECT, w, NULL, 3, 1), 0);
	assert_int_equal(add_group(10, GROUP_SELECT, w, NULL, 3, 1), -EEXIST);
	for (unsigned i = 0; i < N; i++) {
		struct pkt *p = mk_ipv4(6, false, &k);
		unsigned before[3] = { out[1].n, out[2].n, out[3].n };
		int hit = -1;

		k.nw_src = ip4(10, (uint8_t)(i >> 8), (uint8_t)i, 1);
		k.tp_src = (uint16_t)(i * 7);
		memset(out, 0, sizeof(out));
		run_group(10, p, &k);
		for (int b = 0; b < 3; b++)
			if (out[b + 1].n)
				hit = b;
		(void)before;
		assert_true(hit >= 0);
		cnt[hit]++;
		/* Stable: the same 5-tuple takes the same bucket again. */
		if (i % 97 == 0) {
			memset(out, 0, sizeof(out));
			run_group(10, mk_ipv4(6, false, NULL), &k);
			assert_int_equal(out[hit + 1].n, 1);
		}
	}
	/* 1:2:1 within ±15% of the expected shares. */
	assert_in_range(cnt[0], N / 4 * 85 / 100, N / 4 * 115 / 100);
	assert_in_range(cnt[1], N / 2 * 85 / 100, N / 2 * 115 / 100);
	assert_in_range(cnt[2], N / 4 * 85 / 100, N / 4 * 115 / 100);
	{
		const struct group *g = group_find(10);
		uint64_t tot = 0;

		assert_non_null(g);
		for (uint32_t b = 0; b < 3; b++)
			tot += group_bucket_stats(g, b).packets;
		assert_int_equal(tot, N + (N + 96) / 97);
	}
	/* Weight 0 everywhere: nothing to choose. */
	{
		const uint16_t z[2] = { 0, 0 };

		assert_int_equal(add_group(11, GROUP_SELECT, z, NULL, 2, 1), 0);
		reset();
		run_group(11, mk_ipv4(6, false, &k), &k);
		assert_int_equal(ctx.drops[DPACT_DROP_GROUP_NO_BUCKET], 1);
	}
	/* A burst of mixed 5-tuples splits across buckets, all delivered. */
	{
		struct flow_key keys[PKT_BURST];
		const struct flow_key *kp[PKT_BURST];
		struct pkt *pk[PKT_BURST];
		struct dpact_id *g;

		reset();
		for (int i = 0; i < PKT_BURST; i++) {
			pk[i] = mk_ipv4(17, false, &keys[i]);
			keys[i].tp_dst = (uint16_t)(i * 131);
			kp[i] = &keys[i];
		}
		lreset();
		g = dpact_put(&L, DPACT_GROUP);
		g->id = 10;
		dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
		assert_int_equal(out[1].n + out[2].n + out[3].n, PKT_BURST);
		assert_true(out[1].n && out[2].n && out[3].n);
	}
	assert_int_equal(group_del(10), 0);
	assert_int_equal(group_del(10), -ENOENT);
	reset();
	run_group(10, mk_ipv4(6, false, &k), &k);
	assert_int_equal(ctx.drops[DPACT_DROP_GROUP_MISSING], 1);
	group_del(OFPG_ALL);
	assert_int_equal(group_count(), 0);
}

static void test_group_ff(void **state)
{
	const uint16_t watch[2] = { 5, 6 };
	struct flow_key k;

	(void)state;
	reset();
	group_port_set_live(5, true);
	group_port_set_live(6, true);
	assert_int_equal(add_group(20, GROUP_FF, NULL, watch, 2, 5), 0);
	run_group(20, mk_ipv4(6, false, &k), &k);
	assert_int_equal(out[5].n, 1);
	group_port_set_live(5, false);
	run_group(20, mk_ipv4(6, false, &k), &k);
	assert_int_equal(out[6].n, 1);
	group_port_set_live(6, false);
	run_group(20, mk_ipv4(6, false, &k), &k);
	assert_int_equal(ctx.drops[DPACT_DROP_GROUP_NO_BUCKET], 1);
	group_port_set_live(5, true);
	run_group(20, mk_ipv4(6, false, &k), &k);
	assert_int_equal(out[5].n, 2);
	assert_int_equal(group_bucket_stats(group_find(20), 0).packets, 2);
	assert_int_equal(group_bucket_stats(group_find(20), 1).packets, 1);
	group_port_set_live(5, false);
	group_port_set_live(6, false);
	group_del(20);
}

static void test_group_all(void **state)
{
	struct flow_key k;
	struct pkt *p = mk_ipv4(6, false, &k);
	uint8_t orig[256];
	uint16_t len = p->len;
	struct dpact_id *g;

	(void)state;
	memcpy(orig, p->data, len);
	reset();
	assert_int_equal(add_group(30, GROUP_ALL, NULL, NULL, 3, 1), 0);
	/* group then output: the group gets a copy, the output the original */
	lreset();
	g = dpact_put(&L, DPACT_GROUP);
	g->id = 30;
	dpact_put_output(&L, 7);
	run1(p, &k);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(out[i].n, 1);
		assert_memory_equal(out[i].bytes[0], orig, len);
	}
	assert_int_equal(out[7].n, 1);
	assert_ptr_equal(out[7].ptr[0], p);
	/* indirect needs exactly one bucket */
	assert_int_equal(add_group(31, GROUP_INDIRECT, NULL, NULL, 2, 1), -EINVAL);
	assert_int_equal(add_group(31, GROUP_INDIRECT, NULL, NULL, 1, 4), 0);
	run_group(31, mk_ipv4(6, false, &k), &k);
	assert_int_equal(out[4].n, 1);
	/* mod replaces the buckets */
	{
		struct dpact_buf bb = { 0 };
		struct group_bucket_spec sp;

		dpact_put_output(&bb, 6);
		sp = (struct group_bucket_spec){ .watch_port = PORT_ID_NONE, .dpacts = bb.data,
						 .dpacts_len = bb.len };
		assert_int_equal(group_mod(31, GROUP_INDIRECT, &sp, 1), 0);
		assert_int_equal(group_mod(99, GROUP_INDIRECT, &sp, 1), -ENOENT);
		dpact_buf_free(&bb);
	}
	run_group(31, mk_ipv4(6, false, &k), &k);
	assert_int_equal(out[6].n, 1);
	/* ofpacts without a compile hook cannot be turned into dpacts */
	{
		uint64_t dummy = 0;
		struct group_bucket_spec sp = { .watch_port = PORT_ID_NONE, .ofpacts = &dummy,
						.ofpacts_len = 8 };

		assert_int_equal(group_add(32, GROUP_ALL, &sp, 1), -EOPNOTSUPP);
	}
	group_del(OFPG_ALL);
}

static void test_meter(void **state)
{
	struct meter_band_spec band = { METER_BAND_DROP, 1000, 10 };	/* 1000 pkt/s, burst 10 */
	struct flow_key keys[PKT_BURST];
	const struct flow_key *kp[PKT_BURST];
	struct pkt *pk[PKT_BURST];
	struct dpact_id *m;
	struct meter_ctr st;

	(void)state;
	reset();
	assert_int_equal(meter_add(1, METER_F_PKTPS | METER_F_BURST, &band, 1), 0);
	assert_int_equal(meter_add(2, METER_F_PKTPS | METER_F_KBPS, &band, 1), -EINVAL);
	lreset();
	m = dpact_put(&L, DPACT_METER);
	m->id = 1;
	dpact_put_output(&L, 1);
	fake_now = 1000000000ULL;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < PKT_BURST; i++) {
			pk[i] = mk_ipv4(6, false, &keys[i]);
			kp[i] = &keys[i];
		}
		dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
		fake_now += 5000000;	/* 5 ms: 5 tokens */
	}
	/* 10 (burst) + 5 + 5 of 96 */
	assert_int_equal(out[1].n, 20);
	assert_int_equal(ctx.drops[DPACT_DROP_METER], 76);
	st = meter_stats(meter_find(1));
	assert_int_equal(st.packets, 96);
	assert_int_equal(st.band_packets[0], 76);
	/* A long pause refills only up to the burst. */
	fake_now += 10ULL * 1000000000ULL;
	reset();
	for (int i = 0; i < PKT_BURST; i++) {
		pk[i] = mk_ipv4(6, false, &keys[i]);
		kp[i] = &keys[i];
	}
	dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
	assert_int_equal(out[1].n, 10);

	/* kbps: 800 kbit/s, burst 8 kbit = 1000 bytes ... but at least one max
	 * frame fits: use a big burst instead. 64 kbit burst = 8000 bytes. */
	{
		struct meter_band_spec kb = { METER_BAND_DROP, 800, 64 };
		unsigned plen;

		assert_int_equal(meter_add(3, METER_F_KBPS | METER_F_BURST, &kb, 1), 0);
		m->id = 3;
		reset();
		for (int i = 0; i < PKT_BURST; i++) {
			pk[i] = mk_ipv4(6, false, &keys[i]);
			kp[i] = &keys[i];
		}
		plen = pk[0]->len;
		dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
		assert_int_equal(out[1].n, MIN(PKT_BURST, (int)(8000 / plen)));
	}
	assert_int_equal(meter_del(3), 0);
	reset();
	run1(mk_ipv4(6, false, &keys[0]), &keys[0]);
	assert_int_equal(ctx.drops[DPACT_DROP_METER_MISSING], 1);
	meter_del(METER_ALL);
	assert_int_equal(meter_count(), 0);
}

static void test_format_validate(void **state)
{
	struct dpact_set_ipv4 *s;
	struct dpact_vlan *v;
	struct dpact_id *g;
	char buf[256];

	(void)state;
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->dst = ip4(10, 0, 0, 9), s->dst_mask = 0xffffffff;
	s = dpact_put_merge(&L, DPACT_SET_IPV4);	/* merged into the same record */
	s->ttl = 7, s->ttl_mask = 0xff;
	v = dpact_put(&L, DPACT_PUSH_VLAN);
	v->tpid = 0x8100, v->tci = __builtin_bswap16(0x2064);
	g = dpact_put(&L, DPACT_GROUP);
	g->id = 3;
	dpact_put_output(&L, 2);
	assert_int_equal(dpact_validate(L.data, L.len), 0);
	dpact_format(L.data, L.len, buf, sizeof(buf));
	assert_string_equal(buf, "set(ipv4(dst=10.0.0.9,ttl=7)),push_vlan(vid=100,pcp=1),group(3),2");
	dpact_format(NULL, 0, buf, sizeof(buf));
	assert_string_equal(buf, "drop");
	v->tpid = 0x1234;
	assert_int_equal(dpact_validate(L.data, L.len), -EINVAL);
	v->tpid = 0x8100;
	((struct dpact *)L.data)->len = 1;
	assert_int_equal(dpact_validate(L.data, L.len), -EINVAL);
	lreset();
}

/* Not a test of correctness: prints the cost per packet of the common lists
 * next to a bare call of the output hook. */
static unsigned bench_sink;

static void count_output(struct dp_pmd *pmd, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)pmd, (void)port, (void)pkts;
	bench_sink += n;
}

static void test_cost(void **state)
{
	struct flow_key keys[PKT_BURST];
	const struct flow_key *kp[PKT_BURST];
	struct pkt *pk[PKT_BURST];
	struct dpact_set_ipv4 *s;
	const int iters = 20000;
	uint64_t t0, t1, t2;

	(void)state;
	reset();
	ctx.output = count_output;
	for (int i = 0; i < PKT_BURST; i++) {
		pk[i] = mk_ipv4(6, false, &keys[i]);
		kp[i] = &keys[i];
	}
	lreset();
	dpact_put_output(&L, 1);
	t0 = time_ns();
	for (int i = 0; i < iters; i++)
		dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
	t1 = time_ns();
	lreset();
	s = dpact_put(&L, DPACT_SET_IPV4);
	s->dst = ip4(1, 1, 1, 1), s->dst_mask = 0xffffffff;
	s->ttl = 9, s->ttl_mask = 0xff;
	dpact_put_output(&L, 1);
	for (int i = 0; i < iters; i++)
		dpact_execute_batch(&ctx, pk, kp, PKT_BURST, L.data, L.len);
	t2 = time_ns();
	print_message("dpact cost: output %.2f ns/pkt, set(ipv4 dst,ttl)+output %.2f ns/pkt\n",
		      (double)(t1 - t0) / iters / PKT_BURST, (double)(t2 - t1) / iters / PKT_BURST);
	for (int i = 0; i < 4; i++) {
		uint64_t a = time_ns();

		for (int j = 0; j < iters; j++)
			dpact_execute(&ctx, pk[0], kp[0], L.data, L.len);
		if (i == 3)
			print_message("dpact cost: set+output, one packet per call %.2f ns/pkt\n",
				      (double)(time_ns() - a) / iters);
	}
	{
		struct dpact_buf o = { 0 };
		dpact_output_fn *volatile direct = count_output;
		uint64_t a, b2, c;

		dpact_put_output(&o, 1);
		a = time_ns();
		for (int j = 0; j < iters * 10; j++)
			dpact_execute(&ctx, pk[0], kp[0], o.data, o.len);
		b2 = time_ns();
		for (int j = 0; j < iters * 10; j++)
			direct(NULL, 1, &pk[0], 1);
		c = time_ns();
		print_message("dpact cost: single output, one packet per call %.2f ns/pkt "
			      "(bare hook call %.2f ns)\n", (double)(b2 - a) / iters / 10,
			      (double)(c - b2) / iters / 10);
		dpact_buf_free(&o);
	}
	assert_int_equal(bench_sink, 2u * iters * PKT_BURST + 4u * iters + 20u * iters);
	pkt_free_bulk(pk, PKT_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_eth),
		cmocka_unit_test(test_set_ipv4),
		cmocka_unit_test(test_udp_zero_csum),
		cmocka_unit_test(test_csum_partial),
		cmocka_unit_test(test_set_l4_ports),
		cmocka_unit_test(test_set_ipv6),
		cmocka_unit_test(test_vlan_push_pop),
		cmocka_unit_test(test_mpls_push_pop),
		cmocka_unit_test(test_untagged_pop_ttl_only),
		cmocka_unit_test(test_dec_ttl),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_group_select),
		cmocka_unit_test(test_group_ff),
		cmocka_unit_test(test_group_all),
		cmocka_unit_test(test_meter),
		cmocka_unit_test(test_format_validate),
		cmocka_unit_test(test_cost),
	};

	time_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
