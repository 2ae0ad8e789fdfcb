/*
 * The packets the router parses from guests and builds for them: ARP
 * (RFC 826) requests answered and replies learned, IPv6 neighbour discovery
 * (RFC 4861) solicitations answered and adverts learned, ARP requests and
 * solicitations for unresolved next hops, ICMP errors (RFC 792, RFC 1812
 * 4.3.2.7 for when not to send one; ICMPv6 RFC 4443 2.4), echo replies.
 *
 * Security model: the frames come from guests and are hostile. Every field
 * is bounds-checked against the frame length before it is read, nothing is
 * trusted from a length field without a check, and a frame we do not fully
 * understand is ignored rather than answered. tests/fuzz/fuzz_l3_nd.c runs
 * these functions on arbitrary bytes.
 */
#include <string.h>

#include "l3_priv.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_IPV6	0x86dd
#define IPV6_HLEN	40
#define PROTO_ICMP	1
#define PROTO_ICMPV6	58

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t l3_csum(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	uint64_t s = sum;

	for (; len > 1; len -= 2, b += 2)
		s += rd16(b);
	if (len)
		s += (uint32_t)b[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The ICMPv6 pseudo-header sum (RFC 8200 8.1), not complemented. */
static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint32_t len)
{
	uint32_t s = 0;

	for (int i = 0; i < 16; i += 2)
		s += rd16(src + i) + rd16(dst + i);
	return s + (len >> 16) + (len & 0xffff) + PROTO_ICMPV6;
}

static void icmp6_csum(uint8_t *ip6)
{
	uint16_t plen = rd16(ip6 + 4);
	uint8_t *icmp = ip6 + IPV6_HLEN;

	wr16(icmp + 2, 0);
	wr16(icmp + 2, l3_csum(icmp, plen, pseudo6(ip6 + 8, ip6 + 24, plen)));
}

static void eth_fill(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	wr16(f + 12, type);
}

static bool mac_ok(const uint8_t *m)
{
	static const uint8_t zero[6];

	return !(m[0] & 1) && memcmp(m, zero, 6);
}

enum l3_nd_verdict l3_arp_input(uint8_t *data, uint16_t *len, uint16_t l3_off,
				const uint8_t *mac, l3_owns_fn *owns, void *aux,
				struct l3_nd_result *res)
{
	uint8_t *a = data + l3_off, sha[6], spa[4], tpa[4];
	uint16_t op;

	memset(res, 0, sizeof(*res));
	if (l3_off < ETH_HLEN || *len < l3_off + 28u)
		return L3_ND_BAD;
	/* Ethernet/IPv4 only: htype 1, ptype 0x0800, hlen 6, plen 4. */
	if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4)
		return L3_ND_BAD;
	op = rd16(a + 6);
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	memcpy(tpa, a + 24, 4);
	if (mac_ok(sha) && (spa[0] | spa[1] | spa[2] | spa[3])) {
		res->learn = true;
		res->af = 4;
		memcpy(res->ip, spa, 4);
		memcpy(res->mac, sha, 6);
	}
	if (op == 2)
		return L3_ND_CONSUMED;
	if (op != 1 || !memcmp(spa, tpa, 4) || !owns(aux, 4, tpa))
		return L3_ND_IGNORE;	/* gratuitous, or not ours to answer */
	/* The request becomes the reply, in place. */
	eth_fill(data, sha, mac, ETH_P_ARP);
	wr16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, tpa, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	*len = (uint16_t)(l3_off + 28 < 60 ? 60 : l3_off + 28);
	return L3_ND_REPLY;
}

/* The link-layer address option of type `want` (1 source, 2 target). */
static const uint8_t *nd_lladdr(const uint8_t *opt, size_t n, uint8_t want, bool *bad)
{
	const uint8_t *found = NULL;

	while (n >= 2) {
		size_t olen = (size_t)opt[1] * 8;

		if (!olen || olen > n) {
			*bad = true;	/* RFC 4861 4.6: zero length is invalid */
			return NULL;
		}
		if (opt[0] == want && olen == 8)
			found = opt + 2;
		opt += olen;
		n -= olen;
	}
	return found;
}

