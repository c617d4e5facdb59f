/*
 * layer.h - layer types and their forward/backward kernels (internal to nn/).
 *
 * Activations are stored N x C x H x W (one image after another). Every
 * layer reads its input from the previous layer's `out` (the net input for
 * the first layer) and, in backward, adds dL/dinput into the previous layer's
 * `delta`; deltas are zeroed before each backward pass, so layers that feed
 * several others (shortcut, route) simply accumulate.
 */
#ifndef FER_NN_LAYER_H
#define FER_NN_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"

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
};

enum fer_activation {
    FER_ACT_LINEAR,
    FER_ACT_RELU,
};

#define FER_MAX_ROUTES  8
#define FER_BN_EPS      1e-5f
#define FER_BN_MOMENTUM 0.1f

struct fer_layer {
    enum fer_layer_type type;
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

    /* conv forward: the weights as fer's own kernels want them (Winograd-
     * transformed and packed, winograd.h, or packed, small_gemm.h), made from w
     * at the net's weights generation infer_gen; NULL until first needed */
    float *infer_w;
    uint64_t infer_gen;
    /* conv backward: the filters turned half round and transposed, Winograd-transformed and
     * packed (winograd.h), made at generation infer_wt_gen; NULL until first needed */
    float *infer_wt;
    uint64_t infer_wt_gen;
};

/* What one pass needs besides the layer itself. */
struct fer_pass {
    fer_pool *pool;
    int batch;
    int training;
    int own_kernels;      /* conv forward: winograd.h and small_gemm.h, not BLAS */
    uint64_t weights_gen; /* changes whenever the weights may have changed */
    float bn_momentum;    /* see fer_net_set_bn_momentum */
    uint64_t seed, step;
    struct fer_layer *layers; /* all layers, for shortcut/route sources */
    const float *in;          /* this layer's input (N x in_size) */
    float *in_delta;          /* where dL/dinput goes, NULL for the first layer */
    float **scratch;          /* per thread, scratch_floats each */
    float *parts;             /* FER_GRAD_PARTS x max weights: partial weight gradients */
};

/* Weight gradients are reduced over this many fixed image groups, whatever the thread count. */
#define FER_GRAD_PARTS 8

/* Scratch floats one thread needs for this layer (im2col buffers). */
size_t fer_conv_scratch(const struct fer_layer *l);

void fer_conv_forward(struct fer_layer *l, struct fer_pass *p);
void fer_conv_backward(struct fer_layer *l, struct fer_pass *p);
void fer_dense_forward(struct fer_layer *l, struct fer_pass *p);
void fer_dense_backward(struct fer_layer *l, struct fer_pass *p);
void fer_pool_forward(struct fer_layer *l, struct fer_pass *p); /* max, avg and global avg */
void fer_pool_backward(struct fer_layer *l, struct fer_pass *p);
void fer_batchnorm_forward(struct fer_layer *l, struct fer_pass *p);
void fer_batchnorm_backward(struct fer_layer *l, struct fer_pass *p);
void fer_dropout_forward(struct fer_layer *l, struct fer_pass *p);
void fer_dropout_backward(struct fer_layer *l, struct fer_pass *p);
void fer_shortcut_forward(struct fer_layer *l, struct fer_pass *p);
void fer_shortcut_backward(struct fer_layer *l, struct fer_pass *p);
void fer_route_forward(struct fer_layer *l, struct fer_pass *p);
void fer_route_backward(struct fer_layer *l, struct fer_pass *p);
void fer_softmax_forward(struct fer_layer *l, struct fer_pass *p);
void fer_softmax_backward(struct fer_layer *l, struct fer_pass *p);

/*
 * Batch normalisation over N x C x HW data held in l->xhat (normalised in
 * place), writing gamma * xhat + beta into l->out; and its backward, which
 * turns l->delta (dL/dout) into dL/dinput in place and accumulates dgamma,
 * dbeta. Shared by [batchnorm] and [convolutional] batch_normalize=1.
 */
void fer_bn_forward(struct fer_layer *l, struct fer_pass *p);
void fer_bn_backward(struct fer_layer *l, struct fer_pass *p);

/* Applies the layer's activation to out in place, and its derivative to delta. */
void fer_activate(struct fer_layer *l, struct fer_pass *p);
void fer_activate_backward(struct fer_layer *l, struct fer_pass *p);

#endif
