/*
 * l3: the vRouter — VRFs with IPv4 and IPv6 longest-prefix-match tables,
 * next hops (a local port with a neighbour's MAC, an ECMP group, a tunnel),
 * the neighbour table (static, and gleaned from guests' ARP and ND), the
 * ARP/ND proxy that makes the switch every guest's default gateway, and the
 * ICMP errors a router owes (TTL exceeded, net unreachable, fragmentation
 * needed / packet too big).
 *
 * How packets get here. The flow action route(vrf=N) (or route(vrf=reg0))
 * compiles into one datapath record, DPACT_ROUTE, that hands the packet to
 * l3_route_batch(). Routing is decided there, per packet, against the
 * RCU-published tables — as the MAC table is for `normal` — so a megaflow
 * that routes matches only the VRF it was given (its register bits) and
 * never the destination address: 100k routes need one megaflow, not one per
 * prefix, and a route change needs no revalidation because no megaflow
 * holds a routing decision. (docs/DESIGN.md, departures, argues this.)
 *
 * What route() does with a packet, by kind:
 * - IPv4/IPv6 to a routed destination: LPM in the VRF → next hop (ECMP by
 *   a hash of the 5-tuple) → source MAC = the router's MAC on the out port,
 *   destination MAC = the neighbour's, TTL/hop limit decremented (IPv4
 *   checksum updated, RFC 1624) → out. A tunnel next hop (remote host +
 *   VNI/label) decrements the TTL and hands the packet to src/tnl's encap
 *   (tnl_push_batch), which routes the remote over the underlay. The
 *   packet's own headers say whether it is IPv4, IPv6 or ARP, so route()
 *   after pop_mpls (MPLS-over-GRE/UDP decap) routes the inner packet; its
 *   flow key is then the MPLS frame's (shared by the burst), so the ECMP
 *   hash and the tunnel entropy are read from the inner headers instead.
 * - no route: ICMP net unreachable / ICMPv6 no route; TTL 1: ICMP time
 *   exceeded; longer than the next hop takes (the out interface's MTU, or
 *   the tunnel's underlay path less its encapsulation: l3_nh.max_len, one
 *   compare per packet): ICMP "fragmentation needed" with the next-hop MTU
 *   when DF is set (RFC 1191), ICMPv6 "packet too big" (RFC 4443, 8201) —
 *   all rate limited per PMD and counted, sent back out the input port
 *   or, for a packet that came in decapsulated (no interface), routed in
 *   the VRF to its source; the packet is dropped. IPv4
 *   without DF that is too long is dropped and counted (too_big_df_clear),
 *   not fragmented (docs/DESIGN.md, departures).
 * - next hop not resolved yet: ARP request / neighbour solicitation out the
 *   port (rate limited), the packet dropped (`neigh_unresolved`).
 * - ARP request or neighbour solicitation for the gateway address of the
 *   input port's interface in that VRF, or for an address the VRF routes
 *   elsewhere (proxy): answered with the router's MAC. The sender is learned
 *   as a neighbour (the PMD posts it to the control thread, which installs a
 *   host route).
 * - ICMP echo to a gateway address: answered.
 * Everything else is dropped with a named counter.
 *
 * Thread-safety: configuration (VRFs, interfaces, routes, next hops,
 * neighbours) is changed by the control thread only. VRFs and interfaces are
 * an immutable snapshot published through RCU; LPM tables are updated in
 * place with single-word atomic stores (lpm.h); next hops live in a fixed
 * array that never moves, written before any route names them and freed for
 * reuse only after a grace period; a next hop's neighbour MAC is one 64-bit
 * word stored atomically. l3_route_batch runs on a PMD between quiescent
 * states; its counters are per PMD.
 */
#ifndef XVIO_L3_H
#define XVIO_L3_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/core.h"
#include "../core/pkt.h"
#include "../dp/dpact.h"
#include "../dp/flow.h"

