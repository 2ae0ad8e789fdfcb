/*
 * Virtqueue configuration (control thread), the burst entry points that
 * pick the split or packed implementation, notifications and the rx stream
 * writer shared by both ring layouts.
 */
#include <fcntl.h>
#include <unistd.h>

#include "virtio_priv.h"

const char *const vq_broken_names[VQ_BROKEN_MAX] = {
	[VQ_BROKEN_NONE] = "none",
#define X(e, s) [VQ_BROKEN_##e] = s,
	VQ_BROKEN_REASONS(X)
#undef X
};

void vq_init(struct vq *vq, uint16_t index)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->callfd = -1;
	vq->kickfd = -1;
	vq->hdr_len = 12;
}

int vq_set_num(struct vq *vq, uint32_t num)
{
	if (vq->started)
		return -EBUSY;
	if (num == 0 || num > VQ_MAX_SIZE)
		return -EINVAL;
	vq->num = num;
	return 0;
}

int vq_set_addr(struct vq *vq, const struct vq_addr *addr)
{
	if (vq->started) {
		/* QEMU re-sends the addresses to flip VHOST_VRING_F_LOG when
		 * migration starts; only that may change on a live vq. */
		if (addr->desc_uva != vq->addr.desc_uva || addr->used_uva != vq->addr.used_uva ||
		    addr->avail_uva != vq->addr.avail_uva || addr->log_gpa != vq->addr.log_gpa)
			return -EBUSY;
		vq->addr.flags = addr->flags;
		vq->log_used_gpa = addr->log_gpa;
		__atomic_store_n(&vq->mode, (uint8_t)((vq->mode & ~VQ_M_LOG_USED) |
			((addr->flags & VHOST_VRING_F_LOG) ? VQ_M_LOG_USED : 0)), __ATOMIC_RELEASE);
		return 0;
	}
	vq->addr = *addr;
	vq->log_used_gpa = addr->log_gpa;
	vq->addr_set = true;
	return 0;
}

int vq_set_base(struct vq *vq, uint32_t base)
{
	if (vq->started)
		return -EBUSY;
	vq->base = base;
	vq->base_set = true;
	vq->last_avail_idx = (uint16_t)base;
	vq->last_used_idx = (uint16_t)base;
	return 0;
}

uint32_t vq_get_base(const struct vq *vq)
{
	if (vq->features & (1ull << VIRTIO_F_RING_PACKED)) {
		/* Not started since SET_VRING_BASE: give back what we were told. */
		if (!vq->size || vq->base_set)
			return vq->base;
		return (uint32_t)(vq->last_avail_idx | (vq->avail_wrap << 15)) |
		       (uint32_t)(vq->last_used_idx | (vq->used_wrap << 15)) << 16;
	}
	return vq->last_avail_idx;
}

void vq_ring_state(const struct vq *vq, struct vq_ring_state *st)
{
	memset(st, 0, sizeof(*st));
	st->last_avail = vq->last_avail_idx;
	st->last_used = vq->last_used_idx;
	if (!vq->started || (vq->mode & VQ_M_PACKED))
		return;
	/* Racy against the guest and the PMD by nature: a snapshot. */
	st->guest_valid = true;
	st->avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED);
	st->avail_flags = __atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED);
	st->used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED);
	st->used_event = __atomic_load_n(&vq->avail->ring[vq->size], __ATOMIC_RELAXED);
}

void vq_set_features(struct vq *vq, uint64_t features)
{
	vq->features = features;
	/* LOG_ALL may be acked while running (migration start): only the log
	 * bit changes on a live vq. */
	if (vq->started)
		__atomic_store_n(&vq->mode, (uint8_t)((vq->mode & ~VQ_M_LOG) |
			((features & (1ull << VHOST_F_LOG_ALL)) ? VQ_M_LOG : 0)), __ATOMIC_RELEASE);
}

