/*
 * Tunnel ports, in the style of OVS's: `add-port vxlan0 vxlan
 * [remote_ip=IP|IPV6|flow] [local_ip=IP|IPV6] [key=N|flow] [dst_port=N] [tos=N] [ttl=N] [csum=true]`
 * (and geneve, gre, mplsogre, mplsoudp). A tunnel port has no queues of its
 * own: what it receives comes from decapsulation on an uplink (tnl_rx), what
 * is sent to it is encapsulated and leaves on the uplink that routes the
 * remote address.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "tnl_priv.h"

static uint16_t tp_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	(void)port;
	(void)qid;
	(void)pkts;
	(void)n;
	return 0;
}

static uint16_t tp_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	return tnl_port_tx(port->priv, qid, pkts, n);
}

static int tp_notify_fd(struct port *port, uint16_t qid)
{
	(void)port;
	(void)qid;
	return -1;
}

static void cfg_json(const struct tnl_port_cfg *pc, json_t *o)
{
	char ip[INET6_ADDRSTRLEN];

	json_object_set_new(o, "tunnel_type", json_string(tnl_type_name(pc->type)));
	if (pc->remote_mode == TNL_OPT_FIXED) {
		if (pc->v6)
			inet_ntop(AF_INET6, pc->remote6, ip, sizeof(ip));
		else
			inet_ntop(AF_INET, &pc->remote, ip, sizeof(ip));
		json_object_set_new(o, "remote_ip", json_string(ip));
	} else {
		json_object_set_new(o, "remote_ip", json_string("flow"));
	}
	if (pc->local || !ip6_is_zero(pc->local6)) {
		if (pc->local)
			inet_ntop(AF_INET, &pc->local, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, pc->local6, ip, sizeof(ip));
		json_object_set_new(o, "local_ip", json_string(ip));
	}
	if (pc->key_mode == TNL_OPT_FIXED)
		json_object_set_new(o, "key", json_integer((json_int_t)pc->key));
	else if (pc->key_mode == TNL_OPT_FLOW)
		json_object_set_new(o, "key", json_string("flow"));
	if (pc->dst_port)
		json_object_set_new(o, "dst_port", json_integer(pc->dst_port));
	json_object_set_new(o, "link", json_string("up"));
}

static void tp_show(struct port *port, json_t *obj)
{
	cfg_json(port->priv, obj);
}

static bool tp_link_up(struct port *port)
{
	(void)port;
	return true;
}

static void tp_close(struct port *port)
{
	free(port->priv);
	port_free(port);
}

static const struct port_ops tnl_port_ops = {
	.rx_burst = tp_rx_burst,
	.tx_burst = tp_tx_burst,
	.rxq_notify_fd = tp_notify_fd,
	.show = tp_show,
	.link_up = tp_link_up,
	.close = tp_close,
};

bool tnl_port_is_tunnel(const struct port *port)
{
	return port->ops == &tnl_port_ops;
}

static int parse_arg(struct tnl_port_cfg *pc, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	const char *v = eq ? eq + 1 : "";
	size_t kl = eq ? (size_t)(eq - arg) : strlen(arg);
	unsigned long long n;

#define KEY(s) (kl == strlen(s) && !strncmp(arg, s, kl))
	if (KEY("remote_ip")) {
		pc->v6 = false;
		memset(pc->remote6, 0, 16);
		if (!strcmp(v, "flow")) {
			pc->remote_mode = TNL_OPT_FLOW;
		} else if (inet_pton(AF_INET, v, &pc->remote) == 1 && pc->remote) {
			pc->remote_mode = TNL_OPT_FIXED;
		} else if (inet_pton(AF_INET6, v, pc->remote6) == 1 && ip6_underlay_ok(pc->remote6)) {
			pc->remote_mode = TNL_OPT_FIXED;
			pc->remote = 0;
			pc->v6 = true;
		} else {
			snprintf(err, errlen, "remote_ip=%s: not an IPv4 or unicast IPv6 address or 'flow'",
				 v);
			return -EINVAL;
		}
	} else if (KEY("local_ip")) {
		pc->local = 0;
		memset(pc->local6, 0, 16);
		if (!(inet_pton(AF_INET, v, &pc->local) == 1 && pc->local) &&
		    !(inet_pton(AF_INET6, v, pc->local6) == 1 && ip6_underlay_ok(pc->local6))) {
			pc->local = 0;
			memset(pc->local6, 0, 16);
			snprintf(err, errlen, "local_ip=%s: not an IPv4 or unicast IPv6 address", v);
			return -EINVAL;
		}
	} else if (KEY("key")) {
		uint64_t max = pc->type == TNL_VXLAN || pc->type == TNL_GENEVE ? 0xffffff :
			       pc->type == TNL_MPLSOUDP ? 0xfffff : 0xffffffffull;

		if (!strcmp(v, "flow")) {
			pc->key_mode = TNL_OPT_FLOW;
		} else if (parse_uint(v, 0, max, &n) == 0) {
			pc->key_mode = TNL_OPT_FIXED;
			pc->key = n;
		} else {
			snprintf(err, errlen, "key=%s: not 'flow' or a number in 0..%llu", v,
				 (unsigned long long)max);
			return -EINVAL;
		}
	} else if (KEY("dst_port")) {
		if (!tnl_default_port(pc->type) || parse_uint(v, 1, 65535, &n) < 0) {
			snprintf(err, errlen, "dst_port=%s: a UDP port 1..65535, UDP tunnels only", v);
			return -EINVAL;
		}
		pc->dst_port = (uint16_t)n;
	} else if (KEY("tos")) {
		if (parse_uint(v, 0, 255, &n) < 0) {
			snprintf(err, errlen, "tos=%s: 0..255", v);
			return -EINVAL;
		}
		pc->tos = (uint8_t)n;
	} else if (KEY("ttl")) {
		if (parse_uint(v, 1, 255, &n) < 0) {
			snprintf(err, errlen, "ttl=%s: 1..255", v);
			return -EINVAL;
		}
		pc->ttl = (uint8_t)n;
	} else if (KEY("csum")) {
		if (strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(err, errlen, "csum=%s: true or false", v);
			return -EINVAL;
		}
		pc->csum = !strcmp(v, "true");
	} else {
		snprintf(err, errlen, "unknown option '%s' (remote_ip, local_ip, key, dst_port, tos, ttl, csum)",
			 arg);
		return -EINVAL;
	}
#undef KEY
	return 0;
}

static struct port *tp_create(enum tnl_type type, const char *name, int argc, char **argv,
			      char *err, size_t errlen)
{
	struct tnl_port_cfg *pc = calloc(1, sizeof(*pc));
	const struct tnl_conf *c = tnl_conf_rcu;
	struct port *port;

	if (!pc)
		return NULL;
	pc->type = (uint8_t)type;
	pc->ttl = TNL_TTL_DEFAULT;
	pc->remote_mode = TNL_OPT_FLOW;
	pc->dst_port = tnl_default_port(type);
	for (int i = 0; i < argc; i++) {
		if (parse_arg(pc, argv[i], err, errlen) < 0) {
			free(pc);
			errno = EINVAL;
			return NULL;
		}
	}
	/* A fixed remote and a local address of two families cannot make
	 * one outer header. */
	if (pc->remote_mode == TNL_OPT_FIXED &&
	    ((pc->v6 && pc->local) || (!pc->v6 && !ip6_is_zero(pc->local6)))) {
		snprintf(err, errlen, "remote_ip and local_ip are of different families");
		free(pc);
		errno = EINVAL;
		return NULL;
	}
	if (c && c->n_ports >= TNL_MAX_PORTS) {
		snprintf(err, errlen, "at most %d tunnel ports", TNL_MAX_PORTS);
		free(pc);
		errno = ENOSPC;
		return NULL;
	}
	/* Receive demultiplexes one UDP port per type. */
	if (c && c->udp_ports[type] && pc->dst_port != c->udp_ports[type]) {
		snprintf(err, errlen, "every %s port listens on one UDP port: dst_port=%u",
			 tnl_type_name(type), c->udp_ports[type]);
		free(pc);
		errno = EINVAL;
		return NULL;
	}
	port = port_alloc(name, tnl_type_name(type), &tnl_port_ops);
	if (!port) {
		free(pc);
		return NULL;
	}
	port->n_rxq = 0;
	port->n_txq = 1;
	port->priv = pc;
	return port;
}

