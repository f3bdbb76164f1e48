#!/bin/sh
# A site on one machine: nginx as the origin, two real Squid instances
# (contrib/squid/squid.conf with the test's ports and directories) as the
# site's proxies, and 8 artifactfs daemons standing for 8 nodes, each with
# its own store and mount point, all with
# proxy=SQUID1|SQUID2;DIRECT and proxy_shard=on.  Counts come from the
# access logs of nginx and of each Squid.
#   (a) 8 nodes x 8 readers of one cold 100 MB artifact: one GET at the
#       origin, the same bytes on every node
#   (b) 3 artifacts read by every node: one origin GET each, through the
#       Squid that rendezvous hashing of the artifact's hash chooses
#   (c) the chosen Squid killed while the nodes download: every reader
#       succeeds through the other; both killed: DIRECT serves from the
#       origin; both killed and no DIRECT: EIO, a log line naming both
#   (d) a proxy answering 503 and one stalling after the headers: both
#       classified as proxy failures, skipped for the next artifact; the
#       same through artifactctl fetch --proxy
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_mount_test
need_nginx
need_artifactctl
SQUID=$(command -v squid 2>/dev/null || { [ -x /usr/sbin/squid ] && echo /usr/sbin/squid; })
[ -n "$SQUID" ] || skip_all "squid not installed (Debian: apt-get install squid)"
SQUID_USER=
if [ "$(id -u)" -eq 0 ]; then
	# squid refuses to run as root: it becomes cache_effective_user
	for u in proxy nobody; do
		id "$u" >/dev/null 2>&1 && SQUID_USER=$u && break
	done
	[ -n "$SQUID_USER" ] || skip_all "no user 'proxy' or 'nobody' for squid to run as"
	chmod 711 "$TEST_TMP"
fi
# The nodes reach everything through their proxy= list only.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY \
	JULIA_PKG_SERVER ARTIFACTFS_CRASH_AT
