/*
 * Control side of the datapath: the configuration snapshot (attached ports,
 * cross-connect pairs, flood list), the per-PMD contexts and their counters,
 * MAC aging, and the views `stats` and `fdb-show` print.
 *
 * Everything here runs on the control thread. Each change copies the current
 * snapshot, edits the copy, publishes it with rcu_assign_pointer (release:
 * the copy's contents are visible before the pointer), waits one grace period
 * and frees the old one.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dp_priv.h"

const char *const dp_drop_names[DP_DROP_MAX] = {
#define X(e, s) [DP_DROP_##e] = s,
	DP_DROP_REASONS(X)
#undef X
};

struct dp_conf *dp_conf_rcu;
static struct dp_conf *conf_cur;	/* == dp_conf_rcu; the writer's view */

#define DP_PMD_MAX PORT_MAX_QUEUES
static struct dp_pmd *pmds[DP_PMD_MAX];
/* Counters of contexts already destroyed, so totals never go backwards. */
static uint64_t gone_drops[DP_DROP_MAX], gone_flooded, gone_learned, gone_moved;
/* MAC entries forgotten because their port's link went down (control thread). */
static uint64_t fdb_flushed_link_down;
static uint64_t gone_emc, gone_mflow, gone_upcalls, gone_upcall_fail, gone_emc_bypassed;
static uint64_t gone_act_drops[DPACT_DROP_MAX];

static uint32_t mac_aging = DP_MAC_AGING_DEFAULT;
static struct ev_timer *age_timer;

static struct dp_conf *conf_copy(void)
{
	struct dp_conf *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	if (conf_cur) {
		memcpy(c, conf_cur, sizeof(*c));
	} else {
		memset(c, 0, sizeof(*c));
		for (int i = 0; i < PORT_MAX; i++)
			c->xc_peer[i] = PORT_ID_NONE;
	}
	return c;
}

static void conf_publish(struct dp_conf *c)
{
	struct dp_conf *old = conf_cur;

	c->n_flood = 0;
	for (uint16_t id = 0; id < PORT_MAX; id++)
		if (c->ports[id] && c->xc_peer[id] == PORT_ID_NONE)
			c->flood[c->n_flood++] = id;
	conf_cur = c;
	rcu_assign_pointer(dp_conf_rcu, c);
	synchronize_rcu();
	free(old);
}

static void age_tick(void *arg)
{
	unsigned n;

	(void)arg;
	n = fdb_age(fdb_now(), mac_aging);
	if (n)
		DLOG("dp", "aged out %u MAC entries", n);
}

static void port_added(struct port *port)
{
	struct dp_conf *c = conf_copy();

	if (!c) {
		LOG(LOG_ERR, "dp", "%s: out of memory attaching port; its packets will be dropped",
		    port->name);
		return;
	}
	c->ports[port->id] = port;
	c->xc_peer[port->id] = PORT_ID_NONE;
	conf_publish(c);
	if (!age_timer)
		age_timer = ev_timer_add(1000, 1000, age_tick, NULL);
	/* Flood and all now include the port. */
	if (dp_mf_side)
		dp_tables_changed();
}

static void port_removed(struct port *port)
{
	struct dp_conf *c = conf_copy();
	uint16_t id = port->id, peer;

	if (!c) {
		/* Cannot happen short of OOM; the port table's own grace
		 * period still protects the PMDs, and a stale entry is
		 * treated as unknown by dp_process. */
		LOG(LOG_ERR, "dp", "%s: out of memory detaching port", port->name);
		fdb_flush_port(id);
		return;
	}
	peer = c->xc_peer[id];
	if (peer != PORT_ID_NONE) {
		c->xc_peer[peer] = PORT_ID_NONE;
		LOG(LOG_INFO, "dp", "%s: removed, cross-connect with %s undone", port->name,
		    c->ports[peer] ? c->ports[peer]->name : "?");
	}
	c->ports[id] = NULL;
	c->xc_peer[id] = PORT_ID_NONE;
	/* After this grace period no PMD can learn on, or forward to, the
	 * port, so the flush below is final. */
	conf_publish(c);
	fdb_flush_port(id);
	if (dp_mf_side)
		ofproto_port_removed(id);
}

/* What was learned on a port whose link went down points at a dead end:
 * forget it, as the Linux bridge and OVS do, so the next frame to those MACs
 * floods and reaches them wherever they went (a migrated VM's new port)
 * instead of being dropped on the dead port until the host speaks again.
 * The link is down only once its rings are stopped and a grace period has
 * passed, so no PMD can learn on it again after this. */
