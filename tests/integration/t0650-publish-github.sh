#!/bin/sh
# artifactctl publish to GitHub releases, against tests/server/github.py (a
# loopback stand-in for GitHub's REST API; its header says which GitHub
# documentation section each behaviour follows): a two-platform Ray.jl-style
# release flow (two per-platform trees -> two tarballs as assets of a new
# release -> both platforms bound -> fetched back, tree hashes checked) run
# twice (the second uploads nothing); a changed platform and an asset with
# other bytes, refused without --force and replaced with it (DELETE, then
# upload); the token (never printed or bound, never sent to the download
# host; none: nothing sent); the index of a release; pagination of the
# asset list; rate limits; an upload that fails upstream (502, "starter"
# asset, 422 already_exists); draft releases; a release created by another
# run meanwhile; malformed github:// forms.
. "$TESTS_SRCDIR/lib.sh"
. "$TESTS_SRCDIR/server/server.sh"
. "$TESTS_SRCDIR/publish.sh"

# The requests counted here are the tarball's and its sidecar's: no seek
# index (t0620 tests it, and the GitHub asset rules at the end of t0650).
PUB_OPTS=--no-seek-index

need_fetch
have_cmd publish || skip_all "'artifactctl publish' is not built"

publish_trees gz
ray=$TEST_TMP/ray
mkdir -p "$ray"
cp -a "$art/src/zlib" "$ray/x86_64-linux-gnu"
cp -a "$art/src/tools" "$ray/aarch64-apple-darwin"
toml=$TEST_TMP/Artifacts.toml
PY=${PYTHON3:-python3}

# --- the server ------------------------------------------------------------------
TOKEN=ghp_t0650secret$$x
GH_DIR=$TEST_TMP/github
GH_LOG=$GH_DIR/requests.log
GH_PID=
mkdir -p "$GH_DIR"
stop_github() {
	[ -n "$GH_PID" ] || return 0
	_gp=$GH_PID
	GH_PID=
	stop_server "$_gp" TERM "github.py" "$GH_DIR/stderr"
}
spawn_server "$GH_DIR" GH_PID stop_github "github.py" 200 \
	"$PY" "$TESTS_SRCDIR/server/github.py" --port-file "$GH_DIR/port" --token "$TOKEN" \
	--log "$GH_LOG" --max-per-page 3 --parent-pid $$ || bail_out "github.py did not start"
read -r API_PORT FILES_PORT <"$GH_DIR/port"
GITHUB_API_URL=http://127.0.0.1:$API_PORT
GITHUB_SERVER_URL=http://127.0.0.1:$FILES_PORT
GITHUB_TOKEN=$TOKEN
export GITHUB_API_URL GITHUB_SERVER_URL GITHUB_TOKEN
unset GH_TOKEN
DL=$GITHUB_SERVER_URL/julia/Ray.jl/releases/download

gh_mark() { : >"$GH_LOG"; }
# pub_with 'VAR=VALUE ...' TAG ARG...: pub with those variables set (VAR= unsets VAR)
pub_with() {
	_pw_env=$1
	shift
	(
		for _pw in $_pw_env; do
			case $_pw in
			*=) unset "${_pw%=}" ;;
			*) export "$_pw" ;;
			esac
		done
		pub "$@"
		echo "$rc" >"$TEST_TMP/$1.rc"
	)
	rc=$(cat "$TEST_TMP/$1.rc")
	tag=$1
}
# gh_count KIND METHOD REGEX: requests of the log that match
gh_count() { grep -c "^$1 $2 $3" "$GH_LOG"; }
gh_admin() { curl -sf --noproxy '*' -m 30 -X "$1" "$GITHUB_API_URL$2"; }
gh_state() { gh_admin GET /_state >"$TEST_TMP/state.json"; }
# asset_names TAG: the assets of the release TAG, one a line
asset_names() {
	gh_state
	"$PY" -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    if r["tag_name"] == sys.argv[2]:
        print("\n".join(r["assets"]))' "$TEST_TMP/state.json" "$1"
}
release_field() {
	gh_state
	"$PY" -c '
import json, sys
print([r for r in json.load(open(sys.argv[1])) if r["tag_name"] == sys.argv[2]][0][sys.argv[3]])
' "$TEST_TMP/state.json" "$1" "$2"
}
need_prog curl

