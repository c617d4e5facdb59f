/*
 * decode.c - JPEG (libjpeg-turbo) and PNG (libpng) decoding, from memory or
 * from a file, with the format taken from the magic bytes.
 *
 * The pixels match OpenCV 4.6's imread(IMREAD_COLOR) byte for byte: the same
 * libraries with the same settings (libjpeg defaults: JDCT_ISLOW, fancy
 * upsampling; CMYK converted as OpenCV does; PNG 16-bit samples cut to their
 * high byte, palettes expanded, alpha dropped without compositing) and the
 * same EXIF orientation. Library errors come back through longjmp, so bad
 * input never ends the process; the image size is checked against the pixel
 * limit after the header is read and before any pixel memory is allocated.
 */
#include <png.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/alloc.h"
#include "core/file.h"
#include "image/image.h"
#include "image/png_glue.h"
#include "image/webp.h"

/* Files larger than this are refused before they are read. */
#define MAX_FILE_BYTES ((size_t)512 << 20)
/* Progressive JPEGs with more scans are refused (each scan rereads the image). */
#define JPEG_MAX_SCANS 500

static size_t pixel_limit(size_t max_pixels)
{
    return max_pixels && max_pixels < FER_IMAGE_MAX_PIXELS ? max_pixels : FER_IMAGE_MAX_PIXELS;
}

/* Checks a size read from a header: not empty, sides fit an int, w*h within limit. */
static enum fer_status check_size(const char *name, const char *format, unsigned long w,
                                  unsigned long h, size_t limit, char *err)
{
    size_t pixels, bytes;
    if (w == 0 || h == 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: the %s header gives an empty %lux%lu image",
                          name, format, w, h);
    if (w > INT_MAX || h > INT_MAX || !fer_size_mul(w, h, &pixels) ||
        !fer_size_mul(pixels, 3, &bytes) || pixels > limit)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "%s: the %s image is %lux%lu, more than the limit of %zu pixels", name,
                          format, w, h, limit);
    return FER_OK;
}

/* Converts a decoded RGB image to gray in place when the caller asked for gray. */
static enum fer_status finish_gray(fer_image *img, int want_gray, const char *name, char *err)
{
    if (!want_gray || img->channels != 3)
        return FER_OK;
    fer_image gray;
    char inner[FER_ERR_LEN];
    enum fer_status st = fer_image_to_gray(img, &gray, inner);
    fer_image_free(img);
    if (st != FER_OK)
        return fer_errorf(err, st, "%s: %s", name, inner);
    *img = gray;
    return FER_OK;
}

/* ---- JPEG ---- */

struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    const uint8_t *bytes;
    size_t len, limit;
    const char *name;
    char *err;
    enum fer_status st;
    int want_gray, created, orientation;
    fer_image img;
    uint8_t *row; /* one decoded row when it needs converting */
};

static void jpeg_fail(j_common_ptr cinfo)
{
    struct jpeg_job *job = cinfo->client_data;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    if (job->st == FER_OK) {
        if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY)
            job->st = fer_errorf(job->err, FER_ERR_NOMEM, "%s: out of memory decoding the JPEG",
                                 job->name);
        else
            job->st = fer_errorf(job->err, FER_ERR_FORMAT, "%s: invalid JPEG: %s", job->name, msg);
    }
    longjmp(job->jump, 1);
}

/*
 * libjpeg only warns where data is missing or damaged and fills in gray;
 * those warnings are errors here. Harmless ones (extra bytes before a
 * marker, an unknown JFIF version) are let through, as every viewer does.
 */
static void jpeg_message(j_common_ptr cinfo, int level)
{
    struct jpeg_job *job = cinfo->client_data;
    char msg[JMSG_LENGTH_MAX];
    if (level >= 0)
        return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        job->st = fer_errorf(job->err, FER_ERR_FORMAT,
                             "%s: truncated JPEG (the data ends before the image is complete)",
                             job->name);
        longjmp(job->jump, 1);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
        cinfo->err->format_message(cinfo, msg);
        job->st = fer_errorf(job->err, FER_ERR_FORMAT, "%s: damaged JPEG image data (%s)",
                             job->name, msg);
        longjmp(job->jump, 1);
    default:
        cinfo->err->num_warnings++;
    }
}

