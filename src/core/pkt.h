/*
 * pkt: one packet in one contiguous buffer with headroom, and the per-PMD pools
 * that hand them out.
 *
 * A pkt is a fixed-size object: metadata in the first cache line, then the
 * buffer. `data` points into buf[] at PKT_HEADROOM (≥128 bytes, room for any
 * encapsulation) when the packet is fresh. Frames up to PKT_DATA_MAX bytes fit;
 * that covers a 9000-byte MTU plus Ethernet and VLAN headers.
 *
 * Thread-safety: a pool belongs to one thread (a PMD, or the control thread)
 * and is that thread's pkt_pool_cur. Allocation and free are plain array
 * pushes and pops, no atomics. Invariant: a packet is freed by the thread that
 * allocated it — packets never cross threads (a PMD receives, forwards and
 * transmits within one loop iteration). pkt_free asserts that in debug builds.
 */
#ifndef XVIO_PKT_H
#define XVIO_PKT_H

#include <stdalign.h>
#include <stdint.h>
#include <string.h>
#ifdef XVIO_DEBUG
#include <assert.h>
#endif

#include "core.h"

#define PKT_HEADROOM	128
#define PKT_DATA_MAX	9728
#define PKT_BURST	32

/* Checksum-offload metadata carried from a guest's virtio_net_hdr. */
enum {
	PKT_F_CSUM_PARTIAL = 1 << 0,	/* L4 csum must be completed: csum_start/offset valid */
	PKT_F_CSUM_VALID   = 1 << 1,	/* checksum known good (DATA_VALID) */
	PKT_F_TUN          = 1 << 2,	/* came out of a tunnel: pkt.tun is valid */
};

struct pkt {
	uint8_t *data;		/* start of the frame (Ethernet header) */
	uint16_t len;		/* frame length in bytes */
	uint16_t in_port;	/* dp port id the packet came in on */
	uint16_t flags;		/* PKT_F_* */
	uint16_t csum_start;	/* from virtio_net_hdr, relative to data */
	uint16_t csum_offset;
	uint16_t gso_size;
	uint8_t gso_type;
	uint8_t l3_off;		/* parsed offsets from data, 0 = absent */
	uint8_t l4_off;
	uint8_t pad_[3];
	uint32_t hash;		/* flow hash, 0 = not computed */
	struct pkt_pool *pool;	/* home pool */
	uint64_t meta[3];	/* scratch for the datapath (tunnel, ct) later */
	/* Outer headers of a decapsulated packet (PKT_F_TUN), copied into the
	 * flow key's tun_* fields by flow_extract. Outside the first line: only
	 * tunnel packets touch it. */
	struct pkt_tun {
		uint64_t id;		/* host */
		/* Outer addresses, network order: IPv4 in the first 4
		 * bytes (the rest zero), IPv6 whole when v6. */
		uint8_t src[16], dst[16];
		uint16_t flags;		/* TNL_F_* (tnl.h) */
		uint8_t tos, ttl;
		uint8_t opt_len;
		uint8_t v6;		/* the outer header was IPv6 */
		uint8_t pad[2];
		uint8_t opts[16];	/* Geneve options, first 16 bytes */
	} tun;
	alignas(CACHE_LINE) uint8_t buf[PKT_HEADROOM + PKT_DATA_MAX];
};

struct pkt_pool;

/* Create a pool of n packets for the calling thread. NULL + errno on failure. */
struct pkt_pool *pkt_pool_create(const char *name, uint32_t n);
void pkt_pool_destroy(struct pkt_pool *pool);
/* Per-thread current pool, used by pkt_alloc/pkt_free. */
void pkt_pool_set_thread(struct pkt_pool *pool);
struct pkt_pool *pkt_pool_thread(void);
uint32_t pkt_pool_avail(const struct pkt_pool *pool);

struct pkt_pool {
	uint32_t n_free;
	uint32_t size;
	uint64_t n_alloc_fail;
	struct pkt **free;	/* stack of free packets */
	void *mem;
	char name[32];
};

extern __thread struct pkt_pool *pkt_pool_cur;

static inline void pkt_reset(struct pkt *p)
{
	p->data = p->buf + PKT_HEADROOM;
	p->len = 0;
	p->flags = 0;
	p->csum_start = p->csum_offset = p->gso_size = 0;
	p->gso_type = 0;
	p->l3_off = p->l4_off = 0;
	p->hash = 0;
}

/* Allocate up to n packets from the thread's pool; returns how many. */
static inline uint16_t pkt_alloc_bulk(struct pkt **pkts, uint16_t n)
{
	struct pkt_pool *pool = pkt_pool_cur;

	if (unlikely(pool->n_free < n)) {
		pool->n_alloc_fail++;
		n = pool->n_free;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct pkt *p = pool->free[--pool->n_free];
		pkt_reset(p);
		pkts[i] = p;
	}
	return n;
}

static inline struct pkt *pkt_alloc(void)
{
	struct pkt *p;

	return pkt_alloc_bulk(&p, 1) ? p : NULL;
}

static inline void pkt_free(struct pkt *p)
{
	struct pkt_pool *pool = pkt_pool_cur;

#ifdef XVIO_DEBUG
	assert(p->pool == pool && pool->n_free < pool->size);
#endif
	pool->free[pool->n_free++] = p;
}

static inline void pkt_free_bulk(struct pkt **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		pkt_free(pkts[i]);
}

/* A copy of p (data at the same headroom, all metadata) from the thread's
 * pool, or NULL when it is empty: floods and mirrored outputs. */
struct pkt *pkt_clone(const struct pkt *p);

/* Room left before data, for pushing headers. */
static inline uint16_t pkt_headroom(const struct pkt *p)
{
	return (uint16_t)(p->data - p->buf);
}

static inline uint8_t *pkt_push(struct pkt *p, uint16_t n)
{
	if (unlikely(pkt_headroom(p) < n))
		return NULL;
	p->data -= n;
	p->len += n;
	return p->data;
}

static inline uint8_t *pkt_pull(struct pkt *p, uint16_t n)
{
	if (unlikely(p->len < n))
		return NULL;
	p->data += n;
	p->len -= n;
	return p->data;
}

#endif
