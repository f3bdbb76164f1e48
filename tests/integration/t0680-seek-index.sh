#!/bin/sh
# t0680-seek-index.sh - artifactctl seek-index (doc/internals/seek-index.md)
#
# On a tree of real files with subdirectories, an executable, symlinks, a
# hardlink, an empty directory, a .git entry and a 3 MB file, packed three
# ways (artifactctl pack, GNU tar czf, and a tar split into two gzip
# members), the index is written and checked by tests/seekidx_check.py, a
# reader written from the format doc alone: every header field (magic,
# version, CRC, tree = 'artifactctl hash', the tarball's sha256 and sizes,
# span), every tree object's hash, every entry resolving, each file record's
# bytes at its offset in the 'gzip -dc' stream hashing to its blob id, each
# point's window equal to the 32 KiB of the stream before it, and a raw
# inflate resumed at the point (bits of byte in-1 shifted in front, the
# window as dictionary) giving the stream's bytes.  A forged index fails
# that check.  Non-gzip tarballs and bad command lines fail with the
# documented exit codes; --from-store copies <store>/seekidx/<hash>.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_artifactctl
have_cmd seek-index || skip_all "'artifactctl seek-index' is not built"
need_prog "$PYTHON3"
need_prog tar
need_prog gzip

A=$ARTIFACTCTL
CHECK="$TESTS_SRCDIR/seekidx_check.py"
T=$(cd "$TEST_TMP" && pwd -P)
cd "$T" || bail_out "cannot cd to $T"

