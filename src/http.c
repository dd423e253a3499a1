/*
 * http.c: libmicrohttpd nested in graceinit's loop. Each listener (TCP --http, unix
 * --control-socket) is an MHD daemon in external-epoll mode: its epoll fd is watched by our
 * loop, MHD_run is called when it is readable or when MHD's own timeout (a loop timer) expires,
 * and no thread exists. /prestop suspends its connection until the drain's deregistration
 * phase is over; nothing ever waits. Holds the route table; handlers only read state, except
 * /prestop and /drain, which start the drain through app->trigger. Bounded: connection limits,
 * idle timeout, per-connection memory, request bodies.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "status.h"

#define HTTP_BODY_MAX       4096
#define HTTP_CONN_MAX       512
#define HTTP_CONN_PER_IP    256
#define HTTP_IDLE_TIMEOUT_S 10
#define HTTP_CONN_MEMORY    (32 * 1024)
#define HTTP_RENDER_MAX     ((size_t)256 * 1024)
/* Descriptors kept for the rest of graceinit: loop, signals, timers, API and webhook sockets. */
#define HTTP_FD_RESERVE 32

enum method {
	M_GET = 1,
	M_HEAD = 2,
	M_POST = 4,
};

struct http_request {
	struct http_listener *l;
	struct MHD_Connection *conn;
	unsigned int route;
	size_t body;
	bool too_large;
	bool waiting;  /* suspended in h->waiters */
	bool released; /* resumed: answer now */
	int64_t started_ms;
	struct http_request *next;
};

struct reply {
	unsigned int code;
	const char *type;
	char *body; /* malloc'd */
	const char *allow;
};

typedef void route_fn(struct http *h, struct http_request *r, struct reply *out);

static route_fn r_livez, r_readyz, r_prestop, r_drain, r_status, r_metrics;

