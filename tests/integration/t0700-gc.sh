#!/bin/sh
# t0700-gc.sh - artifactctl gc and artifactctl root (spec §5, Pkg.gc).
#
# Roots keep every entry of their file (all platforms, lazy ones); an
# unrooted artifact is marked orphaned and goes only after the grace period;
# --dry-run changes nothing; --max-freed stops early; --depot reads a Julia
# depot's usage logs in their real formats (Manifest.toml 2.0 and 1.0,
# packages/<name>/<slug> found with Base.version_slug, developed paths);
# a missing or malformed root is reported and skipped; two gc at once are
# refused; gc races 8 fetches without losing an artifact; a gc killed in
# the middle (crash point gc-after-rename) leaves a store that opens
# cleanly; single files of partial/ go once unused for the grace period.  Pins through a real mount are tested with the daemon (t05xx).
#
# Artifacts: zlib, small and tools from tarballs.py, and tiny ones (g1...)
# made here with tar(1) and hashed with "artifactctl hash"; served over
# file:// or, where fetches must overlap a gc, by the test server with a
# delay.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_fetch
need_prog "${GIT:-git}"
need_prog tar
need_prog sha256sum
have_cmd gc || skip_all "'artifactctl gc' is not implemented yet"
have_cmd root || skip_all "'artifactctl root' is not implemented yet"
have_cmd ls || skip_all "'artifactctl ls' is not implemented yet"

T=$(cd "$TEST_TMP" && pwd -P)
ART=$T/art
export ARTIFACTFS_UNSAFE_NO_FSYNC=1	# fsync proves nothing here and costs seconds
unset ARTIFACTFS_STORE

"$PYTHON3" "$TARBALLS" realfiles "$ART" --only zlib --only small --only tools \
	--compressions gz >"$T/gen.log" 2>&1 ||
	bail_out "tarballs.py realfiles failed: $(cat "$T/gen.log")"
"$PYTHON3" "$TARBALLS" toml "$ART" "file://$ART" --split "$T/toml" >"$T/gen.log" 2>&1 ||
	bail_out "tarballs.py toml failed: $(cat "$T/gen.log")"
MF=$ART/manifest.json
ZLIB=$(json_get "$MF" artifacts zlib git-tree-sha1)
SMALL=$(json_get "$MF" artifacts small git-tree-sha1)
TOOLS=$(json_get "$MF" artifacts tools git-tree-sha1)

# make_art NAME: a tiny artifact: $ART/NAME.tar.gz, its hash in H_NAME and
# its sha256 in S_NAME.
make_art() {
	_d=$ART/src/$1
	mkdir -p "$_d/share/$1" || return 1
	printf '%s\n' "$1" >"$_d/share/$1/name.txt"
	seq 1 200 | sed "s/^/$1 /" >"$_d/share/$1/lines.txt"
	tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
		-C "$_d" -czf "$ART/$1.tar.gz" share || return 1
	eval "H_$1=\$(\"\$ARTIFACTCTL\" hash \"\$_d\")" || return 1
	eval "S_$1=\$(sha256sum \"\$ART/$1.tar.gz\" | cut -d' ' -f1)"
}
for n in g1 g2 g3 g4 g5 g6 g7 g8 g9 g10 g11 g12 g13 g14 g15 g16; do
	make_art "$n" || bail_out "cannot make artifact $n"
done

# one_toml NAME URLPREFIX [lazy]: an Artifacts.toml with NAME alone, on stdout
one_toml() {
	eval "_h=\$H_$1 _s=\$S_$1"
	printf '[%s]\ngit-tree-sha1 = "%s"\n' "$1" "$_h"
	[ "${3:-}" = lazy ] && printf 'lazy = true\n'
	printf '\n    [[%s.download]]\n    sha256 = "%s"\n    url = "%s/%s.tar.gz"\n' \
		"$1" "$_s" "$2" "$1"
}

