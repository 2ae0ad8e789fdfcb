/*
 * The pipeline: what a megaflow miss runs. It walks the OpenFlow tables from
 * table 0 with the packet's flow key, interprets the matched rules' actions
 * (set_field changes the working key, so later tables see it, as in OVS),
 * and compiles what must happen to the packet into a flat datapath action
 * list (dpact.h). Along the way it ORs into wc every bit of the input key
 * the decision depended on: the masks of the classifier subtables probed,
 * the source bits of move, the fields that chose between outputs. The miss
 * handler installs (key & wc, wc) -> actions as a megaflow.
 *
 * Runs on a PMD between quiescent states (rules and their actions stay valid
 * until the next one), or on the control thread for revalidation and trace.
 * No locks; reads dp_tables, the port snapshot and dp_version.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_priv.h"
#include "../tnl/tnl.h"

const char *const xlate_drop_names[XLATE_DROP_MAX] = {
	[XLATE_DROP_NONE] = "none",
#define X(e, s) [XLATE_DROP_##e] = s,
	XLATE_DROP_REASONS(X)
#undef X
};

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86dd

struct xctx {
	struct xlate_out *out;
	const struct dp_conf *conf;
	struct flow_key key;		/* the working key */
	int depth;
	int n_resubmits;
	bool exit;			/* stop interpreting (drop, error) */
};

#define TRACE_NOTE(x, ...) do { \
	if (unlikely((x)->out->trace)) \
		(x)->out->trace->note((x)->out->trace_aux, (x)->depth, __VA_ARGS__); \
} while (0)

static void wc_field(struct xctx *x, enum mf_id id)
{
	const struct mf_field *f = &mf_fields[id];
	uint8_t m[MF_MAX_BYTES];

	mf_field_mask(f, m);
	for (unsigned i = 0; i < f->n_bytes; i++)
		((uint8_t *)&x->out->wc)[f->offset + i] |= m[i];
}

static void set_drop(struct xctx *x, enum xlate_drop why)
{
	if (!x->out->drop)
		x->out->drop = (uint8_t)why;
}

static void put_output(struct xctx *x, uint16_t port)
{
	struct dpact_output *o = dpact_put(&x->out->acts, DPACT_OUTPUT);

	if (!o) {
		set_drop(x, XLATE_DROP_NO_MEMORY);
		x->exit = true;
		return;
	}
	o->port = port;
}

/* Output to a tunnel port: an encapsulation record instead of OUTPUT. The
 * record takes tun_id/tun_dst/tun_opts from the working key, which a packet
 * that came out of a tunnel brings along: the megaflow then depends on them. */
static bool tnl_output(struct xctx *x, uint16_t port)
{
	int r = tnl_output_compile(port, &x->key, &x->out->acts);

	if (!r)
		return false;
	wc_field(x, MF_TUN_ID);
	wc_field(x, MF_TUN_DST);
	wc_field(x, MF_TUN_IPV6_DST);
	wc_field(x, MF_TUN_OPTS);
	if (r == -EDESTADDRREQ) {
		TRACE_NOTE(x, "output to tunnel port %u with remote_ip=flow and no tun_dst/tun_ipv6_dst: skipped",
			   port);
	} else if (r < 0) {
		set_drop(x, XLATE_DROP_NO_MEMORY);
		x->exit = true;
	}
	return true;
}

