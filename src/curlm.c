/*
 * curlm.c: runs libcurl transfers inside graceinit's loop, as curl's multi_socket API is meant
 * to be driven (curl's ephiperfifo example): curl tells us which sockets to watch and when its
 * next timeout is; we tell it which socket is ready or that the timeout has passed. Socket
 * watchers come from a fixed pool, never freed, so an event already fetched for a socket that
 * curl has since closed lands on a watcher that still exists (and is ignored).
 */
#include "curlm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"

/* What curlm keeps per transfer, in CURLOPT_PRIVATE. */
struct transfer {
	curlm_done_cb *cb;
	void *arg;
};

static void
check_done(struct curlm *m)
{
	struct transfer *t;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		t = (struct transfer *)priv;
		curl_multi_remove_handle(m->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (t != NULL) {
			curlm_done_cb *cb = t->cb;
			void *arg = t->arg;

			free(t);
			cb(easy, result, arg);
		}
	}
}

static void
on_socket_io(struct loop *loop, uint32_t events, void *arg)
{
	struct curlm_socket *s = arg;
	int mask = 0, running;

	(void)loop;
	if (!s->used)
		return;
	if (events & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(s->m->multi, s->io.fd, mask, &running);
	check_done(s->m);
}

static void
on_timer(struct loop *loop, void *arg)
{
	struct curlm *m = arg;
	int running;

	(void)loop;
	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(m);
}

static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curlm *m = userp;
	struct curlm_socket *s = socketp;
	uint32_t events = 0;
	size_t i;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			loop_io_del(m->loop, &s->io);
			s->used = false;
			curl_multi_assign(m->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (s != NULL)
		return loop_io_mod(m->loop, &s->io, events);
	for (i = 0; i < CURLM_MAX_SOCKETS && m->sockets[i].used; i++)
		;
	if (i == CURLM_MAX_SOCKETS) {
		log_warnx("http client: more than %d sockets at once; failing a transfer",
			CURLM_MAX_SOCKETS);
		return -1;
	}
	s = &m->sockets[i];
	s->m = m;
	if (loop_io_add(m->loop, &s->io, fd, events, on_socket_io, s) < 0)
		return -1;
	s->used = true;
	curl_multi_assign(m->multi, fd, s);
	return 0;
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlm *m = userp;

	(void)multi;
	if (timeout_ms < 0)
		loop_timer_cancel(m->loop, &m->timer);
	else
		loop_timer_at(m->loop, &m->timer, loop_now_ms() + timeout_ms);
	return 0;
}

int
curlm_init(struct curlm *m, struct loop *loop)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	loop_timer_init(&m->timer, on_timer, m);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (m->multi = curl_multi_init()) == NULL) {
		log_warnx("cannot initialise libcurl");
		return -1;
	}
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	return 0;
}

int
curlm_add(struct curlm *m, CURL *easy, curlm_done_cb *cb, void *arg)
{
	struct transfer *t = malloc(sizeof(*t));
	CURLMcode rc;

	if (t == NULL) {
		log_warn("malloc");
		return -1;
	}
	t->cb = cb;
	t->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
	/* Every transfer must survive a signal: no alarm()-based DNS timeouts. */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/*
	 * A transfer that ends early (a timeout) must not wait for its resolver thread, still in
	 * getaddrinfo: that would block the loop for as long as DNS takes to fail.
	 */
	curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
	rc = curl_multi_add_handle(m->multi, easy);
	if (rc != CURLM_OK) {
		log_warnx("http client: %s", curl_multi_strerror(rc));
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(t);
		return -1;
	}
	/* cppcheck-suppress memleak ; CURLOPT_PRIVATE owns t: check_done, curlm_remove free it */
	return 0;
}

void
curlm_remove(struct curlm *m, CURL *easy)
{
	char *priv = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
	free(priv);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	curl_multi_remove_handle(m->multi, easy);
}

size_t
curlm_discard(char *data, /* NOLINT(readability-non-const-parameter): curl_write_callback type */
	size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

void
curlm_cleanup(struct curlm *m)
{
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi);
	m->multi = NULL;
	loop_timer_cancel(m->loop, &m->timer);
	curl_global_cleanup();
}