static void jpeg_silent(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jpeg_progress(j_common_ptr cinfo)
{
    struct jpeg_job *job = cinfo->client_data;
    if (job->cinfo.input_scan_number > JPEG_MAX_SCANS) {
        job->st = fer_errorf(job->err, FER_ERR_LIMIT,
                             "%s: the JPEG has more than %d progressive scans (refused)", job->name,
                             JPEG_MAX_SCANS);
        longjmp(job->jump, 1);
    }
}

/* Converts one decoded row of in_cn (1 gray, 4 Adobe CMYK) to out_cn (3 RGB, or 1 from CMYK). */
static void convert_row(const uint8_t *in, int in_cn, uint8_t *out, int out_cn, size_t w)
{
    if (in_cn == 1) { /* gray -> RGB */
        for (size_t i = 0; i < w; i++, out += 3)
            out[0] = out[1] = out[2] = in[i];
    } else { /* CMYK -> RGB, with OpenCV's icvCvt_CMYK2BGR_8u_C4C3R formula */
        for (size_t i = 0; i < w; i++, in += 4) {
            int k = in[3];
            uint8_t rgb[3];
            for (int c = 0; c < 3; c++)
                rgb[c] = (uint8_t)(k - ((255 - in[c]) * k >> 8));
            if (out_cn == 3)
                memcpy(out + 3 * i, rgb, 3);
            else
                fer_image_rgb_to_gray_row(rgb, out + i, 1);
        }
    }
}

/* Does the decoding; every library error longjmps back here. */
static int jpeg_run(struct jpeg_job *job)
{
    struct jpeg_decompress_struct *ci = &job->cinfo;
    if (setjmp(job->jump))
        return -1;
    jpeg_create_decompress(ci);
    job->created = 1;
    jpeg_mem_src(ci, job->bytes, (unsigned long)job->len);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    job->st =
        check_size(job->name, "JPEG", ci->image_width, ci->image_height, job->limit, job->err);
    if (job->st != FER_OK)
        return -1;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0", 6) == 0) {
            job->orientation = fer_image_exif_orientation(m->data + 6, m->data_length - 6);
            break;
        }
    }
    if (ci->num_components == 4)
        ci->out_color_space = JCS_CMYK;
    else if (ci->num_components == 1)
        ci->out_color_space = JCS_GRAYSCALE;
    else
        ci->out_color_space = JCS_RGB;
    ci->progress = &job->progress;
    jpeg_start_decompress(ci);

    size_t w = ci->output_width, h = ci->output_height;
    /* RGB goes to gray after decoding (faster than row by row, for reasons of cache). */
    int in_cn = ci->output_components, out_cn = job->want_gray && in_cn != 3 ? 1 : 3;
    job->img.data = fer_malloc(w * h * (size_t)out_cn);
    if (in_cn != out_cn)
        job->row = fer_malloc(w * (size_t)in_cn);
    if (!job->img.data || (in_cn != out_cn && !job->row)) {
        job->st = fer_errorf(job->err, FER_ERR_NOMEM, "%s: out of memory for a %zux%zu image",
                             job->name, w, h);
        return -1;
    }
    job->img.width = (int)w;
    job->img.height = (int)h;
    job->img.channels = out_cn;
    while (ci->output_scanline < h) {
        uint8_t *dst = job->img.data + (size_t)ci->output_scanline * w * (size_t)out_cn;
        JSAMPROW row = in_cn == out_cn ? dst : job->row;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) { /* only a suspending source stalls */
            job->st = fer_errorf(job->err, FER_ERR_FORMAT, "%s: invalid JPEG (decoder stalled)",
                                 job->name);
            return -1;
        }
        if (in_cn != out_cn)
            convert_row(job->row, in_cn, dst, out_cn, w);
    }
    /* No jpeg_finish_decompress: what follows the last scan (EOI) is not needed. */
    return 0;
}

