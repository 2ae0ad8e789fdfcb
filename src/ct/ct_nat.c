/*
 * NAT on tracked connections: choosing the translated tuple when a
 * connection is committed (SNAT address and port, DNAT address and port),
 * and rewriting packets of both directions and the ICMP errors that quote
 * them, with incremental checksums (RFC 1624).
 *
 * A translated connection's reply tuple is what the far side answers to, so
 * a free reply tuple is a free translation: allocation probes the table for
 * one, starting from a hash of the original tuple so that concurrent
 * connections start apart. Two PMDs that pick the same one race in
 * ct_conn_insert, which refuses the second; it then picks again.
 */
#include "ct_priv.h"

#define PROTO_ICMP	1
#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_ICMPV6	58
#define NAT_MAX_TRIES	131072u

/* ---- choosing the translation ---- */

static bool is_icmp(uint8_t proto)
{
	return proto == PROTO_ICMP || proto == PROTO_ICMPV6;
}

static bool has_ports(uint8_t proto)
{
	return proto == PROTO_TCP || proto == PROTO_UDP || proto == 132 || is_icmp(proto);
}

int ct_nat_setup(struct ct_conn *c, const struct ct_nat *nat)
{
	const struct ct_tuple *o = &c->node[CT_DIR_ORIG].t;
	struct ct_tuple *r = &c->node[CT_DIR_REPLY].t;
	bool snat = nat->flags & CT_NAT_SRC;
	/* The reply tuple's fields the translation replaces: for SNAT the
	 * reply's destination (our source), for DNAT the reply's source. */
	uint8_t *addr = snat ? r->dst : r->src;
	uint16_t *port = is_icmp(o->proto) ? &r->sport : snat ? &r->dport : &r->sport;
	uint32_t a_lo = 0, a_n = 1, p_lo, p_n, h = ct_hash(o);
	uint16_t keep_port = *port;

	if (!!(nat->flags & CT_NAT_V6) != !!o->v6 && (nat->flags & CT_NAT_ADDR))
		return CT_INV_NAT_EXHAUSTED + 1;	/* family mismatch: nothing fits */
	if (nat->flags & CT_NAT_ADDR) {
		/* IPv6 ranges vary the low 32 bits. */
		size_t off = o->v6 ? 12 : 0;
		uint32_t lo = ct_be32(nat->addr_min + off), hi = ct_be32(nat->addr_max + off);

		memcpy(addr, nat->addr_min, o->v6 ? 16 : 4);
		a_lo = lo;
		a_n = hi >= lo ? hi - lo + 1 : 1;
	}
	if ((nat->flags & CT_NAT_PORT) && has_ports(o->proto)) {
		p_lo = nat->port_min;
		p_n = nat->port_max >= nat->port_min ? nat->port_max - nat->port_min + 1u : 1u;
	} else if (snat && has_ports(o->proto)) {
		/* No range: keep the port if it is free, else any
		 * unprivileged one (as OVS and Linux). */
		p_lo = 1024;
		p_n = 65536 - 1024;
	} else {
		p_lo = 0;
		p_n = 0;
	}
	if (snat)
		c->flags |= CT_C_SNAT;
	else
		c->flags |= CT_C_DNAT;
	for (uint32_t ai = 0; ai < a_n; ai++) {
		if (nat->flags & CT_NAT_ADDR)
			ct_put_be32(addr + (o->v6 ? 12 : 0), a_lo + (h + ai) % a_n);
		/* The original port first, when it is in the range. */
		if (!(nat->flags & CT_NAT_PORT) || p_n == 0 ||
		    (__builtin_bswap16(keep_port) >= p_lo &&
		     __builtin_bswap16(keep_port) < p_lo + p_n)) {
			*port = keep_port;
			if (!ct_tuple_taken(r, c))
				return 0;
		}
		for (uint32_t pi = 0; pi < p_n && pi < NAT_MAX_TRIES; pi++) {
			*port = __builtin_bswap16((uint16_t)(p_lo + (h + pi) % p_n));
			if (!ct_tuple_taken(r, c))
				return 0;
		}
	}
	return CT_INV_NAT_EXHAUSTED + 1;
}

/* ---- rewriting ---- */

static inline uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sum of ~old + new over n bytes (n even), raw words (order-agnostic). */
static uint64_t csum_delta(const uint8_t *old, const uint8_t *new, size_t n)
{
	uint64_t d = 0;

	for (size_t i = 0; i < n; i += 2)
		d += (uint16_t)~ct_ld16(old + i) + (uint64_t)ct_ld16(new + i);
	return d;
}

