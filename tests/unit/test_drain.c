/*
 * test_drain.c: the shutdown state machine, cell by cell, against a fake clock and fake ops that
 * record every effect in order ("stop; deregistered; arm 29000"). Each state is reached through
 * real events from IDLE, never by writing d->state, so a cell is tested the way it happens.
 * Then the grace budget, the ordering rules and the Kubernetes flows, one test each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "drain.h"
#include "log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The standard budget: --grace-period 30s, --kill-margin 2s, --drain-delay 5s, no --min-drain.
 * The cells trigger the drain at T0 = 1000 (not 0, so that a deadline computed relative to 0
 * instead of the trigger shows), hence these absolute times.
 */
#define GRACE_MS  30000
#define MARGIN_MS 2000
#define DELAY_MS  5000
#define T0        1000
#define DEREG_AT  6000  /* T0 + DELAY_MS: the stop signal */
#define KILL_AT   29000 /* T0 + GRACE_MS - MARGIN_MS: SIGKILL */
#define EXIT_AT   7000  /* the child exits in STOPPING, to reach EXITED */
#define NO_TIME   -1
#define NOT_STARTED                                                                                \
	{                                                                                          \
		NO_TIME, NO_TIME, NO_TIME, NO_TIME, NO_TIME                                        \
	}

static const struct drain_budget std_budget = {
	.grace_ms = GRACE_MS,
	.kill_margin_ms = MARGIN_MS,
	.delay_ms = DELAY_MS,
	.min_drain_ms = 0,
};

/* The fake ops: every call appended to one string, "; " between calls. */
struct fake {
	char calls[512];
	size_t len;
};

struct harness {
	struct drain d;
	struct fake f;
};

static void
record(struct fake *f, const char *call)
{
	size_t room = sizeof(f->calls) - f->len;
	int n;

	n = snprintf(f->calls + f->len, room, "%s%s", f->len > 0 ? "; " : "", call);
	if (n < 0 || (size_t)n >= room)
		fail_msg("the fake ops call log is full: %s", f->calls);
	f->len += (size_t)n;
}

static void
fake_stop(void *arg)
{
	record(arg, "stop");
}

static void
fake_kill(void *arg)
{
	record(arg, "kill");
}

static void
fake_arm(void *arg, int64_t deadline_ms)
{
	char call[32];

	snprintf(call, sizeof(call), "arm %lld", (long long)deadline_ms);
	record(arg, call);
}

static void
fake_deregistered(void *arg)
{
	record(arg, "deregistered");
}

static const struct drain_ops fake_ops = {
	.stop = fake_stop,
	.kill = fake_kill,
	.arm = fake_arm,
	.deregistered = fake_deregistered,
};

static void
h_init(struct harness *h, const struct drain_budget *b)
{
	memset(h, 0, sizeof(*h));
	drain_init(&h->d, b, &fake_ops, &h->f);
}

static bool
feed(struct harness *h, enum drain_event ev, int64_t now_ms)
{
	return drain_event(&h->d, ev, now_ms);
}

/*
 * The checks below are macros around functions only so that a failure names the caller's line,
 * not the helper's.
 */
#define expect_calls(h, want) expect_calls_at(h, want, __LINE__)
#define expect_times(d, trigger, deregistered, stop, kill, exited)                                 \
	expect_times_at(                                                                           \
		d, (struct drain_times){ trigger, deregistered, stop, kill, exited }, __LINE__)
#define expect_state(d, want) expect_state_at(d, want, __LINE__)

/* The calls made since the last check, exactly and in order; then forgets them. */
static void
expect_calls_at(struct harness *h, const char *want, int line)
{
	if (strcmp(h->f.calls, want) != 0)
		fail_msg("line %d: calls \"%s\", expected \"%s\"", line, h->f.calls, want);
	h->f.calls[0] = '\0';
	h->f.len = 0;
}

static void
times_str(const struct drain_times *t, char *buf, size_t len)
{
	snprintf(buf, len, "trigger=%lld deregistered=%lld stop=%lld kill=%lld exit=%lld",
		(long long)t->trigger_ms, (long long)t->deregistered_ms, (long long)t->stop_ms,
		(long long)t->kill_ms, (long long)t->exit_ms);
}

/* Compared as one string, so that a failure shows every phase time side by side. */
static void
expect_times_at(const struct drain *d, struct drain_times want, int line)
{
	char got_s[160], want_s[160];

	times_str(&d->t, got_s, sizeof(got_s));
	times_str(&want, want_s, sizeof(want_s));
	if (strcmp(got_s, want_s) != 0)
		fail_msg("line %d: times\n  got      %s\n  expected %s", line, got_s, want_s);
}

static void
expect_state_at(const struct drain *d, enum drain_state want, int line)
{
	if (d->state != want)
		fail_msg("line %d: state is %s (%d), expected %s (%d)", line,
			drain_state_name(d->state), (int)d->state, drain_state_name(want),
			(int)want);
}

