#!/bin/sh
# artifactctl prefetch on a real mount with a real HTTP server: it returns
# at once while the install goes on in the daemon (a trickling download is
# still in flight after it returned), and the artifact is then installed
# without any access; --wait blocks and prints one line per artifact with
# its bytes; --all installs every name; a failing one makes --wait exit 1
# naming the cause; the mount serves the prefetched artifacts without a
# second GET.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test
need_artifactctl

for n in A B C D S F T; do
	mkdir -p "$TEST_TMP/src/$n"
	printf 'artifact %s\n' "$n" >"$TEST_TMP/src/$n/f"
done
head -c 20000 /dev/urandom >"$TEST_TMP/src/S/big"
head -c 20000 /dev/urandom >"$TEST_TMP/src/T/big"
: >"$TEST_TMP/Artifacts.toml"
for n in A B C D S T; do add_src_artifact "$n"; done
start_test_server "$TEST_TMP"
sed -i "s|file://$TEST_TMP/S.tar.gz|$SERVER_URL/trickle/2000/S.tar.gz|; s|file://$TEST_TMP/T.tar.gz|$SERVER_URL/trickle/8000/T.tar.gz|; s|file://$TEST_TMP/|$SERVER_URL/|" \
	"$TEST_TMP/Artifacts.toml"
toml_entry F "$("$ARTIFACTCTL" hash "$TEST_TMP/src/F")" "$(printf '%064d' 0)" \
	"$SERVER_URL/404/F.tar.gz" >>"$TEST_TMP/Artifacts.toml"
hash_of() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
A=$(hash_of A) B=$(hash_of B) S=$(hash_of S)

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,retry_after=0" ||
	skip_all "mount failed"
ctl() { "$ARTIFACTCTL" "$@"; }
installed() { test -d "$store/artifacts/$1"; }

# --- without --wait: the answer comes while the install goes on ------------------------------
ok "prefetch S (a trickling download) returns" exit_is 0 ctl prefetch "$mnt" S
ok "... saying it started" grep -q "^started S ($S)" "$TEST_TMP/out"
inflight() {
	ctl status --json "$mnt" | "$PY" -c 'import json, sys
f = json.load(sys.stdin)["inflight"]
assert any(x["hash"] == sys.argv[1] for x in f)' "$1"
}
ok "... and S is still being installed after it returned" inflight "$S"
ok "... not installed yet" sh -c "! test -e '$store/artifacts/$S'"
ok "prefetch A" exit_is 0 ctl prefetch "$mnt" A
ok "A gets installed without any access" wait_for installed "$A"
is "... with one GET" "$(server_stat GET /A.tar.gz)" 1
is "reading A needs no second GET" "$(cat "$mnt/A/f")" "artifact A"
is "... none" "$(server_stat GET /A.tar.gz)" 1
ok "prefetch of an installed one" exit_is 0 ctl prefetch "$mnt" A
ok "... says so" grep -q "^installed already A ($A)" "$TEST_TMP/out"
server_release /trickle/2000/S.tar.gz

# --- --wait ---------------------------------------------------------------------------------------
ok "prefetch --wait B" exit_is 0 ctl prefetch --wait "$mnt" B
ok "... one line with its bytes, seconds and rate" \
	grep -qE "^installed B \($B\): [0-9.]+ [KMG]?i?B in [0-9.]+ s, [0-9.]+ [KMG]?i?B/s$" "$TEST_TMP/out"
ok "... B is installed when it returns" installed "$B"
ok "--json" exit_is 0 ctl prefetch --wait --json "$mnt" "$B"
is "... result by hash" "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["artifacts"][0]["result"])' "$TEST_TMP/out")" "installed already"

# On a terminal, --wait shows the progress of the install on stderr (script(1) gives the tty).
if command -v script >/dev/null 2>&1; then
	ok "prefetch --wait T on a terminal" script -qec "'$ARTIFACTCTL' prefetch --wait '$mnt' T" \
		"$TEST_TMP/typescript"
	ok "... showed T's bytes and rate on a cleared line" grep -qaE "$(printf '\r\033')\[KT [0-9.]+ [KMG]?i?B [0-9.]+ [KMG]?i?B/s" \
		"$TEST_TMP/typescript"
	ok "... and the final line" grep -qaE "(^|\[K)installed T \(" "$TEST_TMP/typescript"
else
	skip "prefetch --wait on a terminal" "script(1) not installed"
fi

# --- a failing one -----------------------------------------------------------------------------------
ok "prefetch --wait F (404): exit status 1" exit_is 1 ctl prefetch --wait "$mnt" F
ok "... naming the cause" grep -qE "^failed F \([0-9a-f]{40}\): .*404" "$TEST_TMP/out"
ok "an unknown name: exit status 1" exit_is 1 ctl prefetch --wait "$mnt" nothing
ok "... says so" grep -q "^failed nothing: no such name or hash" "$TEST_TMP/out"

# --- --all ----------------------------------------------------------------------------------------------
ok "prefetch --all --wait: exit status 1 (F fails)" exit_is 1 ctl prefetch --all --wait "$mnt"
for n in C D; do
	ok "... installs $n" grep -q "^installed $n (" "$TEST_TMP/out"
	ok "... $n is in the store" installed "$(hash_of "$n")"
done
ok "... A and B were installed already" sh -c 'grep -q "^installed already A" "$1" &&
	grep -q "^installed already B" "$1"' sh "$TEST_TMP/out"
ok "... F failed" grep -q "^failed F (" "$TEST_TMP/out"
is "status counts the installs" "$(ctl status --json "$mnt" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["counters"]["installs"])')" 5
ok "usage: names or --all" exit_is 64 ctl prefetch "$mnt"
ok "usage: not both" exit_is 64 ctl prefetch --all "$mnt" A
done_testing