enum l3_nd_verdict l3_nd_input(uint8_t *data, uint16_t *len, uint16_t room, uint16_t l3_off,
			       const uint8_t *mac, l3_owns_fn *owns, void *aux,
			       struct l3_nd_result *res)
{
	static const uint8_t unspec[16], all_nodes[16] = { 0xff, 2, [15] = 1 };
	uint8_t *ip = data + l3_off, *icmp = ip + IPV6_HLEN, target[16], src[16];
	const uint8_t *ll;
	uint16_t plen;
	bool bad = false, dad;

	memset(res, 0, sizeof(*res));
	if (l3_off < ETH_HLEN || *len < l3_off + IPV6_HLEN + 24u || (ip[0] >> 4) != 6 ||
	    ip[6] != PROTO_ICMPV6)
		return L3_ND_BAD;
	plen = rd16(ip + 4);
	if (plen < 24 || plen > *len - l3_off - IPV6_HLEN)
		return L3_ND_BAD;
	/* RFC 4861 7.1: hop limit 255 (not forwarded), code 0. */
	if (ip[7] != 255 || icmp[1] != 0)
		return L3_ND_BAD;
	if (icmp[0] != 135 && icmp[0] != 136)
		return L3_ND_IGNORE;
	if (l3_csum(icmp, plen, pseudo6(ip + 8, ip + 24, plen)) != 0)
		return L3_ND_BAD;
	memcpy(target, icmp + 8, 16);
	memcpy(src, ip + 8, 16);
	if (target[0] == 0xff)
		return L3_ND_BAD;
	ll = nd_lladdr(icmp + 24, plen - 24u, icmp[0] == 135 ? 1 : 2, &bad);
	if (bad)
		return L3_ND_BAD;
	dad = !memcmp(src, unspec, 16);
	if (icmp[0] == 136) {
		if (ll && mac_ok(ll)) {
			res->learn = true;
			res->af = 6;
			memcpy(res->ip, target, 16);
			memcpy(res->mac, ll, 6);
		}
		return L3_ND_CONSUMED;
	}
	if (dad && ll)
		return L3_ND_BAD;	/* RFC 4861 7.1.1: no SLL from the unspecified address */
	if (!dad && ll && mac_ok(ll)) {
		res->learn = true;
		res->af = 6;
		memcpy(res->ip, src, 16);
		memcpy(res->mac, ll, 6);
	}
	if (!owns(aux, 6, target) || room < ETH_HLEN + IPV6_HLEN + 32u)
		return L3_ND_IGNORE;
	/* The advert: to the solicitor (or all nodes for DAD), solicited and
	 * override flags, router flag, our MAC as the target's. */
	{
		uint8_t dmac[6];

		if (dad)
			memcpy(dmac, (const uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
		else
			memcpy(dmac, ll ? ll : data + 6, 6);
		eth_fill(data, dmac, mac, ETH_P_IPV6);
	}
	ip = data + ETH_HLEN;
	icmp = ip + IPV6_HLEN;
	ip[0] = 0x60;
	ip[1] = ip[2] = ip[3] = 0;
	wr16(ip + 4, 32);
	ip[6] = PROTO_ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, target, 16);
	memcpy(ip + 24, dad ? all_nodes : src, 16);
	memset(icmp, 0, 32);
	icmp[0] = 136;
	icmp[4] = dad ? 0xa0 : 0xe0;	/* R, S (not for DAD), O */
	memcpy(icmp + 8, target, 16);
	icmp[24] = 2;
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	icmp6_csum(ip);
	*len = ETH_HLEN + IPV6_HLEN + 32;
	return L3_ND_REPLY;
}

uint16_t l3_solicit_build(uint8_t *buf, uint8_t af, const uint8_t *smac, const uint8_t *src,
			  const uint8_t *target)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (af == 4) {
		uint8_t *a = buf + ETH_HLEN;

		memset(buf, 0, 60);
		eth_fill(buf, bcast, smac, ETH_P_ARP);
		wr16(a, 1);
		wr16(a + 2, ETH_P_IP);
		a[4] = 6;
		a[5] = 4;
		wr16(a + 6, 1);
		memcpy(a + 8, smac, 6);
		memcpy(a + 14, src, 4);
		memcpy(a + 24, target, 4);
		return 60;
	}
	/* NS to the solicited-node multicast group ff02::1:ffXX:XXXX. */
	{
		uint8_t *ip = buf + ETH_HLEN, *icmp = ip + IPV6_HLEN;
		uint8_t dmac[6] = { 0x33, 0x33, 0xff, target[13], target[14], target[15] };

		memset(buf, 0, ETH_HLEN + IPV6_HLEN + 32);
		eth_fill(buf, dmac, smac, ETH_P_IPV6);
		ip[0] = 0x60;
		wr16(ip + 4, 32);
		ip[6] = PROTO_ICMPV6;
		ip[7] = 255;
		memcpy(ip + 8, src, 16);
		ip[24] = 0xff;
		ip[25] = 0x02;
		ip[35] = 1;
		ip[36] = 0xff;
		memcpy(ip + 37, target + 13, 3);
		icmp[0] = 135;
		memcpy(icmp + 8, target, 16);
		icmp[24] = 1;
		icmp[25] = 1;
		memcpy(icmp + 26, smac, 6);
		icmp6_csum(ip);
		return ETH_HLEN + IPV6_HLEN + 32;
	}
}

