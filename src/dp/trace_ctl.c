/*
 * trace and dump-megaflows: what the pipeline decides for a flow, table by
 * table (like ovs-appctl ofproto/trace), and what the megaflow cache holds
 * (like ovs-appctl dpctl/dump-flows).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../ctl/ctl.h"
#include "table.h"
#include "../l3/l3.h"

struct trace_ctx {
	struct ctl_req *req;
	json_t *steps;
};

static void trace_lookup(void *aux, int depth, uint8_t table, const struct flow_key *key,
			 const struct rule *r)
{
	struct trace_ctx *t = aux;
	struct ds m = { 0 }, a = { 0 };

	(void)key;
	if (!r) {
		ctl_printf(t->req, "%*s%2u. no match: %s\n", depth * 4, "", table,
			   depth ? "back to the caller" : "table miss, drop");
		json_array_append_new(t->steps, json_pack("{s:i,s:i,s:n}", "table", table,
							  "depth", depth, "rule"));
		return;
	}
	ofctl_format_match(&m, &r->cr.match, -1, flow_port_name, NULL);
	ofctl_format_actions(&a, r->actions->data, r->actions->len, flow_port_name, NULL);
	ctl_printf(t->req, "%*s%2u. priority %d%s%s\n%*s    actions: %s\n", depth * 4, "", table,
		   r->cr.priority, ds_cstr(&m)[0] ? ", " : "", ds_cstr(&m), depth * 4, "",
		   ds_cstr(&a));
	json_array_append_new(t->steps, json_pack("{s:i,s:i,s:{s:i,s:s,s:s,s:I}}", "table", table,
		"depth", depth, "rule", "priority", r->cr.priority, "match", ds_cstr(&m),
		"actions", ds_cstr(&a), "cookie", (json_int_t)r->cookie));
	ds_destroy(&m);
	ds_destroy(&a);
}

static void trace_note(void *aux, int depth, const char *fmt, ...)
{
	struct trace_ctx *t = aux;
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctl_printf(t->req, "%*s    %s\n", depth * 4, "", buf);
	json_array_append_new(t->steps, json_pack("{s:i,s:s}", "depth", depth, "note", buf));
}

static const struct xlate_trace_ops trace_ops = { trace_lookup, trace_note };

/* Datapath actions with port names: "set(...),vm2" and the list of outputs. */
static void format_dpacts(const void *acts, size_t len, struct ds *ds, json_t *outputs)
{
	DPACT_FOREACH(a, acts, len) {
		char buf[512];
		const char *name;

		if (ds->len)
			ds_put_char(ds, ',');
		switch (a->type) {
		case DPACT_OUTPUT:
			name = flow_port_name(((const struct dpact_output *)a)->port, NULL);
			ds_put_cstr(ds, name ? name : "?");
			if (outputs)
				json_array_append_new(outputs, json_string(name ? name : "?"));
			break;
		case DPACT_NORMAL:
			ds_put_cstr(ds, "normal");
			if (outputs)
				json_array_append_new(outputs, json_string("NORMAL"));
			break;
		default:
			dpact_format(a, (size_t)a->len * 8, buf, sizeof(buf));
			ds_put_cstr(ds, buf);
			if (outputs && a->type == DPACT_GROUP)
				json_array_append_new(outputs, json_string(buf));
			break;
		}
	}
	if (!len)
		ds_put_cstr(ds, "drop");
}

/* The fields the pipeline changed, as "name=value" through the formatter. */
static json_t *changed_fields(const struct flow_key *in, const struct flow_key *out, struct ds *ds)
{
	json_t *o = json_object();
	struct flow_match fin = { .key = *out };

	/* Fields that share a member (arp_spa and nw_src) print once: under
	 * the name whose prerequisite the final packet meets. */
	memset(&fin.mask, 0xff, sizeof(fin.mask));
	for (int id = 0; id < MF_N_IDS; id++) {
		const struct mf_field *f = &mf_fields[id];
		uint8_t a[MF_MAX_BYTES], b[MF_MAX_BYTES], m[MF_MAX_BYTES];
		struct flow_match one = { 0 };
		struct ds v = { 0 };
		const char *eq;

		if (f->id == MF_IN_PORT || !mf_prereq_ok(&fin, f->prereq))
			continue;
		mf_get(f, in, a);
		mf_get(f, out, b);
		if (!memcmp(a, b, f->n_bytes))
			continue;
		mf_field_mask(f, m);
		mf_match_set(f, b, m, &one);
		ofctl_format_match(&v, &one, -1, flow_port_name, NULL);
		/* The formatter may lead with a protocol shorthand; keep the
		 * field=value part. */
		eq = strstr(ds_cstr(&v), f->name);
		eq = eq ? strchr(eq, '=') : NULL;
		json_object_set_new(o, f->name, json_string(eq ? eq + 1 : ds_cstr(&v)));
		ds_put_format(ds, "%s%s=%s", ds->len ? "," : "", f->name, eq ? eq + 1 : ds_cstr(&v));
		ds_destroy(&v);
	}
	return o;
}

