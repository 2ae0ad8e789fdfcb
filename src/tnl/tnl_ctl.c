/*
 * Underlay commands: underlay-set, underlay-del, underlay-route-add,
 * underlay-route-del, underlay-show, underlay-neigh-add, underlay-neigh-show,
 * underlay-neigh-flush. Addresses, prefixes and gateways are IPv4 or IPv6
 * literals in the same commands; an uplink may have one of each.
 * (Tunnel ports themselves are made with add-port.)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "tnl_priv.h"

/* "A.B.C.D/LEN" or "IPV6/LEN" (LEN required when need_len; without it the
 * full length) into a network-order address: 4 (ip4) or 6 (ip6), or
 * -EINVAL. */
static int parse_any(const char *s, uint32_t *ip4, uint8_t ip6[16], uint8_t *plen, bool need_len)
{
	char buf[INET6_ADDRSTRLEN + 4];
	char *slash;
	unsigned long long n;
	int af = strchr(s, ':') ? 6 : 4;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	n = af == 6 ? 128 : 32;
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_uint(slash + 1, 0, n, &n) < 0)
			return -EINVAL;
	} else if (need_len) {
		return -EINVAL;
	}
	if (af == 6 ? inet_pton(AF_INET6, buf, ip6) != 1 : inet_pton(AF_INET, buf, ip4) != 1)
		return -EINVAL;
	*plen = (uint8_t)n;
	return af;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (m[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)m[i];
	}
	return 0;
}

static struct port *find_port(struct ctl_req *req, const char *name, int *rc)
{
	struct port *p = port_find(name);

	*rc = p ? 0 : ctl_error(req, ENOENT, "%s: no such port", name);
	return p;
}

/* One ip= or gw= of underlay-set: an IPv4 or an IPv6 one, at most one of
 * each. 0 or -EINVAL. */
static int underlay_addr(struct tnl_underlay_args *ua, const char *v, bool gw)
{
	uint32_t a4 = 0;
	uint8_t a6[16], plen;
	int af = parse_any(v, &a4, a6, &plen, !gw);

	if (af == 4 && a4 && !(gw ? ua->gw : ua->ip) && (!gw || plen == 32)) {
		*(gw ? &ua->gw : &ua->ip) = a4;
		if (!gw)
			ua->plen = plen;
		return 0;
	}
	if (af != 6 || !ip6_underlay_ok(a6) || (gw ? ua->has_gw6 : ua->has_ip6) || (gw && plen != 128))
		return -EINVAL;
	if (gw) {
		memcpy(ua->gw6, a6, 16);
		ua->has_gw6 = true;
	} else {
		memcpy(ua->ip6, a6, 16);
		ua->plen6 = plen;
		ua->has_ip6 = true;
	}
	return 0;
}

static int cmd_underlay_set(struct ctl_req *req)
{
	struct tnl_underlay_args ua = { 0 };
	uint8_t mac[6];
	unsigned long long mtu = 1500;
	char err[256] = "";
	struct port *port;
	int rc;

	port = find_port(req, req->argv[1], &rc);
	if (!port)
		return rc;
	for (int i = 2; i < req->argc; i++) {
		const char *a = req->argv[i];

		if (!strncmp(a, "ip=", 3) && underlay_addr(&ua, a + 3, false) == 0)
			;
		else if (!strncmp(a, "gw=", 3) && underlay_addr(&ua, a + 3, true) == 0)
			;
		else if (!strncmp(a, "mac=", 4) && parse_mac(a + 4, mac) == 0)
			ua.mac = mac;
		else if (!strncmp(a, "mtu=", 4) && parse_uint(a + 4, 576, 9000, &mtu) == 0)
			;
		else
			return ctl_error(req, EINVAL, "%s: bad argument '%s' (ip=A.B.C.D/LEN and/or ip=IPV6/LEN, gw=A.B.C.D, gw=IPV6, mac=MAC, mtu=576..9000)",
					 port->name, a);
	}
	if (!ua.ip && !ua.has_ip6)
		return ctl_error(req, EINVAL, "%s: ip=A.B.C.D/LEN or ip=IPV6/LEN is required",
				 port->name);
	if ((ua.gw && !ua.ip) || (ua.has_gw6 && !ua.has_ip6))
		return ctl_error(req, EINVAL, "%s: a gateway needs an address of its family",
				 port->name);
	/* IPv6 needs room for the 20 more bytes of its header (RFC 8200
	 * asks every link for 1280). */
	if (ua.has_ip6 && mtu < 1280)
		return ctl_error(req, EINVAL, "%s: mtu=%llu: IPv6 needs at least 1280", port->name,
				 mtu);
	ua.mtu = (uint16_t)mtu;
	rc = tnl_underlay_apply(port, &ua, err, sizeof(err));
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", port->name, err[0] ? err : strerror(-rc));
	return 0;
}

