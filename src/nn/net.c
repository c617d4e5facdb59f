/*
 * net.c - building a network from its spec, and running it forward and backward.
 *
 * Building is two passes over the spec: the first derives every layer's
 * shape and parameter count (and reports spec mistakes with their line), the
 * second carves parameters, gradients, buffers and activations out of a few
 * large allocations. What differs between layer types is asked of their
 * struct fer_layer_ops (layer.h), found by section name in layers.c's table.
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

/* Guards against hostile or mistaken specs: no layer and no net may ask for more. */
#define FER_MAX_LAYER_FLOATS ((size_t)1 << 26)
#define FER_MAX_NET_FLOATS   ((size_t)1 << 28)
#define FER_MAX_INPUT_SIDE   8192

struct fer_net {
    char *spec_text;
    int in_c, in_h, in_w, n_classes; /* n_classes 0: a net without a classifier (net.h) */
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
    /* moved by init and by fer_net_weights_changed, which every writer of weights calls; conv
     * layers make their cached filters (filter_cache.h) again when it moved */
    uint64_t weights_gen;
    size_t scratch_floats;
    float *parts;
    uint64_t seed, step;
    struct fer_net_group group; /* see fer_net_set_group; used when in_group */
    int in_group;
    double *stats;   /* fer_pass.stats */
    double *profile; /* per layer: forward and backward seconds, when profiling */
};

/*
 * First pass: shapes and hyperparameters of layer i from section s. What
 * every layer has (its input, the activation) is read here, the rest by its
 * type's configure; the checks after it hold for every type.
 */
static enum fer_status configure_layer(fer_net *net, struct fer_spec_section *s, int i,
                                       const char *name, char *err)
{
    struct fer_layer *l = &net->layers[i];
    int c = i == 0 ? net->in_c : net->layers[i - 1].out_c;
    int h = i == 0 ? net->in_h : net->layers[i - 1].out_h;
    int w = i == 0 ? net->in_w : net->layers[i - 1].out_w;
    l->index = i;
    l->in_c = c;
    l->in_h = h;
    l->in_w = w;
    if (!fer_activation_parse(fer_spec_str(s, "activation", "linear"), &l->act))
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown activation '%s' (relu, linear)",
                          name, s->line, fer_spec_str(s, "activation", ""));
    const struct fer_layer_ops *ops = fer_layer_ops_find(s->type);
    if (!ops)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown section [%s]", name, s->line,
                          s->type);
    l->ops = ops;
    l->type = ops->type;
    const struct fer_layer_spec spec = {s, name, net->layers, net->n_logits, err};
    enum fer_status st = ops->configure(l, &spec);
    if (st != FER_OK)
        return st;
    if (l->out_h <= 0 || l->out_w <= 0 || h + 2 * l->pad < l->size || w + 2 * l->pad < l->size)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: [%s] on a %dx%d input leaves nothing", name,
                          s->line, s->type, h, w);
    for (int k = 0; k < s->n_kv; k++)
        if (!s->kv[k].used)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown key '%s' in [%s]", name,
                              s->kv[k].line, s->kv[k].key, s->type);
    l->in_size = (size_t)c * (size_t)h * (size_t)w;
    l->out_size = (size_t)l->out_c * (size_t)l->out_h * (size_t)l->out_w;
    if (l->out_size > FER_MAX_LAYER_FLOATS || l->n_w > FER_MAX_LAYER_FLOATS)
        return fer_errorf(err, FER_ERR_LIMIT, "%s:%d: layer too large (%zu outputs, %zu weights)",
                          name, s->line, l->out_size, l->n_w);
    return FER_OK;
}

static struct fer_layer_sizes layer_sizes(const struct fer_layer *l)
{
    struct fer_layer_sizes sz = {0};
    if (l->ops->sizes)
        l->ops->sizes(l, &sz);
    return sz;
}

