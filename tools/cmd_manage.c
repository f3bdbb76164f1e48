/*
 * cmd_manage.c - the commands that change the store of a running daemon
 * through its control socket (artifactfs(8) CONTROL SOCKET)
 *
 *   artifactctl evict    [MOUNTPOINT] HASH|NAME... [--wait] [OPTIONS]
 *   artifactctl wipe     [MOUNTPOINT] [--wait] [OPTIONS]
 *   artifactctl prefetch [MOUNTPOINT] NAME...|--all [--wait] [OPTIONS]
 *
 * with the OPTIONS --socket PATH, --store DIR, --json.
 *
 * The first argument is the mount point when it holds a '/' (names never
 * do) or, followed by more arguments or alone for wipe and prefetch --all,
 * when it is a directory.
 */
#include "tools/artifactctl.h"
#include "tools/ctl_daemon.h"
#include "tools/store_opt.h"
#include "store/util/control.h"
#include "store/util/units.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOCKET_HELP \
	"  --socket PATH  the daemon's control socket (default: found from the mount)\n" \
	"  --store DIR    the store (default: $ARTIFACTFS_STORE, else %s)\n" \
	"  --json         print the daemon's answer as JSON\n"

static void usage_evict(FILE *f)
{
	fprintf(f, "usage: %s evict [MOUNTPOINT] HASH|NAME... [--wait] [--socket PATH]\n"
		   "       [--store DIR] [--json]\n\n"
		   "Remove artifacts from the store of the daemon serving MOUNTPOINT (default:\n"
		   "the only artifactfs mount); the next access installs them again.  An\n"
		   "artifact with open files is not removed: the processes holding it are named\n"
		   "and the exit status is 6, unless --wait waits for them to close it.  Only\n"
		   "the daemon's user and root may.\n\n"
		   "  --wait         wait until the files are closed, then remove\n" SOCKET_HELP,
		progname, CTL_STORE_DEFAULT);
}

static void usage_wipe(FILE *f)
{
	fprintf(f, "usage: %s wipe [MOUNTPOINT] [--wait] [--socket PATH] [--store DIR] [--json]\n\n"
		   "Remove every installed artifact from the store of the daemon serving\n"
		   "MOUNTPOINT, as evict does for each; print what was removed and what is held\n"
		   "(exit status 6 when one is held, unless --wait).\n\n"
		   "  --wait         wait until held artifacts are closed, then remove them\n"
		   SOCKET_HELP, progname, CTL_STORE_DEFAULT);
}

static void usage_prefetch(FILE *f)
{
	fprintf(f, "usage: %s prefetch [MOUNTPOINT] NAME...|--all [--wait] [--socket PATH]\n"
		   "       [--store DIR] [--json]\n\n"
		   "Make the daemon serving MOUNTPOINT start installing the named artifacts (or\n"
		   "every name with --all) as an access would, and return at once.  With --wait,\n"
		   "block until every install ended, show progress on stderr when it is a\n"
		   "terminal, print one line per artifact, and exit 1 when one failed.\n\n"
		   "  --all          every name of the configured Artifacts.toml files\n"
		   "  --wait         wait for the installs and show their progress\n" SOCKET_HELP,
		progname, CTL_STORE_DEFAULT);
}

struct manage_opts {
	struct daemon_opts d;
	bool wait, all;
	char **args;			/* the names or hashes (borrowed from argv) */
	int n_args;
};

