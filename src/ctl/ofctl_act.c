/*
 * The ovs-ofctl action syntax into ofpacts, and the group and meter syntax.
 *
 * Validation happens here, while the text is at hand to quote: field widths,
 * sub-field ranges, read-only fields, prerequisites of the fields an action
 * writes (against the flow's match, updated for push_mpls/pop_mpls/push_vlan
 * along the list), ports, and goto_table ordering.
 */
/* GCC's -O3 loop versioning reports writes past 16-byte buffers in loops
 * bounded by a field's n_bytes (at most 16) — false positives; the
 * sanitizer builds and the fuzzer check these bounds for real. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <arpa/inet.h>

#include "ofctl_priv.h"

struct aparse {
	struct flow_match m;	/* the match, as the actions so far leave the packet */
	uint8_t table;
	ofctl_port_lookup_fn *lookup;
	void *aux;
	struct ofpbuf *out;
	struct perr *e;
	bool saw_drop, saw_goto;
	size_t last_set_field;	/* offset of the last SET_FIELD record, or SIZE_MAX */
};

#define PUT(ap, T, type) ((struct T *)ofpbuf_put((ap)->out, (type), sizeof(struct T)))

static int nomem(struct aparse *ap)
{
	return perr_set(ap->e, ENOMEM, "out of memory");
}

/* Can an action write f, given what the match (as modified so far) pins? */
static int check_write(struct aparse *ap, const struct mf_field *f, const char *what)
{
	if (!f->writable)
		return perr_set(ap->e, EPERM, "%s: %s is read-only", what, f->name);
	/* A VLAN field write pushes a tag when there is none (mod_vlan_vid). */
	if (f->prereq == MFP_VLAN || mf_prereq_ok(&ap->m, f->prereq))
		return 0;
	if ((f->id == MF_ICMP_TYPE || f->id == MF_ICMP_CODE) && mf_prereq_ok(&ap->m, MFP_ICMPV6))
		return 0;
	return perr_set(ap->e, EINVAL, "%s: writing %s requires the match to have %s", what, f->name,
			mf_prereq_string(f->prereq));
}

static int check_read(struct aparse *ap, const struct mf_field *f, const char *what)
{
	if (mf_prereq_ok(&ap->m, f->prereq) || f->prereq == MFP_VLAN)
		return 0;
	return perr_set(ap->e, EINVAL, "%s: reading %s requires the match to have %s", what, f->name,
			mf_prereq_string(f->prereq));
}

/* One record per write; back-to-back writes of one field become one record
 * (the later wins where they overlap), so "load:..->f[0..63],load:..->f[64..127]"
 * and "set_field:..->f" give the same actions. */
static int put_set_field(struct aparse *ap, const struct mf_field *f, const uint8_t *v,
			 const uint8_t *m)
{
	struct ofpact_set_field *sf = NULL;

	if (ap->last_set_field != SIZE_MAX && ap->last_set_field + sizeof(*sf) == ap->out->len) {
		sf = (struct ofpact_set_field *)(void *)(ap->out->data + ap->last_set_field);
		if (sf->field != f->id)
			sf = NULL;
	}
	if (sf) {
		for (size_t i = 0; i < f->n_bytes; i++) {
			sf->value[i] = (uint8_t)((sf->value[i] & ~m[i]) | (v[i] & m[i]));
			sf->mask[i] |= m[i];
		}
		return 0;
	}
	ap->last_set_field = ap->out->len;
	sf = PUT(ap, ofpact_set_field, OFPACT_SET_FIELD);
	if (!sf)
		return nomem(ap);
	sf->field = (uint16_t)f->id;
	memcpy(sf->value, v, f->n_bytes);
	memcpy(sf->mask, m, f->n_bytes);
	for (size_t i = 0; i < f->n_bytes; i++)
		sf->value[i] &= sf->mask[i];
	return 0;
}

/* mod_*, set_mpls_*, set_tunnel: a whole-field set_field. */
static int parse_mod(struct aparse *ap, const char *act, const struct mf_field *f, char *val)
{
	uint8_t v[MF_MAX_BYTES], m[MF_MAX_BYTES];
	int r;

	if ((r = check_write(ap, f, act)))
		return r;
	if ((r = ofctl_parse_field(f, val, false, ap->lookup, ap->aux, v, m, ap->e)))
		return r;
	return put_set_field(ap, f, v, m);
}

/* The L4 port field mod_tp_src/mod_tp_dst means, from the match's protocol. */
static const struct mf_field *tp_field(struct aparse *ap, bool src)
{
	const struct flow_match *m = &ap->m;

	if (mf_prereq_ok(m, MFP_UDP))
		return &mf_fields[src ? MF_UDP_SRC : MF_UDP_DST];
	if (mf_prereq_ok(m, MFP_SCTP))
		return &mf_fields[src ? MF_SCTP_SRC : MF_SCTP_DST];
	return &mf_fields[src ? MF_TCP_SRC : MF_TCP_DST];
}

