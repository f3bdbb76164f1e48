/*
 * fuzz-toml.c - the TOML 1.0.0 reader (fetch/toml.h), and the writer on
 * whatever the reader accepts: a printed document must parse again and
 * print the same text.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/toml.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value *root = NULL, *again = NULL;
	struct toml_error err;
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	if (toml_parse((const char *)data, size, &root, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0' && err.line >= 1);
		return 0;
	}
	FUZZ_CHECK(toml_type(root) == TOML_TABLE);
	/* the writer refuses invalid UTF-8 in keys and strings, as Julia does */
	if (toml_print(root, &text, &len) == 0) {
		FUZZ_CHECK(strlen(text) == len);
		FUZZ_CHECK(toml_parse(text, len, &again, &err) == 0);
		FUZZ_CHECK(toml_print(again, &text2, &len2) == 0);
		FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0);
	}
	free(text);
	free(text2);
	toml_free(again);
	toml_free(root);
	return 0;
}