static inline void csum_apply(uint8_t *field, uint64_t delta)
{
	ct_st16(field, (uint16_t)~csum_fold((uint16_t)~ct_ld16(field) + delta));
}

static uint16_t csum_full(const uint8_t *d, size_t n, uint64_t sum)
{
	for (; n >= 2; d += 2, n -= 2)
		sum += ct_ld16(d);
	if (n) {
		uint8_t last[2] = { d[0], 0 };

		sum += ct_ld16(last);
	}
	return (uint16_t)~csum_fold(sum);
}

/* The L4 checksum field of the packet's L4 header, or NULL (none, or the
 * packet does not hold it). UDP's 0 means "none" and stays 0. */
static uint8_t *l4_csum(uint8_t *l4, uint32_t len, uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP:
		return len >= 18 ? l4 + 16 : NULL;
	case PROTO_UDP:
		return len >= 8 && ct_ld16(l4 + 6) ? l4 + 6 : NULL;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		return len >= 4 ? l4 + 2 : NULL;
	}
	return NULL;
}

/*
 * Rewrite the IP header at ip (and the L4 header at l4, len bytes of it) from
 * tuple `from` to tuple `to` (same family and protocol). pseudo_ok: the L4
 * checksum covers the pseudo-header (not ICMPv4). partial: the guest left the
 * L4 checksum to the device (PKT_F_CSUM_PARTIAL): it holds the pseudo-header
 * sum uncomplemented, so address changes adjust it that way and port
 * changes leave it alone.
 */
static void rewrite(uint8_t *ip, uint8_t *l4, uint32_t len, const struct ct_tuple *from,
		    const struct ct_tuple *to, bool partial, uint8_t *partial_field)
{
	bool v6 = from->v6;
	size_t alen = v6 ? 16 : 4;
	uint8_t *src = ip + (v6 ? 8 : 12), *dst = ip + (v6 ? 24 : 16);
	uint64_t d_addr = 0, d_port = 0;
	uint8_t *cs;

	if (memcmp(src, to->src, alen)) {
		d_addr += csum_delta(src, to->src, alen);
		memcpy(src, to->src, alen);
	}
	if (memcmp(dst, to->dst, alen)) {
		d_addr += csum_delta(dst, to->dst, alen);
		memcpy(dst, to->dst, alen);
	}
	if (!v6 && d_addr)
		csum_apply(ip + 10, d_addr);
	if (!l4)
		return;
	if (is_icmp(from->proto)) {
		/* Echo: the identifier is the "port". */
		if (len >= 8 && ct_ld16(l4 + 4) != to->sport) {
			uint16_t o = ct_ld16(l4 + 4);

			ct_st16(l4 + 4, to->sport);
			d_port += csum_delta((const uint8_t *)&o, (const uint8_t *)&to->sport, 2);
		}
	} else if (has_ports(from->proto) && len >= 4) {
		d_port += csum_delta(l4, (const uint8_t *)&to->sport, 2);
		d_port += csum_delta(l4 + 2, (const uint8_t *)&to->dport, 2);
		memcpy(l4, &to->sport, 2);
		memcpy(l4 + 2, &to->dport, 2);
	}
	if (from->proto == PROTO_ICMP)
		d_addr = 0;	/* no pseudo-header */
	if (partial) {
		if (partial_field && d_addr)
			ct_st16(partial_field, csum_fold((uint64_t)ct_ld16(partial_field) + d_addr));
		return;
	}
	cs = l4_csum(l4, len, from->proto);
	if (cs && (d_addr || d_port)) {
		csum_apply(cs, d_addr + d_port);
		if (from->proto == PROTO_UDP && !ct_ld16(cs))
			ct_st16(cs, 0xffff);
	}
}

static void target(const struct ct_conn *c, int dir, struct ct_tuple *from, struct ct_tuple *to)
{
	const struct ct_tuple *o = &c->node[CT_DIR_ORIG].t, *r = &c->node[CT_DIR_REPLY].t;
	const struct ct_tuple *seen = dir == CT_DIR_ORIG ? o : r;
	const struct ct_tuple *other = dir == CT_DIR_ORIG ? r : o;

	/* A packet of direction dir arrives as `seen` and must leave as the
	 * inverse of the other direction's tuple. */
	*from = *seen;
	memset(to, 0, sizeof(*to));
	memcpy(to->src, other->dst, 16);
	memcpy(to->dst, other->src, 16);
	to->proto = seen->proto;
	to->v6 = seen->v6;
	if (is_icmp(seen->proto)) {
		to->sport = other->sport;
	} else {
		to->sport = other->dport;
		to->dport = other->sport;
	}
}

