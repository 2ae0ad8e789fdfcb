/*
 * Tunnel header codec: building the outer headers of an encapsulation and
 * parsing (untrusted) outer headers on receive. Pure functions over bytes,
 * no state: the datapath (tnl_dp.c), the unit tests and the fuzzer share
 * them.
 */
#include <string.h>

#include "tnl_priv.h"

/* Wire layouts used below (offsets in bytes):
 *  VXLAN  (RFC 7348 §5):  0 flags (I = 0x08), 1-3 reserved, 4-6 VNI, 7 reserved
 *  Geneve (RFC 8926 §3.4): 0 ver(2) optlen(6, 4-byte words), 1 O(0x80) C(0x40),
 *                          2-3 protocol, 4-6 VNI, 7 reserved, 8.. options
 *  GRE    (RFC 2784, 2890): 0-1 C(0x8000) K(0x2000) S(0x1000) ver(0x0007),
 *                          2-3 protocol, then checksum+reserved1, key, sequence
 *  MPLS LSE (RFC 3032):    label(20) tc(3) bos(1) ttl(8) */
#define VXLAN_HLEN		8
#define VXLAN_FLAG_I		0x08
#define GENEVE_HLEN		8
#define GENEVE_O		0x80
#define GENEVE_C		0x40
#define GENEVE_OPT_CRIT		0x80	/* high bit of an option's type */
#define GRE_C			0x8000
#define GRE_R			0x4000
#define GRE_K			0x2000
#define GRE_S			0x1000
#define GRE_MUST_BE_ZERO	0x4c07	/* R, bits 4-5 (RFC 2784 §2.3), version */
#define UDP_HLEN		8
#define IP_HLEN			20
#define IP_DF			0x4000
#define IP_MF_OFF		0x3fff
#define MPLS_MAX_LABELS		8

const char *const tnl_drop_names[TNL_DROP_MAX] = {
#define X(e, s) [TNL_DROP_##e] = s,
	TNL_DROP_REASONS(X)
#undef X
};

static const char *const type_names[TNL_N_TYPES] = {
	[TNL_NONE] = "none", [TNL_VXLAN] = "vxlan", [TNL_GENEVE] = "geneve",
	[TNL_GRE] = "gre", [TNL_MPLSOGRE] = "mplsogre", [TNL_MPLSOUDP] = "mplsoudp",
};

const char *tnl_type_name(enum tnl_type t)
{
	return (unsigned)t < TNL_N_TYPES ? type_names[t] : "?";
}

enum tnl_type tnl_type_from_name(const char *s)
{
	for (int t = TNL_VXLAN; t < TNL_N_TYPES; t++)
		if (!strcmp(s, type_names[t]))
			return (enum tnl_type)t;
	return TNL_NONE;
}

uint16_t tnl_default_port(enum tnl_type t)
{
	switch (t) {
	case TNL_VXLAN: return 4789;	/* RFC 7348 §5 */
	case TNL_GENEVE: return 6081;	/* RFC 8926 §3.3 */
	case TNL_MPLSOUDP: return 6635;	/* RFC 7510 §3 */
	default: return 0;
	}
}

static inline bool tnl_is_udp(unsigned t)
{
	return t == TNL_VXLAN || t == TNL_GENEVE || t == TNL_MPLSOUDP;
}

/* ---- encapsulation ---- */

