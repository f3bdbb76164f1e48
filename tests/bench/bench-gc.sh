#!/bin/sh
# bench-gc.sh - artifactctl gc on a store of many index entries (default 100,000).
# A benchmark, not a test: it prints figures, and fails only when gc does.
#
#   ARTIFACTCTL=... GEN_STORE=... sh tests/bench/bench-gc.sh [N]
#
# GEN_STORE is the built tests/bench/gen-store (tiny artifacts installed
# through the store API, one file each; see gen-store.c).  The roots are
# $BENCH_ROOTS (default 100) Artifacts.toml files of N/BENCH_ROOTS names
# each, registered with "artifactctl root add".  Timed, best of
# $BENCH_RUNS (default 3) where the run changes nothing:
#   1. gc with everything rooted (nothing removed), and the same --dry-run
#   2. half the roots unregistered: the first gc marks N/2 orphans (default
#      grace), a second finds them marked, a --dry-run --grace 0 lists them
#   3. gc --grace 0: N/2 removed
#   4. store_evict_lru over the N/2 left (one scan and sort of the index)
#   5. for comparison, rm -rf of N/2 directories of the same shape on the
#      same filesystem, one process and 8 at once: the filesystem's own cost
# Maximum resident memory of each gc comes from GNU time when installed.
# With ARTIFACTFS set (and FUSE usable), also the daemon's resident memory
# with the store mounted, serving the names of one root file.
# store_evict_lru's scan and sort of all N rows is timed in step 1 too.
# Everything is made under a scratch directory in ${TMPDIR:-/tmp}, removed
# at the end; fsync is off while generating (ARTIFACTFS_UNSAFE_NO_FSYNC) and
# on during the timed gc runs.
set -eu
N=${1:-100000}
RUNS=${BENCH_RUNS:-3}
ROOTS=${BENCH_ROOTS:-100}
: "${ARTIFACTCTL:?set ARTIFACTCTL to the artifactctl binary}"
: "${GEN_STORE:?set GEN_STORE to the built tests/bench/gen-store}"
unset ARTIFACTFS_STORE ARTIFACTFS_UNSAFE_NO_FSYNC ARTIFACTFS_CRASH_AT

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-gc.XXXXXX")
S=$work/store
mnt=$work/mnt
cleanup() {
	[ -d "$mnt" ] && fusermount3 -u "$mnt" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
if /usr/bin/time -f %M true >/dev/null 2>&1; then
	timed() { /usr/bin/time -f '%M' -o "$work/rss" "$@"; }
else
	timed() { "$@"; }
fi
rss() { [ -s "$work/rss" ] && echo "$(tail -n 1 "$work/rss") KiB max RSS" || echo "RSS n/a"; }

# run TAG ARGS...: one gc run; prints "<seconds> s, <rss>", keeps its output in $work/TAG.out
run() {
	_tag=$1
	shift
	rm -f "$work/rss"
	t0=$(now)
	timed "$ARTIFACTCTL" gc --store "$S" "$@" >"$work/$_tag.out" 2>"$work/$_tag.err" ||
		{ echo "gc $* failed:" >&2; cat "$work/$_tag.err" >&2; exit 1; }
	t1=$(now)
	echo "$(secs "$t0" "$t1") s, $(rss)"
}

# best TAG ARGS...: the best of $RUNS runs (for runs that change nothing)
best() {
	_b=
	for _i in $(seq 1 "$RUNS"); do
		_r=$(run "$@")
		_t=${_r%% s,*}
		if [ -z "$_b" ] || awk -v a="$_t" -v b="${_b%% s,*}" 'BEGIN { exit !(a < b) }'; then
			_b=$_r
		fi
	done
	echo "$_b"
}

echo "generating a store of $N artifacts..."
t0=$(now)
ARTIFACTFS_UNSAFE_NO_FSYNC=1 "$GEN_STORE" "$S" "$N" >"$work/list"
t1=$(now)
echo "  $(wc -l <"$work/list") artifacts in $(secs "$t0" "$t1") s; index $(du -sh "$S/index" | cut -f1)"
mkdir -p "$work/roots"
awk -v dir="$work/roots" -v k="$ROOTS" -v n="$N" '
	{ f = sprintf("%s/r%03d.toml", dir, int((NR - 1) * k / n));
	  printf "[%s]\ngit-tree-sha1 = \"%s\"\n\n", $1, $2 > f }' "$work/list"
"$ARTIFACTCTL" root add --store "$S" "$work"/roots/*.toml
echo "  $ROOTS root files of $((N / ROOTS)) names registered"
# the first open reconciles and creates the lock and the gc files: not timed
"$ARTIFACTCTL" gc --store "$S" >/dev/null

echo "1. everything rooted"
echo "  gc:                      $(best rooted)"
tail -n 1 "$work/rooted.out" | sed 's/^/    /'
echo "  gc --dry-run:            $(best rooted-dry --dry-run)"
"$GEN_STORE" --evict "$S" 0 | sed 's/^/  /'

echo "2. half the roots unregistered"
half=$(ls "$work"/roots/*.toml | head -n $((ROOTS / 2)))
# shellcheck disable=SC2086
"$ARTIFACTCTL" root rm --store "$S" $half
echo "  gc, marking orphans:     $(run mark)"
tail -n 1 "$work/mark.out" | sed 's/^/    /'
echo "  gc, marks already there: $(best marked)"
echo "  gc --dry-run --grace 0:  $(best half-dry --dry-run --grace 0)"
tail -n 1 "$work/half-dry.out" | sed 's/^/    /'

echo "3. gc --grace 0"
echo "  gc --grace 0:            $(run sweep --grace 0)"
tail -n 1 "$work/sweep.out" | sed 's/^/    /'
echo "  then, nothing to do:     $(best after --grace 0)"

echo "4. store_evict_lru over what is left"
"$GEN_STORE" --evict "$S" 1 | sed 's/^/  /'

echo "5. the filesystem alone: rm -rf of $((N / 2)) one-file directories"
mkdir -p "$work/rm"
i=0
while [ "$i" -lt $((N / 2)) ]; do
	printf '%s\n' "$i"
	i=$((i + 1))
done | (cd "$work/rm" && xargs mkdir -p)
(cd "$work/rm" && ls | while read -r d; do echo "artifact $d" >"$d/f"; done)
sync
t0=$(now)
(cd "$work/rm" && ls | head -n $((N / 4)) | xargs rm -rf)
t1=$(now)
echo "  one process, $((N / 4)) directories: $(secs "$t0" "$t1") s"
t0=$(now)
(cd "$work/rm" && ls | xargs -P 8 -n 64 rm -rf)
t1=$(now)
echo "  8 processes, $((N / 4)) directories: $(secs "$t0" "$t1") s"

if [ -n "${ARTIFACTFS:-}" ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	echo "6. the daemon with the store mounted"
	mkdir -p "$mnt"
	root=$(ls "$work"/roots/*.toml | tail -n 1)
	if "$ARTIFACTFS" "$mnt" -o "store=$S,toml=$root"; then
		pid=$(pgrep -f "artifactfs $mnt" | head -n 1)
		echo "  resident after mount:       $(awk '/VmRSS/ { print $2 " " $3 }' /proc/"$pid"/status)"
		ls "$mnt" | wc -l | sed 's/^/  names listed: /'
		ls "$mnt" | head -n 200 | while read -r n; do cat "$mnt/$n/f" >/dev/null; done
		echo "  resident after 200 reads:   $(awk '/VmRSS/ { print $2 " " $3 }' /proc/"$pid"/status)"
		fusermount3 -u "$mnt"
	else
		echo "  (could not mount)"
	fi
fi
