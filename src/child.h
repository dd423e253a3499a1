/*
 * child.h: the supervised command and every process that ends up as graceinit's child.
 */
#ifndef GRACEINIT_CHILD_H
#define GRACEINIT_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "signals.h"

struct child;
/* exited: the main child was reaped (what it left may still run); done: nothing is left. */
typedef void child_cb(struct child *c, void *arg);

enum child_phase {
	CHILD_RUNNING,   /* the main child runs */
	CHILD_LEFTOVERS, /* it exited; TERM sent to what is left, waiting up to exit-grace */
	CHILD_KILLING,   /* exit-grace is over; KILL sent, reaping */
	CHILD_DONE,      /* nothing left; done_cb called */
};

struct child {
	struct loop *loop;
	pid_t pid;   /* the main child; its process group too unless no_setsid */
	bool setsid; /* the child leads its own session and process group */
	bool pid1;   /* graceinit is PID 1: kill(-1) reaches every other process */
	bool kill_on_exit;
	int64_t exit_grace_ms;
	int wstatus;     /* the main child's wait status, once phase > CHILD_RUNNING */
	uint64_t reaped; /* every process reaped, the main child and orphans alike */
	int64_t exited_ms;
	int64_t kill_deadline_ms; /* --exit-grace ends by then at the latest; -1: no limit */
	bool hup_expected; /* releasing the terminal sent graceinit a SIGHUP: not for the child */
	enum child_phase phase;
	struct loop_timer timer;
	child_cb *exited;
	child_cb *done;
	void *arg;
};

void child_init(struct child *c, struct loop *loop, bool setsid, bool kill_on_exit,
	int64_t exit_grace_ms, child_cb *exited, child_cb *done, void *arg);
/*
 * Starts argv[0] (looked up in PATH) with envp. Returns 0, or -1 with *exit_code set to 127
 * (not found) or 126 (found but cannot be executed); the reason is logged.
 */
int child_spawn(struct child *c, char *const argv[], char *const envp[], const struct sigorig *orig,
	int *exit_code);
/* Sends signo to the child's process group (or to the child alone without setsid); 0 or -1. */
int child_signal(struct child *c, int signo);
/* Reaps every child that has exited; call on SIGCHLD. */
void child_reap(struct child *c);
/* 128+N for a process killed by signal N, else its exit status. */
int child_exit_code(int wstatus);
/* Makes graceinit the reaper of its descendants' orphans (PR_SET_CHILD_SUBREAPER). */
int child_subreaper(void);

#endif
