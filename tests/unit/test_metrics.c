/*
 * test_metrics.c: the Prometheus text of /metrics, byte for byte, for a fresh graceinit and
 * after a whole drain (driven through the real state machine with fake ops and a fake clock),
 * then one property per test: the drain phases as they end, one state at 1, the HTTP counter
 * ignoring what it does not know, label escaping. The golden texts were also checked with
 * `promtool check metrics` by hand; the test itself needs nothing but cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drain.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#define BUF_MAX     (64 * 1024)
#define START_TIME  1700000000.25
#define GRACE_MS    30000
#define MARGIN_MS   2000
#define DELAY_MS    5000
#define T0          10000
#define STOP_AT     15000 /* T0 + DELAY_MS */
#define KILL_AT     38000 /* T0 + GRACE_MS - MARGIN_MS */
#define EXIT_AT     38250
#define EARLY_EXIT  17500 /* the child exits 2.5 s after the stop signal */
#define PATH_LIVEZ  0
#define PATH_READYZ 2
#define PATH_PRESTP 3
#define PATH_DRAIN  4
#define PATH_METRIC 6
#define PATH_OTHER  7

static const struct drain_budget budget = {
	.grace_ms = GRACE_MS,
	.kill_margin_ms = MARGIN_MS,
	.delay_ms = DELAY_MS,
	.min_drain_ms = 0,
};

static void
nop(void *arg)
{
	(void)arg;
}

static void
nop_arm(void *arg, int64_t deadline_ms)
{
	(void)arg;
	(void)deadline_ms;
}

static const struct drain_ops ops = {
	.stop = nop,
	.kill = nop,
	.arm = nop_arm,
	.deregistered = nop,
};

struct fx {
	struct metrics m;
	struct drain d;
	struct buf b;
	struct metrics_input in;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	drain_init(&fx->d, &budget, &ops, NULL);
	buf_init(&fx->b, BUF_MAX);
	fx->in.m = &fx->m;
	fx->in.drain = &fx->d;
	fx->in.paths = http_path_names(&fx->in.npaths);
	fx->in.reaped = 0;
	fx->in.ready = true;
	fx->in.live = true;
	fx->in.uptime_ms = 1234;
	fx->in.start_time_s = START_TIME;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	buf_free(&fx->b);
	free(fx);
	return 0;
}

static const char *
render(struct fx *fx)
{
	buf_free(&fx->b);
	metrics_render(&fx->b, &fx->in);
	assert_false(fx->b.overflow);
	return buf_str(&fx->b);
}

/*
 * Asserts that line (without its newline) is, or is not, a whole line of text. A failure shows
 * the lines of the same metric only: the whole text is longer than cmocka prints.
 */
#define assert_line(text, line)    assert_line_at(text, line, true, __FILE__, __LINE__)
#define assert_no_line(text, line) assert_line_at(text, line, false, __FILE__, __LINE__)

static void
assert_line_at(const char *text, const char *line, bool want, const char *file, int at)
{
	size_t n = strlen(line), name = strcspn(line, "{ ");
	const char *p, *nl;
	bool found = false;

	for (p = text; *p != '\0'; p = nl + 1) {
		if (strncmp(p, line, n) == 0 && p[n] == '\n')
			found = true;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
	}
	if (found == want)
		return;
	print_error("%s line:\n  %s\nthe lines of %.*s are:\n", want ? "no" : "unexpected", line,
		(int)name, line);
	for (p = text; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strncmp(p, line, name) == 0)
			print_error("  %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (nl == NULL)
			break;
	}
	_fail(file, at);
}

