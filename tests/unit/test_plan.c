/*
 * test_plan.c: `graceinit plan` and the two conf renderers it prints with. plan_print writes
 * into a memory stream: the whole text for the defaults, byte for byte, then the drain timeline
 * for the options that move it (--drain-delay, --min-drain, --rewrite TERM:0, Kubernetes), the
 * exit status 2 and its "error:" line when the waits do not fit, and a check that the plan's
 * times are the ones the drain state machine itself computes. conf_json is checked option by
 * option (as the JSON text of each value), conf_format_duration on the forms users read.
 * Every configuration comes from conf_parse with an argv and envp of the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "drain.h"
#include "log.h"
#include "plan.h"

#define ARGV(...) ((char *[]){ "graceinit", __VA_ARGS__, NULL })
#define ENVP(...) ((char *[]){ __VA_ARGS__, NULL })
#define NOENV     ((char *[]){ NULL })
#define MAX_ARGS  48
#define TOKEN     "hunter2-bearer"
#define K8S_ENV   "KUBERNETES_SERVICE_HOST=10.96.0.1"

/* One test's state, freed by the teardown even when an assertion fails. */
struct fx {
	struct conf c;
	char *argv[MAX_ARGS]; /* c.argv points into it: it lives as long as the conf */
	char err[512];
	char *out; /* plan_print's text */
	size_t outlen;
	cJSON *json;
	char *printed;
	char config_path[64];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	conf_free(&fx->c);
	free(fx->out);
	cJSON_Delete(fx->json);
	free(fx->printed);
	if (fx->config_path[0] != '\0')
		unlink(fx->config_path);
	free(fx);
	return 0;
}

static enum conf_result
parse(struct fx *fx, char *const argv[], char *const envp[])
{
	int argc;

	conf_free(&fx->c);
	for (argc = 0; argv[argc] != NULL; argc++) {
		assert_true(argc + 1 < MAX_ARGS);
		fx->argv[argc] = argv[argc];
	}
	fx->argv[argc] = NULL;
	return conf_parse(&fx->c, argc, fx->argv, envp, fx->err, sizeof(fx->err));
}

