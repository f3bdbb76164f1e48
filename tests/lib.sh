# tests/lib.sh - TAP helpers for the integration tests (git t/test-lib.sh style).
# Source it from a test script; the harness (make check) sets the environment:
# ARTIFACTCTL, TOML_DECODER, TESTS_SRCDIR, TESTS_BUILDDIR, ARTIFACTFS_SHARED,
# GIT, PYTHON3.

set -u

test_count=0
test_failed=0

# A private scratch directory, removed on exit unless ARTIFACTFS_KEEP is set.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/artifactfs-test.XXXXXX")
test_cleanup_hooks=""
test_cleanup() {
	for h in $test_cleanup_hooks; do
		"$h" || true
	done
	# Under valgrind: the reports again, with those of processes that ended
	# after done_testing's check (or all of them, when it did not run).
	if [ -n "${VG_DIR:-}" ] && [ -d "$VG_DIR" ] && [ ! -f "$VG_DIR/failed" ] &&
		! sh "$TESTS_SRCDIR/valgrind.sh" --check "$VG_DIR" "valgrind at exit" >"$VG_DIR/exit.txt"; then
		cat "$VG_DIR/exit.txt"
		echo "Bail out! valgrind errors in a process that ended after the last check"
	fi
	if [ -z "${ARTIFACTFS_KEEP:-}" ]; then
		chmod -R u+w "$TEST_TMP" 2>/dev/null
		rm -rf "$TEST_TMP"
	fi
}
trap test_cleanup EXIT
trap 'exit 1' INT TERM