static bool is_mountpoint_arg(const char *a, int left, bool alone_ok)
{
	struct stat sb;

	if (strchr(a, '/'))
		return true;
	return (left > 1 || alone_ok) && stat(a, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
		  struct manage_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'a' },
		CTL_OPTIONS_END,
	};
	const struct ctl_getopt g = { cmd, ":h", opts, usage, "an argument", false };
	bool prefetch = strcmp(cmd, "prefetch") == 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->d.cmd = cmd;
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'S':
			o->d.socket = optarg;
			break;
		case 's':
			o->d.store = optarg;
			break;
		case 'j':
			o->d.json = true;
			break;
		case 'w':
			o->wait = true;
			break;
		case 'a':
			if (!prefetch)
				ctl_usage_error(cmd, "unknown option '--all'");
			o->all = true;
			break;
		}
	}
	if (optind < argc && is_mountpoint_arg(argv[optind], argc - optind,
					       !prefetch || o->all))
		o->d.mountpoint = argv[optind++];
	o->args = argv + optind;
	o->n_args = argc - optind;
	if (strcmp(cmd, "wipe") == 0 && o->n_args > 0)
		ctl_usage_error(cmd, "unexpected argument '%s'", o->args[0]);
	if (strcmp(cmd, "evict") == 0 && o->n_args == 0)
		ctl_usage_error(cmd, "name the artifacts to evict (HASH or NAME)");
	if (prefetch && o->all && o->n_args > 0)
		ctl_usage_error(cmd, "--all and names: give one or the other");
	if (prefetch && !o->all && o->n_args == 0)
		ctl_usage_error(cmd, "name the artifacts to prefetch, or give --all");
}

/* The request line: verb, flags, the arguments encoded.  Exits when too long. */
static char *request(const struct manage_opts *o, const char *verb)
{
	char *buf = malloc(CONTROL_ARGS_MAX);
	int i;

	if (!buf)
		ctl_errx(EXIT_FAIL, "out of memory");
	snprintf(buf, CONTROL_ARGS_MAX, "%s%s%s", verb, o->wait ? " --wait" : "",
		 o->all ? " --all" : "");
	for (i = 0; i < o->n_args; i++)
		if (control_encode_arg(buf, CONTROL_ARGS_MAX - 1, o->args[i]) < 0)
			ctl_usage_error(o->d.cmd, "too many arguments for one request");
	strcat(buf, "\n");
	return buf;
}

/* Print the answer with --json (or just drop it), flush; the exit status ret. */
static int finish(const struct manage_opts *o, json_t *doc, int ret)
{
	if (o->d.json)
		ctl_json_print(doc, JSON_INDENT(2), "", "\n");
	else
		json_decref(doc);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the answer");
	return ret;
}

/* ---- evict and wipe ------------------------------------------------------------------ */

/* Print one entry of an evict or wipe answer; returns the exit status it asks for. */
static int print_evicted(json_t *v)
{
	const char *result = ctl_json_str(v, "result");
	json_t *hs = json_object_get(v, "holders"), *h;
	char b[32];
	size_t i;

	if (strcmp(result, "removed") == 0) {
		printf("removed %s (%s), %s\n", ctl_json_str(v, "artifact"),
		       ctl_json_str(v, "hash"),
		       units_human_bytes((uint64_t)ctl_json_num(v, "bytes"), b, sizeof(b)));
		return EXIT_OK;
	}
	if (strcmp(result, "not installed") == 0) {
		printf("not installed %s (%s)\n", ctl_json_str(v, "artifact"),
		       ctl_json_str(v, "hash"));
		return EXIT_OK;
	}
	if (strcmp(result, "held") == 0) {
		printf("held %s (%s): %s", ctl_json_str(v, "artifact"), ctl_json_str(v, "hash"),
		       ctl_json_str(v, "cause"));
		if (ctl_json_num(v, "open_files"))
			printf(", %" JSON_INTEGER_FORMAT " open", ctl_json_num(v, "open_files"));
		if (json_array_size(hs)) {
			printf("; held by");
			json_array_foreach(hs, i, h)
				printf("%s pid %" JSON_INTEGER_FORMAT " (%s)", i ? "," : "",
				       ctl_json_num(h, "pid"), ctl_json_str(h, "command"));
		}
		printf("\n");
		return EXIT_BUSY;
	}
	printf("%s %s: %s\n", result, ctl_json_str(v, "artifact"), ctl_json_str(v, "cause"));
	return EXIT_FAIL;
}

