/*
 * fuzz_config.c: the --config JSON file. The input is the file's content, written to a memfd
 * that conf_parse reads through /proc/self/fd as it reads any file; the command line only
 * names it and a command.
 */
#include "conf_check.h"

static struct fuzz_conf_file file = { .fd = -1 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_conf_open(&file);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "graceinit", "--config", file.path, "--", "true", NULL };
	char *envp[] = { NULL };
	char err[1024];
	struct conf c;
	enum conf_result r;

	if (file.fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_conf_write(&file, data, size);
	r = conf_parse(&c, 5, argv, envp, err, sizeof(err));
	fuzz_check_conf(r, &c, err, file.devnull);
	conf_free(&c);
	return 0;
}
