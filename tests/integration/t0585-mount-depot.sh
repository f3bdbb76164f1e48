#!/bin/sh
# The mount as a read-only Julia depot (issue 13): depot_layout=on gives
# <mnt>/artifacts/<hash>, so that a JULIA_DEPOT_PATH of a user depot and
# the mount finds every artifact the mount knows, the first depot first,
# without a download until a file inside is touched; any_hash=on asks the
# Pkg server (here nginx, standing in for a storage server: static files
# under /artifact/<hash>, found through JULIA_PKG_SERVER) with one HEAD per
# unknown hash, caches the answer, installs from GET /artifact/<hash> and
# verifies the tree hash; gzip and zstd tarballs alike.  Julia is not
# needed: its lookup (isdir of <depot>/artifacts/<hash> per depot, in
# order) is emulated in shell.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_mount_test
need_nginx
need_prog tar
need_prog zstd

www=$TEST_TMP/www
mkdir -p "$www/artifact" "$TEST_TMP/src"
# mksrc NAME WORDS: a small source tree of its own content
mksrc() {
	mkdir -p "$TEST_TMP/src/$1/lib" "$TEST_TMP/src/$1/share/doc"
	printf '%s\n' "$2" >"$TEST_TMP/src/$1/share/doc/README"
	head -c 70000 /dev/urandom >"$TEST_TMP/src/$1/lib/lib$1.so"
	chmod 755 "$TEST_TMP/src/$1/lib/lib$1.so"
	ln -s "lib$1.so" "$TEST_TMP/src/$1/lib/lib$1.so.1"
}
tree() { "$ARTIFACTCTL" hash "$TEST_TMP/src/$1"; }
# serve NAME gz|zst: put NAME's tarball where the Pkg server serves /artifact/<hash>
serve() {
	_h=$(tree "$1")
	if [ "$2" = zst ]; then
		tar -C "$TEST_TMP/src/$1" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime=@0 -cf - . | zstd -q -c >"$www/artifact/$_h"
	else
		tar -C "$TEST_TMP/src/$1" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime=@0 -czf "$www/artifact/$_h" .
	fi
}
for n in named pkgonly zst wrong user; do
	mksrc "$n" "artifact $n"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
	mksrc "cold$i" "cold artifact $i"
	serve "cold$i" gz
done
add_src_artifact named
add_src_artifact user
# a name that the artifacts/ directory takes
add_src_artifact user
awk '/^\[user\]/ { n++ } n == 2 { sub(/\[user\]/, "[artifacts]"); sub(/\[user\.download\]/, "[artifacts.download]") } { print }' \
	"$TEST_TMP/Artifacts.toml" >"$TEST_TMP/A.toml" && mv "$TEST_TMP/A.toml" "$TEST_TMP/Artifacts.toml"
serve pkgonly gz
serve zst zst
named=$(tree named)
pkgonly=$(tree pkgonly)
zst=$(tree zst)
user=$(tree user)
# what the server sends for $wrong is another tree: the tree hash must catch it
wrong=$(printf '%040d' 0 | tr 0 e)
tar -C "$TEST_TMP/src/wrong" -czf "$www/artifact/$wrong" .
unknown=$(printf '%040d' 0 | tr 0 d)
[ "$zst" != "$pkgonly" ] || skip_all "test trees are equal"
zstd -t "$www/artifact/$zst" 2>/dev/null || skip_all "zstd did not write a zstd stream"

start_nginx "$www" || {
	echo "not ok 1 - nginx"
	exit 1
}

# A user depot holding an installed artifact, as Julia's first depot.
userdepot=$TEST_TMP/home/.julia
mkdir -p "$userdepot/artifacts"
cp -a "$TEST_TMP/src/user" "$userdepot/artifacts/$user"

mnt=$TEST_TMP/mnt
store=$TEST_TMP/store
log=$TEST_TMP/fs.log
JULIA_PKG_SERVER=$NGINX_URL/ mount_artifactfs "$mnt" -o \
	"store=$store,toml=$TEST_TMP/Artifacts.toml,depot_layout=on,any_hash=on,negative_timeout=3600" || {
	echo "not ok 1 - mount"
	exit 1
}

