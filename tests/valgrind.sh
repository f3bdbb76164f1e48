#!/bin/sh
# tests/valgrind.sh - run tests under valgrind's memcheck (make check-valgrind).
#
#   valgrind.sh PROGRAM ARG...
#       The LOG_COMPILER of make check-valgrind.  A test script (*.sh) runs
#       as it is with ARTIFACTFS_VALGRIND=1 in its environment: tests/lib.sh
#       then runs artifactctl and artifactfs through --exec and checks their
#       reports itself.  Any other PROGRAM (a unit test) runs under valgrind,
#       forked children included; afterwards every report is checked.  An
#       error prints the reports that hold one, then "Bail out!", and exits
#       99 whatever the program's own status was.
#   valgrind.sh --exec DIR PROGRAM ARG...
#       Replace this shell with valgrind running PROGRAM: the pid, the
#       signals and the exit status stay PROGRAM's (a kill -9 or a
#       raise(SIGKILL) kills it as it would kill PROGRAM).  Each process's
#       report goes to DIR/PID.log (a fork gets its own), the command line
#       to DIR/PID.cmd.
#   valgrind.sh --check DIR [WHAT]
#       Check the reports in DIR: print "# WHAT: N processes, M with valgrind
#       errors" (WHAT defaults to "valgrind"), then each report with an error
#       and its command line as "#   " lines.  Exits 1 when a report holds an
#       error, 0 otherwise (also when DIR holds none).
#
# The status valgrind exits with on an error (--error-exitcode=99) cannot be
# told apart from a test's own expectation that a program fails, so the
# reports decide: with -q a report holds nothing but errors, definite leaks
# and warnings; anything that is not a warning, or the indented lines under
# an error or a warning, is an error.  Killed processes (SIGKILL) leave the
# errors they met before the kill, and no leak check.
#
# VALGRIND names the program (default valgrind); valgrind itself adds the
# options in VALGRIND_OPTS.  Suppressions of known noise in the libraries
# would go to tests/valgrind.supp (each with its reason; add it to
# EXTRA_DIST), used when it exists; none has been needed so far.

set -u
: "${VALGRIND:=valgrind}"
vg_supp=$(dirname "$0")/valgrind.supp

# vg_report_bad LOG: LOG holds an error: a line that is neither blank,
# indented (the stack under an error or a warning), a warning, nor one of
# valgrind's notes about itself ("--PID-- "; valgrind 3.19 has no openat2,
# which artifactfs tries first and replaces when it fails with ENOSYS).
vg_report_bad() {
	awk '/^==[0-9]+== *$/ || /^==[0-9]+==  / || /^==[0-9]+== Warning: / { next }
		/^--[0-9]+-- / { next }
		{ bad = 1 } END { exit !bad }' "$1"
}

vg_check() {
	_vc_dir=$1 _vc_what=${2:-valgrind}
	_vc_n=0 _vc_bad=0
	for _vc_log in "$_vc_dir"/*.log; do
		[ -f "$_vc_log" ] || continue
		_vc_n=$((_vc_n + 1))
		vg_report_bad "$_vc_log" || continue
		_vc_bad=$((_vc_bad + 1))
		_vc_cmd=${_vc_log%.log}.cmd
		if [ -f "$_vc_cmd" ]; then
			echo "#   ${_vc_log##*/}: $(cat "$_vc_cmd")"
		else
			echo "#   ${_vc_log##*/}: a child forked by a traced process"
		fi
		sed 's/^/#     /' "$_vc_log"
	done >"$_vc_dir/check.out"
	_vc_p=processes
	[ "$_vc_n" -eq 1 ] && _vc_p=process
	echo "# $_vc_what: $_vc_n $_vc_p, $_vc_bad with valgrind errors"
	cat "$_vc_dir/check.out"
	rm -f "$_vc_dir/check.out"
	[ "$_vc_bad" -eq 0 ]
}

vg_exec() {
	_ve_dir=$1
	shift
	mkdir -p "$_ve_dir" || exit 1
	printf '%s%s\n' "${ARTIFACTFS_CRASH_AT:+ARTIFACTFS_CRASH_AT=$ARTIFACTFS_CRASH_AT }" "$*" \
		>"$_ve_dir/$$.cmd"
	_ve_supp=
	[ -f "$vg_supp" ] && _ve_supp=--suppressions=$vg_supp
	# shellcheck disable=SC2086 # _ve_supp is one option or none
	exec "$VALGRIND" -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --show-leak-kinds=definite \
		--track-fds=no --vgdb=no $_ve_supp "--log-file=$_ve_dir/%p.log" "$@"
}

case ${1:-} in
--exec)
	shift
	vg_exec "$@"
	;;
--check)
	shift
	vg_check "$@"
	;;
'')
	echo "usage: valgrind.sh PROGRAM ARG... | --exec DIR PROGRAM ARG... | --check DIR [WHAT]" >&2
	exit 2
	;;
*.sh)
	ARTIFACTFS_VALGRIND=1
	export ARTIFACTFS_VALGRIND
	exec "$@"
	;;
*)
	vg_dir=$(mktemp -d "${TMPDIR:-/tmp}/artifactfs-vg.XXXXXX") || exit 1
	ARTIFACTFS_VALGRIND=1
	export ARTIFACTFS_VALGRIND
	# A shell of its own, whose pid (the --exec pid) names the report.
	sh "$0" --exec "$vg_dir" "$@"
	rc=$?
	if ! vg_check "$vg_dir" "valgrind ${1##*/}"; then
		echo "Bail out! valgrind found errors in ${1##*/} (reports above)"
		rc=99
	fi
	rm -rf "$vg_dir"
	exit "$rc"
	;;
esac
