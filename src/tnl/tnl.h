/*
 * tnl: overlay tunnels (VXLAN, Geneve, GRE, MPLS over GRE, MPLS over UDP)
 * and the underlay they ride on (local IPv4 and IPv6 addresses on uplink
 * ports, routes to remote tunnel endpoints, the neighbour table with ARP and
 * IPv6 neighbour discovery).
 *
 * Encapsulation is a datapath action, DPACT_TNL_PUSH (dpact.h): "encap type
 * T to remote R with key K" plus the options a type needs. The pipeline
 * compiles `output:TUNNEL_PORT` into one from the tunnel port's settings and
 * the flow's tun_* fields; other modules (the L3 next hops) fill one with
 * tnl_encap_put(). Executing it routes the remote address over the underlay,
 * resolves the next hop's MAC, builds the outer headers once per batch and
 * hands the packets to the uplink — so the record itself names no uplink and
 * stays right while routes and neighbours change.
 *
 * Decapsulation happens before classification, on the uplink's receive
 * path (tnl_rx): a packet to a local underlay address with a tunnel's UDP
 * port or GRE protocol is stripped, its outer addresses and key go into the
 * packet's tunnel metadata (pkt.tun, then flow_key tun_*), and it enters the
 * pipeline with in_port = the tunnel port. ARP and neighbour solicitations
 * for the local addresses are answered there too. Everything else on the uplink goes through the pipeline
 * as usual.
 *
 * Thread-safety: configuration (tnl_* setters, tunnel port create/close,
 * underlay and route commands) is control-thread only and published with
 * RCU (QSBR). tnl_rx and tnl_push_batch run on PMDs between quiescent
 * states. The neighbour table is written by PMDs (ARP they receive) and the
 * control thread under a spinlock — a slow path, never per data packet — and
 * read lock-free through per-entry sequence counters.
 */
#ifndef XVIO_TNL_H
#define XVIO_TNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/pkt.h"
#include "../dp/dpact.h"
#include "../dp/flow.h"
#include "../port/port.h"

enum tnl_type {
	TNL_NONE,
	TNL_VXLAN,		/* RFC 7348, UDP 4789, Ethernet inside */
	TNL_GENEVE,		/* RFC 8926, UDP 6081, Ethernet inside, options */
	TNL_GRE,		/* RFC 2784/2890, protocol 0x6558 (Ethernet inside) */
	TNL_MPLSOGRE,		/* RFC 4023, protocol 0x8847, MPLS stack + IP inside */
	TNL_MPLSOUDP,		/* RFC 7510, UDP 6635, MPLS stack + IP inside */
	TNL_N_TYPES
};

/* tun_flags bits (the values OVS uses, so flows read the same). */
#define TNL_F_DONT_FRAGMENT	0x1	/* outer DF was set */
#define TNL_F_CSUM		0x2	/* outer UDP/GRE checksum present */
#define TNL_F_OAM		0x4	/* Geneve O bit */
#define TNL_F_KEY		0x8	/* a key/VNI was present (GRE K bit; always for VXLAN/Geneve) */
#define TNL_F_CRIT		0x10	/* Geneve C bit: critical options present */

#define TNL_OPTS_MAX		16	/* Geneve option bytes carried in flow_key.tun_opts */
#define TNL_TTL_DEFAULT		64

const char *tnl_type_name(enum tnl_type t);
enum tnl_type tnl_type_from_name(const char *s);
/* The IANA UDP port of a type (0 for the GRE types). */
uint16_t tnl_default_port(enum tnl_type t);

/*
 * Append an encapsulation record to a datapath action list: the packet gets
 * outer headers of `type` to `dst` (network order) with key (VNI, GRE key,
 * or the MPLS label for the MPLS types when the packet is not already
 * labelled), and leaves on the uplink that routes dst. port is the tunnel
 * port to credit (PORT_ID_NONE for none). dst_port 0 = the type's default.
 * Returns the record to adjust (ttl, tos, options), or NULL on ENOMEM. Like
 * OUTPUT, the record takes the packet when last in the list and a copy
 * otherwise.
 */
