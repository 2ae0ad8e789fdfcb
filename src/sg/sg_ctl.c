/*
 * Security-group and port-security commands, the model they edit, and the
 * step that compiles the model and installs it.
 *
 * Every command edits a copy of the model, compiles the copy and replaces
 * the compiled flow set with the result; only if that succeeded does the
 * copy become the model. So a command that fails (bad word, missing group,
 * a flow the datapath refuses, no conntrack) changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "../dp/dp.h"
#include "../port/port.h"
#include "sg.h"

static struct sg_conf model;
static uint32_t next_rule_id = 1;

/* ---- copies of the model ---- */

static void conf_free(struct sg_conf *c)
{
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i].rules);
	free(c->groups);
	free(c->ports);
	memset(c, 0, sizeof(*c));
}

/* Room for one more group and port, so edits never fail half-way. */
static int conf_copy(const struct sg_conf *src, struct sg_conf *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->groups = calloc(src->n_groups + 1, sizeof(*dst->groups));
	dst->ports = calloc(src->n_ports + 1, sizeof(*dst->ports));
	if (!dst->groups || !dst->ports)
		goto err_free;
	for (size_t i = 0; i < src->n_groups; i++) {
		const struct sg_group *g = &src->groups[i];

		dst->groups[i] = *g;
		dst->groups[i].rules = calloc(g->n_rules + 1, sizeof(*g->rules));
		if (!dst->groups[i].rules)
			goto err_free;
		dst->n_groups = i + 1;
		if (g->n_rules)
			memcpy(dst->groups[i].rules, g->rules, g->n_rules * sizeof(*g->rules));
	}
	if (src->n_ports)
		memcpy(dst->ports, src->ports, src->n_ports * sizeof(*src->ports));
	dst->n_ports = src->n_ports;
	return 0;
err_free:
	conf_free(dst);
	return -ENOMEM;
}

static struct sg_group *conf_group(struct sg_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_groups; i++)
		if (!strcmp(c->groups[i].name, name))
			return &c->groups[i];
	return NULL;
}

static struct sg_port *conf_port(struct sg_conf *c, const char *name, bool create)
{
	for (size_t i = 0; i < c->n_ports; i++)
		if (!strcmp(c->ports[i].name, name))
			return &c->ports[i];
	if (!create)
		return NULL;
	/* conf_copy left room for one. */
	memset(&c->ports[c->n_ports], 0, sizeof(c->ports[0]));
	snprintf(c->ports[c->n_ports].name, SG_NAME_MAX, "%s", name);
	return &c->ports[c->n_ports++];
}

/* A port with neither port security nor groups is no longer in the model. */
static void conf_prune(struct sg_conf *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n_ports; i++)
		if (c->ports[i].psec || c->ports[i].n_groups)
			c->ports[k++] = c->ports[i];
	c->n_ports = k;
}

/* ---- compile and install ---- */

struct skip_port {
	const char *name;	/* a port going away: compile as if absent */
};

static int live_port_id(const char *name, void *aux)
{
	const struct skip_port *skip = aux;
	struct port *p = port_find(name);

	if (!p || (skip && skip->name && !strcmp(skip->name, name)))
		return -1;
	return p->id;
}

static int install(const struct sg_conf *c, const char *skip, char *err, size_t errlen)
{
	struct skip_port sk = { skip };
	struct ds text = { 0 };
	int rc;

	rc = sg_compile(c, live_port_id, &sk, &text, err, errlen);
	if (!rc)
		rc = dp_owned_flows_replace(SG_COOKIE, SG_COOKIE_MASK, ds_cstr(&text), err, errlen);
	ds_destroy(&text);
	return rc;
}

/* Make the edited copy the model if it installs; free whichever loses. */
static int commit(struct ctl_req *req, struct sg_conf *c)
{
	char err[512];
	int rc;

	conf_prune(c);
	rc = install(c, NULL, err, sizeof(err));
	if (rc) {
		conf_free(c);
		return ctl_error(req, -rc, "%s (nothing changed)", err);
	}
	conf_free(&model);
	model = *c;
	return 0;
}

