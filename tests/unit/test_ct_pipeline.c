/*
 * ct() in the real datapath: flows parsed from the ovs-ofctl language,
 * packets through dp_process (exact-match cache, megaflows, pipeline on a
 * miss), ct(table=N) recirculating them with their ct fields, and a
 * stateful policy (allow new TCP to port 80 from p0, allow established both
 * ways, drop the rest) checked packet by packet — with the EMC on and off,
 * and with the caches warm for one connection while another starts, so a
 * cached decision for +est can never be applied to a +new packet.
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
#include "ct/ct.h"
#include "ctl/ctl.h"
#include "dp/dp.h"
#include "dp/dp_priv.h"
#include "port/port.h"
#include "../fake_port.h"

#define N_PORTS	2

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

/* A TCP segment between 10.0.0.1 (behind p0) and 10.0.0.2 (behind p1). */
static struct pkt *seg(bool from_p0, uint16_t cport, uint16_t sport, uint32_t seq, uint32_t ack,
		       uint8_t flags)
{
	struct pkt *p = pkt_alloc();
	uint8_t *d = p->data;

	memset(d, 0, 54);
	memcpy(d, from_p0 ? "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" :
			    "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 14);
	d[14] = 0x45;
	d[17] = 40;
	d[22] = 64;
	d[23] = 6;
	memcpy(d + 26, from_p0 ? "\x0a\0\0\x01\x0a\0\0\x02" : "\x0a\0\0\x02\x0a\0\0\x01", 8);
	d[34] = (uint8_t)((from_p0 ? cport : sport) >> 8);
	d[35] = (uint8_t)(from_p0 ? cport : sport);
	d[36] = (uint8_t)((from_p0 ? sport : cport) >> 8);
	d[37] = (uint8_t)(from_p0 ? sport : cport);
	for (int i = 0; i < 4; i++) {
		d[38 + i] = (uint8_t)(seq >> (24 - 8 * i));
		d[42 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	d[46] = 0x50;
	d[47] = flags;
	d[48] = 0xff;
	d[49] = 0xff;
	p->len = 60;
	return p;
}

/* Send one packet in on p0 or p1; which port did it leave by (-1: none)? */
static int send1(bool from_p0, uint16_t cport, uint16_t sport, uint32_t seq, uint32_t ack,
		 uint8_t flags)
{
	struct pkt *p = seg(from_p0, cport, sport, seq, ack, flags);
	unsigned before[N_PORTS];
	int out = -1;

	for (int i = 0; i < N_PORTS; i++)
		before[i] = ((struct fake *)ports[i]->priv)->n_tx;
	dp_process(ctx, ports[from_p0 ? 0 : 1], &p, 1);
	dp_flush(ctx);
	rcu_quiescent_state();
	for (int i = 0; i < N_PORTS; i++) {
		unsigned n = ((struct fake *)ports[i]->priv)->n_tx - before[i];

		assert_true(n <= 1);
		if (n)
			out = i;
	}
	return out;
}

static void policy(const char *zone)
{
	char f[256];

	assert_int_equal(fake_run("del-flows", NULL), 0);
	ct_flush(-1);
	snprintf(f, sizeof(f), "table=0,priority=10,tcp,actions=ct(table=1,zone=%s)", zone);
	assert_int_equal(fake_run("add-flow", f), 0);
	snprintf(f, sizeof(f), "table=1,priority=20,ct_state=+trk+new,in_port=p0,tcp,tp_dst=80,"
		 "actions=ct(commit,zone=%s,exec(set_field:0x7->ct_mark)),output:p1", zone);
	assert_int_equal(fake_run("add-flow", f), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=10,ct_state=+trk+est-rpl,ct_mark=0x7,"
			     "in_port=p0,actions=output:p1"), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=10,ct_state=+trk+est+rpl,ct_zone=5,"
			     "in_port=p1,actions=output:p0"), 0);
}

static void stateful(bool emc)
{
	emc_set_enabled(&ctx->emc, emc);
	/* Handshake of a connection to port 80: passes both ways. */
	assert_int_equal(send1(true, 1000, 80, 100, 0, 0x02), 1);
	assert_int_equal(send1(false, 1000, 80, 5000, 101, 0x12), 0);
	assert_int_equal(send1(true, 1000, 80, 101, 5001, 0x10), 1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(send1(true, 1000, 80, 101, 5001, 0x10), 1);
		assert_int_equal(send1(false, 1000, 80, 5001, 101, 0x10), 0);
	}
	/* With the caches warm for that connection: a new one to port 80
	 * passes, to port 81 does not, from the other side does not. */
	assert_int_equal(send1(true, 1001, 80, 100, 0, 0x02), 1);
	assert_int_equal(send1(true, 1002, 81, 100, 0, 0x02), -1);
	assert_int_equal(send1(false, 1003, 22, 100, 0, 0x02), -1);
	/* A SYN-ACK nobody asked for, an ACK out of the window: dropped. */
	assert_int_equal(send1(false, 1004, 80, 1, 101, 0x12), -1);
	assert_int_equal(send1(true, 1000, 80, 101 + 20000000, 5001, 0x18), 1);	/* pure ACK */
	{
		/* Data far outside the window is +inv: no rule, dropped. */
		struct pkt *p = seg(true, 1000, 80, 101 + 20000000, 5001, 0x18);
		unsigned n1 = ((struct fake *)ports[1]->priv)->n_tx;

		p->data[17] = 50;	/* 10 bytes of payload */
		dp_process(ctx, ports[0], &p, 1);
		dp_flush(ctx);
		rcu_quiescent_state();
		assert_int_equal(((struct fake *)ports[1]->priv)->n_tx, n1);
	}
}

static void test_stateful_emc_on(void **state)
{
	(void)state;
	policy("5");
	stateful(true);
	assert_true(ct_zone_count(5) == 2);
}

static void test_stateful_emc_off(void **state)
{
	(void)state;
	policy("5");
	stateful(false);
	emc_set_enabled(&ctx->emc, true);
}

/* A burst of repeated frames: the datapath shares one parsed key between a
 * frame and the identical one before it (dp_proc.c), and must give each its
 * own before ct writes into it. Each frame gets what it would alone: the
 * SYNs to port 80 pass and open one connection, those to 81 are dropped. */
static void test_burst_of_repeats(void **state)
{
	struct pkt *b[6];
	unsigned n1 = ((struct fake *)ports[1]->priv)->n_tx;

	(void)state;
	policy("5");
	b[0] = seg(true, 3000, 80, 100, 0, 0x02);
	b[1] = seg(true, 3000, 80, 100, 0, 0x02);
	b[2] = seg(true, 3000, 80, 100, 0, 0x02);
	b[3] = seg(true, 3001, 81, 100, 0, 0x02);
	b[4] = seg(true, 3001, 81, 100, 0, 0x02);
	b[5] = seg(true, 3002, 80, 100, 0, 0x02);
	dp_process(ctx, ports[0], b, 6);
	dp_flush(ctx);
	rcu_quiescent_state();
	assert_int_equal(((struct fake *)ports[1]->priv)->n_tx - n1, 4);
	assert_true(ct_zone_count(5) == 2);
}

/* Send n copies of one frame as one burst on port `in`; how many left by
 * port `out`? */
static unsigned burst_copies(struct pkt *(*mkf)(bool), bool from_p0, int n, int out)
{
	struct pkt *b[PKT_BURST];
	unsigned before = ((struct fake *)ports[out]->priv)->n_tx;

	for (int i = 0; i < n; i++)
		b[i] = mkf(from_p0);
	dp_process(ctx, ports[from_p0 ? 0 : 1], b, (uint16_t)n);
	dp_flush(ctx);
	rcu_quiescent_state();
	return ((struct fake *)ports[out]->priv)->n_tx - before;
}

/* UDP 10.0.0.1:4000 <-> 10.0.0.2:53 (the TCP frame of seg, retyped). */
static struct pkt *udp_frame(bool from_p0)
{
	struct pkt *p = seg(from_p0, 4000, 53, 0, 0, 0);

	p->data[23] = 17;
	p->data[38] = 0;
	p->data[39] = 20;	/* UDP length: the IP length less its header */
	memset(p->data + 40, 0, 14);
	return p;
}

/* Bursts of identical frames through a security-group table: their keys
 * are shared through both passes (the recirculated pass shares them too,
 * dp_proc.c, and its ct(commit) writes no key); each frame still gets its
 * own verdict: replies before any request are dropped, a burst of requests
 * opens one connection and passes whole, then replies pass. */
static void test_burst_sg_shared(void **state)
{
	struct ct_pmd c0, c1;

	(void)state;
	assert_int_equal(fake_run("del-flows", NULL), 0);
	ct_flush(-1);
	assert_int_equal(fake_run("add-flow", "table=0,priority=10,ip,actions=ct(table=1)"), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=90,ct_state=+trk+est,in_port=p0,"
			     "actions=output:p1"), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=90,ct_state=+trk+est,in_port=p1,"
			     "actions=output:p0"), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=80,ct_state=+trk+new,in_port=p0,"
			     "udp,tp_dst=53,actions=ct(commit),output:p1"), 0);
	assert_int_equal(fake_run("add-flow", "table=1,priority=0,actions=drop"), 0);
	for (int round = 0; round < 2; round++) {
		emc_set_enabled(&ctx->emc, round == 0);
		ct_flush(-1);
		ct_sum_counters(&c0);
		assert_int_equal(burst_copies(udp_frame, false, 8, 0), 0);
		assert_int_equal(ct_zone_count(0), 0);
		assert_int_equal(burst_copies(udp_frame, true, 8, 1), 8);
		assert_int_equal(ct_zone_count(0), 1);
		assert_int_equal(burst_copies(udp_frame, false, 8, 0), 8);
		assert_int_equal(burst_copies(udp_frame, true, 8, 1), 8);
		ct_sum_counters(&c1);
		/* Two ct passes for the requests that open the connection, one
		 * for the other bursts. */
		assert_int_equal(c1.n_packets - c0.n_packets, 8 + 16 + 8 + 8);
		assert_int_equal(c1.n_created - c0.n_created, 1);
	}
	emc_set_enabled(&ctx->emc, true);
}

