/* Unit tests for src/tnl: encapsulation and decapsulation round trips for
 * every tunnel type through the real datapath entry points (tnl_push_batch
 * on the way out, tnl_rx on the way in), outer checksums verified from
 * scratch, the entropy source port, MTU, unresolved neighbours, ARP, and
 * malformed outer headers (each a counted drop, never a crash). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pkt.h"
#include "ctl/ctl.h"
#include "dp/dp.h"
#include "dp/dpact.h"
#include "dp/flow.h"
#include "dp/parse.h"
#include "port/port.h"
#include "tnl/tnl.h"
#include "tnl/tnl_priv.h"

static struct pkt_pool *pool;

/* ---- a fake uplink that records what it is given ---- */

#define NREC 16
struct rec {
	unsigned n;
	uint16_t len[NREC];
	uint8_t bytes[NREC][512];
};
static struct rec up_tx;		/* the uplink's own transmit (ARP) */
static struct rec out_rec;		/* ctx->output (encapsulated packets) */
static uint16_t out_port;

static void record(struct rec *r, struct pkt **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (r->n < NREC) {
			r->len[r->n] = pkts[i]->len;
			memcpy(r->bytes[r->n], pkts[i]->data, MIN(pkts[i]->len, 512));
			r->n++;
		}
		pkt_free(pkts[i]);
	}
}

static uint16_t up_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid, (void)pkts, (void)n;
	return 0;
}

static uint16_t up_txb(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid;
	record(&up_tx, pkts, n);
	return n;
}

static void up_close(struct port *port)
{
	port_free(port);
}

static const struct port_ops up_ops = { .rx_burst = up_rx, .tx_burst = up_txb, .close = up_close };

static void fake_output(struct dp_pmd *pmd, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)pmd;
	out_port = port;
	record(&out_rec, pkts, n);
}

/* ---- fixture: uplink 192.168.1.1/24 with peer .2 resolved ---- */

static struct port *uplink;
static const uint8_t UP_MAC[6] = { 0x02, 0, 0, 0, 1, 1 };
static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 1, 2 };
static const uint8_t VM_A[6] = { 0x02, 0, 0, 0, 0xa, 1 };
static const uint8_t VM_B[6] = { 0x02, 0, 0, 0, 0xa, 2 };
static uint32_t LOCAL, PEER, FAR;
static uint8_t LOCAL6[16], PEER6[16];
static struct dpact_ctx actx;

static int setup(void **state)
{
	char err[128];

	(void)state;
	pool = pkt_pool_create("test", 512);
	assert_non_null(pool);
	pkt_pool_set_thread(pool);
	LOCAL = inet_addr("192.168.1.1");
	PEER = inet_addr("192.168.1.2");
	FAR = inet_addr("10.9.9.9");
	uplink = port_alloc("up0", "fake", &up_ops);
	assert_non_null(uplink);
	assert_int_equal(port_add(uplink), 0);
	assert_int_equal(tnl_underlay_set(uplink, LOCAL, 24, 0, UP_MAC, 1500, err, sizeof(err)), 0);
	assert_int_equal(tnl_neigh_add(PEER, PEER_MAC, uplink), 0);
	dpact_ctx_init(&actx, NULL, 0, fake_output);
	return 0;
}

static void reset(void)
{
	memset(&up_tx, 0, sizeof(up_tx));
	memset(&out_rec, 0, sizeof(out_rec));
}

static long long counter(const char *name)
{
	json_t *o = json_object();
	long long v;

	tnl_stats_json(o);
	assert_non_null(json_object_get(o, name));
	v = json_integer_value(json_object_get(o, name));
	json_decref(o);
	return v;
}

/* ---- packets ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t csum(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be16(d + i);
	if (n & 1)
		s += (uint32_t)d[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An inner Ethernet + IPv4 + UDP frame of len bytes, sport varies the flow. */
static struct pkt *inner(uint16_t len, uint16_t sport)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d, *ip;
	uint16_t c;

	assert_non_null(p);
	d = p->data;
	memset(d, 0, len);
	memcpy(d, VM_B, 6);
	memcpy(d + 6, VM_A, 6);
	d[12] = 0x08;
	ip = d + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((len - 14) >> 8);
	ip[3] = (uint8_t)(len - 14);
	ip[8] = 33;
	ip[9] = 17;
	ip[12] = 10, ip[15] = 1;
	ip[16] = 10, ip[19] = 2;
	c = (uint16_t)~csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	ip[20] = (uint8_t)(sport >> 8);
	ip[21] = (uint8_t)sport;
	ip[23] = 53;
	ip[24] = (uint8_t)((len - 34) >> 8);
	ip[25] = (uint8_t)(len - 34);
	for (uint16_t i = 42; i < len; i++)
		d[i] = (uint8_t)i;
	p->len = len;
	return p;
}

/* Encapsulate pkts with a record to dst (dst6 when not NULL: IPv6). */
static void push_to(enum tnl_type t, uint64_t key, uint32_t dst, const uint8_t *dst6,
		    struct pkt **pkts, uint16_t n, uint8_t flags)
{
	struct dpact_buf b = { 0 };
	struct dpact_tnl_push *a = tnl_encap_put(&b, t, dst, key, PORT_ID_NONE, 0);
	struct flow_key keys[8];
	const struct flow_key *kp[8];

	assert_non_null(a);
	a->flags = flags;
	if (dst6) {
		a->flags |= DPACT_TNL_IPV6;
		memcpy(a->dst6, dst6, 16);
	}
	assert_int_equal(dpact_validate(b.data, b.len), 0);
	for (uint16_t i = 0; i < n; i++) {
		flow_extract(pkts[i], &keys[i]);
		kp[i] = &keys[i];
	}
	tnl_push_batch(&actx, a, pkts, kp, n);
	dpact_buf_free(&b);
}

static void push(enum tnl_type t, uint64_t key, uint32_t dst, struct pkt **pkts, uint16_t n,
		 uint8_t flags)
{
	push_to(t, key, dst, NULL, pkts, n, flags);
}

/* Outer checks common to every type: MACs, IPv4 header and its checksum,
 * DF, TTL, addresses; UDP length, source port range, checksum when set. */
static void check_outer(const uint8_t *f, uint16_t len, uint8_t proto, uint16_t dport)
{
	const uint8_t *ip = f + 14;

	assert_memory_equal(f, PEER_MAC, 6);
	assert_memory_equal(f + 6, UP_MAC, 6);
	assert_int_equal(be16(f + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(be16(ip + 2), len - 14);
	assert_int_equal(csum(ip, 20, 0), 0xffff);
	assert_int_equal(be16(ip + 6), 0x4000);		/* DF, no fragment */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], proto);
	assert_memory_equal(ip + 12, &LOCAL, 4);
	assert_memory_equal(ip + 16, &PEER, 4);
	if (proto == 17) {
		const uint8_t *u = ip + 20;

		assert_true(be16(u) >= 49152);
		assert_int_equal(be16(u + 2), dport);
		assert_int_equal(be16(u + 4), len - 34);
		if (be16(u + 6)) {
			uint32_t s = csum(ip + 12, 8, 0) + 17 + be16(u + 4);

			assert_int_equal(csum(u, be16(u + 4), s), 0xffff);
		}
	}
}

