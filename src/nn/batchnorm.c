/*
 * batchnorm.c - batch normalisation (Ioffe & Szegedy 2015) over N x C x HW.
 *
 * Training uses the batch statistics and updates running estimates with
 * the pass's momentum (FER_BN_MOMENTUM unless the net sets another;
 * unbiased variance, as PyTorch does); inference
 * uses the running estimates. Work is split by channel; each channel's sums
 * run in a fixed order, so results do not depend on the thread count. In a
 * group of processes training together (net.h), the sums are taken over all
 * of them: synchronised batch norm.
 */
#include <math.h>
#include <string.h>

#include "nn/layer.h"

struct bn_job {
    struct fer_layer *l;
    struct fer_pass *p;
    double count; /* values per channel in the batch: images (of every process) x h x w */
};

/* The images whose values a channel's statistics count: the batch, or with a group (net.h) the
   global batch. */
static double channel_count(const struct fer_layer *l, const struct fer_pass *p)
{
    const int images = p->group ? p->group->global_batch : p->batch;
    return (double)images * (double)l->out_h * (double)l->out_w;
}

/* Adds n doubles over the group's processes, when there is a group. */
static void group_sum(const struct fer_pass *p, double *v, size_t n)
{
    if (p->group)
        p->group->sum(p->group->ctx, v, n);
}

/* stats[c] = the sum of channel c over the batch. */
static void sum_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    double s = 0;
    for (int b = 0; b < j->p->batch; b++) {
        const float *x = l->xhat + (size_t)b * l->out_size + c * hw;
        float ps = 0;
        for (size_t i = 0; i < hw; i++)
            ps += x[i];
        s += (double)ps;
    }
    j->p->stats[c] = s;
}

/* stats[C + c] = the sum of squared deviations of channel c from its mean, stats[c] / count. */
static void square_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    const float m = (float)(j->p->stats[c] / j->count);
    double ss = 0;
    for (int b = 0; b < j->p->batch; b++) {
        const float *x = l->xhat + (size_t)b * l->out_size + c * hw;
        float pss = 0;
        for (size_t i = 0; i < hw; i++) {
            float d = x[i] - m;
            pss += d * d;
        }
        ss += (double)pss;
    }
    j->p->stats[(size_t)l->out_c + c] = ss;
}

/* The batch's mean and variance of channel c: kept for backward, and in the running
   estimates. */
static void record_channel(struct bn_job *j, size_t c)
{
    struct fer_layer *l = j->l;
    const double count = j->count, m = j->p->stats[c] / count;
    const double var = j->p->stats[(size_t)l->out_c + c] / count;
    l->bn_mean[c] = (float)m;
    l->bn_invstd[c] = (float)(1.0 / sqrt(var + (double)FER_BN_EPS));
    double unbiased = count > 1 ? var * count / (count - 1) : var;
    const float mo = j->p->bn_momentum;
    l->run_mean[c] = (1 - mo) * l->run_mean[c] + mo * (float)m;
    l->run_var[c] = (1 - mo) * l->run_var[c] + mo * (float)unbiased;
}

static void normalise_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    float mean, invstd;
    if (j->p->training) {
        record_channel(j, c);
        mean = l->bn_mean[c];
        invstd = l->bn_invstd[c];
    } else {
        mean = l->run_mean[c];
        invstd = 1.0f / sqrtf(l->run_var[c] + FER_BN_EPS);
    }
    const float g = l->gamma[c], beta = l->b[c];
    for (int b = 0; b < j->p->batch; b++) {
        float *x = l->xhat + (size_t)b * l->out_size + c * hw;
        float *y = l->out + (size_t)b * l->out_size + c * hw;
        for (size_t i = 0; i < hw; i++) {
            float xh = (x[i] - mean) * invstd;
            x[i] = xh;
            y[i] = g * xh + beta;
        }
    }
}

/*
 * Training: each channel's sum, then its squared deviations from the mean, then the
 * normalisation; with a group each sum is taken over every process's images before the next
 * step uses it. Inference normalises with the running estimates.
 */
void fer_bn_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct bn_job j = {l, p, channel_count(l, p)};
    const size_t channels = (size_t)l->out_c;
    if (p->training) {
        fer_pool_run(p->pool, channels, sum_channel, &j);
        group_sum(p, p->stats, channels);
        fer_pool_run(p->pool, channels, square_channel, &j);
        group_sum(p, p->stats + channels, channels);
    }
    fer_pool_run(p->pool, channels, normalise_channel, &j);
}

/* stats[c] and stats[C + c]: the sums of dL/dy and of dL/dy * xhat over channel c; they are
   also the gradients of beta and gamma. */
static void sum_delta_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    double sum_dy = 0, sum_dy_xh = 0;
    for (int b = 0; b < j->p->batch; b++) {
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
    j->p->stats[c] = sum_dy;
    j->p->stats[(size_t)l->out_c + c] = sum_dy_xh;
}

static void backward_channel(void *arg, size_t c, int thread)
{
    (void)thread;
    struct bn_job *j = arg;
    struct fer_layer *l = j->l;
    const size_t hw = (size_t)l->out_h * (size_t)l->out_w;
    const float scale = l->gamma[c] * l->bn_invstd[c];
    const float mean_dy = (float)(j->p->stats[c] / j->count);
    const float mean_dy_xh = (float)(j->p->stats[(size_t)l->out_c + c] / j->count);
    for (int b = 0; b < j->p->batch; b++) {
        float *d = l->delta + (size_t)b * l->out_size + c * hw;
        const float *xh = l->xhat + (size_t)b * l->out_size + c * hw;
        for (size_t i = 0; i < hw; i++)
            d[i] = scale * (d[i] - mean_dy - xh[i] * mean_dy_xh);
    }
}

/* The two sums per channel (over every process's images, with a group), then dL/dx. Beta's
   and gamma's gradients take this process's sums only: the group adds gradients itself. */
void fer_bn_backward(struct fer_layer *l, struct fer_pass *p)
{
    struct bn_job j = {l, p, channel_count(l, p)};
    const size_t channels = (size_t)l->out_c;
    fer_pool_run(p->pool, channels, sum_delta_channel, &j);
    group_sum(p, p->stats, 2 * channels);
    fer_pool_run(p->pool, channels, backward_channel, &j);
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
