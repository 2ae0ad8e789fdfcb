/*
 * The RIB: every route of a VRF by exact prefix, the source the LPM tables
 * are written from. A delete asks it for the parent route that takes the
 * prefix's place (as rte_lpm's rule table does). Control thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "l3_priv.h"

static size_t rt_hash(uint8_t af, const uint8_t *addr, unsigned depth, size_t n_buckets)
{
	uint64_t h = 0xcbf29ce484222325ull ^ af ^ (uint64_t)depth << 8;

	for (unsigned i = 0; i < (af == 4 ? 4u : 16u); i++)
		h = (h ^ addr[i]) * 0x100000001b3ull;
	return (size_t)(h ^ h >> 29) & (n_buckets - 1);
}

struct l3_rib *l3_rib_create(void)
{
	struct l3_rib *rib = calloc(1, sizeof(*rib));

	if (!rib)
		return NULL;
	rib->n_buckets = 1024;
	rib->buckets = calloc(rib->n_buckets, sizeof(*rib->buckets));
	if (!rib->buckets) {
		free(rib);
		return NULL;
	}
	return rib;
}

void l3_rib_destroy(struct l3_rib *rib)
{
	if (!rib)
		return;
	for (size_t i = 0; i < rib->n_buckets; i++)
		for (struct l3_route *r = rib->buckets[i], *nx; r; r = nx) {
			nx = r->next;
			l3_nh_put(r->nh);
			free(r);
		}
	free(rib->buckets);
	free(rib);
}

static void rib_grow(struct l3_rib *rib)
{
	size_t nb = rib->n_buckets * 2;
	struct l3_route **b = calloc(nb, sizeof(*b));

	if (!b)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < rib->n_buckets; i++)
		for (struct l3_route *r = rib->buckets[i], *nx; r; r = nx) {
			size_t h = rt_hash(r->af, r->addr, r->depth, nb);

			nx = r->next;
			r->next = b[h];
			b[h] = r;
		}
	free(rib->buckets);
	rib->buckets = b;
	rib->n_buckets = nb;
}

struct l3_route *l3_rib_find(const struct l3_rib *rib, uint8_t af, const uint8_t *addr,
			     unsigned depth)
{
	size_t h = rt_hash(af, addr, depth, rib->n_buckets);

	for (struct l3_route *r = rib->buckets[h]; r; r = r->next)
		if (r->af == af && r->depth == depth && !memcmp(r->addr, addr, af == 4 ? 4 : 16))
			return r;
	return NULL;
}

static void masked(uint8_t af, const uint8_t *addr, unsigned depth, uint8_t *out)
{
	memset(out, 0, 16);
	memcpy(out, addr, af == 4 ? 4 : 16);
	for (unsigned b = depth; b < (af == 4 ? 32u : 128u); b++)
		out[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
}

struct l3_route *l3_rib_best(const struct l3_rib *rib, uint8_t af, const uint8_t *addr,
			     unsigned max_depth)
{
	for (int d = (int)max_depth; d >= 0; d--) {
		uint8_t m[16];
		struct l3_route *r;

		masked(af, addr, (unsigned)d, m);
		r = l3_rib_find(rib, af, m, (unsigned)d);
		if (r)
			return r;
	}
	return NULL;
}

static struct lpm *vrf_lpm(struct l3_vrf *vrf, uint8_t af)
{
	return af == 4 ? vrf->v4 : vrf->v6;
}

int l3_route_insert(struct l3_vrf *vrf, uint8_t af, const uint8_t *addr, unsigned depth,
		    enum l3_route_kind kind, uint32_t nh)
{
	struct l3_rib *rib = vrf->rib;
	uint8_t m[16];
	struct l3_route *old, *r;
	size_t h;
	int rc;

	if ((af != 4 && af != 6) || depth > (af == 4 ? 32u : 128u))
		return -EINVAL;
	masked(af, addr, depth, m);
	old = l3_rib_find(rib, af, m, depth);
	if (old && !(old->kind == L3_RT_NEIGH && kind != L3_RT_NEIGH))
		return -EEXIST;
	rc = lpm_add(vrf_lpm(vrf, af), m, depth, nh);
	if (rc)
		return rc;
	if (old) {
		/* A neighbour's host route gives way; the neighbour stays in
		 * the neighbour table and comes back if this route goes. */
		l3_nh_put(old->nh);
		old->nh = nh;
		old->kind = (uint8_t)kind;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		struct l3_route *p = l3_rib_best(rib, af, m, depth ? depth - 1 : 0);

		lpm_del(vrf_lpm(vrf, af), m, depth, p && depth, p ? p->depth : 0, p ? p->nh : 0);
		return -ENOMEM;
	}
	memcpy(r->addr, m, 16);
	r->af = af;
	r->depth = (uint8_t)depth;
	r->kind = (uint8_t)kind;
	r->nh = nh;
	h = rt_hash(af, m, depth, rib->n_buckets);
	r->next = rib->buckets[h];
	rib->buckets[h] = r;
	if (++rib->n > rib->n_buckets)
		rib_grow(rib);
	return 0;
}

int l3_route_remove(struct l3_vrf *vrf, uint8_t af, const uint8_t *addr, unsigned depth,
		    int kind)
{
	struct l3_rib *rib = vrf->rib;
	struct l3_route **pp, *r, *parent = NULL;
	uint8_t m[16];
	size_t h;

	if ((af != 4 && af != 6) || depth > (af == 4 ? 32u : 128u))
		return -EINVAL;
	masked(af, addr, depth, m);
	h = rt_hash(af, m, depth, rib->n_buckets);
	for (pp = &rib->buckets[h]; (r = *pp); pp = &r->next)
		if (r->af == af && r->depth == depth && !memcmp(r->addr, m, 16))
			break;
	if (!r || (kind >= 0 && r->kind != kind))
		return -ENOENT;
	if (depth)
		parent = l3_rib_best(rib, af, m, depth - 1);
	lpm_del(vrf_lpm(vrf, af), m, depth, parent, parent ? parent->depth : 0,
		parent ? parent->nh : 0);
	*pp = r->next;
	rib->n--;
	l3_nh_put(r->nh);
	free(r);
	if (depth == (af == 4 ? 32u : 128u) && kind != L3_RT_NEIGH)
		l3_neigh_route_gone((uint16_t)vrf->id, af, m);
	return 0;
}

void l3_rib_foreach(const struct l3_rib *rib, void (*fn)(struct l3_route *, void *), void *aux)
{
	for (size_t i = 0; i < rib->n_buckets; i++)
		for (struct l3_route *r = rib->buckets[i], *nx; r; r = nx) {
			nx = r->next;	/* fn may remove r */
			fn(r, aux);
		}
}
