/*
 * bench_run: one measured run of an init as PID 1 of a new PID namespace.
 *
 * It does what `unshare --pid --fork --mount-proc` does, itself: unshare(CLONE_NEWPID), fork;
 * the child (PID 1 of the new namespace) unshares a mount namespace (and with -n a network
 * namespace, with lo up), mounts a fresh /proc, then stamps CLOCK_MONOTONIC and execs the
 * init at once, so that the namespace set-up is outside what start-up measures. The stamp goes
 * through shared memory: no system call between it and execve(2). The init's command is
 * bench_child, which reports through FIFO (bench.h). bench_run is the init's parent outside
 * the namespace, so it knows its outside pid from fork() and waits for it with a pidfd.
 *
 * Results go to stdout as "key=value" lines; on any
 * failure an "error=..." line, the init is killed and the exit status is 1.
 *
 * usage: bench_run [-n] [-c CGROUP] [-s SETTLE_MS] -f FIFO MODE [MODE ARGS] -- INIT_ARGV...
 *   -n         the init gets a network namespace of its own, with lo up
 *   -c CGROUP  the init joins this pids cgroup (v1 or v2 directory) before its exec; the
 *              reaping benchmark then counts unreaped processes with pids.current
 *   -s MS      settle time between the child's REC_READY and the first signal (default 5)
 *   startup                    start-up; then SIGTERM latency and SIGTERM -> init exited
 *   reap stream|burst N REPORT 10,000-orphan reaping; REPORT is the orphan maker's report file
 *   idle                       prints the pids once the child is ready, then waits until the
 *                              init exits (idle measurements, and bench_signal's SIGUSR1s)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define TIMEOUT_MS      10000
#define POLL_NS         200000   /* polling step of pids.current while reaping */
#define POLL_PROC_NS    20000000 /* without a cgroup: reading 10,000 children costs ~7 ms */
#define REAP_TIMEOUT_NS (180LL * 1000000000)

static pid_t init_pid = -1;
static int pidfd = -1;
static int fifo_fd = -1;
static const char *fifo_path;
static const char *cgroup_dir;
static volatile int64_t *exec_stamp;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	printf("error=");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (init_pid > 0)
		kill(init_pid, SIGKILL); /* PID 1 gone: the kernel kills its whole namespace */
	if (fifo_path != NULL)
		unlink(fifo_path);
	exit(1);
}

static void
sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		continue;
}

static void
lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		_exit(120);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		_exit(120);
	close(s);
}

/* In the child, before the exec: the whole namespace is counted in the cgroup's pids.current,
 * zombies included until they are reaped (the pids controller uncharges in release_task). */
