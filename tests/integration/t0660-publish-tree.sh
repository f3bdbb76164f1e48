#!/bin/sh
# t0660-publish-tree.sh - artifactctl publish --each over a tree of 5
# packages to a real S3-compatible server (s3rver on loopback, as t0630):
# publish all; change one and publish again: exactly one upload, and the four
# others skipped before packing ("unchanged, not packed", and they need no
# temporary file: with TMPDIR missing they still succeed while the changed
# one cannot be packed); --dry-run says would upload, unchanged or changed;
# a failing source among good ones: the others finish, exit 1, the summary
# shows it; --jobs; --meta and --meta-file in the sidecars; a package with
# one directory per platform.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"
. "$TESTS_SRCDIR/s3/s3.sh"

need_artifactctl
have_cmd publish || skip_all "'artifactctl publish' is not built"
need_s3
PY=${PYTHON3:-python3}

tree=$TEST_TMP/tree
for p in pkgA pkgB pkgC pkgD pkgE; do
	mkdir -p "$tree/$p/bin" "$tree/$p/share"
	printf '#!/bin/sh\necho %s\n' "$p" >"$tree/$p/bin/$p"
	chmod 755 "$tree/$p/bin/$p"
	head -c 50000 /dev/urandom >"$tree/$p/share/data"
done
: >"$tree/not-a-package.txt"
mkdir -p "$tree/.hidden/x" && : >"$tree/.hidden/x/f"

start_s3 bkt || bail_out "cannot start the S3 test server"
s3_env
DEST=s3://bkt/tree
PUBLIC=$S3_ENDPOINT/bkt/tree
toml=$TEST_TMP/Artifacts.toml
S3=--endpoint-url=$S3_ENDPOINT

summary_row() { grep "^$1 " "$TEST_TMP/$tag.err" | awk '{ print $3 }'; }

# --- the first run publishes all --------------------------------------------------------
printf '{"license": "MIT", "homepage": "https://example.org", "tags": ["a", "b"]}\n' \
	>"$TEST_TMP/mip.json"
s3_mark
pub first --each "$tree" --to "$DEST" "$S3" --public-url "$PUBLIC" --toml "$toml" --jobs 3 \
	--meta-file "$TEST_TMP/mip.json" --meta license=Apache-2.0 --meta maintainer=me
succeeds "publish --each: all five"
is "5 tarballs PUT" "$(s3_count PUT '\.tar\.gz$')" 5
is "5 sidecars PUT" "$(s3_count PUT '\.tar\.gz\.json$')" 5
is "stdout: a row per package, dot entries and files passed over" \
	"$(cut -d' ' -f1-3 "$TEST_TMP/first.out" | tr '\n' ' ')" \
	"pkgA any uploaded pkgB any uploaded pkgC any uploaded pkgD any uploaded pkgE any uploaded "
ok "the summary table" grep -q '^NAME  *PLATFORM  *STATUS  *BYTES$' "$TEST_TMP/first.err"
is "... pkgA published" "$(summary_row pkgA)" published
ok "... totals" grep -q '^total: 5 artifacts, 5 published, 0 skipped, 0 failed' "$TEST_TMP/first.err"
for p in pkgA pkgE; do
	is "$p bound to the tree 'artifactctl hash' computes" \
		"$("$ARTIFACTCTL" resolve "$toml" "$p" 2>&1)" "$("$ARTIFACTCTL" hash "$tree/$p")"
done
sidecar=$(curl -sf "$PUBLIC/$(grep -o 'pkgB\.any\.[0-9a-f-]*\.tar\.gz' "$TEST_TMP/first.out").json")
ok "meta travels in the sidecar: --meta wins over --meta-file" "$PY" -c '
import json, sys
m = json.loads(sys.argv[1])["meta"]
assert m == {"license": "Apache-2.0", "maintainer": "me", "homepage": "https://example.org",
             "tags": ["a", "b"]}, m
' "$sidecar"
cp "$toml" "$TEST_TMP/toml.1"

