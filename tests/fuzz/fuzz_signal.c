/*
 * fuzz_signal.c: signals_parse ("TERM", "SIGTERM", "term", "15", "RTMIN+2", "SIGRTMAX-1"). An
 * accepted signal is a real signal number, and the name signals_name gives it parses back to
 * the same number (numbers without a name print as "signal N" and are left out).
 */
#include "fuzz.h"
#include "signals.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), name[32];
	int signo = -1, again = -1;

	if (signals_parse(s, &signo) == 0) {
		FUZZ_CHECK(signo >= 1 && signo < SIGNALS_MAX);
		signals_name(signo, name, sizeof(name));
		if (strncmp(name, "signal ", 7) != 0) {
			FUZZ_CHECK(signals_parse(name, &again) == 0);
			FUZZ_CHECK(again == signo);
			FUZZ_CHECK(signals_parse(name + 3, &again) == 0 && again == signo);
		}
		(void)signals_forwardable(signo);
	}
	free(s);
	return 0;
}
