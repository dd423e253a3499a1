/*
 * test_log.c: log_render, the one function that shapes every line graceinit writes, as text
 * and as JSON. JSON lines are parsed back with cJSON: they must stay valid whatever the message
 * holds and however small the buffer is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CANARY 'Z'

/* Renders a JSON line, parses it back and checks the fields; returns the parsed object. */
static cJSON *
render_json(enum log_level level, const char *msg, const char *err, char *buf, size_t len)
{
	cJSON *root;
	int n;

	n = log_render(buf, len, LOG_FORMAT_JSON, level, msg, err);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_true((size_t)n < len);
	assert_null(strchr(buf, '\n'));
	root = cJSON_Parse(buf);
	if (root == NULL)
		fail_msg("log_render produced invalid JSON: %s", buf);
	assert_true(cJSON_IsObject(root));
	return root;
}

static const char *
member(const cJSON *root, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsString(v))
		fail_msg("no string member \"%s\"", name);
	return v->valuestring;
}

static void
test_text(void **state)
{
	char buf[256];
	int n;

	(void)state;
	n = log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_WARN, "msg", NULL);
	assert_string_equal(buf, "graceinit: warn: msg");
	assert_int_equal(n, strlen(buf));

	n = log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_WARN, "msg", "err");
	assert_string_equal(buf, "graceinit: warn: msg: err");
	assert_int_equal(n, strlen(buf));
}

static void
test_text_levels(void **state)
{
	char buf[256];

	(void)state;
	log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_ERROR, "a", NULL);
	assert_string_equal(buf, "graceinit: error: a");
	log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_INFO, "b", NULL);
	assert_string_equal(buf, "graceinit: info: b");
	log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_DEBUG, "c", "No such file");
	assert_string_equal(buf, "graceinit: debug: c: No such file");
}

/* Text is written as is: the message is the caller's. */
static void
test_text_verbatim(void **state)
{
	char buf[256];

	(void)state;
	log_render(buf, sizeof(buf), LOG_FORMAT_TEXT, LOG_LEVEL_INFO, "say \"hi\"\\ 100%", NULL);
	assert_string_equal(buf, "graceinit: info: say \"hi\"\\ 100%");
}

static void
test_text_truncated(void **state)
{
	char buf[32];
	int n;

	(void)state;
	memset(buf, CANARY, sizeof(buf));
	n = log_render(buf, 16, LOG_FORMAT_TEXT, LOG_LEVEL_WARN, "a long message", "err");
	assert_int_equal(n, 15);
	assert_string_equal(buf, "graceinit: warn");
	assert_int_equal(buf[16], CANARY);
}

static void
test_json_fields(void **state)
{
	char buf[512];
	const char *ts;
	cJSON *root;

	(void)state;
	root = render_json(LOG_LEVEL_WARN, "child exited", NULL, buf, sizeof(buf));
	assert_string_equal(member(root, "level"), "warn");
	assert_string_equal(member(root, "msg"), "child exited");
	ts = member(root, "ts");
	/* RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z */
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
		ts[16] == ':' && ts[19] == '.' && ts[23] == 'Z');
	assert_int_equal(cJSON_GetArraySize(root), 3);
	assert_memory_equal(buf, "{\"ts\":\"", 7);
	cJSON_Delete(root);

	root = render_json(
		LOG_LEVEL_ERROR, "open config", "No such file or directory", buf, sizeof(buf));
	assert_string_equal(member(root, "level"), "error");
	assert_string_equal(member(root, "msg"), "open config: No such file or directory");
	cJSON_Delete(root);

	root = render_json(LOG_LEVEL_DEBUG, "", NULL, buf, sizeof(buf));
	assert_string_equal(member(root, "level"), "debug");
	assert_string_equal(member(root, "msg"), "");
	cJSON_Delete(root);
}

static void
test_json_escapes(void **state)
{
	static const char msg[] = "quote \" backslash \\ newline \n tab \t cr \r bell \a esc \x1b "
				  "unit sep \x1f slash / del \x7f end";
	char buf[1024];
	cJSON *root;

	(void)state;
	root = render_json(LOG_LEVEL_INFO, msg, "err \"x\"\n", buf, sizeof(buf));
	assert_null(strchr(buf, '\n'));
	assert_null(strchr(buf, '\t'));
	assert_null(strchr(buf, '\r'));
	assert_non_null(strstr(buf, "quote \\\" backslash \\\\ newline \\n tab \\u0009"));
	assert_non_null(strstr(buf, "esc \\u001b unit sep \\u001f"));
	assert_string_equal(member(root, "msg"),
		"quote \" backslash \\ newline \n tab \t cr \r bell \a esc \x1b unit sep \x1f "
		"slash / del \x7f end: err \"x\"\n");
	cJSON_Delete(root);
}

/* Every control character, one at a time. */
static void
test_json_every_control(void **state)
{
	char buf[256], msg[4];
	cJSON *root;
	int c;

	(void)state;
	for (c = 1; c < 0x20; c++) {
		msg[0] = 'a';
		msg[1] = (char)c;
		msg[2] = 'b';
		msg[3] = '\0';
		root = render_json(LOG_LEVEL_INFO, msg, NULL, buf, sizeof(buf));
		assert_string_equal(member(root, "msg"), msg);
		cJSON_Delete(root);
	}
}

static void
test_json_truncated(void **state)
{
	char buf[300], msg[2000];
	const char *got;
	cJSON *root;

	(void)state;
	/* Escapes of 2 and 6 bytes meet the end of the buffer at every alignment. */
	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = "ab\"\\\n\x01"[i % 6];
	msg[sizeof(msg) - 1] = '\0';
	root = render_json(LOG_LEVEL_WARN, msg, "the error", buf, sizeof(buf));
	got = member(root, "msg");
	assert_true(strlen(got) > 100);
	assert_memory_equal(got, msg, strlen(got));
	cJSON_Delete(root);
}

/*
 * Whatever the buffer size, log_render writes only inside it, and returns either -1 or the
 * length of a valid JSON line that fits. Checked with canary bytes after len.
 */
static void
test_json_small_buffers(void **state)
{
	char buf[400], copy[400];
	size_t len, i;
	cJSON *root;
	int n;

	(void)state;
	for (len = 1; len < 200; len++) {
		memset(buf, CANARY, sizeof(buf));
		n = log_render(buf, len, LOG_FORMAT_JSON, LOG_LEVEL_WARN,
			"a message \"quoted\" that is long enough to be cut", "err");
		for (i = len; i < sizeof(buf); i++)
			if (buf[i] != CANARY)
				fail_msg("len %zu: log_render wrote byte %zu, past the end of the "
					 "buffer (returned %d)",
					len, i, n);
		if (n < 0)
			continue;
		if ((size_t)n >= len || strlen(buf) != (size_t)n)
			fail_msg("len %zu: returned %d for a line of %zu bytes", len, n,
				strlen(buf));
		memcpy(copy, buf, (size_t)n + 1);
		root = cJSON_Parse(copy);
		if (root == NULL)
			fail_msg("len %zu: invalid JSON: %s", len, copy);
		cJSON_Delete(root);
	}
}

static void
test_enabled(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	assert_true(log_enabled(LOG_LEVEL_DEBUG));
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_levels),
		cmocka_unit_test(test_text_verbatim),
		cmocka_unit_test(test_text_truncated),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_every_control),
		cmocka_unit_test(test_json_truncated),
		cmocka_unit_test(test_json_small_buffers),
		cmocka_unit_test(test_enabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
