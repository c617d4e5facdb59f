/*
 * conv.c - 2-D convolution as im2col + GEMM (Chellapilla et al. 2006; darknet).
 *
 * Shapes, per image:  in (C, H, W)   weights (F, C*k*k)   out (F, OH, OW)
 *   col   (C*k*k, OH*OW) = im2col(in)
 *   out   = W · col (+ bias)                       forward (fer's own kernels by default:
 *                                                  winograd.h, small_gemm.h)
 *   dW   += delta · colᵀ                           backward, weights (or Winograd)
 *   dcol  = Wᵀ · delta;  din += col2im(dcol)       backward, input (or Winograd, see
 *                                                  winograd.h, where it pays)
 * One image is one GEMM: at 48x48 that beats one GEMM over the batch on this
 * hardware (BENCHMARKS.md has the measurements). Weight gradients are summed per fixed image
 * group into p->parts and reduced in group order, so the result does not
 * depend on the thread count.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "nn/blas.h"
#include "nn/layer.h"
#include "nn/small_gemm.h"
#include "nn/stem.h"
#include "nn/winograd.h"

static int is_pointwise(const struct fer_layer *l)
{
    return l->size == 1 && l->stride == 1 && l->pad == 0;
}

size_t fer_conv_scratch(const struct fer_layer *l)
{
    size_t k = (size_t)l->in_c * (size_t)(l->size * l->size);
    size_t n = (size_t)l->out_h * (size_t)l->out_w;
    /* training: col and dcol, or col and the Winograd backward pass's tiles; with the weight
     * gradient by Winograd, no col: its tiles, then the input's gradient's */
    size_t need = 2 * k * n, wino_back = k * n + fer_winograd_backward_scratch(l);
    size_t wino_grad = fer_winograd_grad_scratch(l);
    if (wino_grad && fer_winograd_backward_scratch(l) > wino_grad)
        wino_grad = fer_winograd_backward_scratch(l);
    if (wino_grad > need)
        need = wino_grad;
    /* forward on fer's kernels: col with padded rows and a padded plane, or Winograd's tiles */
    size_t packed = k * fer_small_gemm_ldb((int)n) + /* and the plane, twice at stride 2 */
                    (size_t)(l->stride == 2 ? 2 : 1) * (size_t)(l->in_h + 2 * l->pad) *
                        (size_t)(l->in_w + 2 * l->pad);
    size_t wino = fer_winograd_scratch(l);
    if (fer_stem_scratch(l) > wino)
        wino = fer_stem_scratch(l);
    if (packed > need)
        need = packed;
    if (wino_back > need)
        need = wino_back;
    return wino > need ? wino : need;
}

/* col (C*k*k, OH*OW, row stride ld) from in (C, H, W), zero outside the image. */
static void im2col(const float *in, int c, int h, int w, int k, int stride, int pad, int oh, int ow,
                   float *col, size_t ld)
{
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((size_t)(ch * k + ki) * k + kj) * ld;
                for (int y = 0; y < oh; y++) {
                    int iy = y * stride + ki - pad;
                    float *drow = dst + (size_t)y * ow;
                    if (iy < 0 || iy >= h) {
                        memset(drow, 0, sizeof(float) * (size_t)ow);
                        continue;
                    }
                    const float *srow = src + (size_t)iy * w;
                    if (stride == 1) {
                        /* x range where ix = x + kj - pad is inside [0, w) */
                        int x0 = pad - kj > 0 ? pad - kj : 0;
                        int x1 = w + pad - kj < ow ? w + pad - kj : ow;
                        for (int x = 0; x < x0; x++)
                            drow[x] = 0;
                        if (x1 > x0)
                            memcpy(drow + x0, srow + x0 + kj - pad,
                                   sizeof(float) * (size_t)(x1 - x0));
                        for (int x = x1 > x0 ? x1 : x0; x < ow; x++)
                            drow[x] = 0;
                    } else {
                        for (int x = 0; x < ow; x++) {
                            int ix = x * stride + kj - pad;
                            drow[x] = (ix >= 0 && ix < w) ? srow[ix] : 0;
                        }
                    }
                }
            }
        }
    }
}