NODES=8
bail_out() {
	echo "Bail out! $*"
	exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- the origin and its artifacts ------------------------------------------------------
www=$TEST_TMP/www
mkdir -p "$www/slow" "$TEST_TMP/src"
start_nginx "$www" || skip_all "nginx did not start"

# artifact NAME BYTES [slow]: one file src/NAME/data of BYTES of random
# data (the big one is a single file over 64 MiB: the ratio guard judges
# bytes as they arrive, not the size a header declares), its tarball (gzip -1) on the
# origin (slow: under /slow/, at 4 MB/s), its entry in Artifacts.toml
artifact() {
	mkdir -p "$TEST_TMP/src/$1"
	head -c "$2" /dev/urandom >"$TEST_TMP/src/$1/data"
	_a_path=$1.tar.gz
	[ "${3:-}" = slow ] && _a_path=slow/$1.tar.gz
	tar -C "$TEST_TMP/src/$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-cf - . | gzip -1 >"$www/$_a_path"
	_a_hash=$("$ARTIFACTCTL" hash "$TEST_TMP/src/$1")
	eval "hash_$1=\$_a_hash"
	toml_entry "$1" "$_a_hash" "$(sha256sum "$www/$_a_path" | cut -c1-64)" \
		"$NGINX_URL/$_a_path" >>"$TEST_TMP/Artifacts.toml"
}
t0=$(now)
artifact big 100000000
for n in s1 s2 s3 s4 s5 s6 s7; do
	artifact $n 1000000
done
artifact slow1 16000000 slow
echo "# artifacts made in $(elapsed "$t0" "$(now)") s"

# --- two Squids ---------------------------------------------------------------------------
# start_squid N: contrib/squid/squid.conf on a free loopback port with
# its own cache directory, logs and pid file; SQN_PORT, SQN_PID, SQN_URL
start_squid() {
	_d=$TEST_TMP/squid$1
	_name=aftest$$n$1
	mkdir -p "$_d"
	_port=$(_nginx_free_port)	# nginx.sh's: a port free on 127.0.0.1
	sed -e "s|^http_port .*|http_port 127.0.0.1:$_port|" \
		-e "s|^cache_dir \([a-z]*\) [^ ]* [0-9]*|cache_dir \1 $_d/cache 1024|" \
		-e "s|^cache_mem .*|cache_mem 256 MB|" \
		-e "s|^access_log .*|access_log stdio:$_d/access.log squid|" \
		-e "s|^cache_log .*|cache_log $_d/cache.log|" \
		-e "s|^pid_filename .*|pid_filename $_d/squid.pid|" \
		-e "s|^coredump_dir .*|coredump_dir $_d|" \
		"$TESTS_SRCDIR/../contrib/squid/squid.conf" >"$_d/squid.conf" || return 1
	if [ -n "$SQUID_USER" ]; then
		sed -i "s|^cache_effective_user .*|cache_effective_user $SQUID_USER|" "$_d/squid.conf"
		chown -R "$SQUID_USER" "$_d"
	else
		sed -i "/^cache_effective_user /d" "$_d/squid.conf"
	fi
	# a test's squid stops at once (the default waits 30 s for clients)
	echo "shutdown_lifetime 0 seconds" >>"$_d/squid.conf"
	# -n: a service name of its own, which names its shared memory segments
	"$SQUID" -n "$_name" -N -z -f "$_d/squid.conf" >"$_d/z.log" 2>&1 || {
		sed 's/^/#   /' "$_d/z.log" "$_d/cache.log" >&2
		return 1
	}
	"$SQUID" -n "$_name" -N -f "$_d/squid.conf" </dev/null >>"$_d/stdout" 2>&1 &
	eval "SQ$1_PID=\$!"
	eval "SQ$1_PORT=$_port"
	eval "SQ$1_URL=http://127.0.0.1:$_port"
	wait_ready "SQ$1_PID" 200 "squid $1 exited" "$_d/cache.log" "squid $1 not listening" \
		curl -s --noproxy '*' -m 2 -o /dev/null "http://127.0.0.1:$_port/"
}

# kill_squid N: SIGKILL, as a crash; its shared memory segments removed
kill_squid() {
	eval "_p=\${SQ$1_PID:-}"
	[ -n "$_p" ] || return 0
	eval "SQ$1_PID="
	kill -KILL "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	rm -f /dev/shm/aftest$$n$1-*
	return 0
}
stop_squids() {
	for _n in 1 2; do
		eval "_p=\${SQ${_n}_PID:-}"
		if [ -n "$_p" ]; then
			eval "SQ${_n}_PID="
			kill -TERM "$_p" 2>/dev/null
			(sleep 10; kill -KILL "$_p") >/dev/null 2>&1 &
			_dog=$!
			wait "$_p" 2>/dev/null
			kill "$_dog" 2>/dev/null
		fi
		rm -f /dev/shm/aftest$$n$_n-*
	done
	return 0
}
at_exit stop_squids
start_squid 1 && start_squid 2 || skip_all "squid did not start"
PROXIES="$SQ1_URL|$SQ2_URL;DIRECT"

# squid_fetches N PATH: origin fetches of PATH by squid N (HIER_DIRECT in its log)
squid_fetches() {
	grep -c " GET $NGINX_URL$2 .*HIER_DIRECT/" "$TEST_TMP/squid$1/access.log" 2>/dev/null ||
		true
}
# squid_requests N PATH: requests of PATH that squid N answered
squid_requests() {
	grep -c " GET $NGINX_URL$2 " "$TEST_TMP/squid$1/access.log" 2>/dev/null || true
}

# shard_of HASH: 1 or 2, the squid rendezvous hashing chooses (fetch/proxy.h:
# 64-bit FNV-1a of "URL\0HASH" through splitmix64, highest wins, ties to the first)
shard_of() {
	"$PY" -c 'import sys
M = (1 << 64) - 1
def w(name, h):
    z = 0xcbf29ce484222325
    for c in name.encode() + b"\0" + h.encode():
        z = ((z ^ c) * 0x100000001b3) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
a, b, h = sys.argv[1:]
print(1 if w(a, h) >= w(b, h) else 2)' "$SQ1_URL" "$SQ2_URL" "$1"
}

# --- the nodes ------------------------------------------------------------------------------
# start_node N PROXY [OPTIONS]: artifactfs for node N in $TEST_TMP/nodeN
start_node() {
	_d=$TEST_TMP/node$1
	mkdir -p "$_d/mnt"
	"$ARTIFACTFS" -f "$_d/mnt" -o "store=$_d/store,toml=$TEST_TMP/Artifacts.toml,proxy=$2${3:+,$3}" \
		</dev/null >>"$_d/fs.log" 2>&1 &
	eval "NODE$1_PID=\$!"
	NODE_LIST="$NODE_LIST $1"
	wait_ready "NODE$1_PID" 200 "node $1 exited before the mount was ready" "$_d/fs.log" \
		"node $1 not mounted after 10 s" is_mounted "$_d/mnt"
}
stop_nodes() {
	for _n in $NODE_LIST; do
		eval "_p=\${NODE${_n}_PID:-}"
		[ -n "$_p" ] || continue
		eval "NODE${_n}_PID="
		fusermount3 -u "$TEST_TMP/node$_n/mnt" 2>/dev/null ||
			fusermount3 -uz "$TEST_TMP/node$_n/mnt" 2>/dev/null
		(sleep 10; kill -KILL "$_p") >/dev/null 2>&1 &
		_dog=$!
		wait "$_p" 2>/dev/null
		kill "$_dog" 2>/dev/null
	done
	return 0
}
NODE_LIST=
at_exit stop_nodes
i=1
while [ $i -le $NODES ]; do
	start_node $i "$PROXIES" proxy_shard=on || bail_out "node $i did not mount"
	i=$((i + 1))
done

# same_files MNTDIR SRCDIR: every file of SRCDIR has the same bytes in MNTDIR
same_files() {
	for _f in "$2"/*; do
		cmp "$1/${_f##*/}" "$_f" || return 1
	done
}

