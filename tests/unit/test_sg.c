/*
 * Security groups: the compiler's text for known models, the port-range
 * splitter against brute force, the rule words, every compiled line against
 * the flow parser, and the commands end to end on fake ports — all or
 * nothing, and spoofed packets dropped and counted by name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "core/core.h"
#include "core/pkt.h"
#include "ctl/ctl.h"
#include "ctl/ofctl.h"
#include "dp/dp.h"
#include "dp/dp_priv.h"
#include "port/port.h"
#include "sg/sg.h"

/* ---- the compiler, on its own ---- */

static int fake_id(const char *name, void *aux)
{
	(void)aux;
	if (!strcmp(name, "vm1"))
		return 2;
	if (!strcmp(name, "vm2"))
		return 5;
	return -1;
}

static struct sg_rule rule(const char *words)
{
	char buf[256], *argv[8], *save = NULL, err[256];
	int argc = 0;
	struct sg_rule r;

	snprintf(buf, sizeof(buf), "%s", words);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 8; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	if (sg_parse_rule(argc, argv, &r, err, sizeof(err)))
		fail_msg("%s: %s", words, err);
	return r;
}

static void port_psec(struct sg_port *p, const char *name, const char *mac, const char *ip)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->name, name);
	p->psec = true;
	assert_int_equal(sg_parse_mac(mac, p->mac), 0);
	if (ip) {
		assert_int_equal(sg_parse_addr(ip, false, &p->ips[0]), 0);
		p->n_ips = 1;
	}
}

static char *compile(const struct sg_conf *c, int want_rc)
{
	struct ds out = { 0 };
	char err[256] = "";
	int rc = sg_compile(c, fake_id, NULL, &out, err, sizeof(err));

	if (rc != want_rc)
		fail_msg("sg_compile: %d (%s), wanted %d", rc, err, want_rc);
	ds_put_cstr(&out, "");
	return out.s;
}

