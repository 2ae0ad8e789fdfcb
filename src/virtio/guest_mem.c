/*
 * Guest memory table: maps SET_MEM_TABLE regions and translates guest
 * addresses. Control thread builds it; PMDs only read it (see virtio.h).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio.h"

/* [a, a + alen) and [b, b + blen) intersect; lengths non-zero, no overflow. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_region(const struct gm_region_desc *d)
{
	struct stat st;

	if (d->size == 0 || d->fd < 0)
		return -EINVAL;
	if (d->gpa + d->size < d->gpa || d->uva + d->size < d->uva ||
	    d->mmap_offset + d->size < d->mmap_offset)
		return -ERANGE;
	if (d->size > SIZE_MAX || d->mmap_offset > SIZE_MAX - d->size)
		return -ERANGE;
	if (fstat(d->fd, &st) < 0)
		return -errno;
	/* Mapping past the end of the file would map fine and SIGBUS on first
	 * touch; refuse it here instead. */
	if (st.st_size < 0 || d->mmap_offset + d->size > (uint64_t)st.st_size)
		return -ERANGE;
	return 0;
}

static int check_overlaps(const struct gm_region_desc *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (ranges_overlap(r[i].gpa, r[i].size, r[j].gpa, r[j].size) ||
			    ranges_overlap(r[i].uva, r[i].size, r[j].uva, r[j].size))
				return -EINVAL;
	return 0;
}

struct guest_mem *guest_mem_map(const struct gm_region_desc *regions, uint32_t n)
{
	struct guest_mem *mem;
	int err;

	if (n == 0 || n > GM_MAX_REGIONS) {
		errno = EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		err = check_region(&regions[i]);
		if (err < 0)
			goto err_einval;
	}
	err = check_overlaps(regions, n);
	if (err < 0)
		goto err_einval;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		const struct gm_region_desc *d = &regions[i];
		struct gm_region *r = &mem->regions[i];
		/* mmap's offset must be page aligned: map from the page below. */
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
		uint64_t off = d->mmap_offset & ~(page - 1);
		uint64_t delta = d->mmap_offset - off;
		/* No MAP_POPULATE: the frontend chose the fd and its size, and
		 * prefaulting would allocate every hole of it (charged to us)
		 * while the control thread waits. Pages fault in on first use. */
		void *p = mmap(NULL, d->size + delta, PROT_READ | PROT_WRITE,
			       MAP_SHARED, d->fd, (off_t)off);

		if (p == MAP_FAILED) {
			err = -errno;
			goto err_unmap;
		}
		r->map_base = p;
		r->map_len = d->size + delta;
		r->hva = (uint8_t *)p + delta;
		r->gpa = d->gpa;
		r->size = d->size;
		r->uva = d->uva;
		mem->n_regions = i + 1;
	}
	return mem;

err_unmap:
	guest_mem_unmap(mem);
	errno = -err;
	return NULL;
err_einval:
	errno = -err;
	return NULL;
}

void guest_mem_unmap(struct guest_mem *mem)
{
	if (!mem)
		return;
	for (uint32_t i = 0; i < mem->n_regions; i++)
		munmap(mem->regions[i].map_base, mem->regions[i].map_len);
	free(mem);
}

static const struct gm_region *find_uva(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (uint32_t i = 0; i < mem->n_regions; i++) {
		const struct gm_region *r = &mem->regions[i];

		if (uva - r->uva < r->size && len <= r->size - (uva - r->uva))
			return r;
	}
	return NULL;
}

void *gm_uva_to_hva(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	const struct gm_region *r = find_uva(mem, uva, len);

	return r ? r->hva + (uva - r->uva) : NULL;
}

uint64_t gm_uva_to_gpa(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	const struct gm_region *r = find_uva(mem, uva, len);

	return r ? r->gpa + (uva - r->uva) : UINT64_MAX;
}
