/*
 * virtio: the device side of virtio-net virtqueues in guest memory — the
 * guest memory table, split and packed rings, notifications and the dirty log
 * used by live migration. src/vhost speaks the vhost-user protocol and calls
 * this; src/port/port_vhost.c calls the bursts from PMD threads.
 *
 * Guest memory. A struct guest_mem is built once per SET_MEM_TABLE by
 * guest_mem_map() and never changes afterwards: the vhost side publishes the
 * new table with rcu_assign_pointer(), calls synchronize_rcu() and only then
 * guest_mem_unmap()s the old one. Translation (gm_gpa_to_hva, gm_uva_to_hva)
 * returns a host pointer only if the whole [addr, addr + len) lies inside one
 * region; gm_gpa_contig() gives the longest contiguous piece so copies may
 * cross adjacent regions. The per-lookup region hint lives in the caller (the
 * vq), never in the shared table, so PMDs do not write to shared lines.
 *
 * Virtqueues. A struct vq is embedded in the vhost device. Its life cycle:
 *   vq_init → vq_set_num / vq_set_addr / vq_set_base / vq_set_features /
 *   vq_set_callfd / vq_set_kickfd / vq_set_enabled (any order) →
 *   vq_start(vq, mem) (translates and checks the rings, makes the vq live) →
 *   bursts on one PMD → vq_stop(vq) + synchronize_rcu() → GET_VRING_BASE
 *   (vq_get_base) or new configuration and vq_start again.
 * A new memory table makes the ring pointers stale: the vhost side must
 * vq_stop every vq, publish the new table, synchronize_rcu(), and vq_start
 * them against the new table (vq_start re-translates the saved addresses).
 *
 * Threading. Control-thread functions (vq_set_*, vq_start, vq_stop,
 * vq_get_base) must not run concurrently with a burst on the same vq, except
 * vq_stop, vq_set_enabled, vq_set_callfd and vq_set_dirty_log, which only do
 * single release stores that a burst reads once with acquire; the caller
 * waits synchronize_rcu() (bursts run between a PMD's quiescent states)
 * before it closes an old call fd, unmaps an old log or memory table, or
 * touches anything else. Bursts, vq_kick_enable and the hot counters belong
 * to the one PMD that polls the vq: one vq, one thread — a tx vq shared by
 * several PMDs must be serialised by the caller (port_vhost's per-queue
 * lock, once per burst). Counters are written with relaxed stores and may be
 * read by the control thread at any time. Nothing here takes a lock, calls
 * malloc, or makes a syscall in a burst except the call-eventfd write.
 *
 * Packets. vq_dequeue_burst copies each frame out of guest memory into a pkt
 * (from the calling thread's pool), so nothing parses guest-shared bytes, and
 * returns its descriptors to the guest at once: no descriptor is held across
 * bursts, hence GET_VRING_BASE is simply the next avail index.
 * vq_enqueue_burst copies pkts into guest buffers and never frees them.
 *
 * Security model. The guest is hostile and QEMU is trusted only as far as
 * the protocol. Every region is bounded against its fd's size before mmap
 * (mmap_offset + size > st_size would SIGBUS later) and checked for overflow
 * and overlap. Every ring must lie inside one region. Every descriptor field
 * is read from guest memory exactly once into a local, then checked before
 * use: head and next indexes against the ring size, chain length against
 * the ring size, buffer address and length against the memory table with
 * overflow-safe arithmetic, VRING_DESC_F_WRITE (tx never reads a writable
 * buffer, rx never writes a read-only one), indirect tables (not nested,
 * length a non-zero multiple of 16, at most the ring size entries, only with
 * INDIRECT_DESC), total frame length (64 KiB plus the header) and the
 * avail index (avail->idx - last_avail > size is a broken ring, VIRTIO 1.2
 * 2.7.6). Zero-length buffers are legal and skipped, never dereferenced.
 * Any violation marks the vq broken with a counted reason
 * (VQ_BROKEN_REASONS), stops processing that vq — it stays dead until the
 * vhost side resets it — and never aborts, never reads or writes outside a
 * mapped region. The vhost side should treat a broken vq as a broken
 * device (disconnect), so one bad guest never stops another VM.
 */
