#!/bin/sh
# bench-perfile.sh - per_file=on against the whole install and archivemount
# (issue 16): the first byte of one file of a large artifact.
#
#   ARTIFACTFS=... ARTIFACTCTL=... sh tests/bench/bench-perfile.sh [DIR]
#
# The workload is DIR (default /usr/lib/x86_64-linux-gnu, about 1 GB of
# real files), packed once by artifactctl pack into $BENCH_DATA (default
# ${TMPDIR:-/tmp}/artifactfs-bench-perfile) with its seek index
# (artifactctl seek-index) and kept; nginx serves both on loopback with an
# access log of the body bytes sent.  Each method runs cold ($BENCH_RUNS
# rounds, default 3, interleaved; a fresh store and mount each time) and is
# timed with the bytes nginx sent (the origin's bytes):
#   perfile-first  per_file=on: cat of a file of about 64 KiB in the middle
#                  of the tarball (the index's head, its window and its span)
#   perfile-next   then a second such file, elsewhere (its window and span)
#   perfile-ls     per_file=on: ls -lR of the whole artifact
#   whole          without per_file: the same cat (the whole install)
#   archivemount   archivemount of the local tar.gz, then the same cat (no
#                  origin: it reads the local file), when installed
# and prints each median with the bytes, and the index's size per GB of
# tarball.  A benchmark, not a test: it asserts only that the bytes read
# equal the source.  Needs root (FUSE mount) and nginx.
set -eu
: "${ARTIFACTFS:?set ARTIFACTFS to the artifactfs binary}"
: "${ARTIFACTCTL:?set ARTIFACTCTL to the artifactctl binary}"
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DATA=${BENCH_DATA:-${TMPDIR:-/tmp}/artifactfs-bench-perfile}
src=${1:-/usr/lib/x86_64-linux-gnu}
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
[ -n "$NGINX" ] || { echo "bench-perfile: nginx not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-perfile.XXXXXX")
mnt=$work/mnt
ngpid=
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || true
	[ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null && wait "$ngpid" 2>/dev/null || true
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# ---- the workload, packed once ------------------------------------------------------
mkdir -p "$BENCH_DATA"
if [ ! -s "$BENCH_DATA/w.tar.gz.seekidx" ] || [ ! -s "$BENCH_DATA/w.tree" ]; then
	# artifactctl pack takes files, directories and symlinks only: a copy without the rest
	rm -rf "$BENCH_DATA/src"
	mkdir -p "$BENCH_DATA/src"
	cp -a "$src/." "$BENCH_DATA/src/"
	find "$BENCH_DATA/src" ! -type f ! -type d ! -type l -delete
	"$ARTIFACTCTL" pack -o "$BENCH_DATA/w.tar.gz" "$BENCH_DATA/src" | cut -d' ' -f1 \
		>"$BENCH_DATA/w.tree"
	"$ARTIFACTCTL" seek-index -o "$BENCH_DATA/w.tar.gz.seekidx" "$BENCH_DATA/w.tar.gz" >/dev/null
fi
tree=$(cat "$BENCH_DATA/w.tree")
tarsize=$(stat -c %s "$BENCH_DATA/w.tar.gz")
idxsize=$(stat -c %s "$BENCH_DATA/w.tar.gz.seekidx")
nfiles=$(find "$BENCH_DATA/src" -type f | wc -l)
# two files of 48 to 80 KiB, at 1/2 and 3/4 of the tar order (sorted names)
(cd "$BENCH_DATA/src" && find . -type f -size +48k -size -80k | LC_ALL=C sort) >"$work/cands"
nc=$(wc -l <"$work/cands")
[ "$nc" -ge 2 ] || { echo "bench-perfile: no 64 KiB files in $src" >&2; exit 1; }
f1=$(sed -n "$((nc / 2))p" "$work/cands" | sed 's|^\./||')
f2=$(sed -n "$((nc * 3 / 4))p" "$work/cands" | sed 's|^\./||')
echo "workload: $src, $nfiles files, tarball $tarsize bytes, index $idxsize bytes" \
	"($(awk -v i="$idxsize" -v t="$tarsize" 'BEGIN { printf "%.1f MB per GB of tarball", i / t * 1000 }'));" \
	"tree $tree; $(nproc) cores"
echo "files: $f1 ($(stat -c %s "$BENCH_DATA/src/$f1") bytes), $f2 ($(stat -c %s "$BENCH_DATA/src/$f2") bytes)"

# ---- nginx with the bytes it sends ---------------------------------------------------
port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
user=
[ "$(id -u)" -eq 0 ] && user="user $(id -un) $(id -gn);"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/nginx/nginx.pid; $user
events { worker_connections 64; }
http {
	log_format b '\$request_method \$request_uri \$status \$body_bytes_sent';
	access_log $work/nginx/access.log b; sendfile on; types { } default_type application/octet-stream;
	client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
	fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
	server { listen 127.0.0.1:$port; root $BENCH_DATA; location = /_sync { return 204; } }
}
EOF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
ngpid=$!
URL=http://127.0.0.1:$port
i=0
until curl -fso /dev/null "$URL/_sync"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "bench-perfile: nginx did not start" >&2; exit 1; }
	sleep 0.1
