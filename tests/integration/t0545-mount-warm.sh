#!/bin/sh
# The warm path on a real mount: in no-open mode (no_open=on, where the
# kernel has it) repeated reads reach the daemon without an open
# (the "opens" counter stays at the first one, answered ENOSYS) and serve
# the store's bytes; with no_open=off every open reaches it (and counts a
# hit); no-open mode is the default.  Eviction
# safety without open files to count: a file held open by a process pins
# its artifact against artifactctl evict and the quota, and once closed the
# eviction's own invalidation lets the kernel forget it and the eviction
# proceeds.  xattr=off: getfattr is refused (ENOTSUP), ls -l works.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test
need_artifactctl

# Three artifacts of 600 KiB, slices of a real file of this machine.
src=$(ls -S /usr/lib/x86_64-linux-gnu/*.so* /usr/lib/*/*.so* /usr/bin/* 2>/dev/null | head -n 1)
[ -n "$src" ] && [ "$(stat -Lc %s "$src")" -gt 2000000 ] || skip_all "no file of 2 MB on this machine to slice"
: >"$TEST_TMP/Artifacts.toml"
i=0
for n in A B C; do
	mkdir -p "$TEST_TMP/src/$n/lib"
	dd if="$src" of="$TEST_TMP/src/$n/lib/data.bin" bs=1024 skip=$((i * 600)) count=600 2>/dev/null
	printf '%s\n' "$n" >"$TEST_TMP/src/$n/NAME"
	add_src_artifact "$n"
	i=$((i + 1))
done
hash_of() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
A=$(hash_of A)
mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
installed() { test -d "$store/artifacts/$(hash_of "$1")"; }
ctl() { "$ARTIFACTCTL" "$@"; }
opens() {
	ctl status --json "$mnt" >"$TEST_TMP/status.json" &&
		json_get "$TEST_TMP/status.json" counters opens
}

# --- no-open mode: no open reaches the daemon after the first ------------------------------
# 1.8 MiB installed goes over 1500 KiB: evict down to 85% (1.25 MiB), one artifact.
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,quota=1500K,quota_low=85,no_open=on" ||
	skip_all "mount failed"
ctl status --json "$mnt" >"$TEST_TMP/status.json"
[ "$(json_get "$TEST_TMP/status.json" no_open)" = True ] ||
	skip_all "the kernel has no zero-message opens (FUSE_CAP_NO_OPEN_SUPPORT)"
ok "the first read of A (an install)" cmp "$mnt/A/lib/data.bin" "$TEST_TMP/src/A/lib/data.bin"
is "one open reached the daemon (answered ENOSYS)" "$(opens)" 1
for _ in 1 2 3; do
	cat "$mnt/A/lib/data.bin" "$mnt/A/NAME" >/dev/null
done
ok "repeated reads give the store's bytes" cmp "$mnt/A/lib/data.bin" "$store/artifacts/$A/lib/data.bin"
ok "... and the source's" cmp "$mnt/A/NAME" "$TEST_TMP/src/A/NAME"
is "... with no further open at the daemon" "$(opens)" 1

# --- no-opendir: no opendir reaches the daemon after the first either --------------------------
opendirs() {
	ctl status --json "$mnt" >"$TEST_TMP/status.json" &&
		json_get "$TEST_TMP/status.json" counters opendirs
}
if [ "$(json_get "$TEST_TMP/status.json" no_opendir)" = True ]; then
	ls "$mnt" >"$TEST_TMP/root1"
	ok "the root lists A's hash" grep -qx "$A" "$TEST_TMP/root1"
	(cd "$TEST_TMP/src/A" && ls -aR .) >"$TEST_TMP/ls.src"
	for _ in 1 2 3; do
		(cd "$mnt/A" && ls -alR . >/dev/null && ls -aR .) >"$TEST_TMP/ls.mnt"
	done
	ok "ls -aR of A, read without opendir, lists what its source does" \
		diff "$TEST_TMP/ls.src" "$TEST_TMP/ls.mnt"
	is "one opendir reached the daemon (answered ENOSYS)" "$(opendirs)" 1
else
	for t in "the root lists A" "ls -aR of A" "one opendir"; do
		skip "$t" "the kernel has no zero-message opendirs (FUSE_CAP_NO_OPENDIR_SUPPORT)"
	done
fi

# --- eviction safety: a file held open pins its artifact -----------------------------------
sleep 1.1	# access times have a resolution of one second: A is the least recently used
ok "read B (an install)" cmp "$mnt/B/lib/data.bin" "$TEST_TMP/src/B/lib/data.bin"
mkfifo "$TEST_TMP/fifo"
(exec 3<"$mnt/A/lib/data.bin" && read -r _ <"$TEST_TMP/fifo") &
holder=$!
release_holder() { [ -n "$holder" ] && echo >"$TEST_TMP/fifo"; }
at_exit release_holder
ok "a process holds a file of A open" wait_for test -e "/proc/$holder/fd/3"
ok "artifactctl evict of A is refused: exit status 6" exit_is 6 ctl evict "$mnt" A
ok "... held, with the holder named" grep -qE "^held A \($A\): .*pid $holder" "$TEST_TMP/out"
ok "... A is still installed" installed A
sleep 1.1
ok "read C (an install over the quota)" cmp "$mnt/C/lib/data.bin" "$TEST_TMP/src/C/lib/data.bin"
ok "the quota kept A, least recently used but held open" installed A
fails "... and evicted B, the oldest one without an open file" installed B
ok "the open file still reads" cmp "/proc/$holder/fd/3" "$TEST_TMP/src/A/lib/data.bin"
echo >"$TEST_TMP/fifo"
wait "$holder"
holder=
ok "after the close, artifactctl evict of A proceeds" exit_is 0 ctl evict "$mnt" A
ok "... removed" grep -q "^removed A ($A)" "$TEST_TMP/out"
fails "... A is gone from the store" installed A
ok "... and from the root's listing at once" sh -c '! ls "$1" | grep -qx "$2"' sh "$mnt" "$A"
ok "A is served again (installed anew)" cmp "$mnt/A/lib/data.bin" "$TEST_TMP/src/A/lib/data.bin"
ok "... and listed in the root at once" sh -c 'ls "$1" | grep -qx "$2"' sh "$mnt" "$A"
ok "no leftovers in tmp/" test "$(ls -A "$store/tmp" | wc -l)" -eq 0
unmount_artifactfs
is "clean unmount" $? 0

# --- no_open=off: every open reaches the daemon, as before --------------------------------------------------
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,no_open=off" ||
	skip_all "mount failed"
cat "$mnt/C/NAME" >/dev/null
hits=$(opens >/dev/null && json_get "$TEST_TMP/status.json" counters hits)
for _ in 1 2; do
	cat "$mnt/C/NAME" >/dev/null
done
is "no_open=off: three opens at the daemon" "$(opens)" 3
is "... status says so" "$(json_get "$TEST_TMP/status.json" no_open)" False
is "... the two opens of a cached lookup are two hits" \
	"$(json_get "$TEST_TMP/status.json" counters hits)" $((hits + 2))
ls "$mnt/C/" >/dev/null
ls "$mnt/C/" >/dev/null
is "... and every opendir reaches it" "$(opendirs)" 2
# an open file pins its artifact in this mode too, by its open
C=$(hash_of C)
exec 4<"$mnt/C/lib/data.bin"
ok "no_open=off: artifactctl evict of C with a file open is refused: exit status 6" \
	exit_is 6 ctl evict "$mnt" C
ok "... C is still installed" installed C
ok "... the open file reads" cmp /dev/fd/4 "$TEST_TMP/src/C/lib/data.bin"
exec 4<&-
ok "after the close, artifactctl evict of C proceeds" exit_is 0 ctl evict "$mnt" C
fails "... C is gone from the store" installed C
unmount_artifactfs

# --- the default is no-open mode -----------------------------------------------------------------
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || skip_all "mount failed"
for _ in 1 2 3; do
	cat "$mnt/C/NAME" >/dev/null
done
is "by default one open reaches the daemon (answered ENOSYS)" "$(opens)" 1
is "... status says no_open" "$(json_get "$TEST_TMP/status.json" no_open)" True
unmount_artifactfs

# --- xattr=off -----------------------------------------------------------------------------------
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,xattr=off" ||
	skip_all "mount failed"
xattr_errno() {
	"$PY" -c 'import errno, os, sys
try:
    os.getxattr(sys.argv[1], sys.argv[2]); print("no error")
except OSError as e:
    print(errno.errorcode[e.errno])' "$@"
}
is "xattr=off: user.artifactfs.hash is not supported" \
	"$(xattr_errno "$mnt/$C" user.artifactfs.hash)" ENOTSUP
is "... nor on the root" "$(xattr_errno "$mnt" user.artifactfs.version)" ENOTSUP
ok "ls -l works" sh -c "ls -lR '$mnt/$C/' >'$TEST_TMP/ls.out'"
ok "... and lists the files" grep -q "data.bin" "$TEST_TMP/ls.out"
unmount_artifactfs
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || skip_all "mount failed"
is "xattr on (the default): user.artifactfs.hash answers" \
	"$("$PY" -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.artifactfs.hash").decode())' \
	"$mnt/$C")" "$C"
unmount_artifactfs
done_testing