/*
 * Brings a fresh machine with the standard budget to state s through real events, checking each
 * step, and leaves the call log empty:
 *   DEREGISTER: SIGTERM at T0;  STOPPING: then the timer at DEREG_AT;
 *   KILLED: then the timer at KILL_AT;  EXITED: the child exits at EXIT_AT in STOPPING.
 */
static void
reach(struct harness *h, enum drain_state s)
{
	h_init(h, &std_budget);
	if (s == DRAIN_IDLE)
		return;
	assert_true(feed(h, DRAIN_EV_SIGTERM, T0));
	expect_calls(h, "arm 6000");
	expect_state(&h->d, DRAIN_DEREGISTER);
	if (s == DRAIN_DEREGISTER)
		return;
	assert_true(feed(h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(h, "stop; deregistered; arm 29000");
	expect_state(&h->d, DRAIN_STOPPING);
	if (s == DRAIN_STOPPING)
		return;
	if (s == DRAIN_KILLED) {
		assert_true(feed(h, DRAIN_EV_TIMER, KILL_AT));
		expect_calls(h, "kill");
		expect_state(&h->d, DRAIN_KILLED);
		return;
	}
	assert_int_equal(s, DRAIN_EXITED);
	assert_true(feed(h, DRAIN_EV_CHILD_EXITED, EXIT_AT));
	expect_calls(h, "arm -1");
	expect_state(&h->d, DRAIN_EXITED);
}

/* ---------------------------------------------------------------------------------------- */
/* Every cell of the table. */

struct cell {
	enum drain_state from;
	enum drain_event ev;
	const char *when; /* for TIMER: which side of the state's deadline */
	int64_t now_ms;
	bool ret;
	enum drain_state to;
	const char *calls;
	struct drain_times t;
	enum drain_event trigger; /* checked once the drain has started */
	bool skipped;
};

static const struct cell cells[] = {
	/* IDLE: SIGTERM, /prestop and /drain start the drain; SIGINT is only forwarded. */
	{ DRAIN_IDLE, DRAIN_EV_SIGTERM, "", 2000, true, DRAIN_DEREGISTER, "arm 7000",
		{ 2000, -1, -1, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_IDLE, DRAIN_EV_PRESTOP, "", 2000, true, DRAIN_DEREGISTER, "arm 7000",
		{ 2000, -1, -1, -1, -1 }, DRAIN_EV_PRESTOP, false },
	{ DRAIN_IDLE, DRAIN_EV_DRAIN, "", 2000, true, DRAIN_DEREGISTER, "arm 7000",
		{ 2000, -1, -1, -1, -1 }, DRAIN_EV_DRAIN, false },
	{ DRAIN_IDLE, DRAIN_EV_SIGINT, "", 2000, false, DRAIN_IDLE, "", NOT_STARTED,
		DRAIN_EV_SIGTERM, false },
	{ DRAIN_IDLE, DRAIN_EV_DEREGISTERED, "", 2000, false, DRAIN_IDLE, "", NOT_STARTED,
		DRAIN_EV_SIGTERM, false },
	{ DRAIN_IDLE, DRAIN_EV_TIMER, " (early: nothing armed)", 0, false, DRAIN_IDLE, "",
		NOT_STARTED, DRAIN_EV_SIGTERM, false },
	{ DRAIN_IDLE, DRAIN_EV_TIMER, " (late: nothing armed)", 100000, false, DRAIN_IDLE, "",
		NOT_STARTED, DRAIN_EV_SIGTERM, false },
	{ DRAIN_IDLE, DRAIN_EV_CHILD_EXITED, "", 2000, true, DRAIN_EXITED, "arm -1",
		{ -1, -1, -1, -1, 2000 }, DRAIN_EV_SIGTERM, false },

	/* DEREGISTER (SIGTERM at 1000, stop signal due at 6000). */
	{ DRAIN_DEREGISTER, DRAIN_EV_SIGTERM, "", 3000, true, DRAIN_STOPPING,
		"stop; deregistered; arm 29000", { 1000, 3000, 3000, -1, -1 }, DRAIN_EV_SIGTERM,
		true },
	{ DRAIN_DEREGISTER, DRAIN_EV_PRESTOP, "", 3000, false, DRAIN_DEREGISTER, "",
		{ 1000, -1, -1, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_DEREGISTER, DRAIN_EV_DRAIN, "", 3000, false, DRAIN_DEREGISTER, "",
		{ 1000, -1, -1, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_DEREGISTER, DRAIN_EV_SIGINT, "", 3000, true, DRAIN_STOPPING,
		"stop; deregistered; arm 29000", { 1000, 3000, 3000, -1, -1 }, DRAIN_EV_SIGTERM,
		true },
	{ DRAIN_DEREGISTER, DRAIN_EV_DEREGISTERED, "", 3000, true, DRAIN_STOPPING,
		"stop; deregistered; arm 29000", { 1000, 3000, 3000, -1, -1 }, DRAIN_EV_SIGTERM,
		false },
	{ DRAIN_DEREGISTER, DRAIN_EV_TIMER, " (1 ms before the stop deadline)", 5999, false,
		DRAIN_DEREGISTER, "arm 6000", { 1000, -1, -1, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_DEREGISTER, DRAIN_EV_TIMER, " (at the stop deadline)", 6000, true, DRAIN_STOPPING,
		"stop; deregistered; arm 29000", { 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM,
		false },
	{ DRAIN_DEREGISTER, DRAIN_EV_CHILD_EXITED, "", 3000, true, DRAIN_EXITED,
		"arm -1; deregistered", { 1000, 3000, -1, -1, 3000 }, DRAIN_EV_SIGTERM, false },

	/* STOPPING (stop signal at 6000, SIGKILL due at 29000). */
	{ DRAIN_STOPPING, DRAIN_EV_SIGTERM, "", 10000, false, DRAIN_STOPPING, "",
		{ 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_PRESTOP, "", 10000, false, DRAIN_STOPPING, "",
		{ 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_DRAIN, "", 10000, false, DRAIN_STOPPING, "",
		{ 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_SIGINT, "", 10000, false, DRAIN_STOPPING, "",
		{ 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_DEREGISTERED, "", 10000, false, DRAIN_STOPPING, "",
		{ 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_TIMER, " (1 ms before the kill deadline)", 28999, false,
		DRAIN_STOPPING, "arm 29000", { 1000, 6000, 6000, -1, -1 }, DRAIN_EV_SIGTERM,
		false },
	{ DRAIN_STOPPING, DRAIN_EV_TIMER, " (at the kill deadline)", 29000, true, DRAIN_KILLED,
		"kill", { 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_STOPPING, DRAIN_EV_CHILD_EXITED, "", 10000, true, DRAIN_EXITED, "arm -1",
		{ 1000, 6000, 6000, -1, 10000 }, DRAIN_EV_SIGTERM, false },

	/* KILLED (SIGKILL at 29000): only the child's exit means anything. */
	{ DRAIN_KILLED, DRAIN_EV_SIGTERM, "", 29500, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_PRESTOP, "", 29500, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_DRAIN, "", 29500, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_SIGINT, "", 29500, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_DEREGISTERED, "", 29500, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_TIMER, " (right after the kill)", 29001, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_TIMER, " (past the grace period)", 40000, false, DRAIN_KILLED, "",
		{ 1000, 6000, 6000, 29000, -1 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_KILLED, DRAIN_EV_CHILD_EXITED, "", 29500, true, DRAIN_EXITED, "arm -1",
		{ 1000, 6000, 6000, 29000, 29500 }, DRAIN_EV_SIGTERM, false },

	/* EXITED (the child exited at 7000 while stopping): final, nothing means anything. */
	{ DRAIN_EXITED, DRAIN_EV_SIGTERM, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_PRESTOP, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_DRAIN, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_SIGINT, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_DEREGISTERED, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_TIMER, " (before the old kill deadline)", 8000, false,
		DRAIN_EXITED, "", { 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_TIMER, " (after the old kill deadline)", 29000, false,
		DRAIN_EXITED, "", { 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
	{ DRAIN_EXITED, DRAIN_EV_CHILD_EXITED, "", 8000, false, DRAIN_EXITED, "",
		{ 1000, 6000, 6000, -1, 7000 }, DRAIN_EV_SIGTERM, false },
};

/* Our own labels for the test names, independent of the names under test. */
static const char *const state_labels[DRAIN_NSTATES] = {
	[DRAIN_IDLE] = "IDLE",
	[DRAIN_DEREGISTER] = "DEREGISTER",
	[DRAIN_STOPPING] = "STOPPING",
	[DRAIN_KILLED] = "KILLED",
	[DRAIN_EXITED] = "EXITED",
};

static const char *const event_labels[DRAIN_NEVENTS] = {
	[DRAIN_EV_SIGTERM] = "SIGTERM",
	[DRAIN_EV_PRESTOP] = "PRESTOP",
	[DRAIN_EV_DRAIN] = "DRAIN",
	[DRAIN_EV_SIGINT] = "SIGINT",
	[DRAIN_EV_DEREGISTERED] = "DEREGISTERED",
	[DRAIN_EV_TIMER] = "TIMER",
	[DRAIN_EV_CHILD_EXITED] = "CHILD_EXITED",
};

static void
run_cell(void **state)
{
	const struct cell *c = *state;
	struct harness h;
	int64_t kill_deadline;

	reach(&h, c->from);
	kill_deadline = h.d.kill_deadline_ms;
	assert_int_equal(feed(&h, c->ev, c->now_ms), c->ret);
	expect_state(&h.d, c->to);
	expect_calls(&h, c->calls);
	expect_times_at(&h.d, c->t, __LINE__);
	assert_int_equal(h.d.skipped, c->skipped);
	assert_int_equal(drain_ready(&h.d), c->to == DRAIN_IDLE);
	if (h.d.t.trigger_ms != NO_TIME)
		assert_int_equal(h.d.trigger, c->trigger);
	/* Nothing but the first trigger sets the kill deadline. */
	if (c->from != DRAIN_IDLE)
		assert_int_equal(h.d.kill_deadline_ms, kill_deadline);
	else if (c->to == DRAIN_DEREGISTER)
		assert_int_equal(h.d.kill_deadline_ms, c->now_ms + GRACE_MS - MARGIN_MS);
}

/* The table above has a row for every state x event, with TIMER twice. */
static void
test_cells_complete(void **state)
{
	int seen[DRAIN_NSTATES][DRAIN_NEVENTS] = { { 0 } };
	size_t i;
	int s, e;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cells); i++)
		seen[cells[i].from][cells[i].ev]++;
	for (s = 0; s < DRAIN_NSTATES; s++)
		for (e = 0; e < DRAIN_NEVENTS; e++)
			if (seen[s][e] != (e == DRAIN_EV_TIMER ? 2 : 1))
				fail_msg("%s x %s: %d rows", state_labels[s], event_labels[e],
					seen[s][e]);
}

/* ---------------------------------------------------------------------------------------- */
/* Initial state, names, readiness. */

static void
test_init(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	expect_state(&h.d, DRAIN_IDLE);
	assert_true(drain_ready(&h.d));
	expect_times(&h.d, -1, -1, -1, -1, -1);
	assert_int_equal(h.d.dereg_deadline_ms, -1);
	assert_int_equal(h.d.kill_deadline_ms, -1);
	assert_false(h.d.skipped);
	assert_int_equal(h.d.budget.grace_ms, GRACE_MS);
	assert_int_equal(h.d.budget.kill_margin_ms, MARGIN_MS);
	assert_int_equal(h.d.budget.delay_ms, DELAY_MS);
	assert_int_equal(h.d.budget.min_drain_ms, 0);
	expect_calls(&h, "");
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(drain_state_name(DRAIN_IDLE), "running");
	assert_string_equal(drain_state_name(DRAIN_DEREGISTER), "deregistering");
	assert_string_equal(drain_state_name(DRAIN_STOPPING), "stopping");
	assert_string_equal(drain_state_name(DRAIN_KILLED), "killed");
	assert_string_equal(drain_state_name(DRAIN_EXITED), "exited");
	assert_string_equal(drain_state_name(DRAIN_NSTATES), "?");
	assert_string_equal(drain_state_name((enum drain_state)99), "?");
}

static void
test_event_names(void **state)
{
	(void)state;
	assert_string_equal(drain_event_name(DRAIN_EV_SIGTERM), "SIGTERM");
	assert_string_equal(drain_event_name(DRAIN_EV_PRESTOP), "/prestop");
	assert_string_equal(drain_event_name(DRAIN_EV_DRAIN), "/drain");
	assert_string_equal(drain_event_name(DRAIN_EV_SIGINT), "SIGINT");
	assert_string_equal(drain_event_name(DRAIN_EV_DEREGISTERED), "deregistered");
	assert_string_equal(drain_event_name(DRAIN_EV_TIMER), "timer");
	assert_string_equal(drain_event_name(DRAIN_EV_CHILD_EXITED), "child exited");
	assert_string_equal(drain_event_name(DRAIN_NEVENTS), "?");
	assert_string_equal(drain_event_name((enum drain_event)99), "?");
}

/* Ready in IDLE only: /readyz fails from the first trigger on, and never comes back. */
static void
test_ready(void **state)
{
	struct harness h;
	int s;

	(void)state;
	for (s = 0; s < DRAIN_NSTATES; s++) {
		reach(&h, (enum drain_state)s);
		assert_int_equal(drain_ready(&h.d), s == DRAIN_IDLE);
	}
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_CHILD_EXITED, 500));
	assert_false(drain_ready(&h.d));
}

/* An event or a state out of range is refused without a call. */
static void
test_out_of_range(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_false(feed(&h, DRAIN_NEVENTS, T0));
	expect_state(&h.d, DRAIN_IDLE);
	expect_calls(&h, "");
	h.d.state = DRAIN_NSTATES;
	assert_false(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "");
}

/* ---------------------------------------------------------------------------------------- */
/* The grace budget. */

/* SIGKILL at trigger + grace - margin, whatever the trigger and the time it comes. */
static void
test_kill_deadline(void **state)
{
	const struct drain_budget b = { 60000, 3000, 10000, 0 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, 5000));
	assert_int_equal(h.d.kill_deadline_ms, 5000 + 60000 - 3000);
	expect_calls(&h, "arm 15000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 15000));
	expect_calls(&h, "stop; deregistered; arm 62000");
	assert_false(feed(&h, DRAIN_EV_TIMER, 61999));
	expect_calls(&h, "arm 62000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 62000));
	expect_calls(&h, "kill");
	expect_state(&h.d, DRAIN_KILLED);
	expect_times(&h.d, 5000, 15000, 15000, 62000, -1);
	assert_true(feed(&h, DRAIN_EV_CHILD_EXITED, 62050));
	expect_calls(&h, "arm -1");
	expect_times(&h.d, 5000, 15000, 15000, 62000, 62050);
	assert_int_equal(h.d.trigger, DRAIN_EV_PRESTOP);
}

/* A timer that fires late (a loaded node) still kills, at the time it fires. */
static void
test_kill_late_timer(void **state)
{
	struct harness h;

	(void)state;
	reach(&h, DRAIN_STOPPING);
	assert_true(feed(&h, DRAIN_EV_TIMER, KILL_AT + 700));
	expect_calls(&h, "kill");
	expect_times(&h.d, T0, DEREG_AT, DEREG_AT, KILL_AT + 700, -1);
}

/* latest stop = (grace - margin) - min(5 s, (grace - margin) / 2), counted from the trigger. */
static void
test_latest_stop(void **state)
{
	static const struct {
		int64_t grace_ms, margin_ms, latest_ms;
	} cases[] = {
		{ 30000, 2000, 23000 }, /* 28 s to SIGKILL: the app keeps 5 s */
		{ 60000, 3000, 52000 }, { 12000, 2000, 5000 }, /* 10 s: half is exactly 5 s */
		{ 10000, 2000, 4000 },                         /* 8 s: the app keeps half, 4 s */
		{ 6000, 2000, 2000 }, { 2000, 2000, 0 },       /* no budget at all: stop at once */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		const struct drain_budget b = { cases[i].grace_ms, cases[i].margin_ms, 0, 0 };

		if (drain_latest_stop_ms(&b) != cases[i].latest_ms)
			fail_msg("grace %lld margin %lld: latest stop %lld, expected %lld",
				(long long)b.grace_ms, (long long)b.kill_margin_ms,
				(long long)drain_latest_stop_ms(&b), (long long)cases[i].latest_ms);
	}
}

/* A delay that fits is kept, to the millisecond; one that does not is cut to the latest stop. */
static void
test_delay_cut_to_latest(void **state)
{
	const struct drain_budget fits = { 30000, 2000, 23000, 0 };
	const struct drain_budget too_long = { 30000, 2000, 60000, 0 };
	struct harness h;

	(void)state;
	h_init(&h, &fits);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 24000");

	h_init(&h, &too_long);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 24000");
	assert_int_equal(h.d.dereg_deadline_ms, T0 + 23000);
	assert_false(feed(&h, DRAIN_EV_TIMER, 23999));
	expect_calls(&h, "arm 24000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 24000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	/* The app keeps min(5 s, 28 s / 2) = 5 s between the stop signal and SIGKILL. */
	assert_int_equal(h.d.kill_deadline_ms - h.d.t.stop_ms, 5000);
}

/* With a short budget the app keeps half of grace - margin, not 5 s. */
static void
test_delay_cut_short_grace(void **state)
{
	const struct drain_budget b = { 6000, 2000, 5000, 0 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 3000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 3000));
	expect_calls(&h, "stop; deregistered; arm 5000");
	assert_int_equal(h.d.kill_deadline_ms - h.d.t.stop_ms, (6000 - 2000) / 2);
	assert_true(feed(&h, DRAIN_EV_TIMER, 5000));
	expect_calls(&h, "kill");
	expect_times(&h.d, T0, 3000, 3000, 5000, -1);
}

/* --min-drain longer than --drain-delay: the stop signal waits for min-drain. */
static void
test_min_drain_longer_than_delay(void **state)
{
	const struct drain_budget b = { 30000, 2000, 2000, 8000 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 9000");
	assert_false(feed(&h, DRAIN_EV_TIMER, T0 + 2000));
	expect_calls(&h, "arm 9000");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_true(feed(&h, DRAIN_EV_TIMER, 9000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_times(&h.d, T0, 9000, 9000, -1, -1);
}

/* --min-drain beyond the budget is cut to the latest stop like the delay. */
static void
test_min_drain_cut_to_latest(void **state)
{
	const struct drain_budget b = { 30000, 2000, 0, 40000 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 24000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 24000));
	expect_calls(&h, "stop; deregistered; arm 29000");
}

/*
 * The same budget, but deregistration is confirmed early. --min-drain still holds the stop
 * signal, but never past the latest stop: "each wait is cut short when the budget requires it"
 * and SIGKILL goes out at grace - margin (SPEC.md, --grace-period).
 */
static void
test_min_drain_cut_after_deregistered(void **state)
{
	const struct drain_budget b = { 30000, 2000, 0, 40000 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 24000");
	assert_true(feed(&h, DRAIN_EV_DEREGISTERED, 2000));
	expect_calls(&h, "arm 24000");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_true(feed(&h, DRAIN_EV_TIMER, 24000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_state(&h.d, DRAIN_STOPPING);
	assert_true(feed(&h, DRAIN_EV_TIMER, KILL_AT));
	expect_calls(&h, "kill");
	expect_times(&h.d, T0, 24000, 24000, KILL_AT, -1);
}

/* Delay 0: not ready, deregistered and stop signal in the same event, then the kill timer. */
static void
test_delay_zero(void **state)
{
	const struct drain_budget b = { 30000, 2000, 0, 0 };
	enum drain_event triggers[] = { DRAIN_EV_SIGTERM, DRAIN_EV_PRESTOP, DRAIN_EV_DRAIN };
	struct harness h;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(triggers); i++) {
		h_init(&h, &b);
		assert_true(feed(&h, triggers[i], T0));
		expect_calls(&h, "stop; deregistered; arm 29000");
		expect_state(&h.d, DRAIN_STOPPING);
		expect_times(&h.d, T0, T0, T0, -1, -1);
		assert_int_equal(h.d.trigger, triggers[i]);
		assert_false(h.d.skipped);
	}
}

/* Confirmed before --min-drain: the min-drain deadline is armed, the stop signal waits for it. */
static void
test_deregistered_before_min_drain(void **state)
{
	const struct drain_budget b = { 30000, 2000, 10000, 3000 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 11000");
	assert_true(feed(&h, DRAIN_EV_DEREGISTERED, 2000));
	expect_calls(&h, "arm 4000");
	expect_state(&h.d, DRAIN_DEREGISTER);
	expect_times(&h.d, T0, -1, -1, -1, -1);
	assert_false(feed(&h, DRAIN_EV_TIMER, 3999));
	expect_calls(&h, "arm 4000");
	assert_true(feed(&h, DRAIN_EV_TIMER, 4000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_times(&h.d, T0, 4000, 4000, -1, -1);
}

/* Confirmed at or after --min-drain: the stop signal goes out in the same event. */
static void
test_deregistered_after_min_drain(void **state)
{
	const struct drain_budget b = { 30000, 2000, 10000, 3000 };
	struct harness h;

	(void)state;
	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 11000");
	assert_true(feed(&h, DRAIN_EV_DEREGISTERED, 4000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_times(&h.d, T0, 4000, 4000, -1, -1);

	h_init(&h, &b);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	expect_calls(&h, "arm 11000");
	assert_true(feed(&h, DRAIN_EV_DEREGISTERED, 7000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_times(&h.d, T0, 7000, 7000, -1, -1);
}

/* A timer that fires early (or a stale one) re-arms the same deadline and changes nothing. */
static void
test_timer_early(void **state)
{
	static const int64_t dereg_early[] = { T0, 3000, DEREG_AT - 1 };
	static const int64_t stop_early[] = { DEREG_AT, 20000, KILL_AT - 1 };
	struct harness h;
	size_t i;

	(void)state;
	reach(&h, DRAIN_DEREGISTER);
	for (i = 0; i < ARRAY_LEN(dereg_early); i++) {
		assert_false(feed(&h, DRAIN_EV_TIMER, dereg_early[i]));
		expect_calls(&h, "arm 6000");
		expect_state(&h.d, DRAIN_DEREGISTER);
		expect_times(&h.d, T0, -1, -1, -1, -1);
		assert_int_equal(h.d.dereg_deadline_ms, DEREG_AT);
		assert_int_equal(h.d.kill_deadline_ms, KILL_AT);
	}
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
	for (i = 0; i < ARRAY_LEN(stop_early); i++) {
		assert_false(feed(&h, DRAIN_EV_TIMER, stop_early[i]));
		expect_calls(&h, "arm 29000");
		expect_state(&h.d, DRAIN_STOPPING);
		expect_times(&h.d, T0, DEREG_AT, DEREG_AT, -1, -1);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Ordering rules. */

/*
 * The child exits while /prestop waits: the waiters are released (ops->deregistered), the timer
 * cancelled, and no stop signal goes to a child that is gone.
 */
static void
test_child_exits_during_deregister(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, T0));
	expect_calls(&h, "arm 6000");
	assert_true(feed(&h, DRAIN_EV_CHILD_EXITED, 2500));
	expect_calls(&h, "arm -1; deregistered");
	expect_state(&h.d, DRAIN_EXITED);
	expect_times(&h.d, T0, 2500, -1, -1, 2500);
	assert_false(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	assert_false(feed(&h, DRAIN_EV_SIGTERM, DEREG_AT + 10));
	assert_false(feed(&h, DRAIN_EV_TIMER, KILL_AT));
	expect_calls(&h, "");
}

/* Exiting while IDLE: no drain, nobody waits, ops->deregistered is not called. */
static void
test_child_exits_idle(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_CHILD_EXITED, 500));
	expect_calls(&h, "arm -1");
	expect_state(&h.d, DRAIN_EXITED);
	expect_times(&h.d, -1, -1, -1, -1, 500);
	assert_false(feed(&h, DRAIN_EV_SIGTERM, 600));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 700));
	assert_false(feed(&h, DRAIN_EV_CHILD_EXITED, 800));
	expect_calls(&h, "");
	expect_times(&h.d, -1, -1, -1, -1, 500);
}

/* A second SIGTERM cuts deregistration short; a third does nothing. */
static void
test_second_sigterm_skips(void **state)
{
	struct harness h;

	(void)state;
	reach(&h, DRAIN_DEREGISTER);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, 2000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_state(&h.d, DRAIN_STOPPING);
	assert_true(h.d.skipped);
	expect_times(&h.d, T0, 2000, 2000, -1, -1);
	assert_int_equal(h.d.trigger, DRAIN_EV_SIGTERM);
	assert_false(feed(&h, DRAIN_EV_SIGTERM, 2500));
	assert_false(feed(&h, DRAIN_EV_SIGINT, 2600));
	expect_calls(&h, "");
	assert_true(h.d.skipped);
}

/* SIGINT (Ctrl-C) during deregistration skips too, whatever started the drain. */
static void
test_sigint_skips(void **state)
{
	enum drain_event triggers[] = { DRAIN_EV_SIGTERM, DRAIN_EV_PRESTOP, DRAIN_EV_DRAIN };
	struct harness h;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(triggers); i++) {
		h_init(&h, &std_budget);
		assert_true(feed(&h, triggers[i], T0));
		expect_calls(&h, "arm 6000");
		assert_true(feed(&h, DRAIN_EV_SIGINT, 2000));
		expect_calls(&h, "stop; deregistered; arm 29000");
		expect_state(&h.d, DRAIN_STOPPING);
		assert_true(h.d.skipped);
		assert_int_equal(h.d.trigger, triggers[i]);
		expect_times(&h.d, T0, 2000, 2000, -1, -1);
	}
}

/* Once the stop signal is out, no SIGTERM or SIGINT sends it again. */
static void
test_no_second_stop(void **state)
{
	struct harness h;
	int i;

	(void)state;
	reach(&h, DRAIN_STOPPING);
	for (i = 0; i < 3; i++) {
		assert_false(feed(&h, DRAIN_EV_SIGTERM, 7000 + i));
		assert_false(feed(&h, DRAIN_EV_SIGINT, 7100 + i));
		assert_false(feed(&h, DRAIN_EV_PRESTOP, 7200 + i));
		assert_false(feed(&h, DRAIN_EV_DRAIN, 7300 + i));
		assert_false(feed(&h, DRAIN_EV_DEREGISTERED, 7400 + i));
	}
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_STOPPING);
	assert_false(h.d.skipped);
	expect_times(&h.d, T0, DEREG_AT, DEREG_AT, -1, -1);
}

/* /prestop and /drain during deregistration join the drain under way: no call, false. */
static void
test_prestop_joins(void **state)
{
	struct harness h;

	(void)state;
	reach(&h, DRAIN_DEREGISTER);
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 2000));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 2500));
	assert_false(feed(&h, DRAIN_EV_DRAIN, 3000));
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_false(h.d.skipped);
	expect_times(&h.d, T0, -1, -1, -1, -1);
	assert_int_equal(h.d.dereg_deadline_ms, DEREG_AT);
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
}

/* The trigger and its time are the first event's; later ones move neither nor the deadlines. */
static void
test_trigger_is_first(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, T0));
	assert_false(feed(&h, DRAIN_EV_DRAIN, 1500));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 1600));
	expect_calls(&h, "arm 6000");
	assert_int_equal(h.d.trigger, DRAIN_EV_PRESTOP);
	assert_int_equal(h.d.t.trigger_ms, T0);
	assert_int_equal(h.d.kill_deadline_ms, KILL_AT);

	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_DRAIN, T0));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 1500));
	expect_calls(&h, "arm 6000");
	assert_int_equal(h.d.trigger, DRAIN_EV_DRAIN);
	assert_int_equal(h.d.t.trigger_ms, T0);

	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 1500));
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, 7000));
	assert_int_equal(h.d.trigger, DRAIN_EV_SIGTERM);
	assert_int_equal(h.d.t.trigger_ms, T0);
	assert_int_equal(h.d.kill_deadline_ms, KILL_AT);
}

/* ---------------------------------------------------------------------------------------- */
/* Kubernetes flows (SPEC.md: /prestop answers once deregistration is complete). */

/*
 * The kubelet runs the preStop hook, which blocks until deregistration is done, and only then
 * sends SIGTERM: that SIGTERM finds the stop signal already sent and does nothing.
 */
static void
test_kubelet_flow(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, T0));
	expect_calls(&h, "arm 6000");
	assert_false(drain_ready(&h.d));
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
	assert_false(feed(&h, DRAIN_EV_SIGTERM, DEREG_AT + 3));
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_STOPPING);
	assert_false(h.d.skipped);
	assert_true(feed(&h, DRAIN_EV_CHILD_EXITED, 7000));
	expect_calls(&h, "arm -1");
	expect_times(&h.d, T0, DEREG_AT, DEREG_AT, -1, 7000);
	assert_int_equal(h.d.trigger, DRAIN_EV_PRESTOP);
}

/*
 * SIGTERM while /prestop still waits. In a pod the kubelet stops every container at once: the
 * graceinit container (sidecar, or any container without its own preStop hook) gets SIGTERM at
 * the moment another container's preStop.httpGet reaches /prestop. That SIGTERM is the first
 * one graceinit receives, not a second: it must join the drain, not release /prestop at once
 * (which would let the kubelet stop the app while it still receives traffic, the very thing
 * graceinit exists to prevent, and would make the outcome depend on which arrives first).
 */
static void
test_prestop_then_sigterm_joins(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, T0));
	expect_calls(&h, "arm 6000");
	assert_false(feed(&h, DRAIN_EV_SIGTERM, T0 + 5));
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_false(h.d.skipped);
	expect_times(&h.d, T0, -1, -1, -1, -1);
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
	expect_times(&h.d, T0, DEREG_AT, DEREG_AT, -1, -1);
	assert_int_equal(h.d.trigger, DRAIN_EV_PRESTOP);
}

