/*
 * test_yunet.c - the YuNet face detector (detect/yunet.c, detect/finder.c) and
 * its importer (detect/yunet_import.c).
 *
 * Everywhere: the built-in detector on the photos of tests/data/photos (faces
 * found, none in the photo without people, landmarks inside their boxes in
 * their order, scores sorted and above the threshold, no two faces
 * overlapping past the NMS threshold, thresholds that move the count the
 * right way, gray and colour, a large image reduced first), the finder's
 * `none`, and weights files that must be refused with a message naming what
 * is wrong. With ../shared: `fer import`'s result equals models/yunet.fer,
 * damaged copies of the real weights file are refused, and the scores, boxes
 * and landmarks equal those of tests/yunet_reference.py, an independent
 * numpy forward pass, on real photos.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "check.h"
#include "core/alloc.h"
#include "core/file.h"
#include "detect/finder.h"
#include "detect/yunet.h"
#include "image/image.h"
#include "nn/model_file.h"
#include "tmp_dir.h"

#define PHOTOS "tests/data/photos/"

static fer_yunet *builtin(void)
{
    char err[FER_ERR_LEN];
    fer_yunet *y = NULL;
    if (fer_yunet_open_builtin(&y, err) != FER_OK)
        fprintf(stderr, "  %s\n", err);
    return y;
}

static float iou(const struct fer_yunet_face *a, const struct fer_yunet_face *b)
{
    float ix = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
    float iy = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
    if (ix <= 0 || iy <= 0)
        return 0;
    return ix * iy / (a->w * a->h + b->w * b->h - ix * iy);
}

/* Faces in a photo of tests/data/photos with the default parameters (or p). */
static size_t faces_in(fer_yunet *y, const char *name, int gray, const struct fer_yunet_params *p,
                       struct fer_yunet_face **faces)
{
    char err[FER_ERR_LEN], path[256];
    snprintf(path, sizeof(path), PHOTOS "%s", name);
    fer_image img = {0};
    size_t n = 0;
    struct fer_yunet_params def;
    fer_yunet_params_default(&def);
    *faces = NULL;
    if (fer_image_load(path, gray, 0, &img, err) != FER_OK ||
        fer_yunet_detect(y, &img, p ? p : &def, faces, &n, err) != FER_OK)
        fprintf(stderr, "  %s: %s\n", name, err);
    fer_image_free(&img);
    return n;
}

/* The checks every answer must pass: order, threshold, suppression, landmarks in place. */
static void check_faces(const struct fer_yunet_face *f, size_t n, const struct fer_yunet_params *p)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(f[i].score >= p->score_threshold && f[i].score <= 1);
        CHECK(i == 0 || f[i].score <= f[i - 1].score);
        for (size_t k = 0; k < i; k++)
            CHECK(iou(&f[i], &f[k]) <= p->nms_threshold);
        const float *lm = f[i].landmarks;
        for (int k = 0; k < 5; k++) {
            CHECK(lm[2 * k] >= f[i].x && lm[2 * k] <= f[i].x + f[i].w);
            CHECK(lm[2 * k + 1] >= f[i].y && lm[2 * k + 1] <= f[i].y + f[i].h);
        }
        /* the eyes above the nose, the nose above the mouth; each right point left of its
         * left one (the person's sides, seen from the front) */
        CHECK(lm[1] < lm[5] && lm[3] < lm[5] && lm[5] < lm[7] && lm[5] < lm[9]);
        CHECK(lm[0] < lm[2] && lm[6] < lm[8]);
    }
}

TEST(finds_the_faces_in_the_photos)
{
    fer_yunet *y = builtin();
    CHECK(y != NULL);
    if (!y)
        return;
    struct fer_yunet_params p;
    fer_yunet_params_default(&p);
    const struct {
        const char *name;
        size_t faces;
    } photos[] = {{"grace_hopper.jpg", 1},  {"astronaut.jpg", 1}, {"astronaut.webp", 1},
                  {"two_portraits.jpg", 2}, {"coffee.jpg", 0},    {"astronaut_gray.png", 1}};
    for (size_t i = 0; i < sizeof(photos) / sizeof(photos[0]); i++) {
        struct fer_yunet_face *f;
        size_t n = faces_in(y, photos[i].name, 0, NULL, &f);
        if (n != photos[i].faces)
            fprintf(stderr, "  %s: %zu faces, not %zu\n", photos[i].name, n, photos[i].faces);
        CHECK(n == photos[i].faces);
        check_faces(f, n, &p);
        CHECK(n == 0 || f[0].score > 0.85f);
        fer_free(f);
    }
    fer_yunet_free(y);
}

