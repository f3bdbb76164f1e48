#!/bin/sh
# The daemon's quota through a real mount: least-recently-used eviction down
# to the low-water mark, artifacts with open files pinned, an artifact larger
# than the quota refused with EFBIG; and gc beside a running daemon: a file
# open through the mount keeps working and its artifact is not removed.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_fuse
need_prog "${PYTHON3:-python3}"
PY=${PYTHON3:-python3}

# Six artifacts of about 1 MiB each, slices of real files of this machine
# (distinct contents, so distinct hashes), and one of about 6 MiB.
src=$(ls -S /usr/lib/x86_64-linux-gnu/*.so* /usr/lib/*/*.so* /usr/bin/* 2>/dev/null | head -n 1)
[ -n "$src" ] && [ "$(stat -Lc %s "$src")" -gt 8000000 ] || skip_all "no file of 8 MB on this machine to slice"
mkdir -p "$TEST_TMP/src"
: >"$TEST_TMP/Artifacts.toml"
add() {	# add NAME SKIP_MIB COUNT_KIB
	mkdir -p "$TEST_TMP/src/$1/lib"
	dd if="$src" of="$TEST_TMP/src/$1/lib/data.bin" bs=1024 skip=$(($2 * 1024)) count="$3" 2>/dev/null
	printf '%s\n' "$1" >"$TEST_TMP/src/$1/NAME"
	add_src_artifact "$1"
}
add A 0 1024
add B 1 1024
add C 2 1024
add D 3 1024
add E 4 1024
add F 5 1024
add Big 0 6144
hash_of() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
installed() { test -d "$TEST_TMP/store/artifacts/$(hash_of "$1")"; }
touch_art() { cat "$mnt/$1/NAME" >/dev/null; }

mnt=$TEST_TMP/mnt
# 3.5 MiB: three artifacts fit, a fourth goes over; evict down to 60% = 2.1 MiB.
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store,toml=$TEST_TMP/Artifacts.toml,quota=3584K,quota_low=60" ||
	skip_all "mount failed"

# --- LRU order and the low-water mark ----------------------------------------------------
touch_art A; sleep 1.1
touch_art B; sleep 1.1
touch_art C; sleep 1.1
for n in A B C; do ok "$n installed" installed "$n"; done
touch_art A	# A is now the most recently used
sleep 1.1
touch_art D	# 4 MiB, over the quota: evict B, then C (least recently used): 2 MiB
ok "D installed" installed D
fails "B, the least recently used, evicted" installed B
fails "C, next, evicted down to the low-water mark" installed C
ok "A, used recently, kept" installed A
ok "the eviction is logged" grep -q "quota: .* evicted 2 artifacts" "$TEST_TMP/fs.log"
ok "an evicted artifact is served again on access (installed anew)" \
	cmp "$mnt/B/lib/data.bin" "$TEST_TMP/src/B/lib/data.bin"

# --- an artifact with an open file is pinned ------------------------------------------------
# Now: A, D, B installed (B newest).  Keep a file of A open and make A the oldest.
exec 3<"$mnt/A/lib/data.bin"
sleep 1.1
touch_art D
sleep 1.1
touch_art B
sleep 1.1
touch_art E	# over: the LRU is A, but it is open: D goes instead
ok "A, least recently used but open, is not evicted" installed A
fails "D, the oldest without open files, is evicted" installed D
ok "the open file still reads correctly" cmp /dev/fd/3 "$TEST_TMP/src/A/lib/data.bin"
exec 3<&-

# --- bigger than the quota ---------------------------------------------------------------------
err=$("$PY" -c 'import errno,sys
try:
    open(sys.argv[1], "rb").read(); print("no error")
except OSError as e:
    print(errno.errorcode[e.errno])' "$mnt/Big/NAME")
is "an artifact larger than the whole quota is EFBIG" "$err" EFBIG
ok "... with a log line for the admin" grep -q "'Big'.*larger than the whole quota" "$TEST_TMP/fs.log"
fails "... and nothing of it in the store" installed Big
is "no leftovers in tmp/" "$(ls -A "$TEST_TMP/store/tmp" | wc -l)" 0

# --- gc beside the daemon: an open file keeps working ----------------------------------------
# Remove every root so everything is unrooted, and keep a file of F open.
touch_art F
exec 3<"$mnt/F/lib/data.bin"
for r in $("$ARTIFACTCTL" root ls --store "$TEST_TMP/store" 2>/dev/null | awk 'NR > 1 { print $3 }'); do
	"$ARTIFACTCTL" root rm --store "$TEST_TMP/store" "$r" >/dev/null 2>&1
done
"$ARTIFACTCTL" gc --store "$TEST_TMP/store" --grace 0 >"$TEST_TMP/gc.out" 2>&1
ok "gc with grace 0 runs beside the daemon" test $? -eq 0
ok "the artifact with an open file is not removed" installed F
ok "... gc says it is in use" grep -qi "in use" "$TEST_TMP/gc.out"
ok "the open file keeps working" cmp /dev/fd/3 "$TEST_TMP/src/F/lib/data.bin"
exec 3<&-
ok "what gc removed is installed again on the next access" \
	cmp "$mnt/E/lib/data.bin" "$TEST_TMP/src/E/lib/data.bin"

unmount_artifactfs
is "clean unmount" $? 0

# --- the artifact just installed is not the quota's victim ------------------------------------
: >"$TEST_TMP/fs.log"
# A, B and C held open fill the store; D goes over the quota and is the only
# artifact without an open file: it stays (over the quota) for the access
# that installed it, which must not fail.
mount_artifactfs "$mnt" -o "store=$TEST_TMP/store2,toml=$TEST_TMP/Artifacts.toml,quota=3584K,quota_low=60" ||
	skip_all "mount failed"
exec 4<"$mnt/A/lib/data.bin" 5<"$mnt/B/lib/data.bin" 6<"$mnt/C/lib/data.bin"
ok "an install over the quota with everything else held open serves its access" \
	cmp "$mnt/D/lib/data.bin" "$TEST_TMP/src/D/lib/data.bin"
ok "... the artifact stays installed" test -d "$TEST_TMP/store2/artifacts/$(hash_of D)"
ok "... and the log says the rest is in use" grep -q "quota: still above 60% of the quota" "$TEST_TMP/fs.log"
for fd in 4 5 6; do
	ok "held file $fd still reads" test "$(wc -c <"/dev/fd/$fd")" -eq 1048576
done
exec 4<&- 5<&- 6<&-
unmount_artifactfs
is "clean unmount" $? 0
done_testing
