/*
 * main.c: wiring only. Blocks signals before anything else can happen, parses the
 * configuration, starts the endpoints and the child, and runs the loop until the child and
 * everything it left behind are gone; returns the child's exit status. The one struct app
 * owns every module and connects their callbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "conf.h"
#include "ctl.h"
#include "curlm.h"
#include "drain.h"
#include "http.h"
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
	struct sigorig sigorig;
	struct loop_io signal_io;
	struct loop_timer drain_timer;
	int started_check;
};

static void
forward(struct app *app, int signo)
{
	if (signo == 0)
		return;
	if (child_signal(&app->child, signo) == 0)
		app->metrics.signals_forwarded[signo]++;
}

/* The drain's effects. */
static void
drain_stop(void *arg)
{
	struct app *app = arg;

	forward(app, app->conf.stop_signal);
}

static void
drain_kill(void *arg)
{
	struct app *app = arg;

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

static const struct drain_ops drain_ops = {
	.stop = drain_stop,
	.kill = drain_kill,
	.arm = drain_arm,
	.deregistered = drain_deregistered,
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

static void
http_trigger(void *arg, enum drain_event ev)
{
	drain(arg, ev);
}

static bool
http_live(void *arg, const char **why)
{
	struct app *app = arg;

	if (app->child.phase != CHILD_RUNNING) {
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
	log_debug("received %s from pid %u%s", signals_name(signo, name, sizeof(name)), si->ssi_pid,
		si->ssi_pid ? "" : " (outside the namespace)");
	if (signo == SIGTERM) {
		drain(app, DRAIN_EV_SIGTERM);
		return;
	}
	if (signo == SIGINT && drain(app, DRAIN_EV_SIGINT))
		return;
	to = app->conf.rewrite.to[signo];
	if (to != signo)
		log_debug("rewriting %s to %s", name,
			to ? signals_name(to, toname, sizeof(toname)) : "nothing (dropped)");
	/*
	 * Terminal job control, as dumb-init does. The child's group is in a session of its own:
	 * an orphaned process group, in which the default stop of TSTP, TTIN and TTOU is
	 * discarded (POSIX, signal(7)), so the group gets SIGSTOP instead. Then graceinit stops too, so
	 * the shell that sent it sees the job stopped; its SIGCONT resumes everyone. Stopping
	 * itself is a no-op for PID 1.
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
	for (;;) {
		n = read(app->signal_io.fd, si, sizeof(si));
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("signalfd read");
			return;
		}
		for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
			on_signal(app, &si[i]);
	}
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
	loop_stop(&app->loop, mapped);
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
	drain_init(&app->drain, &budget, &drain_ops, app);
	ready_init(&app->ready);
	app->started_check = ready_add(&app->ready, "started", "the command has not started");
	child_init(&app->child, &app->loop, !c->no_setsid, c->kill_on_exit, c->exit_grace_ms,
		on_child_exited, on_child_done, app);
	if (c->notify && notify_open(&app->notify, &app->loop, &app->ready, c->watchdog_ms) < 0)
		return -1;
	if (c->ready_http != NULL && curlm_init(&app->curlm, &app->loop) < 0)
		return -1;
	if (probe_start(&app->probe, &app->loop, &app->curlm, &app->ready, c) < 0)
		return -1;
	return http_start(&app->http, &app->loop, &api);
}

/* Starts the command; 0, or -1 with the exit status in *code. */
static int
spawn(struct app *app, char *const envp[], int *code)
{
	char **env = app->conf.notify ? notify_env(&app->notify, envp) : (char **)envp;
	int rc;

	if (env == NULL) {
		*code = 1;
		return -1;
	}
	rc = child_spawn(&app->child, app->conf.argv, env, &app->sigorig, code);
	if (env != envp)
		free(env);
	if (rc < 0)
		return -1;
	ready_set(&app->ready, app->started_check, true, loop_now_ms(), "pid %d",
		(int)app->child.pid);
	if (app->conf.notify)
		notify_set_child(&app->notify, app->child.pid);
	return 0;
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
	if (start(&app) < 0) {
		code = 2;
	} else if (spawn(&app, envp, &code) == 0) {
		code = loop_run(&app.loop);
		code = code < 0 ? 1 : code;
	}
	http_stop(&app.http);
	probe_stop(&app.probe);
	if (app.curlm.multi != NULL)
		curlm_cleanup(&app.curlm);
	if (app.conf.notify)
		notify_close(&app.notify);
	loop_close(&app.loop);
	conf_free(&app.conf);
	return code;
}
