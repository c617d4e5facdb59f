/*
 * rotate.c - a face window turned upright: the w x h window centred on
 * (cx, cy) of a gray image, rotated by `angle` radians (the angle of the line
 * from the right eye to the left eye, so that they come out level), sampled
 * bilinearly at full resolution with the border replicated, then reduced by
 * area averaging like every other crop (fer_image_crop_resize).
 */
#include <math.h>

#include "core/alloc.h"
#include "image/image.h"

/* Bilinear sample of gray image g at (x, y), the border replicated. */
static float sample(const fer_image *g, float x, float y)
{
    x = fminf(fmaxf(x, 0), (float)(g->width - 1));
    y = fminf(fmaxf(y, 0), (float)(g->height - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < g->width ? x0 + 1 : x0, y1 = y0 + 1 < g->height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const uint8_t *r0 = g->data + (size_t)y0 * (size_t)g->width;
    const uint8_t *r1 = g->data + (size_t)y1 * (size_t)g->width;
    float top = (float)r0[x0] + fx * (float)(r0[x1] - r0[x0]);
    float bottom = (float)r1[x0] + fx * (float)(r1[x1] - r1[x0]);
    return top + fy * (bottom - top);
}

enum fer_status fer_image_crop_rotated(const fer_image *gray, float cx, float cy, int w, int h,
                                       float angle, int out_w, int out_h, fer_image *out, char *err)
{
    if (!gray || !gray->data || gray->channels != 1 || gray->width <= 0 || gray->height <= 0)
        return fer_errorf(err, FER_ERR_ARG, "crop_rotated: the source must be a gray image");
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > FER_IMAGE_MAX_PIXELS || !isfinite(angle))
        return fer_errorf(err, FER_ERR_ARG, "crop_rotated: a %dx%d window turned by %g", w, h,
                          (double)angle);
    fer_image upright = {0};
    enum fer_status st = fer_image_new(w, h, 1, &upright, err);
    if (st != FER_OK)
        return st;
    const float c = cosf(angle), s = sinf(angle);
    for (int v = 0; v < h; v++)
        for (int u = 0; u < w; u++) {
            float dx = (float)u + 0.5f - (float)w / 2, dy = (float)v + 0.5f - (float)h / 2;
            float x = cx + dx * c - dy * s - 0.5f, y = cy + dx * s + dy * c - 0.5f;
            float p = sample(gray, x, y);
            upright.data[(size_t)v * (size_t)w + (size_t)u] = (uint8_t)(p + 0.5f);
        }
    st = fer_image_crop_resize(&upright, (fer_rect){0, 0, w, h}, out_w, out_h, out, err);
    fer_image_free(&upright);
    return st;
}
