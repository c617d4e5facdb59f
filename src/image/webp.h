/*
 * webp.h - reading WebP pictures (internal to image/; fer_image_decode calls it).
 */
#ifndef FER_IMAGE_WEBP_H
#define FER_IMAGE_WEBP_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "image/image.h"

/* 1 when the bytes start like a WebP file (RIFF....WEBP). */
int fer_webp_is(const uint8_t *b, size_t n);

/* Decodes a still WebP into *img as RGB; over `limit` pixels is FER_ERR_LIMIT, before any
   pixel is decoded. */
enum fer_status fer_webp_decode(const uint8_t *b, size_t n, const char *name, size_t limit,
                                fer_image *img, char *err);

#endif
