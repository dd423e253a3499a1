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
	char *nl;
	size_t len;

	cJSON_Delete(o);
	if (s == NULL)
		return NULL;
	/* A trailing newline, so `curl` output ends cleanly. */
	len = strlen(s);
	if ((nl = realloc(s, len + 2)) == NULL) {
		free(s);
		return NULL;
	}
	memcpy(nl + len, "\n", 2);
	return nl;
}

/* How and when each deregistration source was done, from the drain's start. */
static void
add_sources(cJSON *drain, const struct confirm *c)
{
	cJSON *o;

	if (drain == NULL || c == NULL || !c->active)
		return;
	if ((o = cJSON_AddObjectToObject(drain, "sources_ms")) == NULL)
		return;
	add_offset(o, "endpoints", 0, c->t.endpoints_ms);
	add_offset(o, "endpoints_confirmed", c->trigger_ms, c->confirmed_ms);
	if (c->endpoints_how != NULL)
		cJSON_AddStringToObject(o, "endpoints_by", c->endpoints_how);
	add_offset(o, "webhooks", 0, c->t.webhooks_ms);
	add_offset(o, "connections", 0, c->t.connections_ms);
}

static cJSON *
k8s_object(const struct k8s *k)
{
	cJSON *o = cJSON_CreateObject(), *slices;
	size_t i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", k8s_state_name(k->state));
	cJSON_AddBoolToObject(o, "healthy", k8s_healthy(k));
	if (k->state == K8S_OFF)
		return o;
	cJSON_AddStringToObject(o, "namespace", k->namespace);
	cJSON_AddStringToObject(o, "resource_version", k->view.resource_version);
	cJSON_AddBoolToObject(o, "pod_ready", k->pod_ready);
	slices = cJSON_AddArrayToObject(o, "slices_listing_pod");
	for (i = 0; slices != NULL && i < k->view.n; i++)
		cJSON_AddItemToArray(slices, cJSON_CreateString(k->view.v[i].name));
	cJSON_AddNumberToObject(o, "events", (double)k->events);
	cJSON_AddNumberToObject(o, "lists", (double)k->lists);
	cJSON_AddNumberToObject(o, "failures", (double)k->failures);
	if (k->error[0] != '\0')
		cJSON_AddStringToObject(o, "error", k->error);
	return o;
}

char *
status_drain_json(const struct drain *d, int64_t now_ms)
{
	return print(drain_object(d, now_ms));
}

char *
status_prestop_json(const struct drain *d, const struct confirm *c, int64_t now_ms)
{
	cJSON *o = drain_object(d, now_ms);

	add_sources(o, c);
	return print(o);
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
	ch = drain_object(in->drain, in->now_ms);
	add_sources(ch, in->confirm);
	cJSON_AddItemToObject(o, "drain", ch);
	if (in->k8s != NULL)
		cJSON_AddItemToObject(o, "endpoints", k8s_object(in->k8s));
	cJSON_AddItemToObject(o, "config", conf_json(in->conf));
	return print(o);
}
