/*
 * test_status.c: the JSON of /status and of /prestop and /drain. Each document is parsed back
 * with cJSON and checked field by field (name, type and value), with the drain brought to each
 * phase through the real state machine (fake ops, fake clock), the child and the readiness
 * checks set up by hand, and the configuration from conf_parse with an argv and envp of the
 * test's own. The /prestop body is also compared byte for byte: scripts read it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "conf.h"
#include "drain.h"
#include "log.h"
#include "ready.h"
#include "status.h"

#define GRACE_MS  30000
#define MARGIN_MS 2000
#define DELAY_MS  5000
#define START     1000
#define T0        10000 /* the drain's trigger */
#define STOP_AT   15000 /* T0 + DELAY_MS */
#define KILL_AT   38000 /* T0 + GRACE_MS - MARGIN_MS */
#define EXIT_AT   38250
#define TOKEN     "s3cret-t0ken"

#define ARGV(...) ((char *[]){ "graceinit", __VA_ARGS__, NULL })
#define NOENV     ((char *[]){ NULL })

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

/* One test's state, freed by the teardown even when an assertion fails. */
struct fx {
	struct conf conf;
	struct drain d;
	struct child child;
	struct ready ready;
	struct status_input in;
	char *argv[16]; /* conf.argv points into it: it lives as long as the conf */
	char err[512];
	char *text;
	cJSON *json;
	cJSON *conf_json;
};

static void
parse_conf(struct fx *fx, char *const argv[])
{
	int argc = 0;

	conf_free(&fx->conf);
	for (argc = 0; argv[argc] != NULL; argc++) {
		assert_true(argc + 1 < (int)(sizeof(fx->argv) / sizeof(fx->argv[0])));
		fx->argv[argc] = argv[argc];
	}
	fx->argv[argc] = NULL;
	if (conf_parse(&fx->conf, argc, fx->argv, NOENV, fx->err, sizeof(fx->err)) != CONF_RUN)
		fail_msg("conf_parse: %s", fx->err);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const struct drain_budget b = {
		.grace_ms = GRACE_MS,
		.kill_margin_ms = MARGIN_MS,
		.delay_ms = DELAY_MS,
		.min_drain_ms = 0,
	};

	if (fx == NULL)
		return -1;
	*state = fx;
	parse_conf(fx, ARGV("--control-token", TOKEN, "--drain-delay", "5s", "--", "app", "-v"));
	drain_init(&fx->d, &b, &ops, NULL);
	fx->child.pid = 4242;
	fx->child.setsid = true;
	fx->child.kill_on_exit = true;
	fx->child.exit_grace_ms = 2000;
	fx->child.phase = CHILD_RUNNING;
	fx->child.kill_deadline_ms = -1;
	ready_init(&fx->ready);
	ready_set(&fx->ready, ready_add(&fx->ready, "started", "not started"), true, START,
		"pid 4242 started");
	fx->in.conf = &fx->conf;
	fx->in.drain = &fx->d;
	fx->in.child = &fx->child;
	fx->in.ready = &fx->ready;
	fx->in.live = true;
	fx->in.live_why = NULL;
	fx->in.start_ms = START;
	fx->in.now_ms = START + 60000;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	conf_free(&fx->conf);
	free(fx->text);
	cJSON_Delete(fx->json);
	cJSON_Delete(fx->conf_json);
	free(fx);
	return 0;
}

/* The text is one line of JSON and its newline; returns it parsed (freed by the teardown). */
static cJSON *
parse_text(struct fx *fx, char *text)
{
	size_t len;

	free(fx->text);
	cJSON_Delete(fx->json);
	fx->json = NULL;
	fx->text = text;
	assert_non_null(text);
	len = strlen(text);
	assert_true(len > 1);
	assert_int_equal(text[len - 1], '\n');
	assert_ptr_equal(strchr(text, '\n'), text + len - 1);
	fx->json = cJSON_ParseWithLength(text, len);
	assert_non_null(fx->json);
	assert_true(cJSON_IsObject(fx->json));
	return fx->json;
}

