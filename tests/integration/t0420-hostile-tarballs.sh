#!/bin/sh
# t0420-hostile-tarballs.sh - Tar.jl's rejection rules (spec §2.4), end to end.
#
# tests/tarballs.py hostile makes one tarball per rule; each tries to plant
# a file named escape-<case> outside the extraction directory (absolute
# path, deep "../", through a symlink, parser desync) or breaks a rule that
# cannot escape.  Every one must be refused with exit 1 and a message naming
# the rule, leave the store as it was and tmp/ empty, and no escape-* file
# may appear anywhere.  The benign tarballs (absolute and ../.. symlink
# targets, duplicate entries, hardlinks, long names, "./" prefixes) must be
# installed with the tree git computes for the equivalent directory.
# At the end, a hardlink bomb and a gzip bomb (issue 10) are refused by the
# size limits, with and without --max-unpacked, and through a mount with a
# quota.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

fetch_test_init
HD=$T/hostile
ART=$HD	# what toml() reads
J=$HD/hostile.json
tarballs_make hostile "$HD"
# The generator checked by a reference reader with Tar.jl's rules: each
# hostile tarball breaks its own rule, each benign one hashes as recorded.
ok "tarballs.py check: the reference reader agrees with hostile.json" \
	"$PYTHON3" "$TARBALLS" check "$HD"
start_test_server "$HD" || bail_out "the test server did not start"

S=$T/store

# snapshot: what a failed fetch must not change (artifacts/, quarantine/).
snapshot() {
	for d in artifacts quarantine; do
		[ -d "$S/$d" ] && (cd "$S" && find "$d" -printf '%y %m %p %l\n')
	done | LC_ALL=C sort
}

# no_escape: no escape-* file anywhere under $T but in the tarball
# directory.  What is found is reported, then removed, so that the next case
# is judged on its own.
no_escape() {
	_found=$(find "$T" -name 'escape-*' ! -path "$HD/*" 2>/dev/null)
	[ -z "$_found" ] || {
		echo "planted:"
		echo "$_found"
		echo "$_found" | while IFS= read -r _f; do
			chmod -R u+w "$_f" 2>/dev/null
			rm -rf "$_f"
		done
		return 1
	}
}

# names_rule TAG CASE ERE: the messages of fetch TAG match ERE once the
# URL, the paths under $T, the case name and the escape-CASE entry names are
# removed: the words must come from the message, not from the names in it.
names_rule() {
	sed -e "s|$SERVER_URL[^ ]*||g" -e "s|$T[^ ']*||g" -e "s|escape-$2[^' ]*||g" \
		-e "s|$2||g" "$T/$1.err" >"$T/$1.bare"
	grep -Eqi -e "$3" "$T/$1.bare" || {
		echo "no /$3/ in the messages (names removed):"
		cat "$T/$1.bare"
		return 1
	}
}

# A first, benign artifact so the store is not empty.
toml seed "$SERVER_URL" --only benign-dotslash --compression tar
fetch_run seed --store "$S" "$TOML"
is "a benign artifact first (seed of the store)" "$rc" 0
snapshot >"$T/before.snap"

# One line per case: case, rule, message regex, sentinel (tab-separated).
"$PYTHON3" -c '
import json, sys
for c, h in sorted(json.load(open(sys.argv[1]))["hostile"].items()):
    print("\t".join([c, h["rule"], h["match"], h["sentinel"]]))
' "$J" >"$T/cases.tsv" || bail_out "cannot read $J"
"$PYTHON3" "$TARBALLS" toml "$HD" "$SERVER_URL" --compression tar --split "$T/toml-tar" &&
	"$PYTHON3" "$TARBALLS" toml "$HD" "$SERVER_URL" --compression gz --split "$T/toml-gz" ||
	bail_out "tarballs.py toml --split failed"
ign=
fetch_has --ignore-hashes && ign=--ignore-hashes

TAB=$(printf '\t')
for pass in tar gz; do
	while IFS=$TAB read -r c rule match sentinel <&3; do
		if [ "$pass" = tar ]; then
			fetch_run "h-$c" --store "$S" "$T/toml-tar/$c.toml"
			tag="$c ($rule)"
		else
			# Compressed, and with --ignore-hashes: the rule alone must refuse.
			# shellcheck disable=SC2086
			fetch_run "h-$c" --store "$S" $ign "$T/toml-gz/$c.toml"
			tag="$c.tar.gz ${ign:+$ign }($rule)"
		fi
		is "$tag: refused with exit 1" "$rc" 1
		ok "$tag: the message names the rule (/$match/)" names_rule "h-$c" "$c" "$match"
		ok "$tag: no sentinel planted" test ! -e "$sentinel" -a ! -L "$sentinel"
		ok "$tag: no escape-* file anywhere" no_escape
		snapshot >"$T/after.snap"
		ok "$tag: the store is unchanged" diff -u "$T/before.snap" "$T/after.snap"
		ok "$tag: tmp/ is empty" dir_empty "$S/tmp"
	done 3<"$T/cases.tsv"
done

