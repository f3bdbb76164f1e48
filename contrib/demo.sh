#!/bin/sh
# The main job, end to end: install the dependencies, build, make artifacts
# from real files of this machine, mount them with artifactfs from an
# Artifacts.toml, run a program from the mount, and unmount.
#
#   contrib/demo.sh [--no-deps]
#
# Needs root (or sudo) for the packages and for the FUSE mount.
set -eu

. "$(dirname "$0")/prepare.sh"
[ -f Makefile ] || "$top/configure" >/dev/null
make -j"$(nproc)" artifactctl artifactfs >/dev/null
ctl=$top/build/artifactctl
fs=$top/build/artifactfs

work=$(mktemp -d "${TMPDIR:-/tmp}/artifactfs-demo.XXXXXX")
mnt=$work/mnt
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. artifacts made from real files of this machine (contrib/example/make-artifacts.sh)"
"$top/contrib/example/make-artifacts.sh" "$ctl" "$work"
echo
echo "== 2. the Artifacts.toml they are bound in"
cat "$work/Artifacts.toml"

echo
echo "== 3. mount: artifactfs -o store=...,toml=... $mnt"
mkdir -p "$mnt"
"$fs" -o "store=$work/store,toml=$work/Artifacts.toml" "$mnt"
ls -l "$mnt"

echo
echo "== 4. run a program from the mount (first access downloads, verifies, installs)"
"$mnt/ZlibDemo/bin/zdemo" "artifactfs serves Julia artifacts"
echo "   shared library loaded from: $(LD_DEBUG=libs "$mnt/ZlibDemo/bin/zdemo" x 2>&1 |
	sed -n 's/.*calling init: \(.*libz[^ ]*\).*/\1/p' | head -n 1)"
echo "   state: $(getfattr --only-values -n user.artifactfs.state "$mnt/$(readlink "$mnt/ZlibDemo")" 2>/dev/null ||
	python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.artifactfs.state").decode())' \
		"$mnt/$(readlink "$mnt/ZlibDemo")")"
ls -l "$mnt/ZlibDemo/" "$mnt/ZlibDemo/lib/"

echo
echo "== 5. the store is a Julia depot: artifactctl ls"
"$ctl" ls --store "$work/store"

echo
echo "== 6. Julia's platform selection on contrib/example/Artifacts.toml"
printf 'this host: %s\n' "$("$ctl" platform)"
for p in x86_64-linux-gnu-libgfortran4 x86_64-linux-gnu-sanitize+memory aarch64-apple-darwin; do
	printf 'Zlib on %-36s -> %s\n' "$p" \
		"$("$ctl" resolve --platform "$p" "$top/contrib/example/Artifacts.toml" Zlib 2>&1 || true)"
done

echo
echo "== 7. unmount"
fusermount3 -u "$mnt"
echo "done"
