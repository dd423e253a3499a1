/*
 * test_k8s_parse.c: the evaluation of EndpointSlice lists and watch events against the fixtures
 * in tests/fixtures/endpointslices/ (kubectl-shaped objects and the exact bytes the fake API
 * server sends). The pod is web-6d8f7b9c5d-4xq2m in namespace shop, 10.244.1.17 and
 * fd00:10:244:1::11. Single objects are wrapped into ADDED/MODIFIED/DELETED events by the test;
 * kubectl's "kind: List" files are rejected as they are (the API never sends them) and read as
 * an EndpointSliceList once their kind is replaced. Bad input must fail with a message and leave
 * the view as it was and usable. Every buffer lives in the test's state, freed by the teardown
 * even when an assertion fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "k8s_parse.h"

#ifndef FIXTURES_DIR
#error "FIXTURES_DIR must name tests/fixtures (tests/unit/CMakeLists.txt sets it)"
#endif

#define SLICES_DIR FIXTURES_DIR "/endpointslices/"
#define TEXT_MAX   ((size_t)64 << 20) /* what a test builds with buf_printf */
#define POD_NAME   "web-6d8f7b9c5d-4xq2m"
#define POD_IP     "10.244.1.17"
#define POD_IPV6   "fd00:10:244:1::11"
#define NAMESPACE  "shop"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_KEEP     256
#define NOT_LISTED   -1

static const struct k8s_pod pod = { POD_NAME, POD_IP, NAMESPACE };

/* One test's state. */
struct fx {
	struct k8s_view v;
	struct k8s_view other;
	char err[512];
	char cont[1024];
	enum k8s_event ev;
	int code;
	void *keep[MAX_KEEP]; /* freed by the teardown */
	int nkeep;
};

/* A growing string for generated JSON. */
static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	k8s_view_init(&fx->v);
	k8s_view_init(&fx->other);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int i;

	k8s_view_free(&fx->v);
	k8s_view_free(&fx->other);
	for (i = 0; i < fx->nkeep; i++)
		free(fx->keep[i]);
	free(fx);
	return 0;
}

static void *
keep(struct fx *fx, void *p)
{
	assert_non_null(p);
	assert_true(fx->nkeep < MAX_KEEP);
	fx->keep[fx->nkeep++] = p;
	return p;
}

/* The text built in b (a test's own text: never near the limit). */
static char *
text_of(struct buf *b)
{
	assert_false(b->overflow);
	return b->data;
}

/* A string that lives as long as the test. */
static char *fmt(struct fx *fx, const char *format, ...) __attribute__((format(printf, 2, 3)));

static char *
fmt(struct fx *fx, const char *format, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, format);
	n = vsnprintf(NULL, 0, format, ap);
	va_end(ap);
	assert_true(n >= 0);
	s = keep(fx, malloc((size_t)n + 1));
	va_start(ap, format);
	vsnprintf(s, (size_t)n + 1, format, ap);
	va_end(ap);
	return s;
}

/* The whole of a fixture file, NUL-terminated. */
static char *
slurp(struct fx *fx, const char *name, size_t *lenp)
{
	char path[512];
	FILE *f;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s%s", SLICES_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open the fixture %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	buf = keep(fx, malloc((size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)len;
	return buf;
}

/* A fixture object as one watch event line. */
static char *
event_of(struct fx *fx, const char *type, const char *fixture)
{
	return fmt(fx, "{\"type\":\"%s\",\"object\":%s}", type, slurp(fx, fixture, NULL));
}

/* kubectl's "kind": "List" file as the EndpointSliceList the API would send. */
static char *
as_slice_list(struct fx *fx, const char *fixture)
{
	char *text = slurp(fx, fixture, NULL);
	char *k = strstr(text, "\"kind\": \"List\"");

	assert_non_null(k);
	assert_null(strstr(k + 1, "\"kind\": \"List\""));
	return fmt(fx, "%.*s\"kind\": \"EndpointSliceList\"%s", (int)(k - text), text,
		k + strlen("\"kind\": \"List\""));
}

/* -1 when no entry of v names the slice, else whether the pod is ready there. */
static int
entry_state(const struct k8s_view *v, const char *slice)
{
	size_t i, found = 0;
	int state = NOT_LISTED;

	for (i = 0; i < v->n; i++) {
		if (strcmp(v->v[i].name, slice) == 0) {
			found++;
			state = v->v[i].ready;
		}
	}
	if (found > 1)
		fail_msg("the slice %s is %zu times in the view", slice, found);
	return state;
}

#define EXPECT_ENTRY(v, slice, want) expect_entry(v, slice, want, __FILE__, __LINE__)

static void
expect_entry(const struct k8s_view *v, const char *slice, int want, const char *file, int line)
{
	static const char *const names[] = { "not listed", "listed, not ready", "listed, ready" };
	int got = entry_state(v, slice);

	if (got != want) {
		print_error("slice %s: %s, expected %s\n", slice, names[got + 1], names[want + 1]);
		_fail(file, line);
	}
}

#define LIST_OK(fx, json, len, p) list_ok(fx, json, len, p, __FILE__, __LINE__)

static void
list_ok(struct fx *fx, const char *json, size_t len, const struct k8s_pod *p, const char *file,
	int line)
{
	fx->err[0] = '\0';
	if (k8s_parse_list(&fx->v, json, len, p, fx->cont, sizeof(fx->cont), fx->err,
		    sizeof(fx->err)) != 0) {
		print_error("k8s_parse_list failed: %s\n", fx->err);
		_fail(file, line);
	}
}

#define EVENT_OK(fx, json, p, want) event_ok(fx, json, p, want, __FILE__, __LINE__)

static void
event_ok(struct fx *fx, const char *json, const struct k8s_pod *p, enum k8s_event want,
	const char *file, int line)
{
	fx->err[0] = '\0';
	fx->ev = (enum k8s_event) - 1;
	if (k8s_parse_event(&fx->v, json, strlen(json), p, &fx->ev, &fx->code, fx->err,
		    sizeof(fx->err)) != 0) {
		print_error("k8s_parse_event failed: %s\n", fx->err);
		_fail(file, line);
	}
	_assert_int_equal(fx->ev, want, file, line);
}

/* A copy of a view, to show that a failed parse left it as it was. */
struct snap {
	struct k8s_entry e[8];
	size_t n;
	char rv[64];
};

static void
take(struct snap *s, const struct k8s_view *v)
{
	assert_true(v->n <= ARRAY_LEN(s->e));
	memset(s, 0, sizeof(*s));
	if (v->n > 0)
		memcpy(s->e, v->v, v->n * sizeof(v->v[0]));
	s->n = v->n;
	memcpy(s->rv, v->resource_version, sizeof(s->rv));
}

#define SAME_VIEW(s, v) same_view(s, v, __FILE__, __LINE__)

static void
same_view(const struct snap *s, const struct k8s_view *v, const char *file, int line)
{
	size_t i;

	_assert_int_equal(v->n, s->n, file, line);
	_assert_string_equal(v->resource_version, s->rv, file, line);
	for (i = 0; i < s->n; i++) {
		_assert_string_equal(v->v[i].name, s->e[i].name, file, line);
		_assert_int_equal(v->v[i].ready, s->e[i].ready, file, line);
	}
}

/* The view the bad-input tests start from: web-fd2kx lists the pod, ready. */
static void
start_ready(struct fx *fx)
{
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	assert_string_equal(fx->v.resource_version, "4811902");
}

/* After a failure, the view still takes events: the pod goes terminating in web-fd2kx. */
static void
still_usable(struct fx *fx)
{
	EVENT_OK(fx, event_of(fx, "MODIFIED", "web-terminating.json"), &pod, K8S_MODIFIED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 0);
	assert_false(k8s_view_pod_ready(&fx->v));
	assert_string_equal(fx->v.resource_version, "4812377");
}

