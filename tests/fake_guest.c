/* Fake guest driver, see fake_guest.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_guest.h"

int fg_vq_setup(struct fake_guest *g, uint16_t size, uint64_t features, uint32_t base)
{
	return fg_vq_setup_at(g, size, features, base, FG_DESC_GPA, FG_AVAIL_GPA, FG_USED_GPA);
}

int fg_vq_setup_at(struct fake_guest *g, uint16_t size, uint64_t features, uint32_t base,
		   uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	struct vq_addr a = { .desc_uva = FG_UVA0 + desc_gpa, .avail_uva = FG_UVA0 + avail_gpa,
			     .used_uva = FG_UVA0 + used_gpa, .log_gpa = used_gpa,
			     .flags = VHOST_VRING_F_LOG };
	int err;

	vq_init(&g->vq, 0);
	vq_set_features(&g->vq, features);
	if ((err = vq_set_num(&g->vq, size)) < 0 || (err = vq_set_addr(&g->vq, &a)) < 0 ||
	    (err = vq_set_base(&g->vq, base)) < 0)
		return err;
	vq_set_enabled(&g->vq, true);
	return vq_start(&g->vq, g->gm);
}

struct fake_guest *fg_new(void)
{
	/* struct vq has cache-line-aligned members: calloc's 16 bytes are
	 * not enough (clang zeroes it with aligned 32-byte stores). */
	size_t n = (sizeof(struct fake_guest) + _Alignof(struct fake_guest) - 1) &
		   ~(_Alignof(struct fake_guest) - 1);
	struct fake_guest *g = aligned_alloc(_Alignof(struct fake_guest), n);

	if (g)
		memset(g, 0, sizeof(*g));
	return g;
}

int fg_init(struct fake_guest *g, uint16_t size, uint64_t features)
{
	struct gm_region_desc r[2];
	int err;

	memset(g, 0, sizeof(*g));
	g->fd = memfd_create("fake_guest", MFD_CLOEXEC);
	if (g->fd < 0)
		return -errno;
	if (ftruncate(g->fd, FG_MEM_SIZE) < 0)
		goto err_errno;
	g->mem = mmap(NULL, FG_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->mem == MAP_FAILED)
		goto err_errno;
	r[0] = (struct gm_region_desc){ .gpa = 0, .size = FG_REGION_SIZE, .uva = FG_UVA0,
					.mmap_offset = 0, .fd = g->fd };
	r[1] = (struct gm_region_desc){ .gpa = FG_REGION_SIZE, .size = FG_REGION_SIZE,
					.uva = FG_UVA1, .mmap_offset = FG_REGION_SIZE, .fd = g->fd };
	g->gm = guest_mem_map(r, 2);
	if (!g->gm)
		goto err_errno;
	g->features = features;
	g->size = size;
	g->packed = features & FG_F(VIRTIO_F_RING_PACKED);
	g->avail_wrap = g->used_wrap = 1;
	g->buf_next = FG_BUF_GPA;
	g->ind_next = FG_IND_GPA;
	if (g->packed) {
		/* All descriptors start neither available nor used for wrap 1. */
		memset(g->mem + FG_DESC_GPA, 0, 16ull * size);
	}
	if ((err = fg_vq_setup(g, size, features, g->packed ? 0x8000 : 0)) < 0)
		goto err;
	return 0;

err_errno:
	err = -errno;
err:
	fg_fini(g);
	return err;
}