size_t tnl_hdr_build(const struct tnl_hdr_params *hp, uint8_t *h, size_t size)
{
	const struct dpact_tnl_push *a = hp->a;
	unsigned t = a->tnl_type;
	bool key = a->flags & DPACT_TNL_KEY, v6 = a->flags & DPACT_TNL_IPV6;
	size_t l4 = ETH_HLEN + (v6 ? IP6_HLEN : IP_HLEN), len;

	switch (t) {
	case TNL_VXLAN: len = l4 + UDP_HLEN + VXLAN_HLEN; break;
	case TNL_GENEVE: len = l4 + UDP_HLEN + GENEVE_HLEN + (a->opt_len & 0x7c); break;
	case TNL_MPLSOUDP: len = l4 + UDP_HLEN; break;
	case TNL_GRE:
	case TNL_MPLSOGRE: len = l4 + 4 + (key ? 4 : 0); break;
	default: return 0;
	}
	if (len > size || (a->opt_len & 0x7c) > sizeof(a->opts))
		return 0;
	memset(h, 0, len);
	memcpy(h, hp->dst_mac, 6);
	memcpy(h + 6, hp->src_mac, 6);
	if (v6) {
		/* Version 6, traffic class = tos; the flow label and payload
		 * length are per packet (tnl_hdr_finish6). IPv6 routers never
		 * fragment, and neither do we: no fragment header. */
		wr16(h + 12, ETH_P_IPV6_);
		wr32(h + 14, 6u << 28 | (uint32_t)a->tos << 20);
		h[20] = tnl_is_udp(t) ? IPPROTO_UDP_ : IPPROTO_GRE_;
		h[21] = a->ttl ? a->ttl : TNL_TTL_DEFAULT;
		memcpy(h + 22, hp->src_ip6, 16);
		memcpy(h + 38, a->dst6, 16);
		goto l4;
	}
	wr16(h + 12, ETH_P_IP);
	h[14] = 0x45;
	h[15] = a->tos;
	/* DF: we never fragment the outer packet (RFC 7348 §4.3 forbids it
	 * for VXLAN; the other types are treated alike) and drop what does
	 * not fit. The ID of an atomic datagram carries nothing (RFC 6864). */
	wr16(h + 20, IP_DF);
	h[22] = a->ttl ? a->ttl : TNL_TTL_DEFAULT;
	h[23] = tnl_is_udp(t) ? IPPROTO_UDP_ : IPPROTO_GRE_;
	memcpy(h + 26, &hp->src_ip, 4);
	memcpy(h + 30, &a->dst, 4);
l4:
	if (tnl_is_udp(t)) {
		uint8_t *u = h + l4, *th = u + UDP_HLEN;

		wr16(u + 2, a->dst_port ? a->dst_port : tnl_default_port(t));
		if (t == TNL_VXLAN) {
			th[0] = VXLAN_FLAG_I;
			wr32(th + 4, (uint32_t)(a->key & 0xffffff) << 8);
		} else if (t == TNL_GENEVE) {
			uint8_t ol = a->opt_len & 0x7c;

			th[0] = (uint8_t)(ol / 4);
			/* C is set when any option is critical (§3.4). */
			for (unsigned o = 0; o + 4 <= ol;) {
				if (a->opts[o + 2] & GENEVE_OPT_CRIT)
					th[1] |= GENEVE_C;
				o += 4 + (a->opts[o + 3] & 0x1f) * 4u;
			}
			wr16(th + 2, ETH_P_TEB);
			wr32(th + 4, (uint32_t)(a->key & 0xffffff) << 8);
			memcpy(th + GENEVE_HLEN, a->opts, ol);
		}
	} else {
		uint8_t *g = h + l4;

		wr16(g, key ? GRE_K : 0);
		wr16(g + 2, t == TNL_GRE ? ETH_P_TEB : ETH_P_MPLS_UC);
		if (key)
			wr32(g + 4, (uint32_t)a->key);
	}
	return len;
}

uint16_t tnl_hdr_ip_sum(const uint8_t *h)
{
	return csum_fold(csum_add(h + ETH_HLEN, IP_HLEN, 0));
}

/* A 32-bit mix (murmur3's finaliser) so nearby flows spread over the range. */
static inline uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* RFC 7348 §5: a hash of the inner headers in the dynamic range
 * 49152-65535, so the fabric's ECMP spreads tunnelled flows. */
static inline uint16_t entropy(uint32_t h)
{
	return (uint16_t)(0xc000 | (mix32(h) & 0x3fff));
}

uint16_t tnl_entropy_port(const struct flow_key *k)
{
	uint32_t h = k->nw_src * 0x9e3779b1u;
	uint32_t mac;

	h ^= k->nw_dst + (h << 6) + (h >> 2);
	h ^= ((uint32_t)k->tp_src << 16 | k->tp_dst) + (h << 6) + (h >> 2);
	h ^= k->nw_proto + (h << 6) + (h >> 2);
	/* An IPv4 key's IPv6 fields are all zero: no spread to gain there. */
	for (int i = 0; k->dl_type != __builtin_bswap16(ETH_P_IP) && i < 16; i += 4) {
		uint32_t w;

		memcpy(&w, k->ipv6_src + i, 4);
		h ^= w + (h << 6) + (h >> 2);
		memcpy(&w, k->ipv6_dst + i, 4);
		h ^= w + (h << 6) + (h >> 2);
	}
	memcpy(&mac, k->dl_src + 2, 4);
	h ^= mac + (h << 6) + (h >> 2);
	memcpy(&mac, k->dl_dst + 2, 4);
	h ^= mac + (h << 6) + (h >> 2);
	return entropy(h);
}

