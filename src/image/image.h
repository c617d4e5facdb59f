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

/* fer_image and fer_rect are public value types: they live in fer.h. */

/*
 * Allocates a zeroed width x height x channels image into *img; more than
 * FER_IMAGE_MAX_PIXELS pixels fails with FER_ERR_LIMIT.
 */
enum fer_status fer_image_new(int width, int height, int channels, fer_image *img, char *err);
/* Releases img's pixels and zeroes it; safe on a zeroed image. */
void fer_image_free(fer_image *img);

/*
 * Decodes a JPEG, PNG or WebP (detected from the bytes, not the name) into RGB
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

/*
 * RGB -> gray with OpenCV's fixed-point weights (0.299, 0.587, 0.114), as
 * cv2.cvtColor(BGR2GRAY) computes them for 8 bits (identical on all 2^24
 * colours): (R*9798 + G*19235 + B*3735 + 16384) >> 15. *gray receives a new
 * image that the caller frees; it must not be rgb. A gray source is copied.
 */
enum fer_status fer_image_to_gray(const fer_image *rgb, fer_image *gray, char *err);
/* The same formula on n packed RGB pixels; gray may not overlap rgb. */
void fer_image_rgb_to_gray_row(const uint8_t *rgb, uint8_t *gray, size_t n);
/*
 * Rotates/flips img in place (its pixels are replaced) so that an image
 * stored with EXIF orientation 1-8 becomes upright, as OpenCV's imread does
 * (1: unchanged, 3: 180 degrees, 6: 90 clockwise, 8: 90 counter-clockwise,
 * 2/4/5/7: the mirrored forms).
 */
enum fer_status fer_image_orient(fer_image *img, int orientation, char *err);
/*
 * The orientation (tag 0x0112 of IFD0) in an EXIF TIFF block: the payload of
 * a JPEG APP1 segment after its "Exif\0\0" prefix, n bytes, either byte
 * order. Returns 1-8, or 1 when the tag is absent, out of range or the block
 * is malformed (never reads outside tiff[0..n)).
 */
int fer_image_exif_orientation(const uint8_t *tiff, size_t n);
/*
 * Copies the part of src inside r (clipped; pixels outside the image are
 * replicated from the border) and resizes it to out_w x out_h with area
 * averaging (OpenCV INTER_AREA when shrinking, bilinear when enlarging).
 * Both axes shrinking (or equal) gives cv2.resize(INTER_AREA) and both
 * enlarging gives cv2.resize(INTER_LINEAR), byte for byte on the reference
 * tests (OpenCV's INTER_AREA would enlarge with a variant of its own); one
 * of each averages along the shrinking axis and interpolates along the
 * other. *out receives a new image; it must not be src. The crop and the
 * output are limited to FER_IMAGE_MAX_PIXELS.
 */
enum fer_status fer_image_crop_resize(const fer_image *src, fer_rect r, int out_w, int out_h,
                                      fer_image *out, char *err);
/*
 * The w x h window of a gray image centred on (cx, cy), turned by `angle`
 * radians (counter-clockwise in image coordinates: a window whose eyes lie on
 * a line at `angle` comes out with them level), sampled bilinearly with the
 * border replicated, then resized to out_w x out_h like fer_image_crop_resize.
 * rotate.c.
 */
enum fer_status fer_image_crop_rotated(const fer_image *gray, float cx, float cy, int w, int h,
                                       float angle, int out_w, int out_h, fer_image *out,
                                       char *err);
/*
 * Encodes as PNG or JPEG (quality 1-100, 4:2:0, libjpeg defaults like
 * cv2.imwrite) to a file, atomically: written to "<path>.tmp", then renamed.
 */
enum fer_status fer_image_save_png(const fer_image *img, const char *path, char *err);
enum fer_status fer_image_save_jpeg(const fer_image *img, const char *path, int quality, char *err);

/*
 * Encodes a gray or RGB image as PNG into memory (fast compression). *out is
 * allocated with fer_malloc and freed by the caller with fer_free.
 */
enum fer_status fer_image_encode_png_memory(const fer_image *img, uint8_t **out, size_t *len,
                                            char *err);

#endif
