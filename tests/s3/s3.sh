# tests/s3/s3.sh - the S3-compatible test server (s3server.js, on s3rver
# 3.7.1 from npm) for the publish tests.  Source it after tests/lib.sh:
#
#   need_s3                 skip_all unless node and npm exist and s3rver is
#                           installed (see s3_modules)
#   start_s3 BUCKET...      start the server on 127.0.0.1 (a free port) with
#                           the buckets, wait (at most 20 s) for its port file;
#                           export S3_ENDPOINT (http://127.0.0.1:PORT), S3_PORT,
#                           S3_KEY, S3_SECRET; stopped at exit (at_exit)
#   stop_s3                 stop it (SIGTERM, then SIGKILL after 5 s)
#   s3_mark                 start counting requests from here
#   s3_count METHOD [ERE]   requests with METHOD (and a URL matching ERE) since
#                           the last s3_mark
#   s3_fault METHOD MATCH STATUS COUNT
#                           the next COUNT METHOD requests whose URL contains
#                           MATCH fail with STATUS
#   s3_env                  export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
#                           for the server (and unset other AWS_* settings;
#                           AWS_CONFIG_FILE=/dev/null)
#
# Where s3rver comes from (s3_modules): $S3RVER_MODULES when it names a
# node_modules directory holding s3rver; else tests/s3/package.json and
# package-lock.json are copied into $TESTS_BUILDDIR/s3-modules (the build tree, so a
# read-only source tree works, as in make distcheck) and "npm ci" runs there
# once, under a lock, and again only when the lock file changes.  Without
# network or npm the tests are skipped with the reason.

S3_PID=
S3_DIR=
S3_MARK=0
S3_KEY=AKIDARTIFACTFSTEST
S3_SECRET='artifactfs/test+secret=key'

s3_modules() {
	if [ -n "${S3RVER_MODULES:-}" ]; then
		[ -f "$S3RVER_MODULES/s3rver/package.json" ] || return 1
		S3_MODULES=$S3RVER_MODULES
		return 0
	fi
	_s3_pre=${TESTS_BUILDDIR:-$TEST_TMP}/s3-modules
	mkdir -p "$_s3_pre" || return 1
	(
		if command -v flock >/dev/null 2>&1; then
			exec 9>"$_s3_pre/.install.lock"
			flock -w 300 9 || exit 1
		fi
		if [ -f "$_s3_pre/node_modules/s3rver/package.json" ] &&
			cmp -s "$TESTS_SRCDIR/s3/package-lock.json" "$_s3_pre/package-lock.json"; then
			exit 0
		fi
		rm -rf "$_s3_pre/node_modules" "$_s3_pre/package.json" "$_s3_pre/package-lock.json"
		cp "$TESTS_SRCDIR/s3/package.json" "$TESTS_SRCDIR/s3/package-lock.json" "$_s3_pre/" &&
			chmod u+w "$_s3_pre/package.json" "$_s3_pre/package-lock.json" &&
			timeout 300 npm ci --prefix "$_s3_pre" --no-audit --no-fund --loglevel=error \
				>"$_s3_pre/npm.log" 2>&1
	) || return 1
	S3_MODULES=$_s3_pre/node_modules
}

need_s3() {
	command -v node >/dev/null 2>&1 || skip_all "node not installed (needed for the S3 test server)"
	if [ -z "${S3RVER_MODULES:-}" ]; then
		command -v npm >/dev/null 2>&1 || skip_all "npm not installed (needed to install s3rver)"
	fi
	s3_modules || skip_all "cannot install s3rver with npm (offline?); see ${TESTS_BUILDDIR:-$TEST_TMP}/s3-modules/npm.log, or set S3RVER_MODULES"
}

start_s3() {
	S3_DIR=$TEST_TMP/s3
	mkdir -p "$S3_DIR" || return 1
	: >"$S3_DIR/requests.log"
	_s3_args=
	for _s3_b in "$@"; do
		_s3_args="$_s3_args --bucket $_s3_b"
	done
	# s3rver's continuation tokens use DES, which OpenSSL 3 (node >= 17) has
	# only in its legacy provider
	_s3_node=
	node --openssl-legacy-provider -e 0 >/dev/null 2>&1 && _s3_node=--openssl-legacy-provider
	# shellcheck disable=SC2086
	spawn_server "$S3_DIR" S3_PID stop_s3 "S3 server" 400 \
		node $_s3_node "$TESTS_SRCDIR/s3/s3server.js" --modules "$S3_MODULES" --dir "$S3_DIR/data" \
		--port-file "$S3_DIR/port" --log "$S3_DIR/requests.log" \
		--access-key "$S3_KEY" --secret-key "$S3_SECRET" --parent-pid $$ $_s3_args || return 1
	S3_PORT=$(cat "$S3_DIR/port")
	S3_ENDPOINT=http://127.0.0.1:$S3_PORT
	export S3_ENDPOINT S3_PORT S3_KEY S3_SECRET
}

stop_s3() {
	[ -n "$S3_PID" ] || return 0
	_s3_pid=$S3_PID
	S3_PID=
	stop_server "$_s3_pid" TERM "S3 server" "$S3_DIR/stderr"
}

s3_env() {
	unset AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_SESSION_TOKEN AWS_REGION \
		AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 \
		AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
	# no ~/.aws/config of this machine: an empty one
	AWS_CONFIG_FILE=/dev/null
	export AWS_CONFIG_FILE
	AWS_ACCESS_KEY_ID=$S3_KEY
	AWS_SECRET_ACCESS_KEY=$S3_SECRET
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

# The server appends a line before it answers, so the log is complete once
# the client has its answers.
s3_mark() {
	S3_MARK=$(wc -l <"$S3_DIR/requests.log")
}

s3_count() {
	tail -n +"$((S3_MARK + 1))" "$S3_DIR/requests.log" |
		awk -v m="$1" -v re="${2:-.}" '$1 == m && $2 ~ re { n++ } END { print n + 0 }'
}

s3_fault() {
	curl -sf --noproxy '*' -m 10 -X POST \
		"$S3_ENDPOINT/_ctl/fault?method=$1&match=$2&status=$3&count=$4" >/dev/null
}
