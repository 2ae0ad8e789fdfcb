/*
 * vhost-user messages: one table maps each request to its handler, the
 * payload sizes it accepts and the fds it must carry (DPDK's
 * validate_msg_fds idea). Everything here is the frontend's input and is
 * checked before use; a message that fails a check, or a handler that
 * returns VHOST_MSG_ERR, disconnects the frontend (vhost_sock.c does that).
 * Control thread only.
 *
 * Reference: QEMU docs/interop/vhost-user.rst.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vhost_priv.h"

#define FDS_VAR	(-1)	/* the handler checks the fd count */

typedef enum vhost_msg_res msg_fn(struct vhost_dev *dev, struct vhost_user_msg *msg,
				  int *fds, unsigned n_fds);

struct msg_desc {
	const char *name;
	msg_fn *fn;
	int n_fds;
	uint16_t min_size, max_size;
};

/* IN_ORDER (VIRTIO 1.2 2.7.9, 2.8.21.1): every queue already uses its
 * buffers in the order they were made available (a burst is taken from
 * last_avail_idx on, used entries are written in the same order, and none is
 * held across bursts: the restart design relies on it), so offering it costs
 * nothing and lets a driver that knows it (DPDK's virtio PMD) take its
 * simpler in-order paths. Each used entry is still written, as rx needs its
 * length. */
uint64_t vhost_offered_features(void)
{
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_IN_ORDER) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
	       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
	       (1ull << VIRTIO_NET_F_MQ) | (1ull << VIRTIO_NET_F_STATUS) |
	       (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_CSUM) |
	       (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VHOST_F_LOG_ALL) |
	       (1ull << VIRTIO_F_RING_PACKED) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

