/*
 * test_conf.c: the configuration from flags, GRACEINIT_* environment and JSON file, with golden
 * error messages: they are part of the interface (they name the option, where it came from and
 * the bad value). Every parse gets its own argv and envp; the test process's environment is
 * never read. Config files are temporary files written by the test and removed by the teardown.
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

#define MAX_FILES   8
#define MAX_STRINGS 8

/* One test's state, freed by the teardown even when an assertion fails. */
struct fx {
	struct conf c;
	char err[1024];
	char files[MAX_FILES][256];
	int nfiles;
	char strings[MAX_STRINGS][6000];
	int nstrings;
	char *usage; /* conf_usage's text */
};

#define ARGV(...) ((char *[]){ "graceinit", __VA_ARGS__, NULL })
#define ENVP(...) ((char *[]){ __VA_ARGS__, NULL })
#define NOENV     ((char *[]){ NULL })

#define DNS_ENDS_WHY "a Service name starts with a letter and ends with a letter or digit"
#define DURATION_WHY "expected a duration such as 250ms, 5s, 2m or 30 (seconds), at most 720h"
#define SIGNAL_WHY   "expected a signal name like TERM or a number 1-64"
#define BOOL_WHY     "expected true or false"
#define UNKNOWN_HINT " (graceinit --help lists the options)"
#define NO_COMMAND                                                                                 \
	"no command given: graceinit [OPTIONS] [--] COMMAND [ARG...] (graceinit --help explains)"

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
	int i;

	conf_free(&fx->c);
	for (i = 0; i < fx->nfiles; i++)
		unlink(fx->files[i]);
	free(fx->usage);
	free(fx);
	return 0;
}

static enum conf_result
parse(struct fx *fx, char *const argv[], char *const envp[])
{
	int argc = 0;

	conf_free(&fx->c);
	while (argv[argc] != NULL)
		argc++;
	return conf_parse(&fx->c, argc, argv, envp, fx->err, sizeof(fx->err));
}

#define PARSE_OK(fx, argv, envp) parse_ok(fx, argv, envp, __FILE__, __LINE__)

static const struct conf *
parse_ok(struct fx *fx, char *const argv[], char *const envp[], const char *file, int line)
{
	enum conf_result r = parse(fx, argv, envp);

	if (r != CONF_RUN) {
		print_error("conf_parse returned %d, not CONF_RUN: %s\n", (int)r, fx->err);
		_fail(file, line);
	}
	_assert_string_equal(fx->err, "", file, line);
	return &fx->c;
}

#define PARSE_ERR(fx, argv, envp, msg) parse_err(fx, argv, envp, msg, __FILE__, __LINE__)

static void
parse_err(struct fx *fx, char *const argv[], char *const envp[], const char *msg, const char *file,
	int line)
{
	enum conf_result r = parse(fx, argv, envp);

	if (r != CONF_ERROR) {
		print_error("conf_parse returned %d, not CONF_ERROR (expected: %s)\n", (int)r, msg);
		_fail(file, line);
	}
	_assert_string_equal(fx->err, msg, file, line);
}

/* A string that lives as long as the test: expected messages, env entries with a path. */
static char *fmt(struct fx *fx, const char *format, ...) __attribute__((format(printf, 2, 3)));

static char *
fmt(struct fx *fx, const char *format, ...)
{
	char *s;
	va_list ap;

	assert_true(fx->nstrings < MAX_STRINGS);
	s = fx->strings[fx->nstrings++];
	va_start(ap, format);
	vsnprintf(s, sizeof(fx->strings[0]), format, ap);
	va_end(ap);
	return s;
}

/* Writes text to a new temporary JSON file and returns its path. */
static char *
config_file(struct fx *fx, const char *text)
{
	const char *tmp = getenv("TMPDIR");
	size_t len = strlen(text);
	char *path;
	int fd;

	assert_true(fx->nfiles < MAX_FILES);
	path = fx->files[fx->nfiles];
	snprintf(path, sizeof(fx->files[0]), "%s/graceinit-test-XXXXXX.json",
		tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	fx->nfiles++;
	assert_int_equal(write(fd, text, len), len);
	close(fd);
	return path;
}

/*
 * Durations
 */

static void
test_duration_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} cases[] = {
		{ "250ms", 250 },
		{ "5s", 5000 },
		{ "2m", 120000 },
		{ "1h", 3600000 },
		{ "1m30s", 90000 },
		{ "1h30m", 5400000 },
		{ "1h1m1s1ms", 3661001 },
		{ "1.5s", 1500 },
		{ "0.5m", 30000 },
		{ ".5s", 500 },
		{ "0.001s", 1 },
		{ "30", 30000 },
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "0.25", 250 },
		{ "007s", 7000 },
		{ "720h", 720LL * 3600 * 1000 },
		{ "43200m", 720LL * 3600 * 1000 },
		{ "2592000", 720LL * 3600 * 1000 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;

		if (conf_parse_duration(cases[i].s, &ms) != 0)
			fail_msg("conf_parse_duration(\"%s\") rejected a valid duration",
				cases[i].s);
		if (ms != cases[i].ms)
			fail_msg("conf_parse_duration(\"%s\") = %lld ms, expected %lld", cases[i].s,
				(long long)ms, (long long)cases[i].ms);
	}
}

static void
test_duration_invalid(void **state)
{
	static const char *const cases[] = {
		"", "5parsecs", "-1s", "-1", "+1s", "1e3", "1e3s", "0x10", "inf", "nan", "infs",
		"1m5", "1h30", "s", "ms", ".", ".s", "1..5s", "1.5.5s", "1,5s", "5 s", " 5s", "5s ",
		"5S", "5ss", "5sec", "5min", "5d", "5us", "1hh", "1msm", "s5", "721h", "720h1ms",
		"43201m", "2592001",
		"99999999999999999999999999999999999999999999999999999999999999999999999999999999s"
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;

		if (conf_parse_duration(cases[i], &ms) != -1)
			fail_msg("conf_parse_duration(\"%s\") accepted %lld ms", cases[i],
				(long long)ms);
		assert_int_equal(ms, -42);
	}
}

static void
test_duration_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1ms" },
		{ 250, "250ms" },
		{ 1500, "1500ms" },
		{ 5000, "5s" },
		{ 90000, "90s" },
		{ 120000, "2m" },
		{ 5400000, "90m" },
		{ 3600000, "1h" },
		{ 720LL * 3600 * 1000, "720h" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
			conf_format_duration(cases[i].ms, buf, sizeof(buf)), cases[i].s);
	assert_ptr_equal(conf_format_duration(5, buf, sizeof(buf)), buf);
}

/* What conf_format_duration writes, conf_parse_duration reads back exactly. */
static void
test_duration_round_trip(void **state)
{
	static const int64_t values[] = { 0, 1, 999, 1000, 1001, 59999, 60000, 61000, 3599999,
		3600000, 3660000, 86400000, 720LL * 3600 * 1000 };
	char buf[32];
	int64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		conf_format_duration(values[i], buf, sizeof(buf));
		if (conf_parse_duration(buf, &back) != 0 || back != values[i])
			fail_msg("%lld ms is written \"%s\", which does not read back",
				(long long)values[i], buf);
	}
}

/*
 * Defaults and the command vector
 */

static void
test_defaults(void **state)
{
	struct fx *fx = *state;
	char **argv = ARGV("my-server", "--port", "8080");
	const struct conf *c = PARSE_OK(fx, argv, NOENV);
	int i;

	assert_ptr_equal(c->argv, &argv[1]);
	assert_string_equal(c->argv[0], "my-server");
	assert_string_equal(c->argv[2], "8080");
	assert_null(c->argv[3]);
	assert_false(c->in_kubernetes);
	for (i = 0; i < SIGNALS_MAX; i++)
		assert_int_equal(c->rewrite.to[i], i);
	assert_int_equal(c->stop_signal, SIGTERM);
	assert_false(c->no_setsid);
	assert_false(c->subreaper);
	assert_true(c->kill_on_exit);
	assert_int_equal(c->exit_grace_ms, 2000);
	for (i = 0; i < 256; i++)
		assert_int_equal(c->exit_remap[i], i);
	assert_null(c->http);
	assert_string_equal(c->control_socket, "@graceinit");
	assert_null(c->control_token);
	assert_int_equal(c->drain_delay_ms, 0);
	assert_int_equal(c->min_drain_ms, 0);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_AUTO);
	assert_int_equal(c->endpoints_timeout_ms, 20000);
	assert_int_equal(c->endpoints_margin_ms, 1000);
	assert_null(c->pod_name);
	assert_null(c->pod_ip);
	assert_null(c->namespace);
	assert_int_equal(c->services.n, 0);
	assert_string_equal(c->serviceaccount_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
	assert_int_equal(c->deregister.n, 0);
	assert_int_equal(c->drain_connections.n, 0);
	assert_int_equal(c->grace_period_ms, 30000);
	assert_int_equal(c->kill_margin_ms, 2000);
	assert_false(c->sidecar);
	assert_null(c->ready_http);
	assert_null(c->ready_tcp);
	assert_int_equal(c->ready_interval_ms, 1000);
	assert_int_equal(c->ready_timeout_ms, 1000);
	assert_false(c->notify);
	assert_int_equal(c->watchdog_ms, 0);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
	assert_null(c->config_path);
}

/* Options stop at the first non-option: what follows belongs to the command. */
static void
test_command_first_non_option(void **state)
{
	struct fx *fx = *state;
	char **argv = ARGV("--stop-signal", "QUIT", "nginx", "--stop-signal", "HUP", "-g", "x");
	const struct conf *c = PARSE_OK(fx, argv, NOENV);

	assert_ptr_equal(c->argv, &argv[3]);
	assert_string_equal(c->argv[0], "nginx");
	assert_string_equal(c->argv[1], "--stop-signal");
	assert_int_equal(c->stop_signal, SIGQUIT);
}

static void
test_command_after_double_dash(void **state)
{
	struct fx *fx = *state;
	char **argv = ARGV("--", "--weird-cmd", "-x");
	const struct conf *c = PARSE_OK(fx, argv, NOENV);

	assert_ptr_equal(c->argv, &argv[2]);
	assert_string_equal(c->argv[0], "--weird-cmd");

	argv = ARGV("--exit-grace", "1s", "--", "--help", "--");
	c = PARSE_OK(fx, argv, NOENV);
	assert_ptr_equal(c->argv, &argv[4]);
	assert_string_equal(c->argv[0], "--help");
	assert_int_equal(c->exit_grace_ms, 1000);

	/* Only the first "--" ends the options. */
	argv = ARGV("--", "--", "x");
	c = PARSE_OK(fx, argv, NOENV);
	assert_string_equal(c->argv[0], "--");
}

/* "-" alone is not an option (it is a command name, as in getopt). */
static void
test_command_dash(void **state)
{
	struct fx *fx = *state;
	char **argv = ARGV("-", "x");
	const struct conf *c = PARSE_OK(fx, argv, NOENV);

	assert_string_equal(c->argv[0], "-");
}

static void
test_no_command(void **state)
{
	struct fx *fx = *state;
	static char *alone[] = { "graceinit", NULL };

	PARSE_ERR(fx, alone, NOENV, NO_COMMAND);
	PARSE_ERR(fx, ARGV("--"), NOENV, NO_COMMAND);
	PARSE_ERR(fx, ARGV("--no-setsid", "--exit-grace", "1s"), NOENV, NO_COMMAND);
	PARSE_ERR(fx, ARGV("--no-setsid", "--"), NOENV, NO_COMMAND);
}

static void
test_help_version(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(parse(fx, ARGV("-h"), NOENV), CONF_HELP);
	assert_int_equal(parse(fx, ARGV("--help"), NOENV), CONF_HELP);
	assert_int_equal(parse(fx, ARGV("--no-setsid", "--help"), NOENV), CONF_HELP);
	/* Help wins over whatever comes after it, and over bad values before it. */
	assert_int_equal(parse(fx, ARGV("--help", "--bogus", "-x"), NOENV), CONF_HELP);
	assert_int_equal(parse(fx, ARGV("--stop-signal", "NOPE", "--help"), NOENV), CONF_HELP);
	assert_int_equal(parse(fx, ARGV("-h", "cmd"), ENVP("GRACEINIT_BOGUS=1")), CONF_HELP);
	assert_int_equal(
		parse(fx, ARGV("--config", "/nonexistent/x.json", "--help"), NOENV), CONF_HELP);
	assert_string_equal(fx->err, "");

	assert_int_equal(parse(fx, ARGV("-V"), NOENV), CONF_VERSION);
	assert_int_equal(parse(fx, ARGV("--version"), NOENV), CONF_VERSION);
	assert_int_equal(
		parse(fx, ARGV("--version", "--bogus"), ENVP("GRACEINIT_X=1")), CONF_VERSION);

	/* After the command, --help is the command's. */
	assert_int_equal(parse(fx, ARGV("cmd", "--help"), NOENV), CONF_RUN);
	assert_int_equal(parse(fx, ARGV("--", "--version"), NOENV), CONF_RUN);
}

