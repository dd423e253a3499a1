/*
 * signals.h: signal names and numbers, the rewrite table, blocking, the signalfd.
 */
#ifndef GRACEINIT_SIGNALS_H
#define GRACEINIT_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Signal numbers are 1..SIGNALS_MAX-1 (64 on Linux). */
#define SIGNALS_MAX 65

/* to[s] is what signal s becomes when forwarded; 0 drops it. */
struct sigrewrite {
	int to[SIGNALS_MAX];
};

/* What graceinit changed in its own signal state, to undo in the child before exec. */
struct sigorig {
	sigset_t mask;
	struct sigaction pipe_action;
};

/* "TERM", "SIGTERM", "term", "15", "RTMIN+2", "SIGRTMAX": 0 and *signo set, or -1. */
int signals_parse(const char *s, int *signo);
/* "SIGTERM", "SIGRTMIN+2", or "signal N" for an unnamed number; never NULL. */
const char *signals_name(int signo, char *buf, size_t len);
/* Can graceinit receive this signal to forward it? Not KILL, STOP, CHLD or a fault. */
bool signals_forwardable(int signo);
void signals_rewrite_init(struct sigrewrite *rw);

/* Blocks every forwardable signal and SIGCHLD, ignores SIGPIPE; records what to restore. */
int signals_block(struct sigorig *orig);
/* A non-blocking, close-on-exec signalfd for what signals_block blocked. */
int signals_open_fd(void);
/* In the child between fork and exec: async-signal-safe restoration of the original state. */
void signals_restore(const struct sigorig *orig);

#endif
