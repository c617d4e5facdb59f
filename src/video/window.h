/*
 * window.h - fer video's live window (SDL2): the annotated frame with the live plot under
 * it. Closing the window, Escape or q ends the run (like Ctrl-C).
 */
#ifndef FER_VIDEO_WINDOW_H
#define FER_VIDEO_WINDOW_H

#include "core/status.h"
#include "fer.h"

typedef struct fer_video_window fer_video_window;

/* A window for frames of width x height with a panel of panel_h pixels under them. Without
 * a display (no DISPLAY or WAYLAND_DISPLAY, or SDL cannot open one) it fails with a message
 * that says so. */
enum fer_status fer_video_window_open(const char *title, int width, int height, int panel_h,
                                      fer_video_window **out, char *err);
/* Shows an RGB picture of the window's size (frame and panel stacked). */
enum fer_status fer_video_window_show(fer_video_window *w, const fer_image *picture, char *err);
/* Handles pending events: 1 when the user closed the window (or pressed Escape or q). */
int fer_video_window_closed(fer_video_window *w);
void fer_video_window_free(fer_video_window *w);

#endif
