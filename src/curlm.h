/*
 * curlm.h: libcurl's multi interface driven by graceinit's loop.
 */
#ifndef GRACEINIT_CURLM_H
#define GRACEINIT_CURLM_H

#include <curl/curl.h>
#include <stdbool.h>

#include "loop.h"

/* At most this many sockets at once: the readiness check, the API watch, the webhooks. */
#define CURLM_MAX_SOCKETS 64

typedef void curlm_done_cb(CURL *easy, CURLcode result, void *arg);

struct curlm_socket {
	struct loop_io io;
	struct curlm *m;
	bool used;
};

struct curlm {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer timer;
	struct curlm_socket sockets[CURLM_MAX_SOCKETS];
};

int curlm_init(struct curlm *m, struct loop *loop);
void curlm_cleanup(struct curlm *m);
/* Starts a transfer; cb runs once when it ends (not after curlm_remove). 0 or -1. */
int curlm_add(struct curlm *m, CURL *easy, curlm_done_cb *cb, void *arg);
void curlm_remove(struct curlm *m, CURL *easy);
/* A CURLOPT_WRITEFUNCTION for answers whose body does not matter. */
size_t curlm_discard(char *data, size_t size, size_t n, void *arg);

#endif