/*
 * The view
 */

static void
test_view_init_free(void **state)
{
	struct fx *fx = *state;
	struct k8s_view v;

	memset(&v, 0xa5, sizeof(v));
	k8s_view_init(&v);
	assert_int_equal(v.n, 0);
	assert_int_equal(v.cap, 0);
	assert_null(v.v);
	assert_string_equal(v.resource_version, "");
	assert_false(k8s_view_pod_ready(&v));
	k8s_view_free(&v);
	k8s_view_free(&v);
	assert_null(v.v);

	start_ready(fx);
	k8s_view_free(&fx->v);
	assert_int_equal(fx->v.n, 0);
	assert_null(fx->v.v);
	assert_string_equal(fx->v.resource_version, "");
	assert_false(k8s_view_pod_ready(&fx->v));
}

/* k8s.c lists into a pending view and moves it over the live one when the last page is in. */
static void
test_view_move(void **state)
{
	struct fx *fx = *state;
	const char *wire = slurp(fx, "wire-list-shop.json", NULL);
	const char *ev;

	start_ready(fx);
	assert_int_equal(k8s_parse_list(&fx->other, wire, strlen(wire), &pod, fx->cont,
				 sizeof(fx->cont), fx->err, sizeof(fx->err)),
		0);
	assert_int_equal(fx->other.n, 4);

	/* Over a view with entries: the old ones are freed (ASan tells), src is left empty. */
	k8s_view_move(&fx->v, &fx->other);
	assert_int_equal(fx->v.n, 4);
	assert_string_equal(fx->v.resource_version, "4811905");
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", 1);
	assert_true(k8s_view_pod_ready(&fx->v));
	assert_int_equal(fx->other.n, 0);
	assert_int_equal(fx->other.cap, 0);
	assert_null(fx->other.v);
	assert_string_equal(fx->other.resource_version, "");

	/* src is usable again; moving back and forth; an empty view moved empties dst. */
	EVENT_OK(fx, event_of(fx, "ADDED", "web-terminating.json"), &pod, K8S_ADDED);
	ev = event_of(fx, "ADDED", "web-ready.json");
	assert_int_equal(k8s_parse_event(&fx->other, ev, strlen(ev), &pod, &fx->ev, &fx->code,
				 fx->err, sizeof(fx->err)),
		0);
	EXPECT_ENTRY(&fx->other, "web-fd2kx", 1);
	k8s_view_move(&fx->other, &fx->v);
	EXPECT_ENTRY(&fx->other, "web-fd2kx", 0);
	assert_int_equal(fx->other.n, 4);
	assert_int_equal(fx->v.n, 0);
	assert_null(fx->v.v);
	k8s_view_move(&fx->other, &fx->v);
	assert_int_equal(fx->other.n, 0);
	assert_null(fx->other.v);
	assert_false(k8s_view_pod_ready(&fx->other));
}

/*
 * Single objects, as ADDED and MODIFIED events
 */

static const struct {
	const char *file;
	const char *slice;
	const char *rv;
	int state; /* for the pod known by name and IPv4 address */
} objects[] = {
	{ "web-ready.json", "web-fd2kx", "4811902", 1 },
	{ "web-ipv6-ready.json", "web-q8zvm", "4811903", 1 },
	{ "web-terminating.json", "web-fd2kx", "4812377", 0 },
	{ "web-ipv6-terminating.json", "web-q8zvm", "4812378", 0 },
	{ "web-terminating-not-serving.json", "web-fd2kx", "4812391", 0 },
	{ "web-not-ready.json", "web-fd2kx", "4812102", 0 },
	{ "web-gone.json", "web-fd2kx", "4812410", NOT_LISTED },
	{ "web-empty.json", "web-fd2kx", "4812466", NOT_LISTED },
	{ "api-other-service.json", "api-2tbq9", "4809655", NOT_LISTED },
	{ "ready-absent.json", "web-mesh-v4", "4810077", 1 },
	{ "no-targetref.json", "web-legacy-8qmzb", "4807311", 1 },
};

static void
test_objects(void **state)
{
	static const char *const types[] = { "ADDED", "MODIFIED" };
	struct fx *fx = *state;
	size_t i, t;

	for (t = 0; t < ARRAY_LEN(types); t++) {
		for (i = 0; i < ARRAY_LEN(objects); i++) {
			k8s_view_free(&fx->v);
			EVENT_OK(fx, event_of(fx, types[t], objects[i].file), &pod,
				t == 0 ? K8S_ADDED : K8S_MODIFIED);
			if (entry_state(&fx->v, objects[i].slice) != objects[i].state)
				fail_msg("%s %s: slice %s is %d, expected %d", types[t],
					objects[i].file, objects[i].slice,
					entry_state(&fx->v, objects[i].slice), objects[i].state);
			assert_int_equal(fx->v.n, objects[i].state == NOT_LISTED ? 0 : 1);
			assert_int_equal(k8s_view_pod_ready(&fx->v), objects[i].state == 1);
			assert_string_equal(fx->v.resource_version, objects[i].rv);
			assert_string_equal(fx->err, "");
		}
	}
}

/* The pod known by its IPv6 address only: the IPv6 slices, matched whatever the spelling. */
static void
test_ipv6_spellings(void **state)
{
	static const char *const same[] = {
		POD_IPV6,
		"fd00:10:244:1:0:0:0:11",
		"FD00:10:244:1::11",
		"fd00:0010:0244:0001:0000:0000:0000:0011",
		"fd00:10:244:1:0::11",
	};
	static const char *const other[] = { "fd00:10:244:1::12", "fd00:10:244::11", "::11",
		"fd00:10:244:1::11:0", "10.244.1.17" };
	struct fx *fx = *state;
	struct k8s_pod p = { NULL, NULL, NAMESPACE };
	size_t i;

	for (i = 0; i < ARRAY_LEN(same); i++) {
		p.ip = same[i];
		k8s_view_free(&fx->v);
		EVENT_OK(fx, event_of(fx, "ADDED", "web-ipv6-ready.json"), &p, K8S_ADDED);
		if (entry_state(&fx->v, "web-q8zvm") != 1)
			fail_msg("pod IP %s does not match fd00:10:244:1::11", same[i]);
		EVENT_OK(fx, event_of(fx, "MODIFIED", "web-ipv6-terminating.json"), &p,
			K8S_MODIFIED);
		EXPECT_ENTRY(&fx->v, "web-q8zvm", 0);
	}
	for (i = 0; i < ARRAY_LEN(other); i++) {
		p.ip = other[i];
		k8s_view_free(&fx->v);
		EVENT_OK(fx, event_of(fx, "ADDED", "web-ipv6-ready.json"), &p, K8S_ADDED);
		if (fx->v.n != 0)
			fail_msg("pod IP %s matched fd00:10:244:1::11", other[i]);
	}
}

