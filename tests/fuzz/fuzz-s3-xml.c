/*
 * fuzz-s3-xml.c - the parsers of S3's XML answers in the upload layer
 * (tools/publish/upload_int.h): a ListObjectsV2 page, the element reader with its
 * entity decoding, and the error-body reader.
 */
#include "tests/fuzz/fuzz.h"

#include "tools/publish/upload_int.h"

#include <errno.h>
#include <string.h>

static int on_key(void *arg, const char *key, uint64_t size)
{
	size_t *n = arg;

	FUZZ_CHECK(key && *key);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {
		"Key", "Size", "UploadId", "Code", "Message", "NextContinuationToken"};
	const char *body = (const char *)data, *e = body + size, *p, *why;
	char *next = NULL, *text, small[16];
	size_t i, n = 0;
	int r;

	r = s3_list_page(body, size, "", on_key, &n, &next, &why);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == -EBADMSG) == (why != NULL) || r == -ENOMEM);
	FUZZ_CHECK(r == 0 || next == NULL);
	free(next);
	next = NULL;
	n = 0;
	if (s3_list_page(body, size, "a/", on_key, &n, &next, &why) == 0)
		free(next);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		/* every element with that tag, as a reader walking the body would */
		for (p = body; p < e && s3_xml_take(&p, e, tags[i], &text) == 0;) {
			FUZZ_CHECK(p <= e);
			free(text);
		}
		if (up_xml_text(body, e, tags[i], small, sizeof(small)))
			FUZZ_CHECK(strlen(small) < sizeof(small));
	}
	return 0;
}
