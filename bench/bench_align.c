/*
 * bench_align.c - does turning faces upright by their eyes (fer predict --align) help the
 * emotion model? On labelled faces of other people (FER2013 PublicTest, 3,589 faces), each
 * 48x48 face is shown to YuNet enlarged with a border of its own edge, its eyes found, and the
 * face classified twice by the built-in model: as it is, and turned so that its eyes are
 * level (the same code as the engine's). Prints both accuracies, overall and on the faces
 * turned by more than 5 degrees, as JSON.
 *
 *   build/bench_align ../shared/data/fer2013/publictest.csv.gz
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "data/dataset.h"
#include "detect/yunet.h"
#include "fer.h"
#include "image/image.h"

#define SIDE  FER_FACE_SIDE
#define SHOWN 240 /* the face, 3x, with a 48-pixel border of its own edge */

/* The angle of the line from the right eye to the left, or NAN when no face is found. */
static float eye_angle(fer_yunet *y, const uint8_t *face, char *err)
{
    fer_image f = {SIDE, SIDE, 1, (uint8_t *)face}, big = {0};
    struct fer_yunet_params p;
    fer_yunet_params_default(&p);
    p.score_threshold = 0.5f;
    struct fer_yunet_face *found = NULL;
    size_t n = 0;
    float angle = NAN;
    if (fer_image_crop_resize(&f, (fer_rect){-16, -16, 80, 80}, SHOWN, SHOWN, &big, err) ==
            FER_OK &&
        fer_yunet_detect(y, &big, &p, &found, &n, err) == FER_OK && n > 0)
        angle = atan2f(found[0].landmarks[3] - found[0].landmarks[1],
                       found[0].landmarks[2] - found[0].landmarks[0]);
    fer_free(found);
    fer_image_free(&big);
    return angle;
}

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[best])
            best = c;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_align FER2013.csv[.gz]\n");
        return 2;
    }
    char err[FER_ERR_LEN];
    fer_dataset *ds = NULL;
    struct fer_read_options ro = {0, FER_USAGE_ALL, 0};
    fer_engine *e = NULL;
    fer_yunet *y = NULL;
    if (fer_dataset_read_csv(argv[1], &ro, &ds, NULL, err) != FER_OK ||
        fer_engine_open(NULL, &e, err) != FER_OK || fer_yunet_open_builtin(&y, err) != FER_OK) {
        fprintf(stderr, "bench_align: %s\n", err);
        return 1;
    }
    const size_t n = ds->n;
    uint8_t *aligned = fer_malloc(n * SIDE * SIDE);
    float *angles = fer_malloc(n * sizeof(float));
    float *p0 = fer_malloc(n * FER_MAX_CLASSES * sizeof(float));
    float *p1 = fer_malloc(n * FER_MAX_CLASSES * sizeof(float));
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *face = ds->pixels + i * SIDE * SIDE;
        angles[i] = eye_angle(y, face, err);
        memcpy(aligned + i * SIDE * SIDE, face, SIDE * SIDE);
        if (isnan(angles[i]))
            continue;
        found++;
        fer_image f = {SIDE, SIDE, 1, (uint8_t *)face}, turned = {0};
        if (fer_image_crop_rotated(&f, SIDE / 2.0f, SIDE / 2.0f, SIDE, SIDE, angles[i], SIDE, SIDE,
                                   &turned, err) == FER_OK)
            memcpy(aligned + i * SIDE * SIDE, turned.data, SIDE * SIDE);
        fer_image_free(&turned);
    }
    if (fer_engine_classify_crops(e, ds->pixels, n, p0, err) != FER_OK ||
        fer_engine_classify_crops(e, aligned, n, p1, err) != FER_OK) {
        fprintf(stderr, "bench_align: %s\n", err);
        return 1;
    }
    size_t right0 = 0, right1 = 0, tilted = 0, tilted0 = 0, tilted1 = 0;
    int k = fer_engine_class_count(e);
    for (size_t i = 0; i < n; i++) {
        int ok0 = argmax(p0 + i * FER_MAX_CLASSES, k) == ds->labels[i];
        int ok1 = argmax(p1 + i * FER_MAX_CLASSES, k) == ds->labels[i];
        right0 += (size_t)ok0;
        right1 += (size_t)ok1;
        if (!isnan(angles[i]) && fabsf(angles[i]) > 5.0f * (float)M_PI / 180) {
            tilted++;
            tilted0 += (size_t)ok0;
            tilted1 += (size_t)ok1;
        }
    }
    printf("{\"faces\": %zu, \"eyes_found\": %zu, \"accuracy\": %.4f, \"accuracy_aligned\": %.4f, "
           "\"tilted_over_5_degrees\": %zu, \"tilted_accuracy\": %.4f, "
           "\"tilted_accuracy_aligned\": %.4f}\n",
           n, found, (double)right0 / (double)n, (double)right1 / (double)n, tilted,
           tilted ? (double)tilted0 / (double)tilted : 0.0,
           tilted ? (double)tilted1 / (double)tilted : 0.0);
    fer_free(aligned);
    fer_free(angles);
    fer_free(p0);
    fer_free(p1);
    fer_yunet_free(y);
    fer_engine_close(e);
    fer_dataset_free(ds);
    return 0;
}