/* Matched by name alone, by address alone, by neither. */
static void
test_match_by_name_or_address(void **state)
{
	struct fx *fx = *state;
	const struct k8s_pod by_name = { POD_NAME, NULL, NAMESPACE };
	const struct k8s_pod by_ip = { NULL, POD_IP, NULL };
	const struct k8s_pod nobody = { NULL, NULL, NULL };
	const struct k8s_pod name_no_ns = { POD_NAME, NULL, NULL };
	const struct k8s_pod other_pod = { "web-6d8f7b9c5d-zzzzz", "10.244.9.9", NAMESPACE };

	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &by_name, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ipv6-ready.json"), &by_name, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 1);
	/* Without targetRef, only the address says it is the pod. */
	EVENT_OK(fx, event_of(fx, "ADDED", "no-targetref.json"), &by_name, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", NOT_LISTED);
	EVENT_OK(fx, event_of(fx, "ADDED", "no-targetref.json"), &by_ip, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", 1);
	assert_int_equal(fx->v.n, 3);

	k8s_view_free(&fx->v);
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &by_ip, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	/* The IPv6 slice has no IPv4 address: by_ip does not find the pod there. */
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ipv6-ready.json"), &by_ip, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", NOT_LISTED);

	k8s_view_free(&fx->v);
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &nobody, K8S_ADDED);
	EVENT_OK(fx, event_of(fx, "ADDED", "no-targetref.json"), &nobody, K8S_ADDED);
	assert_int_equal(fx->v.n, 0);
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &name_no_ns, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	EVENT_OK(fx, event_of(fx, "ADDED", "web-ready.json"), &other_pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", NOT_LISTED);
}

/* A slice with one endpoint, written by the test. */
static char *
one_endpoint(struct fx *fx, const char *type, const char *slice, const char *endpoint)
{
	return fmt(fx,
		"{\"type\":\"%s\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"
		"\"discovery.k8s.io/v1\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\","
		"\"resourceVersion\":\"5000000\"},\"addressType\":\"IPv4\",\"endpoints\":[%s]}}",
		type, slice, endpoint);
}

static void
test_target_ref(void **state)
{
	struct fx *fx = *state;
	const struct k8s_pod by_name = { POD_NAME, NULL, NAMESPACE };

	/* Same name, another namespace: another pod. */
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s1",
			"{\"addresses\":[\"10.244.7.7\"],\"conditions\":{\"ready\":true},"
			"\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"checkout\",\"name\":"
			"\"" POD_NAME "\"}}"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s1", NOT_LISTED);
	/* Same name, kind is not Pod. */
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s2",
			"{\"addresses\":[\"10.244.7.8\"],\"conditions\":{\"ready\":true},"
			"\"targetRef\":{\"kind\":\"Node\",\"name\":\"" POD_NAME "\"}}"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s2", NOT_LISTED);
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s3",
			"{\"addresses\":[\"10.244.7.9\"],\"targetRef\":{\"name\":\"" POD_NAME
			"\"}}"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s3", NOT_LISTED);
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s4",
			"{\"addresses\":[\"10.244.7.9\"],\"targetRef\":{\"kind\":\"pod\",\"name\":"
			"\"" POD_NAME "\"}}"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s4", NOT_LISTED);
	/* A targetRef without namespace (the slice's own): the pod. */
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s5",
			"{\"addresses\":[\"10.244.7.10\"],\"targetRef\":{\"kind\":\"Pod\",\"name\":"
			"\"" POD_NAME "\"}}"),
		&by_name, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s5", 1);
	/* targetRef and addresses of the wrong types are ignored, not fatal. */
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "s6",
			"{\"addresses\":\"" POD_IP "\",\"targetRef\":\"" POD_NAME "\"},"
			"{\"addresses\":[7,null,{\"ip\":\"" POD_IP "\"}],\"targetRef\":[]},"
			"\"" POD_IP "\",42,null,[]"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "s6", NOT_LISTED);
	assert_int_equal(fx->v.n, 1);
}

/*
 * An endpoint whose targetRef names another pod is not this pod, even with the same address.
 * hostNetwork pods have the node's IP: with the pod on hostNetwork, every other hostNetwork pod
 * of the node (a node agent's Service, another app's) has our address. Here our pod is
 * terminating in web's slice while agent-... is ready, with the same IP, in the slice of the
 * agent Service (the default watches every slice of the namespace): taken for us, it keeps
 * "ready" true until --endpoints-timeout. An address identifies only endpoints that have no
 * targetRef (no-targetref.json).
 */
static void
test_target_ref_other_pod_same_address(void **state)
{
	struct fx *fx = *state;

	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "web-hostnet",
			"{\"addresses\":[\"" POD_IP "\"],\"conditions\":{\"ready\":false,"
			"\"serving\":true,\"terminating\":true},\"targetRef\":{\"kind\":\"Pod\","
			"\"namespace\":\"shop\",\"name\":\"" POD_NAME "\"}}"),
		&pod, K8S_ADDED);
	EVENT_OK(fx,
		one_endpoint(fx, "ADDED", "agent-hostnet",
			"{\"addresses\":[\"" POD_IP "\"],\"conditions\":{\"ready\":true},"
			"\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":"
			"\"agent-5f7d9-n3w0q\"}}"),
		&pod, K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "web-hostnet", 0);
	if (entry_state(&fx->v, "agent-hostnet") != NOT_LISTED || k8s_view_pod_ready(&fx->v))
		fail_msg("the ready endpoint of pod agent-5f7d9-n3w0q (targetRef), which has the "
			 "same "
			 "IP %s (hostNetwork), was taken for %s, which is terminating",
			POD_IP, POD_NAME);
}

/* The conditions: a missing ready means ready (the API's "unknown state"). */
static void
test_conditions(void **state)
{
	static const struct {
		const char *conditions; /* the text after "conditions": or NULL for none */
		int state;
	} cases[] = {
		{ "{\"ready\":true}", 1 },
		{ "{\"ready\":false}", 0 },
		{ "{\"ready\":false,\"serving\":true,\"terminating\":true}", 0 },
		{ "{\"ready\":true,\"serving\":true,\"terminating\":false}", 1 },
		{ "{}", 1 },
		{ "{\"serving\":false}", 1 },
		{ "{\"ready\":null}", 1 },
		{ "null", 1 },
		{ NULL, 1 },
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		const char *ep = cases[i].conditions == NULL
			? "{\"addresses\":[\"" POD_IP "\"]}"
			: fmt(fx, "{\"addresses\":[\"" POD_IP "\"],\"conditions\":%s}",
				  cases[i].conditions);

		EVENT_OK(fx, one_endpoint(fx, "MODIFIED", "c", ep), &pod, K8S_MODIFIED);
		if (entry_state(&fx->v, "c") != cases[i].state)
			fail_msg("conditions %s: %d, expected %d",
				cases[i].conditions ? cases[i].conditions : "(absent)",
				entry_state(&fx->v, "c"), cases[i].state);
		assert_int_equal(fx->v.n, 1);
	}
}

/* The pod by targetRef (another address) and by address, with its ready condition. */
#define BY_REF(r)                                                                                  \
	"{\"addresses\":[\"10.244.1.99\"],\"conditions\":{\"ready\":" r "},\"targetRef\":{"        \
	"\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"" POD_NAME "\"}}"
#define BY_IP(r) "{\"addresses\":[\"" POD_IP "\"],\"conditions\":{\"ready\":" r "}}"

/* A slice may list the pod twice (a custom controller): ready if ready in any of them. */
static void
test_pod_twice_in_a_slice(void **state)
{
	struct fx *fx = *state;

	EVENT_OK(fx, one_endpoint(fx, "ADDED", "twice", BY_REF("true") "," BY_IP("false")), &pod,
		K8S_ADDED);
	EXPECT_ENTRY(&fx->v, "twice", 1);
	assert_int_equal(fx->v.n, 1);
	EVENT_OK(fx, one_endpoint(fx, "MODIFIED", "twice", BY_REF("false") "," BY_IP("true")), &pod,
		K8S_MODIFIED);
	EXPECT_ENTRY(&fx->v, "twice", 1);
	EVENT_OK(fx, one_endpoint(fx, "MODIFIED", "twice", BY_REF("false") "," BY_IP("false")),
		&pod, K8S_MODIFIED);
	EXPECT_ENTRY(&fx->v, "twice", 0);
	assert_int_equal(fx->v.n, 1);
	assert_false(k8s_view_pod_ready(&fx->v));
}

