/*
 * af_packet ports: `add-port NAME af_packet dev=IFNAME`. A SOCK_RAW packet
 * socket bound to the interface, promiscuous, deaf to its own transmissions
 * (PACKET_IGNORE_OUTGOING), moving bursts with recvmmsg/sendmmsg. One rx
 * queue (the socket, level-triggered for epoll); tx from any PMD uses the
 * same socket, which the kernel serialises.
 *
 * Limits: VLAN tags the NIC stripped (rx-vlan offload) arrive in the
 * socket's auxdata, which we do not read yet, so tagged frames lose their
 * tag on such devices (veth and tap keep tags in the frame).
 */
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port.h"
#include "port_netdev.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define AFP_SOCKBUF	(4 << 20)

struct afp {
	int fd;
	int ifindex;
	char dev[IFNAMSIZ];
};

static uint16_t afp_rx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct afp *a = port->priv;
	struct port_qstats *st = &port->rxq_stats[qid];
	struct mmsghdr msgs[PKT_BURST];
	struct iovec iov[PKT_BURST];
	uint64_t bytes = 0;
	uint16_t got = 0, big = 0;
	int r;

	n = pkt_alloc_bulk(pkts, MIN(n, PKT_BURST));
	if (unlikely(!n)) {
		COUNTER_ADD(st->drops[PORT_DROP_RX_NO_BUF], 1);
		return 0;
	}
	for (uint16_t i = 0; i < n; i++) {
		iov[i].iov_base = pkts[i]->data;
		iov[i].iov_len = PKT_DATA_MAX;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* MSG_TRUNC: packet sockets then report a frame's real length. */
	r = recvmmsg(a->fd, msgs, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (r <= 0) {
		/* ENETDOWN and friends are reported once per event and
		 * cleared by this read; they are not the peer's fault. */
		if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ENETDOWN) {
			COUNTER_ADD(st->drops[PORT_DROP_RX_BAD], 1);
			LOG_RL(LOG_WARN, "af_packet", "%s: recvmmsg: %s", port->name, strerror(errno));
		}
		pkt_free_bulk(pkts, n);
		return 0;
	}
	for (int i = 0; i < r; i++) {
		struct pkt *p = pkts[i];
		unsigned len = msgs[i].msg_len;

		if (unlikely(len > PKT_DATA_MAX || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC))) {
			big++;
			pkt_free(p);
			continue;
		}
		p->len = (uint16_t)len;
		p->in_port = port->id;
		bytes += len;
		pkts[got++] = p;
	}
	pkt_free_bulk(pkts + r, (uint16_t)(n - r));
	if (unlikely(big))
		COUNTER_ADD(st->drops[PORT_DROP_RX_TOO_BIG], big);
	if (got) {
		COUNTER_ADD(st->packets, got);
		COUNTER_ADD(st->bytes, bytes);
	}
	return got;
}

