/* Unit tests for the vRouter (src/l3): the commands (errors, all-or-nothing
 * bulk add, route-show), and the route action on packets — forwarding with
 * MAC rewrite, TTL and checksum, ECMP spread, ICMP errors, ARP and ND
 * answers, neighbour solicitation, IPv6, and route changes taking effect on
 * the next packet without revalidation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "ctl/ctl.h"
#include "dp/parse.h"
#include "l3/l3_priv.h"
#include "port/port.h"

#define N_PORTS	4
/* A byte array in an expression (parentheses keep macro arguments whole). */
#define B(...)	((const uint8_t[]){ __VA_ARGS__ })
#define NREC	64

static uint16_t fake_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port; (void)qid; (void)pkts; (void)n;
	return 0;
}

static uint16_t fake_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port; (void)qid;
	pkt_free_bulk(pkts, n);
	return n;
}

static void fake_close(struct port *port)
{
	port_free(port);
}

static const struct port_ops fake_ops = { .rx_burst = fake_rx, .tx_burst = fake_tx,
					  .close = fake_close };

struct sent {
	uint16_t port, len;
	uint8_t b[1500];
};

static struct sent sent[NREC];
static unsigned n_sent;

static void fake_output(struct dp_pmd *pmd, uint16_t port, struct pkt **pkts, uint16_t n)
{
	(void)pmd;
	for (uint16_t i = 0; i < n; i++) {
		if (n_sent < NREC) {
			sent[n_sent].port = port;
			sent[n_sent].len = pkts[i]->len;
			memcpy(sent[n_sent].b, pkts[i]->data, MIN(pkts[i]->len, 1500));
			n_sent++;
		}
		pkt_free(pkts[i]);
	}
}

static struct port *ports[N_PORTS];
static struct pkt_pool *pool;
static struct dpact_ctx ctx;

static int run_argv(int argc, char **argv, char *err, size_t errlen)
{
	struct ctl_req r;
	int rc = ctl_exec(&r, argc, argv);

	if (err)
		snprintf(err, errlen, "%s", r.err);
	ctl_req_release(&r);
	return rc;
}

/* Run a command line split at spaces. */
static int run(const char *line)
{
	char buf[512], *argv[64];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		argv[argc++] = t;
	return run_argv(argc, argv, NULL, 0);
}

static int setup(void **state)
{
	char name[8];

	(void)state;
	pool = pkt_pool_create("test", 512);
	pkt_pool_set_thread(pool);
	for (int i = 0; i < N_PORTS; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ports[i] = port_alloc(name, "fake", &fake_ops);
		assert_int_equal(port_add(ports[i]), 0);
	}
	dpact_ctx_init(&ctx, NULL, 0, fake_output);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_PORTS; i++)
		port_del(ports[i]);
	pkt_pool_destroy(pool);
	return 0;
}

/* ---- packets ---- */

static const uint8_t vm_mac[6] = { 0x02, 0, 0, 0, 0, 0x10 };
static const uint8_t gw_mac[6] = { 0x02, 0, 0x5e, 0, 0, 1 };

static uint16_t sum(const uint8_t *p, size_t n)
{
	return l3_csum(p, n, 0);
}