/* The drain of the golden text: SIGTERM, drain-delay, stop signal, SIGKILL, exit. */
static void
drain_to_kill(struct drain *d)
{
	assert_true(drain_event(d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(d, DRAIN_EV_TIMER, STOP_AT));
	assert_true(drain_event(d, DRAIN_EV_TIMER, KILL_AT));
	assert_true(drain_event(d, DRAIN_EV_CHILD_EXITED, EXIT_AT));
	assert_int_equal(d->state, DRAIN_EXITED);
}

static void
test_golden_fresh(void **state)
{
	struct fx *fx = *state;
	static const char want[] =
		"# HELP graceinit_build_info graceinit's version; always 1.\n"
		"# TYPE graceinit_build_info gauge\n"
		"graceinit_build_info{version=\"" GRACEINIT_VERSION "\"} 1\n"
		"# HELP graceinit_start_time_seconds Unix time graceinit started at.\n"
		"# TYPE graceinit_start_time_seconds gauge\n"
		"graceinit_start_time_seconds 1700000000.250\n"
		"# HELP graceinit_uptime_seconds Seconds since graceinit started.\n"
		"# TYPE graceinit_uptime_seconds gauge\n"
		"graceinit_uptime_seconds 1.234\n"
		"# HELP graceinit_ready 1 while /readyz answers 200.\n"
		"# TYPE graceinit_ready gauge\n"
		"graceinit_ready 1\n"
		"# HELP graceinit_live 1 while /livez answers 200.\n"
		"# TYPE graceinit_live gauge\n"
		"graceinit_live 1\n"
		"# HELP graceinit_drain_state 1 for the current state of the drain.\n"
		"# TYPE graceinit_drain_state gauge\n"
		"graceinit_drain_state{state=\"running\"} 1\n"
		"graceinit_drain_state{state=\"deregistering\"} 0\n"
		"graceinit_drain_state{state=\"stopping\"} 0\n"
		"graceinit_drain_state{state=\"killed\"} 0\n"
		"graceinit_drain_state{state=\"exited\"} 0\n"
		"# HELP graceinit_drain_phase_seconds Duration of each drain phase that has "
		"ended.\n"
		"# TYPE graceinit_drain_phase_seconds gauge\n"
		"# HELP graceinit_signals_received_total Signals received by graceinit.\n"
		"# TYPE graceinit_signals_received_total counter\n"
		"# HELP graceinit_signals_forwarded_total Signals sent to the child, after "
		"rewriting.\n"
		"# TYPE graceinit_signals_forwarded_total counter\n"
		"# HELP graceinit_zombies_reaped_total Processes reaped: the child and every "
		"orphan.\n"
		"# TYPE graceinit_zombies_reaped_total counter\n"
		"graceinit_zombies_reaped_total 0\n"
		"# HELP graceinit_http_requests_total HTTP requests by path and code.\n"
		"# TYPE graceinit_http_requests_total counter\n";

	assert_string_equal(render(fx), want);
}

static void
test_golden_after_drain(void **state)
{
	struct fx *fx = *state;
	static const char want[] =
		"# HELP graceinit_build_info graceinit's version; always 1.\n"
		"# TYPE graceinit_build_info gauge\n"
		"graceinit_build_info{version=\"" GRACEINIT_VERSION "\"} 1\n"
		"# HELP graceinit_start_time_seconds Unix time graceinit started at.\n"
		"# TYPE graceinit_start_time_seconds gauge\n"
		"graceinit_start_time_seconds 1700000000.250\n"
		"# HELP graceinit_uptime_seconds Seconds since graceinit started.\n"
		"# TYPE graceinit_uptime_seconds gauge\n"
		"graceinit_uptime_seconds 3600.500\n"
		"# HELP graceinit_ready 1 while /readyz answers 200.\n"
		"# TYPE graceinit_ready gauge\n"
		"graceinit_ready 0\n"
		"# HELP graceinit_live 1 while /livez answers 200.\n"
		"# TYPE graceinit_live gauge\n"
		"graceinit_live 0\n"
		"# HELP graceinit_drain_state 1 for the current state of the drain.\n"
		"# TYPE graceinit_drain_state gauge\n"
		"graceinit_drain_state{state=\"running\"} 0\n"
		"graceinit_drain_state{state=\"deregistering\"} 0\n"
		"graceinit_drain_state{state=\"stopping\"} 0\n"
		"graceinit_drain_state{state=\"killed\"} 0\n"
		"graceinit_drain_state{state=\"exited\"} 1\n"
		"# HELP graceinit_drain_phase_seconds Duration of each drain phase that has "
		"ended.\n"
		"# TYPE graceinit_drain_phase_seconds gauge\n"
		"graceinit_drain_phase_seconds{phase=\"deregister\"} 5.000\n"
		"graceinit_drain_phase_seconds{phase=\"stop\"} 23.000\n"
		"graceinit_drain_phase_seconds{phase=\"kill\"} 0.250\n"
		"graceinit_drain_phase_seconds{phase=\"total\"} 28.250\n"
		"# HELP graceinit_signals_received_total Signals received by graceinit.\n"
		"# TYPE graceinit_signals_received_total counter\n"
		"graceinit_signals_received_total{signal=\"SIGUSR1\"} 3\n"
		"graceinit_signals_received_total{signal=\"SIGTERM\"} 1\n"
		"graceinit_signals_received_total{signal=\"SIGRTMIN+1\"} 2\n"
		"# HELP graceinit_signals_forwarded_total Signals sent to the child, after "
		"rewriting.\n"
		"# TYPE graceinit_signals_forwarded_total counter\n"
		"graceinit_signals_forwarded_total{signal=\"SIGKILL\"} 1\n"
		"graceinit_signals_forwarded_total{signal=\"SIGUSR1\"} 3\n"
		"graceinit_signals_forwarded_total{signal=\"SIGTERM\"} 1\n"
		"graceinit_signals_forwarded_total{signal=\"SIGRTMIN+1\"} 2\n"
		"# HELP graceinit_zombies_reaped_total Processes reaped: the child and every "
		"orphan.\n"
		"# TYPE graceinit_zombies_reaped_total counter\n"
		"graceinit_zombies_reaped_total 3\n"
		"# HELP graceinit_http_requests_total HTTP requests by path and code.\n"
		"# TYPE graceinit_http_requests_total counter\n"
		"graceinit_http_requests_total{path=\"/livez\",code=\"200\"} 12\n"
		"graceinit_http_requests_total{path=\"/readyz\",code=\"200\"} 10\n"
		"graceinit_http_requests_total{path=\"/readyz\",code=\"503\"} 4\n"
		"graceinit_http_requests_total{path=\"/prestop\",code=\"200\"} 1\n"
		"graceinit_http_requests_total{path=\"/drain\",code=\"405\"} 1\n"
		"graceinit_http_requests_total{path=\"/metrics\",code=\"200\"} 2\n"
		"graceinit_http_requests_total{path=\"other\",code=\"404\"} 3\n";
	int i;

	drain_to_kill(&fx->d);
	fx->m.signals_received[SIGTERM] = 1;
	fx->m.signals_received[SIGUSR1] = 3;
	fx->m.signals_received[SIGRTMIN + 1] = 2;
	fx->m.signals_forwarded[SIGTERM] = 1; /* the stop signal */
	fx->m.signals_forwarded[SIGKILL] = 1; /* at the kill deadline */
	fx->m.signals_forwarded[SIGUSR1] = 3;
	fx->m.signals_forwarded[SIGRTMIN + 1] = 2;
	for (i = 0; i < 12; i++)
		metrics_count_http(&fx->m, PATH_LIVEZ, 200);
	for (i = 0; i < 10; i++)
		metrics_count_http(&fx->m, PATH_READYZ, 200);
	for (i = 0; i < 4; i++)
		metrics_count_http(&fx->m, PATH_READYZ, 503);
	metrics_count_http(&fx->m, PATH_PRESTP, 200);
	metrics_count_http(&fx->m, PATH_DRAIN, 405);
	metrics_count_http(&fx->m, PATH_METRIC, 200);
	metrics_count_http(&fx->m, PATH_METRIC, 200);
	for (i = 0; i < 3; i++)
		metrics_count_http(&fx->m, PATH_OTHER, 404);
	/* Ignored: codes graceinit never answers with, paths out of range. */
	metrics_count_http(&fx->m, PATH_LIVEZ, 418);
	metrics_count_http(&fx->m, PATH_LIVEZ, 0);
	metrics_count_http(&fx->m, METRICS_MAX_PATHS, 200);
	metrics_count_http(&fx->m, 1000, 200);
	fx->in.reaped = 3;
	fx->in.ready = false;
	fx->in.live = false;
	fx->in.uptime_ms = 3600500;

	assert_string_equal(render(fx), want);
}

/* The path names /metrics uses are http.c's route table, with "other" for the rest. */
static void
test_http_path_names(void **state)
{
	const char *const *paths;
	unsigned int n;

	(void)state;
	paths = http_path_names(&n);
	assert_int_equal(n, 8);
	assert_true(n <= METRICS_MAX_PATHS);
	assert_string_equal(paths[PATH_LIVEZ], "/livez");
	assert_string_equal(paths[1], "/healthz");
	assert_string_equal(paths[PATH_READYZ], "/readyz");
	assert_string_equal(paths[PATH_PRESTP], "/prestop");
	assert_string_equal(paths[PATH_DRAIN], "/drain");
	assert_string_equal(paths[5], "/status");
	assert_string_equal(paths[PATH_METRIC], "/metrics");
	assert_string_equal(paths[PATH_OTHER], "other");
}

/* Every code graceinit answers with is counted in its own cell; nothing else is. */
static void
test_count_http(void **state)
{
	struct fx *fx = *state;
	static const unsigned int codes[METRICS_NCODES] = METRICS_HTTP_CODES;
	static const struct metrics zero;
	unsigned int c, p;

	for (c = 0; c < METRICS_NCODES; c++)
		metrics_count_http(&fx->m, 5, codes[c]);
	for (c = 0; c < METRICS_NCODES; c++)
		assert_int_equal(fx->m.http[5][c], 1);
	memset(fx->m.http[5], 0, sizeof(fx->m.http[5]));

	/* Unknown codes: nothing moves anywhere. */
	metrics_count_http(&fx->m, 0, 0);
	metrics_count_http(&fx->m, 0, 100);
	metrics_count_http(&fx->m, 0, 201);
	metrics_count_http(&fx->m, 0, 302);
	metrics_count_http(&fx->m, 0, 502);
	metrics_count_http(&fx->m, 0, 504);
	metrics_count_http(&fx->m, 0, 999);
	metrics_count_http(&fx->m, 0, 200000);
	/* Out-of-range paths: no write past the table. */
	metrics_count_http(&fx->m, METRICS_MAX_PATHS, 200);
	metrics_count_http(&fx->m, METRICS_MAX_PATHS + 1, 503);
	metrics_count_http(&fx->m, 0xffffffffu, 200);
	assert_memory_equal(&fx->m, &zero, sizeof(zero));

	/* The last valid path index is counted. */
	metrics_count_http(&fx->m, METRICS_MAX_PATHS - 1, 503);
	for (p = 0; p < METRICS_MAX_PATHS; p++)
		for (c = 0; c < METRICS_NCODES; c++)
			assert_int_equal(fx->m.http[p][c],
				p == METRICS_MAX_PATHS - 1 && codes[c] == 503 ? 1 : 0);
}

/* Counts kept for indexes beyond the names given are not rendered (no name to show). */
static void
test_http_beyond_npaths(void **state)
{
	struct fx *fx = *state;
	static const char *const two[] = { "/a", "/b" };
	const char *text;

	fx->in.paths = two;
	fx->in.npaths = 2;
	metrics_count_http(&fx->m, 1, 200);
	metrics_count_http(&fx->m, 2, 200);
	metrics_count_http(&fx->m, METRICS_MAX_PATHS - 1, 404);
	text = render(fx);
	assert_line(text, "graceinit_http_requests_total{path=\"/b\",code=\"200\"} 1");
	assert_null(strstr(text, "{path=\"/a\""));
	assert_int_equal(strstr(strstr(text, "graceinit_http_requests_total{"), "\n")[1], '\0');
}

/* Exactly one state line at 1, whatever the state. */
static void
test_drain_state_one_hot(void **state)
{
	struct fx *fx = *state;
	static const enum drain_event path[] = { DRAIN_EV_PRESTOP, DRAIN_EV_TIMER, DRAIN_EV_TIMER,
		DRAIN_EV_CHILD_EXITED };
	static const int64_t when[] = { T0, STOP_AT, KILL_AT, EXIT_AT };
	static const char *const names[] = { "running", "deregistering", "stopping", "killed",
		"exited" };
	char line[96];
	size_t i, s;

	for (i = 0; i <= 4; i++) {
		const char *text;

		if (i > 0)
			assert_true(drain_event(&fx->d, path[i - 1], when[i - 1]));
		assert_int_equal(fx->d.state, (enum drain_state)i);
		text = render(fx);
		for (s = 0; s < DRAIN_NSTATES; s++) {
			snprintf(line, sizeof(line), "graceinit_drain_state{state=\"%s\"} %d",
				names[s], s == i);
			assert_line(text, line);
		}
	}
}

/* A phase appears once it has ended: nothing while deregistering, then one by one. */
static void
test_phases_as_they_end(void **state)
{
	struct fx *fx = *state;
	const char *text;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	text = render(fx);
	assert_null(strstr(text, "graceinit_drain_phase_seconds{"));

	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, STOP_AT));
	text = render(fx);
	assert_line(text, "graceinit_drain_phase_seconds{phase=\"deregister\"} 5.000");
	assert_null(strstr(text, "{phase=\"stop\"}"));
	assert_null(strstr(text, "{phase=\"total\"}"));

	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, KILL_AT));
	text = render(fx);
	assert_line(text, "graceinit_drain_phase_seconds{phase=\"stop\"} 23.000");
	assert_null(strstr(text, "{phase=\"kill\"}"));
	assert_null(strstr(text, "{phase=\"total\"}"));

	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, EXIT_AT));
	text = render(fx);
	assert_line(text, "graceinit_drain_phase_seconds{phase=\"kill\"} 0.250");
	assert_line(text, "graceinit_drain_phase_seconds{phase=\"total\"} 28.250");
}

