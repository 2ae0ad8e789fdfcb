/*
 * flow: the flow key every packet is reduced to, the registry of matchable
 * fields (the names ovs-ofctl users type), and matches (key + mask).
 *
 * struct flow_key is fixed, cache-aligned and holds every field a flow may
 * match; a mask is the same struct (1 bits = compared). The parser (parse.c)
 * fills a key from a packet, the classifier (cls.c) hashes and compares
 * masked keys 64 bits at a time, and the flow language (ctl/ofctl_parse.c)
 * reads and writes fields by name through mf_fields[].
 *
 * Byte order: fields carried in packets are kept in network byte order, as
 * they are on the wire (so the parser copies, and an IP prefix mask is a run
 * of leading bytes); metadata that xvio makes up (in_port, recirc_id,
 * metadata, regs, tun_id, ct_zone, ct_mark) is in host order. mf_fields says
 * which for each field. Unused and padding bytes are always zero, in keys and
 * in masks, so whole-struct hashing and comparison are valid.
 *
 * Overloaded fields, as in OVS: ARP's opcode is in nw_proto and its IPv4
 * addresses in nw_src/nw_dst, sender/target hardware addresses in arp_sha and
 * arp_tha; ND's source/target link-layer addresses use arp_sha/arp_tha; ICMP
 * and ICMPv6 type and code are in tp_src and tp_dst (low byte). vlan_tci
 * carries FLOW_VLAN_PRESENT (the old CFI bit) when a tag exists, so vlan_tci=0
 * matches untagged frames.
 *
 * Thread-safety: plain data; mf_fields is constant.
 */
#ifndef XVIO_FLOW_H
#define XVIO_FLOW_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"

#define FLOW_N_REGS		16
#define FLOW_VLAN_PRESENT	0x1000	/* in vlan_tci, host order after ntohs */
#define FLOW_MAX_MPLS		3

/* nw_frag bits */
#define FLOW_FRAG_ANY		1	/* a fragment, first or later */
#define FLOW_FRAG_LATER		2	/* not the first fragment: no L4 header */

/* ct_state bits (OVS values, so ct_state=+trk+est reads the same). */
#define CS_NEW			0x01
#define CS_ESTABLISHED		0x02
#define CS_RELATED		0x04
#define CS_REPLY_DIR		0x08
#define CS_INVALID		0x10
#define CS_TRACKED		0x20
#define CS_SRC_NAT		0x40
#define CS_DST_NAT		0x80

