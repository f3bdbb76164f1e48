#!/bin/sh
# bench-pack.sh - time "artifactctl pack -j N" against "tar | gzip" and
# "tar | pigz" at the same gzip level.  A benchmark, not a test: it prints
# figures, and whether the outputs of every -j are identical.
#
# usage: tests/bench/bench-pack.sh [MB | DIR]
#
# Without DIR it builds (once, and keeps) about MB megabytes (default
# $BENCH_MB, else 1024) of real files copied from /usr/lib (60%) and
# /usr/share (40%) in ${BENCH_DATA:-${TMPDIR:-/tmp}/artifactfs-bench-pack-MB}.
# The runs are interleaved (one of each command per round, $BENCH_RUNS
# rounds, default 3) on a warm page cache, and each figure is the median:
#   pack -j1    artifactctl pack -j 1 -l LEVEL -o OUT DIR
#   pack -j2    the same on 2 threads
#   pack -jN    the same on N = nproc threads (left out when N <= 2)
#   tar|gzip    tar -C DIR -cf - . | gzip -LEVEL >OUT
#   tar|pigz    tar -C DIR -cf - . | pigz -LEVEL -p N >OUT
# Ratios are to tar|gzip; sizes are the outputs' bytes.
# Environment: ARTIFACTCTL (default ./artifactctl, then artifactctl on PATH),
# BENCH_LEVEL (default 6), BENCH_RUNS, BENCH_MB, BENCH_DATA, PIGZ (default pigz).
set -u

BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_LEVEL=${BENCH_LEVEL:-6}
BENCH_MB=${BENCH_MB:-1024}
PIGZ=${PIGZ:-pigz}
if [ -z "${ARTIFACTCTL:-}" ]; then
	if [ -x ./artifactctl ]; then
		ARTIFACTCTL=$(pwd)/artifactctl
	else
		ARTIFACTCTL=$(command -v artifactctl || true)
	fi
fi
[ -x "$ARTIFACTCTL" ] || { echo "bench-pack: set ARTIFACTCTL to the built artifactctl" >&2; exit 1; }
command -v gzip >/dev/null || { echo "bench-pack: gzip not found" >&2; exit 1; }
have_pigz=yes
command -v "$PIGZ" >/dev/null || have_pigz=no

. "$(dirname "$0")/bench-data.sh"

case ${1:-} in
*[!0-9]*)
	data=$1
	[ -d "$data" ] || { echo "bench-pack: '$data' is not a directory" >&2; exit 64; }
	;;
*)
	BENCH_MB=${1:-$BENCH_MB}
	data=${BENCH_DATA:-${TMPDIR:-/tmp}/artifactfs-bench-pack-$BENCH_MB}
	bench_data "$data" "$BENCH_MB" /usr/lib:60 /usr/share:40
	;;
esac

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-pack.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM

ncpu=$(nproc)
size=$(du -sm "$data" | cut -f1)
files=$(find "$data" ! -type d | wc -l)
echo "data: $data: $size MB, $files files and links"
echo "cpus: $ncpu, level $BENCH_LEVEL, $BENCH_RUNS interleaved rounds, medians;" \
	"$(gzip --version | head -1), $("$PIGZ" --version 2>&1 | head -1)"

# ---- the commands ------------------------------------------------------------------

pack_j() { "$ARTIFACTCTL" pack -j "$1" -l "$BENCH_LEVEL" -o "$scratch/j$1.tar.gz" "$data"; }
tar_gzip() { tar -C "$data" -cf - . | gzip -"$BENCH_LEVEL" >"$scratch/gzip.tar.gz"; }
tar_pigz() { tar -C "$data" -cf - . | "$PIGZ" -"$BENCH_LEVEL" -p "$ncpu" >"$scratch/pigz.tar.gz"; }

names="pack_-j1 pack_-j2"
[ "$ncpu" -gt 2 ] && names="$names pack_-j$ncpu"
names="$names tar|gzip"
[ "$have_pigz" = yes ] && names="$names tar|pigz"

run() {
	case $1 in
	pack_-j*) pack_j "${1#pack_-j}" ;;
	tar\|gzip) tar_gzip ;;
	tar\|pigz) tar_pigz ;;
	esac
}
out_of() {
	case $1 in
	pack_-j*) echo "$scratch/j${1#pack_-j}.tar.gz" ;;
	tar\|gzip) echo "$scratch/gzip.tar.gz" ;;
	tar\|pigz) echo "$scratch/pigz.tar.gz" ;;
	esac
}
key() { echo "$1" | tr -c 'a-z0-9\n' '_'; }

# ---- timing ------------------------------------------------------------------------

tar -C "$data" -cf - . | cat >/dev/null	# warm the page cache
round=1
while [ "$round" -le "$BENCH_RUNS" ]; do
	for n in $names; do
		t0=$(date +%s%N)
		if ! run "$n" >/dev/null 2>"$scratch/err"; then
			echo "bench-pack: '$n' failed:" >&2
			cat "$scratch/err" >&2
			exit 1
		fi
		t1=$(date +%s%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' \
			>>"$scratch/times.$(key "$n")"
	done
	round=$((round + 1))
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

base=$(median "$scratch/times.$(key 'tar|gzip')")
printf '%-10s %9s %9s %7s %13s %9s\n' command median MB/s ratio bytes size
for n in $names; do
	m=$(median "$scratch/times.$(key "$n")")
	bytes=$(stat -c %s "$(out_of "$n")")
	awk -v n="$(echo "$n" | tr _ ' ')" -v m="$m" -v b="$base" -v mb="$size" -v by="$bytes" \
		-v gz="$(stat -c %s "$scratch/gzip.tar.gz")" 'BEGIN {
		printf "%-10s %8.2fs %9.1f %6.2fx %13d %8.4fx\n", n, m, mb / m, m / b, by, by / gz }'
done
echo "(ratio: median time / tar|gzip's; size: bytes / tar|gzip's)"
same=yes
for n in $names; do
	case $n in
	pack_-j1) ;;
	pack_-j*) cmp -s "$scratch/j1.tar.gz" "$(out_of "$n")" || same=no ;;
	esac
done
echo "pack outputs identical for every -j: $same"
gzip -t "$scratch/j2.tar.gz" && echo "gzip -t of pack -j2's output: ok"
