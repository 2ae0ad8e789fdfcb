/*
 * The flow pipeline against a model. Random OpenFlow tables (many masks,
 * prefixes, priorities, overlapping rules, two tables joined by goto_table
 * and resubmit) and random packets go through the real datapath — exact-match
 * cache, megaflow cache, pipeline on a miss, revalidation when rules change —
 * and every packet's fate is compared with a plain linear scan of the rules.
 * The same again with the exact-match cache off. Plus the flow commands'
 * all-or-nothing behaviour and counters.
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
#include "dp/parse.h"
#include "dp/table.h"
#include "port/port.h"
#include "../fake_port.h"

#define N_PORTS		6
#define OUT_NONE	0xffff	/* dropped */

static struct dp_pmd *ctx;
static struct pkt_pool *pool;
static struct port *ports[N_PORTS];

static int setup(void **state)
{
	(void)state;
	fake_dp_setup(N_PORTS, ports, &ctx, &pool);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_dp_teardown(N_PORTS, ports, ctx, pool);
	return 0;
}

/* ---- the model ---- */

struct mrule {
	struct ofctl_flow f;
};

static struct mrule model[2][400];
static int n_model[2];

static int lookup_port(const char *name, uint16_t *id, void *aux)
{
	struct port *p = port_find(name);

	(void)aux;
	if (!p)
		return -ENOENT;
	*id = p->id;
	return 0;
}

/* The packet's fate by linear scan: the output port id, or OUT_NONE. */
static uint16_t model_fate(const struct flow_key *key)
{
	int t = 0;

	for (int depth = 0; depth < 4; depth++) {
		const struct mrule *best = NULL;

		for (int i = 0; i < n_model[t]; i++) {
			const struct mrule *r = &model[t][i];

			if (flow_match_key(&r->f.match, key) &&
			    (!best || r->f.priority > best->f.priority))
				best = r;
		}
		if (!best)
			return OUT_NONE;
		OFPACT_FOREACH(a, best->f.actions.data, best->f.actions.len) {
			if (a->type == OFPACT_OUTPUT) {
				uint16_t p = ((const struct ofpact_output *)a)->port;

				return p == key->in_port ? OUT_NONE : p;
			}
			if (a->type == OFPACT_GOTO_TABLE) {
				t = ((const struct ofpact_goto *)a)->table;
				goto next_table;
			}
		}
		return OUT_NONE;	/* drop */
next_table:;
	}
	return OUT_NONE;
}

/* Random pieces drawn from small pools so that rules and packets meet. */
static const char *const nets[] = { "10.0.0.0", "10.0.1.0", "10.1.0.0", "192.168.0.0" };

static unsigned rnd(unsigned n)
{
	return (unsigned)rand() % n;
}

/* A random rule for table t with a unique priority (ties are unspecified
 * in OpenFlow, and so in the model). */
static void random_flow(char *buf, size_t len, int t, int prio)
{
	int off = snprintf(buf, len, "table=%d,priority=%d", t, prio);

	if (rnd(3))
		off += snprintf(buf + off, len - (size_t)off, ",in_port=p%u", rnd(N_PORTS));
	if (rnd(4)) {
		off += snprintf(buf + off, len - (size_t)off, ",%s", rnd(2) ? "tcp" : "udp");
		if (rnd(2))
			off += snprintf(buf + off, len - (size_t)off, ",tp_dst=%u", 80 + rnd(4));
		if (rnd(3) == 0)
			off += snprintf(buf + off, len - (size_t)off, ",tp_src=0x%x/0xf0",
					rnd(16) << 4);
	} else if (rnd(2)) {
		off += snprintf(buf + off, len - (size_t)off, ",ip");
	}
	if (strstr(buf, "tcp") || strstr(buf, "udp") || strstr(buf, ",ip")) {
		if (rnd(2))
			off += snprintf(buf + off, len - (size_t)off, ",nw_dst=%s/%u",
					nets[rnd(4)], 8 + 8 * rnd(3));
		if (rnd(3) == 0)
			off += snprintf(buf + off, len - (size_t)off, ",nw_src=10.0.0.%u/%u",
					rnd(4) * 64, 26 + rnd(7));
	}
	if (t == 0 && rnd(4) == 0)
		snprintf(buf + off, len - (size_t)off, ",actions=goto_table:1");
	else if (rnd(6) == 0)
		snprintf(buf + off, len - (size_t)off, ",actions=drop");
	else
		snprintf(buf + off, len - (size_t)off, ",actions=output:p%u", rnd(N_PORTS));
}

