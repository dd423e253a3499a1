/*
 * buf.h: a growable text buffer with a hard size limit.
 */
#ifndef GRACEINIT_BUF_H
#define GRACEINIT_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;    /* never grows beyond this */
	bool overflow; /* something did not fit, or memory ran out */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far, NUL-terminated, never NULL. */
const char *buf_str(const struct buf *b);

#endif
