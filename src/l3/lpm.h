/*
 * lpm: the longest-prefix-match tables of the vRouter, one structure for
 * IPv4 and IPv6 (private to src/l3; the bench and the tests include it).
 *
 * A multibit trie with a wide first stride and 8-bit strides below it, DIR
 * style (the idea of DPDK's rte_lpm, Gupta/Lin/McKeown's DIR-24-8): IPv4
 * uses a 2^24-entry root and one level of 256-entry groups (DIR-24-8, at
 * most two memory accesses per lookup); IPv6 a 2^16-entry root and up to 14
 * levels of groups (a /64 route costs at most seven accesses). Every entry
 * is 32 bits: valid, "extended" (the value is a child group), the depth of
 * the prefix that wrote it, and a 22-bit value (a next-hop id, or a group).
 * Prefixes are expanded into every entry they cover; an entry keeps the
 * deepest prefix, so a lookup is one load per level and no backtracking.
 *
 * Memory is mmap'ed with MAP_NORESERVE and touched only where routes are:
 * an IPv4 table reserves 64 MiB of address space for its root but an empty
 * one costs nothing, and a default route costs the whole 64 MiB.
 *
 * Thread-safety: one writer (the control thread), any number of readers
 * (PMDs) with no lock. Entries change with single 32-bit atomic stores; a new
 * group is filled before the entry pointing to it is published with a
 * release store, and readers load entries with acquire. A group that a
 * delete empties is not reused until lpm_reclaim(), which the writer calls
 * after a grace period (synchronize_rcu), so a reader never walks a group
 * that is being refilled. Readers therefore always see, for each entry,
 * either the old or the new answer: a lookup during an update returns the
 * route before or after it, never garbage.
 */
#ifndef XVIO_L3_LPM_H
#define XVIO_L3_LPM_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"

#define LPM_VALID	(1u << 31)
#define LPM_EXT		(1u << 30)
#define LPM_DEPTH_SHIFT	22
#define LPM_VAL_MASK	((1u << 22) - 1)
#define LPM_MAX_VAL	LPM_VAL_MASK	/* largest storable value (next-hop id) */

struct lpm {
	uint32_t *root;			/* 1 << root_bits entries */
	uint32_t *groups;		/* max_groups * 256 entries */
	uint8_t root_bits;		/* 24 (IPv4) or 16 (IPv6) */
	uint8_t addr_bytes;		/* 4 or 16 */
	uint32_t max_groups;
	uint32_t n_used;		/* groups handed out, live or not */
	uint32_t n_live;		/* groups reachable from the root */
	uint32_t *free_ids;		/* reusable groups */
	uint32_t n_free;
	uint32_t *pending;		/* emptied groups awaiting a grace period */
	uint32_t n_pending;
	uint64_t n_routes;
};

/* Create a table for 4- or 16-byte addresses with room for max_groups
 * child groups (0: a default fit for a million routes). NULL + errno. */
struct lpm *lpm_create(unsigned addr_bytes, uint32_t max_groups);
void lpm_destroy(struct lpm *t);

/* Control: insert or replace prefix addr/depth (addr in network order,
 * bits past depth ignored) with value (≤ LPM_MAX_VAL). 0, -EINVAL, or
 * -ENOSPC when the groups are exhausted (nothing changed then). */
int lpm_add(struct lpm *t, const uint8_t *addr, unsigned depth, uint32_t value);
/* Control: remove prefix addr/depth. Lookups that matched it now match the
 * parent route (repl_depth, repl_value) — the caller knows the table of
 * routes; pass repl_valid=false when none covers it. 0 or -EINVAL. */
int lpm_del(struct lpm *t, const uint8_t *addr, unsigned depth, bool repl_valid,
	    unsigned repl_depth, uint32_t repl_value);
/* Control, after synchronize_rcu(): make emptied groups reusable. */
void lpm_reclaim(struct lpm *t);
/* Bytes of memory the table touches (root pages written, groups used). */
uint64_t lpm_mem_bytes(const struct lpm *t);

static inline uint32_t lpm_load(const uint32_t *e)
{
	return __atomic_load_n(e, __ATOMIC_ACQUIRE);
}

static inline uint32_t lpm_entry_depth(uint32_t e)
{
	return (e >> LPM_DEPTH_SHIFT) & 0xff;
}

/* PMD: value of the longest prefix matching IPv4 address ip (host order),
 * or -1. At most two loads. */
static inline int64_t lpm4_lookup(const struct lpm *t, uint32_t ip)
{
	uint32_t e = lpm_load(&t->root[ip >> 8]);

	if (unlikely(e & LPM_EXT))
		e = lpm_load(&t->groups[(size_t)(e & LPM_VAL_MASK) * 256 + (ip & 0xff)]);
	return e & LPM_VALID ? (int64_t)(e & LPM_VAL_MASK) : -1;
}

/* The depth of the entry an IPv4 lookup ended on (trace, tests); 0 if none. */
static inline unsigned lpm4_lookup_depth(const struct lpm *t, uint32_t ip)
{
	uint32_t e = lpm_load(&t->root[ip >> 8]);

	if (e & LPM_EXT)
		e = lpm_load(&t->groups[(size_t)(e & LPM_VAL_MASK) * 256 + (ip & 0xff)]);
	return e & LPM_VALID ? lpm_entry_depth(e) : 0;
}

/* PMD: the same for a 16-byte IPv6 address (network order). */
static inline int64_t lpm6_lookup(const struct lpm *t, const uint8_t *a)
{
	uint32_t e = lpm_load(&t->root[(uint32_t)a[0] << 8 | a[1]]);

	for (unsigned i = 2; unlikely(e & LPM_EXT) && i < 16; i++)
		e = lpm_load(&t->groups[(size_t)(e & LPM_VAL_MASK) * 256 + a[i]]);
	return e & LPM_VALID ? (int64_t)(e & LPM_VAL_MASK) : -1;
}

#endif