/* The first RECIRC of a datapath list, and the CT record before it. */
static const struct dpact_recirc *find_recirc(const void *acts, size_t len,
					      const struct dpact_ct **ct)
{
	*ct = NULL;
	DPACT_FOREACH(a, acts, len) {
		if (a->type == DPACT_CT)
			*ct = (const void *)a;
		if (a->type == DPACT_RECIRC)
			return (const void *)a;
	}
	return NULL;
}

/* "+trk+est", "trk,est" or "trk|est" into CS_* bits; -1 if unknown. */
static int parse_ct_next(const char *s)
{
	static const struct { const char *n; int bit; } names[] = {
		{ "new", CS_NEW }, { "est", CS_ESTABLISHED }, { "rel", CS_RELATED },
		{ "rpl", CS_REPLY_DIR }, { "inv", CS_INVALID }, { "trk", CS_TRACKED },
		{ "snat", CS_SRC_NAT }, { "dnat", CS_DST_NAT },
	};
	int bits = 0;

	while (*s) {
		size_t n;
		size_t i;

		while (*s == '+' || *s == ',' || *s == '|')
			s++;
		n = strcspn(s, "+,|");
		if (!n)
			break;
		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (strlen(names[i].n) == n && !strncmp(s, names[i].n, n))
				break;
		if (i == ARRAY_SIZE(names))
			return -1;
		bits |= names[i].bit;
		s += n;
	}
	return bits;
}

/* One pass of the pipeline over key, printed; its JSON in *res. */
static int trace_pass(struct ctl_req *req, const struct flow_key *key, struct xlate_out *out,
		      json_t **res)
{
	struct trace_ctx t = { .req = req, .steps = json_array() };
	struct ds acts = { 0 }, mega = { 0 }, chg = { 0 };
	json_t *outputs = json_array(), *changed;
	struct flow_match wc = { 0 };
	int rc;

	out->trace = &trace_ops;
	out->trace_aux = &t;
	rc = xlate(key, out);
	if (rc) {
		json_decref(t.steps);
		json_decref(outputs);
		return ctl_error(req, -rc, "%s", strerror(-rc));
	}
	format_dpacts(out->acts.data, out->acts.len, &acts, outputs);
	wc.mask = out->wc;
	flow_key_and(&wc.key, key, &out->wc);
	ofctl_format_match(&mega, &wc, -1, flow_port_name, NULL);
	changed = changed_fields(key, &out->final, &chg);
	ctl_printf(req, "\nFinal flow: %s\nMegaflow: %s\nDatapath actions: %s\n",
		   chg.len ? ds_cstr(&chg) : "unchanged", mega.len ? ds_cstr(&mega) : "(all)",
		   ds_cstr(&acts));
	if (out->drop)
		ctl_printf(req, "Drop reason: %s\n", xlate_drop_names[out->drop]);
	*res = json_pack("{s:o,s:o,s:b,s:s?,s:o,s:s,s:s}", "outputs", outputs,
		"changed", changed, "drop", out->acts.len == 0,
		"drop_reason", out->drop ? xlate_drop_names[out->drop] :
			       out->acts.len == 0 ? "flow_drop" : NULL,
		"tables", t.steps, "datapath_actions", ds_cstr(&acts), "megaflow", ds_cstr(&mega));
	DPACT_FOREACH(a, out->acts.data, out->acts.len)
		if (a->type == DPACT_ROUTE) {
			uint32_t vrf = ((const struct dpact_id *)a)->id;
			char r[1024];

			/* The LPM runs per packet: show what it answers now. */
			l3_trace(vrf, &out->final, r, sizeof(r));
			ctl_printf(req, "Route: vrf %u: %s\n", vrf, r);
			json_object_set_new(*res, "route", json_string(r));
		}
	ds_destroy(&acts);
	ds_destroy(&mega);
	ds_destroy(&chg);
	return 0;
}

/*
 * trace [--ct-next STATE]... FLOW. A ct(table=N) recirculates: the trace
 * follows into table N with the ct fields a packet would get — ct_state from
 * the next --ct-next (default +trk+new, as OVS's ofproto/trace), the zone of
 * the ct() and the packet's own tuple as the original direction.
 */