/* The child exits after the stop signal: the stop phase ends at its exit, no kill phase. */
static void
test_phases_no_kill(void **state)
{
	struct fx *fx = *state;
	const char *text;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, STOP_AT));
	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, EARLY_EXIT));
	text = render(fx);
	assert_non_null(strstr(text,
		"# TYPE graceinit_drain_phase_seconds gauge\n"
		"graceinit_drain_phase_seconds{phase=\"deregister\"} 5.000\n"
		"graceinit_drain_phase_seconds{phase=\"stop\"} 2.500\n"
		"graceinit_drain_phase_seconds{phase=\"total\"} 7.500\n"
		"# HELP graceinit_signals_received_total "));
}

/* The child exits while deregistering: deregistration ends then; there was no stop signal. */
static void
test_phases_exit_while_deregistering(void **state)
{
	struct fx *fx = *state;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, T0 + 1234));
	assert_non_null(strstr(render(fx),
		"# TYPE graceinit_drain_phase_seconds gauge\n"
		"graceinit_drain_phase_seconds{phase=\"deregister\"} 1.234\n"
		"graceinit_drain_phase_seconds{phase=\"total\"} 1.234\n"
		"# HELP graceinit_signals_received_total "));
}

/* The child exits with no drain at all: state exited, and no phase (nothing was drained). */
static void
test_phases_exit_without_drain(void **state)
{
	struct fx *fx = *state;
	const char *text;

	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, T0));
	text = render(fx);
	assert_line(text, "graceinit_drain_state{state=\"exited\"} 1");
	assert_no_line(text, "graceinit_drain_state{state=\"running\"} 1");
	assert_null(strstr(text, "graceinit_drain_phase_seconds{"));
}