# platform_entry NAME ART OS ARCH: one [[NAME]] element for artifact ART
platform_entry() {
	eval "_h=\$H_$2 _s=\$S_$2"
	printf '[[%s]]\narch = "%s"\ngit-tree-sha1 = "%s"\nos = "%s"\n' "$1" "$4" "$_h" "$3"
	printf '\n    [[%s.download]]\n    sha256 = "%s"\n    url = "file://%s/%s.tar.gz"\n\n' \
		"$1" "$_s" "$ART" "$2"
}

# listed STORE: the installed hashes, sorted, one per line (ls --json)
listed() {
	"$ARTIFACTCTL" ls --store "$1" --json | "$PYTHON3" -c '
import json, sys
for a in sorted(x["hash"] for x in json.load(sys.stdin)):
    print(a)'
}

# has STORE HASH: "yes" when HASH is installed (listed and its tree there)
has() {
	if listed "$1" | grep -x "$2" >/dev/null && [ -d "$1/artifacts/$2" ]; then
		echo yes
	else
		echo no
	fi
}

# gc_run TAG STORE ARGS...: artifactctl gc; output in $T/TAG.out/.err, status in $rc
gc_run() {
	_tag=$1
	_st=$2
	shift 2
	timeout -k 5 120 "$ARTIFACTCTL" gc --store "$_st" "$@" >"$T/$_tag.out" 2>"$T/$_tag.err" \
		</dev/null
	rc=$?
}

# summary TAG: the last line of the gc report
summary() {
	tail -n 1 "$T/$1.out"
}

# jget TAG KEY: a value of the JSON report of gc run TAG
jget() {
	json_get "$T/$1.out" "$2"
}

# consistent STORE: every listed hash has its tree, every tree is listed,
# and each tree hashes to its name (no partial artifact anywhere)
consistent() {
	listed "$1" >"$T/cons.rows"
	(cd "$1/artifacts" && ls | grep -E '^[0-9a-f]{40}$' | LC_ALL=C sort) >"$T/cons.dirs"
	diff -u "$T/cons.rows" "$T/cons.dirs" || return 1
	while read -r _h; do
		[ "$("$ARTIFACTCTL" hash "$1/artifacts/$_h")" = "$_h" ] ||
			{ echo "tree $_h does not hash to its name"; return 1; }
	done <"$T/cons.dirs"
}

# fetch_ok TAG ARGS...: artifactctl fetch ARGS... succeeds
fetch_ok() {
	_ft=$1
	shift
	fetch_run "$_ft" "$@"
	[ "$rc" -eq 0 ] || { sed 's/^/# /' "$T/$_ft.err"; return 1; }
}

# ---- root add / rm / ls ------------------------------------------------------------

S=$T/s-root
"$ARTIFACTCTL" root add --store "$S" "$T/toml/zlib.toml"
is "root add: exit 0" "$?" 0
"$ARTIFACTCTL" root add --store "$S" "$T/toml" 2>"$T/root-dir.err"
is "root add of a directory without Artifacts.toml: exit 1" "$?" 1
printf '[broken\n' >"$T/broken.toml"
"$ARTIFACTCTL" root add --store "$S" "$T/broken.toml" 2>"$T/root-bad.err"
is "root add of a malformed file: exit 2" "$?" 2
"$ARTIFACTCTL" root add --store "$S" "$T/nope.toml" 2>/dev/null
is "root add of a missing file: exit 1" "$?" 1
cp "$T/toml/small.toml" "$T/gone.toml"
"$ARTIFACTCTL" root add --store "$S" "$T/gone.toml"
rm "$T/gone.toml"
"$ARTIFACTCTL" root ls --store "$S" --json >"$T/root-ls.json"
is "root ls: exit 0" "$?" 0
is "root ls --json: path, last seen, exists" "$("$PYTHON3" -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    print(r["path"].rsplit("/", 1)[1], bool(r["last_seen"]), r["exists"])' "$T/root-ls.json")" \
	"gone.toml True False
