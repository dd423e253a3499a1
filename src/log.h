/*
 * log.h: leveled logging to stderr, as text or JSON lines.
 */
#ifndef GRACEINIT_LOG_H
#define GRACEINIT_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

void log_init(enum log_level level, enum log_format format);
int log_enabled(enum log_level level);

/* log_warn and fatal append strerror(errno); the x variants do not. errno is preserved. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Setup only: log at error level and exit 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Renders one log line (no trailing newline) into buf; exposed for the unit tests. */
int log_render(char *buf, size_t len, enum log_format format, enum log_level level, const char *msg,
	const char *err);

#endif
