/*
 * fuzz_http.c: the HTTP API as a client reaches it: libmicrohttpd parses the request line,
 * headers, query string and body, then http.c routes it. Once, the real endpoints start with a
 * real drain, readiness and metrics: on a unique abstract control socket, and with
 * --control-token on a TCP port of the first non-loopback IPv4 address of the machine, where a
 * peer is not local and /prestop and /drain need the token. The first byte of the input picks
 * the listener (its lowest bit: 0 the control socket, 1 TCP, or the control socket when the
 * machine has no such address); the rest is what the client sends. It connects, writes it,
 * shuts its writing side and reads every answer until graceinit closes the connection, all
 * inside graceinit's own loop. The drain starts for real (/prestop, /drain; --drain-delay 5s)
 * on a clock that jumps to each of its deadlines at once, so a suspended /prestop is released
 * by the drain as in main.c, without the wait; each input starts from a fresh, idle drain and
 * zeroed metrics. FUZZ_HTTP_VERBOSE=1 in the environment prints the answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "loop.h"

#define INPUT_BOUND_MS 1000 /* a connection left open longer ends the input anyway */

static struct {
	struct conf conf;
	struct loop loop;
	struct drain drain;
	struct child child;
	struct ready ready;
	struct metrics metrics;
	struct k8s k8s;
	struct deregister hooks;
	struct conns conns;
	struct confirm confirm;
	struct http http;
	struct loop_timer drain_timer;
	struct loop_timer bound;
	struct loop_timer settle;
	struct loop_io client;
	int64_t drain_clock_ms;
	int64_t drain_deadline_ms;
	char socket[64];
	char tcp[64]; /* "ADDR:PORT", or "off" */
	struct sockaddr_in tcp_sa;
	bool on_tcp;       /* the input's connection */
	bool settled_once; /* the settle timer has run once for this input */
	const uint8_t *out;
	size_t left;
	bool up;
	bool verbose; /* FUZZ_HTTP_VERBOSE set: the answers go to stderr */
} g;

static void
drain_noop(void *arg)
{
	(void)arg;
}

/* The drain's clock: real time, except that it jumps to each deadline the drain sets. */
static int64_t
drain_now(void)
{
	int64_t now = loop_now_ms();

	return now > g.drain_clock_ms ? now : g.drain_clock_ms;
}

static void
drain_arm(void *arg, int64_t deadline_ms)
{
	(void)arg;
	g.drain_deadline_ms = deadline_ms;
	if (deadline_ms < 0)
		loop_timer_cancel(&g.loop, &g.drain_timer);
	else
		loop_timer_at(&g.loop, &g.drain_timer, loop_now_ms());
}

static void
drain_deregistered(void *arg)
{
	(void)arg;
	http_release(&g.http);
}

static const struct drain_ops drain_ops = {
	.stop = drain_noop,
	.kill = drain_noop,
	.arm = drain_arm,
	.deregistered = drain_deregistered,
};

static void
on_drain_timer(struct loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	if (g.drain_deadline_ms > g.drain_clock_ms)
		g.drain_clock_ms = g.drain_deadline_ms;
	drain_event(&g.drain, DRAIN_EV_TIMER, drain_now());
}

static void
trigger(void *arg, enum drain_event ev)
{
	(void)arg;
	drain_event(&g.drain, ev, drain_now());
}

static bool
live(void *arg, const char **why)
{
	(void)arg;
	(void)why;
	return true;
}

static void
drain_reset(void)
{
	struct drain_budget budget = {
		.grace_ms = g.conf.grace_period_ms,
		.kill_margin_ms = g.conf.kill_margin_ms,
		.delay_ms = g.conf.drain_delay_ms,
		.min_drain_ms = g.conf.min_drain_ms,
	};

	loop_timer_cancel(&g.loop, &g.drain_timer);
	g.drain_clock_ms = 0;
	drain_init(&g.drain, &budget, &drain_ops, NULL);
}

static void
on_bound(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop, 0);
}

/*
 * The client shuts its writing side only once graceinit has read every byte and no /prestop
 * waits: MHD's epoll is edge-triggered, so an end of file that comes with the data would go
 * unseen until the idle timeout, and one seen while a request is suspended closes the
 * connection before the pipelined requests after it. On the unix socket SIOCOUTQ says what the
 * peer has not read yet; on TCP only what it has not acknowledged, so one more turn of the
 * loop (1 ms) is given for MHD to read it.
 */
static void
on_settle(struct loop *loop, void *arg)
{
	int unread = 0;
	bool turned = !g.on_tcp || g.settled_once;

	(void)arg;
	g.settled_once = true;
	if (turned && ioctl(g.client.fd, SIOCOUTQ, &unread) == 0 && unread == 0 &&
		g.http.waiters == NULL && !http_answering(&g.http) &&
		!loop_timer_armed(&g.drain_timer))
		shutdown(g.client.fd, SHUT_WR);
	else
		loop_timer_at(loop, &g.settle, loop_now_ms() + 1);
}

