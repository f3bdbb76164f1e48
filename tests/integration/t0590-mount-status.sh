#!/bin/sh
# The control socket of a real mount with a real HTTP server on loopback:
# after exactly 3 installs and 2 hits the counters say exactly that;
# artifactctl status (text and --json), metrics (the Prometheus format,
# promtool when installed), reload adding a name, an install in flight with
# its progress, the last error; the socket refuses a user other than its
# owner, and control_group= opens status (not reload) to a group.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test
need_artifactctl
[ "$(id -u)" -eq 0 ] || skip_all "needs root (the socket in /run/artifactfs, a second user)"
command -v setpriv >/dev/null 2>&1 || skip_all "setpriv not installed"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# Three small artifacts, one that fails (404), one that trickles until released.
for n in A B C D F S; do
	mkdir -p "$TEST_TMP/src/$n"
	printf 'artifact %s\n' "$n" >"$TEST_TMP/src/$n/f"
done
head -c 20000 /dev/urandom >"$TEST_TMP/src/S/big"
: >"$TEST_TMP/Artifacts.toml"
for n in A B C S; do add_src_artifact "$n"; done
start_test_server "$TEST_TMP"
sed -i "s|file://$TEST_TMP/S.tar.gz|$SERVER_URL/trickle/2000/S.tar.gz|; s|file://$TEST_TMP/|$SERVER_URL/|" \
	"$TEST_TMP/Artifacts.toml"
cat >>"$TEST_TMP/Artifacts.toml" <<EOF
[F]
git-tree-sha1 = "$("$ARTIFACTCTL" hash "$TEST_TMP/src/F")"

    [[F.download]]
    sha256 = "$(printf '%064d' 0)"
    url = "$SERVER_URL/404/F.tar.gz"

EOF
size() { stat -c %s "$1"; }
want_dl=$(($(size "$TEST_TMP/A.tar.gz") + $(size "$TEST_TMP/B.tar.gz") + $(size "$TEST_TMP/C.tar.gz")))

