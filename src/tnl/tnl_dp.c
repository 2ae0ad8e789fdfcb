/*
 * The tunnel datapath, on PMD threads: encapsulation (tnl_push_batch and
 * the tunnel ports' own transmit), decapsulation and ARP on the uplinks'
 * receive side (tnl_rx).
 *
 * Encapsulation builds the outer headers once per batch (route, neighbour
 * and template are the same for every packet of one record) and then per
 * packet copies the template and fills lengths, the IPv4 checksum (from the
 * template's precomputed sum) and the entropy source port.
 */
#include <string.h>
#include <urcu-qsbr.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "tnl_priv.h"

#define HDR_MAX		(ETH_HLEN + IP6_HLEN + 8 + 8 + TNL_OPTS_MAX)
#define ARP_LEN		28
#define ARP_REQUEST	1
#define ARP_REPLY	2

static inline bool is_udp_type(unsigned t)
{
	return t == TNL_VXLAN || t == TNL_GENEVE || t == TNL_MPLSOUDP;
}

static inline bool is_mpls_type(unsigned t)
{
	return t == TNL_MPLSOGRE || t == TNL_MPLSOUDP;
}

/* A guest that left its L4 checksum to the device (virtio CSUM offload)
 * gets it finished here: once inside a tunnel no NIC will. */
static bool finish_csum(struct pkt *p)
{
	uint32_t at = (uint32_t)p->csum_start + p->csum_offset;
	uint8_t *c;

	if (p->csum_start >= p->len || at + 2 > p->len)
		return false;
	c = p->data + at;
	wr16(c, (uint16_t)~csum_fold(csum_add(p->data + p->csum_start, p->len - p->csum_start, 0)));
	if (!rd16(c) && at == (uint32_t)p->csum_start + 6)
		wr16(c, 0xffff);	/* UDP: a computed 0 is sent as all ones */
	p->flags &= (uint16_t)~PKT_F_CSUM_PARTIAL;
	return true;
}

/* A one-entry label stack: label key, TC 0, bottom of stack. */
static inline void mpls_label(uint8_t *l, uint64_t key, uint8_t ttl)
{
	l[0] = (uint8_t)(key >> 12);
	l[1] = (uint8_t)(key >> 4);
	l[2] = (uint8_t)((key & 0xf) << 4 | 1);
	l[3] = ttl;
}

/* The MPLS types carry an MPLS packet, no Ethernet: strip it, and label an
 * IP packet with the record's key as a one-entry stack (TTL copied from the
 * IP header, RFC 3032 §2.4.3). Returns 0 or a drop reason. */
static int mpls_inner(struct pkt *p, uint64_t key)
{
	uint16_t et = p->len >= ETH_HLEN ? rd16(p->data + 12) : 0;
	uint8_t ttl;

	if (et == ETH_P_MPLS_UC || et == ETH_P_MPLS_MC) {
		pkt_pull(p, ETH_HLEN);
		return p->len >= 4 ? 0 : TNL_DROP_MPLS_NOT_L3;
	}
	if (et == ETH_P_IP && p->len >= ETH_HLEN + 20)
		ttl = p->data[ETH_HLEN + 8];
	else if (et == 0x86dd && p->len >= ETH_HLEN + 40)
		ttl = p->data[ETH_HLEN + 7];
	else
		return TNL_DROP_MPLS_NOT_L3;
	pkt_pull(p, ETH_HLEN - 4);
	mpls_label(p->data, key, ttl);
	return 0;
}

static void udp_csum(struct pkt *p)
{
	uint8_t *ip = p->data + ETH_HLEN, *u = ip + 20;
	uint16_t ulen = rd16(u + 4);
	uint16_t c;

	wr16(u + 6, 0);
	c = (uint16_t)~csum_fold(csum_add(u, ulen, csum_add(ip + 12, 8, 0) + IPPROTO_UDP_ + ulen));
	wr16(u + 6, c ? c : 0xffff);
}

struct encap_ctx {
	const struct tnl_uplink *up;
	uint8_t hdr[HDR_MAX];
	size_t hlen;
	uint16_t ip_sum;
	bool v6;			/* outer IPv6 (encap_one6) */
	uint64_t sum6;			/* IPv6 UDP: the pseudo-header's addresses and
					 * next header, unfolded */
	uint16_t last_sport;		/* entropy port of last_k */
	const struct flow_key *last_k;
	uint32_t max_len;		/* longest inner frame the uplink MTU takes */
	bool udp, mpls;			/* the record's type is a UDP / an MPLS one */
	/* MPLS types: hdr also holds the record's label after the outer
	 * headers (TTL 0), so an IP packet takes it with the template. */
	bool label_tpl;
};

/* What encap_prepare and encap_prepare6 share once the template is built. */
static void encap_prepared(struct encap_ctx *e, const struct dpact_tnl_push *a)
{
	e->max_len = (uint32_t)e->up->mtu + ETH_HLEN - (uint32_t)e->hlen;
	e->udp = is_udp_type(a->tnl_type);
	e->mpls = is_mpls_type(a->tnl_type);
	e->label_tpl = e->mpls && e->hlen + 4 <= sizeof(e->hdr);
	if (e->label_tpl)
		mpls_label(e->hdr + e->hlen, a->key, 0);
}

/* encap_prepare over IPv6: the route and neighbour of dst6, the source
 * the record's src6 or the uplink's IPv6 address. The template is 20
 * bytes longer, so max_len (the MTU check) is 20 bytes shorter. */
static __attribute__((cold, noinline)) int encap_prepare6(unsigned pmd, const struct tnl_conf *c,
							  const struct dpact_tnl_push *a,
							  struct encap_ctx *e)
{
	const struct tnl_route6 *rt = tnl_route6_lookup(c, a->dst6);
	struct tnl_hdr_params hp = { .a = a };
	const uint8_t *nh;
	uint8_t mac[6];