static const uint16_t UDP_PORTS[TNL_N_TYPES] = {
	[TNL_VXLAN] = 4789, [TNL_GENEVE] = 6081, [TNL_MPLSOUDP] = 6635,
};

static void roundtrip(enum tnl_type t, uint64_t key, uint8_t flags, uint8_t proto,
		      uint16_t dport, unsigned hlen)
{
	struct pkt *p = inner(100, 1000);
	uint8_t orig[100], frame[512];
	struct tnl_decap d;
	int r;

	memcpy(orig, p->data, 100);
	reset();
	push(t, key, PEER, &p, 1, flags);
	assert_int_equal(out_rec.n, 1);
	assert_int_equal(out_port, uplink->id);
	check_outer(out_rec.bytes[0], out_rec.len[0], proto, dport);
	memcpy(frame, out_rec.bytes[0], out_rec.len[0]);
	/* The receiving side: swap roles (we are PEER receiving from LOCAL). */
	r = tnl_decap_parse(frame, out_rec.len[0], PEER, UDP_PORTS, &d);
	assert_int_equal(r, 0);
	assert_int_equal(d.type, t);
	assert_int_equal(d.src, LOCAL);
	assert_int_equal(d.dst, PEER);
	assert_int_equal(d.ttl, 64);
	assert_true(d.flags & TNL_F_DONT_FRAGMENT);
	if (t == TNL_MPLSOGRE || t == TNL_MPLSOUDP) {
		const uint8_t *m = frame + d.inner_off;
		uint32_t lse = (uint32_t)m[14] << 24 | (uint32_t)m[15] << 16 | m[16] << 8 | m[17];

		/* Ethernet rebuilt with the outer MACs, one label: key, BOS,
		 * TTL from the inner IP; then the inner IP packet unchanged. */
		assert_int_equal(out_rec.len[0], hlen + 4 + 86);
		assert_memory_equal(m, PEER_MAC, 6);
		assert_memory_equal(m + 6, UP_MAC, 6);
		assert_int_equal(be16(m + 12), 0x8847);
		assert_int_equal(lse >> 12, key);
		assert_int_equal((lse >> 8) & 1, 1);
		assert_int_equal(lse & 0xff, 33);
		assert_int_equal(d.inner_len, 14 + 4 + 86);
		assert_memory_equal(m + 18, orig + 14, 86);
	} else {
		assert_int_equal(out_rec.len[0], hlen + 100);
		assert_int_equal(d.inner_len, 100);
		assert_memory_equal(frame + d.inner_off, orig, 100);
		if (t != TNL_GRE || (flags & DPACT_TNL_KEY))
			assert_int_equal(d.key, key);
		assert_int_equal(!!(d.flags & TNL_F_KEY), t != TNL_GRE || (flags & DPACT_TNL_KEY));
	}
}

static void test_vxlan(void **state)
{
	(void)state;
	roundtrip(TNL_VXLAN, 5001, 0, 17, 4789, 50);
	/* With a UDP checksum (optional for IPv4, RFC 7348 §5). */
	roundtrip(TNL_VXLAN, 0xabcdef, DPACT_TNL_CSUM, 17, 4789, 50);
}

static void test_geneve(void **state)
{
	(void)state;
	roundtrip(TNL_GENEVE, 77, 0, 17, 6081, 50);
}

static void test_gre(void **state)
{
	(void)state;
	roundtrip(TNL_GRE, 0, 0, 47, 0, 38);
	roundtrip(TNL_GRE, 0xdeadbeef, DPACT_TNL_KEY, 47, 0, 42);
}

static void test_mpls(void **state)
{
	(void)state;
	roundtrip(TNL_MPLSOGRE, 100, 0, 47, 0, 38);
	roundtrip(TNL_MPLSOUDP, 0xfffff, 0, 17, 6635, 42);
}

static void test_geneve_options(void **state)
{
	struct dpact_buf b = { 0 };
	struct dpact_tnl_push *a;
	struct pkt *p = inner(80, 1);
	struct flow_key k;
	const struct flow_key *kp = &k;
	struct tnl_decap d;
	/* class 0x0102, type 0x80 (critical), 1 word of data */
	static const uint8_t opt[8] = { 0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd };
	uint8_t *g;

	(void)state;
	reset();
	a = tnl_encap_put(&b, TNL_GENEVE, PEER, 9, PORT_ID_NONE, 0);
	memcpy(a->opts, opt, 8);
	a->opt_len = 8;
	flow_extract(p, &k);
	tnl_push_batch(&actx, a, &p, &kp, 1);
	assert_int_equal(out_rec.n, 1);
	g = out_rec.bytes[0] + 42;
	assert_int_equal(g[0], 2);		/* opt len 2 words, version 0 */
	assert_int_equal(g[1], 0x40);		/* C: a critical option */
	assert_int_equal(tnl_decap_parse(out_rec.bytes[0], out_rec.len[0], PEER, UDP_PORTS, &d), 0);
	assert_int_equal(d.opt_len, 8);
	assert_memory_equal(d.opts, opt, 8);
	assert_true(d.flags & TNL_F_CRIT);
	assert_int_equal(d.inner_len, 80);
	dpact_buf_free(&b);
}

/* Source port: the same flow always gets the same port, different flows
 * spread over 49152-65535. */
static void test_entropy(void **state)
{
	uint16_t seen[64];
	unsigned distinct = 0;

	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		struct pkt *p = inner(80, (uint16_t)(1000 + i));
		struct pkt *q = inner(80, (uint16_t)(1000 + i));
		struct pkt *two[2] = { p, q };
		uint16_t s;

		reset();
		push(TNL_VXLAN, 1, PEER, two, 2, 0);
		assert_int_equal(out_rec.n, 2);
		s = be16(out_rec.bytes[0] + 34);
		assert_int_equal(s, be16(out_rec.bytes[1] + 34));
		assert_true(s >= 49152);
		seen[i] = s;
		distinct++;
		for (unsigned j = 0; j < i; j++)
			if (seen[j] == s) {
				distinct--;
				break;
			}
	}
	assert_true(distinct >= 56);
	/* In one batch, flows interleaved: each packet gets its own flow's
	 * port (the batch reuses a port only for an equal flow). */
	{
		static const uint16_t flow_of[5] = { 1000, 1000, 1001, 1001, 1000 };
		struct pkt *b[5];
		uint16_t alone[2];

		for (unsigned f = 0; f < 2; f++) {
			struct pkt *p = inner(80, (uint16_t)(1000 + f));

			reset();
			push(TNL_VXLAN, 1, PEER, &p, 1, 0);
			alone[f] = be16(out_rec.bytes[0] + 34);
		}
		assert_int_not_equal(alone[0], alone[1]);
		for (unsigned i = 0; i < 5; i++)
			b[i] = inner(80, flow_of[i]);
		reset();
		push(TNL_VXLAN, 1, PEER, b, 5, 0);
		assert_int_equal(out_rec.n, 5);
		for (unsigned i = 0; i < 5; i++)
			assert_int_equal(be16(out_rec.bytes[i] + 34), alone[flow_of[i] - 1000]);
	}
	/* No flow key: the frame itself is hashed, also in range. */
	assert_true(tnl_entropy_port_frame(out_rec.bytes[0] + 50, 80) >= 49152);
}

