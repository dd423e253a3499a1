/*
 * test_buf.c: the bounded text buffer behind /metrics and /readyz?verbose. It grows
 * geometrically from 256 bytes, never beyond its hard limit; what does not fit sets the overflow
 * flag, and from then on every printf is dropped, so a renderer never fails midway and the text
 * kept is always a whole prefix. Each test's buffer is freed by the teardown, failing or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int
setup(void **state)
{
	struct buf *b = malloc(sizeof(*b));

	if (b == NULL)
		return -1;
	buf_init(b, 1024 * 1024);
	*state = b;
	return 0;
}

static int
teardown(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	free(b);
	return 0;
}

/* A fresh buffer holds nothing, allocates nothing and still reads as "". */
static void
test_empty(void **state)
{
	struct buf *b = *state;

	assert_non_null(buf_str(b));
	assert_string_equal(buf_str(b), "");
	assert_null(b->data);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_false(b->overflow);
}

static void
test_printf(void **state)
{
	struct buf *b = *state;

	buf_printf(b, "%s %d", "hello", 42);
	assert_string_equal(buf_str(b), "hello 42");
	assert_int_equal(b->len, 8);
	buf_printf(b, "%c%s", '!', "\n");
	assert_string_equal(buf_str(b), "hello 42!\n");
	assert_int_equal(b->len, 10);
	assert_int_equal(b->cap, 256);
	assert_false(b->overflow);
}

/* An empty format adds nothing but still makes the text a valid empty string. */
static void
test_printf_empty(void **state)
{
	struct buf *b = *state;

	buf_printf(b, "%s", "");
	assert_string_equal(buf_str(b), "");
	assert_int_equal(b->len, 0);
	assert_false(b->overflow);
}

/* 256, 512, 1024, ...: doubling, with the text intact across every realloc. */
static void
test_growth(void **state)
{
	struct buf *b = *state;
	size_t i;

	for (i = 0; i < 200; i++) {
		buf_printf(b, "%09zu\n", i);
		if (i == 24)
			assert_int_equal(b->cap, 256); /* 250 bytes and the NUL */
		if (i == 25)
			assert_int_equal(b->cap, 512);
		if (i == 51)
			assert_int_equal(b->cap, 1024);
	}
	assert_int_equal(b->len, 2000);
	assert_int_equal(b->cap, 2048);
	assert_int_equal(strlen(buf_str(b)), 2000);
	for (i = 0; i < 200; i++) {
		char line[11];

		snprintf(line, sizeof(line), "%09zu\n", i);
		assert_memory_equal(buf_str(b) + i * 10, line, 10);
	}
	assert_false(b->overflow);
}

/* One printf longer than the first 256 bytes grows straight to the next power of two. */
static void
test_growth_one_big_printf(void **state)
{
	struct buf *b = *state;
	char big[1500];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(b, "<%s>", big);
	assert_int_equal(b->len, 1501);
	assert_int_equal(b->cap, 2048);
	assert_int_equal(buf_str(b)[0], '<');
	assert_int_equal(buf_str(b)[1500], '>');
	assert_int_equal(buf_str(b)[1501], '\0');
	assert_false(b->overflow);
}

/* The last doubling is clamped to the limit: the capacity never exceeds max. */
static void
test_cap_clamped_to_max(void **state)
{
	struct buf *b = *state;
	char text[291];

	buf_free(b);
	buf_init(b, 300);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	buf_printf(b, "%s", text);
	assert_int_equal(b->len, 290);
	assert_int_equal(b->cap, 300);
	assert_string_equal(buf_str(b), text);
	assert_false(b->overflow);
}

/* A text and its NUL that fill the limit exactly fit. */
static void
test_exact_fit(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	buf_init(b, 11);
	buf_printf(b, "%s", "0123456789");
	assert_string_equal(buf_str(b), "0123456789");
	assert_int_equal(b->cap, 11);
	assert_false(b->overflow);
	buf_printf(b, "%s", "");
	assert_false(b->overflow);
	buf_printf(b, "%s", "x");
	assert_true(b->overflow);
	assert_string_equal(buf_str(b), "0123456789");
}

/*
 * Past the limit the printf that does not fit is dropped whole (never a half line), the flag is
 * set, and every later printf is ignored, even one small enough to fit.
 */
static void
test_overflow(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	buf_init(b, 16);
	buf_printf(b, "%s", "0123456789");
	assert_false(b->overflow);
	buf_printf(b, "%s", "abcdef"); /* 10 + 6 + NUL = 17 > 16 */
	assert_true(b->overflow);
	assert_string_equal(buf_str(b), "0123456789");
	assert_int_equal(b->len, 10);
	buf_printf(b, "%s", "x"); /* would fit, but the text must stay a whole prefix */
	assert_true(b->overflow);
	assert_string_equal(buf_str(b), "0123456789");
	assert_int_equal(b->len, 10);
	assert_true(b->cap <= b->max);
}

/* A first printf beyond the limit allocates nothing and leaves "". */
static void
test_overflow_first_printf(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	buf_init(b, 8);
	buf_printf(b, "%s", "012345678");
	assert_true(b->overflow);
	assert_null(b->data);
	assert_string_equal(buf_str(b), "");
	assert_int_equal(b->len, 0);
}

/* A limit of 0 holds nothing at all, not even the NUL. */
static void
test_zero_max(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	buf_init(b, 0);
	buf_printf(b, "%s", "");
	assert_true(b->overflow);
	assert_string_equal(buf_str(b), "");
}

/* Overflow in a loop of many lines: whole lines are kept, the rest dropped. */
static void
test_overflow_whole_lines(void **state)
{
	struct buf *b = *state;
	int i;

	buf_free(b);
	buf_init(b, 1000);
	for (i = 0; i < 500; i++)
		buf_printf(b, "line %03d\n", i); /* 9 bytes each */
	assert_true(b->overflow);
	assert_int_equal(b->len, 111 * 9); /* 999 + NUL would be 1000: fits; the 112th does not */
	assert_int_equal(b->cap, 1000);
	assert_int_equal(strlen(buf_str(b)), 999);
	assert_memory_equal(buf_str(b) + 990, "line 110\n", 9);
}

/* buf_free releases the memory, keeps the limit and clears the flag: the buffer is reusable. */
static void
test_free_reuse(void **state)
{
	struct buf *b = *state;

	buf_free(b);
	buf_init(b, 16);
	buf_printf(b, "%s", "a text longer than 16 bytes");
	assert_true(b->overflow);
	buf_free(b);
	assert_null(b->data);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_int_equal(b->max, 16);
	assert_false(b->overflow);
	assert_string_equal(buf_str(b), "");
	buf_printf(b, "%s", "short");
	assert_string_equal(buf_str(b), "short");
	assert_false(b->overflow);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_printf_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_one_big_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_clamped_to_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_first_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_whole_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_reuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