/* "endpoints": null (the controller's empty slice) or absent: the slice no longer lists it. */
static void
test_endpoints_null_or_absent(void **state)
{
	struct fx *fx = *state;

	start_ready(fx);
	EVENT_OK(fx, event_of(fx, "MODIFIED", "web-empty.json"), &pod, K8S_MODIFIED);
	assert_int_equal(fx->v.n, 0);
	assert_false(k8s_view_pod_ready(&fx->v));
	assert_string_equal(fx->v.resource_version, "4812466");

	start_ready(fx);
	EVENT_OK(fx,
		"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\","
		"\"resourceVersion\":\"4812467\"},\"addressType\":\"IPv4\"}}",
		&pod, K8S_MODIFIED);
	assert_int_equal(fx->v.n, 0);
	assert_string_equal(fx->v.resource_version, "4812467");
	EVENT_OK(fx, one_endpoint(fx, "ADDED", "empty-list", ""), &pod, K8S_ADDED);
	assert_int_equal(fx->v.n, 0);
}

/* ready -> not ready -> removed from the slice -> back; DELETED forgets the slice. */
static void
test_modified_then_deleted(void **state)
{
	static const struct {
		const char *type;
		const char *file;
		enum k8s_event ev;
		int state;
		const char *rv;
	} steps[] = {
		{ "ADDED", "web-ready.json", K8S_ADDED, 1, "4811902" },
		{ "MODIFIED", "web-not-ready.json", K8S_MODIFIED, 0, "4812102" },
		{ "MODIFIED", "web-ready.json", K8S_MODIFIED, 1, "4811902" },
		{ "MODIFIED", "web-terminating.json", K8S_MODIFIED, 0, "4812377" },
		{ "MODIFIED", "web-terminating-not-serving.json", K8S_MODIFIED, 0, "4812391" },
		{ "MODIFIED", "web-gone.json", K8S_MODIFIED, NOT_LISTED, "4812410" },
		{ "MODIFIED", "web-empty.json", K8S_MODIFIED, NOT_LISTED, "4812466" },
		{ "MODIFIED", "web-ready.json", K8S_MODIFIED, 1, "4811902" },
		{ "DELETED", "web-ready.json", K8S_DELETED, NOT_LISTED, "4811902" },
		{ "DELETED", "web-ready.json", K8S_DELETED, NOT_LISTED, "4811902" },
		{ "ADDED", "web-ipv6-ready.json", K8S_ADDED, NOT_LISTED, "4811903" },
		{ "DELETED", "api-other-service.json", K8S_DELETED, NOT_LISTED, "4809655" },
	};
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < ARRAY_LEN(steps); i++) {
		EVENT_OK(fx, event_of(fx, steps[i].type, steps[i].file), &pod, steps[i].ev);
		if (entry_state(&fx->v, "web-fd2kx") != steps[i].state)
			fail_msg("step %zu, %s %s: web-fd2kx is %d, expected %d", i, steps[i].type,
				steps[i].file, entry_state(&fx->v, "web-fd2kx"), steps[i].state);
		assert_string_equal(fx->v.resource_version, steps[i].rv);
	}
	/* web-q8zvm (IPv6, matched by targetRef) is still there, ready. */
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 1);
	assert_int_equal(fx->v.n, 1);
	EVENT_OK(fx, event_of(fx, "DELETED", "web-ipv6-terminating.json"), &pod, K8S_DELETED);
	assert_int_equal(fx->v.n, 0);
	assert_false(k8s_view_pod_ready(&fx->v));
}

/*
 * Lists
 */

static void
test_list_wire(void **state)
{
	struct fx *fx = *state;
	size_t len;
	const char *wire = slurp(fx, "wire-list-shop.json", &len);

	strcpy(fx->cont, "stale");
	LIST_OK(fx, wire, len, &pod);
	assert_string_equal(fx->cont, "");
	assert_string_equal(fx->v.resource_version, "4811905");
	assert_int_equal(fx->v.n, 4);
	EXPECT_ENTRY(&fx->v, "api-2tbq9", NOT_LISTED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", 1);
	EXPECT_ENTRY(&fx->v, "web-mesh-v4", 1);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 1);
	assert_true(k8s_view_pod_ready(&fx->v));

	/* The same list again: nothing doubles. */
	LIST_OK(fx, wire, len, &pod);
	assert_int_equal(fx->v.n, 4);
}

/* kubectl's List files: refused as they are, evaluated as the API would send them. */
static void
test_list_kubectl_files(void **state)
{
	struct fx *fx = *state;
	size_t len;
	const char *text = slurp(fx, "list-shop-ready.json", &len);
	struct snap s;

	start_ready(fx);
	take(&s, &fx->v);
	assert_int_equal(k8s_parse_list(&fx->v, text, len, &pod, fx->cont, sizeof(fx->cont),
				 fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, "expected an EndpointSliceList, got kind List");
	SAME_VIEW(&s, &fx->v);

	k8s_view_free(&fx->v);
	text = as_slice_list(fx, "list-shop-ready.json");
	LIST_OK(fx, text, strlen(text), &pod);
	assert_int_equal(fx->v.n, 4);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 1);
	EXPECT_ENTRY(&fx->v, "web-mesh-v4", 1);
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", 1);
	assert_string_equal(fx->v.resource_version, "");
	assert_string_equal(fx->cont, "");

	k8s_view_free(&fx->v);
	text = as_slice_list(fx, "list-shop-terminating.json");
	LIST_OK(fx, text, strlen(text), &pod);
	assert_int_equal(fx->v.n, 2);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 0);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 0);
	assert_false(k8s_view_pod_ready(&fx->v));
}

/* Page 2 of the wire list (limit=2): its last three items, as the server would send them. */
static char *
page2(struct fx *fx, const char *rv)
{
	cJSON *root = cJSON_Parse(slurp(fx, "wire-list-shop.json", NULL));
	cJSON *items, *meta;
	char *text;

	assert_non_null(root);
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	assert_int_equal(cJSON_GetArraySize(items), 5);
	cJSON_DeleteItemFromArray(items, 0);
	cJSON_DeleteItemFromArray(items, 0);
	meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	cJSON_ReplaceItemInObjectCaseSensitive(meta, "resourceVersion", cJSON_CreateString(rv));
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return keep(fx, text);
}

static void
test_list_paging(void **state)
{
	struct fx *fx = *state;
	size_t len;
	const char *p1 = slurp(fx, "wire-list-shop-page1.json", &len);
	const char *p2 = page2(fx, "4811905");
	const char *empty_more = "{\"kind\":\"EndpointSliceList\",\"apiVersion\":"
				 "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":"
				 "\"4811905\",\"continue\":\"eyJzdGFydCI6InoifQ\"},\"items\":[]}";
	const char *empty_last = "{\"kind\":\"EndpointSliceList\",\"apiVersion\":"
				 "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":"
				 "\"4811905\"},\"items\":[]}";
	const char *bare = "{\"kind\":\"EndpointSliceList\",\"items\":[]}";

	LIST_OK(fx, p1, len, &pod);
	assert_string_equal(fx->cont,
		"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgxMTkwNSwic3RhcnQiOiJ3ZWItZmQya3hcdTAwMDAif"
		"Q");
	assert_string_equal(fx->v.resource_version, "4811905");
	assert_int_equal(fx->v.n, 1);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);

	LIST_OK(fx, p2, strlen(p2), &pod);
	assert_string_equal(fx->cont, "");
	assert_int_equal(fx->v.n, 4);
	EXPECT_ENTRY(&fx->v, "web-legacy-8qmzb", 1);
	EXPECT_ENTRY(&fx->v, "web-mesh-v4", 1);
	EXPECT_ENTRY(&fx->v, "web-q8zvm", 1);

	/* An empty page may still say there is more; an empty last page ends the list. */
	LIST_OK(fx, empty_more, strlen(empty_more), &pod);
	assert_string_equal(fx->cont, "eyJzdGFydCI6InoifQ");
	assert_int_equal(fx->v.n, 4);
	LIST_OK(fx, empty_last, strlen(empty_last), &pod);
	assert_string_equal(fx->cont, "");
	assert_int_equal(fx->v.n, 4);

	/* Each page's resourceVersion is copied; a list without metadata keeps the last one. */
	p2 = page2(fx, "4811999");
	LIST_OK(fx, p2, strlen(p2), &pod);
	assert_string_equal(fx->v.resource_version, "4811999");
	LIST_OK(fx, bare, strlen(bare), &pod);
	assert_string_equal(fx->v.resource_version, "4811999");
	assert_string_equal(fx->cont, "");
}