static void
test_usage(void **state)
{
	struct fx *fx = *state;
	char *text, *line, *next;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&fx->usage, &len);
	assert_non_null(f);
	conf_usage(f);
	fclose(f);
	text = fx->usage;
	assert_non_null(strstr(text, "Usage: graceinit [OPTIONS] [--] COMMAND [ARG...]\n"));
	assert_non_null(strstr(text, "\n  --rewrite FROM:TO "));
	assert_non_null(strstr(text, "\n  --stop-signal SIG "));
	assert_non_null(strstr(text, "TERM as --rewrite maps it"));
	assert_non_null(strstr(text, "--no-kill-on-exit turns it off"));
	assert_non_null(strstr(text, "\n  --exit-grace DURATION "));
	assert_non_null(strstr(text, "\n  --log-format text|json "));
	assert_non_null(strstr(text, "\n  --config FILE "));
	assert_non_null(strstr(text, "\n  --http ADDR "));
	assert_non_null(strstr(text, "\n  --grace-period DURATION "));
	assert_non_null(strstr(text, "\n  -h, --help "));
	assert_non_null(strstr(text, "\n  -V, --version "));
	assert_non_null(strstr(text, "\n  --sidecar "));
	assert_non_null(strstr(text, "\n  --endpoints auto|on|off "));
	assert_null(strstr(text, "Not in this version yet"));
	/* Lines stay within 100 columns, and a wrapped list does not start a line with its comma. */
	for (line = text; *line != '\0'; line = next + 1) {
		next = strchr(line, '\n');
		assert_non_null(next);
		if (next - line > 100)
			fail_msg("--help line of %d columns: %.*s", (int)(next - line),
				(int)(next - line), line);
		if (line[0] == ' ' && line[1] == ',')
			fail_msg("--help line starts with a comma: %.*s", (int)(next - line), line);
	}
}

/* "graceinit plan [OPTIONS] [-- COMMAND]": the same options, the command optional. */
static void
test_plan(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;
	char **argv;

	assert_int_equal(parse(fx, ARGV("plan"), NOENV), CONF_PLAN);
	assert_true(fx->c.plan);
	assert_null(fx->c.argv);
	assert_string_equal(fx->err, "");

	argv = ARGV("plan", "--stop-signal", "QUIT", "--grace-period=60s", "--", "nginx", "-g");
	assert_int_equal(parse(fx, argv, NOENV), CONF_PLAN);
	assert_int_equal(fx->c.stop_signal, SIGQUIT);
	assert_int_equal(fx->c.grace_period_ms, 60000);
	assert_ptr_equal(fx->c.argv, &argv[6]);
	assert_string_equal(fx->c.argv[0], "nginx");

	assert_int_equal(parse(fx, ARGV("plan"), ENVP("GRACEINIT_LOG_FORMAT=json")), CONF_PLAN);
	assert_int_equal(fx->c.log_format, LOG_FORMAT_JSON);
	assert_int_equal(parse(fx, ARGV("plan", "--help"), NOENV), CONF_HELP);
	PARSE_ERR(fx, ARGV("plan", "--bogus"), NOENV, "unknown option '--bogus'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("plan", "--stop-signal", "NOPE"), NOENV,
		"--stop-signal: invalid value 'NOPE': " SIGNAL_WHY);

	/* Only as the first word: elsewhere "plan" is a command like any other. */
	c = PARSE_OK(fx, ARGV("--", "plan"), NOENV);
	assert_false(c->plan);
	assert_string_equal(c->argv[0], "plan");
	c = PARSE_OK(fx, ARGV("--no-setsid", "plan"), NOENV);
	assert_false(c->plan);
	assert_string_equal(c->argv[0], "plan");
	/* prestop and status are main's business (ctl.c); -- keeps them commands there too. */
	assert_string_equal(PARSE_OK(fx, ARGV("--", "prestop"), NOENV)->argv[0], "prestop");
}

static void
test_flag_unknown(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--bogus", "cmd"), NOENV, "unknown option '--bogus'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("--bogus=1", "cmd"), NOENV, "unknown option '--bogus'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("-x", "cmd"), NOENV, "unknown option '-x'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("-hx", "cmd"), NOENV, "unknown option '-hx'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("--Stop-Signal", "QUIT", "cmd"), NOENV,
		"unknown option '--Stop-Signal'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("--stop_signal", "QUIT", "cmd"), NOENV,
		"unknown option '--stop_signal'" UNKNOWN_HINT);
	/* --no- only negates booleans, and takes no value. */
	PARSE_ERR(fx, ARGV("--no-stop-signal", "cmd"), NOENV,
		"unknown option '--no-stop-signal'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("--no-kill-on-exit=true", "cmd"), NOENV,
		"unknown option '--no-kill-on-exit'" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("--no-", "cmd"), NOENV, "unknown option '--no-'" UNKNOWN_HINT);
	/* --help takes no value. */
	PARSE_ERR(fx, ARGV("--help=1", "cmd"), NOENV, "unknown option '--help'" UNKNOWN_HINT);
}

static void
test_flag_missing_value(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--stop-signal"), NOENV, "--stop-signal needs a value (SIG)");
	PARSE_ERR(fx, ARGV("--exit-grace"), NOENV, "--exit-grace needs a value (DURATION)");
	PARSE_ERR(fx, ARGV("--rewrite"), NOENV, "--rewrite needs a value (FROM:TO)");
	PARSE_ERR(fx, ARGV("--exit-remap"), NOENV, "--exit-remap needs a value (FROM:TO)");
	PARSE_ERR(fx, ARGV("--config"), NOENV, "--config needs a value (FILE)");
	PARSE_ERR(fx, ARGV("--log-level"), NOENV,
		"--log-level needs a value (error|warn|info|debug)");
	PARSE_ERR(fx, ARGV("--deregister"), NOENV, "--deregister needs a value ('METHOD URL')");
	/* A value that looks like an option is still the value. */
	PARSE_ERR(fx, ARGV("--stop-signal", "--", "cmd"), NOENV,
		"--stop-signal: invalid value '--': " SIGNAL_WHY);
}

static void
test_flag_bool(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--no-setsid", "--subreaper", "cmd"), NOENV);
	assert_true(c->no_setsid);
	assert_true(c->subreaper);
	assert_true(c->kill_on_exit);

	c = PARSE_OK(fx, ARGV("--no-setsid=true", "--subreaper=false", "cmd"), NOENV);
	assert_true(c->no_setsid);
	assert_false(c->subreaper);

	c = PARSE_OK(fx, ARGV("--no-setsid=false", "cmd"), NOENV);
	assert_false(c->no_setsid);

	c = PARSE_OK(fx, ARGV("--kill-on-exit=false", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	c = PARSE_OK(fx, ARGV("--no-kill-on-exit", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	c = PARSE_OK(fx, ARGV("--no-kill-on-exit", "--kill-on-exit", "cmd"), NOENV);
	assert_true(c->kill_on_exit);
	c = PARSE_OK(fx, ARGV("--kill-on-exit", "--no-kill-on-exit", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	c = PARSE_OK(fx, ARGV("--no-subreaper", "cmd"), NOENV);
	assert_false(c->subreaper);

	/* The spellings of true and false, any case. */
	c = PARSE_OK(fx, ARGV("--kill-on-exit=0", "--subreaper=1", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	assert_true(c->subreaper);
	c = PARSE_OK(fx, ARGV("--kill-on-exit=no", "--subreaper=yes", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	assert_true(c->subreaper);
	c = PARSE_OK(fx, ARGV("--kill-on-exit=off", "--subreaper=on", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	assert_true(c->subreaper);
	c = PARSE_OK(fx, ARGV("--kill-on-exit=FALSE", "--subreaper=True", "cmd"), NOENV);
	assert_false(c->kill_on_exit);
	assert_true(c->subreaper);

	/* A boolean flag takes no separate value: "false" here is the command. */
	c = PARSE_OK(fx, ARGV("--kill-on-exit", "false"), NOENV);
	assert_true(c->kill_on_exit);
	assert_string_equal(c->argv[0], "false");
}

static void
test_flag_bool_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--kill-on-exit=maybe", "cmd"), NOENV,
		"--kill-on-exit: invalid value 'maybe': " BOOL_WHY);
	PARSE_ERR(fx, ARGV("--kill-on-exit=", "cmd"), NOENV,
		"--kill-on-exit: invalid value '': " BOOL_WHY);
	PARSE_ERR(fx, ARGV("--no-setsid=2", "cmd"), NOENV,
		"--no-setsid: invalid value '2': " BOOL_WHY);
}

static void
test_flag_duration(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE_OK(fx, ARGV("--exit-grace", "5s", "c"), NOENV)->exit_grace_ms, 5000);
	assert_int_equal(PARSE_OK(fx, ARGV("--exit-grace=250ms", "c"), NOENV)->exit_grace_ms, 250);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--exit-grace", "30", "c"), NOENV)->exit_grace_ms, 30000);
	assert_int_equal(PARSE_OK(fx, ARGV("--exit-grace=0", "c"), NOENV)->exit_grace_ms, 0);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--exit-grace", "1m30s", "c"), NOENV)->exit_grace_ms, 90000);
	/* The last flag wins. */
	assert_int_equal(PARSE_OK(fx, ARGV("--exit-grace", "1s", "--exit-grace", "3s", "c"), NOENV)
				 ->exit_grace_ms,
		3000);

	PARSE_ERR(fx, ARGV("--exit-grace", "5parsecs", "c"), NOENV,
		"--exit-grace: invalid value '5parsecs': " DURATION_WHY);
	PARSE_ERR(fx, ARGV("--exit-grace=-1s", "c"), NOENV,
		"--exit-grace: invalid value '-1s': " DURATION_WHY);
	PARSE_ERR(fx, ARGV("--exit-grace", "721h", "c"), NOENV,
		"--exit-grace: invalid value '721h': " DURATION_WHY);
	PARSE_ERR(fx, ARGV("--exit-grace=", "c"), NOENV,
		"--exit-grace: invalid value '': " DURATION_WHY);
}

static void
test_flag_signal(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(
		PARSE_OK(fx, ARGV("--stop-signal", "QUIT", "c"), NOENV)->stop_signal, SIGQUIT);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--stop-signal=WINCH", "c"), NOENV)->stop_signal, SIGWINCH);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--stop-signal", "sigusr1", "c"), NOENV)->stop_signal, SIGUSR1);
	assert_int_equal(PARSE_OK(fx, ARGV("--stop-signal", "3", "c"), NOENV)->stop_signal, 3);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--stop-signal=RTMIN+1", "c"), NOENV)->stop_signal, SIGRTMIN + 1);
	/* Surrounding white space is not part of a value. */
	assert_int_equal(
		PARSE_OK(fx, ARGV("--stop-signal", " HUP ", "c"), NOENV)->stop_signal, SIGHUP);

	PARSE_ERR(fx, ARGV("--stop-signal", "NOPE", "c"), NOENV,
		"--stop-signal: invalid value 'NOPE': " SIGNAL_WHY);
	PARSE_ERR(fx, ARGV("--stop-signal=0", "c"), NOENV,
		"--stop-signal: invalid value '0': " SIGNAL_WHY);
	PARSE_ERR(fx, ARGV("--stop-signal", "65", "c"), NOENV,
		"--stop-signal: invalid value '65': " SIGNAL_WHY);
	PARSE_ERR(fx, ARGV("--stop-signal=", "c"), NOENV,
		"--stop-signal: invalid value '': " SIGNAL_WHY);
}

static void
test_flag_rewrite(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;
	int i;

	c = PARSE_OK(fx, ARGV("--rewrite", "USR1:HUP", "--rewrite=WINCH:0", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGUSR1], SIGHUP);
	assert_int_equal(c->rewrite.to[SIGWINCH], 0);
	for (i = 0; i < SIGNALS_MAX; i++)
		if (i != SIGUSR1 && i != SIGWINCH)
			assert_int_equal(c->rewrite.to[i], i);
	assert_int_equal(c->stop_signal, SIGTERM);

	/* Several in one value, comma-separated, white space ignored. */
	c = PARSE_OK(
		fx, ARGV("--rewrite", "10:12, 12:10", "--rewrite", "RTMIN+1:SIGRTMAX", "c"), NOENV);
	assert_int_equal(c->rewrite.to[10], 12);
	assert_int_equal(c->rewrite.to[12], 10);
	assert_int_equal(c->rewrite.to[SIGRTMIN + 1], SIGRTMAX);

	/* The same signal twice: the last wins. */
	c = PARSE_OK(fx, ARGV("--rewrite", "HUP:INT", "--rewrite", "HUP:QUIT", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGHUP], SIGQUIT);
}

/* dumb-init's --rewrite 15:3 keeps its meaning: TERM becomes QUIT at the end of the drain. */
static void
test_flag_rewrite_term_sets_stop_signal(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--rewrite", "15:3", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGTERM], SIGQUIT);
	assert_int_equal(c->stop_signal, SIGQUIT);

	c = PARSE_OK(fx, ARGV("--rewrite", "TERM:0", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGTERM], 0);
	assert_int_equal(c->stop_signal, 0);

	/* An explicit --stop-signal wins, wherever it stands. */
	c = PARSE_OK(fx, ARGV("--rewrite", "15:3", "--stop-signal", "WINCH", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGTERM], SIGQUIT);
	assert_int_equal(c->stop_signal, SIGWINCH);
	c = PARSE_OK(fx, ARGV("--stop-signal", "WINCH", "--rewrite", "TERM:0", "c"), NOENV);
	assert_int_equal(c->stop_signal, SIGWINCH);
	/* Even from a lower source. */
	c = PARSE_OK(fx, ARGV("--rewrite", "15:3", "c"), ENVP("GRACEINIT_STOP_SIGNAL=HUP"));
	assert_int_equal(c->stop_signal, SIGHUP);
}

static void
test_flag_rewrite_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--rewrite", "15", "c"), NOENV,
		"--rewrite: invalid value '15': expected FROM:TO");
	PARSE_ERR(fx, ARGV("--rewrite", ":3", "c"), NOENV,
		"--rewrite: invalid value ':3': expected FROM:TO");
	PARSE_ERR(fx, ARGV("--rewrite", "15:", "c"), NOENV,
		"--rewrite: invalid value '15:': expected FROM:TO");
	PARSE_ERR(fx, ARGV("--rewrite=", "c"), NOENV,
		"--rewrite: invalid value '': expected FROM:TO");
	PARSE_ERR(fx, ARGV("--rewrite", "NOPE:3", "c"), NOENV,
		"--rewrite: invalid value 'NOPE:3': 'NOPE' is not a signal (a name like TERM or a "
		"number 1-64)");
	PARSE_ERR(fx, ARGV("--rewrite", "0:3", "c"), NOENV,
		"--rewrite: invalid value '0:3': '0' is not a signal (a name like TERM or a number "
		"1-64)");
	PARSE_ERR(fx, ARGV("--rewrite", "15:NOPE", "c"), NOENV,
		"--rewrite: invalid value '15:NOPE': 'NOPE' is not a signal (a name, a number "
		"1-64, "
		"or 0 to drop)");
	PARSE_ERR(fx, ARGV("--rewrite", "15:65", "c"), NOENV,
		"--rewrite: invalid value '15:65': '65' is not a signal (a name, a number 1-64, or "
		"0 "
		"to drop)");
	PARSE_ERR(fx, ARGV("--rewrite", "KILL:TERM", "c"), NOENV,
		"--rewrite: invalid value 'KILL:TERM': SIGKILL never reaches graceinit, so it "
		"cannot "
		"be rewritten");
	PARSE_ERR(fx, ARGV("--rewrite", "STOP:0", "c"), NOENV,
		"--rewrite: invalid value 'STOP:0': SIGSTOP never reaches graceinit, so it cannot "
		"be "
		"rewritten");
	PARSE_ERR(fx, ARGV("--rewrite", "CHLD:0", "c"), NOENV,
		"--rewrite: invalid value 'CHLD:0': SIGCHLD never reaches graceinit, so it cannot "
		"be "
		"rewritten");
	PARSE_ERR(fx, ARGV("--rewrite", "SEGV:TERM", "c"), NOENV,
		"--rewrite: invalid value 'SEGV:TERM': SIGSEGV never reaches graceinit, so it "
		"cannot "
		"be rewritten");
	PARSE_ERR(fx, ARGV("--rewrite", "32:1", "c"), NOENV,
		"--rewrite: invalid value '32:1': signal 32 never reaches graceinit, so it cannot "
		"be "
		"rewritten");
	/* The bad item of a list is the one named. */
	PARSE_ERR(fx, ARGV("--rewrite", "15:3,bad", "c"), NOENV,
		"--rewrite: invalid value 'bad': expected FROM:TO");
	PARSE_ERR(fx, ARGV("--rewrite", "15:3,", "c"), NOENV,
		"--rewrite: invalid value '': expected FROM:TO");
}

static void
test_flag_exit_remap(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;
	int i;

	c = PARSE_OK(fx, ARGV("--exit-remap", "143:0", "--exit-remap=1:0,2:255", "c"), NOENV);
	assert_int_equal(c->exit_remap[143], 0);
	assert_int_equal(c->exit_remap[1], 0);
	assert_int_equal(c->exit_remap[2], 255);
	for (i = 0; i < 256; i++)
		if (i != 143 && i != 1 && i != 2)
			assert_int_equal(c->exit_remap[i], i);

	PARSE_ERR(fx, ARGV("--exit-remap", "256:0", "c"), NOENV,
		"--exit-remap: invalid value '256:0': '256' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "143:256", "c"), NOENV,
		"--exit-remap: invalid value '143:256': '256' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "-1:0", "c"), NOENV,
		"--exit-remap: invalid value '-1:0': '-1' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "1:x", "c"), NOENV,
		"--exit-remap: invalid value '1:x': 'x' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "1:2:3", "c"), NOENV,
		"--exit-remap: invalid value '1:2:3': '2:3' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "TERM:0", "c"), NOENV,
		"--exit-remap: invalid value 'TERM:0': 'TERM' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("--exit-remap", "143", "c"), NOENV,
		"--exit-remap: invalid value '143': expected FROM:TO");
}

static void
test_flag_log(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--log-level", "debug", "--log-format=json", "c"), NOENV);
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->log_format, LOG_FORMAT_JSON);
	c = PARSE_OK(fx, ARGV("--log-level=error", "--log-format", "text", "c"), NOENV);
	assert_int_equal(c->log_level, LOG_LEVEL_ERROR);
	assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--log-level=warn", "c"), NOENV)->log_level, LOG_LEVEL_WARN);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--log-level=info", "c"), NOENV)->log_level, LOG_LEVEL_INFO);

	PARSE_ERR(fx, ARGV("--log-level", "verbose", "c"), NOENV,
		"--log-level: invalid value 'verbose': expected error, warn, info or debug");
	PARSE_ERR(fx, ARGV("--log-level", "DEBUG", "c"), NOENV,
		"--log-level: invalid value 'DEBUG': expected error, warn, info or debug");
	PARSE_ERR(fx, ARGV("--log-format=yaml", "c"), NOENV,
		"--log-format: invalid value 'yaml': expected text or json");
}

