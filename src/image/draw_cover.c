/*
 * draw_cover.c - faces covered by emoji, with meme captions (draw.h, fer_image_cover_faces):
 * the 2016 webcam demo's "meme" overlay, drawn with the Noto Color Emoji glyphs fer already
 * uses for its labels, so that no third-party picture is needed.
 */
#include <cairo.h>
#include <math.h>

#include "image/draw.h"

/* An emoji glyph of height `size` centred on (cx, cy). */
static void emoji_at(cairo_t *cr, const char *emoji, double cx, double cy, double size)
{
    cairo_text_extents_t te;
    cairo_select_font_face(cr, "Noto Color Emoji", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, emoji, &te);
    if (te.height > 0) { /* the glyph's drawn height, not the font's, fills the face */
        size *= size / te.height;
        cairo_set_font_size(cr, size);
        cairo_text_extents(cr, emoji, &te);
    }
    cairo_move_to(cr, cx - te.x_bearing - te.width / 2, cy - te.y_bearing - te.height / 2);
    cairo_show_text(cr, emoji);
}

/* A meme caption: bold white capitals outlined in black, centred on cx, its middle at cy, at
 * most max_w wide (the text shrinks to fit). */
static void caption_at(cairo_t *cr, const char *text, double cx, double cy, double size,
                       double max_w)
{
    cairo_text_extents_t te;
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, text, &te);
    if (te.x_advance > max_w && te.x_advance > 0) {
        size *= max_w / te.x_advance;
        cairo_set_font_size(cr, size);
        cairo_text_extents(cr, text, &te);
    }
    cairo_new_path(cr);
    cairo_move_to(cr, cx - te.x_advance / 2, cy - te.y_bearing - te.height / 2);
    cairo_text_path(cr, text);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(cr, fmax(2.0, size / 7.0));
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_stroke_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill(cr);
}

struct cover_job {
    const struct fer_cover *c;
    size_t n;
};

static enum fer_status cover_on(cairo_t *cr, void *arg, int width, int height, char *err)
{
    (void)err;
    const struct cover_job *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        const struct fer_cover *c = &j->c[i];
        double x = c->box.x, y = c->box.y, w = c->box.w, h = c->box.h;
        double side = fmax(w, h) * 1.1, cx = x + w / 2, cy = y + h / 2;
        if (c->emoji)
            emoji_at(cr, c->emoji, cx, cy, side);
        if (c->badge)
            emoji_at(cr, c->badge, cx + side * 0.42, cy - side * 0.42, side * 0.38);
        double size = fmax(14.0, fmin(w * 0.22, height / 12.0));
        double max_w = fmin((double)width, fmax(w * 2.2, size * 8));
        if (c->top)
            caption_at(cr, c->top, cx, fmax(size * 0.7, cy - side / 2 - size * 0.7), size, max_w);
        if (c->bottom)
            caption_at(cr, c->bottom, cx, fmin(height - size * 0.7, cy + side / 2 + size * 0.7),
                       size * 0.8, max_w);
    }
    return FER_OK;
}

enum fer_status fer_image_cover_faces(fer_image *rgb, const struct fer_cover *c, size_t n,
                                      char *err)
{
    struct cover_job job = {c, n};
    return fer_image_draw_cairo(rgb, cover_on, &job, err);
}