/* One packet pushed to dst through type t (key 1) after a reset: how
 * many came out (0 or 1, in out_rec). */
static unsigned push1(enum tnl_type t, uint32_t dst, struct pkt *p)
{
	reset();
	push(t, 1, dst, &p, 1, 0);
	return out_rec.n;
}

static void test_mtu_and_routes(void **state)
{
	struct pkt *p;
	long long big = counter("tnl_too_big"), nr = counter("tnl_no_route");
	long long unres = counter("tnl_neigh_unresolved"), req = counter("arp_requests");
	uint32_t other = inet_addr("192.168.1.77");

	(void)state;
	/* 1450 inner + 50 outer = 1500 - 14 + 14: an IP packet of exactly
	 * 1486 fits; one byte more does not. */
	assert_int_equal(push1(TNL_VXLAN, PEER, inner(1464, 1)), 1);
	assert_int_equal(be16(out_rec.bytes[0] + 16), 1500);
	assert_int_equal(push1(TNL_VXLAN, PEER, inner(1465, 1)), 0);
	assert_int_equal(counter("tnl_too_big"), big + 1);
	/* MPLSoGRE: 38 outer bytes and the label for the 14 of the inner
	 * Ethernet header: 1486 fits, 1487 does not. The label comes with
	 * the header template, TTL from the inner IP header. */
	assert_int_equal(push1(TNL_MPLSOGRE, PEER, inner(1486, 1)), 1);
	assert_int_equal(be16(out_rec.bytes[0] + 16), 1500);
	assert_memory_equal(out_rec.bytes[0] + 38, ((uint8_t[]){ 0, 0, 0x11, 33 }), 4);
	assert_int_equal(out_rec.bytes[0][42], 0x45);
	assert_int_equal(push1(TNL_MPLSOGRE, PEER, inner(1487, 1)), 0);
	assert_int_equal(counter("tnl_too_big"), big + 2);
	/* An MPLS frame keeps its own stack: only its Ethernet header goes. */
	p = inner(100, 1);
	p->data[12] = 0x88, p->data[13] = 0x47;
	assert_int_equal(push1(TNL_MPLSOGRE, PEER, p), 1);
	assert_int_equal(out_rec.len[0], 38 + 86);
	assert_int_equal(out_rec.bytes[0][38], 0x45);
	/* No route. */
	assert_int_equal(push1(TNL_VXLAN, FAR, inner(100, 1)), 0);
	assert_int_equal(counter("tnl_no_route"), nr + 1);
	/* Unresolved on-link neighbour: dropped, counted, one ARP request
	 * (rate limited: a second packet right after sends none). */
	reset();
	for (int i = 0; i < 2; i++) {
		p = inner(100, 1);
		push(TNL_VXLAN, 1, other, &p, 1, 0);
	}
	assert_int_equal(out_rec.n, 0);
	assert_int_equal(counter("tnl_neigh_unresolved"), unres + 2);
	assert_int_equal(counter("arp_requests"), req + 1);
	assert_int_equal(up_tx.n, 1);
	assert_int_equal(be16(up_tx.bytes[0] + 12), 0x0806);
	assert_int_equal(be16(up_tx.bytes[0] + 20), 1);		/* request */
	assert_memory_equal(up_tx.bytes[0] + 28, &LOCAL, 4);
	assert_memory_equal(up_tx.bytes[0] + 38, &other, 4);
}

/* ---- receive side ---- */

static uint16_t got_port;
static struct rec got;
static struct flow_key got_key;

static void deliver(void *arg, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)arg;
	got_port = port;
	pkts[0]->in_port = port;
	flow_extract(pkts[0], &got_key);
	record(&got, pkts, n);
}

static struct pkt *pkt_of(const uint8_t *b, uint16_t len)
{
	struct pkt *p = pkt_alloc();

	assert_non_null(p);
	memcpy(p->data, b, len);
	p->len = len;
	return p;
}

static void test_arp(void **state)
{
	uint8_t f[60] = { 0 };
	uint32_t sender = inet_addr("192.168.1.9");
	static const uint8_t SMAC[6] = { 0x02, 9, 9, 9, 9, 9 };
	struct pkt *p;
	uint8_t mac[6];

	(void)state;
	reset();
	memset(f, 0xff, 6);
	memcpy(f + 6, SMAC, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[15] = 1, f[16] = 8, f[18] = 6, f[19] = 4, f[21] = 1;
	memcpy(f + 22, SMAC, 6);
	memcpy(f + 28, &sender, 4);
	memcpy(f + 38, &LOCAL, 4);
	p = pkt_of(f, 60);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(up_tx.n, 1);
	assert_memory_equal(up_tx.bytes[0], SMAC, 6);
	assert_memory_equal(up_tx.bytes[0] + 6, UP_MAC, 6);
	assert_int_equal(be16(up_tx.bytes[0] + 20), 2);		/* reply */
	assert_memory_equal(up_tx.bytes[0] + 22, UP_MAC, 6);
	assert_memory_equal(up_tx.bytes[0] + 28, &LOCAL, 4);
	assert_memory_equal(up_tx.bytes[0] + 32, SMAC, 6);
	assert_memory_equal(up_tx.bytes[0] + 38, &sender, 4);
	/* And the asker was learned. */
	json_decref(tnl_neigh_json());
	(void)mac;
	/* ARP for somebody else is not ours: left for the pipeline. */
	memcpy(f + 38, &FAR, 4);
	p = pkt_of(f, 60);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 1);
	pkt_free(p);
}

/* A VXLAN port on the uplink: decapsulation delivers the inner frame to it
 * with the tunnel metadata that flow_extract turns into tun_* fields. */
static void test_rx_decap(void **state)
{
	const struct port_kind *k = port_kind_find("vxlan");
	char *args[] = { "key=flow" }, err[128] = "";
	struct port *vx;
	struct pkt *p;
	uint8_t frame[512];
	uint16_t flen;

	(void)state;
	assert_non_null(k);
	vx = k->create("vx0", 1, args, err, sizeof(err));
	assert_non_null(vx);
	assert_int_equal(port_add(vx), 0);
	/* Build a VXLAN packet as the peer would send it to us. */
	reset();
	p = inner(100, 7);
	push(TNL_VXLAN, 4242, PEER, &p, 1, 0);
	flen = out_rec.len[0];
	memcpy(frame, out_rec.bytes[0], flen);
	/* Swap outer addresses: from PEER to LOCAL; fix the IP checksum. */
	memcpy(frame + 26, &PEER, 4);
	memcpy(frame + 30, &LOCAL, 4);
	memset(&got, 0, sizeof(got));
	p = pkt_of(frame, flen);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got_port, vx->id);
	assert_int_equal(got.len[0], 100);
	assert_memory_equal(got.bytes[0], frame + 50, 100);
	/* The metadata reaches the flow key, with the inner headers. */
	assert_int_equal(got_key.in_port, vx->id);
	assert_int_equal(got_key.tun_id, 4242);
	assert_int_equal(got_key.tun_src, PEER);
	assert_int_equal(got_key.tun_dst, LOCAL);
	assert_int_equal(got_key.tun_ttl, 64);
	assert_true(got_key.tun_flags & TNL_F_KEY);
	assert_int_equal(got_key.nw_proto, 17);
	assert_memory_equal(got_key.dl_src, VM_A, 6);
	/* The L3 next hop's entry point: the port's type, another key. */
	reset();
	p = inner(100, 9);
	tnl_push_port(&actx, vx->id, PEER, 777, p, NULL);
	assert_int_equal(out_rec.n, 1);
	check_outer(out_rec.bytes[0], out_rec.len[0], 17, 4789);
	assert_int_equal(out_rec.bytes[0][46] << 16 | out_rec.bytes[0][47] << 8 | out_rec.bytes[0][48], 777);
	/* A VNI nobody takes when the port's key is fixed: counted drop. */
	assert_int_equal(port_del(vx), 0);
	{
		char *a2[] = { "key=7" };
		long long np = counter("tnl_no_port");

		vx = k->create("vx1", 1, a2, err, sizeof(err));
		assert_non_null(vx);
		assert_int_equal(port_add(vx), 0);
		p = pkt_of(frame, flen);
		assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
		assert_int_equal(counter("tnl_no_port"), np + 1);
		assert_int_equal(port_del(vx), 0);
	}
}

