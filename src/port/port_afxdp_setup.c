/*
 * afxdp ports, the control half:
 *
 *   add-port NAME afxdp dev=IF [queues=N] [mode=auto|zc|copy] [xdp-mode=auto|native|skb]
 *
 * One AF_XDP socket and UMEM per queue (port_afxdp.h), and libxdp's default
 * AF_XDP program redirecting device queue q to socket q, which we load and
 * attach through a bpf link (prog_load). Set-up tries, in order, native XDP
 * then generic (skb) XDP (xdp-mode=auto), and on each queue zero-copy then
 * copy (mode=auto; zero-copy needs native XDP and driver support, veth has
 * none). Any failure closes every socket opened so far and the link, which
 * detaches the program, so a failed add-port, a del-port or a dead xviod
 * leaves no XDP program behind. A device that already has an XDP program
 * is refused as busy: we never share or replace someone else's.
 */
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "../pmd/pmd.h"
#include "port_afxdp.h"
#include "port_netdev.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define UMEM_SIZE	((size_t)AFXDP_N_FRAMES * AFXDP_FRAME_SIZE)
#define VLAN_ETH_HLEN	18
#define AFXDP_BUSY_TRIES	20
#define AFXDP_BUSY_WAIT_US	25000

static const char *const counter_names[AFXDP_C_MAX] = {
#define X(e, s) [AFXDP_C_##e] = s,
	AFXDP_COUNTERS(X)
#undef X
};

static const char *const xdp_mode_names[] = {
	[AFXDP_XDP_NATIVE] = "native", [AFXDP_XDP_SKB] = "skb",
};

enum bind_mode { BIND_AUTO, BIND_ZC, BIND_COPY };

struct afxdp_args {
	char dev[IFNAMSIZ];
	uint16_t queues;
	enum bind_mode bind;
	int xdp_mode;		/* -1 = auto */
};

/* libxdp and libbpf talk on stderr; their last line goes into our error
 * text instead (control thread only, like every set-up call). */
static char lib_msg[160];

static int lib_print(const char *fmt, va_list ap)
{
	char buf[sizeof(lib_msg)];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (n) {
		memcpy(lib_msg, buf, n + 1);
		LOG(LOG_DEBUG, "afxdp", "%s", buf);
	}
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return lib_print(fmt, ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return lib_print(fmt, ap);
}

static int parse_args(struct afxdp_args *a, int argc, char **argv, char *err, size_t errlen)
{
	char *end;
	int i;

	a->queues = 0;		/* all the device has */
	a->bind = BIND_AUTO;
	a->xdp_mode = -1;
	for (i = 0; i < argc; i++) {
		const char *v = strchr(argv[i], '=');

		v = v ? v + 1 : "";
		if (!strncmp(argv[i], "dev=", 4)) {
			char *one[1] = { argv[i] };
			int rc = netdev_parse_args(1, one, a->dev, sizeof(a->dev), err, errlen);

			if (rc)
				return rc;
		} else if (!strncmp(argv[i], "queues=", 7)) {
			unsigned long n = strtoul(v, &end, 10);

			if (!*v || *end || n < 1 || n > PORT_MAX_QUEUES) {
				snprintf(err, errlen, "queues=%s: expected 1-%d", v, PORT_MAX_QUEUES);
				return -EINVAL;
			}
			a->queues = (uint16_t)n;
		} else if (!strncmp(argv[i], "mode=", 5)) {
			if (!strcmp(v, "auto"))
				a->bind = BIND_AUTO;
			else if (!strcmp(v, "zc"))
				a->bind = BIND_ZC;
			else if (!strcmp(v, "copy"))
				a->bind = BIND_COPY;
			else
				goto bad_value;
		} else if (!strncmp(argv[i], "xdp-mode=", 9)) {
			if (!strcmp(v, "auto"))
				a->xdp_mode = -1;
			else if (!strcmp(v, "native"))
				a->xdp_mode = AFXDP_XDP_NATIVE;
			else if (!strcmp(v, "skb"))
				a->xdp_mode = AFXDP_XDP_SKB;
			else
				goto bad_value;
		} else {
			snprintf(err, errlen, "%s: unknown argument (dev=IF [queues=N] "
				 "[mode=auto|zc|copy] [xdp-mode=auto|native|skb])", argv[i]);
			return -EINVAL;
		}
	}
	if (!a->dev[0]) {
		snprintf(err, errlen, "missing dev=IFNAME");
		return -EINVAL;
	}
	if (a->bind == BIND_ZC && a->xdp_mode == AFXDP_XDP_SKB) {
		snprintf(err, errlen, "mode=zc needs native XDP (xdp-mode=skb is always copy)");
		return -EINVAL;
	}
	if (a->bind == BIND_ZC)
		a->xdp_mode = AFXDP_XDP_NATIVE;
	return 0;

bad_value:
	snprintf(err, errlen, "%s: unknown value (mode=auto|zc|copy, xdp-mode=auto|native|skb)",
		 argv[i]);
	return -EINVAL;
}

/* The kernel must have AF_XDP and we the right to use it: one clear line
 * now rather than an obscure failure deep in libxdp. */
static int check_af_xdp(char *err, size_t errlen)
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)
		snprintf(err, errlen, "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)");
	else if (errno == EPERM || errno == EACCES)
		snprintf(err, errlen, "AF_XDP: %s (needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF)",
			 strerror(errno));
	else
		snprintf(err, errlen, "socket(AF_XDP): %s", strerror(errno));
	return -errno;
}

