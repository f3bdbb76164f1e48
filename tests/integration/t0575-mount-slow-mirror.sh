#!/bin/sh
# A slow mirror (issue 10, bug 10) on a real mount and the loopback server's
# /trickle/10/ mode (10 bytes a second):
#   (a) a reader blocked on the install is killable: SIGKILL and SIGINT end
#       it at once (FUSE interrupts), while the install goes on;
#   (c) no reader waits longer than install_timeout: it gets EIO, the log
#       says how far the install got, and the install goes on;
#   (b) the default low-speed limit (1 KiB/s) ends such a download.
# Every wait is on an event, bounded by a generous watchdog.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_fuse
need_prog "${PYTHON3:-python3}"
PY=${PYTHON3:-python3}
WATCHDOG=60	# seconds; every wait below ends long before unless the bug is back

art=$TEST_TMP/art
"$PY" "$TARBALLS" realfiles "$art" --only zlib --only tools --only docs \
	--compressions gz >/dev/null || skip_all "cannot build test artifacts"
start_test_server "$art" || skip_all "the test server did not start"
for n in zlib tools docs; do
	toml_entry $n "$(art_tree $n)" "$(art_sha $n)" "$SERVER_URL/trickle/10/$n.tar.gz"
done >"$TEST_TMP/Artifacts.toml"

mnt=$TEST_TMP/mnt

# alive PID: PID runs (a zombie, not yet reaped by this shell, has exited).
alive() {
	_s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_s" ] && [ "$_s" != Z ]
}
gone() { ! alive "$1"; }
got_get() { [ "$(server_stat GET "$1")" -ge 1 ]; }

wait_gone() { wait_for gone "$1"; }
wait_get() { wait_for got_get "$1"; }

# wait_blocked PID: until PID sleeps in a FUSE request (its wchan), at most
# 10 s; says so when the kernel does not tell.
wait_blocked() {
	_w=0
	while :; do
		case $(cat "/proc/$1/wchan" 2>/dev/null) in
		*request_wait_answer* | fuse_*) return 0 ;;
		esac
		[ $_w -lt 100 ] || { echo "# wchan of $1 never showed a FUSE wait"; return 0; }
		sleep 0.1
		_w=$((_w + 1))
	done
}

state() {
	"$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.artifactfs.state").decode())' \
		"$mnt/$1"
}

# A reader in python: lists DIR and prints what happened (an errno name,
# "interrupted" for SIGINT, "ok").
cat >"$TEST_TMP/reader.py" <<'EOF'
import errno, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    os.listdir(sys.argv[1])
    print("ok")
except KeyboardInterrupt:
    print("interrupted")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
sys.stdout.flush()
EOF

# mount_and_read PART OPTIONS ARTIFACT: an empty log, a mount of the store
# store-PART with OPTIONS, and a reader of ARTIFACT in the background
# (its pid in $reader, its answer in PART.out).
mount_and_read() {
	: >"$TEST_TMP/fs.log"
	mount_artifactfs "$mnt" -o "store=$TEST_TMP/store-$1,toml=$TEST_TMP/Artifacts.toml,$2" ||
		bail_out "mount failed"
	"$PY" "$TEST_TMP/reader.py" "$mnt/$3/" >"$TEST_TMP/$1.out" 2>&1 &
	reader=$!
}

# end_part [PATH]: let the held download of PATH (all, without one) go and unmount.
end_part() {
	server_release "$@"
	unmount_artifactfs
	is "clean unmount" $? 0
}

# --- (a) interrupts ---------------------------------------------------------------------
zlib=$(art_tree zlib)
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store-a,toml=$TEST_TMP/Artifacts.toml,low_speed_time=0,install_timeout=3600" ||
	bail_out "mount failed"
ls "$mnt/zlib/" >/dev/null 2>&1 &
killed=$!
ok "the install from the trickling mirror started" wait_get /trickle/10/zlib.tar.gz
wait_blocked $killed
"$PY" "$TEST_TMP/reader.py" "$mnt/zlib/" >"$TEST_TMP/int.out" 2>&1 &
intr=$!
wait_blocked $intr
kill -KILL $killed
ok "a SIGKILLed reader waiting for the install exits" wait_gone $killed
kill -INT $intr
ok "a reader waiting for the install exits on SIGINT" wait_gone $intr
is "... interrupted (EINTR reached it)" "$(cat "$TEST_TMP/int.out")" interrupted
is "the install goes on" "$(state "$zlib")" pending
is "... still its first download" "$(server_stat GET /trickle/10/zlib.tar.gz)" 1
end_part /trickle/10/zlib.tar.gz

# --- (c) install_timeout -------------------------------------------------------------------
tools=$(art_tree tools)
mount_and_read c low_speed_time=0,install_timeout=2 tools
ok "a reader of a trickling install gets an answer" wait_gone $reader
is "... EIO, after install_timeout" "$(cat "$TEST_TMP/c.out")" EIO
ok "the log says why, with the install's progress" \
	grep -q "not installed within install_timeout (2 s).*bytes received from '.*/trickle/10/tools.tar.gz'" \
	"$TEST_TMP/fs.log"
is "the install goes on after the reader gave up" "$(state "$tools")" pending
"$PY" "$TEST_TMP/reader.py" "$mnt/tools/" >"$TEST_TMP/c2.out" 2>&1 &
reader=$!
ok "a second reader gets an answer too" wait_gone $reader
is "... EIO" "$(cat "$TEST_TMP/c2.out")" EIO
is "... from the same download" "$(server_stat GET /trickle/10/tools.tar.gz)" 1
end_part /trickle/10/tools.tar.gz

# --- (b) the default low-speed limit ----------------------------------------------------------
# low_speed_time shortened to 2 s; the limit is the default (1 KiB/s): a
# mirror sending 10 bytes/s fails each attempt, so the reader gets EIO.
mount_and_read b low_speed_time=2,install_timeout=3600 docs
ok "a reader of a 10 bytes/s mirror gets an answer" wait_gone $reader
is "... EIO" "$(cat "$TEST_TMP/b.out")" EIO
ok "... as the download was too slow (under 1024 bytes/s)" \
	grep -q "Less than 1024 bytes/sec" "$TEST_TMP/fs.log"
end_part

done_testing
