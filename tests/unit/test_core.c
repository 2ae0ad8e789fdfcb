/* Unit tests for src/core: packet pools, headroom, the event loop's timers,
 * the rate limiter, integer parsing and the PMD clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "core/core.h"
#include "core/pkt.h"

static void test_pool_alloc_free(void **state)
{
	struct pkt_pool *pool = pkt_pool_create("t", 64);
	struct pkt *pkts[64], *extra;

	(void)state;
	assert_non_null(pool);
	pkt_pool_set_thread(pool);
	assert_int_equal(pkt_alloc_bulk(pkts, 40), 40);
	assert_int_equal(pkt_pool_avail(pool), 24);
	/* Asking for more than is left returns what is left and counts it. */
	assert_int_equal(pkt_alloc_bulk(pkts + 40, 30), 24);
	assert_int_equal(pool->n_alloc_fail, 1);
	extra = pkt_alloc();
	assert_null(extra);
	for (int i = 0; i < 64; i++) {
		assert_ptr_equal(pkts[i]->data, pkts[i]->buf + PKT_HEADROOM);
		assert_int_equal(pkts[i]->len, 0);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(pkts[i], pkts[j]);
	}
	pkt_free_bulk(pkts, 64);
	assert_int_equal(pkt_pool_avail(pool), 64);
	pkt_pool_destroy(pool);
}

static void test_push_pull(void **state)
{
	struct pkt_pool *pool = pkt_pool_create("t", 4);
	struct pkt *p;

	(void)state;
	pkt_pool_set_thread(pool);
	p = pkt_alloc();
	assert_non_null(p);
	p->len = 60;
	assert_non_null(pkt_push(p, 50));	/* an outer header */
	assert_int_equal(p->len, 110);
	assert_int_equal(pkt_headroom(p), PKT_HEADROOM - 50);
	assert_null(pkt_push(p, PKT_HEADROOM));	/* no more room than we have */
	assert_non_null(pkt_pull(p, 50));
	assert_int_equal(p->len, 60);
	assert_null(pkt_pull(p, 61));
	pkt_free(p);
	pkt_pool_destroy(pool);
}

static int fired[3];

static void on_timer(void *arg)
{
	int i = (int)(intptr_t)arg;

	fired[i]++;
	if (i == 2 && fired[2] == 3)
		ev_stop();
}

static void test_ev_timers(void **state)
{
	struct ev_timer *cancelled;

	(void)state;
	assert_int_equal(ev_init(), 0);
	assert_non_null(ev_timer_add(1, 0, on_timer, (void *)0));
	cancelled = ev_timer_add(5, 0, on_timer, (void *)1);
	ev_timer_del(cancelled);
	struct ev_timer *periodic = ev_timer_add(2, 2, on_timer, (void *)2);
	assert_int_equal(ev_run(), 0);
	ev_timer_del(periodic);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 0);
	assert_int_equal(fired[2], 3);
}

static int pipe_reads;

static void on_pipe(int fd, uint32_t events, void *arg)
{
	char c;

	(void)arg;
	assert_true(events & EPOLLIN);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'x');
	pipe_reads++;
	ev_del(fd);
	ev_stop();
}

static void test_ev_fd(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_init(), 0);
	assert_int_equal(ev_add(p[0], EPOLLIN, on_pipe, NULL), 0);
	assert_int_equal(ev_add(p[0], EPOLLIN, on_pipe, NULL), -EEXIST);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_run(), 0);
	assert_int_equal(pipe_reads, 1);
	close(p[0]);
	close(p[1]);
}

static void test_rate_limit(void **state)
{
	struct log_rl rl = { 0 };
	uint32_t skipped;
	int allowed = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		allowed += log_rl_allow(&rl, &skipped);
	assert_int_equal(allowed, 5);
	assert_int_equal(rl.n_skipped, 95);
	/* A new window reports what was suppressed. */
	rl.window_start_ns -= 6ULL * 1000000000ULL;
	assert_true(log_rl_allow(&rl, &skipped));
	assert_int_equal(skipped, 95);
}

static void test_parse_uint(void **state)
{
	unsigned long long v;

	(void)state;
	assert_int_equal(parse_uint("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_uint("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(parse_uint("101", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_uint("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_uint("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_uint("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_uint("99999999999999999999999", 0, ~0ULL, &v), -ERANGE);
}

/* time_fast_ns never reads ahead of time_ns (the control thread's
 * now - used must not wrap), lags it by at most 1/1024 of a second since
 * the anchor (2 ms allowed, for the calibration's error), never goes back
 * across a re-anchor, and falls back to time_ns before any anchor. */
static void test_time_fast(void **state)
{
	uint64_t a, f, b, prev = 0;

	(void)state;
	time_init();
	time_anchor = (struct time_anchor){ 0, 0 };
	a = time_ns();
	f = time_fast_ns();
	b = time_ns();
	assert_true(a <= f && f <= b);
	time_fast_anchor();
	for (int i = 0; i < 200; i++) {
		a = time_ns();
		f = time_fast_ns();
		b = time_ns();
		assert_true(f <= b);
		assert_true(f + 2000000 >= a);
		assert_true(f >= prev);
		prev = f;
		if (i % 50 == 49) {
			time_fast_anchor();
			assert_true(time_fast_ns() >= prev);
		}
		usleep(1000);
	}
	/* Past a second without an anchor it re-anchors itself. */
	time_anchor.tsc -= 2 * tsc_hz;
	time_anchor.ns -= 2000000000ull;
	a = time_ns();
	f = time_fast_ns();
	assert_true(f >= a && f <= time_ns());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_alloc_free),
		cmocka_unit_test(test_push_pull),
		cmocka_unit_test(test_ev_timers),
		cmocka_unit_test(test_ev_fd),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_time_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
