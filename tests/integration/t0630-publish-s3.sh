#!/bin/sh
# artifactctl publish and index against a real S3-compatible server on
# loopback (s3rver 3.7.1 behind tests/s3/s3server.js, which checks every
# SigV4 signature): single and multi-platform publishes, skip-if-present,
# --force and --dry-run counted in PUT requests, multipart uploads with a
# retried and an aborted part, credentials (a file open to others is
# refused, a wrong secret is refused by the server), index over the prefix,
# and the round trip: publish -> bind -> artifactctl fetch from the public
# (anonymous GET) URL -> the installed bytes equal the source.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"

# The requests counted here are the tarball's and its sidecar's: no seek
# index (t0620 tests it, and the GitHub asset rules at the end of t0650).
PUB_OPTS=--no-seek-index
. "$TESTS_SRCDIR/s3/s3.sh"

need_fetch
have_cmd publish || skip_all "'artifactctl publish' is not built"
have_cmd index || skip_all "'artifactctl index' is not built"
need_s3
PY=${PYTHON3:-python3}

publish_trees gz
# ~12 MB that gzip cannot shrink: 3 parts of 5 MiB
big=$TEST_TMP/big
mkdir -p "$big"
head -c 12000000 /dev/urandom >"$big/blob"
cp -a "$art/src/docs" "$big/docs"

start_s3 bkt || bail_out "cannot start the S3 test server"
s3_env
DEST=s3://bkt/pub/artifacts
PUBLIC=$S3_ENDPOINT/bkt/pub/artifacts
toml=$TEST_TMP/Artifacts.toml
store=$TEST_TMP/store

# --- single ------------------------------------------------------------------------
s3_mark
pub single "$art/src/zlib" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Zlib --platform x86_64-linux-gnu --toml "$toml"
succeeds "single publish succeeds"
is "single: tarball and sidecar PUT" "$(s3_count PUT)" 2
is "single: every request signed" "$(grep -c ' anon$' "$S3_DIR/requests.log")" 0
ok "single: the object's sidecar" grep -q 'PUT /bkt/pub/artifacts/Zlib\.x86_64-linux-gnu\.[0-9a-f-]*\.tar\.gz\.json ' \
	"$S3_DIR/requests.log"
ok "single: bound with the public URL" grep -q "url = \"$PUBLIC/Zlib.x86_64-linux-gnu." "$toml"
is "single: bound to the tree git computes" \
	"$("$ARTIFACTCTL" resolve --platform x86_64-linux-gnu "$toml" Zlib 2>&1)" "$(tree_of zlib)"

