#!/bin/sh
# t0600-pack.sh - artifactctl pack: Tar.jl-canonical, deterministic tarballs.
#
# A tree of real files (tests/tarballs.py realfiles) plus Tar.jl's own test
# shapes (test/runtests.jl make_test_tarball: names of 10..255 bytes in
# directories of 0..255 bytes, files of 0..1000 bytes, symlinks and broken
# symlinks), an empty directory and a .git directory:
#   - the same tree built twice, in different places, with different
#     mtimes, owners and umasks, packs to the same bytes;
#   - the bytes equal an independent Python writer of Tar.jl's format;
#   - the printed tree hash equals 'artifactctl hash DIR' and the tarball's,
#     the sha256 and size equal sha256sum and stat;
#   - GNU tar and 'artifactctl fetch' (file:// URL, bound with
#     'artifactctl bind') extract it to the same tree;
#   - every compression is deterministic and passes gzip/zstd/xz -t;
#   - -j1, -j2 and -j8 write the same gzip and zstd bytes; gzip -t, bsdtar
#     and p7zip (7z, as Julia <= 1.12 unpacks) read the parallel gzip, and
#     what they unpack has the directory's tree hash;
#   - a fifo is refused; the command line's exit codes.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_artifactctl
have_cmd pack || skip_all "'artifactctl pack' is not built"
need_prog "$PYTHON3"
need_prog tar

A=$ARTIFACTCTL
T=$(cd "$TEST_TMP" && pwd -P)
cd "$T" || bail_out "cannot cd to $T"

"$PYTHON3" "$TARBALLS" realfiles "$T/real" --only zlib --only tools --only docs \
	--compressions tar >"$T/gen.log" 2>&1 || bail_out "tarballs.py failed: $(cat "$T/gen.log")"

# mk_tree DIR MTIME: the test tree at DIR, every entry's mtime set to MTIME
# (touch -d); created with the caller's umask, so modes follow it.
mk_tree() {
	mkdir -p "$1" &&
		cp -R "$T/real/src/zlib" "$T/real/src/tools" "$T/real/src/docs" "$1"/ &&
		"$PYTHON3" - "$1" <<'EOF' &&
import os, sys
root = sys.argv[1]
os.makedirs(os.path.join(root, "empty", "inner"))
os.makedirs(os.path.join(root, ".git", "refs"))
with open(os.path.join(root, ".git", "HEAD"), "w") as f:
    f.write("ref: refs/heads/main\n")
# Tar.jl test/runtests.jl make_test_tarball, smaller sizes list kept
paths = []
i = 0
top = os.path.join(root, "tarjl")
os.makedirs(top)
for a in (0, 10, 154, 155, 156, 255):
    d = os.path.join(top, "d" * a) if a else top
    paths.append(d)
    if a:
        os.mkdir(d)
    for b in (10, 99, 100, 101, 255):
        for s in (0, 511, 512, 513, 1000):
            for ch, mode in (("f", 0o644), ("x", 0o755)):
                p = os.path.join(d, ("%d-" % s).ljust(b, ch))
                with open(p, "wb") as f:
                    f.write(bytes(k % 256 for k in range(1, s + 1)))
                os.chmod(p, mode & ~os.umask(os.umask(0)) | (mode & 0o100))
                paths.append(p)
        os.makedirs(os.path.join(d, "s" * b))
        link = os.path.join(d, "l" * b)
        target = os.path.relpath(paths[i], os.path.dirname(link))
        i += 1
        os.symlink(target, link)
        if target != ".":
            os.symlink(target[:-1], os.path.join(d, "b" * b))
# a link target over 100 bytes and an absolute one
os.symlink("/" + "t" * 150, os.path.join(root, "longlink"))
os.symlink("/usr/lib", os.path.join(root, "abslink"))
EOF
		find "$1" -exec touch -h -d "$2" {} +
}

# ---- determinism ------------------------------------------------------------------

(umask 022 && mk_tree "$T/one/src" "2001-02-03 04:05:06") || bail_out "cannot build tree one"
(umask 077 && mk_tree "$T/two/elsewhere/src" "2024-12-31 23:59:59") ||
	bail_out "cannot build tree two"
if [ "$(id -u)" -eq 0 ]; then
	chown -R -h 65534:65534 "$T/two/elsewhere/src"
	ok "tree two belongs to another owner" test "$(stat -c %u "$T/two/elsewhere/src/docs")" = 65534