static int cmd_underlay_del(struct ctl_req *req)
{
	struct port *port;
	int rc;

	port = find_port(req, req->argv[1], &rc);
	if (!port)
		return rc;
	rc = tnl_underlay_del(port);
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", port->name,
				 rc == -ENOENT ? "has no underlay address" : strerror(-rc));
	return 0;
}

static int cmd_route_add(struct ctl_req *req)
{
	uint32_t pfx, gw = 0;
	uint8_t plen, gl, p6[16], g6[16];
	struct port *port;
	char err[256] = "";
	int rc, af;

	af = parse_any(req->argv[1], &pfx, p6, &plen, true);
	if (af < 0)
		return ctl_error(req, EINVAL, "%s: not A.B.C.D/LEN or IPV6/LEN", req->argv[1]);
	port = find_port(req, req->argv[2], &rc);
	if (!port)
		return rc;
	if (req->argc > 3 && (strncmp(req->argv[3], "via=", 4) ||
			      parse_any(req->argv[3] + 4, &gw, g6, &gl, false) != af ||
			      gl != (af == 6 ? 128 : 32) || (af == 6 && !ip6_underlay_ok(g6))))
		return ctl_error(req, EINVAL, "%s: not via=%s", req->argv[3],
				 af == 6 ? "IPV6" : "A.B.C.D");
	if (af == 6)
		rc = tnl_route6_add(p6, plen, req->argc > 3 ? g6 : NULL, port, err, sizeof(err));
	else
		rc = tnl_route_add(pfx, plen, gw, port, err, sizeof(err));
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", req->argv[1], err[0] ? err : strerror(-rc));
	return 0;
}

static int cmd_route_del(struct ctl_req *req)
{
	uint32_t pfx;
	uint8_t plen, p6[16];
	int af = parse_any(req->argv[1], &pfx, p6, &plen, true);

	if (af < 0)
		return ctl_error(req, EINVAL, "%s: not A.B.C.D/LEN or IPV6/LEN", req->argv[1]);
	if ((af == 6 ? tnl_route6_del(p6, plen) : tnl_route_del(pfx, plen)) < 0)
		return ctl_error(req, ENOENT, "%s: no such underlay route", req->argv[1]);
	return 0;
}

