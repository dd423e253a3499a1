/*
 * confirm.h: the deregistration phase's sources and when they are all done.
 */
#ifndef GRACEINIT_CONFIRM_H
#define GRACEINIT_CONFIRM_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "conns.h"
#include "deregister.h"
#include "k8s.h"
#include "loop.h"

/* When each source was done, counted from the drain's start; -1 until then. */
struct confirm_times {
	int64_t endpoints_ms; /* the endpoints part was done: confirmation + margin, or a fallback */
	int64_t webhooks_ms;
	int64_t connections_ms;
};

struct confirm {
	struct loop *loop;
	const struct conf *conf;
	struct k8s *k8s;
	struct deregister *hooks;
	struct conns *conns;
	bool active;
	bool done;
	int64_t trigger_ms;
	int64_t confirmed_ms;      /* the watch first saw the pod gone from every slice */
	const char *endpoints_how; /* "confirmed", "delay", "timeout", or NULL */
	struct confirm_times t;
	struct loop_timer timer;
	void (*deregistered)(void *arg);
	void *arg;
};

void confirm_init(struct confirm *c, struct loop *loop, const struct conf *conf, struct k8s *k8s,
	struct deregister *hooks, struct conns *conns, void (*deregistered)(void *arg), void *arg);
/*
 * The drain starts: starts the sources. Returns false when nothing can confirm
 * deregistration (no watch, webhooks or connections): the drain then waits its fixed delay.
 */
bool confirm_start(struct confirm *c, int64_t now_ms);
/* Something changed (the watch, a webhook, the connection count): look again. */
void confirm_update(struct confirm *c);

#endif
