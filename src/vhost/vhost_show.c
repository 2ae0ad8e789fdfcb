/*
 * vhost show/stats: the device's state and counters as JSON for the port's
 * show and stats ops. Control thread.
 */
#include <string.h>

#include "vhost_priv.h"

static const char *const feature_names[64] = {
	[VIRTIO_NET_F_CSUM] = "CSUM",
	[VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
	[VIRTIO_NET_F_MTU] = "MTU",
	[VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
	[VIRTIO_NET_F_STATUS] = "STATUS",
	[VIRTIO_NET_F_MQ] = "MQ",
	[VIRTIO_F_NOTIFY_ON_EMPTY] = "NOTIFY_ON_EMPTY",
	[VHOST_F_LOG_ALL] = "LOG_ALL",
	[VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
	[VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
	[VHOST_USER_F_PROTOCOL_FEATURES] = "PROTOCOL_FEATURES",
	[VIRTIO_F_VERSION_1] = "VERSION_1",
	[VIRTIO_F_RING_PACKED] = "RING_PACKED",
	[VIRTIO_F_IN_ORDER] = "IN_ORDER",
};

static const char *const protocol_names[64] = {
	[VHOST_USER_PROTOCOL_F_MQ] = "MQ",
	[VHOST_USER_PROTOCOL_F_LOG_SHMFD] = "LOG_SHMFD",
	[VHOST_USER_PROTOCOL_F_RARP] = "RARP",
	[VHOST_USER_PROTOCOL_F_REPLY_ACK] = "REPLY_ACK",
	[VHOST_USER_PROTOCOL_F_NET_MTU] = "NET_MTU",
	[VHOST_USER_PROTOCOL_F_STATUS] = "STATUS",
};

json_t *vhost_feature_names(uint64_t features, bool protocol)
{
	const char *const *names = protocol ? protocol_names : feature_names;
	json_t *a = json_array();

	for (int b = 0; b < 64; b++) {
		char buf[16];

		if (!(features & (1ull << b)))
			continue;
		if (names[b]) {
			json_array_append_new(a, json_string(names[b]));
		} else {
			snprintf(buf, sizeof(buf), "bit%d", b);
			json_array_append_new(a, json_string(buf));
		}
	}
	return a;
}

/* Where the ring stands and what the guest asked for: a guest waiting for
 * a call that never came (used_idx past its used_event, calls not moving)
 * or a ring that stopped moving shows up here. */
static void show_ring(const struct vq *vq, json_t *q)
{
	struct vq_ring_state st;

	vq_ring_state(vq, &st);
	json_object_set_new(q, "last_avail", json_integer(st.last_avail));
	json_object_set_new(q, "last_used", json_integer(st.last_used));
	json_object_set_new(q, "calls", json_integer(__atomic_load_n(&vq->n_notify,
								      __ATOMIC_RELAXED)));
	if (!st.guest_valid)
		return;
	json_object_set_new(q, "guest_avail_idx", json_integer(st.avail_idx));
	json_object_set_new(q, "guest_avail_flags", json_integer(st.avail_flags));
	json_object_set_new(q, "used_idx", json_integer(st.used_idx));
	json_object_set_new(q, "guest_used_event", json_integer(st.used_event));
}

void vhost_dev_show(struct vhost_dev *dev, json_t *obj)
{
	json_t *qs = json_array();

	json_object_set_new(obj, "socket", json_string(dev->path));
	json_object_set_new(obj, "mode", json_string(dev->client ? "client" : "server"));
	json_object_set_new(obj, "connected", json_boolean(dev->connected));
	json_object_set_new(obj, "features", vhost_feature_names(dev->features, false));
	json_object_set_new(obj, "protocol_features",
			    vhost_feature_names(dev->protocol_features, true));
	json_object_set_new(obj, "mtu", json_integer(dev->mtu));
	json_object_set_new(obj, "max_queue_pairs", json_integer(dev->max_qp));
	if (dev->status_set)
		json_object_set_new(obj, "status", json_integer(dev->status));
	if (dev->mem)
		json_object_set_new(obj, "mem_regions", json_integer(dev->mem->n_regions));
	for (unsigned i = 0; i < 2u * dev->max_qp; i++) {
		const struct vhost_vq *vv = &dev->vqs[i];
		const struct vq *vq = &vv->vq;
		uint8_t broken = __atomic_load_n(&vq->broken, __ATOMIC_RELAXED);

		if (!vq->num && !vq->started && !vv->kick_set)
			continue;	/* never configured */
		json_t *q = json_pack("{s:i,s:s,s:b,s:b,s:s,s:i,s:b,s:s,s:b}",
			"vq", i, "dir", (i & 1) ? "guest_tx" : "guest_rx",
			"ready", vq_ready(vq), "enabled", vq->enabled,
			"ring", (vq->features & (1ull << VIRTIO_F_RING_PACKED)) ? "packed" : "split",
			"size", vq->num, "broken", broken != 0,
			"broken_reason", broken < VQ_BROKEN_MAX ? vq_broken_names[broken] : "?",
			"polling", vv->polling);

		show_ring(vq, q);
		json_array_append_new(qs, q);
	}
	json_object_set_new(obj, "queues", qs);
}

void vhost_dev_stats(struct vhost_dev *dev, json_t *extra)
{
	uint64_t broken[VQ_BROKEN_MAX] = { 0 }, notify = 0, notify_fail = 0, too_big = 0, wq = 0;
	uint64_t resync = 0;

	for (int c = 0; c < VHOST_C_MAX; c++)
		json_object_set_new(extra, vhost_counter_names[c], json_integer(dev->counters[c]));
	for (unsigned i = 0; i < VHOST_MAX_VQS; i++) {
		const struct vhost_vq *vv = &dev->vqs[i];

		for (int r = 1; r < VQ_BROKEN_MAX; r++)
			broken[r] += vv->n_broken_seen[r] +
				     __atomic_load_n(&vv->vq.n_broken[r], __ATOMIC_RELAXED);
		notify += __atomic_load_n(&vv->vq.n_notify, __ATOMIC_RELAXED);
		notify_fail += __atomic_load_n(&vv->vq.n_notify_fail, __ATOMIC_RELAXED);
		too_big += __atomic_load_n(&vv->vq.n_drop_too_big, __ATOMIC_RELAXED);
		wq += __atomic_load_n(&vv->vq.n_indirect_write_ignored, __ATOMIC_RELAXED);
		resync += vv->vq.n_base_from_used;
	}
	for (int r = 1; r < VQ_BROKEN_MAX; r++) {
		char name[64];

		snprintf(name, sizeof(name), "ring_error_%s", vq_broken_names[r]);
		json_object_set_new(extra, name, json_integer(broken[r]));
	}
	json_object_set_new(extra, "guest_notify", json_integer(notify));
	json_object_set_new(extra, "guest_notify_fail", json_integer(notify_fail));
	json_object_set_new(extra, "guest_tx_too_big", json_integer(too_big));
	json_object_set_new(extra, "guest_tx_indirect_write_flag", json_integer(wq));
	json_object_set_new(extra, "ring_base_from_used_idx", json_integer(resync));
}