	if (unlikely(!rt))
		return TNL_DROP_NO_ROUTE;
	e->up = &c->uplinks[rt->uplink];
	if (unlikely(!e->up->has_ip6))
		return TNL_DROP_NO_LOCAL6;
	nh = ip6_is_zero(rt->gw) ? a->dst6 : rt->gw;
	if (unlikely(!neigh_lookup6(nh, e->up->port->id, mac))) {
		tnl_nd_solicit(pmd, e->up, nh);
		return TNL_DROP_NEIGH_UNRES;
	}
	hp.dst_mac = mac;
	hp.src_mac = e->up->mac;
	hp.src_ip6 = ip6_is_zero(a->src6) ? e->up->ip6 : a->src6;
	e->hlen = tnl_hdr_build(&hp, e->hdr, sizeof(e->hdr));
	if (unlikely(!e->hlen))
		return TNL_DROP_NO_HEADROOM;
	e->v6 = true;
	e->sum6 = csum_add(e->hdr + ETH_HLEN + 8, 32, 0) + IPPROTO_UDP_;
	encap_prepared(e, a);
	return 0;
}

/* Route, neighbour and template for one record: 0 or a drop reason. */
static int encap_prepare(unsigned pmd, const struct tnl_conf *c, const struct dpact_tnl_push *a,
			 struct encap_ctx *e)
{
	const struct tnl_route *rt;
	struct tnl_hdr_params hp = { .a = a };
	uint8_t mac[6];
	uint32_t nh;

	if (unlikely(!c))
		return TNL_DROP_NO_ROUTE;
	if (unlikely(a->flags & DPACT_TNL_IPV6))
		return encap_prepare6(pmd, c, a, e);
	rt = tnl_route_lookup(c, a->dst);
	if (unlikely(!rt))
		return TNL_DROP_NO_ROUTE;
	e->up = &c->uplinks[rt->uplink];
	nh = rt->gw ? rt->gw : a->dst;
	if (unlikely(!neigh_lookup(nh, e->up->port->id, mac))) {
		tnl_arp_solicit(pmd, e->up, nh);
		return TNL_DROP_NEIGH_UNRES;
	}
	hp.dst_mac = mac;
	hp.src_mac = e->up->mac;
	hp.src_ip = a->src ? a->src : e->up->ip;
	e->hlen = tnl_hdr_build(&hp, e->hdr, sizeof(e->hdr));
	if (unlikely(!e->hlen))
		return TNL_DROP_NO_HEADROOM;
	e->ip_sum = tnl_hdr_ip_sum(e->hdr);
	encap_prepared(e, a);
	return 0;
}

/* Every header but Geneve's with options is 32 to 64 bytes (GRE 38,
 * VXLAN 50): two fixed 32-byte copies that overlap in the middle, inlined,
 * instead of a call to memcpy with a variable length. */
static inline void copy_hdr(uint8_t *h, const uint8_t *t, size_t hlen)
{
	if (likely(hlen >= 32 && hlen <= 64)) {
		memcpy(h, t, 32);
		memcpy(h + hlen - 32, t + hlen - 32, 32);
	} else {
		memcpy(h, t, hlen);
	}
}

/* Do two IPv4 keys agree on everything tnl_entropy_port hashes? (MACs,
 * ethertype, addresses, ports, protocol: a burst of one flow does.) */
static inline bool entropy_same(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[4], y[4];
	uint32_t u, v;

	if (a->dl_type != __builtin_bswap16(ETH_P_IP) || b->dl_type != a->dl_type ||
	    a->nw_proto != b->nw_proto)
		return false;
	memcpy(&x[0], a->dl_dst, 8);
	memcpy(&x[1], a->dl_dst + 6, 8);	/* through dl_type */
	memcpy(&x[2], &a->nw_src, 8);		/* and nw_dst */
	memcpy(&y[0], b->dl_dst, 8);
	memcpy(&y[1], b->dl_dst + 6, 8);
	memcpy(&y[2], &b->nw_src, 8);
	memcpy(&u, &a->tp_src, 4);		/* and tp_dst */
	memcpy(&v, &b->tp_src, 4);
	x[3] = u;
	y[3] = v;
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]));
}

/* The outer UDP source port of a packet with key k (NULL: hash the frame),
 * reusing the last one's when k's hashed fields equal the last key's. */
static inline uint16_t entropy_port(struct encap_ctx *e, const struct pkt *p,
				    const struct flow_key *k)
{
	if (!k)
		return tnl_entropy_port_frame(p->data, p->len);
	/* The same key object (the pipeline shares one between packets
	 * with equal headers): the same port, no compare. */
	if (k == e->last_k)
		return e->last_sport;
	if (!e->last_k || !entropy_same(k, e->last_k))
		e->last_sport = tnl_entropy_port(k);
	e->last_k = k;
	return e->last_sport;
}

/* The offsets and flags of a freshly encapsulated packet. */
static inline void encap_done(struct pkt *p)
{
	p->l3_off = ETH_HLEN;
	p->l4_off = ETH_HLEN + 20;
	p->flags &= (uint16_t)~(PKT_F_TUN | PKT_F_CSUM_VALID);
	p->gso_size = 0;
	p->gso_type = 0;
}

/* Complete an IPv6 template copied to the front of a packet of len bytes:
 * payload length, the flow label (RFC 6438: from the inner flow's hash,
 * the same entropy the UDP source port carries), and for the UDP types
 * source port, length and the checksum IPv6 requires (RFC 8200 8.1; a
 * computed 0 is sent as all ones, RFC 768). */
static void hdr_finish6(struct encap_ctx *e, uint8_t *h, uint32_t len, uint16_t ent)
{
	uint16_t pl = (uint16_t)(len - ETH_HLEN - IP6_HLEN), c;
	uint8_t *u = h + ETH_HLEN + IP6_HLEN;

	wr16(h + ETH_HLEN + 4, pl);
	wr32(h + ETH_HLEN, (rd32(h + ETH_HLEN) & 0xfff00000u) |
			   (((uint32_t)ent << 6 ^ ent) & 0xfffffu));
	if (!e->udp)
		return;
	wr16(u, ent);
	wr16(u + 4, pl);
	wr16(u + 6, 0);
	c = (uint16_t)~csum_fold(csum_add_fast(u, pl, e->sum6 + pl));
	wr16(u + 6, c ? c : 0xffff);
}