static struct pkt *ipv4_pkt(uint16_t in, const char *src, const char *dst, uint8_t ttl,
			    uint16_t sport, struct flow_key *key)
{
	struct pkt *p = pkt_alloc();
	uint8_t *e, *ip, *udp;

	assert_non_null(p);
	e = p->data;
	memcpy(e, gw_mac, 6);
	memcpy(e + 6, vm_mac, 6);
	e[12] = 0x08;
	e[13] = 0x00;
	ip = e + 14;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[3] = 28;
	ip[8] = ttl;
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	ip[10] = 0;
	ip[11] = 0;
	{
		uint16_t c = sum(ip, 20);

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp = ip + 20;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[3] = 53;
	udp[5] = 8;
	p->len = 14 + 28 + 18;
	p->in_port = in;
	flow_extract(p, key);
	return p;
}

static struct pkt *ipv6_pkt(uint16_t in, const char *src, const char *dst, uint8_t hlim,
			    struct flow_key *key)
{
	struct pkt *p = pkt_alloc();
	uint8_t *e = p->data, *ip = e + 14;

	memcpy(e, gw_mac, 6);
	memcpy(e + 6, vm_mac, 6);
	e[12] = 0x86;
	e[13] = 0xdd;
	memset(ip, 0, 48);
	ip[0] = 0x60;
	ip[5] = 8;
	ip[6] = 17;
	ip[7] = hlim;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	ip[45] = 8;
	p->len = 14 + 48;
	p->in_port = in;
	flow_extract(p, key);
	return p;
}

static void route(struct pkt *p, const struct flow_key *k, uint32_t vrf)
{
	l3_route_batch(&ctx, &p, &k, 1, vrf);
}

static uint64_t counter(enum l3_counter c)
{
	uint64_t v[L3_C_MAX];

	l3_counters(v);
	return v[c];
}

/* ---- tests ---- */

static void test_commands(void **state)
{
	char err[512];
	char *bad[] = { "route-add", "1", "10.0.0.1/24", "dev", "p1" };
	char *viagw[] = { "route-add", "1", "10.9.0.0/16", "via", "10.1.1.1" };
	struct l3_vrf *v;

	(void)state;
	assert_int_equal(run("vrf-add 1 red"), 0);
	assert_int_equal(run("vrf-add 1 again"), -EEXIST);
	assert_int_equal(run("vrf-add 4096"), -EINVAL);
	v = l3_cfg.vrf[1];
	assert_non_null(v);
	assert_int_not_equal(run_argv(5, bad, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "host bits"));
	assert_int_not_equal(run_argv(5, viagw, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not on a connected subnet"));
	assert_int_equal(run("route-add 1 10.9.0.0/16 via 10.1.1.1 dev nosuch"), -ENOENT);
	assert_int_equal(run("vrf-if-add 1 p0 10.1.1.254/24 2001:db8:1::1/64"), 0);
	assert_int_equal(run("vrf-if-add 1 p0 10.1.2.254/24"), -EEXIST);
	assert_int_equal(run("route-add 1 10.9.0.0/16 via 10.1.1.1"), 0);
	assert_int_equal(run("route-add 1 10.9.0.0/16 dev p1"), -EEXIST);
	assert_int_equal(run("route-add 1 10.8.0.0/16 ecmp via 10.1.1.1 dev p0 via 10.1.1.2 dev p0"), 0);
	assert_int_equal(run("route-add 1 10.7.0.0/16 ecmp via 10.1.1.1 dev p0"), -EINVAL);
	assert_int_equal(run("route-add 1 10.6.0.0/16 blackhole extra"), -EINVAL);
	assert_int_equal(run("route-add 2 10.6.0.0/16 blackhole"), -ENOENT);
	/* local + connected for each address, plus the two routes. */
	assert_int_equal(v->rib->n, 6);
	assert_int_equal(run("route-show 1"), 0);
	assert_int_equal(run("route-show 1 10.9.3.4"), 0);
	assert_int_equal(run("route-show 1 10.99.0.0/16"), -ENOENT);
	assert_int_equal(run("route-del 1 10.1.1.0/24"), -ENOENT);	/* connected: vrf-if-del */
	assert_int_equal(run("route-del 1 10.8.0.0/16"), 0);
	assert_int_equal(run("route-del 1 10.8.0.0/16"), -ENOENT);
	assert_int_equal(v->rib->n, 5);
	assert_int_equal(run("vrf-del 1"), 0);
	assert_null(l3_cfg.vrf[1]);
	assert_int_equal(l3_nh_count(), 0);
}

static void test_add_routes_atomic(void **state)
{
	char *argv[2] = { "add-routes", NULL };
	char text[4096], err[512];
	size_t n = 0;
	uint32_t nh_before;

	(void)state;
	assert_int_equal(run("vrf-add 3"), 0);
	assert_int_equal(run("route-add 3 10.50.0.0/16 dev p1"), 0);
	nh_before = l3_nh_count();
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "3 10.%d.0.0/16 dev p%d\n", i, i % 3);
	argv[1] = text;
	/* Line 51 collides with the existing 10.50.0.0/16: nothing goes in. */
	assert_int_not_equal(run_argv(2, argv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "10.50.0.0/16"));
	assert_int_equal(l3_cfg.vrf[3]->rib->n, 1);
	assert_int_equal(l3_nh_count(), nh_before);
	assert_int_equal(lpm4_lookup(l3_cfg.vrf[3]->v4, 0x0a010203), -1);
	/* A parse error on the last line: nothing either. */
	snprintf(text, sizeof(text), "3 10.1.0.0/16 dev p1\n# comment\n\n3 10.2.0.0/16 dev nosuch\n");
	assert_int_not_equal(run_argv(2, argv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "line 4"));
	assert_int_equal(l3_cfg.vrf[3]->rib->n, 1);
	snprintf(text, sizeof(text), "3 10.1.0.0/16 dev p1\n3 2001:db8::/32 dev p2\n");
	assert_int_equal(run_argv(2, argv, err, sizeof(err)), 0);
	assert_int_equal(l3_cfg.vrf[3]->rib->n, 3);
	assert_int_equal(run("vrf-del 3"), 0);
}

static void test_forward_v4(void **state)
{
	struct flow_key k;
	struct pkt *p;
	uint8_t *ip;
	uint64_t c;

	(void)state;
	n_sent = 0;
	assert_int_equal(run("vrf-add 5"), 0);
	assert_int_equal(run("vrf-if-add 5 p0 10.0.0.254/24 mac=02:00:5e:00:00:01"), 0);
	assert_int_equal(run("vrf-if-add 5 p1 192.168.1.254/24 mac=02:00:5e:00:00:02"), 0);
	assert_int_equal(run("route-add 5 172.16.0.0/12 via 192.168.1.1"), 0);

	/* Gateway not resolved: an ARP request out p1, the packet dropped. */
	c = counter(L3_C_UNRESOLVED);
	route(ipv4_pkt(0, "10.0.0.1", "172.16.5.5", 64, 1000, &k), &k, 5);
	assert_int_equal(counter(L3_C_UNRESOLVED), c + 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 1);
	assert_int_equal(sent[0].b[12] << 8 | sent[0].b[13], 0x0806);
	assert_memory_equal(sent[0].b + 14 + 14, B(192, 168, 1, 254), 4);
	assert_memory_equal(sent[0].b + 14 + 24, B(192, 168, 1, 1), 4);

	/* Resolved: forwarded with MACs rewritten and TTL 63. */
	assert_int_equal(run("neigh-add 5 192.168.1.1 02:aa:00:00:00:01 dev p1"), 0);
	n_sent = 0;
	p = ipv4_pkt(0, "10.0.0.1", "172.16.5.5", 64, 1000, &k);
	route(p, &k, 5);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 1);
	assert_memory_equal(sent[0].b, B(0x02, 0xaa, 0, 0, 0, 1), 6);
	assert_memory_equal(sent[0].b + 6, B(0x02, 0, 0x5e, 0, 0, 2), 6);
	ip = sent[0].b + 14;
	assert_int_equal(ip[8], 63);
	assert_int_equal(sum(ip, 20), 0);	/* checksum still valid */

	/* A more specific route wins at once; deleting it falls back. */
	assert_int_equal(run("route-add 5 172.16.5.0/24 dev p2"), 0);
	n_sent = 0;
	route(ipv4_pkt(0, "10.0.0.1", "172.16.5.5", 64, 1000, &k), &k, 5);
	assert_int_equal(counter(L3_C_UNRESOLVED), c + 2);	/* glean on p2, no address there */
	assert_int_equal(run("route-del 5 172.16.5.0/24"), 0);
	n_sent = 0;
	route(ipv4_pkt(0, "10.0.0.1", "172.16.5.5", 64, 1000, &k), &k, 5);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 1);

	/* TTL 1: ICMP time exceeded back to the sender, from the gateway. */
	n_sent = 0;
	c = counter(L3_C_TTL);
	route(ipv4_pkt(0, "10.0.0.1", "172.16.5.5", 1, 1000, &k), &k, 5);
	assert_int_equal(counter(L3_C_TTL), c + 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 0);
	ip = sent[0].b + 14;
	assert_int_equal(ip[9], 1);
	assert_memory_equal(ip + 12, B(10, 0, 0, 254), 4);
	assert_memory_equal(ip + 16, B(10, 0, 0, 1), 4);
	assert_int_equal(ip[20], 11);
	assert_int_equal(sum(ip, 20), 0);
	assert_int_equal(sum(ip + 20, (size_t)((ip[2] << 8 | ip[3]) - 20)), 0);

	/* No route: net unreachable. */
	n_sent = 0;
	c = counter(L3_C_NO_ROUTE);
	route(ipv4_pkt(0, "10.0.0.1", "8.8.8.8", 64, 1000, &k), &k, 5);
	assert_int_equal(counter(L3_C_NO_ROUTE), c + 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].b[14 + 20], 3);
	assert_int_equal(sent[0].b[14 + 21], 0);

	/* A VRF that does not exist. */
	c = counter(L3_C_NO_VRF);
	route(ipv4_pkt(0, "10.0.0.1", "8.8.8.8", 64, 1000, &k), &k, 77);
	assert_int_equal(counter(L3_C_NO_VRF), c + 1);
	assert_int_equal(run("vrf-del 5"), 0);
}

