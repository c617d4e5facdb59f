/*
 * winograd.h - 3x3 convolutions by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016). Internal to nn/.
 *
 * Each 2x2 block of outputs comes from a 4x4 tile of input: 16 multiplies per
 * input channel instead of 36. Per image (or group of images), the tiles are
 * transformed (V = Bᵀ d B), multiplied by the transformed filters in 16 GEMMs
 * with the output channels along the vectors (M[ξ]ᵀ = V[ξ]ᵀ · U[ξ]ᵀ, U = G g Gᵀ
 * packed once; fer_small_gemm_tn) and transformed back (Y = Aᵀ M A).
 * The built-in network's 22x22, 11x11 and 5x5 layers take it; its first layer
 * (one input channel) and the 1x1 projections stay on im2col, on the same small
 * GEMM (BENCHMARKS.md). Training takes it too: in the forward pass, and in the
 * backward pass for the input and the weights (below).
 */
#ifndef FER_NN_WINOGRAD_H
#define FER_NN_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "nn/layer.h"

/* 1 when l is a 3x3, stride 1, pad 1 convolution where Winograd pays (see winograd.c). */
int fer_winograd_fits(const struct fer_layer *l);

/* Scratch floats fer_winograd_forward needs for one image of l. */
size_t fer_winograd_scratch(const struct fer_layer *l);

/*
 * Makes l's transformed filters from l->w unless they were made at weights
 * generation `gen` already. Returns 0 when out of memory (the caller then
 * takes the im2col path), 1 when they are ready.
 */
int fer_winograd_prepare(struct fer_layer *l, uint64_t gen);

/* The most images fer_winograd_forward takes at once (its scratch is for that many): more
 * than one where the maps are small, so that the filters, read once, serve them all. */
int fer_winograd_group(const struct fer_layer *l);

/* dst (images, F, OH, OW) = the convolution of `images` (1 .. fer_winograd_group) images in
 * (images, C, H, W); no bias. */
void fer_winograd_forward(const struct fer_layer *l, const float *in, int images, float *dst,
                          float *scratch);

/* What a caller does to output channels f0 .. f1, positions p0 .. p1 of each, of one image right
 * after they are made, on the thread that made them (the bias, or batch norm, and the
 * activation). */
typedef void (*fer_winograd_finish)(void *arg, float *dst, int f0, int f1, size_t p0, size_t p1);

/* The same for one image on all of pool's threads (scratch: theirs, fer_winograd_scratch floats
 * each), where a batch has fewer images than threads: one face's latency, halved on two. Each
 * thread calls finish (when not NULL) on the channels it made. */
void fer_winograd_forward_shared(const struct fer_layer *l, const float *in, float *dst,
                                 float **scratch, fer_pool *pool, fer_winograd_finish finish,
                                 void *finish_arg);

/*
 * The backward pass for the input, as a convolution too: the gradient of the
 * output (F channels) convolved with the filters turned half round and
 * transposed gives the gradient of the input (C channels). _fits_backward
 * says whether it pays (the same rules with C and F swapped), _prepare_backward
 * makes those filters (l->infer_wt) unless made at `gen` (0 when out of
 * memory), and fer_winograd_backward adds one image's input gradient to din
 * (C, H, W) from delta (F, H, W), with fer_winograd_backward_scratch floats.
 */
int fer_winograd_fits_backward(const struct fer_layer *l);
size_t fer_winograd_backward_scratch(const struct fer_layer *l);
int fer_winograd_prepare_backward(struct fer_layer *l, uint64_t gen);
void fer_winograd_backward(const struct fer_layer *l, const float *delta, float *din,
                           float *scratch);

/*
 * The weight gradient where fer_winograd_fits: fer_winograd_weight_grad_image
 * adds one image's contribution, in the transformed domain, to du
 * (fer_winograd_grad_floats floats, zeroed by the caller), with
 * fer_winograd_grad_scratch floats of scratch; fer_winograd_weight_grad_finish
 * adds the 3x3 gradient of a du summed over images to dw (F, C, 3, 3).
 */
int fer_winograd_fits_grad(const struct fer_layer *l);
size_t fer_winograd_grad_floats(const struct fer_layer *l);
size_t fer_winograd_grad_scratch(const struct fer_layer *l);
void fer_winograd_weight_grad_image(const struct fer_layer *l, const float *in, const float *delta,
                                    float *du, float *scratch);
void fer_winograd_weight_grad_finish(const struct fer_layer *l, const float *du, float *dw);

#endif
