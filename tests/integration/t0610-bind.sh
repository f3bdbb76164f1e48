#!/bin/sh
# t0610-bind.sh - artifactctl bind, unbind, add-mirror: exit codes, and
# 'artifactctl resolve' picking a bound hash for its platform and not for
# others, on copies of the shared fixtures (never edited in place).
. "$TESTS_SRCDIR/lib.sh"

need_artifactctl
"$ARTIFACTCTL" bind --help >/dev/null 2>&1 || skip_all "'artifactctl bind' is not built"
need_shared

A=$ARTIFACTCTL
T=$(cd "$TEST_TMP" && pwd -P)
FIX=$ARTIFACTFS_SHARED/fixtures/artifacts-toml
H1=1111111111111111111111111111111111111111
H2=2222222222222222222222222222222222222222
S1=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
S2=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
ZLIB_X86=438377fe76907b3472fe256e7189bcee5430637b
ZLIB_AARCH64=ad72916da2ba06c8c8b457ac068955016ba88960

# fresh NAME FIXTURE: a writable copy of a fixture at $T/NAME
fresh() {
	cat "$FIX/$2" >"$T/$1"
	F=$T/$1
}

resolve() {
	"$A" resolve -p "$2" "$1" "$3" 2>&1
}

# ---- bind ----------------------------------------------------------------------------

fresh z.toml Zlib_jll.toml
ok "bind a new platform: 0" exit_is 0 "$A" bind "$F" Zlib "$H1" -p x86_64-linux-gnu-cxx11 \
	--url https://example.org/z.tar.gz --sha256 "$S1" --size 1234
ok "bind prints nothing" test ! -s "$T/out"
is "resolve picks it for its platform" "$(resolve "$F" x86_64-linux-gnu-cxx11 Zlib)" "$H1"
is "... not for plain x86_64-linux-gnu" "$(resolve "$F" x86_64-linux-gnu Zlib)" "$ZLIB_X86"
is "... not for aarch64-linux-gnu" "$(resolve "$F" aarch64-linux-gnu Zlib)" "$ZLIB_AARCH64"
ok "the old text is a prefix of the new file" sh -c \
	"head -c $(stat -c %s "$FIX/Zlib_jll.toml") '$F' | cmp - '$FIX/Zlib_jll.toml'"
ok "the download with its size" sh -c "'$A' resolve --json -p x86_64-linux-gnu-cxx11 '$F' Zlib |
	grep -q '\"size\": 1234'"

cp "$F" "$T/before"
ok "bind an existing platform: 4" exit_is 4 "$A" bind "$F" Zlib "$H2" -p x86_64-linux-gnu
ok "the message says it exists" grep -q "already exists" "$T/err"
ok "file unchanged" cmp "$F" "$T/before"
ok "--force: 0" exit_is 0 "$A" bind --force --lazy "$F" Zlib "$H2" -p x86_64-linux-gnu \
	--url https://m1/z.tgz --sha256 "$S2" --url https://m2/z.tgz --sha256 "$S1"
is "resolve picks the new hash" "$(resolve "$F" x86_64-linux-gnu Zlib)" "$H2"
is "the cxx11 entry stays" "$(resolve "$F" x86_64-linux-gnu-cxx11 Zlib)" "$H1"
is "aarch64 unaffected" "$(resolve "$F" aarch64-linux-gnu Zlib)" "$ZLIB_AARCH64"
ok "lazy and two mirrors, sha256 lowercased" sh -c "'$A' resolve --json -p x86_64-linux-gnu \
	'$F' Zlib | grep '\"lazy\": true' | grep -q '$(echo "$S2" | tr A-F a-f)'"

fresh m.toml MozillaCACerts_jll.toml
ok "bind an existing platform-independent name: 4" exit_is 4 "$A" bind "$F" MozillaCACerts "$H1"
ok "--force replaces it" exit_is 0 "$A" bind -f "$F" MozillaCACerts "$H1"
is "any platform resolves it" "$(resolve "$F" aarch64-apple-darwin MozillaCACerts)" "$H1"
ok "a new file is created" exit_is 0 "$A" bind "$T/new.toml" thing "$H1"
is "its content" "$(cat "$T/new.toml")" "[thing]
git-tree-sha1 = \"$H1\""

# ---- usage and malformed input ------------------------------------------------------------

ok "--help: 0" exit_is 0 "$A" bind --help
ok "--help prints usage" grep -q "^usage: .*bind" "$T/out"
ok "no arguments: 64" exit_is 64 "$A" bind
ok "a bad hash: 64" exit_is 64 "$A" bind "$F" x 1234
ok "--sha256 without --url: 64" exit_is 64 "$A" bind "$F" x "$H1" --sha256 "$S1"
# without --sha256 the URL is downloaded (t0615): one that is no URL is a usage error
ok "--url that is not a URL, without --sha256: 64" exit_is 64 "$A" bind "$F" x "$H1" --url u
ok "a bad sha256: 64" exit_is 64 "$A" bind "$F" x "$H1" --url u --sha256 abc
ok "a bad size: 64" exit_is 64 "$A" bind "$F" x "$H1" --url u --sha256 "$S1" --size -1
ok "an unknown option: 64" exit_is 64 "$A" bind --frob "$F" x "$H1"
ok "a bad triplet: 2" exit_is 2 "$A" bind -p x86_64-w32-mingw64 "$F" x "$H1"
printf '[x\n' >"$T/bad.toml"
ok "a malformed file: 2" exit_is 2 "$A" bind "$T/bad.toml" x "$H1"
ok "the message has file:line" grep -q "bad.toml:1:" "$T/err"
is "the malformed file is unchanged" "$(cat "$T/bad.toml")" "[x"
ok "a directory: 1" exit_is 1 "$A" bind "$T" x "$H1"
ok "a missing directory: 1" exit_is 1 "$A" bind "$T/no/such.toml" x "$H1"