/* After /prestop, the second SIGTERM is the one that skips. */
static void
test_prestop_then_two_sigterms(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_PRESTOP, T0));
	expect_calls(&h, "arm 6000");
	assert_false(feed(&h, DRAIN_EV_SIGTERM, 2000));
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, 3000));
	expect_calls(&h, "stop; deregistered; arm 29000");
	assert_true(h.d.skipped);
	expect_times(&h.d, T0, 3000, 3000, -1, -1);
}

/* /drain is "the same with wait=0": the kubelet's SIGTERM that follows it joins as well. */
static void
test_drain_then_sigterm_joins(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_DRAIN, T0));
	expect_calls(&h, "arm 6000");
	assert_false(feed(&h, DRAIN_EV_SIGTERM, 2000));
	expect_calls(&h, "");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_false(h.d.skipped);
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
}

/* SIGTERM first, /prestop second (the other order of the same race): /prestop joins. */
static void
test_sigterm_then_prestop(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, &std_budget);
	assert_true(feed(&h, DRAIN_EV_SIGTERM, T0));
	assert_false(feed(&h, DRAIN_EV_PRESTOP, T0 + 5));
	expect_calls(&h, "arm 6000");
	expect_state(&h.d, DRAIN_DEREGISTER);
	assert_true(feed(&h, DRAIN_EV_TIMER, DEREG_AT));
	expect_calls(&h, "stop; deregistered; arm 29000");
}

