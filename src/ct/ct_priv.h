/*
 * Private to src/ct: tuples, connections, the shared table.
 *
 * Lock order: a bucket stripe lock (ct_tab.locks, lower index first when two
 * are needed) before a connection's lock. The PMD never holds a stripe lock
 * while it waits for anything else.
 */
#ifndef XVIO_CT_PRIV_H
#define XVIO_CT_PRIV_H

#include <stdalign.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "ct.h"

/* Packet bytes: raw 16-bit words (network order kept, for checksums) and
 * big-endian integers. Headers are not aligned. */
static inline uint16_t ct_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline void ct_st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline uint16_t ct_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ct_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ct_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#define CT_DIR_ORIG	0
#define CT_DIR_REPLY	1

/* A connection's key in one direction. For ICMP echo, sport is the
 * identifier and dport the type (request in the original direction, reply
 * in the other), so a reply finds its request's connection. */
struct ct_tuple {
	uint8_t src[16];	/* IPv4: first 4 bytes, rest zero */
	uint8_t dst[16];
	uint16_t sport;		/* network order */
	uint16_t dport;
	uint8_t proto;
	uint8_t v6;
	uint16_t zone;
};
_Static_assert(sizeof(struct ct_tuple) == 40, "tuple is 5 words");

static inline uint64_t ct_tuple_word(const struct ct_tuple *t, int i)
{
	uint64_t w;

	memcpy(&w, (const uint8_t *)t + 8 * i, 8);
	return w;
}

/* Each address's two halves folded into one word first (an IPv4 tuple's
 * second halves are zero), then a multiply round per word: three rounds,
 * not five. Not keyed (nor was it before): a chosen-tuple flood can make a
 * chain long, which costs time, never correctness. */
static inline uint32_t ct_hash(const struct ct_tuple *t)
{
	const uint64_t w[3] = {
		ct_tuple_word(t, 0) ^ (ct_tuple_word(t, 1) << 29 | ct_tuple_word(t, 1) >> 35),
		ct_tuple_word(t, 2) ^ (ct_tuple_word(t, 3) << 29 | ct_tuple_word(t, 3) >> 35),
		ct_tuple_word(t, 4),
	};
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 3; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

static inline bool ct_tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	uint64_t d = 0;

	for (int i = 0; i < 5; i++)
		d |= ct_tuple_word(a, i) ^ ct_tuple_word(b, i);
	return d == 0;
}

/* TCP per-direction tracking (netfilter's ip_ct_tcp_state). */
struct ct_tcp_peer {
	uint32_t end;		/* highest seq + len seen */
	uint32_t maxend;	/* highest end the receiver allowed */
	uint32_t maxwin;	/* largest window seen (0: nothing seen yet) */
	uint32_t maxack;
	uint8_t scale;
	uint8_t flags;		/* CT_TCPF_* */
	uint16_t pad;
};

#define CT_TCPF_WSCALE		0x01
#define CT_TCPF_SACK_PERM	0x02
#define CT_TCPF_CLOSE_INIT	0x04	/* this side sent FIN or RST */
#define CT_TCPF_MAXACK_SET	0x08
#define CT_TCPF_UNACKED		0x10

enum ct_tcp_state {
	CT_TCP_NONE, CT_TCP_SYN_SENT, CT_TCP_SYN_RECV, CT_TCP_ESTABLISHED, CT_TCP_FIN_WAIT,
	CT_TCP_CLOSE_WAIT, CT_TCP_LAST_ACK, CT_TCP_TIME_WAIT, CT_TCP_CLOSE, CT_TCP_SYN_SENT2,
	CT_TCP_MAX, CT_TCP_IGNORE
};
extern const char *const ct_tcp_state_names[CT_TCP_MAX];

struct ct_tcp {
	struct ct_tcp_peer peer[2];
	uint8_t state;		/* enum ct_tcp_state */
	uint8_t last_index;	/* last segment's flag class and direction, for */
	uint8_t last_dir;	/* the SYN/SYN-ACK recovery and RST rules */
	uint8_t last_wscale;
	uint8_t last_flags;
	uint8_t retrans;
	uint16_t pad;
	uint32_t last_seq, last_ack, last_end, last_win;
};

struct ct_node {
	struct ct_node *next;	/* RCU: bucket chain */
	struct ct_tuple t;
	uint32_t hash;
	uint8_t dir;		/* CT_DIR_* */
	uint8_t pad[3];
};

/* conn flags */
#define CT_C_SEEN_REPLY	0x01
#define CT_C_ASSURED	0x02
#define CT_C_SNAT	0x04
#define CT_C_DNAT	0x08
#define CT_C_DEAD	0x10	/* unlinked, waiting for a grace period */

struct ct_conn {
	struct ct_node node[2];	/* [CT_DIR_ORIG], [CT_DIR_REPLY] */
	uint64_t expires;	/* ms; relaxed atomic */
	uint32_t mark;		/* relaxed atomic */
	uint8_t flags;		/* relaxed atomic (set-only bits except DEAD) */
	uint8_t lock;		/* TCP window state */
	uint8_t tmo;		/* enum ct_tmo the expiry follows */
	uint8_t pad;
	uint8_t label[16];
	struct ct_conn *gc_next;
	struct ct_tcp tcp;	/* TCP only: not even allocated for others */
};

