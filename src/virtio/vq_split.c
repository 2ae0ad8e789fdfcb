/*
 * Split virtqueue, device side (VIRTIO 1.2 §2.7). One avail-index acquire
 * load and one used-index release store per burst; each descriptor is read
 * from guest memory once into a local and validated before use.
 */
#include "virtio_priv.h"

/* Walk state of one descriptor chain, possibly through an indirect table. */
struct chain {
	const struct vring_desc *table;
	uint32_t table_size;
	uint32_t n_seen;
};

/* Read a descriptor exactly once. The compiler barrier forbids it to
 * re-read the guest's copy instead of using ours (no double fetch). */
static inline void load_desc(const struct vring_desc *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	barrier();
}

/* Checks every descriptor of a chain must pass; want_write is the
 * direction (rx: writable buffers, tx: read-only). A zero-length buffer is
 * legal (VIRTIO 1.2 2.7.5 does not forbid it, and DPDK's virtio PMD posts
 * one per empty mbuf segment): it is skipped, its address never touched. */
static inline bool check_desc(struct vq *vq, const struct vring_desc *d, uint16_t want_write)
{
	if (unlikely(d->flags & VRING_DESC_F_INDIRECT))
		return vq_break(vq, VQ_BROKEN_INDIRECT);	/* nested or in a chain */
	if (unlikely((d->flags & VRING_DESC_F_WRITE) != want_write))
		return vq_break(vq, VQ_BROKEN_WRITE_FLAG);
	return true;
}

static bool chain_first(struct vq *vq, const struct guest_mem *mem, struct chain *c,
			uint16_t head, struct vring_desc *d, uint16_t want_write)
{
	if (unlikely(head >= vq->size))
		return vq_break(vq, VQ_BROKEN_HEAD_IDX);
	c->table = vq->desc;
	c->table_size = vq->size;
	c->n_seen = 1;
	load_desc(&vq->desc[head], d);
	if (d->flags & VRING_DESC_F_INDIRECT) {
		/* VIRTIO 1.2 2.7.5.3.1: only with INDIRECT_DESC, never with
		 * NEXT, a whole number of descriptors, not nested. */
		if (unlikely(!(vq->mode & VQ_M_INDIRECT) || (d->flags & VRING_DESC_F_NEXT) ||
			     d->len == 0 || d->len % sizeof(*d) ||
			     d->len / sizeof(*d) > vq->size))
			return vq_break(vq, VQ_BROKEN_INDIRECT);
		c->table = gm_gpa_to_hva_hint(mem, d->addr, d->len, &vq->mem_hint);
		if (unlikely(!c->table))
			return vq_break(vq, VQ_BROKEN_BUF_ADDR);
		c->table_size = d->len / sizeof(*d);
		load_desc(&c->table[0], d);
	}
	return check_desc(vq, d, want_write);
}

/* 1: d holds the next descriptor; 0: end of chain; -1: vq broken. */
static inline int chain_next(struct vq *vq, struct chain *c, struct vring_desc *d,
			     uint16_t want_write)
{
	uint16_t next;

	if (!(d->flags & VRING_DESC_F_NEXT))
		return 0;
	next = d->next;
	if (unlikely(next >= c->table_size))
		return vq_break(vq, VQ_BROKEN_HEAD_IDX) - 1;
	/* A chain longer than its table has a loop (2.7.5.2). */
	if (unlikely(++c->n_seen > c->table_size))
		return vq_break(vq, VQ_BROKEN_CHAIN_LEN) - 1;
	load_desc(&c->table[next], d);
	return check_desc(vq, d, want_write) ? 1 : -1;
}

/* 0: pkt filled; 1: frame too big for a pkt, dropped; -1: vq broken. */
static int dequeue_one(struct vq *vq, const struct guest_mem *mem, uint16_t head, struct pkt *p)
{
	struct tx_copy t = { 0 };
	struct vring_desc d;
	struct chain c;
	int r;

	if (unlikely(!chain_first(vq, mem, &c, head, &d, 0)))
		return -1;
	do {
		if (unlikely(tx_copy_seg(vq, mem, &t, p, d.addr, d.len) < 0))
			return -1;
		r = chain_next(vq, &c, &d, 0);
	} while (r > 0);
	if (unlikely(r < 0))
		return -1;
	return tx_copy_finish(vq, &t, p);
}

/* How many entries the guest made available; 0 and broken on a bad index.
 * The acquire orders the ring entries and descriptors after the index. */
static inline uint16_t avail_count(struct vq *vq, uint16_t *avail_idx)
{
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - vq->last_avail_idx);

	*avail_idx = idx;
	if (unlikely(n > vq->size)) {	/* VIRTIO 1.2 2.7.6: at most size outstanding */
		vq_break(vq, VQ_BROKEN_AVAIL_IDX);
		return 0;
	}
	return n;
}