static int cmd_underlay_show(struct ctl_req *req)
{
	json_t *o = tnl_underlay_json(), *e, *v;
	const char *k;
	size_t i;

	req->data = o;
	json_array_foreach(json_object_get(o, "uplinks"), i, e) {
		json_t *gw = json_object_get(e, "gw");

		json_t *ip = json_object_get(e, "ip"), *ip6 = json_object_get(e, "ip6");
		json_t *gw6 = json_object_get(e, "gw6");

		ctl_printf(req, "%s:", json_string_value(json_object_get(e, "port")));
		if (json_is_string(ip))
			ctl_printf(req, " %s/%lld", json_string_value(ip),
				   json_integer_value(json_object_get(e, "plen")));
		if (json_is_string(ip6))
			ctl_printf(req, " %s/%lld", json_string_value(ip6),
				   json_integer_value(json_object_get(e, "plen6")));
		ctl_printf(req, " mac %s mtu %lld%s%s%s%s\n",
			   json_string_value(json_object_get(e, "mac")),
			   json_integer_value(json_object_get(e, "mtu")),
			   json_is_string(gw) ? " gw " : "", json_is_string(gw) ? json_string_value(gw) : "",
			   json_is_string(gw6) ? " gw " : "",
			   json_is_string(gw6) ? json_string_value(gw6) : "");
	}
	ctl_printf(req, "routes:\n");
	json_array_foreach(json_object_get(o, "routes"), i, e) {
		json_t *via = json_object_get(e, "via");

		ctl_printf(req, "  %s/%lld %s%s dev %s%s\n",
			   json_string_value(json_object_get(e, "prefix")),
			   json_integer_value(json_object_get(e, "plen")),
			   json_is_string(via) ? "via " : "",
			   json_is_string(via) ? json_string_value(via) : "on-link",
			   json_string_value(json_object_get(e, "port")),
			   json_is_true(json_object_get(e, "connected")) ? " (connected)" : "");
	}
	ctl_printf(req, "counters:\n");
	json_object_foreach(json_object_get(o, "counters"), k, v)
		if (json_integer_value(v))
			ctl_printf(req, "  %s: %lld\n", k, json_integer_value(v));
	return 0;
}

static int cmd_neigh_add(struct ctl_req *req)
{
	uint32_t ip = 0;
	uint8_t plen, mac[6], ip6[16];
	struct port *port;
	int rc, af = parse_any(req->argv[1], &ip, ip6, &plen, false);

	if (!(af == 4 && plen == 32 && ip) && !(af == 6 && plen == 128 && ip6_underlay_ok(ip6)))
		return ctl_error(req, EINVAL, "%s: not an IPv4 or unicast IPv6 address",
				 req->argv[1]);
	if (parse_mac(req->argv[2], mac) < 0)
		return ctl_error(req, EINVAL, "%s: not a MAC address", req->argv[2]);
	port = find_port(req, req->argv[3], &rc);
	if (!port)
		return rc;
	rc = af == 6 ? tnl_neigh_add6(ip6, mac, port) : tnl_neigh_add(ip, mac, port);
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", req->argv[1],
				 rc == -ENOSPC ? "neighbour table full" : strerror(-rc));
	return 0;
}

/* The text mirrors `ip neigh show`. */
static int cmd_neigh_show(struct ctl_req *req)
{
	json_t *arr = tnl_neigh_json(), *e;
	size_t i;

	req->data = arr;
	json_array_foreach(arr, i, e)
		ctl_printf(req, "%s dev %s lladdr %s %s age %llds\n",
			   json_string_value(json_object_get(e, "ip")),
			   json_string_value(json_object_get(e, "port")),
			   json_string_value(json_object_get(e, "mac")),
			   json_string_value(json_object_get(e, "state")),
			   json_integer_value(json_object_get(e, "age")));
	return 0;
}

static int cmd_neigh_flush(struct ctl_req *req)
{
	(void)req;
	tnl_neigh_flush();
	return 0;
}

static const struct ctl_cmd tnl_cmds[] = {
	{ "underlay-set", "PORT ip=A.B.C.D/LEN|IPV6/LEN [ip=IPV6/LEN] [gw=A.B.C.D] [gw=IPV6] [mac=MAC] [mtu=N]",
	  2, 7, cmd_underlay_set, true },
	{ "underlay-del", "PORT", 1, 1, cmd_underlay_del, true },
	{ "underlay-route-add", "A.B.C.D/LEN|IPV6/LEN PORT [via=IP]", 2, 3, cmd_route_add, true },
	{ "underlay-route-del", "A.B.C.D/LEN|IPV6/LEN", 1, 1, cmd_route_del, true },
	{ "underlay-show", "", 0, 0, cmd_underlay_show, false },
	{ "underlay-neigh-add", "IP MAC PORT", 3, 3, cmd_neigh_add, true },
	{ "underlay-neigh-show", "", 0, 0, cmd_neigh_show, false },
	{ "underlay-neigh-flush", "", 0, 0, cmd_neigh_flush, false },
};
CTL_COMMANDS(tnl_cmds)
