/*
 * conf_check.h: what every configuration conf_parse accepts must satisfy, and what is done
 * with one afterwards (the /status JSON of the options, the plan), for the conf fuzz targets.
 */
#ifndef GRACEINIT_FUZZ_CONF_CHECK_H
#define GRACEINIT_FUZZ_CONF_CHECK_H

#include <cjson/cJSON.h>
#include <ctype.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"
#include "plan.h"

/* The --config file of the conf targets: a memfd, so that no other file is ever read. */
struct fuzz_conf_file {
	int fd; /* -1 until fuzz_conf_open */
	char path[64];
	FILE *devnull; /* where the plan is printed */
};

static inline void
fuzz_conf_open(struct fuzz_conf_file *f)
{
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	if ((f->fd = memfd_create("graceinit-fuzz-config", MFD_CLOEXEC)) < 0)
		abort();
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	if ((f->devnull = fopen("/dev/null", "w")) == NULL)
		abort();
}

static inline void
fuzz_conf_write(const struct fuzz_conf_file *f, const void *data, size_t len)
{
	if (ftruncate(f->fd, 0) < 0 || pwrite(f->fd, data, len, 0) != (ssize_t)len)
		abort();
}

static inline void
fuzz_check_port(const char *port)
{
	const char *p;

	FUZZ_CHECK(*port != '\0');
	for (p = port; *p != '\0'; p++)
		FUZZ_CHECK(isdigit((unsigned char)*p));
	FUZZ_CHECK(strtol(port, NULL, 10) >= 1 && strtol(port, NULL, 10) <= 65535);
}

/* The result of conf_parse: an accepted configuration is consistent, a refusal says why. */
static inline void
fuzz_check_conf(enum conf_result r, const struct conf *c, const char *err, FILE *devnull)
{
	char host[256];
	size_t i;
	cJSON *j;
	int s;

	if (r == CONF_ERROR) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	if (r != CONF_RUN && r != CONF_PLAN)
		return;
	FUZZ_CHECK(c->argv != NULL || c->sidecar || c->plan);
	FUZZ_CHECK(c->kill_margin_ms < c->grace_period_ms);
	FUZZ_CHECK(c->stop_signal >= 0 && c->stop_signal < SIGNALS_MAX);
	for (s = 0; s < SIGNALS_MAX; s++)
		FUZZ_CHECK(c->rewrite.to[s] >= 0 && c->rewrite.to[s] < SIGNALS_MAX);
	for (s = 0; s < 256; s++)
		FUZZ_CHECK(c->exit_remap[s] >= 0 && c->exit_remap[s] <= 255);
	FUZZ_CHECK(c->drain_connections.n <= 16);
	for (i = 0; i < c->drain_connections.n; i++)
		fuzz_check_port(c->drain_connections.v[i]);
	/* http.c and probe.c split these without checking again. */
	if (c->http != NULL)
		fuzz_check_port(conf_split_hostport(c->http, host, sizeof(host)));
	if (c->ready_tcp != NULL)
		fuzz_check_port(conf_split_hostport(c->ready_tcp, host, sizeof(host)));
	if (c->control_socket != NULL)
		FUZZ_CHECK(strlen(c->control_socket) <= 107);
	FUZZ_CHECK(c->watchdog_ms == 0 || c->notify);
	if ((j = conf_json(c)) == NULL)
		abort();
	cJSON_Delete(j);
	if (devnull != NULL)
		plan_print(c, devnull);
}

#endif
