/*
 * k8s.c: the Kubernetes API client, on the loop's curl multi. At start-up (never at the drain:
 * a drain must not begin with a cold connection) it lists the EndpointSlices of its namespace
 * (or of the --service names), page by page, then holds a watch from the list's
 * resourceVersion with bookmarks; 410 Gone means list again, a closed stream means watch again,
 * failures back off. It keeps only whether this pod is a ready endpoint (k8s_parse.c) and calls
 * back on every change. TLS is verified with the service account's ca.crt, the token is re-read
 * for every request (it rotates) and never logged. Everything the server sends is bounded.
 */
#include "k8s.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define K8S_PAGE_LIMIT      500
#define K8S_BODY_MAX        ((size_t)32 * 1024 * 1024)
#define K8S_LINE_MAX        ((size_t)8 * 1024 * 1024)
#define K8S_TOKEN_MAX       (64 * 1024)
#define K8S_WATCH_TIMEOUT_S 290
#define K8S_BACKOFF_MIN_MS  500
#define K8S_BACKOFF_MAX_MS  30000
#define K8S_FORBIDDEN_MS    30000

static void start_list(struct k8s *k);
static void start_watch(struct k8s *k);

const char *
k8s_state_name(enum k8s_state s)
{
	static const char *const names[] = { "off", "listing", "watching", "retrying",
		"forbidden" };

	return s <= K8S_FORBIDDEN ? names[s] : "?";
}

bool
k8s_healthy(const struct k8s *k)
{
	return k->state == K8S_WATCHING && k->have_view && k->watch_answered;
}

/* Remembers since when the view cannot be trusted, for the drain's fallback. */
static void
track_health(struct k8s *k)
{
	if (k8s_healthy(k))
		k->unhealthy_since_ms = -1;
	else if (k->unhealthy_since_ms < 0)
		k->unhealthy_since_ms = loop_now_ms();
}

