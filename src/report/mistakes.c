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

enum fer_status fer_figure_mistakes(const uint8_t *pixels, const float *probs,
                                    const uint8_t *labels, size_t n, int k,
                                    const char *const *names, int per_class,
                                    const struct fer_figure_file *out, char *err)
{
    if (k < 2 || k > 16 || per_class < 1 || per_class > 32)
        return fer_errorf(err, FER_ERR_ARG, "mistakes: %d classes, %d per class", k, per_class);
    const double side = 96, cell_w = side + 12, cell_h = side + 34, left = 110, top = 60;
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, (int)(left + per_class * cell_w + 10),
                                         (int)(top + k * cell_h + 10), out, err);
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
            fer_canvas_gray_image(&c, pixels + idx[j] * (size_t)(SIDE * SIDE), SIDE, SIDE, x, y,
                                  side, side);
            fer_canvas_text(&c, x + side / 2, y + side + 15, 11, FER_CENTER, 0, 0xB71C1C,
                            "%s %.0f%%", names[said], 100 * (double)p[said]);
            fer_canvas_text(&c, x + side / 2, y + side + 28, 9, FER_CENTER, 0, 0x888888, "#%zu",
                            idx[j]);
        }
    }
    fer_free(idx);
    st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}
