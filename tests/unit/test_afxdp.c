/*
 * afxdp datapath bookkeeping without a kernel: the test plays the kernel's
 * side of the four AF_XDP rings (it fills the rx ring, drains the fill and
 * tx rings, answers on the completion ring) in plain memory, and checks
 * what afxdp_rx_burst and afxdp_tx_burst do with frames, descriptors and
 * counters. The system test (afxdp_veth.sh) covers the real sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pkt.h"
#include "port/port.h"
#include "port/port_afxdp.h"

#define FRAME(i)	((uint64_t)(i) * AFXDP_FRAME_SIZE)
#define HEADROOM	256

static struct pkt_pool *pool;
static struct port *port;
static struct afxdp *a;
static struct afxdp_q *q;

/* One ring's shared words and entries, as the kernel would map them. */
struct fake_ring {
	uint32_t producer, consumer, flags;
	void *ring;
};
static struct fake_ring f_rx, f_fill, f_tx, f_comp;

static void ring_init(struct fake_ring *f, size_t entry, uint32_t size, void *user, bool prod)
{
	struct xsk_ring_cons *r = user;		/* prod and cons share one layout */

	memset(f, 0, sizeof(*f));
	f->ring = calloc(size, entry);
	assert_non_null(f->ring);
	memset(r, 0, sizeof(*r));
	r->mask = size - 1;
	r->size = size;
	r->producer = &f->producer;
	r->consumer = &f->consumer;
	r->flags = &f->flags;
	r->ring = f->ring;
	if (prod)
		r->cached_cons = size;		/* libxdp's convention, see xsk_prod_nb_free */
}

/* Kernel side: a received frame in rx frame `frame`, at the headroom. */
static void kernel_rx(uint32_t frame, uint64_t addr_off, const void *data, uint32_t len)
{
	struct xdp_desc *d = (struct xdp_desc *)f_rx.ring + (f_rx.producer & q->rx.mask);

	d->addr = FRAME(frame) + addr_off;
	d->len = len;
	if (data)
		memcpy(q->area + d->addr, data, len);
	__atomic_store_n(&f_rx.producer, f_rx.producer + 1, __ATOMIC_RELEASE);
}

/* Kernel side: take everything from the fill ring; returns how many. */
static uint32_t kernel_take_fill(uint64_t *out, uint32_t max)
{
	uint32_t n = 0;

	while (f_fill.consumer != f_fill.producer && n < max)
		out[n++] = ((uint64_t *)f_fill.ring)[f_fill.consumer++ & q->fill.mask];
	return n;
}

/* Kernel side: transmit everything in the tx ring, completing it. */
static uint32_t kernel_tx(struct xdp_desc *out, uint32_t max)
{
	uint32_t n = 0;

	while (f_tx.consumer != f_tx.producer && n < max) {
		struct xdp_desc d = ((struct xdp_desc *)f_tx.ring)[f_tx.consumer++ & q->tx.mask];

		out[n++] = d;
		((uint64_t *)f_comp.ring)[f_comp.producer++ & q->comp.mask] = d.addr;
	}
	return n;
}

static int setup(void **state)
{
	(void)state;
	pool = pkt_pool_create("test", 64);
	assert_non_null(pool);
	pkt_pool_set_thread(pool);
	a = calloc(1, sizeof(*a));
	q = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*q), CACHE_LINE));
	assert_non_null(a);
	assert_non_null(q);
	memset(q, 0, sizeof(*q));
	q->area = calloc(AFXDP_N_FRAMES, AFXDP_FRAME_SIZE);
	assert_non_null(q->area);
	q->fd = -1;		/* a kick then fails: counted, not fatal */
	ring_init(&f_rx, sizeof(struct xdp_desc), AFXDP_RX_FRAMES, &q->rx, false);
	ring_init(&f_fill, sizeof(uint64_t), AFXDP_RX_FRAMES, &q->fill, true);
	ring_init(&f_tx, sizeof(struct xdp_desc), AFXDP_TX_FRAMES, &q->tx, true);
	ring_init(&f_comp, sizeof(uint64_t), AFXDP_TX_FRAMES, &q->comp, false);
	for (uint32_t i = 0; i < AFXDP_TX_FRAMES; i++)
		q->tx_free[i] = FRAME(AFXDP_RX_FRAMES + i);
	q->n_tx_free = AFXDP_TX_FRAMES;
	a->n_q = 1;
	a->tx_max = 1518;
	a->q[0] = q;
	port = port_alloc("x0", "afxdp", NULL);
	assert_non_null(port);
	port->id = 3;
	port->priv = a;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(f_rx.ring);
	free(f_fill.ring);
	free(f_tx.ring);
	free(f_comp.ring);
	free(q->area);
	free(q);
	free(a);
	port_free(port);
	pkt_pool_set_thread(NULL);
	pkt_pool_destroy(pool);
	return 0;
}