uint64_t vhost_offered_protocol_features(void)
{
	return (1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
	       (1ull << VHOST_USER_PROTOCOL_F_RARP) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	       (1ull << VHOST_USER_PROTOCOL_F_NET_MTU) | (1ull << VHOST_USER_PROTOCOL_F_STATUS);
}

static enum vhost_msg_res reply_u64(struct vhost_user_msg *msg, uint64_t v)
{
	msg->payload.u64 = v;
	msg->hdr.size = sizeof(uint64_t);
	return VHOST_MSG_REPLY;
}

/* The vq a vring message addresses, or NULL (logged) if out of range. */
static struct vhost_vq *msg_vq(struct vhost_dev *dev, const struct vhost_user_msg *msg,
			       uint64_t idx)
{
	if (idx >= 2u * dev->max_qp) {
		VHOST_LOG(LOG_ERR, dev, "%s: vring index %llu out of range (%u queues)",
			  vhost_req_name(msg->hdr.request), (unsigned long long)idx,
			  2u * dev->max_qp);
		return NULL;
	}
	return &dev->vqs[idx];
}

/* Stop a running vq before the frontend reconfigures it. */
static void vq_quiesce(struct vhost_vq *vv)
{
	if (!vv->vq.started)
		return;
	vq_stop(&vv->vq);
	/* Every PMD that saw the vq live has left its burst. */
	synchronize_rcu();
}

static enum vhost_msg_res get_features(struct vhost_dev *dev __unused,
				       struct vhost_user_msg *msg, int *fds __unused,
				       unsigned n_fds __unused)
{
	return reply_u64(msg, vhost_offered_features());
}

static enum vhost_msg_res set_features(struct vhost_dev *dev, struct vhost_user_msg *msg,
				       int *fds __unused, unsigned n_fds __unused)
{
	uint64_t f = msg->payload.u64, changed = f ^ dev->features;

	if (f & ~vhost_offered_features()) {
		VHOST_LOG(LOG_ERR, dev, "SET_FEATURES: 0x%llx has bits we did not offer (0x%llx)",
			  (unsigned long long)f, (unsigned long long)(f & ~vhost_offered_features()));
		return VHOST_MSG_ERR;
	}
	/* Only LOG_ALL may change under running rings (migration start and
	 * end); anything else restarts them with the new layout. */
	if (dev->features_set && (changed & ~(1ull << VHOST_F_LOG_ALL)))
		vhost_dev_stop_all(dev);
	dev->features = f;
	dev->features_set = true;
	for (unsigned i = 0; i < 2u * dev->max_qp; i++)
		vq_set_features(&dev->vqs[i].vq, f);
	VHOST_LOG(LOG_INFO, dev, "features 0x%llx", (unsigned long long)f);
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res get_protocol_features(struct vhost_dev *dev __unused,
						struct vhost_user_msg *msg, int *fds __unused,
						unsigned n_fds __unused)
{
	return reply_u64(msg, vhost_offered_protocol_features());
}

static enum vhost_msg_res set_protocol_features(struct vhost_dev *dev,
						struct vhost_user_msg *msg, int *fds __unused,
						unsigned n_fds __unused)
{
	uint64_t f = msg->payload.u64;

	if (f & ~vhost_offered_protocol_features()) {
		VHOST_LOG(LOG_ERR, dev, "SET_PROTOCOL_FEATURES: 0x%llx not offered",
			  (unsigned long long)f);
		return VHOST_MSG_ERR;
	}
	dev->protocol_features = f;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res set_owner(struct vhost_dev *dev, struct vhost_user_msg *msg __unused,
				    int *fds __unused, unsigned n_fds __unused)
{
	dev->owner_set = true;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res reset_owner(struct vhost_dev *dev, struct vhost_user_msg *msg __unused,
				      int *fds __unused, unsigned n_fds __unused)
{
	/* Rings, memory and features go; the connection and the protocol
	 * features stay (the frontend does not negotiate them again). */
	uint64_t pf = dev->protocol_features;

	vhost_dev_reset(dev);
	dev->protocol_features = pf;
	vhost_dev_notify_change(dev);
	return VHOST_MSG_OK;
}

static enum vhost_msg_res set_mem_table(struct vhost_dev *dev, struct vhost_user_msg *msg,
					int *fds, unsigned n_fds)
{
	struct vhost_user_memory mm, *m = &mm;
	struct gm_region_desc d[GM_MAX_REGIONS];
	struct guest_mem *mem;
	uint32_t n;

	memcpy(&mm, msg->payload.bytes, sizeof(mm));	/* the wire struct is packed */
	n = m->nregions;

	if (n == 0 || n > GM_MAX_REGIONS) {
		VHOST_LOG(LOG_ERR, dev, "SET_MEM_TABLE: %u regions (1..%d)", n, GM_MAX_REGIONS);
		return VHOST_MSG_ERR;
	}
	if (msg->hdr.size < 8 + n * sizeof(struct vhost_user_region)) {
		VHOST_LOG(LOG_ERR, dev, "SET_MEM_TABLE: %u bytes for %u regions",
			  msg->hdr.size, n);
		return VHOST_MSG_ERR;
	}
	if (n_fds != n) {
		VHOST_LOG(LOG_ERR, dev, "SET_MEM_TABLE: %u fds for %u regions", n_fds, n);
		return VHOST_MSG_ERR;
	}
	for (uint32_t i = 0; i < n; i++) {
		d[i].gpa = m->regions[i].gpa;
		d[i].size = m->regions[i].size;
		d[i].uva = m->regions[i].uva;
		d[i].mmap_offset = m->regions[i].mmap_offset;
		d[i].fd = fds[i];
	}
	/* Bounds every region by its fd's size before mapping; the fds are
	 * closed by the dispatcher either way (the mappings keep the files). */
	mem = guest_mem_map(d, n);
	if (!mem) {
		VHOST_LOG(LOG_ERR, dev, "SET_MEM_TABLE: cannot map %u regions: %s", n,
			  strerror(errno));
		return VHOST_MSG_ERR;
	}
	for (uint32_t i = 0; i < n; i++)
		VHOST_LOG(LOG_INFO, dev, "region %u: gpa 0x%llx size 0x%llx uva 0x%llx off 0x%llx",
			  i, (unsigned long long)d[i].gpa, (unsigned long long)d[i].size,
			  (unsigned long long)d[i].uva, (unsigned long long)d[i].mmap_offset);
	return vhost_dev_set_mem(dev, mem) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res set_log_base(struct vhost_dev *dev, struct vhost_user_msg *msg,
				       int *fds, unsigned n_fds __unused)
{
	int rc = vhost_dev_set_log(dev, fds[0], msg->payload.log.mmap_size,
				   msg->payload.log.mmap_offset);

	if (rc) {
		VHOST_LOG(LOG_ERR, dev, "SET_LOG_BASE: size %llu offset %llu: %s",
			  (unsigned long long)msg->payload.log.mmap_size,
			  (unsigned long long)msg->payload.log.mmap_offset, strerror(-rc));
		return VHOST_MSG_ERR;
	}
	/* With LOG_SHMFD the frontend waits for this (vhost-user.rst). */
	return reply_u64(msg, 0);
}

static enum vhost_msg_res set_log_fd(struct vhost_dev *dev, struct vhost_user_msg *msg __unused,
				     int *fds, unsigned n_fds __unused)
{
	if (dev->log_fd >= 0)
		close(dev->log_fd);
	dev->log_fd = fds[0];
	fds[0] = -1;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res set_vring_num(struct vhost_dev *dev, struct vhost_user_msg *msg,
					int *fds __unused, unsigned n_fds __unused)
{
	struct vhost_vq *vv = msg_vq(dev, msg, msg->payload.state.index);

	if (!vv)
		return VHOST_MSG_ERR;
	vq_quiesce(vv);
	if (vq_set_num(&vv->vq, msg->payload.state.num) < 0) {
		VHOST_LOG(LOG_ERR, dev, "SET_VRING_NUM: vq %u size %u invalid",
			  msg->payload.state.index, msg->payload.state.num);
		return VHOST_MSG_ERR;
	}
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res set_vring_addr(struct vhost_dev *dev, struct vhost_user_msg *msg,
					 int *fds __unused, unsigned n_fds __unused)
{
	struct vhost_user_vring_addr aa, *a = &aa;
	struct vhost_vq *vv;
	struct vq_addr qa;

	memcpy(&aa, msg->payload.bytes, sizeof(aa));
	vv = msg_vq(dev, msg, a->index);
	if (!vv)
		return VHOST_MSG_ERR;
	if (a->flags & ~(uint32_t)VHOST_VRING_F_LOG) {
		VHOST_LOG(LOG_ERR, dev, "SET_VRING_ADDR: vq %u unknown flags 0x%x",
			  a->index, a->flags);
		return VHOST_MSG_ERR;
	}
	qa = (struct vq_addr){ .flags = a->flags, .desc_uva = a->desc, .used_uva = a->used,
			       .avail_uva = a->avail, .log_gpa = a->log };
	/* A live vq accepts a change of the LOG flag alone (migration);
	 * anything else stops it first. */
	if (vq_set_addr(&vv->vq, &qa) == -EBUSY) {
		vq_quiesce(vv);
		vq_set_addr(&vv->vq, &qa);
	}
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res set_vring_base(struct vhost_dev *dev, struct vhost_user_msg *msg,
					 int *fds __unused, unsigned n_fds __unused)
{
	struct vhost_vq *vv = msg_vq(dev, msg, msg->payload.state.index);

	if (!vv)
		return VHOST_MSG_ERR;
	vq_quiesce(vv);
	vq_set_base(&vv->vq, msg->payload.state.num);
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res get_vring_base(struct vhost_dev *dev, struct vhost_user_msg *msg,
					 int *fds __unused, unsigned n_fds __unused)
{
	uint32_t idx = msg->payload.state.index;
	struct vhost_vq *vv = msg_vq(dev, msg, idx);

	if (!vv)
		return VHOST_MSG_ERR;
	/* vhost-user.rst: stop the ring and return its state. The ring
	 * stays stopped until the next SET_VRING_KICK; kick and call fds are
	 * closed (the frontend sends them again when it restarts). */
	vq_quiesce(vv);
	vv->kick_set = false;
	vhost_vq_set_kick(dev, vv, -1, false);
	vhost_vq_set_call(dev, vv, -1);
	msg->payload.state.index = idx;
	msg->payload.state.num = vq_get_base(&vv->vq);
	msg->hdr.size = sizeof(msg->payload.state);
	VHOST_LOG(LOG_INFO, dev, "vq %u stopped at base 0x%x", idx, msg->payload.state.num);
	if (vhost_dev_update(dev))
		return VHOST_MSG_ERR;
	return VHOST_MSG_REPLY;
}

/* SET_VRING_KICK/CALL/ERR: u64 with the index in bits 0-7 and bit 8 set
 * when no fd is passed (the vq is then polled). */
static struct vhost_vq *vring_fd_msg(struct vhost_dev *dev, struct vhost_user_msg *msg,
				     unsigned n_fds, bool *nofd)
{
	uint64_t v = msg->payload.u64;
	struct vhost_vq *vv = msg_vq(dev, msg, v & VHOST_USER_VRING_IDX_MASK);

	if (!vv)
		return NULL;
	if (v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) {
		VHOST_LOG(LOG_ERR, dev, "%s: reserved bits in 0x%llx",
			  vhost_req_name(msg->hdr.request), (unsigned long long)v);
		return NULL;
	}
	*nofd = v & VHOST_USER_VRING_NOFD_MASK;
	if (n_fds != (*nofd ? 0u : 1u)) {
		VHOST_LOG(LOG_ERR, dev, "%s: vq %llu: %u fds, expected %u",
			  vhost_req_name(msg->hdr.request),
			  (unsigned long long)(v & VHOST_USER_VRING_IDX_MASK), n_fds, *nofd ? 0 : 1);
		return NULL;
	}
	return vv;
}

static enum vhost_msg_res set_vring_kick(struct vhost_dev *dev, struct vhost_user_msg *msg,
					 int *fds, unsigned n_fds)
{
	bool nofd;
	struct vhost_vq *vv = vring_fd_msg(dev, msg, n_fds, &nofd);

	if (!vv)
		return VHOST_MSG_ERR;
	vhost_vq_set_kick(dev, vv, nofd ? -1 : fds[0], nofd);
	if (!nofd)
		fds[0] = -1;
	vv->kick_set = true;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled when it
	 * starts (vhost-user.rst "Ring states"). */
	if (!(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		vq_set_enabled(&vv->vq, true);
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res set_vring_call(struct vhost_dev *dev, struct vhost_user_msg *msg,
					 int *fds, unsigned n_fds)
{
	bool nofd;
	struct vhost_vq *vv = vring_fd_msg(dev, msg, n_fds, &nofd);

	if (!vv)
		return VHOST_MSG_ERR;
	vhost_vq_set_call(dev, vv, nofd ? -1 : fds[0]);
	if (!nofd)
		fds[0] = -1;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res set_vring_err(struct vhost_dev *dev, struct vhost_user_msg *msg,
					int *fds, unsigned n_fds)
{
	bool nofd;
	struct vhost_vq *vv = vring_fd_msg(dev, msg, n_fds, &nofd);

	if (!vv)
		return VHOST_MSG_ERR;
	vhost_vq_set_err(dev, vv, nofd ? -1 : fds[0]);
	if (!nofd)
		fds[0] = -1;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res get_queue_num(struct vhost_dev *dev, struct vhost_user_msg *msg,
					int *fds __unused, unsigned n_fds __unused)
{
	return reply_u64(msg, dev->max_qp);
}

static enum vhost_msg_res set_vring_enable(struct vhost_dev *dev, struct vhost_user_msg *msg,
					   int *fds __unused, unsigned n_fds __unused)
{
	struct vhost_vq *vv = msg_vq(dev, msg, msg->payload.state.index);

	if (!vv)
		return VHOST_MSG_ERR;
	if (msg->payload.state.num > 1) {
		VHOST_LOG(LOG_ERR, dev, "SET_VRING_ENABLE: vq %u value %u",
			  msg->payload.state.index, msg->payload.state.num);
		return VHOST_MSG_ERR;
	}
	/* A single release store; a PMD mid-burst finishes that burst. */
	vq_set_enabled(&vv->vq, msg->payload.state.num == 1);
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res send_rarp(struct vhost_dev *dev, struct vhost_user_msg *msg,
				    int *fds __unused, unsigned n_fds __unused)
{
	memcpy(dev->rarp_mac, msg->payload.bytes, 6);
	__atomic_store_n(&dev->rarp_pending, 1, __ATOMIC_RELEASE);
	dev->counters[VHOST_C_RARP]++;
	VHOST_LOG(LOG_INFO, dev, "SEND_RARP %02x:%02x:%02x:%02x:%02x:%02x",
		  dev->rarp_mac[0], dev->rarp_mac[1], dev->rarp_mac[2],
		  dev->rarp_mac[3], dev->rarp_mac[4], dev->rarp_mac[5]);
	return VHOST_MSG_OK;
}

static enum vhost_msg_res net_set_mtu(struct vhost_dev *dev, struct vhost_user_msg *msg,
				      int *fds __unused, unsigned n_fds __unused)
{
	uint64_t mtu = msg->payload.u64;

	/* virtio 1.2 5.1.4.1: 68 ≤ mtu ≤ 65535. */
	if (mtu < 68 || mtu > 65535) {
		VHOST_LOG(LOG_ERR, dev, "NET_SET_MTU: %llu out of 68..65535",
			  (unsigned long long)mtu);
		return VHOST_MSG_ERR;
	}
	dev->mtu = (uint16_t)mtu;
	return VHOST_MSG_OK;
}

static enum vhost_msg_res set_status(struct vhost_dev *dev, struct vhost_user_msg *msg,
				     int *fds __unused, unsigned n_fds __unused)
{
	if (msg->payload.u64 > 0xff) {
		VHOST_LOG(LOG_ERR, dev, "SET_STATUS: 0x%llx", (unsigned long long)msg->payload.u64);
		return VHOST_MSG_ERR;
	}
	dev->status = (uint8_t)msg->payload.u64;
	dev->status_set = true;
	/* Clearing DRIVER_OK stops the rings but keeps their state, so a
	 * GET_VRING_BASE after it still returns where they were. */
	return vhost_dev_update(dev) ? VHOST_MSG_ERR : VHOST_MSG_OK;
}

static enum vhost_msg_res get_status(struct vhost_dev *dev, struct vhost_user_msg *msg,
				     int *fds __unused, unsigned n_fds __unused)
{
	return reply_u64(msg, dev->status);
}

#define U64	sizeof(uint64_t)
#define STATE	sizeof(struct vhost_user_vring_state)

static const struct msg_desc msg_table[VHOST_USER_MAX] = {
	[VHOST_USER_GET_FEATURES]	   = { "GET_FEATURES", get_features, 0, 0, U64 },
	[VHOST_USER_SET_FEATURES]	   = { "SET_FEATURES", set_features, 0, U64, U64 },
	[VHOST_USER_SET_OWNER]		   = { "SET_OWNER", set_owner, 0, 0, U64 },
	[VHOST_USER_RESET_OWNER]	   = { "RESET_OWNER", reset_owner, 0, 0, U64 },
	[VHOST_USER_SET_MEM_TABLE]	   = { "SET_MEM_TABLE", set_mem_table, FDS_VAR, 8,
					       sizeof(struct vhost_user_memory) },
	[VHOST_USER_SET_LOG_BASE]	   = { "SET_LOG_BASE", set_log_base, 1,
					       sizeof(struct vhost_user_log),
					       sizeof(struct vhost_user_log) },
	[VHOST_USER_SET_LOG_FD]		   = { "SET_LOG_FD", set_log_fd, 1, 0, U64 },
	[VHOST_USER_SET_VRING_NUM]	   = { "SET_VRING_NUM", set_vring_num, 0, STATE, STATE },
	[VHOST_USER_SET_VRING_ADDR]	   = { "SET_VRING_ADDR", set_vring_addr, 0,
					       sizeof(struct vhost_user_vring_addr),
					       sizeof(struct vhost_user_vring_addr) },
	[VHOST_USER_SET_VRING_BASE]	   = { "SET_VRING_BASE", set_vring_base, 0, STATE, STATE },
	[VHOST_USER_GET_VRING_BASE]	   = { "GET_VRING_BASE", get_vring_base, 0, STATE, STATE },
	[VHOST_USER_SET_VRING_KICK]	   = { "SET_VRING_KICK", set_vring_kick, FDS_VAR, U64, U64 },
	[VHOST_USER_SET_VRING_CALL]	   = { "SET_VRING_CALL", set_vring_call, FDS_VAR, U64, U64 },
	[VHOST_USER_SET_VRING_ERR]	   = { "SET_VRING_ERR", set_vring_err, FDS_VAR, U64, U64 },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", get_protocol_features,
					       0, 0, U64 },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", set_protocol_features,
					       0, U64, U64 },
	[VHOST_USER_GET_QUEUE_NUM]	   = { "GET_QUEUE_NUM", get_queue_num, 0, 0, U64 },
	[VHOST_USER_SET_VRING_ENABLE]	   = { "SET_VRING_ENABLE", set_vring_enable, 0,
					       STATE, STATE },
	[VHOST_USER_SEND_RARP]		   = { "SEND_RARP", send_rarp, 0, U64, U64 },
	[VHOST_USER_NET_SET_MTU]	   = { "NET_SET_MTU", net_set_mtu, 0, U64, U64 },
	[VHOST_USER_RESET_DEVICE]	   = { "RESET_DEVICE", reset_owner, 0, 0, U64 },
	[VHOST_USER_SET_STATUS]		   = { "SET_STATUS", set_status, 0, U64, U64 },
	[VHOST_USER_GET_STATUS]		   = { "GET_STATUS", get_status, 0, 0, U64 },
};

const char *vhost_req_name(uint32_t req)
{
	if (req < VHOST_USER_MAX && msg_table[req].name)
		return msg_table[req].name;
	return "UNKNOWN";
}

static int send_reply(struct vhost_dev *dev, struct vhost_user_msg *msg)
{
	msg->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	return vhost_conn_send(dev, msg, VHOST_USER_HDR_SIZE + msg->hdr.size);
}

int vhost_msg_dispatch(struct vhost_dev *dev, struct vhost_user_msg *msg,
		       int *fds, unsigned n_fds)
{
	uint32_t req = msg->hdr.request, size = msg->hdr.size;
	bool need_reply = msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	const struct msg_desc *d = req < VHOST_USER_MAX ? &msg_table[req] : NULL;
	enum vhost_msg_res res = VHOST_MSG_ERR;
	int err = 0;

	if (!d || !d->fn) {
		VHOST_LOG(LOG_ERR, dev, "unknown request %u", req);
		goto out;
	}
	if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (msg->hdr.flags & VHOST_USER_REPLY_MASK)) {
		VHOST_LOG(LOG_ERR, dev, "%s: bad flags 0x%x", d->name, msg->hdr.flags);
		goto out;
	}
	if (size < d->min_size || size > d->max_size || size > VHOST_USER_PAYLOAD_MAX) {
		VHOST_LOG(LOG_ERR, dev, "%s: payload of %u bytes, expected %u..%u",
			  d->name, size, d->min_size, d->max_size);
		goto out;
	}
	if (d->n_fds != FDS_VAR && n_fds != (unsigned)d->n_fds) {
		VHOST_LOG(LOG_ERR, dev, "%s: %u fds, expected %d", d->name, n_fds, d->n_fds);
		goto out;
	}
	/* Bytes past `size` are stale from an earlier message: zero them so
	 * a short (allowed) payload reads as zeros. */
	memset(msg->payload.bytes + size, 0, VHOST_USER_PAYLOAD_MAX - size);
	DLOG("vhost", "%s: %s size %u fds %u", dev->name, d->name, size, n_fds);
	res = d->fn(dev, msg, fds, n_fds);
out:
	/* The fds a handler did not keep, including every fd of a rejected
	 * message. */
	for (unsigned i = 0; i < n_fds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	switch (res) {
	case VHOST_MSG_REPLY:
		err = send_reply(dev, msg);
		break;
	case VHOST_MSG_OK:
		/* REPLY_ACK: the frontend waits for a u64 0 (success). */
		if (need_reply) {
			reply_u64(msg, 0);
			err = send_reply(dev, msg);
		}
		break;
	case VHOST_MSG_ERR:
		if (need_reply) {
			msg->hdr.request = req;
			reply_u64(msg, 1);
			(void)send_reply(dev, msg);
		}
		VHOST_LOG(LOG_ERR, dev, "%s (%u) failed: disconnecting the frontend",
			  vhost_req_name(req), req);
		return -EPROTO;
	}
	if (err)
		VHOST_LOG(LOG_ERR, dev, "%s: reply not sent: %s", vhost_req_name(req),
			  strerror(-err));
	return err;
}