# Benign tarballs: accepted, symlink targets verbatim, trees as git says.
for c in $(json_get "$J" benign); do
	h=$(json_get "$J" benign "$c" git-tree-sha1)
	fetch_run "b-$c" --store "$S" "$T/toml-tar/$c.toml"
	is "$c: accepted" "$rc" 0
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/b-$c.err"
	is "$c: installed at artifacts/<git hash of the equivalent tree>" \
		"$(cat "$T/b-$c.out")" "$c $S/artifacts/$h"
	ok "$c: the tree equals the equivalent tree" tree_equal "$HD/src/$c" "$S/artifacts/$h"
	for l in $(json_get "$J" benign "$c" symlinks); do
		is "$c: symlink $l kept verbatim" "$(readlink "$S/artifacts/$h/$l")" \
			"$(json_get "$J" benign "$c" symlinks "$l")"
	done
	ok "$c: tmp/ is empty" dir_empty "$S/tmp"
done
ok "no escape-* file after the benign ones either" no_escape

# --- Bombs (issue 10, bugs 9 and 11): small tarballs that unpack to a lot -------------
# hardlink-bomb.tar.gz: 17 KB, a 16 MiB file and 100 hardlinks (1.6 GiB);
# gzip-bomb.tar.gz: 0.5 MB, 512 MiB of zeros.  Both have their real tree
# hash and sha256, so only a size limit can refuse them.  Each must fail
# with exit 1 and the limit in the message, and leave the store clean.
BD=$T/bombs
"$PYTHON3" "$TARBALLS" bombs "$BD" --gzip-mib 512 >"$T/bombs.log" 2>&1 ||
	bail_out "tarballs.py bombs failed: $(cat "$T/bombs.log")"
stop_test_server
start_test_server "$BD" || bail_out "the test server did not start"
bomb_toml() {	# bomb_toml TAG NAME [tarballs.py toml option...]
	_t=$1 _n=$2
	shift 2
	"$PYTHON3" "$TARBALLS" toml "$BD" "$SERVER_URL" --only "$_n" "$@" -o "$T/toml/$_t.toml" ||
		bail_out "tarballs.py toml $_n"
	TOML=$T/toml/$_t.toml
}
# store_bytes STORE: bytes under STORE (apparent sizes).
store_bytes() {
	du -sb --apparent-size "$1" | cut -f1
}
# bomb TAG NAME CAUSE-ERE [FETCH-OPTION...] (after --): refused, cause named, store clean.
bomb() {
	_tag=$1 _name=$2 _cause=$3
	shift 3
	fetch_run "$_tag" --store "$T/store-$_tag" "$@" "$TOML"
	is "$_tag: refused with exit 1" "$rc" 1
	ok "$_tag: the message names the limit (/$_cause/)" grep -Eqi -e "$_cause" "$T/$_tag.err"
	[ "$rc" -eq 1 ] || sed 's/^/# /' "$T/$_tag.err"
	ok "$_tag: no artifact" dir_empty "$T/store-$_tag/artifacts"
	ok "$_tag: tmp/ is empty" dir_empty "$T/store-$_tag/tmp"
	ok "$_tag: the store holds under 1 MiB" test "$(store_bytes "$T/store-$_tag")" -lt 1048576
}
bomb_toml hl hardlink-bomb
bomb hl-default hardlink-bomb 'decompression bomb'
if fetch_has --max-unpacked; then
	bomb hl-max hardlink-bomb 'max_unpacked' --max-unpacked 100M
else
	skip "hardlink bomb: --max-unpacked" "no --max-unpacked in 'artifactctl fetch --help'"
fi
bomb_toml gz gzip-bomb
bomb gz-default gzip-bomb 'decompression bomb'
if fetch_has --max-unpacked; then
	bomb gz-max gzip-bomb 'max_unpacked' --max-unpacked 100M
	fetch_run gz-big --store "$T/store-gz-big" --max-unpacked 1G "$TOML"
	is "gzip bomb under an explicit --max-unpacked 1G: installed (the ratio guard is off)" "$rc" 0
	rm -rf "$T/store-gz-big"
else
	skip "gzip bomb: --max-unpacked" "no --max-unpacked in 'artifactctl fetch --help'"
fi
# In place of a 2 MB artifact (size = 2000000 in the entry): at most 200 x 2 MB.
bomb_toml gz2 gzip-bomb-as-2mb --size
bomb gz-as-2mb gzip-bomb-as-2mb 'decompression bomb'

# Through a mount with a quota (under the ratio guard's 64 MiB floor, so the
# quota is what refuses it; over the 16 MiB file, so only the copies can
# exceed it): the hardlink copies count against it.
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && [ -x "${ARTIFACTFS:-}" ]; then
	. "$TESTS_SRCDIR/fuse.sh"
	bomb_toml mnt hardlink-bomb
	MS=$T/store-mnt
	if mount_artifactfs "$T/mnt" -o "store=$MS,toml=$TOML,quota=40M"; then
		ok "mount, quota=40M: the hardlink bomb cannot be read" \
			sh -c '! ls "$1/hardlink-bomb/" >/dev/null 2>&1' sh "$T/mnt"
		ok "mount, quota=40M: nothing installed" dir_empty "$MS/artifacts"
		ok "mount, quota=40M: the store holds under 1 MiB" \
			test "$(store_bytes "$MS")" -lt 1048576
		ok "mount, quota=40M: the log says the quota refused it" \
			grep -q 'unpacked size exceeds the limit of 41943040 bytes' "$TEST_TMP/fs.log"
		unmount_artifactfs
	else
		skip "mount, quota=40M" "mount failed"
	fi
else
	skip "mount, quota=40M" "no FUSE here"
fi

stop_test_server
is "the test server stopped cleanly" "$?" 0
done_testing
