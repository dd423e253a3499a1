/*
 * loop.c: owns the epoll instance and the single timerfd. Every event source of graceinit
 * (signalfd, sockets, libmicrohttpd's and libcurl's fds) is an fd watched here, and every
 * timeout is a struct loop_timer; the timerfd is armed to the earliest of them. When nothing
 * happens the loop sleeps in epoll_wait and makes no system call at all: the timerfd is
 * re-armed only when the earliest deadline changes. Must not block anywhere but epoll_wait.
 */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_MAX_EVENTS 32

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_timerfd(struct loop *loop, uint32_t events, void *arg)
{
	struct loop_timer *t, **tp;
	uint64_t expirations;
	int64_t now;

	(void)events;
	(void)arg;
	if (read(loop->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("timerfd read");
	loop->armed_ms = -1;
	/*
	 * Run expired timers one at a time, earliest first: a callback may arm or cancel any
	 * timer, or stop the loop. Only those armed before this round: one armed again by its
	 * own callback, already due (libmicrohttpd asks for 0 ms while a client streams a body),
	 * waits for the next turn of the loop, after signals and children have had theirs.
	 */
	loop->round++;
	while (loop->running) {
		struct loop_timer **first = NULL;

		now = loop_now_ms();
		for (tp = &loop->timers; (t = *tp) != NULL; tp = &t->next)
			if (t->deadline_ms <= now && t->round != loop->round &&
				(first == NULL || t->deadline_ms < (*first)->deadline_ms))
				first = tp;
		if (first == NULL)
			return;
		t = *first;
		*first = t->next;
		t->next = NULL;
		t->deadline_ms = -1;
		t->cb(loop, t->arg);
	}
}

int
loop_init(struct loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->armed_ms = -1;
	loop->timerfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		log_warn("epoll_create1");
		return -1;
	}
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->timerfd < 0) {
		log_warn("timerfd_create");
		goto fail;
	}
	if (loop_io_add(loop, &loop->timer_io, loop->timerfd, EPOLLIN, on_timerfd, NULL) < 0)
		goto fail;
	return 0;
fail:
	loop_close(loop);
	return -1;
}

void
loop_close(struct loop *loop)
{
	if (loop->timerfd >= 0)
		close(loop->timerfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->timerfd = loop->epfd = -1;
}

int
loop_io_add(
	struct loop *loop, struct loop_io *io, int fd, uint32_t events, loop_io_cb *cb, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_warn("epoll_ctl add fd %d", fd);
		return -1;
	}
	return 0;
}

int
loop_io_mod(struct loop *loop, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
		log_warn("epoll_ctl mod fd %d", io->fd);
		return -1;
	}
	return 0;
}

void
loop_io_del(struct loop *loop, struct loop_io *io)
{
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno != EBADF)
		log_warn("epoll_ctl del fd %d", io->fd);
	io->fd = -1;
}

void
loop_timer_init(struct loop_timer *timer, loop_timer_cb *cb, void *arg)
{
	timer->deadline_ms = -1;
	timer->cb = cb;
	timer->arg = arg;
	timer->next = NULL;
}

bool
loop_timer_armed(const struct loop_timer *timer)
{
	return timer->deadline_ms >= 0;
}

void
loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
	struct loop_timer **tp;

	if (!loop_timer_armed(timer))
		return;
	for (tp = &loop->timers; *tp != NULL; tp = &(*tp)->next) {
		if (*tp == timer) {
			*tp = timer->next;
			break;
		}
	}
	timer->next = NULL;
	timer->deadline_ms = -1;
}

void
loop_timer_at(struct loop *loop, struct loop_timer *timer, int64_t deadline_ms)
{
	loop_timer_cancel(loop, timer);
	timer->deadline_ms = deadline_ms < 0 ? 0 : deadline_ms;
	timer->round = loop->round;
	timer->next = loop->timers;
	loop->timers = timer;
}

/* Points the timerfd at the earliest deadline, touching it only when that changed. */
static void
rearm(struct loop *loop)
{
	struct itimerspec its = { 0 };
	struct loop_timer *t;
	int64_t earliest = -1;

	for (t = loop->timers; t != NULL; t = t->next)
		if (earliest < 0 || t->deadline_ms < earliest)
			earliest = t->deadline_ms;
	if (earliest == loop->armed_ms)
		return;
	if (earliest >= 0) {
		/* it_value of zero would disarm: a deadline at 0 ms becomes 1 ns. */
		its.it_value.tv_sec = earliest / 1000;
		its.it_value.tv_nsec = (earliest % 1000) * 1000000 + (earliest == 0);
	}
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("timerfd_settime");
		return;
	}
	loop->armed_ms = earliest;
}

void
loop_stop(struct loop *loop, int status)
{
	loop->running = false;
	loop->status = status;
}

int
loop_run(struct loop *loop)
{
	struct epoll_event events[LOOP_MAX_EVENTS];
	int i, n;

	loop->running = true;
	while (loop->running) {
		rearm(loop);
		n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -1;
		}
		for (i = 0; i < n && loop->running; i++) {
			struct loop_io *io = events[i].data.ptr;

			if (io->fd < 0)
				continue; /* removed by an earlier callback of this round */
			io->cb(loop, events[i].events, io->arg);
		}
	}
	return loop->status;
}
