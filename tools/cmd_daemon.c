/*
 * cmd_daemon.c - the commands that talk to a running artifactfs through its
 * control socket (artifactfs(8) CONTROL SOCKET)
 *
 *   artifactctl status  [MOUNTPOINT] [--socket PATH] [--store DIR] [--json]
 *   artifactctl metrics [MOUNTPOINT] [--socket PATH] [--store DIR]
 *   artifactctl reload  [MOUNTPOINT] [--socket PATH] [--store DIR] [--json]
 *
 * The socket is found by the daemon's rule (control_path()): --socket
 * when given; else, for the mount point (the only artifactfs mount when
 * none is given), /run/artifactfs/<escaped mount point>.sock when it
 * exists, else control.sock in the store (the one the mount's
 * user.artifactfs.store attribute names, else --store's).
 */
#include "tools/artifactctl.h"
#include "tools/ctl_daemon.h"
#include "tools/store_opt.h"
#include "store/util/control.h"

#include "store/util/units.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX (16u << 20)	/* bytes of a reply we accept */
#define TICK_MS 500		/* how often a long wait calls its tick */
#define IO_TIMEOUT_S 30		/* seconds we wait for the daemon */

static void usage_status(FILE *f)
{
	fprintf(f, "usage: %s status [MOUNTPOINT] [--socket PATH] [--store DIR] [--json]\n\n"
		   "Show the state of the artifactfs daemon serving MOUNTPOINT (default: the only\n"
		   "artifactfs mount): store, uptime, files, names, installed bytes and quota,\n"
		   "installs in flight, counters, last errors, its memory.  Without a running\n"
		   "daemon, say so, print what the store tells and exit with status 5.\n\n"
		   "  --socket PATH  the daemon's control socket (default: found from the mount)\n"
		   "  --store DIR    the store (default: $ARTIFACTFS_STORE, else %s)\n"
		   "  --json         print the daemon's answer as one JSON document\n",
		progname, CTL_STORE_DEFAULT);
}

static void usage_metrics(FILE *f)
{
	fprintf(f, "usage: %s metrics [MOUNTPOINT] [--socket PATH] [--store DIR]\n\n"
		   "Print the daemon's counters and gauges in the Prometheus text format\n"
		   "(artifactfs_* metrics), for node_exporter's textfile collector.\n\n"
		   "  --socket PATH  the daemon's control socket (default: found from the mount)\n"
		   "  --store DIR    the store (default: $ARTIFACTFS_STORE, else %s)\n",
		progname, CTL_STORE_DEFAULT);
}

static void usage_reload(FILE *f)
{
	fprintf(f, "usage: %s reload [MOUNTPOINT] [--socket PATH] [--store DIR] [--json]\n\n"
		   "Make the daemon re-read its config file and its Artifacts.toml files now, as\n"
		   "SIGHUP does: a changed toml= list applies (files added and removed), other\n"
		   "changed settings are named as needing a remount.  Print the files added and\n"
		   "removed and the names added, removed and bound to another hash.  Only the\n"
		   "daemon's user and root may.\n\n"
		   "  --socket PATH  the daemon's control socket (default: found from the mount)\n"
		   "  --store DIR    the store (default: $ARTIFACTFS_STORE, else %s)\n"
		   "  --json         print the daemon's answer as JSON\n",
		progname, CTL_STORE_DEFAULT);
}

static void parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), bool json,
		  struct daemon_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		CTL_OPTIONS_END,
	};
	const struct ctl_getopt g = { cmd, ":h", opts, usage, "an argument", false };
	int c;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'S':
			o->socket = optarg;
			break;
		case 's':
			o->store = optarg;
			break;
		case 'j':
			if (!json)
				ctl_usage_error(cmd, "unknown option '--json'");
			o->json = true;
			break;
		}
	}
	if (optind < argc)
		o->mountpoint = argv[optind++];
	if (optind < argc)
		ctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
}

/*
 * The artifactfs mounts of this mount namespace: the only one into *ret
 * (malloc'ed); returns how many there are (*ret set only when 1).
 */