static inline void put_used(struct vq *vq, struct dirty_log *log, uint16_t slot,
			    uint32_t id, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[slot & vq->mask];

	e->id = id;
	e->len = len;
	vq_log_used(vq, log, offsetof(struct vring_used, ring) + (uint64_t)(slot & vq->mask) * 8, 8);
}

/* Publish used entries [last_used, new_used) and notify if the guest
 * wants it (VIRTIO 1.2 2.7.7, 2.7.10). */
static void publish_used(struct vq *vq, struct dirty_log *log, uint16_t new_used)
{
	uint16_t old = vq->last_used_idx;
	bool kick;

	/* Release: the used entries and the buffer contents are visible
	 * before the index that hands them to the guest. */
	__atomic_store_n(&vq->used->idx, new_used, __ATOMIC_RELEASE);
	vq_log_used(vq, log, offsetof(struct vring_used, idx), 2);
	vq->last_used_idx = new_used;
	/* Full barrier: our used->idx store must be globally visible before
	 * we read the guest's suppression state, or we may miss a request
	 * the guest made after checking our index (store-load ordering). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->mode & VQ_M_EVENT_IDX) {
		uint16_t event = __atomic_load_n(&vq->avail->ring[vq->size], __ATOMIC_RELAXED);

		kick = vring_need_event(event, new_used, old);
	} else {
		kick = !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (kick)
		vq_signal(vq);
}

/*
 * Where a head's frame lies in guest memory, found for a whole burst before
 * any copy: the guest wrote those buffers on another core, so each is a
 * cache miss, and finding them first lets the misses overlap instead of
 * stalling one copy after the other (the prefetch of the first line of
 * each buffer is issued a burst ahead of its copy).
 */
struct fast_buf {
	uint8_t *hva;
	uint32_t len;
};

static inline void prefetch_buf(const uint8_t *b, uint32_t len, bool write)
{
	const uint8_t *last = b + len - 1;

	if (write)
		prefetchw(b);
	else
		prefetch0(b);
	/* A 64-byte frame behind its header straddles two lines. */
	if (((uintptr_t)b ^ (uintptr_t)last) >= 64) {
		if (write)
			prefetchw(last);
		else
			prefetch0(last);
	}
}

/* Heads of the next n avail entries from slot `from`, with their
 * descriptors prefetched. The heads are guest values, checked by whoever
 * uses them; the prefetch only masks them. */
static inline void read_heads(const struct vq *vq, uint16_t from, uint16_t *heads, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		heads[i] = __atomic_load_n(&vq->avail->ring[(uint16_t)(from + i) & vq->mask],
					   __ATOMIC_RELAXED);
		prefetch0(&vq->desc[heads[i] & vq->mask]);
	}
}

/* The leading heads of the common tx layout, one read-only descriptor
 * holding header and frame (Linux and DPDK push the header into the
 * frame's headroom), with their buffers found and prefetched; the first
 * head of another layout ends the scan, and it and those after it take
 * the general path (dequeue_one), which reads the descriptor again and
 * decides on its own copy alone. */
static uint16_t dequeue_scan(struct vq *vq, const struct guest_mem *mem, const uint16_t *heads,
			     uint16_t n, struct fast_buf *fb)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct vring_desc d;
		uint8_t *src;

		if (unlikely(heads[i] >= vq->size))
			break;
		load_desc(&vq->desc[heads[i]], &d);
		if (unlikely(d.flags != 0 || d.len < vq->hdr_len ||
			     d.len - vq->hdr_len > PKT_DATA_MAX))
			break;
		src = gm_gpa_to_hva_hint(mem, d.addr, d.len, &vq->mem_hint);
		if (unlikely(!src))
			break;
		prefetch_buf(src, d.len, false);
		fb[i] = (struct fast_buf){ .hva = src, .len = d.len };
	}
	return i;
}

/* Copy one frame that dequeue_scan found; the descriptor is not read
 * again, so the copy follows the values that were checked. */
static inline void dequeue_copy(const struct vq *vq, const struct fast_buf *fb, struct pkt *p)
{
	struct virtio_net_hdr h;
	uint32_t flen = fb->len - vq->hdr_len;

	/* Constant sizes, so each copy is a couple of moves. */
	if (likely(vq->hdr_len == 12))
		memcpy(&h, fb->hva, 12);
	else
		memcpy(&h, fb->hva, 10);
	vq_copy_frame(p->data, fb->hva + vq->hdr_len, flen);
	p->len = (uint16_t)flen;
	if (unlikely(h.flags | h.gso_type))
		vq_hdr_to_pkt(&h, p);
}

