/*
 * Building, checking and printing dpact lists (dpact.h): what the pipeline's
 * compiler and the dump/trace commands use. Never on the per-packet path.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dpact.h"

void *dpact_put(struct dpact_buf *b, enum dpact_type type)
{
	size_t size = dpact_sizes[type];
	struct dpact *a;

	if (b->len + size > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + size + 64);
		uint8_t *d = realloc(b->data, cap);

		if (!d)
			return NULL;
		b->data = d;
		b->cap = cap;
	}
	a = (struct dpact *)(b->data + b->len);
	memset(a, 0, size);
	a->type = (uint8_t)type;
	a->len = (uint8_t)(size / 8);
	b->len += size;
	return a;
}

void *dpact_put_merge(struct dpact_buf *b, enum dpact_type type)
{
	struct dpact *last = NULL;

	DPACT_FOREACH(a, b->data, b->len)
		last = (struct dpact *)a;
	if (last && last->type == type)
		return last;
	return dpact_put(b, type);
}

void dpact_put_output(struct dpact_buf *b, uint16_t port)
{
	struct dpact_output *o = dpact_put(b, DPACT_OUTPUT);

	if (o)
		o->port = port;
}

void dpact_buf_free(struct dpact_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void dpact_finalize(struct dpact_buf *b)
{
	size_t keep = 0;

	DPACT_FOREACH(a, b->data, b->len)
		if (a->type == DPACT_OUTPUT || a->type == DPACT_GROUP || a->type == DPACT_NORMAL ||
		    a->type == DPACT_ROUTE || a->type == DPACT_TNL_PUSH ||
		    a->type == DPACT_RECIRC)
			keep = (size_t)((const uint8_t *)a - b->data) + (size_t)a->len * 8;
	b->len = keep;
}

int dpact_validate(const void *acts, size_t len)
{
	const uint8_t *p = acts, *end;

	if (!len)
		return 0;
	if ((uintptr_t)acts % 8 || len % 8)
		return -EINVAL;
	end = p + len;
	while (p < end) {
		const struct dpact *a = (const void *)p;

		if (a->type >= DPACT_N_TYPES || (size_t)a->len * 8 != dpact_sizes[a->type] ||
		    p + (size_t)a->len * 8 > end)
			return -EINVAL;
		switch (a->type) {
		case DPACT_OUTPUT:
			if (((const struct dpact_output *)a)->port >= PORT_MAX)
				return -EINVAL;
			break;
		case DPACT_SET_L4_PORTS: {
			uint8_t pr = ((const struct dpact_set_l4 *)a)->proto;

			if (pr != 6 && pr != 17 && pr != 132)
				return -EINVAL;
			break;
		}
		case DPACT_PUSH_VLAN: {
			uint16_t t = ((const struct dpact_vlan *)a)->tpid;

			if (t != 0x8100 && t != 0x88a8)
				return -EINVAL;
			break;
		}
		case DPACT_PUSH_MPLS: {
			uint16_t t = ((const struct dpact_mpls *)a)->ethertype;

			if (t != 0x8847 && t != 0x8848)
				return -EINVAL;
			break;
		}
		case DPACT_TNL_PUSH: {
			const struct dpact_tnl_push *t = (const void *)a;

			/* Types 1..5 of enum tnl_type; options fit the record. */
			if (t->tnl_type < 1 || t->tnl_type > 5 || t->opt_len > sizeof(t->opts) ||
			    t->opt_len % 4)
				return -EINVAL;
			break;
		}
		case DPACT_RECIRC:
			if (((const struct dpact_recirc *)a)->table == 255)
				return -EINVAL;
			break;
		default:
			break;
		}
		p += (size_t)a->len * 8;
	}
	return 0;
}

/* ---- printing ---- */

struct out {
	char *s;
	size_t size, n;
};

static void __printf(2, 3) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(o->n < o->size ? o->s + o->n : NULL, o->n < o->size ? o->size - o->n : 0,
		      fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
}

