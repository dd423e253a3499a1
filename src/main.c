/*
 * main.c: wiring only. Blocks signals before anything else can happen, parses the
 * configuration, starts the endpoints, the readiness probes, the deregistration sources and
 * the child, and runs the loop until the child and everything it left behind are gone (or, in
 * sidecar mode, until the drain is over); returns the child's exit status. The one struct app
 * owns every module and connects their callbacks.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "conf.h"
#include "confirm.h"
#include "conns.h"
#include "ctl.h"
#include "curlm.h"
#include "deregister.h"
#include "drain.h"
#include "http.h"
#include "k8s.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "plan.h"
#include "probe.h"
#include "ready.h"
#include "signals.h"

struct app {
	struct conf conf;
	struct loop loop;
	struct child child;
	struct drain drain;
	struct ready ready;
	struct metrics metrics;
	struct http http;
	struct curlm curlm;
	struct probe probe;
	struct notify notify;
	struct k8s k8s;
	struct deregister hooks;
	struct conns conns;
	struct confirm confirm;
	struct sigorig sigorig;
	struct loop_io signal_io;
	struct loop_timer drain_timer;
	struct loop_timer deregistered_timer;
	struct loop_timer finish_timer;
	int64_t finish_deadline_ms;
	int exit_code;
	int started_check;
};

/* How long the answers to /prestop may take to leave before graceinit exits anyway. */
#define FINISH_WAIT_MS 1000

/*
 * Exits the loop with app->exit_code, once the /prestop answers released by the end of the
 * drain have left (the kubelet would otherwise record a failed hook): a moment, bounded.
 */
static void
on_finish_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;

	if (!http_answering(&app->http) || loop_now_ms() >= app->finish_deadline_ms)
		loop_stop(loop, app->exit_code);
	else
		loop_timer_at(loop, &app->finish_timer, loop_now_ms() + 10);
}

/*
 * From the next turn of the loop: the drain may be releasing /prestop answers in the same
 * turn (a sidecar finishes as its deregistration ends), and they must be counted first.
 */
static void
start_finish(struct app *app, int code)
{
	app->exit_code = code;
	app->finish_deadline_ms = loop_now_ms() + FINISH_WAIT_MS;
	loop_timer_at(&app->loop, &app->finish_timer, loop_now_ms());
}

static void
forward(struct app *app, int signo)
{
	if (signo == 0)
		return;
	if (child_signal(&app->child, signo) == 0)
		app->metrics.signals_forwarded[signo]++;
}

/* Sidecar mode: done once the drain is past deregistration and the kubelet said SIGTERM. */
static void
sidecar_check(struct app *app)
{
	if (!app->conf.sidecar || app->drain.state < DRAIN_STOPPING || !app->drain.sigterm)
		return;
	log_info("sidecar: the drain is over; exiting");
	start_finish(app, 0);
}

/* The drain's effects. */
static void
drain_stop(void *arg)
{
	struct app *app = arg;

	if (app->conf.sidecar) {
		sidecar_check(app);
		return;
	}
	forward(app, app->conf.stop_signal);
	/*
	 * The app's handler is usually woken on this CPU, the sender's, where it would wait
	 * behind what the drain does next (log lines, /prestop answers, timers): let it run
	 * first. Measured with tests/bench: the median kill-to-handler time drops by 10-15 us.
	 */
	sched_yield();
}

static void
drain_kill(void *arg)
{
	struct app *app = arg;

	if (app->conf.sidecar)
		start_finish(app, 0);
	else
		forward(app, SIGKILL);
}

static void
drain_arm(void *arg, int64_t deadline_ms)
{
	struct app *app = arg;

	if (deadline_ms < 0)
		loop_timer_cancel(&app->loop, &app->drain_timer);
	else
		loop_timer_at(&app->loop, &app->drain_timer, deadline_ms);
}

static void
drain_deregistered(void *arg)
{
	struct app *app = arg;

	http_release(&app->http);
}

