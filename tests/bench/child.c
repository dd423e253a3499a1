/*
 * bench_child: the command every init supervises in the benchmarks (built static, so that
 * its own start-up is short and the same under every init).
 *
 * It stamps CLOCK_MONOTONIC as the first statement of main() and reports it (REC_START), then
 * installs handlers for SIGTERM (stamp, report, _exit(0)) and SIGUSR1 (stamp, report with a
 * running count), reports REC_READY and waits for signals. Reports go to FIFO as struct
 * bench_rec records (bench.h). With -O, it first forks the orphan maker (the rest of the
 * command line) in a process group of its own, so that the orphans can be killed with one
 * kill(-pgid) without killing this process, and reaps it when it exits.
 *
 * usage: bench_child [-x] FIFO [-O ORPHANS_ARGV...]
 *   -x  exit 0 right after REC_READY (start-up only)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Whatever goes wrong, this process is gone after this long. */
#define LIFETIME_S 600

static int out_fd = -1;
static int usr1_count;

static void
emit(int kind, int seq, int64_t t_ns, int64_t aux)
{
	struct bench_rec r = { .kind = kind, .seq = seq, .t_ns = t_ns, .aux = aux };

	(void)!write(out_fd, &r, sizeof(r));
}

static void
on_term(int signo)
{
	int64_t t = bench_now_ns();

	(void)signo;
	emit(REC_TERM, 0, t, 0);
	_exit(0);
}

static void
on_usr1(int signo)
{
	int64_t t = bench_now_ns();

	(void)signo;
	emit(REC_USR1, ++usr1_count, t, 0);
}

static void
on_chld(int signo)
{
	int saved = errno;

	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		continue;
	errno = saved;
}

static void
handle(int signo, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask); /* handlers never interrupt each other */
	if (sigaction(signo, &sa, NULL) < 0) {
		perror("bench_child: sigaction");
		exit(1);
	}
}

int
main(int argc, char *argv[])
{
	int64_t t_main = bench_now_ns(), t;
	int i, exit_now = 0, argi = 1;
	char **orphans = NULL;
	pid_t pid;

	if (argi < argc && strcmp(argv[argi], "-x") == 0) {
		exit_now = 1;
		argi++;
	}
	if (argi >= argc)
		goto usage;
	for (i = argi + 1; i < argc; i++) {
		if (strcmp(argv[i], "-O") == 0 && i + 1 < argc) {
			orphans = argv + i + 1;
			break;
		}
		goto usage;
	}
	out_fd = open(argv[argi], O_WRONLY | O_CLOEXEC);
	if (out_fd < 0) {
		fprintf(stderr, "bench_child: %s: %s\n", argv[argi], strerror(errno));
		return 1;
	}
	emit(REC_START, 0, t_main, getpid());
	handle(SIGTERM, on_term);
	handle(SIGUSR1, on_usr1);
	handle(SIGCHLD, on_chld);
	alarm(LIFETIME_S);
	if (orphans != NULL) {
		t = bench_now_ns();
		pid = fork();
		if (pid == 0) {
			setpgid(0, 0);
			alarm(0);
			execv(orphans[0], orphans); /* handlers are reset to SIG_DFL by exec */
			perror("bench_child: exec");
			_exit(127);
		}
		if (pid < 0) {
			perror("bench_child: fork");
			return 1;
		}
		setpgid(pid, pid); /* either side may run first: both set it */
		emit(REC_ORPHANS, 0, t, pid);
	}
	emit(REC_READY, 0, bench_now_ns(), 0);
	if (exit_now)
		return 0;
	for (;;)
		pause();

usage:
	fprintf(stderr, "usage: bench_child [-x] FIFO [-O ORPHANS_ARGV...]\n");
	return 2;
}
