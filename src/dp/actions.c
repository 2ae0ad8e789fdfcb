/*
 * Execution of dpact lists (dpact.h): header rewrites with incremental
 * checksums, VLAN and MPLS push/pop, TTL decrements, outputs and copies,
 * groups and meters. Runs on PMD threads; no locks (except a metered flow's
 * once-per-batch meter lock), atomics or allocations per packet other than the
 * copies mirroring needs, taken from the PMD's own pool.
 *
 * A batch is executed action by action: each record is decoded once and
 * applied to every packet, so a burst of one flow pays the dispatch once.
 * Packets that must be dropped are freed and squeezed out of the batch.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "dpact.h"
#include "group.h"
#include "meter.h"
#include "../l3/l3.h"
#include "../tnl/tnl.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86dd
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88a8
#define ETH_P_MPLS_UC	0x8847
#define ETH_P_MPLS_MC	0x8848
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_	58
#define IPPROTO_SCTP_	132
#define MPLS_BOS	0x100u		/* in the host-order LSE */

#define OK		(-1)		/* per-packet result: keep going */

const char *const dpact_drop_names[DPACT_DROP_MAX] = {
#define X(e, s) [DPACT_DROP_##e] = s,
	DPACT_DROP_REASONS(X)
#undef X
};

const uint16_t dpact_sizes[DPACT_N_TYPES] = {
#define X(e, s) [DPACT_##e] = sizeof(s),
	DPACT_TYPES(X)
#undef X
};

struct batch {
	uint16_t n;
	struct pkt *p[PKT_BURST];
	const struct flow_key *k[PKT_BURST];
};

/* ---- byte access (packet headers are not aligned) ---- */

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- ones-complement checksums ----
 * All 16-bit words are raw loads (network order in memory); ones-complement
 * sums are byte-order independent as long as every operand has the same
 * order, so no swapping is needed. */

static inline uint16_t csum_fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Contribution of replacing word `old` by `new`: ~m + m' (RFC 1624). */
static inline uint32_t csum_delta16(uint16_t old, uint16_t new)
{
	return (uint32_t)(uint16_t)~old + new;
}

static inline uint32_t csum_delta32(uint32_t old, uint32_t new)
{
	return csum_delta16((uint16_t)old, (uint16_t)new) +
	       csum_delta16((uint16_t)(old >> 16), (uint16_t)(new >> 16));
}

/* Apply a delta to a final (complemented) checksum: HC' = ~(~HC + delta). */
static inline uint16_t csum_apply(uint16_t hc, uint64_t delta)
{
	return (uint16_t)~csum_fold((uint64_t)(uint16_t)~hc + delta);
}

/*
 * Adjust an L4 checksum for a change of `delta` in the pseudo-header (or, with
 * pseudo false, in the L4 header or data). With PKT_F_CSUM_PARTIAL the field
 * holds the uncomplemented pseudo-header sum the device will finish: add the
 * delta uncomplemented for a pseudo-header change, and leave it for data (the
 * device sums the data itself). The same rule as Linux
 * inet_proto_csum_replace4().
 */
static void l4_csum_adjust(struct pkt *p, uint8_t proto, uint64_t delta, bool pseudo)
{
	uint8_t *l4 = p->data + p->l4_off;
	uint16_t off, c;

	if (unlikely(p->flags & PKT_F_CSUM_PARTIAL)) {
		uint32_t at = (uint32_t)p->csum_start + p->csum_offset;

		/* Only the Internet checksum has a pseudo-header; a partial
		 * SCTP CRC (csum_not_inet) is left to the device. */
		if (!pseudo || at + 2 > p->len ||
		    (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_ && proto != IPPROTO_ICMPV6_))
			return;
		c = ld16(p->data + at);
		st16(p->data + at, csum_fold((uint64_t)c + delta));
		return;
	}
	switch (proto) {
	case IPPROTO_TCP_:
		off = 16;
		break;
	case IPPROTO_UDP_:
		off = 6;
		break;
	case IPPROTO_ICMPV6_:
		off = 2;
		break;
	default:
		return;		/* ICMPv4 and SCTP have no pseudo-header */
	}
	if (!p->l4_off || p->l4_off + off + 2u > p->len)
		return;
	c = ld16(l4 + off);
	if (proto == IPPROTO_UDP_) {
		if (c == 0)
			return;	/* no checksum: stays none */
		c = csum_apply(c, delta);
		st16(l4 + off, c ? c : 0xffff);
		return;
	}
	st16(l4 + off, csum_apply(c, delta));
}

