/*
 * parse: a packet's headers → its flow key, plus the hashes the datapath
 * takes of a key.
 *
 * flow_extract() is the only place that reads a frame's headers to classify
 * it. It runs for every packet (the exact-match cache is keyed by its output),
 * so it is straight-line code over the common cases, zeroes the key with a
 * handful of vector stores and copies fields without loops; only the IPv6
 * extension-header chain (bounded by PARSE_MAX_IPV6_EXT) and ND options
 * (bounded by the packet's length) iterate.
 *
 * What is parsed, with Open vSwitch's lib/flow.c (miniflow_extract) as the
 * reference for every edge case, so that a flow table behaves the same here
 * and in OVS:
 *
 *   Ethernet II, and 802.3 with an LLC/SNAP header (OUI 0); other 802.3
 *   frames get dl_type PARSE_DL_TYPE_NONE (0x05ff). Frames shorter than an
 *   Ethernet header leave every packet field zero.
 *   Up to two VLAN tags, TPID 0x8100 or 0x88a8 in either position: vlan_tci is
 *   the outer tag, vlan_tci2 the inner, each TCI | FLOW_VLAN_PRESENT (which
 *   overwrites the DEI bit, as in OVS). A third tag is not skipped: dl_type is
 *   then its TPID. A tag without the 2 bytes of ethertype behind it is not
 *   parsed either (dl_type = its TPID).
 *   MPLS (0x8847/0x8848): the first FLOW_MAX_MPLS label stack entries,
 *   outermost first, stopping after bottom-of-stack; nothing beneath MPLS.
 *   ARP and RARP for Ethernet/IPv4 only (htype 1, ptype 0x0800, hlen 6,
 *   plen 4, 28 bytes): nw_src/nw_dst = SPA/TPA, arp_sha/arp_tha, nw_proto =
 *   opcode when it is ≤ 255.
 *   IPv4 when 20 ≤ IHL·4 ≤ total length ≤ bytes present (the version nibble
 *   is not checked, as in OVS); else only L2 fields and dl_type. Options are
 *   skipped; Ethernet padding beyond the total length is ignored. nw_frag =
 *   FLOW_FRAG_ANY for MF or offset ≠ 0, | FLOW_FRAG_LATER for offset ≠ 0;
 *   later fragments have no L4 fields.
 *   IPv6 when 40 + payload length ≤ bytes present. Hop-by-hop, routing,
 *   destination options, fragment and AH headers are walked (at most
 *   PARSE_MAX_IPV6_EXT of them); the first other next-header value (ESP,
 *   no-next-header, TCP, ...) becomes nw_proto. A truncated extension header
 *   or too long a chain leaves only ipv6_src/ipv6_dst (as OVS does). A
 *   fragment header with offset ≠ 0 ends the walk: nw_frag = ANY|LATER and
 *   nw_proto = 44 (IPPROTO_FRAGMENT), as in OVS; a non-zero offset/flags word
 *   with offset 0 gives nw_frag = ANY. nw_tos = traffic class, nw_ttl = hop
 *   limit, ipv6_label = flow label.
 *   TCP (≥ 20 bytes: ports and tcp_flags, the low 12 bits of the offset/flags
 *   word including NS; the data offset is deliberately not required to be
 *   sane — see below), UDP (8), SCTP (12), ICMPv4 over IPv4 (8: tp_src =
 *   htons(type), tp_dst = htons(code)), ICMPv6 over IPv6 (8: type and code the
 *   same way; for neighbour solicitation/advertisement with code 0 also
 *   nd_target when 16 bytes follow, and the source/target link-layer address
 *   options (length 1) into arp_sha/arp_tha; a repeated option clears
 *   nd_target and both addresses; a zero-length or overlong option ends the
 *   walk keeping what was found). An L4 header too short for its protocol
 *   leaves every tp field zero.
 *
 *   Why no TCP data-offset check: a header with a bogus offset would then
 *   classify as "tcp with no ports", and `tcp,tp_dst=22,actions=drop` would
 *   not catch it. OVS extracts ports whenever 20 bytes are present; so do we.
 *
 * Metadata: key->in_port = p->in_port; recirc_id, metadata, regs, tunnel and
 * conntrack fields are zero (the tunnel and ct code fill them later). All
 * padding is zero.
 *
 * Header offsets, stored in the pkt for the actions that rewrite headers
 * (0 = absent; offsets are from p->data):
 *   p->l3_off  the header after Ethernet and VLAN tags, set only when it was
 *              validated as described above: the MPLS label stack (≥ 1 entry),
 *              the IPv4 or IPv6 header, or the Ethernet/IPv4 ARP payload.
 *              The key's dl_type says which. It is at most 30 (14 + 2 tags +
 *              LLC/SNAP), so it always fits in uint8_t.
 *   p->l4_off  the transport header, set when the IP header (and IPv6
 *              extension chain) parsed and the packet is not a later fragment,
 *              and — for TCP, UDP, SCTP, ICMP and ICMPv6 — when that header is
 *              complete (so a rewrite of tp_src/tp_dst at l4_off is in bounds).
 *              For other protocols (GRE, ESP, ...) it is where their header
 *              starts, which may be at p->len. It is 0 when the offset does not
 *              fit pkt's uint8_t field (IPv6 with > ~190 bytes of extension
 *              headers).
 *
 * Thread-safety: pure functions of their arguments; call from any thread.
 */
