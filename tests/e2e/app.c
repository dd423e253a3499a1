/*
 * e2e-app: the naive app of the end-to-end drain test (tests/e2e/). An HTTP server that exits
 * the moment it gets SIGTERM, dropping whatever it was doing: it does not stop accepting, does
 * not finish its requests, does not wait for the load balancer. That is the point: this is the
 * app that graceinit must protect without being changed.
 *
 * Its SIGTERM handler only notes the time (CLOCK_MONOTONIC, the clock of the test's timeline)
 * and calls _exit(143). It has a handler rather than the default action so that it behaves the
 * same as a child of an init and as PID 1 of its own container (sidecar scenario), where the
 * kernel would drop a SIGTERM with the default action (pid_namespaces(7)).
 *
 *     e2e-app PORT [SIGNAL_FILE [WORK_MS]]
 *
 * GET anything: 200 "ok\n" after WORK_MS milliseconds of "work" (default 5), one thread per
 * connection, Connection: close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int sigfile_fd = -1;
static long work_ms = 5;

/* Async-signal-safe: clock_gettime, write, _exit only. */
static void
on_stop(int signo)
{
	struct timespec ts;
	char buf[64], digits[24];
	unsigned long long ns;
	size_t n = 0, d = 0;
	const char *name = signo == SIGTERM ? "SIGTERM " : "SIGINT ";

	if (sigfile_fd >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns = (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
		while (name[n] != '\0') {
			buf[n] = name[n];
			n++;
		}
		do {
			digits[d++] = (char)('0' + ns % 10);
			ns /= 10;
		} while (ns != 0);
		while (d > 0)
			buf[n++] = digits[--d];
		buf[n++] = '\n';
		(void)!write(sigfile_fd, buf, n);
	}
	_exit(128 + signo);
}

static void *
serve(void *arg)
{
	int fd = (int)(long)arg;
	char req[4096];
	size_t len = 0;
	ssize_t r;
	struct timeval tv = { .tv_sec = 2 };
	struct timespec work = { .tv_sec = work_ms / 1000, .tv_nsec = (work_ms % 1000) * 1000000L };
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < sizeof(req) - 1) {
		r = read(fd, req + len, sizeof(req) - 1 - len);
		if (r <= 0)
			goto done;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (work_ms > 0)
		nanosleep(&work, NULL);
	(void)!write(fd, resp, sizeof(resp) - 1);
done:
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct sigaction sa;
	pthread_attr_t attr;
	pthread_t tid;
	int lfd, fd, one = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: e2e-app PORT [SIGNAL_FILE [WORK_MS]]\n");
		return 2;
	}
	if (argc > 2) {
		sigfile_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (sigfile_fd < 0) {
			perror(argv[2]);
			return 1;
		}
	}
	if (argc > 3)
		work_ms = atol(argv[3]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 512) < 0) {
		perror("bind/listen");
		return 1;
	}
	fprintf(stderr, "e2e-app: pid %d listening on :%s\n", (int)getpid(), argv[1]);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("accept");
			return 1;
		}
		if (pthread_create(&tid, &attr, serve, (void *)(long)fd) != 0)
			close(fd);
	}
}
