/*
 * vhost unit tests: real vhost-user messages over a socketpair into the
 * message handler (QEMU-like negotiation, replies, malformed input that must
 * close the connection without leaking fds), and the sockets (server mode,
 * client mode reconnect).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "port/port.h"
#include "vhost/vhost_priv.h"

#define MEM_SIZE	(1u << 20)
#define UVA_BASE	0x7f0000000000ull
#define RING_NUM	256u

struct fe {
	struct vhost_dev *dev;
	int fd;		/* frontend end of the socketpair */
	int memfd;
	int n_fds_before;
	int extra[4];	/* test fds closed by fe_close */
	unsigned n_extra;
};

static int fe_fd(struct fe *fe, int fd)
{
	fe->extra[fe->n_extra++] = fd;
	return fd;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static void send_msg(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, unsigned n_fds)
{
	struct vhost_user_hdr hdr = { .request = req, .flags = VHOST_USER_VERSION | flags,
				      .size = size };
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)payload, size } };
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (n_fds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
	}
	assert_int_equal(sendmsg(fe->fd, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(hdr) + size));
	vhost_conn_input(fe->dev);
}

static void send_u64(struct fe *fe, uint32_t req, uint32_t flags, uint64_t v)
{
	send_msg(fe, req, flags, &v, sizeof(v), NULL, 0);
}

static void send_state(struct fe *fe, uint32_t req, uint32_t flags, uint32_t idx, uint32_t num)
{
	struct vhost_user_vring_state s = { idx, num };

	send_msg(fe, req, flags, &s, sizeof(s), NULL, 0);
}

/* Read one reply; returns its payload u64 (or state.num for 8-byte state). */
static uint64_t recv_reply(struct fe *fe, uint32_t req, uint32_t *size)
{
	struct vhost_user_msg msg;
	struct pollfd p = { .fd = fe->fd, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, 1000), 1);
	n = recv(fe->fd, &msg, sizeof(msg), MSG_DONTWAIT);
	assert_true(n >= (ssize_t)VHOST_USER_HDR_SIZE);
	assert_int_equal(msg.hdr.request, req);
	assert_int_equal(msg.hdr.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	assert_int_equal((size_t)n, VHOST_USER_HDR_SIZE + msg.hdr.size);
	if (size)
		*size = msg.hdr.size;
	return msg.payload.u64;
}

static void expect_no_reply(struct fe *fe)
{
	struct pollfd p = { .fd = fe->fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 0), 0);
}

/* The connection was closed: the frontend reads EOF. */
static void expect_closed(struct fe *fe)
{
	char c;

	assert_false(fe->dev->connected);
	assert_int_equal(recv(fe->fd, &c, 1, MSG_DONTWAIT), 0);
}

static void fe_open(struct fe *fe, uint16_t qp)
{
	int sv[2];

	assert_int_equal(ev_init(), 0);
	fe->n_fds_before = count_fds();
	fe->n_extra = 0;
	fe->dev = vhost_dev_alloc("t0", qp);
	assert_non_null(fe->dev);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vhost_conn_attach(fe->dev, sv[0]), 0);
	fe->fd = sv[1];
	fe->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(fe->memfd >= 0);
	assert_int_equal(ftruncate(fe->memfd, MEM_SIZE), 0);
}

static void fe_close(struct fe *fe)
{
	vhost_conn_drop(fe->dev, "test done");
	vhost_dev_free(fe->dev);
	close(fe->fd);
	close(fe->memfd);
	for (unsigned i = 0; i < fe->n_extra; i++)
		close(fe->extra[i]);
	/* Everything the device received was closed. */
	assert_int_equal(count_fds(), fe->n_fds_before);
}

