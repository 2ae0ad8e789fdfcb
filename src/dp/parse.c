/*
 * The packet parser: frame → struct flow_key. What it accepts and why is
 * written once, in parse.h. Here: every read is preceded by a check of the
 * bytes left (`end - off`, both within the frame), fields are copied in
 * network order as flow.h requires, and constants are compared in network
 * order so the hot path does no byte swapping.
 */
#include <stddef.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "parse.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(x)		((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define BE32(x)		((uint32_t)__builtin_bswap32((uint32_t)(x)))
#else
#define BE16(x)		((uint16_t)(x))
#define BE32(x)		((uint32_t)(x))
#endif

#define ETH_HLEN		14
#define ETH_TYPE_MIN		0x0600
#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define ETH_P_RARP		0x8035
#define ETH_P_8021Q		0x8100
#define ETH_P_8021AD		0x88a8
#define ETH_P_IPV6		0x86dd
#define ETH_P_MPLS_UC		0x8847
#define ETH_P_MPLS_MC		0x8848

#define IPPROTO_HOPOPTS_	0
#define IPPROTO_ICMP_		1
#define IPPROTO_TCP_		6
#define IPPROTO_UDP_		17
#define IPPROTO_ROUTING_	43
#define IPPROTO_FRAGMENT_	44
#define IPPROTO_AH_		51
#define IPPROTO_ICMPV6_		58
#define IPPROTO_DSTOPTS_	60
#define IPPROTO_SCTP_		132

#define ND_NEIGHBOR_SOLICIT	135
#define ND_NEIGHBOR_ADVERT	136
#define ND_OPT_SLL		1
#define ND_OPT_TLL		2

#define MPLS_BOS		0x00000100u	/* bottom of stack, in the LSE */

/*
 * Where adjacent key members are filled by one copy (they are adjacent in the
 * packet too), the copy goes through the struct's address, not the first
 * member's, so no object-size check sees a write past that member.
 */
#define KEY_AT(k, m)	((uint8_t *)(k) + offsetof(struct flow_key, m))
#define KEY_AT_C(k, m)	((const uint8_t *)(k) + offsetof(struct flow_key, m))
#define ADJACENT(a, b)	_Static_assert(offsetof(struct flow_key, b) == \
				       offsetof(struct flow_key, a) + sizeof(((struct flow_key *)0)->a), \
				       #a " and " #b " must be adjacent")
ADJACENT(dl_dst, dl_src);
ADJACENT(nw_src, nw_dst);
ADJACENT(ipv6_src, ipv6_dst);
ADJACENT(tp_src, tp_dst);

/* Unaligned loads, keeping network order. */
static inline uint16_t ld16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static inline uint32_t ld32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/* A network-order uint16 whose low byte is v: htons(v) without a swap. */
static inline void set_be16_low(uint16_t *field, uint8_t v)
{
	((uint8_t *)field)[1] = v;
}

static inline void set_l4_off(struct pkt *p, uint32_t off)
{
	p->l4_off = off <= UINT8_MAX ? (uint8_t)off : 0;
}