/* Everything tnl_rx delivered, packet by packet. */
struct delivered {
	unsigned n;
	uint16_t port[NREC], len[NREC];
	struct pkt_tun tun[NREC];
	uint8_t bytes[NREC][256];
};
static struct delivered all;

static void deliver_all(void *arg, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)arg;
	for (uint16_t i = 0; i < n; i++) {
		assert_true(all.n < NREC);
		all.port[all.n] = port;
		all.len[all.n] = pkts[i]->len;
		all.tun[all.n] = pkts[i]->tun;
		memcpy(all.bytes[all.n], pkts[i]->data, MIN(pkts[i]->len, 256));
		all.n++;
		pkt_free(pkts[i]);
	}
}

static long long rx_drops(void)
{
	static const char *const names[] = { "tnl_bad_ip", "tnl_bad_ip_csum", "tnl_bad_mpls",
					     "tnl_no_port", "tnl_bad_header", "tnl_truncated" };
	long long v = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		v += counter(names[i]);
	return v;
}

/* n frames through tnl_rx as one burst (bursts > 1 reuse the parse of
 * identical headers) or one at a time (each parsed): what it delivers,
 * and how many it dropped. */
static long long rx_frames(uint8_t (*f)[256], const uint16_t *len, uint16_t n, bool burst)
{
	struct pkt *p[NREC];
	long long drops = rx_drops();

	memset(&all, 0, sizeof(all));
	for (uint16_t i = 0; i < n; i++)
		p[i] = pkt_of(f[i], len[i]);
	if (burst) {
		assert_int_equal(tnl_rx(0, uplink, p, n, deliver_all, NULL), 0);
	} else {
		for (uint16_t i = 0; i < n; i++)
			assert_int_equal(tnl_rx(0, uplink, &p[i], 1, deliver_all, NULL), 0);
	}
	for (unsigned i = 0; i < all.n; i++)
		memset(all.tun[i].pad, 0, sizeof(all.tun[i].pad));
	return rx_drops() - drops;
}

/* A tunnel port of kind with arg, and NREC copies in f of one frame of
 * type t from the peer to us (len each); returns the port. */
static struct port *rx_setup(enum tnl_type t, const char *kind, char *arg, uint8_t (*f)[256],
			     uint16_t *len)
{
	const struct port_kind *k = port_kind_find(kind);
	char *args[] = { arg }, err[128] = "";
	struct pkt *p = inner(100, 7);
	struct port *tp;

	assert_non_null(k);
	tp = k->create("tp0", 1, args, err, sizeof(err));
	assert_non_null(tp);
	assert_int_equal(port_add(tp), 0);
	reset();
	push(t, 4242, PEER, &p, 1, 0);
	for (unsigned i = 0; i < NREC; i++) {
		memcpy(f[i], out_rec.bytes[0], out_rec.len[0]);
		memcpy(f[i] + 26, &PEER, 4);	/* from the peer to us; same checksum */
		memcpy(f[i] + 30, &LOCAL, 4);
		len[i] = out_rec.len[0];
	}
	return tp;
}

/* f through tnl_rx one by one and as a burst: the same drops, and the same
 * packets delivered, byte for byte, with the same metadata. Returns the
 * drops. */
static long long rx_same_both_ways(uint8_t (*f)[256], const uint16_t *len)
{
	static struct delivered one;
	long long d1 = rx_frames(f, len, NREC, false), d2;

	one = all;
	d2 = rx_frames(f, len, NREC, true);
	assert_int_equal(d1, d2);
	assert_int_equal(one.n, all.n);
	for (unsigned i = 0; i < all.n; i++) {
		assert_int_equal(one.port[i], all.port[i]);
		assert_int_equal(one.len[i], all.len[i]);
		assert_memory_equal(&one.tun[i], &all.tun[i], sizeof(all.tun[i]));
		assert_memory_equal(one.bytes[i], all.bytes[i], MIN(all.len[i], 256));
	}
	return d2;
}

/* Batch decapsulation: a burst of frames that differ from each other here
 * and there (outer checksum, key or label, bottom of stack, payload, length)
 * decapsulates exactly as the same frames one by one. */
static void rx_burst_case(enum tnl_type t, const char *kind, char *arg, unsigned key_at,
			  unsigned bos_at)
{
	uint8_t f[NREC][256];
	uint16_t len[NREC];
	struct port *tp = rx_setup(t, kind, arg, f, len);
	uint16_t glen = len[0];

	f[2][24] ^= 1;			/* bad outer IP checksum */
	f[4][key_at] ^= 1;		/* another VNI / label */
	f[6][glen - 1] ^= 0x55;		/* payload only */
	len[8] = (uint16_t)(glen - 1);	/* shorter than its IP length */
	f[9][key_at] ^= 1;
	f[10][bos_at] ^= 1;		/* MPLS: bottom of stack gone */
	len[12] = (uint16_t)(glen + 2);	/* Ethernet padding after it */
	f[12][glen] = f[12][glen + 1] = 0xee;
	assert_true(rx_same_both_ways(f, len) >= 2);
	assert_true(all.n >= NREC - 4);
	assert_int_equal(port_del(tp), 0);
}

static void test_rx_burst(void **state)
{
	(void)state;
	/* VXLAN: VNI at 46..48 (no BOS: flip a reserved byte instead). */
	rx_burst_case(TNL_VXLAN, "vxlan", "key=flow", 48, 49);
	/* MPLS over GRE (no key): the label at 38..41, BOS in byte 40. */
	rx_burst_case(TNL_MPLSOGRE, "mplsogre", "remote_ip=flow", 39, 40);
}

/* A burst from a Linux VTEP: one inner flow, outer headers equal but for
 * the IPv4 ID (Linux numbers every packet of a tunnel without DF) and so
 * the checksum, and with udp_csum the UDP checksum (Linux's default; it
 * follows the payload). All but the first take the first's parse
 * (decap_reused); one whose checksum was not updated with its ID is still
 * dropped; one without a UDP checksum among ones with is parsed (tun_flags
 * differ); and the burst decapsulates exactly as the frames one by one. */
