/*
 * helper_leftover: a main process that exits and leaves a background process behind, for the
 * kill-on-exit tests.
 *
 * The background process writes "bg pid=P pgid=G sid=S" to FILE, then waits. By default it
 * catches SIGTERM: it appends "term" to FILE and exits 0. With -i it ignores SIGTERM (SIG_IGN)
 * and only SIGKILL ends it. The main process waits until the background process is ready, then
 * exits with CODE, so the background process is always there when the main one is gone.
 *
 * usage: helper_leftover [-i] [-s | -p] [-x CODE] FILE
 *   -i       the background process ignores SIGTERM
 *   -s       the background process calls setsid() (its own session and process group)
 *   -p       the background process calls setpgid(0, 0) (its own process group, same session)
 *   -x CODE  exit status of the main process (default 0)
 * Whatever happens the background process exits (SIGALRM) after LIFETIME_S seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIFETIME_S 60

static int out_fd = -1;

static void
on_term(int signo)
{
	static const char line[] = "term\n";

	(void)signo;
	if (write(out_fd, line, sizeof(line) - 1) < 0)
		_exit(4);
	_exit(0);
}

static void
background(int ignore, int own_session, int own_group, int ready_fd)
{
	struct sigaction sa;
	sigset_t none;

	if (own_session && setsid() == -1)
		_exit(1);
	if (own_group && setpgid(0, 0) == -1)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore ? SIG_IGN : on_term;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	alarm(LIFETIME_S);
	dprintf(out_fd, "bg pid=%d pgid=%d sid=%d\n", (int)getpid(), (int)getpgid(0),
		(int)getsid(0));
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

int
main(int argc, char *argv[])
{
	int opt, ignore = 0, own_session = 0, own_group = 0, code = 0;
	int sync[2];
	char c;

	while ((opt = getopt(argc, argv, "+ispx:")) != -1) {
		switch (opt) {
		case 'i':
			ignore = 1;
			break;
		case 's':
			own_session = 1;
			break;
		case 'p':
			own_group = 1;
			break;
		case 'x':
			code = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || (own_session && own_group))
		goto usage;
	out_fd = open(argv[optind], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out_fd == -1) {
		fprintf(stderr, "leftover: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (pipe2(sync, O_CLOEXEC) == -1) {
		perror("leftover: pipe2");
		return 1;
	}
	switch (fork()) {
	case -1:
		perror("leftover: fork");
		return 1;
	case 0:
		close(sync[0]);
		background(ignore, own_session, own_group, sync[1]);
		break;
	default:
		break;
	}
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1) {
		fprintf(stderr, "leftover: background process did not start\n");
		return 1;
	}
	return code;

usage:
	fprintf(stderr, "usage: helper_leftover [-i] [-s | -p] [-x CODE] FILE\n");
	return 2;
}
