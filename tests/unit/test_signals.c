/*
 * test_signals.c: signal names <-> numbers, the forwardable set and the rewrite table.
 * Pure functions only: nothing here blocks or sends a signal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <string.h>

#include "signals.h"

/* Parses s, which must be accepted, and returns the number. */
static int
parse_ok(const char *s)
{
	int signo = -12345;

	if (signals_parse(s, &signo) != 0)
		fail_msg("signals_parse(\"%s\") rejected a valid signal", s);
	return signo;
}

/* s must be rejected, and the output left alone. */
static void
parse_bad(const char *s)
{
	int signo = -12345;

	if (signals_parse(s, &signo) != -1)
		fail_msg("signals_parse(\"%s\") accepted an invalid signal as %d", s, signo);
	assert_int_equal(signo, -12345);
}

static void
test_parse_names(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("TERM"), SIGTERM);
	assert_int_equal(parse_ok("SIGTERM"), SIGTERM);
	assert_int_equal(parse_ok("term"), SIGTERM);
	assert_int_equal(parse_ok("sigterm"), SIGTERM);
	assert_int_equal(parse_ok("SigTerm"), SIGTERM);
	assert_int_equal(parse_ok("HUP"), SIGHUP);
	assert_int_equal(parse_ok("QUIT"), SIGQUIT);
	assert_int_equal(parse_ok("KILL"), SIGKILL);
	assert_int_equal(parse_ok("WINCH"), SIGWINCH);
	assert_int_equal(parse_ok("USR1"), SIGUSR1);
	assert_int_equal(parse_ok("SIGUSR2"), SIGUSR2);
	assert_int_equal(parse_ok("STKFLT"), 16);
	assert_int_equal(parse_ok("SYS"), SIGSYS);
	assert_int_equal(parse_ok("PWR"), SIGPWR);
}

static void
test_parse_aliases(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("IOT"), SIGABRT);
	assert_int_equal(parse_ok("SIGIOT"), SIGABRT);
	assert_int_equal(parse_ok("CLD"), SIGCHLD);
	assert_int_equal(parse_ok("sigcld"), SIGCHLD);
	assert_int_equal(parse_ok("POLL"), SIGIO);
	assert_int_equal(parse_ok("IO"), SIGIO);
}

static void
test_parse_numbers(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("15"), 15);
	assert_int_equal(parse_ok("1"), 1);
	assert_int_equal(parse_ok("9"), 9);
	assert_int_equal(parse_ok("64"), 64);
	assert_int_equal(parse_ok("015"), 15);
	assert_int_equal(parse_ok("32"), 32);
}

