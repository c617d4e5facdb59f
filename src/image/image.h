/*
 * image.h - 8-bit images in memory: grayscale or RGB, row-major, tightly
 * packed (stride = width * channels). A small value struct: whoever fills
 * one with fer_image_new or a decoder owns its pixels and releases them with
 * fer_image_free.
 */
#ifndef FER_IMAGE_IMAGE_H
#define FER_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Decoders refuse images with more pixels than this (decompression bombs). */
#define FER_IMAGE_MAX_PIXELS ((size_t)50 * 1000 * 1000)

typedef struct fer_image {
    int width, height;
    int channels; /* 1 (gray) or 3 (RGB) */
    uint8_t *data;
} fer_image;

/* Axis-aligned box in pixels. */
typedef struct fer_rect {
    int x, y, w, h;
} fer_rect;

/* Allocates a zeroed width x height x channels image into *img. */
enum fer_status fer_image_new(int width, int height, int channels, fer_image *img, char *err);
/* Releases img's pixels and zeroes it; safe on a zeroed image. */
void fer_image_free(fer_image *img);

/*
 * Decodes a JPEG or PNG (detected from the bytes, not the name) into RGB
 * (channels 3) or, when want_gray, grayscale converted exactly as OpenCV's
 * cvtColor(BGR2GRAY) does. JPEG EXIF orientation is applied, so the image
 * is upright. Corrupt, truncated, unsupported or over-limit input
 * (FER_IMAGE_MAX_PIXELS, or max_pixels when non-zero and smaller) fails
 * with a message naming `name`.
 */
enum fer_status fer_image_decode(const uint8_t *bytes, size_t len, const char *name, int want_gray,
                                 size_t max_pixels, fer_image *img, char *err);
enum fer_status fer_image_load(const char *path, int want_gray, size_t max_pixels, fer_image *img,
                               char *err);

/* RGB -> gray with OpenCV's fixed-point weights (0.299, 0.587, 0.114). */
enum fer_status fer_image_to_gray(const fer_image *rgb, fer_image *gray, char *err);
/*
 * Copies the part of src inside r (clipped; pixels outside the image are
 * replicated from the border) and resizes it to out_w x out_h with area
 * averaging (OpenCV INTER_AREA when shrinking, bilinear when enlarging).
 */
enum fer_status fer_image_crop_resize(const fer_image *src, fer_rect r, int out_w, int out_h,
                                      fer_image *out, char *err);
/* Encodes as PNG or JPEG (quality 1-100) to a file, atomically. */
enum fer_status fer_image_save_png(const fer_image *img, const char *path, char *err);
enum fer_status fer_image_save_jpeg(const fer_image *img, const char *path, int quality,
                                    char *err);

#endif