/* A MAC-only port with one stateful group: the whole compiled text. */
static void test_compile_golden(void **state)
{
	struct sg_rule r = rule("ingress proto=tcp port=22 remote=10.0.0.0/8");
	struct sg_group g = { .name = "ssh", .n_rules = 1, .rules = &r };
	struct sg_port p;
	struct sg_conf c = { .n_groups = 1, .groups = &g, .n_ports = 1, .ports = &p };
	char *text;

	(void)state;
	r.id = 7;
	port_psec(&p, "vm1", "02:00:00:00:00:03", NULL);
	p.n_groups = 1;
	strcpy(p.groups[0], "ssh");
	text = compile(&c, 0);
	assert_string_equal(text,
		/* port security, MAC only: ARP must name the MAC, anything else from it passes */
		"table=70,priority=100,cookie=0x5347000000000002,in_port=vm1,dl_src=02:00:00:00:00:03,arp,arp_sha=02:00:00:00:00:03,actions=resubmit(,71)\n"
		"table=70,priority=90,cookie=0x5347030000000002,in_port=vm1,dl_src=02:00:00:00:00:03,arp,actions=drop\n"
		"table=70,priority=80,cookie=0x5347000000000002,in_port=vm1,dl_src=02:00:00:00:00:03,actions=resubmit(,71)\n"
		"table=70,priority=70,cookie=0x5347010000000002,in_port=vm1,actions=drop\n"
		/* who is it for */
		"table=73,priority=100,cookie=0x5347000000000002,dl_dst=02:00:00:00:00:03,actions=set_field:2->reg14,resubmit(,74)\n"
		/* egress into conntrack */
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,icmp6,icmpv6_type=133,actions=resubmit(,73)\n"
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,icmp6,icmpv6_type=134,actions=resubmit(,73)\n"
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,icmp6,icmpv6_type=135,actions=resubmit(,73)\n"
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,icmp6,icmpv6_type=136,actions=resubmit(,73)\n"
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,udp,tp_src=68,tp_dst=67,actions=resubmit(,73)\n"
		"table=71,priority=110,cookie=0x5347000000000002,in_port=vm1,udp6,tp_src=546,tp_dst=547,actions=resubmit(,73)\n"
		"table=71,priority=100,cookie=0x5347000000000002,in_port=vm1,ip,actions=ct(table=72,zone=61442)\n"
		"table=71,priority=100,cookie=0x5347000000000002,in_port=vm1,ipv6,actions=ct(table=72,zone=61442)\n"
		"table=71,priority=90,cookie=0x5347000000000002,in_port=vm1,actions=resubmit(,73)\n"
		/* ingress into conntrack */
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,icmp6,icmpv6_type=133,actions=resubmit(,76)\n"
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,icmp6,icmpv6_type=134,actions=resubmit(,76)\n"
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,icmp6,icmpv6_type=135,actions=resubmit(,76)\n"
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,icmp6,icmpv6_type=136,actions=resubmit(,76)\n"
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,udp,tp_src=67,tp_dst=68,actions=resubmit(,76)\n"
		"table=74,priority=110,cookie=0x5347000000000002,reg14=2,udp6,tp_src=547,tp_dst=546,actions=resubmit(,76)\n"
		"table=74,priority=100,cookie=0x5347000000000002,reg14=2,ip,actions=ct(table=75,zone=61442)\n"
		"table=74,priority=100,cookie=0x5347000000000002,reg14=2,ipv6,actions=ct(table=75,zone=61442)\n"
		"table=74,priority=90,cookie=0x5347000000000002,reg14=2,actions=resubmit(,76)\n"
		/* egress rules: none, so only replies and related pass */
		"table=72,priority=100,cookie=0x5347000000000002,ct_state=-new+est-rel-inv+trk,in_port=vm1,actions=resubmit(,73)\n"
		"table=72,priority=100,cookie=0x5347000000000002,ct_state=-new+rel-inv+trk,in_port=vm1,actions=resubmit(,73)\n"
		"table=72,priority=90,cookie=0x5347060000000002,ct_state=+inv+trk,in_port=vm1,actions=drop\n"
		"table=72,priority=10,cookie=0x5347040000000002,in_port=vm1,actions=drop\n"
		"table=75,priority=100,cookie=0x5347000000000002,ct_state=-new+est-rel-inv+trk,reg14=2,actions=resubmit(,76)\n"
		"table=75,priority=100,cookie=0x5347000000000002,ct_state=-new+rel-inv+trk,reg14=2,actions=resubmit(,76)\n"
		"table=75,priority=90,cookie=0x5347060000000002,ct_state=+inv+trk,reg14=2,actions=drop\n"
		"table=75,priority=10,cookie=0x5347050000000002,reg14=2,actions=drop\n"
		/* the one rule: new connections to 22 from 10/8 are committed */
		"table=75,priority=50,cookie=0x5347070000070002,ct_state=+new-est+trk,reg14=2,tcp,nw_src=10.0.0.0/8,tp_dst=22,actions=ct(commit,zone=61442),resubmit(,76)\n"
		/* plumbing */
		"table=0,priority=65535,cookie=0x5347000000000000,reg15=0/0x1,actions=resubmit(,70)\n"
		"table=70,priority=0,cookie=0x5347000000000000,actions=resubmit(,73)\n"
		"table=73,priority=0,cookie=0x5347000000000000,actions=resubmit(,76)\n"
		"table=76,priority=0,cookie=0x5347000000000000,actions=set_field:0x1/0x1->reg15,resubmit(,0)\n");
	free(text);
}

/* Port security alone, with an address: the anti-spoofing table only, and
 * packets go on to the ingress selector. */