static int cmd_trace(struct ctl_req *req)
{
	const char *flow = req->argv[req->argc - 1];
	int ct_next[DPACT_MAX_RECIRC], n_next = 0, rc;
	json_t *res = NULL, *recircs = json_array();
	struct flow_key key;
	struct ofctl_flow f;
	char err[512];

	rc = ofproto_init(PORT_MAX_QUEUES);
	if (rc)
		return ctl_error(req, -rc, "flow tables: %s", strerror(-rc));
	for (int i = 1; i < req->argc - 1; i++) {
		if (!strcmp(req->argv[i], "--json"))
			continue;
		if (strcmp(req->argv[i], "--ct-next") || i + 1 >= req->argc - 1) {
			json_decref(recircs);
			return ctl_error(req, EINVAL, "%s: unknown option (--ct-next STATE)",
					 req->argv[i]);
		}
		i++;
		if (n_next == DPACT_MAX_RECIRC || (ct_next[n_next++] = parse_ct_next(req->argv[i])) < 0) {
			json_decref(recircs);
			return ctl_error(req, EINVAL, "--ct-next %s: flags like +trk+est (at most %d)",
					 req->argv[i], DPACT_MAX_RECIRC);
		}
	}
	rc = ofctl_parse_flow(flow, OFCTL_QUERY, flow_port_lookup, NULL, &f, err, sizeof(err));
	if (rc) {
		json_decref(recircs);
		return ctl_error(req, -rc, "%s", err);
	}
	/* The flow's fields are the packet's; what it leaves out is zero. */
	ctl_printf(req, "Flow: %s\n\n", flow);
	key = f.match.key;
	for (int pass = 0;; pass++) {
		struct xlate_out out = { 0 };
		const struct dpact_recirc *r;
		const struct dpact_ct *ct;
		json_t *one = NULL;

		rc = trace_pass(req, &key, &out, &one);
		if (rc) {
			dpact_buf_free(&out.acts);
			break;
		}
		if (!res)
			res = one;
		else
			json_array_append_new(recircs, one);
		r = find_recirc(out.acts.data, out.acts.len, &ct);
		if (!r || pass + 1 >= DPACT_MAX_RECIRC) {
			dpact_buf_free(&out.acts);
			break;
		}
		key = out.final;
		ct_clear_key(&key);
		key.ct_state = (uint8_t)(pass < n_next ? ct_next[pass] : CS_TRACKED | CS_NEW);
		key.ct_zone = ct ? ct->ct.zone : 0;
		key.ct_nw_proto = key.nw_proto;
		key.ct_nw_src = key.nw_src;
		key.ct_nw_dst = key.nw_dst;
		memcpy(key.ct_ipv6_src, key.ipv6_src, 16);
		memcpy(key.ct_ipv6_dst, key.ipv6_dst, 16);
		key.ct_tp_src = key.tp_src;
		key.ct_tp_dst = key.tp_dst;
		key.recirc_id = r->table + 1u;
		key.metadata = r->metadata;
		memcpy(key.regs, r->regs, sizeof(key.regs));
		ctl_printf(req, "\nrecirc(0x%x): conntrack resumes in table %u, ct_state=0x%02x, "
			   "ct_zone=%u\n\n", key.recirc_id, r->table, key.ct_state, key.ct_zone);
		dpact_buf_free(&out.acts);
	}
	ofctl_flow_destroy(&f);
	if (rc) {
		json_decref(res);
		json_decref(recircs);
		return rc;
	}
	json_object_set_new(res, "recirculations", recircs);
	req->data = res;
	return 0;
}

struct mf_dump {
	struct ctl_req *req;
	json_t *arr;
	uint64_t now;
};

static enum mflow_walk dump_mf(struct mflow_entry *e, void *arg)
{
	struct mf_dump *d = arg;
	const struct mflow_actions *a = mflow_actions(e);
	struct ds m = { 0 }, acts = { 0 };
	struct mflow_sum s;
	double used;

	mflow_get_stats(&dp_mflow, e, &s);
	ofctl_format_match(&m, &e->cr.match, -1, flow_port_name, NULL);
	format_dpacts(a->data, a->len, &acts, NULL);
	used = s.used_ns ? (double)(d->now - s.used_ns) / 1e9 : -1;
	if (used < 0)
		ctl_printf(d->req, "%s, packets:%llu, bytes:%llu, used:never, actions:%s\n",
			   m.len ? ds_cstr(&m) : "(all)", (unsigned long long)s.packets,
			   (unsigned long long)s.bytes, ds_cstr(&acts));
	else
		ctl_printf(d->req, "%s, packets:%llu, bytes:%llu, used:%.3fs, actions:%s\n",
			   m.len ? ds_cstr(&m) : "(all)", (unsigned long long)s.packets,
			   (unsigned long long)s.bytes, used, ds_cstr(&acts));
	json_array_append_new(d->arr, json_pack("{s:s,s:I,s:I,s:f,s:s}", "match", ds_cstr(&m),
		"packets", (json_int_t)s.packets, "bytes", (json_int_t)s.bytes, "used", used,
		"actions", ds_cstr(&acts)));
	ds_destroy(&m);
	ds_destroy(&acts);
	return MFLOW_WALK_NEXT;
}

static int cmd_dump_megaflows(struct ctl_req *req)
{
	struct mf_dump d = { .req = req, .arr = json_array(), .now = time_ns() };
	int rc = ofproto_init(PORT_MAX_QUEUES);

	if (rc)
		return ctl_error(req, -rc, "flow tables: %s", strerror(-rc));
	mflow_foreach(&dp_mflow, dump_mf, &d);
	req->data = d.arr;
	return 0;
}

static const struct ctl_cmd trace_cmds[] = {
	{ "trace", "[--ct-next STATE]... FLOW", 1, 2 * DPACT_MAX_RECIRC + 2, cmd_trace, false },
	{ "dump-megaflows", "", 0, 0, cmd_dump_megaflows, false },
};
CTL_COMMANDS(trace_cmds)