# julia_find HASH: Julia's artifact_path for JULIA_DEPOT_PATH=$userdepot:$mnt,
# the first depot where <depot>/artifacts/<hash> is a directory, or nothing.
JULIA_DEPOT_PATH=$userdepot:$mnt
julia_find() {
	_ifs=$IFS
	IFS=:
	for _d in $JULIA_DEPOT_PATH; do
		if [ -d "$_d/artifacts/$1" ]; then
			IFS=$_ifs
			echo "$_d/artifacts/$1"
			return 0
		fi
	done
	IFS=$_ifs
	return 1
}

# --- the layout ------------------------------------------------------------------------
ok "the root holds artifacts/" test -d "$mnt/artifacts"
is "the root lists artifacts/ beside the names" "$(ls "$mnt" | tr '\n' ' ')" "artifacts named user "
ok "a name 'artifacts' is refused with its file" \
	grep -qF "$TEST_TMP/Artifacts.toml: name 'artifacts' left out: the directory artifacts/" "$log"
is "artifacts/ lists the hashes of the names" "$(ls "$mnt/artifacts" | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$named" "$user" | sort | tr '\n' ' ')"
is "an entry is a symlink to the hash at the root" "$(readlink "$mnt/artifacts/$named")" "../$named"

# --- Julia's lookup order -----------------------------------------------------------------
nginx_mark
is "a hash of the user depot is found there first, though the mount has it too" \
	"$(julia_find "$user")" "$userdepot/artifacts/$user"
ok "... (the mount has it)" test -d "$mnt/artifacts/$user"
is "a named hash is found in the mount" "$(julia_find "$named")" "$mnt/artifacts/$named"
is "... without a download" "$(nginx_count GET /artifact/)" 0
fails "... nor an install" test -e "$store/artifacts/$named"
ok "a file inside installs it" cmp "$TEST_TMP/src/named/share/doc/README" \
	"$mnt/artifacts/$named/share/doc/README"

# --- a hash only the Pkg server has -----------------------------------------------------------
nginx_mark
is "a hash only the Pkg server has is found in the mount" "$(julia_find "$pkgonly")" \
	"$mnt/artifacts/$pkgonly"
is "... after one HEAD" "$(nginx_count HEAD "^/artifact/$pkgonly\$")" 1
ok "... with Pkg's headers (protocol 1.0, the host's triplet)" \
	grep -qE "^HEAD /artifact/$pkgonly 200 1\.0 [a-z0-9_]+-[a-z]+" "$NGINX_DIR/access.log"
is "... and no GET" "$(nginx_count GET /artifact/)" 0
ok "ls inside installs it from GET /artifact/<hash>" ls "$mnt/artifacts/$pkgonly/lib"
ok "... byte for byte the source" diff -r "$TEST_TMP/src/pkgonly" "$mnt/artifacts/$pkgonly/"
is "... whose tree hash is the one asked for" "$("$ARTIFACTCTL" hash "$mnt/artifacts/$pkgonly/")" \
	"$pkgonly"
is "... in one GET" "$(nginx_count GET "^/artifact/$pkgonly\$")" 1
is "... and still one HEAD" "$(nginx_count HEAD "^/artifact/$pkgonly\$")" 1
ok "... and it is listed now" sh -c "ls '$mnt/artifacts' | grep -qx '$pkgonly'"

ok "a zstd tarball of the Pkg server installs" diff -r "$TEST_TMP/src/zst" "$mnt/artifacts/$zst/"
is "... with its tree hash" "$("$ARTIFACTCTL" hash "$mnt/$zst/")" "$zst"

is "a tarball of another tree is refused" "$(list_errno "$mnt/artifacts/$wrong/")" EIO
ok "... with a tree hash mismatch in the log" grep -q "$wrong" "$log"
fails "... and not installed" test -e "$store/artifacts/$wrong"

# --- a hash the Pkg server does not have ------------------------------------------------------
nginx_mark
fails "an unknown hash is not found" julia_find "$unknown"
is "... ENOENT in artifacts/" "$(stat_errno "$mnt/artifacts/$unknown")" ENOENT
is "... and at the root" "$(stat_errno "$mnt/$unknown")" ENOENT
for i in 1 2 3; do
	stat_errno "$mnt/artifacts/$unknown" >/dev/null
	stat_errno "$mnt/$unknown/x" >/dev/null
done
is "... after exactly one HEAD for all those lookups" \
	"$(nginx_count HEAD "^/artifact/$unknown\$")" 1
