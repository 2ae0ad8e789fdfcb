/*
 * The PMD thread: poll, process, flush, quiesce; sleep when idle.
 *
 * Cost model: one rdtsc per iteration (busy/total cycles), relaxed counter
 * stores, no locks or allocations. Allocation happens only when the
 * configuration changes (the epoll set is rebuilt then).
 *
 * Sleeping: after PMD_IDLE_US without a packet the PMD arms every queue's
 * notification (rxq_notify(true); a true return means work arrived while
 * arming, so it keeps polling), goes RCU-offline — synchronize_rcu() no
 * longer waits for it — and blocks in epoll_wait on the queues' notify fds
 * plus its wakeup eventfd. Once awake and online it reads the eventfds that
 * fired (notify fds of kinds with an rxq_notify op are eventfds, e.g. vhost
 * kicks; sockets are level-triggered and are never read here), disarms the
 * queues and polls again.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "pmd_priv.h"

#define PMD_POOL_SIZE		4096
#define PMD_IDLE_US		100
#define PMD_SLEEP_MAX_MS	100	/* safety net */
#define PMD_SLEEP_POLL_MS	1	/* with a queue that has no notify fd */
#define PMD_EV_WAKE		UINT32_MAX
#define PMD_MAX_EVENTS		64

static void ep_reset(struct pmd *pmd)
{
	if (pmd->epfd >= 0)
		close(pmd->epfd);
	pmd->epfd = -1;
	for (uint32_t i = 0; i < pmd->ep_n; i++)
		if (pmd->ep_drain[i] && pmd->ep_fd[i] >= 0)
			close(pmd->ep_fd[i]);
	free(pmd->ep_fd);
	free(pmd->ep_drain);
	pmd->ep_fd = NULL;
	pmd->ep_drain = NULL;
	pmd->ep_n = 0;
}

/* A fresh epoll instance per configuration: sockets of closed ports vanish
 * from it by themselves, eventfds are our own duplicates (closed here), and
 * no stale registration can survive fd reuse. On any failure the PMD falls
 * back to short sleeps (ep_poll_only). */
static void ep_rebuild(struct pmd *pmd, const struct pmd_conf *conf)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ep_reset(pmd);
	pmd->ep_gen = conf->gen;
	pmd->ep_poll_only = false;
	pmd->epfd = epoll_create1(EPOLL_CLOEXEC);
	pmd->ep_fd = calloc(conf->n_rxq + 1, sizeof(*pmd->ep_fd));
	pmd->ep_drain = calloc(conf->n_rxq + 1, sizeof(*pmd->ep_drain));
	if (pmd->epfd < 0 || !pmd->ep_fd || !pmd->ep_drain)
		goto err_poll_only;
	ev.data.u32 = PMD_EV_WAKE;
	if (epoll_ctl(pmd->epfd, EPOLL_CTL_ADD, pmd->wake_fd, &ev) < 0)
		goto err_poll_only;
	for (uint32_t i = 0; i < conf->n_rxq; i++)
		pmd->ep_fd[i] = -1;
	pmd->ep_n = conf->n_rxq;
	for (uint32_t i = 0; i < conf->n_rxq; i++) {
		struct port *port = conf->rxq[i].port;
		const struct port_ops *ops = port->ops;
		int fd = ops->rxq_notify_fd ? ops->rxq_notify_fd(port, conf->rxq[i].qid) : -1;

		if (fd < 0) {
			pmd->ep_poll_only = true;
			continue;
		}
		/* An eventfd we drain is read through our own duplicate: the
		 * kind may close its fd (and the number be reused) while we
		 * sleep offline, and we must never read someone else's fd. */
		if (ops->rxq_notify) {
			fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0) {
				pmd->ep_poll_only = true;
				continue;
			}
			pmd->ep_fd[i] = fd;
			pmd->ep_drain[i] = true;
		}
		ev.data.u32 = i;
		if (epoll_ctl(pmd->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			/* EEXIST: queues sharing one socket are covered once. */
			if (errno != EEXIST)
				pmd->ep_poll_only = true;
			if (pmd->ep_drain[i]) {
				close(fd);
				pmd->ep_drain[i] = false;
			}
			pmd->ep_fd[i] = -1;
			continue;
		}
		pmd->ep_fd[i] = fd;
	}
	return;

err_poll_only:
	LOG_RL(LOG_WARN, "pmd", "pmd%u: cannot build epoll set: %s; polling every %d ms when idle",
	       pmd->idx, strerror(errno), PMD_SLEEP_POLL_MS);
	ep_reset(pmd);
	pmd->ep_poll_only = true;
}

static void notify_all(const struct pmd_conf *conf, bool enable, bool *pending)
{
	for (uint32_t i = 0; i < conf->n_rxq; i++) {
		struct port *port = conf->rxq[i].port;

		if (port->ops->rxq_notify && port->ops->rxq_notify(port, conf->rxq[i].qid, enable))
			*pending = true;
	}
}

