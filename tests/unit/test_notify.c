/*
 * test_notify.c: the sd_notify protocol (sd_notify(3)) as graceinit applies it. Most tests feed
 * datagrams straight to notify_message with a struct notify set up by hand (a readiness list
 * with the "notify" check, no loop, no socket), so each line of the protocol is one assertion:
 * READY=1 passes the check, STOPPING=1 fails it, STATUS= is kept and shown, WATCHDOG=1 and
 * WATCHDOG=trigger feed the watchdog, anything else is ignored. The last tests open the real
 * abstract socket on a real loop and send it datagrams from this process, set as the child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "notify.h"
#include "ready.h"

#define NOW              5000
#define WATCHDOG_MS      3000
#define WAITING          "waiting for READY=1"
#define SEND(fx, s)      notify_message(&(fx)->n, s, sizeof(s) - 1, NOW)
#define STOP_AFTER       200 /* ms the real-socket tests run the loop for */
#define REAL_WATCHDOG_MS 500
#define NOT_THE_PID      0x3ffffff0

struct fx {
	struct ready r;
	struct notify n;
	struct loop loop;
	bool loop_open;
	struct loop_timer stop;
	int sender;
	char **env;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	ready_init(&fx->r);
	fx->n.ready = &fx->r;
	fx->n.loop = NULL;
	fx->n.fd = -1;
	fx->n.watchdog_ms = 0;
	fx->n.check = ready_add(&fx->r, "notify", WAITING);
	fx->sender = -1;
	*state = fx;
	return fx->n.check == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->loop_open) {
		notify_close(&fx->n);
		loop_timer_cancel(&fx->loop, &fx->stop);
		loop_close(&fx->loop);
	}
	if (fx->sender >= 0)
		close(fx->sender);
	free(fx->env);
	free(fx);
	return 0;
}

static const struct ready_check *
check(struct fx *fx)
{
	return &fx->r.checks[fx->n.check];
}

static void
test_ready(void **state)
{
	struct fx *fx = *state;

	assert_false(check(fx)->ok);
	assert_string_equal(check(fx)->detail, WAITING);
	SEND(fx, "READY=1");
	assert_true(check(fx)->ok);
	assert_true(ready_all(&fx->r));
	assert_string_equal(check(fx)->detail, "READY=1");
	assert_int_equal(check(fx)->changed_ms, NOW);
	assert_int_equal(fx->n.datagrams, 1);
}

static void
test_stopping(void **state)
{
	struct fx *fx = *state;

	SEND(fx, "READY=1\n");
	assert_true(check(fx)->ok);
	notify_message(&fx->n, "STOPPING=1\n", 11, NOW + 100);
	assert_false(check(fx)->ok);
	assert_false(ready_all(&fx->r));
	assert_string_equal(check(fx)->detail, "STOPPING=1");
	assert_int_equal(check(fx)->changed_ms, NOW + 100);
	/* READY=1 again: an app may come back (a reload). */
	notify_message(&fx->n, "READY=1\n", 8, NOW + 200);
	assert_true(check(fx)->ok);
	assert_int_equal(check(fx)->changed_ms, NOW + 200);
	assert_int_equal(fx->n.datagrams, 3);
}

/* STATUS= is shown at once with the current state, and changes no state by itself. */
static void
test_status(void **state)
{
	struct fx *fx = *state;

	SEND(fx, "STATUS=Listening on :8080\n");
	assert_string_equal(fx->n.status, "Listening on :8080");
	assert_false(check(fx)->ok);
	assert_string_equal(check(fx)->detail, WAITING ": Listening on :8080");
	SEND(fx, "READY=1\n");
	assert_string_equal(check(fx)->detail, "READY=1: Listening on :8080");
	/* A new status replaces the old one at once. */
	SEND(fx, "STATUS=Draining 3 connections\n");
	assert_string_equal(fx->n.status, "Draining 3 connections");
	assert_true(check(fx)->ok);
	assert_string_equal(check(fx)->detail, "READY=1: Draining 3 connections");
	SEND(fx, "STOPPING=1\n");
	assert_string_equal(check(fx)->detail, "STOPPING=1: Draining 3 connections");
	/* An empty STATUS= clears it. */
	SEND(fx, "STATUS=\n");
	assert_string_equal(fx->n.status, "");
	SEND(fx, "READY=1\n");
	assert_string_equal(check(fx)->detail, "READY=1");
}