/* Listener: publish the new tunnel port for decapsulation. */
void tnl_port_added(struct port *port)
{
	struct tnl_port_cfg *pc = port->priv;
	struct tnl_conf *c;

	if (!tnl_port_is_tunnel(port))
		return;
	pc->port = port->id;
	pc->pp = port;
	c = tnl_conf_copy();
	if (!c || c->n_ports >= TNL_MAX_PORTS) {
		/* Checked at create; only ENOMEM gets here. The port then
		 * receives nothing, which `underlay-show` makes visible. */
		LOG(LOG_ERR, "tnl", "%s: no memory to publish the tunnel port", port->name);
		free(c);
		return;
	}
	c->ports[c->n_ports++] = *pc;
	tnl_conf_publish(c);
}

int tnl_output_compile(uint16_t port, const struct flow_key *key, struct dpact_buf *b)
{
	const struct tnl_conf *c = rcu_dereference(tnl_conf_rcu);
	const struct tnl_port_cfg *pc;
	struct dpact_tnl_push *a;
	const uint8_t *dst6 = NULL;
	uint32_t dst;

	if (!c || port >= PORT_MAX || !c->port_idx[port])
		return 0;
	pc = &c->ports[c->port_idx[port] - 1];
	/* The remote: the port's, else the flow's tun_dst, else its
	 * tun_ipv6_dst (IPv4 first, as OVS takes tun_dst first). */
	if (pc->remote_mode == TNL_OPT_FIXED) {
		dst = pc->remote;
		if (pc->v6)
			dst6 = pc->remote6;
	} else {
		dst = key->tun_dst;
		if (!dst && !ip6_is_zero(key->tun_ipv6_dst))
			dst6 = key->tun_ipv6_dst;
	}
	if (!dst && !dst6)
		return -EDESTADDRREQ;
	a = tnl_encap_put(b, (enum tnl_type)pc->type, dst,
			  pc->key_mode == TNL_OPT_FIXED ? pc->key : key->tun_id, port, pc->dst_port);
	if (!a)
		return -ENOMEM;
	if (dst6) {
		a->flags |= DPACT_TNL_IPV6;
		memcpy(a->dst6, dst6, 16);
		memcpy(a->src6, pc->local6, 16);
	} else {
		a->src = pc->local;
	}
	/* The outer source is always the uplink's own address, ToS and TTL
	 * the port's: tun_src/tos/ttl of a decapsulated packet describe the
	 * tunnel it came from, not the one it leaves by. */
	a->tos = pc->tos;
	a->ttl = pc->ttl;
	if ((pc->type == TNL_GRE || pc->type == TNL_MPLSOGRE) && pc->key_mode != TNL_OPT_NONE)
		a->flags |= DPACT_TNL_KEY;
	if (pc->csum)
		a->flags |= DPACT_TNL_CSUM;
	if (pc->type == TNL_GENEVE) {
		/* The options a flow set (or that came in): whole TLVs only. */
		unsigned o = 0;

		while (o + 4 <= TNL_OPTS_MAX && (key->tun_opts[o] | key->tun_opts[o + 1] |
						 key->tun_opts[o + 2])) {
			unsigned l = 4 + (key->tun_opts[o + 3] & 0x1fu) * 4;

			if (o + l > TNL_OPTS_MAX)
				break;
			o += l;
		}
		memcpy(a->opts, key->tun_opts, o);
		a->opt_len = (uint8_t)o;
	}
	return 1;
}

