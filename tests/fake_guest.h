/*
 * A fake virtio-net guest driver for tests: guest memory in a memfd split
 * into two regions mapped through guest_mem_map like the vhost side does, a
 * split or packed ring laid out in it, and helpers to post good or
 * malformed buffers and read used entries back. Not thread-safe.
 *
 * Layout (guest-physical): region 0 [0, 1 MiB), region 1 [1 MiB, 2 MiB),
 * adjacent in gpa, far apart in QEMU's (fake) uva. Rings at FG_DESC_GPA,
 * FG_AVAIL_GPA, FG_USED_GPA; indirect tables from FG_IND_GPA; buffers from
 * FG_BUF_GPA (bump allocator, wraps).
 */
#ifndef XVIO_FAKE_GUEST_H
#define XVIO_FAKE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define FG_REGION_SIZE	(1u << 20)
#define FG_MEM_SIZE	(2u * FG_REGION_SIZE)
#define FG_UVA0		0x7f0000000000ull
#define FG_UVA1		0x7f8000000000ull
#define FG_DESC_GPA	0x00000ull
#define FG_AVAIL_GPA	0x08000ull
#define FG_USED_GPA	0x10000ull
#define FG_IND_GPA	0x20000ull
#define FG_BUF_GPA	0x40000ull

struct fg_seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;		/* VRING_DESC_F_WRITE; NEXT is added */
};

struct fake_guest {
	int fd;
	uint8_t *mem;		/* the whole memfd, gpa = offset */
	struct guest_mem *gm;
	struct vq vq;
	uint64_t features;
	uint16_t size;
	bool packed;
	/* split driver state */
	uint16_t avail_idx;	/* next avail idx to publish */
	uint16_t used_seen;	/* next used entry to read */
	uint16_t desc_next;	/* next free descriptor (round robin) */
	/* packed driver state */
	uint16_t avail_slot, used_slot;
	uint8_t avail_wrap, used_wrap;
	uint16_t chain_len[VQ_MAX_SIZE];	/* by buffer id = head slot */
	uint64_t buf_next;	/* bump allocator */
	uint64_t ind_next;
};

/* A zeroed fake_guest, aligned as struct vq needs; free() it. */
struct fake_guest *fg_new(void);
/* Build memory and a ring of `size` with these features, start the vq. 0 or -errno. */
int fg_init(struct fake_guest *g, uint16_t size, uint64_t features);
void fg_fini(struct fake_guest *g);
/* (Re)initialise g->vq over the existing memory: vq_init, features, num,
 * addresses, base, enable, start. 0 or -errno. */
int fg_vq_setup(struct fake_guest *g, uint16_t size, uint64_t features, uint32_t base);
/* The same with the rings at other guest-physical addresses (region 0). */
int fg_vq_setup_at(struct fake_guest *g, uint16_t size, uint64_t features, uint32_t base,
		   uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);
/* Host pointer of a guest-physical address (within FG_MEM_SIZE). */
void *fg_ptr(struct fake_guest *g, uint64_t gpa);
/* Allocate len bytes of buffer space; align 16. */
uint64_t fg_alloc(struct fake_guest *g, uint32_t len);

/* Post one chain (segments chained with NEXT), through an indirect table if
 * indirect. Returns the head index / buffer id. Does not publish for split
 * until fg_publish (so tests can corrupt first); packed is visible at once. */
uint16_t fg_post(struct fake_guest *g, const struct fg_seg *segs, unsigned n, bool indirect);
/* Split: make posted chains visible (avail->idx release store). */
void fg_publish(struct fake_guest *g);

/* Post a tx frame: header (vhdr, 12 or 10 bytes per hdr_len) + frame in
 * nseg segments (≥1; header in its own segment when nseg > 1). */
uint16_t fg_tx(struct fake_guest *g, const struct virtio_net_hdr *vhdr, const void *frame,
	       uint32_t len, unsigned nseg, bool indirect);
/* Post a writable rx buffer of len bytes; returns its gpa via *gpa. */
uint16_t fg_rx(struct fake_guest *g, uint32_t len, uint64_t *gpa);

/* Read the next used entry; false if none. */
bool fg_used(struct fake_guest *g, uint32_t *id, uint32_t *len);

/* Split ring pointers in guest memory for direct corruption. */
struct vring_desc *fg_desc(struct fake_guest *g);
struct vring_avail *fg_avail(struct fake_guest *g);
struct vring_used *fg_used_ring(struct fake_guest *g);

/* Feature sets used by tests. */
#define FG_F(b)		(1ull << (b))
#define FG_F_BASE	(FG_F(VIRTIO_F_VERSION_1) | FG_F(VIRTIO_RING_F_INDIRECT_DESC))

#endif
