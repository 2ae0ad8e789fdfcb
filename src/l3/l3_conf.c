/*
 * The vRouter's configuration: VRFs, interfaces, the RCU-published snapshot,
 * grace periods, the glean ring's consumer, counters, and port removal.
 * Control thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "l3_priv.h"
#include "../tnl/tnl.h"
#include "../port/port.h"

struct l3_conf l3_cfg;
struct l3_conf *l3_conf_rcu;
uint8_t l3_router_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
struct l3_learn_ring l3_learn_rings[DPACT_PMD_MAX];
struct l3_pmd_stats l3_stats[DPACT_PMD_MAX];

const char *const l3_counter_names[L3_C_MAX] = {
#define X(e, s) [L3_C_##e] = s,
	L3_COUNTERS(X)
#undef X
};

static struct ev_timer *drain_timer;

int l3_conf_publish(void)
{
	struct l3_conf *c = malloc(sizeof(*c)), *old;

	if (!c)
		return -ENOMEM;
	*c = l3_cfg;
	old = l3_conf_rcu;
	rcu_assign_pointer(l3_conf_rcu, c);
	synchronize_rcu();
	free(old);
	return 0;
}

void l3_sync(void)
{
	synchronize_rcu();
	for (unsigned i = 0; i < L3_MAX_VRF; i++) {
		struct l3_vrf *v = l3_cfg.vrf[i];

		if (v) {
			lpm_reclaim(v->v4);
			lpm_reclaim(v->v6);
		}
	}
	l3_nh_reclaim();
}

static void drain_tick(void *arg)
{
	(void)arg;
	l3_learn_drain();
}

int l3_vrf_add(uint32_t id, const char *name)
{
	struct l3_vrf *v;
	int rc;

	if (id >= L3_MAX_VRF)
		return -EINVAL;
	if (l3_cfg.vrf[id])
		return -EEXIST;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->id = id;
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "");
	v->v4 = lpm_create(4, 0);
	v->v6 = lpm_create(16, 0);
	v->rib = l3_rib_create();
	if (!v->v4 || !v->v6 || !v->rib) {
		rc = -ENOMEM;
		goto err_free;
	}
	l3_cfg.vrf[id] = v;
	rc = l3_conf_publish();
	if (rc) {
		l3_cfg.vrf[id] = NULL;
		goto err_free;
	}
	if (!drain_timer)
		drain_timer = ev_timer_add(100, 100, drain_tick, NULL);
	return 0;
err_free:
	l3_rib_destroy(v->rib);
	lpm_destroy(v->v4);
	lpm_destroy(v->v6);
	free(v);
	return rc;
}

static void drop_iface(uint16_t port);

int l3_vrf_del(uint32_t id)
{
	struct l3_vrf *v = id < L3_MAX_VRF ? l3_cfg.vrf[id] : NULL;

	if (!v)
		return -ENOENT;
	l3_neigh_flush((int)id, PORT_ID_NONE);
	for (uint16_t p = 0; p < PORT_MAX; p++)
		if (l3_cfg.ifc[p].on && l3_cfg.ifc[p].vrf == id)
			drop_iface(p);
	l3_cfg.vrf[id] = NULL;
	l3_conf_publish();	/* waits a grace period: no PMD holds v now */
	l3_rib_destroy(v->rib);
	lpm_destroy(v->v4);
	lpm_destroy(v->v6);
	free(v);
	l3_sync();
	return 0;
}

/* ---- interfaces ---- */

/* The connected and local routes of one interface address. */
static int iface_routes(uint16_t port, uint16_t vrf, uint8_t af, const uint8_t *a, unsigned plen,
			bool add)
{
	struct l3_vrf *v = l3_cfg.vrf[vrf];
	struct l3_nh spec = { .port = port, .vrf = vrf, .af = af };
	unsigned host = af == 4 ? 32 : 128;
	int64_t glean, local;
	int rc;

	if (!add) {
		if (plen < host)
			l3_route_remove(v, af, a, plen, L3_RT_CONNECTED);
		l3_route_remove(v, af, a, host, L3_RT_LOCAL);
		return 0;
	}
	spec.type = L3_NH_LOCAL;
	local = l3_nh_get(&spec);
	if (local < 0)
		return (int)local;
	rc = l3_route_insert(v, af, a, host, L3_RT_LOCAL, (uint32_t)local);
	if (rc) {
		l3_nh_put((uint32_t)local);
		return rc;
	}
	if (plen == host)
		return 0;
	spec.type = L3_NH_GLEAN;
	glean = l3_nh_get(&spec);
	if (glean < 0) {
		rc = (int)glean;
		goto err_local;
	}
	rc = l3_route_insert(v, af, a, plen, L3_RT_CONNECTED, (uint32_t)glean);
	if (rc) {
		l3_nh_put((uint32_t)glean);
		goto err_local;
	}
	return 0;
err_local:
	l3_route_remove(v, af, a, host, L3_RT_LOCAL);
	return rc;
}

static void drop_iface(uint16_t port)
{
	struct l3_iface *f = &l3_cfg.ifc[port];

	for (unsigned i = 0; i < f->n4; i++)
		iface_routes(port, f->vrf, 4, (const uint8_t *)&f->a4[i], f->plen4[i], false);
	for (unsigned i = 0; i < f->n6; i++)
		iface_routes(port, f->vrf, 6, f->a6[i], f->plen6[i], false);
	memset(f, 0, sizeof(*f));
}

