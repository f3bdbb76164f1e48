#!/bin/sh
# t0670-publish-index.sh - artifactctl index written back where the
# artifacts are published: to s3:// (s3rver on loopback, one PUT, byte-equal
# to the local index), to file://, to WebDAV (nginx, when installed); each
# entry carries created and the sidecar's meta; --latest keeps the newest of
# each name and platform; the output is byte-stable (two runs, cmp), and an
# index.json in the bucket is never read as a sidecar.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"
. "$TESTS_SRCDIR/s3/s3.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_artifactctl
have_cmd publish || skip_all "'artifactctl publish' is not built"
have_cmd index || skip_all "'artifactctl index' is not built"
need_s3
PY=${PYTHON3:-python3}

src=$TEST_TMP/src
mkdir -p "$src/Alpha" "$src/Beta/x86_64-linux-gnu" "$src/Beta/aarch64-linux-gnu"
printf 'alpha 1\n' >"$src/Alpha/f"
printf 'beta x86\n' >"$src/Beta/x86_64-linux-gnu/f"
printf 'beta arm\n' >"$src/Beta/aarch64-linux-gnu/f"

start_s3 bkt || bail_out "cannot start the S3 test server"
s3_env
DEST=s3://bkt/idx
PUBLIC=https://cdn.example.org/idx
S3=--endpoint-url=$S3_ENDPOINT

# two versions of Alpha at known times, Beta with its own metadata
SOURCE_DATE_EPOCH=1700000000 pub a1 "$src/Alpha" --to "$DEST" "$S3"
succeeds "publish Alpha 1"
tree1=$("$ARTIFACTCTL" hash "$src/Alpha")
printf 'alpha 2\n' >"$src/Alpha/f"
SOURCE_DATE_EPOCH=1800000000 pub a2 "$src/Alpha" --to "$DEST" "$S3" --meta version=2
succeeds "publish Alpha 2"
tree2=$("$ARTIFACTCTL" hash "$src/Alpha")
SOURCE_DATE_EPOCH=1750000000 pub beta "$src/Beta" --to "$DEST" "$S3" --meta version=1.0 \
	--meta license=MIT
succeeds "publish Beta (two platforms)"

# --- the local index, twice: byte-stable ---------------------------------------------------
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "$TEST_TMP/local.json" 2>"$TEST_TMP/i1.err"
is "index to a local file" "$?" 0
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "$TEST_TMP/local2.json" 2>/dev/null
ok "... byte-stable: a second run gives the same bytes" cmp "$TEST_TMP/local.json" "$TEST_TMP/local2.json"
ok "... entries: name, platform, git-tree-sha1, sha256, size, url, created, meta" "$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
keys = ["name", "platform", "git-tree-sha1", "sha256", "size", "url", "created", "meta"]
assert all(list(e) == keys for e in v), v
got = [(e["name"], e["platform"], e["git-tree-sha1"], e["created"], e["meta"]) for e in v]
want = sorted([("Alpha", None, sys.argv[2], "2023-11-14T22:13:20Z", {}),
               ("Alpha", None, sys.argv[3], "2027-01-15T08:00:00Z", {"version": "2"}),
               ("Beta", "aarch64-linux-gnu", None, "2025-06-15T15:06:40Z", {"version": "1.0", "license": "MIT"}),
               ("Beta", "x86_64-linux-gnu", None, "2025-06-15T15:06:40Z", {"version": "1.0", "license": "MIT"})],
              key=lambda t: (t[0], t[1] or "", t[2] or ""))
got2 = [(n, p, t if n == "Alpha" else None, c, m) for n, p, t, c, m in got]
assert got2 == want, (got2, want)
assert all(e["url"].startswith(sys.argv[4] + "/" + e["name"] + ".") for e in v), v
' "$TEST_TMP/local.json" "$tree1" "$tree2" "$PUBLIC"

# --- written back to the bucket ------------------------------------------------------------
s3_mark
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "$DEST/index.json" 2>"$TEST_TMP/i2.err"
is "index -o s3://.../index.json" "$?" 0
is "... one PUT" "$(s3_count PUT '/bkt/idx/index\.json$')" 1
curl -sf --noproxy '*' "$S3_ENDPOINT/bkt/idx/index.json" -o "$TEST_TMP/from-bucket.json"
ok "... the object in the bucket equals the local index" cmp "$TEST_TMP/local.json" "$TEST_TMP/from-bucket.json"
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "$TEST_TMP/local3.json" 2>/dev/null
ok "... and is not read back as a sidecar" cmp "$TEST_TMP/local.json" "$TEST_TMP/local3.json"

# --- --latest ---------------------------------------------------------------------------------
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" --latest -o "$TEST_TMP/latest.json" 2>/dev/null
is "index --latest" "$?" 0
ok "... one entry per name and platform, the newest created" "$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [(e["name"], e["platform"]) for e in v] == [("Alpha", None), ("Beta", "aarch64-linux-gnu"),
    ("Beta", "x86_64-linux-gnu")], v
assert v[0]["git-tree-sha1"] == sys.argv[2] and v[0]["meta"] == {"version": "2"}, v[0]
' "$TEST_TMP/latest.json" "$tree2"
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" --latest -o "$DEST/latest.json" 2>/dev/null
curl -sf --noproxy '*' "$S3_ENDPOINT/bkt/idx/latest.json" -o "$TEST_TMP/latest-bucket.json"
ok "... written to the bucket, equal to the local one" cmp "$TEST_TMP/latest.json" "$TEST_TMP/latest-bucket.json"

# --- file:// and WebDAV destinations -------------------------------------------------------------
"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "file://$TEST_TMP/www/dav/sub/index.json" \
	2>/dev/null
is "index -o file:///DIR/index.json" "$?" 0
ok "... equal to the local one" cmp "$TEST_TMP/local.json" "$TEST_TMP/www/dav/sub/index.json"
NGINX=$(nginx_bin)
if [ -n "$NGINX" ] && "$NGINX" -V 2>&1 | grep -q -- --with-http_dav_module; then
	mkdir -p "$TEST_TMP/www/dav" "$TEST_TMP/www/davmk" "$TEST_TMP/www/ro"
	start_nginx "$TEST_TMP/www" || bail_out "cannot start nginx"
	"$ARTIFACTCTL" index "$DEST" "$S3" --public-url "$PUBLIC" -o "$NGINX_URL/dav/new/index.json" \
		2>"$TEST_TMP/dav.err"
	is "index -o http://.../index.json (WebDAV PUT, collection made)" "$?" 0
	curl -sf --noproxy '*' "$NGINX_URL/dav/new/index.json" -o "$TEST_TMP/from-dav.json"
	ok "... equal to the local one" cmp "$TEST_TMP/local.json" "$TEST_TMP/from-dav.json"
else
	skip "index -o WebDAV" "nginx with the WebDAV module not installed"
	skip "... equal to the local one" "nginx with the WebDAV module not installed"
fi

# --- usage ---------------------------------------------------------------------------------------
exit_is 64 "$ARTIFACTCTL" index "$DEST" "$S3" -o s3://bkt
is "-o s3://BUCKET without a key: usage" "$?" 0
ok "... names the accepted forms" grep -q "s3://BUCKET\[/PREFIX\]/KEY" "$TEST_TMP/err"

done_testing