/* ---- CRC32c for SCTP (RFC 4960 appendix B) ---- */

#if !defined(__SSE4_2__)
static uint32_t crc32c_tab[256];

static void __attribute__((constructor)) crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc32c_tab[i] = c;
	}
}
#endif

static uint32_t crc32c(uint32_t crc, const uint8_t *d, size_t n)
{
#if defined(__SSE4_2__) && defined(__x86_64__)
	uint64_t c = crc;

	for (; n >= 8; d += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, d, 8);
		c = _mm_crc32_u64(c, v);
	}
	crc = (uint32_t)c;
	for (; n; d++, n--)
		crc = _mm_crc32_u8(crc, *d);
#else
	for (; n; d++, n--)
		crc = crc32c_tab[(crc ^ *d) & 0xff] ^ (crc >> 8);
#endif
	return crc;
}

/* ---- offsets ---- */

/* Will shifting l3_off/l4_off by +4 still fit their uint8_t? */
static inline bool offsets_fit(const struct pkt *p)
{
	return p->l3_off <= 251 && p->l4_off <= 251;
}

/* n bytes were inserted at `at` (n > 0) or the bytes [at, at - n) removed
 * (n < 0): move the offsets beyond so they name the same bytes. An offset
 * inside a removed range loses its header (0). */
static inline uint16_t shift_off(uint16_t off, uint16_t at, int n)
{
	if (!off || off < at)
		return off;
	if (n < 0 && off < at - n)
		return 0;
	return (uint16_t)(off + n);
}

static inline void shift_offsets(struct pkt *p, uint16_t at, int n)
{
	p->l3_off = (uint8_t)shift_off(p->l3_off, at, n);
	p->l4_off = (uint8_t)shift_off(p->l4_off, at, n);
	if (p->flags & PKT_F_CSUM_PARTIAL)
		p->csum_start = shift_off(p->csum_start, at, n);
}

/* Offset of the innermost ethertype field after up to two VLAN tags, or 0
 * if the frame is too short. */
static inline uint16_t eth_type_off(const struct pkt *p)
{
	uint16_t off = 12;

	if (unlikely(p->len < ETH_HLEN))
		return 0;
	for (int i = 0; i < 2; i++) {
		uint16_t t = be16(p->data + off);

		if (t != ETH_P_8021Q && t != ETH_P_8021AD)
			break;
		if (unlikely(p->len < off + 4 + 2))
			return 0;
		off += 4;
	}
	return off;
}

static inline bool is_mpls(uint16_t t)
{
	return t == ETH_P_MPLS_UC || t == ETH_P_MPLS_MC;
}

/* ---- per-packet actions: return OK or a drop reason ---- */

static inline void masked_bytes(uint8_t *dst, const uint8_t *v, const uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (uint8_t)((dst[i] & ~m[i]) | v[i]);
}

static int set_eth(struct pkt *p, const struct dpact_set_eth *a)
{
	if (unlikely(p->len < ETH_HLEN))
		return DPACT_DROP_NO_HEADER;
	masked_bytes(p->data, a->dst, a->dst_mask, 6);
	masked_bytes(p->data + 6, a->src, a->src_mask, 6);
	return OK;
}

static inline uint8_t *ipv4_hdr(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;

	if (unlikely(!p->l3_off || p->l3_off + 20u > p->len || (ip[0] >> 4) != 4))
		return NULL;
	return ip;
}

static inline uint8_t *ipv6_hdr(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;

	if (unlikely(!p->l3_off || p->l3_off + 40u > p->len || (ip[0] >> 4) != 6))
		return NULL;
	return ip;
}

/* Does the packet carry the L4 header (not a later fragment)? */
static inline bool ipv4_has_l4(const struct pkt *p, const uint8_t *ip)
{
	return p->l4_off && !(be16(ip + 6) & 0x1fff);
}

