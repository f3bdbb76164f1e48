#!/bin/sh
# keep_seek_index=on on a real mount: after the daemon installs a gzip
# tarball whole, its seek index appears in the store (made on the keeper's
# thread after the readers were served), equal byte for byte to what
# `artifactctl seek-index` makes of the same tarball, and
# `artifactctl seek-index --from-store` hands it out.  A zstd tarball gets
# none (the index is for gzip), nor does a mount without the setting; the
# copy of the tarball leaves nothing in the store's tmp/.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"

need_mount_test
need_artifactctl

for n in G H Z; do
	mkdir -p "$TEST_TMP/src/$n/lib"
	printf 'artifact %s\n' "$n" >"$TEST_TMP/src/$n/f"
	head -c 300000 /dev/urandom >"$TEST_TMP/src/$n/lib/blob"
	seq 1 200000 >"$TEST_TMP/src/$n/lib/numbers"
done
: >"$TEST_TMP/Artifacts.toml"
add_src_artifact G
add_src_artifact H
tar -C "$TEST_TMP/src/Z" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	--zstd -cf "$TEST_TMP/Z.tar.zst" . || skip_all "tar has no --zstd"
toml_entry Z "$("$ARTIFACTCTL" hash "$TEST_TMP/src/Z")" \
	"$(sha256sum "$TEST_TMP/Z.tar.zst" | cut -c1-64)" "file://$TEST_TMP/Z.tar.zst" \
	>>"$TEST_TMP/Artifacts.toml"
G=$("$ARTIFACTCTL" hash "$TEST_TMP/src/G")
H=$("$ARTIFACTCTL" hash "$TEST_TMP/src/H")
Z=$("$ARTIFACTCTL" hash "$TEST_TMP/src/Z")

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml,keep_seek_index=on" ||
	skip_all "mount failed"

is "G reads through the mount" "$(cat "$mnt/G/f")" "artifact G"
ok "G's seek index appears in the store" wait_for test -s "$store/seekidx/$G"
ok "... logged" wait_for grep -q "kept the seek index of $G" "$TEST_TMP/fs.log"
ok "seek-index --from-store hands it out" \
	exit_is 0 "$ARTIFACTCTL" seek-index --from-store "$G" --store "$store" -o "$TEST_TMP/kept.idx"
ok "seek-index of the tarball" \
	exit_is 0 "$ARTIFACTCTL" seek-index -o "$TEST_TMP/made.idx" "$TEST_TMP/G.tar.gz"
ok "... the same bytes" cmp "$TEST_TMP/kept.idx" "$TEST_TMP/made.idx"
is "Z (zstd) reads through the mount" "$(cat "$mnt/Z/f")" "artifact Z"
ok "... and gets no index" test ! -e "$store/seekidx/$Z"
is "nothing left in the store's tmp/" "$(ls -A "$store/tmp")" ""
unmount_artifactfs

mount_artifactfs "$mnt" -o "store=$store,toml=$TEST_TMP/Artifacts.toml" || bail_out "remount failed"
is "without the setting, H reads" "$(cat "$mnt/H/f")" "artifact H"
ok "... and gets no index" test ! -e "$store/seekidx/$H"
unmount_artifactfs

done_testing