static uint8_t *partial_field(struct pkt *p)
{
	uint32_t at = (uint32_t)p->csum_start + p->csum_offset;

	if (!(p->flags & PKT_F_CSUM_PARTIAL) || at + 2 > p->len)
		return NULL;
	return p->data + at;
}

static void key_update(struct flow_key *k, const struct ct_tuple *to)
{
	if (to->v6) {
		memcpy(k->ipv6_src, to->src, 16);
		memcpy(k->ipv6_dst, to->dst, 16);
	} else {
		memcpy(&k->nw_src, to->src, 4);
		memcpy(&k->nw_dst, to->dst, 4);
	}
	if (!is_icmp(to->proto) && has_ports(to->proto)) {
		k->tp_src = to->sport;
		k->tp_dst = to->dport;
	}
}

void ct_nat_packet(struct pkt *p, const struct flow_key *k, const struct ct_conn *c, int dir)
{
	struct ct_tuple from, to;
	uint8_t *ip = p->data + p->l3_off;
	uint8_t *l4 = p->l4_off ? p->data + p->l4_off : NULL;
	uint32_t len = p->l4_off && p->len > p->l4_off ? p->len - p->l4_off : 0;

	target(c, dir, &from, &to);
	rewrite(ip, l4, len, &from, &to, p->flags & PKT_F_CSUM_PARTIAL, partial_field(p));
	/* The key follows the packet, so a select group after ct(nat)
	 * hashes what leaves. */
	key_update((struct flow_key *)(uintptr_t)k, &to);
}

void ct_nat_icmp_error(struct pkt *p, const struct flow_key *k, const struct ct_conn *c,
		       int dir, uint32_t inner_off, uint32_t icmp_len)
{
	struct ct_tuple from, to, qfrom, qto;
	uint8_t *ip = p->data + p->l3_off, *icmp = p->data + p->l4_off;
	uint8_t *in = p->data + inner_off, *in_l4;
	bool v6 = c->node[0].t.v6;
	size_t alen = v6 ? 16 : 4;
	uint32_t in_hl, in_len;
	uint8_t *osrc = ip + (v6 ? 8 : 12), *odst = ip + (v6 ? 24 : 16);
	uint64_t d_outer = 0;
	uint8_t new_src[16], new_dst[16];

	(void)k;
	if (inner_off >= p->l4_off + icmp_len)
		return;
	in_len = p->l4_off + icmp_len - inner_off;
	in_hl = v6 ? 40 : (in[0] & 0xfu) * 4;
	if (in_len < in_hl + 8)
		return;
	in_l4 = in + in_hl;
	/* The quote is a packet of the other direction, as it left us. */
	target(c, !dir, &qfrom, &qto);
	/* It left translated: undo, i.e. map qto back to qfrom. */
	from = qto;
	to = qfrom;
	/* Outer addresses: the error goes back to the quote's sender; a host
	 * named by the quote is renamed as the quote is. */
	memcpy(new_src, osrc, alen);
	memcpy(new_dst, odst, alen);
	if (!memcmp(odst, from.src, alen))
		memcpy(new_dst, to.src, alen);
	if (!memcmp(osrc, from.dst, alen))
		memcpy(new_src, to.dst, alen);
	d_outer += csum_delta(osrc, new_src, alen) + csum_delta(odst, new_dst, alen);
	memcpy(osrc, new_src, alen);
	memcpy(odst, new_dst, alen);
	if (!v6)
		csum_apply(ip + 10, d_outer);
	/* The quoted header, its IP checksum and what fits of its L4. */
	rewrite(in, in_l4, in_len - in_hl, &from, &to, false, NULL);
	/* The ICMP checksum covers the whole message (and for ICMPv6 the
	 * outer pseudo-header): recompute it, errors are rare. */
	ct_st16(icmp + 2, 0);
	if (v6) {
		uint64_t ps = 0;
		uint8_t tail[8] = { 0 };

		for (size_t i = 0; i < 32; i += 2)
			ps += ct_ld16(ip + 8 + i);
		ct_put_be32(tail, icmp_len);
		tail[7] = PROTO_ICMPV6;
		ps += ct_ld16(tail) + ct_ld16(tail + 2) + ct_ld16(tail + 4) + ct_ld16(tail + 6);
		ct_st16(icmp + 2, csum_full(icmp, icmp_len, ps));
	} else {
		ct_st16(icmp + 2, csum_full(icmp, icmp_len, 0));
	}
}