static bool
readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The token, re-read for every request: projected tokens rotate. */
static int
read_token(const struct k8s *k, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(k->token_path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n > 0 ? 0 : -1;
}

static void
notify_change(struct k8s *k)
{
	bool ready = k->have_view && k8s_view_pod_ready(&k->view);

	if (ready != k->pod_ready)
		log_info("endpoints: this pod is %s a ready endpoint (%zu slice%s list it)",
			ready ? "now" : "no longer", k->view.n, k->view.n == 1 ? "" : "s");
	k->pod_ready = ready;
	track_health(k);
	k->changed(k->arg);
}

/* One message per failure until a request succeeds again; the details go to /status. */
static void failed(struct k8s *k, enum k8s_state state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
failed(struct k8s *k, enum k8s_state state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->error, sizeof(k->error), fmt, ap);
	va_end(ap);
	k->failures++;
	if (!k->error_logged)
		log_warnx(
			"endpoints: %s; until the API answers, a drain waits --drain-delay "
			"instead of confirming deregistration (a watch lost in mid-drain gets 2 s "
			"to come back first)",
			k->error);
	k->error_logged = true;
	k->state = state;
	if (state == K8S_FORBIDDEN) {
		loop_timer_at(k->loop, &k->retry, loop_now_ms() + K8S_FORBIDDEN_MS);
	} else {
		k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : K8S_BACKOFF_MIN_MS;
		if (k->backoff_ms > K8S_BACKOFF_MAX_MS)
			k->backoff_ms = K8S_BACKOFF_MAX_MS;
		loop_timer_at(k->loop, &k->retry, loop_now_ms() + k->backoff_ms);
	}
	notify_change(k);
}

static void
succeeded(struct k8s *k)
{
	if (k->error_logged)
		log_info("endpoints: the API answers again");
	k->error_logged = false;
	k->error[0] = '\0';
	k->backoff_ms = 0;
}

static void
on_retry(struct loop *loop, void *arg)
{
	struct k8s *k = arg;

	(void)loop;
	start_list(k);
}

/* A watch line: one event. A line that is not an event means the stream is broken. */
static int
on_line(struct k8s *k, const char *line, size_t len)
{
	enum k8s_event ev;
	char err[256];
	int code = 0;

	if (len == 0)
		return 0;
	if (k8s_parse_event(&k->view, line, len, &k->pod, &ev, &code, err, sizeof(err)) < 0) {
		log_warnx("endpoints: watch: %s; listing again", err);
		k->relist = true;
		return -1;
	}
	k->events++;
	if (ev == K8S_ERROR) {
		/* 410 Gone: the resourceVersion is too old; anything else: start over too. */
		log_debug("endpoints: watch ERROR event, code %d; listing again", code);
		k->relist = true;
		return -1;
	}
	if (ev != K8S_BOOKMARK)
		notify_change(k);
	return 0;
}

size_t
k8s_feed(struct k8s *k, const char *data, size_t len)
{
	size_t i, start = 0;

	/*
	 * No JSON text has a NUL byte, and "%.*s" would stop at one, so that what is kept would
	 * depend on where the chunks end: the answer is broken.
	 */
	if (k->listing) {
		if (memchr(data, '\0', len) != NULL) {
			log_warnx("endpoints: list: a NUL byte in the answer");
			return 0;
		}
		buf_printf(&k->body, "%.*s", (int)len, data);
		return k->body.overflow ? 0 : len;
	}
	/* Lines may be split anywhere across chunks: keep the partial one. */
	for (i = 0; i < len; i++) {
		if (data[i] == '\0') {
			/* A line already too long says so first, wherever the chunks end. */
			buf_printf(&k->line, "%.*s", (int)(i - start), data + start);
			if (!k->line.overflow) {
				log_warnx("endpoints: watch: a NUL byte; listing again");
				k->relist = true;
			}
			return 0;
		}
		if (data[i] != '\n')
			continue;
		buf_printf(&k->line, "%.*s", (int)(i - start), data + start);
		if (k->line.overflow || on_line(k, buf_str(&k->line), k->line.len) < 0)
			return 0;
		buf_free(&k->line);
		start = i + 1;
	}
	buf_printf(&k->line, "%.*s", (int)(len - start), data + start);
	return k->line.overflow ? 0 : len;
}

static size_t
on_data(char *data, /* NOLINT(readability-non-const-parameter): curl_write_callback type */
	size_t size, size_t n, void *arg)
{
	return k8s_feed(arg, data, size * n);
}

/* The end of a response's headers: a watch answered 200 is live from now on. */
static size_t
on_header(char *data, /* NOLINT(readability-non-const-parameter): curl_write_callback type */
	size_t size, size_t n, void *arg)
{
	struct k8s *k = arg;
	long code = 0;

	if (size * n <= 2 && !k->listing && !k->watch_answered &&
		(data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200) {
			k->watch_answered = true;
			notify_change(k);
		}
	}
	return size * n;
}

static void
list_page_done(struct k8s *k)
{
	char err[256];

	if (k8s_parse_list(&k->pending, buf_str(&k->body), k->body.len, &k->pod, k->cont,
		    sizeof(k->cont), err, sizeof(err)) < 0) {
		failed(k, K8S_BACKOFF, "listing EndpointSlices: %s", err);
		return;
	}
	if (k->cont[0] != '\0') {
		start_list(k); /* the next page */
		return;
	}
	k8s_view_move(&k->view, &k->pending);
	k->have_view = true;
	k->lists++;
	succeeded(k);
	log_debug("endpoints: listed, resourceVersion %s; %zu slice(s) list this pod",
		k->view.resource_version, k->view.n);
	start_watch(k);
	notify_change(k);
}

/* curl's own words when it has them (which certificate check failed, and why). */
static const char *
transfer_error(const struct k8s *k, CURLcode result)
{
	return k->curl_error[0] != '\0' ? k->curl_error : curl_easy_strerror(result);
}

static void
on_done(CURL *easy, CURLcode result, void *arg)
{
	struct k8s *k = arg;
	long code = 0;

	k->busy = false;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 401) {
		failed(k, K8S_FORBIDDEN,
			"the API server answered 401 Unauthorized: it rejected the service account "
			"token in %s (expired, or not a token of this cluster)",
			k->token_path);
		return;
	}
	if (code == 403) {
		failed(k, K8S_FORBIDDEN,
			"the API server answered 403 Forbidden: the service account needs a Role "
			"with get, list and watch on endpointslices (API group discovery.k8s.io) "
			"in "
			"namespace %s, and a RoleBinding",
			k->namespace);
		return;
	}
	if (k->listing) {
		if (result == CURLE_OK && code == 200)
			list_page_done(k);
		else if (code == 410)
			start_list(k); /* the continue token expired: start the list over */
		else if (result != CURLE_OK)
			failed(k, K8S_BACKOFF, "listing EndpointSlices: %s",
				k->body.overflow ? "the answer is too large"
						 : transfer_error(k, result));
		else
			failed(k, K8S_BACKOFF, "listing EndpointSlices: HTTP %ld", code);
		return;
	}
	if (k->relist || code == 410) {
		start_list(k);
		return;
	}
	if (code == 200 && (result == CURLE_OK || result == CURLE_PARTIAL_FILE) &&
		loop_now_ms() - k->watch_started_ms > 1000) {
		start_watch(k); /* the server ended the watch (timeoutSeconds): resume it */
		return;
	}
	if (result != CURLE_OK)
		failed(k, K8S_BACKOFF, "watching EndpointSlices: %s",
			k->line.overflow ? "an event is too large" : transfer_error(k, result));
	else
		failed(k, K8S_BACKOFF,
			"watching EndpointSlices: HTTP %ld, or a stream that ended at once", code);
}