#define L3_MAX_VRF		4096	/* VRF ids 0..4095 */
#define L3_MAX_ADDRS		4	/* gateway addresses per family per interface */
#define L3_ECMP_MAX		8
#define L3_MAX_NH		(1u << 20)

/* Counters of the route action, per PMD: events and drop reasons. */
#define L3_COUNTERS(X) \
	X(ROUTED,         "routed")             /* forwarded to a next hop */ \
	X(ARP_REPLY,      "arp_replied")        /* ARP request answered (gateway or proxy) */ \
	X(ND_REPLY,       "nd_replied")         /* neighbour solicitation answered */ \
	X(ECHO_REPLY,     "echo_replied")       /* ping to a gateway address answered */ \
	X(ICMP_SENT,      "icmp_error_sent")    /* any ICMP error sent */ \
	X(PTB_SENT,       "frag_needed_sent")   /* ... of them "fragmentation needed" / "packet too big" */ \
	X(ICMP_LIMITED,   "icmp_error_ratelimited") /* one owed but over the rate */ \
	X(SOLICIT_SENT,   "neigh_solicit_sent") /* ARP request / NS sent for a next hop */ \
	X(GLEANED,        "neigh_gleaned")      /* sender posted to the neighbour table */ \
	X(GLEAN_FULL,     "neigh_glean_ring_full") /* ... but the ring to control was full */ \
	X(NO_VRF,         "vrf_missing")        /* drop: route(vrf=N) with no VRF N */ \
	X(NO_ROUTE,       "no_route")           /* drop: no prefix matches */ \
	X(TTL,            "ttl_expired")        /* drop: TTL / hop limit ≤ 1 */ \
	X(TOO_BIG,        "too_big")            /* drop: over the next hop's MTU (ICMP owed) */ \
	X(TOO_BIG_DF_CLEAR, "too_big_df_clear") /* drop: IPv4 over the MTU, DF clear: not fragmented */ \
	X(UNRESOLVED,     "neigh_unresolved")   /* drop: next hop MAC not known yet */ \
	X(BLACKHOLE,      "route_blackhole")    /* drop: blackhole route */ \
	X(TO_ROUTER,      "to_router")          /* drop: for the router, not echo/ARP/ND */ \
	X(NOT_IP,         "not_routable")       /* drop: neither IP, ARP nor ND */ \
	X(BAD_HDR,        "bad_l3_header")      /* drop: truncated or malformed header */ \
	X(ARP_IGNORED,    "arp_ignored")        /* drop: ARP not for us / not answerable */ \
	X(ND_IGNORED,     "nd_ignored")         /* drop: ND/ICMPv6 we do not answer */ \
	X(NEIGH_CONSUMED, "neigh_reply_consumed") /* ARP reply / NA taken in (learned) */ \
	X(NO_IFACE,       "no_l3_interface")    /* drop: in_port is no interface of the VRF */ \
	X(NO_BUF,         "l3_no_buf")          /* drop: pool empty for a generated packet */

enum l3_counter {
#define X(e, s) L3_C_##e,
	L3_COUNTERS(X)
#undef X
	L3_C_MAX
};

extern const char *const l3_counter_names[L3_C_MAX];

/* ---- next hops ---- */

enum l3_nh_type {
	L3_NH_NONE,		/* free slot */
	L3_NH_PORT,		/* out a local port to a neighbour (gw, or the route's host) */
	L3_NH_GLEAN,		/* connected subnet: the destination itself is the neighbour */
	L3_NH_ECMP,		/* one of members[] by flow hash */
	L3_NH_TUNNEL,		/* encapsulate toward a remote host */
	L3_NH_LOCAL,		/* an address of the router itself */
	L3_NH_BLACKHOLE,
};

#define L3_MAC_RESOLVED	(1ull << 63)	/* in l3_nh.dmac: bits 0..47 hold the MAC */

/* One next hop: a cache line, read by PMDs. Control-side bookkeeping lives
 * in a parallel array (l3_priv.h). */
