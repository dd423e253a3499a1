/*
 * test_loop.c: the event loop with real epoll, timerfd and pipes. Deadlines are a few tens of
 * milliseconds away so the suite stays fast; assertions are about order and about never firing
 * early, never about how late a timer is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define MAX_FIRED 16

/* What the callbacks saw, in order. */
struct record {
	int fired[MAX_FIRED];
	int64_t at_ms[MAX_FIRED];
	int n;
	int stop_after; /* loop_stop(loop, stop_status) once n reaches this */
	int stop_status;
};

/* One timer under test: the callback records its id. */
struct tt {
	struct loop_timer timer;
	struct record *rec;
	int id;
	struct tt *arm_next; /* armed by this one's callback, delay_ms later */
	struct tt *cancel;   /* cancelled by this one's callback */
	int64_t delay_ms;
	int repeat;  /* re-arms itself this many times */
	int poke_fd; /* when >= 0, its first run writes a byte there */
};

/* The ids fired, in order, as the test expects them. */
static void
check_order(const struct record *rec, int n, const int *want)
{
	char got[128] = "", exp[128] = "";
	int i;

	for (i = 0; i < rec->n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %d", rec->fired[i]);
	for (i = 0; i < n; i++)
		snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), " %d", want[i]);
	if (strcmp(got, exp) != 0)
		fail_msg("timers fired in the order%s, expected%s", got, exp);
}

static void
record(struct loop *loop, struct record *rec, int id)
{
	if (rec->n >= MAX_FIRED)
		fail_msg("too many callbacks");
	rec->fired[rec->n] = id;
	rec->at_ms[rec->n] = loop_now_ms();
	rec->n++;
	if (rec->n == rec->stop_after)
		loop_stop(loop, rec->stop_status);
}

static void
on_timer(struct loop *loop, void *arg)
{
	struct tt *t = arg;

	assert_false(loop_timer_armed(&t->timer));
	/* First: what it arms is then due delay_ms after the time recorded, however slow. */
	record(loop, t->rec, t->id);
	if (t->cancel != NULL)
		loop_timer_cancel(loop, &t->cancel->timer);
	if (t->arm_next != NULL)
		loop_timer_at(loop, &t->arm_next->timer, loop_now_ms() + t->delay_ms);
	if (t->poke_fd >= 0) {
		assert_int_equal(write(t->poke_fd, "x", 1), 1);
		t->poke_fd = -1;
	}
	if (t->repeat > 0) {
		t->repeat--;
		loop_timer_at(loop, &t->timer, loop_now_ms() + t->delay_ms);
	}
}

