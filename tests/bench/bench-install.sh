#!/bin/sh
# bench-install.sh - a verified install against the unverified pipes, on a
# large real tarball served by nginx on loopback.  A benchmark, not a test:
# it prints medians and ratios, never fails on a figure.
#
# usage: tests/bench/bench-install.sh [DIR]
#
# The workload is DIR (default /usr/lib/llvm-14 when present, else about
# $BENCH_MB MB, default 600, of /usr/lib and /usr/share), packed once as
# tar.gz (gzip -6) and tar.zst (zstd -3) into $BENCH_DATA (default
# ${TMPDIR:-/tmp}/artifactfs-bench-install) and kept.  Each round runs
# every method once, in turn (interleaved), $BENCH_RUNS rounds (default 3):
#   fetch             artifactctl fetch (ISA-L or libzstd, three threads);
#                     durable later (its mark makes a reboot check it)
#   fetch-sync        artifactctl fetch --sync: the syncfs() before the
#                     rename, i.e. what waiting for the disk costs (the
#                     pipes below write to the page cache only)
#   fetch-1thread     the same with ARTIFACTFS_PIPELINE=0 (one thread)
#   fetch-libarchive  ARTIFACTFS_PIPELINE=0 ARTIFACTFS_INFLATE=libarchive:
#                     the install as it was before ISA-L (zlib, one thread)
#   curl|tar          curl URL | tar -x (with -z or --zstd): verifies nothing
#   curl|igzip|tar    curl URL | igzip -d | tar -x, when igzip is installed
#   julia-sequence    what Julia's Pkg does: download to a file, sha256sum,
#                     tar -x, then the tree hash re-read (artifactctl hash)
#   mount             the daemon's cold first access: artifactfs mounted on
#                     an empty store (not timed), then ls of the artifact,
#                     which installs it whole (timed), then the unmount
# and prints per method the median wall time and its ratio to curl|tar.
# Then bench-stages (tests/bench/bench-stages.c) prints the throughput of
# each stage on one core.  Environment: ARTIFACTCTL, ARTIFACTFS (default:
# beside ARTIFACTCTL), BENCH_STAGES, CURL.
set -u

