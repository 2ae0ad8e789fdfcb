/* Unit tests for src/dp: MAC learning, flooding, aging, port removal,
 * cross-connect, drop reasons, the Ethernet parse, the MAC table against a
 * trivial model, and the dp commands. Ports are fakes that record what they
 * are given to transmit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pkt.h"
#include "ctl/ctl.h"
#include "dp/dp.h"
#include "dp/dp_priv.h"
#include "port/port.h"

struct fake {
	unsigned n_tx;
	uint16_t last_len;
	uint8_t last_l3_off;
	uint8_t last_hdr[14];
};

static uint16_t fake_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid, (void)pkts, (void)n;
	return 0;
}

static uint16_t fake_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct fake *f = port->priv;

	assert_int_equal(qid, 0);
	for (uint16_t i = 0; i < n; i++) {
		f->n_tx++;
		f->last_len = pkts[i]->len;
		f->last_l3_off = pkts[i]->l3_off;
		memcpy(f->last_hdr, pkts[i]->data, MIN(pkts[i]->len, 14));
		pkt_free(pkts[i]);
	}
	return n;
}

static void fake_close(struct port *port)
{
	free(port->priv);
	port_free(port);
}

static const struct port_ops fake_ops = {
	.rx_burst = fake_rx,
	.tx_burst = fake_tx,
	.close = fake_close,
};

static struct dp_pmd *ctx;
static struct pkt_pool *pool;

static struct port *fake_add(const char *name)
{
	struct port *p = port_alloc(name, "fake", &fake_ops);

	assert_non_null(p);
	p->priv = calloc(1, sizeof(struct fake));
	assert_int_equal(port_add(p), 0);
	return p;
}

static unsigned ntx(struct port *p)
{
	return ((struct fake *)p->priv)->n_tx;
}

static void fake_reset(struct port **ports, int n)
{
	for (int i = 0; i < n; i++)
		memset(ports[i]->priv, 0, sizeof(struct fake));
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MA[6] = { 0x02, 0, 0, 0, 0, 0xa };
static const uint8_t MB[6] = { 0x02, 0, 0, 0, 0, 0xb };
static const uint8_t MC[6] = { 0x02, 0, 0, 0, 0, 0xc };
static const uint8_t MX[6] = { 0x02, 0, 0, 0, 0, 0x99 };

static struct pkt *frame(const uint8_t *dst, const uint8_t *src, uint16_t len)
{
	struct pkt *p = pkt_alloc();

	assert_non_null(p);
	memset(p->data, 0, len);
	if (len >= 12) {
		memcpy(p->data, dst, 6);
		memcpy(p->data + 6, src, 6);
	}
	if (len >= 14) {
		p->data[12] = 0x08;	/* IPv4 */
		p->data[13] = 0x00;
	}
	p->len = len;
	return p;
}

static void send1(struct port *in, const uint8_t *dst, const uint8_t *src)
{
	struct pkt *p = frame(dst, src, 60);

	p->in_port = in->id;
	dp_process(ctx, in, &p, 1);
	dp_flush(ctx);
}

static long long stat(const char *name)
{
	json_t *o = json_object(), *v;
	long long r;

	dp_stats_json(o);
	v = json_object_get(o, name);
	if (!v)
		v = json_object_get(json_object_get(o, "drops"), name);
	assert_non_null(v);
	r = json_integer_value(v);
	json_decref(o);
	return r;
}

static int setup(void **state)
{
	(void)state;
	pool = pkt_pool_create("test", 256);
	assert_non_null(pool);
	pkt_pool_set_thread(pool);
	ctx = dp_pmd_create(0);
	assert_non_null(ctx);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dp_pmd_destroy(ctx);
	pkt_pool_destroy(pool);
	return 0;
}

static void del_all(void)
{
	struct port *p;

	PORT_FOREACH(p, id)
		assert_int_equal(port_del(p), 0);
	assert_int_equal(fdb_count(), 0);
	assert_int_equal(pkt_pool_avail(pool), 256);
}

