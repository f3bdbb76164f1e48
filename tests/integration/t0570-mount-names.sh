#!/bin/sh
# Names, sources and xattrs of a mount (issue 10): an install tries the
# sources of every name bound to the hash, the accessed name's first; names
# that could be taken for a hash or cannot be file names are refused and
# logged, the rest still listed; listxattr lists only what getxattr answers;
# a tree removed by hand is installed again; .git entries are not served;
# a read by hash after a reload dropped its name says so; a steady stream of
# file events does not postpone a reload forever.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_prog tar
mount_realfiles --only zlib --only tools --only small --compressions gz
sha() { sha256sum "$1" | cut -d' ' -f1; }
zlib=$(art_tree zlib)
tools=$(art_tree tools)
small=$(art_tree small)

# An artifact with .git entries, which the tree hash leaves out.
g=$TEST_TMP/gitty
mkdir -p "$g/src/.git" "$g/src/sub/.git"
echo hello >"$g/src/a.txt"
echo b >"$g/src/sub/b"
echo "ref: refs/heads/main" >"$g/src/.git/HEAD"
echo "[core]" >"$g/src/sub/.git/config"
tar -C "$g/src" --owner=0 --group=0 -czf "$g/gitty.tar.gz" . || skip_all "tar failed"
set -- $("$ARTIFACTCTL" hash "$g/gitty.tar.gz")
gitty=$1

entry() { # NAME HASH URL SHA256
	printf '[%s]\ngit-tree-sha1 = "%s"\n\n    [[%s.download]]\n    url = "%s"\n    sha256 = "%s"\n\n' \
		"$1" "$2" "$1" "$3" "$4"
}
long=$(printf '%0300d' 0 | tr 0 x)
A=$TEST_TMP/a/Artifacts.toml
B=$TEST_TMP/b/Artifacts.toml
C=$TEST_TMP/c/Artifacts.toml
mkdir -p "${A%/*}" "${B%/*}" "${C%/*}"
{
	# Two names of one hash: the alphabetically first has a dead mirror.
	entry Aaa_mirror "$zlib" "file://$TEST_TMP/missing/zlib.tar.gz" "$(sha "$art/zlib.tar.gz")"
	entry Zzz "$zlib" "file://$art/zlib.tar.gz" "$(sha "$art/zlib.tar.gz")"
	entry tools "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry gitty "$gitty" "file://$g/gitty.tar.gz" "$(sha "$g/gitty.tar.gz")"
	# Keys that cannot be file names.
	entry '"a/b"' "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry '""' "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry '"nul\u0000x"' "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry '"."' "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry '".."' "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
	entry "$long" "$tools" "file://$art/tools.tar.gz" "$(sha "$art/tools.tar.gz")"
} >"$A"
upper=$(echo "$zlib" | tr a-f A-F)
{
	# A later file's names that look like hashes of the first file's artifacts.
	entry "\"$tools\"" "$small" "file://$art/small.tar.gz" "$(sha "$art/small.tar.gz")"
	entry "\"$upper\"" "$small" "file://$art/small.tar.gz" "$(sha "$art/small.tar.gz")"
} >"$B"
entry dropme "$small" "file://$art/small.tar.gz" "$(sha "$art/small.tar.gz")" >"$C"

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$A,toml=$B,toml=$C" || {
	echo "not ok 1 - mount"
	exit 1
}
log=$TEST_TMP/fs.log

# --- bug 13: names that cannot be file names --------------------------------------
ok "ls of the root works despite bad keys" ls "$mnt"
is "the good names are listed, the bad left out" "$(ls "$mnt" | tr '\n' ' ')" \
	"Aaa_mirror Zzz dropme gitty tools "
for what in "'a/b'" "''" "'nul'" "'.'" "'..'" "'xxxxxxxx"; do
	ok "refusal of $what logged with its file" grep -qF "$A: name $what" "$log"
done

# --- bug 8: a name never shadows a hash ------------------------------------------------
ok "a name equal to a hash is refused, naming file and name" grep -qF "$B: name '$tools' left out" "$log"
ok "... also in upper case" grep -qF "$B: name '$upper' left out" "$log"
fails "<hash> is not a symlink" test -L "$mnt/$tools"
getx() { "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$@"; }
is "<hash> is the artifact of that hash" "$(getx "$mnt/$tools" user.artifactfs.hash)" "$tools"

# --- bug 5: listxattr lists what getxattr answers -------------------------------------------
listx() {
	"$PY" - "$1" <<'EOF'
import os, sys
names = os.listxattr(sys.argv[1])
for n in names:
    os.getxattr(sys.argv[1], n)   # raises when listed but not answered
print(" ".join(sorted(names)))
EOF
}
is "an absent artifact lists only readable xattrs" "$(listx "$mnt/$tools")" \
	"user.artifactfs.hash user.artifactfs.source user.artifactfs.state"

