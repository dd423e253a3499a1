/*
 * signals.c: everything about signal numbers and graceinit's own signal state. graceinit never
 * installs a handler: all signals it forwards are blocked from the first line of main and read
 * from a signalfd in the loop, so there is no async context anywhere. The synchronous fault
 * signals stay unblocked (blocking them would turn a crash into a hang). Must not send signals:
 * that is child.c's job.
 */
#include "signals.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>

#include "log.h"

static const struct {
	int signo;
	const char *name;
} signal_names[] = {
	{ SIGHUP, "HUP" },
	{ SIGINT, "INT" },
	{ SIGQUIT, "QUIT" },
	{ SIGILL, "ILL" },
	{ SIGTRAP, "TRAP" },
	{ SIGABRT, "ABRT" },
	{ SIGBUS, "BUS" },
	{ SIGFPE, "FPE" },
	{ SIGKILL, "KILL" },
	{ SIGUSR1, "USR1" },
	{ SIGSEGV, "SEGV" },
	{ SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" },
	{ SIGALRM, "ALRM" },
	{ SIGTERM, "TERM" },
#ifdef SIGSTKFLT
	{ SIGSTKFLT, "STKFLT" },
#endif
	{ SIGCHLD, "CHLD" },
	{ SIGCONT, "CONT" },
	{ SIGSTOP, "STOP" },
	{ SIGTSTP, "TSTP" },
	{ SIGTTIN, "TTIN" },
	{ SIGTTOU, "TTOU" },
	{ SIGURG, "URG" },
	{ SIGXCPU, "XCPU" },
	{ SIGXFSZ, "XFSZ" },
	{ SIGVTALRM, "VTALRM" },
	{ SIGPROF, "PROF" },
	{ SIGWINCH, "WINCH" },
	{ SIGIO, "IO" },
	{ SIGPWR, "PWR" },
	{ SIGSYS, "SYS" },
	/* Aliases last, so that signals_name finds the usual name first. */
	{ SIGIOT, "IOT" },
	{ SIGCHLD, "CLD" },
	{ SIGPOLL, "POLL" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Parses a whole non-negative decimal number below SIGNALS_MAX. */
static int
parse_number(const char *s, int *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= SIGNALS_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

int
signals_parse(const char *s, int *signo)
{
	size_t i;
	int n;

	if (parse_number(s, &n) == 0) {
		if (n < 1)
			return -1;
		*signo = n;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < NELEM(signal_names); i++) {
		if (strcasecmp(s, signal_names[i].name) == 0) {
			*signo = signal_names[i].signo;
			return 0;
		}
	}
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;
		int base = min ? SIGRTMIN : SIGRTMAX;

		s += 5;
		n = 0;
		if (*s != '\0') {
			if (*s != (min ? '+' : '-') || parse_number(s + 1, &n) < 0)
				return -1;
		}
		n = min ? base + n : base - n;
		if (n < SIGRTMIN || n > SIGRTMAX)
			return -1;
		*signo = n;
		return 0;
	}
	return -1;
}

const char *
signals_name(int signo, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < NELEM(signal_names); i++) {
		if (signal_names[i].signo == signo) {
			snprintf(buf, len, "SIG%s", signal_names[i].name);
			return buf;
		}
	}
	if (signo == SIGRTMAX)
		snprintf(buf, len, "SIGRTMAX");
	else if (signo == SIGRTMIN)
		snprintf(buf, len, "SIGRTMIN");
	else if (signo > SIGRTMIN && signo < SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", signo - SIGRTMIN);
	else
		snprintf(buf, len, "signal %d", signo);
	return buf;
}

/* Faults raised by the CPU for the thread that caused them: never blocked, never forwarded. */
static bool
is_fault(int signo)
{
	return signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL ||
		signo == SIGTRAP || signo == SIGSYS;
}

bool
signals_forwardable(int signo)
{
	if (signo < 1 || signo >= SIGNALS_MAX || is_fault(signo))
		return false;
	if (signo == SIGKILL || signo == SIGSTOP || signo == SIGCHLD)
		return false;
	/* The C library reserves the real-time signals below SIGRTMIN for itself. */
	return signo < 32 || (signo >= SIGRTMIN && signo <= SIGRTMAX);
}

void
signals_rewrite_init(struct sigrewrite *rw)
{
	int s;

	for (s = 0; s < SIGNALS_MAX; s++)
		rw->to[s] = s;
}

static void
blocked_set(sigset_t *set)
{
	int s;

	sigemptyset(set);
	for (s = 1; s < SIGNALS_MAX; s++)
		if (signals_forwardable(s) || s == SIGCHLD)
			sigaddset(set, s);
}

int
signals_block(struct sigorig *orig)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigset_t set;

	blocked_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, &orig->mask) < 0) {
		log_warn("sigprocmask");
		return -1;
	}
	/*
	 * A write to a closed socket must come back as EPIPE, not as a SIGPIPE that the signalfd
	 * would then forward to the child as if someone had sent it.
	 */
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGPIPE, &ign, &orig->pipe_action) < 0) {
		log_warn("sigaction SIGPIPE");
		return -1;
	}
	return 0;
}

int
signals_open_fd(void)
{
	sigset_t set;
	int fd;

	blocked_set(&set);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		log_warn("signalfd");
	return fd;
}

void
signals_restore(const struct sigorig *orig)
{
	sigaction(SIGPIPE, &orig->pipe_action, NULL);
	sigprocmask(SIG_SETMASK, &orig->mask, NULL);
}
