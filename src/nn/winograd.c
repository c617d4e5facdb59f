/* winograd.c - 3x3 convolutions by F(2x2, 3x3), forward and backward (see winograd.h). */
#include "nn/winograd.h"

#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "nn/simd.h"
#include "nn/small_gemm.h"
#include "nn/tile_scatter.h"

/*
 * Where the 16 small GEMMs beat one (F x 9C times 9C x positions) on this
 * hardware (one face of the deep candidate, training paused, both on
 * small_gemm.h, the seventh session): on 5x5 maps too since the transforms run
 * in vectors (the last stage 1.05x faster in all), not with few input channels
 * (the first layer's one: 0.96x) or filters. Smaller maps were not measured.
 * Since the products put the channels along the vectors (fer_small_gemm_tn),
 * a 5x5 map's 11 tile rows no longer pad to 16 columns.
 */

#define MIN_SIDE      5
#define MIN_GRAD_SIDE 8
#define MIN_CHANNELS  8
#define MIN_FILTERS   16

/* One pass's shape: c input channels to f output channels on h x w maps (the same in and out).
 * A layer's forward pass is (in_c, out_c); its backward pass for the input, a convolution of
 * the output's gradient with the filters turned half round, is (out_c, in_c). */
struct shape {
    int c, f, h, w;
};

static struct shape forward_shape(const struct fer_layer *l)
{
    struct shape s = {l->in_c, l->out_c, l->out_h, l->out_w};
    return s;
}

static struct shape backward_shape(const struct fer_layer *l)
{
    struct shape s = {l->out_c, l->in_c, l->out_h, l->out_w};
    return s;
}

/*
 * Tiles are numbered u = ty * half + tx with half = tw + 1: each row of tiles has one more
 * column than it needs, so that the four values a tile reads from a row of the zero-padded
 * input, and the four it writes, lie at u, u + 1 and u + half, u + half + 1 of planes
 * split by row and column parity: one unit-stride loop over u covers a whole channel,
 * and the compiler runs it in vectors. The extra column (tx = tw) is computed and dropped;
 * a group of images copies its tiles into a compact V without it (compact_group_tiles), so that
 * its products, which dominate, do not compute it.
 */
struct tiles {
    int th, tw, half; /* tile rows, tile columns, and tw + 1 (tw in a group's compact V) */
    int n;            /* GEMM columns: th * half */
    int rows;         /* rows of M made for the last image: n - 1 (the extra column's last
                         tile is not needed), or n when compact */
    size_t ld;        /* row stride of V and M (fer_small_gemm_ldb: whole panels, and off 4 KiB
                         multiples, which put the 16 rows of a tile in the same cache sets) */
    size_t quarter;   /* floats of one parity plane: (th + 1) rows of half, and one float read
                         past the last row by the extra column */
};

static struct tiles tiles_of(struct shape s)
{
    struct tiles t;
    t.th = (s.h + 1) / 2;
    t.tw = (s.w + 1) / 2;
    t.half = t.tw + 1;
    t.n = t.th * t.half;
    t.rows = t.n - 1;
    t.ld = fer_small_gemm_ldb(t.n);
    t.quarter = (size_t)(t.th + 1) * (size_t)t.half + 1;
    return t;
}

/* `images` images side by side, each with its extra column: the widest layout of a group, which
 * the scratch is sized for (the products run compact_group_tiles). */
static struct tiles group_tiles_of(struct shape s, int images)
{
    struct tiles t = tiles_of(s);
    t.ld = fer_small_gemm_ldb(images * t.n);
    return t;
}

/* A group's V and M without the extra column (half = tw): the products skip its tiles, a
 * quarter of a 5x5 map's. */
static struct tiles compact_group_tiles(struct shape s, int images)
{
    struct tiles t = tiles_of(s);
    t.half = t.tw;
    t.n = t.th * t.tw;
    t.rows = t.n;
    t.ld = fer_small_gemm_ldb(images * t.n);
    return t;
}

/* Images one forward task takes together where the batch has them: enough tiles (about
 * GROUP_ROWS) that each panel of the filters, read once, serves several panels of rows. On a
 * 5x5 map (12 tiles) that is 4 images; from 11x11 (42) up, one. */
#define GROUP_ROWS 48
static int group_of(struct shape s)
{
    const int g = GROUP_ROWS / tiles_of(s).n;
    return g < 1 ? 1 : g;
}

int fer_winograd_group(const struct fer_layer *l)
{
    return group_of(forward_shape(l));
}

/* Row stride of the transformed filters U[ξ] (C x F) and of the products M[ξ] (tiles x F): F
 * in whole vectors of 16, plus one cache line, so that a column block of U's rows does not fall
 * into a few cache sets when F is a multiple of 256. */
static size_t ldf_of(struct shape s)
{
    return (size_t)(s.f + 15) / 16 * 16 + 16;
}

/* Tiles of one row's planes in y (untransform_filters' n for one tile row): whole vectors of 16,
 * which the AVX-512 scatter reads past the row's last tile. */
static int y_stride(struct tiles t)
{
    return (t.tw + 15) / 16 * 16;
}

/* Rows of one image's M: every tile but the last where that is an extra column's. */
static int m_rows(struct tiles t)
{
    return t.rows;
}