static int parse_set_field(struct aparse *ap, char *arg)
{
	char *arrow = strstr(arg, "->"), *dst;
	const struct mf_field *f;
	uint8_t v[MF_MAX_BYTES], m[MF_MAX_BYTES];
	int r;

	if (!arrow)
		return perr_set(ap->e, EINVAL, "set_field:%s: missing -> (set_field:VALUE->FIELD)", arg);
	*arrow = '\0';
	dst = arrow + 2;
	{
		size_t n = strlen(dst);

		if (n > 2 && !strcmp(dst + n - 2, "[]"))
			dst[n - 2] = '\0';
	}
	f = ofctl_field_from_name(dst);
	if (!f)
		return perr_set(ap->e, EINVAL, "set_field: unknown field %s", dst);
	if ((r = check_write(ap, f, "set_field")))
		return r;
	if (f->id == MF_IP_DSCP) {	/* the same bits as nw_tos: one spelling */
		uint64_t d;

		if (ofctl_parse_u64(arg, 63, &d))
			return perr_set(ap->e, EINVAL, "%s: invalid ip_dscp (0-63)", arg);
		v[0] = (uint8_t)(d << 2);
		m[0] = 0xfc;
		return put_set_field(ap, &mf_fields[MF_IP_TOS], v, m);
	}
	if (f->id == MF_VLAN_VID && !strcmp(dst, "vlan_vid")) {
		/* OXM's vlan_vid carries the present bit (0x1000) as OVS prints
		 * it ("set_field:4101->vlan_vid"); the tag is implied here. */
		uint64_t vid;

		if (ofctl_parse_u64(arg, 0x1fff, &vid))
			return perr_set(ap->e, EINVAL, "%s: invalid vlan_vid (0-4095, or | 0x1000)", arg);
		snprintf(arg, strlen(arg) + 1, "%u", (unsigned)(vid & 0x0fff));
	}
	if ((r = ofctl_parse_field(f, arg, true, ap->lookup, ap->aux, v, m, ap->e)))
		return r;
	if (be_is_zero(m, f->n_bytes))
		return perr_set(ap->e, EINVAL, "set_field:%s->%s: the mask is zero", arg, dst);
	return put_set_field(ap, f, v, m);
}

static int parse_load(struct aparse *ap, char *arg)
{
	char *arrow = strstr(arg, "->");
	const struct mf_field *f;
	unsigned ofs, n_bits;
	uint8_t be[MF_MAX_BYTES], bm[MF_MAX_BYTES], v[MF_MAX_BYTES], m[MF_MAX_BYTES];
	int r;

	if (!arrow)
		return perr_set(ap->e, EINVAL, "load:%s: missing -> (load:VALUE->FIELD[a..b])", arg);
	*arrow = '\0';
	if ((r = ofctl_parse_subfield(arrow + 2, false, &f, &ofs, &n_bits, ap->e)))
		return r;
	if ((r = check_write(ap, f, "load")))
		return r;
	r = ofctl_parse_be(arg, be, f->n_bytes);
	if (r == -EINVAL)
		return perr_set(ap->e, EINVAL, "load:%s: invalid value", arg);
	if (r || !be_fits(be, f->n_bytes, n_bits))
		return perr_set(ap->e, ERANGE, "%s->%s: value %s does not fit into %u bits", arg,
				arrow + 2, arg, n_bits);
	mf_be_shl(be, f->n_bytes, ofs);
	mf_be_range(bm, f->n_bytes, ofs, n_bits);
	mf_be_to_member(f, be, v);
	mf_be_to_member(f, bm, m);
	return put_set_field(ap, f, v, m);
}

static int parse_move(struct aparse *ap, char *arg)
{
	char *arrow = strstr(arg, "->");
	const struct mf_field *sf, *df;
	unsigned so, sn, dof, dn;
	struct ofpact_move *mv;
	int r;

	if (!arrow)
		return perr_set(ap->e, EINVAL, "move:%s: missing -> (move:SRC[a..b]->DST[c..d])", arg);
	*arrow = '\0';
	if ((r = ofctl_parse_subfield(arg, false, &sf, &so, &sn, ap->e)) ||
	    (r = ofctl_parse_subfield(arrow + 2, false, &df, &dof, &dn, ap->e)))
		return r;
	if (sn != dn)
		return perr_set(ap->e, EINVAL,
				"%s->%s: source field is %u bits wide but destination is %u bits wide",
				arg, arrow + 2, sn, dn);
	if ((r = check_read(ap, sf, "move")) || (r = check_write(ap, df, "move")))
		return r;
	mv = PUT(ap, ofpact_move, OFPACT_MOVE);
	if (!mv)
		return nomem(ap);
	mv->src = (uint16_t)sf->id;
	mv->dst = (uint16_t)df->id;
	mv->src_ofs = (uint16_t)so;
	mv->dst_ofs = (uint16_t)dof;
	mv->n_bits = (uint16_t)sn;
	return 0;
}

static int put_output(struct aparse *ap, uint16_t port, uint16_t max_len)
{
	struct ofpact_output *o = PUT(ap, ofpact_output, OFPACT_OUTPUT);

	if (!o)
		return nomem(ap);
	o->port = port;
	o->max_len = max_len;
	return 0;
}

static int parse_controller(struct aparse *ap, char *arg)
{
	uint64_t n = UINT16_MAX;
	char *pos = arg, *k, *v;

	if (*arg && ofctl_parse_u64(arg, UINT16_MAX, &n) == 0)
		return put_output(ap, OFPP_CONTROLLER, (uint16_t)n);
	while (ofctl_next_kv(&pos, &k, &v)) {
		if (strcmp(k, "max_len") || ofctl_parse_u64(v, UINT16_MAX, &n))
			return perr_set(ap->e, EINVAL, "controller: %s%s%s: unsupported (max_len=N only)",
					k, *v ? "=" : "", v);
	}
	return put_output(ap, OFPP_CONTROLLER, (uint16_t)n);
}

/* "resubmit:PORT", "resubmit(PORT)", "resubmit(PORT,TABLE)", "resubmit(,TABLE)":
 * a comma is only possible in the parenthesised form. */