/* Prints the plan of fx->c into fx->out; returns plan_print's status. */
static int
print_plan(struct fx *fx)
{
	FILE *f;
	int rc;

	free(fx->out);
	fx->out = NULL;
	f = open_memstream(&fx->out, &fx->outlen);
	assert_non_null(f);
	rc = plan_print(&fx->c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(fx->out);
	assert_int_equal(strlen(fx->out), fx->outlen);
	return rc;
}

/* Parses "graceinit plan ARGS" and prints its plan; returns plan_print's status. */
#define PLAN(fx, envp, ...) plan_at(fx, ARGV("plan", __VA_ARGS__), envp, __FILE__, __LINE__)

static int
plan_at(struct fx *fx, char *const argv[], char *const envp[], const char *file, int line)
{
	enum conf_result r = parse(fx, argv, envp);

	if (r != CONF_PLAN) {
		print_error("conf_parse returned %d, not CONF_PLAN: %s\n", (int)r, fx->err);
		_fail(file, line);
	}
	return print_plan(fx);
}

/* The drain timeline paragraph of the plan, and the error after it if any. */
static const char *
timeline(struct fx *fx)
{
	static char block[2048];
	const char *start = strstr(fx->out, "Drain timeline"), *end;

	assert_non_null(start);
	end = strstr(start, "\nEffective configuration");
	assert_non_null(end);
	assert_true((size_t)(end - start) < sizeof(block));
	memcpy(block, start, (size_t)(end - start));
	block[end - start] = '\0';
	return block;
}

/* The timeline's lines that only --grace-period and --kill-margin move (defaults here). */
#define TIMELINE_HEAD                                                                              \
	"Drain timeline, from the first SIGTERM, /prestop or /drain "                              \
	"(budget: --grace-period 30s):\n"                                                          \
	"  +0s       not ready: /readyz answers 503, /livez stays 200\n"
#define TIMELINE_TAIL                                                                              \
	"  +28s      SIGKILL to the command's process group if it still runs "                     \
	"(--grace-period 30s - --kill-margin 2s)\n"                                                \
	"  +30s      the kubelet's own SIGKILL, if terminationGracePeriodSeconds matches\n"        \
	"  When the command exits: SIGTERM to what it left, SIGKILL after --exit-grace, "          \
	"then exit with its status (never past the SIGKILL above).\n"
/* The stop signal's line: at is the time padded to 8 columns, as the plan prints it. */
#define STOP_LINE(at, sig, why)                                                                    \
	"  +" at " stop signal: " sig " to the command's process group (" why ")\n"

/* ---------------------------------------------------------------------------------------- */

static void
test_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{ 0, "0s" },
		{ 250, "250ms" },
		{ 5000, "5s" },
		{ 120000, "2m" },
		{ 3600000, "1h" },
		{ 1500, "1500ms" },
		{ 90000, "90s" },
		{ 1, "1ms" },
		{ 1000, "1s" },
		{ 60000, "1m" },
		{ 61000, "61s" },
		{ 5400000, "90m" },
		{ 3601000, "3601s" },
		{ 7200000, "2h" },
		{ 2592000000LL, "720h" },
	};
	char buf[32];
	int64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(conf_format_duration(cases[i].ms, buf, sizeof(buf)), buf);
		assert_string_equal(buf, cases[i].s);
		/* What the plan prints, a user can paste back as the option's value. */
		assert_int_equal(conf_parse_duration(buf, &back), 0);
		assert_int_equal(back, cases[i].ms);
	}
	/* A short buffer is cut, never overrun. */
	assert_string_equal(conf_format_duration(1500, buf, 4), "150");
}

/* Every option of the defaults, in order, as the JSON text of its value. */
static void
test_conf_json_defaults(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *key;
		const char *json;
	} want[] = {
		{ "command", "[\"app\"]" },
		{ "rewrite", "[]" },
		{ "stop-signal", "\"SIGTERM\"" },
		{ "no-setsid", "false" },
		{ "subreaper", "false" },
		{ "kill-on-exit", "true" },
		{ "exit-grace", "\"2s\"" },
		{ "exit-remap", "[]" },
		{ "http", "null" },
		{ "control-socket", "\"@graceinit\"" },
		{ "control-token", "null" },
		{ "drain-delay", "\"0s\"" },
		{ "min-drain", "\"0s\"" },
		{ "endpoints", "\"auto\"" },
		{ "endpoints-timeout", "\"20s\"" },
		{ "endpoints-margin", "\"1s\"" },
		{ "pod-name", "null" },
		{ "pod-ip", "null" },
		{ "namespace", "null" },
		{ "service", "[]" },
		{ "serviceaccount-dir", "\"/var/run/secrets/kubernetes.io/serviceaccount\"" },
		{ "deregister", "[]" },
		{ "deregister-header", "[]" },
		{ "drain-connections", "[]" },
		{ "grace-period", "\"30s\"" },
		{ "kill-margin", "\"2s\"" },
		{ "sidecar", "false" },
		{ "ready-http", "null" },
		{ "ready-tcp", "null" },
		{ "ready-interval", "\"1s\"" },
		{ "ready-timeout", "\"1s\"" },
		{ "notify", "false" },
		{ "watchdog", "\"0s\"" },
		{ "log-level", "\"info\"" },
		{ "log-format", "\"text\"" },
		{ "config", "null" },
		{ "in-kubernetes", "false" },
	};
	const cJSON *item;
	size_t i = 0;

	assert_int_equal(parse(fx, ARGV("--", "app"), NOENV), CONF_RUN);
	fx->json = conf_json(&fx->c);
	assert_non_null(fx->json);
	assert_true(cJSON_IsObject(fx->json));
	cJSON_ArrayForEach(item, fx->json)
	{
		char *v;

		if (i >= sizeof(want) / sizeof(want[0]))
			fail_msg("unexpected key \"%s\" at %zu", item->string, i);
		assert_string_equal(item->string, want[i].key);
		v = cJSON_PrintUnformatted(item);
		assert_non_null(v);
		if (strcmp(v, want[i].json) != 0) {
			print_error("\"%s\" is %s, expected %s\n", item->string, v, want[i].json);
			free(v);
			fail();
		}
		free(v);
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
}

