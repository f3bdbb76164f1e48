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
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_fetch
need_prog "${GIT:-git}"

T=$(cd "$TEST_TMP" && pwd -P)
HD=$T/hostile
J=$HD/hostile.json
"$PYTHON3" "$TARBALLS" hostile "$HD" >"$T/gen.log" 2>&1 ||
	bail_out "tarballs.py hostile failed: $(cat "$T/gen.log")"
# The generator checked by a reference reader with Tar.jl's rules: each
# hostile tarball breaks its own rule, each benign one hashes as recorded.
ok "tarballs.py check: the reference reader agrees with hostile.json" \
	"$PYTHON3" "$TARBALLS" check "$HD"
start_test_server "$HD" || bail_out "the test server did not start"

S=$T/store

toml() {
	_t=$1
	shift
	"$PYTHON3" "$TARBALLS" toml "$HD" "$@" -o "$T/toml/$_t.toml" || bail_out "tarballs.py toml $*"
	TOML=$T/toml/$_t.toml
}

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

stop_test_server
is "the test server stopped cleanly" "$?" 0
done_testing
