/*
 * meter: OpenFlow meters — token buckets that police the flows whose actions
 * say meter:N.
 *
 * Rate in packets per second (METER_F_PKTPS) or kilobits per second
 * (METER_F_KBPS, counting the whole frame), burst in packets or kilobits
 * (METER_F_BURST; without it the burst is a tenth of a second of rate, at
 * least one packet or one maximum frame). Only drop bands exist; a packet
 * that finds any band's bucket short is dropped (with several drop bands the
 * highest exceeded rate applies, and its effect is the same drop), and a band
 * is debited only by the packets it passes, as in OVS.
 *
 * Shared versus per-PMD buckets: a meter is a contract on the aggregate rate,
 * and the flows it polices are spread over PMDs by RSS, so per-PMD buckets of
 * rate/n are wrong whenever the traffic is uneven (the common case). xvio
 * keeps one bucket per band, shared, behind a spinlock taken once per batch
 * of packets of one megaflow (not per packet), with the clock read once per
 * batch. Only metered flows pay it; the lock is held for a few dozen cycles.
 * Counters (packets and bytes in, per-band drops) are per PMD, relaxed.
 *
 * The meter table is an RCU snapshot like the group table (copy, publish,
 * synchronize_rcu, free). meter_mod installs a new meter with full buckets
 * and fresh counters.
 *
 * Thread-safety: meter_police runs on PMDs (QSBR readers); everything else is
 * control-thread only.
 */
#ifndef XVIO_METER_H
#define XVIO_METER_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "dpact.h"

#define METER_MAX_BANDS	4
#define METER_MAX_ID	0xffff0000u

enum {
	METER_F_KBPS	= 1 << 0,	/* OpenFlow OFPMF_KBPS */
	METER_F_PKTPS	= 1 << 1,	/* OFPMF_PKTPS */
	METER_F_BURST	= 1 << 2,	/* OFPMF_BURST */
	METER_F_STATS	= 1 << 3,	/* OFPMF_STATS: accepted; stats are always kept */
};

enum meter_band_type {
	METER_BAND_DROP = 1,
};

struct meter_band_spec {
	enum meter_band_type type;
	uint32_t rate;		/* kbps or pktps */
	uint32_t burst;		/* kbits or packets; with METER_F_BURST */
};

struct meter_band {
	uint32_t rate, burst;
	uint64_t cap;		/* bucket size in units (see meter.c) */
	uint64_t tokens;	/* under lock */
};

struct meter_ctr {
	alignas(CACHE_LINE) uint64_t packets;	/* seen; one line-aligned slot per PMD */
	uint64_t bytes;
	uint64_t band_packets[METER_MAX_BANDS];	/* dropped by band */
	uint64_t band_bytes[METER_MAX_BANDS];
};

struct meter {
	uint32_t id;			/* first: dpact_idtab key */
	uint32_t flags;
	uint32_t n_bands;
	uint32_t lock;			/* spinlock over band tokens and last_ns */
	uint64_t last_ns;
	struct meter_band bands[METER_MAX_BANDS];
	struct meter_ctr *ctr;		/* [DPACT_PMD_MAX], each cache aligned */
};

/* 0, -EEXIST, -EINVAL (id, flags, no band, rate 0, band type), -ENOMEM. */
int meter_add(uint32_t id, uint32_t flags, const struct meter_band_spec *bands, uint32_t n);
int meter_mod(uint32_t id, uint32_t flags, const struct meter_band_spec *bands, uint32_t n);
int meter_del(uint32_t id);	/* 0 or -ENOENT; METER_ALL (0xffffffff) removes all */
#define METER_ALL	0xffffffffu

const struct meter *meter_find(uint32_t id);
uint32_t meter_count(void);
void meter_foreach(void (*fn)(const struct meter *m, void *arg), void *arg);
struct meter_ctr meter_stats(const struct meter *m);

/* PMD (QSBR reader). */
extern struct dpact_idtab *meter_tab_rcu;
struct meter *meter_lookup(uint32_t id);
/* Police n packets at time now_ns: pass[i] says whether pkts[i] may go on.
 * Returns how many passed. Counts into slot pmd_idx. */
uint16_t meter_police(struct meter *m, uint16_t pmd_idx, uint64_t now_ns, struct pkt *const *pkts,
		      uint16_t n, bool *pass);

#endif
