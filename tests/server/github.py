#!/usr/bin/env python3
"""github.py - a loopback stand-in for GitHub's REST API for releases and
release assets, for the publish tests (t0650).

    github.py --port-file FILE --token TOKEN [--log FILE] [--parent-pid PID]
              [--max-per-page N] [--lifetime 1800]

Two servers on 127.0.0.1, as on GitHub: the API (api.github.com) and the
host of uploads and downloads (uploads.github.com, github.com).  Once both
listen, "API_PORT FILES_PORT" is written to FILE (renamed into place).
Point artifactctl at it with GITHUB_API_URL=http://127.0.0.1:API_PORT and
GITHUB_SERVER_URL=http://127.0.0.1:FILES_PORT.

Each behaviour and the GitHub documentation section it follows
(docs.github.com, REST API version 2022-11-28):

  "Getting started with the REST API", "Authenticating to the REST API":
    every API and upload request needs "Authorization: Bearer TOKEN" (or
    "token TOKEN"): without one 401 "Requires authentication", with another
    401 "Bad credentials" (this stands for a private repository; the real
    API lets anonymous requests read public ones).  A request without a
    User-Agent gets 403 ("User agent required"); an X-GitHub-Api-Version
    other than 2022-11-28 gets 400.  Answers carry x-ratelimit-limit,
    -remaining, -reset, as GitHub's do.
  "Releases" / "Get a release by tag name":
    GET /repos/O/R/releases/tags/TAG: 200 with the release, 404 when no
    published release has that tag (drafts have none yet).
  "Releases" / "List releases":
    GET /repos/O/R/releases: 200, drafts included, paginated as below.
  "Releases" / "Create a release":
    POST /repos/O/R/releases {tag_name, name, target_commitish, draft,
    prerelease}: 201 with the release, whose upload_url is
    http://127.0.0.1:FILES_PORT/repos/O/R/releases/ID/assets{?name,label};
    422 "Validation Failed" (errors[].code already_exists) for a tag that has
    a release; 422 missing_field without tag_name.
  "Release assets" / "List release assets":
    GET /repos/O/R/releases/ID/assets?per_page=N&page=P: 200, per_page
    default 30, at most 100 (and at most --max-per-page here, so that a few
    assets make several pages); "Using pagination in the REST API": a Link
    header with rel="next", "last", "first", "prev" as they apply.
  "Release assets" / "Upload a release asset":
    POST UPLOAD_URL?name=NAME[&label=L] with the raw bytes and their
    Content-Type: 201 with the asset (state "uploaded"); 422 "Validation
    Failed" with errors[].code "already_exists" when the release has an
    asset of that name; 400 without name or Content-Type.  "When an
    upstream failure occurs, you will receive a 502 Bad Gateway status.
    This may leave an empty asset with a state of starter": POST
    /_fail_uploads?n=N makes the next N uploads do that.
  "Release assets" / "Get a release asset":
    GET /repos/O/R/releases/assets/ID: 200 with the JSON; with Accept:
    application/octet-stream, 302 to the browser_download_url.  404 for
    an unknown asset.
  "Release assets" / "Delete a release asset":
    DELETE /repos/O/R/releases/assets/ID: 204, 404 for an unknown one.
  browser_download_url (github.com/O/R/releases/download/TAG/NAME):
    GET on the files port, no authentication needed; 404 for "starter".
  "Rate limits for the REST API" ("Exceeding the rate limit", "Handle rate
  limit errors appropriately"): POST /_ratelimit?kind=K&n=N answers the
  next N API requests with kind reset: 403 with x-ratelimit-remaining: 0
  and x-ratelimit-reset a second from now; kind retry: 429 with
  Retry-After: 1; kind far: 403 with the reset an hour away.

Test helpers (not counted, not logged): POST /_race?tag=TAG makes the next
create of a release TAG meet one created just before by "another run" (422
already_exists, the release there); POST /_tamper?name=NAME appends a
byte to every asset of that name (another publisher's other bytes); POST
/_pad?tag=TAG&n=N adds N small assets pad-NNN.bin to the release TAG
(creating it); GET /_state returns the releases and assets as JSON.

With --log, one line per request: "<api|files> <METHOD> <path> <status>
<auth|noauth>".  Every wait is bounded; SIGTERM or SIGINT stops it, so does
the end of --parent-pid or --lifetime.  Standard library only.
"""

import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpd  # noqa: E402  (its Server, and serve(): signals, port file, lifetime)

API_VERSION = "2022-11-28"