struct dpact_tnl_push *tnl_encap_put(struct dpact_buf *b, enum tnl_type type, uint32_t dst,
				     uint64_t key, uint16_t port, uint16_t dst_port);

/* Pipeline: if port is a tunnel port, append the record that sends to it
 * with the working key's tun_* fields (the port's remote_ip/key when fixed)
 * and return 1; 0 if port is not a tunnel port; -ENOMEM. A flow that outputs
 * to a port with remote_ip=flow without setting tun_dst gets -EDESTADDRREQ
 * (nothing appended; the pipeline skips the output). Reads the port
 * snapshot under RCU. */
int tnl_output_compile(uint16_t port, const struct flow_key *key, struct dpact_buf *b);

/* PMD: execute a DPACT_TNL_PUSH over n packets (keys[i] = pkts[i]'s flow key
 * for the entropy source port; NULL entries hash the frame). Takes ownership:
 * each packet is handed to ctx->output for the uplink or freed with a counted
 * reason. */
void tnl_push_batch(struct dpact_ctx *ctx, const struct dpact_tnl_push *a, struct pkt **pkts,
		    const struct flow_key *const *keys, uint16_t n);

/* Control: the longest frame tnl_push_batch takes with record a and sends
 * within the MTU of the uplink that routes a->dst now: an Ethernet frame
 * with its IP packet at offset 14 (for the MPLS types an IP packet, which
 * loses the Ethernet header and takes one label). 0 when nothing routes
 * a->dst. What is longer is dropped as tnl_too_big; the L3 tunnel next hops
 * check it first and owe the sender an ICMP error (src/l3). */
uint32_t tnl_push_max_len(const struct dpact_tnl_push *a);
/* Control: have fn called after every change of the tunnel configuration
 * (underlay addresses, MTUs, routes, tunnel ports), for what depends on it
 * (the L3 next hops' path MTUs). At most a few listeners. */
void tnl_conf_listen(void (*fn)(void));

/* PMD: encapsulate one packet as tunnel port `port` would, but to remote
 * (network order) with key (VNI / GRE key / MPLS label): the L3 tunnel next
 * hop. k may be NULL. Takes ownership (output or counted drop; a port that
 * is not a tunnel port is `tnl_no_port`). */
void tnl_push_port(struct dpact_ctx *ctx, uint16_t port, uint32_t remote, uint64_t key,
		   struct pkt *p, const struct flow_key *k);

/* ---- receive side ---- */

/* Non-zero for the ports that carry an underlay address: the datapath calls
 * tnl_rx for bursts from them. Written by the control thread (relaxed). */
extern uint8_t tnl_uplink_map[PORT_MAX];

/* Where tnl_rx hands decapsulated packets: n packets that arrived on tunnel
 * port `port` (in_port is set by the callee). */
typedef void tnl_deliver_fn(void *arg, uint16_t port, struct pkt **pkts, uint16_t n);

/* PMD (index pmd, also the tx queue id): take the burst received on uplink
 * `in`. Answers ARP for the local address, learns neighbours, decapsulates
 * tunnel packets to a local address (delivered in runs per tunnel port),
 * counts and frees what is addressed to us but unusable. Compacts what is not
 * ours at the front of pkts and returns how many. */
uint16_t tnl_rx(unsigned pmd, struct port *in, struct pkt **pkts, uint16_t n,
		tnl_deliver_fn *deliver, void *arg);

/* ---- header codec (pure functions; unit tests and the fuzzer use them) ---- */

/* What a decapsulation found. */
struct tnl_decap {
	enum tnl_type type;
	uint16_t udp_dst;	/* host; UDP types */
	uint16_t inner_off;	/* where the inner Ethernet frame starts (after
				 * rebuilding one for the MPLS types) */
	uint16_t inner_len;	/* its length (outer padding excluded) */
	uint16_t hdr_end;	/* the bytes from the frame's start that (with its
				 * length) decided all of this, as they were before
				 * the parse; 0 when more did (a GRE checksum) */
	uint64_t key;		/* VNI / GRE key, host */
	uint32_t src, dst;	/* outer IPv4, network order (0 over IPv6) */
	uint16_t flags;		/* TNL_F_* */
	uint8_t tos, ttl;	/* IPv6: traffic class, hop limit */
	bool v6;		/* outer IPv6: src6/dst6 */
	uint8_t src6[16], dst6[16];
	uint8_t opt_len;	/* Geneve option bytes copied into opts */
	uint8_t opts[TNL_OPTS_MAX];
};

