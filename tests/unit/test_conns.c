/*
 * test_conns.c: counting ESTABLISHED inbound connections from /proc/net/tcp and tcp6, on tables
 * captured from a real kernel (tests/fixtures/proc/capture/, see capture.py) and written by hand
 * for the edges (tests/fixtures/proc/README.md lists what each holds). Files that need more
 * than a few KiB (lines longer than count_file's buffer, tables crossing it many times) are
 * generated into a temporary directory, removed by the teardown. Then the polling itself, with
 * a real loop and a table the test rewrites.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conns.h"
#include "log.h"
#include "loop.h"

#ifndef FIXTURES_DIR
#error "FIXTURES_DIR must name tests/fixtures (tests/unit/CMakeLists.txt sets it)"
#endif

#define PROC_DIR     FIXTURES_DIR "/proc/"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TEXT_MAX     ((size_t)64 << 20) /* what a test builds with buf_printf */

#define HEADER4                                                                                    \
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "      \
	"timeout inode                                                     \n"
#define HEADER6                                                                                    \
	"  sl  local_address                         remote_address                        st "    \
	"tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
/* The fields after the state, as the kernel prints them for an ESTABLISHED socket. */
#define REST                                                                                       \
	" 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000000000000 20 4 30 " \
	"10 -1"

/* A line of a tcp table: slot, local port, state, all in hex as the kernel writes them. */
#define LINE4(sl, lport, st) "  " sl ": 1101F40A:" lport " 1702F40A:C350 " st REST
#define LINE6(sl, lport, st)                                                                       \
	"  " sl ": 100000FD010044020000000011000000:" lport                                        \
	" 100000FD020044020000000017000000:C350 " st REST

static const uint16_t p8080[] = { 8080 };
static const uint16_t p9797[] = { 9797 };
static const uint16_t p8443[] = { 8443 };
static const uint16_t all3[] = { 8080, 9797, 8443 };

/* One test's state. */
struct fx {
	char dir[256]; /* a temporary directory, or "" */
	char *bufs[8];
	int nbufs;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char path[300];
	int i;

	if (fx->dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/tcp", fx->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/tcp6", fx->dir);
		unlink(path);
		rmdir(fx->dir);
	}
	for (i = 0; i < fx->nbufs; i++)
		free(fx->bufs[i]);
	free(fx);
	return 0;
}

static char *
keep(struct fx *fx, char *p)
{
	assert_non_null(p);
	assert_true(fx->nbufs < (int)ARRAY_LEN(fx->bufs));
	fx->bufs[fx->nbufs++] = p;
	return p;
}

/* The text built in b (a test's own text: never near the limit). */
static char *
text_of(struct buf *b)
{
	assert_false(b->overflow);
	return b->data;
}

static void
text_repeat(struct buf *b, char c, size_t n)
{
	while (n-- > 0)
		buf_printf(b, "%c", c);
}

/* A fixture file, NUL-terminated. */
static char *
slurp(struct fx *fx, const char *rel, size_t *lenp)
{
	char path[512];
	FILE *f;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s%s", PROC_DIR, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open the fixture %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	buf = keep(fx, malloc((size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	*lenp = (size_t)len;
	return buf;
}