static enum fer_status decode_jpeg(const uint8_t *bytes, size_t len, const char *name,
                                   int want_gray, size_t limit, fer_image *img, char *err)
{
    struct jpeg_job job;
    memset(&job, 0, sizeof(job));
    job.cinfo.err = jpeg_std_error(&job.jerr);
    job.jerr.error_exit = jpeg_fail;
    job.jerr.emit_message = jpeg_message;
    job.jerr.output_message = jpeg_silent;
    job.cinfo.client_data = &job;
    job.progress.progress_monitor = jpeg_progress;
    job.bytes = bytes;
    job.len = len;
    job.limit = limit;
    job.name = name;
    job.err = err;
    job.want_gray = want_gray;
    job.orientation = 1;

    int rc = jpeg_run(&job);
    if (job.created)
        jpeg_destroy_decompress(&job.cinfo);
    fer_free(job.row);
    if (rc != 0) {
        fer_image_free(&job.img);
        return job.st != FER_OK ? job.st
                                : fer_errorf(err, FER_ERR_FORMAT, "%s: invalid JPEG", name);
    }
    enum fer_status st = finish_gray(&job.img, want_gray, name, err);
    if (st != FER_OK)
        return st;
    char inner[FER_ERR_LEN];
    st = fer_image_orient(&job.img, job.orientation, inner);
    if (st != FER_OK) {
        fer_image_free(&job.img);
        return fer_errorf(err, st, "%s: %s", name, inner);
    }
    *img = job.img;
    return FER_OK;
}

/* ---- PNG ---- */

struct png_job {
    struct fer_png_glue glue; /* name, err and the status reported */
    png_structp png;
    png_infop info;
    const uint8_t *bytes;
    size_t len, pos, limit;
    int want_gray;
    fer_image img;
    png_bytep *rows;
};

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos) {
        job->glue.st = fer_errorf(job->glue.err, FER_ERR_FORMAT,
                                  "%s: truncated PNG (the data ends before the image is complete)",
                                  job->glue.name);
        png_error(png, "truncated");
    }
    memcpy(out, job->bytes + job->pos, n);
    job->pos += n;
}

/* Does the decoding; every library error longjmps back here. */
static int png_run(struct png_job *job)
{
    png_structp png = job->png;
    png_infop info = job->info;
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_read_fn(png, job, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    job->glue.st = check_size(job->glue.name, "PNG", w, h, job->limit, job->glue.err);
    if (job->glue.st != FER_OK)
        return -1;

    /* The transformations of OpenCV's PngDecoder::readData, in its order. */
    int src_gray = (color & PNG_COLOR_MASK_COLOR) == 0;
    int cn = src_gray && job->want_gray ? 1 : 3;
    if (depth == 16)
        png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (src_gray && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (src_gray && cn == 3)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != cn ||
        png_get_rowbytes(png, info) != (size_t)w * (size_t)cn) {
        job->glue.st = fer_errorf(job->glue.err, FER_ERR_FORMAT,
                                  "%s: unsupported PNG layout (color type %d, %d bits per sample)",
                                  job->glue.name, color, depth);
        return -1;
    }

    job->img.data = fer_malloc((size_t)w * h * (size_t)cn);
    job->rows = fer_malloc((size_t)h * sizeof(*job->rows));
    if (!job->img.data || !job->rows) {
        job->glue.st =
            fer_errorf(job->glue.err, FER_ERR_NOMEM, "%s: out of memory for a %lux%lu image",
                       job->glue.name, (unsigned long)w, (unsigned long)h);
        return -1;
    }
    job->img.width = (int)w;
    job->img.height = (int)h;
    job->img.channels = cn;
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->img.data + (size_t)y * w * (size_t)cn;
    png_read_image(png, job->rows);
    /* No png_read_end: chunks after the image data are not needed. */
    return 0;
}

static enum fer_status decode_png(const uint8_t *bytes, size_t len, const char *name, int want_gray,
                                  size_t limit, fer_image *img, char *err)
{
    struct png_job job;
    memset(&job, 0, sizeof(job));
    job.bytes = bytes;
    job.len = len;
    job.glue.name = name;
    job.glue.err = err;
    job.glue.fail = FER_ERR_FORMAT;
    job.glue.fail_what = "invalid PNG";
    job.glue.oom_what = "out of memory decoding the PNG";
    job.limit = limit;
    job.want_gray = want_gray;
    job.png = fer_png_create_read(&job.glue);
    if (job.png)
        job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(job.png ? &job.png : NULL, NULL, NULL);
        return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory starting the PNG decoder", name);
    }
    /* Our own pixel limit decides, not libpng's default of 1e6 x 1e6. */
    png_set_user_limits(job.png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);

    int rc = png_run(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    fer_free(job.rows);
    if (rc != 0) {
        fer_image_free(&job.img);
        return job.glue.st != FER_OK ? job.glue.st
                                     : fer_errorf(err, FER_ERR_FORMAT, "%s: invalid PNG", name);
    }
    enum fer_status st = finish_gray(&job.img, want_gray, name, err);
    if (st == FER_OK)
        *img = job.img;
    return st;
}

/* ---- entry points ---- */

/* Names a few formats users send by mistake, for the error message. */
static const char *guess_format(const uint8_t *b, size_t n)
{
    if (n >= 4 && memcmp(b, "GIF8", 4) == 0)
        return "a GIF";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return "a BMP";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return "a TIFF";
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
        return "a HEIF/AVIF or MP4";
    if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
        return "a PDF";
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xD8)
        return "a damaged JPEG";
    return "an unknown format";
}

