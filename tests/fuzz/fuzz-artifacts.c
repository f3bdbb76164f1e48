/*
 * fuzz-artifacts.c - the Artifacts.toml loader with platform selection
 * (fetch/artifacts.h): load the bytes as a file, run the strict check, and
 * select every name for a few hosts as the daemon and artifactctl do.
 *
 * artifacts_load() takes a path, so the input goes to a memfd read through
 * /proc/self/fd: nothing is written to disk.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/artifacts.h"
#include "fetch/platform.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const hosts[] = {
	"x86_64-linux-gnu-libgfortran5-cxx11-julia_version+1.10.0",
	"aarch64-apple-darwin20",
	"x86_64-w64-mingw32",
	"armv7l-linux-musleabihf-cxx03",
};

static void use_entry(const struct artifact_entry *e)
{
	const struct artifact_download *d;
	size_t i, n;
	char *json = NULL;

	(void)artifact_entry_name(e);
	(void)artifact_entry_lazy(e);
	(void)artifact_entry_platform(e);
	(void)artifact_entry_has_download(e);
	(void)artifact_entry_string(e, "os");
	n = artifact_entry_downloads(e, &d);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(d[i].url && d[i].sha256 && strlen(d[i].sha256) == 64);
	if (!artifact_entry_error(e)) {
		FUZZ_CHECK(artifact_entry_hash(e) && strlen(artifact_entry_hash(e)) == 40);
		if (artifact_entry_json(e, &json, NULL) == 0)
			free(json);
	}
}

static void select_all(const struct artifacts *a, const struct platform *host)
{
	const struct artifact_entry *e, **all = NULL;
	const struct artifact_entry *const *ents;
	size_t i, j, n;
	char *msg = NULL;

	for (i = 0; i < artifacts_count(a); i++) {
		const char *name = artifacts_name_at(a, i);

		if (artifacts_select(a, name, host, &e, &msg) == 0)
			use_entry(e);
		free(msg);
		msg = NULL;
		if (artifacts_entries(a, name, &ents, &n, &msg) == 0)
			for (j = 0; j < n; j++)
				use_entry(ents[j]);
		free(msg);
		msg = NULL;
	}
	if (artifacts_select_downloadable(a, host, true, &all, &n, &msg) == 0)
		free(all);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct artifacts *a = NULL;
	struct platform *host;
	char path[64], *msg = NULL;
	size_t i;
	int fd;

	fd = memfd_create("Artifacts.toml", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (artifacts_load(path, &a, &msg) < 0)
		goto out;
	free(msg);
	msg = NULL;
	(void)artifacts_check(a, &msg);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		if (platform_parse(hosts[i], &host) < 0)
			abort();
		platform_make_host(host);
		select_all(a, host);
		platform_free(host);
	}
out:
	artifacts_free(a);
	free(msg);
	close(fd);
	return 0;
}
