/*
 * The underlay and tunnel configuration: one immutable snapshot (uplinks
 * with their addresses, routes, tunnel ports) replaced whole by the control
 * thread — copy, edit, publish, grace period, free — and the neighbour
 * table.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "tnl_priv.h"

struct tnl_conf *tnl_conf_rcu;
uint8_t tnl_uplink_map[PORT_MAX];
struct tnl_pmd_stats tnl_stats[DPACT_PMD_MAX];
static struct tnl_conf *conf_cur;	/* == tnl_conf_rcu: the writer's view */

struct tnl_conf *tnl_conf_copy(void)
{
	struct tnl_conf *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	if (conf_cur)
		memcpy(c, conf_cur, sizeof(*c));
	else
		memset(c, 0, sizeof(*c));
	return c;
}

static int route_cmp(const void *x, const void *y)
{
	const struct tnl_route *a = x, *b = y;

	return (int)b->plen - (int)a->plen;
}

static int route6_cmp(const void *x, const void *y)
{
	const struct tnl_route6 *a = x, *b = y;

	return (int)b->plen - (int)a->plen;
}

/* Rebuild the lookup indexes from the arrays. */
void tnl_conf_reindex(struct tnl_conf *c)
{
	memset(c->uplink_of, 0, sizeof(c->uplink_of));
	memset(c->port_idx, 0, sizeof(c->port_idx));
	memset(c->udp_ports, 0, sizeof(c->udp_ports));
	for (uint16_t i = 0; i < c->n_uplinks; i++)
		c->uplink_of[c->uplinks[i].port->id] = (uint8_t)(i + 1);
	for (uint16_t i = 0; i < c->n_ports; i++) {
		const struct tnl_port_cfg *p = &c->ports[i];

		c->port_idx[p->port] = (uint8_t)(i + 1);
		if (!c->udp_ports[p->type])
			c->udp_ports[p->type] = p->dst_port;
	}
	qsort(c->routes, c->n_routes, sizeof(c->routes[0]), route_cmp);
	qsort(c->routes6, c->n_routes6, sizeof(c->routes6[0]), route6_cmp);
}

static void (*conf_listeners[4])(void);

void tnl_conf_listen(void (*fn)(void))
{
	for (unsigned i = 0; i < sizeof(conf_listeners) / sizeof(conf_listeners[0]); i++)
		if (!conf_listeners[i]) {
			conf_listeners[i] = fn;
			return;
		}
	abort();	/* a fixed set of modules listens */
}

void tnl_conf_publish(struct tnl_conf *c)
{
	struct tnl_conf *old = conf_cur;

	tnl_conf_reindex(c);
	rcu_assign_pointer(tnl_conf_rcu, c);
	conf_cur = c;
	for (unsigned i = 0; i < PORT_MAX; i++)
		__atomic_store_n(&tnl_uplink_map[i], c->uplink_of[i], __ATOMIC_RELAXED);
	synchronize_rcu();
	free(old);
	for (unsigned i = 0; i < sizeof(conf_listeners) / sizeof(conf_listeners[0]); i++)
		if (conf_listeners[i])
			conf_listeners[i]();
}

uint32_t tnl_push_max_len(const struct dpact_tnl_push *a)
{
	bool v6 = a->flags & DPACT_TNL_IPV6;
	const struct tnl_route *rt = conf_cur && !v6 ? tnl_route_lookup(conf_cur, a->dst) : NULL;
	const struct tnl_route6 *rt6 = conf_cur && v6 ? tnl_route6_lookup(conf_cur, a->dst6) : NULL;
	static const uint8_t mac[6];
	struct tnl_hdr_params hp = { .a = a, .dst_mac = mac, .src_mac = mac };
	const struct tnl_uplink *u;
	uint8_t hdr[128];
	uint32_t max;
	size_t hlen;

	if (!rt && !rt6)
		return 0;
	u = &conf_cur->uplinks[rt ? rt->uplink : rt6->uplink];
	hp.src_ip = a->src ? a->src : u->ip;
	hp.src_ip6 = ip6_is_zero(a->src6) ? u->ip6 : a->src6;
	hlen = tnl_hdr_build(&hp, hdr, sizeof(hdr));
	if (!hlen)
		return 0;
	/* As encap_prepare's max_len (tnl_dp.c): the encapsulated frame
	 * within the uplink's MTU plus its Ethernet header. */
	max = (uint32_t)u->mtu + ETH_HLEN - (uint32_t)hlen;
	if (a->tnl_type == TNL_MPLSOGRE || a->tnl_type == TNL_MPLSOUDP)
		max += ETH_HLEN - 4;
	return max;
}

