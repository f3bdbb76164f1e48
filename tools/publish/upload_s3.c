/*
 * upload_s3.c - the S3 backend of the upload layer: settings and
 * credentials, single and multipart PUT, HEAD/GET, ListObjectsV2
 *
 * Signing is libcurl's (CURLOPT_AWS_SIGV4).  libcurl 7.87 and 7.88 put the
 * path and the query into the canonical request as they are in the URL,
 * and take the payload hash from our x-amz-content-sha256 header, so the
 * URLs built here are already canonical: keys percent-encoded per SigV4
 * (upload.c up_escape), query parameters sorted by name, every one with
 * '=', values encoded.  Later libcurl versions canonicalise themselves and
 * leave such URLs unchanged.
 *
 * Test knob: ARTIFACTCTL_S3_MAX_KEYS=N asks ListObjectsV2 for pages of N
 * keys, so that the tests go through continuation tokens with few objects.
 */
#include "tools/publish/upload_int.h"

#include "tools/publish/aws_config.h"

#include "store/hash.h"
#include "store/util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDENTIALS_MAX (1u << 20)

/* ---- settings and credentials ---------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* The [profile] section of the INI text: aws_access_key_id and friends. */
static int parse_credentials(
	struct upload *u, char *text, const char *path, const char *profile, bool *found)
{
	char *line, *save = NULL, *eq, *k, *v;
	bool in = false;
	int err = 0;

	*found = false;
	for (line = strtok_r(text, "\n", &save); line && err == 0;
		line = strtok_r(NULL, "\n", &save)) {
		line = strip(line);
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *end = strchr(line, ']'), *name;

			if (!end)
				continue;
			*end = '\0';
			name = strip(line + 1);
			if (strncmp(name, "profile ", 8) == 0)
				name = strip(name + 8);
			in = strcmp(name, profile) == 0;
			*found |= in;
			continue;
		}
		if (!in || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		k = strip(line);
		v = strip(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			err = set_str(&u->key_id, v);
		else if (strcmp(k, "aws_secret_access_key") == 0)
			err = set_str(&u->secret, v);
		else if (strcmp(k, "aws_session_token") == 0)
			err = set_str(&u->token, v);
	}
	if (err == 0 && *found && (!u->key_id || !u->secret || !*u->key_id || !*u->secret))
		err = up_fail(u, -EBADMSG,
			"credentials file '%s': profile '%s' needs aws_access_key_id and "
			"aws_secret_access_key",
			path, profile);
	return err;
}

/*
 * Read the credentials file.  explicit: the file or the profile was asked
 * for, so a missing file or profile is an error rather than "no credentials".
 */
static int read_credentials(struct upload *u, const char *path, const char *profile, bool explicit)
{
	char *text = NULL;
	size_t len = 0;
	bool found;
	int err;

	err = up_read_secret(u, path, "credentials file", CREDENTIALS_MAX, &text, &len);
	if (err == -ENOENT && !explicit) {
		up_clear_error(u); /* no file: no credentials */
		return 0;
	}
	if (err < 0)
		return err;
	err = parse_credentials(u, text, path, profile, &found);
	if (err == 0 && !found && explicit)
		err = up_fail(
			u, -EBADMSG, "no profile '%s' in the credentials file '%s'", profile, path);
	explicit_bzero(text, len);
	free(text);
	return err;
}

static int credentials(struct upload *u, const struct upload_options *o)
{
	const char *profile = o->profile ? o->profile : env("AWS_PROFILE");
	const char *file = o->credentials ? o->credentials : env("AWS_SHARED_CREDENTIALS_FILE");
	bool explicit = o->credentials || o->profile;
	char *path = NULL;
	int err;

	if (!explicit && env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
		if ((err = set_str(&u->key_id, env("AWS_ACCESS_KEY_ID"))) < 0 ||
			(err = set_str(&u->secret, env("AWS_SECRET_ACCESS_KEY"))) < 0)
			return err;
		return env("AWS_SESSION_TOKEN") ? set_str(&u->token, env("AWS_SESSION_TOKEN")) : 0;
	}
	if (!file) {
		const char *home = env("HOME");
		struct passwd *pw;

		if (!home && (pw = getpwuid(getuid())))
			home = pw->pw_dir;
		if (!home)
			return 0;
		if (asprintf(&path, "%s/.aws/credentials", home) < 0)
			return -ENOMEM;
		file = path;
	}
	err = read_credentials(u, file, profile ? profile : "default", explicit);
	free(path);
	if (err == 0 && (!u->key_id || !u->secret)) {
		free(u->key_id);
		free(u->secret);
		free(u->token);
		u->key_id = u->secret = u->token = NULL;
	}
	return err;
}

static bool region_valid(const char *r)
{
	if (!*r)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') ||
			    (*r >= '0' && *r <= '9') || *r == '-' || *r == '_'))
			return false;
	return true;
}

