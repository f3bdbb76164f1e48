# tests/publish.sh - what the publish tests (t0620, t0630, t0640) share.
# Source it after tests/lib.sh:
#
#   publish_trees COMPRESSIONS  build the zlib, tools and docs test
#                           artifacts from this machine's files into $art
#                           (tarballs.py realfiles; skip_all when it cannot)
#                           and $multi, a tree of one directory per platform
#                           (x86_64-linux-gnu: zlib, aarch64-linux-gnu:
#                           tools, aarch64-apple-darwin: docs)
#   tree_of NAME            the git-tree-sha1 of test artifact NAME
#   pub TAG ARG...          artifactctl publish $PUB_OPTS ARG... (at most 120 s);
#                           output in $TEST_TMP/TAG.out and .err, status in
#                           $rc, TAG in $tag
#   succeeds NAME           the last pub exited 0 (else its messages are
#                           shown)
#   fetch_multi STORE TOML [BEFORE AFTER]
#                           the round trip: artifactctl fetch of Multi from
#                           TOML into STORE for each platform of $multi, and
#                           its tree equals the source; BEFORE PLAT and
#                           AFTER PLAT (after the fetch) run around each

publish_trees() {
	art=$TEST_TMP/art
	"${PYTHON3:-python3}" "$TARBALLS" realfiles "$art" --only zlib --only tools --only docs \
		--compressions "$1" >/dev/null ||
		skip_all "cannot build test artifacts from this machine's files"
	multi=$TEST_TMP/multi
	mkdir -p "$multi"
	cp -a "$art/src/zlib" "$multi/x86_64-linux-gnu"
	cp -a "$art/src/tools" "$multi/aarch64-linux-gnu"
	cp -a "$art/src/docs" "$multi/aarch64-apple-darwin"
}

tree_of() { json_get "$art/manifest.json" artifacts "$1" git-tree-sha1; }

pub() {
	_tag=$1
	shift
	# shellcheck disable=SC2086 # PUB_OPTS: words
	timeout -k 5 120 "$ARTIFACTCTL" publish ${PUB_OPTS:-} "$@" >"$TEST_TMP/$_tag.out" \
		2>"$TEST_TMP/$_tag.err" </dev/null
	rc=$?
	tag=$_tag
}

succeeds() {
	is "$1" "$rc" 0
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$TEST_TMP/$tag.err"
}

fetch_multi() {
	for _fm in x86_64-linux-gnu:zlib aarch64-linux-gnu:tools aarch64-apple-darwin:docs; do
		plat=${_fm%%:*}
		src=${_fm#*:}
		[ -z "${3:-}" ] || "$3" "$plat"
		fetch_run "fetch-$plat" --store "$1" --platform "$plat" "$2" Multi
		is "fetch --platform $plat from the new Artifacts.toml" "$rc" 0
		[ -z "${4:-}" ] || "$4" "$plat"
		ok "$plat: the installed tree equals the source" \
			tree_equal "$art/src/$src" "$1/artifacts/$(tree_of "$src")"
	done
}
