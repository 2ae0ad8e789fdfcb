/*
 * The ovs-ofctl flow syntax: the tokenizer, values of every field kind,
 * matches, and the flow's own keywords (table, priority, cookie, timeouts,
 * flags). Actions are in ofctl_act.c.
 *
 * The string is copied once to a stack buffer (or the heap when long) and
 * tokenized in place; a flow line costs a few hundred nanoseconds.
 */
/* GCC's -O3 loop versioning reports writes past 16-byte buffers in loops
 * bounded by a field's n_bytes (at most 16) — false positives; the
 * sanitizer builds and the fuzzer check these bounds for real. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <arpa/inet.h>

#include "ofctl_priv.h"

int perr_set(struct perr *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (e->buf && e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

/* ---- tokens ---- */

static bool is_delim(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* End of a value that stops at a delimiter outside parentheses. */
static char *value_end(char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && is_delim(*p))
			break;
	}
	return p;
}

bool ofctl_next_kv(char **pos, char **key, char **value)
{
	char *p = *pos, *k;

	while (is_delim(*p))
		p++;
	if (!*p) {
		*pos = p;
		return false;
	}
	k = p;
	while (*p && !is_delim(*p) && *p != '=' && *p != ':' && *p != '(')
		p++;
	*key = k;
	if (*p == '=' || *p == ':') {
		char *v = p + 1, *end = value_end(v);

		*p = '\0';
		*value = v;
		if (*end)
			*end++ = '\0';
		*pos = end;
	} else if (*p == '(') {
		char *v = p + 1, *q = v;
		int depth = 1;

		*p = '\0';
		for (; *q; q++) {
			if (*q == '(')
				depth++;
			else if (*q == ')' && --depth == 0)
				break;
		}
		*value = v;
		if (*q)
			*q++ = '\0';
		*pos = q;
	} else {
		*value = p;	/* "" */
		if (*p) {
			*p = '\0';
			*value = p;
			p++;
		}
		*pos = p;
		if (!**value)
			*value = (char *)"";
	}
	return true;
}

/* ---- numbers ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ofctl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (!*s)
			return -EINVAL;
		for (; *s; s++) {
			int d = hexval(*s);

			if (d < 0)
				return -EINVAL;
			if (v >> 60)
				return -ERANGE;
			v = v << 4 | (unsigned)d;
		}
	} else {
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return -EINVAL;
			if (v > (UINT64_MAX - 9) / 10 &&
			    (v > UINT64_MAX / 10 || v * 10 > UINT64_MAX - (uint64_t)(*s - '0')))
				return -ERANGE;
			v = v * 10 + (uint64_t)(*s - '0');
		}
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ofctl_parse_be(const char *s, uint8_t *be, size_t n)
{
	memset(be, 0, n);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		size_t nd, i;

		s += 2;
		while (*s == '0' && s[1])
			s++;
		nd = strlen(s);
		if (!nd)
			return -EINVAL;
		for (i = 0; i < nd; i++)
			if (hexval(s[i]) < 0)
				return -EINVAL;
		if (nd > 2 * n)
			return -ERANGE;
		for (i = 0; i < nd; i++) {
			int d = hexval(s[nd - 1 - i]);

			be[n - 1 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
		}
		return 0;
	} else {
		uint64_t v;
		int r = ofctl_parse_u64(s, UINT64_MAX, &v);

		if (r)
			return r;
		if (n < 8 && (v >> (8 * n)))
			return -ERANGE;
		u64_to_be(v, be, n);
		return 0;
	}
}

/* ---- field names ---- */