static void
request(struct k8s *k, const char *url, bool listing)
{
	char token[K8S_TOKEN_MAX], *auth;

	buf_free(&k->body);
	buf_free(&k->line);
	k->curl_error[0] = '\0';
	k->listing = listing;
	k->relist = false;
	if (read_token(k, token, sizeof(token)) < 0) {
		failed(k, K8S_BACKOFF, "cannot read the service account token %s: %s",
			k->token_path, errno ? strerror(errno) : "empty");
		return;
	}
	curl_slist_free_all(k->headers);
	k->headers = NULL;
	if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		failed(k, K8S_BACKOFF, "out of memory");
		return;
	}
	k->headers = curl_slist_append(k->headers, auth);
	k->headers = curl_slist_append(k->headers, "Accept: application/json");
	explicit_bzero(token, sizeof(token));
	explicit_bzero(auth, strlen(auth));
	free(auth);
	curl_easy_setopt(k->easy, CURLOPT_URL, url);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->headers);
	curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS,
		listing ? 30000L : (long)(K8S_WATCH_TIMEOUT_S + 30) * 1000);
	if (curlm_add(k->curlm, k->easy, on_done, k) < 0) {
		failed(k, K8S_BACKOFF, "cannot start a request");
		return;
	}
	k->busy = true;
}

static void
start_list(struct k8s *k)
{
	char url[4096];

	if (k->state != K8S_LISTING || k->cont[0] == '\0')
		k8s_view_free(&k->pending);
	k->state = K8S_LISTING;
	snprintf(url, sizeof(url), "%s?limit=%d%s%s%s", k->url, K8S_PAGE_LIMIT, k->selector,
		k->cont[0] ? "&continue=" : "", k->cont);
	request(k, url, true);
}

static void
start_watch(struct k8s *k)
{
	char url[4096];

	k->state = K8S_WATCHING;
	k->watch_answered = false;
	k->watch_started_ms = loop_now_ms();
	snprintf(url, sizeof(url),
		"%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s",
		k->url, k->view.resource_version, K8S_WATCH_TIMEOUT_S, k->selector);
	request(k, url, false);
}

/* NAME, or "kubernetes.io/service-name in (a,b)", URL-escaped, as a query parameter. */
static int
make_selector(struct k8s *k, const struct conf *c)
{
	char sel[400];
	size_t i, off;
	char *esc;

	if (c->services.n == 0)
		return 0;
	off = (size_t)snprintf(sel, sizeof(sel), "kubernetes.io/service-name in (");
	for (i = 0; i < c->services.n && off < sizeof(sel); i++)
		off += (size_t)snprintf(
			sel + off, sizeof(sel) - off, "%s%s", i ? "," : "", c->services.v[i]);
	if (off + 2 > sizeof(sel))
		return -1;
	memcpy(sel + off, ")", 2);
	if ((esc = curl_easy_escape(k->easy, sel, 0)) == NULL)
		return -1;
	snprintf(k->selector, sizeof(k->selector), "&labelSelector=%s", esc);
	curl_free(esc);
	return 0;
}

