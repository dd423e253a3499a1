/*
 * drain.h: the shutdown state machine and its grace budget.
 */
#ifndef GRACEINIT_DRAIN_H
#define GRACEINIT_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

enum drain_state {
	DRAIN_IDLE,       /* serving; ready */
	DRAIN_DEREGISTER, /* not ready; waiting for traffic to move away */
	DRAIN_STOPPING,   /* stop signal sent; waiting for the child */
	DRAIN_KILLED,     /* SIGKILL sent at the kill deadline */
	DRAIN_EXITED,     /* the child is gone */
	DRAIN_NSTATES,
};

enum drain_event {
	DRAIN_EV_SIGTERM,
	DRAIN_EV_PRESTOP,
	DRAIN_EV_DRAIN,
	DRAIN_EV_SIGINT,
	DRAIN_EV_DEREGISTERED, /* every deregistration source is done */
	DRAIN_EV_TIMER,        /* the deadline given to ops->arm has passed */
	DRAIN_EV_CHILD_EXITED,
	DRAIN_NEVENTS,
};

/* The effects of the drain; the machine itself makes no system call. */
struct drain_ops {
	void (*stop)(void *arg);                     /* send the stop signal */
	void (*kill)(void *arg);                     /* SIGKILL the child's group */
	void (*arm)(void *arg, int64_t deadline_ms); /* one timer; -1 cancels it */
	void (*deregistered)(void *arg);             /* the deregistration phase is over */
	/*
	 * Optional: starts the sources that confirm deregistration (the EndpointSlice watch,
	 * webhooks, connections); true when they will send DRAIN_EV_DEREGISTERED, false when
	 * nothing can confirm and the fixed --drain-delay applies.
	 */
	bool (*confirm)(void *arg);
};

struct drain_budget {
	int64_t grace_ms;       /* --grace-period: the whole budget from the first trigger */
	int64_t kill_margin_ms; /* SIGKILL this long before the budget ends */
	int64_t delay_ms;       /* --drain-delay: deregistration not confirmed otherwise */
	int64_t min_drain_ms;   /* --min-drain */
};

/* Timestamps (monotonic ms) of each phase; -1 until it happens. */
struct drain_times {
	int64_t trigger_ms;
	int64_t deregistered_ms;
	int64_t stop_ms;
	int64_t kill_ms;
	int64_t exit_ms;
};

struct drain {
	enum drain_state state;
	struct drain_budget budget;
	struct drain_times t;
	enum drain_event trigger;  /* what started the drain */
	int64_t dereg_deadline_ms; /* the stop signal goes out then at the latest */
	int64_t kill_deadline_ms;  /* trigger + grace - kill margin */
	bool skipped;              /* a second SIGTERM or SIGINT cut deregistration short */
	bool confirming;           /* the sources, not a fixed delay, end deregistration */
	bool sigterm;              /* a SIGTERM has been received */
	const struct drain_ops *ops;
	void *arg;
};

void drain_init(
	struct drain *d, const struct drain_budget *b, const struct drain_ops *ops, void *arg);
/* Feeds one event at time now_ms; returns false when the event means nothing in this state. */
bool drain_event(struct drain *d, enum drain_event ev, int64_t now_ms);
bool drain_ready(const struct drain *d);
const char *drain_state_name(enum drain_state s);
const char *drain_event_name(enum drain_event ev);
/*
 * When deregistration must end at the latest, counted from the trigger: the app keeps at least
 * 5 s, or half the budget when it is shorter, between the stop signal and SIGKILL.
 */
int64_t drain_latest_stop_ms(const struct drain_budget *b);

#endif
