/*
 * test-upload.c - the parts of tools/publish/upload.h and tools/publish/sidecar.h that need
 * no server: sidecar JSON, key naming and encoding, destinations and S3
 * settings, credentials files, the file:// backend, the parsers of S3's
 * XML answers (upload_int.h), GitHub release destinations and tokens, and
 * lookup_published() (lookup.h) over a file:// directory.  The network
 * backends are tested against real servers by t0630 (S3), t0640 (WebDAV) and
 * t0650 (GitHub releases, tests/server/github.py).
 */
#include "tests/tap.h"
#include "tools/publish/lookup.h"
#include "tools/publish/sidecar.h"
#include "tools/publish/upload.h"
#include "tools/publish/upload_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE "0123456789abcdef0123456789abcdef01234567"
#define SHA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_sidecar(void)
{
	struct sidecar s = {.size = 123}, r;
	char *json = NULL, *msg = NULL;
	size_t len;

	s.name = (char *)"Zlib \"quoted\"\n";
	s.platform = (char *)"x86_64-linux-gnu";
	memcpy(s.tree, TREE, sizeof(s.tree));
	memcpy(s.sha256, SHA, sizeof(s.sha256));
	s.created = (char *)"2024-05-01T12:00:00Z";
	is_int(sidecar_format(&s, &json, &len), 0, "format a sidecar");
	ok(json && strstr(json, "\"name\": \"Zlib \\\"quoted\\\"\\n\""), "name escaped: %s", json);
	ok(json && strstr(json, "\"tool\": null"), "absent tool is null");
	is_int(sidecar_parse(json, len, &r, NULL), 0, "parse what was formatted");
	is_str(r.name, s.name, "round trip: name");
	is_str(r.platform, "x86_64-linux-gnu", "round trip: platform");
	is_str(r.tree, TREE, "round trip: git-tree-sha1");
	is_str(r.sha256, SHA, "round trip: sha256");
	is_int(r.size, 123, "round trip: size");
	is_str(r.created, "2024-05-01T12:00:00Z", "round trip: created");
	ok(!r.meta, "no meta: none read back");
	ok(json && !strstr(json, "\"meta\""), "no meta: no key");
	sidecar_release(&r);
	free(json);

	/* the publisher's own metadata travels under "meta", in its order */
	s.meta = json_pack(
		"{s:s, s:[i, i], s:{s:b}}", "license", "MIT", "versions", 1, 2, "x", "y", 1);
	is_int(sidecar_format(&s, &json, &len), 0, "format a sidecar with meta");
	ok(json && strstr(json, "\"meta\": {\"license\": \"MIT\", \"versions\": [1, 2], "
				"\"x\": {\"y\": true}}}\n"),
		"meta last, as given: %s", json);
	is_int(sidecar_parse(json, len, &r, NULL), 0, "parse it");
	ok(r.meta && json_equal(r.meta, s.meta), "round trip: meta");
	sidecar_release(&r);
	free(json);
	json_decref(s.meta);
	s.meta = json_object();
	{
		char *big = malloc(SIDECAR_MAX);

		memset(big, 'a', SIDECAR_MAX - 1);
		big[SIDECAR_MAX - 1] = '\0';
		json_object_set_new(s.meta, "big", json_string(big));
		free(big);
	}
	is_int(sidecar_format(&s, &json, &len), -E2BIG, "meta beyond SIDECAR_MAX is refused");
	json_decref(s.meta);
	s.meta = NULL;

	s.platform = NULL;
	memcpy(s.tree, "xyz", 4);
	is_int(sidecar_format(&s, &json, &len), -EINVAL, "a bad tree hash is refused");

#define PARSES(text, want, what)                                                                   \
	do {                                                                                       \
		const char *t_ = (text);                                                           \
		int r_ = sidecar_parse(t_, strlen(t_), &r, &msg);                                  \
		is_int(r_, want, what);                                                            \
		if (r_ == 0)                                                                       \
			sidecar_release(&r);                                                       \
		free(msg);                                                                         \
		msg = NULL;                                                                        \
	} while (0)
	PARSES("{\"name\": \"A\", \"platform\": null, \"git-tree-sha1\": \"" TREE
	       "\", \"sha256\": \"" SHA "\", \"size\": 0, \"extra\": [1, {\"x\": [true, false]}]}",
		0, "unknown keys of any type are skipped");
	PARSES("{\"name\": \"\\u00e9\\ud83d\\ude00\", \"git-tree-sha1\": \"" TREE
	       "\", \"sha256\": \"" SHA "\", \"size\": 1}",
		0, "\\u escapes and surrogate pairs");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"size\": 1}", -EBADMSG,
		"missing sha256");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": -1}",
		-EBADMSG, "negative size");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1.5}",
		-EBADMSG, "fractional size");
	PARSES("{\"name\": 1, \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1}",
		-EBADMSG, "a name that is not a string");
	PARSES("{\"name\": \"A\\u0000B\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1}",
		-EBADMSG, "NUL in a string");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1} x",
		-EBADMSG, "text after the object");
	PARSES("[1]", -EBADMSG, "not an object");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1, \"meta\": [1]}",
		-EBADMSG, "meta that is not an object");
	PARSES("{\"name\": \"A\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1, \"meta\": null}",
		0, "meta null");
	PARSES("{\"name\": \"\\ud800\"}", -EBADMSG, "lone surrogate");
	PARSES("{\"a\": "
	       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		-E2BIG, "nesting is bounded");
	PARSES("{\"name\": \"A", -EBADMSG, "truncated");

	PARSES("{\"name\": \"A\xff\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
	       "\", \"size\": 1}",
		-EBADMSG, "bytes that are not UTF-8");
	PARSES("{\"name\": \"A\", \"name\": \"B\", \"git-tree-sha1\": \"" TREE
	       "\", \"sha256\": \"" SHA "\", \"size\": 1}",
		0, "a key given twice: the last counts");

	/* strings for JSON output: NULL is null, bytes that are not UTF-8 become U+FFFD */
	{
		json_t *v = sidecar_json_str("a\xff" "b\xc3\xa9\xe2\x82");
		char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

		is_str(text, "\"a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"",
			"invalid UTF-8 becomes U+FFFD, valid sequences stay");
		free(text);
		json_decref(v);
		v = sidecar_json_str(NULL);
		ok(json_is_null(v), "NULL is null");
		json_decref(v);
	}

	ok(sidecar_is_key("a/Zlib.any.x.tar.gz.json"), "a .tar.gz.json is a sidecar");
	ok(sidecar_is_key("Zlib.tar.zst.json"), "a .tar.zst.json is a sidecar");
	ok(!sidecar_is_key("index.json"), "index.json is not a sidecar");
	ok(!sidecar_is_key(".tar.gz.json"), "nothing before the suffix");
}