static void test_compile_psec_ip(void **state)
{
	struct sg_port p;
	struct sg_conf c = { .n_ports = 1, .ports = &p };
	char *text;

	(void)state;
	port_psec(&p, "vm2", "02:00:00:00:00:05", "10.1.2.3");
	text = compile(&c, 0);
	assert_non_null(strstr(text, "table=70,priority=100,cookie=0x5347000000000005,in_port=vm2,"
				     "dl_src=02:00:00:00:00:05,ip,nw_src=10.1.2.3,actions=resubmit(,73)\n"));
	assert_non_null(strstr(text, "in_port=vm2,dl_src=02:00:00:00:00:05,arp,arp_spa=10.1.2.3,"
				     "arp_sha=02:00:00:00:00:05,actions=resubmit(,73)\n"));
	/* the EUI-64 link-local address of 02:00:00:00:00:05 */
	assert_non_null(strstr(text, "ipv6,ipv6_src=fe80::ff:fe00:5,actions=resubmit(,73)\n"));
	assert_non_null(strstr(text, "priority=90,cookie=0x5347020000000005,in_port=vm2,"
				     "dl_src=02:00:00:00:00:05,ip,actions=drop\n"));
	assert_non_null(strstr(text, "priority=90,cookie=0x5347020000000005,in_port=vm2,"
				     "dl_src=02:00:00:00:00:05,ipv6,actions=drop\n"));
	assert_non_null(strstr(text, "priority=90,cookie=0x5347030000000005,in_port=vm2,"
				     "dl_src=02:00:00:00:00:05,arp,actions=drop\n"));
	assert_null(strstr(text, "table=71"));
	assert_null(strstr(text, "table=73,priority=100"));	/* no groups: no ingress */
	free(text);
}

/* remote-group expands to the addresses of the group's live ports; port
 * ranges to masks; stateless rules have no ct. */
static void test_compile_remote_group_stateless(void **state)
{
	struct sg_rule r[2] = { rule("ingress proto=udp port=1000-1003 remote-group=app"),
				rule("egress proto=icmp port=8 ethertype=ipv6") };
	struct sg_group g = { .name = "app", .stateless = true, .n_rules = 2, .rules = r };
	struct sg_port p[3];
	struct sg_conf c = { .n_groups = 1, .groups = &g, .n_ports = 3, .ports = p };
	char *text;

	(void)state;
	r[0].id = 1;
	r[1].id = 2;
	port_psec(&p[0], "vm1", "02:00:00:00:00:01", "10.0.0.1");
	port_psec(&p[1], "vm2", "02:00:00:00:00:02", "10.0.0.2");
	port_psec(&p[2], "gone", "02:00:00:00:00:09", "10.0.0.9");	/* no such port */
	for (int i = 0; i < 3; i++) {
		p[i].n_groups = 1;
		strcpy(p[i].groups[0], "app");
	}
	text = compile(&c, 0);
	assert_null(strstr(text, "ct("));
	assert_null(strstr(text, "ct_state"));
	assert_null(strstr(text, "10.0.0.9"));
	assert_null(strstr(text, "in_port=gone"));
	for (int src = 1; src <= 2; src++) {
		char want[200];

		snprintf(want, sizeof(want), "table=75,priority=50,cookie=0x5347070000010005,"
			 "reg14=5,udp,nw_src=10.0.0.%d,tp_dst=0x3e8/0xfffc,actions=resubmit(,76)\n", src);
		assert_non_null(strstr(text, want));
	}
	assert_non_null(strstr(text, "table=72,priority=50,cookie=0x5347070000020002,in_port=vm1,"
				     "icmp6,icmpv6_type=8,actions=resubmit(,73)\n"));
	free(text);

	/* A group bound without port security, or a missing group, is refused. */
	p[0].psec = false;
	free(compile(&c, -EINVAL));
	p[0].psec = true;
	strcpy(p[1].groups[0], "nope");
	free(compile(&c, -ENOENT));
}

/* No live port with anything: not even the gate. */
static void test_compile_empty(void **state)
{
	struct sg_port p;
	struct sg_conf c = { .n_ports = 1, .ports = &p };
	char *text;

	(void)state;
	port_psec(&p, "gone", "02:00:00:00:00:01", NULL);
	text = compile(&c, 0);
	assert_string_equal(text, "");
	free(text);
}