/* Returns true if woken by an fd (or work was pending), false on timeout. */
static bool pmd_sleep(struct pmd *pmd)
{
	const struct pmd_conf *conf = rcu_dereference(pmd->conf);
	struct epoll_event evs[PMD_MAX_EVENTS];
	bool pending = false;
	int n = 0;

	if (pmd->ep_gen != conf->gen || (pmd->epfd < 0 && !pmd->ep_poll_only))
		ep_rebuild(pmd, conf);
	notify_all(conf, true, &pending);
	if (!pending) {
		int timeout = pmd->ep_poll_only ? PMD_SLEEP_POLL_MS : PMD_SLEEP_MAX_MS;

		COUNTER_ADD(pmd->sleeps, 1);
		rcu_thread_offline();
		if (pmd->epfd >= 0)
			n = epoll_wait(pmd->epfd, evs, PMD_MAX_EVENTS, timeout);
		else
			usleep((useconds_t)timeout * 1000);
		rcu_thread_online();
		/* conf may be freed now: only the new one may be touched. */
		conf = rcu_dereference(pmd->conf);
		for (int i = 0; i < n; i++) {
			uint32_t idx = evs[i].data.u32;
			uint64_t v;
			ssize_t r __unused;

			if (idx == PMD_EV_WAKE) {
				r = read(pmd->wake_fd, &v, sizeof(v));
				continue;
			}
			/* With a new conf the fd may be closed or reused:
			 * leave it, it is level-triggered and fires again
			 * in the rebuilt set. */
			if (conf->gen != pmd->ep_gen || idx >= pmd->ep_n || pmd->ep_fd[idx] < 0)
				continue;
			if (unlikely(evs[i].events & (EPOLLERR | EPOLLHUP))) {
				/* A broken fd (tap whose device vanished) would
				 * wake us forever: poll that queue instead. */
				epoll_ctl(pmd->epfd, EPOLL_CTL_DEL, pmd->ep_fd[idx], NULL);
				if (pmd->ep_drain[idx])
					close(pmd->ep_fd[idx]);	/* our duplicate */
				pmd->ep_drain[idx] = false;
				pmd->ep_fd[idx] = -1;
				pmd->ep_poll_only = true;
				LOG_RL(LOG_WARN, "pmd", "pmd%u: %s rxq %u: notify fd in error, polling it",
				       pmd->idx, conf->rxq[idx].port->name, conf->rxq[idx].qid);
			} else if (pmd->ep_drain[idx]) {
				/* Readable per epoll and ours alone, so this read
				 * cannot block even on a blocking eventfd. */
				r = read(pmd->ep_fd[idx], &v, sizeof(v));
			}
		}
		if (n > 0)
			COUNTER_ADD(pmd->wakeups, 1);
	}
	/* Disarming a queue that was never armed (new in conf) is allowed. */
	notify_all(conf, false, &pending);
	return n > 0 || pending;
}

static int pmd_setup(struct pmd *pmd, struct pkt_pool **pool)
{
	char name[32];
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(pmd->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		return -EINVAL;
	snprintf(name, sizeof(name), "pmd%u", pmd->idx);
	pthread_setname_np(pthread_self(), name);
	/* Created here so its pages come from this CPU's NUMA node. */
	*pool = pkt_pool_create(name, PMD_POOL_SIZE);
	if (!*pool)
		return -errno;
	pkt_pool_set_thread(*pool);
	return 0;
}

void *pmd_main(void *arg)
{
	struct pmd *pmd = arg;
	struct pkt *pkts[PKT_BURST];
	struct pkt_pool *pool = NULL;
	uint64_t t_prev, t_work, t_interval, busy_interval = 0;
	uint64_t idle_cycles = tsc_hz / 1000000 * PMD_IDLE_US, interval = tsc_hz;
	int err;

	err = pmd_setup(pmd, &pool);
	if (err) {
		__atomic_store_n(&pmd->state, err, __ATOMIC_RELEASE);
		return NULL;
	}
	rcu_register_thread();
	__atomic_store_n(&pmd->state, 1, __ATOMIC_RELEASE);
	LOG(LOG_INFO, "pmd", "pmd%u: running on cpu %d", pmd->idx, pmd->cpu);

	time_fast_anchor();
	t_prev = t_work = t_interval = rdtsc();
	while (!__atomic_load_n(&pmd->stop, __ATOMIC_RELAXED)) {
		const struct pmd_conf *conf = rcu_dereference(pmd->conf);
		uint32_t got = 0;
		uint64_t t;

		for (uint32_t i = 0; i < conf->n_rxq; i++) {
			struct port *port = conf->rxq[i].port;
			uint16_t n = port_rx_burst(port, conf->rxq[i].qid, pkts, PKT_BURST);

			if (n) {
				dp_process(pmd->dp, port, pkts, n);
				dp_flush(pmd->dp);
				got += n;
			}
		}
		rcu_quiescent_state();

		t = rdtsc();
		COUNTER_ADD(pmd->iterations, 1);
		if (got) {
			COUNTER_ADD(pmd->packets, got);
			busy_interval += t - t_prev;
			t_work = t;
		}
		t_prev = t;
		if (unlikely(t - t_interval >= interval)) {
			__atomic_store_n(&pmd->busy_pm,
					 (uint32_t)(busy_interval * 1000 / (t - t_interval)),
					 __ATOMIC_RELAXED);
			t_interval = t;
			busy_interval = 0;
		}
		if (!got && t - t_work >= idle_cycles) {
			bool woken = pmd_sleep(pmd);

			/* The sleep is idle time: keep it out of the next
			 * iteration's delta. After a real wakeup spin again
			 * for a while; after a timeout (nothing happened)
			 * poll once and go straight back to sleep. */
			t_prev = rdtsc();
			if (woken)
				t_work = t_prev;
		}
	}
	rcu_unregister_thread();
	ep_reset(pmd);
	pkt_pool_set_thread(NULL);
	pkt_pool_destroy(pool);
	return NULL;
}
