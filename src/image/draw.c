/*
 * draw.c - annotation with cairo. The RGB image is copied into a cairo
 * RGB24 surface, drawn on, and copied back; cairo owns no fer memory.
 */
#include "image/draw.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/classes.h"

/* How each FER2013 class looks, in label order (core/classes.h names them). */
static const struct {
    const char *emoji;
    unsigned color;
} LOOK[7] = {
    {"\xF0\x9F\x98\xA0", 0xE53935}, /* angry */
    {"\xF0\x9F\xA4\xA2", 0x7CB342}, /* disgust */
    {"\xF0\x9F\x98\xA8", 0x8E24AA}, /* fear */
    {"\xF0\x9F\x98\x84", 0xFDD835}, /* happy */
    {"\xF0\x9F\x98\xA2", 0x1E88E5}, /* sad */
    {"\xF0\x9F\x98\xAE", 0xFB8C00}, /* surprise */
    {"\xF0\x9F\x98\x90", 0x90A4AE}, /* neutral */
};

/* The FER2013 label of a class name, or -1 for a name of another model. */
static int label_of(const char *emotion)
{
    const char *const *names = fer_class_names(7);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], emotion) == 0)
            return i;
    return -1;
}

const char *fer_emotion_emoji(const char *emotion)
{
    int i = label_of(emotion);
    return i >= 0 ? LOOK[i].emoji : "\xF0\x9F\x99\x82"; /* slightly smiling face */
}

unsigned fer_emotion_color(const char *emotion)
{
    int i = label_of(emotion);
    return i >= 0 ? LOOK[i].color : 0x26A69A;
}

void fer_cairo_set_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

void fer_cairo_rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r)
{
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2, 0);
    cairo_arc(cr, x + w - r, y + h - r, r, 0, M_PI / 2);
    cairo_arc(cr, x + r, y + h - r, r, M_PI / 2, M_PI);
    cairo_arc(cr, x + r, y + r, r, M_PI, 3 * M_PI / 2);
    cairo_close_path(cr);
}

unsigned fer_text_color_for(unsigned bg)
{
    double lum = 0.299 * ((bg >> 16) & 255) + 0.587 * ((bg >> 8) & 255) + 0.114 * (bg & 255);
    return lum > 150 ? 0x202020 : 0xFFFFFF;
}

struct rect {
    double x, y, w, h;
};