static const struct {
	const char *nxm;
	enum mf_id id;
} nxm_names[] = {
	{ "NXM_OF_IN_PORT", MF_IN_PORT },
	{ "NXM_OF_ETH_DST", MF_ETH_DST },
	{ "NXM_OF_ETH_SRC", MF_ETH_SRC },
	{ "NXM_OF_ETH_TYPE", MF_ETH_TYPE },
	{ "NXM_OF_VLAN_TCI", MF_VLAN_TCI },
	{ "NXM_OF_IP_PROTO", MF_IP_PROTO },
	{ "NXM_OF_IP_SRC", MF_IPV4_SRC },
	{ "NXM_OF_IP_DST", MF_IPV4_DST },
	{ "NXM_OF_TCP_SRC", MF_TCP_SRC },
	{ "NXM_OF_TCP_DST", MF_TCP_DST },
	{ "NXM_OF_UDP_SRC", MF_UDP_SRC },
	{ "NXM_OF_UDP_DST", MF_UDP_DST },
	{ "NXM_OF_ICMP_TYPE", MF_ICMP_TYPE },
	{ "NXM_OF_ICMP_CODE", MF_ICMP_CODE },
	{ "NXM_OF_ARP_OP", MF_ARP_OP },
	{ "NXM_OF_ARP_SPA", MF_ARP_SPA },
	{ "NXM_OF_ARP_TPA", MF_ARP_TPA },
	{ "NXM_NX_ARP_SHA", MF_ARP_SHA },
	{ "NXM_NX_ARP_THA", MF_ARP_THA },
	{ "NXM_NX_IPV6_SRC", MF_IPV6_SRC },
	{ "NXM_NX_IPV6_DST", MF_IPV6_DST },
	{ "NXM_NX_IPV6_LABEL", MF_IPV6_LABEL },
	{ "NXM_NX_ICMPV6_TYPE", MF_ICMPV6_TYPE },
	{ "NXM_NX_ICMPV6_CODE", MF_ICMPV6_CODE },
	{ "NXM_NX_ND_TARGET", MF_ND_TARGET },
	{ "NXM_NX_ND_SLL", MF_ND_SLL },
	{ "NXM_NX_ND_TLL", MF_ND_TLL },
	{ "NXM_NX_IP_ECN", MF_IP_ECN },
	{ "NXM_NX_IP_TTL", MF_NW_TTL },
	{ "NXM_NX_IP_FRAG", MF_IP_FRAG },
	{ "NXM_NX_TUN_ID", MF_TUN_ID },
	{ "NXM_NX_TUN_IPV4_SRC", MF_TUN_SRC },
	{ "NXM_NX_TUN_IPV4_DST", MF_TUN_DST },
	{ "NXM_NX_TUN_IPV6_SRC", MF_TUN_IPV6_SRC },
	{ "NXM_NX_TUN_IPV6_DST", MF_TUN_IPV6_DST },
	{ "NXM_NX_CT_STATE", MF_CT_STATE },
	{ "NXM_NX_CT_ZONE", MF_CT_ZONE },
	{ "NXM_NX_CT_MARK", MF_CT_MARK },
	{ "NXM_NX_CT_LABEL", MF_CT_LABEL },
	{ "NXM_NX_TCP_FLAGS", MF_TCP_FLAGS },
	{ "OXM_OF_METADATA", MF_METADATA },
	{ "OXM_OF_MPLS_LABEL", MF_MPLS_LABEL },
	{ "OXM_OF_MPLS_TC", MF_MPLS_TC },
	{ "OXM_OF_MPLS_BOS", MF_MPLS_BOS },
	{ "OXM_OF_VLAN_PCP", MF_VLAN_PCP },
	{ "OXM_OF_IP_DSCP", MF_IP_DSCP },
	{ "OXM_OF_IPV6_FLABEL", MF_IPV6_LABEL },
	{ "OXM_OF_SCTP_SRC", MF_SCTP_SRC },
	{ "OXM_OF_SCTP_DST", MF_SCTP_DST },
	{ "OXM_OF_ETH_SRC", MF_ETH_SRC },
	{ "OXM_OF_ETH_DST", MF_ETH_DST },
	{ "OXM_OF_IPV4_SRC", MF_IPV4_SRC },
	{ "OXM_OF_IPV4_DST", MF_IPV4_DST },
	{ "OXM_OF_TCP_SRC", MF_TCP_SRC },
	{ "OXM_OF_TCP_DST", MF_TCP_DST },
	{ "OXM_OF_UDP_SRC", MF_UDP_SRC },
	{ "OXM_OF_UDP_DST", MF_UDP_DST },
};

const struct mf_field *ofctl_field_from_name(const char *name)
{
	const struct mf_field *f = mf_from_name(name);

	if (f || (name[0] != 'N' && name[0] != 'O'))
		return f;
	if (!strncmp(name, "NXM_NX_REG", 10)) {
		uint64_t n;

		if (ofctl_parse_u64(name + 10, FLOW_N_REGS - 1, &n) || (name[10] == '0' && name[11]))
			return NULL;
		return &mf_fields[MF_REG0 + n];
	}
	for (size_t i = 0; i < ARRAY_SIZE(nxm_names); i++)
		if (!strcmp(nxm_names[i].nxm, name))
			return &mf_fields[nxm_names[i].id];
	return NULL;
}

const char *ofctl_field_nxm_name(const struct mf_field *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(nxm_names); i++)
		if (nxm_names[i].id == f->id)
			return nxm_names[i].nxm;
	return NULL;
}

/* ---- ports ---- */

static const struct {
	const char *name;
	uint16_t port;
} special_ports[] = {
	{ "IN_PORT", OFPP_IN_PORT }, { "TABLE", OFPP_TABLE }, { "NORMAL", OFPP_NORMAL },
	{ "FLOOD", OFPP_FLOOD }, { "ALL", OFPP_ALL }, { "CONTROLLER", OFPP_CONTROLLER },
	{ "LOCAL", OFPP_LOCAL }, { "NONE", OFPP_NONE }, { "ANY", OFPP_NONE },
};