static void
test_flag_http_and_drain(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx,
		ARGV("--http", ":8080", "--control-socket", "@other", "--control-token", "s3cret",
			"--drain-delay", "3s", "--min-drain=1s", "--grace-period", "60s",
			"--kill-margin=5s", "c"),
		NOENV);
	assert_string_equal(c->http, ":8080");
	assert_string_equal(c->control_socket, "@other");
	assert_string_equal(c->control_token, "s3cret");
	assert_int_equal(c->drain_delay_ms, 3000);
	assert_int_equal(c->min_drain_ms, 1000);
	assert_int_equal(c->grace_period_ms, 60000);
	assert_int_equal(c->kill_margin_ms, 5000);

	assert_string_equal(
		PARSE_OK(fx, ARGV("--http=0.0.0.0:9797", "c"), NOENV)->http, "0.0.0.0:9797");
	assert_string_equal(
		PARSE_OK(fx, ARGV("--http", "[::]:9797", "c"), NOENV)->http, "[::]:9797");
	assert_string_equal(
		PARSE_OK(fx, ARGV("--http", "localhost:1", "c"), NOENV)->http, "localhost:1");
	assert_string_equal(
		PARSE_OK(fx, ARGV("--control-socket", "/run/graceinit.sock", "c"), NOENV)
			->control_socket,
		"/run/graceinit.sock");

	/* off turns them off. */
	c = PARSE_OK(fx,
		ARGV("--http", "off", "--control-socket", "off", "--endpoints", "off", "c"), NOENV);
	assert_null(c->http);
	assert_null(c->control_socket);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);
	c = PARSE_OK(fx, ARGV("--http=off", "--control-socket=off", "--endpoints=off", "c"), NOENV);
	assert_null(c->http);
	assert_null(c->control_socket);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_HTTP=127.0.0.1:9000", "GRACEINIT_CONTROL_TOKEN=t",
			"GRACEINIT_GRACE_PERIOD=2m", "GRACEINIT_DRAIN_DELAY=0"));
	assert_string_equal(c->http, "127.0.0.1:9000");
	assert_string_equal(c->control_token, "t");
	assert_int_equal(c->grace_period_ms, 120000);
	assert_int_equal(c->drain_delay_ms, 0);
}

static void
test_flag_readiness(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx,
		ARGV("--ready-http", "http://127.0.0.1:8080/ready", "--ready-tcp=localhost:5432",
			"--ready-interval", "500ms", "--ready-timeout=100ms", "--notify",
			"--watchdog", "10s", "c"),
		NOENV);
	assert_string_equal(c->ready_http, "http://127.0.0.1:8080/ready");
	assert_string_equal(c->ready_tcp, "localhost:5432");
	assert_int_equal(c->ready_interval_ms, 500);
	assert_int_equal(c->ready_timeout_ms, 100);
	assert_true(c->notify);
	assert_int_equal(c->watchdog_ms, 10000);

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_READY_HTTP=https://app/healthz", "GRACEINIT_NOTIFY=true",
			"GRACEINIT_READY_INTERVAL=100ms", "GRACEINIT_READY_TIMEOUT=10ms"));
	assert_string_equal(c->ready_http, "https://app/healthz");
	assert_true(c->notify);
	assert_int_equal(c->ready_interval_ms, 100);
	assert_int_equal(c->ready_timeout_ms, 10);

	PARSE_ERR(fx, ARGV("--watchdog", "10s", "c"), NOENV,
		"--watchdog needs --notify: the pings come over $NOTIFY_SOCKET");
	PARSE_ERR(fx, ARGV("--notify=false", "c"), ENVP("GRACEINIT_WATCHDOG=1s"),
		"--watchdog needs --notify: the pings come over $NOTIFY_SOCKET");
	assert_int_equal(PARSE_OK(fx, ARGV("--watchdog", "0", "c"), NOENV)->watchdog_ms, 0);
}

/*
 * The lower bounds of --ready-interval and --ready-timeout: the message says, like every other
 * one, where the value came from and what it was.
 */
static void
test_ready_bounds(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--ready-interval", "50ms", "c"), NOENV,
		"--ready-interval: invalid value '50ms': at least 100ms");
	PARSE_ERR(fx, ARGV("--ready-timeout=0", "c"), NOENV,
		"--ready-timeout: invalid value '0': at least 10ms");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_READY_INTERVAL=99ms"),
		"GRACEINIT_READY_INTERVAL: invalid value '99ms': at least 100ms");
}

/* SIGKILL goes out at grace-period minus kill-margin: that must be after the drain starts. */
static void
test_kill_margin_within_grace(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--kill-margin", "30s", "c"), NOENV,
		"--kill-margin 30s must be shorter than --grace-period 30s");
	PARSE_ERR(fx, ARGV("--grace-period", "2s", "c"), NOENV,
		"--kill-margin 2s must be shorter than --grace-period 2s");
	PARSE_ERR(fx, ARGV("--grace-period", "0", "--kill-margin", "0", "c"), NOENV,
		"--kill-margin 0s must be shorter than --grace-period 0s");
	PARSE_ERR(fx, ARGV("--grace-period", "1500ms", "--kill-margin", "1m", "c"), NOENV,
		"--kill-margin 1m must be shorter than --grace-period 1500ms");
	PARSE_ERR(fx, ARGV("plan"), ENVP("GRACEINIT_GRACE_PERIOD=1s"),
		"--kill-margin 2s must be shorter than --grace-period 1s");
	assert_int_equal(
		PARSE_OK(fx, ARGV("--grace-period", "2001ms", "c"), NOENV)->grace_period_ms, 2001);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--grace-period", "1s", "--kill-margin", "0", "c"), NOENV)
			->kill_margin_ms,
		0);
}

/* The forms that turn a feature off. */
static void
test_off_values(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--endpoints", "off", "c"), NOENV);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);
	c = PARSE_OK(fx, ARGV("--sidecar=false", "--notify=false", "c"), NOENV);
	assert_false(c->sidecar);
	assert_false(c->notify);
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_SIDECAR=false", "GRACEINIT_ENDPOINTS=off"));
	assert_false(c->sidecar);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);
	/* An empty list in the file says nothing. */
	c = PARSE_OK(fx, ARGV("--config", config_file(fx, "{\"service\": []}"), "c"), NOENV);
	assert_int_equal(c->services.n, 0);
}

