/*
 * augment.h - seeded image augmentation and normalisation for training.
 *
 * One call turns a stored 48x48 uint8 face into the network's float input:
 * a random affine warp (shift, rotation, scale), horizontal flip, brightness
 * and contrast jitter and optional random erasing, sampled bilinearly (or
 * nearest-neighbour, see `nearest`) with the border replicated, then normalised as (x/255 - mean) /
 * std. The same rng state gives the same output, bit for bit.
 */
#ifndef FER_DATA_AUGMENT_H
#define FER_DATA_AUGMENT_H

#include <stdint.h>

#include "core/rng.h"

struct fer_augment {
    float shift;      /* max translation in pixels, each axis (e.g. 4) */
    float rotate;     /* max rotation in degrees (e.g. 10) */
    float scale;      /* max relative scale change (e.g. 0.1 means 0.9..1.1) */
    float flip;       /* probability of a horizontal flip (e.g. 0.5) */
    float brightness; /* max additive change, in [0,1] units (e.g. 0.1) */
    float contrast;   /* max relative contrast change (e.g. 0.2) */
    float erase;      /* probability of erasing one random rectangle (e.g. 0.25) */
    int nearest;      /* 1: whole-pixel shifts and nearest-neighbour sampling, so that training
                         faces are as sharp as the exact crops of evaluation (as torchvision's
                         RandomCrop and RandomAffine); 0: sub-pixel shifts, bilinear sampling,
                         which blurs every training face a little */
};

/* The defaults used by `fer train` unless overridden. */
struct fer_augment fer_augment_defaults(void);
/* No augmentation at all (evaluation). */
struct fer_augment fer_augment_none(void);

/*
 * src: src_side x src_side uint8; dst: out_side x out_side floats. When
 * out_side < src_side and there is no augmentation, the centre is cropped.
 * rng may be NULL when a is fer_augment_none(). flip_only forces a flip
 * (used for test-time augmentation) regardless of a->flip.
 */
void fer_augment_image(const uint8_t *src, int src_side, float *dst, int out_side,
                       const struct fer_augment *a, fer_rng *rng, float mean, float std,
                       int force_flip);

/* The deterministic views of evaluation and test-time augmentation: image/view.h. */

#endif