static void rx_ids_case(enum tnl_type t, const char *kind, char *arg, bool udp_csum)
{
	uint8_t f[NREC][256];
	uint16_t len[NREC];
	struct port *tp = rx_setup(t, kind, arg, f, len);
	long long bad = counter("tnl_bad_ip_csum"), reused = counter("decap_reused");

	for (unsigned i = 0; i < NREC; i++) {
		uint8_t *ip = f[i] + 14;
		uint16_t c;

		ip[4] = (uint8_t)(i * 37 + 1);	/* ID */
		ip[5] = (uint8_t)(i * 11);
		ip[6] &= (uint8_t)~0x40;	/* DF clear, as Linux sends */
		ip[10] = ip[11] = 0;
		c = (uint16_t)~csum(ip, 20, 0);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		if (udp_csum) {
			ip[26] = (uint8_t)(i * 29 + 3);
			ip[27] = (uint8_t)i;
		}
	}
	f[5][14 + 5] ^= 0x40;		/* another ID, the checksum not updated */
	if (udp_csum)
		f[9][40] = f[9][41] = 0;	/* no UDP checksum: parsed, and the next */
	assert_int_equal(rx_same_both_ways(f, len), 1);
	assert_int_equal(counter("tnl_bad_ip_csum"), bad + 2);
	/* 15 delivered; the first was parsed, the other 14 were not (but
	 * 9 and 10 with udp_csum). */
	assert_int_equal(all.n, NREC - 1);
	assert_int_equal(counter("decap_reused"), reused + NREC - 2 - (udp_csum ? 2 : 0));
	if (udp_csum) {
		assert_int_equal(all.tun[7].flags & TNL_F_CSUM, TNL_F_CSUM);
		assert_int_equal(all.tun[8].flags & TNL_F_CSUM, 0);	/* frame 9 */
		assert_int_equal(all.tun[9].flags & TNL_F_CSUM, TNL_F_CSUM);
	}
	assert_int_equal(port_del(tp), 0);
}

static void test_rx_burst_ip_ids(void **state)
{
	(void)state;
	rx_ids_case(TNL_VXLAN, "vxlan", "key=flow", false);
	rx_ids_case(TNL_VXLAN, "vxlan", "key=flow", true);
	rx_ids_case(TNL_MPLSOGRE, "mplsogre", "remote_ip=flow", false);
}

/* Malformed outer headers: each a named drop, never a crash; every
 * truncation of a valid packet is rejected or taken as not ours. */
static void test_malformed(void **state)
{
	struct pkt *p = inner(100, 3);
	uint8_t good[512], f[512];
	uint16_t len;
	struct tnl_decap d;

	(void)state;
	reset();
	push(TNL_VXLAN, 1, PEER, &p, 1, 0);
	len = out_rec.len[0];
	memcpy(good, out_rec.bytes[0], len);
	for (uint16_t l = 0; l < len; l++) {
		memcpy(f, good, l);
		assert_int_not_equal(tnl_decap_parse(f, l, PEER, UDP_PORTS, &d), 0);
	}
	/* Bad IP checksum. */
	memcpy(f, good, len);
	f[24] ^= 1;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_BAD_IP_CSUM);
	/* VXLAN without the I flag. */
	memcpy(f, good, len);
	f[42] = 0;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_BAD_HDR);
	/* UDP length past the IP payload. */
	memcpy(f, good, len);
	f[38] = 0xff;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_BAD_UDP);
	/* A fragment (MF set; the checksum adjusted by hand). */
	memcpy(f, good, len);
	f[20] = 0x20;
	f[24] = 0, f[25] = 0;
	{
		uint16_t c = (uint16_t)~csum(f + 14, 20, 0);

		f[24] = (uint8_t)(c >> 8), f[25] = (uint8_t)c;
	}
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_FRAG);
	/* Not to us: not ours at all. */
	assert_int_equal(tnl_decap_parse(good, len, LOCAL, UDP_PORTS, &d), 1);
	/* UDP to us on a port no tunnel listens on. */
	memcpy(f, good, len);
	f[37] ^= 1;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_LOCAL_OTHER);
	/* GRE: version 1, and MPLS without bottom of stack. */
	p = inner(100, 3);
	reset();
	push(TNL_MPLSOGRE, 5, PEER, &p, 1, 0);
	len = out_rec.len[0];
	memcpy(f, out_rec.bytes[0], len);
	f[35] = 1;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_BAD_HDR);
	memcpy(f, out_rec.bytes[0], len);
	f[40] &= (uint8_t)~1;		/* clear BOS: the stack runs into the payload */
	f[44] = f[48] = f[52] = f[56] = f[60] = f[64] = f[68] = f[72] = 0;
	f[46] = f[50] = f[54] = f[58] = f[62] = f[66] = f[70] = f[74] = 0;
	assert_int_equal(tnl_decap_parse(f, len, PEER, UDP_PORTS, &d), -TNL_DROP_BAD_MPLS);
}

/* ---- the IPv6 underlay ---- */

/* The sum of an ICMPv6/UDP message of n bytes at m under IPv6 header ip. */
static uint16_t csum6(const uint8_t *ip, const uint8_t *m, size_t n, uint8_t nh)
{
	uint32_t s = csum(ip + 8, 32, 0) + (uint32_t)(n >> 16) + (uint32_t)(n & 0xffff) + nh;

	return csum(m, n, s);
}

static void push6(enum tnl_type t, uint64_t key, struct pkt **pkts, uint16_t n, uint8_t flags)
{
	push_to(t, key, 0, PEER6, pkts, n, flags);
}

/* An NS or NA as a peer would send it: from src (MAC smac) to dst, about
 * target, with a link-layer option opt_mac (NULL: none), hop limit hl. */
static struct pkt *nd_pkt(uint8_t type, const uint8_t *smac, const uint8_t *dmac,
			  const uint8_t *src, const uint8_t *dst, const uint8_t *target,
			  const uint8_t *opt_mac, uint8_t hl, uint32_t flags)
{
	uint8_t f[128] = { 0 }, *ip = f + 14, *m = ip + 40;
	uint16_t ml = opt_mac ? 32 : 24, c;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = (uint8_t)ml;
	ip[6] = 58;
	ip[7] = hl;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	m[0] = type;
	m[4] = (uint8_t)(flags >> 24);
	memcpy(m + 8, target, 16);
	if (opt_mac) {
		m[24] = type == 135 ? 1 : 2;
		m[25] = 1;
		memcpy(m + 26, opt_mac, 6);
	}
	c = (uint16_t)~csum6(ip, m, ml, 58);
	m[2] = (uint8_t)(c >> 8);
	m[3] = (uint8_t)c;
	return pkt_of(f, (uint16_t)(54 + ml));
}

/* Outer IPv6 checks: MACs, version, payload length, hop limit, next
 * header, addresses, a flow label; UDP length and its checksum, which
 * IPv6 requires. */
