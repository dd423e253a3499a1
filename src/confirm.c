/*
 * confirm.c: decides when the deregistration phase is over, from its sources. First, at the
 * same time: the EndpointSlice watch (this pod no longer a ready endpoint anywhere, then
 * --endpoints-margin for kube-proxy and ingresses; bounded by --endpoints-timeout; when the
 * watch cannot confirm, not healthy or not configured, --drain-delay instead) and the
 * --deregister webhooks (all answered 2xx). Then --drain-connections (no established inbound
 * connection left). Then it tells the drain, which adds --min-drain and the budget's cut.
 */
#include "confirm.h"

#include <string.h>

#include "log.h"

/* How long a watch that broke during the drain may take to come back before the fallback. */
#define CONFIRM_RECOVER_MS 2000

static void
on_timer(struct loop *loop, void *arg)
{
	(void)loop;
	confirm_update(arg);
}

void
confirm_init(struct confirm *c, struct loop *loop, const struct conf *conf, struct k8s *k8s,
	struct deregister *hooks, struct conns *conns, void (*deregistered)(void *arg), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->conf = conf;
	c->k8s = k8s;
	c->hooks = hooks;
	c->conns = conns;
	c->deregistered = deregistered;
	c->arg = arg;
	c->confirmed_ms = -1;
	c->t = (struct confirm_times){ -1, -1, -1 };
	loop_timer_init(&c->timer, on_timer, c);
}

/* When the endpoints part is done, or -1 while it waits for the watch. */
static int64_t
endpoints_deadline(struct confirm *c, int64_t now, const char **how)
{
	const struct conf *conf = c->conf;
	int64_t timeout = c->trigger_ms + conf->endpoints_timeout_ms;

	if (c->k8s->state == K8S_OFF) {
		*how = "delay";
		return c->trigger_ms + conf->drain_delay_ms;
	}
	if (k8s_healthy(c->k8s) && !c->k8s->pod_ready) {
		if (c->confirmed_ms < 0) {
			c->confirmed_ms = now;
			log_info("drain: the EndpointSlices no longer list this pod as ready "
				 "(%lld ms); waiting --endpoints-margin %lld ms",
				(long long)(now - c->trigger_ms),
				(long long)conf->endpoints_margin_ms);
		}
		*how = "confirmed";
		return c->confirmed_ms + conf->endpoints_margin_ms;
	}
	if (!k8s_healthy(c->k8s)) {
		/*
		 * The API cannot tell: fall back to the fixed delay, counted from the start; but
		 * a watch that breaks in mid-drain gets a moment to come back first (a relist takes
		 * well under a second), rather than ending the wait at once.
		 */
		int64_t since = c->k8s->unhealthy_since_ms,
			at = c->trigger_ms + conf->drain_delay_ms;

		if (since >= c->trigger_ms && since + CONFIRM_RECOVER_MS > at)
			at = since + CONFIRM_RECOVER_MS;
		if (at < timeout) {
			*how = "delay";
			return at;
		}
	}
	*how = "timeout";
	return timeout;
}

void
confirm_update(struct confirm *c)
{
	int64_t now = loop_now_ms(), at;
	const char *how = NULL;

	if (!c->active || c->done)
		return;
	if (c->t.endpoints_ms < 0) {
		at = endpoints_deadline(c, now, &how);
		if (now < at) {
			loop_timer_at(c->loop, &c->timer, at);
			return;
		}
		c->t.endpoints_ms = now - c->trigger_ms;
		c->endpoints_how = how;
		if (strcmp(how, "timeout") == 0)
			log_warnx("drain: the EndpointSlices still list this pod as ready after "
				  "--endpoints-timeout %lld ms; going on",
				(long long)c->conf->endpoints_timeout_ms);
	}
	if (c->t.webhooks_ms < 0) {
		if (!deregister_done(c->hooks))
			return;
		c->t.webhooks_ms = now - c->trigger_ms;
	}
	if (c->t.connections_ms < 0) {
		if (c->conns->nports > 0 && c->conns->last != 0) {
			conns_start(c->conns);
			if (c->conns->last != 0)
				return;
		}
		c->t.connections_ms = now - c->trigger_ms;
	}
	c->done = true;
	loop_timer_cancel(c->loop, &c->timer);
	c->deregistered(c->arg);
}

bool
confirm_start(struct confirm *c, int64_t now_ms)
{
	if (c->active)
		return true;
	if (c->k8s->state == K8S_OFF && c->hooks->n == 0 && c->conns->nports == 0)
		return false;
	c->active = true;
	c->trigger_ms = now_ms;
	deregister_start(c->hooks);
	confirm_update(c);
	return true;
}
