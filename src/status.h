/*
 * status.h: the JSON documents of /status and of /prestop and /drain.
 */
#ifndef GRACEINIT_STATUS_H
#define GRACEINIT_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "child.h"
#include "conf.h"
#include "confirm.h"
#include "drain.h"
#include "k8s.h"
#include "ready.h"

struct status_input {
	const struct conf *conf;
	const struct drain *drain;
	const struct child *child;
	const struct ready *ready;
	const struct k8s *k8s;         /* may be NULL */
	const struct confirm *confirm; /* may be NULL */
	bool live;
	const char *live_why;
	int64_t now_ms;
	int64_t start_ms;
};

/* malloc'd JSON text, or NULL when memory ran out. */
char *status_render(const struct status_input *in);
/* The drain's state and phase timings: the body of /prestop and /drain. */
char *status_drain_json(const struct drain *d, int64_t now_ms);
/* The same with the deregistration sources' timings (confirm may be NULL). */
char *status_prestop_json(const struct drain *d, const struct confirm *c, int64_t now_ms);

#endif