#ifndef XVIO_VIRTIO_H
#define XVIO_VIRTIO_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/core.h"
#include "../core/pkt.h"

/* ---- feature bits (virtio 1.2 §5.1.3, §6; vhost-user) ---- */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_MQ			22
#define VIRTIO_F_NOTIFY_ON_EMPTY	24
#define VHOST_F_LOG_ALL			26
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_RING_PACKED		34
#define VIRTIO_F_IN_ORDER		35

#define VQ_MAX_SIZE		32768
#define VQ_MAX_FRAME		(65536 + 12)	/* bound on a tx chain's total bytes */

/* ---- ring layouts (virtio 1.2 §2.7 split, §2.8 packed) ---- */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_PACKED_DESC_F_AVAIL	(1 << 7)
#define VRING_PACKED_DESC_F_USED	(1 << 15)

#define VRING_AVAIL_F_NO_INTERRUPT	1
#define VRING_USED_F_NO_NOTIFY		1

#define VRING_PACKED_EVENT_FLAG_ENABLE	0
#define VRING_PACKED_EVENT_FLAG_DISABLE	1
#define VRING_PACKED_EVENT_FLAG_DESC	2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* size entries, then used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];	/* size entries, then avail_event */
};

struct vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct vring_packed_desc_event {
	uint16_t off_wrap;	/* bits 0-14 offset, bit 15 wrap counter */
	uint16_t flags;		/* VRING_PACKED_EVENT_FLAG_* */
};

/* Bytes of each split-ring part for a ring of `size` entries (with the
 * EVENT_IDX trailer, which we always require to be mapped). */
static inline uint64_t vring_desc_bytes(uint32_t size)  { return 16ull * size; }
static inline uint64_t vring_avail_bytes(uint32_t size) { return 6ull + 2ull * size; }
static inline uint64_t vring_used_bytes(uint32_t size)  { return 6ull + 8ull * size; }

/* virtio_net_hdr (virtio 1.2 §5.1.6). 10 bytes legacy, 12 with num_buffers
 * (VERSION_1 or MRG_RXBUF). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2
#define VIRTIO_NET_HDR_GSO_NONE		0

struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;	/* only in the 12-byte form */
};

/* ---- guest memory ---- */

#define GM_MAX_REGIONS		8	/* VHOST_MEMORY_BASELINE_NREGIONS */

/* One region as SET_MEM_TABLE describes it. */
struct gm_region_desc {
	uint64_t gpa;		/* guest_phys_addr */
	uint64_t size;		/* memory_size */
	uint64_t uva;		/* userspace_addr, QEMU's virtual address */
	uint64_t mmap_offset;
	int fd;
};

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint8_t *hva;		/* host address of gpa */
	void *map_base;		/* what mmap returned */
	uint64_t map_len;
};

struct guest_mem {
	uint32_t n_regions;
	struct gm_region regions[GM_MAX_REGIONS];
};

/*
 * Map n regions (n ≤ GM_MAX_REGIONS) MAP_SHARED from their fds. Checks each
 * region: size > 0, no overflow of gpa + size, uva + size, mmap_offset +
 * size; mmap_offset + size ≤ fstat(fd).st_size; no two regions overlap in
 * gpa or uva. Does not close the fds (the caller does, mapped or not).
 * Returns the table, or NULL with errno (EINVAL, ERANGE, or mmap's).
 */
struct guest_mem *guest_mem_map(const struct gm_region_desc *regions, uint32_t n);
/* Unmap and free; NULL is fine. Only after synchronize_rcu(). */
void guest_mem_unmap(struct guest_mem *mem);

/*
 * Region index holding [addr, addr + len) entirely, using *hint as first
 * guess and updating it; -1 if none. len 0 is treated as 1 (the address must
 * still be mapped). Overflow-safe.
 */
static inline int gm_find_gpa(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
			      unsigned *hint)
{
	const struct gm_region *r = &mem->regions[*hint < GM_MAX_REGIONS ? *hint : 0];

	if (len == 0)
		len = 1;
	if (likely(gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)))
		return (int)(r - mem->regions);
	for (uint32_t i = 0; i < mem->n_regions; i++) {
		r = &mem->regions[i];
		if (gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
			*hint = i;
			return (int)i;
		}
	}
	return -1;
}

