/*
 * Flow commands, in the ovs-ofctl language: add-flow, add-flows, mod-flows,
 * del-flows, dump-flows; add-group, mod-group, del-groups, dump-groups;
 * add-meter, mod-meter, del-meters, dump-meters; trace; dump-megaflows.
 */
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "table.h"

int flow_port_lookup(const char *name, uint16_t *id, void *aux)
{
	struct port *p = port_find(name);
	unsigned long long n;

	(void)aux;
	if (p) {
		*id = p->id;
		return 0;
	}
	if (!parse_uint(name, 0, PORT_MAX - 1, &n) && port_by_id((uint16_t)n)) {
		*id = (uint16_t)n;
		return 0;
	}
	return -ENOENT;
}

const char *flow_port_name(uint16_t id, void *aux)
{
	struct port *p = id < PORT_MAX ? port_by_id(id) : NULL;

	(void)aux;
	return p ? p->name : NULL;
}

static int need_ofproto(struct ctl_req *req)
{
	int rc = ofproto_init(PORT_MAX_QUEUES);

	return rc ? ctl_error(req, -rc, "flow tables: %s", strerror(-rc)) : 0;
}

/* Strip "--strict" / "--table N" options in front of the flow argument. */
struct opts {
	bool strict;
	int table;		/* -1 = any */
	const char *flow;	/* NULL = none given */
};

static int parse_opts(struct ctl_req *req, struct opts *o)
{
	o->strict = false;
	o->table = -1;
	o->flow = NULL;
	for (int i = 1; i < req->argc; i++) {
		const char *a = req->argv[i];

		if (!strcmp(a, "--strict")) {
			o->strict = true;
		} else if (!strcmp(a, "--table") && i + 1 < req->argc) {
			unsigned long long t;

			if (parse_uint(req->argv[++i], 0, DP_N_TABLES - 1, &t))
				return ctl_error(req, EINVAL, "--table %s: not a table (0-%d)",
						 req->argv[i], DP_N_TABLES - 1);
			o->table = (int)t;
		} else if (a[0] == '-' && a[1] == '-') {
			return ctl_error(req, EINVAL, "%s: unknown option", a);
		} else if (o->flow) {
			return ctl_error(req, EINVAL, "one flow only (quote it)");
		} else {
			o->flow = a;
		}
	}
	return 0;
}

static int cmd_add_flow(struct ctl_req *req)
{
	struct ofctl_flow f;
	char err[512];
	int rc = need_ofproto(req);

	if (rc)
		return rc;
	rc = ofctl_parse_flow(req->argv[1], OFCTL_ADD, flow_port_lookup, NULL, &f, err, sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	rc = table_add_flows(&f, 1, err, sizeof(err));
	ofctl_flow_destroy(&f);
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	return 0;
}

/* Parse text, one flow per line ('#' comments, blank lines skipped), into
 * *flows (caller frees with flows_free). 0, or -errno with "line N: why". */
static int parse_lines(const char *src, struct ofctl_flow **flows, size_t *n_out,
		       char *err, size_t errlen)
{
	char *text = strdup(src), *line, *next;
	size_t n = 0, cap = 0, lineno = 0;
	char why[512];
	int rc = 0;

	*flows = NULL;
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (n == cap) {
			struct ofctl_flow *v = realloc(*flows, (cap = cap ? cap * 2 : 1024) * sizeof(*v));

			if (!v) {
				snprintf(err, errlen, "out of memory at line %zu", lineno);
				rc = -ENOMEM;
				break;
			}
			*flows = v;
		}
		rc = ofctl_parse_flow(line, OFCTL_ADD, flow_port_lookup, NULL, &(*flows)[n], why,
				      sizeof(why));
		if (rc) {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			break;
		}
		n++;
	}
	*n_out = n;
	free(text);
	return rc;
}

static void flows_free(struct ofctl_flow *flows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ofctl_flow_destroy(&flows[i]);
	free(flows);
}

/* add-flows TEXT: xvioctl sends the file's contents; all or nothing. */
static int cmd_add_flows(struct ctl_req *req)
{
	struct ofctl_flow *flows;
	size_t n;
	char err[600];
	int rc = need_ofproto(req);

	if (rc)
		return rc;
	rc = parse_lines(req->argv[1], &flows, &n, err, sizeof(err));
	if (!rc)
		rc = table_add_flows(flows, n, err, sizeof(err));
	if (rc)
		rc = ctl_error(req, -rc, "%s (no flow added)", err);
	else
		req->data = json_pack("{s:I}", "added", (json_int_t)n);
	flows_free(flows, n);
	return rc;
}

