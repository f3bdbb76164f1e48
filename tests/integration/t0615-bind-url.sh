#!/bin/sh
# t0615-bind-url.sh - artifactctl bind --url URL without --sha256
# (ArtifactUtils.jl's add_artifact!): the tarball is downloaded from nginx
# on loopback and hashed as it streams in; the bound git-tree-sha1, sha256
# and size equal what 'artifactctl hash' computes from the same file; no
# temporary file is written; --platform and --lazy as with --sha256; a
# HASH that differs from the download, a 404 and a --size that differs are
# failures that leave the Artifacts.toml as it was.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_artifactctl
"$ARTIFACTCTL" bind --help >/dev/null 2>&1 || skip_all "'artifactctl bind' is not built"
need_nginx
PY=${PYTHON3:-python3}
A=$ARTIFACTCTL

www=$TEST_TMP/www
mkdir -p "$www/dav" "$TEST_TMP/src/bin" "$TEST_TMP/src/share/doc"
printf '#!/bin/sh\necho hi\n' >"$TEST_TMP/src/bin/hi"
chmod 755 "$TEST_TMP/src/bin/hi"
head -c 300000 /dev/urandom >"$TEST_TMP/src/share/blob"
printf 'docs\n' >"$TEST_TMP/src/share/doc/README"
ln -s ../bin/hi "$TEST_TMP/src/share/hi-link"
"$A" pack -o "$www/dav/Hi.tar.gz" "$TEST_TMP/src" >/dev/null 2>&1 || bail_out "cannot pack"
set -- $("$A" hash "$www/dav/Hi.tar.gz")
tree=$1 sha=$2
size=$(stat -c %s "$www/dav/Hi.tar.gz")
start_nginx "$www" || bail_out "cannot start nginx"
URL=$NGINX_URL/dav/Hi.tar.gz
toml=$TEST_TMP/Artifacts.toml

# the bound values, read back with tomllib
field() {
	"$PY" -c '
import sys, tomllib
e = tomllib.load(open(sys.argv[1], "rb"))[sys.argv[2]]
e = e[0] if isinstance(e, list) else e
d = e["download"][0]
print({"tree": e["git-tree-sha1"], "sha256": d["sha256"], "url": d["url"],
       "size": d.get("size"), "lazy": e.get("lazy"), "arch": e.get("arch")}[sys.argv[3]])
' "$toml" "$1" "$2"
}

# --- add_artifact!: download, hash, bind ----------------------------------------------
mkdir -p "$TEST_TMP/tmp"
nginx_mark
TMPDIR=$TEST_TMP/tmp "$A" bind --url "$URL" "$toml" Hi >"$TEST_TMP/b.out" 2>"$TEST_TMP/b.err"
is "bind --url without --sha256 succeeds" "$?" 0
is "... one GET of the tarball" "$(nginx_count GET '/dav/Hi\.tar\.gz')" 1
is "... the tree 'artifactctl hash' computes" "$(field Hi tree)" "$tree"
is "... the sha256 'artifactctl hash' computes" "$(field Hi sha256)" "$sha"
is "... the size of the file" "$(field Hi size)" "$size"
is "... the URL" "$(field Hi url)" "$URL"
is "... no temporary file written" "$(ls -A "$TEST_TMP/tmp" | wc -l)" 0
ok "... says what it found" grep -q "git-tree-sha1 $tree, sha256 $sha" "$TEST_TMP/b.err"
ok "... resolve finds the tree" sh -c "'$A' resolve '$toml' Hi | grep -qx '$tree'"

# --- --platform, --lazy, HASH given -----------------------------------------------------
"$A" bind --url "$URL" --platform aarch64-linux-gnu --lazy "$toml" HiArm "$tree" \
	>/dev/null 2>"$TEST_TMP/p.err"
is "--platform --lazy and a matching HASH: succeeds" "$?" 0
is "... arch" "$(field HiArm arch)" aarch64
is "... lazy" "$(field HiArm lazy)" True
is "... sha256" "$(field HiArm sha256)" "$sha"
cp "$toml" "$TEST_TMP/toml.1"

# --- failures leave the file alone ------------------------------------------------------
exit_is 1 "$A" bind --url "$URL" "$toml" Bad 1111111111111111111111111111111111111111
is "a HASH other than the download's: exit 1" "$?" 0
ok "... names both trees" grep -q "is $tree, not 1111111111111111111111111111111111111111" "$TEST_TMP/err"
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
exit_is 1 "$A" bind --url "$NGINX_URL/dav/missing.tar.gz" "$toml" Missing
is "a 404: exit 1" "$?" 0
ok "... the message names the URL and the status" grep -q "missing\.tar\.gz.*404" "$TEST_TMP/err"
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
exit_is 1 "$A" bind --url "$URL" --size 12 "$toml" Sized
is "a --size other than the download's: exit 1" "$?" 0
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
exit_is 64 "$A" bind --url ftp://example.org/x.tar.gz "$toml" Ftp
is "a URL of another scheme to download: usage" "$?" 0
exit_is 64 "$A" bind --url "$URL" --sha256 "$sha" "$toml" NoHash
is "with --sha256, HASH is still required: usage" "$?" 0

# --- a mirror with its --sha256 beside a downloaded one ----------------------------------
cp "$www/dav/Hi.tar.gz" "$www/dav/Hi-mirror.tar.gz"
"$A" bind --force --url "$URL" --url "$NGINX_URL/dav/Hi-mirror.tar.gz" --sha256 "$sha" \
	"$toml" Hi >/dev/null 2>&1
is "a downloaded URL and a mirror with --sha256" "$?" 0
ok "... both bound with the same sha256" "$PY" -c '
import sys, tomllib
e = tomllib.load(open(sys.argv[1], "rb"))["Hi"]
assert [d["sha256"] for d in e["download"]] == [sys.argv[2]] * 2, e
' "$toml" "$sha"

done_testing