static int evict_or_wipe(int argc, char **argv, const char *cmd, void (*usage)(FILE *))
{
	struct manage_opts o;
	json_t *doc, *v;
	int ret = EXIT_OK, r;
	char *req;
	size_t i;

	parse(argc, argv, cmd, usage, &o);
	req = request(&o, cmd);
	doc = ctl_daemon_request(&o.d, req, o.wait, NULL, NULL);
	free(req);
	json_array_foreach(json_object_get(doc, "artifacts"), i, v) {
		r = o.d.json ? EXIT_OK : print_evicted(v);
		if (o.d.json && strcmp(ctl_json_str(v, "result"), "held") == 0)
			r = EXIT_BUSY;
		else if (o.d.json && strcmp(ctl_json_str(v, "result"), "removed") != 0 &&
			 strcmp(ctl_json_str(v, "result"), "not installed") != 0)
			r = EXIT_FAIL;
		/* held (6) wins over another failure (1): the one --wait fixes */
		if (r == EXIT_BUSY || (r != EXIT_OK && ret == EXIT_OK))
			ret = r;
	}
	return finish(&o, doc, ret);
}

int cmd_evict(int argc, char **argv)
{
	return evict_or_wipe(argc, argv, "evict", usage_evict);
}

int cmd_wipe(int argc, char **argv)
{
	return evict_or_wipe(argc, argv, "wipe", usage_wipe);
}

/* ---- prefetch -------------------------------------------------------------------------- */

/* While prefetch --wait waits: the installs of the daemon, on one terminal line. */
static void progress(void *arg)
{
	const struct manage_opts *o = arg;
	char *path = ctl_daemon_socket(&o->d), line[512], b1[32], b2[32];
	const char *why, *name;
	json_t *doc = NULL, *v;
	size_t i, len = 0;
	uint64_t bytes;
	double rate;

	if (ctl_daemon_ask(path, "status\n", 5, NULL, NULL, &doc, &why) == 0) {
		line[0] = '\0';
		json_array_foreach(json_object_get(doc, "inflight"), i, v) {
			name = ctl_json_str(v, "name");
			if (strcmp(ctl_json_str(v, "state"), "running") != 0 || len >= sizeof(line))
				continue;
			rate = json_number_value(json_object_get(v, "bytes_per_second"));
			bytes = (uint64_t)ctl_json_num(v, "bytes");
			if (!*name)
				name = ctl_json_str(v, "hash");
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %s %s/s",
						len ? "  " : "", name,
						units_human_bytes(bytes, b1, sizeof(b1)),
						units_human_bytes(rate > 0 ? (uint64_t)rate : 0, b2,
								  sizeof(b2)));
		}
		fprintf(stderr, "\r\033[K%.*s", 200, line);
		fflush(stderr);
	}
	json_decref(doc);
	free(path);
}

int cmd_prefetch(int argc, char **argv)
{
	struct manage_opts o;
	bool tty = isatty(STDERR_FILENO);
	const char *result;
	json_t *doc, *v;
	int ret = EXIT_OK;
	char b1[32], b2[32], *req;
	uint64_t bytes;
	double s;
	size_t i;

	parse(argc, argv, "prefetch", usage_prefetch, &o);
	req = request(&o, "prefetch");
	doc = ctl_daemon_request(&o.d, req, o.wait, o.wait && tty ? progress : NULL, &o);
	free(req);
	if (o.wait && tty)
		fprintf(stderr, "\r\033[K");
	json_array_foreach(json_object_get(doc, "artifacts"), i, v) {
		result = ctl_json_str(v, "result");
		if (strcmp(result, "failed") == 0)
			ret = EXIT_FAIL;
		if (o.d.json)
			continue;
		if (strcmp(result, "installed") == 0) {
			s = json_number_value(json_object_get(v, "seconds"));
			bytes = (uint64_t)ctl_json_num(v, "bytes");
			printf("installed %s (%s): %s in %.1f s, %s/s\n", ctl_json_str(v, "name"),
			       ctl_json_str(v, "hash"), units_human_bytes(bytes, b1, sizeof(b1)), s,
			       units_human_bytes(s > 0 ? (uint64_t)((double)bytes / s) : 0, b2,
						 sizeof(b2)));
		} else if (strcmp(result, "failed") == 0) {
			printf("failed %s%s%s%s: %s\n", ctl_json_str(v, "name"),
			       *ctl_json_str(v, "hash") ? " (" : "", ctl_json_str(v, "hash"),
			       *ctl_json_str(v, "hash") ? ")" : "", ctl_json_str(v, "cause"));
		} else {
			printf("%s %s (%s)\n", result, ctl_json_str(v, "name"),
			       ctl_json_str(v, "hash"));
		}
	}
	return finish(&o, doc, ret);
}
