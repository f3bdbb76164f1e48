/*
 * progress.c - one progress line on standard error (tools/progress.h)
 */
#include "tools/progress.h"

#include "store/util/time.h"
#include "store/util/units.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

void ctl_bar_init(struct ctl_bar *b, uint64_t min_total)
{
	*b = (struct ctl_bar){.tty = isatty(STDERR_FILENO), .min_total = min_total};
}

void ctl_bar_start(struct ctl_bar *b, const char *what)
{
	b->what = what;
	b->start_ms = time_mono_ms();
	b->last_ms = 0;
}

void ctl_bar_clear(struct ctl_bar *b)
{
	if (b->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		b->drawn = false;
	}
}

void ctl_bar_draw(struct ctl_bar *b, uint64_t now, uint64_t total, bool rate)
{
	char line[512], a[32], c[32], r[32];
	struct winsize ws;
	unsigned width = 80;
	uint64_t t, el;
	int n;

	if (!b->tty || total < b->min_total)
		return;
	t = time_mono_ms();
	if (b->last_ms && t - b->last_ms < 100 && now < total)
		return;
	b->last_ms = t;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		width = ws.ws_col < sizeof(line) ? ws.ws_col : sizeof(line) - 1;
	n = snprintf(line, sizeof(line), "  %s: %s of %s (%u%%)", b->what,
		units_human_bytes(now, a, sizeof(a)), units_human_bytes(total, c, sizeof(c)),
		total ? (unsigned)(now * 100 / total) : 100);
	el = t - b->start_ms;
	if (rate && el >= 500 && now > 0 && n > 0 && (size_t)n < sizeof(line)) {
		double bps = (double)now * 1000.0 / (double)el;
		unsigned long left = (unsigned long)((double)(total - now) / bps);

		snprintf(line + n, sizeof(line) - (size_t)n, "  %s/s  %lu:%02lu left",
			units_human_bytes((uint64_t)bps, r, sizeof(r)), left / 60, left % 60);
	}
	line[width - 1] = '\0'; /* one line, never wrapped */
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	b->drawn = true;
}
