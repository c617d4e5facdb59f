/*
 * batchnorm.c - batch normalisation (Ioffe & Szegedy 2015) over N x C x HW.
 *
 * Training uses the batch statistics and updates running estimates with
 * the pass's momentum (FER_BN_MOMENTUM unless the net sets another;
 * unbiased variance, as PyTorch does); inference
 * uses the running estimates. Work is split by channel; each channel's sums
 * run in a fixed order, so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "nn/layer.h"

struct bn_job {
    struct fer_layer *l;
    struct fer_pass *p;
};

static void forward_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    const int batch = j->p->batch;
    float mean, invstd;
    if (j->p->training) {
        double s = 0, ss = 0;
        for (int b = 0; b < batch; b++) {
            const float *x = l->xhat + (size_t)b * l->out_size + c * hw;
            float ps = 0;
            for (size_t i = 0; i < hw; i++)
                ps += x[i];
            s += (double)ps;
        }
        double count = (double)batch * (double)hw;
        double m = s / count;
        for (int b = 0; b < batch; b++) {
            const float *x = l->xhat + (size_t)b * l->out_size + c * hw;
            float pss = 0;
            for (size_t i = 0; i < hw; i++) {
                float d = x[i] - (float)m;
                pss += d * d;
            }
            ss += (double)pss;
        }
        double var = ss / count;
        mean = (float)m;
        invstd = (float)(1.0 / sqrt(var + (double)FER_BN_EPS));
        l->bn_mean[c] = mean;
        l->bn_invstd[c] = invstd;
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        const float mo = j->p->bn_momentum;
        l->run_mean[c] = (1 - mo) * l->run_mean[c] + mo * mean;
        l->run_var[c] = (1 - mo) * l->run_var[c] + mo * (float)unbiased;
    } else {
        mean = l->run_mean[c];
        invstd = 1.0f / sqrtf(l->run_var[c] + FER_BN_EPS);
    }
    const float g = l->gamma[c], beta = l->b[c];
    for (int b = 0; b < batch; b++) {
        float *x = l->xhat + (size_t)b * l->out_size + c * hw;
        float *y = l->out + (size_t)b * l->out_size + c * hw;
        for (size_t i = 0; i < hw; i++) {
            float xh = (x[i] - mean) * invstd;
            x[i] = xh;
            y[i] = g * xh + beta;
        }
    }
}

void fer_bn_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct bn_job j = {l, p};
    fer_pool_run(p->pool, (size_t)l->out_c, forward_channel, &j);
}

static void backward_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    const int batch = j->p->batch;
    double sum_dy = 0, sum_dy_xh = 0;
    for (int b = 0; b < batch; b++) {
        const float *d = l->delta + (size_t)b * l->out_size + c * hw;
        const float *xh = l->xhat + (size_t)b * l->out_size + c * hw;
        float s1 = 0, s2 = 0;
        for (size_t i = 0; i < hw; i++) {
            s1 += d[i];
            s2 += d[i] * xh[i];
        }
        sum_dy += (double)s1;
        sum_dy_xh += (double)s2;
    }
    l->db[c] += (float)sum_dy;
    l->dgamma[c] += (float)sum_dy_xh;
    const double count = (double)batch * (double)hw;
    const float scale = l->gamma[c] * l->bn_invstd[c];
    const float mean_dy = (float)(sum_dy / count), mean_dy_xh = (float)(sum_dy_xh / count);
    for (int b = 0; b < batch; b++) {
        float *d = l->delta + (size_t)b * l->out_size + c * hw;
        const float *xh = l->xhat + (size_t)b * l->out_size + c * hw;
        for (size_t i = 0; i < hw; i++)
            d[i] = scale * (d[i] - mean_dy - xh[i] * mean_dy_xh);
    }
}

void fer_bn_backward(struct fer_layer *l, struct fer_pass *p)
{
    struct bn_job j = {l, p};
    fer_pool_run(p->pool, (size_t)l->out_c, backward_channel, &j);
}

void fer_bn_sizes(const struct fer_layer *l, struct fer_layer_sizes *sz)
{
    sz->biases = (size_t)l->out_c; /* beta */
    sz->gammas = (size_t)l->out_c;
    sz->stat_channels = (size_t)l->out_c;
}

void fer_bn_carve(struct fer_layer *l, size_t batch, struct fer_carve *c)
{
    l->xhat = fer_carve_floats(c, batch * l->out_size);
    l->bn_mean = fer_carve_floats(c, (size_t)l->out_c);
    l->bn_invstd = fer_carve_floats(c, (size_t)l->out_c);
}

/* The standalone [batchnorm] layer: input copied to xhat, normalised, activated. */
void fer_batchnorm_forward(struct fer_layer *l, struct fer_pass *p)
{
    memcpy(l->xhat, p->in, sizeof(float) * l->out_size * (size_t)p->batch);
    fer_bn_forward(l, p);
    fer_activate(l, p);
}

void fer_batchnorm_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    fer_bn_backward(l, p);
    if (p->in_delta) {
        size_t n = l->out_size * (size_t)p->batch;
        for (size_t i = 0; i < n; i++)
            p->in_delta[i] += l->delta[i];
    }
}

/* [batchnorm]: no keys besides the activation; the shape stays. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    (void)spec;
    l->out_c = l->in_c;
    l->out_h = l->in_h;
    l->out_w = l->in_w;
    return FER_OK;
}

/* BatchNormalization on the running statistics, then the activation. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const int64_t dims[1] = {l->out_c};
    const char *args[5] = {fer_onnx_input(g, l), fer_onnx_tensor(g, l, "gamma", 1, dims, l->gamma),
                           fer_onnx_tensor(g, l, "beta", 1, dims, l->b),
                           fer_onnx_tensor(g, l, "running_mean", 1, dims, l->run_mean),
                           fer_onnx_tensor(g, l, "running_var", 1, dims, l->run_var)};
    for (int i = 1; i < 5; i++)
        if (!args[i])
            return;
    struct fer_onnx_node *bn = fer_onnx_node(g, l, "BatchNormalization", 5, args);
    fer_onnx_attr_float(bn, "epsilon", FER_BN_EPS);
    fer_onnx_set_output(g, l, fer_onnx_activation(g, l, fer_onnx_node_output(bn)));
}

const struct fer_layer_ops fer_batchnorm_ops = {
    .section = "batchnorm",
    .name = "bn",
    .type = FER_LAYER_BATCHNORM,
    .configure = configure,
    .sizes = fer_bn_sizes,
    .carve = fer_bn_carve,
    .forward = fer_batchnorm_forward,
    .backward = fer_batchnorm_backward,
    .to_onnx = to_onnx,
};