/* The h x w plane's even columns into out (h rows of (w + 1) / 2), then its odd ones (h rows of
 * w / 2): a stride-2 window's columns become contiguous runs. */
static void deinterleave(const float *plane, int h, int w, float *out)
{
    const size_t even = (size_t)(w + 1) / 2, odd = (size_t)w / 2;
    float *e = out, *o = out + (size_t)h * even;
    for (int y = 0; y < h; y++) {
        const float *r = plane + (size_t)y * (size_t)w;
        for (size_t x = 0; x < odd; x++) {
            e[(size_t)y * even + x] = r[2 * x];
            o[(size_t)y * odd + x] = r[2 * x + 1];
        }
        if (even > odd)
            e[(size_t)y * even + even - 1] = r[w - 1];
    }
}

/*
 * im2col for the small GEMM in forward passes: col (C*k*k, OH*OW) with row stride ld, and each
 * row's padding up to ld zeroed. Each channel goes first into a zero-bordered plane, so the
 * gathers below need no bounds tests: on the 5x5 maps of the last stage, im2col's calls to
 * memcpy and memset for runs of 5 floats cost a third of the GEMM.
 */
static void im2col_padded(const float *in, const struct fer_layer *l, float *col, size_t ld,
                          float *plane)
{
    const int k = l->size, s = l->stride, pad = l->pad, oh = l->out_h, ow = l->out_w;
    const int pw = l->in_w + 2 * pad, ph = l->in_h + 2 * pad;
    const size_t n = (size_t)oh * (size_t)ow;
    memset(plane, 0, sizeof(float) * (size_t)ph * (size_t)pw);
    for (int ch = 0; ch < l->in_c; ch++) {
        const float *src = in + (size_t)ch * (size_t)l->in_h * (size_t)l->in_w;
        for (int y = 0; y < l->in_h; y++)
            memcpy(plane + (size_t)(y + pad) * (size_t)pw + pad, src + (size_t)y * l->in_w,
                   sizeof(float) * (size_t)l->in_w);
        if (s == 2)
            deinterleave(plane, ph, pw, plane + (size_t)ph * (size_t)pw);
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((size_t)(ch * k + ki) * (size_t)k + (size_t)kj) * ld;
                for (int y = 0; y < oh; y++) {
                    float *drow = dst + (size_t)y * (size_t)ow;
                    if (s == 2) { /* a run of the even or odd columns: contiguous */
                        const float *phase = plane + (size_t)ph * (size_t)pw +
                                             (kj % 2 ? (size_t)ph * (size_t)((pw + 1) / 2) : 0);
                        size_t len = kj % 2 ? (size_t)(pw / 2) : (size_t)((pw + 1) / 2);
                        memcpy(drow, phase + (size_t)(2 * y + ki) * len + (size_t)(kj / 2),
                               sizeof(float) * (size_t)ow);
                        continue;
                    }
                    const float *prow = plane + (size_t)(y * s + ki) * (size_t)pw + kj;
                    for (int x = 0; x < ow; x++)
                        drow[x] = prow[x * s];
                }
                for (size_t i = n; i < ld; i++)
                    dst[i] = 0;
            }
        /* the next channel overwrites the image area; the zero border stays */
    }
}

