/*
 * dp_bench: the datapath (dp_process + dp_flush) on synthetic bursts, for
 * instructions per packet under callgrind, the load-independent figure this
 * shared machine can give. The traffic is what bench/flows.sh's generator
 * (testpmd flowgen) sends: 60-byte IPv4/UDP frames 10.254.0.0:1000 ->
 * 10.253.0.0+k:1001, k = 0 .. flows-1 round robin, bursts of 32 alternating
 * between the two ports, and the output ports free what they get (the copy
 * into a guest's ring is the same for every rule set and is not counted).
 *
 *   ninja -C build bench/dp_bench
 *   bench/flows.sh --print-rules 1000 > /tmp/r1000     # the flows.sh rule set
 *   build/bench/dp_bench RULES FLOWS [PACKETS]          # RULES: a file, or "xconnect"
 *   bench/dp_callgrind.sh                               # the instructions-per-packet table
 *
 * Conntrack (bench/ct.sh's cells): RULES from `bench/ct.sh --print-rules ct`
 * (ct(commit) on the relay path) or `--print-rules sg` (the security-group
 * table, ct(table=1) and a second pass). FLOWS "new" is a never-repeating
 * stream (destination address and then source port walk on, no wrap), so
 * every measured packet opens a connection: the cost of one new connection.
 *
 * --loop CONFIG replays a closed-loop bench's configuration instead
 * (bench/tnl.sh / vrouter.sh --print-config DIR writes DIR/config: the
 * xvioctl commands, one a line, that bench runs on p0/p1; add-flows and
 * add-routes name a file) and loops the traffic as relay.py's generator
 * does: testpmd's txonly frames (198.18.0.1:9 -> 198.18.0.2:9, 64 bytes)
 * injected on both ports, and what leaves p0 comes back on p1 and vice
 * versa, unchanged (io forwarding). So every pass is what the bench's relay
 * does per packet: VXLAN encap or decap after the rules (tnl.sh), an LPM
 * with an MPLSoGRE encap or decap (vrouter.sh --mplsogre).
 *
 *   build/bench/dp_bench --loop DIR/config [PACKETS]
 *
 * Natively it prints ns per packet (noise on a loaded machine). Under
 * callgrind only the measured loop is collected (client requests), after a
 * warm-up pass that installs the megaflows and fills the caches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>
#include <valgrind/callgrind.h>

#include "core/core.h"
#include "core/pkt.h"
#include "ct/ct.h"
#include "ctl/ctl.h"
#include "dp/dp.h"
#include "dp/dp_priv.h"
#include "port/port.h"

#define FRAME_LEN	60

#define LOOP_RING	2048		/* power of two, > the packets in flight */

static uint64_t n_out, out_pkts[2], out_bytes[2];
static struct port *ports[2];
/* --loop: what left port i, waiting to come back in on port i ^ 1. */
static bool looping;
static struct { struct pkt *p[LOOP_RING]; uint32_t head, tail; } back[2];

static uint16_t sink_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port, (void)qid, (void)pkts, (void)n;
	return 0;
}

static uint16_t sink_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)qid;
	n_out += n;
	if (!looping) {
		pkt_free_bulk(pkts, n);
		return n;
	}
	for (uint16_t i = 0; i < n; i++) {
		unsigned to = port == ports[0];		/* comes back on the other port */

		out_pkts[!to]++;
		out_bytes[!to] += pkts[i]->len;
		if (back[to].head - back[to].tail == LOOP_RING)
			abort();
		back[to].p[back[to].head++ % LOOP_RING] = pkts[i];
	}
	return n;
}

static void sink_close(struct port *port)
{
	port_free(port);
}

static const struct port_ops sink_ops = { .rx_burst = sink_rx, .tx_burst = sink_tx,
					  .close = sink_close };

static void frame(uint8_t *d, uint32_t k)
{
	uint16_t sport = (uint16_t)(1000 + (k >> 24));
	static const uint8_t hdr[34] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
		0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0,
		10, 254, 0, 0, 10, 253, 0, 0,
	};
	uint32_t dst = 0x0afd0000u + (k & 0xffffff);

	memset(d, 0, FRAME_LEN);
	memcpy(d, hdr, sizeof(hdr));
	d[30] = (uint8_t)(dst >> 24);
	d[31] = (uint8_t)(dst >> 16);
	d[32] = (uint8_t)(dst >> 8);
	d[33] = (uint8_t)dst;
	d[34] = (uint8_t)(sport >> 8);
	d[35] = (uint8_t)sport;
	d[36] = 1001 >> 8;
	d[37] = 1001 & 255;
	d[39] = 26;
}

static int run(int argc, char **argv)
{
	struct ctl_req r;
	int rc = ctl_exec(&r, argc, argv);

	if (rc)
		fprintf(stderr, "%s: %s\n", argv[0], r.err);
	ctl_req_release(&r);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = 0;
	fclose(f);
	return buf;
}

static uint32_t next_k;

/* One burst of flowgen's traffic from port in, through the datapath.
 * flows 0: k never wraps (FLOWS "new"). */