static inline struct ct_conn *ct_node_conn(const struct ct_node *n)
{
	return container_of(n - n->dir, struct ct_conn, node[0]);
}

/* ---- the table (ct_conn.c) ---- */

#define CT_LOCKS	1024

struct ct_tab {
	struct ct_node **buckets;	/* RCU heads */
	uint32_t mask;
	uint32_t max_conns;
	uint32_t n_conns;		/* atomic */
	alignas(CACHE_LINE) uint8_t locks[CT_LOCKS];
};
extern struct ct_tab ct_tab;

extern uint32_t ct_timeouts_ms[CT_TMO_MAX];	/* stored as ms, relaxed */

static inline void ct_spin_lock(uint8_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static inline void ct_spin_unlock(uint8_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* rcu_dereference, inline: without _LGPL_SOURCE liburcu makes it a call
 * into the library per node, and an acquire load is what it amounts to (on
 * x86 a plain load). */
#define ct_rcu_load(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

/* PMD: the node matching t, or NULL. */
static inline struct ct_node *ct_lookup(const struct ct_tuple *t, uint32_t hash)
{
	struct ct_node *n = ct_rcu_load(ct_tab.buckets[hash & ct_tab.mask]);

	for (; n; n = ct_rcu_load(n->next))
		if (n->hash == hash && ct_tuple_eq(&n->t, t))
			return n;
	return NULL;
}

/* PMD: allocate a connection (zeroed) for the zone, honouring the limits;
 * NULL with *why set. A connection whose protocol is not TCP has no tcp
 * member (the allocation ends before it). From pmd's free connections. */
struct ct_conn *ct_conn_alloc(struct ct_pmd *pmd, uint16_t zone, uint8_t proto,
			      enum ct_inv *why);
void ct_conn_free_now(struct ct_conn *c);
/* PMD: link c (both nodes filled; orig_hash = ct_hash of the original
 * tuple, which the caller looked up). If a connection with either tuple
 * exists (another PMD won the race), c is freed and the existing node for
 * the original tuple returned; else NULL. */
struct ct_node *ct_conn_insert(struct ct_conn *c, uint32_t orig_hash);
/* Any thread: unlink c (idempotent) and queue it for freeing. */
void ct_conn_unlink(struct ct_conn *c);
/* Is there a node for t, other than in connection `self`? */
bool ct_tuple_taken(const struct ct_tuple *t, const struct ct_conn *self);

static inline void ct_conn_touch(struct ct_conn *c, enum ct_tmo tmo, uint64_t now_ms)
{
	uint64_t e = now_ms + __atomic_load_n(&ct_timeouts_ms[tmo], __ATOMIC_RELAXED);

	/* One store per connection per millisecond at most: the line stays
	 * shared between the PMDs of the two directions. */
	if (__atomic_load_n(&c->expires, __ATOMIC_RELAXED) != e)
		__atomic_store_n(&c->expires, e, __ATOMIC_RELAXED);
	if (c->tmo != tmo)
		__atomic_store_n(&c->tmo, (uint8_t)tmo, __ATOMIC_RELAXED);
}

/* Walk every live connection (control thread only: it is the one that frees
 * connections, so it may walk without locks). */
typedef void ct_walk_fn(struct ct_conn *c, void *arg);
void ct_walk(ct_walk_fn *fn, void *arg);

/* ---- TCP (ct_tcp.c) ---- */

/* Under c->lock. Returns 0 and the new state through c->tcp, or a CT_INV_*
 * reason (+1) when the segment is invalid. *kill = CT_TCP_REOPEN when the
 * segment reopens a closed connection (a SYN on TIME_WAIT/CLOSE): the caller
 * removes the old one and treats the packet as new; CT_TCP_REMOVE when the
 * packet passes but the connection must go (a RST answering the first SYN). */
#define CT_TCP_REOPEN	1
#define CT_TCP_REMOVE	2
int ct_tcp_update(struct ct_conn *c, int dir, const uint8_t *th, uint32_t l4_len, int *kill);
/* A SYN that opens a connection: fill c->tcp; a CT_INV_* reason + 1 if the
 * segment cannot open one. */
int ct_tcp_new(struct ct_conn *c, const uint8_t *th, uint32_t l4_len);
bool ct_tcp_valid_flags(uint8_t flags);
enum ct_tmo ct_tcp_tmo(const struct ct_conn *c);

/* ---- NAT (ct_nat.c) ---- */

/* Set up NAT for a new connection: rewrites c->node[REPLY].t; 0 or a CT_INV
 * reason + 1. Called before the connection is linked. */
int ct_nat_setup(struct ct_conn *c, const struct ct_nat *nat);
/* Rewrite the packet of direction dir of c (addresses, ports, checksums). */
void ct_nat_packet(struct pkt *p, const struct flow_key *k, const struct ct_conn *c, int dir);
/* Rewrite an ICMP error quoting c: the outer addresses and the quoted header.
 * icmp_len: the ICMP message's length by the IP header (frames may be
 * padded). */
void ct_nat_icmp_error(struct pkt *p, const struct flow_key *k, const struct ct_conn *c,
		       int dir, uint32_t inner_off, uint32_t icmp_len);

#endif
