/*
 * The connection table: a fixed array of RCU bucket chains sized once for
 * the configured maximum, striped spinlocks for writers, per-zone counts and
 * limits, and the incremental expiry sweep.
 *
 * Why fixed: resizing a shared table under traffic is where stalls come
 * from; 2^21 bucket heads are 16 MiB of zero pages until used, and the chain
 * length stays ~1 node per bucket at the maximum. Why striped locks: a new
 * connection writes two chains (its two tuples) and must see that neither
 * tuple exists yet; PMDs creating connections in different buckets do not
 * meet, and the sweeper holds a stripe for one bucket at a time, so no
 * writer waits longer than one short chain walk.
 */
#include <errno.h>
#include <stdlib.h>

#include "ct_priv.h"

struct ct_tab ct_tab;

uint32_t ct_timeouts_ms[CT_TMO_MAX] = {
#define X(e, s, d) [CT_TMO_##e] = (d) * 1000u,
	CT_TIMEOUTS(X)
#undef X
};

const char *const ct_tmo_names[CT_TMO_MAX] = {
#define X(e, s, d) [CT_TMO_##e] = s,
	CT_TIMEOUTS(X)
#undef X
};

const char *const ct_inv_names[CT_INV_MAX] = {
#define X(e, s) [CT_INV_##e] = s,
	CT_INV_REASONS(X)
#undef X
};

#define N_ZONES		65536

static uint32_t zone_count[N_ZONES];	/* atomic */
static uint32_t zone_limit[N_ZONES];	/* 0 = default; relaxed */
static uint32_t default_limit;		/* 0 = unlimited */

/* Unlinked connections waiting for a grace period: a lock-free stack that
 * PMDs push to and the control thread takes whole (push + exchange only,
 * so no ABA). */
static struct ct_conn *limbo;

uint64_t ct_now_ms(void)
{
	return time_ns() / 1000000u;
}

int ct_init(uint32_t max_conns)
{
	uint32_t n = 1024;

	if (ct_tab.buckets)
		return 0;
	if (!max_conns)
		max_conns = 2000000;
	while (n < max_conns && n < (1u << 30))
		n <<= 1;
	/* calloc of this size is mmap'ed zero pages: untouched buckets cost
	 * no memory. */
	ct_tab.buckets = calloc(n, sizeof(*ct_tab.buckets));
	if (!ct_tab.buckets)
		return -ENOMEM;
	ct_tab.mask = n - 1;
	ct_tab.max_conns = max_conns;
	return 0;
}

int ct_set_timeout(enum ct_tmo t, uint32_t secs)
{
	if ((unsigned)t >= CT_TMO_MAX || secs == 0 || secs > 70u * 86400)
		return -EINVAL;
	__atomic_store_n(&ct_timeouts_ms[t], secs * 1000u, __ATOMIC_RELAXED);
	return 0;
}

uint32_t ct_get_timeout(enum ct_tmo t)
{
	return __atomic_load_n(&ct_timeouts_ms[t], __ATOMIC_RELAXED) / 1000u;
}

void ct_set_limit(int zone, uint32_t limit)
{
	if (zone < 0)
		__atomic_store_n(&default_limit, limit, __ATOMIC_RELAXED);
	else if (zone < N_ZONES)
		__atomic_store_n(&zone_limit[zone], limit, __ATOMIC_RELAXED);
}

uint32_t ct_get_limit(int zone)
{
	if (zone < 0 || zone >= N_ZONES)
		return __atomic_load_n(&default_limit, __ATOMIC_RELAXED);
	return __atomic_load_n(&zone_limit[zone], __ATOMIC_RELAXED);
}

uint32_t ct_zone_count(uint16_t zone)
{
	return __atomic_load_n(&zone_count[zone], __ATOMIC_RELAXED);
}

/*
 * Connection memory. A new connection must not cost a malloc (the new
 * connections per second bench makes one per packet): PMDs take them from
 * their own free list (struct ct_pmd), refilled with everything freed since
 * (a stack any thread pushes to and a PMD takes whole, so no ABA) or else
 * with a chunk of CT_CHUNK fresh ones carved without per-object headers, so
 * a connection costs no more than calloc's. Chunks are never given back:
 * the table is sized once for its maximum. Under AddressSanitizer plain
 * calloc/free, so it still sees a connection used after its grace period.
 */
#if defined(__SANITIZE_ADDRESS__)
#define CT_SLAB 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CT_SLAB 0
#endif
#endif
#ifndef CT_SLAB
#define CT_SLAB 1
#endif

