/*
 * The OpenFlow tables: rules, flow mods (add, modify, delete, strict or
 * not), the default flow, and the rules' view for dump-flows. Control
 * thread only; PMDs read the tables through pipeline.c.
 *
 * Every change is all-or-nothing: a batch (add-flows of a file) is parsed
 * and checked whole before the first rule is inserted, and a failure while
 * inserting takes back what the batch had inserted.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_priv.h"
#include "table.h"

struct cls dp_tables[DP_N_TABLES];
uint64_t dp_version = 1;
static bool tables_ready;

int table_init(void)
{
	if (tables_ready)
		return 0;
	for (int t = 0; t < DP_N_TABLES; t++)
		if (cls_init(&dp_tables[t]) < 0)
			return -ENOMEM;
	tables_ready = true;
	return 0;
}

static struct rule_actions *actions_copy(const struct ofpbuf *b)
{
	struct rule_actions *ra = malloc(sizeof(*ra) + b->len);

	if (!ra)
		return NULL;
	ra->len = (uint32_t)b->len;
	ra->pad = 0;
	if (b->len)
		memcpy(ra->data, b->data, b->len);
	return ra;
}

struct rule *rule_new(const struct ofctl_flow *f, uint64_t now)
{
	struct rule *r = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*r), CACHE_LINE));

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->actions = actions_copy(&f->actions);
	if (!r->actions) {
		free(r);
		return NULL;
	}
	r->cr.match = f->match;
	r->cr.priority = f->priority;
	r->cookie = f->cookie;
	r->idle_timeout = f->idle_timeout;
	r->hard_timeout = f->hard_timeout;
	r->importance = f->importance;
	r->flags = f->flags;
	r->table = f->table;
	r->created_ns = r->modified_ns = now;
	return r;
}

void rule_free(struct rule *r)
{
	if (!r)
		return;
	free(r->actions);
	free(r);
}

/* Swap a live rule's actions; the old block is freed after a grace period
 * by the caller (returned). */
static struct rule_actions *rule_set_actions(struct rule *r, struct rule_actions *ra)
{
	struct rule_actions *old = r->actions;

	rcu_assign_pointer(r->actions, ra);
	return old;
}

/* Does rule r pass the filters of a del/mod/dump request f? */
static bool rule_selected(const struct rule *r, const struct ofctl_flow *f, bool strict)
{
	if (f->has_table && r->table != f->table)
		return false;
	if (f->cookie_mask && (r->cookie & f->cookie_mask) != (f->cookie & f->cookie_mask))
		return false;
	if (strict) {
		if (r->cr.priority != f->priority ||
		    memcmp(&r->cr.match, &f->match, sizeof(f->match)))
			return false;
	} else {
		/* Non-strict: r's match is at least as specific as f's (every
		 * packet r matches, f matches too). */
		const flow_word *rk = flow_u64(&r->cr.match.key), *rm = flow_u64(&r->cr.match.mask);
		const flow_word *fk = flow_u64(&f->match.key), *fm = flow_u64(&f->match.mask);

		for (size_t i = 0; i < FLOW_U64S; i++)
			if ((fm[i] & ~rm[i]) || (rk[i] & fm[i]) != fk[i])
				return false;
	}
	if (f->out_port != OFPP_NONE || f->out_group != OFPG_ANY) {
		bool hit = false;

		OFPACT_FOREACH(a, r->actions->data, r->actions->len) {
			if (a->type == OFPACT_OUTPUT &&
			    ((const struct ofpact_output *)a)->port == f->out_port)
				hit = true;
			if (a->type == OFPACT_GROUP &&
			    ((const struct ofpact_id *)a)->id == f->out_group)
				hit = true;
		}
		if (!hit)
			return false;
	}
	return true;
}

void table_foreach(const struct ofctl_flow *filter, bool strict,
		   void (*fn)(struct rule *r, void *arg), void *arg)
{
	for (int t = 0; t < DP_N_TABLES; t++) {
		struct cls_cursor cur;
		struct cls_rule *cr;

		if (filter && filter->has_table && t != filter->table)
			continue;
		if (!cls_count(&dp_tables[t]))
			continue;
		cls_cursor_init(&cur, &dp_tables[t]);
		while ((cr = cls_cursor_next(&cur))) {
			struct rule *r = container_of(cr, struct rule, cr);

			if (!filter || rule_selected(r, filter, strict))
				fn(r, arg);
		}
	}
}

