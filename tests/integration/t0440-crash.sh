#!/bin/sh
# t0440-crash.sh - a fetch killed at any point loses nothing and shows nothing.
#
# ARTIFACTFS_CRASH_AT=<point> makes artifactctl raise(SIGKILL) at that point
# of the pipeline (fetch.h: mid-download, mid-unpack; store.h:
# install-begin, before-rename, after-rename, reconcile).  After each crash
# no partial tree may be visible, and the next fetch reconciles:
# tmp/ leftovers removed, a renamed tree without an index row adopted
# without downloading again.  Also a real kill -9 in the middle of a stalled
# download.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

fetch_test_init
serve_realfiles --only zlib --compressions gz

H=$(json_get "$MF" artifacts zlib git-tree-sha1)
F=zlib.tar.gz
TOML=$T/zlib.toml
"$PYTHON3" "$TARBALLS" toml "$ART" "$SERVER_URL" --only zlib -o "$TOML" &&
	"$PYTHON3" "$TARBALLS" toml "$ART" "$SERVER_URL/stall" --only zlib -o "$T/stall.toml" ||
	bail_out "tarballs.py toml failed"

have_store_cmds

# listed STORE: print "yes" when "artifactctl ls --json" lists $H, else "no".
listed() {
	if timeout 60 "$ARTIFACTCTL" ls --store "$1" --json 2>&1 | grep -q "$H"; then
		echo yes
	else
		echo no
	fi
}

# no_partial STORE: artifacts/ holds nothing at all.
no_partial() {
	dir_empty "$1/artifacts" || { ls -la "$1/artifacts"; return 1; }
}

# recovered TAG STORE GETS: a plain fetch succeeds, with GETS downloads.
recovered() {
	server_reset
	fetch_run "$1" --store "$2" "$TOML"
	is "$1: the next fetch exits 0" "$rc" 0
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/$1.err"
	is "$1: it prints the path" "$(cat "$T/$1.out")" "zlib $2/artifacts/$H"
	is "$1: it downloads $3 time(s)" "$(server_stat GET /$F)" "$3"
	ok "$1: the tree is complete" tree_equal "$ART/src/zlib" "$2/artifacts/$H"
	ok "$1: tmp/ is empty" dir_empty "$2/tmp"
	if [ "$have_ls" = yes ]; then
		is "$1: ls lists it" "$(listed "$2")" yes
	else
		skip "$1: ls lists it" "artifactctl ls not implemented yet"
	fi
	if [ "$have_verify" = yes ]; then
		ok "$1: verify passes" timeout 120 "$ARTIFACTCTL" verify --store "$2"
	else
		skip "$1: verify passes" "artifactctl verify not implemented yet"
	fi
}

# crash TAG POINT STORE: a fetch with ARTIFACTFS_CRASH_AT=POINT dies by SIGKILL.
crash() {
	# env(1), not "VAR=x function": a shell may keep such an assignment.
	timeout -k 5 120 env ARTIFACTFS_CRASH_AT="$2" "$ARTIFACTCTL" fetch --store "$3" "$TOML" \
		>"$T/$1.out" 2>"$T/$1.err" </dev/null
	rc=$?
	is "$1: killed by SIGKILL at $2 (status 137)" "$rc" 137
	[ "$rc" -eq 137 ] || sed 's/^/# /' "$T/$1.err"
}

for p in mid-download mid-unpack install-begin before-rename; do
	S=$T/store-$p
	crash "$p" "$p" "$S"
	ok "$p: no partial artifact visible" no_partial "$S"
	if [ "$have_ls" = yes ]; then
		is "$p: ls does not list it" "$(listed "$S")" no
	fi
	recovered "$p" "$S" 1
done

# after-rename: the tree is in place, complete, but has no index row yet.
p=after-rename
S=$T/store-$p
crash "$p" "$p" "$S"
ok "$p: the renamed tree is complete" tree_equal "$ART/src/zlib" "$S/artifacts/$H"
if [ "$have_ls" = yes ]; then
	is "$p: no index row yet (ls does not list it)" "$(listed "$S")" no
fi
# The next fetch adopts the tree (store_open's reconcile): no download.
recovered "$p" "$S" 0

# reconcile itself killed (after removing tmp/ leftovers, before adopting
# trees): the next open finishes the job; still no second download.
S=$T/store-reconcile
crash reconcile-1 after-rename "$S"
crash reconcile-2 reconcile "$S"
ok "reconcile: the renamed tree is still complete" tree_equal "$ART/src/zlib" "$S/artifacts/$H"
recovered reconcile "$S" 0

# An install-begin crash leaves a tmp/ leftover; a crash in reconcile
# happens after it is removed.
S=$T/store-leftover
crash leftover-1 install-begin "$S"
crash leftover-2 reconcile "$S"
ok "reconcile: the tmp/ leftover was removed before the crash" dir_empty "$S/tmp"
recovered leftover "$S" 1

# A real kill -9 while the download stalls (1 KiB, then silence).
S=$T/store-kill
server_reset
"$ARTIFACTCTL" fetch --store "$S" "$T/stall.toml" >"$T/kill.out" 2>"$T/kill.err" </dev/null &
kp=$!
i=0
while [ "$(server_stat GET /stall/$F)" != 1 ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
is "kill -9: the download was under way" "$(server_stat GET /stall/$F)" 1
kill -KILL "$kp" 2>/dev/null
wait "$kp" 2>/dev/null # no "Killed" from the shell
is "kill -9: died by SIGKILL (status 137)" "$?" 137
ok "kill -9: no partial artifact visible" no_partial "$S"
recovered kill "$S" 1

stop_test_server
is "the test server stopped cleanly" "$?" 0
done_testing