/* Queues the device can bind: the smaller of its rx and tx queue counts. */
static int dev_queues(const char *dev)
{
	int n[2] = { 0, 0 };

	for (int t = 0; t < 2; t++) {
		char path[128];

		for (;; n[t]++) {
			snprintf(path, sizeof(path), "/sys/class/net/%s/queues/%s-%d", dev,
				 t ? "tx" : "rx", n[t]);
			if (access(path, F_OK))
				break;
		}
	}
	return MIN(n[0], n[1]);
}

static int dev_mtu(const char *dev)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	rc = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return rc;
}

/* The XDP program attached to ifindex (0 = none) and its mode. */
static uint32_t dev_xdp_prog(int ifindex, uint8_t *attach_mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);

	if (bpf_xdp_query(ifindex, 0, &opts))
		return 0;
	if (attach_mode)
		*attach_mode = opts.attach_mode;
	return opts.attach_mode == XDP_ATTACHED_NONE ? 0 : opts.prog_id;
}

static void q_close(struct afxdp_q *q)
{
	if (!q)
		return;
	/* The socket first: it holds the UMEM (and leaves the xskmap). */
	xsk_socket__delete(q->xsk);
	xsk_umem__delete(q->umem);
	if (q->area)
		munmap(q->area, UMEM_SIZE);
	free(q);
}

static const char *q_errmsg(int rc, const char *what, char *buf, size_t len)
{
	if (rc == -EBUSY)
		return "device busy (another AF_XDP socket is bound to this queue)";
	if (rc == -EOPNOTSUPP && !strcmp(what, "zc"))
		return "the driver has no zero-copy AF_XDP support";
	if (lib_msg[0])
		snprintf(buf, len, "%s (%s)", strerror(-rc), lib_msg);
	else
		snprintf(buf, len, "%s", strerror(-rc));
	return buf;
}

