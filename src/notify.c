/*
 * notify.c: systemd's readiness protocol (sd_notify(3)) for apps that speak it. graceinit
 * binds an abstract datagram socket (no file: works with a read-only root filesystem) and
 * exports it as NOTIFY_SOCKET. Each datagram is newline-separated KEY=VALUE pairs: READY=1 makes
 * the notify check pass, STOPPING=1 fail, STATUS= is shown in /readyz?verbose and /status,
 * WATCHDOG=1 feeds the watchdog (WATCHDOG_USEC exported; /livez fails when pings stop).
 * Credentials are checked (SO_PASSCRED): only the child and its descendants count, since
 * every container of the pod shares the abstract socket namespace.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define NOTIFY_DATAGRAM_MAX 4096
#define NOTIFY_TREE_DEPTH   64

/* The parent of pid, from /proc/PID/stat (after the parenthesised command); -1 when gone. */
static pid_t
parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;
	long ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1; /* reaped while we read */
	buf[n] = '\0';
	/* NOLINTNEXTLINE(cert-err34-c): the kernel writes /proc/PID/stat, a pid fits a long */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/*
 * Whether pid may speak for the app: the child or one of its descendants. As PID 1 that
 * includes orphans re-parented to graceinit (daemonized helpers of the app) and senders that
 * are already gone (a short-lived helper reaped before graceinit reads its datagram), since
 * SCM_CREDENTIALS gives pid 0 for a process outside graceinit's PID namespace and everything
 * inside it descends from graceinit; but not a process entered from outside (kubectl exec,
 * nsenter), whose parent is outside the namespace (ppid 0). Not PID 1, only the child's tree.
 */
static bool
in_child_tree(const struct notify *n, pid_t pid)
{
	int depth;

	for (depth = 0; depth < NOTIFY_TREE_DEPTH; depth++) {
		pid_t parent;

		if (pid == n->child)
			return true;
		if (pid == getpid())
			return n->pid1; /* an orphan adopted by graceinit */
		if ((parent = parent_of(pid)) < 0)
			return n->pid1; /* gone already */
		if (parent == 0)
			return false; /* entered from outside the namespace */
		pid = parent;
	}
	return false;
}

static void
on_watchdog(struct loop *loop, void *arg)
{
	struct notify *n = arg;

	(void)loop;
	n->watchdog_fired = true;
	log_warnx(
		"watchdog: no WATCHDOG=1 for %lld ms: /livez now fails", (long long)n->watchdog_ms);
}

static void
ping(struct notify *n, int64_t now)
{
	n->last_ping_ms = now;
	if (n->watchdog_fired)
		log_info("watchdog: WATCHDOG=1 again: /livez passes");
	n->watchdog_fired = false;
	if (n->watchdog_ms > 0 && n->loop != NULL)
		loop_timer_at(n->loop, &n->watchdog, now + n->watchdog_ms);
}

/* The check's detail tells the state and the app's latest STATUS= text. */
static void
show(struct notify *n, int64_t now)
{
	const char *state = n->stopping ? "STOPPING=1"
		: n->is_ready           ? "READY=1"
					: "waiting for READY=1";

	ready_set(n->ready, n->check, n->is_ready && !n->stopping, now, "%s%s%s", state,
		n->status[0] ? ": " : "", n->status);
}

void
notify_message(struct notify *n, const char *msg, size_t len, int64_t now_ms)
{
	const char *line = msg, *end = msg + len;
	bool changed = false;

	n->datagrams++;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);

		if (l == 7 && strncmp(line, "READY=1", 7) == 0) {
			n->is_ready = true;
			n->stopping = false;
			changed = true;
		} else if (l == 10 && strncmp(line, "STOPPING=1", 10) == 0) {
			n->stopping = true;
			changed = true;
		} else if (l == 10 && strncmp(line, "WATCHDOG=1", 10) == 0) {
			ping(n, now_ms);
		} else if (l == 16 && strncmp(line, "WATCHDOG=trigger", 16) == 0 &&
			n->watchdog_ms > 0) {
			on_watchdog(n->loop, n);
		} else if (l >= 7 && strncmp(line, "STATUS=", 7) == 0) {
			snprintf(n->status, sizeof(n->status), "%.*s", (int)(l - 7), line + 7);
			changed = true;
		}
		line += l < (size_t)(end - line) ? l + 1 : l;
	}
	if (changed)
		show(n, now_ms);
}