static void
tt_init(struct tt *t, struct record *rec, int id)
{
	memset(t, 0, sizeof(*t));
	t->rec = rec;
	t->id = id;
	t->poke_fd = -1;
	loop_timer_init(&t->timer, on_timer, t);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A loop for one test; closed by the teardown even when an assertion fails. */
static int
setup(void **state)
{
	static struct loop loop;

	if (loop_init(&loop) < 0)
		return -1;
	*state = &loop;
	return 0;
}

static int
teardown(void **state)
{
	loop_close(*state);
	return 0;
}

static void
test_init_close(void **state)
{
	struct loop *loop = *state;

	assert_true(loop->epfd >= 0);
	assert_true(loop->timerfd >= 0);
	assert_true(fcntl(loop->epfd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(loop->timerfd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(loop->timerfd, F_GETFL) & O_NONBLOCK);
	assert_null(loop->timers);
}

static void
test_now_monotonic(void **state)
{
	int64_t a, b;

	(void)state;
	a = loop_now_ms();
	sleep_ms(20);
	b = loop_now_ms();
	assert_true(a >= 0);
	assert_true(b - a >= 20);
	assert_true(b - a < 5000);
}

static void
test_timer_init_armed(void **state)
{
	struct loop *loop = *state;
	struct record rec = { 0 };
	struct tt a;

	tt_init(&a, &rec, 1);
	assert_false(loop_timer_armed(&a.timer));
	loop_timer_at(loop, &a.timer, loop_now_ms() + 1000);
	assert_true(loop_timer_armed(&a.timer));
	loop_timer_cancel(loop, &a.timer);
	assert_false(loop_timer_armed(&a.timer));
	/* Cancelling an unarmed timer is a no-op. */
	loop_timer_cancel(loop, &a.timer);
	assert_false(loop_timer_armed(&a.timer));
	assert_null(loop->timers);
}

static void
test_timers_deadline_order(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 3, .stop_status = 0 };
	struct tt a, b, c;
	int64_t now = loop_now_ms();

	tt_init(&a, &rec, 30);
	tt_init(&b, &rec, 10);
	tt_init(&c, &rec, 20);
	loop_timer_at(loop, &a.timer, now + 150);
	loop_timer_at(loop, &b.timer, now + 50);
	loop_timer_at(loop, &c.timer, now + 100);
	assert_int_equal(loop_run(loop), 0);
	check_order(&rec, 3, (const int[]){ 10, 20, 30 });
	/* Never early. */
	assert_true(rec.at_ms[0] >= now + 50);
	assert_true(rec.at_ms[1] >= now + 100);
	assert_true(rec.at_ms[2] >= now + 150);
	assert_false(loop_timer_armed(&a.timer));
	assert_null(loop->timers);
}

/*
 * Timers that are all expired by the time the loop looks (graceinit was busy, or the deadlines
 * were armed in the past) still fire earliest deadline first, whatever order they were armed in.
 */
static void
test_timers_expired_together_deadline_order(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 3, .stop_status = 0 };
	struct tt a, b, c;
	int64_t now = loop_now_ms();

	tt_init(&a, &rec, 10);
	tt_init(&b, &rec, 20);
	tt_init(&c, &rec, 30);
	loop_timer_at(loop, &a.timer, now + 10);
	loop_timer_at(loop, &b.timer, now + 20);
	loop_timer_at(loop, &c.timer, now + 30);
	sleep_ms(60);
	assert_int_equal(loop_run(loop), 0);
	check_order(&rec, 3, (const int[]){ 10, 20, 30 });
}

static void
test_timer_past_deadline_fires_at_once(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 2, .stop_status = 5 };
	struct tt a, b;
	int64_t start = loop_now_ms();

	tt_init(&a, &rec, 1);
	tt_init(&b, &rec, 2);
	loop_timer_at(loop, &a.timer, -5); /* clamped to 0 */
	assert_true(loop_timer_armed(&a.timer));
	assert_int_equal(a.timer.deadline_ms, 0);
	loop_timer_at(loop, &b.timer, 0);
	assert_int_equal(loop_run(loop), 5);
	assert_int_equal(rec.n, 2);
	assert_true(loop_now_ms() - start < 1000);
}

static void
test_timer_cancelled_does_not_fire(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 0 };
	struct tt a, b, stopper;
	int64_t now = loop_now_ms();

	tt_init(&a, &rec, 1);
	tt_init(&b, &rec, 2);
	tt_init(&stopper, &rec, 99);
	loop_timer_at(loop, &a.timer, now + 10);
	loop_timer_at(loop, &b.timer, now + 5);
	loop_timer_at(loop, &stopper.timer, now + 40);
	loop_timer_cancel(loop, &a.timer);
	loop_timer_cancel(loop, &b.timer); /* the earliest: the timerfd must move */
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.fired[0], 99);
	assert_true(rec.at_ms[0] >= now + 40);
}

