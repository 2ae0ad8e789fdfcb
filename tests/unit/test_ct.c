/*
 * Unit tests of src/ct: the TCP state machine with its window checks, UDP
 * and ICMP, ICMP errors as related, zones, limits, NAT both ways with the
 * checksums verified from scratch, port allocation, expiry and a million
 * connections expiring under a thread that measures its longest pause.
 *
 * Packets are real frames built here and parsed by flow_extract, as the
 * datapath would see them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "core/pkt.h"
#include "ct/ct.h"
#include "ct/ct_priv.h"
#include "dp/parse.h"

static struct pkt_pool *pool;
static struct ct_pmd ctrs;
static uint64_t now_ms = 1000000;

/* ---- frames ---- */

struct seg {
	const char *src, *dst;	/* IPv4 or IPv6 text */
	uint8_t proto;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t payload;
	uint8_t icmp_type;
	uint16_t icmp_id;
	const uint8_t *opts;	/* TCP options, n_opts bytes (multiple of 4) */
	uint8_t n_opts;
};

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

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
	return (uint16_t)~s;
}

/* Checksums of the frame at data, computed from scratch. */
static void fix_csums(uint8_t *d, size_t len)
{
	bool v6 = d[14] >> 4 == 6;
	uint8_t *ip = d + 14, *l4;
	uint32_t l4len, ps = 0;
	uint8_t proto;

	if (v6) {
		l4 = ip + 40;
		l4len = (uint32_t)(ip[4] << 8 | ip[5]);
		proto = ip[6];
		ps = sum16(ip + 8, 32, 0);
	} else {
		l4 = ip + (ip[0] & 0xf) * 4;
		l4len = (uint32_t)(ip[2] << 8 | ip[3]) - (uint32_t)(ip[0] & 0xf) * 4;
		proto = ip[9];
		ip[10] = ip[11] = 0;
		{
			uint16_t c = fold(sum16(ip, 20, 0));

			ip[10] = (uint8_t)(c >> 8);
			ip[11] = (uint8_t)c;
		}
		ps = sum16(ip + 12, 8, 0);
	}
	(void)len;
	{
		uint16_t off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
		uint16_t c;

		l4[off] = l4[off + 1] = 0;
		if (proto == 1)
			c = fold(sum16(l4, l4len, 0));
		else
			c = fold(sum16(l4, l4len, ps + proto + l4len));
		l4[off] = (uint8_t)(c >> 8);
		l4[off + 1] = (uint8_t)c;
	}
}

/* Are the checksums of the frame right? */
static bool csums_ok(const struct pkt *p)
{
	uint8_t copy[2048];

	memcpy(copy, p->data, p->len);
	fix_csums(copy, p->len);
	return !memcmp(copy, p->data, p->len);
}

static size_t put_l4(uint8_t *l4, const struct seg *s)
{
	size_t n;

	switch (s->proto) {
	case 6:
		l4[0] = (uint8_t)(s->sport >> 8); l4[1] = (uint8_t)s->sport;
		l4[2] = (uint8_t)(s->dport >> 8); l4[3] = (uint8_t)s->dport;
		for (int i = 0; i < 4; i++) {
			l4[4 + i] = (uint8_t)(s->seq >> (24 - 8 * i));
			l4[8 + i] = (uint8_t)(s->ack >> (24 - 8 * i));
		}
		l4[12] = (uint8_t)((5 + s->n_opts / 4) << 4);
		l4[13] = s->flags;
		l4[14] = (uint8_t)(s->win >> 8); l4[15] = (uint8_t)s->win;
		if (s->n_opts)
			memcpy(l4 + 20, s->opts, s->n_opts);
		n = 20 + s->n_opts;
		break;
	case 17:
		l4[0] = (uint8_t)(s->sport >> 8); l4[1] = (uint8_t)s->sport;
		l4[2] = (uint8_t)(s->dport >> 8); l4[3] = (uint8_t)s->dport;
		l4[4] = (uint8_t)((8 + s->payload) >> 8); l4[5] = (uint8_t)(8 + s->payload);
		n = 8;
		break;
	default:	/* ICMP / ICMPv6 echo */
		l4[0] = s->icmp_type;
		l4[1] = 0;
		l4[4] = (uint8_t)(s->icmp_id >> 8); l4[5] = (uint8_t)s->icmp_id;
		l4[7] = 1;
		n = 8;
		break;
	}
	memset(l4 + n, 0xab, s->payload);
	return n + s->payload;
}

static size_t put_ip(uint8_t *ip, const struct seg *s, size_t l4len)
{
	uint8_t a[16];

	if (strchr(s->src, ':')) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(l4len >> 8); ip[5] = (uint8_t)l4len;
		ip[6] = s->proto;
		ip[7] = 64;
		inet_pton(AF_INET6, s->src, a);
		memcpy(ip + 8, a, 16);
		inet_pton(AF_INET6, s->dst, a);
		memcpy(ip + 24, a, 16);
		return 40;
	}
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8); ip[3] = (uint8_t)(20 + l4len);
	ip[8] = 64;
	ip[9] = s->proto;
	inet_pton(AF_INET, s->src, ip + 12);
	inet_pton(AF_INET, s->dst, ip + 16);
	return 20;
}

/* An ICMPv4 destination-unreachable (code 3, port) from src to dst quoting
 * the IP packet of frame q. */
static struct pkt *mk_unreach(const char *src, const char *dst, const struct pkt *q)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d = p->data;
	size_t ql = q->len - 14u;

	memset(d, 0, 64);
	d[12] = 0x08;
	d[14] = 0x45;
	d[22] = 64;
	d[23] = 1;
	inet_pton(AF_INET, src, d + 26);
	inet_pton(AF_INET, dst, d + 30);
	d[34] = 3;
	d[35] = 3;
	memcpy(d + 42, q->data + 14, ql);
	d[16] = (uint8_t)((28 + ql) >> 8);
	d[17] = (uint8_t)(28 + ql);
	p->len = (uint16_t)(42 + ql);
	fix_csums(d, p->len);
	return p;
}

