/*
 * combine.c - layers that join earlier outputs: [shortcut] adds the output of
 * layer `from` to the previous layer's output (residual connection, He et al.
 * 2016); [route] concatenates the outputs of the listed layers along channels.
 */
#include <stdio.h>
#include <string.h>

#include "core/pool.h"
#include "nn/layer.h"

/* The shortcut's elementwise passes go over the pool in chunks of this many floats, whatever
 * the batch: one face's 22x22x64 map is two. */
#define SHORTCUT_CHUNK 16384

struct shortcut_job {
    struct fer_layer *l;
    struct fer_pass *p;
    size_t n;
};

static void chunk_of(const struct shortcut_job *j, size_t task, size_t *i0, size_t *i1)
{
    *i0 = task * SHORTCUT_CHUNK;
    *i1 = *i0 + SHORTCUT_CHUNK < j->n ? *i0 + SHORTCUT_CHUNK : j->n;
}

void fer_shortcut_add(const struct fer_layer *l, const float *restrict in,
                      const float *restrict other, float *restrict out, size_t n)
{
    if (l->act == FER_ACT_RELU) {
        for (size_t i = 0; i < n; i++) {
            const float v = in[i] + other[i];
            out[i] = v > 0 ? v : 0;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] + other[i];
    }
}

int fer_shortcut_done_by_conv(const struct fer_layer *l, const struct fer_pass *p)
{
    return l->type == FER_LAYER_SHORTCUT && !p->training && l->index > 0 && p->layers &&
           p->layers[l->index - 1].type == FER_LAYER_CONV;
}

/* out = in + other, through the ReLU when the layer has it: one pass. */
static void add_task(void *arg, size_t task, int thread)
{
    (void)thread;
    const struct shortcut_job *j = arg;
    size_t i0, i1;
    chunk_of(j, task, &i0, &i1);
    fer_shortcut_add(j->l, j->p->in + i0, j->p->layers[j->l->from].out + i0, j->l->out + i0,
                     i1 - i0);
}

/* delta through the ReLU (where the output was 0 it stops), then into both inputs' deltas. */
static void add_backward_task(void *arg, size_t task, int thread)
{
    (void)thread;
    const struct shortcut_job *j = arg;
    const float *restrict out = j->l->out;
    float *restrict delta = j->l->delta, *restrict other = j->p->layers[j->l->from].delta;
    float *restrict in_delta = j->p->in_delta;
    size_t i0, i1;
    chunk_of(j, task, &i0, &i1);
    if (j->l->act == FER_ACT_RELU)
        for (size_t i = i0; i < i1; i++)
            delta[i] = out[i] > 0 ? delta[i] : 0;
    for (size_t i = i0; i < i1; i++)
        other[i] += delta[i];
    if (in_delta)
        for (size_t i = i0; i < i1; i++)
            in_delta[i] += delta[i];
}

static void run_shortcut(struct fer_layer *l, struct fer_pass *p, fer_pool_fn task)
{
    struct shortcut_job j = {l, p, l->out_size * (size_t)p->batch};
    fer_pool_run(p->pool, (j.n + SHORTCUT_CHUNK - 1) / SHORTCUT_CHUNK, task, &j);
}

void fer_shortcut_forward(struct fer_layer *l, struct fer_pass *p)
{
    if (fer_shortcut_done_by_conv(l, p))
        return;
    run_shortcut(l, p, add_task);
}

void fer_shortcut_backward(struct fer_layer *l, struct fer_pass *p)
{
    run_shortcut(l, p, add_backward_task);
}

/* A route to one layer is that layer's output as it is: one buffer for both. */
static int route_passes_on(const struct fer_layer *l)
{
    return l->n_routes == 1 ? l->routes[0] : -1;
}

void fer_route_forward(struct fer_layer *l, struct fer_pass *p)
{
    if (route_passes_on(l) >= 0)
        return; /* out is the routed layer's (carve_activations in net.c) */
    for (int b = 0; b < p->batch; b++) {
        float *dst = l->out + (size_t)b * l->out_size;
        for (int r = 0; r < l->n_routes; r++) {
            const struct fer_layer *src = &p->layers[l->routes[r]];
            memcpy(dst, src->out + (size_t)b * src->out_size, sizeof(float) * src->out_size);
            dst += src->out_size;
        }
    }
}

void fer_route_backward(struct fer_layer *l, struct fer_pass *p)
{
    for (int b = 0; b < p->batch; b++) {
        const float *d = l->delta + (size_t)b * l->out_size;
        for (int r = 0; r < l->n_routes; r++) {
            struct fer_layer *src = &p->layers[l->routes[r]];
            float *dst = src->delta + (size_t)b * src->out_size;
            for (size_t i = 0; i < src->out_size; i++)
                dst[i] += d[i];
            d += src->out_size;
        }
    }
}

