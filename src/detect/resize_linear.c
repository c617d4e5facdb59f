/*
 * resize_linear.c - one level of the image pyramid of OpenCV 4's cascade scan,
 * bit for bit: the shrunken image and its integral images.
 *
 * The cascade scan (Viola & Jones 2001, as OpenCV 4 runs it) looks at
 * shrunken copies of the image, and detectMultiScale makes them with
 * resize(..., INTER_LINEAR_EXACT): OpenCV's bit-exact bilinear filter
 * (resize_bitExact with ufixedpoint16 weights, 8 fractional bits). Source
 * coordinates are (d + 0.5) * scale - 0.5 in double; each weight pair is
 * round((f - floor f) * 256) and 256 minus it; rows are filtered horizontally
 * into 8.8 fixed point, then vertically into 16.16 and rounded. Pixels left
 * or right of (above or below) the source take the edge value. Like
 * cv::resize, a size that does not change is a copy and an exact halving is
 * the 2x2 average with rounding up.
 *
 * The integral images (Viola & Jones 2001) hold sums mod 2^32 like OpenCV's
 * CV_32S ones, squared sums for the variance and the 45-degree tilted sums
 * of Lienhart & Maydt 2002.
 */
#include <math.h>
#include <string.h>

#include "detect/cascade_internal.h"

size_t fer_resize_scratch_ints(int dw, int dh)
{
    /* offsets and weight pairs per column and per row, two filtered rows */
    return (size_t)dw * 5 + (size_t)dh * 3;
}

/*
 * interpolationLinear::getCoeffs for every output position d < dn: ofs[d],
 * w[2d], w[2d + 1]; *lo and *hi delimit the positions that interpolate
 * (before lo the first source pixel is taken, from hi on the last).
 */
static void coefs(int dn, int sn, int32_t *ofs, int32_t *w, int *lo, int *hi)
{
    double scale = 1.0 / ((double)dn / sn);
    *lo = 0;
    *hi = dn;
    for (int d = 0; d < dn; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        double fl = floor(f);
        int iv = (int)fl;
        ofs[d] = sn - 1;
        w[2 * d] = 256;
        w[2 * d + 1] = 0;
        if (iv >= 0 && sn > 1) {
            if (iv < sn - 1) {
                int32_t c1 = (int32_t)rint((f - fl) * 256.0); /* cvRound(softdouble) */
                ofs[d] = iv;
                w[2 * d + 1] = c1;
                w[2 * d] = c1 < 256 ? 256 - c1 : 0;
            } else if (d < *hi) {
                *hi = d;
            }
        } else if (d + 1 > *lo) {
            *lo = d + 1;
        }
    }
}

/* One source row filtered horizontally, in 8.8 fixed point. */
static void h_row(const uint8_t *s, int dw, int lo, int hi, const int32_t *xofs, const int32_t *xw,
                  int32_t *out)
{
    int x = 0;
    for (; x < lo && x < dw; x++)
        out[x] = s[0] << 8;
    for (; x < hi; x++) {
        const uint8_t *p = s + xofs[x];
        out[x] = xw[2 * x] * p[0] + xw[2 * x + 1] * p[1];
    }
    for (int last = s[xofs[dw - 1]] << 8; x < dw; x++)
        out[x] = last;
}

/* A filtered row taken as it is (rows above or below the source): round 8.8 to int. */
static void v_set(const int32_t *h, uint8_t *d, int dw)
{
    for (int x = 0; x < dw; x++)
        d[x] = (uint8_t)((h[x] + 128) >> 8);
}

