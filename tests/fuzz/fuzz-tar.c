/*
 * fuzz-tar.c - the tarball reader (fetch/fetch.h fetch_unpack_max()):
 * decompression, Tar.jl's header rules, PAX and GNU long names, the path
 * table and the tree hashes, on the code path the daemon uses.
 *
 * The input is read from a memfd and unpacked with dirfd -1, which checks
 * and hashes every entry as an extraction would but writes nothing, so
 * the harness needs no directory to clean.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/fetch.h"

#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_MAX_BYTES (64u << 20) /* as a quota would: bounds gzip bombs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_stream *in = NULL;
	struct fetch_digests d;
	char *msg = NULL;
	int fd, r;

	fd = memfd_create("fuzz.tar", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size)
		goto out;
	if (lseek(fd, 0, SEEK_SET) != 0 || fetch_stream_open_fd(fd, "fuzz.tar", NULL, &in) < 0)
		goto out;
	r = fetch_unpack_max(in, -1, FUZZ_MAX_BYTES, &d, &msg);
	if (r == 0) {
		FUZZ_CHECK(msg == NULL);
		FUZZ_CHECK(d.tarball_bytes == size);
		FUZZ_CHECK(d.bytes <= FUZZ_MAX_BYTES);
	} else {
		FUZZ_CHECK(r < 0);
	}
out:
	free(msg);
	fetch_stream_free(in);
	close(fd);
	return 0;
}
