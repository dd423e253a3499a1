/*
 * conf.c: turns the command line, the GRACEINIT_* environment and the --config JSON file into
 * one struct conf, with flag > environment > file > default. One table describes every option:
 * its type, where it is stored, its default and its help, so that the three sources, the
 * defaults and --help can never disagree. Pure: no logging, no side effect but reading the
 * config file; every error is one message that names the option, its source and the value.
 */
#include "conf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_FILE_MAX        ((off_t)1024 * 1024)
#define CONF_DURATION_MAX_MS (30LL * 24 * 3600 * 1000)

enum source {
	SRC_DEFAULT,
	SRC_FILE,
	SRC_ENV,
	SRC_FLAG,
};

enum opt_type {
	T_BOOL,
	T_DURATION,
	T_SIGNAL,
	T_STRING,
	T_LIST,
	T_REWRITE,
	T_REMAP,
	T_ENDPOINTS,
	T_LOG_LEVEL,
	T_LOG_FORMAT,
};

/* What a T_STRING or T_LIST value must look like. */
enum opt_check {
	CK_ANY,
	CK_LISTEN,     /* HOST:PORT, :PORT or off */
	CK_SOCKET,     /* @abstract, /path or off */
	CK_HOSTPORT,   /* HOST:PORT */
	CK_URL,        /* http:// or https:// */
	CK_DEREGISTER, /* METHOD URL */
	CK_PORT,       /* 1-65535 */
	CK_DNS_LABEL,  /* a Service name */
	CK_HEADER,     /* Name: value */
};

enum opt_group {
	G_PROCESS,
	G_KUBERNETES,
	G_READINESS,
	G_LOGGING,
	G_OTHER,
};

struct opt {
	const char *name;
	enum opt_type type;
	enum opt_check check;
	size_t off;
	enum opt_group group;
	char sep; /* list separator inside one value */
	const char *metavar;
	const char *def;      /* the default, parsed like any value; NULL: none or derived */
	const char *def_help; /* the default as --help tells it, when def does not say it */
	const char *help;
};

#define F(member) offsetof(struct conf, member)