static void test_flood_then_learn(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");
	struct port *all[] = { a, b, c };
	long long flooded = stat("flooded"), learned = stat("learned");

	(void)state;
	send1(a, BCAST, MA);
	assert_int_equal(ntx(a), 0);
	assert_int_equal(ntx(b), 1);
	assert_int_equal(ntx(c), 1);
	/* The copies are whole and identical. */
	assert_memory_equal(((struct fake *)b->priv)->last_hdr, BCAST, 6);
	assert_memory_equal(((struct fake *)c->priv)->last_hdr + 6, MA, 6);
	assert_int_equal(((struct fake *)c->priv)->last_len, 60);

	fake_reset(all, 3);
	send1(b, MA, MB);		/* known: only to a */
	assert_int_equal(ntx(a), 1);
	assert_int_equal(ntx(b) + ntx(c), 0);
	send1(c, MB, MC);		/* known: only to b */
	assert_int_equal(ntx(b), 1);
	assert_int_equal(ntx(c), 0);
	send1(a, MX, MA);		/* unknown unicast floods */
	assert_int_equal(ntx(b), 2);
	assert_int_equal(ntx(c), 1);
	assert_int_equal(stat("flooded") - flooded, 2);
	assert_int_equal(stat("learned") - learned, 3);
	assert_int_equal(stat("fdb_entries"), 3);
	assert_int_equal(fdb_lookup(mac_load(MB)), b->id);
	del_all();
}

static void test_dst_is_in_port(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b");
	long long drops = stat("dst_is_in_port");

	(void)state;
	send1(a, BCAST, MA);
	send1(a, MA, MX);	/* MA lives behind a: never send back */
	assert_int_equal(ntx(a), 0);
	assert_int_equal(ntx(b), 1);
	assert_int_equal(stat("dst_is_in_port") - drops, 1);
	del_all();
}

static void test_move(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");
	long long moved = stat("moved");

	(void)state;
	send1(a, BCAST, MA);
	send1(b, BCAST, MA);	/* the station moved to b */
	assert_int_equal(stat("moved") - moved, 1);
	send1(c, MA, MC);
	assert_int_equal(ntx(b), 2);	/* flood from a, then the unicast */
	assert_int_equal(ntx(a), 1);	/* only the flood from b */
	del_all();
}

static void test_aging(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");
	uint32_t now = fdb_now();

	(void)state;
	send1(a, BCAST, MA);
	assert_int_equal(fdb_age(now + 100, 300), 0);
	assert_int_equal(fdb_lookup(mac_load(MA)), a->id);
	assert_int_equal(fdb_age(now + 100, 0), 0);	/* 0: never age */
	assert_int_equal(fdb_age(now + 301, 300), 1);
	assert_int_equal(fdb_lookup(mac_load(MA)), PORT_ID_NONE);
	send1(b, MA, MB);	/* forgotten: floods again */
	assert_int_equal(ntx(a), 1);
	assert_int_equal(ntx(c), 2);
	dp_set_mac_aging(42);
	assert_int_equal(dp_mac_aging(), 42);
	assert_int_equal(stat("mac_aging"), 42);
	dp_set_mac_aging(DP_MAC_AGING_DEFAULT);
	del_all();
}

static void test_port_removed_forgets(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");

	(void)state;
	send1(a, BCAST, MA);
	send1(b, BCAST, MB);
	assert_int_equal(fdb_count(), 2);
	assert_int_equal(port_del(b), 0);
	assert_int_equal(fdb_count(), 1);
	assert_int_equal(fdb_lookup(mac_load(MB)), PORT_ID_NONE);
	send1(a, MB, MA);	/* floods to c only now */
	assert_int_equal(ntx(c), 3);
	/* A packet still arriving on a deleted port is dropped, not learned. */
	{
		struct pkt *p = frame(BCAST, MX, 60);
		long long gone = stat("in_port_detached");
		struct port *d = port_alloc("d", "fake", &fake_ops);

		d->id = 7;
		dp_process(ctx, d, &p, 1);
		dp_flush(ctx);
		assert_int_equal(stat("in_port_detached") - gone, 1);
		assert_int_equal(fdb_lookup(mac_load(MX)), PORT_ID_NONE);
		port_free(d);
	}
	del_all();
}

