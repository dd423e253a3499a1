/*
 * probe.h: the app's own readiness, checked from the loop: --ready-tcp and --ready-http.
 */
#ifndef GRACEINIT_PROBE_H
#define GRACEINIT_PROBE_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "curlm.h"
#include "loop.h"
#include "ready.h"

struct probe {
	struct loop *loop;
	struct curlm *curlm;
	struct ready *ready;
	int64_t interval_ms;
	int64_t timeout_ms;
	struct loop_timer round;

	/* --ready-tcp: a non-blocking connect */
	int tcp_check;
	struct sockaddr_storage tcp_addr;
	socklen_t tcp_len;
	int tcp_fd;
	struct loop_io tcp_io;
	struct loop_timer tcp_deadline;

	/* --ready-http: a GET on the loop's curl multi */
	int http_check;
	const char *url;
	CURL *easy;
	bool http_busy;
};

/*
 * Resolves --ready-tcp (names once, here) and adds the checks to ready; the first round runs
 * at once. 0, or -1 with a message naming the option.
 */
int probe_start(struct probe *p, struct loop *loop, struct curlm *curlm, struct ready *ready,
	const struct conf *c);
void probe_stop(struct probe *p);

#endif