struct flow_key {
	/* Metadata, host order. */
	uint32_t in_port;		/* port id (port.h); 16 bits used */
	uint32_t recirc_id;		/* 0 until ct(table=) recirculates */
	uint64_t metadata;
	uint32_t regs[FLOW_N_REGS];
	/* Tunnel (filled on decap), host order except the addresses. */
	uint64_t tun_id;
	uint32_t tun_src;		/* network order */
	uint32_t tun_dst;		/* network order */
	uint16_t tun_flags;
	uint8_t tun_tos;
	uint8_t tun_ttl;
	uint32_t tun_v6;		/* 0, or the tunnel was IPv6: see tun_ipv6_src */
	/* Conntrack (filled by ct()). */
	uint32_t ct_mark;
	uint16_t ct_zone;
	uint8_t ct_state;
	uint8_t ct_nw_proto;		/* original-direction tuple */
	uint32_t ct_nw_src;		/* network order */
	uint32_t ct_nw_dst;
	uint8_t ct_ipv6_src[16];
	uint8_t ct_ipv6_dst[16];
	uint16_t ct_tp_src;		/* network order */
	uint16_t ct_tp_dst;
	uint32_t pad_ct;
	uint8_t ct_label[16];
	/* L2, network order. */
	uint8_t dl_dst[6];
	uint8_t dl_src[6];
	uint16_t dl_type;		/* innermost ethertype (after VLAN tags) */
	uint16_t vlan_tci;		/* outer tag TCI | FLOW_VLAN_PRESENT, network order */
	uint16_t vlan_tci2;		/* inner tag of QinQ, same encoding */
	uint16_t pad_l2;
	uint32_t mpls_lse[FLOW_MAX_MPLS];	/* label stack entries, outermost first */
	/* L3, network order. */
	uint32_t nw_src;		/* IPv4 source, ARP SPA */
	uint32_t nw_dst;		/* IPv4 destination, ARP TPA */
	uint8_t ipv6_src[16];
	uint8_t ipv6_dst[16];
	uint32_t ipv6_label;		/* 20 bits, network order */
	uint8_t nw_proto;		/* IP protocol, ARP opcode (low byte) */
	uint8_t nw_tos;			/* DSCP << 2 | ECN */
	uint8_t nw_ttl;			/* TTL / hop limit */
	uint8_t nw_frag;		/* FLOW_FRAG_* */
	uint8_t arp_sha[6];		/* ARP SHA, ND SLL */
	uint8_t arp_tha[6];		/* ARP THA, ND TLL */
	uint8_t nd_target[16];
	/* L4, network order. */
	uint16_t tp_src;		/* port, ICMP type (low byte) */
	uint16_t tp_dst;		/* port, ICMP code (low byte) */
	uint16_t tcp_flags;		/* 12 bits */
	uint16_t pad_l4;
	uint8_t tun_opts[16];		/* Geneve options as on the wire, first 16 bytes */
	uint8_t pad_end[12];		/* the first five lines end here */
	/*
	 * The sixth line: the outer addresses of an IPv6 tunnel (network
	 * order; tun_src/tun_dst are the IPv4 ones). They sit outside the
	 * FLOW_HASHED_BYTES that the EMC hashes and compares, so IPv4 and
	 * tunnel-less packets pay nothing for them but zeroing. A key that
	 * carries them has tun_v6 set to a number that differs from every
	 * other such key's (flow_extract counts per thread), so no two of them
	 * look equal in the hashed lines: the EMC never caches them (classify
	 * does not probe it for them, emc_insert skips them) and no key is
	 * found equal to another (key_same_as_prev). Frames with the same
	 * headers and the same pkt.tun, v6 addresses included, still share
	 * one parsed key in a burst (flow_same_frame). The megaflow
	 * classifier, which compares whatever words a mask covers, matches
	 * them, and a megaflow never covers tun_v6 (no field does).
	 */
	uint8_t tun_ipv6_src[16];
	uint8_t tun_ipv6_dst[16];
	uint8_t pad_v6[32];
} __attribute__((aligned(CACHE_LINE)));

#define FLOW_U64S	(sizeof(struct flow_key) / 8)
/* What the EMC hashes and compares: every field but the sixth line. */
#define FLOW_HASHED_BYTES	320

_Static_assert(sizeof(struct flow_key) % CACHE_LINE == 0, "flow_key must fill whole lines");

/* A match: compare (pkt_key & mask) with key. key has no bits outside mask. */
struct flow_match {
	struct flow_key key;
	struct flow_key mask;
};

/*
 * Keys are filled field by field (the parser) and read as 64-bit words
 * (hashing, masking, matching). The may_alias type tells the compiler the
 * two views overlap; with a plain uint64_t pointer gcc 12 at -O3 reordered
 * word reads before field writes. The one scalar typedef in the tree exists
 * because an attribute needs a type to hang on.
 */
typedef uint64_t flow_word __attribute__((may_alias));

static inline const flow_word *flow_u64(const struct flow_key *k)
{
	return (const flow_word *)(const void *)k;
}

static inline flow_word *flow_u64_mut(struct flow_key *k)
{
	return (flow_word *)(void *)k;
}

/* dst = a & b word by word: the key of a megaflow from a packet's key and
 * the mask of what the pipeline looked at. */
