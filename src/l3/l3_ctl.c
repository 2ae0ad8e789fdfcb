/*
 * vRouter commands: vrf-add, vrf-del, vrf-show, vrf-if-add, vrf-if-del,
 * route-add, route-del, add-routes, route-show, neigh-add, neigh-del,
 * neigh-show. Every change is all or nothing and waits a grace period
 * before it returns, so what it released is reusable.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "../port/port.h"
#include "l3_priv.h"
#include "../tnl/tnl.h"

/* ---- parsing ---- */

int l3_parse_ip(const char *s, uint8_t *af, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*af = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*af = 6;
		return 0;
	}
	return -EINVAL;
}

int l3_parse_prefix(const char *s, uint8_t *af, uint8_t *addr, unsigned *depth, bool loose)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long long d;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (l3_parse_ip(buf, af, addr))
		return -EINVAL;
	d = *af == 4 ? 32 : 128;
	if (slash && parse_uint(slash + 1, 0, d, &d))
		return -EINVAL;
	*depth = (unsigned)d;
	for (unsigned b = *depth; b < (*af == 4 ? 32u : 128u); b++) {
		uint8_t bit = (uint8_t)(0x80u >> (b % 8));

		if (addr[b / 8] & bit) {
			if (!loose)
				return -ERANGE;
			addr[b / 8] &= (uint8_t)~bit;
		}
	}
	return 0;
}

void l3_format_ip(uint8_t af, const uint8_t *addr, char *s, size_t size)
{
	if (!inet_ntop(af == 4 ? AF_INET : AF_INET6, addr, s, (socklen_t)size) && size)
		s[0] = '\0';
}

int l3_parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse_vrf(struct ctl_req *req, const char *s, bool must_exist, uint32_t *id)
{
	unsigned long long v;

	if (parse_uint(s, 0, L3_MAX_VRF - 1, &v))
		return ctl_error(req, EINVAL, "%s: not a VRF id (0-%u)", s, L3_MAX_VRF - 1);
	*id = (uint32_t)v;
	if (must_exist && !l3_cfg.vrf[v])
		return ctl_error(req, ENOENT, "vrf %llu does not exist (vrf-add %llu first)", v, v);
	return 0;
}

static int parse_port(struct ctl_req *req, const char *s, uint16_t *id)
{
	struct port *p = port_find(s);

	if (!p)
		return ctl_error(req, ENOENT, "%s: no such port", s);
	*id = p->id;
	return 0;
}

/* ---- VRFs ---- */

static int cmd_vrf_add(struct ctl_req *req)
{
	uint32_t id = 0;
	int rc = parse_vrf(req, req->argv[1], false, &id);

	if (rc)
		return rc;
	rc = l3_vrf_add(id, req->argc > 2 ? req->argv[2] : NULL);
	if (rc == -EEXIST)
		return ctl_error(req, EEXIST, "vrf %u already exists", id);
	if (rc)
		return ctl_error(req, -rc, "vrf %u: %s", id, strerror(-rc));
	req->data = json_pack("{s:I}", "vrf", (json_int_t)id);
	return 0;
}

static int cmd_vrf_del(struct ctl_req *req)
{
	uint32_t id = 0;
	int rc = parse_vrf(req, req->argv[1], true, &id);

	if (rc)
		return rc;
	l3_vrf_del(id);
	return 0;
}

