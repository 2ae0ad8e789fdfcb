/*
 * Private to src/l3: the routing information base (what the LPM tables were
 * built from), next-hop bookkeeping, neighbours, the glean ring, and the
 * packet builders shared by the datapath and its fuzzer.
 */
#ifndef XVIO_L3_PRIV_H
#define XVIO_L3_PRIV_H

#include "l3.h"
#include "lpm.h"

/* A MAC as the low 48 bits of a word, first byte highest (l3_nh.dmac). */
static inline uint64_t l3_mac_word(const uint8_t *m)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

/* ---- next hops (l3_nh.c) ---- */

/* Control-side state of next hop i, beside l3_nh_tab[i]. */
struct l3_nh_ctl {
	uint32_t refs;		/* routes and ECMP groups naming it */
	uint32_t hnext;		/* dedup hash chain, UINT32_MAX = end */
};

/* Find or create the next hop equal to *spec (type, port, vrf, gw,
 * members, tunnel; dmac and smac are filled here) and take a reference.
 * Returns the id, or -ENOSPC / -ENOMEM. */
int64_t l3_nh_get(const struct l3_nh *spec);
void l3_nh_put(uint32_t id);
/* Control, after a grace period: make released ids reusable. */
void l3_nh_reclaim(void);
uint32_t l3_nh_count(void);
/* An interface's MTU or the underlay changed: recompute every next hop's
 * max_len in place. */
void l3_nh_mtu_refresh(void);
/* A neighbour of vrf (af, ip) now has mac (0 = gone): update every next hop
 * that resolves through it. */
void l3_nh_neigh_changed(uint16_t vrf, uint8_t af, const uint8_t *ip, uint64_t mac);
/* "via 10.0.0.1 dev vm2", "ecmp(...)": for route-show and trace. */
int l3_nh_format(uint32_t id, char *s, size_t size);
json_t *l3_nh_json(uint32_t id);

/* ---- the RIB (l3_rib.c) ---- */

enum l3_route_kind {
	L3_RT_USER,		/* route-add */
	L3_RT_CONNECTED,	/* an interface's subnet (glean) */
	L3_RT_LOCAL,		/* an interface's own address */
	L3_RT_NEIGH,		/* a neighbour's host route */
};

struct l3_route {
	struct l3_route *next;	/* hash chain */
	uint8_t addr[16];	/* network order, bits past depth zero */
	uint8_t af;		/* 4 or 6 */
	uint8_t depth;
	uint8_t kind;		/* enum l3_route_kind */
	uint8_t pad;
	uint32_t nh;
};

struct l3_rib {
	struct l3_route **buckets;
	size_t n_buckets, n;
};

struct l3_rib *l3_rib_create(void);
/* Frees every route, dropping their next-hop references. */
void l3_rib_destroy(struct l3_rib *rib);
struct l3_route *l3_rib_find(const struct l3_rib *rib, uint8_t af, const uint8_t *addr,
			     unsigned depth);
/* Insert a route into the RIB and vrf's LPM; takes over the caller's next
 * hop reference. -EEXIST if the prefix is taken (a neighbour host route
 * gives way to any other kind), -ENOSPC, -ENOMEM, -EINVAL. */
int l3_route_insert(struct l3_vrf *vrf, uint8_t af, const uint8_t *addr, unsigned depth,
		    enum l3_route_kind kind, uint32_t nh);
/* Remove the route at exactly prefix (of the given kind, or any kind when
 * kind < 0); the parent route takes its place in the LPM. 0 or -ENOENT. */
int l3_route_remove(struct l3_vrf *vrf, uint8_t af, const uint8_t *addr, unsigned depth,
		    int kind);
/* Longest route in the RIB covering addr (depth ≤ max_depth), or NULL. */
struct l3_route *l3_rib_best(const struct l3_rib *rib, uint8_t af, const uint8_t *addr,
			     unsigned max_depth);
/* Call fn on every route (any order). */
void l3_rib_foreach(const struct l3_rib *rib, void (*fn)(struct l3_route *, void *), void *aux);

/* ---- neighbours (l3_neigh.c) ---- */

