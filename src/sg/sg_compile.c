/*
 * The security-group compiler: the model (ports, their port security and
 * bound groups, the groups' rules) in, flow lines out. Pure: no port table,
 * no datapath, so tests compare its text. The table layout is in sg.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sg.h"

const char *const sg_kind_names[SG_K_MAX] = {
#define X(e, s) s,
	SG_KINDS(X)
#undef X
};

/* ICMPv6 neighbour discovery (RS, RA, NS, NA) passes the rule tables, as in
 * neutron: without it no IPv6 address resolves, and port security already
 * pinned the source. */
static const uint8_t nd_types[] = { 133, 134, 135, 136 };

int sg_port_masks(uint16_t lo, uint16_t hi, uint16_t *val, uint16_t *mask)
{
	uint32_t v = lo;
	int n = 0;

	/* Largest aligned power-of-two block starting at v that stays ≤ hi. */
	while (v <= hi) {
		uint32_t size = 1;

		while (size < 0x10000 && (v & (size * 2 - 1)) == 0 && v + size * 2 - 1 <= hi)
			size *= 2;
		val[n] = (uint16_t)v;
		mask[n] = (uint16_t)~(size - 1);
		n++;
		v += size;
	}
	return n;
}

void sg_format_addr(const struct sg_addr *a, struct ds *ds)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(a->af == 4 ? AF_INET : AF_INET6, a->a, buf, sizeof(buf));
	ds_put_cstr(ds, buf);
	if (a->plen != (a->af == 4 ? 32 : 128))
		ds_put_format(ds, "/%u", a->plen);
}

