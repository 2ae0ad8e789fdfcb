/*
 * ct() on a batch: tuple from the flow key (and the packet for what the key
 * does not hold: ICMP ids, quoted headers, TCP sequence numbers), lookup,
 * state update, commit, NAT, and the result written back into the key.
 *
 * Runs on PMDs between quiescent states. The lookup is lock-free; a commit
 * takes two stripe locks once per new connection; TCP segments take their
 * connection's lock for the window update.
 */
#include <stdlib.h>

#include "ct_priv.h"
#include "../port/port.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86dd
#define PROTO_ICMP	1
#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_ICMPV6	58

/* What one packet is, as far as conntrack cares. */
struct ct_pkt {
	struct ct_tuple t;
	const uint8_t *l4;	/* L4 header in the packet */
	uint32_t l4_len;	/* by the IP length, not the frame (padding) */
	uint8_t icmp_type;
	bool icmp_error;	/* t is the inverted quoted tuple */
	bool icmp_reply;	/* echo reply: may only match */
	uint32_t inner_off;	/* quoted IP header, from data (errors) */
};

static bool is_icmp_error(bool v6, uint8_t type)
{
	if (v6)
		return type >= 1 && type <= 4;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* Echo request → reply type and back; other types map to themselves. */
static uint8_t icmp_peer_type(bool v6, uint8_t type)
{
	if (v6)
		return type == 128 ? 129 : type == 129 ? 128 : type;
	return type == 8 ? 0 : type == 0 ? 8 : type;
}

/* The L4 length from the IP header; frames may carry Ethernet padding. */
static uint32_t l4_len(const struct pkt *p, bool v6)
{
	const uint8_t *ip = p->data + p->l3_off;
	uint32_t end;

	if (v6)
		end = p->l3_off + 40u + ct_be16(ip + 4);
	else
		end = p->l3_off + (uint32_t)ct_be16(ip + 2);
	if (end > p->len)
		end = p->len;
	return end > p->l4_off ? end - p->l4_off : 0;
}

/* Tuple of the IP packet at ip (len bytes available): addresses and L4 ids.
 * For the quoted header of an ICMP error. */
static int inner_tuple(const uint8_t *ip, uint32_t len, bool v6, struct ct_tuple *t)
{
	uint32_t hl;
	const uint8_t *l4;

	memset(t, 0, sizeof(*t));
	t->v6 = v6;
	if (v6) {
		if (len < 40 || ip[0] >> 4 != 6)
			return -1;
		memcpy(t->src, ip + 8, 16);
		memcpy(t->dst, ip + 24, 16);
		t->proto = ip[6];
		hl = 40;	/* extension headers in quotes are not followed */
	} else {
		if (len < 20 || ip[0] >> 4 != 4 || (ip[0] & 0xf) < 5)
			return -1;
		hl = (ip[0] & 0xfu) * 4;
		memcpy(t->src, ip + 12, 4);
		memcpy(t->dst, ip + 16, 4);
		t->proto = ip[9];
	}
	if (len < hl + 8)
		return -1;
	l4 = ip + hl;
	switch (t->proto) {
	case PROTO_TCP:
	case PROTO_UDP:
	case 132:
		memcpy(&t->sport, l4, 2);
		memcpy(&t->dport, l4 + 2, 2);
		break;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		memcpy(&t->sport, l4 + 4, 2);
		t->dport = (uint16_t)(l4[0] << 8);
		break;
	}
	return 0;
}

static void tuple_invert(struct ct_tuple *r, const struct ct_tuple *t)
{
	memcpy(r->src, t->dst, 16);
	memcpy(r->dst, t->src, 16);
	r->proto = t->proto;
	r->v6 = t->v6;
	r->zone = t->zone;
	if (t->proto == PROTO_ICMP || t->proto == PROTO_ICMPV6) {
		r->sport = t->sport;
		r->dport = (uint16_t)(icmp_peer_type(t->v6, (uint8_t)(t->dport >> 8)) << 8);
	} else {
		r->sport = t->dport;
		r->dport = t->sport;
	}
}

_Static_assert(offsetof(struct ct_tuple, sport) == 32 && offsetof(struct ct_tuple, dport) == 34 &&
	       offsetof(struct ct_tuple, proto) == 36 && offsetof(struct ct_tuple, v6) == 37 &&
	       offsetof(struct ct_tuple, zone) == 38, "pkt_tuple4 writes the tuple as words");

/* pkt_tuple for the common packet, IPv4 TCP or UDP whose L4 header is all
 * there: the tuple as its five words, no byte-wise building. 0 done, -1
 * not such a packet (pkt_tuple works it out). */
static inline int pkt_tuple4(const struct pkt *p, const struct flow_key *k, uint16_t zone,
			     struct ct_pkt *cp)
{
	uint64_t w[5] = { 0 };
	uint32_t len;

	if (k->dl_type != __builtin_bswap16(ETH_P_IP) ||
	    (k->nw_proto != PROTO_TCP && k->nw_proto != PROTO_UDP) ||
	    (k->nw_frag & FLOW_FRAG_ANY) || !p->l3_off || !p->l4_off)
		return -1;
	len = l4_len(p, false);
	if (k->nw_proto == PROTO_TCP ? len < 20 || len < (p->data[p->l4_off + 12] >> 4) * 4u ||
				       (p->data[p->l4_off + 12] >> 4) < 5 : len < 8)
		return -1;
	/* struct ct_tuple's layout, as words (little or big endian alike:
	 * each member lands where memcpy would put it). */
	memcpy(&w[0], &k->nw_src, 4);
	memcpy(&w[2], &k->nw_dst, 4);
	memcpy((uint8_t *)&w[4], &k->tp_src, 2);
	memcpy((uint8_t *)&w[4] + 2, &k->tp_dst, 2);
	((uint8_t *)&w[4])[4] = k->nw_proto;
	memcpy((uint8_t *)&w[4] + 6, &zone, 2);
	memcpy(&cp->t, w, sizeof(w));
	cp->icmp_error = cp->icmp_reply = false;
	cp->l4 = p->data + p->l4_off;
	cp->l4_len = len;
	return 0;
}

/* Fill cp from the packet; a CT_INV reason + 1 if it cannot be tracked.
 * The general case, out of line: pkt_tuple4 first. */
static __attribute__((noinline)) int pkt_tuple(const struct pkt *p, const struct flow_key *k, uint16_t zone,
		     struct ct_pkt *cp)
{
	bool v6 = k->dl_type == __builtin_bswap16(ETH_P_IPV6);
	struct ct_tuple *t = &cp->t;


	if (!v6 && k->dl_type != __builtin_bswap16(ETH_P_IP))
		return CT_INV_NOT_IP + 1;
	if (unlikely(!p->l3_off))
		return CT_INV_TRUNCATED + 1;
	if (unlikely(k->nw_frag & FLOW_FRAG_ANY))
		return CT_INV_FRAGMENT + 1;
	memset(t, 0, sizeof(*t));
	cp->icmp_error = cp->icmp_reply = false;
	t->v6 = v6;
	t->zone = zone;
	t->proto = k->nw_proto;
	if (v6) {
		memcpy(t->src, k->ipv6_src, 16);
		memcpy(t->dst, k->ipv6_dst, 16);
	} else {
		memcpy(t->src, &k->nw_src, 4);
		memcpy(t->dst, &k->nw_dst, 4);
	}
	if (!p->l4_off) {
		/* An IP protocol the parser does not know: addresses only. */
		if (t->proto == PROTO_TCP || t->proto == PROTO_UDP || t->proto == PROTO_ICMP ||
		    t->proto == PROTO_ICMPV6)
			return CT_INV_TRUNCATED + 1;
		return 0;
	}
	cp->l4 = p->data + p->l4_off;
	cp->l4_len = l4_len(p, v6);
	switch (t->proto) {
	case PROTO_TCP:
		if (cp->l4_len < 20 || cp->l4_len < (cp->l4[12] >> 4) * 4u ||
		    (cp->l4[12] >> 4) < 5)
			return CT_INV_TRUNCATED + 1;
		t->sport = k->tp_src;
		t->dport = k->tp_dst;
		return 0;
	case PROTO_UDP:
	case 132:
		if (cp->l4_len < 8)
			return CT_INV_TRUNCATED + 1;
		t->sport = k->tp_src;
		t->dport = k->tp_dst;
		return 0;
	case PROTO_ICMP:
	case PROTO_ICMPV6: {
		uint8_t type;

		if ((t->proto == PROTO_ICMPV6) != v6)
			return 0;
		if (cp->l4_len < 8)
			return CT_INV_TRUNCATED + 1;
		type = cp->l4[0];
		cp->icmp_type = type;
		if (is_icmp_error(v6, type)) {
			struct ct_tuple in;
			uint32_t off = p->l4_off + 8u;

			if (inner_tuple(cp->l4 + 8, cp->l4_len - 8, v6, &in))
				return CT_INV_TRUNCATED + 1;
			/* The quoted packet went the other way: its inverse is
			 * the tuple of this error's direction (and names the
			 * translated side when the quote left us NATed). */
			in.zone = zone;
			tuple_invert(t, &in);
			cp->icmp_error = true;
			cp->inner_off = off;
			return 0;
		}
		if (v6 ? type != 128 && type != 129 : type != 8 && type != 0)
			return CT_INV_ICMP_TYPE + 1;
		cp->icmp_reply = v6 ? type == 129 : type == 0;
		memcpy(&t->sport, cp->l4 + 4, 2);
		t->dport = (uint16_t)(type << 8);
		return 0;
	}
	}
	return 0;
}

static void fill_orig(struct flow_key *k, const struct ct_tuple *o)
{
	k->ct_nw_proto = o->proto;
	if (o->v6) {
		k->ct_nw_src = k->ct_nw_dst = 0;
		memcpy(k->ct_ipv6_src, o->src, 16);
		memcpy(k->ct_ipv6_dst, o->dst, 16);
	} else {
		memcpy(&k->ct_nw_src, o->src, 4);
		memcpy(&k->ct_nw_dst, o->dst, 4);
		memset(k->ct_ipv6_src, 0, 16);
		memset(k->ct_ipv6_dst, 0, 16);
	}
	if (o->proto == PROTO_ICMP || o->proto == PROTO_ICMPV6) {
		/* OVS: ICMP type and code in the transport fields. */
		k->ct_tp_src = __builtin_bswap16((uint16_t)(o->dport >> 8));
		k->ct_tp_dst = 0;
	} else {
		k->ct_tp_src = o->sport;
		k->ct_tp_dst = o->dport;
	}
}

/* Every ct field of the key written once (no clear first: this runs per
 * packet). */
static void key_result(struct flow_key *k, uint8_t state, uint16_t zone, const struct ct_conn *c,
		       const struct ct_tuple *orig)
{
	if (!c && !orig) {
		ct_clear_key(k);
		k->ct_state = state;
		k->ct_zone = zone;
		return;
	}
	k->ct_state = state;
	k->ct_zone = zone;
	if (c) {
		k->ct_mark = __atomic_load_n(&c->mark, __ATOMIC_RELAXED);
		memcpy(k->ct_label, c->label, 16);
		orig = &c->node[CT_DIR_ORIG].t;
	} else {
		k->ct_mark = 0;
		memset(k->ct_label, 0, 16);
	}
	fill_orig(k, orig);
}

/* The verdict into the key, unless no action reads it there. */
static inline void set_result(struct flow_key *k, uint8_t state, const struct ct_action *a,
			      const struct ct_conn *c, const struct ct_tuple *orig)
{
	if (!(a->flags & CT_F_NO_KEY))
		key_result(k, state, a->zone, c, orig);
}

void ct_clear_key(struct flow_key *k)
{
	k->ct_state = 0;
	k->ct_zone = 0;
	k->ct_mark = 0;
	k->ct_nw_proto = 0;
	k->ct_nw_src = k->ct_nw_dst = 0;
	memset(k->ct_ipv6_src, 0, 16);
	memset(k->ct_ipv6_dst, 0, 16);
	k->ct_tp_src = k->ct_tp_dst = 0;
	memset(k->ct_label, 0, 16);
}

static void apply_mark_label(struct ct_conn *c, const struct ct_action *a)
{
	if (a->flags & CT_F_MARK) {
		uint32_t m = __atomic_load_n(&c->mark, __ATOMIC_RELAXED);

		__atomic_store_n(&c->mark, (m & ~a->mark_mask) | (a->mark & a->mark_mask),
				 __ATOMIC_RELAXED);
	}
	if (a->flags & CT_F_LABEL)
		for (int i = 0; i < 16; i++)
			c->label[i] = (uint8_t)((c->label[i] & ~a->label_mask[i]) |
						(a->label[i] & a->label_mask[i]));
}

static enum ct_tmo other_tmo(const struct ct_conn *c)
{
	bool seen = c->flags & CT_C_SEEN_REPLY;

	switch (c->node[0].t.proto) {
	case PROTO_UDP:
		return seen ? CT_TMO_UDP_STREAM : CT_TMO_UDP_FIRST;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		return CT_TMO_ICMP;
	default:
		return seen ? CT_TMO_OTHER_STREAM : CT_TMO_OTHER_FIRST;
	}
}

#define INV(pmd, reason) COUNTER_ADD((pmd)->invalid[reason], 1)

/* A new connection for cp (h: its tuple's hash): returns its original
 * node, or NULL with the packet's verdict in *state. */
static struct ct_node *commit_new(struct ct_pmd *pmd, const struct ct_pkt *cp, uint32_t h,
				  const struct ct_action *a, uint64_t now, uint8_t *state,
				  int *tries)
{
	enum ct_inv why = CT_INV_NO_MEMORY;
	struct ct_conn *c = ct_conn_alloc(pmd, cp->t.zone, cp->t.proto, &why);
	struct ct_node *other;
	int r;

	if (!c)
		goto invalid;
	c->node[CT_DIR_ORIG].t = cp->t;
	tuple_invert(&c->node[CT_DIR_REPLY].t, &cp->t);
	if (cp->t.proto == PROTO_TCP) {
		r = ct_tcp_new(c, cp->l4, cp->l4_len);
		if (r) {
			why = (enum ct_inv)(r - 1);
			goto free;
		}
	}
	if ((a->flags & CT_F_NAT) && (a->nat.flags & (CT_NAT_SRC | CT_NAT_DST))) {
		r = ct_nat_setup(c, &a->nat);
		if (r) {
			why = (enum ct_inv)(r - 1);
			goto free;
		}
	}
	apply_mark_label(c, a);
	ct_conn_touch(c, cp->t.proto == PROTO_TCP ? ct_tcp_tmo(c) : other_tmo(c), now);
	other = ct_conn_insert(c, h);
	if (unlikely(other)) {
		/* c is gone. Another PMD created this connection first, or
		 * took the translated tuple NAT picked for it: then pick again
		 * (bounded: the table only grows so fast). */
		if (ct_tuple_eq(&other->t, &cp->t))
			return other;
		if (++*tries > 3) {
			INV(pmd, CT_INV_NAT_EXHAUSTED);
			*state = CS_TRACKED | CS_INVALID;
			return NULL;
		}
		return commit_new(pmd, cp, h, a, now, state, tries);
	}
	COUNTER_ADD(pmd->n_created, 1);
	return &c->node[CT_DIR_ORIG];
free:
	ct_conn_free_now(c);
invalid:
	INV(pmd, why);
	*state = CS_TRACKED | CS_INVALID;
	return NULL;
}

/* An ICMP error: +rel to the connection it quotes, translated with it. */
static void related(struct ct_pmd *pmd, struct pkt *p, struct flow_key *k,
		    const struct ct_pkt *cp, const struct ct_action *a)
{
	struct ct_node *n = ct_lookup(&cp->t, ct_hash(&cp->t));
	struct ct_conn *c;
	uint8_t state;
	int dir;

	if (!n) {
		INV(pmd, CT_INV_ICMP_TYPE);
		set_result(k, CS_TRACKED | CS_INVALID, a, NULL, NULL);
		return;
	}
	c = ct_node_conn(n);
	dir = n->dir;
	state = CS_TRACKED | CS_RELATED | (dir == CT_DIR_REPLY ? CS_REPLY_DIR : 0);
	if ((a->flags & CT_F_NAT) && (c->flags & (CT_C_SNAT | CT_C_DNAT))) {
		ct_nat_icmp_error(p, k, c, dir, cp->inner_off, cp->l4_len);
		state |= (c->flags & CT_C_SNAT ? CS_SRC_NAT : 0) |
			 (c->flags & CT_C_DNAT ? CS_DST_NAT : 0);
	}
	if (a->flags & CT_F_COMMIT)
		apply_mark_label(c, a);
	set_result(k, state, a, c, NULL);
}

/* One packet whose tuple (cp, hash h) or failure to have one (r) the batch
 * loop worked out. known: the node a lookup of cp->t would find (the
 * previous packet of the batch had the same tuple), or NULL to look it up.
 * Returns the node the packet ended on when its verdict came from a live
 * connection, NULL otherwise. */
static inline __attribute__((always_inline)) struct ct_node *
ct_one(struct ct_pmd *pmd, struct pkt *p, struct flow_key *k, const struct ct_action *a,
       uint64_t now, const struct ct_pkt *cp, int r, uint32_t h, struct ct_node *known)
{
	struct ct_node *n;
	struct ct_conn *c;
	uint8_t state;
	int dir, tries = 0;

	if (unlikely(r)) {
		INV(pmd, r - 1);
		set_result(k, CS_TRACKED | CS_INVALID, a, NULL, NULL);
		return NULL;
	}
	if (unlikely(cp->icmp_error)) {
		related(pmd, p, k, cp, a);
		return NULL;
	}
	n = known;
	if (!n) {
again:
		n = ct_lookup(&cp->t, h);
	}
	if (!n) {
		if (cp->icmp_reply) {
			INV(pmd, CT_INV_ICMP_TYPE);
			set_result(k, CS_TRACKED | CS_INVALID, a, NULL, NULL);
			return NULL;
		}
		if (cp->t.proto == PROTO_TCP) {
			uint8_t fl = cp->l4[13];

			/* A connection starts with a SYN (OVS; Linux's loose
			 * pickup of mid-stream ACKs is off here on purpose). */
			if (!ct_tcp_valid_flags(fl) || (fl & 0x16) != 0x02) {
				INV(pmd, ct_tcp_valid_flags(fl) ? CT_INV_TCP_NO_SYN :
				    CT_INV_TCP_FLAGS);
				set_result(k, CS_TRACKED | CS_INVALID, a, NULL, NULL);
				return NULL;
			}
		}
		COUNTER_ADD(pmd->n_lookups_new, 1);
		if (!(a->flags & CT_F_COMMIT)) {
			/* +new, but nothing is created until a commit. */
			set_result(k, CS_TRACKED | CS_NEW, a, NULL, &cp->t);
			return NULL;
		}
		state = 0;
		n = commit_new(pmd, cp, h, a, now, &state, &tries);
		if (!n) {
			set_result(k, state, a, NULL, NULL);
			return NULL;
		}
		if (n->dir == CT_DIR_ORIG && !(ct_node_conn(n)->flags & CT_C_SEEN_REPLY)) {
			c = ct_node_conn(n);
			state = CS_TRACKED | CS_NEW;
			goto nat;
		}
		/* Lost the race to a reply-direction packet: fall through. */
	}
	c = ct_node_conn(n);
	dir = n->dir;
	if (unlikely((a->flags & CT_F_FORCE) && dir == CT_DIR_REPLY && (a->flags & CT_F_COMMIT))) {
		/* force: a packet in the reply direction of an existing
		 * connection ends it and starts one the other way. */
		ct_conn_unlink(c);
		goto again;
	}
	if (cp->t.proto == PROTO_TCP) {
		int kill;

		ct_spin_lock(&c->lock);
		r = ct_tcp_update(c, dir, cp->l4, cp->l4_len, &kill);
		ct_spin_unlock(&c->lock);
		if (unlikely(kill == CT_TCP_REOPEN)) {
			ct_conn_unlink(c);
			goto again;
		}
		if (unlikely(kill == CT_TCP_REMOVE))
			ct_conn_unlink(c);
		if (unlikely(r)) {
			INV(pmd, r - 1);
			set_result(k, CS_TRACKED | CS_INVALID, a, NULL, NULL);
			return NULL;
		}
		ct_conn_touch(c, ct_tcp_tmo(c), now);
	} else {
		if (dir == CT_DIR_REPLY && !(c->flags & CT_C_SEEN_REPLY))
			__atomic_or_fetch(&c->flags, CT_C_SEEN_REPLY, __ATOMIC_RELAXED);
		ct_conn_touch(c, other_tmo(c), now);
	}
	if (dir == CT_DIR_REPLY)
		state = CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR;
	else if (c->flags & CT_C_SEEN_REPLY)
		state = CS_TRACKED | CS_ESTABLISHED;
	else
		state = CS_TRACKED | CS_NEW;
	if (a->flags & CT_F_COMMIT)
		apply_mark_label(c, a);
nat:
	if ((a->flags & CT_F_NAT) && (c->flags & (CT_C_SNAT | CT_C_DNAT))) {
		ct_nat_packet(p, k, c, n->dir);
		state |= (c->flags & CT_C_SNAT ? CS_SRC_NAT : 0) |
			 (c->flags & CT_C_DNAT ? CS_DST_NAT : 0);
	}
	set_result(k, state, a, c, NULL);
	return n;
}

/* The key's ct fields, ct_mark through ct_label: what set_result writes. */
#define CT_KEY_FROM	offsetof(struct flow_key, ct_mark)
#define CT_KEY_LEN	(offsetof(struct flow_key, ct_label) + 16 - CT_KEY_FROM)

/*
 * A packet with the same tuple as the previous one of the batch, which left
 * a live connection n behind, and that is not TCP (whose every segment moves
 * the window state). Its verdict is the previous packet's: the same
 * connection in the same direction, seen-reply already set, the expiry
 * already moved to this batch's clock, mark and label already applied (they
 * are idempotent). Only the NAT rewrite is per packet.
 */
static void ct_repeat(struct pkt *p, struct flow_key *k, const struct flow_key *prev,
		      const struct ct_action *a, const struct ct_node *n)
{
	const struct ct_conn *c = ct_node_conn(n);

	if ((a->flags & CT_F_NAT) && (c->flags & (CT_C_SNAT | CT_C_DNAT)))
		ct_nat_packet(p, k, c, n->dir);
	if (!(a->flags & CT_F_NO_KEY) && k != prev)
		memcpy((uint8_t *)k + CT_KEY_FROM, (const uint8_t *)prev + CT_KEY_FROM, CT_KEY_LEN);
}

/* Is this IPv4 UDP packet's tuple the previous one's (prev, which had a
 * tuple; zone included: one action)? Told from the keys, without building
 * and comparing tuples; the caller compared nw_dst. 1 yes (only the
 * packet's own length checked: own() fills its ct_pkt if it needs one), 0
 * no (both IPv4 UDP, their tuple fields differ), -1 not both IPv4 UDP, so
 * the keys cannot say. */
static int udp4_same(const struct pkt *p, const struct flow_key *k, const struct flow_key *pk)
{
	if (k->nw_proto != PROTO_UDP || pk->nw_proto != PROTO_UDP ||
	    k->dl_type != __builtin_bswap16(ETH_P_IP) || pk->dl_type != k->dl_type ||
	    (k->nw_frag & FLOW_FRAG_ANY) || !p->l3_off || !p->l4_off)
		return -1;
	if (k->nw_src != pk->nw_src || k->tp_src != pk->tp_src || k->tp_dst != pk->tp_dst)
		return 0;
	return l4_len(p, false) >= 8 ? 1 : -1;
}

/* cp[i] for packet p, which has the tuple of cp[from]: the rest from its
 * own bytes (TCP sequence numbers, options; the L4 length). */
static void own(struct ct_pkt *cp, uint16_t i, uint16_t from, const struct pkt *p)
{
	if (i == from)
		return;
	cp[i] = cp[from];
	cp[i].l4 = p->data + p->l4_off;
	cp[i].l4_len = l4_len(p, cp[i].t.v6);
}

static inline bool conn_alive(const struct ct_node *n)
{
	return n && !(__atomic_load_n(&ct_node_conn(n)->flags, __ATOMIC_RELAXED) & CT_C_DEAD);
}

/* Tuples and hashes of the whole batch first, prefetching each bucket head,
 * so the table's cache misses overlap instead of following one another. A
 * packet with its predecessor's tuple (a burst of one flow) is neither
 * hashed nor looked up again: it reuses the node the predecessor ended on
 * (safe: both run between the same two quiescent states, and a connection
 * unlinked meanwhile is DEAD and looked up afresh); its tuple is the one in
 * cp[src[i]]. With groups (sh, bit i: packet i shares packet i - 1's key,
 * ct.h), the packets after packet i that share its key, up to end[i], are
 * not even looked at: theirs is its tuple, and, when it ended on a
 * connection and they are not TCP, its verdict (one burst of one flow; a
 * connection another thread unlinks meanwhile goes after the burst).
 * groups is a constant in each caller: a burst without shared keys pays
 * nothing for them. */
static inline __attribute__((always_inline)) void
ct_burst(struct ct_pmd *pmd, struct pkt **pkts, struct flow_key **keys, uint16_t m,
	 const struct ct_action *a, uint64_t now_ms, uint64_t sh, const bool groups,
	 struct flow_key *store)
{
	struct ct_pkt cp[PKT_BURST];
	uint32_t h[PKT_BURST];
	int r[PKT_BURST];
	bool same[PKT_BURST];
	uint8_t src[PKT_BURST], end[PKT_BURST];
	struct ct_node *last = NULL;
	uint16_t i, head = 0;

	for (i = 0; i < m; i = groups ? end[i] : (uint16_t)(i + 1)) {
		/* Only a packet with the previous one's nw_dst is compared
		 * at all: where flows differ, that differs (flowgen, a
		 * fan-out); a false "differs" only costs the reuse. */
		bool cand = i && !r[head] && keys[i]->nw_dst == keys[i - 1]->nw_dst;
		int u = cand ? udp4_same(pkts[i], keys[i], keys[i - 1]) : 0;
		uint16_t j = (uint16_t)(i + 1);

		if (u > 0) {
			src[i] = src[head];
			r[i] = 0;
			same[i] = true;
			h[i] = h[head];
		} else {
			src[i] = (uint8_t)i;
			r[i] = likely(!pkt_tuple4(pkts[i], keys[i], a->zone, &cp[i])) ? 0 :
			       pkt_tuple(pkts[i], keys[i], a->zone, &cp[i]);
			same[i] = u < 0 && !r[i] && !cp[i].icmp_error &&
				  ct_tuple_eq(&cp[i].t, &cp[src[head]].t);
			if (same[i]) {
				h[i] = h[head];
			} else if (!r[i]) {
				h[i] = ct_hash(&cp[i].t);
				prefetch0(&ct_tab.buckets[h[i] & ct_tab.mask]);
			}
		}
		/* The same 64 header bytes and length (parse.h): the same
		 * tuple, unless an ICMP error's quote (further in) made it. */
		if (groups) {
			if (unlikely(sh >> j & 1) && !r[i] && !cp[src[i]].icmp_error)
				j = (uint16_t)(j + __builtin_ctzll(~(sh >> j)));
			end[i] = (uint8_t)j;
		}
		head = i;
	}
	for (i = 0; i < m;) {
		struct ct_node *known = NULL;
		uint16_t e;

		if (same[i] && conn_alive(last)) {
			if (likely(cp[src[i]].t.proto != PROTO_TCP)) {
				ct_repeat(pkts[i], keys[i], keys[i - 1], a, last);
				goto next;
			}
			known = last;
		}
		own(cp, i, src[i], pkts[i]);
		last = ct_one(pmd, pkts[i], keys[i], a, now_ms, &cp[i], r[i], h[i], known);
next:
		i++;
		if (!groups || likely(!(sh >> i & 1)) || (e = end[i - 1]) == i)
			continue;
		if (likely(cp[src[i - 1]].t.proto != PROTO_TCP) && conn_alive(last)) {
			/* The rest share this key, verdict and all: only a NAT
			 * rewrite is per packet. */
			const struct ct_conn *c = ct_node_conn(last);

			if ((a->flags & CT_F_NAT) && (c->flags & (CT_C_SNAT | CT_C_DNAT)))
				for (; i < e; i++)
					ct_nat_packet(pkts[i], keys[i], c, last->dir);
			i = e;
			continue;
		}
		/* Each of them on its own (TCP: every segment moves the
		 * window), with this one's tuple, and its own key where the
		 * verdict is written (ct.h). */
		for (uint16_t f = i; f < e && f < PKT_BURST; f++) {
			src[f] = src[i - 1];
			r[f] = 0;
			same[f] = true;
			h[f] = h[i - 1];
			end[f] = (uint8_t)(f + 1);
			if (store && !(a->flags & CT_F_NO_KEY)) {
				store[f] = *keys[f];
				keys[f] = &store[f];
			}
		}
	}
}

void ct_execute_store(struct ct_pmd *pmd, struct pkt **pkts, struct flow_key **keys, uint16_t n,
		      const struct ct_action *a, uint64_t now_ms, struct flow_key *store)
{
	COUNTER_ADD(pmd->n_packets, n);
	while (n) {
		uint16_t m = MIN(n, PKT_BURST);
		uint64_t sh = 0;

		/* Keys are shared only under CT_F_NO_KEY or with a store. */
		if ((a->flags & CT_F_NO_KEY) || store)
			for (uint16_t i = 1; i < m; i++)
				sh |= (uint64_t)(keys[i] == keys[i - 1]) << i;
		if (sh)
			ct_burst(pmd, pkts, keys, m, a, now_ms, sh, true, store);
		else
			ct_burst(pmd, pkts, keys, m, a, now_ms, 0, false, NULL);
		pkts += m;
		keys += m;
		if (store)
			store += m;
		n = (uint16_t)(n - m);
	}
}

void ct_execute(struct ct_pmd *pmd, struct pkt **pkts, struct flow_key **keys, uint16_t n,
		const struct ct_action *a, uint64_t now_ms)
{
	ct_execute_store(pmd, pkts, keys, n, a, now_ms, NULL);
}
