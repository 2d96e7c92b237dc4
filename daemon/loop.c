/* loop.c -- the epoll event loop with a sorted timer list (see loop.h).
 * Registrations live in an array indexed by fd; each carries a generation
 * number in the epoll cookie so an event queued for a closed fd is never
 * delivered to a new registration that reused the number. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_EVENTS_MAX 64

struct loop_fd {
	orc_loop_fd_fn fn;
	void *data;
	unsigned mask;
	uint32_t gen;
	bool used;
};

struct loop_timer {
	uint64_t id;
	uint64_t when_ms;
	orc_loop_timer_fn fn;
	void *data;
	struct loop_timer *next;
};

struct orc_loop {
	int epfd;
	struct loop_fd *fds;          /* [n_fds], indexed by fd */
	int n_fds;
	uint32_t next_gen;
	struct loop_timer *timers;    /* sorted by when_ms, then id */
	uint64_t next_timer_id;
	bool stop;
};

uint64_t orc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct orc_loop *orc_loop_new(void)
{
	struct orc_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->next_timer_id = 1;
	return l;
}

void orc_loop_free(struct orc_loop *l)
{
	struct loop_timer *t, *next;

	if (!l)
		return;
	for (t = l->timers; t; t = next) {
		next = t->next;
		free(t);
	}
	free(l->fds);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

/* ---- file events ---- */

static uint32_t to_epoll(unsigned mask)
{
	uint32_t ev = 0;

	if (mask & ORC_LOOP_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & ORC_LOOP_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

static int grow_fds(struct orc_loop *l, int fd)
{
	int n = l->n_fds ? l->n_fds : 64;
	struct loop_fd *p;

	while (n <= fd)
		n *= 2;
	p = realloc(l->fds, (size_t)n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + l->n_fds, 0, (size_t)(n - l->n_fds) * sizeof(*p));
	l->fds = p;
	l->n_fds = n;
	return 0;
}

int orc_loop_add_fd(struct orc_loop *l, int fd, unsigned mask, orc_loop_fd_fn fn, void *data)
{
	struct epoll_event ev = { 0 };
	struct loop_fd *f;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (fd >= l->n_fds && grow_fds(l, fd) < 0)
		return -ENOMEM;
	f = &l->fds[fd];
	if (f->used)
		return -EEXIST;
	f->gen = ++l->next_gen;
	ev.events = to_epoll(mask);
	ev.data.u64 = ((uint64_t)f->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	f->fn = fn;
	f->data = data;
	f->mask = mask;
	f->used = true;
	return 0;
}

int orc_loop_mod_fd(struct orc_loop *l, int fd, unsigned mask)
{
	struct epoll_event ev = { 0 };
	struct loop_fd *f;

	if (fd < 0 || fd >= l->n_fds || !l->fds[fd].used)
		return -ENOENT;
	f = &l->fds[fd];
	if (f->mask == mask)
		return 0;
	ev.events = to_epoll(mask);
	ev.data.u64 = ((uint64_t)f->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	f->mask = mask;
	return 0;
}

void orc_loop_del_fd(struct orc_loop *l, int fd)
{
	if (fd < 0 || fd >= l->n_fds || !l->fds[fd].used)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].used = false;
	l->fds[fd].fn = NULL;
	l->fds[fd].data = NULL;
	l->fds[fd].mask = 0;
}

static void dispatch_fd(struct orc_loop *l, const struct epoll_event *ev)
{
	int fd = (int)(uint32_t)ev->data.u64;
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
	unsigned got = 0;
	struct loop_fd *f;

	if (fd >= l->n_fds)
		return;
	f = &l->fds[fd];
	if (!f->used || f->gen != gen)
		return;   /* deleted (and maybe reused) earlier in this round */
	if (ev->events & (EPOLLIN | EPOLLRDHUP))
		got |= ORC_LOOP_READ;
	if (ev->events & EPOLLOUT)
		got |= ORC_LOOP_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		got |= ORC_LOOP_HUP | (f->mask & ORC_LOOP_READ);
	got &= f->mask | ORC_LOOP_HUP;
	if (got)
		f->fn(l, fd, got, f->data);
}

/* ---- timers ---- */

uint64_t orc_loop_add_timer(struct orc_loop *l, uint64_t ms, orc_loop_timer_fn fn, void *data)
{
	struct loop_timer *t = calloc(1, sizeof(*t)), **pp;

	if (!t)
		return 0;
	t->id = l->next_timer_id++;
	t->when_ms = orc_now_ms() + ms;
	t->fn = fn;
	t->data = data;
	for (pp = &l->timers; *pp && (*pp)->when_ms <= t->when_ms; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return t->id;
}

void orc_loop_del_timer(struct orc_loop *l, uint64_t id)
{
	struct loop_timer **pp, *t;

	for (pp = &l->timers; (t = *pp); pp = &t->next) {
		if (t->id == id) {
			*pp = t->next;
			free(t);
			return;
		}
	}
}

/* Fire every timer due by now; a timer added by a callback waits a round. */
static void run_timers(struct orc_loop *l)
{
	uint64_t now = orc_now_ms(), last = l->next_timer_id;
	struct loop_timer *t;

	while ((t = l->timers) && t->when_ms <= now && t->id < last) {
		l->timers = t->next;
		t->fn(l, t->id, t->data);
		free(t);
	}
}

static int next_timeout(const struct orc_loop *l)
{
	uint64_t now;

	if (!l->timers)
		return -1;
	now = orc_now_ms();
	if (l->timers->when_ms <= now)
		return 0;
	if (l->timers->when_ms - now > 60000)
		return 60000;
	return (int)(l->timers->when_ms - now);
}

/* ---- running ---- */

int orc_loop_run(struct orc_loop *l)
{
	struct epoll_event evs[LOOP_EVENTS_MAX];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, LOOP_EVENTS_MAX, next_timeout(l));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++)
			dispatch_fd(l, &evs[i]);
		if (!l->stop)
			run_timers(l);
	}
	return 0;
}

void orc_loop_stop(struct orc_loop *l)
{
	l->stop = true;
}