# Under valgrind (ARTIFACTFS_VALGRIND=1, which make check-valgrind sets):
# ARTIFACTCTL and ARTIFACTFS name wrappers that run the built programs
# through "tests/valgrind.sh --exec" (same pid, signals and exit status),
# every process's report in $TEST_TMP/valgrind.  done_testing adds a check
# that no report holds an error; a process that ends after it (a daemon
# unmounted at exit) is checked at exit, "Bail out!" on an error.
# TEST_SLOW (10 under valgrind, else 1) scales the bounds on waits and
# timeouts: test_time SECONDS prints SECONDS * TEST_SLOW.
TEST_SLOW=1
VG_DIR=
if [ "${ARTIFACTFS_VALGRIND:-0}" != 0 ]; then
	TEST_SLOW=10
	VG_DIR=$TEST_TMP/valgrind
	mkdir -p "$VG_DIR/bin"
	# _vg_quote STRING: STRING single-quoted for sh.
	_vg_quote() {
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
	}
	for _vg_var in ARTIFACTCTL ARTIFACTFS; do
		eval "_vg_bin=\${$_vg_var:-}"
		if [ -z "$_vg_bin" ] || [ ! -x "$_vg_bin" ]; then
			continue
		fi
		_vg_wrap=$VG_DIR/bin/${_vg_bin##*/}
		printf '#!/bin/sh\nexec sh %s --exec %s %s "$@"\n' \
			"$(_vg_quote "$TESTS_SRCDIR/valgrind.sh")" "$(_vg_quote "$VG_DIR")" \
			"$(_vg_quote "$_vg_bin")" >"$_vg_wrap" && chmod +x "$_vg_wrap" || exit 1
		eval "$_vg_var=\$_vg_wrap"
		export "${_vg_var?}"
	done
fi
test_time() {
	echo $(($1 * TEST_SLOW))
}

# at_exit FUNC: run FUNC when the test exits (unmount, stop servers).
at_exit() {
	test_cleanup_hooks="$1 $test_cleanup_hooks"
}

# wait_ready PIDVAR TRIES GONE LOG LATE COMMAND...: run COMMAND every 0.05 s
# until it succeeds (returns 0), for a background server or daemon whose pid
# is in the variable named PIDVAR.  When that process exits first: PIDVAR is
# emptied, "# GONE:" and LOG (each line as "#   ...") go to stderr unless
# GONE is empty, and it returns 1.  When COMMAND still fails after TRIES
# more tries: "# LATE" on stderr, and it returns 2.
wait_ready() {
	_wr_var=$1 _wr_max=$2 _wr_gone=$3 _wr_log=$4 _wr_late=$5
	shift 5
	eval "_wr_pid=\$$_wr_var"
	_wr_i=0
	while ! "$@"; do
		if ! kill -0 "$_wr_pid" 2>/dev/null; then
			if [ -n "$_wr_gone" ]; then
				echo "# $_wr_gone:" >&2
				sed 's/^/#   /' "$_wr_log" >&2
			fi
			eval "$_wr_var="
			return 1
		fi
		_wr_i=$((_wr_i + 1))
		if [ "$_wr_i" -gt "$_wr_max" ]; then
			echo "# $_wr_late" >&2
			return 2
		fi
		sleep 0.05
	done
}

# spawn_server DIR PIDVAR STOP WHAT TRIES COMMAND...: start COMMAND, a
# server that writes its port to DIR/port once it listens, in the
# background (stdin /dev/null, output appended to DIR/stdout and
# DIR/stderr), its pid in the variable named PIDVAR, STOP run at exit;
# then wait_ready for DIR/port, TRIES tries 0.05 s apart.  A port file of
# an earlier run is removed first.  Returns 0, or wait_ready's 1 or 2.
spawn_server() {
	_sp_dir=$1 _sp_var=$2 _sp_stop=$3 _sp_what=$4 _sp_tries=$5
	shift 5
	rm -f "$_sp_dir/port"
	"$@" </dev/null >>"$_sp_dir/stdout" 2>>"$_sp_dir/stderr" &
	eval "$_sp_var=\$!"
	at_exit "$_sp_stop"
	wait_ready "$_sp_var" "$_sp_tries" "$_sp_what exited before listening" "$_sp_dir/stderr" \
		"$_sp_what not listening after $((_sp_tries / 20)) s" test -s "$_sp_dir/port"
}

# stop_server PID SIGNAL WHAT LOG...: send SIGNAL (TERM, QUIT) to the
# background process PID, SIGKILL after 5 s, and wait for it.  Fails, with
# "WHAT exited with status N" and the LOG files on stderr, unless it exited
# 0.  Call it in the shell that started PID (wait(1) needs its child).
stop_server() {
	_ss_pid=$1 _ss_sig=$2 _ss_what=$3
	shift 3
	kill -"$_ss_sig" "$_ss_pid" 2>/dev/null
	# A watchdog turns a process that ignores the signal into a SIGKILL after
	# 5 s; its output goes nowhere so it never holds the test's stdout open.
	(sleep 5; kill -KILL "$_ss_pid") >/dev/null 2>&1 &
	_ss_dog=$!
	wait "$_ss_pid" 2>/dev/null
	_ss_rc=$?
	kill "$_ss_dog" 2>/dev/null
	# 0: it stopped as asked; anything else is worth a look.
	if [ "$_ss_rc" -ne 0 ]; then
		echo "$_ss_what exited with status $_ss_rc" >&2
		sed 's/^/  /' "$@" >&2
		return 1
	fi
}

# _t_expect pass|fail NAME COMMAND...: run COMMAND, which should succeed
# (pass) or fail; print "ok" or "not ok" with its output.
# (Helpers use _t_* variables: a plain "name" would clobber the caller's.)
_t_expect() {
	_t_want=$1 _t_name=$2
	shift 2
	test_count=$((test_count + 1))
	if _t_out=$("$@" 2>&1); then _t_got=pass; else _t_got=fail; fi
	if [ "$_t_got" = "$_t_want" ]; then
		echo "ok $test_count - $_t_name"
		return 0
	fi
	if [ "$_t_want" = pass ]; then
		echo "not ok $test_count - $_t_name"
	else
		echo "not ok $test_count - $_t_name (succeeded, expected failure)"
	fi
	test_failed=$((test_failed + 1))
	printf '%s\n' "$_t_out" | sed 's/^/#   /'
}

# ok NAME COMMAND...: run COMMAND; print "ok" or "not ok" with its output.
ok() { _t_expect pass "$@"; }

# fails NAME COMMAND...: like ok, but COMMAND must fail.
fails() { _t_expect fail "$@"; }

# is NAME GOT WANT: string comparison.
is() {
	test_count=$((test_count + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $test_count - $1"
	else
		echo "not ok $test_count - $1"
		test_failed=$((test_failed + 1))
		echo "#   got:  '$2'"
		echo "#   want: '$3'"
	fi
}

# exit_is WANT CMD...: CMD exits with status WANT; its stdout and stderr are
# left in $TEST_TMP/out and $TEST_TMP/err (printed when the status differs).
exit_is() {
	_t_want=$1
	shift
	"$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	_t_got=$?
	[ "$_t_got" -eq "$_t_want" ] && return 0
	echo "exit status $_t_got, want $_t_want"
	cat "$TEST_TMP/out" "$TEST_TMP/err"
	return 1
}

# skip NAME REASON: one skipped check.
skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

# skip_all REASON: the whole script is skipped (prints the TAP plan 1..0).
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# bail_out REASON: stop the whole test script (TAP "Bail out!"), a failure.
bail_out() {
	echo "Bail out! $*"
	exit 1
}

# need_shared: skip unless ../shared (fixtures, toml-test) is present.
need_shared() {
	if [ -z "${ARTIFACTFS_SHARED:-}" ] || [ ! -f "$ARTIFACTFS_SHARED/spec/julia-artifacts.md" ]; then
		skip_all "../shared not found (set ARTIFACTFS_SHARED or --with-shared-dir)"
	fi
}

# need_artifactctl: skip unless ARTIFACTCTL is the built artifactctl.
need_artifactctl() {
	[ -x "${ARTIFACTCTL:-}" ] || skip_all "ARTIFACTCTL is not set to the built artifactctl"
}

# need_prog PROG: skip unless PROG is on PATH.
need_prog() {
	command -v "$1" >/dev/null 2>&1 || skip_all "$1 not installed"
}

# toml_entry NAME TREE [SHA256 URL]...: the entry of artifact NAME with the
# git-tree-sha1 TREE and one [[NAME.download]] per SHA256 URL pair, in the
# layout Pkg writes, on stdout (an Artifacts.toml is entries one after another).
toml_entry() {
	_te=$1
	printf '[%s]\ngit-tree-sha1 = "%s"\n' "$1" "$2"
	shift 2
	while [ $# -ge 2 ]; do
		printf '\n    [[%s.download]]\n    sha256 = "%s"\n    url = "%s"\n' "$_te" "$1" "$2"
		shift 2
	done
	echo
}

# wait_for CMD ARG...: run CMD every 0.1 s until it succeeds, at most
# WATCHDOG seconds (default 60); fails when it never did.
wait_for() {
	_w=0
	until "$@"; do
		[ $_w -lt $((${WATCHDOG:-60} * 10)) ] || return 1
		sleep 0.1
		_w=$((_w + 1))
	done
}

# done_testing: print the plan; exit status says whether anything failed.
# Under valgrind, one more check first: no report of the processes run so
# far holds an error.
done_testing() {
	if [ -n "${VG_DIR:-}" ]; then
		test_count=$((test_count + 1))
		if sh "$TESTS_SRCDIR/valgrind.sh" --check "$VG_DIR" "valgrind" >"$VG_DIR/check.txt"; then
			echo "ok $test_count - valgrind: no errors ($(sed -n '1s/^# valgrind: //p' "$VG_DIR/check.txt"))"
		else
			echo "not ok $test_count - valgrind: errors in the processes below"
			test_failed=$((test_failed + 1))
			cat "$VG_DIR/check.txt"
			: >"$VG_DIR/failed"
		fi
	fi
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ]
}