static cJSON *
render(struct fx *fx)
{
	return parse_text(fx, status_render(&fx->in));
}

/* Field checks: macros so that a failure names the test's line. */
#define get(o, k)            get_at(o, k, __FILE__, __LINE__)
#define want_string(o, k, v) want_string_at(o, k, v, __FILE__, __LINE__)
#define want_number(o, k, v) want_number_at(o, k, v, __FILE__, __LINE__)
#define want_bool(o, k, v)   want_bool_at(o, k, v, __FILE__, __LINE__)
#define want_null(o, k)      want_null_at(o, k, __FILE__, __LINE__)
#define want_absent(o, k)    want_absent_at(o, k, __FILE__, __LINE__)

#define want_keys(o, ...) want_keys_at(o, (const char *[]){ __VA_ARGS__, NULL }, __FILE__, __LINE__)

static cJSON *
get_at(const cJSON *o, const char *key, const char *file, int line)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL) {
		print_error("no \"%s\" in the object\n", key);
		_fail(file, line);
	}
	return v;
}

static void
want_string_at(const cJSON *o, const char *key, const char *want, const char *file, int line)
{
	cJSON *v = get_at(o, key, file, line);

	if (!cJSON_IsString(v)) {
		print_error("\"%s\" is not a string\n", key);
		_fail(file, line);
	}
	_assert_string_equal(v->valuestring, want, file, line);
}

static void
want_number_at(const cJSON *o, const char *key, double want, const char *file, int line)
{
	cJSON *v = get_at(o, key, file, line);

	if (!cJSON_IsNumber(v) || v->valuedouble != want) {
		print_error("\"%s\" is %s%g, expected %g\n", key,
			cJSON_IsNumber(v) ? "" : "not a number: ", v->valuedouble, want);
		_fail(file, line);
	}
}

static void
want_bool_at(const cJSON *o, const char *key, bool want, const char *file, int line)
{
	cJSON *v = get_at(o, key, file, line);

	if (!cJSON_IsBool(v) || cJSON_IsTrue(v) != want) {
		print_error("\"%s\" is not %s\n", key, want ? "true" : "false");
		_fail(file, line);
	}
}

static void
want_null_at(const cJSON *o, const char *key, const char *file, int line)
{
	if (!cJSON_IsNull(get_at(o, key, file, line))) {
		print_error("\"%s\" is not null\n", key);
		_fail(file, line);
	}
}

static void
want_absent_at(const cJSON *o, const char *key, const char *file, int line)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL) {
		print_error("\"%s\" is present\n", key);
		_fail(file, line);
	}
}

/* The object's keys, exactly and in order. */
static void
want_keys_at(const cJSON *o, const char *const keys[], const char *file, int line)
{
	const cJSON *item;
	size_t i = 0;

	cJSON_ArrayForEach(item, o)
	{
		if (keys[i] == NULL || strcmp(item->string, keys[i]) != 0) {
			print_error("key %zu is \"%s\", expected \"%s\"\n", i, item->string,
				keys[i] ? keys[i] : "(end)");
			_fail(file, line);
		}
		i++;
	}
	if (keys[i] != NULL) {
		print_error("key %zu \"%s\" is missing\n", i, keys[i]);
		_fail(file, line);
	}
}

/* timings_ms; a negative time is expected as null (that phase has not happened). */
#define want_timings(d, deregistered, stop, kill, exit_ms)                                         \
	want_timings_at(                                                                           \
		d, (const double[]){ deregistered, stop, kill, exit_ms }, __FILE__, __LINE__)

static void
want_timings_at(const cJSON *d, const double want[4], const char *file, int line)
{
	const cJSON *t = get_at(d, "timings_ms", file, line);
	const char *const names[] = { "deregistered", "stop_signal", "kill", "exit" };
	size_t i;

	want_keys_at(t,
		(const char *[]){
			"not_ready", "deregistered", "stop_signal", "kill", "exit", NULL },
		file, line);
	want_number_at(t, "not_ready", 0, file, line);
	for (i = 0; i < 4; i++) {
		if (want[i] < 0)
			want_null_at(t, names[i], file, line);
		else
			want_number_at(t, names[i], want[i], file, line);
	}
}

