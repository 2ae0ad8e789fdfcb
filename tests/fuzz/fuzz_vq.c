/*
 * libFuzzer target: a hostile guest. The input is the content of the first
 * FUZZ_SPAN bytes of guest memory — descriptor table at gpa 0, avail (or
 * driver event) at 0x800, used (or device event) at 0xa00, anything
 * (indirect tables, buffers) from 0x1000 — after five configuration bytes.
 * The device runs dequeue and enqueue bursts over it, with dirty logging
 * on. A crash, a sanitizer report or a frame longer than a pkt is a bug; a
 * broken vq is the expected outcome for most inputs.
 *
 * Config: byte 0 & 7: ring size log2 (1..128); byte 1 bits: 1 packed,
 * 2 MRG_RXBUF, 4 INDIRECT_DESC, 8 EVENT_IDX, 16 LOG_ALL, 32 legacy 10-byte
 * header, 64 rx only (enqueue fixed frames instead of echoing tx);
 * bytes 2-3 SET_VRING_BASE; byte 4 number of rounds (1..4).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_guest.h"

#define FUZZ_SPAN	0x4000u
#define F_DESC		0x000u
#define F_AVAIL		0x800u
#define F_USED		0xa00u

static struct fake_guest *g;
static uint8_t logmap[FG_MEM_SIZE / 4096 / 8];
static struct dirty_log dlog;

static void init_once(void)
{
	g = fg_new();
	if (!g || fg_init(g, 16, FG_F_BASE) < 0)
		abort();
	pkt_pool_set_thread(pkt_pool_create("fuzz", 256));
	dirty_log_init(&dlog, logmap, sizeof(logmap));
}

static uint16_t rx_frames(struct pkt **pkts)
{
	static const uint16_t lens[4] = { 60, 1500, 9000, 64 };
	uint16_t n = pkt_alloc_bulk(pkts, 4);

	for (uint16_t i = 0; i < n; i++) {
		pkts[i]->len = lens[i];
		memset(pkts[i]->data, (int)i, lens[i]);
		pkts[i]->flags = (uint16_t)(i & 3);
		pkts[i]->csum_start = 34;
		pkts[i]->csum_offset = 16;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t f = FG_F(VIRTIO_F_VERSION_1) | FG_F(VIRTIO_NET_F_GUEST_CSUM);
	struct pkt *pkts[32];
	uint16_t qsize;
	uint32_t base;
	unsigned rounds;
	bool rx_only;

	if (!g)
		init_once();
	if (size < 5)
		return 0;
	qsize = (uint16_t)(1u << (data[0] & 7));
	if (data[1] & 1)
		f |= FG_F(VIRTIO_F_RING_PACKED);
	if (data[1] & 2)
		f |= FG_F(VIRTIO_NET_F_MRG_RXBUF);
	if (data[1] & 4)
		f |= FG_F(VIRTIO_RING_F_INDIRECT_DESC);
	if (data[1] & 8)
		f |= FG_F(VIRTIO_RING_F_EVENT_IDX);
	if (data[1] & 16)
		f |= FG_F(VHOST_F_LOG_ALL);
	if (data[1] & 32)
		f &= ~FG_F(VIRTIO_F_VERSION_1);
	rx_only = data[1] & 64;
	base = (uint32_t)data[2] | (uint32_t)data[3] << 8;
	rounds = 1 + data[4] % 4;
	data += 5;
	size -= 5;
	memset(g->mem, 0, FUZZ_SPAN);
	memcpy(g->mem, data, MIN(size, (size_t)FUZZ_SPAN));
	if (fg_vq_setup_at(g, qsize, f, base, F_DESC, F_AVAIL, F_USED) < 0)
		return 0;
	vq_set_dirty_log(&g->vq, &dlog);
	for (unsigned r = 0; r < rounds && !vq_is_broken(&g->vq); r++) {
		uint16_t n;

		if (rx_only) {
			n = rx_frames(pkts);
		} else {
			n = vq_dequeue_burst(&g->vq, g->gm, pkts, 32);
			for (uint16_t i = 0; i < n; i++)
				if (pkts[i]->len > PKT_DATA_MAX)
					abort();
		}
		if (vq_enqueue_burst(&g->vq, g->gm, pkts, n) > n)
			abort();
		pkt_free_bulk(pkts, n);
		(void)vq_kick_enable(&g->vq, true);
		(void)vq_kick_enable(&g->vq, false);
	}
	if (pkt_pool_avail(pkt_pool_thread()) != 256)
		abort();	/* leaked a pkt */
	return 0;
}