# ---- unbind ------------------------------------------------------------------------------------

fresh u.toml Zlib_jll.toml
ok "unbind one platform: 0" exit_is 0 "$A" unbind "$F" Zlib -p aarch64-linux-gnu
ok "resolve no longer matches aarch64-linux-gnu: 3" exit_is 3 "$A" resolve -p aarch64-linux-gnu \
	"$F" Zlib
is "x86_64 unaffected" "$(resolve "$F" x86_64-linux-gnu Zlib)" "$ZLIB_X86"
ok "unbind it again: 3" exit_is 3 "$A" unbind "$F" Zlib -p aarch64-linux-gnu
ok "unbind an unknown name: 3" exit_is 3 "$A" unbind "$F" nope
ok "unbind in a missing file: 1" exit_is 1 "$A" unbind "$T/missing.toml" Zlib
ok "unbind in a malformed file: 2" exit_is 2 "$A" unbind "$T/bad.toml" x
ok "unbind without NAME: 64" exit_is 64 "$A" unbind "$F"
ok "unbind the name: 0" exit_is 0 "$A" unbind "$F" Zlib
ok "resolve: unknown name, 3" exit_is 3 "$A" resolve -p x86_64-linux-gnu "$F" Zlib
is "the file is empty" "$(stat -c %s "$F")" 0

# ---- add-mirror --------------------------------------------------------------------------------

fresh am.toml Zlib_jll.toml
ok "add-mirror on an array name without --platform: 64" \
	exit_is 64 "$A" add-mirror "$F" Zlib https://mirror.example/z.tar.gz
ok "add-mirror for one platform: 0" \
	exit_is 0 "$A" add-mirror "$F" Zlib https://mirror.example/z.tar.gz -p x86_64-linux-gnu
ok "the entry has the mirror with the same sha256" "$PYTHON3" -c '
import json, subprocess, sys
j = json.loads(subprocess.check_output([sys.argv[1], "resolve", "--json", "-p",
    "x86_64-linux-gnu", sys.argv[2], "Zlib"]))
d = j["downloads"]
assert len(d) == 2 and d[1]["url"] == "https://mirror.example/z.tar.gz", d
assert d[0]["sha256"] == d[1]["sha256"], d
' "$A" "$F"
is "the hash is unchanged" "$(resolve "$F" x86_64-linux-gnu Zlib)" "$ZLIB_X86"
ok "add-mirror with a conflicting --sha256: 2" exit_is 2 "$A" add-mirror --sha256 "$S1" \
	-p x86_64-linux-gnu "$F" Zlib https://other/z.tar.gz
ok "add-mirror for an unknown name: 3" exit_is 3 "$A" add-mirror "$F" nope https://x
ok "add-mirror for a platform without an entry: 3" \
	exit_is 3 "$A" add-mirror -p x86_64-linux-gnu-cxx11 "$F" Zlib https://x
ok "add-mirror in a missing file: 1" exit_is 1 "$A" add-mirror "$T/missing.toml" Zlib https://x
ok "add-mirror without URL: 64" exit_is 64 "$A" add-mirror "$F" Zlib
"$A" bind "$F" bare "$H1" >/dev/null 2>&1
ok "add-mirror to an entry without downloads: 64 (needs --sha256)" \
	exit_is 64 "$A" add-mirror "$F" bare https://m/b.tgz
ok "... with --sha256: 0" exit_is 0 "$A" add-mirror --sha256 "$S1" "$F" bare https://m/b.tgz

# ---- concurrent binds through the CLI ---------------------------------------------------------

fresh c.toml Zlib_jll.toml
for p in 1 2 3 4 5 6 7 8; do
	(
		for i in $(seq 1 20); do
			"$A" bind "$F" "p${p}_$i" "$H1" --url "https://x/$p/$i" --sha256 "$S1" || exit 1
		done
	) &
done
wait
names=$(grep -c '^\[p[0-9]*_[0-9]*\]$' "$F")
is "8 processes x 20 binds: all 160 names present" "$names" 160
ok "the file still resolves Zlib" test "$(resolve "$F" x86_64-linux-gnu Zlib)" = "$ZLIB_X86"
ok "and every new name" sh -c "for p in 1 2 3 4 5 6 7 8; do for i in \$(seq 1 20); do
	'$A' resolve -p x86_64-linux-gnu '$F' p\${p}_\$i >/dev/null || exit 1; done; done"

done_testing
