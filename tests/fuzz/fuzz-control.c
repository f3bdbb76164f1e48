/*
 * fuzz-control.c - the control socket's request parser
 * (store/util/control.h): any bytes, never read past len; an accepted
 * request is one known verb, and the same verb is accepted again when it
 * is sent alone with a newline.
 */
#include "tests/fuzz/fuzz.h"

#include "store/util/control.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const words[] = { "status\n", "metrics\n", "reload\n" };
	enum control_verb v, again;
	const char *msg = NULL;
	char *copy;

	/* an exact-size heap copy, so that ASan sees any read past len */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (control_parse(copy, size, &v, &msg) == 0) {
		FUZZ_CHECK(v == CONTROL_STATUS || v == CONTROL_METRICS || v == CONTROL_RELOAD);
		FUZZ_CHECK(control_parse(words[v], strlen(words[v]), &again, &msg) == 0);
		FUZZ_CHECK(again == v);
	} else {
		FUZZ_CHECK(msg != NULL && *msg != '\0');
	}
	free(copy);
	return 0;
}