static inline bool mac_is_zero(const uint8_t *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/*
 * ND options after the target (RFC 4861 4.6): type, length in units of 8
 * bytes, data. Only 8-byte SLL/TLL options are taken. Each iteration consumes
 * ≥ 8 bytes, so the walk is bounded by the packet's length.
 */
static void parse_nd(struct flow_key *k, const uint8_t *d, uint32_t off, uint32_t end)
{
	if (end - off < 16)
		return;
	memcpy(k->nd_target, d + off, 16);
	off += 16;
	while (end - off >= 8) {
		uint32_t opt_len = (uint32_t)d[off + 1] * 8;
		uint8_t *mac = NULL;

		if (!opt_len || opt_len > end - off)
			return;
		if (opt_len == 8) {
			if (d[off] == ND_OPT_SLL)
				mac = k->arp_sha;
			else if (d[off] == ND_OPT_TLL)
				mac = k->arp_tha;
		}
		if (mac) {
			if (unlikely(!mac_is_zero(mac)))
				goto invalid;
			memcpy(mac, d + off + 2, 6);
		}
		off += opt_len;
	}
	return;

invalid:
	/* A repeated option: OVS treats the ND fields as absent. */
	memset(k->nd_target, 0, sizeof(k->nd_target));
	memset(k->arp_sha, 0, sizeof(k->arp_sha));
	memset(k->arp_tha, 0, sizeof(k->arp_tha));
}

/* The transport header at d[off .. end), end = the IP packet's end. */
static inline void parse_l4(struct pkt *p, struct flow_key *k, const uint8_t *d,
			    uint32_t off, uint32_t end, bool v6)
{
	uint32_t left = end - off;

	switch (k->nw_proto) {
	case IPPROTO_TCP_:
		if (unlikely(left < 20))
			return;
		memcpy(KEY_AT(k, tp_src), d + off, 4);		/* tp_src, tp_dst */
		k->tcp_flags = ld16(d + off + 12) & BE16(0x0fff);
		break;
	case IPPROTO_UDP_:
		if (unlikely(left < 8))
			return;
		memcpy(KEY_AT(k, tp_src), d + off, 4);
		break;
	case IPPROTO_SCTP_:
		if (unlikely(left < 12))
			return;
		memcpy(KEY_AT(k, tp_src), d + off, 4);
		break;
	case IPPROTO_ICMP_:
		if (v6)
			break;
		if (unlikely(left < 8))
			return;
		set_be16_low(&k->tp_src, d[off]);
		set_be16_low(&k->tp_dst, d[off + 1]);
		break;
	case IPPROTO_ICMPV6_:
		if (!v6)
			break;
		if (unlikely(left < 8))
			return;
		set_be16_low(&k->tp_src, d[off]);
		set_be16_low(&k->tp_dst, d[off + 1]);
		if ((d[off] == ND_NEIGHBOR_SOLICIT || d[off] == ND_NEIGHBOR_ADVERT) && !d[off + 1])
			parse_nd(k, d, off + 8, end);
		break;
	default:
		break;
	}
	set_l4_off(p, off);
}

/* RFC 791 3.1; the checks are those of OVS ipv4_sanity_check(). */
static inline void parse_ipv4(struct pkt *p, struct flow_key *k, const uint8_t *d,
			      uint32_t off, uint32_t len)
{
	uint32_t left = len - off, ihl, tot;
	uint16_t frag;

	if (unlikely(left < 20))
		return;
	ihl = (d[off] & 0x0fu) * 4;
	tot = (uint32_t)d[off + 2] << 8 | d[off + 3];
	if (unlikely(ihl < 20 || tot > left || ihl > tot))
		return;
	p->l3_off = (uint8_t)off;
	memcpy(KEY_AT(k, nw_src), d + off + 12, 8);		/* nw_src, nw_dst */
	k->nw_tos = d[off + 1];
	k->nw_ttl = d[off + 8];
	k->nw_proto = d[off + 9];
	frag = ld16(d + off + 6) & BE16(0x3fff);	/* MF | offset */
	if (unlikely(frag)) {
		k->nw_frag = FLOW_FRAG_ANY;
		if (frag & BE16(0x1fff)) {
			k->nw_frag |= FLOW_FRAG_LATER;
			return;
		}
	}
	parse_l4(p, k, d, off + ihl, off + tot, false);
}

/* RFC 8200 4: the extension headers OVS walks, all of them ≥ 8 bytes. */
static inline bool ipv6_is_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
	       nh == IPPROTO_FRAGMENT_ || nh == IPPROTO_AH_;
}