int ofctl_parse_port(const char *s, ofctl_port_lookup_fn *lookup, void *aux, uint16_t *port)
{
	uint64_t n;

	for (size_t i = 0; i < ARRAY_SIZE(special_ports); i++)
		if (!strcasecmp(s, special_ports[i].name)) {
			*port = special_ports[i].port;
			return 0;
		}
	if (lookup && lookup(s, port, aux) == 0)
		return 0;
	if (!ofctl_parse_u64(s, UINT16_MAX, &n)) {
		if (n >= OFPP_IN_PORT) {	/* OpenFlow 1.0 numbers of the names */
			*port = (uint16_t)n;
			return 0;
		}
		if (!lookup && n < 0xff00) {
			*port = (uint16_t)n;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- field values ---- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(*s), lo;

		if (hi < 0)
			return -EINVAL;
		s++;
		lo = hexval(*s);
		if (lo >= 0) {
			mac[i] = (uint8_t)(hi << 4 | lo);
			s++;
		} else {
			mac[i] = (uint8_t)hi;
		}
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

static int parse_ipv4(const char *s, uint8_t a[4])
{
	unsigned part = 0, n = 0, digits = 0;

	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			part = part * 10 + (unsigned)(*s - '0');
			if (++digits > 3 || part > 255)
				return -EINVAL;
		} else if ((*s == '.' || !*s) && digits) {
			if (n == 4)
				return -EINVAL;
			a[n++] = (uint8_t)part;
			part = digits = 0;
			if (!*s)
				break;
		} else {
			return -EINVAL;
		}
	}
	return n == 4 ? 0 : -EINVAL;
}

static void prefix_mask(uint8_t *m, size_t n, unsigned len)
{
	for (size_t i = 0; i < n; i++) {
		unsigned bits = len > 8 * i ? MIN(len - 8 * (unsigned)i, 8u) : 0;

		m[i] = (uint8_t)(0xff00 >> bits);
	}
}

struct flag_name {
	const char *name;
	uint16_t bit;
};

static const struct flag_name ct_flags[] = {
	{ "new", CS_NEW }, { "est", CS_ESTABLISHED }, { "rel", CS_RELATED },
	{ "rpl", CS_REPLY_DIR }, { "inv", CS_INVALID }, { "trk", CS_TRACKED },
	{ "snat", CS_SRC_NAT }, { "dnat", CS_DST_NAT }, { NULL, 0 },
};

static const struct flag_name tcp_flags[] = {
	{ "fin", 0x001 }, { "syn", 0x002 }, { "rst", 0x004 }, { "psh", 0x008 },
	{ "ack", 0x010 }, { "urg", 0x020 }, { "ece", 0x040 }, { "cwr", 0x080 },
	{ "ns", 0x100 }, { NULL, 0 },
};

/* "+trk+est-new": value and mask in host order. */
static int parse_flags(const char *s, const struct flag_name *names, uint32_t *v, uint32_t *m,
		       const char *fname, struct perr *e)
{
	*v = *m = 0;
	while (*s) {
		char sign = *s++;
		size_t len = 0;
		const struct flag_name *fl;

		if (sign != '+' && sign != '-')
			return perr_set(e, EINVAL, "%s: %s flags must start with + or -", s - 1, fname);
		while (s[len] && s[len] != '+' && s[len] != '-')
			len++;
		for (fl = names; fl->name; fl++)
			if (strlen(fl->name) == len && !strncmp(fl->name, s, len))
				break;
		if (!fl->name)
			return perr_set(e, EINVAL, "%.*s: unknown %s flag", (int)len, s, fname);
		if (*m & fl->bit)
			return perr_set(e, EINVAL, "%.*s: %s flag given twice", (int)len, s, fname);
		*m |= fl->bit;
		if (sign == '+')
			*v |= fl->bit;
		s += len;
	}
	return 0;
}

static const char *width_str(const struct mf_field *f, char *buf, size_t n)
{
	if (f->n_bits % 8 == 0 && f->bit_ofs == 0)
		snprintf(buf, n, "%u-byte", f->n_bits / 8);
	else
		snprintf(buf, n, "%u-bit", f->n_bits);
	return buf;
}

/* An integer of the field's width into the BE view. */
static int parse_int_field(const struct mf_field *f, const char *s, uint8_t *be,
			   bool is_mask, struct perr *e)
{
	char wb[16];
	int r = ofctl_parse_be(s, be, f->n_bytes);

	if (r == -EINVAL)
		return perr_set(e, EINVAL, "%s: invalid %s for %s", s, is_mask ? "mask" : "value",
				f->name);
	if (r == -ERANGE || !be_fits(be, f->n_bytes, f->n_bits))
		return perr_set(e, ERANGE, "%s: %s too large for %s field %s", s,
				is_mask ? "mask" : "value", width_str(f, wb, sizeof(wb)), f->name);
	return 0;
}

int ofctl_parse_field(const struct mf_field *f, char *s, bool allow_mask,
		      ofctl_port_lookup_fn *lookup, void *aux,
		      uint8_t v[MF_MAX_BYTES], uint8_t m[MF_MAX_BYTES], struct perr *e)
{
	uint8_t bv[MF_MAX_BYTES] = { 0 }, bm[MF_MAX_BYTES] = { 0 };
	char *slash = NULL;
	size_t n = f->n_bytes;
	int r;

	if (f->string != MFS_CT_STATE && f->string != MFS_TCP_FLAGS && f->string != MFS_FRAG &&
	    f->string != MFS_PORT)
		slash = strchr(s, '/');
	else if (s[0] == '0' || (s[0] >= '1' && s[0] <= '9'))
		slash = strchr(s, '/');	/* numeric form of a flags field */
	if (slash) {
		if (!allow_mask || f->maskable == MFM_NONE)
			return perr_set(e, EINVAL, "%s: %s does not support masking", s, f->name);
		*slash = '\0';
	}
	mf_be_range(bm, n, 0, f->n_bits);	/* default: exact */

	switch (f->string) {
	case MFS_DECIMAL:
	case MFS_HEX:
		if ((r = parse_int_field(f, s, bv, false, e)))
			return r;
		if (slash && (r = parse_int_field(f, slash + 1, bm, true, e)))
			return r;
		break;
	case MFS_ETHERNET:
		if (parse_mac(s, bv))
			return perr_set(e, EINVAL, "%s: invalid Ethernet address", s);
		if (slash && parse_mac(slash + 1, bm))
			return perr_set(e, EINVAL, "%s: invalid Ethernet mask", slash + 1);
		break;
	case MFS_IPV4:
		if (parse_ipv4(s, bv))
			return perr_set(e, EINVAL, "%s: invalid IP address", s);
		if (slash) {
			uint64_t len;

			if (strchr(slash + 1, '.')) {
				if (parse_ipv4(slash + 1, bm))
					return perr_set(e, EINVAL, "%s: invalid IP mask", slash + 1);
			} else if (ofctl_parse_u64(slash + 1, 32, &len)) {
				return perr_set(e, EINVAL, "%s: invalid IP prefix length (0-32)", slash + 1);
			} else {
				prefix_mask(bm, 4, (unsigned)len);
			}
		}
		break;
	case MFS_IPV6: {
		struct in6_addr a;

		if (inet_pton(AF_INET6, s, &a) != 1)
			return perr_set(e, EINVAL, "%s: invalid IPv6 address", s);
		memcpy(bv, &a, 16);
		if (slash) {
			uint64_t len;

			if (strchr(slash + 1, ':')) {
				if (inet_pton(AF_INET6, slash + 1, &a) != 1)
					return perr_set(e, EINVAL, "%s: invalid IPv6 mask", slash + 1);
				memcpy(bm, &a, 16);
			} else if (ofctl_parse_u64(slash + 1, 128, &len)) {
				return perr_set(e, EINVAL, "%s: invalid IPv6 prefix length (0-128)",
						slash + 1);
			} else {
				prefix_mask(bm, 16, (unsigned)len);
			}
		}
		break;
	}
	case MFS_PORT: {
		uint16_t port;

		if (ofctl_parse_port(s, lookup, aux, &port))
			return perr_set(e, ENOENT, "%s: unknown port", s);
		u64_to_be(port, bv, n);
		break;
	}
	case MFS_CT_STATE:
	case MFS_TCP_FLAGS:
		if (s[0] == '+' || s[0] == '-') {
			uint32_t fv, fm;

			r = parse_flags(s, f->string == MFS_CT_STATE ? ct_flags : tcp_flags, &fv, &fm,
					f->name, e);
			if (r)
				return r;
			if (!allow_mask && fm != (uint32_t)be_to_u64(bm, n))
				return perr_set(e, EINVAL, "%s: %s needs every flag or a number",
						s, f->name);
			u64_to_be(fv, bv, n);
			u64_to_be(fm, bm, n);
		} else {
			if ((r = parse_int_field(f, s, bv, false, e)))
				return r;
			if (slash && (r = parse_int_field(f, slash + 1, bm, true, e)))
				return r;
		}
		break;
	case MFS_FRAG: {
		static const struct { const char *s; uint8_t v, m; } frags[] = {
			{ "no", 0, FLOW_FRAG_ANY | FLOW_FRAG_LATER },
			{ "yes", FLOW_FRAG_ANY, FLOW_FRAG_ANY },
			{ "first", FLOW_FRAG_ANY, FLOW_FRAG_ANY | FLOW_FRAG_LATER },
			{ "later", FLOW_FRAG_ANY | FLOW_FRAG_LATER, FLOW_FRAG_ANY | FLOW_FRAG_LATER },
			{ "not_later", 0, FLOW_FRAG_LATER },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(frags); i++)
			if (!strcmp(s, frags[i].s))
				break;
		if (i == ARRAY_SIZE(frags))
			return perr_set(e, EINVAL, "%s: invalid nw_frag (no, yes, first, later, not_later)", s);
		bv[0] = frags[i].v;
		bm[0] = frags[i].m;
		if (!allow_mask && bm[0] != 3)
			return perr_set(e, EINVAL, "%s: %s needs no, first or later here", s, f->name);
		break;
	}
	case MFS_TOS: {
		uint64_t tos;

		if (ofctl_parse_u64(s, 255, &tos))
			return perr_set(e, EINVAL, "%s: invalid %s (0-255)", s, f->name);
		if (tos & 3)
			return perr_set(e, EINVAL, "%s: %s must be a multiple of 4 (the ECN bits are nw_ecn)",
					s, f->name);
		bv[0] = (uint8_t)(tos >> 2);
		break;
	}
	}
	if (!be_fits(bm, n, f->n_bits))
		return perr_set(e, ERANGE, "%s: mask wider than field %s", slash ? slash + 1 : s,
				f->name);
	for (size_t i = 0; i < n; i++)
		bv[i] &= bm[i];
	mf_be_to_member(f, bv, v);
	mf_be_to_member(f, bm, m);
	return 0;
}

int ofctl_parse_subfield(const char *s, bool whole_ok, const struct mf_field **fp,
			 unsigned *ofs, unsigned *n_bits, struct perr *e)
{
	const char *br = strchr(s, '[');
	char name[64];
	size_t nl = br ? (size_t)(br - s) : strlen(s);
	const struct mf_field *f;

	if (nl >= sizeof(name))
		return perr_set(e, EINVAL, "%s: unknown field", s);
	memcpy(name, s, nl);
	name[nl] = '\0';
	f = ofctl_field_from_name(name);
	if (!f)
		return perr_set(e, EINVAL, "%s: unknown field %s", s, name);
	*fp = f;
	if (!br) {
		if (!whole_ok)
			return perr_set(e, EINVAL, "%s: missing [] after the field name", s);
		*ofs = 0;
		*n_bits = f->n_bits;
		return 0;
	}
	if (!strcmp(br, "[]")) {
		*ofs = 0;
		*n_bits = f->n_bits;
		return 0;
	}
	{
		unsigned a, b;
		int used = 0;

		if (sscanf(br, "[%u..%u]%n", &a, &b, &used) == 2 && !br[used]) {
		} else if (used = 0, sscanf(br, "[%u]%n", &a, &used) == 1 && !br[used]) {
			b = a;
		} else {
			return perr_set(e, EINVAL, "%s: syntax error in sub-field (want %s[a..b])",
					s, name);
		}
		if (a > b)
			return perr_set(e, EINVAL, "%s: starting bit %u is after ending bit %u", s, a, b);
		if (b >= f->n_bits)
			return perr_set(e, EINVAL,
					"%s: ending bit %u is not valid because field is only %u bits wide",
					s, b, f->n_bits);
		*ofs = a;
		*n_bits = b - a + 1;
	}
	return 0;
}

/* ---- matches ---- */

/* A field set while parsing, for the prerequisite check at the end (a match
 * may name the protocol after the field: "tp_dst=80,tcp"). */
struct seen {
	const struct mf_field *f;
	const char *name;	/* as typed */
};

#define MAX_SEEN 64

struct mparse {
	struct flow_match *m;
	struct seen seen[MAX_SEEN];
	unsigned n_seen;
	struct perr *e;
};

/* Set bits (v, m: member bytes) of f, refusing to change bits an earlier
 * keyword already pinned to something else. */
static int match_put(struct mparse *mp, const struct mf_field *f, const uint8_t *v,
		     const uint8_t *m, const char *what)
{
	const uint8_t *ok = (const uint8_t *)&mp->m->key + f->offset;
	const uint8_t *om = (const uint8_t *)&mp->m->mask + f->offset;

	for (size_t i = 0; i < f->n_bytes; i++)
		if ((om[i] & m[i]) && ((ok[i] ^ v[i]) & om[i] & m[i]))
			return perr_set(mp->e, EINVAL, "%s: conflicts with an earlier match on %s",
					what, f->name);
	for (size_t i = 0; i < f->n_bytes; i++) {
		uint8_t *pk = (uint8_t *)&mp->m->key + f->offset + i;
		uint8_t *pm = (uint8_t *)&mp->m->mask + f->offset + i;

		*pm |= m[i];
		*pk = (uint8_t)((*pk & ~m[i]) | (v[i] & m[i]));
	}
	return 0;
}

static int match_put_u16(struct mparse *mp, enum mf_id id, uint16_t v, uint16_t m, const char *what)
{
	uint8_t bv[MF_MAX_BYTES] = { 0 }, bm[MF_MAX_BYTES] = { 0 }, mv[MF_MAX_BYTES], mm[MF_MAX_BYTES];
	const struct mf_field *f = &mf_fields[id];

	u64_to_be(v, bv, f->n_bytes);
	u64_to_be(m, bm, f->n_bytes);
	mf_be_to_member(f, bv, mv);
	mf_be_to_member(f, bm, mm);
	return match_put(mp, f, mv, mm, what);
}

static const struct proto {
	const char *name;
	uint16_t dl_type;
	int nw_proto;		/* -1: none */
} protos[] = {
	{ "ip", ETH_P_IP, -1 }, { "ipv6", ETH_P_IPV6, -1 },
	{ "icmp", ETH_P_IP, 1 }, { "icmp6", ETH_P_IPV6, 58 },
	{ "tcp", ETH_P_IP, 6 }, { "tcp6", ETH_P_IPV6, 6 },
	{ "udp", ETH_P_IP, 17 }, { "udp6", ETH_P_IPV6, 17 },
	{ "sctp", ETH_P_IP, 132 }, { "sctp6", ETH_P_IPV6, 132 },
	{ "arp", ETH_P_ARP, -1 }, { "rarp", ETH_P_RARP, -1 },
	{ "mpls", ETH_P_MPLS, -1 }, { "mplsm", ETH_P_MPLSM, -1 },
	{ "ip4", ETH_P_IP, -1 }, { "ipv4", ETH_P_IP, -1 },
};

static const struct proto *proto_from_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcmp(protos[i].name, s))
			return &protos[i];
	return NULL;
}

