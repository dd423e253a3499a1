/*
 * plan.c: answers "what will graceinit do with this configuration?" before it runs: the
 * effective value of every option (after flags, environment, file and defaults) and the drain
 * timeline within the grace budget, computed by the same functions the drain uses. Fails
 * (exit 2) when the waits asked for cannot fit, so a bad manifest is caught in CI, not during
 * a rollout.
 */
#include "plan.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"

static const char *
dur(int64_t ms, char *buf, size_t len)
{
	return conf_format_duration(ms, buf, len);
}

static void
print_command(const struct conf *c, FILE *out)
{
	size_t i;

	fprintf(out, "Command:   ");
	if (c->argv == NULL)
		fprintf(out, c->sidecar ? "none (--sidecar)" : "none given");
	for (i = 0; c->argv != NULL && c->argv[i] != NULL; i++)
		fprintf(out, "%s%s", i ? " " : "", c->argv[i]);
	fprintf(out, "\nEndpoints: %s%s, control socket %s\n", c->http ? "http " : "http off",
		c->http ? c->http : "", c->control_socket ? c->control_socket : "off");
	fprintf(out, "Readiness: the command has started");
	if (c->ready_tcp != NULL)
		fprintf(out, ", %s accepts connections", c->ready_tcp);
	if (c->ready_http != NULL)
		fprintf(out, ", %s answers 2xx", c->ready_http);
	if (c->notify)
		fprintf(out, ", READY=1 on $NOTIFY_SOCKET");
	fprintf(out, "\n");
}

static void
print_config(const struct conf *c, FILE *out)
{
	cJSON *o = conf_json(c), *item;

	fprintf(out, "\nEffective configuration (flag > GRACEINIT_* > --config file > default):\n");
	cJSON_ArrayForEach(item, o)
	{
		char *v = cJSON_PrintUnformatted(item);

		fprintf(out, "  %-20s %s\n", item->string, v ? v : "?");
		free(v);
	}
	cJSON_Delete(o);
}

/* The deregistration sources, one line each; returns the longest wait they may ask for. */
static int64_t
print_sources(const struct conf *c, bool watch, FILE *out)
{
	char t1[32], t2[32], t3[32];
	int64_t longest;
	size_t i;

	fprintf(out, "            deregistration, confirmed by:\n");
	if (watch) {
		fprintf(out,
			"              the EndpointSlice watch: this pod no longer a ready "
			"endpoint, "
			"then\n"
			"                --endpoints-margin %s (at most --endpoints-timeout %s; "
			"--drain-delay %s\n"
			"                while the API cannot be read)\n",
			dur(c->endpoints_margin_ms, t1, sizeof(t1)),
			dur(c->endpoints_timeout_ms, t2, sizeof(t2)),
			dur(c->drain_delay_ms, t3, sizeof(t3)));
		longest = c->endpoints_timeout_ms;
	} else {
		fprintf(out, "              --drain-delay %s (no EndpointSlice watch)\n",
			dur(c->drain_delay_ms, t1, sizeof(t1)));
		longest = c->drain_delay_ms;
	}
	for (i = 0; i < c->deregister.n; i++)
		fprintf(out, "              %s answering 2xx (retried)\n", c->deregister.v[i]);
	if (c->drain_connections.n > 0) {
		fprintf(out, "              then no inbound connection left on port");
		for (i = 0; i < c->drain_connections.n; i++)
			fprintf(out, "%s %s",
				i                                    ? ","
					: c->drain_connections.n > 1 ? "s"
								     : "",
				c->drain_connections.v[i]);
		fprintf(out, "\n");
	}
	if (c->min_drain_ms > 0)
		fprintf(out, "              and --min-drain %s at least\n",
			dur(c->min_drain_ms, t1, sizeof(t1)));
	return longest > c->min_drain_ms ? longest : c->min_drain_ms;
}

int
plan_print(const struct conf *c, FILE *out)
{
	struct drain_budget b = {
		.grace_ms = c->grace_period_ms,
		.kill_margin_ms = c->kill_margin_ms,
		.delay_ms = c->drain_delay_ms,
		.min_drain_ms = c->min_drain_ms,
	};
	int64_t wait = b.delay_ms > b.min_drain_ms ? b.delay_ms : b.min_drain_ms;
	int64_t latest = drain_latest_stop_ms(&b), kill = b.grace_ms - b.kill_margin_ms;
	bool watch = conf_watches_endpoints(c);
	bool confirming = watch || c->deregister.n > 0 || c->drain_connections.n > 0;
	char t1[32], t2[32], t3[32];
	const char *target;
	char stop[32];
	int rc = 0;

	fprintf(out, "graceinit %s plan\n\n", GRACEINIT_VERSION);
	print_command(c, out);
	fprintf(out,
		"\nDrain timeline, from the first SIGTERM, /prestop or /drain "
		"(budget: --grace-period %s):\n",
		dur(b.grace_ms, t1, sizeof(t1)));
	fprintf(out, "  +%-8s not ready: /readyz answers 503, /livez stays 200\n", "0s");
	target = c->no_setsid ? "the command's process" : "the command's process group";
	if (confirming) {
		wait = print_sources(c, watch, out);
		fprintf(out, "  +%-8s stop signal: ", dur(latest, t1, sizeof(t1)));
	} else {
		fprintf(out, "  +%-8s stop signal: ",
			dur(wait < latest ? wait : latest, t1, sizeof(t1)));
	}
	if (c->stop_signal != 0)
		fprintf(out, "%s to %s", signals_name(c->stop_signal, stop, sizeof(stop)), target);
	else
		fprintf(out, "none, --rewrite drops TERM");
	if (confirming)
		fprintf(out,
			"\n            (as soon as deregistration is confirmed; this is the "
			"latest)\n");
	else if (b.delay_ms >= b.min_drain_ms)
		fprintf(out, " (--drain-delay %s)\n", dur(b.delay_ms, t2, sizeof(t2)));
	else
		fprintf(out, " (--min-drain %s)\n", dur(b.min_drain_ms, t2, sizeof(t2)));
	fprintf(out,
		"  +%-8s SIGKILL to %s if it still runs (--grace-period %s - "
		"--kill-margin %s)\n",
		dur(kill, t1, sizeof(t1)), target, dur(b.grace_ms, t2, sizeof(t2)),
		dur(b.kill_margin_ms, t3, sizeof(t3)));
	fprintf(out,
		"  +%-8s the kubelet's own SIGKILL, if terminationGracePeriodSeconds "
		"matches\n",
		dur(b.grace_ms, t1, sizeof(t1)));
	fprintf(out, "  When the command exits: %s, then exit with its status%s.\n",
		c->kill_on_exit ? "SIGTERM to what it left, SIGKILL after --exit-grace"
				: "what it left is not signalled (--no-kill-on-exit)",
		c->kill_on_exit ? " (never past the SIGKILL above)" : "");
	if (wait > latest) {
		fprintf(out,
			"\nerror: waiting %s before the stop signal leaves the app %s before "
			"SIGKILL; graceinit cuts the wait to %s. Lower the wait or raise "
			"--grace-period.\n",
			dur(wait, t1, sizeof(t1)),
			dur(kill - wait > 0 ? kill - wait : 0, t2, sizeof(t2)),
			dur(latest, t3, sizeof(t3)));
		rc = 2;
	}
	print_config(c, out);
	return rc;
}
