#!/bin/sh
# Reload: after an Artifacts.toml changes, a SIGHUP (or the change itself,
# seen through inotify) makes the name point at the new hash; a file that
# was open keeps working; a malformed edit keeps the old names.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
mount_realfiles --only zlib --only tools --compressions gz
zlib=$(art_tree zlib)
tools=$(art_tree tools)

# The file names one artifact "app"; edits replace the file by rename, as
# editors and Pkg (atomic writes) do.
write_toml() {
	"$PY" "$TARBALLS" toml "$art" "file://$art" --only "$1" -o "$TEST_TMP/new.toml" &&
		sed "s/^\[$1\]/[app]/; s/\[\[$1\.download\]\]/[[app.download]]/" "$TEST_TMP/new.toml" \
			>"$TEST_TMP/conf/.Artifacts.toml.tmp" &&
		mv "$TEST_TMP/conf/.Artifacts.toml.tmp" "$TEST_TMP/conf/Artifacts.toml"
}
mkdir -p "$TEST_TMP/conf"
write_toml zlib

mnt=$TEST_TMP/mnt
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store,toml=$TEST_TMP/conf/Artifacts.toml" ||
	skip_all "mount failed"

# wait_link WANT: readlink of app becomes WANT within 5 s.
wait_link() {
	_i=0
	while [ "$(readlink "$mnt/app" 2>/dev/null)" != "$1" ]; do
		_i=$((_i + 1))
		[ $_i -gt 100 ] && return 1
		sleep 0.05
	done
}

is "app points at zlib" "$(readlink "$mnt/app")" "$zlib"
exec 3<"$mnt/app/include/zlib.h"
ok "a file of the old target is open" test -r /dev/fd/3

# The change is picked up by inotify, without a signal.
write_toml tools
ok "after the file changes, app follows it (inotify)" wait_link "$tools"
ok "the new target is served" diff -r "$art/src/tools" "$mnt/app/"
ok "the open file still reads correctly" cmp /dev/fd/3 "$art/src/zlib/include/zlib.h"
exec 3<&-

# SIGHUP alone: the file is rewritten in place through a hard link in
# another directory, a write the daemon's inotify watch (on the directory
# of the configured path) does not see; the name follows only after SIGHUP.
mkdir -p "$TEST_TMP/elsewhere"
ln "$TEST_TMP/conf/Artifacts.toml" "$TEST_TMP/elsewhere/link.toml"
"$PY" "$TARBALLS" toml "$art" "file://$art" --only zlib -o - |
	sed 's/^\[zlib\]/[app]/; s/\[\[zlib\.download\]\]/[[app.download]]/' >"$TEST_TMP/elsewhere/link.toml"
sleep 0.5
is "a change inotify cannot see leaves app alone" "$(readlink "$mnt/app")" "$tools"
kill -HUP "$FS_PID"
ok "after SIGHUP, app points at zlib" wait_link "$zlib"
ok "SIGHUP logged" grep -q "SIGHUP" "$TEST_TMP/fs.log"
ok "the daemon is still running after SIGHUP" kill -0 "$FS_PID"

# A malformed edit: the old names stay, and the log says why.
printf '[app]\ngit-tree-sha1 = \n' >"$TEST_TMP/conf/.bad" && mv "$TEST_TMP/conf/.bad" "$TEST_TMP/conf/Artifacts.toml"
i=0
while ! grep -q "reload failed" "$TEST_TMP/fs.log" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
ok "a malformed file is logged" grep -q "reload failed.*Artifacts.toml" "$TEST_TMP/fs.log"
is "... and the old names stay" "$(readlink "$mnt/app")" "$zlib"

unmount_artifactfs
is "clean unmount" $? 0
done_testing