/*
 * Opens DEST with O (NULL: defaults), checks that it opens (WHAT), that KEY
 * gives a URL and that the URL is WANT (HOW); frees it all.
 */
static void check_dest_url(const char *dest, const struct upload_options *o, const char *key,
	const char *want, const char *what, const char *how)
{
	struct upload *u = NULL;
	char *url = NULL;

	is_int(upload_new(dest, o, &u, NULL), 0, "%s", what);
	is_int(upload_url(u, key, &url), 0, "... url");
	is_str(url, want, "%s", how);
	free(url);
	upload_free(u);
}

static void test_urls(void)
{
	struct upload *u = NULL;
	char *url = NULL, *msg = NULL;
	struct upload_options o;

	upload_options_init(&o);
	o.endpoint = "http://127.0.0.1:9/";
	o.region = "auto";
	o.credentials = "/nonexistent/credentials";
	is_int(upload_new("s3://bkt/a/b/", &o, &u, &msg), -ENOENT,
		"an explicit credentials file must exist");
	ok(msg && strstr(msg, "/nonexistent/credentials"), "... named: %s", msg ? msg : "");
	free(msg);
	o.credentials = NULL;
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("HOME", "/nonexistent", 1);
	is_int(upload_new("s3://bkt/a/b/", &o, &u, &msg), 0, "s3 destination");
	ok(u && !upload_signed(u), "no credentials: unsigned");
	is_int(upload_url(u, "x+y z/Zlib.any.tar.gz", &url), 0, "upload_url");
	is_str(url, "http://127.0.0.1:9/bkt/a/b/x%2By%20z/Zlib.any.tar.gz",
		"path-style, prefix, key encoded for SigV4");
	free(url);
	url = NULL;
	is_int(upload_url(u, "a/../b", &url), -EINVAL, "'..' refused");
	is_int(upload_url(u, "/a", &url), -EINVAL, "leading '/' refused");
	is_int(upload_url(u, "a//b", &url), -EINVAL, "empty component refused");
	is_int(upload_url(u, "a\nb", &url), -EINVAL, "control byte refused");
	upload_free(u);
	u = NULL;

	o.endpoint = NULL;
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	is_int(upload_new("s3://bkt", &o, &u, &msg), -EINVAL, "no endpoint for region auto");
	free(msg);
	o.region = "eu-west-1";
	check_dest_url("s3://bkt", &o, "k", "https://s3.eu-west-1.amazonaws.com/bkt/k",
		"a region gives the AWS endpoint", "... path-style on AWS");
	o.region = "bad:region";
	is_int(upload_new("s3://bkt", &o, &u, NULL), -EINVAL, "a region with ':' is refused");
	o.region = NULL;
	o.endpoint = "http://e";
	is_int(upload_new("s3:///x", &o, &u, NULL), -EINVAL, "an empty bucket is refused");
	is_int(upload_new("s3://b/x/../y", &o, &u, NULL), -EINVAL, "a prefix with '..' is refused");
	o.part_size = 1 << 20;
	is_int(upload_new("s3://b", &o, &u, NULL), -EINVAL, "a part size under 5 MiB is refused");
	o.part_size = 0;
	is_int(upload_new("ftp://h/x", NULL, &u, NULL), -EPROTONOSUPPORT, "ftp:// refused");

	check_dest_url("https://us%40r:p%3Ass@h:8443/dav/", NULL, "o", "https://h:8443/dav/o",
		"http destination with user:password", "... without the credentials");
	is_int(upload_new("https://h/dav?x=1", NULL, &u, NULL), -EINVAL, "a query in DEST");
	check_dest_url("https://h/dav", NULL, "o.json", "https://h/dav/o.json", "http destination",
		"... DEST/KEY");
	check_dest_url("file:///tmp/a%20b/", NULL, "k", "file:///tmp/a%20b/k",
		"file:// destination", "... decoded, then encoded again");
	is_int(upload_join_url(
		       "https://cdn.example.org/a//", "N.x86_64-linux-gnu-cuda+12.0.tar.gz", &url),
		0, "upload_join_url");
	is_str(url, "https://cdn.example.org/a/N.x86_64-linux-gnu-cuda%2B12.0.tar.gz",
		"... slashes trimmed, key encoded");
	free(url);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			diag("write failed");
		fchmod(fd, mode);
		close(fd);
	}
}

