/*
 * Private to src/dp: the configuration snapshot, the per-PMD context and the
 * MAC table (fdb).
 */
#ifndef XVIO_DP_PRIV_H
#define XVIO_DP_PRIV_H

#include <stdalign.h>

#include "dp.h"
#include "cls.h"
#include "dpact.h"
#include "emc.h"
#include "mflow.h"
#include "ofpact.h"

/*
 * The configuration PMDs read: immutable once published through dp_conf_rcu,
 * replaced whole by the control thread (copy, publish, synchronize_rcu, free).
 * A port listed here is guaranteed open until the next grace period.
 */
struct dp_conf {
	struct port *ports[PORT_MAX];	/* attached ports by id, NULL = none */
	uint16_t xc_peer[PORT_MAX];	/* cross-connect peer id, PORT_ID_NONE = bridged */
	uint16_t n_flood;
	uint16_t flood[PORT_MAX];	/* bridged port ids, in id order */
};

extern struct dp_conf *dp_conf_rcu;

struct dp_txbuf {
	struct port *port;
	uint16_t n;
	struct pkt *pkts[PKT_BURST];
};

struct dp_pmd {
	uint16_t txq;
	struct emc emc;			/* this PMD's exact-match cache */
	struct dpact_ctx act;		/* action execution, its drop counters */
	uint64_t n_emc_hits, n_mflow_hits, n_upcalls, n_upcall_fail;
	uint64_t n_emc_bypassed;	/* packets of bursts that skipped the EMC (emc.h) */
	uint16_t n_dirty;		/* ids in dirty[] whose buffer may hold packets */
	uint8_t recirc_depth;		/* nesting of dp_recirc */
	uint16_t dirty[PORT_MAX];
	/* Counters: written by the PMD with relaxed stores, summed by the
	 * control thread with relaxed loads. */
	alignas(CACHE_LINE) uint64_t drops[DP_DROP_MAX];
	uint64_t flooded;		/* packets flooded (not copies) */
	uint64_t learned;		/* new MACs inserted */
	uint64_t moved;			/* MACs that changed port */
	alignas(CACHE_LINE) struct dp_txbuf tx[PORT_MAX];
	struct flow_key keys[PKT_BURST];	/* the burst's parsed keys */
};

/* ---- fdb.c: the MAC table ----
 *
 * FDB_BUCKETS buckets of FDB_WAYS packed entries: key = mac << 16 | port id,
 * 0 = empty (a learned MAC is never all-zero). A bucket's keys fill one cache
 * line; last-seen seconds live in a parallel array so a lookup touches one
 * line. */
#define FDB_WAYS	8
#define FDB_BUCKETS	2048

struct fdb_bucket {
	alignas(CACHE_LINE) uint64_t key[FDB_WAYS];
};

extern struct fdb_bucket fdb_tab[FDB_BUCKETS];
extern uint32_t fdb_seen[FDB_BUCKETS][FDB_WAYS];

