/*
 * png_glue.c - libpng's error, warning and allocation callbacks for fer's PNG decoder and
 * encoders (see png_glue.h).
 */
#include "image/png_glue.h"

#include "core/alloc.h"

static void glue_fail(png_structp png, png_const_charp msg)
{
    struct fer_png_glue *g = png_get_error_ptr(png);
    if (g->st == FER_OK) {
        if (g->oom)
            g->st = fer_errorf(g->err, FER_ERR_NOMEM, "%s: %s", g->name, g->oom_what);
        else if (g->fail_what)
            g->st = fer_errorf(g->err, g->fail, "%s: %s: %s", g->name, g->fail_what, msg);
        else
            g->st = fer_errorf(g->err, g->fail, "%s: %s", g->name, msg);
    }
    png_longjmp(png, 1);
}

static void glue_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_voidp glue_alloc(png_structp png, png_alloc_size_t n)
{
    void *p = fer_malloc(n);
    if (!p) {
        struct fer_png_glue *g = png_get_mem_ptr(png);
        g->oom = 1;
    }
    return p;
}

static void glue_free(png_structp png, png_voidp p)
{
    (void)png;
    fer_free(p);
}

png_structp fer_png_create_read(struct fer_png_glue *glue)
{
    return png_create_read_struct_2(PNG_LIBPNG_VER_STRING, glue, glue_fail, glue_warn, glue,
                                    glue_alloc, glue_free);
}

png_structp fer_png_create_write(struct fer_png_glue *glue)
{
    return png_create_write_struct_2(PNG_LIBPNG_VER_STRING, glue, glue_fail, glue_warn, glue,
                                     glue_alloc, glue_free);
}