/* May a router send an ICMP error about this packet? Not about an ICMP
 * error, a non-first fragment, a packet to a multicast or broadcast
 * address, or one from a multicast, broadcast, unspecified or loopback
 * source (RFC 1812 4.3.2.7, RFC 4443 2.4 e). */
bool l3_icmp_error_allowed(uint8_t af, const uint8_t *ip, uint16_t len)
{
	if (af == 4) {
		unsigned ihl = (ip[0] & 0xf) * 4u;

		if (len < 20 || ihl < 20 || len < ihl)
			return false;
		if (rd16(ip + 6) & 0x1fff)
			return false;
		if (ip[12] >= 224 || ip[12] == 0 || ip[12] == 127 || ip[16] >= 224)
			return false;
		if (ip[9] == PROTO_ICMP) {
			if (len < ihl + 1)
				return false;
			/* Only queries (echo, timestamp, ...) get errors. */
			return ip[ihl] == 0 || ip[ihl] == 8 || ip[ihl] == 13 || ip[ihl] == 14;
		}
		return true;
	}
	if (len < IPV6_HLEN || ip[8] == 0xff || ip[24] == 0xff)
		return false;
	{
		static const uint8_t unspec[16];

		if (!memcmp(ip + 8, unspec, 16))
			return false;
	}
	if (ip[6] == PROTO_ICMPV6)
		return len > IPV6_HLEN && ip[IPV6_HLEN] >= 128;	/* informational only */
	return true;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

uint16_t l3_icmp_error_build(uint8_t *buf, uint8_t af, uint8_t type, uint8_t code, uint32_t info,
			     const uint8_t *orig, uint16_t orig_len, const uint8_t *src,
			     const uint8_t *dmac, const uint8_t *smac)
{
	if (!l3_icmp_error_allowed(af, orig, orig_len))
		return 0;
	if (af == 4) {
		uint8_t *ip = buf + ETH_HLEN, *icmp = ip + 20;
		unsigned ihl = (orig[0] & 0xf) * 4u;
		uint16_t quote = (uint16_t)MIN((unsigned)orig_len, ihl + 8u);
		uint16_t tot = (uint16_t)(20 + 8 + quote);

		eth_fill(buf, dmac, smac, ETH_P_IP);
		memset(ip, 0, 28);
		ip[0] = 0x45;
		ip[1] = 0xc0;		/* internetwork control precedence */
		wr16(ip + 2, tot);
		ip[8] = 64;
		ip[9] = PROTO_ICMP;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, orig + 12, 4);
		wr16(ip + 10, l3_csum(ip, 20, 0));
		icmp[0] = type;
		icmp[1] = code;
		wr32(icmp + 4, info);
		memcpy(icmp + 8, orig, quote);
		wr16(icmp + 2, l3_csum(icmp, 8u + quote, 0));
		return (uint16_t)MAX(ETH_HLEN + tot, 60);
	}
	{
		/* As much of the packet as fits in the minimum MTU (1280). */
		uint8_t *ip = buf + ETH_HLEN, *icmp = ip + IPV6_HLEN;
		uint16_t quote = (uint16_t)MIN((unsigned)orig_len, 1280u - IPV6_HLEN - 8u);

		eth_fill(buf, dmac, smac, ETH_P_IPV6);
		memset(ip, 0, IPV6_HLEN + 8);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)(8 + quote));
		ip[6] = PROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, orig + 8, 16);
		icmp[0] = type;
		icmp[1] = code;
		wr32(icmp + 4, info);
		memcpy(icmp + 8, orig, quote);
		icmp6_csum(ip);
		return (uint16_t)(ETH_HLEN + IPV6_HLEN + 8 + quote);
	}
}

