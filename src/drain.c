/*
 * drain.c: the shutdown state machine. A table of states x events gives the action of each
 * cell (s6-supervise's model); actions change the state and call the ops for every effect
 * (signals, the timer, releasing /prestop), so the whole machine runs against a fake clock in
 * the unit tests. It owns the grace budget: every wait is cut so that SIGKILL goes out at
 * grace-period minus kill-margin from the first trigger, before the kubelet's own. Must not
 * make system calls, read the clock or log anything but phase changes.
 */
#include "drain.h"

#include <stddef.h>

#include "log.h"

#define STOP_RESERVE_MS 5000

typedef bool drain_action(struct drain *d, enum drain_event ev, int64_t now);

static const char *const state_names[DRAIN_NSTATES] = {
	[DRAIN_IDLE] = "running",
	[DRAIN_DEREGISTER] = "deregistering",
	[DRAIN_STOPPING] = "stopping",
	[DRAIN_KILLED] = "killed",
	[DRAIN_EXITED] = "exited",
};

static const char *const event_names[DRAIN_NEVENTS] = {
	[DRAIN_EV_SIGTERM] = "SIGTERM",
	[DRAIN_EV_PRESTOP] = "/prestop",
	[DRAIN_EV_DRAIN] = "/drain",
	[DRAIN_EV_SIGINT] = "SIGINT",
	[DRAIN_EV_DEREGISTERED] = "deregistered",
	[DRAIN_EV_TIMER] = "timer",
	[DRAIN_EV_CHILD_EXITED] = "child exited",
};

const char *
drain_state_name(enum drain_state s)
{
	return s < DRAIN_NSTATES ? state_names[s] : "?";
}

const char *
drain_event_name(enum drain_event ev)
{
	return ev < DRAIN_NEVENTS ? event_names[ev] : "?";
}

int64_t
drain_latest_stop_ms(const struct drain_budget *b)
{
	int64_t kill = b->grace_ms - b->kill_margin_ms;
	int64_t reserve = kill / 2 < STOP_RESERVE_MS ? kill / 2 : STOP_RESERVE_MS;

	return kill - reserve;
}

void
drain_init(struct drain *d, const struct drain_budget *b, const struct drain_ops *ops, void *arg)
{
	d->state = DRAIN_IDLE;
	d->budget = *b;
	d->t = (struct drain_times){ -1, -1, -1, -1, -1 };
	d->trigger = DRAIN_EV_SIGTERM;
	d->dereg_deadline_ms = d->kill_deadline_ms = -1;
	d->skipped = false;
	d->confirming = false;
	d->sigterm = false;
	d->ops = ops;
	d->arg = arg;
}

bool
drain_ready(const struct drain *d)
{
	return d->state == DRAIN_IDLE;
}

static bool
act_none(struct drain *d, enum drain_event ev, int64_t now)
{
	(void)d;
	(void)ev;
	(void)now;
	return false;
}

static bool
enter_stopping(struct drain *d, int64_t now)
{
	d->t.deregistered_ms = d->t.stop_ms = now;
	d->state = DRAIN_STOPPING;
	/* The signal first: logging and answering /prestop must not delay it. */
	d->ops->stop(d->arg);
	log_info("drain: deregistration phase over after %lld ms%s; sent the stop signal",
		(long long)(now - d->t.trigger_ms), d->skipped ? " (cut short)" : "");
	d->ops->deregistered(d->arg);
	d->ops->arm(d->arg, d->kill_deadline_ms);
	return true;
}

