/*
 * pooling.c - max pooling, average pooling and global average pooling.
 *
 * Per image: in (C, H, W) -> out (C, OH, OW) with OH = (H + 2 pad - k) / s + 1.
 * Max pooling remembers the input offset of each maximum for backward;
 * average pooling divides by the number of window cells inside the image.
 * Global average pooling is average pooling with the window = the image.
 */
#include <float.h>
#include <stdio.h>

#include "nn/layer.h"
#include "nn/simd.h"

struct pool_job {
    struct fer_layer *l;
    struct fer_pass *p;
    size_t blocks; /* forward: tasks per image, each a run of channels */
};

/*
 * 2x2 max pooling with stride 2 and no padding, every window inside the image: the
 * general loop's answer (the first maximum in row order; NaN never wins, and a window
 * with nothing above -FLT_MAX gives 0) without its bounds tests, sums and branches, which
 * activations defeat. Its backward finds the maximum again from the input instead of
 * reading a stored argmax: the first cell equal to the output (none, when the output was
 * such a window's 0).
 */
static inline float max4(const float *r0, const float *r1)
{
    float best = -FLT_MAX;
    best = r0[0] > best ? r0[0] : best;
    best = r0[1] > best ? r0[1] : best;
    best = r1[0] > best ? r1[0] : best;
    best = r1[1] > best ? r1[1] : best;
    return best > -FLT_MAX ? best : 0;
}