#define CT_CHUNK	256

struct ct_free {
	struct ct_free *next;
};

static struct ct_free *returned[2];	/* by class: 1 with TCP state */

static inline size_t class_size(int tcp)
{
	return tcp ? sizeof(struct ct_conn) : offsetof(struct ct_conn, tcp);
}

static void push_returned(int tcp, struct ct_free *first, struct ct_free *last)
{
	struct ct_free *head = __atomic_load_n(&returned[tcp], __ATOMIC_RELAXED);

	do
		last->next = head;
	while (!__atomic_compare_exchange_n(&returned[tcp], &head, first, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

static __attribute__((noinline)) struct ct_free *refill(int tcp)
{
	struct ct_free *f = __atomic_exchange_n(&returned[tcp], NULL, __ATOMIC_ACQUIRE);
	size_t size = class_size(tcp);
	uint8_t *chunk;

	if (f)
		return f;
	chunk = malloc(size * CT_CHUNK);
	if (!chunk)
		return NULL;
	for (unsigned i = 0; i < CT_CHUNK; i++)
		((struct ct_free *)(void *)(chunk + i * size))->next =
			i + 1 < CT_CHUNK ? (struct ct_free *)(void *)(chunk + (i + 1) * size) : NULL;
	return (struct ct_free *)(void *)chunk;
}

static struct ct_conn *conn_get(struct ct_pmd *pmd, int tcp)
{
	struct ct_free *f;
	struct ct_conn *c;

	if (!CT_SLAB)
		return calloc(1, class_size(tcp));
	f = pmd->free_conns[tcp];
	if (unlikely(!f) && !(f = refill(tcp)))
		return NULL;
	pmd->free_conns[tcp] = f->next;
	c = (struct ct_conn *)(void *)f;
	if (tcp)
		memset(c, 0, sizeof(*c));
	else
		memset(c, 0, offsetof(struct ct_conn, tcp));
	return c;
}

static void conn_put(struct ct_conn *c)
{
	struct ct_free *f = (struct ct_free *)(void *)c;

	if (!CT_SLAB) {
		free(c);
		return;
	}
	push_returned(c->node[0].t.proto == 6, f, f);
}

struct ct_conn *ct_conn_alloc(struct ct_pmd *pmd, uint16_t zone, uint8_t proto, enum ct_inv *why)
{
	uint32_t lim = __atomic_load_n(&zone_limit[zone], __ATOMIC_RELAXED);
	struct ct_conn *c;

	if (!lim)
		lim = __atomic_load_n(&default_limit, __ATOMIC_RELAXED);
	/* Reserve first, then check: two PMDs racing for the last slot
	 * cannot both win. */
	if (__atomic_add_fetch(&ct_tab.n_conns, 1, __ATOMIC_RELAXED) > ct_tab.max_conns) {
		*why = CT_INV_TABLE_FULL;
		goto err_total;
	}
	if (__atomic_add_fetch(&zone_count[zone], 1, __ATOMIC_RELAXED) > lim && lim) {
		*why = CT_INV_LIMIT;
		goto err_zone;
	}
	/* Only TCP has window state: the others end before it (72 bytes of
	 * the ~240 each connection costs). */
	c = conn_get(pmd, proto == 6);
	if (!c) {
		*why = CT_INV_NO_MEMORY;
		goto err_zone;
	}
	c->node[CT_DIR_REPLY].dir = CT_DIR_REPLY;
	return c;
err_zone:
	__atomic_sub_fetch(&zone_count[zone], 1, __ATOMIC_RELAXED);
err_total:
	__atomic_sub_fetch(&ct_tab.n_conns, 1, __ATOMIC_RELAXED);
	return NULL;
}

void ct_conn_free_now(struct ct_conn *c)
{
	__atomic_sub_fetch(&zone_count[c->node[0].t.zone], 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&ct_tab.n_conns, 1, __ATOMIC_RELAXED);
	conn_put(c);
}

static inline uint8_t *stripe(uint32_t hash)
{
	return &ct_tab.locks[(hash & ct_tab.mask) % CT_LOCKS];
}

static void lock2(uint8_t *a, uint8_t *b)
{
	if (a > b) {
		uint8_t *t = a;

		a = b;
		b = t;
	}
	ct_spin_lock(a);
	if (b != a)
		ct_spin_lock(b);
}

static void unlock2(uint8_t *a, uint8_t *b)
{
	ct_spin_unlock(a);
	if (b != a)
		ct_spin_unlock(b);
}

bool ct_tuple_taken(const struct ct_tuple *t, const struct ct_conn *self)
{
	struct ct_node *n = ct_lookup(t, ct_hash(t));

	return n && ct_node_conn(n) != self;
}

struct ct_node *ct_conn_insert(struct ct_conn *c, uint32_t orig_hash)
{
	struct ct_node *o = &c->node[CT_DIR_ORIG], *r = &c->node[CT_DIR_REPLY], *found;
	uint8_t *la, *lb;

	o->hash = orig_hash;
	r->hash = ct_hash(&r->t);
	la = stripe(o->hash);
	lb = stripe(r->hash);
	lock2(la, lb);
	found = ct_lookup(&o->t, o->hash);
	if (!found)
		found = ct_lookup(&r->t, r->hash);
	if (unlikely(found)) {
		unlock2(la, lb);
		ct_conn_free_now(c);
		return found;
	}
	o->next = ct_tab.buckets[o->hash & ct_tab.mask];
	rcu_assign_pointer(ct_tab.buckets[o->hash & ct_tab.mask], o);
	r->next = ct_tab.buckets[r->hash & ct_tab.mask];
	rcu_assign_pointer(ct_tab.buckets[r->hash & ct_tab.mask], r);
	unlock2(la, lb);
	return NULL;
}

/* Under the node's stripe lock. */
static void chain_remove(struct ct_node *n)
{
	struct ct_node **pp = &ct_tab.buckets[n->hash & ct_tab.mask];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			/* Readers on n still see n->next: the chain stays
			 * walkable until the grace period ends. */
			rcu_assign_pointer(*pp, n->next);
			return;
		}
	}
}

void ct_conn_unlink(struct ct_conn *c)
{
	uint8_t *la = stripe(c->node[0].hash), *lb = stripe(c->node[1].hash);
	struct ct_conn *head;

	lock2(la, lb);
	if (c->flags & CT_C_DEAD) {
		unlock2(la, lb);
		return;
	}
	__atomic_or_fetch(&c->flags, CT_C_DEAD, __ATOMIC_RELAXED);
	chain_remove(&c->node[0]);
	chain_remove(&c->node[1]);
	unlock2(la, lb);
	head = __atomic_load_n(&limbo, __ATOMIC_RELAXED);
	do
		c->gc_next = head;
	while (!__atomic_compare_exchange_n(&limbo, &head, c, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

void ct_reclaim(void)
{
	struct ct_conn *c = __atomic_exchange_n(&limbo, NULL, __ATOMIC_ACQUIRE);

	if (!c)
		return;
	synchronize_rcu();
	while (c) {
		struct ct_conn *next = c->gc_next;

		ct_conn_free_now(c);
		c = next;
	}
}

/*
 * Collect up to max connections of bucket b for which drop() says so, by
 * their node in b whose direction is the original one (each connection
 * once). Control thread only, and without the stripe lock: only the control
 * thread frees connections (ct_reclaim), so every node it can reach stays
 * allocated while it walks, even one a PMD unlinks meanwhile (its next still
 * leads on). PMDs creating connections never wait for a sweep's walk; they
 * meet it only in ct_conn_unlink's two short critical sections.
 */
static unsigned bucket_collect(uint32_t b, bool (*drop)(const struct ct_conn *, void *),
			       void *arg, struct ct_conn **out, unsigned max)
{
	unsigned n = 0;

	for (struct ct_node *nd = rcu_dereference(ct_tab.buckets[b]); nd && n < max;
	     nd = rcu_dereference(nd->next)) {
		struct ct_conn *c = ct_node_conn(nd);

		if (nd->dir == CT_DIR_ORIG && !(__atomic_load_n(&c->flags, __ATOMIC_RELAXED) &
						 CT_C_DEAD) && drop(c, arg))
			out[n++] = c;
	}
	return n;
}

static bool expired(const struct ct_conn *c, void *arg)
{
	return __atomic_load_n(&c->expires, __ATOMIC_RELAXED) <= *(const uint64_t *)arg;
}

static uint32_t sweep_cursor;
uint64_t ct_n_expired;

unsigned ct_sweep_step(uint64_t now_ms, unsigned budget)
{
	struct ct_conn *gone[64];
	unsigned n_exp = 0;

	ct_reclaim();
	/* An empty table costs the control thread nothing. */
	if (!ct_tab.buckets || !__atomic_load_n(&ct_tab.n_conns, __ATOMIC_RELAXED))
		return 0;
	for (unsigned i = 0; i < budget; i++) {
		uint32_t b = sweep_cursor;
		unsigned n;

		/* A bucket with more expired entries than fit in gone[] is
		 * visited again on the next iteration. */
		n = bucket_collect(b, expired, &now_ms, gone, ARRAY_SIZE(gone));
		for (unsigned j = 0; j < n; j++)
			ct_conn_unlink(gone[j]);
		n_exp += n;
		__atomic_store_n(&ct_n_expired, ct_n_expired + n, __ATOMIC_RELAXED);
		if (n < ARRAY_SIZE(gone))
			sweep_cursor = (sweep_cursor + 1) & ct_tab.mask;
		if (n_exp >= 4096)
			break;
	}
	return n_exp;
}

static bool in_zone(const struct ct_conn *c, void *arg)
{
	int zone = *(const int *)arg;

	return zone < 0 || c->node[0].t.zone == zone;
}

unsigned ct_flush(int zone)
{
	struct ct_conn *gone[64];
	unsigned total = 0;

	if (!ct_tab.buckets)
		return 0;
	for (uint32_t b = 0; b <= ct_tab.mask; b++) {
		unsigned n;

		if (!__atomic_load_n(&ct_tab.buckets[b], __ATOMIC_RELAXED))
			continue;
		do {
			n = bucket_collect(b, in_zone, &zone, gone, ARRAY_SIZE(gone));
			for (unsigned j = 0; j < n; j++)
				ct_conn_unlink(gone[j]);
			total += n;
		} while (n == ARRAY_SIZE(gone));
		/* Free as we go so a flush of millions holds no more
		 * than a bounded amount of limbo. */
		if ((b & 0xffff) == 0xffff)
			ct_reclaim();
	}
	ct_reclaim();
	return total;
}

void ct_walk(ct_walk_fn *fn, void *arg)
{
	if (!ct_tab.buckets)
		return;
	/* Lock-free, as bucket_collect (control thread only). */
	for (uint32_t b = 0; b <= ct_tab.mask; b++)
		for (struct ct_node *nd = rcu_dereference(ct_tab.buckets[b]); nd;
		     nd = rcu_dereference(nd->next))
			if (nd->dir == CT_DIR_ORIG &&
			    !(__atomic_load_n(&ct_node_conn(nd)->flags, __ATOMIC_RELAXED) & CT_C_DEAD))
				fn(ct_node_conn(nd), arg);
}

static struct ct_pmd *pmd_ctrs[64];
static struct ct_pmd gone;	/* counters of PMDs that went away */

static void add_ctrs(struct ct_pmd *sum, const struct ct_pmd *c)
{
	sum->n_packets += __atomic_load_n(&c->n_packets, __ATOMIC_RELAXED);
	sum->n_created += __atomic_load_n(&c->n_created, __ATOMIC_RELAXED);
	sum->n_lookups_new += __atomic_load_n(&c->n_lookups_new, __ATOMIC_RELAXED);
	for (int r = 0; r < CT_INV_MAX; r++)
		sum->invalid[r] += __atomic_load_n(&c->invalid[r], __ATOMIC_RELAXED);
}

/* A PMD that goes gives its free connections back. */
static void give_back(struct ct_pmd *c)
{
	for (int tcp = 0; tcp < 2; tcp++) {
		struct ct_free *first = c->free_conns[tcp], *last = first;

		if (!first)
			continue;
		while (last->next)
			last = last->next;
		c->free_conns[tcp] = NULL;
		push_returned(tcp, first, last);
	}
}

void ct_pmd_register(unsigned idx, struct ct_pmd *c)
{
	if (idx >= ARRAY_SIZE(pmd_ctrs))
		return;
	if (!c && pmd_ctrs[idx]) {
		add_ctrs(&gone, pmd_ctrs[idx]);
		give_back(pmd_ctrs[idx]);
	}
	__atomic_store_n(&pmd_ctrs[idx], c, __ATOMIC_RELEASE);
}

void ct_sum_counters(struct ct_pmd *sum)
{
	*sum = gone;
	for (size_t i = 0; i < ARRAY_SIZE(pmd_ctrs); i++) {
		const struct ct_pmd *c = __atomic_load_n(&pmd_ctrs[i], __ATOMIC_ACQUIRE);

		if (c)
			add_ctrs(sum, c);
	}
}