static struct pkt *mk(const struct seg *s, struct flow_key *k)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d = p->data, l4[1600] = { 0 };
	bool v6 = strchr(s->src, ':') != NULL;
	size_t l4len = put_l4(l4, s), iph;

	memset(d, 0, 64);
	d[0] = 2; d[5] = 1; d[6] = 2; d[11] = 2;
	d[12] = v6 ? 0x86 : 0x08;
	d[13] = v6 ? 0xdd : 0x00;
	iph = put_ip(d + 14, s, l4len);
	memcpy(d + 14 + iph, l4, l4len);
	p->len = (uint16_t)(14 + iph + l4len);
	if (p->len < 60)
		p->len = 60;	/* Ethernet padding: conntrack must use the IP length */
	fix_csums(d, p->len);
	p->in_port = 1;
	flow_extract(p, k);
	return p;
}

static uint8_t run(const struct ct_action *a, const struct seg *s, struct flow_key *k)
{
	struct flow_key kk;
	struct flow_key *kp = k ? k : &kk;
	struct pkt *p = mk(s, kp);

	ct_execute(&ctrs, &p, &kp, 1, a, now_ms);
	pkt_free(p);
	return kp->ct_state;
}

static const struct ct_action COMMIT = { .flags = CT_F_COMMIT };
static const struct ct_action LOOKUP = { 0 };

#define TRK CS_TRACKED
#define NEW CS_NEW
#define EST CS_ESTABLISHED
#define REL CS_RELATED
#define RPL CS_REPLY_DIR
#define INVL CS_INVALID

static struct ct_conn *find(const char *src, const char *dst, uint8_t proto, uint16_t sp,
			    uint16_t dp, uint16_t zone)
{
	struct ct_tuple t = { 0 };
	struct ct_node *n;

	t.v6 = strchr(src, ':') != NULL;
	inet_pton(t.v6 ? AF_INET6 : AF_INET, src, t.src);
	inet_pton(t.v6 ? AF_INET6 : AF_INET, dst, t.dst);
	t.proto = proto;
	t.sport = htons(sp);
	t.dport = htons(dp);
	t.zone = zone;
	n = ct_lookup(&t, ct_hash(&t));
	return n ? ct_node_conn(n) : NULL;
}

static int setup(void **state)
{
	(void)state;
	rcu_register_thread();
	if (!pool) {
		pool = pkt_pool_create("test", 256);
		assert_non_null(pool);
	}
	pkt_pool_set_thread(pool);
	assert_int_equal(ct_init(2 * 1024 * 1024), 0);
	ct_flush(-1);
	memset(&ctrs, 0, sizeof(ctrs));
	ct_set_limit(-1, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ct_flush(-1);
	rcu_unregister_thread();
	return 0;
}

/* A client 10.0.0.1:1000 and a server 10.0.0.2:80. */
#define C2S(fl, sq, ak) (struct seg){ .src = "10.0.0.1", .dst = "10.0.0.2", .proto = 6, \
	.sport = 1000, .dport = 80, .seq = (sq), .ack = (ak), .flags = (fl), .win = 65535 }
#define S2C(fl, sq, ak) (struct seg){ .src = "10.0.0.2", .dst = "10.0.0.1", .proto = 6, \
	.sport = 80, .dport = 1000, .seq = (sq), .ack = (ak), .flags = (fl), .win = 65535 }

static struct ct_conn *handshake(void)
{
	assert_int_equal(run(&COMMIT, &C2S(SYN, 100, 0), NULL), TRK | NEW);
	assert_int_equal(run(&COMMIT, &S2C(SYN | ACK, 5000, 101), NULL), TRK | EST | RPL);
	assert_int_equal(run(&COMMIT, &C2S(ACK, 101, 5001), NULL), TRK | EST);
	return find("10.0.0.1", "10.0.0.2", 6, 1000, 80, 0);
}

static void test_tcp_handshake_and_close(void **state)
{
	struct ct_conn *c;
	struct seg d;

	(void)state;
	c = handshake();
	assert_non_null(c);
	assert_int_equal(c->tcp.state, CT_TCP_ESTABLISHED);
	assert_true(c->flags & CT_C_ASSURED);
	d = C2S(ACK, 101, 5001);
	d.payload = 100;
	assert_int_equal(run(&LOOKUP, &d, NULL), TRK | EST);
	assert_int_equal(run(&LOOKUP, &S2C(ACK, 5001, 201), NULL), TRK | EST | RPL);
	/* Half-close by the client, then the server. */
	assert_int_equal(run(&LOOKUP, &C2S(FIN | ACK, 201, 5001), NULL), TRK | EST);
	assert_int_equal(c->tcp.state, CT_TCP_FIN_WAIT);
	assert_int_equal(run(&LOOKUP, &S2C(ACK, 5001, 202), NULL), TRK | EST | RPL);
	assert_int_equal(c->tcp.state, CT_TCP_CLOSE_WAIT);
	assert_int_equal(run(&LOOKUP, &S2C(FIN | ACK, 5001, 202), NULL), TRK | EST | RPL);
	assert_int_equal(c->tcp.state, CT_TCP_LAST_ACK);
	assert_int_equal(run(&LOOKUP, &C2S(ACK, 202, 5002), NULL), TRK | EST);
	assert_int_equal(c->tcp.state, CT_TCP_TIME_WAIT);
	assert_int_equal(c->tmo, CT_TMO_TCP_TIME_WAIT);
}