# --- multi-platform ------------------------------------------------------------------
s3_mark
pub multi "$multi" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Multi --toml "$toml"
succeeds "multi-platform publish succeeds"
is "multi: 3 tarballs and 3 sidecars PUT" "$(s3_count PUT)" 6
ok "multi: said it found one directory per platform" grep -q "publishing 3 artifacts" "$TEST_TMP/multi.err"
for t in x86_64-linux-gnu:zlib aarch64-linux-gnu:tools aarch64-apple-darwin:docs; do
	is "multi: ${t%%:*} selects its tree" \
		"$("$ARTIFACTCTL" resolve --platform "${t%%:*}" "$toml" Multi 2>&1)" "$(tree_of "${t#*:}")"
done
ok "multi: a platform without a tree selects nothing" sh -c \
	"! '$ARTIFACTCTL' resolve --platform powerpc64le-linux-gnu '$toml' Multi >/dev/null 2>&1"
cp "$toml" "$TEST_TMP/toml.1"

# --- skip-if-present, --force, --dry-run -----------------------------------------------
s3_mark
pub again "$multi" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Multi --toml "$toml"
succeeds "second publish succeeds"
is "second publish: 0 PUT" "$(s3_count PUT)" 0
is "second publish: 0 POST" "$(s3_count POST)" 0
is "... no HEAD: decided before packing" "$(s3_count HEAD)" 0
is "... a listing per artifact" "$(s3_count GET 'list-type=2')" 3
is "... a GET per sidecar" "$(s3_count GET '\.json$')" 3
is "... and says so" "$(grep -c ': unchanged, not packed: ' "$TEST_TMP/again.err")" 3
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"

s3_mark
pub force "$multi" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Multi --toml "$toml" --force
succeeds "--force succeeds"
is "--force: 6 PUT again" "$(s3_count PUT)" 6

s3_mark
pub dry "$art/src/docs" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Docs --toml "$toml" --dry-run --json
succeeds "--dry-run succeeds"
is "--dry-run: 0 PUT" "$(s3_count PUT)" 0
is "--dry-run: 0 POST" "$(s3_count POST)" 0
ok "--dry-run: Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
is "--dry-run: JSON says would-upload" "$(json_get "$TEST_TMP/dry.out" 0 action)" would-upload

# --- multipart -----------------------------------------------------------------------------
s3_mark
pub big "$big" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Big --toml "$toml" --part-size 5MiB
succeeds "multipart publish succeeds"
is "multipart: CreateMultipartUpload" "$(s3_count POST '\?uploads=$')" 1
is "multipart: 3 parts of 5 MiB" "$(s3_count PUT 'partNumber=')" 3
is "multipart: CompleteMultipartUpload" "$(s3_count POST '\?uploadId=')" 1
is "multipart: the sidecar in one PUT" "$(s3_count PUT '\.json$')" 1
bigtree=$("$ARTIFACTCTL" hash "$big")
fetch_run fetch-big --store "$store" "$toml" Big
is "multipart: fetch from the public URL" "$rc" 0
ok "multipart: the installed tree equals the source" tree_equal "$big" "$store/artifacts/$bigtree"

s3_fault PUT 'partNumber%3D2' 500 1
s3_mark
pub retry "$big" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Big --part-size 5MiB --force
succeeds "a part failing once is retried: success"
is "... part 2 sent twice" "$(s3_count PUT 'partNumber=2&')" 2
is "... nothing aborted" "$(s3_count DELETE)" 0

cp "$toml" "$TEST_TMP/toml.2"
s3_fault PUT 'partNumber%3D2' 500 3
s3_mark
pub abort "$big" --to "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	--name Big --toml "$toml" --part-size 5MiB --force
is "a part failing 3 times: exit 1" "$rc" 1
ok "... the message names the object, the part and the cause" grep -q \
	"cannot upload part 2 of 3 of '$S3_ENDPOINT/bkt/pub/artifacts/Big\.any\..*\.tar\.gz': HTTP 500 .*InternalError" \
	"$TEST_TMP/abort.err"
is "... 3 attempts of part 2" "$(s3_count PUT 'partNumber=2&')" 3
is "... part 3 never sent" "$(s3_count PUT 'partNumber=3&')" 0
is "... the upload aborted (AbortMultipartUpload)" "$(s3_count DELETE '\?uploadId=')" 1
is "... no sidecar" "$(s3_count PUT '\.json$')" 0
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.2" "$toml"

# --- credentials ---------------------------------------------------------------------------
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
creds=$TEST_TMP/credentials
printf '[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$S3_KEY" "$S3_SECRET" >"$creds"
chmod 0644 "$creds"
s3_mark
pub creds644 "$art/src/docs" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Docs \
	--credentials "$creds" --profile ci
is "a credentials file with mode 0644: exit 1" "$rc" 1
ok "... refused with a clear message" grep -q "credentials file '$creds' is accessible by group or others (mode 0644)" \
	"$TEST_TMP/creds644.err"
is "... and no request made" "$(s3_count PUT)$(s3_count HEAD)" 00
chmod 0600 "$creds"
pub creds600 "$art/src/docs" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Docs \
	--credentials "$creds" --profile ci
succeeds "mode 0600, profile ci: publish succeeds"
pub credsdef "$art/src/zlib" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Wrong \
	--credentials "$creds"
is "profile default (a wrong key): exit 1" "$rc" 1
ok "... the server's answer is in the message" grep -q "HTTP 403 .*InvalidAccessKeyId" "$TEST_TMP/credsdef.err"
export AWS_ACCESS_KEY_ID="$S3_KEY" AWS_SECRET_ACCESS_KEY=not-the-secret
pub badsig "$art/src/zlib" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Wrong --force
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
is "a wrong secret: exit 1" "$rc" 1
ok "... SignatureDoesNotMatch" grep -q "HTTP 403 .*SignatureDoesNotMatch" "$TEST_TMP/badsig.err"
home=$HOME
export HOME="$TEST_TMP"
pub nocreds "$art/src/zlib" --to "$DEST" --endpoint "$S3_ENDPOINT" --name Wrong
export HOME="$home"
is "no credentials at all: exit 1" "$rc" 1
ok "... says so" grep -q "no S3 credentials" "$TEST_TMP/nocreds.err"
export AWS_ENDPOINT_URL="$S3_ENDPOINT" AWS_REGION=us-east-1 AWS_SHARED_CREDENTIALS_FILE="$creds" \
	AWS_PROFILE=ci
pub envcfg "$art/src/docs" --to "$DEST" --name Docs
succeeds "endpoint, region and credentials file from the environment"
s3_env

# --- the endpoint and region as aws-cli resolves them (~/.aws/config) ------------------------------
# a dead port: a request sent there fails, so success proves which endpoint won
dead=http://127.0.0.1:9
cat >"$TEST_TMP/aws-config" <<EOC
[default]
region = us-east-1
endpoint_url = $dead

[profile r2]
region = auto
s3 =
  endpoint_url = $S3_ENDPOINT
endpoint_url = $dead

[profile svc]
services = local
[services local]
s3 =
  endpoint_url = $S3_ENDPOINT
EOC
export AWS_CONFIG_FILE="$TEST_TMP/aws-config" AWS_PROFILE=r2
s3_mark
pub cfg-r2 "$art/src/docs" --to "$DEST" --name Docs --force
succeeds "config: the profile's s3 sub-section endpoint_url, region auto"
is "... the request went to the S3 server" "$(s3_count PUT '/Docs\.any\.')" 2
export AWS_PROFILE=svc
pub cfg-svc "$art/src/docs" --to "$DEST" --name Docs --force
succeeds "config: the [services] section the profile names"
export AWS_PROFILE=default
pub cfg-default "$art/src/docs" --to "$DEST" --name Docs --force
is "config: [default]'s endpoint_url is used (and is dead): exit 1" "$rc" 1
ok "... the message names that endpoint" grep -q "127\.0\.0\.1:9/" "$TEST_TMP/cfg-default.err"
export AWS_ENDPOINT_URL="$S3_ENDPOINT"
pub cfg-env "$art/src/docs" --to "$DEST" --name Docs --force
succeeds "AWS_ENDPOINT_URL wins over the config file"
export AWS_ENDPOINT_URL="$dead" AWS_ENDPOINT_URL_S3="$S3_ENDPOINT"
pub cfg-env-s3 "$art/src/docs" --to "$DEST" --name Docs --force
succeeds "AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL"
export AWS_ENDPOINT_URL_S3="$dead"
pub cfg-opt "$art/src/docs" --to "$DEST" --name Docs --force --endpoint-url "$S3_ENDPOINT"
succeeds "--endpoint-url wins over the environment"
s3_env

# --- index over the prefix -------------------------------------------------------------------
idx=$TEST_TMP/index.json
"$ARTIFACTCTL" index "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" -o "$idx" \
	2>"$TEST_TMP/index.err"
is "index over the s3 prefix succeeds" "$?" 0
# Zlib, 3 Multi, Big, Docs
is "index: every published tarball" "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$idx")" 6
is "index: sorted by name, then platform" \
	"$("$PY" -c 'import json,sys; print(" ".join("%s/%s" % (e["name"], e["platform"]) for e in json.load(open(sys.argv[1]))))' "$idx")" \
	"Big/None Docs/None Multi/aarch64-apple-darwin Multi/aarch64-linux-gnu Multi/x86_64-linux-gnu Zlib/x86_64-linux-gnu"