/* ---------------------------------------------------------------------------------------- */

static const struct CMUnitTest named_tests[] = {
	cmocka_unit_test(test_cells_complete),
	cmocka_unit_test(test_init),
	cmocka_unit_test(test_state_names),
	cmocka_unit_test(test_event_names),
	cmocka_unit_test(test_ready),
	cmocka_unit_test(test_out_of_range),
	cmocka_unit_test(test_kill_deadline),
	cmocka_unit_test(test_kill_late_timer),
	cmocka_unit_test(test_latest_stop),
	cmocka_unit_test(test_delay_cut_to_latest),
	cmocka_unit_test(test_delay_cut_short_grace),
	cmocka_unit_test(test_min_drain_longer_than_delay),
	cmocka_unit_test(test_min_drain_cut_to_latest),
	cmocka_unit_test(test_min_drain_cut_after_deregistered),
	cmocka_unit_test(test_delay_zero),
	cmocka_unit_test(test_deregistered_before_min_drain),
	cmocka_unit_test(test_deregistered_after_min_drain),
	cmocka_unit_test(test_timer_early),
	cmocka_unit_test(test_child_exits_during_deregister),
	cmocka_unit_test(test_child_exits_idle),
	cmocka_unit_test(test_second_sigterm_skips),
	cmocka_unit_test(test_sigint_skips),
	cmocka_unit_test(test_no_second_stop),
	cmocka_unit_test(test_prestop_joins),
	cmocka_unit_test(test_trigger_is_first),
	cmocka_unit_test(test_kubelet_flow),
	cmocka_unit_test(test_prestop_then_sigterm_joins),
	cmocka_unit_test(test_prestop_then_two_sigterms),
	cmocka_unit_test(test_drain_then_sigterm_joins),
	cmocka_unit_test(test_sigterm_then_prestop),
};

int
main(void)
{
	static char names[ARRAY_LEN(cells)][96];
	struct CMUnitTest drain_tests[ARRAY_LEN(cells) + ARRAY_LEN(named_tests)];
	size_t i;

	/* The machine logs its phases; the tests check the calls, not the lines. */
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	for (i = 0; i < ARRAY_LEN(cells); i++) {
		snprintf(names[i], sizeof(names[i]), "cell %s x %s%s", state_labels[cells[i].from],
			event_labels[cells[i].ev], cells[i].when);
		drain_tests[i] = (struct CMUnitTest){
			.name = names[i],
			.test_func = run_cell,
			.initial_state = (void *)&cells[i],
		};
	}
	for (i = 0; i < ARRAY_LEN(named_tests); i++)
		drain_tests[ARRAY_LEN(cells) + i] = named_tests[i];
	return cmocka_run_group_tests(drain_tests, NULL, NULL);
}