static inline void flow_key_and(struct flow_key *dst, const struct flow_key *a,
				const struct flow_key *b)
{
	flow_word *d = flow_u64_mut(dst);
	const flow_word *x = flow_u64(a), *y = flow_u64(b);

	for (size_t i = 0; i < FLOW_U64S; i++)
		d[i] = x[i] & y[i];
}

/* Does packet key k match m? (Reference implementation; the classifier
 * compares only the words a subtable's mask touches.) */
static inline bool flow_match_key(const struct flow_match *m, const struct flow_key *k)
{
	const flow_word *kk = flow_u64(k), *mk = flow_u64(&m->key), *mm = flow_u64(&m->mask);

	for (size_t i = 0; i < FLOW_U64S; i++)
		if ((kk[i] & mm[i]) != mk[i])
			return false;
	return true;
}

/* ---- the field registry ---- */

/* Prerequisites, as in OpenFlow: a field may only be matched when the match
 * also pins what makes it present (tp_dst needs ip and nw_proto=6/17/132). */
enum mf_prereq {
	MFP_NONE,
	MFP_ARP,	/* dl_type=0x0806 */
	MFP_IPV4,	/* dl_type=0x0800 */
	MFP_IPV6,	/* dl_type=0x86dd */
	MFP_IP_ANY,	/* ipv4 or ipv6 */
	MFP_VLAN,	/* vlan tag present */
	MFP_MPLS,	/* dl_type=0x8847 or 0x8848 */
	MFP_TCP,	/* ip, nw_proto=6 */
	MFP_UDP,	/* ip, nw_proto=17 */
	MFP_SCTP,	/* ip, nw_proto=132 */
	MFP_ICMPV4,	/* ipv4, nw_proto=1 */
	MFP_ICMPV6,	/* ipv6, nw_proto=58 */
	MFP_ND,		/* icmpv6, type 135 or 136 */
	MFP_ND_SOLICIT,	/* icmpv6, type 135 */
	MFP_ND_ADVERT,	/* icmpv6, type 136 */
	MFP_CT,		/* ct_state +trk */
};

enum mf_maskable {
	MFM_NONE,	/* exact only */
	MFM_FULLY,	/* arbitrary bitmask: field=value/mask */
};

enum mf_string {
	MFS_DECIMAL,
	MFS_HEX,
	MFS_ETHERNET,	/* aa:bb:cc:dd:ee:ff */
	MFS_IPV4,	/* dotted quad, /prefix or /mask */
	MFS_IPV6,
	MFS_PORT,	/* a port name (or number), resolved to an id */
	MFS_CT_STATE,	/* +trk+est-new */
	MFS_TCP_FLAGS,	/* +syn-ack */
	MFS_FRAG,	/* no, yes, first, later, not_later */
	MFS_TOS,	/* the DSCP written as the ToS byte: a multiple of 4, 0-252 */
};

/*
 * Every field, in one X-macro: id, name, alias (NULL = none), containing key
 * member, bit offset and width inside that member (0, 0 = whole member),
 * maskable, prerequisite, string form, writable by set_field/load, network
 * byte order (the member is big-endian).
 */
