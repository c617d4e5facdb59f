/* winograd.c - 3x3 convolutions by F(2x2, 3x3) at inference (see winograd.h). */
#include "nn/winograd.h"

#include <string.h>

#include "core/alloc.h"
#include "nn/small_gemm.h"

/*
 * Where the 16 small GEMMs (F x C times C x tiles) beat one (F x 9C times 9C x
 * positions) on this hardware (bench_nn, both on small_gemm.h): not below 8x8
 * outputs (a 5x5 map is 9 tiles covering 6x6: 44% of the work wasted; within
 * noise either way), nor with few input channels (the first layer's one: 0.96x)
 * or filters.
 */
#define MIN_SIDE     8
#define MIN_CHANNELS 8
#define MIN_FILTERS  16

struct tiles {
    int th, tw, n; /* tile rows, columns, count */
    size_t ld;     /* row stride of V and M (fer_small_gemm_ldb: whole panels, and off 4 KiB
                      multiples, which put the 16 rows of a tile in the same cache sets) */
    int ph, pw;    /* the zero-padded input plane: (2*th + 2) x (2*tw + 2) */
    size_t plane;  /* ph * pw */
};

static struct tiles tiles_of(const struct fer_layer *l)
{
    struct tiles t;
    t.th = (l->out_h + 1) / 2;
    t.tw = (l->out_w + 1) / 2;
    t.n = t.th * t.tw;
    t.ld = fer_small_gemm_ldb(t.n);
    t.ph = 2 * t.th + 2;
    t.pw = 2 * t.tw + 2;
    t.plane = (size_t)t.ph * (size_t)t.pw;
    return t;
}

/* rows of M: F rounded up to whole panels of the GEMM's rows, which it fills */
static int m_rows(const struct fer_layer *l)
{
    return (l->out_c + FER_GEMM_MR - 1) / FER_GEMM_MR * FER_GEMM_MR;
}

int fer_winograd_fits(const struct fer_layer *l)
{
    return l->type == FER_LAYER_CONV && l->size == 3 && l->stride == 1 && l->pad == 1 &&
           l->out_h == l->in_h && l->out_w == l->in_w && l->out_h >= MIN_SIDE &&
           l->out_w >= MIN_SIDE && l->in_c >= MIN_CHANNELS && l->out_c >= MIN_FILTERS;
}

size_t fer_winograd_scratch(const struct fer_layer *l)
{
    if (!fer_winograd_fits(l))
        return 0;
    struct tiles t = tiles_of(l);
    /* V (16, C, ld) and M (16, F rounded up, ld), and one padded input plane */
    return 16 * t.ld * (size_t)(l->in_c + m_rows(l)) + t.plane;
}

