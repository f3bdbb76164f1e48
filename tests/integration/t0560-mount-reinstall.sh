#!/bin/sh
# Trees removed under inodes the kernel still caches, then installed again:
# every path must read its own bytes.  gc deletes a tree the daemon has
# served; the filesystem of the store then gives the freed inode numbers to
# the files of the next installs, so a daemon that knew its tree inodes by
# the store's (st_dev, st_ino) would answer a path with the stale inode of
# another one (ENOTDIR, or another file's bytes).
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_fuse

# Two artifacts of many small files with distinct contents, of different
# shapes, so that the inode numbers freed by one land on other paths of the
# other (and of itself, installed again).
: >"$TEST_TMP/Artifacts.toml"
mk() {	# mk NAME DIRS FILES
	_d=0
	while [ "$_d" -lt "$2" ]; do
		mkdir -p "$TEST_TMP/src/$1/d$_d/sub"
		_f=0
		while [ "$_f" -lt "$3" ]; do
			printf '%s %s %s\n' "$1" "$_d" "$_f" >"$TEST_TMP/src/$1/d$_d/f$_f"
			printf '%s/sub %s %s\n' "$1" "$_d" "$_f" >"$TEST_TMP/src/$1/d$_d/sub/g$_f"
			_f=$((_f + 1))
		done
		ln -s "f0" "$TEST_TMP/src/$1/d$_d/link"
		_d=$((_d + 1))
	done
	add_src_artifact "$1"
}
mk M 12 15
mk N 15 12
hash_of() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
installed() { test -d "$TEST_TMP/store/artifacts/$(hash_of "$1")"; }
# gc --grace 0 with no gc root removes every artifact no open file pins
gc_all() {
	for r in $("$ARTIFACTCTL" root ls --store "$TEST_TMP/store" 2>/dev/null | awk 'NR > 1 { print $3 }'); do
		"$ARTIFACTCTL" root rm --store "$TEST_TMP/store" "$r" >/dev/null 2>&1
	done
	"$ARTIFACTCTL" gc --store "$TEST_TMP/store" --grace 0 >"$TEST_TMP/gc.out" 2>&1
}

mnt=$TEST_TMP/mnt
# gc beside the daemon removes a tree the kernel caches only where open files
# are what pins (no_open=off); in no-open mode, the default, the kernel's
# inodes pin it (below).
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml,no_open=off" ||
	bail_out "mount failed"

# Every path of M looked up and read: the kernel caches its inodes (a day).
ok "M reads as its source" diff -r "$TEST_TMP/src/M" "$mnt/M/"
gc_all
is "gc beside the daemon exits 0" $? 0
fails "M removed by gc" installed M

# N installs into the inode numbers M left; then M again.
ok "N, installed after M went, reads as its source" diff -r "$TEST_TMP/src/N" "$mnt/N/"
ok "M, installed again under its cached inodes, reads as its source" \
	diff -r "$TEST_TMP/src/M" "$mnt/M/"
ok "M installed again" installed M

# Both go, and come back in the other order.
gc_all
fails "gc removed M" installed M
fails "gc removed N" installed N
ok "M, installed a third time, reads as its source" diff -r "$TEST_TMP/src/M" "$mnt/M/"
ok "N, installed again, reads as its source" diff -r "$TEST_TMP/src/N" "$mnt/N/"
ok "no errors in the daemon's log" sh -c '! grep -qi "inode type\|error" "$1"' sh "$TEST_TMP/fs.log"

unmount_artifactfs
is "clean unmount" $? 0

# --- no-open mode (the default): what the kernel caches is pinned ---------------------------
# gc cannot ask the kernel to forget, so it leaves M; artifactctl evict asks
# it through the daemon and removes M; N and then M are installed again under
# the inode numbers freed, and read as their sources.
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml" ||
	bail_out "mount failed"
ok "no-open: M reads as its source" diff -r "$TEST_TMP/src/M" "$mnt/M/"
gc_all
ok "gc leaves M, which the kernel caches" installed M
ok "... and says it is in use" grep -qi "in use" "$TEST_TMP/gc.out"
ok "artifactctl evict removes M and N" "$ARTIFACTCTL" evict "$mnt" M N
fails "... M is gone" installed M
ok "N, installed after M went, reads as its source" diff -r "$TEST_TMP/src/N" "$mnt/N/"
ok "M, installed again, reads as its source" diff -r "$TEST_TMP/src/M" "$mnt/M/"
ok "no errors in the daemon's log" sh -c '! grep -qi "inode type\|error" "$1"' sh "$TEST_TMP/fs.log"
unmount_artifactfs
is "clean unmount" $? 0
done_testing
