/*
 * bench_timeit: wall time of fork + execve + exit + wait of each program, interleaved
 * (round i runs every program once, the order rotated), N rounds; prints the median and
 * p10/p90 per program. Each program gets "--version" as its only argument (the empty-main
 * probes of profile.sh ignore it) and /dev/null as stdout and stderr.
 *
 * usage: bench_timeit N PROGRAM...
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int
cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	int n, k, i, j, m, status;
	int64_t *t, t0;
	pid_t pid;

	if (argc < 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: bench_timeit N PROGRAM...\n");
		return 2;
	}
	k = argc - 2;
	if ((t = calloc((size_t)n * (size_t)k, sizeof(*t))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		for (m = 0; m < k; m++) {
			j = (m + i) % k;
			t0 = bench_now_ns();
			pid = fork();
			if (pid == 0) {
				char *av[] = { argv[2 + j], "--version", NULL };
				int fd = open("/dev/null", O_WRONLY);

				dup2(fd, 1);
				dup2(fd, 2);
				execv(av[0], av);
				_exit(127);
			}
			waitpid(pid, &status, 0);
			t[j * n + i] = bench_now_ns() - t0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
				fprintf(stderr, "bench_timeit: %s failed\n", argv[2 + j]);
				return 1;
			}
		}
	}
	for (j = 0; j < k; j++) {
		int64_t *v = t + (size_t)j * (size_t)n;

		qsort(v, (size_t)n, sizeof(*v), cmp);
		printf("%.3f %.3f %.3f %s\n", v[n / 2] / 1e6, v[n / 10] / 1e6, v[n * 9 / 10] / 1e6,
			argv[2 + j]);
	}
	return 0;
}