static bool
act_start(struct drain *d, enum drain_event ev, int64_t now)
{
	const struct drain_budget *b = &d->budget;
	int64_t wait = b->delay_ms > b->min_drain_ms ? b->delay_ms : b->min_drain_ms;
	int64_t latest = drain_latest_stop_ms(b);

	bool confirming;

	d->trigger = ev;
	d->t.trigger_ms = now;
	d->kill_deadline_ms = now + b->grace_ms - b->kill_margin_ms;
	d->state = DRAIN_DEREGISTER;
	confirming = d->ops->confirm != NULL && d->ops->confirm(d->arg);
	d->confirming = confirming;
	if (confirming) {
		/* The sources say when; the budget only bounds them. */
		d->dereg_deadline_ms = now + latest;
		log_info("drain: started by %s: not ready; waiting for deregistration to be "
			 "confirmed, at most %lld ms; SIGKILL at the latest in %lld ms",
			drain_event_name(ev), (long long)latest,
			(long long)(d->kill_deadline_ms - now));
		d->ops->arm(d->arg, d->dereg_deadline_ms);
		return true;
	}
	if (wait > latest) {
		log_warnx("drain: waiting %lld ms would not leave the app time to stop before "
			  "SIGKILL; deregistration is cut to %lld ms",
			(long long)wait, (long long)latest);
		wait = latest;
	}
	d->dereg_deadline_ms = now + wait;
	if (wait <= 0) {
		/* Nothing to wait for: the signal first, the words after. */
		enter_stopping(d, now);
		log_info("drain: started by %s: nothing to wait for; SIGKILL at the latest in "
			 "%lld ms",
			drain_event_name(ev), (long long)(d->kill_deadline_ms - now));
		return true;
	}
	log_info("drain: started by %s: not ready; stop signal in %lld ms, SIGKILL at the "
		 "latest in %lld ms",
		drain_event_name(ev), (long long)wait, (long long)(d->kill_deadline_ms - now));
	d->ops->arm(d->arg, d->dereg_deadline_ms);
	return true;
}

/*
 * SIGTERM or SIGINT while deregistering. The first SIGTERM after /prestop joins the drain: the
 * kubelet signals a sidecar at the same moment another container's preStop hook calls
 * /prestop, and that must not cut the wait short. A second SIGTERM, or a SIGINT (a person
 * pressing Ctrl-C), skips ahead to the stop signal.
 */
static bool
act_skip(struct drain *d, enum drain_event ev, int64_t now)
{
	if (ev == DRAIN_EV_SIGTERM && !d->sigterm) {
		log_info("drain: SIGTERM joins the drain started by %s",
			drain_event_name(d->trigger));
		return false;
	}
	log_info("drain: second %s: skipping the rest of deregistration", drain_event_name(ev));
	d->skipped = true;
	return enter_stopping(d, now);
}

static bool
act_dereg_timer(struct drain *d, enum drain_event ev, int64_t now)
{
	(void)ev;
	if (now < d->dereg_deadline_ms) {
		d->ops->arm(d->arg, d->dereg_deadline_ms);
		return false;
	}
	if (d->confirming) {
		/* The budget, not the sources, ended the wait: say so, loudly. */
		d->skipped = true;
		log_warnx("drain: deregistration still not confirmed after %lld ms; the budget "
			  "sends the stop signal now (traffic may still arrive)",
			(long long)(now - d->t.trigger_ms));
	}
	return enter_stopping(d, now);
}

/* Every source confirmed deregistration: stop once --min-drain has passed too. */
static bool
act_deregistered(struct drain *d, enum drain_event ev, int64_t now)
{
	int64_t min = d->t.trigger_ms + d->budget.min_drain_ms;
	int64_t latest = d->t.trigger_ms + drain_latest_stop_ms(&d->budget);

	(void)ev;
	if (min > latest)
		min = latest;
	d->dereg_deadline_ms = now > min ? now : min;
	if (min <= now)
		return enter_stopping(d, now);
	d->ops->arm(d->arg, d->dereg_deadline_ms);
	return true;
}

static bool
act_kill(struct drain *d, enum drain_event ev, int64_t now)
{
	(void)ev;
	if (now < d->kill_deadline_ms) {
		d->ops->arm(d->arg, d->kill_deadline_ms);
		return false;
	}
	d->t.kill_ms = now;
	d->state = DRAIN_KILLED;
	log_warnx("drain: the child did not exit %lld ms after the stop signal; sending SIGKILL "
		  "%lld ms before the grace period ends",
		(long long)(now - d->t.stop_ms), (long long)d->budget.kill_margin_ms);
	d->ops->kill(d->arg);
	return true;
}