/* in (C, H, W) += col2im(col), the adjoint of im2col. */
static void col2im_add(const float *col, int c, int h, int w, int k, int stride, int pad, int oh,
                       int ow, float *in)
{
    for (int ch = 0; ch < c; ch++) {
        float *dst = in + (size_t)ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                const float *src = col + ((size_t)(ch * k + ki) * k + kj) * oh * ow;
                for (int y = 0; y < oh; y++) {
                    int iy = y * stride + ki - pad;
                    if (iy < 0 || iy >= h)
                        continue;
                    float *drow = dst + (size_t)iy * w;
                    const float *srow = src + (size_t)y * ow;
                    if (stride == 1) {
                        /* the x range whose ix = x + kj - pad lies inside the row */
                        int x0 = pad - kj > 0 ? pad - kj : 0;
                        int x1 = w + pad - kj < ow ? w + pad - kj : ow;
                        float *d = drow + kj - pad;
                        for (int x = x0; x < x1; x++)
                            d[x] += srow[x];
                        continue;
                    }
                    for (int x = 0; x < ow; x++) {
                        int ix = x * stride + kj - pad;
                        if (ix >= 0 && ix < w)
                            drow[ix] += srow[x];
                    }
                }
            }
        }
    }
}

/* How a forward pass computes W·x: on fer's own kernels unless they are off or their weights
 * cannot be made, else im2col + OpenBLAS. The backward pass makes its own columns again, so
 * training's forward passes take fer's kernels too. */
enum conv_path { PATH_BLAS, PATH_WINOGRAD, PATH_PACKED, PATH_STEM };

struct conv_job {
    struct fer_layer *l;
    struct fer_pass *p;
    const struct finish_job *fin;
    float *dst; /* forward: where W·col goes (out, or xhat before BN) */
    int groups;
    enum conv_path path; /* forward: how W·x is made; backward: PATH_WINOGRAD or PATH_BLAS for
                            the input's gradient */
    int wino_grad;       /* backward: the weight gradient by Winograd (p->parts in its domain) */
    int group;           /* forward by Winograd: images per task */
};

/* y = act(y + bias) over one channel's n positions. */
static void bias_channel(float *y, size_t n, float bias, enum fer_activation act)
{
    if (act == FER_ACT_RELU)
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] + bias > 0 ? y[i] + bias : 0;
    else
        for (size_t i = 0; i < n; i++)
            y[i] += bias;
}

/* y = act(y s + t) over one channel's n positions: inference's batch norm. */
static void affine_channel(float *y, size_t n, float s, float t, enum fer_activation act)
{
    if (act == FER_ACT_RELU)
        for (size_t i = 0; i < n; i++) {
            const float v = y[i] * s + t;
            y[i] = v > 0 ? v : 0; /* as the activation layer: vectors, not a call */
        }
    else
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] * s + t;
}

/* The packed product's b, its input columns (K, N) with rows padded to whole panels of the small
 * GEMM, the padding zero: made in scratch, or the input itself where its rows are whole panels
 * already (a pointwise layer on a detector's maps, say). *ld: its row stride. */
static const float *packed_columns(const struct fer_layer *l, const float *in, float *scratch,
                                   size_t *ld)
{
    const size_t kdim = (size_t)l->in_c * (size_t)(l->size * l->size);
    const size_t n = (size_t)l->out_h * (size_t)l->out_w;
    *ld = fer_small_gemm_ldb((int)n);
    if (is_pointwise(l) && n % FER_GEMM_NR == 0) {
        *ld = n;
        return in;
    }
    if (is_pointwise(l)) {
        for (size_t r = 0; r < kdim; r++) {
            memcpy(scratch + r * *ld, in + r * n, sizeof(float) * n);
            memset(scratch + r * *ld + n, 0, sizeof(float) * (*ld - n));
        }
    } else {
        im2col_padded(in, l, scratch, *ld, scratch + kdim * *ld);
    }
    return scratch;
}

/* The per-channel factors s and t of inference's batch norm in the pass's statistics:
 * y = act(x s + t) with s = gamma / sqrt(running var + eps) and t = beta - running mean s,
 * which is also what the ONNX export folds into the weights. */
static void batch_norm_factors(const struct fer_layer *l, struct fer_pass *p)
{
    double *scale = p->stats, *shift = p->stats + l->out_c;
    for (int c = 0; c < l->out_c; c++) {
        const float s = l->gamma[c] / sqrtf(l->run_var[c] + FER_BN_EPS);
        scale[c] = s;
        shift[c] = l->b[c] - l->run_mean[c] * s;
    }
}