static void port_went_down(struct port *port)
{
	unsigned n = fdb_flush_port(port->id);

	fdb_flushed_link_down += n;
	if (n)
		LOG(LOG_INFO, "dp", "%s: link down, forgot %u MAC(s) learned on it", port->name, n);
}

static struct port_listener dp_listener = {
	.added = port_added,
	.removed = port_removed,
	.link_down = port_went_down,
};

static void __attribute__((constructor)) dp_register(void)
{
	port_listener_register(&dp_listener);
}

int dp_xconnect(struct port *a, struct port *b)
{
	struct dp_conf *c;

	if (a == b)
		return -EINVAL;
	if (!conf_cur || conf_cur->ports[a->id] != a || conf_cur->ports[b->id] != b)
		return -ENOENT;
	if (conf_cur->xc_peer[a->id] == b->id)
		return 0;
	if (conf_cur->xc_peer[a->id] != PORT_ID_NONE || conf_cur->xc_peer[b->id] != PORT_ID_NONE)
		return -EBUSY;
	c = conf_copy();
	if (!c)
		return -ENOMEM;
	c->xc_peer[a->id] = b->id;
	c->xc_peer[b->id] = a->id;
	conf_publish(c);
	/* They left the bridge; what was learned on them is void. */
	fdb_flush_port(a->id);
	fdb_flush_port(b->id);
	return 0;
}

int dp_xconnect_del(struct port *a)
{
	struct dp_conf *c;
	uint16_t peer;

	if (!conf_cur || conf_cur->ports[a->id] != a || conf_cur->xc_peer[a->id] == PORT_ID_NONE)
		return -ENOENT;
	c = conf_copy();
	if (!c)
		return -ENOMEM;
	peer = c->xc_peer[a->id];
	c->xc_peer[a->id] = PORT_ID_NONE;
	c->xc_peer[peer] = PORT_ID_NONE;
	conf_publish(c);
	return 0;
}

struct port *dp_xconnect_peer(const struct port *p)
{
	uint16_t peer;

	if (!conf_cur || p->id >= PORT_MAX || conf_cur->ports[p->id] != p)
		return NULL;
	peer = conf_cur->xc_peer[p->id];
	return peer == PORT_ID_NONE ? NULL : conf_cur->ports[peer];
}

void dp_set_mac_aging(uint32_t secs)
{
	mac_aging = secs;
	age_tick(NULL);
}

uint32_t dp_mac_aging(void)
{
	return mac_aging;
}

struct dp_pmd *dp_pmd_create(uint16_t txq)
{
	struct dp_pmd *ctx;
	int err;

	if (txq >= DP_PMD_MAX || pmds[txq]) {
		errno = EINVAL;
		return NULL;
	}
	ctx = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*ctx), CACHE_LINE));
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ctx, 0, sizeof(*ctx));
	ctx->txq = txq;
	err = ofproto_init(DP_PMD_MAX);
	if (!err)
		err = emc_init(&ctx->emc, &dp_mflow, txq, 0);
	if (err) {
		free(ctx);
		errno = -err;
		return NULL;
	}
	dpact_ctx_init(&ctx->act, ctx, txq, dp_output);
	/* Conntrack: the table (sized once), its sweep, this PMD's counters. */
	if (!err)
		err = ct_init(0);
	if (!err)
		err = ct_start_sweeper();
	if (err) {
		emc_destroy(&ctx->emc);
		free(ctx);
		errno = -err;
		return NULL;
	}
	ct_pmd_register(txq, &ctx->act.ct);
	pmds[txq] = ctx;
	return ctx;
}

void dp_pmd_destroy(struct dp_pmd *ctx)
{
	if (!ctx)
		return;
	for (int d = 0; d < DP_DROP_MAX; d++)
		gone_drops[d] += ctx->drops[d];
	gone_flooded += ctx->flooded;
	gone_learned += ctx->learned;
	gone_moved += ctx->moved;
	gone_emc += ctx->n_emc_hits;
	gone_mflow += ctx->n_mflow_hits;
	gone_upcalls += ctx->n_upcalls;
	gone_upcall_fail += ctx->n_upcall_fail;
	gone_emc_bypassed += ctx->n_emc_bypassed;
	for (int d = 0; d < DPACT_DROP_MAX; d++)
		gone_act_drops[d] += ctx->act.drops[d];
	ct_pmd_register(ctx->txq, NULL);
	emc_destroy(&ctx->emc);
	pmds[ctx->txq] = NULL;
	free(ctx);
}