zlib.toml True True"
"$ARTIFACTCTL" root ls --store "$S" >"$T/root-ls.txt"
ok "root ls: the missing file is flagged" grep -q "MISSING.*gone.toml" "$T/root-ls.txt"
"$ARTIFACTCTL" root rm --store "$S" "$T/gone.toml"
is "root rm of a file that no longer exists: exit 0" "$?" 0
"$ARTIFACTCTL" root rm --store "$S" "$T/gone.toml" 2>/dev/null
is "root rm of a path that is not a root: exit 1" "$?" 1
"$ARTIFACTCTL" root frob --store "$S" 2>/dev/null
is "root with an unknown subcommand: exit 64" "$?" 64
"$ARTIFACTCTL" gc --store "$S" --grace 5x 2>/dev/null
is "gc --grace 5x: exit 64" "$?" 64
"$ARTIFACTCTL" gc --store "$S" --max-freed lots 2>/dev/null
is "gc --max-freed lots: exit 64" "$?" 64

# ---- roots keep every platform and lazy entry --------------------------------------

S=$T/s-platforms
{
	platform_entry multi g1 linux x86_64
	platform_entry multi g2 macos aarch64
	platform_entry multi g3 windows x86_64
	one_toml g4 "file://$ART" lazy
} >"$T/multi.toml"
ok "fetch for x86_64-linux-gnu" fetch_ok p1 --store "$S" --platform x86_64-linux-gnu "$T/multi.toml"
ok "fetch for aarch64-apple-darwin" fetch_ok p2 --store "$S" --platform aarch64-apple-darwin \
	"$T/multi.toml"
ok "fetch for x86_64-w64-mingw32" fetch_ok p3 --store "$S" --platform x86_64-w64-mingw32 \
	"$T/multi.toml"
ok "fetch the lazy one by name" fetch_ok p4 --store "$S" "$T/multi.toml" g4
ok "fetch zlib" fetch_ok p5 --store "$S" "$T/toml/zlib.toml"
ok "fetch small" fetch_ok p6 --store "$S" "$T/toml/small.toml"
is "the store holds every platform's entry, the lazy one, zlib and small" \
	"$(listed "$S" | wc -l)" 6
gc_run plat1 "$S" --grace 0
is "gc --grace 0 with everything rooted: exit 0" "$rc" 0
is "nothing removed" "$(summary plat1)" "freed 0 bytes in 0 artifacts (6 kept, 0 orphaned, waiting)"
is "all platforms and the lazy entry kept" "$(has "$S" "$H_g1")$(has "$S" "$H_g2")$(has "$S" "$H_g3")$(has "$S" "$H_g4")" \
	yesyesyesyes
"$ARTIFACTCTL" root rm --store "$S" "$T/multi.toml"
gc_run plat2 "$S" --grace 0
is "unrooted: gc --grace 0 exits 0" "$rc" 0
is "the four go at once" "$(grep -c '^removed [0-9a-f]\{40\} ([0-9]* bytes)$' "$T/plat2.out")" 4
ok "the report ends with the total" grep -q \
	'^freed [0-9]* bytes in 4 artifacts (2 kept, 0 orphaned, waiting)$' "$T/plat2.out"
is "zlib and small stay" "$(listed "$S" | tr '\n' ' ')" \
	"$(printf '%s\n%s\n' "$ZLIB" "$SMALL" | LC_ALL=C sort | tr '\n' ' ')"
ok "the store is consistent" consistent "$S"
ok "verify passes" "$ARTIFACTCTL" verify --store "$S"
ok "tmp/ is empty" dir_empty "$S/tmp"

# ---- the grace period ----------------------------------------------------------------

S=$T/s-grace
ok "fetch small" fetch_ok g1f --store "$S" "$T/toml/small.toml"
ok "fetch zlib" fetch_ok g2f --store "$S" "$T/toml/zlib.toml"
"$ARTIFACTCTL" root rm --store "$S" "$T/toml/small.toml"
gc_run grace1 "$S"
is "default grace: exit 0" "$rc" 0
is "default grace: the orphan waits" "$(summary grace1)" \
	"freed 0 bytes in 0 artifacts (1 kept, 1 orphaned, waiting)"
