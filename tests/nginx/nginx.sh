# tests/nginx/nginx.sh - nginx with WebDAV PUT on loopback for the publish
# tests.  Source it after tests/lib.sh:
#
#   need_nginx              skip_all unless nginx exists and was built with
#                           --with-http_dav_module (Debian 12: package nginx;
#                           nginx-light is a transitional package pulling it)
#   start_nginx ROOT        run nginx in the foreground with
#                           tests/nginx/webdav.conf.in, prefix $TEST_TMP/nginx,
#                           serving ROOT on 127.0.0.1 and a free port; wait (at
#                           most 10 s) until it answers; export NGINX_URL;
#                           /davauth/ needs user pub, password p@ss/w0rd;
#                           stopped at exit (at_exit)
#   stop_nginx              stop it (SIGQUIT, then SIGKILL after 5 s)
#   nginx_mark              start counting requests from here
#   nginx_count METHOD [ERE]  requests with METHOD (and a URI matching ERE)
#                           since the last nginx_mark, read from access.log
#                           after a /_sync request has been logged
#   nginx_bytes METHOD [ERE]  the body bytes those requests were sent
#   nginx_ranges [ERE]      the GETs of ERE since the mark that asked for a
#                           Range (206 or 416 answers)
#
# nginx writes its access log after the answer; with one worker, the log
# line of /_sync means every request answered before it is logged too.

NGINX_PID=
NGINX_DIR=
NGINX_MARK=0
NGINX_SYNC=0

nginx_bin() {
	command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

need_nginx() {
	NGINX=$(nginx_bin)
	[ -n "$NGINX" ] || skip_all "nginx not installed"
	"$NGINX" -V 2>&1 | grep -q -- --with-http_dav_module ||
		skip_all "nginx lacks the WebDAV module (--with-http_dav_module)"
	command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
}

_nginx_free_port() {
	"${PYTHON3:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start_nginx() {
	NGINX_DIR=$TEST_TMP/nginx
	mkdir -p "$NGINX_DIR/tmp" || return 1
	echo 'pub:{PLAIN}p@ss/w0rd' >"$NGINX_DIR/htpasswd" || return 1
	_ng_user=
	[ "$(id -u)" -eq 0 ] && _ng_user="user $(id -un) $(id -gn);"
	_ng_try=0
	while :; do
		_ng_try=$((_ng_try + 1))
		NGINX_PORT=$(_nginx_free_port) || return 1
		sed -e "s|@PREFIX@|$NGINX_DIR|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ROOT@|$1|g" \
			-e "s|@USER@|$_ng_user|g" "$TESTS_SRCDIR/nginx/webdav.conf.in" \
			>"$NGINX_DIR/nginx.conf" || return 1
		: >"$NGINX_DIR/access.log"
		"$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
			</dev/null >>"$NGINX_DIR/stdout" 2>&1 &
		NGINX_PID=$!
		at_exit stop_nginx
		NGINX_URL=http://127.0.0.1:$NGINX_PORT
		# exited (1): NGINX_PID is emptied and the port retried below
		wait_ready NGINX_PID 200 "" "" "nginx not answering after 10 s" \
			curl -sf --noproxy '*' -m 2 -o /dev/null "$NGINX_URL/_sync"
		[ $? -eq 2 ] && return 1
		[ -n "$NGINX_PID" ] && break
		# the port was taken meanwhile: try another one, a few times
		if [ "$_ng_try" -ge 5 ] || ! grep -q "Address already in use" "$NGINX_DIR/error.log"; then
			echo "# nginx exited before listening:" >&2
			sed 's/^/#   /' "$NGINX_DIR/error.log" "$NGINX_DIR/stdout" >&2
			return 1
		fi
	done
	export NGINX_URL NGINX_PORT
}

stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	_ng_pid=$NGINX_PID
	NGINX_PID=
	stop_server "$_ng_pid" QUIT nginx "$NGINX_DIR/error.log"
}

_nginx_sync() {
	NGINX_SYNC=$((NGINX_SYNC + 1))
	curl -sf --noproxy '*' -m 10 -o /dev/null "$NGINX_URL/_sync?$NGINX_SYNC" || return 1
	_ng_i=0
	while ! grep -q "^GET /_sync?$NGINX_SYNC " "$NGINX_DIR/access.log"; do
		_ng_i=$((_ng_i + 1))
		[ "$_ng_i" -gt 200 ] && return 1
		sleep 0.05
	done
}

nginx_mark() {
	_nginx_sync
	NGINX_MARK=$(wc -l <"$NGINX_DIR/access.log")
}

nginx_count() {
	_nginx_sync
	tail -n +"$((NGINX_MARK + 1))" "$NGINX_DIR/access.log" |
		awk -v m="$1" -v re="${2:-.}" '$1 == m && $2 ~ re && $2 !~ /^\/_sync/ { n++ } END { print n + 0 }'
}

nginx_bytes() {
	_nginx_sync
	tail -n +"$((NGINX_MARK + 1))" "$NGINX_DIR/access.log" |
		awk -v m="$1" -v re="${2:-.}" '$1 == m && $2 ~ re && $2 !~ /^\/_sync/ { n += $6 } END { print n + 0 }'
}

nginx_ranges() {
	_nginx_sync
	tail -n +"$((NGINX_MARK + 1))" "$NGINX_DIR/access.log" |
		awk -v re="${1:-.}" '$1 == "GET" && $2 ~ re && $7 ~ /^bytes=/ { n++ } END { print n + 0 }'
}
