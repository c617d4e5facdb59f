/*
 * view.c - deterministic views of a face for evaluation and test-time
 * augmentation: a centred window moved by whole pixels, optionally mirrored.
 */
#include "image/view.h"

#include <stddef.h>

void fer_face_view(const uint8_t *src, int src_side, float *dst, int out_side, int dx, int dy,
                   int flip, float mean, float std)
{
    const float scale = 1.0f / (255.0f * std), offset = mean / std;
    const int origin = (src_side - out_side) / 2;
    for (int y = 0; y < out_side; y++) {
        int sy = origin + y + dy;
        sy = sy < 0 ? 0 : sy >= src_side ? src_side - 1 : sy;
        const uint8_t *row = src + (size_t)sy * (size_t)src_side;
        float *out = dst + (size_t)y * (size_t)out_side;
        for (int x = 0; x < out_side; x++) {
            int sx = origin + (flip ? out_side - 1 - x : x) + dx;
            sx = sx < 0 ? 0 : sx >= src_side ? src_side - 1 : sx;
            out[x] = (float)row[sx] * scale - offset;
        }
    }
}