# --- bug 1: the sources of every name of the hash ---------------------------------------------
ok "Zzz is served although Aaa_mirror's mirror is dead" diff -r "$art/src/zlib" "$mnt/Zzz/"
ok "the install logs the accessed name" grep -qF "installing 'Zzz' ($zlib)" "$log"
is "an installed artifact lists every xattr" "$(listx "$mnt/$zlib")" \
	"user.artifactfs.hash user.artifactfs.size user.artifactfs.source user.artifactfs.state"

# artifactctl fetch: the same union within a file.
ok "artifactctl fetch of the name with the dead mirror" \
	"$ARTIFACTCTL" fetch --store "$TEST_TMP/store2" --pkg-server "" "$A" Aaa_mirror
ok "artifactctl fetch of the whole file" \
	"$ARTIFACTCTL" fetch --store "$TEST_TMP/store3" --pkg-server "" "$A" Aaa_mirror Zzz tools
# ... and across files: --sources-from lends another file's mirrors.
D=$TEST_TMP/d/Artifacts.toml
mkdir -p "${D%/*}"
entry onlydead "$zlib" "file://$TEST_TMP/missing/zlib.tar.gz" "$(sha "$art/zlib.tar.gz")" >"$D"
fails "a file whose only mirror is dead fails alone" \
	"$ARTIFACTCTL" fetch --store "$TEST_TMP/store4" --pkg-server "" "$D" onlydead
ok "... and succeeds with --sources-from a file that has a good one" \
	"$ARTIFACTCTL" fetch --store "$TEST_TMP/store4" --pkg-server "" --sources-from "$A" "$D" onlydead
ok "... into the store" \
	test -d "$TEST_TMP/store4/artifacts/$zlib"

# --- bug 6: a tree removed by hand ---------------------------------------------------------
# One file read, one only looked up (its page is not cached), the rest not
# touched: in no-open mode (the default) what the kernel caches is served
# from its caches, what it does not reaches the daemon, which installs the
# tree again (a read without a handle parks as an open would).
one=$(cd "$art/src/tools" && find . -type f | sort | head -n 1)
two=$(cd "$art/src/tools" && find . -type f | sort | sed -n 2p)
ok "tools is installed" cmp "$art/src/tools/$one" "$mnt/tools/$one"
ok "... a second file of it looked up" test -f "$mnt/tools/$two"
is "... and says so" "$(getx "$mnt/$tools" user.artifactfs.state)" installed
rm -rf "${store:?}/artifacts/$tools"
state=$(getx "$mnt/$tools" user.artifactfs.state)
fails "state is not 'installed' after rm -rf of the tree" test "$state" = installed
ok "a read of the file looked up before installs it again" cmp "$art/src/tools/$two" "$mnt/tools/$two"
ok "the next access installs it again" diff -r "$art/src/tools" "$mnt/tools/"
ok "the missing tree was logged" grep -qF "artifact $tools is in the index but" "$log"
is "... and it is installed again" "$(getx "$mnt/$tools" user.artifactfs.state)" installed
rm -rf "${store:?}/artifacts/$zlib"
ok "a file under a cached dentry is installed again at open" \
	cmp "$art/src/zlib/include/zlib.h" "$mnt/Zzz/include/zlib.h"

# --- .git entries are not served --------------------------------------------------------------
is "no .git at the artifact's root" "$(ls -A "$mnt/gitty/" | tr '\n' ' ')" "a.txt sub "
is "no .git below it" "$(ls -A "$mnt/gitty/sub" | tr '\n' ' ')" "b "
fails "a lookup of .git finds nothing" test -e "$mnt/gitty/.git/HEAD"
ok "the store holds .git all the same" test -f "$store/artifacts/$gitty/.git/HEAD"

# --- a read by hash after a reload dropped its name -------------------------------------------
ok "the hash of dropme is known" test -d "$mnt/$small"
reloads() { grep -c "reloaded:" "$log"; }
before=$(reloads)
printf '' >"$C.tmp" && mv "$C.tmp" "$C"
wait_reload() {
	_i=0
	while [ "$(reloads)" -le "$1" ]; do
		_i=$((_i + 1))
		[ $_i -gt 400 ] && return 1
		sleep 0.05
	done
}
ok "the reload happened" wait_reload "$before"
fails "the hash whose name went cannot be installed" ls "$mnt/$small/"
ok "... and the log names the state" grep -qF "no configured Artifacts.toml names it any more" "$log"
fails "... not an unknown file" grep -qF "(unknown file)" "$log"

# --- a steady stream of events does not postpone a reload forever -----------------------------
entry streamed "$small" "file://$art/small.tar.gz" "$(sha "$art/small.tar.gz")" >"$TEST_TMP/c.new"
before=$(reloads)
(
	while :; do
		cat "$TEST_TMP/c.new" >"$C"
		sleep 0.05
	done
) &
writer=$!
ok "a reload happens while the file keeps changing" wait_reload "$before"
kill "$writer"
wait "$writer" 2>/dev/null

unmount_artifactfs
is "clean unmount" $? 0
done_testing
