/*
 * fuzz_config.c: the --config JSON file. The input is the file's content, written to a memfd
 * that conf_parse reads through /proc/self/fd as it reads any file; the command line only
 * names it and a command.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "conf_check.h"
#include "log.h"

static int config_fd = -1;
static char config_path[64];
static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	if ((config_fd = memfd_create("graceinit-fuzz-config", MFD_CLOEXEC)) < 0)
		abort();
	snprintf(config_path, sizeof(config_path), "/proc/self/fd/%d", config_fd);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "graceinit", "--config", config_path, "--", "true", NULL };
	char *envp[] = { NULL };
	char err[1024];
	struct conf c;
	enum conf_result r;

	if (config_fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(config_fd, 0) < 0 || pwrite(config_fd, data, size, 0) != (ssize_t)size)
		abort();
	r = conf_parse(&c, 5, argv, envp, err, sizeof(err));
	fuzz_check_conf(r, &c, err, devnull);
	conf_free(&c);
	return 0;
}