#ifndef XVIO_PARSE_H
#define XVIO_PARSE_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/pkt.h"
#include "flow.h"

/* dl_type of an 802.3 frame without a SNAP ethertype (OVS FLOW_DL_TYPE_NONE). */
#define PARSE_DL_TYPE_NONE	0x05ff
/* At most this many IPv6 extension headers are walked before L4. */
#define PARSE_MAX_IPV6_EXT	16

/*
 * Fill *key from the frame p->data[0 .. p->len) and p->in_port, and set
 * p->l3_off and p->l4_off. Never reads outside the frame; any byte sequence
 * is accepted (a malformed packet is classified by what parsed).
 */
void flow_extract(struct pkt *p, struct flow_key *key);

/*
 * Whether flow_extract(p) would give exactly prev_key, the key flow_extract
 * gave prev: true when both or neither came out of a tunnel (PKT_F_TUN: the
 * key's tun_* fields come from pkt.tun, so those must be equal too) and p
 * and prev have the same input port,
 * length and first PARSE_SAME_BYTES bytes, and prev's parse read nothing
 * beyond those bytes (IPv4 with its transport header starting at most
 * PARSE_SAME_BYTES - 20 in, or MPLS: every read flow_extract makes of such
 * a frame is within them). Then p's header offsets are set as flow_extract would
 * set them, and the caller may use prev_key for p. A burst is mostly one
 * flow; this is ~15 instructions where the parse is ~100.
 *
 * It is two halves, so a burst pays the first once per parsed frame, not
 * per frame: flow_same_eligible(prev, prev_key) (prev's parse stayed within
 * the bytes compared), then, for each frame after it that has prev's input
 * port, flow_same_frame(p, prev, tun). A frame
 * that passes has prev's headers, so it is as eligible as prev was.
 *
 * Keep in step with flow_extract: anything new it reads into the key (pkt
 * fields, bytes further in) must be compared here too or excluded.
 */
#define PARSE_SAME_BYTES	64
#define PARSE_BE16_IPV4		(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0x0008 : 0x0800)

/* Both came out of a tunnel and the pkt.tun fields flow_extract copies
 * into the key are equal (a burst from one tunnel is mostly one flow, as a
 * plain burst is). Out of line: the plain path never calls it. */
bool pkt_tun_same(const struct pkt *a, const struct pkt *b);

/* pkt_tun_same, first as one compare of the whole pkt.tun: tnl_rx copies
 * one made-up pkt.tun into every packet of a parse, so a burst of one
 * tunnel is equal byte for byte (padding and opt_len included, which only
 * makes the test stricter); otherwise field by field. */