static void test_ecmp_spread(void **state)
{
	struct flow_key k;
	unsigned per[N_PORTS] = { 0 };

	(void)state;
	assert_int_equal(run("vrf-add 6"), 0);
	assert_int_equal(run("neigh-add 6 10.1.0.1 02:bb:00:00:00:01 dev p1"), 0);
	assert_int_equal(run("neigh-add 6 10.2.0.1 02:bb:00:00:00:02 dev p2"), 0);
	assert_int_equal(run("route-add 6 0.0.0.0/0 ecmp via 10.1.0.1 dev p1 via 10.2.0.1 dev p2"), 0);
	for (int i = 0; i < 200; i++) {
		n_sent = 0;
		route(ipv4_pkt(0, "10.0.0.1", "1.2.3.4", 64, (uint16_t)(1000 + i), &k), &k, 6);
		assert_int_equal(n_sent, 1);
		per[sent[0].port]++;
		/* The same flow always takes the same member. */
		n_sent = 0;
		route(ipv4_pkt(0, "10.0.0.1", "1.2.3.4", 64, (uint16_t)(1000 + i), &k), &k, 6);
		assert_int_equal(n_sent, 1);
	}
	assert_int_equal(per[1] + per[2], 200);
	assert_true(per[1] > 60 && per[2] > 60);
	assert_int_equal(run("vrf-del 6"), 0);
}

static void test_arp_nd_proxy(void **state)
{
	struct flow_key k;
	struct pkt *p;
	uint8_t *a;

	(void)state;
	assert_int_equal(run("vrf-add 7"), 0);
	assert_int_equal(run("vrf-if-add 7 p0 10.0.0.254/24 2001:db8::1/64 mac=02:00:5e:00:00:07"), 0);

	/* ARP who-has 10.0.0.254 from 10.0.0.1: answered, and 10.0.0.1 gleaned. */
	p = pkt_alloc();
	a = p->data;
	memset(a, 0xff, 6);
	memcpy(a + 6, vm_mac, 6);
	a[12] = 0x08; a[13] = 0x06;
	a += 14;
	memcpy(a, B(0, 1, 8, 0, 6, 4, 0, 1), 8);
	memcpy(a + 8, vm_mac, 6);
	memcpy(a + 14, B(10, 0, 0, 1), 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, B(10, 0, 0, 254), 4);
	p->len = 60;
	p->in_port = 0;
	flow_extract(p, &k);
	n_sent = 0;
	route(p, &k, 7);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 0);
	assert_memory_equal(sent[0].b, vm_mac, 6);
	assert_int_equal(sent[0].b[14 + 7], 2);
	assert_memory_equal(sent[0].b + 14 + 8, B(2, 0, 0x5e, 0, 0, 7), 6);
	assert_memory_equal(sent[0].b + 14 + 14, B(10, 0, 0, 254), 4);
	l3_learn_drain();
	assert_non_null(l3_neigh_find(7, 4, B(10, 0, 0, 1)));

	/* The gleaned neighbour is routable at once. */
	n_sent = 0;
	assert_int_equal(run("vrf-if-add 7 p1 10.0.1.254/24"), 0);
	route(ipv4_pkt(1, "10.0.1.9", "10.0.0.1", 64, 1, &k), &k, 7);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 0);
	assert_memory_equal(sent[0].b, vm_mac, 6);

	/* IPv6: a route, a neighbour, hop limit decremented. */
	assert_int_equal(run("neigh-add 7 2001:db8::10 02:cc:00:00:00:10 dev p0"), 0);
	n_sent = 0;
	route(ipv6_pkt(1, "2001:db8:1::5", "2001:db8::10", 9, &k), &k, 7);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 0);
	assert_int_equal(sent[0].b[14 + 7], 8);
	assert_memory_equal(sent[0].b, B(2, 0xcc, 0, 0, 0, 0x10), 6);

	/* NS for the gateway 2001:db8::1 from 2001:db8::10: an NA back. */
	{
		uint8_t ns[86] = { 0 }, *ip = ns + 14, *icmp = ip + 40;
		uint16_t c;

		p = pkt_alloc();
		memcpy(ns, B(0x33, 0x33, 0xff, 0, 0, 1), 6);
		memcpy(ns + 6, vm_mac, 6);
		ns[12] = 0x86; ns[13] = 0xdd;
		ip[0] = 0x60; ip[5] = 32; ip[6] = 58; ip[7] = 255;
		inet_pton(AF_INET6, "2001:db8::10", ip + 8);
		inet_pton(AF_INET6, "ff02::1:ff00:1", ip + 24);
		icmp[0] = 135;
		inet_pton(AF_INET6, "2001:db8::1", icmp + 8);
		icmp[24] = 1; icmp[25] = 1;
		memcpy(icmp + 26, vm_mac, 6);
		{
			uint32_t s = 32 + 58;

			for (int i = 0; i < 32; i += 2)
				s += (uint32_t)(ip[8 + i] << 8 | ip[9 + i]);
			c = l3_csum(icmp, 32, s);
		}
		icmp[2] = (uint8_t)(c >> 8); icmp[3] = (uint8_t)c;
		memcpy(p->data, ns, sizeof(ns));
		p->len = sizeof(ns);
		p->in_port = 0;
		flow_extract(p, &k);
		n_sent = 0;
		route(p, &k, 7);
		assert_int_equal(n_sent, 1);
		ip = sent[0].b + 14;
		icmp = ip + 40;
		assert_int_equal(icmp[0], 136);
		assert_memory_equal(icmp + 26, B(2, 0, 0x5e, 0, 0, 7), 6);
		{
			uint32_t s = 32 + 58;

			for (int i = 0; i < 32; i += 2)
				s += (uint32_t)(ip[8 + i] << 8 | ip[9 + i]);
			assert_int_equal(l3_csum(icmp, 32, s), 0);
		}
	}
	assert_int_equal(run("vrf-del 7"), 0);
}

