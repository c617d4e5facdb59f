/*
 * confusion.c - the confusion matrix as a heat map (each row normalised, so
 * a cell is the share of that true class), and per-class precision, recall
 * and F1 beside the true and predicted counts of each class.
 */
#include <stdio.h>

#include "report/canvas.h"
#include "report/report.h"

static size_t row_sum(const size_t *cm, int k, int r)
{
    size_t s = 0;
    for (int c = 0; c < k; c++)
        s += cm[r * k + c];
    return s;
}

static size_t col_sum(const size_t *cm, int k, int c)
{
    size_t s = 0;
    for (int r = 0; r < k; r++)
        s += cm[r * k + c];
    return s;
}

static enum fer_status check_k(int k, char *err)
{
    if (k < 2 || k > 16)
        return fer_errorf(err, FER_ERR_ARG, "a figure needs 2 to 16 classes, not %d", k);
    return FER_OK;
}

/* The colour scale: share of the row from 0% (bottom) to 100% (top), ticks every 25%. */
static void color_bar(fer_canvas *c, double x, double top, double height)
{
    const double w = 18;
    /* fer_heat_color runs linearly in RGB from white to deep blue: a two-stop gradient is it */
    cairo_pattern_t *g = cairo_pattern_create_linear(0, top + height, 0, top);
    for (int end = 0; end <= 1; end++) {
        unsigned rgb = fer_heat_color(end);
        cairo_pattern_add_color_stop_rgb(g, end, ((rgb >> 16) & 255) / 255.0,
                                         ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0);
    }
    cairo_rectangle(c->cr, x, top, w, height);
    cairo_set_source(c->cr, g);
    cairo_fill(c->cr);
    cairo_pattern_destroy(g);
    fer_canvas_line(c, x, top, x, top + height, 1, 0x888888, 0);
    fer_canvas_line(c, x + w, top, x + w, top + height, 1, 0x888888, 0);
    for (int t = 0; t <= 4; t++) {
        double y = top + height * (1 - t / 4.0);
        fer_canvas_line(c, x + w, y, x + w + 4, y, 1, 0x444444, 0);
        fer_canvas_text(c, x + w + 7, y + 4, 11, FER_LEFT, 0, 0x444444, "%d%%", 25 * t);
    }
}

enum fer_status fer_figure_confusion(const size_t *cm, int k, const char *const *names,
                                     const char *title, const struct fer_figure_file *out,
                                     char *err)
{
    enum fer_status st = check_k(k, err);
    if (st != FER_OK)
        return st;
    const double cell = 84, left = 120, top = 70;
    fer_canvas c;
    if ((st = fer_canvas_init(&c, (int)(left + k * cell + 110), (int)(top + k * cell + 70), out,
                              err)))
        return st;
    size_t total = 0, right = 0;
    for (int i = 0; i < k; i++) {
        total += row_sum(cm, k, i);
        right += cm[i * k + i];
    }
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "%s",
                    title ? title : "Confusion matrix");
    fer_canvas_text(&c, 16, 48, 12, FER_LEFT, 0, 0x555555,
                    "%zu faces, accuracy %.2f%%; each row is one true class and sums to 100%%",
                    total, total ? 100.0 * (double)right / (double)total : 0.0);
    for (int r = 0; r < k; r++) {
        size_t rs = row_sum(cm, k, r);
        fer_canvas_text(&c, left - 8, top + r * cell + cell / 2 + 4, 13, FER_RIGHT, 0, 0x222222,
                        "%s", names[r]);
        for (int col = 0; col < k; col++) {
            double share = rs ? (double)cm[r * k + col] / (double)rs : 0;
            double x = left + col * cell, y = top + r * cell;
            fer_canvas_fill_rect(&c, x, y, cell - 2, cell - 2, fer_heat_color(share), 1);
            unsigned ink = share > 0.5 ? 0xFFFFFF : 0x222222;
            fer_canvas_text(&c, x + cell / 2 - 1, y + cell / 2 - 2, 15, FER_CENTER, r == col, ink,
                            "%.0f%%", 100 * share);
            fer_canvas_text(&c, x + cell / 2 - 1, y + cell / 2 + 16, 11, FER_CENTER, 0, ink, "%zu",
                            cm[r * k + col]);
        }
    }
    for (int col = 0; col < k; col++)
        fer_canvas_text(&c, left + col * cell + cell / 2, top + k * cell + 18, 13, FER_CENTER, 0,
                        0x222222, "%s", names[col]);
    fer_canvas_text(&c, left + k * cell / 2, top + k * cell + 44, 13, FER_CENTER, 1, 0x222222,
                    "predicted");
    fer_canvas_text_up(&c, 14, top + k * cell / 2, 13, 0x222222, "true class");
    color_bar(&c, left + k * cell + 24, top, k * cell - 2);
    st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}

