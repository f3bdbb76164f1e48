#!/bin/sh
# t0400-fetch.sh - artifactctl fetch installs real artifacts byte for byte.
#
# Artifacts made of real files of this machine (tests/tarballs.py realfiles),
# each in every compression, served by the loopback server (tests/server):
# the installed tree must equal the source tree (bytes, exec bits, symlinks,
# empty directories), files read-only, at <store>/artifacts/<git-tree-sha1>;
# a second fetch sends no request; ls and verify see it.  Then file:// URLs,
# lazy entries and mirrors.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

fetch_test_init
serve_realfiles

names=$(json_get "$MF" artifacts)
comps=$(json_get "$MF" compressions)
have_store_cmds

# ls_has STORE HASH: "artifactctl ls --json" lists HASH.
ls_has() {
	timeout 60 "$ARTIFACTCTL" ls --store "$1" --json >"$T/ls.out" 2>&1 || {
		cat "$T/ls.out"
		return 1
	}
	grep -q "$2" "$T/ls.out" || {
		echo "hash $2 not in:"
		cat "$T/ls.out"
		return 1
	}
}

# verify_ok STORE HASH: "artifactctl verify" exits 0 and says "HASH ok".
verify_ok() {
	timeout 120 "$ARTIFACTCTL" verify --store "$1" >"$T/verify.out" 2>&1
	_vr=$?
	cat "$T/verify.out"
	[ "$_vr" -eq 0 ] && grep -qx "$2 ok" "$T/verify.out"
}

# suffix C: the file name suffix of compression C.
suffix() {
	case $1 in
	tar) echo .tar ;;
	*) echo ".tar.$1" ;;
	esac
}

for c in $comps; do
	"$PYTHON3" "$TARBALLS" toml "$ART" "$SERVER_URL" --compression "$c" --split "$T/toml-$c" ||
		bail_out "tarballs.py toml --compression $c failed"
