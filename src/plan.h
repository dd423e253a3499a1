/*
 * plan.h: `graceinit plan`, the effective configuration and the drain timeline.
 */
#ifndef GRACEINIT_PLAN_H
#define GRACEINIT_PLAN_H

#include <stdio.h>

#include "conf.h"

/* Prints the plan; returns 0, or 2 when the budget cannot hold the waits asked for. */
int plan_print(const struct conf *c, FILE *out);

#endif
