/*
 * Placing rx queues on PMDs. Count-based: every queue weighs the same. A
 * queue keeps its PMD across reconfigurations unless the PMDs' counts drift
 * more than one apart, so adding or removing one port moves nothing else in
 * the common case (a move costs a grace period and cold caches).
 */
#include "pmd_priv.h"

static unsigned least_loaded(const unsigned *count, unsigned n_pmd)
{
	unsigned best = 0;

	for (unsigned i = 1; i < n_pmd; i++)
		if (count[i] < count[best])
			best = i;
	return best;
}

static unsigned most_loaded(const unsigned *count, unsigned n_pmd)
{
	unsigned best = 0;

	for (unsigned i = 1; i < n_pmd; i++)
		if (count[i] > count[best])
			best = i;
	return best;
}

void rxq_assign(struct rxq_slot *slots, unsigned n, unsigned n_pmd)
{
	unsigned count[PMD_MAX] = { 0 };

	if (!n_pmd)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (slots[i].pmd >= (int)n_pmd)
			slots[i].pmd = -1;
		if (slots[i].pmd >= 0)
			count[slots[i].pmd]++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (slots[i].pmd < 0) {
			unsigned p = least_loaded(count, n_pmd);

			slots[i].pmd = (int)p;
			count[p]++;
		}
	}
	for (;;) {
		unsigned hi = most_loaded(count, n_pmd), lo = least_loaded(count, n_pmd);

		if (count[hi] <= count[lo] + 1)
			break;
		/* Move the last queue of the busiest PMD: the newest, so the
		 * longest-placed ones stay put. */
		for (unsigned i = n; i-- > 0;) {
			if (slots[i].pmd == (int)hi) {
				slots[i].pmd = (int)lo;
				count[hi]--;
				count[lo]++;
				break;
			}
		}
	}
}
