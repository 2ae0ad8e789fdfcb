/*
 * Dirty page log for live migration (vhost-user "Migration"): one bit per
 * 4 KiB guest page, bit (gpa >> 12) % 8 of byte (gpa >> 12) / 8. QEMU reads
 * and clears the bitmap concurrently, so bits are set with atomic ORs, each
 * after the write it stands for (vhost-user.rst "Migration"; Linux's vhost
 * puts an smp_wmb() between the two); this only runs while a migration is
 * logging, never on the normal fast path.
 */
#include "virtio_priv.h"

void dirty_log_init(struct dirty_log *log, void *base, uint64_t size)
{
	log->base = base;
	log->size = size;
	log->n_out_of_range = 0;
}

void dirty_log_mark(struct dirty_log *log, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (len == 0)
		return;
	first = gpa >> DIRTY_LOG_PAGE_SHIFT;
	last = (gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1) >> DIRTY_LOG_PAGE_SHIFT;
	for (uint64_t page = first; page <= last; page++) {
		if (unlikely(page / 8 >= log->size)) {
			COUNTER_ADD_RELAXED(log->n_out_of_range, last - page + 1);
			return;
		}
		/* Release: the guest-memory writes this bit stands for are
		 * visible before it (QEMU sends the page once it sees it). */
		__atomic_fetch_or(&log->base[page / 8], (uint8_t)(1u << (page % 8)),
				  __ATOMIC_RELEASE);
	}
}