static int fits(const struct fer_layer *l, struct shape s)
{
    return l->type == FER_LAYER_CONV && l->size == 3 && l->stride == 1 && l->pad == 1 &&
           l->out_h == l->in_h && l->out_w == l->in_w && s.h >= MIN_SIDE && s.w >= MIN_SIDE &&
           s.c >= MIN_CHANNELS && s.f >= MIN_FILTERS;
}

int fer_winograd_fits(const struct fer_layer *l)
{
    return fits(l, forward_shape(l));
}

int fer_winograd_fits_backward(const struct fer_layer *l)
{
    return fits(l, backward_shape(l));
}

/*
 * The forward pass's scratch, for `images` images: V (16, C, ld), M (16, tiles, ldf), the parity
 * planes (4, C, quarter: every channel's, for one image), the output's four planes for 16
 * filters, and for a group one image's V as one_image_tiles lays it out (16, C, quarter). One
 * image's V has ld = quarter, never more than a group's.
 */
struct forward_scratch {
    float *v, *m, *planes, *y, *one;
};

static size_t forward_scratch_of(struct shape s, int images, float *base,
                                 struct forward_scratch *out)
{
    const struct tiles t = group_tiles_of(s, images);
    const size_t v = 16 * (t.ld > t.quarter ? t.ld : t.quarter) * (size_t)s.c;
    const size_t m = 16 * (size_t)(images * t.n) * ldf_of(s), planes = 4 * (size_t)s.c * t.quarter;
    const size_t y = 4 * 16 * (size_t)(t.n > y_stride(t) ? t.n : y_stride(t)),
                 one = images > 1 ? 16 * (size_t)s.c * t.quarter : 0;
    if (out) {
        out->v = base;
        out->m = base + v;
        out->planes = out->m + m;
        out->y = out->planes + planes;
        out->one = images > 1 ? out->y + y : NULL;
    }
    return v + m + planes + y + one;
}

static size_t scratch_of(struct shape s, int images)
{
    return forward_scratch_of(s, images, NULL, NULL);
}

size_t fer_winograd_scratch(const struct fer_layer *l)
{
    return fer_winograd_fits(l) ? scratch_of(forward_shape(l), fer_winograd_group(l)) : 0;
}