class State:
    def __init__(self, token, max_per_page):
        self.lock = threading.RLock()
        self.token = token
        self.max_per_page = max_per_page
        self.releases = {}  # id -> release dict (assets: {id: asset})
        self.next_id = 1
        self.ratelimit = []  # kinds, one per coming API request
        self.fail_uploads = 0
        self.race = set()  # tags whose release "another run" creates first
        self.files_base = None
        self.api_base = None

    def new_id(self):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            return i


def release_json(st, owner, repo, rel):
    return {
        "url": "%s/repos/%s/%s/releases/%d" % (st.api_base, owner, repo, rel["id"]),
        "html_url": "%s/%s/%s/releases/tag/%s" % (st.files_base, owner, repo, rel["tag_name"]),
        "assets_url": "%s/repos/%s/%s/releases/%d/assets" % (st.api_base, owner, repo, rel["id"]),
        "upload_url": "%s/repos/%s/%s/releases/%d/assets{?name,label}"
        % (st.files_base, owner, repo, rel["id"]),
        "id": rel["id"],
        "tag_name": rel["tag_name"],
        "target_commitish": rel["target_commitish"],
        "name": rel["name"],
        "draft": rel["draft"],
        "prerelease": rel["prerelease"],
        "assets": [asset_json(st, owner, repo, rel, a) for a in rel["assets"].values()],
    }