/* Open queue qid with one XDP mode and one bind mode; NULL with *rc set. */
static struct afxdp_q *q_open(const char *dev, uint32_t qid, int map_fd, bool zc, int *rc)
{
	const struct xsk_umem_config ucfg = {
		.fill_size = AFXDP_RX_FRAMES,
		.comp_size = AFXDP_TX_FRAMES,
		.frame_size = AFXDP_FRAME_SIZE,
	};
	const struct xsk_socket_config scfg = {
		.rx_size = AFXDP_RX_FRAMES,
		.tx_size = AFXDP_TX_FRAMES,
		/* Our program, attached through a link (see afxdp_attach). */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = (zc ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP,
	};
	struct xdp_options opt = { 0 };
	socklen_t optlen = sizeof(opt);
	struct afxdp_q *q;
	uint32_t idx;

	q = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*q), CACHE_LINE));
	if (!q) {
		*rc = -ENOMEM;
		return NULL;
	}
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->area = mmap(NULL, UMEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		*rc = -errno;
		goto err_close;
	}
	lib_msg[0] = 0;
	*rc = xsk_umem__create(&q->umem, q->area, UMEM_SIZE, &q->fill, &q->comp, &ucfg);
	if (*rc) {
		q->umem = NULL;
		goto err_close;
	}
	/* A socket closed just before (del-port, a failed attempt) leaves
	 * its queue busy until the kernel's deferred release has run: wait
	 * that out, briefly, before calling the queue busy. */
	for (int tries = 0; tries < AFXDP_BUSY_TRIES; tries++) {
		*rc = xsk_socket__create(&q->xsk, dev, qid, q->umem, &q->rx, &q->tx, &scfg);
		if (*rc != -EBUSY)
			break;
		usleep(AFXDP_BUSY_WAIT_US);
	}
	if (*rc) {
		q->xsk = NULL;
		goto err_close;
	}
	q->fd = xsk_socket__fd(q->xsk);
	if (bpf_map_update_elem(map_fd, &qid, &q->fd, 0)) {
		*rc = -errno;
		goto err_close;
	}
	if (!getsockopt(q->fd, SOL_XDP, XDP_OPTIONS, &opt, &optlen))
		q->zc = opt.flags & XDP_OPTIONS_ZEROCOPY;
	/* Every rx frame starts in the fill ring, every tx frame free. */
	if (xsk_ring_prod__reserve(&q->fill, AFXDP_RX_FRAMES, &idx) != AFXDP_RX_FRAMES) {
		*rc = -ENOSPC;
		goto err_close;
	}
	for (uint32_t i = 0; i < AFXDP_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * AFXDP_FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, AFXDP_RX_FRAMES);
	for (uint32_t i = 0; i < AFXDP_TX_FRAMES; i++)
		q->tx_free[i] = (uint64_t)(AFXDP_RX_FRAMES + i) * AFXDP_FRAME_SIZE;
	q->n_tx_free = AFXDP_TX_FRAMES;
	return q;

err_close:
	q_close(q);
	return NULL;
}

static void close_queues(struct afxdp *a)
{
	for (uint16_t i = 0; i < PORT_MAX_QUEUES; i++) {
		q_close(a->q[i]);
		a->q[i] = NULL;
	}
	a->n_q = 0;
}

/*
 * The XDP program: libxdp's default AF_XDP program (xsk_def_xdp_prog.o,
 * found where libxdp keeps it), loaded by us and attached through a bpf
 * link rather than libxdp's netlink attach. The link belongs to our fd: if
 * xviod dies, however it dies, the kernel detaches the program, so a
 * restarted xviod finds the device free (libxdp's attach would outlive us
 * and leave the device "busy"). Needs Linux 5.9 or later.
 */
static int prog_load(struct afxdp *a, char *err, size_t errlen)
{
	struct xdp_program *xp = xdp_program__find_file("xsk_def_xdp_prog.o", NULL, NULL);
	struct bpf_program *bp;
	struct bpf_map *map;
	int rc;

	rc = (int)libxdp_get_error(xp);
	if (rc) {
		snprintf(err, errlen, "libxdp's xsk_def_xdp_prog.o: %s", strerror(-rc));
		return rc;
	}
	a->xp = xp;
	a->obj = xdp_program__bpf_obj(xp);
	map = bpf_object__find_map_by_name(a->obj, "xsks_map");
	bp = bpf_object__find_program_by_name(a->obj, "xsk_def_prog");
	if (!map || !bp) {
		snprintf(err, errlen, "xsk_def_xdp_prog.o: no xsks_map or xsk_def_prog");
		return -ENOENT;
	}
	bpf_map__set_max_entries(map, MAX(a->n_dev_q, 1));
	rc = bpf_object__load(a->obj);
	if (rc) {
		snprintf(err, errlen, "loading the XDP program: %s%s", strerror(-rc),
			 rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
		return rc;
	}
	a->prog_fd = bpf_program__fd(bp);
	a->map_fd = bpf_map__fd(map);
	return 0;
}

static void prog_unload(struct afxdp *a)
{
	if (a->link_fd >= 0)
		close(a->link_fd);	/* detaches the program */
	a->link_fd = -1;
	if (a->xp)
		xdp_program__close(a->xp);
	a->xp = NULL;
}

static int prog_attach(struct afxdp *a, int xdp_mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts,
		    .flags = xdp_mode == AFXDP_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);

	a->link_fd = bpf_link_create(a->prog_fd, a->ifindex, BPF_XDP, &opts);
	return a->link_fd < 0 ? -errno : 0;
}