static void test_tcp_time_wait_reuse(void **state)
{
	struct ct_conn *c, *c2;

	(void)state;
	c = handshake();
	run(&LOOKUP, &C2S(FIN | ACK, 101, 5001), NULL);
	run(&LOOKUP, &S2C(FIN | ACK, 5001, 102), NULL);
	run(&LOOKUP, &C2S(ACK, 102, 5002), NULL);
	assert_int_equal(c->tcp.state, CT_TCP_TIME_WAIT);
	/* A new SYN on the same tuple: the old connection goes, a new one
	 * starts. */
	assert_int_equal(run(&COMMIT, &C2S(SYN, 90000, 0), NULL), TRK | NEW);
	c2 = find("10.0.0.1", "10.0.0.2", 6, 1000, 80, 0);
	assert_non_null(c2);
	assert_ptr_not_equal(c, c2);
	assert_int_equal(c2->tcp.state, CT_TCP_SYN_SENT);
	assert_true(c->flags & CT_C_DEAD);
}

static void test_tcp_window(void **state)
{
	struct ct_conn *c;
	struct seg d;
	uint64_t inv;

	(void)state;
	c = handshake();
	inv = ctrs.invalid[CT_INV_TCP_WINDOW];
	/* Data far beyond anything the server allowed (a pure ACK's sequence
	 * number is not checked, as in netfilter). */
	d = C2S(ACK, 101 + 10000000, 5001);
	d.payload = 10;
	assert_int_equal(run(&LOOKUP, &d, NULL), TRK | INVL);
	assert_int_equal(ctrs.invalid[CT_INV_TCP_WINDOW], inv + 1);
	/* Acking data the server never sent. */
	assert_int_equal(run(&LOOKUP, &C2S(ACK, 101, 5001 + 1000000), NULL), TRK | INVL);
	/* A plain retransmission is fine. */
	assert_int_equal(run(&LOOKUP, &C2S(ACK, 101, 5001), NULL), TRK | EST);
	assert_int_equal(c->tcp.state, CT_TCP_ESTABLISHED);
}

static void test_tcp_rst(void **state)
{
	struct ct_conn *c;

	(void)state;
	c = handshake();
	/* Out of window: invalid, the connection stays. */
	assert_int_equal(run(&LOOKUP, &S2C(RST, 5001 + 50000000, 0), NULL), TRK | INVL);
	assert_int_equal(c->tcp.state, CT_TCP_ESTABLISHED);
	assert_true(ctrs.invalid[CT_INV_TCP_RST] >= 1);
	/* In window: the connection closes. */
	assert_int_equal(run(&LOOKUP, &S2C(RST, 5001, 0), NULL), TRK | EST | RPL);
	assert_int_equal(c->tcp.state, CT_TCP_CLOSE);
	assert_int_equal(c->tmo, CT_TMO_TCP_CLOSE);
}

static void test_tcp_invalid_new(void **state)
{
	(void)state;
	/* Mid-stream ACK with no connection, and nonsense flags. */
	assert_int_equal(run(&COMMIT, &C2S(ACK, 1, 1), NULL), TRK | INVL);
	assert_int_equal(run(&COMMIT, &C2S(SYN | FIN, 1, 0), NULL), TRK | INVL);
	assert_null(find("10.0.0.1", "10.0.0.2", 6, 1000, 80, 0));
	/* A reply-less SYN-ACK from the server side is not a new connection. */
	assert_int_equal(run(&COMMIT, &S2C(SYN | ACK, 1, 1), NULL), TRK | INVL);
}

static void test_tcp_simultaneous_open(void **state)
{
	struct ct_conn *c;

	(void)state;
	assert_int_equal(run(&COMMIT, &C2S(SYN, 100, 0), NULL), TRK | NEW);
	assert_int_equal(run(&COMMIT, &S2C(SYN, 7000, 0), NULL), TRK | EST | RPL);
	c = find("10.0.0.1", "10.0.0.2", 6, 1000, 80, 0);
	assert_int_equal(c->tcp.state, CT_TCP_SYN_SENT2);
	assert_int_equal(run(&COMMIT, &C2S(SYN | ACK, 100, 7001), NULL), TRK | EST);
	assert_int_equal(c->tcp.state, CT_TCP_SYN_RECV);
	assert_int_equal(run(&COMMIT, &S2C(SYN | ACK, 7000, 101), NULL), TRK | EST | RPL);
	/* As in netfilter, an ACK of the original side completes it. */
	assert_int_equal(run(&COMMIT, &C2S(ACK, 101, 7001), NULL), TRK | EST);
	assert_int_equal(c->tcp.state, CT_TCP_ESTABLISHED);
}

static void test_uncommitted(void **state)
{
	struct flow_key k;

	(void)state;
	assert_int_equal(run(&LOOKUP, &C2S(SYN, 100, 0), &k), TRK | NEW);
	assert_null(find("10.0.0.1", "10.0.0.2", 6, 1000, 80, 0));
	/* The original tuple is the packet's own. */
	assert_int_equal(k.ct_nw_src, inet_addr("10.0.0.1"));
	assert_int_equal(k.ct_tp_dst, htons(80));
	assert_int_equal(k.ct_nw_proto, 6);
}

static void test_udp_and_zones(void **state)
{
	struct seg u = { .src = "10.1.0.1", .dst = "10.1.0.2", .proto = 17, .sport = 53000,
			 .dport = 53 };
	struct seg r = { .src = "10.1.0.2", .dst = "10.1.0.1", .proto = 17, .sport = 53,
			 .dport = 53000 };
	struct ct_action z1 = { .flags = CT_F_COMMIT, .zone = 1 };
	struct ct_action z2 = { .flags = CT_F_COMMIT, .zone = 2 };
	struct flow_key k;

	(void)state;
	assert_int_equal(run(&z1, &u, NULL), TRK | NEW);
	assert_int_equal(run(&z1, &u, NULL), TRK | NEW);	/* still no reply */
	/* The same tuple in zone 2 is a different connection. */
	assert_int_equal(run(&z2, &r, &k), TRK | NEW);
	assert_int_equal(k.ct_zone, 2);
	assert_int_equal(run(&z1, &r, NULL), TRK | EST | RPL);
	assert_int_equal(run(&z1, &u, NULL), TRK | EST);
	assert_int_equal(run(&z2, &u, NULL), TRK | EST | RPL);
	assert_int_equal(ct_zone_count(1), 1);
	assert_int_equal(ct_zone_count(2), 1);
	assert_int_equal(ct_flush(1), 1);
	assert_int_equal(ct_zone_count(1), 0);
	assert_int_equal(ct_zone_count(2), 1);
}

