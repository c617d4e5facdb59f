/*
 * test_pipeline.c - the public engine API (include/fer.h) end to end: the
 * built-in model and cascade, images with and without faces, crops,
 * concurrent use, and bad input.
 */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "data/dataset.h"
#include "fer.h"
#include "image/image.h"
#include "nn/model_file.h"
#include "nn/net.h"

static fer_engine *engine;

TEST(builtin_engine_opens)
{
    char err[FER_ERR_LEN];
    CHECK(fer_engine_open(NULL, &engine, err) == FER_OK);
    if (!engine) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(fer_engine_class_count(engine) == 7);
    CHECK_STR(fer_engine_class_name(engine, 3), "happy");
    CHECK_STR(fer_engine_class_name(engine, 99), "?");
    CHECK(strlen(fer_engine_model_version(engine)) >= 12);
    CHECK(fer_engine_model_info(engine, "train_sha256") != NULL);
}

TEST(flat_image_has_no_faces)
{
    if (!engine)
        return;
    fer_image img = {0};
    char err[FER_ERR_LEN];
    CHECK(fer_image_new(320, 240, 3, &img, err) == FER_OK);
    memset(img.data, 128, (size_t)320 * 240 * 3);
    fer_analysis a;
    CHECK(fer_engine_analyze(engine, &img, &a, err) == FER_OK);
    CHECK(a.n_faces == 0 && a.faces == NULL);
    fer_analysis_free(&a);
    fer_image_free(&img);
}

TEST(classify_crops_gives_distributions)
{
    if (!engine)
        return;
    uint8_t crops[2 * FER_FACE_PIXELS];
    for (int i = 0; i < 2 * FER_FACE_PIXELS; i++)
        crops[i] = (uint8_t)(i * 31 % 251);
    float probs[2 * FER_MAX_CLASSES];
    char err[FER_ERR_LEN];
    CHECK(fer_engine_classify_crops(engine, crops, 2, probs, err) == FER_OK);
    for (int f = 0; f < 2; f++) {
        float sum = 0;
        for (int c = 0; c < 7; c++) {
            CHECK(probs[f * FER_MAX_CLASSES + c] >= 0);
            sum += probs[f * FER_MAX_CLASSES + c];
        }
        CHECK_NEAR(sum, 1.0, 1e-4);
    }
}

/* --merge-disgust: the 7-class model answers in 6 classes, disgust added to angry. */
TEST(merged_engine_answers_in_six_classes)
{
    if (!engine)
        return;
    char err[FER_ERR_LEN] = "";
    struct fer_engine_options o;
    fer_engine_options_default(&o);
    o.merge_disgust = 1;
    fer_engine *six = NULL;
    CHECK(fer_engine_open(&o, &six, err) == FER_OK);
    if (!six) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(fer_engine_class_count(six) == 6);
    CHECK_STR(fer_engine_class_name(six, 0), "angry");
    CHECK_STR(fer_engine_class_name(six, 1), "fear");
    CHECK_STR(fer_engine_class_name(six, 5), "neutral");
    uint8_t crops[3 * FER_FACE_PIXELS];
    for (int i = 0; i < 3 * FER_FACE_PIXELS; i++)
        crops[i] = (uint8_t)((i * 17 + i / 48 * 5) % 253);
    float p7[3 * FER_MAX_CLASSES], p6[3 * FER_MAX_CLASSES];
    CHECK(fer_engine_classify_crops(engine, crops, 3, p7, err) == FER_OK);
    CHECK(fer_engine_classify_crops(six, crops, 3, p6, err) == FER_OK);
    for (int f = 0; f < 3; f++) {
        const float *a = p7 + f * FER_MAX_CLASSES, *b = p6 + f * FER_MAX_CLASSES;
        CHECK_NEAR(b[0], a[0] + a[1], 1e-6);
        for (int c = 1; c < 6; c++)
            CHECK_NEAR(b[c], a[c + 1], 1e-6);
        CHECK(b[6] == 0.0f);
    }
    fer_engine_close(six);
    six = NULL;

    /* a 6-class model has no disgust to merge */
    o.model_path = "models/fer-resnet6.fer";
    if (access(o.model_path, R_OK) == 0) {
        CHECK(fer_engine_open(&o, &six, err) == FER_ERR_ARG && six == NULL);
        CHECK(strstr(err, "7 FER2013 classes") != NULL);
    }
}