else
	skip "tree two belongs to another owner" "not root"
fi
ok "the trees differ in modes" test "$(stat -c %a "$T/one/src/docs")" != \
	"$(stat -c %a "$T/two/elsewhere/src/docs")"

ok "pack tree one" exit_is 0 "$A" pack -o "$T/one.tar.gz" "$T/one/src"
line1=$(cat "$T/out")
ok "a .git warning on stderr" grep -q "'.git' entr" "$T/err"
ok "pack tree two (other place, mtimes, owner, umask)" \
	exit_is 0 "$A" pack -o "$T/two/x.tar.gz" "$T/two/elsewhere/src"
line2=$(cat "$T/out")
ok "byte-identical tarballs" cmp "$T/one.tar.gz" "$T/two/x.tar.gz"
is "same hashes and size printed" "${line1% *}" "${line2% *}"

set -- $line1
tree=$1 sha=$2 size=$3
is "4 fields: tree sha256 size OUT" "$4" "$T/one.tar.gz"
is "tree hash = artifactctl hash DIR" "$tree" "$("$A" hash "$T/one/src")"
is "tree hash = artifactctl hash TARBALL" "$tree $sha" "$("$A" hash "$T/one.tar.gz")"
is "sha256 = sha256sum" "$sha" "$(sha256sum <"$T/one.tar.gz" | cut -d' ' -f1)"
is "size = stat" "$size" "$(stat -c %s "$T/one.tar.gz")"
if [ -n "${GIT:-}" ] && command -v "$GIT" >/dev/null 2>&1; then
	rm -rf "$T/gitcheck" && mkdir "$T/gitcheck" && cp -a "$T/one/src/." "$T/gitcheck/" &&
		rm -rf "$T/gitcheck/.git"
	(cd "$T/gitcheck" && "$GIT" init -q && "$GIT" add -A && "$GIT" -c user.name=t \
		-c user.email=t@t commit -qm t && "$GIT" rev-parse 'HEAD^{tree}') >"$T/git.out" 2>&1
	is "tree hash = git's tree of the same files (no .git)" "$tree" "$(tail -n 1 "$T/git.out")"
else
	skip "tree hash = git's tree" "no git"
fi

# ---- an independent writer of Tar.jl's format ------------------------------------

cat >"$T/tarjl.py" <<'EOF'
# Tar.jl src/create.jl write_tarball/write_header/write_standard_header, in Python.
import os, stat, sys

def std_header(name, prefix, typ, mode, size, link):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%06o \0" % mode
    h[108:124] = b"000000 \0" + b"000000 \0"
    s = b"%011o" % size
    if len(s) <= 12:
        h[124:124 + len(s)] = s
        if len(s) < 12:
            h[124 + len(s)] = 0x20
    else:
        h[124] = 0x80
        for i in range(10, -1, -1):
            h[135 - i] = (size >> (8 * i)) & 0xff
    h[136:148] = b"00000000000 "
    h[148:156] = b"        "
    h[156] = ord(typ)
    h[157:157 + len(link)] = link
    h[257:265] = b"ustar\0" + b"00"
    h[329:345] = b"000000 \0" + b"000000 \0"
    h[345:345 + len(prefix)] = prefix
    h[148:156] = b"%06o\0 " % sum(h)
    assert len(h) == 512
    return bytes(h)

def pax(records):
    d = b""
    for k, v in records:
        e = b" " + k + b"=" + v + b"\n"
        l = n = len(e)
        while n < l + len(str(n)):
            n = l + len(str(n))
        d += str(n).encode() + e
    return std_header(b"", b"", "x", 0, len(d), b"") + d + b"\0" * (-len(d) % 512)

def header(path, typ, mode, size, link):
    ext = []
    if len(link) > 100:
        ext.append((b"linkpath", link))
        link = b""
    prefix, name = b"", path
    if len(path) > 100:
        if len(path) < 256:
            i = path.rfind(b"/", 0, 100)
            if i >= 0:
                prefix, name = path[:i], path[i + 1:]
        if len(name) > 100 or len(prefix) > 155:
            ext.append((b"path", path))
            prefix = name = b""
    if size >= 8 ** 12:
        ext.append((b"size", str(size).encode()))
    return (pax(ext) if ext else b"") + std_header(name, prefix, typ, mode, size, link)