static inline bool flow_tun_same(const struct pkt *a, const struct pkt *b)
{
#if defined(__AVX2__)
	_Static_assert(sizeof(a->tun) == 64, "flow_tun_same: pkt.tun is 2 x 32 bytes");
	const uint8_t *x = (const uint8_t *)&a->tun, *y = (const uint8_t *)&b->tun;
	__m256i d = _mm256_or_si256(
		_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)x),
				 _mm256_loadu_si256((const __m256i *)(const void *)y)),
		_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + 32)),
				 _mm256_loadu_si256((const __m256i *)(const void *)(y + 32))));

	if ((a->flags & b->flags & PKT_F_TUN) && _mm256_testz_si256(d, d))
		return true;
#endif
	return pkt_tun_same(a, b);
}

/* An MPLS frame's parse reads the label stack and nothing beneath it: at
 * most two VLAN tags, an LLC/SNAP header and FLOW_MAX_MPLS entries. */
#define PARSE_BE16_MPLS_UC	(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0x4788 : 0x8847)
#define PARSE_BE16_MPLS_MC	(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0x4888 : 0x8848)
_Static_assert(14 + 2 * 4 + 8 + 4 * FLOW_MAX_MPLS <= PARSE_SAME_BYTES,
	       "flow_same_eligible: an MPLS parse within PARSE_SAME_BYTES");

static inline bool flow_same_eligible(const struct pkt *prev, const struct flow_key *prev_key)
{
	bool room = (uintptr_t)prev->data - (uintptr_t)prev->buf <= sizeof(prev->buf) - PARSE_SAME_BYTES;

	if (likely(prev_key->dl_type == PARSE_BE16_IPV4))
		return prev->l4_off && prev->l4_off <= PARSE_SAME_BYTES - 20 && room;
	/* Decapsulated MPLS over GRE/UDP: one tunnel's burst is one label. */
	return (prev_key->dl_type == PARSE_BE16_MPLS_UC || prev_key->dl_type == PARSE_BE16_MPLS_MC) &&
	       room;
}

/* tun: whether p or prev came out of a tunnel. A caller that knows (a burst
 * from one port is all plain or, after decapsulation, all tunnel packets)
 * passes a constant, and the plain path pays nothing for tunnels. */
static inline bool flow_same_frame(struct pkt *p, const struct pkt *prev, bool tun)
{
	const uint8_t *a = p->data, *b = prev->data;

	/* The compare reads PARSE_SAME_BYTES even of a shorter frame: still
	 * inside the buffer, and bytes past the end only make it fail. */
	if (p->len != prev->len ||
	    (tun ? !flow_tun_same(p, prev) : unlikely(p->flags & PKT_F_TUN)) ||
	    (uintptr_t)a - (uintptr_t)p->buf > sizeof(p->buf) - PARSE_SAME_BYTES)
		return false;
#if defined(__AVX2__)
	{
		__m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)a);
		__m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(a + 32));
		__m256i y0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
		__m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
		__m256i d = _mm256_or_si256(_mm256_xor_si256(x0, y0), _mm256_xor_si256(x1, y1));

		if (!_mm256_testz_si256(d, d))
			return false;
	}
#else
	if (memcmp(a, b, PARSE_SAME_BYTES))
		return false;
#endif
	p->l3_off = prev->l3_off;
	p->l4_off = prev->l4_off;
	return true;
}

static inline bool flow_extract_same(struct pkt *p, const struct pkt *prev,
				     const struct flow_key *prev_key)
{
	return p->in_port == prev->in_port && flow_same_eligible(prev, prev_key) &&
	       flow_same_frame(p, prev, (p->flags | prev->flags) & PKT_F_TUN);
}

/*
 * Hash of the whole key (every byte, so any two keys that differ may hash
 * differently and equal keys hash equally), for the exact-match cache and
 * other tables keyed by a full flow_key. 33 instructions with AVX-512.
 * Not keyed: an attacker who knows it can make colliding keys, which
 * costs cache hits, never correctness.
 */
uint32_t flow_key_hash(const struct flow_key *key);

/*
 * Hash of the 5-tuple, for select groups and ECMP: IPv4/IPv6 (and ARP's)
 * addresses, nw_proto, and the ports for TCP, UDP and SCTP. Non-IP frames
 * hash dl_src, dl_dst and dl_type instead. Not symmetric (the two directions
 * of a connection may hash differently). basis varies the function.
 */
uint32_t flow_hash_5tuple(const struct flow_key *key, uint32_t basis);

#endif
