/*
 * png_glue.h - what the PNG decoder (decode.c) and encoders (encode.c, encode_mem.c) share:
 * libpng structs made with one set of callbacks, which turn a libpng error into one fer error
 * message, drop warnings, and allocate through fer_malloc so that fault injection reaches
 * libpng too. Internal to src/image.
 */
#ifndef FER_IMAGE_PNG_GLUE_H
#define FER_IMAGE_PNG_GLUE_H

#include <png.h>

#include "core/status.h"

/*
 * The error side of one libpng read or write. The caller fills the first five fields; the
 * callbacks fill st and oom, and so may the caller's own callbacks (set st before calling
 * png_error to report an error of its own; set oom when its own allocation failed). libpng
 * keeps a pointer to it, so it must outlive the png struct.
 */
struct fer_png_glue {
    const char *name;      /* the start of every message: a file name, "PNG encoder" */
    char *err;             /* the caller's FER_ERR_LEN buffer, or NULL */
    enum fer_status fail;  /* the status of a libpng error */
    const char *fail_what; /* "<name>: <fail_what>: <libpng's message>"; NULL: no fail_what */
    const char *oom_what;  /* "<name>: <oom_what>" after an allocation failed */
    enum fer_status st;    /* the first error reported, FER_OK until then */
    int oom;               /* an allocation failed */
};

/*
 * png_create_read_struct_2 and png_create_write_struct_2 with glue's callbacks: the error one
 * reports into glue (unless st already holds an error) and longjmps to png_jmpbuf. NULL when
 * out of memory.
 */
png_structp fer_png_create_read(struct fer_png_glue *glue);
png_structp fer_png_create_write(struct fer_png_glue *glue);

#endif