/* Channels c0 .. c1, output rows y0 .. y1 of one image, by the rule above. */
static void max2x2_portable(const struct fer_layer *l, const float *in, float *out, int c0, int c1,
                            int y0, int y1)
{
    const int w = l->in_w;
    for (int c = c0; c < c1; c++)
        for (int y = y0; y < y1; y++) {
            const float *r0 = in + ((size_t)c * l->in_h + 2 * (size_t)y) * (size_t)w;
            float *o = out + ((size_t)c * l->out_h + (size_t)y) * l->out_w;
            for (int x = 0; x < l->out_w; x++)
                o[x] = max4(r0 + 2 * x, r0 + w + 2 * x);
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_MAX2X2_AVX512 1

/* The same, 16 outputs at a time: the even and odd cells of each row taken apart, then vmaxps
 * in max4's order. vmaxps(a, b) is a > b ? a : b, max4's step, so ties keep the earlier cell
 * (the sign of a zero included) and NaN never wins: the same bits. */
__attribute__((target("avx512f"))) static void max2x2_avx512(const struct fer_layer *l,
                                                            const float *in, float *out, int c0,
                                                            int c1, int y0, int y1)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 lowest = _mm512_set1_ps(-FLT_MAX);
    const int w = l->in_w, ow = l->out_w;
    for (int c = c0; c < c1; c++)
        for (int y = y0; y < y1; y++) {
            const float *r0 = in + ((size_t)c * l->in_h + 2 * (size_t)y) * (size_t)w;
            float *o = out + ((size_t)c * l->out_h + (size_t)y) * (size_t)ow;
            for (int x = 0; x < ow; x += 16) {
                const int n = ow - x < 16 ? ow - x : 16;
                const __mmask16 first = n >= 8 ? 0xffff : (__mmask16)((1u << (2 * n)) - 1);
                const __mmask16 second = n > 8 ? (__mmask16)((1u << (2 * n - 16)) - 1) : 0;
                const __m512 a0 = _mm512_maskz_loadu_ps(first, r0 + 2 * x);
                const __m512 b0 = _mm512_maskz_loadu_ps(second, r0 + 2 * x + 16);
                const __m512 a1 = _mm512_maskz_loadu_ps(first, r0 + w + 2 * x);
                const __m512 b1 = _mm512_maskz_loadu_ps(second, r0 + w + 2 * x + 16);
                __m512 best = _mm512_max_ps(_mm512_permutex2var_ps(a0, even, b0), lowest);
                best = _mm512_max_ps(_mm512_permutex2var_ps(a0, odd, b0), best);
                best = _mm512_max_ps(_mm512_permutex2var_ps(a1, even, b1), best);
                best = _mm512_max_ps(_mm512_permutex2var_ps(a1, odd, b1), best);
                const __mmask16 above = _mm512_cmp_ps_mask(best, lowest, _CMP_GT_OQ);
                _mm512_mask_storeu_ps(o + x, (__mmask16)((1u << n) - 1),
                                      _mm512_maskz_mov_ps(above, best));
            }
        }
}
#endif

/* Channels c0 .. c1, output rows y0 .. y1 of one image, on the widest kernel the level allows
 * (tests lower it). */
static void max2x2_forward(const struct fer_layer *l, const float *in, float *out, int c0, int c1,
                           int y0, int y1)
{
#ifdef HAVE_MAX2X2_AVX512
    if (fer_simd_avx512()) {
        max2x2_avx512(l, in, out, c0, c1, y0, y1);
        return;
    }
#endif
    max2x2_portable(l, in, out, c0, c1, y0, y1);
}

static void max2x2_backward(const struct fer_layer *l, const float *in, const float *out,
                            const float *delta, float *din)
{
    const int w = l->in_w;
    for (int c = 0; c < l->out_c; c++)
        for (int y = 0; y < l->out_h; y++) {
            const size_t top = ((size_t)c * l->in_h + 2 * (size_t)y) * (size_t)w;
            const size_t row = ((size_t)c * l->out_h + (size_t)y) * l->out_w;
            for (int x = 0; x < l->out_w; x++) {
                const size_t cells[4] = {top + 2 * (size_t)x, top + 2 * (size_t)x + 1,
                                         top + (size_t)w + 2 * (size_t)x,
                                         top + (size_t)w + 2 * (size_t)x + 1};
                for (int i = 0; i < 4; i++)
                    if (in[cells[i]] == out[row + (size_t)x]) {
                        din[cells[i]] += delta[row + (size_t)x];
                        break;
                    }
            }
        }
}

static int is_max2x2(const struct fer_layer *l)
{
    return l->type == FER_LAYER_MAXPOOL && l->size == 2 && l->stride == 2 && l->pad == 0 &&
           2 * l->out_h <= l->in_h && 2 * l->out_w <= l->in_w;
}

/* Global average pooling of channels c0 .. c1: each channel's values added in row order, as
 * the general loop adds a window's, then divided by their count. */
static void gap_forward(const struct fer_layer *l, const float *in, float *out, int c0, int c1)
{
    const size_t hw = (size_t)l->in_h * (size_t)l->in_w;
    for (int c = c0; c < c1; c++) {
        const float *src = in + (size_t)c * hw;
        float sum = 0;
        for (size_t i = 0; i < hw; i++)
            sum += src[i];
        out[c] = hw ? sum / (float)hw : 0;
    }
}

/* The pools a face splits by channels (their own loops), as runs of channels. */
static int splits_by_channels(const struct fer_layer *l)
{
    return is_max2x2(l) || l->type == FER_LAYER_GAP;
}

static void forward_task(void *arg, size_t task, int thread)
{
    (void)thread;
    struct pool_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t b = task / j->blocks, block = task % j->blocks;
    const float *in = j->p->in + b * l->in_size;
    float *out = l->out + b * l->out_size;
    uint32_t *arg_max = l->argmax ? l->argmax + b * l->out_size : NULL;
    const int c0 = (int)(block * (size_t)l->out_c / j->blocks);
    const int c1 = (int)((block + 1) * (size_t)l->out_c / j->blocks);
    if (is_max2x2(l)) {
        max2x2_forward(l, in, out, c0, c1, 0, l->out_h);
        return;
    }
    if (l->type == FER_LAYER_GAP) {
        gap_forward(l, in, out, c0, c1);
        return;
    }
    for (int c = 0; c < l->out_c; c++) {
        const float *src = in + (size_t)c * l->in_h * l->in_w;
        for (int y = 0; y < l->out_h; y++) {
            for (int x = 0; x < l->out_w; x++) {
                int y0 = y * l->stride - l->pad, x0 = x * l->stride - l->pad;
                float best = -FLT_MAX, sum = 0;
                int best_at = -1, count = 0;
                for (int ky = 0; ky < l->size; ky++) {
                    int iy = y0 + ky;
                    if (iy < 0 || iy >= l->in_h)
                        continue;
                    for (int kx = 0; kx < l->size; kx++) {
                        int ix = x0 + kx;
                        if (ix < 0 || ix >= l->in_w)
                            continue;
                        float v = src[iy * l->in_w + ix];
                        sum += v;
                        count++;
                        if (v > best) {
                            best = v;
                            best_at = iy * l->in_w + ix;
                        }
                    }
                }
                size_t o = ((size_t)c * l->out_h + (size_t)y) * l->out_w + (size_t)x;
                if (l->type == FER_LAYER_MAXPOOL) {
                    out[o] = best_at >= 0 ? best : 0;
                    arg_max[o] =
                        best_at >= 0 ? (uint32_t)(c * l->in_h * l->in_w + best_at) : UINT32_MAX;
                } else {
                    out[o] = count ? sum / (float)count : 0;
                }
            }
        }
    }
}

static void backward_task(void *arg, size_t b, int thread)
{
    (void)thread;
    struct pool_job *j = arg;
    struct fer_layer *l = j->l;
    const float *delta = l->delta + b * l->out_size;
    float *din = j->p->in_delta + b * l->in_size;
    if (is_max2x2(l)) {
        max2x2_backward(l, j->p->in + b * l->in_size, l->out + b * l->out_size, delta, din);
        return;
    }
    if (l->type == FER_LAYER_MAXPOOL) {
        const uint32_t *arg_max = l->argmax + b * l->out_size;
        for (size_t o = 0; o < l->out_size; o++)
            if (arg_max[o] != UINT32_MAX)
                din[arg_max[o]] += delta[o];
        return;
    }
    for (int c = 0; c < l->out_c; c++) {
        float *dst = din + (size_t)c * l->in_h * l->in_w;
        for (int y = 0; y < l->out_h; y++) {
            for (int x = 0; x < l->out_w; x++) {
                int y0 = y * l->stride - l->pad, x0 = x * l->stride - l->pad;
                int ya = y0 < 0 ? 0 : y0, xa = x0 < 0 ? 0 : x0;
                int yb = y0 + l->size > l->in_h ? l->in_h : y0 + l->size;
                int xb = x0 + l->size > l->in_w ? l->in_w : x0 + l->size;
                int count = (yb - ya) * (xb - xa);
                if (count <= 0)
                    continue;
                float g =
                    delta[((size_t)c * l->out_h + (size_t)y) * l->out_w + (size_t)x] / (float)count;
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++)
                        dst[iy * l->in_w + ix] += g;
            }
        }
    }
}