static bool
drain_confirm(void *arg)
{
	struct app *app = arg;

	return confirm_start(&app->confirm, loop_now_ms());
}

static const struct drain_ops drain_ops = {
	.stop = drain_stop,
	.kill = drain_kill,
	.arm = drain_arm,
	.deregistered = drain_deregistered,
	.confirm = drain_confirm,
};

static bool
drain(struct app *app, enum drain_event ev)
{
	bool acted = drain_event(&app->drain, ev, loop_now_ms());

	/* What the child leaves behind is killed by the drain's deadline at the latest. */
	app->child.kill_deadline_ms = app->drain.kill_deadline_ms;
	return acted;
}

static void
on_drain_timer(struct loop *loop, void *arg)
{
	(void)loop;
	drain(arg, DRAIN_EV_TIMER);
}

/* Sources report from inside the drain's own call: deliver on the next turn of the loop. */
static void
on_deregistered(void *arg)
{
	struct app *app = arg;

	loop_timer_at(&app->loop, &app->deregistered_timer, loop_now_ms());
}

static void
on_deregistered_timer(struct loop *loop, void *arg)
{
	(void)loop;
	drain(arg, DRAIN_EV_DEREGISTERED);
}

static void
on_source_changed(void *arg)
{
	struct app *app = arg;

	confirm_update(&app->confirm);
}

static void
http_trigger(void *arg, enum drain_event ev)
{
	drain(arg, ev);
}

static bool
http_live(void *arg, const char **why)
{
	struct app *app = arg;

	if (!app->conf.sidecar && app->child.phase != CHILD_RUNNING) {
		*why = "the child has exited";
		return false;
	}
	return !app->conf.notify || notify_live(&app->notify, why);
}

static void
on_signal(struct app *app, const struct signalfd_siginfo *si)
{
	int signo = (int)si->ssi_signo, to;
	char name[32], toname[32];

	if (signo == SIGCHLD) {
		child_reap(&app->child);
		return;
	}
	app->metrics.signals_received[signo]++;
	if (signo == SIGHUP && app->child.hup_expected) {
		app->child.hup_expected = false;
		log_debug("dropped the SIGHUP caused by handing the terminal to the child");
		return;
	}
	/* A sender outside graceinit's PID namespace shows as pid 0. */
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("received %s from pid %u%s", signals_name(signo, name, sizeof(name)),
			si->ssi_pid, si->ssi_pid ? "" : " (outside the namespace)");
	if (signo == SIGTERM) {
		drain(app, DRAIN_EV_SIGTERM);
		sidecar_check(app);
		return;
	}
	if (signo == SIGINT && drain(app, DRAIN_EV_SIGINT))
		return;
	to = app->conf.rewrite.to[signo];
	if (to != signo && log_enabled(LOG_LEVEL_DEBUG))
		log_debug("rewriting %s to %s", signals_name(signo, name, sizeof(name)),
			to ? signals_name(to, toname, sizeof(toname)) : "nothing (dropped)");
	/*
	 * Terminal job control, as dumb-init does. The child's group is in a session of its own:
	 * an orphaned process group, in which the default stop of TSTP, TTIN and TTOU is
	 * discarded (POSIX, signal(7)), so the group gets SIGSTOP instead. Then graceinit stops
	 * too, so the shell that sent it sees the job stopped; its SIGCONT resumes everyone.
	 * Stopping itself is a no-op for PID 1.
	 */
	if (app->child.setsid && (to == SIGTSTP || to == SIGTTIN || to == SIGTTOU)) {
		forward(app, SIGSTOP);
		kill(getpid(), SIGSTOP);
		return;
	}
	forward(app, to);
}

static void
on_signalfd(struct loop *loop, uint32_t events, void *arg)
{
	struct app *app = arg;
	struct signalfd_siginfo si[16];
	ssize_t n, i;

	(void)loop;
	(void)events;
	/* A short read took everything pending: no read just to hear EAGAIN. */
	do {
		n = read(app->signal_io.fd, si, sizeof(si));
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("signalfd read");
			return;
		}
		for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
			on_signal(app, &si[i]);
	} while (n == (ssize_t)sizeof(si));
}