enum fer_status fer_image_decode(const uint8_t *bytes, size_t len, const char *name, int want_gray,
                                 size_t max_pixels, fer_image *img, char *err)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (!name)
        name = "image";
    memset(img, 0, sizeof(*img));
    if (len == 0 || !bytes)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: empty (0 bytes), not an image", name);
    size_t limit = pixel_limit(max_pixels);
    if (len >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
        return decode_jpeg(bytes, len, name, want_gray, limit, img, err);
    if (len >= 8 && memcmp(bytes, png_sig, 8) == 0)
        return decode_png(bytes, len, name, want_gray, limit, img, err);
    if (fer_webp_is(bytes, len)) {
        enum fer_status st = fer_webp_decode(bytes, len, name, limit, img, err);
        return st == FER_OK ? finish_gray(img, want_gray, name, err) : st;
    }
    return fer_errorf(err, FER_ERR_FORMAT,
                      "%s: not a JPEG, PNG or WebP image (the bytes look like %s)", name,
                      guess_format(bytes, len));
}

enum fer_status fer_image_load(const char *path, int want_gray, size_t max_pixels, fer_image *img,
                               char *err)
{
    memset(img, 0, sizeof(*img));
    if (!path || !*path)
        return fer_errorf(err, FER_ERR_ARG, "image load: no file name given");
    FILE *f;
    struct stat sb;
    enum fer_status st = fer_file_fopen_regular(path, "image", &f, &sb, err);
    if (st != FER_OK)
        return st;
    uint8_t *buf = NULL;
    size_t size = (size_t)sb.st_size;
    if ((unsigned long long)sb.st_size > MAX_FILE_BYTES) {
        st = fer_errorf(err, FER_ERR_LIMIT, "%s: %lld bytes is too large for an image (limit %zu)",
                        path, (long long)sb.st_size, MAX_FILE_BYTES);
        goto cleanup;
    }
    buf = fer_malloc(size);
    if (!buf) {
        st = fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
        goto cleanup;
    }
    if (size > 0 && fread(buf, 1, size, f) != size) {
        st = fer_errorf(err, FER_ERR_IO, "%s: read error: %s", path,
                        ferror(f) ? strerror(errno) : "the file shrank while reading");
        goto cleanup;
    }
    st = fer_image_decode(buf, size, path, want_gray, max_pixels, img, err);
cleanup:
    fer_free(buf);
    fclose(f);
    return st;
}
