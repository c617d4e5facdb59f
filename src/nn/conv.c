/*
 * conv.c - 2-D convolution as im2col + GEMM (Chellapilla et al. 2006; darknet).
 *
 * Shapes, for a group of n images of N = OH*OW output positions each:
 *   in    n x (C, H, W)         weights W (F, K) with K = C*k*k
 *   col   (K, n*N)              im2col of each image, side by side
 *   out   (F, n*N) = W · col    then scattered back to n x (F, OH, OW)
 *   dW   += delta (F, n*N) · colᵀ
 *   dcol  = Wᵀ · delta;  din += col2im(dcol)
 * Large feature maps use one image per GEMM (at 48x48 that is fastest, see
 * PERFORMANCE.md); small ones group images until a GEMM has about
 * GEMM_COLUMNS columns, because a 5x5 map alone makes a 25-column GEMM that
 * no BLAS runs well. Weight gradients are summed per fixed image range into
 * p->parts and reduced in range order, so results do not depend on threads.
 */
#include <string.h>

#include "nn/blas.h"
#include "nn/layer.h"

#define GEMM_COLUMNS 1024
#define MAX_GROUP    64

static size_t positions(const struct fer_layer *l)
{
    return (size_t)l->out_h * (size_t)l->out_w;
}

static size_t kdim(const struct fer_layer *l)
{
    return (size_t)l->in_c * (size_t)(l->size * l->size);
}

/* Images per GEMM for this layer. */
static int group_size(const struct fer_layer *l)
{
    size_t g = (GEMM_COLUMNS + positions(l) - 1) / positions(l);
    return g > MAX_GROUP ? MAX_GROUP : (int)g;
}

static int is_pointwise(const struct fer_layer *l)
{
    return l->size == 1 && l->stride == 1 && l->pad == 0;
}

size_t fer_conv_scratch(const struct fer_layer *l)
{
    size_t cols = (size_t)group_size(l) * positions(l);
    return 2 * kdim(l) * cols + (size_t)l->out_c * cols; /* col, dcol, gathered out/delta */
}

/*
 * col rows (C*k*k of them, `ld` floats apart) receive this image's OH*OW
 * columns; positions outside the image are zero.
 */