static void add_random_rule(int t, int prio)
{
	char buf[256], err[256];
	struct mrule *r = &model[t][n_model[t]];

	random_flow(buf, sizeof(buf), t, prio);
	assert_int_equal(ofctl_parse_flow(buf, OFCTL_ADD, lookup_port, NULL, &r->f, err,
					  sizeof(err)), 0);
	assert_int_equal(fake_run("add-flow", buf), 0);
	n_model[t]++;
}

static void del_random_rule(int t)
{
	char buf[512];
	struct ds ds = { 0 };
	int i = (int)rnd((unsigned)n_model[t]);
	struct mrule *r = &model[t][i];

	ofctl_format_match(&ds, &r->f.match, r->f.priority, NULL, NULL);
	snprintf(buf, sizeof(buf), "table=%d,priority=%d%s%s", t, r->f.priority,
		 ds.len ? "," : "", ds_cstr(&ds));
	ds_destroy(&ds);
	{
		char *argv[] = { "del-flows", "--strict", buf, NULL };
		struct ctl_req rq;

		assert_int_equal(ctl_exec(&rq, 3, argv), 0);
		assert_int_equal(json_integer_value(json_object_get(rq.data, "deleted")), 1);
		ctl_req_release(&rq);
	}
	ofctl_flow_destroy(&r->f);
	model[t][i] = model[t][--n_model[t]];
}

#define PKT_LEN		(PARSE_SAME_BYTES + 8)
_Static_assert(14 + 20 + 20 + 4 <= PKT_LEN - 4, "seq must sit in the padding");

/* A TCP or UDP frame from the pools, carrying seq in its last 4 bytes. */
static struct pkt *random_packet(uint32_t seq, uint16_t *in)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d;
	bool tcp = rnd(2);
	uint16_t l4len = tcp ? 20 : 8, tot = (uint16_t)(20 + l4len + 4);
	uint32_t src = 0x0a000000u | rnd(256), dst;
	static const uint32_t dsts[] = { 0x0a000000, 0x0a000100, 0x0a010000, 0xc0a80000,
					  0x0b000000 };

	assert_non_null(p);
	d = p->data;
	memset(d, 0, PKT_LEN);
	memcpy(d, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	d[14] = 0x45;
	d[16] = (uint8_t)(tot >> 8);
	d[17] = (uint8_t)tot;
	d[22] = 64;
	d[23] = tcp ? 6 : 17;
	dst = dsts[rnd(5)] | rnd(256);
	for (int i = 0; i < 4; i++) {
		d[26 + i] = (uint8_t)(src >> (24 - 8 * i));
		d[30 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	d[34] = 0;
	d[35] = (uint8_t)(rnd(256));		/* tp_src */
	d[36] = 0;
	d[37] = (uint8_t)(78 + rnd(8));		/* tp_dst around 80 */
	if (tcp)
		d[46] = 0x50;
	/* Ethernet padding after the IP packet puts seq past the first
	 * PARSE_SAME_BYTES, so a copy of another packet's headers can be
	 * told apart by seq and still take the copied-key path. */
	p->len = PKT_LEN;
	memcpy(p->data + p->len - 4, &seq, 4);
	*in = (uint16_t)rnd(N_PORTS);
	return p;
}

static void reset_tables(void)
{
	assert_int_equal(fake_run("del-flows", NULL), 0);
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < n_model[t]; i++)
			ofctl_flow_destroy(&model[t][i].f);
		n_model[t] = 0;
	}
}

