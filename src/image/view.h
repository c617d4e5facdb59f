/*
 * view.h - the float input a network sees of a stored face: a window of it (centred, moved by
 * whole pixels, optionally mirrored), normalised as (x/255 - mean) / std. Shared by inference
 * (pipeline), evaluation and test-time augmentation (train); training's random views are
 * data/augment.h's.
 */
#ifndef FER_IMAGE_VIEW_H
#define FER_IMAGE_VIEW_H

#include <stdint.h>

/*
 * The out_side x out_side window centred on the src_side x src_side face and moved by (dx, dy)
 * pixels (the border replicated), mirrored when flip is set, normalised into dst.
 */
void fer_face_view(const uint8_t *src, int src_side, float *dst, int out_side, int dx, int dy,
                   int flip, float mean, float std);

#endif
