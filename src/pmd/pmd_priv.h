/*
 * Private to src/pmd: the per-PMD state and the queue assignment.
 */
#ifndef XVIO_PMD_PRIV_H
#define XVIO_PMD_PRIV_H

#include <pthread.h>
#include <stdalign.h>

#include "../dp/dp.h"
#include "pmd.h"

struct pmd_rxq {
	struct port *port;
	uint16_t qid;
};

/* Immutable once published. gen changes with every publish, so a PMD knows
 * when to rebuild its epoll set. */
struct pmd_conf {
	uint32_t gen;
	uint32_t n_rxq;
	struct pmd_rxq rxq[];
};

struct pmd {
	/* Written by the PMD (relaxed), read by the control thread. */
	alignas(CACHE_LINE) uint64_t packets;
	uint64_t iterations;
	uint64_t sleeps;
	uint64_t wakeups;		/* sleeps ended by an fd, not the timeout */
	uint32_t busy_pm;		/* busy per mille over the last interval */

	/* Written by the control thread. */
	alignas(CACHE_LINE) struct pmd_conf *conf;	/* rcu */
	struct dp_pmd *dp;
	unsigned idx;
	int cpu;
	int wake_fd;			/* eventfd: reconfiguration or stop */
	bool stop;			/* atomic */
	int state;			/* atomic: 0 starting, 1 running, -errno failed */
	pthread_t thread;

	/* PMD-private: the epoll set built from conf generation ep_gen. */
	alignas(CACHE_LINE) int epfd;
	uint32_t ep_gen;
	bool ep_poll_only;		/* a queue without a notify fd */
	uint32_t ep_n;
	int *ep_fd;			/* per rxq: notify fd, -1 */
	bool *ep_drain;			/* per rxq: an eventfd we must read */
};

/* One rx queue to place: pmd is the previous PMD (-1 for new) on input, the
 * assigned one on output. */
struct rxq_slot {
	struct port *port;
	uint16_t qid;
	int pmd;
};

/* Keep every queue on its previous PMD, put new ones on the least loaded,
 * then move queues from the most to the least loaded until counts differ by
 * at most one. */
void rxq_assign(struct rxq_slot *slots, unsigned n, unsigned n_pmd);

/* The thread body (pmd_loop.c). */
void *pmd_main(void *arg);

/* Tests: the PMDs themselves. */
struct pmd *pmd_get(unsigned idx);

#endif
