#!/bin/sh
# t0605-seekfetch.sh - single files over HTTP Range (fetch/seekfetch.h),
# driven by tests/seekfetch-get: an artifact written by tests/seekidx.py
# (an independent writer of the seek index) and served by nginx, which
# honours Range; every file fetched alone equals its source; a second pass
# fetches nothing; a forged index ends in EBADMSG with nothing unverified in
# partial/; the fault server, which ignores Range (200), is ENOTSUP for the
# index and for a span; a missing index is ENOENT; the head kept in the
# store loads, and a damaged kept copy is refused and removed.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_nginx
PY=${PYTHON3:-python3}
GET=$TESTS_BUILDDIR/seekfetch-get
[ -x "$GET" ] || skip_all "tests/seekfetch-get is not built"

src=$TEST_TMP/src
www=$TEST_TMP/www
mkdir -p "$src/lib/sub" "$src/bin" "$www"
"$PY" -c 'import random, sys
r = random.Random(5)
d = sys.argv[1]
open(d + "/lib/big.so", "wb").write(bytes(r.getrandbits(8) for _ in range(700000)))
open(d + "/lib/sub/text", "w").write("".join("line %d %d\n" % (i, i % 13) for i in range(90000)))
open(d + "/README", "w").write("hello\n")
open(d + "/empty", "w").close()' "$src"
printf '#!/bin/sh\necho hi\n' >"$src/bin/run"
chmod +x "$src/bin/run"
ln -s lib/sub/text "$src/link"

tree=$("$PY" "$TESTS_SRCDIR/seekidx.py" make "$src" "$www/a" --span 65536)
is "the writer names the tree" "$(printf %s "$tree" | wc -c)" 40
"$PY" "$TESTS_SRCDIR/seekidx.py" make "$src" "$www/f" --span 65536 --forge offset >/dev/null
"$PY" "$TESTS_SRCDIR/seekidx.py" make "$src" "$www/t" --span 65536 --forge tree >/dev/null

start_nginx "$www" || bail_out "cannot start nginx"
start_test_server "$www" || bail_out "cannot start the test server"

# count_partial STORE: the files in STORE/partial
count_partial() { find "$1/partial" -type f 2>/dev/null | wc -l; }

"$GET" "$TEST_TMP/s1" "$tree" "$NGINX_URL/a.tar.gz" "$NGINX_URL/a.seekidx" "$src" \
	>"$TEST_TMP/get1.out" 2>&1
is "every file fetched alone equals its source" $? 0
is "five files ok" "$(grep -c '^ok ' "$TEST_TMP/get1.out")" 5
is "five blobs in partial/" "$(count_partial "$TEST_TMP/s1")" 5
tgz=$(wc -c <"$www/a.tar.gz")
got=$(sed -n 's/^fetched //p' "$TEST_TMP/get1.out")
echo "# fetched $got bytes of a $tgz-byte tarball and its windows"
ok "bin/run is executable in partial/" \
	test -x "$TEST_TMP/s1/partial/$(git hash-object "$src/bin/run")"
ok "the head is kept in the store" test -s "$TEST_TMP/s1/seekidx/$tree"

# proxy=: the ranged requests go through the list's first choice for the artifact
SEEKFETCH_PROXIES="http://127.0.0.1:1" "$GET" "$TEST_TMP/s7" "$tree" "$NGINX_URL/a.tar.gz" \
	"$NGINX_URL/a.seekidx" >"$TEST_TMP/get7.out" 2>&1
is "through a dead proxy of proxy=: no index" $? 2
ok "... refused at the proxy" grep -q "^index ECONNREFUSED" "$TEST_TMP/get7.out"
SEEKFETCH_PROXIES="DIRECT" "$GET" "$TEST_TMP/s8" "$tree" "$NGINX_URL/a.tar.gz" \
	"$NGINX_URL/a.seekidx" "$src" >"$TEST_TMP/get8.out" 2>&1
