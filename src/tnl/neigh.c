/*
 * The underlay neighbour table: (address, uplink port) -> MAC, for ARP
 * (IPv4, kept IPv4-mapped) and ND (IPv6) alike.
 *
 * Open addressing with linear probing over a fixed array. Writers (a PMD
 * that received an ARP packet for our address, or the control thread) are
 * rare and serialise on a spinlock; readers (encapsulation, once per batch)
 * take no lock: each slot has a sequence counter, odd while a writer is in
 * it, and a reader retries the slot when the counter moved under it.
 * Deleting rebuilds the table under the lock, so probe chains never break.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tnl_priv.h"

static struct neigh_entry tab[NEIGH_SIZE];
static unsigned n_used;
static int wlock;

static void lock(void)
{
	while (__atomic_exchange_n(&wlock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&wlock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&wlock, 0, __ATOMIC_RELEASE);
}

static inline uint32_t slot_of(const uint64_t a[2])
{
	uint64_t h = (a[0] ^ (a[1] * 0xff51afd7ed558ccdULL)) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 40) & (NEIGH_SIZE - 1);
}

struct snap {
	uint64_t a[2];
	uint16_t port;
	uint8_t state;
	uint64_t mac;
	uint32_t updated;
};

static inline bool a_zero(const uint64_t a[2])
{
	return !(a[0] | a[1]);
}

static inline bool a_eq(const uint64_t x[2], const uint64_t y[2])
{
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]));
}

static inline void a_from4(uint32_t ip, uint64_t a[2])
{
	uint8_t b[16];

	ip4_mapped(ip, b);
	memcpy(a, b, 16);
}

static inline void read_slot(const struct neigh_entry *e, struct snap *s)
{
	for (;;) {
		uint32_t q = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

		if (q & 1) {
			__builtin_ia32_pause();
			continue;
		}
		s->a[0] = __atomic_load_n(&e->a[0], __ATOMIC_RELAXED);
		s->a[1] = __atomic_load_n(&e->a[1], __ATOMIC_RELAXED);
		s->mac = __atomic_load_n(&e->mac, __ATOMIC_RELAXED);
		s->port = __atomic_load_n(&e->port, __ATOMIC_RELAXED);
		s->state = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
		s->updated = __atomic_load_n(&e->updated, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == q)
			return;
	}
}

static void write_slot(struct neigh_entry *e, const struct snap *s)
{
	uint32_t q = e->seq;

	__atomic_store_n(&e->seq, q + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->a[0], s->a[0], __ATOMIC_RELAXED);
	__atomic_store_n(&e->a[1], s->a[1], __ATOMIC_RELAXED);
	__atomic_store_n(&e->mac, s->mac, __ATOMIC_RELAXED);
	__atomic_store_n(&e->port, s->port, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, s->state, __ATOMIC_RELAXED);
	__atomic_store_n(&e->updated, s->updated, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, q + 2, __ATOMIC_RELEASE);
}

static bool lookup(const uint64_t a[2], uint16_t port, uint8_t mac[6])
{
	uint32_t h = slot_of(a);

	for (unsigned probes = 0; probes < NEIGH_SIZE; probes++, h = (h + 1) & (NEIGH_SIZE - 1)) {
		struct snap s;

		read_slot(&tab[h], &s);
		if (a_zero(s.a))
			return false;
		if (a_eq(s.a, a) && s.port == port) {
			u64_to_mac(s.mac, mac);
			return true;
		}
	}
	return false;
}

bool neigh_lookup(uint32_t ip, uint16_t port, uint8_t mac[6])
{
	uint64_t a[2];

	a_from4(ip, a);
	return lookup(a, port, mac);
}

bool neigh_lookup6(const uint8_t ip6[16], uint16_t port, uint8_t mac[6])
{
	uint64_t a[2];

	memcpy(a, ip6, 16);
	return lookup(a, port, mac);
}

static uint32_t now_s(void)
{
	return (uint32_t)(time_ns() / 1000000000ull);
}

/* Under the lock. */
static int insert_locked(const struct snap *s, bool is_static)
{
	uint32_t h = slot_of(s->a);

	for (unsigned probes = 0; probes < NEIGH_SIZE; probes++, h = (h + 1) & (NEIGH_SIZE - 1)) {
		struct neigh_entry *e = &tab[h];

		if (a_eq(e->a, s->a) && e->port == s->port) {
			struct snap n = *s;

			if (e->state == NEIGH_STATIC && !is_static)
				return 0;
			if (e->mac == s->mac && e->state == s->state) {
				/* Refresh only: one relaxed store. */
				__atomic_store_n(&e->updated, s->updated, __ATOMIC_RELAXED);
				return 0;
			}
			write_slot(e, &n);
			return 0;
		}
		if (a_zero(e->a)) {
			if (n_used >= NEIGH_SIZE / 2)
				return -ENOSPC;
			write_slot(e, s);
			n_used++;
			return 0;
		}
	}
	return -ENOSPC;
}