static bool
act_exited(struct drain *d, enum drain_event ev, int64_t now)
{
	enum drain_state was = d->state;

	(void)ev;
	d->t.exit_ms = now;
	d->state = DRAIN_EXITED;
	d->ops->arm(d->arg, -1);
	if (was == DRAIN_IDLE)
		return true;
	log_info("drain: the child exited %lld ms after the drain started",
		(long long)(now - d->t.trigger_ms));
	/* Whoever waits for deregistration must not wait for a child that is gone. */
	if (was == DRAIN_DEREGISTER) {
		d->t.deregistered_ms = now;
		d->ops->deregistered(d->arg);
	}
	return true;
}

static drain_action *const actions[DRAIN_NSTATES][DRAIN_NEVENTS] = {
	[DRAIN_IDLE] = {
		[DRAIN_EV_SIGTERM] = act_start,
		[DRAIN_EV_PRESTOP] = act_start,
		[DRAIN_EV_DRAIN] = act_start,
		[DRAIN_EV_SIGINT] = act_none,
		[DRAIN_EV_DEREGISTERED] = act_none,
		[DRAIN_EV_TIMER] = act_none,
		[DRAIN_EV_CHILD_EXITED] = act_exited,
	},
	[DRAIN_DEREGISTER] = {
		[DRAIN_EV_SIGTERM] = act_skip,
		[DRAIN_EV_PRESTOP] = act_none,
		[DRAIN_EV_DRAIN] = act_none,
		[DRAIN_EV_SIGINT] = act_skip,
		[DRAIN_EV_DEREGISTERED] = act_deregistered,
		[DRAIN_EV_TIMER] = act_dereg_timer,
		[DRAIN_EV_CHILD_EXITED] = act_exited,
	},
	[DRAIN_STOPPING] = {
		[DRAIN_EV_SIGTERM] = act_none,
		[DRAIN_EV_PRESTOP] = act_none,
		[DRAIN_EV_DRAIN] = act_none,
		[DRAIN_EV_SIGINT] = act_none,
		[DRAIN_EV_DEREGISTERED] = act_none,
		[DRAIN_EV_TIMER] = act_kill,
		[DRAIN_EV_CHILD_EXITED] = act_exited,
	},
	[DRAIN_KILLED] = {
		[DRAIN_EV_SIGTERM] = act_none,
		[DRAIN_EV_PRESTOP] = act_none,
		[DRAIN_EV_DRAIN] = act_none,
		[DRAIN_EV_SIGINT] = act_none,
		[DRAIN_EV_DEREGISTERED] = act_none,
		[DRAIN_EV_TIMER] = act_none,
		[DRAIN_EV_CHILD_EXITED] = act_exited,
	},
	[DRAIN_EXITED] = {
		[DRAIN_EV_SIGTERM] = act_none,
		[DRAIN_EV_PRESTOP] = act_none,
		[DRAIN_EV_DRAIN] = act_none,
		[DRAIN_EV_SIGINT] = act_none,
		[DRAIN_EV_DEREGISTERED] = act_none,
		[DRAIN_EV_TIMER] = act_none,
		[DRAIN_EV_CHILD_EXITED] = act_none,
	},
};

bool
drain_event(struct drain *d, enum drain_event ev, int64_t now_ms)
{
	bool acted;

	if (d->state >= DRAIN_NSTATES || ev >= DRAIN_NEVENTS)
		return false;
	acted = actions[d->state][ev](d, ev, now_ms);
	/* Whatever the state: sidecar mode ends only once the kubelet has said SIGTERM. */
	if (ev == DRAIN_EV_SIGTERM)
		d->sigterm = true;
	return acted;
}