/* A tunnel next hop: routed packets leave MPLS-over-GRE encapsulated on the
 * underlay uplink, with the route's label and the inner TTL decremented. */
static void test_tunnel_nexthop(void **state)
{
	struct flow_key k;
	uint8_t *o;

	(void)state;
	assert_int_equal(run("underlay-set p3 ip=172.31.0.1/24 mac=02:00:00:00:03:01"), 0);
	assert_int_equal(run("underlay-neigh-add 172.31.0.2 02:00:00:00:03:02 p3"), 0);
	assert_int_equal(run("vrf-add 9"), 0);
	assert_int_equal(run("route-add 9 10.9.0.0/16 tunnel mplsogre remote=172.31.0.2 vni=5"), -EINVAL);
	assert_int_equal(run("route-add 9 10.9.0.0/16 tunnel mplsogre remote=172.31.0.2"), -EINVAL);
	assert_int_equal(run("route-add 9 10.9.0.0/16 tunnel bogus remote=172.31.0.2 label=1"), -EINVAL);
	assert_int_equal(run("route-add 9 10.9.0.0/16 tunnel mplsogre remote=172.31.0.2 label=100"), 0);
	n_sent = 0;
	route(ipv4_pkt(0, "10.0.0.1", "10.9.1.2", 64, 7, &k), &k, 9);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 3);
	o = sent[0].b;
	assert_memory_equal(o, B(2, 0, 0, 0, 3, 2), 6);
	assert_int_equal(o[12] << 8 | o[13], 0x0800);
	assert_int_equal(o[14 + 9], 47);				/* GRE */
	assert_memory_equal(o + 14 + 16, B(172, 31, 0, 2), 4);
	assert_int_equal(o[14 + 22] << 8 | o[14 + 23], 0x8847);	/* MPLS unicast */
	/* Label 100, bottom of stack, then the inner IPv4 with TTL 63. */
	assert_int_equal((o[38] << 12 | o[39] << 4 | o[40] >> 4), 100);
	assert_true(o[40] & 1);
	assert_int_equal(o[42] >> 4, 4);
	assert_int_equal(o[42 + 8], 63);

	/* The decap side: what an MPLS tunnel port delivers (Ethernet, MPLS
	 * label 100, inner IPv4), through pop_mpls then route(). */
	assert_int_equal(run("neigh-add 9 10.0.0.1 02:dd:00:00:00:01 dev p0"), 0);
	{
		struct pkt *p = ipv4_pkt(3, "10.9.1.2", "10.0.0.1", 30, 7, &k);
		struct dpact_buf acts = { 0 };
		struct dpact_mpls *pop;
		struct dpact_id *rt;
		const struct flow_key *kp = &k;

		memmove(p->data + 18, p->data + 14, p->len - 14);
		p->data[12] = 0x88;
		p->data[13] = 0x47;
		memcpy(p->data + 14, B(0, 0x06, 0x41, 0x3f), 4);	/* label 100, BOS, TTL 63 */
		p->len += 4;
		flow_extract(p, &k);
		pop = dpact_put(&acts, DPACT_POP_MPLS);
		pop->ethertype = 0x0800;
		rt = dpact_put(&acts, DPACT_ROUTE);
		rt->id = 9;
		n_sent = 0;
		dpact_execute_slow(&ctx, &p, &kp, 1, acts.data, acts.len);
		dpact_buf_free(&acts);
		assert_int_equal(n_sent, 1);
		assert_int_equal(sent[0].port, 0);
		assert_memory_equal(sent[0].b, B(2, 0xdd, 0, 0, 0, 1), 6);
		assert_int_equal(sent[0].b[12] << 8 | sent[0].b[13], 0x0800);
		assert_int_equal(sent[0].b[14 + 8], 29);
		assert_int_equal(sum(sent[0].b + 14, 20), 0);
	}
	assert_int_equal(run("vrf-del 9"), 0);
	assert_int_equal(run("underlay-del p3"), 0);
}


/* An MPLS frame as an MPLS tunnel port delivers it: Ethernet, label (BOS,
 * TTL 63), then the IPv4/UDP packet ipv4_pkt builds. */
static struct pkt *mpls_pkt(uint16_t in, const char *src, const char *dst, uint16_t sport,
			    uint32_t label)
{
	struct flow_key k;
	struct pkt *p = ipv4_pkt(in, src, dst, 30, sport, &k);

	memmove(p->data + 18, p->data + 14, p->len - 14);
	p->data[12] = 0x88;
	p->data[13] = 0x47;
	p->data[14] = (uint8_t)(label >> 12);
	p->data[15] = (uint8_t)(label >> 4);
	p->data[16] = (uint8_t)((label & 0xf) << 4 | 1);
	p->data[17] = 63;
	p->len += 4;
	return p;
}

/* Routed after pop_mpls, ECMP hashes the inner 5-tuple, not the key: the
 * parser gives a burst of MPLS frames one key (it reads only the label
 * stack), so many inner flows from one remote host arrive with the same key
 * and the same outer headers. They must spread over the members, each flow
 * always on the member its own 5-tuple picks (the one l3_flow_hash of the
 * inner key picks, as if it had not been tunnelled). */