static void do_output(struct xctx *x, uint16_t port)
{
	uint16_t in = (uint16_t)x->key.in_port;

	/* Output decisions depend on the input port (OpenFlow never sends a
	 * packet back where it came from unless told to with in_port). */
	wc_field(x, MF_IN_PORT);
	switch (port) {
	case OFPP_IN_PORT:
		if (in < PORT_MAX && x->conf && x->conf->ports[in])
			put_output(x, in);
		return;
	case OFPP_NORMAL:
		if (!dpact_put(&x->out->acts, DPACT_NORMAL)) {
			set_drop(x, XLATE_DROP_NO_MEMORY);
			x->exit = true;
		}
		return;
	case OFPP_FLOOD:
	case OFPP_ALL:
		for (uint16_t id = 0; x->conf && id < PORT_MAX; id++)
			if (id != in && x->conf->ports[id])
				put_output(x, id);
		return;
	case OFPP_CONTROLLER:
		TRACE_NOTE(x, "no controller: packet not sent");
		set_drop(x, XLATE_DROP_NO_CONTROLLER);
		return;
	case OFPP_LOCAL:
	case OFPP_TABLE:
	case OFPP_NONE:
		TRACE_NOTE(x, "output to a port this switch does not have: skipped");
		return;
	}
	if (port == in) {
		TRACE_NOTE(x, "skipping output to input port");
		return;
	}
	if (port >= PORT_MAX || !x->conf || !x->conf->ports[port]) {
		TRACE_NOTE(x, "output to port %u: no such port, skipped", port);
		return;
	}
	if (tnl_output(x, port))
		return;
	put_output(x, port);
}