static void
test_string_values_checked(void **state)
{
	struct fx *fx = *state;
	char *long_socket = fmt(fx, "@%0107d", 0);
	char *long_service = fmt(fx, "%064d", 0);

	PARSE_ERR(fx, ARGV("--http", "8080", "c"), NOENV,
		"--http: invalid value '8080': expected HOST:PORT");
	PARSE_ERR(fx, ARGV("--http", ":0", "c"), NOENV,
		"--http: invalid value ':0': '0' is not a port (1-65535)");
	PARSE_ERR(fx, ARGV("--http", ":65536", "c"), NOENV,
		"--http: invalid value ':65536': '65536' is not a port (1-65535)");
	PARSE_ERR(fx, ARGV("--http", "[::1:80", "c"), NOENV,
		"--http: invalid value '[::1:80': an IPv6 address needs brackets: [ADDR]:PORT");
	PARSE_ERR(fx, ARGV("--control-socket", "graceinit.sock", "c"), NOENV,
		"--control-socket: invalid value 'graceinit.sock': expected @NAME (abstract), an "
		"absolute path, or off");
	PARSE_ERR(fx, ARGV("--control-socket", long_socket, "c"), NOENV,
		fmt(fx,
			"--control-socket: invalid value '%s': a unix socket path has at most 107 "
			"characters",
			long_socket));
	PARSE_ERR(fx, ARGV("--ready-tcp", ":8080", "c"), NOENV,
		"--ready-tcp: invalid value ':8080': the host is missing (expected HOST:PORT)");
	PARSE_ERR(fx, ARGV("--ready-tcp", "localhost:", "c"), NOENV,
		"--ready-tcp: invalid value 'localhost:': '' is not a port (1-65535)");
	PARSE_ERR(fx, ARGV("--ready-http", "ftp://x/", "c"), NOENV,
		"--ready-http: invalid value 'ftp://x/': expected an http:// or https:// URL");
	PARSE_ERR(fx, ARGV("--ready-http", "https:///ready", "c"), NOENV,
		"--ready-http: invalid value 'https:///ready': the URL has no host");
	PARSE_ERR(fx, ARGV("--ready-http", "http://a b/", "c"), NOENV,
		"--ready-http: invalid value 'http://a b/': a URL cannot contain white space");
	PARSE_ERR(fx, ARGV("--deregister", "PUT", "c"), NOENV,
		"--deregister: invalid value 'PUT': expected 'METHOD URL', e.g. 'PUT "
		"http://consul:8500/...'");
	PARSE_ERR(fx, ARGV("--deregister", "FETCH http://x/", "c"), NOENV,
		"--deregister: invalid value 'FETCH http://x/': the method must be GET, POST, PUT, "
		"PATCH or DELETE");
	PARSE_ERR(fx, ARGV("--deregister", "put http://x/", "c"), NOENV,
		"--deregister: invalid value 'put http://x/': the method must be GET, POST, PUT, "
		"PATCH or DELETE");
	PARSE_ERR(fx, ARGV("--service", "Web", "c"), NOENV,
		"--service: invalid value 'Web': a Service name is lower-case letters, digits and "
		"'-'");
	PARSE_ERR(fx, ARGV("--service", "web,-api", "c"), NOENV,
		"--service: invalid value '-api': " DNS_ENDS_WHY);
	PARSE_ERR(fx, ARGV("--service", long_service, "c"), NOENV,
		fmt(fx, "--service: invalid value '%s': a Service name has at most 63 characters",
			long_service));
	PARSE_ERR(fx, ARGV("--drain-connections", "8080,0", "c"), NOENV,
		"--drain-connections: invalid value '0': '0' is not a port (1-65535)");
	PARSE_ERR(fx, ARGV("--drain-connections", "http", "c"), NOENV,
		"--drain-connections: invalid value 'http': 'http' is not a port (1-65535)");
	PARSE_ERR(fx, ARGV("--pod-name", "", "c"), NOENV,
		"--pod-name: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("--endpoints", "maybe", "c"), NOENV,
		"--endpoints: invalid value 'maybe': expected auto, on or off");
	PARSE_ERR(fx, ARGV("--grace-period", "forever", "c"), NOENV,
		"--grace-period: invalid value 'forever': " DURATION_WHY);
	PARSE_ERR(fx, ARGV("--sidecar=perhaps"), NOENV,
		"--sidecar: invalid value 'perhaps': " BOOL_WHY);
}

static void
test_value_too_long(void **state)
{
	struct fx *fx = *state;
	char *value = fx->strings[fx->nstrings++];

	memset(value, 'a', 5000);
	value[5000] = '\0';
	PARSE_ERR(fx, ARGV("--pod-name", value, "c"), NOENV,
		"--pod-name: the value is too long (at most 4095 bytes)");
	PARSE_ERR(fx, ARGV("c"), ENVP(fmt(fx, "GRACEINIT_CONTROL_TOKEN=%s", value)),
		"GRACEINIT_CONTROL_TOKEN: the value is too long (at most 4095 bytes)");
}

/* The message is cut to the caller's buffer, and always terminated. */
static void
test_error_buffer_small(void **state)
{
	struct fx *fx = *state;
	char err[16];
	char **argv = ARGV("--bogus", "cmd");

	memset(err, 'x', sizeof(err));
	assert_int_equal(conf_parse(&fx->c, 3, argv, NOENV, err, sizeof(err)), CONF_ERROR);
	assert_string_equal(err, "unknown option ");
}

/*
 * Environment
 */

static void
test_env_every_type(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("PATH=/usr/bin", "GRACEINIT_STOP_SIGNAL=QUIT", "GRACEINIT_EXIT_GRACE=5s",
			"GRACEINIT_NO_SETSID=true", "GRACEINIT_SUBREAPER=yes",
			"GRACEINIT_KILL_ON_EXIT=0", "GRACEINIT_REWRITE=10:12,12:10",
			"GRACEINIT_EXIT_REMAP=143:0, 137:0", "GRACEINIT_LOG_LEVEL=debug",
			"GRACEINIT_LOG_FORMAT=json", "GRACEINIT_ENDPOINTS=off",
			"GRACEINIT_CONTROL_SOCKET=off"));
	assert_int_equal(c->stop_signal, SIGQUIT);
	assert_int_equal(c->exit_grace_ms, 5000);
	assert_true(c->no_setsid);
	assert_true(c->subreaper);
	assert_false(c->kill_on_exit);
	assert_int_equal(c->rewrite.to[10], 12);
	assert_int_equal(c->rewrite.to[12], 10);
	assert_int_equal(c->rewrite.to[SIGTERM], SIGTERM);
	assert_int_equal(c->exit_remap[143], 0);
	assert_int_equal(c->exit_remap[137], 0);
	assert_int_equal(c->exit_remap[1], 1);
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->log_format, LOG_FORMAT_JSON);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);
	assert_null(c->control_socket);

	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_REWRITE=15:3"));
	assert_int_equal(c->stop_signal, SIGQUIT);
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_REWRITE=TERM:0"));
	assert_int_equal(c->stop_signal, 0);
}

static void
test_env_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_STOP_SIGNAL=NOPE"),
		"GRACEINIT_STOP_SIGNAL: invalid value 'NOPE': " SIGNAL_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_STOP_SIGNAL="),
		"GRACEINIT_STOP_SIGNAL: invalid value '': " SIGNAL_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_KILL_ON_EXIT=maybe"),
		"GRACEINIT_KILL_ON_EXIT: invalid value 'maybe': " BOOL_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_EXIT_GRACE=5parsecs"),
		"GRACEINIT_EXIT_GRACE: invalid value '5parsecs': " DURATION_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_REWRITE=15:3,,10:12"),
		"GRACEINIT_REWRITE: invalid value '': expected FROM:TO");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_EXIT_REMAP=143:0,999:0"),
		"GRACEINIT_EXIT_REMAP: invalid value '999:0': '999' is not an exit status (0-255)");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_LOG_FORMAT=xml"),
		"GRACEINIT_LOG_FORMAT: invalid value 'xml': expected text or json");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_HTTP=8080"),
		"GRACEINIT_HTTP: invalid value '8080': expected HOST:PORT");
}

static void
test_env_unknown(void **state)
{
	struct fx *fx = *state;
	char *long_name = fmt(fx, "GRACEINIT_%0100d=1", 0);

	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_BOGUS=1"),
		"GRACEINIT_BOGUS: unknown setting in the environment" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_=1"),
		"GRACEINIT_: unknown setting in the environment" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_NO_KILL_ON_EXIT=1"),
		"GRACEINIT_NO_KILL_ON_EXIT: unknown setting in the environment" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_VERSION=1.0"),
		"GRACEINIT_VERSION: unknown setting in the environment" UNKNOWN_HINT);
	PARSE_ERR(fx, ARGV("c"), ENVP(long_name),
		fmt(fx, "GRACEINIT_%0100d: unknown setting in the environment" UNKNOWN_HINT, 0));
	/* Unknown even when a flag sets everything else. */
	PARSE_ERR(fx, ARGV("--stop-signal", "QUIT", "c"), ENVP("PATH=/bin", "GRACEINIT_X=1"),
		"GRACEINIT_X: unknown setting in the environment" UNKNOWN_HINT);
}

/* Only GRACEINIT_ variables are settings; the process environment is never read. */
static void
test_env_others_ignored(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINITX=1", "graceinit_stop_signal=QUIT", "GRACEINIT", "STOP_SIGNAL=HUP",
			"HOME=/root"));
	assert_int_equal(c->stop_signal, SIGTERM);

	assert_int_equal(setenv("GRACEINIT_STOP_SIGNAL", "QUIT", 1), 0);
	assert_int_equal(setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1), 0);
	assert_int_equal(setenv("POD_NAME", "from-process", 1), 0);
	c = PARSE_OK(fx, ARGV("c"), NOENV);
	unsetenv("GRACEINIT_STOP_SIGNAL");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("POD_NAME");
	assert_int_equal(c->stop_signal, SIGTERM);
	assert_false(c->in_kubernetes);
	assert_null(c->pod_name);
}

/*
 * The spec names the variables in upper case. A GRACEINIT_ variable in another case must not
 * be silently ignored: either it is refused as unknown, or it is honoured like the others.
 * GRACEINIT_stop_signal is honoured today; GRACEINIT_config is dropped without a word.
 */
static void
test_env_config_other_case_not_ignored(void **state)
{
	struct fx *fx = *state;
	enum conf_result r;

	r = parse(fx, ARGV("c"), ENVP("GRACEINIT_config=/nonexistent/graceinit.json"));
	if (r != CONF_ERROR)
		fail_msg("GRACEINIT_config=/nonexistent/graceinit.json was silently ignored "
			 "(conf_parse returned %d, config_path %s)",
			(int)r, fx->c.config_path ? fx->c.config_path : "NULL");
}

/*
 * The JSON file
 */

static void
test_file_every_type(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx,
		"{\n"
		"  \"stop-signal\": \"QUIT\",\n"
		"  \"exit-grace\": \"1m30s\",\n"
		"  \"no-setsid\": true,\n"
		"  \"subreaper\": true,\n"
		"  \"kill-on-exit\": false,\n"
		"  \"rewrite\": [\"USR1:0\", \"HUP:INT,INT:HUP\"],\n"
		"  \"exit-remap\": \"143:0\",\n"
		"  \"log-level\": \"warn\",\n"
		"  \"log-format\": \"json\",\n"
		"  \"endpoints\": \"off\",\n"
		"  \"http\": \"off\",\n"
		"  \"control-socket\": \"off\",\n"
		"  \"sidecar\": false,\n"
		"  \"service\": []\n"
		"}\n");
	const struct conf *c = PARSE_OK(fx, ARGV("--config", path, "c"), NOENV);

	assert_string_equal(c->config_path, path);
	assert_int_equal(c->stop_signal, SIGQUIT);
	assert_int_equal(c->exit_grace_ms, 90000);
	assert_true(c->no_setsid);
	assert_true(c->subreaper);
	assert_false(c->kill_on_exit);
	assert_int_equal(c->rewrite.to[SIGUSR1], 0);
	assert_int_equal(c->rewrite.to[SIGHUP], SIGINT);
	assert_int_equal(c->rewrite.to[SIGINT], SIGHUP);
	assert_int_equal(c->exit_remap[143], 0);
	assert_int_equal(c->log_level, LOG_LEVEL_WARN);
	assert_int_equal(c->log_format, LOG_FORMAT_JSON);
	assert_int_equal(c->endpoints, CONF_ENDPOINTS_OFF);
	assert_null(c->http);
	assert_null(c->control_socket);
	assert_false(c->sidecar);
	assert_int_equal(c->services.n, 0);
	assert_string_equal(c->argv[0], "c");
}

/* JSON numbers stand for the text a flag would carry. */
static void
test_file_numbers(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(
		fx, "{\"stop-signal\": 3, \"exit-grace\": 1.5, \"rewrite\": [\"10:12\"]}");
	const struct conf *c = PARSE_OK(fx, ARGV(fmt(fx, "--config=%s", path), "c"), NOENV);

	assert_int_equal(c->stop_signal, 3);
	assert_int_equal(c->exit_grace_ms, 1500);
	assert_int_equal(c->rewrite.to[10], 12);

	path = config_file(fx, "{\"exit-grace\": 5}");
	assert_int_equal(PARSE_OK(fx, ARGV("--config", path, "c"), NOENV)->exit_grace_ms, 5000);
}

static void
test_file_from_env(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"stop-signal\": \"HUP\"}");
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), ENVP(fmt(fx, "GRACEINIT_CONFIG=%s", path)));
	assert_int_equal(c->stop_signal, SIGHUP);
	assert_string_equal(c->config_path, path);

	/* --config names the file instead: the one in the environment is not even opened. */
	c = PARSE_OK(fx, ARGV("--config", path, "c"),
		ENVP("GRACEINIT_CONFIG=/nonexistent/graceinit.json"));
	assert_int_equal(c->stop_signal, SIGHUP);
	assert_string_equal(c->config_path, path);

	/* The last --config wins. */
	c = PARSE_OK(
		fx, ARGV("--config", "/nonexistent/graceinit.json", "--config", path, "c"), NOENV);
	assert_string_equal(c->config_path, path);
}

static void
test_file_errors(void **state)
{
	struct fx *fx = *state;
	char *dir = fx->strings[fx->nstrings++];
	char *path;

	PARSE_ERR(fx, ARGV("--config", "/nonexistent/graceinit.json", "c"), NOENV,
		"--config: cannot open '/nonexistent/graceinit.json': No such file or directory");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_CONFIG=/nonexistent/graceinit.json"),
		"GRACEINIT_CONFIG: cannot open '/nonexistent/graceinit.json': No such file or "
		"directory");
	PARSE_ERR(fx, ARGV("--config=", "c"), NOENV, "--config: the file name is empty");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_CONFIG="),
		"GRACEINIT_CONFIG: the file name is empty");

	/* A directory. */
	path = config_file(fx, "{}");
	snprintf(dir, 256, "%.*s", (int)(strrchr(path, '/') - path), path);
	PARSE_ERR(fx, ARGV("--config", dir, "c"), NOENV,
		fmt(fx, "--config: '%s' is not a regular file of at most 1 MiB", dir));
}

