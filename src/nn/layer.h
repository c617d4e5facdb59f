/*
 * layer.h - layer types and their forward/backward kernels (internal to nn/).
 *
 * Activations are stored N x C x H x W (one image after another). Every
 * layer reads its input from the previous layer's `out` (the net input for
 * the first layer) and, in backward, adds dL/dinput into the previous layer's
 * `delta`; deltas are zeroed before each backward pass, so layers that feed
 * several others (shortcut, route) simply accumulate.
 *
 * Each layer type is one struct fer_layer_ops, defined in its own file (conv.c,
 * dense.c, ...) and listed once in layers.c: how it reads its [section] of a
 * spec, what memory it needs, what it costs and prints, and its passes.
 * net.c holds the graph, the memory and the loops over layers, and knows no
 * type by name.
 */
#ifndef FER_NN_LAYER_H
#define FER_NN_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/status.h"
#include "nn/filter_cache.h"
#include "nn/net.h"
#include "nn/onnx.h"
#include "nn/spec.h"

enum fer_layer_type {
    FER_LAYER_CONV,
    FER_LAYER_DENSE,
    FER_LAYER_MAXPOOL,
    FER_LAYER_AVGPOOL,
    FER_LAYER_GAP,
    FER_LAYER_BATCHNORM,
    FER_LAYER_DROPOUT,
    FER_LAYER_SHORTCUT,
    FER_LAYER_ROUTE,
    FER_LAYER_SOFTMAX,
    FER_LAYER_DEPTHWISE,
    FER_LAYER_UPSAMPLE,
};

enum fer_activation {
    FER_ACT_LINEAR,
    FER_ACT_RELU,
};

#define FER_MAX_ROUTES  8
#define FER_BN_EPS      1e-5f
#define FER_BN_MOMENTUM 0.1f

struct fer_layer_ops;
struct fer_onnx;

struct fer_layer {
    const struct fer_layer_ops *ops;
    enum fer_layer_type type; /* ops->type, for kernels that several types share */
    int index;
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    size_t in_size, out_size; /* floats per image */

    int size, stride, pad; /* conv and pooling */
    int batch_norm;        /* conv: conv (no bias) -> BN -> activation */
    enum fer_activation act;
    float prob; /* dropout probability */
    int from;   /* shortcut: absolute index of the second input */
    int n_routes;
    int routes[FER_MAX_ROUTES];
    int n_merge; /* softmax: outputs whose probabilities are added into the first, or 0 */
    int merge[FER_MAX_ROUTES];

    /* parameters and gradients: slices of the net's arrays, NULL when absent */
    float *w, *b, *gamma; /* b is BN's beta when batch_norm */
    float *dw, *db, *dgamma;
    size_t n_w; /* conv: out_c * in_c * size * size; dense: out * in */
    float *run_mean, *run_var;

    /* activations, max_batch images */
    float *out, *delta;
    float *xhat;      /* BN: normalised values (conv output before BN) */
    float *bn_mean;   /* BN: batch mean per channel */
    float *bn_invstd; /* BN: 1/sqrt(var + eps) per channel */
    float *mask;      /* dropout: 0 or 1/(1-p) */
    uint32_t *argmax; /* maxpool: input offset of each output's maximum */

    /* conv forward: the weights as fer's own kernels want them (Winograd-transformed and
     * packed, winograd.h, or packed, small_gemm.h) */
    struct fer_filter_cache infer_w;
    /* conv backward: the filters turned half round and transposed, Winograd-transformed and
     * packed (winograd.h) */
    struct fer_filter_cache infer_wt;
};

/* What one pass needs besides the layer itself. */
struct fer_pass {
    fer_pool *pool;
    int batch;
    int training;
    int own_kernels;      /* conv forward: winograd.h and small_gemm.h, not BLAS */
    uint64_t weights_gen; /* moves when the weights change (filter_cache.h) */
    float bn_momentum;    /* see fer_net_set_bn_momentum */
    uint64_t seed, step;
    struct fer_layer *layers;          /* all layers, for shortcut/route sources */
    int n_layers;
    const float *in;                   /* this layer's input (N x in_size) */
    float *in_delta;                   /* where dL/dinput goes, NULL for the first layer */
    float **scratch;                   /* per thread, scratch_floats each */
    float *parts;                      /* FER_GRAD_PARTS x max weights: partial weight gradients */
    const struct fer_net_group *group; /* training with other processes (net.h), or NULL */
    double *stats; /* 2 x the most channels of a layer: batch norm's per-channel sums */
};

