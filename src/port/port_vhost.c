/*
 * The `vhost-user` port kind: a vhost device (src/vhost) behind the port
 * interface.
 *
 *   add-port NAME vhost-user path=SOCK [client] [queues=N]
 *
 * Queue mapping. Port rx queue q is the guest's TX vq 2q+1, polled by one
 * PMD, so rx needs no lock. Transmit is called with the PMD's index; it maps
 * onto the guest RX queues that are ready right now (qid % n_ready), so a
 * guest that enabled fewer queue pairs than we offered still gets traffic
 * from every PMD. Several PMDs may then share one guest RX vq: each burst
 * takes that vq's spinlock once (uncontended when PMDs ≤ ready queues).
 *
 * Thread-safety: bursts and notify ops run on PMDs between quiescent states
 * (they read dev->mem and the vq state the vhost side publishes, see
 * vhost.h); create/close/show/stats/link_up on the control thread.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "../vhost/vhost.h"
#include "port.h"

struct vhost_port {
	struct vhost_dev *dev;
	/* Never written: the fd a PMD sleeps on for a queue the guest has
	 * not started yet, so an unconnected port does not force polling.
	 * pmd_reconfigure() swaps in the kick fd when the queue starts. */
	int idle_efd;
	bool link_up;		/* as last seen by vhost_port_changed */
	uint32_t live_mask;	/* the device's live vqs, ditto */
};

static inline struct vhost_dev *port_dev(struct port *port)
{
	return ((struct vhost_port *)port->priv)->dev;
}

/*
 * After a live migration the destination QEMU asks for an announcement
 * (SEND_RARP) because the guest does not make one itself (no
 * VIRTIO_NET_F_GUEST_ANNOUNCE). We receive it as if the guest had sent it: a
 * broadcast RARP request from the guest's MAC, as QEMU's own announce builds,
 * so the bridge and every switch behind it learn the MAC on this port before
 * the guest says anything. Returns the packets put in pkts (0 or 1).
 */
static uint16_t vhost_rarp_take(struct vhost_dev *dev, struct pkt **pkts)
{
	static const uint8_t arp[10] = { 0x80, 0x35, 0, 1, 0x08, 0x00, 6, 4, 0, 3 };
	uint8_t mac[6];
	struct pkt *p;

	if (!vhost_dev_take_rarp(dev, mac))
		return 0;
	p = pkt_alloc();
	if (unlikely(!p))
		return 0;
	memset(p->data, 0, 60);
	memset(p->data, 0xff, 6);
	memcpy(p->data + 6, mac, 6);
	memcpy(p->data + 12, arp, sizeof(arp));	/* ethertype, htype, ptype, hlen, plen, op */
	memcpy(p->data + 22, mac, 6);			/* sender MAC, sender IP 0 */
	memcpy(p->data + 32, mac, 6);			/* target MAC, target IP 0 */
	p->len = 60;
	pkts[0] = p;
	return 1;
}

static uint16_t vhost_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct vhost_dev *dev = port_dev(port);
	struct vq *vq = vhost_vq_get(dev, (uint16_t)(2 * qid + 1));
	const struct guest_mem *mem;
	uint64_t bytes = 0;
	uint16_t got, rarp = 0;

	if (unlikely(!vq_ready(vq))) {
		if (unlikely(vq_is_broken(vq)))
			vhost_dev_report_broken(dev);
		return 0;
	}
	mem = rcu_dereference(dev->mem);
	if (unlikely(!mem))
		return 0;
	if (unlikely(qid == 0 && __atomic_load_n(&dev->rarp_pending, __ATOMIC_RELAXED)))
		rarp = vhost_rarp_take(dev, pkts);
	got = (uint16_t)(rarp + vq_dequeue_burst(vq, mem, pkts + rarp, (uint16_t)(n - rarp)));
	if (unlikely(vq_is_broken(vq)))
		vhost_dev_report_broken(dev);
	if (!got)
		return 0;
	for (uint16_t i = 0; i < got; i++) {
		pkts[i]->in_port = port->id;
		bytes += pkts[i]->len;
	}
	COUNTER_ADD(port->rxq_stats[qid].packets, got);
	COUNTER_ADD(port->rxq_stats[qid].bytes, bytes);
	return got;
}

