/* encode_mem.c - PNG encoding into a growing buffer instead of a file (for the REST API). */
#include "image/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"

/* Lives on the heap: locals changed between setjmp and longjmp would be indeterminate. */
struct membuf {
    uint8_t *data;
    size_t len, cap;
    int failed;
    char msg[FER_ERR_LEN];
};

static void write_fn(png_structp png, png_bytep bytes, png_size_t n)
{
    struct membuf *b = png_get_io_ptr(png);
    if (b->failed)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = fer_realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            png_error(png, "out of memory");
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void flush_fn(png_structp png)
{
    (void)png;
}

static void error_fn(png_structp png, png_const_charp msg)
{
    struct membuf *b = png_get_error_ptr(png);
    snprintf(b->msg, sizeof(b->msg), "PNG encoder: %s", msg);
    png_longjmp(png, 1);
}

static void warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

enum fer_status fer_image_encode_png_memory(const fer_image *img, uint8_t **out, size_t *len, char *err)
{
    *out = NULL;
    *len = 0;
    if (img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3))
        return fer_errorf(err, FER_ERR_ARG, "PNG encoder: a %dx%dx%d image", img->width,
                          img->height, img->channels);
    struct membuf *buf = fer_calloc(1, sizeof(*buf));
    png_structp png =
        buf ? png_create_write_struct(PNG_LIBPNG_VER_STRING, buf, error_fn, warning_fn) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fer_free(buf);
        return fer_errorf(err, FER_ERR_NOMEM, "PNG encoder: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        enum fer_status st = buf->failed
                                 ? fer_errorf(err, FER_ERR_NOMEM, "PNG encoder: out of memory")
                                 : fer_errorf(err, FER_ERR_FORMAT, "%s", buf->msg);
        png_destroy_write_struct(&png, &info);
        fer_free(buf->data);
        fer_free(buf);
        return st;
    }
    png_set_write_fn(png, buf, write_fn, flush_fn);
    png_set_compression_level(png, Z_BEST_SPEED);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->data + (size_t)y * stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out = buf->data;
    *len = buf->len;
    fer_free(buf);
    return FER_OK;
}