struct l3_neigh {
	struct l3_neigh *next;
	uint16_t vrf, port;
	uint8_t af;
	bool is_static;
	uint8_t ip[16];
	uint8_t mac[6];
	uint64_t updated_ns;
};

/* Add or update a neighbour; installs its host route unless another route
 * holds the prefix. 0 or -errno. */
int l3_neigh_set(uint16_t vrf, uint8_t af, const uint8_t *ip, const uint8_t *mac, uint16_t port,
		 bool is_static);
int l3_neigh_del(uint16_t vrf, uint8_t af, const uint8_t *ip);
struct l3_neigh *l3_neigh_find(uint16_t vrf, uint8_t af, const uint8_t *ip);
/* Remove every neighbour of vrf (vrf-del) or of port (PORT_ID_NONE: any). */
void l3_neigh_flush(int vrf, uint16_t port);
/* A route at this host prefix went away: put the neighbour's back. */
void l3_neigh_route_gone(uint16_t vrf, uint8_t af, const uint8_t *ip);
json_t *l3_neigh_json(int vrf);

/* ---- configuration (l3_conf.c) ---- */

/* The control thread's working copy; l3_conf_publish() copies it to a
 * fresh snapshot. */
extern struct l3_conf l3_cfg;

int l3_conf_publish(void);
int l3_vrf_add(uint32_t id, const char *name);
int l3_vrf_del(uint32_t id);
/* Make port an interface of vrf with want's addresses and MAC: its
 * connected and local routes go in, all or nothing (err says why). */
int l3_iface_set(uint16_t port, uint16_t vrf, const struct l3_iface *want, char *err,
		 size_t errlen);
int l3_iface_del(uint16_t port);
/* Wait a grace period and reuse what updates released (LPM groups, next hops). */
void l3_sync(void);
/* The router's MAC on a port with no interface. */
extern uint8_t l3_router_mac[6];

/* ---- glean ring: PMD → control ---- */

struct l3_learn {
	uint16_t vrf, port;
	uint8_t af;
	uint8_t mac[6];
	uint8_t ip[16];
};

#define L3_LEARN_RING	256

struct l3_learn_ring {
	uint32_t head;		/* written by the PMD (release) */
	uint32_t tail;		/* written by control (release) */
	struct l3_learn e[L3_LEARN_RING];
};

extern struct l3_learn_ring l3_learn_rings[DPACT_PMD_MAX];

/* Per-PMD counters. */
struct l3_pmd_stats {
	alignas(CACHE_LINE) uint64_t c[L3_C_MAX];
	uint64_t icmp_tokens_ns;	/* token bucket of ICMP errors, in ns of credit */
	uint64_t solicit_tokens_ns;
};
extern struct l3_pmd_stats l3_stats[DPACT_PMD_MAX];

/* The ECMP hash of a 5-tuple, fields as a flow key holds them (addresses
 * and ports in network order; an IPv4 tuple has zero IPv6 addresses). */
static inline uint32_t l3_tuple_hash(uint32_t src4, uint32_t dst4, const uint8_t *src6,
				     const uint8_t *dst6, uint8_t proto, uint16_t tp_src,
				     uint16_t tp_dst)
{
	uint64_t h = (uint64_t)src4 * 0x9e3779b97f4a7c15ull ^ dst4;

	for (int i = 0; i < 16; i += 8) {
		uint64_t a, b;

		memcpy(&a, src6 + i, 8);
		memcpy(&b, dst6 + i, 8);
		h = (h ^ a ^ (b << 1)) * 0xff51afd7ed558ccdull;
	}
	h ^= ((uint64_t)tp_src << 16 | tp_dst | (uint64_t)proto << 32) * 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h ^ h >> 31);
}

/* The ECMP hash: the 5-tuple of the parsed key (IPv4 or IPv6). */
static inline uint32_t l3_flow_hash(const struct flow_key *k)
{
	return l3_tuple_hash(k->nw_src, k->nw_dst, k->ipv6_src, k->ipv6_dst, k->nw_proto,
			     k->tp_src, k->tp_dst);
}