static int
join_cgroup(void)
{
	char path[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup_dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	ok = write(fd, "0\n", 2) == 2;
	close(fd);
	return ok ? 0 : -1;
}

static void
launch(char *argv[], int net)
{
	pid_t pid;

	exec_stamp = mmap(NULL, sizeof(*exec_stamp), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (exec_stamp == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	*exec_stamp = 0;
	if (unshare(CLONE_NEWPID) < 0)
		fail("unshare(CLONE_NEWPID): %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (cgroup_dir != NULL && join_cgroup() < 0)
			_exit(122);
		if (unshare(CLONE_NEWNS | (net ? CLONE_NEWNET : 0)) < 0)
			_exit(120);
		if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			_exit(121);
		if (net)
			lo_up();
		*exec_stamp = bench_now_ns();
		execv(argv[0], argv);
		_exit(127);
	}
	init_pid = pid;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		fail("pidfd_open: %s", strerror(errno));
}

/* The init's exit status as a shell reports it, or -1 when it is still running after
 * timeout_ms; *t_ns is when it was seen gone. */
static int
wait_init(int timeout_ms, int64_t *t_ns)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int status, n;

	n = poll(&p, 1, timeout_ms);
	if (t_ns != NULL)
		*t_ns = bench_now_ns();
	if (n <= 0)
		return -1;
	if (waitpid(init_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	init_pid = -1;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* The next record from the child, or 0 after timeout_ms (or when the init exited). */
static int
read_rec(struct bench_rec *r, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fifo_fd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN } };
	ssize_t n;

	for (;;) {
		n = poll(p, 2, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (!(p[0].revents & POLLIN))
			return 0; /* the init exited and the child wrote nothing more */
		n = read(fifo_fd, r, sizeof(*r));
		if (n == (ssize_t)sizeof(*r))
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		fail("short read from the FIFO (%zd)", n);
	}
}

static struct bench_rec
expect(int kind, const char *what)
{
	struct bench_rec r;

	do {
		if (!read_rec(&r, TIMEOUT_MS)) {
			int st = wait_init(0, NULL);

			if (st >= 0)
				fail("the init exited with status %d before %s", st, what);
			fail("timed out waiting for %s", what);
		}
	} while (r.kind == REC_ORPHANS && kind != REC_ORPHANS); /* only reap mode wants it */
	if (r.kind != kind)
		fail("record %d instead of %s", r.kind, what);
	return r;
}

static int
read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

static char
state_of(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0 || (p = strrchr(buf, ')')) == NULL)
		return '?';
	return p[2];
}

/* Waits settle_ms, then until the init sleeps (it is done with its own start-up). */
static void
settle(int settle_ms)
{
	int64_t deadline = bench_now_ns() + 1000000000;

	sleep_ns((int64_t)settle_ms * 1000000);
	while (state_of(init_pid) != 'S') {
		if (bench_now_ns() > deadline)
			fail("the init does not go to sleep (state %c)", state_of(init_pid));
		sleep_ns(100000);
	}
}

static int64_t
cpu_ns(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* Voluntary + involuntary context switches of pid: how often it slept and woke. */
static long
ctxt_switches(pid_t pid)
{
	char path[64], buf[4096], *p;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; (p = strstr(p, "ctxt_switches:")) != NULL; p++)
		n += strtol(p + strlen("ctxt_switches:"), NULL, 10);
	return n;
}

static char *children_buf;
#define CHILDREN_BUF (4 << 20)

/* How many children pid has other than except (zombies and exiting ones included). */
static long
count_children(pid_t pid, pid_t except, pid_t *first)
{
	char path[96], *p, *end;
	long count = 0, c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (read_file(path, children_buf, CHILDREN_BUF) < 0)
		fail("%s: %s", path, strerror(errno));
	for (p = children_buf;; p = end) {
		c = strtol(p, &end, 10);
		if (end == p)
			break;
		if (c != except) {
			if (first != NULL && count == 0)
				*first = (pid_t)c;
			count++;
		}
	}
	return count;
}

/* The outside pid of the child of pid that is ns_pid in the namespace. */
static pid_t
child_by_ns_pid(pid_t pid, long ns_pid)
{
	char path[96], buf[4096], *p, *end, *line;
	long c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (read_file(path, children_buf, CHILDREN_BUF) < 0)
		fail("%s: %s", path, strerror(errno));
	for (p = children_buf;; p = end) {
		c = strtol(p, &end, 10);
		if (end == p)
			break;
		snprintf(path, sizeof(path), "/proc/%ld/status", c);
		if (read_file(path, buf, sizeof(buf)) < 0 || (line = strstr(buf, "NSpid:")) == NULL)
			continue;
		line = strchr(line, '\n');
		if (line == NULL)
			continue;
		while (line[-1] == ' ' || line[-1] == '\t')
			line--;
		while (line[-1] >= '0' && line[-1] <= '9')
			line--;
		if (strtol(line, NULL, 10) == ns_pid)
			return (pid_t)c;
	}
	fail("no child of %d is pid %ld in the namespace", (int)pid, ns_pid);
}

static int
report_done(const char *report)
{
	char buf[256];
	int fd = open(report, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	off_t size;

	if (fd < 0)
		return 0;
	/* "done N" is the last line; without -p the file is two lines. */
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "done ") != NULL;
}

/* SIGTERM to the init: the child exits 0 in its handler, the init must exit 0. */
static void
finish(void)
{
	struct bench_rec r;
	int st;

	kill(init_pid, SIGTERM);
	for (;;) {
		if (!read_rec(&r, TIMEOUT_MS))
			break;
		if (r.kind == REC_TERM)
			break;
	}
	st = wait_init(TIMEOUT_MS, NULL);
	if (st < 0)
		fail("the init did not exit after SIGTERM");
	printf("status=%d\n", st);
}

static void
mode_startup(int settle_ms)
{
	struct bench_rec start, term;
	int64_t t_kill, t_exit;
	int st;

	start = expect(REC_START, "the child's start");
	expect(REC_READY, "the child's handlers");
	printf("startup_ns=%lld\n", (long long)(start.t_ns - *exec_stamp));
	settle(settle_ms);
	t_kill = bench_now_ns();
	kill(init_pid, SIGTERM);
	term = expect(REC_TERM, "SIGTERM to reach the child");
	st = wait_init(TIMEOUT_MS, &t_exit);
	if (st < 0)
		fail("the init did not exit after its child");
	printf("term_ns=%lld\nexit_ns=%lld\nstatus=%d\n", (long long)(term.t_ns - t_kill),
		(long long)(t_exit - t_kill), st);
}

/*
 * Processes of the namespace other than the init and its child, zombies included: from the
 * cgroup's pids.current (one cheap read), else from the init's children list (the orphans and
 * zombies are the init's children; but that file costs ~7 ms to read with 10,000 children).
 */
static long
pending(pid_t main_pid)
{
	char path[4096], buf[64];

	if (cgroup_dir == NULL)
		return count_children(init_pid, main_pid, NULL);
	snprintf(path, sizeof(path), "%s/pids.current", cgroup_dir);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		fail("%s: %s", path, strerror(errno));
	return strtol(buf, NULL, 10) - 2;
}

static void
mode_reap(int settle_ms, const char *scenario, long n, const char *report)
{
	struct bench_rec orph;
	int64_t t_done = 0, t_end, t0, cpu0, deadline, step = cgroup_dir ? POLL_NS : POLL_PROC_NS;
	long count, peak = 0, cs0;
	pid_t main_pid, maker = -1;
	int burst = strcmp(scenario, "burst") == 0;

	if ((children_buf = malloc(CHILDREN_BUF)) == NULL)
		fail("malloc");
	expect(REC_START, "the child's start");
	orph = expect(REC_ORPHANS, "the orphan maker's start");
	expect(REC_READY, "the child's handlers");
	main_pid = child_by_ns_pid(init_pid, 2);
	cpu0 = cpu_ns(init_pid);
	cs0 = ctxt_switches(init_pid);
	deadline = bench_now_ns() + REAP_TIMEOUT_NS;
	printf("reap_method=%s\nreap_poll_ns=%lld\n", cgroup_dir ? "cgroup" : "proc",
		(long long)step);
	if (!burst) {
		/* Orphans exit at once: when is none left unreaped, after the last was forked? */
		for (;;) {
			if (t_done == 0 && report_done(report))
				t_done = bench_now_ns();
			count = pending(main_pid);
			if (count > peak)
				peak = count;
			if (t_done != 0 && count == 0)
				break;
			if (bench_now_ns() > deadline)
				fail("%ld processes still there (done: %d)", count, t_done != 0);
			sleep_ns(step);
		}
		t_end = bench_now_ns();
		printf("reap_total_ns=%lld\nreap_fork_ns=%lld\nreap_tail_ns=%lld\n"
		       "reap_peak=%ld\nreap_cpu_ns=%lld\nreap_wakeups=%ld\n",
			(long long)(t_end - orph.t_ns), (long long)(t_done - orph.t_ns),
			(long long)(t_end - t_done), peak, (long long)(cpu_ns(init_pid) - cpu0),
			ctxt_switches(init_pid) - cs0);
		finish();
		return;
	}
	/* Burst: n live orphans of the init, all killed by one kill(-pgid, SIGKILL). */
	while (!report_done(report)) {
		if (bench_now_ns() > deadline)
			fail("the orphan maker did not finish");
		sleep_ns(5000000);
	}
	while ((count = count_children(init_pid, main_pid, NULL)) != n) {
		if (bench_now_ns() > deadline)
			fail("%ld orphans re-parented to the init, not %ld", count, n);
		sleep_ns(20000000);
	}
	count_children(main_pid, -1, &maker);
	if (maker <= 0)
		fail("the orphan maker is gone");
	settle(settle_ms);
	cpu0 = cpu_ns(init_pid);
	cs0 = ctxt_switches(init_pid);
	t0 = bench_now_ns();
	if (kill(-maker, SIGKILL) < 0)
		fail("kill(-%d): %s", (int)maker, strerror(errno));
	while ((count = pending(main_pid)) > 0) {
		if (bench_now_ns() > deadline)
			fail("%ld processes still there", count);
		sleep_ns(step);
	}
	t_end = bench_now_ns();
	printf("reap_burst_ns=%lld\nreap_cpu_ns=%lld\nreap_wakeups=%ld\n", (long long)(t_end - t0),
		(long long)(cpu_ns(init_pid) - cpu0), ctxt_switches(init_pid) - cs0);
	finish();
}

static void
mode_idle(int settle_ms)
{
	expect(REC_START, "the child's start");
	expect(REC_READY, "the child's handlers");
	settle(settle_ms);
	if ((children_buf = malloc(CHILDREN_BUF)) == NULL)
		fail("malloc");
	printf("init=%d\nmain=%d\n", (int)init_pid, (int)child_by_ns_pid(init_pid, 2));
	fflush(stdout);
	printf("status=%d\n", wait_init(-1, NULL));
}

int
main(int argc, char *argv[])
{
	int opt, net = 0, settle_ms = 5, i, sep = -1;
	const char *mode;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	if (sep < 0 || sep + 1 >= argc)
		goto usage;
	argv[sep] = NULL;
	while ((opt = getopt(sep, argv, "+nc:f:s:")) != -1) {
		switch (opt) {
		case 'c':
			cgroup_dir = optarg;
			break;
		case 'n':
			net = 1;
			break;
		case 'f':
			fifo_path = optarg;
			break;
		case 's':
			settle_ms = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (fifo_path == NULL || optind >= sep)
		goto usage;
	mode = argv[optind];
	if (!((strcmp(mode, "startup") == 0 && sep - optind == 1) ||
		    (strcmp(mode, "reap") == 0 && sep - optind == 4) ||
		    (strcmp(mode, "idle") == 0 && sep - optind == 1)))
		goto usage;
	unlink(fifo_path);
	if (mkfifo(fifo_path, 0600) < 0)
		fail("mkfifo %s: %s", fifo_path, strerror(errno));
	/* O_RDWR: neither this open nor the child's blocks, and the FIFO never sees EOF. */
	if ((fifo_fd = open(fifo_path, O_RDWR | O_CLOEXEC)) < 0)
		fail("open %s: %s", fifo_path, strerror(errno));

	launch(argv + sep + 1, net);
	if (strcmp(mode, "startup") == 0)
		mode_startup(settle_ms);
	else if (strcmp(mode, "reap") == 0)
		mode_reap(settle_ms, argv[optind + 1], atol(argv[optind + 2]), argv[optind + 3]);
	else
		mode_idle(settle_ms);
	unlink(fifo_path);
	return 0;

usage:
	fprintf(stderr,
		"usage: bench_run [-n] [-c CGROUP] [-s SETTLE_MS] -f FIFO MODE [ARGS] -- "
		"INIT_ARGV...\n"
		"  startup | reap stream|burst N REPORT | idle\n");
	return 2;
}