/* Every value of lo..hi is covered exactly once, nothing outside. */
static void check_range(unsigned lo, unsigned hi)
{
	uint16_t val[40], mask[40];
	int n = sg_port_masks((uint16_t)lo, (uint16_t)hi, val, mask);

	assert_true(n >= 1 && n <= 32);
	for (unsigned v = 0; v <= 0xffff; v++) {
		int hits = 0;

		for (int i = 0; i < n; i++)
			hits += (v & mask[i]) == val[i];
		if (hits != (v >= lo && v <= hi))
			fail_msg("%u-%u: %u matched %d times", lo, hi, v, hits);
	}
}

static void test_port_masks(void **state)
{
	uint16_t val[40], mask[40];

	(void)state;
	assert_int_equal(sg_port_masks(80, 80, val, mask), 1);
	assert_int_equal(mask[0], 0xffff);
	assert_int_equal(sg_port_masks(0, 65535, val, mask), 1);
	assert_int_equal(mask[0], 0);
	assert_int_equal(sg_port_masks(1, 65535, val, mask), 16);
	check_range(1, 65535);
	check_range(1024, 2047);
	check_range(1000, 1999);
	check_range(65535, 65535);
	check_range(0, 0);
	srand(5);
	for (int i = 0; i < 20; i++) {
		unsigned a = (unsigned)rand() & 0xffff, b = (unsigned)rand() & 0xffff;

		check_range(MIN(a, b), MAX(a, b));
	}
}

static void test_rule_words(void **state)
{
	static const char *const good[] = {
		"ingress proto=tcp port=80-90 remote=10.0.0.0/8 ethertype=ipv4",
		"egress proto=any ethertype=ipv6",
		"ingress proto=icmp port=8 ethertype=ipv4",
		"ingress proto=udp port=53 remote-group=dns ethertype=ipv4",
		"egress proto=tcp port=443 remote=2001:db8::/32 ethertype=ipv6",
	};
	static const char *const bad[] = {
		"sideways proto=tcp", "ingress proto=gre", "ingress port=80",
		"ingress proto=tcp port=90-80", "ingress proto=tcp port=70000",
		"ingress proto=tcp remote=10.0.0.1/8", "ingress remote=10.0.0.0/8 ethertype=ipv6",
		"ingress remote=10.0.0.0/8 remote-group=x", "ingress proto=icmp port=1-2",
		"ingress colour=red", "ingress proto",
	};
	char buf[256], *argv[8], *save = NULL, err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct sg_rule r = rule(good[i]);
		struct ds ds = { 0 };

		sg_format_rule(&r, &ds);
		assert_string_equal(ds_cstr(&ds), good[i]);
		ds_destroy(&ds);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sg_rule r;
		int argc = 0;

		snprintf(buf, sizeof(buf), "%s", bad[i]);
		for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
			argv[argc++] = t;
		if (!sg_parse_rule(argc, argv, &r, err, sizeof(err)))
			fail_msg("accepted: %s", bad[i]);
	}
	/* Defaults: any protocol, IPv4, or the family of the remote prefix. */
	assert_int_equal(rule("egress").af, 4);
	assert_int_equal(rule("egress").proto, 0);
	assert_int_equal(rule("egress remote=fd00::/8").af, 6);
}

static int parser_id(const char *name, uint16_t *id, void *aux)
{
	int v = fake_id(name, aux);

	if (v < 0)
		return -ENOENT;
	*id = (uint16_t)v;
	return 0;
}