/* Weight gradients are reduced over this many fixed image groups, whatever the thread count. */
#define FER_GRAD_PARTS 8

/* What configuring a layer reads besides the layer itself. */
struct fer_layer_spec {
    struct fer_spec_section *s;      /* its section: keys read are marked used */
    const char *file;                /* the spec's name, for messages ("models/seed.cfg:12: ...") */
    const struct fer_layer *earlier; /* layers 0 .. index - 1, for shortcut and route */
    int n_logits;                    /* what output=classes means: the softmax's inputs */
    char *err;
};

/* What a layer needs from the net's allocations besides out and delta; 0 where nothing. */
struct fer_layer_sizes {
    size_t weights, biases, gammas; /* parameters: w (decayed), b (BN's beta with gammas), gamma */
    size_t stat_channels;           /* channels with BN running statistics (mean and variance) */
    size_t scratch;                 /* floats one thread needs in a pass */
    size_t grad_part;               /* floats of one image group's partial weight gradient */
};

/* Hands out consecutive pieces of one float block and one uint32 block. The net runs it twice:
 * with NULL blocks to count, then on the blocks it allocated to the counts. */
struct fer_carve {
    float *floats;
    size_t n_floats; /* handed out so far */
    uint32_t *words;
    size_t n_words;
};
float *fer_carve_floats(struct fer_carve *c, size_t n);   /* NULL while counting */
uint32_t *fer_carve_words(struct fer_carve *c, size_t n); /* NULL while counting */

/*
 * One layer type. Hooks left NULL mean nothing to do: no parameters or
 * buffers, no multiply-adds, nothing to print.
 */
struct fer_layer_ops {
    const char *section; /* its [section] in specs */
    const char *alias;   /* another name for the section (darknet's or a short one), or NULL */
    const char *name;    /* short, in fer_net_describe, profiles and parameter names */
    enum fer_layer_type type;
    /*
     * Reads the section's keys into l and sets its output shape (out_c, out_h,
     * out_w) and n_w from its input's (in_c, in_h, in_w), which the net set
     * with index and act. Errors name the spec line; a key the hook does not
     * read is reported by the net as unknown.
     */
    enum fer_status (*configure)(struct fer_layer *l, const struct fer_layer_spec *spec);
    /* Fills in what the layer needs of sz, which the net zeroed. */
    void (*sizes)(const struct fer_layer *l, struct fer_layer_sizes *sz);
    /* Takes the layer's own activation buffers for `batch` images (xhat, mask, ...) from c. */
    void (*carve)(struct fer_layer *l, size_t batch, struct fer_carve *c);
    /* The earlier layer whose output this layer's output is, value for value (a route to one
     * layer), or -1: the net then gives both one buffer, and the pass copies nothing. */
    int (*passes_on)(const struct fer_layer *l);
    double (*flops)(const struct fer_layer *l); /* forward multiply-adds x2, one image */
    /* Writes the layer's hyperparameters for fer_net_describe ("3x3/1 bn") into buf. */
    void (*describe)(const struct fer_layer *l, char *buf, size_t n);
    void (*forward)(struct fer_layer *l, struct fer_pass *p);
    void (*backward)(struct fer_layer *l, struct fer_pass *p);
    /* Writes the layer's inference as ONNX nodes with onnx.h's builder and records its output
     * value; NULL: the type has no ONNX form, and exporting a net with it is refused. */
    void (*to_onnx)(const struct fer_layer *l, struct fer_onnx *g);
};

/* A net's layers, in order (borrowed): for nn's own readers of the graph, the ONNX export. */
const struct fer_layer *fer_net_layers(const fer_net *net, int *n);

/* The layer type whose section (or alias) is `section`, or NULL. From layers.c's table. */
const struct fer_layer_ops *fer_layer_ops_find(const char *section);

extern const struct fer_layer_ops fer_conv_ops, fer_dense_ops, fer_maxpool_ops, fer_avgpool_ops,
    fer_gap_ops, fer_batchnorm_ops, fer_dropout_ops, fer_shortcut_ops, fer_route_ops,
    fer_softmax_ops, fer_depthwise_ops, fer_upsample_ops;