static void parse_ipv6(struct pkt *p, struct flow_key *k, const uint8_t *d, uint32_t off,
		       uint32_t len)
{
	uint32_t left = len - off, end, vtcfl;
	uint8_t nh, hlim, frag = 0;

	if (unlikely(left < 40))
		return;
	end = off + 40 + ((uint32_t)d[off + 4] << 8 | d[off + 5]);
	if (unlikely(end > len))
		return;
	p->l3_off = (uint8_t)off;
	memcpy(KEY_AT(k, ipv6_src), d + off + 8, 32);		/* ipv6_src, ipv6_dst */
	vtcfl = ld32(d + off);
	nh = d[off + 6];
	hlim = d[off + 7];
	off += 40;

	for (unsigned n = 0; ipv6_is_ext(nh); n++) {
		uint32_t hlen;

		if (unlikely(n == PARSE_MAX_IPV6_EXT || end - off < 8))
			return;
		if (nh == IPPROTO_FRAGMENT_) {
			uint16_t offlg = ld16(d + off + 2);

			nh = d[off];
			off += 8;
			if (offlg) {
				frag = FLOW_FRAG_ANY;
				if (offlg & BE16(0xfff8)) {
					frag |= FLOW_FRAG_LATER;
					nh = IPPROTO_FRAGMENT_;
					break;
				}
			}
			continue;
		}
		hlen = nh == IPPROTO_AH_ ? ((uint32_t)d[off + 1] + 2) * 4
					 : ((uint32_t)d[off + 1] + 1) * 8;
		if (unlikely(hlen > end - off))
			return;
		nh = d[off];
		off += hlen;
	}

	k->ipv6_label = vtcfl & BE32(0x000fffff);
	k->nw_tos = (uint8_t)(BE32(vtcfl) >> 20);
	k->nw_ttl = hlim;
	k->nw_proto = nh;
	k->nw_frag = frag;
	if (likely(!(frag & FLOW_FRAG_LATER)))
		parse_l4(p, k, d, off, end, true);
}

/* RFC 826, Ethernet/IPv4 only. */
static void parse_arp(struct pkt *p, struct flow_key *k, const uint8_t *d, uint32_t off,
		      uint32_t len)
{
	const uint8_t *a = d + off;

	if (len - off < 28 || ld16(a) != BE16(1) || ld16(a + 2) != BE16(ETH_P_IP) ||
	    a[4] != 6 || a[5] != 4)
		return;
	p->l3_off = (uint8_t)off;
	if (!a[6])
		k->nw_proto = a[7];
	memcpy(k->arp_sha, a + 8, 6);
	memcpy(&k->nw_src, a + 14, 4);
	memcpy(k->arp_tha, a + 18, 6);
	memcpy(&k->nw_dst, a + 24, 4);
}

static void parse_mpls(struct pkt *p, struct flow_key *k, const uint8_t *d, uint32_t off,
		       uint32_t len)
{
	if (len - off < 4)
		return;
	p->l3_off = (uint8_t)off;
	for (unsigned i = 0; i < FLOW_MAX_MPLS && len - off >= 4; i++, off += 4) {
		k->mpls_lse[i] = ld32(d + off);
		if (k->mpls_lse[i] & BE32(MPLS_BOS))
			break;
	}
}

/* An 802.3 length field: LLC/SNAP with OUI 00-00-00 carries an ethertype. */
static __cold uint16_t parse_llc(const uint8_t *d, uint32_t *off, uint32_t len)
{
	static const uint8_t snap[6] = { 0xaa, 0xaa, 0x03, 0, 0, 0 };
	uint16_t type;

	if (len - *off < 8 || memcmp(d + *off, snap, sizeof(snap)))
		return BE16(PARSE_DL_TYPE_NONE);
	type = ld16(d + *off + 6);
	*off += 8;
	return BE16(type) >= ETH_TYPE_MIN ? type : BE16(PARSE_DL_TYPE_NONE);
}

static inline bool is_vlan_tpid(uint16_t type)
{
	return type == BE16(ETH_P_8021Q) || type == BE16(ETH_P_8021AD);
}