void fg_fini(struct fake_guest *g)
{
	guest_mem_unmap(g->gm);
	g->gm = NULL;
	if (g->mem && g->mem != MAP_FAILED)
		munmap(g->mem, FG_MEM_SIZE);
	g->mem = NULL;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

void *fg_ptr(struct fake_guest *g, uint64_t gpa)
{
	return g->mem + gpa;
}

uint64_t fg_alloc(struct fake_guest *g, uint32_t len)
{
	uint64_t a = ALIGN_UP(g->buf_next, 16ull);

	if (a + len > FG_MEM_SIZE)
		a = FG_BUF_GPA;
	g->buf_next = a + len;
	return a;
}

static uint64_t ind_alloc(struct fake_guest *g, uint32_t len)
{
	uint64_t a = g->ind_next;

	if (a + len > FG_BUF_GPA)
		a = FG_IND_GPA;
	g->ind_next = a + ALIGN_UP(len, 16u);
	return a;
}

struct vring_desc *fg_desc(struct fake_guest *g)
{
	return fg_ptr(g, FG_DESC_GPA);
}

struct vring_avail *fg_avail(struct fake_guest *g)
{
	return fg_ptr(g, FG_AVAIL_GPA);
}

struct vring_used *fg_used_ring(struct fake_guest *g)
{
	return fg_ptr(g, FG_USED_GPA);
}

static uint16_t post_split(struct fake_guest *g, const struct fg_seg *s, unsigned n, bool indirect)
{
	struct vring_desc *desc = fg_desc(g);
	uint16_t head = g->desc_next;

	if (indirect) {
		uint64_t t = ind_alloc(g, 16 * n);
		struct vring_desc *tab = fg_ptr(g, t);

		for (unsigned i = 0; i < n; i++)
			tab[i] = (struct vring_desc){ .addr = s[i].gpa, .len = s[i].len,
				.flags = (uint16_t)(s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				.next = (uint16_t)(i + 1) };
		desc[head] = (struct vring_desc){ .addr = t, .len = 16 * n,
						  .flags = VRING_DESC_F_INDIRECT };
		g->desc_next = (uint16_t)((head + 1) % g->size);
	} else {
		for (unsigned i = 0; i < n; i++) {
			uint16_t d = g->desc_next;

			g->desc_next = (uint16_t)((d + 1) % g->size);
			desc[d] = (struct vring_desc){ .addr = s[i].gpa, .len = s[i].len,
				.flags = (uint16_t)(s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				.next = g->desc_next };
		}
	}
	fg_avail(g)->ring[g->avail_idx % g->size] = head;
	g->avail_idx++;
	return head;
}

static uint16_t pflags(uint16_t f, uint8_t wrap)
{
	return (uint16_t)(f | (wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED));
}

static uint16_t post_packed(struct fake_guest *g, const struct fg_seg *s, unsigned n, bool indirect)
{
	struct vring_packed_desc *desc = fg_ptr(g, FG_DESC_GPA);
	uint16_t head = g->avail_slot, id = head, head_flags = 0;
	unsigned slots = indirect ? 1 : n;

	if (indirect) {
		uint64_t t = ind_alloc(g, 16 * n);
		struct vring_packed_desc *tab = fg_ptr(g, t);

		for (unsigned i = 0; i < n; i++)
			tab[i] = (struct vring_packed_desc){ .addr = s[i].gpa, .len = s[i].len,
							     .flags = s[i].flags };
		desc[head].addr = t;
		desc[head].len = 16 * n;
		desc[head].id = id;
		head_flags = pflags(VRING_DESC_F_INDIRECT, g->avail_wrap);
	}
	for (unsigned i = 0; !indirect && i < n; i++) {
		uint16_t slot = g->avail_slot;
		uint16_t f = pflags((uint16_t)(s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
				    g->avail_wrap);

		desc[slot].addr = s[i].gpa;
		desc[slot].len = s[i].len;
		desc[slot].id = id;
		if (i == 0)
			head_flags = f;
		else
			desc[slot].flags = f;
		if (++g->avail_slot == g->size) {
			g->avail_slot = 0;
			g->avail_wrap ^= 1;
		}
	}
	if (indirect && ++g->avail_slot == g->size) {
		g->avail_slot = 0;
		g->avail_wrap ^= 1;
	}
	g->chain_len[id] = (uint16_t)slots;
	/* The head's flags last, with release: the chain is complete first. */
	__atomic_store_n(&desc[head].flags, head_flags, __ATOMIC_RELEASE);
	return id;
}

uint16_t fg_post(struct fake_guest *g, const struct fg_seg *segs, unsigned n, bool indirect)
{
	return g->packed ? post_packed(g, segs, n, indirect) : post_split(g, segs, n, indirect);
}

void fg_publish(struct fake_guest *g)
{
	if (!g->packed)
		__atomic_store_n(&fg_avail(g)->idx, g->avail_idx, __ATOMIC_RELEASE);
}

uint16_t fg_tx(struct fake_guest *g, const struct virtio_net_hdr *vhdr, const void *frame,
	       uint32_t len, unsigned nseg, bool indirect)
{
	uint32_t hl = g->vq.hdr_len;
	struct fg_seg s[16];
	unsigned n = 0;

	if (nseg <= 1) {
		uint64_t b = fg_alloc(g, hl + len);

		memcpy(fg_ptr(g, b), vhdr, hl);
		memcpy(fg_ptr(g, b + hl), frame, len);
		s[n++] = (struct fg_seg){ b, hl + len, 0 };
	} else {
		uint64_t b = fg_alloc(g, hl);
		uint32_t per = (len + nseg - 2) / (nseg - 1), off = 0;

		memcpy(fg_ptr(g, b), vhdr, hl);
		s[n++] = (struct fg_seg){ b, hl, 0 };
		while (off < len && n < 16) {
			uint32_t l = MIN(per, len - off);

			b = fg_alloc(g, l);
			memcpy(fg_ptr(g, b), (const uint8_t *)frame + off, l);
			s[n++] = (struct fg_seg){ b, l, 0 };
			off += l;
		}
	}
	return fg_post(g, s, n, indirect);
}

uint16_t fg_rx(struct fake_guest *g, uint32_t len, uint64_t *gpa)
{
	struct fg_seg s = { fg_alloc(g, len), len, VRING_DESC_F_WRITE };

	memset(fg_ptr(g, s.gpa), 0xee, len);
	if (gpa)
		*gpa = s.gpa;
	return fg_post(g, &s, 1, false);
}

bool fg_used(struct fake_guest *g, uint32_t *id, uint32_t *len)
{
	if (!g->packed) {
		struct vring_used *u = fg_used_ring(g);

		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == g->used_seen)
			return false;
		*id = u->ring[g->used_seen % g->size].id;
		*len = u->ring[g->used_seen % g->size].len;
		g->used_seen++;
		return true;
	}
	struct vring_packed_desc *d = (struct vring_packed_desc *)fg_ptr(g, FG_DESC_GPA) + g->used_slot;
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool avail = f & VRING_PACKED_DESC_F_AVAIL, used = f & VRING_PACKED_DESC_F_USED;

	if (avail != used || used != g->used_wrap)
		return false;
	*id = d->id;
	*len = d->len;
	g->used_slot = (uint16_t)(g->used_slot + g->chain_len[d->id % g->size]);
	if (g->used_slot >= g->size) {
		g->used_slot = (uint16_t)(g->used_slot - g->size);
		g->used_wrap ^= 1;
	}
	return true;
}