static const struct opt opts[] = {
	{ "rewrite", T_REWRITE, CK_ANY, F(rewrite), G_PROCESS, ',', "FROM:TO", NULL, NULL,
		"forward signal FROM as TO; TO 0 drops it (repeatable)" },
	{ "stop-signal", T_SIGNAL, CK_ANY, F(stop_signal), G_PROCESS, 0, "SIG", NULL,
		"TERM as --rewrite maps it",
		"what SIGTERM becomes for the child (QUIT for nginx)" },
	{ "no-setsid", T_BOOL, CK_ANY, F(no_setsid), G_PROCESS, 0, NULL, "false", NULL,
		"signal the child only, not its whole process group" },
	{ "subreaper", T_BOOL, CK_ANY, F(subreaper), G_PROCESS, 0, NULL, "false",
		"automatic when not PID 1", "be a child subreaper so orphans are reaped" },
	{ "kill-on-exit", T_BOOL, CK_ANY, F(kill_on_exit), G_PROCESS, 0, NULL, "true", NULL,
		"when the child exits, TERM then KILL every process left" },
	{ "exit-grace", T_DURATION, CK_ANY, F(exit_grace_ms), G_PROCESS, 0, "DURATION", "2s", NULL,
		"how long --kill-on-exit waits between TERM and KILL" },
	{ "exit-remap", T_REMAP, CK_ANY, F(exit_remap), G_PROCESS, ',', "FROM:TO", NULL, NULL,
		"map the child's exit status FROM to TO, e.g. 143:0 (repeatable)" },

	{ "http", T_STRING, CK_LISTEN, F(http), G_KUBERNETES, 0, "ADDR", NULL,
		":9797 in Kubernetes, else off", "listen address of the HTTP endpoints" },
	{ "control-socket", T_STRING, CK_SOCKET, F(control_socket), G_KUBERNETES, 0, "PATH",
		"@graceinit", NULL, "unix socket serving the same HTTP API" },
	{ "control-token", T_STRING, CK_ANY, F(control_token), G_KUBERNETES, 0, "TOKEN", NULL, NULL,
		"bearer token for /prestop and /drain from non-loopback peers" },
	{ "drain-delay", T_DURATION, CK_ANY, F(drain_delay_ms), G_KUBERNETES, 0, "DURATION", NULL,
		"5s in Kubernetes, else 0",
		"wait after going not-ready when deregistration is not confirmed" },
	{ "min-drain", T_DURATION, CK_ANY, F(min_drain_ms), G_KUBERNETES, 0, "DURATION", "0", NULL,
		"least time between going not-ready and the stop signal" },
	{ "endpoints", T_ENDPOINTS, CK_ANY, F(endpoints), G_KUBERNETES, 0, "auto|on|off", "auto",
		NULL, "wait until this pod is no longer a ready EndpointSlice endpoint" },
	{ "endpoints-timeout", T_DURATION, CK_ANY, F(endpoints_timeout_ms), G_KUBERNETES, 0,
		"DURATION", "20s", NULL, "bound of the EndpointSlice wait" },
	{ "endpoints-margin", T_DURATION, CK_ANY, F(endpoints_margin_ms), G_KUBERNETES, 0,
		"DURATION", "1s", NULL, "added after confirmation for kube-proxy and ingresses" },
	{ "pod-name", T_STRING, CK_ANY, F(pod_name), G_KUBERNETES, 0, "NAME", NULL,
		"$POD_NAME, else $HOSTNAME", "this pod's name" },
	{ "pod-ip", T_STRING, CK_ANY, F(pod_ip), G_KUBERNETES, 0, "IP", NULL, "$POD_IP",
		"this pod's IP" },
	{ "namespace", T_STRING, CK_ANY, F(namespace), G_KUBERNETES, 0, "NAME", NULL,
		"the service account's namespace", "this pod's namespace" },
	{ "service", T_LIST, CK_DNS_LABEL, F(services), G_KUBERNETES, ',', "NAME", NULL, "all",
		"watch only the EndpointSlices of these Services (repeatable)" },
	{ "serviceaccount-dir", T_STRING, CK_ANY, F(serviceaccount_dir), G_KUBERNETES, 0, "DIR",
		"/var/run/secrets/kubernetes.io/serviceaccount", NULL,
		"token, ca.crt and namespace files" },
	{ "deregister", T_LIST, CK_DEREGISTER, F(deregister), G_KUBERNETES, '\n', "'METHOD URL'",
		NULL, NULL, "HTTP call made when the drain starts (repeatable)" },
	{ "deregister-header", T_LIST, CK_HEADER, F(deregister_headers), G_KUBERNETES, '\n',
		"'NAME: VALUE'", NULL, NULL,
		"header sent with every --deregister call, e.g. a token (repeatable)" },
	{ "drain-connections", T_LIST, CK_PORT, F(drain_connections), G_KUBERNETES, ',',
		"PORT[,PORT]", NULL, NULL,
		"wait until no inbound connection remains on these ports" },
	{ "grace-period", T_DURATION, CK_ANY, F(grace_period_ms), G_KUBERNETES, 0, "DURATION",
		"30s", NULL, "the whole shutdown budget from the first drain trigger" },
	{ "kill-margin", T_DURATION, CK_ANY, F(kill_margin_ms), G_KUBERNETES, 0, "DURATION", "2s",
		NULL, "SIGKILL this long before the grace period ends" },
	{ "sidecar", T_BOOL, CK_ANY, F(sidecar), G_KUBERNETES, 0, NULL, "false", NULL,
		"run without a child, serving the probes and /prestop" },

	{ "ready-http", T_STRING, CK_URL, F(ready_http), G_READINESS, 0, "URL", NULL, NULL,
		"the app is ready while this URL answers 2xx" },
	{ "ready-tcp", T_STRING, CK_HOSTPORT, F(ready_tcp), G_READINESS, 0, "HOST:PORT", NULL, NULL,
		"the app is ready while this port accepts connections" },
	{ "ready-interval", T_DURATION, CK_ANY, F(ready_interval_ms), G_READINESS, 0, "DURATION",
		"1s", NULL, "how often readiness is checked" },
	{ "ready-timeout", T_DURATION, CK_ANY, F(ready_timeout_ms), G_READINESS, 0, "DURATION",
		"1s", NULL, "timeout of one readiness check" },
	{ "notify", T_BOOL, CK_ANY, F(notify), G_READINESS, 0, NULL, "false", NULL,
		"accept sd_notify READY=1 / STOPPING=1 on $NOTIFY_SOCKET" },
	{ "watchdog", T_DURATION, CK_ANY, F(watchdog_ms), G_READINESS, 0, "DURATION", "0", "off",
		"with --notify: /livez fails when WATCHDOG=1 pings stop this long" },

	{ "log-level", T_LOG_LEVEL, CK_ANY, F(log_level), G_LOGGING, 0, "error|warn|info|debug",
		"info", NULL, "what graceinit logs to stderr" },
	{ "log-format", T_LOG_FORMAT, CK_ANY, F(log_format), G_LOGGING, 0, "text|json", "text",
		NULL, "text lines or JSON objects" },
	{ "config", T_STRING, CK_ANY, F(config_path), G_OTHER, 0, "FILE", NULL, NULL,
		"JSON object with these option names as keys" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const group_titles[] = {
	[G_PROCESS] = "Process",
	[G_KUBERNETES] = "Kubernetes",
	[G_READINESS] = "Readiness and liveness",
	[G_LOGGING] = "Logging",
	[G_OTHER] = "Configuration",
};

struct parser {
	struct conf *c;
	enum source set_by[NOPTS];
	const char *config_src; /* "--config" or "GRACEINIT_CONFIG" */
	char *err;
	size_t errlen;
};

static int failf(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
failf(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A value checker's complaint, completed by apply() with the option, source and value. */
struct why {
	char text[160];
};

static int because(struct why *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
because(struct why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
	return -1;
}

static void *
field(struct conf *c, const struct opt *o)
{
	return (char *)c + o->off;
}

int
conf_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	double total = 0;
	bool bare = true;
	size_t i;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		const char *start = s;
		int digits = 0, dots = 0;
		double v;

		for (; isdigit((unsigned char)*s) || *s == '.'; s++) {
			if (*s == '.')
				dots++;
			else
				digits++;
		}
		if (digits == 0 || dots > 1)
			return -1;
		v = strtod(start, NULL);
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			if (strncmp(s, units[i].unit, n) == 0 && !isalpha((unsigned char)s[n]))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0])) {
			/* A bare number of seconds stands alone: "5" but not "1m5". */
			if (*s != '\0' || !bare)
				return -1;
			total = v * 1000;
			break;
		}
		bare = false;
		total += v * units[i].ms;
		s += strlen(units[i].unit);
	}
	if (!isfinite(total) || total > (double)CONF_DURATION_MAX_MS)
		return -1;
	*ms = (int64_t)(total + 0.5);
	return 0;
}

