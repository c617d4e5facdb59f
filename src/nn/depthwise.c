/*
 * depthwise.c - [depthwise]: a convolution of each channel with its own
 * k x k filter (groups = channels), plus a bias per channel, then the
 * activation. With a 1x1 [convolutional] after or before it, it makes the
 * depthwise-separable convolution of MobileNet (Howard et al. 2017) and of
 * the YuNet face detector. Weights are C x k x k, as PyTorch stores a
 * Conv2d(C, C, k, groups=C).
 *
 * Forward and backward split the work by image and channel; each channel's
 * weight gradient is summed over the batch in image order by one task, so
 * results do not depend on the thread count.
 */
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

struct dw_job {
    struct fer_layer *l;
    struct fer_pass *p;
};

/* Output row y of a 3x3, stride 1, pad 1 filter over one plane, in one pass over the three
 * input rows (a row outside the plane reads `zero`, w floats of 0), and the ReLU when relu;
 * the interior loop has no bounds tests and vectorises. */
static void row_3x3(const float *plane, int h, int w, const float *k, float bias, int y,
                    const float *zero, int relu, float *out)
{
    const float *r0 = y > 0 ? plane + (size_t)(y - 1) * (size_t)w : zero;
    const float *r1 = plane + (size_t)y * (size_t)w;
    const float *r2 = y + 1 < h ? plane + (size_t)(y + 1) * (size_t)w : zero;
    const float *rows[3] = {r0, r1, r2};
    if (w == 1) {
        out[0] = bias + k[1] * r0[0] + k[4] * r1[0] + k[7] * r2[0];
    } else {
        float left = bias, right = bias;
        for (int ky = 0; ky < 3; ky++) {
            left += k[ky * 3 + 1] * rows[ky][0] + k[ky * 3 + 2] * rows[ky][1];
            right += k[ky * 3] * rows[ky][w - 2] + k[ky * 3 + 1] * rows[ky][w - 1];
        }
        out[0] = left;
        out[w - 1] = right;
        for (int x = 1; x < w - 1; x++)
            out[x] = bias + k[0] * r0[x - 1] + k[1] * r0[x] + k[2] * r0[x + 1] + k[3] * r1[x - 1] +
                     k[4] * r1[x] + k[5] * r1[x + 1] + k[6] * r2[x - 1] + k[7] * r2[x] +
                     k[8] * r2[x + 1];
    }
    if (relu)
        for (int x = 0; x < w; x++)
            out[x] = out[x] > 0 ? out[x] : 0;
}

/* Any size, stride and padding: zero outside the plane. */
static void plane_generic(const struct fer_layer *l, const float *plane, const float *k, float bias,
                          float *out)
{
    const int s = l->size;
    for (int y = 0; y < l->out_h; y++)
        for (int x = 0; x < l->out_w; x++) {
            float acc = bias;
            for (int ky = 0; ky < s; ky++) {
                int iy = y * l->stride + ky - l->pad;
                if (iy < 0 || iy >= l->in_h)
                    continue;
                for (int kx = 0; kx < s; kx++) {
                    int ix = x * l->stride + kx - l->pad;
                    if (ix >= 0 && ix < l->in_w)
                        acc += k[ky * s + kx] * plane[(size_t)iy * (size_t)l->in_w + (size_t)ix];
                }
            }
            out[(size_t)y * (size_t)l->out_w + (size_t)x] = acc;
        }
}

static int is_3x3_same(const struct fer_layer *l)
{
    return l->size == 3 && l->stride == 1 && l->pad == 1;
}

/* Task i: channel i % C of image i / C. */
static void forward_task(void *arg, size_t i, int thread)
{
    struct dw_job *j = arg;
    const struct fer_layer *l = j->l;
    const size_t c = i % (size_t)l->in_c, b = i / (size_t)l->in_c;
    const size_t in_plane = (size_t)l->in_h * (size_t)l->in_w;
    const size_t out_plane = (size_t)l->out_h * (size_t)l->out_w;
    const float *plane = j->p->in + b * l->in_size + c * in_plane;
    const float *k = l->w + c * (size_t)(l->size * l->size);
    float *out = l->out + b * l->out_size + c * out_plane;
    if (is_3x3_same(l)) {
        float *zero = j->p->scratch[thread]; /* sizes(): a row of zeros */
        memset(zero, 0, sizeof(float) * (size_t)l->in_w);
        for (int y = 0; y < l->out_h; y++)
            row_3x3(plane, l->in_h, l->in_w, k, l->b[c], y, zero, l->act == FER_ACT_RELU,
                    out + (size_t)y * (size_t)l->out_w);
    } else {
        plane_generic(l, plane, k, l->b[c], out);
        if (l->act == FER_ACT_RELU)
            for (size_t at = 0; at < out_plane; at++)
                out[at] = out[at] > 0 ? out[at] : 0;
    }
}

