/*
 * afxdp ports, the datapath half: rx and tx bursts on AF_XDP rings.
 *
 * Packets are copied between UMEM frames and our struct pkt buffers in both
 * directions (docs/DESIGN.md, "AF_XDP ports", says why). Each burst touches
 * every ring once: rx peeks up to n descriptors, copies, hands the same
 * frames straight back to the fill ring and releases the rx ring; tx reaps
 * the completion ring only when it is short of free frames, reserves, copies,
 * submits, and kicks the kernel with sendto() only when the tx ring says it
 * needs a wakeup (XDP_USE_NEED_WAKEUP; copy mode always does).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "port_afxdp.h"

#define FRAME_MASK	((uint64_t)AFXDP_FRAME_SIZE - 1)
#define RX_AREA		((uint64_t)AFXDP_RX_FRAMES * AFXDP_FRAME_SIZE)
#define TX_AREA_END	((uint64_t)AFXDP_N_FRAMES * AFXDP_FRAME_SIZE)

/* The driver stopped for lack of fill-ring buffers (zero-copy drivers set
 * the flag; copy mode never does): a recvfrom() restarts it. */
static __cold void rx_kick(struct afxdp_q *q)
{
	recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	COUNTER_ADD(q->rx_c[AFXDP_C_RX_WAKEUPS], 1);
}

uint16_t afxdp_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct afxdp_q *q = ((struct afxdp *)port->priv)->q[qid];
	struct port_qstats *st = &port->rxq_stats[qid];
	uint32_t got, idx_rx, idx_fill = 0, n_fill = 0, n_pkt, bad = 0;
	uint64_t bytes = 0;
	uint16_t out = 0;

	got = xsk_ring_cons__peek(&q->rx, MIN(n, PKT_BURST), &idx_rx);
	if (!got) {
		if (unlikely(xsk_ring_prod__needs_wakeup(&q->fill)))
			rx_kick(q);
		return 0;
	}
	n_pkt = pkt_alloc_bulk(pkts, (uint16_t)got);
	/* Cannot fail: the fill ring is as big as the rx share of the UMEM,
	 * and these `got` frames are out of it. */
	xsk_ring_prod__reserve(&q->fill, got, &idx_fill);
	for (uint32_t i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx_rx + i);
		uint64_t base = d->addr & ~FRAME_MASK;
		uint32_t len = d->len;

		/* The kernel is trusted, but a descriptor outside our rx
		 * frames would corrupt the tx side: count it, never
		 * recycle it (the frame is lost, not reused twice). */
		if (unlikely(base >= RX_AREA || (d->addr & FRAME_MASK) + len > AFXDP_FRAME_SIZE)) {
			bad++;
			continue;
		}
		*xsk_ring_prod__fill_addr(&q->fill, idx_fill + n_fill++) = base;
		if (unlikely(out >= n_pkt))
			continue;		/* counted as rx_no_pkt_buffer below */
		if (i + 1 < got)
			prefetch0(q->area + xsk_ring_cons__rx_desc(&q->rx, idx_rx + i + 1)->addr);
		memcpy(pkts[out]->data, q->area + d->addr, len);
		pkts[out]->len = (uint16_t)len;
		pkts[out]->in_port = port->id;
		bytes += len;
		out++;
	}
	xsk_ring_cons__release(&q->rx, got);
	/* Give back the reservation of frames we refused to recycle. */
	q->fill.cached_prod -= got - n_fill;
	xsk_ring_prod__submit(&q->fill, n_fill);
	if (unlikely(out < n_pkt))
		pkt_free_bulk(pkts + out, (uint16_t)(n_pkt - out));
	if (unlikely(bad))
		COUNTER_ADD(st->drops[PORT_DROP_RX_BAD], bad);
	if (unlikely(got - bad > n_pkt))
		COUNTER_ADD(st->drops[PORT_DROP_RX_NO_BUF], got - bad - out);
	if (likely(out)) {
		COUNTER_ADD(st->packets, out);
		COUNTER_ADD(st->bytes, bytes);
	}
	return out;
}

/* Completed tx frames back onto the free stack, all that are ready. */
static void tx_reap(struct afxdp_q *q)
{
	uint32_t idx, done = xsk_ring_cons__peek(&q->comp, AFXDP_TX_FRAMES, &idx);

	for (uint32_t i = 0; i < done; i++) {
		uint64_t addr = *xsk_ring_cons__comp_addr(&q->comp, idx + i) & ~FRAME_MASK;

		/* Same rule as rx: never let a stray address in twice. */
		if (likely(addr >= RX_AREA && addr < TX_AREA_END && q->n_tx_free < AFXDP_TX_FRAMES))
			q->tx_free[q->n_tx_free++] = addr;
	}
	if (done)
		xsk_ring_cons__release(&q->comp, done);
}

static __cold void tx_kick(struct afxdp_q *q)
{
	/* EAGAIN/EBUSY: the kernel sent a batch and left the rest for the
	 * next kick; ENOBUFS: no skb right now. Frames stay in the ring. */
	if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR)
		COUNTER_ADD(q->tx_c[AFXDP_C_TX_KICK_ERR], 1);
	COUNTER_ADD(q->tx_c[AFXDP_C_TX_WAKEUPS], 1);
}

uint16_t afxdp_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct afxdp *a = port->priv;
	struct afxdp_q *q = a->q[qid % a->n_q];
	struct port_qstats *st = &port->txq_stats[qid % PORT_MAX_QUEUES];
	uint32_t max = __atomic_load_n(&a->tx_max, __ATOMIC_RELAXED);
	uint32_t room, idx = 0, sent = 0, big = 0, full;
	uint64_t bytes = 0;

	if (q->tx_shared)
		port_txq_lock(&q->tx_lock);
	if (q->n_tx_free < n)
		tx_reap(q);
	room = MIN(n, q->n_tx_free);
	/* Cannot fail either: every frame not on the free stack occupies a
	 * tx or completion slot, so the tx ring has room for the free ones. */
	xsk_ring_prod__reserve(&q->tx, room, &idx);
	for (uint32_t i = 0; i < n && sent < room; i++) {
		const struct pkt *p = pkts[i];
		struct xdp_desc *d;

		if (unlikely(p->len > max)) {
			big++;
			continue;
		}
		d = xsk_ring_prod__tx_desc(&q->tx, idx + sent++);
		d->addr = q->tx_free[--q->n_tx_free];
		d->len = p->len;
		memcpy(q->area + d->addr, p->data, p->len);
		bytes += p->len;
	}
	q->tx.cached_prod -= room - sent;
	if (likely(sent)) {
		xsk_ring_prod__submit(&q->tx, sent);
		if (xsk_ring_prod__needs_wakeup(&q->tx))
			tx_kick(q);
	}
	if (q->tx_shared)
		port_txq_unlock(&q->tx_lock);
	pkt_free_bulk(pkts, n);
	full = n - sent - big;
	if (unlikely(full))
		COUNTER_ADD(st->drops[PORT_DROP_TX_FULL], full);
	if (unlikely(big))
		COUNTER_ADD(st->drops[PORT_DROP_TX_TOO_BIG], big);
	if (likely(sent)) {
		COUNTER_ADD(st->packets, sent);
		COUNTER_ADD(st->bytes, bytes);
	}
	return (uint16_t)sent;
}
