#!/bin/sh
# artifactctl publish and index with a file:// destination, end to end:
# objects and sidecars, skip-if-present (nothing rewritten), --force,
# --dry-run (nothing created), the choice between one tree and one tree per
# platform, binding options, mirrors kept on re-publish, a failure in the
# middle of a multi-platform run that leaves the Artifacts.toml alone,
# index over the directory, and the round trip: publish -> bind ->
# artifactctl fetch (and a mount, when FUSE is there) -> the bytes equal the
# source.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_fetch
have_cmd publish || skip_all "'artifactctl publish' is not built"
have_cmd index || skip_all "'artifactctl index' is not built"
PY=${PYTHON3:-python3}

publish_trees gz

pubdir=$TEST_TMP/pub
toml=$TEST_TMP/Artifacts.toml
store=$TEST_TMP/store
umask 022

objects() { ls "$1" | grep -v '\.json$' | grep -v '\.seekidx$'; }

# --- a multi-platform tree to file:// -------------------------------------------------
pub multi "$multi" --to "file://$pubdir" --name Multi --toml "$toml"
succeeds "publish of a multi-platform tree to file:// succeeds"
is "3 tarballs" "$(objects "$pubdir" | wc -l)" 3
is "3 sidecars" "$(ls "$pubdir" | grep -c '\.tar\.gz\.json$')" 3
is "no temporary file left" "$(ls -A "$pubdir" | grep -c '^\.')" 0
is "objects get 0644 under umask 022" "$(stat -c %a "$pubdir"/* | sort -u)" 644
is "stdout: one line per artifact, NAME PLATFORM ACTION URL" \
	"$(cut -d' ' -f1-3 "$TEST_TMP/multi.out" | tr '\n' ' ')" \
	"Multi aarch64-apple-darwin uploaded Multi aarch64-linux-gnu uploaded Multi x86_64-linux-gnu uploaded "
ok "the bound URL is the file:// URL of the object" \
	grep -q "url = \"file://$pubdir/Multi.x86_64-linux-gnu." "$toml"
