/*
 * curves.c - training curves from `fer train` JSONL logs: accuracy on the
 * training and validation data, validation loss, and the learning rate.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "report/canvas.h"
#include "report/report.h"

/* The number after "key": in a JSON line, or NAN. The log's keys are fer's own. */
static double field(const char *line, const char *key)
{
    char pat[40];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return (double)NAN;
    char *end;
    double v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? (double)NAN : v;
}

enum fer_status fer_log_read(const char *path, struct fer_log_epoch **epochs, size_t *n, char *err)
{
    FILE *f;
    enum fer_status opened = fer_file_fopen_regular(path, "training log", &f, NULL, err);
    if (opened != FER_OK)
        return opened;
    char line[2048];
    int lineno = 0;
    enum fer_status st = FER_OK;
    while (st == FER_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '\n')
            continue;
        struct fer_log_epoch e = {(int)field(line, "epoch"), field(line, "train_loss"),
                                  field(line, "train_acc"),  field(line, "val_loss"),
                                  field(line, "val_acc"),    field(line, "lr")};
        if (isnan(field(line, "epoch")) || isnan(e.val_acc) || isnan(e.train_acc)) {
            st = fer_errorf(err, FER_ERR_FORMAT,
                            "%s:%d: not a fer train log line (no epoch, train_acc or val_acc)",
                            path, lineno);
            break;
        }
        struct fer_log_epoch *grown = fer_realloc(*epochs, (*n + 1) * sizeof(**epochs));
        if (!grown) {
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
        *epochs = grown;
        (*epochs)[(*n)++] = e;
    }
    if (st == FER_OK && ferror(f))
        st = fer_errorf(err, FER_ERR_IO, "reading %s failed", path);
    if (st == FER_OK && lineno == 0)
        st = fer_errorf(err, FER_ERR_FORMAT, "%s is empty", path);
    fclose(f);
    return st;
}

enum fer_status fer_figure_curves(const struct fer_log_epoch *ep, size_t n,
                                  const size_t *stage_starts, int n_stages,
                                  const struct fer_figure_file *out, char *err)
{
    if (n == 0)
        return fer_errorf(err, FER_ERR_ARG, "no epochs to draw");
    const int w = 860, h = 520;
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, w, h, out, err);
    if (st != FER_OK)
        return st;
    double lo = 1, hi = 0, best = -1, max_lr = 0;
    size_t best_i = 0;
    double *tr = fer_malloc(n * sizeof(double)), *va = fer_malloc(n * sizeof(double));
    double *lr = fer_malloc(n * sizeof(double));
    if (!tr || !va || !lr) {
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for the curves");
        goto end;
    }
    for (size_t i = 0; i < n; i++) {
        tr[i] = ep[i].train_acc;
        va[i] = ep[i].val_acc;
        lr[i] = isnan(ep[i].lr) ? 0 : ep[i].lr;
        lo = fmin(lo, fmin(tr[i], va[i]));
        hi = fmax(hi, fmax(tr[i], va[i]));
        max_lr = fmax(max_lr, lr[i]);
        if (va[i] > best) {
            best = va[i];
            best_i = i;
        }
    }
    lo = floor(lo * 10) / 10;
    hi = fmax(ceil(hi * 10) / 10, lo + 0.1);
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "Training curves");
    fer_canvas_text(&c, 16, 48, 12, FER_LEFT, 0, 0x555555,
                    "%zu epochs; best validation accuracy %.2f%% after epoch %zu", n, 100 * best,
                    best_i + 1);
    struct fer_plot p = {70, 70, w - 150, h - 140, 1, n > 1 ? (double)n : 2, lo, hi};
    fer_plot_grid_y(&c, &p, 0.1, 1);
    size_t step = n > 40 ? 10 : n > 15 ? 5 : 1;
    for (size_t e = step; e <= n; e += step)
        fer_canvas_text(&c, fer_plot_x(&p, (double)e), p.top + p.height + 16, 11, FER_CENTER, 0,
                        0x444444, "%zu", e);
    fer_canvas_text(&c, p.left + p.width / 2, p.top + p.height + 36, 12, FER_CENTER, 1, 0x222222,
                    "epoch");
    for (int s = 0; s < n_stages; s++) {
        double x = fer_plot_x(&p, (double)stage_starts[s] + 0.5);
        fer_canvas_line(&c, x, p.top, x, p.top + p.height, 1, 0x888888, 1);
        fer_canvas_text(&c, x + 4, p.top + 14, 11, FER_LEFT, 0, 0x666666, "stage %d", s + 2);
    }
    /* the learning rate on its own axis at the right: 0 to its peak */
    if (max_lr > 0) {
        struct fer_plot q = p;
        q.y0 = 0;
        q.y1 = max_lr;
        fer_plot_polyline(&c, &q, NULL, lr, (int)n, 1.5, 0xAAAAAA);
        fer_canvas_text(&c, p.left + p.width + 6, p.top + 4, 11, FER_LEFT, 0, 0x888888, "lr %g",
                        max_lr);
        fer_canvas_text(&c, p.left + p.width + 6, p.top + p.height, 11, FER_LEFT, 0, 0x888888, "0");
    }
    fer_plot_polyline(&c, &p, NULL, tr, (int)n, 2, 0x1F77B4);
    fer_plot_polyline(&c, &p, NULL, va, (int)n, 2, 0xD62728);
    fer_canvas_legend(&c, p.left + 12, p.top + p.height - 44, 0, 0x1F77B4,
                      "training accuracy (augmented data)");
    fer_canvas_legend(&c, p.left + 12, p.top + p.height - 44, 1, 0xD62728, "validation accuracy");
    fer_canvas_legend(&c, p.left + 12, p.top + p.height - 44, 2, 0xAAAAAA, "learning rate");
    st = fer_canvas_save(&c, out, err);
end:
    fer_free(tr);
    fer_free(va);
    fer_free(lr);
    fer_canvas_free(&c);
    return st;
}
