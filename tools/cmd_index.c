/*
 * cmd_index.c - artifactctl index: one index.json of every tarball
 * published under an s3:// prefix or a directory, from their sidecars
 *
 * Every key ending in ".tar[.gz|.xz|.bz2|.zst].json" (sidecar_is_key()) is
 * read as a sidecar; its tarball is the key without ".json".  The index is
 * a JSON array sorted by name, platform (null first), git-tree-sha1 and
 * url, one object per line:
 *
 *   [
 *   {"name": "Zlib", "platform": "x86_64-linux-gnu", "git-tree-sha1": "...",
 *    "sha256": "...", "size": 123, "url": "..."},
 *   ...
 *   ]
 *
 * written to a temporary file beside FILE and renamed over it.
 */
#include "tools/artifactctl.h"

#include "fetch/fetch.h"
#include "store/util/buf.h"
#include "tools/sidecar.h"
#include "tools/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX (1u << 30)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s index SOURCE -o FILE [--public-url URL] [--endpoint URL]\n"
		"                 [--region REGION] [--profile NAME] [--credentials FILE]\n"
		"\n"
		"Read the sidecar (OBJECT.json) of every tarball published under SOURCE and\n"
		"write one JSON array of them to FILE (\"-\": standard output), sorted, each\n"
		"with name, platform, git-tree-sha1, sha256, size and url.  SOURCE is\n"
		"s3://BUCKET[/PREFIX], file:///DIR or DIR.  A sidecar whose tarball is\n"
		"missing, or of another size, is left out with a warning.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE        where to write the index (required)\n"
		"  -u, --public-url URL     urls are PUBLIC_URL/OBJECT (default: the URL of\n"
		"                           the object in SOURCE)\n"
		"      --endpoint URL       S3 endpoint (default $AWS_ENDPOINT_URL)\n"
		"      --region REGION      S3 region (default $AWS_REGION, else auto)\n"
		"      --profile NAME       profile of the credentials file\n"
		"      --credentials FILE   credentials file (default ~/.aws/credentials;\n"
		"                           without credentials the listing is anonymous)\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 written, 1 a listing, a read or a sidecar failed, 64 usage.\n",
		progname);
}

struct object {
	char *key;
	uint64_t size;
};

struct entry {
	struct sidecar sc;
	char *url;
};

struct listing {
	struct object *v;
	size_t n, cap;
};

static int on_object(void *arg, const char *key, uint64_t size)
{
	struct listing *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct object *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].key = strdup(key)))
		return -ENOMEM;
	l->v[l->n++].size = size;
	return 0;
}

static int cmp_object(const void *a, const void *b)
{
	return strcmp(((const struct object *)a)->key, ((const struct object *)b)->key);
}

/* NULL (platform independent) sorts first */
static int cmp_nullable(const char *a, const char *b)
{
	if (a && b)
		return strcmp(a, b);
	return a ? 1 : b ? -1 : 0;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->sc.name, b->sc.name)) != 0 ||
		(c = cmp_nullable(a->sc.platform, b->sc.platform)) != 0 ||
		(c = strcmp(a->sc.tree, b->sc.tree)) != 0)
		return c;
	return strcmp(a->url, b->url);
}

static int format_index(const struct entry *e, size_t n, struct buf *b)
{
	size_t i;
	int r = buf_adds(b, "[\n");

	for (i = 0; r == 0 && i < n; i++) {
		if ((r = buf_adds(b, "{\"name\": ")) < 0 ||
			(r = json_add_str(b, e[i].sc.name)) < 0 ||
			(r = buf_adds(b, ", \"platform\": ")) < 0 ||
			(r = json_add_str(b, e[i].sc.platform)) < 0 ||
			(r = buf_addf(b,
				 ", \"git-tree-sha1\": \"%s\", \"sha256\": \"%s\", \"size\": %llu",
				 e[i].sc.tree, e[i].sc.sha256, (unsigned long long)e[i].sc.size)) <
				0 ||
			(r = buf_adds(b, ", \"url\": ")) < 0 || (r = json_add_str(b, e[i].url)) < 0)
			break;
		r = buf_adds(b, i + 1 < n ? "},\n" : "}\n");
	}
	return r < 0 ? r : buf_adds(b, "]\n");
}