const struct tnl_route *tnl_route_lookup(const struct tnl_conf *c, uint32_t dst)
{
	/* Longest prefix first: the first hit wins. A handful of underlay
	 * routes, looked up once per batch. */
	for (uint16_t i = 0; i < c->n_routes; i++)
		if ((dst & c->routes[i].mask) == c->routes[i].prefix)
			return &c->routes[i];
	return NULL;
}

/* a & the plen-bit prefix mask, into out. */
static void mask6(const uint8_t a[16], uint8_t plen, uint8_t out[16])
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;

		out[i] = bits >= 8 ? a[i] : (uint8_t)(a[i] & (0xff00 >> bits));
	}
}

const struct tnl_route6 *tnl_route6_lookup(const struct tnl_conf *c, const uint8_t dst[16])
{
	for (uint16_t i = 0; i < c->n_routes6; i++) {
		uint8_t m[16];

		mask6(dst, c->routes6[i].plen, m);
		if (!memcmp(m, c->routes6[i].prefix, 16))
			return &c->routes6[i];
	}
	return NULL;
}

static uint32_t plen_mask(uint8_t plen)
{
	return plen ? htonl(~0u << (32 - plen)) : 0;
}

/* The MAC of the kernel device behind a port ("dev" in its show output). */
static int port_dev_mac(struct port *port, uint8_t mac[6])
{
	json_t *o = json_object();
	const char *dev;
	struct ifreq ifr = { 0 };
	int fd, rc = -ENODEV;

	if (!o)
		return -ENOMEM;
	if (port->ops->show)
		port->ops->show(port, o);
	dev = json_string_value(json_object_get(o, "dev"));
	if (dev && strlen(dev) < IFNAMSIZ) {
		strcpy(ifr.ifr_name, dev);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			rc = ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 ? -errno : 0;
			if (!rc)
				memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
			close(fd);
		}
	}
	json_decref(o);
	return rc;
}

static int uplink_index(const struct tnl_conf *c, const struct port *port)
{
	for (uint16_t i = 0; i < c->n_uplinks; i++)
		if (c->uplinks[i].port == port)
			return i;
	return -1;
}

/* Remove uplink i and every route through it; renumber the others. */
static void uplink_remove(struct tnl_conf *c, int i)
{
	uint16_t k = 0;

	for (uint16_t r = 0; r < c->n_routes; r++) {
		struct tnl_route rt = c->routes[r];

		if (rt.uplink == i)
			continue;
		if (rt.uplink > i)
			rt.uplink--;
		c->routes[k++] = rt;
	}
	c->n_routes = k;
	k = 0;
	for (uint16_t r = 0; r < c->n_routes6; r++) {
		struct tnl_route6 rt = c->routes6[r];

		if (rt.uplink == i)
			continue;
		if (rt.uplink > i)
			rt.uplink--;
		c->routes6[k++] = rt;
	}
	c->n_routes6 = k;
	memmove(&c->uplinks[i], &c->uplinks[i + 1],
		(size_t)(c->n_uplinks - i - 1) * sizeof(c->uplinks[0]));
	c->n_uplinks--;
}