static int set_ipv4(struct pkt *p, const struct dpact_set_ipv4 *a)
{
	uint8_t *ip = ipv4_hdr(p);
	uint64_t d_ip = 0, d_l4 = 0;

	if (!ip)
		return DPACT_DROP_NO_HEADER;
	if (a->src_mask) {
		uint32_t o = ld32(ip + 12), n = (o & ~a->src_mask) | a->src;

		st32(ip + 12, n);
		d_l4 += csum_delta32(o, n);
	}
	if (a->dst_mask) {
		uint32_t o = ld32(ip + 16), n = (o & ~a->dst_mask) | a->dst;

		st32(ip + 16, n);
		d_l4 += csum_delta32(o, n);
	}
	d_ip = d_l4;
	if (a->tos_mask) {
		uint16_t o = ld16(ip);

		ip[1] = (uint8_t)((ip[1] & ~a->tos_mask) | a->tos);
		d_ip += csum_delta16(o, ld16(ip));
	}
	if (a->ttl_mask) {
		uint16_t o = ld16(ip + 8);

		ip[8] = (uint8_t)((ip[8] & ~a->ttl_mask) | a->ttl);
		d_ip += csum_delta16(o, ld16(ip + 8));
	}
	st16(ip + 10, csum_apply(ld16(ip + 10), d_ip));
	if (d_l4 && (ipv4_has_l4(p, ip) || (p->flags & PKT_F_CSUM_PARTIAL)))
		l4_csum_adjust(p, ip[9], d_l4, true);
	return OK;
}

/* set_ipv4 of the TTL alone (mod_nw_ttl, the usual one; mask non-zero): the
 * same checksum arithmetic without the per-packet tests of the other
 * fields' masks. */
static inline int set_ipv4_ttl(struct pkt *p, uint8_t ttl, uint8_t mask)
{
	uint8_t *ip = ipv4_hdr(p);
	uint16_t o;

	if (!ip)
		return DPACT_DROP_NO_HEADER;
	o = ld16(ip + 8);
	ip[8] = (uint8_t)((ip[8] & ~mask) | ttl);
	st16(ip + 10, csum_apply(ld16(ip + 10), csum_delta16(o, ld16(ip + 8))));
	return OK;
}
static int set_ipv6(struct pkt *p, const struct flow_key *k, const struct dpact_set_ipv6 *a)
{
	uint8_t *ip = ipv6_hdr(p);
	uint64_t d_l4 = 0;

	if (!ip)
		return DPACT_DROP_NO_HEADER;
	for (int f = 0; f < 2; f++) {
		const uint8_t *v = f ? a->dst : a->src, *m = f ? a->dst_mask : a->src_mask;
		uint8_t *addr = ip + (f ? 24 : 8);

		for (int w = 0; w < 16; w += 4) {
			uint32_t mw = ld32(m + w), o, n;

			if (!mw)
				continue;
			o = ld32(addr + w);
			n = (o & ~mw) | ld32(v + w);
			st32(addr + w, n);
			d_l4 += csum_delta32(o, n);
		}
	}
	if (a->tc_mask || a->label_mask) {
		/* version(4) tc(8) label(20), host order */
		uint32_t w = __builtin_bswap32(ld32(ip));
		uint32_t m = (uint32_t)a->tc_mask << 20 | (__builtin_bswap32(a->label_mask) & 0xfffff);
		uint32_t v = (uint32_t)a->tc << 20 | (__builtin_bswap32(a->label) & 0xfffff);

		st32(ip, __builtin_bswap32((w & ~m) | (v & m)));
	}
	if (a->hlim_mask)
		ip[7] = (uint8_t)((ip[7] & ~a->hlim_mask) | a->hlim);
	/* The upper-layer protocol comes from the key: ip[6] may name an
	 * extension header. */
	if (d_l4 && (p->l4_off || (p->flags & PKT_F_CSUM_PARTIAL)) &&
	    !(k->nw_frag & FLOW_FRAG_LATER))
		l4_csum_adjust(p, k->nw_proto, d_l4, true);
	return OK;
}

static int set_l4(struct pkt *p, const struct flow_key *k, const struct dpact_set_l4 *a)
{
	uint8_t *l4 = p->data + p->l4_off;
	uint64_t d = 0;
	uint16_t o, n;

	if (unlikely(!p->l4_off || p->l4_off + 8u > p->len || (k->nw_frag & FLOW_FRAG_LATER)))
		return DPACT_DROP_NO_HEADER;
	if (a->proto == IPPROTO_SCTP_ && unlikely(k->nw_frag & FLOW_FRAG_ANY))
		return DPACT_DROP_SCTP_FRAG;
	o = ld16(l4);
	n = (uint16_t)((o & ~a->src_mask) | a->src);
	st16(l4, n);
	d += csum_delta16(o, n);
	o = ld16(l4 + 2);
	n = (uint16_t)((o & ~a->dst_mask) | a->dst);
	st16(l4 + 2, n);
	d += csum_delta16(o, n);
	if (a->proto == IPPROTO_SCTP_) {
		uint32_t crc;

		if (p->flags & PKT_F_CSUM_PARTIAL)
			return OK;	/* the device computes the CRC */
		if (p->l4_off + 12u > p->len)
			return DPACT_DROP_NO_HEADER;
		st32(l4 + 8, 0);
		crc = ~crc32c(0xffffffffu, l4, p->len - p->l4_off);
		/* Stored least significant byte first (RFC 4960 appendix B,
		 * as Linux sctp_compute_cksum). */
		l4[8] = (uint8_t)crc;
		l4[9] = (uint8_t)(crc >> 8);
		l4[10] = (uint8_t)(crc >> 16);
		l4[11] = (uint8_t)(crc >> 24);
		return OK;
	}
	l4_csum_adjust(p, a->proto, d, false);
	return OK;
}