struct l3_nh {
	uint8_t type;		/* enum l3_nh_type */
	uint8_t af;		/* 4 or 6: family of gw */
	uint16_t port;		/* out port id (PORT, GLEAN, TUNNEL: underlay/tunnel port) */
	uint16_t vrf;
	uint8_t n_members;	/* ECMP */
	uint8_t has_gw;
	uint64_t dmac;		/* L3_MAC_RESOLVED | mac; atomic: the neighbour may change */
	uint8_t smac[6];	/* the router's MAC on port */
	/* PORT, TUNNEL: the longest frame (pkt.len, an Ethernet frame with
	 * its IP packet at l3_off) it forwards; a longer one is owed an ICMP
	 * "fragmentation needed" / "packet too big" with MTU max_len -
	 * l3_off. The out interface's MTU + 14, or what the tunnel's path
	 * (uplink MTU less the encapsulation) takes. Derived, not part of
	 * the identity; atomic: the control thread updates it in place when
	 * the interface or the underlay changes. */
	uint16_t max_len;
	union {
		uint8_t gw[16];			/* PORT with has_gw */
		uint32_t members[L3_ECMP_MAX];	/* ECMP: next-hop ids */
		struct {
			uint32_t remote;	/* network order */
			uint32_t key;		/* VNI, GRE key or MPLS label */
			uint8_t kind;		/* enum tnl_type */
			uint8_t pad[3];
		} tun;
	};
	/* TUNNEL: the encapsulation (src/tnl) this next hop applies, built
	 * once by the control thread and freed with the next hop. */
	const struct dpact_tnl_push *tun_rec;
};

_Static_assert(sizeof(struct l3_nh) == 64, "one next hop, one cache line");

/* ---- interfaces: the router's side of a port ---- */

#define L3_MTU_DEFAULT	1500

struct l3_iface {
	bool on;
	uint8_t n4, n6;
	uint16_t vrf;
	uint16_t mtu;			/* IP MTU of the port (mtu=, default 1500) */
	uint8_t mac[6];
	uint32_t a4[L3_MAX_ADDRS];	/* network order */
	uint8_t plen4[L3_MAX_ADDRS];
	uint8_t a6[L3_MAX_ADDRS][16];
	uint8_t plen6[L3_MAX_ADDRS];
};

struct lpm;

struct l3_vrf {
	uint32_t id;
	struct lpm *v4, *v6;
	char name[32];
	struct l3_rib *rib;		/* control only */
};

/* The snapshot PMDs read. */
struct l3_conf {
	struct l3_vrf *vrf[L3_MAX_VRF];
	struct l3_iface ifc[PORT_MAX];
};

extern struct l3_conf *l3_conf_rcu;
extern struct l3_nh *l3_nh_tab;		/* L3_MAX_NH entries, never moves */

/* ---- the datapath ---- */

/* PMD: route n packets in VRF vrf; takes ownership of every packet (each is
 * output through ctx->output or freed with a counter). keys[i] is pkts[i]'s
 * parsed flow key. */
void l3_route_batch(struct dpact_ctx *ctx, struct pkt **pkts, const struct flow_key *const *keys,
		    uint16_t n, uint32_t vrf);

/* ---- control ---- */

/* Control: what trace prints for a packet routed in vrf: "10.0.0.0/24 via
 * 10.0.0.254 dev vm2" or why not. Returns snprintf's count. */
int l3_trace(uint32_t vrf, const struct flow_key *key, char *s, size_t size);
/* Control: sum of the per-PMD counters (stats). */
void l3_counters(uint64_t out[L3_C_MAX]);
/* Control: a port went away: its interface, next hops, routes and
 * neighbours go with it (ids are reused). */
void l3_port_removed(uint16_t id);
/* Control: install the neighbours PMDs have gleaned (also run from a timer). */
void l3_learn_drain(void);

#endif