def walk(sysp, tarp, out):
    for n in sorted(os.listdir(sysp)):
        sp = os.path.join(sysp, n)
        tp = tarp + b"/" + n if tarp else n
        st = os.lstat(sp)
        if stat.S_ISLNK(st.st_mode):
            out.append(header(tp, "2", 0o755, 0, os.readlink(sp)))
        elif stat.S_ISDIR(st.st_mode):
            out.append(header(tp, "5", 0o755, 0, b""))
            walk(sp, tp, out)
        else:
            data = open(sp, "rb").read()
            out.append(header(tp, "0", 0o755 if st.st_mode & 0o100 else 0o644, len(data), b""))
            out.append(data + b"\0" * (-len(data) % 512))

out = []
walk(os.fsencode(sys.argv[1]), b"", out)
if not out:
    out.append(header(b".", "5", 0o755, 0, b""))
sys.stdout.buffer.write(b"".join(out))
EOF
"$PYTHON3" "$T/tarjl.py" "$T/one/src" >"$T/ref.tar" || bail_out "tarjl.py failed"
ok "pack .tar" exit_is 0 "$A" pack -o "$T/one.tar" "$T/one/src"
ok ".tar equals the Python Tar.jl writer byte for byte" cmp "$T/one.tar" "$T/ref.tar"
ok "gunzip of .tar.gz is the .tar" sh -c "gzip -dc '$T/one.tar.gz' | cmp - '$T/one.tar'"
ok "PAX headers are used (long names)" sh -c "grep -a -q 'path=' '$T/one.tar'"
ok "ustar prefix/name splits are used (long names)" "$PYTHON3" -c '
import sys
t = open(sys.argv[1], "rb").read()
n = 0
for off in range(0, len(t), 512):
    h = t[off:off + 512]
    if h[257:263] == b"ustar\0" and h[345] and h[156:157] in b"025":
        n += 1
assert n > 10, n
' "$T/one.tar"

# ---- extraction round trips --------------------------------------------------------

mkdir -p "$T/gnu"
ok "GNU tar extracts it" tar -C "$T/gnu" -xf "$T/one.tar.gz"
_tree_list "$T/one/src" >"$T/src.lst"
_tree_list "$T/gnu" >"$T/gnu.lst"
ok "GNU tar: same entries, types, exec bits, link targets" diff -u "$T/src.lst" "$T/gnu.lst"
ok "GNU tar: same bytes" diff -r --no-dereference "$T/one/src" "$T/gnu"
is "GNU tar: its tree hashes the same" "$("$A" hash "$T/gnu")" "$tree"
ok "GNU tar sees uid/gid 0 and mtime 0" sh -c \
	"tar --numeric-owner -tvzf '$T/one.tar.gz' | awk '{print \$2, \$4}' | sort -u | \
	grep -qx '0/0 1970-01-01'"

if have_cmd fetch && have_cmd bind; then
	ok "bind it with a file:// URL" exit_is 0 "$A" bind "$T/Artifacts.toml" packed "$tree" \
		--url "file://$T/one.tar.gz" --sha256 "$sha" --size "$size"
	fetch_run fetch --store "$T/store" "$T/Artifacts.toml" packed
	is "artifactctl fetch installs it" "$rc" 0
	cat "$T/fetch.err"
	rm -rf "$T/cmp-src" && cp -a "$T/one/src" "$T/cmp-src"
	ok "fetch: the installed tree equals the source (.git included)" \
		tree_equal "$T/cmp-src" "$T/store/artifacts/$tree"
	for c in tar.zst tar.xz tar; do
		"$A" pack -o "$T/f.$c" "$T/one/src" >"$T/f.out" 2>/dev/null
		set -- $(cat "$T/f.out")
		"$A" bind --force "$T/A2.toml" "packed_$c" "$1" --url "file://$T/f.$c" --sha256 "$2" \
			>/dev/null 2>&1
		fetch_run "fetch-$c" --store "$T/store-$c" "$T/A2.toml" "packed_$c"
		is "fetch of the .$c installs it" "$rc" 0
		ok "fetch of the .$c: tree equal" tree_equal "$T/cmp-src" "$T/store-$c/artifacts/$1"
	done