uint16_t vq_split_dequeue(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n)
{
	struct dirty_log *log = vq_log(vq);
	uint16_t avail_idx, n_avail, n_alloc, n_scan, n_fast, out = 0, i;
	uint16_t last = vq->last_avail_idx, used = vq->last_used_idx;
	/* Zeroed only for gcc -O2's maybe-uninitialized, which cannot see
	 * that dequeue_scan reads no more heads than read_heads wrote. */
	uint16_t heads[PKT_BURST] = { 0 };
	struct fast_buf fb[PKT_BURST];

	n_avail = avail_count(vq, &avail_idx);
	n = MIN(n, n_avail);
	if (n == 0)
		return 0;
	n_alloc = pkt_alloc_bulk(pkts, n);
	n_scan = MIN(n_alloc, PKT_BURST);
	read_heads(vq, last, heads, n_scan);
	n_fast = dequeue_scan(vq, mem, heads, n_scan, fb);
	for (i = 0; i < n_fast; i++) {
		dequeue_copy(vq, &fb[i], pkts[i]);
		put_used(vq, log, (uint16_t)(used + i), heads[i], 0);
	}
	out = n_fast;
	for (; i < n_alloc; i++) {
		uint16_t head = __atomic_load_n(&vq->avail->ring[(uint16_t)(last + i) & vq->mask],
						__ATOMIC_RELAXED);
		int r;

		if (i + 1 < n_alloc) {
			/* Hint only: the value is masked and never trusted. */
			uint16_t nh = vq->avail->ring[(uint16_t)(last + i + 1) & vq->mask];
			prefetch0(&vq->desc[nh & vq->mask]);
		}
		if (dequeue_scan(vq, mem, &head, 1, fb)) {
			dequeue_copy(vq, fb, pkts[out]);
			r = 0;
		} else {
			r = dequeue_one(vq, mem, head, pkts[out]);
		}
		if (unlikely(r < 0))
			break;
		put_used(vq, log, (uint16_t)(used + i), head, 0);
		if (likely(r == 0))
			out++;
	}
	/* Packets allocated but not filled go back to the pool. */
	pkt_free_bulk(pkts + out, (uint16_t)(n_alloc - out));
	if (i) {
		vq->last_avail_idx = (uint16_t)(last + i);
		publish_used(vq, log, (uint16_t)(used + i));
	}
	return out;
}

/* Write as much of the stream as fits into the chain at head; *written is
 * the bytes this chain took. false: vq broken. */
static bool fill_chain(struct vq *vq, const struct guest_mem *mem, struct dirty_log *log,
		       uint16_t head, struct rx_stream *st, uint32_t *written)
{
	struct vring_desc d;
	struct chain c;
	uint32_t w = 0;
	int r;

	if (unlikely(!chain_first(vq, mem, &c, head, &d, VRING_DESC_F_WRITE)))
		return false;
	do {
		int64_t n = rx_stream_put(st, mem, &vq->mem_hint, log, d.addr, d.len);

		if (unlikely(n < 0))
			return vq_break(vq, VQ_BROKEN_BUF_ADDR);
		w += (uint32_t)n;
		if (st->off == st->total)
			break;
		r = chain_next(vq, &c, &d, VRING_DESC_F_WRITE);
		if (unlikely(r < 0))
			return false;
	} while (r > 0);
	*written = w;
	return true;
}

/*
 * The common rx layout, one writable descriptor with room for header and
 * frame (Linux with mergeable buffers, DPDK always): the leading packets
 * that fit it get their buffers found and prefetched for writing, a burst
 * ahead of the copies (see struct fast_buf); the first that does not ends
 * the scan and takes the general path with those after it.
 */
static uint16_t enqueue_scan(struct vq *vq, const struct guest_mem *mem, const uint16_t *heads,
			     struct pkt *const *pkts, uint16_t n, struct fast_buf *fb,
			     uint64_t *gpa)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint32_t need = vq->hdr_len + (uint32_t)pkts[i]->len;
		struct vring_desc d;
		uint8_t *dst;

		if (unlikely(heads[i] >= vq->size))
			break;
		load_desc(&vq->desc[heads[i]], &d);
		if (unlikely(d.flags != VRING_DESC_F_WRITE || d.len < need))
			break;
		dst = gm_gpa_to_hva_hint(mem, d.addr, need, &vq->mem_hint);
		if (unlikely(!dst))
			break;
		prefetch_buf(dst, need, true);
		prefetch0(pkts[i]->data);
		fb[i] = (struct fast_buf){ .hva = dst, .len = need };
		gpa[i] = d.addr;
	}
	return i;
}

