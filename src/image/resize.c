/*
 * resize.c - crop (with border replication) and resize, computed the way
 * OpenCV 4.6's cv::resize computes 8-bit images, so results match it:
 *
 *   both axes shrink by whole factors   block means (resizeAreaFast)
 *   both axes shrink (or keep) else     weighted overlaps in float (resizeArea)
 *   both axes grow (or keep)            bilinear, 11-bit fixed point (INTER_LINEAR)
 *   one axis shrinks, the other grows   overlaps along one, linear taps along the other
 *
 * The crop is never copied: column and row maps send each crop coordinate to
 * a clamped source coordinate. The float steps keep OpenCV's order of
 * operations.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "image/image.h"

/* The float steps must round as OpenCV's do, so no fused multiply-adds
 * (GCC contracts by default in gnu modes, clang within expressions). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { COEF_BITS = 11, COEF_ONE = 1 << COEF_BITS };

/* One weighted source sample of a destination sample (OpenCV's DecimateAlpha). */
struct tap {
    int di, si;
    float alpha;
};

static uint8_t round_u8(float v)
{
    long r = lrintf(v); /* round half to even, as cvRound */
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* OpenCV's computeResizeAreaTab: the overlap of each source cell with each
 * destination cell, as a fraction of the destination cell. At most 2*ssize taps. */
static int area_taps(int ssize, int dsize, double scale, struct tap *tab)
{
    int k = 0;
    for (int dx = 0; dx < dsize; dx++) {
        double fsx1 = dx * scale, fsx2 = fsx1 + scale;
        double cell = fmin(scale, ssize - fsx1);
        int sx1 = (int)ceil(fsx1), sx2 = (int)floor(fsx2);
        sx2 = min_int(sx2, ssize - 1);
        sx1 = min_int(sx1, sx2);
        if (sx1 - fsx1 > 1e-3)
            tab[k++] = (struct tap){dx, sx1 - 1, (float)((sx1 - fsx1) / cell)};
        for (int sx = sx1; sx < sx2; sx++)
            tab[k++] = (struct tap){dx, sx, (float)(1.0 / cell)};
        if (fsx2 - sx2 > 1e-3)
            tab[k++] = (struct tap){dx, sx2, (float)(fmin(fmin(fsx2 - sx2, 1.), cell) / cell)};
    }
    return k;
}

/*
 * INTER_LINEAR source position and weights (in 1/2048) of each destination
 * sample. OpenCV clamps the column to the image but not the row: a row
 * before the first (or after the last) keeps its fraction and reads the
 * border row twice, which changes the fixed-point rounding.
 */
static void linear_coefs(int ssize, int dsize, int clamp, int *ofs, short *coef, float *fcoef)
{
    double scale = 1. / ((double)dsize / ssize);
    for (int d = 0; d < dsize; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        int s = (int)floorf(f);
        f -= (float)s;
        if (clamp && s < 0)
            f = 0.f, s = 0;
        if (clamp && s >= ssize - 1)
            f = 0.f, s = ssize - 1;
        ofs[d] = s;
        fcoef[2 * d] = 1.f - f;
        fcoef[2 * d + 1] = f;
        coef[2 * d] = (short)lrintf((1.f - f) * COEF_ONE);
        coef[2 * d + 1] = (short)lrintf(f * COEF_ONE);
    }
}

/* Linear interpolation as taps, for an axis that grows while the other shrinks. */
static int linear_taps(int ssize, int dsize, struct tap *tab, int *ofs, short *coef, float *fcoef)
{
    int k = 0;
    linear_coefs(ssize, dsize, 1, ofs, coef, fcoef);
    for (int d = 0; d < dsize; d++) {
        tab[k++] = (struct tap){d, ofs[d], fcoef[2 * d]};
        if (fcoef[2 * d + 1] != 0.f)
            tab[k++] = (struct tap){d, min_int(ofs[d] + 1, ssize - 1), fcoef[2 * d + 1]};
    }
    return k;
}

/* resizeAreaFast: the mean of each ix x iy block; 2x2 rounds half up, as OpenCV's SIMD path. */
static void area_fast(const fer_image *src, const int *xmap, const int *ymap, int ix, int iy,
                      fer_image *dst)
{
    int cn = src->channels, ow = dst->width;
    size_t stride = (size_t)src->width * (size_t)cn;
    float scale = 1.f / (float)(ix * iy);
    uint8_t *d = dst->data;
    for (int dy = 0; dy < dst->height; dy++) {
        const int *rows = ymap + (size_t)dy * (size_t)iy;
        for (int dx = 0; dx < ow; dx++) {
            const int *cols = xmap + (size_t)dx * (size_t)ix;
            for (int c = 0; c < cn; c++) {
                if (ix == 2 && iy == 2) {
                    const uint8_t *r0 = src->data + (size_t)rows[0] * stride;
                    const uint8_t *r1 = src->data + (size_t)rows[1] * stride;
                    int x0 = cols[0] * cn + c, x1 = cols[1] * cn + c;
                    *d++ = (uint8_t)((r0[x0] + r0[x1] + r1[x0] + r1[x1] + 2) >> 2);
                } else {
                    int64_t sum = 0;
                    for (int sy = 0; sy < iy; sy++) {
                        const uint8_t *r = src->data + (size_t)rows[sy] * stride + c;
                        for (int sx = 0; sx < ix; sx++)
                            sum += r[(size_t)cols[sx] * (size_t)cn];
                    }
                    *d++ = round_u8((float)sum * scale);
                }
            }
        }
    }
}

/*
 * ResizeArea_Invoker: each source row is reduced horizontally into buf
 * (xtab), then added into sum with its vertical weight (ytab, sorted by
 * destination row); a destination row is written when ytab moves on.
 */
static enum fer_status area_general(const fer_image *src, const int *xmap, const int *ymap,
                                    const struct tap *xt, int nx, const struct tap *yt, int ny,
                                    fer_image *dst, char *err)
{
    int cn = src->channels;
    size_t stride = (size_t)src->width * (size_t)cn, dw = (size_t)dst->width * (size_t)cn;
    float *buf = fer_calloc(2 * dw, sizeof(float));
    if (!buf)
        return fer_errorf(err, FER_ERR_NOMEM, "crop_resize: out of memory");
    float *sum = buf + dw;
    int prev_dy = yt[0].di;
    for (int j = 0; j < ny; j++) {
        float beta = yt[j].alpha;
        int dy = yt[j].di;
        const uint8_t *s = src->data + (size_t)ymap[yt[j].si] * stride;
        memset(buf, 0, dw * sizeof(float));
        for (int k = 0; k < nx; k++) {
            const uint8_t *p = s + (size_t)xmap[xt[k].si] * (size_t)cn;
            float *b = buf + (size_t)xt[k].di * (size_t)cn, a = xt[k].alpha;
            for (int c = 0; c < cn; c++)
                b[c] += p[c] * a;
        }
        if (dy != prev_dy) {
            uint8_t *d = dst->data + (size_t)prev_dy * dw;
            for (size_t i = 0; i < dw; i++) {
                d[i] = round_u8(sum[i]);
                sum[i] = beta * buf[i];
            }
            prev_dy = dy;
        } else {
            for (size_t i = 0; i < dw; i++)
                sum[i] += beta * buf[i];
        }
    }
    uint8_t *d = dst->data + (size_t)prev_dy * dw;
    for (size_t i = 0; i < dw; i++)
        d[i] = round_u8(sum[i]);
    fer_free(buf);
    return FER_OK;
}

/*
 * INTER_LINEAR for 8 bits: horizontal pass to ints scaled by 2048, then the
 * vertical blend exactly as OpenCV's VResizeLinear<uchar> specialisation
 * (inputs >> 4, products >> 16, then a rounding >> 2).
 */
static enum fer_status resize_linear(const fer_image *src, const int *xmap, const int *ymap, int cw,
                                     int ch, fer_image *dst, char *err)
{
    enum fer_status st = FER_OK;
    int cn = src->channels, ow = dst->width, oh = dst->height;
    size_t stride = (size_t)src->width * (size_t)cn, dw = (size_t)ow * (size_t)cn;
    int *xo = fer_malloc((size_t)ow * sizeof(int)), *yo = fer_malloc((size_t)oh * sizeof(int));
    short *xa = fer_malloc((size_t)ow * 2 * sizeof(short));
    short *ya = fer_malloc((size_t)oh * 2 * sizeof(short));
    float *fc = fer_malloc((size_t)(ow > oh ? ow : oh) * 2 * sizeof(float));
    int32_t *rows = fer_malloc((size_t)ch * dw * sizeof(int32_t));
    if (!xo || !yo || !xa || !ya || !fc || !rows) {
        st = fer_errorf(err, FER_ERR_NOMEM, "crop_resize: out of memory");
        goto cleanup;
    }
    linear_coefs(cw, ow, 1, xo, xa, fc);
    linear_coefs(ch, oh, 0, yo, ya, fc);
    for (int y = 0; y < ch; y++) {
        const uint8_t *s = src->data + (size_t)ymap[y] * stride;
        int32_t *h = rows + (size_t)y * dw;
        for (int x = 0; x < ow; x++) {
            size_t s0 = (size_t)xmap[xo[x]] * (size_t)cn;
            size_t s1 = (size_t)xmap[min_int(xo[x] + 1, cw - 1)] * (size_t)cn;
            for (int c = 0; c < cn; c++)
                h[(size_t)x * (size_t)cn + (size_t)c] =
                    s[s0 + (size_t)c] * xa[2 * x] + s[s1 + (size_t)c] * xa[2 * x + 1];
        }
    }
    for (int y = 0; y < oh; y++) {
        int r0 = yo[y] < 0 ? 0 : min_int(yo[y], ch - 1);
        int r1 = yo[y] + 1 < 0 ? 0 : min_int(yo[y] + 1, ch - 1);
        const int32_t *h0 = rows + (size_t)r0 * dw, *h1 = rows + (size_t)r1 * dw;
        int32_t b0 = ya[2 * y], b1 = ya[2 * y + 1];
        uint8_t *d = dst->data + (size_t)y * dw;
        for (size_t i = 0; i < dw; i++) {
            int32_t v = ((((h0[i] >> 4) * b0) >> 16) + (((h1[i] >> 4) * b1) >> 16) + 2) >> 2;
            d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
cleanup:
    fer_free(xo);
    fer_free(yo);
    fer_free(xa);
    fer_free(ya);
    fer_free(fc);
    fer_free(rows);
    return st;
}

/* Taps for one axis of the mixed case: overlaps if it shrinks, linear if it grows. */
static int axis_taps(int ssize, int dsize, struct tap *tab, int *ofs, short *coef, float *fcoef)
{
    double scale = 1. / ((double)dsize / ssize);
    if (scale >= 1)
        return area_taps(ssize, dsize, scale, tab);
    return linear_taps(ssize, dsize, tab, ofs, coef, fcoef);
}

static enum fer_status resize_mixed(const fer_image *src, const int *xmap, const int *ymap, int cw,
                                    int ch, fer_image *dst, char *err)
{
    enum fer_status st;
    int ow = dst->width, oh = dst->height, n = cw + ch + ow + oh;
    struct tap *xt = fer_malloc((size_t)2 * (size_t)n * sizeof(struct tap));
    struct tap *yt = fer_malloc((size_t)2 * (size_t)n * sizeof(struct tap));
    int *ofs = fer_malloc((size_t)n * sizeof(int));
    short *coef = fer_malloc((size_t)n * 2 * sizeof(short));
    float *fcoef = fer_malloc((size_t)n * 2 * sizeof(float));
    if (!xt || !yt || !ofs || !coef || !fcoef) {
        st = fer_errorf(err, FER_ERR_NOMEM, "crop_resize: out of memory");
        goto cleanup;
    }
    int nx = axis_taps(cw, ow, xt, ofs, coef, fcoef);
    int ny = axis_taps(ch, oh, yt, ofs, coef, fcoef);
    st = area_general(src, xmap, ymap, xt, nx, yt, ny, dst, err);
cleanup:
    fer_free(xt);
    fer_free(yt);
    fer_free(ofs);
    fer_free(coef);
    fer_free(fcoef);
    return st;
}

/* map[i] = clamp(start + i): border replication without copying. */
static void clamp_map(int *map, int start, int n, int size)
{
    for (int i = 0; i < n; i++) {
        long long v = (long long)start + i;
        map[i] = v < 0 ? 0 : v >= size ? size - 1 : (int)v;
    }
}

static enum fer_status resize_into(const fer_image *src, const int *xmap, const int *ymap, int cw,
                                   int ch, fer_image *dst, char *err)
{
    int ow = dst->width, oh = dst->height, cn = src->channels;
    if (cw == ow && ch == oh) {
        size_t stride = (size_t)src->width * (size_t)cn, dw = (size_t)ow * (size_t)cn;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                memcpy(dst->data + (size_t)y * dw + (size_t)x * (size_t)cn,
                       src->data + (size_t)ymap[y] * stride + (size_t)xmap[x] * (size_t)cn,
                       (size_t)cn);
        return FER_OK;
    }
    /* cv::resize's scale: 1 / (dst / src), in double, then the integer test. */
    double sx = 1. / ((double)ow / cw), sy = 1. / ((double)oh / ch);
    if (sx >= 1 && sy >= 1) {
        double ix = rint(sx), iy = rint(sy);
        if (fabs(sx - ix) < DBL_EPSILON && fabs(sy - iy) < DBL_EPSILON) {
            area_fast(src, xmap, ymap, (int)ix, (int)iy, dst);
            return FER_OK;
        }
        struct tap *xt = fer_malloc((size_t)cw * 2 * sizeof(struct tap));
        struct tap *yt = fer_malloc((size_t)ch * 2 * sizeof(struct tap));
        enum fer_status st;
        if (!xt || !yt)
            st = fer_errorf(err, FER_ERR_NOMEM, "crop_resize: out of memory");
        else
            st = area_general(src, xmap, ymap, xt, area_taps(cw, ow, sx, xt), yt,
                              area_taps(ch, oh, sy, yt), dst, err);
        fer_free(xt);
        fer_free(yt);
        return st;
    }
    if (sx <= 1 && sy <= 1)
        return resize_linear(src, xmap, ymap, cw, ch, dst, err);
    return resize_mixed(src, xmap, ymap, cw, ch, dst, err);
}

enum fer_status fer_image_crop_resize(const fer_image *src, fer_rect r, int out_w, int out_h,
                                      fer_image *out, char *err)
{
    if (!src || !src->data || src->width <= 0 || src->height <= 0 ||
        (src->channels != 1 && src->channels != 3))
        return fer_errorf(err, FER_ERR_ARG, "crop_resize: the source image is empty or malformed");
    if (out == src)
        return fer_errorf(err, FER_ERR_ARG, "crop_resize: the output must be a different image");
    if (r.w <= 0 || r.h <= 0 || out_w <= 0 || out_h <= 0)
        return fer_errorf(err, FER_ERR_ARG,
                          "crop_resize: crop %dx%d at (%d,%d) to %dx%d: sizes must be positive",
                          r.w, r.h, r.x, r.y, out_w, out_h);
    if ((size_t)r.w * (size_t)r.h > FER_IMAGE_MAX_PIXELS ||
        (size_t)out_w * (size_t)out_h > FER_IMAGE_MAX_PIXELS)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "crop_resize: crop %dx%d to %dx%d exceeds the limit of %zu pixels", r.w,
                          r.h, out_w, out_h, FER_IMAGE_MAX_PIXELS);
    fer_image dst;
    enum fer_status st = fer_image_new(out_w, out_h, src->channels, &dst, err);
    if (st != FER_OK)
        return st;
    int *xmap = fer_malloc((size_t)r.w * sizeof(int));
    int *ymap = fer_malloc((size_t)r.h * sizeof(int));
    if (!xmap || !ymap) {
        st = fer_errorf(err, FER_ERR_NOMEM, "crop_resize: out of memory");
        goto cleanup;
    }
    clamp_map(xmap, r.x, r.w, src->width);
    clamp_map(ymap, r.y, r.h, src->height);
    st = resize_into(src, xmap, ymap, r.w, r.h, &dst, err);
cleanup:
    fer_free(xmap);
    fer_free(ymap);
    if (st != FER_OK)
        fer_image_free(&dst);
    else
        *out = dst;
    return st;
}