static void
on_child_exited(struct child *child, void *arg)
{
	(void)child;
	drain(arg, DRAIN_EV_CHILD_EXITED);
}

static void
on_child_done(struct child *child, void *arg)
{
	struct app *app = arg;
	int code = child_exit_code(child->wstatus);
	int mapped = app->conf.exit_remap[code];

	if (mapped != code)
		log_info("exit status %d remapped to %d (--exit-remap)", code, mapped);
	log_info("exiting with status %d after reaping %llu processes", mapped,
		(unsigned long long)child->reaped);
	start_finish(app, mapped);
}

/* The ports of --drain-connections, as numbers (conf.c checked them). */
static size_t
drain_ports(const struct conf *c, uint16_t *ports)
{
	size_t i;

	for (i = 0; i < c->drain_connections.n && i < CONNS_MAX_PORTS; i++)
		ports[i] = (uint16_t)strtoul(c->drain_connections.v[i], NULL, 10);
	return i;
}

static bool
needs_curl(const struct conf *c)
{
	return c->ready_http != NULL || c->deregister.n > 0 || conf_watches_endpoints(c);
}

static int
start_sources(struct app *app)
{
	const struct conf *c = &app->conf;
	uint16_t ports[CONNS_MAX_PORTS];
	char err[512];

	if (needs_curl(c) && curlm_init(&app->curlm, &app->loop) < 0)
		return -1;
	if (probe_start(&app->probe, &app->loop, &app->curlm, &app->ready, c) < 0)
		return -1;
	if (k8s_start(&app->k8s, &app->loop, &app->curlm, c, on_source_changed, app, err,
		    sizeof(err)) < 0) {
		fprintf(stderr, "graceinit: %s\n", err);
		return -1;
	}
	if (deregister_init(&app->hooks, &app->loop, &app->curlm, c, on_source_changed, app) < 0)
		return -1;
	conns_init(&app->conns, &app->loop, ports, drain_ports(c, ports), on_source_changed, app);
	confirm_init(&app->confirm, &app->loop, c, &app->k8s, &app->hooks, &app->conns,
		on_deregistered, app);
	return 0;
}

static int
start(struct app *app)
{
	const struct conf *c = &app->conf;
	struct drain_budget budget = {
		.grace_ms = c->grace_period_ms,
		.kill_margin_ms = c->kill_margin_ms,
		.delay_ms = c->drain_delay_ms,
		.min_drain_ms = c->min_drain_ms,
	};
	struct http_app api = {
		.conf = c,
		.drain = &app->drain,
		.child = &app->child,
		.ready = &app->ready,
		.metrics = &app->metrics,
		.k8s = &app->k8s,
		.confirm = &app->confirm,
		.start_ms = loop_now_ms(),
		.start_time_s = (double)time(NULL),
		.live = http_live,
		.trigger = http_trigger,
		.arg = app,
	};
	int fd;

	if (getpid() != 1 || c->subreaper) {
		if (child_subreaper() < 0)
			return -1;
		log_debug("not PID 1: reaping orphans as a child subreaper");
	}
	if (loop_init(&app->loop) < 0)
		return -1;
	if ((fd = signals_open_fd()) < 0 ||
		loop_io_add(&app->loop, &app->signal_io, fd, EPOLLIN, on_signalfd, app) < 0)
		return -1;
	loop_timer_init(&app->drain_timer, on_drain_timer, app);
	loop_timer_init(&app->deregistered_timer, on_deregistered_timer, app);
	loop_timer_init(&app->finish_timer, on_finish_timer, app);
	drain_init(&app->drain, &budget, &drain_ops, app);
	ready_init(&app->ready);
	app->started_check = ready_add(&app->ready, "started", "the command has not started");
	child_init(&app->child, &app->loop, !c->no_setsid, c->kill_on_exit, c->exit_grace_ms,
		on_child_exited, on_child_done, app);
	if (c->notify && notify_open(&app->notify, &app->loop, &app->ready, c->watchdog_ms) < 0)
		return -1;
	if (start_sources(app) < 0)
		return -1;
	return http_start(&app->http, &app->loop, &api);
}

