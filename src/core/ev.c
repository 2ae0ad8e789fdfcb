/*
 * The control thread's event loop: epoll for fds, a short sorted list for
 * timers (there are only a handful: reconnect backoff, MAC aging, stats).
 */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core.h"

struct ev_fd {
	int fd;
	ev_fd_fn *fn;
	void *arg;
	struct ev_fd *next;
};

struct ev_timer {
	uint64_t deadline_ns;
	uint64_t period_ns;
	ev_timer_fn *fn;
	void *arg;
	struct ev_timer *next;
};

static int epfd = -1;
static bool stopping;
static struct ev_fd *fds;
static struct ev_timer *timers;

int ev_init(void)
{
	if (epfd >= 0)
		return 0;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

static struct ev_fd **find_fd(int fd)
{
	struct ev_fd **pp;

	for (pp = &fds; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			return pp;
	return NULL;
}

int ev_add(int fd, uint32_t events, ev_fd_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct ev_fd *e;

	if (find_fd(fd))
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->fn = fn;
	e->arg = arg;
	ev.data.ptr = e;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(e);
		return err;
	}
	e->next = fds;
	fds = e;
	return 0;
}

int ev_mod(int fd, uint32_t events)
{
	struct ev_fd **pp = find_fd(fd);
	struct epoll_event ev = { .events = events };

	if (!pp)
		return -ENOENT;
	ev.data.ptr = *pp;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

/* Entries removed during dispatch are parked here and freed after the
 * current epoll batch, because that batch may still point at them. */
static struct ev_fd *graveyard;

void ev_del(int fd)
{
	struct ev_fd **pp = find_fd(fd), *e;

	if (!pp)
		return;
	e = *pp;
	*pp = e->next;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	e->fn = NULL;
	e->next = graveyard;
	graveyard = e;
}

static void timer_insert(struct ev_timer *t)
{
	struct ev_timer **pp = &timers;

	while (*pp && (*pp)->deadline_ns <= t->deadline_ns)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
}

struct ev_timer *ev_timer_add(uint64_t ms, uint64_t period_ms, ev_timer_fn *fn, void *arg)
{
	struct ev_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->deadline_ns = time_ns() + ms * 1000000ULL;
	t->period_ns = period_ms * 1000000ULL;
	t->fn = fn;
	t->arg = arg;
	timer_insert(t);
	return t;
}

void ev_timer_del(struct ev_timer *t)
{
	struct ev_timer **pp;

	if (!t)
		return;
	for (pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
	}
}

static void run_timers(void)
{
	uint64_t now = time_ns();

	while (timers && timers->deadline_ns <= now) {
		struct ev_timer *t = timers;

		timers = t->next;
		if (t->period_ns) {
			t->deadline_ns = now + t->period_ns;
			timer_insert(t);
			t->fn(t->arg);
		} else {
			ev_timer_fn *fn = t->fn;
			void *arg = t->arg;

			free(t);
			fn(arg);
		}
	}
}

static int next_timeout_ms(void)
{
	uint64_t now;

	if (!timers)
		return 1000;
	now = time_ns();
	if (timers->deadline_ns <= now)
		return 0;
	return (int)MIN((timers->deadline_ns - now + 999999) / 1000000, 1000);
}

int ev_run(void)
{
	struct epoll_event evs[32];

	stopping = false;
	while (!stopping) {
		int n = epoll_wait(epfd, evs, ARRAY_SIZE(evs), next_timeout_ms());

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct ev_fd *e = evs[i].data.ptr;

			if (e->fn)
				e->fn(e->fd, evs[i].events, e->arg);
		}
		while (graveyard) {
			struct ev_fd *e = graveyard;

			graveyard = e->next;
			free(e);
		}
		run_timers();
	}
	return 0;
}

void ev_stop(void)
{
	stopping = true;
}
