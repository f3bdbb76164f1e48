#!/bin/sh
# Source-level rules: the include layering of DESIGN.md, no absolute paths of
# a developer's machine in the tree, and man pages that lint clean.
. "$TESTS_SRCDIR/lib.sh"

top=$(cd "$TESTS_SRCDIR/.." && pwd)

ok "include layering (store <- fetch <- fs, tools)" sh "$TESTS_SRCDIR/check-includes.sh" "$top"

# A negative control: the checker must catch a planted violation.
mkdir -p "$TEST_TMP/tree/store"
echo '#include <fuse_lowlevel.h>' > "$TEST_TMP/tree/store/bad.c"
fails "include checker catches FUSE in store/" sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/tree"
rm -rf "$TEST_TMP/tree" && mkdir -p "$TEST_TMP/tree/tools/publish"
echo '#include "tools/artifactctl.h"' > "$TEST_TMP/tree/tools/publish/bad.c"
fails "include checker catches a command header in tools/publish/" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/tree"

# The FUSE-free core of fs/ (fs.h) stays FUSE-free: a copy of fs/ passes,
# and fails once names.c or flight.c includes FUSE or daemon.h.
mkdir -p "$TEST_TMP/core"
cp -R "$top/fs" "$TEST_TMP/core/fs"
ok "a copy of fs/ passes" sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/core"
echo '#include <fuse_lowlevel.h>' >> "$TEST_TMP/core/fs/names.c"
fails "include checker catches FUSE in fs/names.c" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/core"
cp "$top/fs/names.c" "$TEST_TMP/core/fs/names.c"
echo '#include "fs/daemon.h"' >> "$TEST_TMP/core/fs/flight.c"
fails "include checker catches daemon.h in fs/flight.c" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/core"

# The fetch/ model half includes neither curl nor libarchive: a copy of
# fetch/ passes as it is, fails once a model file includes curl or
# libarchive, and the pipeline half may include both.
mkdir -p "$TEST_TMP/model"
cp -R "$top/fetch" "$TEST_TMP/model/fetch"
ok "a copy of fetch/ passes" sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"
echo '#include <curl/curl.h>' >> "$TEST_TMP/model/fetch/download.c"
echo '#include <archive.h>' >> "$TEST_TMP/model/fetch/download.c"
ok "the pipeline half may include curl and libarchive" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"
for f in toml.c artifacts.c platform.c depot.h; do
	cp "$top/fetch/$f" "$TEST_TMP/model/fetch/$f.orig"
	echo '#include <curl/curl.h>' >> "$TEST_TMP/model/fetch/$f"
	fails "include checker catches curl in fetch/$f" \
		sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"
	cp "$TEST_TMP/model/fetch/$f.orig" "$TEST_TMP/model/fetch/$f"
done
cp "$top/fetch/bind.c" "$TEST_TMP/model/fetch/bind.c.orig"
echo '#include <archive_entry.h>' >> "$TEST_TMP/model/fetch/bind.c"
fails "include checker catches libarchive in fetch/bind.c" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"
cp "$TEST_TMP/model/fetch/bind.c.orig" "$TEST_TMP/model/fetch/bind.c"
echo '#include "fetch/fetch.h"' >> "$TEST_TMP/model/fetch/depot.c"
fails "include checker catches the pipeline's header in fetch/depot.c" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"
cp "$top/fetch/depot.c" "$TEST_TMP/model/fetch/depot.c"
echo '#include "fetch/http.h"' >> "$TEST_TMP/model/fetch/artifacts.c"
fails "include checker catches the transport's header (curl) in fetch/artifacts.c" \
	sh "$TESTS_SRCDIR/check-includes.sh" "$TEST_TMP/model"

no_machine_paths() {
	# Paths such as /work/<project> or /home/<user> would tie the tree to one machine.
	! grep -rnE '/(work|home)/[a-z]' "$top/store" "$top/fetch" "$top/tools" \
		"$top/tests/unit" "$top/tests/integration" "$top/contrib" "$top/configure.ac" \
		"$top/Makefile.am" "$top/README.md" 2>/dev/null | grep -v 't0900-source-rules.sh'
}
ok "no absolute paths of a developer machine" no_machine_paths

if command -v mandoc >/dev/null 2>&1; then
	for m in "$top"/doc/*.[0-9]; do
		ok "mandoc -Tlint $(basename "$m")" mandoc -Tlint -Wwarning "$m"
	done
else
	skip "man pages lint" "mandoc not installed"
fi

done_testing