static int only_mount(char **ret)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mp, *sep, *type, *save;
	size_t cap = 0;
	int n = 0, i;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		type = strtok_r(sep + 3, " ", &save);
		if (!type || strcmp(type, "fuse.artifactfs") != 0)
			continue;
		mp = strtok_r(line, " ", &save);
		for (i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp)
			continue;
		if (++n == 1) {
			control_mountinfo_unescape(mp);
			*ret = strdup(mp);
			if (!*ret)
				ctl_errx(EXIT_FAIL, "out of memory");
		} else if (n == 2) {
			free(*ret);
			*ret = NULL;
		}
	}
	free(line);
	fclose(f);
	return n;
}

char *ctl_daemon_socket(const struct daemon_opts *o)
{
	char real[PATH_MAX], store[PATH_MAX], *mp = NULL, *path = NULL;
	struct stat sb;
	ssize_t len;
	int n, r;

	if (o->socket) {
		path = strdup(o->socket);
		goto out;
	}
	if (!o->mountpoint) {
		n = only_mount(&mp);
		if (n != 1)
			ctl_usage_error(o->cmd, n ? "%d artifactfs mounts: name the mount point" :
					"no artifactfs mount: name the mount point or give "
					"--socket", n);
	} else {
		/* A user who may not search the path above the mount gives it as it is. */
		if (realpath(o->mountpoint, real))
			mp = strdup(real);
		else if (errno == EACCES && o->mountpoint[0] == '/')
			mp = strdup(o->mountpoint);
		else
			ctl_erre(EXIT_USAGE, -errno, "%s: mount point '%s'", o->cmd, o->mountpoint);
	}
	if (!mp)
		ctl_errx(EXIT_FAIL, "out of memory");
	/* A daemon run by root has its socket in /run/artifactfs. */
	r = control_path(mp, NULL, true, &path);
	if (r == 0 && stat(path, &sb) == 0)
		goto out;
	free(path);
	path = NULL;
	/* Else it is in the store: the one the mount names, or --store's. */
	len = getxattr(mp, "user.artifactfs.store", store, sizeof(store) - 1);
	if (len > 0 && !o->store) {
		store[len] = '\0';
	} else if (!realpath(ctl_store_dir(o->store), store)) {
		snprintf(store, sizeof(store), "%s", ctl_store_dir(o->store));
	}
	r = control_path(mp, store, false, &path);
	if (r < 0)
		ctl_erre(EXIT_FAIL, r, "%s: the control socket of '%s'", o->cmd, mp);
out:
	free(mp);
	if (!path)
		ctl_errx(EXIT_FAIL, "out of memory");
	return path;
}

/*
 * Read what fd sends until EOF into *buf (*len bytes); -errno (-ETIMEDOUT
 * after timeout_s; 0: never).
 */
static int read_answer(int fd, int timeout_s, void (*tick)(void *), void *arg, char **buf,
		       size_t *len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t cap = 0;
	int waited_ms = 0, r;
	ssize_t n;
	char *nb;

	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > REPLY_MAX)
				return -EMSGSIZE;
			nb = realloc(*buf, cap);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
		}
		r = poll(&p, 1, TICK_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			waited_ms += TICK_MS;
			if (timeout_s > 0 && waited_ms >= timeout_s * 1000)
				return -ETIMEDOUT;
			if (tick)
				tick(arg);
			continue;
		}
		n = recv(fd, *buf + *len, cap - *len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

int ctl_daemon_ask(const char *path, const char *request, int timeout_s, void (*tick)(void *),
		   void *arg, json_t **ret, const char **why)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	char *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	int fd, r;

	*why = "connect";
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	*why = "send";
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		goto fail;
	shutdown(fd, SHUT_WR);
	*why = "the answer";
	r = read_answer(fd, timeout_s, tick, arg, &buf, &len);
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = json_loadb(buf ? buf : "", len, 0, &jerr);
	free(buf);
	if (!*ret || !json_is_object(*ret)) {
		json_decref(*ret);
		*why = "the answer (not a JSON object)";
		return -EBADMSG;
	}
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static const char *str(json_t *o, const char *key);

/* Ask, or say that no daemon answers and exit (status 5) after what tail prints. */
static json_t *ask_or_exit(const struct daemon_opts *o, const char *request,
			   void (*tail)(const struct daemon_opts *), int timeout_s,
			   void (*tick)(void *), void *arg)
{
	const char *why;
	json_t *doc = NULL;
	char *path = ctl_daemon_socket(o);
	int r;

	r = ctl_daemon_ask(path, request, timeout_s, tick, arg, &doc, &why);
	if (r < 0) {
		ctl_warnx("%s: no daemon answers at '%s': %s: %s", o->cmd, path, why,
			  strerror(-r));
		free(path);
		if (tail)
			tail(o);
		exit(EXIT_NODAEMON);
	}
	free(path);
	return doc;
}

json_t *ctl_daemon_request(const struct daemon_opts *o, const char *request, bool wait,
			   void (*tick)(void *), void *arg)
{
	json_t *doc = ask_or_exit(o, request, NULL, wait ? 0 : IO_TIMEOUT_S, tick, arg);

	if (!json_is_true(json_object_get(doc, "ok")))
		ctl_errx(EXIT_FAIL, "%s: %s", o->cmd, str(doc, "error"));
	json_object_del(doc, "ok");
	return doc;
}

/* ask_or_exit(), then the daemon's refusal ({"ok": false}) ends in EXIT_FAIL. */
static json_t *ask_ok(const struct daemon_opts *o, const char *request,
		      void (*tail)(const struct daemon_opts *))
{
	json_t *doc = ask_or_exit(o, request, tail, IO_TIMEOUT_S, NULL, NULL);

	if (!json_is_true(json_object_get(doc, "ok")))
		ctl_errx(EXIT_FAIL, "%s: %s", o->cmd, str(doc, "error"));
	json_object_del(doc, "ok");
	return doc;
}

const char *ctl_json_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

json_int_t ctl_json_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_number_value(v);
}