/* One packet: 0 or a drop reason. v6 (a constant where inlined): the
 * outer header is IPv6, whose flow label takes the entropy too. */
static inline __attribute__((always_inline)) int encap_one_af(struct encap_ctx *e, const struct dpact_tnl_push *a, struct pkt *p,
		     const struct flow_key *k, bool v6)
{
	uint16_t sport = 0;
	uint8_t *h;
	int r;

	if (unlikely(p->flags & PKT_F_CSUM_PARTIAL) && !finish_csum(p))
		return TNL_DROP_BAD_HDR;
	if (e->udp || v6)
		sport = entropy_port(e, p, k);
	if (e->mpls && (r = mpls_inner(p, a->key)))
		return r;
	/* Oversize is dropped, not answered with ICMP: see DESIGN.md. */
	if (unlikely(p->len > e->max_len))
		return TNL_DROP_TOO_BIG;
	h = pkt_push(p, (uint16_t)e->hlen);
	if (unlikely(!h))
		return TNL_DROP_NO_HEADROOM;
	if (v6) {
		memcpy(h, e->hdr, e->hlen);
		hdr_finish6(e, h, p->len, sport);
		encap_done(p);
		p->l4_off = ETH_HLEN + IP6_HLEN;
		return 0;
	}
	copy_hdr(h, e->hdr, e->hlen);
	tnl_hdr_finish(h, p->len, e->ip_sum, sport, e->udp);
	if (e->udp && (a->flags & DPACT_TNL_CSUM))
		udp_csum(p);
	encap_done(p);
	return 0;
}

static inline __attribute__((always_inline)) int encap_one(struct encap_ctx *e, const struct dpact_tnl_push *a, struct pkt *p,
		     const struct flow_key *k)
{
	return encap_one_af(e, a, p, k, false);
}

/* encap_one over IPv6, out of line: the IPv4 loops stay as they were. */
static __attribute__((noinline)) int encap_one6(struct encap_ctx *e,
						const struct dpact_tnl_push *a, struct pkt *p,
						const struct flow_key *k)
{
	return encap_one_af(e, a, p, k, true);
}

/* encap_one out of line, for encap_one_label's exceptions. */
static __attribute__((noinline)) int encap_one_other(struct encap_ctx *e,
						      const struct dpact_tnl_push *a,
						      struct pkt *p, const struct flow_key *k)
{
	return encap_one(e, a, p, k);
}

/* encap_one for an MPLS record with the label in its template
 * (label_tpl): an IPv4 packet, the usual case, loses its Ethernet header
 * and takes the label with the outer headers, TTL from the IP header, as
 * mpls_inner would write it; anything else goes through encap_one. */
static int encap_one_label(struct encap_ctx *e, const struct dpact_tnl_push *a, struct pkt *p,
			   const struct flow_key *k)
{
	uint16_t sport = 0;
	size_t hlen = e->hlen + 4;
	uint8_t *h, ttl;

	if (unlikely(p->len < ETH_HLEN + 20 || rd16(p->data + 12) != ETH_P_IP ||
		     (p->flags & PKT_F_CSUM_PARTIAL)))
		return encap_one_other(e, a, p, k);
	if (e->udp)
		sport = entropy_port(e, p, k);
	ttl = p->data[ETH_HLEN + 8];
	/* The frame after mpls_inner would be p->len - ETH_HLEN + 4. */
	if (unlikely(p->len - ETH_HLEN + 4u > e->max_len))
		return TNL_DROP_TOO_BIG;
	pkt_pull(p, ETH_HLEN);
	h = pkt_push(p, (uint16_t)hlen);
	if (unlikely(!h))
		return TNL_DROP_NO_HEADROOM;
	copy_hdr(h, e->hdr, hlen);
	h[hlen - 1] = ttl;
	tnl_hdr_finish(h, p->len, e->ip_sum, sport, e->udp);
	if (e->udp && (a->flags & DPACT_TNL_CSUM))
		udp_csum(p);
	encap_done(p);
	return 0;
}

/* encap_one (ENCAP_LABEL: encap_one_label, ENCAP_V6: encap_one6) over
 * pkts, survivors compacted at the front; their number. Inlined with kind
 * a constant, so each loop calls its own. */
enum { ENCAP_PLAIN, ENCAP_LABEL, ENCAP_V6 };

static inline __attribute__((always_inline)) uint16_t
encap_loop(unsigned pmd, struct encap_ctx *e, const struct dpact_tnl_push *a, struct pkt **pkts,
	   const struct flow_key *const *keys, uint16_t n, int kind)
{
	uint16_t m = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct flow_key *k = keys ? keys[i] : NULL;
		int r = kind == ENCAP_LABEL ? encap_one_label(e, a, pkts[i], k) :
			kind == ENCAP_V6 ? encap_one6(e, a, pkts[i], k) :
					   encap_one(e, a, pkts[i], k);

		if (likely(!r)) {
			pkts[m++] = pkts[i];
		} else {
			tnl_count_drop(pmd, (enum tnl_drop)r, 1);
			pkt_free(pkts[i]);
		}
	}
	return m;
}