# start_readers NAME PER: PER readers of NAME's files on every node at
# once, each comparing every byte with the source (cmp), in the background
start_readers() {
	rm -rf "$TEST_TMP/r"
	mkdir -p "$TEST_TMP/r"
	READERS=
	_n=1
	while [ $_n -le $NODES ]; do
		_j=1
		while [ $_j -le "$2" ]; do
			(same_files "$TEST_TMP/node$_n/mnt/$1" "$TEST_TMP/src/$1" \
				>"$TEST_TMP/r/$_n.$_j.err" 2>&1 && : >"$TEST_TMP/r/$_n.$_j.ok") &
			READERS="$READERS $!"
			_j=$((_j + 1))
		done
		_n=$((_n + 1))
	done
}
# wait_readers: wait for them (in this shell: they are its children); N
# is how many read the right bytes
wait_readers() {
	for _p in $READERS; do
		wait "$_p"
	done
	n=$(find "$TEST_TMP/r" -name '*.ok' | wc -l | tr -d ' ')
	find "$TEST_TMP/r" -name '*.err' -size +0 -exec sed 's/^/#   /' {} + | head -n 5 >&2
}

# --- (a) 64 cold readers of 100 MB ----------------------------------------------------------
nginx_mark
t0=$(now)
start_readers big 8
wait_readers
t_a=$(elapsed "$t0" "$(now)")
gets=$(nginx_count GET '^/big\.tar\.gz$')
echo "# (a) $NODES nodes x 8 cold readers of 100 MB: $t_a s, $gets GET(s) at the origin;" \
	"node 1 $(grep -o "installed 'big' .*" "$TEST_TMP/node1/fs.log" | sed 's/.*: //')"
is "(a) 64 concurrent readers on 8 nodes all read the source's bytes" "$n" $((NODES * 8))
is "(a) ... and the origin saw exactly one GET" "$gets" 1
want=$(shard_of "$hash_big")
other=$((3 - want))
is "(a) ... made by the squid that rendezvous hashing chooses" \
	"$(squid_fetches $want /big.tar.gz)/$(squid_fetches $other /big.tar.gz)" 1/0
is "(a) ... which answered all $NODES nodes" "$(squid_requests $want /big.tar.gz)" $NODES

# --- (b) 3 artifacts, each through its sharded proxy ------------------------------------------
nginx_mark
for a in s1 s2 s3; do
	start_readers $a 1
	wait_readers
	is "(b) $a: read right on every node" "$n" $NODES
done
used=
for a in s1 s2 s3; do
	eval "h=\$hash_$a"
	want=$(shard_of "$h")
	other=$((3 - want))
	used="$used $want"
	is "(b) $a: one GET at the origin" "$(nginx_count GET "^/$a\\.tar\\.gz\$")" 1
	is "(b) $a: fetched by squid $want, its shard, not by squid $other" \
		"$(squid_fetches $want /$a.tar.gz)/$(squid_fetches $other /$a.tar.gz)" 1/0
	is "(b) $a: every node asked squid $want" "$(squid_requests $want /$a.tar.gz)" $NODES
