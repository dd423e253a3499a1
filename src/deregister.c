/*
 * deregister.c: HTTP calls that take the pod out of registries graceinit cannot watch (Consul,
 * Eureka, a cloud load balancer's API, your own), made when the drain starts, all at once on
 * the loop's curl multi. A 2xx answer counts as done; anything else is retried with backoff
 * (250 ms doubling to 4 s), each attempt bounded to 5 s, until done or until the drain's
 * budget moves on to the stop signal. Headers (--deregister-header) go with every call.
 */
#include "deregister.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HOOK_TIMEOUT_MS     5000
#define HOOK_BACKOFF_MIN_MS 250
#define HOOK_BACKOFF_MAX_MS 4000

static void send_hook(struct hook *h);

static void
on_retry(struct loop *loop, void *arg)
{
	(void)loop;
	send_hook(arg);
}

static void
on_done(CURL *easy, CURLcode result, void *arg)
{
	struct hook *h = arg;
	struct deregister *d = h->d;

	h->busy = false;
	h->last_code = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &h->last_code);
	if (result == CURLE_OK && h->last_code / 100 == 2) {
		h->done = true;
		h->done_ms = loop_now_ms();
		log_info("deregister: %s %s answered %ld after %u attempt%s", h->method, h->url,
			h->last_code, h->attempts, h->attempts == 1 ? "" : "s");
		d->changed(d->arg);
		return;
	}
	if (result != CURLE_OK)
		snprintf(h->last_error, sizeof(h->last_error), "%s", curl_easy_strerror(result));
	else
		snprintf(h->last_error, sizeof(h->last_error), "HTTP %ld", h->last_code);
	h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : HOOK_BACKOFF_MIN_MS;
	if (h->backoff_ms > HOOK_BACKOFF_MAX_MS)
		h->backoff_ms = HOOK_BACKOFF_MAX_MS;
	log_warnx("deregister: %s %s failed (%s); retrying in %lld ms", h->method, h->url,
		h->last_error, (long long)h->backoff_ms);
	loop_timer_at(d->loop, &h->retry, loop_now_ms() + h->backoff_ms);
}

static void
send_hook(struct hook *h)
{
	if (h->busy || h->done)
		return;
	h->attempts++;
	if (curlm_add(h->d->curlm, h->easy, on_done, h) == 0)
		h->busy = true;
	else
		loop_timer_at(h->d->loop, &h->retry, loop_now_ms() + HOOK_BACKOFF_MAX_MS);
}

int
deregister_init(struct deregister *d, struct loop *loop, struct curlm *curlm, const struct conf *c,
	void (*changed)(void *arg), void *arg)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	d->loop = loop;
	d->curlm = curlm;
	d->changed = changed;
	d->arg = arg;
	if (c->deregister.n == 0)
		return 0;
	if ((d->hooks = calloc(c->deregister.n, sizeof(*d->hooks))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	for (i = 0; i < c->deregister_headers.n; i++)
		d->headers = curl_slist_append(d->headers, c->deregister_headers.v[i]);
	for (i = 0; i < c->deregister.n; i++) {
		struct hook *h = &d->hooks[i];
		const char *spec = c->deregister.v[i], *sp = strchr(spec, ' ');

		/* conf.c checked the form: "METHOD URL". */
		h->d = d;
		snprintf(h->method, sizeof(h->method), "%.*s", (int)(sp - spec), spec);
		while (*sp == ' ')
			sp++;
		h->url = sp;
		loop_timer_init(&h->retry, on_retry, h);
		if ((h->easy = curl_easy_init()) == NULL) {
			log_warnx("--deregister: cannot initialise libcurl");
			return -1;
		}
		d->n++;
		curl_easy_setopt(h->easy, CURLOPT_URL, h->url);
		curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, h->method);
		if (strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0 ||
			strcmp(h->method, "PATCH") == 0)
			curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, d->headers);
		curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)HOOK_TIMEOUT_MS);
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, curlm_discard);
		curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "graceinit/" GRACEINIT_VERSION);
	}
	return 0;
}

void
deregister_start(struct deregister *d)
{
	size_t i;

	if (d->started)
		return;
	d->started = true;
	for (i = 0; i < d->n; i++)
		send_hook(&d->hooks[i]);
}

bool
deregister_done(const struct deregister *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!d->hooks[i].done)
			return false;
	return true;
}

void
deregister_stop(struct deregister *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		struct hook *h = &d->hooks[i];

		loop_timer_cancel(d->loop, &h->retry);
		if (h->busy)
			curlm_remove(d->curlm, h->easy);
		if (h->easy != NULL)
			curl_easy_cleanup(h->easy);
	}
	free(d->hooks);
	curl_slist_free_all(d->headers);
	memset(d, 0, sizeof(*d));
}