static void test_icmp_echo_and_related(void **state)
{
	struct seg ping = { .src = "10.2.0.1", .dst = "10.2.0.2", .proto = 1, .icmp_type = 8,
			    .icmp_id = 77 };
	struct seg pong = { .src = "10.2.0.2", .dst = "10.2.0.1", .proto = 1, .icmp_type = 0,
			    .icmp_id = 77 };
	struct seg udp = { .src = "10.2.0.1", .dst = "10.2.0.2", .proto = 17, .sport = 4000,
			   .dport = 4001, .payload = 4 };
	struct flow_key k;
	struct pkt *p;
	struct flow_key *kp = &k;

	(void)state;
	assert_int_equal(run(&LOOKUP, &pong, NULL), TRK | INVL);	/* reply to nothing */
	assert_int_equal(run(&COMMIT, &ping, NULL), TRK | NEW);
	assert_int_equal(run(&COMMIT, &pong, NULL), TRK | EST | RPL);
	assert_int_equal(run(&COMMIT, &udp, NULL), TRK | NEW);
	/* Port unreachable from 10.2.0.2 quoting the UDP datagram. */
	{
		struct flow_key tmp;
		struct pkt *q = mk(&udp, &tmp);

		p = mk_unreach("10.2.0.2", "10.2.0.1", q);
		pkt_free(q);
	}
	flow_extract(p, &k);
	ct_execute(&ctrs, &p, &kp, 1, &LOOKUP, now_ms);
	assert_int_equal(k.ct_state, TRK | REL | RPL);
	pkt_free(p);
}

static void test_ipv6(void **state)
{
	struct seg s = { .src = "fd00::1", .dst = "fd00::2", .proto = 6, .sport = 1, .dport = 22,
			 .seq = 1, .flags = SYN, .win = 1000 };
	struct seg a = { .src = "fd00::2", .dst = "fd00::1", .proto = 6, .sport = 22, .dport = 1,
			 .seq = 9, .ack = 2, .flags = SYN | ACK, .win = 1000 };
	struct seg e = { .src = "fd00::1", .dst = "fd00::2", .proto = 58, .icmp_type = 128,
			 .icmp_id = 5 };
	struct seg er = { .src = "fd00::2", .dst = "fd00::1", .proto = 58, .icmp_type = 129,
			  .icmp_id = 5 };
	struct flow_key k;

	(void)state;
	assert_int_equal(run(&COMMIT, &s, &k), TRK | NEW);
	assert_int_equal(k.ct_ipv6_src[15], 1);
	assert_int_equal(run(&COMMIT, &a, NULL), TRK | EST | RPL);
	assert_int_equal(run(&COMMIT, &e, NULL), TRK | NEW);
	assert_int_equal(run(&COMMIT, &er, NULL), TRK | EST | RPL);
}

static void test_mark_label(void **state)
{
	struct ct_action a = { .flags = CT_F_COMMIT | CT_F_MARK | CT_F_LABEL, .mark = 0x42,
			       .mark_mask = 0xff };
	struct flow_key k;

	(void)state;
	a.label[15] = 7;
	a.label_mask[15] = 0xff;
	run(&a, &C2S(SYN, 1, 0), &k);
	assert_int_equal(k.ct_mark, 0x42);
	assert_int_equal(k.ct_label[15], 7);
	run(&LOOKUP, &S2C(SYN | ACK, 1, 2), &k);
	assert_int_equal(k.ct_mark, 0x42);
	assert_int_equal(k.ct_label[15], 7);
}

static void test_limits(void **state)
{
	struct seg u = { .src = "10.3.0.1", .dst = "10.3.0.2", .proto = 17, .dport = 9 };
	struct ct_action a = { .flags = CT_F_COMMIT, .zone = 7 };

	(void)state;
	ct_set_limit(7, 3);
	for (int i = 0; i < 5; i++) {
		u.sport = (uint16_t)(100 + i);
		assert_int_equal(run(&a, &u, NULL), i < 3 ? (TRK | NEW) : (TRK | INVL));
	}
	assert_int_equal(ct_zone_count(7), 3);
	assert_int_equal(ctrs.invalid[CT_INV_LIMIT], 2);
	ct_set_limit(7, 0);
}

static void test_expiry(void **state)
{
	struct seg u = { .src = "10.4.0.1", .dst = "10.4.0.2", .proto = 17, .sport = 1, .dport = 2 };
	uint64_t t = now_ms;

	(void)state;
	run(&COMMIT, &u, NULL);
	assert_non_null(find("10.4.0.1", "10.4.0.2", 17, 1, 2, 0));
	/* Before the unreplied timeout nothing goes; after, it does. */
	for (unsigned i = 0; i < 10; i++)
		ct_sweep_step(t + ct_get_timeout(CT_TMO_UDP_FIRST) * 1000 - 1, 1u << 20);
	assert_non_null(find("10.4.0.1", "10.4.0.2", 17, 1, 2, 0));
	ct_set_timeout(CT_TMO_UDP_FIRST, 5);
	run(&COMMIT, &u, NULL);	/* refreshed with the new timeout */
	for (unsigned i = 0; i < 200; i++)
		ct_sweep_step(t + 5000, 1u << 14);
	assert_null(find("10.4.0.1", "10.4.0.2", 17, 1, 2, 0));
	ct_set_timeout(CT_TMO_UDP_FIRST, 30);
}