static enum fer_status alloc_params(fer_net *net, char *err)
{
    size_t total = 0, buffers = 0, n_groups = 0;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer_sizes sz = layer_sizes(&net->layers[i]);
        total += sz.weights + sz.biases + sz.gammas;
        buffers += 2 * sz.stat_channels;
        n_groups += (sz.weights > 0) + (sz.biases > 0) + (sz.gammas > 0);
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
        struct fer_layer_sizes sz = layer_sizes(l);
        float **slots[3][2] = {{&l->w, &l->dw}, {&l->b, &l->db}, {&l->gamma, &l->dgamma}};
        size_t counts[3] = {sz.weights, sz.biases, sz.gammas};
        /* a layer with a gamma normalises its batches, and its bias is BN's beta */
        const char *suffix[3] = {"weight", sz.gammas ? "beta" : "bias", "gamma"};
        for (int k = 0; k < 3; k++) {
            if (!counts[k])
                continue;
            *slots[k][0] = net->params + off;
            *slots[k][1] = net->grads + off;
            char *name = net->group_names + 32 * g;
            snprintf(name, 32, "%d.%s.%s", i, l->ops->name, suffix[k]);
            net->groups[g] = (struct fer_param_group){name, net->params + off, net->grads + off,
                                                      counts[k], k == 0};
            off += counts[k];
            g++;
        }
        if (sz.stat_channels) {
            l->run_mean = net->buffers + boff;
            l->run_var = net->buffers + boff + sz.stat_channels;
            for (size_t c = 0; c < sz.stat_channels; c++)
                l->run_var[c] = 1.0f;
            boff += 2 * sz.stat_channels;
        }
        for (size_t c = 0; c < sz.gammas; c++)
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

/*
 * Every layer's activations for `batch` images, one layer after another: out
 * (or the output of the layer it passes on), delta, then what its type carves
 * (xhat, mask, ...), each layer's share rounded up to 64 bytes. With NULL
 * blocks in c, only counts.
 */
static void carve_activations(fer_net *net, size_t batch, struct fer_carve *c)
{
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer *l = &net->layers[i];
        const int same = l->ops->passes_on ? l->ops->passes_on(l) : -1;
        l->out = same >= 0 ? net->layers[same].out : fer_carve_floats(c, batch * l->out_size);
        /* a net without a classifier is never trained: no deltas */
        l->delta = net->n_classes ? fer_carve_floats(c, batch * l->out_size) : NULL;
        l->xhat = l->bn_mean = l->bn_invstd = l->mask = NULL;
        l->argmax = NULL;
        if (l->ops->carve)
            l->ops->carve(l, batch, c);
        fer_carve_floats(c, (16 - c->n_floats % 16) % 16); /* keep every buffer 64-byte aligned */
    }
}