static int parse_match_field(struct mparse *mp, const struct mf_field *f, const char *name,
			     char *value, ofctl_port_lookup_fn *lookup, void *aux)
{
	uint8_t v[MF_MAX_BYTES], m[MF_MAX_BYTES];
	int r;

	if (!*value)
		return perr_set(mp->e, EINVAL, "%s: missing value (%s=VALUE)", name, name);
	if (f->id == MF_VLAN_VID || f->id == MF_VLAN_PCP) {
		uint64_t n;

		if (f->id == MF_VLAN_VID && ofctl_parse_u64(value, 0xffff, &n) == 0 && n == 0xffff)
			return match_put_u16(mp, MF_VLAN_TCI, 0, 0xffff, name);	/* no tag */
		if ((r = ofctl_parse_field(f, value, false, lookup, aux, v, m, mp->e)))
			return r;
		if ((r = match_put(mp, f, v, m, name)))
			return r;
		r = match_put_u16(mp, MF_VLAN_TCI, FLOW_VLAN_PRESENT, FLOW_VLAN_PRESENT, name);
		if (r)
			return r;
	} else {
		if ((r = ofctl_parse_field(f, value, true, lookup, aux, v, m, mp->e)))
			return r;
		if ((r = match_put(mp, f, v, m, name)))
			return r;
	}
	if (mp->n_seen == MAX_SEEN)
		return perr_set(mp->e, E2BIG, "too many match fields (at most %d)", MAX_SEEN);
	mp->seen[mp->n_seen++] = (struct seen){ f, name };
	return 0;
}