bool l3_echo_reply(uint8_t *data, uint16_t len, uint16_t l3_off, uint8_t af)
{
	uint8_t *ip = data + l3_off, tmp[16];

	if (af == 4) {
		unsigned ihl;
		uint8_t *icmp;
		uint32_t s;

		if (len < l3_off + 20u)
			return false;
		ihl = (ip[0] & 0xf) * 4u;
		if (ihl < 20 || len < l3_off + ihl + 8u || ip[9] != PROTO_ICMP ||
		    (rd16(ip + 6) & 0x3fff))
			return false;
		icmp = ip + ihl;
		if (icmp[0] != 8 || icmp[1] != 0)
			return false;
		memcpy(tmp, ip + 12, 4);
		memcpy(ip + 12, ip + 16, 4);
		memcpy(ip + 16, tmp, 4);
		icmp[0] = 0;
		/* RFC 1624: type 8 → 0 lowers the first word by 0x0800. */
		s = (uint32_t)(uint16_t)~rd16(icmp + 2) + (uint16_t)~0x0800u;
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		wr16(icmp + 2, (uint16_t)~s);
	} else {
		uint8_t *icmp = ip + IPV6_HLEN;

		if (len < l3_off + IPV6_HLEN + 8u || ip[6] != PROTO_ICMPV6 || icmp[0] != 128 ||
		    icmp[1] != 0 || rd16(ip + 4) > len - l3_off - IPV6_HLEN || rd16(ip + 4) < 8)
			return false;
		memcpy(tmp, ip + 8, 16);
		memcpy(ip + 8, ip + 24, 16);
		memcpy(ip + 24, tmp, 16);
		icmp[0] = 129;
		ip[7] = 64;
		icmp6_csum(ip);
	}
	memcpy(tmp, data, 6);
	memcpy(data, data + 6, 6);
	memcpy(data + 6, tmp, 6);
	return true;
}

/* The transport ports as parse.c puts them in a flow key: TCP/UDP/SCTP
 * ports as they are on the wire, ICMP type and code each in the low byte
 * of a big-endian word. Zero when the header is cut short or unknown. */
static void l4_ports(const uint8_t *l4, uint32_t left, uint8_t proto, uint8_t icmp,
		     uint16_t *sp, uint16_t *dp)
{
	*sp = *dp = 0;
	if ((proto == 6 && left >= 20) || (proto == 17 && left >= 8) || (proto == 132 && left >= 12)) {
		memcpy(sp, l4, 2);
		memcpy(dp, l4 + 2, 2);
	} else if (proto == icmp && left >= 8) {
		uint8_t t[2] = { 0, l4[0] }, c[2] = { 0, l4[1] };

		memcpy(sp, t, 2);
		memcpy(dp, c, 2);
	}
}

uint32_t l3_pkt_hash(const uint8_t *ip, uint32_t len, uint8_t af)
{
	static const uint8_t zero[16];
	uint16_t sp = 0, dp = 0;

	if (af == 4) {
		uint32_t ihl = (ip[0] & 0xfu) * 4, tot = rd16(ip + 2), s, d;

		memcpy(&s, ip + 12, 4);
		memcpy(&d, ip + 16, 4);
		/* As parse_ipv4: no ports in a later fragment or a bad header. */
		if (ihl >= 20 && tot <= len && ihl <= tot && !(rd16(ip + 6) & 0x1fff))
			l4_ports(ip + ihl, tot - ihl, ip[9], PROTO_ICMP, &sp, &dp);
		return l3_tuple_hash(s, d, zero, zero, ip[9], sp, dp);
	}
	if (IPV6_HLEN + (uint32_t)rd16(ip + 4) <= len)
		l4_ports(ip + IPV6_HLEN, rd16(ip + 4), ip[6], PROTO_ICMPV6, &sp, &dp);
	return l3_tuple_hash(0, 0, ip + 8, ip + 24, ip[6], sp, dp);
}