/* The whole key to zero, as whole-vector stores: gcc -O2 expands the memset
 * of 320 bytes into ~50 instructions (callgrind, bench/dp_callgrind.sh). */
static inline void key_zero(struct flow_key *k)
{
#if defined(__AVX512F__)
#pragma GCC unroll 8
	for (size_t i = 0; i < sizeof(*k) / 64; i++)
		_mm512_storeu_si512((char *)k + 64 * i, _mm512_setzero_si512());
#elif defined(__AVX2__)
#pragma GCC unroll 16
	for (size_t i = 0; i < sizeof(*k) / 32; i++)
		_mm256_storeu_si256((__m256i *)(void *)((char *)k + 32 * i), _mm256_setzero_si256());
#else
	memset(k, 0, sizeof(*k));
#endif
}

bool pkt_tun_same(const struct pkt *a, const struct pkt *b)
{
	uint64_t x[2], y[2];

	if (!(a->flags & b->flags & PKT_F_TUN))
		return false;
	_Static_assert(sizeof(a->tun.opts) == sizeof(x), "pkt_tun_same: opts");
	memcpy(x, a->tun.opts, sizeof(x));
	memcpy(y, b->tun.opts, sizeof(y));
	return a->tun.id == b->tun.id && !memcmp(a->tun.src, b->tun.src, 16) &&
	       !memcmp(a->tun.dst, b->tun.dst, 16) && a->tun.v6 == b->tun.v6 &&
	       a->tun.flags == b->tun.flags && a->tun.tos == b->tun.tos &&
	       a->tun.ttl == b->tun.ttl && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/* An IPv6 tunnel's addresses go to the key's sixth line; tun_v6 tells keys
 * apart that the EMC would otherwise take for equal (flow.h). */
static __attribute__((noinline)) void flow_tun6(const struct pkt *p, struct flow_key *k)
{
	static __thread uint32_t seq;

	memcpy(k->tun_ipv6_src, p->tun.src, 16);
	memcpy(k->tun_ipv6_dst, p->tun.dst, 16);
	if (!++seq)
		seq = 1;
	k->tun_v6 = seq;
}

void flow_extract(struct pkt *p, struct flow_key *k)
{
	const uint8_t *d = p->data;
	uint32_t len = p->len, off = 12;	/* the ethertype (or TPID) */
	uint16_t type;

	key_zero(k);
	k->in_port = p->in_port;
	if (unlikely(p->flags & PKT_F_TUN)) {
		k->tun_id = p->tun.id;
		if (unlikely(p->tun.v6)) {
			flow_tun6(p, k);
		} else {
			memcpy(&k->tun_src, p->tun.src, 4);
			memcpy(&k->tun_dst, p->tun.dst, 4);
		}
		k->tun_flags = p->tun.flags;
		k->tun_tos = p->tun.tos;
		k->tun_ttl = p->tun.ttl;
		memcpy(k->tun_opts, p->tun.opts, sizeof(k->tun_opts));
	}
	p->l3_off = 0;
	p->l4_off = 0;
	if (unlikely(len < ETH_HLEN))
		return;

	memcpy(KEY_AT(k, dl_dst), d, 12);			/* dl_dst, dl_src */
	type = ld16(d + 12);
	if (unlikely(is_vlan_tpid(type)) && len - off >= 6) {
		k->vlan_tci = ld16(d + off + 2) | BE16(FLOW_VLAN_PRESENT);
		type = ld16(d + off + 4);
		off += 4;
		if (is_vlan_tpid(type) && len - off >= 6) {
			k->vlan_tci2 = ld16(d + off + 2) | BE16(FLOW_VLAN_PRESENT);
			type = ld16(d + off + 4);
			off += 4;
		}
	}
	off += 2;
	if (unlikely(BE16(type) < ETH_TYPE_MIN))
		type = parse_llc(d, &off, len);
	k->dl_type = type;

	if (likely(type == BE16(ETH_P_IP)))
		parse_ipv4(p, k, d, off, len);
	else if (type == BE16(ETH_P_IPV6))
		parse_ipv6(p, k, d, off, len);
	else if (type == BE16(ETH_P_ARP) || type == BE16(ETH_P_RARP))
		parse_arp(p, k, d, off, len);
	else if (type == BE16(ETH_P_MPLS_UC) || type == BE16(ETH_P_MPLS_MC))
		parse_mpls(p, k, d, off, len);
}

/* ---- hashes ---- */

/*
 * flow_key_hash: the EMC's hash of the key's first 320 bytes (all but the
 * IPv6 tunnel addresses, see flow.h), which the EMC
 * then compares in full, so the hash only has to spread keys, and to be
 * cheap: it runs once per packet whenever a burst holds many flows.
 * The five 64-byte stripes are first xor-folded into one, each rotated by
 * its own odd-ish amount so that equal fields at the same place in two
 * stripes (a port and a register, say) do not cancel; then each of the
 * eight words of the fold is mixed as in XXH3's accumulator,
 * lo32(x) * hi32(x) with x = word ^ secret, plus the neighbouring raw word
 * so that a zero product loses nothing; the lanes are summed and
 * avalanched. A single-bit change of the key changes the sum (it moves
 * one lane's product and its neighbour's raw word the same way), so it
 * changes the avalanched 64 bits; the 32 bits kept collide by chance only.
 * The secret is arbitrary fixed bits (pi's hex digits), the same in every
 * build, so the AVX-512, AVX2 and scalar versions agree (the unit tests
 * and the benchmark's checksum check that). It replaced a full XXH3-style
 * pass with a multiply per stripe: about 95 instructions, now 40.
 */
static const uint64_t fkh_secret[8] = {
	0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull,
	0x452821e638d01377ull, 0xbe5466cf34e90c6cull, 0xc0ac29b7c97c50ddull, 0x3f84d5b5b5470917ull,
};

#define FKH_STRIPES	5
_Static_assert(FLOW_HASHED_BYTES == FKH_STRIPES * 64, "flow_key_hash folds five stripes");

static inline uint64_t avalanche64(uint64_t h)
{
	h ^= h >> 37;
	h *= 0x165667919e3779f9ull;
	h ^= h >> 32;
	return h;
}

/* Rotation of each stripe before the fold: not multiples of 8 or 16, so
 * byte and port fields of different stripes land on different bits. */
#define FKH_R1	11
#define FKH_R2	23
#define FKH_R3	37
#define FKH_R4	51

uint32_t flow_key_hash(const struct flow_key *key)
{
	const uint8_t *w = (const uint8_t *)key;
	uint64_t h;
#if defined(__AVX512F__)
	__m512i v = _mm512_loadu_si512(w);

	v = _mm512_ternarylogic_epi64(v, _mm512_rol_epi64(_mm512_loadu_si512(w + 64), FKH_R1),
				      _mm512_rol_epi64(_mm512_loadu_si512(w + 128), FKH_R2), 0x96);
	v = _mm512_ternarylogic_epi64(v, _mm512_rol_epi64(_mm512_loadu_si512(w + 192), FKH_R3),
				      _mm512_rol_epi64(_mm512_loadu_si512(w + 256), FKH_R4), 0x96);
	__m512i x = _mm512_xor_si512(v, _mm512_loadu_si512(fkh_secret));
	__m512i acc = _mm512_add_epi64(_mm512_mul_epu32(x, _mm512_srli_epi64(x, 32)),
				       _mm512_shuffle_epi32(v, _MM_PERM_BADC));

	/* The lanes' sum, wrapping: gcc's _mm512_reduce_add_epi64 adds them
	 * as signed long long, an overflow UBSan stops on. */
	{
		__m256i s4 = _mm256_add_epi64(_mm512_castsi512_si256(acc),
					      _mm512_extracti64x4_epi64(acc, 1));
		__m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s4),
					   _mm256_extracti128_si256(s4, 1));

		h = (uint64_t)_mm_cvtsi128_si64(s2) + (uint64_t)_mm_extract_epi64(s2, 1);
	}