/* Grace Hopper's face as libfacedetection's pass puts it (tests/yunet_reference.py gave
 * [182.4, 121.0, 171.2, 211.4], score 0.9434), in gray as in colour. */
TEST(gray_and_colour_find_the_same_face)
{
    fer_yunet *y = builtin();
    if (!y)
        return;
    struct fer_yunet_face *c, *g;
    size_t nc = faces_in(y, "grace_hopper.jpg", 0, NULL, &c);
    size_t ng = faces_in(y, "grace_hopper.jpg", 1, NULL, &g);
    CHECK(nc == 1 && ng == 1);
    if (nc == 1 && ng == 1) {
        CHECK(fabsf(c->x - 182.4f) < 0.5f && fabsf(c->y - 121.0f) < 0.5f);
        CHECK(fabsf(c->w - 171.2f) < 0.5f && fabsf(c->h - 211.4f) < 0.5f);
        CHECK(fabsf(c->score - 0.9434f) < 1e-3f);
        CHECK(iou(c, g) > 0.9f);
    }
    fer_free(c);
    fer_free(g);
    fer_yunet_free(y);
}

TEST(thresholds_move_the_count_the_right_way)
{
    fer_yunet *y = builtin();
    if (!y)
        return;
    struct fer_yunet_params p;
    fer_yunet_params_default(&p);
    struct fer_yunet_face *f;
    size_t base = faces_in(y, "two_portraits.jpg", 0, &p, &f);
    fer_free(f);
    p.score_threshold = 0.999f;
    CHECK(faces_in(y, "two_portraits.jpg", 0, &p, &f) < base);
    fer_free(f);
    p.score_threshold = 0.3f;
    p.nms_threshold = 1.0f; /* nothing suppressed: every candidate around each face stays */
    size_t all = faces_in(y, "two_portraits.jpg", 0, &p, &f);
    CHECK(all > 2 * base);
    fer_free(f);
    p.keep = 1;
    CHECK(faces_in(y, "two_portraits.jpg", 0, &p, &f) == 1);
    fer_free(f);
    fer_yunet_params_default(&p);
    p.min_size = 120; /* the smaller portrait (73 x 93) goes */
    CHECK(faces_in(y, "two_portraits.jpg", 0, &p, &f) == 1);
    CHECK(f && f[0].w >= 120);
    fer_free(f);
    fer_yunet_free(y);
}

/* A photo over max_pixels is searched reduced; the face comes back in full-size pixels. */
TEST(large_image_is_reduced_and_boxes_scaled_back)
{
    char err[FER_ERR_LEN];
    fer_yunet *y = builtin();
    fer_image img = {0}, big = {0};
    CHECK(fer_image_load(PHOTOS "grace_hopper.jpg", 0, 0, &img, err) == FER_OK);
    CHECK(fer_image_crop_resize(&img, (fer_rect){0, 0, img.width, img.height}, 3 * img.width,
                                3 * img.height, &big, err) == FER_OK);
    struct fer_yunet_params p;
    fer_yunet_params_default(&p);
    CHECK((size_t)big.width * (size_t)big.height > p.max_pixels);
    struct fer_yunet_face *f = NULL;
    size_t n = 0;
    if (y)
        CHECK(fer_yunet_detect(y, &big, &p, &f, &n, err) == FER_OK);
    CHECK(n == 1);
    if (n == 1)
        CHECK(fabsf(f->x - 3 * 182.4f) < 20 && fabsf(f->w - 3 * 171.2f) < 25);
    fer_free(f);
    fer_image_free(&img);
    fer_image_free(&big);
    fer_yunet_free(y);
}