struct dpact_tnl_push *tnl_encap_put(struct dpact_buf *b, enum tnl_type type, uint32_t dst,
				     uint64_t key, uint16_t port, uint16_t dst_port)
{
	struct dpact_tnl_push *a = dpact_put(b, DPACT_TNL_PUSH);

	if (!a)
		return NULL;
	a->tnl_type = (uint8_t)type;
	a->dst = dst;
	a->key = key;
	a->port = port;
	a->dst_port = dst_port ? dst_port : tnl_default_port(type);
	a->ttl = TNL_TTL_DEFAULT;
	return a;
}

#define TP_KIND(t, n) \
	static struct port *tp_create_##n(const char *name, int argc, char **argv, char *err, \
					  size_t errlen) \
	{ return tp_create(t, name, argc, argv, err, errlen); } \
	static struct port_kind tp_kind_##n = { #n, \
		"[remote_ip=IP|IPV6|flow] [local_ip=IP|IPV6] [key=N|flow] [dst_port=N] [tos=N] [ttl=N] [csum=true]", \
		tp_create_##n, NULL };
TP_KIND(TNL_VXLAN, vxlan)
TP_KIND(TNL_GENEVE, geneve)
TP_KIND(TNL_GRE, gre)
TP_KIND(TNL_MPLSOGRE, mplsogre)
TP_KIND(TNL_MPLSOUDP, mplsoudp)

static void __attribute__((constructor)) tp_register(void)
{
	port_kind_register(&tp_kind_vxlan);
	port_kind_register(&tp_kind_geneve);
	port_kind_register(&tp_kind_gre);
	port_kind_register(&tp_kind_mplsogre);
	port_kind_register(&tp_kind_mplsoudp);
}