/* graceinit's secrets, when its environment holds them: never passed on to the child. */
static const char *const secret_env[] = {
	"GRACEINIT_CONTROL_TOKEN",
	"GRACEINIT_DEREGISTER_HEADER",
};

/*
 * The app runs as graceinit's user: with a secret configured, graceinit's memory and its
 * /proc/1/environ are kept from it (and from anyone but root with CAP_SYS_PTRACE), prctl(2).
 * The child is dumpable again after its execve.
 */
static void
guard_secrets(const struct conf *c)
{
	if ((c->control_token != NULL || c->deregister_headers.n > 0) &&
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

/* Starts the command; 0, or -1 with the exit status in *code. */
static int
spawn(struct app *app, char *const envp[], int *code)
{
	char **base, **env;
	int rc;

	if (app->conf.sidecar) {
		ready_set(&app->ready, app->started_check, true, loop_now_ms(),
			"sidecar: no command");
		return 0;
	}
	base = conf_env_without(envp, secret_env, sizeof(secret_env) / sizeof(secret_env[0]), 0);
	if (base == NULL) {
		*code = 1;
		return -1;
	}
	env = app->conf.notify ? notify_env(&app->notify, base) : base;
	if (env == NULL) {
		free(base);
		*code = 1;
		return -1;
	}
	rc = child_spawn(&app->child, app->conf.argv, env, &app->sigorig, code);
	if (env != base)
		free(env);
	free(base);
	if (rc < 0)
		return -1;
	ready_set(&app->ready, app->started_check, true, loop_now_ms(), "pid %d",
		(int)app->child.pid);
	if (app->conf.notify)
		notify_set_child(&app->notify, app->child.pid);
	return 0;
}

static void
stop(struct app *app)
{
	http_stop(&app->http);
	conns_stop(&app->conns);
	deregister_stop(&app->hooks);
	k8s_stop(&app->k8s);
	probe_stop(&app->probe);
	if (app->curlm.multi != NULL)
		curlm_cleanup(&app->curlm);
	if (app->conf.notify)
		notify_close(&app->notify);
	loop_close(&app->loop);
}

int
main(int argc, char *argv[], char *envp[])
{
	struct app app = { 0 };
	char err[1024];
	int code;

	/* First: from here on no signal can be lost or take graceinit down. */
	if (signals_block(&app.sigorig) < 0)
		return 1;
	if (argc > 1 && (strcmp(argv[1], "prestop") == 0 || strcmp(argv[1], "status") == 0))
		return ctl_main(argc - 1, argv + 1, envp);
	switch (conf_parse(&app.conf, argc, argv, envp, err, sizeof(err))) {
	case CONF_HELP:
		conf_usage(stdout);
		conf_free(&app.conf);
		return 0;
	case CONF_VERSION:
		printf("graceinit %s\n", GRACEINIT_VERSION);
		conf_free(&app.conf);
		return 0;
	case CONF_ERROR:
		fprintf(stderr, "graceinit: %s\n", err);
		conf_free(&app.conf);
		return 2;
	case CONF_PLAN:
		code = plan_print(&app.conf, stdout);
		conf_free(&app.conf);
		return code;
	case CONF_RUN:
		break;
	}
	log_init(app.conf.log_level, app.conf.log_format);
	guard_secrets(&app.conf);
	if (start(&app) < 0) {
		code = 2;
	} else if (spawn(&app, envp, &code) == 0) {
		code = loop_run(&app.loop);
		code = code < 0 ? 1 : code;
	}
	stop(&app);
	conf_free(&app.conf);
	return code;
}