/* Run ct on a frame and keep it: the test reads the rewritten bytes. */
static struct pkt *run_keep(const struct ct_action *a, const struct seg *s, struct flow_key *k)
{
	struct pkt *p = mk(s, k);

	ct_execute(&ctrs, &p, &k, 1, a, now_ms);
	return p;
}

static void test_snat_ports(void **state)
{
	struct ct_action a = { .flags = CT_F_COMMIT | CT_F_NAT };
	struct seg s = { .src = "10.5.0.1", .dst = "10.5.0.2", .proto = 6, .sport = 1000,
			 .dport = 80, .seq = 1, .flags = SYN, .win = 100 };
	uint16_t seen[3];
	struct flow_key k;
	struct pkt *p;

	(void)state;
	a.nat.flags = CT_NAT_SRC | CT_NAT_ADDR | CT_NAT_PORT;
	inet_pton(AF_INET, "192.168.0.1", a.nat.addr_min);
	inet_pton(AF_INET, "192.168.0.1", a.nat.addr_max);
	a.nat.port_min = 2000;
	a.nat.port_max = 2001;
	/* Three clients, two ports: two translations that differ, then none. */
	for (int i = 0; i < 3; i++) {
		s.src = i == 0 ? "10.5.0.1" : i == 1 ? "10.5.0.3" : "10.5.0.4";
		p = run_keep(&a, &s, &k);
		if (i < 2) {
			assert_int_equal(k.ct_state, TRK | NEW | CS_SRC_NAT);
			assert_memory_equal(p->data + 26, "\xc0\xa8\x00\x01", 4);
			seen[i] = (uint16_t)(p->data[34] << 8 | p->data[35]);
			assert_true(seen[i] == 2000 || seen[i] == 2001);
			assert_true(csums_ok(p));
		} else {
			assert_int_equal(k.ct_state, TRK | INVL);
			assert_int_equal(ctrs.invalid[CT_INV_NAT_EXHAUSTED], 1);
		}
		pkt_free(p);
	}
	assert_int_not_equal(seen[0], seen[1]);
	/* The server answers the translated address; the reply goes back to
	 * the first client, untranslated, checksums right. */
	{
		struct seg r = { .src = "10.5.0.2", .dst = "192.168.0.1", .proto = 6, .sport = 80,
				 .dport = seen[0], .seq = 50, .ack = 2, .flags = SYN | ACK,
				 .win = 100 };

		p = run_keep(&a, &r, &k);
		assert_int_equal(k.ct_state, TRK | EST | RPL | CS_SRC_NAT);
		assert_memory_equal(p->data + 30, "\x0a\x05\x00\x01", 4);
		assert_int_equal(p->data[36] << 8 | p->data[37], 1000);
		assert_true(csums_ok(p));
		/* The key follows the packet. */
		assert_int_equal(k.nw_dst, inet_addr("10.5.0.1"));
		/* The original tuple stays the pre-NAT one. */
		assert_int_equal(k.ct_nw_src, inet_addr("10.5.0.1"));
		pkt_free(p);
	}
}

static void test_dnat_udp_v6_and_icmp_error(void **state)
{
	struct ct_action a = { .flags = CT_F_COMMIT | CT_F_NAT };
	struct seg u = { .src = "fd00::1", .dst = "fd00::100", .proto = 17, .sport = 5000,
			 .dport = 53, .payload = 10 };
	struct seg r = { .src = "fd00::7", .dst = "fd00::1", .proto = 17, .sport = 53,
			 .dport = 5000, .payload = 10 };
	struct flow_key k;
	struct pkt *p;
	uint8_t want[16];

	(void)state;
	a.nat.flags = CT_NAT_DST | CT_NAT_ADDR | CT_NAT_V6;
	inet_pton(AF_INET6, "fd00::7", a.nat.addr_min);
	memcpy(a.nat.addr_max, a.nat.addr_min, 16);
	p = run_keep(&a, &u, &k);
	assert_int_equal(k.ct_state, TRK | NEW | CS_DST_NAT);
	inet_pton(AF_INET6, "fd00::7", want);
	assert_memory_equal(p->data + 14 + 24, want, 16);
	assert_true(csums_ok(p));
	pkt_free(p);
	p = run_keep(&a, &r, &k);
	assert_int_equal(k.ct_state, TRK | EST | RPL | CS_DST_NAT);
	inet_pton(AF_INET6, "fd00::100", want);
	assert_memory_equal(p->data + 14 + 8, want, 16);
	assert_true(csums_ok(p));
	pkt_free(p);
}

static void test_snat_icmp_error_translated(void **state)
{
	struct ct_action a = { .flags = CT_F_COMMIT | CT_F_NAT };
	struct seg u = { .src = "10.6.0.1", .dst = "10.6.0.2", .proto = 17, .sport = 7000,
			 .dport = 7001, .payload = 4 };
	struct flow_key k, *kp = &k;
	struct pkt *p, *q;
	uint8_t *d;

	(void)state;
	a.nat.flags = CT_NAT_SRC | CT_NAT_ADDR;
	inet_pton(AF_INET, "192.168.9.9", a.nat.addr_min);
	memcpy(a.nat.addr_max, a.nat.addr_min, 4);
	q = run_keep(&a, &u, &k);		/* leaves as 192.168.9.9 -> 10.6.0.2 */
	/* 10.6.0.2 answers port unreachable to 192.168.9.9, quoting it. */
	p = mk_unreach("10.6.0.2", "192.168.9.9", q);
	d = p->data;
	pkt_free(q);
	flow_extract(p, &k);
	ct_execute(&ctrs, &p, &kp, 1, &a, now_ms);
	assert_int_equal(k.ct_state, TRK | REL | RPL | CS_SRC_NAT);
	/* Outer destination and quoted source are the client again. */
	assert_memory_equal(d + 30, "\x0a\x06\x00\x01", 4);
	assert_memory_equal(d + 42 + 12, "\x0a\x06\x00\x01", 4);
	assert_true(csums_ok(p));
	/* The quoted IP header's checksum too. */
	assert_int_equal(fold(sum16(d + 42, 20, 0)), 0);
	pkt_free(p);
}