static void
test_file_too_big(void **state)
{
	struct fx *fx = *state;
	size_t n = 1024 * 1024 + 1;
	char *text = malloc(n + 1);
	char *path;

	assert_non_null(text);
	memset(text, ' ', n);
	text[0] = '{';
	text[n - 1] = '}';
	text[n] = '\0';
	path = config_file(fx, text);
	free(text);
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "--config: '%s' is not a regular file of at most 1 MiB", path));
}

static void
test_file_invalid_json(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\n  \"stop-signal\": \"QUIT\",\n  \"exit-grace\" \"5s\"\n}\n");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 3)", path));
	path = config_file(fx, "");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 1)", path));
	path = config_file(fx, "{\n\"stop-signal\": \"QUIT\",\n}\n");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 3)", path));
	path = config_file(fx, "\n\n\n\n{\"stop-signal\": QUIT}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 5)", path));
}

/*
 * Whatever follows the object is an error too: a second object, or a stray word, would
 * otherwise be ignored without a word.
 */
static void
test_file_trailing_garbage(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\"stop-signal\": \"QUIT\"}\n{\"exit-grace\": \"9s\"}\n");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 2)", path));
	path = config_file(fx, "{\"stop-signal\": \"QUIT\"} oops");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: not valid JSON (near line 1)", path));
}

static void
test_file_not_object(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "[\"--stop-signal\", \"QUIT\"]");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: expected a JSON object of option names", path));
	path = config_file(fx, "\"stop-signal\"");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: expected a JSON object of option names", path));
	path = config_file(fx, "null");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: expected a JSON object of option names", path));
}

static void
test_file_unknown_key(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\"stop-signal\": \"QUIT\", \"bogus\": 1}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: unknown option \"bogus\"" UNKNOWN_HINT, path));
	path = config_file(fx, "{\"stop_signal\": \"QUIT\"}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: unknown option \"stop_signal\"" UNKNOWN_HINT, path));
	/* A file cannot name another file. */
	path = config_file(fx, "{\"config\": \"/etc/graceinit.json\"}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: unknown option \"config\"" UNKNOWN_HINT, path));
}

static void
test_file_wrong_type(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\"stop-signal\": true}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"stop-signal\": expected a string", path));
	/* An array for an option that is not repeatable. */
	path = config_file(fx, "{\"stop-signal\": [\"TERM\"]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"stop-signal\": expected a string", path));
	path = config_file(fx, "{\"exit-grace\": null}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"exit-grace\": expected a string", path));
	/* Booleans are JSON booleans: no "yes", no 1. */
	path = config_file(fx, "{\"no-setsid\": \"yes\"}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"no-setsid\": expected true or false", path));
	path = config_file(fx, "{\"kill-on-exit\": 0}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"kill-on-exit\": expected true or false", path));
	path = config_file(fx, "{\"rewrite\": {\"15\": 3}}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"rewrite\": expected a string or an array of strings", path));
}

static void
test_file_wrong_type_in_array(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\"rewrite\": [\"15:3\", true]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"rewrite\": expected an array of strings", path));
	path = config_file(fx, "{\"exit-remap\": [[\"143:0\"]]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"exit-remap\": expected an array of strings", path));
	path = config_file(fx, "{\"rewrite\": [null]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"rewrite\": expected an array of strings", path));
	/* A number item is its text, checked as any value. */
	path = config_file(fx, "{\"rewrite\": [15]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"rewrite\": invalid value '15': expected FROM:TO", path));
}

static void
test_file_bad_values(void **state)
{
	struct fx *fx = *state;
	char *path;

	path = config_file(fx, "{\"exit-grace\": \"5parsecs\"}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"exit-grace\": invalid value '5parsecs': " DURATION_WHY, path));
	path = config_file(fx, "{\"exit-grace\": -1}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"exit-grace\": invalid value '-1': " DURATION_WHY, path));
	path = config_file(fx, "{\"rewrite\": [\"15:3\", \"KILL:0\"]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx,
			"%s: \"rewrite\": invalid value 'KILL:0': SIGKILL never reaches graceinit, "
			"so it cannot be rewritten",
			path));
	path = config_file(fx, "{\"log-level\": \"loud\"}");
	PARSE_ERR(fx, ARGV(fmt(fx, "--config=%s", path), "c"), NOENV,
		fmt(fx,
			"%s: \"log-level\": invalid value 'loud': expected error, warn, info or "
			"debug",
			path));
	/* The file named by the environment is named the same way. */
	path = config_file(fx, "{\"stop-signal\": \"NOPE\"}");
	PARSE_ERR(fx, ARGV("c"), ENVP(fmt(fx, "GRACEINIT_CONFIG=%s", path)),
		fmt(fx, "%s: \"stop-signal\": invalid value 'NOPE': " SIGNAL_WHY, path));
}

/* A number too large for any integer type is refused like any bad duration. */
static void
test_file_huge_number(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"exit-grace\": 1e300}");

	assert_int_equal(parse(fx, ARGV("--config", path, "c"), NOENV), CONF_ERROR);
	assert_non_null(strstr(fx->err, "\"exit-grace\": invalid value '"));
	path = config_file(fx, "{\"stop-signal\": -1e30}");
	assert_int_equal(parse(fx, ARGV("--config", path, "c"), NOENV), CONF_ERROR);
	assert_non_null(strstr(fx->err, "\"stop-signal\": invalid value '"));
}

static void
test_precedence_scalar(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"stop-signal\": \"QUIT\", \"exit-grace\": \"7s\"}");
	char *conf_env = fmt(fx, "GRACEINIT_CONFIG=%s", path);
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), NOENV);
	assert_int_equal(c->stop_signal, SIGTERM);
	assert_int_equal(c->exit_grace_ms, 2000);

	c = PARSE_OK(fx, ARGV("c"), ENVP(conf_env));
	assert_int_equal(c->stop_signal, SIGQUIT);
	assert_int_equal(c->exit_grace_ms, 7000);

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_STOP_SIGNAL=HUP", conf_env, "GRACEINIT_EXIT_GRACE=8s"));
	assert_int_equal(c->stop_signal, SIGHUP);
	assert_int_equal(c->exit_grace_ms, 8000);

	c = PARSE_OK(fx, ARGV("--stop-signal", "WINCH", "--exit-grace=9s", "c"),
		ENVP("GRACEINIT_STOP_SIGNAL=HUP", conf_env, "GRACEINIT_EXIT_GRACE=8s"));
	assert_int_equal(c->stop_signal, SIGWINCH);
	assert_int_equal(c->exit_grace_ms, 9000);

	/* A flag over the file, with nothing in between. */
	c = PARSE_OK(fx, ARGV("--config", path, "--stop-signal", "USR2", "c"), NOENV);
	assert_int_equal(c->stop_signal, SIGUSR2);
	assert_int_equal(c->exit_grace_ms, 7000);
}

static void
test_precedence_bool(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"kill-on-exit\": false, \"no-setsid\": true}");
	char *conf_env = fmt(fx, "GRACEINIT_CONFIG=%s", path);
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), ENVP(conf_env));
	assert_false(c->kill_on_exit);
	assert_true(c->no_setsid);
	c = PARSE_OK(fx, ARGV("c"),
		ENVP(conf_env, "GRACEINIT_KILL_ON_EXIT=true", "GRACEINIT_NO_SETSID=false"));
	assert_true(c->kill_on_exit);
	assert_false(c->no_setsid);
	c = PARSE_OK(fx, ARGV("--no-kill-on-exit", "--no-setsid", "c"),
		ENVP(conf_env, "GRACEINIT_KILL_ON_EXIT=true", "GRACEINIT_NO_SETSID=false"));
	assert_false(c->kill_on_exit);
	assert_true(c->no_setsid);
}

/* A list from a higher source replaces the lower one's; it is never merged with it. */
static void
test_precedence_rewrite(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"rewrite\": [\"USR2:HUP\", \"WINCH:0\"]}");
	char *conf_env = fmt(fx, "GRACEINIT_CONFIG=%s", path);
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), ENVP(conf_env));
	assert_int_equal(c->rewrite.to[SIGUSR2], SIGHUP);
	assert_int_equal(c->rewrite.to[SIGWINCH], 0);

	c = PARSE_OK(fx, ARGV("c"), ENVP(conf_env, "GRACEINIT_REWRITE=USR1:0,HUP:0"));
	assert_int_equal(c->rewrite.to[SIGUSR2], SIGUSR2);
	assert_int_equal(c->rewrite.to[SIGWINCH], SIGWINCH);
	assert_int_equal(c->rewrite.to[SIGUSR1], 0);
	assert_int_equal(c->rewrite.to[SIGHUP], 0);

	c = PARSE_OK(fx, ARGV("--rewrite", "INT:0", "--rewrite", "QUIT:0", "c"),
		ENVP(conf_env, "GRACEINIT_REWRITE=USR1:0,HUP:0"));
	assert_int_equal(c->rewrite.to[SIGUSR2], SIGUSR2);
	assert_int_equal(c->rewrite.to[SIGWINCH], SIGWINCH);
	assert_int_equal(c->rewrite.to[SIGUSR1], SIGUSR1);
	assert_int_equal(c->rewrite.to[SIGHUP], SIGHUP);
	assert_int_equal(c->rewrite.to[SIGINT], 0);
	assert_int_equal(c->rewrite.to[SIGQUIT], 0);

	/* The file's TERM rewrite is gone too, and with it the derived stop signal. */
	path = config_file(fx, "{\"rewrite\": \"15:3\"}");
	c = PARSE_OK(fx, ARGV("--config", path, "c"), NOENV);
	assert_int_equal(c->stop_signal, SIGQUIT);
	c = PARSE_OK(fx, ARGV("--config", path, "--rewrite", "USR1:0", "c"), NOENV);
	assert_int_equal(c->rewrite.to[SIGTERM], SIGTERM);
	assert_int_equal(c->stop_signal, SIGTERM);
}

static void
test_precedence_exit_remap(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"exit-remap\": [\"1:0\", \"2:0\"]}");
	char *conf_env = fmt(fx, "GRACEINIT_CONFIG=%s", path);
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), ENVP(conf_env, "GRACEINIT_EXIT_REMAP=3:0,4:0"));
	assert_int_equal(c->exit_remap[1], 1);
	assert_int_equal(c->exit_remap[2], 2);
	assert_int_equal(c->exit_remap[3], 0);
	assert_int_equal(c->exit_remap[4], 0);

	c = PARSE_OK(fx, ARGV("--exit-remap", "5:0", "--exit-remap", "6:0", "c"),
		ENVP(conf_env, "GRACEINIT_EXIT_REMAP=3:0,4:0"));
	assert_int_equal(c->exit_remap[1], 1);
	assert_int_equal(c->exit_remap[3], 3);
	assert_int_equal(c->exit_remap[5], 0);
	assert_int_equal(c->exit_remap[6], 0);
}

/* Strings: the highest source wins, and its "off" turns off what a lower source set. */
static void
test_precedence_string(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"http\": \":8081\", \"control-socket\": \"@file\"}");
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--config", path, "c"), NOENV);
	assert_string_equal(c->http, ":8081");
	assert_string_equal(c->control_socket, "@file");
	c = PARSE_OK(fx, ARGV("--config", path, "c"), ENVP("GRACEINIT_HTTP=:8082"));
	assert_string_equal(c->http, ":8082");
	assert_string_equal(c->control_socket, "@file");
	c = PARSE_OK(fx, ARGV("--config", path, "--http", ":8083", "c"),
		ENVP("GRACEINIT_HTTP=:8082", "GRACEINIT_CONTROL_SOCKET=/env.sock"));
	assert_string_equal(c->http, ":8083");
	assert_string_equal(c->control_socket, "/env.sock");

	c = PARSE_OK(fx, ARGV("--config", path, "c"),
		ENVP("GRACEINIT_HTTP=off", "GRACEINIT_CONTROL_SOCKET=off"));
	assert_null(c->http);
	assert_null(c->control_socket);
	c = PARSE_OK(fx, ARGV("--http", "off", "c"), ENVP("GRACEINIT_HTTP=:8082"));
	assert_null(c->http);
	c = PARSE_OK(fx, ARGV("--http", ":9090", "c"), ENVP("GRACEINIT_HTTP=off"));
	assert_string_equal(c->http, ":9090");
}

static void
test_precedence_bad_lower_value(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"stop-signal\": \"NOPE\"}");

	PARSE_ERR(fx, ARGV("--config", path, "--stop-signal", "QUIT", "c"), NOENV,
		fmt(fx, "%s: \"stop-signal\": invalid value 'NOPE': " SIGNAL_WHY, path));
	PARSE_ERR(fx, ARGV("--stop-signal", "QUIT", "c"), ENVP("GRACEINIT_STOP_SIGNAL=NOPE"),
		"GRACEINIT_STOP_SIGNAL: invalid value 'NOPE': " SIGNAL_WHY);
}

/*
 * Kubernetes and derived values
 */

static void
test_kubernetes_defaults(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"), ENVP("KUBERNETES_SERVICE_HOST=10.96.0.1"));
	assert_true(c->in_kubernetes);
	assert_string_equal(c->http, ":9797");
	assert_int_equal(c->drain_delay_ms, 5000);

	c = PARSE_OK(fx, ARGV("c"), ENVP("KUBERNETES_SERVICE_PORT=443"));
	assert_false(c->in_kubernetes);
	assert_null(c->http);
	assert_int_equal(c->drain_delay_ms, 0);

	/* --http off still wins over the derived default. */
	c = PARSE_OK(fx, ARGV("--http", "off", "c"), ENVP("KUBERNETES_SERVICE_HOST=10.96.0.1"));
	assert_true(c->in_kubernetes);
	assert_null(c->http);
	assert_int_equal(c->drain_delay_ms, 5000);
	c = PARSE_OK(
		fx, ARGV("c"), ENVP("KUBERNETES_SERVICE_HOST=10.96.0.1", "GRACEINIT_HTTP=off"));
	assert_null(c->http);
}