/* The value of key in conf_json's object, as JSON text (freed by the teardown). */
#define expect_json(fx, key, want) expect_json_at(fx, key, want, __FILE__, __LINE__)

static void
expect_json_at(struct fx *fx, const char *key, const char *want, const char *file, int line)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(fx->json, key);

	if (item == NULL) {
		print_error("no \"%s\" in conf_json\n", key);
		_fail(file, line);
	}
	free(fx->printed);
	fx->printed = cJSON_PrintUnformatted(item);
	_assert_string_equal(fx->printed, want, file, line);
}

static void
json_of(struct fx *fx, char *const argv[], char *const envp[])
{
	enum conf_result r = parse(fx, argv, envp);

	if (r != CONF_RUN)
		fail_msg("conf_parse returned %d: %s", (int)r, fx->err);
	cJSON_Delete(fx->json);
	fx->json = conf_json(&fx->c);
	assert_non_null(fx->json);
}

/* Every option that a flag can set in this version, rendered back. */
static void
test_conf_json_flags(void **state)
{
	struct fx *fx = *state;
	char *text;

	json_of(fx,
		ARGV("--rewrite", "TERM:QUIT", "--exit-remap", "143:0", "--no-setsid",
			"--subreaper", "--no-kill-on-exit", "--exit-grace", "90s", "--http",
			"127.0.0.1:8080", "--control-socket", "/run/graceinit.sock",
			"--control-token", TOKEN, "--drain-delay", "250ms", "--min-drain", "1500ms",
			"--grace-period", "2m", "--kill-margin", "5s", "--endpoints", "off",
			"--ready-http", "http://127.0.0.1:8080/healthz", "--ready-tcp",
			"127.0.0.1:8080", "--ready-interval", "2s", "--ready-timeout", "500ms",
			"--notify", "--watchdog", "1h", "--log-level", "debug", "--log-format",
			"json", "--", "my-server", "--flag", "a b"),
		NOENV);
	expect_json(fx, "command", "[\"my-server\",\"--flag\",\"a b\"]");
	expect_json(fx, "rewrite", "[\"TERM:QUIT\"]");
	expect_json(fx, "stop-signal", "\"SIGQUIT\""); /* TERM as --rewrite maps it */
	expect_json(fx, "no-setsid", "true");
	expect_json(fx, "subreaper", "true");
	expect_json(fx, "kill-on-exit", "false");
	expect_json(fx, "exit-grace", "\"90s\"");
	expect_json(fx, "exit-remap", "[\"143:0\"]");
	expect_json(fx, "http", "\"127.0.0.1:8080\"");
	expect_json(fx, "control-socket", "\"/run/graceinit.sock\"");
	expect_json(fx, "control-token", "\"(set)\"");
	expect_json(fx, "drain-delay", "\"250ms\"");
	expect_json(fx, "min-drain", "\"1500ms\"");
	expect_json(fx, "grace-period", "\"2m\"");
	expect_json(fx, "kill-margin", "\"5s\"");
	expect_json(fx, "endpoints", "\"off\"");
	expect_json(fx, "ready-http", "\"http://127.0.0.1:8080/healthz\"");
	expect_json(fx, "ready-tcp", "\"127.0.0.1:8080\"");
	expect_json(fx, "ready-interval", "\"2s\"");
	expect_json(fx, "ready-timeout", "\"500ms\"");
	expect_json(fx, "notify", "true");
	expect_json(fx, "watchdog", "\"1h\"");
	expect_json(fx, "log-level", "\"debug\"");
	expect_json(fx, "log-format", "\"json\"");
	/* Lists this version cannot set yet stay empty arrays, never null. */
	expect_json(fx, "service", "[]");
	expect_json(fx, "deregister", "[]");
	expect_json(fx, "drain-connections", "[]");
	text = cJSON_PrintUnformatted(fx->json);
	assert_non_null(text);
	if (strstr(text, TOKEN) != NULL) {
		free(text);
		fail_msg("the control token appears in conf_json");
	}
	free(text);
}