static int begin(struct ctl_req *req, struct sg_conf *c)
{
	return conf_copy(&model, c) ? ctl_error(req, ENOMEM, "out of memory") : 0;
}

/* ---- port security ---- */

static int cmd_port_security(struct ctl_req *req)
{
	const char *name = req->argv[1];
	struct sg_conf c;
	struct sg_port *p;
	bool mac_set = false;
	int rc;

	if (!port_find(name))
		return ctl_error(req, ENOENT, "%s: no such port", name);
	if ((rc = begin(req, &c)))
		return rc;
	p = conf_port(&c, name, true);
	if (req->argc == 3 && !strcmp(req->argv[2], "off")) {
		if (p->n_groups) {
			rc = ctl_error(req, EBUSY, "%s: bound to security group %s (sg-unbind "
				       "first: groups need port security)", name, p->groups[0]);
			conf_free(&c);
			return rc;
		}
		p->psec = false;
		return commit(req, &c);
	}
	p->n_ips = 0;
	for (int i = 2; i < req->argc; i++) {
		const char *a = req->argv[i];

		if (!strncmp(a, "mac=", 4) && !sg_parse_mac(a + 4, p->mac)) {
			mac_set = true;
		} else if (!strncmp(a, "ip=", 3)) {
			char *list = strdup(a + 3), *save = NULL;

			for (char *t = list ? strtok_r(list, ",", &save) : NULL; t;
			     t = strtok_r(NULL, ",", &save)) {
				if (p->n_ips == SG_MAX_IPS || sg_parse_addr(t, false, &p->ips[p->n_ips])) {
					rc = ctl_error(req, EINVAL, "%s: not an address, or more than "
						       "%d", t, SG_MAX_IPS);
					break;
				}
				p->n_ips++;
			}
			if (!list)
				rc = ctl_error(req, ENOMEM, "out of memory");
			free(list);
			if (rc)
				break;
		} else {
			rc = ctl_error(req, EINVAL, "%s: expected mac=MAC, ip=IP[,IP...] or off", a);
			break;
		}
	}
	if (!rc && !mac_set)
		rc = ctl_error(req, EINVAL, "mac=MAC is required (the port's unicast MAC)");
	if (rc) {
		conf_free(&c);
		return rc;
	}
	p->psec = true;
	return commit(req, &c);
}

static json_t *port_json(const struct sg_port *p)
{
	json_t *ips = json_array(), *groups = json_array();
	struct ds ds = { 0 };
	char mac[18];

	for (size_t i = 0; i < p->n_ips; i++) {
		ds_clear(&ds);
		sg_format_addr(&p->ips[i], &ds);
		json_array_append_new(ips, json_string(ds_cstr(&ds)));
	}
	for (size_t i = 0; i < p->n_groups; i++)
		json_array_append_new(groups, json_string(p->groups[i]));
	ds_destroy(&ds);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1],
		 p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
	return json_pack("{s:s,s:b,s:s?,s:o,s:o,s:b}", "port", p->name, "port_security", p->psec,
			 "mac", p->psec ? mac : NULL, "ips", ips, "groups", groups,
			 "present", port_find(p->name) != NULL);
}

static int cmd_port_security_show(struct ctl_req *req)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < model.n_ports; i++) {
		const struct sg_port *p = &model.ports[i];
		json_t *o = port_json(p), *v;
		size_t j;

		if (req->argc > 1 && strcmp(req->argv[1], p->name)) {
			json_decref(o);
			continue;
		}
		ctl_printf(req, "%s: port security %s", p->name, p->psec ? "on" : "off");
		if (p->psec)
			ctl_printf(req, ", mac %s", json_string_value(json_object_get(o, "mac")));
		json_array_foreach(json_object_get(o, "ips"), j, v)
			ctl_printf(req, "%s%s", j ? "," : ", ip ", json_string_value(v));
		json_array_foreach(json_object_get(o, "groups"), j, v)
			ctl_printf(req, "%s%s", j ? "," : ", groups ", json_string_value(v));
		ctl_printf(req, "%s\n", json_is_true(json_object_get(o, "present")) ? "" :
			   " (port absent)");
		json_array_append_new(arr, o);
	}
	req->data = arr;
	return 0;
}

