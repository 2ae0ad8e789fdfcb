/*
 * Packed virtqueue, device side (VIRTIO 1.2 §2.8). A descriptor is
 * available when its AVAIL bit equals our avail wrap counter and its USED
 * bit does not; a chain occupies consecutive slots linked by NEXT and its
 * buffer id is in the last descriptor. Used descriptors are written in
 * order; the first one's flags are stored last, with release, so a burst
 * becomes visible to the driver at once.
 */
#include "virtio_priv.h"

#define USED_BURST_MAX	512	/* used descriptors per enqueue burst */

/* One buffer segment, read once from guest memory. */
struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* Walk state of one chain (ring slots, or an indirect table). */
struct pwalk {
	const struct vring_packed_desc *tab;	/* indirect table, or NULL */
	uint32_t tab_n, tab_i;
	uint16_t slot;		/* ring slot of the current descriptor */
	uint16_t n_slots;	/* ring slots the chain occupies */
	uint16_t id;		/* buffer id (of the last descriptor) */
};

struct used_ent {
	uint16_t id;
	uint16_t n_slots;
	uint32_t len;
};

static inline bool is_avail(uint16_t flags, uint8_t wrap)
{
	return !!(flags & VRING_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(flags & VRING_PACKED_DESC_F_USED) != wrap;
}

/* Read addr, len and id exactly once; flags come from the caller. */
static inline void load_seg(const struct vring_packed_desc *d, uint16_t flags,
			    struct seg *s, uint16_t *id)
{
	s->addr = d->addr;
	s->len = d->len;
	*id = d->id;
	s->flags = flags;
	barrier();	/* no re-reading the guest's copy afterwards */
}

/* An indirect-table entry: the table's address is the guest's choice and
 * may be unaligned, so copy the whole entry once. Only WRITE is meaningful
 * in a table (VIRTIO 1.2 2.8.19); NEXT is ignored. */
static inline void load_tab_seg(const struct vring_packed_desc *src, struct seg *s)
{
	struct vring_packed_desc d;

	memcpy(&d, src, sizeof(d));
	barrier();
	s->addr = d.addr;
	s->len = d.len;
	s->flags = d.flags & ~VRING_DESC_F_NEXT;
}

/* Zero-length segments are legal and skipped (see vq_split.c check_desc). */
static inline bool check_seg(struct vq *vq, const struct seg *s, uint16_t want_write)
{
	if (unlikely(s->flags & VRING_DESC_F_INDIRECT))
		return vq_break(vq, VQ_BROKEN_INDIRECT);
	if (unlikely((s->flags & VRING_DESC_F_WRITE) != want_write))
		return vq_break(vq, VQ_BROKEN_WRITE_FLAG);
	return true;
}

/*
 * A segment of a packed indirect table. DPDK 22.11's virtio PMD (virtio-user)
 * initialises its tx indirect tables with VRING_DESC_F_WRITE and leaves the
 * flag on the header entry of multi-segment frames; DPDK's own vhost ignores
 * it. We accept the flag on a tx (device-readable) table entry and count it:
 * reading a buffer the driver marked writable risks nothing for us (it is
 * bounds-checked and copied like any other), and refusing it would cut off
 * every DPDK guest sending jumbo frames on a packed ring. Everywhere else,
 * and in the rx direction always, the flag must be right.
 */
static inline bool check_tab_seg(struct vq *vq, const struct seg *s, uint16_t want_write)
{
	if (unlikely(!want_write && (s->flags & VRING_DESC_F_WRITE) &&
		     !(s->flags & VRING_DESC_F_INDIRECT))) {
		COUNTER_ADD_RELAXED(vq->n_indirect_write_ignored, 1);
		return true;
	}
	return check_seg(vq, s, want_write);
}

/* 1: s is the chain's first segment; 0: nothing available; -1: broken. */
static int walk_first(struct vq *vq, const struct guest_mem *mem, struct pwalk *w,
		      uint16_t slot, uint8_t wrap, struct seg *s, uint16_t want_write)
{
	const struct vring_packed_desc *d = &vq->pdesc[slot];
	/* Acquire: the descriptor's other fields (and the chain behind it,
	 * written before the head's flags) are read after its flags. */
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);

	if (!is_avail(f, wrap))
		return 0;
	w->slot = slot;
	w->n_slots = 1;
	w->tab = NULL;
	load_seg(d, f, s, &w->id);
	if (f & VRING_DESC_F_INDIRECT) {
		/* VIRTIO 1.2 2.8.19: one table, no NEXT, whole descriptors. */
		if (unlikely(!(vq->mode & VQ_M_INDIRECT) || (f & VRING_DESC_F_NEXT) ||
			     s->len == 0 || s->len % 16 || s->len / 16 > vq->size))
			return vq_break(vq, VQ_BROKEN_INDIRECT) - 1;
		w->tab = gm_gpa_to_hva_hint(mem, s->addr, s->len, &vq->mem_hint);
		if (unlikely(!w->tab))
			return vq_break(vq, VQ_BROKEN_BUF_ADDR) - 1;
		w->tab_n = s->len / 16;
		w->tab_i = 0;
		load_tab_seg(&w->tab[0], s);
		return check_tab_seg(vq, s, want_write) ? 1 : -1;
	}
	return check_seg(vq, s, want_write) ? 1 : -1;
}