static void put_mac(struct ds *ds, const uint8_t *m)
{
	ds_put_format(ds, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* One compiled flow under construction. */
static void flow_start(struct ds *out, int table, int prio, enum sg_kind k, uint32_t rule,
		       uint16_t port)
{
	ds_put_format(out, "table=%d,priority=%d,cookie=0x%llx", table, prio,
		      (unsigned long long)sg_cookie(k, rule, port));
}

static const struct sg_group *group_find(const struct sg_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (!strcmp(c->groups[i].name, name))
			return &c->groups[i];
	return NULL;
}

static bool port_in_group(const struct sg_port *p, const char *group)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (!strcmp(p->groups[i], group))
			return true;
	return false;
}

static bool port_stateful(const struct sg_conf *c, const struct sg_port *p)
{
	for (size_t i = 0; i < p->n_groups; i++) {
		const struct sg_group *g = group_find(c, p->groups[i]);

		if (g && !g->stateless)
			return true;
	}
	return false;
}

/* The address family's words: the match keyword of proto, the address
 * fields. */
static const char *proto_kw(uint8_t proto, uint8_t af)
{
	switch (proto) {
	case 6: return af == 4 ? "tcp" : "tcp6";
	case 17: return af == 4 ? "udp" : "udp6";
	case 1: return af == 4 ? "icmp" : "icmp6";
	default: return af == 4 ? "ip" : "ipv6";
	}
}

struct rule_ctx {
	const struct sg_conf *conf;
	sg_port_id_fn *port_id;
	void *aux;
	struct ds *out;
	const char *pname;	/* the port the rule is compiled for */
	uint16_t port;
	uint16_t zone;
	bool stateful;
};

/* One flow of a rule: its fixed part, then one remote address (or none). */
static void rule_flow(const struct rule_ctx *x, const struct sg_rule *r, uint16_t val,
		      uint16_t mask, const struct sg_addr *remote)
{
	bool in = r->dir == SG_INGRESS;
	struct ds *out = x->out;

	flow_start(out, in ? SG_T_INGRESS : SG_T_EGRESS, 50, SG_K_RULE, r->id, x->port);
	if (x->stateful)
		ds_put_cstr(out, ",ct_state=+new-est+trk");
	if (in)
		ds_put_format(out, ",reg14=%u", x->port);
	else
		ds_put_format(out, ",in_port=%s", x->pname);
	ds_put_format(out, ",%s", proto_kw(r->proto, r->af));
	if (remote) {
		ds_put_format(out, ",%s=", r->af == 4 ? (in ? "nw_src" : "nw_dst") :
						       (in ? "ipv6_src" : "ipv6_dst"));
		sg_format_addr(remote, out);
	}
	if (r->has_ports && r->proto == 1)
		ds_put_format(out, ",%s=%u", r->af == 4 ? "icmp_type" : "icmpv6_type", r->pmin);
	else if (r->has_ports && mask == 0xffff)
		ds_put_format(out, ",tp_dst=%u", val);
	else if (r->has_ports)
		ds_put_format(out, ",tp_dst=0x%x/0x%x", val, mask);
	if (x->stateful)
		ds_put_format(out, ",actions=ct(commit,zone=%u),resubmit(,%d)\n", x->zone,
			      in ? SG_T_ACCEPT : SG_T_INGRESS_SEL);
	else
		ds_put_format(out, ",actions=resubmit(,%d)\n", in ? SG_T_ACCEPT : SG_T_INGRESS_SEL);
}

/* Every port bound to group, that exists, contributes its pinned addresses
 * of family af (neutron's remote_group_id). */
static void rule_remote_group(const struct rule_ctx *x, const struct sg_rule *r, uint16_t val,
			      uint16_t mask)
{
	const struct sg_conf *c = x->conf;

	for (size_t i = 0; i < c->n_ports; i++) {
		const struct sg_port *p = &c->ports[i];

		if (!port_in_group(p, r->remote_group) || x->port_id(p->name, x->aux) < 0)
			continue;
		for (size_t j = 0; j < p->n_ips; j++)
			if (p->ips[j].af == r->af)
				rule_flow(x, r, val, mask, &p->ips[j]);
	}
}

static void compile_rule(const struct rule_ctx *x, const struct sg_rule *r)
{
	uint16_t val[32], mask[32];
	int n = 1;

	val[0] = 0;
	mask[0] = 0xffff;
	if (r->has_ports && r->proto != 1)
		n = sg_port_masks(r->pmin, r->pmax, val, mask);
	for (int i = 0; i < n; i++) {
		if (r->remote_group[0])
			rule_remote_group(x, r, val[i], mask[i]);
		else
			rule_flow(x, r, val[i], mask[i], r->has_remote ? &r->remote : NULL);
	}
}

/* Link-local address a VM derives from its MAC (RFC 4291 appendix A). */
static void eui64_ll(const uint8_t *mac, struct sg_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->af = 6;
	a->plen = 128;
	a->a[0] = 0xfe;
	a->a[1] = 0x80;
	a->a[8] = mac[0] ^ 0x02;
	a->a[9] = mac[1];
	a->a[10] = mac[2];
	a->a[11] = 0xff;
	a->a[12] = 0xfe;
	a->a[13] = mac[3];
	a->a[14] = mac[4];
	a->a[15] = mac[5];
}

static void psec_pass(struct ds *out, const struct sg_port *p, uint16_t id, const char *match,
		      int next)
{
	flow_start(out, SG_T_PSEC, 100, SG_K_PLUMB, 0, id);
	ds_put_format(out, ",in_port=%s,dl_src=", p->name);
	put_mac(out, p->mac);
	ds_put_format(out, ",%s,actions=resubmit(,%d)\n", match, next);
}

static void psec_drop(struct ds *out, const struct sg_port *p, uint16_t id, int prio,
		      enum sg_kind k, const char *match)
{
	flow_start(out, SG_T_PSEC, prio, k, 0, id);
	ds_put_format(out, ",in_port=%s", p->name);
	if (match) {
		ds_put_cstr(out, ",dl_src=");
		put_mac(out, p->mac);
		ds_put_format(out, ",%s", match);
	}
	ds_put_cstr(out, ",actions=drop\n");
}

/* Table 70 for one port: what it may send as. */
static void compile_psec(struct ds *out, const struct sg_port *p, uint16_t id, int next)
{
	struct ds m = { 0 };
	struct sg_addr ll;

	if (!p->psec) {
		flow_start(out, SG_T_PSEC, 70, SG_K_PLUMB, 0, id);
		ds_put_format(out, ",in_port=%s,actions=resubmit(,%d)\n", p->name, next);
		return;
	}
	for (size_t i = 0; i < p->n_ips; i++) {
		const struct sg_addr *a = &p->ips[i];

		ds_clear(&m);
		if (a->af == 4) {
			ds_put_cstr(&m, "ip,nw_src=");
			sg_format_addr(a, &m);
			psec_pass(out, p, id, ds_cstr(&m), next);
			ds_clear(&m);
			ds_put_cstr(&m, "arp,arp_spa=");
			sg_format_addr(a, &m);
			ds_put_cstr(&m, ",arp_sha=");
			put_mac(&m, p->mac);
			psec_pass(out, p, id, ds_cstr(&m), next);
		} else {
			ds_put_cstr(&m, "ipv6,ipv6_src=");
			sg_format_addr(a, &m);
			psec_pass(out, p, id, ds_cstr(&m), next);
		}
	}
	if (p->n_ips) {
		/* Before it has an address a VM still asks for one: DHCP from
		 * 0.0.0.0, ARP probes from 0.0.0.0 (RFC 5227), IPv6 DAD and MLD
		 * from :: and everything from its own link-local address. */
		psec_pass(out, p, id, "udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67", next);
		ds_clear(&m);
		ds_put_cstr(&m, "arp,arp_spa=0.0.0.0,arp_sha=");
		put_mac(&m, p->mac);
		psec_pass(out, p, id, ds_cstr(&m), next);
		eui64_ll(p->mac, &ll);
		ds_clear(&m);
		ds_put_cstr(&m, "ipv6,ipv6_src=");
		sg_format_addr(&ll, &m);
		psec_pass(out, p, id, ds_cstr(&m), next);
		psec_pass(out, p, id, "icmp6,ipv6_src=::,icmpv6_type=135", next);
		psec_pass(out, p, id, "icmp6,ipv6_src=::,icmpv6_type=143", next);
		psec_drop(out, p, id, 90, SG_K_PSEC_IP, "ip");
		psec_drop(out, p, id, 90, SG_K_PSEC_IP, "ipv6");
		psec_drop(out, p, id, 90, SG_K_PSEC_ARP, "arp");
	} else {
		/* MAC only: any IP, but ARP must still name the port's MAC. */
		ds_clear(&m);
		ds_put_cstr(&m, "arp,arp_sha=");
		put_mac(&m, p->mac);
		psec_pass(out, p, id, ds_cstr(&m), next);
		psec_drop(out, p, id, 90, SG_K_PSEC_ARP, "arp");
	}
	/* Other ethertypes from the right MAC pass. */
	flow_start(out, SG_T_PSEC, 80, SG_K_PLUMB, 0, id);
	ds_put_format(out, ",in_port=%s,dl_src=", p->name);
	put_mac(out, p->mac);
	ds_put_format(out, ",actions=resubmit(,%d)\n", next);
	psec_drop(out, p, id, 70, SG_K_PSEC_MAC, NULL);
	ds_destroy(&m);
}

/* Tables 71/74: into conntrack (or straight to the rules when stateless),
 * with the exchanges that pass without rules. `who` is the port's match. */
static void compile_ct(const struct rule_ctx *x, bool in, const char *who)
{
	int ct_t = in ? SG_T_INGRESS_CT : SG_T_EGRESS_CT;
	int rules_t = in ? SG_T_INGRESS : SG_T_EGRESS;
	int pass_t = in ? SG_T_ACCEPT : SG_T_INGRESS_SEL;
	/* DHCP: the client's requests out, the server's answers in. */
	const char *dhcp[2] = { in ? "udp,tp_src=67,tp_dst=68" : "udp,tp_src=68,tp_dst=67",
				in ? "udp6,tp_src=547,tp_dst=546" : "udp6,tp_src=546,tp_dst=547" };
	struct ds *out = x->out;

	for (size_t i = 0; i < ARRAY_SIZE(nd_types); i++) {
		flow_start(out, ct_t, 110, SG_K_PLUMB, 0, x->port);
		ds_put_format(out, ",%s,icmp6,icmpv6_type=%u,actions=resubmit(,%d)\n", who,
			      nd_types[i], pass_t);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dhcp); i++) {
		flow_start(out, ct_t, 110, SG_K_PLUMB, 0, x->port);
		ds_put_format(out, ",%s,%s,actions=resubmit(,%d)\n", who, dhcp[i], pass_t);
	}
	for (int af = 4; af <= 6; af += 2) {
		flow_start(out, ct_t, 100, SG_K_PLUMB, 0, x->port);
		if (x->stateful)
			ds_put_format(out, ",%s,%s,actions=ct(table=%d,zone=%u)\n", who,
				      af == 4 ? "ip" : "ipv6", rules_t, x->zone);
		else
			ds_put_format(out, ",%s,%s,actions=resubmit(,%d)\n", who,
				      af == 4 ? "ip" : "ipv6", rules_t);
	}
	/* ARP and other non-IP traffic is port security's business only. */
	flow_start(out, ct_t, 90, SG_K_PLUMB, 0, x->port);
	ds_put_format(out, ",%s,actions=resubmit(,%d)\n", who, pass_t);
}