/* Several pairs render in signal (or status) order, as the FROM:TO that would produce them. */
static void
test_conf_json_pairs(void **state)
{
	struct fx *fx = *state;

	json_of(fx,
		ARGV("--rewrite", "15:3,SIGUSR1:USR2", "--rewrite", "HUP:0", "--rewrite",
			"RTMIN+1:RTMAX", "--exit-remap", "143:0,137:1", "--exit-remap", "5:5",
			"app"),
		NOENV);
	expect_json(fx, "rewrite", "[\"HUP:0\",\"USR1:USR2\",\"TERM:QUIT\",\"RTMIN+1:RTMAX\"]");
	expect_json(fx, "exit-remap", "[\"137:1\",\"143:0\"]");

	/* --rewrite TERM:0: the drain has no stop signal to send. */
	json_of(fx, ARGV("--rewrite", "TERM:0", "app"), NOENV);
	expect_json(fx, "rewrite", "[\"TERM:0\"]");
	expect_json(fx, "stop-signal", "null");

	/* An explicit --stop-signal wins over the rewrite. */
	json_of(fx, ARGV("--rewrite", "TERM:0", "--stop-signal", "WINCH", "app"), NOENV);
	expect_json(fx, "stop-signal", "\"SIGWINCH\"");
}

/*
 * A rewrite to a signal without a name (32 and 33 are numbers 1-64, accepted as TO) must still
 * render as a FROM:TO that parses back: "USR1:32".
 */
static void
test_conf_json_rewrite_unnamed(void **state)
{
	struct fx *fx = *state;

	json_of(fx, ARGV("--rewrite", "USR1:32", "app"), NOENV);
	assert_int_equal(fx->c.rewrite.to[SIGUSR1], 32);
	expect_json(fx, "rewrite", "[\"USR1:32\"]");
}

/* "off" disables and shows as null; the environment feeds the same rendering. */
static void
test_conf_json_off_and_env(void **state)
{
	struct fx *fx = *state;

	json_of(fx, ARGV("--http", "off", "--control-socket", "off", "app"), ENVP(K8S_ENV));
	expect_json(fx, "http", "null");
	expect_json(fx, "control-socket", "null");

	json_of(fx, ARGV("app"),
		ENVP("GRACEINIT_CONTROL_TOKEN=" TOKEN, "GRACEINIT_GRACE_PERIOD=45",
			"GRACEINIT_EXIT_REMAP=143:0", "GRACEINIT_KILL_ON_EXIT=false"));
	expect_json(fx, "control-token", "\"(set)\"");
	expect_json(fx, "grace-period", "\"45s\"");
	expect_json(fx, "exit-remap", "[\"143:0\"]");
	expect_json(fx, "kill-on-exit", "false");
}

/* In Kubernetes: the derived defaults and the downward API's names. */
static void
test_conf_json_kubernetes(void **state)
{
	struct fx *fx = *state;

	json_of(fx, ARGV("app"), ENVP(K8S_ENV, "POD_NAME=web-0", "POD_IP=10.1.2.3", "HOSTNAME=h"));
	expect_json(fx, "in-kubernetes", "true");
	expect_json(fx, "http", "\":9797\"");
	expect_json(fx, "drain-delay", "\"5s\"");
	expect_json(fx, "pod-name", "\"web-0\"");
	expect_json(fx, "pod-ip", "\"10.1.2.3\"");

	json_of(fx, ARGV("--drain-delay", "0", "app"), ENVP(K8S_ENV, "HOSTNAME=web-7d9f"));
	expect_json(fx, "drain-delay", "\"0s\"");
	expect_json(fx, "pod-name", "\"web-7d9f\"");
	expect_json(fx, "pod-ip", "null");
}