static void test_ecmp_after_pop_mpls(void **state)
{
	enum { FLOWS = 32 };
	struct dpact_buf acts = { 0 };
	struct dpact_mpls *pop;
	struct dpact_id *rt;
	struct flow_key mk, ik;
	const struct flow_key *keys[FLOWS];
	struct pkt *pkts[FLOWS];
	uint16_t first[FLOWS];
	unsigned per[N_PORTS] = { 0 };

	(void)state;
	assert_int_equal(run("vrf-add 10"), 0);
	assert_int_equal(run("neigh-add 10 10.1.0.1 02:bb:00:00:00:01 dev p1"), 0);
	assert_int_equal(run("neigh-add 10 10.2.0.1 02:bb:00:00:00:02 dev p2"), 0);
	assert_int_equal(run("route-add 10 10.0.0.0/8 ecmp via 10.1.0.1 dev p1 via 10.2.0.1 dev p2"), 0);
	pop = dpact_put(&acts, DPACT_POP_MPLS);
	pop->ethertype = 0x0800;
	rt = dpact_put(&acts, DPACT_ROUTE);
	rt->id = 10;

	for (int round = 0; round < 2; round++) {
		/* One burst from one remote host: FLOWS inner UDP flows, one key
		 * (the first frame's), in reverse order the second time. */
		for (int i = 0; i < FLOWS; i++) {
			int f = round ? FLOWS - 1 - i : i;

			pkts[i] = mpls_pkt(3, "10.9.1.2", "10.5.0.1", (uint16_t)(2000 + f), 100);
			keys[i] = &mk;
		}
		flow_extract(pkts[0], &mk);
		assert_int_equal(mk.dl_type, htons(0x8847));
		n_sent = 0;
		dpact_execute_slow(&ctx, pkts, keys, FLOWS, acts.data, acts.len);
		assert_int_equal(n_sent, FLOWS);
		for (int i = 0; i < FLOWS; i++) {
			int f = round ? FLOWS - 1 - i : i;
			uint16_t sp;
			struct pkt *q;

			/* Output is in order: packet i is flow f. */
			sp = (uint16_t)(sent[i].b[14 + 20] << 8 | sent[i].b[14 + 21]);
			assert_int_equal(sp, 2000 + f);
			if (!round) {
				first[f] = sent[i].port;
				per[sent[i].port]++;
				/* The member the inner flow's own key picks:
				 * where the flow goes when not tunnelled. */
				q = ipv4_pkt(3, "10.9.1.2", "10.5.0.1", 30, (uint16_t)(2000 + f), &ik);
				{
					unsigned before = n_sent;

					route(q, &ik, 10);
					assert_int_equal(n_sent, before + 1);
					assert_int_equal(sent[before].port, sent[i].port);
					n_sent = before;
				}
			} else {
				assert_int_equal(sent[i].port, first[f]);	/* stable */
			}
		}
	}
	assert_int_equal(per[1] + per[2], FLOWS);
	assert_true(per[1] >= 4 && per[2] >= 4);

	/* Into a UDP tunnel: the outer source port (the fabric's ECMP
	 * entropy) is the inner flow's too, not the shared key's. */
	assert_int_equal(run("underlay-set p3 ip=172.31.0.1/24 mac=02:00:00:00:03:01"), 0);
	assert_int_equal(run("underlay-neigh-add 172.31.0.2 02:00:00:00:03:02 p3"), 0);
	assert_int_equal(run("route-add 10 10.6.0.0/16 tunnel vxlan remote=172.31.0.2 vni=7"), 0);
	{
		uint16_t sport[2][8];
		unsigned other = 0;

		for (int round = 0; round < 2; round++) {
			for (int i = 0; i < 8; i++) {
				pkts[i] = mpls_pkt(3, "10.9.1.2", "10.6.0.1", (uint16_t)(3000 + i), 100);
				keys[i] = &mk;
			}
			flow_extract(pkts[0], &mk);
			n_sent = 0;
			dpact_execute_slow(&ctx, pkts, keys, 8, acts.data, acts.len);
			assert_int_equal(n_sent, 8);
			for (int i = 0; i < 8; i++) {
				assert_int_equal(sent[i].port, 3);
				assert_int_equal(sent[i].b[14 + 9], 17);
				sport[round][i] = (uint16_t)(sent[i].b[34] << 8 | sent[i].b[35]);
			}
		}
		assert_memory_equal(sport[0], sport[1], sizeof(sport[0]));
		for (int i = 1; i < 8; i++)
			other += sport[0][i] != sport[0][0];
		assert_true(other > 0);		/* not all eight on one port */
	}
	assert_int_equal(run("underlay-del p3"), 0);
	dpact_buf_free(&acts);
	assert_int_equal(run("vrf-del 10"), 0);
}

/* l3_pkt_hash reads the same 5-tuple the parser puts in a key. */
static void test_pkt_hash_matches_key(void **state)
{
	struct flow_key k;
	struct pkt *p;

	(void)state;
	for (uint16_t sp = 1; sp < 300; sp += 37) {
		p = ipv4_pkt(0, "192.0.2.1", "198.51.100.7", 64, sp, &k);
		assert_int_equal(l3_pkt_hash(p->data + 14, p->len - 14, 4), l3_flow_hash(&k));
		p->data[14 + 9] = 6;		/* TCP: needs 20 bytes, has 8 */
		p->data[14 + 3] = 48;
		p->len = 14 + 48;
		flow_extract(p, &k);
		assert_int_equal(l3_pkt_hash(p->data + 14, p->len - 14, 4), l3_flow_hash(&k));
		p->data[14 + 9] = 1;		/* ICMP: type and code */
		p->data[14 + 20] = 8;
		flow_extract(p, &k);
		assert_int_equal(l3_pkt_hash(p->data + 14, p->len - 14, 4), l3_flow_hash(&k));
		pkt_free(p);
		p = ipv6_pkt(0, "2001:db8::1", "2001:db8:5::9", 64, &k);
		p->data[14 + 40 + 1] = (uint8_t)sp;
		flow_extract(p, &k);
		assert_int_equal(l3_pkt_hash(p->data + 14, p->len - 14, 6), l3_flow_hash(&k));
		pkt_free(p);
	}
}