/* The ready guest RX queue pair PMD qid sends to, or -1. */
static inline int tx_pair(uint32_t mask, uint16_t qid)
{
	unsigned k;

	if (!mask)
		return -1;
	k = qid % (unsigned)__builtin_popcount(mask);
	while (k--)
		mask &= mask - 1;	/* drop the lowest set bit */
	return __builtin_ctz(mask);
}

static uint16_t vhost_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct vhost_dev *dev = port_dev(port);
	struct port_qstats *st = &port->txq_stats[qid % PORT_MAX_QUEUES];
	int qp = tx_pair(__atomic_load_n(&dev->rx_ready_mask, __ATOMIC_ACQUIRE), qid);
	const struct guest_mem *mem;
	struct vhost_vq *vv;
	uint64_t bytes = 0;
	uint16_t sent = 0;

	if (unlikely(qp < 0)) {
		COUNTER_ADD(st->drops[PORT_DROP_TX_NOT_READY], n);
		pkt_free_bulk(pkts, n);
		return 0;
	}
	vv = &dev->vqs[2 * qp];
	mem = rcu_dereference(dev->mem);
	port_txq_lock(&vv->tx_lock);
	if (likely(mem != NULL))
		sent = vq_enqueue_burst(&vv->vq, mem, pkts, n);
	port_txq_unlock(&vv->tx_lock);
	for (uint16_t i = 0; i < sent; i++)
		bytes += pkts[i]->len;
	if (unlikely(sent < n)) {
		bool ready = vq_ready(&vv->vq);

		COUNTER_ADD(st->drops[ready ? PORT_DROP_TX_FULL : PORT_DROP_TX_NOT_READY],
			    n - sent);
		if (unlikely(vq_is_broken(&vv->vq)))
			vhost_dev_report_broken(dev);
	}
	if (sent) {
		COUNTER_ADD(st->packets, sent);
		COUNTER_ADD(st->bytes, bytes);
	}
	pkt_free_bulk(pkts, n);
	return sent;
}

static int vhost_rxq_notify_fd(struct port *port, uint16_t qid)
{
	struct vhost_port *vp = port->priv;
	uint16_t idx = (uint16_t)(2 * qid + 1);
	int fd = vhost_vq_kickfd(vp->dev, idx);

	if (fd >= 0)
		return fd;
	/* A live queue without a kick fd (NOFD) can only be polled. */
	if (vq_ready(vhost_vq_get(vp->dev, idx)))
		return -1;
	return vp->idle_efd;
}

static bool vhost_rxq_notify(struct port *port, uint16_t qid, bool enable)
{
	struct vq *vq = vhost_vq_get(port_dev(port), (uint16_t)(2 * qid + 1));

	if (!vq_ready(vq))
		return false;
	return vq_kick_enable(vq, enable);
}

static void vhost_port_stats(struct port *port, struct port_stats *st, json_t *extra)
{
	struct vhost_dev *dev = port_dev(port);

	for (unsigned i = 0; i < VHOST_MAX_VQS; i++)
		st->drops[PORT_DROP_RX_TOO_BIG] +=
			__atomic_load_n(&dev->vqs[i].vq.n_drop_too_big, __ATOMIC_RELAXED);
	if (extra)
		vhost_dev_stats(dev, extra);
}

static void vhost_port_show(struct port *port, json_t *obj)
{
	vhost_dev_show(port_dev(port), obj);
}

static bool vhost_port_link_up(struct port *port)
{
	return vhost_dev_link_up(port_dev(port));
}

