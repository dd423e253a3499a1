/*
 * fuzz_option.c: one option and its value, "NAME=VALUE", the surface of every value checker:
 * signal rewrites (--rewrite FROM:TO, --exit-remap, --stop-signal), durations, HOST:PORT
 * listen addresses, URLs, 'METHOD URL' webhooks, headers, Service names, ports, enums. The
 * same text is given as the flag --NAME=VALUE, then as the variable GRACEINIT_NAME=VALUE.
 * --config is left out: it names a file (fuzz_config and fuzz_cmdline give it a memfd).
 */
#include <ctype.h>
#include <strings.h>

#include "conf_check.h"
#include "log.h"

static void
parse(char *const argv[], int argc, char *const envp[])
{
	char err[1024];
	struct conf c;
	enum conf_result r;

	r = conf_parse(&c, argc, argv, envp, err, sizeof(err));
	fuzz_check_conf(r, &c, err, NULL);
	conf_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *flag, *env, *p;
	char *eq = strchr(text, '=');

	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	/* --config names a file to read (GRACEINIT_CONFIG, in any case here, too). */
	if (strncasecmp(text, "config", 6) == 0 && (text[6] == '=' || text[6] == '\0')) {
		free(text);
		return 0;
	}
	if (asprintf(&flag, "--%s", text) < 0 || asprintf(&env, "GRACEINIT_%s", text) < 0)
		abort();
	/* GRACEINIT_STOP_SIGNAL: the name in upper case with '_' for '-', up to the '='. */
	for (p = env + 10; eq != NULL && *p != '\0' && *p != '='; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	{
		char *argv[] = { "graceinit", flag, "--", "true", NULL };
		char *argv_env[] = { "graceinit", "--", "true", NULL };
		char *envp[] = { env, NULL };
		char *none[] = { NULL };

		parse(argv, 4, none);
		if (eq != NULL)
			parse(argv_env, 3, envp);
	}
	free(flag);
	free(env);
	free(text);
	return 0;
}
