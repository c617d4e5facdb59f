/*
 * test_report.c - the report figures: calibration and mistake selection
 * computed right on hand-made predictions, figures that decode as PNGs of
 * the right size with the right colours where it matters, training logs read
 * (and bad ones refused with file and line), and unwritable paths reported.
 */
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "check.h"
#include "fer.h"
#include "nn/net.h"
#include "nn/spec.h"
#include "report/canvas.h"
#include "report/report.h"
#include "tmp_dir.h"

static const char *const NAMES[3] = {"angry", "happy", "neutral"};

/* A figure file at path, at 96 dpi. */
static struct fer_figure_file at(const char *path)
{
    return (struct fer_figure_file){path, 96};
}

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
    CHECK(fer_figure_confusion(cm, 3, NAMES, "test", &(struct fer_figure_file){path, 96}, err) ==
          FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 120 + 3 * 84 + 110 && img.height == 70 + 3 * 84 + 70);
    if (img.width) {
        /* a corner of each cell (away from its text) has the colour of its share */
        CHECK(pixel_rgb(&img, 120 + 4, 70 + 4) == fer_heat_color(1.0));
        CHECK(pixel_rgb(&img, 120 + 84 + 4, 70 + 84 + 4) == fer_heat_color(0.5));
        CHECK(pixel_rgb(&img, 120 + 2 * 84 + 4, 70 + 2 * 84 + 4) == fer_heat_color(0.0));
        CHECK(pixel_rgb(&img, 120 + 4, 70 + 2 * 84 + 4) == fer_heat_color(1.0));
    }
    fer_image_free(&img);
    /* the colour bar: a share of v is drawn v of the way up, in that share's colour */
    CHECK(fer_figure_confusion(cm, 3, NAMES, "test", &(struct fer_figure_file){path, 96}, err) ==
          FER_OK);
    img = load_png(path);
    if (img.width) {
        int bar_x = 120 + 3 * 84 + 24 + 9;
        double top = 70, height = 3 * 84 - 2;
        for (int y = (int)top + 1; y < top + height - 1; y += 25) {
            double v = (top + height - (y + 0.5)) / height;
            unsigned got = pixel_rgb(&img, bar_x, y), want = fer_heat_color(v);
            for (int sh = 0; sh < 24; sh += 8)
                CHECK(abs((int)((got >> sh) & 255) - (int)((want >> sh) & 255)) <= 3);
        }
    }
    fer_image_free(&img);
    CHECK(fer_figure_confusion(cm, 1, NAMES, "test", &(struct fer_figure_file){path, 96}, err) ==
          FER_ERR_ARG);
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
    CHECK(fer_figure_classes(cm, 3, NAMES, &(struct fer_figure_file){path, 96}, err) == FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 860 && img.height == 640);
    fer_image_free(&img);
    test_tmp_path(path, sizeof(path), "calibration.png");
    CHECK(fer_figure_calibration(&cal, &(struct fer_figure_file){path, 96}, err) == FER_OK);
    img = load_png(path);
    CHECK(img.width == 620 && img.height == 700);
    fer_image_free(&img);
    test_tmp_path(path, sizeof(path), "mistakes.png");
    CHECK(fer_figure_mistakes(pixels, probs, labels, 4, 3, NAMES, 4,
                              &(struct fer_figure_file){path, 96}, err) == FER_OK);
    img = load_png(path);
    CHECK(img.width > 0 && img.height > 0);
    if (img.width) {
        /* face 0 (angry read as happy) is the first of row 0, scaled from 48 to 96 pixels */
        unsigned inside = pixel_rgb(&img, 110 + 48, 60 + 48);
        CHECK(inside != 0xFFFFFF); /* a face is painted there, not the white background */
    }
    fer_image_free(&img);
}

/* The share of pixels that are not white: 0 for a blank figure. */
static double inked(const fer_image *img)
{
    size_t n = 0, total = (size_t)img->width * (size_t)img->height;
    for (size_t i = 0; i < total; i++)
        n += img->data[3 * i] != 255 || img->data[3 * i + 1] != 255 || img->data[3 * i + 2] != 255;
    return total ? (double)n / (double)total : 0;
}

TEST(distribution_bars_by_share)
{
    const size_t eval[3] = {10, 30, 60}, train[3] = {100, 300, 600};
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "distribution.png");
    struct fer_figure_file out = at(path);
    CHECK(fer_figure_distribution(eval, train, 3, NAMES, "eval", "train", &out, err) == FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 860 && img.height == 440);
    CHECK(img.width && inked(&img) > 0.05);
    if (img.width) {
        /* neutral's bars (60%) are drawn up to the 60% line; angry's (10%) are not */
        struct fer_plot p = {70, 80, 860 - 100, 440 - 150, 0, 3, 0, 0.7};
        double group = p.width / 3, bar = group * 0.8 / 2;
        int y55 = (int)fer_plot_y(&p, 0.55), x_neutral = (int)(fer_plot_x(&p, 2) + group * 0.1 + 5),
            x_angry = (int)(fer_plot_x(&p, 0) + group * 0.1 + 5);
        CHECK(pixel_rgb(&img, x_neutral, y55) == 0x90A4AE);              /* training, neutral */
        CHECK(pixel_rgb(&img, (int)(x_neutral + bar), y55) == 0x1E88E5); /* evaluation */
        CHECK(pixel_rgb(&img, x_angry, y55) != 0x90A4AE);
    }
    fer_image_free(&img);
    CHECK(fer_figure_distribution(eval, NULL, 3, NAMES, NULL, NULL, &out, err) == FER_OK);
}

