/*
 * fuzz-sidecar.c - the sidecar JSON reader (tools/publish/sidecar.h), and the
 * writer on what it accepts: a formatted sidecar must read back equal.
 */
#include "tests/fuzz/fuzz.h"

#include "tools/publish/sidecar.h"

#include <errno.h>
#include <string.h>

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sidecar s = {0}, t = {0};
	char *msg = NULL, *text = NULL, *key;
	size_t len;
	int r;

	/* the object names of a listing are untrusted too */
	key = strndup((const char *)data, size);
	if (key)
		(void)sidecar_is_key(key);
	free(key);
	r = sidecar_parse((const char *)data, size, &s, &msg);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
		FUZZ_CHECK((r == -EBADMSG) == (msg != NULL));
		free(msg);
		return 0;
	}
	FUZZ_CHECK(msg == NULL && s.name && strlen(s.tree) == 40 && strlen(s.sha256) == 64);
	if (sidecar_format(&s, &text, &len) == 0) {
		FUZZ_CHECK(sidecar_parse(text, len, &t, NULL) == 0);
		FUZZ_CHECK(streq(s.name, t.name) && streq(s.platform, t.platform));
		FUZZ_CHECK(streq(s.tree, t.tree) && streq(s.sha256, t.sha256));
		FUZZ_CHECK(s.size == t.size);
		FUZZ_CHECK(streq(s.created, t.created) && streq(s.tool, t.tool));
		free(text);
	}
	sidecar_release(&t);
	sidecar_release(&s);
	return 0;
}
