/*
 * helper_orphans: makes orphaned grandchildren for the reaping tests.
 *
 * An intermediate child forks K orphans and exits at once; the orphans are then re-parented to
 * the nearest reaper (graceinit as PID 1 or as a subreaper), those that have already exited as
 * zombies. Intermediates are forked in batches and waited for, by J workers in parallel, so that
 * a 2-core machine with pid_max 32768 copes with 10,000 orphans. Progress goes to REPORT:
 * "start pid=P pgid=G", then with -p one line "orphan PID" per orphan, then "done N" once every
 * orphan has been forked.
 *
 * usage: helper_orphans [-n N] [-k K] [-j J] [-d MS | -H] [-p] [-w] [-x CODE] REPORT
 *   -n N     number of orphans (default 1)
 *   -k K     orphans per intermediate child (default 1)
 *   -j J     workers forking intermediates in parallel (default 1)
 *   -d MS    each orphan sleeps MS milliseconds, then exits (default 0: exits at once)
 *   -H       each orphan holds: it waits until a signal kills it (SIGTERM, SIGKILL)
 *   -p       write the pid of each orphan to REPORT
 *   -w       after "done", wait for SIGTERM, SIGINT or SIGUSR1, then exit
 *   -x CODE  exit status (default 0)
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
#define BATCH      256

static volatile sig_atomic_t quit;

static void
on_quit(int signo)
{
	(void)signo;
	quit = 1;
}

static void
orphan_main(long delay_ms, int hold)
{
	struct timespec ts;
	sigset_t none;

	if (hold) {
		/* Default dispositions, nothing blocked, and at most LIFETIME_S seconds of life. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		alarm(LIFETIME_S);
		for (;;)
			pause();
	}
	if (delay_ms > 0) {
		ts.tv_sec = delay_ms / 1000;
		ts.tv_nsec = (delay_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			continue;
	}
	_exit(0);
}

struct plan {
	int report_fd;
	int print_pids;
	int hold;
	long per_mid;
	long delay_ms;
};

/* Forks one intermediate that forks k orphans; returns the intermediate's pid. */
static pid_t
spawn_mid(const struct plan *plan, long k)
{
	pid_t mid, orphan;
	long i;

	mid = fork();
	if (mid != 0)
		return mid;
	for (i = 0; i < k; i++) {
		orphan = fork();
		if (orphan == 0)
			orphan_main(plan->delay_ms, plan->hold);
		if (orphan == -1)
			_exit(1);
		if (plan->print_pids)
			dprintf(plan->report_fd, "orphan %d\n", (int)orphan);
	}
	_exit(0);
}

static int
make_orphans(const struct plan *plan, long n)
{
	pid_t batch[BATCH];
	long made = 0, k;
	int i, count, status, failed = 0;

	while (made < n) {
		for (count = 0; count < BATCH && made < n; count++) {
			k = n - made < plan->per_mid ? n - made : plan->per_mid;
			batch[count] = spawn_mid(plan, k);
			made += k;
			if (batch[count] == -1) {
				perror("orphans: fork");
				failed = 1;
				break;
			}
		}
		for (i = 0; i < count; i++) {
			while (waitpid(batch[i], &status, 0) == -1 && errno == EINTR)
				continue;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed = 1;
		}
		if (failed)
			return -1;
	}
	return 0;
}

/* Splits the work between nworkers forked workers and waits for them all. */
static int
run_workers(const struct plan *plan, long n, int nworkers)
{
	pid_t workers[64];
	long share;
	int i, status, failed = 0;

	if (nworkers <= 1)
		return make_orphans(plan, n);
	for (i = 0; i < nworkers; i++) {
		share = n / nworkers + (i < n % nworkers ? 1 : 0);
		workers[i] = fork();
		if (workers[i] == 0)
			_exit(make_orphans(plan, share) == 0 ? 0 : 1);
		if (workers[i] == -1) {
			perror("orphans: fork");
			nworkers = i;
			failed = 1;
			break;
		}
	}
	for (i = 0; i < nworkers; i++) {
		while (waitpid(workers[i], &status, 0) == -1 && errno == EINTR)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	return failed ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	sigset_t quitset, old;
	struct plan plan = { .per_mid = 1 };
	long n = 1;
	int opt, nworkers = 1, wait_quit = 0, code = 0;

	while ((opt = getopt(argc, argv, "+n:k:j:d:Hpwx:")) != -1) {
		switch (opt) {
		case 'n':
			n = atol(optarg);
			break;
		case 'k':
			plan.per_mid = atol(optarg);
			break;
		case 'j':
			nworkers = atoi(optarg);
			break;
		case 'd':
			plan.delay_ms = atol(optarg);
			break;
		case 'H':
			plan.hold = 1;
			break;
		case 'p':
			plan.print_pids = 1;
			break;
		case 'w':
			wait_quit = 1;
			break;
		case 'x':
			code = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || n < 0 || plan.per_mid < 1 || nworkers < 1 || nworkers > 64)
		goto usage;
	plan.report_fd = open(argv[optind], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (plan.report_fd == -1) {
		fprintf(stderr, "orphans: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}

	/* Quit signals are blocked until sigsuspend, so none is lost while the orphans are made. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_quit;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&quitset);
	sigaddset(&quitset, SIGTERM);
	sigaddset(&quitset, SIGINT);
	sigaddset(&quitset, SIGUSR1);
	sigprocmask(SIG_BLOCK, &quitset, &old);
	alarm(LIFETIME_S);

	dprintf(plan.report_fd, "start pid=%d pgid=%d\n", (int)getpid(), (int)getpgid(0));
	if (run_workers(&plan, n, nworkers) == -1)
		return 1;
	dprintf(plan.report_fd, "done %ld\n", n);
	if (wait_quit) {
		sigdelset(&old, SIGTERM);
		sigdelset(&old, SIGINT);
		sigdelset(&old, SIGUSR1);
		while (!quit)
			sigsuspend(&old);
	}
	return code;

usage:
	fprintf(stderr,
		"usage: helper_orphans [-n N] [-k K] [-j J] [-d MS | -H] [-p] [-w] [-x CODE] "
		"REPORT\n");
	return 2;
}
