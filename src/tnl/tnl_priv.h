/*
 * Private to src/tnl: the configuration snapshot (uplinks, routes, tunnel
 * ports) PMDs read under RCU, the neighbour table and the per-PMD counters.
 */
#ifndef XVIO_TNL_PRIV_H
#define XVIO_TNL_PRIV_H

#include <stdalign.h>
#include <string.h>

#include "tnl.h"

#define TNL_MAX_UPLINKS		8
#define TNL_MAX_ROUTES		64
#define TNL_MAX_PORTS		64
#define ETH_HLEN		14
#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define ETH_P_TEB		0x6558
#define ETH_P_MPLS_UC		0x8847
#define ETH_P_MPLS_MC		0x8848
#define ETH_P_IPV6_		0x86dd
#define IPPROTO_GRE_		47
#define IPPROTO_UDP_		17
#define IPPROTO_ICMPV6_		58
#define IP6_HLEN		40

struct tnl_uplink {
	struct port *port;		/* valid while listed (removed before close) */
	uint32_t ip;			/* network order */
	uint32_t gw;			/* default gateway, 0 = none */
	uint8_t plen;
	uint8_t mac[6];
	uint16_t mtu;			/* IP MTU of the underlay */
	/* IPv6 (has_ip6): the address, answered to neighbour solicitations
	 * and used as the source of encapsulations and of our own NS. */
	bool has_ip6, has_gw6;
	uint8_t plen6;
	uint8_t ip6[16];
	uint8_t gw6[16];
};

/* An IPv6 underlay route; kept apart from the IPv4 ones so their lookup
 * (once per encapsulated batch) stays a 32-bit compare. */
struct tnl_route6 {
	uint8_t prefix[16];		/* masked */
	uint8_t gw[16];			/* all zero = on link */
	uint8_t plen;
	uint8_t uplink;
	bool connected;
};

struct tnl_route {
	uint32_t prefix, mask;		/* network order */
	uint32_t gw;			/* 0 = on link: the destination itself */
	uint8_t plen;
	uint8_t uplink;			/* index in uplinks[] */
	bool connected;			/* made by underlay-set, not route-add */
};

/* How a tunnel port matches what arrives (and what it sends by default). */
enum tnl_opt_mode { TNL_OPT_NONE, TNL_OPT_FIXED, TNL_OPT_FLOW };

struct tnl_port_cfg {
	struct port *pp;		/* valid while listed (removed before close) */
	uint16_t port;			/* port id */
	uint8_t type;			/* enum tnl_type */
	uint8_t remote_mode, key_mode;	/* enum tnl_opt_mode */
	uint8_t tos, ttl;
	bool csum;
	uint16_t dst_port;		/* host */
	uint32_t remote;		/* network order, TNL_OPT_FIXED */
	uint64_t key;			/* TNL_OPT_FIXED */
	/* IPv6 (remote6 set with remote_ip=IPV6): remote6 is the fixed
	 * remote instead of remote; local (local_ip=) the outer source when
	 * set, else the routing uplink's address. */
	bool v6;
	uint32_t local;			/* network order, 0 = the uplink's */
	uint8_t remote6[16];
	uint8_t local6[16];		/* all zero = the uplink's */
};

/* Immutable once published through tnl_conf_rcu. */
struct tnl_conf {
	uint8_t uplink_of[PORT_MAX];	/* index + 1 in uplinks[], 0 = none */
	uint16_t n_uplinks, n_routes, n_ports;
	struct tnl_uplink uplinks[TNL_MAX_UPLINKS];
	struct tnl_route routes[TNL_MAX_ROUTES];	/* longest prefix first */
	uint16_t n_routes6;
	struct tnl_route6 routes6[TNL_MAX_ROUTES];	/* longest prefix first */
	struct tnl_port_cfg ports[TNL_MAX_PORTS];
	uint8_t port_idx[PORT_MAX];	/* index + 1 in ports[], 0 = not a tunnel */
	uint16_t udp_ports[TNL_N_TYPES];	/* a port of the type listens here (the
					 * first one's dst_port; host) */
};

extern struct tnl_conf *tnl_conf_rcu;

