#!/bin/sh
# check-includes.sh SRCDIR - enforce the layering of DESIGN.md through the
# #include lines (a tiny curl checksrc): store/ sees only libc, LMDB and
# libcrypto; fetch/ never FUSE; only fs/ includes FUSE; tools/ never fs/;
# tools/publish/ never the artifactctl commands.
# Prints one line per violation and exits 1 when there is any.
set -u
src=${1:-.}
bad=0

# check FOLDER REGEX REASON
check() {
	[ -d "$src/$1" ] || return 0
	hits=$(find "$src/$1" -name '*.[ch]' -exec grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" {} + 2>/dev/null)
	if [ -n "$hits" ]; then
		printf '%s\n' "$hits" | sed "s|^$src/||; s|\$|   <- $3|"
		bad=1
	fi
}

check store 'fuse|curl/|archive|fetch/|fs/|tools/' 'store/ may include only libc, LMDB, libcrypto'
check fetch 'fuse|fs/|tools/' 'fetch/ must not include FUSE, fs/ or tools/'
check tools 'fuse|fs/' 'tools/ must not include FUSE or fs/'
check tools/publish 'tools/artifactctl|tools/store_opt|tools/cmd_' \
	'tools/publish/ is a library: it must not include the commands of artifactctl'
exit $bad