/* The built-in model on real FER2013 faces: far better than the 25% of always "happy". */
TEST(builtin_model_reads_fer2013_faces)
{
    const char *data = check_shared_data();
    if (!engine)
        return;
    if (!data) {
        CHECK_SKIP("shared data not found (../shared/data or FER_SHARED_DATA)");
        return;
    }
    char path[512], err[FER_ERR_LEN];
    snprintf(path, sizeof(path), "%s/fer2013/publictest.csv.gz", data);
    struct fer_read_options ro = {0, -1, 600};
    fer_dataset *ds = NULL;
    CHECK(fer_dataset_read_csv(path, &ro, &ds, NULL, err) == FER_OK);
    if (!ds)
        return;
    float *probs = fer_malloc(ds->n * FER_MAX_CLASSES * sizeof(float));
    CHECK(fer_engine_classify_crops(engine, ds->pixels, ds->n, probs, err) == FER_OK);
    size_t correct = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int best = 0;
        for (int c = 1; c < 7; c++)
            best = probs[i * FER_MAX_CLASSES + c] > probs[i * FER_MAX_CLASSES + best] ? c : best;
        correct += best == ds->labels[i];
    }
    printf("  built-in model: %zu/%zu correct on the first PublicTest faces\n", correct, ds->n);
    CHECK(correct > ds->n * 45 / 100);
    fer_free(probs);
    fer_dataset_free(ds);
}

static fer_analysis photo_result;
static char photo_path[512];

struct worker {
    fer_analysis result;
    enum fer_status st;
};

static void *analyze_worker(void *arg)
{
    struct worker *w = arg;
    char err[FER_ERR_LEN];
    w->st = fer_engine_analyze_file(engine, photo_path, 0, &w->result, NULL, err);
    return NULL;
}

/* A photo in the repository with two faces: Grace Hopper on the left, Eileen Collins right. */
TEST(photo_faces_and_concurrent_use)
{
    if (!engine)
        return;
    snprintf(photo_path, sizeof(photo_path), "tests/data/photos/two_portraits.jpg");
    char err[FER_ERR_LEN];
    CHECK(fer_engine_analyze_file(engine, photo_path, 0, &photo_result, NULL, err) == FER_OK);
    CHECK(photo_result.n_faces == 2);
    for (size_t i = 0; i < photo_result.n_faces; i++) {
        const fer_face *f = &photo_result.faces[i];
        CHECK(f->box.w >= 60 && f->box.h >= 60);
        CHECK(f->emotion >= 0 && f->emotion < 7);
    }
    if (photo_result.n_faces == 2) {
        int left = photo_result.faces[0].box.x < photo_result.faces[1].box.x ? 0 : 1;
        CHECK(photo_result.faces[left].box.x < 420);      /* inside Hopper's portrait */
        CHECK(photo_result.faces[1 - left].box.x >= 460); /* inside Collins's */
    }
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, analyze_worker, &w[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].st == FER_OK);
        CHECK(w[i].result.n_faces == photo_result.n_faces);
        for (size_t f = 0; f < w[i].result.n_faces && f < photo_result.n_faces; f++)
            CHECK(memcmp(w[i].result.faces[f].probabilities, photo_result.faces[f].probabilities,
                         sizeof(float) * 7) == 0);
        fer_analysis_free(&w[i].result);
    }
    fer_analysis_free(&photo_result);
}

/*
 * A picture larger than detect_max_pixels is searched on a reduced copy: the photo of two faces
 * enlarged 3x (4.2 megapixels) against a 0.5-megapixel limit finds both faces where they are in
 * the large picture, and at full size (no limit) as well.
 */
