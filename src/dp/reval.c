/*
 * Keeping megaflows honest, and rules' counters and timeouts: the control
 * thread's side of the flow cache.
 *
 * dp_tables_changed() is what every flow, group, meter or port change ends
 * with. It bumps dp_version and waits a grace period, so every xlate that
 * might have read the old tables has finished and installed its megaflow;
 * then it recomputes every megaflow older than the new version and removes
 * the ones whose decision changed (or that credit a removed rule), waits
 * again (mflow_gc) and frees the rules removed since the last call. When it
 * returns, no packet can follow a decision the old tables made.
 *
 * Stats: a megaflow counts its packets per PMD (mflow.h); every second, and
 * before anything shows or removes rules, the packets since the last push
 * are credited to the rules the megaflow's xlate went through (mf_side).
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "table.h"

struct mflow dp_mflow;
struct mf_side *dp_mf_side;
static struct rule *retired;
static struct ev_timer *tick;
static uint64_t mf_idle_ns = MFLOW_DEFAULT_IDLE_NS;
static uint64_t n_reval_removed, n_reval_kept, n_expired_idle;

void rule_retire(struct rule *r)
{
	r->dead = true;
	r->gc_next = retired;
	retired = r;
}

void reval_note_install(const struct mflow_entry *e, const struct xlate_out *out)
{
	struct mf_side *s = &dp_mf_side[e->id];

	memcpy(s->rules, out->rules, out->n_rules * sizeof(out->rules[0]));
	s->pushed_packets = s->pushed_bytes = 0;
	/* Release: the rules are in place before the control thread, which
	 * reads n with acquire, looks at them. */
	__atomic_store_n(&s->n, out->n_rules, __ATOMIC_RELEASE);
}

/* Credit e's packets since the last push to its rules. */
static void push_one(struct mflow_entry *e)
{
	struct mf_side *s = &dp_mf_side[e->id];
	uint8_t n = __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
	struct mflow_sum sum;
	uint64_t dp, db;

	if (!n)
		return;
	mflow_get_stats(&dp_mflow, e, &sum);
	dp = sum.packets - s->pushed_packets;
	db = sum.bytes - s->pushed_bytes;
	if (!dp)
		return;
	s->pushed_packets = sum.packets;
	s->pushed_bytes = sum.bytes;
	for (uint8_t i = 0; i < n; i++) {
		struct rule *r = s->rules[i];

		r->n_packets += dp;
		r->n_bytes += db;
		if (sum.used_ns > r->used_ns)
			r->used_ns = sum.used_ns;
	}
}

/* Before a megaflow's id can be recycled. */
static void forget(struct mflow_entry *e)
{
	push_one(e);
	__atomic_store_n(&dp_mf_side[e->id].n, 0, __ATOMIC_RELAXED);
}

static enum mflow_walk push_cb(struct mflow_entry *e, void *arg)
{
	(void)arg;
	push_one(e);
	return MFLOW_WALK_NEXT;
}

void reval_push_stats(void)
{
	if (dp_mf_side)
		mflow_foreach(&dp_mflow, push_cb, NULL);
}

static bool credits_dead_rule(const struct mflow_entry *e)
{
	const struct mf_side *s = &dp_mf_side[e->id];
	uint8_t n = __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);

	for (uint8_t i = 0; i < n; i++)
		if (s->rules[i]->dead)
			return true;
	return false;
}

/* Is every bit of a set in b? */
static bool wc_within(const struct flow_key *a, const struct flow_key *b)
{
	const flow_word *x = flow_u64(a), *y = flow_u64(b);

	for (size_t i = 0; i < FLOW_U64S; i++)
		if (x[i] & ~y[i])
			return false;
	return true;
}

static enum mflow_walk reval_cb(struct mflow_entry *e, void *arg)
{
	uint64_t version = *(const uint64_t *)arg;
	const struct mflow_actions *old;
	struct xlate_out out;
	bool same;

	if (e->version >= version)
		return MFLOW_WALK_NEXT;
	if (credits_dead_rule(e))
		goto remove;
	memset(&out, 0, sizeof(out));
	/* The masked key stands for every packet the megaflow covers: the
	 * decision depended on no other bits. */
	if (xlate(&e->cr.match.key, &out) < 0)
		goto remove_free;
	old = mflow_actions(e);
	same = old->len == out.acts.len &&
	       (!old->len || !memcmp(old->data, out.acts.data, out.acts.len)) &&
	       wc_within(&out.wc, &e->cr.match.mask);
	dpact_buf_free(&out.acts);
	if (!same)
		goto remove;
	/* Same decision, on no more bits: still right at the new version.
	 * Written under the cache's lock, which mflow_foreach holds. */
	e->version = out.version;
	n_reval_kept++;
	return MFLOW_WALK_NEXT;
remove_free:
	dpact_buf_free(&out.acts);
remove:
	forget(e);
	n_reval_removed++;
	return MFLOW_WALK_REMOVE;
}

