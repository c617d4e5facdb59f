/*
 * canvas.h - the drawing the figures share: a white canvas measured in pixels at 96 dpi,
 * text in DejaVu Sans, rectangles, lines, pictures, a plot area
 * that maps data to pixels, and saving as PNG at any dpi or as SVG. Internal to the report
 * module.
 */
#ifndef FER_REPORT_CANVAS_H
#define FER_REPORT_CANVAS_H

#include <cairo.h>

#include <stdint.h>

#include "core/status.h"
#include "report/report.h"

typedef struct fer_canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    int width, height; /* in pixels at 96 dpi, what the figures draw in */
    int svg;           /* 1: the surface writes an SVG file */
} fer_canvas;

enum fer_align { FER_LEFT = -1, FER_CENTER = 0, FER_RIGHT = 1 };

/* A white canvas of w x h pixels (at 96 dpi) for the figure out: SVG when its path ends in
   .svg, else PNG at out->dpi. */
enum fer_status fer_canvas_init(fer_canvas *c, int w, int h, const struct fer_figure_file *out,
                                char *err);
/* Finishes the figure's file (errors name the path). */
enum fer_status fer_canvas_save(fer_canvas *c, const struct fer_figure_file *out, char *err);
void fer_canvas_free(fer_canvas *c);

void fer_canvas_color(fer_canvas *c, unsigned rgb, double alpha);
/* Text with its baseline at y, aligned on x; bold when bold is set. */
void fer_canvas_text(fer_canvas *c, double x, double y, double size, enum fer_align align, int bold,
                     unsigned rgb, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* Text rotated a quarter turn anticlockwise (for vertical axis titles), centred on (x, y). */
void fer_canvas_text_up(fer_canvas *c, double x, double y, double size, unsigned rgb,
                        const char *text);
void fer_canvas_fill_rect(fer_canvas *c, double x, double y, double w, double h, unsigned rgb,
                          double alpha);
void fer_canvas_line(fer_canvas *c, double x0, double y0, double x1, double y1, double width,
                     unsigned rgb, int dashed);

/* A rectangle of the canvas showing data x in [x0, x1] and y in [y0, y1] (y up). */
struct fer_plot {
    double left, top, width, height;
    double x0, x1, y0, y1;
};

double fer_plot_x(const struct fer_plot *p, double x);
double fer_plot_y(const struct fer_plot *p, double y);
/* Horizontal grid lines labelled every `step` of y: as percentages of 1, or as counts. */
void fer_plot_grid_y(fer_canvas *c, const struct fer_plot *p, double step, int percent);
/* A line through n points (x[i], y[i]); NULL x means 1..n. */
void fer_plot_polyline(fer_canvas *c, const struct fer_plot *p, const double *x, const double *y,
                       int n, double width, unsigned rgb);
/* A legend entry: a coloured swatch and its text, the i-th of a column at (x, y). */
void fer_canvas_legend(fer_canvas *c, double x, double y, int i, unsigned rgb, const char *text);

/* A colour for a value in [0, 1] from white to a deep blue. */
unsigned fer_heat_color(double v);
/* A colour for a value in [0, 1] from dark purple through teal to yellow (as viridis). */
unsigned fer_map_color(double v);

/* A w x h gray picture (row-major bytes) painted at (x, y), scaled to dw x dh. */
void fer_canvas_gray_image(fer_canvas *c, const uint8_t *px, int w, int h, double x, double y,
                           double dw, double dh);
/* A w x h map of values painted with fer_map_color, lo -> 0 and hi -> 1, scaled to dw x dh
   with the pixels kept square-edged. */
void fer_canvas_value_image(fer_canvas *c, const float *v, int w, int h, float lo, float hi,
                            double x, double y, double dw, double dh);

#endif