/* --config: the file's path is shown, and its values, under the flags. */
static void
test_conf_json_config_file(void **state)
{
	struct fx *fx = *state;
	static const char text[] =
		"{\"grace-period\": \"45s\", \"drain-delay\": 3, "
		"\"control-token\": \"" TOKEN "\", \"rewrite\": [\"TERM:QUIT\"]}";
	char arg[80];
	int fd;

	snprintf(fx->config_path, sizeof(fx->config_path), "/tmp/test_plan.XXXXXX");
	fd = mkstemp(fx->config_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	snprintf(arg, sizeof(arg), "--config=%s", fx->config_path);
	json_of(fx, ARGV(arg, "--grace-period", "60s", "app"), NOENV);
	expect_json(fx, "grace-period", "\"1m\"");
	expect_json(fx, "drain-delay", "\"3s\"");
	expect_json(fx, "control-token", "\"(set)\"");
	expect_json(fx, "rewrite", "[\"TERM:QUIT\"]");
	assert_string_equal(
		cJSON_GetObjectItemCaseSensitive(fx->json, "config")->valuestring, fx->config_path);
}

/* ---------------------------------------------------------------------------------------- */

/* The whole plan of the defaults, outside Kubernetes, byte for byte. */
static void
test_plan_defaults_golden(void **state)
{
	struct fx *fx = *state;
	static const char want[] =
		"graceinit " GRACEINIT_VERSION " plan\n"
		"\n"
		"Command:   none given\n"
		"Endpoints: http off, control socket @graceinit\n"
		"Readiness: the command has started\n"
		"\n" TIMELINE_HEAD STOP_LINE("0s      ", "SIGTERM", "--drain-delay 0s")
			TIMELINE_TAIL
		"\n"
		"Effective configuration (flag > GRACEINIT_* > --config file > default):\n"
		"  command              []\n"
		"  rewrite              []\n"
		"  stop-signal          \"SIGTERM\"\n"
		"  no-setsid            false\n"
		"  subreaper            false\n"
		"  kill-on-exit         true\n"
		"  exit-grace           \"2s\"\n"
		"  exit-remap           []\n"
		"  http                 null\n"
		"  control-socket       \"@graceinit\"\n"
		"  control-token        null\n"
		"  drain-delay          \"0s\"\n"
		"  min-drain            \"0s\"\n"
		"  endpoints            \"auto\"\n"
		"  endpoints-timeout    \"20s\"\n"
		"  endpoints-margin     \"1s\"\n"
		"  pod-name             null\n"
		"  pod-ip               null\n"
		"  namespace            null\n"
		"  service              []\n"
		"  serviceaccount-dir   \"/var/run/secrets/kubernetes.io/serviceaccount\"\n"
		"  deregister           []\n"
		"  deregister-header    []\n"
		"  drain-connections    []\n"
		"  grace-period         \"30s\"\n"
		"  kill-margin          \"2s\"\n"
		"  sidecar              false\n"
		"  ready-http           null\n"
		"  ready-tcp            null\n"
		"  ready-interval       \"1s\"\n"
		"  ready-timeout        \"1s\"\n"
		"  notify               false\n"
		"  watchdog             \"0s\"\n"
		"  log-level            \"info\"\n"
		"  log-format           \"text\"\n"
		"  config               null\n"
		"  in-kubernetes        false\n";

	/* "graceinit plan" alone: ARGV needs one argument, and "--" changes nothing. */
	assert_int_equal(PLAN(fx, NOENV, "--"), 0);
	assert_string_equal(fx->out, want);
}

static void
test_plan_drain_delay(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, NOENV, "--drain-delay", "5s", "--", "app"), 0);
	assert_string_equal(timeline(fx),
		TIMELINE_HEAD STOP_LINE("5s      ", "SIGTERM", "--drain-delay 5s") TIMELINE_TAIL);
}

