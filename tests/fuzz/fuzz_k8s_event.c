/*
 * fuzz_k8s_event.c: k8s_parse_event on one watch event line, applied to a view that already
 * holds slices of the pod (as after a list), NUL-terminated as k8s.c's line buffer is. A line
 * that is not an event must fail with a message; an ERROR event gives its code.
 */
#include "k8s_check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct k8s_pod pod = { FUZZ_POD_NAME, FUZZ_POD_IP, FUZZ_NAMESPACE };
	static const char *const seeded[] = { "web-fd2kx", "web-ipv6-q8rzt", "api-7hw2p" };
	char *line = fuzz_string(data, size), err[256];
	struct k8s_view v;
	enum k8s_event ev = K8S_ADDED;
	int code = 0, rc;
	size_t i;

	k8s_view_init(&v);
	v.cap = 4;
	if ((v.v = calloc(v.cap, sizeof(*v.v))) == NULL)
		abort();
	for (i = 0; i < sizeof(seeded) / sizeof(seeded[0]); i++) {
		snprintf(v.v[i].name, sizeof(v.v[i].name), "%s", seeded[i]);
		v.v[i].ready = i != 1;
	}
	v.n = i;
	snprintf(v.resource_version, sizeof(v.resource_version), "4811906");
	err[0] = '\0';
	rc = k8s_parse_event(&v, line, size, &pod, &ev, &code, err, sizeof(err));
	if (rc < 0)
		FUZZ_CHECK(err[0] != '\0');
	else
		FUZZ_CHECK(ev >= K8S_ADDED && ev <= K8S_ERROR);
	fuzz_check_view(&v);
	(void)k8s_view_pod_ready(&v);
	k8s_view_free(&v);
	free(line);
	return 0;
}