/* The handle for dest at endpoint (NULL: AWS's of region) in region. */
static int s3_setup(struct upload *u, const char *dest, const struct upload_options *o,
	const char *region, const char *endpoint)
{
	const char *slash, *b = dest + 5;
	char *ep = NULL, *p, *q;
	struct buf base;
	size_t n;
	int err;

	if (endpoint) {
		if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
			return up_fail(u, -EINVAL,
				"invalid S3 endpoint '%s': http(s)://HOST expected", endpoint);
		ep = strdup(endpoint);
	} else if (asprintf(&ep, "https://s3.%s.amazonaws.com", region) < 0) {
		ep = NULL;
	}
	if (!ep)
		return -ENOMEM;
	for (n = strlen(ep); n > 0 && ep[n - 1] == '/'; n--)
		ep[n - 1] = '\0';

	/* s3://BUCKET[/PREFIX] */
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	u->bucket = strndup(b, n);
	p = strdup(slash ? slash + 1 : "");
	if (!u->bucket || !p) {
		free(p);
		free(ep);
		return -ENOMEM;
	}
	for (q = u->bucket; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '?' || *q == '#')
			break;
	if (!*u->bucket || *q) {
		free(p);
		free(ep);
		return up_fail(
			u, -EINVAL, "invalid bucket in '%s': s3://BUCKET[/PREFIX] expected", dest);
	}
	while ((n = strlen(p)) > 0 && p[n - 1] == '/')
		p[n - 1] = '\0';
	if (*p && asprintf(&u->prefix, "%s/", p) < 0)
		u->prefix = NULL;
	else if (!*p)
		u->prefix = strdup("");
	free(p);
	if (!u->prefix) {
		free(ep);
		return -ENOMEM;
	}
	if (*u->prefix) {
		/* the prefix follows the key rules: no empty, "." or ".." component */
		n = strlen(u->prefix);
		u->prefix[n - 1] = '\0';
		err = up_key_valid(u->prefix) ? 0 : -EINVAL;
		u->prefix[n - 1] = '/';
		if (err < 0) {
			free(ep);
			return up_fail(u, -EINVAL, "invalid prefix in '%s'", dest);
		}
	}

	buf_init(&base, 1 << 16);
	if ((err = buf_adds(&base, ep)) == 0 && (err = buf_addc(&base, '/')) == 0 &&
		(err = up_escape(&base, u->bucket, false)) == 0 &&
		(err = buf_addc(&base, '/')) == 0)
		u->base = buf_detach(&base, NULL);
	buf_release(&base);
	free(ep);
	if (err < 0 || !u->base)
		return -ENOMEM;
	if (asprintf(&u->sigv4, "aws:amz:%s:s3", region) < 0) {
		u->sigv4 = NULL;
		return -ENOMEM;
	}
	return credentials(u, o);
}

int s3_init(struct upload *u, const char *dest, const struct upload_options *o)
{
	struct aws_s3_settings as = {0};
	char *msg = NULL;
	int err;

	err = aws_s3_settings_resolve(o->endpoint, o->region, o->profile, &as, &msg);
	if (err < 0) {
		err = msg ? up_fail(u, err, "%s", msg) : err;
		free(msg);
		return err;
	}
	if (!region_valid(as.region))
		err = up_fail(u, -EINVAL, "invalid region '%s'", as.region);
	else if (!as.endpoint && strcmp(as.region, "auto") == 0)
		err = up_fail(u, -EINVAL,
			"no S3 endpoint for '%s': give --endpoint-url URL, set AWS_ENDPOINT_URL, "
			"or endpoint_url in ~/.aws/config (or a region for AWS)",
			dest);
	else
		err = s3_setup(u, dest, o, as.region, as.endpoint);
	aws_s3_settings_release(&as);
	return err;
}

