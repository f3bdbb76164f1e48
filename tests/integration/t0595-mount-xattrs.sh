#!/bin/sh
# What programs and users see of a mount (issue 12), on a real mount and the
# loopback server: statfs (df) against the quota and the store; the log
# lines of installs and failures, log_level= filtering and the line of a
# slow install (slow_install_log=); the xattrs user.artifactfs.error after a
# failed install and .progress during a stalled one; the magic xattrs of the
# mount root; listxattr lists exactly the names getxattr answers.  Every
# wait is on an event, bounded by a watchdog.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test

art=$TEST_TMP/art
"$PY" "$TARBALLS" realfiles "$art" --only zlib --only tools --only docs --only small \
	--compressions gz >/dev/null || skip_all "cannot build test artifacts"
start_test_server "$art" || skip_all "the test server did not start"
# "stalled": 4 KiB that do not compress, served at 10 bytes a second.
mkdir -p "$TEST_TMP/stalled"
head -c 4096 /dev/urandom >"$TEST_TMP/stalled/data"
tar -C "$TEST_TMP/stalled" --owner=0 --group=0 -czf "$art/stalled.tar.gz" . || skip_all "tar failed"
meta() {
	if [ "$1" = stalled ]; then
		case $2 in
		tree) "$ARTIFACTCTL" hash "$TEST_TMP/stalled" ;;
		*) sha256sum "$art/stalled.tar.gz" | cut -d' ' -f1 ;;
		esac
		return
	fi
	"$PY" -c 'import json,sys; a=json.load(open(sys.argv[1]))["artifacts"][sys.argv[2]]
print(a["git-tree-sha1"] if sys.argv[3] == "tree" else a["tarballs"]["gz"]["sha256"])' \
	"$art/manifest.json" "$1" "$2"; }
entry() {	# NAME ARTIFACT URL-PATH
	printf '[%s]\ngit-tree-sha1 = "%s"\n\n    [[%s.download]]\n    sha256 = "%s"\n    url = "%s"\n\n' \
		"$1" "$(meta "$2" tree)" "$1" "$(meta "$2" sha)" "$SERVER_URL$3"
}
{
	entry zlib zlib /zlib.tar.gz
	entry tools tools /tools.tar.gz
	entry docs docs /docs.tar.gz
	entry bad small /404/small.tar.gz
	entry slow stalled /trickle/10/stalled.tar.gz
} >"$TEST_TMP/Artifacts.toml"
zlib=$(meta zlib tree)
small=$(meta small tree)
stalled=$(meta stalled tree)

chmod 755 "$TEST_TMP"	# another user reaches the mount point
mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
log=$TEST_TMP/fs.log

getx() { "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$@"; }
# listx PATH: the names listxattr gives, sorted, each read with getxattr
# (which raises when a listed name is not answered).
listx() {
	"$PY" - "$1" <<'EOF'
import os, sys
names = os.listxattr(sys.argv[1])
for n in names:
    os.getxattr(sys.argv[1], n)
print(" ".join(sorted(names)))
EOF
}
# statfs PATH: "BLOCKS_BYTES USED_BYTES AVAIL_BYTES" of statvfs(PATH).
statfs() {
	"$PY" -c 'import os,sys; s=os.statvfs(sys.argv[1])
print(s.f_blocks*s.f_frsize, (s.f_blocks-s.f_bfree)*s.f_frsize, s.f_bavail*s.f_frsize)' "$1"
}

# 64 MiB, a multiple of any block size.
quota=67108864
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,quota=64M,allow_other,low_speed_time=0,slow_install_log=1,retry_after=0" ||
	bail_out "mount failed"

# --- the root's magic xattrs before anything was installed ------------------------------
root_names="user.artifactfs.failures user.artifactfs.hits user.artifactfs.inflight user.artifactfs.installs user.artifactfs.misses user.artifactfs.pid user.artifactfs.quota user.artifactfs.store user.artifactfs.uptime user.artifactfs.used user.artifactfs.version"
is "the root lists its xattrs, each readable" "$(listx "$mnt")" "$root_names"
version=$("$ARTIFACTFS" --version | cut -d' ' -f2)
is "version is the daemon's" "$(getx "$mnt" user.artifactfs.version)" "$version"
is "pid is the daemon's" "$(getx "$mnt" user.artifactfs.pid)" "$FS_PID"
is "store is the store's path" "$(getx "$mnt" user.artifactfs.store)" "$(cd "$store" && pwd -P)"
is "quota in bytes" "$(getx "$mnt" user.artifactfs.quota)" "$quota"
is "nothing used yet" "$(getx "$mnt" user.artifactfs.used)" 0
is "nothing in flight" "$(getx "$mnt" user.artifactfs.inflight)" 0
for c in hits misses installs failures; do
	is "$c 0 at start" "$(getx "$mnt" user.artifactfs.$c)" 0