static int set_vlan(struct pkt *p, const struct dpact_vlan *a)
{
	uint16_t t;

	if (unlikely(p->len < ETH_HLEN + 4))
		return DPACT_DROP_NO_HEADER;
	t = be16(p->data + 12);
	if (t != ETH_P_8021Q && t != ETH_P_8021AD)
		return DPACT_DROP_NO_HEADER;
	st16(p->data + 14, (uint16_t)((ld16(p->data + 14) & ~a->mask) | a->tci));
	return OK;
}

static int push_vlan(struct pkt *p, const struct dpact_vlan *a)
{
	uint8_t *d;

	if (unlikely(p->len < ETH_HLEN))
		return DPACT_DROP_NO_HEADER;
	if (unlikely(!offsets_fit(p)))
		return DPACT_DROP_OFFSET_OVERFLOW;
	d = pkt_push(p, 4);
	if (unlikely(!d))
		return DPACT_DROP_NO_HEADROOM;
	memmove(d, d + 4, 12);
	put_be16(d + 12, a->tpid);
	st16(d + 14, a->tci);
	shift_offsets(p, 12, 4);
	return OK;
}

static int pop_vlan(struct pkt *p)
{
	uint16_t t;

	if (unlikely(p->len < ETH_HLEN + 4))
		return OK;
	t = be16(p->data + 12);
	if (t != ETH_P_8021Q && t != ETH_P_8021AD)
		return OK;	/* untagged: nothing to pop (OVS does the same) */
	memmove(p->data + 4, p->data, 12);
	pkt_pull(p, 4);
	shift_offsets(p, 12, -4);
	return OK;
}

static int push_mpls(struct pkt *p, const struct dpact_mpls *a)
{
	uint16_t eo = eth_type_off(p), t;
	uint32_t lse = __builtin_bswap32(a->lse) & ~(MPLS_BOS | 0xffu);
	uint32_t ttl = __builtin_bswap32(a->lse) & 0xff;
	const uint8_t *in;
	uint8_t *d;

	if (unlikely(!eo))
		return DPACT_DROP_NO_HEADER;
	t = be16(p->data + eo);
	in = p->data + eo + 2;
	if (is_mpls(t)) {
		if (p->len >= eo + 6)
			ttl = in[3];
	} else {
		lse |= MPLS_BOS;
		if (t == ETH_P_IP && p->len >= eo + 2 + 20)
			ttl = in[8];
		else if (t == ETH_P_IPV6 && p->len >= eo + 2 + 40)
			ttl = in[7];
	}
	if (unlikely(!offsets_fit(p)))
		return DPACT_DROP_OFFSET_OVERFLOW;
	d = pkt_push(p, 4);
	if (unlikely(!d))
		return DPACT_DROP_NO_HEADROOM;
	memmove(d, d + 4, eo);
	put_be16(d + eo, a->ethertype);
	st32(d + eo + 2, __builtin_bswap32(lse | ttl));
	shift_offsets(p, eo + 2, 4);
	return OK;
}

