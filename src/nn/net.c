/*
 * net.c - building a network from its spec, and running it forward and backward.
 *
 * Building is two passes over the spec: the first derives every layer's
 * shape and parameter count (and reports spec mistakes with their line), the
 * second carves parameters, gradients, buffers and activations out of a few
 * large allocations.
 */
#include "nn/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "core/rng.h"
#include "nn/blas.h"
#include "nn/layer.h"
#include "nn/winograd.h"

/* Guards against hostile or mistaken specs: no layer and no net may ask for more. */
#define FER_MAX_LAYER_FLOATS ((size_t)1 << 26)
#define FER_MAX_NET_FLOATS   ((size_t)1 << 28)

struct fer_net {
    char *spec_text;
    int in_c, in_side, n_classes;
    int n_logits; /* outputs before the softmax: n_classes, more when it merges some */
    int n_layers;
    struct fer_layer *layers;
    int max_batch;

    float *params, *grads, *buffers;
    size_t n_params, n_buffers;
    struct fer_param_group *groups;
    size_t n_groups;
    char *group_names; /* backing store for groups[].name */

    float *input;
    float *activations; /* every layer's out, delta, xhat, mask (one block) */
    uint32_t *argmax_block;

    fer_pool *pool;
    float **scratch;
    int n_scratch;
    float bn_momentum; /* weight of a batch in the running statistics */
    float temperature; /* calibration of the output probabilities (see net.h) */
    int own_kernels;   /* see fer_net_set_own_kernels */
    /* bumped whenever the weights may change: by init, and by every writable
     * pointer to them handed out (fer_net_params, fer_net_param_groups); conv
     * layers make their inference weights (layer.h: infer_w) again when it moved */
    uint64_t weights_gen;
    size_t scratch_floats;
    float *parts;
    uint64_t seed, step;
    double *profile; /* per layer: forward and backward seconds, when profiling */
};

static enum fer_activation parse_act(const char *s, int *ok)
{
    *ok = 1;
    if (strcmp(s, "relu") == 0)
        return FER_ACT_RELU;
    if (strcmp(s, "linear") == 0)
        return FER_ACT_LINEAR;
    *ok = 0;
    return FER_ACT_LINEAR;
}

/* Parses "-1,-4" into absolute layer indices relative to layer i. */
static int parse_routes(const char *s, int i, int *routes, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || n == max)
            return -1;
        routes[n++] = v < 0 ? i + (int)v : (int)v;
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    return n;
}