static void
test_pod_name(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("HOSTNAME=web-7d9f-abcde", "POD_NAME=web-0", "POD_IP=10.1.2.3"));
	assert_string_equal(c->pod_name, "web-0");
	assert_string_equal(c->pod_ip, "10.1.2.3");
	c = PARSE_OK(fx, ARGV("c"), ENVP("HOSTNAME=web-7d9f-abcde"));
	assert_string_equal(c->pod_name, "web-7d9f-abcde");
	assert_null(c->pod_ip);
	c = PARSE_OK(fx, ARGV("c"), NOENV);
	assert_null(c->pod_name);
	assert_null(c->pod_ip);
	c = PARSE_OK(fx, ARGV("c"), ENVP("POD_NAMESPACE=x", "POD_NAMEX=y"));
	assert_null(c->pod_name);
}

/*
 * conf_json: the effective configuration, as /status and "graceinit plan" show it
 */

static const char *
json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v))
		fail_msg("conf_json: \"%s\" is not a string", name);
	return v->valuestring;
}

static void
test_json(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;
	cJSON *j;
	char *text;

	c = PARSE_OK(fx,
		ARGV("--rewrite", "USR1:HUP,TERM:0", "--exit-remap", "143:0", "--exit-grace",
			"1500ms", "--stop-signal", "QUIT", "--control-token", "hunter2", "--http",
			":8080", "--control-socket", "off", "--no-setsid", "my-server", "--port",
			"1"),
		ENVP("KUBERNETES_SERVICE_HOST=10.0.0.1"));
	j = conf_json(c);
	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(text);
	/* The token never leaves graceinit. */
	assert_null(strstr(text, "hunter2"));
	assert_string_equal(json_str(j, "control-token"), "(set)");
	assert_string_equal(json_str(j, "http"), ":8080");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "control-socket")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "ready-http")));
	assert_string_equal(json_str(j, "exit-grace"), "1500ms");
	assert_string_equal(json_str(j, "grace-period"), "30s");
	assert_string_equal(json_str(j, "drain-delay"), "5s");
	assert_string_equal(json_str(j, "stop-signal"), "SIGQUIT");
	assert_string_equal(json_str(j, "log-level"), "info");
	assert_string_equal(json_str(j, "log-format"), "text");
	assert_string_equal(json_str(j, "endpoints"), "auto");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "no-setsid")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "kill-on-exit")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "in-kubernetes")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "service")));
	assert_null(strstr(text, "\"rewrite\":[\"HUP:0\""));
	assert_non_null(strstr(text, "\"rewrite\":[\"USR1:HUP\",\"TERM:0\"]"));
	assert_non_null(strstr(text, "\"exit-remap\":[\"143:0\"]"));
	assert_non_null(strstr(text, "\"command\":[\"my-server\",\"--port\",\"1\"]"));
	free(text);
	cJSON_Delete(j);

	/* No command (plan), no stop signal. */
	assert_int_equal(parse(fx, ARGV("plan", "--rewrite", "TERM:0"), NOENV), CONF_PLAN);
	j = conf_json(&fx->c);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "\"command\":[]"));
	assert_non_null(strstr(text, "\"stop-signal\":null"));
	assert_non_null(strstr(text, "\"control-token\":null"));
	free(text);
	cJSON_Delete(j);
}

/* The rewrite and remap lists that conf_json shows, given back as flags, give the same tables. */
static void
test_json_pairs_round_trip(void **state)
{
	struct fx *fx = *state;
	char *argv[80];
	struct sigrewrite want;
	const cJSON *item;
	cJSON *j;
	int argc = 0, i;

	PARSE_OK(fx,
		ARGV("--rewrite",
			"HUP:0,INT:RTMIN,RTMIN:RTMAX,RTMAX-1:USR1,USR2:32,QUIT:33,WINCH:64", "c"),
		NOENV);
	want = fx->c.rewrite;
	j = conf_json(&fx->c);
	assert_non_null(j);
	argv[argc++] = "graceinit";
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "rewrite"))
	{
		argv[argc++] = "--rewrite";
		argv[argc++] = fmt(fx, "%s", item->valuestring);
	}
	argv[argc++] = "c";
	argv[argc] = NULL;
	cJSON_Delete(j);
	if (parse(fx, argv, NOENV) != CONF_RUN)
		fail_msg("conf_json's rewrite list does not parse back: %s", fx->err);
	for (i = 0; i < SIGNALS_MAX; i++)
		assert_int_equal(fx->c.rewrite.to[i], want.to[i]);
}

/* Parsing twice into the same struct after conf_free, and conf_free twice, leak nothing. */
static void
test_free_reuse(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"rewrite\": [\"10:12\"]}");
	char **argv = ARGV("--config", path, "c");
	char err[256];

	assert_int_equal(
		conf_parse(&fx->c, 4, argv, ENVP("POD_NAME=x"), err, sizeof(err)), CONF_RUN);
	conf_free(&fx->c);
	conf_free(&fx->c);
	assert_null(fx->c.pod_name);
	assert_null(fx->c.config_path);
	assert_null(fx->c.control_socket);
	assert_int_equal(
		conf_parse(&fx->c, 2, ARGV("--bogus"), NOENV, err, sizeof(err)), CONF_ERROR);
	conf_free(&fx->c);
	assert_int_equal(conf_parse(&fx->c, 2, ARGV("--help"), NOENV, err, sizeof(err)), CONF_HELP);
}

/*
 * The Kubernetes options of the drain: --service, --deregister, --deregister-header,
 * --drain-connections, --endpoints, the pod's identity, --sidecar
 */

#define DNS_CHARS_WHY "a Service name is lower-case letters, digits and '-'"
#define DNS_LEN_WHY   "a Service name has at most 63 characters"
#define METHOD_WHY    "the method must be GET, POST, PUT, PATCH or DELETE"
#define DEREG_WHY     "expected 'METHOD URL', e.g. 'PUT http://consul:8500/...'"
#define HEADER_WHY    "expected 'Name: value'"
#define PORT_WHY(p)   "'" p "' is not a port (1-65535)"
#define ENDPOINTS_WHY "expected auto, on or off"

static void
test_service_list(void **state)
{
	struct fx *fx = *state;
	char *name63 = fmt(fx, "a%061db", 0);
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--service", "web", "c"), NOENV);
	assert_int_equal(c->services.n, 1);
	assert_string_equal(c->services.v[0], "web");
	c = PARSE_OK(fx, ARGV("--service", "web,api, web-mesh ,v2", "c"), NOENV);
	assert_int_equal(c->services.n, 4);
	assert_string_equal(c->services.v[0], "web");
	assert_string_equal(c->services.v[1], "api");
	assert_string_equal(c->services.v[2], "web-mesh");
	assert_string_equal(c->services.v[3], "v2");
	/* Repeated flags add up. */
	c = PARSE_OK(fx, ARGV("--service", "web", "--service=api,admin", "c"), NOENV);
	assert_int_equal(c->services.n, 3);
	assert_string_equal(c->services.v[2], "admin");
	/* 63 characters, digits, inner dashes; a Service name (DNS-1035) starts with a letter. */
	c = PARSE_OK(fx, ARGV("--service", name63, "--service", "a0-9,a--b", "c"), NOENV);
	assert_int_equal(c->services.n, 3);
	assert_string_equal(c->services.v[0], name63);
	assert_string_equal(c->services.v[2], "a--b");
	PARSE_ERR(fx, ARGV("--service", "0-9", "c"), NOENV,
		"--service: invalid value '0-9': a Service name starts with a letter and ends with "
		"a letter or digit");

	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_SERVICE=web,api"));
	assert_int_equal(c->services.n, 2);
	assert_string_equal(c->services.v[1], "api");
	c = PARSE_OK(fx,
		ARGV("--config", config_file(fx, "{\"service\": [\"web\", \"api\"]}"), "c"), NOENV);
	assert_int_equal(c->services.n, 2);
	assert_string_equal(c->services.v[0], "web");
	assert_string_equal(c->services.v[1], "api");
	c = PARSE_OK(
		fx, ARGV("--config", config_file(fx, "{\"service\": \"web,api\"}"), "c"), NOENV);
	assert_int_equal(c->services.n, 2);
}

/* A list from a higher source replaces the lower one, it does not merge with it. */
static void
test_service_precedence(void **state)
{
	struct fx *fx = *state;
	char *path = config_file(fx, "{\"service\": [\"from-file\", \"file-2\"]}");
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--config", path, "c"), ENVP("GRACEINIT_SERVICE=from-env"));
	assert_int_equal(c->services.n, 1);
	assert_string_equal(c->services.v[0], "from-env");
	c = PARSE_OK(fx, ARGV("--config", path, "--service", "from-flag", "c"),
		ENVP("GRACEINIT_SERVICE=from-env,env-2"));
	assert_int_equal(c->services.n, 1);
	assert_string_equal(c->services.v[0], "from-flag");
	c = PARSE_OK(fx, ARGV("--config", path, "c"), NOENV);
	assert_int_equal(c->services.n, 2);
}

static void
test_service_invalid(void **state)
{
	struct fx *fx = *state;
	char *name64 = fmt(fx, "a%062db", 0);
	char *path;

	PARSE_ERR(fx, ARGV("--service", "web_api", "c"), NOENV,
		"--service: invalid value 'web_api': " DNS_CHARS_WHY);
	PARSE_ERR(fx, ARGV("--service", "web.shop", "c"), NOENV,
		"--service: invalid value 'web.shop': " DNS_CHARS_WHY);
	PARSE_ERR(fx, ARGV("--service", "web api", "c"), NOENV,
		"--service: invalid value 'web api': " DNS_CHARS_WHY);
	PARSE_ERR(fx, ARGV("--service", "web-", "c"), NOENV,
		"--service: invalid value 'web-': " DNS_ENDS_WHY);
	PARSE_ERR(fx, ARGV("--service", "-", "c"), NOENV,
		"--service: invalid value '-': " DNS_ENDS_WHY);
	PARSE_ERR(fx, ARGV("--service", "web,,api", "c"), NOENV,
		"--service: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("--service", "web,", "c"), NOENV,
		"--service: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("--service", "", "c"), NOENV,
		"--service: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("--service", name64, "c"), NOENV,
		fmt(fx, "--service: invalid value '%s': " DNS_LEN_WHY, name64));
	PARSE_ERR(fx, ARGV("c"), ENVP(fmt(fx, "GRACEINIT_SERVICE=web,%s", name64)),
		fmt(fx, "GRACEINIT_SERVICE: invalid value '%s': " DNS_LEN_WHY, name64));
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_SERVICE=web,Api"),
		"GRACEINIT_SERVICE: invalid value 'Api': " DNS_CHARS_WHY);
	path = config_file(fx, "{\"service\": [\"web\", \"Shop/web\"]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"service\": invalid value 'Shop/web': " DNS_CHARS_WHY, path));
	path = config_file(fx, "{\"service\": [\"web\", true]}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"service\": expected an array of strings", path));
	path = config_file(fx, "{\"service\": {\"name\": \"web\"}}");
	PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
		fmt(fx, "%s: \"service\": expected a string or an array of strings", path));
}

static void
test_deregister_forms(void **state)
{
	static char *const good[] = {
		"PUT http://consul:8500/v1/agent/service/deregister/web-0",
		"GET http://127.0.0.1:8080/leave",
		"POST https://eureka.example/eureka/apps/WEB/web-0/status?value=OUT_OF_SERVICE",
		"PATCH https://[fd00::1]:8443/targets/10.244.1.17",
		"DELETE https://lb.example/v1/pools/web/members/10.244.1.17:8080",
	};
	struct fx *fx = *state;
	const struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = PARSE_OK(fx, ARGV("--deregister", good[i], "c"), NOENV);
		assert_int_equal(c->deregister.n, 1);
		assert_string_equal(c->deregister.v[0], good[i]);
	}
	/* Commas belong to the URL: the list separator is the line. */
	c = PARSE_OK(fx, ARGV("--deregister", "PUT http://r/x?tags=a,b,c", "c"), NOENV);
	assert_int_equal(c->deregister.n, 1);
	assert_string_equal(c->deregister.v[0], "PUT http://r/x?tags=a,b,c");
	/* Blanks around, and more than one space after the method. */
	c = PARSE_OK(fx, ARGV("--deregister", "  POST   http://r/leave  ", "c"), NOENV);
	assert_string_equal(c->deregister.v[0], "POST   http://r/leave");
	/* Repeated flags, and one value with several lines. */
	c = PARSE_OK(fx,
		ARGV("--deregister", "PUT http://a/1", "--deregister",
			"DELETE http://b/2\nPOST http://c/3", "c"),
		NOENV);
	assert_int_equal(c->deregister.n, 3);
	assert_string_equal(c->deregister.v[0], "PUT http://a/1");
	assert_string_equal(c->deregister.v[1], "DELETE http://b/2");
	assert_string_equal(c->deregister.v[2], "POST http://c/3");
}

