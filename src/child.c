/*
 * child.c: spawns the command, sends it signals, reaps every process that becomes graceinit's
 * child (the command and the orphans re-parented to PID 1 or to a subreaper), and, when the
 * command exits, ends whatever it left behind (--kill-on-exit): TERM, --exit-grace, KILL.
 * Between fork and exec only async-signal-safe calls are made. Must not decide which signal to
 * send: that is the caller's (rewriting, the drain).
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Processes that ignore SIGKILL do not exist, but ones stuck in the kernel do: stop waiting. */
#define CHILD_KILL_WAIT_MS 1000

/* The PATH a shell would use when the environment has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void on_timer(struct loop *loop, void *arg);

void
child_init(struct child *c, struct loop *loop, bool setsid, bool kill_on_exit,
	int64_t exit_grace_ms, child_cb *exited, child_cb *done, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->setsid = setsid;
	c->pid1 = getpid() == 1;
	c->kill_on_exit = kill_on_exit;
	c->exit_grace_ms = exit_grace_ms;
	c->exited = exited;
	c->done = done;
	c->arg = arg;
	c->phase = CHILD_RUNNING;
	c->kill_deadline_ms = -1;
	loop_timer_init(&c->timer, on_timer, c);
}

int
child_subreaper(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		log_warn("prctl(PR_SET_CHILD_SUBREAPER)");
		return -1;
	}
	return 0;
}

int
child_exit_code(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return WEXITSTATUS(wstatus);
}

/*
 * Resolves cmd as execvp would, but in the parent, so that the child only calls execve and a
 * missing command is reported with its name. Returns 0 (path filled), or an errno: ENOENT
 * when nothing matches, EACCES when only non-executable files do.
 */
static int
resolve(const char *cmd, char *const envp[], char *path, size_t len)
{
	const char *dirs, *p, *end;
	struct stat st;
	int found = ENOENT;

	if (strchr(cmd, '/') != NULL) {
		size_t n = strlen(cmd);

		if (n >= len)
			return ENAMETOOLONG;
		memcpy(path, cmd, n + 1);
		return 0;
	}
	if (*cmd == '\0')
		return ENOENT;
	dirs = conf_getenv(envp, "PATH");
	if (dirs == NULL)
		dirs = DEFAULT_PATH;
	for (p = dirs;; p = end + 1) {
		size_t n;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		/* An empty PATH entry means the current directory. */
		if (snprintf(path, len, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd) < (int)len &&
			stat(path, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(path, X_OK) == 0)
				return 0;
			found = EACCES;
		}
		if (*end == '\0')
			break;
	}
	return found;
}

/*
 * Socket activation (sd_listen_fds(3)): fds 3 to 3+LISTEN_FDS-1 stay open for the child, and
 * LISTEN_PID, which names the process they are meant for, must name the child; its pid is
 * known only after fork, so the parent prepares a copy of the environment with a slot that
 * the child fills in.
 */
struct activation {
	unsigned int nfds;
	char **envp; /* envp with LISTEN_PID pointing at pid_slot, or NULL */
	char pid_slot[32];
};

