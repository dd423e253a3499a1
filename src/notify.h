/*
 * notify.h: the sd_notify protocol (READY=1, STOPPING=1, STATUS=, WATCHDOG=1) on a datagram
 * socket exported to the child as NOTIFY_SOCKET.
 */
#ifndef GRACEINIT_NOTIFY_H
#define GRACEINIT_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "ready.h"

struct notify {
	struct loop *loop;
	struct ready *ready;
	int check;
	int fd;
	struct loop_io io;
	pid_t child;
	int64_t watchdog_ms;
	int64_t last_ping_ms;
	bool watchdog_fired;
	struct loop_timer watchdog;
	uint64_t datagrams;
	char status[128];
	bool is_ready;
	bool stopping;
	bool pid1;
	char env_socket[128];  /* "NOTIFY_SOCKET=@..." */
	char env_watchdog[64]; /* "WATCHDOG_USEC=..." */
};

/* Opens the socket before the child starts (named after graceinit's pid); 0 or -1. */
int notify_open(struct notify *n, struct loop *loop, struct ready *ready, int64_t watchdog_ms);
/* The child is running: only its process tree may notify; the watchdog starts now. */
void notify_set_child(struct notify *n, pid_t child);
bool notify_live(const struct notify *n, const char **why);
void notify_close(struct notify *n);
/* envp with NOTIFY_SOCKET (and WATCHDOG_USEC) for the child; malloc'd array, or NULL. */
char **notify_env(const struct notify *n, char *const envp[]);
/* Applies one datagram from a trusted sender; exposed for the unit tests. */
void notify_message(struct notify *n, const char *msg, size_t len, int64_t now_ms);

#endif
