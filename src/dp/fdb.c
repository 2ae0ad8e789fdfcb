/*
 * The MAC table (forwarding database) shared by every PMD.
 *
 * Readers (PMDs) never lock: an entry is one 64-bit word (mac << 16 | port)
 * read and written with relaxed atomics, so a reader sees either the old or
 * the new entry, both of which are a valid (if possibly stale) decision. A
 * stale decision costs at most one misdirected packet, which a learning bridge
 * tolerates by design.
 *
 * fdb_lock guards every write of a key: a PMD inserting or moving a MAC, and
 * the control thread aging or flushing entries. It is taken only when a MAC
 * is new or moved, never for a known one. Last-seen times are written without
 * the lock (relaxed stores of a whole word; a lost refresh only ages an entry
 * a second early). Lock order: fdb_lock is a leaf.
 */
#include <pthread.h>
#include <string.h>

#include "dp_priv.h"

struct fdb_bucket fdb_tab[FDB_BUCKETS];
uint32_t fdb_seen[FDB_BUCKETS][FDB_WAYS];

static pthread_spinlock_t fdb_lock;

static void __attribute__((constructor)) fdb_init(void)
{
	pthread_spin_init(&fdb_lock, PTHREAD_PROCESS_PRIVATE);
}

uint32_t fdb_now(void)
{
	return (uint32_t)(time_ns() / 1000000000ULL);
}

static void key_store(uint64_t *k, uint64_t v)
{
	__atomic_store_n(k, v, __ATOMIC_RELAXED);
}

int fdb_learn_slow(uint64_t mac, uint16_t port, uint32_t now)
{
	uint32_t h = fdb_hash(mac);
	struct fdb_bucket *b = &fdb_tab[h];
	int slot = -1, oldest = 0, ret = 1;

	pthread_spin_lock(&fdb_lock);
	/* Another PMD may have learned or moved it while we waited. */
	for (int i = 0; i < FDB_WAYS; i++) {
		uint64_t k = b->key[i];

		if ((k >> 16) == mac) {
			slot = i;
			ret = (uint16_t)k == port ? 0 : 2;
			break;
		}
		if (k == 0 && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		/* Bucket full: evict the least recently seen. */
		for (int i = 1; i < FDB_WAYS; i++)
			if ((int32_t)(fdb_seen[h][i] - fdb_seen[h][oldest]) < 0)
				oldest = i;
		slot = oldest;
	}
	/* The time first, so the aging sweep never finds a fresh key with a
	 * stale time (the sweep runs under the same lock, so this is only
	 * about other PMDs' refreshes, which are harmless either way). */
	__atomic_store_n(&fdb_seen[h][slot], now, __ATOMIC_RELAXED);
	key_store(&b->key[slot], mac << 16 | port);
	pthread_spin_unlock(&fdb_lock);
	return ret;
}

/* The sweeps lock one bucket at a time so a PMD learning a MAC waits for
 * at most one bucket, never for a whole-table scan. */
unsigned fdb_age(uint32_t now, uint32_t aging)
{
	unsigned n = 0;

	if (!aging)
		return 0;
	for (uint32_t h = 0; h < FDB_BUCKETS; h++) {
		pthread_spin_lock(&fdb_lock);
		for (int i = 0; i < FDB_WAYS; i++) {
			uint32_t seen = __atomic_load_n(&fdb_seen[h][i], __ATOMIC_RELAXED);

			if (fdb_tab[h].key[i] && (int32_t)(now - seen) >= (int32_t)aging) {
				key_store(&fdb_tab[h].key[i], 0);
				n++;
			}
		}
		pthread_spin_unlock(&fdb_lock);
	}
	return n;
}

unsigned fdb_flush_port(uint16_t port)
{
	unsigned n = 0;

	for (uint32_t h = 0; h < FDB_BUCKETS; h++) {
		pthread_spin_lock(&fdb_lock);
		for (int i = 0; i < FDB_WAYS; i++) {
			uint64_t k = fdb_tab[h].key[i];

			if (k && (port == PORT_ID_NONE || (uint16_t)k == port)) {
				key_store(&fdb_tab[h].key[i], 0);
				n++;
			}
		}
		pthread_spin_unlock(&fdb_lock);
	}
	return n;
}

unsigned fdb_count(void)
{
	unsigned n = 0;

	for (uint32_t h = 0; h < FDB_BUCKETS; h++)
		for (int i = 0; i < FDB_WAYS; i++)
			n += __atomic_load_n(&fdb_tab[h].key[i], __ATOMIC_RELAXED) != 0;
	return n;
}