static void
test_parse_realtime(void **state)
{
	(void)state;
	assert_int_equal(SIGRTMIN, 34);
	assert_int_equal(SIGRTMAX, 64);
	assert_int_equal(parse_ok("RTMIN"), SIGRTMIN);
	assert_int_equal(parse_ok("SIGRTMIN"), SIGRTMIN);
	assert_int_equal(parse_ok("rtmin"), SIGRTMIN);
	assert_int_equal(parse_ok("RTMIN+0"), SIGRTMIN);
	assert_int_equal(parse_ok("RTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(parse_ok("SIGRTMIN+30"), SIGRTMAX);
	assert_int_equal(parse_ok("RTMAX"), SIGRTMAX);
	assert_int_equal(parse_ok("SIGRTMAX"), SIGRTMAX);
	assert_int_equal(parse_ok("RTMAX-2"), SIGRTMAX - 2);
	assert_int_equal(parse_ok("sigrtmax-30"), SIGRTMIN);
}

static void
test_parse_rejects(void **state)
{
	(void)state;
	parse_bad("0");
	parse_bad("00");
	parse_bad("65");
	parse_bad("99999999999999999999999");
	parse_bad("-1");
	parse_bad("+15");
	parse_bad("15x");
	parse_bad(" 15");
	parse_bad("");
	parse_bad("SIG");
	parse_bad("NOPE");
	parse_bad("SIGNOPE");
	parse_bad("SIG15");
	parse_bad("SIGSIGTERM");
	parse_bad("TERMX");
	parse_bad("RTMIN+99");
	parse_bad("RTMIN+31");
	parse_bad("RTMIN-1");
	parse_bad("RTMIN+");
	parse_bad("RTMIN+-1");
	parse_bad("RTMINX");
	parse_bad("RTMAX+1");
	parse_bad("RTMAX-31");
	parse_bad("RTMAX-");
}

static void
test_name_standard(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(signals_name(SIGTERM, buf, sizeof(buf)), "SIGTERM");
	assert_string_equal(signals_name(SIGHUP, buf, sizeof(buf)), "SIGHUP");
	assert_string_equal(signals_name(SIGKILL, buf, sizeof(buf)), "SIGKILL");
	assert_string_equal(signals_name(SIGSYS, buf, sizeof(buf)), "SIGSYS");
	assert_string_equal(signals_name(16, buf, sizeof(buf)), "SIGSTKFLT");
	/* Aliases are never the name shown. */
	assert_string_equal(signals_name(SIGABRT, buf, sizeof(buf)), "SIGABRT");
	assert_string_equal(signals_name(SIGCHLD, buf, sizeof(buf)), "SIGCHLD");
	assert_string_equal(signals_name(SIGIO, buf, sizeof(buf)), "SIGIO");
	/* The result is buf itself. */
	assert_ptr_equal(signals_name(SIGINT, buf, sizeof(buf)), buf);
}

static void
test_name_realtime(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(signals_name(SIGRTMIN + 1, buf, sizeof(buf)), "SIGRTMIN+1");
	assert_string_equal(signals_name(SIGRTMIN + 3, buf, sizeof(buf)), "SIGRTMIN+3");
	assert_string_equal(signals_name(SIGRTMAX - 1, buf, sizeof(buf)), "SIGRTMIN+29");
	assert_string_equal(signals_name(SIGRTMAX, buf, sizeof(buf)), "SIGRTMAX");
}

/*
 * SIGRTMIN is named like SIGRTMAX, by its bare name, as bash's and util-linux's kill -l do
 * (a round trip through signals_parse works either way).
 */
static void
test_name_rtmin(void **state)
{
	char buf[32];
	int signo;

	(void)state;
	assert_string_equal(signals_name(SIGRTMIN, buf, sizeof(buf)), "SIGRTMIN");
	assert_int_equal(signals_parse(buf, &signo), 0);
	assert_int_equal(signo, SIGRTMIN);
}

static void
test_name_unknown(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(signals_name(0, buf, sizeof(buf)), "signal 0");
	assert_string_equal(signals_name(32, buf, sizeof(buf)), "signal 32");
	assert_string_equal(signals_name(33, buf, sizeof(buf)), "signal 33");
	assert_string_equal(signals_name(65, buf, sizeof(buf)), "signal 65");
	assert_string_equal(signals_name(-1, buf, sizeof(buf)), "signal -1");
}

static void
test_name_truncated(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_string_equal(signals_name(SIGRTMIN + 3, buf, 5), "SIGR");
	assert_int_equal(buf[5], 'x');
}

/* Every number that has a name parses back from it. */
static void
test_name_round_trip(void **state)
{
	char buf[32];
	int s, back;

	(void)state;
	for (s = 1; s < SIGNALS_MAX; s++) {
		if (s == 32 || s == 33)
			continue;
		signals_name(s, buf, sizeof(buf));
		if (signals_parse(buf, &back) != 0 || back != s)
			fail_msg("signal %d is named \"%s\", which does not parse back", s, buf);
		/* Without the SIG prefix too. */
		if (signals_parse(buf + 3, &back) != 0 || back != s)
			fail_msg("signal %d: \"%s\" does not parse back", s, buf + 3);
	}
}

static void
test_forwardable(void **state)
{
	static const int no[] = { SIGKILL, SIGSTOP, SIGCHLD, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
		SIGTRAP, SIGSYS, 32, 33, 0, 65, -1 };
	static const int yes[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTSTP,
		SIGTTIN, SIGTTOU, SIGCONT, SIGWINCH, SIGABRT, SIGPIPE, SIGALRM, 16, 34, 50, 64 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (signals_forwardable(no[i]))
			fail_msg("signal %d must not be forwardable", no[i]);
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!signals_forwardable(yes[i]))
			fail_msg("signal %d must be forwardable", yes[i]);
	assert_true(signals_forwardable(SIGRTMIN));
	assert_true(signals_forwardable(SIGRTMAX));
}

static void
test_rewrite_init(void **state)
{
	struct sigrewrite rw;
	int s;

	(void)state;
	memset(&rw, 0x55, sizeof(rw));
	signals_rewrite_init(&rw);
	for (s = 0; s < SIGNALS_MAX; s++)
		assert_int_equal(rw.to[s], s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_names),
		cmocka_unit_test(test_parse_aliases),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_realtime),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_name_standard),
		cmocka_unit_test(test_name_realtime),
		cmocka_unit_test(test_name_rtmin),
		cmocka_unit_test(test_name_unknown),
		cmocka_unit_test(test_name_truncated),
		cmocka_unit_test(test_name_round_trip),
		cmocka_unit_test(test_forwardable),
		cmocka_unit_test(test_rewrite_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