static int check_match_prereqs(struct mparse *mp)
{
	for (unsigned i = 0; i < mp->n_seen; i++) {
		const struct mf_field *f = mp->seen[i].f;
		const char *n = mp->seen[i].name;
		const struct flow_match *m = mp->m;

		/* The generic names of OVS: tp_src/tp_dst for any L4 protocol,
		 * icmp_type/icmp_code for ICMP and ICMPv6. */
		if (!strcmp(n, "tp_src") || !strcmp(n, "tp_dst")) {
			if (mf_prereq_ok(m, MFP_TCP) || mf_prereq_ok(m, MFP_UDP) ||
			    mf_prereq_ok(m, MFP_SCTP))
				continue;
			return perr_set(mp->e, EINVAL, "%s requires tcp, udp or sctp (e.g. tcp,%s=...)",
					n, n);
		}
		if (f->id == MF_ICMP_TYPE || f->id == MF_ICMP_CODE) {
			if (mf_prereq_ok(m, MFP_ICMPV4) || mf_prereq_ok(m, MFP_ICMPV6))
				continue;
			return perr_set(mp->e, EINVAL, "%s requires icmp or icmp6", n);
		}
		if (mf_check_prereqs(m, f))
			return perr_set(mp->e, EINVAL, "%s requires %s", n, mf_prereq_string(f->prereq));
	}
	return 0;
}