/* The client's end: write the request, then read the answers until the server closes. */
static void
on_client(struct loop *loop, uint32_t events, void *arg)
{
	char buf[16384];
	ssize_t n;

	(void)arg;
	if ((events & EPOLLOUT) && g.left == 0 && !loop_timer_armed(&g.settle)) {
		/* Nothing to send: connected, shut the writing side now. */
		loop_io_mod(loop, &g.client, EPOLLIN);
		loop_timer_at(loop, &g.settle, loop_now_ms());
	}
	if ((events & EPOLLOUT) && g.left > 0) {
		n = write(g.client.fd, g.out, g.left);
		if (n < 0 && errno != EAGAIN) {
			loop_stop(loop, 0);
			return;
		}
		if (n > 0) {
			g.out += n;
			g.left -= (size_t)n;
		}
		if (g.left == 0) {
			loop_io_mod(loop, &g.client, EPOLLIN);
			loop_timer_at(loop, &g.settle, loop_now_ms());
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		while ((n = read(g.client.fd, buf, sizeof(buf))) > 0)
			if (g.verbose)
				fwrite(buf, 1, (size_t)n, stderr);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			loop_stop(loop, 0);
	}
}

/* A free TCP port on the first non-loopback IPv4 address, as "ADDR:PORT" in g.tcp. */
static void
find_tcp(void)
{
	struct ifaddrs *ifs, *i;
	socklen_t len = sizeof(g.tcp_sa);
	char addr[INET_ADDRSTRLEN];
	int fd;

	snprintf(g.tcp, sizeof(g.tcp), "off");
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
			!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		memcpy(&g.tcp_sa, i->ifa_addr, sizeof(g.tcp_sa));
		if ((ntohl(g.tcp_sa.sin_addr.s_addr) >> 24) != 127)
			break;
	}
	freeifaddrs(ifs);
	if (i == NULL || (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	g.tcp_sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&g.tcp_sa, sizeof(g.tcp_sa)) == 0 &&
		getsockname(fd, (struct sockaddr *)&g.tcp_sa, &len) == 0)
		snprintf(g.tcp, sizeof(g.tcp), "%s:%d",
			inet_ntop(AF_INET, &g.tcp_sa.sin_addr, addr, sizeof(addr)),
			ntohs(g.tcp_sa.sin_port));
	close(fd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Static: the conf keeps pointing into its argv, as into main's. */
	static char *cargv[] = { "graceinit", "--http", g.tcp, "--control-socket", g.socket,
		"--control-token", "fuzz-token", "--drain-delay", "5s", "--", "true", NULL };
	char *envp[] = { NULL };
	static const uint16_t no_ports[1];
	char err[512];
	struct http_app app = { 0 };

	(void)argc;
	(void)argv;
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	signal(SIGPIPE, SIG_IGN);
	g.verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
	snprintf(g.socket, sizeof(g.socket), "@graceinit-fuzz-http-%d", (int)getpid());
	find_tcp();
	if (conf_parse(&g.conf, 11, cargv, envp, err, sizeof(err)) != CONF_RUN ||
		loop_init(&g.loop) < 0) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	loop_timer_init(&g.drain_timer, on_drain_timer, NULL);
	loop_timer_init(&g.bound, on_bound, NULL);
	loop_timer_init(&g.settle, on_settle, NULL);
	drain_reset();
	ready_init(&g.ready);
	ready_set(&g.ready, ready_add(&g.ready, "started", "not started"), true, loop_now_ms(),
		"pid %d", 4242);
	child_init(&g.child, &g.loop, true, true, g.conf.exit_grace_ms, NULL, NULL, NULL);
	g.child.pid = 4242;
	conns_init(&g.conns, &g.loop, no_ports, 0, NULL, NULL);
	confirm_init(&g.confirm, &g.loop, &g.conf, &g.k8s, &g.hooks, &g.conns, NULL, NULL);
	app.conf = &g.conf;
	app.drain = &g.drain;
	app.child = &g.child;
	app.ready = &g.ready;
	app.metrics = &g.metrics;
	app.k8s = &g.k8s;
	app.confirm = &g.confirm;
	app.start_ms = loop_now_ms();
	app.start_time_s = 1.7e9;
	app.live = live;
	app.trigger = trigger;
	if (http_start(&g.http, &g.loop, &app) < 0 || g.http.ctl.daemon == NULL)
		abort();
	if (g.http.tcp.daemon == NULL)
		fprintf(stderr,
			"fuzz_http: no non-loopback IPv4 address: the control socket only, "
			"--control-token is not checked\n");
	g.up = true;
	return 0;
}

/* A connected (or connecting) client socket on the listener the input asks for. */
static int
client_socket(bool tcp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(g.socket);
	int fd;

	if (tcp) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
			(connect(fd, (struct sockaddr *)&g.tcp_sa, sizeof(g.tcp_sa)) < 0 &&
				errno != EINPROGRESS))
			abort();
		return fd;
	}
	memcpy(sa.sun_path, g.socket, n);
	sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
		connect(fd, (struct sockaddr *)&sa,
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		abort();
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (!g.up)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size == 0)
		return 0;
	g.on_tcp = (data[0] & 1) && g.http.tcp.daemon != NULL;
	g.settled_once = false;
	g.out = data + 1;
	g.left = size - 1;
	drain_reset();
	memset(&g.metrics, 0, sizeof(g.metrics));
	fd = client_socket(g.on_tcp);
	if (loop_io_add(&g.loop, &g.client, fd, EPOLLIN | EPOLLOUT, on_client, NULL) < 0)
		abort();
	loop_timer_at(&g.loop, &g.bound, loop_now_ms() + INPUT_BOUND_MS);
	loop_run(&g.loop);
	loop_timer_cancel(&g.loop, &g.bound);
	loop_timer_cancel(&g.loop, &g.settle);
	loop_io_del(&g.loop, &g.client);
	close(fd);
	return 0;
}