/* A UDP packet of iplen bytes from its IP header (IPv4 with DF as told, or
 * IPv6), source port 4242. */
static struct pkt *sized_pkt(uint16_t in, uint8_t af, const char *src, const char *dst,
			     uint16_t iplen, uint8_t ttl, bool df, struct flow_key *key)
{
	struct pkt *p = pkt_alloc();
	uint8_t *e = p->data, *ip = e + 14, *udp;

	memcpy(e, gw_mac, 6);
	memcpy(e + 6, vm_mac, 6);
	memset(ip, 0, iplen);
	if (af == 4) {
		uint16_t c;

		e[12] = 0x08; e[13] = 0x00;
		ip[0] = 0x45;
		ip[2] = (uint8_t)(iplen >> 8); ip[3] = (uint8_t)iplen;
		ip[4] = 0x12; ip[5] = 0x34;
		ip[6] = df ? 0x40 : 0;
		ip[8] = ttl;
		ip[9] = 17;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, dst, ip + 16);
		c = sum(ip, 20);
		ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
		udp = ip + 20;
	} else {
		e[12] = 0x86; e[13] = 0xdd;
		ip[0] = 0x60;
		ip[4] = (uint8_t)((iplen - 40) >> 8); ip[5] = (uint8_t)(iplen - 40);
		ip[6] = 17;
		ip[7] = ttl;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, dst, ip + 24);
		udp = ip + 40;
	}
	udp[0] = 0x10; udp[1] = 0x92;		/* 4242 */
	udp[3] = 53;
	udp[4] = (uint8_t)((iplen - (af == 4 ? 20 : 40)) >> 8);
	udp[5] = (uint8_t)(iplen - (af == 4 ? 20 : 40));
	p->len = (uint16_t)(14 + iplen);
	p->in_port = in;
	flow_extract(p, key);
	return p;
}

/* The ICMP error in sent[0] for the packet orig (its IP header at 14):
 * from the gateway gw to orig's source, type/code, info word, checksums
 * right, and the start of orig quoted as it was received. */
static void check_icmp_error(const uint8_t *orig, uint8_t af, const uint8_t *gw, uint8_t type,
			     uint8_t code, uint32_t info)
{
	const uint8_t *ip = sent[0].b + 14, *o = orig + 14;

	assert_int_equal(sent[0].port, 0);
	assert_memory_equal(sent[0].b, vm_mac, 6);		/* back to the sender */
	if (af == 4) {
		const uint8_t *icmp = ip + 20;
		unsigned tot = (unsigned)(ip[2] << 8 | ip[3]);

		assert_int_equal(sent[0].b[12] << 8 | sent[0].b[13], 0x0800);
		assert_int_equal(ip[9], 1);
		assert_memory_equal(ip + 12, gw, 4);
		assert_memory_equal(ip + 16, o + 12, 4);
		assert_int_equal(sum(ip, 20), 0);
		assert_int_equal(tot, 20 + 8 + 28);		/* header + 64 bits quoted */
		assert_int_equal(sum(icmp, tot - 20), 0);
		assert_int_equal(icmp[0], type);
		assert_int_equal(icmp[1], code);
		assert_int_equal((uint32_t)icmp[4] << 24 | icmp[5] << 16 | icmp[6] << 8 | icmp[7], info);
		assert_memory_equal(icmp + 8, o, 28);		/* TTL and checksum as sent */
	} else {
		const uint8_t *icmp = ip + 40;
		unsigned plen = (unsigned)(ip[4] << 8 | ip[5]);
		uint32_t ps = 58 + plen;

		assert_int_equal(sent[0].b[12] << 8 | sent[0].b[13], 0x86dd);
		assert_int_equal(ip[6], 58);
		assert_memory_equal(ip + 8, gw, 16);
		assert_memory_equal(ip + 24, o + 8, 16);
		for (int i = 0; i < 32; i += 2)
			ps += (uint32_t)(ip[8 + i] << 8 | ip[9 + i]);
		assert_int_equal(l3_csum(icmp, plen, ps), 0);
		assert_int_equal(icmp[0], type);
		assert_int_equal(icmp[1], code);
		assert_int_equal((uint32_t)icmp[4] << 24 | icmp[5] << 16 | icmp[6] << 8 | icmp[7], info);
		/* As much as fits in 1280 bytes (RFC 4443 2.4 c). */
		assert_int_equal(plen, 1280 - 40);
		assert_memory_equal(icmp + 8, o, 1280 - 48);
	}
}

/* Route an IPv4 DF packet of iplen bytes from 10.0.0.1 (on p0) to dst in
 * vrf: it must leave by port, or, with mtu non-zero, come back to p0 as
 * "fragmentation needed" with that MTU. */
static void route_sized(uint32_t vrf, const char *dst, uint16_t iplen, uint16_t port, unsigned mtu)
{
	struct flow_key k;

	n_sent = 0;
	route(sized_pkt(0, 4, "10.0.0.1", dst, iplen, 64, true, &k), &k, vrf);
	assert_int_equal(n_sent, 1);
	if (!mtu) {
		assert_int_equal(sent[0].port, port);
		return;
	}
	assert_int_equal(sent[0].port, 0);
	assert_int_equal(sent[0].b[14 + 20], 3);
	assert_int_equal(sent[0].b[14 + 20 + 6] << 8 | sent[0].b[14 + 20 + 7], mtu);
}

/* A packet longer than the out interface's MTU: IPv4 with DF and IPv6 are
 * answered with "fragmentation needed" / "packet too big" carrying that MTU
 * and dropped; IPv4 without DF is dropped; each is counted. */