/* First pass: shapes and hyperparameters of layer l from section s. */
static enum fer_status configure_layer(fer_net *net, struct fer_spec_section *s, int i,
                                       const char *name, char *err)
{
    struct fer_layer *l = &net->layers[i];
    int c = i == 0 ? net->in_c : net->layers[i - 1].out_c;
    int h = i == 0 ? net->in_side : net->layers[i - 1].out_h;
    int w = i == 0 ? net->in_side : net->layers[i - 1].out_w;
    int bad = 0, ok = 1;
    l->index = i;
    l->in_c = c;
    l->in_h = h;
    l->in_w = w;
    l->act = parse_act(fer_spec_str(s, "activation", "linear"), &ok);
    if (!ok)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown activation '%s' (relu, linear)",
                          name, s->line, fer_spec_str(s, "activation", ""));
    const char *t = s->type;
    if (strcmp(t, "convolutional") == 0 || strcmp(t, "conv") == 0) {
        l->type = FER_LAYER_CONV;
        l->out_c = fer_spec_int(s, "filters", 0, 1, 8192, name, &bad, err);
        l->size = fer_spec_int(s, "size", 3, 1, 15, name, &bad, err);
        l->stride = fer_spec_int(s, "stride", 1, 1, 8, name, &bad, err);
        l->pad = fer_spec_int(s, "pad", l->size / 2, 0, 15, name, &bad, err);
        l->batch_norm = fer_spec_int(s, "batch_normalize", 0, 0, 1, name, &bad, err);
        if (!bad && l->out_c == 0)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: [%s] needs filters=N", name, s->line, t);
        l->out_h = (h + 2 * l->pad - l->size) / l->stride + 1;
        l->out_w = (w + 2 * l->pad - l->size) / l->stride + 1;
        l->n_w = (size_t)l->out_c * (size_t)c * (size_t)(l->size * l->size);
    } else if (strcmp(t, "maxpool") == 0 || strcmp(t, "avgpool") == 0) {
        l->type = t[0] == 'm' ? FER_LAYER_MAXPOOL : FER_LAYER_AVGPOOL;
        l->size = fer_spec_int(s, "size", 2, 1, 64, name, &bad, err);
        l->stride = fer_spec_int(s, "stride", l->size, 1, 64, name, &bad, err);
        l->pad = fer_spec_int(s, "pad", 0, 0, 32, name, &bad, err);
        if (!bad && l->pad >= l->size)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: pad must be smaller than size", name,
                              s->line);
        l->out_c = c;
        l->out_h = (h + 2 * l->pad - l->size) / l->stride + 1;
        l->out_w = (w + 2 * l->pad - l->size) / l->stride + 1;
    } else if (strcmp(t, "global_avgpool") == 0) {
        l->type = FER_LAYER_GAP;
        l->size = h > w ? h : w;
        l->stride = 1;
        l->out_c = c;
        l->out_h = l->out_w = 1;
    } else if (strcmp(t, "dense") == 0 || strcmp(t, "connected") == 0) {
        l->type = FER_LAYER_DENSE;
        const char *o = fer_spec_str(s, "output", NULL);
        if (o && strcmp(o, "classes") == 0)
            l->out_c = net->n_logits;
        else
            l->out_c = fer_spec_int(s, "output", 0, 1, 1 << 20, name, &bad, err);
        if (!bad && l->out_c == 0)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: [%s] needs output=N or output=classes",
                              name, s->line, t);
        l->out_h = l->out_w = 1;
        l->n_w = (size_t)l->out_c * (size_t)c * (size_t)h * (size_t)w;
    } else if (strcmp(t, "batchnorm") == 0) {
        l->type = FER_LAYER_BATCHNORM;
        l->out_c = c;
        l->out_h = h;
        l->out_w = w;
    } else if (strcmp(t, "dropout") == 0) {
        l->type = FER_LAYER_DROPOUT;
        l->prob = fer_spec_float(s, "probability", 0.5f, 0.0f, 0.95f, name, &bad, err);
        l->out_c = c;
        l->out_h = h;
        l->out_w = w;
    } else if (strcmp(t, "shortcut") == 0) {
        l->type = FER_LAYER_SHORTCUT;
        int from = fer_spec_int(s, "from", 0, -i, i - 1, name, &bad, err);
        if (!bad && (from == 0 || (from < 0 ? i + from : from) >= i - 1 ||
                     (from < 0 ? i + from : from) < 0))
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s:%d: from=%d must name a layer before the previous one", name,
                              s->line, from);
        l->from = from < 0 ? i + from : from;
        const struct fer_layer *o = &net->layers[l->from];
        if (!bad && (o->out_c != c || o->out_h != h || o->out_w != w))
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s:%d: shortcut adds %dx%dx%d to %dx%dx%d: shapes differ", name,
                              s->line, o->out_c, o->out_h, o->out_w, c, h, w);
        l->out_c = c;
        l->out_h = h;
        l->out_w = w;
    } else if (strcmp(t, "route") == 0) {
        l->type = FER_LAYER_ROUTE;
        const char *r = fer_spec_str(s, "layers", NULL);
        l->n_routes = r ? parse_routes(r, i, l->routes, FER_MAX_ROUTES) : -1;
        if (l->n_routes <= 0)
            return fer_errorf(err, FER_ERR_FORMAT,
                              "%s:%d: [route] needs layers=-1,-4,... (1 to %d)", name, s->line,
                              FER_MAX_ROUTES);
        l->out_c = 0;
        for (int k = 0; k < l->n_routes; k++) {
            if (l->routes[k] < 0 || l->routes[k] >= i)
                return fer_errorf(err, FER_ERR_FORMAT,
                                  "%s:%d: route to layer %d, which is not "
                                  "before this one",
                                  name, s->line, l->routes[k]);
            const struct fer_layer *o = &net->layers[l->routes[k]];
            if (k > 0 && (o->out_h != l->out_h || o->out_w != l->out_w))
                return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: routed layers differ in size", name,
                                  s->line);
            l->out_c += o->out_c;
            l->out_h = o->out_h;
            l->out_w = o->out_w;
        }
    } else if (strcmp(t, "softmax") == 0) {
        l->type = FER_LAYER_SOFTMAX;
        const int k = c * h * w;
        l->out_c = k;
        l->out_h = l->out_w = 1;
        const char *m = fer_spec_str(s, "merge", NULL);
        if (m) {
            l->n_merge = parse_routes(m, 0, l->merge, FER_MAX_ROUTES);
            int ok_merge = l->n_merge >= 2 && k <= FER_MAX_CLASSES;
            for (int a = 0; ok_merge && a < l->n_merge; a++) {
                ok_merge = l->merge[a] >= 0 && l->merge[a] < k;
                for (int b = 0; ok_merge && b < a; b++)
                    ok_merge = l->merge[a] != l->merge[b];
            }
            if (!ok_merge)
                return fer_errorf(err, FER_ERR_FORMAT,
                                  "%s:%d: merge=%s must list 2 to %d different outputs of the %d "
                                  "(at most %d) before it, the first taking the others' "
                                  "probabilities",
                                  name, s->line, m, FER_MAX_ROUTES, k, FER_MAX_CLASSES);
            l->out_c = k - (l->n_merge - 1);
        }
    } else {
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown section [%s]", name, s->line, t);
    }
    if (bad)
        return FER_ERR_FORMAT;
    if (l->out_h <= 0 || l->out_w <= 0 || h + 2 * l->pad < l->size || w + 2 * l->pad < l->size)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: [%s] on a %dx%d input leaves nothing", name,
                          s->line, t, h, w);
    for (int k = 0; k < s->n_kv; k++)
        if (!s->kv[k].used)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown key '%s' in [%s]", name,
                              s->kv[k].line, s->kv[k].key, t);
    l->in_size = (size_t)c * (size_t)h * (size_t)w;
    l->out_size = (size_t)l->out_c * (size_t)l->out_h * (size_t)l->out_w;
    if (l->out_size > FER_MAX_LAYER_FLOATS || l->n_w > FER_MAX_LAYER_FLOATS)
        return fer_errorf(err, FER_ERR_LIMIT, "%s:%d: layer too large (%zu outputs, %zu weights)",
                          name, s->line, l->out_size, l->n_w);
    return FER_OK;
}