/* The short names this file's many printf lines use. */
static const char *str(json_t *o, const char *key)
{
	return ctl_json_str(o, key);
}

static json_int_t num(json_t *o, const char *key)
{
	return ctl_json_num(o, key);
}

static const char *human(json_int_t n, char buf[32])
{
	return units_human_bytes(n > 0 ? (uint64_t)n : 0, buf, 32);
}

/* "3d 4h", "2h 5m", "4m 3s", "7s". */
static const char *duration(double s, char buf[32])
{
	uint64_t t = s > 0 ? (uint64_t)s : 0;

	if (t >= 86400)
		snprintf(buf, 32, "%" PRIu64 "d %" PRIu64 "h", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, 32, "%" PRIu64 "h %" PRIu64 "m", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, 32, "%" PRIu64 "m %" PRIu64 "s", t / 60, t % 60);
	else
		snprintf(buf, 32, "%.1fs", s > 0 ? s : 0.0);
	return buf;
}

/* Without a daemon: what the store alone tells. */
static void store_tail(const struct daemon_opts *o)
{
	struct store_stats st;
	struct store *s = NULL;
	char msg_b[32];
	char *msg = NULL;
	int r;

	r = store_open(ctl_store_dir(o->store), STORE_RDONLY, &s, &msg);
	if (r < 0) {
		ctl_warnx("%s: store '%s': %s", o->cmd, ctl_store_dir(o->store),
			  msg ? msg : strerror(-r));
		free(msg);
		return;
	}
	r = store_stats(s, &st);
	if (r == 0 && o->json) {
		ctl_json_print(json_pack("{s:b, s:s, s:{s:I, s:I}, s:I, s:I}", "running", 0,
					 "store", store_dir(s), "installed", "artifacts",
					 (json_int_t)st.artifacts, "bytes", (json_int_t)st.bytes,
					 "store_installs", (json_int_t)st.installs, "store_failures",
					 (json_int_t)st.failures), JSON_INDENT(2), "", "\n");
	} else if (r == 0) {
		printf("daemon       not running\n"
		       "store        %s\n"
		       "installed    %" PRIu64 " artifacts, %s\n"
		       "since created: %" PRIu64 " installs, %" PRIu64 " failed\n",
		       store_dir(s), st.artifacts, units_human_bytes(st.bytes, msg_b, sizeof(msg_b)),
		       st.installs, st.failures);
	}
	store_close(s);
	fflush(stdout);
}

