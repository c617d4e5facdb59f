/*
 * stem.h - the first layer of fer's classifiers: a 3x3, stride 1, pad 1 convolution of one gray
 * plane, made directly (internal to nn/).
 *
 * With one input channel there is nothing for a product to share: im2col would copy the plane
 * nine times to feed a GEMM nine deep, and Winograd has no channels to sum over. The direct
 * sum reads the padded plane from L1 and writes each output once. Each output is the same sum
 * in the same order whichever filters a call takes, so splitting the filters over threads
 * changes no value.
 */
#ifndef FER_NN_STEM_H
#define FER_NN_STEM_H

#include <stddef.h>

#include "nn/layer.h"

/* 1 when l is such a convolution: one input channel, 3x3, stride 1, pad 1. */
int fer_stem_fits(const struct fer_layer *l);

/* Scratch floats fer_stem_forward needs: the padded plane. */
size_t fer_stem_scratch(const struct fer_layer *l);

/* Filters f0 .. f1 of one image: dst (F, H, W) gets in (1, H, W) convolved with l->w; no bias. */
void fer_stem_forward(const struct fer_layer *l, const float *in, float *dst, int f0, int f1,
                      float *scratch);

#endif
