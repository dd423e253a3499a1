/*
 * log.c: the one place that writes diagnostics. Lines go to stderr, which in a container is the
 * pod's log, as plain text ("graceinit: warn: ...") or as JSON objects, one per line, for log
 * pipelines. Every call writes one whole line with one write(2) so lines from graceinit and its
 * child never interleave mid-line. Must not allocate (it runs when memory may be short) and
 * must preserve errno, so callers can log and still inspect it.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static struct {
	enum log_level level;
	enum log_format format;
} log_state = { LOG_LEVEL_INFO, LOG_FORMAT_TEXT };

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(enum log_level level, enum log_format format)
{
	log_state.level = level;
	log_state.format = format;
}

int
log_enabled(enum log_level level)
{
	return level <= log_state.level;
}

/* Appends s to buf as the inside of a JSON string; returns the new length. */
static size_t
json_escape(char *buf, size_t off, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s != '\0' && off + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c == '\n') {
			buf[off++] = '\\';
			buf[off++] = 'n';
		} else if (c < 0x20) {
			memcpy(buf + off, "\\u00", 4);
			buf[off + 4] = hex[c >> 4];
			buf[off + 5] = hex[c & 0xf];
			off += 6;
		} else {
			buf[off++] = (char)c;
		}
	}
	buf[off] = '\0';
	return off;
}

int
log_render(char *buf, size_t len, enum log_format format, enum log_level level, const char *msg,
	const char *err)
{
	struct timespec ts;
	struct tm tm;
	size_t off;
	int n;

	if (format == LOG_FORMAT_TEXT) {
		n = snprintf(buf, len, "graceinit: %s: %s%s%s", level_names[level], msg,
			err ? ": " : "", err ? err : "");
		return n < 0 || (size_t)n >= len ? (int)len - 1 : n;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, len,
		"{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"msg\":\"",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[level]);
	if (n < 0 || (size_t)n + 3 > len)
		return -1;
	off = json_escape(buf, (size_t)n, len - 3, msg);
	if (err != NULL) {
		off = json_escape(buf, off, len - 3, ": ");
		off = json_escape(buf, off, len - 3, err);
	}
	memcpy(buf + off, "\"}", 3);
	return (int)off + 2;
}

static void vlog(enum log_level level, const char *err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
vlog(enum log_level level, const char *err, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
	int n;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = log_render(line, sizeof(line) - 1, log_state.format, level, msg, err);
	if (n < 0)
		return;
	line[n++] = '\n';
	/* One write per line; a short or failed write to stderr has nowhere to be reported. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define LOG_BODY(level, with_errno)                                                                \
	do {                                                                                       \
		int saved = errno;                                                                 \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, (with_errno) ? strerror(saved) : NULL, fmt, ap);                       \
		va_end(ap);                                                                        \
		errno = saved;                                                                     \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