static void depthwise_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct dw_job j = {l, p};
    fer_pool_run(p->pool, (size_t)p->batch * (size_t)l->in_c, forward_task, &j);
}

/* Task c: channel c over the whole batch, images in order: its weights' and bias's gradients
 * and its share of dL/dinput. */
static void backward_task(void *arg, size_t c, int thread)
{
    (void)thread;
    struct dw_job *j = arg;
    const struct fer_layer *l = j->l;
    const int s = l->size;
    const size_t in_plane = (size_t)l->in_h * (size_t)l->in_w;
    const size_t out_plane = (size_t)l->out_h * (size_t)l->out_w;
    const float *k = l->w + c * (size_t)(s * s);
    float *dk = l->dw + c * (size_t)(s * s);
    for (int b = 0; b < j->p->batch; b++) {
        const float *in = j->p->in + (size_t)b * l->in_size + c * in_plane;
        const float *d = l->delta + (size_t)b * l->out_size + c * out_plane;
        float *din = j->p->in_delta ? j->p->in_delta + (size_t)b * l->in_size + c * in_plane : NULL;
        for (int y = 0; y < l->out_h; y++)
            for (int x = 0; x < l->out_w; x++) {
                const float g = d[(size_t)y * (size_t)l->out_w + (size_t)x];
                l->db[c] += g;
                for (int ky = 0; ky < s; ky++) {
                    int iy = y * l->stride + ky - l->pad;
                    if (iy < 0 || iy >= l->in_h)
                        continue;
                    for (int kx = 0; kx < s; kx++) {
                        int ix = x * l->stride + kx - l->pad;
                        if (ix < 0 || ix >= l->in_w)
                            continue;
                        size_t at = (size_t)iy * (size_t)l->in_w + (size_t)ix;
                        dk[ky * s + kx] += g * in[at];
                        if (din)
                            din[at] += g * k[ky * s + kx];
                    }
                }
            }
    }
}

static void depthwise_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    struct dw_job j = {l, p};
    fer_pool_run(p->pool, (size_t)l->in_c, backward_task, &j);
}

/* [depthwise]: size=k (3) stride=s (1) pad=p (k/2); as many outputs as inputs. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    int bad = 0;
    l->size = fer_spec_int(s, "size", 3, 1, 15, spec->file, &bad, spec->err);
    l->stride = fer_spec_int(s, "stride", 1, 1, 8, spec->file, &bad, spec->err);
    l->pad = fer_spec_int(s, "pad", l->size / 2, 0, 15, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    l->out_c = l->in_c;
    l->out_h = (l->in_h + 2 * l->pad - l->size) / l->stride + 1;
    l->out_w = (l->in_w + 2 * l->pad - l->size) / l->stride + 1;
    l->n_w = (size_t)l->in_c * (size_t)(l->size * l->size);
    return FER_OK;
}

static void sizes(const struct fer_layer *l, struct fer_layer_sizes *sz)
{
    sz->weights = l->n_w;
    sz->biases = (size_t)l->out_c;
    sz->scratch = (size_t)l->in_w; /* a row of zeros for the 3x3 path's borders */
}

static double flops(const struct fer_layer *l)
{
    return 2.0 * (double)l->n_w * l->out_h * l->out_w;
}

static void describe(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "%dx%d/%d dw", l->size, l->size, l->stride);
}

/* Conv with one group per channel. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    fer_onnx_set_output(g, l, fer_onnx_conv(g, l, l->in_c, l->w, l->b));
}

const struct fer_layer_ops fer_depthwise_ops = {
    .section = "depthwise",
    .name = "dwconv",
    .type = FER_LAYER_DEPTHWISE,
    .configure = configure,
    .sizes = sizes,
    .flops = flops,
    .describe = describe,
    .forward = depthwise_forward,
    .backward = depthwise_backward,
    .to_onnx = to_onnx,
};