/* ---- groups ---- */

static int check_name(struct ctl_req *req, const char *name)
{
	if (!*name || strlen(name) >= SG_NAME_MAX || strchr(name, '='))
		return ctl_error(req, EINVAL, "%s: a name is 1-%d characters without '='", name,
				 SG_NAME_MAX - 1);
	return 0;
}

static int cmd_sg_create(struct ctl_req *req)
{
	const char *name = req->argv[1];
	struct sg_conf c;
	struct sg_group *g;
	bool stateless = false;
	int rc;

	if ((rc = check_name(req, name)))
		return rc;
	if (req->argc == 3) {
		if (strcmp(req->argv[2], "stateless"))
			return ctl_error(req, EINVAL, "%s: expected stateless", req->argv[2]);
		stateless = true;
	}
	if (conf_group(&model, name))
		return ctl_error(req, EEXIST, "%s: exists", name);
	if ((rc = begin(req, &c)))
		return rc;
	g = &c.groups[c.n_groups++];
	memset(g, 0, sizeof(*g));
	strcpy(g->name, name);
	g->stateless = stateless;
	return commit(req, &c);
}

static int cmd_sg_delete(struct ctl_req *req)
{
	const char *name = req->argv[1];
	struct sg_conf c;
	struct sg_group *g = conf_group(&model, name);
	int rc;

	if (!g)
		return ctl_error(req, ENOENT, "%s: no such security group", name);
	for (size_t i = 0; i < model.n_ports; i++)
		for (size_t j = 0; j < model.ports[i].n_groups; j++)
			if (!strcmp(model.ports[i].groups[j], name))
				return ctl_error(req, EBUSY, "%s: bound to %s (sg-unbind first)",
						 name, model.ports[i].name);
	for (size_t i = 0; i < model.n_groups; i++)
		for (size_t j = 0; j < model.groups[i].n_rules; j++)
			if (strcmp(model.groups[i].name, name) &&	/* itself: goes with it */
			    !strcmp(model.groups[i].rules[j].remote_group, name))
				return ctl_error(req, EBUSY, "%s: a rule of %s names it as "
						 "remote-group", name, model.groups[i].name);
	if ((rc = begin(req, &c)))
		return rc;
	g = conf_group(&c, name);
	free(g->rules);
	*g = c.groups[--c.n_groups];
	return commit(req, &c);
}

static int cmd_sg_rule_add(struct ctl_req *req)
{
	struct sg_group *g = conf_group(&model, req->argv[1]);
	struct sg_rule r;
	struct sg_conf c;
	struct ds ds = { 0 };
	char err[256];
	int rc;

	if (!g)
		return ctl_error(req, ENOENT, "%s: no such security group", req->argv[1]);
	if (sg_parse_rule(req->argc - 2, req->argv + 2, &r, err, sizeof(err)))
		return ctl_error(req, EINVAL, "%s", err);
	if (r.remote_group[0] && !conf_group(&model, r.remote_group))
		return ctl_error(req, ENOENT, "remote-group %s: no such security group",
				 r.remote_group);
	for (size_t i = 0; i < g->n_rules; i++) {
		r.id = g->rules[i].id;
		if (!memcmp(&r, &g->rules[i], sizeof(r)))
			return ctl_error(req, EEXIST, "%s: the same rule exists (id %u)", g->name,
					 r.id);
	}
	if (next_rule_id > SG_MAX_RULE_ID)
		return ctl_error(req, ENOSPC, "rule ids exhausted");
	r.id = next_rule_id;
	if ((rc = begin(req, &c)))
		return rc;
	g = conf_group(&c, req->argv[1]);
	g->rules[g->n_rules++] = r;
	if ((rc = commit(req, &c)))
		return rc;
	next_rule_id++;
	sg_format_rule(&r, &ds);
	req->data = json_pack("{s:s,s:I,s:s}", "group", req->argv[1], "id", (json_int_t)r.id,
			      "rule", ds_cstr(&ds));
	ctl_printf(req, "%s: rule %u: %s\n", req->argv[1], r.id, ds_cstr(&ds));
	ds_destroy(&ds);
	return 0;
}