/*
 * What becomes of W x once it is made, by the thread that made it while it is in its cache:
 * the bias, or inference's batch norm (both with the activation); in training with batch norm
 * nothing, as batch norm then works over the whole batch. In inference, when a [shortcut]
 * follows, also that layer's sum, and when a 2x2 [maxpool] follows either, its pooling: their
 * outputs, the same values as their own passes would give (which then do nothing).
 */
struct finish_job {
    const struct fer_layer *l;
    const double *scale, *shift; /* batch norm's factors, in inference */
    int training;
    const struct fer_layer *shortcut; /* the [shortcut] this conv does, or NULL */
    const float *addend;              /* its other input (the layer it adds) */
    const struct fer_layer *pool;     /* the 2x2 [maxpool] it does after them, or NULL */
};

static struct finish_job finish_job_of(const struct fer_layer *l, struct fer_pass *p)
{
    struct finish_job j = {l, p->stats, p->stats + l->out_c, p->training, NULL, NULL, NULL};
    if (l->batch_norm && !p->training)
        batch_norm_factors(l, p);
    int next = l->index + 1;
    if (next < p->n_layers && fer_shortcut_done_by_conv(&p->layers[next], p)) {
        j.shortcut = &p->layers[next++];
        j.addend = p->layers[j.shortcut->from].out;
    }
    if (next < p->n_layers && fer_maxpool_done_by_conv(&p->layers[next], p))
        j.pool = &p->layers[next];
    return j;
}

/* Image b's channels f0 .. f1, positions p0 .. p1 of each, in dst (its output). */
static void finish_channels(const struct finish_job *j, size_t b, float *dst, int f0, int f1,
                            size_t p0, size_t p1)
{
    const struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    for (int f = f0; f < f1; f++) {
        const size_t at = (size_t)f * hw + p0;
        if (!l->batch_norm)
            bias_channel(dst + at, p1 - p0, l->b[f], l->act);
        else if (!j->training)
            affine_channel(dst + at, p1 - p0, (float)j->scale[f], (float)j->shift[f], l->act);
        if (j->shortcut)
            fer_shortcut_add(j->shortcut, dst + at, j->addend + b * l->out_size + at,
                             j->shortcut->out + b * l->out_size + at, p1 - p0);
    }
    if (j->pool) /* positions p0 .. p1 are whole rows, p0 an even one */
        fer_maxpool_rows(j->pool, j->shortcut ? j->shortcut->out + b * l->out_size : dst,
                         j->pool->out + b * j->pool->out_size, f0, f1, (int)(p0 / l->out_w),
                         (int)(p1 / l->out_w));
}

/* One face on all threads (fer_winograd_forward_shared's finish): image `image` of a job. */
struct shared_finish {
    const struct finish_job *job;
    size_t image;
};

static void finish_shared(void *arg, float *dst, int f0, int f1, size_t p0, size_t p1)
{
    const struct shared_finish *s = arg;
    finish_channels(s->job, s->image, dst, f0, f1, p0, p1);
}

/* Images first .. first + n - 1 of the job, whole. */
static void finish_images(const struct finish_job *j, size_t first, size_t n, float *dst)
{
    const size_t hw = (size_t)j->l->out_h * (size_t)j->l->out_w;
    for (size_t g = 0; g < n; g++)
        finish_channels(j, first + g, dst + g * j->l->out_size, 0, j->l->out_c, 0, hw);
}