/* Encapsulate pkts in place; the survivors are compacted at the front. */
static uint16_t encap_batch(unsigned pmd, const struct tnl_conf *c,
			    const struct dpact_tnl_push *a, struct pkt **pkts,
			    const struct flow_key *const *keys, uint16_t n,
			    const struct tnl_uplink **up)
{
	struct encap_ctx e = { .last_k = NULL };
	uint16_t m;
	int r = encap_prepare(pmd, c, a, &e);

	if (unlikely(r)) {
		tnl_count_drop(pmd, (enum tnl_drop)r, n);
		pkt_free_bulk(pkts, n);
		return 0;
	}
	if (unlikely(e.v6))
		m = encap_loop(pmd, &e, a, pkts, keys, n, ENCAP_V6);
	else
		m = e.label_tpl ? encap_loop(pmd, &e, a, pkts, keys, n, ENCAP_LABEL)
				: encap_loop(pmd, &e, a, pkts, keys, n, ENCAP_PLAIN);
	*up = e.up;
	COUNTER_ADD(tnl_stats[pmd].encap, m);
	if (m && a->port < PORT_MAX && c->port_idx[a->port]) {
		struct port *tp = c->ports[c->port_idx[a->port] - 1].pp;
		uint64_t bytes = 0;

		for (uint16_t i = 0; i < m; i++)
			bytes += pkts[i]->len;
		COUNTER_ADD(tp->txq_stats[pmd].packets, m);
		COUNTER_ADD(tp->txq_stats[pmd].bytes, bytes);
	}
	return m;
}

void tnl_push_batch(struct dpact_ctx *ctx, const struct dpact_tnl_push *a, struct pkt **pkts,
		    const struct flow_key *const *keys, uint16_t n)
{
	const struct tnl_conf *c = rcu_dereference(tnl_conf_rcu);
	const struct tnl_uplink *up = NULL;
	uint16_t m = encap_batch(ctx->pmd_idx, c, a, pkts, keys, n, &up);

	if (m)
		ctx->output(ctx->pmd, up->port->id, pkts, m);
}

/* The record a tunnel port's settings make, to remote with key. */
static void push_from_cfg(const struct tnl_port_cfg *pc, uint32_t remote, uint64_t key,
			  bool has_key, struct dpact_tnl_push *a)
{
	*a = (struct dpact_tnl_push){ .type = DPACT_TNL_PUSH, .tnl_type = pc->type,
				      .port = pc->port, .dst_port = pc->dst_port, .key = key,
				      .dst = remote, .src = pc->local, .tos = pc->tos, .ttl = pc->ttl };
	if (has_key && (pc->type == TNL_GRE || pc->type == TNL_MPLSOGRE))
		a->flags |= DPACT_TNL_KEY;
	if (pc->csum)
		a->flags |= DPACT_TNL_CSUM;
}

void tnl_push_port(struct dpact_ctx *ctx, uint16_t port, uint32_t remote, uint64_t key,
		   struct pkt *p, const struct flow_key *k)
{
	const struct tnl_conf *c = rcu_dereference(tnl_conf_rcu);
	struct dpact_tnl_push a;

	if (unlikely(!c || port >= PORT_MAX || !c->port_idx[port])) {
		tnl_count_drop(ctx->pmd_idx, TNL_DROP_NO_PORT, 1);
		pkt_free(p);
		return;
	}
	push_from_cfg(&c->ports[c->port_idx[port] - 1], remote, key, true, &a);
	tnl_push_batch(ctx, &a, &p, &k, 1);
}

/* A tunnel port's own transmit: what floods, `normal` and group buckets
 * send it. Only the port's fixed remote and key apply (no flow key here). */
uint16_t tnl_port_tx(const struct tnl_port_cfg *pc, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	const struct tnl_conf *c = rcu_dereference(tnl_conf_rcu);
	const struct tnl_uplink *up = NULL;
	struct dpact_tnl_push a;
	unsigned pmd = qid < DPACT_PMD_MAX ? qid : DPACT_PMD_MAX - 1;
	uint16_t m;

	if (pc->remote_mode != TNL_OPT_FIXED) {
		tnl_count_drop(pmd, TNL_DROP_NO_REMOTE, n);
		pkt_free_bulk(pkts, n);
		return 0;
	}
	push_from_cfg(pc, pc->remote, pc->key, pc->key_mode == TNL_OPT_FIXED, &a);
	if (pc->v6) {
		a.flags |= DPACT_TNL_IPV6;
		memcpy(a.dst6, pc->remote6, 16);
		memcpy(a.src6, pc->local6, 16);
	}
	m = encap_batch(pmd, c, &a, pkts, NULL, n, &up);
	return m ? port_tx_burst(up->port, qid, pkts, m) : 0;
}

/* ---- ARP ---- */

/* Per PMD: when each of a few addresses was last solicited. */
#define SOLICIT_SLOTS	8
static __thread struct { uint32_t ip; uint64_t at; } solicited[SOLICIT_SLOTS];

static void arp_fill(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa,
		     const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = f + ETH_HLEN;

	wr16(f + 12, ETH_P_ARP);
	wr16(a, 1);			/* Ethernet */
	wr16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tpa, 4);
}

void tnl_arp_solicit(unsigned pmd, const struct tnl_uplink *u, uint32_t ip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6];
	uint64_t now = time_ns();
	unsigned s = ip % SOLICIT_SLOTS;
	struct pkt *p;

	if (solicited[s].ip == ip && now - solicited[s].at < TNL_ARP_INTERVAL_NS)
		return;
	p = pkt_alloc();
	if (unlikely(!p)) {
		tnl_count_drop(pmd, TNL_DROP_NO_BUF, 1);
		return;
	}
	solicited[s].ip = ip;
	solicited[s].at = now;
	memcpy(p->data, bcast, 6);
	memcpy(p->data + 6, u->mac, 6);
	arp_fill(p->data, ARP_REQUEST, u->mac, u->ip, zero, ip);
	p->len = 60;			/* minimum frame, zero padded */
	memset(p->data + ETH_HLEN + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN);
	COUNTER_ADD(tnl_stats[pmd].arp_requests, 1);
	port_tx_burst(u->port, (uint16_t)pmd, &p, 1);
}

