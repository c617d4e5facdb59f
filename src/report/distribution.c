/*
 * distribution.c - how many faces of each class the data holds: FER2013's classes are far
 * from balanced (disgust is about 1.5% of it), which explains much of a model's per-class
 * results. One bar per class for the evaluation data, beside one for the training data.
 */
#include "report/canvas.h"
#include "report/report.h"

enum fer_status fer_figure_distribution(const size_t *eval_counts, const size_t *train_counts,
                                        int k, const char *const *names, const char *eval_name,
                                        const char *train_name, const struct fer_figure_file *out,
                                        char *err)
{
    if (k < 2 || k > 16)
        return fer_errorf(err, FER_ERR_ARG, "a figure needs 2 to 16 classes, not %d", k);
    const size_t *sets[2] = {train_counts, eval_counts};
    const char *set_names[2] = {train_name ? train_name : "training",
                                eval_name ? eval_name : "evaluation"};
    static const unsigned colors[2] = {0x90A4AE, 0x1E88E5};
    size_t totals[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (int c = 0; sets[s] && c < k; c++)
            totals[s] += sets[s][c];
    const int w = 860, h = 440;
    fer_canvas cv;
    enum fer_status st = fer_canvas_init(&cv, w, h, out, err);
    if (st != FER_OK)
        return st;
    fer_canvas_text(&cv, 16, 26, 16, FER_LEFT, 1, 0x111111, "Faces per class in the data");
    fer_canvas_text(&cv, 16, 48, 12, FER_LEFT, 0, 0x555555,
                    "bars: share of each set; above them: the number of faces");
    /* shares, so that a small evaluation set sits beside a large training set */
    double top_share = 0;
    for (int s = 0; s < 2; s++)
        for (int c = 0; sets[s] && c < k && totals[s]; c++) {
            double v = (double)sets[s][c] / (double)totals[s];
            top_share = v > top_share ? v : top_share;
        }
    double y1 = 0.1;
    while (y1 < top_share * 1.12)
        y1 += 0.1;
    struct fer_plot p = {70, 80, w - 100, h - 150, 0, k, 0, y1};
    fer_plot_grid_y(&cv, &p, 0.1, 1);
    int n_sets = train_counts ? 2 : 1;
    double group = p.width / k, bar = group * 0.8 / n_sets;
    for (int c = 0; c < k; c++) {
        for (int s = 2 - n_sets, j = 0; s < 2; s++, j++) {
            double share = totals[s] ? (double)sets[s][c] / (double)totals[s] : 0;
            double x = fer_plot_x(&p, c) + group * 0.1 + j * bar, y = fer_plot_y(&p, share);
            fer_canvas_fill_rect(&cv, x, y, bar - 3, p.top + p.height - y, colors[s], 1);
            fer_canvas_text(&cv, x + (bar - 3) / 2, y - 5, 10, FER_CENTER, 0, 0x333333, "%zu",
                            sets[s][c]);
        }
        fer_canvas_text(&cv, fer_plot_x(&p, c + 0.5), p.top + p.height + 18, 12, FER_CENTER, 0,
                        0x222222, "%s", names[c]);
    }
    for (int s = 2 - n_sets, j = 0; s < 2; s++, j++) {
        char label[200];
        snprintf(label, sizeof(label), "%.150s: %zu faces", set_names[s], totals[s]);
        fer_canvas_legend(&cv, w - 250, 28, j, colors[s], label);
    }
    st = fer_canvas_save(&cv, out, err);
    fer_canvas_free(&cv);
    return st;
}
