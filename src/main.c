/*
 * main.c: wiring only. Blocks signals before anything else can happen, parses the
 * configuration, starts the child and runs the loop until the child and everything it left
 * behind are gone; returns the child's exit status. The one struct app owns every module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <unistd.h>

#include "child.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "signals.h"

struct app {
	struct conf conf;
	struct loop loop;
	struct child child;
	struct sigorig sigorig;
	struct loop_io signal_io;
};

/* What a signal received by graceinit becomes for the child; 0 drops it. */
static int
translate(const struct conf *conf, int signo)
{
	if (signo == SIGTERM)
		return conf->stop_signal;
	return conf->rewrite.to[signo];
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
	if (signo == SIGHUP && app->child.hup_expected) {
		app->child.hup_expected = false;
		log_debug("dropped the SIGHUP caused by handing the terminal to the child");
		return;
	}
	to = translate(&app->conf, signo);
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		/* A sender outside graceinit's PID namespace shows as pid 0. */
		signals_name(signo, name, sizeof(name));
		if (to == 0)
			snprintf(toname, sizeof(toname), "dropped");
		else
			signals_name(to, toname, sizeof(toname));
		log_debug("received %s from pid %u%s: %s", name, si->ssi_pid,
			si->ssi_pid ? "" : " (outside the namespace)", toname);
	}
	if (to != 0)
		child_signal(&app->child, to);
	/*
	 * Terminal job control, as dumb-init does: the child's group was told to stop, so stop
	 * graceinit too and let the shell's SIGCONT resume everyone. A no-op as PID 1.
	 */
	if (app->child.setsid && (signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU))
		kill(getpid(), SIGSTOP);
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
run(struct app *app, char *const envp[])
{
	int code, fd;

	if (getpid() != 1 || app->conf.subreaper) {
		if (child_subreaper() < 0)
			return 1;
		log_debug("not PID 1: reaping orphans as a child subreaper");
	}
	if (loop_init(&app->loop) < 0)
		return 1;
	if ((fd = signals_open_fd()) < 0 ||
		loop_io_add(&app->loop, &app->signal_io, fd, EPOLLIN, on_signalfd, app) < 0)
		return 1;
	child_init(&app->child, &app->loop, !app->conf.no_setsid, app->conf.kill_on_exit,
		app->conf.exit_grace_ms, on_child_done, app);
	if (child_spawn(&app->child, app->conf.argv, envp, &app->sigorig, &code) < 0)
		return code;
	code = loop_run(&app->loop);
	return code < 0 ? 1 : code;
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
	case CONF_RUN:
		break;
	}
	log_init(app.conf.log_level, app.conf.log_format);
	code = run(&app, envp);
	loop_close(&app.loop);
	conf_free(&app.conf);
	return code;
}