static void burst(struct dp_pmd *ctx, struct port *in, uint32_t flows, bool measured)
{
	struct pkt *p[PKT_BURST];

	for (int i = 0; i < PKT_BURST; i++) {
		p[i] = pkt_alloc();
		if (!p[i])
			abort();
		frame(p[i]->data, next_k);
		p[i]->len = FRAME_LEN;
		next_k = next_k + 1 == flows ? 0 : next_k + 1;
	}
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
	dp_process(ctx, in, p, PKT_BURST);
	dp_flush(ctx);
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* testpmd txonly's frame out of generator port `from` (to its peer's
 * default MAC 02:00:00:00:00:0N, from a MAC of ours; 64 bytes). */
static void txonly_frame(uint8_t *d, unsigned from)
{
	static const uint8_t hdr[42] = {
		0x02, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0xa0, 0, 0x08, 0x00,
		0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17, 0, 0,
		198, 18, 0, 1, 198, 18, 0, 2, 0, 9, 0, 9, 0, 30, 0, 0,
	};
	uint32_t s = 0;

	memset(d, 0, 64);
	memcpy(d, hdr, sizeof(hdr));
	d[5] = (uint8_t)(from ^ 1);
	d[11] = (uint8_t)from;
	for (int i = 14; i < 34; i += 2)
		s += (uint32_t)(d[i] << 8 | d[i + 1]);
	s = (s & 0xffff) + (s >> 16);
	s = ~((s & 0xffff) + (s >> 16));
	d[24] = (uint8_t)(s >> 8);
	d[25] = (uint8_t)s;
}

/* One burst of what waits to come back in on port i; the number taken. */
static uint16_t loop_burst(struct dp_pmd *ctx, unsigned i, bool measured)
{
	struct pkt *p[PKT_BURST];
	uint16_t n = 0;

	while (n < PKT_BURST && back[i].tail != back[i].head) {
		struct pkt *q = back[i].p[back[i].tail++ % LOOP_RING];
		uint8_t *d = q->data;
		uint16_t len = q->len;

		/* Received afresh, as a port's rx gives it: the frame at the
		 * headroom, no metadata left from its last pass. */
		pkt_reset(q);
		memmove(q->data, d, len);
		q->len = len;
		p[n++] = q;
	}
	if (!n)
		return 0;
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
	dp_process(ctx, ports[i], p, n);
	dp_flush(ctx);
	if (measured)
		CALLGRIND_TOGGLE_COLLECT;
	return n;
}

/* Replay a bench's xvioctl commands (see the top). */
static int configure(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int rc = 0;

	if (!f) {
		perror(path);
		return 1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *w[16], *text = NULL;
		int n = 0;

		for (char *t = strtok(line, " \n"); t && n < 15; t = strtok(NULL, " \n"))
			w[n++] = t;
		if (!n)
			continue;
		w[n] = NULL;
		if (n == 2 && (!strcmp(w[0], "add-flows") || !strcmp(w[0], "add-routes"))) {
			text = slurp(w[1]);
			if (!text) {
				perror(w[1]);
				rc = 1;
				break;
			}
			w[1] = text;
		}
		rc = run(n, w);
		free(text);
	}
	fclose(f);
	return rc;
}

/* --loop: n_pkts passes of the closed loop; 0 when no packet got lost. */
static int loop_main(struct dp_pmd *ctx, const char *config, uint64_t n_pkts)
{
	uint64_t done = 0, lost, in_flight = 0, t0, t1;
	unsigned i = 0;

	looping = true;
	if (configure(config))
		return 1;
	/* tx_first: 64 frames from each generator port; what one of them is
	 * not routed by the bench's configuration drops out at its first
	 * pass (tnl.sh's p1 side), as in the real loop. */
	for (unsigned from = 0; from < 2; from++)
		for (int k = 0; k < 2 * PKT_BURST; k++) {
			struct pkt *p = pkt_alloc();

			if (!p)
				abort();
			txonly_frame(p->data, from);
			p->len = 64;
			back[from].p[back[from].head++ % LOOP_RING] = p;
		}
	for (int b = 0; b < 400; b++, i ^= 1) {
		loop_burst(ctx, i, false);
		rcu_quiescent_state();
	}
	for (unsigned k = 0; k < 2; k++)
		in_flight += back[k].head - back[k].tail;
	if (!in_flight) {
		fprintf(stderr, "--loop: every frame was dropped during warm-up\n");
		return 1;
	}
	n_out = 0;
	memset(out_pkts, 0, sizeof(out_pkts));
	memset(out_bytes, 0, sizeof(out_bytes));
	t0 = now_ns();
	for (uint32_t b = 0; done < n_pkts; b++, i ^= 1) {
		done += loop_burst(ctx, i, true);
		if ((b & 63) == 63)
			rcu_quiescent_state();
		if (back[0].head == back[0].tail && back[1].head == back[1].tail)
			break;
	}
	t1 = now_ns();
	lost = done - n_out;
	printf("%s: %lu passes (%lu frames circulating), %lu out, %lu lost, %.1f ns/pass; "
	       "emc hits %lu, megaflow hits %lu, upcalls %lu\n",
	       config, (unsigned long)done, (unsigned long)in_flight, (unsigned long)n_out,
	       (unsigned long)lost, done ? (double)(t1 - t0) / (double)done : 0.0,
	       (unsigned long)ctx->n_emc_hits, (unsigned long)ctx->n_mflow_hits,
	       (unsigned long)ctx->n_upcalls);
	/* What the passes made: the frame sizes out of each port tell encap
	 * (VXLAN 114 B, MPLSoGRE 92 B) from decap and routing (64 B). */
	for (unsigned k = 0; k < 2; k++)
		printf("  out p%u: %lu frames, %.1f bytes on average\n", k,
		       (unsigned long)out_pkts[k],
		       out_pkts[k] ? (double)out_bytes[k] / (double)out_pkts[k] : 0.0);
	for (unsigned k = 0; k < 2; k++)
		while (back[k].tail != back[k].head)
			pkt_free(back[k].p[back[k].tail++ % LOOP_RING]);
	return lost || !done;
}