static void test_zone_from_register(void **state)
{
	(void)state;
	assert_int_equal(fake_run("del-flows", NULL), 0);
	policy("NXM_NX_REG6[0..15]");
	/* Table 0 now needs reg6 = 5 before ct. */
	assert_int_equal(fake_run("del-flows", "table=0"), 0);
	assert_int_equal(fake_run("add-flow", "table=0,priority=10,tcp,actions="
			     "load:5->NXM_NX_REG6[0..15],ct(table=1,zone=NXM_NX_REG6[0..15])"), 0);
	stateful(true);
	assert_true(ct_zone_count(5) == 2);
}

static void test_recirc_loop_bounded(void **state)
{
	uint64_t before = ctx->act.drops[DPACT_DROP_RECIRC_TOO_DEEP];

	(void)state;
	assert_int_equal(fake_run("del-flows", NULL), 0);
	/* A pipeline that recirculates forever is cut after a few passes. */
	assert_int_equal(fake_run("add-flow", "table=0,priority=1,actions=ct(table=0)"), 0);
	assert_int_equal(send1(true, 1, 2, 1, 0, 0x02), -1);
	assert_int_equal(ctx->act.drops[DPACT_DROP_RECIRC_TOO_DEEP], before + 1);
}

static void test_parse_format(void **state)
{
	char *argv[] = { "dump-flows", NULL };
	struct ctl_req r;
	const char *acts;

	(void)state;
	assert_int_equal(fake_run("del-flows", NULL), 0);
	assert_int_equal(fake_run("add-flow", "ip,actions=ct(commit,zone=3,table=2,"
			     "exec(set_field:0x1/0xff->ct_mark,set_field:0x5->ct_label),"
			     "nat(src=10.0.0.1-10.0.0.9:1000-2000)),output:p1"), 0);
	assert_int_equal(ctl_exec(&r, 1, argv), 0);
	acts = json_string_value(json_object_get(json_array_get(r.data, 0), "actions"));
	assert_non_null(acts);
	assert_string_equal(acts, "ct(commit,table=2,zone=3,exec(load:0x1->ct_mark[0..7],"
			    "set_field:0x5->ct_label),nat(src=10.0.0.1-10.0.0.9:1000-2000)),output:p1");
	ctl_req_release(&r);
	/* Refused, with nothing added. */
	assert_int_not_equal(fake_run("add-flow", "ip,actions=ct(exec(set_field:1->ct_mark))"), 0);
	assert_int_not_equal(fake_run("add-flow", "ip,actions=ct(commit,exec(output:p1))"), 0);
	assert_int_not_equal(fake_run("add-flow", "ip,actions=ct(nat(dst=10.0.0.1))"), 0);
	assert_int_not_equal(fake_run("add-flow", "ip,actions=ct(zone=70000)"), 0);
	assert_int_not_equal(fake_run("add-flow", "ip,actions=ct(commit,nat(src=10.0.0.9-10.0.0.1))"), 0);
	assert_int_equal(fake_run("add-flow", "ip,actions=ct(commit,nat(dst=[fd00::1]-[fd00::9]:80)),ct_clear,output:p1"), 0);
	assert_int_equal(fake_run("del-flows", NULL), 0);
}