size_t fer_winograd_backward_scratch(const struct fer_layer *l)
{
    /* and the input gradient before it is added */
    return fer_winograd_fits_backward(l) ? scratch_of(backward_shape(l), 1) + l->in_size : 0;
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

/*
 * *dst (made if NULL) = the filters of shape s transformed: U[ξ] (C x F rounded up to 16, the
 * columns past F zero) for each ξ, packed for fer_small_gemm_tn; from w (F, C, 3, 3) as they
 * are, or for the backward pass from w turned half round and transposed: filter c, channel f =
 * w[f][c] rotated by 180 degrees. 0 when out of memory.
 */
static int make_filters(const float *w, struct shape s, int backward, float **dst)
{
    const size_t ldf = ldf_of(s), cols = ldf - 16, per_xi = (size_t)s.c * cols;
    const size_t per_u = (size_t)s.c * ldf;
    float *u = fer_alloc_aligned(16 * per_u, sizeof(float)); /* zero: the columns past F */
    if (!u || (!*dst && !(*dst = fer_alloc_aligned(16 * per_xi, sizeof(float))))) {
        fer_free(u);
        return 0;
    }
    /* u (16, C, ldf): one C x F matrix per position ξ of the 4x4 tile, each then packed */
    for (int f = 0; f < s.f; f++)
        for (int c = 0; c < s.c; c++) {
            float g[9], tile[16];
            if (backward) /* the layer's filter c, channel f */
                for (int i = 0; i < 9; i++)
                    g[i] = w[((size_t)c * (size_t)s.f + (size_t)f) * 9 + (size_t)(8 - i)];
            else
                memcpy(g, w + ((size_t)f * (size_t)s.c + (size_t)c) * 9, sizeof(g));
            filter_transform(g, tile);
            for (int xi = 0; xi < 16; xi++)
                u[(size_t)xi * per_u + (size_t)c * ldf + (size_t)f] = tile[xi];
        }
    for (int xi = 0; xi < 16; xi++)
        fer_small_gemm_tn_pack(u + (size_t)xi * per_u, s.c, (int)cols, ldf,
                               *dst + (size_t)xi * per_xi);
    fer_free(u);
    return 1;
}

/* The cache's filters made from l->w unless made at generation gen already. */
static int prepare(const struct fer_layer *l, int backward, struct fer_filter_cache *cache,
                   uint64_t gen)
{
    if (fer_filter_cache_fresh(cache, l->w, l->n_w, gen))
        return 1;
    if (!make_filters(l->w, backward ? backward_shape(l) : forward_shape(l), backward,
                      &cache->filters))
        return 0;
    fer_filter_cache_made(cache, l->w, l->n_w, gen);
    return 1;
}

int fer_winograd_prepare(struct fer_layer *l, uint64_t gen)
{
    return prepare(l, 0, &l->infer_w, gen);
}

int fer_winograd_prepare_backward(struct fer_layer *l, uint64_t gen)
{
    return prepare(l, 1, &l->infer_wt, gen);
}

/* All tiles of one channel: tile u reads row r, column j of its 4x4 input at
 * [r & 1][j & 1] + u + (r >> 1) * h + (j >> 1) of the parity planes; dst gets position ξ of
 * tile u at ξ * ct + u. */
static void transform_channel(int n, size_t h, size_t ct, const float *restrict ee,
                              const float *restrict eo, const float *restrict oe,
                              const float *restrict oo, float *restrict dst)
{
    /* the restrict pointers are not enough for GCC 12 here: its alias analysis gives up */
    NO_ALIASING_IN_LOOP
    for (int u = 0; u < n; u++) {
        /* d, row by row: rows 0 and 2 from the even-row planes, 1 and 3 from the odd */
        const float d00 = ee[u], d01 = eo[u], d02 = ee[u + 1], d03 = eo[u + 1];
        const float d10 = oe[u], d11 = oo[u], d12 = oe[u + 1], d13 = oo[u + 1];
        const float d20 = ee[u + h], d21 = eo[u + h], d22 = ee[u + h + 1], d23 = eo[u + h + 1];
        const float d30 = oe[u + h], d31 = oo[u + h], d32 = oe[u + h + 1], d33 = oo[u + h + 1];
        /* a = Bᵀ d */
        const float a00 = d00 - d20, a01 = d01 - d21, a02 = d02 - d22, a03 = d03 - d23;
        const float a10 = d10 + d20, a11 = d11 + d21, a12 = d12 + d22, a13 = d13 + d23;
        const float a20 = d20 - d10, a21 = d21 - d11, a22 = d22 - d12, a23 = d23 - d13;
        const float a30 = d10 - d30, a31 = d11 - d31, a32 = d12 - d32, a33 = d13 - d33;
        /* V = a B */
        dst[0 * ct + (size_t)u] = a00 - a02;
        dst[1 * ct + (size_t)u] = a01 + a02;
        dst[2 * ct + (size_t)u] = a02 - a01;
        dst[3 * ct + (size_t)u] = a01 - a03;
        dst[4 * ct + (size_t)u] = a10 - a12;
        dst[5 * ct + (size_t)u] = a11 + a12;
        dst[6 * ct + (size_t)u] = a12 - a11;
        dst[7 * ct + (size_t)u] = a11 - a13;
        dst[8 * ct + (size_t)u] = a20 - a22;
        dst[9 * ct + (size_t)u] = a21 + a22;
        dst[10 * ct + (size_t)u] = a22 - a21;
        dst[11 * ct + (size_t)u] = a21 - a23;
        dst[12 * ct + (size_t)u] = a30 - a32;
        dst[13 * ct + (size_t)u] = a31 + a32;
        dst[14 * ct + (size_t)u] = a32 - a31;
        dst[15 * ct + (size_t)u] = a31 - a33;
    }
}

/* One image row split by column parity: image column x is padded column x + 1, so the even
 * image columns go to the odd-column plane's row at x / 2 and the odd ones to the even-column
 * plane's at (x + 1) / 2. Written as pairs, which the compiler runs in vectors. */
static void split_row(const float *restrict row, int w, float *restrict even, float *restrict odd)
{
    const int pairs = w / 2;
    for (int i = 0; i < pairs; i++) {
        odd[i] = row[2 * i];
        even[i + 1] = row[2 * i + 1];
    }
    if (w & 1)
        odd[pairs] = row[w - 1];
}

/*
 * V (16, C, ld) = Bᵀ d B for every 4x4 tile d of every channel, B the F(2x2, 3x3) data
 * matrix; tile u of channel c at (ξ * C + c) * ld + u. planes: four parity planes of
 * t.quarter floats, [row parity][column parity], of the input with a zero border of one.
 */
static void input_transform_channels(struct shape s, struct tiles t, const float *in, float *v,
                                     float *planes, int c0, int c1)
{
    const size_t ct = (size_t)s.c * t.ld, h = (size_t)t.half;
    float *ee = planes, *eo = ee + t.quarter, *oe = eo + t.quarter, *oo = oe + t.quarter;
    memset(planes, 0, sizeof(float) * 4 * t.quarter);
    for (int c = c0; c < c1; c++) {
        const float *src = in + (size_t)c * (size_t)s.h * (size_t)s.w;
        /* image (y, x) is padded (y + 1, x + 1): row parity (y + 1) & 1, column (x + 1) & 1 */
        for (int y = 0; y < s.h; y++) {
            const float *row = src + (size_t)y * (size_t)s.w;
            const size_t at = (size_t)((y + 1) >> 1) * h;
            split_row(row, s.w, ((y + 1) & 1 ? oe : ee) + at, ((y + 1) & 1 ? oo : eo) + at);
        }
        transform_channel(t.n, h, ct, ee, eo, oe, oo, v + (size_t)c * t.ld);
        /* the next channel overwrites the image area; the zero border stays */
    }
}

static void input_transform(struct shape s, struct tiles t, const float *in, float *v,
                            float *planes)
{
    input_transform_channels(s, t, in, v, planes, 0, s.c);
}

/* One image's tiles with V's rows quarter apart, the stride of every channel's planes. */
static struct tiles one_image_tiles(struct shape s)
{
    struct tiles t = tiles_of(s);
    t.ld = t.quarter;
    return t;
}

/* The parity planes of every channel of one image (planes: (4, C, quarter), t from
 * one_image_tiles): each channel's rows split by row and column parity in a zero border. Only
 * what tile rows ty0 .. ty1 read: plane rows ty0 .. ty1 (image rows 2 ty0 - 1 .. 2 ty1), and
 * the next one zero, which only the extra column's last tile reads. */
static void fill_planes(struct shape s, struct tiles t, const float *in, float *planes, int ty0,
                        int ty1)
{
    const size_t q = t.quarter, h = (size_t)t.half, all = (size_t)s.c * q;
    float *ee = planes, *eo = ee + all, *oe = eo + all, *oo = oe + all;
    const size_t z0 = (size_t)ty0 * h, z1 = (size_t)(ty1 + 2) * h < q ? (size_t)(ty1 + 2) * h : q;
    const int y0 = 2 * ty0 - 1 > 0 ? 2 * ty0 - 1 : 0, y1 = 2 * ty1 + 1 < s.h ? 2 * ty1 + 1 : s.h;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < s.c; c++)
            memset(planes + (size_t)k * all + (size_t)c * q + z0, 0, sizeof(float) * (z1 - z0));
    for (int c = 0; c < s.c; c++) {
        const float *src = in + (size_t)c * (size_t)s.h * (size_t)s.w;
        const size_t at_c = (size_t)c * q;
        for (int y = y0; y < y1; y++) {
            const size_t at = at_c + (size_t)((y + 1) >> 1) * h;
            split_row(src + (size_t)y * (size_t)s.w, s.w, ((y + 1) & 1 ? oe : ee) + at,
                      ((y + 1) & 1 ? oo : eo) + at);
        }
    }
}

