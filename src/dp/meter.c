/*
 * Meters: shared token buckets (one per band) behind a per-meter spinlock
 * taken once per batch; see meter.h for why they are shared.
 *
 * Units: a bucket holds rate-units × nanoseconds, so refilling is one
 * multiplication, rate × elapsed ns (and one division per band to cap it):
 *   pktps: a packet costs 1e9 units (1 packet/s × 1e9 ns);
 *   kbps:  a frame of L bytes costs 8·L·1e6 units (1 kbit/s × 1 ns = 1e-6 bit).
 * A burst of B packets or B kbits is B·1e9 units either way.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "meter.h"

struct dpact_idtab *meter_tab_rcu;

#define UNITS		1000000000ULL

struct meter *meter_lookup(uint32_t id)
{
	return dpact_idtab_find(rcu_dereference(meter_tab_rcu), id);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void lock(uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			cpu_relax();
}

static inline void unlock(uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

uint16_t meter_police(struct meter *m, uint16_t pmd_idx, uint64_t now_ns, struct pkt *const *pkts,
		      uint16_t n, bool *pass)
{
	struct meter_ctr *c = &m->ctr[pmd_idx];
	uint64_t bytes = 0, dt;
	uint16_t n_pass = 0;
	bool kbps = m->flags & METER_F_KBPS;

	lock(&m->lock);
	/* The lock orders this batch's view of time and tokens after every
	 * earlier batch's, on any PMD. */
	dt = now_ns > m->last_ns ? now_ns - m->last_ns : 0;
	m->last_ns = MAX(now_ns, m->last_ns);
	for (uint32_t b = 0; b < m->n_bands; b++) {
		struct meter_band *band = &m->bands[b];

		if (dt >= band->cap / band->rate)
			band->tokens = band->cap;
		else
			band->tokens = MIN(band->cap, band->tokens + band->rate * dt);
	}
	for (uint16_t i = 0; i < n; i++) {
		uint64_t cost = kbps ? (uint64_t)pkts[i]->len * 8 * 1000000ULL : UNITS;
		int exceeded = -1;

		bytes += pkts[i]->len;
		for (uint32_t b = 0; b < m->n_bands; b++) {
			struct meter_band *band = &m->bands[b];

			if (band->tokens >= cost)
				band->tokens -= cost;
			else if (exceeded < 0 || band->rate > m->bands[exceeded].rate)
				exceeded = (int)b;
		}
		pass[i] = exceeded < 0;
		if (exceeded < 0) {
			n_pass++;
		} else {
			COUNTER_ADD(c->band_packets[exceeded], 1);
			COUNTER_ADD(c->band_bytes[exceeded], pkts[i]->len);
		}
	}
	unlock(&m->lock);
	COUNTER_ADD(c->packets, n);
	COUNTER_ADD(c->bytes, bytes);
	return n_pass;
}

/* ---- control ---- */

static void meter_free(struct meter *m)
{
	if (m)
		free(m->ctr);
	free(m);
}

static struct meter *meter_build(uint32_t id, uint32_t flags, const struct meter_band_spec *spec,
				 uint32_t n, int *err)
{
	bool kbps = flags & METER_F_KBPS;
	struct meter *m;

	*err = -EINVAL;
	if (!id || id > METER_MAX_ID || !n || n > METER_MAX_BANDS ||
	    !!(flags & METER_F_KBPS) == !!(flags & METER_F_PKTPS))
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (spec[i].type != METER_BAND_DROP || !spec[i].rate)
			return NULL;
	*err = -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->ctr = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(struct meter_ctr), CACHE_LINE) *
					   DPACT_PMD_MAX);
	if (!m->ctr) {
		free(m);
		return NULL;
	}
	memset(m->ctr, 0, ALIGN_UP(sizeof(struct meter_ctr), CACHE_LINE) * DPACT_PMD_MAX);
	m->id = id;
	m->flags = flags;
	m->n_bands = n;
	for (uint32_t i = 0; i < n; i++) {
		struct meter_band *b = &m->bands[i];
		uint64_t burst = (flags & METER_F_BURST) && spec[i].burst ? spec[i].burst
									  : spec[i].rate / 10;

		b->rate = spec[i].rate;
		b->burst = (uint32_t)burst;
		b->cap = burst * UNITS;
		/* At least one packet, or one maximum frame, must fit. */
		if (kbps)
			b->cap = MAX(b->cap, (uint64_t)(PKT_DATA_MAX) * 8 * 1000000ULL);
		else
			b->cap = MAX(b->cap, UNITS);
		b->tokens = b->cap;
	}
	*err = 0;
	return m;
}

_Static_assert(sizeof(struct meter_ctr) % CACHE_LINE == 0, "one line-aligned slot per PMD");

static void meter_free_obj(void *m)
{
	meter_free(m);
}

static int publish(struct meter *add, struct meter *gone)
{
	return dpact_idtab_replace(&meter_tab_rcu, add, gone, meter_free_obj);
}

int meter_add(uint32_t id, uint32_t flags, const struct meter_band_spec *bands, uint32_t n)
{
	struct meter *m;
	int err;

	if (meter_find(id))
		return -EEXIST;
	m = meter_build(id, flags, bands, n, &err);
	if (!m)
		return err;
	err = publish(m, NULL);
	if (err)
		meter_free(m);
	return err;
}

int meter_mod(uint32_t id, uint32_t flags, const struct meter_band_spec *bands, uint32_t n)
{
	struct meter *old = (struct meter *)meter_find(id), *m;
	int err;

	if (!old)
		return -ENOENT;
	m = meter_build(id, flags, bands, n, &err);
	if (!m)
		return err;
	err = publish(m, old);
	if (err)
		meter_free(m);
	return err;
}

int meter_del(uint32_t id)
{
	if (id == METER_ALL) {
		dpact_idtab_clear(&meter_tab_rcu, meter_free_obj);
		return 0;
	}
	if (!meter_find(id))
		return -ENOENT;
	return publish(NULL, (struct meter *)meter_find(id));
}

const struct meter *meter_find(uint32_t id)
{
	return dpact_idtab_find(meter_tab_rcu, id);
}

uint32_t meter_count(void)
{
	return meter_tab_rcu ? meter_tab_rcu->n : 0;
}

void meter_foreach(void (*fn)(const struct meter *m, void *arg), void *arg)
{
	const struct dpact_idtab *t = meter_tab_rcu;

	for (uint32_t i = 0; t && i <= t->mask; i++)
		if (t->slot[i])
			fn(t->slot[i], arg);
}

struct meter_ctr meter_stats(const struct meter *m)
{
	size_t stride = ALIGN_UP(sizeof(struct meter_ctr), CACHE_LINE);
	struct meter_ctr s;

	memset(&s, 0, sizeof(s));
	for (uint32_t p = 0; p < DPACT_PMD_MAX; p++) {
		const struct meter_ctr *c = (const void *)((const uint8_t *)m->ctr + p * stride);

		s.packets += COUNTER_READ(c->packets);
		s.bytes += COUNTER_READ(c->bytes);
		for (uint32_t b = 0; b < METER_MAX_BANDS; b++) {
			s.band_packets[b] += COUNTER_READ(c->band_packets[b]);
			s.band_bytes[b] += COUNTER_READ(c->band_bytes[b]);
		}
	}
	return s;
}
