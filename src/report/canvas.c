/*
 * canvas.c - cairo drawing shared by the figures (canvas.h). Figures draw in pixels at 96
 * dpi; the canvas is an SVG surface writing to the figure's file, or an image surface scaled
 * to the dpi asked for and written as PNG when saved, so one drawing gives both formats.
 * (Drawing on a recording surface and replaying it at save time leaks the recording inside
 * cairo 1.16's SVG backend.)
 */
#include "report/canvas.h"

#include <cairo-svg.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FONT "DejaVu Sans"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

enum fer_status fer_canvas_init(fer_canvas *c, int w, int h, const struct fer_figure_file *out,
                                char *err)
{
    memset(c, 0, sizeof(*c));
    if (w < 1 || h < 1 || w > 8192 || h > 8192)
        return fer_errorf(err, FER_ERR_ARG, "figure size %dx%d out of range", w, h);
    double scale = (out->dpi > 0 ? out->dpi : 96) / 96;
    c->svg = ends_with(out->path, ".svg");
    if (c->svg) {
        c->surface = cairo_svg_surface_create(out->path, w, h);
        scale = 1;
    } else {
        int pw = (int)lround(w * scale), ph = (int)lround(h * scale);
        if (pw > 16384 || ph > 16384)
            return fer_errorf(err, FER_ERR_ARG, "%s would be %dx%d pixels at %g dpi: too large",
                              out->path, pw, ph, out->dpi);
        c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
    }
    cairo_status_t st = cairo_surface_status(c->surface);
    if (st != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(c->surface);
        c->surface = NULL;
        return fer_errorf(err, st == CAIRO_STATUS_NO_MEMORY ? FER_ERR_NOMEM : FER_ERR_IO,
                          "cannot make the figure %s: %s", out->path,
                          st == CAIRO_STATUS_WRITE_ERROR ? "write error (does the folder exist?)"
                                                         : cairo_status_to_string(st));
    }
    c->cr = cairo_create(c->surface);
    cairo_scale(c->cr, scale, scale);
    c->width = w;
    c->height = h;
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    return FER_OK;
}

enum fer_status fer_canvas_save(fer_canvas *c, const struct fer_figure_file *out, char *err)
{
    if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS)
        return fer_errorf(err, FER_ERR_STATE, "cairo: %s",
                          cairo_status_to_string(cairo_status(c->cr)));
    cairo_status_t st;
    if (c->svg) {
        cairo_surface_finish(c->surface); /* writes the rest of the file */
        st = cairo_surface_status(c->surface);
    } else {
        cairo_surface_flush(c->surface);
        st = cairo_surface_write_to_png(c->surface, out->path);
    }
    if (st != CAIRO_STATUS_SUCCESS)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", out->path,
                          st == CAIRO_STATUS_WRITE_ERROR ? "write error (does the folder exist?)"
                                                         : cairo_status_to_string(st));
    return FER_OK;
}

void fer_canvas_free(fer_canvas *c)
{
    if (c->cr)
        cairo_destroy(c->cr);
    if (c->surface)
        cairo_surface_destroy(c->surface);
    memset(c, 0, sizeof(*c));
}

