/*
 * Neighbours: IP → MAC on a port, per VRF. Static (neigh-add) or gleaned
 * from the ARP and ND packets guests send the router. A neighbour is
 * reachable through a host route (/32, /128) to a next hop carrying its MAC,
 * so the datapath resolves it with the same LPM lookup that routes; next
 * hops "via" it get its MAC stored into them. Control thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "l3_priv.h"
#include "../port/port.h"

#define NEIGH_BUCKETS	4096

static struct l3_neigh *neigh_tab[NEIGH_BUCKETS];
static size_t n_neigh;

static size_t neigh_hash(uint16_t vrf, uint8_t af, const uint8_t *ip)
{
	uint32_t h = 2166136261u ^ vrf ^ (uint32_t)af << 16;

	for (unsigned i = 0; i < (af == 4 ? 4u : 16u); i++)
		h = (h ^ ip[i]) * 16777619u;
	return h & (NEIGH_BUCKETS - 1);
}

static unsigned alen(uint8_t af)
{
	return af == 4 ? 4 : 16;
}

struct l3_neigh *l3_neigh_find(uint16_t vrf, uint8_t af, const uint8_t *ip)
{
	for (struct l3_neigh *n = neigh_tab[neigh_hash(vrf, af, ip)]; n; n = n->next)
		if (n->vrf == vrf && n->af == af && !memcmp(n->ip, ip, alen(af)))
			return n;
	return NULL;
}

/* (Re)install the neighbour's host route; a route of another kind at the
 * same prefix wins and the neighbour waits behind it. */
static int neigh_install(const struct l3_neigh *n)
{
	struct l3_vrf *vrf = l3_cfg.vrf[n->vrf];
	struct l3_nh spec = { 0 };
	struct l3_route *r;
	int64_t id;
	int rc;

	if (!vrf)
		return -ENOENT;
	r = l3_rib_find(vrf->rib, n->af, n->ip, n->af == 4 ? 32 : 128);
	if (r && r->kind != L3_RT_NEIGH)
		return 0;
	spec.type = L3_NH_PORT;
	spec.port = n->port;
	spec.vrf = n->vrf;
	spec.af = n->af;
	memcpy(spec.gw, n->ip, alen(n->af));	/* identity only: has_gw stays 0 */
	id = l3_nh_get(&spec);
	if (id < 0)
		return (int)id;
	__atomic_store_n(&l3_nh_tab[id].dmac, L3_MAC_RESOLVED | l3_mac_word(n->mac),
			 __ATOMIC_RELAXED);
	if (r) {
		uint32_t old = r->nh;

		/* Same prefix, new MAC or port: repoint the LPM entries. */
		rc = lpm_add(n->af == 4 ? vrf->v4 : vrf->v6, n->ip, n->af == 4 ? 32 : 128,
			     (uint32_t)id);
		if (rc) {
			l3_nh_put((uint32_t)id);
			return rc;
		}
		r->nh = (uint32_t)id;
		l3_nh_put(old);
		return 0;
	}
	rc = l3_route_insert(vrf, n->af, n->ip, n->af == 4 ? 32 : 128, L3_RT_NEIGH, (uint32_t)id);
	if (rc)
		l3_nh_put((uint32_t)id);
	return rc;
}

int l3_neigh_set(uint16_t vrf, uint8_t af, const uint8_t *ip, const uint8_t *mac, uint16_t port,
		 bool is_static)
{
	struct l3_neigh *n = l3_neigh_find(vrf, af, ip);
	bool fresh = !n;
	int rc;

	if (!l3_cfg.vrf[vrf])
		return -ENOENT;
	if (n && n->is_static && !is_static)
		return 0;	/* gleaning never overrides what an operator set */
	if (n && n->port == port && !memcmp(n->mac, mac, 6)) {
		n->updated_ns = time_ns();
		n->is_static |= is_static;
		return 0;
	}
	if (fresh) {
		size_t h = neigh_hash(vrf, af, ip);

		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->vrf = vrf;
		n->af = af;
		memcpy(n->ip, ip, alen(af));
		n->next = neigh_tab[h];
		neigh_tab[h] = n;
		n_neigh++;
	}
	memcpy(n->mac, mac, 6);
	n->port = port;
	n->is_static = is_static;
	n->updated_ns = time_ns();
	rc = neigh_install(n);
	if (rc) {
		if (fresh)
			l3_neigh_del(vrf, af, ip);
		return rc;
	}
	l3_nh_neigh_changed(vrf, af, ip, l3_mac_word(mac));
	return 0;
}

int l3_neigh_del(uint16_t vrf, uint8_t af, const uint8_t *ip)
{
	struct l3_neigh **pp, *n;
	struct l3_vrf *v = l3_cfg.vrf[vrf];

	for (pp = &neigh_tab[neigh_hash(vrf, af, ip)]; (n = *pp); pp = &n->next)
		if (n->vrf == vrf && n->af == af && !memcmp(n->ip, ip, alen(af)))
			break;
	if (!n)
		return -ENOENT;
	*pp = n->next;
	n_neigh--;
	if (v)
		l3_route_remove(v, af, n->ip, af == 4 ? 32 : 128, L3_RT_NEIGH);
	l3_nh_neigh_changed(vrf, af, ip, 0);
	free(n);
	return 0;
}

void l3_neigh_route_gone(uint16_t vrf, uint8_t af, const uint8_t *ip)
{
	struct l3_neigh *n = l3_neigh_find(vrf, af, ip);

	if (n)
		neigh_install(n);
}

void l3_neigh_flush(int vrf, uint16_t port)
{
	for (size_t h = 0; h < NEIGH_BUCKETS; h++)
		for (struct l3_neigh *n = neigh_tab[h], *nx; n; n = nx) {
			nx = n->next;
			if ((vrf < 0 || n->vrf == vrf) && (port == PORT_ID_NONE || n->port == port))
				l3_neigh_del(n->vrf, n->af, n->ip);
		}
}

json_t *l3_neigh_json(int vrf)
{
	json_t *arr = json_array();
	uint64_t now = time_ns();

	for (size_t h = 0; h < NEIGH_BUCKETS; h++)
		for (const struct l3_neigh *n = neigh_tab[h]; n; n = n->next) {
			const struct port *p = port_by_id(n->port);
			char ip[64], mac[18];

			if (vrf >= 0 && n->vrf != vrf)
				continue;
			l3_format_ip(n->af, n->ip, ip, sizeof(ip));
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
				 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
			json_array_append_new(arr, json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}",
				"vrf", n->vrf, "ip", ip, "mac", mac,
				"port", p ? p->name : "?",
				"state", n->is_static ? "static" : "learned",
				"age", (json_int_t)((now - n->updated_ns) / 1000000000ull)));
		}
	return arr;
}
