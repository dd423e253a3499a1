/*
 * k8s_parse.h: pure evaluation of EndpointSlice JSON: is this pod still a ready endpoint?
 */
#ifndef GRACEINIT_K8S_PARSE_H
#define GRACEINIT_K8S_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Which pod we are: by targetRef (name, namespace) or by address. */
struct k8s_pod {
	const char *name;      /* may be NULL */
	const char *ip;        /* may be NULL */
	const char *namespace; /* may be NULL */
};

/* The slices that list the pod, and whether it is ready in each. Only those are kept. */
struct k8s_entry {
	char name[254]; /* metadata.name: a DNS subdomain, at most 253 characters */
	bool ready;
};

struct k8s_view {
	struct k8s_entry *v;
	size_t n;
	size_t cap;
	char resource_version[64];
};

enum k8s_event {
	K8S_ADDED,
	K8S_MODIFIED,
	K8S_DELETED,
	K8S_BOOKMARK,
	K8S_ERROR, /* the object is a Status; its code is returned */
};

void k8s_view_init(struct k8s_view *v);
void k8s_view_free(struct k8s_view *v);
/* Moves src into dst (dst's old content is freed); src is left empty. */
void k8s_view_move(struct k8s_view *dst, struct k8s_view *src);
/* Is the pod a ready endpoint in any slice of the view? */
bool k8s_view_pod_ready(const struct k8s_view *v);

/*
 * Adds one page of an EndpointSliceList to v; copies metadata.resourceVersion into v and
 * metadata.continue into cont (empty on the last page). 0, or -1 with err set.
 */
int k8s_parse_list(struct k8s_view *v, const char *json, size_t len, const struct k8s_pod *pod,
	char *cont, size_t contlen, char *err, size_t errlen);
/*
 * Applies one watch event (one line of the stream) to v. Returns 0 with *ev set (and *code
 * for K8S_ERROR), or -1 with err set when the line is not a watch event.
 */
int k8s_parse_event(struct k8s_view *v, const char *json, size_t len, const struct k8s_pod *pod,
	enum k8s_event *ev, int *code, char *err, size_t errlen);

#endif