static uint16_t afp_tx_burst(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct afp *a = port->priv;
	struct port_qstats *st = &port->txq_stats[qid];
	struct mmsghdr msgs[PKT_BURST];
	struct iovec iov[PKT_BURST];
	uint64_t bytes = 0;
	uint16_t sent = 0, full = 0, down = 0, errs = 0, done = 0;

	n = MIN(n, PKT_BURST);
	for (uint16_t i = 0; i < n; i++) {
		iov[i].iov_base = pkts[i]->data;
		iov[i].iov_len = pkts[i]->len;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < n) {
		int r = sendmmsg(a->fd, msgs + done, n - done, MSG_DONTWAIT);

		if (r > 0) {
			for (int i = 0; i < r; i++)
				bytes += pkts[done + i]->len;
			sent += (uint16_t)r;
			done += (uint16_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* The socket is full: the rest of the burst cannot go. */
			full += (uint16_t)(n - done);
			break;
		}
		if (r < 0 && (errno == ENETDOWN || errno == ENXIO)) {
			down += (uint16_t)(n - done);
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* This frame was refused (too big, link gone): skip it. */
		LOG_RL(LOG_WARN, "af_packet", "%s: sendmmsg: %s", port->name,
		       r < 0 ? strerror(errno) : "sent nothing");
		errs++;
		done++;
	}
	pkt_free_bulk(pkts, n);
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

static int afp_rxq_notify_fd(struct port *port, uint16_t qid)
{
	(void)qid;
	return ((struct afp *)port->priv)->fd;
}

static void afp_show(struct port *port, json_t *obj)
{
	netdev_show(((struct afp *)port->priv)->dev, obj);
	json_object_set_new(obj, "promisc", json_true());
}

static bool afp_link_up(struct port *port)
{
	return netdev_link_up(((struct afp *)port->priv)->dev);
}

static void afp_close(struct port *port)
{
	struct afp *a = port->priv;

	if (a) {
		/* Closing the socket also drops its promiscuous membership. */
		if (a->fd >= 0)
			close(a->fd);
		free(a);
	}
	port_free(port);
}

static const struct port_ops afp_ops = {
	.rx_burst = afp_rx_burst,
	.tx_burst = afp_tx_burst,
	.rxq_notify_fd = afp_rxq_notify_fd,
	.show = afp_show,
	.link_up = afp_link_up,
	.close = afp_close,
};

static int afp_open(struct afp *a, char *err, size_t errlen)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = a->ifindex,
	};
	struct packet_mreq mr = { .mr_ifindex = a->ifindex, .mr_type = PACKET_MR_PROMISC };
	int one = 1, buf = AFP_SOCKBUF;

	/* Protocol 0 until bound: the socket sees no traffic from other
	 * interfaces in between. */
	a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		snprintf(err, errlen, "socket(AF_PACKET): %s", strerror(errno));
		return -errno;
	}
	if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "dev=%s: bind: %s", a->dev, strerror(errno));
		return -errno;
	}
	if (setsockopt(a->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		snprintf(err, errlen, "dev=%s: promiscuous mode: %s", a->dev, strerror(errno));
		return -errno;
	}
	if (setsockopt(a->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "dev=%s: PACKET_IGNORE_OUTGOING (Linux ≥ 4.20): %s", a->dev,
			 strerror(errno));
		return -errno;
	}
	/* Bigger buffers absorb bursts while a PMD sleeps; FORCE needs
	 * CAP_NET_ADMIN, which we have when we got this far. Best effort. */
	if (setsockopt(a->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(a->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(a->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(a->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return 0;
}

static struct port *afp_create(const char *name, int argc, char **argv, char *err, size_t errlen)
{
	struct port *port;
	struct afp *a;
	int rc;

	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->fd = -1;
	rc = netdev_parse_args(argc, argv, a->dev, sizeof(a->dev), err, errlen);
	if (rc)
		goto err_free;
	a->ifindex = (int)if_nametoindex(a->dev);
	if (!a->ifindex) {
		rc = -errno;
		snprintf(err, errlen, "dev=%s: %s", a->dev, strerror(errno));
		goto err_free;
	}
	rc = afp_open(a, err, errlen);
	if (rc)
		goto err_close;
	port = port_alloc(name, "af_packet", &afp_ops);
	if (!port) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_close;
	}
	port->priv = a;
	port->n_rxq = 1;
	port->n_txq = 1;
	LOG(LOG_INFO, "af_packet", "%s: bound to %s (ifindex %d)", name, a->dev, a->ifindex);
	return port;

err_close:
	if (a->fd >= 0)
		close(a->fd);
err_free:
	free(a);
	errno = -rc;
	return NULL;
}

static struct port_kind afp_kind = {
	.name = "af_packet",
	.usage = "dev=IFNAME",
	.create = afp_create,
};

static void __attribute__((constructor)) afp_register(void)
{
	port_kind_register(&afp_kind);
}
