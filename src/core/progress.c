/* progress.c - progress bar drawing and the monotonic clock. */
#include "core/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double fer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void fer_format_duration(double s, char *buf, size_t len)
{
    if (s < 0 || s != s)
        s = 0;
    if (s < 60)
        snprintf(buf, len, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void fer_progress_start(fer_progress *p, const char *label, const char *unit, size_t total,
                        int enabled)
{
    memset(p, 0, sizeof(*p));
    p->out = stderr;
    p->label = label ? label : "";
    p->unit = unit ? unit : "";
    p->total = total;
    p->enabled = enabled;
    p->is_tty = isatty(fileno(stderr));
    p->start = fer_now();
    p->last_draw = p->start;
    p->quiet_interval = 30.0;
}

static void draw(fer_progress *p, int final)
{
    double now = fer_now();
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1)
        frac = 1;
    char tbuf[32];
    if (p->total == 0) { /* an open-ended count (a live stream): no bar, no time left */
        fer_format_duration(elapsed, tbuf, sizeof(tbuf));
        fprintf(p->out, "%s%s  %zu %s  %.1f %s/s  %s  %s%s", p->is_tty ? "\r" : "", p->label,
                p->done, p->unit, rate, p->unit, tbuf, p->extra,
                p->is_tty && !final ? "\033[K" : "\n");
        fflush(p->out);
        p->last_draw = now;
        return;
    }
    if (final)
        fer_format_duration(elapsed, tbuf, sizeof(tbuf));
    else
        fer_format_duration(rate > 0 ? (double)(p->total - p->done) / rate : 0, tbuf, sizeof(tbuf));
    if (p->is_tty) {
        char bar[21];
        int filled = (int)(frac * 20);
        for (int i = 0; i < 20; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[20] = 0;
        fprintf(p->out, "\r%s [%s] %3d%%  %zu/%zu %s  %.0f %s/s  %s %s  %s\033[K", p->label, bar,
                (int)(frac * 100), p->done, p->total, p->unit, rate, p->unit, tbuf,
                final ? "total" : "left", p->extra);
        if (final)
            fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s %3d%%  %zu/%zu %s  %.0f %s/s  %s %s  %s\n", p->label, (int)(frac * 100),
                p->done, p->total, p->unit, rate, p->unit, tbuf, final ? "total" : "left",
                p->extra);
    }
    fflush(p->out);
    p->last_draw = now;
}

void fer_progress_add(fer_progress *p, size_t n, const char *extra)
{
    p->done += n;
    if (extra) {
        strncpy(p->extra, extra, sizeof(p->extra) - 1);
        p->extra[sizeof(p->extra) - 1] = 0;
    }
    if (!p->enabled)
        return;
    double now = fer_now();
    if (now - p->last_draw >= (p->is_tty ? 0.1 : p->quiet_interval))
        draw(p, 0);
}

void fer_progress_finish(fer_progress *p)
{
    if (p->enabled)
        draw(p, 1);
}
