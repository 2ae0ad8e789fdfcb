/*
 * pmd: the poll-mode threads that run the datapath.
 *
 * One thread per CPU given to pmd_init, pinned there, each with its own packet
 * pool and its own datapath context (dp.h). Every (port, rx queue) is polled
 * by exactly one PMD; pmd_reconfigure spreads them (stable where possible,
 * balanced by queue count) whenever ports or their queues change. A PMD
 * transmits on tx queue id = its index (port.h).
 *
 * The loop: rx burst → dp_process → dp_flush for each assigned queue, then
 * one rcu_quiescent_state(). After ~100 µs without a packet a PMD arms its
 * queues' notifications (port_ops.rxq_notify) and sleeps in epoll_wait on
 * their notify fds and its own wakeup eventfd, offline for RCU; any fd, a
 * reconfiguration or the 100 ms safety net wakes it. A queue without a
 * notify fd (-1) limits the sleep to 1 ms, so it is still polled ~1000×/s.
 *
 * Thread-safety: every function here is control-thread only. Per-PMD
 * configuration is an immutable array of queues published with RCU (QSBR);
 * counters are written by each PMD with relaxed stores and read here with
 * relaxed loads.
 */
#ifndef XVIO_PMD_H
#define XVIO_PMD_H

#include <stdint.h>

#include <jansson.h>

#include "../port/port.h"

/* Most PMD threads; a port's tx queue id (= PMD index) must stay below
 * PORT_MAX_QUEUES. */
#define PMD_MAX		PORT_MAX_QUEUES

/* Start one PMD per CPU in cpu_list ("1", "0,2", "0-3", "0,2-3"); NULL or ""
 * starts one on the last CPU this process may run on. 0 or -errno (-EINVAL
 * bad list or CPU not allowed, -ERANGE more than PMD_MAX, -EALREADY). Call
 * time_init() first (busy% uses tsc_hz). */
int pmd_init(const char *cpu_list);
/* Stop and join every PMD. Ports should be deleted first. */
void pmd_stop(void);
unsigned pmd_count(void);

/* Reassign every rx queue of every port and publish the result; returns
 * after no PMD can still poll a queue it lost. Called by the port listeners
 * (add/del) and by port kinds when a queue's readiness or notify fd changes
 * (vhost). Harmless before pmd_init. */
void pmd_reconfigure(void);

/* The PMD index polling (port, qid), or -1. */
int pmd_of_rxq(const struct port *port, uint16_t qid);

/* Append one object per PMD: {"id","cpu","busy_pct" (real, last ~1 s),
 * "packets","iterations","sleeps","rxqs":[{"port","rxq"}]}. */
void pmd_stats_json(json_t *array);

#endif