/* Parameter counts of a layer: weights, bias (or beta), gamma; and buffers. */
static void layer_param_sizes(const struct fer_layer *l, size_t *nw, size_t *nb, size_t *ng,
                              size_t *nbuf)
{
    *nw = *nb = *ng = *nbuf = 0;
    if (l->type == FER_LAYER_CONV || l->type == FER_LAYER_DENSE) {
        *nw = l->n_w;
        *nb = (size_t)l->out_c;
    }
    if ((l->type == FER_LAYER_CONV && l->batch_norm) || l->type == FER_LAYER_BATCHNORM) {
        *nb = (size_t)l->out_c;
        *ng = (size_t)l->out_c;
        *nbuf = 2 * (size_t)l->out_c;
    }
}

static int has_bn(const struct fer_layer *l)
{
    return (l->type == FER_LAYER_CONV && l->batch_norm) || l->type == FER_LAYER_BATCHNORM;
}

static const char *type_name(enum fer_layer_type t)
{
    static const char *names[] = {"conv", "dense",   "maxpool",  "avgpool", "gap",
                                  "bn",   "dropout", "shortcut", "route",   "softmax"};
    return names[t];
}

static enum fer_status alloc_params(fer_net *net, char *err)
{
    size_t total = 0, buffers = 0, n_groups = 0;
    for (int i = 0; i < net->n_layers; i++) {
        size_t nw, nb, ng, nbuf;
        layer_param_sizes(&net->layers[i], &nw, &nb, &ng, &nbuf);
        total += nw + nb + ng;
        buffers += nbuf;
        n_groups += (nw > 0) + (nb > 0) + (ng > 0);
    }
    size_t per_image = 0;
    for (int i = 0; i < net->n_layers; i++)
        per_image += net->layers[i].out_size;
    if (total > FER_MAX_NET_FLOATS || per_image > FER_MAX_NET_FLOATS / 4)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "network too large: %zu parameters, %zu activations per image", total,
                          per_image);
    net->n_params = total;
    net->n_buffers = buffers;
    net->n_groups = n_groups;
    net->params = fer_alloc_aligned(total, sizeof(float));
    net->grads = fer_alloc_aligned(total, sizeof(float));
    net->buffers = fer_alloc_aligned(buffers, sizeof(float));
    net->groups = fer_calloc(n_groups ? n_groups : 1, sizeof(*net->groups));
    net->group_names = fer_calloc(n_groups ? n_groups : 1, 32);
    if (!net->params || !net->grads || !net->buffers || !net->groups || !net->group_names)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu parameters", total);
    size_t off = 0, boff = 0, g = 0;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        size_t nw, nb, ng, nbuf;
        layer_param_sizes(l, &nw, &nb, &ng, &nbuf);
        float **slots[3][2] = {{&l->w, &l->dw}, {&l->b, &l->db}, {&l->gamma, &l->dgamma}};
        size_t counts[3] = {nw, nb, ng};
        const char *suffix[3] = {"weight", has_bn(l) ? "beta" : "bias", "gamma"};
        for (int k = 0; k < 3; k++) {
            if (!counts[k])
                continue;
            *slots[k][0] = net->params + off;
            *slots[k][1] = net->grads + off;
            char *name = net->group_names + 32 * g;
            snprintf(name, 32, "%d.%s.%s", i, type_name(l->type), suffix[k]);
            net->groups[g] = (struct fer_param_group){name, net->params + off, net->grads + off,
                                                      counts[k], k == 0};
            off += counts[k];
            g++;
        }
        if (nbuf) {
            l->run_mean = net->buffers + boff;
            l->run_var = net->buffers + boff + l->out_c;
            for (int c = 0; c < l->out_c; c++)
                l->run_var[c] = 1.0f;
            boff += nbuf;
        }
        if (ng)
            for (int c = 0; c < l->out_c; c++)
                l->gamma[c] = 1.0f;
    }
    return FER_OK;
}