else
	skip "fetch round trip" "fetch or bind not built"
fi

# ---- compressions ---------------------------------------------------------------------

for c in tar.gz tar.zst tar.xz tar tgz; do
	"$A" pack -o "$T/c1.$c" "$T/one/src" >"$T/c1.out" 2>/dev/null
	sleep 1
	(cd "$T/two" && "$A" pack -o "$T/c2.$c" "$T/two/elsewhere/src" >"$T/c2.out" 2>/dev/null)
	ok ".$c is deterministic" cmp "$T/c1.$c" "$T/c2.$c"
	is ".$c: tree hash" "$(cut -d' ' -f1 "$T/c1.out")" "$tree"
	is ".$c: artifactctl hash reads it" "$("$A" hash "$T/c1.$c" | cut -d' ' -f1)" "$tree"
	case $c in
	tar.gz | tgz) ok ".$c passes gzip -t" gzip -t "$T/c1.$c" ;;
	tar.zst) if command -v zstd >/dev/null; then ok ".$c passes zstd -t" zstd -q -t "$T/c1.$c"
		else skip ".$c passes zstd -t" "no zstd"; fi ;;
	tar.xz) ok ".$c passes xz -t" xz -t "$T/c1.$c" ;;
	tar) ok ".$c is a plain tar" cmp "$T/c1.$c" "$T/one.tar" ;;
	esac
	ok ".$c lists with tar" sh -c "tar -tf '$T/c1.$c' >/dev/null"
done
ok "--level 9 differs from the default" sh -c "'$A' pack -l 9 -o '$T/l9.tar.gz' '$T/one/src' \
	>/dev/null 2>&1 && ! cmp -s '$T/l9.tar.gz' '$T/one.tar.gz' && gzip -t '$T/l9.tar.gz'"

# ---- refusals and the command line ------------------------------------------------------

mkdir -p "$T/withfifo/sub" && echo x >"$T/withfifo/a" && mkfifo "$T/withfifo/sub/pipe"
ok "a fifo is refused (exit 1)" exit_is 1 "$A" pack -o "$T/fifo.tar.gz" "$T/withfifo"
ok "the message names the fifo" grep -q "withfifo/sub/pipe' is a fifo" "$T/err"
ok "no output" test ! -e "$T/fifo.tar.gz"
ok "no temporary file left" sh -c "! ls -A '$T' | grep -q '^\.fifo\.tar\.gz\.'"

mkdir -p "$T/cwd" && cp -R "$T/real/src/tools" "$T/cwd/mytree"
ok "default OUT is <basename DIR>.tar.gz in the current directory" \
	sh -c "cd '$T/cwd' && '$A' pack mytree/ >'$T/out' 2>'$T/err' && test -f mytree.tar.gz"
is "the printed OUT" "$(cut -d' ' -f4 "$T/out")" "mytree.tar.gz"
ok "pack . inside DIR: the default OUT would be inside the tree: 64" \
	sh -c "cd '$T/cwd/mytree' && '$A' pack . >/dev/null 2>&1; test \$? -eq 64"
ok "pack -o ../x . works" sh -c "cd '$T/cwd/mytree' && '$A' pack -o ../dot.tar.gz . >/dev/null"
ok "--json" exit_is 0 "$A" pack --json -o "$T/j.tar.gz" "$T/cwd/mytree"
ok "--json is one JSON object with the hashes" "$PYTHON3" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["path"] == sys.argv[2], j
assert len(j["git-tree-sha1"]) == 40 and len(j["sha256"]) == 64, j
assert j["compression"] == "gzip" and j["size"] > 0 and j["files"] > 0, j
' "$T/out" "$T/j.tar.gz"
ok "no progress when stderr is not a terminal" test ! -s "$T/err"
ok "--help exits 0" exit_is 0 "$A" pack --help
ok "--help prints usage" grep -q "^usage: .*pack" "$T/out"
ok "no DIR: 64" exit_is 64 "$A" pack
ok "two DIRs: 64" exit_is 64 "$A" pack "$T/one/src" "$T/two"
ok "unknown option: 64" exit_is 64 "$A" pack --frobnicate "$T/one/src"
ok "--level 0 for gzip: 64" exit_is 64 "$A" pack -l 0 -o "$T/x.tar.gz" "$T/one/src"
ok "--level abc: 64" exit_is 64 "$A" pack -l abc -o "$T/x.tar.gz" "$T/one/src"
ok "--level 19 for zstd is fine" exit_is 0 "$A" pack -l 19 -o "$T/x.tar.zst" "$T/cwd/mytree"
ok "a missing DIR: 1" exit_is 1 "$A" pack -o "$T/x.tar.gz" "$T/nonexistent"
ok "a missing output directory: 1" exit_is 1 "$A" pack -o "$T/nodir/x.tar.gz" "$T/one/src"