# the tree
mkdir -p src/lib/sub src/bin src/empty src/doc || bail_out "mkdir"
cp "$TESTS_SRCDIR"/../fetch/*.c src/lib/ || bail_out "cp"
cp "$TESTS_SRCDIR"/../store/*.c src/lib/sub/ || bail_out "cp"
"$PYTHON3" - <<'PY' || bail_out "python"
import random
r = random.Random(7)
words = [bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9))) for _ in range(500)]
with open("src/doc/big.txt", "wb") as f:
    f.write(b" ".join(r.choice(words) for _ in range(500000)))
with open("src/bin/noise", "wb") as f:
    f.write(bytes(r.getrandbits(8) for _ in range(200000)))
PY
printf '#!/bin/sh\necho hi\n' >src/bin/tool && chmod 755 src/bin/tool
ln -s ../doc/big.txt src/bin/big-link
ln -s nowhere src/dangling
ln src/doc/big.txt src/doc/hard.txt
printf 'gitdir: elsewhere\n' >src/lib/.git
cp src/lib/sub/hash.c src/doc/hash-copy.c

ok "pack the tree" exit_is 0 "$A" pack src -o pack.tar.gz
(cd src && tar czf ../gnu.tar.gz .) || bail_out "tar czf"
(cd src && tar cf ../plain.tar .) || bail_out "tar cf"
size=$(wc -c <plain.tar | tr -d ' ')
head -c $((size / 2 + 1234)) plain.tar | gzip -9 >multi.tar.gz
tail -c +$((size / 2 + 1235)) plain.tar | gzip -1 >>multi.tar.gz
ok "the two-member gzip is a gzip" gzip -t multi.tar.gz

# index NAME SPAN: seek-index of NAME.tar.gz, checked
index() {
	ok "$1: artifactctl hash" exit_is 0 "$A" hash "$1.tar.gz"
	tree=$(cut -d' ' -f1 "$TEST_TMP/out")
	if [ -n "$2" ]; then
		ok "$1: seek-index --span $2" exit_is 0 "$A" seek-index --span "$2" -o "$1.idx" "$1.tar.gz"
	else
		ok "$1: seek-index" exit_is 0 "$A" seek-index -o "$1.idx" "$1.tar.gz"
	fi
	is "$1: prints the tree hash" "$(sed -n 's/^tree //p' "$TEST_TMP/out")" "$tree"
	is "$1: prints the index size" "$(sed -n 's/^index_size //p' "$TEST_TMP/out")" \
		"$(wc -c <"$1.idx" | tr -d ' ')"
	is "$1: prints the tarball size" "$(sed -n 's/^tarball_size //p' "$TEST_TMP/out")" \
		"$(wc -c <"$1.tar.gz" | tr -d ' ')"
	points=$(sed -n 's/^points //p' "$TEST_TMP/out")
	ok "$1: the index checks out against the tarball ($points points)" \
		"$PYTHON3" "$CHECK" "$1.idx" "$1.tar.gz" "$tree" ${2:+--span "$2"}
}

index pack 65536
index gnu 65536
index multi 32768
index gnu ""
is "the default span is 1 MiB" "$(sed -n 's/^points //p' "$TEST_TMP/out")" "$points"
ok "tree hash of gnu.tar.gz = of src" exit_is 0 "$A" hash src

# the checker catches a forged index: a wrong point (bits), a wrong file offset
"$A" seek-index --span 65536 -o gnu.idx gnu.tar.gz >/dev/null 2>&1
tree=$("$A" hash gnu.tar.gz | cut -d' ' -f1)
"$PYTHON3" - gnu.idx <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
head = struct.unpack("<Q", b[16:24])[0]
npoints = struct.unpack("<I", b[116:120])[0]
nfiles = struct.unpack("<I", b[112:116])[0]
pts = head - 32 * npoints
forged = bytearray(b)
forged[pts + 28] = (forged[pts + 28] + 3) % 8     # the first point's bits
open("bits.idx", "wb").write(forged)
forged = bytearray(b)
f = pts - 36 * nfiles
off = struct.unpack("<Q", forged[f + 20:f + 28])[0]
forged[f + 20:f + 28] = struct.pack("<Q", off + 512)  # the first file's offset
open("offset.idx", "wb").write(forged)
PY
fails "the checker catches a forged point" "$PYTHON3" "$CHECK" bits.idx gnu.tar.gz "$tree"
fails "the checker catches a forged file offset" "$PYTHON3" "$CHECK" offset.idx gnu.tar.gz "$tree"

# not gzip
ok "a plain tar: exit 1" exit_is 1 "$A" seek-index -o x.idx plain.tar
ok "a plain tar: says gzip is needed" grep -q "not gzip-compressed" "$TEST_TMP/err"
if command -v zstd >/dev/null 2>&1; then
	zstd -q -o z.tar.zst plain.tar
	ok "a zstd tarball: exit 1" exit_is 1 "$A" seek-index -o x.idx z.tar.zst
	ok "a zstd tarball: named" grep -q "zstd-compressed" "$TEST_TMP/err"
else
	skip "a zstd tarball" "zstd not installed"
fi
ok "nothing written on failure" test ! -e x.idx
head -c 50000 gnu.tar.gz >trunc.tar.gz
ok "a truncated gzip: exit 1" exit_is 1 "$A" seek-index -o x.idx trunc.tar.gz
ok "a missing tarball: exit 1" exit_is 1 "$A" seek-index -o x.idx no-such.tar.gz

# command line
ok "--help exits 0" exit_is 0 "$A" seek-index --help
ok "no -o: exit 64" exit_is 64 "$A" seek-index gnu.tar.gz
ok "no tarball: exit 64" exit_is 64 "$A" seek-index -o x.idx
ok "a bad --span: exit 64" exit_is 64 "$A" seek-index --span 0 -o x.idx gnu.tar.gz
ok "--store without --from-store: exit 64" exit_is 64 "$A" seek-index --store s -o x.idx gnu.tar.gz

# --from-store: <store>/seekidx/<hash>
mkdir -p store/seekidx
ok "--from-store, none kept: exit 1" exit_is 1 "$A" seek-index --from-store "$tree" --store store -o x.idx
ok "--from-store, none kept: says so" grep -q "no seek index kept for $tree" "$TEST_TMP/err"
cp gnu.idx "store/seekidx/$tree"
UPPER=$(printf '%s' "$tree" | tr a-f A-F)
ok "--from-store copies the kept index" exit_is 0 "$A" seek-index --from-store "$UPPER" --store store -o copy.idx
ok "the copy is identical" cmp gnu.idx copy.idx
ok "--from-store with a bad hash: exit 64" exit_is 64 "$A" seek-index --from-store xyz -o x.idx
ok "--from-store with a tarball too: exit 64" exit_is 64 "$A" seek-index --from-store "$tree" -o x.idx gnu.tar.gz

done_testing
