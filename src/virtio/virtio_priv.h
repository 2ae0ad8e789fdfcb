/*
 * Private helpers shared by the split and packed ring code: counters,
 * breaking a vq, copies between guest memory and packets, dirty logging.
 */
#ifndef XVIO_VIRTIO_PRIV_H
#define XVIO_VIRTIO_PRIV_H

#include <string.h>

#include "virtio.h"

/* Single-writer counter: relaxed load + store, no RMW (see port.h). */
#define COUNTER_ADD_RELAXED(c, n) \
	__atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

/* Mark the vq broken (sticky) and count why. Returns false for tail calls. */
bool vq_break(struct vq *vq, enum vq_broken why) __cold;

static inline struct dirty_log *vq_log(const struct vq *vq)
{
	if (likely(!(vq->mode & VQ_M_LOG)))
		return NULL;
	/* Pairs with the release store in vq_set_dirty_log: the log's fields
	 * are visible before its pointer. */
	return __atomic_load_n(&vq->log, __ATOMIC_ACQUIRE);
}

/* Log a write to the used ring at byte offset off of length len. */
static inline void vq_log_used(const struct vq *vq, struct dirty_log *log,
			       uint64_t off, uint64_t len)
{
	if (unlikely(log != NULL) && (vq->mode & VQ_M_LOG_USED))
		dirty_log_mark(log, vq->log_used_gpa + off, len);
}

/*
 * memcpy for frame bytes: a minimum-size frame (60 to 128 bytes, the
 * packet-rate case) as overlapping 32-byte moves the compiler keeps in
 * registers, instead of a call through the PLT into libc's size dispatch
 * (3 % of the PMD at 64 bytes, perf). Other sizes go to memcpy.
 */
static inline void vq_copy_frame(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint8_t a[32], b[32], c[32], e[32];

	if (likely(n >= 32 && n <= 64)) {
		memcpy(a, s, 32);
		memcpy(b, s + n - 32, 32);
		memcpy(d, a, 32);
		memcpy(d + n - 32, b, 32);
	} else if (n > 64 && n <= 128) {
		memcpy(a, s, 32);
		memcpy(b, s + 32, 32);
		memcpy(c, s + n - 64, 32);
		memcpy(e, s + n - 32, 32);
		memcpy(d, a, 32);
		memcpy(d + 32, b, 32);
		memcpy(d + n - 64, c, 32);
		memcpy(d + n - 32, e, 32);
	} else {
		memcpy(d, s, n);
	}
}

/*
 * Copy len bytes of guest memory at gpa to dst, piece by piece across
 * adjacent regions. false if any byte is unmapped or the range wraps.
 */
static inline bool gm_copy_from(const struct guest_mem *mem, unsigned *hint,
				void *dst, uint64_t gpa, uint64_t len)
{
	uint8_t *d = dst;

	if (unlikely(gpa + len < gpa))
		return false;
	while (len) {
		uint64_t n;
		const void *s = gm_gpa_contig(mem, gpa, len, hint, &n);

		if (unlikely(!s))
			return false;
		vq_copy_frame(d, s, n);
		d += n;
		gpa += n;
		len -= n;
	}
	return true;
}

/* The same towards the guest, logging the pages written when log != NULL. */
static inline bool gm_copy_to(const struct guest_mem *mem, unsigned *hint,
			      struct dirty_log *log, uint64_t gpa, const void *src, uint64_t len)
{
	const uint8_t *s = src;

	uint64_t gpa0 = gpa, len0 = len;

	if (unlikely(gpa + len < gpa))
		return false;
	while (len) {
		uint64_t n;
		void *d = gm_gpa_contig(mem, gpa, len, hint, &n);

		if (unlikely(!d))
			return false;
		vq_copy_frame(d, s, n);
		s += n;
		gpa += n;
		len -= n;
	}
	/* After the bytes, never before: QEMU may read and clear the bit
	 * and send the page in between, and the bytes would never be sent. */
	if (unlikely(log != NULL))
		dirty_log_mark(log, gpa0, len0);
	return true;
}

/* virtio_net_hdr → pkt offload fields (tx direction). */
static inline void vq_hdr_to_pkt(const struct virtio_net_hdr *h, struct pkt *p)
{
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		p->flags |= PKT_F_CSUM_PARTIAL;
		p->csum_start = h->csum_start;
		p->csum_offset = h->csum_offset;
	} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		p->flags |= PKT_F_CSUM_VALID;
	}
	p->gso_type = h->gso_type;
	p->gso_size = h->gso_size;
}

/* pkt → virtio_net_hdr (rx direction); num_buffers set by the caller. */
static inline void vq_pkt_to_hdr(const struct vq *vq, const struct pkt *p,
				 struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!(vq->mode & VQ_M_GUEST_CSUM))
		return;
	if (p->flags & PKT_F_CSUM_PARTIAL) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = p->csum_start;
		h->csum_offset = p->csum_offset;
	} else if (p->flags & PKT_F_CSUM_VALID) {
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
}

