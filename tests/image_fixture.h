/*
 * image_fixture.h - pictures and files for the image tests (test_image,
 * test_image_codec, test_image_errors): the pseudo-random pixels
 * tests/image_reference.py also makes, a smooth test picture, reading a file
 * whole, splicing an EXIF segment into a JPEG and writing JPEGs fer itself
 * never writes. Their temporary folder is tmp_dir.h's.
 */
#ifndef FER_TESTS_IMAGE_FIXTURE_H
#define FER_TESTS_IMAGE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE */

#include <jpeglib.h>

#include "image/image.h"

/* splitmix64 bytes, the same as synth_image() in tests/image_reference.py. */
void synth_fill(uint64_t seed, uint8_t *out, size_t n);

/* A smooth RGB or gray test picture (JPEG-friendly) with a little noise. */
fer_image make_picture(int w, int h, int cn, uint64_t seed);

/* Whether a and b have the same shape and pixels. */
int same_image(const fer_image *a, const fer_image *b);

/* The whole file at path in a malloc'ed buffer (free it), or NULL; *len receives its size. */
uint8_t *slurp(const char *path, size_t *len);

/* Stores v at p, big-endian when be is set, else little-endian. */
void put16(uint8_t *p, unsigned v, int be);
void put32(uint8_t *p, uint32_t v, int be);

/*
 * Copies a JPEG with an APP1 "Exif" segment inserted after SOI, whose IFD0
 * holds one entry (tag 0x0112 SHORT = orientation); the same bytes as
 * exif_segment() in tests/image_reference.py. ifd and count let tests break it.
 * The copy is malloc'ed (free it); *out_len receives its size.
 */
uint8_t *splice_exif(const uint8_t *jpg, size_t len, int orientation, int be, uint32_t ifd,
                     unsigned count, size_t *out_len);

/*
 * Compresses w x h pixels of cs (JCS_RGB, JCS_CMYK, ...; components per
 * pixel to match) with libjpeg itself, for layouts fer never writes: quality
 * 0..100, and scans (n_scans > 0) in place of the default scan script. The
 * JPEG is malloc'ed (free it); *len receives its size.
 */
unsigned char *raw_jpeg(const uint8_t *pix, int w, int h, int components, J_COLOR_SPACE cs,
                        int quality, const jpeg_scan_info *scans, int n_scans, unsigned long *len);

#endif