/* 1: s is the next segment; 0: end of chain; -1: broken. */
static inline int walk_next(struct vq *vq, struct pwalk *w, struct seg *s, uint16_t want_write)
{
	const struct vring_packed_desc *d;

	if (w->tab) {
		if (++w->tab_i >= w->tab_n)
			return 0;
		load_tab_seg(&w->tab[w->tab_i], s);
		return check_tab_seg(vq, s, want_write) ? 1 : -1;
	}
	if (!(s->flags & VRING_DESC_F_NEXT))
		return 0;
	if (unlikely(w->n_slots >= vq->size))	/* 2.8.17: at most size descriptors */
		return vq_break(vq, VQ_BROKEN_CHAIN_LEN) - 1;
	w->slot = (uint16_t)(w->slot + 1 == vq->size ? 0 : w->slot + 1);
	w->n_slots++;
	d = &vq->pdesc[w->slot];
	load_seg(d, __atomic_load_n(&d->flags, __ATOMIC_RELAXED), s, &w->id);
	return check_seg(vq, s, want_write) ? 1 : -1;
}

static inline void advance(struct vq *vq, uint16_t *slot, uint8_t *wrap, uint16_t n)
{
	uint32_t s = (uint32_t)*slot + n;

	if (s >= vq->size) {
		s -= vq->size;
		*wrap ^= 1;
	}
	*slot = (uint16_t)s;
}

static void notify(struct vq *vq, uint16_t old, uint16_t new_slot)
{
	uint16_t flags, off_wrap;
	bool kick;

	/* Full barrier: used flags stores before the suppression read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = __atomic_load_n(&vq->driver_event->flags, __ATOMIC_RELAXED);
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !(vq->mode & VQ_M_EVENT_IDX)) {
		kick = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	} else {
		/* 2.8.10: map slots of two laps onto one line and ask whether
		 * the event offset was passed in (old, new]. */
		int32_t o = old, n = new_slot, off;

		off_wrap = __atomic_load_n(&vq->driver_event->off_wrap, __ATOMIC_RELAXED);
		off = off_wrap & 0x7fff;
		if (n <= o)
			o -= vq->size;
		if ((off_wrap >> 15) != vq->used_wrap)
			off -= vq->size;
		kick = vring_need_event((uint16_t)off, (uint16_t)n, (uint16_t)o);
	}
	if (kick)
		vq_signal(vq);
}

static void publish(struct vq *vq, struct dirty_log *log, const struct used_ent *e, uint16_t k)
{
	uint16_t slot = vq->last_used_idx, old = slot, head_flags = 0;
	uint8_t wrap = vq->used_wrap;
	struct vring_packed_desc *head = &vq->pdesc[slot];

	for (uint16_t j = 0; j < k; j++) {
		struct vring_packed_desc *d = &vq->pdesc[slot];
		uint16_t f = (uint16_t)((wrap ? VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0) |
					(e[j].len ? VRING_DESC_F_WRITE : 0));

		d->id = e[j].id;
		d->len = e[j].len;
		if (j == 0)
			head_flags = f;
		else
			__atomic_store_n(&d->flags, f, __ATOMIC_RELAXED);
		if (unlikely(log != NULL))
			dirty_log_mark(log, vq->log_desc_gpa + 16ull * slot, 16);
		advance(vq, &slot, &wrap, e[j].n_slots);
	}
	/* Release: every id/len/flags above and the buffer contents are
	 * visible before the head descriptor turns used. */
	__atomic_store_n(&head->flags, head_flags, __ATOMIC_RELEASE);
	vq->last_used_idx = slot;
	vq->used_wrap = wrap;
	notify(vq, old, slot);
}

/* 1: pkt filled; 2: too big, dropped; 0: nothing available; -1: broken. */
static int dequeue_one(struct vq *vq, const struct guest_mem *mem, struct pwalk *w,
		       struct pkt *p)
{
	struct tx_copy t = { 0 };
	struct seg s;
	int r = walk_first(vq, mem, w, vq->last_avail_idx, vq->avail_wrap, &s, 0);

	if (r <= 0)
		return r;
	do {
		if (unlikely(tx_copy_seg(vq, mem, &t, p, s.addr, s.len) < 0))
			return -1;
		r = walk_next(vq, w, &s, 0);
	} while (r > 0);
	if (unlikely(r < 0))
		return -1;
	if (unlikely(w->id >= vq->size))
		return vq_break(vq, VQ_BROKEN_PACKED_ID) - 1;
	/* This function counts 1 = filled, 2 = dropped. */
	r = tx_copy_finish(vq, &t, p);
	return r < 0 ? -1 : r + 1;
}