/* --min-drain longer than --drain-delay sets the stop signal, and says so. */
static void
test_plan_min_drain(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, NOENV, "--min-drain", "8s", "--", "app"), 0);
	assert_string_equal(timeline(fx),
		TIMELINE_HEAD STOP_LINE("8s      ", "SIGTERM", "--min-drain 8s") TIMELINE_TAIL);

	assert_int_equal(PLAN(fx, NOENV, "--min-drain", "8s", "--drain-delay", "5s"), 0);
	assert_non_null(strstr(timeline(fx), STOP_LINE("8s      ", "SIGTERM", "--min-drain 8s")));
	assert_int_equal(PLAN(fx, NOENV, "--min-drain", "5s", "--drain-delay", "8s"), 0);
	assert_non_null(strstr(timeline(fx), STOP_LINE("8s      ", "SIGTERM", "--drain-delay 8s")));
	assert_int_equal(PLAN(fx, NOENV, "--min-drain", "1500ms", "--drain-delay", "1500ms"), 0);
	assert_non_null(
		strstr(timeline(fx), STOP_LINE("1500ms  ", "SIGTERM", "--drain-delay 1500ms")));
}

/* --rewrite TERM:0: the drain sends nothing at the stop signal, only SIGKILL at the end. */
static void
test_plan_rewrite_drop(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, NOENV, "--rewrite", "TERM:0", "--", "app"), 0);
	assert_string_equal(timeline(fx),
		TIMELINE_HEAD "  +0s       stop signal: none, --rewrite drops TERM (--drain-delay "
			      "0s)\n" TIMELINE_TAIL);
}

/* The signal as rewritten or set, and the child alone with --no-setsid. */
static void
test_plan_stop_signal(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, NOENV, "--rewrite", "TERM:QUIT", "--", "nginx"), 0);
	assert_non_null(
		strstr(timeline(fx), "stop signal: SIGQUIT to the command's process group"));
	assert_int_equal(
		PLAN(fx, NOENV, "--stop-signal", "WINCH", "--no-setsid", "--", "httpd"), 0);
	assert_non_null(strstr(timeline(fx), "stop signal: SIGWINCH to the command's process ("));
}

/*
 * With --no-setsid the drain's SIGKILL goes to the child alone (child_signal kills the pid, not
 * the group, as it does for the stop signal): the plan must not promise the group.
 */
static void
test_plan_no_setsid_kill(void **state)
{
	struct fx *fx = *state;
	const char *kill_line;

	assert_int_equal(PLAN(fx, NOENV, "--no-setsid", "--", "app"), 0);
	kill_line = strstr(timeline(fx), "  +28s      SIGKILL ");
	assert_non_null(kill_line);
	if (strncmp(kill_line, "  +28s      SIGKILL to the command's process if", 45) != 0)
		fail_msg("with --no-setsid, the plan says: %.*s", (int)strcspn(kill_line, "\n"),
			kill_line);
}