static bool route_put(struct tnl_conf *c, const struct tnl_route *rt)
{
	for (uint16_t r = 0; r < c->n_routes; r++)
		if (c->routes[r].prefix == rt->prefix && c->routes[r].plen == rt->plen) {
			c->routes[r] = *rt;
			return true;
		}
	if (c->n_routes == TNL_MAX_ROUTES)
		return false;
	c->routes[c->n_routes++] = *rt;
	return true;
}

static bool route6_put(struct tnl_conf *c, const struct tnl_route6 *rt)
{
	for (uint16_t r = 0; r < c->n_routes6; r++)
		if (!memcmp(c->routes6[r].prefix, rt->prefix, 16) && c->routes6[r].plen == rt->plen) {
			c->routes6[r] = *rt;
			return true;
		}
	if (c->n_routes6 == TNL_MAX_ROUTES)
		return false;
	c->routes6[c->n_routes6++] = *rt;
	return true;
}

int tnl_underlay_set(struct port *port, uint32_t ip, uint8_t plen, uint32_t gw,
		     const uint8_t *mac, uint16_t mtu, char *err, size_t errlen)
{
	struct tnl_underlay_args ua = { .ip = ip, .plen = plen, .gw = gw, .mac = mac, .mtu = mtu };

	return tnl_underlay_apply(port, &ua, err, errlen);
}

/* The IPv6 half of underlay-set: checks, then the connected (and default)
 * routes into c. 0 or -errno with err. */
static int underlay6_put(struct tnl_conf *c, const struct tnl_underlay_args *ua, uint8_t uplink,
			 char *err, size_t errlen)
{
	struct tnl_route6 conn = { .plen = ua->plen6, .uplink = uplink, .connected = true };
	struct tnl_route6 def = { .uplink = uplink, .connected = true };
	uint8_t g[16];

	mask6(ua->ip6, ua->plen6, conn.prefix);
	if (ua->has_gw6) {
		mask6(ua->gw6, ua->plen6, g);
		if (memcmp(g, conn.prefix, 16)) {
			snprintf(err, errlen, "IPv6 gateway is not inside the %u-bit subnet of the address",
				 ua->plen6);
			return -EINVAL;
		}
		memcpy(def.gw, ua->gw6, 16);
	}
	for (uint16_t k = 0; k < c->n_uplinks; k++)
		if (c->uplinks[k].has_ip6 && !memcmp(c->uplinks[k].ip6, ua->ip6, 16)) {
			snprintf(err, errlen, "address already on %s", c->uplinks[k].port->name);
			return -EEXIST;
		}
	if (!route6_put(c, &conn) || (ua->has_gw6 && !route6_put(c, &def))) {
		snprintf(err, errlen, "IPv6 route table full (%d)", TNL_MAX_ROUTES);
		return -ENOSPC;
	}
	return 0;
}

