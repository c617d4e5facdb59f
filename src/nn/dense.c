/*
 * dense.c - fully connected layer.
 *
 * Shapes: in X (N, I), weights W (O, I), bias (O), out Y (N, O).
 *   Y   = X · Wᵀ + b              split over rows of the batch; one face (fer's own
 *                                 kernels): over outputs, fer_small_gemv
 *   dW += dYᵀ · X                 split over rows of W
 *   db += column sums of dY
 *   dX += dY · W                  split over rows of the batch
 * Each task owns distinct output rows, so results do not depend on threads.
 */
#include <string.h>

#include "nn/blas.h"
#include "nn/layer.h"
#include "nn/small_gemm.h"

#define ROWS_PER_TASK 16

struct dense_job {
    struct fer_layer *l;
    struct fer_pass *p;
    int rows; /* rows of the matrix being split */
};

static void forward_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct dense_job *j = arg;
    struct fer_layer *l = j->l;
    int r0 = (int)t * ROWS_PER_TASK,
        r1 = r0 + ROWS_PER_TASK < j->rows ? r0 + ROWS_PER_TASK : j->rows;
    int in = (int)l->in_size, out = l->out_c;
    float *y = l->out + (size_t)r0 * (size_t)out;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, out, in, 1.0f,
                j->p->in + (size_t)r0 * (size_t)in, in, l->w, in, 0.0f, y, out);
    for (int r = 0; r < r1 - r0; r++) {
        float *row = y + (size_t)r * (size_t)out;
        for (int o = 0; o < out; o++) {
            float v = row[o] + l->b[o];
            row[o] = (l->act == FER_ACT_RELU && v < 0) ? 0 : v;
        }
    }
}

/* One face: task t the outputs t * OUTPUTS_PER_TASK .., each a dot product of a weight row. */
#define OUTPUTS_PER_TASK 64
static void one_row_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct dense_job *j = arg;
    struct fer_layer *l = j->l;
    const int o0 = (int)t * OUTPUTS_PER_TASK;
    const int o1 = o0 + OUTPUTS_PER_TASK < l->out_c ? o0 + OUTPUTS_PER_TASK : l->out_c;
    const size_t in = l->in_size;
    fer_small_gemv(o1 - o0, (int)in, l->w + (size_t)o0 * in, in, j->p->in, l->out + o0);
    for (int o = o0; o < o1; o++) {
        const float v = l->out[o] + l->b[o];
        l->out[o] = (l->act == FER_ACT_RELU && v < 0) ? 0 : v;
    }
}

void fer_dense_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct dense_job j = {l, p, p->batch};
    if (p->batch == 1 && p->own_kernels) /* fer's own kernels by default: see small_gemm.h */
        fer_pool_run(p->pool, (size_t)(l->out_c + OUTPUTS_PER_TASK - 1) / OUTPUTS_PER_TASK,
                     one_row_task, &j);
    else
        fer_pool_run(p->pool, (size_t)(p->batch + ROWS_PER_TASK - 1) / ROWS_PER_TASK, forward_task,
                     &j);
}

static void weight_grad_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct dense_job *j = arg;
    struct fer_layer *l = j->l;
    int batch = j->p->batch, in = (int)l->in_size, out = l->out_c;
    int o0 = (int)t * ROWS_PER_TASK, o1 = o0 + ROWS_PER_TASK < out ? o0 + ROWS_PER_TASK : out;
    /* dW[o0:o1] (rows, I) += dY[:, o0:o1]ᵀ (rows, N) · X (N, I) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, in, batch, 1.0f, l->delta + o0,
                out, j->p->in, in, 1.0f, l->dw + (size_t)o0 * (size_t)in, in);
    for (int o = o0; o < o1; o++) {
        float s = 0;
        for (int b = 0; b < batch; b++)
            s += l->delta[(size_t)b * (size_t)out + (size_t)o];
        l->db[o] += s;
    }
}

static void input_grad_task(void *arg, size_t t, int thread)
{
    (void)thread;
    struct dense_job *j = arg;
    struct fer_layer *l = j->l;
    int batch = j->p->batch, in = (int)l->in_size, out = l->out_c;
    int r0 = (int)t * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK < batch ? r0 + ROWS_PER_TASK : batch;
    /* dX[r0:r1] (rows, I) += dY[r0:r1] (rows, O) · W (O, I) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, in, out, 1.0f,
                l->delta + (size_t)r0 * (size_t)out, out, l->w, in, 1.0f,
                j->p->in_delta + (size_t)r0 * (size_t)in, in);
}

void fer_dense_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    struct dense_job j = {l, p, l->out_c};
    fer_pool_run(p->pool, (size_t)(l->out_c + ROWS_PER_TASK - 1) / ROWS_PER_TASK, weight_grad_task,
                 &j);
    if (p->in_delta) {
        j.rows = p->batch;
        fer_pool_run(p->pool, (size_t)(p->batch + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                     input_grad_task, &j);
    }
}

/* [dense] (or [connected]): output=N, or output=classes for the logits. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    int bad = 0;
    const char *o = fer_spec_str(s, "output", NULL);
    if (o && strcmp(o, "classes") == 0)
        l->out_c = spec->n_logits;
    else
        l->out_c = fer_spec_int(s, "output", 0, 1, 1 << 20, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    if (l->out_c == 0)
        return fer_errorf(spec->err, FER_ERR_FORMAT, "%s:%d: [%s] needs output=N or output=classes",
                          spec->file, s->line, s->type);
    l->out_h = l->out_w = 1;
    l->n_w = (size_t)l->out_c * (size_t)l->in_c * (size_t)l->in_h * (size_t)l->in_w;
    return FER_OK;
}

static void sizes(const struct fer_layer *l, struct fer_layer_sizes *sz)
{
    sz->weights = l->n_w;
    sz->biases = (size_t)l->out_c;
}

static double flops(const struct fer_layer *l)
{
    return 2.0 * (double)l->n_w;
}

/* Flatten, then Gemm with W (out x in) transposed: Y = X W^T + b. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const char *in = fer_onnx_input(g, l);
    struct fer_onnx_node *flat = fer_onnx_node(g, l, "Flatten", 1, &in);
    fer_onnx_attr_int(flat, "axis", 1);
    const int64_t wdims[2] = {l->out_c, (int64_t)(l->n_w / (size_t)l->out_c)};
    const int64_t bdims[1] = {l->out_c};
    const char *args[3] = {fer_onnx_node_output(flat),
                           fer_onnx_tensor(g, l, "weight", 2, wdims, l->w),
                           fer_onnx_tensor(g, l, "bias", 1, bdims, l->b)};
    if (!args[0] || !args[1] || !args[2])
        return;
    struct fer_onnx_node *gemm = fer_onnx_node(g, l, "Gemm", 3, args);
    fer_onnx_attr_int(gemm, "transB", 1);
    fer_onnx_set_output(g, l, fer_onnx_activation(g, l, fer_onnx_node_output(gemm)));
}

const struct fer_layer_ops fer_dense_ops = {
    .section = "dense",
    .alias = "connected",
    .name = "dense",
    .type = FER_LAYER_DENSE,
    .configure = configure,
    .sizes = sizes,
    .flops = flops,
    .forward = fer_dense_forward,
    .backward = fer_dense_backward,
    .to_onnx = to_onnx,
};