static void test_credentials(const char *dir)
{
	struct upload_options o;
	struct upload *u = NULL;
	char path[4096], *msg = NULL;

	upload_options_init(&o);
	o.endpoint = "http://127.0.0.1:9";
	snprintf(path, sizeof(path), "%s/credentials", dir);
	write_file(path,
		"# comment\n[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
		"[profile ci]\n aws_access_key_id=AK2\naws_secret_access_key =SK2\n"
		"[half]\naws_access_key_id = X\n",
		0644);
	o.credentials = path;
	is_int(upload_new("s3://b", &o, &u, &msg), -EPERM, "mode 0644 is refused");
	ok(msg && strstr(msg, "group or others"), "... with the reason: %s", msg ? msg : "");
	free(msg);
	chmod(path, 0640);
	is_int(upload_new("s3://b", &o, &u, NULL), -EPERM, "mode 0640 is refused");
	chmod(path, 0600);
	is_int(upload_new("s3://b", &o, &u, NULL), 0, "mode 0600 is read");
	ok(u && upload_signed(u), "... [default] gives credentials");
	upload_free(u);
	u = NULL;
	o.profile = "ci";
	is_int(upload_new("s3://b", &o, &u, NULL), 0, "[profile ci]");
	ok(u && upload_signed(u), "... gives credentials");
	upload_free(u);
	u = NULL;
	o.profile = "half";
	is_int(upload_new("s3://b", &o, &u, NULL), -EBADMSG, "half a key pair is refused");
	o.profile = "nope";
	is_int(upload_new("s3://b", &o, &u, NULL), -EBADMSG, "a missing profile is refused");
}

