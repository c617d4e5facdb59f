/*
 * plot.h - the live plot under fer video's window: each followed face's probabilities over
 * the last seconds (one small chart per face, the most recent faces first), and a status line
 * (frames per second, frames dropped, the delay from a frame's arrival to its display).
 */
#ifndef FER_VIDEO_PLOT_H
#define FER_VIDEO_PLOT_H

#include "core/status.h"
#include "fer.h"

typedef struct fer_live_plot fer_live_plot;

struct fer_live_status {
    double fps;        /* frames shown per second, lately */
    long dropped;      /* frames fer skipped to keep up */
    double latency_ms; /* arrival to display of the last frame */
    long frame;        /* its number */
};

/* A plot of the last `seconds` of k classes. */
enum fer_status fer_live_plot_new(const fer_engine *e, double seconds, fer_live_plot **out,
                                  char *err);
/* Remembers the tracks of a frame shown at time t (seconds of the input). */
enum fer_status fer_live_plot_add(fer_live_plot *p, double t, const fer_tracks *tracks, char *err);
/* Draws the plot into panel (RGB; its size is the plot's size). */
enum fer_status fer_live_plot_draw(fer_live_plot *p, const struct fer_live_status *s,
                                   fer_image *panel, char *err);
void fer_live_plot_free(fer_live_plot *p);

#endif
