/*
 * bench.h: what bench_child (the supervised command) tells bench_run (the measuring side)
 * through a FIFO: fixed-size binary records, written with one write(2) each, so that they
 * are atomic (smaller than PIPE_BUF) even when a signal handler writes one. Times are
 * CLOCK_MONOTONIC in nanoseconds: the same clock inside and outside a PID namespace (no
 * time namespace is used).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <time.h>

enum bench_kind {
	REC_START = 1, /* first statement of main(); aux = pid in the namespace */
	REC_READY,     /* handlers installed, the child now waits for signals */
	REC_TERM,      /* SIGTERM handler ran; the child exits 0 right after */
	REC_USR1,      /* SIGUSR1 handler ran; seq = how many so far */
	REC_ORPHANS,   /* t = just before fork()ing the orphan maker; aux = its pid */
};

struct bench_rec {
	int32_t kind;
	int32_t seq;
	int64_t t_ns;
	int64_t aux;
};

static inline int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