/* why += "; fmt..." within whylen. */
static __printf(3, 4) void why_add(char *why, size_t whylen, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used && used + 2 < whylen) {
		strcat(why, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + used, whylen - used, fmt, ap);
	va_end(ap);
}

/* Open every queue in one XDP mode; on failure close them all and describe
 * each attempt in why. */
static int open_queues(struct afxdp *a, const struct afxdp_args *args, int xdp_mode,
		       char *why, size_t whylen)
{
	int rc = prog_attach(a, xdp_mode);

	if (rc) {
		why_add(why, whylen, "%s: attaching XDP: %s", xdp_mode_names[xdp_mode],
			rc == -EBUSY || rc == -EEXIST ? "device busy (another XDP program)" :
			strerror(-rc));
		return rc;
	}
	rc = -EOPNOTSUPP;
	for (uint16_t qid = 0; qid < args->queues; qid++) {
		for (int zc = args->bind != BIND_COPY && xdp_mode == AFXDP_XDP_NATIVE;
		     zc >= (args->bind == BIND_ZC); zc--) {
			char buf[200];

			a->q[qid] = q_open(a->dev, qid, a->map_fd, zc, &rc);
			if (a->q[qid])
				break;
			why_add(why, whylen, "%s/%s queue %u: %s", xdp_mode_names[xdp_mode],
				zc ? "zc" : "copy", qid,
				q_errmsg(rc, zc ? "zc" : "copy", buf, sizeof(buf)));
		}
		if (!a->q[qid]) {
			close_queues(a);
			close(a->link_fd);
			a->link_fd = -1;
			return rc;
		}
		a->n_q = (uint16_t)(qid + 1);
	}
	a->xdp_mode = xdp_mode;
	return 0;
}

static void afxdp_refresh_mtu(struct afxdp *a)
{
	int mtu = dev_mtu(a->dev);

	if (mtu > 0)
		__atomic_store_n(&a->tx_max, MIN((uint32_t)mtu + VLAN_ETH_HLEN, AFXDP_FRAME_DATA_MAX),
				 __ATOMIC_RELAXED);
}

static bool afxdp_link_up(struct port *port)
{
	struct afxdp *a = port->priv;

	afxdp_refresh_mtu(a);
	return netdev_link_up(a->dev);
}

static int afxdp_rxq_notify_fd(struct port *port, uint16_t qid)
{
	/* Level-triggered: EPOLLIN while the rx ring is not empty. */
	return ((struct afxdp *)port->priv)->q[qid]->fd;
}

static void afxdp_show(struct port *port, json_t *obj)
{
	struct afxdp *a = port->priv;
	json_t *qs = json_array();
	uint8_t mode = 0;
	uint32_t prog = dev_xdp_prog(a->ifindex, &mode);

	afxdp_refresh_mtu(a);
	netdev_show(a->dev, obj);
	json_object_set_new(obj, "xdp_mode", json_string(xdp_mode_names[a->xdp_mode]));
	json_object_set_new(obj, "xdp_prog_id", json_integer(prog));
	json_object_set_new(obj, "mtu", json_integer(dev_mtu(a->dev)));
	json_object_set_new(obj, "max_frame", json_integer(__atomic_load_n(&a->tx_max, __ATOMIC_RELAXED)));
	for (uint16_t i = 0; i < a->n_q; i++)
		json_array_append_new(qs, json_pack("{s:i,s:s,s:s,s:i,s:I}", "queue", i, "mode",
						    a->q[i]->zc ? "zc" : "copy", "xdp",
						    xdp_mode_names[a->xdp_mode], "pmd",
						    pmd_of_rxq(port, i), "rx_packets",
						    (json_int_t)COUNTER_READ(port->rxq_stats[i].packets)));
	json_object_set_new(obj, "queues", qs);
	/* Fewer sockets than device queues: the rest bypass xviod. */
	json_object_set_new(obj, "dev_queues", json_integer(a->n_dev_q));
}