/*
 * input_transform_channels for one image, t from one_image_tiles, all channels in one pass:
 * their parity planes side by side, then one long loop over the tiles of all of them, which runs
 * in whole vectors where a 5x5 map's 12 tiles a channel would not. The tiles between one
 * channel's last and the next one's first read across the two planes; their values land in V's
 * rows past the tiles, which nothing reads.
 */
static void input_transform_flat(struct shape s, struct tiles t, const float *in, float *v,
                                 float *planes)
{
    const size_t q = t.quarter, h = (size_t)t.half, all = (size_t)s.c * q;
    const float *ee = planes, *eo = ee + all, *oe = eo + all, *oo = oe + all;
    fill_planes(s, t, in, planes, 0, t.th);
    const size_t count = (size_t)(s.c - 1) * q + (size_t)t.n;
    transform_channel((int)count, h, all, ee, eo, oe, oo, v);
}

/* input_transform_flat for tiles u0 .. u1 of every channel only (a thread's share of one
 * image's tile rows ty0 .. ty1), channel by channel: on the large maps where that share is
 * long. Only the input those rows read is split into planes. */
static void input_transform_tiles(struct shape s, struct tiles t, const float *in, float *v,
                                  float *planes, int ty0, int ty1, int u0, int u1)
{
    const size_t q = t.quarter, h = (size_t)t.half, all = (size_t)s.c * q;
    const float *ee = planes, *eo = ee + all, *oe = eo + all, *oo = oe + all;
    fill_planes(s, t, in, planes, ty0, ty1);
    for (size_t c = 0; c < (size_t)s.c; c++) {
        const size_t at = c * q + (size_t)u0;
        transform_channel(u1 - u0, h, all, ee + at, eo + at, oe + at, oo + at, v + at);
    }
}

/* One image of a group (t from compact_group_tiles) into its columns of the group's V: the
 * all-channel transform into `one` (one_image_tiles' layout), then each row's real tiles
 * across, the extra column left out. The channel-by-channel transform ran a 5x5 map's 12 tiles
 * in short loops, a third of the layer's time at batch 128. */
static void input_transform_group_image(struct shape s, struct tiles t, const float *in, float *v,
                                        float *planes, float *one)
{
    const struct tiles t1 = one_image_tiles(s);
    input_transform_flat(s, t1, in, one, planes);
    for (size_t r = 0; r < 16 * (size_t)s.c; r++)
        for (int ty = 0; ty < t.th; ty++)
            memcpy(v + r * t.ld + (size_t)ty * (size_t)t.tw,
                   one + r * t1.ld + (size_t)ty * (size_t)t1.half, sizeof(float) * (size_t)t.tw);
}

/* 16 filters' tiles back: m holds tile u (of `rows`) of position ξ, filter f0 + j at
 * ξ * per + u * ldf + j; y gets filter f0 + j's output for tile u at [row parity][column
 * parity] (4, n, 16). */