/* Check what parsing alone could not: groups and meters exist, the
 * datapath can do every set_field. */
int table_check_flow(const struct ofctl_flow *f, char *err, size_t errlen)
{
	OFPACT_FOREACH(a, f->actions.data, f->actions.len) {
		if (a->type == OFPACT_GROUP && !group_find(((const struct ofpact_id *)a)->id)) {
			snprintf(err, errlen, "group %u does not exist (add-group first)",
				 ((const struct ofpact_id *)a)->id);
			return -ENOENT;
		}
		if (a->type == OFPACT_METER && !meter_find(((const struct ofpact_id *)a)->id)) {
			snprintf(err, errlen, "meter %u does not exist (add-meter first)",
				 ((const struct ofpact_id *)a)->id);
			return -ENOENT;
		}
		if (a->type == OFPACT_SET_FIELD || a->type == OFPACT_MOVE) {
			uint16_t id = a->type == OFPACT_SET_FIELD ?
				      ((const struct ofpact_set_field *)a)->field :
				      ((const struct ofpact_move *)a)->dst;

			if (!table_field_rewritable(id)) {
				snprintf(err, errlen, "%s: the datapath cannot rewrite this field",
					 mf_fields[id].name);
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}

bool table_field_rewritable(uint16_t id)
{
	switch (id) {
	case MF_ETH_SRC: case MF_ETH_DST:
	case MF_IPV4_SRC: case MF_IPV4_DST: case MF_IP_TOS: case MF_IP_DSCP: case MF_IP_ECN:
	case MF_NW_TTL: case MF_IPV6_SRC: case MF_IPV6_DST: case MF_IPV6_LABEL:
	case MF_TCP_SRC: case MF_TCP_DST: case MF_UDP_SRC: case MF_UDP_DST:
	case MF_SCTP_SRC: case MF_SCTP_DST:
	case MF_VLAN_TCI: case MF_VLAN_VID: case MF_VLAN_PCP:
	case MF_MPLS_LABEL: case MF_MPLS_TC: case MF_MPLS_TTL:
	case MF_METADATA:
	/* Tunnel metadata, read when output to a tunnel port is compiled. */
	case MF_TUN_ID: case MF_TUN_SRC: case MF_TUN_DST: case MF_TUN_TOS: case MF_TUN_TTL:
	case MF_TUN_IPV6_SRC: case MF_TUN_IPV6_DST:
	case MF_TUN_OPTS:
		return true;
	default:
		return id >= MF_REG0 && id <= MF_REG15;
	}
}

static int sweep_stale(const struct ofctl_flow *sweep, struct rule *const *added, size_t n,
		       bool *touched);
static int add_flows(struct ofctl_flow *flows, size_t n, const struct ofctl_flow *sweep,
		     char *err, size_t errlen);

/*
 * Add a batch of flows (add-flow is a batch of one). A flow with the same
 * table, match and priority as an existing rule replaces it, keeping its
 * counters unless reset_counts (OpenFlow). Nothing is changed unless every
 * flow can be inserted.
 */
int table_add_flows(struct ofctl_flow *flows, size_t n, char *err, size_t errlen)
{
	return add_flows(flows, n, NULL, err, errlen);
}

int table_replace_flows(struct ofctl_flow *flows, size_t n, uint64_t cookie,
			uint64_t cookie_mask, char *err, size_t errlen)
{
	struct ofctl_flow sweep = { .cookie = cookie, .cookie_mask = cookie_mask,
				    .out_port = OFPP_NONE, .out_group = OFPG_ANY };

	return add_flows(flows, n, &sweep, err, errlen);
}

static int add_flows(struct ofctl_flow *flows, size_t n, const struct ofctl_flow *sweep,
		     char *err, size_t errlen)
{
	struct rule **added = calloc(n ? n : 1, sizeof(*added));
	struct rule **replaced = calloc(n ? n : 1, sizeof(*replaced));
	uint64_t now = time_ns();
	bool touched[DP_N_TABLES] = { false };
	bool inserted = false;	/* flow i's rule is in its table */
	size_t i;
	int rc = 0;

	if (!added || !replaced) {
		free(added);
		free(replaced);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		rc = table_check_flow(&flows[i], err, errlen);
		if (rc)
			goto fail_check;
	}
	for (i = 0; i < n; i++) {
		struct ofctl_flow *f = &flows[i];
		struct cls *c = &dp_tables[f->table];
		struct cls_rule *old;

		inserted = false;
		if (!touched[f->table]) {
			cls_defer(c);
			touched[f->table] = true;
		}
		added[i] = rule_new(f, now);
		if (!added[i]) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory at flow %zu", i + 1);
			goto fail_insert;
		}
		old = cls_find_exact(c, &f->match, f->priority);
		if (old && (f->flags & OFCTL_FF_CHECK_OVERLAP)) {
			rc = -EEXIST;
			snprintf(err, errlen, "flow %zu: an identical flow exists (check_overlap)", i + 1);
			goto fail_insert;
		}
		rc = cls_insert(c, &added[i]->cr);
		if (rc) {
			snprintf(err, errlen, "flow %zu: %s", i + 1, strerror(-rc));
			goto fail_insert;
		}
		inserted = true;
		if (old) {
			struct rule *o = container_of(old, struct rule, cr);

			cls_remove(c, old);
			if (!(f->flags & OFCTL_FF_RESET_COUNTS)) {
				added[i]->n_packets = o->n_packets;
				added[i]->n_bytes = o->n_bytes;
				added[i]->used_ns = o->used_ns;
				added[i]->created_ns = o->created_ns;
			}
			replaced[i] = o;
		}
	}
	if (sweep) {
		rc = sweep_stale(sweep, added, n, touched);
		if (rc) {
			snprintf(err, errlen, "out of memory");
			goto fail_insert;	/* i == n: every flow is undone */
		}
	}
	for (int t = 0; t < DP_N_TABLES; t++)
		if (touched[t])
			cls_publish(&dp_tables[t]);
	for (i = 0; i < n; i++)
		if (replaced[i])
			rule_retire(replaced[i]);
	free(added);
	free(replaced);
	dp_tables_changed();
	return 0;

fail_insert:
	/* Flow i failed before or at its insert: its rule, if any, was never
	 * visible. Undo flows i-1..0 in reverse: take each out, put back what
	 * it replaced. Those may have been seen by readers, so they are
	 * retired, not freed. */
	if (i < n && added[i] && !inserted)
		rule_free(added[i]);
	while (i-- > 0) {
		struct cls *c = &dp_tables[flows[i].table];

		cls_remove(c, &added[i]->cr);
		if (replaced[i])
			cls_insert(c, &replaced[i]->cr);
		rule_retire(added[i]);
	}
	for (int t = 0; t < DP_N_TABLES; t++)
		if (touched[t])
			cls_publish(&dp_tables[t]);
	dp_tables_changed();
fail_check:
	free(added);
	free(replaced);
	return rc;
}

struct mod_ctx {
	const struct ofctl_flow *f;
	struct rule_actions **old;
	size_t n, cap;
	int err;
};

static void mod_one(struct rule *r, void *arg)
{
	struct mod_ctx *m = arg;
	struct rule_actions *ra;

	if (m->err)
		return;
	ra = actions_copy(&m->f->actions);
	if (!ra || (m->n == m->cap && !(m->old = realloc(m->old, (m->cap = m->cap * 2 + 8) *
							       sizeof(*m->old))))) {
		free(ra);
		m->err = -ENOMEM;
		return;
	}
	m->old[m->n++] = rule_set_actions(r, ra);
	r->modified_ns = time_ns();
	if (m->f->flags & OFCTL_FF_RESET_COUNTS)
		r->n_packets = r->n_bytes = 0;
}

/* mod-flows: replace the actions of every selected rule. Returns how many. */
int table_mod_flows(const struct ofctl_flow *f, bool strict, char *err, size_t errlen)
{
	struct mod_ctx m = { .f = f };
	int rc = table_check_flow(f, err, errlen);

	if (rc)
		return rc;
	reval_push_stats();
	table_foreach(f, strict, mod_one, &m);
	if (m.n)
		dp_tables_changed();	/* includes a grace period */
	else
		synchronize_rcu();
	for (size_t i = 0; i < m.n; i++)
		free(m.old[i]);
	free(m.old);
	if (m.err) {
		snprintf(err, errlen, "out of memory");
		return m.err;
	}
	return (int)m.n;
}

struct del_ctx {
	struct rule **v;
	size_t n, cap;
	bool oom;
};

static void collect(struct rule *r, void *arg)
{
	struct del_ctx *d = arg;

	if (d->n == d->cap) {
		struct rule **v = realloc(d->v, (d->cap = d->cap * 2 + 64) * sizeof(*v));

		if (!v) {
			d->oom = true;
			return;
		}
		d->v = v;
	}
	d->v[d->n++] = r;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Take out the rules the sweep selects that the batch did not just add,
 * inside the deferred window, so readers see the old set or the new one per
 * table. Nothing is removed unless it all can be (-ENOMEM). */
static int sweep_stale(const struct ofctl_flow *sweep, struct rule *const *added, size_t n,
		       bool *touched)
{
	struct rule **keep = malloc((n ? n : 1) * sizeof(*keep));
	struct del_ctx d = { 0 };

	if (!keep)
		return -ENOMEM;
	memcpy(keep, added, n * sizeof(*keep));
	qsort(keep, n, sizeof(*keep), ptr_cmp);
	table_foreach(sweep, false, collect, &d);
	if (d.oom) {
		free(d.v);
		free(keep);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d.n; i++) {
		struct rule *r = d.v[i];

		if (bsearch(&r, keep, n, sizeof(*keep), ptr_cmp))
			continue;
		if (!touched[r->table]) {
			cls_defer(&dp_tables[r->table]);
			touched[r->table] = true;
		}
		cls_remove(&dp_tables[r->table], &r->cr);
		rule_retire(r);
	}
	free(d.v);
	free(keep);
	return 0;
}

/* Remove the given rules (collected first: no removal while iterating). */
static void remove_rules(struct rule **v, size_t n)
{
	bool touched[DP_N_TABLES] = { false };

	for (size_t i = 0; i < n; i++) {
		if (!touched[v[i]->table]) {
			cls_defer(&dp_tables[v[i]->table]);
			touched[v[i]->table] = true;
		}
		cls_remove(&dp_tables[v[i]->table], &v[i]->cr);
		rule_retire(v[i]);
	}
	for (int t = 0; t < DP_N_TABLES; t++)
		if (touched[t])
			cls_publish(&dp_tables[t]);
}

/* del-flows: returns how many were removed, or -errno. */
int table_del_flows(const struct ofctl_flow *f, bool strict)
{
	struct del_ctx d = { 0 };

	table_foreach(f, strict, collect, &d);
	if (d.oom) {
		free(d.v);
		return -ENOMEM;
	}
	if (d.n) {
		reval_push_stats();
		remove_rules(d.v, d.n);
		dp_tables_changed();
	}
	free(d.v);
	return (int)d.n;
}

/* Remove rules for which pred says so (timeouts, a port going away). */
size_t table_del_if(bool (*pred)(const struct rule *r, void *arg), void *arg)
{
	struct del_ctx d = { 0 }, keep = { 0 };

	table_foreach(NULL, false, collect, &d);
	for (size_t i = 0; i < d.n; i++)
		if (pred(d.v[i], arg))
			d.v[keep.n++] = d.v[i];
	if (keep.n) {
		remove_rules(d.v, keep.n);
		dp_tables_changed();
	}
	free(d.v);
	return keep.n;
}

size_t table_n_rules(void)
{
	size_t n = 0;

	for (int t = 0; t < DP_N_TABLES; t++)
		n += cls_count(&dp_tables[t]);
	return n;
}

static bool names_port(const struct rule *r, void *arg)
{
	uint16_t id = *(const uint16_t *)arg;

	if (r->cr.match.mask.in_port && r->cr.match.key.in_port == id)
		return true;
	OFPACT_FOREACH(a, r->actions->data, r->actions->len)
		if (a->type == OFPACT_OUTPUT && ((const struct ofpact_output *)a)->port == id)
			return true;
	return false;
}

void ofproto_port_removed(uint16_t id)
{
	size_t n = table_del_if(names_port, &id);

	if (n)
		LOG(LOG_INFO, "dp", "port %u removed: %zu flow(s) that named it deleted", id, n);
	else
		dp_tables_changed();
}
