#!/bin/sh
# bench-mount.sh - artifactfs against the store directory it serves from.
#
#   ARTIFACTFS=... ARTIFACTCTL=... sh tests/bench/bench-mount.sh [NFILES]
#
# Builds an artifact of NFILES (default 20000) real files of this machine
# (from /usr/share, /usr/include, /usr/lib), packs it as tar.gz, serves it
# over file://, and times:
#   warm:  find X -type f | xargs cat >/dev/null   through the mount vs the store
#          ls -lR X >/dev/null                       through the mount vs the store
#          ROUNDS (default 7) interleaved runs of each, their medians and the
#          ratio native/mount (1.0 = native speed)
#   cold:  the first open of one file through the mount (download, verify,
#          unpack, install) vs artifactctl fetch of the same artifact, 3 each
# MOUNT_OPTS adds -o settings to the mount (e.g. MOUNT_OPTS=xattr=off);
# ARTIFACTFS_BEFORE (another artifactfs binary, e.g. of the main branch)
# mounts the same store a second time with it, timed in the same rounds, so
# that before and after are measured side by side; BEFORE_OPTS are its
# settings.  NO_COLD=1 skips the cold part.
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
	fusermount3 -u "$work/mnt0" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
time1() {	# time1 CMD...: the wall time of one run, in seconds
	t0=$(now)
	"$@" >/dev/null 2>&1
	t1=$(now)
	secs "$t0" "$t1"
}
median() {	# median T...: the median of the times
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

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

if [ -z "${NO_COLD:-}" ]; then
# --- cold: first access through the mount vs artifactctl fetch ----------------------------
cold_mount() {
	rm -rf "$work/store"
	mkdir -p "$mnt"
	"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml${MOUNT_OPTS:+,$MOUNT_OPTS}"
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

else
	"$ARTIFACTCTL" fetch --store "$work/store" "$work/Artifacts.toml" >/dev/null
fi

# --- warm -----------------------------------------------------------------------------------
mkdir -p "$mnt"
"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml${MOUNT_OPTS:+,$MOUNT_OPTS}"
cat "$mnt/Big/$one" >/dev/null
store_tree=$work/store/artifacts/$tree
diff -r "$work/src" "$mnt/Big/" >/dev/null && echo "bytes through the mount equal the source"
catall() { (cd "$1" && find . -type f -print0 | xargs -0 cat >/dev/null); }
lsR() { ls -lR "$1" >/dev/null; }
trees="$store_tree $mnt/Big/"
labels="store mount"
if [ -n "${ARTIFACTFS_BEFORE:-}" ]; then
	mkdir -p "$work/mnt0"
	"$ARTIFACTFS_BEFORE" "$work/mnt0" -o "store=$work/store,toml=$work/Artifacts.toml${BEFORE_OPTS:+,$BEFORE_OPTS}"
	trees="$trees $work/mnt0/Big/"
	labels="$labels before"
fi
for t in $trees; do catall "$t"; lsR "$t"; done	# page cache and kernel caches warm everywhere
rounds=${ROUNDS:-7}
for op in catall lsR; do
	for l in $labels; do eval "times_$l="; done
	for _ in $(seq "$rounds"); do
		set -- $labels
		for t in $trees; do
			eval "times_$1=\"\$times_$1 $(time1 "$op" "$t")\""
			shift
		done
	done
	line="warm, $op (median of $rounds, interleaved):"
	for l in $labels; do
		eval "m_$l=\$(median \$times_$l)"
		eval "line=\"\$line $l \$m_$l s\""
	done
	line="$line; mount $(ratio "$m_store" "$m_mount")x native"
	[ -n "${ARTIFACTFS_BEFORE:-}" ] && line="$line, before $(ratio "$m_store" "$m_before")x native"
	echo "$line"
done
pid=$(pgrep -f "artifactfs $mnt" | head -n 1)
echo "daemon resident memory: $(awk '/VmRSS/ { print $2 " " $3 }' /proc/"$pid"/status)"
