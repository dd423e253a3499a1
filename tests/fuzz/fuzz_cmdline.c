/*
 * fuzz_cmdline.c: conf_parse on a whole command line and environment, as the kernel hands
 * them to graceinit. The input is NUL-separated strings, as in /proc/PID/cmdline: the
 * arguments after argv[0], an empty string, the environment, an empty string, then the bytes
 * of the --config file. Every config path named (--config X, --config=X, GRACEINIT_CONFIG=X)
 * is pointed at a memfd holding those bytes, so no other file is ever read.
 */
#include "conf_check.h"

#define MAX_STRINGS 512

static struct fuzz_conf_file file = { .fd = -1 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_conf_open(&file);
	return 0;
}

/* "NAME=VALUE" with a non-empty value becomes "NAME=<the memfd>", in a new string. */
static char *
redirect(const char *s, const char *prefix, char **owned, size_t *nowned)
{
	size_t n = strlen(prefix);
	char *r;

	if (strncmp(s, prefix, n) != 0 || s[n] == '\0')
		return (char *)s;
	if (asprintf(&r, "%s%s", prefix, file.path) < 0)
		abort();
	owned[(*nowned)++] = r;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *argv[MAX_STRINGS + 2], *envp[MAX_STRINGS + 1];
	char *owned[2 * MAX_STRINGS], err[1024];
	size_t off = 0, argc = 1, envc = 0, nowned = 0, i;
	const char *config = "";
	size_t config_len = 0;
	int section = 0;
	struct conf c;
	enum conf_result r;

	if (file.fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	argv[0] = "graceinit";
	while (off < size && section < 2) {
		char *s = text + off;
		size_t len = strnlen(s, size - off);

		off += len + 1;
		if (len == 0) {
			section++;
			continue;
		}
		if (section == 0 && argc < MAX_STRINGS + 1)
			argv[argc++] = s;
		else if (section == 1 && envc < MAX_STRINGS)
			envp[envc++] = s;
	}
	if (section == 2 && off < size) {
		config = text + off;
		config_len = size - off;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			argv[++i] = file.path;
		else
			argv[i] = redirect(argv[i], "--config=", owned, &nowned);
	}
	for (i = 0; i < envc; i++)
		envp[i] = redirect(envp[i], "GRACEINIT_CONFIG=", owned, &nowned);
	fuzz_conf_write(&file, config, config_len);

	r = conf_parse(&c, (int)argc, argv, envp, err, sizeof(err));
	fuzz_check_conf(r, &c, err, file.devnull);
	conf_free(&c);

	for (i = 0; i < nowned; i++)
		free(owned[i]);
	free(text);
	return 0;
}