static void mac_fmt(uint64_t mac, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(mac >> 40) & 0xff,
		 (unsigned)(mac >> 32) & 0xff, (unsigned)(mac >> 24) & 0xff,
		 (unsigned)(mac >> 16) & 0xff, (unsigned)(mac >> 8) & 0xff, (unsigned)mac & 0xff);
}

void dp_fdb_json(json_t *array)
{
	uint32_t now = fdb_now();

	for (uint32_t h = 0; h < FDB_BUCKETS; h++)
		for (int i = 0; i < FDB_WAYS; i++) {
			uint64_t k = __atomic_load_n(&fdb_tab[h].key[i], __ATOMIC_RELAXED);
			uint32_t seen = __atomic_load_n(&fdb_seen[h][i], __ATOMIC_RELAXED);
			struct port *p;
			char mac[18];

			if (!k)
				continue;
			p = port_by_id((uint16_t)k);
			mac_fmt(k >> 16, mac, sizeof(mac));
			json_array_append_new(array, json_pack("{s:s,s:s,s:i,s:I}", "mac", mac,
				"port", p ? p->name : "?", "port_id", (int)(uint16_t)k,
				"age", (json_int_t)(int32_t)(now - seen)));
		}
}

void dp_stats_json(json_t *obj)
{
	uint64_t drops[DP_DROP_MAX], flooded = gone_flooded, learned = gone_learned,
		 moved = gone_moved, emc = gone_emc, mf = gone_mflow, up = gone_upcalls,
		 upf = gone_upcall_fail, byp = gone_emc_bypassed, adrops[DPACT_DROP_MAX];
	json_t *d = json_object();
	unsigned n_xc = 0;

	memcpy(drops, gone_drops, sizeof(drops));
	memcpy(adrops, gone_act_drops, sizeof(adrops));
	for (int t = 0; t < DP_PMD_MAX; t++) {
		const struct dp_pmd *ctx = pmds[t];

		if (!ctx)
			continue;
		for (int r = 0; r < DP_DROP_MAX; r++)
			drops[r] += COUNTER_READ(ctx->drops[r]);
		flooded += COUNTER_READ(ctx->flooded);
		learned += COUNTER_READ(ctx->learned);
		moved += COUNTER_READ(ctx->moved);
		emc += COUNTER_READ(ctx->n_emc_hits);
		mf += COUNTER_READ(ctx->n_mflow_hits);
		up += COUNTER_READ(ctx->n_upcalls);
		upf += COUNTER_READ(ctx->n_upcall_fail);
		byp += COUNTER_READ(ctx->n_emc_bypassed);
		for (int r = 0; r < DPACT_DROP_MAX; r++)
			adrops[r] += COUNTER_READ(ctx->act.drops[r]);
	}
	for (int r = 0; r < DPACT_DROP_MAX; r++)
		json_object_set_new(d, dpact_drop_names[r], json_integer((json_int_t)adrops[r]));
	for (int r = 0; r < DP_DROP_MAX; r++)
		json_object_set_new(d, dp_drop_names[r], json_integer((json_int_t)drops[r]));
	for (int i = 0; conf_cur && i < PORT_MAX; i++)
		n_xc += conf_cur->xc_peer[i] != PORT_ID_NONE;
	json_object_set_new(obj, "flooded", json_integer((json_int_t)flooded));
	json_object_set_new(obj, "learned", json_integer((json_int_t)learned));
	json_object_set_new(obj, "moved", json_integer((json_int_t)moved));
	json_object_set_new(obj, "fdb_entries", json_integer(fdb_count()));
	json_object_set_new(obj, "fdb_flushed_link_down", json_integer((json_int_t)fdb_flushed_link_down));
	json_object_set_new(obj, "xconnects", json_integer(n_xc / 2));
	json_object_set_new(obj, "mac_aging", json_integer(mac_aging));
	json_object_set_new(obj, "emc_hits", json_integer((json_int_t)emc));
	json_object_set_new(obj, "emc_bypassed", json_integer((json_int_t)byp));
	json_object_set_new(obj, "megaflow_hits", json_integer((json_int_t)mf));
	json_object_set_new(obj, "upcalls", json_integer((json_int_t)up));
	json_object_set_new(obj, "upcall_failures", json_integer((json_int_t)upf));
	reval_stats_json(obj);
	json_object_set_new(obj, "drops", d);
}
