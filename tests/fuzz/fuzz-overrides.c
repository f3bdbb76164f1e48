/*
 * fuzz-overrides.c - Overrides.toml (fetch/overrides.h): whatever the
 * input, a refusal comes with a message naming the file, and a loaded
 * table keeps the rules: overridden hashes are 40 lowercase hex digits in
 * ascending order, each maps to an absolute path or another such hash,
 * and every chain of hashes ends.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/overrides.h"

#include <errno.h>
#include <string.h>

static int lower_hash(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[40] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_overrides *ov = NULL;
	const char *h, *prev = NULL, *t;
	char *msg = NULL;
	size_t i, n, steps;
	int r;

	r = fetch_overrides_parse((const char *)data, size, "fuzz.toml", &ov, &msg);
	if (r < 0) {
		FUZZ_CHECK(!ov);
		FUZZ_CHECK(r == -ENOMEM || (msg && strncmp(msg, "fuzz.toml:", 10) == 0));
		free(msg);
		return 0;
	}
	FUZZ_CHECK(ov && !msg);
	n = fetch_overrides_count(ov);
	for (i = 0; i < n; i++) {
		h = fetch_overrides_hash_at(ov, i);
		FUZZ_CHECK(h && lower_hash(h));
		FUZZ_CHECK(!prev || strcmp(prev, h) < 0);
		prev = h;
		t = fetch_overrides_find(ov, h);
		FUZZ_CHECK(t && (t[0] == '/' || lower_hash(t)));
		for (steps = 0; t && t[0] != '/'; steps++) {
			FUZZ_CHECK(steps <= n);
			t = fetch_overrides_find(ov, t);
		}
	}
	FUZZ_CHECK(fetch_overrides_hash_at(ov, n) == NULL);
	for (i = 0; i < fetch_overrides_uuid_count(ov); i++)
		FUZZ_CHECK(strlen(fetch_overrides_uuid_at(ov, i)) == 36);
	fetch_overrides_free(ov);
	return 0;
}
