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

static int cmd_trace(struct ctl_req *req)
{
	const char *flow = req->argv[req->argc - 1];
	struct trace_ctx t = { .req = req, .steps = json_array() };
	struct xlate_out out = { .trace = &trace_ops, .trace_aux = &t };
	struct ds acts = { 0 }, mega = { 0 }, chg = { 0 };
	json_t *outputs = json_array(), *changed;
	struct flow_match wc = { 0 };
	struct ofctl_flow f;
	char err[512];
	int rc = ofproto_init(PORT_MAX_QUEUES);

	if (rc)
		return ctl_error(req, -rc, "flow tables: %s", strerror(-rc));
	if (req->argc == 3 && strcmp(req->argv[1], "--json"))
		return ctl_error(req, EINVAL, "%s: unknown option", req->argv[1]);
	rc = ofctl_parse_flow(flow, OFCTL_QUERY, flow_port_lookup, NULL, &f, err, sizeof(err));
	if (rc) {
		json_decref(t.steps);
		json_decref(outputs);
		return ctl_error(req, -rc, "%s", err);
	}
	/* The flow's fields are the packet's; what it leaves out is zero. */
	ctl_printf(req, "Flow: %s\n\n", flow);
	rc = xlate(&f.match.key, &out);
	if (rc) {
		ofctl_flow_destroy(&f);
		dpact_buf_free(&out.acts);
		json_decref(t.steps);
		json_decref(outputs);
		return ctl_error(req, -rc, "%s", strerror(-rc));
	}
	format_dpacts(out.acts.data, out.acts.len, &acts, outputs);
	wc.mask = out.wc;
	flow_key_and(&wc.key, &f.match.key, &out.wc);
	ofctl_format_match(&mega, &wc, -1, flow_port_name, NULL);
	changed = changed_fields(&f.match.key, &out.final, &chg);
	ctl_printf(req, "\nFinal flow: %s\nMegaflow: %s\nDatapath actions: %s\n",
		   chg.len ? ds_cstr(&chg) : "unchanged", mega.len ? ds_cstr(&mega) : "(all)",
		   ds_cstr(&acts));
	if (out.drop)
		ctl_printf(req, "Drop reason: %s\n", xlate_drop_names[out.drop]);
	req->data = json_pack("{s:o,s:o,s:b,s:s?,s:o,s:s,s:s}", "outputs", outputs,
		"changed", changed, "drop", out.acts.len == 0,
		"drop_reason", out.drop ? xlate_drop_names[out.drop] :
			       out.acts.len == 0 ? "flow_drop" : NULL,
		"tables", t.steps, "datapath_actions", ds_cstr(&acts), "megaflow", ds_cstr(&mega));
	DPACT_FOREACH(a, out.acts.data, out.acts.len)
		if (a->type == DPACT_ROUTE) {
			uint32_t vrf = ((const struct dpact_id *)a)->id;
			char r[1024];

			/* The LPM runs per packet: show what it answers now. */
			l3_trace(vrf, &out.final, r, sizeof(r));
			ctl_printf(req, "Route: vrf %u: %s\n", vrf, r);
			json_object_set_new(req->data, "route", json_string(r));
		}
	ds_destroy(&acts);
	ds_destroy(&mega);
	ds_destroy(&chg);
	dpact_buf_free(&out.acts);
	ofctl_flow_destroy(&f);
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
	{ "trace", "[--json] FLOW", 1, 2, cmd_trace, false },
	{ "dump-megaflows", "", 0, 0, cmd_dump_megaflows, false },
};
CTL_COMMANDS(trace_cmds)
