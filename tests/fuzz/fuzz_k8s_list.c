/*
 * fuzz_k8s_list.c: k8s_parse_list on EndpointSliceList pages, as a list (paged with limit and
 * continue) reads them into one view. The input is the pages' bodies separated by form feeds
 * (not JSON white space, so no page contains one); each page is NUL-terminated as the body
 * buffer of k8s.c is. A page that fails ends the list, as in k8s.c.
 */
#include "k8s_check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct k8s_pod pods[] = {
		{ FUZZ_POD_NAME, FUZZ_POD_IP, FUZZ_NAMESPACE },
		{ NULL, "fd00:10:244:1::11", NULL },
	};
	const uint8_t *end = data + size;
	char cont[1024], err[256];
	struct k8s_view pending, view;
	size_t p;

	for (p = 0; p < sizeof(pods) / sizeof(pods[0]); p++) {
		const uint8_t *page = data;

		k8s_view_init(&pending);
		k8s_view_init(&view);
		for (;;) {
			const uint8_t *ff = memchr(page, '\f', (size_t)(end - page));
			size_t len = ff ? (size_t)(ff - page) : (size_t)(end - page);
			char *body = malloc(len + 1);
			int rc;

			if (body == NULL)
				abort();
			memcpy(body, page, len);
			body[len] = '\0';
			err[0] = '\0';
			rc = k8s_parse_list(&pending, body, len, &pods[p], cont, sizeof(cont), err,
				sizeof(err));
			free(body);
			fuzz_check_view(&pending);
			FUZZ_CHECK(memchr(cont, '\0', sizeof(cont)) != NULL);
			if (rc < 0) {
				FUZZ_CHECK(err[0] != '\0');
				break;
			}
			if (ff == NULL) {
				k8s_view_move(&view, &pending);
				(void)k8s_view_pod_ready(&view);
				break;
			}
			page = ff + 1;
		}
		k8s_view_free(&pending);
		k8s_view_free(&view);
	}
	return 0;
}