/* ---- flows ---- */

static const char *usage_name(enum ofctl_usage u)
{
	static const char *const names[] = { "add-flow", "mod-flows", "del-flows", "dump-flows" };

	return names[u];
}

static int parse_u16_kw(const char *k, const char *v, uint16_t *out, struct perr *e)
{
	uint64_t n;

	if (ofctl_parse_u64(v, UINT16_MAX, &n))
		return perr_set(e, EINVAL, "%s=%s: invalid %s (0-65535)", k, v, k);
	*out = (uint16_t)n;
	return 0;
}

/* Find "actions=" (or "action=") at a token start; NULL if absent. */
static char *find_actions(char *s)
{
	for (char *p = strstr(s, "action"); p; p = strstr(p + 1, "action")) {
		char *q = p + 6;

		if (p != s && !is_delim(p[-1]))
			continue;
		if (*q == 's')
			q++;
		if (*q == '=' || *q == ':')
			return p;
	}
	return NULL;
}

static const struct {
	const char *name;
	uint16_t flag;
} flow_flags[] = {
	{ "send_flow_rem", OFCTL_FF_SEND_FLOW_REM },
	{ "check_overlap", OFCTL_FF_CHECK_OVERLAP },
	{ "reset_counts", OFCTL_FF_RESET_COUNTS },
	{ "no_packet_counts", OFCTL_FF_NO_PKT_COUNTS },
	{ "no_byte_counts", OFCTL_FF_NO_BYT_COUNTS },
};