static void
test_running(void **state)
{
	struct fx *fx = *state;
	const cJSON *o = render(fx), *child, *checks, *chk, *d;

	want_keys(o, "state", "ready", "live", "uptime_ms", "version", "child", "readiness",
		"drain", "config");
	want_string(o, "state", "running");
	want_bool(o, "ready", true);
	want_bool(o, "live", true);
	want_absent(o, "not_live_because");
	want_number(o, "uptime_ms", 60000);
	want_string(o, "version", GRACEINIT_VERSION);

	child = get(o, "child");
	want_keys(child, "pid", "running", "exit_status", "reaped");
	want_number(child, "pid", 4242);
	want_bool(child, "running", true);
	want_null(child, "exit_status");
	want_number(child, "reaped", 0);

	checks = get(o, "readiness");
	assert_true(cJSON_IsArray(checks));
	assert_int_equal(cJSON_GetArraySize(checks), 1);
	chk = cJSON_GetArrayItem(checks, 0);
	want_keys(chk, "name", "ok", "detail");
	want_string(chk, "name", "started");
	want_bool(chk, "ok", true);
	want_string(chk, "detail", "pid 4242 started");

	d = get(o, "drain");
	want_keys(d, "state", "trigger", "budget_ms");
	want_string(d, "state", "running");
	want_null(d, "trigger");
	want_number(d, "budget_ms", GRACE_MS);

	assert_true(cJSON_IsObject(get(o, "config")));
}

/* The configuration is conf_json's object, with the token redacted: never the token itself. */
static void
test_config(void **state)
{
	struct fx *fx = *state;
	const cJSON *o = render(fx), *config, *cmd;

	config = get(o, "config");
	want_string(config, "control-token", "(set)");
	assert_null(strstr(fx->text, TOKEN));
	want_string(config, "drain-delay", "5s");
	want_string(config, "grace-period", "30s");
	cmd = get(config, "command");
	assert_int_equal(cJSON_GetArraySize(cmd), 2);
	assert_string_equal(cJSON_GetArrayItem(cmd, 0)->valuestring, "app");
	assert_string_equal(cJSON_GetArrayItem(cmd, 1)->valuestring, "-v");
	fx->conf_json = conf_json(&fx->conf);
	assert_true(cJSON_Compare(config, fx->conf_json, true));
}

static void
test_config_no_token(void **state)
{
	struct fx *fx = *state;
	const cJSON *o;

	parse_conf(fx, ARGV("--", "app"));
	o = render(fx);
	want_null(get(o, "config"), "control-token");
}

/* Every check in order, with its detail; one failing check makes the pod not ready. */
static void
test_readiness_checks(void **state)
{
	struct fx *fx = *state;
	const cJSON *o, *checks, *chk;
	int n;

	n = ready_add(&fx->ready, "notify", "waiting for READY=1");
	assert_int_equal(n, 1);
	ready_add(&fx->ready, "tcp 127.0.0.1:8080", "not checked yet");
	o = render(fx);
	want_bool(o, "ready", false);
	want_string(o, "state", "running");
	checks = get(o, "readiness");
	assert_int_equal(cJSON_GetArraySize(checks), 3);
	chk = cJSON_GetArrayItem(checks, 1);
	want_string(chk, "name", "notify");
	want_bool(chk, "ok", false);
	want_string(chk, "detail", "waiting for READY=1");
	chk = cJSON_GetArrayItem(checks, 2);
	want_string(chk, "name", "tcp 127.0.0.1:8080");
	want_bool(chk, "ok", false);
	want_string(chk, "detail", "not checked yet");

	ready_set(&fx->ready, 1, true, START + 500, "READY=1: %s", "serving \"v2\"");
	ready_set(&fx->ready, 2, true, START + 500, "connected");
	o = render(fx);
	want_bool(o, "ready", true);
	want_string(
		cJSON_GetArrayItem(get(o, "readiness"), 1), "detail", "READY=1: serving \"v2\"");
}