static void
test_list_continue_too_long(void **state)
{
	struct fx *fx = *state;
	char cont[16];
	const char *fits =
		"{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":\"7\","
		"\"continue\":\"abcdefghijklmno\"},\"items\":[]}";
	const char *over =
		"{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":\"8\","
		"\"continue\":\"abcdefghijklmnop\"},\"items\":[]}";

	assert_int_equal(k8s_parse_list(&fx->v, fits, strlen(fits), &pod, cont, sizeof(cont),
				 fx->err, sizeof(fx->err)),
		0);
	assert_string_equal(cont, "abcdefghijklmno");
	assert_int_equal(k8s_parse_list(&fx->v, over, strlen(over), &pod, cont, sizeof(cont),
				 fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, "the list's continue token is over 15 bytes");
	/* Never a cut token, which would list from the wrong place. */
	assert_string_equal(cont, "");

	/* The real token does not fit a small buffer either. */
	assert_int_equal(k8s_parse_list(&fx->v, slurp(fx, "wire-list-shop-page1.json", NULL),
				 strlen(slurp(fx, "wire-list-shop-page1.json", NULL)), &pod, cont,
				 sizeof(cont), fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(cont, "");
	still_usable(fx);
}

/*
 * The view holds only the slices that list the pod: 2,000 slices of other pods (as
 * `fake_kube_api.py --generate 2000` makes them), the pod in one, cost one entry.
 */
static char *
generated_list(struct fx *fx, int count, int pod_at)
{
	struct buf b = { .max = TEXT_MAX };
	int i, j;

	buf_printf(&b,
		"{\"kind\":\"EndpointSliceList\",\"apiVersion\":\"discovery.k8s.io/v1\","
		"\"metadata\":{\"resourceVersion\":\"9000000\"},\"items\":[");
	for (i = 0; i < count; i++) {
		buf_printf(&b,
			"%s{\"metadata\":{\"name\":\"bulk-%04d-x7k2p\",\"namespace\":\"shop\","
			"\"resourceVersion\":\"%d\",\"labels\":{\"kubernetes.io/service-name\":"
			"\"bulk-%03d\"}},\"addressType\":\"IPv4\",\"endpoints\":[",
			i ? "," : "", i, 8000000 + i, i / 10);
		for (j = 0; j < 4; j++) {
			if (i == pod_at && j == 2)
				buf_printf(&b,
					",{\"addresses\":[\"" POD_IP
					"\"],\"conditions\":{\"ready\":"
					"true},\"targetRef\":{\"kind\":\"Pod\",\"namespace\":"
					"\"shop\",\"name\":\"" POD_NAME "\"}}");
			else
				buf_printf(&b,
					"%s{\"addresses\":[\"10.%d.%d.%d\"],\"conditions\":{"
					"\"ready\":true,\"serving\":true,\"terminating\":false},"
					"\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"shop\","
					"\"name\":\"bulk-%04d-pod-%d\"}}",
					j ? "," : "", 100 + j, i / 250, i % 250, i, j);
		}
		buf_printf(&b,
			"],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}");
	}
	buf_printf(&b, "]}");
	return keep(fx, text_of(&b));
}

static void
test_list_many_slices(void **state)
{
	struct fx *fx = *state;
	const char *list = generated_list(fx, 2000, 1234);
	const char *gone = fmt(fx,
		"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bulk-1234-x7k2p\","
		"\"resourceVersion\":\"9000001\"},\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}"
		"}");
	int i;

	LIST_OK(fx, list, strlen(list), &pod);
	assert_int_equal(fx->v.n, 1);
	assert_true(fx->v.cap <= 4);
	EXPECT_ENTRY(&fx->v, "bulk-1234-x7k2p", 1);
	assert_string_equal(fx->v.resource_version, "9000000");

	/*
	 * Again, then the same slices with the pod moved to the first, then to the last one:
	 * the slice that no longer lists it is forgotten.
	 */
	LIST_OK(fx, list, strlen(list), &pod);
	assert_int_equal(fx->v.n, 1);
	list = generated_list(fx, 2000, 0);
	LIST_OK(fx, list, strlen(list), &pod);
	assert_int_equal(fx->v.n, 1);
	EXPECT_ENTRY(&fx->v, "bulk-0000-x7k2p", 1);
	list = generated_list(fx, 2000, 1999);
	LIST_OK(fx, list, strlen(list), &pod);
	assert_int_equal(fx->v.n, 1);
	EXPECT_ENTRY(&fx->v, "bulk-1999-x7k2p", 1);
	EXPECT_ENTRY(&fx->v, "bulk-0000-x7k2p", NOT_LISTED);
	EXPECT_ENTRY(&fx->v, "bulk-1234-x7k2p", NOT_LISTED);
	assert_true(fx->v.cap <= 4);
	/* And a list where no slice lists it. */
	list = generated_list(fx, 2000, -1);
	LIST_OK(fx, list, strlen(list), &pod);
	assert_int_equal(fx->v.n, 0);
	list = generated_list(fx, 2000, 1234);
	LIST_OK(fx, list, strlen(list), &pod);

	/* Watch events for slices of other pods do not add entries either. */
	for (i = 0; i < 2000; i++) {
		EVENT_OK(fx,
			fmt(fx,
				"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"other-%"
				"d\"},"
				"\"endpoints\":[{\"addresses\":[\"10.1.%d.%d\"]}]}}",
				i, i / 250, i % 250),
			&pod, K8S_ADDED);
		free(fx->keep[--fx->nkeep]);
	}
	assert_int_equal(fx->v.n, 1);
	EXPECT_ENTRY(&fx->v, "bulk-1234-x7k2p", 1);
	EVENT_OK(fx, gone, &pod, K8S_MODIFIED);
	assert_int_equal(fx->v.n, 0);
	assert_false(k8s_view_pod_ready(&fx->v));
}

/* Many slices that do list the pod: the view grows, finds, forgets each one. */
static void
test_view_grows_and_shrinks(void **state)
{
	struct fx *fx = *state;
	char name[32];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "s-%02d", i);
		EVENT_OK(fx,
			one_endpoint(fx, "ADDED", name,
				fmt(fx,
					"{\"addresses\":[\"" POD_IP
					"\"],\"conditions\":{\"ready\":%s}}",
					i % 2 ? "true" : "false")),
			&pod, K8S_ADDED);
		fx->nkeep -= 2;
		free(fx->keep[fx->nkeep]);
		free(fx->keep[fx->nkeep + 1]);
	}
	assert_int_equal(fx->v.n, 40);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "s-%02d", i);
		EXPECT_ENTRY(&fx->v, name, i % 2);
	}
	for (i = 39; i >= 0; i -= 2) {
		snprintf(name, sizeof(name), "s-%02d", i);
		EVENT_OK(fx,
			fmt(fx,
				"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"%s\"}}"
				"}",
				name),
			&pod, K8S_DELETED);
	}
	assert_int_equal(fx->v.n, 20);
	assert_false(k8s_view_pod_ready(&fx->v));
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "s-%02d", i);
		EXPECT_ENTRY(&fx->v, name, i % 2 ? NOT_LISTED : 0);
	}
}