/* u (4x4) = G g Gᵀ for one 3x3 filter g; G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]. */
static void filter_transform(const float *g, float u[16])
{
    float a[4][3];
    for (int j = 0; j < 3; j++) {
        a[0][j] = g[j];
        a[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        a[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        a[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = a[i][0];
        u[4 * i + 1] = 0.5f * (a[i][0] + a[i][1] + a[i][2]);
        u[4 * i + 2] = 0.5f * (a[i][0] - a[i][1] + a[i][2]);
        u[4 * i + 3] = a[i][2];
    }
}

int fer_winograd_prepare(struct fer_layer *l, uint64_t gen)
{
    if (l->infer_w && l->infer_gen == gen)
        return 1;
    const int c_n = l->in_c, f_n = l->out_c;
    const size_t per_xi = fer_small_gemm_packed_size(f_n, c_n);
    float *u = fer_malloc(sizeof(float) * 16 * (size_t)f_n * (size_t)c_n);
    if (!u || (!l->infer_w && !(l->infer_w = fer_alloc_aligned(16 * per_xi, sizeof(float))))) {
        fer_free(u);
        return 0;
    }
    /* u (16, F, C): one F x C matrix per position ξ of the 4x4 tile; wino: each packed */
    const size_t fc = (size_t)f_n * (size_t)c_n;
    for (size_t k = 0; k < fc; k++) {
        float tile[16];
        filter_transform(l->w + 9 * k, tile);
        for (int xi = 0; xi < 16; xi++)
            u[(size_t)xi * fc + k] = tile[xi];
    }
    for (int xi = 0; xi < 16; xi++)
        fer_small_gemm_pack(u + (size_t)xi * fc, f_n, c_n, (size_t)c_n,
                            l->infer_w + (size_t)xi * per_xi);
    fer_free(u);
    l->infer_gen = gen;
    return 1;
}

/* V (16, C, T) = Bᵀ d B for every 4x4 tile d of every channel; B = the F(2x2, 3x3) data matrix. */
static void input_transform(const struct fer_layer *l, struct tiles t, const float *in, float *v,
                            float *padded)
{
    /* v (16, C, ld): tile t of channel c at (ξ * C + c) * ld + t */
    const size_t tp = t.ld, ct = (size_t)l->in_c * tp;
    memset(padded, 0, sizeof(float) * t.plane);
    for (int c = 0; c < l->in_c; c++) {
        const float *src = in + (size_t)c * (size_t)l->in_h * (size_t)l->in_w;
        /* the image at (1, 1) of a zero plane: every tile reads without bounds checks */
        for (int y = 0; y < l->in_h; y++)
            memcpy(padded + (size_t)(y + 1) * (size_t)t.pw + 1, src + (size_t)y * (size_t)l->in_w,
                   sizeof(float) * (size_t)l->in_w);
        float *vc = v + (size_t)c * tp;
        for (int ty = 0; ty < t.th; ty++) {
            const float *r0 = padded + (size_t)(2 * ty) * (size_t)t.pw;
            const float *r1 = r0 + t.pw, *r2 = r1 + t.pw, *r3 = r2 + t.pw;
            for (int tx = 0; tx < t.tw; tx++) {
                const int x = 2 * tx;
                float a[4][4];
                for (int j = 0; j < 4; j++) {
                    a[0][j] = r0[x + j] - r2[x + j];
                    a[1][j] = r1[x + j] + r2[x + j];
                    a[2][j] = r2[x + j] - r1[x + j];
                    a[3][j] = r1[x + j] - r3[x + j];
                }
                float *dst = vc + (size_t)(ty * t.tw + tx);
                for (int i = 0; i < 4; i++) {
                    dst[(size_t)(4 * i + 0) * ct] = a[i][0] - a[i][2];
                    dst[(size_t)(4 * i + 1) * ct] = a[i][1] + a[i][2];
                    dst[(size_t)(4 * i + 2) * ct] = a[i][2] - a[i][1];
                    dst[(size_t)(4 * i + 3) * ct] = a[i][1] - a[i][3];
                }
            }
        }
        /* the next channel overwrites the image area; the zero border stays */
    }
    /* the padding tiles of the last panel: zeros, not stale scratch */
    for (size_t row = 0; row < 16 * (size_t)l->in_c; row++)
        memset(v + row * tp + t.n, 0, sizeof(float) * (tp - (size_t)t.n));
}

/* out (F, OH, OW) = Aᵀ m A of every tile, Aᵀ = [1 1 1 0; 0 1 -1 -1]; odd sides drop the overhang.
 */
static void output_transform(const struct fer_layer *l, struct tiles t, const float *m, float *out)
{
    const size_t tp = t.ld, ft = (size_t)m_rows(l) * tp;
    const int oh = l->out_h, ow = l->out_w;
    for (int f = 0; f < l->out_c; f++) {
        const float *mf = m + (size_t)f * tp;
        float *of = out + (size_t)f * (size_t)oh * (size_t)ow;
        for (int ty = 0; ty < t.th; ty++) {
            for (int tx = 0; tx < t.tw; tx++) {
                const float *src = mf + (size_t)(ty * t.tw + tx);
                float s[2][4];
                for (int j = 0; j < 4; j++) {
                    float m0 = src[(size_t)j * ft], m1 = src[(size_t)(4 + j) * ft];
                    float m2 = src[(size_t)(8 + j) * ft], m3 = src[(size_t)(12 + j) * ft];
                    s[0][j] = m0 + m1 + m2;
                    s[1][j] = m1 - m2 - m3;
                }
                const int y = 2 * ty, x = 2 * tx;
                for (int i = 0; i < 2 && y + i < oh; i++) {
                    float *row = of + (size_t)(y + i) * (size_t)ow;
                    row[x] = s[i][0] + s[i][1] + s[i][2];
                    if (x + 1 < ow)
                        row[x + 1] = s[i][1] - s[i][2] - s[i][3];
                }
            }
        }
    }
}

void fer_winograd_forward(const struct fer_layer *l, const float *in, float *dst, float *scratch)
{
    struct tiles t = tiles_of(l);
    const int c = l->in_c, f = l->out_c;
    const size_t ld = t.ld, per_xi = fer_small_gemm_packed_size(f, c);
    float *v = scratch;
    float *m = v + 16 * (size_t)c * ld;
    float *padded = m + 16 * (size_t)m_rows(l) * ld;
    input_transform(l, t, in, v, padded);
    /* m (16, F rounded up, ld): M[ξ] = U[ξ] · V[ξ] */
    const size_t per_m = (size_t)m_rows(l) * ld;
    for (int xi = 0; xi < 16; xi++)
        fer_small_gemm_padded(f, t.n, c, l->infer_w + (size_t)xi * per_xi,
                              v + (size_t)xi * (size_t)c * ld, ld, m + (size_t)xi * per_m, ld);
    output_transform(l, t, m, dst);
}