static void area_half(const uint8_t *src, size_t sstride, uint8_t *dst, int dw, int dh,
                      size_t dstride)
{
    for (int y = 0; y < dh; y++) {
        const uint8_t *a = src + (size_t)(2 * y) * sstride, *b = a + sstride;
        uint8_t *d = dst + (size_t)y * dstride;
        for (int x = 0; x < dw; x++)
            d[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
    }
}

void fer_resize_linear_u8(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst, int dw,
                          int dh, size_t dstride, int32_t *scratch)
{
    if (dw == sw && dh == sh) {
        for (int y = 0; y < dh; y++)
            memcpy(dst + (size_t)y * dstride, src + (size_t)y * sstride, (size_t)dw);
        return;
    }
    if (dw * 2 == sw && dh * 2 == sh) {
        area_half(src, sstride, dst, dw, dh, dstride);
        return;
    }
    int32_t *xofs = scratch, *xw = xofs + dw, *yofs = xw + 2 * (size_t)dw;
    int32_t *yw = yofs + dh, *rows[2] = {yw + 2 * (size_t)dh, yw + 2 * (size_t)dh + dw};
    int xlo, xhi, ylo, yhi;
    coefs(dw, sw, xofs, xw, &xlo, &xhi);
    coefs(dh, sh, yofs, yw, &ylo, &yhi);
    int have[2] = {-1, -1}; /* source rows filtered into rows[0], rows[1] */
    for (int dy = 0; dy < dh; dy++) {
        uint8_t *d = dst + (size_t)dy * dstride;
        if (dy < ylo || dy >= yhi) {
            int sy = dy < ylo ? 0 : sh - 1;
            if (have[0] != sy) {
                h_row(src + (size_t)sy * sstride, dw, xlo, xhi, xofs, xw, rows[0]);
                have[0] = sy;
            }
            v_set(rows[0], d, dw);
            continue;
        }
        int r0 = yofs[dy], r1 = r0 + 1;
        if (have[0] != r0) {
            if (have[1] == r0) { /* slide down by one row */
                int32_t *t = rows[0];
                rows[0] = rows[1];
                rows[1] = t;
                have[1] = have[0];
            } else {
                h_row(src + (size_t)r0 * sstride, dw, xlo, xhi, xofs, xw, rows[0]);
            }
            have[0] = r0;
        }
        if (have[1] != r1) {
            h_row(src + (size_t)r1 * sstride, dw, xlo, xhi, xofs, xw, rows[1]);
            have[1] = r1;
        }
        const int32_t b0 = yw[2 * dy], b1 = yw[2 * dy + 1], *s0 = rows[0], *s1 = rows[1];
        for (int x = 0; x < dw; x++) {
            uint32_t v =
                ((uint32_t)s0[x] * (uint32_t)b0 + (uint32_t)s1[x] * (uint32_t)b1 + 32768u) >> 16;
            d[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* ---- integral images --------------------------------------------------------- */

int32_t fer_layout_ofs(const struct fer_layout *l, int ch, int x, int y)
{
    return (int32_t)ch * l->chstride + (int32_t)y * l->rs + (x % l->step) * l->pw + x / l->step;
}

/* The tilted sum is ported from OpenCV's integral_(), so every value is OpenCV's. */
void fer_integrals(const uint8_t *img, int w, int h, const struct fer_layout *l, uint32_t *out,
                   int want_sq, int tilted, int32_t *pos, uint32_t *buf)
{
    uint32_t *S = out, *Q = want_sq ? out + l->chstride : out;
    uint32_t *T = tilted ? out + (size_t)l->tilted_ch * l->chstride : out;
    for (int x = 0; x <= w; x++) {
        pos[x] = fer_layout_ofs(l, 0, x, 0);
        S[pos[x]] = 0;
        if (want_sq)
            Q[pos[x]] = 0;
        if (tilted)
            T[pos[x]] = 0;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *src = img + (size_t)y * (size_t)w;
        size_t row = (size_t)(y + 1) * (size_t)l->rs;
        uint32_t *s1 = S + row, *s0 = s1 - l->rs, *q1 = Q + row, *q0 = q1 - l->rs;
        uint32_t s = 0, sq = 0;
        s1[pos[0]] = 0;
        if (want_sq) {
            q1[pos[0]] = 0;
            for (int x = 0; x < w; x++) {
                uint32_t v = src[x];
                s += v;
                sq += v * v;
                s1[pos[x + 1]] = s0[pos[x + 1]] + s;
                q1[pos[x + 1]] = q0[pos[x + 1]] + sq;
            }
        } else {
            for (int x = 0; x < w; x++) {
                s += src[x];
                s1[pos[x + 1]] = s0[pos[x + 1]] + s;
            }
        }
        if (!tilted)
            continue;
        uint32_t *t1 = T + row, *t0 = t1 - l->rs;
#define TN(x) t1[pos[(x)]] /* tilted(y + 1, x) */
#define TP(x) t0[pos[(x)]] /* tilted(y, x) */
        if (y == 0) {
            TN(0) = 0;
            for (int x = 0; x < w; x++)
                buf[x] = TN(x + 1) = src[x];
            if (w == 1)
                buf[1] = 0;
            continue;
        }
        uint32_t a = src[0], b;
        TN(0) = TP(1);
        TN(1) = TP(1) + a + buf[1];
        int x = 1;
        for (; x < w - 1; x++) {
            b = buf[x];
            buf[x - 1] = b + a;
            a = src[x];
            b += buf[x + 1] + a + TP(x);
            TN(x + 1) = b;
        }
        if (w > 1) {
            b = buf[x];
            buf[x - 1] = b + a;
            a = src[x];
            TN(x + 1) = a + b + TP(x);
            buf[x] = a;
        }
#undef TN
#undef TP
    }
}
