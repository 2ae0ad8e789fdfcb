/*
 * The IPv4 neighbour table: (address, uplink port) -> MAC.
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

static inline uint32_t slot_of(uint32_t ip)
{
	return (uint32_t)(((uint64_t)ip * 0x9e3779b97f4a7c15ULL) >> 40) & (NEIGH_SIZE - 1);
}

struct snap {
	uint32_t ip;
	uint16_t port;
	uint8_t state;
	uint64_t mac;
	uint32_t updated;
};

static inline void read_slot(const struct neigh_entry *e, struct snap *s)
{
	for (;;) {
		uint32_t q = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

		if (q & 1) {
			__builtin_ia32_pause();
			continue;
		}
		s->ip = __atomic_load_n(&e->ip, __ATOMIC_RELAXED);
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
	__atomic_store_n(&e->ip, s->ip, __ATOMIC_RELAXED);
	__atomic_store_n(&e->mac, s->mac, __ATOMIC_RELAXED);
	__atomic_store_n(&e->port, s->port, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, s->state, __ATOMIC_RELAXED);
	__atomic_store_n(&e->updated, s->updated, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, q + 2, __ATOMIC_RELEASE);
}

bool neigh_lookup(uint32_t ip, uint16_t port, uint8_t mac[6])
{
	uint32_t h = slot_of(ip);

	for (unsigned probes = 0; probes < NEIGH_SIZE; probes++, h = (h + 1) & (NEIGH_SIZE - 1)) {
		struct snap s;

		read_slot(&tab[h], &s);
		if (!s.ip)
			return false;
		if (s.ip == ip && s.port == port) {
			u64_to_mac(s.mac, mac);
			return true;
		}
	}
	return false;
}

static uint32_t now_s(void)
{
	return (uint32_t)(time_ns() / 1000000000ull);
}

/* Under the lock. */
static int insert_locked(const struct snap *s, bool is_static)
{
	uint32_t h = slot_of(s->ip);

	for (unsigned probes = 0; probes < NEIGH_SIZE; probes++, h = (h + 1) & (NEIGH_SIZE - 1)) {
		struct neigh_entry *e = &tab[h];

		if (e->ip == s->ip && e->port == s->port) {
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
		if (!e->ip) {
			if (n_used >= NEIGH_SIZE / 2)
				return -ENOSPC;
			write_slot(e, s);
			n_used++;
			return 0;
		}
	}
	return -ENOSPC;
}

int neigh_update(uint32_t ip, const uint8_t mac[6], uint16_t port, bool is_static)
{
	struct snap s = { .ip = ip, .port = port, .updated = now_s(),
			  .state = is_static ? NEIGH_STATIC : NEIGH_LEARNED };
	int rc;

	if (!ip)
		return -EINVAL;
	mac_to_u64(mac, &s.mac);
	lock();
	rc = insert_locked(&s, is_static);
	unlock();
	return rc;
}

int tnl_neigh_add(uint32_t ip, const uint8_t mac[6], struct port *port)
{
	return neigh_update(ip, mac, port->id, true);
}

/* Keep the entries `keep` says yes to; rebuild so probe chains hold. */
static void rebuild(bool (*keep)(const struct neigh_entry *e, uint16_t arg), uint16_t arg)
{
	static struct snap live[NEIGH_SIZE];
	unsigned n = 0;

	lock();
	for (unsigned i = 0; i < NEIGH_SIZE; i++) {
		struct neigh_entry *e = &tab[i];

		if (e->ip && keep(e, arg))
			live[n++] = (struct snap){ e->ip, e->port, e->state, e->mac, e->updated };
		if (e->ip) {
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
		char ip[INET_ADDRSTRLEN], mac[18];
		uint8_t m[6];

		read_slot(&tab[i], &s);
		if (!s.ip)
			continue;
		p = port_by_id(s.port);
		u64_to_mac(s.mac, m);
		inet_ntop(AF_INET, &s.ip, ip, sizeof(ip));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:I}", "ip", ip, "mac", mac,
						     "port", p ? p->name : "?", "state",
						     s.state == NEIGH_STATIC ? "static" : "learned",
						     "age", (json_int_t)(now - s.updated)));
	}
	return arr;
}