static void test_too_big_port(void **state)
{
	uint8_t orig[1600];
	struct flow_key k;
	struct pkt *p;
	uint64_t big, df, ptb, sent_all;

	(void)state;
	assert_int_equal(run("vrf-add 11"), 0);
	assert_int_equal(run("vrf-if-add 11 p0 10.0.0.254/24 2001:db8::1/64"), 0);
	assert_int_equal(run("vrf-if-add 11 p1 192.168.1.254/24 2001:db8:1::1/64 mtu=67"), -EINVAL);
	assert_int_equal(run("vrf-if-add 11 p1 192.168.1.254/24 2001:db8:1::1/64 mtu=1400"), 0);
	assert_int_equal(run("neigh-add 11 192.168.1.1 02:aa:00:00:00:01 dev p1"), 0);
	assert_int_equal(run("neigh-add 11 2001:db8:1::10 02:aa:00:00:00:10 dev p1"), 0);
	assert_int_equal(run("route-add 11 172.16.0.0/12 via 192.168.1.1"), 0);
	assert_int_equal(run("route-add 11 2001:db8:5::/48 via 2001:db8:1::10"), 0);
	big = counter(L3_C_TOO_BIG);
	df = counter(L3_C_TOO_BIG_DF_CLEAR);
	ptb = counter(L3_C_PTB_SENT);
	sent_all = counter(L3_C_ICMP_SENT);

	/* Exactly the MTU: forwarded. */
	route_sized(11, "172.16.5.5", 1400, 1, 0);
	assert_int_equal(sent[0].len, 14 + 1400);

	/* One byte more with DF: type 3 code 4, next-hop MTU 1400. */
	p = sized_pkt(0, 4, "10.0.0.1", "172.16.5.5", 1401, 64, true, &k);
	memcpy(orig, p->data, p->len);
	n_sent = 0;
	route(p, &k, 11);
	assert_int_equal(n_sent, 1);
	check_icmp_error(orig, 4, B(10, 0, 0, 254), 3, 4, 1400);
	assert_int_equal(counter(L3_C_TOO_BIG), big + 1);
	assert_int_equal(counter(L3_C_PTB_SENT), ptb + 1);
	assert_int_equal(counter(L3_C_ICMP_SENT), sent_all + 1);

	/* Without DF: dropped and counted, no error (we do not fragment). */
	n_sent = 0;
	route(sized_pkt(0, 4, "10.0.0.1", "172.16.5.5", 1401, 64, false, &k), &k, 11);
	assert_int_equal(n_sent, 0);
	assert_int_equal(counter(L3_C_TOO_BIG_DF_CLEAR), df + 1);
	assert_int_equal(counter(L3_C_TOO_BIG), big + 1);

	/* Too big and TTL 1: time exceeded comes first, as in Linux. */
	n_sent = 0;
	route(sized_pkt(0, 4, "10.0.0.1", "172.16.5.5", 1401, 1, true, &k), &k, 11);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].b[14 + 20], 11);

	/* Packets that may get no error (from a loopback source here) do not
	 * use up the limiter's burst of 50: after 60 of them a real one still
	 * gets its error. */
	{
		uint64_t limited = counter(L3_C_ICMP_LIMITED);

		for (int i = 0; i < 60; i++) {
			n_sent = 0;
			route(sized_pkt(0, 4, "127.0.0.1", "172.16.5.5", 1401, 64, true, &k), &k, 11);
			assert_int_equal(n_sent, 0);
		}
		n_sent = 0;
		route(sized_pkt(0, 4, "10.0.0.1", "172.16.5.5", 1401, 64, true, &k), &k, 11);
		assert_int_equal(n_sent, 1);
		assert_int_equal(counter(L3_C_ICMP_LIMITED), limited);
		/* All 61 were too big, one had its error: the counts below
		 * go on from the first DF packet's. */
		big = counter(L3_C_TOO_BIG) - 1;
		ptb = counter(L3_C_PTB_SENT) - 1;
	}

	/* IPv6: packet too big, MTU 1400, as much quoted as fits 1280. */
	n_sent = 0;
	route(sized_pkt(0, 6, "2001:db8::10", "2001:db8:5::9", 1400, 64, false, &k), &k, 11);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent[0].port, 1);
	p = sized_pkt(0, 6, "2001:db8::10", "2001:db8:5::9", 1401, 64, false, &k);
	memcpy(orig, p->data, p->len);
	n_sent = 0;
	route(p, &k, 11);
	assert_int_equal(n_sent, 1);
	check_icmp_error(orig, 6, sent[0].b + 14 + 8, 2, 0, 1400);
	{
		uint8_t gw6[16];

		inet_pton(AF_INET6, "2001:db8::1", gw6);
		assert_memory_equal(sent[0].b + 14 + 8, gw6, 16);
	}
	assert_int_equal(counter(L3_C_TOO_BIG), big + 2);
	assert_int_equal(counter(L3_C_PTB_SENT), ptb + 2);

	/* The interface's MTU follows the interface: without it, 1500. */
	assert_int_equal(run("vrf-if-del p1"), 0);
	assert_int_equal(run("vrf-if-add 11 p1 192.168.1.254/24"), 0);
	assert_int_equal(run("neigh-add 11 192.168.1.1 02:aa:00:00:00:01 dev p1"), 0);
	route_sized(11, "172.16.5.5", 1500, 1, 0);
	route_sized(11, "172.16.5.5", 1501, 0, 1500);
	assert_int_equal(run("vrf-del 11"), 0);
}

/* A tunnel next hop takes what fits the underlay MTU after its
 * encapsulation: 1400 - 28 for MPLS over GRE (IP, GRE, label), 1400 - 50
 * for VXLAN (IP, UDP, VXLAN, inner Ethernet), 1400 - 32 for MPLS over UDP;
 * a packet exactly that long leaves as a 1400-byte outer packet, one byte
 * more is answered. A new underlay MTU applies at once. */