void s3_release(struct upload *u)
{
	free(u->bucket);
	free(u->prefix);
	free(u->sigv4);
	if (u->secret)
		explicit_bzero(u->secret, strlen(u->secret));
	free(u->key_id);
	free(u->secret);
	free(u->token);
}

static int need_credentials(struct upload *u, const char *url)
{
	if (u->key_id)
		return 0;
	return up_fail(u, -EACCES,
		"cannot upload '%s': no S3 credentials (set AWS_ACCESS_KEY_ID and "
		"AWS_SECRET_ACCESS_KEY, or use ~/.aws/credentials, --credentials FILE, --profile)",
		url);
}

static bool signing_supported(struct upload *u)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	/* 7.87.0: the payload hash is taken from x-amz-content-sha256 */
	return v && v->version_num >= 0x075700;
}

/* ---- XML ------------------------------------------------------------------------ */

/* The named XML entities s3_xml_take() reads; xml_escape() writes the first XML_ESCAPED. */
static const struct {
	char c;
	const char *name;
} xml_entities[] = {
	{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&apos;"},
};
#define XML_ENTITIES (sizeof(xml_entities) / sizeof(xml_entities[0]))
#define XML_ESCAPED 4

int s3_xml_take(const char **p, const char *e, const char *tag, char **ret)
{
	char open[64], close[64];
	const char *s, *t;
	struct buf b;
	int err = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = memmem(*p, (size_t)(e - *p), open, strlen(open));
	if (!s)
		return -ENOENT;
	s += strlen(open);
	t = memmem(s, (size_t)(e - s), close, strlen(close));
	if (!t)
		return -EBADMSG;
	*p = t + strlen(close);
	buf_init(&b, RESPONSE_MAX);
	while (err == 0 && s < t) {
		const char *semi;
		unsigned long cp;
		char u8[UTF8_MAX];
		char *end;
		size_t k;

		if (*s != '&') {
			err = buf_addc(&b, *s++);
			continue;
		}
		semi = memchr(s, ';', (size_t)(t - s));
		if (!semi || semi - s > 10) {
			err = -EBADMSG;
			break;
		}
		for (k = 0; k < XML_ENTITIES; k++)
			if (strncmp(s, xml_entities[k].name, strlen(xml_entities[k].name)) == 0)
				break;
		if (k < XML_ENTITIES)
			err = buf_addc(&b, xml_entities[k].c);
		else if (s[1] == '#') {
			cp = s[2] == 'x' ? strtoul(s + 3, &end, 16) : strtoul(s + 2, &end, 10);
			if (end != semi || cp == 0 || cp > 0x10ffff)
				err = -EBADMSG;
			else
				err = buf_add(&b, u8, utf8_encode((uint32_t)cp, u8));
		} else {
			err = -EBADMSG;
		}
		s = semi + 1;
	}
	if (err == 0) {
		*ret = buf_detach(&b, NULL);
		if (!*ret)
			err = -ENOMEM;
	}
	buf_release(&b);
	return err;
}

static int xml_escape(struct buf *b, const char *s)
{
	int err = 0;
	size_t k;

	for (; err == 0 && *s; s++) {
		for (k = 0; k < XML_ESCAPED; k++)
			if (xml_entities[k].c == *s)
				break;
		err = k < XML_ESCAPED ? buf_adds(b, xml_entities[k].name) : buf_addc(b, *s);
	}
	return err;
}

/* ---- requests ------------------------------------------------------------------------ */

int s3_head(struct upload *u, const char *key, const char *url, bool *exists, uint64_t *size)
{
	struct up_req r = {.method = "HEAD", .url = url};
	int err;

	if (u->key_id && !signing_supported(u))
		return up_fail(u, -ENOTSUP, "S3 signing needs libcurl 7.87.0 or later");
	err = up_request(u, &r, "look up", 404);
	*exists = err == 0;
	*size = err == 0 && r.length >= 0 ? (uint64_t)r.length : 0;
	if (err < 0 && r.status >= 400 && r.status != 404 && r.status != 410) {
		/* an answer to HEAD has no body: ask again with GET of one byte
		 * for S3's error code and message (SignatureDoesNotMatch ...) */
		struct up_req g = {.method = "GET", .url = url, .range = "0-0"};
		unsigned attempts = u->attempts;

		u->attempts = 1;
		up_clear_error(u); /* the GET's message, or the one below, says more */
		if (up_request(u, &g, "look up", 0) == 0)
			up_fail(u, err, "cannot look up '%s': HTTP %ld to HEAD, but GET works", url,
				r.status);
		u->attempts = attempts;
	}
	return err == -ENOENT ? 0 : err;
}

int s3_get(struct upload *u, const char *url, size_t max, struct buf *out)
{
	struct up_req r = {.method = "GET", .url = url, .resp = out};
	int err;

	if (u->key_id && !signing_supported(u))
		return up_fail(u, -ENOTSUP, "S3 signing needs libcurl 7.87.0 or later");
	err = up_request(u, &r, "read", 404);
	if (err == -E2BIG) {
		up_clear_error(u); /* refined */
		up_fail(u, err, "cannot read '%s': larger than %zu bytes", url, max);
	}
	return err;
}

static int payload_hash(const struct up_body *b, char hex[65])
{
	uint8_t d[HASH_SHA256_LEN];
	int err;

	if (b->fd >= 0) {
		snprintf(hex, 65, "UNSIGNED-PAYLOAD");
		return 0;
	}
	if ((err = hash_buffer(HASH_SHA256, b->mem, (size_t)b->len, d)) < 0)
		return err;
	hash_to_hex(d, sizeof(d), hex);
	return 0;
}

/* url + query + id percent-encoded (id may be NULL) */
static int query_url(char **ret, const char *url, const char *query, const char *id)
{
	struct buf b;
	int err;

	buf_init(&b, 1 << 20);
	if ((err = buf_adds(&b, url)) == 0 && (err = buf_adds(&b, query)) == 0 && id)
		err = up_escape(&b, id, false);
	if (err == 0 && !(*ret = buf_detach(&b, NULL)))
		err = -ENOMEM;
	buf_release(&b);
	return err;
}

static void abort_upload(struct upload *u, const char *url, const char *id)
{
	struct up_req r = {.method = "DELETE", .name = url};
	char *q = NULL, *msg = u->errmsg;
	unsigned attempts = u->attempts;

	/* best effort, once; the message of the failure that led here is kept */
	u->errmsg = NULL;
	u->attempts = 1;
	if (query_url(&q, url, "?uploadId=", id) == 0) {
		r.url = q;
		up_request(u, &r, "abort the multipart upload of", 0);
	}
	u->attempts = attempts;
	free(u->errmsg);
	u->errmsg = msg;
	free(q);
}

/*
 * multipart_req - reset r to a request of one multipart step: method on the
 * query URL q, named url in messages, sending body (NULL: none) signed with
 * the payload hash sha (64 hex digits or "UNSIGNED-PAYLOAD").
 */
static void multipart_req(struct up_req *r, const char *method, const char *q,
	const char *url, struct up_body *body, const char *sha)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->url = q;
	r->name = url;
	r->body = body;
	r->payload_sha256 = sha;
}

