/* Unit tests for src/pmd: rx queue placement, the CPU list, and real PMD
 * threads polling fake ports: forwarding, the idle → sleep → wake path on an
 * eventfd, "work pending while arming" keeping a PMD awake, poll-only queues,
 * and the idle CPU cost. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/pkt.h"
#include "dp/dp.h"
#include "pmd/pmd.h"
#include "pmd/pmd_priv.h"
#include "port/port.h"

/* ---- rxq_assign ---- */

static void count(const struct rxq_slot *s, unsigned n, unsigned *c, unsigned n_pmd)
{
	memset(c, 0, n_pmd * sizeof(*c));
	for (unsigned i = 0; i < n; i++) {
		assert_true(s[i].pmd >= 0 && s[i].pmd < (int)n_pmd);
		c[s[i].pmd]++;
	}
}

static void test_assign_spread(void **state)
{
	struct rxq_slot s[7];
	unsigned c[3];

	(void)state;
	for (int i = 0; i < 7; i++)
		s[i] = (struct rxq_slot){ .qid = (uint16_t)i, .pmd = -1 };
	rxq_assign(s, 7, 3);
	count(s, 7, c, 3);
	assert_int_equal(c[0], 3);
	assert_int_equal(c[1], 2);
	assert_int_equal(c[2], 2);
	/* Round-robin order for new queues. */
	assert_int_equal(s[0].pmd, 0);
	assert_int_equal(s[1].pmd, 1);
	assert_int_equal(s[2].pmd, 2);
	assert_int_equal(s[3].pmd, 0);
}

static void test_assign_stable(void **state)
{
	struct rxq_slot s[5] = {
		{ .pmd = 1 }, { .pmd = 0 }, { .pmd = 1 }, { .pmd = 0 }, { .pmd = -1 },
	};

	(void)state;
	rxq_assign(s, 5, 2);
	/* Nobody moves; the new queue goes to a least loaded PMD. */
	assert_int_equal(s[0].pmd, 1);
	assert_int_equal(s[1].pmd, 0);
	assert_int_equal(s[2].pmd, 1);
	assert_int_equal(s[3].pmd, 0);
	assert_int_equal(s[4].pmd, 0);
}

static void test_assign_rebalance(void **state)
{
	/* Queues left behind on PMD 0 after others were deleted. */
	struct rxq_slot s[5] = {
		{ .pmd = 0 }, { .pmd = 0 }, { .pmd = 0 }, { .pmd = 0 }, { .pmd = 7 },
	};
	unsigned c[2], moved = 0;

	(void)state;
	rxq_assign(s, 5, 2);
	count(s, 5, c, 2);
	assert_true(c[0] - c[1] <= 1 || c[1] - c[0] <= 1);
	assert_true((c[0] == 3 && c[1] == 2) || (c[0] == 2 && c[1] == 3));
	for (int i = 0; i < 4; i++)
		moved += s[i].pmd != 0;
	/* Only as many move as balance needs (the PMD 7 queue was new). */
	assert_true(moved <= 2);
	assert_int_equal(s[0].pmd, 0);
	rxq_assign(s, 0, 2);	/* nothing to place is fine */
}

/* ---- fake eventfd-backed port ---- */

struct efport {
	int efd;		/* -1: poll-only */
	int pending;		/* packets to deliver (atomic) */
	bool force_pending;	/* rxq_notify(true) reports work (atomic) */
	unsigned n_arm, n_disarm, n_tx, n_rx;	/* atomic */
	uint8_t mac;
};