/* Tables 72/75 around the rules: established and related pass, invalid and
 * unmatched drop. */
static void compile_rules_frame(const struct rule_ctx *x, bool in, const char *who)
{
	int t = in ? SG_T_INGRESS : SG_T_EGRESS;
	int pass_t = in ? SG_T_ACCEPT : SG_T_INGRESS_SEL;
	struct ds *out = x->out;

	if (x->stateful) {
		flow_start(out, t, 100, SG_K_PLUMB, 0, x->port);
		ds_put_format(out, ",ct_state=-new+est-rel-inv+trk,%s,actions=resubmit(,%d)\n",
			      who, pass_t);
		flow_start(out, t, 100, SG_K_PLUMB, 0, x->port);
		ds_put_format(out, ",ct_state=-new+rel-inv+trk,%s,actions=resubmit(,%d)\n",
			      who, pass_t);
		flow_start(out, t, 90, SG_K_CT_INVALID, 0, x->port);
		ds_put_format(out, ",ct_state=+inv+trk,%s,actions=drop\n", who);
	}
	flow_start(out, t, 10, in ? SG_K_INGRESS_DENY : SG_K_EGRESS_DENY, 0, x->port);
	ds_put_format(out, ",%s,actions=drop\n", who);
}

static int compile_port(const struct sg_conf *c, const struct sg_port *p, uint16_t id,
			sg_port_id_fn *port_id, void *aux, struct ds *out, char *err, size_t errlen)
{
	struct rule_ctx x = {
		.conf = c, .port_id = port_id, .aux = aux, .out = out, .pname = p->name,
		.port = id, .zone = (uint16_t)(SG_ZONE_BASE + id), .stateful = port_stateful(c, p),
	};
	char who_in[32], who_out[SG_NAME_MAX + 16];

	if (p->n_groups && !p->psec) {
		snprintf(err, errlen, "%s: security groups need port security (the port's MAC "
			 "identifies traffic to it)", p->name);
		return -EINVAL;
	}
	compile_psec(out, p, id, p->n_groups ? SG_T_EGRESS_CT : SG_T_INGRESS_SEL);
	if (!p->n_groups)
		return 0;
	snprintf(who_out, sizeof(who_out), "in_port=%s", p->name);
	snprintf(who_in, sizeof(who_in), "reg14=%u", id);
	flow_start(out, SG_T_INGRESS_SEL, 100, SG_K_PLUMB, 0, id);
	ds_put_cstr(out, ",dl_dst=");
	put_mac(out, p->mac);
	ds_put_format(out, ",actions=set_field:%u->reg14,resubmit(,%d)\n", id, SG_T_INGRESS_CT);
	compile_ct(&x, false, who_out);
	compile_ct(&x, true, who_in);
	compile_rules_frame(&x, false, who_out);
	compile_rules_frame(&x, true, who_in);
	for (size_t i = 0; i < p->n_groups; i++) {
		const struct sg_group *g = group_find(c, p->groups[i]);

		if (!g) {
			snprintf(err, errlen, "%s: bound to %s, which does not exist", p->name,
				 p->groups[i]);
			return -ENOENT;
		}
		for (size_t j = 0; j < g->n_rules; j++)
			compile_rule(&x, &g->rules[j]);
	}
	return 0;
}