static void differential(bool emc_on, bool adaptive)
{
	enum { N_PACKETS = 120000, CHANGE_EVERY = 3000 };
	uint32_t seq = 0;
	unsigned disagree = 0;
	int prio = 1;

	srand(emc_on ? 4242 : 777);
	emc_set_enabled(&ctx->emc, emc_on);
	ctx->emc.adaptive = adaptive;
	reset_tables();
	for (int i = 0; i < 120; i++)
		add_random_rule(0, prio++);
	for (int i = 0; i < 60; i++)
		add_random_rule(1, prio++);
	while (seq < N_PACKETS) {
		struct pkt *p[PKT_BURST];
		uint16_t in[PKT_BURST], want[PKT_BURST];
		struct flow_key k;

		if (seq && seq % CHANGE_EVERY == 0) {
			/* Change the tables under the caches: revalidation must
			 * keep every later packet right. */
			int t = (int)rnd(2);

			if (n_model[t] > 20 && rnd(2))
				del_random_rule(t);
			else if (n_model[t] < 390)
				add_random_rule(t, prio++);
		}
		/* Bursts of packets from one port, as a PMD sees them. */
		uint16_t port = (uint16_t)rnd(N_PORTS);
		unsigned n = 1 + rnd(rnd(2) ? 8 : PKT_BURST);

		for (unsigned i = 0; i < n; i++) {
			p[i] = random_packet(seq + i, &in[i]);
			if (i && rnd(2)) {
				/* The headers of the packet before, as in a
				 * burst of one flow; sometimes one byte off. */
				memcpy(p[i]->data, p[i - 1]->data, PARSE_SAME_BYTES);
				if (!rnd(4))
					p[i]->data[rnd(PARSE_SAME_BYTES)] ^= (uint8_t)(1 + rnd(255));
			}
			p[i]->in_port = port;
			flow_extract(p[i], &k);
			want[i] = model_fate(&k);
		}
		for (int q = 0; q < N_PORTS; q++)
			((struct fake *)ports[q]->priv)->n_tx = 0;
		dp_process(ctx, ports[port], p, (uint16_t)n);
		dp_flush(ctx);
		rcu_quiescent_state();
		/* Every packet where the model sends it, and nowhere else. */
		unsigned expect[N_PORTS] = { 0 };

		for (unsigned i = 0; i < n; i++) {
			const struct fake *f;
			bool found = false;

			if (want[i] == OUT_NONE)
				continue;
			expect[want[i]]++;
			f = ports[want[i]]->priv;
			for (unsigned j = 0; j < f->n_tx && j < ARRAY_SIZE(f->seqs); j++)
				found |= f->seqs[j] == seq + i;
			disagree += !found;
		}
		for (int q = 0; q < N_PORTS; q++)
			if (((struct fake *)ports[q]->priv)->n_tx != expect[q])
				disagree++;
		seq += n;
	}
	printf("differential (emc %s%s): %u packets, %d+%d rules at the end, %u disagreements\n",
	       emc_on ? "on" : "off", emc_on && adaptive ? ", adaptive bypass" : "", seq,
	       n_model[0], n_model[1], disagree);
	assert_int_equal(disagree, 0);
	assert_int_equal(pkt_pool_avail(pool), 512);
	reset_tables();
}

static void test_differential_emc_on(void **state)
{
	(void)state;
	differential(true, false);
}

static void test_differential_emc_adaptive(void **state)
{
	(void)state;
	differential(true, true);
}

static void test_differential_emc_off(void **state)
{
	(void)state;
	differential(false, false);
}

/* With the megaflow cache full, each miss is decided by the pipeline and
 * not cached; the packets after it in the burst with its key (which would
 * take its megaflow) must then look up on their own. */
static uint32_t saved_mflow_max;

/* Room for the ids already handed out and 4 more: with few ids freed so
 * far (the test runs first), the cache is then full at once. */
static int mflow_small(void **state)
{
	(void)state;
	saved_mflow_max = dp_mflow.max_entries;
	dp_mflow.max_entries = dp_mflow.next_id + 4;
	return 0;
}

static int mflow_restore(void **state)
{
	(void)state;
	dp_mflow.max_entries = saved_mflow_max;
	return 0;
}

static void test_differential_mflow_full(void **state)
{
	uint64_t fails = ctx->n_upcall_fail;

	(void)state;
	differential(true, false);
	printf("megaflow cache full: %lu upcalls not cached\n",
	       (unsigned long)(ctx->n_upcall_fail - fails));
	assert_true(ctx->n_upcall_fail - fails > 10000);
}