static int pop_mpls(struct pkt *p, const struct dpact_mpls *a)
{
	uint16_t eo = eth_type_off(p);
	uint32_t lse;

	if (unlikely(!eo || p->len < eo + 6 || !is_mpls(be16(p->data + eo))))
		return DPACT_DROP_NO_HEADER;
	lse = __builtin_bswap32(ld32(p->data + eo + 2));
	if (likely(eo == 12)) {
		/* Untagged: the MACs as two fixed loads and stores, not a
		 * memmove call (~15 instructions a packet, callgrind). */
		uint64_t m8;
		uint32_t m4;

		memcpy(&m8, p->data, 8);
		memcpy(&m4, p->data + 8, 4);
		memcpy(p->data + 4, &m8, 8);
		memcpy(p->data + 12, &m4, 4);
	} else {
		memmove(p->data + 4, p->data, eo);
	}
	pkt_pull(p, 4);
	put_be16(p->data + eo, a->ethertype);
	shift_offsets(p, eo + 2, -4);
	/* Popping the bottom label reveals the payload: name its headers if
	 * the parser stopped at the label stack. */
	if ((lse & MPLS_BOS) && (p->l3_off == 0 || p->l3_off == eo + 2)) {
		const uint8_t *ip = p->data + eo + 2;

		p->l3_off = (uint8_t)(eo + 2);
		p->l4_off = 0;
		if (a->ethertype == ETH_P_IP && p->len >= eo + 2 + 20 && (ip[0] >> 4) == 4) {
			if (!(be16(ip + 6) & 0x1fff) && eo + 2 + (ip[0] & 0xf) * 4 <= 255)
				p->l4_off = (uint8_t)(eo + 2 + (ip[0] & 0xf) * 4);
		} else if (a->ethertype == ETH_P_IPV6 && p->len >= eo + 2 + 40 &&
			   (ip[0] >> 4) == 6) {
			if (ip[6] == IPPROTO_TCP_ || ip[6] == IPPROTO_UDP_ ||
			    ip[6] == IPPROTO_SCTP_ || ip[6] == IPPROTO_ICMPV6_)
				p->l4_off = (uint8_t)(eo + 2 + 40);
		} else {
			p->l3_off = 0;
		}
	}
	return OK;
}

static inline uint8_t *mpls_top(struct pkt *p)
{
	uint16_t eo = eth_type_off(p);

	if (unlikely(!eo || p->len < eo + 6 || !is_mpls(be16(p->data + eo))))
		return NULL;
	return p->data + eo + 2;
}

static int set_mpls(struct pkt *p, const struct dpact_set_mpls *a)
{
	uint8_t *l = mpls_top(p);

	if (!l)
		return DPACT_DROP_NO_HEADER;
	st32(l, (ld32(l) & ~a->mask) | a->lse);
	return OK;
}

static int dec_mpls_ttl(struct pkt *p)
{
	uint8_t *l = mpls_top(p);

	if (!l)
		return DPACT_DROP_NO_HEADER;
	if (l[3] <= 1)
		return DPACT_DROP_MPLS_TTL_EXPIRED;
	l[3]--;
	return OK;
}

static int dec_ttl(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;

	if (unlikely(!p->l3_off || p->l3_off + 20u > p->len))
		return DPACT_DROP_NO_HEADER;
	if ((ip[0] >> 4) == 4) {
		uint16_t o = ld16(ip + 8);

		if (ip[8] <= 1)
			return DPACT_DROP_TTL_EXPIRED;
		ip[8]--;
		st16(ip + 10, csum_apply(ld16(ip + 10), csum_delta16(o, ld16(ip + 8))));
		return OK;
	}
	if ((ip[0] >> 4) == 6 && p->l3_off + 40u <= p->len) {
		if (ip[7] <= 1)
			return DPACT_DROP_TTL_EXPIRED;
		ip[7]--;
		return OK;
	}
	return DPACT_DROP_NO_HEADER;
}

/* ---- batches ---- */

static inline void drop(struct dpact_ctx *ctx, int reason, struct pkt *p)
{
	COUNTER_ADD(ctx->drops[reason], 1);
	pkt_free(p);
}

static void drop_batch(struct dpact_ctx *ctx, int reason, struct batch *b)
{
	COUNTER_ADD(ctx->drops[reason], b->n);
	pkt_free_bulk(b->p, b->n);
	b->n = 0;
}

/* Apply a per-packet action to the batch, squeezing out drops. */
#define BATCH_APPLY(ctx, b, call) do { \
	const uint16_t n_ = (b)->n;	/* not read again after each packet's stores */ \
	uint16_t j_ = 0; \
	for (uint16_t i_ = 0; i_ < n_; i_++) { \
		struct pkt *p = (b)->p[i_]; \
		const struct flow_key *k = (b)->k[i_]; \
		int r_; \
		(void)k; \
		r_ = (call); \
		if (likely(r_ == OK)) { \
			(b)->p[j_] = p; \
			(b)->k[j_++] = k; \
		} else { \
			drop((ctx), r_, p); \
		} \
	} \
	(b)->n = j_; \
} while (0)

static void clone_batch(struct dpact_ctx *ctx, struct batch *dst, const struct batch *src)
{
	dst->n = 0;
	for (uint16_t i = 0; i < src->n; i++) {
		struct pkt *c = pkt_clone(src->p[i]);

		if (unlikely(!c)) {
			COUNTER_ADD(ctx->drops[DPACT_DROP_CLONE_NO_BUF], 1);
			continue;
		}
		dst->p[dst->n] = c;
		dst->k[dst->n++] = src->k[i];
	}
}

