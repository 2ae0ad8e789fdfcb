/*
 * dpact: the datapath's own action list — what a megaflow or EMC hit does to
 * a packet — and the code that executes it (actions.c).
 *
 * The pipeline (pipeline.c) interprets OpenFlow actions (ofpact.h) once per
 * cache miss and compiles what the megaflow must do into a flat dpact list:
 * no goto_table, resubmit, registers or metadata (those are resolved by the
 * pipeline), no special ports (in_port, flood, all and normal are expanded
 * into explicit OUTPUTs), every field value and mask already in wire order.
 * The PMD then runs the list for every packet of the flow without looking at
 * tables again.
 *
 * Format. A list is an array of records, each a multiple of 8 bytes and
 * 8-byte aligned (store lists in malloc'ed or alignas(8) memory). Every record
 * starts with struct dpact { type, len } where len counts 8-byte units. Records
 * hold no pointers: groups and meters are referenced by id and looked up in
 * RCU-published tables at execution, so a list stays valid (if stale) across
 * group and meter changes; a missing group or meter drops with a counter.
 * Values are in network byte order unless the field says "host".
 *
 * Semantics, in list order:
 * - OUTPUT that is the last record hands the packet itself to the output
 *   hook; an OUTPUT followed by anything gets a copy (mirroring), so later
 *   rewrites never reach bytes already queued for another port. The same holds
 *   for GROUP. dpact_finalize() trims records after the last OUTPUT/GROUP (they
 *   cannot change what leaves), which makes the last output copy-free.
 * - A list that ends without any OUTPUT or GROUP drops the packet
 *   (DPACT_DROP_FLOW_DROP: the flow said drop, or had no output).
 * - Rewrites find headers from pkt.l3_off and pkt.l4_off as the parser set
 *   them; Ethernet is at 0, VLAN tags and the MPLS label stack are found by
 *   walking the ethertypes from offset 12. PUSH/POP of VLAN and MPLS shift
 *   l3_off, l4_off and (with PKT_F_CSUM_PARTIAL) csum_start so that they keep
 *   naming the same bytes. A rewrite whose header is not there (the list and
 *   the packet disagree) drops with DPACT_DROP_NO_HEADER rather than forward a
 *   packet the flow meant to change.
 * - Checksums: IPv4 header checksum and TCP/UDP/ICMPv6 checksums are updated
 *   incrementally (RFC 1624 eqn. 3). A UDP checksum of 0 (none) stays 0, and a
 *   computed 0 is sent as 0xffff (RFC 768). With PKT_F_CSUM_PARTIAL the guest
 *   left the L4 checksum for the device to finish: the field at
 *   csum_start + csum_offset then holds the uncomplemented pseudo-header sum,
 *   so address rewrites adjust it without complementing, and port rewrites
 *   leave it alone (ports are in the data the device will sum). SCTP's CRC32c
 *   is recomputed over the packet after a port rewrite (hardware crc32 where
 *   the CPU has it); a fragmented SCTP packet cannot be fixed and is dropped.
 * - DEC_TTL / DEC_MPLS_TTL drop a packet whose TTL is 0 or 1 with
 *   DPACT_DROP_TTL_EXPIRED. Sending ICMP time-exceeded is a later issue.
 * - GROUP: SELECT picks a bucket by a hash of the packet's own 5-tuple from
 *   its flow key (so a megaflow need not match the 5-tuple) through a weighted
 *   table; ALL runs every bucket on a copy; INDIRECT is ALL with one bucket;
 *   FAST_FAILOVER runs the first bucket whose watch port is live, from a
 *   snapshot the control thread keeps (group_port_set_live). A bucket's
 *   actions are themselves a dpact list (nesting is bounded: DPACT_MAX_DEPTH).
 *   Note: the select hash uses the 5-tuple as parsed, before rewrites earlier
 *   in the same list.
 * - METER: token buckets, see meter.c; packets over rate are dropped.
 * - NORMAL: the OpenFlow "normal" port, the learning bridge, decided per
 *   packet by dp_normal() (dp_proc.c) from the MAC table, so a megaflow that
 *   says normal needs no MAC bits and survives learning. It is an output
 *   like OUTPUT: last takes the packet, earlier gets a copy.
 * - ROUTE: the vRouter (src/l3/l3.h), decided per packet against the VRF's
 *   LPM tables, so a routing megaflow matches no address bits and stays
 *   right while routes change. An output like NORMAL.
 *
 * Execution API. dpact_execute_batch runs one list over n packets that hit the
 * same megaflow (the common burst-of-one-flow case), action by action over the
 * whole batch. It takes ownership of every packet: each is handed to the
 * output hook or freed with its reason counted in ctx->drops. Outputs leave
 * through ctx->output, which the lead points at dp_output (dp_proc.c, over
 * tx_enqueue); tests point it at a fake. One call per OUTPUT record per batch.
 *
 * Thread-safety: dpact_execute* run on a PMD between two quiescent states of a
 * registered QSBR reader (group and meter tables are rcu_dereference'd); a
 * struct dpact_ctx belongs to one PMD. Its counters are written with relaxed
 * stores and read by the control thread with relaxed loads. The builder
 * functions are plain data and run anywhere.
 */
