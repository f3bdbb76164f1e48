#!/bin/sh
# t0200-treehash-git.sh - artifactctl hash against git itself on random trees,
# and the exit codes of artifactctl hash.
#
# T0200_SEED=N reproduces a run (tree i uses seed N+i); T0200_TREES sets the
# number of random trees (default 30).
. "$TESTS_SRCDIR/lib.sh"

need_artifactctl

GIT=${GIT:-}
PYTHON3=${PYTHON3:-}
[ -n "$GIT" ] && [ -x "$GIT" ] || GIT=$(command -v git 2>/dev/null || true)
[ -n "$PYTHON3" ] && [ -x "$PYTHON3" ] || PYTHON3=$(command -v python3 2>/dev/null || true)

# ---- the command line ---------------------------------------------------------

ok "hash --help exits 0" exit_is 0 "$ARTIFACTCTL" hash --help
ok "hash --help prints usage on stdout" grep -q "^usage: .*hash" "$TEST_TMP/out"
ok "hash with a bad option exits 64" exit_is 64 "$ARTIFACTCTL" hash --no-such-option .
ok "hash without DIR exits 64" exit_is 64 "$ARTIFACTCTL" hash
ok "hash with two DIRs exits 64" exit_is 64 "$ARTIFACTCTL" hash . .
ok "hash of a missing dir exits 1" exit_is 1 "$ARTIFACTCTL" hash "$TEST_TMP/missing"
ok "the message names the path and the cause" \
	grep -qF "'$TEST_TMP/missing': No such file or directory" "$TEST_TMP/err"
printf 'x' >"$TEST_TMP/file.tar.gz"
ok "hash of a regular file exits 1" exit_is 1 "$ARTIFACTCTL" hash "$TEST_TMP/file.tar.gz"
ok "a file that is not a tarball is refused, naming it" \
	grep -qF "cannot hash '$TEST_TMP/file.tar.gz'" "$TEST_TMP/err"

mkdir -p "$TEST_TMP/v/e/inner"
printf 'Hello, world!' >"$TEST_TMP/v/foo"
chmod 644 "$TEST_TMP/v/foo"
is "hash of the spec's foo tree with an empty dir" \
	"$("$ARTIFACTCTL" hash "$TEST_TMP/v")" 339aad93c0f854604248ea3b7c5b7edea20625a9
is "--keep-empty keeps e/inner/" \
	"$("$ARTIFACTCTL" hash --keep-empty "$TEST_TMP/v")" e9ea92c6bf62f379c60280ddf00712ba09c6cb16
ln -s "sch$(printf '\303\266')n" "$TEST_TMP/v/link"
rm -r "$TEST_TMP/v/e" "$TEST_TMP/v/foo"
is "symlink to schön" "$("$ARTIFACTCTL" hash "$TEST_TMP/v")" \
	289b9713bf8902fbd0688b0ca5584ec4cf08fdc9
is "--legacy-symlinks counts characters" \
	"$("$ARTIFACTCTL" hash --legacy-symlinks "$TEST_TMP/v")" \
	23b444ffcdb0f0581971360378088dbaf47c011e

# Root reads everything: as root, run the check as nobody.
as_user=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chmod 755 "$TEST_TMP"
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
	mkdir "$TEST_TMP/locked"
	printf x >"$TEST_TMP/locked/f"
	chmod 000 "$TEST_TMP/locked/f"
	# a copy the other user can reach wherever the build tree lives
	cp "$ARTIFACTCTL" "$TEST_TMP/artifactctl" && chmod 755 "$TEST_TMP/artifactctl"
	ok "an unreadable file exits 1" exit_is 1 $as_user "$TEST_TMP/artifactctl" hash "$TEST_TMP/locked"
	ok "the message names the unreadable file" \
		grep -qF "'$TEST_TMP/locked/f': Permission denied" "$TEST_TMP/err"
	chmod 644 "$TEST_TMP/locked/f"
else
	skip "an unreadable file exits 1" "running as root without setpriv"
fi

# ---- random trees against git ---------------------------------------------------

if [ -z "$GIT" ]; then
	skip "random trees against git" "git not found"
	done_testing
	exit
fi
if [ -z "$PYTHON3" ]; then
	skip "random trees against git" "python3 not found"
	done_testing
	exit
fi

# git with no user or system configuration, symlinks and exec bits honoured
export HOME="$TEST_TMP" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE 2>/dev/null || true
git_tree() {
	GIT_DIR="$2" GIT_WORK_TREE="$1" "$GIT" init -q "$2" >/dev/null &&
	GIT_DIR="$2" GIT_WORK_TREE="$1" "$GIT" -c core.fileMode=true -c core.symlinks=true \
		-c core.autocrlf=false -c core.safecrlf=false add -A -f &&
	GIT_DIR="$2" GIT_WORK_TREE="$1" "$GIT" write-tree
}

seed=${T0200_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
trees=${T0200_TREES:-30}
echo "# T0200_SEED=$seed (set it to reproduce this run)"
i=1
while [ "$i" -le "$trees" ]; do
	dir="$TEST_TMP/tree$i"
	extra=
	[ $((i % 2)) -eq 0 ] && extra=--empty-dirs
	what="seed $((seed + i))${extra:+, $extra}"
	if ! "$PYTHON3" "$TESTS_SRCDIR/treehash-random.py" --seed $((seed + i)) $extra \
		"$dir" >/dev/null 2>"$TEST_TMP/gen.err"; then
		is "random tree $i ($what) generated" "$(cat "$TEST_TMP/gen.err")" ""
		i=$((i + 1))
		continue
	fi
	want=$(git_tree "$dir" "$TEST_TMP/repo$i.git" 2>&1)
	got=$("$ARTIFACTCTL" hash "$dir" 2>&1)
	is "random tree $i ($what) matches git write-tree" "$got" "$want"
	# The same tree as a tarball, hashed from the stream without extracting.
	if [ $((i % 3)) -eq 0 ] && tar -C "$dir" --sort=name -cf - . 2>/dev/null |
		gzip -c >"$TEST_TMP/t$i.tar.gz"; then
		set -- $("$ARTIFACTCTL" hash "$TEST_TMP/t$i.tar.gz" 2>&1)
		is "random tree $i as .tar.gz: tree hash from the stream" "${1:-}" "$want"
		is "random tree $i as .tar.gz: sha256 of the tarball" "${2:-}" \
			"$(sha256sum "$TEST_TMP/t$i.tar.gz" | cut -c1-64)"
		rm -f "$TEST_TMP/t$i.tar.gz"
	fi
	rm -rf "$dir" "$TEST_TMP/repo$i.git"
	i=$((i + 1))
done

done_testing