/* Emit the datapath rewrite for one set_field already applied to x->key. */
static void emit_set(struct xctx *x, const struct mf_field *f)
{
	const struct flow_key *k = &x->key;
	struct dpact_buf *b = &x->out->acts;
	bool v4 = k->dl_type == __builtin_bswap16(ETH_P_IP);
	bool v6 = k->dl_type == __builtin_bswap16(ETH_P_IPV6);
	uint8_t m[MF_MAX_BYTES];

	mf_field_mask(f, m);
	switch (f->id) {
	case MF_ETH_SRC:
	case MF_ETH_DST: {
		struct dpact_set_eth *e = dpact_put_merge(b, DPACT_SET_ETH);

		if (!e)
			goto nomem;
		if (f->id == MF_ETH_SRC) {
			memcpy(e->src, k->dl_src, 6);
			memset(e->src_mask, 0xff, 6);
		} else {
			memcpy(e->dst, k->dl_dst, 6);
			memset(e->dst_mask, 0xff, 6);
		}
		return;
	}
	case MF_IPV4_SRC:
	case MF_IPV4_DST:
	case MF_IP_TOS:
	case MF_IP_DSCP:
	case MF_IP_ECN:
	case MF_NW_TTL:
		if (v4) {
			struct dpact_set_ipv4 *a = dpact_put_merge(b, DPACT_SET_IPV4);

			if (!a)
				goto nomem;
			if (f->id == MF_IPV4_SRC) {
				a->src = k->nw_src;
				a->src_mask = UINT32_MAX;
			} else if (f->id == MF_IPV4_DST) {
				a->dst = k->nw_dst;
				a->dst_mask = UINT32_MAX;
			} else if (f->id == MF_NW_TTL) {
				a->ttl = k->nw_ttl;
				a->ttl_mask = 0xff;
			} else {
				a->tos = (uint8_t)((a->tos & ~m[0]) | (k->nw_tos & m[0]));
				a->tos_mask |= m[0];
			}
			return;
		}
		if (v6 && f->id != MF_IPV4_SRC && f->id != MF_IPV4_DST) {
			struct dpact_set_ipv6 *a = dpact_put_merge(b, DPACT_SET_IPV6);

			if (!a)
				goto nomem;
			if (f->id == MF_NW_TTL) {
				a->hlim = k->nw_ttl;
				a->hlim_mask = 0xff;
			} else {
				a->tc = (uint8_t)((a->tc & ~m[0]) | (k->nw_tos & m[0]));
				a->tc_mask |= m[0];
			}
			return;
		}
		break;
	case MF_IPV6_SRC:
	case MF_IPV6_DST:
	case MF_IPV6_LABEL: {
		struct dpact_set_ipv6 *a;

		if (!v6)
			break;
		a = dpact_put_merge(b, DPACT_SET_IPV6);
		if (!a)
			goto nomem;
		if (f->id == MF_IPV6_SRC) {
			memcpy(a->src, k->ipv6_src, 16);
			memset(a->src_mask, 0xff, 16);
		} else if (f->id == MF_IPV6_DST) {
			memcpy(a->dst, k->ipv6_dst, 16);
			memset(a->dst_mask, 0xff, 16);
		} else {
			a->label = k->ipv6_label;
			a->label_mask = __builtin_bswap32(0xfffff);
		}
		return;
	}
	case MF_TCP_SRC: case MF_TCP_DST:
	case MF_UDP_SRC: case MF_UDP_DST:
	case MF_SCTP_SRC: case MF_SCTP_DST: {
		struct dpact_set_l4 *a;

		if (!v4 && !v6)
			break;
		a = dpact_put_merge(b, DPACT_SET_L4_PORTS);
		if (!a)
			goto nomem;
		a->proto = k->nw_proto;
		if (f->id == MF_TCP_SRC || f->id == MF_UDP_SRC || f->id == MF_SCTP_SRC) {
			a->src = k->tp_src;
			a->src_mask = UINT16_MAX;
		} else {
			a->dst = k->tp_dst;
			a->dst_mask = UINT16_MAX;
		}
		return;
	}
	case MF_VLAN_TCI:
	case MF_VLAN_VID:
	case MF_VLAN_PCP: {
		struct dpact_vlan *a;
		uint16_t mask = (uint16_t)(m[0] << 8 | m[1]);	/* member is network order */

		if (!(k->vlan_tci & __builtin_bswap16(FLOW_VLAN_PRESENT)))
			break;
		a = dpact_put_merge(b, DPACT_SET_VLAN);
		if (!a)
			goto nomem;
		mask &= (uint16_t)~FLOW_VLAN_PRESENT;
		a->mask |= __builtin_bswap16(mask);
		a->tci = (uint16_t)((a->tci & ~__builtin_bswap16(mask)) |
				    (k->vlan_tci & __builtin_bswap16(mask)));
		return;
	}
	case MF_MPLS_LABEL:
	case MF_MPLS_TC:
	case MF_MPLS_TTL: {
		struct dpact_set_mpls *a = dpact_put_merge(b, DPACT_SET_MPLS);
		uint32_t mm;

		if (!a)
			goto nomem;
		memcpy(&mm, m, 4);	/* member bytes: the LSE in network order */
		a->mask |= mm;
		a->lse = (a->lse & ~mm) | (k->mpls_lse[0] & mm);
		return;
	}
	default:
		if (f->id >= MF_REG0 || f->id == MF_METADATA)
			return;		/* pipeline-only metadata */
		/* Tunnel metadata: read when an output to a tunnel port
		 * is compiled (tnl_output). */
		if (f->id == MF_TUN_ID || f->id == MF_TUN_SRC || f->id == MF_TUN_DST ||
		    f->id == MF_TUN_IPV6_SRC || f->id == MF_TUN_IPV6_DST ||
		    f->id == MF_TUN_TOS || f->id == MF_TUN_TTL || f->id == MF_TUN_OPTS)
			return;
		break;
	}
	TRACE_NOTE(x, "set_field:%s: the datapath cannot rewrite this here; dropped", f->name);
	set_drop(x, XLATE_DROP_UNSUPPORTED);
	x->exit = true;
	return;
nomem:
	set_drop(x, XLATE_DROP_NO_MEMORY);
	x->exit = true;
}

static void do_set_field(struct xctx *x, const struct ofpact_set_field *sf)
{
	const struct mf_field *f = &mf_fields[sf->field];

	mf_write(f, sf->value, sf->mask, &x->key);
	emit_set(x, f);
}