/*
 * Writer of one rx frame as a byte stream (header then data) into guest
 * buffers. The position of num_buffers is recorded on the way so it can be
 * patched once the frame's buffer count is known.
 */
struct rx_stream {
	const uint8_t *hdr;
	const uint8_t *data;
	uint32_t hdr_len;
	uint32_t total;		/* hdr_len + frame length */
	uint32_t off;		/* bytes written so far */
	uint64_t nb_gpa[2];	/* gpa of num_buffers' two bytes */
};

/* Write the next piece of the stream into guest [gpa, gpa + len); returns
 * bytes written (≤ len) or -1 if the buffer is unmapped. */
int64_t rx_stream_put(struct rx_stream *st, const struct guest_mem *mem, unsigned *hint,
		      struct dirty_log *log, uint64_t gpa, uint32_t len);
/* Store num_buffers into the header already written. */
void rx_stream_set_nbufs(struct rx_stream *st, const struct guest_mem *mem, unsigned *hint,
			 struct dirty_log *log, uint16_t nbufs);

/* Signal the call eventfd (non-blocking; failure only counted). */
void vq_signal(struct vq *vq);

/* Ring-specific bursts. */
uint16_t vq_split_dequeue(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n);
uint16_t vq_split_enqueue(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n);
bool vq_split_kick_enable(struct vq *vq, bool enable);
bool vq_split_has_work(const struct vq *vq);
uint16_t vq_packed_dequeue(struct vq *vq, const struct guest_mem *mem,
			   struct pkt **pkts, uint16_t n);
uint16_t vq_packed_enqueue(struct vq *vq, const struct guest_mem *mem,
			   struct pkt **pkts, uint16_t n);
bool vq_packed_kick_enable(struct vq *vq, bool enable);
bool vq_packed_has_work(const struct vq *vq);



/* Is every byte of guest [gpa, gpa + len) mapped (possibly over adjacent
 * regions)? */
static inline bool gm_range_ok(const struct guest_mem *mem, unsigned *hint,
			       uint64_t gpa, uint64_t len)
{
	if (unlikely(gpa + len < gpa))
		return false;
	while (len) {
		uint64_t n;

		if (!gm_gpa_contig(mem, gpa, len, hint, &n))
			return false;
		gpa += n;
		len -= n;
	}
	return true;
}

/*
 * Copying one tx frame out of its chain, segment by segment, the same for
 * split and packed rings: the virtio_net_hdr is gathered first (it may span
 * segments), then the data. A frame over PKT_DATA_MAX but within VQ_MAX_FRAME
 * is still walked and bounds-checked, then dropped, not treated as broken.
 */
struct tx_copy {
	struct virtio_net_hdr h;
	uint32_t hdr_got, plen;
	uint64_t total;
	bool too_big;
};

/* 0, or -1 with the vq broken. */
static inline int tx_copy_seg(struct vq *vq, const struct guest_mem *mem, struct tx_copy *t,
			      struct pkt *p, uint64_t gpa, uint64_t len)
{
	t->total += len;
	if (unlikely(t->total > VQ_MAX_FRAME))
		return vq_break(vq, VQ_BROKEN_FRAME_LEN) - 1;
	if (unlikely(t->hdr_got < vq->hdr_len)) {
		uint32_t n = (uint32_t)MIN(len, (uint64_t)(vq->hdr_len - t->hdr_got));

		if (unlikely(!gm_copy_from(mem, &vq->mem_hint, (uint8_t *)&t->h + t->hdr_got,
					   gpa, n)))
			return vq_break(vq, VQ_BROKEN_BUF_ADDR) - 1;
		t->hdr_got += n;
		gpa += n;
		len -= n;
	}
	if (likely(len)) {
		if (unlikely(t->too_big || t->plen + len > PKT_DATA_MAX)) {
			t->too_big = true;
			if (unlikely(!gm_range_ok(mem, &vq->mem_hint, gpa, len)))
				return vq_break(vq, VQ_BROKEN_BUF_ADDR) - 1;
		} else {
			if (unlikely(!gm_copy_from(mem, &vq->mem_hint, p->data + t->plen, gpa, len)))
				return vq_break(vq, VQ_BROKEN_BUF_ADDR) - 1;
			t->plen += (uint32_t)len;
		}
	}
	return 0;
}

/* After the last segment: 0 = pkt filled; 1 = too big, dropped and counted;
 * -1 = vq broken (header cut short). */
static inline int tx_copy_finish(struct vq *vq, const struct tx_copy *t, struct pkt *p)
{
	if (unlikely(t->hdr_got < vq->hdr_len))
		return vq_break(vq, VQ_BROKEN_SHORT_HDR) - 1;
	if (unlikely(t->too_big)) {
		COUNTER_ADD_RELAXED(vq->n_drop_too_big, 1);
		return 1;
	}
	p->len = (uint16_t)t->plen;
	vq_hdr_to_pkt(&t->h, p);
	return 0;
}

/* VIRTIO 1.2 2.7.10: should the other side be notified, given the event
 * index it asked for, the new index and the one at the last notification? */
static inline bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}
#endif