static bool saw_key;

static int on_object(void *arg, const char *key, uint64_t size)
{
	if (strcmp(key, "sub/k.tar.gz") == 0 && size == 5)
		saw_key = true;
	return strstr(key, ".upload-") ? -EEXIST : 0;
}

static void test_file(const char *dir)
{
	struct upload_stat st;
	struct upload *u = NULL;
	char dest[4096], *got = NULL;
	size_t len;
	int fd;

	snprintf(dest, sizeof(dest), "%s/pub", dir);
	is_int(upload_new(dest, NULL, &u, NULL), 0, "a plain directory");
	is_int(upload_head(u, "sub/k.tar.gz", &st), 0, "head of a missing object");
	ok(!st.exists && !st.has_sidecar, "... does not exist");
	fd = open(dest, O_RDONLY);
	ok(fd < 0, "nothing created before the first put");
	if (fd >= 0)
		close(fd);
	is_int(upload_put_buf(u, "sub/k.tar.gz", "hello", 5, NULL), 0, "put creates directories");
	is_int(upload_put_buf(u, "sub/k.tar.gz.json",
		       "{\"name\": \"k\", \"git-tree-sha1\": \"" TREE "\", \"sha256\": \"" SHA
		       "\", \"size\": 5}",
		       strlen("{\"name\": \"k\", \"git-tree-sha1\": \"" TREE
			      "\", \"sha256\": \"" SHA "\", \"size\": 5}"),
		       NULL),
		0, "put a sidecar");
	is_int(upload_head(u, "sub/k.tar.gz", &st), 0, "head");
	ok(st.exists && st.size == 5 && st.has_sidecar, "... exists with its sidecar");
	is_str(st.sha256, SHA, "... sidecar sha256");
	is_int(upload_get(u, "sub/k.tar.gz", 4, &got, &len), -E2BIG, "get beyond max");
	is_int(upload_get(u, "sub/k.tar.gz", 5, &got, &len), 0, "get");
	is_str(got, "hello", "... content");
	free(got);
	is_int(upload_get(u, "nope", 5, &got, &len), -ENOENT, "get of a missing object");
	is_int(upload_list(u, "", on_object, NULL), 0, "list");
	ok(saw_key, "... finds the object");
	upload_free(u);
}

/* A call's first failure names the cause; a later one (an abort, a cleanup) does not hide it. */
static void test_first_error(void)
{
	struct upload *u = NULL;

	if (upload_new("file:///nonexistent-dir", NULL, &u, NULL) < 0) {
		ok(0, "file destination");
		return;
	}
	is_int(up_fail(u, -EACCES, "first '%s'", "a"), -EACCES, "up_fail returns its errno");
	up_fail(u, -EIO, "second");
	is_str(upload_errmsg(u), "first 'a'", "the first message wins");
	up_clear_error(u);
	is_str(upload_errmsg(u), "", "cleared");
	up_fail(u, -EIO, "third");
	is_str(upload_errmsg(u), "third", "after a clear, the next failure is recorded");
	upload_free(u);
}

/* Well-formed URLs or plain paths only (issue 10, bug 2). */
static void test_dest_forms(void)
{
	static const char *const bad[] = {
		"s3:/artifacts/bad", "s3:bucket", "http:/h/x", "http:///x", "file:rel", "dir:x",
	};
	struct upload *u = NULL;
	char *msg = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(upload_new(bad[i], NULL, &u, &msg), -EINVAL, "'%s' is refused", bad[i]);
		ok(msg && strstr(msg, "s3://BUCKET[/PREFIX], http(s)://HOST/PATH, file:///DIR or "
				      "a plain path"),
			"... naming the accepted forms: %s", msg ? msg : "");
		free(msg);
		msg = NULL;
	}
	is_int(upload_new("ftp://h/x", NULL, &u, &msg), -EPROTONOSUPPORT, "an unknown scheme");
	free(msg);
	msg = NULL;
	is_int(upload_new("./dir:x", NULL, &u, NULL), 0, "./dir:x is a path");
	is_int(upload_kind(u), UPLOAD_FILE, "... a directory");
	upload_free(u);
	is_int(upload_new("sub/dir", NULL, &u, NULL), 0, "a relative path without a colon");
	upload_free(u);
}

