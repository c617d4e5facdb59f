/*
 * augment.c - seeded augmentation of one face and its normalisation to the
 * network's float input.
 *
 * All geometric changes (shift, rotation about the centre, scale, flip) are
 * folded into one inverse affine map from output to source coordinates, and
 * each output pixel is sampled bilinearly (or, with `nearest`, from the
 * nearest source pixel after whole-pixel shifts) with the border replicated. Then
 * contrast and brightness (x * c + b on [0, 1] values, clamped), the
 * normalisation (x - mean) / std, and optionally random erasing (Zhong et
 * al., "Random Erasing Data Augmentation", AAAI 2020), which fills one
 * rectangle with 0, the normalised mean.
 */
#include "data/augment.h"

#include <math.h>
#include <stddef.h>

struct fer_augment fer_augment_defaults(void)
{
    struct fer_augment a = {
        .shift = 4.0f,
        .rotate = 10.0f,
        .scale = 0.1f,
        .flip = 0.5f,
        .brightness = 0.1f,
        .contrast = 0.2f,
        .erase = 0.0f,
    };
    return a;
}

struct fer_augment fer_augment_none(void)
{
    struct fer_augment a = {0};
    return a;
}

/* One image's random draws. */
struct draw {
    float tx, ty; /* shift in output pixels */
    float angle;  /* radians */
    float scale;  /* > 0 */
    int flip;
    float bright;   /* added, [0, 1] units */
    float contrast; /* multiplied */
    int erase;
    float e_area, e_aspect, e_x, e_y; /* erase rectangle, all in [0, 1) before mapping */
};

/*
 * Draws the random numbers, always the same 12 in the same order whatever the
 * settings, so that changing one setting does not reshuffle the others.
 */
static struct draw draw_params(const struct fer_augment *a, fer_rng *rng, int force_flip)
{
    struct draw d = {0.0f, 0.0f, 0.0f, 1.0f, force_flip != 0, 0.0f, 1.0f, 0, 0, 0, 0, 0};
    if (!a || !rng)
        return d;
    float shift = fabsf(a->shift), rot = fabsf(a->rotate) * (float)(3.14159265358979323846 / 180.0);
    float scale = fabsf(a->scale), bright = fabsf(a->brightness), con = fabsf(a->contrast);
    d.tx = fer_rng_range(rng, -shift, shift);
    d.ty = fer_rng_range(rng, -shift, shift);
    if (a->nearest) {
        d.tx = roundf(d.tx);
        d.ty = roundf(d.ty);
    }
    d.angle = fer_rng_range(rng, -rot, rot);
    d.scale = 1.0f + fer_rng_range(rng, -scale, scale);
    if (d.scale < 0.05f)
        d.scale = 0.05f;
    d.flip = fer_rng_uniform(rng) < a->flip || force_flip;
    d.bright = fer_rng_range(rng, -bright, bright);
    d.contrast = 1.0f + fer_rng_range(rng, -con, con);
    if (d.contrast < 0.0f)
        d.contrast = 0.0f;
    d.erase = fer_rng_uniform(rng) < a->erase;
    d.e_area = fer_rng_uniform(rng);
    d.e_aspect = fer_rng_uniform(rng);
    d.e_x = fer_rng_uniform(rng);
    d.e_y = fer_rng_uniform(rng);
    return d;
}

/* [0, 1] grey value -> normalised network input. */
static inline float finish(float v, const struct draw *d, float mean, float std)
{
    float x = v * d->contrast + d->bright;
    x = x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
    return (x - mean) / std;
}

/* Bilinear sample at (sx, sy) with the border replicated; result in 0..255. */
static inline float sample(const uint8_t *src, int side, float sx, float sy)
{
    float hi = (float)(side - 1);
    sx = sx < 0.0f ? 0.0f : (sx > hi ? hi : sx);
    sy = sy < 0.0f ? 0.0f : (sy > hi ? hi : sy);
    int x0 = (int)sx, y0 = (int)sy;
    int x1 = x0 + 1 < side ? x0 + 1 : x0, y1 = y0 + 1 < side ? y0 + 1 : y0;
    float wx = sx - (float)x0, wy = sy - (float)y0;
    const uint8_t *r0 = src + (size_t)y0 * (size_t)side, *r1 = src + (size_t)y1 * (size_t)side;
    float top = (float)r0[x0] + ((float)r0[x1] - (float)r0[x0]) * wx;
    float bot = (float)r1[x0] + ((float)r1[x1] - (float)r1[x0]) * wx;
    return top + (bot - top) * wy;
}

