/*
 * Private to src/dp: the configuration snapshot, the per-PMD context and the
 * MAC table (fdb).
 */
#ifndef XVIO_DP_PRIV_H
#define XVIO_DP_PRIV_H

#include <stdalign.h>

#include "dp.h"

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
	uint16_t n_dirty;		/* ids in dirty[] whose buffer may hold packets */
	uint16_t dirty[PORT_MAX];
	/* Counters: written by the PMD with relaxed stores, summed by the
	 * control thread with relaxed loads. */
	alignas(CACHE_LINE) uint64_t drops[DP_DROP_MAX];
	uint64_t flooded;		/* packets flooded (not copies) */
	uint64_t learned;		/* new MACs inserted */
	uint64_t moved;			/* MACs that changed port */
	alignas(CACHE_LINE) struct dp_txbuf tx[PORT_MAX];
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

#endif