static void forward_task(void *arg, size_t b, int thread)
{
    struct conv_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t kdim = (size_t)l->in_c * (size_t)(l->size * l->size);
    const size_t n = (size_t)l->out_h * (size_t)l->out_w;
    const float *in = j->p->in + b * l->in_size;
    float *dst = j->dst + b * l->out_size;
    const float *col = in;
    float *scratch = j->p->scratch[thread];
    if (j->path == PATH_STEM) {
        fer_stem_forward(l, in, dst, 0, l->out_c, scratch);
        finish_images(j->fin, b, 1, dst);
        return;
    }
    if (j->path == PATH_WINOGRAD) {
        /* task b is a group of images (fer_conv_forward) */
        const int first = (int)b * j->group;
        const int images = j->p->batch - first < j->group ? j->p->batch - first : j->group;
        in = j->p->in + (size_t)first * l->in_size;
        dst = j->dst + (size_t)first * l->out_size;
        fer_winograd_forward(l, in, images, dst, scratch);
        finish_images(j->fin, (size_t)first, (size_t)images, dst);
        return;
    }
    if (j->path == PATH_PACKED) {
        size_t ld;
        const float *bm = packed_columns(l, in, scratch, &ld);
        fer_small_gemm(l->out_c, (int)n, (int)kdim, l->infer_w.filters, bm, ld, dst, n);
    } else {
        if (!is_pointwise(l)) {
            im2col(in, l->in_c, l->in_h, l->in_w, l->size, l->stride, l->pad, l->out_h, l->out_w,
                   scratch, n);
            col = scratch;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out_c, (int)n, (int)kdim, 1.0f,
                    l->w, (int)kdim, col, (int)n, 0.0f, dst, (int)n);
    }
    finish_images(j->fin, b, 1, dst);
}

/* One face over the pool on the packed product or the stem: the layer, its input and output, the
 * threads' scratch, and what the thread that made a channel does to it. */
struct face_share_job {
    const struct fer_layer *l;
    const float *in;
    float *dst, **scratch;
    struct shared_finish fin;
};

/* The packed product (a 1x1 projection, a strided convolution), the units the filters' panels of
 * FER_GEMM_MR rows: each range makes its own columns and finishes the channels it made. The same
 * values as the one-thread product. */
static void packed_shared_range(void *arg, size_t p0, size_t p1, int thread)
{
    const struct face_share_job *j = arg;
    const struct fer_layer *l = j->l;
    const size_t kdim = (size_t)l->in_c * (size_t)(l->size * l->size);
    const size_t n = (size_t)l->out_h * (size_t)l->out_w;
    const int f0 = (int)p0 * FER_GEMM_MR;
    const int f1 = (int)p1 * FER_GEMM_MR < l->out_c ? (int)p1 * FER_GEMM_MR : l->out_c;
    size_t ld;
    const float *bm = packed_columns(l, j->in, j->scratch[thread], &ld);
    fer_small_gemm(f1 - f0, (int)n, (int)kdim, l->infer_w.filters + (size_t)f0 * kdim, bm, ld,
                   j->dst + (size_t)f0 * n, n);
    finish_channels(j->fin.job, j->fin.image, j->dst, f0, f1, 0, n);
}

/* The stem, the units pairs of filters (its kernel's step): each range made, then finished. */
static void stem_shared_range(void *arg, size_t p0, size_t p1, int thread)
{
    const struct face_share_job *j = arg;
    const int f0 = 2 * (int)p0, f1 = 2 * (int)p1 < j->l->out_c ? 2 * (int)p1 : j->l->out_c;
    fer_stem_forward(j->l, j->in, j->dst, f0, f1, j->scratch[thread]);
    finish_channels(j->fin.job, j->fin.image, j->dst, f0, f1, 0,
                    (size_t)j->l->out_h * (size_t)j->l->out_w);
}

/* The weights packed for fer_small_gemm, made again when the weights may have changed; 0 when
 * out of memory. */
static int prepare_packed(struct fer_layer *l, uint64_t gen)
{
    struct fer_filter_cache *c = &l->infer_w;
    if (fer_filter_cache_fresh(c, l->w, l->n_w, gen))
        return 1;
    const int k = l->in_c * l->size * l->size;
    if (!c->filters &&
        !(c->filters = fer_alloc_aligned(fer_small_gemm_packed_size(l->out_c, k), sizeof(float))))
        return 0;
    fer_small_gemm_pack(l->w, l->out_c, k, (size_t)k, c->filters);
    fer_filter_cache_made(c, l->w, l->n_w, gen);
    return 1;
}