void dp_tables_changed(void)
{
	uint64_t v = __atomic_load_n(&dp_version, __ATOMIC_RELAXED) + 1;

	/* Release: the tables (and ports, groups) this version stands for
	 * are published before it. */
	__atomic_store_n(&dp_version, v, __ATOMIC_RELEASE);
	/* Every xlate that read an older version has finished and installed
	 * its megaflow when this returns, so the walk below sees it. */
	synchronize_rcu();
	if (dp_mf_side)
		mflow_foreach(&dp_mflow, reval_cb, &v);
	mflow_gc(&dp_mflow);	/* a grace period, then frees removed megaflows */
	for (int t = 0; t < DP_N_TABLES; t++) {
		struct cls_gc *g = cls_gc_detach(&dp_tables[t]);

		cls_gc_free(g);	/* the grace period above covers them */
	}
	while (retired) {
		struct rule *r = retired;

		retired = r->gc_next;
		rule_free(r);
	}
}

static enum mflow_walk sweep_cb(struct mflow_entry *e, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;
	struct mflow_sum sum;

	push_one(e);
	mflow_get_stats(&dp_mflow, e, &sum);
	if (now - (sum.used_ns ? sum.used_ns : e->created_ns) < mf_idle_ns)
		return MFLOW_WALK_NEXT;
	forget(e);
	n_expired_idle++;
	return MFLOW_WALK_REMOVE;
}

static bool rule_expired(const struct rule *r, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;

	if (r->hard_timeout && now - r->created_ns >= r->hard_timeout * 1000000000ull)
		return true;
	if (r->idle_timeout &&
	    now - MAX(r->used_ns, r->modified_ns) >= r->idle_timeout * 1000000000ull)
		return true;
	return false;
}

/* Once a second: push stats, expire idle megaflows, expire rules. */
static void on_tick(void *arg)
{
	uint64_t now = time_ns();

	(void)arg;
	if (mflow_foreach(&dp_mflow, sweep_cb, &now))
		mflow_gc(&dp_mflow);
	table_del_if(rule_expired, &now);
}

void reval_stats_json(json_t *o)
{
	json_object_set_new(o, "megaflows", json_integer((json_int_t)mflow_count(&dp_mflow)));
	json_object_set_new(o, "megaflows_revalidated_kept", json_integer((json_int_t)n_reval_kept));
	json_object_set_new(o, "megaflows_revalidated_removed",
			    json_integer((json_int_t)n_reval_removed));
	json_object_set_new(o, "megaflows_expired", json_integer((json_int_t)n_expired_idle));
	json_object_set_new(o, "flows", json_integer((json_int_t)table_n_rules()));
}

void reval_set_idle(uint64_t ns)
{
	mf_idle_ns = ns;
}

int ofproto_init(unsigned n_pmds)
{
	static bool done;
	struct ofctl_flow normal = { .priority = 0, .out_port = OFPP_NONE,
				     .out_group = OFPG_ANY };
	struct ofpact_output *o;
	char err[128];
	int rc;

	if (done)
		return 0;
	rc = table_init();
	if (rc)
		return rc;
	rc = mflow_init(&dp_mflow, n_pmds, 0);
	if (rc)
		return rc;
	dp_mf_side = calloc(dp_mflow.max_entries, sizeof(*dp_mf_side));
	if (!dp_mf_side)
		return -ENOMEM;
	group_set_compile(xlate_bucket);
	/* A fresh switch is a learning bridge, as a fresh OVS bridge is:
	 * table 0, priority 0, actions=normal. del-flows removes it. */
	o = ofpbuf_put(&normal.actions, OFPACT_OUTPUT, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->port = OFPP_NORMAL;
	done = true;
	rc = table_add_flows(&normal, 1, err, sizeof(err));
	ofpbuf_free(&normal.actions);
	if (rc)
		return rc;
	tick = ev_timer_add(1000, 1000, on_tick, NULL);
	return 0;
}