TEST(large_pictures_are_searched_reduced)
{
    char err[FER_ERR_LEN];
    fer_image small = {0}, big = {0};
    CHECK(fer_image_load("tests/data/photos/two_portraits.jpg", 0, 0, &small, err) == FER_OK);
    if (!small.data)
        return;
    CHECK(fer_image_crop_resize(&small, (fer_rect){0, 0, small.width, small.height},
                                small.width * 3, small.height * 3, &big, err) == FER_OK);
    fer_engine *capped = NULL, *full = NULL;
    struct fer_engine_options o;
    fer_engine_options_default(&o);
    CHECK(o.detect_max_pixels == FER_DETECT_MAX_PIXELS);
    o.detect_max_pixels = 500000;
    CHECK(fer_engine_open(&o, &capped, err) == FER_OK);
    o.detect_max_pixels = 0;
    CHECK(fer_engine_open(&o, &full, err) == FER_OK);
    fer_analysis a = {0}, b = {0};
    CHECK(capped && fer_engine_analyze(capped, &big, &a, err) == FER_OK);
    CHECK(full && fer_engine_analyze(full, &big, &b, err) == FER_OK);
    printf("  3x enlarged: %zu faces found searched at 0.5 MP, %zu at full size\n", a.n_faces,
           b.n_faces);
    CHECK(a.n_faces == 2 && b.n_faces >= 2);
    /* each face found reduced is one found at full size, in the big picture's coordinates,
       within a few percent of its size (full size also finds a few false faces) */
    for (size_t i = 0; i < a.n_faces; i++) {
        const fer_rect *p = &a.faces[i].box;
        int matched = 0;
        for (size_t j = 0; j < b.n_faces; j++) {
            const fer_rect *q = &b.faces[j].box;
            int cx = p->x + p->w / 2 - (q->x + q->w / 2), cy = p->y + p->h / 2 - (q->y + q->h / 2);
            matched |= abs(cx) < q->w / 8 && abs(cy) < q->h / 8 && abs(p->w - q->w) < q->w / 5;
        }
        CHECK(matched);
    }
    fer_analysis_free(&a);
    fer_analysis_free(&b);
    fer_engine_close(capped);
    fer_engine_close(full);
    fer_image_free(&small);
    fer_image_free(&big);
}

TEST(bad_input_is_reported)
{
    char err[FER_ERR_LEN];
    fer_analysis a;
    if (engine) {
        CHECK(fer_engine_analyze_file(engine, "/nonexistent.jpg", 0, &a, NULL, err) != FER_OK);
        CHECK(strstr(err, "/nonexistent.jpg") != NULL);
        char path[] = "/tmp/fer_test_pipeline_XXXXXX";
        int fd = mkstemp(path);
        CHECK(write(fd, "\xff\xd8\xff\xe0garbage", 12) == 12);
        close(fd);
        CHECK(fer_engine_analyze_file(engine, path, 0, &a, NULL, err) != FER_OK);
        unlink(path);
        fer_image two = {2, 2, 2, NULL};
        CHECK(fer_engine_analyze(engine, &two, &a, err) == FER_ERR_ARG);
    }
    fer_engine *e = NULL;
    struct fer_engine_options o;
    fer_engine_options_default(&o);
    o.model_path = "/nonexistent.fer";
    CHECK(fer_engine_open(&o, &e, err) != FER_OK && e == NULL);
    fer_engine_options_default(&o);
    o.scale_factor = 1.0;
    CHECK(fer_engine_open(&o, &e, err) == FER_ERR_ARG);
    fer_engine_options_default(&o);
    o.cascade_path = "/nonexistent.xml";
    CHECK(fer_engine_open(&o, &e, err) == FER_ERR_ARG && strstr(err, "haar and lbp"));
    o.detector = FER_DETECTOR_HAAR;
    CHECK(fer_engine_open(&o, &e, err) != FER_OK && e == NULL);
    fer_engine_options_default(&o);
    o.score_threshold = 1.5f;
    CHECK(fer_engine_open(&o, &e, err) == FER_ERR_ARG && e == NULL);
}