void fer_conv_forward(struct fer_layer *l, struct fer_pass *p)
{
    enum conv_path path = PATH_BLAS;
    if (p->own_kernels) {
        if (fer_stem_fits(l))
            path = PATH_STEM;
        else if (fer_winograd_fits(l))
            path = fer_winograd_prepare(l, p->weights_gen) ? PATH_WINOGRAD : PATH_BLAS;
        else
            path = prepare_packed(l, p->weights_gen) ? PATH_PACKED : PATH_BLAS;
    }
    /* training keeps the output before batch norm (xhat) for the backward pass; inference
     * writes it where batch norm then works in place */
    const struct finish_job fin = finish_job_of(l, p);
    struct conv_job j = {.l = l,
                         .p = p,
                         .fin = &fin,
                         .path = path,
                         .group = 1,
                         .dst = l->batch_norm && p->training ? l->xhat : l->out};
    size_t tasks = (size_t)p->batch;
    const int threads = p->pool ? fer_pool_threads(p->pool) : 1;
    if (path != PATH_BLAS && p->batch < threads) {
        /* fewer images than threads (one face): each image on all of them, each thread
         * finishing the channels it made while they are in its cache */
        for (int b = 0; b < p->batch; b++) {
            const float *in = p->in + (size_t)b * l->in_size;
            float *dst = j.dst + (size_t)b * l->out_size;
            struct shared_finish sf = {&fin, (size_t)b};
            if (path == PATH_WINOGRAD) {
                fer_winograd_forward_shared(l, in, dst, p->scratch, p->pool, finish_shared, &sf);
            } else {
                struct face_share_job fs = {l, in, dst, p->scratch, sf};
                if (path == PATH_STEM)
                    fer_pool_run_split(p->pool, (size_t)(l->out_c + 1) / 2, stem_shared_range, &fs);
                else
                    fer_pool_run_split(p->pool, (size_t)(l->out_c + FER_GEMM_MR - 1) / FER_GEMM_MR,
                                       packed_shared_range, &fs);
            }
        }
        tasks = 0;
    } else if (path == PATH_WINOGRAD) {
        /* images in groups, but never fewer groups than threads to share them */
        const int per_thread = (p->batch + threads - 1) / threads, most = fer_winograd_group(l);
        j.group = per_thread < most ? per_thread : most;
        tasks = (size_t)((p->batch + j.group - 1) / j.group);
    }
    if (tasks)
        fer_pool_run(p->pool, tasks, forward_task, &j);
    if (l->batch_norm && p->training) {
        fer_bn_forward(l, p);
        fer_activate(l, p);
    }
}

/* Bias gradient of a conv without BN: sum of delta over images and positions. */
static void bias_grad(struct fer_layer *l, int batch)
{
    const size_t n = (size_t)l->out_h * (size_t)l->out_w;
    for (int f = 0; f < l->out_c; f++) {
        double s = 0;
        for (int b = 0; b < batch; b++) {
            const float *d = l->delta + (size_t)b * l->out_size + (size_t)f * n;
            float part = 0;
            for (size_t i = 0; i < n; i++)
                part += d[i];
            s += (double)part;
        }
        l->db[f] += (float)s;
    }
}