static int multipart(struct upload *u, const char *url, struct up_body *whole, const char *type,
	upload_progress_fn progress, void *arg)
{
	uint64_t part = u->part_size, nparts, i;
	struct up_req r = {0};
	struct up_body pb, xb;
	struct buf resp, xml;
	char *q = NULL, *id = NULL, hex[65];
	const char *p;
	int err;

	nparts = (whole->len + part - 1) / part;
	if (nparts > UPLOAD_MAX_PARTS) {
		part = (whole->len + UPLOAD_MAX_PARTS - 1) / UPLOAD_MAX_PARTS;
		part = (part + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
		nparts = (whole->len + part - 1) / part;
	}
	buf_init(&resp, RESPONSE_MAX);
	buf_init(&xml, RESPONSE_MAX);

	/* CreateMultipartUpload: POST KEY?uploads= */
	if ((err = query_url(&q, url, "?uploads=", NULL)) < 0)
		goto out;
	multipart_req(&r, "POST", q, url, NULL, EMPTY_SHA256);
	r.content_type = type;
	r.resp = &resp;
	if ((err = up_request(u, &r, "start the multipart upload of", 0)) < 0)
		goto out;
	p = resp.ptr ? resp.ptr : "";
	if (s3_xml_take(&p, p + resp.len, "UploadId", &id) < 0 || !*id) {
		err = up_fail(u, -EBADMSG, "cannot upload '%s': no UploadId in the answer", url);
		goto out;
	}
	free(q);
	q = NULL;

	/* UploadPart: PUT KEY?partNumber=N&uploadId=ID, each with its retries */
	err = buf_adds(&xml,
		"<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (i = 0; err == 0 && i < nparts; i++) {
		char verb[64], fmt[64];

		pb = *whole;
		pb.off = whole->off + i * part;
		pb.len = whole->len - i * part < part ? whole->len - i * part : part;
		snprintf(fmt, sizeof(fmt), "?partNumber=%llu&uploadId=", (unsigned long long)i + 1);
		if ((err = query_url(&q, url, fmt, id)) < 0)
			break;
		multipart_req(&r, "PUT", q, url, &pb, "UNSIGNED-PAYLOAD");
		r.progress = progress;
		r.progress_arg = arg;
		r.progress_base = i * part;
		r.progress_total = whole->len;
		snprintf(verb, sizeof(verb), "upload part %llu of %llu of",
			(unsigned long long)i + 1, (unsigned long long)nparts);
		err = up_request(u, &r, verb, 0);
		free(q);
		q = NULL;
		if (err < 0)
			break;
		if (!r.etag[0]) {
			err = up_fail(
				u, -EBADMSG, "cannot %s '%s': no ETag in the answer", verb, url);
			break;
		}
		if ((err = buf_addf(&xml, "<Part><PartNumber>%llu</PartNumber><ETag>",
			     (unsigned long long)i + 1)) == 0 &&
			(err = xml_escape(&xml, r.etag)) == 0)
			err = buf_adds(&xml, "</ETag></Part>");
	}
	if (err == 0)
		err = buf_adds(&xml, "</CompleteMultipartUpload>");
	if (err < 0)
		goto abort;

	/* CompleteMultipartUpload: POST KEY?uploadId=ID with the list of parts */
	xb = (struct up_body){.fd = -1, .mem = xml.ptr, .len = xml.len};
	if ((err = payload_hash(&xb, hex)) < 0 || (err = query_url(&q, url, "?uploadId=", id)) < 0)
		goto abort;
	multipart_req(&r, "POST", q, url, &xb, hex);
	r.content_type = "application/xml";
	r.resp = &resp;
	if ((err = up_request(u, &r, "complete the multipart upload of", 0)) < 0)
		goto abort;
	/* S3 may answer 200 and still fail, with an <Error> body */
	p = resp.ptr ? resp.ptr : "";
	if (memmem(p, resp.len, "<Error>", 7)) {
		char *code = NULL, *msg = NULL;
		const char *p2 = p;

		s3_xml_take(&p, p + resp.len, "Code", &code);
		s3_xml_take(&p2, p2 + resp.len, "Message", &msg);
		err = up_fail(u, -EREMOTEIO, "cannot complete the multipart upload of '%s': %s: %s",
			url, code ? code : "error", msg ? msg : "");
		free(code);
		free(msg);
		goto abort;
	}
	if (!memmem(p, resp.len, "CompleteMultipartUploadResult", 29)) {
		err = up_fail(u, -EBADMSG,
			"cannot complete the multipart upload of '%s': "
			"unexpected answer",
			url);
		goto abort;
	}
	goto out;
abort:
	abort_upload(u, url, id);
out:
	free(q);
	free(id);
	buf_release(&resp);
	buf_release(&xml);
	return err;
}

int s3_put(struct upload *u, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg)
{
	struct up_req r;
	char hex[65];
	int err;

	up_req_put(&r, url, b, type, progress, arg);
	if ((err = need_credentials(u, url)) < 0)
		return err;
	if (!signing_supported(u))
		return up_fail(u, -ENOTSUP,
			"cannot upload '%s': S3 signing needs libcurl 7.87.0 "
			"or later",
			url);
	if (b->len > u->part_size)
		return multipart(u, url, b, type, progress, arg);
	if ((err = payload_hash(b, hex)) < 0)
		return err;
	r.payload_sha256 = hex;
	return up_request(u, &r, "upload", 0);
}

/* ---- ListObjectsV2 ------------------------------------------------------------------------ */

int s3_list_page(const char *body, size_t len, const char *prefix, upload_list_fn fn, void *arg,
	char **next, const char **why)
{
	const char *e = body + len, *c = body;
	size_t plen = strlen(prefix);
	char *key, *size, *end, *token = NULL;
	int err = 0;

	*why = NULL;
	if (!memmem(body, len, "<ListBucketResult", 17)) {
		*why = "not a ListObjectsV2 answer";
		return -EBADMSG;
	}
	while (err == 0 && (c = memmem(c, (size_t)(e - c), "<Contents>", 10))) {
		const char *ce = memmem(c, (size_t)(e - c), "</Contents>", 11), *k = c, *s = c;
		unsigned long long n = 0;

		if (!ce) {
			*why = "malformed answer";
			return -EBADMSG;
		}
		key = size = NULL;
		err = s3_xml_take(&k, ce, "Key", &key);
		if (err == 0 && s3_xml_take(&s, ce, "Size", &size) == 0)
			n = strtoull(size, &end, 10);
		if (err == 0 && strncmp(key, prefix, plen) == 0 && key[plen])
			err = fn(arg, key + plen, n);
		else if (err == -ENOENT || err == -EBADMSG)
			*why = "malformed answer";
		if (err == -ENOENT)
			err = -EBADMSG;
		free(key);
		free(size);
		c = ce + 11;
	}
	if (err < 0)
		return err;
	c = body;
	if (memmem(body, len, "<IsTruncated>true</IsTruncated>", 31)) {
		err = s3_xml_take(&c, e, "NextContinuationToken", &token);
		if (err == -ENOMEM)
			return err;
		if (err < 0 || !*token) {
			free(token);
			*why = "truncated answer without a continuation token";
			return -EBADMSG;
		}
		*next = token;
	}
	return 0;
}

int s3_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg)
{
	struct buf url, resp;
	struct up_req r = {0};
	char *full = NULL, *token = NULL, *bucket_url = NULL, *end;
	const char *why;
	size_t pages = 0;
	unsigned max_keys = 0;
	int err;

	if (u->key_id && !signing_supported(u))
		return up_fail(u, -ENOTSUP, "S3 signing needs libcurl 7.87.0 or later");
	/* a test knob: small pages exercise the continuation tokens */
	if (env("ARTIFACTCTL_S3_MAX_KEYS"))
		max_keys = (unsigned)strtoul(env("ARTIFACTCTL_S3_MAX_KEYS"), &end, 10);
	if (asprintf(&full, "%s%s", u->prefix, prefix) < 0)
		return -ENOMEM;
	bucket_url = strndup(u->base, strlen(u->base) - 1);
	if (!bucket_url) {
		free(full);
		return -ENOMEM;
	}
	buf_init(&url, 1 << 20);
	buf_init(&resp, RESPONSE_MAX);
	do {
		/* parameters sorted by name, each with '=' (canonical for SigV4) */
		buf_reset(&url);
		if ((err = buf_adds(&url, bucket_url)) < 0 || (err = buf_addc(&url, '?')) < 0)
			break;
		if (token && ((err = buf_adds(&url, "continuation-token=")) < 0 ||
				     (err = up_escape(&url, token, false)) < 0 ||
				     (err = buf_addc(&url, '&')) < 0))
			break;
		if ((err = buf_adds(&url, "list-type=2")) < 0 ||
			(max_keys && (err = buf_addf(&url, "&max-keys=%u", max_keys)) < 0) ||
			(err = buf_adds(&url, "&prefix=")) < 0 ||
			(err = up_escape(&url, full, false)) < 0)
			break;
		memset(&r, 0, sizeof(r));
		r.method = "GET";
		r.url = url.ptr;
		r.resp = &resp;
		if ((err = up_request(u, &r, "list", 0)) < 0)
			break;
		free(token);
		token = NULL;
		err = s3_list_page(resp.ptr ? resp.ptr : "", resp.len, u->prefix, fn, arg, &token,
			&why);
		if (err == -EBADMSG && why)
			up_fail(u, err, "cannot list '%s': %s", url.ptr, why);
		if (err < 0)
			break;
	} while (token && ++pages < 1000000);
	free(token);
	free(full);
	free(bucket_url);
	buf_release(&url);
	buf_release(&resp);
	return err;
}