void vq_set_callfd(struct vq *vq, int fd)
{
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && !(fl & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	__atomic_store_n(&vq->callfd, fd, __ATOMIC_RELEASE);
}

void vq_set_kickfd(struct vq *vq, int fd)
{
	vq->kickfd = fd;
}

static void update_live(struct vq *vq)
{
	/* Release: every field vq_start wrote is visible before a PMD sees
	 * the vq live (paired with the acquire in vq_ready). */
	__atomic_store_n(&vq->live, (uint8_t)(vq->started && vq->enabled), __ATOMIC_RELEASE);
}

void vq_set_enabled(struct vq *vq, bool enabled)
{
	vq->enabled = enabled;
	update_live(vq);
}

void vq_set_dirty_log(struct vq *vq, struct dirty_log *log)
{
	__atomic_store_n(&vq->log, log, __ATOMIC_RELEASE);
}

static uint8_t mode_of(uint64_t f, uint32_t addr_flags)
{
	uint8_t m = 0;

	if (f & (1ull << VIRTIO_F_RING_PACKED))
		m |= VQ_M_PACKED;
	if (f & (1ull << VIRTIO_NET_F_MRG_RXBUF))
		m |= VQ_M_MRG;
	if (f & (1ull << VIRTIO_RING_F_INDIRECT_DESC))
		m |= VQ_M_INDIRECT;
	if (f & (1ull << VIRTIO_RING_F_EVENT_IDX))
		m |= VQ_M_EVENT_IDX;
	if (f & (1ull << VIRTIO_NET_F_GUEST_CSUM))
		m |= VQ_M_GUEST_CSUM;
	if (f & (1ull << VHOST_F_LOG_ALL))
		m |= VQ_M_LOG;
	if (addr_flags & VHOST_VRING_F_LOG)
		m |= VQ_M_LOG_USED;
	return m;
}

int vq_start(struct vq *vq, const struct guest_mem *mem)
{
	uint8_t mode = mode_of(vq->features, vq->addr.flags);
	uint32_t num = vq->num;
	uint64_t dlen, alen, ulen;
	void *d, *a, *u;

	vq->started = false;
	update_live(vq);
	if (!vq->addr_set || num == 0)
		return -EINVAL;
	/* Without a SET_VRING_BASE since the last stop, resume where the
	 * bursts left off. Read here, not in vq_stop: a PMD may still be in a
	 * burst when vq_stop returns; the caller's grace period is over now. */
	if (!vq->base_set)
		vq->base = vq_get_base(vq);
	if (mode & VQ_M_PACKED) {
		dlen = 16ull * num;
		alen = ulen = sizeof(struct vring_packed_desc_event);
	} else {
		if (num & (num - 1))	/* VIRTIO 1.2 2.7: split size is a power of 2 */
			return -EINVAL;
		dlen = vring_desc_bytes(num);
		alen = vring_avail_bytes(num);
		ulen = vring_used_bytes(num);
	}
	d = gm_uva_to_hva(mem, vq->addr.desc_uva, dlen);
	a = gm_uva_to_hva(mem, vq->addr.avail_uva, alen);
	u = gm_uva_to_hva(mem, vq->addr.used_uva, ulen);
	if (!d || !a || !u)
		return -EFAULT;
	/* Alignment of VIRTIO 1.2 2.7 table 2.2 (packed: 16/4/4). */
	if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3))
		return -EINVAL;
	vq->log_desc_gpa = gm_uva_to_gpa(mem, vq->addr.desc_uva, dlen);
	if (mode & VQ_M_PACKED)	/* device area, for the kick-suppression writes */
		vq->log_used_gpa = gm_uva_to_gpa(mem, vq->addr.used_uva, ulen);
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->size = (uint16_t)(num == VQ_MAX_SIZE ? VQ_MAX_SIZE : num);
	vq->mask = (uint16_t)(num - 1);
	vq->mode = mode;
	vq->hdr_len = (vq->features & ((1ull << VIRTIO_F_VERSION_1) |
				       (1ull << VIRTIO_NET_F_MRG_RXBUF))) ? 12 : 10;
	vq->mem_hint = 0;
	if (mode & VQ_M_PACKED) {
		uint16_t lo = (uint16_t)vq->base, hi = (uint16_t)(vq->base >> 16);

		if (hi == 0)	/* only the avail half given: used = avail */
			hi = lo;
		vq->last_avail_idx = lo & 0x7fff;
		vq->avail_wrap = (lo >> 15) & 1;
		vq->last_used_idx = hi & 0x7fff;
		vq->used_wrap = (hi >> 15) & 1;
		if (vq->last_avail_idx >= num || vq->last_used_idx >= num)
			return -EINVAL;
	} else {
		/* used->idx is the commit point of whoever served this ring
		 * last — us before a crash included: buffers are completed in
		 * avail order and none is held across bursts, so every avail
		 * entry before used->idx is done and none after it is (a tx
		 * frame is handed back before it is forwarded, an rx buffer
		 * filled but not yet published is simply filled again). A peer
		 * that lost the position is corrected from it: QEMU restores
		 * the base from used->idx when GET_VRING_BASE found the old
		 * backend dead, DPDK's virtio-user sends 0 on every reconnect
		 * (DPDK's vhost resyncs the same way). */
		uint16_t used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);

		if (used_idx != (uint16_t)vq->base) {
			vq->n_base_from_used++;
			LOG(LOG_INFO, "virtio", "vq %u: base %u, resuming at used idx %u",
			    vq->index, (uint16_t)vq->base, used_idx);
		}
		vq->last_avail_idx = used_idx;
		vq->last_used_idx = used_idx;
	}
	vq->signalled_used = vq->last_used_idx;
	vq->base_set = false;
	/* PMDs poll: a guest kick costs it a VM exit we never read. Kicks are
	 * armed only by a PMD about to sleep (vq_kick_enable(true)), and only
	 * on the queues it receives from; the guest's rx queues never need
	 * them. */
	if (mode & VQ_M_PACKED)
		vq_packed_kick_enable(vq, false);
	else
		vq_split_kick_enable(vq, false);
	vq->started = true;
	update_live(vq);
	return 0;
}