static void untransform_filters(int rows, int n, size_t per, size_t ldf, const float *restrict m,
                                float *restrict y)
{
    float *y00 = y, *y01 = y + 16 * n, *y10 = y + 32 * n, *y11 = y + 48 * n;
    for (int u = 0; u < rows; u++) {
        const float *mu = m + (size_t)u * ldf;
        float *o00 = y00 + 16 * u, *o01 = y01 + 16 * u, *o10 = y10 + 16 * u, *o11 = y11 + 16 * u;
        for (int j = 0; j < 16; j++) { /* in vectors, over the 16 filters */
            /* s = Aᵀ m (column i from m[i], m[4 + i], m[8 + i], m[12 + i]), then s A */
            float s0[4], s1[4];
            for (int i = 0; i < 4; i++) {
                const float m0 = mu[(size_t)i * per + (size_t)j];
                const float m1 = mu[(size_t)(4 + i) * per + (size_t)j];
                const float m2 = mu[(size_t)(8 + i) * per + (size_t)j];
                const float m3 = mu[(size_t)(12 + i) * per + (size_t)j];
                s0[i] = m0 + m1 + m2;
                s1[i] = m1 - m2 - m3;
            }
            o00[j] = s0[0] + s0[1] + s0[2];
            o01[j] = s0[1] - s0[2] - s0[3];
            o10[j] = s1[0] + s1[1] + s1[2];
            o11[j] = s1[1] - s1[2] - s1[3];
        }
    }
}

/* out (F, OH, OW) = Aᵀ M A of every tile, Aᵀ = [1 1 1 0; 0 1 -1 -1], from M (16, m_rows, ldf),
 * filters f_begin .. f_end (a multiple of 16 apart, or to F), tile rows ty0 .. ty1; odd sides and
 * the extra tile column drop out. Wide maps go a tile row at a time, so that its outputs (y)
 * stay in L1 for the vector scatter; narrow ones all their rows at once. */
static void output_transform_rows(struct shape s, struct tiles t, const float *m, size_t per,
                                  float *out, float *y, int f_begin, int f_end, int ty0, int ty1)
{
    const size_t ldf = ldf_of(s), hw = (size_t)s.h * (size_t)s.w;
    if (fer_tile_scatter_wide_fits(t.tw)) {
        const int stride = y_stride(t);
        for (int ty = ty0; ty < ty1; ty++)
            for (int f0 = f_begin; f0 < f_end; f0 += 16) {
                untransform_filters(t.tw, stride, per, ldf, m + (size_t)(ty * t.half) * ldf + f0,
                                    y);
                fer_tile_scatter_row_wide(s.h, s.w, y, stride, out + (size_t)f0 * hw,
                                          s.f - f0 < 16 ? s.f - f0 : 16, ty);
            }
        return;
    }
    /* narrow maps: all the rows' tiles at once, fewer and longer loops (1% of a face) */
    const int u0 = ty0 * t.half, u1 = ty1 * t.half < m_rows(t) ? ty1 * t.half : m_rows(t);
    for (int f0 = f_begin; f0 < f_end; f0 += 16) {
        untransform_filters(u1 - u0, t.n, per, ldf, m + (size_t)u0 * ldf + f0, y + 16 * u0);
        fer_tile_scatter_rows(s.h, s.w, y + 16 * (size_t)u0, t.n, t.half, out + (size_t)f0 * hw,
                              s.f - f0 < 16 ? s.f - f0 : 16, ty0, ty1);
    }
}

/* The same for every tile row. */
static void output_transform_filters(struct shape s, struct tiles t, const float *m, size_t per,
                                     float *out, float *y, int f_begin, int f_end)
{
    output_transform_rows(s, t, m, per, out, y, f_begin, f_end, 0, t.th);
}

static void output_transform(struct shape s, struct tiles t, const float *m, size_t per, float *out,
                             float *y)
{
    output_transform_filters(s, t, m, per, out, y, 0, s.f);
}

/* dst (images, F, H, W) = the convolution of in (images, C, H, W) with the filters made by
 * make_filters: the 16 products M[ξ] (tiles x F) = V[ξ]ᵀ (tiles x C) · U[ξ] (C x F), the
 * channels along the vectors, the tiles of all the images down the rows. */
static void convolve(struct shape s, const float *filters, const float *in, int images, float *dst,
                     float *scratch)
{
    const struct tiles t = images == 1 ? one_image_tiles(s) : compact_group_tiles(s, images);
    const size_t ld = t.ld, ldf = ldf_of(s), rows = (size_t)((images - 1) * t.n + t.rows);
    const size_t per_m = (size_t)(images * t.n) * ldf, plane = (size_t)s.h * (size_t)s.w;
    const int cols = (int)ldf - 16;
    struct forward_scratch f;
    forward_scratch_of(s, images, scratch, &f);
    if (images == 1)
        input_transform_flat(s, t, in, f.v, f.planes);
    for (int g = 0; g < images && images > 1; g++)
        input_transform_group_image(s, t, in + (size_t)g * (size_t)s.c * plane,
                                    f.v + (size_t)g * (size_t)t.n, f.planes, f.one);
    for (int xi = 0; xi < 16; xi++)
        fer_small_gemm_tn((int)rows, cols, s.c, f.v + (size_t)xi * (size_t)s.c * ld, ld,
                          filters + (size_t)xi * (size_t)s.c * (size_t)cols,
                          f.m + (size_t)xi * per_m, ldf);
    for (int g = 0; g < images; g++)
        output_transform(s, t, f.m + (size_t)g * (size_t)t.n * ldf, per_m,
                         dst + (size_t)g * (size_t)s.f * plane, f.y);
}