#define MF_FIELDS(X) \
	X(IN_PORT,    "in_port",    NULL,       in_port,   0, 16, MFM_NONE,  MFP_NONE,   MFS_PORT,     false, false) \
	X(METADATA,   "metadata",   NULL,       metadata,  0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  false) \
	X(TUN_ID,     "tun_id",     "tunnel_id", tun_id,   0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  false) \
	X(TUN_SRC,    "tun_src",    NULL,       tun_src,   0, 0,  MFM_FULLY, MFP_NONE,   MFS_IPV4,     true,  true)  \
	X(TUN_DST,    "tun_dst",    NULL,       tun_dst,   0, 0,  MFM_FULLY, MFP_NONE,   MFS_IPV4,     true,  true)  \
	X(TUN_IPV6_SRC,"tun_ipv6_src",NULL,     tun_ipv6_src, 0, 0, MFM_FULLY, MFP_NONE, MFS_IPV6,     true,  true)  \
	X(TUN_IPV6_DST,"tun_ipv6_dst",NULL,     tun_ipv6_dst, 0, 0, MFM_FULLY, MFP_NONE, MFS_IPV6,     true,  true)  \
	X(TUN_FLAGS,  "tun_flags",  NULL,       tun_flags, 0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      false, false) \
	X(TUN_TOS,    "tun_tos",    NULL,       tun_tos,   0, 0,  MFM_NONE,  MFP_NONE,   MFS_DECIMAL,  true,  false) \
	X(TUN_TTL,    "tun_ttl",    NULL,       tun_ttl,   0, 0,  MFM_NONE,  MFP_NONE,   MFS_DECIMAL,  true,  false) \
	X(TUN_OPTS,   "tun_opts",   NULL,       tun_opts,  0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  true)  \
	X(CT_STATE,   "ct_state",   NULL,       ct_state,  0, 0,  MFM_FULLY, MFP_NONE,   MFS_CT_STATE, false, false) \
	X(CT_ZONE,    "ct_zone",    NULL,       ct_zone,   0, 0,  MFM_NONE,  MFP_NONE,   MFS_DECIMAL,  false, false) \
	X(CT_MARK,    "ct_mark",    NULL,       ct_mark,   0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  false) \
	X(CT_LABEL,   "ct_label",   NULL,       ct_label,  0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  true)  \
	X(CT_NW_PROTO,"ct_nw_proto",NULL,       ct_nw_proto, 0, 0, MFM_NONE, MFP_CT,     MFS_DECIMAL,  false, false) \
	X(CT_NW_SRC,  "ct_nw_src",  NULL,       ct_nw_src, 0, 0,  MFM_FULLY, MFP_CT,     MFS_IPV4,     false, true)  \
	X(CT_NW_DST,  "ct_nw_dst",  NULL,       ct_nw_dst, 0, 0,  MFM_FULLY, MFP_CT,     MFS_IPV4,     false, true)  \
	X(CT_IPV6_SRC,"ct_ipv6_src",NULL,       ct_ipv6_src, 0, 0, MFM_FULLY, MFP_CT,    MFS_IPV6,     false, true)  \
	X(CT_IPV6_DST,"ct_ipv6_dst",NULL,       ct_ipv6_dst, 0, 0, MFM_FULLY, MFP_CT,    MFS_IPV6,     false, true)  \
	X(CT_TP_SRC,  "ct_tp_src",  NULL,       ct_tp_src, 0, 0,  MFM_FULLY, MFP_CT,     MFS_DECIMAL,  false, true)  \
	X(CT_TP_DST,  "ct_tp_dst",  NULL,       ct_tp_dst, 0, 0,  MFM_FULLY, MFP_CT,     MFS_DECIMAL,  false, true)  \
	X(ETH_SRC,    "dl_src",     "eth_src",  dl_src,    0, 0,  MFM_FULLY, MFP_NONE,   MFS_ETHERNET, true,  true)  \
	X(ETH_DST,    "dl_dst",     "eth_dst",  dl_dst,    0, 0,  MFM_FULLY, MFP_NONE,   MFS_ETHERNET, true,  true)  \
	X(ETH_TYPE,   "dl_type",    "eth_type", dl_type,   0, 0,  MFM_NONE,  MFP_NONE,   MFS_HEX,      false, true)  \
	X(VLAN_TCI,   "vlan_tci",   NULL,       vlan_tci,  0, 0,  MFM_FULLY, MFP_NONE,   MFS_HEX,      true,  true)  \
	X(VLAN_VID,   "dl_vlan",    "vlan_vid", vlan_tci,  0, 12, MFM_NONE,  MFP_VLAN,   MFS_DECIMAL,  true,  true)  \
	X(VLAN_PCP,   "dl_vlan_pcp","vlan_pcp", vlan_tci,  13, 3, MFM_NONE,  MFP_VLAN,   MFS_DECIMAL,  true,  true)  \
	X(MPLS_LABEL, "mpls_label", NULL,       mpls_lse,  12, 20, MFM_NONE, MFP_MPLS,   MFS_DECIMAL,  true,  true)  \
	X(MPLS_TC,    "mpls_tc",    NULL,       mpls_lse,  9, 3,  MFM_NONE,  MFP_MPLS,   MFS_DECIMAL,  true,  true)  \
	X(MPLS_BOS,   "mpls_bos",   NULL,       mpls_lse,  8, 1,  MFM_NONE,  MFP_MPLS,   MFS_DECIMAL,  false, true)  \
	X(MPLS_TTL,   "mpls_ttl",   NULL,       mpls_lse,  0, 8,  MFM_NONE,  MFP_MPLS,   MFS_DECIMAL,  true,  true)  \
	X(IPV4_SRC,   "nw_src",     "ip_src",   nw_src,    0, 0,  MFM_FULLY, MFP_IPV4,   MFS_IPV4,     true,  true)  \
	X(IPV4_DST,   "nw_dst",     "ip_dst",   nw_dst,    0, 0,  MFM_FULLY, MFP_IPV4,   MFS_IPV4,     true,  true)  \
	X(IPV6_SRC,   "ipv6_src",   NULL,       ipv6_src,  0, 0,  MFM_FULLY, MFP_IPV6,   MFS_IPV6,     true,  true)  \
	X(IPV6_DST,   "ipv6_dst",   NULL,       ipv6_dst,  0, 0,  MFM_FULLY, MFP_IPV6,   MFS_IPV6,     true,  true)  \
	X(IPV6_LABEL, "ipv6_label", NULL,       ipv6_label, 0, 20, MFM_FULLY, MFP_IPV6,  MFS_HEX,      true,  true)  \
	X(IP_PROTO,   "nw_proto",   "ip_proto", nw_proto,  0, 0,  MFM_NONE,  MFP_IP_ANY, MFS_DECIMAL,  false, false) \
	X(IP_TOS,     "nw_tos",     NULL,       nw_tos,    2, 6,  MFM_NONE,  MFP_IP_ANY, MFS_TOS,      true,  false) \
	X(IP_DSCP,    "ip_dscp",    NULL,       nw_tos,    2, 6,  MFM_NONE,  MFP_IP_ANY, MFS_DECIMAL,  true,  false) \
	X(IP_ECN,     "nw_ecn",     "ip_ecn",   nw_tos,    0, 2,  MFM_NONE,  MFP_IP_ANY, MFS_DECIMAL,  true,  false) \
	X(NW_TTL,     "nw_ttl",     NULL,       nw_ttl,    0, 0,  MFM_NONE,  MFP_IP_ANY, MFS_DECIMAL,  true,  false) \
	X(IP_FRAG,    "nw_frag",    "ip_frag",  nw_frag,   0, 0,  MFM_FULLY, MFP_IP_ANY, MFS_FRAG,     false, false) \
	X(ARP_OP,     "arp_op",     NULL,       nw_proto,  0, 0,  MFM_NONE,  MFP_ARP,    MFS_DECIMAL,  true,  false) \
	X(ARP_SPA,    "arp_spa",    NULL,       nw_src,    0, 0,  MFM_FULLY, MFP_ARP,    MFS_IPV4,     true,  true)  \
	X(ARP_TPA,    "arp_tpa",    NULL,       nw_dst,    0, 0,  MFM_FULLY, MFP_ARP,    MFS_IPV4,     true,  true)  \
	X(ARP_SHA,    "arp_sha",    NULL,       arp_sha,   0, 0,  MFM_FULLY, MFP_ARP,    MFS_ETHERNET, true,  true)  \
	X(ARP_THA,    "arp_tha",    NULL,       arp_tha,   0, 0,  MFM_FULLY, MFP_ARP,    MFS_ETHERNET, true,  true)  \
	X(TCP_SRC,    "tcp_src",    "tp_src",   tp_src,    0, 0,  MFM_FULLY, MFP_TCP,    MFS_DECIMAL,  true,  true)  \
	X(TCP_DST,    "tcp_dst",    "tp_dst",   tp_dst,    0, 0,  MFM_FULLY, MFP_TCP,    MFS_DECIMAL,  true,  true)  \
	X(TCP_FLAGS,  "tcp_flags",  NULL,       tcp_flags, 0, 12, MFM_FULLY, MFP_TCP,    MFS_TCP_FLAGS, false, true) \
	X(UDP_SRC,    "udp_src",    NULL,       tp_src,    0, 0,  MFM_FULLY, MFP_UDP,    MFS_DECIMAL,  true,  true)  \
	X(UDP_DST,    "udp_dst",    NULL,       tp_dst,    0, 0,  MFM_FULLY, MFP_UDP,    MFS_DECIMAL,  true,  true)  \
	X(SCTP_SRC,   "sctp_src",   NULL,       tp_src,    0, 0,  MFM_FULLY, MFP_SCTP,   MFS_DECIMAL,  true,  true)  \
	X(SCTP_DST,   "sctp_dst",   NULL,       tp_dst,    0, 0,  MFM_FULLY, MFP_SCTP,   MFS_DECIMAL,  true,  true)  \
	X(ICMP_TYPE,  "icmp_type",  NULL,       tp_src,    0, 8,  MFM_NONE,  MFP_ICMPV4, MFS_DECIMAL,  true,  true)  \
	X(ICMP_CODE,  "icmp_code",  NULL,       tp_dst,    0, 8,  MFM_NONE,  MFP_ICMPV4, MFS_DECIMAL,  true,  true)  \
	X(ICMPV6_TYPE,"icmpv6_type",NULL,       tp_src,    0, 8,  MFM_NONE,  MFP_ICMPV6, MFS_DECIMAL,  true,  true)  \
	X(ICMPV6_CODE,"icmpv6_code",NULL,       tp_dst,    0, 8,  MFM_NONE,  MFP_ICMPV6, MFS_DECIMAL,  true,  true)  \
	X(ND_TARGET,  "nd_target",  NULL,       nd_target, 0, 0,  MFM_FULLY, MFP_ND,     MFS_IPV6,     true,  true)  \
	X(ND_SLL,     "nd_sll",     NULL,       arp_sha,   0, 0,  MFM_FULLY, MFP_ND_SOLICIT, MFS_ETHERNET, true, true) \
	X(ND_TLL,     "nd_tll",     NULL,       arp_tha,   0, 0,  MFM_FULLY, MFP_ND_ADVERT,  MFS_ETHERNET, true, true)

