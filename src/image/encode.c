/*
 * encode.c - PNG (libpng) and JPEG (libjpeg-turbo) encoders writing files
 * atomically: the data goes to "<path>.tmp", is flushed and checked, then
 * renamed over path, so a reader never sees half a file. Library errors come
 * back through longjmp and leave no temporary file behind.
 */
#include <png.h>

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "core/alloc.h"
#include "image/image.h"
#include "image/png_glue.h"

/* An open temporary file next to its destination. */
struct tmp_file {
    const char *path;
    char *tmp;
    FILE *f;
};

static enum fer_status check_image(const fer_image *img, const char *path, const char *what,
                                   char *err)
{
    if (!img || !img->data || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3))
        return fer_errorf(err, FER_ERR_ARG, "%s: cannot save an empty or malformed image as %s",
                          path, what);
    return FER_OK;
}

static enum fer_status tmp_open(struct tmp_file *t, const char *path, char *err)
{
    size_t n = strlen(path);
    t->path = path;
    t->f = NULL;
    t->tmp = fer_malloc(n + 5);
    if (!t->tmp)
        return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", path);
    memcpy(t->tmp, path, n);
    memcpy(t->tmp + n, ".tmp", 5);
    t->f = fopen(t->tmp, "wb");
    if (!t->f) {
        enum fer_status st =
            fer_errorf(err, FER_ERR_IO, "%s: cannot create: %s", t->tmp, strerror(errno));
        fer_free(t->tmp);
        t->tmp = NULL;
        return st;
    }
    return FER_OK;
}

/* Closes the temporary file and renames it over path when ok, else removes it. */
static enum fer_status tmp_close(struct tmp_file *t, enum fer_status st, char *err)
{
    if (!t->tmp)
        return st;
    if (st == FER_OK && (fflush(t->f) != 0 || ferror(t->f)))
        st = fer_errorf(err, FER_ERR_IO, "%s: write error: %s", t->tmp, strerror(errno));
    if (fclose(t->f) != 0 && st == FER_OK)
        st = fer_errorf(err, FER_ERR_IO, "%s: write error: %s", t->tmp, strerror(errno));
    if (st == FER_OK && rename(t->tmp, t->path) != 0)
        st = fer_errorf(err, FER_ERR_IO, "%s: cannot rename %s into place: %s", t->path, t->tmp,
                        strerror(errno));
    if (st != FER_OK)
        unlink(t->tmp);
    fer_free(t->tmp);
    t->tmp = NULL;
    return st;
}

/* ---- PNG ---- */

struct png_wjob {
    struct fer_png_glue glue; /* the path, err and the status reported */
    png_structp png;
    png_infop info;
    const fer_image *img;
};

static int png_write_run(struct png_wjob *job, FILE *f)
{
    const fer_image *img = job->img;
    if (setjmp(png_jmpbuf(job->png)))
        return -1;
    png_init_io(job->png, f);
    png_set_IHDR(job->png, job->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(job->png, job->info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++)
        png_write_row(job->png, img->data + (size_t)y * stride);
    png_write_end(job->png, NULL);
    return 0;
}

enum fer_status fer_image_save_png(const fer_image *img, const char *path, char *err)
{
    enum fer_status st = check_image(img, path, "PNG", err);
    if (st != FER_OK)
        return st;
    struct png_wjob job;
    memset(&job, 0, sizeof(job));
    job.glue.name = path;
    job.glue.err = err;
    job.glue.fail = FER_ERR_IO;
    job.glue.fail_what = "cannot write PNG";
    job.glue.oom_what = "out of memory writing PNG";
    job.img = img;
    job.png = fer_png_create_write(&job.glue);
    if (job.png)
        job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_write_struct(job.png ? &job.png : NULL, NULL);
        return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory starting the PNG encoder", path);
    }
    struct tmp_file t;
    st = tmp_open(&t, path, err);
    if (st == FER_OK) {
        if (png_write_run(&job, t.f) != 0)
            st = job.glue.st != FER_OK ? job.glue.st
                                       : fer_errorf(err, FER_ERR_IO, "%s: cannot write PNG", path);
        st = tmp_close(&t, st, err);
    }
    png_destroy_write_struct(&job.png, &job.info);
    return st;
}

/* ---- JPEG ---- */

struct jpeg_wjob {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jump;
    const fer_image *img;
    const char *path;
    char *err;
    enum fer_status st;
    int quality, created;
};

static void jpeg_wfail(j_common_ptr cinfo)
{
    struct jpeg_wjob *job = cinfo->client_data;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    if (job->st == FER_OK)
        job->st = fer_errorf(job->err, FER_ERR_IO, "%s: cannot write JPEG: %s", job->path, msg);
    longjmp(job->jump, 1);
}

static void jpeg_wsilent(j_common_ptr cinfo)
{
    (void)cinfo;
}

static int jpeg_write_run(struct jpeg_wjob *job, FILE *f)
{
    struct jpeg_compress_struct *ci = &job->cinfo;
    const fer_image *img = job->img;
    if (setjmp(job->jump))
        return -1;
    jpeg_create_compress(ci);
    job->created = 1;
    jpeg_stdio_dest(ci, f);
    ci->image_width = (JDIMENSION)img->width;
    ci->image_height = (JDIMENSION)img->height;
    ci->input_components = img->channels;
    ci->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(ci);
    jpeg_set_quality(ci, job->quality, TRUE);
    jpeg_start_compress(ci, TRUE);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    while (ci->next_scanline < ci->image_height) {
        JSAMPROW row = img->data + (size_t)ci->next_scanline * stride;
        jpeg_write_scanlines(ci, &row, 1);
    }
    jpeg_finish_compress(ci);
    return 0;
}

enum fer_status fer_image_save_jpeg(const fer_image *img, const char *path, int quality, char *err)
{
    enum fer_status st = check_image(img, path, "JPEG", err);
    if (st != FER_OK)
        return st;
    if (quality < 1 || quality > 100)
        return fer_errorf(err, FER_ERR_ARG, "%s: JPEG quality %d is not in 1-100", path, quality);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return fer_errorf(err, FER_ERR_LIMIT, "%s: %dx%d is larger than JPEG allows (%d per side)",
                          path, img->width, img->height, (int)JPEG_MAX_DIMENSION);
    struct jpeg_wjob job;
    memset(&job, 0, sizeof(job));
    job.cinfo.err = jpeg_std_error(&job.jerr);
    job.jerr.error_exit = jpeg_wfail;
    job.jerr.output_message = jpeg_wsilent;
    job.cinfo.client_data = &job;
    job.img = img;
    job.path = path;
    job.err = err;
    job.quality = quality;
    struct tmp_file t;
    st = tmp_open(&t, path, err);
    if (st != FER_OK)
        return st;
    if (jpeg_write_run(&job, t.f) != 0)
        st = job.st != FER_OK ? job.st : fer_errorf(err, FER_ERR_IO, "%s: cannot write JPEG", path);
    if (job.created)
        jpeg_destroy_compress(&job.cinfo);
    return tmp_close(&t, st, err);
}