/* A UDP frame from p0 to 10.0.0.d. */
static struct pkt *udp_to(uint8_t d, uint32_t seq)
{
	uint16_t in;
	struct pkt *p = random_packet(seq, &in);

	p->data[23] = 17;
	memcpy(p->data + 26, "\x0a\x00\x00\x09\x0a\x00\x00", 7);	/* nw_src, nw_dst */
	p->data[33] = d;
	memcpy(p->data + 34, "\x03\xe8\x03\xe9", 4);			/* ports */
	return p;
}

static json_int_t rule_packets(int32_t priority)
{
	char *argv[] = { "dump-flows", NULL };
	struct ctl_req r;
	json_int_t n = -1;
	size_t i;
	json_t *f;

	reval_push_stats();
	assert_int_equal(ctl_exec(&r, 1, argv), 0);
	json_array_foreach(r.data, i, f)
		if (json_integer_value(json_object_get(f, "priority")) == priority)
			n = json_integer_value(json_object_get(f, "n_packets"));
	ctl_req_release(&r);
	return n;
}

/* A burst A B A B of two new flows: two upcalls (the second A and B find
 * the megaflows their first packets installed in the same burst), and
 * runs of megaflows that share one output (A A B B A) still count each
 * packet to its own rule. */
static void test_burst_megaflows(void **state)
{
	struct pkt *p[5];
	uint64_t up;

	(void)state;
	reset_tables();
	emc_set_enabled(&ctx->emc, true);
	ctx->emc.adaptive = false;
	assert_int_equal(fake_run("add-flow", "priority=10,in_port=p0,udp,nw_dst=10.0.0.1,"
				  "actions=output:p1"), 0);
	assert_int_equal(fake_run("add-flow", "priority=11,in_port=p0,udp,nw_dst=10.0.0.2,"
				  "actions=output:p1"), 0);
	up = ctx->n_upcalls;
	for (int i = 0; i < 4; i++)
		p[i] = udp_to((uint8_t)(1 + (i & 1)), (uint32_t)i);
	dp_process(ctx, ports[0], p, 4);
	dp_flush(ctx);
	rcu_quiescent_state();
	assert_int_equal(ctx->n_upcalls - up, 2);
	assert_int_equal(rule_packets(10), 2);
	assert_int_equal(rule_packets(11), 2);
	((struct fake *)ports[1]->priv)->n_tx = 0;
	for (int i = 0; i < 5; i++)
		p[i] = udp_to(i == 2 || i == 3 ? 2 : 1, (uint32_t)(10 + i));
	dp_process(ctx, ports[0], p, 5);
	dp_flush(ctx);
	rcu_quiescent_state();
	assert_int_equal(((struct fake *)ports[1]->priv)->n_tx, 5);
	assert_int_equal(ctx->n_upcalls - up, 2);
	assert_int_equal(rule_packets(10), 5);
	assert_int_equal(rule_packets(11), 4);
	assert_int_equal(pkt_pool_avail(pool), 512);
	reset_tables();
}

/* Bursts of UDP frames from p0 that differ only in nw_dst, over n_dst values. */
static void udp_bursts(unsigned n_bursts, uint32_t n_dst, uint32_t *k)
{
	for (unsigned b = 0; b < n_bursts; b++) {
		struct pkt *p[PKT_BURST];
		uint16_t in;

		for (int i = 0; i < PKT_BURST; i++) {
			p[i] = random_packet(0, &in);
			p[i]->data[23] = 17;
			memcpy(p[i]->data + 26, "\x0a\x00\x00\x01", 4);	/* nw_src */
			memcpy(p[i]->data + 34, "\x03\xe8\x03\xe9", 4);	/* ports */
			p[i]->data[30] = 10;
			p[i]->data[31] = (uint8_t)(*k >> 16);
			p[i]->data[32] = (uint8_t)(*k >> 8);
			p[i]->data[33] = (uint8_t)*k;
			*k = (*k + 1) % n_dst;
		}
		dp_process(ctx, ports[0], p, PKT_BURST);
		dp_flush(ctx);
		rcu_quiescent_state();
	}
}