/* reg0..reg15 are generated separately (MF_REG0 + n). */
enum mf_id {
#define X(id, ...) MF_##id,
	MF_FIELDS(X)
#undef X
	MF_REG0,
	MF_REG15 = MF_REG0 + FLOW_N_REGS - 1,
	MF_N_IDS
};

struct mf_field {
	enum mf_id id;
	const char *name;
	const char *alias;
	uint16_t offset;	/* byte offset of the containing member in flow_key */
	uint8_t n_bytes;	/* size of the containing member (first element for arrays) */
	uint8_t bit_ofs;	/* sub-field: bits above the member's LSB (host view) */
	uint8_t n_bits;		/* width; 0 in the table = the whole member */
	enum mf_maskable maskable;
	enum mf_prereq prereq;
	enum mf_string string;
	bool writable;
	bool net_order;		/* the member is big-endian */
};

extern const struct mf_field mf_fields[MF_N_IDS];

/* By name or alias (also "reg0".."reg15"); NULL if unknown. */
const struct mf_field *mf_from_name(const char *name);

/*
 * Field values and masks travel as the bytes of the containing member
 * (n_bytes of them, in the member's own byte order, a sub-field's bits
 * already shifted into place) — the form ofpact_set_field stores. The "BE
 * view" used by the flow language is the same bits as an n_bytes big-endian
 * integer with the field's least significant bit at bit 0.
 */