static const char *
tmpdir(struct fx *fx)
{
	const char *tmp = getenv("TMPDIR");

	if (fx->dir[0] == '\0') {
		snprintf(fx->dir, sizeof(fx->dir), "%s/graceinit-conns-XXXXXX",
			tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
		if (mkdtemp(fx->dir) == NULL) {
			fx->dir[0] = '\0';
			fail_msg("mkdtemp failed");
		}
	}
	return fx->dir;
}

/* Writes (replaces) DIR/name. */
static void
put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[300], tmp[310];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static int
line(const char *s, const uint16_t *ports, size_t nports)
{
	return conns_line(s, strlen(s), ports, nports);
}

/*
 * conns_line
 */

static void
test_line_headers(void **state)
{
	(void)state;
	assert_int_equal(line(HEADER4, all3, 3), 0);
	assert_int_equal(line(HEADER6, all3, 3), 0);
	assert_int_equal(line("", all3, 3), 0);
	assert_int_equal(line("   ", all3, 3), 0);
	assert_int_equal(line("\t", all3, 3), 0);
}

static void
test_line_states(void **state)
{
	static const struct {
		const char *st;
		int counted;
	} states[] = {
		{ "01", 1 },                          /* ESTABLISHED */
		{ "02", 0 },                          /* SYN_SENT */
		{ "03", 0 },                          /* SYN_RECV */
		{ "04", 0 },                          /* FIN_WAIT1 */
		{ "05", 0 },                          /* FIN_WAIT2 */
		{ "06", 0 },                          /* TIME_WAIT */
		{ "07", 0 },                          /* CLOSE */
		{ "08", 0 },                          /* CLOSE_WAIT */
		{ "09", 0 },                          /* LAST_ACK */
		{ "0A", 0 },                          /* LISTEN */
		{ "0a", 0 }, { "0B", 0 },             /* CLOSING */
		{ "0C", 0 },                          /* NEW_SYN_RECV */
		{ "11", 0 }, { "10", 0 }, { "1", 0 }, /* not two digits */
		{ "001", 0 },                         /* three */
		{ "0x1", 0 },                         /* not hex */
		{ "  01", 1 }, /* more blanks before it: still the fourth field */
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(states); i++) {
		snprintf(buf, sizeof(buf), "   3: 1101F40A:1F90 1702F40A:C350 %s%s", states[i].st,
			REST);
		if (line(buf, p8080, 1) != states[i].counted)
			fail_msg("state \"%s\": %d, expected %d", states[i].st, line(buf, p8080, 1),
				states[i].counted);
		snprintf(buf, sizeof(buf),
			"   3: 100000FD010044020000000011000000:1F90 "
			"100000FD020044020000000017000000:C350 %s%s",
			states[i].st, REST);
		if (line(buf, p8080, 1) != states[i].counted)
			fail_msg("tcp6, state \"%s\": %d, expected %d", states[i].st,
				line(buf, p8080, 1), states[i].counted);
	}
}

static void
test_line_ports(void **state)
{
	static const uint16_t many[] = { 1, 80, 443, 8080, 65535 };
	static const uint16_t max[] = { 65535 };

	(void)state;
	assert_int_equal(line(LINE4("0", "1F90", "01"), p8080, 1), 1);
	assert_int_equal(line(LINE4("0", "1F90", "01"), p9797, 1), 0);
	assert_int_equal(line(LINE4("0", "1F90", "01"), all3, 3), 1);
	assert_int_equal(line(LINE4("0", "1F90", "01"), many, ARRAY_LEN(many)), 1);
	assert_int_equal(line(LINE4("0", "0050", "01"), many, ARRAY_LEN(many)), 1);
	assert_int_equal(line(LINE4("0", "0001", "01"), many, ARRAY_LEN(many)), 1);
	assert_int_equal(line(LINE4("0", "FFFF", "01"), max, 1), 1);
	assert_int_equal(line(LINE4("0", "0051", "01"), many, ARRAY_LEN(many)), 0);
	/* No port asked: nothing counted. */
	assert_int_equal(line(LINE4("0", "1F90", "01"), p8080, 0), 0);
	assert_int_equal(line(LINE4("0", "1F90", "01"), NULL, 0), 0);
	/* The remote port is not the local one: an outbound connection to 8080. */
	assert_int_equal(line("   6: 1101F40A:C35A 0A00600A:1F90 01" REST, p8080, 1), 0);
	assert_int_equal(
		line("   6: 1101F40A:C35A 0A00600A:1F90 01" REST, (const uint16_t[]){ 0xC35A }, 1),
		1);
	/* A port of 3 or 5 hex digits is not a port of this format. */
	assert_int_equal(line("   0: 1101F40A:F90 1702F40A:C350 01" REST, p8080, 1), 0);
	assert_int_equal(line("   0: 1101F40A:01F90 1702F40A:C350 01" REST, p8080, 1), 0);
	assert_int_equal(line("   0: 1101F40A:1F9G 1702F40A:C350 01" REST, p8080, 1), 0);
}

static void
test_line_tcp6(void **state)
{
	(void)state;
	assert_int_equal(line(LINE6("0", "1F90", "01"), p8080, 1), 1);
	assert_int_equal(line(LINE6("0", "1F90", "0A"), p8080, 1), 0);
	assert_int_equal(line(LINE6("0", "20FB", "01"), p8443, 1), 1);
	/* A v4-mapped address (an IPv4 client of a dual-stack socket). */
	assert_int_equal(line("   2: 0000000000000000FFFF00000100007F:20FB "
			      "0000000000000000FFFF00000100007F:B80A 01" REST,
				 p8443, 1),
		1);
	/* The kernel's slots reach many digits. */
	assert_int_equal(line("  1234: 100000FD010044020000000011000000:1F90 "
			      "100000FD020044020000000017000000:C350 01" REST,
				 p8080, 1),
		1);
}

static void
test_line_lower_case(void **state)
{
	(void)state;
	assert_int_equal(line("   1: 1101f40a:1f90 1702f40a:c350 01" REST, p8080, 1), 1);
	assert_int_equal(line("   1: 1101f40a:20fb 1702f40a:c350 01" REST, p8443, 1), 1);
	assert_int_equal(line("   1: 1101F40A:1f90 1702F40A:C350 01" REST, p8080, 1), 1);
	assert_int_equal(line("   1: 1101f40a:1F90 1702f40a:c350 01" REST, p8080, 1), 1);
	assert_int_equal(line("   1: 100000fd010044020000000011000000:1f90 "
			      "100000fd020044020000000017000000:c350 01" REST,
				 p8080, 1),
		1);
	assert_int_equal(line("   1: 1101f40a:1f90 1702f40a:c350 0a" REST, p8080, 1), 0);
}

/* Lines cut anywhere: counted only when the state is whole. */
static void
test_line_truncated(void **state)
{
	const char *full = LINE4("7", "1F90", "01");
	size_t state_end = strlen("  7: 1101F40A:1F90 1702F40A:C350 01");
	size_t n;

	(void)state;
	for (n = 0; n <= strlen(full); n++) {
		/* An exact copy, no NUL after it: a read past len shows with ASan. */
		char *copy = malloc(n + 1);
		int want = n >= state_end ? 1 : 0;

		assert_non_null(copy);
		memcpy(copy, full, n);
		if (conns_line(copy, n, p8080, 1) != want) {
			free(copy);
			fail_msg("the line cut to %zu bytes: %d, expected %d", n, !want, want);
		}
		free(copy);
	}
	/* len is obeyed even when the text goes on. */
	assert_int_equal(conns_line(full, state_end - 1, p8080, 1), 0);
	assert_int_equal(conns_line(full, state_end, p8080, 1), 1);
}

static void
test_line_garbage(void **state)
{
	static const char *const cases[] = {
		"0:",
		"  1: nonsense",
		"  1:",
		"  1: 1101F40A",
		"  1: 1101F40A 1702F40A 01",
		"  1: 1101F40A:",
		"  1: 1101F40A:1F90",
		"  1: 1101F40A:1F90 ",
		"  1: 1101F40A:1F90 1702F40A:C350",
		"  1: 1101F40A:1F90 1702F40A:C350 ",
		"  1: 1101F40A:1F90 1702F40A:C350 ZZ",
		"x 1: 1101F40A:1F90 1702F40A:C350 01",
		"sl: 1101F40A:1F90 1702F40A:C350 01",
		"::::::::",
		"9999999999999999999999999999999999999999",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (line(cases[i], all3, 3) != 0)
			fail_msg("\"%s\" was counted", cases[i]);
}

/*
 * conns_count_text
 */

static void
test_count_text_capture(void **state)
{
	struct fx *fx = *state;
	size_t len4, len6;
	const char *tcp = slurp(fx, "capture/tcp", &len4);
	const char *tcp6 = slurp(fx, "capture/tcp6", &len6);

	assert_int_equal(conns_count_text(tcp, len4, p8080, 1), 3);
	assert_int_equal(conns_count_text(tcp, len4, p9797, 1), 2);
	assert_int_equal(conns_count_text(tcp, len4, p8443, 1), 0);
	assert_int_equal(conns_count_text(tcp, len4, all3, 3), 5);
	assert_int_equal(conns_count_text(tcp6, len6, p8443, 1), 3);
	assert_int_equal(conns_count_text(tcp6, len6, p8080, 1), 0);
	assert_int_equal(conns_count_text(tcp6, len6, all3, 3), 3);
	/* A client's side counts for its own (ephemeral) port only; FIN_WAIT2 does not. */
	assert_int_equal(conns_count_text(tcp, len4, (const uint16_t[]){ 0xE172 }, 1), 1);
	assert_int_equal(conns_count_text(tcp, len4, (const uint16_t[]){ 0xE196 }, 1), 0);
	assert_int_equal(conns_count_text(tcp, len4, (const uint16_t[]){ 1234 }, 1), 0);
	assert_int_equal(conns_count_text(tcp, len4, all3, 0), 0);
	/* Empty text, a header alone, the header without its newline. */
	assert_int_equal(conns_count_text("", 0, all3, 3), 0);
	assert_int_equal(conns_count_text(HEADER4, strlen(HEADER4), all3, 3), 0);
	assert_int_equal(conns_count_text(HEADER6, strlen(HEADER6) - 1, all3, 3), 0);
}

static void
test_count_text_edges(void **state)
{
	struct fx *fx = *state;
	size_t len;
	const char *tcp = slurp(fx, "only-tcp/tcp", &len);
	const char *tcp6 = slurp(fx, "only-tcp6/tcp6", &len);
	const char *two = LINE4("0", "1F90", "01") "\n" LINE4("1", "1F90", "01");
	const char *crlf = LINE4("0", "1F90", "01") "\r\n" LINE4("1", "1F90", "01") "\r\n";
	const char *blank =
		"\n\n" LINE4("0", "1F90", "01") "\n\n\n" LINE4("1", "1F90", "01") "\n\n";

	assert_int_equal(conns_count_text(tcp, strlen(tcp), p8080, 1), 2);
	assert_int_equal(conns_count_text(tcp, strlen(tcp), (const uint16_t[]){ 80 }, 1), 1);
	assert_int_equal(conns_count_text(tcp, strlen(tcp), (const uint16_t[]){ 0xC35A }, 1), 1);
	assert_int_equal(conns_count_text(tcp6, strlen(tcp6), p8080, 1), 3);
	assert_int_equal(conns_count_text(tcp6, strlen(tcp6), p8443, 1), 1);
	/* The last line without its newline still counts; cut by len, it does not. */
	assert_int_equal(conns_count_text(two, strlen(two), p8080, 1), 2);
	assert_int_equal(conns_count_text(two, strlen(two) - strlen(REST) - 1, p8080, 1), 1);
	assert_int_equal(conns_count_text(crlf, strlen(crlf), p8080, 1), 2);
	assert_int_equal(conns_count_text(blank, strlen(blank), p8080, 1), 2);
}

/*
 * conns_count: the files themselves
 */

static void
test_count_capture(void **state)
{
	(void)state;
	assert_int_equal(conns_count(PROC_DIR "capture", p8080, 1), 3);
	assert_int_equal(conns_count(PROC_DIR "capture", p9797, 1), 2);
	assert_int_equal(conns_count(PROC_DIR "capture", p8443, 1), 3);
	assert_int_equal(conns_count(PROC_DIR "capture", all3, 3), 8);
	assert_int_equal(conns_count(PROC_DIR "capture", all3, 0), 0);
	assert_int_equal(conns_count(PROC_DIR "capture", (const uint16_t[]){ 0xE172 }, 1), 1);
	/* This machine's own table can be read (the count is whatever it is). */
	assert_true(conns_count("/proc/self/net", all3, 3) >= 0);
}

static void
test_count_missing_files(void **state)
{
	(void)state;
	/* One file missing: the other's count. */
	assert_int_equal(conns_count(PROC_DIR "only-tcp", p8080, 1), 2);
	assert_int_equal(conns_count(PROC_DIR "only-tcp", (const uint16_t[]){ 80 }, 1), 1);
	assert_int_equal(conns_count(PROC_DIR "only-tcp6", p8080, 1), 3);
	assert_int_equal(conns_count(PROC_DIR "only-tcp6", p8443, 1), 1);
	assert_int_equal(conns_count(PROC_DIR "only-tcp6", all3, 3), 4);
	/* Both there but empty: 0, not -1. */
	assert_int_equal(conns_count(PROC_DIR "header-only", all3, 3), 0);
	assert_int_equal(conns_count(PROC_DIR "only-tcp", p9797, 1), 0);
	/* Neither: -1, whatever the ports. */
	assert_int_equal(conns_count(PROC_DIR "nonexistent", p8080, 1), -1);
	assert_int_equal(conns_count(PROC_DIR "nonexistent", all3, 0), -1);
	assert_int_equal(conns_count("/nonexistent/proc/net", all3, 3), -1);
	/* A directory where the files should be is not a table. */
	assert_int_equal(conns_count(PROC_DIR, all3, 3), -1);
}

/* Tables bigger than count_file's 16 KiB buffer: lines cut by every read are carried over. */
static void
test_count_large_tables(void **state)
{
	struct fx *fx = *state;
	const char *dir = tmpdir(fx);
	struct buf t4 = { .max = TEXT_MAX }, t6 = { .max = TEXT_MAX };
	long want8080 = 0, want9797 = 0;
	int i;

	buf_printf(&t4, HEADER4);
	buf_printf(&t6, HEADER6);
	for (i = 0; i < 3000; i++) {
		static const char *const st[] = { "01", "06", "0A", "01", "08", "01", "03" };
		const char *s = st[i % ARRAY_LEN(st)];
		unsigned port = i % 3 == 0 ? 8080 : i % 3 == 1 ? 9797 : 40000u + (unsigned)i;

		/* Slot numbers of growing width make the lines cross the buffer anywhere. */
		buf_printf(&t4, "%*d: 1101F40A:%04X 1702F40A:%04X %s" REST "\n", 4, i, port,
			(unsigned)(32768 + i), s);
		buf_printf(&t6,
			"%*d: 100000FD010044020000000011000000:%04X "
			"100000FD020044020000000017000000:%04X %s" REST "%s",
			i % 7 + 1, i, port, (unsigned)(32768 + i), s, i % 5 ? "\n" : "\n\n");
		if (strcmp(s, "01") == 0 && port == 8080)
			want8080 += 2;
		if (strcmp(s, "01") == 0 && port == 9797)
			want9797 += 2;
	}
	keep(fx, text_of(&t4));
	keep(fx, text_of(&t6));
	assert_true(t4.len > 10 * 16384);
	put(dir, "tcp", t4.data, t4.len);
	put(dir, "tcp6", t6.data, t6.len);
	assert_int_equal(conns_count_text(t4.data, t4.len, p8080, 1) +
			conns_count_text(t6.data, t6.len, p8080, 1),
		want8080);
	assert_int_equal(conns_count(dir, p8080, 1), want8080);
	assert_int_equal(conns_count(dir, p9797, 1), want9797);
	assert_int_equal(conns_count(dir, all3, 3), want8080 + want9797);
}

/*
 * Lines longer than count_file's buffer (and its 512-byte line limit) between valid lines: the
 * valid lines around them are all counted.
 */
static void
test_count_long_lines(void **state)
{
	static const size_t sizes[] = { 200, 511, 512, 513, 1000, 16383, 16384, 16385, 40000,
		100000 };
	struct fx *fx = *state;
	const char *dir = tmpdir(fx);
	struct buf t = { .max = TEXT_MAX }, t6 = { .max = TEXT_MAX };
	size_t i;

	buf_printf(&t, HEADER4 LINE4("0", "1F90", "01") "\n");
	for (i = 0; i < ARRAY_LEN(sizes); i++) {
		text_repeat(&t, 'x', sizes[i]);
		buf_printf(&t, "\n" LINE4("1", "1F90", "01") "\n");
	}
	/* A long line with no newline at all at the end. */
	text_repeat(&t, 'y', 30000);
	keep(fx, text_of(&t));
	put(dir, "tcp", t.data, t.len);
	assert_int_equal(conns_count_text(t.data, t.len, p8080, 1), 1 + (long)ARRAY_LEN(sizes));
	assert_int_equal(conns_count(dir, p8080, 1), 1 + (long)ARRAY_LEN(sizes));

	/* The same in tcp6, with the valid lines right after the long ones, no blank. */
	buf_printf(&t6, HEADER6);
	for (i = 0; i < ARRAY_LEN(sizes); i++) {
		text_repeat(&t6, ' ', sizes[i]);
		buf_printf(&t6, "\n" LINE6("2", "1F90", "01") "\n" LINE6("3", "1F90", "06") "\n");
	}
	keep(fx, text_of(&t6));
	put(dir, "tcp6", t6.data, t6.len);
	assert_int_equal(conns_count(dir, p8080, 1), 1 + 2 * (long)ARRAY_LEN(sizes));
}

/*
 * The tail of a line too long for the buffer is not a line of its own: conns_count must give
 * what conns_count_text gives for the same text. Here the long line ends with what looks like
 * an ESTABLISHED entry on 8080, placed so that it starts exactly where count_file's second
 * read begins (after the first 16384 bytes, whose partial line it drops).
 */
static void
test_count_long_line_tail_not_a_line(void **state)
{
	struct fx *fx = *state;
	const char *dir = tmpdir(fx);
	struct buf t = { .max = TEXT_MAX };
	long text, file;

	buf_printf(&t, HEADER4 LINE4("0", "1F90", "01") "\n");
	text_repeat(&t, 'x', 16384 - t.len);
	buf_printf(&t, LINE4("9", "1F90", "01") "\n" LINE4("1", "1F90", "01") "\n");
	keep(fx, text_of(&t));
	put(dir, "tcp", t.data, t.len);
	text = conns_count_text(t.data, t.len, p8080, 1);
	file = conns_count(dir, p8080, 1);
	assert_int_equal(text, 2);
	if (file != text)
		fail_msg("conns_count counted %ld connections, conns_count_text %ld: the tail of "
			 "a %zu-byte line was read as a line",
			file, text,
			16384 - strlen(HEADER4) - strlen(LINE4("0", "1F90", "01")) - 1 +
				strlen(LINE4("9", "1F90", "01")));
}

/*
 * The struct conns: its defaults and the polling with a real loop
 */

static void
test_init_defaults(void **state)
{
	struct conns c;
	uint16_t ports[20];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(ports); i++)
		ports[i] = (uint16_t)(8000 + i);
	memset(&c, 0xa5, sizeof(c));
	conns_init(&c, NULL, ports, ARRAY_LEN(ports), NULL, NULL);
	assert_int_equal(c.nports, CONNS_MAX_PORTS);
	for (i = 0; i < CONNS_MAX_PORTS; i++)
		assert_int_equal(c.ports[i], 8000 + i);
	assert_int_equal(c.last, -1);
	assert_int_equal(c.interval_ms, 100);
	assert_string_equal(c.proc_net, "/proc/net");
	assert_false(c.active);
	assert_false(loop_timer_armed(&c.timer));
	conns_stop(&c);

	/* No port: conns_start does nothing at all. */
	conns_init(&c, NULL, ports, 0, NULL, NULL);
	conns_start(&c);
	assert_false(c.active);
	assert_int_equal(c.last, -1);
}

struct poll {
	struct loop loop;
	struct conns c;
	struct loop_timer guard;
	const char *dir;
	long seen[8];
	int nseen;
	const char *tables[3]; /* what the table becomes after each count */
};

static void
on_changed(void *arg)
{
	struct poll *p = arg;

	assert_true(p->nseen < (int)ARRAY_LEN(p->seen));
	p->seen[p->nseen] = p->c.last;
	if (p->nseen < (int)ARRAY_LEN(p->tables) && p->tables[p->nseen] != NULL)
		put(p->dir, "tcp", p->tables[p->nseen], strlen(p->tables[p->nseen]));
	p->nseen++;
	if (p->c.last == 0)
		loop_stop(&p->loop, 0);
}

static void
on_guard(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop, 1);
}

