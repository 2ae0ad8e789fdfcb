/*
 * The route action on the PMD: per packet, LPM in the VRF, next hop, MAC
 * rewrite and TTL decrement, output; ARP/ND proxy, echo replies to the
 * gateway, ICMP errors and neighbour solicitation, each rate limited.
 *
 * No locks or allocations per packet (a generated ICMP error, ARP request
 * or solicitation takes one packet from the PMD's own pool); the only atomic
 * read-modify-write is posting a gleaned neighbour to the control thread,
 * which happens for ARP/ND packets, never for routed traffic.
 */
#include <string.h>
#include <urcu-qsbr.h>

#include "l3_priv.h"
#include "../tnl/tnl.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_IPV6	0x86dd
#define IPV6_HLEN	40

#define ICMP_RATE_NS	(10 * 1000000ull)	/* one error per 10 ms ... */
#define ICMP_BURST_NS	(50 * ICMP_RATE_NS)	/* ... with a burst of 50 */

#define COUNT(ctx, what) \
	__atomic_store_n(&l3_stats[(ctx)->pmd_idx].c[L3_C_##what], \
			 l3_stats[(ctx)->pmd_idx].c[L3_C_##what] + 1, __ATOMIC_RELAXED)

static inline void drop(struct dpact_ctx *ctx, enum l3_counter c, struct pkt *p)
{
	uint64_t *v = &l3_stats[ctx->pmd_idx].c[c];

	__atomic_store_n(v, *v + 1, __ATOMIC_RELAXED);
	pkt_free(p);
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/* A token bucket in nanoseconds of credit: true if one more may go. */
static bool rate_ok(uint64_t *credit_until)
{
	uint64_t now = time_ns();

	if (*credit_until < now - MIN(now, ICMP_BURST_NS))
		*credit_until = now - MIN(now, ICMP_BURST_NS);
	if (*credit_until + ICMP_RATE_NS > now)
		return false;
	*credit_until += ICMP_RATE_NS;
	return true;
}

static void send_new(struct dpact_ctx *ctx, uint16_t port, struct pkt *p)
{
	ctx->output(ctx->pmd, port, &p, 1);
}

static const uint8_t *iface_mac(const struct l3_conf *c, uint16_t port)
{
	return port < PORT_MAX && c->ifc[port].on ? c->ifc[port].mac : l3_router_mac;
}

/* The router's address to send from on port: one in the same subnet as
 * peer if any, else the first; NULL when the port has none. */
static const uint8_t *iface_src(const struct l3_conf *c, uint16_t port, uint8_t af,
				const uint8_t *peer)
{
	const struct l3_iface *f = port < PORT_MAX ? &c->ifc[port] : NULL;

	if (!f || !f->on)
		return NULL;
	if (af == 4) {
		for (unsigned i = 0; i < f->n4; i++) {
			uint32_t m = f->plen4[i] ? __builtin_bswap32(~0u << (32 - f->plen4[i])) : 0;
			uint32_t pa;

			memcpy(&pa, peer, 4);
			if (((pa ^ f->a4[i]) & m) == 0)
				return (const uint8_t *)&f->a4[i];
		}
		return f->n4 ? (const uint8_t *)&f->a4[0] : NULL;
	}
	return f->n6 ? f->a6[0] : NULL;
}

/* Where an error for the sender peer goes when the packet did not come in
 * on an interface (a tunnel port: it was decapsulated): the VRF's route to
 * peer, if it leaves by a resolved port or a tunnel. *dmac is the inner
 * destination MAC to write (a tunnel's: the router's own, as route_one
 * writes them). */
static const struct l3_nh *route_back(const struct l3_vrf *v, uint8_t af, const uint8_t *ip,
				      uint32_t len, const uint8_t *peer, uint64_t *dmac)
{
	int64_t id = af == 4 ? lpm4_lookup(v->v4, rd32(peer)) : lpm6_lookup(v->v6, peer);
	const struct l3_nh *n;

	if (id < 0)
		return NULL;
	n = &l3_nh_tab[id];
	if (n->type == L3_NH_ECMP)
		n = &l3_nh_tab[n->members[l3_pkt_hash(ip, len, af) % n->n_members]];
	if (n->type == L3_NH_TUNNEL) {
		*dmac = l3_mac_word(n->smac);
		return n;
	}
	*dmac = __atomic_load_n(&n->dmac, __ATOMIC_RELAXED);
	return n->type == L3_NH_PORT && (*dmac & L3_MAC_RESOLVED) ? n : NULL;
}

/* The VRF's address to send an error from through next hop n: one on n's
 * interface facing peer, else the first of that family on any of its
 * interfaces; NULL when it has none. */
static const uint8_t *vrf_src(const struct l3_conf *c, const struct l3_vrf *v,
			      const struct l3_nh *n, uint8_t af, const uint8_t *peer)
{
	const uint8_t *src = n->type == L3_NH_PORT ? iface_src(c, n->port, af, peer) : NULL;

	for (uint16_t i = 0; !src && i < PORT_MAX; i++)
		if (c->ifc[i].on && c->ifc[i].vrf == v->id)
			src = iface_src(c, i, af, peer);
	return src;
}

/* ICMP error back to the sender of p, rate limited; info is the header's
 * second word (the MTU of "fragmentation needed" / "packet too big"). Out
 * the port p came in on, from that interface's address; or, when p came in
 * on no interface (decapsulated from a tunnel), routed in the VRF to p's
 * source, from a gateway address of the VRF. The packet itself is the
 * caller's to drop. True if the error was sent. */
static __cold bool icmp_error(struct dpact_ctx *ctx, const struct l3_conf *c,
			      const struct l3_vrf *v, struct pkt *p, uint8_t af, uint8_t type,
			      uint8_t code, uint32_t info)
{
	const uint8_t *ip = p->data + p->l3_off, *peer = ip + (af == 4 ? 12 : 8);
	uint32_t ip_len = (uint32_t)(p->len - p->l3_off);
	const struct l3_nh *back = NULL;
	const uint8_t *src, *dmac = p->data + 6, *smac;
	uint8_t dm[6];
	struct pkt *e;
	uint16_t len;

	/* Before the limiter: packets that may get no error (errors,
	 * multicast, fragments) must not use up the tokens of those that
	 * may, or a spoofed flood would starve "packet too big" and black-
	 * hole path MTU discovery. */
	if (!l3_icmp_error_allowed(af, ip, (uint16_t)MIN(ip_len, UINT16_MAX)))
		return false;
	if (p->in_port < PORT_MAX && c->ifc[p->in_port].on) {
		src = iface_src(c, p->in_port, af, peer);
		smac = iface_mac(c, p->in_port);
	} else {
		uint64_t w = 0;

		back = route_back(v, af, ip, ip_len, peer, &w);
		if (!back)
			return false;
		src = vrf_src(c, v, back, af, peer);
		smac = back->smac;
		for (int i = 0; i < 6; i++)
			dm[i] = (uint8_t)(w >> (40 - 8 * i));
		dmac = dm;
	}
	if (!src)
		return false;
	if (!rate_ok(&l3_stats[ctx->pmd_idx].icmp_tokens_ns)) {
		COUNT(ctx, ICMP_LIMITED);
		return false;
	}
	e = pkt_alloc();
	if (unlikely(!e)) {
		COUNT(ctx, NO_BUF);
		return false;
	}
	len = l3_icmp_error_build(e->data, af, type, code, info, ip, (uint16_t)ip_len, src, dmac,
				  smac);
	if (!len) {
		pkt_free(e);
		return false;
	}
	e->len = len;
	e->in_port = p->in_port;
	COUNT(ctx, ICMP_SENT);
	if (!back) {
		send_new(ctx, p->in_port, e);
	} else if (back->type == L3_NH_TUNNEL) {
		const struct flow_key *none = NULL;

		tnl_push_batch(ctx, back->tun_rec, &e, &none, 1);
	} else {
		send_new(ctx, back->port, e);
	}
	return true;
}

static void solicit(struct dpact_ctx *ctx, const struct l3_conf *c, uint16_t port, uint8_t af,
		    const uint8_t *target)
{
	const uint8_t *src = iface_src(c, port, af, target);
	struct pkt *s;

	if (!src || !rate_ok(&l3_stats[ctx->pmd_idx].solicit_tokens_ns))
		return;
	s = pkt_alloc();
	if (unlikely(!s)) {
		COUNT(ctx, NO_BUF);
		return;
	}
	s->len = l3_solicit_build(s->data, af, iface_mac(c, port), src, target);
	s->in_port = port;
	COUNT(ctx, SOLICIT_SENT);
	send_new(ctx, port, s);
}

/* ---- ARP and ND ---- */

struct owns_ctx {
	const struct l3_conf *c;
	const struct l3_vrf *vrf;
	uint16_t in_port;
};

/* Ours to answer: a gateway address of the input interface, or (proxy) an
 * address the VRF routes anywhere but back out the port it was asked on,
 * so guests on different ports of one subnet reach each other through the
 * router and never see each other's MACs. */
static bool owns(void *aux, uint8_t af, const uint8_t *ip)
{
	const struct owns_ctx *o = aux;
	const struct l3_iface *f = &o->c->ifc[o->in_port];
	const struct l3_nh *n;
	int64_t id;

	if (af == 4) {
		uint32_t a;

		memcpy(&a, ip, 4);
		for (unsigned i = 0; i < f->n4; i++)
			if (f->a4[i] == a)
				return true;
		id = lpm4_lookup(o->vrf->v4, __builtin_bswap32(a));
	} else {
		for (unsigned i = 0; i < f->n6; i++)
			if (!memcmp(f->a6[i], ip, 16))
				return true;
		id = lpm6_lookup(o->vrf->v6, ip);
	}
	if (id < 0)
		return false;
	n = &l3_nh_tab[id];
	if (n->type == L3_NH_BLACKHOLE)
		return false;
	return !((n->type == L3_NH_PORT || n->type == L3_NH_GLEAN) && n->port == o->in_port);
}

static void glean(struct dpact_ctx *ctx, uint16_t vrf, uint16_t port,
		  const struct l3_nd_result *r, const struct l3_vrf *v)
{
	struct l3_learn_ring *ring = &l3_learn_rings[ctx->pmd_idx];
	uint32_t head = ring->head;
	int64_t id;

	/* Known with this MAC on this port already: nothing to post. */
	id = r->af == 4 ? lpm4_lookup(v->v4, (uint32_t)r->ip[0] << 24 | (uint32_t)r->ip[1] << 16 |
				       (uint32_t)r->ip[2] << 8 | r->ip[3])
			: lpm6_lookup(v->v6, r->ip);
	if (id >= 0) {
		const struct l3_nh *n = &l3_nh_tab[id];
		uint64_t m = __atomic_load_n(&n->dmac, __ATOMIC_RELAXED);

		if (n->type == L3_NH_PORT && !n->has_gw && n->port == port &&
		    m == (L3_MAC_RESOLVED | l3_mac_word(r->mac)))
			return;
	}
	if (head - __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) >= L3_LEARN_RING) {
		COUNT(ctx, GLEAN_FULL);
		return;
	}
	ring->e[head % L3_LEARN_RING] = (struct l3_learn){ .vrf = vrf, .port = port, .af = r->af };
	memcpy(ring->e[head % L3_LEARN_RING].mac, r->mac, 6);
	memcpy(ring->e[head % L3_LEARN_RING].ip, r->ip, 16);
	__atomic_store_n(&ring->head, head + 1, __ATOMIC_RELEASE);
	COUNT(ctx, GLEANED);
}

static __cold void neigh_input(struct dpact_ctx *ctx, const struct l3_conf *c,
			       const struct l3_vrf *v, struct pkt *p, bool arp)
{
	const struct l3_iface *f = &c->ifc[p->in_port];
	struct owns_ctx o = { c, v, p->in_port };
	struct l3_nd_result r;
	enum l3_nd_verdict verdict;
	uint16_t len = p->len;

	if (!f->on || f->vrf != v->id) {
		drop(ctx, L3_C_NO_IFACE, p);
		return;
	}
	if (arp)
		verdict = l3_arp_input(p->data, &len, p->l3_off, f->mac, owns, &o, &r);
	else
		verdict = l3_nd_input(p->data, &len, (uint16_t)(sizeof(p->buf) - (size_t)(p->data - p->buf)),
				      p->l3_off, f->mac, owns, &o, &r);
	if (r.learn)
		glean(ctx, (uint16_t)v->id, p->in_port, &r, v);
	switch (verdict) {
	case L3_ND_REPLY:
		p->len = len;
		p->flags = 0;
		if (arp)
			COUNT(ctx, ARP_REPLY);
		else
			COUNT(ctx, ND_REPLY);
		send_new(ctx, p->in_port, p);
		return;
	case L3_ND_CONSUMED:
		drop(ctx, L3_C_NEIGH_CONSUMED, p);
		return;
	case L3_ND_BAD:
		drop(ctx, L3_C_BAD_HDR, p);
		return;
	case L3_ND_IGNORE:
		break;
	}
	drop(ctx, arp ? L3_C_ARP_IGNORED : L3_C_ND_IGNORED, p);
}

/* ---- forwarding ---- */

static void to_router(struct dpact_ctx *ctx, struct pkt *p, uint8_t af)
{
	if (l3_echo_reply(p->data, p->len, p->l3_off, af)) {
		p->flags = 0;
		COUNT(ctx, ECHO_REPLY);
		send_new(ctx, p->in_port, p);
		return;
	}
	drop(ctx, L3_C_TO_ROUTER, p);
}

/* Decrement the TTL (IPv4: checksum + 0x0100 in ones' complement, RFC 1624)
 * and rewrite the MACs (unless macs is false); false if the TTL has run
 * out. */
static inline bool forward_rewrite(struct pkt *p, uint8_t af, const struct l3_nh *n, uint64_t dmac,
				   bool macs)
{
	uint8_t *ip = p->data + p->l3_off;
	uint8_t *e = p->data;

	if (af == 4) {
		uint32_t s;

		if (unlikely(ip[8] <= 1))
			return false;
		ip[8]--;
		s = (uint32_t)rd16(ip + 10) + 0x0100;
		s = (s & 0xffff) + (s >> 16);
		ip[10] = (uint8_t)(s >> 8);
		ip[11] = (uint8_t)s;
	} else {
		if (unlikely(ip[7] <= 1))
			return false;
		ip[7]--;
	}
	if (!macs)
		return true;
	{
		/* dmac's low 48 bits, first byte highest: big-endian, shifted
		 * to the top of the word, is the six bytes in wire order. */
		uint64_t be = dmac << 16;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		be = __builtin_bswap64(be);
#endif

		memcpy(e, &be, 6);
	}
	memcpy(e + 6, n->smac, 6);
	return true;
}

/* The ECMP hash of p: its key's 5-tuple, or, when the key describes
 * another packet (k NULL: the MPLS frame before pop_mpls, one key for a
 * whole burst of inner flows), the tuple read from the IP header, so the
 * inner flows of one tunnel spread over the members. */
static inline uint32_t ecmp_hash(const struct pkt *p, const struct flow_key *k, uint8_t af)
{
	if (likely(k))
		return l3_flow_hash(k);
	return l3_pkt_hash(p->data + p->l3_off, (uint32_t)(p->len - p->l3_off), af);
}

/* p is longer than next hop n takes. As Linux's ip_forward, an expiring
 * TTL is reported first; then IPv6, and IPv4 with DF, get "packet too big"
 * (RFC 4443 3.2, RFC 8201) / "fragmentation needed and DF set" (RFC 792,
 * with the next-hop MTU of RFC 1191 4) carrying the MTU of this path for
 * this packet: what the next hop takes less p's own link header. IPv4
 * without DF is dropped, not fragmented (docs/DESIGN.md, departures). */
static __cold void too_big(struct dpact_ctx *ctx, const struct l3_conf *c,
			   const struct l3_vrf *v, struct pkt *p, uint8_t af, const struct l3_nh *n)
{
	const uint8_t *ip = p->data + p->l3_off;
	uint32_t mtu = __atomic_load_n(&n->max_len, __ATOMIC_RELAXED) - (uint32_t)p->l3_off;

	if (ip[af == 4 ? 8 : 7] <= 1) {
		icmp_error(ctx, c, v, p, af, af == 4 ? 11 : 3, 0, 0);
		drop(ctx, L3_C_TTL, p);
		return;
	}
	if (af == 4 && !(ip[6] & 0x40)) {
		drop(ctx, L3_C_TOO_BIG_DF_CLEAR, p);
		return;
	}
	if (icmp_error(ctx, c, v, p, af, af == 4 ? 3 : 2, af == 4 ? 4 : 0, mtu))
		COUNT(ctx, PTB_SENT);
	drop(ctx, L3_C_TOO_BIG, p);
}

/* Route one packet: the next hop it leaves by (a port, MACs and TTL already
 * rewritten, or a tunnel), or NULL when it was answered, dropped or
 * consumed here. *kp is set to NULL when the key is not the packet's (see
 * below): the tunnel encapsulation then hashes the frame for its entropy. */
static const struct l3_nh *route_one(struct dpact_ctx *ctx, const struct l3_conf *c,
				     const struct l3_vrf *v, struct pkt *p,
				     const struct flow_key **kp)
{
	const uint8_t *ip = p->data + p->l3_off;
	const struct l3_nh *n;
	/* From the packet, not the key: an earlier pop_mpls (MPLS over
	 * GRE/UDP decap) changed what it carries. */
	uint16_t dl_type = p->l3_off >= 14 ? rd16(p->data + p->l3_off - 2) : 0;
	const struct flow_key *k = *kp;
	uint8_t af;
	int64_t id;
	uint64_t dmac = 0;
	bool macs = true;

	/* A key whose ethertype is not the packet's was parsed before
	 * pop_mpls: the MPLS frame's, whose parse stops at the label stack
	 * and which one burst of a tunnel's many inner flows shares. Its
	 * addresses and ports are not this packet's. */
	if (unlikely(k->dl_type != __builtin_bswap16(dl_type)))
		*kp = k = NULL;
	if (likely(dl_type == ETH_P_IP)) {
		af = 4;
		if (unlikely(!p->l3_off || p->len < p->l3_off + 20u || (ip[0] >> 4) != 4)) {
			drop(ctx, L3_C_BAD_HDR, p);
			return NULL;
		}
		id = lpm4_lookup(v->v4, rd32(ip + 16));
	} else if (dl_type == ETH_P_IPV6) {
		af = 6;
		if (unlikely(!p->l3_off || p->len < p->l3_off + IPV6_HLEN || (ip[0] >> 4) != 6)) {
			drop(ctx, L3_C_BAD_HDR, p);
			return NULL;
		}
		if (unlikely(k && k->nw_proto == 58 && (__builtin_bswap16(k->tp_src) == 135 ||
						       __builtin_bswap16(k->tp_src) == 136))) {
			neigh_input(ctx, c, v, p, false);
			return NULL;
		}
		id = lpm6_lookup(v->v6, ip + 24);
	} else if (dl_type == ETH_P_ARP) {
		neigh_input(ctx, c, v, p, true);
		return NULL;
	} else {
		drop(ctx, L3_C_NOT_IP, p);
		return NULL;
	}
	if (unlikely(id < 0)) {
		/* ICMP dest unreachable: net (RFC 792) / no route (RFC 4443). */
		icmp_error(ctx, c, v, p, af, af == 4 ? 3 : 1, 0, 0);
		drop(ctx, L3_C_NO_ROUTE, p);
		return NULL;
	}
	n = &l3_nh_tab[id];
	if (n->type == L3_NH_ECMP)
		n = &l3_nh_tab[n->members[ecmp_hash(p, k, af) % n->n_members]];
	switch (n->type) {
	case L3_NH_PORT:
		dmac = __atomic_load_n(&n->dmac, __ATOMIC_RELAXED);
		if (unlikely(!(dmac & L3_MAC_RESOLVED))) {
			solicit(ctx, c, n->port, af, n->gw);
			drop(ctx, L3_C_UNRESOLVED, p);
			return NULL;
		}
		break;
	case L3_NH_TUNNEL:
		/* Inner MACs: the router's own on both sides (the remote's
		 * router routes by IP). The MPLS types drop the inner
		 * Ethernet header: nothing to write. */
		macs = n->tun.kind != TNL_MPLSOGRE && n->tun.kind != TNL_MPLSOUDP;
		if (macs)
			dmac = l3_mac_word(n->smac);
		break;
	case L3_NH_GLEAN:
		solicit(ctx, c, n->port, af, af == 4 ? ip + 16 : ip + 24);
		drop(ctx, L3_C_UNRESOLVED, p);
		return NULL;
	case L3_NH_LOCAL:
		to_router(ctx, p, af);
		return NULL;
	default:
		drop(ctx, L3_C_BLACKHOLE, p);
		return NULL;
	}
	if (unlikely(p->len > __atomic_load_n(&n->max_len, __ATOMIC_RELAXED))) {
		too_big(ctx, c, v, p, af, n);
		return NULL;
	}
	if (unlikely(!forward_rewrite(p, af, n, dmac, macs))) {
		icmp_error(ctx, c, v, p, af, af == 4 ? 11 : 3, 0, 0);
		drop(ctx, L3_C_TTL, p);
		return NULL;
	}
	return n;
}

/* Consecutive packets that leave the same way go out together: one output
 * call, and for a tunnel one route/neighbour/header preparation
 * (tnl_push_batch) for the run instead of one per packet. */
static bool same_exit(const struct l3_nh *a, const struct l3_nh *b)
{
	return a == b || (a->type == L3_NH_PORT && b->type == L3_NH_PORT && a->port == b->port);
}

static void send_run(struct dpact_ctx *ctx, const struct l3_nh *n, struct pkt **pkts,
		     const struct flow_key **keys, uint16_t m)
{
	uint64_t *v = &l3_stats[ctx->pmd_idx].c[L3_C_ROUTED];

	__atomic_store_n(v, *v + m, __ATOMIC_RELAXED);
	if (n->type == L3_NH_TUNNEL)
		tnl_push_batch(ctx, n->tun_rec, pkts, keys, m);
	else
		ctx->output(ctx->pmd, n->port, pkts, m);
}

void l3_route_batch(struct dpact_ctx *ctx, struct pkt **pkts, const struct flow_key *const *keys,
		    uint16_t n, uint32_t vrf)
{
	const struct l3_conf *c = rcu_dereference(l3_conf_rcu);
	const struct l3_vrf *v = c && vrf < L3_MAX_VRF ? c->vrf[vrf] : NULL;
	struct pkt *run[PKT_BURST];
	const struct flow_key *run_k[PKT_BURST];
	const struct l3_nh *run_nh = NULL;
	uint16_t m = 0;

	if (unlikely(!v)) {
		for (uint16_t i = 0; i < n; i++)
			drop(ctx, L3_C_NO_VRF, pkts[i]);
		return;
	}
	/* No prefetch: the pipeline has just read every packet's headers
	 * (parse or same-headers compare), and actions before this may
	 * have written them. */
	for (uint16_t i = 0; i < n; i++) {
		const struct flow_key *k = keys[i];
		const struct l3_nh *nh = route_one(ctx, c, v, pkts[i], &k);

		if (!nh)
			continue;
		if (m && (m == PKT_BURST || !same_exit(nh, run_nh))) {
			send_run(ctx, run_nh, run, run_k, m);
			m = 0;
		}
		run_nh = nh;
		run[m] = pkts[i];
		run_k[m++] = k;
	}
	if (m)
		send_run(ctx, run_nh, run, run_k, m);
}
