/*
 * draw.h - annotated pictures: each face boxed, with its label, an emoji and
 * probability bars, drawn with cairo (anti-aliased shapes, real fonts through
 * fontconfig: DejaVu Sans for text, Noto Color Emoji for the emoji).
 */
#ifndef FER_IMAGE_DRAW_H
#define FER_IMAGE_DRAW_H

#include <stddef.h>

#include "core/status.h"
#include "image/image.h"

struct fer_annotation {
    fer_rect box;
    const char *label; /* e.g. "happy" (borrowed) */
    float confidence;  /* 0..1, shown as a percentage */
    const char *emoji; /* UTF-8, e.g. "\U0001F604"; NULL draws none */
    unsigned color;    /* 0xRRGGBB of the box and tag */
    int n_bars;        /* probability bars beside the box, 0 for none */
    const char *const *bar_names;
    const float *bar_values;
};

/*
 * How much to draw for each face. Every style boxes the face and tags it ("happy 87%") with
 * its emoji; the probability panel goes where it covers no face (right of the box, left, below,
 * above, kept inside the picture):
 *   FER_ANNOTATE_AUTO   a panel for each face whose panel fits without covering a face
 *   FER_ANNOTATE_BARS   a panel for every face, where it covers least
 *   FER_ANNOTATE_LABEL  no panels: label and emoji only, for crowded pictures
 * Text grows with the face and with the picture (at least 12 px; 1/60 of the picture's
 * shorter side).
 */
enum fer_annotate_style { FER_ANNOTATE_AUTO, FER_ANNOTATE_BARS, FER_ANNOTATE_LABEL };

/* "auto", "bars" or "label" into *style: 0, or -1 for another name. */
int fer_annotate_style_parse(const char *name, enum fer_annotate_style *style);

/* Draws the annotations onto an RGB image in place (FER_ANNOTATE_AUTO). */
enum fer_status fer_image_annotate(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                   char *err);
enum fer_status fer_image_annotate_style(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                         enum fer_annotate_style style, char *err);

/*
 * Runs fn with a cairo context on a copy of the RGB image (cairo's RGB24), then copies the
 * drawing back: the one door from fer_image to cairo. fn gets the image's width and height.
 */
struct _cairo;
typedef enum fer_status (*fer_cairo_fn)(struct _cairo *cr, void *arg, int width, int height,
                                        char *err);
enum fer_status fer_image_draw_cairo(fer_image *rgb, fer_cairo_fn fn, void *arg, char *err);

/* Small cairo helpers the drawings share: a colour 0xRRGGBB with alpha, a rounded rectangle
 * path, and the text colour that reads on a background (dark on light, white on dark). */
void fer_cairo_set_rgb(struct _cairo *cr, unsigned rgb, double alpha);
void fer_cairo_rounded_rect(struct _cairo *cr, double x, double y, double w, double h, double r);
unsigned fer_text_color_for(unsigned background);

/*
 * What covers a face in the video overlays "emoji" and "meme": an emoji as large as the face
 * over it, a second smaller one (the runner-up emotion) at its top right corner, and captions
 * in the style of memes (white capitals with a black outline) above and below it.
 */
struct fer_cover {
    fer_rect box;
    const char *emoji;        /* UTF-8 (borrowed) */
    const char *badge;        /* NULL: none */
    const char *top, *bottom; /* NULL: none */
};
enum fer_status fer_image_cover_faces(fer_image *rgb, const struct fer_cover *c, size_t n,
                                      char *err);

/* The emoji and colour fer uses for an emotion name; defaults for unknown names. */
const char *fer_emotion_emoji(const char *emotion);
unsigned fer_emotion_color(const char *emotion);

#endif