#define TWO  HEADER4 LINE4("0", "1F90", "01") "\n" LINE4("1", "1F90", "01") "\n"
#define ONE  HEADER4 LINE4("0", "1F90", "01") "\n" LINE4("1", "1F90", "06") "\n"
#define NONE HEADER4 LINE4("0", "1F90", "0A") "\n"

static void
test_poll_until_none(void **state)
{
	struct fx *fx = *state;
	struct poll *p = calloc(1, sizeof(*p));
	int rc;

	assert_non_null(p);
	keep(fx, (char *)p);
	p->dir = tmpdir(fx);
	p->tables[0] = ONE;
	p->tables[1] = NONE;
	put(p->dir, "tcp", TWO, strlen(TWO));
	assert_int_equal(loop_init(&p->loop), 0);
	conns_init(&p->c, &p->loop, p8080, 1, on_changed, p);
	p->c.proc_net = p->dir;
	p->c.interval_ms = 10;
	loop_timer_init(&p->guard, on_guard, p);
	loop_timer_at(&p->loop, &p->guard, loop_now_ms() + 5000);

	/* The first count is taken at once. */
	conns_start(&p->c);
	assert_int_equal(p->nseen, 1);
	assert_int_equal(p->seen[0], 2);
	assert_true(p->c.active);
	assert_true(loop_timer_armed(&p->c.timer));
	conns_start(&p->c); /* already polling: nothing */
	assert_int_equal(p->nseen, 1);

	rc = loop_run(&p->loop);
	loop_timer_cancel(&p->loop, &p->guard);
	conns_stop(&p->c);
	loop_close(&p->loop);
	assert_int_equal(rc, 0);
	assert_int_equal(p->nseen, 3);
	assert_int_equal(p->seen[1], 1);
	assert_int_equal(p->seen[2], 0);
	assert_false(p->c.active);
	assert_false(loop_timer_armed(&p->c.timer));
}