static void print_status(json_t *d)
{
	json_t *a, *v, *q, *c, *m;
	char b1[32], b2[32], b3[32], t1[32];
	size_t i;

	printf("artifactfs %s at %s, pid %" JSON_INTEGER_FORMAT ", up %s\n", str(d, "version"),
	       str(d, "mountpoint"), num(d, "pid"),
	       duration(json_number_value(json_object_get(d, "uptime_seconds")), b1));
	printf("store        %s\n", str(d, "store"));
	printf("socket       %s\n", str(d, "socket"));
	a = json_object_get(d, "tomls");
	printf("files        %zu Artifacts.toml\n", json_array_size(a));
	json_array_foreach(a, i, v)
		printf("  %s  loaded %s\n", str(v, "path"), ctl_utc(num(v, "loaded"), t1));
	printf("names        %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " artifacts)\n",
	       num(d, "names"), num(d, "artifacts_known"));
	v = json_object_get(d, "installed");
	printf("installed    %" JSON_INTEGER_FORMAT " artifacts, %s", num(v, "artifacts"),
	       human(num(v, "bytes"), b1));
	if (num(d, "pending_sync") > 0)
		printf(" (%" JSON_INTEGER_FORMAT " not yet synced to disk)", num(d, "pending_sync"));
	putchar('\n');
	q = json_object_get(d, "quota");
	if (num(q, "bytes") > 0)
		printf("quota        %s, low-water mark %" JSON_INTEGER_FORMAT "%% (%s); "
		       "%.1f%% used\n", human(num(q, "bytes"), b1), num(q, "low_percent"),
		       human(num(q, "low_bytes"), b2),
		       json_number_value(json_object_get(q, "used_percent")));
	else
		printf("quota        none\n");
	a = json_object_get(d, "inflight");
	printf("in flight    %zu\n", json_array_size(a));
	json_array_foreach(a, i, v) {
		if (strcmp(str(v, "state"), "running") != 0) {
			printf("  %s  queued\n", str(v, "hash"));
			continue;
		}
		printf("  %s (%s)  %s of %s, %s/s, %s  %s\n", *str(v, "name") ? str(v, "name") : "-",
		       str(v, "hash"), human(num(v, "bytes"), b1),
		       num(v, "total_bytes") ? human(num(v, "total_bytes"), b2) : "?",
		       human((json_int_t)json_number_value(json_object_get(v, "bytes_per_second")),
			     b3),
		       duration(json_number_value(json_object_get(v, "age_seconds")), t1),
		       str(v, "url"));
	}
	c = json_object_get(d, "counters");
	printf("counters     lookups %" JSON_INTEGER_FORMAT ", hits %" JSON_INTEGER_FORMAT
	       ", misses %" JSON_INTEGER_FORMAT ", installs %" JSON_INTEGER_FORMAT
	       ", failures %" JSON_INTEGER_FORMAT ", evictions %" JSON_INTEGER_FORMAT "\n",
	       num(c, "lookups"), num(c, "hits"), num(c, "misses"), num(c, "installs"),
	       num(c, "failures"), num(c, "evictions"));
	printf("             downloaded %s, served %s\n", human(num(c, "bytes_downloaded"), b1),
	       human(num(c, "bytes_served"), b2));
	if (num(c, "perfile_fetches") || num(c, "index_fetches") || num(c, "perfile_fallbacks"))
		printf("per file     %" JSON_INTEGER_FORMAT " files, %s, %" JSON_INTEGER_FORMAT
		       " indexes, %" JSON_INTEGER_FORMAT " fallbacks\n", num(c, "perfile_fetches"),
		       human(num(c, "perfile_bytes"), b1), num(c, "index_fetches"),
		       num(c, "perfile_fallbacks"));
	a = json_object_get(d, "errors");
	printf("last errors  %s\n", json_array_size(a) ? "" : "none");
	json_array_foreach(a, i, v)
		printf("  %s  %s  %s: %s\n", ctl_utc(num(v, "time"), t1), str(v, "artifact"),
		       *str(v, "url") ? str(v, "url") : "-", str(v, "cause"));
	a = json_object_get(d, "proxies");
	if (json_array_size(a))
		printf("proxies      %zu\n", json_array_size(a));
	json_array_foreach(a, i, v) {
		printf("  %s  group %" JSON_INTEGER_FORMAT "  %s", str(v, "proxy"), num(v, "group"),
		       str(v, "state"));
		if (json_object_get(v, "failed_until"))
			printf(" until %s", ctl_utc(num(v, "failed_until"), t1));
		printf(", %" JSON_INTEGER_FORMAT " failures, %" JSON_INTEGER_FORMAT " successes\n",
		       num(v, "failures"), num(v, "successes"));
	}
	m = json_object_get(d, "memory");
	printf("memory       RssAnon %s, RssFile %s\n", human(num(m, "rss_anon_bytes"), b1),
	       human(num(m, "rss_file_bytes"), b2));
}

