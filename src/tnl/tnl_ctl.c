/*
 * Underlay commands: underlay-set, underlay-del, underlay-route-add,
 * underlay-route-del, underlay-show, underlay-neigh-add, underlay-neigh-show,
 * underlay-neigh-flush.
 * (Tunnel ports themselves are made with add-port.)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "tnl_priv.h"

/* "A.B.C.D/LEN" (LEN required when need_len) into network-order ip. */
static int parse_prefix(const char *s, uint32_t *ip, uint8_t *plen, bool need_len)
{
	char buf[INET_ADDRSTRLEN + 4];
	char *slash;
	unsigned long long n = 32;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_uint(slash + 1, 0, 32, &n) < 0)
			return -EINVAL;
	} else if (need_len) {
		return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, ip) != 1)
		return -EINVAL;
	*plen = (uint8_t)n;
	return 0;
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

static int cmd_underlay_set(struct ctl_req *req)
{
	uint32_t ip = 0, gw = 0;
	uint8_t plen = 0, mac[6], gl;
	bool have_ip = false, have_mac = false;
	unsigned long long mtu = 1500;
	char err[256] = "";
	struct port *port;
	int rc;

	port = find_port(req, req->argv[1], &rc);
	if (!port)
		return rc;
	for (int i = 2; i < req->argc; i++) {
		const char *a = req->argv[i];

		if (!strncmp(a, "ip=", 3) && parse_prefix(a + 3, &ip, &plen, true) == 0 && ip)
			have_ip = true;
		else if (!strncmp(a, "gw=", 3) && parse_prefix(a + 3, &gw, &gl, false) == 0 &&
			 gl == 32)
			;
		else if (!strncmp(a, "mac=", 4) && parse_mac(a + 4, mac) == 0)
			have_mac = true;
		else if (!strncmp(a, "mtu=", 4) && parse_uint(a + 4, 576, 9000, &mtu) == 0)
			;
		else
			return ctl_error(req, EINVAL, "%s: bad argument '%s' (ip=A.B.C.D/LEN, gw=A.B.C.D, mac=MAC, mtu=576..9000)",
					 port->name, a);
	}
	if (!have_ip)
		return ctl_error(req, EINVAL, "%s: ip=A.B.C.D/LEN is required", port->name);
	rc = tnl_underlay_set(port, ip, plen, gw, have_mac ? mac : NULL, (uint16_t)mtu, err,
			      sizeof(err));
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
	uint8_t plen, gl;
	struct port *port;
	char err[256] = "";
	int rc;

	if (parse_prefix(req->argv[1], &pfx, &plen, true) < 0)
		return ctl_error(req, EINVAL, "%s: not A.B.C.D/LEN", req->argv[1]);
	port = find_port(req, req->argv[2], &rc);
	if (!port)
		return rc;
	if (req->argc > 3 && (strncmp(req->argv[3], "via=", 4) ||
			      parse_prefix(req->argv[3] + 4, &gw, &gl, false) < 0 || gl != 32))
		return ctl_error(req, EINVAL, "%s: not via=A.B.C.D", req->argv[3]);
	rc = tnl_route_add(pfx, plen, gw, port, err, sizeof(err));
	if (rc < 0)
		return ctl_error(req, -rc, "%s: %s", req->argv[1], err[0] ? err : strerror(-rc));
	return 0;
}

static int cmd_route_del(struct ctl_req *req)
{
	uint32_t pfx;
	uint8_t plen;

	if (parse_prefix(req->argv[1], &pfx, &plen, true) < 0)
		return ctl_error(req, EINVAL, "%s: not A.B.C.D/LEN", req->argv[1]);
	if (tnl_route_del(pfx, plen) < 0)
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

		ctl_printf(req, "%s: %s/%lld mac %s mtu %lld%s%s\n",
			   json_string_value(json_object_get(e, "port")),
			   json_string_value(json_object_get(e, "ip")),
			   json_integer_value(json_object_get(e, "plen")),
			   json_string_value(json_object_get(e, "mac")),
			   json_integer_value(json_object_get(e, "mtu")),
			   json_is_string(gw) ? " gw " : "", json_is_string(gw) ? json_string_value(gw) : "");
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
	uint32_t ip;
	uint8_t plen, mac[6];
	struct port *port;
	int rc;

	if (parse_prefix(req->argv[1], &ip, &plen, false) < 0 || plen != 32 || !ip)
		return ctl_error(req, EINVAL, "%s: not an IPv4 address", req->argv[1]);
	if (parse_mac(req->argv[2], mac) < 0)
		return ctl_error(req, EINVAL, "%s: not a MAC address", req->argv[2]);
	port = find_port(req, req->argv[3], &rc);
	if (!port)
		return rc;
	rc = tnl_neigh_add(ip, mac, port);
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
	{ "underlay-set", "PORT ip=A.B.C.D/LEN [gw=A.B.C.D] [mac=MAC] [mtu=N]", 2, 5,
	  cmd_underlay_set, true },
	{ "underlay-del", "PORT", 1, 1, cmd_underlay_del, true },
	{ "underlay-route-add", "A.B.C.D/LEN PORT [via=A.B.C.D]", 2, 3, cmd_route_add, true },
	{ "underlay-route-del", "A.B.C.D/LEN", 1, 1, cmd_route_del, true },
	{ "underlay-show", "", 0, 0, cmd_underlay_show, false },
	{ "underlay-neigh-add", "A.B.C.D MAC PORT", 3, 3, cmd_neigh_add, true },
	{ "underlay-neigh-show", "", 0, 0, cmd_neigh_show, false },
	{ "underlay-neigh-flush", "", 0, 0, cmd_neigh_flush, false },
};
CTL_COMMANDS(tnl_cmds)