done
ok "uptime is whole seconds" sh -c 'case $1 in "" | *[!0-9]*) exit 1 ;; esac' - \
	"$(getx "$mnt" user.artifactfs.uptime)"
# Another user (the mount has allow_other) reads them with getfattr or the
# system's python (a python of root's home is not for nobody to run).
if command -v setpriv >/dev/null && command -v getfattr >/dev/null; then
	is "... readable by a user other than the daemon's" \
		"$(setpriv --reuid=65534 --regid=65534 --clear-groups \
			getfattr --only-values -n user.artifactfs.pid "$mnt")" "$FS_PID"
elif command -v setpriv >/dev/null && [ -x /usr/bin/python3 ]; then
	is "... readable by a user other than the daemon's" \
		"$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c \
		'import os,sys; print(os.getxattr(sys.argv[1], "user.artifactfs.pid").decode())' "$mnt")" \
		"$FS_PID"
else
	skip "no setpriv, or neither getfattr nor /usr/bin/python3: readable by others" 1
fi
is "df: the quota is the size, nothing used" "$(statfs "$mnt")" "$quota 0 $quota"

# --- three installs: log lines, used bytes, df ----------------------------------------------
for n in zlib tools docs; do
	is "$n installed through the mount" "$(list_errno "$mnt/$n/")" listed
done
used=0
for n in zlib tools docs; do
	h=$(meta $n tree)
	bytes=$(stat -c %s "$art/$n.tar.gz")
	ok "the install of $n is logged with name, hash, URL, bytes, seconds and rate" \
		grep -Eq "info: installed '$n' \($h\) from '$SERVER_URL/$n.tar.gz': $bytes bytes in [0-9.]+ s, [0-9]+ bytes/s$" "$log"
	used=$((used + $(getx "$mnt/$h" user.artifactfs.size)))
done
is "used is the installed bytes" "$(getx "$mnt" user.artifactfs.used)" "$used"
is "3 installs counted" "$(getx "$mnt" user.artifactfs.installs)" 3
is "... each after a miss (its opendir waited)" "$(getx "$mnt" user.artifactfs.misses)" 3
is "... no failure" "$(getx "$mnt" user.artifactfs.failures)" 0
# Two opens of a file whose lookup the kernel caches: in no-open mode (the
# default, where the kernel has it) no request reaches the daemon, so no hit;
# with no_open=off two hits (t0545 counts those too).  No miss either way.
f=$(cd "$mnt/zlib/" && find . -type f | head -n 1)
cat "$mnt/zlib/$f" >/dev/null
hits=$(getx "$mnt" user.artifactfs.hits)
cat "$mnt/zlib/$f" >/dev/null
cat "$mnt/zlib/$f" >/dev/null
"$ARTIFACTCTL" status --json "$mnt" >"$TEST_TMP/status.json"
if [ "$(json_get "$TEST_TMP/status.json" no_open)" = True ]; then
	is "2 opens of an installed file in no-open mode: no request, no more hits" \
		"$(getx "$mnt" user.artifactfs.hits)" "$hits"
else
	is "2 opens of an installed file: 2 more hits" "$(getx "$mnt" user.artifactfs.hits)" $((hits + 2))
fi
is "... no more misses" "$(getx "$mnt" user.artifactfs.misses)" 3
is "... no more installs" "$(getx "$mnt" user.artifactfs.installs)" 3
frsize=$("$PY" -c 'import os,sys; print(os.statvfs(sys.argv[1]).f_frsize)' "$mnt")
used_blocks=$(( (used + frsize - 1) / frsize * frsize ))
set -- $(statfs "$mnt")
is "df: the size is the quota" "$1" "$quota"
is "df: used is the installed bytes (in blocks)" "$2" "$used_blocks"
ok "df: available is at most what the quota leaves" test "$3" -le $((quota - used_blocks))
is "an installed artifact lists hash, size, source, state" "$(listx "$mnt/$zlib")" \
	"user.artifactfs.hash user.artifactfs.size user.artifactfs.source user.artifactfs.state"
fails "... no error" getx "$mnt/$zlib" user.artifactfs.error

# --- a failed install: the log line and user.artifactfs.error ------------------------------
is "an artifact whose only URL is 404 is EIO" "$(list_errno "$mnt/bad/")" EIO
ok "the failure is logged on one line with the URL and its cause" \
	grep -Eq "error: cannot install 'bad' \($small\) after [0-9.]+ s: .*$SERVER_URL/404/small.tar.gz.*404" "$log"