/* Names up to 253 characters (a DNS subdomain) are kept whole. */
static void
test_name_253(void **state)
{
	struct fx *fx = *state;
	char name[254];

	memset(name, 'a', 253);
	name[253] = '\0';
	EVENT_OK(fx, one_endpoint(fx, "ADDED", name, "{\"addresses\":[\"" POD_IP "\"]}"), &pod,
		K8S_ADDED);
	assert_int_equal(fx->v.n, 1);
	assert_int_equal(strlen(fx->v.v[0].name), 253);
	EXPECT_ENTRY(&fx->v, name, 1);
	EVENT_OK(fx,
		fmt(fx, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"%s\"}}}", name),
		&pod, K8S_DELETED);
	assert_int_equal(fx->v.n, 0);
}

/*
 * Watch events
 */

/* The wire watch after the wire list: the pod goes terminating, then out of every slice. */
static void
test_watch_wire(void **state)
{
	static const struct {
		enum k8s_event ev;
		const char *rv;
		const char *slice; /* what this event changed */
		int state;
		size_t n;        /* slices listing the pod (by name and address) */
		bool ready;      /* ... whether it is ready in any */
		size_t n_name;   /* the same when only the name is known */
		bool ready_name; /* (web-legacy-8qmzb lists it by address only) */
	} steps[] = {
		{ K8S_MODIFIED, "4811906", "web-fd2kx", 0, 4, true, 3, true },
		{ K8S_MODIFIED, "4811907", "web-mesh-v4", 0, 4, true, 3, true },
		{ K8S_MODIFIED, "4811908", "web-q8zvm", 0, 4, true, 3, false },
		{ K8S_BOOKMARK, "4811909", "web-q8zvm", 0, 4, true, 3, false },
		{ K8S_MODIFIED, "4811910", "web-fd2kx", NOT_LISTED, 3, true, 2, false },
		{ K8S_MODIFIED, "4811911", "web-mesh-v4", NOT_LISTED, 2, true, 1, false },
		{ K8S_MODIFIED, "4811912", "web-q8zvm", NOT_LISTED, 1, true, 0, false },
		{ K8S_DELETED, "4811913", "api-2tbq9", NOT_LISTED, 1, true, 0, false },
		{ K8S_ERROR, "4811913", "web-legacy-8qmzb", 1, 1, true, 0, false },
	};
	const struct k8s_pod by_name = { POD_NAME, NULL, NAMESPACE };
	struct fx *fx = *state;
	size_t len, i;
	const char *list = slurp(fx, "wire-list-shop.json", &len);
	char *watch = slurp(fx, "wire-watch-shop.jsonl", NULL);
	int pass;

	for (pass = 0; pass < 2; pass++) {
		const struct k8s_pod *p = pass == 0 ? &pod : &by_name;
		char *line = watch;

		k8s_view_free(&fx->v);
		LIST_OK(fx, list, len, p);
		assert_int_equal(fx->v.n, pass == 0 ? 4 : 3);
		for (i = 0; i < ARRAY_LEN(steps); i++) {
			char *nl = strchr(line, '\n');

			assert_non_null(nl);
			*nl = '\0';
			EVENT_OK(fx, line, p, steps[i].ev);
			*nl = '\n';
			line = nl + 1;
			if (steps[i].ev == K8S_ERROR)
				assert_int_equal(fx->code, 410);
			assert_string_equal(fx->v.resource_version, steps[i].rv);
			if (pass == 0) {
				EXPECT_ENTRY(&fx->v, steps[i].slice, steps[i].state);
				assert_int_equal(fx->v.n, steps[i].n);
				assert_int_equal(k8s_view_pod_ready(&fx->v), steps[i].ready);
			} else {
				assert_int_equal(fx->v.n, steps[i].n_name);
				assert_int_equal(k8s_view_pod_ready(&fx->v), steps[i].ready_name);
			}
		}
		assert_string_equal(line, "");
	}
}

/* Bookmarks only move the resourceVersion, in every shape the API server sends them. */
static void
test_bookmarks(void **state)
{
	static const struct {
		const char *json;
		const char *rv;
	} cases[] = {
		/* As Go serializes an empty EndpointSlice (the watch cache). */
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"
		  "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"4811909\","
		  "\"creationTimestamp\":null},\"addressType\":\"\",\"endpoints\":null,"
		  "\"ports\":null}}",
			"4811909" },
		/* Minimal. */
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"
		  "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"4811920\"}}}",
			"4811920" },
		/* The end of sendInitialEvents. */
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"EndpointSlice\",\"apiVersion\":"
		  "\"discovery.k8s.io/v1\",\"metadata\":{\"resourceVersion\":\"4811921\","
		  "\"creationTimestamp\":null,\"annotations\":{\"k8s.io/initial-events-end\":"
		  "\"true\"}},\"addressType\":\"\",\"endpoints\":null,\"ports\":null}}",
			"4811921" },
		/* Without a version: nothing changes. */
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"EndpointSlice\",\"metadata\":{}}}",
			"4811921" },
		{ "{\"type\":\"BOOKMARK\",\"object\":{}}", "4811921" },
		/* Even one that names a slice and lists no endpoints does not touch the view. */
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\","
		  "\"resourceVersion\":\"4811922\"},\"endpoints\":null}}",
			"4811922" },
	};
	struct fx *fx = *state;
	size_t len, i;
	const char *list = slurp(fx, "wire-list-shop.json", &len);
	struct snap s;

	LIST_OK(fx, list, len, &pod);
	EVENT_OK(fx, event_of(fx, "MODIFIED", "web-terminating.json"), &pod, K8S_MODIFIED);
	take(&s, &fx->v);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		EVENT_OK(fx, cases[i].json, &pod, K8S_BOOKMARK);
		assert_string_equal(fx->v.resource_version, cases[i].rv);
		memcpy(s.rv, cases[i].rv, strlen(cases[i].rv) + 1);
		SAME_VIEW(&s, &fx->v);
	}
	/* The wire file's bookmark line. */
	assert_non_null(strstr(slurp(fx, "wire-watch-shop.jsonl", NULL), cases[0].json));
}

static void
test_error_events(void **state)
{
	struct fx *fx = *state;
	char *watch = slurp(fx, "wire-watch-shop.jsonl", NULL);
	char *line = strstr(watch, "{\"type\":\"ERROR\"");
	struct snap s;

	start_ready(fx);
	take(&s, &fx->v);
	assert_non_null(line);
	*strchr(line, '\n') = '\0';
	EVENT_OK(fx, line, &pod, K8S_ERROR);
	assert_int_equal(fx->code, 410);
	SAME_VIEW(&s, &fx->v);

	EVENT_OK(fx,
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		"\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error\","
		"\"reason\":\"InternalError\",\"code\":500}}",
		&pod, K8S_ERROR);
	assert_int_equal(fx->code, 500);
	/* A Status without a code, or with a code that is not a number. */
	fx->code = 99;
	EVENT_OK(fx, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}", &pod, K8S_ERROR);
	assert_int_equal(fx->code, 0);
	fx->code = 99;
	EVENT_OK(fx, "{\"type\":\"ERROR\",\"object\":{\"code\":\"410\"}}", &pod, K8S_ERROR);
	assert_int_equal(fx->code, 0);
	/* An ERROR's object carries no resourceVersion to resume from. */
	EVENT_OK(fx, "{\"type\":\"ERROR\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
		&pod, K8S_ERROR);
	SAME_VIEW(&s, &fx->v);
	still_usable(fx);
}

