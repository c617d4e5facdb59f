/* stem.c - a 3x3 convolution of one plane, directly (see stem.h). */
#include "nn/stem.h"

#include <string.h>

#include "nn/simd.h"


int fer_stem_fits(const struct fer_layer *l)
{
    return l->type == FER_LAYER_CONV && l->in_c == 1 && l->size == 3 && l->stride == 1 &&
           l->pad == 1 && l->out_h == l->in_h && l->out_w == l->in_w;
}

size_t fer_stem_scratch(const struct fer_layer *l)
{
    return fer_stem_fits(l) ? (size_t)(l->in_h + 2) * (size_t)(l->in_w + 2) : 0;
}

/* One output of filter w from the 3x3 window a: each row's three products in order, then the
 * three rows added; three short chains, not one of nine. */
#define STEM_SUM(w, a)                                                                             \
    (((w)[0] * (a)[0] + (w)[1] * (a)[1] + (w)[2] * (a)[2]) +                                      \
     ((w)[3] * (a)[3] + (w)[4] * (a)[4] + (w)[5] * (a)[5]) +                                      \
     ((w)[6] * (a)[6] + (w)[7] * (a)[7] + (w)[8] * (a)[8]))

/* One filter's outputs, w its 9 weights, the loop over x in vectors: the portable kernel. */
static void stem_plane(const float *restrict plane, int pw, const float *restrict w,
                       float *restrict out, int h, int width)
{
    for (int y = 0; y < h; y++) {
        const float *r0 = plane + (size_t)y * (size_t)pw, *r1 = r0 + pw, *r2 = r1 + pw;
        float *o = out + (size_t)y * (size_t)width;
        NO_ALIASING_IN_LOOP
        for (int x = 0; x < width; x++) {
            const float a[9] = {r0[x], r0[x + 1], r0[x + 2], r1[x], r1[x + 1],
                                r1[x + 2], r2[x], r2[x + 1], r2[x + 2]};
            o[x] = STEM_SUM(w, a);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_STEM_AVX512 1

/* stem_plane for 1 or 2 filters in AVX-512, the rows' tails masked: the same sums (each row's
 * products as a multiply and two multiply-adds, then the rows added), each window read once
 * for both filters, and no loop set-up per row, which took most of the compiler's loop's time
 * on 44- and 48-wide planes: a 48x48 stem of 32 filters in 13.1 us against 18.4 (one core,
 * training paused). */
__attribute__((target("avx512f"))) static void stem_avx512(const float *plane, int pw,
                                                          const float *w, int filters, float *out,
                                                          size_t hw, int h, int width)
{
    __m512 k[18];
    for (int i = 0; i < 9 * filters; i++)
        k[i] = _mm512_set1_ps(w[i]);
    for (int y = 0; y < h; y++) {
        const float *r0 = plane + (size_t)y * (size_t)pw, *r1 = r0 + pw, *r2 = r1 + pw;
        float *o = out + (size_t)y * (size_t)width;
        for (int x = 0; x < width; x += 16) {
            const __mmask16 m =
                width - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (width - x)) - 1);
            const __m512 a[9] = {
                _mm512_maskz_loadu_ps(m, r0 + x), _mm512_maskz_loadu_ps(m, r0 + x + 1),
                _mm512_maskz_loadu_ps(m, r0 + x + 2), _mm512_maskz_loadu_ps(m, r1 + x),
                _mm512_maskz_loadu_ps(m, r1 + x + 1), _mm512_maskz_loadu_ps(m, r1 + x + 2),
                _mm512_maskz_loadu_ps(m, r2 + x), _mm512_maskz_loadu_ps(m, r2 + x + 1),
                _mm512_maskz_loadu_ps(m, r2 + x + 2)};
            for (int f = 0; f < filters; f++) {
                const __m512 *kf = k + 9 * f;
                __m512 s0 = _mm512_mul_ps(kf[0], a[0]), s1 = _mm512_mul_ps(kf[3], a[3]);
                __m512 s2 = _mm512_mul_ps(kf[6], a[6]);
                s0 = _mm512_fmadd_ps(kf[1], a[1], s0);
                s1 = _mm512_fmadd_ps(kf[4], a[4], s1);
                s2 = _mm512_fmadd_ps(kf[7], a[7], s2);
                s0 = _mm512_fmadd_ps(kf[2], a[2], s0);
                s1 = _mm512_fmadd_ps(kf[5], a[5], s1);
                s2 = _mm512_fmadd_ps(kf[8], a[8], s2);
                _mm512_mask_storeu_ps(o + (size_t)f * hw + x, m,
                                      _mm512_add_ps(_mm512_add_ps(s0, s1), s2));
            }
        }
    }
}
#endif

void fer_stem_forward(const struct fer_layer *l, const float *in, float *dst, int f0, int f1,
                      float *scratch)
{
    const int h = l->in_h, w = l->in_w, pw = w + 2;
    /* the plane in a zero border of one */
    memset(scratch, 0, sizeof(float) * (size_t)pw);
    for (int y = 0; y < h; y++) {
        float *row = scratch + (size_t)(y + 1) * (size_t)pw;
        row[0] = row[w + 1] = 0;
        memcpy(row + 1, in + (size_t)y * (size_t)w, sizeof(float) * (size_t)w);
    }
    memset(scratch + (size_t)(h + 1) * (size_t)pw, 0, sizeof(float) * (size_t)pw);
    const size_t hw = (size_t)h * (size_t)w;
    /* each filter's sums the same whichever run of filters it is in: pairs and a last one on
     * one kernel, or every filter alone on the portable loop */
#ifdef HAVE_STEM_AVX512
    if (fer_simd_avx512()) {
        for (int f = f0; f < f1; f += 2)
            stem_avx512(scratch, pw, l->w + (size_t)f * 9, f1 - f < 2 ? 1 : 2,
                        dst + (size_t)f * hw, hw, h, w);
        return;
    }
#endif
    for (int f = f0; f < f1; f++)
        stem_plane(scratch, pw, l->w + (size_t)f * 9, dst + (size_t)f * hw, h, w);
}