done
for n in $names; do
	hash=$(json_get "$MF" artifacts "$n" git-tree-sha1)
	for c in $comps; do
		file=$n$(suffix "$c")
		S=$T/store-$n-$c
		TOML=$T/toml-$c/$n.toml
		server_reset
		fetch_run "f-$n-$c" --store "$S" "$TOML"
		is "$file: fetch exits 0" "$rc" 0
		[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/f-$n-$c.err"
		is "$file: prints '<name> <store>/artifacts/<hash>'" \
			"$(cat "$T/f-$n-$c.out")" "$n $S/artifacts/$hash"
		ok "$file: installed tree equals the source tree" \
			tree_equal "$ART/src/$n" "$S/artifacts/$hash"
		is "$file: one GET of the tarball" "$(server_stat GET "/$file")" 1
		ok "$file: tmp/ is empty" dir_empty "$S/tmp"
		is "$file: nothing else in artifacts/" "$(ls "$S/artifacts")" "$hash"

		server_reset
		fetch_run "g-$n-$c" --store "$S" "$TOML"
		is "$file: second fetch exits 0" "$rc" 0
		is "$file: second fetch prints the same path" \
			"$(cat "$T/g-$n-$c.out")" "$n $S/artifacts/$hash"
		is "$file: second fetch sends no request" \
			"$(server_total GET) GET, $(server_total HEAD) HEAD" "0 GET, 0 HEAD"

		if [ "$have_ls" = yes ]; then
			ok "$file: ls --json lists it" ls_has "$S" "$hash"
		else
			skip "$file: ls --json lists it" "artifactctl ls not implemented yet"
		fi
		if [ "$have_verify" = yes ]; then
			ok "$file: verify passes ('<hash> ok')" verify_ok "$S" "$hash"
		else
			skip "$file: verify passes" "artifactctl verify not implemented yet"
		fi
	done
done

# What the trees are for: run a tool, follow the library symlinks.
h_tools=$(json_get "$MF" artifacts tools git-tree-sha1)
for f in "$ART/src/tools/bin"/*; do
	case ${f##*/} in
	alias-*) ;;
	*) tool=${f##*/} && break ;;
	esac
done
ok "an installed executable runs (bin/$tool)" "$T/store-tools-gz/artifacts/$h_tools/bin/$tool" --version
h_zlib=$(json_get "$MF" artifacts zlib git-tree-sha1)
is "lib/libz.so.1 is the same symlink" \
	"$(readlink "$T/store-zlib-gz/artifacts/$h_zlib/lib/libz.so.1")" \
	"$(readlink "$ART/src/zlib/lib/libz.so.1")"
h_docs=$(json_get "$MF" artifacts docs git-tree-sha1)
ok "empty directories are extracted (docs/empty/nested)" test -d "$T/store-docs-gz/artifacts/$h_docs/empty/nested"

# verify must be able to fail: change one byte of an installed file.
if [ "$have_verify" = yes ]; then
	S=$T/store-zlib-tar
	f=$S/artifacts/$h_zlib/include/zlib.h
	chmod u+w "$f" && printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
	chmod a-w "$f"
	timeout 120 "$ARTIFACTCTL" verify --store "$S" >"$T/verify-bad.out" 2>&1
	is "verify exits 1 on a changed file" "$?" 1
	ok "verify says '<hash> MISMATCH'" grep -qx "$h_zlib MISMATCH" "$T/verify-bad.out"
	ok "verify moved the tree out of artifacts/" test ! -e "$S/artifacts/$h_zlib"
	# a row whose tree is gone (a removal killed between the two)
	S=$T/store-docs-gz
	chmod -R u+w "$S/artifacts/$h_docs" && rm -rf "$S/artifacts/$h_docs"
	timeout 120 "$ARTIFACTCTL" verify --store "$S" >"$T/verify-gone.out" 2>"$T/verify-gone.err"
	is "verify exits 1 on an indexed tree that is gone" "$?" 1
	ok "verify says '<hash> MISSING'" grep -qx "$h_docs MISSING" "$T/verify-gone.out"
	ok "... and explains it" grep -q "indexed as installed but its tree is gone" "$T/verify-gone.err"
else
	skip "verify fails on a changed file" "artifactctl verify not implemented yet"
fi

# file:// URLs: the same trees, and the server sees nothing.
S=$T/store-file
toml file-urls "file://$ART" --compression xz
server_reset
fetch_run file --store "$S" "$TOML"
is "file://: fetch of every artifact exits 0" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/file.err"
for n in $names; do
	hash=$(json_get "$MF" artifacts "$n" git-tree-sha1)
	ok "file://: $n installed" tree_equal "$ART/src/$n" "$S/artifacts/$hash"
	ok "file://: $n printed" grep -qx "$n $S/artifacts/$hash" "$T/file.out"
done
is "file://: no request reached the server" "$(server_total GET)" 0

# Lazy entries: skipped unless named or --include-lazy.
S=$T/store-lazy
toml lazy "$SERVER_URL" --lazy docs --lazy small
server_reset
fetch_run lazy1 --store "$S" "$TOML"
is "lazy: fetch without names exits 0" "$rc" 0
is "lazy: only the eager artifacts are printed" "$(cut -d' ' -f1 "$T/lazy1.out" | LC_ALL=C sort | tr '\n' ' ')" "tools zlib "
is "lazy: no GET of a lazy tarball" "$(server_stat GET /docs.tar.gz)$(server_stat GET /small.tar.gz)" 00
ok "lazy: docs not installed" test ! -e "$S/artifacts/$h_docs"
fetch_run lazy2 --store "$S" "$TOML" docs
is "lazy: fetch naming a lazy artifact exits 0" "$rc" 0
is "lazy: it is printed" "$(cat "$T/lazy2.out")" "docs $S/artifacts/$h_docs"
ok "lazy: it is installed" tree_equal "$ART/src/docs" "$S/artifacts/$h_docs"
h_small=$(json_get "$MF" artifacts small git-tree-sha1)
if fetch_has --include-lazy; then
	fetch_run lazy3 --store "$S" --include-lazy "$TOML"
	is "lazy: --include-lazy exits 0" "$rc" 0
	is "lazy: --include-lazy prints all four" "$(wc -l <"$T/lazy3.out" | tr -d ' ')" 4
	ok "lazy: --include-lazy installed small" tree_equal "$ART/src/small" "$S/artifacts/$h_small"
else
	skip "lazy: --include-lazy" "no --include-lazy in 'artifactctl fetch --help'"
fi

# Mirrors: the first URL answers 404, the second one is used.
S=$T/store-mirror
toml mirror "$SERVER_URL" --mirror-before "$SERVER_URL/404" --only zlib
server_reset
fetch_run mirror --store "$S" "$TOML"
is "mirrors: fetch exits 0" "$rc" 0
is "mirrors: the 404 mirror was asked once" "$(server_stat GET /404/zlib.tar.gz)" 1
is "mirrors: then the good one, once" "$(server_stat GET /zlib.tar.gz)" 1
ok "mirrors: installed" tree_equal "$ART/src/zlib" "$S/artifacts/$h_zlib"

# Several installs fail at once (--jobs 2): exit 1, each failure named, and
# the names listed again at the end.
S=$T/store-allfail
toml allfail "$SERVER_URL/404"
fetch_run allfail --store "$S" --jobs 2 "$TOML"
is "failures: fetch exits 1" "$rc" 1
for n in $names; do
	ok "failures: '$n' in the closing list" grep -q "artifacts failed:.* '$n'" "$T/allfail.err"
done

# Exit statuses: a name not in the file, a malformed file.
fetch_run noname --store "$S" "$TOML" no-such-name
is "a name not in the file exits 3" "$rc" 3
printf '[zlib\ngit-tree-sha1 = 1\n' >"$T/bad.toml"
fetch_run badtoml --store "$S" "$T/bad.toml"
is "a malformed Artifacts.toml exits 2" "$rc" 2

stop_test_server
is "the test server stopped cleanly" "$?" 0
done_testing
