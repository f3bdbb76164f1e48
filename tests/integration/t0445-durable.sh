#!/bin/sh
# t0445-durable.sh - deferred durability (store/durable.c): an install is
# served before its bytes are on disk and made durable later (artifactctl
# sync, the daemon's sync_after, its stop); after a reboot, what was not
# synced is hashed again before anyone uses it: a damaged tree is
# installed anew, a whole one kept without a download.
# ARTIFACTFS_TEST_BOOT_ID stands for the kernel's boot id: another value
# is another boot.  Damage is what a power loss leaves of a file written
# back late: nothing (the file truncated).
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_artifactctl
unset ARTIFACTFS_UNSAFE_NO_FSYNC

mkdir -p "$TEST_TMP/src/A/lib"
head -c 300000 /dev/urandom >"$TEST_TMP/src/A/lib/data.bin"
printf 'artifact A\n' >"$TEST_TMP/src/A/NAME"
: >"$TEST_TMP/Artifacts.toml"
add_src_artifact A
TOML=$TEST_TMP/Artifacts.toml
H=$("$ARTIFACTCTL" hash "$TEST_TMP/src/A")
SRC=$TEST_TMP/src/A/lib/data.bin

# fetch TAG STORE [OPTION...]: artifactctl fetch of A; rc and $TEST_TMP/TAG.{out,err}
fetch() {
	_tag=$1 _st=$2
	shift 2
	timeout 120 "$ARTIFACTCTL" fetch --store "$_st" "$@" "$TOML" \
		>"$TEST_TMP/$_tag.out" 2>"$TEST_TMP/$_tag.err"
	rc=$?
}
damage() { : >"$1/artifacts/$H/lib/data.bin"; }
syncd() { "$ARTIFACTCTL" sync --store "$1" 2>&1; }

export ARTIFACTFS_TEST_BOOT_ID=boot-a

# --- artifactctl fetch: deferred by default, --sync waits -------------------------
fetch plain "$TEST_TMP/s1"
is "fetch exits 0" "$rc" 0
ok "the tree is there at once" cmp "$SRC" "$TEST_TMP/s1/artifacts/$H/lib/data.bin"
is "artifactctl sync makes the one install durable" "$(syncd "$TEST_TMP/s1")" "synced 1 install"
is "a second sync finds none" "$(syncd "$TEST_TMP/s1")" "synced 0 installs"

fetch sync "$TEST_TMP/s2" --sync
is "fetch --sync exits 0" "$rc" 0
is "fetch --sync leaves nothing to sync" "$(syncd "$TEST_TMP/s2")" "synced 0 installs"
ok "sync of a missing store fails" exit_is 1 "$ARTIFACTCTL" sync --store "$TEST_TMP/none"
ok "... naming it" grep -q "$TEST_TMP/none" "$TEST_TMP/err"
ok "sync with an argument is a usage error" exit_is 64 "$ARTIFACTCTL" sync --store "$TEST_TMP/s1" x

# --- a reboot before the sync -------------------------------------------------------
fetch s3 "$TEST_TMP/s3"
damage "$TEST_TMP/s3"
fetch s3same "$TEST_TMP/s3"
ok "same boot: the page cache is trusted, no check" \
	test ! -s "$TEST_TMP/s3/artifacts/$H/lib/data.bin"
export ARTIFACTFS_TEST_BOOT_ID=boot-b
fetch s3b "$TEST_TMP/s3"
is "after a reboot, fetch exits 0" "$rc" 0
ok "... the damaged install was found and installed again" \
	cmp "$SRC" "$TEST_TMP/s3/artifacts/$H/lib/data.bin"
is "... the damaged tree is in quarantine/" "$(ls "$TEST_TMP/s3/quarantine" | wc -l)" 1

export ARTIFACTFS_TEST_BOOT_ID=boot-a
fetch s4 "$TEST_TMP/s4"
mv "$TEST_TMP/A.tar.gz" "$TEST_TMP/A.tar.gz.away"
export ARTIFACTFS_TEST_BOOT_ID=boot-b
fetch s4b "$TEST_TMP/s4"
is "after a reboot, a whole tree is kept: fetch exits 0 with no source" "$rc" 0
ok "... the tree is whole" cmp "$SRC" "$TEST_TMP/s4/artifacts/$H/lib/data.bin"
is "... nothing in quarantine/" "$(ls "$TEST_TMP/s4/quarantine" | wc -l)" 0
is "... and nothing left to sync" "$(syncd "$TEST_TMP/s4")" "synced 0 installs"
mv "$TEST_TMP/A.tar.gz.away" "$TEST_TMP/A.tar.gz"
export ARTIFACTFS_TEST_BOOT_ID=boot-a

# --- the daemon ------------------------------------------------------------------------
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1 || [ ! -x "${ARTIFACTFS:-}" ] ||
	[ "$(id -u)" -ne 0 ]; then
	skip "the daemon's deferred sync" "no FUSE, or not root (the control socket)"
	done_testing
fi
pending() {
	"$ARTIFACTCTL" status --json "$1" |
		"${PYTHON3:-python3}" -c 'import json, sys; print(json.load(sys.stdin)["pending_sync"])'
}
pending_is() { [ "$(pending "$1")" = "$2" ]; }

mnt=$TEST_TMP/mnt
mount_artifactfs "$mnt" -o "store=$TEST_TMP/s5,toml=$TOML,sync_after=0" || bail_out "mount failed"
ok "sync_after=0: the file is served" cmp "$SRC" "$mnt/A/lib/data.bin"
ok "... and made durable in the background (pending_sync 0)" wait_for pending_is "$mnt" 0
ok "... metrics say 0 not yet synced" sh -c "\"$ARTIFACTCTL\" metrics \"$mnt\" | grep -q '^artifactfs_pending_sync_installs{.*} 0$'"
ok "... the log says so" wait_for grep -q "made 1 install durable" "$TEST_TMP/fs.log"
unmount_artifactfs

mount_artifactfs "$mnt" -o "store=$TEST_TMP/s6,toml=$TOML,sync_after=1h" || bail_out "mount failed"
ok "sync_after=1h: the file is served" cmp "$SRC" "$mnt/A/lib/data.bin"
is "... before its sync (pending_sync 1)" "$(pending "$mnt")" 1
ok "... artifactctl status says so" sh -c "\"$ARTIFACTCTL\" status \"$mnt\" | grep -q '1 not yet synced to disk'"
unmount_artifactfs
is "a clean stop made it durable" "$(syncd "$TEST_TMP/s6")" "synced 0 installs"

mount_artifactfs "$mnt" -o "store=$TEST_TMP/s7,toml=$TOML,sync_commit,sync_after=1h" ||
	bail_out "mount failed"
ok "sync_commit: the file is served" cmp "$SRC" "$mnt/A/lib/data.bin"
is "... and was durable before (pending_sync 0)" "$(pending "$mnt")" 0
unmount_artifactfs

# a daemon that starts after a reboot checks what an earlier boot left unsynced
fetch s8 "$TEST_TMP/s8"
damage "$TEST_TMP/s8"
export ARTIFACTFS_TEST_BOOT_ID=boot-b
mount_artifactfs "$mnt" -o "store=$TEST_TMP/s8,toml=$TOML" || bail_out "mount failed"
ok "after a reboot the daemon serves the right bytes (installed again)" \
	cmp "$SRC" "$mnt/A/lib/data.bin"
unmount_artifactfs

done_testing