static double overlap(struct rect a, struct rect b)
{
    double w = fmin(a.x + a.w, b.x + b.w) - fmax(a.x, b.x);
    double h = fmin(a.y + a.h, b.y + b.h) - fmax(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
}

static struct rect box_rect(const struct fer_annotation *a)
{
    return (struct rect){a->box.x, a->box.y, a->box.w, a->box.h};
}

/* The text size for a face: grows with the face and with the picture, at least 12 px. */
static double text_unit(const struct fer_annotation *a, int img_w, int img_h)
{
    return fmax(12.0, fmax(fmin(a->box.w, a->box.h) / 8.0, fmin(img_w, img_h) / 60.0));
}

/* The probability panel's size for a face, and its bar height. */
static struct rect panel_size(const struct fer_annotation *a, double unit, double *bar_h)
{
    *bar_h = fmax(12.0, unit * 0.8); /* its names are 0.85 of it: 10 px at least */
    double gap = *bar_h * 0.35, bar_w = fmax(60.0, a->box.w * 0.6), label_w = *bar_h * 5.0;
    return (struct rect){0, 0, label_w + bar_w + 2 * gap, a->n_bars * (*bar_h + gap) + gap};
}

/*
 * Where face i's panel covers the least: right of its box, left, below, above (each kept
 * inside the picture), scored by the faces it covers (any face, its own too) and the panels
 * already placed. *covers_face is set when even the best place covers part of a face.
 */
static struct rect place_panel(const struct fer_annotation *a, size_t n, size_t i,
                               const struct rect *placed, const int *has_panel, struct rect size,
                               double margin, int img_w, int img_h, int *covers_face)
{
    struct rect box = box_rect(&a[i]);
    struct rect cand[4] = {
        {box.x + box.w + margin, box.y, size.w, size.h},
        {box.x - margin - size.w, box.y, size.w, size.h},
        {box.x, box.y + box.h + margin, size.w, size.h},
        {box.x, box.y - margin - size.h, size.w, size.h},
    };
    struct rect best = cand[0];
    double best_cost = INFINITY, best_faces = 0;
    for (int c = 0; c < 4; c++) {
        struct rect r = cand[c];
        r.x = fmax(0, fmin(r.x, img_w - r.w));
        r.y = fmax(0, fmin(r.y, img_h - r.h));
        double faces = 0, panels = 0;
        for (size_t k = 0; k < n; k++) {
            faces += overlap(r, box_rect(&a[k]));
            if (k < i && has_panel[k])
                panels += overlap(r, placed[k]);
        }
        double cost = faces * 4 + panels; /* a covered face is worse than a covered panel */
        if (cost < best_cost) {
            best_cost = cost;
            best_faces = faces;
            best = r;
        }
    }
    *covers_face = best_faces > 0;
    return best;
}

/*
 * The box and, above it (inside when the box touches the top), the tag "happy 87%"; returns
 * where the tag is.
 */
static struct rect draw_box_and_tag(cairo_t *cr, const struct fer_annotation *a, double unit)
{
    const double x = a->box.x, y = a->box.y, w = a->box.w, h = a->box.h;
    const double line = fmax(2.0, unit / 6.0);
    fer_cairo_set_rgb(cr, a->color, 1.0);
    cairo_set_line_width(cr, line);
    fer_cairo_rounded_rect(cr, x, y, w, h, fmin(w, h) / 12.0);
    cairo_stroke(cr);

    char tag[64];
    snprintf(tag, sizeof(tag), "%s %.0f%%", a->label ? a->label : "?",
             100.0 * (double)a->confidence);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, unit);
    cairo_text_extents_t te;
    cairo_text_extents(cr, tag, &te);
    double pad = unit * 0.3, tag_h = unit * 1.4, tag_w = te.x_advance + 2 * pad;
    double ty = y - tag_h - line / 2 >= 0 ? y - tag_h - line / 2 : y + line / 2;
    fer_cairo_set_rgb(cr, a->color, 0.9);
    fer_cairo_rounded_rect(cr, x - line / 2, ty, tag_w, tag_h, unit * 0.25);
    cairo_fill(cr);
    fer_cairo_set_rgb(cr, fer_text_color_for(a->color), 1.0);
    cairo_move_to(cr, x - line / 2 + pad, ty + tag_h / 2 - (te.y_bearing + te.height / 2));
    cairo_show_text(cr, tag);
    return (struct rect){x - line / 2, ty, tag_w, tag_h};
}

/* The emoji just right of the tag, as tall as it, kept inside the picture. */
static void draw_emoji(cairo_t *cr, const struct fer_annotation *a, struct rect tag, int img_w)
{
    if (!a->emoji)
        return;
    double size = tag.h * 0.95;
    cairo_text_extents_t te;
    cairo_select_font_face(cr, "Noto Color Emoji", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, a->emoji, &te);
    double ex = fmin(tag.x + tag.w + size * 0.1, img_w - te.x_advance);
    cairo_move_to(cr, ex, tag.y + tag.h / 2 - (te.y_bearing + te.height / 2));
    cairo_show_text(cr, a->emoji);
}

/* The bars of every class on a dark panel at r. */
static void draw_panel(cairo_t *cr, const struct fer_annotation *a, struct rect r, double bar_h)
{
    double gap = bar_h * 0.35, label_w = bar_h * 5.0, bar_w = r.w - label_w - 2 * gap;
    cairo_set_source_rgba(cr, 0, 0, 0, 0.55);
    fer_cairo_rounded_rect(cr, r.x, r.y, r.w, r.h, bar_h * 0.3);
    cairo_fill(cr);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, bar_h * 0.85);
    for (int i = 0; i < a->n_bars; i++) {
        double ry = r.y + gap + i * (bar_h + gap);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_move_to(cr, r.x + gap, ry + bar_h * 0.82);
        cairo_show_text(cr, a->bar_names[i]);
        double v = (double)a->bar_values[i];
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        cairo_set_source_rgba(cr, 1, 1, 1, 0.2);
        cairo_rectangle(cr, r.x + gap + label_w, ry, bar_w, bar_h);
        cairo_fill(cr);
        fer_cairo_set_rgb(cr, fer_emotion_color(a->bar_names[i]), 1.0);
        cairo_rectangle(cr, r.x + gap + label_w, ry, bar_w * v, bar_h);
        cairo_fill(cr);
    }
}