/* Control: a copy of the current snapshot to modify, then publish it (waits
 * a grace period and frees the old one). */
struct tnl_conf *tnl_conf_copy(void);
void tnl_conf_publish(struct tnl_conf *c);
void tnl_conf_reindex(struct tnl_conf *c);

/* PMD: the route for dst, NULL if none. */
const struct tnl_route *tnl_route_lookup(const struct tnl_conf *c, uint32_t dst);
const struct tnl_route6 *tnl_route6_lookup(const struct tnl_conf *c, const uint8_t dst[16]);

/* PMD: a tunnel port's transmit (its fixed remote and key). */
uint16_t tnl_port_tx(const struct tnl_port_cfg *pc, uint16_t qid, struct pkt **pkts, uint16_t n);
/* Control: is port one of ours? */
bool tnl_port_is_tunnel(const struct port *port);

/* ---- neighbours (neigh.c) ---- */

#define NEIGH_SIZE	1024		/* slots, power of two; load ≤ 1/2 enforced */

enum neigh_state { NEIGH_EMPTY, NEIGH_LEARNED, NEIGH_STATIC };

/* Addresses are kept as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d,
 * RFC 4291 2.5.5.2), so one table serves ARP and ND; a[0..1] as two words. */
struct neigh_entry {
	uint32_t seq;			/* odd while being written */
	uint16_t port;
	uint8_t state;
	uint64_t a[2];			/* the address, 0 = empty */
	uint64_t mac;			/* 48 bits, big-endian as an integer */
	uint32_t updated;		/* seconds (time_ns / 1e9) */
};

/* PMD or control: the MAC of ip on port, false if unknown. */
bool neigh_lookup(uint32_t ip, uint16_t port, uint8_t mac[6]);
bool neigh_lookup6(const uint8_t ip6[16], uint16_t port, uint8_t mac[6]);
/* PMD or control: learn/refresh. Static entries are never overwritten by
 * learning. Returns 0, or -ENOSPC when the table is full. */
int neigh_update(uint32_t ip, const uint8_t mac[6], uint16_t port, bool is_static);
int neigh_update6(const uint8_t ip6[16], const uint8_t mac[6], uint16_t port, bool is_static);
void neigh_flush_port(uint16_t port);

/* ---- per-PMD counters ---- */

struct tnl_pmd_stats {
	alignas(CACHE_LINE) uint64_t drops[TNL_DROP_MAX];
	uint64_t encap, decap, arp_replied, arp_learned, arp_requests;
	uint64_t decap_reused;		/* of decap: took the burst's previous parse */
	uint64_t nd_replied, nd_learned, nd_requests;
};
extern struct tnl_pmd_stats tnl_stats[DPACT_PMD_MAX];

static inline void tnl_count_drop(unsigned pmd, enum tnl_drop r, uint64_t n)
{
	COUNTER_ADD(tnl_stats[pmd].drops[r], n);
}

/* PMD: an ARP request for ip out of uplink u, at most one per address per
 * PMD every TNL_ARP_INTERVAL_NS. */
#define TNL_ARP_INTERVAL_NS	200000000ull
void tnl_arp_solicit(unsigned pmd, const struct tnl_uplink *u, uint32_t ip);
/* The same for IPv6: a neighbour solicitation for ip6 to its
 * solicited-node multicast address (RFC 4861 7.2.2), same pacing. */
void tnl_nd_solicit(unsigned pmd, const struct tnl_uplink *u, const uint8_t ip6[16]);
/* PMD: an ICMPv6 packet to one of our addresses or a multicast group on
 * uplink u: answers NS for our address, learns from NS/NA. 1 if consumed
 * (answered, learned or dropped with a counter), 0 if not ours. */
int tnl_nd_input(unsigned pmd, const struct tnl_uplink *u, struct pkt *p);

/* Big-endian loads and stores, and the Internet checksum (RFC 1071): the
 * one's-complement sum of n bytes added to s (not folded), and its fold. */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static inline uint64_t csum_add(const uint8_t *d, size_t n, uint64_t s)
{
	size_t i = 0;

	for (; i + 1 < n; i += 2)
		s += rd16(d + i);
	if (i < n)
		s += (uint64_t)d[i] << 8;
	return s;
}

