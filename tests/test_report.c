/*
 * test_report.c - the report figures: calibration and mistake selection
 * computed right on hand-made predictions, figures that decode as PNGs of
 * the right size with the right colours where it matters, training logs read
 * (and bad ones refused with file and line), and unwritable paths reported.
 */
#include <stdint.h>

#include "check.h"
#include "fer.h"
#include "report/canvas.h"
#include "report/report.h"
#include "tmp_dir.h"

static const char *const NAMES[3] = {"angry", "happy", "neutral"};

/* Loads a PNG the figures wrote; 0 width when it does not decode. */
static fer_image load_png(const char *path)
{
    fer_image img = {0};
    char err[FER_ERR_LEN];
    if (fer_image_load(path, 0, 0, &img, err) != FER_OK)
        fprintf(stderr, "  %s\n", err);
    return img;
}

static unsigned pixel_rgb(const fer_image *img, int x, int y)
{
    const uint8_t *p = img->data + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
    return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

TEST(calibration_by_hand)
{
    /* 4 faces at confidence 0.92 (3 right), 2 at 0.35 (both wrong); 10 bins */
    const float probs[6 * 3] = {0.92f, 0.04f, 0.04f, 0.04f, 0.92f, 0.04f, 0.04f, 0.04f, 0.92f,
                                0.92f, 0.04f, 0.04f, 0.35f, 0.33f, 0.32f, 0.33f, 0.35f, 0.32f};
    const uint8_t labels[6] = {0, 1, 2, 1, 1, 0};
    struct fer_calibration cal;
    fer_calibration_compute(probs, labels, 6, 3, 10, &cal);
    CHECK(cal.bins == 10 && cal.total == 6);
    CHECK(cal.count[9] == 4 && cal.count[3] == 2);
    CHECK(fabs(cal.accuracy[9] - 0.75) < 1e-9 && fabs(cal.confidence[9] - 0.92) < 1e-6);
    CHECK(cal.accuracy[3] == 0 && fabs(cal.confidence[3] - 0.35) < 1e-6);
    /* ECE = 4/6 * |0.75 - 0.92| + 2/6 * |0 - 0.35| */
    CHECK(fabs(cal.ece - (4.0 / 6 * 0.17 + 2.0 / 6 * 0.35)) < 1e-6);
    /* a confidence of exactly 1 falls in the last bin, not past it */
    const float sure[3] = {1, 0, 0};
    const uint8_t zero = 0;
    fer_calibration_compute(sure, &zero, 1, 3, 10, &cal);
    CHECK(cal.count[9] == 1 && cal.ece < 1e-9);
}

TEST(mistakes_most_confident_first)
{
    const float probs[5 * 3] = {0.2f, 0.7f,  0.1f,  /* 0: angry read as happy 70% */
                                0.1f, 0.1f,  0.8f,  /* 1: angry read as neutral 80% */
                                0.9f, 0.05f, 0.05f, /* 2: angry, right */
                                0.1f, 0.8f,  0.1f,  /* 3: angry read as happy 80% (tie with 1) */
                                0.1f, 0.1f,  0.8f}; /* 4: happy read as neutral */
    const uint8_t labels[5] = {0, 0, 0, 0, 1};
    size_t idx[4];
    CHECK(fer_select_mistakes(probs, labels, 5, 3, 0, 4, idx) == 3);
    CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 0);
    CHECK(fer_select_mistakes(probs, labels, 5, 3, 0, 1, idx) == 1 && idx[0] == 1);
    CHECK(fer_select_mistakes(probs, labels, 5, 3, 2, 4, idx) == 0);
}

TEST(confusion_figure_colours_rows)
{
    /* row 0 all right, row 1 split 50/50, row 2 all read as angry */
    const size_t cm[9] = {10, 0, 0, 5, 5, 0, 4, 0, 0};
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "confusion.png");
    CHECK(fer_figure_confusion(cm, 3, NAMES, "test", path, err) == FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 120 + 3 * 84 + 30 && img.height == 70 + 3 * 84 + 70);
    if (img.width) {
        /* a corner of each cell (away from its text) has the colour of its share */
        CHECK(pixel_rgb(&img, 120 + 4, 70 + 4) == fer_heat_color(1.0));
        CHECK(pixel_rgb(&img, 120 + 84 + 4, 70 + 84 + 4) == fer_heat_color(0.5));
        CHECK(pixel_rgb(&img, 120 + 2 * 84 + 4, 70 + 2 * 84 + 4) == fer_heat_color(0.0));
        CHECK(pixel_rgb(&img, 120 + 4, 70 + 2 * 84 + 4) == fer_heat_color(1.0));
    }
    fer_image_free(&img);
    CHECK(fer_figure_confusion(cm, 1, NAMES, "test", path, err) == FER_ERR_ARG);
}