int sg_compile(const struct sg_conf *c, sg_port_id_fn *port_id, void *aux, struct ds *out,
	       char *err, size_t errlen)
{
	bool any = false;

	for (size_t i = 0; i < c->n_ports; i++) {
		const struct sg_port *p = &c->ports[i];
		int id = port_id(p->name, aux), rc;

		if (id < 0 || (!p->psec && !p->n_groups))
			continue;
		any = true;
		rc = compile_port(c, p, (uint16_t)id, port_id, aux, out, err, errlen);
		if (rc)
			return rc;
	}
	if (!any)
		return 0;
	/* The plumbing: the gate in the user's table, the defaults that carry
	 * a packet of a port with no firewall through, and the way back. */
	flow_start(out, 0, SG_GATE_PRIORITY, SG_K_PLUMB, 0, 0);
	ds_put_format(out, ",reg15=0/0x1,actions=resubmit(,%d)\n", SG_T_PSEC);
	flow_start(out, SG_T_PSEC, 0, SG_K_PLUMB, 0, 0);
	ds_put_format(out, ",actions=resubmit(,%d)\n", SG_T_INGRESS_SEL);
	flow_start(out, SG_T_INGRESS_SEL, 0, SG_K_PLUMB, 0, 0);
	ds_put_format(out, ",actions=resubmit(,%d)\n", SG_T_ACCEPT);
	flow_start(out, SG_T_ACCEPT, 0, SG_K_PLUMB, 0, 0);
	ds_put_cstr(out, ",actions=set_field:0x1/0x1->reg15,resubmit(,0)\n");
	return 0;
}