static inline uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An IPv4 header of ihl bytes (a multiple of 4, >= 20) sums to all ones.
 * In 32-bit words: the ones' complement sum does not depend on byte order
 * (RFC 1071 §2(B)), and all ones reads the same either way round. */
static inline bool ip_csum_ok(const uint8_t *ip, uint32_t ihl)
{
	uint64_t s = 0;

	for (uint32_t i = 0; i < ihl; i += 4) {
		uint32_t w;

		memcpy(&w, ip + i, 4);
		s += w;
	}
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold(s) == 0xffff;
}

/* Complete an outer header (tnl_hdr_build's template) copied to the front
 * of a packet of total len bytes: IPv4 total length and checksum (from the
 * template's folded sum, RFC 1624 style), and for the UDP types the source
 * port and UDP length. */
static inline void tnl_hdr_finish(uint8_t *h, uint32_t len, uint16_t base, uint16_t sport,
				  bool udp)
{
	uint16_t tot = (uint16_t)(len - ETH_HLEN);

	wr16(h + 16, tot);
	wr16(h + 24, (uint16_t)~csum_fold((uint64_t)base + tot));
	if (udp) {
		wr16(h + 34, sport);
		wr16(h + 38, (uint16_t)(tot - 20));
	}
}

/* The MPLS types' decapsulation: an Ethernet header (the outer MACs, type
 * MPLS) rebuilt in the 14 bytes before the first label at inner_off + 14. */
static inline void tnl_mpls_eth_rebuild(uint8_t *d, uint16_t inner_off)
{
	uint8_t macs[12];

	memcpy(macs, d, 12);
	memcpy(d + inner_off, macs, 12);
	wr16(d + inner_off + 12, ETH_P_MPLS_UC);
}

/* The ICMPv6/UDP-over-IPv6 pseudo-header sum (RFC 8200 8.1): addresses
 * at ip6 + 8 (source and destination), the upper-layer length and the next
 * header, not folded. */
static inline uint64_t csum_pseudo6(const uint8_t *ip6, uint32_t len, uint8_t nh)
{
	return csum_add(ip6 + 8, 32, 0) + (len >> 16) + (len & 0xffff) + nh;
}

/* The unfolded sum of n bytes read 8 at a time, as csum_add would give
 * it after folding (RFC 1071: the sum does not depend on byte order, so
 * native words are summed and the folded result swapped to big-endian). */
static inline uint64_t csum_add_fast(const uint8_t *d, size_t n, uint64_t s)
{
	uint64_t acc = 0, w;
	size_t i = 0;
	uint16_t f;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, d + i, 8);
		acc += w;
		acc += acc < w;		/* end-around carry */
	}
	if (i < n) {
		w = 0;
		memcpy(&w, d + i, n - i);
		acc += w;
		acc += acc < w;
	}
	acc = (acc & 0xffffffff) + (acc >> 32);
	f = csum_fold(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	f = (uint16_t)(f >> 8 | f << 8);
#endif
	return s + f;
}

/* IPv4-mapped form of an IPv4 address (network order). */
static inline void ip4_mapped(uint32_t ip, uint8_t a[16])
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	memcpy(a + 12, &ip, 4);
}

static inline bool ip6_is_zero(const uint8_t a[16])
{
	uint64_t x, y;

	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	return !(x | y);
}

/* An IPv6 address usable for the underlay (ours, a neighbour's, a tunnel
 * end): not unspecified, multicast or loopback, and not IPv4-mapped
 * (::ffff:0:0/96), which is how the neighbour table keeps IPv4 entries: a
 * mapped "IPv6" neighbour would overwrite the ARP entry of that IPv4. */
static inline bool ip6_underlay_ok(const uint8_t a[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t loop[16] = { [15] = 1 };

	return !ip6_is_zero(a) && a[0] != 0xff && memcmp(a, mapped, 12) && memcmp(a, loop, 16);
}

static inline void mac_to_u64(const uint8_t m[6], uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 6; i++)
		*v = *v << 8 | m[i];
}

static inline void u64_to_mac(uint64_t v, uint8_t m[6])
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		m[i] = (uint8_t)v;
}

#endif
