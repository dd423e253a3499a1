/*
 * buf.c: text rendering for the HTTP answers (metrics, verbose readiness). The buffer grows
 * geometrically up to a hard limit; past it, or when memory runs out, further text is dropped
 * and the overflow flag says so, so a renderer never fails midway and never grows unbounded.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->overflow = false;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

static bool
reserve(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (need <= b->cap)
		return true;
	if (need > b->max) {
		b->overflow = true;
		return false;
	}
	while (cap < need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->overflow = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, b->len + (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}
