#!/bin/sh
# t0100-toml-test.sh - the toml-test conformance suite (TOML 1.0.0 cases)
# against tests/toml-decoder.  One TAP line per case: a valid case passes
# when the decoder exits 0 and its JSON matches the expected JSON under the
# upstream tolerance (tests/toml-compare.py, run once for all cases); an
# invalid case passes when the decoder exits 1 with a "line:column: reason"
# message, not by a signal or another status.
. "$TESTS_SRCDIR/lib.sh"
need_shared

PY=${PYTHON3:-}
if [ -z "$PY" ] || ! command -v "$PY" >/dev/null 2>&1; then
	PY=python3
	command -v "$PY" >/dev/null 2>&1 ||
		skip_all "python3 not found (needed by tests/toml-compare.py)"
fi
SUITE=$ARTIFACTFS_SHARED/toml-test
LIST=$SUITE/files-toml-1.0.0
[ -f "$LIST" ] || skip_all "$LIST not found"

# A sanitizer report must not pass for the exit status 1 of a rejected document.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"
export ASAN_OPTIONS UBSAN_OPTIONS

tap() {	# tap PASS NAME [REASON]
	test_count=$((test_count + 1))
	if [ "$1" = 1 ]; then
		echo "ok $test_count - $2"
	else
		echo "not ok $test_count - $2"
		test_failed=$((test_failed + 1))
		[ -n "${3:-}" ] && printf '#   %s\n' "$3"
	fi
}

# Valid cases: decode each to a file, then compare them all in one python run.
batch=$TEST_TMP/batch
decfail=$TEST_TMP/decoder-failures
: >"$batch"
: >"$decfail"
i=0
while IFS= read -r f; do
	case $f in
	valid/*.toml) ;;
	*) continue ;;
	esac
	i=$((i + 1))
	out=$TEST_TMP/out-$i.json
	err=$TEST_TMP/out-$i.err
	"$TOML_DECODER" <"$SUITE/$f" >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '%s\texit status %s: %s\n' "$f" "$rc" "$(head -n 1 "$err")" >>"$decfail"
	fi
	printf '%s\t%s\t%s\n' "$f" "$SUITE/${f%.toml}.json" "$out" >>"$batch"
done <"$LIST"

"$PY" "$TESTS_SRCDIR/toml-compare.py" --batch "$batch" >"$TEST_TMP/compared" ||
	echo "# toml-compare.py failed"
nvalid=0
while IFS="$(printf '\t')" read -r verdict name reason; do
	nvalid=$((nvalid + 1))
	if [ "$verdict" = PASS ]; then
		tap 1 "$name"
	else
		why=$(grep -F "$name	" "$decfail" | head -n 1 | cut -f 2)
		tap 0 "$name" "${why:-$reason}"
	fi
done <"$TEST_TMP/compared"
if [ "$nvalid" -ne "$i" ]; then
	tap 0 "comparator reported $nvalid of $i valid cases"
fi

# Invalid cases: the decoder must reject each with status 1.
while IFS= read -r f; do
	case $f in
	invalid/*.toml) ;;
	*) continue ;;
	esac
	err=$TEST_TMP/invalid.err
	"$TOML_DECODER" <"$SUITE/$f" >/dev/null 2>"$err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -Eq '^[0-9]+:[0-9]+: .' "$err"; then
		tap 1 "$f"
	elif [ "$rc" -eq 0 ]; then
		tap 0 "$f" "accepted an invalid document"
	elif [ "$rc" -eq 1 ]; then
		tap 0 "$f" "no 'line:column: reason' message: $(head -n 1 "$err")"
	else
		tap 0 "$f" "exit status $rc: $(head -n 1 "$err")"
	fi
done <"$LIST"

done_testing