static void
test_deregister_env_and_file(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_DEREGISTER=PUT http://consul:8500/v1/agent/service/deregister/"
		     "web-0\nDELETE https://lb/members/10.244.1.17"));
	assert_int_equal(c->deregister.n, 2);
	assert_string_equal(
		c->deregister.v[0], "PUT http://consul:8500/v1/agent/service/deregister/web-0");
	assert_string_equal(c->deregister.v[1], "DELETE https://lb/members/10.244.1.17");
	/* CRLF lines (a file edited on Windows, then put in a ConfigMap). */
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER=PUT http://a/1\r\nPUT http://b/2"));
	assert_int_equal(c->deregister.n, 2);
	assert_string_equal(c->deregister.v[0], "PUT http://a/1");
	/* The flag replaces the environment's list. */
	c = PARSE_OK(fx, ARGV("--deregister", "GET http://f/", "c"),
		ENVP("GRACEINIT_DEREGISTER=PUT http://a/1\nPUT http://b/2"));
	assert_int_equal(c->deregister.n, 1);
	assert_string_equal(c->deregister.v[0], "GET http://f/");
	c = PARSE_OK(fx,
		ARGV("--config",
			config_file(fx,
				"{\"deregister\": [\"PUT http://a/1\", \"DELETE http://b/2,3\"]}"),
			"c"),
		NOENV);
	assert_int_equal(c->deregister.n, 2);
	assert_string_equal(c->deregister.v[1], "DELETE http://b/2,3");
}

static void
test_deregister_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--deregister", "PUT ", "c"), NOENV,
		"--deregister: invalid value 'PUT': " DEREG_WHY);
	PARSE_ERR(fx, ARGV("--deregister", "http://consul:8500/", "c"), NOENV,
		"--deregister: invalid value 'http://consul:8500/': " DEREG_WHY);
	PARSE_ERR(fx, ARGV("--deregister", "PUT\thttp://x/", "c"), NOENV,
		"--deregister: invalid value 'PUT\thttp://x/': " DEREG_WHY);
	PARSE_ERR(fx, ARGV("--deregister", "HEAD http://x/", "c"), NOENV,
		"--deregister: invalid value 'HEAD http://x/': " METHOD_WHY);
	PARSE_ERR(fx, ARGV("--deregister", "PUTS http://x/", "c"), NOENV,
		"--deregister: invalid value 'PUTS http://x/': " METHOD_WHY);
	PARSE_ERR(fx, ARGV("--deregister", " http://x/ PUT", "c"), NOENV,
		"--deregister: invalid value 'http://x/ PUT': " METHOD_WHY);
	PARSE_ERR(fx, ARGV("--deregister", "PUT consul:8500/v1", "c"), NOENV,
		"--deregister: invalid value 'PUT consul:8500/v1': expected an http:// or https:// "
		"URL");
	PARSE_ERR(fx, ARGV("--deregister", "DELETE http://", "c"), NOENV,
		"--deregister: invalid value 'DELETE http://': the URL has no host");
	PARSE_ERR(fx, ARGV("--deregister", "PUT http://x/ now", "c"), NOENV,
		"--deregister: invalid value 'PUT http://x/ now': a URL cannot contain white "
		"space");
	PARSE_ERR(fx, ARGV("--deregister", "", "c"), NOENV,
		"--deregister: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER=PUT http://a/\nBOGUS http://b/"),
		"GRACEINIT_DEREGISTER: invalid value 'BOGUS http://b/': " METHOD_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER=put http://a/"),
		"GRACEINIT_DEREGISTER: invalid value 'put http://a/': " METHOD_WHY);
	/* Blank lines of a multi-line value (a YAML block) carry nothing and are skipped. */
	assert_int_equal(
		PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER=PUT http://a/\n\nPUT http://b/"))
			->deregister.n,
		2);
}

/*
 * The environment's lists are one per line, and a manifest's block scalar (value: |) ends with
 * a newline: that last newline ends the last line, it does not start an empty one.
 */
static void
test_deregister_env_trailing_newline(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_DEREGISTER=PUT http://consul:8500/v1/agent/service/deregister/"
		     "web-0\nDELETE https://lb/members/10.244.1.17\n"));
	assert_int_equal(c->deregister.n, 2);
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER_HEADER=X-Consul-Token: abc\n"));
	assert_int_equal(c->deregister_headers.n, 1);
	assert_string_equal(c->deregister_headers.v[0], "X-Consul-Token: abc");
}

static void
test_deregister_header(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx,
		ARGV("--deregister-header", "Authorization: Bearer abc.def", "--deregister-header",
			"X-Consul-Token:0c3e", "--deregister-header", "x-api_key~1!#$%&'*+-.^`|: v",
			"c"),
		NOENV);
	assert_int_equal(c->deregister_headers.n, 3);
	assert_string_equal(c->deregister_headers.v[0], "Authorization: Bearer abc.def");
	assert_string_equal(c->deregister_headers.v[1], "X-Consul-Token:0c3e");
	assert_string_equal(c->deregister_headers.v[2], "x-api_key~1!#$%&'*+-.^`|: v");
	/* A comma belongs to the value. */
	c = PARSE_OK(fx, ARGV("--deregister-header", "Accept: a/b, c/d", "c"), NOENV);
	assert_int_equal(c->deregister_headers.n, 1);
	assert_string_equal(c->deregister_headers.v[0], "Accept: a/b, c/d");
	/* One per line, in the environment as in a flag; each line is checked on its own. */
	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_DEREGISTER_HEADER=Authorization: Bearer t\nX-Consul-Token: c"));
	assert_int_equal(c->deregister_headers.n, 2);
	assert_string_equal(c->deregister_headers.v[1], "X-Consul-Token: c");
	c = PARSE_OK(fx, ARGV("--deregister-header", "X-A: 1\r\nX-B: 2", "c"), NOENV);
	assert_int_equal(c->deregister_headers.n, 2);
	assert_string_equal(c->deregister_headers.v[0], "X-A: 1");
	assert_string_equal(c->deregister_headers.v[1], "X-B: 2");
	c = PARSE_OK(fx,
		ARGV("--config",
			config_file(fx, "{\"deregister-header\": [\"A: 1\", \"B: 2, 3\"]}"), "c"),
		NOENV);
	assert_int_equal(c->deregister_headers.n, 2);
	assert_string_equal(c->deregister_headers.v[1], "B: 2, 3");
}

static void
test_deregister_header_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--deregister-header", "Bad Name: v", "c"), NOENV,
		"--deregister-header: invalid value 'Bad Name: v': 'Bad Name' is not a header "
		"name");
	PARSE_ERR(fx, ARGV("--deregister-header", "X(1): v", "c"), NOENV,
		"--deregister-header: invalid value 'X(1): v': 'X(1)' is not a header name");
	PARSE_ERR(fx, ARGV("--deregister-header", "X-Token : v", "c"), NOENV,
		"--deregister-header: invalid value 'X-Token : v': 'X-Token ' is not a header "
		"name");
	PARSE_ERR(fx, ARGV("--deregister-header", "X\"Q\": v", "c"), NOENV,
		"--deregister-header: invalid value 'X\"Q\": v': 'X\"Q\"' is not a header name");
	PARSE_ERR(fx, ARGV("--deregister-header", ": v", "c"), NOENV,
		"--deregister-header: invalid value ': v': " HEADER_WHY);
	PARSE_ERR(fx, ARGV("--deregister-header", "Authorization Bearer x", "c"), NOENV,
		"--deregister-header: invalid value 'Authorization Bearer x': " HEADER_WHY);
	PARSE_ERR(fx, ARGV("--deregister-header", "", "c"), NOENV,
		"--deregister-header: invalid value '': the value is empty");
	/* A carriage return inside a line would split the request's header. */
	PARSE_ERR(fx, ARGV("--deregister-header", "X-A: 1\rX-Injected: 2", "c"), NOENV,
		"--deregister-header: invalid value 'X-A: 1\rX-Injected: 2': a header cannot "
		"contain a line break");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER_HEADER=X-A: 1\rSet-Cookie: x"),
		"GRACEINIT_DEREGISTER_HEADER: invalid value 'X-A: 1\rSet-Cookie: x': a header "
		"cannot "
		"contain a line break");
	/* Each line of a value is a header: a bad second line is named. */
	PARSE_ERR(fx, ARGV("--deregister-header", "X-A: 1\nnot a header", "c"), NOENV,
		"--deregister-header: invalid value 'not a header': " HEADER_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_DEREGISTER_HEADER=X-A: 1\n: 2"),
		"GRACEINIT_DEREGISTER_HEADER: invalid value ': 2': " HEADER_WHY);
}

/*
 * --deregister-header carries credentials (its help says "e.g. a token"): like --control-token,
 * they must not appear in conf_json, which /status and "graceinit plan" print.
 */
static void
test_deregister_header_not_shown(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;
	cJSON *j;
	char *text;

	c = PARSE_OK(fx,
		ARGV("--deregister", "PUT http://consul:8500/v1/agent/service/deregister/web-0",
			"--deregister-header", "X-Consul-Token: 5f3e-s3cr3t-9a1b", "c"),
		NOENV);
	j = conf_json(c);
	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	assert_non_null(text);
	if (strstr(text, "5f3e-s3cr3t-9a1b") != NULL) {
		print_error("conf_json: %s\n", text);
		free(text);
		fail_msg("the --deregister-header value (a token) is in conf_json's output");
	}
	free(text);
}

static void
test_drain_connections(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--drain-connections", "8080", "c"), NOENV);
	assert_int_equal(c->drain_connections.n, 1);
	assert_string_equal(c->drain_connections.v[0], "8080");
	c = PARSE_OK(fx, ARGV("--drain-connections", "1, 8080 ,65535", "c"), NOENV);
	assert_int_equal(c->drain_connections.n, 3);
	assert_string_equal(c->drain_connections.v[0], "1");
	assert_string_equal(c->drain_connections.v[1], "8080");
	assert_string_equal(c->drain_connections.v[2], "65535");
	c = PARSE_OK(
		fx, ARGV("--drain-connections", "8080", "--drain-connections=8443", "c"), NOENV);
	assert_int_equal(c->drain_connections.n, 2);
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_DRAIN_CONNECTIONS=8080,9090"));
	assert_int_equal(c->drain_connections.n, 2);
	assert_string_equal(c->drain_connections.v[1], "9090");
	/* A JSON number stands for the text of the port. */
	c = PARSE_OK(fx,
		ARGV("--config", config_file(fx, "{\"drain-connections\": [8080, \"8443\"]}"), "c"),
		NOENV);
	assert_int_equal(c->drain_connections.n, 2);
	assert_string_equal(c->drain_connections.v[0], "8080");
	assert_string_equal(c->drain_connections.v[1], "8443");
	c = PARSE_OK(
		fx, ARGV("--config", config_file(fx, "{\"drain-connections\": 8080}"), "c"), NOENV);
	assert_int_equal(c->drain_connections.n, 1);
	/* The flag replaces the environment's list. */
	c = PARSE_OK(fx, ARGV("--drain-connections", "80", "c"),
		ENVP("GRACEINIT_DRAIN_CONNECTIONS=8080,9090"));
	assert_int_equal(c->drain_connections.n, 1);
	assert_string_equal(c->drain_connections.v[0], "80");
}

static void
test_drain_connections_invalid(void **state)
{
	struct fx *fx = *state;

	PARSE_ERR(fx, ARGV("--drain-connections", "0", "c"), NOENV,
		"--drain-connections: invalid value '0': " PORT_WHY("0"));
	PARSE_ERR(fx, ARGV("--drain-connections", "65536", "c"), NOENV,
		"--drain-connections: invalid value '65536': " PORT_WHY("65536"));
	PARSE_ERR(fx, ARGV("--drain-connections", "8080,-1", "c"), NOENV,
		"--drain-connections: invalid value '-1': " PORT_WHY("-1"));
	PARSE_ERR(fx, ARGV("--drain-connections", "+80", "c"), NOENV,
		"--drain-connections: invalid value '+80': " PORT_WHY("+80"));
	PARSE_ERR(fx, ARGV("--drain-connections", "0x50", "c"), NOENV,
		"--drain-connections: invalid value '0x50': " PORT_WHY("0x50"));
	PARSE_ERR(fx, ARGV("--drain-connections", "80.0", "c"), NOENV,
		"--drain-connections: invalid value '80.0': " PORT_WHY("80.0"));
	PARSE_ERR(fx, ARGV("--drain-connections", "99999999999999999999", "c"), NOENV,
		"--drain-connections: invalid value '99999999999999999999': " PORT_WHY(
			"99999999999999999999"));
	PARSE_ERR(fx, ARGV("--drain-connections", "8080 8443", "c"), NOENV,
		"--drain-connections: invalid value '8080 8443': " PORT_WHY("8080 8443"));
	PARSE_ERR(fx, ARGV("--drain-connections", "8080,", "c"), NOENV,
		"--drain-connections: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_DRAIN_CONNECTIONS=8080,http"),
		"GRACEINIT_DRAIN_CONNECTIONS: invalid value 'http': " PORT_WHY("http"));
}