/* sg-rule-del NAME ID, or NAME followed by the rule's words. */
static int cmd_sg_rule_del(struct ctl_req *req)
{
	struct sg_group *g = conf_group(&model, req->argv[1]);
	unsigned long long id = 0;
	struct sg_rule r;
	struct sg_conf c;
	char err[256];
	size_t i;
	int rc;

	if (!g)
		return ctl_error(req, ENOENT, "%s: no such security group", req->argv[1]);
	if (req->argc == 3 && !parse_uint(req->argv[2], 1, SG_MAX_RULE_ID, &id)) {
		for (i = 0; i < g->n_rules && g->rules[i].id != id; i++)
			;
	} else {
		if (sg_parse_rule(req->argc - 2, req->argv + 2, &r, err, sizeof(err)))
			return ctl_error(req, EINVAL, "%s", err);
		for (i = 0; i < g->n_rules; i++) {
			r.id = g->rules[i].id;
			if (!memcmp(&r, &g->rules[i], sizeof(r)))
				break;
		}
	}
	if (i == g->n_rules)
		return ctl_error(req, ENOENT, "%s: no such rule", g->name);
	if ((rc = begin(req, &c)))
		return rc;
	g = conf_group(&c, req->argv[1]);
	memmove(&g->rules[i], &g->rules[i + 1], (g->n_rules - i - 1) * sizeof(g->rules[0]));
	g->n_rules--;
	return commit(req, &c);
}

static int cmd_sg_bind(struct ctl_req *req)
{
	const char *pname = req->argv[1], *gname = req->argv[2];
	struct sg_group *g = conf_group(&model, gname);
	struct sg_port *p = conf_port(&model, pname, false);
	struct sg_conf c;
	int rc;

	if (!port_find(pname))
		return ctl_error(req, ENOENT, "%s: no such port", pname);
	if (!g)
		return ctl_error(req, ENOENT, "%s: no such security group", gname);
	if (!p || !p->psec)
		return ctl_error(req, EINVAL, "%s: set port-security first (a bound port's MAC "
				 "identifies the traffic to it, as in neutron)", pname);
	for (size_t i = 0; i < p->n_groups; i++) {
		struct sg_group *o = conf_group(&model, p->groups[i]);

		if (!strcmp(p->groups[i], gname))
			return ctl_error(req, EEXIST, "%s: already bound to %s", pname, gname);
		if (o && o->stateless != g->stateless)
			return ctl_error(req, EINVAL, "%s: %s is %s and %s is not; a port's groups "
					 "are all stateful or all stateless", pname, o->name,
					 o->stateless ? "stateless" : "stateful", gname);
	}
	if (p->n_groups == SG_MAX_GROUPS)
		return ctl_error(req, ENOSPC, "%s: %d groups at most", pname, SG_MAX_GROUPS);
	if ((rc = begin(req, &c)))
		return rc;
	p = conf_port(&c, pname, false);
	strcpy(p->groups[p->n_groups++], gname);
	return commit(req, &c);
}

/* sg-unbind PORT [NAME]: one group, or all. */
static int cmd_sg_unbind(struct ctl_req *req)
{
	struct sg_port *p = conf_port(&model, req->argv[1], false);
	struct sg_conf c;
	size_t k = 0;
	int rc;

	if (!p || !p->n_groups)
		return ctl_error(req, ENOENT, "%s: not bound to any security group", req->argv[1]);
	if ((rc = begin(req, &c)))
		return rc;
	p = conf_port(&c, req->argv[1], false);
	for (size_t i = 0; i < p->n_groups; i++)
		if (req->argc == 3 && strcmp(p->groups[i], req->argv[2]))
			strcpy(p->groups[k++], p->groups[i]);
	if (k == p->n_groups) {
		conf_free(&c);
		return ctl_error(req, ENOENT, "%s: not bound to %s", req->argv[1], req->argv[2]);
	}
	p->n_groups = k;
	return commit(req, &c);
}

