#!/bin/sh
# The daemon as admins start it: in the background (returns once mounted,
# installs still work after the fork, the caller's pipes are not held),
# through mount(8) and an fstab line, --help/--version, start-up errors
# (exit 1 and one line naming the file and the cause), SIGTERM.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
mount_realfiles --only zlib --compressions gz
"$PY" "$TARBALLS" toml "$art" "file://$art" -o "$TEST_TMP/Artifacts.toml"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
opts="store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml"

# --- --help, --version -------------------------------------------------------------
ok "--help exits 0" "$ARTIFACTFS" --help
usage=$("$ARTIFACTFS" --help | head -n 1)
is "--help starts with the SYNOPSIS of artifactfs(8)" "$usage" \
	"usage: artifactfs [-f] [-d] [-s] [-o OPTION[,OPTION...]] [SOURCE] MOUNTPOINT"
man_has_all() {
	for o in store toml config platform tag pkg_server jobs connect_timeout low_speed_time \
		timeout install_timeout low_speed_limit retry_after name_timeout ca_file quota quota_low \
		max_unpacked offline ignore_hashes overmount; do
		"$ARTIFACTFS" --help | grep -q "^    $o" || { echo "--help lacks $o"; return 1; }
		grep -q "^\.It Cm $o" "$TESTS_SRCDIR/../doc/artifactfs.8" || { echo "man page lacks $o"; return 1; }
	done
}
ok "every option is in --help and in artifactfs(8)" man_has_all
ok "--version names the version" sh -c "'$ARTIFACTFS' --version | grep -q '^artifactfs [0-9]'"

# --- start-up errors: exit 1, one line naming the file and the cause ------------------------
start_err() {
	"$ARTIFACTFS" -f "$mnt" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	echo $?
}
is "a bad option exits 1" "$(start_err -o "$opts,jobs=zero")" 1
ok "... with one line naming the option" sh -c "[ \$(wc -l <'$TEST_TMP/err') -eq 1 ] && grep -q \"jobs=zero\" '$TEST_TMP/err'"
printf '[broken\n' >"$TEST_TMP/bad.toml"
is "a malformed Artifacts.toml exits 1" "$(start_err -o "store=$TEST_TMP/store,toml=$TEST_TMP/bad.toml")" 1
ok "... with one line naming the file, line and column" \
	sh -c "[ \$(wc -l <'$TEST_TMP/err') -eq 1 ] && grep -q 'bad.toml:1:' '$TEST_TMP/err'"
is "a missing Artifacts.toml exits 1" "$(start_err -o "store=$TEST_TMP/store,toml=$TEST_TMP/none.toml")" 1
ok "... naming it" grep -q "none.toml" "$TEST_TMP/err"
printf 'not a directory' >"$TEST_TMP/storefile"
is "an unusable store exits 1" "$(start_err -o "store=$TEST_TMP/storefile,toml=$TEST_TMP/Artifacts.toml")" 1
ok "... naming the store" sh -c "[ \$(wc -l <'$TEST_TMP/err') -eq 1 ] && grep -q storefile '$TEST_TMP/err'"
is "a bad platform exits 1" "$(start_err -o "$opts,platform=not-a-triplet")" 1
ok "nothing was mounted by the failed starts" sh -c "! awk -v m='$mnt' '\$5 == m { f=1 } END { exit !f }' /proc/self/mountinfo"

# --- in the background ---------------------------------------------------------------------
zlib=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["zlib"]["git-tree-sha1"])' "$art/manifest.json")
# The pipe must see its end although the daemon lives on.
ok "started in the background, the daemon does not hold the caller's pipe" \
	sh -c "timeout 20 sh -c \"'$ARTIFACTFS' '$mnt' -o '$opts' | cat\""
ok "it returns once the mount is ready" is_mounted "$mnt"
pid=$(pgrep -f "artifactfs $mnt" | head -n 1)
ok "a cold artifact installs after the daemon forked" cmp "$mnt/zlib/include/zlib.h" "$art/src/zlib/include/zlib.h"
ok "SIGTERM unmounts" sh -c "kill -TERM $pid; i=0; while kill -0 $pid 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done; ! kill -0 $pid 2>/dev/null"
ok "... and the mount is gone" sh -c "! awk -v m='$mnt' '\$5 == m { f=1 } END { exit !f }' /proc/self/mountinfo"
ok "the store stays consistent: artifactctl verify" "$ARTIFACTCTL" verify --store "$TEST_TMP/store"

# --- through mount(8) ----------------------------------------------------------------------
ok "mount -t fuse PROGRAM#SOURCE (the mount helper convention)" \
	timeout 30 mount -t fuse "$ARTIFACTFS#artifactfs" "$mnt" -o "$opts,allow_other"
ok "... serves the artifact" cmp "$mnt/zlib/lib/libz.so.1" "$art/src/zlib/lib/libz.so.1"
# mountinfo: optional fields end with "-", then the type and the source.
src=$(awk -v m="$mnt" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) " " $(i + 2) }' \
	/proc/self/mountinfo)
is "... shown as fuse.artifactfs with its source" "$src" "fuse.artifactfs artifactfs"
ok "umount stops it" umount "$mnt"

# mount(8) runs helpers with PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:...
helper=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v artifactfs || true)
if [ -n "$helper" ]; then
	printf 'artifactfs %s fuse.artifactfs %s,noauto 0 0\n' "$mnt" "$opts" >"$TEST_TMP/fstab"
	ok "an fstab line of type fuse.artifactfs mounts ($helper)" \
		timeout 30 mount --fstab "$TEST_TMP/fstab" "$mnt"
	ok "... and serves" cmp "$mnt/zlib/include/zlib.h" "$art/src/zlib/include/zlib.h"
	ok "... and unmounts" umount "$mnt"
else
	skip "an fstab line of type fuse.artifactfs" "artifactfs is not installed where mount(8) looks (make install)"
fi

done_testing