/* The same spread without a flow key (floods and plain outputs to a tunnel
 * port): MACs, and IPv4 addresses and ports when present. */
uint16_t tnl_entropy_port_frame(const uint8_t *d, uint32_t len)
{
	uint32_t h = 0;

	for (uint32_t i = 0; i + 4 <= 12 && i + 4 <= len; i += 4)
		h ^= rd32(d + i) + 0x9e3779b1u + (h << 6) + (h >> 2);
	if (len >= ETH_HLEN + IP_HLEN && rd16(d + 12) == ETH_P_IP) {
		const uint8_t *ip = d + ETH_HLEN;
		uint32_t ihl = (ip[0] & 15u) * 4;

		h ^= rd32(ip + 12) + (h << 6) + (h >> 2);
		h ^= rd32(ip + 16) + (h << 6) + (h >> 2);
		h ^= ip[9] + (h << 6) + (h >> 2);
		if ((ip[9] == 6 || ip[9] == 17) && !(rd16(ip + 6) & IP_MF_OFF) &&
		    ETH_HLEN + ihl + 4 <= len)
			h ^= rd32(ip + ihl) + (h << 6) + (h >> 2);
	}
	return entropy(h);
}

/* ---- decapsulation (untrusted input) ---- */

#define DROP(r) (-(int)TNL_DROP_##r)

/* The MPLS types: walk to the bottom of the stack, then rebuild an Ethernet
 * header (the outer MACs, type MPLS) in the 14 bytes before the first label,
 * so the pipeline sees an ordinary MPLS frame and flows match mpls_label. */
static int mpls_inner(uint8_t *d, uint32_t off, uint32_t end, struct tnl_decap *o)
{
	uint32_t p = off;

	for (int i = 0;; i++) {
		if (i == MPLS_MAX_LABELS || p + 4 > end)
			return DROP(BAD_MPLS);
		p += 4;
		if (d[p - 2] & 1)	/* BOS */
			break;
	}
	if (p >= end)
		return DROP(RUNT);
	o->inner_off = (uint16_t)(off - ETH_HLEN);
	o->hdr_end = (uint16_t)p;	/* the labels down to the bottom decided it */
	tnl_mpls_eth_rebuild(d, o->inner_off);
	return 0;
}

static int udp_payload(uint8_t *d, uint32_t off, uint32_t end, struct tnl_decap *o)
{
	uint8_t *t = d + off;

	switch (o->type) {
	case TNL_VXLAN:
		if (off + VXLAN_HLEN > end)
			return DROP(RUNT);
		/* §5: I must be set; the reserved bits are ignored. */
		if (!(t[0] & VXLAN_FLAG_I))
			return DROP(BAD_HDR);
		o->key = rd32(t + 4) >> 8;
		o->flags |= TNL_F_KEY;
		o->inner_off = (uint16_t)(off + VXLAN_HLEN);
		break;
	case TNL_GENEVE: {
		uint32_t ol;

		if (off + GENEVE_HLEN > end)
			return DROP(RUNT);
		ol = (t[0] & 0x3fu) * 4;
		/* §3.4: an unknown version is dropped; we carry Ethernet only. */
		if (t[0] >> 6 || rd16(t + 2) != ETH_P_TEB)
			return DROP(BAD_HDR);
		if (off + GENEVE_HLEN + ol > end)
			return DROP(RUNT);
		/* Critical options we cannot present whole to the flows
		 * must not be ignored (§3.5): drop. */
		if ((t[1] & GENEVE_C) && ol > TNL_OPTS_MAX)
			return DROP(GENEVE_CRIT);
		o->opt_len = (uint8_t)(ol < TNL_OPTS_MAX ? ol : TNL_OPTS_MAX);
		memcpy(o->opts, t + GENEVE_HLEN, o->opt_len);
		o->key = rd32(t + 4) >> 8;
		o->flags |= TNL_F_KEY | (t[1] & GENEVE_O ? TNL_F_OAM : 0) |
			    (t[1] & GENEVE_C ? TNL_F_CRIT : 0);
		o->inner_off = (uint16_t)(off + GENEVE_HLEN + ol);
		break;
	}
	default:
		return mpls_inner(d, off, end, o);
	}
	if ((uint32_t)o->inner_off + ETH_HLEN > end)
		return DROP(RUNT);
	return 0;
}