static uint16_t ef_rx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct efport *e = port->priv;
	int want = __atomic_load_n(&e->pending, __ATOMIC_ACQUIRE);
	uint16_t got = 0;

	(void)qid;
	if (!want)
		return 0;
	n = (uint16_t)MIN((int)n, want);
	got = pkt_alloc_bulk(pkts, n);
	for (uint16_t i = 0; i < got; i++) {
		struct pkt *p = pkts[i];

		memset(p->data, 0xff, 6);
		memcpy(p->data + 6, "\x02\x00\x00\x00\x00", 5);
		p->data[11] = e->mac;
		p->data[12] = 0x08;
		p->data[13] = 0x00;
		memset(p->data + 14, 0, 46);
		p->len = 60;
		p->in_port = port->id;
	}
	__atomic_sub_fetch(&e->pending, got, __ATOMIC_RELEASE);
	__atomic_add_fetch(&e->n_rx, got, __ATOMIC_RELAXED);
	return got;
}

static uint16_t ef_tx(struct port *port, uint16_t qid, struct pkt **pkts, uint16_t n)
{
	struct efport *e = port->priv;

	(void)qid;
	pkt_free_bulk(pkts, n);
	__atomic_add_fetch(&e->n_tx, n, __ATOMIC_RELAXED);
	return n;
}

static int ef_notify_fd(struct port *port, uint16_t qid)
{
	(void)qid;
	return ((struct efport *)port->priv)->efd;
}

static bool ef_notify(struct port *port, uint16_t qid, bool enable)
{
	struct efport *e = port->priv;

	(void)qid;
	if (enable) {
		__atomic_add_fetch(&e->n_arm, 1, __ATOMIC_RELAXED);
		return __atomic_load_n(&e->force_pending, __ATOMIC_RELAXED) ||
		       __atomic_load_n(&e->pending, __ATOMIC_RELAXED) > 0;
	}
	__atomic_add_fetch(&e->n_disarm, 1, __ATOMIC_RELAXED);
	return false;
}

static void ef_close(struct port *port)
{
	struct efport *e = port->priv;

	if (e->efd >= 0)
		close(e->efd);
	free(e);
	port_free(port);
}

static const struct port_ops ef_ops = {
	.rx_burst = ef_rx,
	.tx_burst = ef_tx,
	.rxq_notify_fd = ef_notify_fd,
	.rxq_notify = ef_notify,
	.close = ef_close,
};

static struct port *ef_add(const char *name, bool with_fd, uint16_t n_rxq)
{
	struct port *p = port_alloc(name, "efd", &ef_ops);
	struct efport *e = calloc(1, sizeof(*e));

	assert_non_null(p);
	assert_non_null(e);
	e->efd = with_fd ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	e->mac = (uint8_t)name[0];
	p->priv = e;
	p->n_rxq = n_rxq;
	assert_int_equal(port_add(p), 0);
	return p;
}

static struct efport *ef(struct port *p)
{
	return p->priv;
}

static unsigned ld(unsigned *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

#define WAIT_FOR(cond, ms) ({ \
	int left__ = (ms); \
	while (!(cond) && left__-- > 0) \
		usleep(1000); \
	(cond); \
})

static uint64_t pmd_stat(unsigned idx, uint64_t *field_of_pmd)
{
	(void)idx;
	return __atomic_load_n(field_of_pmd, __ATOMIC_RELAXED);
}

static void del_all(void)
{
	struct port *p;

	PORT_FOREACH(p, id)
		assert_int_equal(port_del(p), 0);
}

static void test_cpu_list(void **state)
{
	(void)state;
	assert_int_equal(pmd_init("abc"), -EINVAL);
	assert_int_equal(pmd_init("0,0"), -EINVAL);
	assert_int_equal(pmd_init("9999"), -EINVAL);
	assert_int_equal(pmd_init("1-0"), -EINVAL);
	assert_int_equal(pmd_init("0,"), 0);	/* trailing comma tolerated */
	assert_int_equal(pmd_count(), 1);
	assert_int_equal(pmd_init("0"), -EALREADY);
	pmd_stop();
	assert_int_equal(pmd_count(), 0);
}

