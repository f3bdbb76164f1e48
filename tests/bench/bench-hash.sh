#!/bin/sh
# bench-hash.sh - time "artifactctl hash DIR" against "git add -A && git write-tree".
# A benchmark, not a test: it prints figures and whether the two hashes agree.
#
# usage: tests/bench/bench-hash.sh [DIR]
#
# Without DIR it builds (once, and keeps) a directory of about $BENCH_MB
# megabytes (default 1024) of real files copied with cp -a from /usr/include,
# /usr/share and /usr/lib, in $BENCH_DATA (default ${TMPDIR:-/tmp}/artifactfs-bench).
# Environment: ARTIFACTCTL (default ./artifactctl, then artifactctl on PATH),
# GIT (default git), BENCH_RUNS warm runs of artifactctl (default 3).
# Cold-cache runs need to write /proc/sys/vm/drop_caches (root); without
# that only warm figures are printed, and the output says so.
set -u

BENCH_MB=${BENCH_MB:-1024}
BENCH_RUNS=${BENCH_RUNS:-3}
GIT=${GIT:-git}
if [ -z "${ARTIFACTCTL:-}" ]; then
	if [ -x ./artifactctl ]; then
		ARTIFACTCTL=$(pwd)/artifactctl
	else
		ARTIFACTCTL=$(command -v artifactctl || true)
	fi
fi
if [ ! -x "$ARTIFACTCTL" ]; then
	echo "bench-hash: set ARTIFACTCTL to the built artifactctl" >&2
	exit 1
fi
command -v "$GIT" >/dev/null || { echo "bench-hash: git not found" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-hash.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM

# ---- the data ------------------------------------------------------------------

. "$(dirname "$0")/bench-data.sh"

if [ $# -ge 1 ]; then
	data=$1
	[ -d "$data" ] || { echo "bench-hash: '$data' is not a directory" >&2; exit 1; }
else
	data=${BENCH_DATA:-${TMPDIR:-/tmp}/artifactfs-bench}
	# roughly: 15% headers, 40% /usr/share, the rest /usr/lib
	bench_data "$data" "$BENCH_MB" /usr/include:15 /usr/share:40 /usr/lib:45
fi
size=$(du -sm "$data" | cut -f1)
files=$(find "$data" ! -type d | wc -l)
dirs=$(find "$data" -type d | wc -l)
echo "data: $data: $size MB, $files files and links, $dirs directories"

# ---- timing ----------------------------------------------------------------------

can_drop=no
if sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
	can_drop=yes
fi
drop_caches() {
	[ "$can_drop" = yes ] && sync && echo 3 >/proc/sys/vm/drop_caches
}

# elapsed CMD...: run CMD (stdout to $scratch/out), set $secs
elapsed() {
	t0=$(date +%s%N)
	"$@" >"$scratch/out" 2>"$scratch/err"
	rc=$?
	t1=$(date +%s%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	if [ "$rc" -ne 0 ]; then
		echo "bench-hash: '$*' failed (exit $rc):" >&2
		cat "$scratch/err" >&2
	fi
	return "$rc"
}

git_write_tree() {
	rm -rf "$scratch/repo.git"
	export GIT_DIR="$scratch/repo.git" GIT_WORK_TREE="$data"
	"$GIT" init -q "$GIT_DIR" &&
	"$GIT" -c core.fileMode=true -c core.symlinks=true -c core.autocrlf=false \
		-c core.safecrlf=false add -A -f &&
	"$GIT" write-tree
	rc=$?
	unset GIT_DIR GIT_WORK_TREE
	return "$rc"
}

export HOME="$scratch" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
echo "cpus: $(nproc), $("$GIT" --version), drop_caches: $can_drop"

if [ "$can_drop" = yes ]; then
	drop_caches
	elapsed "$ARTIFACTCTL" hash "$data" && ours=$(cat "$scratch/out")
	echo "cold  artifactctl hash       ${secs} s"
	drop_caches
	elapsed git_write_tree && theirs=$(cat "$scratch/out")
	echo "cold  git add + write-tree   ${secs} s"
	rm -rf "$scratch/repo.git"
else
	echo "cold  (skipped: cannot write /proc/sys/vm/drop_caches; run as root)"
fi

"$ARTIFACTCTL" hash "$data" >/dev/null	# warm the cache
i=1
while [ "$i" -le "$BENCH_RUNS" ]; do
	elapsed "$ARTIFACTCTL" hash "$data" && ours=$(cat "$scratch/out")
	echo "warm  artifactctl hash       ${secs} s  (run $i)"
	i=$((i + 1))
done
elapsed git_write_tree && theirs=$(cat "$scratch/out")
echo "warm  git add + write-tree   ${secs} s"

echo "artifactctl: ${ours:-?}"
echo "git:         ${theirs:-?}"
if [ "${ours:-x}" = "${theirs:-y}" ]; then
	echo "hashes agree"
	exit 0
fi
echo "hashes DIFFER; what git and Pkg's rule treat differently in this tree:"
n=$(find "$data" -name .git | wc -l)
echo "  .git entries (Pkg skips them; git skips or records a gitlink): $n"
echo "  .gitattributes files (git may filter content): $(find "$data" -name .gitattributes | wc -l)"
n=$(find "$data" \( -type p -o -type s -o -type b -o -type c \) | wc -l)
echo "  fifos, sockets, devices: $n"
exit 2