static bool any(const uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i])
			return true;
	return false;
}

static bool full(const uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i] != 0xff)
			return false;
	return true;
}

static void put_mac(struct out *o, const char *name, const uint8_t *v, const uint8_t *m)
{
	if (!any(m, 6))
		return;
	put(o, "%s=%02x:%02x:%02x:%02x:%02x:%02x", name, v[0], v[1], v[2], v[3], v[4], v[5]);
	if (!full(m, 6))
		put(o, "/%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	put(o, ",");
}

static void put_ip4(struct out *o, const char *name, uint32_t v, uint32_t m)
{
	const uint8_t *b = (const uint8_t *)&v, *mb = (const uint8_t *)&m;

	if (!m)
		return;
	put(o, "%s=%u.%u.%u.%u", name, b[0], b[1], b[2], b[3]);
	if (m != 0xffffffffu)
		put(o, "/%u.%u.%u.%u", mb[0], mb[1], mb[2], mb[3]);
	put(o, ",");
}

static void put_ip6(struct out *o, const char *name, const uint8_t *v, const uint8_t *m)
{
	if (!any(m, 16))
		return;
	put(o, "%s=", name);
	for (int i = 0; i < 16; i += 2)
		put(o, "%s%x", i ? ":" : "", v[i] << 8 | v[i + 1]);
	if (!full(m, 16)) {
		put(o, "/");
		for (int i = 0; i < 16; i += 2)
			put(o, "%s%x", i ? ":" : "", m[i] << 8 | m[i + 1]);
	}
	put(o, ",");
}

/* Replace a trailing ',' opened inside set(...) by the closer. */
static void close_set(struct out *o)
{
	if (o->n && o->n <= o->size && o->s[o->n - 1] == ',')
		o->n--;
	put(o, "))");
}

int dpact_format(const void *acts, size_t len, char *s, size_t size)
{
	struct out o = { s, size, 0 };
	bool first = true;

	if (size)
		s[0] = '\0';
	if (!len) {
		put(&o, "drop");
		return (int)o.n;
	}
	DPACT_FOREACH(a, acts, len) {
		if (!first)
			put(&o, ",");
		first = false;
		switch (a->type) {
		case DPACT_OUTPUT:
			put(&o, "%u", ((const struct dpact_output *)a)->port);
			break;
		case DPACT_SET_ETH: {
			const struct dpact_set_eth *e = (const void *)a;

			put(&o, "set(eth(");
			put_mac(&o, "src", e->src, e->src_mask);
			put_mac(&o, "dst", e->dst, e->dst_mask);
			close_set(&o);
			break;
		}
		case DPACT_SET_IPV4: {
			const struct dpact_set_ipv4 *e = (const void *)a;

			put(&o, "set(ipv4(");
			put_ip4(&o, "src", e->src, e->src_mask);
			put_ip4(&o, "dst", e->dst, e->dst_mask);
			if (e->tos_mask)
				put(&o, "tos=0x%x/0x%x,", e->tos, e->tos_mask);
			if (e->ttl_mask)
				put(&o, "ttl=%u,", e->ttl);
			close_set(&o);
			break;
		}
		case DPACT_SET_IPV6: {
			const struct dpact_set_ipv6 *e = (const void *)a;

			put(&o, "set(ipv6(");
			put_ip6(&o, "src", e->src, e->src_mask);
			put_ip6(&o, "dst", e->dst, e->dst_mask);
			if (e->label_mask)
				put(&o, "label=0x%x,", __builtin_bswap32(e->label));
			if (e->tc_mask)
				put(&o, "tclass=0x%x/0x%x,", e->tc, e->tc_mask);
			if (e->hlim_mask)
				put(&o, "hlimit=%u,", e->hlim);
			close_set(&o);
			break;
		}
		case DPACT_SET_L4_PORTS: {
			const struct dpact_set_l4 *e = (const void *)a;
			const char *n = e->proto == 6 ? "tcp" : e->proto == 17 ? "udp" : "sctp";

			put(&o, "set(%s(", n);
			if (e->src_mask)
				put(&o, "src=%u,", __builtin_bswap16(e->src));
			if (e->dst_mask)
				put(&o, "dst=%u,", __builtin_bswap16(e->dst));
			close_set(&o);
			break;
		}
		case DPACT_SET_VLAN: {
			const struct dpact_vlan *v = (const void *)a;

			put(&o, "set(vlan(tci=0x%04x/0x%04x))", __builtin_bswap16(v->tci),
			    __builtin_bswap16(v->mask));
			break;
		}
		case DPACT_PUSH_VLAN: {
			const struct dpact_vlan *v = (const void *)a;
			uint16_t tci = __builtin_bswap16(v->tci);

			put(&o, "push_vlan(");
			if (v->tpid != 0x8100)
				put(&o, "tpid=0x%04x,", v->tpid);
			put(&o, "vid=%u,pcp=%u)", tci & 0xfff, tci >> 13);
			break;
		}
		case DPACT_POP_VLAN:
			put(&o, "pop_vlan");
			break;
		case DPACT_PUSH_MPLS: {
			const struct dpact_mpls *m = (const void *)a;
			uint32_t l = __builtin_bswap32(m->lse);

			put(&o, "push_mpls(label=%u,tc=%u,eth_type=0x%x)", l >> 12, (l >> 9) & 7,
			    m->ethertype);
			break;
		}
		case DPACT_POP_MPLS:
			put(&o, "pop_mpls(eth_type=0x%x)", ((const struct dpact_mpls *)a)->ethertype);
			break;
		case DPACT_SET_MPLS: {
			const struct dpact_set_mpls *m = (const void *)a;

			put(&o, "set(mpls(lse=0x%08x/0x%08x))", __builtin_bswap32(m->lse),
			    __builtin_bswap32(m->mask));
			break;
		}
		case DPACT_DEC_TTL:
			put(&o, "dec_ttl");
			break;
		case DPACT_DEC_MPLS_TTL:
			put(&o, "dec_mpls_ttl");
			break;
		case DPACT_GROUP:
			put(&o, "group(%u)", ((const struct dpact_id *)a)->id);
			break;
		case DPACT_METER:
			put(&o, "meter(%u)", ((const struct dpact_id *)a)->id);
			break;
		case DPACT_NORMAL:
			put(&o, "normal");
			break;
		case DPACT_ROUTE:
			put(&o, "route(vrf=%u)", ((const struct dpact_id *)a)->id);
			break;
		case DPACT_TNL_PUSH: {
			static const char *const tn[] = { "?", "vxlan", "geneve", "gre", "mplsogre",
							  "mplsoudp" };
			const struct dpact_tnl_push *t = (const void *)a;
			const uint8_t *d = (const uint8_t *)&t->dst;

			put(&o, "tnl_push(%s,dst=%u.%u.%u.%u,key=%llu", tn[t->tnl_type < 6 ? t->tnl_type : 0],
			    d[0], d[1], d[2], d[3], (unsigned long long)t->key);
			if (t->dst_port)
				put(&o, ",dst_port=%u", t->dst_port);
			if (t->opt_len)
				put(&o, ",opts=%u", t->opt_len);
			put(&o, ",port=%u)", t->port);
			break;
		}
		case DPACT_CT: {
			char buf[256];

			ct_action_format(&((const struct dpact_ct *)a)->ct, buf, sizeof(buf));
			put(&o, "ct(%s)", buf);
			break;
		}
		case DPACT_CT_CLEAR:
			put(&o, "ct_clear");
			break;
		case DPACT_RECIRC:
			put(&o, "recirc(0x%x)", ((const struct dpact_recirc *)a)->table + 1u);
			break;
		default:
			put(&o, "<bad %u>", a->type);
			return (int)o.n;
		}
		if (!a->len)
			break;
	}
	return (int)o.n;
}
