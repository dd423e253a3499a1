/*
 * status.c: renders graceinit's state as JSON for /status (everything an operator asks
 * about: state, phase, child, readiness checks, budget left, configuration) and the drain's
 * phase timings for /prestop and /drain. Pure: reads its input, returns text.
 */
#include "status.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"

/* Milliseconds from the drain's trigger to t, or null when t has not happened. */
static void
add_offset(cJSON *o, const char *name, int64_t trigger, int64_t t)
{
	if (trigger >= 0 && t >= 0)
		cJSON_AddNumberToObject(o, name, (double)(t - trigger));
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *
drain_object(const struct drain *d, int64_t now)
{
	const struct drain_times *t = &d->t;
	cJSON *o = cJSON_CreateObject(), *ph;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", drain_state_name(d->state));
	if (t->trigger_ms < 0) {
		cJSON_AddNullToObject(o, "trigger");
		cJSON_AddNumberToObject(o, "budget_ms", (double)d->budget.grace_ms);
		return o;
	}
	cJSON_AddStringToObject(o, "trigger", drain_event_name(d->trigger));
	cJSON_AddNumberToObject(o, "elapsed_ms", (double)(now - t->trigger_ms));
	cJSON_AddNumberToObject(
		o, "budget_left_ms", (double)(t->trigger_ms + d->budget.grace_ms - now));
	cJSON_AddNumberToObject(
		o, "kill_deadline_ms", (double)(d->kill_deadline_ms - t->trigger_ms));
	cJSON_AddBoolToObject(o, "cut_short", d->skipped);
	/* When each phase ended, counted from the trigger. */
	ph = cJSON_AddObjectToObject(o, "timings_ms");
	if (ph != NULL) {
		add_offset(ph, "not_ready", t->trigger_ms, t->trigger_ms);
		add_offset(ph, "deregistered", t->trigger_ms, t->deregistered_ms);
		add_offset(ph, "stop_signal", t->trigger_ms, t->stop_ms);
		add_offset(ph, "kill", t->trigger_ms, t->kill_ms);
		add_offset(ph, "exit", t->trigger_ms, t->exit_ms);
	}
	return o;
}

static char *
print(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	char *nl = NULL;

	cJSON_Delete(o);
	/* A trailing newline, so `curl` output ends cleanly. */
	if (s != NULL && (nl = realloc(s, strlen(s) + 2)) != NULL)
		strcat(nl, "\n");
	else
		free(s);
	return nl;
}

char *
status_drain_json(const struct drain *d, int64_t now_ms)
{
	return print(drain_object(d, now_ms));
}

char *
status_render(const struct status_input *in)
{
	const struct child *c = in->child;
	cJSON *o = cJSON_CreateObject(), *ch, *checks, *chk;
	bool ready = ready_all(in->ready) && drain_ready(in->drain);
	unsigned int i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", drain_state_name(in->drain->state));
	cJSON_AddBoolToObject(o, "ready", ready);
	cJSON_AddBoolToObject(o, "live", in->live);
	if (!in->live && in->live_why != NULL)
		cJSON_AddStringToObject(o, "not_live_because", in->live_why);
	cJSON_AddNumberToObject(o, "uptime_ms", (double)(in->now_ms - in->start_ms));
	cJSON_AddStringToObject(o, "version", GRACEINIT_VERSION);
	ch = cJSON_AddObjectToObject(o, "child");
	if (ch != NULL) {
		if (c->pid > 0)
			cJSON_AddNumberToObject(ch, "pid", c->pid);
		else
			cJSON_AddNullToObject(ch, "pid");
		cJSON_AddBoolToObject(ch, "running", c->pid > 0 && c->phase == CHILD_RUNNING);
		if (c->phase != CHILD_RUNNING)
			cJSON_AddNumberToObject(ch, "exit_status", child_exit_code(c->wstatus));
		else
			cJSON_AddNullToObject(ch, "exit_status");
		cJSON_AddNumberToObject(ch, "reaped", (double)c->reaped);
	}
	checks = cJSON_AddArrayToObject(o, "readiness");
	for (i = 0; checks != NULL && i < in->ready->n; i++) {
		chk = cJSON_CreateObject();
		cJSON_AddStringToObject(chk, "name", in->ready->checks[i].name);
		cJSON_AddBoolToObject(chk, "ok", in->ready->checks[i].ok);
		cJSON_AddStringToObject(chk, "detail", in->ready->checks[i].detail);
		cJSON_AddItemToArray(checks, chk);
	}
	cJSON_AddItemToObject(o, "drain", drain_object(in->drain, in->now_ms));
	cJSON_AddItemToObject(o, "config", conf_json(in->conf));
	return print(o);
}
