/*
 * ctl_daemon.h - how the artifactctl commands that talk to a running
 * daemon (cmd_daemon.c, cmd_manage.c, cmd_probe.c) find its control
 * socket and ask it (artifactfs(8) CONTROL SOCKET)
 */
#ifndef CTL_DAEMON_H
#define CTL_DAEMON_H

#include <jansson.h>
#include <stdbool.h>

/* The options every such command takes; the strings are borrowed from argv. */
struct daemon_opts {
	const char *cmd;
	const char *mountpoint;		/* the argument, or NULL */
	const char *socket;		/* --socket */
	const char *store;		/* --store */
	bool json;
};

/*
 * ctl_daemon_socket - the control socket to ask for o (malloc'ed): --socket,
 * else the socket of o->mountpoint (or of the only artifactfs mount) by
 * control_path()'s rule.  Exits with EXIT_USAGE when it cannot tell.
 */
char *ctl_daemon_socket(const struct daemon_opts *o);

/*
 * ctl_daemon_ask - send request (one line, "\n"-terminated) to the socket
 * at path and read the JSON object answered into *ret (the caller
 * decrefs).  Waits at most timeout_s seconds for the answer (0: as long as
 * it takes), calling tick(arg) (may be NULL) every 500 ms meanwhile.
 * Returns 0, or -errno with *why (static) naming the step for a message.
 */
int ctl_daemon_ask(const char *path, const char *request, int timeout_s, void (*tick)(void *),
		   void *arg, json_t **ret, const char **why);

/*
 * ctl_daemon_request - ask the daemon of o; wait: without a time limit
 * (a request with --wait), ticking as ctl_daemon_ask() does.  Exits with
 * EXIT_NODAEMON when no daemon answers and with EXIT_FAIL when it refuses
 * ({"ok": false}: the message is printed).  Returns the answer without
 * its "ok" member.
 */
json_t *ctl_daemon_request(const struct daemon_opts *o, const char *request, bool wait,
			   void (*tick)(void *), void *arg);

/* ctl_json_str - o's string member key, "" when missing.  Borrowed from o. */
const char *ctl_json_str(json_t *o, const char *key);

/* ctl_json_num - o's number member key as an integer, 0 when missing. */
json_int_t ctl_json_num(json_t *o, const char *key);

#endif
