/*
 * control.h - the control socket of artifactfs: its path and its requests
 *
 * Shared by the daemon (fs/control.c) and artifactctl (status, metrics,
 * reload), which finds the socket by the same rule; libc only.  The
 * protocol (artifactfs(8) CONTROL SOCKET): the client sends one request
 * line, at most CONTROL_MAX bytes, and reads one JSON object until the
 * daemon closes the connection.
 */
#ifndef ARTIFACTCONTROL_H
#define ARTIFACTCONTROL_H

#include <stdbool.h>
#include <stddef.h>

#define CONTROL_DIR "/run/artifactfs"	/* the sockets of daemons run by root */
#define CONTROL_NAME "control.sock"		/* the socket in the store otherwise */
#define CONTROL_MAX 4096			/* bytes of a request, its newline included */

/*
 * control_path - the control socket of the mount at mountpoint (an
 * absolute path, as realpath(3) gives it): for a daemon run by root
 * (system), CONTROL_DIR/<escaped>.sock, where <escaped> is the mount
 * point escaped as systemd-escape --path does ("/" -> "-", "/mnt/a-b" ->
 * "mnt-a\x2db"); otherwise <store_dir>/CONTROL_NAME (store_dir may be
 * NULL when system).  *ret is malloc'ed.  Returns 0, -EINVAL (mountpoint
 * not absolute, or store_dir missing), -ENAMETOOLONG (longer than a
 * socket address holds, 107 bytes) or -ENOMEM.  Thread-safe.
 */
int control_path(const char *mountpoint, const char *store_dir, bool system, char **ret);

enum control_verb {
	CONTROL_STATUS,		/* the daemon's state, read-only */
	CONTROL_METRICS,		/* the same document, for the metrics; read-only */
	CONTROL_RELOAD,		/* re-read the Artifacts.toml files; owner only */
	/* The verbs with arguments (control_parse_request() only): */
	CONTROL_EVICT,		/* remove the named artifacts from the store; owner only */
	CONTROL_WIPE,		/* remove every installed artifact; owner only */
	CONTROL_PREFETCH,	/* start installs of names; owner only */
	CONTROL_SOURCES,	/* the configured files and Pkg server, read-only */
};

#define CONTROL_ARGS_MAX 65536		/* bytes of a request with arguments */

/* Flags of a request (the words --wait and --all). */
enum control_flags {
	CONTROL_WAIT = 1 << 0,		/* block until done (evict, wipe, prefetch) */
	CONTROL_ALL = 1 << 1,		/* every name (prefetch) */
};

/* A parsed request: the verb, its flags, and its arguments decoded. */
struct control_request {
	enum control_verb verb;
	unsigned flags;			/* enum control_flags */
	char **args;			/* n_args NUL-terminated strings, malloc'ed */
	size_t n_args;
};

/*
 * control_parse - parse one request: len bytes at buf (not necessarily
 * NUL-terminated; any bytes), which must be exactly one verb ("status",
 * "metrics", "reload"), optionally surrounded by blanks and ended by "\n"
 * or "\r\n", and nothing else.  Returns 0 with *ret the verb, or -EINVAL
 * with *errmsg (static) saying why: empty, too long (len >= CONTROL_MAX),
 * a NUL or control byte, more than one line or word, an unknown verb.
 * Never reads beyond buf + len.  Thread-safe.
 */
int control_parse(const char *buf, size_t len, enum control_verb *ret, const char **errmsg);

/*
 * control_parse_request - parse one request of any verb: len bytes at buf
 * (any bytes, at most CONTROL_ARGS_MAX), one line of words separated by one
 * blank, ended as control_parse() says.  The first word is the verb; a verb
 * without arguments (status, metrics, reload) goes through control_parse().
 * The other words are the flags "--wait" and "--all" (where the verb takes
 * them) and arguments, each percent-encoded as control_encode_arg() writes
 * it: a word that starts with '-' but is no flag is refused.  Returns 0 with
 * *ret filled (release with control_request_release()), -EINVAL with
 * *errmsg (static) saying why, or -ENOMEM.  Thread-safe.
 */
int control_parse_request(const char *buf, size_t len, struct control_request *ret,
			  const char **errmsg);

/*
 * control_has_args - whether the len bytes at buf start with a verb that
 * takes arguments (so that its request may be longer than CONTROL_MAX), as
 * a reader checks before it has the whole line.  Thread-safe.
 */
bool control_has_args(const char *buf, size_t len);

/* control_request_release - free the arguments of r; a zeroed r is fine. */
void control_request_release(struct control_request *r);

/*
 * control_encode_arg - append one argument to the request in buf (size
 * bytes, NUL-terminated): a blank, then arg with every byte that is a
 * control byte, a blank, '%', non-ASCII, or a leading '-' written as %XX.
 * Returns 0 or -ENAMETOOLONG (buf unchanged) when it does not fit.
 */
int control_encode_arg(char *buf, size_t size, const char *arg);

/* control_owner_only - whether verb is for the daemon's owner (and root) only. */
bool control_owner_only(enum control_verb verb);

/* control_verb_name - the verb's word ("status"), NULL when out of range. */
const char *control_verb_name(enum control_verb verb);

/*
 * control_mountinfo_unescape - the kernel writes space, tab, newline and
 * backslash in /proc/self/mountinfo as \040, \011, \012 and \134: undo it
 * in place in the NUL-terminated s (the daemon's mount point check and
 * artifactctl's search for the mount).  Thread-safe.
 */
void control_mountinfo_unescape(char *s);

#endif
