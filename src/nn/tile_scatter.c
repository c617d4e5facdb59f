/* tile_scatter.c - a Winograd tile's outputs to their places (see tile_scatter.h). */
#include "nn/tile_scatter.h"

#include <stddef.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "nn/simd.h"

void fer_tile_scatter_rows(int h, int w, const float *y, int stride, int row_step, float *out,
                           int nf, int ty0, int ty1)
{
    const int ow = w, oy1 = 2 * ty1 < h ? 2 * ty1 : h;
    for (int j = 0; j < nf; j++)
        for (int oy = 2 * ty0; oy < oy1; oy++) {
            const float *ev = y +
                              16 * ((size_t)(2 * (oy & 1) * stride) +
                                    (size_t)((oy >> 1) - ty0) * (size_t)row_step) +
                              (size_t)j;
            const float *od = ev + 16 * (size_t)stride;
            float *row = out + ((size_t)j * (size_t)h + (size_t)oy) * (size_t)ow;
            for (int x = 0; x < ow / 2; x++) {
                row[2 * x] = ev[16 * x];
                row[2 * x + 1] = od[16 * x];
            }
            if (ow & 1)
                row[ow - 1] = ev[16 * (ow / 2)];
        }
}

#ifdef __x86_64__
/* r (16 rows of 16) turned into its transpose in place: unpacks of pairs, of quads, then two
 * rounds of 128-bit lane shuffles. */
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* The even- and odd-column planes' 16 tiles x 16 filters become 16 filters x 16 tiles, then
 * each filter's even and odd columns are interleaved into 32 outputs of its row. */
__attribute__((target("avx512f"))) static void
row_wide_avx512(int h, int w, const float *y, int stride, float *out, int nf, int ty)
{
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi =
        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const int ow = w, oy1 = 2 * ty + 2 < h ? 2 * ty + 2 : h;
    for (int oy = 2 * ty; oy < oy1; oy++) {
        const float *ev = y + 16 * (size_t)(2 * (oy & 1) * stride);
        const float *od = ev + 16 * (size_t)stride;
        float *row = out + (size_t)oy * (size_t)ow;
        const size_t plane = (size_t)h * (size_t)ow;
        for (int x0 = 0; 2 * x0 < ow; x0 += 16) {
            __m512 e[16], o[16];
            for (int i = 0; i < 16; i++) {
                e[i] = _mm512_loadu_ps(ev + 16 * (size_t)(x0 + i));
                o[i] = _mm512_loadu_ps(od + 16 * (size_t)(x0 + i));
            }
            transpose16(e);
            transpose16(o);
            const int left = ow - 2 * x0;
            const __mmask16 m0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            const __mmask16 m1 = left >= 32  ? 0xffff
                                 : left > 16 ? (__mmask16)((1u << (left - 16)) - 1)
                                             : 0;
            for (int j = 0; j < nf; j++) {
                float *dst = row + (size_t)j * plane + 2 * (size_t)x0;
                _mm512_mask_storeu_ps(dst, m0, _mm512_permutex2var_ps(e[j], lo, o[j]));
                _mm512_mask_storeu_ps(dst + 16, m1, _mm512_permutex2var_ps(e[j], hi, o[j]));
            }
        }
    }
}
#endif

int fer_tile_scatter_wide_fits(int tiles)
{
#ifdef __x86_64__
    return fer_simd_avx512() && tiles >= 16;
#else
    (void)tiles;
    return 0;
#endif
}

void fer_tile_scatter_row_wide(int h, int w, const float *y, int stride, float *out, int nf, int ty)
{
#ifdef __x86_64__
    if (fer_simd_avx512()) {
        row_wide_avx512(h, w, y, stride, out, nf, ty);
        return;
    }
#endif
    fer_tile_scatter_rows(h, w, y, stride, 0, out, nf, ty, ty + 1);
}