/* The same hash read from the IP header at ip (af 4 or 6, len bytes from
 * it, header checked by the caller), for a packet whose flow key describes
 * something else: after pop_mpls the key is the MPLS frame's (shared by a
 * burst of many inner flows). Equal to l3_flow_hash of the packet's own key
 * except that IPv6 extension headers are not walked (their flows hash
 * without ports). */
uint32_t l3_pkt_hash(const uint8_t *ip, uint32_t len, uint8_t af);

/* ---- ARP / ND / ICMP packets (l3_pkt.c): pure functions of bytes ---- */

enum l3_nd_verdict {
	L3_ND_REPLY,		/* frame rewritten in place into the answer; send it back */
	L3_ND_CONSUMED,		/* a reply/advert: learned, nothing to send */
	L3_ND_IGNORE,		/* not for us */
	L3_ND_BAD,		/* malformed */
};

/* Answer for an ARP request or NS the VRF owes an answer to. */
typedef bool l3_owns_fn(void *aux, uint8_t af, const uint8_t *ip);

struct l3_nd_result {
	bool learn;		/* sender (af, ip, mac) should be learned */
	uint8_t af;
	uint8_t ip[16];
	uint8_t mac[6];
};

/* An ARP frame (Ethernet at data, l3 at l3_off) received on an interface
 * with MAC mac: a request for an address owns() says is ours becomes the
 * reply. *len may change. */
enum l3_nd_verdict l3_arp_input(uint8_t *data, uint16_t *len, uint16_t l3_off,
				const uint8_t *mac, l3_owns_fn *owns, void *aux,
				struct l3_nd_result *res);
/* The same for ICMPv6 neighbour discovery (NS answered with NA; NA learned). */
enum l3_nd_verdict l3_nd_input(uint8_t *data, uint16_t *len, uint16_t room, uint16_t l3_off,
			       const uint8_t *mac, l3_owns_fn *owns, void *aux,
			       struct l3_nd_result *res);
/* Build an ARP request (af 4) or NS (af 6) for target into buf (≥ 128
 * bytes): from smac/src. Returns the frame length. */
uint16_t l3_solicit_build(uint8_t *buf, uint8_t af, const uint8_t *smac, const uint8_t *src,
			  const uint8_t *target);
/* May a router send an ICMP error about this IPv4/IPv6 packet (len bytes
 * from its IP header)? Not about an ICMP error, a non-first fragment, a
 * packet to a multicast or broadcast address, or one from a multicast,
 * broadcast, unspecified or loopback source (RFC 1812 4.3.2.7, RFC 4443 2.4 e). */
bool l3_icmp_error_allowed(uint8_t af, const uint8_t *ip, uint16_t len);
/* Build into buf (≥ 1294 bytes) the ICMP error (type, code) for the IP
 * packet at orig (orig_len bytes from its IP header), from router address
 * src, Ethernet dst dmac / src smac; info is the header's second word (the
 * next-hop MTU of "fragmentation needed", RFC 1191 4, in its low 16 bits;
 * the MTU of ICMPv6 "packet too big", RFC 4443 3.2; else 0). Returns the
 * frame length, or 0 when no error may be sent (an ICMP error, a fragment,
 * a multicast source...). */
uint16_t l3_icmp_error_build(uint8_t *buf, uint8_t af, uint8_t type, uint8_t code, uint32_t info,
			     const uint8_t *orig, uint16_t orig_len, const uint8_t *src,
			     const uint8_t *dmac, const uint8_t *smac);
/* Turn an ICMP echo request (IPv4 or v6 at l3_off) into its reply in place;
 * false if it is not one. */
bool l3_echo_reply(uint8_t *data, uint16_t len, uint16_t l3_off, uint8_t af);
uint16_t l3_csum(const void *p, size_t len, uint32_t sum);

/* Parse "10.0.0.0/24" or "2001:db8::/32" (a bare address is a host
 * prefix); bits past the length must be zero unless loose. 0 or -EINVAL. */
int l3_parse_prefix(const char *s, uint8_t *af, uint8_t *addr, unsigned *depth, bool loose);
int l3_parse_ip(const char *s, uint8_t *af, uint8_t *addr);
void l3_format_ip(uint8_t af, const uint8_t *addr, char *s, size_t size);
int l3_parse_mac(const char *s, uint8_t *mac);

#endif
