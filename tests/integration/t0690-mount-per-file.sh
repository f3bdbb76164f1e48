#!/bin/sh
# per_file=on on a real mount (issue 16): an artifact of real files (shared
# libraries, an executable, a symlink) packed by artifactctl pack, its seek
# index beside it on nginx, named by the seek_index key.  ls -lR of the
# artifact fetches none of the tarball; every file read per file equals its
# source; an executable runs and a library dlopens from the mount; the
# artifact is never in artifacts/<hash> until the whole install; readers of
# one file share one fetch.  A forged index (a wrong tree object, wrong
# file offsets, a wrong window) ends in EIO or a correct whole install,
# never in wrong bytes; a server without Range gets the whole install.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_mount_test
need_artifactctl
need_nginx
diag() { echo "# $*"; }

# --- a few MB of real files -------------------------------------------------------------------
libdir=
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /lib64 /usr/lib; do
	[ -d "$d" ] && libdir=$d && break
done
[ -n "$libdir" ] || skip_all "no library directory"
# the library the test dlopens: libz, there wherever python is
solib=$(find "$libdir" -maxdepth 1 -name 'libz.so.1*' -type f 2>/dev/null | head -n 1)
[ -n "$solib" ] || skip_all "no libz.so.1 in $libdir"
src=$TEST_TMP/src/A
mkdir -p "$src/lib/sub" "$src/bin" "$src/share"
cp "$solib" "$src/lib/libz.so.1"
# a few larger files, for spans that start at restart points after the first
n=0
for f in $(find "$libdir" -maxdepth 1 -type f -name '*.so*' -size +300k -size -3M 2>/dev/null | sort | head -n 6); do
	cp "$f" "$src/lib/sub/" && n=$((n + 1))
done
[ "$n" -ge 2 ] || skip_all "too few libraries in $libdir"
truebin=/usr/bin/true
[ -x "$truebin" ] || truebin=/bin/true
cp "$truebin" "$src/bin/true"
chmod 0755 "$src/bin/true"
printf 'hello per file\n' >"$src/share/hello.txt"
head -c 65536 /dev/urandom >"$src/share/random64k"
ln -s ../lib/libz.so.1 "$src/share/libz-link"
: >"$src/share/empty"

srv=$TEST_TMP/srv
mkdir -p "$srv"
# make_index TARBALL OUT: the seek index of TARBALL
"$ARTIFACTCTL" seek-index --help >/dev/null 2>&1 || skip_all "no artifactctl seek-index"
make_index() {
	"$ARTIFACTCTL" seek-index -o "$2" "$1" >/dev/null
}
pack() { # NAME: pack $TEST_TMP/src/NAME into $srv/NAME.tar.gz with its index; prints the tree hash
	"$ARTIFACTCTL" pack -o "$srv/$1.tar.gz" "$TEST_TMP/src/$1" | cut -d' ' -f1
}
A=$(pack A)
ok "pack A" test -n "$A"
ok "its seek index" make_index "$srv/A.tar.gz" "$srv/A.tar.gz.seekidx"
tarsize=$(stat -c %s "$srv/A.tar.gz")
diag "A: $(find "$src" -type f | wc -l) files, tarball $tarsize bytes, index $(stat -c %s "$srv/A.tar.gz.seekidx") bytes"

start_nginx "$srv" || skip_all "nginx did not start"
# entry NAME HASH TARBALL INDEX-URL
entry() {
	printf '[%s]\ngit-tree-sha1 = "%s"\n\n    [[%s.download]]\n    sha256 = "%s"\n    url = "%s"\n    seek_index = "%s"\n\n' \
		"$1" "$2" "$1" "$(sha256sum "$3" | cut -c1-64)" "$4" "$5"
}
toml=$TEST_TMP/Artifacts.toml
entry A "$A" "$srv/A.tar.gz" "$NGINX_URL/A.tar.gz" "$NGINX_URL/A.tar.gz.seekidx" >"$toml"

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$toml,per_file=on" || skip_all "mount failed"