static int parse_flow__(char *s, enum ofctl_usage u, ofctl_port_lookup_fn *lookup, void *aux,
			struct ofctl_flow *fl, struct perr *e)
{
	bool modify = u == OFCTL_ADD || u == OFCTL_MODIFY;
	struct mparse mp = { .m = &fl->match, .e = e };
	char *act = find_actions(s), *pos = s, *k, *v;
	int r;

	if (act) {
		*act = '\0';
		act += 6;
		act += *act == 's';
		act++;
	}
	while (ofctl_next_kv(&pos, &k, &v)) {
		const struct mf_field *f;
		const struct proto *p;
		uint64_t n;
		size_t i;

		if ((p = proto_from_name(k))) {
			if (*v)
				return perr_set(e, EINVAL, "%s=%s: %s takes no value", k, v, k);
			if ((r = match_put_u16(&mp, MF_ETH_TYPE, p->dl_type, 0xffff, k)))
				return r;
			if (p->nw_proto >= 0 &&
			    (r = match_put_u16(&mp, MF_IP_PROTO, (uint16_t)p->nw_proto, 0xff, k)))
				return r;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(flow_flags); i++)
			if (!strcmp(k, flow_flags[i].name))
				break;
		if (i < ARRAY_SIZE(flow_flags)) {
			if (!modify)
				return perr_set(e, EINVAL, "%s is not allowed with %s", k, usage_name(u));
			fl->flags |= flow_flags[i].flag;
			continue;
		}
		if (!strcmp(k, "table")) {
			if (ofctl_parse_u64(v, OFP_MAX_TABLES - 1, &n))
				return perr_set(e, EINVAL, "table=%s: invalid table (0-%d)", v,
						OFP_MAX_TABLES - 1);
			fl->table = (uint8_t)n;
			fl->has_table = true;
		} else if (!strcmp(k, "priority")) {
			if ((r = parse_u16_kw(k, v, &fl->priority, e)))
				return r;
			fl->has_priority = true;
		} else if (!strcmp(k, "cookie")) {
			char *slash = strchr(v, '/');

			if (slash)
				*slash = '\0';
			if (ofctl_parse_u64(v, UINT64_MAX, &fl->cookie))
				return perr_set(e, EINVAL, "cookie=%s: invalid cookie", v);
			fl->cookie_mask = UINT64_MAX;
			if (slash) {
				if (u == OFCTL_ADD)
					return perr_set(e, EINVAL, "flow additions cannot use a cookie mask");
				if (ofctl_parse_u64(slash + 1, UINT64_MAX, &fl->cookie_mask))
					return perr_set(e, EINVAL, "cookie=%s/%s: invalid cookie mask", v,
							slash + 1);
				fl->cookie &= fl->cookie_mask;
				if (!fl->cookie_mask) {	/* cookie=V/0: any cookie, as if absent */
					fl->has_cookie = false;
					continue;
				}
			}
			if (u == OFCTL_ADD) {
				if (fl->cookie == UINT64_MAX)
					return perr_set(e, EINVAL, "cookie=%s: 0xffffffffffffffff is reserved", v);
				fl->cookie_mask = 0;
			}
			fl->has_cookie = true;
		} else if (!strcmp(k, "idle_timeout") || !strcmp(k, "hard_timeout") ||
			   !strcmp(k, "importance")) {
			uint16_t *dst = k[0] == 'i' ? (k[1] == 'd' ? &fl->idle_timeout : &fl->importance)
						    : &fl->hard_timeout;

			if (!modify)
				return perr_set(e, EINVAL, "%s is not allowed with %s", k, usage_name(u));
			if ((r = parse_u16_kw(k, v, dst, e)))
				return r;
		} else if (!strcmp(k, "out_port")) {
			if (modify)
				return perr_set(e, EINVAL, "out_port is not allowed with %s", usage_name(u));
			if (ofctl_parse_port(v, lookup, aux, &fl->out_port))
				return perr_set(e, ENOENT, "%s: unknown port", v);
		} else if (!strcmp(k, "out_group")) {
			if (modify)
				return perr_set(e, EINVAL, "out_group is not allowed with %s", usage_name(u));
			if (ofctl_parse_u64(v, UINT32_MAX, &n))
				return perr_set(e, EINVAL, "out_group=%s: invalid group", v);
			fl->out_group = (uint32_t)n;
		} else if (!strcmp(k, "duration") || !strcmp(k, "n_packets") ||
			   !strcmp(k, "n_bytes") || !strcmp(k, "idle_age") || !strcmp(k, "hard_age")) {
			/* dump-flows output fed back in: counters are ignored. */
		} else if ((f = ofctl_field_from_name(k))) {
			if ((r = parse_match_field(&mp, f, k, v, lookup, aux)))
				return r;
		} else {
			return perr_set(e, EINVAL, "unknown field %s", k);
		}
	}
	if ((r = check_match_prereqs(&mp)))
		return r;