static int
activation_prepare(struct activation *a, char *const envp[])
{
	const char *v = conf_getenv(envp, "LISTEN_FDS");
	size_t n, i;
	char *end;
	long fds;

	memset(a, 0, sizeof(*a));
	if (v == NULL)
		return 0;
	fds = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || fds < 0 || fds > 4096) {
		log_warnx("ignoring LISTEN_FDS=%s: not a number of file descriptors", v);
		return 0;
	}
	a->nfds = (unsigned int)fds;
	if (conf_getenv(envp, "LISTEN_PID") == NULL)
		return 0;
	for (n = 0; envp[n] != NULL; n++)
		;
	if ((a->envp = calloc(n + 1, sizeof(*a->envp))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	for (i = 0; i < n; i++)
		a->envp[i] = strncmp(envp[i], "LISTEN_PID=", 11) == 0 ? a->pid_slot : envp[i];
	memcpy(a->pid_slot, "LISTEN_PID=", 11);
	return 0;
}

/* In the child: writes its own pid into the slot, without stdio (async-signal-safe). */
static void
activation_fill(struct activation *a)
{
	char digits[16], *p = a->pid_slot + 11;
	unsigned long pid = (unsigned long)getpid();
	int n = 0;

	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	while (n > 0)
		*p++ = digits[--n];
	*p = '\0';
}

/* In the child: every inherited fd from 3 (plus what LISTEN_FDS keeps) closes at exec. */
static void
cloexec_from(unsigned int first)
{
	struct rlimit rl;
	unsigned int fd, max = 65536;

	if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
		max = (unsigned int)rl.rlim_cur;
	for (fd = first; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

static void __attribute__((noreturn))
exec_child(const struct child *c, const char *path, char *const argv[], char *const envp[],
	const struct sigorig *orig, struct activation *a, int errfd)
{
	int err;

	if (c->setsid) {
		setsid();
		/* Take the terminal graceinit let go of, as dumb-init does; fine if there is none. */
		if (isatty(STDIN_FILENO))
			ioctl(STDIN_FILENO, TIOCSCTTY, 0);
	}
	cloexec_from(3 + a->nfds);
	if (a->envp != NULL) {
		activation_fill(a);
		envp = a->envp;
	}
	signals_restore(orig);
	execve(path, argv, envp);
	err = errno;
	(void)!write(errfd, &err, sizeof(err));
	_exit(err == ENOENT ? 127 : 126);
}

/*
 * The child can only make the terminal its own (TIOCSCTTY) once graceinit lets go of it.
 * A session leader that lets go sends SIGHUP and SIGCONT to the terminal's foreground group;
 * when that is graceinit's own group, the SIGHUP is remembered and not forwarded.
 */
static void
release_terminal(struct child *c)
{
	if (!c->setsid || !isatty(STDIN_FILENO) || getsid(0) != getpid() ||
		tcgetsid(STDIN_FILENO) != getpid())
		return;
	c->hup_expected = tcgetpgrp(STDIN_FILENO) == getpgrp();
	if (ioctl(STDIN_FILENO, TIOCNOTTY) < 0) {
		log_warn("releasing the terminal (TIOCNOTTY)");
		c->hup_expected = false;
	}
}

int
child_spawn(struct child *c, char *const argv[], char *const envp[], const struct sigorig *orig,
	int *exit_code)
{
	struct activation act;
	char path[PATH_MAX];
	int pipefd[2], err;
	ssize_t n;
	pid_t pid;

	err = resolve(argv[0], envp, path, sizeof(path));
	if (err != 0) {
		*exit_code = err == ENOENT ? 127 : 126;
		log_warnx("cannot run '%s': %s", argv[0],
			err == ENOENT ? "command not found" : strerror(err));
		return -1;
	}
	*exit_code = 126;
	if (activation_prepare(&act, envp) < 0)
		return -1;
	release_terminal(c);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_warn("pipe2");
		free(act.envp);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		close(pipefd[0]);
		close(pipefd[1]);
		free(act.envp);
		return -1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		/* The error pipe may sit among the kept fds: it is close-on-exec already. */
		exec_child(c, path, argv, envp, orig, &act, pipefd[1]);
	}
	free(act.envp);
	close(pipefd[1]);
	/* EOF means execve succeeded; the child never blocks between fork and exec. */
	n = read(pipefd[0], &err, sizeof(err));
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		*exit_code = err == ENOENT ? 127 : 126;
		errno = err;
		log_warn("cannot execute '%s'", path);
		return -1;
	}
	c->pid = pid;
	log_info("started '%s' as pid %d%s", path, (int)pid,
		c->setsid ? " in its own session and process group" : "");
	return 0;
}

int
child_signal(struct child *c, int signo)
{
	pid_t target = c->setsid ? -c->pid : c->pid;
	char name[32];

	if (c->pid <= 0)
		return -1;
	if (!c->setsid && c->phase != CHILD_RUNNING)
		return -1; /* the pid may already belong to someone else */
	if (kill(target, signo) < 0) {
		if (errno != ESRCH)
			log_warn("kill(%d, %s)", (int)target,
				signals_name(signo, name, sizeof(name)));
		return -1;
	}
	log_debug("forwarded %s to %s %d", signals_name(signo, name, sizeof(name)),
		c->setsid ? "process group" : "pid", (int)c->pid);
	return 0;
}

/* Sends sig to every process that may be left: all of them as PID 1, else what we can see. */
static void
signal_leftovers(struct child *c, int sig)
{
	char path[64], buf[4096], *p, *end;
	ssize_t n;
	int fd;

	if (c->pid1) {
		if (kill(-1, sig) < 0 && errno != ESRCH)
			log_warn("kill(-1)");
		return;
	}
	if (c->setsid)
		kill(-c->pid, sig);
	/* As a subreaper, the orphans re-parented to us are our children: signal each. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		for (p = buf;; p = end) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0)
				kill((pid_t)pid, sig);
		}
	}
	close(fd);
}

static void
finish(struct child *c)
{
	loop_timer_cancel(c->loop, &c->timer);
	c->phase = CHILD_DONE;
	c->done(c, c->arg);
}

static void
on_timer(struct loop *loop, void *arg)
{
	struct child *c = arg;

	if (c->phase == CHILD_LEFTOVERS) {
		log_info("processes left after %lld ms of --exit-grace; sending SIGKILL",
			(long long)c->exit_grace_ms);
		c->phase = CHILD_KILLING;
		signal_leftovers(c, SIGKILL);
		loop_timer_at(loop, &c->timer, loop_now_ms() + CHILD_KILL_WAIT_MS);
	} else if (c->phase == CHILD_KILLING) {
		log_warnx("processes survive SIGKILL (stuck in the kernel?); exiting anyway");
		finish(c);
	}
}

static void
main_exited(struct child *c, int wstatus)
{
	char name[32];

	c->wstatus = wstatus;
	c->exited_ms = loop_now_ms();
	if (WIFSIGNALED(wstatus))
		log_info("pid %d was killed by %s", (int)c->pid,
			signals_name(WTERMSIG(wstatus), name, sizeof(name)));
	else
		log_info("pid %d exited with status %d", (int)c->pid, WEXITSTATUS(wstatus));
}

void
child_reap(struct child *c)
{
	bool others = false;
	int64_t deadline;
	int wstatus;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid == 0) {
			others = true;
			break;
		}
		if (pid < 0) {
			if (errno != ECHILD)
				log_warn("waitpid");
			break;
		}
		c->reaped++;
		if (pid == c->pid && c->phase == CHILD_RUNNING) {
			c->phase = CHILD_LEFTOVERS;
			main_exited(c, wstatus);
			c->exited(c, c->arg);
		}
	}
	if (c->phase == CHILD_RUNNING || c->phase == CHILD_DONE)
		return;
	if (!others) {
		finish(c);
		return;
	}
	if (!c->kill_on_exit) {
		log_debug("--kill-on-exit is off: leaving the remaining processes");
		finish(c);
		return;
	}
	if (c->phase == CHILD_LEFTOVERS && !loop_timer_armed(&c->timer)) {
		log_info("sending SIGTERM to the processes left, up to %lld ms before SIGKILL",
			(long long)c->exit_grace_ms);
		signal_leftovers(c, SIGTERM);
		deadline = c->exited_ms + c->exit_grace_ms;
		if (c->kill_deadline_ms >= 0 && c->kill_deadline_ms < deadline)
			deadline = c->kill_deadline_ms;
		loop_timer_at(c->loop, &c->timer, deadline);
	} else if (c->phase == CHILD_KILLING) {
		/* New orphans of killed processes reach us late: kill them too. */
		signal_leftovers(c, SIGKILL);
	}
}
