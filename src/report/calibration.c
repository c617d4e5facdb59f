/*
 * calibration.c - does a face read with 80% confidence come out right 80% of
 * the time? The reliability diagram (Guo et al. 2017): faces binned by their
 * top probability, each bin's accuracy against its mean confidence, the
 * expected calibration error, and how many faces fall in each bin.
 */
#include <math.h>
#include <string.h>

#include "report/canvas.h"
#include "report/report.h"

void fer_calibration_compute(const float *probs, const uint8_t *labels, size_t n, int k, int bins,
                             struct fer_calibration *out)
{
    memset(out, 0, sizeof(*out));
    bins = bins < 1 ? 1 : bins > FER_CAL_MAX_BINS ? FER_CAL_MAX_BINS : bins;
    out->bins = bins;
    out->total = n;
    double conf_sum[FER_CAL_MAX_BINS] = {0}, right[FER_CAL_MAX_BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)k;
        int best = 0;
        for (int c = 1; c < k; c++)
            best = p[c] > p[best] ? c : best;
        double conf = (double)p[best];
        int b = (int)(conf * bins);
        b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
        out->count[b]++;
        conf_sum[b] += conf;
        right[b] += best == labels[i];
    }
    for (int b = 0; b < bins; b++) {
        if (!out->count[b])
            continue;
        out->confidence[b] = conf_sum[b] / (double)out->count[b];
        out->accuracy[b] = right[b] / (double)out->count[b];
        out->ece += (double)out->count[b] / (double)n * fabs(out->accuracy[b] - out->confidence[b]);
    }
}

enum fer_status fer_figure_calibration(const struct fer_calibration *cal,
                                       const struct fer_figure_file *out, char *err)
{
    if (cal->bins < 1 || cal->bins > FER_CAL_MAX_BINS)
        return fer_errorf(err, FER_ERR_ARG, "calibration with %d bins", cal->bins);
    const int w = 620, h = 700;
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, w, h, out, err);
    if (st != FER_OK)
        return st;
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111,
                    "Calibration: confidence against accuracy");
    fer_canvas_text(&c, 16, 48, 12, FER_LEFT, 0, 0x555555,
                    "%zu faces; expected calibration error %.2f%% (%d bins)", cal->total,
                    100 * cal->ece, cal->bins);
    fer_canvas_text(&c, 16, 64, 12, FER_LEFT, 0, 0x555555,
                    "a calibrated model's bars end on the diagonal, at their mean confidence");
    struct fer_plot p = {70, 84, w - 110, 390, 0, 1, 0, 1};
    fer_plot_grid_y(&c, &p, 0.2, 1);
    double bw = p.width / cal->bins;
    for (int b = 0; b < cal->bins; b++) {
        if (!cal->count[b])
            continue;
        double x = fer_plot_x(&p, (double)b / cal->bins);
        double ya = fer_plot_y(&p, cal->accuracy[b]), yc = fer_plot_y(&p, cal->confidence[b]);
        fer_canvas_fill_rect(&c, x + 1, ya, bw - 2, p.top + p.height - ya, 0x1F77B4, 1);
        /* the bin's mean confidence: where the bar would end if calibrated */
        fer_canvas_line(&c, x + 1, yc, x + bw - 1, yc, 3, 0xD62728, 0);
    }
    fer_canvas_line(&c, fer_plot_x(&p, 0), fer_plot_y(&p, 0), fer_plot_x(&p, 1), fer_plot_y(&p, 1),
                    1.5, 0x444444, 1);
    for (int t = 0; t <= 5; t++)
        fer_canvas_text(&c, fer_plot_x(&p, t / 5.0), p.top + p.height + 16, 11, FER_CENTER, 0,
                        0x444444, "%d%%", t * 20);
    fer_canvas_text(&c, p.left + p.width / 2, p.top + p.height + 36, 12, FER_CENTER, 1, 0x222222,
                    "confidence (top probability)");
    fer_canvas_text_up(&c, 18, p.top + p.height / 2, 12, 0x222222, "accuracy");
    fer_canvas_legend(&c, p.left + 10, p.top + 18, 0, 0x1F77B4, "accuracy of the faces in the bin");
    fer_canvas_legend(&c, p.left + 10, p.top + 18, 1, 0xD62728, "their mean confidence");

    /* how many faces each bin holds */
    size_t most = 1;
    for (int b = 0; b < cal->bins; b++)
        most = cal->count[b] > most ? cal->count[b] : most;
    struct fer_plot q = {70, 540, w - 110, 110, 0, 1, 0, (double)most};
    fer_canvas_text(&c, 16, 530, 13, FER_LEFT, 1, 0x111111, "Faces per confidence bin");
    fer_canvas_line(&c, q.left, q.top + q.height, q.left + q.width, q.top + q.height, 1, 0x888888,
                    0);
    for (int b = 0; b < cal->bins; b++) {
        double x = fer_plot_x(&q, (double)b / cal->bins), y = fer_plot_y(&q, (double)cal->count[b]);
        fer_canvas_fill_rect(&c, x + 1, y, bw - 2, q.top + q.height - y, 0x7F7F7F, 1);
    }
    fer_canvas_text(&c, q.left - 6, q.top + 10, 11, FER_RIGHT, 0, 0x444444, "%zu", most);
    fer_canvas_text(&c, q.left - 6, q.top + q.height, 11, FER_RIGHT, 0, 0x444444, "0");
    st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}