/*
 * Parses a list of layers "-1,-4" (at most max) into routes, negative ones
 * relative to layer i; -1 when it does not parse or is too long.
 */
int fer_layer_parse_list(const char *s, int i, int *routes, int max);

/* The outputs a [softmax] section's merge= folds into others (0 for other sections), which
 * the layer before it must produce besides the classes. Checked by its configure. */
int fer_softmax_merged_away(struct fer_spec_section *s);

/* Scratch floats one thread needs for this layer (im2col buffers). */
size_t fer_conv_scratch(const struct fer_layer *l);

void fer_conv_forward(struct fer_layer *l, struct fer_pass *p);
void fer_conv_backward(struct fer_layer *l, struct fer_pass *p);
void fer_dense_forward(struct fer_layer *l, struct fer_pass *p);
void fer_dense_backward(struct fer_layer *l, struct fer_pass *p);
void fer_pool_forward(struct fer_layer *l, struct fer_pass *p); /* max, avg and global avg */
/*
 * In inference, a 2x2 [maxpool] right after a convolution, or after a shortcut that a
 * convolution does (fer_shortcut_done_by_conv), is that convolution's to do too: each thread
 * pools the channels and rows it made (fer_maxpool_rows) while they are in its cache, and the
 * pool's own pass does nothing. 1 when l is such a pool.
 */
int fer_maxpool_done_by_conv(const struct fer_layer *l, const struct fer_pass *p);
/* The 2x2 pool l's outputs from channels c0 .. c1, input rows y0 .. y1 (y0 even) of one image's
 * input in: the output rows those rows make, into out. */
void fer_maxpool_rows(const struct fer_layer *l, const float *in, float *out, int c0, int c1,
                      int y0, int y1);
void fer_pool_backward(struct fer_layer *l, struct fer_pass *p);
void fer_batchnorm_forward(struct fer_layer *l, struct fer_pass *p);
void fer_batchnorm_backward(struct fer_layer *l, struct fer_pass *p);
void fer_dropout_forward(struct fer_layer *l, struct fer_pass *p);
void fer_dropout_backward(struct fer_layer *l, struct fer_pass *p);
void fer_shortcut_forward(struct fer_layer *l, struct fer_pass *p);
void fer_shortcut_backward(struct fer_layer *l, struct fer_pass *p);
void fer_route_forward(struct fer_layer *l, struct fer_pass *p);
/*
 * In inference, a [shortcut] right after a convolution is that convolution's to do: each
 * thread adds and activates the channels it made while they are in its cache
 * (fer_shortcut_add), and the shortcut's own pass does nothing. 1 when l is such a shortcut.
 * (A 2x2 max pool after either is the convolution's too: fer_maxpool_done_by_conv.)
 */
int fer_shortcut_done_by_conv(const struct fer_layer *l, const struct fer_pass *p);
/* out = act(in + other) over n values, act the shortcut l's. */
void fer_shortcut_add(const struct fer_layer *l, const float *in, const float *other, float *out,
                      size_t n);
void fer_route_backward(struct fer_layer *l, struct fer_pass *p);
void fer_softmax_forward(struct fer_layer *l, struct fer_pass *p);
void fer_softmax_backward(struct fer_layer *l, struct fer_pass *p);

/*
 * Batch normalisation over N x C x HW data held in l->xhat (normalised in
 * place), writing gamma * xhat + beta into l->out; and its backward, which
 * turns l->delta (dL/dout) into dL/dinput in place and accumulates dgamma,
 * dbeta. Shared by [batchnorm] and [convolutional] batch_normalize=1, with
 * its parameters (beta in b, gamma), statistics and buffers (xhat, bn_mean,
 * bn_invstd), which _sizes sets in sz and _carve takes from c.
 */
void fer_bn_forward(struct fer_layer *l, struct fer_pass *p);
void fer_bn_backward(struct fer_layer *l, struct fer_pass *p);
void fer_bn_sizes(const struct fer_layer *l, struct fer_layer_sizes *sz);
void fer_bn_carve(struct fer_layer *l, size_t batch, struct fer_carve *c);

/* Parses an activation name (relu, linear); 0 when unknown. */
int fer_activation_parse(const char *s, enum fer_activation *act);
/* Applies the layer's activation to out in place, and its derivative to delta. */
void fer_activate(struct fer_layer *l, struct fer_pass *p);
void fer_activate_backward(struct fer_layer *l, struct fer_pass *p);

#endif