/* Parse the outer headers of frame d (len bytes): Ethernet, IPv4 to local_ip
 * (network order; checksum verified, no fragments), then UDP to one of the
 * ports in udp_ports[type]
 * (0 = type not listening) or GRE. On success fills *out and returns 0; for
 * the MPLS types the 14 bytes before inner_off have been rewritten into an
 * Ethernet header (outer MACs, type 0x8847). Otherwise returns a negative
 * enum tnl_drop (TNL_DROP_x as -x), or 1 when the packet is simply not a
 * tunnel packet: not IPv4 to local_ip. Anything else to local_ip that is not
 * a tunnel is TNL_DROP_LOCAL_OTHER. */
int tnl_decap_parse(uint8_t *d, uint32_t len, uint32_t local_ip,
		    const uint16_t udp_ports[TNL_N_TYPES],
		    struct tnl_decap *out);

/* The same over IPv6 (RFC 8200) to local_ip6: the UDP or GRE header must be
 * the first next header (an extension header is TNL_DROP_IP6_EXT, a fragment
 * TNL_DROP_FRAG); a UDP checksum is required (RFC 8200 8.1; zero is
 * TNL_DROP_UDP6_ZERO_CSUM, RFC 6936 lets both ends agree otherwise, we do
 * not) and verified. 1 when not IPv6 to local_ip6. */
int tnl_decap_parse6(uint8_t *d, uint32_t len, const uint8_t local_ip6[16],
		     const uint16_t udp_ports[TNL_N_TYPES], struct tnl_decap *out);

/* Outer header template for one batch: Ethernet + IPv4 (IPv6 when the
 * record has DPACT_TNL_IPV6) + UDP/GRE + tunnel header. Returns its length, or 0 if it would not fit in size. The IPv4
 * total length, checksum, UDP length and source port are left for
 * the datapath to fill per packet (tnl_priv.h, tnl_hdr_finish). */
struct tnl_hdr_params {
	const struct dpact_tnl_push *a;
	const uint8_t *dst_mac, *src_mac;
	uint32_t src_ip;		/* network order */
	const uint8_t *src_ip6;		/* IPv6 records */
};
size_t tnl_hdr_build(const struct tnl_hdr_params *hp, uint8_t *hdr, size_t size);
/* The folded IPv4 header sum of the template (total length 0). */
uint16_t tnl_hdr_ip_sum(const uint8_t *hdr);
/* RFC 7348 source port: 49152-65535 from a hash of the inner flow. */
uint16_t tnl_entropy_port(const struct flow_key *k);
uint16_t tnl_entropy_port_frame(const uint8_t *d, uint32_t len);

