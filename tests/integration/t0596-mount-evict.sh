#!/bin/sh
# artifactctl evict and wipe on a real mount with a real HTTP server: an
# artifact evicted by name and by hash is removed from the store and the
# next access installs it again (a second GET at the server); an artifact
# a process holds open is refused, naming the process, exit status 6;
# evict --wait removes it once the file is closed; wipe removes the rest
# and names what is held; evict is the owner's only.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"

need_mount_test
need_artifactctl

for n in A B C; do
	mkdir -p "$TEST_TMP/src/$n"
	printf 'artifact %s\n' "$n" >"$TEST_TMP/src/$n/f"
done
: >"$TEST_TMP/Artifacts.toml"
for n in A B C; do add_src_artifact "$n"; done
start_test_server "$TEST_TMP"
sed -i "s|file://$TEST_TMP/|$SERVER_URL/|" "$TEST_TMP/Artifacts.toml"
hash_of() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
A=$(hash_of A) B=$(hash_of B) C=$(hash_of C)

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || skip_all "mount failed"
ctl() { "$ARTIFACTCTL" "$@"; }
installed() { test -d "$store/artifacts/$1"; }
gets() { server_stat GET "/$1.tar.gz"; }

for n in A B C; do ok "read $n (an install)" cat "$mnt/$n/f"; done
is "one GET of A" "$(gets A)" 1

# --- by name, then the next access installs again ------------------------------------------
ok "evict A by name" exit_is 0 ctl evict "$mnt" A
ok "... says so with the hash" grep -q "^removed A ($A)" "$TEST_TMP/out"
ok "... and A is gone from the store" sh -c "! test -e '$store/artifacts/$A'"
ctl status --json "$mnt" >"$TEST_TMP/status.json"
is "... counted in the evictions" "$(json_get "$TEST_TMP/status.json" counters evictions)" 1
is "the content is read again" "$(cat "$mnt/A/f")" "artifact A"
is "... after a second GET at the server" "$(gets A)" 2
ok "A is installed again" installed "$A"

# --- by hash ----------------------------------------------------------------------------------
ok "evict B by its hash" exit_is 0 ctl evict "$mnt" "$B"
ok "... removed" grep -q "^removed $B ($B)" "$TEST_TMP/out"
is "B through its hash directory installs again" "$(cat "$mnt/$B/f")" "artifact B"
is "... with a second GET" "$(gets B)" 2
ok "not installed, unknown name" exit_is 1 ctl evict "$mnt" no-such-name
ok "... says so" grep -q "^unknown no-such-name: no such name or hash" "$TEST_TMP/out"
ok "--json" exit_is 0 ctl evict --json "$mnt" C
is "... result" "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["artifacts"][0]["result"])' "$TEST_TMP/out")" removed
ok "evicting what is not installed is no error" exit_is 0 ctl evict "$mnt" C
ok "... it says so" grep -q "^not installed C" "$TEST_TMP/out"
# The kernel had C/f's attributes for a day: only the invalidation makes a
# stat (no open, which always reaches the daemon) look it up and install C.
ok "a stat of C/f after the eviction" stat "$mnt/C/f"
ok "... reached the daemon: C is installed again" installed "$C"
is "... with a second GET" "$(gets C)" 2

# --- held open by a process ----------------------------------------------------------------
ok "read A" cat "$mnt/A/f"
sleep 600 7<"$mnt/A/f" &
holder=$!
kill_holder() { kill "$holder" 2>/dev/null; }
at_exit kill_holder
ok "evict of an artifact a process holds: exit status 6" exit_is 6 ctl evict "$mnt" A
ok "... names the artifact, the open file and the holder's pid and command" \
	grep -qE "^held A \($A\): files open on the mount, 1 open; held by pid $holder \(sleep\)" "$TEST_TMP/out"
ok "... and A is still installed" installed "$A"
ok "wipe removes the others and names what is held" exit_is 6 ctl wipe "$mnt"
ok "... B removed" grep -q "^removed $B" "$TEST_TMP/out"
ok "... A held by the sleep" grep -q "^held $A .*pid $holder (sleep)" "$TEST_TMP/out"
ok "B is gone" sh -c "! test -e '$store/artifacts/$B'"

# --wait: blocks until the file is closed, then evicts.
asked() { test "$(grep -c "control: evict asked" "$TEST_TMP/fs.log")" -gt "$1"; }
n_asked=$(grep -c "control: evict asked" "$TEST_TMP/fs.log")
ctl evict --wait "$mnt" A >"$TEST_TMP/wait.out" 2>&1 &
waiter=$!
ok "the evict --wait request reached the daemon" wait_for asked "$n_asked"
ok "... it waits while the file is open" kill -0 "$waiter"
ok "... A is still installed" installed "$A"
kill "$holder"
wait "$holder" 2>/dev/null
wait "$waiter"
is "evict --wait ends with status 0 after the close" "$?" 0
ok "... saying A was removed" grep -q "^removed A ($A)" "$TEST_TMP/wait.out"
ok "... and it is gone" sh -c "! test -e '$store/artifacts/$A'"
is "A is read again" "$(cat "$mnt/A/f")" "artifact A"
is "... with a third GET" "$(gets A)" 3

# --- wipe of everything ------------------------------------------------------------------------
ok "read B and C" sh -c "cat '$mnt/B/f' '$mnt/C/f' >/dev/null"
ok "wipe --wait" exit_is 0 ctl wipe --wait "$mnt"
is "... removed 3" "$(grep -c '^removed' "$TEST_TMP/out")" 3
is "the store is empty" "$(ls "$store/artifacts" | wc -l)" 0
is "status counts no installed artifact" "$(ctl status --json "$mnt" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["installed"]["artifacts"])')" 0
is "C is read again" "$(cat "$mnt/C/f")" "artifact C"

# --- the owner only ---------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 0666 "$store/control.sock" 2>/dev/null
	sock=$(ctl status --json "$mnt" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["socket"])')
	chmod 0666 "$sock"
	ok "another user may not evict" exit_is 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$ARTIFACTCTL" evict --socket "$sock" C
	ok "... told so" grep -q "'evict' is for the daemon's owner" "$TEST_TMP/err"
	ok "... C stays" installed "$C"
else
	skip "another user may not evict" "needs root and setpriv"
fi
ok "usage: evict needs a name" exit_is 64 ctl evict "$mnt"
done_testing