BENCH_MB=${BENCH_MB:-600}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DATA=${BENCH_DATA:-${TMPDIR:-/tmp}/artifactfs-bench-install}
CURL=${CURL:-curl}
ARTIFACTCTL=${ARTIFACTCTL:-$(pwd)/artifactctl}
ARTIFACTFS=${ARTIFACTFS:-$(dirname "$ARTIFACTCTL")/artifactfs}
BENCH_STAGES=${BENCH_STAGES:-$(dirname "$ARTIFACTCTL")/tests/bench/bench-stages}
[ -x "$ARTIFACTCTL" ] || { echo "bench-install: set ARTIFACTCTL to the built artifactctl" >&2; exit 1; }
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
[ -n "$NGINX" ] || { echo "bench-install: nginx not installed" >&2; exit 1; }
command -v "$CURL" >/dev/null || { echo "bench-install: curl not installed" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-install.XXXXXX")
ngpid=
cleanup() {
	[ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null && wait "$ngpid" 2>/dev/null
	mountpoint -q "$scratch/mnt" 2>/dev/null && fusermount3 -u "$scratch/mnt"
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the workload ----------------------------------------------------------------

mkdir -p "$BENCH_DATA" || exit 1
if [ ! -s "$BENCH_DATA/w.tar.gz" ] || [ ! -s "$BENCH_DATA/w.tar.zst" ]; then
	src=${1:-}
	if [ -z "$src" ] && [ -d /usr/lib/llvm-14 ]; then
		src=/usr/lib/llvm-14
	fi
	if [ -n "$src" ]; then
		tar -C "$(dirname "$src")" -cf "$BENCH_DATA/w.tar" "$(basename "$src")" || exit 1
	else
		# whole top-level entries of /usr/lib and /usr/share until BENCH_MB
		left=$((BENCH_MB * 1024))
		: >"$scratch/list"
		for e in /usr/lib/* /usr/share/*; do
			[ "$left" -gt 0 ] || break
			k=$(du -sk "$e" 2>/dev/null | cut -f1)
			[ -n "$k" ] && [ "$k" -le "$left" ] || continue
			echo "${e#/}" >>"$scratch/list"
			left=$((left - k))
		done
		tar -C / -cf "$BENCH_DATA/w.tar" -T "$scratch/list" 2>/dev/null
	fi
	gzip -6 -c "$BENCH_DATA/w.tar" >"$BENCH_DATA/w.tar.gz" || exit 1
	zstd -q -3 -c "$BENCH_DATA/w.tar" >"$BENCH_DATA/w.tar.zst" || exit 1
	rm -f "$BENCH_DATA/w.tar"
fi
mb() { echo $(($(wc -c <"$1") / 1000000)); }
tree=$("$ARTIFACTCTL" hash "$BENCH_DATA/w.tar.gz" | awk '{print $1; exit}')
rawmb=$(gzip -dc "$BENCH_DATA/w.tar.gz" | wc -c)
echo "workload: $((rawmb / 1000000)) MB of tar, $(mb "$BENCH_DATA/w.tar.gz") MB tar.gz," \
	"$(mb "$BENCH_DATA/w.tar.zst") MB tar.zst; tree $tree; $(nproc) cores"

# ---- nginx on loopback -------------------------------------------------------------

port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
user=
[ "$(id -u)" -eq 0 ] && user="user $(id -un) $(id -gn);"
mkdir -p "$scratch/nginx"
cat >"$scratch/nginx/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $scratch/nginx/nginx.pid; $user
events { worker_connections 64; }
http {
	access_log off; sendfile on; types { } default_type application/octet-stream;
	client_body_temp_path $scratch/nginx; proxy_temp_path $scratch/nginx;
	fastcgi_temp_path $scratch/nginx; uwsgi_temp_path $scratch/nginx;
	scgi_temp_path $scratch/nginx;
	server { listen 127.0.0.1:$port; root $BENCH_DATA; }
}
EOF
"$NGINX" -p "$scratch/nginx" -c "$scratch/nginx/nginx.conf" -e "$scratch/nginx/error.log" &
ngpid=$!
URL=http://127.0.0.1:$port
i=0
until "$CURL" -fso /dev/null "$URL/w.tar.gz" -r 0-0; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "bench-install: nginx did not start" >&2; exit 1; }
	sleep 0.1
done

for c in gz zst; do
	sha=$(sha256sum "$BENCH_DATA/w.tar.$c" | cut -d' ' -f1)
	cat >"$scratch/$c.toml" <<EOF
[w]
git-tree-sha1 = "$tree"
[[w.download]]
url = "$URL/w.tar.$c"
sha256 = "$sha"
EOF
done

# ---- the methods --------------------------------------------------------------------

# run METHOD COMP: one timed run into a fresh directory; prints seconds.
# As root, every run starts from the same caches: dropped, then the tarball
# read back in (nginx serves it from memory).  Without that a run paid for
# what the one before it left: after julia-sequence, ext4's inode allocator
# spent 36% of fetch's samples scanning the cached inode-table blocks of
# the files just removed (perf: find_inode_bit, recently_deleted,
# find_get_block_common), 1.44 s of system time against 0.34 s from
# dropped caches, and which method ran before which decided the figures.
run() {
	out=$scratch/out
	rm -rf "$out" && mkdir -p "$out"
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo 3 >/proc/sys/vm/drop_caches
		cat "$BENCH_DATA/w.tar.$2" >/dev/null
	fi
	zflag=-z
	[ "$2" = zst ] && zflag=--zstd
	if [ "$1" = mount ]; then
		mkdir -p "$scratch/mnt"
		"$ARTIFACTFS" "$scratch/mnt" -o "store=$out,toml=$scratch/$2.toml" ||
			echo "bench-install: artifactfs did not mount" >&2
	fi
	t0=$(date +%s.%N)
	case $1 in
	fetch) "$ARTIFACTCTL" fetch --store "$out" "$scratch/$2.toml" >/dev/null ;;
	fetch-sync) "$ARTIFACTCTL" fetch --sync --store "$out" "$scratch/$2.toml" >/dev/null ;;
	fetch-1thread) ARTIFACTFS_PIPELINE=0 "$ARTIFACTCTL" fetch --store "$out" \
		"$scratch/$2.toml" >/dev/null ;;
	fetch-libarchive) ARTIFACTFS_PIPELINE=0 ARTIFACTFS_INFLATE=libarchive \
		"$ARTIFACTCTL" fetch --store "$out" "$scratch/$2.toml" >/dev/null ;;
	'curl|tar') "$CURL" -fsS "$URL/w.tar.$2" | tar -x $zflag -C "$out" ;;
	'curl|igzip|tar') "$CURL" -fsS "$URL/w.tar.$2" | igzip -dc | tar -x -C "$out" ;;
	julia-sequence)
		"$CURL" -fsS -o "$out/w.tar.$2" "$URL/w.tar.$2" &&
			sha256sum "$out/w.tar.$2" >/dev/null &&
			mkdir "$out/x" && tar -x $zflag -C "$out/x" -f "$out/w.tar.$2" &&
			"$ARTIFACTCTL" hash "$out/x" >/dev/null ;;
	mount) ls "$scratch/mnt/w" >/dev/null ;;
	esac
	rc=$?
	t1=$(date +%s.%N)
	[ "$1" = mount ] && fusermount3 -u "$scratch/mnt"
	[ "$rc" -eq 0 ] || echo "bench-install: $1 ($2) failed" >&2
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

for c in gz zst; do
	methods="fetch fetch-sync fetch-1thread fetch-libarchive curl|tar"
	[ -x "$ARTIFACTFS" ] && [ -c /dev/fuse ] && methods="$methods mount"
	if [ "$c" = gz ]; then
		command -v igzip >/dev/null && methods="$methods curl|igzip|tar"
		methods="$methods julia-sequence"
	fi
	for r in $(seq "$BENCH_RUNS"); do
		for m in $methods; do
			run "$m" "$c" >>"$scratch/t-$c-$(echo "$m" | tr '|' '_')"
		done
	done
	base=$(median <"$scratch/t-$c-curl_tar")
	echo "tar.$c, median of $BENCH_RUNS interleaved runs (ratio to curl|tar):"
	for m in $methods; do
		med=$(median <"$scratch/t-$c-$(echo "$m" | tr '|' '_')")
		echo "$m $med $base" | awk '{printf "  %-18s %7.2f s  %5.2fx\n", $1, $2, $2 / $3}'
	done
done

if [ -x "$BENCH_STAGES" ]; then
	echo "stages, one core each (bench-stages):"
	"$BENCH_STAGES" "$BENCH_DATA/w.tar.gz" | sed 's/^/  /'
	"$BENCH_STAGES" "$BENCH_DATA/w.tar.zst" | sed -n '1,2s/^/  /p'
fi