static int
parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

static int
parse_port(const char *s, struct why *why)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 || v < 1 || v > 65535)
		return because(why, "'%s' is not a port (1-65535)", s);
	return 0;
}

/* HOST:PORT, [V6]:PORT; with empty_host, :PORT too. */
static int
check_hostport(const char *s, bool empty_host, struct why *why)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL)
		return because(why, "expected HOST:PORT");
	if (colon == s && !empty_host)
		return because(why, "the host is missing (expected HOST:PORT)");
	if (s[0] == '[' && colon[-1] != ']')
		return because(why, "an IPv6 address needs brackets: [ADDR]:PORT");
	return parse_port(colon + 1, why);
}

static int
check_url(const char *s, struct why *why)
{
	const char *host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return because(why, "expected an http:// or https:// URL");
	if (*host == '\0' || *host == '/' || *host == ':')
		return because(why, "the URL has no host");
	if (strpbrk(s, " \t\r\n") != NULL)
		return because(why, "a URL cannot contain white space");
	return 0;
}

static int
check_deregister(const char *s, struct why *why)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	const char *sp = strchr(s, ' ');
	size_t i;

	if (sp == NULL)
		return because(why, "expected 'METHOD URL', e.g. 'PUT http://consul:8500/...'");
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if ((size_t)(sp - s) == strlen(methods[i]) && strncmp(s, methods[i], sp - s) == 0)
			break;
	if (i == sizeof(methods) / sizeof(methods[0]))
		return because(why, "the method must be GET, POST, PUT, PATCH or DELETE");
	while (*sp == ' ')
		sp++;
	return check_url(sp, why);
}

static int
check_dns_label(const char *s, struct why *why)
{
	size_t n = strlen(s), i;

	if (n > 63)
		return because(why, "a Service name has at most 63 characters");
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return because(why, "a Service name is lower-case letters, digits and '-'");
	if (!islower((unsigned char)s[0]) || s[n - 1] == '-')
		return because(why,
			"a Service name starts with a letter and ends with a letter or "
			"digit");
	return 0;
}