/* The compiler speaks the flow language: every line parses. */
static void test_compile_parses(void **state)
{
	struct sg_rule r[4] = { rule("ingress proto=tcp port=22-25 remote=10.0.0.0/8"),
				rule("egress"), rule("ingress proto=icmp remote-group=g"),
				rule("egress proto=udp port=53 ethertype=ipv6") };
	struct sg_group g[2] = { { .name = "g", .n_rules = 4, .rules = r },
				 { .name = "s", .stateless = true, .n_rules = 2, .rules = r } };
	struct sg_port p[2];
	struct sg_conf c = { .n_groups = 2, .groups = g, .n_ports = 2, .ports = p };
	unsigned n = 0;
	char *text;

	(void)state;
	for (int i = 0; i < 4; i++)
		r[i].id = (uint32_t)i + 1;
	port_psec(&p[0], "vm1", "02:00:00:00:00:01", "10.0.0.1");
	port_psec(&p[1], "vm2", "02:00:00:00:00:02", "fd00::2");
	strcpy(p[0].groups[p[0].n_groups++], "g");
	strcpy(p[1].groups[p[1].n_groups++], "s");
	text = compile(&c, 0);
	for (char *line = text, *next; *line; line = next) {
		struct ofctl_flow f;
		char err[256];

		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		if (ofctl_parse_flow(line, OFCTL_ADD, parser_id, NULL, &f, err, sizeof(err)))
			fail_msg("%s: %s", line, err);
		ofctl_flow_destroy(&f);
		n++;
	}
	free(text);
	assert_true(n > 50);
}

/* ---- the commands, on fake ports, with packets ---- */

static uint16_t fake_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid, (void)pkts, (void)n;
	return 0;
}

static unsigned n_tx[3];

static uint16_t fake_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)qid;
	n_tx[port->id % 3] += n;
	for (uint16_t i = 0; i < n; i++)
		pkt_free(pkts[i]);
	return n;
}

static void fake_close(struct port *port)
{
	port_free(port);
}

static const struct port_ops fake_ops = { .rx_burst = fake_rx, .tx_burst = fake_tx,
					  .close = fake_close };

static struct dp_pmd *ctx;
static struct pkt_pool *pool;
static struct port *ports[3];