static void free_activations(fer_net *net)
{
    fer_free(net->input);
    fer_free(net->activations);
    fer_free(net->argmax_block);
    net->input = net->activations = NULL;
    net->argmax_block = NULL;
}

enum fer_status fer_net_set_max_batch(fer_net *net, int max_batch, char *err)
{
    if (max_batch < 1 || max_batch > 65536)
        return fer_errorf(err, FER_ERR_ARG, "batch size %d out of range [1, 65536]", max_batch);
    free_activations(net);
    size_t B = (size_t)max_batch, floats = 0, argmax = 0;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        floats += 2 * B * l->out_size; /* out, delta */
        if (has_bn(l))
            floats += B * l->out_size + 2 * (size_t)l->out_c;
        if (l->type == FER_LAYER_DROPOUT)
            floats += B * l->out_size;
        if (l->type == FER_LAYER_MAXPOOL)
            argmax += B * l->out_size;
        floats = (floats + 15) / 16 * 16; /* keep every buffer 64-byte aligned */
    }
    size_t in_floats = B * (size_t)net->in_c * (size_t)net->in_side * (size_t)net->in_side;
    net->input = fer_alloc_aligned(in_floats, sizeof(float));
    net->activations = fer_alloc_aligned(floats, sizeof(float));
    net->argmax_block = fer_alloc_aligned(argmax ? argmax : 1, sizeof(uint32_t));
    if (!net->input || !net->activations || !net->argmax_block) {
        free_activations(net);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for activations of batch %d (%zu MB)",
                          max_batch, floats * 4 >> 20);
    }
    float *p = net->activations;
    uint32_t *a = net->argmax_block;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        float *start = p;
        l->out = p;
        p += B * l->out_size;
        l->delta = p;
        p += B * l->out_size;
        l->xhat = l->bn_mean = l->bn_invstd = l->mask = NULL;
        l->argmax = NULL;
        if (has_bn(l)) {
            l->xhat = p;
            p += B * l->out_size;
            l->bn_mean = p;
            p += l->out_c;
            l->bn_invstd = p;
            p += l->out_c;
        }
        if (l->type == FER_LAYER_DROPOUT) {
            l->mask = p;
            p += B * l->out_size;
        }
        if (l->type == FER_LAYER_MAXPOOL) {
            l->argmax = a;
            a += B * l->out_size;
        }
        p = start + ((size_t)(p - start) + 15) / 16 * 16;
    }
    net->max_batch = max_batch;
    return FER_OK;
}