void fer_winograd_forward(const struct fer_layer *l, const float *in, int images, float *dst,
                          float *scratch)
{
    convolve(forward_shape(l), l->infer_w.filters, in, images, dst, scratch);
}

/*
 * One image over all of a pool's threads (fer_winograd_forward_shared), each thread a range of
 * it (fer_pool_run_split, which sizes the ranges to the threads' pace), run in its own thread's
 * scratch from the input transform to the finish: no V or M crosses between cores, whose cache
 * lines take about a quarter of a microsecond each way on this machine's virtual cores (a 470
 * ns round trip), and a layer is one parallel step, not three. Two steps, the threads making
 * one V together (each a range of its channels) and then reading the other's part from its
 * core, saved each thread half its input transform: 2-4% faster while the two virtual cores
 * passed data at 85-98 GB/s, but the host moves them, and in other spells the 2016 network's
 * 24x24 and 12x12 layers took 30-50% longer that way (its dense layer, streaming weights,
 * faster: the cores on separate caches, it seems). Where the filters make at least
 * as many panels (FILTER_PANEL filters, as fer_small_gemm_tn_pack lays them out) as there are
 * threads, the units are each panel's tile rows, panel after panel: a thread transforms every
 * channel and tile, then runs its whole panels together and the rows it has of a panel cut
 * between threads. Where there are fewer (32 filters, as on the large maps of the 2016
 * network), the units are tile rows of every filter, after a transform of those tiles only.
 * Every value is computed as fer_winograd_forward computes it.
 */
#define FILTER_PANEL 32

struct shared_job {
    struct shape s;
    struct tiles t;
    const float *filters, *in;
    float *dst, **scratch;
    fer_winograd_finish finish;
    void *finish_arg;
    int by_panel; /* units are (panel, tile row), not tile rows of every filter */
};

/* Filter columns f0 .. f1 (of the packing's cols) for tiles u0 .. u1: the 16 products. */
static void shared_products(const struct shared_job *j, const struct forward_scratch *f, size_t f0,
                            size_t f1, int u0, int u1)
{
    const size_t ldf = ldf_of(j->s), cols = ldf - 16, per_m = (size_t)j->t.n * ldf;
    const size_t c = (size_t)j->s.c;
    for (size_t xi = 0; xi < 16; xi++)
        fer_small_gemm_tn(u1 - u0, (int)(f1 - f0), j->s.c, f->v + xi * c * j->t.ld + (size_t)u0,
                          j->t.ld, j->filters + xi * c * cols + f0 * c,
                          f->m + xi * per_m + (size_t)u0 * ldf + f0, ldf);
}

/*
 * Tile rows whose products and output transform a range runs together: their M (16 x ldf floats
 * a tile) within BLOCK_BYTES, so that the output transform and the finish read it from L2, where
 * two threads' whole M (a 48x48 map of 32 filters: 1.8 MB) went through the L3 both share. Not
 * where the filters are larger than BLOCK_FILTER_BYTES, which each block would read again. One
 * face of the 2016 network on two threads: 0.996 -> 0.969 ms (median of 2,000 alternating runs
 * in one process); the built-in model's, whose large maps have 32 and 64 filters, the same
 * (0.805 / 0.808 ms).
 */
#define BLOCK_BYTES        (256 * 1024)
#define BLOCK_FILTER_BYTES (128 * 1024)
static int block_tile_rows(const struct shared_job *j, size_t filter_cols)
{
    if (16 * (size_t)j->s.c * filter_cols * sizeof(float) > BLOCK_FILTER_BYTES)
        return j->t.th;
    const size_t rows = BLOCK_BYTES / (16 * ldf_of(j->s) * sizeof(float)) / (size_t)j->t.half;
    return rows < 1 ? 1 : (int)rows;
}

/* Filter columns f0 .. f1 of tile rows ty0 .. ty1, whose input V holds: block by block the
 * products, the output transform and the finish. */
static void shared_rows(const struct shared_job *j, const struct forward_scratch *f, size_t f0,
                        size_t f1, int ty0, int ty1)
{
    const size_t per_m = (size_t)j->t.n * ldf_of(j->s);
    const int last = (int)f1 < j->s.f ? (int)f1 : j->s.f;
    const int step = block_tile_rows(j, f1 - f0);
    for (int b0 = ty0; b0 < ty1; b0 += step) {
        const int b1 = b0 + step < ty1 ? b0 + step : ty1;
        const int v0 = b0 * j->t.half;
        const int v1 = b1 * j->t.half < m_rows(j->t) ? b1 * j->t.half : m_rows(j->t);
        if (v1 <= v0)
            continue;
        shared_products(j, f, f0, f1, v0, v1);
        output_transform_rows(j->s, j->t, f->m, per_m, j->dst, f->y, (int)f0, last, b0, b1);
        const size_t oy0 = 2 * (size_t)b0;
        const size_t oy1 = 2 * (size_t)b1 < (size_t)j->s.h ? 2 * (size_t)b1 : (size_t)j->s.h;
        if (j->finish)
            j->finish(j->finish_arg, j->dst, (int)f0, last, oy0 * (size_t)j->s.w,
                      oy1 * (size_t)j->s.w);
    }
}