int tnl_underlay_apply(struct port *port, const struct tnl_underlay_args *ua, char *err,
		       size_t errlen)
{
	struct tnl_conf *c;
	struct tnl_uplink u = { .port = port, .ip = ua->ip, .plen = ua->plen, .gw = ua->gw,
				.mtu = ua->mtu ? ua->mtu : 1500, .has_ip6 = ua->has_ip6,
				.has_gw6 = ua->has_gw6, .plen6 = ua->plen6 };
	struct tnl_route conn = { .prefix = ua->ip & plen_mask(ua->plen),
				  .mask = plen_mask(ua->plen), .plen = ua->plen, .connected = true };
	struct tnl_route def = { .gw = ua->gw, .connected = true };
	int i, rc;

	if (tnl_port_is_tunnel(port)) {
		snprintf(err, errlen, "a tunnel port cannot carry the underlay");
		return -EINVAL;
	}
	if (!ua->ip && !ua->has_ip6) {
		snprintf(err, errlen, "an IPv4 or IPv6 address is required");
		return -EINVAL;
	}
	if (ua->mac) {
		memcpy(u.mac, ua->mac, 6);
	} else if (port_dev_mac(port, u.mac) < 0) {
		snprintf(err, errlen, "no kernel device MAC for %s: give mac=", port->name);
		return -EINVAL;
	}
	if (ua->has_ip6) {
		memcpy(u.ip6, ua->ip6, 16);
		memcpy(u.gw6, ua->gw6, 16);
	}
	if (ua->gw && (!ua->ip || (ua->gw & conn.mask) != conn.prefix)) {
		snprintf(err, errlen, "gateway is not inside %u-bit subnet of the address", ua->plen);
		return -EINVAL;
	}
	c = tnl_conf_copy();
	if (!c)
		return -ENOMEM;
	i = uplink_index(c, port);
	if (i >= 0)
		uplink_remove(c, i);
	for (uint16_t k = 0; ua->ip && k < c->n_uplinks; k++)
		if (c->uplinks[k].ip == ua->ip) {
			snprintf(err, errlen, "address already on %s", c->uplinks[k].port->name);
			free(c);
			return -EEXIST;
		}
	if (c->n_uplinks == TNL_MAX_UPLINKS) {
		snprintf(err, errlen, "at most %d underlay ports", TNL_MAX_UPLINKS);
		free(c);
		return -ENOSPC;
	}
	conn.uplink = def.uplink = (uint8_t)c->n_uplinks;
	if (ua->ip && (!route_put(c, &conn) || (ua->gw && !route_put(c, &def)))) {
		snprintf(err, errlen, "route table full (%d)", TNL_MAX_ROUTES);
		free(c);
		return -ENOSPC;
	}
	if (ua->has_ip6 && (rc = underlay6_put(c, ua, (uint8_t)c->n_uplinks, err, errlen)) < 0) {
		free(c);
		return rc;
	}
	c->uplinks[c->n_uplinks++] = u;
	tnl_conf_publish(c);
	return 0;
}

int tnl_underlay_del(struct port *port)
{
	struct tnl_conf *c;

	if (!conf_cur || uplink_index(conf_cur, port) < 0)
		return -ENOENT;
	c = tnl_conf_copy();
	if (!c)
		return -ENOMEM;
	uplink_remove(c, uplink_index(c, port));
	tnl_conf_publish(c);
	neigh_flush_port(port->id);
	return 0;
}

int tnl_route_add(uint32_t prefix, uint8_t plen, uint32_t gw, struct port *port,
		  char *err, size_t errlen)
{
	struct tnl_route rt = { .prefix = prefix & plen_mask(plen), .mask = plen_mask(plen),
				.plen = plen, .gw = gw };
	struct tnl_conf *c;
	int i = conf_cur ? uplink_index(conf_cur, port) : -1;

	if (i < 0) {
		snprintf(err, errlen, "%s has no underlay address (underlay-set first)", port->name);
		return -ENOENT;
	}
	if (!conf_cur->uplinks[i].ip) {
		/* Its packets would leave from 0.0.0.0 and ARP as it. */
		snprintf(err, errlen, "%s has no IPv4 underlay address", port->name);
		return -EADDRNOTAVAIL;
	}
	c = tnl_conf_copy();
	if (!c)
		return -ENOMEM;
	rt.uplink = (uint8_t)i;
	if (!route_put(c, &rt)) {
		snprintf(err, errlen, "route table full (%d)", TNL_MAX_ROUTES);
		free(c);
		return -ENOSPC;
	}
	tnl_conf_publish(c);
	return 0;
}