/* ---- a million connections expiring under a PMD ---- */

struct pmd_probe {
	volatile bool stop;
	volatile int phase;		/* 0: while the sweep runs, 1: the same time without */
	uint64_t max_cpu_ns[2], max_wall_ns[2], iterations, created;
};

/* A burst with runs of one tuple (the batch loop reuses the previous
 * packet's connection for them) gives every packet exactly the verdict,
 * key and bytes it gets when each packet is a batch of its own: SNAT'ed UDP
 * both ways, a retransmitted SYN, echo replies with no request. */
static void test_burst_same_tuple(void **state)
{
	struct ct_action a = { .flags = CT_F_COMMIT | CT_F_NAT };
	const struct seg out = { .src = "10.6.0.1", .dst = "10.6.0.2", .proto = 17,
				 .sport = 1000, .dport = 53, .payload = 8 };
	const struct seg back = { .src = "10.6.0.2", .dst = "192.168.6.1", .proto = 17,
				  .sport = 53, .dport = 3000, .payload = 8 };
	const struct seg syn = { .src = "10.6.0.1", .dst = "10.6.0.2", .proto = 6, .sport = 1001,
				 .dport = 80, .seq = 7, .flags = SYN, .win = 1000 };
	const struct seg pong = { .src = "10.6.0.9", .dst = "10.6.0.1", .proto = 1,
				  .icmp_type = 0, .icmp_id = 5 };
	const struct seg *seq[] = { &out, &out, &out, &back, &back, &out, &out, &syn, &syn,
				    &pong, &pong, &out };
	enum { N = ARRAY_SIZE(seq) };
	struct flow_key kb[N], ks[N], *kp[N];
	struct pkt *pb[N], *ps[N];
	const size_t from = offsetof(struct flow_key, ct_mark);
	const size_t len = offsetof(struct flow_key, ct_label) + 16 - from;

	(void)state;
	a.nat.flags = CT_NAT_SRC | CT_NAT_ADDR | CT_NAT_PORT;
	inet_pton(AF_INET, "192.168.6.1", a.nat.addr_min);
	inet_pton(AF_INET, "192.168.6.1", a.nat.addr_max);
	a.nat.port_min = a.nat.port_max = 3000;
	for (int i = 0; i < N; i++) {
		pb[i] = mk(seq[i], &kb[i]);
		kp[i] = &kb[i];
	}
	ct_execute(&ctrs, pb, kp, N, &a, now_ms);
	assert_int_equal(ctrs.n_created, 2);
	assert_int_equal(ctrs.invalid[CT_INV_ICMP_TYPE], 2);
	ct_flush(-1);
	for (int i = 0; i < N; i++)
		ps[i] = run_keep(&a, seq[i], &ks[i]);
	assert_int_equal(ctrs.n_created, 4);
	assert_int_equal(ctrs.invalid[CT_INV_ICMP_TYPE], 4);
	for (int i = 0; i < N; i++) {
		assert_memory_equal((uint8_t *)&kb[i] + from, (uint8_t *)&ks[i] + from, len);
		assert_memory_equal(&kb[i].nw_src, &ks[i].nw_src, 8);
		assert_int_equal(pb[i]->len, ps[i]->len);
		assert_memory_equal(pb[i]->data, ps[i]->data, pb[i]->len);
		assert_true(csums_ok(pb[i]));
		pkt_free(pb[i]);
		pkt_free(ps[i]);
	}
	assert_int_equal(kb[0].ct_state, TRK | NEW | CS_SRC_NAT);
	assert_int_equal(kb[2].ct_state, TRK | NEW | CS_SRC_NAT);
	assert_int_equal(kb[4].ct_state, TRK | EST | RPL | CS_SRC_NAT);
	assert_int_equal(kb[6].ct_state, TRK | EST | CS_SRC_NAT);
	assert_int_equal(kb[8].ct_state, TRK | NEW | CS_SRC_NAT);
	assert_int_equal(kb[10].ct_state, TRK | INVL);
}

/* Packets that share a key (identical frames, as the pipeline shares them
 * under a ct() whose verdict no action reads, CT_F_NO_KEY) cost the same
 * connections, counters and TCP state as when each is a batch of its own,
 * and their keys are left as they were: UDP both ways, a retransmitted SYN
 * (each copy goes through the window tracking), echo replies with no
 * request (each an invalid), a run whose connection went before it. */