/*
 * Closes the file descriptors a datagram carried. The only ones the protocol sends are
 * BARRIER=1's (sd_notify_barrier(3)): closing it, once every earlier message is handled,
 * is the whole answer, and systemd-notify waits for it, so its messages arrive while it is
 * alive to be traced.
 */
static void
close_passed_fds(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		const unsigned char *data = CMSG_DATA(c);
		size_t i, nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

static void
on_datagram(struct loop *loop, uint32_t events, void *arg)
{
	struct notify *n = arg;
	char buf[NOTIFY_DATAGRAM_MAX];
	union {
		struct cmsghdr h;
		/* cppcheck-suppress unusedStructMember ; it sizes the union, cmsg(3) */
		char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t len;

	(void)loop;
	(void)events;
	for (;;) {
		const struct ucred *cred = NULL;

		mh.msg_control = &ctl;
		mh.msg_controllen = sizeof(ctl);
		len = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("notify socket");
			return;
		}
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				cred = (const struct ucred *)CMSG_DATA(c);
		/*
		 * pid 0: a process outside graceinit's PID namespace, or one already reaped
		 * (the kernel cannot name it any more): nothing says it is the child's.
		 */
		if (cred == NULL || cred->pid == 0 || !in_child_tree(n, cred->pid)) {
			log_warnx("notify: ignoring a message from pid %d, not the child's (a "
				  "sender must live until it is read: systemd-notify waits)",
				cred ? (int)cred->pid : 0);
		} else if ((size_t)len > sizeof(buf) || (mh.msg_flags & MSG_TRUNC)) {
			log_warnx("notify: ignoring a message over %d bytes", NOTIFY_DATAGRAM_MAX);
		} else {
			notify_message(n, buf, (size_t)len, loop_now_ms());
		}
		close_passed_fds(&mh);
	}
}

int
notify_open(struct notify *n, struct loop *loop, struct ready *ready, int64_t watchdog_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa.sun_family);
	int one = 1;

	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->ready = ready;
	n->watchdog_ms = watchdog_ms;
	loop_timer_init(&n->watchdog, on_watchdog, n);
	/*
	 * Binding with only the family autobinds a unique abstract name (unix(7)): no file, so a
	 * read-only root filesystem is fine, and no clash between containers of one pod.
	 */
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
		bind(n->fd, (struct sockaddr *)&sa, len) < 0) {
		log_warn("--notify: cannot create the notify socket");
		return -1;
	}
	len = sizeof(sa);
	if (getsockname(n->fd, (struct sockaddr *)&sa, &len) < 0 ||
		len <= offsetof(struct sockaddr_un, sun_path) + 1) {
		log_warn("--notify: getsockname");
		return -1;
	}
	if (loop_io_add(loop, &n->io, n->fd, EPOLLIN, on_datagram, n) < 0)
		return -1;
	snprintf(n->env_socket, sizeof(n->env_socket), "NOTIFY_SOCKET=@%.*s",
		(int)(len - offsetof(struct sockaddr_un, sun_path) - 1), sa.sun_path + 1);
	snprintf(n->env_watchdog, sizeof(n->env_watchdog), "WATCHDOG_USEC=%lld",
		(long long)watchdog_ms * 1000);
	n->check = ready_add(ready, "notify", "waiting for READY=1");
	n->pid1 = getpid() == 1;
	return 0;
}

void
notify_set_child(struct notify *n, pid_t child)
{
	n->child = child;
	if (n->watchdog_ms > 0)
		ping(n, loop_now_ms());
}

bool
notify_live(const struct notify *n, const char **why)
{
	if (n->watchdog_fired) {
		*why = "the watchdog fired: no WATCHDOG=1 in time";
		return false;
	}
	return true;
}

void
notify_close(struct notify *n)
{
	if (n->loop == NULL || n->fd < 0)
		return;
	loop_timer_cancel(n->loop, &n->watchdog);
	loop_io_del(n->loop, &n->io);
	close(n->fd);
	n->fd = -1;
}

char **
notify_env(const struct notify *n, char *const envp[])
{
	/* What graceinit's own parent may have set is replaced, not passed on. */
	static const char *const ours[] = { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID" };
	char **env = conf_env_without(envp, ours, sizeof(ours) / sizeof(ours[0]), 2);
	size_t j = 0;

	if (env == NULL)
		return NULL;
	while (env[j] != NULL)
		j++;
	env[j++] = (char *)n->env_socket;
	if (n->watchdog_ms > 0)
		env[j] = (char *)n->env_watchdog;
	return env;
}