/* No check at all (a sidecar before its first probe): ready unless draining, empty array. */
static void
test_no_checks(void **state)
{
	struct fx *fx = *state;
	const cJSON *o;

	ready_init(&fx->ready);
	o = render(fx);
	want_bool(o, "ready", true);
	assert_true(cJSON_IsArray(get(o, "readiness")));
	assert_int_equal(cJSON_GetArraySize(get(o, "readiness")), 0);
}

/* Deregistering: not ready although every check passes, still live, budget counting down. */
static void
test_deregistering(void **state)
{
	struct fx *fx = *state;
	const cJSON *o, *d;

	assert_true(drain_event(&fx->d, DRAIN_EV_PRESTOP, T0));
	fx->in.now_ms = T0 + 2500;
	o = render(fx);
	want_string(o, "state", "deregistering");
	want_bool(o, "ready", false);
	want_bool(o, "live", true);
	want_bool(get(o, "child"), "running", true);
	want_bool(cJSON_GetArrayItem(get(o, "readiness"), 0), "ok", true);
	d = get(o, "drain");
	want_keys(d, "state", "trigger", "elapsed_ms", "budget_left_ms", "kill_deadline_ms",
		"cut_short", "timings_ms");
	want_string(d, "state", "deregistering");
	want_string(d, "trigger", "/prestop");
	want_number(d, "elapsed_ms", 2500);
	want_number(d, "budget_left_ms", 27500);
	want_number(d, "kill_deadline_ms", 28000);
	want_bool(d, "cut_short", false);
	want_timings(d, -1, -1, -1, -1);
}

/* The whole drain to SIGKILL: the child killed by signal 9 shows exit status 137. */
static void
test_killed_and_exited(void **state)
{
	struct fx *fx = *state;
	const cJSON *o, *child, *d;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, STOP_AT));
	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, KILL_AT));
	fx->in.now_ms = KILL_AT + 100;
	o = render(fx);
	want_string(o, "state", "killed");
	want_string(get(o, "drain"), "state", "killed");
	want_timings(get(o, "drain"), 5000, 5000, 28000, -1);

	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, EXIT_AT));
	fx->child.phase = CHILD_DONE;
	fx->child.wstatus = W_EXITCODE(0, SIGKILL);
	fx->child.reaped = 5;
	fx->child.exited_ms = EXIT_AT;
	fx->in.live = false;
	fx->in.live_why = "the child exited";
	fx->in.now_ms = EXIT_AT + 50;
	o = render(fx);
	want_string(o, "state", "exited");
	want_bool(o, "ready", false);
	want_bool(o, "live", false);
	want_string(o, "not_live_because", "the child exited");
	want_keys(o, "state", "ready", "live", "not_live_because", "uptime_ms", "version", "child",
		"readiness", "drain", "config");
	child = get(o, "child");
	want_number(child, "pid", 4242);
	want_bool(child, "running", false);
	want_number(child, "exit_status", 137);
	want_number(child, "reaped", 5);
	d = get(o, "drain");
	want_string(d, "state", "exited");
	want_string(d, "trigger", "SIGTERM");
	want_number(d, "elapsed_ms", 28300);
	want_number(d, "budget_left_ms", 1700);
	want_number(d, "kill_deadline_ms", 28000);
	want_bool(d, "cut_short", false);
	want_timings(d, 5000, 5000, 28000, 28250);
}

/* A second signal (SIGINT here) cuts deregistration short: cut_short, stop signal at once. */
static void
test_cut_short(void **state)
{
	struct fx *fx = *state;
	const cJSON *d;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_SIGINT, T0 + 1200));
	fx->in.now_ms = T0 + 1300;
	d = get(render(fx), "drain");
	want_string(d, "state", "stopping");
	want_string(d, "trigger", "SIGTERM");
	want_bool(d, "cut_short", true);
	want_timings(d, 1200, 1200, -1, -1);
}