#define MF_MAX_BYTES	16

static inline unsigned mf_n_bits(const struct mf_field *f)
{
	return f->n_bits;	/* the table resolves 0 to the member's width */
}

/* n-byte big-endian integers of up to MF_MAX_BYTES, as the flow language and
 * the registry handle field values: a <<= bits, a >>= bits, and the mask of
 * bits [ofs, ofs + n_bits). */
static inline void mf_be_shl(uint8_t *a, size_t n, unsigned bits)
{
	size_t bytes = bits / 8;
	unsigned b = bits % 8;

	for (size_t i = 0; i < n && i < MF_MAX_BYTES; i++) {
		size_t s = i + bytes;
		uint8_t hi = s < n ? a[s] : 0, lo = s + 1 < n ? a[s + 1] : 0;

		a[i] = b ? (uint8_t)(hi << b | lo >> (8 - b)) : hi;
	}
}

static inline void mf_be_shr(uint8_t *a, size_t n, unsigned bits)
{
	size_t bytes = bits / 8;
	unsigned b = bits % 8;

	for (size_t i = MIN(n, (size_t)MF_MAX_BYTES); i-- > 0;) {
		uint8_t lo = i >= bytes ? a[i - bytes] : 0;
		uint8_t hi = i >= bytes + 1 ? a[i - bytes - 1] : 0;

		a[i] = b ? (uint8_t)(lo >> b | hi << (8 - b)) : lo;
	}
}

