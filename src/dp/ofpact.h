/*
 * ofpact: actions as the flow language and the slow path know them — a
 * compact array of variable-length records, each starting with struct
 * ofpact, 8-byte aligned. The parser (ctl/ofctl_parse.c) builds them, the
 * formatter prints them back in ovs-ofctl syntax, validation checks them when
 * a flow is added, and the pipeline (pipeline.c) interprets them on a cache
 * miss and compiles what a megaflow must do into the datapath's own action
 * list (actions.c).
 *
 * Ports in actions are port ids (port.h) resolved from names when the flow is
 * parsed; the OFPP_* values below name the special ports.
 *
 * Thread-safety: plain data. A rule's ofpacts are immutable once the rule is
 * published.
 */
#ifndef XVIO_OFPACT_H
#define XVIO_OFPACT_H

#include <stdint.h>

#include "flow.h"
#include "../ct/ct.h"

/* Special ports (OpenFlow 1.0 numbering; real port ids are < PORT_MAX). */
#define OFPP_IN_PORT	0xfff8
#define OFPP_TABLE	0xfff9
#define OFPP_NORMAL	0xfffa
#define OFPP_FLOOD	0xfffb
#define OFPP_ALL	0xfffc
#define OFPP_CONTROLLER	0xfffd
#define OFPP_LOCAL	0xfffe
#define OFPP_NONE	0xffff

#define OFP_MAX_TABLES	255	/* tables 0..254 */
#define OFPTT_CURRENT	255	/* resubmit(,N) with N omitted: this table */

#define OFPACT_TYPES(X) \
	X(OUTPUT,       struct ofpact_output)    /* output:PORT, in_port, flood, all, normal, drop-less */ \
	X(SET_FIELD,    struct ofpact_set_field) /* set_field:V[/M]->F, load:V->F[a..b], mod_* */ \
	X(MOVE,         struct ofpact_move)      /* move:F[a..b]->G[c..d] */ \
	X(PUSH_VLAN,    struct ofpact_ethertype) /* push_vlan:0x8100 */ \
	X(POP_VLAN,     struct ofpact)           /* pop_vlan, strip_vlan */ \
	X(PUSH_MPLS,    struct ofpact_ethertype) /* push_mpls:0x8847 */ \
	X(POP_MPLS,     struct ofpact_ethertype) /* pop_mpls:0x0800 */ \
	X(DEC_TTL,      struct ofpact)           /* dec_ttl */ \
	X(DEC_MPLS_TTL, struct ofpact)           /* dec_mpls_ttl */ \
	X(GROUP,        struct ofpact_id)        /* group:N */ \
	X(METER,        struct ofpact_id)        /* meter:N */ \
	X(RESUBMIT,     struct ofpact_resubmit)  /* resubmit:PORT, resubmit(PORT,TABLE) */ \
	X(GOTO_TABLE,   struct ofpact_goto)      /* goto_table:N (must be last) */ \
	X(WRITE_METADATA, struct ofpact_metadata) /* write_metadata:V[/M] */ \
	X(NOTE,         struct ofpact)           /* note:hex, ignored */ \
	X(ROUTE,        struct ofpact_route)     /* route(vrf=N), route(vrf=reg0): the vRouter (src/l3) */ \
	X(CT,           struct ofpact_ct)        /* ct(commit,zone=,table=,exec(),nat(),force) */ \
	X(CT_CLEAR,     struct ofpact)           /* ct_clear */

enum ofpact_type {
#define X(e, s) OFPACT_##e,
	OFPACT_TYPES(X)
#undef X
	OFPACT_N_TYPES
};

struct ofpact {
	uint16_t type;		/* enum ofpact_type */
	uint16_t len;		/* bytes of this record, a multiple of 8 */
};

struct ofpact_output {
	struct ofpact h;
	uint16_t port;		/* port id or OFPP_* */
	uint16_t max_len;	/* for OFPP_CONTROLLER; unused otherwise */
};

/* Writes value under mask into a field (the whole field for set_field, a bit
 * range for load). value and mask are in the field's own byte order and
 * width (mf_field.n_bytes, sub-fields already shifted into place). */
struct ofpact_set_field {
	struct ofpact h;
	uint16_t field;		/* enum mf_id */
	uint16_t pad;
	uint8_t value[16];
	uint8_t mask[16];
};

struct ofpact_move {
	struct ofpact h;
	uint16_t src;		/* enum mf_id */
	uint16_t dst;
	uint16_t src_ofs;	/* bit offsets from the field's LSB */
	uint16_t dst_ofs;
	uint16_t n_bits;
	uint16_t pad[3];
};

struct ofpact_ethertype {
	struct ofpact h;
	uint16_t ethertype;	/* host order */
	uint16_t pad;
};

struct ofpact_id {
	struct ofpact h;
	uint32_t id;
};

struct ofpact_resubmit {
	struct ofpact h;
	uint16_t in_port;	/* OFPP_IN_PORT = keep */
	uint8_t table;		/* OFPTT_CURRENT = this table */
	uint8_t pad;
};

struct ofpact_goto {
	struct ofpact h;
	uint8_t table;
	uint8_t pad[3];
};

struct ofpact_metadata {
	struct ofpact h;
	uint32_t pad;
	uint64_t value;
	uint64_t mask;
};

/* route(vrf=N): VRF N; route(vrf=FIELD): the VRF is the value of a
 * register or metadata field when the packet is translated. */
struct ofpact_route {
	struct ofpact h;
	uint16_t vrf_field;	/* enum mf_id, or OFPACT_ROUTE_LITERAL */
	uint16_t pad;
	uint32_t vrf;		/* the literal VRF */
};
#define OFPACT_ROUTE_LITERAL	0xffff

/* ct(...): the datapath part (ct.h) plus where the zone comes from and
 * where the packet recirculates to. */
#define OFPACT_CT_NO_TABLE	0xff
struct ofpact_ct {
	struct ofpact h;
	uint16_t zone_field;	/* enum mf_id of a register, or MF_N_IDS: ct.zone as is */
	uint8_t zone_ofs;	/* bits of zone_field: [zone_ofs, zone_ofs + 16) at most */
	uint8_t zone_bits;
	uint8_t table;		/* OFPACT_CT_NO_TABLE: no recirculation */
	uint8_t pad[7];
	struct ct_action ct;
};

#define OFPACT_ALIGN(n)	ALIGN_UP((size_t)(n), 8)

/* Iterate over the records in [acts, acts + len bytes). */
#define OFPACT_FOREACH(a, acts_, len_) \
	for (const struct ofpact *a = (const void *)(acts_); \
	     (const uint8_t *)a < (const uint8_t *)(acts_) + (len_); \
	     a = (const struct ofpact *)((const uint8_t *)a + a->len))

/* A growable buffer of ofpacts (the parser's output). */
struct ofpbuf {
	uint8_t *data;
	size_t len, cap;
};

/* Append a zeroed record of `size` bytes (rounded to 8) of type; NULL on ENOMEM. */
void *ofpbuf_put(struct ofpbuf *b, enum ofpact_type type, size_t size);
void ofpbuf_free(struct ofpbuf *b);

#endif
