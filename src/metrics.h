/*
 * metrics.h: counters kept by the loop and their Prometheus text rendering.
 */
#ifndef GRACEINIT_METRICS_H
#define GRACEINIT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "drain.h"
#include "signals.h"

/* HTTP status codes that graceinit answers with, in the order they are rendered. */
#define METRICS_HTTP_CODES                                                                         \
	{                                                                                          \
		200, 202, 400, 401, 404, 405, 413, 500, 503                                        \
	}
#define METRICS_NCODES    9
#define METRICS_MAX_PATHS 12

struct metrics {
	uint64_t signals_received[SIGNALS_MAX];
	uint64_t signals_forwarded[SIGNALS_MAX];
	uint64_t http[METRICS_MAX_PATHS][METRICS_NCODES]; /* by path index, by code index */
};

/* Everything /metrics shows, read at the moment of the request. */
struct metrics_input {
	const struct metrics *m;
	const struct drain *drain;
	const char *const *paths; /* names of the path indexes of m->http */
	unsigned int npaths;
	uint64_t reaped;
	bool ready;
	bool live;
	int64_t uptime_ms;
	double start_time_s; /* Unix time of start */
};

void metrics_count_http(struct metrics *m, unsigned int path, unsigned int code);
void metrics_render(struct buf *b, const struct metrics_input *in);

#endif