# --- change one: the others are skipped before packing ---------------------------------------
printf 'new\n' >"$tree/pkgC/share/new-file"
# no temporary directory at all: what needs packing fails, what is skipped cannot have packed
s3_mark
TMPDIR=$TEST_TMP/no-such-dir pub notmp --each "$tree" --to "$DEST" "$S3" --public-url "$PUBLIC" \
	--toml "$toml"
is "TMPDIR missing: exit 1 (the changed one cannot be packed)" "$rc" 1
is "... four 'unchanged, not packed'" "$(grep -c ': unchanged, not packed: ' "$TEST_TMP/notmp.err")" 4
ok "... pkgC could not create its temporary file" grep -q \
	"pkgC any: cannot create a temporary file in '$TEST_TMP/no-such-dir'" "$TEST_TMP/notmp.err"
is "... summary: pkgC failed" "$(summary_row pkgC)" failed
is "... summary: pkgA skipped" "$(summary_row pkgA)" skipped
ok "... totals" grep -q '^total: 5 artifacts, 0 published, 4 skipped, 1 failed' "$TEST_TMP/notmp.err"
is "... nothing PUT" "$(s3_count PUT)" 0
is "... no HEAD: decided from the listing and the sidecars" "$(s3_count HEAD)" 0
ok "... the Artifacts.toml unchanged (pkgC failed, the others are as bound)" \
	cmp "$TEST_TMP/toml.1" "$toml"

mkdir -p "$TEST_TMP/tmp"
s3_mark
TMPDIR=$TEST_TMP/tmp pub second --each "$tree" --to "$DEST" "$S3" --public-url "$PUBLIC" \
	--toml "$toml" --json
succeeds "publish again after one change"
is "exactly one tarball uploaded" "$(s3_count PUT '\.tar\.gz$')" 1
is "... and its sidecar" "$(s3_count PUT '\.tar\.gz\.json$')" 1
ok "... it is pkgC's" grep -q '^PUT /bkt/tree/pkgC\.any\.' "$S3_DIR/requests.log"
is "four 'unchanged, not packed' lines" "$(grep -c ': unchanged, not packed: ' "$TEST_TMP/second.err")" 4
is "... none for pkgC" "$(grep -c 'pkgC any: unchanged' "$TEST_TMP/second.err")" 0
is "the temporary directory is left empty" "$(ls -A "$TEST_TMP/tmp" | wc -l)" 0
ok "--json: one document, statuses" "$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [(e["name"], e["status"]) for e in v] == [("pkgA", "skipped"), ("pkgB", "skipped"),
    ("pkgC", "published"), ("pkgD", "skipped"), ("pkgE", "skipped")], v
assert all(e["sha256"] and e["url"] for e in v), v
' "$TEST_TMP/second.out"
is "pkgC bound to its new tree" "$("$ARTIFACTCTL" resolve "$toml" pkgC 2>&1)" \
	"$("$ARTIFACTCTL" hash "$tree/pkgC")"

# --- --dry-run: would upload, unchanged, changed -------------------------------------------------
printf 'changed\n' >"$tree/pkgD/share/more"
mkdir -p "$tree/pkgF" && printf 'f\n' >"$tree/pkgF/f"
cp "$toml" "$TEST_TMP/toml.2"
s3_mark
TMPDIR=$TEST_TMP/no-such-dir pub dry --each "$tree" --to "$DEST" "$S3" --toml "$toml" --dry-run --json
succeeds "--dry-run succeeds without a temporary directory: nothing is packed"
ok "... pkgD changed" grep -q 'pkgD any: changed: ' "$TEST_TMP/dry.err"
ok "... pkgF would upload" grep -q 'pkgF any: would upload, nothing published yet' "$TEST_TMP/dry.err"
is "... four unchanged" "$(grep -c ': unchanged, not packed: ' "$TEST_TMP/dry.err")" 4
ok "... JSON statuses" "$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert {e["name"]: e["status"] for e in v} == {"pkgA": "unchanged", "pkgB": "unchanged",
    "pkgC": "unchanged", "pkgD": "changed", "pkgE": "unchanged", "pkgF": "would-upload"}, v