static int update(const uint64_t a[2], const uint8_t mac[6], uint16_t port, bool is_static)
{
	struct snap s = { .a = { a[0], a[1] }, .port = port, .updated = now_s(),
			  .state = is_static ? NEIGH_STATIC : NEIGH_LEARNED };
	int rc;

	if (a_zero(a))
		return -EINVAL;
	mac_to_u64(mac, &s.mac);
	lock();
	rc = insert_locked(&s, is_static);
	unlock();
	return rc;
}

int neigh_update(uint32_t ip, const uint8_t mac[6], uint16_t port, bool is_static)
{
	uint64_t a[2];

	if (!ip)
		return -EINVAL;
	a_from4(ip, a);
	return update(a, mac, port, is_static);
}

int neigh_update6(const uint8_t ip6[16], const uint8_t mac[6], uint16_t port, bool is_static)
{
	uint64_t a[2];

	memcpy(a, ip6, 16);
	return update(a, mac, port, is_static);
}

int tnl_neigh_add(uint32_t ip, const uint8_t mac[6], struct port *port)
{
	return neigh_update(ip, mac, port->id, true);
}

int tnl_neigh_add6(const uint8_t ip6[16], const uint8_t mac[6], struct port *port)
{
	return neigh_update6(ip6, mac, port->id, true);
}

/* Keep the entries `keep` says yes to; rebuild so probe chains hold. */
static void rebuild(bool (*keep)(const struct neigh_entry *e, uint16_t arg), uint16_t arg)
{
	static struct snap live[NEIGH_SIZE];
	unsigned n = 0;

	lock();
	for (unsigned i = 0; i < NEIGH_SIZE; i++) {
		struct neigh_entry *e = &tab[i];

		if (!a_zero(e->a) && keep(e, arg))
			live[n++] = (struct snap){ { e->a[0], e->a[1] }, e->port, e->state, e->mac,
						   e->updated };
		if (!a_zero(e->a)) {
			struct snap z = { 0 };

			write_slot(e, &z);
		}
	}
	n_used = 0;
	for (unsigned i = 0; i < n; i++)
		(void)insert_locked(&live[i], live[i].state == NEIGH_STATIC);
	unlock();
}

static bool keep_other_port(const struct neigh_entry *e, uint16_t port)
{
	return e->port != port;
}

static bool keep_none(const struct neigh_entry *e, uint16_t arg)
{
	(void)e;
	(void)arg;
	return false;
}

void neigh_flush_port(uint16_t port)
{
	rebuild(keep_other_port, port);
}

void tnl_neigh_flush(void)
{
	rebuild(keep_none, 0);
}

json_t *tnl_neigh_json(void)
{
	json_t *arr = json_array();
	uint32_t now = now_s();

	for (unsigned i = 0; i < NEIGH_SIZE; i++) {
		struct snap s;
		struct port *p;
		char ip[INET6_ADDRSTRLEN], mac[18];
		uint8_t m[6], b[16];
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		read_slot(&tab[i], &s);
		if (a_zero(s.a))
			continue;
		p = port_by_id(s.port);
		u64_to_mac(s.mac, m);
		memcpy(b, s.a, 16);
		if (!memcmp(b, mapped, 12))
			inet_ntop(AF_INET, b + 12, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, b, ip, sizeof(ip));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:I}", "ip", ip, "mac", mac,
						     "port", p ? p->name : "?", "state",
						     s.state == NEIGH_STATIC ? "static" : "learned",
						     "age", (json_int_t)(now - s.updated)));
	}
	return arr;
}