/* ---- GitHub releases ---------------------------------------------------------------- */

static void test_github(const char *dir)
{
	static const char *const bad[] = {
		"github://o", "github://o/r", "github://o/r/", "github:///r/v1", "github://o//v1",
		"github:o/r/v1", "github://o o/r/v1", "github://o/r/v1..2", "github://o/r/v1.lock",
		"github://o/r/a//b", "https://github.com/o/r", "https://github.com/o/r/releases/tag/",
		"https://github.com", "https://github.com/o/r/releases/tag/v1?x=1",
	};
	struct upload_options o;
	struct upload *u = NULL;
	char path[4096], *msg = NULL, *url = NULL;
	size_t i;

	unsetenv("GITHUB_SERVER_URL");
	unsetenv("GITHUB_API_URL");
	unsetenv("GITHUB_TOKEN");
	unsetenv("GH_TOKEN");
	check_dest_url("github://o/r/v1", NULL, "x.tar.gz",
		"https://github.com/o/r/releases/download/v1/x.tar.gz", "github://O/R/TAG",
		"an asset is named by its download URL");
	check_dest_url("https://github.com/JuliaLang/Pkg.jl/releases/tag/v1%2B1", NULL, "a b",
		"https://github.com/JuliaLang/Pkg.jl/releases/download/v1%2B1/a%20b",
		"the release's https URL", "... its tag decoded, then encoded again");
	check_dest_url("github://o/r/release/v1", NULL, "x",
		"https://github.com/o/r/releases/download/release/v1/x", "a tag with a '/'",
		"... kept in the path");
	setenv("GITHUB_SERVER_URL", "https://ghe.example.org/", 1);
	check_dest_url("https://ghe.example.org/o/r/releases/tag/v2", NULL, "x",
		"https://ghe.example.org/o/r/releases/download/v2/x", "a GitHub Enterprise release",
		"... named on its server");
	unsetenv("GITHUB_SERVER_URL");

	is_int(upload_new("github://o/r/v1", NULL, &u, NULL), 0, "a release without a token");
	is_int(upload_kind(u), UPLOAD_GITHUB, "... a GitHub destination");
	ok(!upload_signed(u), "... not signed");
	is_int(upload_url(u, "a/b", &url), -EINVAL, "... an asset name has no '/'");
	is_int(upload_public_url(u, "x", &url), 0, "... its public URL before any request");
	is_str(url, "https://github.com/o/r/releases/download/v1/x", "... the predicted one");
	free(url);
	upload_free(u);
	setenv("GH_TOKEN", "t0k", 1);
	is_int(upload_new("github://o/r/v1", NULL, &u, NULL), 0, "GH_TOKEN");
	ok(upload_signed(u), "... signed");
	upload_free(u);
	unsetenv("GH_TOKEN");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(upload_new(bad[i], NULL, &u, &msg), -EINVAL, "'%s' is refused", bad[i]);
		ok(msg && strstr(msg, "invalid GitHub release") && strstr(msg, UP_GITHUB_FORMS),
			"... naming the accepted forms: %s", msg ? msg : "");
		free(msg);
		msg = NULL;
	}
	setenv("GITHUB_API_URL", "ftp://api", 1);
	is_int(upload_new("github://o/r/v1", NULL, &u, NULL), -EINVAL, "a GITHUB_API_URL not http");
	unsetenv("GITHUB_API_URL");

	upload_options_init(&o);
	snprintf(path, sizeof(path), "%s/token", dir);
	o.token_file = path;
	write_file(path, "ghp_secret\n", 0644);
	is_int(upload_new("github://o/r/v1", &o, &u, &msg), -EPERM, "a token file mode 0644");
	ok(msg && strstr(msg, "group or others") && !strstr(msg, "ghp_secret"),
		"... refused with the reason, not the token: %s", msg ? msg : "");
	free(msg);
	msg = NULL;
	chmod(path, 0600);
	is_int(upload_new("github://o/r/v1", &o, &u, NULL), 0, "a token file mode 0600");
	ok(upload_signed(u), "... signed");
	upload_free(u);
	write_file(path, "\n", 0600);
	is_int(upload_new("github://o/r/v1", &o, &u, NULL), -EINVAL, "an empty token file");
	o.token_file = "/nonexistent/token";
	is_int(upload_new("github://o/r/v1", &o, &u, NULL), -ENOENT, "a missing token file");
}

