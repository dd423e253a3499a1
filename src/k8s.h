/*
 * k8s.h: the in-cluster Kubernetes API client: list and watch this namespace's EndpointSlices.
 */
#ifndef GRACEINIT_K8S_H
#define GRACEINIT_K8S_H

#include <curl/curl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "curlm.h"
#include "k8s_parse.h"
#include "loop.h"

enum k8s_state {
	K8S_OFF,       /* not in a cluster, or --endpoints off */
	K8S_LISTING,   /* listing the slices (a first list, or a relist) */
	K8S_WATCHING,  /* the view is current: a watch is open */
	K8S_BACKOFF,   /* the last request failed; retrying soon */
	K8S_FORBIDDEN, /* 401 or 403: RBAC is missing; retrying slowly */
};

struct k8s {
	struct loop *loop;
	struct curlm *curlm;
	enum k8s_state state;
	char url[1024];     /* .../namespaces/NS/endpointslices */
	char selector[512]; /* "&labelSelector=..." (escaped) or "" */
	char token_path[PATH_MAX];
	char ca_path[PATH_MAX];
	char namespace[254];
	char pod_name[254];
	char pod_ip[64];
	struct k8s_pod pod;
	struct k8s_view view;    /* what the last complete list and the watch since say */
	struct k8s_view pending; /* a list in progress, page by page */
	bool have_view;
	bool pod_ready; /* the view says the pod is a ready endpoint somewhere */
	CURL *easy;
	struct curl_slist *headers;
	bool busy;
	bool listing;    /* the transfer in flight is a list (else a watch) */
	bool relist;     /* the watch said 410 Gone: list again */
	struct buf body; /* a list page */
	struct buf line; /* the watch line being received */
	char cont[1024]; /* the next page's continue token */
	int64_t watch_started_ms;
	bool watch_answered;        /* the open watch's server said 200: the view is live */
	int64_t unhealthy_since_ms; /* when the view stopped being live; -1 while it is */
	char curl_error[CURL_ERROR_SIZE];
	struct loop_timer retry;
	int64_t backoff_ms;
	char error[256];
	bool error_logged;
	uint64_t events;
	uint64_t lists;
	uint64_t failures;
	void (*changed)(void *arg);
	void *arg;
};

/*
 * Starts listing when --endpoints is on, or auto and the in-cluster credentials exist.
 * Returns 0, or -1 with err set when --endpoints on cannot work (a configuration error).
 */
int k8s_start(struct k8s *k, struct loop *loop, struct curlm *curlm, const struct conf *c,
	void (*changed)(void *arg), void *arg, char *err, size_t errlen);
void k8s_stop(struct k8s *k);
/* The view is current: the pod's readiness in the slices can be trusted. */
bool k8s_healthy(const struct k8s *k);
const char *k8s_state_name(enum k8s_state s);
/*
 * One chunk of a response body, as curl's write callback gets it: a list page is kept whole, a
 * watch stream is cut into lines wherever the chunks end. len, or 0 to abort the transfer.
 */
size_t k8s_feed(struct k8s *k, const char *data, size_t len);

#endif