/* A status longer than the buffer is cut, never overflows, and the detail stays bounded. */
static void
test_status_long(void **state)
{
	struct fx *fx = *state;
	char msg[400];

	memcpy(msg, "STATUS=", 7);
	memset(msg + 7, 'x', sizeof(msg) - 7);
	notify_message(&fx->n, msg, sizeof(msg), NOW);
	assert_int_equal(strlen(fx->n.status), sizeof(fx->n.status) - 1);
	SEND(fx, "READY=1");
	assert_true(check(fx)->ok);
	assert_int_equal(strlen(check(fx)->detail), sizeof(check(fx)->detail) - 1);
	assert_memory_equal(check(fx)->detail, "READY=1: xxx", 12);
}

/* Several lines in one datagram are applied in order. */
static void
test_several_lines(void **state)
{
	struct fx *fx = *state;

	SEND(fx, "STATUS=warming up\nMAINPID=42\nREADY=1\n");
	assert_true(check(fx)->ok);
	assert_string_equal(check(fx)->detail, "READY=1: warming up");
	assert_int_equal(fx->n.datagrams, 1);

	/* The whole datagram applies, then the detail shows the result (sd_notify(3)'s example). */
	SEND(fx, "STOPPING=1\nSTATUS=\nREADY=1\nSTATUS=serving\n");
	assert_true(check(fx)->ok);
	assert_string_equal(check(fx)->detail, "READY=1: serving");
	assert_string_equal(fx->n.status, "serving");

	/* The last of contradicting lines wins. */
	SEND(fx, "READY=1\nSTOPPING=1");
	assert_false(check(fx)->ok);
	SEND(fx, "STOPPING=1\nREADY=1");
	assert_true(check(fx)->ok);
	assert_int_equal(fx->n.datagrams, 4);
}

/* Keys graceinit does not use are ignored, not errors (sd_notify(3) has many). */
static void
test_unknown_keys(void **state)
{
	struct fx *fx = *state;
	struct ready before;

	before = fx->r;
	SEND(fx,
		"MAINPID=4242\nRELOADING=1\nERRNO=2\nBUSERROR=org.x\nEXTEND_TIMEOUT_USEC=5\n"
		"FDSTORE=1\nFDNAME=x\nX_CUSTOM=1\nready=1\nREADY\n=1\n\n");
	assert_memory_equal(&fx->r, &before, sizeof(before));
	assert_string_equal(fx->n.status, "");
	assert_int_equal(fx->n.datagrams, 1);
	assert_int_equal(fx->n.last_ping_ms, 0);
}

/* Only the exact line counts: not a prefix, not a longer value, not surrounding blanks. */
static void
test_exact_lines(void **state)
{
	struct fx *fx = *state;
	static const char *const not_ready[] = { "READY=10", "READY=0", "READY=", "READY=1 ",
		" READY=1", "READY=1\r", "xREADY=1", "READY=true", "READY=11\n" };
	size_t i;

	for (i = 0; i < sizeof(not_ready) / sizeof(not_ready[0]); i++) {
		notify_message(&fx->n, not_ready[i], strlen(not_ready[i]), NOW);
		if (check(fx)->ok)
			fail_msg("\"%s\" made the check pass", not_ready[i]);
	}
	assert_string_equal(check(fx)->detail, WAITING);

	SEND(fx, "READY=1");
	assert_true(check(fx)->ok);
	SEND(fx, "STOPPING=10\nSTOPPING=\nSTOPPING=1 \nSTOPPING");
	assert_true(check(fx)->ok);
	assert_int_equal(fx->n.datagrams, 11);
}

/* The length given is what counts, not a NUL: the datagram is not a C string. */
static void
test_length_not_nul(void **state)
{
	struct fx *fx = *state;

	notify_message(&fx->n, "READY=1XYZ", 7, NOW);
	assert_true(check(fx)->ok);
	notify_message(&fx->n, "STOPPING=1", 9, NOW); /* "STOPPING=" */
	assert_true(check(fx)->ok);
	notify_message(&fx->n, "STATUS=abc\nREADY=1", 9, NOW); /* "STATUS=ab" */
	assert_string_equal(fx->n.status, "ab");
}