void fer_canvas_color(fer_canvas *c, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(c->cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

void fer_canvas_text(fer_canvas *c, double x, double y, double size, enum fer_align align, int bold,
                     unsigned rgb, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cairo_select_font_face(c->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(c->cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(c->cr, text, &te);
    double dx = align == FER_LEFT ? 0 : align == FER_CENTER ? -te.x_advance / 2 : -te.x_advance;
    fer_canvas_color(c, rgb, 1);
    cairo_move_to(c->cr, x + dx, y);
    cairo_show_text(c->cr, text);
}

void fer_canvas_text_up(fer_canvas *c, double x, double y, double size, unsigned rgb,
                        const char *text)
{
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_rotate(c->cr, -M_PI / 2);
    fer_canvas_text(c, 0, size / 3, size, FER_CENTER, 0, rgb, "%s", text);
    cairo_restore(c->cr);
}

void fer_canvas_fill_rect(fer_canvas *c, double x, double y, double w, double h, unsigned rgb,
                          double alpha)
{
    fer_canvas_color(c, rgb, alpha);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_fill(c->cr);
}

void fer_canvas_line(fer_canvas *c, double x0, double y0, double x1, double y1, double width,
                     unsigned rgb, int dashed)
{
    static const double dash[] = {5, 4};
    fer_canvas_color(c, rgb, 1);
    cairo_set_line_width(c->cr, width);
    cairo_set_dash(c->cr, dash, dashed ? 2 : 0, 0);
    cairo_move_to(c->cr, x0, y0);
    cairo_line_to(c->cr, x1, y1);
    cairo_stroke(c->cr);
    cairo_set_dash(c->cr, NULL, 0, 0);
}

double fer_plot_x(const struct fer_plot *p, double x)
{
    double span = p->x1 - p->x0;
    return p->left + (span != 0 ? (x - p->x0) / span : 0.5) * p->width;
}

double fer_plot_y(const struct fer_plot *p, double y)
{
    double span = p->y1 - p->y0;
    double f = span != 0 ? (y - p->y0) / span : 0.5;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    return p->top + p->height - f * p->height;
}

void fer_plot_grid_y(fer_canvas *c, const struct fer_plot *p, double step, int percent)
{
    for (double v = p->y0; v <= p->y1 + step * 1e-6; v += step) {
        double y = fer_plot_y(p, v);
        fer_canvas_line(c, p->left, y, p->left + p->width, y, 1, 0xDDDDDD, 0);
        if (percent)
            fer_canvas_text(c, p->left - 6, y + 4, 11, FER_RIGHT, 0, 0x444444, "%.0f%%", 100 * v);
        else
            fer_canvas_text(c, p->left - 6, y + 4, 11, FER_RIGHT, 0, 0x444444, "%.0f", v);
    }
}

void fer_plot_polyline(fer_canvas *c, const struct fer_plot *p, const double *x, const double *y,
                       int n, double width, unsigned rgb)
{
    if (n < 1)
        return;
    fer_canvas_color(c, rgb, 1);
    cairo_set_line_width(c->cr, width);
    cairo_set_line_join(c->cr, CAIRO_LINE_JOIN_ROUND);
    for (int i = 0; i < n; i++) {
        double px = fer_plot_x(p, x ? x[i] : i + 1), py = fer_plot_y(p, y[i]);
        if (i == 0)
            cairo_move_to(c->cr, px, py);
        else
            cairo_line_to(c->cr, px, py);
    }
    if (n == 1) { /* a single point still shows */
        double px = fer_plot_x(p, x ? x[0] : 1), py = fer_plot_y(p, y[0]);
        cairo_arc(c->cr, px, py, width, 0, 2 * M_PI);
        cairo_fill(c->cr);
        return;
    }
    cairo_stroke(c->cr);
}

void fer_canvas_legend(fer_canvas *c, double x, double y, int i, unsigned rgb, const char *text)
{
    double ly = y + i * 18;
    fer_canvas_fill_rect(c, x, ly - 9, 18, 10, rgb, 1);
    fer_canvas_text(c, x + 24, ly, 12, FER_LEFT, 0, 0x222222, "%s", text);
}

unsigned fer_heat_color(double v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    /* white (255,255,255) to deep blue (8,48,107), as matplotlib's Blues */
    unsigned r = (unsigned)lround(255 + (8 - 255) * v), g = (unsigned)lround(255 + (48 - 255) * v),
             b = (unsigned)lround(255 + (107 - 255) * v);
    return r << 16 | g << 8 | b;
}

unsigned fer_map_color(double v)
{
    /* viridis at five stops, interpolated */
    static const unsigned char stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double f = v * 4;
    int i = f >= 4 ? 3 : (int)f;
    double t = f - i;
    unsigned rgb = 0;
    for (int ch = 0; ch < 3; ch++)
        rgb = rgb << 8 | (unsigned)lround(stops[i][ch] + (stops[i + 1][ch] - stops[i][ch]) * t);
    return rgb;
}

/* Paints a w x h image surface, made by fill(data, stride), scaled to dw x dh at (x, y). */
static void paint_pixels(fer_canvas *c, int w, int h, double x, double y, double dw, double dh,
                         cairo_filter_t filter,
                         void (*fill)(uint32_t *row, int r, int w, const void *arg),
                         const void *arg)
{
    /* cairo owns the pixels, so the recording can keep the surface until it is replayed */
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < h; r++)
        fill((uint32_t *)(void *)(data + (size_t)r * (size_t)stride), r, w, arg);
    cairo_surface_mark_dirty(img);
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_scale(c->cr, dw / w, dh / h);
    cairo_set_source_surface(c->cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(c->cr), filter);
    cairo_paint(c->cr);
    cairo_restore(c->cr);
    cairo_surface_destroy(img);
}

static void fill_gray(uint32_t *row, int r, int w, const void *arg)
{
    const uint8_t *px = (const uint8_t *)arg + (size_t)r * (size_t)w;
    for (int i = 0; i < w; i++)
        row[i] = (uint32_t)px[i] << 16 | (uint32_t)px[i] << 8 | px[i];
}

void fer_canvas_gray_image(fer_canvas *c, const uint8_t *px, int w, int h, double x, double y,
                           double dw, double dh)
{
    paint_pixels(c, w, h, x, y, dw, dh, CAIRO_FILTER_GOOD, fill_gray, px);
}

struct value_map {
    const float *v;
    float lo, hi;
};

static void fill_values(uint32_t *row, int r, int w, const void *arg)
{
    const struct value_map *m = arg;
    const float *v = m->v + (size_t)r * (size_t)w;
    float span = m->hi > m->lo ? m->hi - m->lo : 1;
    for (int i = 0; i < w; i++)
        row[i] = fer_map_color((v[i] - m->lo) / span);
}

void fer_canvas_value_image(fer_canvas *c, const float *v, int w, int h, float lo, float hi,
                            double x, double y, double dw, double dh)
{
    struct value_map m = {v, lo, hi};
    paint_pixels(c, w, h, x, y, dw, dh, CAIRO_FILTER_NEAREST, fill_values, &m);
}