is "default grace: small is still installed" "$(has "$S" "$SMALL")" yes
gc_run grace2 "$S" --json
is "a second run: the orphan time was kept (nothing newly orphaned)" \
	"$(jget grace2 newly_orphaned) $(jget grace2 waiting)" "0 1"
"$ARTIFACTCTL" root add --store "$S" "$T/toml/small.toml"
gc_run grace3 "$S" --json
is "rooted again: kept" "$(jget grace3 kept) $(jget grace3 waiting)" "2 0"
"$ARTIFACTCTL" root rm --store "$S" "$T/toml/small.toml"
gc_run grace4 "$S" --json --grace 1s
is "unrooted again: orphaned anew (the mark was cleared)" \
	"$(jget grace4 newly_orphaned) $(jget grace4 freed_artifacts)" "1 0"
is "--grace 1s: kept within the second" "$(has "$S" "$SMALL")" yes
sleep 1.1
gc_run grace5 "$S" --grace 1s
is "--grace 1s, 1.1 s later: exit 0" "$rc" 0
ok "--grace 1s, 1.1 s later: removed" grep -qx "removed $SMALL ([0-9]* bytes)" "$T/grace5.out"
is "small is gone" "$(has "$S" "$SMALL")" no
"$ARTIFACTCTL" root rm --store "$S" "$T/toml/zlib.toml"
gc_run grace6 "$S" --grace 0
ok "--grace 0: a new orphan goes at once" grep -q \
	'^freed [0-9]* bytes in 1 artifacts (0 kept, 0 orphaned, waiting)$' "$T/grace6.out"
ok "the store is empty and consistent" consistent "$S"

# ---- --dry-run and --max-freed ------------------------------------------------------

S=$T/s-dry
for n in zlib small tools; do
	ok "fetch $n" fetch_ok "dry-$n" --store "$S" "$T/toml/$n.toml"
done
"$ARTIFACTCTL" root rm --store "$S" "$T/toml/small.toml" "$T/toml/tools.toml"
mkdir -p "$S/tmp/$H_g9.0123456789abcdef/d" && echo leftover >"$S/tmp/$H_g9.0123456789abcdef/d/f"
mkdir -p "$S/quarantine/$H_g9.1000000000" && echo old >"$S/quarantine/$H_g9.1000000000/f"
"$ARTIFACTCTL" ls --store "$S" --json >"$T/dry-before.json"
"$ARTIFACTCTL" root ls --store "$S" --json >"$T/dry-roots-before.json"
find "$S" | LC_ALL=C sort >"$T/dry-files-before"
gc_run dry1 "$S" --dry-run --grace 0
is "--dry-run: exit 0" "$rc" 0
is "--dry-run: prints what would go" "$(grep -c '^would remove [0-9a-f]\{40\} ([0-9]* bytes)$' "$T/dry1.out")" 2
ok "--dry-run: and the stale tmp/ and quarantine/ entries" grep -q \
	'^would remove 2 stale entries of tmp/ and quarantine/' "$T/dry1.out"
ok "--dry-run: the total" grep -q '^would free [0-9]* bytes in 2 artifacts (1 kept, 0 orphaned, waiting)$' \
	"$T/dry1.out"
"$ARTIFACTCTL" ls --store "$S" --json >"$T/dry-after.json"
ok "--dry-run: ls --json unchanged" cmp "$T/dry-before.json" "$T/dry-after.json"
"$ARTIFACTCTL" root ls --store "$S" --json >"$T/dry-roots-after.json"
ok "--dry-run: the roots unchanged" cmp "$T/dry-roots-before.json" "$T/dry-roots-after.json"
find "$S" | LC_ALL=C sort >"$T/dry-files-after"
ok "--dry-run: no file added or removed" cmp "$T/dry-files-before" "$T/dry-files-after"
gc_run dry2 "$S" --dry-run --json
is "--dry-run wrote no orphan mark (a second dry run finds them new)" \
	"$(jget dry2 newly_orphaned)" 2
