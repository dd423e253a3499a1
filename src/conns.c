/*
 * conns.c: the last wait of the deregistration phase (--drain-connections): until no
 * ESTABLISHED inbound TCP connection remains on the app's ports, so that requests in flight on
 * kept-alive connections finish before the stop signal. Read from /proc/net/tcp and tcp6 of
 * graceinit's network namespace, the pod's, every 100 ms while the wait lasts and never
 * otherwise; streamed line by line through a fixed buffer, so a huge table costs time, not
 * memory.
 */
#include "conns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define CONNS_INTERVAL_MS 100
#define CONNS_STATE_ESTAB 0x01
#define CONNS_LINE_MAX    512

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *
skip_field(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	return skip_space(p, end);
}

static int
hex(const char *p, const char *end, unsigned long *out)
{
	unsigned long v = 0;
	int n = 0;

	for (; p < end && n < 9; p++, n++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			break;
		v = v * 16 + (unsigned long)d;
	}
	*out = v;
	return n;
}

int
conns_line(const char *line, size_t len, const uint16_t *ports, size_t nports)
{
	const char *p = line, *end = line + len, *colon;
	unsigned long port, st;
	size_t i;

	/* "  12: 0100007F:1F90 00000000:0000 01 ..." : sl, local, remote, state */
	p = skip_space(p, end);
	if (p == end || *p < '0' || *p > '9')
		return 0; /* the header line */
	p = skip_field(p, end);
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL || hex(colon + 1, end, &port) != 4)
		return 0;
	p = skip_field(p, end);
	p = skip_field(p, end);
	if (hex(p, end, &st) != 2 || st != CONNS_STATE_ESTAB)
		return 0;
	for (i = 0; i < nports; i++)
		if (ports[i] == port)
			return 1;
	return 0;
}

long
conns_count_text(const char *text, size_t len, const uint16_t *ports, size_t nports)
{
	const char *p = text, *end = text + len;
	long n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		n += conns_line(p, l, ports, nports);
		p += nl ? l + 1 : l;
	}
	return n;
}

/* Counts one file through a fixed buffer, carrying a partial line over; -1 if unreadable. */
static long
count_file(const char *path, const uint16_t *ports, size_t nports)
{
	char buf[16384];
	bool skipping = false; /* inside an over-long line: drop it up to its newline */
	size_t have = 0;
	long n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((r = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		char *p = buf, *end = buf + have + (size_t)r, *nl;

		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (!skipping)
				n += conns_line(p, (size_t)(nl - p), ports, nports);
			skipping = false;
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (have >= CONNS_LINE_MAX) {
			have = 0; /* not a line of this format */
			skipping = true;
		}
		memmove(buf, p, have);
	}
	if (have > 0 && !skipping)
		n += conns_line(buf, have, ports, nports);
	close(fd);
	return n;
}

long
conns_count(const char *dir, const uint16_t *ports, size_t nports)
{
	char path[512];
	long v4, v6;

	snprintf(path, sizeof(path), "%s/tcp", dir);
	v4 = count_file(path, ports, nports);
	snprintf(path, sizeof(path), "%s/tcp6", dir);
	v6 = count_file(path, ports, nports);
	if (v4 < 0 && v6 < 0)
		return -1;
	return (v4 > 0 ? v4 : 0) + (v6 > 0 ? v6 : 0);
}

static void
on_timer(struct loop *loop, void *arg)
{
	struct conns *c = arg;
	long n = conns_count(c->proc_net, c->ports, c->nports);

	if (n < 0) {
		log_warn("--drain-connections: cannot read %s/tcp; not waiting for connections",
			c->proc_net);
		n = 0;
	}
	if (n != c->last) {
		log_info("drain: %ld inbound connection%s left", n, n == 1 ? "" : "s");
		c->last = n;
		c->changed(c->arg);
	}
	if (n > 0 && c->active)
		loop_timer_at(loop, &c->timer, loop_now_ms() + c->interval_ms);
	else
		c->active = false;
}

void
conns_init(struct conns *c, struct loop *loop, const uint16_t *ports, size_t nports,
	void (*changed)(void *arg), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->nports = nports < CONNS_MAX_PORTS ? nports : CONNS_MAX_PORTS;
	memcpy(c->ports, ports, c->nports * sizeof(*ports));
	c->last = -1;
	c->interval_ms = CONNS_INTERVAL_MS;
	c->proc_net = "/proc/net";
	c->changed = changed;
	c->arg = arg;
	loop_timer_init(&c->timer, on_timer, c);
}

void
conns_start(struct conns *c)
{
	if (c->active || c->nports == 0)
		return;
	c->active = true;
	on_timer(c->loop, c);
}

void
conns_stop(struct conns *c)
{
	c->active = false;
	if (c->loop != NULL)
		loop_timer_cancel(c->loop, &c->timer);
}