static int gre_payload(uint8_t *d, uint32_t off, uint32_t end, struct tnl_decap *o)
{
	uint16_t f, proto;
	uint32_t hl;

	if (off + 4 > end)
		return DROP(RUNT);
	f = rd16(d + off);
	proto = rd16(d + off + 2);
	if (f & GRE_MUST_BE_ZERO)
		return DROP(BAD_HDR);
	hl = 4 + (f & GRE_C ? 4u : 0) + (f & GRE_K ? 4u : 0) + (f & GRE_S ? 4u : 0);
	if (off + hl > end)
		return DROP(RUNT);
	if (f & GRE_C) {
		if (csum_fold(csum_add(d + off, end - off, 0)) != 0xffff)
			return DROP(BAD_HDR);
		o->flags |= TNL_F_CSUM;
	}
	if (f & GRE_K) {
		o->key = rd32(d + off + 4 + (f & GRE_C ? 4 : 0));
		o->flags |= TNL_F_KEY;
	}
	off += hl;
	if (proto == ETH_P_TEB) {
		o->type = TNL_GRE;
		if (off + ETH_HLEN > end)
			return DROP(RUNT);
		o->inner_off = (uint16_t)off;
		return 0;
	}
	if (proto == ETH_P_MPLS_UC) {
		o->type = TNL_MPLSOGRE;
		return mpls_inner(d, off, end, o);
	}
	return DROP(LOCAL_OTHER);
}

/* A successful parse read the headers up to the inner frame (or, for the
 * MPLS types, the bottom label: mpls_inner set that), and nothing more
 * unless a checksum covered the payload: a GRE one (verified); a UDP one
 * is only noted. */
static inline int decided(int r, struct tnl_decap *o)
{
	if (r == 0 && !o->hdr_end)
		o->hdr_end = o->inner_off;
	if ((o->flags & TNL_F_CSUM) && !tnl_is_udp(o->type))
		o->hdr_end = 0;
	return r;
}

/* UDP at off (IP payload ending at end) to a tunnel port. ip6: the outer
 * IPv6 header, whose UDP checksum is mandatory and verified; NULL for
 * IPv4. */
static int udp_tunnel(uint8_t *d, uint32_t off, uint32_t end, const uint16_t udp_ports[TNL_N_TYPES],
		      const uint8_t *ip6, struct tnl_decap *o)
{
	const uint8_t *u = d + off;
	uint32_t ulen;
	int r;

	if (off + UDP_HLEN > end)
		return DROP(RUNT);
	ulen = rd16(u + 4);
	if (ulen < UDP_HLEN || off + ulen > end)
		return DROP(BAD_UDP);
	end = off + ulen;
	o->udp_dst = rd16(d + off + 2);
	for (int t = TNL_VXLAN; t < TNL_N_TYPES; t++)
		if (udp_ports[t] && udp_ports[t] == o->udp_dst && tnl_is_udp((unsigned)t))
			o->type = (enum tnl_type)t;
	if (!o->type)
		return DROP(LOCAL_OTHER);
	if (ip6) {
		/* RFC 8200 8.1: mandatory over IPv6. Zero is allowed only
		 * where both ends agreed (RFC 6935/6936); xviod always sends
		 * one, so it does not accept the agreement either. Checked
		 * before anything of the payload is believed. */
		if (!rd16(u + 6))
			return DROP(UDP6_ZERO_CSUM);
		if (csum_fold(csum_add_fast(u, ulen, csum_pseudo6(ip6, ulen, IPPROTO_UDP_))) !=
		    0xffff)
			return DROP(BAD_UDP_CSUM);
	}
	/* Over IPv4 a non-zero UDP checksum is noted, not verified: RFC 7348
	 * §5 and RFC 8926 §3.3 leave verifying optional, and an uplink
	 * without a virtio-net header (af_packet on a veth) hands us the
	 * sender's unfinished CHECKSUM_PARTIAL value, indistinguishable from
	 * a bad one. The inner packet keeps its own end-to-end checksum. */
	if (rd16(u + 6))
		o->flags |= TNL_F_CSUM;
	r = udp_payload(d, off + UDP_HLEN, end, o);
	o->inner_len = (uint16_t)(end - o->inner_off);
	return decided(r, o);
}