static int
read_namespace(struct k8s *k, const struct conf *c)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (c->namespace != NULL) {
		snprintf(k->namespace, sizeof(k->namespace), "%s", c->namespace);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/namespace", c->serviceaccount_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, k->namespace, sizeof(k->namespace) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	k->namespace[n] = '\0';
	k->namespace[strcspn(k->namespace, "\r\n ")] = '\0';
	return k->namespace[0] ? 0 : -1;
}

int
k8s_start(struct k8s *k, struct loop *loop, struct curlm *curlm, const struct conf *c,
	void (*changed)(void *arg), void *arg, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool on = c->endpoints == CONF_ENDPOINTS_ON;
	const char *missing = NULL;

	memset(k, 0, sizeof(*k));
	k->loop = loop;
	k->curlm = curlm;
	k->changed = changed;
	k->arg = arg;
	k->state = K8S_OFF;
	k->unhealthy_since_ms = -1;
	buf_init(&k->body, K8S_BODY_MAX);
	buf_init(&k->line, K8S_LINE_MAX);
	loop_timer_init(&k->retry, on_retry, k);
	if (c->endpoints == CONF_ENDPOINTS_OFF)
		return 0;
	snprintf(k->token_path, sizeof(k->token_path), "%s/token", c->serviceaccount_dir);
	snprintf(k->ca_path, sizeof(k->ca_path), "%s/ca.crt", c->serviceaccount_dir);
	if (host == NULL || port == NULL)
		missing = "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set";
	else if (!readable(k->token_path))
		missing = "the service account token is not readable";
	else if (!readable(k->ca_path))
		missing = "the service account ca.crt is not readable";
	else if (read_namespace(k, c) < 0)
		missing = "no namespace: neither --namespace nor the service account's file";
	else if (c->pod_name == NULL && c->pod_ip == NULL)
		missing = "neither --pod-name nor --pod-ip is known (set POD_NAME or POD_IP "
			  "from the downward API)";
	if (missing != NULL) {
		if (on) {
			snprintf(err, errlen, "--endpoints on: %s (in %s)", missing,
				c->serviceaccount_dir);
			return -1;
		}
		log_info("endpoints: not watching EndpointSlices (%s); a drain waits "
			 "--drain-delay",
			missing);
		return 0;
	}
	snprintf(k->pod_name, sizeof(k->pod_name), "%s", c->pod_name ? c->pod_name : "");
	snprintf(k->pod_ip, sizeof(k->pod_ip), "%s", c->pod_ip ? c->pod_ip : "");
	k->pod.name = c->pod_name ? k->pod_name : NULL;
	k->pod.ip = c->pod_ip ? k->pod_ip : NULL;
	k->pod.namespace = k->namespace;
	/* An IPv6 host needs brackets in a URL. */
	snprintf(k->url, sizeof(k->url),
		"https://%s%s%s:%s/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices",
		strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
		k->namespace);
	if ((k->easy = curl_easy_init()) == NULL || make_selector(k, c) < 0) {
		snprintf(err, errlen, "--endpoints: cannot initialise the API client");
		return -1;
	}
	curl_easy_setopt(k->easy, CURLOPT_CAINFO, k->ca_path);
	curl_easy_setopt(k->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(k->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(k->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(k->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(k->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(k->easy, CURLOPT_HEADERDATA, k);
	curl_easy_setopt(k->easy, CURLOPT_ERRORBUFFER, k->curl_error);
	curl_easy_setopt(k->easy, CURLOPT_USERAGENT, "graceinit/" GRACEINIT_VERSION);
	log_info("endpoints: watching the EndpointSlices of namespace %s for pod %s%s%s",
		k->namespace, c->pod_name ? c->pod_name : "", c->pod_name && c->pod_ip ? " / " : "",
		c->pod_ip ? c->pod_ip : "");
	start_list(k);
	return 0;
}

void
k8s_stop(struct k8s *k)
{
	if (k->loop == NULL)
		return;
	loop_timer_cancel(k->loop, &k->retry);
	if (k->easy != NULL) {
		if (k->busy)
			curlm_remove(k->curlm, k->easy);
		curl_easy_cleanup(k->easy);
		k->easy = NULL;
	}
	curl_slist_free_all(k->headers);
	k->headers = NULL;
	buf_free(&k->body);
	buf_free(&k->line);
	k8s_view_free(&k->view);
	k8s_view_free(&k->pending);
	k->state = K8S_OFF;
}
