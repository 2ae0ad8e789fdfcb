/*
 * cls: a tuple-space-search classifier with priorities. Used for each
 * OpenFlow table (one struct cls per table) and, without priorities, as the
 * megaflow cache (mflow.h).
 *
 * Rules are grouped in subtables, one per distinct mask. A subtable knows
 * which u64 words of struct flow_key its mask touches, so hashing and
 * comparing a packet against it costs only those words; the masked words of
 * every rule are copied into the subtable's open-addressing hash table, so a
 * probe that misses touches one slot and never the rule. Readers see the
 * subtables through a vector sorted by the subtables' maximum priority
 * (descending); a lookup stops as soon as the best match found so far has a
 * priority at least the next subtable's maximum.
 *
 * Rules with the same match and different priorities are distinct rules (the
 * highest wins); the same match and the same priority are two rules too as
 * far as cls is concerned: the caller decides (replace or refuse) with
 * cls_find_exact() before inserting. Among overlapping rules of equal
 * priority, which one a lookup returns is unspecified (as in OpenFlow).
 *
 * Megaflows: cls_lookup() ORs into *wc the masks of every subtable it probed,
 * hit or miss. Subtables skipped because of priority are not included: no rule
 * in them could have beaten the answer, whatever the packet's bits. So every
 * packet that agrees with the looked-up one on the bits of wc gets the same
 * answer; that is what makes a megaflow built from wc correct.
 *
 * Prefix tracking (as OVS's classifier does): for nw_src and nw_dst, cls keeps
 * a binary trie of every rule's prefix on that field (rules whose mask there
 * is a CIDR prefix). A lookup walks the trie with the packet's address, MSB
 * first, and learns the set of prefix lengths some rule has along the
 * packet's path, having examined only the bits down to where the address
 * leaves the trie. A subtable whose mask is a prefix of a length not in that
 * set cannot match and is skipped; it contributes to wc only the examined
 * bits of that field (any packet agreeing on them walks the same path and
 * skips it too), not its whole mask. So a table of long non-matching prefixes
 * no longer makes every megaflow exact on the addresses. The tries are
 * updated in place by the writer (nodes are only linked once complete, and
 * unlinked ones are retired like other memory), before a rule becomes
 * visible on insert, after on remove: a reader's trie never lacks a rule it
 * could find.
 *
 * Thread-safety. One writer at a time (the caller serialises cls_init,
 * cls_insert, cls_remove, cls_defer, cls_publish, cls_find_exact, cursors,
 * cls_gc_*); any number of concurrent readers calling cls_lookup*() with no
 * lock, from liburcu QSBR read-side threads (between quiescent states).
 * Writers publish with release stores: a slot's words and hash are written
 * before its rule pointer, a new hash table or subtable vector is built
 * completely before its pointer is published; slots are never reused (a
 * removed rule leaves a tombstone until the table is rebuilt), so a reader
 * never sees a rule pointer with another rule's words.
 *
 * Memory: a removed rule is unlinked at once and belongs to the caller, who
 * frees it after synchronize_rcu(). Memory the classifier itself retires (old
 * hash tables, old vectors, empty subtables) goes on a deferred-free list: the
 * caller detaches it with cls_gc_detach(), waits for a grace period (one
 * synchronize_rcu() may cover many tables) and frees it with cls_gc_free().
 *
 * Batches: cls_defer() makes inserts and removes skip republishing the
 * subtable vector until cls_publish(); until then a rule inserted into a new
 * subtable is invisible to readers and one inserted above its subtable's old
 * maximum priority may be missed by them. Use it for add-flows of many rules
 * and for bulk deletes (it also keeps garbage bounded).
 */
#ifndef XVIO_CLS_H
#define XVIO_CLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct cls_subtable;

/* Embed in the caller's rule. Fill match and priority before cls_insert();
 * they must not change while the rule is inserted. The mask must be zero in
 * pad bytes and the key must have no bits outside the mask (cls_insert
 * checks the latter and returns -EINVAL). */
struct cls_rule {
	struct flow_match match;
	int32_t priority;
	/* private to cls.c */
	uint32_t hash;			/* of the masked words, for removal */
	struct cls_rule *dup_next;	/* same match, lower or equal priority */
	struct cls_subtable *st;
};

struct cls_gc {
	struct cls_gc *next;
};

struct cls_vec;
struct cls_submap;
struct cls_trie_node;

/* Prefix-tracked fields (IPv4 nw_src, nw_dst). */
#define CLS_N_TRIES	2