gc_run dry3 "$S" --json
is "a real run marks them" "$(jget dry3 newly_orphaned) $(jget dry3 freed_artifacts)" "2 0"
gc_run dry4 "$S" --dry-run --json
is "a dry run reads the marks" "$(jget dry4 newly_orphaned)" 0
gc_run max1 "$S" --grace 0 --max-freed 1 --json
is "--max-freed 1: one artifact goes" "$(jget max1 freed_artifacts) $(jget max1 waiting)" "1 1"
gc_run max2 "$S" --grace 0 --json
is "then the other" "$(jget max2 freed_artifacts) $(jget max2 waiting) $(jget max2 kept)" "1 0 1"
ok "stale tmp/ entries were removed" dir_empty "$S/tmp"
ok "the old quarantined tree was removed" dir_empty "$S/quarantine"
ok "consistent" consistent "$S"

# ---- a missing or malformed root is reported and skipped ---------------------------------

S=$T/s-bad
cp "$T/toml/small.toml" "$T/bad-small.toml"
cp "$T/toml/zlib.toml" "$T/bad-zlib.toml"
ok "fetch small" fetch_ok bad1 --store "$S" "$T/bad-small.toml"
ok "fetch zlib" fetch_ok bad2 --store "$S" "$T/bad-zlib.toml"
{
	printf 'broken = 3\n\n'
	one_toml g13 "file://$ART"
	printf '\n[nohash]\nlazy = true\n'
} >"$T/bad-part.toml"
ok "fetch from a file with malformed names" fetch_ok bad3 --store "$S" "$T/bad-part.toml" g13
printf 'this is = not [valid\n' >"$T/bad-small.toml"
rm "$T/bad-zlib.toml"
gc_run bad4 "$S" --grace 0
is "malformed and missing roots: gc goes on, exit 0" "$rc" 0
ok "the malformed root is reported" grep -q "skipping gc root '$T/bad-small.toml'" "$T/bad4.err"
ok "the missing root is reported" grep -q "gc root '$T/bad-zlib.toml' no longer exists" "$T/bad4.err"
ok "the malformed names are reported" grep -q \
	"gc root '$T/bad-part.toml': artifact 'broken' and others has no valid git-tree-sha1; its other entries are kept" \
	"$T/bad4.err"
is "the good entry of that file is kept" "$(has "$S" "$H_g13")" yes
is "the artifacts of the broken roots were not kept" \
	"$(summary bad4 | sed 's/^freed [0-9]* bytes/freed N bytes/')" \
	"freed N bytes in 2 artifacts (1 kept, 0 orphaned, waiting)"

# ---- --depot: a Julia depot's usage logs -------------------------------------------------

S=$T/s-depot
D=$T/depot
ENV=$T/env
for n in g5 g6 g7 g8 g10 g11 g12; do
	one_toml "$n" "file://$ART" >"$T/$n.toml"
	ok "fetch $n" fetch_ok "dep-$n" --store "$S" "$T/$n.toml"
	"$ARTIFACTCTL" root rm --store "$S" "$T/$n.toml"
done
mkdir -p "$D/logs" "$ENV/v2/dev/MyDev" "$ENV/v1" "$ENV/direct" \
	"$D/packages/JLLWrappers/bkwIo" "$D/packages/JLLWrappers/Zzzzz" \
	"$D/packages/Preferences/BbvxU" "$D/packages/JSON/3rsi"