/* ---- S3's XML answers (upload_int.h) ------------------------------------------------ */

struct seen {
	char keys[256];
	uint64_t total;
};

static int on_listed(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;

	snprintf(s->keys + strlen(s->keys), sizeof(s->keys) - strlen(s->keys), "%s;", key);
	s->total += size;
	return 0;
}

static int list(const char *xml, const char *prefix, struct seen *s, char **next, const char **why)
{
	memset(s, 0, sizeof(*s));
	*next = NULL;
	return s3_list_page(xml, strlen(xml), prefix, on_listed, s, next, why);
}

static void test_s3_xml(void)
{
	const char *page = "<ListBucketResult><IsTruncated>true</IsTruncated>"
			   "<Contents><Key>p/a&amp;b</Key><Size>5</Size></Contents>"
			   "<Contents><Key>p/</Key><Size>7</Size></Contents>"
			   "<Contents><Key>q/c</Key><Size>9</Size></Contents>"
			   "<Contents><Key>p/&#xe9;&#128512;</Key></Contents>"
			   "<NextContinuationToken>t&lt;1</NextContinuationToken>"
			   "</ListBucketResult>";
	const char *p, *why;
	char *next, *text = NULL, out[8];
	struct seen s;

	is_int(list(page, "p/", &s, &next, &why), 0, "list page: parsed");
	is_str(s.keys, "a&b;\xc3\xa9\xf0\x9f\x98\x80;", "... keys under the prefix, decoded");
	ok(s.total == 5, "... sizes, a missing one as 0");
	is_str(next, "t<1", "... the continuation token of a truncated answer");
	free(next);
	is_int(list("<Error><Code>x</Code></Error>", "", &s, &next, &why), -EBADMSG,
		"list page: another answer is refused");
	is_str(why, "not a ListObjectsV2 answer", "... with its reason");
	is_int(list("<ListBucketResult><Contents><Key>a</Key>", "", &s, &next, &why), -EBADMSG,
		"list page: an unclosed <Contents> is refused");
	is_str(why, "malformed answer", "... with its reason");
	is_int(list("<ListBucketResult><Contents><Size>1</Size></Contents>", "", &s, &next, &why),
		-EBADMSG, "list page: <Contents> without <Key> is refused");
	is_int(list("<ListBucketResult><Contents><Key>&bad;</Key></Contents>", "", &s, &next, &why),
		-EBADMSG, "list page: an unknown entity is refused");
	is_int(list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", "", &s,
		       &next, &why),
		-EBADMSG, "list page: truncated without a token is refused");
	is_str(why, "truncated answer without a continuation token", "... with its reason");
	ok(next == NULL, "... and no token is returned");

	p = "<a>&#0;</a>";
	is_int(s3_xml_take(&p, p + strlen(p), "a", &text), -EBADMSG, "xml: &#0; is refused");
	p = "<a>&#x110000;</a>";
	is_int(s3_xml_take(&p, p + strlen(p), "a", &text), -EBADMSG,
		"xml: a code point past U+10FFFF is refused");
	p = "<a>x</a>";
	is_int(s3_xml_take(&p, p + 3, "a", &text), -EBADMSG,
		"xml: a closing tag past the end is not read");
	ok(up_xml_text(p, p + 8, "a", out, sizeof(out)) && strcmp(out, "x") == 0,
		"xml: error-body text");
	p = "<Code>AccessDeniedAndMore</Code>";
	ok(up_xml_text(p, p + strlen(p), "Code", out, sizeof(out)) && strcmp(out, "AccessD") == 0,
		"xml: error-body text is cut to the buffer");
}

/* put a tarball of size bytes as key and, unless sc_name is NULL, its sidecar */
static void put_published(struct upload *u, const char *key, size_t size, const char *sc_name,
	const char *platform, const char *tree, uint64_t sc_size)
{
	struct sidecar sc = {.size = sc_size};
	char buf[64] = {0}, *json = NULL, *k = NULL;
	size_t len;

	if (upload_put_buf(u, key, buf, size, NULL) < 0)
		diag("put %s: %s", key, upload_errmsg(u));
	if (!sc_name)
		return;
	sc.name = (char *)sc_name;
	sc.platform = (char *)platform;
	memcpy(sc.tree, tree, 41);
	memcpy(sc.sha256, SHA, 65);
	if (sidecar_format(&sc, &json, &len) < 0 || asprintf(&k, "%s.json", key) < 0 ||
		upload_put_buf(u, k, json, len, NULL) < 0)
		diag("put the sidecar of %s", key);
	free(json);
	free(k);
}