static void do_move(struct xctx *x, const struct ofpact_move *mv)
{
	const struct mf_field *src = &mf_fields[mv->src], *dst = &mf_fields[mv->dst];
	uint8_t sv[MF_MAX_BYTES], sbe[MF_MAX_BYTES], dbe[MF_MAX_BYTES], dv[MF_MAX_BYTES];
	uint8_t dm_be[MF_MAX_BYTES] = { 0 }, dm[MF_MAX_BYTES];

	/* The result depends on the source bits: un-wildcard the source. */
	wc_field(x, mv->src);
	mf_get(src, &x->key, sv);
	mf_member_to_be(src, sv, sbe);
	mf_get(dst, &x->key, dv);
	mf_member_to_be(dst, dv, dbe);
	/* Bit i of the BE view is byte (n-1-i/8), bit i%8. */
	for (unsigned i = 0; i < mv->n_bits; i++) {
		unsigned s = mv->src_ofs + i, d = mv->dst_ofs + i;
		unsigned sb = src->n_bytes - 1 - s / 8, db = dst->n_bytes - 1 - d / 8;
		bool bit = sbe[sb] >> (s % 8) & 1;

		dbe[db] = (uint8_t)((dbe[db] & ~(1u << (d % 8))) | (unsigned)bit << (d % 8));
		dm_be[db] |= (uint8_t)(1u << (d % 8));
	}
	mf_be_to_member(dst, dbe, dv);
	mf_be_to_member(dst, dm_be, dm);
	mf_write(dst, dv, dm, &x->key);
	emit_set(x, dst);
}

static void lookup_table(struct xctx *x, uint8_t table);

/*
 * ct(): the datapath does the tracking per packet (DPACT_CT); here the zone
 * is resolved (a zone from a register makes the megaflow match that
 * register) and ct(table=N) adds a RECIRC carrying the registers and
 * metadata the second pass starts with — so the megaflow matches all of them
 * (they are zero on a packet's first pass, so this costs no megaflows there).
 * The working key continues untracked, as OVS's does. -ENOMEM or 0.
 */
static int do_ct(struct xctx *x, const struct ofpact_ct *oc)
{
	struct dpact_ct *d = dpact_put(&x->out->acts, DPACT_CT);
	struct dpact_recirc *r;

	if (!d)
		return -ENOMEM;
	d->ct = oc->ct;
	if (oc->zone_field < MF_N_IDS) {
		const struct mf_field *f = &mf_fields[oc->zone_field];
		uint8_t v[MF_MAX_BYTES], be[MF_MAX_BYTES];
		uint64_t z = 0;

		wc_field(x, (enum mf_id)oc->zone_field);
		mf_get(f, &x->key, v);
		mf_member_to_be(f, v, be);
		for (unsigned i = 0; i < f->n_bytes; i++)
			z = z << 8 | be[i];
		d->ct.zone = (uint16_t)((z >> oc->zone_ofs) & ((1u << oc->zone_bits) - 1));
	}
	/* Only a recirculation reads the verdict, and only nat the key's
	 * addresses (dpact_writes_keys). */
	if (oc->table == OFPACT_CT_NO_TABLE && !(d->ct.flags & CT_F_NAT))
		d->ct.flags |= CT_F_NO_KEY;
	TRACE_NOTE(x, "ct: zone %u%s%s", d->ct.zone, d->ct.flags & CT_F_COMMIT ? ", commit" : "",
		   d->ct.flags & CT_F_NAT ? ", nat" : "");
	if (oc->table == OFPACT_CT_NO_TABLE)
		return 0;
	r = dpact_put(&x->out->acts, DPACT_RECIRC);
	if (!r)
		return -ENOMEM;
	r->table = oc->table;
	r->metadata = x->key.metadata;
	memcpy(r->regs, x->key.regs, sizeof(r->regs));
	wc_field(x, MF_METADATA);
	for (int i = 0; i < FLOW_N_REGS; i++)
		wc_field(x, (enum mf_id)(MF_REG0 + i));
	TRACE_NOTE(x, "recirculate: the packet continues in table %u, recirc_id 0x%x, with its ct fields",
		   oc->table, oc->table + 1u);
	return 0;
}

