/*
 * upsample.c - [upsample]: nearest-neighbour enlargement by an integer
 * stride (each value repeated stride x stride times), as in feature
 * pyramids (Lin et al. 2017) and darknet's layer of the same name.
 */
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

struct up_job {
    struct fer_layer *l;
    struct fer_pass *p;
};

/* Task i: plane i (channel i % C of image i / C). */
static void forward_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct up_job *j = arg;
    const struct fer_layer *l = j->l;
    const int s = l->stride;
    const float *in = j->p->in + i * (size_t)l->in_h * (size_t)l->in_w;
    float *out = l->out + i * (size_t)l->out_h * (size_t)l->out_w;
    for (int y = 0; y < l->in_h; y++) {
        const float *r = in + (size_t)y * (size_t)l->in_w;
        float *o = out + (size_t)y * (size_t)s * (size_t)l->out_w;
        for (int x = 0; x < l->in_w; x++)
            for (int k = 0; k < s; k++)
                o[x * s + k] = r[x];
        for (int k = 1; k < s; k++) /* the other rows of the run: copies of the first */
            memcpy(o + (size_t)k * (size_t)l->out_w, o, sizeof(float) * (size_t)l->out_w);
    }
}

static void backward_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct up_job *j = arg;
    const struct fer_layer *l = j->l;
    const int s = l->stride;
    float *din = j->p->in_delta + i * (size_t)l->in_h * (size_t)l->in_w;
    const float *d = l->delta + i * (size_t)l->out_h * (size_t)l->out_w;
    for (int y = 0; y < l->out_h; y++)
        for (int x = 0; x < l->out_w; x++)
            din[(size_t)(y / s) * (size_t)l->in_w + (size_t)(x / s)] +=
                d[(size_t)y * (size_t)l->out_w + (size_t)x];
}

static void upsample_forward(struct fer_layer *l, struct fer_pass *p)
{
    struct up_job j = {l, p};
    fer_pool_run(p->pool, (size_t)p->batch * (size_t)l->in_c, forward_task, &j);
    fer_activate(l, p);
}

static void upsample_backward(struct fer_layer *l, struct fer_pass *p)
{
    fer_activate_backward(l, p);
    if (!p->in_delta)
        return;
    struct up_job j = {l, p};
    fer_pool_run(p->pool, (size_t)p->batch * (size_t)l->in_c, backward_task, &j);
}

/* [upsample]: stride=s (2). */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    int bad = 0;
    l->stride = fer_spec_int(spec->s, "stride", 2, 1, 16, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    l->size = 1;
    l->out_c = l->in_c;
    l->out_h = l->in_h * l->stride;
    l->out_w = l->in_w * l->stride;
    return FER_OK;
}

static void describe(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "x%d", l->stride);
}

/* Resize by the stride, nearest neighbour: each value repeated stride x stride times. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const float scales[4] = {1, 1, (float)l->stride, (float)l->stride};
    const char *args[3] = {fer_onnx_input(g, l), "",
                           fer_onnx_tensor(g, l, "scales", 1, (const int64_t[]){4}, scales)};
    if (!args[2])
        return;
    /* the defaults (mode nearest, half_pixel coordinates, round_prefer_floor) repeat each value
     * for an integer scale */
    fer_onnx_set_output(g, l, fer_onnx_node_output(fer_onnx_node(g, l, "Resize", 3, args)));
}

const struct fer_layer_ops fer_upsample_ops = {
    .section = "upsample",
    .name = "upsample",
    .type = FER_LAYER_UPSAMPLE,
    .configure = configure,
    .describe = describe,
    .forward = upsample_forward,
    .backward = upsample_backward,
    .to_onnx = to_onnx,
};
