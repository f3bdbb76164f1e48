#!/bin/sh
# t0430-single-flight.sh - one download per hash, however many ask at once.
#
# 16 "artifactctl fetch" processes start together for the same uncached
# artifact, served through /delay/500/ so that they overlap: exactly one GET
# may reach the server, and all 16 must succeed and print the same path.
# Then two artifacts at once (8 processes each): one GET each.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"

fetch_test_init
serve_realfiles --only zlib --only tools --compressions gz

H=$(json_get "$MF" artifacts zlib git-tree-sha1)
HT=$(json_get "$MF" artifacts tools git-tree-sha1)
"$PYTHON3" "$TARBALLS" toml "$ART" "$SERVER_URL/delay/500" --only zlib -o "$T/zlib.toml" &&
	"$PYTHON3" "$TARBALLS" toml "$ART" "$SERVER_URL/delay/500" --only tools -o "$T/tools.toml" ||
	bail_out "tarballs.py toml failed"

# crowd TAG N TOML STORE: start N fetches of TOML at once, wait for all.
# Each is bounded by timeout(1); outputs in $T/TAG.<i>.{out,err,rc}.
crowd() {
	_pids=
	_i=1
	while [ "$_i" -le "$2" ]; do
		(
			timeout -k 5 120 "$ARTIFACTCTL" fetch --store "$4" "$3" \
				>"$T/$1.$_i.out" 2>"$T/$1.$_i.err" </dev/null
			echo $? >"$T/$1.$_i.rc"
		) &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	for _p in $_pids; do
		wait "$_p"
	done
}

# all_same TAG N WANT: every process exited 0 and printed WANT.
all_same() {
	_bad=0
	_i=1
	while [ "$_i" -le "$2" ]; do
		_rc=$(cat "$T/$1.$_i.rc" 2>/dev/null)
		_out=$(cat "$T/$1.$_i.out" 2>/dev/null)
		if [ "$_rc" != 0 ] || [ "$_out" != "$3" ]; then
			echo "process $_i: status '$_rc', printed '$_out'"
			sed 's/^/    /' "$T/$1.$_i.err"
			_bad=1
		fi
		_i=$((_i + 1))
	done
	return $_bad
}

S=$T/store
server_reset
crowd one 16 "$T/zlib.toml" "$S"
n=$(server_stat GET /delay/500/zlib.tar.gz)
echo "# GET count: $n"
is "16 processes, one artifact: exactly one GET" "$n" 1
ok "all 16 succeed and print the same path" all_same one 16 "zlib $S/artifacts/$H"
ok "the tree is complete" tree_equal "$ART/src/zlib" "$S/artifacts/$H"
ok "tmp/ is empty" dir_empty "$S/tmp"

# Two hashes at once in a fresh store: neither is fetched twice.
S=$T/store2
server_reset
(crowd a 8 "$T/zlib.toml" "$S") &
pa=$!
(crowd b 8 "$T/tools.toml" "$S") &
pb=$!
wait "$pa"
wait "$pb"
na=$(server_stat GET /delay/500/zlib.tar.gz)
nb=$(server_stat GET /delay/500/tools.tar.gz)
echo "# GET count: zlib $na, tools $nb"
is "8 + 8 processes, two artifacts: one GET of zlib" "$na" 1
is "8 + 8 processes, two artifacts: one GET of tools" "$nb" 1
ok "the 8 zlib fetches succeed with the same path" all_same a 8 "zlib $S/artifacts/$H"
ok "the 8 tools fetches succeed with the same path" all_same b 8 "tools $S/artifacts/$HT"
ok "zlib complete" tree_equal "$ART/src/zlib" "$S/artifacts/$H"
ok "tools complete" tree_equal "$ART/src/tools" "$S/artifacts/$HT"
ok "tmp/ is empty" dir_empty "$S/tmp"

stop_test_server
is "the test server stopped cleanly" "$?" 0
done_testing