is "... and no GET" "$(nginx_count GET "^/artifact/$unknown\$")" 0
# concurrent first lookups of another unknown hash, through both directories
# (the kernel merges lookups of one path, not of two)
fresh=$(printf '%040d' 0 | tr 0 c)
pids=
for i in 1 2 3 4 5 6 7 8; do
	if [ $((i % 2)) -eq 0 ]; then
		stat_errno "$mnt/$fresh" >"$TEST_TMP/conc.$i" &
	else
		stat_errno "$mnt/artifacts/$fresh" >"$TEST_TMP/conc.$i" &
	fi
	pids="$pids $!"
done
wait $pids
is "8 concurrent lookups of a new unknown hash answer ENOENT" \
	"$(cat "$TEST_TMP"/conc.* | sort -u)" ENOENT
is "... after exactly one HEAD" "$(nginx_count HEAD "^/artifact/$fresh\$")" 1
fails "a non-hash name of artifacts/ is absent" test -e "$mnt/artifacts/Overrides.toml"

# --- the time of a cold ls of a hash only the Pkg server has ----------------------------------
# (a report, not a check: HEAD, GET, unpack, tree hash and install of 70 KB)
# ls of a hash never looked up; then isdir (one HEAD) and ls of another
times= dirs= lss=
for i in 1 2 3 4 5 6 7; do
	h=$(tree "cold$i")
	t0=$(date +%s%N)
	ls "$mnt/artifacts/$h" >/dev/null
	t1=$(date +%s%N)
	times="$times $(((t1 - t0) / 1000))"
done
for i in 8 9 10 11 12 13 14; do
	h=$(tree "cold$i")
	t0=$(date +%s%N)
	test -d "$mnt/artifacts/$h"
	t1=$(date +%s%N)
	ls "$mnt/artifacts/$h" >/dev/null
	t2=$(date +%s%N)
	dirs="$dirs $(((t1 - t0) / 1000))"
	lss="$lss $(((t2 - t1) / 1000))"
done
median() { printf '%s\n' "$@" | sort -n | sed -n 4p; }
echo "# cold ls <mnt>/artifacts/<hash> of a hash only the Pkg server has (70 KB): runs (us):$times; median $(median $times) us"
echo "# ... split: isdir (HEAD) runs (us):$dirs; median $(median $dirs) us;" \
	"then ls (GET, unpack, install) runs (us):$lss; median $(median $lss) us"
ok "every cold ls installed its artifact" sh -c "ls '$store/artifacts' | grep -c . | grep -qx 17"
unmount_artifactfs
is "the daemon stops cleanly" "$?" 0

# --- the HEAD goes through the site's proxies ------------------------------------------------
# Port 1 of loopback refuses: a proxy failure, so the HEAD goes on to DIRECT.
mnt2=$TEST_TMP/mnt2
before=$(nginx_count HEAD "^/artifact/$zst\$")
JULIA_PKG_SERVER=$NGINX_URL/ mount_artifactfs "$mnt2" -o \
	"store=$TEST_TMP/store2,depot_layout=on,any_hash=on,proxy=http://127.0.0.1:1;DIRECT" || {
	echo "not ok - mount with proxies"
	exit 1
}
ok "a dead proxy, then DIRECT: the Pkg server's hash is found" test -d "$mnt2/artifacts/$zst"
is "... by one HEAD at the server" "$(nginx_count HEAD "^/artifact/$zst\$")" $((before + 1))
unmount_artifactfs
is "... the daemon stops cleanly" "$?" 0
# Only the dead proxy: the HEAD never reaches the server, and the lookup fails.
mnt3=$TEST_TMP/mnt3
JULIA_PKG_SERVER=$NGINX_URL/ mount_artifactfs "$mnt3" -o \
	"store=$TEST_TMP/store3,depot_layout=on,any_hash=on,proxy=http://127.0.0.1:1" || {
	echo "not ok - mount with a dead proxy"
	exit 1
}
is "only a dead proxy: ENOENT" "$(stat_errno "$mnt3/artifacts/$zst")" ENOENT
is "... and no HEAD reached the server" "$(nginx_count HEAD "^/artifact/$zst\$")" $((before + 1))
unmount_artifactfs
is "... the daemon stops cleanly" "$?" 0

done_testing
