/*
 * probe.c: checks the app's readiness every --ready-interval, each check bounded by
 * --ready-timeout: --ready-tcp is a non-blocking connect watched by the loop, --ready-http a
 * GET on the loop's curl multi (2xx passes). Results go to ready.c. A check still running when
 * the next round is due is not started twice. Never blocks: the only blocking call, resolving
 * the --ready-tcp host name, happens once at start-up.
 */
#include "probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"

static void start_round(struct probe *p);

static void
tcp_finish(struct probe *p, bool ok, const char *detail)
{
	int64_t now = loop_now_ms();

	loop_timer_cancel(p->loop, &p->tcp_deadline);
	if (p->tcp_fd >= 0) {
		loop_io_del(p->loop, &p->tcp_io);
		close(p->tcp_fd);
		p->tcp_fd = -1;
	}
	ready_set(p->ready, p->tcp_check, ok, now, "%s", detail);
}

static void
on_tcp_io(struct loop *loop, uint32_t events, void *arg)
{
	struct probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)loop;
	(void)events;
	if (getsockopt(p->tcp_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		tcp_finish(p, true, "connected");
	else
		tcp_finish(p, false, strerror(err));
}

static void
on_tcp_deadline(struct loop *loop, void *arg)
{
	struct probe *p = arg;
	char msg[64];

	(void)loop;
	snprintf(msg, sizeof(msg), "no answer within %lld ms", (long long)p->timeout_ms);
	tcp_finish(p, false, msg);
}

static void
tcp_round(struct probe *p)
{
	int fd;

	if (p->tcp_fd >= 0)
		return; /* the previous check is still waiting */
	fd = socket(p->tcp_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ready_set(p->ready, p->tcp_check, false, loop_now_ms(), "socket: %s",
			strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&p->tcp_addr, p->tcp_len) == 0) {
		close(fd);
		ready_set(p->ready, p->tcp_check, true, loop_now_ms(), "connected");
		return;
	}
	if (errno != EINPROGRESS) {
		ready_set(p->ready, p->tcp_check, false, loop_now_ms(), "%s", strerror(errno));
		close(fd);
		return;
	}
	p->tcp_fd = fd;
	if (loop_io_add(p->loop, &p->tcp_io, fd, EPOLLOUT, on_tcp_io, p) < 0) {
		close(fd);
		p->tcp_fd = -1;
		return;
	}
	loop_timer_at(p->loop, &p->tcp_deadline, loop_now_ms() + p->timeout_ms);
}

static void
on_http_done(CURL *easy, CURLcode result, void *arg)
{
	struct probe *p = arg;
	int64_t now = loop_now_ms();
	long code = 0;

	p->http_busy = false;
	if (result != CURLE_OK) {
		ready_set(p->ready, p->http_check, false, now, "%s", curl_easy_strerror(result));
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	ready_set(p->ready, p->http_check, code / 100 == 2, now, "HTTP %ld", code);
}

static void
http_round(struct probe *p)
{
	if (p->http_busy)
		return;
	if (curlm_add(p->curlm, p->easy, on_http_done, p) == 0)
		p->http_busy = true;
}

static void
on_round(struct loop *loop, void *arg)
{
	(void)loop;
	start_round(arg);
}

static void
start_round(struct probe *p)
{
	if (p->tcp_check >= 0)
		tcp_round(p);
	if (p->http_check >= 0)
		http_round(p);
	loop_timer_at(p->loop, &p->round, loop_now_ms() + p->interval_ms);
}

static int
resolve(struct probe *p, const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[256];
	const char *port = conf_split_hostport(hostport, host, sizeof(host));
	int rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		log_warnx("--ready-tcp: cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(&p->tcp_addr, res->ai_addr, res->ai_addrlen);
	p->tcp_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
http_setup(struct probe *p, const struct conf *c)
{
	if ((p->easy = curl_easy_init()) == NULL) {
		log_warnx("--ready-http: cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(p->easy, CURLOPT_URL, c->ready_http);
	curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)c->ready_timeout_ms);
	curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, curlm_discard);
	/* The app is local: never through $http_proxy, never redirected elsewhere. */
	curl_easy_setopt(p->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(p->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "graceinit/" GRACEINIT_VERSION);
	return 0;
}

int
probe_start(struct probe *p, struct loop *loop, struct curlm *curlm, struct ready *ready,
	const struct conf *c)
{
	char name[160];

	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->curlm = curlm;
	p->ready = ready;
	p->interval_ms = c->ready_interval_ms;
	p->timeout_ms = c->ready_timeout_ms;
	p->tcp_fd = -1;
	p->tcp_check = p->http_check = -1;
	loop_timer_init(&p->round, on_round, p);
	loop_timer_init(&p->tcp_deadline, on_tcp_deadline, p);
	if (c->ready_tcp != NULL) {
		if (resolve(p, c->ready_tcp) < 0)
			return -1;
		snprintf(name, sizeof(name), "tcp %s", c->ready_tcp);
		p->tcp_check = ready_add(ready, name, "not checked yet");
	}
	if (c->ready_http != NULL) {
		if (http_setup(p, c) < 0)
			return -1;
		snprintf(name, sizeof(name), "http %s", c->ready_http);
		p->http_check = ready_add(ready, name, "not checked yet");
	}
	if (p->tcp_check >= 0 || p->http_check >= 0)
		start_round(p);
	return 0;
}

void
probe_stop(struct probe *p)
{
	if (p->loop == NULL)
		return;
	loop_timer_cancel(p->loop, &p->round);
	if (p->tcp_fd >= 0)
		tcp_finish(p, false, "stopped");
	if (p->easy != NULL) {
		if (p->http_busy)
			curlm_remove(p->curlm, p->easy);
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
	}
}
