/*
 * core: small utilities every module uses — compiler hints, logging, time,
 * the control-thread event loop.
 *
 * Thread-safety: logging is safe from any thread. The event loop (ev_*) is
 * owned by the control thread; only that thread may call ev_add/ev_del or
 * timers. PMD threads never touch it.
 */
#ifndef XVIO_CORE_H
#define XVIO_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define CACHE_LINE	64
#define __cold		__attribute__((cold, noinline))
#define __unused	__attribute__((unused))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Compiler-only barrier; orders nothing for the CPU. */
#define barrier()	__asm__ __volatile__("" ::: "memory")

static inline void prefetch0(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

static inline void prefetchw(const void *p)
{
	__builtin_prefetch(p, 1, 3);
}

/* ---- logging ---- */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_max_level;

void log_msg(enum log_level lvl, const char *mod, const char *fmt, ...) __printf(3, 4);
/* Set where logs go (default stderr) and whether to add timestamps. */
void log_set_file(FILE *f);

#define LOG(lvl, mod, ...) do { \
	if ((lvl) <= log_max_level) \
		log_msg((lvl), (mod), __VA_ARGS__); \
} while (0)

/*
 * Datapath logs are rate-limited: at most `burst` lines per `interval_s`
 * seconds per call site, like OVS VLOG_*_RL (5 per 5 s). The skip count is
 * reported on the next line that passes.
 */
struct log_rl {
	uint64_t window_start_ns;
	uint32_t n_in_window;
	uint32_t n_skipped;
};

bool log_rl_allow(struct log_rl *rl, uint32_t *skipped);

#define LOG_RL(lvl, mod, ...) do { \
	static __thread struct log_rl rl__; \
	uint32_t skipped__; \
	if ((lvl) <= log_max_level && log_rl_allow(&rl__, &skipped__)) { \
		log_msg((lvl), (mod), __VA_ARGS__); \
		if (skipped__) \
			log_msg((lvl), (mod), "(%u similar messages suppressed)", skipped__); \
	} \
} while (0)

#ifdef XVIO_DEBUG
#define DLOG(mod, ...) LOG(LOG_DEBUG, mod, __VA_ARGS__)
#else
/* Compiled away but still type-checked. */
#define DLOG(mod, ...) do { if (0) log_msg(LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#endif

/* ---- time ---- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t time_ns(void);

static inline uint64_t rdtsc(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return time_ns();
#endif
}

/* TSC ticks per second, calibrated once at start (time_init). */
extern uint64_t tsc_hz;
void time_init(void);

/*
 * A PMD's per-burst clock: time_ns() extrapolated from the TSC since the
 * thread last anchored it (time_fast_anchor: the PMD loop once, then this
 * function itself each second),
 * ~20 ns cheaper than the vDSO call (1.5 % of a PMD at 100,000 flows,
 * perf). It runs 0.1 % slow, far more than the calibration's error, so it
 * never reads ahead of time_ns(), which the control thread compares it
 * with (idle megaflows and rules: now - used must not wrap), and a
 * re-anchor only steps it forward. A thread that never anchored (control,
 * tests) gets time_ns().
 */
struct time_anchor {
	uint64_t ns, tsc;
};
extern __thread struct time_anchor time_anchor;
extern uint64_t tsc_ns_mult;		/* ns per tick, 32.32 fixed point, 0.1 % slow */
void time_fast_anchor(void);

static inline uint64_t time_fast_ns(void)
{
	uint64_t d;

	if (unlikely(!time_anchor.tsc))
		return time_ns();
	d = rdtsc() - time_anchor.tsc;
	if (unlikely(d >= tsc_hz)) {	/* a second on: re-anchor (and no overflow) */
		time_fast_anchor();
		return time_anchor.ns;
	}
	return time_anchor.ns + ((d * tsc_ns_mult) >> 32);
}

/* ---- control-thread event loop (epoll + timers) ---- */

typedef void ev_fd_fn(int fd, uint32_t events, void *arg);
typedef void ev_timer_fn(void *arg);

struct ev_timer;

int ev_init(void);
/* events are EPOLLIN/EPOLLOUT...; returns 0 or -errno. */
int ev_add(int fd, uint32_t events, ev_fd_fn *fn, void *arg);
int ev_mod(int fd, uint32_t events);
void ev_del(int fd);
/* One-shot timer after `ms`; period_ms > 0 makes it periodic. NULL + errno on failure. */
struct ev_timer *ev_timer_add(uint64_t ms, uint64_t period_ms, ev_timer_fn *fn, void *arg);
void ev_timer_del(struct ev_timer *t);
/* Run until ev_stop(); returns 0, or -errno on an epoll failure. */
int ev_run(void);
void ev_stop(void);

/* ---- small helpers ---- */

/* Parse an unsigned decimal integer within [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out);
/* Set O_NONBLOCK and FD_CLOEXEC. */
int fd_set_nonblock(int fd);
/* Create the directories above path (mode 0755), like mkdir -p $(dirname path). 0 or -errno. */
int mkdir_parents(const char *path);

#endif