static void check_outer6(const uint8_t *f, uint16_t len, uint8_t proto, uint16_t dport)
{
	const uint8_t *ip = f + 14;

	assert_memory_equal(f, PEER_MAC, 6);
	assert_memory_equal(f + 6, UP_MAC, 6);
	assert_int_equal(be16(f + 12), 0x86dd);
	assert_int_equal(ip[0] >> 4, 6);
	assert_true((be16(ip + 2) | (ip[1] & 0xf) << 16) != 0);	/* flow label */
	assert_int_equal(be16(ip + 4), len - 54);
	assert_int_equal(ip[6], proto);
	assert_int_equal(ip[7], 64);
	assert_memory_equal(ip + 8, LOCAL6, 16);
	assert_memory_equal(ip + 24, PEER6, 16);
	if (proto == 17) {
		const uint8_t *u = ip + 40;

		assert_true(be16(u) >= 49152);
		assert_int_equal(be16(u + 2), dport);
		assert_int_equal(be16(u + 4), len - 54);
		assert_int_not_equal(be16(u + 6), 0);
		assert_int_equal(csum6(ip, u, be16(u + 4), 17), 0xffff);
	}
}

static void roundtrip6(enum tnl_type t, uint64_t key, uint8_t flags, uint8_t proto,
		       uint16_t dport, unsigned hlen)
{
	struct pkt *p = inner(100, 1000);
	uint8_t orig[100], frame[512];
	struct tnl_decap d;

	memcpy(orig, p->data, 100);
	reset();
	push6(t, key, &p, 1, flags);
	assert_int_equal(out_rec.n, 1);
	check_outer6(out_rec.bytes[0], out_rec.len[0], proto, dport);
	memcpy(frame, out_rec.bytes[0], out_rec.len[0]);
	assert_int_equal(tnl_decap_parse6(frame, out_rec.len[0], PEER6, UDP_PORTS, &d), 0);
	assert_true(d.v6);
	assert_int_equal(d.type, t);
	assert_memory_equal(d.src6, LOCAL6, 16);
	assert_memory_equal(d.dst6, PEER6, 16);
	assert_int_equal(d.ttl, 64);
	if (t == TNL_MPLSOGRE || t == TNL_MPLSOUDP) {
		assert_int_equal(out_rec.len[0], hlen + 4 + 86);
		assert_int_equal(d.inner_len, 14 + 4 + 86);
		assert_memory_equal(frame + d.inner_off + 18, orig + 14, 86);
	} else {
		assert_int_equal(out_rec.len[0], hlen + 100);
		assert_int_equal(d.inner_len, 100);
		assert_memory_equal(frame + d.inner_off, orig, 100);
		if (t != TNL_GRE)
			assert_int_equal(d.key, key);
	}
	/* The same frame is not IPv6 to another address. */
	assert_int_equal(tnl_decap_parse6(frame, out_rec.len[0], LOCAL6, UDP_PORTS, &d), 1);
}

/* The IPv6 underlay end to end: configuration that fails changes nothing,
 * ND resolves the next hop (NS to the solicited-node group, paced, learned
 * from the NA), every type encapsulates over IPv6 with a valid UDP
 * checksum and decapsulates back, NS for our address is answered, bad ND
 * and bad checksums are counted drops, the MTU counts the 20 more bytes. */