int fer_net_max_batch(const fer_net *net)
{
    return net->max_batch;
}

static void free_scratch(fer_net *net)
{
    for (int t = 0; t < net->n_scratch; t++)
        fer_free(net->scratch[t]);
    fer_free(net->scratch);
    net->scratch = NULL;
    net->n_scratch = 0;
}

/* Per-thread im2col buffers for the current pool. Returns 0 when out of memory. */
static int ensure_scratch(fer_net *net)
{
    int want = fer_pool_threads(net->pool);
    if (net->n_scratch == want)
        return 1;
    free_scratch(net);
    net->scratch = fer_calloc((size_t)want, sizeof(float *));
    if (!net->scratch)
        return 0;
    net->n_scratch = want;
    for (int t = 0; t < want; t++)
        if (!(net->scratch[t] = fer_alloc_aligned(net->scratch_floats, sizeof(float))))
            return 0;
    return 1;
}

/* How many outputs a final [softmax] with merge= folds into others (0 without). */
static int merged_away(fer_spec *spec)
{
    if (spec->n_sections < 2)
        return 0;
    struct fer_spec_section *last = &spec->sections[spec->n_sections - 1];
    if (strcmp(last->type, "softmax") != 0)
        return 0;
    const char *m = fer_spec_str(last, "merge", NULL);
    int merge[FER_MAX_ROUTES];
    int n = m ? parse_routes(m, 0, merge, FER_MAX_ROUTES) : 0;
    return n > 1 ? n - 1 : 0; /* configure_layer reports a bad list */
}

enum fer_status fer_net_new(fer_spec *spec, int n_classes, int max_batch, fer_net **out, char *err)
{
    *out = NULL;
    enum fer_status st = FER_OK;
    if (n_classes < 2 || n_classes > 1000)
        return fer_errorf(err, FER_ERR_ARG, "number of classes %d out of range [2, 1000]",
                          n_classes);
    fer_net *net = fer_calloc(1, sizeof(*net));
    if (!net || !(net->spec_text = fer_strdup(spec->text)) ||
        !(net->layers = fer_calloc((size_t)spec->n_sections, sizeof(struct fer_layer)))) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory building network");
        goto fail;
    }
    net->n_classes = n_classes;
    net->n_logits = n_classes + merged_away(spec);
    net->bn_momentum = FER_BN_MOMENTUM;
    net->temperature = 1.0f;
    net->own_kernels = 1;
    net->weights_gen = 1;
    struct fer_spec_section *ns = &spec->sections[0];
    if (strcmp(ns->type, "net") != 0) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: the first section must be [net]", spec->name,
                        ns->line);
        goto fail;
    }
    int bad = 0;
    int width = fer_spec_int(ns, "width", 48, 4, 1024, spec->name, &bad, err);
    int height = fer_spec_int(ns, "height", 48, 4, 1024, spec->name, &bad, err);
    net->in_c = fer_spec_int(ns, "channels", 1, 1, 4, spec->name, &bad, err);
    fer_spec_str(ns, "name", NULL);
    if (bad) {
        st = FER_ERR_FORMAT;
        goto fail;
    }
    if (width != height) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: only square inputs are supported", spec->name,
                        ns->line);
        goto fail;
    }
    net->in_side = width;
    for (int k = 0; k < ns->n_kv; k++)
        if (!ns->kv[k].used) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown key '%s' in [net]", spec->name,
                            ns->kv[k].line, ns->kv[k].key);
            goto fail;
        }
    for (int s = 1; s < spec->n_sections; s++) {
        if (strcmp(spec->sections[s].type, "train") == 0)
            continue; /* training recipe, read by train/ */
        st = configure_layer(net, &spec->sections[s], net->n_layers, spec->name, err);
        if (st != FER_OK)
            goto fail;
        net->n_layers++;
    }
    if (net->n_layers == 0 || net->layers[net->n_layers - 1].type != FER_LAYER_SOFTMAX) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: the last layer must be [softmax]", spec->name);
        goto fail;
    }
    const struct fer_layer *last = &net->layers[net->n_layers - 1];
    if (last->out_c != n_classes) {
        st = fer_errorf(err, FER_ERR_FORMAT,
                        "%s: the network ends with %d outputs but there are %d classes "
                        "(use output=classes in the last [dense])",
                        spec->name, last->out_c, n_classes);
        goto fail;
    }
    for (int i = 0; i < net->n_layers - 1; i++)
        if (net->layers[i].type == FER_LAYER_SOFTMAX) {
            st = fer_errorf(err, FER_ERR_FORMAT, "%s: [softmax] must be the last layer only",
                            spec->name);
            goto fail;
        }
    size_t max_w = 1;
    for (int i = 0; i < net->n_layers; i++) {
        const struct fer_layer *l = &net->layers[i];
        if (l->type == FER_LAYER_CONV) {
            size_t s = fer_conv_scratch(l);
            net->scratch_floats = s > net->scratch_floats ? s : net->scratch_floats;
            max_w = l->n_w > max_w ? l->n_w : max_w;
            /* the weight gradient by Winograd sums 16 x C x F floats per group */
            size_t wg = fer_winograd_grad_floats(l);
            max_w = wg > max_w ? wg : max_w;
        }
    }
    if ((st = alloc_params(net, err)) != FER_OK)
        goto fail;
    net->parts = fer_alloc_aligned(FER_GRAD_PARTS * max_w, sizeof(float));
    if (!net->parts) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory building network");
        goto fail;
    }
    if ((st = fer_net_set_max_batch(net, max_batch, err)) != FER_OK ||
        (st = fer_net_set_pool(net, NULL, err)) != FER_OK)
        goto fail;
    fer_blas_single_thread();
    *out = net;
    return FER_OK;
