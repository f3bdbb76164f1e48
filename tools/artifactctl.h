/*
 * artifactctl.h - shared declarations of the artifactctl commands
 *
 * Layout after libarchive's tar/: artifactctl.c holds main() and the command
 * table, util.c the messages and option helpers, cmd_<name>.c one command each.
 */
#ifndef ARTIFACTCTL_H
#define ARTIFACTCTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

/* Exit statuses, documented in doc/artifactctl.1 (EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* an operation failed (I/O, network, verification) */
	EXIT_MALFORMED = 2,	/* an input file is malformed (TOML, Artifacts.toml) */
	EXIT_NOMATCH = 3,	/* no entry matches the platform */
	EXIT_EXISTS = 4,	/* bind: the name or platform entry exists (no --force) */
	EXIT_NODAEMON = 5,	/* status, metrics, reload: no daemon answers */
	EXIT_BUSY = 6,		/* evict, wipe: an artifact is held by open files */
	EXIT_USAGE = 64,	/* bad command line (sysexits.h EX_USAGE) */
};

/* The program name used in messages ("artifactctl"). */
extern const char *progname;

/* Each command: argv[0] is the command name; returns an exit status. */
int cmd_hash(int argc, char **argv);
int cmd_platform(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
int cmd_add_mirror(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_seekidx(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_root(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_evict(int argc, char **argv);
int cmd_wipe(int argc, char **argv);
int cmd_prefetch(int argc, char **argv);
int cmd_probe(int argc, char **argv);

/*
 * Messages on stderr, "artifactctl: <text>", lowercase and without a final
 * full stop (git style).  warnx/errx print text only; warne/erre append
 * ": <strerror(-err)>" for a negative errno value.  The *x/e exiters never
 * return.
 */
void ctl_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctl_warne(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void ctl_errx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void ctl_erre(int status, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The help lines of the S3 endpoint, region and profile options (publish, index). */
#define CTL_S3_HELP                                                                                \
	"      --endpoint-url URL   S3 endpoint (alias --endpoint; default\n"                      \
	"                           $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else\n"               \
	"                           endpoint_url of the profile in ~/.aws/config)\n"               \
	"      --region REGION      S3 region (default $AWS_REGION, the profile's\n"               \
	"                           region in ~/.aws/config, else auto)\n"                         \
	"      --profile NAME       profile of the credentials and config files\n"

/*
 * ctl_usage_error - print "artifactctl <cmd>: <text>" and a hint to run
 * "artifactctl <cmd> --help", then exit with EXIT_USAGE.
 */
noreturn void ctl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * CTL_OPTIONS_END - the last entries of every command's long options:
 * --help (answered by ctl_getopt()), then the terminator.
 */
#define CTL_OPTIONS_END { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }

/*
 * struct ctl_getopt - the command line of one command, for ctl_getopt().
 */
struct ctl_getopt {
	const char *cmd;		/* command name, for "artifactctl CMD: ..." */
	const char *shortopts;		/* as getopt_long(3); 'h' is -h/--help */
	const struct option *longopts;	/* as getopt_long(3); "help" gives 'h' */
	void (*usage)(FILE *f);		/* prints the usage text on f */
	const char *needs;		/* "option '--x' needs <needs>": "a value", ... */
	bool short_unknown;		/* name an unknown short option '-x' (optopt) */
};

/*
 * ctl_getopt - getopt_long(3) over argv for the command g describes, with
 * the answers every command gives: 'h' prints g->usage on stdout and exits
 * with EXIT_OK; an option without its value (shortopts starting with ':'
 * or "+:") and an unknown option end in ctl_usage_error() ("option '%s'
 * needs <needs>", "unknown option '%s'", EXIT_USAGE).  The first call with
 * a given g starts over at argv[1] (optind = 1, opterr = 0).
 * Returns the next option for the caller to handle (optarg set as
 * getopt_long(3) sets it), or -1 after the last option.  Not thread safe
 * (getopt's state is global).
 */
int ctl_getopt(int argc, char **argv, const struct ctl_getopt *g);

/*
 * ctl_is_help - true when arg is -h or --help.  Commands print their usage on
 * stdout and exit 0 for it.
 */
bool ctl_is_help(const char *arg);

/*
 * ctl_json_print - print before, v as JSON (Jansson's json_dumps() with
 * flags: 0 for one line as {"a": 1, "b": [2, 3]}, JSON_INDENT(2) for one
 * member a line), then after, on stdout.  Takes v's reference (v may be
 * NULL, for a json_pack() that failed).  Exits with EXIT_FAIL when out of
 * memory.
 */
void ctl_json_print(json_t *v, size_t flags, const char *before, const char *after);

/*
 * ctl_json_row - print v (reference taken) as row i of a JSON array laid out
 * one object a line, "[\n  {...},\n  {...}\n]\n"; ctl_json_rows_end(n)
 * closes an array of n rows (n == 0: "[\n]\n").  Exits as ctl_json_print().
 */
void ctl_json_row(json_t *v, size_t i);
void ctl_json_rows_end(size_t n);

/*
 * struct ctl_platform_opt - --platform TRIPLET and the repeatable --tag
 * KEY=VALUE[:MODE] of the commands that select for a platform (fetch,
 * resolve).  Zero-initialise; the strings are borrowed from argv; release
 * with ctl_platform_opt_release().
 */
struct ctl_platform_opt {
	const char *triplet;	/* --platform, or NULL for the host's */
	const char **tags;	/* the --tag specs, in order */
	size_t ntags;
};

/*
 * ctl_platform_opt_add - record the option c that ctl_getopt() returned
 * with arg (optarg): 'p' is --platform (the last one given counts), 't' a
 * --tag.  Exits with EXIT_FAIL ("artifactctl: CMD: ...") when out of
 * memory.  Returns true when c was one of the two, false otherwise.
 */
bool ctl_platform_opt_add(const char *cmd, struct ctl_platform_opt *po, int c, const char *arg);

/* ctl_platform_opt_release - free what po holds (not the argv strings). */
void ctl_platform_opt_release(struct ctl_platform_opt *po);

/*
 * ctl_host_platform - the platform a command selects for: the host's, or
 * po->triplet (--platform) when not NULL, with the KEY=VALUE[:MODE] specs
 * of po->tags (--tag) set on it.  Prints the message of a failure; exits
 * with EXIT_USAGE ("artifactctl CMD: invalid --tag ...") for a malformed
 * tag.
 * @ret: the platform, freed with platform_free(); untouched on failure.
 * Returns EXIT_OK, or the exit status: EXIT_MALFORMED (a triplet that does
 * not parse), EXIT_FAIL (no host platform, out of memory).
 */
struct platform;
int ctl_host_platform(const char *cmd, const struct ctl_platform_opt *po, struct platform **ret);

/*
 * ctl_artifacts_load - artifacts_load(file): the parsed (Julia)Artifacts.toml
 * in *ret (freed with artifacts_free(); untouched on failure).  Prints the
 * message of a failure.  Returns EXIT_OK, EXIT_MALFORMED (-EINVAL, -E2BIG:
 * the file does not parse or is too large) or EXIT_FAIL.
 */
struct artifacts;
int ctl_artifacts_load(const char *file, struct artifacts **ret);

/*
 * ctl_utc - the time t (seconds since the epoch) as "2026-11-21T14:55:00Z"
 * in buf, or "-" for t <= 0.  Returns buf or the literal.
 */
const char *ctl_utc(int64_t t, char buf[32]);

#endif
