/*
 * ctl.c: the client side of the control API, for exec hooks in images without curl:
 * `graceinit prestop` starts the drain and returns once deregistration is over (exit 0), and
 * `graceinit status` prints /status. They talk HTTP over the control socket (by default the
 * abstract @graceinit, reachable from every container of the pod) or over TCP with --url.
 * This runs as its own short-lived process, never inside PID 1's loop, so it may block.
 */
#include "ctl.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"

#define CTL_BODY_MAX ((size_t)1024 * 1024)

struct ctl {
	const char *cmd;
	const char *url;
	const char *socket;
	const char *token;
	int64_t timeout_ms;
};

static void
usage(FILE *out, const char *cmd)
{
	fprintf(out,
		"Usage: graceinit %s [--socket PATH | --url URL] [--token TOKEN] "
		"[--timeout DURATION]\n\n",
		cmd);
	if (strcmp(cmd, "prestop") == 0)
		fprintf(out,
			"Starts the drain of the graceinit serving the pod and waits until the\n"
			"deregistration phase is over, then prints the phase timings and exits "
			"0.\nFor an exec preStop hook:  command: [\"/graceinit\", \"prestop\"]\n");
	else
		fprintf(out, "Prints graceinit's /status JSON.\n");
	fprintf(out,
		"\n"
		"  --socket PATH       control socket [$GRACEINIT_CONTROL_SOCKET, else "
		"@graceinit]\n"
		"  --url URL           use TCP instead, e.g. http://127.0.0.1:9797\n"
		"  --token TOKEN       bearer token [$GRACEINIT_CONTROL_TOKEN]\n"
		"  --timeout DURATION  give up after this long [%s]\n"
		"\nExit status: 0 done, 1 graceinit unreachable or failed, 2 usage error.\n",
		strcmp(cmd, "prestop") == 0 ? "5m" : "10s");
}

static int
parse_args(struct ctl *c, int argc, char *const argv[], char *const envp[])
{
	int i;

	c->cmd = argv[0];
	c->socket = conf_getenv(envp, "GRACEINIT_CONTROL_SOCKET");
	c->token = conf_getenv(envp, "GRACEINIT_CONTROL_TOKEN");
	c->timeout_ms = strcmp(c->cmd, "prestop") == 0 ? 300000 : 10000;
	if (c->socket == NULL)
		c->socket = "@graceinit";
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, c->cmd);
			return 1;
		}
		if (v == NULL) {
			fprintf(stderr, "graceinit %s: %s needs a value (see --help)\n", c->cmd, a);
			return -1;
		}
		if (strcmp(a, "--url") == 0) {
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
				fprintf(stderr,
					"graceinit %s: --url: invalid value '%s': expected "
					"http://HOST:PORT\n",
					c->cmd, v);
				return -1;
			}
			c->url = v;
		} else if (strcmp(a, "--socket") == 0) {
			c->socket = v;
		} else if (strcmp(a, "--token") == 0) {
			c->token = v;
		} else if (strcmp(a, "--timeout") == 0) {
			if (conf_parse_duration(v, &c->timeout_ms) < 0) {
				fprintf(stderr,
					"graceinit %s: --timeout: invalid value '%s': expected "
					"a duration such as 30s\n",
					c->cmd, v);
				return -1;
			}
		} else {
			fprintf(stderr, "graceinit %s: unknown option '%s' (see --help)\n", c->cmd,
				a);
			return -1;
		}
	}
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	buf_printf(b, "%.*s", (int)(size * n), data);
	return b->overflow ? 0 : size * n;
}

int
ctl_main(int argc, char *const argv[], char *const envp[])
{
	struct curl_slist *headers = NULL;
	char url[1024], auth[1024], where[1100];
	struct ctl c = { 0 };
	long code = 0;
	struct buf body;
	CURLcode rc;
	CURL *h;
	int r;

	if ((r = parse_args(&c, argc, argv, envp)) != 0)
		return r < 0 ? 2 : 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (h = curl_easy_init()) == NULL) {
		fprintf(stderr, "graceinit %s: cannot initialise libcurl\n", c.cmd);
		return 1;
	}
	buf_init(&body, CTL_BODY_MAX);
	if (c.url != NULL) {
		size_t n = strlen(c.url);

		while (n > 0 && c.url[n - 1] == '/')
			n--; /* "http://host:9797/" names the same server */
		snprintf(url, sizeof(url), "%.*s/%s", (int)n, c.url, c.cmd);
		snprintf(where, sizeof(where), "%s", c.url);
	} else {
		snprintf(url, sizeof(url), "http://graceinit/%s", c.cmd);
		snprintf(where, sizeof(where), "the control socket %s", c.socket);
		if (c.socket[0] == '@')
			curl_easy_setopt(h, CURLOPT_ABSTRACT_UNIX_SOCKET, c.socket + 1);
		else
			curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c.socket);
	}
	if (c.token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.token);
		headers = curl_slist_append(headers, auth);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c.timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		fprintf(stderr, "graceinit %s: cannot reach graceinit at %s: %s\n", c.cmd, where,
			curl_easy_strerror(rc));
		r = 1;
	} else if (code / 100 != 2) {
		fprintf(stderr, "graceinit %s: %s answered HTTP %ld: %s", c.cmd, where, code,
			buf_str(&body));
		r = 1;
	} else {
		fputs(buf_str(&body), stdout);
		r = 0;
	}
	buf_free(&body);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return r;
}
