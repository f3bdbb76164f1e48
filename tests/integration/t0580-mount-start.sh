#!/bin/sh
# Start-up checks (issue 10, bugs 3 and 4): the mount point must be a
# directory where nothing is mounted (unless -o overmount); each setting has
# one type, and a wrong one is an error naming the key, where it was given
# (file and line, or -o), the type it needs and the value seen; booleans
# take true/false, yes/no, on/off, 1/0 with -o; connect_timeout=0 and a
# missing ca_file are errors at start.  Every failed start exits 1 with one
# line and mounts nothing.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_fuse
need_prog "${PYTHON3:-python3}"
PY=${PYTHON3:-python3}

art=$TEST_TMP/art
"$PY" "$TARBALLS" realfiles "$art" --only zlib --compressions gz >/dev/null ||
	skip_all "cannot build test artifacts"
"$PY" "$TARBALLS" toml "$art" "file://$art" -o "$TEST_TMP/Artifacts.toml"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
opts="store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml"

# start_err ARG...: run the daemon in the foreground; print its exit status.
# Bounded: a start that wrongly succeeds is unmounted by the watchdog.
start_err() {
	"$ARTIFACTFS" -f "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
	_pid=$!
	(sleep 20; fusermount3 -u "$mnt" 2>/dev/null; fusermount3 -u "$TEST_TMP/file" 2>/dev/null;
	 kill "$_pid") >/dev/null 2>&1 &
	_dog=$!
	wait "$_pid"
	_rc=$?
	kill "$_dog" 2>/dev/null
	echo $_rc
}
# one_line PATTERN...: the error output is one line holding every PATTERN.
one_line() {
	[ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] || { cat "$TEST_TMP/err"; return 1; }
	for p in "$@"; do
		grep -qF -- "$p" "$TEST_TMP/err" || { echo "no '$p' in:"; cat "$TEST_TMP/err"; return 1; }
	done
}
not_mounted() { ! is_mounted "$1"; }

# --- bug 3: the mount point -----------------------------------------------------------------
printf 'a regular file\n' >"$TEST_TMP/file"
is "a regular file as mount point exits 1" "$(start_err "$TEST_TMP/file" -o "$opts")" 1
ok "... naming it, as not a directory" one_line "$TEST_TMP/file" "not a directory"
ok "... and mounts nothing" not_mounted "$TEST_TMP/file"

mount_artifactfs "$mnt" -o "$opts" || skip_all "mount failed"
is "a second artifactfs on the same directory exits 1" "$(start_err "$mnt" -o "$opts")" 1
ok "... naming it, as holding an artifactfs mount" one_line "$mnt" "already holds an artifactfs mount"
n=$(awk -v m="$mnt" '$5 == m' /proc/self/mountinfo | wc -l)
is "... and nothing is stacked" "$n" 1
ok "the first mount still serves" cmp "$mnt/zlib/include/zlib.h" "$art/src/zlib/include/zlib.h"
unmount_artifactfs

mkdir -p "$TEST_TMP/under"
if mount -t tmpfs -o size=1M artifactfs-test "$TEST_TMP/under" 2>/dev/null; then
	umount_under() { umount "$TEST_TMP/under" 2>/dev/null; }
	at_exit umount_under
	is "a directory holding another mount exits 1" \
		"$(start_err "$TEST_TMP/under" -o "$opts")" 1
	ok "... naming it and the consent option" one_line "$TEST_TMP/under" "tmpfs" "overmount"
	# mount_artifactfs sees the tmpfs at once: wait for artifactfs on top of it.
	top_type() {
		awk -v m="$TEST_TMP/under" '$5 == m { for (i = 7; $i != "-"; i++); t = $(i + 1) }
			END { print t }' /proc/self/mountinfo
	}
	mount_artifactfs "$TEST_TMP/under" -o "$opts,overmount"
	i=0
	while [ "$(top_type)" != fuse.artifactfs ] && [ $i -lt 200 ] && kill -0 "$FS_PID" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	is "with -o overmount it mounts over it" "$(top_type)" fuse.artifactfs
	ok "... and serves" cmp "$TEST_TMP/under/zlib/include/zlib.h" "$art/src/zlib/include/zlib.h"
	unmount_artifactfs
	umount_under
else
	skip "a directory holding another mount" "cannot mount a tmpfs here"
fi

# --- bug 4: one type per setting, in -o ----------------------------------------------------
is "-o offline=maybe exits 1" "$(start_err "$mnt" -o "$opts,offline=maybe")" 1
ok "... naming the key, the type and the value, not as a FUSE option" \
	sh -c "! grep -q 'fuse: unknown option' '$TEST_TMP/err' && grep -q . '$TEST_TMP/err'"
ok "... on one line" one_line "offline=maybe" "'offline'" "boolean" '"maybe"'
is "-o jobs=eight exits 1" "$(start_err "$mnt" -o "$opts,jobs=eight")" 1
ok "... naming key, type and value" one_line "'jobs'" "integer" '"eight"'
is "-o connect_timeout=0 exits 1 (curl would wait 300 s)" \
	"$(start_err "$mnt" -o "$opts,connect_timeout=0")" 1
ok "... saying it needs more than 0" one_line "'connect_timeout'" "greater than 0"
is "a missing ca_file exits 1 at start" "$(start_err "$mnt" -o "$opts,ca_file=$TEST_TMP/none.pem")" 1
ok "... naming it" one_line "ca_file" "none.pem" "No such file"
ok "nothing was mounted by the failed starts" not_mounted "$mnt"

mount_artifactfs "$mnt" -o "store=$TEST_TMP/store-off,toml=$TEST_TMP/Artifacts.toml,offline=yes" || true
ok "-o offline=yes is a boolean that mounts" is_mounted "$mnt"
is "... offline: an artifact not installed is not served" "$(list_errno "$mnt/zlib/")" ENOENT
unmount_artifactfs

# --- bug 4: one type per setting, in the config file -------------------------------------------
printf 'store = "%s"\n\noffline = "yes"\n' "$TEST_TMP/store" >"$TEST_TMP/a.conf"
is "offline = \"yes\" in the config file exits 1" \
	"$(start_err "$mnt" -o "config=$TEST_TMP/a.conf,toml=$TEST_TMP/Artifacts.toml")" 1
ok "... naming file and line, key, type and value (not 'not a known setting')" \
	one_line "a.conf:3:" "'offline'" "boolean" 'the string "yes"'
ok "... not as an unknown setting" sh -c "! grep -q 'not a known setting' '$TEST_TMP/err'"
printf 'jobs = "8"\n' >"$TEST_TMP/b.conf"
is "jobs = \"8\" (a string) exits 1" \
	"$(start_err "$mnt" -o "$opts,config=$TEST_TMP/b.conf")" 1
ok "... naming file and line, key, type and value" \
	one_line "b.conf:1:" "'jobs'" "integer" 'the string "8"'
printf 'offline = true\njobs = 8\ninstall_timeout = "30s"\nmax_unpacked = "1G"\n' >"$TEST_TMP/c.conf"
mount_artifactfs "$mnt" -o "$opts,config=$TEST_TMP/c.conf" || true
ok "values of the right types start the daemon" is_mounted "$mnt"
unmount_artifactfs

done_testing
