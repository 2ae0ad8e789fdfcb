/*
 * sg: security groups and port security for people who do not write flows.
 *
 * The user states policy (`port-security vm1 mac=.. ip=..`, `sg-create web`,
 * `sg-rule-add web ingress proto=tcp port=80 remote=10.0.0.0/8`,
 * `sg-bind vm1 web`); this module keeps that model and compiles all of it
 * into ordinary OpenFlow rules in tables of its own, which the datapath runs
 * like any other flows (so dump-flows, trace and the megaflow cache see
 * them, and a packet pays for the firewall only on a megaflow miss plus its
 * ct lookups). Any change recompiles the whole model and replaces the whole
 * compiled set in one step (dp_owned_flows_replace): all or nothing.
 *
 * Table layout (the neutron OVS firewall driver's shape, renumbered so that
 * table 0 stays the user's classification):
 *
 *   0   user's table; the compiler adds one gate rule at priority 65535:
 *       reg15[0]==0 -> resubmit(,70). reg15[0] set means "firewall done".
 *   70  SG_T_PSEC        port security: source MAC, IPv4/IPv6, ARP sender of
 *                        each secured port; spoofs drop here (counted)
 *   71  SG_T_EGRESS_CT   IP from a bound port -> ct(zone=port's, table=72)
 *   72  SG_T_EGRESS      est/rel pass, inv drop, egress rules commit, rest drop
 *   73  SG_T_INGRESS_SEL the destination: dl_dst of a bound port -> reg14
 *   74  SG_T_INGRESS_CT  IP to a bound port -> ct(zone=port's, table=75)
 *   75  SG_T_INGRESS     est/rel pass, inv drop, ingress rules commit, rest drop
 *   76  SG_T_ACCEPT      set reg15[0], resubmit(,0): back to the user's table
 *
 * Every compiled rule carries a cookie SG_COOKIE | kind << 40 | rule << 16 |
 * port id, so the drop rules double as named counters (port_security_mac,
 * sg_egress_denied, ...) that `stats` sums, and rule hits show in sg-show.
 *
 * Thread-safety: control thread only. The compiler (sg_compile) is a pure
 * function of its input, so unit tests compare its text.
 */
#ifndef XVIO_SG_H
#define XVIO_SG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../ctl/ofctl.h"

#define SG_T_PSEC		70
#define SG_T_EGRESS_CT		71
#define SG_T_EGRESS		72
#define SG_T_INGRESS_SEL	73
#define SG_T_INGRESS_CT		74
#define SG_T_INGRESS		75
#define SG_T_ACCEPT		76

#define SG_COOKIE		(0x5347ull << 48)	/* "SG" */
#define SG_COOKIE_MASK		(0xffffull << 48)
#define SG_ZONE_BASE		0xf000			/* a port's zone: base + port id */
#define SG_GATE_PRIORITY	65535

#define SG_NAME_MAX		32
#define SG_MAX_IPS		16
#define SG_MAX_GROUPS		8	/* per port */
#define SG_MAX_RULE_ID		0xffffff

/* What a compiled rule is, in its cookie; the drop kinds are the counters. */
#define SG_KINDS(X) \
	X(PLUMB,        NULL)                   /* steering between tables */ \
	X(PSEC_MAC,     "port_security_mac")    /* source MAC not the port's */ \
	X(PSEC_IP,      "port_security_ip")     /* IPv4/IPv6 source not the port's */ \
	X(PSEC_ARP,     "port_security_arp")    /* ARP sender MAC/IP not the port's */ \
	X(EGRESS_DENY,  "sg_egress_denied")     /* no egress rule allows it */ \
	X(INGRESS_DENY, "sg_ingress_denied")    /* no ingress rule allows it */ \
	X(CT_INVALID,   "sg_ct_invalid")        /* conntrack says invalid */ \
	X(RULE,         NULL)                   /* a user rule allowed it */

enum sg_kind {
#define X(e, s) SG_K_##e,
	SG_KINDS(X)
#undef X
	SG_K_MAX
};

extern const char *const sg_kind_names[SG_K_MAX];

static inline uint64_t sg_cookie(enum sg_kind k, uint32_t rule, uint16_t port)
{
	return SG_COOKIE | (uint64_t)k << 40 | (uint64_t)(rule & SG_MAX_RULE_ID) << 16 | port;
}

static inline enum sg_kind sg_cookie_kind(uint64_t c) { return (enum sg_kind)((c >> 40) & 0xff); }
static inline uint32_t sg_cookie_rule(uint64_t c) { return (uint32_t)(c >> 16) & SG_MAX_RULE_ID; }
static inline uint16_t sg_cookie_port(uint64_t c) { return (uint16_t)c; }

/* An address or prefix: af 4 or 6, address in network order. */
struct sg_addr {
	uint8_t af;
	uint8_t plen;
	uint8_t a[16];
};

enum sg_dir { SG_INGRESS, SG_EGRESS };

struct sg_rule {
	uint32_t id;		/* unique across groups, 1..SG_MAX_RULE_ID */
	uint8_t dir;		/* enum sg_dir */
	uint8_t proto;		/* 0 any, 1 icmp (icmp6 for af 6), 6 tcp, 17 udp */
	uint8_t af;		/* 4 or 6 */
	bool has_ports;		/* tcp/udp: pmin..pmax; icmp: pmin is the type */
	uint16_t pmin, pmax;
	bool has_remote;
	struct sg_addr remote;
	char remote_group[SG_NAME_MAX];	/* "" = none */
};

struct sg_group {
	char name[SG_NAME_MAX];
	bool stateless;
	size_t n_rules;
	struct sg_rule *rules;
};

struct sg_port {
	char name[SG_NAME_MAX];
	bool psec;		/* port security on */
	uint8_t mac[6];
	size_t n_ips;
	struct sg_addr ips[SG_MAX_IPS];	/* plen 32/128 */
	size_t n_groups;
	char groups[SG_MAX_GROUPS][SG_NAME_MAX];
};

struct sg_conf {
	size_t n_groups, n_ports;
	struct sg_group *groups;
	struct sg_port *ports;
};

/* A port's id, or -1 if it does not exist now (its config then compiles to
 * nothing until it does). */
typedef int sg_port_id_fn(const char *name, void *aux);

/* Compile conf into flow lines (ovs-ofctl syntax, ports by name, one per
 * line) appended to out. 0, or -errno with the reason in err. */
int sg_compile(const struct sg_conf *conf, sg_port_id_fn *port_id, void *aux, struct ds *out,
	       char *err, size_t errlen);

/* Split lo..hi into value/mask pairs for a 16-bit field (ascending); returns
 * how many (≤ 32). */
int sg_port_masks(uint16_t lo, uint16_t hi, uint16_t *val, uint16_t *mask);

/* Parsers shared by the commands and the tests: 0 or -EINVAL. */
int sg_parse_addr(const char *s, bool prefix, struct sg_addr *a);
int sg_parse_mac(const char *s, uint8_t mac[6]);
/* "ingress proto=tcp port=80-90 remote=10.0.0.0/8 ethertype=ipv4" (argv). */
int sg_parse_rule(int argc, char **argv, struct sg_rule *r, char *err, size_t errlen);
/* The rule in the same words it was given. */
void sg_format_rule(const struct sg_rule *r, struct ds *ds);
void sg_format_addr(const struct sg_addr *a, struct ds *ds);

/* Control: counters for `stats`: {"port_security_mac": N, ..., "ports": {name: {..}}}. */
void sg_stats_json(json_t *obj);

#endif