fail:
    fer_net_free(net);
    return st;
}

void fer_net_free(fer_net *net)
{
    if (!net)
        return;
    free_activations(net);
    free_scratch(net);
    for (int i = 0; i < net->n_layers; i++) {
        fer_free(net->layers[i].infer_w);
        fer_free(net->layers[i].infer_wt);
    }
    fer_free(net->profile);
    fer_free(net->parts);
    fer_free(net->params);
    fer_free(net->grads);
    fer_free(net->buffers);
    fer_free(net->groups);
    fer_free(net->group_names);
    fer_free(net->layers);
    fer_free(net->spec_text);
    fer_free(net);
}

void fer_net_init_weights(fer_net *net, uint64_t seed)
{
    fer_rng rng;
    net->weights_gen++;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        if (!l->w)
            continue;
        fer_rng_seed(&rng, seed, 0x1417, (uint64_t)i, 0);
        size_t fan_in = l->n_w / (size_t)l->out_c;
        /* He et al. 2015 for ReLU layers; the classifier's logits get Xavier (Glorot 2010). */
        int is_logits = l->type == FER_LAYER_DENSE && i + 1 < net->n_layers &&
                        net->layers[i + 1].type == FER_LAYER_SOFTMAX;
        float std = is_logits ? sqrtf(1.0f / (float)fan_in) : sqrtf(2.0f / (float)fan_in);
        for (size_t k = 0; k < l->n_w; k++)
            l->w[k] = std * fer_rng_normal(&rng);
        if (l->b)
            memset(l->b, 0, sizeof(float) * (size_t)l->out_c);
        if (l->gamma)
            for (int c = 0; c < l->out_c; c++)
                l->gamma[c] = 1.0f;
    }
}

enum fer_status fer_net_set_pool(fer_net *net, fer_pool *pool, char *err)
{
    net->pool = pool;
    if (!ensure_scratch(net))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for per-thread buffers");
    return FER_OK;
}

fer_pool *fer_net_pool(const fer_net *net)
{
    return net->pool;
}

void fer_net_set_noise(fer_net *net, uint64_t seed, uint64_t step)
{
    net->seed = seed;
    net->step = step;
}

int fer_net_set_temperature(fer_net *net, float t)
{
    if (!(t > 0 && t <= FER_TEMPERATURE_MAX))
        return -1;
    net->temperature = t;
    return 0;
}

float fer_net_temperature(const fer_net *net)
{
    return net->temperature;
}

int fer_net_input_channels(const fer_net *net)
{
    return net->in_c;
}

int fer_net_input_side(const fer_net *net)
{
    return net->in_side;
}

int fer_net_classes(const fer_net *net)
{
    return net->n_classes;
}

int fer_net_merges_outputs(const fer_net *net)
{
    return net->layers[net->n_layers - 1].n_merge > 0;
}

