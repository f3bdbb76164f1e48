#!/bin/sh
# A real mount: every served byte equals its source, listings equal the
# source as Pkg installs it, programs run from the mount (exec, a compile
# against a header, a shared library loaded from it), writes are refused,
# unknown names and hashes are ENOENT, and the xattrs tell the state.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_prog cc
CHECK="$PY $TESTS_SRCDIR/mountcheck.py"

mount_realfiles --only zlib --only tools --only docs
"$PY" "$TARBALLS" toml "$art" "file://$art" --compression xz -o "$TEST_TMP/Artifacts.toml"
zlib=$(art_tree zlib)
tools=$(art_tree tools)
docs=$(art_tree docs)

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || {
	echo "not ok 1 - mount"
	exit 1
}

# --- the namespace ------------------------------------------------------------
is "name is a symlink to its hash" "$(readlink "$mnt/zlib")" "$zlib"
root=$(ls "$mnt" | sort | tr '\n' ' ')
is "the root lists the names (nothing installed yet)" "$root" "docs tools zlib "
is "nothing installed before first access" "$(ls "$store/artifacts" 2>/dev/null | wc -l)" 0
ok "a known hash answers at once, without a download" test -d "$mnt/$tools"
is "... and still nothing installed" "$(ls "$store/artifacts" 2>/dev/null | wc -l)" 0
state=$("$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.artifactfs.state").decode())' "$mnt/$tools")
is "xattr state of a known, absent artifact" "$state" absent

# --- bytes and listings equal the source ------------------------------------------
for name in zlib tools docs; do
	ok "$name: every file byte-equal to its source" diff -r "$art/src/$name" "$mnt/$name/"
	$CHECK listing "$art/src/$name" --as-installed >"$TEST_TMP/want.$name"
	$CHECK listing "$mnt/$name/" >"$TEST_TMP/got.$name"
	ok "$name: listing (types, modes, sizes, symlinks) equals the source as installed" \
		diff -u "$TEST_TMP/want.$name" "$TEST_TMP/got.$name"
done
cmp_all() {
	(cd "$art/src/$1" && find . -type f) | while read -r f; do
		cmp "$art/src/$1/$f" "$mnt/$1/$f" || return 1
	done
}
ok "cmp of every regular file of zlib" cmp_all zlib
is "root lists installed hashes too" "$(ls "$mnt" | grep -c "^$zlib\$")" 1
ok "empty directories are served" test -d "$mnt/docs/empty"

# The listing through the mount equals the store's, but for write bits.
ls_mount=$(cd "$mnt/$zlib" && ls -lnR --time-style=+ . | sed 's/^\(.\)[^ ]*/\1/')
ls_store=$(cd "$store/artifacts/$zlib" && ls -lnR --time-style=+ . | sed 's/^\(.\)[^ ]*/\1/')
is "ls -lR through the mount equals ls -lR of the store (types, sizes, links)" \
	"$ls_mount" "$ls_store"

# --- programs from the mount ---------------------------------------------------------
bin=$(cd "$art/src/tools/bin" && ls | head -n 1)
ok "the executable keeps its mode" test -x "$mnt/tools/bin/$bin"
exec_ok() { "$mnt/tools/bin/$bin" --version >/dev/null 2>&1 || "$mnt/tools/bin/$bin" --help >/dev/null 2>&1; }
ok "exec of a binary from the mount ($bin)" exec_ok

cat >"$TEST_TMP/z.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void)
{
	unsigned char out[128];
	uLongf len = sizeof(out);
	const char *msg = "artifactfs";
	if (compress(out, &len, (const Bytef *)msg, strlen(msg)) != Z_OK)
		return 1;
	printf("%s %lu\n", zlibVersion(), (unsigned long)crc32(0, (const Bytef *)msg, strlen(msg)));
	return 0;
}
EOF
ok "compile against zlib.h from the mount and link libz from it" \
	cc -I"$mnt/zlib/include" "$TEST_TMP/z.c" -L"$mnt/zlib/lib" -lz \
	-Wl,-rpath,"$mnt/zlib/lib" -o "$TEST_TMP/z"
out=$("$TEST_TMP/z" 2>&1)
ok "the program runs" test -n "$out"
loaded=$(LD_DEBUG=libs "$TEST_TMP/z" 2>&1 | grep -c "calling init: $mnt/zlib/lib/libz.so")
is "libz is loaded from the mount" "$loaded" 1

# --- errors ---------------------------------------------------------------------------
err_of() { "$PY" -c 'import os,sys
try:
    os.stat(sys.argv[1])
    print("no error")
except OSError as e:
    import errno; print(errno.errorcode[e.errno])' "$1"; }
is "unknown name is ENOENT" "$(err_of "$mnt/NoSuchArtifact")" ENOENT
is "unknown hash is ENOENT" "$(err_of "$mnt/0123456789abcdef0123456789abcdef01234567")" ENOENT
is "unknown file inside an artifact is ENOENT" "$(err_of "$mnt/zlib/no-such-file")" ENOENT

ok "every kind of write is refused with EROFS" $CHECK writes "$mnt/$zlib"
ok "creating at the root is refused too" sh -c "! touch '$mnt/newname' 2>/dev/null"

# --- xattrs ---------------------------------------------------------------------------
xattr() { "$PY" -c 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$1" "$2"; }
is "user.artifactfs.hash" "$(xattr "$mnt/$zlib" user.artifactfs.hash)" "$zlib"
is "user.artifactfs.state" "$(xattr "$mnt/$zlib" user.artifactfs.state)" installed
is "user.artifactfs.source" "$(xattr "$mnt/$zlib" user.artifactfs.source)" "file://$art/zlib.tar.xz"
want_size=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["zlib"]["bytes"])' "$art/manifest.json")
is "user.artifactfs.size" "$(xattr "$mnt/$zlib" user.artifactfs.size)" "$want_size"

# --- shutdown -------------------------------------------------------------------------
unmount_artifactfs
is "clean unmount exits 0" $? 0
ok "the store stays a Julia depot: artifacts/<hash> is the tree" diff -r "$art/src/zlib" "$store/artifacts/$zlib"
is "no leftovers in tmp/" "$(ls -A "$store/tmp" | wc -l)" 0

done_testing