static int parse_resubmit(struct aparse *ap, char *arg)
{
	struct ofpact_resubmit *rs;
	uint16_t port = OFPP_IN_PORT;
	unsigned table = OFPTT_CURRENT;
	char *comma = strchr(arg, ',');

	if (comma) {
		uint64_t n;

		*comma = '\0';
		if (*(comma + 1) && ofctl_parse_u64(comma + 1, OFP_MAX_TABLES - 1, &n))
			return perr_set(ap->e, EINVAL, "resubmit: %s: invalid table (0-%d)", comma + 1,
					OFP_MAX_TABLES - 1);
		if (*(comma + 1))
			table = (unsigned)n;
	}
	if (*arg && ofctl_parse_port(arg, ap->lookup, ap->aux, &port))
		return perr_set(ap->e, ENOENT, "resubmit: %s: unknown port", arg);
	if (port == OFPP_IN_PORT && table == OFPTT_CURRENT)
		return perr_set(ap->e, EINVAL,
				"at least one \"in_port\" or \"table\" must be specified on resubmit");
	rs = PUT(ap, ofpact_resubmit, OFPACT_RESUBMIT);
	if (!rs)
		return nomem(ap);
	rs->in_port = port;
	rs->table = (uint8_t)table;
	return 0;
}

static int parse_ethertype(struct aparse *ap, const char *act, const char *v, enum ofpact_type t)
{
	struct ofpact_ethertype *et;
	uint64_t n;

	if (ofctl_parse_u64(v, UINT16_MAX, &n))
		return perr_set(ap->e, EINVAL, "%s:%s: invalid ethertype", act, v);
	if (t == OFPACT_PUSH_VLAN && n != ETH_P_8021Q && n != ETH_P_8021AD)
		return perr_set(ap->e, EINVAL, "%s:%s: ethertype must be 0x8100 or 0x88a8", act, v);
	if (t == OFPACT_PUSH_MPLS && n != ETH_P_MPLS && n != ETH_P_MPLSM)
		return perr_set(ap->e, EINVAL, "%s:%s: ethertype must be 0x8847 or 0x8848", act, v);
	if (t == OFPACT_POP_MPLS && (n == ETH_P_MPLS || n == ETH_P_MPLSM) &&
	    !mf_prereq_ok(&ap->m, MFP_MPLS))
		return perr_set(ap->e, EINVAL, "%s:%s: the packet is not MPLS here", act, v);
	if (t == OFPACT_POP_MPLS && !mf_prereq_ok(&ap->m, MFP_MPLS))
		return perr_set(ap->e, EINVAL, "%s: requires the match to have mpls or mplsm", act);
	et = PUT(ap, ofpact_ethertype, t);
	if (!et)
		return nomem(ap);
	et->ethertype = (uint16_t)n;
	/* What later actions may rely on. */
	if (t == OFPACT_PUSH_MPLS || t == OFPACT_POP_MPLS) {
		ap->m.key.dl_type = htons((uint16_t)n);
		ap->m.mask.dl_type = 0xffff;
		ap->m.key.nw_proto = ap->m.mask.nw_proto = 0;
	} else {
		ap->m.key.vlan_tci |= htons(FLOW_VLAN_PRESENT);
		ap->m.mask.vlan_tci |= htons(FLOW_VLAN_PRESENT);
	}
	return 0;
}

static int parse_note(struct aparse *ap, const char *v)
{
	uint8_t bytes[256];
	size_t n = 0;
	struct ofpact *a;

	while (*v) {
		int hi, lo;

		if (*v == '.') {
			v++;
			continue;
		}
		hi = v[0] >= '0' && v[0] <= '9' ? v[0] - '0' : (v[0] | 0x20) - 'a' + 10;
		lo = v[1] >= '0' && v[1] <= '9' ? v[1] - '0' : (v[1] | 0x20) - 'a' + 10;
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15 || n == sizeof(bytes))
			return perr_set(ap->e, EINVAL, "note: invalid hex bytes (note:00.11.22)");
		bytes[n++] = (uint8_t)(hi << 4 | lo);
		v += 2;
	}
	/* Layout: header, one byte of length, the bytes. */
	a = ofpbuf_put(ap->out, OFPACT_NOTE, sizeof(*a) + 1 + n);
	if (!a)
		return nomem(ap);
	((uint8_t *)(a + 1))[0] = (uint8_t)n;
	memcpy((uint8_t *)(a + 1) + 1, bytes, n);
	return 0;
}

/* route(vrf=N) or route(vrf=FIELD), FIELD a register or metadata. */
static int parse_route(struct aparse *ap, const char *v)
{
	struct ofpact_route *r;
	const struct mf_field *f = NULL;
	uint64_t n = 0;

	if (strncmp(v, "vrf=", 4))
		return perr_set(ap->e, EINVAL, "route(%s): expected route(vrf=N) or route(vrf=reg0)", v);
	v += 4;
	if (*v >= '0' && *v <= '9') {
		if (ofctl_parse_u64(v, 4095, &n))
			return perr_set(ap->e, EINVAL, "route(vrf=%s): VRF ids are 0-4095", v);
	} else {
		f = mf_from_name(v);
		if (!f || (f->id != MF_METADATA && (f->id < MF_REG0 || f->id > MF_REG15)))
			return perr_set(ap->e, EINVAL, "route(vrf=%s): the VRF is a number, a register or metadata", v);
	}
	r = PUT(ap, ofpact_route, OFPACT_ROUTE);
	if (!r)
		return nomem(ap);
	r->vrf_field = f ? (uint16_t)f->id : OFPACT_ROUTE_LITERAL;
	r->vrf = (uint32_t)n;
	return 0;
}