err=$(getx "$mnt/$small" user.artifactfs.error)
case $err in
*"$SERVER_URL/404/small.tar.gz"*404*) ok "user.artifactfs.error names the URL and the cause" true ;;
*) ok "user.artifactfs.error names the URL and the cause (got '$err')" false ;;
esac
is "a failed artifact lists error, hash, source, state" "$(listx "$mnt/$small")" \
	"user.artifactfs.error user.artifactfs.hash user.artifactfs.source user.artifactfs.state"
is "1 failure counted" "$(getx "$mnt" user.artifactfs.failures)" 1

# --- a stalled install: user.artifactfs.progress and the slow line ---------------------------
list_errno "$mnt/slow/" >"$TEST_TMP/slow.out" 2>&1 &
slow_reader=$!
total=$(stat -c %s "$art/stalled.tar.gz")
progress_started() {
	p=$(getx "$mnt/$stalled" user.artifactfs.progress 2>/dev/null) || return 1
	case $p in 0/* | "") return 1 ;; esac
}
ok "progress appears once the download started" wait_for progress_started
p=$(getx "$mnt/$stalled" user.artifactfs.progress)
case $p in
[1-9]*/"$total") ok "progress is BYTES/TOTAL ($p)" true ;;
*) ok "progress is BYTES/TOTAL of $total (got '$p')" false ;;
esac
is "one install in flight" "$(getx "$mnt" user.artifactfs.inflight)" 1
is "a running install lists progress" "$(listx "$mnt/$stalled")" \
	"user.artifactfs.hash user.artifactfs.progress user.artifactfs.source user.artifactfs.state"
slow_logged() { grep -q "warning: slow install of 'slow' ($stalled): 1 request waiting for [0-9.]* s (slow_install_log 1 s): running for .* bytes received from '$SERVER_URL/trickle/10/stalled.tar.gz'" "$log"; }
ok "a request blocked longer than slow_install_log is logged with the artifact and its progress" \
	wait_for slow_logged
server_release /trickle/10/stalled.tar.gz
wait "$slow_reader"
is "the released download fails the reader" "$(cat "$TEST_TMP/slow.out")" EIO
fails "no progress once the install ended" getx "$mnt/$stalled" user.artifactfs.progress
is "nothing in flight after it" "$(getx "$mnt" user.artifactfs.inflight)" 0
err=$(getx "$mnt/$stalled" user.artifactfs.error)
case $err in
*"$SERVER_URL/trickle/10/stalled.tar.gz"*) ok "the error is then this install's failure" true ;;
*) ok "the error is then this install's failure (got '$err')" false ;;
esac
is "... and listed" "$(listx "$mnt/$stalled")" \
	"user.artifactfs.error user.artifactfs.hash user.artifactfs.source user.artifactfs.state"
unmount_artifactfs
is "clean unmount" $? 0

# --- no quota: df is the store's filesystem -----------------------------------------------------
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,log_level=warning" ||
	bail_out "mount failed"
set -- $(statfs "$mnt")
set -- "$1" $(statfs "$store")
is "without a quota the size is the store filesystem's" "$1" "$2"
is "... and quota says 0" "$(getx "$mnt" user.artifactfs.quota)" 0

# --- log_level=warning: no info lines, errors still logged --------------------------------------
lines=$(wc -l <"$log")
is "bad fails again" "$(list_errno "$mnt/bad/")" EIO
rm -rf "${store:?}/artifacts/$zlib"
is "zlib installed again" "$(list_errno "$mnt/zlib/")" listed
tail -n +"$((lines + 1))" "$log" >"$TEST_TMP/new.log"
ok "log_level=warning logs the failure" grep -q "error: cannot install 'bad'" "$TEST_TMP/new.log"
fails "... but no info line" grep -q "info:" "$TEST_TMP/new.log"
unmount_artifactfs
is "clean unmount" $? 0

# --- log_level=debug: the daemon's debug lines without FUSE's trace ------------------------------
cat >"$TEST_TMP/Other.toml" <<EOF
[[elsewhere]]
arch = "powerpc64le"
os = "linux"
git-tree-sha1 = "$zlib"
EOF
lines=$(wc -l <"$log")
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Other.toml,log_level=debug" ||
	bail_out "mount failed"
ls "$mnt" >/dev/null
unmount_artifactfs
is "clean unmount" $? 0
tail -n +"$((lines + 1))" "$log" >"$TEST_TMP/new.log"
ok "log_level=debug logs the daemon's debug lines" \
	grep -q "debug: .*'elsewhere' has no entry for this platform" "$TEST_TMP/new.log"
fails "... but not FUSE's trace (as -d would)" grep -q "unique: " "$TEST_TMP/new.log"

out=$("$ARTIFACTFS" -f "$mnt" -o "store=$store,log_level=loud" 2>&1)
is "log_level=loud is refused" "$?" 1
is "... saying what it needs" "$out" \
	"artifactfs: -o log_level=loud: 'log_level' needs one of error, warning, info, debug, not \"loud\""

done_testing