#ifndef XVIO_DPACT_H
#define XVIO_DPACT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"
#include "../core/pkt.h"
#include "../port/port.h"
#include "flow.h"
#include "../ct/ct.h"

#define DPACT_TYPES(X) \
	X(OUTPUT,       struct dpact_output)    /* port */ \
	X(SET_ETH,      struct dpact_set_eth)   /* dl_src/dl_dst under masks */ \
	X(SET_IPV4,     struct dpact_set_ipv4)  /* nw_src/dst/tos/ttl + checksums */ \
	X(SET_IPV6,     struct dpact_set_ipv6)  /* addresses/tc/label/hlim + L4 checksum */ \
	X(SET_L4_PORTS, struct dpact_set_l4)    /* tcp/udp/sctp ports */ \
	X(SET_VLAN,     struct dpact_vlan)      /* outer TCI under mask */ \
	X(PUSH_VLAN,    struct dpact_vlan)      /* new outer tag */ \
	X(POP_VLAN,     struct dpact)           /* remove the outer tag */ \
	X(PUSH_MPLS,    struct dpact_mpls)      /* new top label */ \
	X(POP_MPLS,     struct dpact_mpls)      /* remove the top label */ \
	X(SET_MPLS,     struct dpact_set_mpls)  /* top LSE under mask */ \
	X(DEC_TTL,      struct dpact)           /* IPv4 TTL / IPv6 hop limit */ \
	X(DEC_MPLS_TTL, struct dpact)           /* top LSE TTL */ \
	X(GROUP,        struct dpact_id)        /* run a group's bucket(s) */ \
	X(METER,        struct dpact_id)        /* police */ \
	X(NORMAL,       struct dpact)           /* the learning bridge (dp_normal) */ \
	X(ROUTE,        struct dpact_id)        /* the vRouter: l3_route_batch in VRF id */ \
	X(TNL_PUSH,     struct dpact_tnl_push)  /* encapsulate, route, output (src/tnl) */ \
	X(CT,           struct dpact_ct)        /* conntrack: ct_execute, fills the key's ct fields */ \
	X(CT_CLEAR,     struct dpact)           /* forget the key's ct fields */ \
	X(RECIRC,       struct dpact_recirc)    /* re-run the pipeline from a table */

enum dpact_type {
#define X(e, s) DPACT_##e,
	DPACT_TYPES(X)
#undef X
	DPACT_N_TYPES
};

/* Drop reasons of action execution, listed once. */
#define DPACT_DROP_REASONS(X) \
	X(FLOW_DROP,       "flow_drop")            /* list ends with no output: drop action */ \
	X(NO_HEADER,       "action_no_header")     /* rewrite/pop of a header the packet lacks */ \
	X(NO_HEADROOM,     "push_no_headroom")     /* push_vlan/push_mpls without room */ \
	X(OFFSET_OVERFLOW, "push_offset_overflow") /* pushed headers move l4_off past 255 */ \
	X(TTL_EXPIRED,     "ttl_expired")          /* dec_ttl at TTL/hop limit 0 or 1 */ \
	X(MPLS_TTL_EXPIRED,"mpls_ttl_expired")     /* dec_mpls_ttl at 0 or 1 */ \
	X(SCTP_FRAG,       "sctp_frag_rewrite")    /* SCTP port rewrite on a fragment */ \
	X(CLONE_NO_BUF,    "clone_no_buf")         /* pool empty while copying for an output */ \
	X(GROUP_MISSING,   "group_missing")        /* group id not (or no longer) defined */ \
	X(GROUP_NO_BUCKET, "group_no_bucket")      /* no live (ff) or weighted (select) bucket */ \
	X(METER_MISSING,   "meter_missing")        /* meter id not (or no longer) defined */ \
	X(METER,           "meter_over_rate")      /* policed by a meter drop band */ \
	X(TOO_DEEP,        "action_too_deep")      /* groups nested beyond DPACT_MAX_DEPTH */ \
	X(BAD_ACTION,      "bad_action")           /* malformed record (a bug, never expected) */ \
	X(RECIRC_TOO_DEEP, "recirc_too_deep")      /* recirculated more than DPACT_MAX_RECIRC times */