is "proxy=DIRECT: every file equals its source" $? 0
is "the kept head loads" "$("$GET" --load "$TEST_TMP/s1" "$tree")" "load ok 5"
mkdir -p "$TEST_TMP/s6/seekidx"
cp "$TEST_TMP/s1/seekidx/$tree" "$TEST_TMP/s6/seekidx/$tree"
chmod u+w "$TEST_TMP/s6/seekidx/$tree"
printf 'X' | dd of="$TEST_TMP/s6/seekidx/$tree" bs=1 seek=200 conv=notrunc 2>/dev/null
"$GET" "$TEST_TMP/s6" "$tree" "$NGINX_URL/a.tar.gz" "$NGINX_URL/none.seekidx" >/dev/null 2>&1
"$GET" --load "$TEST_TMP/s6" "$tree" >"$TEST_TMP/load6.out" 2>&1
is "a damaged kept head is refused" $? 2
ok "as EBADMSG or EILSEQ" grep -Eq '^load (EBADMSG|EILSEQ) ' "$TEST_TMP/load6.out"
fails "and removed" test -e "$TEST_TMP/s6/seekidx/$tree"
is "a missing one is ENOENT" "$("$GET" --load "$TEST_TMP/s6" "$tree" | cut -d' ' -f1-2)" \
	"load ENOENT"

"$GET" "$TEST_TMP/s1" "$tree" "$NGINX_URL/a.tar.gz" "$NGINX_URL/a.seekidx" "$src" \
	>"$TEST_TMP/get2.out" 2>&1
is "second pass" $? 0
is "second pass fetches nothing" "$(sed -n 's/^fetched //p' "$TEST_TMP/get2.out")" 0

"$GET" "$TEST_TMP/s2" "$tree" "$NGINX_URL/f.tar.gz" "$NGINX_URL/f.seekidx" "$src" \
	>"$TEST_TMP/get3.out" 2>&1
is "a wrong file offset fails" $? 1
ok "it is EBADMSG" grep -q '^error lib/sub/text EBADMSG' "$TEST_TMP/get3.out"
fails "no file differs" grep -q '^differ' "$TEST_TMP/get3.out"
fails "the forged blob is not in partial/" \
	test -e "$TEST_TMP/s2/partial/$(git hash-object "$src/lib/sub/text")"
is "nothing in tmp/" "$(find "$TEST_TMP/s2/tmp" -type f | wc -l)" 0

"$GET" "$TEST_TMP/s3" "$tree" "$NGINX_URL/t.tar.gz" "$NGINX_URL/t.seekidx" "$src" \
	>"$TEST_TMP/get4.out" 2>&1
is "a wrong tree object: refused" $? 2
ok "it is EBADMSG naming the record" grep -q '^index EBADMSG .*tree object .* does not hash' \
	"$TEST_TMP/get4.out"
is "nothing in partial/" "$(count_partial "$TEST_TMP/s3")" 0

"$GET" "$TEST_TMP/s4" "$tree" "$SERVER_URL/a.tar.gz" "$SERVER_URL/a.seekidx" \
	>"$TEST_TMP/get5.out" 2>&1
is "a server ignoring Range: the index refused" $? 2
ok "it is ENOTSUP" grep -Eq '^index E(OP)?NOTSUPP? .*does not honour Range' "$TEST_TMP/get5.out"

"$GET" "$TEST_TMP/s4" "$tree" "$SERVER_URL/a.tar.gz" "$NGINX_URL/a.seekidx" \
	>"$TEST_TMP/get6.out" 2>&1
is "a span from a server ignoring Range fails" $? 1
is "every non-empty file is ENOTSUP" "$(grep -Ec '^error .* E(OP)?NOTSUPP? ' "$TEST_TMP/get6.out")" 4
is "nothing but the empty file in partial/" "$(count_partial "$TEST_TMP/s4")" 1

"$GET" "$TEST_TMP/s5" "$tree" "$NGINX_URL/a.tar.gz" "$NGINX_URL/none.seekidx" \
	>"$TEST_TMP/get7.out" 2>&1
is "no index there" $? 2
ok "it is ENOENT" grep -q '^index ENOENT .*404' "$TEST_TMP/get7.out"

done_testing
