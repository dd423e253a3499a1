/*
 * fuzz_k8s_watch.c: the watch stream as curl delivers it to k8s.c, through k8s_feed (the write
 * callback), cut into chunks anywhere: the lines are split, parsed as events and applied to the
 * view. The input starts with a header choosing the cuts: one byte N (taken modulo 16), then N
 * little-endian 16-bit chunk lengths; the rest is the stream. The same stream is fed three
 * ways: whole, in the chosen chunks, and (when short) one byte at a time. How the stream is
 * cut must change nothing: the view, the events, the changes reported and whether the
 * transfer was aborted must agree.
 */
#include "k8s.h"
#include "k8s_check.h"
#include "log.h"

#define LINE_MAX_BYTES (16 * 1024) /* k8s.c allows 8 MiB; small here so the limit is hit */
#define BYTEWISE_MAX   4096
#define MAX_CUTS       16

struct run {
	struct k8s k;
	unsigned int changes;
	bool stopped;
};

static void
on_changed(void *arg)
{
	struct run *r = arg;

	r->changes++;
	fuzz_check_view(&r->k.view);
}

static void
run_start(struct run *r)
{
	static const struct k8s_pod pod = { FUZZ_POD_NAME, FUZZ_POD_IP, FUZZ_NAMESPACE };

	memset(r, 0, sizeof(*r));
	r->k.state = K8S_WATCHING;
	r->k.pod = pod;
	r->k.have_view = true;
	r->k.watch_answered = true;
	r->k.unhealthy_since_ms = -1;
	r->k.changed = on_changed;
	r->k.arg = r;
	k8s_view_init(&r->k.view);
	k8s_view_init(&r->k.pending);
	buf_init(&r->k.body, LINE_MAX_BYTES);
	buf_init(&r->k.line, LINE_MAX_BYTES);
}

static void
run_feed(struct run *r, const char *data, size_t len)
{
	if (!r->stopped && k8s_feed(&r->k, data, len) != len)
		r->stopped = true;
}

static void
run_free(struct run *r)
{
	buf_free(&r->k.body);
	buf_free(&r->k.line);
	k8s_view_free(&r->k.view);
	k8s_view_free(&r->k.pending);
}

static void
same(const struct run *a, const struct run *b)
{
	size_t i;

	FUZZ_CHECK(a->stopped == b->stopped);
	FUZZ_CHECK(a->changes == b->changes);
	FUZZ_CHECK(a->k.events == b->k.events);
	FUZZ_CHECK(a->k.relist == b->k.relist);
	FUZZ_CHECK(a->k.pod_ready == b->k.pod_ready);
	FUZZ_CHECK(strcmp(a->k.view.resource_version, b->k.view.resource_version) == 0);
	FUZZ_CHECK(a->k.view.n == b->k.view.n);
	for (i = 0; i < a->k.view.n; i++) {
		FUZZ_CHECK(strcmp(a->k.view.v[i].name, b->k.view.v[i].name) == 0);
		FUZZ_CHECK(a->k.view.v[i].ready == b->k.view.v[i].ready);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, chunked, bytewise;
	size_t cuts[MAX_CUTS], ncuts = 0, n, off, i;
	const char *stream;
	size_t len;

	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	if (size > 0) {
		n = data[0] % MAX_CUTS;
		for (off = 1; ncuts < n && off + 2 <= size; off += 2)
			cuts[ncuts++] = (size_t)data[off] | (size_t)data[off + 1] << 8;
		data += off;
		size -= off;
	}
	stream = (const char *)data;
	len = size;

	run_start(&whole);
	run_feed(&whole, stream, len);

	run_start(&chunked);
	for (i = 0, off = 0; off < len; i++) {
		n = i < ncuts ? cuts[i] : len - off;
		n = n == 0 ? 1 : n > len - off ? len - off : n;
		run_feed(&chunked, stream + off, n);
		off += n;
	}
	same(&whole, &chunked);

	if (len <= BYTEWISE_MAX) {
		run_start(&bytewise);
		for (off = 0; off < len; off++)
			run_feed(&bytewise, stream + off, 1);
		same(&whole, &bytewise);
		run_free(&bytewise);
	}
	run_free(&whole);
	run_free(&chunked);
	return 0;
}