enum dpact_drop {
#define X(e, s) DPACT_DROP_##e,
	DPACT_DROP_REASONS(X)
#undef X
	DPACT_DROP_MAX
};

extern const char *const dpact_drop_names[DPACT_DROP_MAX];

#define DPACT_MAX_DEPTH	4		/* group in bucket in group ... */
#define DPACT_PMD_MAX	PORT_MAX_QUEUES	/* = PMD_MAX: per-PMD counter slots */

/* ---- records ---- */

struct dpact {
	uint8_t type;		/* enum dpact_type */
	uint8_t len;		/* in 8-byte units, ≥ 1 */
	uint8_t pad[6];
};

struct dpact_output {
	uint8_t type, len;
	uint16_t port;		/* host; a port id < PORT_MAX */
	uint32_t pad;
};

struct dpact_id {
	uint8_t type, len;
	uint16_t pad;
	uint32_t id;		/* host; group or meter id */
};

/* SET_VLAN: tci = (tci & ~mask) | val, outer tag only (vid 0x0fff, pcp
 * 0xe000). PUSH_VLAN: new outer tag tpid (host: 0x8100 or 0x88a8) and tci
 * (wire TCI, without FLOW_VLAN_PRESENT). */
struct dpact_vlan {
	uint8_t type, len;
	uint16_t tpid;		/* host */
	uint16_t tci;		/* network */
	uint16_t mask;		/* network; SET_VLAN only */
};

/* PUSH_MPLS: new top LSE with ethertype (host, 0x8847/0x8848). Label and TC
 * come from lse; BOS is set when the packet had no label stack; TTL is
 * copied from the inner IP TTL / hop limit or the old top label, and taken
 * from lse only when there is neither. POP_MPLS: remove the top LSE and set
 * the ethertype to `ethertype` (OVS semantics). */
struct dpact_mpls {
	uint8_t type, len;
	uint16_t ethertype;	/* host */
	uint32_t lse;		/* network; PUSH_MPLS only */
};

struct dpact_set_mpls {
	uint8_t type, len;
	uint8_t pad[6];
	uint32_t lse;		/* network: label << 12 | tc << 9 | ttl */
	uint32_t mask;		/* network; never covers BOS */
};

struct dpact_set_eth {
	uint8_t type, len;
	uint8_t pad[6];
	uint8_t dst[6], dst_mask[6];
	uint8_t src[6], src_mask[6];
};

struct dpact_set_ipv4 {
	uint8_t type, len;
	uint8_t tos, tos_mask;	/* whole ToS byte: DSCP << 2 | ECN */
	uint8_t ttl, ttl_mask;
	uint16_t pad;
	uint32_t src, src_mask;	/* network */
	uint32_t dst, dst_mask;
};

struct dpact_set_ipv6 {
	uint8_t type, len;
	uint8_t tc, tc_mask;	/* traffic class, as nw_tos */
	uint8_t hlim, hlim_mask;
	uint16_t pad;
	uint32_t label, label_mask;	/* network, low 20 bits */
	uint8_t src[16], src_mask[16];
	uint8_t dst[16], dst_mask[16];
};

/* CT: one ct() with its zone resolved (ct.h). */
struct dpact_ct {
	uint8_t type, len;
	uint8_t pad[6];
	struct ct_action ct;
};

/* RECIRC: the packet (re-parsed, its ct fields as the last CT left them)
 * goes through the caches and, on a miss, the pipeline from `table`, with
 * recirc_id = table + 1 and the registers and metadata it had at this
 * point. Like OUTPUT: the last one takes the packet, an earlier one a copy. */
struct dpact_recirc {
	uint8_t type, len;
	uint8_t table;
	uint8_t pad[5];
	uint64_t metadata;
	uint32_t regs[FLOW_N_REGS];
};

#define DPACT_MAX_RECIRC	6	/* passes per packet, as OVS's MAX_RECIRC_DEPTH */

struct dpact_set_l4 {
	uint8_t type, len;
	uint8_t proto;		/* 6, 17 or 132 (the megaflow pins nw_proto) */
	uint8_t pad[5];
	uint16_t src, src_mask;	/* network */
	uint16_t dst, dst_mask;
};