static void backward_task(void *arg, size_t g, int thread)
{
    struct conv_job *j = arg;
    struct fer_layer *l = j->l;
    struct fer_pass *p = j->p;
    const size_t kdim = (size_t)l->in_c * (size_t)(l->size * l->size);
    const size_t n = (size_t)l->out_h * (size_t)l->out_w;
    const size_t part_floats = j->wino_grad ? fer_winograd_grad_floats(l) : l->n_w;
    float *part = p->parts + g * part_floats;
    memset(part, 0, sizeof(float) * part_floats);
    float *scratch = p->scratch[thread];
    /* where the input's gradient works: after the columns, which Winograd does not need */
    float *work = j->wino_grad ? scratch : scratch + kdim * n, *dcol = work;
    size_t b0 = (size_t)p->batch * g / (size_t)j->groups;
    size_t b1 = (size_t)p->batch * (g + 1) / (size_t)j->groups;
    for (size_t b = b0; b < b1; b++) {
        const float *in = p->in + b * l->in_size;
        const float *delta = l->delta + b * l->out_size;
        if (j->wino_grad) {
            fer_winograd_weight_grad_image(l, in, delta, part, scratch);
        } else {
            const float *col = in;
            if (!is_pointwise(l)) {
                im2col(in, l->in_c, l->in_h, l->in_w, l->size, l->stride, l->pad, l->out_h,
                       l->out_w, scratch, n);
                col = scratch;
            }
            /* part (F, K) += delta (F, N) · colᵀ (N, K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->out_c, (int)kdim, (int)n, 1.0f,
                        delta, (int)n, col, (int)n, 1.0f, part, (int)kdim);
        }
        if (!p->in_delta)
            continue;
        float *din = p->in_delta + b * l->in_size;
        if (j->path == PATH_WINOGRAD) {
            fer_winograd_backward(l, delta, din, work);
        } else if (is_pointwise(l)) {
            /* din (C, N) += Wᵀ (C, F) · delta (F, N) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)n, l->out_c, 1.0f,
                        l->w, (int)kdim, delta, (int)n, 1.0f, din, (int)n);
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kdim, (int)n, l->out_c, 1.0f,
                        l->w, (int)kdim, delta, (int)n, 0.0f, dcol, (int)n);
            col2im_add(dcol, l->in_c, l->in_h, l->in_w, l->size, l->stride, l->pad, l->out_h,
                       l->out_w, din);
        }
    }
}

/* dst[i] += the groups' parts (n floats each) in group order, chunk by chunk. */
struct reduce_job {
    float *dst;
    const float *parts;
    size_t n;
    int groups;
    size_t chunk;
};

static void reduce_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct reduce_job *r = arg;
    size_t i0 = t * r->chunk, i1 = i0 + r->chunk;
    if (i1 > r->n)
        i1 = r->n;
    for (int g = 0; g < r->groups; g++) {
        const float *part = r->parts + (size_t)g * r->n;
        for (size_t i = i0; i < i1; i++)
            r->dst[i] += part[i];
    }
}

void fer_conv_backward(struct fer_layer *l, struct fer_pass *p)
{
    if (l->batch_norm) {
        fer_activate_backward(l, p);
        fer_bn_backward(l, p);
    } else {
        fer_activate_backward(l, p);
        bias_grad(l, p->batch);
    }
    int groups = p->batch < FER_GRAD_PARTS ? p->batch : FER_GRAD_PARTS;
    /* the input's gradient: Winograd where it pays, else Wᵀ · delta and col2im */
    enum conv_path path = PATH_BLAS;
    if (p->in_delta && p->own_kernels && fer_winograd_fits_backward(l) &&
        fer_winograd_prepare_backward(l, p->weights_gen))
        path = PATH_WINOGRAD;
    /* the weight gradient: Winograd where it pays, else delta · colᵀ */
    const int wino_grad = p->own_kernels && fer_winograd_fits_grad(l);
    struct conv_job j = {
        .l = l, .p = p, .groups = groups, .path = path, .wino_grad = wino_grad, .group = 1};
    fer_pool_run(p->pool, (size_t)groups, backward_task, &j);
    if (!wino_grad) {
        struct reduce_job r = {l->dw, p->parts, l->n_w, groups, 4096};
        fer_pool_run(p->pool, (r.n + r.chunk - 1) / r.chunk, reduce_task, &r);
        return;
    }
    /* the groups' sums in the transformed domain into the first, in group order, then back */
    const size_t n = fer_winograd_grad_floats(l);
    struct reduce_job r = {p->parts, p->parts + n, n, groups - 1, 4096};
    fer_pool_run(p->pool, (r.n + r.chunk - 1) / r.chunk, reduce_task, &r);
    fer_winograd_weight_grad_finish(l, p->parts, l->dw);
}

/* [convolutional] (or [conv]): filters=F size=k stride=s pad=p batch_normalize=0|1. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    int bad = 0;
    l->out_c = fer_spec_int(s, "filters", 0, 1, 8192, spec->file, &bad, spec->err);
    l->size = fer_spec_int(s, "size", 3, 1, 15, spec->file, &bad, spec->err);
    l->stride = fer_spec_int(s, "stride", 1, 1, 8, spec->file, &bad, spec->err);
    l->pad = fer_spec_int(s, "pad", l->size / 2, 0, 15, spec->file, &bad, spec->err);
    l->batch_norm = fer_spec_int(s, "batch_normalize", 0, 0, 1, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    if (l->out_c == 0)
        return fer_errorf(spec->err, FER_ERR_FORMAT, "%s:%d: [%s] needs filters=N", spec->file,
                          s->line, s->type);
    l->out_h = (l->in_h + 2 * l->pad - l->size) / l->stride + 1;
    l->out_w = (l->in_w + 2 * l->pad - l->size) / l->stride + 1;
    l->n_w = (size_t)l->out_c * (size_t)l->in_c * (size_t)(l->size * l->size);
    return FER_OK;
}

static void sizes(const struct fer_layer *l, struct fer_layer_sizes *sz)
{
    sz->weights = l->n_w;
    sz->biases = (size_t)l->out_c; /* unused with batch norm, whose beta takes its place */
    if (l->batch_norm)
        fer_bn_sizes(l, sz);
    sz->scratch = fer_conv_scratch(l);
    /* the weight gradient by Winograd sums 16 x C x F floats per group */
    size_t wino = fer_winograd_grad_floats(l);
    sz->grad_part = wino > l->n_w ? wino : l->n_w;
}

static void carve(struct fer_layer *l, size_t batch, struct fer_carve *c)
{
    if (l->batch_norm)
        fer_bn_carve(l, batch, c);
}

static double flops(const struct fer_layer *l)
{
    return 2.0 * (double)l->n_w * l->out_h * l->out_w;
}

static void describe(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "%dx%d/%d%s", l->size, l->size, l->stride, l->batch_norm ? " bn" : "");
}