/* A port whose link goes down (a migrated VM's old port) loses what was
 * learned on it, counted; frames to those MACs flood to where the host went
 * instead of being dropped on the dead port; other ports keep theirs. */
static void test_link_down_forgets(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");
	struct port *ports[] = { a, b, c };
	long long before = stat("fdb_flushed_link_down");

	(void)state;
	send1(a, BCAST, MA);
	send1(b, BCAST, MB);
	send1(b, BCAST, MX);
	assert_int_equal(fdb_count(), 3);
	fake_reset(ports, 3);
	port_link_down(b);
	assert_int_equal(stat("fdb_flushed_link_down") - before, 2);
	assert_int_equal(fdb_lookup(mac_load(MB)), PORT_ID_NONE);
	assert_int_equal(fdb_lookup(mac_load(MX)), PORT_ID_NONE);
	assert_int_equal(fdb_lookup(mac_load(MA)), a->id);
	send1(a, MB, MA);		/* floods: reaches c, where MB may be now */
	assert_int_equal(ntx(b), 1);
	assert_int_equal(ntx(c), 1);
	send1(c, BCAST, MB);		/* MB speaks from c: learned there */
	assert_int_equal(fdb_lookup(mac_load(MB)), c->id);
	send1(a, MB, MA);
	assert_int_equal(ntx(c), 2);
	assert_int_equal(ntx(b), 2);	/* the broadcast from c only */
	/* A port that is not (any more) in the table is ignored. */
	{
		struct port *d = port_alloc("d", "fake", &fake_ops);

		d->id = 7;
		port_link_down(d);
		port_free(d);
	}
	assert_int_equal(stat("fdb_flushed_link_down") - before, 2);
	del_all();
}

static void test_xconnect(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c");
	struct pkt *burst[3];
	long long no_out = stat("no_output_port");

	(void)state;
	send1(a, BCAST, MA);
	assert_int_equal(dp_xconnect(a, c), 0);
	assert_int_equal(fdb_lookup(mac_load(MA)), PORT_ID_NONE);	/* left the bridge */
	assert_ptr_equal(dp_xconnect_peer(a), c);
	assert_ptr_equal(dp_xconnect_peer(c), a);
	assert_null(dp_xconnect_peer(b));
	assert_int_equal(stat("xconnects"), 1);
	assert_int_equal(dp_xconnect(a, b), -EBUSY);
	assert_int_equal(dp_xconnect(b, c), -EBUSY);
	assert_int_equal(dp_xconnect(a, a), -EINVAL);

	fake_reset((struct port *[]){ a, b, c }, 3);
	/* Everything from a goes to c, unparsed: even a runt, even to b's MAC. */
	burst[0] = frame(MB, MA, 60);
	burst[1] = frame(BCAST, MA, 10);
	burst[2] = frame(MB, MA, 60);
	dp_process(ctx, a, burst, 3);
	dp_flush(ctx);
	assert_int_equal(ntx(c), 3);
	assert_int_equal(ntx(b), 0);
	send1(c, MX, MC);
	assert_int_equal(ntx(a), 1);
	assert_int_equal(fdb_count(), 0);	/* no learning */
	/* b is alone in the bridge: a broadcast has nowhere to go. */
	send1(b, BCAST, MB);
	assert_int_equal(stat("no_output_port") - no_out, 1);

	assert_int_equal(dp_xconnect_del(c), 0);
	assert_int_equal(dp_xconnect_del(c), -ENOENT);
	assert_int_equal(stat("xconnects"), 0);
	send1(b, BCAST, MB);
	assert_int_equal(ntx(a), 2);
	assert_int_equal(ntx(c), 4);

	/* Deleting one side undoes the pair. */
	assert_int_equal(dp_xconnect(a, b), 0);
	assert_int_equal(port_del(b), 0);
	assert_null(dp_xconnect_peer(a));
	del_all();
}