/* An ARP packet on an uplink: 1 if it was ours (consumed), 0 if not. */
static int arp_input(unsigned pmd, const struct tnl_uplink *u, struct pkt *p)
{
	uint8_t *a = p->data + ETH_HLEN, sha[6];
	uint32_t spa, tpa;
	uint16_t op;

	if (p->len < ETH_HLEN + ARP_LEN)
		return 0;
	memcpy(&tpa, a + 24, 4);
	/* An IPv6-only uplink (ip 0) answers no ARP, for 0.0.0.0 least. */
	if (tpa != u->ip || !u->ip)
		return 0;
	op = rd16(a + 6);
	if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 ||
	    (op != ARP_REQUEST && op != ARP_REPLY) || (a[8] & 1)) {
		tnl_count_drop(pmd, TNL_DROP_ARP_BAD, 1);
		pkt_free(p);
		return 1;
	}
	memcpy(sha, a + 8, 6);
	memcpy(&spa, a + 14, 4);
	/* Learn the sender either way (RFC 826's merge step): a peer that
	 * asks for us is about to be talked to. */
	if (spa && neigh_update(spa, sha, u->port->id, false) == 0)
		COUNTER_ADD(tnl_stats[pmd].arp_learned, 1);
	if (op == ARP_REPLY) {
		pkt_free(p);
		return 1;
	}
	memcpy(p->data, sha, 6);
	memcpy(p->data + 6, u->mac, 6);
	arp_fill(p->data, ARP_REPLY, u->mac, u->ip, sha, spa);
	COUNTER_ADD(tnl_stats[pmd].arp_replied, 1);
	port_tx_burst(u->port, (uint16_t)pmd, &p, 1);
	return 1;
}

/* ---- IPv6 neighbour discovery (RFC 4861) ---- */

#define ND_NS		135
#define ND_NA		136
#define ND_OPT_SLLA	1
#define ND_OPT_TLLA	2
#define NA_F_SOLICITED	0x40000000u
#define NA_F_OVERRIDE	0x20000000u
#define ND_LEN		(ETH_HLEN + IP6_HLEN + 24 + 8)	/* NS/NA with one link-layer option */

static __thread struct { uint8_t ip[16]; uint64_t at; } solicited6[SOLICIT_SLOTS];

/* The solicited-node multicast address of a (RFC 4291 2.7.1). */
static void solicited_node(const uint8_t a[16], uint8_t m[16])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	memcpy(m, pfx, 13);
	memcpy(m + 13, a + 13, 3);
}

/* Write an NS or NA (the ICMPv6 message at f + 54 with one link-layer
 * address option of ours) with its IPv6 header from src to dst, hop limit
 * 255, and the checksum. */
static void nd_fill(uint8_t *f, const struct tnl_uplink *u, const uint8_t dst[16], uint8_t type,
		    uint32_t flags, const uint8_t target[16])
{
	uint8_t *ip = f + ETH_HLEN, *m = ip + IP6_HLEN;

	wr16(f + 12, ETH_P_IPV6_);
	wr32(ip, 6u << 28);
	wr16(ip + 4, 32);
	ip[6] = IPPROTO_ICMPV6_;
	ip[7] = 255;			/* RFC 4861 7.1: receivers check it */
	memcpy(ip + 8, u->ip6, 16);
	memcpy(ip + 24, dst, 16);
	memset(m, 0, 32);
	m[0] = type;
	wr32(m + 4, flags);
	memcpy(m + 8, target, 16);
	m[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	m[25] = 1;			/* 8 bytes */
	memcpy(m + 26, u->mac, 6);
	wr16(m + 2, (uint16_t)~csum_fold(csum_add(m, 32, csum_pseudo6(ip, 32, IPPROTO_ICMPV6_))));
}

void tnl_nd_solicit(unsigned pmd, const struct tnl_uplink *u, const uint8_t ip6[16])
{
	uint64_t now = time_ns();
	unsigned s = (unsigned)(ip6[15] ^ ip6[14] * 7u) % SOLICIT_SLOTS;
	uint8_t group[16];
	struct pkt *p;

	if (!memcmp(solicited6[s].ip, ip6, 16) && now - solicited6[s].at < TNL_ARP_INTERVAL_NS)
		return;
	p = pkt_alloc();
	if (unlikely(!p)) {
		tnl_count_drop(pmd, TNL_DROP_NO_BUF, 1);
		return;
	}
	memcpy(solicited6[s].ip, ip6, 16);
	solicited6[s].at = now;
	solicited_node(ip6, group);
	/* 33:33 + the low 32 bits of the group (RFC 2464 7). */
	p->data[0] = p->data[1] = 0x33;
	memcpy(p->data + 2, group + 12, 4);
	memcpy(p->data + 6, u->mac, 6);
	nd_fill(p->data, u, group, ND_NS, 0, ip6);
	p->len = ND_LEN;
	COUNTER_ADD(tnl_stats[pmd].nd_requests, 1);
	port_tx_burst(u->port, (uint16_t)pmd, &p, 1);
}

/* The link-layer address option of type want in the options [o, end), or
 * NULL; -1 in *bad when an option has length 0 (RFC 4861 7.1.1: invalid). */
static const uint8_t *nd_lladdr(const uint8_t *o, const uint8_t *end, uint8_t want, int *bad)
{
	const uint8_t *found = NULL;

	while (o + 2 <= end) {
		size_t l = (size_t)o[1] * 8;

		if (!l || o + l > end) {
			*bad = -1;
			return NULL;
		}
		if (o[0] == want && l >= 8)
			found = o + 2;
		o += l;
	}
	return found;
}

static bool ip6_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;
}