enum fer_status fer_net_set_max_batch(fer_net *net, int max_batch, char *err)
{
    if (max_batch < 1 || max_batch > 65536)
        return fer_errorf(err, FER_ERR_ARG, "batch size %d out of range [1, 65536]", max_batch);
    free_activations(net);
    const size_t B = (size_t)max_batch;
    struct fer_carve count = {0};
    carve_activations(net, B, &count);
    size_t in_floats = B * (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
    net->input = fer_alloc_aligned(in_floats, sizeof(float));
    net->activations = fer_alloc_aligned(count.n_floats, sizeof(float));
    net->argmax_block = fer_alloc_aligned(count.n_words ? count.n_words : 1, sizeof(uint32_t));
    if (!net->input || !net->activations || !net->argmax_block) {
        free_activations(net);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for activations of batch %d (%zu MB)",
                          max_batch, count.n_floats * 4 >> 20);
    }
    struct fer_carve blocks = {net->activations, 0, net->argmax_block, 0};
    carve_activations(net, B, &blocks);
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

/* How many outputs a final [softmax] with merge= folds into others (0 without): the layer
 * before it, configured first, must make them too. */
static int merged_away(fer_spec *spec)
{
    if (spec->n_sections < 2)
        return 0;
    return fer_softmax_merged_away(&spec->sections[spec->n_sections - 1]);
}

/* The [net] section: input channels and size (width, height > 0 replace the spec's). */
static enum fer_status read_input(fer_net *net, fer_spec *spec, int width, int height, char *err)
{
    struct fer_spec_section *ns = &spec->sections[0];
    if (strcmp(ns->type, "net") != 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: the first section must be [net]", spec->name,
                          ns->line);
    int bad = 0;
    int w = fer_spec_int(ns, "width", 48, 4, FER_MAX_INPUT_SIDE, spec->name, &bad, err);
    int h = fer_spec_int(ns, "height", 48, 4, FER_MAX_INPUT_SIDE, spec->name, &bad, err);
    net->in_c = fer_spec_int(ns, "channels", 1, 1, 4, spec->name, &bad, err);
    fer_spec_str(ns, "name", NULL);
    if (bad)
        return FER_ERR_FORMAT;
    for (int k = 0; k < ns->n_kv; k++)
        if (!ns->kv[k].used)
            return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: unknown key '%s' in [net]", spec->name,
                              ns->kv[k].line, ns->kv[k].key);
    net->in_w = width > 0 ? width : w;
    net->in_h = height > 0 ? height : h;
    if (net->in_w < 4 || net->in_h < 4 || net->in_w > FER_MAX_INPUT_SIDE ||
        net->in_h > FER_MAX_INPUT_SIDE)
        return fer_errorf(err, FER_ERR_ARG, "input %dx%d out of range [4, %d]", net->in_w,
                          net->in_h, FER_MAX_INPUT_SIDE);
    if (net->n_classes && net->in_w != net->in_h)
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%d: a classifier takes square inputs only",
                          spec->name, ns->line);
    return FER_OK;
}

/* A classifier ends in its only [softmax], with one output per class; other nets have none. */
static enum fer_status check_outputs(const fer_net *net, const fer_spec *spec, char *err)
{
    const int n = net->n_layers;
    for (int i = 0; i < n; i++)
        if (net->layers[i].type == FER_LAYER_SOFTMAX && (i < n - 1 || !net->n_classes))
            return fer_errorf(err, FER_ERR_FORMAT,
                              net->n_classes ? "%s: [softmax] must be the last layer only"
                                             : "%s: a net without classes has no [softmax]",
                              spec->name);
    if (n == 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: the network has no layers", spec->name);
    if (!net->n_classes)
        return FER_OK;
    if (net->layers[n - 1].type != FER_LAYER_SOFTMAX)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: the last layer must be [softmax]", spec->name);
    if (net->layers[n - 1].out_c != net->n_classes)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "%s: the network ends with %d outputs but there are %d classes "
                          "(use output=classes in the last [dense])",
                          spec->name, net->layers[n - 1].out_c, net->n_classes);
    return FER_OK;
}