static const struct {
	const char *name;
	enum mf_id id;
} mods[] = {
	{ "mod_dl_src", MF_ETH_SRC }, { "mod_dl_dst", MF_ETH_DST },
	{ "mod_nw_src", MF_IPV4_SRC }, { "mod_nw_dst", MF_IPV4_DST },
	{ "mod_nw_tos", MF_IP_TOS }, { "mod_nw_ecn", MF_IP_ECN }, { "mod_nw_ttl", MF_NW_TTL },
	{ "mod_vlan_vid", MF_VLAN_VID }, { "mod_vlan_pcp", MF_VLAN_PCP },
	{ "set_mpls_label", MF_MPLS_LABEL }, { "set_mpls_tc", MF_MPLS_TC },
	{ "set_mpls_ttl", MF_MPLS_TTL }, { "set_tunnel", MF_TUN_ID }, { "set_tunnel64", MF_TUN_ID },
};

/* One end of a nat() range: an IPv4 address, or IPv6 (bracketed when a
 * port follows). */
static int parse_nat_addr(struct aparse *ap, char *s, uint8_t *out, bool *v6)
{
	size_t n = strlen(s);

	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		s[n - 1] = '\0';
		s++;
	}
	if (inet_pton(AF_INET, s, out) == 1) {
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*v6 = true;
		return 0;
	}
	return perr_set(ap->e, EINVAL, "nat: %s: invalid IP address", s);
}

/* nat(src=IP[-IP][:PORT[-PORT]]) or dst=..., plus persistent, hash, random. */
static int parse_nat(struct aparse *ap, char *v, struct ct_nat *nat)
{
	char *pos = v, *k, *val;
	int r;

	while (ofctl_next_kv(&pos, &k, &val)) {
		char *ports = NULL, *dash;
		bool v6a = false, v6b = false;

		if (!strcmp(k, "persistent")) {
			nat->flags |= CT_NAT_PERSISTENT;
			continue;
		}
		if (!strcmp(k, "hash")) {
			nat->flags |= CT_NAT_HASH;
			continue;
		}
		if (!strcmp(k, "random")) {
			nat->flags |= CT_NAT_RANDOM;
			continue;
		}
		if (strcmp(k, "src") && strcmp(k, "dst"))
			return perr_set(ap->e, EINVAL, "nat: unknown argument %s", k);
		if (nat->flags & (CT_NAT_SRC | CT_NAT_DST))
			return perr_set(ap->e, EINVAL, "nat: only one of src and dst");
		nat->flags |= k[0] == 's' ? CT_NAT_SRC : CT_NAT_DST;
		if (!*val)
			continue;
		/* IPv4 "a-b:p-q"; IPv6 "[a]-[b]:p-q" or bare "a-b". */
		if (val[0] == '[') {
			char *rb = strrchr(val, ']');

			if (rb && rb[1] == ':') {
				rb[1] = '\0';
				ports = rb + 2;
			}
		} else if (strchr(val, ':') == strrchr(val, ':') && strchr(val, ':')) {
			ports = strchr(val, ':');
			*ports++ = '\0';
		}
		dash = val[0] == '[' ? strstr(val, "]-") : strchr(val, '-');
		if (dash) {
			if (val[0] == '[')
				dash++;
			*dash++ = '\0';
		}
		if ((r = parse_nat_addr(ap, val, nat->addr_min, &v6a)))
			return r;
		if (dash) {
			if ((r = parse_nat_addr(ap, dash, nat->addr_max, &v6b)))
				return r;
			if (v6a != v6b)
				return perr_set(ap->e, EINVAL, "nat: a range of mixed address families");
			if (memcmp(nat->addr_min, nat->addr_max, 16) > 0)
				return perr_set(ap->e, EINVAL, "nat: address range ends below its start");
		} else {
			memcpy(nat->addr_max, nat->addr_min, 16);
		}
		nat->flags |= CT_NAT_ADDR | (v6a ? CT_NAT_V6 : 0);
		if (ports) {
			uint64_t lo, hi;
			char *pd = strchr(ports, '-');

			if (pd)
				*pd++ = '\0';
			if (ofctl_parse_u64(ports, 65535, &lo) || lo == 0 ||
			    (pd && ofctl_parse_u64(pd, 65535, &hi)))
				return perr_set(ap->e, EINVAL, "nat: %s: invalid port range", ports);
			if (!pd)
				hi = lo;
			if (hi < lo)
				return perr_set(ap->e, EINVAL, "nat: port range ends below its start");
			nat->port_min = (uint16_t)lo;
			nat->port_max = (uint16_t)hi;
			nat->flags |= CT_NAT_PORT;
		}
	}
	return 0;
}