/* "Name: value", with a token for a name and no line break anywhere. */
static int
check_header(const char *s, struct why *why)
{
	const char *colon = strchr(s, ':'), *p;

	if (colon == NULL || colon == s)
		return because(why, "expected 'Name: value'");
	for (p = s; p < colon; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return because(why, "'%.*s' is not a header name", (int)(colon - s), s);
	if (strpbrk(s, "\r\n") != NULL)
		return because(why, "a header cannot contain a line break");
	return 0;
}

/* Checks s for o; *off is set when the value means "disabled" (stored as NULL). */
static int
check_string(const struct opt *o, const char *s, bool *off, struct why *why)
{
	*off = false;
	if (*s == '\0')
		return because(why, "the value is empty");
	switch (o->check) {
	case CK_ANY:
		return 0;
	case CK_LISTEN:
		if (strcmp(s, "off") == 0) {
			*off = true;
			return 0;
		}
		return check_hostport(s, true, why);
	case CK_SOCKET:
		if (strcmp(s, "off") == 0) {
			*off = true;
			return 0;
		}
		if (s[0] != '@' && s[0] != '/')
			return because(why, "expected @NAME (abstract), an absolute path, or off");
		if (strlen(s) > 107)
			return because(why, "a unix socket path has at most 107 characters");
		return 0;
	case CK_HOSTPORT:
		return check_hostport(s, false, why);
	case CK_URL:
		return check_url(s, why);
	case CK_DEREGISTER:
		return check_deregister(s, why);
	case CK_PORT:
		return parse_port(s, why);
	case CK_DNS_LABEL:
		return check_dns_label(s, why);
	case CK_HEADER:
		return check_header(s, why);
	}
	return 0;
}

/* "FROM:TO" with each side parsed by sig; *to may be 0 when zero_to. */
static int
parse_pair(const char *s, int *from, int *to, bool signals, struct why *why)
{
	const char *colon = strchr(s, ':');
	char left[32];
	size_t n;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return because(why, "expected FROM:TO");
	n = (size_t)(colon - s);
	if (n >= sizeof(left))
		return because(why, "'%.*s' is not %s", (int)n, s, signals ? "a signal" : "0-255");
	memcpy(left, s, n);
	left[n] = '\0';
	if (!signals) {
		char *end;
		long f, t;

		f = strtol(left, &end, 10);
		if (!isdigit((unsigned char)left[0]) || *end != '\0' || f > 255)
			return because(why, "'%s' is not an exit status (0-255)", left);
		t = strtol(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || *end != '\0' || t > 255)
			return because(why, "'%s' is not an exit status (0-255)", colon + 1);
		*from = (int)f;
		*to = (int)t;
		return 0;
	}
	if (signals_parse(left, from) < 0)
		return because(
			why, "'%s' is not a signal (a name like TERM or a number 1-64)", left);
	if (!signals_forwardable(*from)) {
		char name[32];

		return because(why, "%s never reaches graceinit, so it cannot be rewritten",
			signals_name(*from, name, sizeof(name)));
	}
	if (strcmp(colon + 1, "0") == 0)
		*to = 0;
	else if (signals_parse(colon + 1, to) < 0)
		return because(why, "'%s' is not a signal (a name, a number 1-64, or 0 to drop)",
			colon + 1);
	return 0;
}

static int
parse_enum(const char *s, const char *const *names, size_t n, int *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

static void
list_clear(struct conf_strings *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
list_add(struct conf_strings *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	l->v = v;
	if ((v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* Forgets what a lower-precedence source said, so that a list is replaced, not merged. */
static void
reset(struct conf *c, const struct opt *o)
{
	int i;

	switch (o->type) {
	case T_REWRITE:
		signals_rewrite_init(field(c, o));
		break;
	case T_REMAP:
		for (i = 0; i < 256; i++)
			((int *)field(c, o))[i] = i;
		break;
	case T_LIST:
		list_clear(field(c, o));
		break;
	case T_STRING:
		free(*(char **)field(c, o));
		*(char **)field(c, o) = NULL;
		break;
	default:
		break;
	}
}

/* The least value of a duration option: probes must not spin. */
static int64_t
duration_min(const struct opt *o)
{
	if (o->off == F(ready_interval_ms))
		return 100;
	if (o->off == F(ready_timeout_ms))
		return 10;
	return 0;
}

/* Parses one item (lists are split before) and stores it. */
static int
store(struct conf *c, const struct opt *o, const char *s, struct why *why)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	static const char *const formats[] = { "text", "json" };
	static const char *const endpoints[] = { "auto", "on", "off" };
	int from, to, n;
	bool off;

	switch (o->type) {
	case T_BOOL:
		if (parse_bool(s, field(c, o)) < 0)
			return because(why, "expected true or false");
		return 0;
	case T_DURATION:
		if (conf_parse_duration(s, field(c, o)) < 0)
			return because(why,
				"expected a duration such as 250ms, 5s, 2m or 30 "
				"(seconds), at most 720h");
		if (*(int64_t *)field(c, o) < duration_min(o))
			return because(why, "at least %lldms", (long long)duration_min(o));
		return 0;
	case T_SIGNAL:
		if (signals_parse(s, field(c, o)) < 0)
			return because(why, "expected a signal name like TERM or a number 1-64");
		return 0;
	case T_STRING:
		if (check_string(o, s, &off, why) < 0)
			return -1;
		free(*(char **)field(c, o));
		*(char **)field(c, o) = off ? NULL : strdup(s);
		if (!off && *(char **)field(c, o) == NULL)
			return because(why, "out of memory");
		return 0;
	case T_LIST:
		if (check_string(o, s, &off, why) < 0)
			return -1;
		if (list_add(field(c, o), s) < 0)
			return because(why, "out of memory");
		return 0;
	case T_REWRITE:
		if (parse_pair(s, &from, &to, true, why) < 0)
			return -1;
		((struct sigrewrite *)field(c, o))->to[from] = to;
		return 0;
	case T_REMAP:
		if (parse_pair(s, &from, &to, false, why) < 0)
			return -1;
		((int *)field(c, o))[from] = to;
		return 0;
	case T_ENDPOINTS:
		if (parse_enum(s, endpoints, 3, &n) < 0)
			return because(why, "expected auto, on or off");
		*(enum conf_endpoints *)field(c, o) = (enum conf_endpoints)n;
		return 0;
	case T_LOG_LEVEL:
		if (parse_enum(s, levels, 4, &n) < 0)
			return because(why, "expected error, warn, info or debug");
		*(enum log_level *)field(c, o) = (enum log_level)n;
		return 0;
	case T_LOG_FORMAT:
		if (parse_enum(s, formats, 2, &n) < 0)
			return because(why, "expected text or json");
		*(enum log_format *)field(c, o) = (enum log_format)n;
		return 0;
	}
	return 0;
}

static bool
repeatable(const struct opt *o)
{
	return o->type == T_LIST || o->type == T_REWRITE || o->type == T_REMAP;
}

/* Names the source of a value for error messages: "--x", "GRACEINIT_X", "FILE: \"x\"". */
static void
source_name(struct parser *p, const struct opt *o, enum source src, char *buf, size_t len)
{
	size_t i, n;

	switch (src) {
	case SRC_FLAG:
	case SRC_DEFAULT:
		snprintf(buf, len, "--%s", o->name);
		return;
	case SRC_ENV:
		n = (size_t)snprintf(buf, len, "GRACEINIT_");
		for (i = 0; o->name[i] != '\0' && n + 1 < len; i++, n++)
			buf[n] = (char)(o->name[i] == '-' ? '_'
							  : toupper((unsigned char)o->name[i]));
		buf[n] = '\0';
		return;
	case SRC_FILE:
		snprintf(buf, len, "%s: \"%s\"", p->c->config_path, o->name);
		return;
	}
}

/* Applies one value from src to o: splits lists, replaces lower sources, checks, stores. */
static int
apply(struct parser *p, const struct opt *o, enum source src, const char *value)
{
	size_t idx = (size_t)(o - opts);
	char item[4096], where[512];
	const char *s = value;
	struct why why;

	if (p->set_by[idx] < src || src == SRC_DEFAULT)
		reset(p->c, o);
	p->set_by[idx] = src;
	do {
		const char *end = repeatable(o) && o->sep ? strchr(s, o->sep) : NULL;
		size_t n = end ? (size_t)(end - s) : strlen(s);

		while (n > 0 && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n >= sizeof(item)) {
			source_name(p, o, src, where, sizeof(where));
			return failf(p, "%s: the value is too long (at most %zu bytes)", where,
				sizeof(item) - 1);
		}
		memcpy(item, s, n);
		item[n] = '\0';
		/* One per line lists come from YAML blocks: blank lines (a final newline) say nothing. */
		if (n == 0 && o->sep == '\n' && strchr(value, '\n') != NULL) {
			s = end ? end + 1 : NULL;
			continue;
		}
		if (store(p->c, o, item, &why) < 0) {
			source_name(p, o, src, where, sizeof(where));
			return failf(p, "%s: invalid value '%s': %s", where, item, why.text);
		}
		s = end ? end + 1 : NULL;
	} while (s != NULL);
	return 0;
}

static const struct opt *
find_opt(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* A flag as it was given, applied once the lower sources are in. */
struct flag {
	const struct opt *o;
	const char *value;
};

static enum conf_result
scan_flags(struct parser *p, int argc, char *const argv[], struct flag *flags, size_t *nflags)
{
	int i;

	*nflags = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *value = NULL;
		const struct opt *o;
		size_t len;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return CONF_HELP;
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
			return CONF_VERSION;
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (a[1] != '-') {
			failf(p, "unknown option '%s' (graceinit --help lists the options)", a);
			return CONF_ERROR;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		o = find_opt(a, len);
		if (o == NULL && len > 3 && strncmp(a, "no-", 3) == 0 && eq == NULL) {
			o = find_opt(a + 3, len - 3);
			if (o != NULL && o->type == T_BOOL)
				value = "false";
			else
				o = NULL;
		}
		if (o == NULL) {
			failf(p, "unknown option '--%.*s' (graceinit --help lists the options)",
				(int)len, a);
			return CONF_ERROR;
		}
		if (value == NULL && eq != NULL)
			value = eq + 1;
		else if (value == NULL && o->type == T_BOOL)
			value = "true";
		else if (value == NULL && i + 1 < argc)
			value = argv[++i];
		else if (value == NULL) {
			failf(p, "--%s needs a value (%s)", o->name, o->metavar);
			return CONF_ERROR;
		}
		flags[(*nflags)++] = (struct flag){ o, value };
	}
	p->c->argv = i < argc ? &argv[i] : NULL;
	return CONF_RUN;
}

const char *
conf_getenv(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

char **
conf_env_without(char *const envp[], const char *const names[], size_t nnames, size_t room)
{
	size_t n = 0, i, j = 0, k;
	char **env;

	while (envp[n] != NULL)
		n++;
	if ((env = calloc(n + room + 1, sizeof(*env))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < nnames; k++)
			if (strncmp(envp[i], names[k], strlen(names[k])) == 0 &&
				envp[i][strlen(names[k])] == '=')
				break;
		if (k == nnames)
			env[j++] = envp[i];
	}
	return env;
}

static int
apply_env(struct parser *p, char *const envp[])
{
	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		const struct opt *o = NULL;
		char name[64];
		size_t i, n;

		if (strncmp(e, "GRACEINIT_", 10) != 0 || eq == NULL)
			continue;
		n = (size_t)(eq - e) - 10;
		/* Upper case only, as documented: GRACEINIT_stop_signal is a typo, not a setting. */
		for (i = 0; i < n && i + 1 < sizeof(name) && !islower((unsigned char)e[10 + i]);
			i++)
			name[i] =
				(char)(e[10 + i] == '_' ? '-' : tolower((unsigned char)e[10 + i]));
		name[i] = '\0';
		if (i == n)
			o = find_opt(name, n);
		if (o == NULL)
			return failf(p,
				"%.*s: unknown setting in the environment "
				"(graceinit --help lists the options)",
				(int)(eq - e), e);
		if (o->type == T_STRING && o->off == F(config_path))
			continue; /* read before the file, see conf_parse */
		if (apply(p, o, SRC_ENV, eq + 1) < 0)
			return -1;
	}
	return 0;
}

/* Renders a JSON scalar as the text a flag would carry; NULL if it has no such form. */
static const char *
json_scalar(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNumber(v)) {
		/* Whole numbers print as such; the range check keeps the cast defined. */
		if (v->valuedouble > -1e15 && v->valuedouble < 1e15 &&
			v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
		else
			snprintf(buf, len, "%.17g", v->valuedouble);
		return buf;
	}
	return NULL;
}

static char *
read_file(struct parser *p, const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		failf(p, "%s: cannot open '%s': %s", p->config_src, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		failf(p, "%s: '%s' is not a regular file of at most 1 MiB", p->config_src, path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		failf(p, "%s: out of memory", p->config_src);
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		failf(p, "%s: cannot read '%s': %s", p->config_src, path, strerror(errno));
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

static int
apply_file(struct parser *p, const char *path)
{
	const cJSON *member, *item;
	char num[64], *text;
	cJSON *root;
	size_t len;
	int rc = -1;

	if ((text = read_file(p, path, &len)) == NULL)
		return -1;
	/* The whole file must be one JSON value: nothing silently ignored after it. */
	root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, true);
	if (root == NULL || !cJSON_IsObject(root)) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *q = text; root == NULL && at != NULL && q < at && *q; q++)
			line += *q == '\n';
		if (root == NULL)
			failf(p, "%s: not valid JSON (near line %d)", path, line);
		else
			failf(p, "%s: expected a JSON object of option names", path);
		goto out;
	}
	cJSON_ArrayForEach(member, root)
	{
		const struct opt *o = find_opt(member->string, strlen(member->string));
		const char *s;

		if (o == NULL || o->off == F(config_path)) {
			failf(p, "%s: unknown option \"%s\" (graceinit --help lists the options)",
				path, member->string);
			goto out;
		}
		if (cJSON_IsArray(member) && repeatable(o)) {
			p->set_by[o - opts] = SRC_DEFAULT; /* the array replaces the default */
			cJSON_ArrayForEach(item, member)
			{
				if ((s = json_scalar(item, num, sizeof(num))) == NULL ||
					cJSON_IsBool(item)) {
					failf(p, "%s: \"%s\": expected an array of strings", path,
						o->name);
					goto out;
				}
				if (apply(p, o, SRC_FILE, s) < 0)
					goto out;
			}
			continue;
		}
		s = json_scalar(member, num, sizeof(num));
		if (s == NULL || (cJSON_IsBool(member) && o->type != T_BOOL) ||
			(!cJSON_IsBool(member) && o->type == T_BOOL)) {
			failf(p, "%s: \"%s\": expected %s", path, o->name,
				o->type == T_BOOL       ? "true or false"
					: repeatable(o) ? "a string or an array of strings"
							: "a string");
			goto out;
		}
		if (apply(p, o, SRC_FILE, s) < 0)
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

static int
apply_defaults(struct parser *p)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		reset(p->c, &opts[i]);
		if (opts[i].def != NULL && apply(p, &opts[i], SRC_DEFAULT, opts[i].def) < 0)
			return -1;
	}
	return 0;
}

/* Which source set the option stored at offset off. */
static enum source
set_by(const struct parser *p, size_t off)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].off == off)
			return p->set_by[i];
	return SRC_DEFAULT;
}

/* Values that depend on other values or on where graceinit runs. */
static int
derive(struct parser *p, char *const envp[])
{
	struct conf *c = p->c;
	const char *v;

	if (set_by(p, F(stop_signal)) == SRC_DEFAULT)
		c->stop_signal = c->rewrite.to[SIGTERM];
	c->in_kubernetes = conf_getenv(envp, "KUBERNETES_SERVICE_HOST") != NULL;
	if (c->in_kubernetes) {
		if (set_by(p, F(http)) == SRC_DEFAULT && (c->http = strdup(":9797")) == NULL)
			return failf(p, "out of memory");
		if (set_by(p, F(drain_delay_ms)) == SRC_DEFAULT)
			c->drain_delay_ms = 5000;
	}
	/* Empty values from the downward API or a template say nothing. */
	if (c->pod_name == NULL &&
		(((v = conf_getenv(envp, "POD_NAME")) != NULL && *v != '\0') ||
			((v = conf_getenv(envp, "HOSTNAME")) != NULL && *v != '\0')))
		c->pod_name = strdup(v);
	if (c->pod_ip == NULL && (v = conf_getenv(envp, "POD_IP")) != NULL && *v != '\0')
		c->pod_ip = strdup(v);
	return 0;
}

enum conf_result
conf_parse(
	struct conf *c, int argc, char *const argv[], char *const envp[], char *err, size_t errlen)
{
	struct parser p = { .c = c, .err = err, .errlen = errlen };
	struct flag *flags;
	const char *config;
	enum conf_result r;
	size_t nflags, i;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';
	/* "graceinit plan [OPTIONS] [-- COMMAND]": the same options, the command optional. */
	if (argc > 1 && strcmp(argv[1], "plan") == 0) {
		c->plan = true;
		argc--;
		argv++;
	}
	flags = calloc((size_t)argc + 1, sizeof(*flags));
	if (flags == NULL) {
		failf(&p, "out of memory");
		return CONF_ERROR;
	}
	r = scan_flags(&p, argc, argv, flags, &nflags);
	if (r != CONF_RUN)
		goto out;
	r = CONF_ERROR;
	if (apply_defaults(&p) < 0)
		goto out;
	/* The file is named by the flag, else by the environment. */
	config = conf_getenv(envp, "GRACEINIT_CONFIG");
	p.config_src = "GRACEINIT_CONFIG";
	for (i = 0; i < nflags; i++) {
		if (flags[i].o->off == F(config_path)) {
			config = flags[i].value;
			p.config_src = "--config";
		}
	}
	if (config != NULL) {
		if (*config == '\0') {
			failf(&p, "%s: the file name is empty", p.config_src);
			goto out;
		}
		if ((c->config_path = strdup(config)) == NULL || apply_file(&p, config) < 0)
			goto out;
	}
	if (apply_env(&p, envp) < 0)
		goto out;
	for (i = 0; i < nflags; i++)
		if (flags[i].o->off != F(config_path) &&
			apply(&p, flags[i].o, SRC_FLAG, flags[i].value) < 0)
			goto out;
	if (derive(&p, envp) < 0)
		goto out;
	if (c->kill_margin_ms >= c->grace_period_ms) {
		char m[32], g[32];

		failf(&p, "--kill-margin %s must be shorter than --grace-period %s",
			conf_format_duration(c->kill_margin_ms, m, sizeof(m)),
			conf_format_duration(c->grace_period_ms, g, sizeof(g)));
		goto out;
	}
	if (c->drain_connections.n > 16) {
		failf(&p, "--drain-connections: at most 16 ports (%zu given)",
			c->drain_connections.n);
		goto out;
	}
	if (c->watchdog_ms > 0 && !c->notify) {
		failf(&p, "--watchdog needs --notify: the pings come over $NOTIFY_SOCKET");
		goto out;
	}
	if (c->argv == NULL && !c->sidecar && !c->plan) {
		failf(&p,
			"no command given: graceinit [OPTIONS] [--] COMMAND [ARG...] "
			"(graceinit --help explains)");
		goto out;
	}
	if (c->argv != NULL && c->sidecar) {
		failf(&p, "--sidecar runs no command, but '%s' was given", c->argv[0]);
		goto out;
	}
	r = c->plan ? CONF_PLAN : CONF_RUN;
out:
	free(flags);
	return r;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].type == T_STRING || opts[i].type == T_LIST)
			reset(c, &opts[i]);
}

bool
conf_watches_endpoints(const struct conf *c)
{
	return c->endpoints == CONF_ENDPOINTS_ON ||
		(c->endpoints == CONF_ENDPOINTS_AUTO && c->in_kubernetes);
}

const char *
conf_split_hostport(const char *hostport, char *host, size_t len)
{
	const char *colon = strrchr(hostport, ':');
	size_t n = (size_t)(colon - hostport);

	if (n >= len)
		n = len - 1;
	memcpy(host, hostport, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 1 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	return colon + 1;
}

const char *
conf_format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
	return buf;
}

/* "TERM", "RTMIN+2", or the number when the signal has no name; "0" for 0. */
static const char *
short_signal(int signo, char *buf, size_t len)
{
	signals_name(signo, buf, len);
	if (signo != 0 && strncmp(buf, "SIG", 3) == 0)
		return buf + 3;
	snprintf(buf, len, "%d", signo);
	return buf;
}

/* Rewrite and remap tables as the "FROM:TO" list that would produce them. */
static cJSON *
pairs_json(const int *to, int n, bool signals)
{
	cJSON *a = cJSON_CreateArray();
	char item[80], from_name[32], to_name[32];
	int i;

	for (i = signals ? 1 : 0; a != NULL && i < n; i++) {
		if (to[i] == i)
			continue;
		if (!signals)
			snprintf(item, sizeof(item), "%d:%d", i, to[i]);
		else
			snprintf(item, sizeof(item), "%s:%s", short_signal(i, from_name, 32),
				short_signal(to[i], to_name, 32));
		cJSON_AddItemToArray(a, cJSON_CreateString(item));
	}
	return a;
}

static cJSON *
opt_json(const struct conf *c, const struct opt *o)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	static const char *const formats[] = { "text", "json" };
	static const char *const endpoints[] = { "auto", "on", "off" };
	const void *f = (const char *)c + o->off;
	const struct conf_strings *l;
	char tmp[64];
	cJSON *a;
	size_t i;

	switch (o->type) {
	case T_BOOL:
		return cJSON_CreateBool(*(const bool *)f);
	case T_DURATION:
		return cJSON_CreateString(
			conf_format_duration(*(const int64_t *)f, tmp, sizeof(tmp)));
	case T_SIGNAL:
		if (*(const int *)f == 0)
			return cJSON_CreateNull();
		return cJSON_CreateString(signals_name(*(const int *)f, tmp, sizeof(tmp)));
	case T_STRING:
		if (*(char *const *)f == NULL)
			return cJSON_CreateNull();
		if (o->off == F(control_token))
			return cJSON_CreateString("(set)");
		return cJSON_CreateString(*(char *const *)f);
	case T_LIST:
		l = f;
		a = cJSON_CreateArray();
		for (i = 0; a != NULL && i < l->n; i++) {
			/* Header values are secrets (registry tokens): show their names only. */
			if (o->off == F(deregister_headers))
				snprintf(tmp, sizeof(tmp), "%.*s: (set)",
					(int)strcspn(l->v[i], ":") > 40
						? 40
						: (int)strcspn(l->v[i], ":"),
					l->v[i]);
			cJSON_AddItemToArray(a,
				cJSON_CreateString(
					o->off == F(deregister_headers) ? tmp : l->v[i]));
		}
		return a;
	case T_REWRITE:
		return pairs_json(((const struct sigrewrite *)f)->to, SIGNALS_MAX, true);
	case T_REMAP:
		return pairs_json(f, 256, false);
	case T_ENDPOINTS:
		return cJSON_CreateString(endpoints[*(const enum conf_endpoints *)f]);
	case T_LOG_LEVEL:
		return cJSON_CreateString(levels[*(const enum log_level *)f]);
	case T_LOG_FORMAT:
		return cJSON_CreateString(formats[*(const enum log_format *)f]);
	}
	return cJSON_CreateNull();
}