/* Drop reasons of the tunnel and underlay paths, listed once. */
#define TNL_DROP_REASONS(X) \
	X(NONE,            "none") \
	X(RUNT,            "tnl_truncated")          /* outer headers cut short */ \
	X(BAD_IP,          "tnl_bad_ip")             /* outer IPv4 version/IHL/length */ \
	X(BAD_IP_CSUM,     "tnl_bad_ip_csum")        /* outer IPv4 header checksum */ \
	X(FRAG,            "tnl_outer_fragment")     /* outer fragment: we never reassemble */ \
	X(BAD_UDP,         "tnl_bad_udp")            /* UDP length/checksum */ \
	X(BAD_HDR,         "tnl_bad_header")         /* tunnel header flags/version/protocol */ \
	X(GENEVE_CRIT,     "tnl_geneve_critical")    /* critical options we cannot carry whole */ \
	X(BAD_MPLS,        "tnl_bad_mpls")           /* no bottom of stack in the packet */ \
	X(NO_PORT,         "tnl_no_port")            /* no tunnel port takes this key/remote */ \
	X(LOCAL_OTHER,     "underlay_local_other")   /* to our address, not a tunnel or ARP */ \
	X(NO_ROUTE,        "tnl_no_route")           /* encap: no underlay route to remote */ \
	X(NO_REMOTE,       "tnl_no_remote")          /* output to remote_ip=flow port without tun_dst */ \
	X(NEIGH_UNRES,     "tnl_neigh_unresolved")   /* encap while ARP for the next hop is pending */ \
	X(TOO_BIG,         "tnl_too_big")            /* outer packet over the uplink MTU */ \
	X(NO_HEADROOM,     "tnl_no_headroom")        /* not enough room for the outer headers */ \
	X(MPLS_NOT_L3,     "tnl_mpls_not_l3")        /* MPLS tunnel given a non-IP, non-MPLS frame */ \
	X(ARP_BAD,         "underlay_arp_bad")       /* ARP to our address, malformed */ \
	X(NO_BUF,          "tnl_no_buf")             /* pool empty for an ARP request/copy */ \
	X(BAD_IP6,         "tnl_bad_ipv6")           /* outer IPv6 version/payload length */ \
	X(IP6_EXT,         "tnl_ipv6_ext_header")    /* outer IPv6 extension header before UDP/GRE */ \
	X(UDP6_ZERO_CSUM,  "tnl_udp6_zero_csum")     /* UDP over IPv6 with checksum 0 (RFC 6936) */ \
	X(BAD_UDP_CSUM,    "tnl_bad_udp_csum")       /* UDP over IPv6, checksum wrong */ \
	X(ND_BAD,          "underlay_nd_bad")        /* NS/NA: hop limit, checksum, length, options */ \
	X(NO_LOCAL6,       "tnl_no_local_ipv6")      /* IPv6 encap out of an uplink with no IPv6 */

enum tnl_drop {
#define X(e, s) TNL_DROP_##e,
	TNL_DROP_REASONS(X)
#undef X
	TNL_DROP_MAX
};
extern const char *const tnl_drop_names[TNL_DROP_MAX];

/* Control: the sum over PMDs of every counter, into a JSON object. */
void tnl_stats_json(json_t *obj);

/* ---- underlay (control thread) ---- */

/* Everything underlay-set gives an uplink, applied in one step. */
struct tnl_underlay_args {
	uint32_t ip, gw;		/* network order; ip 0 = no IPv4 */
	uint8_t plen, plen6;
	bool has_ip6, has_gw6;
	uint8_t ip6[16], gw6[16];
	const uint8_t *mac;		/* NULL = the kernel device's */
	uint16_t mtu;
};
int tnl_underlay_apply(struct port *port, const struct tnl_underlay_args *ua, char *err,
		       size_t errlen);
int tnl_route6_add(const uint8_t prefix[16], uint8_t plen, const uint8_t *gw, struct port *port,
		   char *err, size_t errlen);
int tnl_route6_del(const uint8_t prefix[16], uint8_t plen);
int tnl_neigh_add6(const uint8_t ip6[16], const uint8_t mac[6], struct port *port);

/* Give uplink port an address (ip/plen, network order) with optional
 * default gateway gw (0 = none) and MAC (NULL = the kernel device's). 0 or
 * -errno with a reason in err. */
int tnl_underlay_set(struct port *port, uint32_t ip, uint8_t plen, uint32_t gw,
		     const uint8_t *mac, uint16_t mtu, char *err, size_t errlen);
int tnl_underlay_del(struct port *port);
int tnl_route_add(uint32_t prefix, uint8_t plen, uint32_t gw, struct port *port,
		  char *err, size_t errlen);
int tnl_route_del(uint32_t prefix, uint8_t plen);
json_t *tnl_underlay_json(void);
/* Neighbours: static entries, flush, and the table as JSON. */
int tnl_neigh_add(uint32_t ip, const uint8_t mac[6], struct port *port);
void tnl_neigh_flush(void);
json_t *tnl_neigh_json(void);

#endif