# --- the tree without the tarball -------------------------------------------------------------
nginx_mark
ok "ls -lR of A" sh -c "ls -lR '$mnt/A/' >'$TEST_TMP/ls.out'"
is "... fetched 0 bytes of the tarball" "$(nginx_bytes GET '^/A\.tar\.gz$')" 0
ok "... the index was fetched (by Range)" test "$(nginx_ranges '^/A\.tar\.gz\.seekidx$')" -ge 1
ok "... and A is not installed" sh -c "! test -e '$store/artifacts/$A'"
ok "... names every file" sh -c "grep -q 'random64k' '$TEST_TMP/ls.out' && grep -q 'libz.so.1' '$TEST_TMP/ls.out'"
is "a file's size" "$(stat -c %s "$mnt/A/share/random64k")" 65536
is "an executable's mode" "$(stat -c %a "$mnt/A/bin/true")" 555
is "a file's mode" "$(stat -c %a "$mnt/A/share/hello.txt")" 444
is "a symlink's target" "$(readlink "$mnt/A/share/libz-link")" ../lib/libz.so.1
is "a directory listing" "$(ls "$mnt/A/share" | tr '\n' ' ')" "empty hello.txt libz-link random64k "
is "a missing name" "$(stat_errno "$mnt/A/share/nope")" ENOENT
is "user.artifactfs.state" "$("$PY" -c 'import os, sys
print(os.getxattr(sys.argv[1], "user.artifactfs.state").decode())' "$mnt/$A")" per-file

# --- one file --------------------------------------------------------------------------------
nginx_mark
ok "cat of a 64 KiB file" cmp "$src/share/random64k" "$mnt/A/share/random64k"
got=$(nginx_bytes GET '^/A\.tar\.gz$')
diag "first file: $got bytes of the $tarsize-byte tarball"
ok "... fetched a part of the tarball, by Range" test "$got" -gt 0 -a "$got" -lt "$tarsize" -a \
	"$(nginx_ranges '^/A\.tar\.gz$')" -ge 1
ok "... kept in partial/" sh -c "ls '$store/partial/' | grep -q ."
ok "... and A is still not installed" sh -c "! test -e '$store/artifacts/$A'"

# --- concurrent readers of one file: one fetch -----------------------------------------------
big=$(ls "$src/lib/sub" | tail -n 1)
nginx_mark
pids=
for i in 1 2 3 4; do
	cat "$mnt/A/lib/sub/$big" >"$TEST_TMP/c$i" &
	pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
is "four concurrent readers of one file" "$rc" 0
bad=0
for i in 1 2 3 4; do cmp -s "$src/lib/sub/$big" "$TEST_TMP/c$i" || bad=$((bad + 1)); done
is "... all got its bytes" "$bad" 0
is "... from one span fetch" "$(nginx_count GET '^/A\.tar\.gz$')" 1

# --- exec and dlopen of per-file files ---------------------------------------------------------
ok "an executable runs from the mount" "$mnt/A/bin/true"
ok "a library dlopens from the mount" "$PY" -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1]).zlibVersion' \
	"$mnt/A/lib/libz.so.1"
ok "... also through the symlink" "$PY" -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' \
	"$mnt/A/share/libz-link"

# --- every file equals its source ---------------------------------------------------------------
bad=0
for f in $(cd "$src" && find . -type f | sort); do
	cmp -s "$src/$f" "$mnt/A/$f" || { bad=$((bad + 1)); diag "differs: $f"; }
done
is "every file read per file equals its source" "$bad" 0
ok "A is still not installed" sh -c "! test -e '$store/artifacts/$A'"
ok "no fall back was logged" sh -c "! grep -q 'installing it whole' '$TEST_TMP/fs.log'"

# --- forged indexes ----------------------------------------------------------------------------
# forge KIND IN OUT: a copy of the index IN with its tree object, its file
# offsets or its windows made wrong
forge() {
	"$PY" - "$@" <<'EOF'
import struct, sys
kind, src, dst = sys.argv[1:4]
b = bytearray(open(src, "rb").read())
head_len, = struct.unpack_from("<Q", b, 16)
ntrees, nlinks, nfiles, npoints = struct.unpack_from("<IIII", b, 104)
p = 128
first_tree = p + 24
for _ in range(ntrees):
    n, = struct.unpack_from("<I", b, p + 20)
    p += 24 + n
for _ in range(nlinks):
    n, = struct.unpack_from("<I", b, p)
    p += 4 + n
if kind == "tree":
    b[first_tree + 8] ^= 0x01          # a byte of a name in the root tree object
elif kind == "offset":
    for i in range(nfiles):            # every file's data one byte early
        o = p + 36 * i + 20
        off, = struct.unpack_from("<Q", b, o)
        struct.pack_into("<Q", b, o, off - 1)
elif kind == "window":
    for i in range(head_len, len(b)):  # every window's bytes
        b[i] ^= 0x5a
open(dst, "wb").write(b)
EOF
}
# B, C, D: the files of A, each with its own tree (one more file)
for n in B C D; do
	mkdir -p "$TEST_TMP/src/$n"
	cp -a "$src/." "$TEST_TMP/src/$n/"
	echo "$n" >"$TEST_TMP/src/$n/which"
