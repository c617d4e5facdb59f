/*
 * faces.c - a sample of evaluation faces as the model reads them (the 2016 project's grid):
 * each face with its true class and the model's two likeliest classes with their
 * probabilities; a face whose first guess is wrong gets a red frame.
 */
#include <stdio.h>

#include "core/rng.h"
#include "report/canvas.h"
#include "report/report.h"

#define SIDE    48
#define COLUMNS 6

size_t fer_select_sample(size_t n, size_t max, uint64_t seed, size_t *idx)
{
    size_t m = max < n ? max : n;
    fer_rng rng;
    fer_rng_seed(&rng, seed, 0x5A3E, 0, 0);
    /* Floyd's sampling: m distinct values, then in increasing order */
    size_t got = 0;
    for (size_t j = n - m; j < n; j++) {
        size_t t = (size_t)fer_rng_below(&rng, j + 1);
        int seen = 0;
        for (size_t i = 0; i < got && !seen; i++)
            seen = idx[i] == t;
        idx[got++] = seen ? j : t;
    }
    for (size_t i = 1; i < got; i++) /* insertion sort: m is small */
        for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    return got;
}

/* The two likeliest classes of p. */
static void top_two(const float *p, int k, int *first, int *second)
{
    *first = 0;
    *second = 1;
    if (p[1] > p[0]) {
        *first = 1;
        *second = 0;
    }
    for (int c = 2; c < k; c++) {
        if (p[c] > p[*first]) {
            *second = *first;
            *first = c;
        } else if (p[c] > p[*second]) {
            *second = c;
        }
    }
}

enum fer_status fer_figure_faces(const uint8_t *pixels, const float *probs, const uint8_t *labels,
                                 int k, const char *const *names, const size_t *idx, size_t m,
                                 const struct fer_figure_file *out, char *err)
{
    if (k < 2 || k > 16 || m < 1 || m > 64)
        return fer_errorf(err, FER_ERR_ARG, "faces: %d classes, %zu faces", k, m);
    const double side = 112, cell_w = side + 28, cell_h = side + 66, left = 16, top = 64;
    size_t rows = (m + COLUMNS - 1) / COLUMNS, wrong = 0;
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, (int)(left * 2 + COLUMNS * cell_w),
                                         (int)(top + (double)rows * cell_h + 10), out, err);
    if (st != FER_OK)
        return st;
    for (size_t i = 0; i < m; i++) {
        const float *p = probs + idx[i] * (size_t)k;
        int first, second;
        top_two(p, k, &first, &second);
        int right = first == labels[idx[i]];
        wrong += !right;
        double x = left + (double)(i % COLUMNS) * cell_w + 14,
               y = top + (double)(i / COLUMNS) * cell_h;
        if (!right)
            fer_canvas_fill_rect(&c, x - 4, y - 4, side + 8, side + 8, 0xD32F2F, 1);
        fer_canvas_gray_image(&c, pixels + idx[i] * (size_t)(SIDE * SIDE), SIDE, SIDE, x, y, side,
                              side);
        fer_canvas_text(&c, x + side / 2, y + side + 17, 12, FER_CENTER, 1, 0x222222, "%s",
                        names[labels[idx[i]]]);
        fer_canvas_text(&c, x + side / 2, y + side + 33, 11, FER_CENTER, !right,
                        right ? 0x2E7D32 : 0xD32F2F, "%s%s %.0f%%", right ? "" : "\u2717 ",
                        names[first], 100 * (double)p[first]);
        fer_canvas_text(&c, x + side / 2, y + side + 48, 11, FER_CENTER, 0, 0x666666, "%s %.0f%%",
                        names[second], 100 * (double)p[second]);
    }
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "%zu evaluation faces", m);
    fer_canvas_text(&c, 16, 46, 12, FER_LEFT, 0, 0x555555,
                    "under each: its label, the model's first and second guess; "
                    "red: the first guess is wrong (%zu of %zu)",
                    wrong, m);
    st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}