static void test_ipv6(void **state)
{
	struct tnl_underlay_args ua = { .ip = LOCAL, .plen = 24, .has_ip6 = true, .plen6 = 64,
					.mac = UP_MAC, .mtu = 1500 };
	static const uint8_t MCAST_MAC[6] = { 0x33, 0x33, 0xff, 0, 0, 2 };
	static const uint8_t SMAC[6] = { 0x02, 9, 9, 9, 9, 9 };
	uint8_t group[16], asker[16], frame[512];
	const struct port_kind *k = port_kind_find("vxlan");
	char err[160] = "", *args[] = { "remote_ip=2001:db8::2", "key=5" };
	long long unres = counter("tnl_neigh_unresolved"), nreq = counter("nd_solicits");
	long long learned = counter("nd_learned"), bad = counter("underlay_nd_bad");
	long long big = counter("tnl_too_big"), badsum = counter("tnl_bad_udp_csum");
	long long zero = counter("tnl_udp6_zero_csum");
	struct port *vx6;
	struct pkt *p;
	json_t *u;
	uint16_t flen;
	uint8_t mac[6];

	(void)state;
	inet_pton(AF_INET6, "2001:db8::1", LOCAL6);
	inet_pton(AF_INET6, "2001:db8::2", PEER6);
	inet_pton(AF_INET6, "ff02::1:ff00:2", group);
	inet_pton(AF_INET6, "2001:db8::9", asker);
	memcpy(ua.ip6, LOCAL6, 16);
	/* A gateway outside the subnet: refused, and nothing changed. */
	inet_pton(AF_INET6, "2001:db9::1", ua.gw6);
	ua.has_gw6 = true;
	assert_int_equal(tnl_underlay_apply(uplink, &ua, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "subnet"));
	u = tnl_underlay_json();
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(u, "uplinks"), 0),
						 "ip6")));
	json_decref(u);
	ua.has_gw6 = false;
	memset(ua.gw6, 0, 16);
	assert_int_equal(tnl_underlay_apply(uplink, &ua, err, sizeof(err)), 0);
	u = tnl_underlay_json();
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(u, "uplinks"), 0), "ip6")), "2001:db8::1");
	json_decref(u);

	/* Unresolved: dropped and counted, one NS to the solicited-node
	 * group, hop limit 255, our MAC in its option, valid checksum. */
	reset();
	p = inner(100, 1);
	push6(TNL_VXLAN, 9, &p, 1, 0);
	assert_int_equal(out_rec.n, 0);
	assert_int_equal(counter("tnl_neigh_unresolved"), unres + 1);
	assert_int_equal(counter("nd_solicits"), nreq + 1);
	assert_int_equal(up_tx.n, 1);
	{
		const uint8_t *f = up_tx.bytes[0], *ip = f + 14, *m = ip + 40;

		assert_memory_equal(f, MCAST_MAC, 6);
		assert_memory_equal(f + 6, UP_MAC, 6);
		assert_int_equal(be16(f + 12), 0x86dd);
		assert_int_equal(ip[6], 58);
		assert_int_equal(ip[7], 255);
		assert_memory_equal(ip + 8, LOCAL6, 16);
		assert_memory_equal(ip + 24, group, 16);
		assert_int_equal(m[0], 135);
		assert_memory_equal(m + 8, PEER6, 16);
		assert_int_equal(m[24], 1);
		assert_memory_equal(m + 26, UP_MAC, 6);
		assert_int_equal(csum6(ip, m, be16(ip + 4), 58), 0xffff);
	}
	/* Paced: a second packet right away sends no second NS. */
	p = inner(100, 1);
	push6(TNL_VXLAN, 9, &p, 1, 0);
	assert_int_equal(up_tx.n, 1);
	/* An NA with hop limit 254 was routed: invalid, counted, not learned. */
	p = nd_pkt(136, PEER_MAC, UP_MAC, PEER6, LOCAL6, PEER6, PEER_MAC, 254, 0x60000000);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(counter("underlay_nd_bad"), bad + 1);
	p = nd_pkt(136, PEER_MAC, UP_MAC, PEER6, LOCAL6, PEER6, PEER_MAC, 255, 0x60000000);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(counter("nd_learned"), learned + 1);
	/* Unsolicited NAs to all nodes go on to the pipeline (guests on the
	 * uplink's segment see them); one for a host we do not know is not
	 * learned, one for a neighbour we have updates it. */
	{
		static const uint8_t ALL_MAC[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		static const uint8_t NEW_MAC[6] = { 0x02, 7, 7, 7, 7, 7 };
		uint8_t all[16], other[16];

		inet_pton(AF_INET6, "ff02::1", all);
		inet_pton(AF_INET6, "2001:db8::77", other);
		p = nd_pkt(136, SMAC, ALL_MAC, other, all, other, SMAC, 255, 0x20000000);
		assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 1);
		pkt_free(p);
		assert_int_equal(counter("nd_learned"), learned + 1);
		assert_false(neigh_lookup6(other, uplink->id, mac));
		p = nd_pkt(136, NEW_MAC, ALL_MAC, PEER6, all, PEER6, NEW_MAC, 255, 0x20000000);
		assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 1);
		pkt_free(p);
		assert_int_equal(counter("nd_learned"), learned + 2);
		assert_true(neigh_lookup6(PEER6, uplink->id, mac));
		assert_memory_equal(mac, NEW_MAC, 6);
		/* Back to the peer's MAC for what follows. */
		p = nd_pkt(136, PEER_MAC, UP_MAC, PEER6, LOCAL6, PEER6, PEER_MAC, 255, 0x60000000);
		assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
		learned++;
	}

	/* Every type, over IPv6 (14 + 40 outer bytes before UDP/GRE). */
	roundtrip6(TNL_VXLAN, 5001, 0, 17, 4789, 70);
	roundtrip6(TNL_GENEVE, 77, 0, 17, 6081, 70);
	roundtrip6(TNL_GRE, 0, 0, 47, 0, 58);
	roundtrip6(TNL_GRE, 99, DPACT_TNL_KEY, 47, 0, 62);
	roundtrip6(TNL_MPLSOGRE, 100, 0, 47, 0, 58);
	roundtrip6(TNL_MPLSOUDP, 200, 0, 17, 6635, 62);

	/* MTU: 1500 - 40 - 8 - 8 = 1444 bytes of inner frame (Ethernet
	 * included), 20 fewer than over IPv4's 1464. */
	reset();
	p = inner(1444, 1);
	push6(TNL_VXLAN, 1, &p, 1, 0);
	assert_int_equal(out_rec.n, 1);
	assert_int_equal(be16(out_rec.bytes[0] + 18) + 40, 1500);
	reset();
	p = inner(1445, 1);
	push6(TNL_VXLAN, 1, &p, 1, 0);
	assert_int_equal(out_rec.n, 0);
	assert_int_equal(counter("tnl_too_big"), big + 1);

	/* NS for our address from a neighbour: answered with a solicited,
	 * override NA carrying our MAC, and the asker learned. */
	reset();
	inet_pton(AF_INET6, "ff02::1:ff00:1", group);
	p = nd_pkt(135, SMAC, (const uint8_t[6]){ 0x33, 0x33, 0xff, 0, 0, 1 }, asker, group,
		   LOCAL6, SMAC, 255, 0);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(up_tx.n, 1);
	{
		const uint8_t *f = up_tx.bytes[0], *ip = f + 14, *m = ip + 40;

		assert_memory_equal(f, SMAC, 6);
		assert_memory_equal(f + 6, UP_MAC, 6);
		assert_int_equal(ip[7], 255);
		assert_memory_equal(ip + 8, LOCAL6, 16);
		assert_memory_equal(ip + 24, asker, 16);
		assert_int_equal(m[0], 136);
		assert_int_equal(m[4], 0x60);		/* S, O */
		assert_memory_equal(m + 8, LOCAL6, 16);
		assert_int_equal(m[24], 2);
		assert_memory_equal(m + 26, UP_MAC, 6);
		assert_int_equal(csum6(ip, m, be16(ip + 4), 58), 0xffff);
	}
	/* An NS for somebody else's address is not answered: it is left
	 * for the pipeline, as ARP for another address is. */
	reset();
	p = nd_pkt(135, SMAC, UP_MAC, asker, LOCAL6, PEER6, SMAC, 255, 0);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 1);
	pkt_free(p);
	assert_int_equal(up_tx.n, 0);

	/* Decapsulation through tnl_rx: a VXLAN packet from PEER6 to us
	 * (swapping the addresses keeps the UDP checksum right) reaches the
	 * port whose fixed IPv6 remote and key match, with tun_ipv6_*. */
	vx6 = k->create("vx6", 2, args, err, sizeof(err));
	assert_non_null(vx6);
	assert_int_equal(port_add(vx6), 0);
	reset();
	p = inner(100, 7);
	push6(TNL_VXLAN, 5, &p, 1, 0);
	flen = out_rec.len[0];
	memcpy(frame, out_rec.bytes[0], flen);
	memcpy(frame + 22, PEER6, 16);
	memcpy(frame + 38, LOCAL6, 16);
	memset(&got, 0, sizeof(got));
	p = pkt_of(frame, flen);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got_port, vx6->id);
	assert_memory_equal(got.bytes[0], frame + 70, 100);
	assert_int_equal(got_key.tun_id, 5);
	assert_int_equal(got_key.tun_src, 0);
	assert_int_not_equal(got_key.tun_v6, 0);
	assert_memory_equal(got_key.tun_ipv6_src, PEER6, 16);
	assert_memory_equal(got_key.tun_ipv6_dst, LOCAL6, 16);
	/* A wrong and a zero UDP checksum: counted drops. */
	frame[60] ^= 0x40;
	p = pkt_of(frame, flen);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(counter("tnl_bad_udp_csum"), badsum + 1);
	frame[60] = frame[61] = 0;
	p = pkt_of(frame, flen);
	assert_int_equal(tnl_rx(0, uplink, &p, 1, deliver, NULL), 0);
	assert_int_equal(counter("tnl_udp6_zero_csum"), zero + 1);
	(void)mac;
	port_del(vx6);
}

/* ---- IPv6 tunnel keys through the whole datapath ---- */

static unsigned n_to_a, n_to_b;

static uint16_t count_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)qid;
	*(port->name[4] == 'a' ? &n_to_a : &n_to_b) += n;
	pkt_free_bulk(pkts, n);
	return n;
}

static const struct port_ops count_ops = { .rx_burst = up_rx, .tx_burst = count_tx,
					   .close = up_close };

static void flow_cmd(const char *cmd, const char *arg)
{
	char *argv[2] = { (char *)cmd, (char *)arg };
	struct ctl_req req;

	memset(&req, 0, sizeof(req));
	assert_int_equal(ctl_exec(&req, arg ? 2 : 1, argv), 0);
	ctl_req_release(&req);
}

/* A VXLAN-over-IPv6 frame from src to LOCAL6 with VNI 5, its UDP checksum
 * made right for src. */