/* The child exited by itself while graceinit was not draining: its status, no drain trigger. */
static void
test_child_exit_status(void **state)
{
	struct fx *fx = *state;
	const cJSON *o, *child;

	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, START + 5000));
	fx->child.phase = CHILD_LEFTOVERS;
	fx->child.wstatus = W_EXITCODE(3, 0);
	fx->child.reaped = 1;
	fx->in.live = false;
	fx->in.live_why = "the child exited";
	o = render(fx);
	want_string(o, "state", "exited");
	want_bool(o, "ready", false);
	child = get(o, "child");
	want_bool(child, "running", false);
	want_number(child, "exit_status", 3);
	want_number(child, "reaped", 1);
	want_null(get(o, "drain"), "trigger");
	want_absent(get(o, "drain"), "elapsed_ms");
}

/* No child (a sidecar): pid null, not running, no exit status. */
static void
test_no_child(void **state)
{
	struct fx *fx = *state;
	const cJSON *child;

	fx->child.pid = 0;
	child = get(render(fx), "child");
	want_null(child, "pid");
	want_bool(child, "running", false);
	want_null(child, "exit_status");
}

/* not_live_because only when not live, and only when there is a reason to give. */
static void
test_not_live_because(void **state)
{
	struct fx *fx = *state;
	const cJSON *o;

	fx->in.live_why = "stale reason";
	want_absent(render(fx), "not_live_because");

	fx->in.live = false;
	fx->in.live_why = NULL;
	o = render(fx);
	want_bool(o, "live", false);
	want_absent(o, "not_live_because");

	fx->in.live_why = "the watchdog fired: no WATCHDOG=1 in time";
	o = render(fx);
	want_string(o, "not_live_because", "the watchdog fired: no WATCHDOG=1 in time");
}

/* The /prestop and /drain body, byte for byte, before the drain and during it. */
static void
test_drain_json_golden(void **state)
{
	struct fx *fx = *state;

	parse_text(fx, status_drain_json(&fx->d, T0));
	assert_string_equal(
		fx->text, "{\"state\":\"running\",\"trigger\":null,\"budget_ms\":30000}\n");

	assert_true(drain_event(&fx->d, DRAIN_EV_DRAIN, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_TIMER, STOP_AT));
	parse_text(fx, status_drain_json(&fx->d, T0 + 6000));
	assert_string_equal(fx->text,
		"{\"state\":\"stopping\",\"trigger\":\"/drain\",\"elapsed_ms\":6000,"
		"\"budget_left_ms\":24000,\"kill_deadline_ms\":28000,\"cut_short\":false,"
		"\"timings_ms\":{\"not_ready\":0,\"deregistered\":5000,\"stop_signal\":5000,"
		"\"kill\":null,\"exit\":null}}\n");
}

/* The child exits while deregistering: deregistration ends with it, there is no stop signal. */
static void
test_drain_json_exit_while_deregistering(void **state)
{
	struct fx *fx = *state;
	const cJSON *d;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	assert_true(drain_event(&fx->d, DRAIN_EV_CHILD_EXITED, T0 + 800));
	d = parse_text(fx, status_drain_json(&fx->d, T0 + 900));
	want_string(d, "state", "exited");
	want_number(d, "elapsed_ms", 900);
	want_timings(d, 800, -1, -1, 800);
}

/* The /status drain object is the /prestop document. */
static void
test_drain_json_same_as_status(void **state)
{
	struct fx *fx = *state;
	cJSON *status_drain;

	assert_true(drain_event(&fx->d, DRAIN_EV_SIGTERM, T0));
	fx->in.now_ms = T0 + 3000;
	status_drain = cJSON_Duplicate(get(render(fx), "drain"), true);
	assert_non_null(status_drain);
	fx->conf_json = status_drain; /* freed by the teardown */
	parse_text(fx, status_drain_json(&fx->d, T0 + 3000));
	assert_true(cJSON_Compare(fx->json, status_drain, true));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_no_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readiness_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deregistering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_and_exited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_live_because, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_json_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_drain_json_exit_while_deregistering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_json_same_as_status, setup, teardown),
	};

	/* The drain and the readiness checks log their changes; the tests check the JSON. */
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