/* TNL_PUSH: the packet gets outer headers of tunnel type tnl_type (enum
 * tnl_type, src/tnl/tnl.h) to dst and leaves on the underlay uplink that
 * routes dst, as OUTPUT does (last takes the packet, earlier gets a copy).
 * Executed by tnl_push_batch. */
#define DPACT_TNL_KEY	0x1	/* GRE: send the key (K bit) */
#define DPACT_TNL_CSUM	0x2	/* UDP types: compute the outer UDP checksum */
#define DPACT_TNL_IPV6	0x4	/* outer IPv6 to dst6 (src6, all zero = the uplink's) */
struct dpact_tnl_push {
	uint8_t type, len;
	uint8_t tnl_type;
	uint8_t flags;		/* DPACT_TNL_* */
	uint16_t port;		/* host; tunnel port credited, PORT_ID_NONE = none */
	uint16_t dst_port;	/* host; UDP destination port */
	uint64_t key;		/* host: VNI (24 bits), GRE key (32), MPLS label (20) */
	uint32_t dst, src;	/* network; src 0 = the routing uplink's address */
	uint8_t tos, ttl;	/* outer ToS and TTL */
	uint8_t opt_len;	/* Geneve option bytes in opts, a multiple of 4 */
	uint8_t pad[5];
	uint8_t opts[16];
	uint8_t dst6[16], src6[16];	/* DPACT_TNL_IPV6, network order */
};

#define X(e, s) _Static_assert(sizeof(s) % 8 == 0 && sizeof(s) <= 255 * 8, #e " record size");
DPACT_TYPES(X)
#undef X

/* Size in bytes of each type's record. */
extern const uint16_t dpact_sizes[DPACT_N_TYPES];

#define DPACT_FOREACH(A, ACTS, LEN) \
	for (const struct dpact *A = (const struct dpact *)(ACTS); \
	     (LEN) && (const uint8_t *)A < (const uint8_t *)(ACTS) + (LEN); \
	     A = (const struct dpact *)((const uint8_t *)A + (size_t)A->len * 8))

/* ---- building lists (the pipeline's compiler) ---- */

struct dpact_buf {
	uint8_t *data;		/* 8-byte aligned (malloc) */
	size_t len, cap;
};

/* Append a zeroed record of type (its standard size); NULL on ENOMEM. */
void *dpact_put(struct dpact_buf *b, enum dpact_type type);
/* The last record if it is of `type` (to merge consecutive set_fields into
 * one SET_* record), else a new one. NULL on ENOMEM. */
void *dpact_put_merge(struct dpact_buf *b, enum dpact_type type);
void dpact_put_output(struct dpact_buf *b, uint16_t port);	/* errors: see dpact_buf_err */
void dpact_buf_free(struct dpact_buf *b);
/* Drop records after the last OUTPUT/GROUP: they cannot change anything that
 * leaves. Call once the list is complete. */
void dpact_finalize(struct dpact_buf *b);
/* 0 if acts is a well-formed list (types, lengths, ports, proto), else
 * -EINVAL. The compiler's self-check; execution trusts its input. */
int dpact_validate(const void *acts, size_t len);
/* Human form for dump-megaflows and trace, OVS-datapath-like:
 * "set(eth(dst=..)),push_vlan(tpid=0x8100,tci=0x0064),group(3),3".
 * Returns the length it wanted (snprintf rules). Port ids are printed as
 * numbers; the caller maps them to names. */
int dpact_format(const void *acts, size_t len, char *s, size_t size);

/* ---- executing ---- */

struct dp_pmd;

/* The output hook: takes ownership of n packets for port_id. The lead
 * implements dp_output in dp_proc.c over tx_enqueue; it must cope with a port
 * id that is no longer attached (drop and count). */
typedef void dpact_output_fn(struct dp_pmd *pmd, uint16_t port_id, struct pkt **pkts,
			     uint16_t n);
dpact_output_fn dp_output;
/* The RECIRC hook: takes ownership of n packets whose keys (keys[i],
 * ct fields filled by a CT before) continue at r->table (dp_proc.c). */
typedef void dpact_recirc_fn(struct dp_pmd *pmd, struct pkt **pkts,
			     const struct flow_key *const *keys, uint16_t n,
			     const struct dpact_recirc *r);
