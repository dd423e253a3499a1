/*
 * fuzz.h: what the fuzz targets share: libFuzzer's entry points (also called by replay.c, the
 * driver of the ctest regression runs), NUL-terminated copies of the input, and the checks
 * that every accepted configuration must pass. A failed check aborts, which libFuzzer reports
 * as a crash with the input that caused it.
 */
#ifndef GRACEINIT_FUZZ_H
#define GRACEINIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: say which, then abort so that the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a C string (it ends at its first NUL, as argv and environ strings do). */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