/* Panels first .. first + count - 1, tile rows ty0 .. ty1. */
static void shared_panels(const struct shared_job *j, const struct forward_scratch *f, size_t first,
                          size_t count, int ty0, int ty1)
{
    const size_t cols = ldf_of(j->s) - 16, f0 = first * FILTER_PANEL;
    const size_t f1 = (first + count) * FILTER_PANEL < cols ? (first + count) * FILTER_PANEL : cols;
    shared_rows(j, f, f0, f1, ty0, ty1);
}

static void shared_range(void *arg, size_t begin, size_t end, int thread)
{
    const struct shared_job *j = arg;
    struct forward_scratch f;
    forward_scratch_of(j->s, 1, j->scratch[thread], &f);
    const size_t th = (size_t)j->t.th;
    if (!j->by_panel) {
        const int ty0 = (int)begin, ty1 = (int)end;
        const int u0 = ty0 * j->t.half;
        const int u1 = ty1 * j->t.half < m_rows(j->t) ? ty1 * j->t.half : m_rows(j->t);
        if (u1 <= u0)
            return;
        if (ty0 == 0 && ty1 == j->t.th)
            input_transform_flat(j->s, j->t, j->in, f.v, f.planes);
        else
            input_transform_tiles(j->s, j->t, j->in, f.v, f.planes, ty0, ty1, u0, u1);
        shared_rows(j, &f, 0, ldf_of(j->s) - 16, ty0, ty1);
        return;
    }
    input_transform_flat(j->s, j->t, j->in, f.v, f.planes);
    /* the rows of a panel cut at the start, the whole panels together, the rows of one cut at
     * the end */
    for (size_t u = begin; u < end;) {
        const size_t panel = u / th, r0 = u % th;
        if (r0 == 0 && end - u >= th) {
            const size_t whole = (end - u) / th;
            shared_panels(j, &f, panel, whole, 0, j->t.th);
            u += whole * th;
        } else {
            const size_t r1 = r0 + (end - u) < th ? r0 + (end - u) : th;
            shared_panels(j, &f, panel, 1, (int)r0, (int)r1);
            u += r1 - r0;
        }
    }
}

void fer_winograd_forward_shared(const struct fer_layer *l, const float *in, float *dst,
                                 float **scratch, fer_pool *pool, fer_winograd_finish finish,
                                 void *finish_arg)
{
    struct shared_job j;
    j.s = forward_shape(l);
    j.t = one_image_tiles(j.s);
    j.filters = l->infer_w.filters;
    j.in = in;
    j.dst = dst;
    j.scratch = scratch;
    j.finish = finish;
    j.finish_arg = finish_arg;
    const size_t panels = (ldf_of(j.s) - 16 + FILTER_PANEL - 1) / FILTER_PANEL;
    j.by_panel = panels >= (size_t)fer_pool_threads(pool);
    fer_pool_run_split(pool, (j.by_panel ? panels : 1) * (size_t)j.t.th, shared_range, &j);
}

void fer_winograd_backward(const struct fer_layer *l, const float *delta, float *din,
                           float *scratch)
{
    const struct shape s = backward_shape(l);
    float *grad = scratch + scratch_of(s, 1);
    convolve(s, l->infer_wt.filters, delta, 1, grad, scratch);
    for (size_t i = 0; i < l->in_size; i++)
        din[i] += grad[i];
}

/*
 * The weight gradient. With U = G g Gᵀ and each output tile Y = Aᵀ (U ⊙ V) A,
 * dL/dU = Σ over tiles (A dY Aᵀ) ⊙ V, and dL/dg = Gᵀ (dL/dU) G: per image,
 * the output's gradient is transformed tile by tile (D = A dY Aᵀ, 4x4 from
 * 2x2) and 16 GEMMs give dU[ξ] (C x F) = V[ξ] (C x T) · D[ξ] (T x F), summed
 * over the images of a group as it is; the 3x3 gradient is made from the sum
 * at the end (fer_winograd_weight_grad_finish). Tiles past the map's edge and
 * the extra column read a gradient of zero, so they add nothing.
 */
struct grad_layout {
    struct tiles t;
    size_t ldf;       /* row stride of D: F in whole panels */
    size_t quarter_d; /* floats of one parity plane of the output's gradient */
};

static struct grad_layout grad_layout_of(const struct fer_layer *l)
{
    struct grad_layout g;
    g.t = tiles_of(forward_shape(l));
    g.ldf = fer_small_gemm_ldb(l->out_c);
    g.quarter_d = (size_t)g.t.th * (size_t)g.t.half;
    return g;
}

int fer_winograd_fits_grad(const struct fer_layer *l)
{
    /* on smaller maps its 16 products are too short (12 tiles at 5x5) to beat one */
    return fer_winograd_fits(l) && l->out_h >= MIN_GRAD_SIDE && l->out_w >= MIN_GRAD_SIDE;
}

size_t fer_winograd_grad_floats(const struct fer_layer *l)
{
    return fer_winograd_fits_grad(l) ? 16 * (size_t)l->in_c * (size_t)l->out_c : 0;
}

