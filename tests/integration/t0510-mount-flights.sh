#!/bin/sh
# Installs through a real mount and a real HTTP server on loopback:
# 32 concurrent readers of one cold artifact cause one download; a stalled
# mirror for one artifact does not hold up another; an artifact whose every
# source fails gives EIO, one clear log line and nothing in the store.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test
CHECK="$PY $TESTS_SRCDIR/mountcheck.py"

mount_realfiles --only zlib --only tools --only docs --compressions gz
start_test_server "$art" || skip_all "the test server did not start"
# zlib: behind a 500 ms delay so all readers overlap the one download.
# tools: a stalled mirror.  docs: served normally.  broken: every source fails.
zsha=$(art_sha zlib)
{
	toml_entry broken "$(art_tree zlib | tr 0-9a-f 1-9a-f0)" "$zsha" "$SERVER_URL/404/zlib.tar.gz" \
		"$zsha" "$SERVER_URL/500/zlib.tar.gz" "$zsha" "$SERVER_URL/zlib.tar.gz"
	toml_entry docs "$(art_tree docs)" "$(art_sha docs)" "$SERVER_URL/docs.tar.gz"
	toml_entry tools "$(art_tree tools)" "$(art_sha tools)" "$SERVER_URL/stall/tools.tar.gz"
	toml_entry zlib "$(art_tree zlib)" "$zsha" "$SERVER_URL/delay/500/zlib.tar.gz"
} >"$TEST_TMP/Artifacts.toml"

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,low_speed_time=6,retry_after=60" ||
	skip_all "mount failed"

# --- 32 readers, one download ---------------------------------------------------------
n=$($CHECK readers 32 "$mnt/zlib/include/zlib.h")
is "32 concurrent readers of a cold artifact all read the right bytes" "$n" 32
gets=$(server_stat GET /delay/500/zlib.tar.gz)
echo "# GET count for 32 concurrent readers: $gets"
is "... and the server saw exactly one GET" "$gets" 1
ok "the bytes equal the source" cmp "$art/src/zlib/include/zlib.h" "$mnt/zlib/include/zlib.h"

# --- a stalled mirror does not hold up another artifact ---------------------------------
(cat "$mnt/tools/share/licenses/README" >/dev/null 2>"$TEST_TMP/stalled.err"; echo $? >"$TEST_TMP/stalled.rc") &
stalled=$!
i=0
while [ "$(server_stat GET /stall/tools.tar.gz)" -lt 1 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
is "the stalled download started" "$(server_stat GET /stall/tools.tar.gz)" 1
t0=$(date +%s.%N)
ok "another artifact is read in full while the mirror stalls" diff -r "$art/src/docs" "$mnt/docs/"
t1=$(date +%s.%N)
state=$("$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.artifactfs.state").decode())' "$mnt/$(art_tree tools)")
is "... while the stalled one is still pending" "$state" pending
secs=$("$PY" -c "print('%.2f' % ($t1 - $t0))")
echo "# docs read in $secs s while tools stalled"
ok "... and quickly (under 5 s, the stall lasts 6 s or more)" "$PY" -c "import sys; sys.exit(0 if $t1 - $t0 < 5 else 1)"
wait $stalled
is "the stalled reader gets EIO once the low-speed limit ends it" "$(cat "$TEST_TMP/stalled.rc")" 1
ok "... reported as an I/O error" grep -q "Input/output error" "$TEST_TMP/stalled.err"

# --- every source fails -------------------------------------------------------------------
broken_hash=$(readlink "$mnt/broken")
err=$(list_errno "$mnt/broken/")
is "an artifact whose every source fails is EIO" "$err" EIO
ok "the log names the artifact" grep -q "'broken'" "$TEST_TMP/fs.log"
ok "... and every URL tried, with its cause" sh -c "grep -q '/404/zlib.tar.gz' '$TEST_TMP/fs.log' &&
	grep -A1 '/404/zlib.tar.gz' '$TEST_TMP/fs.log' | grep -q 'HTTP 404' &&
	grep -A1 '/500/zlib.tar.gz' '$TEST_TMP/fs.log' | grep -q 'HTTP 500' &&
	grep -q 'Tree Hash Mismatch' '$TEST_TMP/fs.log'"
ok "nothing of it in the store" test ! -e "$store/artifacts/$broken_hash"
is "no leftovers in tmp/" "$(ls -A "$store/tmp" | wc -l)" 0
before=$(server_total GET)
err2=$(list_errno "$mnt/broken/")
is "within retry_after a second access fails at once" "$err2" EIO
is "... without another download" "$(server_total GET)" "$before"

unmount_artifactfs
is "clean unmount" $? 0
done_testing