int dp_owned_flows_replace(uint64_t cookie, uint64_t mask, const char *text,
			   char *err, size_t errlen)
{
	struct ofctl_flow *flows;
	size_t n;
	int rc = ofproto_init(PORT_MAX_QUEUES);

	if (rc) {
		snprintf(err, errlen, "flow tables: %s", strerror(-rc));
		return rc;
	}
	rc = parse_lines(text, &flows, &n, err, errlen);
	for (size_t i = 0; !rc && i < n; i++) {
		if ((flows[i].cookie & mask) != (cookie & mask)) {
			snprintf(err, errlen, "flow %zu: cookie 0x%llx is not in the set", i + 1,
				 (unsigned long long)flows[i].cookie);
			rc = -EINVAL;
		}
	}
	if (!rc) {
		reval_push_stats();	/* replaced rules hand on fresh counters */
		rc = table_replace_flows(flows, n, cookie, mask, err, errlen);
	}
	flows_free(flows, n);
	return rc;
}

struct owned_ctx {
	dp_owned_flow_fn *fn;
	void *arg;
};

static void owned_one(struct rule *r, void *arg)
{
	struct owned_ctx *o = arg;

	o->fn(r->cookie, r->n_packets, r->n_bytes, o->arg);
}

void dp_owned_flows_foreach(uint64_t cookie, uint64_t mask, dp_owned_flow_fn *fn, void *arg)
{
	struct ofctl_flow f = { .cookie = cookie, .cookie_mask = mask,
				.out_port = OFPP_NONE, .out_group = OFPG_ANY };
	struct owned_ctx o = { fn, arg };

	if (!dp_mf_side)
		return;		/* no tables yet, so no owned flows */
	reval_push_stats();
	table_foreach(&f, false, owned_one, &o);
}