/* exec(...) inside ct: only writes to ct_mark and ct_label. */
static int parse_ct_exec(struct aparse *ap, char *v, struct ct_action *ct)
{
	struct ofpbuf sub = { 0 };
	int r = ofctl_parse_actions__(v, &ap->m, ap->table, ap->lookup, ap->aux, &sub, ap->e);

	if (r)
		goto out;
	OFPACT_FOREACH(a, sub.data, sub.len) {
		const struct ofpact_set_field *sf = (const void *)a;

		if (a->type != OFPACT_SET_FIELD ||
		    (sf->field != MF_CT_MARK && sf->field != MF_CT_LABEL)) {
			r = perr_set(ap->e, EINVAL,
				     "ct: exec() may only set ct_mark and ct_label");
			goto out;
		}
		if (sf->field == MF_CT_MARK) {
			uint32_t val, m;

			memcpy(&val, sf->value, 4);
			memcpy(&m, sf->mask, 4);
			ct->mark = (ct->mark & ~m) | (val & m);
			ct->mark_mask |= m;
			ct->flags |= CT_F_MARK;
		} else {
			for (int i = 0; i < 16; i++) {
				ct->label[i] = (uint8_t)((ct->label[i] & ~sf->mask[i]) |
							 (sf->value[i] & sf->mask[i]));
				ct->label_mask[i] |= sf->mask[i];
			}
			ct->flags |= CT_F_LABEL;
		}
	}
out:
	ofpbuf_free(&sub);
	return r;
}

static int parse_ct(struct aparse *ap, char *v)
{
	struct ofpact_ct oc = { .zone_field = MF_N_IDS, .table = OFPACT_CT_NO_TABLE };
	struct ofpact_ct *out;
	char *pos = v, *k, *val;
	uint64_t n;
	int r;

	while (ofctl_next_kv(&pos, &k, &val)) {
		if (!strcmp(k, "commit")) {
			oc.ct.flags |= CT_F_COMMIT;
		} else if (!strcmp(k, "force")) {
			oc.ct.flags |= CT_F_FORCE;
		} else if (!strcmp(k, "table")) {
			if (ofctl_parse_u64(val, OFP_MAX_TABLES - 1, &n))
				return perr_set(ap->e, EINVAL, "ct: table=%s: invalid table (0-%d)",
						val, OFP_MAX_TABLES - 1);
			oc.table = (uint8_t)n;
		} else if (!strcmp(k, "zone")) {
			const struct mf_field *f;
			unsigned ofs, bits;

			if (!ofctl_parse_u64(val, 65535, &n)) {
				oc.ct.zone = (uint16_t)n;
				continue;
			}
			if (ofctl_parse_subfield(val, false, &f, &ofs, &bits, ap->e))
				return perr_set(ap->e, EINVAL,
						"ct: zone=%s: a number (0-65535) or a field[a..b]", val);
			if (bits > 16)
				return perr_set(ap->e, EINVAL, "ct: zone=%s: wider than 16 bits", val);
			if ((r = check_read(ap, f, "ct zone")))
				return r;
			oc.zone_field = (uint16_t)f->id;
			oc.zone_ofs = (uint8_t)ofs;
			oc.zone_bits = (uint8_t)bits;
		} else if (!strcmp(k, "exec")) {
			if ((r = parse_ct_exec(ap, val, &oc.ct)))
				return r;
		} else if (!strcmp(k, "nat")) {
			oc.ct.flags |= CT_F_NAT;
			if ((r = parse_nat(ap, val, &oc.ct.nat)))
				return r;
		} else if (!strcmp(k, "alg")) {
			return perr_set(ap->e, ENOTSUP, "ct: alg=%s: application helpers are not supported", val);
		} else {
			return perr_set(ap->e, EINVAL, "ct: unknown argument %s", k);
		}
	}
	if ((oc.ct.flags & (CT_F_MARK | CT_F_LABEL)) && !(oc.ct.flags & CT_F_COMMIT))
		return perr_set(ap->e, EINVAL, "ct: exec() needs commit");
	if ((oc.ct.flags & CT_F_FORCE) && !(oc.ct.flags & CT_F_COMMIT))
		return perr_set(ap->e, EINVAL, "ct: force needs commit");
	if ((oc.ct.nat.flags & (CT_NAT_SRC | CT_NAT_DST)) && !(oc.ct.flags & CT_F_COMMIT))
		return perr_set(ap->e, EINVAL, "ct: nat(src=|dst=) needs commit");
	out = PUT(ap, ofpact_ct, OFPACT_CT);
	if (!out)
		return nomem(ap);
	oc.h = out->h;
	*out = oc;
	return 0;
}