done
B=$(pack B) C=$(pack C) D=$(pack D)
make_index "$srv/B.tar.gz" "$TEST_TMP/B.idx" && forge tree "$TEST_TMP/B.idx" "$srv/B.tar.gz.seekidx"
make_index "$srv/C.tar.gz" "$TEST_TMP/C.idx" && forge offset "$TEST_TMP/C.idx" "$srv/C.tar.gz.seekidx"
make_index "$srv/D.tar.gz" "$TEST_TMP/D.idx" && forge window "$TEST_TMP/D.idx" "$srv/D.tar.gz.seekidx"
for n in B C D; do
	eval "h=\$$n"
	entry "$n" "$h" "$srv/$n.tar.gz" "$NGINX_URL/$n.tar.gz" "$NGINX_URL/$n.tar.gz.seekidx" >>"$toml"
done
ok "reload with B, C, D" exit_is 0 "$ARTIFACTCTL" reload "$mnt"

# read_all NAME: every file of NAME through the mount; prints "ok", or
# "wrong FILE" for a file read whole whose bytes differ (a failed read is
# no wrong byte)
read_all() {
	for f in $(cd "$TEST_TMP/src/$1" && find . -type f | sort); do
		if cat "$mnt/$1/$f" >"$TEST_TMP/read" 2>/dev/null &&
			! cmp -s "$TEST_TMP/read" "$TEST_TMP/src/$1/$f"; then
			echo "wrong $f"
			return
		fi
	done
	echo ok
}
is "B (a wrong tree object): no wrong byte" "$(read_all B)" ok
ok "... installed whole" test -d "$store/artifacts/$B"
ok "... the index was refused in the log" grep -q "artifact $B: no verified seek index" "$TEST_TMP/fs.log"

is "C (wrong file offsets): no wrong byte" "$(read_all C)" ok
ok "... the blob mismatch was logged" grep -q "artifact $C: cannot fetch blob" "$TEST_TMP/fs.log"
ok "... whole install after the fall back" exit_is 0 "$ARTIFACTCTL" prefetch --wait "$mnt" C
is "... then every file is right" "$(read_all C)" ok
ok "... and installed" test -d "$store/artifacts/$C"

is "D (wrong windows): no wrong byte" "$(read_all D)" ok
ok "... whole install" exit_is 0 "$ARTIFACTCTL" prefetch --wait "$mnt" D
is "... then every file is right" "$(read_all D)" ok

# --- a server without Range -----------------------------------------------------------------------
mkdir -p "$TEST_TMP/src/E" "$TEST_TMP/norange"
cp -a "$src/." "$TEST_TMP/src/E/"
echo E >"$TEST_TMP/src/E/which"
E=$("$ARTIFACTCTL" pack -o "$TEST_TMP/norange/E.tar.gz" "$TEST_TMP/src/E" | cut -d' ' -f1)
make_index "$TEST_TMP/norange/E.tar.gz" "$TEST_TMP/norange/E.tar.gz.seekidx"
start_test_server "$TEST_TMP/norange"
entry E "$E" "$TEST_TMP/norange/E.tar.gz" "$SERVER_URL/E.tar.gz" "$SERVER_URL/E.tar.gz.seekidx" >>"$toml"
ok "reload with E" exit_is 0 "$ARTIFACTCTL" reload "$mnt"
is "E from a server that ignores Range: every file right" "$(read_all E)" ok
ok "... installed whole" test -d "$store/artifacts/$E"
is "... with one GET of the tarball" "$(server_stat GET /E.tar.gz)" 1

# --- seek_index=off (the default): no <url>.seekidx is probed -----------------------------------
mkdir -p "$TEST_TMP/src/F"
cp -a "$src/." "$TEST_TMP/src/F/"
echo F >"$TEST_TMP/src/F/which"
F=$(pack F)
make_index "$srv/F.tar.gz" "$srv/F.tar.gz.seekidx"
printf '[F]\ngit-tree-sha1 = "%s"\n\n    [[F.download]]\n    sha256 = "%s"\n    url = "%s"\n\n' \
	"$F" "$(sha256sum "$srv/F.tar.gz" | cut -c1-64)" "$NGINX_URL/F.tar.gz" >>"$toml"