struct cls {
	struct cls_vec *vec;		/* RCU: what readers search */
	/* Writer side. */
	struct cls_subtable **subs;	/* every subtable, unsorted */
	uint32_t n_subs, cap_subs;
	struct cls_subtable **map;	/* mask hash -> subtable chains */
	uint32_t map_mask;
	size_t n_rules;
	int defer;			/* cls_defer() depth */
	bool dirty;			/* vector needs republishing */
	struct cls_gc *gc;		/* retired, free after a grace period */
	size_t n_gc_bytes;
	/* Prefix tracking: per field, a binary trie (root = empty prefix, RCU)
	 * counting the rules whose mask on that field is a prefix of length
	 * 1..32. NULL roots: tracking off. */
	struct cls_trie_node *trie[CLS_N_TRIES];
};

/* 0 or -ENOMEM. */
int cls_init(struct cls *c);
/* Frees the classifier's own memory immediately (no readers may remain);
 * the rules still inserted are not touched. */
void cls_destroy(struct cls *c);

/* 0, -EINVAL (key bits outside the mask) or -ENOMEM. */
int cls_insert(struct cls *c, struct cls_rule *r);
/* r must be inserted in c. */
void cls_remove(struct cls *c, struct cls_rule *r);

/* Prefix tracking is on after cls_init(); a classifier that never uses
 * cls_lookup() (the megaflow cache) may turn it off while empty, to save the
 * trie upkeep on insert and remove. 0, -EBUSY (not empty) or -ENOMEM. */
int cls_set_prefix_tracking(struct cls *c, bool on);

/* Defer republishing the subtable vector until cls_publish() (nestable). */
void cls_defer(struct cls *c);
/* End one cls_defer() level and, at the outermost, publish. 0 or -ENOMEM
 * (readers then keep the old vector; call again). */
int cls_publish(struct cls *c);

/* The rule with exactly this match and priority, or NULL. Writer side. */
struct cls_rule *cls_find_exact(const struct cls *c, const struct flow_match *m,
				int32_t priority);

static inline size_t cls_count(const struct cls *c)
{
	return c->n_rules;
}

/*
 * Reader side. The best (highest priority) rule matching key, or NULL.
 * If wc is not NULL, the masks of the subtables probed are ORed into it (the
 * caller zeroes it first), and for subtables skipped by prefix tracking the
 * address bits the trie walk examined. The rule is valid until the caller's next
 * quiescent state.
 */
const struct cls_rule *cls_lookup(const struct cls *c, const struct flow_key *key,
				  struct flow_key *wc);

/* The first matching rule found, priorities ignored: for classifiers whose
 * rules do not overlap (megaflows), where any hit is the answer. */
const struct cls_rule *cls_lookup_first(const struct cls *c, const struct flow_key *key);

/* cls_lookup_first() for n keys at once (n <= 32): out[i] is keys[i]'s
 * rule or NULL. Each subtable hashes the burst's keys and prefetches their
 * slots before comparing any, so the probes' cache misses overlap. */
void cls_lookup_first_batch(const struct cls *c, const struct flow_key *const *keys, uint32_t n,
			    const struct cls_rule **out);

/* Number of subtables readers search. */
uint32_t cls_n_subtables(const struct cls *c);

/*
 * Iteration, writer side, in no particular order. The cls must not change
 * during the walk, with one exception: inside cls_defer()..cls_publish(),
 * the rule last returned may be removed.
 */
struct cls_cursor {
	const struct cls *c;
	uint32_t sub;
	uint32_t slot;
	struct cls_rule *next;
};

void cls_cursor_init(struct cls_cursor *cur, const struct cls *c);
struct cls_rule *cls_cursor_next(struct cls_cursor *cur);

#define CLS_FOR_EACH(rule, cur, cls) \
	for (cls_cursor_init((cur), (cls)); ((rule) = cls_cursor_next(cur)) != NULL;)

/* Deferred free of the classifier's retired memory:
 *   g = cls_gc_detach(c); synchronize_rcu(); cls_gc_free(g); */
struct cls_gc *cls_gc_detach(struct cls *c);
void cls_gc_free(struct cls_gc *g);

/* A u64 view of a flow_key that may alias its members: keys are written
 * field by field (parser, flow language) and read here word by word, which
 * plain uint64_t pointers do not allow under strict aliasing once the two
 * meet after inlining. */
typedef flow_word cls_u64;

static inline const cls_u64 *cls_words(const struct flow_key *k)
{
	return (const cls_u64 *)(const void *)k;
}

/* Hash helpers shared with the EMC: a 32-bit hash of u64 words. */
static inline uint32_t cls_hash_add(uint32_t h, uint64_t w)
{
#if defined(__SSE4_2__) && defined(__x86_64__)
	return (uint32_t)__builtin_ia32_crc32di(h, w);
#else
	w *= 0x9e3779b97f4a7c15ull;
	return (h ^ (uint32_t)(w >> 32)) * 0x85ebca6bu + (uint32_t)w;
#endif
}

static inline uint32_t cls_hash_finish(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#endif