static void test_flood_no_buf(void **state)
{
	struct pkt_pool *small = pkt_pool_create("small", 2);
	struct port *a = fake_add("a"), *b = fake_add("b"), *c = fake_add("c"), *d = fake_add("d");
	long long nobuf = stat("flood_no_buf");
	struct pkt *p;

	(void)state;
	pkt_pool_set_thread(small);
	p = frame(BCAST, MA, 60);
	/* 3 outputs need 2 clones; the pool has 1 left. */
	dp_process(ctx, a, &p, 1);
	dp_flush(ctx);
	assert_int_equal(stat("flood_no_buf") - nobuf, 1);
	assert_int_equal(ntx(b) + ntx(c) + ntx(d), 2);
	assert_int_equal(pkt_pool_avail(small), 2);
	pkt_pool_set_thread(pool);
	pkt_pool_destroy(small);
	del_all();
}

static void test_bad_frames(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b");
	long long runt = stat("runt_frame"), bad = stat("bad_src_mac");
	struct pkt *p[4];
	static const uint8_t zero[6], mcast_src[6] = { 0x01, 0, 0x5e, 0, 0, 1 };

	(void)state;
	p[0] = frame(BCAST, MA, 13);
	p[1] = frame(BCAST, zero, 60);
	p[2] = frame(BCAST, mcast_src, 60);
	p[3] = frame(BCAST, MA, 14);	/* the shortest valid frame */
	dp_process(ctx, a, p, 4);
	dp_flush(ctx);
	assert_int_equal(stat("runt_frame") - runt, 1);
	assert_int_equal(stat("bad_src_mac") - bad, 2);
	assert_int_equal(ntx(b), 1);
	assert_int_equal(fdb_count(), 1);
	del_all();
}

/* Tagged frames (802.1Q, QinQ, a tag cut short) go through the pipeline's
 * normal action unchanged; the parser's offsets are test_parse's business. */
static void test_vlan_bridged(void **state)
{
	static const char *const tags[] = {
		"\x81\x00\x00\x05\x08\x00",
		"\x88\xa8\x00\x05\x81\x00\x00\x06\x86\xdd",
	};
	struct port *a = fake_add("a"), *b = fake_add("b");
	struct pkt *p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(tags); i++) {
		p = frame(BCAST, MA, 60);
		memcpy(p->data + 12, tags[i], i ? 10 : 6);
		dp_process(ctx, a, &p, 1);
		dp_flush(ctx);
		assert_int_equal(ntx(b), i + 1);
		assert_memory_equal(((struct fake *)b->priv)->last_hdr + 12, tags[i], 2);
	}
	p = frame(BCAST, MA, 16);
	memcpy(p->data + 12, "\x81\x00\x00\x05", 4);
	dp_process(ctx, a, &p, 1);
	dp_flush(ctx);
	assert_int_equal(ntx(b), 3);
	del_all();
}

/* More than a burst to one port: the buffer flushes at 32 and again at the
 * end, in order. */
static void test_big_burst(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b");
	struct pkt *p[PKT_BURST];

	(void)state;
	send1(b, BCAST, MB);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < PKT_BURST; i++)
			p[i] = frame(MB, MA, 60);
		dp_process(ctx, a, p, PKT_BURST);
		dp_flush(ctx);
	}
	assert_int_equal(ntx(b), 2 * PKT_BURST);
	del_all();
}

