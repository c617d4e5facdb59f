/*
 * net.h - a convolutional network built from an architecture spec.
 *
 * A fer_net owns its parameters (one allocation, with named slices per
 * layer, llm.c style), their gradients, the running statistics of batch
 * normalisation, and the activations of every layer for up to max_batch
 * images. Training reads:
 *
 *     fill fer_net_input(net) with batch images (N x C x H x W floats)
 *     fer_net_forward(net, batch, 1);
 *     loss = fer_net_loss(net, batch, targets, smoothing);   // sets dL/dlogits
 *     fer_net_zero_grad(net);
 *     fer_net_backward(net, batch);
 *     optimizer step over fer_net_param_groups(...), then fer_net_weights_changed(net)
 *
 * A classifier (n_classes > 0) ends in [softmax]: fer_net_output gives
 * probabilities. A net built for 0 classes has no classifier (a detector, say,
 * whose outputs are read from several layers with fer_net_layer_output): it
 * takes inputs of any shape its spec allows, keeps no gradients of its
 * activations, and fer_net_loss and fer_net_backward do nothing on it.
 * Work is split over the thread pool set with fer_net_set_pool; results are
 * bit-identical for any number of threads.
 */
#ifndef FER_NN_NET_H
#define FER_NN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/pool.h"
#include "core/status.h"
#include "nn/spec.h"

typedef struct fer_net fer_net;

/* One trainable tensor: a slice of the parameter and gradient arrays. */
struct fer_param_group {
    const char *name; /* e.g. "conv3.weight" (owned by the net) */
    float *param;
    float *grad;
    size_t n;
    int decay; /* 1 for weights that take weight decay, 0 for biases and BN */
};

/*
 * Builds a network from spec for n_classes outputs (0: no classifier, see
 * above) and up to max_batch images per call. `output=classes` in a [dense]
 * section means n_classes. Classifiers take square inputs.
 * Weights are zero until fer_net_init_weights or a model load fills them.
 * The net keeps its own copy of the spec text. Errors name the spec line.
 */
enum fer_status fer_net_new(fer_spec *spec, int n_classes, int max_batch, fer_net **out, char *err);
void fer_net_free(fer_net *net);

/*
 * A copy of net (weights, statistics, temperature, pool and kernel choice)
 * for inputs of width x height instead of the spec's: for a detector that
 * runs on images of any size. The caller frees *out.
 */
enum fer_status fer_net_resized(const fer_net *net, int width, int height, fer_net **out,
                                char *err);

/* Reallocates activations for a different max batch (parameters are kept). */
enum fer_status fer_net_set_max_batch(fer_net *net, int max_batch, char *err);
int fer_net_max_batch(const fer_net *net);

/* He-normal initialisation of weights (Xavier for the final linear layer), seeded. */
void fer_net_init_weights(fer_net *net, uint64_t seed);

/*
 * The pool to split work over (borrowed, must outlive its use; NULL runs on
 * the calling thread). Allocates per-thread buffers.
 */
enum fer_status fer_net_set_pool(fer_net *net, fer_pool *pool, char *err);
/* The pool set with fer_net_set_pool (borrowed; may be NULL). */
fer_pool *fer_net_pool(const fer_net *net);
/*
 * How much one training batch moves the batch-norm running statistics
 * (default 0.1, as PyTorch; out of (0, 1] restores it). 1/(k+1) for batch k
 * makes them the plain average over batches (fer_average_models does this).
 */
void fer_net_set_bn_momentum(fer_net *net, float momentum);
/*
 * Whether forward passes run the convolutions on fer's own kernels (on by
 * default): Winograd's F(2x2, 3x3) where it pays (nn/winograd.h) and a small
 * GEMM on weights packed once per weights change (nn/small_gemm.h)
 * elsewhere, instead of im2col and OpenBLAS. The answers differ by float
 * rounding only. Training takes them too: in the forward pass, and for the
 * input's and (on maps of 8x8 or more) the weights' gradients of 3x3 layers
 * (the weights are transformed again after each step, which costs little
 * next to a batch); the rest of the backward pass runs on im2col + OpenBLAS.
 * Off for benchmarks and tests that compare.
 */
void fer_net_set_own_kernels(fer_net *net, int on);
/* Seed and step that make dropout masks reproducible. */
void fer_net_set_noise(fer_net *net, uint64_t seed, uint64_t step);

/*
 * Data-parallel training: processes that each run a share of every global batch through their
 * copy of one net. sum adds n doubles element-wise over all of them, in place, so that each
 * gets the totals. Batch normalisation sums its statistics with it, so that a net normalises
 * over the global batch however it is split (synchronised batch norm). first_image is this
 * copy's first image in the global batch (dropout masks follow global indices), global_batch
 * the images of all copies (the loss's gradient is a mean over them). grads_ready, when set,
 * hears after each layer's backward that the gradients from offset `from` to the end are
 * final, so their sum over the copies can start while the backward pass goes on. The group
 * adds the gradients itself, after fer_net_backward. Copied; NULL: the net trains alone.
 */
