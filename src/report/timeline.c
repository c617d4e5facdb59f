/*
 * timeline.c - the emotion timeline of a video's faces (report.h, fer_figure_timeline): one
 * row per track, its smoothed probabilities as stacked bands over the video's time axis, and
 * beside them the share of its frames spent in each top emotion.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "image/draw.h"
#include "report/canvas.h"
#include "report/report.h"

#define WIDTH  1200
#define HEADER 88
#define ROW    150
#define LABELS 110 /* the column naming each track */
#define SHARES 260 /* the column of shares */

/* The band of class c: between the sums of classes before it and up to it. */
static void band(fer_canvas *cv, const struct fer_plot *p, const struct fer_track_history *t, int c,
                 unsigned color)
{
    cairo_t *cr = cv->cr;
    cairo_new_path(cr);
    for (size_t i = 0; i < t->n; i++) {
        const float *pr = t->probs + i * FER_MAX_CLASSES;
        double top = 0;
        for (int j = 0; j <= c; j++)
            top += (double)pr[j];
        cairo_line_to(cr, fer_plot_x(p, t->times[i]), fer_plot_y(p, fmin(top, 1.0)));
    }
    for (size_t i = t->n; i-- > 0;) {
        const float *pr = t->probs + i * FER_MAX_CLASSES;
        double bottom = 0;
        for (int j = 0; j < c; j++)
            bottom += (double)pr[j];
        cairo_line_to(cr, fer_plot_x(p, t->times[i]), fer_plot_y(p, fmin(bottom, 1.0)));
    }
    cairo_close_path(cr);
    fer_canvas_color(cv, color, 0.9);
    cairo_fill(cr);
}

/* Track t's row, its top at y. */
static void track_row(fer_canvas *cv, const struct fer_track_history *t, int k,
                      const char *const *names, double duration, double y)
{
    long frames = 0;
    int dominant = 0;
    for (int c = 0; c < k; c++) {
        frames += t->top_frames[c];
        if (t->top_frames[c] > t->top_frames[dominant])
            dominant = c;
    }
    fer_canvas_text(cv, 14, y + 34, 20, FER_LEFT, 1, 0x202020, "#%d", t->id);
    fer_canvas_text(cv, 14, y + 58, 13, FER_LEFT, 0, 0x404040, "%s", names[dominant]);
    fer_canvas_text(cv, 14, y + 78, 12, FER_LEFT, 0, 0x707070, "%.1f-%.1f s", t->times[0],
                    t->times[t->n - 1]);
    struct fer_plot p = {LABELS,   y + 10, WIDTH - LABELS - SHARES - 30,
                         ROW - 34, 0,      duration > 0 ? duration : 1,
                         0,        1};
    fer_canvas_fill_rect(cv, p.left, p.top, p.width, p.height, 0xF4F4F4, 1);
    for (int c = 0; c < k && t->n > 1; c++)
        band(cv, &p, t, c, fer_emotion_color(names[c]));
    for (int s = 0; s <= 4; s++) { /* time ticks */
        double sec = p.x1 * s / 4;
        fer_canvas_text(cv, fer_plot_x(&p, sec), p.top + p.height + 14, 11,
                        s == 0   ? FER_LEFT
                        : s == 4 ? FER_RIGHT
                                 : FER_CENTER,
                        0, 0x707070, "%.1f s", sec);
    }
    double bx = WIDTH - SHARES, bar_h = (ROW - 24.0) / k, bar_w = SHARES - 110;
    for (int c = 0; c < k; c++) {
        double share = frames ? (double)t->top_frames[c] / (double)frames : 0;
        double by = y + 8 + c * bar_h;
        fer_canvas_text(cv, bx, by + bar_h * 0.75, 11, FER_LEFT, c == dominant, 0x303030, "%s",
                        names[c]);
        fer_canvas_fill_rect(cv, bx + 62, by + 1, bar_w, bar_h - 3, 0xEEEEEE, 1);
        fer_canvas_fill_rect(cv, bx + 62, by + 1, bar_w * share, bar_h - 3,
                             fer_emotion_color(names[c]), 1);
        fer_canvas_text(cv, bx + 66 + bar_w, by + bar_h * 0.75, 11, FER_LEFT, 0, 0x303030, "%.0f%%",
                        100 * share);
    }
    fer_canvas_line(cv, 10, y + ROW - 2, WIDTH - 10, y + ROW - 2, 1, 0xDDDDDD, 0);
}

/* Indices of the (at most max) tracks with the most samples, in order of their ids. */
static size_t longest(const struct fer_track_history *t, size_t n, size_t max, size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].n == 0)
            continue;
        if (m < max) {
            idx[m++] = i;
            continue;
        }
        size_t weakest = 0;
        for (size_t j = 1; j < m; j++)
            if (t[idx[j]].n < t[idx[weakest]].n)
                weakest = j;
        if (t[i].n > t[idx[weakest]].n) {
            memmove(idx + weakest, idx + weakest + 1, (m - weakest - 1) * sizeof(*idx));
            idx[m - 1] = i;
        }
    }
    return m;
}

enum fer_status fer_figure_timeline(const struct fer_track_history *tracks, size_t n, int k,
                                    const char *const *names, double duration, int max_tracks,
                                    const char *title, const struct fer_figure_file *out, char *err)
{
    size_t *idx = fer_calloc(n ? n : 1, sizeof(*idx));
    if (!idx)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the timeline");
    size_t shown = longest(tracks, n, max_tracks > 0 ? (size_t)max_tracks : n, idx);
    fer_canvas cv;
    enum fer_status st =
        fer_canvas_init(&cv, WIDTH, HEADER + (int)(shown ? shown : 1) * ROW + 10, out, err);
    if (st != FER_OK) {
        fer_free(idx);
        return st;
    }
    fer_canvas_text(&cv, 14, 28, 20, FER_LEFT, 1, 0x202020, "%s", title);
    fer_canvas_text(&cv, 14, 50, 13, FER_LEFT, 0, 0x505050,
                    "%zu face%s followed over %.1f s%s; bands: smoothed probabilities; bars: "
                    "share of frames per emotion",
                    n, n == 1 ? "" : "s", duration, shown < n ? " (the longest shown)" : "");
    for (int c = 0; c < k; c++) {
        double x = LABELS + c * 92.0;
        fer_canvas_fill_rect(&cv, x, 64, 12, 12, fer_emotion_color(names[c]), 1);
        fer_canvas_text(&cv, x + 16, 75, 12, FER_LEFT, 0, 0x303030, "%s", names[c]);
    }
    if (shown == 0)
        fer_canvas_text(&cv, WIDTH / 2.0, HEADER + ROW / 2.0, 16, FER_CENTER, 0, 0x707070,
                        "no faces were found in this video");
    for (size_t i = 0; i < shown; i++)
        track_row(&cv, &tracks[idx[i]], k, names, duration, HEADER + (double)i * ROW);
    st = fer_canvas_save(&cv, out, err);
    fer_canvas_free(&cv);
    fer_free(idx);
    return st;
}