done
cat >"$work/Artifacts.toml" <<EOF
[w]
git-tree-sha1 = "$tree"
[[w.download]]
url = "$URL/w.tar.gz"
sha256 = "$(sha256sum "$BENCH_DATA/w.tar.gz" | cut -c1-64)"
seek_index = "$URL/w.tar.gz.seekidx"
EOF

# origin bytes since mark: the body bytes of every request logged after
# line $mark (a /_sync request is logged last, so all before it are in)
sync_n=0
origin_sync() {
	sync_n=$((sync_n + 1))
	curl -fso /dev/null "$URL/_sync?$sync_n"
	until grep -q "^GET /_sync?$sync_n " "$work/nginx/access.log"; do sleep 0.05; done
}
mark() { origin_sync; markline=$(wc -l <"$work/nginx/access.log"); }
origin() {
	origin_sync
	tail -n +"$((markline + 1))" "$work/nginx/access.log" |
		awk '$2 !~ /^\/_sync/ && $2 ~ /^\/w\.tar\.gz/ { n += $4 } END { print n + 0 }'
}
tarball_bytes() {
	origin_sync
	tail -n +"$((markline + 1))" "$work/nginx/access.log" |
		awk '$2 == "/w.tar.gz" { n += $4 } END { print n + 0 }'
}

mount_fresh() {	# mount_fresh OPTS: an empty store, mounted
	fusermount3 -u "$mnt" 2>/dev/null || true
	chmod -R u+w "$work/store" 2>/dev/null || true
	rm -rf "$work/store"
	mkdir -p "$mnt"
	"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml$1"
}

# timed_cat FILE OUT: cat FILE through the mount, check it, print "seconds origin-bytes"
timed_cat() {
	mark
	t0=$(now)
	cat "$mnt/w/$1" >"$work/read"
	t1=$(now)
	cmp -s "$work/read" "$BENCH_DATA/src/$1" || echo "bench-perfile: $1 differs" >&2
	echo "$(secs "$t0" "$t1") $(origin)"
}

: >"$work/r.first" >"$work/r.next" >"$work/r.ls" >"$work/r.whole" >"$work/r.am"
have_am=
command -v archivemount >/dev/null 2>&1 && have_am=1
for r in $(seq "$BENCH_RUNS"); do
	mount_fresh ",per_file=on"
	timed_cat "$f1" >>"$work/r.first"
	timed_cat "$f2" >>"$work/r.next"
	mount_fresh ",per_file=on"
	mark
	t0=$(now)
	ls -lR "$mnt/w/" >/dev/null
	t1=$(now)
	echo "$(secs "$t0" "$t1") $(tarball_bytes) $(origin)" >>"$work/r.ls"
	mount_fresh ""
	timed_cat "$f1" >>"$work/r.whole"
	fusermount3 -u "$mnt"
	if [ -n "$have_am" ]; then
		mkdir -p "$work/am"
		t0=$(now)
		archivemount -o ro "$BENCH_DATA/w.tar.gz" "$work/am"
		cat "$work/am/$f1" >"$work/read"
		t1=$(now)
		cmp -s "$work/read" "$BENCH_DATA/src/$f1" || echo "bench-perfile: archivemount: $f1 differs" >&2
		fusermount3 -u "$work/am" || umount "$work/am"
		echo "$(secs "$t0" "$t1") 0" >>"$work/r.am"
	fi
done

# report NAME FILE: the median seconds and the median origin bytes of the runs
report() {
	t=$(cut -d' ' -f1 "$2" | median)
	b=$(cut -d' ' -f2 "$2" | median)
	awk -v n="$1" -v t="$t" -v b="$b" -v ts="$tarsize" 'BEGIN {
		printf "  %-14s %8.1f ms  %12d origin bytes  %6.2f %% of the tarball\n", n, t * 1000, b, b / ts * 100 }'
}
echo "cold, median of $BENCH_RUNS interleaved runs (origin bytes from nginx's log):"
report perfile-first "$work/r.first"
report perfile-next "$work/r.next"
report whole "$work/r.whole"
t=$(cut -d' ' -f1 "$work/r.ls" | median)
tb=$(cut -d' ' -f2 "$work/r.ls" | median)
ib=$(cut -d' ' -f3 "$work/r.ls" | median)
awk -v t="$t" -v tb="$tb" -v ib="$ib" 'BEGIN {
	printf "  %-14s %8.1f ms  %12d tarball bytes  (%d bytes in all, with the index)\n", "perfile-ls -lR", t * 1000, tb, ib }'
if [ -n "$have_am" ]; then
	t=$(cut -d' ' -f1 "$work/r.am" | median)
	awk -v t="$t" 'BEGIN { printf "  %-14s %8.1f ms  (the local tar.gz: mount and cat)\n", "archivemount", t * 1000 }'
else
	echo "  archivemount   not installed"
fi