int fer_maxpool_done_by_conv(const struct fer_layer *l, const struct fer_pass *p)
{
    if (!is_max2x2(l) || p->training || l->index == 0 || !p->layers)
        return 0;
    const struct fer_layer *before = &p->layers[l->index - 1];
    return before->type == FER_LAYER_CONV || fer_shortcut_done_by_conv(before, p);
}

void fer_maxpool_rows(const struct fer_layer *l, const float *in, float *out, int c0, int c1,
                      int y0, int y1)
{
    const int out_end = y1 / 2 < l->out_h ? y1 / 2 : l->out_h;
    if (y0 / 2 < out_end)
        max2x2_forward(l, in, out, c0, c1, y0 / 2, out_end);
}

void fer_pool_forward(struct fer_layer *l, struct fer_pass *p)
{
    if (fer_maxpool_done_by_conv(l, p))
        return;
    /* fewer images than threads (one face): the 2x2 pool's and the global pool's channels
     * split over them, in the shares the convolution before most likely made them (each thread
     * a run of channels) */
    const int threads = fer_pool_threads(p->pool);
    struct pool_job j = {l, p, splits_by_channels(l) && p->batch < threads ? (size_t)threads : 1};
    fer_pool_run(p->pool, (size_t)p->batch * j.blocks, forward_task, &j);
}