#elif defined(__AVX2__)
#define FKH_ROL256(v, r) _mm256_or_si256(_mm256_slli_epi64(v, r), _mm256_srli_epi64(v, 64 - (r)))
	__m256i acc = _mm256_setzero_si256();
	uint64_t lanes[4];

	for (int half = 0; half < 2; half++) {
		const __m256i *q = (const __m256i *)(const void *)(w + 32 * half);
		__m256i v = _mm256_loadu_si256(q);
		__m256i x;

		v = _mm256_xor_si256(v, FKH_ROL256(_mm256_loadu_si256(q + 2), FKH_R1));
		v = _mm256_xor_si256(v, FKH_ROL256(_mm256_loadu_si256(q + 4), FKH_R2));
		v = _mm256_xor_si256(v, FKH_ROL256(_mm256_loadu_si256(q + 6), FKH_R3));
		v = _mm256_xor_si256(v, FKH_ROL256(_mm256_loadu_si256(q + 8), FKH_R4));
		x = _mm256_xor_si256(v, _mm256_loadu_si256(
			(const __m256i *)(const void *)(fkh_secret + 4 * half)));
		acc = _mm256_add_epi64(acc, _mm256_add_epi64(_mm256_mul_epu32(x, _mm256_srli_epi64(x, 32)),
							     _mm256_shuffle_epi32(v, 0x4e)));
	}
