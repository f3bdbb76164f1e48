#!/bin/sh
# check-includes.sh SRCDIR - enforce the layering of DESIGN.md through the
# #include lines (a tiny curl checksrc): store/ sees only libc, LMDB and
# libcrypto; fetch/ never FUSE, and its model half (the files listed in
# fetch_model below) neither curl nor libarchive; only fs/ includes FUSE;
# fs/'s core (fs.h, config.c, log.c, names.c, flight.c, probe.c, perfile.c) neither FUSE nor
# daemon.h; tools/ never fs/; tools/publish/ never the artifactctl commands.  Prints
# one line per violation and exits 1 when there is any.
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

# The model half of fetch/ (fetch.h, "two halves"): TOML, Artifacts.toml,
# platforms, bind, Julia depots, the proxy chooser.  A new model file goes on this list; a
# file here may include neither curl, the codecs (libarchive, ISA-L,
# libzstd) nor the pipeline's headers (fetch.h, http.h, which includes
# libcurl, unpack_int.h, inflate.h, pipeline.h): the pipeline
# may use the model, never the reverse.
fetch_model='toml.c toml.h toml_int.h toml_scalar.c toml_tree.c toml_tree.h toml_write.c
	artifacts.c artifacts.h platform.c platform.h platform_host.c version.c version.h
	triplet.c bind.c bind.h depot.c depot.h overrides.c overrides.h proxy.c proxy.h'

# check_files FOLDER FILES REGEX REASON - check only the named files of
# FOLDER; a listed file that is gone is reported too, so the list cannot
# fall behind a rename.
check_files() {
	[ -d "$src/$1" ] || return 0
	for f in $2; do
		if [ ! -f "$src/$1/$f" ]; then
			echo "$1/$f: listed in check-includes.sh but missing"
			bad=1
			continue
		fi
		hits=$(grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($3)" \
			"$src/$1/$f" 2>/dev/null)
		if [ -n "$hits" ]; then
			printf '%s\n' "$hits" | sed "s|^$src/||; s|\$|   <- $4|"
			bad=1
		fi
	done
}

check store 'fuse|curl/|archive|fetch/|fs/|tools/' 'store/ may include only libc, LMDB, libcrypto'
check fetch 'fuse|fs/|tools/' 'fetch/ must not include FUSE, fs/ or tools/'
check_files fetch "$fetch_model" \
	'curl/|archive|isa-l|zstd|fetch/fetch\.h|fetch/http\.h|fetch/unpack_int\.h|fetch/inflate\.h|fetch/pipeline\.h' \
	'the fetch/ model includes neither curl, the codecs nor the pipeline'
check tools 'fuse|fs/' 'tools/ must not include FUSE or fs/'
# The FUSE-free core of fs/ (fs.h): unit-tested without a mount.
check_files fs 'fs.h config.c log.c names.c flight.c probe.c perfile.c' 'fuse|fs/daemon\.h' \
	'the FUSE-free core of fs/ (fs.h) includes neither FUSE nor daemon.h'
check tools/publish 'tools/artifactctl|tools/store_opt|tools/cmd_' \
	'tools/publish/ is a library: it must not include the commands of artifactctl'
exit $bad