static void test_burst_shared_keys(void **state)
{
	const struct ct_action nokey = { .flags = CT_F_COMMIT | CT_F_NO_KEY };
	const struct seg out = { .src = "10.7.0.1", .dst = "10.7.0.2", .proto = 17,
				 .sport = 1000, .dport = 53, .payload = 8 };
	const struct seg back = { .src = "10.7.0.2", .dst = "10.7.0.1", .proto = 17,
				  .sport = 53, .dport = 1000, .payload = 8 };
	const struct seg syn = { .src = "10.7.0.1", .dst = "10.7.0.2", .proto = 6, .sport = 1001,
				 .dport = 80, .seq = 7, .flags = SYN, .win = 1000 };
	const struct seg synack = { .src = "10.7.0.2", .dst = "10.7.0.1", .proto = 6,
				    .sport = 80, .dport = 1001, .seq = 50, .ack = 8,
				    .flags = SYN | ACK, .win = 1000 };
	const struct seg pong = { .src = "10.7.0.9", .dst = "10.7.0.1", .proto = 1,
				  .icmp_type = 0, .icmp_id = 5 };
	const struct seg *seq[] = { &out, &out, &out, &back, &back, &syn, &syn, &syn,
				    &pong, &pong, &out, &out };
	enum { N = ARRAY_SIZE(seq) };
	struct flow_key kb[N], ks, *kp[N];
	struct pkt *pb[N];
	struct ct_pmd shared, alone;
	struct ct_tcp tcp_shared;
	uint8_t rt_shared, rt_alone;

	(void)state;
	for (int i = 0; i < N; i++) {
		pb[i] = mk(seq[i], &kb[i]);
		kp[i] = i && seq[i] == seq[i - 1] ? kp[i - 1] : &kb[i];
	}
	ct_execute(&ctrs, pb, kp, N, &nokey, now_ms);
	for (int i = 0; i < N; i++) {
		assert_int_equal(kb[i].ct_state, 0);	/* no key written */
		pkt_free(pb[i]);
	}
	tcp_shared = find("10.7.0.1", "10.7.0.2", 6, 1001, 80, 0)->tcp;
	rt_shared = run(&LOOKUP, &synack, NULL);
	shared = ctrs;
	assert_int_equal(shared.n_created, 2);
	assert_int_equal(shared.invalid[CT_INV_ICMP_TYPE], 2);
	ct_flush(-1);
	memset(&ctrs, 0, sizeof(ctrs));
	for (int i = 0; i < N; i++)
		pkt_free(run_keep(&COMMIT, seq[i], &ks));
	assert_memory_equal(&find("10.7.0.1", "10.7.0.2", 6, 1001, 80, 0)->tcp, &tcp_shared,
			    sizeof(tcp_shared));
	rt_alone = run(&LOOKUP, &synack, NULL);
	alone = ctrs;
	assert_int_equal(shared.n_packets, alone.n_packets);
	assert_int_equal(shared.n_created, alone.n_created);
	assert_int_equal(shared.n_lookups_new, alone.n_lookups_new);
	assert_memory_equal(shared.invalid, alone.invalid, sizeof(shared.invalid));
	assert_int_equal(rt_shared, rt_alone);
	assert_int_equal(rt_shared, TRK | EST | RPL);
	assert_non_null(find("10.7.0.1", "10.7.0.2", 17, 1000, 53, 0));

	/* A run whose connection is gone before it: looked up afresh once, the
	 * rest of the run repeats that. */
	memset(&ctrs, 0, sizeof(ctrs));
	ct_conn_unlink(find("10.7.0.1", "10.7.0.2", 17, 1000, 53, 0));
	for (int i = 0; i < 4; i++) {
		pb[i] = mk(&out, &kb[i]);
		kp[i] = &kb[0];
	}
	ct_execute(&ctrs, pb, kp, 4, &nokey, now_ms);
	for (int i = 0; i < 4; i++)
		pkt_free(pb[i]);
	assert_int_equal(ctrs.n_created, 1);
	assert_int_equal(ctrs.n_lookups_new, 1);
	assert_non_null(find("10.7.0.1", "10.7.0.2", 17, 1000, 53, 0));
}

/* Keys shared under a ct() whose verdict is read (ct(table=N): the
 * datapath lends a key per packet, ct_execute_store): a run that ends on a
 * live connection (UDP) keeps its one key, written once; TCP segments and
 * packets with no connection (echo replies with no request) each move to
 * a key of their own. Every packet's verdict is the one it gets alone. */