void fer_pool_backward(struct fer_layer *l, struct fer_pass *p)
{
    if (!p->in_delta)
        return;
    struct pool_job j = {l, p, 1};
    fer_pool_run(p->pool, (size_t)p->batch, backward_task, &j);
}

/* [maxpool] and [avgpool]: size=k stride=s (k by default) pad=p (< k). */
static enum fer_status configure_window(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    int bad = 0;
    l->size = fer_spec_int(s, "size", 2, 1, 64, spec->file, &bad, spec->err);
    l->stride = fer_spec_int(s, "stride", l->size, 1, 64, spec->file, &bad, spec->err);
    l->pad = fer_spec_int(s, "pad", 0, 0, 32, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    if (l->pad >= l->size)
        return fer_errorf(spec->err, FER_ERR_FORMAT, "%s:%d: pad must be smaller than size",
                          spec->file, s->line);
    l->out_c = l->in_c;
    l->out_h = (l->in_h + 2 * l->pad - l->size) / l->stride + 1;
    l->out_w = (l->in_w + 2 * l->pad - l->size) / l->stride + 1;
    return FER_OK;
}

/* [global_avgpool]: no keys; the window is the whole map. */
static enum fer_status configure_global(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    (void)spec;
    l->size = l->in_h > l->in_w ? l->in_h : l->in_w;
    l->stride = 1;
    l->out_c = l->in_c;
    l->out_h = l->out_w = 1;
    return FER_OK;
}

/* The maximum's input offset of each output, for backward; the 2x2 case finds it again. */
static void carve_argmax(struct fer_layer *l, size_t batch, struct fer_carve *c)
{
    l->argmax = fer_carve_words(c, batch * l->out_size);
}

static void describe_window(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "%dx%d/%d", l->size, l->size, l->stride);
}

/* MaxPool and AveragePool (padding left out of the mean, as here); GlobalAveragePool. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const char *in = fer_onnx_input(g, l);
    if (l->type == FER_LAYER_GAP) {
        fer_onnx_set_output(g, l,
                            fer_onnx_node_output(fer_onnx_node(g, l, "GlobalAveragePool", 1, &in)));
        return;
    }
    const char *op = l->type == FER_LAYER_MAXPOOL ? "MaxPool" : "AveragePool";
    struct fer_onnx_node *pool = fer_onnx_node(g, l, op, 1, &in);
    fer_onnx_attr_ints(pool, "kernel_shape", 2, (const int64_t[]){l->size, l->size});
    fer_onnx_attr_ints(pool, "strides", 2, (const int64_t[]){l->stride, l->stride});
    fer_onnx_attr_ints(pool, "pads", 4, (const int64_t[]){l->pad, l->pad, l->pad, l->pad});
    fer_onnx_set_output(g, l, fer_onnx_node_output(pool));
}

const struct fer_layer_ops fer_maxpool_ops = {
    .section = "maxpool",
    .name = "maxpool",
    .type = FER_LAYER_MAXPOOL,
    .configure = configure_window,
    .carve = carve_argmax,
    .describe = describe_window,
    .forward = fer_pool_forward,
    .backward = fer_pool_backward,
    .to_onnx = to_onnx,
};

const struct fer_layer_ops fer_avgpool_ops = {
    .section = "avgpool",
    .name = "avgpool",
    .type = FER_LAYER_AVGPOOL,
    .configure = configure_window,
    .describe = describe_window,
    .forward = fer_pool_forward,
    .backward = fer_pool_backward,
    .to_onnx = to_onnx,
};

const struct fer_layer_ops fer_gap_ops = {
    .section = "global_avgpool",
    .name = "gap",
    .type = FER_LAYER_GAP,
    .configure = configure_global,
    .forward = fer_pool_forward,
    .backward = fer_pool_backward,
    .to_onnx = to_onnx,
};
