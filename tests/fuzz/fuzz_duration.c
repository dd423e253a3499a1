/*
 * fuzz_duration.c: conf_parse_duration ("250ms", "5s", "1m30s", "1.5s", bare seconds). An
 * accepted duration is within the 720h limit and survives conf_format_duration: what /status
 * and the plan print parses back to the same number of milliseconds.
 */
#include "conf.h"
#include "fuzz.h"

#define MAX_MS (30LL * 24 * 3600 * 1000)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), buf[64];
	int64_t ms = -1, again = -1;

	if (conf_parse_duration(s, &ms) == 0) {
		FUZZ_CHECK(ms >= 0 && ms <= MAX_MS);
		conf_format_duration(ms, buf, sizeof(buf));
		FUZZ_CHECK(conf_parse_duration(buf, &again) == 0);
		FUZZ_CHECK(again == ms);
	}
	free(s);
	return 0;
}
