/*
 * The datapath proper: what a PMD runs for every received burst. Parse,
 * decide (bridge or cross-connect), buffer per output port, flush.
 *
 * No locks, atomics read-modify-writes or allocations per packet, except the
 * packet clones a flood needs (taken from the PMD's own pool).
 */
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_priv.h"

#define ETH_HLEN	14
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8

#define DROP(ctx, reason, p) do { \
	COUNTER_ADD((ctx)->drops[DP_DROP_##reason], 1); \
	pkt_free(p); \
} while (0)

/* Destination (at m) or source (at m + 6) MAC as an integer; reads 8 bytes,
 * which a frame of at least ETH_HLEN bytes always has from either offset. */
static inline uint64_t mac_load8(const uint8_t *m)
{
	uint64_t v;

	memcpy(&v, m, sizeof(v));
	return __builtin_bswap64(v) >> 16;
}

/* Minimal Ethernet parse: skip up to two VLAN tags, set l3_off. Returns the
 * ethertype (host order), or -1 for a runt. */
static inline int parse_eth(struct pkt *p)
{
	const uint8_t *d = p->data;
	uint16_t off = 12, type;

	if (unlikely(p->len < ETH_HLEN))
		return -1;
	type = (uint16_t)(d[off] << 8 | d[off + 1]);
	for (int tags = 0; tags < 2 && (type == ETH_P_8021Q || type == ETH_P_8021AD); tags++) {
		if (unlikely(p->len < off + 4 + 2))
			return -1;
		off += 4;
		type = (uint16_t)(d[off] << 8 | d[off + 1]);
	}
	p->l3_off = (uint8_t)(off + 2);
	return type;
}

static void tx_enqueue(struct dp_pmd *ctx, struct port *out, struct pkt *p)
{
	struct dp_txbuf *tb = &ctx->tx[out->id];

	if (!tb->port) {
		ctx->dirty[ctx->n_dirty++] = out->id;
		tb->port = out;
	}
	tb->pkts[tb->n++] = p;
	if (unlikely(tb->n == PKT_BURST)) {
		port_tx_burst(out, ctx->txq, tb->pkts, PKT_BURST);
		tb->n = 0;
	}
}

void dp_flush(struct dp_pmd *ctx)
{
	for (uint16_t i = 0; i < ctx->n_dirty; i++) {
		struct dp_txbuf *tb = &ctx->tx[ctx->dirty[i]];

		if (tb->n)
			port_tx_burst(tb->port, ctx->txq, tb->pkts, tb->n);
		tb->n = 0;
		tb->port = NULL;
	}
	ctx->n_dirty = 0;
}

static struct pkt *pkt_clone(const struct pkt *p)
{
	struct pkt *c = pkt_alloc();

	if (unlikely(!c))
		return NULL;
	memcpy(c->data, p->data, p->len);
	c->len = p->len;
	c->in_port = p->in_port;
	c->flags = p->flags;
	c->csum_start = p->csum_start;
	c->csum_offset = p->csum_offset;
	c->gso_size = p->gso_size;
	c->gso_type = p->gso_type;
	c->l3_off = p->l3_off;
	c->l4_off = p->l4_off;
	c->hash = p->hash;
	return c;
}

/* Copy to every bridged port but the input; the last one gets the original. */
static void flood(struct dp_pmd *ctx, const struct dp_conf *conf, uint16_t in_id, struct pkt *p)
{
	uint16_t last = PORT_ID_NONE;

	for (uint16_t i = 0; i < conf->n_flood; i++) {
		uint16_t id = conf->flood[i];

		if (id == in_id)
			continue;
		if (last != PORT_ID_NONE) {
			struct pkt *c = pkt_clone(p);

			if (unlikely(!c))
				COUNTER_ADD(ctx->drops[DP_DROP_FLOOD_NO_BUF], 1);
			else
				tx_enqueue(ctx, conf->ports[last], c);
		}
		last = id;
	}
	if (unlikely(last == PORT_ID_NONE)) {
		DROP(ctx, NO_OUTPUT, p);
		return;
	}
	COUNTER_ADD(ctx->flooded, 1);
	tx_enqueue(ctx, conf->ports[last], p);
}

static void bridge(struct dp_pmd *ctx, const struct dp_conf *conf, uint16_t in_id,
		   struct pkt **pkts, uint16_t n)
{
	uint32_t now = fdb_now();

	for (uint16_t i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		uint64_t dst, src;
		uint16_t out;
		int r;

		if (i + 1 < n)
			prefetch0(pkts[i + 1]->data);
		if (unlikely(parse_eth(p) < 0)) {
			DROP(ctx, RUNT, p);
			continue;
		}
		dst = mac_load8(p->data);
		src = mac_load8(p->data + 6);
		/* A group or all-zero source is invalid: never learn it
		 * nor forward it (the Linux bridge drops it too). */
		if (unlikely((src >> 40) & 1 || src == 0)) {
			DROP(ctx, BAD_SRC_MAC, p);
			continue;
		}
		r = fdb_learn(src, in_id, now);
		if (unlikely(r)) {
			if (r == 1)
				COUNTER_ADD(ctx->learned, 1);
			else
				COUNTER_ADD(ctx->moved, 1);
		}
		if ((dst >> 40) & 1) {
			flood(ctx, conf, in_id, p);
			continue;
		}
		out = fdb_lookup(dst);
		if (out == PORT_ID_NONE) {
			flood(ctx, conf, in_id, p);
			continue;
		}
		if (unlikely(out == in_id)) {
			DROP(ctx, DST_IS_IN_PORT, p);
			continue;
		}
		/* An entry left by a port that has since gone or been
		 * cross-connected is as good as unknown. */
		if (unlikely(!conf->ports[out] || conf->xc_peer[out] != PORT_ID_NONE)) {
			flood(ctx, conf, in_id, p);
			continue;
		}
		tx_enqueue(ctx, conf->ports[out], p);
	}
}

void dp_process(struct dp_pmd *ctx, struct port *in, struct pkt **pkts, uint16_t n)
{
	const struct dp_conf *conf = rcu_dereference(dp_conf_rcu);
	uint16_t in_id = in->id, peer;

	if (unlikely(!conf || in_id >= PORT_MAX || conf->ports[in_id] != in)) {
		for (uint16_t i = 0; i < n; i++)
			DROP(ctx, IN_PORT_GONE, pkts[i]);
		return;
	}
	peer = conf->xc_peer[in_id];
	if (peer == PORT_ID_NONE) {
		bridge(ctx, conf, in_id, pkts, n);
		return;
	}
	/* Cross-connect: the burst goes out whole, unparsed. */
	if (!ctx->tx[peer].port) {
		port_tx_burst(conf->ports[peer], ctx->txq, pkts, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++)
		tx_enqueue(ctx, conf->ports[peer], pkts[i]);
}
