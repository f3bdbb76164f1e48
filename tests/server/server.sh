# tests/server/server.sh - the loopback test server (httpd.py) and the helpers
# of the fetch tests (t04xx).  Source it after tests/lib.sh:
#
#   start_test_server ROOT      start httpd.py on ROOT in the background, wait
#                               (at most 10 s) for its port file, export
#                               SERVER_URL and SERVER_PID; the server is
#                               stopped at exit (at_exit)
#   stop_test_server            stop it (SIGTERM, then SIGKILL after 5 s);
#                               fails unless it exited 0 on SIGTERM.  Call it
#                               in the main shell (not in $(...) or ok), e.g.
#                               stop_test_server; is "server stopped" $? 0
#   server_stat METHOD PATH     print how many METHOD requests PATH received
#   server_total METHOD         print the number of METHOD requests in all
#   server_reset                zero the counters
#   server_release [PATH]       end the /trickle/ answers of PATH (of all
#                               paths without one); later ones get 404
#   server_get PATH FILE        GET PATH into FILE (counted like any GET)
#
#   need_fetch                  skip_all unless python3 and a working
#                               "artifactctl fetch" are there
#   have_cmd CMD                true when "artifactctl CMD --help" works
#   fetch_has OPTION            true when "artifactctl fetch --help" names OPTION
#   fetch_run TAG ARG...        artifactctl fetch ARG... bounded by FETCH_TIMEOUT
#                               (120 s, test_time); stdout/stderr in $TEST_TMP/TAG.out,
#                               .err; the exit status in $rc
#   json_get FILE KEY...        a value of a JSON file (dict: its sorted keys,
#                               list: its items, one per line)
#   tree_equal SRC DST          DST is SRC installed: same files byte for byte,
#                               same exec bits, same symlink targets, same
#                               directories (empty ones too), files read-only
#   dir_empty DIR               DIR is absent or empty
#   bail_out MSG                TAP "Bail out!" and exit
#
#   fetch_test_init             need_fetch and git; T is $TEST_TMP as a
#                               physical path
#   tarballs_make KIND ARG...   tarballs.py KIND ARG... (log in $T/gen.log),
#                               or bail_out
#   serve_realfiles [ARG...]    ART=$T/art made by tarballs.py realfiles ARG...,
#                               MF its manifest, served (start_test_server)
#   toml TAG ARG...             $T/toml/TAG.toml made by tarballs.py toml $ART
#                               ARG...; TOML names it
#   have_store_cmds             have_ls, have_verify: yes when "artifactctl ls",
#                               "artifactctl verify" exist, else no
#
# One server per test script.  Needs PYTHON3 (default python3) and
# TEST_SERVER (default $TESTS_SRCDIR/server/httpd.py).

: "${PYTHON3:=python3}"
: "${TEST_SERVER:=$TESTS_SRCDIR/server/httpd.py}"
# The loopback server is reached directly, never through a proxy, and no
# Pkg server is tried before the URLs of the Artifacts.toml.
no_proxy=127.0.0.1,localhost${no_proxy:+,$no_proxy}
NO_PROXY=$no_proxy
export no_proxy NO_PROXY
unset JULIA_PKG_SERVER ARTIFACTFS_CRASH_AT
SERVER_PID=
SERVER_URL=
SERVER_DIR=

start_test_server() {
	SERVER_DIR=$TEST_TMP/server
	mkdir -p "$SERVER_DIR" || return 1
	spawn_server "$SERVER_DIR" SERVER_PID stop_test_server "test server" 200 \
		"$PYTHON3" "$TEST_SERVER" --root "$1" --port-file "$SERVER_DIR/port" \
		--log "$SERVER_DIR/requests.log" --parent-pid $$ || return 1
	SERVER_PORT=$(cat "$SERVER_DIR/port")
	SERVER_URL=http://127.0.0.1:$SERVER_PORT
	export SERVER_URL SERVER_PORT SERVER_PID
}

stop_test_server() {
	[ -n "$SERVER_PID" ] || return 0
	_srv_pid=$SERVER_PID
	SERVER_PID=
	stop_server "$_srv_pid" TERM "test server" "$SERVER_DIR/stderr"
}

# _server_http GET|POST PATH [OUTFILE]: curl when there is one (fast), else
# python's urllib.  Prints the body, or writes it to OUTFILE.
if command -v curl >/dev/null 2>&1; then
	_server_http() {
		if [ "$1" = POST ]; then
			curl -sf --noproxy '*' -m 30 -X POST -d '' "$SERVER_URL$2"
		else
			curl -sf --noproxy '*' -m 30 -o "${3:-/dev/stdout}" "$SERVER_URL$2"
		fi
	}