/* Frames come out as packets with their bytes, and go straight back to
 * the fill ring as frame bases, in one burst. */
static void test_rx_copies_and_recycles(void **state)
{
	uint8_t data[3][100];
	struct pkt *pkts[PKT_BURST];
	uint64_t back[8];
	uint16_t n;

	(void)state;
	for (int i = 0; i < 3; i++) {
		memset(data[i], 0xa0 + i, sizeof(data[i]));
		kernel_rx(5 + (uint32_t)i, HEADROOM, data[i], 60 + (uint32_t)i);
	}
	n = afxdp_rx_burst(port, 0, pkts, PKT_BURST);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pkts[i]->len, 60 + i);
		assert_int_equal(pkts[i]->in_port, 3);
		assert_memory_equal(pkts[i]->data, data[i], 60 + (size_t)i);
	}
	pkt_free_bulk(pkts, n);
	assert_int_equal(f_rx.consumer, 3);
	assert_int_equal(kernel_take_fill(back, 8), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(back[i], FRAME(5 + i));
	assert_int_equal(port->rxq_stats[0].packets, 3);
	assert_int_equal(port->rxq_stats[0].bytes, 60 + 61 + 62);
	/* Nothing pending: no packet, no wakeup (copy mode never asks). */
	assert_int_equal(afxdp_rx_burst(port, 0, pkts, PKT_BURST), 0);
	assert_int_equal(q->rx_c[AFXDP_C_RX_WAKEUPS], 0);
}

/* A descriptor outside the rx frames is counted and never recycled, so
 * it cannot end up in the fill ring and the tx free list at once. */
static void test_rx_bad_desc(void **state)
{
	struct pkt *pkts[PKT_BURST];
	uint64_t back[8];

	(void)state;
	kernel_rx(AFXDP_RX_FRAMES + 2, HEADROOM, NULL, 64);	/* a tx frame */
	kernel_rx(7, AFXDP_FRAME_SIZE - 10, NULL, 64);		/* runs past its frame */
	kernel_rx(9, HEADROOM, NULL, 64);
	assert_int_equal(afxdp_rx_burst(port, 0, pkts, PKT_BURST), 1);
	pkt_free(pkts[0]);
	assert_int_equal(port->rxq_stats[0].drops[PORT_DROP_RX_BAD], 2);
	assert_int_equal(kernel_take_fill(back, 8), 1);
	assert_int_equal(back[0], FRAME(9));
}

/* With the pool empty the frames still go back (the ring must not stall)
 * and every lost frame is counted. */
static void test_rx_no_buffer(void **state)
{
	struct pkt *hold[64], *pkts[PKT_BURST];
	uint16_t held = pkt_alloc_bulk(hold, 63);
	uint64_t back[8];

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		kernel_rx(20 + i, HEADROOM, NULL, 64);
	assert_int_equal(afxdp_rx_burst(port, 0, pkts, PKT_BURST), 1);
	assert_int_equal(port->rxq_stats[0].drops[PORT_DROP_RX_NO_BUF], 3);
	assert_int_equal(kernel_take_fill(back, 8), 4);
	pkt_free(pkts[0]);
	pkt_free_bulk(hold, held);
}

/* When the fill ring asks for a wakeup, an empty poll kicks once. */
static void test_rx_need_wakeup(void **state)
{
	struct pkt *pkts[PKT_BURST];

	(void)state;
	f_fill.flags = XDP_RING_NEED_WAKEUP;
	assert_int_equal(afxdp_rx_burst(port, 0, pkts, PKT_BURST), 0);
	assert_int_equal(q->rx_c[AFXDP_C_RX_WAKEUPS], 1);
	f_fill.flags = 0;
}

static struct pkt *mkpkt(uint16_t len, uint8_t fill)
{
	struct pkt *p = pkt_alloc();

	assert_non_null(p);
	memset(p->data, fill, len);
	p->len = len;
	return p;
}

/* Packets become tx descriptors in tx frames, with their bytes; oversize
 * frames are dropped as tx_too_big; the kernel is kicked only when the
 * ring asks for it. */