mnt=$TEST_TMP/mnt
# no_open=off: every opendir reaches the daemon, so that the counts below are
# exact (in no-open mode, the default, a second listing comes from the
# kernel's cache and counts nothing: t0545)
opts="store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml,no_open=off"
mount_artifactfs "$mnt" -o "$opts" || skip_all "mount failed"
sock=/run/artifactfs/$(printf '%s' "${mnt#/}" | "$PY" -c 'import sys
s = sys.stdin.read()
print("".join("-" if c == "/" else c if c.isascii() and (c.isalnum() or c in "_:" or (c == "." and i)) else "".join("\\x%02x" % b for b in c.encode()) for i, c in enumerate(s)))').sock
ctl() { "$ARTIFACTCTL" "$@"; }
wait_socket() { wait_ready FS_PID 200 "artifactfs exited" "$TEST_TMP/fs.log" "no control socket after 10 s" test -S "$sock"; }
wait_socket
ok "the socket is where the man page says, mode 0600" test "$(stat -c %a "$sock")" = 600

# --- exactly 3 installs and 2 hits --------------------------------------------------------
listdir() { "$PY" -c 'import os, sys; os.listdir(sys.argv[1])' "$1"; }
for n in A B C; do ok "list $n (an install)" listdir "$mnt/$n/"; done
ok "list A again (a hit)" listdir "$mnt/A/"
ok "list B again (a hit)" listdir "$mnt/B/"
ok "status --json" exit_is 0 ctl status --json "$mnt"
cp "$TEST_TMP/out" "$TEST_TMP/status.json"
counter() { json_get "$TEST_TMP/status.json" counters "$1"; }
is "3 installs" "$(counter installs)" 3
is "3 misses (the requests that waited for them)" "$(counter misses)" 3
is "2 hits" "$(counter hits)" 2
is "no failures" "$(counter failures)" 0
is "no evictions" "$(counter evictions)" 0
is "nothing served yet" "$(counter bytes_served)" 0
is "bytes downloaded: the three tarballs" "$(counter bytes_downloaded)" "$want_dl"
is "installed artifacts" "$(json_get "$TEST_TMP/status.json" installed artifacts)" 3
is "names" "$(json_get "$TEST_TMP/status.json" names)" 5
is "mount point" "$(json_get "$TEST_TMP/status.json" mountpoint)" "$mnt"
is "pid" "$(json_get "$TEST_TMP/status.json" pid)" "$FS_PID"
is "socket" "$(json_get "$TEST_TMP/status.json" socket)" "$sock"
ok "... and its path is logged" grep -qF "control socket $sock (mode 0600)" "$TEST_TMP/fs.log"
ok "memory: RssAnon and RssFile" "$PY" -c 'import json, sys
m = json.load(open(sys.argv[1]))["memory"]
assert m["rss_anon_bytes"] > 0 and m["rss_file_bytes"] > 0, m' "$TEST_TMP/status.json"

# The listing gave the kernel f's attributes (readdirplus): no lookup, one open (a hit).
ok "read a file" cat "$mnt/A/f"
ctl status --json "$mnt" >"$TEST_TMP/status.json"
is "bytes served: the file's" "$(counter bytes_served)" "$(size "$TEST_TMP/src/A/f")"

# --- a failure is counted and shown -------------------------------------------------------
is "the 404 artifact fails" "$(list_errno "$mnt/F/")" EIO
ctl status --json "$mnt" >"$TEST_TMP/status.json"
is "1 failure" "$(counter failures)" 1
ok "the last error names artifact, URL and cause" "$PY" -c 'import json, sys
e = json.load(open(sys.argv[1]))["errors"][0]
assert e["artifact"].startswith("F (") and e["url"].endswith("/404/F.tar.gz") and e["cause"], e' \
	"$TEST_TMP/status.json"

# --- the status screen ---------------------------------------------------------------------
ok "status" exit_is 0 ctl status "$mnt"
cp "$TEST_TMP/out" "$TEST_TMP/status.txt"
for want in "at $mnt, pid $FS_PID" "store        $TEST_TMP/store" "socket       $sock" \
	"  $TEST_TMP/Artifacts.toml  loaded " "names        5 (5 artifacts)" "installed    3 artifacts" \
	"quota        none" "in flight    0" "installs 3, failures 1" "hits 3," "/404/F.tar.gz" \
	"memory       RssAnon "; do
	ok "status shows '$want'" grep -qF -- "$want" "$TEST_TMP/status.txt"
done
ok "--socket PATH" exit_is 0 ctl status --socket "$sock"

# --- metrics ---------------------------------------------------------------------------------
ok "metrics" exit_is 0 ctl metrics "$mnt"
cp "$TEST_TMP/out" "$TEST_TMP/metrics.txt"
ok "the Prometheus text format: HELP and TYPE before each sample, units in names" "$PY" -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
name_re = r"artifactfs_[a-z_]+"
typed, helped, samples = {}, set(), {}
for l in lines:
    m = re.fullmatch(r"# HELP (%s) .+" % name_re, l)
    if m: helped.add(m.group(1)); continue
    m = re.fullmatch(r"# TYPE (%s) (counter|gauge)" % name_re, l)
    if m: typed[m.group(1)] = m.group(2); continue
    m = re.fullmatch(r"(%s)\{mountpoint=\"[^\"]*\"(,[a-z]+=\"[^\"]*\")*\} (-?[0-9.e+]+)" % name_re, l)
    assert m, "bad line: " + l
    n = m.group(1)
    assert n in typed and n in helped, "no HELP/TYPE before " + n
    float(m.group(3))
    samples[n] = float(m.group(3))
for n, t in typed.items():
    assert (t == "counter") == n.endswith("_total"), n
    assert n in samples, "no sample of " + n
assert samples["artifactfs_installs_total"] == 3 and samples["artifactfs_hits_total"] == 3
assert samples["artifactfs_install_failures_total"] == 1
assert "artifactfs_downloaded_bytes_total" in samples and "artifactfs_uptime_seconds" in samples
assert "artifactfs_opens_total" in samples
assert samples["artifactfs_opendirs_total"] >= 5
' "$TEST_TMP/metrics.txt"
if command -v promtool >/dev/null 2>&1; then
	ok "promtool check metrics accepts it" sh -c 'promtool check metrics <"$1"' sh "$TEST_TMP/metrics.txt"
else
	skip "promtool check metrics" "promtool not installed (Debian's prometheus package)"
fi

# --- reload adds a name ----------------------------------------------------------------------
add_src_artifact D
sed -i "s|file://$TEST_TMP/D.tar.gz|$SERVER_URL/D.tar.gz|" "$TEST_TMP/Artifacts.toml"
ok "reload" exit_is 0 ctl reload "$mnt"
# inotify may have reloaded first: then the answer lists no change.
ok "... answers the name added (or that inotify was first)" \
	grep -qxE "added: D|reloaded: 6 names" "$TEST_TMP/out"
ok "D is served after the reload" cat "$mnt/D/f"
is "status counts 6 names" "$(ctl status --json "$mnt" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["names"])')" 6

# --- an install in flight -------------------------------------------------------------------
(cat "$mnt/S/big" >/dev/null 2>&1; echo done >"$TEST_TMP/S.done") &
inflight() {
	ctl status --json "$mnt" >"$TEST_TMP/if.json" &&
		"$PY" -c 'import json, sys
f = json.load(open(sys.argv[1]))["inflight"]
assert f and f[0]["state"] == "running" and f[0]["bytes"] > 0' "$TEST_TMP/if.json"
}
i=0
while ! inflight 2>/dev/null && [ $i -lt 400 ]; do i=$((i + 1)); sleep 0.05; done
ok "a trickling install is in flight with its progress" inflight
ok "status shows it: name, URL, bytes so far" sh -c \
	'"$1" status "$2" | grep -E "^  S \([0-9a-f]{40}\)  .* of .*/s, .*/trickle/2000/S.tar.gz$"' \
	sh "$ARTIFACTCTL" "$mnt"
server_release
i=0
while [ ! -e "$TEST_TMP/S.done" ] && [ $i -lt 400 ]; do i=$((i + 1)); sleep 0.05; done
ok "the reader was answered after the release" test -e "$TEST_TMP/S.done"

# --- malformed requests get an answer, the daemon goes on ---------------------------------
ask_raw() {	# ask_raw BYTES-EXPRESSION: send it, print the answer
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
print(s.makefile().read().strip())' "$sock" "$1"
}
is "an unknown request" "$(ask_raw 'b"hello\n"')" \
	'{"ok":false,"error":"unknown request (status, metrics, reload)"}'
is "a request too long (5000 bytes)" "$(ask_raw 'b"x" * 5000')" '{"ok":false,"error":"request too long"}'
is "two lines" "$(ask_raw 'b"status\nreload\n"')" '{"ok":false,"error":"more than one line"}'
ok "the daemon still answers" exit_is 0 ctl status "$mnt"

# --- the owner only ----------------------------------------------------------------------------
ok "another user cannot even connect (mode 0600)" exit_is 5 as_nobody "$ARTIFACTCTL" status "$mnt"
ok "... and is told so" grep -q "Permission denied" "$TEST_TMP/err"
unmount_artifactfs
ok "the socket goes with the mount" test ! -e "$sock"
ok "without a daemon: exit status 5" exit_is 5 ctl status --socket "$sock" --store "$TEST_TMP/store"
ok "... saying so and what the store tells" sh -c 'grep -q "no daemon answers" "$1/err" &&
	grep -q "installed    4 artifacts" "$1/out"' sh "$TEST_TMP"

# control_group= (from a config file): status for the group, reload still the owner's.
printf 'control_group = "nogroup"\nretry_after = 5\n' >"$TEST_TMP/af.toml"
mount_artifactfs "$mnt" -o "$opts,config=$TEST_TMP/af.toml" || skip_all "second mount failed"
wait_socket
ok "control_group: mode 0660 and the group" test "$(stat -c '%a %G' "$sock")" = "660 nogroup"
ok "a member of the group reads the status" exit_is 0 as_nobody "$ARTIFACTCTL" status "$mnt"
ok "... and the metrics" exit_is 0 as_nobody "$ARTIFACTCTL" metrics "$mnt"
ok "but reload is refused to it" exit_is 1 as_nobody "$ARTIFACTCTL" reload "$mnt"
ok "... with a clear answer" grep -q "'reload' is for the daemon's owner (uid 0) and root only; you are uid 65534" "$TEST_TMP/err"
ok "the refusal is logged" grep -q "control: 'reload' refused to uid 65534" "$TEST_TMP/fs.log"
ok "root may reload" exit_is 0 ctl reload "$mnt"
ok "... and nothing of the config file changed" sh -c '! grep -q "need a remount" "$1"' sh "$TEST_TMP/out"
printf 'control_group = "nogroup"\nretry_after = 7\njobs = 2\n' >"$TEST_TMP/af.toml"
ok "reload after an edit of the config file" exit_is 0 ctl reload "$mnt"
is "... names the settings that need a remount" "$(grep remount "$TEST_TMP/out")" \
	"not applied, need a remount: jobs retry_after"
is "... in --json too" "$(ctl reload --json "$mnt" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
print(d["config"] == sys.argv[1], d["needs_remount"])' "$TEST_TMP/af.toml")" "True ['jobs', 'retry_after']"
unmount_artifactfs
ok "an unknown control_group stops the start" sh -c '! "$1" -f "$2" -o "$3,control_group=no-such-group-x" 2>"$4/cg.err" &&
	grep -q "control_group .no-such-group-x. is no group" "$4/cg.err"' sh "$ARTIFACTFS" "$mnt" "$opts" "$TEST_TMP"

done_testing
