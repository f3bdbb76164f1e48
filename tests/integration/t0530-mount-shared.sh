#!/bin/sh
# A shared mount: with allow_other a non-root user reads and cannot write;
# without it, other users are kept out; the mount is nosuid and nodev, and
# setuid/setgid bits are never served even when the store holds them.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_prog setpriv
[ "$(id -u)" -eq 0 ] || skip_all "needs root to switch to another user"
CHECK="$PY $TESTS_SRCDIR/mountcheck.py"

# Other users must be able to reach the mount point.
chmod 755 "$TEST_TMP"
mount_realfiles --only tools --compressions gz
"$PY" "$TARBALLS" toml "$art" "file://$art" -o "$TEST_TMP/Artifacts.toml"
chmod -R a+rX "$art" "$TEST_TMP/Artifacts.toml"
tools=$(art_tree tools)

# Install first, then plant setuid/setgid bits in the store by hand: the
# daemon must not pass them on.
store=$TEST_TMP/store
"$ARTIFACTCTL" fetch --store "$store" "$TEST_TMP/Artifacts.toml" >/dev/null ||
	skip_all "artifactctl fetch failed"
bin=$(cd "$store/artifacts/$tools/bin" && find . -type f | sed 's|^\./||' | sort | head -n 1)
chmod 6755 "$store/artifacts/$tools/bin/$bin"

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
mnt=$TEST_TMP/mnt

mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || skip_all "mount failed"
fails "without allow_other another user cannot read" as_nobody cat "$mnt/tools/bin/$bin"
unmount_artifactfs

mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,allow_other" ||
	skip_all "mount with allow_other failed"
opts=$(awk -v m="$mnt" '$5 == m { print $6 }' /proc/self/mountinfo)
ok "mounted read-only ($opts)" sh -c "echo '$opts' | grep -q '^ro'"
ok "mounted nosuid" sh -c "echo '$opts' | grep -q nosuid"
ok "mounted nodev" sh -c "echo '$opts' | grep -q nodev"

ok "with allow_other a non-root user reads" as_nobody cmp "$mnt/tools/bin/$bin" "$art/src/tools/bin/$bin"
ok "... lists" as_nobody ls -lR "$mnt/tools/"
ok "... and runs programs" as_nobody sh -c "'$mnt/tools/bin/$bin' --version >/dev/null 2>&1 || '$mnt/tools/bin/$bin' --help >/dev/null 2>&1"
# The other user needs a python it may run (not a per-user install), and a
# copy of the checker it can read wherever the source tree lives.
cp "$TESTS_SRCDIR/mountcheck.py" "$TEST_TMP/mountcheck.py"
chmod 644 "$TEST_TMP/mountcheck.py"
syspy=/usr/bin/python3
[ -x "$syspy" ] || syspy=$PY
ok "a non-root user cannot change anything (EROFS for every kind of write)" \
	as_nobody "$syspy" "$TEST_TMP/mountcheck.py" writes "$mnt/$tools"
mode=$(stat -c %a "$mnt/tools/bin/$bin")
is "setuid and setgid bits in the store are not served" "$mode" 555
ok "the store itself still has them (the daemon filters)" test -u "$store/artifacts/$tools/bin/$bin"

unmount_artifactfs
is "clean unmount" $? 0
done_testing
