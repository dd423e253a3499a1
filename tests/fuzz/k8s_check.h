/*
 * k8s_check.h: the pod the EndpointSlice fixtures describe (tests/fixtures/README.md) and what
 * a view must satisfy after any input, for the k8s fuzz targets.
 */
#ifndef GRACEINIT_FUZZ_K8S_CHECK_H
#define GRACEINIT_FUZZ_K8S_CHECK_H

#include "fuzz.h"
#include "k8s_parse.h"

#define FUZZ_POD_NAME  "web-6d8f7b9c5d-4xq2m"
#define FUZZ_POD_IP    "10.244.1.17"
#define FUZZ_NAMESPACE "shop"

/* Only the slices listing the pod are kept, each once, by a NUL-terminated name. */
static inline void
fuzz_check_view(const struct k8s_view *v)
{
	size_t i, j;

	FUZZ_CHECK(v->n <= v->cap);
	FUZZ_CHECK(v->n == 0 || v->v != NULL);
	FUZZ_CHECK(memchr(v->resource_version, '\0', sizeof(v->resource_version)) != NULL);
	for (i = 0; i < v->n; i++) {
		FUZZ_CHECK(memchr(v->v[i].name, '\0', sizeof(v->v[i].name)) != NULL);
		for (j = i + 1; j < v->n; j++)
			FUZZ_CHECK(strcmp(v->v[i].name, v->v[j].name) != 0);
	}
}

#endif
