/*
 * conf.h: the configuration, parsed once from flags, GRACEINIT_* environment and a JSON file.
 */
#ifndef GRACEINIT_CONF_H
#define GRACEINIT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "signals.h"

enum conf_result {
	CONF_RUN,     /* supervise argv */
	CONF_HELP,    /* print conf_usage, exit 0 */
	CONF_VERSION, /* print the version, exit 0 */
	CONF_ERROR,   /* the message is in err; exit 2 */
	CONF_PLAN,    /* "graceinit plan": print the configuration and the drain timeline */
};

enum conf_endpoints {
	CONF_ENDPOINTS_AUTO,
	CONF_ENDPOINTS_ON,
	CONF_ENDPOINTS_OFF,
};

struct conf_strings {
	char **v;
	size_t n;
};

struct conf {
	char *const *argv;  /* COMMAND and its arguments; points into main's argv */
	bool plan;          /* "graceinit plan": the command is optional */
	bool in_kubernetes; /* KUBERNETES_SERVICE_HOST is set */

	/* Process */
	struct sigrewrite rewrite;
	int stop_signal; /* 0: none (TERM is dropped by --rewrite TERM:0) */
	bool no_setsid;
	bool subreaper;
	bool kill_on_exit;
	int64_t exit_grace_ms;
	int exit_remap[256];

	/* Kubernetes */
	char *http; /* "HOST:PORT", ":PORT", or NULL when off */
	char *control_socket;
	char *control_token;
	int64_t drain_delay_ms;
	int64_t min_drain_ms;
	enum conf_endpoints endpoints;
	int64_t endpoints_timeout_ms;
	int64_t endpoints_margin_ms;
	char *pod_name;
	char *pod_ip;
	char *namespace;
	struct conf_strings services;
	char *serviceaccount_dir;
	struct conf_strings deregister;
	struct conf_strings deregister_headers;
	struct conf_strings drain_connections;
	int64_t grace_period_ms;
	int64_t kill_margin_ms;
	bool sidecar;

	/* Readiness and liveness */
	char *ready_http;
	char *ready_tcp;
	int64_t ready_interval_ms;
	int64_t ready_timeout_ms;
	bool notify;
	int64_t watchdog_ms;

	/* Logging */
	enum log_level log_level;
	enum log_format log_format;
	char *config_path;
};

/*
 * Parses argv (argv[0] is the program) and envp into c. On CONF_ERROR, err holds one line that
 * names the option, where it came from and the bad value. conf_free releases c in every case.
 */
enum conf_result conf_parse(
	struct conf *c, int argc, char *const argv[], char *const envp[], char *err, size_t errlen);
void conf_free(struct conf *c);
void conf_usage(FILE *out);

/* "250ms", "5s", "2m", "1h", "1m30s", "1.5s", or bare seconds "30": 0 and *ms, or -1. */
int conf_parse_duration(const char *s, int64_t *ms);
/* --endpoints on, or auto in a cluster: the EndpointSlice watch is wanted. */
bool conf_watches_endpoints(const struct conf *c);
/* The value of name in envp, or NULL. */
const char *conf_getenv(char *const envp[], const char *name);
/*
 * envp without the variables named (a malloc'd array of envp's strings, with room more NULL
 * slots at the end to append to), or NULL (logged).
 */
char **conf_env_without(char *const envp[], const char *const names[], size_t nnames, size_t room);
/* HOST:PORT, [V6]:PORT or :PORT as checked by conf_parse: copies the host, returns the port. */
const char *conf_split_hostport(const char *hostport, char *host, size_t len);
/* The shortest exact form: "0s", "250ms", "5s", "2m", "1h", "1500ms". */
const char *conf_format_duration(int64_t ms, char *buf, size_t len);

struct cJSON;
/* The effective configuration as a JSON object keyed by option name; the token is redacted. */
struct cJSON *conf_json(const struct conf *c);

#endif
