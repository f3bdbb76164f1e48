#!/bin/sh
# bench-perfile.sh - per-file access through a seek index (issue 16) against
# the whole install and against archivemount of the local tarball.
#
#   ARTIFACTFS=... ARTIFACTCTL=... sh tests/bench/bench-perfile.sh
#
# Builds an artifact of $BENCH_MB MB (default 1000) of real files of this
# machine (/usr/lib/x86_64-linux-gnu first, then /usr/lib and /usr/share),
# packs it with `artifactctl pack` and makes its seek index with
# `artifactctl seek-index`, both kept in $BENCH_DATA (default
# /tmp/artifactfs-bench-perfile) for the next run, and serves both with
# nginx on loopback, logging the bytes of every response.  Then, $ROUNDS
# rounds (default 3), the methods in turn (interleaved), each on a fresh
# store and a fresh mount:
#   per-file      per_file=on: cat of one file of 48-80 KiB from the middle
#                 of the tarball: wall time, and the origin bytes (nginx's
#                 $body_bytes_sent) of the tarball and of the index
#   per-file+1    in the same mount, cat of a second such file: its origin bytes
#   per-file ls   per_file=on: ls -lR of the whole artifact: time and bytes
#   whole         per_file=off: the same cat (the whole install)
#   archivemount  archivemount of the local tar.gz, then the same cat
#                 (archivemount reads the whole archive when it mounts)
# Prints medians, the ratio to the whole install, and the origin bytes as a
# share of the tarball.  A benchmark, not a test: it asserts only that the
# bytes served equal the source.  Needs root (FUSE mounts).
set -eu
: "${ARTIFACTFS:?set ARTIFACTFS to the artifactfs binary}"
: "${ARTIFACTCTL:?set ARTIFACTCTL to the artifactctl binary}"
BENCH_MB=${BENCH_MB:-1000}
BENCH_DATA=${BENCH_DATA:-/tmp/artifactfs-bench-perfile}
ROUNDS=${ROUNDS:-3}
NGINX=${NGINX:-nginx}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-perfile.XXXXXX")
mnt=$work/mnt
ngpid=
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || true
	[ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mediani() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---- the workload, made once --------------------------------------------------------
mkdir -p "$BENCH_DATA"
if [ ! -s "$BENCH_DATA/a.tar.gz.seekidx" ] || [ ! -d "$BENCH_DATA/src" ]; then
	echo "building an artifact of $BENCH_MB MB of real files..."
	rm -rf "$BENCH_DATA/src" && mkdir -p "$BENCH_DATA/src"
	find /usr/lib/x86_64-linux-gnu /usr/lib /usr/share -xdev -type f -printf '%s %p\n' \
		2>/dev/null | awk -v max=$((BENCH_MB * 1000000)) '{
			p = substr($0, index($0, " ") + 1)
			if (seen[p]++) next; if (t + $1 > max) exit; t += $1; print p }' |
		while read -r f; do
			d=$BENCH_DATA/src/$(dirname "$f")
			mkdir -p "$d"
			cp "$f" "$d/" 2>/dev/null || true
		done
	chmod -R u+rwX,go+rX "$BENCH_DATA/src"
	"$ARTIFACTCTL" pack -o "$BENCH_DATA/a.tar.gz" "$BENCH_DATA/src" >/dev/null
	"$ARTIFACTCTL" seek-index "$BENCH_DATA/a.tar.gz" -o "$BENCH_DATA/a.tar.gz.seekidx" >/dev/null
fi
src=$BENCH_DATA/src
tree=$("$ARTIFACTCTL" hash "$src")
sha=$(sha256sum "$BENCH_DATA/a.tar.gz" | cut -c1-64)
tarbytes=$(stat -c %s "$BENCH_DATA/a.tar.gz")
idxbytes=$(stat -c %s "$BENCH_DATA/a.tar.gz.seekidx")
files=$(find "$src" -type f | wc -l)
echo "artifact: $files files, $(du -sb "$src" | cut -f1) bytes; tarball $tarbytes bytes;" \
	"seek index $idxbytes bytes ($(awk -v a="$idxbytes" -v b="$tarbytes" \
	'BEGIN { printf "%.2f", a * 100 / b }') % of the tarball)"

# two files of 48-80 KiB from the middle of the artifact (tar order is name order)
(cd "$src" && find . -type f -size +48k -size -80k | LC_ALL=C sort) >"$work/mid"
n=$(wc -l <"$work/mid")
[ "$n" -ge 2 ] || { echo "bench-perfile: no file of 48-80 KiB in the artifact" >&2; exit 1; }
f1=$(sed -n "$((n / 2))p" "$work/mid" | cut -c3-)
f2=$(sed -n "$((n / 2 + n / 4))p" "$work/mid" | cut -c3-)
echo "files read: $f1 ($(stat -c %s "$src/$f1") bytes), $f2 ($(stat -c %s "$src/$f2") bytes)"