static int cmd_vrf_show(struct ctl_req *req)
{
	uint64_t c[L3_C_MAX];
	json_t *arr = json_array(), *cnt = json_object();

	ctl_printf(req, "%-6s %-16s %10s %10s %s\n", "vrf", "name", "routes", "lpm_groups", "interfaces");
	for (unsigned v = 0; v < L3_MAX_VRF; v++) {
		const struct l3_vrf *vrf = l3_cfg.vrf[v];
		json_t *ifs = json_array(), *mtus = json_object();
		char names[512] = "";
		size_t nl = 0;

		if (!vrf)
			continue;
		for (uint16_t p = 0; p < PORT_MAX; p++) {
			const struct port *port = port_by_id(p);

			if (!l3_cfg.ifc[p].on || l3_cfg.ifc[p].vrf != v || !port)
				continue;
			json_array_append_new(ifs, json_string(port->name));
			json_object_set_new(mtus, port->name, json_integer(l3_cfg.ifc[p].mtu));
			nl += (size_t)snprintf(names + MIN(nl, sizeof(names)), sizeof(names) - MIN(nl, sizeof(names)),
					       "%s%s", nl ? "," : "", port->name);
			if (l3_cfg.ifc[p].mtu != L3_MTU_DEFAULT)
				nl += (size_t)snprintf(names + MIN(nl, sizeof(names)),
						       sizeof(names) - MIN(nl, sizeof(names)), "(mtu %u)",
						       l3_cfg.ifc[p].mtu);
		}
		json_array_append_new(arr, json_pack("{s:i,s:s,s:I,s:I,s:I,s:o}", "vrf", v, "name", vrf->name,
			"routes", (json_int_t)vrf->rib->n,
			"lpm4_groups", (json_int_t)vrf->v4->n_live,
			"lpm6_groups", (json_int_t)vrf->v6->n_live, "interfaces", ifs));
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "mtu", mtus);
		ctl_printf(req, "%-6u %-16s %10zu %10u %s\n", v, vrf->name, vrf->rib->n,
			   vrf->v4->n_live + vrf->v6->n_live, names);
	}
	l3_counters(c);
	ctl_printf(req, "next hops: %u\ncounters:\n", l3_nh_count());
	for (unsigned i = 0; i < L3_C_MAX; i++) {
		json_object_set_new(cnt, l3_counter_names[i], json_integer((json_int_t)c[i]));
		if (c[i])
			ctl_printf(req, "  %-24s %llu\n", l3_counter_names[i], (unsigned long long)c[i]);
	}
	req->data = json_pack("{s:o,s:I,s:o}", "vrfs", arr, "nexthops", (json_int_t)l3_nh_count(),
			      "counters", cnt);
	return 0;
}