static void exec(struct dpact_ctx *ctx, struct batch *b, const void *acts, size_t len, int depth);

static inline void bucket_count(struct dpact_ctx *ctx, const struct group *g, uint32_t bk,
				const struct batch *b)
{
	struct group_ctr *c = &g->ctr[(size_t)ctx->pmd_idx * g->ctr_stride + bk];
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < b->n; i++)
		bytes += b->p[i]->len;
	COUNTER_ADD(c->packets, b->n);
	COUNTER_ADD(c->bytes, bytes);
}

static void run_bucket(struct dpact_ctx *ctx, const struct group *g, uint32_t bk,
		       struct batch *b, int depth)
{
	bucket_count(ctx, g, bk, b);
	exec(ctx, b, g->buckets[bk].dpacts, g->buckets[bk].dpacts_len, depth + 1);
}

/* Run group id on batch b; consumes every packet in b. */
static void exec_group(struct dpact_ctx *ctx, uint32_t id, struct batch *b, int depth)
{
	const struct group *g = group_lookup(id);

	if (unlikely(!g)) {
		drop_batch(ctx, DPACT_DROP_GROUP_MISSING, b);
		return;
	}
	if (unlikely(depth >= DPACT_MAX_DEPTH)) {
		drop_batch(ctx, DPACT_DROP_TOO_DEEP, b);
		return;
	}
	switch (g->type) {
	case GROUP_ALL:
	case GROUP_INDIRECT:
		if (unlikely(!g->n_buckets)) {
			drop_batch(ctx, DPACT_DROP_GROUP_NO_BUCKET, b);
			return;
		}
		for (uint32_t i = 0; i + 1 < g->n_buckets; i++) {
			struct batch c;

			clone_batch(ctx, &c, b);
			if (c.n)
				run_bucket(ctx, g, i, &c, depth);
		}
		run_bucket(ctx, g, g->n_buckets - 1, b, depth);
		return;
	case GROUP_FF: {
		int32_t live = __atomic_load_n(&g->ff_live, __ATOMIC_RELAXED);

		if (unlikely(live < 0 || (uint32_t)live >= g->n_buckets)) {
			drop_batch(ctx, DPACT_DROP_GROUP_NO_BUCKET, b);
			return;
		}
		run_bucket(ctx, g, (uint32_t)live, b, depth);
		return;
	}
	case GROUP_SELECT: {
		uint8_t bk[PKT_BURST];
		bool done[PKT_BURST];

		if (unlikely(!g->select)) {
			drop_batch(ctx, DPACT_DROP_GROUP_NO_BUCKET, b);
			return;
		}
		for (uint16_t i = 0; i < b->n; i++) {
			bk[i] = g->select[group_hash5(b->k[i]) % GROUP_SELECT_SLOTS];
			done[i] = false;
		}
		/* Usually the whole batch is one 5-tuple: one sub-batch. */
		for (uint16_t i = 0; i < b->n; i++) {
			struct batch s;

			if (done[i])
				continue;
			s.n = 0;
			for (uint16_t j = i; j < b->n; j++) {
				if (done[j] || bk[j] != bk[i])
					continue;
				done[j] = true;
				s.p[s.n] = b->p[j];
				s.k[s.n++] = b->k[j];
			}
			run_bucket(ctx, g, bk[i], &s, depth);
		}
		b->n = 0;
		return;
	}
	}
	drop_batch(ctx, DPACT_DROP_BAD_ACTION, b);
}

static void exec_meter(struct dpact_ctx *ctx, uint32_t id, struct batch *b)
{
	struct meter *m = meter_lookup(id);
	bool pass[PKT_BURST];
	uint16_t j = 0;

	if (unlikely(!m)) {
		drop_batch(ctx, DPACT_DROP_METER_MISSING, b);
		return;
	}
	if (meter_police(m, ctx->pmd_idx, ctx->clock_ns(), b->p, b->n, pass) == b->n)
		return;
	for (uint16_t i = 0; i < b->n; i++) {
		if (pass[i]) {
			b->p[j] = b->p[i];
			b->k[j++] = b->k[i];
		} else {
			drop(ctx, DPACT_DROP_METER, b->p[i]);
		}
	}
	b->n = j;
}