done
echo "# (b) shards of s1 s2 s3:$used"

# --- (c) one squid killed mid-download, then both ----------------------------------------------
# slow1 (16 MB at 4 MB/s from /slow/): its squid is killed once node 1 has
# begun to write the artifact's file into its store's temporary tree.
started() { find "$TEST_TMP/node1/store/tmp" -type f -size +0 2>/dev/null | grep -q .; }
nginx_mark
want=$(shard_of "$hash_slow1")
other=$((3 - want))
start_readers slow1 2
wait_for started || echo "# node 1's download of slow1 did not start" >&2
t0=$(now)
kill_squid $want
eval "dead=\$SQ${want}_URL"
noticed() { grep -q "proxy '$dead' failed" "$TEST_TMP/node1/fs.log"; }
wait_for noticed
t_c0=$(elapsed "$t0" "$(now)")
wait_readers
t_c1=$(elapsed "$t0" "$(now)")
echo "# (c) squid $want killed mid-download: node 1 logged the failover $t_c0 s later," \
	"all readers done $t_c1 s later (16 MB at 4 MB/s again)"
is "(c) squid $want killed mid-download: every reader on every node succeeds" "$n" $((NODES * 2))
is "(c) ... through squid $other" "$(squid_fetches $other /slow/slow1.tar.gz)" 1
is "(c) ... which answered all $NODES nodes" "$(squid_requests $other /slow/slow1.tar.gz)" $NODES
is "(c) ... the origin saw 2 GETs: the killed squid's and the other's" \
	"$(nginx_count GET '^/slow/slow1\.tar\.gz$')" 2
ok "(c) ... a node's log names the failed proxy and the URL apart" \
	grep -q "proxy '$dead' failed for '$NGINX_URL/slow/slow1.tar.gz'" "$TEST_TMP/node1/fs.log"

nginx_mark
kill_squid $other
t0=$(now)
start_readers s4 1
wait_readers
t_c2=$(elapsed "$t0" "$(now)")
echo "# (c) both squids dead, DIRECT last: $NODES nodes served in $t_c2 s"
is "(c) both squids killed, DIRECT last: every node reads s4" "$n" $NODES
is "(c) ... from the origin, directly" "$(nginx_count GET '^/s4\.tar\.gz$')" $NODES

# a node without DIRECT
start_node 9 "$SQ1_URL|$SQ2_URL" proxy_shard=on || bail_out "node 9 did not mount"
t0=$(now)
is "(c) both squids killed, no DIRECT: EIO" "$(list_errno "$TEST_TMP/node9/mnt/s5")" EIO
echo "# (c) no proxy left: EIO after $(elapsed "$t0" "$(now)") s (3 attempts, 1 s and 2 s apart)"
ok "(c) ... a log line names both proxies" sh -c "grep 'every proxy failed' '$TEST_TMP/node9/fs.log' |
	grep \"'$SQ1_URL'\" | grep -q \"'$SQ2_URL'\""
is "(c) ... the origin saw nothing of it" "$(nginx_count GET '^/s5\.tar\.gz$')" 0

# --- (d) a proxy answering 503, one stalling after the headers ---------------------------------
# start_fake N MODE: httpd.py --mode MODE as a proxy; FAKEN_URL
start_fake() {
	mkdir -p "$TEST_TMP/fake$1"
	spawn_server "$TEST_TMP/fake$1" "FAKE$1_PID" "stop_fake$1" "fake proxy $1" 200 \
		"$PY" "$TESTS_SRCDIR/server/httpd.py" --root "$www" \
		--port-file "$TEST_TMP/fake$1/port" --mode "$2" --stall-seconds 30 \
		--parent-pid $$ || return 1
	eval "FAKE$1_URL=http://127.0.0.1:$(cat "$TEST_TMP/fake$1/port")"
}
stop_fake1() { [ -z "${FAKE1_PID:-}" ] || stop_server "$FAKE1_PID" TERM "fake proxy 1"; }
stop_fake2() { [ -z "${FAKE2_PID:-}" ] || stop_server "$FAKE2_PID" TERM "fake proxy 2"; }
fake_gets() { curl -s --noproxy '*' -m 5 "$1/_stats?m=GET"; }
start_fake 1 503 && start_fake 2 stall || bail_out "the fake proxies did not start"

