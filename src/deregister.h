/*
 * deregister.h: the --deregister webhooks, sent when the drain starts.
 */
#ifndef GRACEINIT_DEREGISTER_H
#define GRACEINIT_DEREGISTER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "curlm.h"
#include "loop.h"

struct deregister;

struct hook {
	struct deregister *d;
	char method[8];
	const char *url;
	CURL *easy;
	bool busy;
	bool done;
	unsigned int attempts;
	int64_t backoff_ms;
	int64_t done_ms;
	long last_code;
	char last_error[128];
	struct loop_timer retry;
};

struct deregister {
	struct loop *loop;
	struct curlm *curlm;
	struct hook *hooks;
	size_t n;
	struct curl_slist *headers;
	bool started;
	void (*changed)(void *arg);
	void *arg;
};

int deregister_init(struct deregister *d, struct loop *loop, struct curlm *curlm,
	const struct conf *c, void (*changed)(void *arg), void *arg);
/* Sends every webhook at once; each is retried with backoff until it answers 2xx. */
void deregister_start(struct deregister *d);
/* Every webhook has answered 2xx (true when there are none). */
bool deregister_done(const struct deregister *d);
void deregister_stop(struct deregister *d);

#endif