/* Numbers out of any range: no undefined behaviour (UBSan), never taken for a 410. */
static void
test_huge_numbers(void **state)
{
	struct fx *fx = *state;
	const char *name_num = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":1e999},"
			       "\"endpoints\":[]}}";
	char digits[401];
	struct snap s;

	memset(digits, '9', 400);
	digits[400] = '\0';
	start_ready(fx);
	take(&s, &fx->v);

	fx->code = 410;
	EVENT_OK(fx, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":1e400}}", &pod,
		K8S_ERROR);
	assert_int_not_equal(fx->code, 410);
	fx->code = 410;
	EVENT_OK(fx, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":-1e400}}", &pod,
		K8S_ERROR);
	assert_int_not_equal(fx->code, 410);
	fx->code = 410;
	EVENT_OK(fx,
		fmt(fx, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":%s}}",
			digits),
		&pod, K8S_ERROR);
	assert_int_not_equal(fx->code, 410);
	SAME_VIEW(&s, &fx->v);

	/* A number where the name or the version should be: not a slice, not a version. */
	assert_int_equal(k8s_parse_event(&fx->v, name_num, strlen(name_num), &pod, &fx->ev,
				 &fx->code, fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, "an EndpointSlice without a valid metadata.name");
	EVENT_OK(fx,
		fmt(fx,
			"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":%s}}"
			"}",
			digits),
		&pod, K8S_BOOKMARK);
	SAME_VIEW(&s, &fx->v);

	/* Huge numbers in fields graceinit does not read change nothing. */
	EVENT_OK(fx,
		fmt(fx,
			"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\","
			"\"generation\":%s,\"resourceVersion\":\"4811999\"},\"endpoints\":[{"
			"\"addresses\":[\"" POD_IP
			"\"],\"conditions\":{\"ready\":false}}],\"ports\":"
			"[{\"port\":1e400}]}}",
			digits),
		&pod, K8S_MODIFIED);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 0);
	assert_string_equal(fx->v.resource_version, "4811999");
}

/*
 * Bad input: -1, a message, the view as it was and still usable
 */

/* cJSON refuses more than CJSON_NESTING_LIMIT (1000) levels. */
static char *
nested(struct fx *fx, const char *head, int depth, const char *tail)
{
	struct buf b = { .max = TEXT_MAX };
	int i;

	buf_printf(&b, "%s", head);
	for (i = 0; i < depth; i++)
		buf_printf(&b, "[");
	for (i = 0; i < depth; i++)
		buf_printf(&b, "]");
	buf_printf(&b, "%s", tail);
	return keep(fx, text_of(&b));
}

#define NOT_LIST  "the EndpointSlice list is not a JSON object"
#define NO_NAME   "an EndpointSlice without a valid metadata.name"
#define NOT_EVENT "a watch event is not a JSON object"

static void
test_list_malformed(void **state)
{
	struct fx *fx = *state;
	char long_name[300];
	const struct {
		const char *json;
		const char *err;
	} cases[] = {
		{ "", NOT_LIST },
		{ "not json", NOT_LIST },
		{ "<html><body>502 Bad Gateway</body></html>", NOT_LIST },
		{ "[]", NOT_LIST },
		{ "[{\"kind\":\"EndpointSliceList\",\"items\":[]}]", NOT_LIST },
		{ "null", NOT_LIST },
		{ "\"EndpointSliceList\"", NOT_LIST },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[", NOT_LIST },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[]", NOT_LIST },
		{ "{\"apiVersion\":\"discovery.k8s.io/v1\",\"items\":[]}",
			"expected an EndpointSliceList, got kind none" },
		{ "{\"kind\":7,\"items\":[]}", "expected an EndpointSliceList, got kind none" },
		{ "{\"kind\":\"PodList\",\"items\":[]}",
			"expected an EndpointSliceList, got kind PodList" },
		{ "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":410}",
			"expected an EndpointSliceList, got kind Status" },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[{\"endpoints\":[]}]}", NO_NAME },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{}}]}", NO_NAME },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{\"name\":7}}]}",
			NO_NAME },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[42]}", NO_NAME },
		{ fmt(fx,
			  "{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{\"name\":\"%"
			  "s\"}}]}",
			  (memset(long_name, 'a', 254), long_name[254] = '\0', long_name)),
			NO_NAME },
		{ "{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{\"name\":\"web-x\"},"
		  "\"endpoints\":{\"addresses\":[\"" POD_IP "\"]}}]}",
			"EndpointSlice web-x: endpoints is not a list" },
		{ nested(fx,
			  "{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{\"name\":"
			  "\"deep\"},\"endpoints\":",
			  1500, "}]}"),
			NOT_LIST },
		{ nested(fx, "", 100000, ""), NOT_LIST },
	};
	const char *deep;
	size_t i;
	struct snap s;

	start_ready(fx);
	take(&s, &fx->v);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		int rc;

		strcpy(fx->err, "");
		strcpy(fx->cont, "stale");
		rc = k8s_parse_list(&fx->v, cases[i].json, strlen(cases[i].json), &pod, fx->cont,
			sizeof(fx->cont), fx->err, sizeof(fx->err));
		if (rc != -1)
			fail_msg("case %zu (%.60s): returned %d", i, cases[i].json, rc);
		if (strcmp(fx->err, cases[i].err) != 0)
			fail_msg("case %zu (%.60s): message \"%s\", expected \"%s\"", i,
				cases[i].json, fx->err, cases[i].err);
		assert_string_equal(fx->cont, "");
		SAME_VIEW(&s, &fx->v);
	}
	/* Just under the nesting limit: parsed, and the slice does not list the pod. */
	deep = nested(fx,
		"{\"kind\":\"EndpointSliceList\",\"items\":[{\"metadata\":{\"name\":"
		"\"deep\"},\"endpoints\":",
		990, "}]}");
	LIST_OK(fx, deep, strlen(deep), &pod);
	SAME_VIEW(&s, &fx->v);
	still_usable(fx);
}

/* "items" missing or not a list: refused, with a message that says so. */
static void
test_list_items_not_a_list(void **state)
{
	static const char *const cases[] = {
		"{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":\"1\"}}",
		"{\"kind\":\"EndpointSliceList\",\"items\":null}",
		"{\"kind\":\"EndpointSliceList\",\"items\":{}}",
		"{\"kind\":\"EndpointSliceList\",\"items\":\"web-fd2kx\"}",
	};
	struct fx *fx = *state;
	struct snap s;
	size_t i;

	start_ready(fx);
	take(&s, &fx->v);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		strcpy(fx->err, "");
		assert_int_equal(k8s_parse_list(&fx->v, cases[i], strlen(cases[i]), &pod, fx->cont,
					 sizeof(fx->cont), fx->err, sizeof(fx->err)),
			-1);
		SAME_VIEW(&s, &fx->v);
		if (strstr(fx->err, "items") == NULL)
			fail_msg("%s: the message \"%s\" does not say that items is not a list",
				cases[i], fx->err);
	}
}