int tnl_nd_input(unsigned pmd, const struct tnl_uplink *u, struct pkt *p)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	uint8_t *ip = p->data + ETH_HLEN, *m = ip + IP6_HLEN, group[16], lla[6], src[16];
	uint32_t plen = rd16(ip + 4);
	const uint8_t *opt;
	int bad = 0;
	bool to_us = !memcmp(ip + 24, u->ip6, 16);

	solicited_node(u->ip6, group);
	if (!to_us && memcmp(ip + 24, group, 16) && memcmp(ip + 24, all_nodes, 16))
		return 0;		/* another address, another group */
	if (plen < 4 || ETH_HLEN + IP6_HLEN + plen > p->len)
		goto bad;
	if (m[0] != ND_NS && m[0] != ND_NA) {
		if (!to_us)
			return 0;	/* other ICMPv6 to a group: the pipeline's */
		tnl_count_drop(pmd, TNL_DROP_LOCAL_OTHER, 1);
		pkt_free(p);
		return 1;
	}
	/* RFC 4861 7.1.1/7.1.2: hop limit 255 (nothing routed it here), a
	 * valid checksum, code 0, 24 bytes or more, a unicast target. */
	if (ip[7] != 255 || m[1] != 0 || plen < 24 || ip6_multicast(m + 8) ||
	    csum_fold(csum_add(m, plen, csum_pseudo6(ip, plen, IPPROTO_ICMPV6_))) != 0xffff)
		goto bad;
	opt = nd_lladdr(m + 24, m + plen, m[0] == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA, &bad);
	if (bad)
		goto bad;
	memcpy(src, ip + 8, 16);
	if (m[0] == ND_NA) {
		/* Learn the target from its link-layer option, or from the
		 * frame's source when it has none (RFC 4861 7.2.5 allows
		 * leaving it out on a point-to-point link). */
		uint8_t had[6];

		if (ip6_multicast(ip + 24) && (rd32(m + 4) & NA_F_SOLICITED))
			goto bad;	/* 7.1.2 */
		memcpy(lla, opt ? opt : p->data + 6, 6);
		/* One to a group (unsolicited: a host announcing a new MAC)
		 * only updates a neighbour we have (7.2.5), so a chatty
		 * segment cannot fill the table, and goes on to the
		 * pipeline like a gratuitous ARP, for the guests bridged
		 * on the uplink. */
		if (!(lla[0] & 1) && ip6_underlay_ok(m + 8) &&
		    (to_us || neigh_lookup6(m + 8, u->port->id, had)) &&
		    neigh_update6(m + 8, lla, u->port->id, false) == 0)
			COUNTER_ADD(tnl_stats[pmd].nd_learned, 1);
		if (!to_us)
			return 0;
		pkt_free(p);
		return 1;
	}
	if (memcmp(m + 8, u->ip6, 16))
		return 0;	/* for another address: not ours, as ARP */
	if (ip6_is_zero(src)) {
		/* Duplicate address detection of our address (7.2.4): the
		 * answer goes to all nodes, not solicited; 7.1.1 forbids a
		 * source link-layer option and a unicast destination here. */
		if (opt || to_us)
			goto bad;
		memcpy(src, all_nodes, 16);
		memcpy(lla, (const uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
	} else {
		/* Learn the asker (7.2.3), as ARP learns its sender. */
		memcpy(lla, opt ? opt : p->data + 6, 6);
		if (opt && !(lla[0] & 1) && ip6_underlay_ok(src) &&
		    neigh_update6(src, lla, u->port->id, false) == 0)
			COUNTER_ADD(tnl_stats[pmd].nd_learned, 1);
	}
	memcpy(p->data, lla, 6);
	memcpy(p->data + 6, u->mac, 6);
	nd_fill(p->data, u, src, ND_NA,
		(ip6_multicast(src) ? 0 : NA_F_SOLICITED) | NA_F_OVERRIDE, u->ip6);
	p->len = ND_LEN;
	COUNTER_ADD(tnl_stats[pmd].nd_replied, 1);
	port_tx_burst(u->port, (uint16_t)pmd, &p, 1);
	return 1;
bad:
	tnl_count_drop(pmd, TNL_DROP_ND_BAD, 1);
	pkt_free(p);
	return 1;
}

/* An IPv6 frame on an uplink with an IPv6 address: ND (2, consumed), a
 * tunnel packet to us (0, d filled), something to us we drop (< 0, the
 * reason), or not ours (1). */
static int ip6_input(unsigned pmd, const struct tnl_conf *c, const struct tnl_uplink *u,
		     struct pkt *p, struct tnl_decap *d)
{
	const uint8_t *ip = p->data + ETH_HLEN;

	if (p->len < ETH_HLEN + IP6_HLEN)
		return 1;
	if (ip[6] == IPPROTO_ICMPV6_ && p->len >= ETH_HLEN + IP6_HLEN + 4)
		return tnl_nd_input(pmd, u, p) ? 2 : 1;
	return tnl_decap_parse6(p->data, p->len, u->ip6, c->udp_ports, d);
}

/* ---- decapsulation ---- */

/* The tunnel port that takes a decapsulated packet: same type and UDP
 * port, remote and key equal when fixed; the most specific one wins. */
static const struct tnl_port_cfg *port_for(const struct tnl_conf *c, const struct tnl_decap *d)
{
	const struct tnl_port_cfg *best = NULL;
	int best_score = -1;

	for (uint16_t i = 0; i < c->n_ports; i++) {
		const struct tnl_port_cfg *pc = &c->ports[i];
		int score = 0;

		if (pc->type != d->type || (is_udp_type(d->type) && pc->dst_port != d->udp_dst))
			continue;
		if (pc->remote_mode == TNL_OPT_FIXED) {
			if (pc->v6 != d->v6 || (d->v6 ? memcmp(pc->remote6, d->src6, 16) != 0
						      : pc->remote != d->src))
				continue;
			score += 2;
		}
		if (pc->key_mode == TNL_OPT_FIXED) {
			if (!(d->flags & TNL_F_KEY) || pc->key != d->key)
				continue;
			score++;
		} else if (pc->key_mode == TNL_OPT_NONE && d->key) {
			continue;
		}
		if (score > best_score) {
			best = pc;
			best_score = score;
		}
	}
	return best;
}

/* A decapsulated packet's metadata, made once per parse (and kept with the
 * batch reference) and copied whole into each packet. */
static void decap_meta_make(struct pkt_tun *t, const struct tnl_decap *d)
{
	memset(t, 0, sizeof(*t));
	t->id = d->key;
	if (d->v6) {
		memcpy(t->src, d->src6, 16);
		memcpy(t->dst, d->dst6, 16);
		t->v6 = 1;
	} else {
		memcpy(t->src, &d->src, 4);
		memcpy(t->dst, &d->dst, 4);
	}
	t->flags = d->flags;
	t->tos = d->tos;
	t->ttl = d->ttl;
	t->opt_len = d->opt_len;
	if (unlikely(d->opt_len))
		memcpy(t->opts, d->opts, d->opt_len);
}

static inline void decap_meta(struct pkt *p, const struct pkt_tun *t)
{
	p->tun = *t;
	p->flags = (uint16_t)((p->flags & ~PKT_F_CSUM_PARTIAL) | PKT_F_TUN);
}

/* Does d name the same tunnel as m (everything port_for() looks at), so
 * the same port takes it? */
static inline bool same_tunnel(const struct tnl_decap *d, const struct tnl_decap *m)
{
	return d->key == m->key && d->src == m->src && d->udp_dst == m->udp_dst &&
	       d->type == m->type && ((d->flags ^ m->flags) & TNL_F_KEY) == 0 &&
	       d->v6 == m->v6 && (likely(!d->v6) || !memcmp(d->src6, m->src6, 16));
}

/* Hand a run of one tunnel port's packets to the pipeline, crediting the
 * port once for the run. */
static void deliver_run(unsigned pmd, const struct tnl_port_cfg *pc, struct pkt **run,
			uint16_t n, tnl_deliver_fn *deliver, void *arg)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++)
		bytes += run[i]->len;
	COUNTER_ADD(pc->pp->rxq_stats[pmd].packets, n);
	COUNTER_ADD(pc->pp->rxq_stats[pmd].bytes, bytes);
	COUNTER_ADD(tnl_stats[pmd].decap, n);
	deliver(arg, pc->port, run, n);
}