/* The device changed (connect, disconnect, rings started or stopped; after
 * the grace period of any stop). A link that went down is reported so the
 * bridge forgets the MACs it learned here: after a live migration the source
 * QEMU stops its rings (GET_VRING_BASE) before the destination starts. The
 * link is down once the guest's rx queue stops, but its tx queue may still
 * hand us frames until it stops too (QEMU stops vq 0 first): each further
 * stop while down is reported again, so what they taught is forgotten too. */
static void vhost_port_changed(struct vhost_dev *dev, void *arg)
{
	struct port *port = arg;
	struct vhost_port *vp = port->priv;
	bool up = vhost_dev_link_up(dev);
	uint32_t live = dev->live_mask;

	if (!up && (vp->link_up || (vp->live_mask & ~live)))
		port_link_down(port);
	vp->link_up = up;
	vp->live_mask = live;
}

static void vhost_port_close(struct port *port)
{
	struct vhost_port *vp = port->priv;

	vp->dev->on_change = NULL;	/* it is going; nothing to report */
	vhost_dev_destroy(vp->dev);
	close(vp->idle_efd);
	free(vp);
	port_free(port);
}

static const struct port_ops vhost_port_ops = {
	.rx_burst = vhost_rx_burst,
	.tx_burst = vhost_tx_burst,
	.rxq_notify_fd = vhost_rxq_notify_fd,
	.rxq_notify = vhost_rxq_notify,
	.stats = vhost_port_stats,
	.show = vhost_port_show,
	.link_up = vhost_port_link_up,
	.close = vhost_port_close,
};

static struct port *vhost_port_create(const char *name, int argc, char **argv,
				      char *err, size_t errlen)
{
	const char *path = NULL;
	unsigned long long queues = 1;
	bool client = false;
	struct vhost_port *vp;
	struct port *port;

	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "path=", 5) && argv[i][5]) {
			path = argv[i] + 5;
		} else if (!strcmp(argv[i], "client")) {
			client = true;
		} else if (!strcmp(argv[i], "server")) {
			client = false;
		} else if (!strncmp(argv[i], "queues=", 7)) {
			if (parse_uint(argv[i] + 7, 1, VHOST_MAX_QP, &queues) < 0) {
				snprintf(err, errlen, "%s: queues must be 1..%d", argv[i],
					 VHOST_MAX_QP);
				errno = EINVAL;
				return NULL;
			}
		} else {
			snprintf(err, errlen, "unknown argument '%s' (path=SOCK [client] [queues=N])",
				 argv[i]);
			errno = EINVAL;
			return NULL;
		}
	}
	if (!path) {
		snprintf(err, errlen, "missing path=SOCK");
		errno = EINVAL;
		return NULL;
	}
	port = port_alloc(name, "vhost-user", &vhost_port_ops);
	vp = calloc(1, sizeof(*vp));
	if (!port || !vp)
		goto err_nomem;
	vp->idle_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vp->idle_efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto err_free;
	}
	vp->dev = vhost_dev_create(name, path, client, (uint16_t)queues, err, errlen);
	if (!vp->dev)
		goto err_efd;
	port->n_rxq = port->n_txq = (uint16_t)queues;
	port->priv = vp;
	vp->dev->on_change = vhost_port_changed;
	vp->dev->on_change_arg = port;
	return port;

err_nomem:
	snprintf(err, errlen, "%s", strerror(ENOMEM));
	errno = ENOMEM;
	goto err_free;
err_efd:
	{
		int e = errno;

		close(vp->idle_efd);
		errno = e;
	}
err_free:
	{
		int e = errno;

		free(vp);
		if (port)
			port_free(port);
		errno = e;
	}
	return NULL;
}

static struct port_kind vhost_kind = {
	.name = "vhost-user",
	.usage = "path=SOCK [client] [queues=N]",
	.create = vhost_port_create,
};

static void __attribute__((constructor)) vhost_kind_register(void)
{
	port_kind_register(&vhost_kind);
}
