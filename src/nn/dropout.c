/*
 * dropout.c - inverted dropout (Srivastava et al. 2014).
 *
 * Training keeps each value with probability 1-p and scales it by 1/(1-p);
 * inference passes values through. The mask of image b at training step s
 * is drawn from rng(seed, s, layer, b), so it is reproducible and independent
 * of threads; b counts in the global batch when processes train together.
 */
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "nn/layer.h"

struct dropout_job {
    struct fer_layer *l;
    struct fer_pass *p;
};

static void forward_task(void *arg, size_t b, int thread)
{
    (void)thread;
    struct dropout_job *j = arg;
    struct fer_layer *l = j->l;
    const float *in = j->p->in + b * l->in_size;
    float *out = l->out + b * l->out_size;
    float *mask = l->mask + b * l->out_size;
    fer_rng rng;
    const size_t image = b + (size_t)(j->p->group ? j->p->group->first_image : 0);
    fer_rng_seed(&rng, j->p->seed, j->p->step, (uint64_t)l->index, image);
    const float keep = 1.0f - l->prob, scale = 1.0f / keep;
    for (size_t i = 0; i < l->out_size; i++) {
        mask[i] = fer_rng_uniform(&rng) < keep ? scale : 0.0f;
        out[i] = in[i] * mask[i];
    }
}

void fer_dropout_forward(struct fer_layer *l, struct fer_pass *p)
{
    if (!p->training || l->prob <= 0) {
        memcpy(l->out, p->in, sizeof(float) * l->out_size * (size_t)p->batch);
        return;
    }
    struct dropout_job j = {l, p};
    fer_pool_run(p->pool, (size_t)p->batch, forward_task, &j);
}

void fer_dropout_backward(struct fer_layer *l, struct fer_pass *p)
{
    if (!p->in_delta)
        return;
    size_t n = l->out_size * (size_t)p->batch;
    if (l->prob <= 0) {
        for (size_t i = 0; i < n; i++)
            p->in_delta[i] += l->delta[i];
        return;
    }
    for (size_t i = 0; i < n; i++)
        p->in_delta[i] += l->delta[i] * l->mask[i];
}

/* [dropout]: probability=p in [0, 0.95]; the shape stays. */
static enum fer_status configure(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    int bad = 0;
    l->prob =
        fer_spec_float(spec->s, "probability", 0.5f, 0.0f, 0.95f, spec->file, &bad, spec->err);
    l->out_c = l->in_c;
    l->out_h = l->in_h;
    l->out_w = l->in_w;
    return bad ? FER_ERR_FORMAT : FER_OK;
}

/* The mask of the last training pass, which backward applies again. */
static void carve(struct fer_layer *l, size_t batch, struct fer_carve *c)
{
    l->mask = fer_carve_floats(c, batch * l->out_size);
}

static void describe(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "p=%.2f", (double)l->prob);
}

/* Nothing at inference: the output is the input. */
static void to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    fer_onnx_set_output(g, l, fer_onnx_input(g, l));
}

const struct fer_layer_ops fer_dropout_ops = {
    .section = "dropout",
    .name = "dropout",
    .type = FER_LAYER_DROPOUT,
    .configure = configure,
    .carve = carve,
    .describe = describe,
    .forward = fer_dropout_forward,
    .backward = fer_dropout_backward,
    .to_onnx = to_onnx,
};