/* The last line may end without a newline; empty lines are skipped. */
static void
test_no_final_newline(void **state)
{
	struct fx *fx = *state;

	SEND(fx, "STATUS=up\nREADY=1");
	assert_true(check(fx)->ok);
	assert_string_equal(check(fx)->detail, "READY=1: up");
	SEND(fx, "\n\nSTOPPING=1\n\n\n");
	assert_false(check(fx)->ok);
	SEND(fx, "STATUS=last");
	assert_string_equal(fx->n.status, "last");
}

/* An empty datagram is counted and changes nothing. */
static void
test_empty(void **state)
{
	struct fx *fx = *state;
	struct ready before = fx->r;

	notify_message(&fx->n, "", 0, NOW);
	notify_message(&fx->n, "\n", 1, NOW);
	assert_memory_equal(&fx->r, &before, sizeof(before));
	assert_int_equal(fx->n.datagrams, 2);
}

static void
test_datagram_count(void **state)
{
	struct fx *fx = *state;
	int i;

	assert_int_equal(fx->n.datagrams, 0);
	for (i = 0; i < 5; i++)
		SEND(fx, "STATUS=x\nREADY=1\n");
	SEND(fx, "BOGUS=1");
	assert_int_equal(fx->n.datagrams, 6);
}

/* WATCHDOG=1 records the ping even without --watchdog; WATCHDOG=trigger needs --watchdog. */
static void
test_watchdog_off(void **state)
{
	struct fx *fx = *state;
	const char *why = NULL;

	notify_message(&fx->n, "WATCHDOG=1", 10, NOW + 7);
	assert_int_equal(fx->n.last_ping_ms, NOW + 7);
	SEND(fx, "WATCHDOG=trigger");
	assert_false(fx->n.watchdog_fired);
	assert_true(notify_live(&fx->n, &why));
	assert_false(check(fx)->ok);
}

/* With --watchdog and no loop: WATCHDOG=trigger fails liveness, WATCHDOG=1 restores it. */
static void
test_watchdog_trigger(void **state)
{
	struct fx *fx = *state;
	const char *why = NULL;

	fx->n.watchdog_ms = WATCHDOG_MS;
	assert_true(notify_live(&fx->n, &why));
	SEND(fx, "WATCHDOG=trigger\n");
	assert_true(fx->n.watchdog_fired);
	assert_false(notify_live(&fx->n, &why));
	assert_string_equal(why, "the watchdog fired: no WATCHDOG=1 in time");
	/* Liveness is the watchdog's business, readiness is not touched. */
	assert_false(check(fx)->ok);
	notify_message(&fx->n, "WATCHDOG=1\n", 11, NOW + 10);
	assert_false(fx->n.watchdog_fired);
	assert_true(notify_live(&fx->n, &why));
	assert_int_equal(fx->n.last_ping_ms, NOW + 10);
	/* Not a prefix match either. */
	SEND(fx, "WATCHDOG=triggered\nWATCHDOG=11\nWATCHDOG=");
	assert_false(fx->n.watchdog_fired);
	assert_int_equal(fx->n.last_ping_ms, NOW + 10);
}

/* NOTIFY_SOCKET and WATCHDOG_USEC replace what graceinit's own parent set. */
static void
test_env(void **state)
{
	struct fx *fx = *state;
	char *envp[] = { "PATH=/bin", "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=1",
		"WATCHDOG_PID=1", "HOME=/", NULL };

	snprintf(fx->n.env_socket, sizeof(fx->n.env_socket), "NOTIFY_SOCKET=@abc");
	snprintf(fx->n.env_watchdog, sizeof(fx->n.env_watchdog), "WATCHDOG_USEC=3000000");
	fx->env = notify_env(&fx->n, envp);
	assert_non_null(fx->env);
	assert_string_equal(fx->env[0], "PATH=/bin");
	assert_string_equal(fx->env[1], "HOME=/");
	assert_string_equal(fx->env[2], "NOTIFY_SOCKET=@abc");
	assert_null(fx->env[3]);
	free(fx->env);
	fx->env = NULL;

	fx->n.watchdog_ms = WATCHDOG_MS;
	fx->env = notify_env(&fx->n, envp);
	assert_non_null(fx->env);
	assert_string_equal(fx->env[2], "NOTIFY_SOCKET=@abc");
	assert_string_equal(fx->env[3], "WATCHDOG_USEC=3000000");
	assert_null(fx->env[4]);
}

