#!/bin/sh
# bench-mount.sh - artifactfs against the store directory it serves from.
#
#   ARTIFACTFS=... ARTIFACTCTL=... sh tests/bench/bench-mount.sh [NFILES]
#
# Builds an artifact of NFILES (default 20000) real files of this machine
# (from /usr/share, /usr/include, /usr/lib), packs it as tar.gz, serves it
# over file://, and times, best of 3:
#   warm:  find X -type f | xargs cat >/dev/null   through the mount vs the store
#          ls -lR X >/dev/null                       through the mount vs the store
#   cold:  the first open of one file through the mount (download, verify,
#          unpack, install) vs artifactctl fetch of the same artifact
# A benchmark, not a test: it prints figures and asserts nothing but that the
# bytes served equal the source.  Needs root (FUSE mount).
set -eu
n=${1:-20000}
: "${ARTIFACTFS:?set ARTIFACTFS to the artifactfs binary}"
: "${ARTIFACTCTL:?set ARTIFACTCTL to the artifactctl binary}"

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-mount.XXXXXX")
mnt=$work/mnt
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
best3() {	# best3 CMD...: best wall time of three runs, in seconds
	best=
	for _ in 1 2 3; do
		t0=$(now)
		"$@" >/dev/null 2>&1
		t1=$(now)
		t=$(secs "$t0" "$t1")
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$t
		fi
	done
	echo "$best"
}

echo "building an artifact of $n real files..."
mkdir -p "$work/src"
find /usr/share /usr/include /usr/lib -xdev -type f -size -256k 2>/dev/null | head -n "$n" |
	while read -r f; do
		d=$work/src/$(dirname "$f")
		mkdir -p "$d"
		cp "$f" "$d/" 2>/dev/null || true
	done
files=$(find "$work/src" -type f | wc -l)
bytes=$(du -sb "$work/src" | cut -f1)
tree=$("$ARTIFACTCTL" hash "$work/src")
tar -C "$work/src" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . |
	gzip -n >"$work/a.tar.gz"
sha=$(sha256sum "$work/a.tar.gz" | cut -c1-64)
cat >"$work/Artifacts.toml" <<EOF
[Big]
git-tree-sha1 = "$tree"

    [[Big.download]]
    sha256 = "$sha"
    url = "file://$work/a.tar.gz"
EOF
echo "artifact: $files files, $bytes bytes; tarball $(stat -c %s "$work/a.tar.gz") bytes"
one=$(cd "$work/src" && find . -type f | head -n 1)

# --- cold: first access through the mount vs artifactctl fetch ----------------------------
cold_mount() {
	rm -rf "$work/store"
	mkdir -p "$mnt"
	"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml"
	t0=$(now)
	cat "$mnt/Big/$one" >/dev/null
	t1=$(now)
	fusermount3 -u "$mnt"
	secs "$t0" "$t1"
}
cold_fetch() {
	rm -rf "$work/store2"
	t0=$(now)
	"$ARTIFACTCTL" fetch --store "$work/store2" "$work/Artifacts.toml" >/dev/null
	t1=$(now)
	secs "$t0" "$t1"
}
c1=$(cold_mount); c2=$(cold_mount); c3=$(cold_mount)
f1=$(cold_fetch); f2=$(cold_fetch); f3=$(cold_fetch)
echo "cold, first open of one file through the mount: $c1 $c2 $c3 s"
echo "cold, artifactctl fetch of the same artifact:    $f1 $f2 $f3 s"

# --- warm -----------------------------------------------------------------------------------
"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml"
cat "$mnt/Big/$one" >/dev/null
store_tree=$work/store/artifacts/$tree
diff -r "$work/src" "$mnt/Big/" >/dev/null && echo "bytes through the mount equal the source"
catall() { (cd "$1" && find . -type f -print0 | xargs -0 cat >/dev/null); }
lsR() { ls -lR "$1" >/dev/null; }
catall "$mnt/Big/"	# page cache and kernel caches warm on both sides
catall "$store_tree"
echo "warm, find -type f | xargs cat: mount $(best3 catall "$mnt/Big/") s, store $(best3 catall "$store_tree") s"
echo "warm, ls -lR:                   mount $(best3 lsR "$mnt/Big/") s, store $(best3 lsR "$store_tree") s"
pid=$(pgrep -f "artifactfs $mnt" | head -n 1)
echo "daemon resident memory: $(awk '/VmRSS/ { print $2 " " $3 }' /proc/"$pid"/status)"
