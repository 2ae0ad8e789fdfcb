#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

uint64_t tsc_hz = 1000000000ULL;
/* 2^32 ns per tick at tsc_hz's default, less 1/1024: see time_fast_ns. */
uint64_t tsc_ns_mult = (1ULL << 32) - (1ULL << 22);
__thread struct time_anchor time_anchor;

uint64_t time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A (clock, TSC) pair read as close together as this thread manages: the
 * TSC between two clock reads, the tightest of a few tries, so that a
 * preemption in between (a loaded machine) does not skew the calibration
 * or an anchor. The earlier clock read is kept: it is never later than the
 * TSC's moment, so a clock extrapolated from the pair never reads ahead. */
static void clock_pair(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best;

	*ns = time_ns();
	*tsc = rdtsc();
	best = time_ns() - *ns;
	for (int i = 0; i < 16 && best > 1000; i++) {
		uint64_t a = time_ns(), c = rdtsc(), b = time_ns();

		if (b - a < best) {
			best = b - a;
			*ns = a;
			*tsc = c;
		}
	}
}

void time_init(void)
{
	struct timespec d = { .tv_nsec = 20 * 1000 * 1000 };
	uint64_t t0, c0, t1, c1;

	clock_pair(&t0, &c0);
	nanosleep(&d, NULL);
	clock_pair(&t1, &c1);
	if (t1 > t0 && c1 > c0)
		tsc_hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
	tsc_ns_mult = (uint64_t)(1e9 / (double)tsc_hz * (1.0 - 1.0 / 1024) * 4294967296.0);
}

void time_fast_anchor(void)
{
	clock_pair(&time_anchor.ns, &time_anchor.tsc);
}

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int fd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
