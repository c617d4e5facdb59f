/*
 * draw.c - annotation with cairo. The RGB image is copied into a cairo
 * RGB24 surface, drawn on, and copied back; cairo owns no fer memory.
 */
#include "image/draw.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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

static void set_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r)
{
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2, 0);
    cairo_arc(cr, x + w - r, y + h - r, r, 0, M_PI / 2);
    cairo_arc(cr, x + r, y + h - r, r, M_PI / 2, M_PI);
    cairo_arc(cr, x + r, y + r, r, M_PI, 3 * M_PI / 2);
    cairo_close_path(cr);
}

/* Dark text on light colours, white on dark ones. */
static unsigned text_color_for(unsigned bg)
{
    double lum = 0.299 * ((bg >> 16) & 255) + 0.587 * ((bg >> 8) & 255) + 0.114 * (bg & 255);
    return lum > 150 ? 0x202020 : 0xFFFFFF;
}

static void draw_one(cairo_t *cr, const struct fer_annotation *a, int img_w, int img_h)
{
    const double x = a->box.x, y = a->box.y, w = a->box.w, h = a->box.h;
    const double unit = fmax(12.0, fmin(w, h) / 8.0); /* scales text and lines with the face */
    const double line = fmax(2.0, unit / 6.0);
    set_rgb(cr, a->color, 1.0);
    cairo_set_line_width(cr, line);
    rounded_rect(cr, x, y, w, h, fmin(w, h) / 12.0);
    cairo_stroke(cr);

    /* tag: "happy 87%" above the box (inside it when the box touches the top) */
    char tag[64];
    snprintf(tag, sizeof(tag), "%s %.0f%%", a->label ? a->label : "?",
             100.0 * (double)a->confidence);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, unit);
    cairo_text_extents_t te;
    cairo_text_extents(cr, tag, &te);
    double pad = unit * 0.3, tag_h = unit * 1.4, tag_w = te.x_advance + 2 * pad;
    double ty = y - tag_h - line / 2 >= 0 ? y - tag_h - line / 2 : y + line / 2;
    set_rgb(cr, a->color, 0.9);
    rounded_rect(cr, x - line / 2, ty, tag_w, tag_h, unit * 0.25);
    cairo_fill(cr);
    set_rgb(cr, text_color_for(a->color), 1.0);
    cairo_move_to(cr, x - line / 2 + pad, ty + tag_h / 2 - (te.y_bearing + te.height / 2));
    cairo_show_text(cr, tag);

    /* emoji at the top right corner of the box */
    if (a->emoji) {
        double size = fmax(16.0, w / 4.0);
        cairo_select_font_face(cr, "Noto Color Emoji", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
        cairo_text_extents(cr, a->emoji, &te);
        double ex = x + w - te.x_advance * 0.75, ey = y + size * 0.35;
        if (ex + te.x_advance > img_w)
            ex = img_w - te.x_advance;
        cairo_move_to(cr, ex, ey);
        cairo_show_text(cr, a->emoji);
    }

    /* probability bars beside the box: right of it, or left when there is no room */
    if (a->n_bars > 0) {
        double bar_h = fmax(8.0, unit * 0.7), gap = bar_h * 0.35;
        double bar_w = fmax(60.0, w * 0.6), label_w = bar_h * 5.0;
        double total_w = label_w + bar_w + 2 * gap;
        double bx = x + w + line * 2;
        if (bx + total_w > img_w)
            bx = x - line * 2 - total_w;
        if (bx < 0)
            bx = fmax(0, x + line);
        double by = y;
        double panel_h = a->n_bars * (bar_h + gap) + gap;
        if (by + panel_h > img_h)
            by = fmax(0, img_h - panel_h);
        cairo_set_source_rgba(cr, 0, 0, 0, 0.55);
        rounded_rect(cr, bx, by, total_w, panel_h, bar_h * 0.3);
        cairo_fill(cr);
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, bar_h * 0.85);
        for (int i = 0; i < a->n_bars; i++) {
            double ry = by + gap + i * (bar_h + gap);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_move_to(cr, bx + gap, ry + bar_h * 0.82);
            cairo_show_text(cr, a->bar_names[i]);
            double v = (double)a->bar_values[i];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            cairo_set_source_rgba(cr, 1, 1, 1, 0.2);
            cairo_rectangle(cr, bx + gap + label_w, ry, bar_w, bar_h);
            cairo_fill(cr);
            set_rgb(cr, fer_emotion_color(a->bar_names[i]), 1.0);
            cairo_rectangle(cr, bx + gap + label_w, ry, bar_w * v, bar_h);
            cairo_fill(cr);
        }
    }
}

enum fer_status fer_image_annotate(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                   char *err)
{
    if (rgb->channels != 3)
        return fer_errorf(err, FER_ERR_ARG, "annotation needs an RGB image");
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
    for (size_t i = 0; i < n; i++)
        draw_one(cr, &a[i], rgb->width, rgb->height);
    enum fer_status st = FER_OK;
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
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
