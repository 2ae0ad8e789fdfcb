/*
 * group: OpenFlow groups (all, select, indirect, fast_failover) — the control
 * side that adds, modifies and deletes them, and the lookup the datapath uses
 * when a dpact list says GROUP(id).
 *
 * A group holds, per bucket, both the OpenFlow actions (ofpacts, for
 * dump-groups and for the pipeline when it needs them) and the compiled
 * datapath actions (dpacts) the PMD executes. Choice: group.c stores the
 * ofpacts and asks the compile hook the lead registers (group_set_compile)
 * to turn each bucket into dpacts when the group is added or modified; a
 * caller that already has dpacts (tests, or a pipeline that compiles itself)
 * passes them in the bucket spec and no hook is called. Buckets are compiled
 * without a flow context, so bucket actions that need one (resubmit, goto,
 * register moves) must be rejected by the hook (-EOPNOTSUPP) or inlined by
 * the pipeline instead of emitting DPACT_GROUP.
 *
 * The group table is an immutable snapshot published with RCU: every change
 * copies the table, publishes it (release), waits with synchronize_rcu() and
 * frees what it replaced, so a PMD holding a group between two quiescent
 * states never sees it freed. Per-bucket packet/byte counters are per PMD
 * (slot ctx->pmd_idx), written with relaxed stores and summed by the control
 * thread; group_mod starts the counters afresh.
 *
 * Select: a bucket is chosen by hashing the packet's 5-tuple (addresses,
 * nw_proto, L4 ports) into a 1024-slot table filled in proportion to the
 * bucket weights (smooth weighted round robin, so buckets interleave), so a
 * flow always takes the same bucket while the group is unchanged; weight 0
 * buckets are never chosen. Modifying the buckets may move flows.
 *
 * Fast failover: the control thread keeps a port liveness bitmap
 * (group_port_set_live, or group_liveness_refresh which asks each port's
 * link_up) and, on every change, recomputes each ff group's first live bucket
 * into the group (a relaxed store the PMD reads with one relaxed load). A
 * bucket with no watch port is always live; ports start out down.
 *
 * Thread-safety: everything but group_lookup is control-thread only.
 */
#ifndef XVIO_GROUP_H
#define XVIO_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpact.h"

#define GROUP_MAX_BUCKETS	256
#define GROUP_SELECT_SLOTS	1024
#define OFPG_MAX		0xffffff00u	/* ids 0..OFPG_MAX */
#define OFPG_ALL		0xfffffffcu	/* group_del: every group */

enum group_type {
	GROUP_ALL,
	GROUP_SELECT,
	GROUP_INDIRECT,
	GROUP_FF,
};

/* What the caller gives group_add/group_mod for one bucket. */
struct group_bucket_spec {
	uint16_t weight;		/* select only; others ignore it */
	uint16_t watch_port;		/* ff: port id, PORT_ID_NONE = always live */
	const void *ofpacts;		/* copied; may be NULL with dpacts given */
	size_t ofpacts_len;
	const void *dpacts;		/* copied; NULL = compile ofpacts with the hook */
	size_t dpacts_len;
};

struct group_bucket {
	uint16_t weight;
	uint16_t watch_port;
	uint32_t dpacts_len;
	void *dpacts;
	void *ofpacts;
	size_t ofpacts_len;
};

struct group_ctr {
	uint64_t packets, bytes;
};

struct group {
	uint32_t id;			/* first: dpact_idtab key */
	enum group_type type;
	uint32_t n_buckets;
	int32_t ff_live;		/* ff: live bucket index or -1; relaxed */
	struct group_bucket *buckets;
	uint8_t *select;		/* select: GROUP_SELECT_SLOTS bucket indexes, NULL if no weight */
	struct group_ctr *ctr;		/* [DPACT_PMD_MAX][ctr_stride] */
	uint32_t ctr_stride;		/* counters per PMD row, a whole number of lines */
};

/* Compile one bucket's ofpacts into dpacts (appending to out); 0 or -errno. */
typedef int group_compile_fn(const void *ofpacts, size_t len, struct dpact_buf *out);
void group_set_compile(group_compile_fn *fn);

/* 0, or -EEXIST, -EINVAL (id, type, too many buckets, indirect with ≠ 1
 * bucket, bad dpacts), -ENOMEM, or the compile hook's error. */
int group_add(uint32_t id, enum group_type type, const struct group_bucket_spec *b, uint32_t n);
/* Replace a group's type and buckets; -ENOENT if it does not exist. */
int group_mod(uint32_t id, enum group_type type, const struct group_bucket_spec *b, uint32_t n);
/* 0 or -ENOENT; OFPG_ALL removes every group. */
int group_del(uint32_t id);

/* Control: the group with id, or NULL. Valid until the next group change. */
const struct group *group_find(uint32_t id);
uint32_t group_count(void);
/* Control: call fn for every group, in no particular order. */
void group_foreach(void (*fn)(const struct group *g, void *arg), void *arg);
/* Control: a bucket's counters summed over PMDs. */
struct group_ctr group_bucket_stats(const struct group *g, uint32_t bucket);

/* Control: port liveness for fast failover. */
void group_port_set_live(uint16_t port_id, bool live);
bool group_port_live(uint16_t port_id);
void group_liveness_refresh(void);

/* PMD (QSBR reader): the group with id, or NULL. */
extern struct dpact_idtab *group_tab_rcu;
struct group *group_lookup(uint32_t id);

/* PMD: 5-tuple hash a select group uses (exposed for tests and trace). */
uint32_t group_hash5(const struct flow_key *k);

#endif