static void exec(struct dpact_ctx *ctx, struct batch *b, const void *acts, size_t len, int depth)
{
	bool emitted = false;

	for (size_t off = 0; off < len && b->n;) {
		const struct dpact *a = (const void *)((const uint8_t *)acts + off);
		size_t next = off + (size_t)a->len * 8;
		bool last = next >= len;

		switch (a->type) {
		case DPACT_OUTPUT: {
			const struct dpact_output *o = (const void *)a;
			struct batch c;

			if (last) {
				ctx->output(ctx->pmd, o->port, b->p, b->n);
				return;
			}
			clone_batch(ctx, &c, b);
			if (c.n)
				ctx->output(ctx->pmd, o->port, c.p, c.n);
			emitted = true;
			break;
		}
		case DPACT_GROUP: {
			const struct dpact_id *g = (const void *)a;
			struct batch c;

			if (last) {
				exec_group(ctx, g->id, b, depth);
				return;
			}
			clone_batch(ctx, &c, b);
			if (c.n)
				exec_group(ctx, g->id, &c, depth);
			emitted = true;
			break;
		}
		case DPACT_TNL_PUSH: {
			const struct dpact_tnl_push *t = (const void *)a;
			struct batch c;

			if (last) {
				tnl_push_batch(ctx, t, b->p, b->k, b->n);
				b->n = 0;
				return;
			}
			clone_batch(ctx, &c, b);
			if (c.n)
				tnl_push_batch(ctx, t, c.p, c.k, c.n);
			emitted = true;
			break;
		}
		case DPACT_METER:
			exec_meter(ctx, ((const struct dpact_id *)a)->id, b);
			break;
		case DPACT_NORMAL: {
			struct batch c;

			if (last) {
				for (uint16_t i = 0; i < b->n; i++)
					dp_normal(ctx->pmd, b->p[i]);
				return;
			}
			clone_batch(ctx, &c, b);
			for (uint16_t i = 0; i < c.n; i++)
				dp_normal(ctx->pmd, c.p[i]);
			emitted = true;
			break;
		}
		case DPACT_ROUTE: {
			uint32_t vrf = ((const struct dpact_id *)a)->id;
			struct batch c;

			if (last) {
				l3_route_batch(ctx, b->p, b->k, b->n, vrf);
				b->n = 0;
				return;
			}
			clone_batch(ctx, &c, b);
			if (c.n)
				l3_route_batch(ctx, c.p, c.k, c.n, vrf);
			emitted = true;
			break;
		}
		case DPACT_CT:
			/* The batch's keys are the PMD's own working copies
			 * (dp_proc.c); ct writes its verdict into them. */
			ct_execute_store(&ctx->ct, b->p, (struct flow_key **)(uintptr_t)b->k, b->n,
					 &((const struct dpact_ct *)a)->ct,
					 ctx->clock_ns() / 1000000u,
					 off == 0 && depth == 0 ? ctx->ct_store : NULL);
			if (off == 0)
				ctx->ct_store = NULL;
			break;
		case DPACT_CT_CLEAR:
			for (uint16_t i = 0; i < b->n; i++)
				ct_clear_key((struct flow_key *)(uintptr_t)b->k[i]);
			break;
		case DPACT_RECIRC: {
			const struct dpact_recirc *r = (const void *)a;
			struct batch c;

			if (last) {
				ctx->recirc(ctx->pmd, b->p, b->k, b->n, r);
				return;
			}
			clone_batch(ctx, &c, b);
			if (c.n)
				ctx->recirc(ctx->pmd, c.p, c.k, c.n, r);
			emitted = true;
			break;
		}
		case DPACT_SET_ETH:
			BATCH_APPLY(ctx, b, set_eth(p, (const void *)a));
			break;
		case DPACT_SET_IPV4: {
			const struct dpact_set_ipv4 *s = (const void *)a;

			if (!(s->src_mask | s->dst_mask | s->tos_mask) && s->ttl_mask) {
				const uint8_t ttl = s->ttl, mask = s->ttl_mask;

				BATCH_APPLY(ctx, b, set_ipv4_ttl(p, ttl, mask));
			} else {
				BATCH_APPLY(ctx, b, set_ipv4(p, s));
			}
			break;
		}
		case DPACT_SET_IPV6:
			BATCH_APPLY(ctx, b, set_ipv6(p, k, (const void *)a));
			break;
		case DPACT_SET_L4_PORTS:
			BATCH_APPLY(ctx, b, set_l4(p, k, (const void *)a));
			break;
		case DPACT_SET_VLAN:
			BATCH_APPLY(ctx, b, set_vlan(p, (const void *)a));
			break;
		case DPACT_PUSH_VLAN:
			BATCH_APPLY(ctx, b, push_vlan(p, (const void *)a));
			break;
		case DPACT_POP_VLAN:
			BATCH_APPLY(ctx, b, pop_vlan(p));
			break;
		case DPACT_PUSH_MPLS:
			BATCH_APPLY(ctx, b, push_mpls(p, (const void *)a));
			break;
		case DPACT_POP_MPLS:
			BATCH_APPLY(ctx, b, pop_mpls(p, (const void *)a));
			break;
		case DPACT_SET_MPLS:
			BATCH_APPLY(ctx, b, set_mpls(p, (const void *)a));
			break;
		case DPACT_DEC_TTL:
			BATCH_APPLY(ctx, b, dec_ttl(p));
			break;
		case DPACT_DEC_MPLS_TTL:
			BATCH_APPLY(ctx, b, dec_mpls_ttl(p));
			break;
		default:
			drop_batch(ctx, DPACT_DROP_BAD_ACTION, b);
			return;
		}
		if (unlikely(!a->len)) {
			drop_batch(ctx, DPACT_DROP_BAD_ACTION, b);
			return;
		}
		off = next;
	}
	if (b->n) {
		/* Leftovers after mirrored outputs are not drops. */
		if (!emitted)
			COUNTER_ADD(ctx->drops[DPACT_DROP_FLOW_DROP], b->n);
		pkt_free_bulk(b->p, b->n);
		b->n = 0;
	}
}