static void do_actions(struct xctx *x, const struct rule *rule, uint8_t table)
{
	const struct rule_actions *ra = rcu_dereference(rule->actions);

	OFPACT_FOREACH(a, ra->data, ra->len) {
		if (x->exit)
			return;
		switch (a->type) {
		case OFPACT_OUTPUT:
			do_output(x, ((const struct ofpact_output *)a)->port);
			break;
		case OFPACT_SET_FIELD:
			do_set_field(x, (const void *)a);
			break;
		case OFPACT_MOVE:
			do_move(x, (const void *)a);
			break;
		case OFPACT_PUSH_VLAN: {
			struct dpact_vlan *v = dpact_put(&x->out->acts, DPACT_PUSH_VLAN);

			if (!v)
				goto nomem;
			v->tpid = ((const struct ofpact_ethertype *)a)->ethertype;
			/* OpenFlow: the new tag copies the old one's TCI, or 0. */
			v->tci = x->key.vlan_tci & __builtin_bswap16((uint16_t)~FLOW_VLAN_PRESENT);
			wc_field(x, MF_VLAN_TCI);
			x->key.vlan_tci2 = x->key.vlan_tci;
			x->key.vlan_tci = v->tci | __builtin_bswap16(FLOW_VLAN_PRESENT);
			break;
		}
		case OFPACT_POP_VLAN:
			if (!dpact_put(&x->out->acts, DPACT_POP_VLAN))
				goto nomem;
			x->key.vlan_tci = x->key.vlan_tci2;
			x->key.vlan_tci2 = 0;
			break;
		case OFPACT_PUSH_MPLS: {
			struct dpact_mpls *m = dpact_put(&x->out->acts, DPACT_PUSH_MPLS);
			uint16_t et = ((const struct ofpact_ethertype *)a)->ethertype;

			if (!m)
				goto nomem;
			m->ethertype = et;
			memmove(&x->key.mpls_lse[1], &x->key.mpls_lse[0],
				sizeof(x->key.mpls_lse) - sizeof(x->key.mpls_lse[0]));
			x->key.mpls_lse[0] = x->key.dl_type == __builtin_bswap16(0x8847) ||
					     x->key.dl_type == __builtin_bswap16(0x8848) ?
					     x->key.mpls_lse[1] & __builtin_bswap32(~0x100u) :
					     __builtin_bswap32(0x100u | x->key.nw_ttl);
			x->key.dl_type = __builtin_bswap16(et);
			break;
		}
		case OFPACT_POP_MPLS: {
			struct dpact_mpls *m = dpact_put(&x->out->acts, DPACT_POP_MPLS);
			uint16_t et = ((const struct ofpact_ethertype *)a)->ethertype;

			if (!m)
				goto nomem;
			m->ethertype = et;
			memmove(&x->key.mpls_lse[0], &x->key.mpls_lse[1],
				sizeof(x->key.mpls_lse) - sizeof(x->key.mpls_lse[0]));
			x->key.mpls_lse[FLOW_MAX_MPLS - 1] = 0;
			x->key.dl_type = __builtin_bswap16(et);
			break;
		}
		case OFPACT_DEC_TTL:
			if (!dpact_put(&x->out->acts, DPACT_DEC_TTL))
				goto nomem;
			if (x->key.nw_ttl)
				x->key.nw_ttl--;
			break;
		case OFPACT_DEC_MPLS_TTL:
			if (!dpact_put(&x->out->acts, DPACT_DEC_MPLS_TTL))
				goto nomem;
			break;
		case OFPACT_GROUP: {
			struct dpact_id *g = dpact_put(&x->out->acts, DPACT_GROUP);

			if (!g)
				goto nomem;
			/* Select groups hash each packet's own 5-tuple at
			 * execution, so the megaflow need not match it. */
			g->id = ((const struct ofpact_id *)a)->id;
			break;
		}
		case OFPACT_METER: {
			struct dpact_id *m = dpact_put(&x->out->acts, DPACT_METER);

			if (!m)
				goto nomem;
			m->id = ((const struct ofpact_id *)a)->id;
			break;
		}
		case OFPACT_WRITE_METADATA: {
			const struct ofpact_metadata *md = (const void *)a;

			x->key.metadata = (x->key.metadata & ~md->mask) | (md->value & md->mask);
			break;
		}
		case OFPACT_RESUBMIT: {
			const struct ofpact_resubmit *r = (const void *)a;
			uint8_t t = r->table == OFPTT_CURRENT ? table : r->table;
			uint32_t saved = x->key.in_port;

			if (r->in_port != OFPP_IN_PORT)
				x->key.in_port = r->in_port;
			x->depth++;
			lookup_table(x, t);
			x->depth--;
			x->key.in_port = saved;
			break;
		}
		case OFPACT_GOTO_TABLE:
			lookup_table(x, ((const struct ofpact_goto *)a)->table);
			return;
		case OFPACT_ROUTE: {
			const struct ofpact_route *r = (const void *)a;
			struct dpact_id *d = dpact_put(&x->out->acts, DPACT_ROUTE);

			if (!d)
				goto nomem;
			d->id = r->vrf;
			if (r->vrf_field != OFPACT_ROUTE_LITERAL) {
				const struct mf_field *f = &mf_fields[r->vrf_field];
				uint8_t v[MF_MAX_BYTES] = { 0 };
				uint64_t val = 0;

				/* The VRF comes from the key: the megaflow must
				 * match those bits, and nothing else routing reads
				 * (the LPM runs per packet in the datapath). */
				wc_field(x, f->id);
				mf_get(f, &x->key, v);
				memcpy(&val, v, MIN(sizeof(val), (size_t)f->n_bytes));
				d->id = val > UINT32_MAX ? UINT32_MAX : (uint32_t)val;
			}
			TRACE_NOTE(x, "route in vrf %u", d->id);
			break;
		}
		case OFPACT_CT:
			if (do_ct(x, (const void *)a))
				goto nomem;
			break;
		case OFPACT_CT_CLEAR:
			if (!dpact_put(&x->out->acts, DPACT_CT_CLEAR))
				goto nomem;
			ct_clear_key(&x->key);
			break;
		case OFPACT_NOTE:
		default:
			break;
		}
	}
	return;
nomem:
	set_drop(x, XLATE_DROP_NO_MEMORY);
	x->exit = true;
}

