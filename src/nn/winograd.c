/* winograd.c - 3x3 convolutions by F(2x2, 3x3) at inference (see winograd.h). */
#include "nn/winograd.h"

#include <string.h>

#include "core/alloc.h"

/*
 * Where the 16 GEMMs (F x C times C x tiles) beat one im2col GEMM (F x 9C times
 * 9C x positions) on this hardware: not below 8x8 outputs (too few tiles), nor
 * with few input channels (the first layer's one) or under 64 filters, which
 * leave OpenBLAS's kernels underused (bench_nn on models/seed.cfg's 32-filter
 * layers at 48x48: 0.9x).
 */
#define MIN_SIDE     8
#define MIN_CHANNELS 8
#define MIN_FILTERS  64

/* The 16 products run on a small GEMM of fer's own: MR filters by NR tiles at a time, from
 * filters packed once (MR rows interleaved) and the transformed tiles where the input
 * transform wrote them (rows padded to whole NR), so nothing is copied per call. */
#define MR 6
#define NR 16

struct tiles {
    int th, tw, n; /* tile rows, columns, count */
    int np;        /* panels of NR tiles; n padded to np * NR */
    size_t ld;     /* row stride of V and M: np * NR and a skew, so that the 16 rows of a
                      tile do not all fall in the same cache sets (a 4 KiB multiple did) */
    int ph, pw;    /* the zero-padded input plane: (2*th + 2) x (2*tw + 2) */
    size_t plane;  /* ph * pw */
};

static struct tiles tiles_of(const struct fer_layer *l)
{
    struct tiles t;
    t.th = (l->out_h + 1) / 2;
    t.tw = (l->out_w + 1) / 2;
    t.n = t.th * t.tw;
    t.np = (t.n + NR - 1) / NR;
    t.ld = (size_t)t.np * NR + 8;
    t.ph = 2 * t.th + 2;
    t.pw = 2 * t.tw + 2;
    t.plane = (size_t)t.ph * (size_t)t.pw;
    return t;
}

/* F rounded up to whole panels of MR filters */
static int mr_rows(const struct fer_layer *l)
{
    return (l->out_c + MR - 1) / MR * MR;
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
    return 16 * t.ld * (size_t)(l->in_c + mr_rows(l)) + t.plane;
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
    if (l->wino && l->wino_gen == gen)
        return 1;
    const int c_n = l->in_c, fp = mr_rows(l);
    const size_t per_xi = (size_t)fp * (size_t)c_n;
    if (!l->wino && !(l->wino = fer_alloc_aligned(16 * per_xi, sizeof(float))))
        return 0;
    /* wino (16, F/MR, C, MR): per position ξ of the 4x4 tile, the F x C matrix in panels of MR
     * filters, each filter's value for channel c next to its panel's others; rows past F are 0 */
    memset(l->wino, 0, sizeof(float) * 16 * per_xi);
    for (int f = 0; f < l->out_c; f++)
        for (int c = 0; c < c_n; c++) {
            float u[16];
            filter_transform(l->w + 9 * ((size_t)f * (size_t)c_n + (size_t)c), u);
            size_t at = ((size_t)(f / MR) * (size_t)c_n + (size_t)c) * MR + (size_t)(f % MR);
            for (int xi = 0; xi < 16; xi++)
                l->wino[(size_t)xi * per_xi + at] = u[xi];
        }
    l->wino_gen = gen;
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

/* c (MR x NR, row stride ldc) = a (k x MR, packed) · b (k x NR, row stride ldb): portable C */
static void kernel_c(int k, const float *restrict a, const float *restrict b, size_t ldb,
                     float *restrict c, size_t ldc)
{
    float acc[MR][NR] = {{0}};
    for (int i = 0; i < k; i++) {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++)
                acc[r][j] += a[r] * b[j];
        a += MR;
        b += ldb;
    }
    for (int r = 0; r < MR; r++)
        memcpy(c + (size_t)r * ldc, acc[r], sizeof(acc[r]));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_KERNEL_AVX2 1

/* The same with AVX2 and FMA, chosen at run time: 12 accumulators of 8 (6 filters x 16 tiles),
 * the BLIS Haswell shape. */
__attribute__((target("avx2,fma"))) static void kernel_avx2(int k, const float *restrict a,
                                                            const float *restrict b, size_t ldb,
                                                            float *restrict c, size_t ldc)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int i = 0; i < k; i++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
        x = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
        a += MR;
        b += ldb;
    }
    _mm256_storeu_ps(c, c00);
    _mm256_storeu_ps(c + 8, c01);
    _mm256_storeu_ps(c + ldc, c10);
    _mm256_storeu_ps(c + ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20);
    _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30);
    _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40);
    _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50);
    _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}
#endif

typedef void (*kernel_fn)(int, const float *restrict, const float *restrict, size_t,
                          float *restrict, size_t);

static int portable_only; /* fer_winograd_portable */

void fer_winograd_portable(int on)
{
    portable_only = on != 0;
}

static kernel_fn pick_kernel(void)
{
#ifdef HAVE_KERNEL_AVX2
    if (!portable_only && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return kernel_avx2;
#endif
    return kernel_c;
}

/* out (F, OH, OW) = Aᵀ m A of every tile, Aᵀ = [1 1 1 0; 0 1 -1 -1]; odd sides drop the overhang.
 */
static void output_transform(const struct fer_layer *l, struct tiles t, const float *m, float *out)
{
    const size_t tp = t.ld, ft = (size_t)mr_rows(l) * tp;
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
    const int c = l->in_c, fp = mr_rows(l);
    const size_t tp = t.ld;
    float *v = scratch;
    float *m = v + 16 * (size_t)c * tp;
    float *padded = m + 16 * (size_t)fp * tp;
    input_transform(l, t, in, v, padded);
    /* m (16, F rounded up, ld): M[ξ] = U[ξ] · V[ξ], panel by panel */
    const kernel_fn kernel = pick_kernel();
    for (int xi = 0; xi < 16; xi++) {
        const float *u = l->wino + (size_t)xi * (size_t)fp * (size_t)c;
        const float *vx = v + (size_t)xi * (size_t)c * tp;
        float *mx = m + (size_t)xi * (size_t)fp * tp;
        for (int f0 = 0; f0 < fp; f0 += MR)
            for (int p = 0; p < t.np; p++)
                kernel(c, u + (size_t)f0 * (size_t)c, vx + (size_t)p * NR, tp,
                       mx + (size_t)f0 * tp + (size_t)p * NR, tp);
    }
    output_transform(l, t, m, dst);
}
