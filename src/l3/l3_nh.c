/*
 * Next hops: a fixed array PMDs index by the LPM's value, shared by all
 * VRFs and deduplicated (a million routes via one gateway share one next
 * hop, so resolving that gateway's MAC is one store). Control thread only,
 * except that PMDs read l3_nh_tab.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "l3_priv.h"
#include "../port/port.h"
#include "../tnl/tnl.h"

#define NH_HASH		(1u << 16)
#define NH_END		UINT32_MAX

struct l3_nh *l3_nh_tab;
static struct l3_nh_ctl *nh_ctl;
static uint32_t nh_hash[NH_HASH];
static uint32_t nh_used;		/* ids ever handed out */
static uint32_t nh_live;
static uint32_t *nh_free, n_free;
static uint32_t *nh_pending, n_pending;

static int nh_init(void)
{
	void *p;

	if (l3_nh_tab)
		return 0;
	p = mmap(NULL, (size_t)L3_MAX_NH * sizeof(struct l3_nh), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	nh_ctl = calloc(L3_MAX_NH, sizeof(*nh_ctl));
	nh_free = calloc(L3_MAX_NH, sizeof(uint32_t));
	nh_pending = calloc(L3_MAX_NH, sizeof(uint32_t));
	if (!nh_ctl || !nh_free || !nh_pending) {
		munmap(p, (size_t)L3_MAX_NH * sizeof(struct l3_nh));
		free(nh_ctl);
		free(nh_free);
		free(nh_pending);
		nh_ctl = NULL;
		return -ENOMEM;
	}
	memset(nh_hash, 0xff, sizeof(nh_hash));
	l3_nh_tab = p;
	return 0;
}

/* What makes two next hops the same: everything but the resolved MAC. */
static void nh_identity(const struct l3_nh *n, struct l3_nh *id)
{
	*id = *n;
	id->dmac = 0;
	id->max_len = 0;
	id->tun_rec = NULL;
	memset(id->smac, 0, sizeof(id->smac));
}

static uint32_t nh_hash_of(const struct l3_nh *n)
{
	struct l3_nh id;
	const uint8_t *b = (const uint8_t *)&id;
	uint32_t h = 2166136261u;

	nh_identity(n, &id);
	for (size_t i = 0; i < sizeof(id); i++)
		h = (h ^ b[i]) * 16777619u;
	return h & (NH_HASH - 1);
}

static bool nh_same(const struct l3_nh *a, const struct l3_nh *b)
{
	struct l3_nh x, y;

	nh_identity(a, &x);
	nh_identity(b, &y);
	return !memcmp(&x, &y, sizeof(x));
}

static void fill_macs(struct l3_nh *n)
{
	const struct l3_iface *ifc = n->port < PORT_MAX ? &l3_cfg.ifc[n->port] : NULL;

	memcpy(n->smac, ifc && ifc->on ? ifc->mac : l3_router_mac, 6);
	n->dmac = 0;
	if (n->type == L3_NH_PORT && n->has_gw) {
		const struct l3_neigh *ne = l3_neigh_find(n->vrf, n->af, n->gw);

		if (ne)
			n->dmac = L3_MAC_RESOLVED | l3_mac_word(ne->mac);
	}
}

/* The longest frame next hop n forwards (l3_nh.max_len): the out
 * interface's MTU (1500 on a port with no interface), or what the tunnel's
 * underlay path takes (no limit while the remote has no underlay route:
 * such packets are dropped as tnl_no_route anyway). */
static uint16_t nh_max_len(const struct l3_nh *n)
{
	uint32_t max = UINT16_MAX;

	if (n->type == L3_NH_PORT) {
		const struct l3_iface *f = n->port < PORT_MAX ? &l3_cfg.ifc[n->port] : NULL;

		max = (f && f->on ? f->mtu : L3_MTU_DEFAULT) + 14u;
	} else if (n->type == L3_NH_TUNNEL && n->tun_rec) {
		max = tnl_push_max_len(n->tun_rec);
		if (!max)
			max = UINT16_MAX;
	}
	return (uint16_t)MIN(max, UINT16_MAX);
}

void l3_nh_mtu_refresh(void)
{
	for (uint32_t id = 0; id < nh_used; id++) {
		struct l3_nh *n = &l3_nh_tab[id];

		if (nh_ctl[id].refs && (n->type == L3_NH_PORT || n->type == L3_NH_TUNNEL))
			__atomic_store_n(&n->max_len, nh_max_len(n), __ATOMIC_RELAXED);
	}
}

int64_t l3_nh_get(const struct l3_nh *spec)
{
	struct l3_nh n = *spec;
	uint32_t h, id;
	int rc = nh_init();

	if (rc)
		return rc;
	n.dmac = 0;
	h = nh_hash_of(&n);
	for (id = nh_hash[h]; id != NH_END; id = nh_ctl[id].hnext)
		if (nh_same(&l3_nh_tab[id], &n)) {
			nh_ctl[id].refs++;
			return id;
		}
	if (n_free)
		id = nh_free[--n_free];
	else if (nh_used < L3_MAX_NH && nh_used <= LPM_MAX_VAL)
		id = nh_used++;
	else
		return -ENOSPC;
	if (n.type == L3_NH_TUNNEL) {
		struct dpact_buf b = { 0 };

		if (!tnl_encap_put(&b, (enum tnl_type)n.tun.kind, n.tun.remote, n.tun.key,
				   PORT_ID_NONE, 0)) {
			dpact_buf_free(&b);
			nh_free[n_free++] = id;
			return -ENOMEM;
		}
		n.tun_rec = (const void *)b.data;
	}
	if (n.type == L3_NH_ECMP)
		for (unsigned i = 0; i < n.n_members; i++)
			nh_ctl[n.members[i]].refs++;
	fill_macs(&n);
	n.max_len = nh_max_len(&n);
	/* Written before any route can name it; the LPM store that publishes
	 * the route is a release. */
	l3_nh_tab[id] = n;
	nh_ctl[id].refs = 1;
	nh_ctl[id].hnext = nh_hash[h];
	nh_hash[h] = id;
	nh_live++;
	return id;
}

void l3_nh_put(uint32_t id)
{
	struct l3_nh *n = &l3_nh_tab[id];
	uint32_t h, *pp;

	if (--nh_ctl[id].refs)
		return;
	h = nh_hash_of(n);
	for (pp = &nh_hash[h]; *pp != NH_END; pp = &nh_ctl[*pp].hnext)
		if (*pp == id) {
			*pp = nh_ctl[id].hnext;
			break;
		}
	if (n->type == L3_NH_ECMP)
		for (unsigned i = 0; i < n->n_members; i++)
			l3_nh_put(n->members[i]);
	/* The entry stays readable as it is until a grace period has passed:
	 * a PMD may have looked the route up just before it went. */
	nh_pending[n_pending++] = id;
	nh_live--;
}

void l3_nh_reclaim(void)
{
	while (n_pending) {
		uint32_t id = nh_pending[--n_pending];

		free((void *)l3_nh_tab[id].tun_rec);
		memset(&l3_nh_tab[id], 0, sizeof(l3_nh_tab[id]));
		nh_free[n_free++] = id;
	}
}

uint32_t l3_nh_count(void)
{
	return nh_live;
}

void l3_nh_neigh_changed(uint16_t vrf, uint8_t af, const uint8_t *ip, uint64_t mac)
{
	for (uint32_t id = 0; id < nh_used; id++) {
		struct l3_nh *n = &l3_nh_tab[id];

		if (nh_ctl[id].refs && n->type == L3_NH_PORT && n->has_gw && n->vrf == vrf &&
		    n->af == af && !memcmp(n->gw, ip, af == 4 ? 4 : 16))
			__atomic_store_n(&n->dmac, mac ? L3_MAC_RESOLVED | mac : 0, __ATOMIC_RELAXED);
	}
}

static const char *port_label(uint16_t id, char *buf, size_t size)
{
	const struct port *p = id < PORT_MAX ? port_by_id(id) : NULL;

	if (p)
		snprintf(buf, size, "%s", p->name);
	else
		snprintf(buf, size, "%u", id);
	return buf;
}

int l3_nh_format(uint32_t id, char *s, size_t size)
{
	const struct l3_nh *n = &l3_nh_tab[id];
	char ip[64], pn[64];
	int len = 0;

	switch (n->type) {
	case L3_NH_PORT:
		if (n->has_gw) {
			l3_format_ip(n->af, n->gw, ip, sizeof(ip));
			return snprintf(s, size, "via %s dev %s", ip, port_label(n->port, pn, sizeof(pn)));
		}
		return snprintf(s, size, "dev %s lladdr %02x:%02x:%02x:%02x:%02x:%02x",
				port_label(n->port, pn, sizeof(pn)),
				(unsigned)(n->dmac >> 40 & 0xff), (unsigned)(n->dmac >> 32 & 0xff),
				(unsigned)(n->dmac >> 24 & 0xff), (unsigned)(n->dmac >> 16 & 0xff),
				(unsigned)(n->dmac >> 8 & 0xff), (unsigned)(n->dmac & 0xff));
	case L3_NH_GLEAN:
		return snprintf(s, size, "dev %s", port_label(n->port, pn, sizeof(pn)));
	case L3_NH_LOCAL:
		return snprintf(s, size, "local");
	case L3_NH_BLACKHOLE:
		return snprintf(s, size, "blackhole");
	case L3_NH_TUNNEL:
		l3_format_ip(4, (const uint8_t *)&n->tun.remote, ip, sizeof(ip));
		return snprintf(s, size, "tunnel %s remote=%s %s=%u",
				tnl_type_name((enum tnl_type)n->tun.kind), ip,
				n->tun.kind == TNL_VXLAN || n->tun.kind == TNL_GENEVE ? "vni" :
				n->tun.kind == TNL_GRE ? "key" : "label", n->tun.key);
	case L3_NH_ECMP:
		len = snprintf(s, size, "ecmp");
		for (unsigned i = 0; i < n->n_members && (size_t)len < size; i++) {
			char m[160];

			l3_nh_format(n->members[i], m, sizeof(m));
			len += snprintf(s + len, size - (size_t)len, " %s", m);
		}
		return len;
	}
	return snprintf(s, size, "?");
}

json_t *l3_nh_json(uint32_t id)
{
	char buf[1024];
	json_t *o;

	l3_nh_format(id, buf, sizeof(buf));
	o = json_pack("{s:I,s:s}", "id", (json_int_t)id, "nexthop", buf);
	if (l3_nh_tab[id].type == L3_NH_PORT && l3_nh_tab[id].has_gw)
		json_object_set_new(o, "resolved",
				    json_boolean(l3_nh_tab[id].dmac & L3_MAC_RESOLVED));
	return o;
}
