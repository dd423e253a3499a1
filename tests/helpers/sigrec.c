/*
 * helper_sigrec: a signal recorder for the integration tests.
 *
 * It catches every catchable signal (1..31 but KILL and STOP, and SIGRTMIN..SIGRTMAX) and appends
 * one line "<signo>\n" per signal received to FILE, with one write(2) on an O_APPEND fd from the
 * handler. Handlers run with every signal blocked, so lines never interleave and a signal that was
 * pending when one is handled is recorded right after it. The first line of FILE is
 * "ready pid=P ppid=Q pgid=G sid=S", written once every handler is installed (and, with -g, once
 * the grandchild is ready as well): the test sends nothing before it sees that line, and waits for
 * each signal to be recorded before sending the next one (standard signals coalesce).
 *
 * usage: helper_sigrec [-g GCFILE] [-q SIGNO] FILE
 *   -g GCFILE  also fork a grandchild, in the same process group, that records to GCFILE the same
 *              way; it dies with its parent (PR_SET_PDEATHSIG), so it never outlives a test
 *   -q SIGNO   exit 0 once signal SIGNO has been recorded (the grandchild never quits by itself)
 * Whatever happens it exits (status 3) after LIFETIME_S seconds, so nothing leaks from a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_S 60

static int out_fd = -1;
static int quit_signo;

static void
on_signal(int signo)
{
	char buf[16];
	char *p = buf + sizeof(buf);
	int saved_errno = errno;
	int n = signo;

	*--p = '\n';
	do {
		*--p = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0 && p > buf);
	if (write(out_fd, p, (size_t)(buf + sizeof(buf) - p)) < 0)
		_exit(4);
	if (quit_signo != 0 && signo == quit_signo)
		_exit(0);
	errno = saved_errno;
}

static void
catch_all(void)
{
	struct sigaction sa;
	int signo;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (signo = 1; signo <= SIGRTMAX; signo++) {
		if (signo == SIGKILL || signo == SIGSTOP || (signo > 31 && signo < SIGRTMIN))
			continue;
		if (sigaction(signo, &sa, NULL) == -1) {
			fprintf(stderr, "sigrec: sigaction %d: %s\n", signo, strerror(errno));
			exit(1);
		}
	}
}

static int
open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd == -1) {
		fprintf(stderr, "sigrec: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void
write_ready(int fd)
{
	dprintf(fd, "ready pid=%d ppid=%d pgid=%d sid=%d\n", (int)getpid(), (int)getppid(),
		(int)getpgid(0), (int)getsid(0));
}

/* Sleeps until the end of its life; handlers interrupt the sleep, which then goes on. */
static void
live(void)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += LIFETIME_S;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR)
		continue;
	_exit(3);
}

static void
fork_grandchild(const char *gcfile)
{
	sigset_t all, old;
	pid_t parent = getpid();
	int gc_fd = open_out(gcfile);
	int sync[2];
	char c;

	if (pipe2(sync, O_CLOEXEC) == -1) {
		perror("sigrec: pipe2");
		exit(1);
	}
	/* Blocked across fork so that no signal is recorded in the wrong file. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	switch (fork()) {
	case -1:
		perror("sigrec: fork");
		exit(1);
	case 0:
		out_fd = gc_fd;
		quit_signo = 0;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(1);
		write_ready(out_fd);
		if (write(sync[1], "r", 1) != 1)
			_exit(1);
		sigprocmask(SIG_SETMASK, &old, NULL);
		live();
		break;
	default:
		break;
	}
	close(gc_fd);
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1) {
		fprintf(stderr, "sigrec: grandchild did not start\n");
		exit(1);
	}
	close(sync[0]);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int
main(int argc, char *argv[])
{
	const char *gcfile = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "+g:q:")) != -1) {
		switch (opt) {
		case 'g':
			gcfile = optarg;
			break;
		case 'q':
			quit_signo = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: helper_sigrec [-g GCFILE] [-q SIGNO] FILE\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: helper_sigrec [-g GCFILE] [-q SIGNO] FILE\n");
		return 2;
	}
	out_fd = open_out(argv[optind]);
	catch_all();
	if (gcfile != NULL)
		fork_grandchild(gcfile);
	write_ready(out_fd);
	live();
	return 3;
}