else
	_server_http() {
		"$PYTHON3" -c '
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b"" if sys.argv[2] == "POST" else None,
                             method=sys.argv[2])
body = urllib.request.urlopen(req, timeout=30).read()
if len(sys.argv) > 3:
    open(sys.argv[3], "wb").write(body)
else:
    sys.stdout.buffer.write(body)
' "$SERVER_URL$2" "$1" ${3:+"$3"}
	}
fi

server_stat() { _server_http GET "/_stats?m=$1&p=$2"; }
server_total() { _server_http GET "/_stats?m=$1"; }
server_reset() { _server_http POST /_reset >/dev/null; }
server_release() { _server_http POST "/_release${1:+?p=$1}" >/dev/null; }
server_get() { _server_http GET "$1" "$2"; }

# --- helpers of the fetch tests -------------------------------------------------

need_fetch() {
	need_prog "$PYTHON3"
	[ -n "${ARTIFACTCTL:-}" ] && [ -x "$ARTIFACTCTL" ] ||
		skip_all "ARTIFACTCTL not set (run through make check)"
	"$ARTIFACTCTL" fetch --help >"$TEST_TMP/fetch-help" 2>&1 ||
		skip_all "'artifactctl fetch' is not implemented yet"
}

have_cmd() {
	"$ARTIFACTCTL" "$1" --help >/dev/null 2>&1
}

fetch_has() {
	grep -q -e "$1" "$TEST_TMP/fetch-help"
}

fetch_run() {
	_fr_tag=$1
	shift
	timeout -k 5 "${FETCH_TIMEOUT:-$(test_time 120)}" "$ARTIFACTCTL" fetch "$@" \
		>"$TEST_TMP/$_fr_tag.out" 2>"$TEST_TMP/$_fr_tag.err" </dev/null
	rc=$?
}

json_get() {
	"$PYTHON3" -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
if isinstance(v, dict):
    print("\n".join(sorted(v)))
elif isinstance(v, list):
    print("\n".join(str(x) for x in v))
else:
    print(v)
' "$@"
}

fetch_test_init() {
	need_fetch
	need_prog "${GIT:-git}"
	T=$(cd "$TEST_TMP" && pwd -P)
}

tarballs_make() {
	_tm_kind=$1
	shift
	"$PYTHON3" "$TARBALLS" "$_tm_kind" "$@" >"$T/gen.log" 2>&1 ||
		bail_out "tarballs.py $_tm_kind failed: $(cat "$T/gen.log")"
}

serve_realfiles() {
	ART=$T/art
	tarballs_make realfiles "$ART" "$@"
	MF=$ART/manifest.json
	start_test_server "$ART" || bail_out "the test server did not start"
}

toml() {
	_t=$1
	shift
	"$PYTHON3" "$TARBALLS" toml "$ART" "$@" -o "$T/toml/$_t.toml" || bail_out "tarballs.py toml $*"
	TOML=$T/toml/$_t.toml
}

have_store_cmds() {
	have_ls=no
	have_verify=no
	have_cmd ls && have_ls=yes
	have_cmd verify && have_verify=yes
}

dir_empty() {
	[ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]
}

# _tree_list DIR: one line per entry: type, exec bit (files), target (links).
_tree_list() {
	(cd "$1" && find . -mindepth 1 \( -type l -printf 'l %p -> %l\n' \) -o \
		\( -type d -printf 'd %p\n' \) -o \
		\( -type f -perm -u+x -printf 'x %p\n' \) -o \
		\( -type f ! -perm -u+x -printf 'f %p\n' \) -o -printf '? %p\n') | LC_ALL=C sort
}

tree_equal() {
	[ -d "$2" ] || { echo "no directory '$2'"; return 1; }
	_tree_list "$1" >"$TEST_TMP/tree-src.lst"
	_tree_list "$2" >"$TEST_TMP/tree-dst.lst"
	if ! diff -u "$TEST_TMP/tree-src.lst" "$TEST_TMP/tree-dst.lst"; then
		echo "entries, types, exec bits or link targets differ"
		return 1
	fi
	diff -r --no-dereference "$1" "$2" || return 1
	# diff -r already compared the bytes; cmp each file once more by name.
	(cd "$1" && find . -type f) | while IFS= read -r f; do
		cmp "$1/$f" "$2/$f" || exit 1
	done || return 1
	_tw=$(find "$2" -type f -perm /222 | head -n 10)
	if [ -n "$_tw" ]; then
		echo "writable files in the installed tree (first 10):"
		echo "$_tw"
		return 1
	fi
}
