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
