/*
 * The field registry: mf_fields[] generated from MF_FIELDS plus reg0..reg15,
 * lookup by name, reading and writing a field's bits in keys and matches,
 * prerequisites, and the ofpbuf that holds parsed actions.
 *
 * Every bit operation works on the "BE view": the member's bytes as one
 * big-endian integer, so a sub-field is a shift and a mask whatever the
 * member's size or byte order. Host-order members are byte-swapped into that
 * view (x86 and arm64 are little-endian; the swap is skipped on big-endian).
 */
/* GCC's -O3 loop versioning reports writes past 16-byte buffers in loops
 * bounded by a field's n_bytes (at most 16) — false positives; the
 * sanitizer builds and the fuzzer check these bounds for real. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "flow.h"
#include "ofpact.h"

/* The size of a member, or of one element for the uint32_t arrays
 * (mpls_lse, regs): a field lives in the first element. */
#define MEMBER_SIZE(m) _Generic(&((struct flow_key *)0)->m, \
	uint32_t (*)[FLOW_MAX_MPLS]: sizeof(uint32_t), \
	uint32_t (*)[FLOW_N_REGS]: sizeof(uint32_t), \
	default: sizeof(((struct flow_key *)0)->m))

#define REG(n) [MF_REG0 + (n)] = { \
	.id = MF_REG0 + (n), .name = "reg" #n, .alias = NULL, \
	.offset = offsetof(struct flow_key, regs) + 4 * (n), .n_bytes = 4, \
	.bit_ofs = 0, .n_bits = 32, .maskable = MFM_FULLY, .prereq = MFP_NONE, \
	.string = MFS_HEX, .writable = true, .net_order = false }

const struct mf_field mf_fields[MF_N_IDS] = {
#define X(ID, NAME, ALIAS, MEMBER, OFS, BITS, MASK, PRE, STR, WR, NET) \
	[MF_##ID] = { \
		.id = MF_##ID, .name = NAME, .alias = ALIAS, \
		.offset = offsetof(struct flow_key, MEMBER), \
		.n_bytes = MEMBER_SIZE(MEMBER), \
		.bit_ofs = OFS, \
		.n_bits = (BITS) ? (BITS) : 8 * MEMBER_SIZE(MEMBER), \
		.maskable = MASK, .prereq = PRE, .string = STR, \
		.writable = WR, .net_order = NET },
	MF_FIELDS(X)
#undef X
	REG(0), REG(1), REG(2), REG(3), REG(4), REG(5), REG(6), REG(7),
	REG(8), REG(9), REG(10), REG(11), REG(12), REG(13), REG(14), REG(15),
};

const struct mf_field *mf_from_name(const char *name)
{
	if (name[0] == 'r' && name[1] == 'e' && name[2] == 'g' && name[3] >= '0' && name[3] <= '9') {
		unsigned n = (unsigned)(name[3] - '0');

		if (name[4] >= '0' && name[4] <= '9' && n != 0) {
			n = n * 10 + (unsigned)(name[4] - '0');
			if (name[5])
				return NULL;
		} else if (name[4]) {
			return NULL;
		}
		return n < FLOW_N_REGS ? &mf_fields[MF_REG0 + n] : NULL;
	}
	for (size_t i = 0; i < MF_REG0; i++) {
		const struct mf_field *f = &mf_fields[i];

		if (f->name[0] == name[0] && !strcmp(f->name, name))
			return f;
		if (f->alias && f->alias[0] == name[0] && !strcmp(f->alias, name))
			return f;
	}
	return NULL;
}

/* ---- bit operations on the BE view ---- */

static bool host_is_be(void)
{
	return htons(1) == 1;
}

static void swap_bytes(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[n - 1 - i];
}

void mf_field_mask(const struct mf_field *f, uint8_t mask[MF_MAX_BYTES])
{
	uint8_t be[MF_MAX_BYTES];

	memset(mask, 0, MF_MAX_BYTES);
	mf_be_range(be, f->n_bytes, f->bit_ofs, f->n_bits);
	if (!f->net_order && !host_is_be())
		swap_bytes(be, mask, f->n_bytes);
	else
		memcpy(mask, be, f->n_bytes);
}