/* At most 16 ports (CONNS_MAX_PORTS), however they are given. */
static void
test_drain_connections_at_most_16(void **state)
{
	struct fx *fx = *state;
	char *p16 = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16";
	char *p17 = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17";
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--drain-connections", p16, "c"), NOENV);
	assert_int_equal(c->drain_connections.n, 16);
	assert_string_equal(c->drain_connections.v[15], "16");
	PARSE_ERR(fx, ARGV("--drain-connections", p17, "c"), NOENV,
		"--drain-connections: at most 16 ports (17 given)");
	PARSE_ERR(fx, ARGV("--drain-connections", p16, "--drain-connections", "80,443", "c"), NOENV,
		"--drain-connections: at most 16 ports (18 given)");
	PARSE_ERR(fx, ARGV("c"), ENVP(fmt(fx, "GRACEINIT_DRAIN_CONNECTIONS=%s", p17)),
		"--drain-connections: at most 16 ports (17 given)");
	PARSE_ERR(fx,
		ARGV("--config",
			config_file(fx,
				"{\"drain-connections\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, "
				"13, "
				"14, 15, 16, 17]}"),
			"c"),
		NOENV, "--drain-connections: at most 16 ports (17 given)");
	/* 17 in the environment, replaced by a flag's 16: fine. */
	c = PARSE_OK(fx, ARGV("--drain-connections", p16, "c"),
		ENVP(fmt(fx, "GRACEINIT_DRAIN_CONNECTIONS=%s", p17)));
	assert_int_equal(c->drain_connections.n, 16);
}

static void
test_endpoints_mode(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(PARSE_OK(fx, ARGV("c"), NOENV)->endpoints, CONF_ENDPOINTS_AUTO);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--endpoints", "on", "c"), NOENV)->endpoints, CONF_ENDPOINTS_ON);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--endpoints=off", "c"), NOENV)->endpoints, CONF_ENDPOINTS_OFF);
	assert_int_equal(PARSE_OK(fx, ARGV("--endpoints", "off", "--endpoints", "auto", "c"), NOENV)
				 ->endpoints,
		CONF_ENDPOINTS_AUTO);
	assert_int_equal(PARSE_OK(fx, ARGV("--endpoints", " on ", "c"), NOENV)->endpoints,
		CONF_ENDPOINTS_ON);
	assert_int_equal(PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_ENDPOINTS=on"))->endpoints,
		CONF_ENDPOINTS_ON);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--endpoints", "auto", "c"), ENVP("GRACEINIT_ENDPOINTS=off"))
			->endpoints,
		CONF_ENDPOINTS_AUTO);
	assert_int_equal(
		PARSE_OK(fx, ARGV("--config", config_file(fx, "{\"endpoints\": \"on\"}"), "c"),
			NOENV)
			->endpoints,
		CONF_ENDPOINTS_ON);

	PARSE_ERR(fx, ARGV("--endpoints", "ON", "c"), NOENV,
		"--endpoints: invalid value 'ON': " ENDPOINTS_WHY);
	PARSE_ERR(fx, ARGV("--endpoints", "true", "c"), NOENV,
		"--endpoints: invalid value 'true': " ENDPOINTS_WHY);
	PARSE_ERR(fx, ARGV("--endpoints=", "c"), NOENV,
		"--endpoints: invalid value '': " ENDPOINTS_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_ENDPOINTS=enabled"),
		"GRACEINIT_ENDPOINTS: invalid value 'enabled': " ENDPOINTS_WHY);
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_ENDPOINTS=on,off"),
		"GRACEINIT_ENDPOINTS: invalid value 'on,off': " ENDPOINTS_WHY);
	{
		char *path = config_file(fx, "{\"endpoints\": true}");

		PARSE_ERR(fx, ARGV("--config", path, "c"), NOENV,
			fmt(fx, "%s: \"endpoints\": expected a string", path));
	}
	PARSE_ERR(fx, ARGV("--endpoints"), NOENV, "--endpoints needs a value (auto|on|off)");
}

static void
test_pod_identity(void **state)
{
	struct fx *fx = *state;
	const struct conf *c;

	c = PARSE_OK(fx,
		ARGV("--pod-name", "web-6d8f7b9c5d-4xq2m", "--pod-ip", "10.244.1.17", "--namespace",
			"shop", "c"),
		ENVP("POD_NAME=other", "POD_IP=10.9.9.9", "HOSTNAME=host"));
	assert_string_equal(c->pod_name, "web-6d8f7b9c5d-4xq2m");
	assert_string_equal(c->pod_ip, "10.244.1.17");
	assert_string_equal(c->namespace, "shop");

	/* The downward API's POD_NAME before HOSTNAME; GRACEINIT_POD_NAME before both. */
	c = PARSE_OK(fx, ARGV("c"), ENVP("HOSTNAME=web-host", "POD_NAME=web-pod"));
	assert_string_equal(c->pod_name, "web-pod");
	c = PARSE_OK(fx, ARGV("c"), ENVP("POD_NAME=web-pod", "HOSTNAME=web-host"));
	assert_string_equal(c->pod_name, "web-pod");
	c = PARSE_OK(fx, ARGV("c"),
		ENVP("GRACEINIT_POD_NAME=web-g", "POD_NAME=web-pod", "HOSTNAME=web-host"));
	assert_string_equal(c->pod_name, "web-g");
	c = PARSE_OK(fx, ARGV("c"), ENVP("HOSTNAME=web-host"));
	assert_string_equal(c->pod_name, "web-host");
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_POD_IP=fd00:10:244:1::11", "POD_IP=10.0.0.1"));
	assert_string_equal(c->pod_ip, "fd00:10:244:1::11");
	c = PARSE_OK(fx, ARGV("c"), ENVP("POD_IP=fd00:10:244:1::11"));
	assert_string_equal(c->pod_ip, "fd00:10:244:1::11");

	/* The namespace is not derived here (the service account's file is read later). */
	c = PARSE_OK(fx, ARGV("c"),
		ENVP("KUBERNETES_SERVICE_HOST=10.96.0.1", "POD_NAMESPACE=shop", "NAMESPACE=shop"));
	assert_null(c->namespace);
	c = PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_NAMESPACE=shop"));
	assert_string_equal(c->namespace, "shop");
	c = PARSE_OK(fx,
		ARGV("--config",
			config_file(fx,
				"{\"pod-name\": \"web-f\", \"pod-ip\": \"10.1.1.1\", "
				"\"namespace\": "
				"\"shop-f\"}"),
			"c"),
		ENVP("POD_NAME=web-pod"));
	assert_string_equal(c->pod_name, "web-f");
	assert_string_equal(c->pod_ip, "10.1.1.1");
	assert_string_equal(c->namespace, "shop-f");

	PARSE_ERR(fx, ARGV("--namespace", "", "c"), NOENV,
		"--namespace: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("--pod-ip=", "c"), NOENV,
		"--pod-ip: invalid value '': the value is empty");
	PARSE_ERR(fx, ARGV("c"), ENVP("GRACEINIT_POD_NAME="),
		"GRACEINIT_POD_NAME: invalid value '': the value is empty");
}

static void
test_serviceaccount_dir(void **state)
{
	struct fx *fx = *state;

	assert_string_equal(PARSE_OK(fx, ARGV("c"), NOENV)->serviceaccount_dir,
		"/var/run/secrets/kubernetes.io/serviceaccount");
	assert_string_equal(PARSE_OK(fx, ARGV("--serviceaccount-dir", "/tmp/sa", "c"), NOENV)
				    ->serviceaccount_dir,
		"/tmp/sa");
	assert_string_equal(PARSE_OK(fx, ARGV("c"), ENVP("GRACEINIT_SERVICEACCOUNT_DIR=/run/sa"))
				    ->serviceaccount_dir,
		"/run/sa");
	PARSE_ERR(fx, ARGV("--serviceaccount-dir", "", "c"), NOENV,
		"--serviceaccount-dir: invalid value '': the value is empty");
}

static void
test_sidecar(void **state)
{
	struct fx *fx = *state;
	char *no_args[] = { "graceinit", NULL };
	char *config[] = { "graceinit", "--config", NULL, NULL };
	const struct conf *c;

	c = PARSE_OK(fx, ARGV("--sidecar"), NOENV);
	assert_true(c->sidecar);
	assert_null(c->argv);
	c = PARSE_OK(fx, ARGV("--sidecar", "--"), NOENV);
	assert_true(c->sidecar);
	assert_null(c->argv);
	c = PARSE_OK(fx, ARGV("--sidecar", "--http", ":9797"), NOENV);
	assert_true(c->sidecar);
	assert_string_equal(c->http, ":9797");
	c = PARSE_OK(fx, ARGV("--no-sidecar", "c"), ENVP("GRACEINIT_SIDECAR=true"));
	assert_false(c->sidecar);
	assert_string_equal(c->argv[0], "c");
	assert_true(PARSE_OK(fx, ARGV("--sidecar=true"), NOENV)->sidecar);
	assert_true(PARSE_OK(fx, no_args, ENVP("GRACEINIT_SIDECAR=true"))->sidecar);
	config[2] = config_file(fx, "{\"sidecar\": true}");
	assert_true(PARSE_OK(fx, config, NOENV)->sidecar);
	assert_int_equal(parse(fx, ARGV("plan", "--sidecar"), NOENV), CONF_PLAN);
	assert_true(fx->c.sidecar);

	PARSE_ERR(fx, ARGV("--sidecar", "sleep", "infinity"), NOENV,
		"--sidecar runs no command, but 'sleep' was given");
	PARSE_ERR(fx, ARGV("--sidecar", "--", "my-server", "--port", "8080"), NOENV,
		"--sidecar runs no command, but 'my-server' was given");
	PARSE_ERR(fx, ARGV("my-server"), ENVP("GRACEINIT_SIDECAR=true"),
		"--sidecar runs no command, but 'my-server' was given");
	PARSE_ERR(fx, ARGV("--sidecar=false"), NOENV, NO_COMMAND);
	PARSE_ERR(fx, ARGV("--no-sidecar"), ENVP("GRACEINIT_SIDECAR=true"), NO_COMMAND);
	PARSE_ERR(fx, no_args, NOENV, NO_COMMAND);
}

#define CONF_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CONF_TEST(test_duration_valid),
		CONF_TEST(test_duration_invalid),
		CONF_TEST(test_duration_format),
		CONF_TEST(test_duration_round_trip),
		CONF_TEST(test_defaults),
		CONF_TEST(test_command_first_non_option),
		CONF_TEST(test_command_after_double_dash),
		CONF_TEST(test_command_dash),
		CONF_TEST(test_no_command),
		CONF_TEST(test_help_version),
		CONF_TEST(test_usage),
		CONF_TEST(test_plan),
		CONF_TEST(test_flag_unknown),
		CONF_TEST(test_flag_missing_value),
		CONF_TEST(test_flag_bool),
		CONF_TEST(test_flag_bool_invalid),
		CONF_TEST(test_flag_duration),
		CONF_TEST(test_flag_signal),
		CONF_TEST(test_flag_rewrite),
		CONF_TEST(test_flag_rewrite_term_sets_stop_signal),
		CONF_TEST(test_flag_rewrite_invalid),
		CONF_TEST(test_flag_exit_remap),
		CONF_TEST(test_flag_log),
		CONF_TEST(test_flag_http_and_drain),
		CONF_TEST(test_kill_margin_within_grace),
		CONF_TEST(test_flag_readiness),
		CONF_TEST(test_ready_bounds),
		CONF_TEST(test_off_values),
		CONF_TEST(test_string_values_checked),
		CONF_TEST(test_value_too_long),
		CONF_TEST(test_error_buffer_small),
		CONF_TEST(test_env_every_type),
		CONF_TEST(test_env_invalid),
		CONF_TEST(test_env_unknown),
		CONF_TEST(test_env_others_ignored),
		CONF_TEST(test_env_config_other_case_not_ignored),
		CONF_TEST(test_file_every_type),
		CONF_TEST(test_file_numbers),
		CONF_TEST(test_file_from_env),
		CONF_TEST(test_file_errors),
		CONF_TEST(test_file_too_big),
		CONF_TEST(test_file_invalid_json),
		CONF_TEST(test_file_trailing_garbage),
		CONF_TEST(test_file_not_object),
		CONF_TEST(test_file_unknown_key),
		CONF_TEST(test_file_wrong_type),
		CONF_TEST(test_file_wrong_type_in_array),
		CONF_TEST(test_file_bad_values),
		CONF_TEST(test_file_huge_number),
		CONF_TEST(test_precedence_scalar),
		CONF_TEST(test_precedence_bool),
		CONF_TEST(test_precedence_rewrite),
		CONF_TEST(test_precedence_exit_remap),
		CONF_TEST(test_precedence_string),
		CONF_TEST(test_precedence_bad_lower_value),
		CONF_TEST(test_kubernetes_defaults),
		CONF_TEST(test_pod_name),
		CONF_TEST(test_json),
		CONF_TEST(test_json_pairs_round_trip),
		CONF_TEST(test_free_reuse),
		CONF_TEST(test_service_list),
		CONF_TEST(test_service_precedence),
		CONF_TEST(test_service_invalid),
		CONF_TEST(test_deregister_forms),
		CONF_TEST(test_deregister_env_and_file),
		CONF_TEST(test_deregister_invalid),
		CONF_TEST(test_deregister_env_trailing_newline),
		CONF_TEST(test_deregister_header),
		CONF_TEST(test_deregister_header_invalid),
		CONF_TEST(test_deregister_header_not_shown),
		CONF_TEST(test_drain_connections),
		CONF_TEST(test_drain_connections_invalid),
		CONF_TEST(test_drain_connections_at_most_16),
		CONF_TEST(test_endpoints_mode),
		CONF_TEST(test_pod_identity),
		CONF_TEST(test_serviceaccount_dir),
		CONF_TEST(test_sidecar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