# --- the release flow, first run ---------------------------------------------------
REL=github://julia/Ray.jl/v0.1.0
gh_mark
pub first "$ray" --to "$REL" --name Ray --toml "$toml" --release-name "Ray v0.1.0" \
	--target main --prerelease --json
succeeds "publish of two platforms to a new GitHub release"
is "the release looked up by tag (404), in the list (for a draft), then created (201)" \
	"$(gh_count api GET '/repos/julia/Ray.jl/releases/tags/v0.1.0 404')$(gh_count api GET '/repos/julia/Ray.jl/releases?per_page=100 200')$(gh_count api POST '/repos/julia/Ray.jl/releases 201')" 111
is "2 tarballs and 2 sidecars uploaded to the upload_url (another port), 201" \
	"$(gh_count files POST '/repos/julia/Ray.jl/releases/[0-9]*/assets?name=Ray\.[^ ]* 201 auth')" 4
is "... the {?name,label} template expanded to ?name=" \
	"$(grep -c 'assets?name=Ray\.[a-z0-9_-]*\.[0-9a-f]\{16\}-[0-9a-f]\{16\}\.tar\.gz\(\.json\)\? ' "$GH_LOG")" 4
is "the release's name" "$(release_field v0.1.0 name)" "Ray v0.1.0"
is "... target_commitish" "$(release_field v0.1.0 target_commitish)" main
is "... prerelease" "$(release_field v0.1.0 prerelease)" True
is "... not a draft" "$(release_field v0.1.0 draft)" False
is "content types: application/gzip, application/json" "$("$PY" -c '
import json, sys
r = [r for r in json.load(open(sys.argv[1])) if r["tag_name"] == "v0.1.0"][0]
print(" ".join(sorted(set(r["content_types"].values()))))' "$TEST_TMP/state.json")" \
	"application/gzip application/json"
is "Artifacts.toml: both platforms bound to the browser_download_url" \
	"$(grep -c "url = \"$DL/v0.1.0/Ray\.[a-z0-9_-]*\.[0-9a-f-]*\.tar\.gz\"" "$toml")" 2
is "--json: one record per platform, uploaded, bound URL and object" "$("$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
print(len(v), sorted(e["platform"] for e in v), {e["action"] for e in v},
      all(e["url"].startswith(sys.argv[2]) and e["object"] == e["url"] for e in v))
' "$TEST_TMP/first.out" "$DL/v0.1.0/")" "2 ['aarch64-apple-darwin', 'x86_64-linux-gnu'] {'uploaded'} True"
cp "$toml" "$TEST_TMP/toml.1"