size_t fer_winograd_grad_scratch(const struct fer_layer *l)
{
    if (!fer_winograd_fits_grad(l))
        return 0;
    const struct grad_layout g = grad_layout_of(l);
    const size_t c = (size_t)l->in_c, f = (size_t)l->out_c;
    /* V (16, C, ld) and the input's planes; D (16, n, ldf) and the gradient's planes; one
     * packed V[ξ]; one product (C x F) */
    return 16 * c * g.t.ld + 4 * g.t.quarter + 16 * (size_t)g.t.n * g.ldf + 4 * g.quarter_d * f +
           fer_small_gemm_packed_size((int)c, g.t.n) + c * f;
}

/* D (16, n, ldf): tile u of filter f at (ξ * n + u) * ldf + f, from the gradient's parity planes
 * ([row][column] parity, tile u's 2x2 at u of each). */
static void gradient_transform(const struct fer_layer *l, const struct grad_layout *g,
                               const float *delta, float *planes, float *d)
{
    const int f_n = l->out_c, h = l->out_h, w = l->out_w, n = g->t.n;
    const size_t half = (size_t)g->t.half, q = g->quarter_d, ldf = g->ldf;
    /* planes (F, 4, q): filter f's gradient split by [row][column] parity */
    memset(planes, 0, sizeof(float) * 4 * q * (size_t)f_n);
    for (int f = 0; f < f_n; f++) {
        const float *src = delta + (size_t)f * (size_t)h * (size_t)w;
        float *pf = planes + (size_t)f * 4 * q;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                pf[(size_t)(2 * (y & 1) + (x & 1)) * q + (size_t)(y >> 1) * half +
                   (size_t)(x >> 1)] = src[(size_t)y * (size_t)w + (size_t)x];
    }
    /* tile by tile, each row of D written along f */
    for (int u = 0; u < n; u++) {
        float *du = d + (size_t)u * ldf;
        for (int f = 0; f < f_n; f++) {
            const float *pf = planes + (size_t)f * 4 * q + (size_t)u;
            /* D = A δ Aᵀ, A = [1 0; 1 1; 1 -1; 0 -1]: rows first (r = A δ), then columns */
            const float d00 = pf[0], d01 = pf[q], d10 = pf[2 * q], d11 = pf[3 * q];
            const float r[4][2] = {
                {d00, d01}, {d00 + d10, d01 + d11}, {d00 - d10, d01 - d11}, {-d10, -d11}};
            for (int i = 0; i < 4; i++) {
                du[(size_t)(4 * i + 0) * (size_t)n * ldf + (size_t)f] = r[i][0];
                du[(size_t)(4 * i + 1) * (size_t)n * ldf + (size_t)f] = r[i][0] + r[i][1];
                du[(size_t)(4 * i + 2) * (size_t)n * ldf + (size_t)f] = r[i][0] - r[i][1];
                du[(size_t)(4 * i + 3) * (size_t)n * ldf + (size_t)f] = -r[i][1];
            }
        }
    }
    /* the padding columns of D's rows: zeros, not stale scratch */
    for (size_t row = 0; row < 16 * (size_t)n; row++)
        memset(d + row * ldf + f_n, 0, sizeof(float) * (ldf - (size_t)f_n));
}

void fer_winograd_weight_grad_image(const struct fer_layer *l, const float *in, const float *delta,
                                    float *du, float *scratch)
{
    const struct grad_layout g = grad_layout_of(l);
    const struct shape s = forward_shape(l);
    const size_t c = (size_t)s.c, f = (size_t)s.f, n = (size_t)g.t.n;
    float *v = scratch, *in_planes = v + 16 * c * g.t.ld;
    float *d = in_planes + 4 * g.t.quarter, *d_planes = d + 16 * n * g.ldf;
    float *packed = d_planes + 4 * g.quarter_d * f;
    float *product = packed + fer_small_gemm_packed_size((int)c, (int)n);
    input_transform(s, g.t, in, v, in_planes);
    gradient_transform(l, &g, delta, d_planes, d);
    for (int xi = 0; xi < 16; xi++) {
        fer_small_gemm_pack(v + (size_t)xi * c * g.t.ld, (int)c, (int)n, g.t.ld, packed);
        fer_small_gemm((int)c, (int)f, (int)n, packed, d + (size_t)xi * n * g.ldf, g.ldf, product,
                       f);
        float *dst = du + (size_t)xi * c * f;
        for (size_t i = 0; i < c * f; i++)
            dst[i] += product[i];
    }
}

void fer_winograd_weight_grad_finish(const struct fer_layer *l, const float *du, float *dw)
{
    const size_t c_n = (size_t)l->in_c, f_n = (size_t)l->out_c, cf = c_n * f_n;
    static const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    for (size_t f = 0; f < f_n; f++)
        for (size_t c = 0; c < c_n; c++) {
            float u[4][4], a[3][4];
            for (int xi = 0; xi < 16; xi++)
                u[xi / 4][xi % 4] = du[(size_t)xi * cf + c * f_n + f];
            /* dg = Gᵀ dU G */
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                    a[i][j] = G[0][i] * u[0][j] + G[1][i] * u[1][j] + G[2][i] * u[2][j] +
                              G[3][i] * u[3][j];
            float *g = dw + (f * c_n + c) * 9;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    g[3 * i + j] += a[i][0] * G[0][j] + a[i][1] * G[1][j] + a[i][2] * G[2][j] +
                                    a[i][3] * G[3][j];
        }
}