/* Host pointer for guest-physical [gpa, gpa + len), or NULL. */
static inline void *gm_gpa_to_hva_hint(const struct guest_mem *mem, uint64_t gpa,
				       uint64_t len, unsigned *hint)
{
	int i = gm_find_gpa(mem, gpa, len, hint);

	if (unlikely(i < 0))
		return NULL;
	return mem->regions[i].hva + (gpa - mem->regions[i].gpa);
}

static inline void *gm_gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned hint = 0;

	return gm_gpa_to_hva_hint(mem, gpa, len, &hint);
}

/*
 * Host pointer for the longest piece of [gpa, gpa + len) that starts at gpa
 * and lies in one region; *contig gets its length (≤ len). NULL if gpa is
 * not mapped. Copies loop over pieces so a buffer may span adjacent regions.
 */
static inline void *gm_gpa_contig(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
				  unsigned *hint, uint64_t *contig)
{
	int i = gm_find_gpa(mem, gpa, 1, hint);
	const struct gm_region *r;

	if (unlikely(i < 0))
		return NULL;
	r = &mem->regions[i];
	*contig = MIN(len, r->size - (gpa - r->gpa));
	return r->hva + (gpa - r->gpa);
}

/* Host pointer for QEMU's userspace [uva, uva + len) (SET_VRING_ADDR), or NULL. */
void *gm_uva_to_hva(const struct guest_mem *mem, uint64_t uva, uint64_t len);
/* Guest-physical address of a QEMU userspace address, or UINT64_MAX. */
uint64_t gm_uva_to_gpa(const struct guest_mem *mem, uint64_t uva, uint64_t len);

/* ---- dirty log (VHOST_F_LOG_ALL, vhost-user "Migration") ---- */

#define DIRTY_LOG_PAGE_SHIFT	12	/* one bit per 4 KiB guest page */

/*
 * The log area from SET_LOG_BASE, mapped by the vhost side: bit (gpa >> 12)
 * of the byte array is set for every guest page we write. Immutable once
 * given to a vq; replace it with vq_set_dirty_log and synchronize_rcu()
 * before unmapping the old one.
 */
struct dirty_log {
	uint8_t *base;
	uint64_t size;		/* bytes of bitmap */
	uint64_t n_out_of_range; /* pages beyond the bitmap (relaxed counter) */
};

void dirty_log_init(struct dirty_log *log, void *base, uint64_t size);
/* Mark the pages of [gpa, gpa + len) dirty with atomic ORs (QEMU reads the
 * bitmap concurrently). Pages beyond the bitmap are counted, not written. */
void dirty_log_mark(struct dirty_log *log, uint64_t gpa, uint64_t len);

/* ---- virtqueues ---- */

/* Why a vq went broken; listed once. */
#define VQ_BROKEN_REASONS(X) \
	X(RING_ADDR,     "ring_addr_unmapped")    /* ring not inside one region */ \
	X(AVAIL_IDX,     "avail_idx_jump")        /* avail->idx - last_avail > size */ \
	X(HEAD_IDX,      "desc_index_range")      /* head or next ≥ ring size */ \
	X(CHAIN_LEN,     "chain_too_long")        /* loop or more than size descriptors */ \
	X(FRAME_LEN,     "frame_too_long")        /* chain total > 64 KiB + header */ \
	X(BUF_ADDR,      "buf_addr_unmapped")     /* buffer outside guest memory / wraps */ \
	X(WRITE_FLAG,    "desc_write_flag")       /* tx desc writable, or rx desc read-only */ \
	X(INDIRECT,      "bad_indirect")          /* nested, bad length, not negotiated, with NEXT */ \
	X(SHORT_HDR,     "short_header")          /* tx chain shorter than virtio_net_hdr */ \
	X(PACKED_ID,     "packed_bad_id")         /* packed buffer id ≥ size */

enum vq_broken {
	VQ_BROKEN_NONE = 0,
#define X(e, s) VQ_BROKEN_##e,
	VQ_BROKEN_REASONS(X)
#undef X
	VQ_BROKEN_MAX
};