static int cmd_mod_flows(struct ctl_req *req)
{
	struct ofctl_flow f;
	struct opts o;
	char err[512];
	int rc = need_ofproto(req);

	if (rc || (rc = parse_opts(req, &o)))
		return rc;
	if (!o.flow)
		return ctl_error(req, EINVAL, "a flow with actions= is required");
	rc = ofctl_parse_flow(o.flow, OFCTL_MODIFY, flow_port_lookup, NULL, &f, err, sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	rc = table_mod_flows(&f, o.strict, err, sizeof(err));
	ofctl_flow_destroy(&f);
	if (rc < 0)
		return ctl_error(req, -rc, "%s", err);
	req->data = json_pack("{s:i}", "modified", rc);
	return 0;
}

static int cmd_del_flows(struct ctl_req *req)
{
	struct ofctl_flow f;
	struct opts o;
	char err[512];
	int rc = need_ofproto(req);

	if (rc || (rc = parse_opts(req, &o)))
		return rc;
	rc = ofctl_parse_flow(o.flow ? o.flow : "", OFCTL_DELETE, flow_port_lookup, NULL, &f, err,
			      sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	if (o.strict && !f.has_priority)
		f.priority = OFCTL_DEFAULT_PRIORITY;
	rc = table_del_flows(&f, o.strict);
	ofctl_flow_destroy(&f);
	if (rc < 0)
		return ctl_error(req, -rc, "%s", strerror(-rc));
	req->data = json_pack("{s:i}", "deleted", rc);
	return 0;
}

struct dump_ctx {
	struct ctl_req *req;
	json_t *arr;
	uint64_t now;
	struct ds ds;
};

static void dump_one(struct rule *r, void *arg)
{
	struct dump_ctx *d = arg;
	struct ofctl_flow f = {
		.match = r->cr.match, .cookie = r->cookie, .priority = (uint16_t)r->cr.priority,
		.idle_timeout = r->idle_timeout, .hard_timeout = r->hard_timeout,
		.importance = r->importance, .flags = r->flags, .table = r->table,
		.has_table = true, .has_actions = true, .has_priority = true,
		.out_port = OFPP_NONE, .out_group = OFPG_ANY,
		.actions = { .data = r->actions->data, .len = r->actions->len },
	};
	struct ofctl_flow_stats st = {
		.duration_ns = d->now - r->created_ns,
		.n_packets = r->n_packets, .n_bytes = r->n_bytes,
		.idle_age_s = (int64_t)((d->now - MAX(r->used_ns, r->modified_ns)) / 1000000000ull),
	};
	struct ds m = { 0 }, a = { 0 };

	ds_clear(&d->ds);
	ofctl_format_flow(&d->ds, &f, &st, flow_port_name, NULL);
	ctl_printf(d->req, " %s\n", ds_cstr(&d->ds));
	ofctl_format_match(&m, &f.match, f.priority, flow_port_name, NULL);
	ofctl_format_actions(&a, f.actions.data, f.actions.len, flow_port_name, NULL);
	json_array_append_new(d->arr, json_pack("{s:i,s:i,s:s,s:s,s:I,s:I,s:I,s:f,s:i,s:i}",
		"table", r->table, "priority", r->cr.priority, "match", ds_cstr(&m),
		"actions", ds_cstr(&a), "cookie", (json_int_t)r->cookie,
		"n_packets", (json_int_t)r->n_packets, "n_bytes", (json_int_t)r->n_bytes,
		"duration", (double)st.duration_ns / 1e9, "idle_timeout", r->idle_timeout,
		"hard_timeout", r->hard_timeout));
	ds_destroy(&m);
	ds_destroy(&a);
}

static int cmd_dump_flows(struct ctl_req *req)
{
	struct dump_ctx d = { .req = req, .now = time_ns() };
	struct ofctl_flow f;
	struct opts o;
	char err[512];
	int rc = need_ofproto(req);

	if (rc || (rc = parse_opts(req, &o)))
		return rc;
	rc = ofctl_parse_flow(o.flow ? o.flow : "", OFCTL_QUERY, flow_port_lookup, NULL, &f, err,
			      sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	if (o.table >= 0) {
		f.table = (uint8_t)o.table;
		f.has_table = true;
	}
	reval_push_stats();
	d.arr = json_array();
	table_foreach(&f, o.strict, dump_one, &d);
	ds_destroy(&d.ds);
	ofctl_flow_destroy(&f);
	req->data = d.arr;
	return 0;
}

/* ---- groups ---- */

static int group_from_ofctl(const struct ofctl_group *g, struct group_bucket_spec *b)
{
	for (uint16_t i = 0; i < g->n_buckets; i++) {
		const struct ofctl_bucket *ob = &g->buckets[i];

		b[i] = (struct group_bucket_spec){
			.weight = ob->weight,
			.watch_port = ob->watch_port == OFPP_NONE ? PORT_ID_NONE : ob->watch_port,
			.ofpacts = ob->actions.data, .ofpacts_len = ob->actions.len,
		};
	}
	return 0;
}

static const enum group_type group_types[] = {
	[OFCTL_GT_ALL] = GROUP_ALL, [OFCTL_GT_SELECT] = GROUP_SELECT,
	[OFCTL_GT_INDIRECT] = GROUP_INDIRECT, [OFCTL_GT_FF] = GROUP_FF,
};

static int group_change(struct ctl_req *req, bool mod)
{
	struct group_bucket_spec b[OFCTL_MAX_BUCKETS];
	struct ofctl_group *g = calloc(1, sizeof(*g));
	char err[512];
	int rc = need_ofproto(req);

	if (rc || !g) {
		free(g);
		return rc ? rc : ctl_error(req, ENOMEM, "out of memory");
	}
	rc = ofctl_parse_group(req->argv[1], mod ? OFCTL_MODIFY : OFCTL_ADD, flow_port_lookup, NULL,
			       g, err, sizeof(err));
	if (rc) {
		free(g);
		return ctl_error(req, -rc, "%s", err);
	}
	group_from_ofctl(g, b);
	rc = mod ? group_mod(g->group_id, group_types[g->type], b, g->n_buckets) :
		   group_add(g->group_id, group_types[g->type], b, g->n_buckets);
	if (rc == 0) {
		group_liveness_refresh();
		dp_tables_changed();
	} else if (rc == -EEXIST) {
		rc = ctl_error(req, EEXIST, "group %u exists (mod-group to change it)", g->group_id);
	} else if (rc == -ENOENT) {
		rc = ctl_error(req, ENOENT, "group %u does not exist", g->group_id);
	} else if (rc == -EOPNOTSUPP) {
		rc = ctl_error(req, EOPNOTSUPP, "group %u: a bucket uses an action a group cannot "
			       "run without a flow (in_port, normal, flood, resubmit, goto_table, "
			       "move, L4 port rewrites)", g->group_id);
	} else {
		rc = ctl_error(req, -rc, "group %u: %s", g->group_id, strerror(-rc));
	}
	ofctl_group_destroy(g);
	free(g);
	return rc;
}

static int cmd_add_group(struct ctl_req *req)
{
	return group_change(req, false);
}

static int cmd_mod_group(struct ctl_req *req)
{
	return group_change(req, true);
}

/* Which rules a group or meter deletion takes with it: those whose actions
 * name that id (or any id of the type, for "all"). */
struct id_use {
	int type;		/* OFPACT_GROUP or OFPACT_METER */
	uint32_t id, all;
};

static bool uses_id(const struct rule *r, void *arg)
{
	const struct id_use *u = arg;

	OFPACT_FOREACH(a, r->actions->data, r->actions->len)
		if (a->type == u->type &&
		    (u->id == u->all || ((const struct ofpact_id *)a)->id == u->id))
			return true;
	return false;
}

static int cmd_del_groups(struct ctl_req *req)
{
	struct ofctl_group *g = calloc(1, sizeof(*g));
	char err[512];
	uint32_t id;
	int rc = need_ofproto(req);

	if (rc || !g) {
		free(g);
		return rc ? rc : ctl_error(req, ENOMEM, "out of memory");
	}
	rc = ofctl_parse_group(req->argc > 1 ? req->argv[1] : "", OFCTL_DELETE, flow_port_lookup, NULL,
			       g, err, sizeof(err));
	id = g->group_id;
	ofctl_group_destroy(g);
	free(g);
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	/* OpenFlow: deleting a group deletes the flows that use it. */
	table_del_if(uses_id, &(struct id_use){ OFPACT_GROUP, id, OFPG_ALL });
	rc = group_del(id);
	if (rc && !(rc == -ENOENT && id == OFPG_ALL))
		return ctl_error(req, -rc, "group %u: %s", id, strerror(-rc));
	dp_tables_changed();
	return 0;
}

static const char *const gt_names[] = {
	[GROUP_ALL] = "all", [GROUP_SELECT] = "select", [GROUP_INDIRECT] = "indirect",
	[GROUP_FF] = "fast_failover",
};

static void dump_group(const struct group *g, void *arg)
{
	struct dump_ctx *d = arg;
	json_t *buckets = json_array();
	uint64_t pk = 0, by = 0;

	ds_clear(&d->ds);
	ds_put_format(&d->ds, " group_id=%u,type=%s", g->id, gt_names[g->type]);
	for (uint32_t i = 0; i < g->n_buckets; i++) {
		const struct group_bucket *b = &g->buckets[i];
		struct group_ctr c = group_bucket_stats(g, i);
		struct ds a = { 0 };

		ofctl_format_actions(&a, b->ofpacts, b->ofpacts_len, flow_port_name, NULL);
		ds_put_cstr(&d->ds, ",bucket=");
		if (g->type == GROUP_SELECT)
			ds_put_format(&d->ds, "weight:%u,", b->weight);
		if (g->type == GROUP_FF && b->watch_port != PORT_ID_NONE)
			ds_put_format(&d->ds, "watch_port:%s,",
				      flow_port_name(b->watch_port, NULL) ?: "?");
		ds_put_format(&d->ds, "actions=%s", ds_cstr(&a));
		json_array_append_new(buckets, json_pack("{s:s,s:i,s:I,s:I}", "actions", ds_cstr(&a),
			"weight", b->weight, "n_packets", (json_int_t)c.packets,
			"n_bytes", (json_int_t)c.bytes));
		pk += c.packets;
		by += c.bytes;
		ds_destroy(&a);
	}
	ctl_printf(d->req, "%s\n  n_packets=%llu n_bytes=%llu\n", ds_cstr(&d->ds),
		   (unsigned long long)pk, (unsigned long long)by);
	json_array_append_new(d->arr, json_pack("{s:i,s:s,s:o,s:I,s:I}", "group_id", g->id,
		"type", gt_names[g->type], "buckets", buckets, "n_packets", (json_int_t)pk,
		"n_bytes", (json_int_t)by));
}

static int cmd_dump_groups(struct ctl_req *req)
{
	struct dump_ctx d = { .req = req, .arr = json_array() };

	group_foreach(dump_group, &d);
	ds_destroy(&d.ds);
	req->data = d.arr;
	return 0;
}

/* ---- meters ---- */

static int meter_change(struct ctl_req *req, bool mod)
{
	struct meter_band_spec b[OFCTL_MAX_BANDS];
	struct ofctl_meter m;
	char err[512];
	int rc = need_ofproto(req);

	if (rc)
		return rc;
	rc = ofctl_parse_meter(req->argv[1], mod ? OFCTL_MODIFY : OFCTL_ADD, &m, err, sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	for (uint16_t i = 0; i < m.n_bands; i++) {
		if (m.bands[i].type != OFCTL_BAND_DROP)
			return ctl_error(req, EOPNOTSUPP, "meter %u: only drop bands are supported",
					 m.meter_id);
		b[i] = (struct meter_band_spec){ .type = METER_BAND_DROP, .rate = m.bands[i].rate,
						 .burst = m.bands[i].burst_size };
	}
	/* ofctl's flag bits are OpenFlow's, as meter.h's are. */
	rc = mod ? meter_mod(m.meter_id, m.flags, b, m.n_bands) :
		   meter_add(m.meter_id, m.flags, b, m.n_bands);
	if (rc == -EEXIST)
		return ctl_error(req, EEXIST, "meter %u exists (mod-meter to change it)", m.meter_id);
	if (rc)
		return ctl_error(req, -rc, "meter %u: %s", m.meter_id, strerror(-rc));
	dp_tables_changed();
	return 0;
}

static int cmd_add_meter(struct ctl_req *req)
{
	return meter_change(req, false);
}

static int cmd_mod_meter(struct ctl_req *req)
{
	return meter_change(req, true);
}

static int cmd_del_meters(struct ctl_req *req)
{
	struct ofctl_meter m;
	char err[512];
	int rc = need_ofproto(req);

	if (rc)
		return rc;
	rc = ofctl_parse_meter(req->argc > 1 ? req->argv[1] : "", OFCTL_DELETE, &m, err,
			       sizeof(err));
	if (rc)
		return ctl_error(req, -rc, "%s", err);
	table_del_if(uses_id, &(struct id_use){ OFPACT_METER, m.meter_id, METER_ALL });
	rc = meter_del(m.meter_id);
	if (rc && !(rc == -ENOENT && m.meter_id == METER_ALL))
		return ctl_error(req, -rc, "meter %u: %s", m.meter_id, strerror(-rc));
	dp_tables_changed();
	return 0;
}

static void dump_meter(const struct meter *m, void *arg)
{
	struct dump_ctx *d = arg;
	struct meter_ctr c = meter_stats(m);
	json_t *bands = json_array();

	ctl_printf(d->req, " meter=%u %s%s bands=", m->id,
		   m->flags & METER_F_PKTPS ? "pktps" : "kbps",
		   m->flags & METER_F_BURST ? " burst" : "");
	for (uint32_t i = 0; i < m->n_bands; i++) {
		ctl_printf(d->req, "%stype=drop rate=%u burst_size=%u dropped=%llu", i ? " " : "",
			   m->bands[i].rate, m->bands[i].burst,
			   (unsigned long long)c.band_packets[i]);
		json_array_append_new(bands, json_pack("{s:s,s:i,s:i,s:I}", "type", "drop",
			"rate", m->bands[i].rate, "burst_size", m->bands[i].burst,
			"n_packets_dropped", (json_int_t)c.band_packets[i]));
	}
	ctl_printf(d->req, "\n  n_packets=%llu n_bytes=%llu\n", (unsigned long long)c.packets,
		   (unsigned long long)c.bytes);
	json_array_append_new(d->arr, json_pack("{s:i,s:b,s:o,s:I,s:I}", "meter_id", m->id,
		"pktps", !!(m->flags & METER_F_PKTPS), "bands", bands,
		"n_packets", (json_int_t)c.packets, "n_bytes", (json_int_t)c.bytes));
}

static int cmd_dump_meters(struct ctl_req *req)
{
	struct dump_ctx d = { .req = req, .arr = json_array() };

	meter_foreach(dump_meter, &d);
	req->data = d.arr;
	return 0;
}

static const struct ctl_cmd flow_cmds[] = {
	{ "add-flow", "FLOW", 1, 1, cmd_add_flow, true },
	{ "add-flows", "FILE (xvioctl sends its lines; all or nothing)", 1, 1, cmd_add_flows, true },
	{ "mod-flows", "[--strict] FLOW", 1, 2, cmd_mod_flows, true },
	{ "del-flows", "[--strict] [FLOW]", 0, 2, cmd_del_flows, true },
	{ "dump-flows", "[--table N] [MATCH]", 0, 3, cmd_dump_flows, false },
	{ "add-group", "GROUP", 1, 1, cmd_add_group, true },
	{ "mod-group", "GROUP", 1, 1, cmd_mod_group, true },
	{ "del-groups", "[group_id=N]", 0, 1, cmd_del_groups, true },
	{ "dump-groups", "", 0, 0, cmd_dump_groups, false },
	{ "add-meter", "METER", 1, 1, cmd_add_meter, true },
	{ "mod-meter", "METER", 1, 1, cmd_mod_meter, true },
	{ "del-meters", "[meter=N]", 0, 1, cmd_del_meters, true },
	{ "dump-meters", "", 0, 0, cmd_dump_meters, false },
};
CTL_COMMANDS(flow_cmds)