static json_t *trace(const char *opt, const char *state, const char *flow, struct ctl_req *r)
{
	char *argv[] = { "trace", (char *)opt, (char *)state, (char *)flow, NULL };

	if (opt)
		assert_int_equal(ctl_exec(r, 4, argv), 0);
	else {
		argv[1] = (char *)flow;
		assert_int_equal(ctl_exec(r, 2, argv), 0);
	}
	return r->data;
}

static void test_trace_follows_recirculation(void **state)
{
	const char *flow = "in_port=p0,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=80";
	struct ctl_req r;
	json_t *j, *second;

	(void)state;
	policy("5");
	j = trace(NULL, NULL, flow, &r);
	assert_string_equal(json_string_value(json_object_get(j, "datapath_actions")),
			    "ct(zone=5),recirc(0x2)");
	second = json_array_get(json_object_get(j, "recirculations"), 0);
	assert_non_null(second);
	assert_string_equal(json_string_value(json_array_get(json_object_get(second, "outputs"), 0)),
			    "p1");
	assert_non_null(strstr(r.text, "recirc(0x2): conntrack resumes in table 1"));
	ctl_req_release(&r);
	/* As an established packet with no mark, the policy drops it. */
	j = trace("--ct-next", "+trk+est", flow, &r);
	second = json_array_get(json_object_get(j, "recirculations"), 0);
	assert_true(json_is_true(json_object_get(second, "drop")));
	ctl_req_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_stateful_emc_on),
		cmocka_unit_test(test_stateful_emc_off),
		cmocka_unit_test(test_zone_from_register),
		cmocka_unit_test(test_burst_of_repeats),
		cmocka_unit_test(test_burst_sg_shared),
		cmocka_unit_test(test_recirc_loop_bounded),
		cmocka_unit_test(test_trace_follows_recirculation),
	};

	rcu_register_thread();
	return cmocka_run_group_tests(tests, setup, teardown);
}
