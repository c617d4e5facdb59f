/* encode_mem.c - PNG encoding into a growing buffer instead of a file (for the REST API). */
#include "image/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "image/png_glue.h"

/* Lives on the heap: locals changed between setjmp and longjmp would be indeterminate. */
struct membuf {
    struct fer_png_glue glue; /* err and the status reported */
    uint8_t *data;
    size_t len, cap;
};

static void write_fn(png_structp png, png_bytep bytes, png_size_t n)
{
    struct membuf *b = png_get_io_ptr(png);
    if (b->glue.st != FER_OK)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = fer_realloc(b->data, cap);
        if (!p) {
            b->glue.oom = 1;
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

enum fer_status fer_image_encode_png_memory(const fer_image *img, uint8_t **out, size_t *len,
                                            char *err)
{
    *out = NULL;
    *len = 0;
    if (img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3))
        return fer_errorf(err, FER_ERR_ARG, "PNG encoder: a %dx%dx%d image", img->width,
                          img->height, img->channels);
    struct membuf *buf = fer_calloc(1, sizeof(*buf));
    if (buf)
        buf->glue = (struct fer_png_glue){
            .name = "PNG encoder", .err = err, .fail = FER_ERR_FORMAT, .oom_what = "out of memory"};
    png_structp png = buf ? fer_png_create_write(&buf->glue) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fer_free(buf);
        return fer_errorf(err, FER_ERR_NOMEM, "PNG encoder: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        enum fer_status st = buf->glue.st != FER_OK
                                 ? buf->glue.st
                                 : fer_errorf(err, FER_ERR_FORMAT, "PNG encoder: failed");
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