/* Tables that cannot be read count as no connection: the wait ends, it never hangs. */
static void
test_poll_unreadable(void **state)
{
	struct fx *fx = *state;
	struct poll *p = calloc(1, sizeof(*p));

	(void)fx;
	assert_non_null(p);
	keep(fx, (char *)p);
	assert_int_equal(loop_init(&p->loop), 0);
	conns_init(&p->c, &p->loop, all3, 3, on_changed, p);
	p->c.proc_net = PROC_DIR "nonexistent";
	conns_start(&p->c);
	assert_int_equal(p->nseen, 1);
	assert_int_equal(p->seen[0], 0);
	assert_false(p->c.active);
	assert_false(loop_timer_armed(&p->c.timer));

	/* Started again with connections: counted, then stopped from outside. */
	p->c.proc_net = PROC_DIR "capture";
	conns_start(&p->c);
	assert_int_equal(p->nseen, 2);
	assert_int_equal(p->seen[1], 8);
	assert_true(loop_timer_armed(&p->c.timer));
	conns_stop(&p->c);
	assert_false(p->c.active);
	assert_false(loop_timer_armed(&p->c.timer));
	loop_close(&p->loop);
}

#define CONNS_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CONNS_TEST(test_line_headers),
		CONNS_TEST(test_line_states),
		CONNS_TEST(test_line_ports),
		CONNS_TEST(test_line_tcp6),
		CONNS_TEST(test_line_lower_case),
		CONNS_TEST(test_line_truncated),
		CONNS_TEST(test_line_garbage),
		CONNS_TEST(test_count_text_capture),
		CONNS_TEST(test_count_text_edges),
		CONNS_TEST(test_count_capture),
		CONNS_TEST(test_count_missing_files),
		CONNS_TEST(test_count_large_tables),
		CONNS_TEST(test_count_long_lines),
		CONNS_TEST(test_count_long_line_tail_not_a_line),
		CONNS_TEST(test_init_defaults),
		CONNS_TEST(test_poll_until_none),
		CONNS_TEST(test_poll_unreadable),
	};

	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