static inline uint64_t mac_load(const uint8_t *m)
{
	uint64_t v = 0;

	/* Big-endian order so the integer prints and sorts like the MAC. */
	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static inline uint32_t fdb_hash(uint64_t mac)
{
	return (uint32_t)((mac * 0x9e3779b97f4a7c15ULL) >> 40) & (FDB_BUCKETS - 1);
}

/* PMD or control: port id of mac, PORT_ID_NONE if unknown. */
static inline uint16_t fdb_lookup(uint64_t mac)
{
	const struct fdb_bucket *b = &fdb_tab[fdb_hash(mac)];

	for (int i = 0; i < FDB_WAYS; i++) {
		uint64_t k = __atomic_load_n(&b->key[i], __ATOMIC_RELAXED);

		if ((k >> 16) == mac)
			return (uint16_t)k;
	}
	return PORT_ID_NONE;
}

/* PMD: learn that mac lives on port id at time now (seconds). The common case
 * — known and unchanged — costs loads plus at most one relaxed store per
 * second. Returns 0 (known), 1 (inserted) or 2 (moved). */
int fdb_learn_slow(uint64_t mac, uint16_t port, uint32_t now);

static inline int fdb_learn(uint64_t mac, uint16_t port, uint32_t now)
{
	uint32_t h = fdb_hash(mac);
	const struct fdb_bucket *b = &fdb_tab[h];

	for (int i = 0; i < FDB_WAYS; i++) {
		uint64_t k = __atomic_load_n(&b->key[i], __ATOMIC_RELAXED);

		if (k == (mac << 16 | port)) {
			if (__atomic_load_n(&fdb_seen[h][i], __ATOMIC_RELAXED) != now)
				__atomic_store_n(&fdb_seen[h][i], now, __ATOMIC_RELAXED);
			return 0;
		}
	}
	return fdb_learn_slow(mac, port, now);
}

/* Seconds on the clock the table uses. */
uint32_t fdb_now(void);
/* Control: remove entries older than the aging time at `now`; returns how many. */
unsigned fdb_age(uint32_t now, uint32_t aging);
/* Control: remove every entry of a port (PORT_ID_NONE: all). */
unsigned fdb_flush_port(uint16_t port);
unsigned fdb_count(void);


/* ---- the OpenFlow layer: rules and tables (table.c), the pipeline that
 * turns a flow key into datapath actions (pipeline.c), and revalidation,
 * stats and expiry (reval.c) ----
 *
 * Rules live in one cls per table. PMDs read the tables only on a megaflow
 * miss, through xlate(), between quiescent states. The control thread
 * changes them (insert/remove/replace actions), then calls dp_tables_changed()
 * which bumps dp_version, waits out in-flight xlates and revalidates every
 * megaflow computed at an older version before the command returns: no
 * packet follows a stale decision once a flow-mod has been acknowledged.
 */

/* A rule's OpenFlow actions, immutable; replaced whole by mod-flows. */
struct rule_actions {
	uint32_t len;
	uint32_t pad;
	alignas(8) uint8_t data[];
};

struct rule {
	struct cls_rule cr;		/* match and priority */
	struct rule_actions *actions;	/* RCU */
	uint64_t cookie;
	uint64_t created_ns, modified_ns;
	uint64_t used_ns;		/* last packet, from megaflow stats */
	uint64_t n_packets, n_bytes;
	uint16_t idle_timeout, hard_timeout, importance, flags;
	uint8_t table;
	bool dead;			/* removed; freed once no megaflow names it */
	struct rule *gc_next;
};

#define DP_N_TABLES	OFP_MAX_TABLES

extern struct cls dp_tables[DP_N_TABLES];
/* Bumped with a release store after every change of tables, groups, meters
 * or ports; a megaflow remembers the version it was computed at. */
extern uint64_t dp_version;
extern struct mflow dp_mflow;

/* ---- pipeline.c ---- */

#define XLATE_MAX_RULES		8	/* rules a megaflow credits with its stats */
#define XLATE_MAX_RESUBMITS	64

#define XLATE_DROP_REASONS(X) \
	X(TABLE_MISS,    "table_miss")          /* no rule matched (OpenFlow 1.3 default: drop) */ \
	X(TOO_DEEP,      "resubmit_too_deep")   /* resubmit/goto chain over the limit */ \
	X(NO_CONTROLLER, "output_controller")   /* no controller to send to */ \
	X(UNSUPPORTED,   "action_unsupported")  /* set_field the datapath cannot do yet */ \
	X(NO_MEMORY,     "xlate_no_memory")

enum xlate_drop {
	XLATE_DROP_NONE,
#define X(e, s) XLATE_DROP_##e,
	XLATE_DROP_REASONS(X)
#undef X
	XLATE_DROP_MAX
};
extern const char *const xlate_drop_names[XLATE_DROP_MAX];

/* Called for every table lookup when tracing (control thread only). */
struct xlate_trace_ops {
	void (*lookup)(void *aux, int depth, uint8_t table, const struct flow_key *key,
		       const struct rule *rule);
	void (*note)(void *aux, int depth, const char *fmt, ...) __printf(3, 4);
};

struct xlate_out {
	struct dpact_buf acts;		/* the compiled datapath actions */
	struct flow_key wc;		/* bits of the input key the decision read */
	struct flow_key final;		/* the key after every set_field (trace) */
	struct rule *rules[XLATE_MAX_RULES];
	uint8_t n_rules;
	uint8_t drop;			/* enum xlate_drop that ended or cut it */
	uint64_t version;		/* dp_version the decision was made at */
	const struct xlate_trace_ops *trace;	/* NULL unless tracing */
	void *trace_aux;
};

/* Run the pipeline for key: fills out (the caller zeroes it and sets trace
 * if wanted, and frees out->acts). 0 or -ENOMEM. Any thread that is an RCU
 * reader, or the control thread. */
int xlate(const struct flow_key *key, struct xlate_out *out);
/* group_compile_fn: a bucket's ofpacts without a packet context. */
int xlate_bucket(const void *ofpacts, size_t len, struct dpact_buf *out);

/* ---- reval.c ---- */

/* Per megaflow id: the rules it credits and what was already credited. */
struct mf_side {
	struct rule *rules[XLATE_MAX_RULES];
	uint8_t n;			/* release-stored last by the installer */
	uint64_t pushed_packets, pushed_bytes;
};
extern struct mf_side *dp_mf_side;

/* PMD, after installing megaflow e from out. */
void reval_note_install(const struct mflow_entry *e, const struct xlate_out *out);
/* Control: after tables/groups/meters/ports changed: bump the version,
 * revalidate every megaflow, free dead rules. */
void dp_tables_changed(void);
/* Control: credit rules with their megaflows' packets since the last push. */
void reval_push_stats(void);
/* Control: queue a removed rule for freeing at the next dp_tables_changed. */
void rule_retire(struct rule *r);
void rule_free(struct rule *r);
/* Control: set up tables, the megaflow cache and the default flow. */
int ofproto_init(unsigned n_pmds);
void reval_stats_json(json_t *o);
/* Control: a port went away: delete the flows that match on it or output
 * to it (its id may be reused by the next port) and revalidate. */
void ofproto_port_removed(uint16_t id);
void reval_set_idle(uint64_t ns);

#endif