/* Where the outer IPv4 identification and header checksum are, and the
 * UDP checksum after an IPv4 header without options. Linux's VXLAN device
 * gives every packet its own ID (DF clear) and, by default, a UDP checksum
 * (completed by the NIC, so it follows the payload), so these differ
 * between packets of one flow whose other outer bytes are equal: hdr_eq
 * compares around them (the UDP checksum only when the reference has one:
 * it is noted in tun_flags, never verified) and ref_hit checks the IPv4
 * checksum. */
#define OUTER_ID	(ETH_HLEN + 4)
#define OUTER_CSUM	(ETH_HLEN + 10)
#define OUTER_UDP_CSUM	(ETH_HLEN + 20 + 6)
#define FF4		0xff, 0xff, 0xff, 0xff
#define FF16		FF4, FF4, FF4, FF4

/* 0 at the bytes not compared, 0xff elsewhere: a 32-byte half's mask is
 * read at the half's offset (0, and n - 32 ≤ 32). */
static const uint8_t mask_ip[64] = {
	FF16, 0xff, 0xff, 0, 0, FF4, 0, 0, 0xff, 0xff, FF4, FF16, FF16
};
static const uint8_t mask_udp[64] = {
	FF16, 0xff, 0xff, 0, 0, FF4, 0, 0, 0xff, 0xff, FF4, FF4, FF4, 0, 0, 0xff, 0xff,
	FF4, FF16
};

_Static_assert(OUTER_ID == 18 && OUTER_CSUM == 24 && OUTER_UDP_CSUM == 40, "the masks' zeros");

/* The first n bytes (32 <= n <= 64) of a and b are equal (where mask, if
 * any, says): two fixed 32-byte compares that overlap in the middle. */
static inline bool hdr_eq(const uint8_t *a, const uint8_t *b, size_t n, const uint8_t *mask)
{
#if defined(__AVX2__)
	__m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)a);
	__m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(a + n - 32));
	__m256i y0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
	__m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + n - 32));
	__m256i d0 = _mm256_xor_si256(x0, y0), d1 = _mm256_xor_si256(x1, y1), d;

	if (mask) {
		d0 = _mm256_and_si256(d0, _mm256_loadu_si256((const __m256i *)(const void *)mask));
		d1 = _mm256_and_si256(d1, _mm256_loadu_si256((const __m256i *)(const void *)
								(mask + n - 32)));
	}
	d = _mm256_or_si256(d0, d1);
	return _mm256_testz_si256(d, d);
#else
	uint64_t x = 0;

	for (size_t i = 0; i < 32; i += 8) {
		uint64_t u, v, w, y, m = ~0ull, k = ~0ull;

		memcpy(&u, a + i, 8);
		memcpy(&v, b + i, 8);
		memcpy(&w, a + n - 32 + i, 8);
		memcpy(&y, b + n - 32 + i, 8);
		if (mask) {
			memcpy(&m, mask + i, 8);
			memcpy(&k, mask + n - 32 + i, 8);
		}
		x |= ((u ^ v) & m) | ((w ^ y) & k);
	}
	return !x;
#endif
}

#define REF_BYTES	64

/* Batch decapsulation: a burst from one tunnel peer is mostly one flow,
 * whose packets carry the same outer headers byte for byte. A packet whose
 * length and the bytes that decided the last clean parse (tnl_decap.hdr_end)
 * equal that packet's gets its result and tunnel port without a parse. */
struct decap_ref {
	uint8_t hdr[REF_BYTES];		/* as they were before the parse */
	uint16_t len;			/* frame length */
	uint16_t end;			/* hdr_end; 0 = no reference */
	const uint8_t *mask;		/* mask_ip, or mask_udp */
	struct tnl_decap d;
	struct pkt_tun tun;		/* d's metadata */
	const struct tnl_port_cfg *pc;
};

/* ref_hit for a packet whose outer headers are not the reference's byte
 * for byte: equal but for the fields a Linux VTEP varies, with the UDP
 * checksum in both or in neither (tun_flags says which), and an IPv4
 * checksum that is the reference's updated for the packet's ID (RFC 1624
 * eqn. 3): since every other header byte is the reference's, whose
 * checksum the parse verified, that is what a valid header has. */