/* A second megaflow subtable beside the one of udp_bursts' frames: a rule
 * on a prefix of nw_dst makes the megaflows' nw_dst masks as long as the
 * trie walk needed (10.0.x.x: /13; 192.168.0.1: /1), and one frame to
 * 192.168.0.1 installs the other mask. */
static void second_subtable(void)
{
	uint16_t in;
	struct pkt *p = random_packet(0, &in);

	assert_int_equal(fake_run("add-flow",
				  "priority=20,in_port=p0,udp,nw_dst=10.9.0.0/16,actions=output:p1"), 0);
	p->data[23] = 17;
	memcpy(p->data + 30, "\xc0\xa8\x00\x01", 4);
	dp_process(ctx, ports[0], &p, 1);
	dp_flush(ctx);
	rcu_quiescent_state();
}

/* Empty tables but one rule that sends p0's UDP to p1; the EMC on, adaptive. */
static void emc_udp_setup(void)
{
	reset_tables();
	emc_set_enabled(&ctx->emc, true);
	ctx->emc.adaptive = true;
	assert_int_equal(fake_run("add-flow", "priority=10,in_port=p0,udp,actions=output:p1"), 0);
}

/* With one megaflow subtable the EMC stays out (the megaflow lookup is an
 * exact match on fewer words): every burst counts as bypassed, none hits;
 * a second subtable brings it in. */
static void test_emc_one_subtable(void **state)
{
	uint32_t k = 0;
	uint64_t byp, hits;

	(void)state;
	emc_udp_setup();
	byp = ctx->n_emc_bypassed;
	hits = ctx->n_emc_hits;
	udp_bursts(100, 4, &k);
	assert_int_equal(cls_n_subtables(&dp_mflow.cls), 1);
	assert_int_equal(ctx->n_emc_bypassed - byp, 100 * PKT_BURST);
	/* Hits are counted for packets that shared a key with the one before
	 * too; with 4 flows round robin none does, so any hit is the EMC's. */
	assert_int_equal(ctx->n_emc_hits - hits, 0);
	second_subtable();
	udp_bursts(1, 4, &k);
	assert_int_equal(cls_n_subtables(&dp_mflow.cls), 2);
	byp = ctx->n_emc_bypassed;
	udp_bursts(100, 4, &k);
	assert_int_equal(ctx->n_emc_bypassed, byp);
	assert_true(ctx->n_emc_hits - hits > 90 * PKT_BURST);
	assert_int_equal(pkt_pool_avail(pool), 512);
	reset_tables();
}

/* The EMC stands aside when nearly every lookup misses (many more flows than
 * entries), and comes back when the traffic fits it again. */
static void test_emc_adaptive_bypass(void **state)
{
	uint32_t k = 0;
	uint64_t byp, hits;

	(void)state;
	emc_udp_setup();
	second_subtable();
	byp = ctx->n_emc_bypassed;
	udp_bursts(2000, 60000, &k);		/* 64,000 packets, all distinct */
	assert_int_equal(cls_n_subtables(&dp_mflow.cls), 2);
	assert_true(ctx->emc.bypass);
	assert_true(ctx->n_emc_bypassed - byp > 40000);
	k = 0;
	udp_bursts(40000, 64, &k);		/* 64 flows: fits, hits again */
	assert_false(ctx->emc.bypass);
	hits = ctx->n_emc_hits;
	udp_bursts(200, 64, &k);
	assert_true(ctx->n_emc_hits - hits > 190 * PKT_BURST);
	assert_int_equal(pkt_pool_avail(pool), 512);
	reset_tables();
}

/* add-flows is all or nothing: one bad line, no flow added. */
static void test_add_flows_atomic(void **state)
{
	char *argv[] = { "add-flows",
		"priority=5,in_port=p0,actions=output:p1\n"
		"# a comment\n\n"
		"priority=6,in_port=p1,actions=output:p0\n"
		"priority=7,tp_dst=80,actions=drop\n", NULL };
	struct ctl_req r;

	(void)state;
	reset_tables();
	assert_int_not_equal(ctl_exec(&r, 2, argv), 0);
	assert_non_null(strstr(r.err, "line 5"));
	ctl_req_release(&r);
	assert_int_equal(table_n_rules(), 0);
	argv[1] = "priority=5,in_port=p0,actions=output:p1\npriority=6,actions=drop\n";
	assert_int_equal(ctl_exec(&r, 2, argv), 0);
	ctl_req_release(&r);
	assert_int_equal(table_n_rules(), 2);
	reset_tables();
}