static void lookup_table(struct xctx *x, uint8_t table)
{
	const struct cls_rule *cr;
	struct rule *rule;

	if (++x->n_resubmits > XLATE_MAX_RESUBMITS) {
		TRACE_NOTE(x, "over %d resubmits/goto_tables: dropped", XLATE_MAX_RESUBMITS);
		set_drop(x, XLATE_DROP_TOO_DEEP);
		x->exit = true;
		return;
	}
	cr = table < DP_N_TABLES ? cls_lookup(&dp_tables[table], &x->key, &x->out->wc) : NULL;
	rule = cr ? container_of(cr, struct rule, cr) : NULL;
	if (unlikely(x->out->trace))
		x->out->trace->lookup(x->out->trace_aux, x->depth, table, &x->key, rule);
	if (!rule) {
		/* A miss in a resubmitted-to table just returns (OVS); a miss
		 * of the pipeline proper ends it: OpenFlow 1.3 drops. */
		if (x->depth == 0) {
			set_drop(x, XLATE_DROP_TABLE_MISS);
			x->exit = true;
		}
		return;
	}
	if (x->out->n_rules < XLATE_MAX_RULES)
		x->out->rules[x->out->n_rules++] = rule;
	do_actions(x, rule, table);
}

int xlate(const struct flow_key *key, struct xlate_out *out)
{
	struct xctx x = { .out = out };

	/* Read the version before the tables: a decision made on tables at
	 * least this new is never marked newer than it is (dp_tables_changed
	 * publishes the tables before it bumps the version). */
	out->version = __atomic_load_n(&dp_version, __ATOMIC_ACQUIRE);
	x.conf = rcu_dereference(dp_conf_rcu);
	x.key = *key;
	memset(&out->wc, 0, sizeof(out->wc));
	/* Always part of a megaflow: the port (outputs exclude it) and the
	 * recirculation id (a recirculated packet is another pipeline pass). */
	wc_field(&x, MF_IN_PORT);
	out->wc.recirc_id = UINT32_MAX;
	/* A recirculated packet resumes where its ct(table=N) sent it. */
	lookup_table(&x, key->recirc_id ? (uint8_t)(key->recirc_id - 1) : 0);
	if (out->drop == XLATE_DROP_NO_MEMORY)
		return -ENOMEM;
	/* A pipeline that ended in a drop reason still installs its drop
	 * megaflow: empty actions (whatever was emitted before a hard stop is
	 * discarded, so a half-translated packet never leaves). */
	if (x.exit)
		out->acts.len = 0;
	dpact_finalize(&out->acts);
	out->final = x.key;
	return 0;
}