int tnl_route6_add(const uint8_t prefix[16], uint8_t plen, const uint8_t *gw, struct port *port,
		   char *err, size_t errlen)
{
	struct tnl_route6 rt = { .plen = plen };
	struct tnl_conf *c;
	int i = conf_cur ? uplink_index(conf_cur, port) : -1;

	if (i < 0 || !conf_cur->uplinks[i].has_ip6) {
		snprintf(err, errlen, "%s has no IPv6 underlay address (underlay-set first)",
			 port->name);
		return -ENOENT;
	}
	mask6(prefix, plen, rt.prefix);
	if (gw)
		memcpy(rt.gw, gw, 16);
	c = tnl_conf_copy();
	if (!c)
		return -ENOMEM;
	rt.uplink = (uint8_t)i;
	if (!route6_put(c, &rt)) {
		snprintf(err, errlen, "IPv6 route table full (%d)", TNL_MAX_ROUTES);
		free(c);
		return -ENOSPC;
	}
	tnl_conf_publish(c);
	return 0;
}

int tnl_route6_del(const uint8_t prefix[16], uint8_t plen)
{
	struct tnl_conf *c;
	uint8_t p[16];

	mask6(prefix, plen, p);
	for (uint16_t r = 0; conf_cur && r < conf_cur->n_routes6; r++) {
		if (memcmp(conf_cur->routes6[r].prefix, p, 16) || conf_cur->routes6[r].plen != plen)
			continue;
		c = tnl_conf_copy();
		if (!c)
			return -ENOMEM;
		memmove(&c->routes6[r], &c->routes6[r + 1],
			(size_t)(c->n_routes6 - r - 1) * sizeof(c->routes6[0]));
		c->n_routes6--;
		tnl_conf_publish(c);
		return 0;
	}
	return -ENOENT;
}

int tnl_route_del(uint32_t prefix, uint8_t plen)
{
	struct tnl_conf *c;

	prefix &= plen_mask(plen);
	for (uint16_t r = 0; conf_cur && r < conf_cur->n_routes; r++) {
		if (conf_cur->routes[r].prefix != prefix || conf_cur->routes[r].plen != plen)
			continue;
		c = tnl_conf_copy();
		if (!c)
			return -ENOMEM;
		memmove(&c->routes[r], &c->routes[r + 1],
			(size_t)(c->n_routes - r - 1) * sizeof(c->routes[0]));
		c->n_routes--;
		tnl_conf_publish(c);
		return 0;
	}
	return -ENOENT;
}

static json_t *ip_json(uint32_t ip)
{
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, s, sizeof(s));
	return json_string(s);
}

static json_t *ip6_json(const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	return json_string(s);
}

json_t *tnl_underlay_json(void)
{
	json_t *o = json_object(), *ups = json_array(), *rts = json_array(), *st = json_object();
	const struct tnl_conf *c = conf_cur;

	for (uint16_t i = 0; c && i < c->n_uplinks; i++) {
		const struct tnl_uplink *u = &c->uplinks[i];
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", u->mac[0], u->mac[1],
			 u->mac[2], u->mac[3], u->mac[4], u->mac[5]);
		json_t *e = json_pack("{s:s,s:o,s:i,s:o,s:s,s:i}", "port", u->port->name, "ip",
				      u->ip ? ip_json(u->ip) : json_null(), "plen", u->plen, "gw",
				      u->gw ? ip_json(u->gw) : json_null(), "mac", mac, "mtu",
				      u->mtu);

		json_object_set_new(e, "ip6", u->has_ip6 ? ip6_json(u->ip6) : json_null());
		json_object_set_new(e, "plen6", json_integer(u->plen6));
		json_object_set_new(e, "gw6", u->has_gw6 ? ip6_json(u->gw6) : json_null());
		json_array_append_new(ups, e);
	}
	for (uint16_t i = 0; c && i < c->n_routes; i++) {
		const struct tnl_route *r = &c->routes[i];

		json_array_append_new(rts, json_pack("{s:o,s:i,s:o,s:s,s:b}", "prefix",
						     ip_json(r->prefix), "plen", r->plen, "via",
						     r->gw ? ip_json(r->gw) : json_null(), "port",
						     c->uplinks[r->uplink].port->name,
						     "connected", r->connected));
	}
	for (uint16_t i = 0; c && i < c->n_routes6; i++) {
		const struct tnl_route6 *r = &c->routes6[i];

		json_array_append_new(rts, json_pack("{s:o,s:i,s:o,s:s,s:b}", "prefix",
						     ip6_json(r->prefix), "plen", r->plen, "via",
						     ip6_is_zero(r->gw) ? json_null() : ip6_json(r->gw),
						     "port", c->uplinks[r->uplink].port->name,
						     "connected", r->connected));
	}
	tnl_stats_json(st);
	json_object_set_new(o, "uplinks", ups);
	json_object_set_new(o, "routes", rts);
	json_object_set_new(o, "counters", st);
	return o;
}

