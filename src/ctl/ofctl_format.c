/*
 * Flows, actions, groups and meters back into the ovs-ofctl syntax.
 *
 * The match is printed in the order of OVS's match_format (ct fields, the
 * protocol shorthand, registers, tunnel, metadata, in_port, VLAN, L2, L3,
 * L4), shared storage under the name that fits the protocol (arp_spa for ARP,
 * icmp_type for ICMP, nd_sll for ND), so the text reads like ovs-ofctl's and
 * parses back to the same match.
 */
/* GCC's -O3 loop versioning reports writes past 16-byte buffers in loops
 * bounded by a field's n_bytes (at most 16) — false positives; the
 * sanitizer builds and the fuzzer check these bounds for real. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>

#include "ofctl_priv.h"

/* ---- ds ---- */

static void ds_reserve(struct ds *ds, size_t extra)
{
	size_t cap;
	char *s;

	if (ds->len + extra + 1 <= ds->cap)
		return;
	cap = ds->cap ? ds->cap : 64;
	while (cap < ds->len + extra + 1)
		cap *= 2;
	s = realloc(ds->s, cap);
	if (!s)
		abort();	/* a control-path string; nothing sensible to do */
	ds->s = s;
	ds->cap = cap;
}

void ds_put_format(struct ds *ds, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	ds_reserve(ds, (size_t)n);
	if ((size_t)n < sizeof(buf)) {
		memcpy(ds->s + ds->len, buf, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(ds->s + ds->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	ds->len += (size_t)n;
}

void ds_put_cstr(struct ds *ds, const char *s)
{
	size_t n = strlen(s);

	ds_reserve(ds, n);
	memcpy(ds->s + ds->len, s, n + 1);
	ds->len += n;
}

void ds_put_char(struct ds *ds, char c)
{
	ds_reserve(ds, 1);
	ds->s[ds->len++] = c;
	ds->s[ds->len] = '\0';
}

const char *ds_cstr(struct ds *ds)
{
	return ds->s ? ds->s : "";
}

void ds_clear(struct ds *ds)
{
	ds->len = 0;
	if (ds->s)
		ds->s[0] = '\0';
}

void ds_destroy(struct ds *ds)
{
	free(ds->s);
	ds->s = NULL;
	ds->len = ds->cap = 0;
}

/* ---- values ---- */

void ofctl_format_port(struct ds *ds, uint16_t port, ofctl_port_name_fn *name, void *aux)
{
	static const char *const specials[] = {
		"IN_PORT", "TABLE", "NORMAL", "FLOOD", "ALL", "CONTROLLER", "LOCAL", "NONE",
	};
	const char *n;

	if (port >= OFPP_IN_PORT) {
		ds_put_cstr(ds, specials[port - OFPP_IN_PORT]);
		return;
	}
	n = name ? name(port, aux) : NULL;
	if (n)
		ds_put_cstr(ds, n);
	else
		ds_put_format(ds, "%u", port);
}

/* Hex of an n-byte BE integer without leading zeros ("0x0" for zero). */
static void put_hex(struct ds *ds, const uint8_t *be, size_t n)
{
	size_t i = 0;

	while (i < n - 1 && !be[i])
		i++;
	if (i == n - 1 && !be[i]) {
		ds_put_char(ds, '0');	/* as OVS's %#x */
		return;
	}
	ds_put_format(ds, "0x%x", be[i]);
	for (i++; i < n; i++)
		ds_put_format(ds, "%02x", be[i]);
}

static void put_mac(struct ds *ds, const uint8_t *m)
{
	ds_put_format(ds, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Length of a CIDR prefix mask, or -1. */
static int prefix_len(const uint8_t *m, size_t n)
{
	unsigned ofs, bits;

	if (be_is_zero(m, n))
		return 0;
	if (!be_contiguous(m, n, &ofs, &bits) || ofs + bits != 8 * n)
		return -1;
	return (int)bits;
}

static void put_flags(struct ds *ds, uint32_t v, uint32_t m, const char *const *names)
{
	for (unsigned b = 0; names[b]; b++)
		if (m & (1u << b))
			ds_put_format(ds, "%c%s", v & (1u << b) ? '+' : '-', names[b]);
}

static const char *const ct_names[] = { "new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat", NULL };
static const char *const tcp_names[] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", NULL };

void ofctl_format_field(struct ds *ds, const struct mf_field *f, const uint8_t *v,
			const uint8_t *m, ofctl_port_name_fn *name, void *aux)
{
	uint8_t bv[MF_MAX_BYTES], bm[MF_MAX_BYTES], full[MF_MAX_BYTES] = { 0 };
	size_t n = MIN((size_t)f->n_bytes, (size_t)MF_MAX_BYTES);
	bool exact;
	char buf[INET6_ADDRSTRLEN];

	mf_member_to_be(f, v, bv);
	mf_member_to_be(f, m, bm);
	mf_be_range(full, n, 0, f->n_bits);
	exact = !memcmp(bm, full, n);

	switch (f->string) {
	case MFS_DECIMAL:
		if (exact && n <= 8) {
			ds_put_format(ds, "%llu", (unsigned long long)be_to_u64(bv, n));
			return;
		}
		/* masked values read better in hex */
		/* fall through */
	case MFS_HEX:
		if (f->id == MF_IPV6_LABEL) {	/* OVS pads the 20 bits to 5 digits */
			ds_put_format(ds, "0x%05llx", (unsigned long long)be_to_u64(bv, n));
			if (!exact)
				ds_put_format(ds, "/0x%05llx", (unsigned long long)be_to_u64(bm, n));
			return;
		}
		put_hex(ds, bv, n);
		if (!exact) {
			ds_put_char(ds, '/');
			put_hex(ds, bm, n);
		}
		return;
	case MFS_ETHERNET:
		put_mac(ds, bv);
		if (!exact) {
			ds_put_char(ds, '/');
			put_mac(ds, bm);
		}
		return;
	case MFS_IPV4:
	case MFS_IPV6: {
		int af = f->string == MFS_IPV4 ? AF_INET : AF_INET6, len;

		inet_ntop(af, bv, buf, sizeof(buf));
		ds_put_cstr(ds, buf);
		if (exact)
			return;
		len = prefix_len(bm, n);
		if (len >= 0) {
			ds_put_format(ds, "/%d", len);
		} else {
			inet_ntop(af, bm, buf, sizeof(buf));
			ds_put_format(ds, "/%s", buf);
		}
		return;
	}
	case MFS_PORT:
		ofctl_format_port(ds, (uint16_t)be_to_u64(bv, n), name, aux);
		return;
	case MFS_CT_STATE:
	case MFS_TCP_FLAGS: {
		uint32_t fv = (uint32_t)be_to_u64(bv, n), fm = (uint32_t)be_to_u64(bm, n);
		uint32_t named = f->string == MFS_CT_STATE ? 0xff : 0x1ff;

		if (fm & ~named || !fm) {
			put_hex(ds, bv, n);
			ds_put_char(ds, '/');
			put_hex(ds, bm, n);
		} else {
			put_flags(ds, fv, fm, f->string == MFS_CT_STATE ? ct_names : tcp_names);
		}
		return;
	}
	case MFS_FRAG: {
		static const char *const names[4][4] = {
			/* [mask][value] */
			[1] = { [1] = "yes" },
			[2] = { [0] = "not_later" },
			[3] = { [0] = "no", [1] = "first", [3] = "later" },
		};
		const char *s = bm[0] < 4 && bv[0] < 4 ? names[bm[0]][bv[0]] : NULL;

		if (s)
			ds_put_cstr(ds, s);
		else
			ds_put_format(ds, "0x%x/0x%x", bv[0], bm[0]);
		return;
	}
	case MFS_TOS:
		ds_put_format(ds, "%u", (unsigned)bv[0] << 2);
		return;
	}
}

void ofctl_format_subfield(struct ds *ds, const struct mf_field *f, unsigned ofs, unsigned n_bits)
{
	ds_put_cstr(ds, f->name);
	if (ofs == 0 && n_bits == f->n_bits)
		ds_put_cstr(ds, "[]");
	else if (n_bits == 1)
		ds_put_format(ds, "[%u]", ofs);
	else
		ds_put_format(ds, "[%u..%u]", ofs, ofs + n_bits - 1);
}

/* ---- matches ---- */

struct mfmt {
	struct ds *ds;
	const struct flow_match *m;
	ofctl_port_name_fn *name;
	void *aux;
	bool first;
};

static void sep(struct mfmt *mf)
{
	if (!mf->first)
		ds_put_char(mf->ds, ',');
	mf->first = false;
}

/* "name=value" if the match pins any of f's bits. */
static void put_field_as(struct mfmt *mf, enum mf_id id, const char *name)
{
	const struct mf_field *f = &mf_fields[id];
	uint8_t v[MF_MAX_BYTES], m[MF_MAX_BYTES];

	mf_match_get(f, mf->m, v, m);
	if (be_is_zero(m, f->n_bytes))
		return;
	sep(mf);
	ds_put_format(mf->ds, "%s=", name ? name : f->name);
	ofctl_format_field(mf->ds, f, v, m, mf->name, mf->aux);
}

static void put_field(struct mfmt *mf, enum mf_id id)
{
	put_field_as(mf, id, NULL);
}

static bool dl_is(const struct flow_match *m, uint16_t t)
{
	return m->mask.dl_type == 0xffff && m->key.dl_type == htons(t);
}

/* The shorthand for dl_type (and nw_proto); sets *proto_done when it
 * covers nw_proto. NULL if none fits. */
static const char *shorthand(const struct flow_match *m, bool *proto_done)
{
	bool v4 = dl_is(m, ETH_P_IP), v6 = dl_is(m, ETH_P_IPV6);

	*proto_done = false;
	if (m->mask.dl_type != 0xffff)
		return NULL;
	if ((v4 || v6) && m->mask.nw_proto == 0xff) {
		*proto_done = true;
		switch (m->key.nw_proto) {
		case 1:   if (v4) return "icmp"; break;
		case 58:  if (v6) return "icmp6"; break;
		case 6:   return v4 ? "tcp" : "tcp6";
		case 17:  return v4 ? "udp" : "udp6";
		case 132: return v4 ? "sctp" : "sctp6";
		}
		*proto_done = false;
	}
	if (v4)
		return "ip";
	if (v6)
		return "ipv6";
	if (dl_is(m, ETH_P_ARP))
		return "arp";
	if (dl_is(m, ETH_P_RARP))
		return "rarp";
	if (dl_is(m, ETH_P_MPLS))
		return "mpls";
	if (dl_is(m, ETH_P_MPLSM))
		return "mplsm";
	return NULL;
}

static void put_vlan(struct mfmt *mf)
{
	uint16_t k = ntohs(mf->m->key.vlan_tci), m = ntohs(mf->m->mask.vlan_tci);
	uint16_t vid_m = m & 0x0fff, pcp_m = m & 0xe000;

	if (!m)
		return;
	if ((k & FLOW_VLAN_PRESENT) && (m & FLOW_VLAN_PRESENT) &&
	    (vid_m == 0 || vid_m == 0x0fff) && (pcp_m == 0 || pcp_m == 0xe000) &&
	    (vid_m || pcp_m)) {
		if (vid_m) {
			sep(mf);
			ds_put_format(mf->ds, "dl_vlan=%u", k & 0x0fff);
		}
		if (pcp_m) {
			sep(mf);
			ds_put_format(mf->ds, "dl_vlan_pcp=%u", k >> 13);
		}
		return;
	}
	sep(mf);
	if (m == 0xffff)
		ds_put_format(mf->ds, "vlan_tci=0x%04x", k);
	else
		ds_put_format(mf->ds, "vlan_tci=0x%04x/0x%04x", k, m);
}

void ofctl_format_match(struct ds *ds, const struct flow_match *m, int priority,
			ofctl_port_name_fn *name, void *aux)
{
	struct mfmt mf = { ds, m, name, aux, true };
	bool proto_done, arp = dl_is(m, ETH_P_ARP) || dl_is(m, ETH_P_RARP);
	bool v6 = dl_is(m, ETH_P_IPV6);
	bool icmp = m->mask.nw_proto == 0xff &&
		    ((dl_is(m, ETH_P_IP) && m->key.nw_proto == 1) || (v6 && m->key.nw_proto == 58));
	const char *sh = shorthand(m, &proto_done);

	if (priority >= 0 && priority != OFCTL_DEFAULT_PRIORITY) {
		sep(&mf);
		ds_put_format(ds, "priority=%d", priority);
	}
	put_field(&mf, MF_CT_STATE);
	put_field(&mf, MF_CT_ZONE);
	put_field(&mf, MF_CT_MARK);
	put_field(&mf, MF_CT_LABEL);
	put_field(&mf, MF_CT_NW_SRC);
	put_field(&mf, MF_CT_NW_DST);
	put_field(&mf, MF_CT_IPV6_SRC);
	put_field(&mf, MF_CT_IPV6_DST);
	put_field(&mf, MF_CT_NW_PROTO);
	put_field(&mf, MF_CT_TP_SRC);
	put_field(&mf, MF_CT_TP_DST);
	if (sh) {
		sep(&mf);
		ds_put_cstr(ds, sh);
	}
	for (int i = 0; i < FLOW_N_REGS; i++)
		put_field(&mf, MF_REG0 + i);
	put_field(&mf, MF_TUN_ID);
	put_field(&mf, MF_TUN_SRC);
	put_field(&mf, MF_TUN_DST);
	put_field(&mf, MF_TUN_IPV6_SRC);
	put_field(&mf, MF_TUN_IPV6_DST);
	put_field(&mf, MF_METADATA);
	put_field(&mf, MF_IN_PORT);
	put_vlan(&mf);
	put_field(&mf, MF_ETH_SRC);
	put_field(&mf, MF_ETH_DST);
	if (!sh)
		put_field(&mf, MF_ETH_TYPE);
	if (v6) {
		put_field(&mf, MF_IPV6_SRC);
		put_field(&mf, MF_IPV6_DST);
		put_field(&mf, MF_IPV6_LABEL);
	} else if (arp) {
		put_field(&mf, MF_ARP_SPA);
		put_field(&mf, MF_ARP_TPA);
	} else {
		put_field(&mf, MF_IPV4_SRC);
		put_field(&mf, MF_IPV4_DST);
	}
	if (arp) {
		put_field(&mf, MF_ARP_OP);
		put_field(&mf, MF_ARP_SHA);
		put_field(&mf, MF_ARP_THA);
	} else if (!proto_done) {
		put_field(&mf, MF_IP_PROTO);
	}
	put_field(&mf, MF_IP_TOS);
	put_field(&mf, MF_IP_ECN);
	put_field(&mf, MF_NW_TTL);
	put_field(&mf, MF_MPLS_LABEL);
	put_field(&mf, MF_MPLS_TC);
	put_field(&mf, MF_MPLS_TTL);
	put_field(&mf, MF_MPLS_BOS);
	put_field(&mf, MF_IP_FRAG);
	if (icmp) {
		put_field_as(&mf, MF_ICMP_TYPE, "icmp_type");
		put_field_as(&mf, MF_ICMP_CODE, "icmp_code");
	} else {
		put_field_as(&mf, MF_TCP_SRC, "tp_src");
		put_field_as(&mf, MF_TCP_DST, "tp_dst");
	}
	if (v6) {
		put_field(&mf, MF_ND_TARGET);
		put_field(&mf, MF_ND_SLL);
		put_field(&mf, MF_ND_TLL);
	} else if (!arp) {
		put_field(&mf, MF_ARP_SHA);	/* not parseable this way; never hidden */
		put_field(&mf, MF_ARP_THA);
	}
	put_field(&mf, MF_TCP_FLAGS);
}

/* ---- actions ---- */

static const char *mod_name(enum mf_id id)
{
	switch (id) {
	case MF_ETH_SRC:	return "mod_dl_src";
	case MF_ETH_DST:	return "mod_dl_dst";
	case MF_IPV4_SRC:	return "mod_nw_src";
	case MF_IPV4_DST:	return "mod_nw_dst";
	case MF_TCP_SRC:
	case MF_UDP_SRC:
	case MF_SCTP_SRC:	return "mod_tp_src";
	case MF_TCP_DST:
	case MF_UDP_DST:
	case MF_SCTP_DST:	return "mod_tp_dst";
	case MF_IP_TOS:		return "mod_nw_tos";
	case MF_IP_ECN:		return "mod_nw_ecn";
	case MF_NW_TTL:		return "mod_nw_ttl";
	case MF_VLAN_VID:	return "mod_vlan_vid";
	case MF_VLAN_PCP:	return "mod_vlan_pcp";
	case MF_MPLS_LABEL:	return "set_mpls_label";
	case MF_MPLS_TC:	return "set_mpls_tc";
	case MF_MPLS_TTL:	return "set_mpls_ttl";
	default:		return NULL;
	}
}

static void format_set_field(struct ds *ds, const struct ofpact_set_field *sf,
			     ofctl_port_name_fn *name, void *aux)
{
	const struct mf_field *f = sf->field < MF_N_IDS ? &mf_fields[sf->field] : NULL;
	uint8_t fm[MF_MAX_BYTES], bv[MF_MAX_BYTES], bm[MF_MAX_BYTES];
	unsigned ofs, n_bits;
	const char *mod;

	if (!f) {
		ds_put_format(ds, "set_field:?->field%u", sf->field);
		return;
	}
	mf_field_mask(f, fm);
	if (!memcmp(fm, sf->mask, f->n_bytes)) {
		mod = mod_name(f->id);
		if (mod) {
			uint8_t full[MF_MAX_BYTES];

			memcpy(full, fm, sizeof(full));
			ds_put_format(ds, "%s:", mod);
			ofctl_format_field(ds, f, sf->value, full, name, aux);
			return;
		}
		ds_put_cstr(ds, "set_field:");
		ofctl_format_field(ds, f, sf->value, sf->mask, name, aux);
		ds_put_format(ds, "->%s", f->name);
		return;
	}
	mf_member_to_be(f, sf->value, bv);
	mf_member_to_be(f, sf->mask, bm);
	if (be_contiguous(bm, f->n_bytes, &ofs, &n_bits)) {
		mf_be_shr(bv, f->n_bytes, ofs);
		ds_put_cstr(ds, "load:");
		put_hex(ds, bv, f->n_bytes);
		ds_put_cstr(ds, "->");
		ofctl_format_subfield(ds, f, ofs, n_bits);
		return;
	}
	ds_put_cstr(ds, "set_field:");
	ofctl_format_field(ds, f, sf->value, sf->mask, name, aux);
	ds_put_format(ds, "->%s", f->name);
}

/* ct(...) as ovs-ofctl prints it: commit, force, table, zone, exec, nat. */
static void format_ct(struct ds *ds, const struct ofpact_ct *oc, ofctl_port_name_fn *name,
		      void *aux)
{
	const struct ct_action *ct = &oc->ct;
	bool sep = false;

#define SEP() (sep ? ds_put_char(ds, ',') : (void)0, sep = true)
	ds_put_cstr(ds, "ct(");
	if (ct->flags & CT_F_COMMIT) {
		SEP();
		ds_put_cstr(ds, "commit");
	}
	if (ct->flags & CT_F_FORCE) {
		SEP();
		ds_put_cstr(ds, "force");
	}
	if (oc->table != OFPACT_CT_NO_TABLE) {
		SEP();
		ds_put_format(ds, "table=%u", oc->table);
	}
	if (oc->zone_field < MF_N_IDS) {
		SEP();
		ds_put_cstr(ds, "zone=");
		ofctl_format_subfield(ds, &mf_fields[oc->zone_field], oc->zone_ofs, oc->zone_bits);
	} else if (ct->zone) {
		SEP();
		ds_put_format(ds, "zone=%u", ct->zone);
	}
	if (ct->flags & (CT_F_MARK | CT_F_LABEL)) {
		struct ofpact_set_field sf = { .h = { OFPACT_SET_FIELD, sizeof(sf) } };

		SEP();
		ds_put_cstr(ds, "exec(");
		if (ct->flags & CT_F_MARK) {
			sf.field = MF_CT_MARK;
			memcpy(sf.value, &ct->mark, 4);
			memcpy(sf.mask, &ct->mark_mask, 4);
			format_set_field(ds, &sf, name, aux);
		}
		if (ct->flags & CT_F_LABEL) {
			if (ct->flags & CT_F_MARK)
				ds_put_char(ds, ',');
			sf.field = MF_CT_LABEL;
			memcpy(sf.value, ct->label, 16);
			memcpy(sf.mask, ct->label_mask, 16);
			format_set_field(ds, &sf, name, aux);
		}
		ds_put_char(ds, ')');
	}
	if (ct->flags & CT_F_NAT) {
		char buf[160];

		SEP();
		ct_nat_format(&ct->nat, buf, sizeof(buf));
		ds_put_format(ds, buf[0] ? "nat(%s)" : "nat", buf);
	}
#undef SEP
	ds_put_char(ds, ')');
}

void ofctl_format_actions(struct ds *ds, const void *ofpacts, size_t len,
			  ofctl_port_name_fn *name, void *aux)
{
	bool first = true;

	if (!len) {
		ds_put_cstr(ds, "drop");
		return;
	}
	OFPACT_FOREACH(a, ofpacts, len) {
		if (!first)
			ds_put_char(ds, ',');
		first = false;
		switch ((enum ofpact_type)a->type) {
		case OFPACT_OUTPUT: {
			const struct ofpact_output *o = (const void *)a;

			if (o->port == OFPP_CONTROLLER)
				ds_put_format(ds, "CONTROLLER:%u", o->max_len);
			else if (o->port >= OFPP_IN_PORT)
				ofctl_format_port(ds, o->port, name, aux);
			else {
				ds_put_cstr(ds, "output:");
				ofctl_format_port(ds, o->port, name, aux);
			}
			break;
		}
		case OFPACT_SET_FIELD:
			format_set_field(ds, (const void *)a, name, aux);
			break;
		case OFPACT_MOVE: {
			const struct ofpact_move *mv = (const void *)a;

			if (mv->src >= MF_N_IDS || mv->dst >= MF_N_IDS) {
				ds_put_cstr(ds, "move:?");
				break;
			}
			ds_put_cstr(ds, "move:");
			ofctl_format_subfield(ds, &mf_fields[mv->src], mv->src_ofs, mv->n_bits);
			ds_put_cstr(ds, "->");
			ofctl_format_subfield(ds, &mf_fields[mv->dst], mv->dst_ofs, mv->n_bits);
			break;
		}
		case OFPACT_PUSH_VLAN:
			ds_put_format(ds, "push_vlan:0x%04x", ((const struct ofpact_ethertype *)a)->ethertype);
			break;
		case OFPACT_POP_VLAN:
			ds_put_cstr(ds, "strip_vlan");
			break;
		case OFPACT_PUSH_MPLS:
			ds_put_format(ds, "push_mpls:0x%04x", ((const struct ofpact_ethertype *)a)->ethertype);
			break;
		case OFPACT_POP_MPLS:
			ds_put_format(ds, "pop_mpls:0x%04x", ((const struct ofpact_ethertype *)a)->ethertype);
			break;
		case OFPACT_DEC_TTL:
			ds_put_cstr(ds, "dec_ttl");
			break;
		case OFPACT_DEC_MPLS_TTL:
			ds_put_cstr(ds, "dec_mpls_ttl");
			break;
		case OFPACT_GROUP:
			ds_put_format(ds, "group:%u", ((const struct ofpact_id *)a)->id);
			break;
		case OFPACT_METER:
			ds_put_format(ds, "meter:%u", ((const struct ofpact_id *)a)->id);
			break;
		case OFPACT_ROUTE: {
			const struct ofpact_route *r = (const void *)a;

			if (r->vrf_field == OFPACT_ROUTE_LITERAL)
				ds_put_format(ds, "route(vrf=%u)", r->vrf);
			else if (r->vrf_field < MF_N_IDS)
				ds_put_format(ds, "route(vrf=%s)", mf_fields[r->vrf_field].name);
			else
				ds_put_cstr(ds, "route(vrf=?)");
			break;
		}
		case OFPACT_RESUBMIT: {
			const struct ofpact_resubmit *r = (const void *)a;

			if (r->table == OFPTT_CURRENT) {
				ds_put_cstr(ds, "resubmit:");
				ofctl_format_port(ds, r->in_port, name, aux);
			} else {
				ds_put_cstr(ds, "resubmit(");
				if (r->in_port != OFPP_IN_PORT)
					ofctl_format_port(ds, r->in_port, name, aux);
				ds_put_format(ds, ",%u)", r->table);
			}
			break;
		}
		case OFPACT_GOTO_TABLE:
			ds_put_format(ds, "goto_table:%u", ((const struct ofpact_goto *)a)->table);
			break;
		case OFPACT_WRITE_METADATA: {
			const struct ofpact_metadata *md = (const void *)a;

			ds_put_format(ds, "write_metadata:0x%llx", (unsigned long long)md->value);
			if (md->mask != UINT64_MAX)
				ds_put_format(ds, "/0x%llx", (unsigned long long)md->mask);
			break;
		}
		case OFPACT_NOTE: {
			const uint8_t *p = (const uint8_t *)(a + 1);
			unsigned n = a->len > sizeof(*a) ? p[0] : 0;

			ds_put_cstr(ds, "note:");
			for (unsigned i = 0; i < n && sizeof(*a) + 1 + i < a->len; i++)
				ds_put_format(ds, i ? ".%02x" : "%02x", p[1 + i]);
			break;
		}
		case OFPACT_CT:
			format_ct(ds, (const void *)a, name, aux);
			break;
		case OFPACT_CT_CLEAR:
			ds_put_cstr(ds, "ct_clear");
			break;
		default:
			ds_put_format(ds, "unknown_action_%u", a->type);
			break;
		}
	}
}

/* ---- flows ---- */

void ofctl_format_flow(struct ds *ds, const struct ofctl_flow *f,
		       const struct ofctl_flow_stats *st, ofctl_port_name_fn *name, void *aux)
{
	static const char *const flag_names[] = {
		"send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts", "no_byte_counts",
	};
	size_t start = ds->len;

#define ITEM(...) do { ds_put_format(ds, __VA_ARGS__); ds_put_cstr(ds, ", "); } while (0)
	if (f->has_cookie || f->cookie) {
		if (f->cookie_mask && f->cookie_mask != UINT64_MAX)
			ITEM("cookie=0x%llx/0x%llx", (unsigned long long)f->cookie,
			     (unsigned long long)f->cookie_mask);
		else
			ITEM("cookie=0x%llx", (unsigned long long)f->cookie);
	}
	if (st)
		ITEM("duration=%llu.%03llus", (unsigned long long)(st->duration_ns / 1000000000),
		     (unsigned long long)(st->duration_ns / 1000000 % 1000));
	if (f->has_table || f->table)
		ITEM("table=%u", f->table);
	if (st)
		ITEM("n_packets=%llu, n_bytes=%llu", (unsigned long long)st->n_packets,
		     (unsigned long long)st->n_bytes);
	if (f->idle_timeout)
		ITEM("idle_timeout=%u", f->idle_timeout);
	if (f->hard_timeout)
		ITEM("hard_timeout=%u", f->hard_timeout);
	if (st && st->idle_age_s >= 0)
		ITEM("idle_age=%lld", (long long)st->idle_age_s);
	if (f->importance)
		ITEM("importance=%u", f->importance);
	if (f->out_port != OFPP_NONE) {
		ds_put_cstr(ds, "out_port=");
		ofctl_format_port(ds, f->out_port, name, aux);
		ds_put_cstr(ds, ", ");
	}
	if (f->out_group != OFPG_ANY)
		ITEM("out_group=%u", f->out_group);
#undef ITEM
	for (unsigned i = 0; i < ARRAY_SIZE(flag_names); i++)
		if (f->flags & (1u << i)) {
			ds_put_format(ds, "%s ", flag_names[i]);
		}
	{
		size_t before = ds->len;

		ofctl_format_match(ds, &f->match, f->priority, name, aux);
		if (f->has_actions) {
			if (ds->len != before)
				ds_put_char(ds, ' ');
			ds_put_cstr(ds, "actions=");
			ofctl_format_actions(ds, f->actions.data, f->actions.len, name, aux);
		} else if (ds->len == before) {
			/* Nothing follows the header: drop its separator. */
			while (ds->len > start && (ds->s[ds->len - 1] == ' ' || ds->s[ds->len - 1] == ','))
				ds->s[--ds->len] = '\0';
		}
	}
}

/* ---- groups and meters ---- */

void ofctl_format_group(struct ds *ds, const struct ofctl_group *g,
			ofctl_port_name_fn *name, void *aux)
{
	ds_put_format(ds, "group_id=%u,type=%s", g->group_id, ofctl_group_type_name(g->type));
	for (unsigned i = 0; i < g->n_buckets; i++) {
		const struct ofctl_bucket *b = &g->buckets[i];

		ds_put_cstr(ds, ",bucket=");
		if (g->type == OFCTL_GT_SELECT && b->weight != 1)
			ds_put_format(ds, "weight:%u,", b->weight);
		if (b->watch_port != OFPP_NONE) {
			ds_put_cstr(ds, "watch_port:");
			ofctl_format_port(ds, b->watch_port, name, aux);
			ds_put_char(ds, ',');
		}
		if (b->watch_group != OFPG_ANY)
			ds_put_format(ds, "watch_group:%u,", b->watch_group);
		ds_put_cstr(ds, "actions=");
		ofctl_format_actions(ds, b->actions.data, b->actions.len, name, aux);
	}
}

void ofctl_format_meter(struct ds *ds, const struct ofctl_meter *m)
{
	ds_put_format(ds, "meter=%u", m->meter_id);
	if (m->flags & OFCTL_MF_KBPS)
		ds_put_cstr(ds, ",kbps");
	if (m->flags & OFCTL_MF_PKTPS)
		ds_put_cstr(ds, ",pktps");
	if (m->flags & OFCTL_MF_BURST)
		ds_put_cstr(ds, ",burst");
	if (m->flags & OFCTL_MF_STATS)
		ds_put_cstr(ds, ",stats");
	for (unsigned i = 0; i < m->n_bands; i++) {
		const struct ofctl_band *b = &m->bands[i];

		ds_put_format(ds, ",band=type=%s,rate=%u",
			      b->type == OFCTL_BAND_DROP ? "drop" : "dscp_remark", b->rate);
		if (b->burst_size)
			ds_put_format(ds, ",burst_size=%u", b->burst_size);
		if (b->type == OFCTL_BAND_DSCP_REMARK)
			ds_put_format(ds, ",prec_level=%u", b->prec_level);
	}
}