for t in x86_64-linux-gnu:zlib aarch64-linux-gnu:tools aarch64-apple-darwin:docs; do
	is "${t%%:*} selects its tree" \
		"$("$ARTIFACTCTL" resolve --platform "${t%%:*}" "$toml" Multi 2>&1)" "$(tree_of "${t#*:}")"
done
obj=$pubdir/$(objects "$pubdir" | grep x86_64)
is "the tarball holds what 'artifactctl hash' finds in it" \
	"$("$ARTIFACTCTL" hash "$obj" | cut -d' ' -f1)" "$(tree_of zlib)"
# issue 16: a seek index beside each gzip tarball, bound as seek_index
is "3 seek indexes" "$(ls "$pubdir" | grep -c '\.tar\.gz\.seekidx$')" 3
ok "the seek index is bound beside the url" \
	grep -q "seek_index = \"file://$obj.seekidx\"" "$toml"
ok "the seek index checks out against its tarball" \
	"$PY" "$TESTS_SRCDIR/seekidx_check.py" "$obj.seekidx" "$obj" "$(tree_of zlib)"
cp "$toml" "$TEST_TMP/toml.1"

# --- skip, --force, --dry-run --------------------------------------------------------------
before=$(stat -c '%i %Y' "$obj")
pub again "$multi" --to "file://$pubdir" --name Multi --toml "$toml"
succeeds "second publish succeeds"
is "... says each is unchanged, not packed" "$(grep -c ': unchanged, not packed: ' "$TEST_TMP/again.err")" 3
is "... stdout says skipped" "$(grep -c '^Multi [^ ]* skipped file://' "$TEST_TMP/again.out")" 3
is "... the object is not rewritten" "$(stat -c '%i %Y' "$obj")" "$before"
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
pub force "$multi" --to "file://$pubdir" --name Multi --toml "$toml" --force --json
succeeds "--force succeeds"
ok "--force: the object is written again (a new inode)" test "$(stat -c '%i %Y' "$obj")" != "$before"
is "--force: JSON action" "$(json_get "$TEST_TMP/force.out" 0 action)" uploaded
# issue 10, bug 7: one JSON document for the run, not one object per line
ok "--json: the output is one JSON document, an array of 3 objects" "$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert isinstance(v, list) and len(v) == 3, v
assert [e["platform"] for e in v] == ["aarch64-apple-darwin", "aarch64-linux-gnu", "x86_64-linux-gnu"], v
assert all(e["name"] == "Multi" and e["toml"] == sys.argv[2] for e in v), v
' "$TEST_TMP/force.out" "$toml"
pub dry "$multi" --to "file://$TEST_TMP/new/dir" --name Multi --toml "$TEST_TMP/new.toml" --dry-run
succeeds "--dry-run succeeds"
ok "--dry-run: the destination is not created" test ! -e "$TEST_TMP/new"
ok "--dry-run: the Artifacts.toml is not created" test ! -e "$TEST_TMP/new.toml"
is "--dry-run: three would-upload" "$(grep -c ' would-upload ' "$TEST_TMP/dry.out")" 3
is "--dry-run: nothing packed" "$(grep -c 'would upload, nothing published yet' "$TEST_TMP/dry.err")" 3
is "--dry-run: the workers' messages never share a line" \
	"$(grep -c 'artifactctl: .*artifactctl: ' "$TEST_TMP/dry.err")" 0

# --- one tree or one per platform ------------------------------------------------------------
pub single "$multi" --to "$pubdir/single" --single-platform --name Whole
succeeds "--single-platform: a plain directory DEST"
is "... one object, platform independent" "$(objects "$pubdir/single" | grep -c '^Whole\.any\.')" 1
pub notmulti "$art/src/zlib" --to "$pubdir" --multi-platform
is "--multi-platform on a plain tree: usage error" "$rc" 64
pub platmulti "$multi" --to "$pubdir" --platform x86_64-linux-gnu
is "--platform with one directory per platform: usage error" "$rc" 64
pub badname "$art/src/zlib" --to "$pubdir" --name "a/b"
is "a name with '/': usage error" "$rc" 64
pub badplat "$art/src/zlib" --to "$pubdir" --platform not-a-triplet
is "an invalid --platform: usage error" "$rc" 64
pub badscheme "$art/src/zlib" --to "ftp://example.org/x"
is "an unsupported scheme: usage error" "$rc" 64
# a malformed URL is not a relative directory (issue 10, bug 2)
for bad in s3:/artifacts/bad s3:artifacts http:/example.org/x http:///x file:relative dir:name; do
	rm -rf "$TEST_TMP/bad" && mkdir -p "$TEST_TMP/bad"
	(cd "$TEST_TMP/bad" && timeout 60 "$ARTIFACTCTL" publish "$art/src/zlib" --name Bad \
		--to "$bad" --toml "$TEST_TMP/bad.toml" >"$TEST_TMP/bad.out" 2>"$TEST_TMP/bad.err")
	is "--to $bad: usage error" "$?" 64
	ok "... the message names it and the accepted forms" grep -q \
		"'$bad'.*s3://BUCKET\[/PREFIX\], http(s)://HOST/PATH, file:///DIR or a plain path" \
		"$TEST_TMP/bad.err"
	ok "... nothing written" dir_empty "$TEST_TMP/bad"
	ok "... nothing bound" test ! -e "$TEST_TMP/bad.toml"
done
(cd "$TEST_TMP" && mkdir -p bad && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --name Colon \
	--to ./bad/dir:name >"$TEST_TMP/colon.out" 2>&1)
is "--to ./dir:name: a directory whose name has a colon" "$?" 0
is "... the object is there" "$(ls "$TEST_TMP/bad/dir:name" | grep -c '^Colon\.any\..*\.tar\.gz$')" 1
(cd "$TEST_TMP" && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --to rel/dir >"$TEST_TMP/rel.out" 2>&1)
is "default name and a relative DEST" "$(cut -d' ' -f1-3 "$TEST_TMP/rel.out")" "zlib any uploaded"
ok "... bound URL is absolute" grep -q " file://$TEST_TMP/rel/dir/zlib\.any\." "$TEST_TMP/rel.out"
# --pack-jobs: compression threads per pack, the same object whatever their number
for pj in 1 3; do
	(cd "$TEST_TMP" && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --force --pack-jobs "$pj" \
		--to pj$pj >"$TEST_TMP/pj$pj.out" 2>&1)
	is "--pack-jobs $pj" "$?" 0
done
is "... the same object with 1 and 3 threads" "$(ls "$TEST_TMP/pj3")" "$(ls "$TEST_TMP/pj1")"
ok "... byte for byte" sh -c "cd '$TEST_TMP' && for f in pj1/*.tar.gz; do cmp \"\$f\" pj3/\"\${f#pj1/}\" || exit 1; done"
(cd "$TEST_TMP" && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --pack-jobs 0 --to pj0 \
	>"$TEST_TMP/pj0.out" 2>&1)
is "--pack-jobs 0: usage error" "$?" 64
(cd "$TEST_TMP" && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --no-seek-index --to noidx \
	--toml noidx.toml >"$TEST_TMP/noidx.out" 2>&1)
is "--no-seek-index" "$?" 0
is "... no seek index uploaded" "$(ls "$TEST_TMP/noidx" | grep -c seekidx)" 0
ok "... none bound" test "$(grep -c seek_index "$TEST_TMP/noidx.toml")" = 0
(cd "$TEST_TMP" && timeout 60 "$ARTIFACTCTL" publish art/src/zlib --to noidx \
	--toml noidx.toml >"$TEST_TMP/noidx2.out" 2>&1)
is "... publish again without it: the tarball is there, its index is added" \
	"$(ls "$TEST_TMP/noidx" | grep -c '\.tar\.gz\.seekidx$')" 1
ok "... and bound" grep -q "seek_index = \"file://$TEST_TMP/noidx/zlib\.any\..*\.tar\.gz\.seekidx\"" \
	"$TEST_TMP/noidx.toml"

# --- binding options and mirrors ---------------------------------------------------------------
pub lazy "$art/src/tools" --to "$pubdir" --name Tools --platform aarch64-linux-gnu --lazy \
	--toml "$toml" --public-url https://example.org/artifacts/
succeeds "--platform and --lazy"
ok "... lazy = true is bound" "$PY" -c '
import sys, tomllib
e = tomllib.load(open(sys.argv[1], "rb"))["Tools"]
assert isinstance(e, list) and e[0]["lazy"] is True and e[0]["arch"] == "aarch64", e
assert e[0]["download"][0]["url"].startswith("https://example.org/artifacts/Tools.aarch64-linux-gnu."), e
assert e[0]["download"][0]["seek_index"] == e[0]["download"][0]["url"] + ".seekidx", e
' "$toml"
if have_cmd add-mirror; then
	"$ARTIFACTCTL" add-mirror --platform x86_64-linux-gnu "$toml" Multi https://mirror.example.org/m.tar.gz \
		>/dev/null 2>&1
	is "add-mirror (set up)" "$?" 0
	pub mirror "$multi" --to "file://$pubdir" --name Multi --toml "$toml"
	succeeds "re-publish"
	ok "... keeps the mirror of the same bytes" grep -q 'https://mirror.example.org/m.tar.gz' "$toml"
else
	skip "re-publish keeps mirrors" "no 'artifactctl add-mirror'"
fi
cp "$toml" "$TEST_TMP/toml.2"

# --- failures -----------------------------------------------------------------------------------
: >"$TEST_TMP/afile"
pub notdir "$art/src/zlib" --to "file://$TEST_TMP/afile/sub" --name Zlib --toml "$toml"
is "a destination below a file: exit 1" "$rc" 1
ok "... the message names the object" grep -q "'file://$TEST_TMP/afile/sub/Zlib\.any\..*\.tar\.gz'" \
	"$TEST_TMP/notdir.err"
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.2" "$toml"
# the middle platform of three cannot be written: the others finish, nothing is bound
mid=$(objects "$pubdir" | grep "^Multi\.aarch64-linux-gnu\.")
mkdir -p "$TEST_TMP/pub3/$mid"
pub midfail "$multi" --to "$TEST_TMP/pub3" --name Multi --toml "$toml"
is "a failure in the middle of a multi-platform run: exit 1" "$rc" 1
ok "... the message names the object" grep -q "cannot write 'file://$TEST_TMP/pub3/$mid'" \
	"$TEST_TMP/midfail.err"
is "... the first platform was uploaded" "$(objects "$TEST_TMP/pub3" | grep -c aarch64-apple-darwin)" 1
is "... the last was uploaded all the same" "$(objects "$TEST_TMP/pub3" | grep -c x86_64)" 1
ok "... the summary shows the failure" grep -q '^Multi  aarch64-linux-gnu  *failed' "$TEST_TMP/midfail.err"
ok "... Artifacts.toml unchanged: nothing bound" cmp "$TEST_TMP/toml.2" "$toml"
printf 'not a tarball\n' >"$TEST_TMP/bogus.tar.gz"
pub bogus "$TEST_TMP/bogus.tar.gz" --to "$pubdir/bogus" --name Bogus
is "a file that is not a tarball: exit 1" "$rc" 1
ok "... nothing written" test ! -e "$pubdir/bogus"

# --- index ----------------------------------------------------------------------------------------
idx=$TEST_TMP/index.json
"$ARTIFACTCTL" index "$pubdir" -o "$idx" 2>"$TEST_TMP/index.err"
is "index over a directory succeeds" "$?" 0
is "index: every tarball, sorted" \
	"$("$PY" -c 'import json,sys; print(" ".join("%s/%s" % (e["name"], e["platform"]) for e in json.load(open(sys.argv[1]))))' "$idx")" \
	"Multi/aarch64-apple-darwin Multi/aarch64-linux-gnu Multi/x86_64-linux-gnu Tools/aarch64-linux-gnu Whole/None"
ok "index: entries equal their sidecars, url beside them" "$PY" -c '
import json, os, sys
for e in json.load(open(sys.argv[1])):
    assert e["url"].startswith("file://" + sys.argv[2] + "/"), e
    path = e["url"][len("file://"):]
    side = json.load(open(path + ".json"))
    for k in ("name", "platform", "git-tree-sha1", "sha256", "size"):
        assert side[k] == e[k], (k, e)
    assert os.path.getsize(path) == e["size"], e
' "$idx" "$pubdir"
"$ARTIFACTCTL" index "file://$pubdir" --public-url https://example.org/a -o "$TEST_TMP/index2.json" 2>/dev/null
ok "index of file:// with --public-url" grep -q '"url": "https://example.org/a/single/Whole\.any\.' "$TEST_TMP/index2.json"
is "index: no temporary file left" "$(ls -A "$TEST_TMP" | grep -c '^index\.json\.tmp')" 0
cp "$pubdir/$(objects "$pubdir" | grep x86_64).json" "$pubdir/orphan.tar.gz.json"
"$ARTIFACTCTL" index "$pubdir" -o "$TEST_TMP/index3.json" 2>"$TEST_TMP/index3.err"
is "a sidecar without its tarball: still written" "$?" 0
ok "... and left out with a warning" grep -q "left out 'file://$pubdir/orphan.tar.gz': the tarball of its sidecar is missing" \
	"$TEST_TMP/index3.err"
echo '{"name": "x"' >"$pubdir/orphan.tar.gz.json"
"$ARTIFACTCTL" index "$pubdir" -o "$TEST_TMP/index4.json" 2>"$TEST_TMP/index4.err"
is "a malformed sidecar: exit 1" "$?" 1
ok "... names it" grep -q "'file://$pubdir/orphan.tar.gz.json' is not a valid sidecar" "$TEST_TMP/index4.err"
ok "... and writes no index" test ! -e "$TEST_TMP/index4.json"
rm -f "$pubdir/orphan.tar.gz.json"

# --- the round trip -----------------------------------------------------------------------------
fetch_multi "$store" "$toml"

# through a mount: the host's entry (this test runs on x86_64 Linux or skips)
host=$("$ARTIFACTCTL" platform 2>/dev/null | cut -d- -f1,2)
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1 || [ ! -x "${ARTIFACTFS:-}" ]; then
	skip "mount from the new Artifacts.toml" "no FUSE or artifactfs"
elif [ "$host" != "x86_64-linux" ]; then
	skip "mount from the new Artifacts.toml" "the host is not x86_64 Linux"
else
	mnt=$TEST_TMP/mnt
	if mount_artifactfs "$mnt" -o "store=$TEST_TMP/fsstore,toml=$toml"; then
		ok "mount: the host's Multi equals its source" diff -r "$art/src/zlib" "$mnt/Multi/"
		unmount_artifactfs
		is "mount: clean unmount" "$?" 0
	else
		ok "mount from the new Artifacts.toml" false
	fi
fi

done_testing