/* A model file whose metadata names more classes than the network has outputs is refused. */
TEST(mismatched_class_names_are_refused)
{
    char err[FER_ERR_LEN] = "", path[] = "/tmp/fer_test_pipeline_model_XXXXXX";
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    if (access("models/fer-resnet6.fer", R_OK) != 0)
        return;
    CHECK(fer_model_load("models/fer-resnet6.fer", 1, &net, &meta, NULL, err) == FER_OK);
    if (!net)
        return;
    CHECK(fer_meta_set(&meta, "classes", "angry,disgust,fear,happy,sad,surprise,neutral") ==
          FER_OK);
    int fd = mkstemp(path);
    close(fd);
    enum fer_status saved = fer_model_save(path, net, &meta, NULL, err);
    if (saved == FER_OK) {
        struct fer_engine_options o;
        fer_engine_options_default(&o);
        o.model_path = path;
        fer_engine *e = NULL;
        CHECK(fer_engine_open(&o, &e, err) == FER_ERR_CORRUPT && e == NULL);
        CHECK(strstr(err, path) != NULL); /* the loader finds the weights do not fit */
    }
    unlink(path);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

/* models/fer-resnet.fer saved with meta temperature = t into path (mkstemp'd); 0 on success. */
static int save_tempered(const char *t, char *path)
{
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    enum fer_status st = fer_model_load("models/fer-resnet.fer", 1, &net, &meta, NULL, err);
    if (st == FER_OK && (st = fer_meta_set(&meta, "temperature", t)) == FER_OK)
        st = fer_model_save(path, net, &meta, NULL, err);
    fer_net_free(net);
    fer_meta_clear(&meta);
    return st == FER_OK ? 0 : -1;
}

/* The engine applies a model's temperature: p^(1/T) renormalised, the same winner. */
TEST(engine_applies_the_model_temperature)
{
    char plain[] = "/tmp/fer_test_pipeline_t1_XXXXXX", hot[] = "/tmp/fer_test_pipeline_t05_XXXXXX";
    if (access("models/fer-resnet.fer", R_OK) != 0)
        return;
    CHECK(save_tempered("1", plain) == 0 && save_tempered("0.5", hot) == 0);
    struct fer_engine_options o;
    fer_engine_options_default(&o);
    fer_engine *a = NULL, *b = NULL;
    char err[FER_ERR_LEN];
    o.model_path = plain;
    CHECK(fer_engine_open(&o, &a, err) == FER_OK);
    o.model_path = hot;
    CHECK(fer_engine_open(&o, &b, err) == FER_OK);
    uint8_t crops[3 * FER_FACE_PIXELS];
    for (int i = 0; i < 3 * FER_FACE_PIXELS; i++)
        crops[i] = (uint8_t)((i % 48) * 5 + (i / 2304) * 40 + (i / 48 % 48));
    float pa[3 * FER_MAX_CLASSES], pb[3 * FER_MAX_CLASSES];
    if (a && b) {
        CHECK(fer_engine_classify_crops(a, crops, 3, pa, err) == FER_OK);
        CHECK(fer_engine_classify_crops(b, crops, 3, pb, err) == FER_OK);
        double worst = 0;
        for (int f = 0; f < 3; f++) {
            float *p = pa + f * FER_MAX_CLASSES;
            fer_temper(p, 7, 0.5f);
            for (int c = 0; c < 7; c++)
                worst = fmax(worst, fabs((double)p[c] - (double)pb[f * FER_MAX_CLASSES + c]));
        }
        CHECK(worst < 1e-5);
    }
    fer_engine_close(a);
    fer_engine_close(b);
    unlink(plain);
    unlink(hot);
}

int main(void)
{
    RUN(builtin_engine_opens);
    RUN(flat_image_has_no_faces);
    RUN(classify_crops_gives_distributions);
    RUN(merged_engine_answers_in_six_classes);
    RUN(builtin_model_reads_fer2013_faces);
    RUN(photo_faces_and_concurrent_use);
    RUN(large_pictures_are_searched_reduced);
    RUN(bad_input_is_reported);
    RUN(mismatched_class_names_are_refused);
    RUN(engine_applies_the_model_temperature);
    fer_engine_close(engine);
    return check_report();
}
