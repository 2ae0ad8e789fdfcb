/*
 * Control side of the PMDs: start and stop the threads, place rx queues on
 * them and publish each PMD's queue array, report their counters.
 *
 * Control-thread only. A queue that moves between PMDs is first removed from
 * its old PMD and a grace period passes before the new one gets it, so two
 * PMDs never poll one queue at once (rx_burst is single-consumer).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "pmd_priv.h"

static struct pmd *pmds[PMD_MAX];
static unsigned n_pmds;
static uint32_t conf_gen;
static struct port *port_removing;	/* still in the port table, being deleted */

struct pmd *pmd_get(unsigned idx)
{
	return idx < n_pmds ? pmds[idx] : NULL;
}

unsigned pmd_count(void)
{
	return n_pmds;
}

static struct pmd_conf *conf_alloc(uint32_t n)
{
	struct pmd_conf *c = calloc(1, sizeof(*c) + n * sizeof(c->rxq[0]));

	if (c)
		c->gen = ++conf_gen;
	return c;
}

/* Parse "0,2-3" into cpus[] (at most PMD_MAX), each checked against the
 * process's affinity mask. */
static int parse_cpus(const char *s, int *cpus, unsigned *n)
{
	cpu_set_t allowed;
	const char *p = s;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return -errno;
	*n = 0;
	if (!s || !*s) {
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &allowed)) {
				cpus[(*n)++] = c;
				return 0;
			}
		return -EINVAL;
	}
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p || lo < 0)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			hi = strtol(++p, &end, 10);
			if (end == p || hi < lo)
				return -EINVAL;
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
		for (long c = lo; c <= hi; c++) {
			if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed))
				return -EINVAL;
			for (unsigned i = 0; i < *n; i++)
				if (cpus[i] == c)
					return -EINVAL;
			if (*n == PMD_MAX)
				return -ERANGE;
			cpus[(*n)++] = (int)c;
		}
	}
	return *n ? 0 : -EINVAL;
}

static void pmd_free(struct pmd *pmd)
{
	if (!pmd)
		return;
	if (pmd->wake_fd >= 0)
		close(pmd->wake_fd);
	dp_pmd_destroy(pmd->dp);
	free(pmd->conf);
	free(pmd);
}

static void pmd_wake(struct pmd *pmd)
{
	uint64_t one = 1;
	ssize_t r __unused = write(pmd->wake_fd, &one, sizeof(one));
}

static int pmd_start(unsigned idx, int cpu)
{
	struct pmd *pmd = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*pmd), CACHE_LINE));
	int err, state;

	if (!pmd)
		return -ENOMEM;
	memset(pmd, 0, sizeof(*pmd));
	pmd->idx = idx;
	pmd->cpu = cpu;
	pmd->epfd = -1;
	pmd->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pmd->conf = conf_alloc(0);
	pmd->dp = dp_pmd_create((uint16_t)idx);
	if (pmd->wake_fd < 0 || !pmd->conf || !pmd->dp) {
		err = -ENOMEM;
		goto err_free;
	}
	err = -pthread_create(&pmd->thread, NULL, pmd_main, pmd);
	if (err)
		goto err_free;
	/* Wait for it to pin itself and make its pool, so a bad CPU or a
	 * failed allocation is this call's error. */
	while ((state = __atomic_load_n(&pmd->state, __ATOMIC_ACQUIRE)) == 0)
		usleep(100);
	if (state < 0) {
		pthread_join(pmd->thread, NULL);
		err = state;
		goto err_free;
	}
	pmds[idx] = pmd;
	return 0;

err_free:
	pmd_free(pmd);
	return err;
}

int pmd_init(const char *cpu_list)
{
	int cpus[PMD_MAX], err;
	unsigned n;

	if (n_pmds)
		return -EALREADY;
	err = parse_cpus(cpu_list, cpus, &n);
	if (err)
		return err;
	for (unsigned i = 0; i < n; i++) {
		err = pmd_start(i, cpus[i]);
		if (err) {
			LOG(LOG_ERR, "pmd", "pmd%u on cpu %d: %s", i, cpus[i], strerror(-err));
			n_pmds = i;
			pmd_stop();
			return err;
		}
		n_pmds = i + 1;
	}
	pmd_reconfigure();
	return 0;
}

void pmd_stop(void)
{
	for (unsigned i = 0; i < n_pmds; i++) {
		__atomic_store_n(&pmds[i]->stop, true, __ATOMIC_RELAXED);
		pmd_wake(pmds[i]);
	}
	for (unsigned i = 0; i < n_pmds; i++) {
		pthread_join(pmds[i]->thread, NULL);
		pmd_free(pmds[i]);
		pmds[i] = NULL;
	}
	n_pmds = 0;
}