/* A timer cancelled by the callback of a timer that expired at the same time. */
static void
test_timer_cancelled_from_callback(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 2, .stop_status = 0 };
	struct tt a, b, stopper;
	int64_t now = loop_now_ms();

	tt_init(&a, &rec, 1);
	tt_init(&b, &rec, 2);
	tt_init(&stopper, &rec, 99);
	/* Whichever of a and b fires first cancels the other. */
	a.cancel = &b;
	b.cancel = &a;
	loop_timer_at(loop, &a.timer, now + 10);
	loop_timer_at(loop, &b.timer, now + 10);
	loop_timer_at(loop, &stopper.timer, now + 100);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(rec.n, 2);
	assert_true(rec.fired[0] == 1 || rec.fired[0] == 2);
	assert_int_equal(rec.fired[1], 99);
	assert_false(loop_timer_armed(&a.timer));
	assert_false(loop_timer_armed(&b.timer));
	assert_null(loop->timers);
}

static void
test_timer_rearm_moves_it(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 3, .stop_status = 0 };
	struct tt early, late, mid;
	int64_t now = loop_now_ms();

	tt_init(&early, &rec, 1);
	tt_init(&late, &rec, 3);
	tt_init(&mid, &rec, 2);
	/* Moved earlier: from 100 s to 10 ms. */
	loop_timer_at(loop, &early.timer, now + 100000);
	loop_timer_at(loop, &early.timer, now + 10);
	/* Moved later: from 5 ms to 120 ms, after mid at 60 ms. */
	loop_timer_at(loop, &late.timer, now + 5);
	loop_timer_at(loop, &mid.timer, now + 60);
	loop_timer_at(loop, &late.timer, now + 120);
	assert_int_equal(loop_run(loop), 0);
	check_order(&rec, 3, (const int[]){ 1, 2, 3 });
	assert_true(rec.at_ms[0] < now + 5000);
	assert_true(rec.at_ms[2] >= now + 120);
	assert_null(loop->timers);
}

/* Re-arming the same timer twice keeps one entry: it fires once. */
static void
test_timer_rearm_fires_once(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 0 };
	struct tt a, stopper;
	int64_t now = loop_now_ms();
	int i;

	tt_init(&a, &rec, 1);
	tt_init(&stopper, &rec, 99);
	for (i = 0; i < 5; i++)
		loop_timer_at(loop, &a.timer, now + 10);
	loop_timer_at(loop, &stopper.timer, now + 100);
	rec.stop_after = 2;
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.fired[0], 1);
	assert_int_equal(rec.fired[1], 99);
}

static void
test_timer_armed_from_callback(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 2, .stop_status = 42 };
	struct tt a, b;
	int64_t now = loop_now_ms();

	tt_init(&a, &rec, 1);
	tt_init(&b, &rec, 2);
	a.arm_next = &b;
	a.delay_ms = 15;
	loop_timer_at(loop, &a.timer, now + 10);
	assert_int_equal(loop_run(loop), 42);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.fired[0], 1);
	assert_int_equal(rec.fired[1], 2);
	assert_true(rec.at_ms[1] >= rec.at_ms[0] + 15);
}

/* A callback arming a timer that is already due: it runs, on the next turn of the loop. */
static void
test_timer_armed_due_from_callback(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 2, .stop_status = 1 };
	struct tt a, b;

	tt_init(&a, &rec, 1);
	tt_init(&b, &rec, 2);
	a.arm_next = &b;
	a.delay_ms = -1000;
	loop_timer_at(loop, &a.timer, loop_now_ms() + 5);
	assert_int_equal(loop_run(loop), 1);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.fired[1], 2);
}

static void
test_timer_rearms_itself(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 4, .stop_status = 4 };
	struct tt a;
	int i;

	tt_init(&a, &rec, 7);
	a.repeat = 3;
	a.delay_ms = 5;
	loop_timer_at(loop, &a.timer, loop_now_ms() + 5);
	assert_int_equal(loop_run(loop), 4);
	assert_int_equal(rec.n, 4);
	for (i = 1; i < 4; i++)
		assert_true(rec.at_ms[i] >= rec.at_ms[i - 1] + 5);
	assert_false(loop_timer_armed(&a.timer));
}