static uint16_t vxlan6_from(const uint8_t *src, uint8_t *frame)
{
	struct pkt *p = inner(100, 7);
	uint8_t *ip = frame + 14, *u = ip + 40;
	uint16_t len, c;

	reset();
	push6(TNL_VXLAN, 5, &p, 1, 0);
	assert_int_equal(out_rec.n, 1);
	len = out_rec.len[0];
	memcpy(frame, out_rec.bytes[0], len);
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, LOCAL6, 16);
	u[6] = u[7] = 0;
	c = (uint16_t)~csum6(ip, u, be16(u + 4), 17);
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return len;
}

/* Two remotes whose keys differ only in tun_ipv6_src, the sixth key line
 * the EMC does not look at: rules on tun_ipv6_src must still tell every
 * packet apart, in mixed bursts, with warm caches, and twice over. */
static void test_ipv6_keys(void **state)
{
	uint8_t fa[256], fb[256], other[16];
	struct port *pa = port_alloc("out_a", "fake", &count_ops);
	struct port *pb = port_alloc("out_b", "fake", &count_ops);
	struct dp_pmd *ctx = dp_pmd_create(0);
	struct pkt *burst[16];
	char *args[] = { "key=flow" }, err[128] = "";
	struct port *vx = port_kind_find("vxlan")->create("vxk", 1, args, err, sizeof(err));
	uint16_t la, lb;
	unsigned want_a = 0, want_b = 0;

	(void)state;
	assert_non_null(ctx);
	assert_non_null(vx);
	assert_int_equal(port_add(vx), 0);
	assert_int_equal(port_add(pa), 0);
	assert_int_equal(port_add(pb), 0);
	inet_pton(AF_INET6, "2001:db8::3", other);
	la = vxlan6_from(PEER6, fa);
	lb = vxlan6_from(other, fb);
	flow_cmd("del-flows", NULL);
	flow_cmd("add-flow", "in_port=vxk,tun_ipv6_src=2001:db8::2,actions=output:out_a");
	flow_cmd("add-flow", "in_port=vxk,tun_ipv6_src=2001:db8::3,actions=output:out_b");
	n_to_a = n_to_b = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 16; i++) {
			bool a = (i * 7 + round) % 3 != 0;

			burst[i] = pkt_of(a ? fa : fb, a ? la : lb);
			burst[i]->in_port = uplink->id;
			want_a += a;
			want_b += !a;
		}
		dp_process(ctx, uplink, burst, 16);
		dp_flush(ctx);
	}
	assert_int_equal(n_to_a, want_a);
	assert_int_equal(n_to_b, want_b);
	flow_cmd("del-flows", NULL);
	dp_pmd_destroy(ctx);
	port_del(pa);
	port_del(pb);
	port_del(vx);
}

/* ---- the underlay commands with IPv6 literals ---- */

static int ctl_line(const char *line, char *err, size_t errlen)
{
	char buf[256], *argv[10];
	struct ctl_req req;
	int argc = 0, rc;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 10; t = strtok(NULL, " "))
		argv[argc++] = t;
	memset(&req, 0, sizeof(req));
	rc = ctl_exec(&req, argc, argv);
	if (err)
		snprintf(err, errlen, "%s", req.err);
	ctl_req_release(&req);
	return rc;
}

/* What underlay-show says about up0, as "ip ip6 gw gw6 n_routes". */
static void underlay_state(char *out, size_t n)
{
	json_t *o = tnl_underlay_json(), *u = json_array_get(json_object_get(o, "uplinks"), 0);
	const char *f[4] = { "ip", "ip6", "gw", "gw6" };
	size_t len = 0;

	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(u, f[i]);

		len += (size_t)snprintf(out + len, n - len, "%s ",
					json_is_string(v) ? json_string_value(v) : "-");
	}
	snprintf(out + len, n - len, "%zu", json_array_size(json_object_get(o, "routes")));
	json_decref(o);
}

/* Each refused command says why and leaves the underlay as it was. */
static void test_ipv6_commands(void **state)
{
	static const char *const refused[] = {
		"underlay-set up0 ip=2001:db8::1/64 ip=2001:db8::5/64",	/* two IPv6 */
		"underlay-set up0 ip=2001:db8::1/64 gw=10.0.0.1",		/* gw without its family */
		"underlay-set up0 ip=2001:db8::1/64 gw=2001:db9::1",		/* gw off the subnet */
		"underlay-set up0 ip=2001:db8::1/64 mtu=1000",			/* IPv6 needs 1280 */
		"underlay-set up0 ip=ff02::1/64",				/* multicast */
		"underlay-set up0 ip=2001:db8::1/129",
		"underlay-route-add 2001:db8:7::/48 up0 via=10.0.0.1",
		"underlay-route-add 2001:db8:7::/48 nosuch",
		"underlay-neigh-add ff02::1 02:00:00:00:00:01 up0",
		/* IPv4-mapped: would overwrite 10.0.0.1's ARP entry. */
		"underlay-neigh-add ::ffff:10.0.0.1 02:00:00:00:00:01 up0",
		"underlay-neigh-add ::1 02:00:00:00:00:01 up0",
		"underlay-set up0 ip=::ffff:10.0.0.9/64",
		"underlay-route-del 2001:db8:7::/48",
	};
	char before[256], after[256], err[600];

	(void)state;
	assert_int_equal(ctl_line("underlay-set up0 ip=192.168.1.1/24 ip=2001:db8::1/64 "
				  "gw=2001:db8::fe mac=02:00:00:00:01:01", err, sizeof(err)), 0);
	assert_int_equal(ctl_line("underlay-route-add 2001:db8:9::/48 up0 via=2001:db8::fe", err,
				  sizeof(err)), 0);
	assert_int_equal(ctl_line("underlay-neigh-add 2001:db8::2 02:00:00:00:01:02 up0", err,
				  sizeof(err)), 0);
	underlay_state(before, sizeof(before));
	/* v4 connected, v6 connected, v6 default, the added route. */
	assert_string_equal(before, "192.168.1.1 2001:db8::1 - 2001:db8::fe 4");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = 0;
		assert_int_not_equal(ctl_line(refused[i], err, sizeof(err)), 0);
		assert_true(err[0] != 0);
		underlay_state(after, sizeof(after));
		assert_string_equal(after, before);
	}
	assert_int_equal(ctl_line("underlay-route-del 2001:db8:9::/48", err, sizeof(err)), 0);
	underlay_state(after, sizeof(after));
	assert_string_equal(after, "192.168.1.1 2001:db8::1 - 2001:db8::fe 3");
	/* An uplink with only an IPv6 address takes no IPv4 route (its
	 * packets would leave from 0.0.0.0). */
	assert_int_equal(ctl_line("underlay-set up0 ip=2001:db8::1/64 mac=02:00:00:00:01:01", err,
				  sizeof(err)), 0);
	err[0] = 0;
	assert_int_not_equal(ctl_line("underlay-route-add 10.9.0.0/16 up0", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "IPv4"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_geneve),
		cmocka_unit_test(test_gre),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_geneve_options),
		cmocka_unit_test(test_entropy),
		cmocka_unit_test(test_mtu_and_routes),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_rx_decap),
		cmocka_unit_test(test_rx_burst),
		cmocka_unit_test(test_rx_burst_ip_ids),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ipv6_keys),
		cmocka_unit_test(test_ipv6_commands),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