/* The MAC table against a trivial model: a linear list of (mac, port). */
static void test_fdb_vs_model(void **state)
{
	enum { N_MACS = 300, N_OPS = 20000 };
	static uint64_t macs[N_MACS];
	static uint16_t model[N_MACS];

	(void)state;
	srand(12345);
	for (int i = 0; i < N_MACS; i++) {
		macs[i] = ((uint64_t)rand() << 24 ^ (uint64_t)rand()) & 0xfeffffffffffULL;
		macs[i] |= 0x020000000000ULL;
		for (int j = 0; j < i; j++)
			if (macs[j] == macs[i])
				macs[i] ^= 1ULL << 20;
		model[i] = PORT_ID_NONE;
	}
	for (int op = 0; op < N_OPS; op++) {
		int i = rand() % N_MACS;

		if (rand() % 3) {
			uint16_t port = (uint16_t)(rand() % 8);
			int r = fdb_learn(macs[i], port, 1000);

			assert_int_equal(r, model[i] == PORT_ID_NONE ? 1 : model[i] == port ? 0 : 2);
			model[i] = port;
		} else {
			assert_int_equal(fdb_lookup(macs[i]), model[i]);
		}
		if (op % 5000 == 4999) {
			uint16_t gone = (uint16_t)(rand() % 8);

			fdb_flush_port(gone);
			for (int j = 0; j < N_MACS; j++)
				if (model[j] == gone)
					model[j] = PORT_ID_NONE;
		}
	}
	for (int i = 0; i < N_MACS; i++)
		assert_int_equal(fdb_lookup(macs[i]), model[i]);
	fdb_flush_port(PORT_ID_NONE);
	assert_int_equal(fdb_count(), 0);
}

static int run(const char *line, struct ctl_req *req)
{
	char buf[256], *argv[8];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 8; t = strtok(NULL, " "))
		argv[argc++] = t;
	memset(req, 0, sizeof(*req));
	return ctl_exec(req, argc, argv);
}

static void test_commands(void **state)
{
	struct port *a = fake_add("a"), *b = fake_add("b");
	struct ctl_req req;

	(void)state;
	assert_int_equal(run("xconnect a b", &req), 0);
	assert_ptr_equal(dp_xconnect_peer(a), b);
	ctl_req_release(&req);
	assert_int_equal(run("xconnect a nosuch", &req), -ENOENT);
	assert_non_null(strstr(req.err, "nosuch: no such port"));
	ctl_req_release(&req);
	assert_int_equal(run("xconnect a a", &req), -EINVAL);
	ctl_req_release(&req);
	assert_int_equal(run("xconnect-del b", &req), 0);
	ctl_req_release(&req);
	assert_null(dp_xconnect_peer(a));
	assert_int_equal(run("xconnect-del b", &req), -ENOENT);
	ctl_req_release(&req);

	assert_int_equal(run("set-mac-aging 17", &req), 0);
	assert_int_equal(dp_mac_aging(), 17);
	ctl_req_release(&req);
	assert_int_equal(run("set-mac-aging soon", &req), -EINVAL);
	ctl_req_release(&req);
	dp_set_mac_aging(DP_MAC_AGING_DEFAULT);

	send1(a, BCAST, MA);
	assert_int_equal(run("fdb-show", &req), 0);
	assert_int_equal(json_array_size(req.data), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(req.data, 0), "mac")),
			    "02:00:00:00:00:0a");
	assert_string_equal(json_string_value(json_object_get(json_array_get(req.data, 0), "port")),
			    "a");
	assert_non_null(strstr(req.text, "02:00:00:00:00:0a"));
	ctl_req_release(&req);
	del_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_then_learn),
		cmocka_unit_test(test_dst_is_in_port),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_port_removed_forgets),
		cmocka_unit_test(test_link_down_forgets),
		cmocka_unit_test(test_xconnect),
		cmocka_unit_test(test_flood_no_buf),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_vlan_bridged),
		cmocka_unit_test(test_big_burst),
		cmocka_unit_test(test_fdb_vs_model),
		cmocka_unit_test(test_commands),
	};

	time_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