int tnl_decap_parse(uint8_t *d, uint32_t len, uint32_t local_ip,
		    const uint16_t udp_ports[TNL_N_TYPES], struct tnl_decap *o)
{
	const uint8_t *ip = d + ETH_HLEN;
	uint32_t ihl, tot, off, end, dst;
	uint16_t frag;

	if (len < ETH_HLEN + IP_HLEN || rd16(d + 12) != ETH_P_IP || ip[0] >> 4 != 4)
		return 1;
	memcpy(&dst, ip + 16, 4);
	if (dst != local_ip)
		return 1;
	memset(o, 0, sizeof(*o));
	ihl = (ip[0] & 15u) * 4;
	tot = rd16(ip + 2);
	if (ihl < IP_HLEN || tot < ihl || tot > len - ETH_HLEN)
		return DROP(BAD_IP);
	if (!ip_csum_ok(ip, ihl))
		return DROP(BAD_IP_CSUM);
	frag = rd16(ip + 6);
	if (frag & IP_MF_OFF)
		return DROP(FRAG);
	memcpy(&o->src, ip + 12, 4);
	o->dst = dst;
	o->tos = ip[1];
	o->ttl = ip[8];
	if (frag & IP_DF)
		o->flags |= TNL_F_DONT_FRAGMENT;
	off = ETH_HLEN + ihl;
	end = ETH_HLEN + tot;
	if (ip[9] == IPPROTO_GRE_) {
		int r = gre_payload(d, off, end, o);

		o->inner_len = (uint16_t)(end - o->inner_off);
		return decided(r, o);
	}
	if (ip[9] == IPPROTO_UDP_)
		return udp_tunnel(d, off, end, udp_ports, NULL, o);
	return DROP(LOCAL_OTHER);
}

/* IPv6 next headers that are extension headers (RFC 8200 4, RFC 7045). */
static bool ip6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 50 || nh == 51 || nh == 60 ||
	       nh == 135 || nh == 139 || nh == 140;
}

int tnl_decap_parse6(uint8_t *d, uint32_t len, const uint8_t local_ip6[16],
		     const uint16_t udp_ports[TNL_N_TYPES], struct tnl_decap *o)
{
	const uint8_t *ip = d + ETH_HLEN;
	uint32_t off = ETH_HLEN + IP6_HLEN, end;
	uint8_t nh;
	int r;

	if (len < ETH_HLEN + IP6_HLEN || rd16(d + 12) != ETH_P_IPV6_ || ip[0] >> 4 != 6 ||
	    memcmp(ip + 24, local_ip6, 16))
		return 1;
	memset(o, 0, sizeof(*o));
	end = off + rd16(ip + 4);
	if (end > len)
		return DROP(BAD_IP6);
	o->v6 = true;
	memcpy(o->src6, ip + 8, 16);
	memcpy(o->dst6, ip + 24, 16);
	o->tos = (uint8_t)(rd16(ip) >> 4);
	o->ttl = ip[7];
	nh = ip[6];
	if (nh == IPPROTO_GRE_) {
		r = gre_payload(d, off, end, o);
		o->inner_len = (uint16_t)(end - o->inner_off);
		r = decided(r, o);
	} else if (nh == IPPROTO_UDP_) {
		r = udp_tunnel(d, off, end, udp_ports, ip, o);
	} else {
		return nh == 44 ? DROP(FRAG) : ip6_ext(nh) ? DROP(IP6_EXT) : DROP(LOCAL_OTHER);
	}
	/* No burst reference over IPv6: its UDP checksum is verified and
	 * covers the payload, and tnl_rx's tolerant compare knows the IPv4
	 * header's varying fields only. Every packet takes the full parse. */
	o->hdr_end = 0;
	return r;
}