/* Make port an interface of vrf with the given addresses (all or nothing). */
int l3_iface_set(uint16_t port, uint16_t vrf, const struct l3_iface *want, char *err, size_t errlen)
{
	struct l3_iface *f = &l3_cfg.ifc[port];
	unsigned done4 = 0, done6 = 0;
	int rc = 0;

	if (!l3_cfg.vrf[vrf]) {
		snprintf(err, errlen, "vrf %u does not exist (vrf-add %u first)", vrf, vrf);
		return -ENOENT;
	}
	if (f->on) {
		snprintf(err, errlen, "already an interface of vrf %u (vrf-if-del first)", f->vrf);
		return -EEXIST;
	}
	for (; done4 < want->n4; done4++) {
		rc = iface_routes(port, vrf, 4, (const uint8_t *)&want->a4[done4], want->plen4[done4], true);
		if (rc)
			break;
	}
	for (; !rc && done6 < want->n6; done6++) {
		rc = iface_routes(port, vrf, 6, want->a6[done6], want->plen6[done6], true);
		if (rc)
			break;
	}
	if (rc) {
		snprintf(err, errlen, "address %u: %s", done4 + done6 + 1,
			 rc == -EEXIST ? "its subnet or address is already routed in this vrf" :
			 strerror(-rc));
		while (done6--)
			iface_routes(port, vrf, 6, want->a6[done6], want->plen6[done6], false);
		while (done4--)
			iface_routes(port, vrf, 4, (const uint8_t *)&want->a4[done4], want->plen4[done4], false);
		return rc;
	}
	*f = *want;
	f->on = true;
	f->vrf = vrf;
	if (!f->mtu)
		f->mtu = L3_MTU_DEFAULT;
	l3_nh_mtu_refresh();
	rc = l3_conf_publish();
	l3_sync();
	return rc;
}

int l3_iface_del(uint16_t port)
{
	if (port >= PORT_MAX || !l3_cfg.ifc[port].on)
		return -ENOENT;
	l3_neigh_flush(l3_cfg.ifc[port].vrf, port);
	drop_iface(port);
	l3_nh_mtu_refresh();
	l3_conf_publish();
	l3_sync();
	return 0;
}

/* ---- routes naming a port go with it ---- */

struct port_sweep {
	struct l3_vrf *vrf;
	uint16_t port;
};

static bool nh_uses_port(uint32_t id, uint16_t port)
{
	const struct l3_nh *n = &l3_nh_tab[id];

	if (n->type == L3_NH_ECMP) {
		for (unsigned i = 0; i < n->n_members; i++)
			if (nh_uses_port(n->members[i], port))
				return true;
		return false;
	}
	return (n->type == L3_NH_PORT || n->type == L3_NH_GLEAN) && n->port == port;
}

static void sweep_route(struct l3_route *r, void *aux)
{
	struct port_sweep *s = aux;

	if (nh_uses_port(r->nh, s->port))
		l3_route_remove(s->vrf, r->af, r->addr, r->depth, -1);
}

void l3_port_removed(uint16_t id)
{
	if (!l3_nh_tab)
		return;
	l3_neigh_flush(-1, id);
	if (l3_cfg.ifc[id].on)
		drop_iface(id);
	for (unsigned v = 0; v < L3_MAX_VRF; v++) {
		struct port_sweep s = { l3_cfg.vrf[v], id };

		if (s.vrf)
			l3_rib_foreach(s.vrf->rib, sweep_route, &s);
	}
	l3_conf_publish();
	l3_sync();
}

static void port_gone(struct port *p)
{
	l3_port_removed(p->id);
}

static struct port_listener l3_port_listener = { .removed = port_gone };

static void __attribute__((constructor)) l3_listen(void)
{
	port_listener_register(&l3_port_listener);
	/* Underlay MTUs and routes decide the tunnel next hops' max_len. */
	tnl_conf_listen(l3_nh_mtu_refresh);
}

/* ---- gleaning and counters ---- */

void l3_learn_drain(void)
{
	bool changed = false;

	for (unsigned i = 0; i < DPACT_PMD_MAX; i++) {
		struct l3_learn_ring *r = &l3_learn_rings[i];
		uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		uint32_t tail = r->tail;

		for (; tail != head; tail++) {
			const struct l3_learn *e = &r->e[tail % L3_LEARN_RING];
			const struct l3_iface *f = e->port < PORT_MAX ? &l3_cfg.ifc[e->port] : NULL;

			/* Only on an interface of that VRF, as the PMD saw it. */
			if (f && f->on && f->vrf == e->vrf && e->vrf < L3_MAX_VRF && l3_cfg.vrf[e->vrf] &&
			    !l3_neigh_set(e->vrf, e->af, e->ip, e->mac, e->port, false))
				changed = true;
		}
		__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
	}
	if (changed)
		l3_sync();
}

void l3_counters(uint64_t out[L3_C_MAX])
{
	memset(out, 0, sizeof(uint64_t) * L3_C_MAX);
	for (unsigned p = 0; p < DPACT_PMD_MAX; p++)
		for (unsigned c = 0; c < L3_C_MAX; c++)
			out[c] += __atomic_load_n(&l3_stats[p].c[c], __ATOMIC_RELAXED);
}