TEST(finder_none_and_cascades_through_one_door)
{
    char err[FER_ERR_LEN];
    struct fer_engine_options o;
    fer_engine_options_default(&o);
    CHECK(o.detector == FER_DETECTOR_YUNET);
    fer_image img = {0};
    CHECK(fer_image_load(PHOTOS "grace_hopper.jpg", 0, 0, &img, err) == FER_OK);
    const int detectors[] = {FER_DETECTOR_NONE, FER_DETECTOR_HAAR, FER_DETECTOR_YUNET};
    for (int d = 0; d < 3; d++) {
        o.detector = detectors[d];
        fer_finder *f = NULL;
        struct fer_found *found = NULL;
        size_t n = 0;
        CHECK(fer_finder_open(&o, &f, err) == FER_OK);
        if (f)
            CHECK(fer_finder_find(f, &img, NULL, &found, &n, err) == FER_OK);
        CHECK(n == 1);
        if (n == 1 && detectors[d] == FER_DETECTOR_NONE)
            CHECK(found->box.w == img.width && found->box.h == img.height && found->score < 0);
        if (n == 1 && detectors[d] == FER_DETECTOR_HAAR)
            CHECK(!found->has_landmarks && found->score < 0);
        if (n == 1 && detectors[d] == FER_DETECTOR_YUNET)
            CHECK(found->has_landmarks && found->score > 0.9f && found->box.x == 182);
        fer_free(found);
        fer_finder_free(f);
    }
    o.detector = FER_DETECTOR_LBP;
    fer_finder *f = NULL;
    CHECK(fer_finder_open(&o, &f, err) == FER_ERR_ARG && strstr(err, "LBP") && !f);
    CHECK(fer_detector_parse("haar") == FER_DETECTOR_HAAR && fer_detector_parse("x") == -1);
    fer_image_free(&img);
}

/* Model files of the wrong kind are refused, each way round, with messages saying so. */
TEST(detector_and_classifier_files_are_not_confused)
{
    char err[FER_ERR_LEN] = "";
    fer_yunet *y = NULL;
    CHECK(fer_yunet_open("models/fer-resnet.fer", &y, err) == FER_ERR_ARG);
    CHECK(strstr(err, "not a face detector") != NULL && !y);
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    CHECK(fer_model_load("models/yunet.fer", 1, &net, &meta, NULL, err) == FER_ERR_ARG);
    CHECK(strstr(err, "is a face detector") != NULL && !net);
    fer_meta_clear(&meta);
    CHECK(fer_yunet_open("tests/data/photos/README.md", &y, err) != FER_OK && !y);
}

/* ---- the importer --------------------------------------------------------------------- */

static enum fer_status import_text(const char *text, char *err)
{
    fer_net *net = NULL;
    enum fer_status st = fer_yunet_import(text, strlen(text), "weights.cpp", &net, err);
    fer_net_free(net);
    return st;
}

/* 53 entries naming arrays w and b, for the errors that come after the table parses. */
static char *table_of(const char *arrays, const char *entry)
{
    size_t cap = strlen(arrays) + 64 + 53 * (strlen(entry) + 2);
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "%sConvInfoStruct param_pConvInfo[53] = {", arrays);
    for (int i = 0; i < 53; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? ", " : "", entry);
    snprintf(s + n, cap - n, "};\n");
    return s;
}