# ---- nginx on loopback, logging the bytes of each response --------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $work/nginx/pid; error_log stderr;
events { }
http {
	log_format bytes '\$uri \$status \$body_bytes_sent';
	access_log $work/nginx/access.log bytes;
	sendfile on; types { } default_type application/octet-stream;
	client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
	fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
	server { listen 127.0.0.1:$port; root $BENCH_DATA; }
}
EOF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
ngpid=$!
URL=http://127.0.0.1:$port
i=0
until curl -fso /dev/null -r 0-0 "$URL/a.tar.gz"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "bench-perfile: nginx did not start" >&2; exit 1; }
	sleep 0.1
done
cat >"$work/Artifacts.toml" <<EOF
[Big]
git-tree-sha1 = "$tree"

    [[Big.download]]
    sha256 = "$sha"
    url = "$URL/a.tar.gz"
    seek_index = "$URL/a.tar.gz.seekidx"
EOF

# origin URI: bytes nginx sent for URI since the log was emptied
origin() { awk -v u="$1" '$1 == u { b += $3 } END { printf "%d", b }' "$work/nginx/access.log"; }
fresh() {	# fresh OPTS: an empty store, an empty access log, a new mount
	fusermount3 -u "$mnt" 2>/dev/null || true
	chmod -R u+w "$work/store" 2>/dev/null || true
	rm -rf "$work/store" && mkdir -p "$mnt"
	: >"$work/nginx/access.log"
	"$ARTIFACTFS" "$mnt" -o "store=$work/store,toml=$work/Artifacts.toml,$1"
}
timed_cat() {	# timed_cat PATH SOURCE: seconds; the bytes must equal the source
	t0=$(now)
	cat "$1" >"$work/out"
	t1=$(now)
	cmp -s "$work/out" "$2" || { echo "bench-perfile: $1 differs from the source" >&2; exit 1; }
	secs "$t0" "$t1"
}

t_pf= b_pf= i_pf= b_pf2= t_ls= b_ls= t_whole= b_whole= t_am=
for r in $(seq "$ROUNDS"); do
	fresh per_file=on
	t_pf="$t_pf $(timed_cat "$mnt/Big/$f1" "$src/$f1")"
	b_pf="$b_pf $(origin /a.tar.gz)"
	i_pf="$i_pf $(origin /a.tar.gz.seekidx)"
	before=$(origin /a.tar.gz)
	timed_cat "$mnt/Big/$f2" "$src/$f2" >/dev/null
	b_pf2="$b_pf2 $(($(origin /a.tar.gz) - before))"

	fresh per_file=on
	t0=$(now)
	ls -lR "$mnt/Big/" >/dev/null
	t_ls="$t_ls $(secs "$t0" "$(now)")"
	b_ls="$b_ls $(origin /a.tar.gz)"

	fresh per_file=off
	t_whole="$t_whole $(timed_cat "$mnt/Big/$f1" "$src/$f1")"
	b_whole="$b_whole $(origin /a.tar.gz)"
	fusermount3 -u "$mnt"

	if command -v archivemount >/dev/null; then
		t0=$(now)
		archivemount -o ro,readonly "$BENCH_DATA/a.tar.gz" "$mnt" >/dev/null 2>&1
		timed_cat "$mnt/$f1" "$src/$f1" >/dev/null
		t_am="$t_am $(secs "$t0" "$(now)")"
		fusermount3 -u "$mnt" 2>/dev/null || fusermount -u "$mnt"
	fi
	echo "round $r done"
done

m_whole=$(median $t_whole)
pct() { awk -v a="$1" -v b="$tarbytes" 'BEGIN { printf "%.3f", a * 100 / b }'; }
show() {	# show LABEL TIMES BYTES
	m=$(median $2)
	b=$(mediani $3)
	printf '  %-28s %8.3f s  %6.3fx whole   tarball bytes %12s (%s %%)\n' "$1" "$m" \
		"$(awk -v a="$m" -v b="$m_whole" 'BEGIN { printf "%.4f", a / b }')" "$b" "$(pct "$b")"
}
echo "median of $ROUNDS interleaved rounds, each on a fresh store and mount:"
show "per-file: first file" "$t_pf" "$b_pf"
echo "    seek index bytes fetched: $(mediani $i_pf)"
echo "    second file: tarball bytes $(mediani $b_pf2) ($(pct "$(mediani $b_pf2)") %), file $(stat -c %s "$src/$f2") bytes"
show "per-file: ls -lR" "$t_ls" "$b_ls"
show "whole install: first file" "$t_whole" "$b_whole"
[ -n "$t_am" ] && printf '  %-28s %8.3f s  %6.3fx whole   (local file, mount included)\n' \
	"archivemount: first file" "$(median $t_am)" \
	"$(awk -v a="$(median $t_am)" -v b="$m_whole" 'BEGIN { printf "%.4f", a / b }')"
exit 0