# ---- threads: -j N ----------------------------------------------------------------------

# Several 128 KiB gzip blocks: text, incompressible bytes, a 0-byte file, a symlink.
mkdir -p "$T/par/sub"
cp -R "$T/real/src/zlib" "$T/par/"
seq 1 300000 >"$T/par/sub/seq"
head -c 700000 /dev/urandom >"$T/par/rand"
: >"$T/par/zero"
ln -s sub/seq "$T/par/link"
ptree=$("$A" hash "$T/par")
for c in tar.gz tar.zst; do
	for j in 1 2 8; do
		ok ".$c -j$j" exit_is 0 "$A" pack -j "$j" -o "$T/par-j$j.$c" "$T/par"
		is ".$c -j$j: tree hash" "$(cut -d' ' -f1 "$T/out")" "$ptree"
	done
	ok ".$c: -j1 and -j2 write the same bytes" cmp "$T/par-j1.$c" "$T/par-j2.$c"
	ok ".$c: -j1 and -j8 write the same bytes" cmp "$T/par-j1.$c" "$T/par-j8.$c"
done
ok "--jobs 3 too" sh -c "'$A' pack --jobs 3 -o '$T/par-j3.tar.gz' '$T/par' >/dev/null &&
	cmp '$T/par-j1.tar.gz' '$T/par-j3.tar.gz'"
ok "parallel gzip passes gzip -t" gzip -t "$T/par-j2.tar.gz"
ok "gunzip gives the .tar" sh -c "'$A' pack -o '$T/par.tar' '$T/par' >/dev/null &&
	gzip -dc '$T/par-j2.tar.gz' | cmp - '$T/par.tar'"
if command -v bsdtar >/dev/null; then
	ok "bsdtar -tzf lists it" sh -c "bsdtar -tzf '$T/par-j2.tar.gz' | grep -qx sub/seq"
	mkdir -p "$T/par-bsd"
	ok "bsdtar -xzf unpacks it" bsdtar -C "$T/par-bsd" -xzf "$T/par-j2.tar.gz"
	is "bsdtar's tree has the directory's hash" "$("$A" hash "$T/par-bsd")" "$ptree"
else
	skip "bsdtar reads parallel gzip" "no bsdtar"
fi
if command -v 7z >/dev/null; then
	ok "7z t passes it" sh -c "7z t '$T/par-j2.tar.gz' >'$T/7z.log' 2>&1"
	mkdir -p "$T/par-7z"
	# Julia's Pkg (p7zip): 7z x -so TARBALL | 7z x -si -ttar
	ok "7z x unpacks it" sh -c "7z x -so '$T/par-j2.tar.gz' 2>/dev/null |
		7z x -si -ttar -o'$T/par-7z' >'$T/7z.log' 2>&1"
	is "7z's tree has the directory's hash" "$("$A" hash "$T/par-7z")" "$ptree"
else
	skip "7z reads parallel gzip" "no 7z (p7zip-full)"
fi
ok "-j 0: 64" exit_is 64 "$A" pack -j 0 -o "$T/x.tar.gz" "$T/par"
ok "-j 65: 64" exit_is 64 "$A" pack -j 65 -o "$T/x.tar.gz" "$T/par"
ok "-j abc: 64" exit_is 64 "$A" pack -j abc -o "$T/x.tar.gz" "$T/par"

mkdir -p "$T/emptytree"
ok "an empty directory packs" exit_is 0 "$A" pack -o "$T/empty.tar" "$T/emptytree"
is "as one 512-byte '.' entry" "$(stat -c %s "$T/empty.tar") $(tar -tf "$T/empty.tar")" "512 ."
is "with the empty tree hash" "$(cut -d' ' -f1 "$T/out")" 4b825dc642cb6eb9a060e54bf8d69288fbee4904

done_testing