static int parse_one(struct aparse *ap, char *k, char *v)
{
	uint64_t n;
	uint16_t port;

	if (ap->saw_goto)
		return perr_set(ap->e, EINVAL, "%s: goto_table must be the last action", k);
	if (!strcmp(k, "drop")) {
		ap->saw_drop = true;
		return 0;
	}
	if (!strcmp(k, "output")) {
		if (!strncmp(v, "NXM_", 4) || !strncmp(v, "reg", 3) || strchr(v, '['))
			return perr_set(ap->e, ENOTSUP, "output:%s: output to a field is not supported", v);
		if (ofctl_parse_port(v, ap->lookup, ap->aux, &port) || port == OFPP_NONE)
			return perr_set(ap->e, ENOENT, "%s: output to unknown port", v);
		return put_output(ap, port, port == OFPP_CONTROLLER ? UINT16_MAX : 0);
	}
	if (!strcasecmp(k, "controller"))
		return parse_controller(ap, v);
	if (!strcmp(k, "set_field"))
		return parse_set_field(ap, v);
	if (!strcmp(k, "load"))
		return parse_load(ap, v);
	if (!strcmp(k, "move"))
		return parse_move(ap, v);
	if (!strcmp(k, "mod_tp_src") || !strcmp(k, "mod_tp_dst")) {
		const struct mf_field *f = tp_field(ap, k[7] == 's');

		if (!mf_prereq_ok(&ap->m, f->prereq))
			return perr_set(ap->e, EINVAL, "%s requires the match to have tcp, udp or sctp", k);
		return parse_mod(ap, k, f, v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(mods); i++)
		if (!strcmp(k, mods[i].name))
			return parse_mod(ap, k, &mf_fields[mods[i].id], v);
	if (!strcmp(k, "strip_vlan") || !strcmp(k, "pop_vlan"))
		return ofpbuf_put(ap->out, OFPACT_POP_VLAN, sizeof(struct ofpact)) ? 0 : nomem(ap);
	if (!strcmp(k, "push_vlan"))
		return parse_ethertype(ap, k, v, OFPACT_PUSH_VLAN);
	if (!strcmp(k, "push_mpls"))
		return parse_ethertype(ap, k, v, OFPACT_PUSH_MPLS);
	if (!strcmp(k, "pop_mpls"))
		return parse_ethertype(ap, k, v, OFPACT_POP_MPLS);
	if (!strcmp(k, "dec_ttl")) {
		if (*v)
			return perr_set(ap->e, ENOTSUP, "dec_ttl(%s): controller ids are not supported", v);
		return ofpbuf_put(ap->out, OFPACT_DEC_TTL, sizeof(struct ofpact)) ? 0 : nomem(ap);
	}
	if (!strcmp(k, "dec_mpls_ttl"))
		return ofpbuf_put(ap->out, OFPACT_DEC_MPLS_TTL, sizeof(struct ofpact)) ? 0 : nomem(ap);
	if (!strcmp(k, "group") || !strcmp(k, "meter")) {
		bool g = k[0] == 'g';
		struct ofpact_id *id;

		if (ofctl_parse_u64(v, g ? OFPG_MAX : OFPM_MAX, &n) || (!g && n == 0))
			return perr_set(ap->e, EINVAL, "%s:%s: invalid %s id", k, v, k);
		id = PUT(ap, ofpact_id, g ? OFPACT_GROUP : OFPACT_METER);
		if (!id)
			return nomem(ap);
		id->id = (uint32_t)n;
		return 0;
	}
	if (!strcmp(k, "resubmit"))
		return parse_resubmit(ap, v);
	if (!strcmp(k, "route"))
		return parse_route(ap, v);
	if (!strcmp(k, "goto_table")) {
		struct ofpact_goto *g;

		if (ofctl_parse_u64(v, OFP_MAX_TABLES - 1, &n))
			return perr_set(ap->e, EINVAL, "goto_table:%s: invalid table (0-%d)", v,
					OFP_MAX_TABLES - 1);
		if (n <= ap->table)
			return perr_set(ap->e, EINVAL,
					"goto_table:%s: must go to a later table than this flow's table %u",
					v, ap->table);
		g = PUT(ap, ofpact_goto, OFPACT_GOTO_TABLE);
		if (!g)
			return nomem(ap);
		g->table = (uint8_t)n;
		ap->saw_goto = true;
		return 0;
	}
	if (!strcmp(k, "write_metadata")) {
		struct ofpact_metadata *md;
		char *slash = strchr(v, '/');
		uint64_t mask = UINT64_MAX;

		if (slash)
			*slash = '\0';
		if (ofctl_parse_u64(v, UINT64_MAX, &n) ||
		    (slash && ofctl_parse_u64(slash + 1, UINT64_MAX, &mask)))
			return perr_set(ap->e, EINVAL, "write_metadata:%s: invalid value or mask", v);
		md = PUT(ap, ofpact_metadata, OFPACT_WRITE_METADATA);
		if (!md)
			return nomem(ap);
		md->value = n & mask;
		md->mask = mask;
		return 0;
	}
	if (!strcmp(k, "note"))
		return parse_note(ap, v);
	if (!strcmp(k, "ct"))
		return parse_ct(ap, v);
	if (!strcmp(k, "ct_clear"))
		return ofpbuf_put(ap->out, OFPACT_CT_CLEAR, sizeof(struct ofpact)) ? 0 : nomem(ap);
	/* A bare port: "2", "vm1", "NORMAL", "in_port". */
	if (!*v && !ofctl_parse_port(k, ap->lookup, ap->aux, &port) && port != OFPP_NONE)
		return put_output(ap, port, port == OFPP_CONTROLLER ? UINT16_MAX : 0);
	if (!*v)
		return perr_set(ap->e, EINVAL, "%s: unknown action or port", k);
	return perr_set(ap->e, EINVAL, "unknown action %s", k);
}

int ofctl_parse_actions__(char *s, const struct flow_match *m, uint8_t table,
			  ofctl_port_lookup_fn *lookup, void *aux, struct ofpbuf *out,
			  struct perr *e)
{
	struct aparse ap = { .m = *m, .table = table, .lookup = lookup, .aux = aux,
			     .out = out, .e = e, .last_set_field = SIZE_MAX };
	size_t start = out->len;
	char *pos = s, *k, *v;
	int r;

	while (ofctl_next_kv(&pos, &k, &v)) {
		if ((r = parse_one(&ap, k, v)))
			return r;
	}
	if (ap.saw_drop && out->len != start)
		return perr_set(e, EINVAL,
				"\"drop\" must not be accompanied by any other action or instruction");
	return 0;
}

/* ---- groups ---- */

static const char *const group_types[] = {
	[OFCTL_GT_ALL] = "all", [OFCTL_GT_SELECT] = "select",
	[OFCTL_GT_INDIRECT] = "indirect", [OFCTL_GT_FF] = "fast_failover",
};

const char *ofctl_group_type_name(enum ofctl_group_type t)
{
	return (unsigned)t < ARRAY_SIZE(group_types) ? group_types[t] : "?";
}

/* Split "…,bucket=…,bucket=…": returns the start of the next "bucket="
 * (terminating the current part) or NULL. */
static char *next_bucket(char *s)
{
	for (char *p = strstr(s, "bucket"); p; p = strstr(p + 1, "bucket")) {
		if ((p == s || p[-1] == ',' || p[-1] == ' ') && (p[6] == '=' || p[6] == ':')) {
			if (p != s)
				p[-1] = '\0';
			return p + 7;
		}
	}
	return NULL;
}

static bool bucket_kw(char **pos, const char *kw, char **val)
{
	size_t n = strlen(kw);
	char *p = *pos;

	if (strncmp(p, kw, n) || (p[n] != ':' && p[n] != '='))
		return false;
	*val = p + n + 1;
	p = *val + strcspn(*val, ", \t");
	if (*p)
		*p++ = '\0';
	*pos = p;
	return true;
}

static int parse_bucket(char *s, struct ofctl_bucket *b, enum ofctl_group_type type,
			ofctl_port_lookup_fn *lookup, void *aux, struct perr *e)
{
	struct flow_match any = { 0 };
	char *pos = s, *v;
	uint64_t n;

	b->weight = 1;
	b->watch_port = OFPP_NONE;
	b->watch_group = OFPG_ANY;
	/* Bucket parameters come first, then the actions (with or without
	 * "actions="), which run to the next bucket. */
	for (;;) {
		pos += strspn(pos, ", \t");
		if (bucket_kw(&pos, "weight", &v)) {
			if (ofctl_parse_u64(v, UINT16_MAX, &n))
				return perr_set(e, EINVAL, "weight:%s: invalid weight (0-65535)", v);
			b->weight = (uint16_t)n;
		} else if (bucket_kw(&pos, "watch_port", &v)) {
			if (ofctl_parse_port(v, lookup, aux, &b->watch_port))
				return perr_set(e, ENOENT, "watch_port:%s: unknown port", v);
		} else if (bucket_kw(&pos, "watch_group", &v)) {
			if (ofctl_parse_u64(v, OFPG_MAX, &n))
				return perr_set(e, EINVAL, "watch_group:%s: invalid group", v);
			b->watch_group = (uint32_t)n;
		} else if (bucket_kw(&pos, "bucket_id", &v)) {
			/* accepted; buckets are numbered by position */
		} else {
			if (!strncmp(pos, "actions=", 8) || !strncmp(pos, "actions:", 8))
				pos += 8;
			else if (!strncmp(pos, "action=", 7))
				pos += 7;
			break;
		}
	}
	if (type == OFCTL_GT_FF && b->watch_port == OFPP_NONE && b->watch_group == OFPG_ANY)
		return perr_set(e, EINVAL, "fast_failover buckets need watch_port or watch_group");
	return ofctl_parse_actions__(pos, &any, 0, lookup, aux, &b->actions, e);
}

int ofctl_parse_group(const char *str, enum ofctl_usage u, ofctl_port_lookup_fn *lookup,
		      void *aux, struct ofctl_group *g, char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	char *buf = strdup(str), *pos, *k, *v, *bucket;
	bool has_id = false, has_type = false;
	int r = 0;

	memset(g, 0, sizeof(*g));
	g->group_id = OFPG_ALL;
	if (!buf)
		return perr_set(&e, ENOMEM, "out of memory");
	bucket = next_bucket(buf);
	pos = buf;
	while (ofctl_next_kv(&pos, &k, &v)) {
		uint64_t n;

		if (!strcmp(k, "group_id")) {
			if (ofctl_parse_u64(v, OFPG_MAX, &n)) {
				r = perr_set(&e, EINVAL, "group_id=%s: invalid group id", v);
				goto out;
			}
			g->group_id = (uint32_t)n;
			has_id = true;
		} else if (!strcmp(k, "type")) {
			size_t i;

			for (i = 0; i < ARRAY_SIZE(group_types); i++)
				if (!strcmp(v, group_types[i]))
					break;
			if (i == ARRAY_SIZE(group_types)) {
				r = perr_set(&e, EINVAL,
					     "type=%s: unknown group type (all, select, indirect, fast_failover)", v);
				goto out;
			}
			g->type = (enum ofctl_group_type)i;
			has_type = true;
		} else if (!strcmp(k, "selection_method") && !strcmp(v, "hash")) {
			/* the only one we have: a 5-tuple hash */
		} else {
			r = perr_set(&e, EINVAL, "unknown keyword %s", k);
			goto out;
		}
	}
	if (u == OFCTL_ADD || u == OFCTL_MODIFY) {
		if (!has_id || !has_type) {
			r = perr_set(&e, EINVAL, "must specify group_id and type");
			goto out;
		}
	} else if (bucket || has_type) {
		r = perr_set(&e, EINVAL, "only group_id is allowed when deleting or dumping groups");
		goto out;
	}
	while (bucket) {
		char *cur = bucket;

		if (g->n_buckets == OFCTL_MAX_BUCKETS) {
			r = perr_set(&e, E2BIG, "too many buckets (at most %d)", OFCTL_MAX_BUCKETS);
			goto out;
		}
		bucket = next_bucket(cur);
		r = parse_bucket(cur, &g->buckets[g->n_buckets++], g->type, lookup, aux, &e);
		if (r)
			goto out;
	}
	if (g->type == OFCTL_GT_INDIRECT && (u == OFCTL_ADD || u == OFCTL_MODIFY) &&
	    g->n_buckets != 1)
		r = perr_set(&e, EINVAL, "indirect groups have exactly one bucket (%u given)",
			     g->n_buckets);
out:
	free(buf);
	if (r)
		ofctl_group_destroy(g);
	return r;
}

void ofctl_group_destroy(struct ofctl_group *g)
{
	for (unsigned i = 0; i < g->n_buckets; i++)
		ofpbuf_free(&g->buckets[i].actions);
	g->n_buckets = 0;
}

/* ---- meters ---- */

static int parse_band(char *s, struct ofctl_band *b, struct perr *e)
{
	char *pos = s, *k, *v;
	bool has_type = false, has_rate = false;
	uint64_t n;

	memset(b, 0, sizeof(*b));
	while (ofctl_next_kv(&pos, &k, &v)) {
		if (!strcmp(k, "type")) {
			if (!strcmp(v, "drop"))
				b->type = OFCTL_BAND_DROP;
			else if (!strcmp(v, "dscp_remark"))
				b->type = OFCTL_BAND_DSCP_REMARK;
			else
				return perr_set(e, EINVAL, "type=%s: unknown band type (drop, dscp_remark)", v);
			has_type = true;
		} else if (!strcmp(k, "rate") || !strcmp(k, "burst_size") || !strcmp(k, "prec_level")) {
			if (ofctl_parse_u64(v, k[0] == 'p' ? 63 : UINT32_MAX, &n))
				return perr_set(e, EINVAL, "%s=%s: invalid %s", k, v, k);
			if (k[0] == 'r') {
				if (!n)
					return perr_set(e, EINVAL, "rate=0: the rate must be positive");
				b->rate = (uint32_t)n;
				has_rate = true;
			} else if (k[0] == 'b') {
				b->burst_size = (uint32_t)n;
			} else {
				b->prec_level = (uint8_t)n;
			}
		} else {
			return perr_set(e, EINVAL, "unknown band keyword %s", k);
		}
	}
	if (!has_type || !has_rate)
		return perr_set(e, EINVAL, "a band needs type= and rate=");
	return 0;
}

static char *next_band(char *s)
{
	for (char *p = strstr(s, "band"); p; p = strstr(p + 1, "band")) {
		if ((p == s || p[-1] == ',' || p[-1] == ' ') && (p[4] == '=' || p[4] == ':')) {
			if (p != s)
				p[-1] = '\0';
			return p + 5;
		}
		if ((p == s || p[-1] == ',' || p[-1] == ' ') && !strncmp(p, "bands=", 6)) {
			if (p != s)
				p[-1] = '\0';
			return p + 6;
		}
	}
	return NULL;
}

int ofctl_parse_meter(const char *str, enum ofctl_usage u, struct ofctl_meter *mt,
		      char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	char *buf = strdup(str), *pos, *k, *v, *band;
	bool has_id = false;
	int r = 0;

	memset(mt, 0, sizeof(*mt));
	mt->meter_id = OFPM_ALL;
	if (!buf)
		return perr_set(&e, ENOMEM, "out of memory");
	band = next_band(buf);
	pos = buf;
	while (ofctl_next_kv(&pos, &k, &v)) {
		uint64_t n;

		if (!strcmp(k, "meter")) {
			if (!strcmp(v, "all")) {
				mt->meter_id = OFPM_ALL;
			} else if (ofctl_parse_u64(v, OFPM_MAX, &n) || !n) {
				r = perr_set(&e, EINVAL, "meter=%s: invalid meter id (1-%u)", v, OFPM_MAX);
				goto out;
			} else {
				mt->meter_id = (uint32_t)n;
			}
			has_id = true;
		} else if (!strcmp(k, "kbps")) {
			mt->flags |= OFCTL_MF_KBPS;
		} else if (!strcmp(k, "pktps")) {
			mt->flags |= OFCTL_MF_PKTPS;
		} else if (!strcmp(k, "burst")) {
			mt->flags |= OFCTL_MF_BURST;
		} else if (!strcmp(k, "stats")) {
			mt->flags |= OFCTL_MF_STATS;
		} else {
			r = perr_set(&e, EINVAL, "unknown keyword %s", k);
			goto out;
		}
	}
	if ((mt->flags & OFCTL_MF_KBPS) && (mt->flags & OFCTL_MF_PKTPS)) {
		r = perr_set(&e, EINVAL, "kbps and pktps are exclusive");
		goto out;
	}
	if (u == OFCTL_ADD || u == OFCTL_MODIFY) {
		if (!has_id || mt->meter_id == OFPM_ALL) {
			r = perr_set(&e, EINVAL, "must specify meter=N");
			goto out;
		}
		if (!(mt->flags & OFCTL_MF_PKTPS))
			mt->flags |= OFCTL_MF_KBPS;
		if (!band) {
			r = perr_set(&e, EINVAL, "must specify at least one band (band=type=drop,rate=N)");
			goto out;
		}
	} else if (band || mt->flags) {
		r = perr_set(&e, EINVAL, "only meter= is allowed when deleting or dumping meters");
		goto out;
	}
	while (band) {
		char *cur = band;

		if (mt->n_bands == OFCTL_MAX_BANDS) {
			r = perr_set(&e, E2BIG, "too many bands (at most %d)", OFCTL_MAX_BANDS);
			goto out;
		}
		band = next_band(cur);
		if ((r = parse_band(cur, &mt->bands[mt->n_bands++], &e)))
			goto out;
	}
out:
	free(buf);
	return r;
}