TEST(sample_is_seeded_and_distinct)
{
    size_t a[24], b[24], c[24];
    CHECK(fer_select_sample(1000, 24, 7, a) == 24);
    CHECK(fer_select_sample(1000, 24, 7, b) == 24);
    CHECK(fer_select_sample(1000, 24, 8, c) == 24);
    CHECK(!memcmp(a, b, sizeof(a))); /* the same seed, the same faces */
    CHECK(memcmp(a, c, sizeof(a)) != 0);
    for (int i = 1; i < 24; i++)
        CHECK(a[i] > a[i - 1] && a[i] < 1000); /* distinct, in order */
    CHECK(fer_select_sample(5, 24, 1, a) == 5);
    for (int i = 0; i < 5; i++)
        CHECK(a[i] == (size_t)i); /* fewer faces than asked: all of them */
}

TEST(faces_grid_marks_wrong_guesses)
{
    const float probs[4 * 3] = {0.6f, 0.3f, 0.1f, 0.2f, 0.7f, 0.1f,
                                0.5f, 0.4f, 0.1f, 0.1f, 0.1f, 0.8f};
    const uint8_t labels[4] = {0, 0, 1, 2}; /* face 1 is read wrong (happy for angry) */
    uint8_t pixels[4 * 48 * 48];
    memset(pixels, 128, sizeof(pixels));
    const size_t idx[4] = {0, 1, 2, 3};
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "faces.png");
    struct fer_figure_file out = at(path);
    CHECK(fer_figure_faces(pixels, probs, labels, 3, NAMES, idx, 4, &out, err) == FER_OK);
    fer_image img = load_png(path);
    CHECK(img.width == 16 * 2 + 6 * 140 && img.height == 64 + 178 + 10);
    if (img.width) {
        /* a red frame around face 1 only; the faces themselves are gray */
        CHECK(pixel_rgb(&img, 16 + 140 + 14 - 2, 64 + 50) == 0xD32F2F);
        CHECK(pixel_rgb(&img, 16 + 14 - 2, 64 + 50) != 0xD32F2F);
        CHECK(pixel_rgb(&img, 16 + 14 + 56, 64 + 56) == 0x808080);
    }
    fer_image_free(&img);
    CHECK(fer_figure_faces(pixels, probs, labels, 3, NAMES, idx, 0, &out, err) == FER_ERR_ARG);
}

TEST(feature_maps_of_a_small_net)
{
    const char *spec = "[net]\nwidth=44\nheight=44\nchannels=1\n"
                       "[convolutional]\nfilters=8\nsize=3\nactivation=relu\n"
                       "[maxpool]\nsize=2\n"
                       "[convolutional]\nfilters=8\nsize=3\nactivation=relu\n"
                       "[shortcut]\nfrom=-2\n"
                       "[maxpool]\nsize=2\n"
                       "[global_avgpool]\n[dense]\noutput=classes\n[softmax]\n";
    char err[FER_ERR_LEN];
    fer_spec *parsed = NULL;
    fer_net *net = NULL;
    if (fer_spec_parse(spec, "test.cfg", &parsed, err) != FER_OK ||
        fer_net_new(parsed, 3, 1, &net, err) != FER_OK) {
        fprintf(stderr, "  %s\n", err);
        fer_spec_free(parsed);
        CHECK(0);
        return;
    }
    fer_spec_free(parsed);
    fer_net_init_weights(net, 3);
    uint8_t face[48 * 48], view[48 * 48];
    for (int i = 0; i < 48 * 48; i++)
        face[i] = (uint8_t)((i % 48) * 5);
    struct fer_feature_layer layers[8];
    int n = fer_feature_layers_of(net, 0.5f, 0.25f, face, view, layers, 8);
    CHECK(n == 3); /* the two pools and the end of the one residual stage */
    CHECK(n == 3 && layers[0].c == 8 && layers[0].h == 22 && strstr(layers[0].name, "maxpool"));
    CHECK(n == 3 && strstr(layers[1].name, "end of stage 1") && layers[1].h == 22);
    CHECK(n == 3 && layers[2].h == 11);
    CHECK(view[0] == face[2 * 48 + 2] && view[44 * 44 - 1] == face[45 * 48 + 45]);
    char path[128];
    test_tmp_path(path, sizeof(path), "featuremaps.svg");
    struct fer_figure_file out = at(path);
    CHECK(fer_figure_feature_maps(view, 44, 44, "test", layers, n, 8, &out, err) == FER_OK);
    FILE *f = fopen(path, "r");
    char head[256] = "";
    CHECK(f && fread(head, 1, sizeof(head) - 1, f) > 0);
    CHECK(strstr(head, "<svg") != NULL); /* .svg: written as SVG */
    if (f)
        fclose(f);
    test_tmp_path(path, sizeof(path), "featuremaps.png");
    out = (struct fer_figure_file){path, 192};
    CHECK(fer_figure_feature_maps(view, 44, 44, "test", layers, n, 8, &out, err) == FER_OK);
    fer_image img = load_png(path);
    int w = (int)(200 + 8 * (56 + 6) + 10);
    CHECK(img.width == 2 * w); /* 192 dpi: twice the pixels */
    CHECK(img.width && inked(&img) > 0.1);
    fer_image_free(&img);
    fer_net_free(net);
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
    CHECK(fer_figure_curves(ep, n, starts, 1, &(struct fer_figure_file){png, 96}, err) == FER_OK);
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
    struct fer_figure_file out = at("/nonexistent/dir/c.png");
    CHECK(fer_figure_confusion(cm, 2, NAMES, "t", &out, err) == FER_ERR_IO);
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
    RUN(distribution_bars_by_share);
    RUN(sample_is_seeded_and_distinct);
    RUN(faces_grid_marks_wrong_guesses);
    RUN(feature_maps_of_a_small_net);
    RUN(training_logs);
    RUN(unwritable_path_is_reported);
    test_tmp_remove();
    return check_report();
}