TEST(bad_weights_files_are_refused_with_reasons)
{
    char err[FER_ERR_LEN];
    const struct {
        const char *text, *says;
    } cases[] = {
        {"", "no param_pConvInfo"},
        {"float a[2] = {1, 2};", "no param_pConvInfo"},
        {"float a[2] = {1, x};", "value 2 is not a finite number"},
        {"float a[2] = {1, nan};", "not a finite number"},
        {"float a[2] = {1, 1e99};", "not a finite number"},
        {"float a[2] = {1, 2", "expected ',' or '}'"},
        {"float a[2] = 7;", "expected '{'"},
        {"ConvInfoStruct param_pConvInfo[52] = {};", "param_pConvInfo[53]"},
        {"ConvInfoStruct param_pConvInfo[53] = {{32, 16, false, true, true, w, b}};",
         "1 entries, not 53"},
        {"ConvInfoStruct param_pConvInfo[53] = {{32, 16, maybe, true, true, w, b}};",
         "entry 0 is malformed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = 0;
        CHECK(import_text(cases[i].text, err) != FER_OK);
        if (!strstr(err, cases[i].says))
            fprintf(stderr, "  case %zu: '%s' does not say '%s'\n", i, err, cases[i].says);
        CHECK(strstr(err, cases[i].says) != NULL);
    }
    char *t = table_of("", "{32, 16, false, true, true, w, b}");
    CHECK(import_text(t, err) != FER_OK && strstr(err, "does not define") != NULL);
    free(t);
    /* the stem's arrays right, then a layer whose weights do not fit its place */
    char arrays[8192] = "float w[512] = {";
    for (int i = 0; i < 512; i++)
        strcat(arrays, (i % 32) >= 27 ? "0," : "0.5,");
    strcat(arrays, "}; float b[16] = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0};\n");
    t = table_of(arrays, "{32, 16, false, true, true, w, b}");
    CHECK(import_text(t, err) != FER_OK);
    CHECK(strstr(err, "ReLU") != NULL || strstr(err, "does not fit") != NULL);
    free(t);
}

/* ---- with ../shared: the real weights file -------------------------------------------- */

static char *read_text(const char *path, size_t *len)
{
    char err[FER_ERR_LEN];
    uint8_t *data = NULL;
    if (fer_file_read(path, "test file", (size_t)64 << 20, &data, len, err) != FER_OK)
        return NULL;
    char *text = fer_malloc(*len + 1); /* a string, for strstr */
    if (text) {
        memcpy(text, data, *len);
        text[*len] = 0;
    }
    fer_free(data);
    return text;
}

/* `fer import` of the real file gives models/yunet.fer's weights, bit for bit. */
TEST(import_reproduces_the_shipped_model)
{
    const char *shared = check_shared_data();
    if (!shared) {
        CHECK_SKIP("needs ../shared/data/yunet");
        return;
    }
    char path[512], err[FER_ERR_LEN];
    snprintf(path, sizeof(path), "%s/yunet/facedetectcnn-data.cpp", shared);
    size_t len = 0;
    char *text = read_text(path, &len);
    CHECK(text != NULL);
    fer_net *made = NULL, *shipped = NULL;
    struct fer_meta meta = {0};
    CHECK(text && fer_yunet_import(text, len, path, &made, err) == FER_OK);
    CHECK(fer_model_load_as("models/yunet.fer", FER_MODEL_DETECTOR, 1, &shipped, &meta, NULL,
                            err) == FER_OK);
    if (made && shipped) {
        size_t a, b;
        float *pa = fer_net_params(made, &a), *pb = fer_net_params(shipped, &b);
        CHECK(a == b && a == 53104 && memcmp(pa, pb, a * sizeof(float)) == 0);
    }
    CHECK(fer_meta_get(&meta, "copyright") && strstr(fer_meta_get(&meta, "copyright"), "Shiqi Yu"));
    /* damaged copies: a bias value gone, a ReLU flag flipped */
    const char *edits[][3] = {
        {"backbone__model0_pw_bias[16] = {", "backbone__model0_pw_bias[16] = {1.5f, ",
         "backbone__model0_pw_bias has 17"},
        {"{16, 16, true, false, true, backbone__model0_dp_dw_weight",
         "{16, 16, true, false, false, backbone__model0_dp_dw_weight", "ReLU"},
        {"float backbone__model1_dp1_pw_bias[16] = {", "float other_name[16] = {",
         "does not define"},
    };
    for (int e = 0; text && e < 3; e++) {
        char *at = strstr(text, edits[e][0]);
        CHECK(at != NULL);
        if (!at)
            continue;
        size_t pre = (size_t)(at - text), cap = len + 64;
        char *copy = malloc(cap);
        snprintf(copy, cap, "%.*s%s%s", (int)pre, text, edits[e][1], at + strlen(edits[e][0]));
        err[0] = 0;
        CHECK(import_text(copy, err) != FER_OK);
        if (!strstr(err, edits[e][2]))
            fprintf(stderr, "  edit %d: '%s'\n", e, err);
        CHECK(strstr(err, edits[e][2]) != NULL);
        free(copy);
    }
    fer_meta_clear(&meta);
    fer_net_free(made);
    fer_net_free(shipped);
    fer_free(text);
}

/* An image as binary PPM for the reference script. */
static int write_ppm(const fer_image *img, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "P6\n%d %d\n255\n", img->width, img->height);
    size_t n = (size_t)img->width * (size_t)img->height * 3;
    int ok = fwrite(img->data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The reference's faces for an image, as JSON (NULL when it could not run). */
static json_t *reference_faces(const char *weights, const fer_image *img)
{
    char ppm[512], cmd[2048];
    test_tmp_path(ppm, sizeof(ppm), "ref.ppm");
    if (write_ppm(img, ppm) != 0)
        return NULL;
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 tests/yunet_reference.py '%s' '%s' "
             "--score-threshold %g",
             weights, ppm, (double)FER_DEFAULT_SCORE_THRESHOLD);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    json_error_t je;
    json_t *o = json_loadf(p, 0, &je);
    pclose(p);
    return o;
}

static double worst_difference(const struct fer_yunet_face *f, json_t *r)
{
    json_t *box = json_object_get(r, "box"), *lm = json_object_get(r, "landmarks");
    double d = fabs((double)f->score - json_number_value(json_object_get(r, "score"))) * 100;
    const float mine[4] = {f->x, f->y, f->w, f->h};
    for (int k = 0; k < 4; k++)
        d = fmax(d, fabs((double)mine[k] - json_number_value(json_array_get(box, (size_t)k))));
    for (int k = 0; k < 10; k++)
        d = fmax(d, fabs((double)f->landmarks[k] -
                         json_number_value(
                             json_array_get(json_array_get(lm, (size_t)k / 2), (size_t)k % 2))));
    return d;
}

/* Scores (to 1e-4), boxes and landmarks (to 0.01 pixel) equal the numpy reference's. */
TEST(matches_the_independent_reference)
{
    const char *shared = check_shared_data();
    struct stat sb;
    if (!shared || stat("/usr/bin/python3", &sb) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        CHECK_SKIP("needs ../shared/data/yunet and /usr/bin/python3 with numpy");
        return;
    }
    char weights[512], err[FER_ERR_LEN];
    snprintf(weights, sizeof(weights), "%s/yunet/facedetectcnn-data.cpp", shared);
    const char *photos[] = {PHOTOS "grace_hopper.jpg", PHOTOS "two_portraits.jpg",
                            "media/dlib_faces/2008_001322.jpg", "media/dlib_faces/2007_007763.jpg"};
    fer_yunet *y = builtin();
    struct fer_yunet_params p;
    fer_yunet_params_default(&p);
    for (int i = 0; i < 4 && y; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", i < 2 ? "" : shared, i < 2 ? "" : "/", photos[i]);
        fer_image img = {0};
        struct fer_yunet_face *f = NULL;
        size_t n = 0;
        CHECK(fer_image_load(path, 0, 0, &img, err) == FER_OK);
        CHECK(fer_yunet_detect(y, &img, &p, &f, &n, err) == FER_OK);
        json_t *ref = reference_faces(weights, &img);
        json_t *rf = json_object_get(ref, "faces");
        CHECK(ref != NULL && json_array_size(rf) == n);
        double worst = 0;
        for (size_t k = 0; k < n && k < json_array_size(rf); k++)
            worst = fmax(worst, worst_difference(&f[k], json_array_get(rf, k)));
        printf("  %s: %zu faces, largest difference %.2g (pixels; score x 100)\n", photos[i], n,
               worst);
        CHECK(n > 0 && worst < 0.01);
        json_decref(ref);
        fer_free(f);
        fer_image_free(&img);
    }
    fer_yunet_free(y);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_yunet_XXXXXX") != 0)
        return 1;
    RUN(finds_the_faces_in_the_photos);
    RUN(gray_and_colour_find_the_same_face);
    RUN(thresholds_move_the_count_the_right_way);
    RUN(large_image_is_reduced_and_boxes_scaled_back);
    RUN(finder_none_and_cascades_through_one_door);
    RUN(detector_and_classifier_files_are_not_confused);
    RUN(bad_weights_files_are_refused_with_reasons);
    RUN(import_reproduces_the_shipped_model);
    RUN(matches_the_independent_reference);
    test_tmp_remove();
    return check_report();
}