/* The waits do not fit: exit status 2, the error, and the stop signal cut to the latest. */
static void
test_plan_does_not_fit(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, NOENV, "--grace-period", "10s", "--drain-delay", "9s"), 2);
	assert_string_equal(timeline(fx),
		"Drain timeline, from the first SIGTERM, /prestop or /drain (budget: "
		"--grace-period "
		"10s):\n"
		"  +0s       not ready: /readyz answers 503, /livez stays 200\n"
		"  +4s       stop signal: SIGTERM to the command's process group (--drain-delay "
		"9s)\n"
		"  +8s       SIGKILL to the command's process group if it still runs "
		"(--grace-period 10s - "
		"--kill-margin 2s)\n"
		"  +10s      the kubelet's own SIGKILL, if terminationGracePeriodSeconds matches\n"
		"  When the command exits: SIGTERM to what it left, SIGKILL after --exit-grace, "
		"then "
		"exit with its status (never past the SIGKILL above).\n"
		"\n"
		"error: waiting 9s before the stop signal leaves the app 0s before SIGKILL; "
		"graceinit cuts the wait to 4s. Lower the wait or raise --grace-period.\n");
	/* The configuration is still printed after the error, for the whole picture. */
	assert_non_null(strstr(fx->out, "\n  drain-delay          \"9s\"\n"));
}

/* Just past the latest stop fails, just at it fits; --min-drain is held to the same rule. */
static void
test_plan_fit_boundary(void **state)
{
	struct fx *fx = *state;

	/* 30s - 2s = 28s to SIGKILL, 5s kept for the app: the stop signal at 23s at the latest. */
	assert_int_equal(PLAN(fx, NOENV, "--drain-delay", "23s"), 0);
	assert_null(strstr(fx->out, "error:"));
	assert_int_equal(PLAN(fx, NOENV, "--drain-delay", "23001ms"), 2);
	assert_non_null(strstr(fx->out,
		"\nerror: waiting 23001ms before the stop signal leaves the app 4999ms before "
		"SIGKILL; graceinit cuts the wait to 23s. Lower the wait or raise "
		"--grace-period.\n"));
	assert_int_equal(PLAN(fx, NOENV, "--min-drain", "25s"), 2);
	assert_non_null(strstr(fx->out,
		"\nerror: waiting 25s before the stop signal leaves the "
		"app 3s before SIGKILL; graceinit cuts the wait to 23s."));
	assert_non_null(strstr(timeline(fx), "  +23s      stop signal: "));
}

/* In Kubernetes: the HTTP endpoints on :9797 and the 5s drain delay by default. */
static void
test_plan_kubernetes(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PLAN(fx, ENVP(K8S_ENV), "--", "app", "--port", "8080"), 0);
	assert_non_null(strstr(fx->out,
		"\nCommand:   app --port 8080\n"
		"Endpoints: http :9797, control socket @graceinit\n"));
	/* In a cluster, --endpoints auto watches: deregistration is confirmed, not guessed. */
	assert_string_equal(timeline(fx),
		TIMELINE_HEAD
		"            deregistration, confirmed by:\n"
		"              the EndpointSlice watch: this pod no longer a ready endpoint, then\n"
		"                --endpoints-margin 1s (at most --endpoints-timeout 20s; "
		"--drain-delay 5s\n"
		"                while the API cannot be read)\n"
		"  +23s      stop signal: SIGTERM to the command's process group\n"
		"            (as soon as deregistration is confirmed; this is the "
		"latest)\n" TIMELINE_TAIL);
	assert_non_null(strstr(fx->out, "\n  in-kubernetes        true\n"));
	/* Without the watch, the fixed delay. */
	assert_int_equal(PLAN(fx, ENVP(K8S_ENV), "--endpoints", "off", "--", "app"), 0);
	assert_string_equal(timeline(fx),
		TIMELINE_HEAD STOP_LINE("5s      ", "SIGTERM", "--drain-delay 5s") TIMELINE_TAIL);
}