/* vrf-if-add VRF PORT [ADDR/LEN ...] [mac=MAC] [mtu=N] */
static int cmd_vrf_if_add(struct ctl_req *req)
{
	struct l3_iface want = { 0 };
	char err[256];
	uint32_t vrf = 0;
	uint16_t port = 0;
	int rc;

	if ((rc = parse_vrf(req, req->argv[1], true, &vrf)) || (rc = parse_port(req, req->argv[2], &port)))
		return rc;
	memcpy(want.mac, l3_router_mac, 6);
	for (int i = 3; i < req->argc; i++) {
		const char *a = req->argv[i];
		uint8_t af, addr[16];
		unsigned d;

		if (!strncmp(a, "mac=", 4)) {
			if (l3_parse_mac(a + 4, want.mac) || (want.mac[0] & 1))
				return ctl_error(req, EINVAL, "%s: not a unicast MAC address", a + 4);
			continue;
		}
		if (!strncmp(a, "mtu=", 4)) {
			unsigned long long mtu;

			/* 68: RFC 791's minimum; a frame must fit a packet buffer. */
			if (parse_uint(a + 4, 68, PKT_DATA_MAX - 14, &mtu))
				return ctl_error(req, EINVAL, "%s: the MTU is 68..%u", a,
						 (unsigned)(PKT_DATA_MAX - 14));
			want.mtu = (uint16_t)mtu;
			continue;
		}
		if (l3_parse_prefix(a, &af, addr, &d, true) || !strchr(a, '/'))
			return ctl_error(req, EINVAL, "%s: not an address with a prefix length (10.0.0.1/24)", a);
		if ((af == 4 && want.n4 == L3_MAX_ADDRS) || (af == 6 && want.n6 == L3_MAX_ADDRS))
			return ctl_error(req, E2BIG, "at most %d addresses per family", L3_MAX_ADDRS);
		/* The interface keeps its own address; routes use the subnet. */
		l3_parse_ip(strtok(strcpy(err, a), "/"), &af, addr);
		if (af == 4) {
			memcpy(&want.a4[want.n4], addr, 4);
			want.plen4[want.n4++] = (uint8_t)d;
		} else {
			memcpy(want.a6[want.n6], addr, 16);
			want.plen6[want.n6++] = (uint8_t)d;
		}
	}
	rc = l3_iface_set(port, (uint16_t)vrf, &want, err, sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s: %s", req->argv[2], err);
	req->data = json_pack("{s:I,s:s}", "vrf", (json_int_t)vrf, "port", req->argv[2]);
	return 0;
}

static int cmd_vrf_if_del(struct ctl_req *req)
{
	uint16_t port = 0;
	int rc = parse_port(req, req->argv[1], &port);

	if (rc)
		return rc;
	if (l3_iface_del(port))
		return ctl_error(req, ENOENT, "%s: not an interface of any vrf", req->argv[1]);
	return 0;
}

/* ---- next hops from words ---- */

struct nh_words {
	char **w;
	int n, i;
};

static const char *next_word(struct nh_words *w)
{
	return w->i < w->n ? w->w[w->i++] : NULL;
}

static const char *peek_word(const struct nh_words *w)
{
	return w->i < w->n ? w->w[w->i] : NULL;
}

/* "tunnel TYPE remote=IP vni=N|label=N|key=N": encapsulate toward a remote
 * host (src/tnl routes the remote over the underlay). */
static int64_t parse_tunnel_nh(struct nh_words *w, struct l3_nh *spec, char *err, size_t errlen)
{
	const char *t = next_word(w), *v;
	enum tnl_type type = t ? tnl_type_from_name(t) : TNL_NONE;
	bool have_remote = false, have_key = false;
	unsigned long long key = 0;

	if (type == TNL_NONE) {
		snprintf(err, errlen, "tunnel %s: unknown type (vxlan, geneve, gre, mplsogre, mplsoudp)",
			 t ? t : "");
		return -EINVAL;
	}
	spec->type = L3_NH_TUNNEL;
	spec->tun.kind = (uint8_t)type;
	spec->port = PORT_ID_NONE;
	spec->af = 0;
	while ((v = peek_word(w)) && (!strncmp(v, "remote=", 7) || strchr(v, '='))) {
		uint8_t af, a[16];

		next_word(w);
		if (!strncmp(v, "remote=", 7)) {
			if (l3_parse_ip(v + 7, &af, a) || af != 4) {
				snprintf(err, errlen, "%s: the remote is an IPv4 address", v);
				return -EINVAL;
			}
			memcpy(&spec->tun.remote, a, 4);
			have_remote = true;
		} else if (!strncmp(v, "vni=", 4) || !strncmp(v, "label=", 6) || !strncmp(v, "key=", 4)) {
			bool label = v[0] == 'l';
			unsigned long long max = label ? 0xfffff :
				type == TNL_VXLAN || type == TNL_GENEVE ? 0xffffff : 0xffffffffull;

			if (parse_uint(strchr(v, '=') + 1, 0, max, &key)) {
				snprintf(err, errlen, "%s: out of range (0-%llu)", v, max);
				return -EINVAL;
			}
			if (label != (type == TNL_MPLSOGRE || type == TNL_MPLSOUDP)) {
				snprintf(err, errlen, "%s: %s takes %s", v, t,
					 type == TNL_MPLSOGRE || type == TNL_MPLSOUDP ? "label=" :
					 type == TNL_GRE ? "key=" : "vni=");
				return -EINVAL;
			}
			have_key = true;
		} else {
			snprintf(err, errlen, "%s: unknown tunnel option", v);
			return -EINVAL;
		}
	}
	if (!have_remote || !have_key) {
		snprintf(err, errlen, "tunnel %s needs remote=IP and a %s", t,
			 type == TNL_MPLSOGRE || type == TNL_MPLSOUDP ? "label=N" : "vni=N / key=N");
		return -EINVAL;
	}
	spec->tun.key = (uint32_t)key;
	return l3_nh_get(spec);
}

/* "via IP [dev PORT]" or "dev PORT": one next hop of a route in vrf for
 * family af; takes a reference. Returns the id or -errno with err set. */
static int64_t parse_simple_nh(struct nh_words *w, const struct l3_vrf *vrf, uint8_t af,
			       char *err, size_t errlen)
{
	struct l3_nh spec = { .vrf = (uint16_t)vrf->id, .af = af };
	const char *k = next_word(w), *v;
	int64_t id;

	if (!k) {
		snprintf(err, errlen, "missing next hop (via IP [dev PORT] | dev PORT | blackhole | ecmp ...)");
		return -EINVAL;
	}
	if (!strcmp(k, "blackhole")) {
		spec.type = L3_NH_BLACKHOLE;
		spec.af = 0;
		spec.vrf = 0;
		return l3_nh_get(&spec);
	}
	if (!strcmp(k, "tunnel"))
		return parse_tunnel_nh(w, &spec, err, errlen);
	if (!strcmp(k, "via")) {
		uint8_t gaf;

		v = next_word(w);
		if (!v || l3_parse_ip(v, &gaf, spec.gw)) {
			snprintf(err, errlen, "via %s: not an IP address", v ? v : "");
			return -EINVAL;
		}
		if (gaf != af) {
			snprintf(err, errlen, "via %s: gateway family differs from the prefix's", v);
			return -EINVAL;
		}
		spec.type = L3_NH_PORT;
		spec.has_gw = 1;
		if (peek_word(w) && !strcmp(peek_word(w), "dev")) {
			k = next_word(w);
		} else {
			const struct l3_route *r = l3_rib_best(vrf->rib, af, spec.gw, af == 4 ? 32 : 128);
			const struct l3_nh *n = r ? &l3_nh_tab[r->nh] : NULL;

			if (!n || (n->type != L3_NH_GLEAN && !(n->type == L3_NH_PORT && !n->has_gw))) {
				snprintf(err, errlen, "via %s: not on a connected subnet of vrf %u (say dev PORT)",
					 v, vrf->id);
				return -ENETUNREACH;
			}
			spec.port = n->port;
			return l3_nh_get(&spec);
		}
	} else if (!strcmp(k, "dev")) {
		spec.type = L3_NH_GLEAN;
	} else {
		snprintf(err, errlen, "%s: expected via, dev, blackhole, tunnel or ecmp", k);
		return -EINVAL;
	}
	v = next_word(w);
	if (!v || !port_find(v)) {
		snprintf(err, errlen, "dev %s: no such port", v ? v : "");
		return -ENOENT;
	}
	spec.port = port_find(v)->id;
	id = l3_nh_get(&spec);
	if (id < 0)
		snprintf(err, errlen, "%s", strerror((int)-id));
	return id;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t parse_nh(struct nh_words *w, const struct l3_vrf *vrf, uint8_t af, char *err,
			size_t errlen)
{
	struct l3_nh spec = { .type = L3_NH_ECMP, .vrf = (uint16_t)vrf->id, .af = af };
	int64_t id;

	if (!peek_word(w) || strcmp(peek_word(w), "ecmp")) {
		id = parse_simple_nh(w, vrf, af, err, errlen);
		goto check_end;
	}
	next_word(w);
	while (peek_word(w)) {
		if (spec.n_members == L3_ECMP_MAX) {
			snprintf(err, errlen, "ecmp: at most %d next hops", L3_ECMP_MAX);
			id = -E2BIG;
			goto put_members;
		}
		id = parse_simple_nh(w, vrf, af, err, errlen);
		if (id < 0)
			goto put_members;
		if (l3_nh_tab[id].type == L3_NH_BLACKHOLE) {
			l3_nh_put((uint32_t)id);
			snprintf(err, errlen, "ecmp: a blackhole cannot be a member");
			id = -EINVAL;
			goto put_members;
		}
		spec.members[spec.n_members++] = (uint32_t)id;
	}
	if (spec.n_members < 2) {
		snprintf(err, errlen, "ecmp needs at least two next hops");
		id = -EINVAL;
		goto put_members;
	}
	qsort(spec.members, spec.n_members, sizeof(spec.members[0]), cmp_u32);
	id = l3_nh_get(&spec);	/* takes its own member references */
	if (id < 0)
		snprintf(err, errlen, "%s", strerror((int)-id));
put_members:
	for (unsigned i = 0; i < spec.n_members; i++)
		l3_nh_put(spec.members[i]);
check_end:
	if (id >= 0 && peek_word(w)) {
		snprintf(err, errlen, "%s: unexpected after the next hop", peek_word(w));
		l3_nh_put((uint32_t)id);
		return -EINVAL;
	}
	return id;
}

/* ---- routes ---- */

struct route_spec {
	uint32_t vrf;
	uint8_t af;
	uint8_t addr[16];
	unsigned depth;
	uint32_t nh;		/* a reference held */
};

/* words[0] = VRF, words[1] = PREFIX, the rest the next hop. */
static int parse_route(char **words, int n, struct route_spec *rs, char *err, size_t errlen)
{
	struct nh_words w = { words, n, 2 };
	unsigned long long v;
	int64_t id;
	int rc;

	if (n < 3) {
		snprintf(err, errlen, "usage: VRF PREFIX via IP [dev PORT] | dev PORT | blackhole | ecmp NH NH...");
		return -EINVAL;
	}
	if (parse_uint(words[0], 0, L3_MAX_VRF - 1, &v) || !l3_cfg.vrf[v]) {
		snprintf(err, errlen, "vrf %s does not exist", words[0]);
		return -ENOENT;
	}
	rs->vrf = (uint32_t)v;
	rc = l3_parse_prefix(words[1], &rs->af, rs->addr, &rs->depth, false);
	if (rc) {
		snprintf(err, errlen, rc == -ERANGE ? "%s: host bits set past the prefix length"
			 : "%s: not a prefix (10.0.0.0/24, 2001:db8::/32)", words[1]);
		return -EINVAL;
	}
	id = parse_nh(&w, l3_cfg.vrf[v], rs->af, err, errlen);
	if (id < 0)
		return (int)id;
	rs->nh = (uint32_t)id;
	return 0;
}

static int route_err(struct ctl_req *req, int rc, const char *prefix, uint32_t vrf, const char *where)
{
	if (rc == -EEXIST)
		return ctl_error(req, EEXIST, "%s%s: already routed in vrf %u (route-del it first)",
				 where, prefix, vrf);
	if (rc == -ENOSPC)
		return ctl_error(req, ENOSPC, "%s%s: the LPM table or next hops are full", where, prefix);
	return ctl_error(req, -rc, "%s%s: %s", where, prefix, strerror(-rc));
}

static int cmd_route_add(struct ctl_req *req)
{
	struct route_spec rs;
	char err[256];
	int rc = parse_route(req->argv + 1, req->argc - 1, &rs, err, sizeof(err));

	if (rc)
		return ctl_error(req, -rc, "%s", err);
	rc = l3_route_insert(l3_cfg.vrf[rs.vrf], rs.af, rs.addr, rs.depth, L3_RT_USER, rs.nh);
	if (rc) {
		l3_nh_put(rs.nh);
		l3_sync();
		return route_err(req, rc, req->argv[2], rs.vrf, "");
	}
	l3_sync();
	req->data = json_pack("{s:I,s:s}", "vrf", (json_int_t)rs.vrf, "prefix", req->argv[2]);
	return 0;
}

static int cmd_route_del(struct ctl_req *req)
{
	uint8_t af, addr[16];
	unsigned depth;
	uint32_t vrf = 0;
	int rc = parse_vrf(req, req->argv[1], true, &vrf);

	if (rc)
		return rc;
	if (l3_parse_prefix(req->argv[2], &af, addr, &depth, false))
		return ctl_error(req, EINVAL, "%s: not a prefix", req->argv[2]);
	rc = l3_route_remove(l3_cfg.vrf[vrf], af, addr, depth, L3_RT_USER);
	if (rc)
		return ctl_error(req, ENOENT, "%s: no such route in vrf %u%s", req->argv[2], vrf,
				 l3_rib_find(l3_cfg.vrf[vrf]->rib, af, addr, depth) ?
				 " (it is an interface's or a neighbour's: vrf-if-del / neigh-del)" : "");
	l3_sync();
	return 0;
}

/* Split a line into words in place. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;

	for (char *t = strtok(line, " \t\r"); t; t = strtok(NULL, " \t\r")) {
		if (n == max)
			return -E2BIG;
		w[n++] = t;
	}
	return n;
}

/* add-routes TEXT: "VRF PREFIX NEXTHOP..." per line; all or nothing. */
static int cmd_add_routes(struct ctl_req *req)
{
	char *text = strdup(req->argv[1]), *line, *next, err[256];
	struct route_spec *rs = NULL;
	size_t n = 0, cap = 0, lineno = 0, done = 0;
	int rc = 0;

	if (!text)
		return ctl_error(req, ENOMEM, "out of memory");
	for (line = text; line; line = next) {
		char *w[64];
		int nw;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		nw = split_words(line, w, (int)ARRAY_SIZE(w));
		if (nw == 0 || (nw > 0 && w[0][0] == '#'))
			continue;
		if (n == cap) {
			struct route_spec *v = realloc(rs, (cap = cap ? cap * 2 : 4096) * sizeof(*v));

			if (!v) {
				rc = ctl_error(req, ENOMEM, "line %zu: out of memory (no route added)", lineno);
				goto out;
			}
			rs = v;
		}
		if (nw < 0) {
			rc = ctl_error(req, E2BIG, "line %zu: too many words (no route added)", lineno);
			goto out;
		}
		rc = parse_route(w, nw, &rs[n], err, sizeof(err));
		if (rc) {
			rc = ctl_error(req, -rc, "line %zu: %s (no route added)", lineno, err);
			goto out;
		}
		n++;
	}
	for (; done < n; done++) {
		struct route_spec *r = &rs[done];

		rc = l3_route_insert(l3_cfg.vrf[r->vrf], r->af, r->addr, r->depth, L3_RT_USER, r->nh);
		if (rc) {
			char p[64];

			l3_format_ip(r->af, r->addr, p, sizeof(p));
			snprintf(p + strlen(p), sizeof(p) - strlen(p), "/%u", r->depth);
			char msg[sizeof(req->err)];

			rc = route_err(req, rc, p, r->vrf, "route ");
			memcpy(msg, req->err, sizeof(msg));
			ctl_error(req, -rc, "%.400s (no route added)", msg);
			break;
		}
	}
	if (rc) {
		/* Undo what went in; the failed one and those after still hold
		 * their next-hop references. */
		for (size_t i = done; i < n; i++)
			l3_nh_put(rs[i].nh);
		while (done--)
			l3_route_remove(l3_cfg.vrf[rs[done].vrf], rs[done].af, rs[done].addr,
					rs[done].depth, L3_RT_USER);
		n = 0;
	} else {
		req->data = json_pack("{s:I}", "added", (json_int_t)n);
		ctl_printf(req, "added %zu routes\n", n);
	}
	l3_sync();
out:
	if (rc && n)
		for (size_t i = 0; i < n; i++)
			l3_nh_put(rs[i].nh);
	free(rs);
	free(text);
	return rc;
}

static const char *const kind_names[] = {
	[L3_RT_USER] = "static", [L3_RT_CONNECTED] = "connected",
	[L3_RT_LOCAL] = "local", [L3_RT_NEIGH] = "neighbour",
};

struct show {
	struct l3_route **r;
	size_t n;
};

static void collect(struct l3_route *r, void *aux)
{
	struct show *s = aux;

	s->r[s->n++] = r;
}

static int cmp_route(const void *a, const void *b)
{
	const struct l3_route *x = *(struct l3_route *const *)a, *y = *(struct l3_route *const *)b;
	int c;

	if (x->af != y->af)
		return x->af - y->af;
	c = memcmp(x->addr, y->addr, 16);
	return c ? c : x->depth - y->depth;
}

static void show_route(struct ctl_req *req, json_t *arr, const struct l3_route *r)
{
	char p[64], nh[1024];

	l3_format_ip(r->af, r->addr, p, sizeof(p));
	const struct l3_nh *n = &l3_nh_tab[r->nh];
	json_t *o;

	l3_nh_format(r->nh, nh, sizeof(nh));
	o = json_pack("{s:s,s:i,s:s,s:s}", "prefix", p, "len", r->depth, "nexthop", nh, "kind",
		      kind_names[r->kind]);
	/* The IP MTU of an untagged packet through the next hop (what a
	 * "fragmentation needed" says), where one is known. */
	if ((n->type == L3_NH_PORT || n->type == L3_NH_TUNNEL) && n->max_len != UINT16_MAX)
		json_object_set_new(o, "mtu", json_integer(n->max_len - 14));
	json_array_append_new(arr, o);
	ctl_printf(req, "%s/%u %s  %s\n", p, r->depth, nh, kind_names[r->kind]);
}

/* route-show VRF [PREFIX|ADDRESS]: all routes, the route at PREFIX, or the
 * one an address is forwarded by (as the datapath's LPM answers). */
static int cmd_route_show(struct ctl_req *req)
{
	struct show s = { 0 };
	json_t *arr = json_array();
	const struct l3_vrf *vrf;
	uint32_t id = 0;
	int rc = parse_vrf(req, req->argv[1], true, &id);

	if (rc) {
		json_decref(arr);
		return rc;
	}
	vrf = l3_cfg.vrf[id];
	if (req->argc > 2) {
		uint8_t af, addr[16];
		unsigned depth;
		const struct l3_route *r;

		if (l3_parse_prefix(req->argv[2], &af, addr, &depth, false)) {
			json_decref(arr);
			return ctl_error(req, EINVAL, "%s: not a prefix or address", req->argv[2]);
		}
		if (!strchr(req->argv[2], '/'))
			r = l3_rib_best(vrf->rib, af, addr, depth);
		else
			r = l3_rib_find(vrf->rib, af, addr, depth);
		if (!r) {
			json_decref(arr);
			return ctl_error(req, ENOENT, "%s: no route in vrf %u", req->argv[2], id);
		}
		show_route(req, arr, r);
		req->data = arr;
		return 0;
	}
	s.r = malloc((vrf->rib->n + 1) * sizeof(*s.r));
	if (!s.r) {
		json_decref(arr);
		return ctl_error(req, ENOMEM, "out of memory");
	}
	l3_rib_foreach(vrf->rib, collect, &s);
	qsort(s.r, s.n, sizeof(*s.r), cmp_route);
	for (size_t i = 0; i < s.n; i++)
		show_route(req, arr, s.r[i]);
	free(s.r);
	req->data = arr;
	return 0;
}

/* ---- neighbours ---- */

/* neigh-add VRF IP MAC dev PORT */
static int cmd_neigh_add(struct ctl_req *req)
{
	uint8_t af, ip[16], mac[6];
	uint16_t port = 0;
	uint32_t vrf = 0;
	int rc = parse_vrf(req, req->argv[1], true, &vrf);

	if (rc)
		return rc;
	if (l3_parse_ip(req->argv[2], &af, ip))
		return ctl_error(req, EINVAL, "%s: not an IP address", req->argv[2]);
	if (l3_parse_mac(req->argv[3], mac) || (mac[0] & 1))
		return ctl_error(req, EINVAL, "%s: not a unicast MAC address", req->argv[3]);
	if (strcmp(req->argv[4], "dev"))
		return ctl_error(req, EINVAL, "usage: neigh-add VRF IP MAC dev PORT");
	if ((rc = parse_port(req, req->argv[5], &port)))
		return rc;
	rc = l3_neigh_set((uint16_t)vrf, af, ip, mac, port, true);
	l3_sync();
	if (rc)
		return ctl_error(req, -rc, "%s: %s", req->argv[2], strerror(-rc));
	return 0;
}

static int cmd_neigh_del(struct ctl_req *req)
{
	uint8_t af, ip[16];
	uint32_t vrf = 0;
	int rc = parse_vrf(req, req->argv[1], true, &vrf);

	if (rc)
		return rc;
	if (l3_parse_ip(req->argv[2], &af, ip))
		return ctl_error(req, EINVAL, "%s: not an IP address", req->argv[2]);
	if (l3_neigh_del((uint16_t)vrf, af, ip))
		return ctl_error(req, ENOENT, "%s: no such neighbour in vrf %u", req->argv[2], vrf);
	l3_sync();
	return 0;
}

static int cmd_neigh_show(struct ctl_req *req)
{
	uint32_t vrf = 0;
	json_t *arr, *e;
	size_t i;
	int rc;

	if (req->argc > 1 && (rc = parse_vrf(req, req->argv[1], true, &vrf)))
		return rc;
	l3_learn_drain();
	arr = l3_neigh_json(req->argc > 1 ? (int)vrf : -1);
	ctl_printf(req, "%-5s %-40s %-17s %-16s %-8s %s\n", "vrf", "address", "lladdr", "port",
		   "state", "age");
	json_array_foreach(arr, i, e)
		ctl_printf(req, "%-5lld %-40s %-17s %-16s %-8s %lld\n",
			   json_integer_value(json_object_get(e, "vrf")),
			   json_string_value(json_object_get(e, "ip")),
			   json_string_value(json_object_get(e, "mac")),
			   json_string_value(json_object_get(e, "port")),
			   json_string_value(json_object_get(e, "state")),
			   json_integer_value(json_object_get(e, "age")));
	req->data = arr;
	return 0;
}

static const struct ctl_cmd l3_cmds[] = {
	{ "vrf-add", "ID [NAME]", 1, 2, cmd_vrf_add, true },
	{ "vrf-del", "ID", 1, 1, cmd_vrf_del, true },
	{ "vrf-show", "", 0, 0, cmd_vrf_show, false },
	{ "vrf-if-add", "VRF PORT [ADDR/LEN ...] [mac=MAC] [mtu=N]", 2, 2 + 2 * L3_MAX_ADDRS + 2,
	  cmd_vrf_if_add, true },
	{ "vrf-if-del", "PORT", 1, 1, cmd_vrf_if_del, true },
	{ "route-add", "VRF PREFIX via IP [dev PORT] | dev PORT | tunnel TYPE remote=IP vni=N|label=N "
	  "| blackhole | ecmp NH NH...", 3, 64,
	  cmd_route_add, true },
	{ "route-del", "VRF PREFIX", 2, 2, cmd_route_del, true },
	{ "add-routes", "FILE", 1, 1, cmd_add_routes, true },
	{ "route-show", "VRF [PREFIX|ADDRESS]", 1, 2, cmd_route_show, false },
	{ "neigh-add", "VRF IP MAC dev PORT", 5, 5, cmd_neigh_add, true },
	{ "neigh-del", "VRF IP", 2, 2, cmd_neigh_del, true },
	{ "neigh-show", "[VRF]", 0, 1, cmd_neigh_show, false },
};
CTL_COMMANDS(l3_cmds)

/* ---- trace ---- */

int l3_trace(uint32_t vrf_id, const struct flow_key *k, char *s, size_t size)
{
	const struct l3_vrf *vrf = vrf_id < L3_MAX_VRF ? l3_cfg.vrf[vrf_id] : NULL;
	uint16_t type = __builtin_bswap16(k->dl_type);
	const struct l3_route *r;
	const uint8_t *dst;
	uint8_t af;
	char p[64], nh[1024];
	uint32_t id = 0;

	if (!vrf)
		return snprintf(s, size, "no such vrf: dropped (vrf_missing)");
	if (type == 0x0806)
		return snprintf(s, size, "ARP: answered if it asks for a gateway or proxied address");
	if (type == 0x0800) {
		af = 4;
		dst = (const uint8_t *)&k->nw_dst;
	} else if (type == 0x86dd) {
		af = 6;
		dst = k->ipv6_dst;
		if (k->nw_proto == 58 && (__builtin_bswap16(k->tp_src) == 135 ||
					  __builtin_bswap16(k->tp_src) == 136))
			return snprintf(s, size, "ND: answered if it solicits a gateway or proxied address");
	} else {
		return snprintf(s, size, "not IP, ARP or ND: dropped (not_routable)");
	}
	r = l3_rib_best(vrf->rib, af, dst, af == 4 ? 32 : 128);
	l3_format_ip(af, dst, p, sizeof(p));
	if (!r)
		return snprintf(s, size, "%s: no route: ICMP unreachable, dropped (no_route)", p);
	id = r->nh;
	if (l3_nh_tab[id].type == L3_NH_ECMP)
		id = l3_nh_tab[id].members[l3_flow_hash(k) % l3_nh_tab[id].n_members];
	l3_nh_format(id, nh, sizeof(nh));
	l3_format_ip(af, r->addr, p, sizeof(p));
	if (l3_nh_tab[id].type == L3_NH_PORT && k->nw_ttl <= 1)
		return snprintf(s, size, "%s/%u %s: TTL %u: ICMP time exceeded, dropped (ttl_expired)",
				p, r->depth, nh, k->nw_ttl);
	if (l3_nh_tab[id].type == L3_NH_PORT && !(l3_nh_tab[id].dmac & L3_MAC_RESOLVED))
		return snprintf(s, size, "%s/%u %s: next hop unresolved: solicited, dropped", p, r->depth, nh);
	if (l3_nh_tab[id].type == L3_NH_GLEAN)
		return snprintf(s, size, "%s/%u %s: neighbour unknown: solicited, dropped", p, r->depth, nh);
	return snprintf(s, size, "%s/%u %s%s", p, r->depth, nh,
			l3_nh_tab[r->nh].type == L3_NH_ECMP ? " (ecmp member by flow hash)" : "");
}
