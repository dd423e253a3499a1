/*
 * ready.h: the app's readiness, as a list of named checks that all must pass.
 */
#ifndef GRACEINIT_READY_H
#define GRACEINIT_READY_H

#include <stdbool.h>
#include <stdint.h>

#define READY_MAX_CHECKS 4

struct ready_check {
	char name[96];
	bool ok;
	char detail[128];
	int64_t changed_ms;
};

struct ready {
	struct ready_check checks[READY_MAX_CHECKS];
	unsigned int n;
};

void ready_init(struct ready *r);
/* Adds a check that starts failing with detail; returns its index, or -1 when full. */
int ready_add(struct ready *r, const char *name, const char *detail);
/* Records a check's result; logs when it changes. */
void ready_set(struct ready *r, int idx, bool ok, int64_t now_ms, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
bool ready_all(const struct ready *r);

#endif