void mf_be_to_member(const struct mf_field *f, const uint8_t *be, uint8_t *out)
{
	uint8_t t[MF_MAX_BYTES], m[MF_MAX_BYTES];

	memcpy(t, be, f->n_bytes);
	mf_be_range(m, f->n_bytes, 0, f->n_bits);
	for (size_t i = 0; i < f->n_bytes; i++)
		t[i] &= m[i];
	mf_be_shl(t, f->n_bytes, f->bit_ofs);
	memset(out, 0, MF_MAX_BYTES);
	if (!f->net_order && !host_is_be())
		swap_bytes(t, out, f->n_bytes);
	else
		memcpy(out, t, f->n_bytes);
}

void mf_member_to_be(const struct mf_field *f, const uint8_t *in, uint8_t *be)
{
	uint8_t m[MF_MAX_BYTES];

	memset(be, 0, MF_MAX_BYTES);
	if (!f->net_order && !host_is_be())
		swap_bytes(in, be, f->n_bytes);
	else
		memcpy(be, in, f->n_bytes);
	mf_be_shr(be, f->n_bytes, f->bit_ofs);
	mf_be_range(m, f->n_bytes, 0, f->n_bits);
	for (size_t i = 0; i < f->n_bytes; i++)
		be[i] &= m[i];
}

void mf_get(const struct mf_field *f, const struct flow_key *k, uint8_t v[MF_MAX_BYTES])
{
	uint8_t fm[MF_MAX_BYTES];
	const uint8_t *p = (const uint8_t *)k + f->offset;

	mf_field_mask(f, fm);
	memset(v, 0, MF_MAX_BYTES);
	for (size_t i = 0; i < f->n_bytes; i++)
		v[i] = p[i] & fm[i];
}

void mf_write(const struct mf_field *f, const uint8_t *v, const uint8_t *m, struct flow_key *k)
{
	uint8_t fm[MF_MAX_BYTES];
	uint8_t *p = (uint8_t *)k + f->offset;

	mf_field_mask(f, fm);
	for (size_t i = 0; i < f->n_bytes; i++) {
		uint8_t mm = m[i] & fm[i];

		p[i] = (uint8_t)((p[i] & ~mm) | (v[i] & mm));
	}
}

void mf_match_set(const struct mf_field *f, const uint8_t *v, const uint8_t *m,
		  struct flow_match *match)
{
	uint8_t fm[MF_MAX_BYTES];
	uint8_t *pk = (uint8_t *)&match->key + f->offset;
	uint8_t *pm = (uint8_t *)&match->mask + f->offset;

	mf_field_mask(f, fm);
	for (size_t i = 0; i < f->n_bytes; i++) {
		uint8_t mm = m[i] & fm[i];

		pm[i] = (uint8_t)((pm[i] & ~fm[i]) | mm);
		pk[i] = (uint8_t)((pk[i] & ~fm[i]) | (v[i] & mm));
	}
}

void mf_match_get(const struct mf_field *f, const struct flow_match *match,
		  uint8_t v[MF_MAX_BYTES], uint8_t m[MF_MAX_BYTES])
{
	mf_get(f, &match->key, v);
	mf_get(f, &match->mask, m);
}

/* ---- prerequisites ---- */

#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_RARP	0x8035
#define ETH_P_IPV6	0x86dd
#define ETH_P_MPLS	0x8847
#define ETH_P_MPLSM	0x8848

static bool dl_type_is(const struct flow_match *m, uint16_t t)
{
	return m->mask.dl_type == 0xffff && m->key.dl_type == htons(t);
}

static bool nw_proto_is(const struct flow_match *m, uint8_t p)
{
	return m->mask.nw_proto == 0xff && m->key.nw_proto == p;
}

static bool icmp6_type_is(const struct flow_match *m, uint8_t t)
{
	return (ntohs(m->mask.tp_src) & 0xff) == 0xff && (ntohs(m->key.tp_src) & 0xff) == t;
}

