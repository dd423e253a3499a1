/*
 * fuzz_notify.c: notify_message, one sd_notify datagram (newline-separated KEY=VALUE lines,
 * at most 4096 bytes as notify.c receives them) from the child, with the watchdog on: the
 * state it leaves must be consistent and the readiness check's text bounded.
 */
#include "fuzz.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "ready.h"

#define DATAGRAM_MAX 4096 /* notify.c's NOTIFY_DATAGRAM_MAX */
#define NOW_MS       5000
#define WATCHDOG_MS  3000

static struct loop loop;
static bool loop_ready;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	if (loop_init(&loop) < 0)
		abort();
	loop_ready = true;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct notify n;
	static struct ready r;
	const char *why = NULL;
	bool live;

	if (!loop_ready)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size > DATAGRAM_MAX)
		return 0;
	ready_init(&r);
	memset(&n, 0, sizeof(n));
	n.loop = &loop;
	n.ready = &r;
	n.fd = -1;
	n.watchdog_ms = WATCHDOG_MS;
	n.check = ready_add(&r, "notify", "waiting for READY=1");
	loop_timer_init(&n.watchdog, NULL, &n);

	notify_message(&n, (const char *)data, size, NOW_MS);

	FUZZ_CHECK(n.datagrams == 1);
	FUZZ_CHECK(memchr(n.status, '\0', sizeof(n.status)) != NULL);
	FUZZ_CHECK(memchr(r.checks[0].detail, '\0', sizeof(r.checks[0].detail)) != NULL);
	FUZZ_CHECK(r.checks[0].ok == (n.is_ready && !n.stopping));
	live = notify_live(&n, &why);
	FUZZ_CHECK(live || why != NULL);
	FUZZ_CHECK(!n.watchdog_fired || !live);
	loop_timer_cancel(&loop, &n.watchdog);
	return 0;
}
