/*
 * metrics.c: the Prometheus text exposition of graceinit's counters (format 0.0.4): every
 * family with HELP and TYPE, counters ending in _total, label values escaped. A pure renderer:
 * it reads what it is given and writes text, so the output is tested byte for byte.
 */
#include "metrics.h"

#include <stdio.h>

static const unsigned int codes[METRICS_NCODES] = METRICS_HTTP_CODES;

void
metrics_count_http(struct metrics *m, unsigned int path, unsigned int code)
{
	unsigned int i;

	if (path >= METRICS_MAX_PATHS)
		return;
	for (i = 0; i < METRICS_NCODES; i++) {
		if (codes[i] == code) {
			m->http[path][i]++;
			return;
		}
	}
}

/* A label value as the exposition format wants it: \\, \" and \n escaped; cut if too long. */
static const char *
escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			buf[n++] = '\\';
			buf[n++] = (char)(*s == '\n' ? 'n' : *s);
		} else {
			buf[n++] = *s;
		}
	}
	buf[n] = '\0';
	return buf;
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
signal_counters(struct buf *b, const char *name, const char *help, const uint64_t *v)
{
	char sig[32];
	int s;

	family(b, name, "counter", help);
	for (s = 1; s < SIGNALS_MAX; s++)
		if (v[s] > 0)
			buf_printf(b, "%s{signal=\"%s\"} %llu\n", name,
				signals_name(s, sig, sizeof(sig)), (unsigned long long)v[s]);
}

static void
phase(struct buf *b, const char *name, int64_t from, int64_t to)
{
	if (from >= 0 && to >= 0)
		buf_printf(b, "graceinit_drain_phase_seconds{phase=\"%s\"} %.3f\n", name,
			(double)(to - from) / 1000);
}

void
metrics_render(struct buf *b, const struct metrics_input *in)
{
	const struct drain_times *t = &in->drain->t;
	char label[256];
	unsigned int p, c;
	int s;

	family(b, "graceinit_build_info", "gauge", "graceinit's version; always 1.");
	buf_printf(b, "graceinit_build_info{version=\"%s\"} 1\n", GRACEINIT_VERSION);
	family(b, "graceinit_start_time_seconds", "gauge", "Unix time graceinit started at.");
	buf_printf(b, "graceinit_start_time_seconds %.3f\n", in->start_time_s);
	family(b, "graceinit_uptime_seconds", "gauge", "Seconds since graceinit started.");
	buf_printf(b, "graceinit_uptime_seconds %.3f\n", (double)in->uptime_ms / 1000);
	family(b, "graceinit_ready", "gauge", "1 while /readyz answers 200.");
	buf_printf(b, "graceinit_ready %d\n", in->ready);
	family(b, "graceinit_live", "gauge", "1 while /livez answers 200.");
	buf_printf(b, "graceinit_live %d\n", in->live);
	family(b, "graceinit_drain_state", "gauge", "1 for the current state of the drain.");
	for (s = 0; s < DRAIN_NSTATES; s++)
		buf_printf(b, "graceinit_drain_state{state=\"%s\"} %d\n", drain_state_name(s),
			in->drain->state == (enum drain_state)s);
	family(b, "graceinit_drain_phase_seconds", "gauge",
		"Duration of each drain phase that has ended.");
	phase(b, "deregister", t->trigger_ms, t->deregistered_ms);
	phase(b, "stop", t->stop_ms, t->kill_ms >= 0 ? t->kill_ms : t->exit_ms);
	phase(b, "kill", t->kill_ms, t->exit_ms);
	phase(b, "total", t->trigger_ms, t->exit_ms);
	signal_counters(b, "graceinit_signals_received_total", "Signals received by graceinit.",
		in->m->signals_received);
	signal_counters(b, "graceinit_signals_forwarded_total",
		"Signals sent to the child, after rewriting.", in->m->signals_forwarded);
	family(b, "graceinit_zombies_reaped_total", "counter",
		"Processes reaped: the child and every orphan.");
	buf_printf(b, "graceinit_zombies_reaped_total %llu\n", (unsigned long long)in->reaped);
	family(b, "graceinit_http_requests_total", "counter", "HTTP requests by path and code.");
	for (p = 0; p < in->npaths && p < METRICS_MAX_PATHS; p++)
		for (c = 0; c < METRICS_NCODES; c++)
			if (in->m->http[p][c] > 0)
				buf_printf(b,
					"graceinit_http_requests_total{path=\"%s\",code=\"%u\"} "
					"%llu\n",
					escape(in->paths[p], label, sizeof(label)), codes[c],
					(unsigned long long)in->m->http[p][c]);
}
