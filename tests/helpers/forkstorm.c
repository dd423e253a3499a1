/*
 * helper_forkstorm: a child that forks short-lived processes without a pause while graceinit
 * drains, for the fault-injection tests (tests/integration/test_faults.py).
 *
 * The main process forks an intermediate child, which forks a grandchild and exits at once, and
 * waits for the intermediate: every grandchild is an orphan re-parented to the nearest reaper
 * (graceinit), where it lives 0 to 3 ms and exits, so graceinit has a steady stream of processes
 * to reap. The intermediate exits 0 when its fork worked, 1 otherwise; the main process counts
 * the orphans made. With -l N it first leaves N leftovers: processes in sessions of their own
 * (out of reach of a signal to its process group) that ignore SIGTERM and block in pause(), so
 * that only the kill-on-exit SIGKILL ends them.
 *
 * Signals: SIGTERM (the stop signal) starts the end: with -t MS it goes on forking for MS ms,
 * writes "exit forks=N" to REPORT and exits with CODE; with -i it notes the SIGTERM and goes on
 * forking until SIGKILL. REPORT gets "ready pid=P pgid=G" first (pids as seen in its PID namespace),
 * then "term forks=N t_ms=T" when the SIGTERM arrives (T: CLOCK_MONOTONIC in ms).
 *
 * usage: helper_forkstorm [-t MS | -i] [-l N] [-x CODE] REPORT
 * Whatever happens, every process of it exits after LIFETIME_S seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_S 60

static volatile sig_atomic_t got_term;

static void
on_term(int signo)
{
	(void)signo;
	got_term = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
report(int fd, const char *line)
{
	if (write(fd, line, strlen(line)) < 0)
		_exit(4);
}

static void
nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A leftover: its own session, SIGTERM ignored, waits for SIGKILL (or SIGALRM). */
static void
leftover(void)
{
	pid_t pid = fork();

	if (pid != 0)
		return;
	setsid();
	signal(SIGTERM, SIG_IGN);
	alarm(LIFETIME_S);
	for (;;)
		pause();
}

/* One orphan: the intermediate forks it and exits; returns 1 when it was made. */
static int
orphan(unsigned seed)
{
	int wstatus;
	pid_t pid = fork(), gc;

	if (pid < 0)
		return 0;
	if (pid == 0) {
		gc = fork();
		if (gc == 0) {
			nap_us((long)(seed % 4) * 1000);
			_exit(0);
		}
		_exit(gc > 0 ? 0 : 1);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	long after_ms = 0, leftovers = 0, forks = 0;
	int ignore = 0, code = 0, opt, fd;
	int64_t end = -1;
	char line[128];
	unsigned seed = 1;
	sigset_t all;

	while ((opt = getopt(argc, argv, "t:il:x:")) != -1) {
		switch (opt) {
		case 't':
			after_ms = atol(optarg);
			break;
		case 'i':
			ignore = 1;
			break;
		case 'l':
			leftovers = atol(optarg);
			break;
		case 'x':
			code = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	fd = open(argv[optind], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror("helper_forkstorm: open");
		return 2;
	}
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	alarm(LIFETIME_S);
	while (leftovers-- > 0)
		leftover();
	snprintf(line, sizeof(line), "ready pid=%d pgid=%d\n", (int)getpid(), (int)getpgid(0));
	report(fd, line);
	for (;;) {
		if (got_term == 1) {
			got_term = 2;
			snprintf(line, sizeof(line), "term forks=%ld t_ms=%lld\n", forks,
				(long long)now_ms());
			report(fd, line);
			if (!ignore)
				end = now_ms() + after_ms;
		}
		if (end >= 0 && now_ms() >= end)
			break;
		forks += orphan(seed);
		seed = seed * 1103515245u + 12345u;
		/* About a thousand orphans a second: a storm, not a machine-wide outage. */
		nap_us(500);
	}
	snprintf(line, sizeof(line), "exit forks=%ld\n", forks);
	report(fd, line);
	return code;
usage:
	fprintf(stderr, "usage: helper_forkstorm [-t MS | -i] [-l N] [-x CODE] REPORT\n");
	return 2;
}