static void
on_stop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop, 0);
}

/* Opens the real socket on a real loop, with this process as the child. */
static void
open_real(struct fx *fx, int64_t watchdog_ms)
{
	struct ready *r = fx->n.ready;

	ready_init(r);
	assert_int_equal(loop_init(&fx->loop), 0);
	fx->loop_open = true;
	loop_timer_init(&fx->stop, on_stop, NULL);
	assert_int_equal(notify_open(&fx->n, &fx->loop, r, watchdog_ms), 0);
	assert_int_equal(fx->n.check, 0);
	assert_string_equal(r->checks[0].name, "notify");
	assert_int_equal(strncmp(fx->n.env_socket, "NOTIFY_SOCKET=@", 15), 0);
	notify_set_child(&fx->n, getpid());
	fx->sender = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fx->sender >= 0);
}

/* Sends msg to the socket named in NOTIFY_SOCKET=@..., as sd_notify does. */
static void
send_real(struct fx *fx, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *name = fx->n.env_socket + 15;
	size_t len = strlen(name);

	assert_true(len + 1 < sizeof(sa.sun_path));
	memcpy(sa.sun_path + 1, name, len); /* sun_path[0] = 0: abstract */
	assert_int_equal(sendto(fx->sender, msg, strlen(msg), 0, (struct sockaddr *)&sa,
				 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)),
		(ssize_t)strlen(msg));
}

static void
run_for(struct fx *fx, int64_t ms)
{
	loop_timer_at(&fx->loop, &fx->stop, loop_now_ms() + ms);
	assert_int_equal(loop_run(&fx->loop), 0);
}

/* The real path: datagrams from the child's tree are read, checked and applied. */
static void
test_socket(void **state)
{
	struct fx *fx = *state;

	open_real(fx, 0);
	send_real(fx, "STATUS=from the socket\n");
	send_real(fx, "READY=1\n");
	run_for(fx, STOP_AFTER);
	assert_int_equal(fx->n.datagrams, 2);
	assert_true(fx->r.checks[0].ok);
	assert_string_equal(fx->r.checks[0].detail, "READY=1: from the socket");
}

/* A sender outside the child's process tree is ignored (the pod shares abstract sockets). */
static void
test_socket_foreign_sender(void **state)
{
	struct fx *fx = *state;

	open_real(fx, 0);
	notify_set_child(&fx->n, NOT_THE_PID);
	send_real(fx, "READY=1\n");
	run_for(fx, STOP_AFTER);
	assert_int_equal(fx->n.datagrams, 0);
	assert_false(fx->r.checks[0].ok);
}

/* --watchdog: the pings keep /livez passing; when they stop, the watchdog fires. */
static void
test_socket_watchdog(void **state)
{
	struct fx *fx = *state;
	const char *why = NULL;
	int64_t sent;

	open_real(fx, REAL_WATCHDOG_MS);
	assert_string_equal(fx->n.env_watchdog, "WATCHDOG_USEC=500000");
	sent = loop_now_ms();
	send_real(fx, "WATCHDOG=1");
	run_for(fx, 50);
	assert_true(fx->n.last_ping_ms >= sent);
	assert_true(loop_timer_armed(&fx->n.watchdog));
	assert_int_equal(fx->n.watchdog.deadline_ms, fx->n.last_ping_ms + REAL_WATCHDOG_MS);
	assert_true(notify_live(&fx->n, &why));
	run_for(fx, REAL_WATCHDOG_MS + 300);
	assert_true(fx->n.watchdog_fired);
	assert_false(notify_live(&fx->n, &why));
	assert_string_equal(why, "the watchdog fired: no WATCHDOG=1 in time");
	send_real(fx, "WATCHDOG=1");
	run_for(fx, 20);
	assert_false(fx->n.watchdog_fired);
	assert_true(notify_live(&fx->n, &why));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_not_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datagram_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_foreign_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_watchdog, setup, teardown),
	};

	/* Readiness changes and the watchdog are logged; the tests check the state. */
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