const char *fer_net_spec_text(const fer_net *net)
{
    return net->spec_text;
}

size_t fer_net_param_count(const fer_net *net)
{
    return net->n_params;
}

double fer_net_flops(const fer_net *net)
{
    double f = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const struct fer_layer *l = &net->layers[i];
        if (l->type == FER_LAYER_CONV)
            f += 2.0 * (double)l->n_w * l->out_h * l->out_w;
        else if (l->type == FER_LAYER_DENSE)
            f += 2.0 * (double)l->n_w;
    }
    return f;
}

char *fer_net_describe(const fer_net *net)
{
    size_t cap = 128 + 128 * (size_t)net->n_layers, len = 0;
    char *s = fer_malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s + len, cap - len, "input %dx%dx%d\n", net->in_c, net->in_side,
                            net->in_side);
    for (int i = 0; i < net->n_layers; i++) {
        const struct fer_layer *l = &net->layers[i];
        char extra[48] = "";
        if (l->type == FER_LAYER_CONV || l->type == FER_LAYER_MAXPOOL ||
            l->type == FER_LAYER_AVGPOOL)
            snprintf(extra, sizeof(extra), "%dx%d/%d%s", l->size, l->size, l->stride,
                     l->batch_norm ? " bn" : "");
        else if (l->type == FER_LAYER_DROPOUT)
            snprintf(extra, sizeof(extra), "p=%.2f", (double)l->prob);
        else if (l->type == FER_LAYER_SHORTCUT)
            snprintf(extra, sizeof(extra), "+ layer %d", l->from);
        len += (size_t)snprintf(s + len, cap - len, "%3d %-8s %-14s -> %4d x %2d x %2d %s\n", i,
                                type_name(l->type), extra, l->out_c, l->out_h, l->out_w,
                                l->act == FER_ACT_RELU ? "relu" : "");
    }
    snprintf(s + len, cap - len, "%zu parameters, %.1f MFLOP per image\n", net->n_params,
             fer_net_flops(net) / 1e6);
    return s;
}

float *fer_net_input(fer_net *net)
{
    return net->input;
}

static struct fer_pass make_pass(fer_net *net, int batch, int training)
{
    struct fer_pass p = {0};
    p.pool = net->pool;
    p.batch = batch;
    p.training = training;
    p.own_kernels = net->own_kernels;
    p.weights_gen = net->weights_gen;
    p.bn_momentum = net->bn_momentum;
    p.seed = net->seed;
    p.step = net->step;
    p.layers = net->layers;
    p.scratch = net->scratch;
    p.parts = net->parts;
    return p;
}

void fer_net_set_own_kernels(fer_net *net, int on)
{
    net->own_kernels = on != 0;
}

void fer_net_set_bn_momentum(fer_net *net, float momentum)
{
    net->bn_momentum = momentum > 0 && momentum <= 1 ? momentum : FER_BN_MOMENTUM;
}

void fer_net_forward(fer_net *net, int batch, int training)
{
    struct fer_pass p = make_pass(net, batch, training);
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        double t0 = net->profile ? fer_now() : 0;
        p.in = i == 0 ? net->input : net->layers[i - 1].out;
        switch (l->type) {
        case FER_LAYER_CONV:
            fer_conv_forward(l, &p);
            break;
        case FER_LAYER_DENSE:
            fer_dense_forward(l, &p);
            break;
        case FER_LAYER_MAXPOOL:
        case FER_LAYER_AVGPOOL:
        case FER_LAYER_GAP:
            fer_pool_forward(l, &p);
            break;
        case FER_LAYER_BATCHNORM:
            fer_batchnorm_forward(l, &p);
            break;
        case FER_LAYER_DROPOUT:
            fer_dropout_forward(l, &p);
            break;
        case FER_LAYER_SHORTCUT:
            fer_shortcut_forward(l, &p);
            break;
        case FER_LAYER_ROUTE:
            fer_route_forward(l, &p);
            break;
        case FER_LAYER_SOFTMAX:
            fer_softmax_forward(l, &p);
            break;
        }
        if (net->profile)
            net->profile[2 * i] += fer_now() - t0;
    }
}

const float *fer_net_output(const fer_net *net)
{
    return net->layers[net->n_layers - 1].out;
}