static void test_forward_sleep_wake(void **state)
{
	struct port *a, *b;
	struct pmd *pmd;
	uint64_t sleeps, wakeups;
	uint64_t v;

	(void)state;
	assert_int_equal(pmd_init(NULL), 0);
	pmd = pmd_get(0);
	a = ef_add("a", true, 1);
	b = ef_add("b", true, 1);
	assert_int_equal(pmd_of_rxq(a, 0), 0);
	assert_int_equal(pmd_of_rxq(b, 0), 0);

	/* Idle: the PMD arms both queues and sleeps. */
	assert_true(WAIT_FOR(pmd_stat(0, &pmd->sleeps) > 0 && ld(&ef(a)->n_arm) > 0, 2000));
	sleeps = pmd_stat(0, &pmd->sleeps);
	wakeups = pmd_stat(0, &pmd->wakeups);

	/* A kick wakes it well before the 100 ms safety net. */
	__atomic_store_n(&ef(a)->pending, 5, __ATOMIC_RELEASE);
	v = 1;
	assert_int_equal(write(ef(a)->efd, &v, sizeof(v)), sizeof(v));
	assert_true(WAIT_FOR(ld(&ef(b)->n_tx) == 5, 300));
	assert_true(pmd_stat(0, &pmd->wakeups) > wakeups);
	assert_true(ld(&ef(a)->n_disarm) > 0);
	/* The PMD drained the kick. */
	assert_true(WAIT_FOR(read(ef(a)->efd, &v, sizeof(v)) < 0 && errno == EAGAIN, 100));
	/* ... and goes back to sleep. */
	assert_true(WAIT_FOR(pmd_stat(0, &pmd->sleeps) > sleeps, 2000));
	assert_true(pmd_stat(0, &pmd->packets) >= 5);

	/* Work found while arming: no sleep at all. */
	__atomic_store_n(&ef(b)->force_pending, true, __ATOMIC_RELAXED);
	v = 1;
	assert_int_equal(write(ef(b)->efd, &v, sizeof(v)), sizeof(v));
	usleep(150 * 1000);	/* outlast any sleep already begun */
	sleeps = pmd_stat(0, &pmd->sleeps);
	{
		unsigned arms = ld(&ef(b)->n_arm);

		usleep(100 * 1000);
		assert_int_equal(pmd_stat(0, &pmd->sleeps), sleeps);
		assert_true(ld(&ef(b)->n_arm) > arms);	/* it keeps trying */
	}
	__atomic_store_n(&ef(b)->force_pending, false, __ATOMIC_RELAXED);
	assert_true(WAIT_FOR(pmd_stat(0, &pmd->sleeps) > sleeps, 2000));

	/* A reconfiguration wakes a sleeping PMD and it polls the new port. */
	{
		struct port *c = ef_add("c", true, 1);

		__atomic_store_n(&ef(c)->pending, 3, __ATOMIC_RELEASE);
		assert_true(WAIT_FOR(ld(&ef(c)->n_rx) == 3, 300));
	}
	del_all();
	pmd_stop();
}

static void test_poll_only_queue(void **state)
{
	struct port *a, *b;
	struct pmd *pmd;
	uint64_t sleeps;

	(void)state;
	assert_int_equal(pmd_init(NULL), 0);
	pmd = pmd_get(0);
	a = ef_add("a", false, 1);	/* no notify fd */
	b = ef_add("b", true, 1);
	assert_true(WAIT_FOR(pmd_stat(0, &pmd->sleeps) > 0, 2000));
	sleeps = pmd_stat(0, &pmd->sleeps);
	usleep(200 * 1000);
	/* 1 ms naps, not 100 ms ones (which would allow 2 here); the margin
	 * is for a loaded or sanitized run. */
	assert_true(pmd_stat(0, &pmd->sleeps) - sleeps >= 10);
	/* Packets on it are found without any kick. */
	__atomic_store_n(&ef(a)->pending, 4, __ATOMIC_RELEASE);
	assert_true(WAIT_FOR(ld(&ef(b)->n_tx) == 4, 300));
	del_all();
	pmd_stop();
}

