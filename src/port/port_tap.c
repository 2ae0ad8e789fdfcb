/*
 * tap ports: `add-port NAME tap dev=IFNAME`. Opens /dev/net/tun with
 * IFF_TAP | IFF_NO_PI, creating the device or attaching to an existing tap
 * of that name, and brings it up. One rx queue (the fd, level-triggered for
 * epoll); tx from any PMD writes the same fd, which the kernel serialises.
 *
 * A tap we created vanishes when its fd closes (it is not made persistent),
 * so a failed add-port or a del-port leaves nothing behind; an existing tap
 * we attached to is left as we found it.
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "port.h"
#include "port_netdev.h"

struct tap {
	int fd;
	bool created;
	char dev[IFNAMSIZ];
};

static uint16_t tap_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct tap *t = port->priv;
	struct port_qstats *st = &port->rxq_stats[qid];
	uint64_t bytes = 0;
	uint16_t got = 0;

	while (got < n) {
		struct pkt *p = pkt_alloc();
		ssize_t r;

		if (unlikely(!p)) {
			COUNTER_ADD(st->drops[PORT_DROP_RX_NO_BUF], 1);
			break;
		}
		r = read(t->fd, p->data, PKT_DATA_MAX);
		if (r <= 0) {
			pkt_free(p);
			/* EIO: the interface is down; nothing to read. */
			if (r < 0 && errno != EAGAIN && errno != EINTR && errno != EIO) {
				COUNTER_ADD(st->drops[PORT_DROP_RX_BAD], 1);
				LOG_RL(LOG_WARN, "tap", "%s: read: %s", port->name, strerror(errno));
			}
			break;
		}
		p->len = (uint16_t)r;
		p->in_port = port->id;
		bytes += (uint64_t)r;
		pkts[got++] = p;
	}
	if (got) {
		COUNTER_ADD(st->packets, got);
		COUNTER_ADD(st->bytes, bytes);
	}
	return got;
}

static uint16_t tap_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct tap *t = port->priv;
	struct port_qstats *st = &port->txq_stats[qid];
	uint64_t bytes = 0;
	uint16_t sent = 0, full = 0, down = 0, errs = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct pkt *p = pkts[i];
		ssize_t r = write(t->fd, p->data, p->len);

		if (likely(r == p->len)) {
			sent++;
			bytes += p->len;
		} else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			full++;
		} else if (r < 0 && errno == EIO) {
			down++;		/* the interface is down */
		} else {
			errs++;
		}
		pkt_free(p);
	}
	COUNTER_ADD(st->packets, sent);
	COUNTER_ADD(st->bytes, bytes);
	if (unlikely(full))
		COUNTER_ADD(st->drops[PORT_DROP_TX_FULL], full);
	if (unlikely(down))
		COUNTER_ADD(st->drops[PORT_DROP_TX_NOT_READY], down);
	if (unlikely(errs))
		COUNTER_ADD(st->drops[PORT_DROP_TX_ERROR], errs);
	return sent;
}

static int tap_rxq_notify_fd(struct port *port, uint16_t qid)
{
	(void)qid;
	return ((struct tap *)port->priv)->fd;
}

/* A tap whose device was moved into another network namespace (the usual
 * way to give a namespace or container its end) is still ours through the
 * fd, but its name no longer resolves here. */
static bool tap_elsewhere(const struct tap *t)
{
	return netdev_get_flags(t->dev) == -ENODEV;
}

static void tap_show(struct port *port, json_t *obj)
{
	struct tap *t = port->priv;

	netdev_show(t->dev, obj);
	if (tap_elsewhere(t)) {
		json_object_set_new(obj, "link", json_string("up (device in another network namespace)"));
		json_object_del(obj, "ifindex");
	}
	json_object_set_new(obj, "created", json_boolean(t->created));
}

static bool tap_link_up(struct port *port)
{
	struct tap *t = port->priv;

	/* In another namespace its state is not ours to read; the fd is
	 * attached and frames flow, so the port is up. */
	return netdev_link_up(t->dev) || tap_elsewhere(t);
}

static void tap_close(struct port *port)
{
	struct tap *t = port->priv;

	if (t) {
		if (t->fd >= 0)
			close(t->fd);
		free(t);
	}
	port_free(port);
}

static const struct port_ops tap_ops = {
	.rx_burst = tap_rx_burst,
	.tx_burst = tap_tx_burst,
	.rxq_notify_fd = tap_rxq_notify_fd,
	.show = tap_show,
	.link_up = tap_link_up,
	.close = tap_close,
};

static struct port *tap_create(const char *name, int argc, char **argv, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	struct port *port;
	struct tap *t;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	t->fd = -1;
	rc = netdev_parse_args(argc, argv, t->dev, sizeof(t->dev), err, errlen);
	if (rc)
		goto err_free;
	t->created = if_nametoindex(t->dev) == 0;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		goto err_free;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->dev);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		if (errno == EINVAL && !t->created)
			snprintf(err, errlen, "dev=%s: exists and is not a tap device", t->dev);
		else if (errno == EBUSY)
			snprintf(err, errlen, "dev=%s: tap busy (attached elsewhere)", t->dev);
		else
			snprintf(err, errlen, "dev=%s: %s", t->dev, strerror(errno));
		goto err_close;
	}
	rc = netdev_set_up(t->dev);
	if (rc) {
		snprintf(err, errlen, "dev=%s: cannot bring up: %s", t->dev, strerror(-rc));
		goto err_close;
	}
	port = port_alloc(name, "tap", &tap_ops);
	if (!port) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_close;
	}
	port->priv = t;
	port->n_rxq = 1;
	port->n_txq = 1;
	LOG(LOG_INFO, "tap", "%s: %s tap %s", name, t->created ? "created" : "attached to", t->dev);
	return port;

err_close:
	/* Closing the fd removes a tap we created (never made persistent). */
	close(t->fd);
err_free:
	free(t);
	errno = -rc;
	return NULL;
}

static struct port_kind tap_kind = {
	.name = "tap",
	.usage = "dev=IFNAME",
	.create = tap_create,
};

static void __attribute__((constructor)) tap_register(void)
{
	port_kind_register(&tap_kind);
}
