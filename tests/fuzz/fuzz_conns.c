/*
 * fuzz_conns.c: the /proc/net/tcp parser, on text (conns_count_text, conns_line) and on a file
 * (conns_count, which streams through a fixed 16 KiB buffer and carries a partial line over).
 * The file holds the input several times, newline-separated, so that lines straddle reads at
 * every offset; when no line reaches the 512-byte limit of the file reader, both must count
 * the same. The file lives in a directory of its own under $TMPDIR (or /tmp), removed at exit.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conns.h"
#include "fuzz.h"

#define FILE_MIN   40000 /* over two reads of conns.c's buffer */
#define LINE_LIMIT 512   /* conns.c's CONNS_LINE_MAX */

/* 8080, 9797, 8443, 80 and 50010: the ports of tests/fixtures/proc/. */
static const uint16_t ports[] = { 8080, 9797, 8443, 80, 50010 };
#define NPORTS (sizeof(ports) / sizeof(ports[0]))

static char dir[256], path[300];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/graceinit-fuzz-conns.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/tcp", dir);
	atexit(cleanup);
	return 0;
}

static size_t
longest_line(const uint8_t *data, size_t size)
{
	size_t longest = 0, cur = 0, i;

	for (i = 0; i < size; i++) {
		cur = data[i] == '\n' ? 0 : cur + 1;
		if (cur > longest)
			longest = cur;
	}
	return longest;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long text, file, lines = 0;
	size_t copies = 1 + FILE_MIN / (size + 1), i, off = 0;
	const uint8_t *p = data, *end = data + size;
	int fd;

	if (dir[0] == '\0')
		LLVMFuzzerInitialize(NULL, NULL);
	text = conns_count_text((const char *)data, size, ports, NPORTS);
	FUZZ_CHECK(text >= 0);
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lines += conns_line((const char *)p, l, ports, NPORTS);
		p += nl ? l + 1 : l;
	}
	FUZZ_CHECK(lines == text);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		abort();
	for (i = 0; i < copies; i++) {
		if (pwrite(fd, data, size, (off_t)off) != (ssize_t)size ||
			pwrite(fd, "\n", 1, (off_t)(off + size)) != 1)
			abort();
		off += size + 1;
	}
	close(fd);
	file = conns_count(dir, ports, NPORTS);
	FUZZ_CHECK(file >= 0);
	if (longest_line(data, size) < LINE_LIMIT)
		FUZZ_CHECK(file == text * (long)copies);
	return 0;
}