static int setup(void **state)
{
	char name[8];

	(void)state;
	pool = pkt_pool_create("test", 512);
	pkt_pool_set_thread(pool);
	ctx = dp_pmd_create(0);
	assert_non_null(ctx);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ports[i] = port_alloc(name, "fake", &fake_ops);
		assert_int_equal(port_add(ports[i]), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		if (ports[i])
			port_del(ports[i]);
	dp_pmd_destroy(ctx);
	pkt_pool_destroy(pool);
	return 0;
}

/* run("sg-bind p1 web"): the command's return code. */
/* run_text("dump-flows --table 75", &text): the command's code; its text
 * output (malloc'ed) in *text when text is not NULL. */
static int run_text(const char *line, char **text)
{
	char buf[256], *argv[12], *save = NULL;
	int argc = 0, rc;
	struct ctl_req r;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 12; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	rc = ctl_exec(&r, argc, argv);
	if (rc)
		printf("# %s -> %s\n", line, r.err);
	if (text)
		*text = strdup(r.text ? r.text : "");
	ctl_req_release(&r);
	return rc;
}

static int run(const char *line)
{
	return run_text(line, NULL);
}

/* Does `dump-flows --table T` show a rule containing all of want? */
static bool table_has(int table, const char *want)
{
	char cmd[64], *text;
	bool hit;

	snprintf(cmd, sizeof(cmd), "dump-flows --table %d", table);
	assert_int_equal(run_text(cmd, &text), 0);
	hit = strstr(text, want) != NULL;
	free(text);
	return hit;
}

struct owned {
	unsigned n;
};

static void count_owned(uint64_t cookie, uint64_t n_packets, uint64_t n_bytes, void *arg)
{
	(void)cookie, (void)n_packets, (void)n_bytes;
	((struct owned *)arg)->n++;
}

static unsigned n_owned(void)
{
	struct owned o = { 0 };

	dp_owned_flows_foreach(SG_COOKIE, SG_COOKIE_MASK, count_owned, &o);
	return o.n;
}

static long long sec_stat(const char *name)
{
	json_t *o = json_object();
	long long v;

	sg_stats_json(o);
	v = json_integer_value(json_object_get(o, name));
	json_decref(o);
	return v;
}

/* An IPv4/UDP frame from src MAC/IP to dst MAC/IP, or an ARP request. */
static struct pkt *frame(const char *smac, const char *sip, const char *dmac, const char *dip,
			 uint16_t dport, bool arp)
{
	struct pkt *p = pkt_alloc();
	struct sg_addr s, d;
	uint8_t *b;

	assert_non_null(p);
	b = p->data;
	memset(b, 0, 64);
	if (!strcmp(dmac, "ff:ff:ff:ff:ff:ff"))
		memset(b, 0xff, 6);
	else
		assert_int_equal(sg_parse_mac(dmac, b), 0);
	assert_int_equal(sg_parse_mac(smac, b + 6), 0);
	assert_int_equal(sg_parse_addr(sip, false, &s), 0);
	assert_int_equal(sg_parse_addr(dip, false, &d), 0);
	if (arp) {
		memcpy(b + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10);
		memcpy(b + 22, b + 6, 6);
		memcpy(b + 28, s.a, 4);
		memcpy(b + 38, d.a, 4);
		p->len = 60;
		return p;
	}
	b[12] = 0x08;
	b[14] = 0x45;
	b[17] = 28;
	b[22] = 64;
	b[23] = 17;
	memcpy(b + 26, s.a, 4);
	memcpy(b + 30, d.a, 4);
	b[34] = 0x30;
	b[36] = (uint8_t)(dport >> 8);
	b[37] = (uint8_t)dport;
	b[39] = 8;
	p->len = 60;
	return p;
}

static void send1(int in, struct pkt *p)
{
	dp_process(ctx, ports[in], &p, 1);
	dp_flush(ctx);
	rcu_quiescent_state();
}

static void test_commands(void **state)
{
	unsigned before;

	(void)state;
	assert_int_equal(n_owned(), 0);
	/* Refused words change nothing. */
	assert_int_not_equal(run("port-security p1 mac=01:00:00:00:00:01"), 0);	/* multicast */
	assert_int_not_equal(run("port-security p1 ip=10.0.0.1"), 0);		/* no mac */
	assert_int_not_equal(run("port-security nosuch mac=02:00:00:00:00:01"), 0);
	assert_int_equal(n_owned(), 0);

	assert_int_equal(run("port-security p1 mac=02:00:00:00:00:01 ip=10.0.0.1"), 0);
	assert_int_equal(run("port-security p2 mac=02:00:00:00:00:02 ip=10.0.0.2"), 0);
	before = n_owned();
	assert_true(before > 10);

	/* Spoofs from p1 are dropped, each under its name; the honest frame passes. */
	memset(n_tx, 0, sizeof(n_tx));
	send1(1, frame("02:00:00:00:00:09", "10.0.0.1", "02:00:00:00:00:02", "10.0.0.2", 9, false));
	send1(1, frame("02:00:00:00:00:01", "10.0.0.7", "02:00:00:00:00:02", "10.0.0.2", 9, false));
	send1(1, frame("02:00:00:00:00:01", "10.0.0.8", "ff:ff:ff:ff:ff:ff", "10.0.0.2", 0, true));
	assert_int_equal(sec_stat("port_security_mac"), 1);
	assert_int_equal(sec_stat("port_security_ip"), 1);
	assert_int_equal(sec_stat("port_security_arp"), 1);
	assert_int_equal(n_tx[ports[2]->id % 3] + n_tx[ports[0]->id % 3], 0);
	send1(1, frame("02:00:00:00:00:01", "10.0.0.1", "02:00:00:00:00:02", "10.0.0.2", 9, false));
	assert_int_equal(n_tx[ports[2]->id % 3], 1);	/* flooded to p0 and p2 (unknown MAC) */

	/* A stateless group: p2 takes UDP 53 only; failures change nothing. */
	assert_int_equal(run("sg-create dns stateless"), 0);
	assert_int_not_equal(run("sg-create dns"), 0);
	assert_int_not_equal(run("sg-rule-add dns ingress proto=udp port=53 remote-group=nope"), 0);
	assert_int_not_equal(run("sg-bind p0 dns"), 0);		/* no port security on p0 */
	assert_int_equal(n_owned(), before);
	assert_int_equal(run("sg-rule-add dns ingress proto=udp port=53 remote=10.0.0.0/24"), 0);
	assert_int_not_equal(run("sg-rule-add dns ingress proto=udp port=53 remote=10.0.0.0/24"), 0);
	assert_int_equal(n_owned(), before);	/* a group bound nowhere compiles to nothing */
	assert_int_equal(run("sg-bind p2 dns"), 0);
	assert_true(n_owned() > before);
	memset(n_tx, 0, sizeof(n_tx));
	send1(1, frame("02:00:00:00:00:01", "10.0.0.1", "02:00:00:00:00:02", "10.0.0.2", 53, false));
	send1(1, frame("02:00:00:00:00:01", "10.0.0.1", "02:00:00:00:00:02", "10.0.0.2", 54, false));
	assert_int_equal(sec_stat("sg_ingress_denied"), 1);
	assert_int_equal(n_tx[ports[2]->id % 3], 1);

	/* Groups of one port are all stateful or all stateless. */
	assert_int_equal(run("sg-create web"), 0);
	before = n_owned();
	assert_int_not_equal(run("sg-bind p2 web"), 0);
	assert_int_equal(n_owned(), before);
	assert_int_not_equal(run("sg-delete dns"), 0);	/* bound */
	assert_int_not_equal(run("port-security p2 off"), 0);	/* groups need it */

	/* remote-group follows membership: p1's address appears in p2's rules
	 * when p1 joins, and changes when p1's port security does. */
	assert_int_equal(run("sg-unbind p2"), 0);
	assert_int_equal(run("sg-create peers stateless"), 0);
	assert_int_equal(run("sg-rule-add peers ingress proto=udp port=53 remote-group=peers"), 0);
	assert_int_equal(run("sg-bind p2 peers"), 0);
	assert_false(table_has(SG_T_INGRESS, "nw_src=10.0.0.1,"));
	assert_true(table_has(SG_T_INGRESS, "nw_src=10.0.0.2,"));
	assert_int_equal(run("sg-bind p1 peers"), 0);
	assert_true(table_has(SG_T_INGRESS, "nw_src=10.0.0.1,"));
	assert_int_equal(run("port-security p1 mac=02:00:00:00:00:01 ip=10.0.0.5"), 0);
	assert_false(table_has(SG_T_INGRESS, "nw_src=10.0.0.1,"));
	assert_true(table_has(SG_T_INGRESS, "nw_src=10.0.0.5,"));
	/* A user's del-flows takes the compiled flows too; sg-sync puts them back. */
	before = n_owned();
	assert_int_equal(run("del-flows"), 0);
	assert_int_equal(n_owned(), 0);
	assert_int_equal(run("sg-sync"), 0);
	assert_int_equal(n_owned(), before);
	assert_int_equal(run("sg-unbind p1"), 0);
	assert_int_equal(run("sg-unbind p2"), 0);
	assert_int_equal(run("sg-delete peers"), 0);
	assert_int_equal(run("sg-bind p2 dns"), 0);

	/* Removing a port drops its settings; clearing everything leaves no flow. */
	assert_int_equal(port_del(ports[2]), 0);
	ports[2] = NULL;
	assert_int_equal(run("sg-delete dns"), 0);
	assert_int_equal(run("sg-delete web"), 0);
	assert_int_equal(run("port-security p1 off"), 0);
	assert_int_equal(n_owned(), 0);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_compile_golden),
		cmocka_unit_test(test_compile_psec_ip),
		cmocka_unit_test(test_compile_remote_group_stateless),
		cmocka_unit_test(test_compile_empty),
		cmocka_unit_test(test_port_masks),
		cmocka_unit_test(test_rule_words),
		cmocka_unit_test(test_compile_parses),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_commands),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(pure, NULL, NULL);
	return rc | cmocka_run_group_tests(live, setup, teardown);
}