static void afxdp_stats(struct port *port, struct port_stats *st, json_t *extra)
{
	struct afxdp *a = port->priv;
	uint64_t c[AFXDP_C_MAX] = { 0 };
	struct xdp_statistics ks, sum = { 0 };

	(void)st;
	afxdp_refresh_mtu(a);
	for (uint16_t i = 0; i < a->n_q; i++) {
		socklen_t len = sizeof(ks);

		for (int k = 0; k < AFXDP_C_MAX; k++)
			c[k] += COUNTER_READ(a->q[i]->rx_c[k]) + COUNTER_READ(a->q[i]->tx_c[k]);
		memset(&ks, 0, sizeof(ks));
		if (getsockopt(a->q[i]->fd, SOL_XDP, XDP_STATISTICS, &ks, &len))
			continue;
		sum.rx_dropped += ks.rx_dropped;
		sum.rx_invalid_descs += ks.rx_invalid_descs;
		sum.tx_invalid_descs += ks.tx_invalid_descs;
		sum.rx_ring_full += ks.rx_ring_full;
		sum.rx_fill_ring_empty_descs += ks.rx_fill_ring_empty_descs;
		sum.tx_ring_empty_descs += ks.tx_ring_empty_descs;
	}
	for (int k = 0; k < AFXDP_C_MAX; k++)
		json_object_set_new(extra, counter_names[k], json_integer((json_int_t)c[k]));
	/* The kernel's own drop reasons, per socket (XDP_STATISTICS). */
	json_object_set_new(extra, "xsk_rx_dropped", json_integer((json_int_t)sum.rx_dropped));
	json_object_set_new(extra, "xsk_rx_ring_full", json_integer((json_int_t)sum.rx_ring_full));
	json_object_set_new(extra, "xsk_fill_ring_empty",
			    json_integer((json_int_t)sum.rx_fill_ring_empty_descs));
	json_object_set_new(extra, "xsk_rx_invalid_descs",
			    json_integer((json_int_t)sum.rx_invalid_descs));
	json_object_set_new(extra, "xsk_tx_invalid_descs",
			    json_integer((json_int_t)sum.tx_invalid_descs));
}

static void afxdp_release(struct afxdp *a)
{
	/* Sockets first (they leave the xskmap), then the link, whose close
	 * detaches the program. */
	close_queues(a);
	prog_unload(a);
}

static void afxdp_close(struct port *port)
{
	struct afxdp *a = port->priv;

	if (a) {
		afxdp_release(a);
		LOG(LOG_INFO, "afxdp", "%s: released %s", port->name, a->dev);
		free(a);
	}
	port_free(port);
}

static const struct port_ops afxdp_ops = {
	.rx_burst = afxdp_rx_burst,
	.tx_burst = afxdp_tx_burst,
	.rxq_notify_fd = afxdp_rxq_notify_fd,
	.stats = afxdp_stats,
	.show = afxdp_show,
	.link_up = afxdp_link_up,
	.close = afxdp_close,
};

