#!/bin/sh
# smoke.sh - run each libFuzzer harness of tests/fuzz for a bounded time
# (make fuzz-smoke).  Usage: smoke.sh NAME...  (NAME: toml, tar, ...; the
# harness is $FUZZ_DIR/fuzz-NAME).
#
# Environment: FUZZ_DIR (the built harnesses), FUZZ_SEEDS (tests/fuzz of
# the source tree: corpus/NAME and dict/NAME.dict), FUZZ_SECONDS (per
# harness, default 30), FUZZ_TIMEOUT (seconds one input may take, default
# 25), ARTIFACTFS_SHARED (toml-test and fixtures), PYTHON3 and TARBALLS
# (tests/tarballs.py, for the generated tarballs).
#
# Seeds (the generated ones and the small committed corpus/NAME) are
# gathered into FUZZ_DIR/out/NAME/seeds at every run, never into the
# source tree; what libFuzzer finds goes to FUZZ_DIR/out/NAME/corpus
# and crash, leak, timeout or out-of-memory inputs to FUZZ_DIR/out/NAME/.
# Exits 1 when any harness failed, naming the input that made it fail.
set -u

: "${FUZZ_DIR:?}" "${FUZZ_SEEDS:?}"
seconds=${FUZZ_SECONDS:-30}
timeout=${FUZZ_TIMEOUT:-25}
shared=${ARTIFACTFS_SHARED:-}
failed=0

# copy_seeds DEST PATTERN DIR...: the files named PATTERN under the DIRs,
# flattened to numbered names.
copy_seeds()
{
	dest=$1 pattern=$2
	shift 2
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" -type f -name "$pattern"
	done | {
		i=0
		while IFS= read -r f; do
			i=$((i + 1))
			cp "$f" "$dest/seed-$i"
		done
	}
}

seeds()
{
	name=$1 dest=$2
	case $name in
	toml)
		copy_seeds "$dest" '*.toml' "$shared/toml-test" "$shared/fixtures"
		;;
	artifacts)
		copy_seeds "$dest" '*.toml' "$shared/fixtures/artifacts-toml"
		;;
	tar | unpack | inflate)
		if [ -n "${PYTHON3:-}" ] && [ -n "${TARBALLS:-}" ]; then
			"$PYTHON3" "$TARBALLS" hostile "$dest/gen/out" >/dev/null 2>&1 ||
				echo "fuzz-smoke: cannot generate the seed tarballs" >&2
			copy_seeds "$dest" '*.tar' "$dest/gen/out"
			copy_seeds "$dest" '*.tar.gz' "$dest/gen/out"
			rm -rf "$dest/gen"
		fi
		;;
	esac
}

for name in "$@"; do
	bin=$FUZZ_DIR/fuzz-$name
	work=$FUZZ_DIR/out/$name
	# keep the corpus; failures of an earlier run are not this run's
	rm -rf "$work/seeds" "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
	mkdir -p "$work/seeds" "$work/corpus"
	seeds "$name" "$work/seeds"
	set -- -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/"
	dict=$FUZZ_SEEDS/dict/$name.dict
	[ "$name" = unpack ] && dict=$FUZZ_SEEDS/dict/tar.dict
	[ -f "$dict" ] && set -- "$@" -dict="$dict"
	# a tar header is 512 bytes: leave room for a few entries and their data
	case $name in tar | unpack | inflate) set -- "$@" -max_len=16384 ;; esac
	set -- "$@" "$work/corpus" "$work/seeds"
	[ -d "$FUZZ_SEEDS/corpus/$name" ] && cp "$FUZZ_SEEDS/corpus/$name"/* "$work/seeds/"
	# fuzz-unpack extracts every input under $TMPDIR: tmpfs is 5 times faster
	tmpdir=${TMPDIR:-/tmp}
	[ "$name" = unpack ] && [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
		tmpdir=/dev/shm
	log=$work/fuzz.log
	echo "fuzz-smoke: $name for ${seconds}s ($(ls "$work/seeds" | wc -l) seeds," \
		"$(ls "$work/corpus" | wc -l) in the corpus)"
	if TMPDIR=$tmpdir "$bin" "$@" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 |
			sed -n 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/p')
		echo "fuzz-smoke: $name ok: ${runs:-?} runs, ${cov:-no coverage line}"
	else
		failed=1
		echo "fuzz-smoke: $name FAILED; log $log; the input:" >&2
		ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* >&2 2>/dev/null
		grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 20 >&2
	fi
done
exit "$failed"