static enum fer_status build(fer_spec *spec, int n_classes, int max_batch, int width, int height,
                             fer_net **out, char *err)
{
    *out = NULL;
    enum fer_status st = FER_OK;
    if (n_classes != 0 && (n_classes < 2 || n_classes > 1000))
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
    if ((st = read_input(net, spec, width, height, err)) != FER_OK)
        goto fail;
    for (int s = 1; s < spec->n_sections; s++) {
        if (strcmp(spec->sections[s].type, "train") == 0)
            continue; /* training recipe, read by train/ */
        st = configure_layer(net, &spec->sections[s], net->n_layers, spec->name, err);
        if (st != FER_OK)
            goto fail;
        net->n_layers++;
    }
    if ((st = check_outputs(net, spec, err)) != FER_OK)
        goto fail;
    size_t grad_part = 1, channels = 1;
    for (int i = 0; i < net->n_layers; i++) {
        struct fer_layer_sizes sz = layer_sizes(&net->layers[i]);
        net->scratch_floats = sz.scratch > net->scratch_floats ? sz.scratch : net->scratch_floats;
        grad_part = sz.grad_part > grad_part ? sz.grad_part : grad_part;
        channels = sz.stat_channels > channels ? sz.stat_channels : channels;
    }
    if ((st = alloc_params(net, err)) != FER_OK)
        goto fail;
    net->parts = fer_alloc_aligned(FER_GRAD_PARTS * grad_part, sizeof(float));
    net->stats = fer_calloc(2 * channels, sizeof(double));
    if (!net->parts || !net->stats) {
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

enum fer_status fer_net_new(fer_spec *spec, int n_classes, int max_batch, fer_net **out, char *err)
{
    return build(spec, n_classes, max_batch, 0, 0, out, err);
}

enum fer_status fer_net_resized(const fer_net *net, int width, int height, fer_net **out, char *err)
{
    *out = NULL;
    fer_spec *spec = NULL;
    enum fer_status st = fer_spec_parse(net->spec_text, "network", &spec, err);
    if (st == FER_OK)
        st = build(spec, net->n_classes, net->max_batch, width, height, out, err);
    fer_spec_free(spec);
    if (st != FER_OK)
        return st;
    fer_net *n = *out;
    memcpy(n->params, net->params, sizeof(float) * net->n_params);
    memcpy(n->buffers, net->buffers, sizeof(float) * net->n_buffers);
    n->temperature = net->temperature;
    n->own_kernels = net->own_kernels;
    n->bn_momentum = net->bn_momentum;
    if ((st = fer_net_set_pool(n, net->pool, err)) != FER_OK) {
        fer_net_free(n);
        *out = NULL;
    }
    return st;
}

void fer_net_free(fer_net *net)
{
    if (!net)
        return;
    free_activations(net);
    free_scratch(net);
    for (int i = 0; i < net->n_layers; i++) {
        fer_free(net->layers[i].infer_w.filters);
        fer_free(net->layers[i].infer_wt.filters);
    }
    fer_free(net->profile);
    fer_free(net->parts);
    fer_free(net->stats);
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

void fer_net_set_group(fer_net *net, const struct fer_net_group *group)
{
    net->in_group = group != NULL;
    if (group)
        net->group = *group;
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
    return net->in_w;
}

int fer_net_input_width(const fer_net *net)
{
    return net->in_w;
}

int fer_net_input_height(const fer_net *net)
{
    return net->in_h;
}

int fer_net_layer_count(const fer_net *net)
{
    return net->n_layers;
}

const float *fer_net_layer_output(const fer_net *net, int i, int *c, int *h, int *w)
{
    if (i < 0 || i >= net->n_layers)
        return NULL;
    const struct fer_layer *l = &net->layers[i];
    *c = l->out_c;
    *h = l->out_h;
    *w = l->out_w;
    return l->out;
}

const struct fer_layer *fer_net_layers(const fer_net *net, int *n)
{
    *n = net->n_layers;
    return net->layers;
}

const char *fer_net_layer_kind(const fer_net *net, int i)
{
    return i >= 0 && i < net->n_layers ? net->layers[i].ops->name : NULL;
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
        if (l->ops->flops)
            f += l->ops->flops(l);
    }
    return f;
}

char *fer_net_describe(const fer_net *net)
{
    size_t cap = 128 + 128 * (size_t)net->n_layers, len = 0;
    char *s = fer_malloc(cap);
    if (!s)
        return NULL;
    len +=
        (size_t)snprintf(s + len, cap - len, "input %dx%dx%d\n", net->in_c, net->in_h, net->in_w);
    for (int i = 0; i < net->n_layers; i++) {
        const struct fer_layer *l = &net->layers[i];
        char extra[48] = "";
        if (l->ops->describe)
            l->ops->describe(l, extra, sizeof(extra));
        len += (size_t)snprintf(s + len, cap - len, "%3d %-8s %-14s -> %4d x %2d x %2d %s\n", i,
                                l->ops->name, extra, l->out_c, l->out_h, l->out_w,
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
    p.n_layers = net->n_layers;
    p.scratch = net->scratch;
    p.parts = net->parts;
    p.group = net->in_group ? &net->group : NULL;
    p.stats = net->stats;
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
        l->ops->forward(l, &p);
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
    if (!net->n_classes)
        return 0; /* see net.h: nothing to train */
    struct fer_layer *l = &net->layers[net->n_layers - 1];
    const int k = l->out_c;
    const float images = (float)(net->in_group ? net->group.global_batch : batch);
    double loss = 0;
    for (int b = 0; b < batch; b++) {
        const float *prob = l->out + (size_t)b * (size_t)k;
        const float *t = targets + (size_t)b * (size_t)k;
        float *d = l->delta + (size_t)b * (size_t)k;
        for (int i = 0; i < k; i++) {
            float ti = (1.0f - smoothing) * t[i] + smoothing / (float)k;
            if (ti > 0)
                loss -= (double)ti * log((double)prob[i] > 1e-30 ? (double)prob[i] : 1e-30);
            d[i] = (prob[i] - ti) / images;
        }
    }
    return loss / batch;
}

void fer_net_zero_grad(fer_net *net)
{
    memset(net->grads, 0, sizeof(float) * net->n_params);
}

/* The offset of layer l's first gradient, or the end of the gradients for a layer without
   parameters (its slices are in layer order, weights first: alloc_params). */
static size_t first_grad(const fer_net *net, const struct fer_layer *l)
{
    const float *first = l->dw ? l->dw : l->db ? l->db : l->dgamma;
    return first ? (size_t)(first - net->grads) : net->n_params;
}

void fer_net_backward(fer_net *net, int batch)
{
    if (!net->n_classes || fer_net_merges_outputs(net))
        return; /* see net.h: such a net is for inference */
    /* The softmax delta was set by fer_net_loss; every other delta starts at zero. */
    for (int i = 0; i < net->n_layers - 1; i++)
        memset(net->layers[i].delta, 0, sizeof(float) * net->layers[i].out_size * (size_t)batch);
    struct fer_pass p = make_pass(net, batch, 1);
    size_t ready = net->n_params; /* the gradients from here on are final */
    for (int i = net->n_layers - 1; i >= 0; i--) {
        struct fer_layer *l = &net->layers[i];
        double t0 = net->profile ? fer_now() : 0;
        p.in = i == 0 ? net->input : net->layers[i - 1].out;
        p.in_delta = i == 0 ? NULL : net->layers[i - 1].delta;
        l->ops->backward(l, &p);
        if (net->profile)
            net->profile[2 * i + 1] += fer_now() - t0;
        if (net->in_group && net->group.grads_ready && first_grad(net, l) < ready)
            net->group.grads_ready(net->group.ctx, ready = first_grad(net, l));
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
    fprintf(out, "layer type       forward s   backward s   share\n");
    for (int i = 0; i < net->n_layers; i++)
        fprintf(out, "%5d %-8s %11.5f %12.5f  %5.1f%%\n", i, net->layers[i].ops->name,
                net->profile[2 * i], net->profile[2 * i + 1],
                total > 0 ? 100 * (net->profile[2 * i] + net->profile[2 * i + 1]) / total : 0.0);
}

void fer_net_weights_changed(fer_net *net)
{
    net->weights_gen++;
}

int fer_net_filters_stale(const fer_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        const struct fer_layer *l = &net->layers[i];
        if (fer_filter_cache_stale(&l->infer_w, l->w, l->n_w, net->weights_gen) ||
            fer_filter_cache_stale(&l->infer_wt, l->w, l->n_w, net->weights_gen))
            return 1;
    }
    return 0;
}

size_t fer_net_param_groups(fer_net *net, struct fer_param_group **groups)
{
    *groups = net->groups;
    return net->n_groups;
}

float *fer_net_params(fer_net *net, size_t *n)
{
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