# artifact_usage.toml: an Artifacts.toml used directly (g5), and one that is gone
one_toml g5 "file://$ART" >"$ENV/direct/Artifacts.toml"
# usage_log [PATH TIME]...: a Pkg usage log, one [["PATH"]] entry used at TIME each
usage_log() {
	while [ $# -ge 2 ]; do
		printf '[["%s"]]\ntime = %s\n\n' "$1" "$2"
		shift 2
	done
}
usage_log "$ENV/direct/Artifacts.toml" 2025-01-02T03:04:05.678Z \
	"$ENV/direct/Artifacts.toml" 2025-01-03T03:04:05.678Z \
	"$T/no-such-env/Artifacts.toml" 2025-01-02T03:04:05.678Z >"$D/logs/artifact_usage.toml"
# manifest_usage.toml: a 2.0 manifest, a 1.0 manifest, and one that is gone
usage_log "$ENV/v2/Manifest.toml" 2025-01-02T03:04:05.678Z \
	"$ENV/v1/Manifest.toml" 2025-01-02T03:04:05.678Z \
	"$T/no-such-env/Manifest.toml" 2025-01-02T03:04:05.678Z >"$D/logs/manifest_usage.toml"
cat >"$ENV/v2/Manifest.toml" <<EOF
# This file is machine-generated - editing it directly is not advised

julia_version = "1.10.4"
manifest_format = "2.0"
project_hash = "0123456789abcdef0123456789abcdef01234567"

[[deps.Artifacts]]
uuid = "56f22d72-fd6d-98f1-02f0-08ddc0907c33"

[[deps.JLLWrappers]]
deps = ["Artifacts", "Preferences"]
git-tree-sha1 = "642a199af8b68253517b80bd3bfd17eb4e84df6e"
uuid = "692b3bcd-3c85-4b1f-b108-f13ce0eb3210"
version = "1.3.0"

[[deps.MyDev]]
path = "dev/MyDev"
uuid = "0b0b0b0b-1111-2222-3333-444444444444"
version = "0.1.0"
EOF
cat >"$ENV/v1/Manifest.toml" <<EOF
# This file is machine-generated - editing it directly is not advised

[[JSON]]
deps = ["Dates", "Mmap", "Parsers", "Unicode"]
git-tree-sha1 = "81690084b6198a2e1da36fcfda16eeca9f9f24e4"
uuid = "682c06a0-de6a-54ab-a142-c8b1cf79cde6"
version = "0.21.1"

[[Preferences]]
deps = ["TOML"]
git-tree-sha1 = "ea79e4c9077208cd3bc5d29631a26bc0cff78902"
uuid = "21216c6a-2e73-6563-6e65-726566657250"
version = "1.2.2"
EOF
# the package dirs, at the slugs Pkg computes (JSON at an old 4-character
# one), a decoy at a wrong slug, a developed package at its path
one_toml g6 "file://$ART" >"$D/packages/JLLWrappers/bkwIo/Artifacts.toml"
one_toml g10 "file://$ART" >"$D/packages/JLLWrappers/Zzzzz/Artifacts.toml"
one_toml g7 "file://$ART" >"$D/packages/Preferences/BbvxU/JuliaArtifacts.toml"
one_toml g8 "file://$ART" >"$D/packages/JSON/3rsi/Artifacts.toml"
one_toml g11 "file://$ART" >"$ENV/v2/dev/MyDev/Artifacts.toml"
gc_run dep1 "$S" --grace 0 --depot "$D" --json
is "--depot: exit 0" "$rc" 0
is "--depot: kept what the logs lead to" \
	"$(has "$S" "$H_g5")$(has "$S" "$H_g6")$(has "$S" "$H_g7")$(has "$S" "$H_g8")$(has "$S" "$H_g11")" \
	yesyesyesyesyes
is "--depot: the decoy at a wrong slug and the unused one went" \
	"$(has "$S" "$H_g10")$(has "$S" "$H_g12")" nono
is "--depot: two removed, five kept" "$(jget dep1 freed_artifacts) $(jget dep1 kept)" "2 5"
is "--depot: the entries whose file is gone are counted" "$(jget dep1 usage_log_missing)" 2
# a malformed usage log is reported and skipped; the gc goes on
printf 'not toml [[[\n' >"$D/logs/manifest_usage.toml"
gc_run dep2 "$S" --grace 0 --depot "$D"
is "--depot with a malformed log: exit 0" "$rc" 0
ok "--depot with a malformed log: reported" grep -q "manifest_usage.toml" "$T/dep2.err"
is "--depot with a malformed log: what it led to is no longer kept" \
	"$(has "$S" "$H_g5")$(has "$S" "$H_g6")$(has "$S" "$H_g7")" yesnono

# ---- two gc at once --------------------------------------------------------------------

S=$T/s-two
ok "fetch small" fetch_ok two1 --store "$S" "$T/toml/small.toml"
mkdir -p "$T/slow-depot/logs"
mkfifo "$T/slow-depot/logs/artifact_usage.toml"
# the first gc holds the gc lock while it waits to read its usage log
"$ARTIFACTCTL" gc --store "$S" --depot "$T/slow-depot" >"$T/two-a.out" 2>"$T/two-a.err" &
gc_pid=$!
# start the second only once the first holds the lock (/proc/locks names it
# by device:inode), or the second may take it first and refuse the first
i=0
while [ "$i" -lt 200 ]; do
	if [ -e "$S/locks/gc.lock" ] &&
		grep -q ":$(stat -c %i "$S/locks/gc.lock") " /proc/locks; then
		break
	fi
	sleep 0.05
	i=$((i + 1))
done
i=0
refused=no
while [ "$i" -lt 100 ]; do
	gc_run two-b "$S"
	if [ "$rc" -eq 1 ] && grep -q "another gc" "$T/two-b.err"; then
		refused=yes
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
is "a second gc is refused while the first runs (exit 1)" "$refused" yes
ok "with a clear message" grep -q "another gc of '.*' is running" "$T/two-b.err"
# an empty log releases the first gc (bounded: a first gc that died has no reader)
timeout 10 sh -c ': >"$1"' sh "$T/slow-depot/logs/artifact_usage.toml"
wait "$gc_pid"
is "the first gc completes" "$?" 0
gc_run two-c "$S"
is "then a new gc runs" "$rc" 0

# ---- gc racing 8 concurrent fetches ------------------------------------------------------

S=$T/s-race
start_test_server "$ART" || bail_out "the test server did not start"
ok "fetch zlib (rooted)" fetch_ok race-zlib --store "$S" "$T/toml/zlib.toml"
ok "fetch tools" fetch_ok race-tools --store "$S" "$T/toml/tools.toml"
"$ARTIFACTCTL" root rm --store "$S" "$T/toml/tools.toml"
ZF=$(cd "$S/artifacts/$ZLIB" && find . -type f | head -n 1)
# a reader of the rooted artifact for as long as the race lasts
(
	while [ ! -e "$T/race.stop" ]; do
		cat "$S/artifacts/$ZLIB/$ZF" >/dev/null || { echo fail >"$T/race.readfail"; break; }
	done
) &
reader=$!
pids=
k=0
for n in g9 g10 g11 g12 g13 g14 g15 g16; do
	k=$((k + 1))
	one_toml "$n" "$SERVER_URL/delay/$((k * 250))" >"$T/race-$n.toml"
	( fetch_run "race-$n" --store "$S" "$T/race-$n.toml"; echo "$rc" >"$T/race-$n.rc" ) &
	pids="$pids $!"
done
# gc --grace 0 over and over until every fetch is done (at most 400 runs)
runs=0
gcfail=0
alive=yes
while [ "$alive" = yes ] && [ "$runs" -lt 400 ]; do
	gc_run "race-gc-$runs" "$S" --grace 0
	[ "$rc" -eq 0 ] || gcfail=$((gcfail + 1))
	runs=$((runs + 1))
	alive=no
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && alive=yes
	done
done
for p in $pids; do
	wait "$p"
done
gc_run race-gc-last "$S" --grace 0
[ "$rc" -eq 0 ] || gcfail=$((gcfail + 1))
touch "$T/race.stop"
wait "$reader"
echo "# $runs gc runs raced the fetches"
ok "gc ran again and again while the fetches ran" [ "$runs" -ge 2 ]
is "every gc exited 0" "$gcfail" 0
allrc=
for n in g9 g10 g11 g12 g13 g14 g15 g16; do
	allrc="$allrc$(cat "$T/race-$n.rc" 2>/dev/null)"
done
is "every fetch exited 0" "$allrc" 00000000
missing=
for n in g9 g10 g11 g12 g13 g14 g15 g16; do
	eval "_h=\$H_$n"
	[ "$(has "$S" "$_h")" = yes ] || missing="$missing $n"
done
is "no artifact lost" "$missing" ""
is "the rooted one stays" "$(has "$S" "$ZLIB")" yes
is "the unrooted one was collected" "$(has "$S" "$TOOLS")" no
ok "the reader never failed" [ ! -e "$T/race.readfail" ]
ok "verify passes" "$ARTIFACTCTL" verify --store "$S"
ok "consistent" consistent "$S"
stop_test_server
is "the test server stopped cleanly" "$?" 0

# ---- kill -9 in the middle of a gc ---------------------------------------------------------

S=$T/s-crash
for n in g1 g2 g3 g4; do
	one_toml "$n" "file://$ART" >"$T/crash-$n.toml"
	ok "fetch $n" fetch_ok "crash-$n" --store "$S" "$T/crash-$n.toml"
done
"$ARTIFACTCTL" root rm --store "$S" "$T/crash-g1.toml" "$T/crash-g2.toml" "$T/crash-g3.toml"
timeout -k 5 120 env ARTIFACTFS_CRASH_AT=gc-after-rename "$ARTIFACTCTL" gc --store "$S" \
	--grace 0 >"$T/crash.out" 2>"$T/crash.err" </dev/null
is "gc killed by SIGKILL at gc-after-rename (status 137)" "$?" 137
ok "no partial artifact under artifacts/" sh -c '
	for d in "$1"/artifacts/*; do
		[ "$("$2" hash "$d")" = "${d##*/}" ] || exit 1
	done' sh "$S" "$ARTIFACTCTL"
