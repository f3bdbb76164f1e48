#!/bin/sh
# Reload adds and removes a toml= file of the config file without a
# remount: artifactctl reload (and SIGHUP) re-read the config file; the
# names of an added file appear (ls shows them, they are served), those
# of a removed file disappear (installed <hash> entries stay), the answer names the files, toml is not
# among the settings that "need a remount"; the added file is then
# watched by inotify like the others; a toml= that names a missing file
# keeps everything as it was.  With libsystemd, the daemon tells
# $NOTIFY_SOCKET READY=1 once mounted and RELOADING=1, READY=1 around each
# reload (systemd's Type=notify).
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_artifactctl

for n in A B B2; do
	mkdir -p "$TEST_TMP/src/$n"
	printf 'artifact %s\n' "$n" >"$TEST_TMP/src/$n/f"
done
mkdir -p "$TEST_TMP/one" "$TEST_TMP/two"
: >"$TEST_TMP/Artifacts.toml"
add_src_artifact A
mv "$TEST_TMP/Artifacts.toml" "$TEST_TMP/one/Artifacts.toml"
add_src_artifact B
mv "$TEST_TMP/Artifacts.toml" "$TEST_TMP/two/Artifacts.toml"
one=$TEST_TMP/one/Artifacts.toml two=$TEST_TMP/two/Artifacts.toml
conf=$TEST_TMP/af.toml
printf 'toml = ["%s"]\n' "$one" >"$conf"

# A notify socket as systemd's: every datagram appended to notify.log.
notify=no
if ldd "$ARTIFACTFS" 2>/dev/null | grep -q libsystemd; then
	notify=yes
	NOTIFY_SOCKET=$TEST_TMP/notify.sock
	"$PY" -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
while os.getppid() != 1:
    s.settimeout(1)
    try:
        m = s.recv(4096)
    except socket.timeout:
        continue
    with open(sys.argv[2], "ab") as f:
        f.write(m.replace(b"\n", b" ") + b"\n")' "$NOTIFY_SOCKET" "$TEST_TMP/notify.log" &
	listener=$!
	stop_listener() { kill "$listener" 2>/dev/null; }
	at_exit stop_listener
	wait_for test -e "$NOTIFY_SOCKET.ready"
	export NOTIFY_SOCKET
fi
mnt=$TEST_TMP/mnt
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store,config=$conf" || skip_all "mount failed"
unset NOTIFY_SOCKET
notified() { grep -c "^$1\$" "$TEST_TMP/notify.log" 2>/dev/null; }
notified_n() { test "$(notified "$1")" -ge "$2"; }
if [ "$notify" = yes ]; then
	ok "sd_notify: READY=1 once the mount serves" wait_for notified_n READY=1 1
	is "... and nothing else yet" "$(wc -l <"$TEST_TMP/notify.log")" 1
else
	skip "sd_notify: READY=1 once the mount serves" "built without libsystemd"
fi
ctl() { "$ARTIFACTCTL" "$@"; }
names() { ls "$mnt" | grep -vE '^[0-9a-f]{40}$' | tr '\n' ' '; }

is "at start: A" "$(names)" "A "
ok "A is served" cat "$mnt/A/f"

# --- a file added to the config file ------------------------------------------------------------
printf 'toml = ["%s", "%s"]\n' "$one" "$two" >"$conf"
ok "reload" exit_is 0 ctl reload "$mnt"
ok "... names the file added" grep -qxF "files added: $two" "$TEST_TMP/out"
ok "... and its name" grep -qx "added: B" "$TEST_TMP/out"
ok "... nothing needs a remount" sh -c '! grep -q remount "$1"' sh "$TEST_TMP/out"
if [ "$notify" = yes ]; then
	ok "sd_notify: RELOADING=1 for the reload" wait_for notified_n "RELOADING=1 MONOTONIC_USEC=[0-9]*" 1
	ok "... then READY=1 again" wait_for notified_n READY=1 2
	is "... in this order" "$(sed 's/ MONOTONIC_USEC=.*//' "$TEST_TMP/notify.log" | tr '\n' ' ')" \
		"READY=1 RELOADING=1 READY=1 "
fi
is "ls shows B" "$(names)" "A B "
is "B is served" "$(cat "$mnt/B/f")" "artifact B"
ok "status lists both files" sh -c '"$1" status "$2" | grep -q "^files        2 Artifacts.toml"' \
	sh "$ARTIFACTCTL" "$mnt"

# The added file is watched: an edit is picked up without a reload.
add_src_artifact B2
sed 's/^\[B2\]/[C]/; s/\[\[B2\.download\]\]/[[C.download]]/' "$TEST_TMP/Artifacts.toml" >"$TEST_TMP/c.toml"
cat "$two" "$TEST_TMP/c.toml" >"$TEST_TMP/two/.new" && mv "$TEST_TMP/two/.new" "$two"
has_c() { test -L "$mnt/C"; }
ok "an edit of the added file is seen (inotify)" wait_for has_c
is "... C is served" "$(cat "$mnt/C/f")" "artifact B2"

# --- a file removed ---------------------------------------------------------------------------------
printf 'toml = ["%s"]\n' "$two" >"$conf"
ok "reload after removing the first file" exit_is 0 ctl reload "$mnt"
ok "... names the file removed" grep -qxF "files removed: $one" "$TEST_TMP/out"
ok "... and its name" grep -qx "removed: A" "$TEST_TMP/out"
is "ls no longer shows A" "$(names)" "B C "
is "A is gone" "$(list_errno "$mnt/A")" ENOENT

# --- SIGHUP does the same ----------------------------------------------------------------------------
printf 'toml = ["%s", "%s"]\n' "$two" "$one" >"$conf"
kill -HUP "$FS_PID"
has_a() { test -L "$mnt/A"; }
ok "after SIGHUP, A is back" wait_for has_a
is "... ls shows it" "$(names)" "A B C "

# --- a missing file keeps everything ----------------------------------------------------------------
printf 'toml = ["%s", "%s/none.toml"]\n' "$two" "$TEST_TMP" >"$conf"
ok "reload with a missing file fails" exit_is 1 ctl reload "$mnt"
ok "... naming it" grep -q "none.toml" "$TEST_TMP/err"
is "... and the names stay" "$(names)" "A B C "
done_testing