/* [shortcut]: from=k, a layer before the previous one (k < 0 counts back from this one), whose
 * output has the previous layer's shape. */
static enum fer_status configure_shortcut(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    const int i = l->index;
    int bad = 0;
    int from = fer_spec_int(s, "from", 0, -i, i - 1, spec->file, &bad, spec->err);
    if (bad)
        return FER_ERR_FORMAT;
    int at = from < 0 ? i + from : from;
    if (from == 0 || at >= i - 1 || at < 0)
        return fer_errorf(spec->err, FER_ERR_FORMAT,
                          "%s:%d: from=%d must name a layer before the previous one", spec->file,
                          s->line, from);
    const struct fer_layer *o = &spec->earlier[at];
    if (o->out_c != l->in_c || o->out_h != l->in_h || o->out_w != l->in_w)
        return fer_errorf(spec->err, FER_ERR_FORMAT,
                          "%s:%d: shortcut adds %dx%dx%d to %dx%dx%d: shapes differ", spec->file,
                          s->line, o->out_c, o->out_h, o->out_w, l->in_c, l->in_h, l->in_w);
    l->from = at;
    l->out_c = l->in_c;
    l->out_h = l->in_h;
    l->out_w = l->in_w;
    return FER_OK;
}

/* [route]: layers=-1,-4,... (1 to FER_MAX_ROUTES earlier layers of one map size). */
static enum fer_status configure_route(struct fer_layer *l, const struct fer_layer_spec *spec)
{
    struct fer_spec_section *s = spec->s;
    const char *r = fer_spec_str(s, "layers", NULL);
    l->n_routes = r ? fer_layer_parse_list(r, l->index, l->routes, FER_MAX_ROUTES) : -1;
    if (l->n_routes <= 0)
        return fer_errorf(spec->err, FER_ERR_FORMAT,
                          "%s:%d: [route] needs layers=-1,-4,... (1 to %d)", spec->file, s->line,
                          FER_MAX_ROUTES);
    l->out_c = 0;
    for (int k = 0; k < l->n_routes; k++) {
        if (l->routes[k] < 0 || l->routes[k] >= l->index)
            return fer_errorf(spec->err, FER_ERR_FORMAT,
                              "%s:%d: route to layer %d, which is not before this one", spec->file,
                              s->line, l->routes[k]);
        const struct fer_layer *o = &spec->earlier[l->routes[k]];
        if (k > 0 && (o->out_h != l->out_h || o->out_w != l->out_w))
            return fer_errorf(spec->err, FER_ERR_FORMAT, "%s:%d: routed layers differ in size",
                              spec->file, s->line);
        l->out_c += o->out_c;
        l->out_h = o->out_h;
        l->out_w = o->out_w;
    }
    return FER_OK;
}

static void describe_shortcut(const struct fer_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "+ layer %d", l->from);
}

static void shortcut_to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const char *args[2] = {fer_onnx_input(g, l), fer_onnx_output_of(g, l->from)};
    const char *sum = fer_onnx_node_output(fer_onnx_node(g, l, "Add", 2, args));
    fer_onnx_set_output(g, l, sum ? fer_onnx_activation(g, l, sum) : NULL);
}

/* One layer: its value as it is; several: Concat along channels. */
static void route_to_onnx(const struct fer_layer *l, struct fer_onnx *g)
{
    const char *args[FER_MAX_ROUTES];
    for (int k = 0; k < l->n_routes; k++)
        args[k] = fer_onnx_output_of(g, l->routes[k]);
    if (l->n_routes == 1) {
        fer_onnx_set_output(g, l, args[0]);
        return;
    }
    struct fer_onnx_node *cat = fer_onnx_node(g, l, "Concat", l->n_routes, args);
    fer_onnx_attr_int(cat, "axis", 1);
    fer_onnx_set_output(g, l, fer_onnx_node_output(cat));
}

const struct fer_layer_ops fer_shortcut_ops = {
    .section = "shortcut",
    .name = "shortcut",
    .type = FER_LAYER_SHORTCUT,
    .configure = configure_shortcut,
    .describe = describe_shortcut,
    .forward = fer_shortcut_forward,
    .backward = fer_shortcut_backward,
    .to_onnx = shortcut_to_onnx,
};

const struct fer_layer_ops fer_route_ops = {
    .section = "route",
    .name = "route",
    .type = FER_LAYER_ROUTE,
    .configure = configure_route,
    .passes_on = route_passes_on,
    .forward = fer_route_forward,
    .backward = fer_route_backward,
    .to_onnx = route_to_onnx,
};
