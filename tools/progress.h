/*
 * progress.h - one progress line on standard error, redrawn in place, for
 * the artifactctl commands that pack and upload
 *
 *   "  uploading X: 12.0 MiB of 40.0 MiB (30%)  8.1 MiB/s  0:03 left"
 *
 * Drawn only when standard error is a terminal, at most every 100 ms (and
 * at 100%), cut to the terminal's width so that it never wraps.  A struct
 * ctl_bar belongs to one thread.
 */
#ifndef ARTIFACTCTL_PROGRESS_H
#define ARTIFACTCTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct ctl_bar {
	bool tty;	    /* standard error is a terminal: draw */
	const char *what;   /* "packing NAME", "uploading OBJECT" (borrowed) */
	uint64_t min_total; /* totals below this draw nothing */
	uint64_t start_ms, last_ms;
	bool drawn;
};

/* ctl_bar_init - b for standard error, drawing totals of min_total bytes or more. */
void ctl_bar_init(struct ctl_bar *b, uint64_t min_total);

/* ctl_bar_start - a new task what (borrowed until the next start): the clock of the rate. */
void ctl_bar_start(struct ctl_bar *b, const char *what);

/* ctl_bar_draw - now of total bytes done; with rate, the speed and the time left too. */
void ctl_bar_draw(struct ctl_bar *b, uint64_t now, uint64_t total, bool rate);

/* ctl_bar_clear - erase the line, if drawn, before other output. */
void ctl_bar_clear(struct ctl_bar *b);

#endif
