#!/bin/sh
# artifactctl probe: one bounded request to each mirror host and the Pkg
# server, from an Artifacts.toml and from a running mount: a host that
# honours Range (nginx: 206, "yes"), one that does not (the test server:
# 200, "no"), a dead port (the cause, exit status 1), an HTTP error status
# named as such.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/fuse.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/nginx/nginx.sh"

need_artifactctl
need_prog "${PYTHON3:-python3}"
PY=${PYTHON3:-python3}

mkdir -p "$TEST_TMP/src/A" "$TEST_TMP/www"
printf 'artifact A\n' >"$TEST_TMP/src/A/f"
: >"$TEST_TMP/Artifacts.toml"
add_src_artifact A
cp "$TEST_TMP/A.tar.gz" "$TEST_TMP/www/"
start_test_server "$TEST_TMP"
dead=$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
A=$("$ARTIFACTCTL" hash "$TEST_TMP/src/A")
sha=$(sha256sum "$TEST_TMP/A.tar.gz" | cut -c1-64)
have_nginx=no
NGINX=$(nginx_bin)
if [ -n "$(nginx_bin)" ] && "$(nginx_bin)" -V 2>&1 | grep -q -- --with-http_dav_module &&
	command -v curl >/dev/null 2>&1 && start_nginx "$TEST_TMP/www"; then
	have_nginx=yes
fi
{
	printf '[A]\ngit-tree-sha1 = "%s"\n' "$A"
	for url in "$SERVER_URL/A.tar.gz" "$SERVER_URL/A.tar.gz" "http://127.0.0.1:$dead/A.tar.gz" \
		${NGINX_URL:+"$NGINX_URL/A.tar.gz"}; do
		printf '\n    [[A.download]]\n    sha256 = "%s"\n    url = "%s"\n' "$sha" "$url"
	done
} >"$TEST_TMP/probe.toml"

ctl() { "$ARTIFACTCTL" "$@"; }
ok "probe a TOML file: exit status 1 (a dead host)" exit_is 1 ctl probe --timeout 3 "$TEST_TMP/probe.toml"
cp "$TEST_TMP/out" "$TEST_TMP/table"
ok "a header line" grep -qE "^HOST +REACHABLE +LATENCY +RANGE$" "$TEST_TMP/table"
ok "the test server: reachable, latency in ms, Range not honoured (one row per host)" \
	test "$(grep -cE "^http://127.0.0.1:$SERVER_PORT +yes +[0-9]+ ms +no$" "$TEST_TMP/table")" = 1
ok "the dead port: the cause" grep -qE "^http://127.0.0.1:$dead +.*(refused|Couldn't connect).* +- +-$" "$TEST_TMP/table"
if [ "$have_nginx" = yes ]; then
	ok "nginx: Range honoured" grep -qE "^http://127.0.0.1:$NGINX_PORT +yes +[0-9]+ ms +yes$" "$TEST_TMP/table"
else
	skip "nginx: Range honoured" "nginx with the dav module not available"
fi
is "one request per host at the test server" "$(server_stat GET /A.tar.gz)" 1

ok "--json" exit_is 1 ctl probe --json --timeout 3 "$TEST_TMP/probe.toml"
ok "... one object per host" "$PY" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
d = {r["host"]: r for r in rows}
s = d["http://127.0.0.1:" + sys.argv[2]]
assert s["reachable"] and s["status"] == 200 and s["range"] is False, s
x = d["http://127.0.0.1:" + sys.argv[3]]
assert not x["reachable"] and x["cause"] and x["range"] is None, x' "$TEST_TMP/out" "$SERVER_PORT" "$dead"

# The Pkg server (the test server's /404/ answers 404 there): an error status, named.
sed -n '1,2p' "$TEST_TMP/probe.toml" >"$TEST_TMP/pkg.toml"
printf '\n    [[A.download]]\n    sha256 = "%s"\n    url = "%s"\n' "$sha" "$SERVER_URL/A.tar.gz" \
	>>"$TEST_TMP/pkg.toml"
ok "--pkg-server answering 404: exit status 1" exit_is 1 ctl probe --pkg-server "http://localhost:$SERVER_PORT/404" "$TEST_TMP/pkg.toml"
ok "... the Pkg server's row names the status" \
	grep -qE "^http://localhost:$SERVER_PORT +HTTP 404 Not Found +[0-9]+ ms +-$" "$TEST_TMP/out"
is "... asked for /artifact/<hash>" "$(server_stat GET "/404/artifact/$A")" 1

# From a running mount: the daemon's URLs.
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && [ -x "${ARTIFACTFS:-}" ]; then
	sed -n '1,2p' "$TEST_TMP/probe.toml" >"$TEST_TMP/m.toml"
	printf '\n    [[A.download]]\n    sha256 = "%s"\n    url = "%s"\n' "$sha" "$SERVER_URL/A.tar.gz" \
		>>"$TEST_TMP/m.toml"
	mount_artifactfs "$TEST_TMP/mnt" -o "store=$TEST_TMP/store,toml=$TEST_TMP/m.toml" ||
		skip_all "mount failed"
	ok "probe MOUNTPOINT" exit_is 0 ctl probe "$TEST_TMP/mnt"
	ok "... probes the daemon's mirror" \
		grep -qE "^http://127.0.0.1:$SERVER_PORT +yes +[0-9]+ ms +no$" "$TEST_TMP/out"
else
	skip "probe MOUNTPOINT" "no FUSE"
fi
done_testing