/* The head of the plan: the command, the endpoints and every readiness source. */
static void
test_plan_head(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(
		PLAN(fx, NOENV, "--http", ":8081", "--control-socket", "off", "--ready-tcp",
			"127.0.0.1:8080", "--ready-http", "http://127.0.0.1:8080/ready", "--notify",
			"--no-kill-on-exit", "--control-token", TOKEN, "--", "my-server", "-v"),
		0);
	assert_non_null(strstr(fx->out,
		"\n\nCommand:   my-server -v\n"
		"Endpoints: http :8081, control socket off\n"
		"Readiness: the command has started, 127.0.0.1:8080 accepts connections, "
		"http://127.0.0.1:8080/ready answers 2xx, READY=1 on $NOTIFY_SOCKET\n\n"));
	assert_non_null(strstr(fx->out,
		"  When the command exits: what it left is not signalled "
		"(--no-kill-on-exit), then exit with its status.\n"));
	assert_non_null(strstr(fx->out, "\n  control-token        \"(set)\"\n"));
	assert_null(strstr(fx->out, TOKEN));

	/* A sidecar runs no command (set by hand: --sidecar is not in this version yet). */
	assert_int_equal(PLAN(fx, NOENV, "--"), 0);
	fx->c.sidecar = true;
	assert_int_equal(print_plan(fx), 0);
	assert_non_null(strstr(fx->out, "\nCommand:   none (--sidecar)\n"));
}

static void
nop(void *arg)
{
	(void)arg;
}

static void
record_arm(void *arg, int64_t deadline_ms)
{
	if (deadline_ms >= 0 && *(int64_t *)arg < 0)
		*(int64_t *)arg = deadline_ms;
}

static const struct drain_ops ops = {
	.stop = nop,
	.kill = nop,
	.arm = record_arm,
	.deregistered = nop,
};

/* The plan's times are the drain's: the same budget through the real state machine. */
static void
test_plan_matches_drain(void **state)
{
	struct fx *fx = *state;
	static const char *const configs[][4] = {
		{ "--drain-delay", "0", "--min-drain", "0" },
		{ "--drain-delay", "5s", "--min-drain", "0" },
		{ "--drain-delay", "0", "--min-drain", "8s" },
		{ "--drain-delay", "9s", "--grace-period", "10s" },
		{ "--drain-delay", "1m", "--grace-period", "5s" },
		{ "--min-drain", "40s", "--grace-period", "1m" },
		{ "--drain-delay", "750ms", "--kill-margin", "10s" },
	};
	char line[160], t1[32], t2[32];
	size_t i;

	for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		struct drain_budget b;
		struct drain d;
		int64_t first_arm = -1;

		PLAN(fx, NOENV, (char *)configs[i][0], (char *)configs[i][1], (char *)configs[i][2],
			(char *)configs[i][3]);
		b = (struct drain_budget){
			.grace_ms = fx->c.grace_period_ms,
			.kill_margin_ms = fx->c.kill_margin_ms,
			.delay_ms = fx->c.drain_delay_ms,
			.min_drain_ms = fx->c.min_drain_ms,
		};
		drain_init(&d, &b, &ops, &first_arm);
		assert_true(drain_event(&d, DRAIN_EV_SIGTERM, 0));
		assert_true(d.t.stop_ms >= 0 || first_arm >= 0);
		snprintf(line, sizeof(line), "  +%-8s stop signal: ",
			conf_format_duration(
				d.t.stop_ms >= 0 ? d.t.stop_ms : first_arm, t1, sizeof(t1)));
		if (strstr(timeline(fx), line) == NULL)
			fail_msg("%s %s %s %s: the drain stops at \"%s\", the plan says:\n%s",
				configs[i][0], configs[i][1], configs[i][2], configs[i][3], line,
				timeline(fx));
		snprintf(line, sizeof(line), "  +%-8s SIGKILL to the command's process group",
			conf_format_duration(d.kill_deadline_ms, t2, sizeof(t2)));
		if (strstr(timeline(fx), line) == NULL)
			fail_msg("the drain kills at \"%s\", the plan says:\n%s", line,
				timeline(fx));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_pairs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_rewrite_unnamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_off_and_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_kubernetes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_json_config_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_defaults_golden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_drain_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_min_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_rewrite_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_stop_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_no_setsid_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_does_not_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_fit_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_kubernetes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_matches_drain, setup, teardown),
	};

	/* The drain logs its phases in test_plan_matches_drain; the test checks the times. */
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