void tnl_stats_json(json_t *o)
{
	uint64_t d[TNL_DROP_MAX] = { 0 }, enc = 0, dec = 0, rep = 0, lrn = 0, req = 0, reu = 0;
	uint64_t nrep = 0, nlrn = 0, nreq = 0;

	for (unsigned p = 0; p < DPACT_PMD_MAX; p++) {
		const struct tnl_pmd_stats *s = &tnl_stats[p];

		for (unsigned r = 1; r < TNL_DROP_MAX; r++)
			d[r] += COUNTER_READ(s->drops[r]);
		enc += COUNTER_READ(s->encap);
		dec += COUNTER_READ(s->decap);
		rep += COUNTER_READ(s->arp_replied);
		lrn += COUNTER_READ(s->arp_learned);
		req += COUNTER_READ(s->arp_requests);
		reu += COUNTER_READ(s->decap_reused);
		nrep += COUNTER_READ(s->nd_replied);
		nlrn += COUNTER_READ(s->nd_learned);
		nreq += COUNTER_READ(s->nd_requests);
	}
	json_object_set_new(o, "encap", json_integer((json_int_t)enc));
	json_object_set_new(o, "decap", json_integer((json_int_t)dec));
	json_object_set_new(o, "decap_reused", json_integer((json_int_t)reu));
	json_object_set_new(o, "arp_replied", json_integer((json_int_t)rep));
	json_object_set_new(o, "arp_learned", json_integer((json_int_t)lrn));
	json_object_set_new(o, "arp_requests", json_integer((json_int_t)req));
	json_object_set_new(o, "nd_replied", json_integer((json_int_t)nrep));
	json_object_set_new(o, "nd_learned", json_integer((json_int_t)nlrn));
	json_object_set_new(o, "nd_solicits", json_integer((json_int_t)nreq));
	for (unsigned r = 1; r < TNL_DROP_MAX; r++)
		json_object_set_new(o, tnl_drop_names[r], json_integer((json_int_t)d[r]));
}

/* ---- port lifecycle ---- */

static void tnl_port_removed(struct port *port)
{
	struct tnl_conf *c;
	bool tun = conf_cur && conf_cur->port_idx[port->id];
	int up = conf_cur ? uplink_index(conf_cur, port) : -1;

	if (!tun && up < 0)
		return;
	c = tnl_conf_copy();
	if (!c) {
		/* Keeping a pointer to a port about to be freed is not an
		 * option; fall back to an empty underlay. */
		LOG(LOG_ERR, "tnl", "no memory to drop %s: underlay cleared", port->name);
		c = calloc(1, sizeof(*c));
		if (!c)
			abort();
	} else if (up >= 0) {
		uplink_remove(c, up);
	} else {
		int i = c->port_idx[port->id] - 1;

		memmove(&c->ports[i], &c->ports[i + 1],
			(size_t)(c->n_ports - i - 1) * sizeof(c->ports[0]));
		c->n_ports--;
	}
	tnl_conf_publish(c);
	if (up >= 0)
		neigh_flush_port(port->id);
}

void tnl_port_added(struct port *port);

static struct port_listener tnl_listener = {
	.added = tnl_port_added,
	.removed = tnl_port_removed,
};

static void __attribute__((constructor)) tnl_listener_register(void)
{
	port_listener_register(&tnl_listener);
}
