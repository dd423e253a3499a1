/*
 * bench_signal: SIGUSR1 forwarding latency of several inits that run at the same time, each
 * supervising a bench_child (started by `bench_run idle`), interleaved signal by signal.
 *
 * Round i sends one SIGUSR1 to every init in turn (the order rotated by one each round): stamp,
 * kill(init), wait for the child's record (its handler's stamp) before the next. So the
 * machine's background load of any moment hits every init alike, which per-run interleaving
 * cannot achieve on a busy machine. Then, one init at a time, a burst: BURST signals sent back
 * to back, and the number the child received once nothing more arrives for QUIET_MS (standard
 * signals pending at once coalesce, in the init and in the child).
 *
 * usage: bench_signal K BURST QUIET_MS PID FIFO [PID FIFO]...
 * Output: "lat=J NS" per signal (J: the init's index), "burst=J SENT DELIVERED", "lost=J N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_INITS 16

struct target {
	pid_t pid;
	int fd;
	int lost;
	long seq;
	int64_t *lat;
};

/* The next SIGUSR1 record of t, or 0 after timeout_ms. */
static int
next_rec(struct target *t, int timeout_ms, struct bench_rec *r)
{
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		n = read(t->fd, r, sizeof(*r));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n != (ssize_t)sizeof(*r)) {
			fprintf(stderr, "bench_signal: short read (%zd)\n", n);
			exit(1);
		}
		if (r->kind != REC_USR1)
			continue; /* e.g. a REC_READY no one read */
		t->seq = r->seq;
		return 1;
	}
}

static void
drain(struct target *t)
{
	struct bench_rec r;

	while (next_rec(t, 0, &r))
		continue;
}

int
main(int argc, char *argv[])
{
	struct target ts[MAX_INITS];
	struct bench_rec r;
	long k, burst, i, b;
	int n, j, m, quiet_ms;
	struct timespec pause = { 0, 20 * 1000000 };
	int64_t t0;

	if (argc < 6 || (argc - 4) % 2 != 0 || (argc - 4) / 2 > MAX_INITS) {
		fprintf(stderr, "usage: bench_signal K BURST QUIET_MS PID FIFO [PID FIFO]...\n");
		return 2;
	}
	k = atol(argv[1]);
	burst = atol(argv[2]);
	quiet_ms = atoi(argv[3]);
	n = (argc - 4) / 2;
	for (j = 0; j < n; j++) {
		ts[j].pid = (pid_t)atol(argv[4 + 2 * j]);
		ts[j].fd = open(argv[5 + 2 * j], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ts[j].lost = 0;
		ts[j].seq = 0;
		ts[j].lat = calloc((size_t)k + 1, sizeof(int64_t));
		if (ts[j].fd < 0 || ts[j].lat == NULL) {
			fprintf(stderr, "bench_signal: %s: %s\n", argv[5 + 2 * j], strerror(errno));
			return 1;
		}
		drain(&ts[j]);
	}

	for (i = 0; i < k; i++) {
		for (m = 0; m < n; m++) {
			struct target *t = &ts[(m + i) % n];

			if (t->lost)
				continue;
			t0 = bench_now_ns();
			kill(t->pid, SIGUSR1);
			if (!next_rec(t, 2000, &r)) {
				t->lost = 1; /* the stream would be out of step: stop this one */
				t->lat[i] = -1;
				continue;
			}
			t->lat[i] = r.t_ns - t0;
		}
	}
	for (j = 0; j < n; j++) {
		for (i = 0; i < k && ts[j].lat[i] > 0; i++)
			printf("lat=%d %lld\n", j, (long long)ts[j].lat[i]);
		printf("lost=%d %d\n", j, ts[j].lost);
	}

	for (j = 0; j < n; j++) {
		long first;

		nanosleep(&pause, NULL);
		drain(&ts[j]);
		first = ts[j].seq;
		for (b = 0; b < burst; b++)
			kill(ts[j].pid, SIGUSR1);
		while (next_rec(&ts[j], quiet_ms, &r))
			continue;
		printf("burst=%d %ld %ld\n", j, burst, ts[j].seq - first);
	}
	return 0;
}
