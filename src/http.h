/*
 * http.h: the probe and control endpoints, on TCP and on the unix control socket.
 */
#ifndef GRACEINIT_HTTP_H
#define GRACEINIT_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "child.h"
#include "conf.h"
#include "confirm.h"
#include "drain.h"
#include "k8s.h"
#include "loop.h"
#include "metrics.h"
#include "ready.h"

struct MHD_Daemon;
struct http;
struct http_request;

/* What the endpoints read, and the one thing they do: start the drain. */
struct http_app {
	const struct conf *conf;
	const struct drain *drain;
	const struct child *child;
	const struct ready *ready;
	struct metrics *metrics;
	const struct k8s *k8s;
	const struct confirm *confirm;
	int64_t start_ms;
	double start_time_s;
	bool (*live)(void *arg, const char **why);
	void (*trigger)(void *arg, enum drain_event ev);
	void *arg;
};

struct http_listener {
	struct http *http;
	struct MHD_Daemon *daemon;
	struct loop_io io;
	bool local; /* the unix socket: every peer is in the pod */
	const char *name;
};

struct http {
	struct loop *loop;
	struct http_app app;
	struct http_listener tcp;
	struct http_listener ctl;
	struct loop_timer timer;
	struct http_request *waiters; /* suspended /prestop requests */
	unsigned int answering;       /* released /prestop requests not yet answered */
};

/* Listens on conf->http and conf->control_socket (either may be off). 0, or -1 (logged). */
int http_start(struct http *h, struct loop *loop, const struct http_app *app);
/* The deregistration phase is over: answer every waiting /prestop. */
void http_release(struct http *h);
void http_stop(struct http *h);
/* Released /prestop requests whose answer is still on its way: wait before exiting. */
bool http_answering(const struct http *h);

/* The paths counted in the metrics, by index; the last one is "other". */
const char *const *http_path_names(unsigned int *n);

#endif