ok "reload with F (no seek_index key)" exit_is 0 "$ARTIFACTCTL" reload "$mnt"
nginx_mark
ok "ls of F" ls "$mnt/F/share"
is "... probed no index" "$(nginx_count GET '^/F\.tar\.gz\.seekidx$')" 0
ok "... installed whole" test -d "$store/artifacts/$F"

# --- the whole install of A lands: open files keep working, lookups go to the tree ------------
exec 7<"$mnt/A/share/hello.txt"
# a directory of the view has 2 links; lib/ of the installed tree 3 (lib/sub)
is "lib/ of the view" "$(stat -c %h "$mnt/A/lib")" 2
ok "prefetch --wait of A" exit_is 0 "$ARTIFACTCTL" prefetch --wait "$mnt" A
ok "A is installed" test -d "$store/artifacts/$A"
is "a file open before still reads" "$(cat <&7)" "hello per file"
exec 7<&-
wait_for grep -q "artifact $A: installed whole; .* entries of its per-file view forgotten" \
	"$TEST_TMP/fs.log"
is "... the kernel forgot the view: a new lookup reaches the installed tree" \
	"$(stat -c %h "$mnt/A/lib")" "$(stat -c %h "$store/artifacts/$A/lib")"
is "... and every file of A is right" "$(read_all A)" ok

# --- counters ---------------------------------------------------------------------------------------
ok "status --json" exit_is 0 "$ARTIFACTCTL" status --json "$mnt"
count() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' "$TEST_TMP/out" "$1"; }
ok "perfile_fetches counted" test "$(count perfile_fetches)" -gt 3
ok "perfile_bytes counted" test "$(count perfile_bytes)" -gt 0
ok "index_fetches counted" test "$(count index_fetches)" -ge 4
ok "perfile_fallbacks counted (C, D)" test "$(count perfile_fallbacks)" -ge 2

unmount_artifactfs
is "artifactfs exits 0" $? 0

# --- the quota counts the single files ------------------------------------------------------------
# quota 2M (quota_low 75%): partial/ is cut back to 1.5 MiB after each fetch,
# least recently used first; a file open meanwhile keeps working
store2=$TEST_TMP/store2
mount_artifactfs "$mnt" -o "store=$store2,toml=$toml,per_file=on,quota=2M,seek_index=probe" ||
	skip_all "mount failed"
nginx_mark
ok "seek_index=probe: ls -lR of F" sh -c "ls -lR '$mnt/F/' >/dev/null"
is "... fetched its <url>.seekidx" "$(nginx_ranges '^/F\.tar\.gz\.seekidx$')" 1
is "... and 0 bytes of the tarball" "$(nginx_bytes GET '^/F\.tar\.gz$')" 0
is "... every file of F is right" "$(read_all F)" ok
ok "... not installed" sh -c "! test -e '$store2/artifacts/$F'"
exec 7<"$mnt/A/share/hello.txt"
is "with quota=2M, every file of A read per file is right" "$(read_all A)" ok
partial_bytes() { du -sb "$store2/partial" | cut -f1; }
ok "... partial/ stays within the quota ($(partial_bytes) bytes)" test "$(partial_bytes)" -le 2097152
ok "... files were removed from it" grep -q "quota: .* single files in partial/; removed" "$TEST_TMP/fs.log"
is "... a file open before still reads" "$(cat <&7)" "hello per file"
exec 7<&-
ok "... and A is not installed" sh -c "! test -e '$store2/artifacts/$A'"
unmount_artifactfs
is "artifactfs exits 0" $? 0

# --- full_install_after=2files, and no_open (reads without a handle) -------------------------------
store3=$TEST_TMP/store3
mount_artifactfs "$mnt" -o "store=$store3,toml=$toml,per_file=on,no_open,full_install_after=2files" ||
	skip_all "mount failed"
ok "no_open: a file read per file" cmp "$src/share/random64k" "$mnt/A/share/random64k"
ok "... not installed after one file" sh -c "! test -e '$store3/artifacts/$A'"
ok "... a second file" cmp "$src/lib/libz.so.1" "$mnt/A/lib/libz.so.1"
ok "full_install_after=2files: the whole install starts" \
	grep -q "artifact $A: 2 files, .* (full_install_after): installing it whole" "$TEST_TMP/fs.log"
ok "... and lands" wait_for test -d "$store3/artifacts/$A"
is "... every file is right" "$(read_all A)" ok
unmount_artifactfs
is "artifactfs exits 0" $? 0
done_testing