/* The loop can be run again after loop_stop; each run returns its own status. */
static void
test_stop_status(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 3 };
	struct tt a;

	tt_init(&a, &rec, 1);
	loop_timer_at(loop, &a.timer, loop_now_ms() + 5);
	assert_int_equal(loop_run(loop), 3);
	rec.stop_after = 2;
	rec.stop_status = -7;
	loop_timer_at(loop, &a.timer, loop_now_ms() + 5);
	assert_int_equal(loop_run(loop), -7);
	assert_int_equal(rec.n, 2);
}

/* An fd watcher under test. */
struct tio {
	struct loop_io io;
	int fds[2];
	struct record *rec;
	int id;
	uint32_t events;
	void *arg_seen;
	struct tio *del_other; /* removed by this one's callback */
};

static void
on_io(struct loop *loop, uint32_t events, void *arg)
{
	struct tio *t = arg;
	char c;

	t->events = events;
	t->arg_seen = arg;
	if (events & EPOLLIN)
		(void)!read(t->fds[0], &c, 1);
	if (t->del_other != NULL)
		loop_io_del(loop, &t->del_other->io);
	record(loop, t->rec, t->id);
}

static void
tio_open(struct tio *t, struct record *rec, int id)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(pipe2(t->fds, O_NONBLOCK | O_CLOEXEC), 0);
	t->rec = rec;
	t->id = id;
}

static void
tio_close(struct tio *t)
{
	close(t->fds[0]);
	close(t->fds[1]);
}

/*
 * A timer that its own callback keeps re-arming, already due (libmicrohttpd asks for 0 ms
 * while a client streams a body), must not keep the loop from its fds: a readable pipe gets
 * its turn after at most one more run of the timer (epoll reports both at once).
 */
static void
test_timer_due_again_lets_fds_in(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 4, .stop_status = 0 };
	struct tt a;
	struct tio p;
	int i, pipe_at = -1;

	tt_init(&a, &rec, 1);
	a.repeat = MAX_FIRED;
	a.delay_ms = -1000;
	tio_open(&p, &rec, 2);
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	/* The pipe becomes readable while the timer runs, not before. */
	a.poke_fd = p.fds[1];
	loop_timer_at(loop, &a.timer, loop_now_ms());
	assert_int_equal(loop_run(loop), 0);
	for (i = 0; i < rec.n && pipe_at < 0; i++)
		if (rec.fired[i] == 2)
			pipe_at = i;
	if (pipe_at < 1 || pipe_at > 2)
		fail_msg("the pipe's callback came at position %d of %d", pipe_at, rec.n);
	loop_timer_cancel(loop, &a.timer);
	loop_io_del(loop, &p.io);
	tio_close(&p);
}

static void
test_io_pipe(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 11 };
	struct tio p;

	tio_open(&p, &rec, 1);
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	assert_int_equal(p.io.fd, p.fds[0]);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 11);
	assert_int_equal(rec.n, 1);
	assert_true(p.events & EPOLLIN);
	assert_ptr_equal(p.arg_seen, &p);
	loop_io_del(loop, &p.io);
	assert_int_equal(p.io.fd, -1);
	tio_close(&p);
}

/* A watcher and a timer in one loop: the timer fires while the fd stays quiet. */
static void
test_io_and_timer(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 2, .stop_status = 0 };
	struct tio p;
	struct tt a;

	tio_open(&p, &rec, 1);
	tt_init(&a, &rec, 2);
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	loop_timer_at(loop, &a.timer, loop_now_ms() + 20);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(rec.fired[0], 1);
	assert_int_equal(rec.fired[1], 2);
	loop_io_del(loop, &p.io);
	tio_close(&p);
}

static void
test_io_mod(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 0 };
	struct tio p;

	tio_open(&p, &rec, 1);
	/* The write end: nothing to read, ever; writable once asked for. */
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[1], EPOLLIN, on_io, &p), 0);
	assert_int_equal(loop_io_mod(loop, &p.io, EPOLLOUT), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_true(p.events & EPOLLOUT);
	loop_io_del(loop, &p.io);
	tio_close(&p);
}

