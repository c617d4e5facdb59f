/*
 * mistakes.c - the faces a model gets most confidently wrong, one row per
 * true class: what it confuses, and often, labels that look wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "report/canvas.h"
#include "report/report.h"

#define SIDE 48

struct scored {
    size_t index;
    float confidence;
};

static int by_confidence(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->confidence != y->confidence)
        return x->confidence > y->confidence ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int top_class(const float *p, int k)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        best = p[c] > p[best] ? c : best;
    return best;
}

size_t fer_select_mistakes(const float *probs, const uint8_t *labels, size_t n, int k, int truth,
                           size_t max, size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += labels[i] == truth && top_class(probs + i * (size_t)k, k) != truth;
    struct scored *s = fer_malloc((m ? m : 1) * sizeof(*s));
    if (!s)
        return 0;
    m = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)k;
        int best = top_class(p, k);
        if (labels[i] == truth && best != truth)
            s[m++] = (struct scored){i, p[best]};
    }
    qsort(s, m, sizeof(*s), by_confidence);
    size_t out = m < max ? m : max;
    for (size_t i = 0; i < out; i++)
        idx[i] = s[i].index;
    fer_free(s);
    return out;
}

/* Paints a 48x48 gray face at (x, y), scaled to side x side. */
static void paint_face(fer_canvas *c, const uint8_t *px, double x, double y, double side)
{
    cairo_surface_t *face = cairo_image_surface_create(CAIRO_FORMAT_RGB24, SIDE, SIDE);
    if (cairo_surface_status(face) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(face);
        return;
    }
    cairo_surface_flush(face);
    unsigned char *data = cairo_image_surface_get_data(face);
    int stride = cairo_image_surface_get_stride(face);
    for (int r = 0; r < SIDE; r++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)r * (size_t)stride);
        for (int col = 0; col < SIDE; col++) {
            uint32_t v = px[r * SIDE + col];
            row[col] = v << 16 | v << 8 | v;
        }
    }
    cairo_surface_mark_dirty(face);
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_scale(c->cr, side / SIDE, side / SIDE);
    cairo_set_source_surface(c->cr, face, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(c->cr), CAIRO_FILTER_GOOD);
    cairo_paint(c->cr);
    cairo_restore(c->cr);
    cairo_surface_destroy(face);
}

enum fer_status fer_figure_mistakes(const uint8_t *pixels, const float *probs,
                                    const uint8_t *labels, size_t n, int k,
                                    const char *const *names, int per_class, const char *path,
                                    char *err)
{
    if (k < 2 || k > 16 || per_class < 1 || per_class > 32)
        return fer_errorf(err, FER_ERR_ARG, "mistakes: %d classes, %d per class", k, per_class);
    const double side = 96, cell_w = side + 12, cell_h = side + 34, left = 110, top = 60;
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, (int)(left + per_class * cell_w + 10),
                                         (int)(top + k * cell_h + 10), err);
    if (st != FER_OK)
        return st;
    size_t *idx = fer_malloc((size_t)per_class * sizeof(size_t));
    if (!idx) {
        fer_canvas_free(&c);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for the mistakes figure");
    }
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "The most confident mistakes");
    fer_canvas_text(&c, 16, 46, 12, FER_LEFT, 0, 0x555555,
                    "each row: faces labelled with that class, read as another; under each, "
                    "what the model said");
    for (int t = 0; t < k; t++) {
        double y = top + t * cell_h;
        fer_canvas_text(&c, left - 10, y + side / 2 + 5, 13, FER_RIGHT, 1, 0x222222, "%s",
                        names[t]);
        size_t m = fer_select_mistakes(probs, labels, n, k, t, (size_t)per_class, idx);
        if (m == 0)
            fer_canvas_text(&c, left, y + side / 2 + 5, 12, FER_LEFT, 0, 0x777777, "none");
        for (size_t j = 0; j < m; j++) {
            double x = left + (double)j * cell_w;
            const float *p = probs + idx[j] * (size_t)k;
            int said = top_class(p, k);
            paint_face(&c, pixels + idx[j] * (size_t)(SIDE * SIDE), x, y, side);
            fer_canvas_text(&c, x + side / 2, y + side + 15, 11, FER_CENTER, 0, 0xB71C1C,
                            "%s %.0f%%", names[said], 100 * (double)p[said]);
            fer_canvas_text(&c, x + side / 2, y + side + 28, 9, FER_CENTER, 0, 0x888888, "#%zu",
                            idx[j]);
        }
    }
    fer_free(idx);
    st = fer_canvas_save(&c, path, err);
    fer_canvas_free(&c);
    return st;
}