extern const char *const vq_broken_names[VQ_BROKEN_MAX];

/* SET_VRING_ADDR payload, addresses in QEMU's address space except log. */
#define VHOST_VRING_F_LOG	1
struct vq_addr {
	uint32_t flags;		/* VHOST_VRING_F_LOG */
	uint64_t desc_uva;
	uint64_t used_uva;
	uint64_t avail_uva;
	uint64_t log_gpa;	/* guest-physical address of the used ring */
};

/* vq->mode bits, derived from features at vq_start. */
enum {
	VQ_M_PACKED	= 1 << 0,
	VQ_M_MRG	= 1 << 1,
	VQ_M_INDIRECT	= 1 << 2,
	VQ_M_EVENT_IDX	= 1 << 3,
	VQ_M_GUEST_CSUM	= 1 << 4,
	VQ_M_LOG	= 1 << 5,	/* LOG_ALL negotiated */
	VQ_M_LOG_USED	= 1 << 6,	/* VHOST_VRING_F_LOG set */
};

struct vq {
	/* Hot: read and written by the polling PMD every burst. */
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *device_event;
	};
	uint16_t size;
	uint16_t mask;		/* size - 1 (split) */
	uint16_t last_avail_idx;	/* split: free-running; packed: slot */
	uint16_t last_used_idx;		/* split: free-running; packed: slot */
	uint16_t signalled_used;	/* used idx at the last call (EVENT_IDX) */
	uint8_t avail_wrap;		/* packed wrap counters */
	uint8_t used_wrap;
	uint8_t mode;			/* VQ_M_* */
	uint8_t hdr_len;		/* 10 or 12 */
	uint8_t live;			/* started && enabled; release-stored */
	uint8_t broken;			/* enum vq_broken, 0 = fine; sticky */
	unsigned mem_hint;		/* last guest-memory region hit */
	int callfd;			/* -1 = none; release-stored */
	struct dirty_log *log;		/* NULL = off; release-stored */
	uint64_t n_notify;
	uint64_t n_notify_fail;

	/* Cold: configuration and counters, control thread. */
	alignas(CACHE_LINE) uint64_t features;
	struct vq_addr addr;
	uint64_t log_used_gpa;
	uint64_t log_desc_gpa;		/* packed: used descriptors are logged here */
	uint32_t num;			/* SET_VRING_NUM, checked at vq_start */
	uint32_t base;			/* SET_VRING_BASE, applied at vq_start */
	bool base_set;			/* base given since the last vq_start */
	int kickfd;
	uint16_t index;
	bool enabled;
	bool started;
	bool addr_set;
	uint64_t n_drop_too_big;	/* tx frames over PKT_DATA_MAX: dropped, not broken */
	uint64_t n_indirect_write_ignored;	/* see vq_packed.c check_tab_seg */
	uint64_t n_base_from_used;	/* split: SET_VRING_BASE overridden by used->idx */
	uint64_t n_broken[VQ_BROKEN_MAX];
};

/* Zero the vq, fds -1, size 0. */
void vq_init(struct vq *vq, uint16_t index);
/* SET_VRING_NUM. 1..32768; power of 2 is required for split at vq_start.
 * 0 or -EINVAL. Not while started. */
int vq_set_num(struct vq *vq, uint32_t num);
/* SET_VRING_ADDR: saved, translated by vq_start. 0 or -EBUSY if started
 * (a live SET_VRING_ADDR is only allowed to change the LOG flag). */
int vq_set_addr(struct vq *vq, const struct vq_addr *addr);
/* SET_VRING_BASE. Split: bits 0-15 next avail index, which vq_start
 * replaces with the ring's used->idx when they differ (restart after a
 * crash; see vq_start). Packed: bits 0-14
 * avail slot, bit 15 avail wrap counter, bits 16-30 used slot, bit 31 used
 * wrap counter; a zero upper half means used = avail (as DPDK sends it).
 * 0 or -EBUSY if started. */
int vq_set_base(struct vq *vq, uint32_t base);
/* GET_VRING_BASE value in the same encoding (call after vq_stop and a
 * grace period: a burst that saw the vq live may still move the indexes). */