static void
test_io_hangup(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 0 };
	struct tio p;

	tio_open(&p, &rec, 1);
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	close(p.fds[1]);
	p.fds[1] = -1;
	assert_int_equal(loop_run(loop), 0);
	assert_true(p.events & EPOLLHUP);
	loop_io_del(loop, &p.io);
	close(p.fds[0]);
}

static void
test_io_add_bad_fd(void **state)
{
	struct loop *loop = *state;
	struct loop_io io;

	assert_int_equal(loop_io_add(loop, &io, 987654, EPOLLIN, NULL, NULL), -1);
}

static void
on_stopper(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop, 0);
}

/*
 * Two readable pipes, one round: whichever callback runs first removes the other watcher, which
 * must then not be called although epoll already reported it.
 */
static void
test_io_removed_in_same_round(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 0 };
	struct loop_timer stopper;
	struct tio p, q;

	tio_open(&p, &rec, 1);
	tio_open(&q, &rec, 2);
	p.del_other = &q;
	q.del_other = &p;
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	assert_int_equal(loop_io_add(loop, &q.io, q.fds[0], EPOLLIN, on_io, &q), 0);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(write(q.fds[1], "x", 1), 1);
	loop_timer_init(&stopper, on_stopper, NULL);
	loop_timer_at(loop, &stopper, loop_now_ms() + 30);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(rec.n, 1);
	if (rec.fired[0] == 1) {
		assert_int_equal(q.io.fd, -1);
		loop_io_del(loop, &p.io);
	} else {
		assert_int_equal(p.io.fd, -1);
		loop_io_del(loop, &q.io);
	}
	tio_close(&p);
	tio_close(&q);
}

/* loop_stop from an fd callback ends the round: the other ready fd waits for the next run. */
static void
test_io_stop_ends_round(void **state)
{
	struct loop *loop = *state;
	struct record rec = { .stop_after = 1, .stop_status = 9 };
	struct tio p, q;

	tio_open(&p, &rec, 1);
	tio_open(&q, &rec, 2);
	assert_int_equal(loop_io_add(loop, &p.io, p.fds[0], EPOLLIN, on_io, &p), 0);
	assert_int_equal(loop_io_add(loop, &q.io, q.fds[0], EPOLLIN, on_io, &q), 0);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(write(q.fds[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 9);
	assert_int_equal(rec.n, 1);
	rec.stop_after = 2;
	rec.stop_status = 10;
	assert_int_equal(loop_run(loop), 10);
	assert_int_equal(rec.n, 2);
	assert_int_not_equal(rec.fired[0], rec.fired[1]);
	loop_io_del(loop, &p.io);
	loop_io_del(loop, &q.io);
	tio_close(&p);
	tio_close(&q);
}

#define LOOP_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		LOOP_TEST(test_init_close),
		LOOP_TEST(test_now_monotonic),
		LOOP_TEST(test_timer_init_armed),
		LOOP_TEST(test_timers_deadline_order),
		LOOP_TEST(test_timers_expired_together_deadline_order),
		LOOP_TEST(test_timer_past_deadline_fires_at_once),
		LOOP_TEST(test_timer_cancelled_does_not_fire),
		LOOP_TEST(test_timer_cancelled_from_callback),
		LOOP_TEST(test_timer_rearm_moves_it),
		LOOP_TEST(test_timer_rearm_fires_once),
		LOOP_TEST(test_timer_armed_from_callback),
		LOOP_TEST(test_timer_armed_due_from_callback),
		LOOP_TEST(test_timer_rearms_itself),
		LOOP_TEST(test_stop_status),
		LOOP_TEST(test_timer_due_again_lets_fds_in),
		LOOP_TEST(test_io_pipe),
		LOOP_TEST(test_io_and_timer),
		LOOP_TEST(test_io_mod),
		LOOP_TEST(test_io_hangup),
		LOOP_TEST(test_io_add_bad_fd),
		LOOP_TEST(test_io_removed_in_same_round),
		LOOP_TEST(test_io_stop_ends_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