/* Lays out and draws every face: panels first (under the tags), then boxes, tags and emoji. */
static enum fer_status draw_all(cairo_t *cr, const struct fer_annotation *a, size_t n,
                                enum fer_annotate_style style, int img_w, int img_h, char *err)
{
    struct rect *placed = fer_calloc(n ? n : 1, sizeof(*placed));
    int *has_panel = fer_calloc(n ? n : 1, sizeof(*has_panel));
    double *bar_h = fer_calloc(n ? n : 1, sizeof(*bar_h));
    if (!placed || !has_panel || !bar_h) {
        fer_free(placed);
        fer_free(has_panel);
        fer_free(bar_h);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory laying out %zu faces", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (style == FER_ANNOTATE_LABEL || a[i].n_bars <= 0)
            continue;
        double unit = text_unit(&a[i], img_w, img_h);
        struct rect size = panel_size(&a[i], unit, &bar_h[i]);
        int covers_face;
        placed[i] = place_panel(a, n, i, placed, has_panel, size, fmax(2.0, unit / 6.0) * 2, img_w,
                                img_h, &covers_face);
        has_panel[i] = style == FER_ANNOTATE_BARS || !covers_face;
    }
    for (size_t i = 0; i < n; i++)
        if (has_panel[i])
            draw_panel(cr, &a[i], placed[i], bar_h[i]);
    for (size_t i = 0; i < n; i++) {
        struct rect tag = draw_box_and_tag(cr, &a[i], text_unit(&a[i], img_w, img_h));
        draw_emoji(cr, &a[i], tag, img_w);
    }
    fer_free(placed);
    fer_free(has_panel);
    fer_free(bar_h);
    return FER_OK;
}

int fer_annotate_style_parse(const char *name, enum fer_annotate_style *style)
{
    static const char *const names[] = {"auto", "bars", "label"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) {
            *style = (enum fer_annotate_style)i;
            return 0;
        }
    return -1;
}

enum fer_status fer_image_annotate(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                   char *err)
{
    return fer_image_annotate_style(rgb, a, n, FER_ANNOTATE_AUTO, err);
}

struct annotate_job {
    const struct fer_annotation *a;
    size_t n;
    enum fer_annotate_style style;
};

static enum fer_status annotate_on(cairo_t *cr, void *arg, int w, int h, char *err)
{
    const struct annotate_job *j = arg;
    return draw_all(cr, j->a, j->n, j->style, w, h, err);
}

enum fer_status fer_image_annotate_style(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                         enum fer_annotate_style style, char *err)
{
    struct annotate_job job = {a, n, style};
    return fer_image_draw_cairo(rgb, annotate_on, &job, err);
}

enum fer_status fer_image_draw_cairo(fer_image *rgb, fer_cairo_fn fn, void *arg, char *err)
{
    if (rgb->channels != 3)
        return fer_errorf(err, FER_ERR_ARG, "drawing needs an RGB image");
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, rgb->width, rgb->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return fer_errorf(err, FER_ERR_NOMEM, "cairo: cannot make a %dx%d surface", rgb->width,
                          rgb->height);
    }
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    cairo_surface_flush(s);
    for (int y = 0; y < rgb->height; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        const uint8_t *src = rgb->data + (size_t)y * (size_t)rgb->width * 3;
        for (int x = 0; x < rgb->width; x++)
            row[x] = (uint32_t)src[3 * x] << 16 | (uint32_t)src[3 * x + 1] << 8 | src[3 * x + 2];
    }
    cairo_surface_mark_dirty(s);
    cairo_t *cr = cairo_create(s);
    enum fer_status st = fn(cr, arg, rgb->width, rgb->height, err);
    if (st == FER_OK && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        st = fer_errorf(err, FER_ERR_STATE, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    cairo_surface_flush(s);
    for (int y = 0; st == FER_OK && y < rgb->height; y++) {
        const uint32_t *row = (const uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        uint8_t *dst = rgb->data + (size_t)y * (size_t)rgb->width * 3;
        for (int x = 0; x < rgb->width; x++) {
            dst[3 * x] = (uint8_t)(row[x] >> 16);
            dst[3 * x + 1] = (uint8_t)(row[x] >> 8);
            dst[3 * x + 2] = (uint8_t)row[x];
        }
    }
    cairo_surface_destroy(s);
    return st;
}