struct fer_net_group {
    void (*sum)(void *ctx, double *v, size_t n);
    void (*grads_ready)(void *ctx, size_t from);
    void *ctx;
    int first_image, global_batch;
};
void fer_net_set_group(fer_net *net, const struct fer_net_group *group);
/*
 * The calibration temperature T (1 unless a model file's "temperature" says
 * otherwise; see train/calibrate.h). Inference code applies it with
 * fer_net_temper to the final probabilities, after test-time views are
 * averaged: p becomes p^(1/T) renormalised, which for one view is
 * softmax(logits / T). The ranking of the classes does not change, and
 * training ignores it. T outside (0, FER_TEMPERATURE_MAX] is refused.
 */
#define FER_TEMPERATURE_MAX 100.0f
int fer_net_set_temperature(fer_net *net, float t);
float fer_net_temperature(const fer_net *net);
/* Applies T to one row of k probabilities in place (nothing when T is 1). */
void fer_temper(float *p, int k, float t);

int fer_net_input_channels(const fer_net *net);
int fer_net_input_side(const fer_net *net); /* a classifier's: width = height */
int fer_net_input_width(const fer_net *net);
int fer_net_input_height(const fer_net *net);
int fer_net_layer_count(const fer_net *net);
/*
 * Layer i's output after a forward pass: batch x c x h x w floats (borrowed, valid until the
 * next forward), or NULL when there is no layer i.
 */
const float *fer_net_layer_output(const fer_net *net, int i, int *c, int *h, int *w);
/* Layer i's type as fer_net_describe names it ("conv", "maxpool", "shortcut", ...), or NULL. */
const char *fer_net_layer_kind(const fer_net *net, int i);
int fer_net_classes(const fer_net *net);
/* 1 when the [softmax] adds some outputs' probabilities into another's (merge=, e.g. disgust
 * into angry): such a net is for inference, and fer_net_backward does nothing on it. */
int fer_net_merges_outputs(const fer_net *net);
/* The spec text the net was built from (borrowed). */
const char *fer_net_spec_text(const fer_net *net);
/* Forward multiply-adds x2 for one image, and the number of parameters. */
double fer_net_flops(const fer_net *net);
size_t fer_net_param_count(const fer_net *net);
/* A multi-line human summary of the layers (caller frees). */
char *fer_net_describe(const fer_net *net);

/* max_batch x channels x side x side floats to fill before forward. */
float *fer_net_input(fer_net *net);
void fer_net_forward(fer_net *net, int batch, int training);
/* batch x classes probabilities after forward (borrowed, valid until the next forward). */
const float *fer_net_output(const fer_net *net);

/*
 * Mean softmax cross-entropy over the batch against target distributions
 * (batch x classes, each row summing to 1; one-hot for hard labels), with
 * label smoothing eps (targets become (1-eps) t + eps/classes). Stores the
 * gradient with respect to the logits for fer_net_backward: of the mean over
 * the batch, or in a group (fer_net_set_group) over the global batch.
 */
double fer_net_loss(fer_net *net, int batch, const float *targets, float smoothing);
void fer_net_zero_grad(fer_net *net);
void fer_net_backward(fer_net *net, int batch);

/* Times every layer's forward and backward from now on; print the table with _print. */
enum fer_status fer_net_profile_start(fer_net *net);
void fer_net_profile_print(const fer_net *net, FILE *out);

/*
 * Trainable tensors, in layer order (borrowed, valid until fer_net_free).
 * Asking for them changes nothing; whoever writes through them calls
 * fer_net_weights_changed before the next pass.
 */
size_t fer_net_param_groups(fer_net *net, struct fer_param_group **groups);
/* All parameters as one array (the same memory as the groups'); the same rule. */
float *fer_net_params(fer_net *net, size_t *n);
/*
 * The weights were written (an optimizer step, a load, an average): the
 * forward and backward kernels' transformed copies of them are made again at
 * the next pass. Without it those passes would run on the old weights;
 * sanitizer builds abort with a message instead (nn/filter_cache.h).
 */
void fer_net_weights_changed(fer_net *net);
/* 1 when weights were written without fer_net_weights_changed since a pass made filters from
 * them: the check sanitizer builds make before reusing filters. Always 0 in other builds. */
int fer_net_filters_stale(const fer_net *net);
float *fer_net_grads(fer_net *net, size_t *n);
/* The batch-norm running statistics; no kernel keeps copies, so writes need no notice. */
float *fer_net_buffers(fer_net *net, size_t *n);

#endif