static __attribute__((noinline)) bool ref_hit_varied(const struct decap_ref *ref, const uint8_t *d)
{
	uint32_t s;

	if (!hdr_eq(d, ref->hdr, ref->end, ref->mask) ||
	    (ref->mask == mask_udp && !rd16(d + OUTER_UDP_CSUM)))
		return false;
	s = (uint32_t)(uint16_t)~rd16(ref->hdr + OUTER_CSUM) + (uint16_t)~rd16(ref->hdr + OUTER_ID) +
	    rd16(d + OUTER_ID);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return rd16(d + OUTER_CSUM) == (uint16_t)~s;
}

/* Exactly the reference's outer headers (a tunnel peer that varies none
 * of them, as xviod does) is the fast case. */
static inline bool ref_hit(const struct decap_ref *ref, const struct pkt *p)
{
	if (!ref->end || p->len != ref->len)
		return false;
	if (likely(hdr_eq(p->data, ref->hdr, ref->end, NULL)))
		return true;
	return ref_hit_varied(ref, p->data);
}

static inline bool ref_room(const struct pkt *p)
{
	return (size_t)(p->data - p->buf) + REF_BYTES <= sizeof(p->buf);
}

uint16_t tnl_rx(unsigned pmd, struct port *in, struct pkt **pkts, uint16_t n,
		tnl_deliver_fn *deliver, void *arg)
{
	const struct tnl_conf *c = rcu_dereference(tnl_conf_rcu);
	const struct tnl_uplink *u;
	const struct tnl_port_cfg *run_pc = NULL, *memo_pc = NULL;
	/* Two parse results that alternate: the current packet's and the
	 * one memo_pc was found for. */
	struct tnl_decap dd[2];
	struct decap_ref ref;
	unsigned cur = 0;
	struct pkt *run[PKT_BURST];
	uint16_t keep = 0, n_run = 0, reused = 0;

	if (unlikely(!c || !c->uplink_of[in->id]))
		return n;
	u = &c->uplinks[c->uplink_of[in->id] - 1];
	pmd = pmd < DPACT_PMD_MAX ? pmd : DPACT_PMD_MAX - 1;
	ref.end = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		const struct tnl_port_cfg *pc;
		const struct tnl_decap *d;
		const struct pkt_tun *tm;
		struct pkt_tun tl;
		uint8_t pre[REF_BYTES];
		uint32_t dst;
		uint16_t et;
		int r;

		if (i + 1 < n)
			prefetch0(pkts[i + 1]->data);
		if (unlikely(p->len < ETH_HLEN + 20)) {
			pkts[keep++] = p;
			continue;
		}
		et = rd16(p->data + 12);
		if (unlikely(et == ETH_P_ARP)) {
			if (!arp_input(pmd, u, p))
				pkts[keep++] = p;
			continue;
		}
		/* Not IPv4 to our address: not ours, no parse. */
		memcpy(&dst, p->data + ETH_HLEN + 16, 4);
		if (et != ETH_P_IP || dst != u->ip || unlikely(!u->ip)) {
			if (unlikely(et == ETH_P_IPV6_ && u->has_ip6)) {
				/* IPv6 records no reference (tnl_decap_parse6). */
				r = ip6_input(pmd, c, u, p, &dd[cur]);
				if (r == 2)
					continue;	/* ND, consumed */
				goto parsed;
			}
			pkts[keep++] = p;
			continue;
		}
		if (ref_hit(&ref, p)) {
			reused++;
			d = &ref.d;
			tm = &ref.tun;
			pc = ref.pc;
			if (is_mpls_type(d->type))
				tnl_mpls_eth_rebuild(p->data, d->inner_off);
			goto decapped;
		}
		if (ref_room(p))
			memcpy(pre, p->data, REF_BYTES);
		r = tnl_decap_parse(p->data, p->len, u->ip, c->udp_ports, &dd[cur]);
parsed:
		d = &dd[cur];
		if (r > 0) {
			pkts[keep++] = p;
			continue;
		}
		pc = NULL;
		if (likely(!r)) {
			/* Packets of one tunnel reuse the port found for the
			 * first, also when their headers differ (IP IDs). */
			if (memo_pc && same_tunnel(d, &dd[cur ^ 1])) {
				pc = memo_pc;
			} else {
				pc = port_for(c, d);
				memo_pc = pc;
				cur ^= 1;	/* keep d as the memo's */
			}
		}
		if (unlikely(!pc)) {
			tnl_count_drop(pmd, r ? (enum tnl_drop)-r : TNL_DROP_NO_PORT, 1);
			pkt_free(p);
			continue;
		}
		decap_meta_make(&tl, d);
		tm = &tl;
		if (d->hdr_end >= 32 && d->hdr_end <= REF_BYTES && ref_room(p)) {
			memcpy(ref.hdr, pre, REF_BYTES);
			ref.len = p->len;
			ref.end = d->hdr_end;
			ref.mask = is_udp_type(d->type) && pre[ETH_HLEN] == 0x45 &&
				   rd16(pre + OUTER_UDP_CSUM) ? mask_udp : mask_ip;
			ref.d = *d;
			ref.tun = tl;
			ref.pc = pc;
		}
decapped:
		decap_meta(p, tm);
		p->data += d->inner_off;
		p->len = d->inner_len;
		/* Runs of one tunnel port go to the pipeline together. */
		if (n_run && run_pc != pc) {
			deliver_run(pmd, run_pc, run, n_run, deliver, arg);
			n_run = 0;
		}
		run_pc = pc;
		run[n_run++] = p;
	}
	if (n_run)
		deliver_run(pmd, run_pc, run, n_run, deliver, arg);
	if (reused)
		COUNTER_ADD(tnl_stats[pmd].decap_reused, reused);
	return keep;
}
