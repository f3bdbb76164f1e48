#!/bin/sh
# overrides= (issue 13): a Julia Overrides.toml makes an overridden hash a
# symlink, at the root and in artifacts/ (depot_layout=on), to an absolute
# path or to another hash; a name bound to an overridden hash resolves to
# the override (as in Julia); "" removes an override; a package UUID's
# table is logged as not applicable; an invalid file stops the start with
# its file, line and cause.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_prog tar
need_prog timeout

mkdir -p "$TEST_TMP/src"
for n in libA libB libC; do
	mkdir -p "$TEST_TMP/src/$n/lib"
	printf 'the real %s\n' "$n" >"$TEST_TMP/src/$n/lib/$n.txt"
	add_src_artifact "$n"
done
A=$("$ARTIFACTCTL" hash "$TEST_TMP/src/libA")
B=$("$ARTIFACTCTL" hash "$TEST_TMP/src/libB")
C=$("$ARTIFACTCTL" hash "$TEST_TMP/src/libC")
repl=$TEST_TMP/replacement
mkdir -p "$repl/lib"
echo "the replacement of libA" >"$repl/lib/libA.txt"
uuid=d57dbccd-ca19-4d82-b9b8-9d660942965b
ov=$TEST_TMP/Overrides.toml
upperB=$(echo "$B" | tr a-f A-F)
cat >"$ov" <<EOT
# hash -> absolute path
$A = "$repl"
# hash -> hash, in upper case as Julia accepts it
$upperB = "$(echo "$C" | tr a-f A-F)"
# "" removes an override
$C = ""

[$uuid]
libfoo = "/opt/libfoo"
EOT

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
log=$TEST_TMP/fs.log
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,depot_layout=on,overrides=$ov" || {
	echo "not ok 1 - mount"
	exit 1
}

# --- hash -> path ----------------------------------------------------------------------------
is "an overridden hash is a symlink to its path" "$(readlink "$mnt/$A")" "$repl"
is "... in artifacts/ too" "$(readlink "$mnt/artifacts/$A")" "$repl"
ok "... which Julia's isdir accepts" test -d "$mnt/artifacts/$A"
is "... and serves the replacement" "$(cat "$mnt/artifacts/$A/lib/libA.txt")" \
	"the replacement of libA"
is "a name bound to it resolves to the override" "$(cat "$mnt/libA/lib/libA.txt")" \
	"the replacement of libA"
fails "... and nothing is installed" test -e "$store/artifacts/$A"

# --- hash -> hash ----------------------------------------------------------------------------
is "a hash overridden by a hash is a symlink to the other" "$(readlink "$mnt/$B")" "$C"
is "... in artifacts/ too" "$(readlink "$mnt/artifacts/$B")" "$C"
ok "... serving the other artifact" diff -r "$TEST_TMP/src/libC" "$mnt/artifacts/$B/"
is "a name bound to it resolves to the other artifact" "$(cat "$mnt/libB/lib/libC.txt")" \
	"the real libC"
fails "... which alone is installed" test -e "$store/artifacts/$B"
ok "... (installed)" test -d "$store/artifacts/$C"

# --- "" and UUIDs ------------------------------------------------------------------------------
fails "a hash whose override is removed is no symlink" test -L "$mnt/$C"
ok "... but its artifact" test -d "$mnt/$C"
ok "a package UUID's table is logged as not applied" \
	grep -qF "$ov: the overrides of package $uuid are not applied" "$log"
ok "the overridden hashes are listed in artifacts/" \
	sh -c "ls '$mnt/artifacts' | grep -qx '$A' && ls '$mnt/artifacts' | grep -qx '$B'"
unmount_artifactfs
is "the daemon stops cleanly" "$?" 0

# --- an invalid file stops the start ---------------------------------------------------------
# bad LINE CAUSE: an overrides file ($bad, written before) makes the start fail,
# with "<file>:LINE: ..." and CAUSE on stderr
bad_start() {
	mkdir -p "$TEST_TMP/mnt2"
	timeout 30 "$ARTIFACTFS" -f "$TEST_TMP/mnt2" \
		-o "store=$store,toml=$TEST_TMP/Artifacts.toml,overrides=$bad" \
		</dev/null >"$TEST_TMP/bad.out" 2>&1
	_rc=$?
	is "$2: exit status 1" "$_rc" 1
	ok "... naming $bad:$1" grep -qF "$bad:$1:" "$TEST_TMP/bad.out"
	ok "... and why" grep -qF "$2" "$TEST_TMP/bad.out"
}
bad=$TEST_TMP/bad.toml
printf '# a relative path\n\n%s = "lib/libA"\n' "$A" >"$bad"
bad_start 3 "which is neither an absolute path"
printf '%s = "%s"\n%s = 5\n' "$A" "$repl" "$B" >"$bad"
bad_start 2 "needs a string (a path or a hash), not integer"
printf '\nlibA = "%s"\n' "$repl" >"$bad"
bad_start 2 "'libA' is neither a 40-digit artifact hash nor a package UUID"
printf '[not-a-uuid]\nlibfoo = "/x"\n' >"$bad"
bad_start 1 "table 'not-a-uuid' is not keyed by a package UUID"
printf '[%s]\nlibfoo = "relative"\n' "$uuid" >"$bad"
bad_start 2 "'libfoo' of package $uuid maps to 'relative'"
printf '%s = "%s"\n%s = "%s"\n' "$A" "$B" "$B" "$A" >"$bad"
# the first hash of the chain in sorted order is named
first=2
[ "$(printf '%s\n' "$A" "$B" | LC_ALL=C sort | head -n 1)" = "$A" ] && first=1
bad_start "$first" "by a chain of hashes that leads back to it"
printf '%s = "%s"\n%s = "%s"\n' "$A" "$repl" "$(echo "$A" | tr a-f A-F)" "$repl" >"$bad"
bad_start 2 "is overridden twice"
printf '%s = "unterminated\n' "$A" >"$bad"
bad_start 1 "newline in single-line string"
fails "no mount was left behind" is_mounted "$TEST_TMP/mnt2"

# --- any_hash needs a Pkg server ----------------------------------------------------------------
env -u JULIA_PKG_SERVER timeout 30 "$ARTIFACTFS" -f "$TEST_TMP/mnt2" \
	-o "store=$store,toml=$TEST_TMP/Artifacts.toml,any_hash" </dev/null >"$TEST_TMP/bad.out" 2>&1
is "any_hash without a Pkg server stops the start" "$?" 1
ok "... saying so" grep -qF "any_hash needs a Pkg server" "$TEST_TMP/bad.out"

done_testing