static int prev_pmd(const struct port *port, uint16_t qid)
{
	for (unsigned p = 0; p < n_pmds; p++) {
		const struct pmd_conf *c = pmds[p]->conf;

		for (uint32_t i = 0; i < c->n_rxq; i++)
			if (c->rxq[i].port == port && c->rxq[i].qid == qid)
				return (int)p;
	}
	return -1;
}

int pmd_of_rxq(const struct port *port, uint16_t qid)
{
	return prev_pmd(port, qid);
}

/* Publish new queue arrays (NULL = keep), wake every PMD, wait, free. */
static void publish(struct pmd_conf **next)
{
	struct pmd_conf *old[PMD_MAX] = { NULL };

	for (unsigned p = 0; p < n_pmds; p++) {
		if (!next[p])
			continue;
		old[p] = pmds[p]->conf;
		rcu_assign_pointer(pmds[p]->conf, next[p]);
		next[p] = NULL;
	}
	/* A sleeping PMD rebuilds its epoll set from the new array; the
	 * grace period below does not wait for it (it is offline) and need
	 * not: it polls nothing until it is online again. */
	for (unsigned p = 0; p < n_pmds; p++)
		pmd_wake(pmds[p]);
	synchronize_rcu();
	for (unsigned p = 0; p < n_pmds; p++)
		free(old[p]);
}

void pmd_reconfigure(void)
{
	struct pmd_conf *next[PMD_MAX] = { NULL };
	struct rxq_slot *slots;
	unsigned n = 0, cap = 0;
	bool moved = false;
	struct port *port;

	if (!n_pmds)
		return;
	PORT_FOREACH(port, id)
		if (port != port_removing)
			cap += port->n_rxq;
	slots = calloc(cap + 1, sizeof(*slots));
	if (!slots) {
		LOG(LOG_ERR, "pmd", "out of memory placing rx queues; assignment unchanged");
		return;
	}
	PORT_FOREACH(port, id) {
		if (port == port_removing)
			continue;
		for (uint16_t q = 0; q < port->n_rxq && n < cap; q++) {
			slots[n].port = port;
			slots[n].qid = q;
			slots[n].pmd = prev_pmd(port, q);
			n++;
		}
	}
	rxq_assign(slots, n, n_pmds);
	for (unsigned i = 0; i < n; i++) {
		int was = prev_pmd(slots[i].port, slots[i].qid);

		moved |= was >= 0 && was != slots[i].pmd;
	}

	/* Phase 1, only when a queue changes PMD: every PMD keeps just the
	 * queues it keeps, so a moving queue has no poller for one grace
	 * period. */
	for (unsigned phase = moved ? 0 : 1; phase < 2; phase++) {
		for (unsigned p = 0; p < n_pmds; p++) {
			uint32_t k = 0;

			next[p] = conf_alloc(n);
			if (!next[p])
				goto err_nomem;
			for (unsigned i = 0; i < n; i++) {
				if (slots[i].pmd != (int)p)
					continue;
				if (phase == 0 && prev_pmd(slots[i].port, slots[i].qid) != (int)p)
					continue;
				next[p]->rxq[k].port = slots[i].port;
				next[p]->rxq[k].qid = slots[i].qid;
				k++;
			}
			next[p]->n_rxq = k;
		}
		publish(next);
	}
	free(slots);
	return;

err_nomem:
	for (unsigned p = 0; p < n_pmds; p++)
		free(next[p]);
	free(slots);
	LOG(LOG_ERR, "pmd", "out of memory placing rx queues; assignment unchanged");
}

static void port_added(struct port *port)
{
	(void)port;
	pmd_reconfigure();
}

static void port_removed(struct port *port)
{
	port_removing = port;
	pmd_reconfigure();
	port_removing = NULL;
}

static struct port_listener pmd_listener = {
	.added = port_added,
	.removed = port_removed,
};

static void __attribute__((constructor)) pmd_register(void)
{
	port_listener_register(&pmd_listener);
}

void pmd_stats_json(json_t *array)
{
	for (unsigned p = 0; p < n_pmds; p++) {
		const struct pmd *pmd = pmds[p];
		const struct pmd_conf *c = pmd->conf;
		json_t *rxqs = json_array();

		for (uint32_t i = 0; i < c->n_rxq; i++)
			json_array_append_new(rxqs, json_pack("{s:s,s:i}", "port",
				c->rxq[i].port->name, "rxq", c->rxq[i].qid));
		json_array_append_new(array, json_pack("{s:i,s:i,s:f,s:I,s:I,s:I,s:I,s:o}",
			"id", (int)p, "cpu", pmd->cpu,
			"busy_pct", COUNTER_READ(pmd->busy_pm) / 10.0,
			"packets", (json_int_t)COUNTER_READ(pmd->packets),
			"iterations", (json_int_t)COUNTER_READ(pmd->iterations),
			"sleeps", (json_int_t)COUNTER_READ(pmd->sleeps),
			"wakeups", (json_int_t)COUNTER_READ(pmd->wakeups),
			"rxqs", rxqs));
	}
}