def asset_json(st, owner, repo, rel, a):
    return {
        "url": "%s/repos/%s/%s/releases/assets/%d" % (st.api_base, owner, repo, a["id"]),
        "browser_download_url": "%s/%s/%s/releases/download/%s/%s"
        % (st.files_base, owner, repo, urllib.parse.quote(rel["tag_name"]),
           urllib.parse.quote(a["name"])),
        "id": a["id"],
        "name": a["name"],
        "label": a["label"],
        "state": a["state"],
        "content_type": a["content_type"],
        "size": len(a["data"]),
        "download_count": 0,
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "artifactfs-github/1"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        if self.server.logfile and not self.path.startswith("/_"):
            code = getattr(code, "value", code)
            auth = "auth" if self.headers.get("Authorization") else "noauth"
            line = "%s %s %s %s %s\n" % (self.server.kind, self.command, self.path, code, auth)
            with self.server.log_lock:
                with open(self.server.logfile, "a") as f:
                    f.write(line)

    # --- answers ------------------------------------------------------------

    def send(self, code, obj=None, headers=None, raw=None, ctype="application/json"):
        body = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(code)
        if body or code not in (204, 302):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.server.kind == "api":
            self.send_header("x-ratelimit-limit", "5000")
            self.send_header("x-ratelimit-remaining", "4999")
            self.send_header("x-ratelimit-reset", str(int(time.time()) + 3600))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, message, errors=None):
        obj = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        if errors:
            obj["errors"] = errors
        self.send(code, obj)

    def body(self):
        return self._body

    # --- checks every API request gets ---------------------------------------

    def authorized(self):
        st = self.server.state
        if not self.headers.get("User-Agent"):
            self.error(403, "Request forbidden by administrative rules. "
                       "Please make sure your request has a User-Agent header")
            return False
        v = self.headers.get("X-GitHub-Api-Version")
        if v is not None and v != API_VERSION:
            self.error(400, "API version %s is not supported." % v)
            return False
        auth = self.headers.get("Authorization", "")
        if not auth:
            self.error(401, "Requires authentication")
            return False
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or tok != st.token:
            self.error(401, "Bad credentials")
            return False
        return True

    def rate_limited(self):
        st = self.server.state
        with st.lock:
            kind = st.ratelimit.pop(0) if st.ratelimit else None
        if kind is None:
            return False
        now = int(time.time())
        msg = {"message": "API rate limit exceeded for user.",
               "documentation_url": "https://docs.github.com/rest/overview/rate-limits"}
        if kind == "retry":
            self.send(429, msg, {"Retry-After": "1"})
        else:
            reset = now + (3600 if kind == "far" else 1)
            body = json.dumps(msg).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-ratelimit-limit", "5000")
            self.send_header("x-ratelimit-remaining", "0")
            self.send_header("x-ratelimit-reset", str(reset))
            self.end_headers()
            self.wfile.write(body)
        return True

    # --- pagination ------------------------------------------------------------

    def paginate(self, items, query):
        st = self.server.state
        try:
            per = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            return self.error(422, "Validation Failed")
        per = max(1, min(per, 100, st.max_per_page))
        page = max(1, page)
        last = max(1, (len(items) + per - 1) // per)
        chunk = items[(page - 1) * per:page * per]
        base = st.api_base + urllib.parse.urlsplit(self.path).path

        def url(p):
            return "<%s?per_page=%d&page=%d>" % (base, per, p)
        links = []
        if page < last:
            links += ['%s; rel="next"' % url(page + 1), '%s; rel="last"' % url(last)]
        if page > 1:
            links += ['%s; rel="first"' % url(1), '%s; rel="prev"' % url(page - 1)]
        self.send(200, chunk, {"Link": ", ".join(links)} if links else None)

    # --- routes ------------------------------------------------------------------

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def do_HEAD(self):
        self.route("HEAD")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [urllib.parse.unquote(p) for p in u.path.split("/")[1:]]
        # the body is read whatever the answer, so that the connection stays usable
        n = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(n) if n > 0 else b""
        try:
            if parts and parts[0].startswith("_"):
                return self.admin(method, parts[0], q)
            if self.server.kind == "api":
                return self.api(method, parts, q)
            return self.files(method, parts, q)
        except (BrokenPipeError, ConnectionResetError):
            raise

    def find_release(self, rid):
        return self.server.state.releases.get(rid)

    def api(self, method, parts, q):
        st = self.server.state
        if self.rate_limited() or not self.authorized():
            return
        if len(parts) < 4 or parts[0] != "repos" or parts[3] != "releases":
            return self.error(404, "Not Found")
        owner, repo, rest = parts[1], parts[2], parts[4:]
        if owner == "missing":
            return self.error(404, "Not Found")
        with st.lock:
            rels = [r for r in st.releases.values() if r["repo"] == (owner, repo)]
            if method == "GET" and len(rest) >= 2 and rest[0] == "tags":
                tag = "/".join(rest[1:])
                for r in rels:
                    if r["tag_name"] == tag and not r["draft"]:
                        return self.send(200, release_json(st, owner, repo, r))
                return self.error(404, "Not Found")
            if method == "GET" and not rest:
                return self.paginate([release_json(st, owner, repo, r) for r in rels], q)
            if method == "POST" and not rest:
                try:
                    req = json.loads(self.body() or b"{}")
                except ValueError:
                    return self.error(400, "Problems parsing JSON")
                tag = req.get("tag_name")
                if not tag:
                    return self.error(422, "Validation Failed", [
                        {"resource": "Release", "code": "missing_field", "field": "tag_name"}])
                if tag in st.race:  # another run creates it first
                    st.race.discard(tag)
                    self.new_release(owner, repo, tag, {})
                    rels = [r for r in st.releases.values() if r["repo"] == (owner, repo)]
                if any(r["tag_name"] == tag for r in rels):
                    return self.error(422, "Validation Failed", [
                        {"resource": "Release", "code": "already_exists", "field": "tag_name"}])
                r = self.new_release(owner, repo, tag, req)
                return self.send(201, release_json(st, owner, repo, r))
            if len(rest) == 2 and rest[0] == "assets" and rest[1].isdigit():
                aid = int(rest[1])
                for r in rels:
                    if aid in r["assets"]:
                        a = r["assets"][aid]
                        if method == "DELETE":
                            del r["assets"][aid]
                            return self.send(204)
                        if method == "GET":
                            j = asset_json(st, owner, repo, r, a)
                            if self.headers.get("Accept") == "application/octet-stream":
                                return self.send(302, None,
                                                 {"Location": j["browser_download_url"]})
                            return self.send(200, j)
                return self.error(404, "Not Found")
            if (method == "GET" and len(rest) == 2 and rest[0].isdigit() and
                    rest[1] == "assets"):
                r = self.find_release(int(rest[0]))
                if not r or r["repo"] != (owner, repo):
                    return self.error(404, "Not Found")
                return self.paginate([asset_json(st, owner, repo, r, a)
                                      for a in r["assets"].values()], q)
        return self.error(404, "Not Found")

    def new_release(self, owner, repo, tag, req):
        st = self.server.state
        r = {"id": st.new_id(), "repo": (owner, repo), "tag_name": tag,
             "name": req.get("name") or tag,
             "target_commitish": req.get("target_commitish") or "main",
             "draft": bool(req.get("draft")), "prerelease": bool(req.get("prerelease")),
             "assets": {}}
        st.releases[r["id"]] = r
        return r

    def add_asset(self, r, name, data, ctype, state="uploaded"):
        st = self.server.state
        a = {"id": st.new_id(), "name": name, "label": "", "state": state,
             "content_type": ctype, "data": data}
        r["assets"][a["id"]] = a
        return a

    def files(self, method, parts, q):
        st = self.server.state
        # upload: /repos/O/R/releases/ID/assets?name=N
        if (method == "POST" and len(parts) == 6 and parts[0] == "repos" and
                parts[3] == "releases" and parts[4].isdigit() and parts[5] == "assets"):
            if not self.authorized():
                return
            data = self.body()
            name = q.get("name", [""])[0]
            ctype = self.headers.get("Content-Type")
            if not name or not ctype:
                return self.error(400, "Bad Content-Type or name")
            with st.lock:
                r = self.find_release(int(parts[4]))
                if not r or r["repo"] != (parts[1], parts[2]):
                    return self.error(404, "Not Found")
                if any(a["name"] == name for a in r["assets"].values()):
                    return self.error(422, "Validation Failed", [
                        {"resource": "ReleaseAsset", "code": "already_exists",
                         "field": "name"}])
                if st.fail_uploads > 0:
                    st.fail_uploads -= 1
                    self.add_asset(r, name, b"", ctype, state="starter")
                    return self.error(502, "Bad Gateway")
                a = self.add_asset(r, name, data, ctype)
                return self.send(201, asset_json(st, parts[1], parts[2], r, a))
        # download: /O/R/releases/download/TAG/NAME
        if (method in ("GET", "HEAD") and len(parts) >= 6 and parts[2] == "releases" and
                parts[3] == "download"):
            owner, repo, name, tag = parts[0], parts[1], parts[-1], "/".join(parts[4:-1])
            with st.lock:
                for r in st.releases.values():
                    if r["repo"] != (owner, repo) or r["tag_name"] != tag:
                        continue
                    for a in r["assets"].values():
                        if a["name"] == name and a["state"] == "uploaded":
                            return self.send(200, raw=a["data"], ctype=a["content_type"])
            return self.error(404, "Not Found")
        return self.error(404, "Not Found")

    def admin(self, method, what, q):
        st = self.server.state
        with st.lock:
            if what == "_ratelimit" and method == "POST":
                st.ratelimit += [q.get("kind", ["reset"])[0]] * int(q.get("n", ["1"])[0])
                return self.send(200, {})
            if what == "_race" and method == "POST":
                st.race.add(q["tag"][0])
                return self.send(200, {})
            if what == "_fail_uploads" and method == "POST":
                st.fail_uploads = int(q.get("n", ["1"])[0])
                return self.send(200, {})
            if what == "_tamper" and method == "POST":
                n = 0
                for r in st.releases.values():
                    for a in r["assets"].values():
                        if a["name"] == q["name"][0]:
                            a["data"] += b"\0"
                            n += 1
                return self.send(200, {"tampered": n})
            if what == "_pad" and method == "POST":
                tag = q["tag"][0]
                owner, repo = q.get("owner", ["o"])[0], q.get("repo", ["r"])[0]
                rel = [r for r in st.releases.values()
                       if r["repo"] == (owner, repo) and r["tag_name"] == tag]
                r = rel[0] if rel else self.new_release(owner, repo, tag, {})
                for i in range(int(q["n"][0])):
                    self.add_asset(r, "pad-%03d.bin" % i, b"pad %d\n" % i,
                                   "application/octet-stream")
                return self.send(200, {})
            if what == "_state" and method == "GET":
                out = [{"tag_name": r["tag_name"], "name": r["name"], "draft": r["draft"],
                        "prerelease": r["prerelease"],
                        "target_commitish": r["target_commitish"],
                        "assets": sorted(a["name"] for a in r["assets"].values()),
                        "content_types": {a["name"]: a["content_type"]
                                          for a in r["assets"].values()}}
                       for r in st.releases.values()]
                return self.send(200, out)
        return self.error(404, "Not Found")


def main():
    ap = argparse.ArgumentParser(description="loopback GitHub releases API")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--log")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--max-per-page", type=int, default=100)
    ap.add_argument("--lifetime", type=float, default=1800.0)
    args = ap.parse_args()

    state = State(args.token, max(1, args.max_per_page))
    servers = []
    for kind in ("api", "files"):
        s = httpd.Server(("127.0.0.1", 0), Handler)
        s.kind = kind
        s.state = state
        s.logfile = os.path.abspath(args.log) if args.log else None
        s.log_lock = threading.Lock()
        servers.append(s)
    for s in servers:
        s.log_lock = servers[0].log_lock
    state.api_base = "http://127.0.0.1:%d" % servers[0].server_address[1]
    state.files_base = "http://127.0.0.1:%d" % servers[1].server_address[1]

    return httpd.serve(servers, args.port_file, "%d %d" % (servers[0].server_address[1],
                                                           servers[1].server_address[1]),
                       args.parent_pid, args.lifetime, "github.py")


if __name__ == "__main__":
    sys.exit(main())