enum fer_status fer_figure_classes(const size_t *cm, int k, const char *const *names,
                                   const struct fer_figure_file *out, char *err)
{
    enum fer_status st = check_k(k, err);
    if (st != FER_OK)
        return st;
    const int w = 860, h = 640;
    fer_canvas c;
    if ((st = fer_canvas_init(&c, w, h, out, err)))
        return st;
    static const unsigned colors[3] = {0x1F77B4, 0xFF7F0E, 0x2CA02C};
    static const char *const what[3] = {"precision", "recall", "F1"};
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "Per class");
    struct fer_plot top = {70, 50, w - 100, 300, 0, k, 0, 1};
    fer_plot_grid_y(&c, &top, 0.2, 1);
    double group = top.width / k, bar = group * 0.8 / 3;
    size_t max_count = 1;
    for (int i = 0; i < k; i++) {
        size_t rs = row_sum(cm, k, i), cs = col_sum(cm, k, i);
        double tp = (double)cm[i * k + i];
        double v[3] = {cs ? tp / (double)cs : 0, rs ? tp / (double)rs : 0, 0};
        v[2] = v[0] + v[1] > 0 ? 2 * v[0] * v[1] / (v[0] + v[1]) : 0;
        for (int m = 0; m < 3; m++) {
            double x = fer_plot_x(&top, i) + group * 0.1 + m * bar;
            double y = fer_plot_y(&top, v[m]);
            fer_canvas_fill_rect(&c, x, y, bar - 2, top.top + top.height - y, colors[m], 1);
        }
        fer_canvas_text(&c, fer_plot_x(&top, i + 0.5), top.top + top.height + 18, 12, FER_CENTER, 0,
                        0x222222, "%s", names[i]);
        max_count = rs > max_count ? rs : max_count;
        max_count = cs > max_count ? cs : max_count;
    }
    for (int m = 0; m < 3; m++)
        fer_canvas_legend(&c, w - 150, 30, m, colors[m], what[m]);

    /* true against predicted counts: a model that never says "disgust" shows here */
    fer_canvas_text(&c, 16, 400, 14, FER_LEFT, 1, 0x111111, "Faces per class: true and predicted");
    double step = 1;
    while (max_count / step > 6)
        step *= max_count / step > 30 ? 10 : 2;
    struct fer_plot bottom = {70, 420, w - 100, 170,
                              0,  k,   0,       step * (double)(1 + (size_t)(max_count / step))};
    fer_plot_grid_y(&c, &bottom, step, 0);
    bar = group * 0.8 / 2;
    for (int i = 0; i < k; i++) {
        double v[2] = {(double)row_sum(cm, k, i), (double)col_sum(cm, k, i)};
        for (int m = 0; m < 2; m++) {
            double x = fer_plot_x(&bottom, i) + group * 0.1 + m * bar;
            double y = fer_plot_y(&bottom, v[m]);
            fer_canvas_fill_rect(&c, x, y, bar - 2, bottom.top + bottom.height - y,
                                 m ? 0x9467BD : 0x7F7F7F, 1);
        }
        fer_canvas_text(&c, fer_plot_x(&bottom, i + 0.5), bottom.top + bottom.height + 18, 12,
                        FER_CENTER, 0, 0x222222, "%s", names[i]);
    }
    fer_canvas_legend(&c, w - 150, 400, 0, 0x7F7F7F, "true");
    fer_canvas_legend(&c, w - 150, 400, 1, 0x9467BD, "predicted");
    st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}