/* ---- counters ---- */

struct rule_hits {
	uint32_t id;
	uint64_t n;
};

struct counts {
	uint64_t kind[SG_K_MAX];
	uint64_t port_kind[PORT_MAX][SG_K_MAX];
	uint32_t n_rules, cap_rules;
	struct rule_hits *rules;
	bool oom;
};

static void count_one(uint64_t cookie, uint64_t n_packets, uint64_t n_bytes, void *arg)
{
	struct counts *ct = arg;
	enum sg_kind k = sg_cookie_kind(cookie);

	(void)n_bytes;
	if (k >= SG_K_MAX)
		return;
	ct->kind[k] += n_packets;
	if (sg_cookie_port(cookie) < PORT_MAX)
		ct->port_kind[sg_cookie_port(cookie)][k] += n_packets;
	if (k == SG_K_RULE) {
		uint32_t id = sg_cookie_rule(cookie), i;

		for (i = 0; i < ct->n_rules && ct->rules[i].id != id; i++)
			;
		if (i == ct->cap_rules) {
			struct rule_hits *v = realloc(ct->rules, (ct->cap_rules * 2 + 64) * sizeof(*v));

			if (!v) {
				ct->oom = true;
				return;
			}
			ct->rules = v;
			ct->cap_rules = ct->cap_rules * 2 + 64;
		}
		if (i == ct->n_rules)
			ct->rules[ct->n_rules++] = (struct rule_hits){ .id = id };
		ct->rules[i].n += n_packets;
	}
}

static void counts_free(struct counts *ct)
{
	free(ct->rules);
	free(ct);
}

static struct counts *counts_get(void)
{
	struct counts *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	dp_owned_flows_foreach(SG_COOKIE, SG_COOKIE_MASK, count_one, ct);
	if (ct->oom) {
		counts_free(ct);
		return NULL;
	}
	return ct;
}

void sg_stats_json(json_t *obj)
{
	struct counts *ct = counts_get();
	json_t *ports = json_object();
	struct port *p;

	if (!ct) {
		json_decref(ports);
		return;
	}
	for (int k = 0; k < SG_K_MAX; k++)
		if (sg_kind_names[k])
			json_object_set_new(obj, sg_kind_names[k], json_integer((json_int_t)ct->kind[k]));
	PORT_FOREACH(p, id) {
		json_t *o = json_object();
		bool any = false;

		for (int k = 0; k < SG_K_MAX; k++) {
			if (!sg_kind_names[k] || !ct->port_kind[id][k])
				continue;
			any = true;
			json_object_set_new(o, sg_kind_names[k],
					    json_integer((json_int_t)ct->port_kind[id][k]));
		}
		if (any)
			json_object_set_new(ports, p->name, o);
		else
			json_decref(o);
	}
	json_object_set_new(obj, "ports", ports);
	counts_free(ct);
}