start_node 10 "$FAKE1_URL;$FAKE2_URL;DIRECT" low_speed_time=2 || bail_out "node 10 did not mount"
nginx_mark
t0=$(now)
ok "(d) 503 proxy, then a stalling proxy, then DIRECT: s6 reads right" \
	same_files "$TEST_TMP/node10/mnt/s6" "$TEST_TMP/src/s6"
echo "# (d) 503 then stall (low_speed_time=2) then DIRECT: $(elapsed "$t0" "$(now)") s"
log10=$TEST_TMP/node10/fs.log
ok "(d) ... the 503 is a proxy failure, logged with the proxy and the URL" \
	grep -q "proxy '$FAKE1_URL' failed for '$NGINX_URL/s6.tar.gz'.*HTTP 503" "$log10"
ok "(d) ... so is the stall (the low-speed limit)" \
	grep -q "proxy '$FAKE2_URL' failed for '$NGINX_URL/s6.tar.gz'.*too slow" "$log10"
is "(d) ... one GET at the origin, through DIRECT" "$(nginx_count GET '^/s6\.tar\.gz$')" 1
ok "(d) s7 next: read right" same_files "$TEST_TMP/node10/mnt/s7" "$TEST_TMP/src/s7"
is "(d) ... without asking the failed proxies again" "$(fake_gets "$FAKE1_URL")/$(fake_gets "$FAKE2_URL")" 1/1
"$ARTIFACTCTL" status "$TEST_TMP/node10/mnt" >"$TEST_TMP/status.out" 2>&1
ok "(d) status shows both proxies failed, with until when" \
	sh -c "grep -q '$FAKE1_URL  group 1  failed until .*1 failures' '$TEST_TMP/status.out' &&
		grep -q '$FAKE2_URL  group 2  failed until' '$TEST_TMP/status.out' &&
		grep -q 'DIRECT  group 3  in use, 0 failures, 2 successes' '$TEST_TMP/status.out'"
"$ARTIFACTCTL" metrics "$TEST_TMP/node10/mnt" >"$TEST_TMP/metrics.out" 2>&1
ok "(d) metrics count the failures per proxy" \
	grep -q "^artifactfs_proxy_failures_total{mountpoint=\".*\",proxy=\"$FAKE1_URL\"} 1\$" \
	"$TEST_TMP/metrics.out"

# the same chooser in artifactctl fetch
"$ARTIFACTCTL" fetch --store "$TEST_TMP/ctlstore" --proxy "$FAKE1_URL|$FAKE2_URL;DIRECT" \
	--proxy-shard --low-speed-time 2 "$TEST_TMP/Artifacts.toml" s7 \
	>"$TEST_TMP/ctl.out" 2>"$TEST_TMP/ctl.err"
is "(d) artifactctl fetch --proxy: installs through DIRECT" "$?" 0
ok "(d) ... saying which proxy failed for which URL" \
	grep -q "proxy 'http://127.0.0.1:[0-9]*' failed for '$NGINX_URL/s7.tar.gz'" "$TEST_TMP/ctl.err"
ok "(d) ... an invalid --proxy is a usage error" exit_is 64 \
	"$ARTIFACTCTL" fetch --proxy "$FAKE1_URL|" "$TEST_TMP/Artifacts.toml"

# every daemon stops cleanly (under --enable-sanitizers: no leak, no error)
stopped_clean() {
	_bad=
	for _n in $NODE_LIST; do
		eval "_p=\${NODE${_n}_PID:-}"
		[ -n "$_p" ] || continue
		eval "NODE${_n}_PID="
		fusermount3 -u "$TEST_TMP/node$_n/mnt" || _bad="$_bad $_n(umount)"
		wait "$_p" || _bad="$_bad $_n(status $?)"
	done
	[ -z "$_bad" ] || { echo "nodes:$_bad"; tail -n 20 "$TEST_TMP"/node*/fs.log; return 1; }
}
# (in this shell: the daemons are its children)
stopped_clean >"$TEST_TMP/stop.out" 2>&1
rc=$?
sed 's/^/#   /' "$TEST_TMP/stop.out"
is "every daemon unmounts and exits 0" "$rc" 0

echo "# figures: (a) $t_a s for 64 cold readers, $gets origin GET; (c) failover noticed" \
	"$t_c0 s after the kill, readers done $t_c1 s after it; $t_c2 s (both dead, DIRECT)"
done_testing
