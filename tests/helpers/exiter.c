/*
 * helper_exiter: ends with a chosen exit status or a chosen signal, for the exit status tests.
 *
 * usage: helper_exiter CODE       exit with CODE (0..255)
 *        helper_exiter -s SIGNO   die by signal SIGNO (disposition reset, signal unblocked)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	sigset_t set;
	int signo;

	if (argc == 2)
		return atoi(argv[1]);
	if (argc != 3 || strcmp(argv[1], "-s") != 0) {
		fprintf(stderr, "usage: helper_exiter CODE | helper_exiter -s SIGNO\n");
		return 2;
	}
	signo = atoi(argv[2]);
	signal(signo, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, signo);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), signo);
	fprintf(stderr, "exiter: still alive after signal %d\n", signo);
	return 99;
}