uint32_t vq_get_base(const struct vq *vq);
/* Where a ring stands, for show commands: our indexes and, while started,
 * the guest's side of a split ring (its avail idx and flags, the used idx
 * in guest memory and the used_event it asked to be notified at). */
struct vq_ring_state {
	uint16_t last_avail, last_used;
	bool guest_valid;		/* started split ring: the four below are read */
	uint16_t avail_idx, avail_flags, used_idx, used_event;
};
/* Control thread; reads guest memory the vq was started with. */
void vq_ring_state(const struct vq *vq, struct vq_ring_state *st);
/* The device's negotiated features; applied at vq_start. */
void vq_set_features(struct vq *vq, uint64_t features);
/* Call/kick eventfds; the vq does not own them (the vhost side closes an
 * old call fd only after synchronize_rcu). -1 = none. The call fd must be
 * O_NONBLOCK (vq_set_callfd sets it). */
void vq_set_callfd(struct vq *vq, int fd);
void vq_set_kickfd(struct vq *vq, int fd);
static inline int vq_kickfd(const struct vq *vq) { return vq->kickfd; }
/* SET_VRING_ENABLE. */
void vq_set_enabled(struct vq *vq, bool enabled);
/* Dirty log shared by the device's vqs, or NULL. Takes effect only with
 * VHOST_F_LOG_ALL negotiated. */
void vq_set_dirty_log(struct vq *vq, struct dirty_log *log);

/*
 * Translate the saved ring addresses with mem, check each ring lies fully in
 * one region and the layout is valid for the features, apply the base and
 * make the vq live (if enabled). 0, or -EINVAL (bad num/addresses unset) /
 * -EFAULT (a ring not mapped). A vq that failed here stays stopped.
 */
int vq_start(struct vq *vq, const struct guest_mem *mem);
/* Stop the bursts; wait synchronize_rcu() before relying on it. */
void vq_stop(struct vq *vq);

/* Started, enabled and not broken. */
static inline bool vq_ready(const struct vq *vq)
{
	return __atomic_load_n(&vq->live, __ATOMIC_ACQUIRE) && !vq->broken;
}

static inline bool vq_is_broken(const struct vq *vq)
{
	return __atomic_load_n(&vq->broken, __ATOMIC_RELAXED) != 0;
}

/*
 * Guest TX → packets. Up to n (≤ PKT_BURST recommended) frames, each copied
 * into a fresh pkt of the calling thread's pool with the virtio_net_hdr
 * stripped and its offload info in pkt->flags/csum_start/csum_offset/gso_*.
 * Descriptors are returned to the guest (used len 0) with one used-index
 * release store per burst, then the guest is notified if it asked. Returns
 * the number of pkts stored; 0 when not ready, broken, empty or out of pkts.
 * `mem` must be the table the vq was started with.
 */
uint16_t vq_dequeue_burst(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n);

/*
 * Packets → guest RX. Delivers pkts[0..k) in order into the guest's
 * buffers, writing a virtio_net_hdr before each (num_buffers with MRG_RXBUF,
 * a frame spans several buffers; without it one chain holds header + frame;
 * checksum flags from pkt->flags when GUEST_CSUM). Stops at the first frame
 * that does not fit; returns k. Never frees pkts: the caller frees all n and
 * counts n - k as drops. One used-index release store per burst, then a
 * notification if the guest asked for one.
 */
uint16_t vq_enqueue_burst(struct vq *vq, const struct guest_mem *mem,
			  struct pkt **pkts, uint16_t n);

/*
 * PMD sleep support. enable=true: ask the guest to kick us (clear
 * VRING_USED_F_NO_NOTIFY, or with EVENT_IDX set avail_event to
 * last_avail_idx; packed: device event flags ENABLE/DESC), then a full
 * barrier, then return true if buffers are already available — the caller
 * must not sleep then. enable=false: suppress kicks again (returns false).
 */
bool vq_kick_enable(struct vq *vq, bool enable);

/* Does the avail ring hold buffers we have not consumed? (PMD thread.) */
bool vq_has_work(const struct vq *vq);

#endif