store=$TEST_TMP/store
for pt in x86_64-linux-gnu:zlib aarch64-apple-darwin:tools; do
	fetch_run "fetch-${pt%%:*}" --store "$store" --platform "${pt%%:*}" "$toml" Ray
	is "fetch ${pt%%:*} back from the release" "$rc" 0
	ok "... the installed tree equals the source (tree hash $(tree_of "${pt#*:}"))" \
		tree_equal "$art/src/${pt#*:}" "$store/artifacts/$(tree_of "${pt#*:}")"
done

# --- the second run uploads nothing --------------------------------------------------
gh_mark
pub again "$ray" --to "$GITHUB_SERVER_URL/julia/Ray.jl/releases/tag/v0.1.0" --name Ray \
	--toml "$toml"
succeeds "second run (the release's https URL: the same destination)"
is "... nothing uploaded, nothing created, nothing deleted" \
	"$(gh_count files POST '')$(gh_count api POST '')$(gh_count api DELETE '')" 000
is "... says skipped for both" "$(grep -c '^Ray [a-z0-9_-]* skipped http' "$TEST_TMP/again.out")" 2
is "... and why: the trees are published, so nothing is packed" \
	"$(grep -c 'unchanged, not packed' "$TEST_TMP/again.err")" 2
is "... the sidecars read through the API (302 to the download)" \
	"$(gh_count api GET '/repos/julia/Ray.jl/releases/assets/[0-9]* 302 auth')" 2
is "... and the token not sent on to the download host" \
	"$(gh_count files GET '/julia/Ray.jl/releases/download/v0.1.0/[^ ]*\.json 200 noauth')" 2
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
"$ARTIFACTCTL" index "$REL" -o "$TEST_TMP/index.json" >"$TEST_TMP/index.out" 2>&1
is "index of the release: both tarballs, at their download URLs" "$("$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
print(len(v), all(e["url"].startswith(sys.argv[2]) and e["name"] == "Ray" for e in v))
' "$TEST_TMP/index.json" "$DL/v0.1.0/Ray.")" "2 True"

# --- a changed platform ---------------------------------------------------------------
echo "a new file" >"$ray/x86_64-linux-gnu/NEWS"
gh_mark
pub changed "$ray" --to "$REL" --name Ray --toml "$toml"
is "a changed platform: refused without --force" "$rc" 1
ok "... the message names the asset it would replace" \
	grep -q "Ray x86_64-linux-gnu: the release already holds 'Ray\.x86_64-linux-gnu\..*\.tar\.gz'.*--force replaces it" \
	"$TEST_TMP/changed.err"
is "... nothing uploaded or deleted" "$(gh_count files POST '')$(gh_count api DELETE '')" 00
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.1" "$toml"
gh_mark
pub changedf "$ray" --to "$REL" --name Ray --toml "$toml" --force --json
succeeds "--force replaces it"
is "... the new tarball and sidecar uploaded" "$(gh_count files POST '[^ ]*name=Ray\.x86_64-linux-gnu\.[^ ]* 201')" 2
is "... the old x86_64 ones deleted, and the darwin ones before they go again (204)" \
	"$(gh_count api DELETE '/repos/julia/Ray.jl/releases/assets/[0-9]* 204')" 4
is "... and the unchanged platform uploaded again (--force)" \
	"$(gh_count files POST '[^ ]*name=Ray\.aarch64-apple-darwin\.[^ ]* 201')" 2
is "... one x86_64 tarball left in the release" \
	"$(asset_names v0.1.0 | grep -c '^Ray\.x86_64-linux-gnu\..*\.tar\.gz$')" 1
newtree=$("$PY" -c '
import json, sys
print([e for e in json.load(open(sys.argv[1])) if e["platform"] == "x86_64-linux-gnu"][0]["git-tree-sha1"])
' "$TEST_TMP/changedf.out")
ok "... the new tree bound" grep -q "git-tree-sha1 = \"$newtree\"" "$toml"
fetch_run fetch-new --store "$store" --platform x86_64-linux-gnu "$toml" Ray
is "... and fetched back" "$rc" 0
ok "... equal to the changed source" tree_equal "$ray/x86_64-linux-gnu" "$store/artifacts/$newtree"
cp "$toml" "$TEST_TMP/toml.2"

# --- an asset of the same name with other bytes ----------------------------------------
darwin=$(asset_names v0.1.0 | grep '^Ray\.aarch64-apple-darwin\..*\.tar\.gz$')
gh_admin POST "/_tamper?name=$darwin" >/dev/null
gh_mark
pub tamper "$ray" --to "$REL" --name Ray --toml "$toml"
is "same name, other bytes: refused without --force" "$rc" 1
ok "... says so" grep -q "cannot upload '$DL/v0.1.0/$darwin': the release .* has an asset of that name with other bytes" \
	"$TEST_TMP/tamper.err"
is "... nothing uploaded or deleted" "$(gh_count files POST '')$(gh_count api DELETE '')" 00
ok "... Artifacts.toml unchanged" cmp "$TEST_TMP/toml.2" "$toml"
gh_mark
pub tamperf "$ray" --to "$REL" --name Ray --toml "$toml" --force
succeeds "--force: replaced"
is "... DELETE, then the upload, of that asset" "$(grep -E "^(api DELETE|files POST [^ ]*name=$darwin )" "$GH_LOG" |
	head -n 2 | cut -d' ' -f1-2 | tr '\n' ' ')" "api DELETE files POST "
is "... in the release once" "$(asset_names v0.1.0 | grep -c "^$darwin\$")" 1
curl -sf --noproxy '*' -o "$TEST_TMP/darwin.tar.gz" "$DL/v0.1.0/$darwin"
is "... with the bytes of the tarball bound" "$(sha256sum <"$TEST_TMP/darwin.tar.gz" | cut -d' ' -f1)" \
	"$(grep -B2 "$darwin" "$toml" | sed -n 's/.*sha256 = "\(.*\)"/\1/p')"

# --- the token ------------------------------------------------------------------------
gh_mark
pub_with GITHUB_TOKEN= notoken "$ray" --to "$REL" --name Ray --toml "$TEST_TMP/nt.toml"
is "no token: exit 1" "$rc" 1
ok "... a clear message" grep -q "no GitHub token for 'github://julia/Ray.jl/v0.1.0': set GITHUB_TOKEN or GH_TOKEN, or use --token-file FILE" \
	"$TEST_TMP/notoken.err"
is "... nothing sent at all" "$(wc -l <"$GH_LOG")" 0
ok "... nothing bound" test ! -e "$TEST_TMP/nt.toml"
pub_with GITHUB_TOKEN=ghp_wrong badtoken "$art/src/docs" --to github://julia/Ray.jl/v0.9.0 --name Docs
is "a wrong token: exit 1" "$rc" 1
ok "... HTTP 401 and GitHub's message" grep -q "HTTP 401.*(Bad credentials)" "$TEST_TMP/badtoken.err"
is "... nothing uploaded" "$(gh_count files POST '')" 0
pub_with "GITHUB_TOKEN= GH_TOKEN=$TOKEN" ghtoken "$art/src/docs" --to github://julia/Ray.jl/v0.2.0 \
	--name Docs
succeeds "GH_TOKEN when GITHUB_TOKEN is not set"
printf '%s\n' "$TOKEN" >"$TEST_TMP/token"
chmod 644 "$TEST_TMP/token"
gh_mark
pub tokfile644 "$art/src/docs" --to github://julia/Ray.jl/v0.2.0 --name Docs --token-file "$TEST_TMP/token"
is "--token-file readable by others: refused" "$rc" 1
ok "... says so" grep -q "token file '$TEST_TMP/token' is accessible by group or others (mode 0644)" \
	"$TEST_TMP/tokfile644.err"
is "... before any request" "$(wc -l <"$GH_LOG")" 0
chmod 600 "$TEST_TMP/token"
pub_with GITHUB_TOKEN=ghp_wrong tokfile "$art/src/zlib" --to github://julia/Ray.jl/v0.2.0 --name Zlib \
	--token-file "$TEST_TMP/token"
succeeds "--token-file (mode 600) before GITHUB_TOKEN"
ok "the token is in no output and no Artifacts.toml" sh -c \
	"! grep -rl '$TOKEN' '$TEST_TMP'/*.out '$TEST_TMP'/*.err '$TEST_TMP'/*.toml"

# --- pagination -------------------------------------------------------------------------
# 10 assets in the release before ours, 3 a page: ours are on the last pages
gh_admin POST "/_pad?owner=julia&repo=Ray.jl&tag=v0.3.0&n=10" >/dev/null
pub pfirst "$ray" --to github://julia/Ray.jl/v0.3.0 --name Ray
succeeds "publish into a release with 10 assets"
gh_mark
pub pagain "$ray" --to github://julia/Ray.jl/v0.3.0 --name Ray
succeeds "... again"
is "... every asset found across the pages: both skipped" "$(grep -c ' skipped ' "$TEST_TMP/pagain.out")" 2
is "... 14 assets, 3 a page: 5 pages, by Link rel=\"next\"" \
	"$(gh_count api GET '/repos/julia/Ray.jl/releases/[0-9]*/assets?')" 5
ok "... the last one asked for with the server's page size" grep -q "assets?per_page=3&page=5 200" "$GH_LOG"

# --- rate limits -----------------------------------------------------------------------
gh_admin POST "/_ratelimit?kind=reset&n=1" >/dev/null
gh_mark
pub rl "$ray" --to "$REL" --name Ray
succeeds "403 with x-ratelimit-remaining: 0: waited until x-ratelimit-reset"
ok "... saying so while it waited" \
	grep -q "GitHub's rate limit (HTTP 403): waiting [0-9]*s, until [0-9T:-]*Z, to send '.*' again" \
	"$TEST_TMP/rl.err"
is "... then the same request again" "$(head -n 2 "$GH_LOG" | cut -d' ' -f3,4 | tr '\n' ' ')" \
	"/repos/julia/Ray.jl/releases/tags/v0.1.0 403 /repos/julia/Ray.jl/releases/tags/v0.1.0 200 "
gh_admin POST "/_ratelimit?kind=retry&n=1" >/dev/null
gh_mark
pub rl2 "$ray" --to "$REL" --name Ray
succeeds "429 with Retry-After: waited"
ok "... saying so" grep -q "GitHub's rate limit (HTTP 429): waiting [0-9]*s" "$TEST_TMP/rl2.err"
is "... then the same request again" "$(head -n 2 "$GH_LOG" | cut -d' ' -f4 | tr '\n' ' ')" "429 200 "
gh_admin POST "/_ratelimit?kind=far&n=1" >/dev/null
gh_mark
pub rlfar "$ray" --to "$REL" --name Ray
is "a reset an hour away: exit 1 at once" "$rc" 1
ok "... says when the limit lifts and what is waited at most" \
	grep -q "GitHub's rate limit (HTTP 403) lifts at [0-9T:-]*Z, in [0-9]*s: longer than the 300s artifactctl waits" \
	"$TEST_TMP/rlfar.err"
# The refused request is not sent again: the artifact fails at once, and
# (publish does not stop at a failed artifact) the other one, whose requests
# the server answers again, goes on.
is "... the first request refused (403), and only it" \
	"$(head -n 1 "$GH_LOG" | cut -d' ' -f4)/$(grep -c ' 403 ' "$GH_LOG")" "403/1"

# --- an upload that fails upstream: 502 leaves a "starter" asset ---------------------
gh_admin POST "/_fail_uploads?n=1" >/dev/null
gh_mark
pub starter "$art/src/docs" --to github://julia/Ray.jl/v0.4.0 --name Docs
succeeds "502 on upload, retried"
is "... 502, 422 already_exists, the starter asset deleted, then 201" \
	"$(grep -E '^(files POST|api DELETE)' "$GH_LOG" | head -n 4 | cut -d' ' -f2,4 | tr '\n' ' ')" \
	"POST 502 POST 422 DELETE 204 POST 201 "
is "... the asset whole in the release" "$(asset_names v0.4.0 | grep -c '^Docs\.any\..*\.tar\.gz$')" 1

# --- a draft release: found again through the list of releases --------------------------
pub draft "$art/src/docs" --to github://julia/Ray.jl/v0.5.0 --name Docs --draft
succeeds "--draft"
is "... the release is a draft" "$(release_field v0.5.0 draft)" True
gh_mark
pub draft2 "$art/src/docs" --to github://julia/Ray.jl/v0.5.0 --name Docs --draft
succeeds "... published again"
is "... the draft found in the list, no second release" "$(gh_count api POST '')$(gh_count files POST '')" 00

# --- two runs creating the same release ------------------------------------------------
gh_admin POST "/_race?tag=v0.6.0" >/dev/null
gh_mark
pub race "$art/src/docs" --to github://julia/Ray.jl/v0.6.0 --name Docs
succeeds "a release another run created meanwhile"
is "... 422 to the create, then found by tag and used" \
	"$(grep -E '^api (POST|GET) /repos/julia/Ray.jl/releases(/tags/v0.6.0)? ' "$GH_LOG" | sed -n '2,3p' |
		cut -d' ' -f2,4 | tr '\n' ' ')" "POST 422 GET 200 "
is "... one release v0.6.0, with the asset and its sidecar" \
	"$(gh_state && "$PY" -c '
import json, sys
print([len(r["assets"]) for r in json.load(open(sys.argv[1])) if r["tag_name"] == "v0.6.0"])
' "$TEST_TMP/state.json")" "[2]"

# --- the seek index beside an asset (issue 16) -------------------------------------------
PUB_OPTS=
pub seek "$art/src/zlib" --to github://julia/Ray.jl/v0.7.0 --name Zlib --toml "$TEST_TMP/seek.toml"
succeeds "with a seek index"
is "... the asset, its sidecar and its seek index" \
	"$(asset_names v0.7.0 | sed 's/^Zlib\.any\.[0-9a-f-]*//' | sort | tr '\n' ' ')" \
	".tar.gz .tar.gz.json .tar.gz.seekidx "
ok "... bound as seek_index, beside the browser_download_url" \
	grep -q "seek_index = \"$DL/v0.7.0/Zlib\.any\..*\.tar\.gz\.seekidx\"" "$TEST_TMP/seek.toml"
cp "$TEST_TMP/seek.toml" "$TEST_TMP/seek.toml.1"
pub seek2 "$art/src/zlib" --to github://julia/Ray.jl/v0.7.0 --name Zlib --toml "$TEST_TMP/seek.toml"
succeeds "... published again: the seek index is not another content of the platform"
ok "... the same binding" cmp "$TEST_TMP/seek.toml.1" "$TEST_TMP/seek.toml"
PUB_OPTS=--no-seek-index

# --- malformed destinations --------------------------------------------------------------
gh_mark
for bad in github://julia github://julia/Ray.jl github://julia/Ray.jl/ github:///Ray.jl/v1 \
	github://julia//v1 github:julia/Ray.jl/v1 'github://ju lia/Ray.jl/v1' \
	'github://julia/Ray.jl/v1..2' https://github.com/julia/Ray.jl \
	https://github.com/julia/Ray.jl/releases/tag/ https://github.com; do
	pub bad "$art/src/docs" --to "$bad" --name Docs --toml "$TEST_TMP/bad.toml"
	is "--to $bad: usage error" "$rc" 64
	ok "... the message names it and the accepted forms" grep -qF \
		"invalid GitHub release '$bad'" "$TEST_TMP/bad.err"
	ok "... ... github://OWNER/REPO/TAG or https://github.com/OWNER/REPO/releases/tag/TAG" \
		grep -qF "use github://OWNER/REPO/TAG or https://github.com/OWNER/REPO/releases/tag/TAG" \
		"$TEST_TMP/bad.err"
done
is "... nothing sent for any" "$(wc -l <"$GH_LOG")" 0
ok "... nothing bound" test ! -e "$TEST_TMP/bad.toml"

stop_github
is "github.py stopped cleanly" $? 0
done_testing