/*
 * A group bucket's actions, compiled without a packet (group_compile_fn):
 * outputs, rewrites the datapath can do knowing only the field's own
 * protocol, VLAN/MPLS push and pop, TTL, nested groups. Anything needing the
 * packet's flow (in_port, normal, flood, resubmit, goto_table, moves, L4
 * port rewrites whose protocol is unknown) is refused, so add-group fails
 * with a clear error rather than compile something wrong.
 */
int xlate_bucket(const void *ofpacts, size_t len, struct dpact_buf *out)
{
	struct xlate_out xo = { .acts = *out };
	struct xctx x = { .out = &xo };
	int rc = 0;

	x.conf = rcu_dereference(dp_conf_rcu);
	OFPACT_FOREACH(a, ofpacts, len) {
		switch (a->type) {
		case OFPACT_OUTPUT: {
			uint16_t port = ((const struct ofpact_output *)a)->port;

			if (port >= PORT_MAX) {
				rc = -EOPNOTSUPP;
				goto out;
			}
			put_output(&x, port);
			break;
		}
		case OFPACT_SET_FIELD: {
			const struct ofpact_set_field *sf = (const void *)a;
			const struct mf_field *f = &mf_fields[sf->field];

			/* Give the key the field's own protocol, so emit_set
			 * picks the right header. */
			if (f->prereq == MFP_IPV4 || f->prereq == MFP_IP_ANY)
				x.key.dl_type = __builtin_bswap16(ETH_P_IP);
			else if (f->prereq == MFP_IPV6)
				x.key.dl_type = __builtin_bswap16(ETH_P_IPV6);
			else if (f->prereq == MFP_VLAN)
				x.key.vlan_tci = __builtin_bswap16(FLOW_VLAN_PRESENT);
			else if (f->prereq != MFP_NONE && f->prereq != MFP_MPLS) {
				rc = -EOPNOTSUPP;
				goto out;
			}
			do_set_field(&x, sf);
			break;
		}
		case OFPACT_PUSH_VLAN: case OFPACT_POP_VLAN:
		case OFPACT_PUSH_MPLS: case OFPACT_POP_MPLS:
		case OFPACT_DEC_TTL: case OFPACT_DEC_MPLS_TTL:
		case OFPACT_GROUP: case OFPACT_METER: case OFPACT_NOTE: {
			/* The same code as in a rule; none of these reads the
			 * lookup context. */
			struct rule_actions *ra = malloc(sizeof(*ra) + a->len);
			struct rule r = { 0 };

			if (!ra) {
				rc = -ENOMEM;
				goto out;
			}
			ra->len = a->len;
			memcpy(ra->data, a, a->len);
			r.actions = ra;
			do_actions(&x, &r, 0);
			free(ra);
			break;
		}
		default:
			rc = -EOPNOTSUPP;
			goto out;
		}
		if (x.exit) {
			rc = xo.drop == XLATE_DROP_NO_MEMORY ? -ENOMEM : -EOPNOTSUPP;
			goto out;
		}
	}
out:
	*out = xo.acts;
	return rc;
}
