#!/bin/sh
# bench-publish.sh - time "artifactctl publish DIR --to s3://..." (pack, then
# upload, to s3rver on loopback) against "tar -C DIR -cz . | curl -T -" to
# the same server.  A benchmark, not a test: it prints figures.
#
# usage: tests/bench/bench-publish.sh DIR
#
# Each figure is the best of $BENCH_RUNS warm runs (default 2):
#   pack                artifactctl pack -o FILE DIR (packing alone)
#   publish             artifactctl publish DIR --to s3://bench/p --force
#                       (pack to a temporary file, then a multipart upload
#                       in parts of 64 MiB)
#   publish single PUT  the same with --part-size 5GiB (one PUT)
#   tar | curl          tar -C DIR -cz . | curl --aws-sigv4 ... -T - URL
#                       (packing and uploading overlap in a pipe)
#   re-publish s3       artifactctl publish DIR --to s3://bench/p with the
#                       tree already there: hashed, looked up, not packed
#   re-publish file     the same to a file:// directory
# Environment: ARTIFACTCTL (default ./artifactctl), S3RVER_MODULES or npm
# (tests/s3/s3.sh installs s3rver into $BENCH_MODULES, default
# ${TMPDIR:-/tmp}/artifactfs-bench-s3), node, curl.
set -u

BENCH_RUNS=${BENCH_RUNS:-2}
TESTS_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
TESTS_BUILDDIR=${BENCH_MODULES:-${TMPDIR:-/tmp}/artifactfs-bench-s3}
mkdir -p "$TESTS_BUILDDIR"
[ -n "${ARTIFACTCTL:-}" ] || ARTIFACTCTL=$(pwd)/artifactctl
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 64; }
[ -x "$ARTIFACTCTL" ] || { echo "bench-publish: set ARTIFACTCTL" >&2; exit 1; }
data=$(cd "$1" && pwd)

# lib.sh gives the scratch directory and the exit hooks; its skip_all prints a
# TAP plan, which is fine here.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/s3/s3.sh"
need_s3
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
start_s3 bench || exit 1
s3_env

now() { date +%s.%N; }
# best SECONDS of running "$@" BENCH_RUNS times
best() {
	_b=
	_i=0
	while [ "$_i" -lt "$BENCH_RUNS" ]; do
		_t0=$(now)
		"$@" >/dev/null 2>"$TEST_TMP/err" || { cat "$TEST_TMP/err" >&2; return 1; }
		_t=$(echo "$_t0 $(now)" | awk '{ printf "%.2f", $2 - $1 }')
		if [ -z "$_b" ] || [ "$(echo "$_t $_b" | awk '{ print ($1 < $2) }')" = 1 ]; then
			_b=$_t
		fi
		_i=$((_i + 1))
	done
	echo "$_b"
}

pack() { "$ARTIFACTCTL" pack -o "$TEST_TMP/p.tar.gz" "$data"; }
publish() { "$ARTIFACTCTL" publish "$data" --to s3://bench/p --endpoint "$S3_ENDPOINT" --force "$@"; }
tarcurl() {
	tar -C "$data" -cz . | curl -sSf --noproxy '*' --aws-sigv4 aws:amz:auto:s3 \
		--user "$S3_KEY:$S3_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T - \
		"$S3_ENDPOINT/bench/p/tar-curl.tar.gz"
}

tar -C "$data" -cf - . >/dev/null # warm the page cache
bytes=$(du -sb "$data" | cut -f1)
echo "# $data: $bytes bytes, $(find "$data" -type f | wc -l) files; best of $BENCH_RUNS warm runs"
echo "pack                $(best pack) s  ($(stat -c %s "$TEST_TMP/p.tar.gz") bytes of tar.gz)"
echo "publish             $(best publish) s  (multipart, 64 MiB parts)"
echo "publish single PUT  $(best publish --part-size 5GiB) s"
echo "tar | curl          $(best tarcurl) s"
republish() { "$ARTIFACTCTL" publish "$data" --to s3://bench/p --endpoint "$S3_ENDPOINT"; }
republish_file() { "$ARTIFACTCTL" publish "$data" --to "file://$TEST_TMP/pub"; }
republish_file >/dev/null 2>&1 # the first one packs
echo "re-publish s3       $(best republish) s  (unchanged, not packed)"
echo "re-publish file     $(best republish_file) s  (unchanged, not packed)"
