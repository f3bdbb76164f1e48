#!/bin/sh
# artifactctl publish to a WebDAV location (nginx, dav_methods PUT): the PUT
# requests nginx receives, skip-if-present through HEAD + the sidecar,
# --force, --dry-run, MKCOL of missing collections, failures that leave the
# Artifacts.toml alone, and the round trip: publish a multi-platform tree ->
# bind -> artifactctl fetch through nginx -> the installed bytes equal the
# source.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"

# The requests counted here are the tarball's and its sidecar's: no seek
# index (t0620 tests it, and the GitHub asset rules at the end of t0650).
PUB_OPTS=--no-seek-index
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_fetch
have_cmd publish || skip_all "'artifactctl publish' is not built"
need_nginx

publish_trees gz,xz

www=$TEST_TMP/www
mkdir -p "$www/dav" "$www/davmk" "$www/ro"
start_nginx "$www" || bail_out "cannot start nginx"
DAV=$NGINX_URL/dav/artifacts
toml=$TEST_TMP/Artifacts.toml
PY=${PYTHON3:-python3}

# --- a multi-platform tree ---------------------------------------------------------
nginx_mark
pub multi "$multi" --to "$DAV" --name Multi --toml "$toml" --json
succeeds "publish of a multi-platform tree succeeds"
is "3 tarballs and 3 sidecars PUT" "$(nginx_count PUT)" 6
is "... every object looked up first (HEAD)" "$(nginx_count HEAD)" 3
is "--json: one JSON document, one object per artifact" \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_TMP/multi.out")" 3
is "the objects are content-addressed" \
	"$(ls "$www/dav/artifacts" | grep -c '^Multi\.[a-z0-9_-]*\.[0-9a-f]\{16\}-[0-9a-f]\{16\}\.tar\.gz$')" 3
is "each has its sidecar" "$(ls "$www/dav/artifacts" | grep -c '\.tar\.gz\.json$')" 3
obj=$(ls "$www/dav/artifacts" | grep '^Multi\.x86_64-linux-gnu\..*\.tar\.gz$')
side=$www/dav/artifacts/$obj.json
is "sidecar: name" "$(json_get "$side" name)" Multi
is "sidecar: platform" "$(json_get "$side" platform)" x86_64-linux-gnu
is "sidecar: git-tree-sha1 (the tree git computes)" "$(json_get "$side" git-tree-sha1)" "$(tree_of zlib)"
is "sidecar: sha256 of the object" "$(json_get "$side" sha256)" \
	"$(sha256sum "$www/dav/artifacts/$obj" | cut -d' ' -f1)"
is "sidecar: size of the object" "$(json_get "$side" size)" "$(stat -c %s "$www/dav/artifacts/$obj")"
ok "sidecar: creation time in UTC ISO 8601" sh -c \
	"grep -q '\"created\": \"[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z\"' '$side'"
ok "sidecar: tool version" grep -q '"tool": "artifactctl (artifactfs) ' "$side"
cp "$toml" "$TEST_TMP/toml.1"

# --- skip-if-present, --force, --dry-run ---------------------------------------------
nginx_mark
pub again "$multi" --to "$DAV" --name Multi --toml "$toml"
succeeds "second publish succeeds"
is "second publish: 0 PUT" "$(nginx_count PUT)" 0
is "... HEAD of each object" "$(nginx_count HEAD)" 3
is "... GET of each sidecar" "$(nginx_count GET '\.json$')" 3
is "... and says so for each" "$(grep -c 'is already there with sha256' "$TEST_TMP/again.err")" 3
is "... stdout says skipped" "$(grep -c ' skipped http' "$TEST_TMP/again.out")" 3
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"

nginx_mark
pub force "$multi" --to "$DAV" --name Multi --toml "$toml" --force
succeeds "--force succeeds"
is "--force: every object and sidecar PUT again" "$(nginx_count PUT)" 6

nginx_mark
pub dry "$art/src/docs" --to "$DAV/new" --name Docs --toml "$toml" --dry-run
succeeds "--dry-run succeeds"
is "--dry-run: 0 PUT" "$(nginx_count PUT)" 0
is "--dry-run: 0 MKCOL" "$(nginx_count MKCOL)" 0
ok "--dry-run: Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
ok "--dry-run: nothing written on the server" test ! -e "$www/dav/artifacts/new"
ok "--dry-run: says what would be uploaded" grep -q '^Docs any would-upload http' "$TEST_TMP/dry.out"
ok "--dry-run: says what would be bound" grep -q "would bind Docs any to $(tree_of docs)" "$TEST_TMP/dry.err"

