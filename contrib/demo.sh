#!/bin/sh
# The main job, end to end: install the dependencies, build artifactctl, make
# an artifact from real files of this machine, hash it, and resolve names of
# the bundled example Artifacts.toml for this host.
#
#   contrib/demo.sh [--no-deps]
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)

if [ "${1:-}" = "--no-deps" ]; then
	shift
else
	./contrib/install-deps.sh
fi

[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || "$top/configure" >/dev/null
make -j"$(nproc)" artifactctl >/dev/null
ctl=$top/build/artifactctl

work=$(mktemp -d "${TMPDIR:-/tmp}/artifactfs-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== artifactctl platform: this host"
"$ctl" platform

echo
echo "== an artifact made from real files: zlib laid out like Zlib_jll"
mkdir -p "$work/zlib/include" "$work/zlib/lib"
cp /usr/include/zlib.h /usr/include/zconf.h "$work/zlib/include/"
libz=$(ls /usr/lib/*/libz.so.1.* /lib/*/libz.so.1.* 2>/dev/null | head -n 1)
cp "$libz" "$work/zlib/lib/"
ln -s "$(basename "$libz")" "$work/zlib/lib/libz.so.1"
ln -s libz.so.1 "$work/zlib/lib/libz.so"
(cd "$work/zlib" && find . | sort | sed 's/^/   /')
printf 'git-tree-sha1: '
"$ctl" hash "$work/zlib"
if command -v git >/dev/null 2>&1; then
	printf 'git write-tree: '
	(cd "$work/zlib" && git init -q && git add -A && git write-tree)
fi

echo
echo "== resolve names of contrib/example/Artifacts.toml for this host"
for name in Zlib CompilerSupportLibraries socrates; do
	printf '%s -> ' "$name"
	"$ctl" resolve "$top/contrib/example/Artifacts.toml" "$name"
done
for p in x86_64-linux-gnu-libgfortran4 x86_64-linux-gnu-sanitize+memory aarch64-apple-darwin; do
	printf 'Zlib, CompilerSupportLibraries on %s -> ' "$p"
	printf '%s %s\n' \
		"$("$ctl" resolve --platform "$p" "$top/contrib/example/Artifacts.toml" Zlib 2>&1)" \
		"$("$ctl" resolve --platform "$p" "$top/contrib/example/Artifacts.toml" CompilerSupportLibraries 2>&1)"
done
echo
echo "== the selected entry in full (--json)"
"$ctl" resolve --json "$top/contrib/example/Artifacts.toml" Zlib