ok "index: entries agree with the Artifacts.toml" "$PY" -c '
import json, sys
toml = open(sys.argv[2]).read()
for e in json.load(open(sys.argv[1])):
    if e["name"] in ("Zlib", "Multi", "Big"):
        assert e["sha256"] in toml and e["git-tree-sha1"] in toml and e["url"] in toml, e
    assert e["url"].startswith(sys.argv[3] + "/" + e["name"] + "."), e
    assert set(e) == {"name", "platform", "git-tree-sha1", "sha256", "size", "url", "created", "meta"}, e
' "$idx" "$toml" "$PUBLIC"
s3_mark
export ARTIFACTCTL_S3_MAX_KEYS=2
"$ARTIFACTCTL" index "$DEST" --endpoint "$S3_ENDPOINT" --public-url "$PUBLIC" \
	-o "$TEST_TMP/index-paged.json" 2>/dev/null
unset ARTIFACTCTL_S3_MAX_KEYS
ok "index with pages of 2 keys: the same index" cmp "$idx" "$TEST_TMP/index-paged.json"
is "... 12 keys in 6 pages (continuation tokens)" "$(s3_count GET 'list-type=2')" 6
"$ARTIFACTCTL" index "$DEST" --endpoint "$S3_ENDPOINT" -o "$TEST_TMP/index2.json" 2>/dev/null
ok "index without --public-url: the endpoint URLs" grep -q "\"url\": \"$S3_ENDPOINT/bkt/pub/artifacts/" "$TEST_TMP/index2.json"

# --- the round trip -----------------------------------------------------------------------------
one_get() { is "$1: downloaded from the public URL (anonymous GET)" "$(s3_count GET '\.tar\.gz$')" 1; }
fetch_multi "$store" "$toml" s3_mark one_get

# without --public-url: the S3 API URL is bound, with a warning
pub nopublic "$art/src/tools" --to "$DEST/np" --endpoint "$S3_ENDPOINT" --name Tools \
	--toml "$TEST_TMP/np.toml"
succeeds "publish without --public-url succeeds"
ok "... warns that the URL may not be public" grep -q "download only if the bucket is public" \
	"$TEST_TMP/nopublic.err"
ok "... binds the endpoint URL of the object" grep -q "url = \"$S3_ENDPOINT/bkt/pub/artifacts/np/Tools.any." \
	"$TEST_TMP/np.toml"
fetch_run fetch-np --store "$store" "$TEST_TMP/np.toml"
is "... which this bucket serves" "$rc" 0

done_testing