TEST(other_figures_decode)
{
    const size_t cm[9] = {10, 2, 1, 3, 20, 2, 0, 4, 9};
    const float probs[4 * 3] = {0.6f, 0.3f, 0.1f, 0.2f, 0.7f, 0.1f,
                                0.5f, 0.4f, 0.1f, 0.1f, 0.1f, 0.8f};
    const uint8_t labels[4] = {0, 0, 1, 2};
    uint8_t pixels[4 * 48 * 48];
    for (size_t i = 0; i < sizeof(pixels); i++)
        pixels[i] = (uint8_t)(i * 7);
    struct fer_calibration cal;
    fer_calibration_compute(probs, labels, 4, 3, 10, &cal);
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "classes.png");
    CHECK(fer_figure_classes(cm, 3, NAMES, path, err) == FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 860 && img.height == 640);
    fer_image_free(&img);
    test_tmp_path(path, sizeof(path), "calibration.png");
    CHECK(fer_figure_calibration(&cal, path, err) == FER_OK);
    img = load_png(path);
    CHECK(img.width == 620 && img.height == 700);
    fer_image_free(&img);
    test_tmp_path(path, sizeof(path), "mistakes.png");
    CHECK(fer_figure_mistakes(pixels, probs, labels, 4, 3, NAMES, 4, path, err) == FER_OK);
    img = load_png(path);
    CHECK(img.width > 0 && img.height > 0);
    if (img.width) {
        /* face 0 (angry read as happy) is the first of row 0, scaled from 48 to 96 pixels */
        unsigned inside = pixel_rgb(&img, 110 + 48, 60 + 48);
        CHECK(inside != 0xFFFFFF); /* a face is painted there, not the white background */
    }
    fer_image_free(&img);
}

TEST(training_logs)
{
    char path[128], bad[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "a.log.jsonl");
    test_tmp_path(bad, sizeof(bad), "bad.log.jsonl");
    FILE *f = fopen(path, "w");
    fputs("{\"epoch\":1,\"train_loss\":1.5,\"train_acc\":0.4,\"val_loss\":1.3,\"val_acc\":0.45,"
          "\"lr\":0.1}\n{\"epoch\":2,\"train_loss\":1.2,\"train_acc\":0.55,\"val_loss\":1.1,"
          "\"val_acc\":0.58,\"lr\":0.05}\n",
          f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("{\"epoch\":1,\"train_acc\":0.4,\"val_acc\":0.45}\n{\"loss\":3}\n", f);
    fclose(f);
    struct fer_log_epoch *ep = NULL;
    size_t n = 0;
    CHECK(fer_log_read(path, &ep, &n, err) == FER_OK && n == 2);
    CHECK(ep && ep[1].epoch == 2 && fabs(ep[1].val_acc - 0.58) < 1e-12 && ep[0].lr == 0.1);
    CHECK(fer_log_read(path, &ep, &n, err) == FER_OK && n == 4); /* a second stage appends */
    size_t starts[1] = {2};
    char png[128];
    test_tmp_path(png, sizeof(png), "curves.png");
    CHECK(fer_figure_curves(ep, n, starts, 1, png, err) == FER_OK);
    fer_image img = load_png(png);
    CHECK(img.width == 860 && img.height == 520);
    fer_image_free(&img);
    CHECK(fer_log_read(bad, &ep, &n, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "bad.log.jsonl:2") != NULL);
    CHECK(fer_log_read("/nonexistent/x.jsonl", &ep, &n, err) == FER_ERR_IO);
    free(ep);
}

TEST(unwritable_path_is_reported)
{
    const size_t cm[4] = {1, 0, 0, 1};
    char err[FER_ERR_LEN];
    CHECK(fer_figure_confusion(cm, 2, NAMES, "t", "/nonexistent/dir/c.png", err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent/dir/c.png") != NULL);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_report_XXXXXX") != 0)
        return 1;
    RUN(calibration_by_hand);
    RUN(mistakes_most_confident_first);
    RUN(confusion_figure_colours_rows);
    RUN(other_figures_decode);
    RUN(training_logs);
    RUN(unwritable_path_is_reported);
    test_tmp_remove();
    return check_report();
}