dpact_recirc_fn dp_recirc;
/* The NORMAL action: the learning bridge for one packet (dp_proc.c). */
void dp_normal(struct dp_pmd *pmd, struct pkt *p);

/* One PMD's execution context; embed it in struct dp_pmd. */
struct dpact_ctx {
	struct dp_pmd *pmd;		/* passed to output */
	dpact_output_fn *output;
	uint64_t (*clock_ns)(void);	/* meters; default time_ns */
	uint16_t pmd_idx;		/* < DPACT_PMD_MAX: per-PMD counter slot */
	dpact_recirc_fn *recirc;	/* default dp_recirc */
	/* Set by the caller of dpact_execute_slow when the list's first action
	 * is a CT that is its only key writer (dpact_keys_first_ct) and keys
	 * are left shared: a key per packet of that call, for a packet whose
	 * verdict is its own (ct.h). Taken by that CT. */
	struct flow_key *ct_store;
	alignas(CACHE_LINE) uint64_t drops[DPACT_DROP_MAX];
	alignas(CACHE_LINE) struct ct_pmd ct;	/* conntrack counters of this PMD */
};

/* Control (or the PMD before its loop). */
void dpact_ctx_init(struct dpact_ctx *ctx, struct dp_pmd *pmd, uint16_t pmd_idx,
		    dpact_output_fn *output);

/* PMD: the general case; n may exceed PKT_BURST. keys[i] is pkts[i]'s flow
 * key (read by select groups and IPv6 L4 rewrites). */
void dpact_execute_slow(struct dpact_ctx *ctx, struct pkt **pkts,
			const struct flow_key *const *keys, uint16_t n,
			const void *acts, size_t len);

/* The common megaflow, one output and nothing else (it reads no key): its
 * record, or NULL. */
static inline const struct dpact_output *dpact_single_output(const void *acts, size_t len)
{
	const struct dpact_output *o = acts;

	return likely(len == sizeof(*o) && o->type == DPACT_OUTPUT) ? o : NULL;
}

/* Whether list acts may write the packets' keys (ct fills its fields
 * unless CT_F_NO_KEY says nothing reads them; a group's buckets are not
 * looked into, so a group counts as writing): if not, packets with equal
 * headers may share one key through it. */
bool dpact_writes_keys(const void *acts, size_t len);
/* Whether the only action of acts that writes keys is its first, a CT
 * without nat (which then takes keys shared between packets, with
 * dpact_ctx.ct_store). */
bool dpact_keys_first_ct(const void *acts, size_t len);

/* PMD: run list acts (len bytes) over n packets of one megaflow. */
static inline void dpact_execute_batch(struct dpact_ctx *ctx, struct pkt **pkts,
				       const struct flow_key *const *keys, uint16_t n,
				       const void *acts, size_t len)
{
	const struct dpact_output *o = dpact_single_output(acts, len);

	if (o) {
		ctx->output(ctx->pmd, o->port, pkts, n);
		return;
	}
	dpact_execute_slow(ctx, pkts, keys, n, acts, len);
}

static inline void dpact_execute(struct dpact_ctx *ctx, struct pkt *p, const struct flow_key *key,
				 const void *acts, size_t len)
{
	dpact_execute_batch(ctx, &p, &key, 1, acts, len);
}


/* ---- id tables (groups, meters) ----
 * Open addressing, load ≤ 1/2, immutable once published. Every object stored
 * starts with its uint32_t id. */
struct dpact_idtab {
	uint32_t mask;
	uint32_t n;
	void *slot[];
};

static inline uint32_t dpact_idhash(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32);
}

static inline void *dpact_idtab_find(const struct dpact_idtab *t, uint32_t id)
{
	if (!t)
		return NULL;
	for (uint32_t h = dpact_idhash(id) & t->mask;; h = (h + 1) & t->mask) {
		void *o = t->slot[h];

		if (!o || *(const uint32_t *)o == id)
			return o;
	}
}

/* Control: a table of n objects (NULL + errno on ENOMEM). */
struct dpact_idtab *dpact_idtab_build(void *const *objs, uint32_t n);
/* Control: publish *tab with add put in and gone taken out (either may be
 * NULL), wait a grace period, then free the old table and gone. 0, or
 * -ENOMEM with nothing changed. */
int dpact_idtab_replace(struct dpact_idtab **tab, void *add, void *gone,
			void (*free_obj)(void *));
/* Control: empty *tab, wait a grace period, free every object. */
void dpact_idtab_clear(struct dpact_idtab **tab, void (*free_obj)(void *));

#endif