static inline void enqueue_copy(const struct vq *vq, struct dirty_log *log,
				const struct fast_buf *fb, uint64_t gpa, const struct pkt *p)
{
	struct virtio_net_hdr h;

	vq_pkt_to_hdr(vq, p, &h);
	/* VIRTIO 1.2 5.1.6.4: num_buffers is 1 without MRG_RXBUF too. */
	h.num_buffers = 1;
	if (likely(vq->hdr_len == 12))
		memcpy(fb->hva, &h, 12);
	else
		memcpy(fb->hva, &h, 10);
	vq_copy_frame(fb->hva + vq->hdr_len, p->data, p->len);
	if (unlikely(log != NULL))
		dirty_log_mark(log, gpa, fb->len);
}

uint16_t vq_split_enqueue(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n)
{
	struct dirty_log *log = vq_log(vq);
	uint16_t avail_idx, cur = vq->last_avail_idx, used = vq->last_used_idx, done;
	uint16_t n_avail, n_fast, heads[PKT_BURST];
	struct fast_buf fb[PKT_BURST];
	uint64_t gpa[PKT_BURST];
	bool mrg = vq->mode & VQ_M_MRG;

	n_avail = avail_count(vq, &avail_idx);
	if (n_avail == 0)
		return 0;
	n_fast = MIN(MIN(n, n_avail), PKT_BURST);
	read_heads(vq, cur, heads, n_fast);
	n_fast = enqueue_scan(vq, mem, heads, pkts, n_fast, fb, gpa);
	for (done = 0; done < n_fast; done++) {
		enqueue_copy(vq, log, &fb[done], gpa[done], pkts[done]);
		put_used(vq, log, (uint16_t)(used + done), heads[done], fb[done].len);
	}
	cur = (uint16_t)(cur + n_fast);
	used = (uint16_t)(used + n_fast);
	for (; done < n; done++) {
		struct pkt *p = pkts[done];
		struct virtio_net_hdr h;
		struct rx_stream st;
		uint16_t cur0 = cur, used0 = used, nbufs = 0;

		if (done + 1 < n)
			prefetch0(pkts[done + 1]->data);
		if (likely(cur != avail_idx)) {
			uint16_t head = __atomic_load_n(&vq->avail->ring[cur & vq->mask],
							__ATOMIC_RELAXED);

			if (likely(enqueue_scan(vq, mem, &head, &p, 1, fb, gpa))) {
				enqueue_copy(vq, log, &fb[0], gpa[0], p);
				put_used(vq, log, used, head, fb[0].len);
				cur++;
				used++;
				continue;
			}
		}
		vq_pkt_to_hdr(vq, p, &h);
		h.num_buffers = 1;
		st = (struct rx_stream){ .hdr = (const uint8_t *)&h, .data = p->data,
			.hdr_len = vq->hdr_len, .total = vq->hdr_len + (uint32_t)p->len };
		while (st.off < st.total) {
			uint16_t head;
			uint32_t w = 0;

			if (cur == avail_idx || (!mrg && nbufs))
				goto no_room;
			head = __atomic_load_n(&vq->avail->ring[cur & vq->mask], __ATOMIC_RELAXED);
			if (unlikely(!fill_chain(vq, mem, log, head, &st, &w)))
				goto no_room;
			put_used(vq, log, used, head, w);
			cur++;
			used++;
			nbufs++;
		}
		if (nbufs > 1)
			rx_stream_set_nbufs(&st, mem, &vq->mem_hint, log, nbufs);
		continue;
no_room:
		cur = cur0;
		used = used0;
		break;
	}
	if (done) {
		vq->last_avail_idx = cur;
		publish_used(vq, log, used);
	}
	return done;
}

bool vq_split_kick_enable(struct vq *vq, bool enable)
{
	struct dirty_log *log = vq_log(vq);

	if (vq->mode & VQ_M_EVENT_IDX) {
		/* With EVENT_IDX the guest ignores the flag and kicks when it
		 * passes avail_event; leaving it stale disables kicks. */
		if (enable) {
			uint16_t *avail_event = (uint16_t *)((uint8_t *)vq->used + 4 + 8ull * vq->size);

			__atomic_store_n(avail_event, vq->last_avail_idx, __ATOMIC_RELAXED);
			vq_log_used(vq, log, offsetof(struct vring_used, ring) + 8ull * vq->size, 2);
		}
	} else {
		__atomic_store_n(&vq->used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
		vq_log_used(vq, log, offsetof(struct vring_used, flags), 2);
	}
	if (!enable)
		return false;
	/* Full barrier: the store above must be visible before we look at
	 * avail->idx, or a buffer posted in between goes unkicked. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_split_has_work(vq);
}

bool vq_split_has_work(const struct vq *vq)
{
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}