int cmd_status(int argc, char **argv)
{
	struct daemon_opts o;
	json_t *doc;

	parse(argc, argv, "status", usage_status, true, &o);
	doc = ask_ok(&o, "status\n", store_tail);
	if (o.json)
		ctl_json_print(doc, JSON_INDENT(2), "", "\n");
	else {
		print_status(doc);
		json_decref(doc);
	}
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the status");
	return EXIT_OK;
}

/* ---- metrics: the Prometheus text exposition format ---------------------------------- */

/* A label value with \, " and newline escaped, as the format asks; static buffer. */
static const char *label(const char *s)
{
	static char buf[3 * PATH_MAX];
	size_t o = 0;

	for (; *s && o + 3 < sizeof(buf); s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

static void metric(const char *name, const char *type, const char *help, const char *mp,
		   double value)
{
	printf("# HELP artifactfs_%s %s\n# TYPE artifactfs_%s %s\n", name, help, name, type);
	if (value > -9e15 && value < 9e15 && value == (double)(long long)value)
		printf("artifactfs_%s{mountpoint=\"%s\"} %.0f\n", name, mp, value);
	else
		printf("artifactfs_%s{mountpoint=\"%s\"} %.9g\n", name, mp, value);
}

/* artifactfs_proxy_failures_total and _up, one series per proxy of proxy=. */
static void proxy_metrics(json_t *a, const char *mp)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "proxy_failures_total", "counter", "Proxy failures (refused, timed out, 502-504)." },
		{ "proxy_up", "gauge", "1 when the proxy is not skipped after a failure." },
	};
	json_t *v;
	size_t i, k;

	if (!json_array_size(a))
		return;
	for (k = 0; k < 2; k++) {
		printf("# HELP artifactfs_%s %s\n# TYPE artifactfs_%s %s\n", m[k].name, m[k].help,
		       m[k].name, m[k].type);
		json_array_foreach(a, i, v)
			printf("artifactfs_%s{mountpoint=\"%s\",proxy=\"%s\"} %" JSON_INTEGER_FORMAT
			       "\n", m[k].name, mp, label(str(v, "proxy")),
			       k == 0 ? num(v, "failures") :
			       (json_int_t)(strcmp(str(v, "state"), "failed") != 0));
	}
}