static int cmd_sg_show(struct ctl_req *req)
{
	struct counts *ct = counts_get();
	json_t *arr = json_array();
	struct ds ds = { 0 };

	if (!ct) {
		json_decref(arr);
		return ctl_error(req, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < model.n_groups; i++) {
		const struct sg_group *g = &model.groups[i];
		json_t *rules = json_array(), *ports = json_array();

		if (req->argc > 1 && strcmp(req->argv[1], g->name))
			continue;
		for (size_t j = 0; j < model.n_ports; j++)
			for (size_t k = 0; k < model.ports[j].n_groups; k++)
				if (!strcmp(model.ports[j].groups[k], g->name))
					json_array_append_new(ports, json_string(model.ports[j].name));
		ctl_printf(req, "%s (%s)\n", g->name, g->stateless ? "stateless" : "stateful");
		for (size_t j = 0; j < g->n_rules; j++) {
			uint64_t hits = 0;

			for (uint32_t k = 0; k < ct->n_rules; k++)
				if (ct->rules[k].id == g->rules[j].id)
					hits = ct->rules[k].n;
			ds_clear(&ds);
			sg_format_rule(&g->rules[j], &ds);
			ctl_printf(req, "  %u: %s  (n_packets=%llu)\n", g->rules[j].id, ds_cstr(&ds),
				   (unsigned long long)hits);
			json_array_append_new(rules, json_pack("{s:I,s:s,s:I}", "id",
				(json_int_t)g->rules[j].id, "rule", ds_cstr(&ds), "n_packets",
				(json_int_t)hits));
		}
		if (json_array_size(ports)) {
			size_t k;
			json_t *v;

			ctl_printf(req, "  bound:");
			json_array_foreach(ports, k, v)
				ctl_printf(req, " %s", json_string_value(v));
			ctl_printf(req, "\n");
		}
		json_array_append_new(arr, json_pack("{s:s,s:b,s:o,s:o}", "name", g->name,
						     "stateful", !g->stateless, "rules", rules,
						     "ports", ports));
	}
	ds_destroy(&ds);
	counts_free(ct);
	if (req->argc > 1 && !json_array_size(arr)) {
		json_decref(arr);
		return ctl_error(req, ENOENT, "%s: no such security group", req->argv[1]);
	}
	req->data = arr;
	return 0;
}

/* sg-sync: compile and install the model again, e.g. after a del-flows that
 * took the compiled flows with it. */
static int cmd_sg_sync(struct ctl_req *req)
{
	char err[512];
	int rc = install(&model, NULL, err, sizeof(err));

	return rc ? ctl_error(req, -rc, "%s", err) : 0;
}

/* ---- ports coming and going ---- */

/* Reinstall with the port present again (its flows were never kept). */
static void port_added(struct port *port)
{
	char err[512];

	if (conf_port(&model, port->name, false) && install(&model, NULL, err, sizeof(err)))
		LOG(LOG_ERR, "sg", "%s: re-adding its firewall flows failed: %s", port->name, err);
}

/* The datapath deletes the flows that name a removed port, and its id will
 * be reused: the port's settings go with it (as its flows do), and the
 * rest is recompiled, since remote groups may have listed its addresses. */
static void port_removed(struct port *port)
{
	struct sg_port *p = conf_port(&model, port->name, false);
	char err[512];

	if (!p)
		return;
	*p = model.ports[--model.n_ports];
	if (install(&model, port->name, err, sizeof(err)))
		LOG(LOG_ERR, "sg", "%s: recompiling without it failed: %s", port->name, err);
	else
		LOG(LOG_INFO, "sg", "%s: removed, its port security and groups dropped", port->name);
}

static struct port_listener sg_listener = {
	.added = port_added,
	.removed = port_removed,
};

static void __attribute__((constructor)) sg_register(void)
{
	port_listener_register(&sg_listener);
}

static const struct ctl_cmd sg_cmds[] = {
	{ "port-security", "PORT mac=MAC [ip=IP[,IP...]] | PORT off", 2, 3, cmd_port_security, true },
	{ "port-security-show", "[PORT]", 0, 1, cmd_port_security_show, false },
	{ "sg-create", "NAME [stateless]", 1, 2, cmd_sg_create, true },
	{ "sg-delete", "NAME", 1, 1, cmd_sg_delete, true },
	{ "sg-rule-add", "NAME ingress|egress [proto=tcp|udp|icmp|any] [port=N[-M]] "
	  "[remote=CIDR|remote-group=NAME] [ethertype=ipv4|ipv6]", 2, 6, cmd_sg_rule_add, true },
	{ "sg-rule-del", "NAME ID | NAME RULE...", 2, 6, cmd_sg_rule_del, true },
	{ "sg-bind", "PORT NAME", 2, 2, cmd_sg_bind, true },
	{ "sg-unbind", "PORT [NAME]", 1, 2, cmd_sg_unbind, true },
	{ "sg-show", "[NAME]", 0, 1, cmd_sg_show, false },
	{ "sg-sync", "", 0, 0, cmd_sg_sync, false },
};
CTL_COMMANDS(sg_cmds)
