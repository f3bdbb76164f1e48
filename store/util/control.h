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