#define T2 "fedcba9876543210fedcba9876543210fedcba98"
#define T3 "0123456789abcdefffffffffffffffffffffffff" /* TREE's TREE16, another tree */

/* lookup_published() of TREE for name and platform gives state (the result stays in *r) */
static void expect_state(struct upload *u, const char *name, const char *platform,
	enum lookup_state state, const char *what, struct lookup_result *r)
{
	is_int(lookup_published(u, name, platform, TREE, r), 0, "lookup: %s", what);
	is_int(r->state, state, "... state %d", (int)state);
}

static void test_lookup(const char *dir)
{
	struct lookup_result r;
	struct upload *u = NULL;
	char dest[4096];

	snprintf(dest, sizeof(dest), "%s/lookup/not/yet", dir);
	if (upload_new(dest, NULL, &u, NULL) < 0)
		return;
	expect_state(u, "Zlib", NULL, LOOKUP_NEW, "a directory not created yet", &r);
	lookup_result_release(&r);

	/* another tree of Zlib any, one of Zlib for a platform */
	put_published(
		u, "Zlib.any.fedcba9876543210-0011223344556677.tar.gz", 10, "Zlib", NULL, T2, 10);
	put_published(u, "Zlib.x86_64-linux-gnu.0123456789abcdef-0011223344556677.tar.gz", 10,
		"Zlib", "x86_64-linux-gnu", TREE, 10);
	expect_state(u, "Zlib", NULL, LOOKUP_CHANGED, "other trees only", &r);
	ok(!r.key, "... no key");
	lookup_result_release(&r);

	/* our TREE16, but the sidecar says another tree; a tarball of the wrong size; no sidecar */
	put_published(
		u, "Zlib.any.0123456789abcdef-aaaaaaaaaaaaaaaa.tar.gz", 10, "Zlib", NULL, T3, 10);
	put_published(
		u, "Zlib.any.0123456789abcdef-bbbbbbbbbbbbbbbb.tar.gz", 9, "Zlib", NULL, TREE, 10);
	put_published(
		u, "Zlib.any.0123456789abcdef-cccccccccccccccc.tar.gz", 10, NULL, NULL, NULL, 0);
	expect_state(u, "Zlib", NULL, LOOKUP_CHANGED,
		"TREE16 matches but the full tree, the size or the sidecar does not", &r);
	lookup_result_release(&r);

	put_published(
		u, "Zlib.any.0123456789abcdef-dddddddddddddddd.tar.gz", 12, "Zlib", NULL, TREE, 12);
	put_published(
		u, "Zlib.any.0123456789abcdef-eeeeeeeeeeeeeeee.tar.xz", 11, "Zlib", NULL, TREE, 11);
	expect_state(u, "Zlib", NULL, LOOKUP_UNCHANGED, "the tree is published", &r);
	is_str(r.key, "Zlib.any.0123456789abcdef-dddddddddddddddd.tar.gz",
		"... the first matching key in byte order");
	is_int(r.size, 12, "... the sidecar's size");
	is_str(r.sha256, SHA, "... the sidecar's sha256");
	lookup_result_release(&r);
	expect_state(u, "Zlib", "x86_64-linux-gnu", LOOKUP_UNCHANGED, "per platform", &r);
	lookup_result_release(&r);
	expect_state(u, "Zli", NULL, LOOKUP_NEW, "a name that is a prefix of another", &r);
	lookup_result_release(&r);
	upload_free(u);
}

int main(void)
{
	char dir[] = "/tmp/test-upload.XXXXXX";
	char cmd[128];

	if (!mkdtemp(dir))
		return 1;
	test_sidecar();
	test_urls();
	test_credentials(dir);
	test_file(dir);
	test_first_error();
	test_dest_forms();
	test_github(dir);
	test_s3_xml();
	test_lookup(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return tap_done();
}
