/*
 * ready.c: the list of readiness checks (the child started, --ready-tcp, --ready-http, the
 * sd_notify READY=1) and their last results. The probes that feed it live in their own
 * modules; this one only records, logs changes, and answers "all pass?". /readyz adds the
 * drain on top: a draining pod is never ready.
 */
#include "ready.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void
ready_init(struct ready *r)
{
	memset(r, 0, sizeof(*r));
}

int
ready_add(struct ready *r, const char *name, const char *detail)
{
	struct ready_check *c;

	if (r->n >= READY_MAX_CHECKS)
		return -1;
	c = &r->checks[r->n];
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
	c->ok = false;
	c->changed_ms = -1;
	return (int)r->n++;
}

void
ready_set(struct ready *r, int idx, bool ok, int64_t now_ms, const char *fmt, ...)
{
	struct ready_check *c;
	va_list ap;

	if (idx < 0 || (unsigned int)idx >= r->n)
		return;
	c = &r->checks[idx];
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	if (c->ok == ok && c->changed_ms >= 0)
		return;
	c->ok = ok;
	c->changed_ms = now_ms;
	if (ok)
		log_info("readiness: %s passes (%s)", c->name, c->detail);
	else
		log_info("readiness: %s fails (%s)", c->name, c->detail);
}

bool
ready_all(const struct ready *r)
{
	unsigned int i;

	for (i = 0; i < r->n; i++)
		if (!r->checks[i].ok)
			return false;
	return true;
}