static inline void mf_be_range(uint8_t *a, size_t n, unsigned ofs, unsigned n_bits)
{
	for (size_t i = 0; i < n; i++) {
		unsigned lo = (unsigned)(n - 1 - i) * 8;
		unsigned from = ofs > lo ? ofs - lo : 0;
		unsigned to = ofs + n_bits > lo ? ofs + n_bits - lo : 0;

		if (from >= 8 || to == 0) {
			a[i] = 0;
			continue;
		}
		if (to > 8)
			to = 8;
		a[i] = (uint8_t)(((1u << to) - 1) & ~((1u << from) - 1));
	}
}

/* The member bits the field covers. */
void mf_field_mask(const struct mf_field *f, uint8_t mask[MF_MAX_BYTES]);
/* BE view <-> member bytes. to_member drops bits above the field's width. */
void mf_be_to_member(const struct mf_field *f, const uint8_t *be, uint8_t *out);
void mf_member_to_be(const struct mf_field *f, const uint8_t *in, uint8_t *be);
/* Read the member bytes of f from a key (bits outside the field cleared). */
void mf_get(const struct mf_field *f, const struct flow_key *k, uint8_t v[MF_MAX_BYTES]);
/* k = (k & ~m) | (v & m), restricted to the field's bits. */
void mf_write(const struct mf_field *f, const uint8_t *v, const uint8_t *m, struct flow_key *k);
/* Match f on value v under mask m (member bytes); replaces what the match
 * had for those bits and keeps key & mask == key. */
void mf_match_set(const struct mf_field *f, const uint8_t *v, const uint8_t *m,
		  struct flow_match *match);
/* Read back value and mask of f from a match (member bytes). */
void mf_match_get(const struct mf_field *f, const struct flow_match *match,
		  uint8_t v[MF_MAX_BYTES], uint8_t m[MF_MAX_BYTES]);

/* Are f's prerequisites pinned by m? 0 or -EINVAL. */
int mf_check_prereqs(const struct flow_match *m, const struct mf_field *f);
bool mf_prereq_ok(const struct flow_match *m, enum mf_prereq p);
/* What a prerequisite asks for, for error messages ("tcp or tcp6"). */
const char *mf_prereq_string(enum mf_prereq p);

#endif