static void im2col(const float *in, const struct fer_layer *l, float *col, size_t ld)
{
    const int c = l->in_c, h = l->in_h, w = l->in_w, k = l->size, stride = l->stride;
    const int pad = l->pad, oh = l->out_h, ow = l->out_w;
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + (size_t)((ch * k + ki) * k + kj) * ld;
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

/* in (C, H, W) += col2im(col), the adjoint of im2col; col rows are `ld` apart. */
static void col2im_add(const float *col, const struct fer_layer *l, size_t ld, float *in)
{
    const int c = l->in_c, h = l->in_h, w = l->in_w, k = l->size, stride = l->stride;
    const int pad = l->pad, oh = l->out_h, ow = l->out_w;
    for (int ch = 0; ch < c; ch++) {
        float *dst = in + (size_t)ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                const float *src = col + (size_t)((ch * k + ki) * k + kj) * ld;
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

struct conv_job {
    struct fer_layer *l;
    struct fer_pass *p;
    float *dst; /* forward: where W·col goes (out, or xhat before BN) */
    int group;  /* images per GEMM */
    int parts;  /* backward: image ranges with their own weight-gradient sums */
};

/* Bias and activation of one image's output, when there is no batch norm. */
static void bias_act(const struct fer_layer *l, float *dst)
{
    const size_t n = positions(l);
    for (int f = 0; f < l->out_c; f++) {
        float bias = l->b[f];
        float *row = dst + (size_t)f * n;
        for (size_t i = 0; i < n; i++)
            row[i] += bias;
        if (l->act == FER_ACT_RELU)
            for (size_t i = 0; i < n; i++)
                row[i] = row[i] > 0 ? row[i] : 0;
    }
}

static void forward_task(void *arg, size_t t, int thread)
{
    struct conv_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t K = kdim(l), N = positions(l);
    const size_t b0 = t * (size_t)j->group;
    const size_t b1 = b0 + (size_t)j->group < (size_t)j->p->batch ? b0 + (size_t)j->group
                                                                  : (size_t)j->p->batch;
    const size_t n = b1 - b0, cols = n * N;
    float *col = j->p->scratch[thread];
    float *gathered = col + 2 * K * (size_t)j->group * N;
    const float *a = col;
    if (n == 1 && is_pointwise(l))
        a = j->p->in + b0 * l->in_size;
    else
        for (size_t i = 0; i < n; i++)
            im2col(j->p->in + (b0 + i) * l->in_size, l, col + i * N, cols);
    float *c = n == 1 ? j->dst + b0 * l->out_size : gathered;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->out_c, (int)cols, (int)K, 1.0f, l->w,
                (int)K, a, (int)cols, 0.0f, c, (int)cols);
    for (size_t i = 0; i < n; i++) {
        float *dst = j->dst + (b0 + i) * l->out_size;
        if (n > 1)
            for (int f = 0; f < l->out_c; f++)
                memcpy(dst + (size_t)f * N, gathered + (size_t)f * cols + i * N,
                       sizeof(float) * N);
        if (!l->batch_norm)
            bias_act(l, dst);
    }
}

void fer_conv_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct conv_job j = {l, p, l->batch_norm ? l->xhat : l->out, group_size(l), 0};
    fer_pool_run(p->pool, ((size_t)p->batch + (size_t)j.group - 1) / (size_t)j.group, forward_task,
                 &j);
    if (l->batch_norm) {
        fer_bn_forward(l, p);
        fer_activate(l, p);
    }
}

/* Bias gradient of a conv without BN: sum of delta over images and positions. */
static void bias_grad(struct fer_layer *l, int batch)
{
    const size_t n = positions(l);
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

/* Weight gradient (into part) and input gradient of images [b0, b0 + n). */
static void backward_group(struct conv_job *j, size_t b0, size_t n, float *part, int thread)
{
    struct fer_layer *l = j->l;
    struct fer_pass *p = j->p;
    const size_t K = kdim(l), N = positions(l), cols = n * N;
    float *col = p->scratch[thread];
    float *dcol = col + K * (size_t)j->group * N;
    float *gathered = dcol + K * (size_t)j->group * N;
    const float *delta = l->delta + b0 * l->out_size;
    if (n > 1) {
        for (size_t i = 0; i < n; i++)
            for (int f = 0; f < l->out_c; f++)
                memcpy(gathered + (size_t)f * cols + i * N,
                       l->delta + (b0 + i) * l->out_size + (size_t)f * N, sizeof(float) * N);
        delta = gathered;
    }
    const float *a = col;
    if (n == 1 && is_pointwise(l))
        a = p->in + b0 * l->in_size;
    else
        for (size_t i = 0; i < n; i++)
            im2col(p->in + (b0 + i) * l->in_size, l, col + i * N, cols);
    /* part (F, K) += delta (F, cols) · colᵀ (cols, K) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->out_c, (int)K, (int)cols, 1.0f, delta,
                (int)cols, a, (int)cols, 1.0f, part, (int)K);
    if (!p->in_delta)
        return;
    if (n == 1 && is_pointwise(l)) {
        /* din (C, N) += Wᵀ (C, F) · delta (F, N) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, l->out_c, 1.0f, l->w,
                    (int)K, delta, (int)N, 1.0f, p->in_delta + b0 * l->in_size, (int)N);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)cols, l->out_c, 1.0f, l->w,
                (int)K, delta, (int)cols, 0.0f, dcol, (int)cols);
    for (size_t i = 0; i < n; i++)
        col2im_add(dcol + i * N, l, cols, p->in_delta + (b0 + i) * l->in_size);
}

static void backward_task(void *arg, size_t part_index, int thread)
{
    struct conv_job *j = arg;
    struct fer_layer *l = j->l;
    float *part = j->p->parts + part_index * l->n_w;
    memset(part, 0, sizeof(float) * l->n_w);
    size_t b0 = (size_t)j->p->batch * part_index / (size_t)j->parts;
    size_t b1 = (size_t)j->p->batch * (part_index + 1) / (size_t)j->parts;
    for (size_t b = b0; b < b1; b += (size_t)j->group) {
        size_t n = b1 - b < (size_t)j->group ? b1 - b : (size_t)j->group;
        backward_group(j, b, n, part, thread);
    }
}

struct reduce_job {
    struct fer_layer *l;
    const float *parts;
    int n_parts;
    size_t chunk;
};

static void reduce_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct reduce_job *r = arg;
    size_t i0 = t * r->chunk, i1 = i0 + r->chunk;
    if (i1 > r->l->n_w)
        i1 = r->l->n_w;
    for (int g = 0; g < r->n_parts; g++) {
        const float *part = r->parts + (size_t)g * r->l->n_w;
        for (size_t i = i0; i < i1; i++)
            r->l->dw[i] += part[i];
    }
}

void fer_conv_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    if (l->batch_norm)
        fer_bn_backward(l, p);
    else
        bias_grad(l, p->batch);
    int parts = p->batch < FER_GRAD_PARTS ? p->batch : FER_GRAD_PARTS;
    struct conv_job j = {l, p, NULL, group_size(l), parts};
    fer_pool_run(p->pool, (size_t)parts, backward_task, &j);
    struct reduce_job r = {l, p->parts, parts, 4096};
    fer_pool_run(p->pool, (l->n_w + r.chunk - 1) / r.chunk, reduce_task, &r);
}