#undef FKH_ROL256
	_mm256_storeu_si256((__m256i *)(void *)lanes, acc);
	h = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
	static const unsigned rot[FKH_STRIPES] = { 0, FKH_R1, FKH_R2, FKH_R3, FKH_R4 };
	uint64_t v[8] = { 0 };

	for (size_t s = 0; s < FKH_STRIPES; s++)
		for (size_t j = 0; j < 8; j++) {
			uint64_t word;

			memcpy(&word, w + 64 * s + 8 * j, 8);
			v[j] ^= rot[s] ? word << rot[s] | word >> (64 - rot[s]) : word;
		}
	h = 0;
	for (size_t j = 0; j < 8; j++) {
		uint64_t x = v[j] ^ fkh_secret[j];

		h += v[j ^ 1] + (x & 0xffffffffu) * (x >> 32);
	}
#endif
	return (uint32_t)(avalanche64(h + FLOW_HASHED_BYTES * 0x9e3779b185ebca87ull) >> 32);
}

/* A small multiply-xorshift mixer (the murmur3 64-bit finaliser's shape). */
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

uint32_t flow_hash_5tuple(const struct flow_key *k, uint32_t basis)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ basis;
	uint64_t w[4];
	uint32_t w32;

	if (k->dl_type == BE16(ETH_P_IPV6)) {
		memcpy(w, KEY_AT_C(k, ipv6_src), 32);
		h = mix64(h, w[0]);
		h = mix64(h, w[1]);
		h = mix64(h, w[2]);
		h = mix64(h, w[3]);
	} else if (k->dl_type == BE16(ETH_P_IP) || k->dl_type == BE16(ETH_P_ARP)) {
		h = mix64(h, (uint64_t)k->nw_src << 32 | k->nw_dst);
	} else {
		memcpy(w, KEY_AT_C(k, dl_dst), 8);		/* dl_dst, dl_src */
		memcpy(&w32, KEY_AT_C(k, dl_dst) + 8, 4);
		h = mix64(h, w[0]);
		h = mix64(h, w32 | (uint64_t)k->dl_type << 32);
		goto out;
	}
	h = mix64(h, k->nw_proto);
	if (k->nw_proto == IPPROTO_TCP_ || k->nw_proto == IPPROTO_UDP_ ||
	    k->nw_proto == IPPROTO_SCTP_)
		h = mix64(h, (uint32_t)k->tp_src << 16 | k->tp_dst);
out:
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}