static const struct route {
	const char *path;
	unsigned int methods;
	bool token; /* needs --control-token from non-local peers */
	route_fn *fn;
} routes[] = {
	{ "/livez", M_GET | M_HEAD, false, r_livez },
	{ "/healthz", M_GET | M_HEAD, false, r_livez },
	{ "/readyz", M_GET | M_HEAD, false, r_readyz },
	{ "/prestop", M_GET | M_POST, true, r_prestop },
	{ "/drain", M_POST, true, r_drain },
	{ "/status", M_GET | M_HEAD, false, r_status },
	{ "/metrics", M_GET | M_HEAD, false, r_metrics },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const path_names[] = { "/livez", "/healthz", "/readyz", "/prestop", "/drain",
	"/status", "/metrics", "other" };

const char *const *
http_path_names(unsigned int *n)
{
	*n = sizeof(path_names) / sizeof(path_names[0]);
	return path_names;
}

static char *text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
text(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static void
plain(struct reply *out, unsigned int code, char *body)
{
	out->code = code;
	out->type = "text/plain; charset=utf-8";
	out->body = body;
}

struct arg_lookup {
	const char *key;
	bool found;
};

static enum MHD_Result
arg_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct arg_lookup *a = cls;

	(void)kind;
	(void)value;
	if (strcmp(key, a->key) == 0) {
		a->found = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* "?verbose" has no value, so MHD_lookup_connection_value cannot tell it from absent. */
static bool
has_arg(struct MHD_Connection *conn, const char *key)
{
	struct arg_lookup a = { key, false };

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, arg_iter, &a);
	return a.found;
}

static void
r_livez(struct http *h, struct http_request *r, struct reply *out)
{
	const char *why = NULL;

	(void)r;
	if (h->app.live(h->app.arg, &why))
		plain(out, 200, text("ok\n"));
	else
		plain(out, 503, text("not live: %s\n", why ? why : "?"));
}

static void
r_readyz(struct http *h, struct http_request *r, struct reply *out)
{
	const struct ready *rd = h->app.ready;
	bool ok = ready_all(rd) && drain_ready(h->app.drain);
	struct buf b;
	unsigned int i;

	if (!has_arg(r->conn, "verbose")) {
		plain(out, ok ? 200 : 503, text(ok ? "ok\n" : "not ready\n"));
		return;
	}
	/* The verbose form of the Kubernetes API server: one line per check. */
	buf_init(&b, HTTP_RENDER_MAX);
	for (i = 0; i < rd->n; i++)
		buf_printf(&b, "[%c]%s %s: %s\n", rd->checks[i].ok ? '+' : '-', rd->checks[i].name,
			rd->checks[i].ok ? "ok" : "failed", rd->checks[i].detail);
	if (drain_ready(h->app.drain))
		buf_printf(&b, "[+]drain ok: not draining\n");
	else
		buf_printf(&b, "[-]drain failed: %s since %s\n",
			drain_state_name(h->app.drain->state),
			drain_event_name(h->app.drain->trigger));
	/* Not a check: the watch's health only changes how a drain waits. */
	if (h->app.k8s != NULL && h->app.k8s->state != K8S_OFF)
		buf_printf(&b, "# endpoints watch: %s%s%s\n", k8s_state_name(h->app.k8s->state),
			h->app.k8s->error[0] ? ": " : "", h->app.k8s->error);
	buf_printf(&b, "readyz check %s\n", ok ? "passed" : "failed");
	plain(out, ok ? 200 : 503, b.overflow ? NULL : strdup(buf_str(&b)));
	buf_free(&b);
}

static void
json(struct reply *out, unsigned int code, char *body)
{
	out->code = code;
	out->type = "application/json";
	out->body = body;
}

static char *
drain_body(struct http *h)
{
	return status_prestop_json(h->app.drain, h->app.confirm, loop_now_ms());
}

static void
r_prestop(struct http *h, struct http_request *r, struct reply *out)
{
	const char *wait = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "wait");
	bool now = wait != NULL && (strcmp(wait, "0") == 0 || strcmp(wait, "false") == 0);

	if (!r->released)
		h->app.trigger(h->app.arg, DRAIN_EV_PRESTOP);
	if (now) {
		json(out, 202, drain_body(h));
		return;
	}
	if (h->app.drain->state == DRAIN_DEREGISTER && !r->released) {
		/* Answer when deregistration is over: http_release resumes us. */
		MHD_suspend_connection(r->conn);
		r->waiting = true;
		r->next = h->waiters;
		h->waiters = r;
		out->code = 0;
		return;
	}
	json(out, 200, drain_body(h));
}

static void
r_drain(struct http *h, struct http_request *r, struct reply *out)
{
	(void)r;
	h->app.trigger(h->app.arg, DRAIN_EV_DRAIN);
	json(out, 202, drain_body(h));
}

static void
r_status(struct http *h, struct http_request *r, struct reply *out)
{
	struct status_input in = {
		.conf = h->app.conf,
		.drain = h->app.drain,
		.child = h->app.child,
		.ready = h->app.ready,
		.k8s = h->app.k8s,
		.confirm = h->app.confirm,
		.now_ms = loop_now_ms(),
		.start_ms = h->app.start_ms,
	};

	(void)r;
	in.live = h->app.live(h->app.arg, &in.live_why);
	json(out, 200, status_render(&in));
}

static void
r_metrics(struct http *h, struct http_request *r, struct reply *out)
{
	const char *why;
	struct metrics_input in = {
		.m = h->app.metrics,
		.drain = h->app.drain,
		.reaped = h->app.child->reaped,
		.ready = ready_all(h->app.ready) && drain_ready(h->app.drain),
		.live = h->app.live(h->app.arg, &why),
		.uptime_ms = loop_now_ms() - h->app.start_ms,
		.start_time_s = h->app.start_time_s,
	};
	struct buf b;

	(void)r;
	in.paths = http_path_names(&in.npaths);
	buf_init(&b, HTTP_RENDER_MAX);
	metrics_render(&b, &in);
	out->code = 200;
	out->type = "text/plain; version=0.0.4; charset=utf-8";
	out->body = b.overflow ? NULL : strdup(buf_str(&b));
	buf_free(&b);
}

static unsigned int
method_of(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	return 0;
}

static const char *
allow_header(unsigned int methods)
{
	switch (methods) {
	case M_GET | M_HEAD:
		return "GET, HEAD";
	case M_GET | M_POST:
		return "GET, POST";
	default:
		return "POST";
	}
}

static bool
peer_is_local(struct http_request *r)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (r->l->local)
		return true;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return sa->sa_family == AF_UNIX;
}