/* Everything that can be refused before touching the device. */
static int preflight(struct afxdp *a, struct afxdp_args *args, char *err, size_t errlen)
{
	int rc, n, mtu;
	uint32_t prog;

	a->ifindex = (int)if_nametoindex(args->dev);
	if (!a->ifindex) {
		snprintf(err, errlen, "dev=%s: %s", args->dev, strerror(errno));
		return -errno;
	}
	rc = check_af_xdp(err, errlen);
	if (rc)
		return rc;
	n = dev_queues(args->dev);
	a->n_dev_q = (uint16_t)MAX(n, 1);
	if (n > 0 && args->queues > n) {
		snprintf(err, errlen, "dev=%s has %d queue%s, queues=%u asked", args->dev, n,
			 n == 1 ? "" : "s", args->queues);
		return -EINVAL;
	}
	/* By default every device queue: traffic the NIC steers to a queue
	 * without a socket bypasses us (libxdp's program passes it to the
	 * kernel stack). */
	if (!args->queues)
		args->queues = MIN(a->n_dev_q, PORT_MAX_QUEUES);
	if (args->queues < a->n_dev_q)
		LOG(LOG_WARN, "afxdp", "dev=%s: %u of %u queues: frames the device steers to "
		    "the others reach the kernel stack, not xviod", args->dev, args->queues,
		    a->n_dev_q);
	prog = dev_xdp_prog(a->ifindex, NULL);
	if (prog) {
		snprintf(err, errlen, "dev=%s: device busy: XDP program %u is already attached "
			 "(an afxdp port needs the device to itself)", args->dev, prog);
		return -EBUSY;
	}
	mtu = dev_mtu(args->dev);
	if (mtu < 0) {
		snprintf(err, errlen, "dev=%s: MTU: %s", args->dev, strerror(-mtu));
		return mtu;
	}
	if ((uint32_t)mtu + VLAN_ETH_HLEN > AFXDP_FRAME_DATA_MAX) {
		snprintf(err, errlen, "dev=%s: MTU %d is too big for %u-byte AF_XDP frames "
			 "(max MTU %u)", args->dev, mtu, AFXDP_FRAME_SIZE,
			 AFXDP_FRAME_DATA_MAX - VLAN_ETH_HLEN);
		return -EMSGSIZE;
	}
	return 0;
}

static struct port *afxdp_create(const char *name, int argc, char **argv, char *err, size_t errlen)
{
	static bool print_set;
	struct afxdp_args args = { 0 };
	char why[768] = "";
	struct port *port;
	struct afxdp *a;
	int rc;

	if (!print_set) {
		libxdp_set_print(libxdp_print);
		libbpf_set_print(libbpf_print);
		print_set = true;
	}
	rc = parse_args(&args, argc, argv, err, errlen);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->link_fd = -1;
	snprintf(a->dev, sizeof(a->dev), "%s", args.dev);
	rc = preflight(a, &args, err, errlen);
	if (rc)
		goto err_free;
	rc = prog_load(a, err, errlen);
	if (rc)
		goto err_release;
	for (int m = AFXDP_XDP_NATIVE; m <= AFXDP_XDP_SKB; m++) {
		if (args.xdp_mode >= 0 && m != args.xdp_mode)
			continue;
		/* A failed attempt closes its sockets and link itself. */
		rc = open_queues(a, &args, m, why, sizeof(why));
		if (!rc)
			break;
	}
	if (rc) {
		snprintf(err, errlen, "dev=%s: %s", a->dev, why);
		goto err_release;
	}
	port = port_alloc(name, "afxdp", &afxdp_ops);
	if (!port) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_release;
	}
	/* More PMDs than queues: some share a socket's tx ring. */
	for (uint16_t i = 0; i < a->n_q; i++)
		a->q[i]->tx_shared = pmd_count() > a->n_q;
	afxdp_refresh_mtu(a);
	port->priv = a;
	port->n_rxq = a->n_q;
	port->n_txq = a->n_q;
	LOG(LOG_INFO, "afxdp", "%s: %s, %u queue%s, %s XDP, %s", name, a->dev, a->n_q,
	    a->n_q == 1 ? "" : "s", xdp_mode_names[a->xdp_mode],
	    a->q[0]->zc ? "zero-copy" : "copy");
	return port;

err_release:
	afxdp_release(a);
err_free:
	free(a);
	errno = -rc;
	return NULL;
}

static struct port_kind afxdp_kind = {
	.name = "afxdp",
	.usage = "dev=IF [queues=N] [mode=auto|zc|copy] [xdp-mode=auto|native|skb]",
	.create = afxdp_create,
};

static void __attribute__((constructor)) afxdp_register(void)
{
	port_kind_register(&afxdp_kind);
}
