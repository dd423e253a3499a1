/*
 * k8s_parse.c: reads EndpointSlice lists and watch events (discovery.k8s.io/v1) and keeps, for
 * each slice that lists this pod, whether the pod is a ready endpoint there. A pod is matched
 * by its targetRef (kind Pod, same name, same namespace when given) or by one of its addresses
 * being the pod IP. The Kubernetes API says a missing conditions.ready means unknown, to be
 * taken as ready. Slices that do not list the pod are not kept, so memory stays small however
 * many slices the namespace has. Pure: JSON in, view out.
 */
#include "k8s_parse.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
k8s_view_init(struct k8s_view *v)
{
	memset(v, 0, sizeof(*v));
}

void
k8s_view_free(struct k8s_view *v)
{
	free(v->v);
	k8s_view_init(v);
}

void
k8s_view_move(struct k8s_view *dst, struct k8s_view *src)
{
	k8s_view_free(dst);
	*dst = *src;
	k8s_view_init(src);
}

bool
k8s_view_pod_ready(const struct k8s_view *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->v[i].ready)
			return true;
	return false;
}

static void
view_remove(struct k8s_view *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (strcmp(v->v[i].name, name) == 0) {
			v->v[i] = v->v[--v->n];
			return;
		}
	}
}

static int
view_set(struct k8s_view *v, const char *name, bool ready)
{
	struct k8s_entry *e;
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (strcmp(v->v[i].name, name) == 0) {
			v->v[i].ready = ready;
			return 0;
		}
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;

		if ((e = realloc(v->v, cap * sizeof(*e))) == NULL)
			return -1;
		v->v = e;
		v->cap = cap;
	}
	snprintf(v->v[v->n].name, sizeof(v->v[v->n].name), "%s", name);
	v->v[v->n++].ready = ready;
	return 0;
}

static const char *
string_at(const cJSON *o, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Same address, whatever the spelling ("::1" and "0:0::1" are one address). */
static bool
same_ip(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return strcmp(a, b) == 0;
}

static bool
is_pod(const cJSON *endpoint, const struct k8s_pod *pod)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(endpoint, "targetRef");
	const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(endpoint, "addresses");
	const cJSON *a;

	if (pod->name != NULL && cJSON_IsObject(ref)) {
		const char *kind = string_at(ref, "kind"), *name = string_at(ref, "name");
		const char *ns = string_at(ref, "namespace");

		/*
		 * A Pod reference decides alone: another pod can share our address (hostNetwork
		 * pods all have the node's), so the address is used only without a reference.
		 */
		if (kind != NULL && strcmp(kind, "Pod") == 0 && name != NULL)
			return strcmp(name, pod->name) == 0 &&
				(ns == NULL || pod->namespace == NULL ||
					strcmp(ns, pod->namespace) == 0);
	}
	if (pod->ip != NULL && cJSON_IsArray(addrs)) {
		cJSON_ArrayForEach(a, addrs)
		{
			if (cJSON_IsString(a) && same_ip(a->valuestring, pod->ip))
				return true;
		}
	}
	return false;
}

static bool
is_ready(const cJSON *endpoint)
{
	const cJSON *cond = cJSON_GetObjectItemCaseSensitive(endpoint, "conditions");
	const cJSON *ready = cJSON_GetObjectItemCaseSensitive(cond, "ready");

	/* "A nil value indicates an unknown state ... interpret this unknown state as ready." */
	return !cJSON_IsBool(ready) || cJSON_IsTrue(ready);
}

/* Records what one slice says of the pod; a slice that no longer lists it is forgotten. */
static int
apply_slice(
	struct k8s_view *v, const cJSON *slice, const struct k8s_pod *pod, char *err, size_t errlen)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(slice, "metadata");
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(slice, "endpoints"), *ep;
	const char *name = string_at(meta, "name");
	bool listed = false, ready = false;

	if (name == NULL || *name == '\0' || strlen(name) > 253)
		return fail(err, errlen, "an EndpointSlice without a valid metadata.name");
	/* "endpoints" is absent or null when a slice is empty. */
	if (eps != NULL && !cJSON_IsNull(eps) && !cJSON_IsArray(eps))
		return fail(err, errlen, "EndpointSlice %s: endpoints is not a list", name);
	cJSON_ArrayForEach(ep, eps)
	{
		if (is_pod(ep, pod)) {
			listed = true;
			ready = ready || is_ready(ep);
		}
	}
	if (!listed) {
		view_remove(v, name);
		return 0;
	}
	if (view_set(v, name, ready) < 0)
		return fail(err, errlen, "out of memory");
	return 0;
}

static void
copy_rv(struct k8s_view *v, const cJSON *obj)
{
	const char *rv =
		string_at(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");

	if (rv != NULL)
		snprintf(v->resource_version, sizeof(v->resource_version), "%s", rv);
}

int
k8s_parse_list(struct k8s_view *v, const char *json, size_t len, const struct k8s_pod *pod,
	char *cont, size_t contlen, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *items, *item;
	const char *kind, *c;
	int rc = -1;

	cont[0] = '\0';
	if (root == NULL || !cJSON_IsObject(root)) {
		fail(err, errlen, "the EndpointSlice list is not a JSON object");
		goto out;
	}
	kind = string_at(root, "kind");
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (kind == NULL || strcmp(kind, "EndpointSliceList") != 0) {
		fail(err, errlen, "expected an EndpointSliceList, got kind %s",
			kind ? kind : "none");
		goto out;
	}
	if (!cJSON_IsArray(items)) {
		fail(err, errlen, "the EndpointSliceList has no items list");
		goto out;
	}
	cJSON_ArrayForEach(item, items)
	{
		if (apply_slice(v, item, pod, err, errlen) < 0)
			goto out;
	}
	copy_rv(v, root);
	c = string_at(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "continue");
	if (c != NULL && strlen(c) >= contlen) {
		fail(err, errlen, "the list's continue token is over %zu bytes", contlen - 1);
		goto out;
	}
	if (c != NULL)
		snprintf(cont, contlen, "%s", c);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int
k8s_parse_event(struct k8s_view *v, const char *json, size_t len, const struct k8s_pod *pod,
	enum k8s_event *ev, int *code, char *err, size_t errlen)
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *obj;
	const char *type;
	int rc = -1;
	size_t i;

	if (root == NULL || !cJSON_IsObject(root)) {
		fail(err, errlen, "a watch event is not a JSON object");
		goto out;
	}
	type = string_at(root, "type");
	obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	for (i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			break;
	if (type == NULL || i == sizeof(types) / sizeof(types[0]) || !cJSON_IsObject(obj)) {
		fail(err, errlen, "not a watch event (type %s)", type ? type : "missing");
		goto out;
	}
	*ev = (enum k8s_event)i;
	switch (*ev) {
	case K8S_ERROR: {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "code");

		*code = cJSON_IsNumber(c) ? c->valueint : 0;
		rc = 0;
		goto out;
	}
	case K8S_DELETED: {
		const char *name =
			string_at(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");

		if (name != NULL)
			view_remove(v, name);
		break;
	}
	case K8S_ADDED:
	case K8S_MODIFIED:
		if (apply_slice(v, obj, pod, err, errlen) < 0)
			goto out;
		break;
	case K8S_BOOKMARK:
		break;
	}
	copy_rv(v, obj);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