/* Compares without an early exit, so timing tells nothing about the token. */
static bool
token_ok(const char *header, const char *token)
{
	size_t n = strlen(token), i;
	unsigned char diff = 0;

	if (header == NULL || strncmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	if (strlen(header) != n)
		return false;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(header[i] ^ token[i]);
	return diff == 0;
}

static void
dispatch(struct http *h, struct http_request *r, const char *url, const char *method,
	struct reply *out)
{
	const char *token = h->app.conf->control_token;
	unsigned int m = method_of(method), i;

	for (i = 0; i < NROUTES && strcmp(routes[i].path, url) != 0; i++)
		;
	r->route = i;
	if (i == NROUTES) {
		plain(out, 404,
			text("not found: graceinit serves /livez /readyz /prestop /drain "
			     "/status /metrics\n"));
		return;
	}
	if ((routes[i].methods & m) == 0) {
		plain(out, 405, text("method %s not allowed on %s\n", method, url));
		out->allow = allow_header(routes[i].methods);
		return;
	}
	if (r->too_large) {
		plain(out, 413, text("request body over %d bytes\n", HTTP_BODY_MAX));
		return;
	}
	if (routes[i].token && token != NULL && !peer_is_local(r) &&
		!token_ok(MHD_lookup_connection_value(
				  r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
			token)) {
		plain(out, 401, text("%s needs Authorization: Bearer <--control-token>\n", url));
		return;
	}
	routes[i].fn(h, r, out);
}

static enum MHD_Result
send_reply(struct http *h, struct http_request *r, struct reply *out)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *body = out->body;
	size_t len;

	if (body == NULL) {
		/* Rendering ran out of memory or over its limit: say so, keep serving. */
		out->code = 500;
		out->type = "text/plain; charset=utf-8";
		body = "out of memory\n";
	}
	len = strlen(body);
	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	free(out->body);
	out->body = NULL;
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (out->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
	if (out->code == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(r->conn, out->code, resp);
	MHD_destroy_response(resp);
	metrics_count_http(h->app.metrics, r->route, out->code);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct http_listener *l = cls;
	struct http *h = l->http;
	struct http_request *r = *ctx;
	struct reply out = { 0 };
	const char *cl;

	(void)version;
	(void)upload;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->l = l;
		r->conn = conn;
		r->started_ms = loop_now_ms();
		*ctx = r;
		cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > HTTP_BODY_MAX)
			r->too_large = true;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* Bodies are not used; count them so that a large one is refused. */
		r->body += *upload_size;
		if (r->body > HTTP_BODY_MAX)
			r->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	dispatch(h, r, url, method, &out);
	if (out.code == 0)
		return MHD_YES; /* suspended */
	return send_reply(h, r, &out);
}

static void
unlink_waiter(struct http *h, struct http_request *r)
{
	struct http_request **p;

	for (p = &h->waiters; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	r->waiting = false;
}

static void
on_completed(
	void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode why)
{
	struct http_listener *l = cls;
	struct http_request *r = *ctx;

	(void)conn;
	(void)why;
	if (r == NULL)
		return;
	if (r->waiting)
		unlink_waiter(l->http, r);
	if (r->released)
		l->http->answering--;
	free(r);
	*ctx = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

static unsigned int
connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info != NULL ? info->num_connections : 0;
}

/*
 * Runs both daemons and points the timer at MHD's next timeout, or at once when a daemon closed
 * connections: at its connection limit MHD takes the listening socket out of its epoll set, and
 * puts it back only at the start of a later MHD_run. Were that close the last event, nothing
 * would wake MHD again and the endpoints would never accept another connection. A timer, not
 * a loop here: signals and children keep their turn while a backlog of connections drains.
 */
static void
run(struct http *h)
{
	struct http_listener *ls[2] = { &h->tcp, &h->ctl };
	MHD_UNSIGNED_LONG_LONG ms;
	unsigned int before;
	int64_t next = -1;
	int i;

	for (i = 0; i < 2; i++) {
		if (ls[i]->daemon == NULL)
			continue;
		before = connections(ls[i]->daemon);
		MHD_run(ls[i]->daemon);
		if (connections(ls[i]->daemon) < before)
			next = 0;
		else if (MHD_get_timeout(ls[i]->daemon, &ms) == MHD_YES &&
			(next < 0 || (int64_t)ms < next))
			next = (int64_t)ms;
	}
	if (next >= 0)
		loop_timer_at(h->loop, &h->timer, loop_now_ms() + next);
	else
		loop_timer_cancel(h->loop, &h->timer);
}

static void
on_io(struct loop *loop, uint32_t events, void *arg)
{
	struct http_listener *l = arg;

	(void)loop;
	(void)events;
	run(l->http);
}

static void
on_timer(struct loop *loop, void *arg)
{
	(void)loop;
	run(arg);
}

/*
 * The kernel's queue of connections not yet accepted holds no more than MHD would: under a
 * flood, what waits there is often already dead (a partial request, then the client gone), and
 * MHD, reading it once on accept, keeps it until the idle timeout. A short queue is what lets a
 * kubelet probe in again within that timeout.
 */
static int
listen_fd(int fd, const char *what, unsigned int limit)
{
	if (listen(fd, limit < 128 ? (int)limit : 128) < 0) {
		log_warn("%s: listen", what);
		close(fd);
		return -1;
	}
	return fd;
}

/* A listening TCP socket for HOST:PORT, [V6]:PORT or :PORT (every address, v6 and v4). */
static int
tcp_socket(const char *addr, unsigned int limit)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	char host[256];
	const char *port = conf_split_hostport(addr, host, sizeof(host));
	int fd = -1, one = 1, zero = 0, rc;

	if (host[0] == '\0')
		hints.ai_family = AF_INET6; /* with V6ONLY off: both families */
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0 && host[0] == '\0') {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, port, &hints, &res);
	}
	if (rc != 0) {
		log_warnx("--http %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && host[0] == '\0')
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_warn("--http %s: cannot listen", addr);
		return -1;
	}
	return listen_fd(fd, addr, limit);
}

/* Nobody answers on a socket file left by an earlier run. */
static bool
stale(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool dead;

	if (fd < 0)
		return false;
	dead = connect(fd, (const struct sockaddr *)sa, len) < 0 && errno == ECONNREFUSED;
	close(fd);
	return dead;
}

/* A listening unix socket; "@name" is in the abstract namespace (no file, see unix(7)). */
static int
unix_socket(const char *path, unsigned int limit)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	int fd;

	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("--control-socket %s: socket", path);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, len) == 0)
		return listen_fd(fd, path, limit);
	if (errno == EADDRINUSE && path[0] != '@' && stale(&sa, len)) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, len) == 0)
			return listen_fd(fd, path, limit);
	}
	log_warn("--control-socket %s: cannot listen; continuing without it", path);
	close(fd);
	return -1;
}

