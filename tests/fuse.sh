# tests/fuse.sh - mount artifactfs from a test script (source after lib.sh).
#
#   need_fuse                   skip the script unless /dev/fuse, fusermount3
#                               and the artifactfs binary are there
#   mount_artifactfs MNT OPT... start "artifactfs -f MNT -o OPT..." in the
#                               background with its log in $TEST_TMP/fs.log,
#                               wait (at most 10 s, test_time) until MNT is mounted;
#                               the mount is undone at exit
#   unmount_artifactfs          fusermount3 -u, then wait for the daemon;
#                               returns the daemon's exit status
#   list_errno DIR              list DIR; print "listed", or the errno name
#                               of the failure (EIO, ENOENT ...)
#   stat_errno PATH             stat PATH; print "ok", or the errno name
#   need_mount_test             need_fuse and python3 (PY names it)
#   mount_realfiles ARG...      art=$TEST_TMP/art made by tarballs.py
#                               realfiles ARG...; skip_all when it fails
#   art_tree NAME               the git-tree-sha1 of NAME in $art/manifest.json
#   add_src_artifact NAME       pack $TEST_TMP/src/NAME into $TEST_TMP/NAME.tar.gz
#                               (reproducibly) and append its entry, with a
#                               file:// URL, to $TEST_TMP/Artifacts.toml
#
# Binary: $ARTIFACTFS (set by make check).

FS_PID=
FS_MNT=

need_fuse() {
	[ -c /dev/fuse ] || skip_all "/dev/fuse missing (no FUSE in this environment)"
	command -v fusermount3 >/dev/null 2>&1 || skip_all "fusermount3 not installed"
	[ -x "${ARTIFACTFS:-}" ] || skip_all "artifactfs binary not built"
}

need_mount_test() {
	need_fuse
	need_prog "${PYTHON3:-python3}"
	PY=${PYTHON3:-python3}
}

mount_realfiles() {
	art=$TEST_TMP/art
	"$PY" "$TARBALLS" realfiles "$art" "$@" >/dev/null ||
		skip_all "cannot build test artifacts from this machine's files"
}

art_tree() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"][sys.argv[2]]["git-tree-sha1"])' \
		"$art/manifest.json" "$1"
}

# art_sha NAME: the sha256 of NAME's .tar.gz in $art (tarballs.py's manifest).
art_sha() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"][sys.argv[2]]["tarballs"]["gz"]["sha256"])' \
		"$art/manifest.json" "$1"
}

add_src_artifact() {
	tar -C "$TEST_TMP/src/$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-czf "$TEST_TMP/$1.tar.gz" .
	toml_entry "$1" "$("$ARTIFACTCTL" hash "$TEST_TMP/src/$1")" \
		"$(sha256sum "$TEST_TMP/$1.tar.gz" | cut -c1-64)" "file://$TEST_TMP/$1.tar.gz" \
		>>"$TEST_TMP/Artifacts.toml"
}

# is_mounted MNT: MNT appears as a fuse.artifactfs mount in /proc/self/mountinfo.
is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

mount_artifactfs() {
	FS_MNT=$1
	shift
	mkdir -p "$FS_MNT"
	"$ARTIFACTFS" -f "$FS_MNT" "$@" </dev/null >>"$TEST_TMP/fs.log" 2>&1 &
	FS_PID=$!
	at_exit unmount_artifactfs
	wait_ready FS_PID "$(test_time 200)" "artifactfs exited before the mount was ready" \
		"$TEST_TMP/fs.log" "artifactfs not mounted after $(test_time 10) s" \
		is_mounted "$FS_MNT" || return 1
}

unmount_artifactfs() {
	[ -n "$FS_PID" ] || return 0
	_fs_pid=$FS_PID
	FS_PID=
	fusermount3 -u "$FS_MNT" 2>/dev/null || fusermount3 -uz "$FS_MNT" 2>/dev/null
	(sleep "$(test_time 10)"; kill -KILL "$_fs_pid") >/dev/null 2>&1 &
	_fs_dog=$!
	wait "$_fs_pid" 2>/dev/null
	_fs_rc=$?
	kill "$_fs_dog" 2>/dev/null
	return "$_fs_rc"
}

# list_errno DIR: "listed", or the errno name (EIO, ...) listing DIR failed with.
list_errno() {
	_fs_errno listdir listed "$1"
}

# stat_errno PATH: "ok", or the errno name (ENOENT, ...) stat(2) of PATH failed with.
stat_errno() {
	_fs_errno stat ok "$1"
}

# _fs_errno FUNC WORD PATH: os.FUNC(PATH) in python; WORD, or the errno name.
_fs_errno() {
	"${PYTHON3:-python3}" -c 'import errno, os, sys
try:
    getattr(os, sys.argv[1])(sys.argv[3]); print(sys.argv[2])
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))' "$@"
}