static void print_metrics(json_t *d)
{
	static const struct {
		const char *key, *name, *help;
	} counters[] = {
		{ "lookups", "lookups_total", "Lookup requests of the kernel." },
		{ "hits", "hits_total", "Requests into an artifact that found it installed." },
		{ "misses", "misses_total", "Requests that waited for an install." },
		{ "installs", "installs_total", "Installs that succeeded." },
		{ "failures", "install_failures_total", "Installs that failed." },
		{ "bytes_downloaded", "downloaded_bytes_total", "Bytes received from servers." },
		{ "bytes_served", "served_bytes_total", "Bytes of file data read through the mount." },
		{ "evictions", "evictions_total", "Artifacts removed by the quota, evict or wipe." },
		{ "opens", "opens_total", "Open requests of the kernel (none in no_open mode)." },
		{ "opendirs", "opendirs_total",
		  "Opendir requests of the kernel (none in no_open mode)." },
		{ "perfile_fetches", "perfile_fetches_total",
		  "Single files fetched through a seek index (per_file)." },
		{ "perfile_bytes", "perfile_downloaded_bytes_total",
		  "Compressed bytes received by per-file fetches." },
		{ "index_fetches", "seek_index_fetches_total",
		  "Seek indexes fetched from a server." },
		{ "perfile_fallbacks", "perfile_fallbacks_total",
		  "Artifacts whose per-file access failed and that were installed whole." },
	};
	json_t *c = json_object_get(d, "counters"), *q = json_object_get(d, "quota");
	json_t *in = json_object_get(d, "installed"), *m = json_object_get(d, "memory");
	char mp[3 * PATH_MAX];
	size_t i;

	snprintf(mp, sizeof(mp), "%s", label(str(d, "mountpoint")));
	printf("# HELP artifactfs_info The daemon's version, store and mount point.\n"
	       "# TYPE artifactfs_info gauge\n"
	       "artifactfs_info{mountpoint=\"%s\",version=\"%s\",", mp, label(str(d, "version")));
	printf("store=\"%s\"} 1\n", label(str(d, "store")));
	metric("start_time_seconds", "gauge", "When the daemon started, seconds since the epoch.",
	       mp, (double)num(d, "started"));
	metric("uptime_seconds", "gauge", "Seconds since the daemon started.", mp,
	       json_number_value(json_object_get(d, "uptime_seconds")));
	metric("names", "gauge", "Names of the configured Artifacts.toml files.", mp,
	       (double)num(d, "names"));
	metric("known_artifacts", "gauge", "Distinct artifacts the names bind.", mp,
	       (double)num(d, "artifacts_known"));
	metric("installed_artifacts", "gauge", "Artifacts installed in the store.", mp,
	       (double)num(in, "artifacts"));
	metric("installed_bytes", "gauge", "Bytes of the installed artifacts.", mp,
	       (double)num(in, "bytes"));
	metric("pending_sync_installs", "gauge",
	       "Installs served but not yet made durable (sync_after).", mp,
	       (double)num(d, "pending_sync"));
	metric("quota_bytes", "gauge", "The quota, 0 when none.", mp, (double)num(q, "bytes"));
	metric("quota_low_bytes", "gauge", "The low-water mark eviction goes down to.", mp,
	       (double)num(q, "low_bytes"));
	metric("inflight_installs", "gauge", "Installs queued or running.", mp,
	       (double)json_array_size(json_object_get(d, "inflight")));
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		metric(counters[i].name, "counter", counters[i].help, mp,
		       (double)num(c, counters[i].key));
	proxy_metrics(json_object_get(d, "proxies"), mp);
	metric("resident_anon_bytes", "gauge", "The daemon's anonymous resident memory (RssAnon).",
	       mp, (double)num(m, "rss_anon_bytes"));
	metric("resident_file_bytes", "gauge", "The daemon's file-backed resident memory (RssFile).",
	       mp, (double)num(m, "rss_file_bytes"));
}

int cmd_metrics(int argc, char **argv)
{
	struct daemon_opts o;
	json_t *doc;

	parse(argc, argv, "metrics", usage_metrics, false, &o);
	doc = ask_ok(&o, "metrics\n", NULL);
	print_metrics(doc);
	json_decref(doc);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the metrics");
	return EXIT_OK;
}

/* ---- reload ------------------------------------------------------------------------ */

static void print_names(const char *what, json_t *a)
{
	json_t *v;
	size_t i;

	if (!json_array_size(a))
		return;
	printf("%s:", what);
	json_array_foreach(a, i, v)
		printf(" %s", json_string_value(v));
	printf("\n");
}

int cmd_reload(int argc, char **argv)
{
	struct daemon_opts o;
	json_t *doc;

	parse(argc, argv, "reload", usage_reload, true, &o);
	doc = ask_ok(&o, "reload\n", NULL);
	if (o.json) {
		ctl_json_print(doc, JSON_INDENT(2), "", "\n");
	} else {
		printf("reloaded: %" JSON_INTEGER_FORMAT " names\n", num(doc, "names"));
		print_names("added", json_object_get(doc, "added"));
		print_names("removed", json_object_get(doc, "removed"));
		print_names("changed", json_object_get(doc, "changed"));
		print_names("files added", json_object_get(doc, "tomls_added"));
		print_names("files removed", json_object_get(doc, "tomls_removed"));
		if (json_string_value(json_object_get(doc, "config_error")))
			printf("config file %s: %s\n", str(doc, "config"), str(doc, "config_error"));
		print_names("not applied, need a remount",
			    json_object_get(doc, "needs_remount"));
		json_decref(doc);
	}
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the answer");
	return EXIT_OK;
}