' "$TEST_TMP/dry.out"
is "... nothing PUT" "$(s3_count PUT)" 0
ok "... the Artifacts.toml unchanged" cmp "$TEST_TMP/toml.2" "$toml"

# --- a failing source among good ones ------------------------------------------------------------
s3_mark
pub mixed "$tree/pkgD" "$TEST_TMP/no-such-package" "$tree/pkgF" "$tree/pkgA" --to "$DEST" "$S3" \
	--public-url "$PUBLIC" --toml "$toml" --jobs 2
is "a missing source among good ones: exit 1" "$rc" 1
ok "... named" grep -q "cannot publish '$TEST_TMP/no-such-package'" "$TEST_TMP/mixed.err"
is "... the others finish: two tarballs uploaded" "$(s3_count PUT '\.tar\.gz$')" 2
is "... summary: the missing one failed" "$(summary_row no-such-package)" failed
is "... summary: pkgD published" "$(summary_row pkgD)" published
is "... summary: pkgA skipped" "$(summary_row pkgA)" skipped
ok "... totals" grep -q '^total: 4 artifacts, 2 published, 1 skipped, 1 failed' "$TEST_TMP/mixed.err"
is "... the good sources are bound" "$("$ARTIFACTCTL" resolve "$toml" pkgF 2>&1)" \
	"$("$ARTIFACTCTL" hash "$tree/pkgF")"

# --- a package of one directory per platform, with --each ---------------------------------------
tree2=$TEST_TMP/tree2
mkdir -p "$tree2/Multi/x86_64-linux-gnu" "$tree2/Multi/aarch64-apple-darwin" "$tree2/Plain"
printf 'x86\n' >"$tree2/Multi/x86_64-linux-gnu/f"
printf 'arm\n' >"$tree2/Multi/aarch64-apple-darwin/f"
printf 'plain\n' >"$tree2/Plain/f"
pub plat --each "$tree2" --to "$DEST" "$S3" --public-url "$PUBLIC" --toml "$toml" --jobs 1
succeeds "--each with a per-platform package"
is "... three artifacts" "$(cut -d' ' -f1-2 "$TEST_TMP/plat.out" | tr '\n' ' ')" \
	"Multi aarch64-apple-darwin Multi x86_64-linux-gnu Plain any "
is "... x86_64-linux-gnu bound" "$("$ARTIFACTCTL" resolve --platform x86_64-linux-gnu "$toml" Multi 2>&1)" \
	"$("$ARTIFACTCTL" hash "$tree2/Multi/x86_64-linux-gnu")"

# --- usage ------------------------------------------------------------------------------------
exit_is 64 "$ARTIFACTCTL" publish --each "$tree" --name X --to "$DEST"
is "--name with --each: usage" "$?" 0
exit_is 64 "$ARTIFACTCTL" publish "$tree/pkgA" --jobs 0 --to "$DEST"
is "--jobs 0: usage" "$?" 0
printf '{"a": 1,}\n' >"$TEST_TMP/bad.json"
exit_is 64 "$ARTIFACTCTL" publish "$tree/pkgA" --meta-file "$TEST_TMP/bad.json" --to "$DEST"
is "--meta-file with invalid JSON: usage" "$?" 0
ok "... the message names the file" grep -q "invalid --meta-file '$TEST_TMP/bad.json': .*line 1" "$TEST_TMP/err"
printf '[1]\n' >"$TEST_TMP/arr.json"
exit_is 64 "$ARTIFACTCTL" publish "$tree/pkgA" --meta-file "$TEST_TMP/arr.json" --to "$DEST"
is "--meta-file not an object: usage" "$?" 0
exit_is 64 "$ARTIFACTCTL" publish "$tree/pkgA" --meta novalue --to "$DEST"
is "--meta without '=': usage" "$?" 0

done_testing