	if (act) {
		if (!modify)
			return perr_set(e, EINVAL, "%s does not take actions", usage_name(u));
		fl->has_actions = true;
		return ofctl_parse_actions__(act, &fl->match, fl->table, lookup, aux,
					     &fl->actions, e);
	}
	if (modify)
		return perr_set(e, EINVAL, "must specify an action (actions=...; actions=drop to drop)");
	return 0;
}

static void flow_init(struct ofctl_flow *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->priority = OFCTL_DEFAULT_PRIORITY;
	fl->out_port = OFPP_NONE;
	fl->out_group = OFPG_ANY;
}

int ofctl_parse_flow(const char *s, enum ofctl_usage u, ofctl_port_lookup_fn *lookup,
		     void *aux, struct ofctl_flow *out, char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	size_t len = strlen(s);
	char stack[1024], *buf = len < sizeof(stack) ? stack : malloc(len + 1);
	int r;

	flow_init(out);
	if (!buf)
		return perr_set(&e, ENOMEM, "out of memory");
	memcpy(buf, s, len + 1);
	r = parse_flow__(buf, u, lookup, aux, out, &e);
	if (buf != stack)
		free(buf);
	if (r)
		ofpbuf_free(&out->actions);
	return r;
}

void ofctl_flow_destroy(struct ofctl_flow *f)
{
	ofpbuf_free(&f->actions);
}

bool ofctl_flow_equal(const struct ofctl_flow *a, const struct ofctl_flow *b)
{
	return !memcmp(&a->match, &b->match, sizeof(a->match)) &&
	       a->actions.len == b->actions.len &&
	       (!a->actions.len || !memcmp(a->actions.data, b->actions.data, a->actions.len)) &&
	       a->cookie == b->cookie && a->cookie_mask == b->cookie_mask &&
	       a->out_group == b->out_group && a->out_port == b->out_port &&
	       a->priority == b->priority && a->idle_timeout == b->idle_timeout &&
	       a->hard_timeout == b->hard_timeout && a->importance == b->importance &&
	       a->flags == b->flags && a->table == b->table &&
	       a->has_table == b->has_table && a->has_cookie == b->has_cookie &&
	       a->has_actions == b->has_actions;
}

int ofctl_parse_actions(const char *s, const struct flow_match *m, uint8_t table,
			ofctl_port_lookup_fn *lookup, void *aux, struct ofpbuf *out,
			char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	char *buf = strdup(s);
	int r;

	if (!buf)
		return perr_set(&e, ENOMEM, "out of memory");
	r = ofctl_parse_actions__(buf, m, table, lookup, aux, out, &e);
	free(buf);
	return r;
}