void dpact_execute_slow(struct dpact_ctx *ctx, struct pkt **pkts,
			const struct flow_key *const *keys, uint16_t n,
			const void *acts, size_t len)
{
	while (n) {
		uint16_t m = MIN(n, PKT_BURST);
		struct batch b;

		b.n = m;
		memcpy(b.p, pkts, m * sizeof(b.p[0]));
		memcpy(b.k, keys, m * sizeof(b.k[0]));
		exec(ctx, &b, acts, len, 0);
		pkts += m;
		keys += m;
		n = (uint16_t)(n - m);
	}
}

bool dpact_writes_keys(const void *acts, size_t len)
{
	for (size_t off = 0; off < len;) {
		const struct dpact *a = (const void *)((const uint8_t *)acts + off);

		switch (a->type) {
		case DPACT_OUTPUT: case DPACT_SET_ETH: case DPACT_SET_IPV4: case DPACT_SET_IPV6:
		case DPACT_SET_L4_PORTS: case DPACT_SET_VLAN: case DPACT_PUSH_VLAN:
		case DPACT_POP_VLAN: case DPACT_PUSH_MPLS: case DPACT_POP_MPLS:
		case DPACT_SET_MPLS: case DPACT_DEC_TTL: case DPACT_DEC_MPLS_TTL:
		case DPACT_METER: case DPACT_NORMAL: case DPACT_ROUTE: case DPACT_TNL_PUSH:
			break;
		case DPACT_CT:	/* a verdict nothing reads is not written */
			if (!(((const struct dpact_ct *)a)->ct.flags & CT_F_NO_KEY))
				return true;
			break;
		default:	/* ct_clear; groups, recirculation: not looked into */
			return true;
		}
		if (unlikely(!a->len))
			return true;
		off += (size_t)a->len * 8;
	}
	return false;
}

bool dpact_keys_first_ct(const void *acts, size_t len)
{
	const struct dpact *a = acts;

	if (len < sizeof(struct dpact_ct) || a->type != DPACT_CT || !a->len ||
	    (((const struct dpact_ct *)a)->ct.flags & CT_F_NAT))
		return false;
	for (size_t off = (size_t)a->len * 8; off < len;) {
		const struct dpact *b = (const void *)((const uint8_t *)acts + off);
		size_t l = (size_t)b->len * 8;

		/* A recirculation only reads the keys. */
		if (!l || (b->type != DPACT_RECIRC && dpact_writes_keys(b, MIN(l, len - off))))
			return false;
		off += l;
	}
	return true;
}

static uint64_t clock_default(void)
{
	return time_ns();
}

void dpact_ctx_init(struct dpact_ctx *ctx, struct dp_pmd *pmd, uint16_t pmd_idx,
		    dpact_output_fn *output)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->pmd = pmd;
	ctx->output = output;
	ctx->recirc = dp_recirc;
	ctx->clock_ns = clock_default;
	ctx->pmd_idx = pmd_idx < DPACT_PMD_MAX ? pmd_idx : DPACT_PMD_MAX - 1;
}