static void send_mem_table(struct fe *fe, uint32_t flags, uint32_t n, uint64_t size,
			   unsigned n_fds)
{
	struct vhost_user_memory m = { .nregions = n };
	int fds[16];

	for (unsigned i = 0; i < 16; i++)
		fds[i] = fe->memfd;
	for (uint32_t i = 0; i < n && i < GM_MAX_REGIONS; i++)
		m.regions[i] = (struct vhost_user_region){
			.gpa = i * size, .size = size, .uva = UVA_BASE + i * size, .mmap_offset = 0 };
	send_msg(fe, VHOST_USER_SET_MEM_TABLE, flags, &m,
		 8 + MIN(n, (uint32_t)GM_MAX_REGIONS) * sizeof(struct vhost_user_region),
		 fds, n_fds);
}

/* Ring layout of vq i inside guest memory: 64 KiB apart. */
static void send_vring(struct fe *fe, uint32_t i, uint32_t base, int kick, int call)
{
	uint64_t gpa = 0x10000ull * (i + 1);
	struct vhost_user_vring_addr a = {
		.index = i, .desc = UVA_BASE + gpa, .avail = UVA_BASE + gpa + 0x1000,
		.used = UVA_BASE + gpa + 0x2000, .log = gpa + 0x2000 };

	uint16_t used_idx = (uint16_t)base;

	/* A ring that really is at base: its used->idx says so (vq_start
	 * resumes from it). */
	assert_int_equal(pwrite(fe->memfd, &used_idx, 2, (off_t)(gpa + 0x2000 + 2)), 2);
	send_state(fe, VHOST_USER_SET_VRING_NUM, 0, i, RING_NUM);
	send_state(fe, VHOST_USER_SET_VRING_BASE, 0, i, base);
	send_msg(fe, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	send_msg(fe, VHOST_USER_SET_VRING_CALL, 0, (uint64_t[]){ i }, 8, &call, 1);
	send_msg(fe, VHOST_USER_SET_VRING_KICK, 0, (uint64_t[]){ i }, 8, &kick, 1);
}

#define NEGOTIATED ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF) | \
		    (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
#define PROTO ((1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VHOST_USER_PROTOCOL_F_MQ) | \
	       (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) | (1ull << VHOST_USER_PROTOCOL_F_STATUS))

/* What QEMU 7.2 sends up to a running queue pair 0. */
static void negotiate(struct fe *fe, int kick, int call)
{
	uint32_t size;
	uint64_t v;

	send_msg(fe, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
	v = recv_reply(fe, VHOST_USER_GET_FEATURES, &size);
	assert_int_equal(size, 8);
	assert_int_equal(v, vhost_offered_features());
	assert_true(v & (1ull << VIRTIO_F_RING_PACKED));
	send_msg(fe, VHOST_USER_GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0);
	v = recv_reply(fe, VHOST_USER_GET_PROTOCOL_FEATURES, NULL);
	assert_int_equal(v, vhost_offered_protocol_features());
	send_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, 0, PROTO);
	send_msg(fe, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	assert_int_equal(recv_reply(fe, VHOST_USER_GET_QUEUE_NUM, NULL), fe->dev->max_qp);
	send_msg(fe, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	send_u64(fe, VHOST_USER_SET_FEATURES, VHOST_USER_NEED_REPLY_MASK, NEGOTIATED);
	assert_int_equal(recv_reply(fe, VHOST_USER_SET_FEATURES, NULL), 0);
	send_mem_table(fe, VHOST_USER_NEED_REPLY_MASK, 1, MEM_SIZE, 1);
	assert_int_equal(recv_reply(fe, VHOST_USER_SET_MEM_TABLE, NULL), 0);
	send_vring(fe, 0, 0, kick, call);
	send_vring(fe, 1, 5, kick, call);
	/* With PROTOCOL_FEATURES the rings start disabled. */
	assert_false(vq_ready(&fe->dev->vqs[1].vq));
	assert_true(fe->dev->vqs[1].vq.started);
	send_state(fe, VHOST_USER_SET_VRING_ENABLE, VHOST_USER_NEED_REPLY_MASK, 0, 1);
	assert_int_equal(recv_reply(fe, VHOST_USER_SET_VRING_ENABLE, NULL), 0);
	send_state(fe, VHOST_USER_SET_VRING_ENABLE, 0, 1, 1);
	expect_no_reply(fe);
	assert_true(fe->dev->connected);
}

/* on_change: how many calls, and the link state the last one saw (the vhost
 * port reports a link going down to the bridge from it). */
static unsigned changes;
static bool change_link_up;

static void record_change(struct vhost_dev *dev, void *arg __unused)
{
	changes++;
	change_link_up = vhost_dev_link_up(dev);
}

static void test_negotiation(void **state __unused)
{
	struct fe fe;
	int kick, call;

	fe_open(&fe, 2);
	fe.dev->on_change = record_change;
	kick = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	call = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	negotiate(&fe, kick, call);

	assert_int_equal(fe.dev->features, NEGOTIATED);
	assert_int_equal(fe.dev->protocol_features, PROTO);
	assert_non_null(fe.dev->mem);
	assert_int_equal(fe.dev->mem->n_regions, 1);
	assert_true(vq_ready(&fe.dev->vqs[0].vq));
	assert_true(vq_ready(&fe.dev->vqs[1].vq));
	assert_false(vq_ready(&fe.dev->vqs[2].vq));
	assert_int_equal(fe.dev->rx_ready_mask, 1);
	assert_true(vhost_dev_link_up(fe.dev));
	assert_true(change_link_up);
	assert_true(vhost_vq_kickfd(fe.dev, 1) >= 0);
	assert_int_equal(fe.dev->vqs[1].vq.last_avail_idx, 5);

	/* SET_STATUS without DRIVER_OK stops the rings; DRIVER_OK restarts. */
	send_u64(&fe, VHOST_USER_SET_STATUS, 0, 0);
	assert_false(vq_ready(&fe.dev->vqs[1].vq));
	assert_false(vhost_dev_link_up(fe.dev));
	send_u64(&fe, VHOST_USER_SET_STATUS, 0, 0xf);
	assert_true(vq_ready(&fe.dev->vqs[1].vq));
	send_msg(&fe, VHOST_USER_GET_STATUS, 0, NULL, 0, NULL, 0);
	assert_int_equal(recv_reply(&fe, VHOST_USER_GET_STATUS, NULL), 0xf);

	/* MTU, RARP. */
	send_u64(&fe, VHOST_USER_NET_SET_MTU, VHOST_USER_NEED_REPLY_MASK, 1500);
	assert_int_equal(recv_reply(&fe, VHOST_USER_NET_SET_MTU, NULL), 0);
	assert_int_equal(fe.dev->mtu, 1500);
	send_u64(&fe, VHOST_USER_SEND_RARP, 0, 0x0000665544332211ull);
	{
		uint8_t mac[6];

		assert_true(vhost_dev_take_rarp(fe.dev, mac));
		assert_int_equal(mac[0], 0x11);
		assert_int_equal(mac[5], 0x66);
		assert_false(vhost_dev_take_rarp(fe.dev, mac));
	}

	/* Dirty log: mapped, replied with 0. */
	{
		struct vhost_user_log l = { .mmap_size = 4096, .mmap_offset = 0 };
		int lfd = memfd_create("log", MFD_CLOEXEC);

		assert_int_equal(ftruncate(lfd, 4096), 0);
		send_msg(&fe, VHOST_USER_SET_LOG_BASE, 0, &l, sizeof(l), &lfd, 1);
		assert_int_equal(recv_reply(&fe, VHOST_USER_SET_LOG_BASE, NULL), 0);
		assert_non_null(fe.dev->log);
		close(lfd);
	}

	/* GET_VRING_BASE stops the ring, returns its base, drops the kick;
	 * on_change hears of the link going down (a migration's source). */
	changes = 0;
	send_state(&fe, VHOST_USER_GET_VRING_BASE, 0, 1, 0);
	assert_int_equal(recv_reply(&fe, VHOST_USER_GET_VRING_BASE, NULL) >> 32, 5);
	assert_false(fe.dev->vqs[1].vq.started);
	assert_int_equal(vhost_vq_kickfd(fe.dev, 1), -1);
	assert_false(vhost_dev_link_up(fe.dev));
	assert_true(changes > 0);
	assert_false(change_link_up);
	assert_true(vq_ready(&fe.dev->vqs[0].vq));

	/* A new kick restarts it where it stopped. */
	send_msg(&fe, VHOST_USER_SET_VRING_KICK, 0, (uint64_t[]){ 1 }, 8, &kick, 1);
	assert_true(vq_ready(&fe.dev->vqs[1].vq));
	assert_int_equal(fe.dev->vqs[1].vq.last_avail_idx, 5);

	/* A new memory table restarts the rings against it. */
	send_mem_table(&fe, 0, 1, MEM_SIZE, 1);
	assert_true(fe.dev->connected);
	assert_true(vq_ready(&fe.dev->vqs[1].vq));

	/* RESET_OWNER: rings and memory go, connection stays. */
	send_msg(&fe, VHOST_USER_RESET_OWNER, 0, NULL, 0, NULL, 0);
	assert_true(fe.dev->connected);
	assert_null(fe.dev->mem);
	assert_false(vq_ready(&fe.dev->vqs[1].vq));
	assert_int_equal(fe.dev->protocol_features, PROTO);

	fe_close(&fe);
}

/* Packed ring: SET_VRING_BASE carries the wrap counter in bit 15 and
 * GET_VRING_BASE gives avail and used state back. */
static void test_packed_base(void **state __unused)
{
	struct fe fe;
	int kick;
	uint64_t f = NEGOTIATED | (1ull << VIRTIO_F_RING_PACKED);
	struct vhost_user_vring_addr a = { .index = 1, .desc = UVA_BASE + 0x10000,
		.avail = UVA_BASE + 0x11000, .used = UVA_BASE + 0x12000 };

	fe_open(&fe, 1);
	kick = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	send_u64(&fe, VHOST_USER_SET_FEATURES, 0, f);
	send_mem_table(&fe, 0, 1, MEM_SIZE, 1);
	send_state(&fe, VHOST_USER_SET_VRING_NUM, 0, 1, 256);
	send_state(&fe, VHOST_USER_SET_VRING_BASE, 0, 1, 0x8000 | 7);
	send_msg(&fe, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	send_msg(&fe, VHOST_USER_SET_VRING_KICK, 0, (uint64_t[]){ 1 }, 8, &kick, 1);
	send_state(&fe, VHOST_USER_SET_VRING_ENABLE, 0, 1, 1);
	assert_true(vq_ready(&fe.dev->vqs[1].vq));
	assert_true(fe.dev->vqs[1].vq.mode & VQ_M_PACKED);
	send_state(&fe, VHOST_USER_GET_VRING_BASE, 0, 1, 0);
	assert_int_equal(recv_reply(&fe, VHOST_USER_GET_VRING_BASE, NULL) >> 32,
			 (0x8007u << 16) | 0x8007u);
	fe_close(&fe);
}

/* Without PROTOCOL_FEATURES a ring is enabled by its kick; a NOFD kick
 * means the vq is polled. */
static void test_legacy_enable_nofd(void **state __unused)
{
	struct fe fe;
	struct vhost_user_vring_addr a = { .index = 1, .desc = UVA_BASE + 0x10000,
		.avail = UVA_BASE + 0x11000, .used = UVA_BASE + 0x12000 };

	fe_open(&fe, 1);
	send_u64(&fe, VHOST_USER_SET_FEATURES, 0, 1ull << VIRTIO_F_VERSION_1);
	send_mem_table(&fe, 0, 1, MEM_SIZE, 1);
	send_state(&fe, VHOST_USER_SET_VRING_NUM, 0, 1, 256);
	send_msg(&fe, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	send_u64(&fe, VHOST_USER_SET_VRING_KICK, 0, 1 | VHOST_USER_VRING_NOFD_MASK);
	send_u64(&fe, VHOST_USER_SET_VRING_ERR, 0, 1 | VHOST_USER_VRING_NOFD_MASK);
	assert_true(fe.dev->connected);
	assert_true(vq_ready(&fe.dev->vqs[1].vq));
	assert_true(fe.dev->vqs[1].polling);
	assert_int_equal(vhost_vq_kickfd(fe.dev, 1), -1);
	fe_close(&fe);
}

/* ---- malformed input: connection closed, no fd left open ---- */

static void test_bad_short_payload(void **state __unused)
{
	struct fe fe;
	uint32_t v = 1;

	fe_open(&fe, 1);
	send_msg(&fe, VHOST_USER_SET_FEATURES, 0, &v, sizeof(v), NULL, 0);
	expect_closed(&fe);
	assert_int_equal(fe.dev->counters[VHOST_C_MSG_ERRORS], 1);
	fe_close(&fe);
}

static void test_bad_size_too_big(void **state __unused)
{
	struct fe fe;
	struct vhost_user_hdr hdr = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 100000 };

	fe_open(&fe, 1);
	assert_int_equal(send(fe.fd, &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	vhost_conn_input(fe.dev);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_vring_index(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 2);
	/* NEED_REPLY: a failure is acked with 1 before the close. */
	send_state(&fe, VHOST_USER_SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, 4, 256);
	assert_int_equal(recv_reply(&fe, VHOST_USER_SET_VRING_NUM, NULL), 1);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_kick_index_with_fd(void **state __unused)
{
	struct fe fe;
	int efd;

	fe_open(&fe, 1);
	efd = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	send_msg(&fe, VHOST_USER_SET_VRING_KICK, 0, (uint64_t[]){ 2 }, 8, &efd, 1);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_mem_zero_regions(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	send_mem_table(&fe, 0, 0, MEM_SIZE, 0);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_mem_nine_regions(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	send_mem_table(&fe, 0, 9, 4096, 9);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_mem_beyond_fd(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	/* mmap_offset + size past the memfd's size would SIGBUS later. */
	send_mem_table(&fe, VHOST_USER_NEED_REPLY_MASK, 1, 2 * MEM_SIZE, 1);
	assert_int_equal(recv_reply(&fe, VHOST_USER_SET_MEM_TABLE, NULL), 1);
	expect_closed(&fe);
	assert_null(fe.dev->mem);
	fe_close(&fe);
}

static void test_bad_mem_fd_count(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	send_mem_table(&fe, 0, 2, 4096, 1);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_missing_fd(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	send_u64(&fe, VHOST_USER_SET_VRING_KICK, 0, 0);	/* no NOFD bit, no fd */
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_unknown_request_fds_closed(void **state __unused)
{
	struct fe fe;
	int fds[3];

	fe_open(&fe, 1);
	for (int i = 0; i < 3; i++)
		fds[i] = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	send_msg(&fe, 99, 0, (uint64_t[]){ 0 }, 8, fds, 3);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_features(void **state __unused)
{
	struct fe fe;

	fe_open(&fe, 1);
	send_u64(&fe, VHOST_USER_SET_FEATURES, 0, 1ull << 63);
	expect_closed(&fe);
	fe_close(&fe);
}

static void test_bad_ring_outside_memory(void **state __unused)
{
	struct fe fe;
	int kick;
	struct vhost_user_vring_addr a = { .index = 0, .desc = UVA_BASE + MEM_SIZE - 16,
		.avail = UVA_BASE + 0x11000, .used = UVA_BASE + 0x12000 };

	fe_open(&fe, 1);
	kick = fe_fd(&fe, eventfd(0, EFD_CLOEXEC));
	send_u64(&fe, VHOST_USER_SET_FEATURES, 0, 1ull << VIRTIO_F_VERSION_1);
	send_mem_table(&fe, 0, 1, MEM_SIZE, 1);
	send_state(&fe, VHOST_USER_SET_VRING_NUM, 0, 0, 256);
	send_msg(&fe, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	send_msg(&fe, VHOST_USER_SET_VRING_KICK, 0, (uint64_t[]){ 0 }, 8, &kick, 1);
	expect_closed(&fe);
	fe_close(&fe);
}

/* A message in pieces, the fds with the first byte. */
static void test_fragmented(void **state __unused)
{
	struct fe fe;
	uint8_t buf[VHOST_USER_HDR_SIZE + 8];
	struct vhost_user_hdr hdr = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 8 };
	uint64_t f = 1ull << VIRTIO_F_VERSION_1;

	fe_open(&fe, 1);
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), &f, 8);
	for (size_t i = 0; i < sizeof(buf); i++) {
		assert_int_equal(send(fe.fd, buf + i, 1, 0), 1);
		vhost_conn_input(fe.dev);
	}
	assert_true(fe.dev->connected);
	assert_true(fe.dev->features_set);
	assert_int_equal(fe.dev->features, f);
	fe_close(&fe);
}

/* ---- sockets ---- */

static void stop_cb(void *arg __unused)
{
	ev_stop();
}

static void run_loop(unsigned ms)
{
	ev_timer_add(ms, 0, stop_cb, NULL);
	ev_run();
}

static int listen_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_client_reconnect(void **state __unused)
{
	char path[64], err[256] = "";
	struct vhost_dev *dev;
	int lfd, c, n_before = count_fds();

	assert_int_equal(ev_init(), 0);
	n_before = count_fds();
	snprintf(path, sizeof(path), "/tmp/xvio-test-vhost-%d.sock", getpid());
	unlink(path);
	/* Peer not there yet: creation succeeds and keeps trying. */
	dev = vhost_dev_create("c0", path, true, 1, err, sizeof(err));
	assert_non_null(dev);
	assert_false(dev->connected);
	lfd = listen_at(path);
	run_loop(400);
	assert_true(dev->connected);
	assert_true(dev->counters[VHOST_C_RECONNECTS] >= 1);
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);

	/* The peer goes away... */
	close(c);
	close(lfd);
	unlink(path);
	run_loop(50);
	assert_false(dev->connected);
	assert_int_equal(dev->counters[VHOST_C_DISCONNECTS], 1);
	/* ...and comes back: reconnected within the backoff. */
	lfd = listen_at(path);
	run_loop(600);
	assert_true(dev->connected);
	assert_int_equal(dev->counters[VHOST_C_CONNECTS], 2);
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);

	vhost_dev_destroy(dev);
	close(c);
	close(lfd);
	unlink(path);
	assert_int_equal(count_fds(), n_before);
}

static void test_server_mode(void **state __unused)
{
	char path[64], err[256] = "";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct vhost_dev *dev;
	struct stat st;
	int c1, c2, n_before, stale;
	char ch;

	assert_int_equal(ev_init(), 0);
	n_before = count_fds();
	snprintf(path, sizeof(path), "/tmp/xvio-test-vhost-s%d.sock", getpid());
	/* A stale socket file of an earlier run. */
	stale = listen_at(path);
	close(stale);
	dev = vhost_dev_create("s0", path, false, 1, err, sizeof(err));
	assert_non_null(dev);
	assert_int_equal(stat(path, &st), 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&sun, sizeof(sun)), 0);
	run_loop(20);
	assert_true(dev->connected);
	/* One frontend at a time: the second is closed. */
	c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c2, (struct sockaddr *)&sun, sizeof(sun)), 0);
	run_loop(20);
	assert_int_equal(recv(c2, &ch, 1, 0), 0);
	assert_int_equal(dev->counters[VHOST_C_REJECTED_PEER], 1);
	close(c2);
	/* First frontend leaves; the next one is accepted. */
	close(c1);
	run_loop(20);
	assert_false(dev->connected);
	c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&sun, sizeof(sun)), 0);
	run_loop(20);
	assert_true(dev->connected);

	vhost_dev_destroy(dev);
	close(c1);
	assert_int_equal(stat(path, &st), -1);	/* socket removed */
	assert_int_equal(count_fds(), n_before);
}

static void test_create_errors(void **state __unused)
{
	const struct port_kind *k = port_kind_find("vhost-user");
	char err[256] = "";
	char *args_nopath[] = { "queues=2" };
	char *args_badq[] = { "path=/tmp/x.sock", "queues=9" };
	char *args_nodir[] = { "path=/nonexistent-dir/x.sock" };
	int n_before;

	assert_int_equal(ev_init(), 0);
	n_before = count_fds();
	assert_non_null(k);
	assert_null(k->create("p", 1, args_nopath, err, sizeof(err)));
	assert_non_null(strstr(err, "missing path="));
	assert_null(k->create("p", 2, args_badq, err, sizeof(err)));
	assert_non_null(strstr(err, "queues"));
	assert_null(k->create("p", 1, args_nodir, err, sizeof(err)));
	assert_non_null(strstr(err, "path=/nonexistent-dir/x.sock: No such file or directory"));
	assert_int_equal(count_fds(), n_before);
}

/* The port: tx to a guest that is not ready drops and counts. */
static void test_port_tx_not_ready(void **state __unused)
{
	const struct port_kind *k = port_kind_find("vhost-user");
	char path[64], arg[80], err[256] = "";
	char *args[] = { arg, "queues=2" };
	struct pkt_pool *pool;
	struct pkt *pkts[4];
	struct port *p;
	json_t *o;

	assert_int_equal(ev_init(), 0);
	snprintf(path, sizeof(path), "/tmp/xvio-test-vhost-p%d.sock", getpid());
	snprintf(arg, sizeof(arg), "path=%s", path);
	p = k->create("vm1", 2, args, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->n_rxq, 2);
	assert_false(p->ops->link_up(p));
	assert_true(p->ops->rxq_notify_fd(p, 0) >= 0);	/* idle fd, not polled */
	pool = pkt_pool_create("t", 64);
	pkt_pool_set_thread(pool);
	assert_int_equal(pkt_alloc_bulk(pkts, 4), 4);
	assert_int_equal(p->ops->tx_burst(p, 0, pkts, 4), 0);
	assert_int_equal(p->txq_stats[0].drops[PORT_DROP_TX_NOT_READY], 4);
	assert_int_equal(pkt_pool_avail(pool), 64);
	assert_int_equal(p->ops->rx_burst(p, 1, pkts, 4), 0);
	o = json_object();
	p->ops->show(p, o);
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "server");
	assert_false(json_boolean_value(json_object_get(o, "connected")));
	json_decref(o);
	p->ops->close(p);
	pkt_pool_set_thread(NULL);
	pkt_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_packed_base),
		cmocka_unit_test(test_legacy_enable_nofd),
		cmocka_unit_test(test_bad_short_payload),
		cmocka_unit_test(test_bad_size_too_big),
		cmocka_unit_test(test_bad_vring_index),
		cmocka_unit_test(test_bad_kick_index_with_fd),
		cmocka_unit_test(test_bad_mem_zero_regions),
		cmocka_unit_test(test_bad_mem_nine_regions),
		cmocka_unit_test(test_bad_mem_beyond_fd),
		cmocka_unit_test(test_bad_mem_fd_count),
		cmocka_unit_test(test_bad_missing_fd),
		cmocka_unit_test(test_bad_unknown_request_fds_closed),
		cmocka_unit_test(test_bad_features),
		cmocka_unit_test(test_bad_ring_outside_memory),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_client_reconnect),
		cmocka_unit_test(test_server_mode),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_port_tx_not_ready),
	};

	log_max_level = LOG_ERR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