/* Write text to path atomically (temporary file, fsync, rename), or to stdout for "-". */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char *tmp = NULL, *dir = NULL, *slash;
	size_t done = 0;
	ssize_t w;
	int fd, dfd, r = 0;

	if (strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) == EOF)
			return -errno ? -errno : -EIO;
		return 0;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (done < len) {
		w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		done += (size_t)w;
	}
	/* mkostemp makes 0600; an index is meant to be published: 0666 & ~umask */
	if (r == 0) {
		mode_t um = umask(0);

		umask(um);
		if (fchmod(fd, 0666 & ~um) < 0 || fsync(fd) < 0)
			r = -errno;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	if (!(dir = strdup(path))) {
		r = -ENOMEM;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(dir);
	free(tmp);
	return r;
}

/* Read the sidecars of the listing into *ret; prints messages. */
static int read_sidecars(
	struct upload *u, struct listing *l, const char *public_url, struct entry **ret, size_t *n)
{
	struct entry *v = calloc(l->n ? l->n : 1, sizeof(*v));
	struct object want, *obj;
	char *json = NULL, *msg = NULL, *key = NULL;
	size_t i, len, cnt = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < l->n && r == 0; i++) {
		if (!sidecar_is_key(l->v[i].key))
			continue;
		free(key);
		key = strndup(l->v[i].key, strlen(l->v[i].key) - 5);
		if (!key) {
			r = -ENOMEM;
			break;
		}
		want.key = key;
		obj = bsearch(&want, l->v, l->n, sizeof(*l->v), cmp_object);
		r = upload_get(u, l->v[i].key, SIDECAR_MAX, &json, &len);
		if (r < 0) {
			ctl_warnx("%s", upload_errmsg(u));
			break;
		}
		r = sidecar_parse(json, len, &v[cnt].sc, &msg);
		free(json);
		json = NULL;
		if (r < 0) {
			char *url = NULL;

			upload_url(u, l->v[i].key, &url);
			ctl_warnx("'%s' is not a valid sidecar: %s", url ? url : l->v[i].key,
				msg ? msg : strerror(-r));
			free(url);
			break;
		}
		if (!obj || obj->size != v[cnt].sc.size) {
			char *url = NULL;

			upload_url(u, key, &url);
			ctl_warnx("left out '%s': %s", url ? url : key,
				!obj ? "the tarball of its sidecar is missing"
				     : "its size differs from its sidecar's");
			free(url);
			sidecar_release(&v[cnt].sc);
			continue;
		}
		r = public_url ? upload_join_url(public_url, key, &v[cnt].url)
			       : upload_url(u, key, &v[cnt].url);
		if (r < 0) {
			sidecar_release(&v[cnt].sc);
			ctl_warne(r, "cannot make the URL of '%s'", key);
			break;
		}
		cnt++;
	}
	free(key);
	free(msg);
	if (r < 0) {
		for (i = 0; i < cnt; i++) {
			sidecar_release(&v[i].sc);
			free(v[i].url);
		}
		free(v);
		return r;
	}
	*ret = v;
	*n = cnt;
	return 0;
}

int cmd_index(int argc, char **argv)
{
	enum { OPT_ENDPOINT = 256, OPT_REGION, OPT_PROFILE, OPT_CREDENTIALS };
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"output", required_argument, NULL, 'o'},
		{"public-url", required_argument, NULL, 'u'},
		{"endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"region", required_argument, NULL, OPT_REGION},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"credentials", required_argument, NULL, OPT_CREDENTIALS},
		{NULL, 0, NULL, 0},
	};
	struct upload_options uo;
	struct upload *u = NULL;
	struct listing l = {0};
	struct entry *e = NULL;
	struct buf out;
	const char *output = NULL, *public_url = NULL, *source;
	char *msg = NULL;
	size_t n = 0, i;
	int c, r, status = EXIT_FAIL;

	upload_options_init(&uo);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":ho:u:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'o':
			output = optarg;
			break;
		case 'u':
			public_url = optarg;
			break;
		case OPT_ENDPOINT:
			uo.endpoint = optarg;
			break;
		case OPT_REGION:
			uo.region = optarg;
			break;
		case OPT_PROFILE:
			uo.profile = optarg;
			break;
		case OPT_CREDENTIALS:
			uo.credentials = optarg;
			break;
		case ':':
			ctl_usage_error("index", "option '%s' needs a value", argv[optind - 1]);
		default:
			ctl_usage_error("index", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		ctl_usage_error("index", "missing SOURCE");
	if (optind + 1 < argc)
		ctl_usage_error("index", "unexpected argument '%s'", argv[optind + 1]);
	if (!output)
		ctl_usage_error("index", "missing -o FILE");
	if (public_url && !*public_url)
		ctl_usage_error("index", "empty --public-url");
	source = argv[optind];
	buf_init(&out, INDEX_MAX);

	if ((r = fetch_global_init()) < 0) {
		ctl_warne(r, "cannot initialise libcurl");
		goto out;
	}
	r = upload_new(source, &uo, &u, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		status = r == -EINVAL || r == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (upload_kind(u) == UPLOAD_HTTP) {
		ctl_warnx("cannot list '%s': index reads s3:// or a directory", source);
		status = EXIT_USAGE;
		goto out;
	}
	r = upload_list(u, "", on_object, &l);
	if (r < 0) {
		if (*upload_errmsg(u))
			ctl_warnx("%s", upload_errmsg(u));
		else
			ctl_warne(r, "cannot list '%s'", source);
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_object);
	if (read_sidecars(u, &l, public_url, &e, &n) < 0)
		goto out;
	qsort(e, n, sizeof(*e), cmp_entry);
	if ((r = format_index(e, n, &out)) < 0 ||
		(r = write_atomic(output, out.ptr, out.len)) < 0) {
		ctl_warne(r, "cannot write '%s'", output);
		goto out;
	}
	status = EXIT_OK;
out:
	for (i = 0; i < n; i++) {
		sidecar_release(&e[i].sc);
		free(e[i].url);
	}
	free(e);
	for (i = 0; i < l.n; i++)
		free(l.v[i].key);
	free(l.v);
	buf_release(&out);
	free(msg);
	upload_free(u);
	return status;
}