int main(int argc, char **argv)
{
	struct pkt_pool *pool;
	struct dp_pmd *ctx;
	uint32_t flows, n_bursts, warm;
	bool fresh, loop = argc > 1 && !strcmp(argv[1], "--loop");
	uint64_t t0, t1, n_pkts;
	struct ct_pmd ct0, ct1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s RULES-FILE|xconnect FLOWS|new [PACKETS]\n"
			"       %s --loop CONFIG [PACKETS]\n", argv[0], argv[0]);
		return 2;
	}
	fresh = !loop && !strcmp(argv[2], "new");
	flows = loop ? 1 : fresh ? 0 : (uint32_t)strtoul(argv[2], NULL, 0);
	n_pkts = argc > 3 ? strtoul(argv[3], NULL, 0) : 320000;
	n_bursts = (uint32_t)(n_pkts / PKT_BURST);
	if ((!flows && !fresh) || !n_bursts)
		return 2;
	rcu_register_thread();
	pool = pkt_pool_create("bench", 4096);
	pkt_pool_set_thread(pool);
	ctx = dp_pmd_create(0);
	if (!pool || !ctx)
		return 1;
	for (int i = 0; i < 2; i++) {
		char name[4] = { 'p', (char)('0' + i), 0 };

		ports[i] = port_alloc(name, "sink", &sink_ops);
		if (!ports[i] || port_add(ports[i]))
			return 1;
	}
	if (loop) {
		int rc = loop_main(ctx, argv[2], n_pkts);

		for (int i = 0; i < 2; i++)
			port_del(ports[i]);
		dp_pmd_destroy(ctx);
		pkt_pool_destroy(pool);
		return rc;
	}
	if (!strcmp(argv[1], "xconnect")) {
		char *a[] = { "xconnect", "p0", "p1", NULL };

		if (run(3, a))
			return 1;
	} else {
		char *text = slurp(argv[1]);
		char *d[] = { "del-flows", NULL }, *a[] = { "add-flows", text, NULL };

		if (!text) {
			perror(argv[1]);
			return 1;
		}
		if (run(1, d) || run(2, a))
			return 1;
		free(text);
	}
	/* Warm-up: every flow seen at least twice from each port, so the
	 * megaflows exist and the caches hold what they will hold (a fresh
	 * stream: enough for the megaflows; its connections stay new). */
	warm = fresh ? 64 : 2 * (flows / PKT_BURST + 1) * 2 + 64;
	for (uint32_t b = 0; b < warm; b++) {
		burst(ctx, ports[b & 1], flows, false);
		rcu_quiescent_state();
	}
	n_out = 0;
	ct_sum_counters(&ct0);
	t0 = now_ns();
	for (uint32_t b = 0; b < n_bursts; b++) {
		burst(ctx, ports[b & 1], flows, true);
		if ((b & 63) == 63)
			rcu_quiescent_state();
	}
	t1 = now_ns();
	ct_sum_counters(&ct1);
	printf("%s %s flows: %u packets in, %lu out, %.1f ns/pkt (incl. frame build); "
	       "emc hits %lu, megaflow hits %lu, upcalls %lu, emc bypassed %lu, "
	       "megaflow subtables %u, ct packets %lu, ct created %lu\n",
	       argv[1], argv[2], n_bursts * PKT_BURST, (unsigned long)n_out,
	       (double)(t1 - t0) / (n_bursts * PKT_BURST), (unsigned long)ctx->n_emc_hits,
	       (unsigned long)ctx->n_mflow_hits, (unsigned long)ctx->n_upcalls,
	       (unsigned long)ctx->n_emc_bypassed, cls_n_subtables(&dp_mflow.cls),
	       (unsigned long)(ct1.n_packets - ct0.n_packets),
	       (unsigned long)(ct1.n_created - ct0.n_created));
	for (int i = 0; i < 2; i++)
		port_del(ports[i]);
	dp_pmd_destroy(ctx);
	pkt_pool_destroy(pool);
	return n_out == (uint64_t)n_bursts * PKT_BURST ? 0 : 1;
}
