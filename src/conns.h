/*
 * conns.h: counting the established inbound TCP connections on some local ports.
 */
#ifndef GRACEINIT_CONNS_H
#define GRACEINIT_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define CONNS_MAX_PORTS 16

struct conns {
	struct loop *loop;
	uint16_t ports[CONNS_MAX_PORTS];
	size_t nports;
	struct loop_timer timer;
	bool active;
	long last; /* the last count, -1 before the first */
	int64_t interval_ms;
	const char *proc_net; /* "/proc/net", or a test's directory */
	void (*changed)(void *arg);
	void *arg;
};

/* 1 when one line of /proc/net/tcp or tcp6 is an ESTABLISHED connection on one of the ports. */
int conns_line(const char *line, size_t len, const uint16_t *ports, size_t nports);
/* Established connections on the ports in a whole /proc/net/tcp text. */
long conns_count_text(const char *text, size_t len, const uint16_t *ports, size_t nports);
/* Both files under dir ("/proc/net"); -1 when neither can be read. */
long conns_count(const char *dir, const uint16_t *ports, size_t nports);

void conns_init(struct conns *c, struct loop *loop, const uint16_t *ports, size_t nports,
	void (*changed)(void *arg), void *arg);
/* Polls until no connection is left, calling changed on every new count. */
void conns_start(struct conns *c);
void conns_stop(struct conns *c);

#endif