bool mf_prereq_ok(const struct flow_match *m, enum mf_prereq p)
{
	bool ip = dl_type_is(m, ETH_P_IP) || dl_type_is(m, ETH_P_IPV6);

	switch (p) {
	case MFP_NONE:
		return true;
	case MFP_ARP:
		return dl_type_is(m, ETH_P_ARP) || dl_type_is(m, ETH_P_RARP);
	case MFP_IPV4:
		return dl_type_is(m, ETH_P_IP);
	case MFP_IPV6:
		return dl_type_is(m, ETH_P_IPV6);
	case MFP_IP_ANY:
		return ip;
	case MFP_VLAN:
		return (ntohs(m->mask.vlan_tci) & FLOW_VLAN_PRESENT) &&
		       (ntohs(m->key.vlan_tci) & FLOW_VLAN_PRESENT);
	case MFP_MPLS:
		return dl_type_is(m, ETH_P_MPLS) || dl_type_is(m, ETH_P_MPLSM);
	case MFP_TCP:
		return ip && nw_proto_is(m, 6);
	case MFP_UDP:
		return ip && nw_proto_is(m, 17);
	case MFP_SCTP:
		return ip && nw_proto_is(m, 132);
	case MFP_ICMPV4:
		return dl_type_is(m, ETH_P_IP) && nw_proto_is(m, 1);
	case MFP_ICMPV6:
		return dl_type_is(m, ETH_P_IPV6) && nw_proto_is(m, 58);
	case MFP_ND:
		return mf_prereq_ok(m, MFP_ICMPV6) &&
		       (icmp6_type_is(m, 135) || icmp6_type_is(m, 136));
	case MFP_ND_SOLICIT:
		return mf_prereq_ok(m, MFP_ICMPV6) && icmp6_type_is(m, 135);
	case MFP_ND_ADVERT:
		return mf_prereq_ok(m, MFP_ICMPV6) && icmp6_type_is(m, 136);
	case MFP_CT:
		return (m->mask.ct_state & CS_TRACKED) && (m->key.ct_state & CS_TRACKED);
	}
	return false;
}

const char *mf_prereq_string(enum mf_prereq p)
{
	switch (p) {
	case MFP_NONE:		return "nothing";
	case MFP_ARP:		return "arp or rarp";
	case MFP_IPV4:		return "ip (dl_type=0x0800)";
	case MFP_IPV6:		return "ipv6 (dl_type=0x86dd)";
	case MFP_IP_ANY:	return "ip or ipv6";
	case MFP_VLAN:		return "a VLAN tag (dl_vlan=N or vlan_tci=0x1000/0x1000)";
	case MFP_MPLS:		return "mpls or mplsm";
	case MFP_TCP:		return "tcp or tcp6";
	case MFP_UDP:		return "udp or udp6";
	case MFP_SCTP:		return "sctp or sctp6";
	case MFP_ICMPV4:	return "icmp";
	case MFP_ICMPV6:	return "icmp6";
	case MFP_ND:		return "icmp6 with icmp_type=135 or 136";
	case MFP_ND_SOLICIT:	return "icmp6 with icmp_type=135";
	case MFP_ND_ADVERT:	return "icmp6 with icmp_type=136";
	case MFP_CT:		return "ct_state=+trk";
	}
	return "?";
}

int mf_check_prereqs(const struct flow_match *m, const struct mf_field *f)
{
	return mf_prereq_ok(m, f->prereq) ? 0 : -EINVAL;
}

/* ---- ofpbuf ---- */

void *ofpbuf_put(struct ofpbuf *b, enum ofpact_type type, size_t size)
{
	size_t n = OFPACT_ALIGN(size);
	struct ofpact *a;

	if (n > UINT16_MAX)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 128;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return NULL;
		b->data = d;
		b->cap = cap;
	}
	a = (struct ofpact *)(void *)(b->data + b->len);
	memset(a, 0, n);
	a->type = (uint16_t)type;
	a->len = (uint16_t)n;
	b->len += n;
	return a;
}

void ofpbuf_free(struct ofpbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