static void test_tx(void **state)
{
	struct pkt *pkts[3] = { mkpkt(64, 1), mkpkt(1600, 2), mkpkt(1518, 3) };
	struct xdp_desc done[8];

	(void)state;
	assert_int_equal(afxdp_tx_burst(port, 0, pkts, 3), 2);
	assert_int_equal(port->txq_stats[0].drops[PORT_DROP_TX_TOO_BIG], 1);
	assert_int_equal(port->txq_stats[0].packets, 2);
	assert_int_equal(port->txq_stats[0].bytes, 64 + 1518);
	assert_int_equal(q->tx_c[AFXDP_C_TX_WAKEUPS], 0);
	assert_int_equal(kernel_tx(done, 8), 2);
	for (int i = 0; i < 2; i++) {
		uint8_t want[1518];
		uint32_t len = i ? 1518 : 64;

		assert_true(done[i].addr >= FRAME(AFXDP_RX_FRAMES));
		assert_true(done[i].addr < FRAME(AFXDP_N_FRAMES));
		assert_int_equal(done[i].len, len);
		memset(want, i ? 3 : 1, len);
		assert_memory_equal(q->area + done[i].addr, want, len);
	}
	assert_int_equal(q->n_tx_free, AFXDP_TX_FRAMES - 2);

	f_tx.flags = XDP_RING_NEED_WAKEUP;
	pkts[0] = mkpkt(64, 4);
	assert_int_equal(afxdp_tx_burst(port, 0, pkts, 1), 1);
	assert_int_equal(q->tx_c[AFXDP_C_TX_WAKEUPS], 1);
	assert_int_equal(q->tx_c[AFXDP_C_TX_KICK_ERR], 1);	/* fd -1: EBADF */
	f_tx.flags = 0;
	assert_int_equal(kernel_tx(done, 8), 1);
}

/* Back to every tx frame free and empty tx/completion rings. */
static void tx_reset(void)
{
	f_tx.producer = f_tx.consumer = f_comp.producer = f_comp.consumer = 0;
	q->tx.cached_prod = 0;
	q->tx.cached_cons = AFXDP_TX_FRAMES;
	q->comp.cached_prod = q->comp.cached_cons = 0;
	for (uint32_t i = 0; i < AFXDP_TX_FRAMES; i++)
		q->tx_free[i] = FRAME(AFXDP_RX_FRAMES + i);
	q->n_tx_free = AFXDP_TX_FRAMES;
	memset(&port->txq_stats[0], 0, sizeof(port->txq_stats[0]));
}

/* Out of free frames, a burst is tx_queue_full; completions make the
 * frames free again on the next burst, reaped in one go. */
static void test_tx_full_then_reap(void **state)
{
	static struct xdp_desc done[AFXDP_TX_FRAMES];
	struct pkt *pkts[PKT_BURST];

	(void)state;
	tx_reset();
	/* Every frame in flight, none completed. */
	for (uint32_t b = 0; b < AFXDP_TX_FRAMES / PKT_BURST; b++) {
		for (uint16_t i = 0; i < PKT_BURST; i++)
			pkts[i] = mkpkt(64, 5);
		assert_int_equal(afxdp_tx_burst(port, 0, pkts, PKT_BURST), PKT_BURST);
	}
	assert_int_equal(q->n_tx_free, 0);
	for (uint16_t i = 0; i < 3; i++)
		pkts[i] = mkpkt(64, 6);
	assert_int_equal(afxdp_tx_burst(port, 0, pkts, 3), 0);
	assert_int_equal(port->txq_stats[0].drops[PORT_DROP_TX_FULL], 3);
	/* The kernel sends and completes everything. */
	assert_int_equal(kernel_tx(done, AFXDP_TX_FRAMES), AFXDP_TX_FRAMES);
	for (uint16_t i = 0; i < 4; i++)
		pkts[i] = mkpkt(64, 7);
	assert_int_equal(afxdp_tx_burst(port, 0, pkts, 4), 4);
	assert_int_equal(q->n_tx_free, AFXDP_TX_FRAMES - 4);
	assert_int_equal(f_comp.consumer, f_comp.producer);
	assert_int_equal(kernel_tx(done, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(q->area[done[i].addr], 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rx_copies_and_recycles),
		cmocka_unit_test(test_rx_bad_desc),
		cmocka_unit_test(test_rx_no_buffer),
		cmocka_unit_test(test_rx_need_wakeup),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_tx_full_then_reap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