/*
 * Connections per listener: HTTP_CONN_MAX, or fewer when RLIMIT_NOFILE would run out first.
 * MHD handles EMFILE at its first connection by retrying accept() on every turn of the loop
 * (a busy loop in PID 1); within its own limit it stops accepting and starts again cleanly.
 */
static unsigned int
conn_limit(void)
{
	struct rlimit rl;
	rlim_t spare;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return HTTP_CONN_MAX;
	spare = rl.rlim_cur > HTTP_FD_RESERVE ? (rl.rlim_cur - HTTP_FD_RESERVE) / 2 : 0;
	if (spare >= HTTP_CONN_MAX)
		return HTTP_CONN_MAX;
	if (spare < 1)
		spare = 1;
	log_warnx("the open file limit (RLIMIT_NOFILE) is %llu: at most %u HTTP connections per "
		  "listener",
		(unsigned long long)rl.rlim_cur, (unsigned int)spare);
	return (unsigned int)spare;
}

static int
start_listener(struct http *h, struct http_listener *l, int fd, bool local, const char *name,
	unsigned int limit)
{
	const union MHD_DaemonInfo *info;

	l->http = h;
	l->local = local;
	l->name = name;
	l->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)(local ? 0 : HTTP_CONN_PER_IP),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
		MHD_OPTION_END);
	if (l->daemon == NULL) {
		log_warnx("%s: cannot start the HTTP server", name);
		close(fd);
		return -1;
	}
	info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || loop_io_add(h->loop, &l->io, info->epoll_fd, EPOLLIN, on_io, l) < 0) {
		MHD_stop_daemon(l->daemon);
		l->daemon = NULL;
		return -1;
	}
	log_info("serving /livez /readyz /prestop /drain /status /metrics on %s", name);
	return 0;
}

int
http_start(struct http *h, struct loop *loop, const struct http_app *app)
{
	const struct conf *c = app->conf;
	unsigned int limit = c->http != NULL || c->control_socket != NULL ? conn_limit() : 0;
	int fd;

	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->app = *app;
	loop_timer_init(&h->timer, on_timer, h);
	if (c->http != NULL) {
		if ((fd = tcp_socket(c->http, limit)) < 0 ||
			start_listener(h, &h->tcp, fd, false, c->http, limit) < 0)
			return -1;
	}
	/* The control socket is a convenience: failing to create it never stops graceinit. */
	if (c->control_socket != NULL && (fd = unix_socket(c->control_socket, limit)) >= 0)
		start_listener(h, &h->ctl, fd, true, c->control_socket, limit);
	return 0;
}

void
http_release(struct http *h)
{
	struct http_request *r;

	while ((r = h->waiters) != NULL) {
		h->waiters = r->next;
		r->waiting = false;
		r->released = true;
		h->answering++;
		MHD_resume_connection(r->conn);
	}
	/*
	 * Not run() here: the drain may have been started by /prestop or /drain, from inside
	 * MHD's own request callback, and MHD_run must never be entered again from there.
	 */
	loop_timer_at(h->loop, &h->timer, loop_now_ms());
}

bool
http_answering(const struct http *h)
{
	return h->answering > 0;
}

void
http_stop(struct http *h)
{
	struct http_listener *ls[2] = { &h->tcp, &h->ctl };
	const char *path;
	bool owned;
	int i;

	if (h->loop == NULL)
		return; /* start-up failed before the endpoints started */
	path = h->app.conf->control_socket;
	owned = h->ctl.daemon != NULL && path != NULL && path[0] == '/';
	http_release(h);
	for (i = 0; i < 2; i++) {
		if (ls[i]->daemon == NULL)
			continue;
		loop_io_del(h->loop, &ls[i]->io);
		MHD_stop_daemon(ls[i]->daemon);
		ls[i]->daemon = NULL;
	}
	loop_timer_cancel(h->loop, &h->timer);
	if (owned)
		unlink(path);
}