double fer_net_loss(fer_net *net, int batch, const float *targets, float smoothing)
{
    struct fer_layer *l = &net->layers[net->n_layers - 1];
    const int k = l->out_c;
    double loss = 0;
    for (int b = 0; b < batch; b++) {
        const float *prob = l->out + (size_t)b * (size_t)k;
        const float *t = targets + (size_t)b * (size_t)k;
        float *d = l->delta + (size_t)b * (size_t)k;
        for (int i = 0; i < k; i++) {
            float ti = (1.0f - smoothing) * t[i] + smoothing / (float)k;
            if (ti > 0)
                loss -= (double)ti * log((double)prob[i] > 1e-30 ? (double)prob[i] : 1e-30);
            d[i] = (prob[i] - ti) / (float)batch;
        }
    }
    return loss / batch;
}

void fer_net_zero_grad(fer_net *net)
{
    memset(net->grads, 0, sizeof(float) * net->n_params);
}

void fer_net_backward(fer_net *net, int batch)
{
    if (fer_net_merges_outputs(net))
        return; /* see net.h: such a net is for inference */
    /* The softmax delta was set by fer_net_loss; every other delta starts at zero. */
    for (int i = 0; i < net->n_layers - 1; i++)
        memset(net->layers[i].delta, 0, sizeof(float) * net->layers[i].out_size * (size_t)batch);
    struct fer_pass p = make_pass(net, batch, 1);
    for (int i = net->n_layers - 1; i >= 0; i--) {
        struct fer_layer *l = &net->layers[i];
        double t0 = net->profile ? fer_now() : 0;
        p.in = i == 0 ? net->input : net->layers[i - 1].out;
        p.in_delta = i == 0 ? NULL : net->layers[i - 1].delta;
        switch (l->type) {
        case FER_LAYER_CONV:
            fer_conv_backward(l, &p);
            break;
        case FER_LAYER_DENSE:
            fer_dense_backward(l, &p);
            break;
        case FER_LAYER_MAXPOOL:
        case FER_LAYER_AVGPOOL:
        case FER_LAYER_GAP:
            fer_pool_backward(l, &p);
            break;
        case FER_LAYER_BATCHNORM:
            fer_batchnorm_backward(l, &p);
            break;
        case FER_LAYER_DROPOUT:
            fer_dropout_backward(l, &p);
            break;
        case FER_LAYER_SHORTCUT:
            fer_shortcut_backward(l, &p);
            break;
        case FER_LAYER_ROUTE:
            fer_route_backward(l, &p);
            break;
        case FER_LAYER_SOFTMAX:
            fer_softmax_backward(l, &p);
            break;
        }
        if (net->profile)
            net->profile[2 * i + 1] += fer_now() - t0;
    }
}

enum fer_status fer_net_profile_start(fer_net *net)
{
    fer_free(net->profile);
    net->profile = fer_calloc(2 * (size_t)net->n_layers, sizeof(double));
    return net->profile ? FER_OK : FER_ERR_NOMEM;
}

void fer_net_profile_print(const fer_net *net, FILE *out)
{
    if (!net->profile)
        return;
    double total = 0;
    for (int i = 0; i < 2 * net->n_layers; i++)
        total += net->profile[i];
    fprintf(out, "layer type      forward s  backward s   share\n");
    for (int i = 0; i < net->n_layers; i++)
        fprintf(out, "%5d %-8s %10.3f %11.3f  %5.1f%%\n", i, type_name(net->layers[i].type),
                net->profile[2 * i], net->profile[2 * i + 1],
                total > 0 ? 100 * (net->profile[2 * i] + net->profile[2 * i + 1]) / total : 0.0);
}

void fer_net_weights_changed(fer_net *net)
{
    net->weights_gen++;
}

size_t fer_net_param_groups(fer_net *net, struct fer_param_group **groups)
{
    net->weights_gen++; /* the caller may write through them */
    *groups = net->groups;
    return net->n_groups;
}

float *fer_net_params(fer_net *net, size_t *n)
{
    net->weights_gen++; /* the caller may write through them */
    *n = net->n_params;
    return net->params;
}

float *fer_net_grads(fer_net *net, size_t *n)
{
    *n = net->n_params;
    return net->grads;
}

float *fer_net_buffers(fer_net *net, size_t *n)
{
    *n = net->n_buffers;
    return net->buffers;
}