static double thread_cpu_ms(pthread_t t)
{
	clockid_t cid;
	struct timespec ts;

	assert_int_equal(pthread_getcpuclockid(t, &cid), 0);
	assert_int_equal(clock_gettime(cid, &ts), 0);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The bar: an idle PMD with two silent ports costs < 2% of a core. */
static void test_idle_cpu(void **state)
{
	struct pmd *pmd;
	double t0, used;

	(void)state;
	assert_int_equal(pmd_init(NULL), 0);
	pmd = pmd_get(0);
	ef_add("a", true, 1);
	ef_add("b", true, 1);
	assert_true(WAIT_FOR(pmd_stat(0, &pmd->sleeps) > 0, 2000));
	t0 = thread_cpu_ms(pmd->thread);
	usleep(1000 * 1000);
	used = thread_cpu_ms(pmd->thread) - t0;
	print_message("idle pmd: %.2f ms of cpu in 1000 ms\n", used);
	assert_true(used < 20.0);
	{
		json_t *arr = json_array();

		pmd_stats_json(arr);
		assert_int_equal(json_array_size(arr), 1);
		assert_true(json_number_value(json_object_get(json_array_get(arr, 0), "busy_pct")) < 2.0);
		assert_int_equal(json_array_size(json_object_get(json_array_get(arr, 0), "rxqs")), 2);
		json_decref(arr);
	}
	del_all();
	pmd_stop();
}

/* Two PMDs: queues are spread, a port's queues stay put when another port
 * comes or goes, and forwarding works from both. */
static void test_two_pmds(void **state)
{
	struct port *a, *b, *c;
	json_t *arr;

	(void)state;
	if (pmd_init("0,1") < 0) {
		print_message("two CPUs not available: skipped\n");
		skip();
	}
	a = ef_add("a", true, 2);
	assert_int_equal(pmd_of_rxq(a, 0), 0);
	assert_int_equal(pmd_of_rxq(a, 1), 1);
	b = ef_add("b", true, 1);
	c = ef_add("c", true, 1);
	assert_int_equal(pmd_of_rxq(a, 0), 0);
	assert_int_equal(pmd_of_rxq(a, 1), 1);
	assert_true(pmd_of_rxq(b, 0) != pmd_of_rxq(c, 0));
	arr = json_array();
	pmd_stats_json(arr);
	assert_int_equal(json_array_size(json_object_get(json_array_get(arr, 0), "rxqs")), 2);
	assert_int_equal(json_array_size(json_object_get(json_array_get(arr, 1), "rxqs")), 2);
	json_decref(arr);

	__atomic_store_n(&ef(b)->pending, 10, __ATOMIC_RELEASE);
	__atomic_store_n(&ef(c)->pending, 10, __ATOMIC_RELEASE);
	/* Broadcasts from b and c reach every other port. */
	assert_true(WAIT_FOR(ld(&ef(a)->n_tx) == 20 && ld(&ef(b)->n_tx) == 10 &&
			     ld(&ef(c)->n_tx) == 10, 500));

	assert_int_equal(port_del(b), 0);
	assert_int_equal(pmd_of_rxq(a, 0), 0);
	assert_int_equal(pmd_of_rxq(a, 1), 1);
	assert_true(pmd_of_rxq(c, 0) >= 0);
	del_all();
	pmd_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign_spread),
		cmocka_unit_test(test_assign_stable),
		cmocka_unit_test(test_assign_rebalance),
		cmocka_unit_test(test_cpu_list),
		cmocka_unit_test(test_forward_sleep_wake),
		cmocka_unit_test(test_poll_only_queue),
		cmocka_unit_test(test_idle_cpu),
		cmocka_unit_test(test_two_pmds),
	};

	time_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