/* A bad slice in the middle of a page: -1, and the view can still be used. */
static void
test_list_bad_item_after_good(void **state)
{
	struct fx *fx = *state;
	const char *json = "{\"kind\":\"EndpointSliceList\",\"metadata\":{\"resourceVersion\":"
			   "\"77\"},\"items\":[{\"metadata\":{\"name\":\"good\"},\"endpoints\":["
			   "{\"addresses\":[\"" POD_IP "\"]}]},{\"metadata\":{}}]}";

	assert_int_equal(k8s_parse_list(&fx->v, json, strlen(json), &pod, fx->cont,
				 sizeof(fx->cont), fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, NO_NAME);
	assert_string_equal(fx->cont, "");
	assert_true(fx->v.n <= 1);
	k8s_view_free(&fx->v);
	start_ready(fx);
	still_usable(fx);
}

static void
test_event_malformed(void **state)
{
	struct fx *fx = *state;
	char long_name[300];
	char *wire = slurp(fx, "wire-watch-shop.jsonl", NULL);
	const struct {
		const char *json;
		const char *err;
	} cases[] = {
		{ "", NOT_EVENT },
		{ "garbage", NOT_EVENT },
		{ "[]", NOT_EVENT },
		{ "[{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\"}}}]",
			NOT_EVENT },
		{ "null", NOT_EVENT },
		{ "42", NOT_EVENT },
		{ "\"ADDED\"", NOT_EVENT },
		{ fmt(fx, "%.300s", wire), NOT_EVENT }, /* the first line, cut */
		{ "{\"object\":{\"metadata\":{\"name\":\"web-fd2kx\"}}}",
			"not a watch event (type missing)" },
		{ "{\"type\":5,\"object\":{}}", "not a watch event (type missing)" },
		{ "{\"type\":null,\"object\":{}}", "not a watch event (type missing)" },
		{ "{\"type\":\"DELETED\"}", "not a watch event (type DELETED)" },
		{ "{\"type\":\"DELETED\",\"object\":null}", "not a watch event (type DELETED)" },
		{ "{\"type\":\"MODIFIED\",\"object\":[]}", "not a watch event (type MODIFIED)" },
		{ "{\"type\":\"ADDED\",\"object\":\"web-fd2kx\"}",
			"not a watch event (type ADDED)" },
		{ "{\"type\":\"SYNC\",\"object\":{}}", "not a watch event (type SYNC)" },
		{ "{\"type\":\"deleted\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\"}}}",
			"not a watch event (type deleted)" },
		{ "{\"type\":\"\",\"object\":{}}", "not a watch event (type )" },
		{ "{\"type\":\"ADDED\",\"object\":{\"endpoints\":[]}}", NO_NAME },
		{ "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"\"}}}", NULL },
		{ fmt(fx,
			  "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"%s\"},"
			  "\"endpoints\":[{\"addresses\":[\"" POD_IP "\"]}]}}",
			  (memset(long_name, 'w', 254), long_name[254] = '\0', long_name)),
			NO_NAME },
		{ "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\"},"
		  "\"endpoints\":\"" POD_IP "\"}}",
			"EndpointSlice web-fd2kx: endpoints is not a list" },
		{ nested(fx,
			  "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"web-fd2kx\"}"
			  ","
			  "\"endpoints\":",
			  1001, "}}"),
			NOT_EVENT },
		{ nested(fx, "", 100000, ""), NOT_EVENT },
	};
	size_t i;
	struct snap s;

	start_ready(fx);
	take(&s, &fx->v);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		int rc;

		if (cases[i].err == NULL) {
			/* An empty name: refused or ignored, but the view is as it was. */
			(void)k8s_parse_event(&fx->v, cases[i].json, strlen(cases[i].json), &pod,
				&fx->ev, &fx->code, fx->err, sizeof(fx->err));
			assert_int_equal(fx->v.n, 1);
			EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
			continue;
		}
		strcpy(fx->err, "");
		rc = k8s_parse_event(&fx->v, cases[i].json, strlen(cases[i].json), &pod, &fx->ev,
			&fx->code, fx->err, sizeof(fx->err));
		if (rc != -1)
			fail_msg("case %zu (%.60s): returned %d", i, cases[i].json, rc);
		if (strcmp(fx->err, cases[i].err) != 0)
			fail_msg("case %zu (%.60s): message \"%s\", expected \"%s\"", i,
				cases[i].json, fx->err, cases[i].err);
		SAME_VIEW(&s, &fx->v);
	}
	still_usable(fx);
}

/* The parsers read len bytes, never up to a NUL that is not there (ASan checks). */
static void
test_len_bounded(void **state)
{
	struct fx *fx = *state;
	const char *ev = event_of(fx, "ADDED", "web-ready.json");
	size_t len, evlen = strlen(ev);
	const char *list = slurp(fx, "wire-list-shop.json", &len);
	char *exact = keep(fx, malloc(evlen));
	char *list_exact = keep(fx, malloc(len));

	memcpy(exact, ev, evlen);
	assert_int_equal(k8s_parse_event(&fx->v, exact, evlen, &pod, &fx->ev, &fx->code, fx->err,
				 sizeof(fx->err)),
		0);
	EXPECT_ENTRY(&fx->v, "web-fd2kx", 1);
	memcpy(list_exact, list, len);
	LIST_OK(fx, list_exact, len, &pod);
	assert_int_equal(fx->v.n, 4);
	/* Cut short by len: not a whole JSON object. */
	assert_int_equal(k8s_parse_event(&fx->v, exact, evlen - 1, &pod, &fx->ev, &fx->code,
				 fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, NOT_EVENT);
	assert_int_equal(k8s_parse_list(&fx->v, list_exact, len / 2, &pod, fx->cont,
				 sizeof(fx->cont), fx->err, sizeof(fx->err)),
		-1);
	assert_string_equal(fx->err, NOT_LIST);
	assert_int_equal(fx->v.n, 4);
}

/* The message is cut to the caller's buffer and terminated. */
static void
test_err_buffer_small(void **state)
{
	struct fx *fx = *state;
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(
		k8s_parse_event(&fx->v, "{}", 2, &pod, &fx->ev, &fx->code, err, sizeof(err)), -1);
	assert_string_equal(err, "not a w");
	memset(err, 'x', sizeof(err));
	assert_int_equal(
		k8s_parse_list(&fx->v, "x", 1, &pod, fx->cont, sizeof(fx->cont), err, sizeof(err)),
		-1);
	assert_string_equal(err, "the End");
}

#define K8S_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		K8S_TEST(test_view_init_free),
		K8S_TEST(test_view_move),
		K8S_TEST(test_objects),
		K8S_TEST(test_ipv6_spellings),
		K8S_TEST(test_match_by_name_or_address),
		K8S_TEST(test_target_ref),
		K8S_TEST(test_target_ref_other_pod_same_address),
		K8S_TEST(test_conditions),
		K8S_TEST(test_pod_twice_in_a_slice),
		K8S_TEST(test_endpoints_null_or_absent),
		K8S_TEST(test_modified_then_deleted),
		K8S_TEST(test_list_wire),
		K8S_TEST(test_list_kubectl_files),
		K8S_TEST(test_list_paging),
		K8S_TEST(test_list_continue_too_long),
		K8S_TEST(test_list_many_slices),
		K8S_TEST(test_view_grows_and_shrinks),
		K8S_TEST(test_name_253),
		K8S_TEST(test_watch_wire),
		K8S_TEST(test_bookmarks),
		K8S_TEST(test_error_events),
		K8S_TEST(test_huge_numbers),
		K8S_TEST(test_list_malformed),
		K8S_TEST(test_list_items_not_a_list),
		K8S_TEST(test_list_bad_item_after_good),
		K8S_TEST(test_event_malformed),
		K8S_TEST(test_len_bounded),
		K8S_TEST(test_err_buffer_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