/* Rule counters come from megaflow stats; a deleted port takes its flows. */
static void test_counters_and_port_removal(void **state)
{
	struct port *extra;
	struct pkt *p[4];
	uint16_t in;

	(void)state;
	reset_tables();
	assert_int_equal(fake_run("add-flow", "priority=10,in_port=p0,actions=output:p1"), 0);
	for (int i = 0; i < 4; i++)
		p[i] = random_packet((uint32_t)i, &in);
	dp_process(ctx, ports[0], p, 4);
	dp_flush(ctx);
	rcu_quiescent_state();
	reval_push_stats();
	{
		char *argv[] = { "dump-flows", NULL };
		struct ctl_req r;

		assert_int_equal(ctl_exec(&r, 1, argv), 0);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(r.data, 0),
								    "n_packets")), 4);
		ctl_req_release(&r);
	}
	extra = fake_port_add("gone");
	assert_int_equal(fake_run("add-flow", "priority=11,in_port=gone,actions=output:p1"), 0);
	assert_int_equal(fake_run("add-flow", "priority=12,in_port=p2,actions=output:gone"), 0);
	assert_int_equal(table_n_rules(), 3);
	assert_int_equal(port_del(extra), 0);
	assert_int_equal(table_n_rules(), 1);
	reset_tables();
}

/* Deleting a group or meter deletes the rules that name it, and only those;
 * deleting all of them takes every rule that names any. */
static void test_del_group_meter_takes_rules(void **state)
{
	(void)state;
	reset_tables();
	assert_int_equal(fake_run("add-group", "group_id=1,type=all,bucket=output:p1"), 0);
	assert_int_equal(fake_run("add-group", "group_id=2,type=all,bucket=output:p2"), 0);
	assert_int_equal(fake_run("add-meter", "meter=1,pktps,band=type=drop,rate=1000"), 0);
	assert_int_equal(fake_run("add-meter", "meter=2,pktps,band=type=drop,rate=1000"), 0);
	assert_int_equal(fake_run("add-flow", "priority=20,in_port=p0,actions=group:1"), 0);
	assert_int_equal(fake_run("add-flow", "priority=21,in_port=p1,actions=group:2"), 0);
	assert_int_equal(fake_run("add-flow", "priority=22,in_port=p2,actions=meter:1,output:p3"), 0);
	assert_int_equal(fake_run("add-flow", "priority=23,in_port=p3,actions=meter:2,output:p2"), 0);
	assert_int_equal(table_n_rules(), 4);
	assert_int_equal(fake_run("del-groups", "group_id=1"), 0);
	assert_int_equal(table_n_rules(), 3);
	assert_int_equal(fake_run("del-meters", "meter=2"), 0);
	assert_int_equal(table_n_rules(), 2);
	assert_int_equal(fake_run("del-meters", NULL), 0);
	assert_int_equal(table_n_rules(), 1);
	assert_int_equal(fake_run("del-groups", NULL), 0);
	assert_int_equal(table_n_rules(), 0);
	reset_tables();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: the cache is made full from the ids used so far. */
		cmocka_unit_test_setup_teardown(test_differential_mflow_full, mflow_small,
						mflow_restore),
		cmocka_unit_test(test_burst_megaflows),
		cmocka_unit_test(test_add_flows_atomic),
		cmocka_unit_test(test_counters_and_port_removal),
		cmocka_unit_test(test_del_group_meter_takes_rules),
		cmocka_unit_test(test_differential_emc_on),
		cmocka_unit_test(test_differential_emc_adaptive),
		cmocka_unit_test(test_differential_emc_off),
		cmocka_unit_test(test_emc_one_subtable),
		cmocka_unit_test(test_emc_adaptive_bypass),
	};

	rcu_register_thread();
	return cmocka_run_group_tests(tests, setup, teardown);
}
