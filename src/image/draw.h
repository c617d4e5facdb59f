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
    const char *label;  /* e.g. "happy" (borrowed) */
    float confidence;   /* 0..1, shown as a percentage */
    const char *emoji;  /* UTF-8, e.g. "\U0001F604"; NULL draws none */
    unsigned color;     /* 0xRRGGBB of the box and tag */
    int n_bars;         /* probability bars beside the box, 0 for none */
    const char *const *bar_names;
    const float *bar_values;
};

/* Draws the annotations onto an RGB image in place. */
enum fer_status fer_image_annotate(fer_image *rgb, const struct fer_annotation *a, size_t n,
                                   char *err);

/* The emoji and colour fer uses for an emotion name; defaults for unknown names. */
const char *fer_emotion_emoji(const char *emotion);
unsigned fer_emotion_color(const char *emotion);

#endif