uint16_t vq_packed_dequeue(struct vq *vq, const struct guest_mem *mem,
			   struct pkt **pkts, uint16_t n)
{
	struct used_ent e[PKT_BURST];
	struct dirty_log *log = vq_log(vq);
	uint16_t out = 0, k = 0;

	n = MIN(n, PKT_BURST);
	while (k < n) {
		struct pkt *p = pkt_alloc();
		struct pwalk w;
		int r;

		if (unlikely(!p))
			break;
		r = dequeue_one(vq, mem, &w, p);
		if (r <= 0) {
			pkt_free(p);
			break;
		}
		if (likely(r == 1))
			pkts[out++] = p;
		else
			pkt_free(p);
		e[k++] = (struct used_ent){ .id = w.id, .n_slots = w.n_slots, .len = 0 };
		advance(vq, &vq->last_avail_idx, &vq->avail_wrap, w.n_slots);
	}
	if (k)
		publish(vq, log, e, k);
	return out;
}

/* Fill the chain at (slot, wrap) from the stream. 1: done, *ue set;
 * 0: no buffer available; -1: broken. */
static int fill_chain(struct vq *vq, const struct guest_mem *mem, struct dirty_log *log,
		      uint16_t slot, uint8_t wrap, struct rx_stream *st, struct used_ent *ue)
{
	struct pwalk w;
	struct seg s;
	uint32_t written = 0;
	int r = walk_first(vq, mem, &w, slot, wrap, &s, VRING_DESC_F_WRITE);

	if (r <= 0)
		return r;
	do {
		if (st->off < st->total) {
			int64_t n = rx_stream_put(st, mem, &vq->mem_hint, log, s.addr, s.len);

			if (unlikely(n < 0))
				return vq_break(vq, VQ_BROKEN_BUF_ADDR) - 1;
			written += (uint32_t)n;
		}
		/* Walk to the end even when full: the chain's slot count
		 * decides where the next buffer starts. */
		r = walk_next(vq, &w, &s, VRING_DESC_F_WRITE);
	} while (r > 0);
	if (unlikely(r < 0))
		return -1;
	if (unlikely(w.id >= vq->size))
		return vq_break(vq, VQ_BROKEN_PACKED_ID) - 1;
	*ue = (struct used_ent){ .id = w.id, .n_slots = w.n_slots, .len = written };
	return 1;
}

uint16_t vq_packed_enqueue(struct vq *vq, const struct guest_mem *mem,
			   struct pkt **pkts, uint16_t n)
{
	struct used_ent e[USED_BURST_MAX];
	struct dirty_log *log = vq_log(vq);
	uint16_t slot = vq->last_avail_idx, k = 0, done;
	uint8_t wrap = vq->avail_wrap;
	bool mrg = vq->mode & VQ_M_MRG;

	for (done = 0; done < n; done++) {
		struct pkt *p = pkts[done];
		uint16_t slot0 = slot, k0 = k, nbufs = 0;
		uint8_t wrap0 = wrap;
		struct virtio_net_hdr h;
		struct rx_stream st;

		vq_pkt_to_hdr(vq, p, &h);
		h.num_buffers = 1;
		st = (struct rx_stream){ .hdr = (const uint8_t *)&h, .data = p->data,
			.hdr_len = vq->hdr_len, .total = vq->hdr_len + (uint32_t)p->len };
		while (st.off < st.total) {
			if ((!mrg && nbufs) || k == USED_BURST_MAX)
				goto no_room;
			if (fill_chain(vq, mem, log, slot, wrap, &st, &e[k]) <= 0)
				goto no_room;
			advance(vq, &slot, &wrap, e[k].n_slots);
			k++;
			nbufs++;
		}
		if (nbufs > 1)
			rx_stream_set_nbufs(&st, mem, &vq->mem_hint, log, nbufs);
		continue;
no_room:
		slot = slot0;
		wrap = wrap0;
		k = k0;
		break;
	}
	if (k) {
		vq->last_avail_idx = slot;
		vq->avail_wrap = wrap;
		publish(vq, log, e, k);
	}
	return done;
}

bool vq_packed_kick_enable(struct vq *vq, bool enable)
{
	struct dirty_log *log = vq_log(vq);

	__atomic_store_n(&vq->device_event->flags,
			 enable ? VRING_PACKED_EVENT_FLAG_ENABLE : VRING_PACKED_EVENT_FLAG_DISABLE,
			 __ATOMIC_RELAXED);
	if (unlikely(log != NULL))
		dirty_log_mark(log, vq->log_used_gpa, sizeof(*vq->device_event));
	if (!enable)
		return false;
	/* Full barrier: the flag store is visible before we look for work. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_packed_has_work(vq);
}

bool vq_packed_has_work(const struct vq *vq)
{
	return is_avail(__atomic_load_n(&vq->pdesc[vq->last_avail_idx].flags, __ATOMIC_ACQUIRE),
			vq->avail_wrap);
}