/* The source pixel nearest (sx, sy), border replicated; 0..255. */
static inline float sample_nearest(const uint8_t *src, int side, float sx, float sy)
{
    int x = (int)lroundf(sx), y = (int)lroundf(sy);
    x = x < 0 ? 0 : (x >= side ? side - 1 : x);
    y = y < 0 ? 0 : (y >= side ? side - 1 : y);
    return (float)src[(size_t)y * (size_t)side + (size_t)x];
}

/* Fills a random rectangle of 2%..25% of the area, aspect 0.3..3.3, with 0. */
static void erase_rect(float *dst, int side, const struct draw *d)
{
    float area = (0.02f + 0.23f * d->e_area) * (float)side * (float)side;
    float aspect = expf(logf(0.3f) + (logf(3.3f) - logf(0.3f)) * d->e_aspect);
    int w = (int)lroundf(sqrtf(area * aspect)), h = (int)lroundf(sqrtf(area / aspect));
    w = w < 1 ? 1 : (w > side ? side : w);
    h = h < 1 ? 1 : (h > side ? side : h);
    int x0 = (int)(d->e_x * (float)(side - w + 1)), y0 = (int)(d->e_y * (float)(side - h + 1));
    for (int y = y0; y < y0 + h && y < side; y++)
        for (int x = x0; x < x0 + w && x < side; x++)
            dst[(size_t)y * (size_t)side + x] = 0.0f;
}

/*
 * rng may be NULL: then nothing random happens (only force_flip applies).
 * A std <= 0 is treated as 1 so that the output stays finite.
 */
void fer_augment_image(const uint8_t *src, int src_side, float *dst, int out_side,
                       const struct fer_augment *a, fer_rng *rng, float mean, float std,
                       int force_flip)
{
    struct draw d = draw_params(a, rng, force_flip);
    float sd = std > 0.0f ? std : 1.0f;
    int geometric = d.tx != 0.0f || d.ty != 0.0f || d.angle != 0.0f || d.scale != 1.0f;
    int nearest = a && a->nearest;

    if (!geometric && out_side <= src_side && (src_side - out_side) % 2 == 0) {
        /* Integer crop (and mirror): exact, no interpolation. */
        int off = (src_side - out_side) / 2;
        for (int y = 0; y < out_side; y++) {
            const uint8_t *row = src + (size_t)(y + off) * (size_t)src_side + off;
            float *out = dst + (size_t)y * (size_t)out_side;
            for (int x = 0; x < out_side; x++) {
                uint8_t px = d.flip ? row[out_side - 1 - x] : row[x];
                out[x] = finish((float)px / 255.0f, &d, mean, sd);
            }
        }
    } else {
        /*
         * Forward map: out - c_o = t + s R F (in - c_s). Inverted:
         * in = c_s + F R^-1 (out - c_o - t) / s.
         */
        float c_s = (float)(src_side - 1) * 0.5f, c_o = (float)(out_side - 1) * 0.5f;
        float cs = cosf(d.angle) / d.scale, sn = sinf(d.angle) / d.scale;
        float fl = d.flip ? -1.0f : 1.0f;
        for (int y = 0; y < out_side; y++) {
            float uy = (float)y - c_o - d.ty;
            float *out = dst + (size_t)y * (size_t)out_side;
            for (int x = 0; x < out_side; x++) {
                float ux = (float)x - c_o - d.tx;
                float sx = c_s + fl * (cs * ux + sn * uy);
                float sy = c_s + (-sn * ux + cs * uy);
                float v =
                    nearest ? sample_nearest(src, src_side, sx, sy) : sample(src, src_side, sx, sy);
                out[x] = finish(v / 255.0f, &d, mean, sd);
            }
        }
    }
    if (d.erase)
        erase_rect(dst, out_side, &d);
}