cJSON *
conf_json(const struct conf *c)
{
	cJSON *o = cJSON_CreateObject(), *cmd;
	size_t i;

	if (o == NULL)
		return NULL;
	cmd = cJSON_AddArrayToObject(o, "command");
	for (i = 0; cmd != NULL && c->argv != NULL && c->argv[i] != NULL; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(c->argv[i]));
	for (i = 0; i < NOPTS; i++)
		cJSON_AddItemToObject(o, opts[i].name, opt_json(c, &opts[i]));
	cJSON_AddBoolToObject(o, "in-kubernetes", c->in_kubernetes);
	return o;
}

void
conf_usage(FILE *out)
{
	size_t i;
	int g;

	fprintf(out,
		"Usage: graceinit [OPTIONS] [--] COMMAND [ARG...]\n"
		"\n"
		"graceinit runs COMMAND as its child, the way a container's PID 1 must: it "
		"forwards\n"
		"every signal to the child's process group, reaps every zombie, and exits with "
		"the\n"
		"child's status (128+N when the child was killed by signal N; 127 when COMMAND is\n"
		"not found, 126 when it cannot be executed, 2 for a configuration error).\n");
	for (g = G_PROCESS; g <= G_OTHER; g++) {
		bool title = false;

		for (i = 0; i < NOPTS; i++) {
			const struct opt *o = &opts[i];
			char left[64];
			const char *def = o->def_help ? o->def_help : o->def;

			if ((int)o->group != g)
				continue;
			if (!title)
				fprintf(out, "\n%s:\n", group_titles[g]);
			title = true;
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
				o->metavar ? o->metavar : "");
			if (strlen(left) > 24)
				fprintf(out, "  %s\n  %-24s %s", left, "", o->help);
			else
				fprintf(out, "  %-24s %s", left, o->help);
			if (def != NULL && o->type != T_BOOL)
				fprintf(out, "\n  %-24s   default: %s", "", def);
			else if (def != NULL && strcmp(def, "true") == 0)
				fprintf(out, "\n  %-24s   default: on (--no-%s turns it off)", "",
					o->name);
			fputc('\n', out);
		}
	}
	fprintf(out,
		"  %-24s this help\n"
		"  %-24s print the version\n",
		"-h, --help", "-V, --version");
	fprintf(out,
		"\n"
		"Every option can also be set as GRACEINIT_<NAME> in the environment (upper\n"
		"case, '-' becomes '_'; lists separated by commas, but --deregister and\n"
		"--deregister-header one per line) or as a key of the --config JSON file (lists\n"
		"as arrays). A flag beats the environment, which beats the file. Booleans take\n"
		"true/false (--kill-on-exit=false, GRACEINIT_NO_SETSID=true). Durations: 250ms,\n"
		"5s, 2m, 1h30m, or a number of seconds. Signals: TERM, SIGTERM or 15.\n"
		"\n"
		"Examples:\n"
		"  graceinit -- my-server --port 8080\n"
		"  graceinit --rewrite TERM:QUIT -- nginx -g 'daemon off;'\n"
		"  graceinit --exit-remap 143:0 -- java -jar app.jar\n"
		"  graceinit --http :9797 --drain-delay 5s -- my-server    (probes, a drain)\n"
		"  graceinit plan --grace-period 30s -- my-server    (what a shutdown will do)\n"
		"  Dockerfile:  ENTRYPOINT [\"/graceinit\", \"--\"]\n"
		"               CMD [\"my-server\", \"--flag\"]\n");
}
