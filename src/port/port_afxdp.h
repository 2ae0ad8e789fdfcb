/*
 * afxdp ports, private to src/port: the per-queue state shared by the
 * datapath half (port_afxdp.c: bursts) and the control half
 * (port_afxdp_setup.c: create, close, show, stats).
 *
 * One AF_XDP socket per port rx queue q, bound to device queue q, each with
 * its own UMEM. A UMEM's frames are split once at creation: the first
 * AFXDP_RX_FRAMES belong to the rx side (always either in the fill ring, in
 * the kernel, or in the rx ring: the PMD copies a frame out and puts it back
 * in the same burst), the rest to the tx side (a free stack, the tx ring and
 * the completion ring). The two sides share no state, so the PMD that polls
 * the queue owns rx without a lock, and transmitters serialise on the
 * queue's tx lock only when more PMDs than queues map onto it.
 */
#ifndef XVIO_PORT_AFXDP_H
#define XVIO_PORT_AFXDP_H

#include <net/if.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <xdp/xsk.h>

#include "port.h"

#define AFXDP_FRAME_SIZE	4096u	/* one page: aligned mode, any driver */
#define AFXDP_RX_FRAMES		2048u	/* = fill ring = rx ring */
#define AFXDP_TX_FRAMES		1024u	/* = tx ring = completion ring */
#define AFXDP_N_FRAMES		(AFXDP_RX_FRAMES + AFXDP_TX_FRAMES)
/* The kernel puts received data XDP_PACKET_HEADROOM (256) into a frame. */
#define AFXDP_FRAME_DATA_MAX	(AFXDP_FRAME_SIZE - 256u)

/* Counters the socket keeps beside the port's named drops. */
#define AFXDP_COUNTERS(X) \
	X(RX_WAKEUPS,  "rx_wakeups")   /* recvfrom kicks: the driver wanted fill-ring buffers */ \
	X(TX_WAKEUPS,  "tx_wakeups")   /* sendto kicks: the kernel asked for one (need_wakeup) */ \
	X(TX_KICK_ERR, "tx_kick_errors") /* sendto failed other than EAGAIN/EBUSY (retried) */

enum afxdp_counter {
#define X(e, s) AFXDP_C_##e,
	AFXDP_COUNTERS(X)
#undef X
	AFXDP_C_MAX
};

struct afxdp_q {
	/* rx side: only the PMD polling this queue touches it. */
	alignas(CACHE_LINE) struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	uint8_t *area;			/* the UMEM */
	int fd;
	uint64_t rx_c[AFXDP_C_MAX];	/* relaxed stores, summed by stats */

	/* tx side: under tx_lock when shared by several PMDs. */
	alignas(CACHE_LINE) struct xsk_ring_prod tx;
	struct xsk_ring_cons comp;
	uint8_t tx_lock;
	bool tx_shared;			/* more PMDs than queues: take tx_lock */
	uint32_t n_tx_free;
	uint64_t tx_c[AFXDP_C_MAX];
	uint64_t tx_free[AFXDP_TX_FRAMES];	/* frame addresses */

	/* cold, control thread */
	alignas(CACHE_LINE) struct xsk_umem *umem;
	struct xsk_socket *xsk;
	uint32_t qid;
	bool zc;			/* the kernel reports XDP_OPTIONS_ZEROCOPY */
};

enum afxdp_xdp_mode { AFXDP_XDP_NATIVE, AFXDP_XDP_SKB };

struct afxdp {
	uint16_t n_q;
	uint16_t n_dev_q;		/* the device's queues (n_q may be fewer) */
	/* Largest frame the device takes (MTU + Ethernet + one VLAN tag);
	 * refreshed by the control thread, read by transmitters. */
	uint32_t tx_max;
	int ifindex;
	enum afxdp_xdp_mode xdp_mode;	/* what the program got attached as */
	char dev[IFNAMSIZ];
	struct afxdp_q *q[PORT_MAX_QUEUES];
	/* The XDP program (control thread only). */
	struct xdp_program *xp;
	struct bpf_object *obj;
	int prog_fd, map_fd;
	int link_fd;			/* our attachment; closing it detaches */
};

uint16_t afxdp_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n);
uint16_t afxdp_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n);

#endif
