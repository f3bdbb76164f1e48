/*
 * log.c - the daemon's one logging function: stderr in the foreground,
 * syslog(3) otherwise (STYLE.md §2: "fs/ logs via one function")
 */
#include "fs/fs.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static bool log_stderr = true;
static enum fs_log_level log_max = FS_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void fs_log_open(bool to_stderr, bool debug)
{
	log_stderr = to_stderr;
	if (debug)
		log_max = FS_LOG_DEBUG;
	if (!to_stderr)
		openlog("artifactfs", LOG_PID, LOG_DAEMON);
}

void fs_log_set_level(enum fs_log_level max)
{
	log_max = max;
}

void fs_log(enum fs_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
	static const char *const name[] = { "error", "warning", "notice", "info", "debug" };
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_stderr) {
		/* One lock so that lines of concurrent threads never interleave. */
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "artifactfs: %s: ", name[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	} else {
		vsyslog(prio[level], fmt, ap);
	}
	va_end(ap);
}