/* Signals without a name (32 and 33, reserved by the C library) and SIGRTMAX. */
static void
test_signal_names(void **state)
{
	struct fx *fx = *state;
	const char *text;

	fx->m.signals_received[32] = 1;
	fx->m.signals_received[SIGRTMAX] = 7;
	fx->m.signals_forwarded[SIGHUP] = 18446744073709551615ULL;
	text = render(fx);
	assert_line(text, "graceinit_signals_received_total{signal=\"signal 32\"} 1");
	assert_line(text, "graceinit_signals_received_total{signal=\"SIGRTMAX\"} 7");
	assert_line(
		text, "graceinit_signals_forwarded_total{signal=\"SIGHUP\"} 18446744073709551615");
}

/*
 * metrics.c promises escaped label values (text format 0.0.4: backslash, double quote and
 * line feed as \\, \" and \n). The path names come from the caller; a name with one of these
 * characters must not break the exposition.
 */
static void
test_label_escaping(void **state)
{
	struct fx *fx = *state;
	static const char *const odd[] = { "/a\"b", "/c\\d", "/e\nf" };
	const char *text;

	fx->in.paths = odd;
	fx->in.npaths = 3;
	metrics_count_http(&fx->m, 0, 200);
	metrics_count_http(&fx->m, 1, 200);
	metrics_count_http(&fx->m, 2, 200);
	text = render(fx);
	assert_line(text, "graceinit_http_requests_total{path=\"/a\\\"b\",code=\"200\"} 1");
	assert_line(text, "graceinit_http_requests_total{path=\"/c\\\\d\",code=\"200\"} 1");
	assert_line(text, "graceinit_http_requests_total{path=\"/e\\nf\",code=\"200\"} 1");
}

/* Out of room: the renderer stops cleanly with a prefix of the text and the flag set. */
static void
test_render_overflow(void **state)
{
	struct fx *fx = *state;
	struct buf small;
	char *full;

	full = strdup(render(fx));
	assert_non_null(full);
	buf_init(&small, 200);
	metrics_render(&small, &fx->in);
	assert_true(small.overflow);
	assert_true(small.len < 200);
	assert_memory_equal(buf_str(&small), full, small.len);
	assert_int_equal(buf_str(&small)[small.len - 1], '\n');
	buf_free(&small);
	free(full);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_after_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_path_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_beyond_npaths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_state_one_hot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phases_as_they_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phases_no_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_phases_exit_while_deregistering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phases_exit_without_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_overflow, setup, teardown),
	};

	/* The drain logs its phases; the tests check the text, not the log lines. */
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