/* Conv with batch norm folded into its weights and bias: w' = w gamma / sqrt(var + eps) per
 * output channel, b' = beta - mean gamma / sqrt(var + eps), as inference computes it. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const size_t per_out = l->n_w / (size_t)l->out_c;
    float *w = fer_malloc(l->n_w * sizeof *w), *b = fer_malloc((size_t)l->out_c * sizeof *b);
    if (!w || !b) {
        fer_onnx_fail(g, FER_ERR_NOMEM, "out of memory writing layer %d", l->index);
    } else {
        memcpy(w, l->w, l->n_w * sizeof *w);
        for (int o = 0; o < l->out_c; o++) {
            b[o] = l->b ? l->b[o] : 0;
            if (!l->batch_norm)
                continue;
            const float scale = l->gamma[o] / sqrtf(l->run_var[o] + FER_BN_EPS);
            for (size_t i = 0; i < per_out; i++)
                w[(size_t)o * per_out + i] *= scale;
            b[o] = l->b[o] - l->run_mean[o] * scale;
        }
        fer_onnx_set_output(g, l, fer_onnx_conv(g, l, 1, w, b));
    }
    fer_free(w);
    fer_free(b);
}

const struct fer_layer_ops fer_conv_ops = {
    .section = "convolutional",
    .alias = "conv",
    .name = "conv",
    .type = FER_LAYER_CONV,
    .configure = configure,
    .sizes = sizes,
    .carve = carve,
    .flops = flops,
    .describe = describe,
    .forward = fer_conv_forward,
    .backward = fer_conv_backward,
    .to_onnx = to_onnx,
};
