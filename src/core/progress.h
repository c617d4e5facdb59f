/*
 * progress.h - a terminal progress bar with rate and time left, and a clock.
 *
 *   [##########..........]  48%  13824/28709 img  182 img/s  1m22s left  loss 1.204
 *
 * On a terminal the bar redraws in place at most 10 times a second; when
 * stderr is not a terminal (a log file, CI) it prints a plain line every
 * `quiet_interval` seconds instead, so logs stay readable. A total of 0 counts without an
 * end (a live stream): the count, the rate and the time so far.
 */
#ifndef FER_CORE_PROGRESS_H
#define FER_CORE_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct fer_progress {
    FILE *out;
    const char *label; /* e.g. "epoch 3/30" (borrowed) */
    const char *unit;  /* e.g. "img" (borrowed) */
    size_t total;
    size_t done;
    double start;
    double last_draw;
    int is_tty;
    int enabled;
    double quiet_interval;
    char extra[96]; /* caller-provided suffix, e.g. running loss */
} fer_progress;

/* Monotonic wall clock in seconds. */
double fer_now(void);

void fer_progress_start(fer_progress *p, const char *label, const char *unit, size_t total,
                        int enabled);
/* Adds n to the count; `extra` (may be NULL) replaces the suffix. */
void fer_progress_add(fer_progress *p, size_t n, const char *extra);
/* Draws the final state and ends the line. */
void fer_progress_finish(fer_progress *p);

/* Formats seconds as "1h02m", "3m05s" or "12.3s" into buf. */
void fer_format_duration(double seconds, char *buf, size_t len);

#endif