# --- MKCOL when the server does not create parents -------------------------------------
nginx_mark
pub mkcol "$art/src/docs" --to "$NGINX_URL/davmk/a/b" --name Docs
succeeds "publish below missing collections succeeds"
is "MKCOL of b (409), of a, then of b again" "$(nginx_count MKCOL)" 3
is "PUT refused once (409), then object and sidecar" "$(nginx_count PUT)" 3
is "object and sidecar are there" "$(ls "$www/davmk/a/b" | wc -l)" 2

# --- basic authentication: from the URL, or from ~/.netrc ------------------------------
home=$HOME
export HOME="$TEST_TMP/home"
mkdir -p "$HOME"
AUTH=http://pub:p%40ss%2Fw0rd@127.0.0.1:$NGINX_PORT/davauth
pub auth "$art/src/docs" --to "$AUTH" --name Docs --toml "$TEST_TMP/auth.toml" --json
succeeds "user:password in DEST"
is "... object and sidecar are there" "$(ls "$www/davauth" | wc -l)" 2
ok "... the bound URL carries no password" sh -c \
	"grep -q 'url = \"$NGINX_URL/davauth/Docs\.any\.' '$TEST_TMP/auth.toml' && ! grep -q 'p%40ss\|pub:' '$TEST_TMP/auth.toml'"
ok "... nor does the output" sh -c "! grep -q 'p%40ss\|p@ss' '$TEST_TMP/auth.out' '$TEST_TMP/auth.err'"
pub noauth "$art/src/tools" --to "$NGINX_URL/davauth" --name Tools
is "no credentials: exit 1" "$rc" 1
ok "... HTTP 401 in the message" grep -q "HTTP 401" "$TEST_TMP/noauth.err"
printf 'machine 127.0.0.1 login pub password p@ss/w0rd\n' >"$HOME/.netrc"
chmod 600 "$HOME/.netrc"
pub netrc "$art/src/tools" --to "$NGINX_URL/davauth" --name Tools
succeeds "credentials from ~/.netrc"
export HOME="$home"

# --- failures ---------------------------------------------------------------------------
nginx_mark
pub refused "$art/src/docs" --to "$NGINX_URL/ro" --name Docs --toml "$toml"
is "a location without PUT: exit 1" "$rc" 1
ok "... the message names the object and the cause" \
	grep -q "cannot upload '$NGINX_URL/ro/Docs\.any\..*\.tar\.gz': HTTP 405" "$TEST_TMP/refused.err"
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
is "... nothing tried after the first failure (no sidecar PUT)" "$(nginx_count PUT)" 1

# --- a tarball used as it is -------------------------------------------------------------
pub tarball "$art/zlib.tar.xz" --to "$DAV" --name ZlibXZ --platform x86_64-linux-gnu --toml "$toml"
succeeds "publish of a tarball succeeds"
ok "... keeps its compression's suffix" sh -c "ls '$www/dav/artifacts' | grep -q '^ZlibXZ\.x86_64-linux-gnu\..*\.tar\.xz$'"
ok "... uploaded byte for byte" sh -c "cmp '$art/zlib.tar.xz' '$www/dav/artifacts/'ZlibXZ.*.tar.xz"
echo 'not a tarball' >"$TEST_TMP/bogus.tar.gz"
nginx_mark
pub bogus "$TEST_TMP/bogus.tar.gz" --to "$DAV" --name Bogus --toml "$toml"
is "a file that is not a tarball: exit 1" "$rc" 1
ok "... said so" grep -q "is not a tarball Julia accepts" "$TEST_TMP/bogus.err"
is "... and nothing was sent" "$(nginx_count PUT)$(nginx_count HEAD)" 00

# --- the round trip through nginx --------------------------------------------------------
store=$TEST_TMP/store
fetch_multi "$store" "$toml"
fetch_run fetch-xz --store "$store" --platform x86_64-linux-gnu "$toml" ZlibXZ
is "fetch of the tarball published as it is" "$rc" 0

done_testing