void vq_stop(struct vq *vq)
{
	vq->started = false;
	update_live(vq);
	/* The next vq_start resumes where the bursts stopped (it reads the
	 * indexes then, after the grace period). */
}

bool vq_break(struct vq *vq, enum vq_broken why)
{
	if (!vq->broken) {
		__atomic_store_n(&vq->broken, (uint8_t)why, __ATOMIC_RELAXED);
		LOG_RL(LOG_WARN, "virtio", "vq %u broken: %s", vq->index, vq_broken_names[why]);
	}
	COUNTER_ADD_RELAXED(vq->n_broken[why], 1);
	return false;
}

void vq_signal(struct vq *vq)
{
	int fd = __atomic_load_n(&vq->callfd, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (fd < 0)
		return;
	COUNTER_ADD_RELAXED(vq->n_notify, 1);
	/* Non-blocking: a full counter (EAGAIN) or a bogus fd is only
	 * counted, it can never stall the PMD. */
	if (unlikely(write(fd, &one, sizeof(one)) != sizeof(one)))
		COUNTER_ADD_RELAXED(vq->n_notify_fail, 1);
}

uint16_t vq_dequeue_burst(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n)
{
	if (unlikely(!vq_ready(vq)))
		return 0;
	if (vq->mode & VQ_M_PACKED)
		return vq_packed_dequeue(vq, mem, pkts, n);
	return vq_split_dequeue(vq, mem, pkts, n);
}

uint16_t vq_enqueue_burst(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n)
{
	if (unlikely(!vq_ready(vq)))
		return 0;
	if (vq->mode & VQ_M_PACKED)
		return vq_packed_enqueue(vq, mem, pkts, n);
	return vq_split_enqueue(vq, mem, pkts, n);
}

bool vq_kick_enable(struct vq *vq, bool enable)
{
	if (!vq_ready(vq))
		return false;
	if (vq->mode & VQ_M_PACKED)
		return vq_packed_kick_enable(vq, enable);
	return vq_split_kick_enable(vq, enable);
}

bool vq_has_work(const struct vq *vq)
{
	if (!vq_ready(vq))
		return false;
	if (vq->mode & VQ_M_PACKED)
		return vq_packed_has_work(vq);
	return vq_split_has_work(vq);
}

int64_t rx_stream_put(struct rx_stream *st, const struct guest_mem *mem, unsigned *hint,
		      struct dirty_log *log, uint64_t gpa, uint32_t len)
{
	uint32_t done = 0;

	if (unlikely(gpa + len < gpa))
		return -1;
	while (done < len && st->off < st->total) {
		uint32_t want = MIN(len - done, st->total - st->off);
		const uint8_t *src;
		uint32_t n;

		if (st->off < st->hdr_len) {
			src = st->hdr + st->off;
			n = MIN(want, st->hdr_len - st->off);
			/* Remember where num_buffers (header bytes 10, 11) lands. */
			for (uint32_t b = 10; b < 12 && b < st->hdr_len; b++)
				if (b >= st->off && b < st->off + n)
					st->nb_gpa[b - 10] = gpa + done + (b - st->off);
		} else {
			src = st->data + (st->off - st->hdr_len);
			n = want;
		}
		if (unlikely(!gm_copy_to(mem, hint, log, gpa + done, src, n)))
			return -1;
		done += n;
		st->off += n;
	}
	return done;
}

void rx_stream_set_nbufs(struct rx_stream *st, const struct guest_mem *mem, unsigned *hint,
			 struct dirty_log *log, uint16_t nbufs)
{
	uint8_t b[2];

	memcpy(b, &nbufs, 2);
	/* Both bytes were written (and checked) by rx_stream_put already. */
	if (likely(st->nb_gpa[1] == st->nb_gpa[0] + 1)) {
		(void)gm_copy_to(mem, hint, log, st->nb_gpa[0], b, 2);
		return;
	}
	(void)gm_copy_to(mem, hint, log, st->nb_gpa[0], &b[0], 1);
	(void)gm_copy_to(mem, hint, log, st->nb_gpa[1], &b[1], 1);
}