static void test_burst_store(void **state)
{
	const struct seg out = { .src = "10.8.0.1", .dst = "10.8.0.2", .proto = 17,
				 .sport = 1000, .dport = 53, .payload = 8 };
	const struct seg syn = { .src = "10.8.0.1", .dst = "10.8.0.2", .proto = 6, .sport = 1001,
				 .dport = 80, .seq = 7, .flags = SYN, .win = 1000 };
	const struct seg pong = { .src = "10.8.0.9", .dst = "10.8.0.1", .proto = 1,
				  .icmp_type = 0, .icmp_id = 5 };
	const struct seg *seq[] = { &out, &out, &out, &syn, &syn, &syn, &pong, &pong };
	enum { N = ARRAY_SIZE(seq) };
	const size_t from = offsetof(struct flow_key, ct_mark);
	const size_t len = offsetof(struct flow_key, ct_label) + 16 - from;
	struct flow_key kb[N], store[N], ks[N], *kp[N];
	struct pkt *pb[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		pb[i] = mk(seq[i], &kb[i]);
		kp[i] = i && seq[i] == seq[i - 1] ? kp[i - 1] : &kb[i];
	}
	ct_execute_store(&ctrs, pb, kp, N, &COMMIT, now_ms, store);
	assert_ptr_equal(kp[1], &kb[0]);
	assert_ptr_equal(kp[2], &kb[0]);
	assert_ptr_equal(kp[3], &kb[3]);
	for (int i = 4; i < 6; i++)
		assert_ptr_equal(kp[i], &store[i]);
	assert_ptr_equal(kp[7], &store[7]);
	ct_flush(-1);
	for (int i = 0; i < N; i++) {
		pkt_free(run_keep(&COMMIT, seq[i], &ks[i]));
		assert_memory_equal((uint8_t *)kp[i] + from, (uint8_t *)&ks[i] + from, len);
		/* The rest of the key is the packet's own. */
		assert_memory_equal(kp[i], &ks[i], from);
		pkt_free(pb[i]);
	}
	assert_int_equal(kp[0]->ct_state, TRK | NEW);
	assert_int_equal(kp[5]->ct_state, TRK | NEW);
	assert_int_equal(kp[7]->ct_state, TRK | INVL);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What a PMD does: bursts of an established flow and new connections, a
 * quiescent state per loop. It records its longest loop, both in its own
 * CPU time (a stall we cause: spinning on a lock we hold) and on the wall
 * (which also counts the OS running someone else on this core). */
static void *pmd_thread(void *arg)
{
	struct pmd_probe *pr = arg;
	struct pkt_pool *pp = pkt_pool_create("pmd", 64);
	struct ct_pmd c = { 0 };
	struct seg u = { .src = "10.9.0.1", .dst = "10.9.0.2", .proto = 17, .sport = 1,
			 .dport = 2 };
	uint64_t last_cpu, last_wall;
	uint32_t i = 0;

	rcu_register_thread();
	pkt_pool_set_thread(pp);
	last_cpu = thread_cpu_ns();
	last_wall = time_ns();
	while (!pr->stop) {
		struct pkt *p[8];
		struct flow_key k[8], *kp[8];
		uint64_t cpu, wall;

		for (int j = 0; j < 8; j++) {
			u.sport = (uint16_t)(j == 7 ? 10000 + i % 256 : 1);
			p[j] = mk(&u, &k[j]);
			kp[j] = &k[j];
		}
		ct_execute(&c, p, kp, 8, &COMMIT, ct_now_ms());
		for (int j = 0; j < 8; j++)
			pkt_free(p[j]);
		rcu_quiescent_state();
		cpu = thread_cpu_ns();
		wall = time_ns();
		if (cpu - last_cpu > pr->max_cpu_ns[pr->phase])
			pr->max_cpu_ns[pr->phase] = cpu - last_cpu;
		if (wall - last_wall > pr->max_wall_ns[pr->phase])
			pr->max_wall_ns[pr->phase] = wall - last_wall;
		last_cpu = cpu;
		last_wall = wall;
		pr->iterations++;
		i++;
	}
	pr->created = c.n_created;
	rcu_unregister_thread();
	pkt_pool_destroy(pp);
	return NULL;
}

/* A million in the plain build; sanitizers make each connection several
 * times dearer, so their run proves the same thing on a quarter. */
#if defined(__SANITIZE_ADDRESS__)
#define MILLION	250000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MILLION	250000
#endif
#endif
#ifndef MILLION
#define MILLION	1000000
#endif

static void test_million_expire_no_stall(void **state)
{
	enum { N = MILLION };
	struct seg u = { .src = "10.8.0.1", .dst = "10.8.0.2", .proto = 17 };
	struct pmd_probe pr = { 0 };
	uint64_t t0, max_step = 0, expired = 0, steps = 0;
	pthread_t th;
	char src[16];

	(void)state;
	ct_set_timeout(CT_TMO_UDP_FIRST, 1);
	t0 = time_ns();
	for (uint32_t i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.%u", 100 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
		u.src = src;
		u.sport = (uint16_t)(1 + i % 60000);
		u.dport = 53;
		assert_int_equal(run(&COMMIT, &u, NULL), TRK | NEW);
	}
	assert_true(ct_tab.n_conns >= N);
	print_message("1M: %u connections committed in %.0f ms, %.0f ns each\n", ct_tab.n_conns,
		      (double)(time_ns() - t0) / 1e6, (double)(time_ns() - t0) / N);
	assert_int_equal(pthread_create(&th, NULL, pmd_thread, &pr), 0);
	/* The control thread's sweep, back to back (harsher than its 10 ms
	 * period), until the million is gone. */
	t0 = time_ns();
	while (ct_tab.n_conns > 1000 && time_ns() - t0 < 60ull * 1000000000u) {
		uint64_t s0 = time_ns(), d;

		expired += ct_sweep_step(ct_now_ms() + 10000, 16384);
		d = time_ns() - s0;
		if (d > max_step)
			max_step = d;
		steps++;
	}
	ct_reclaim();
	/* The same PMD loop as long again with no sweep: what this machine
	 * does to a thread by itself (a loaded shared host, a hypervisor
	 * taking the vCPU, which thread CPU clocks count too). */
	{
		uint64_t swept = time_ns() - t0, b0;

		pr.phase = 1;
		b0 = time_ns();
		while (time_ns() - b0 < MIN(swept, 8000000000ull))
			usleep(10000);
	}
	pr.stop = true;
	pthread_join(th, NULL);
	print_message("1M: expired %llu in %.0f ms over %llu sweep steps (longest %.2f ms); "
		      "PMD loop: %llu iterations, %llu connections created meanwhile; longest "
		      "loop with the sweep %.3f ms CPU, %.3f ms wall; without %.3f ms CPU, "
		      "%.3f ms wall\n",
		      (unsigned long long)expired, (double)(time_ns() - t0) / 1e6,
		      (unsigned long long)steps, (double)max_step / 1e6,
		      (unsigned long long)pr.iterations, (unsigned long long)pr.created,
		      (double)pr.max_cpu_ns[0] / 1e6, (double)pr.max_wall_ns[0] / 1e6,
		      (double)pr.max_cpu_ns[1] / 1e6, (double)pr.max_wall_ns[1] / 1e6);
	assert_true(expired >= N);
	assert_true(ct_tab.n_conns <= 1000);
	assert_true(pr.iterations > 100);
	/* No stall of ours the PMD can feel: its longest loop (in its own
	 * CPU time, so the OS running others on its core does not count) is
	 * under 10 ms — or, on a host that itself takes the thread away for
	 * longer, no longer than what it suffers without any sweep. */
	assert_true(pr.max_cpu_ns[0] < 10000000u ||
		    pr.max_cpu_ns[0] <= pr.max_cpu_ns[1] + pr.max_cpu_ns[1] / 2);
	ct_set_timeout(CT_TMO_UDP_FIRST, 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_handshake_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_time_wait_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_invalid_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_simultaneous_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_and_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_and_related, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snat_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnat_udp_v6_and_icmp_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snat_icmp_error_translated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_same_tuple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_shared_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_million_expire_no_stall, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