ok "the store opens cleanly (root ls)" "$ARTIFACTCTL" root ls --store "$S"
gc_run crash2 "$S" --grace 0
is "a second gc completes" "$rc" 0
ok "verify passes" "$ARTIFACTCTL" verify --store "$S"
ok "ls and the trees agree" consistent "$S"
is "only the rooted artifact is left" "$(listed "$S")" "$H_g4"
ok "tmp/ is empty" dir_empty "$S/tmp"

# ---- partial/ (issue 16): single files unused for the grace period go ---------------------

S=$T/s-crash
old=0123456789abcdef0123456789abcdef01234567
new=89abcdef0123456789abcdef0123456789abcdef
mkdir -p "$S/partial"
printf 'old bytes\n' >"$S/partial/$old"
printf 'new\n' >"$S/partial/$new"
touch -a -d '10 days ago' "$S/partial/$old"
gc_run partial-dry "$S" --grace 7d --dry-run --json
is "gc --dry-run" "$rc" 0
is "dry run: one partial file would go" "$(json_get "$T/partial-dry.out" partial_removed)" 1
is "dry run: its bytes" "$(json_get "$T/partial-dry.out" partial_freed_bytes)" 10
ok "dry run: it is still there" test -e "$S/partial/$old"
gc_run partial "$S" --grace 7d
is "gc" "$rc" 0
ok "the report names it" grep -q "removed 1 single files of partial/ (10 bytes)" "$T/partial.out"
fails "a file unused past the grace went" test -e "$S/partial/$old"
ok "a file used within the grace stays" test -e "$S/partial/$new"

done_testing