static void test_too_big_tunnel(void **state)
{
	static const struct { const char *dst; unsigned mtu; } c[] = {
		{ "10.9.1.2", 1372 }, { "10.8.1.2", 1350 }, { "10.7.1.2", 1368 },
	};
	uint8_t orig[1600];
	struct flow_key k;
	struct pkt *p;
	uint64_t unres;

	(void)state;
	assert_int_equal(run("underlay-set p3 ip=172.31.0.1/24 mac=02:00:00:00:03:01 mtu=1400"), 0);
	assert_int_equal(run("underlay-neigh-add 172.31.0.2 02:00:00:00:03:02 p3"), 0);
	assert_int_equal(run("vrf-add 12"), 0);
	assert_int_equal(run("vrf-if-add 12 p0 10.0.0.254/24"), 0);
	assert_int_equal(run("route-add 12 10.9.0.0/16 tunnel mplsogre remote=172.31.0.2 label=100"), 0);
	assert_int_equal(run("route-add 12 10.8.0.0/16 tunnel vxlan remote=172.31.0.2 vni=5"), 0);
	assert_int_equal(run("route-add 12 10.7.0.0/16 tunnel mplsoudp remote=172.31.0.2 label=7"), 0);
	for (unsigned i = 0; i < 3; i++) {
		n_sent = 0;
		route(sized_pkt(0, 4, "10.0.0.1", c[i].dst, (uint16_t)c[i].mtu, 64, true, &k), &k, 12);
		assert_int_equal(n_sent, 1);
		assert_int_equal(sent[0].port, 3);
		assert_int_equal(sent[0].b[14 + 2] << 8 | sent[0].b[14 + 3], 1400);
		p = sized_pkt(0, 4, "10.0.0.1", c[i].dst, (uint16_t)(c[i].mtu + 1), 64, true, &k);
		memcpy(orig, p->data, p->len);
		n_sent = 0;
		route(p, &k, 12);
		assert_int_equal(n_sent, 1);
		check_icmp_error(orig, 4, B(10, 0, 0, 254), 3, 4, c[i].mtu);
	}

	/* The underlay's MTU changes: the next hops follow. */
	assert_int_equal(run("underlay-del p3"), 0);
	assert_int_equal(run("underlay-set p3 ip=172.31.0.1/24 mac=02:00:00:00:03:01 mtu=1500"), 0);
	assert_int_equal(run("underlay-neigh-add 172.31.0.2 02:00:00:00:03:02 p3"), 0);
	route_sized(12, "10.9.1.2", 1472, 3, 0);
	route_sized(12, "10.9.1.2", 1473, 0, 1472);

	/* No underlay route: no limit known, the tunnel drops it. */
	assert_int_equal(run("underlay-del p3"), 0);
	unres = counter(L3_C_TOO_BIG);
	n_sent = 0;
	route(sized_pkt(0, 4, "10.0.0.1", "10.9.1.2", 1473, 64, true, &k), &k, 12);
	assert_int_equal(n_sent, 0);
	assert_int_equal(counter(L3_C_TOO_BIG), unres);
	assert_int_equal(run("vrf-del 12"), 0);
}

/* A packet that came in decapsulated (its input port is no interface: a
 * tunnel port) and is too long for the local port it is routed to: the
 * error is routed back in the VRF, into the tunnel toward the sender, from
 * a gateway address of the VRF. TTL exceeded takes the same way. */
static void test_error_back_through_tunnel(void **state)
{
	struct flow_key k;
	const uint8_t *o, *ip, *icmp;
	struct pkt *p;
	uint8_t quote[28];

	(void)state;
	assert_int_equal(run("underlay-set p3 ip=172.31.0.1/24 mac=02:00:00:00:03:01"), 0);
	assert_int_equal(run("underlay-neigh-add 172.31.0.2 02:00:00:00:03:02 p3"), 0);
	assert_int_equal(run("vrf-add 13"), 0);
	assert_int_equal(run("vrf-if-add 13 p1 10.1.0.254/24 mtu=1400"), 0);
	assert_int_equal(run("neigh-add 13 10.1.0.5 02:aa:00:00:00:05 dev p1"), 0);
	assert_int_equal(run("route-add 13 10.9.0.0/16 tunnel mplsogre remote=172.31.0.2 label=100"), 0);
	for (int ttl = 64; ttl >= 1; ttl -= 63) {
		/* From the remote 10.9.1.2 to the local 10.1.0.5, in on p2. */
		p = sized_pkt(2, 4, "10.9.1.2", "10.1.0.5", 1401, (uint8_t)ttl, true, &k);
		memcpy(quote, p->data + 14, 28);
		n_sent = 0;
		route(p, &k, 13);
		assert_int_equal(n_sent, 1);
		assert_int_equal(sent[0].port, 3);			/* the uplink */
		o = sent[0].b;
		assert_int_equal(o[14 + 9], 47);			/* GRE */
		assert_memory_equal(o + 14 + 16, B(172, 31, 0, 2), 4);
		assert_int_equal((o[38] << 12 | o[39] << 4 | o[40] >> 4), 100);
		ip = o + 42;
		icmp = ip + 20;
		assert_int_equal(ip[9], 1);
		assert_memory_equal(ip + 12, B(10, 1, 0, 254), 4);
		assert_memory_equal(ip + 16, B(10, 9, 1, 2), 4);
		assert_int_equal(sum(ip, 20), 0);
		assert_int_equal(sum(icmp, 8 + 28), 0);
		assert_memory_equal(icmp + 8, quote, 28);
		if (ttl > 1) {
			assert_int_equal(icmp[0], 3);
			assert_int_equal(icmp[1], 4);
			assert_int_equal(icmp[6] << 8 | icmp[7], 1400);
		} else {
			assert_int_equal(icmp[0], 11);
		}
	}
	/* A sender the VRF has no way back to gets nothing. */
	n_sent = 0;
	route(sized_pkt(2, 4, "10.8.1.2", "10.1.0.5", 1401, 64, true, &k), &k, 13);
	assert_int_equal(n_sent, 0);
	assert_int_equal(run("vrf-del 13"), 0);
	assert_int_equal(run("underlay-del p3"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_add_routes_atomic),
		cmocka_unit_test(test_forward_v4),
		cmocka_unit_test(test_ecmp_spread),
		cmocka_unit_test(test_arp_nd_proxy),
		cmocka_unit_test(test_tunnel_nexthop),
		cmocka_unit_test(test_ecmp_after_pop_mpls),
		cmocka_unit_test(test_pkt_hash_matches_key),
		cmocka_unit_test(test_too_big_port),
		cmocka_unit_test(test_too_big_tunnel),
		cmocka_unit_test(test_error_back_through_tunnel),
	};

	rcu_register_thread();
	return cmocka_run_group_tests(tests, setup, teardown);
}
