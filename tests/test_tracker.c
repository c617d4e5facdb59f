/*
 * test_tracker.c - the face tracker of include/fer.h on frames made here: a portrait
 * (tests/data/photos/grace_hopper.jpg) pasted on a gray background and moved from frame to
 * frame. Stable ids, following between detections, smoothing in time, tracks that end and
 * new ids when a face comes back, the options' checks and frames of the wrong size.
 */
#include "check.h"
#include "fer.h"
#include "image/image.h"

static fer_engine *engine;
static fer_image portrait; /* the photo, reduced to 200 wide */

/* A 480x360 RGB frame of gray with the portrait at (x, y) (show = 0: no portrait). */
static fer_image frame_at(int x, int y, int show)
{
    fer_image f = {0};
    char err[FER_ERR_LEN];
    if (fer_image_new(480, 360, 3, &f, err) != FER_OK)
        return f;
    memset(f.data, 110, (size_t)480 * 360 * 3);
    for (int r = 0; show && r < portrait.height; r++)
        for (int c = 0; c < portrait.width; c++) {
            int fx = x + c, fy = y + r;
            if (fx >= 0 && fx < 480 && fy >= 0 && fy < 360)
                memcpy(f.data + ((size_t)fy * 480 + (size_t)fx) * 3,
                       portrait.data + ((size_t)r * (size_t)portrait.width + (size_t)c) * 3, 3);
        }
    return f;
}

/* Feeds frame i (of a portrait moving 4 pixels right per frame) at 25 frames a second. */
static enum fer_status feed(fer_tracker *t, int i, int show, fer_tracks *out, char *err)
{
    fer_image f = frame_at(40 + 4 * i, 20, show);
    enum fer_status st = fer_tracker_feed(t, &f, i / 25.0, out, err);
    fer_image_free(&f);
    return st;
}

TEST(setup)
{
    char err[FER_ERR_LEN];
    CHECK(fer_engine_open(NULL, &engine, err) == FER_OK);
    fer_image photo = {0};
    CHECK(fer_image_load("tests/data/photos/grace_hopper.jpg", 0, 0, &photo, err) == FER_OK);
    fer_rect all = {0, 0, photo.width, photo.height};
    CHECK(fer_image_crop_resize(&photo, all, 200, photo.height * 200 / photo.width, &portrait,
                                err) == FER_OK);
    fer_image_free(&photo);
}

TEST(one_face_keeps_its_id_and_is_followed_between_detections)
{
    if (!engine || !portrait.data)
        return;
    char err[FER_ERR_LEN];
    struct fer_tracker_options o;
    fer_tracker_options_default(&o);
    o.detect_every = 5;
    fer_tracker *t;
    CHECK(fer_tracker_new(engine, &o, &t, err) == FER_OK);
    int first_x = 0, id = 0, detected = 0;
    for (int i = 0; i < 20; i++) {
        fer_tracks tr;
        CHECK(feed(t, i, 1, &tr, err) == FER_OK);
        CHECK(tr.n == 1);
        CHECK(tr.detected == (i % 5 == 0));
        if (tr.n == 1) {
            const fer_track *k = &tr.tracks[0];
            if (i == 0) {
                first_x = k->face.box.x;
                id = k->id;
            }
            CHECK(k->id == id);
            CHECK(k->frames == i + 1);
            detected += k->detected;
            /* the portrait moved 4 px a frame: so does the box, detected or followed */
            CHECK_NEAR(k->face.box.x - first_x, 4 * i, 4);
            float sum = 0;
            for (int c = 0; c < fer_engine_class_count(engine); c++)
                sum += k->face.probabilities[c];
            CHECK_NEAR(sum, 1, 1e-4);
        }
        fer_tracks_free(&tr);
    }
    CHECK(id == 1);
    CHECK(detected == 4);
    fer_tracker_free(t);
}

TEST(smoothing_follows_the_time_constant)
{
    if (!engine || !portrait.data)
        return;
    char err[FER_ERR_LEN];
    struct fer_tracker_options o;
    fer_tracker_options_default(&o);
    o.smooth_seconds = 0;
    fer_tracker *raw, *smooth;
    CHECK(fer_tracker_new(engine, &o, &raw, err) == FER_OK);
    o.smooth_seconds = 10; /* so slow that the first frame's probabilities barely move */
    CHECK(fer_tracker_new(engine, &o, &smooth, err) == FER_OK);
    float first[FER_MAX_CLASSES] = {0};
    double worst_raw = 0, worst_smooth = 0;
    for (int i = 0; i < 10; i++) {
        fer_tracks a, b;
        CHECK(feed(raw, i, 1, &a, err) == FER_OK);
        CHECK(feed(smooth, i, 1, &b, err) == FER_OK);
        if (a.n == 1 && b.n == 1) {
            for (int c = 0; c < fer_engine_class_count(engine); c++) {
                /* without smoothing, the probabilities are this frame's */
                CHECK_NEAR(a.tracks[0].face.probabilities[c], a.tracks[0].raw_probabilities[c],
                           1e-6);
                if (i == 0)
                    first[c] = b.tracks[0].face.probabilities[c];
                double d_raw = fabs((double)a.tracks[0].raw_probabilities[c] - (double)first[c]);
                double d_smooth =
                    fabs((double)b.tracks[0].face.probabilities[c] - (double)first[c]);
                worst_raw = d_raw > worst_raw ? d_raw : worst_raw;
                worst_smooth = d_smooth > worst_smooth ? d_smooth : worst_smooth;
            }
        }
        fer_tracks_free(&a);
        fer_tracks_free(&b);
    }
    /* 0.36 s at a 10 s time constant moves a probability by at most 3.5% of the change */
    CHECK(worst_smooth <= 0.036 * worst_raw + 1e-6);
    fer_tracker_free(raw);
    fer_tracker_free(smooth);
}

TEST(a_face_that_leaves_ends_its_track_and_comes_back_new)
{
    if (!engine || !portrait.data)
        return;
    char err[FER_ERR_LEN];
    fer_tracker *t;
    CHECK(fer_tracker_new(engine, NULL, &t, err) == FER_OK); /* forget after 0.5 s */
    size_t seen[40];
    int ids[40];
    for (int i = 0; i < 40; i++) {
        fer_tracks tr;
        int show = i < 10 || i >= 30; /* gone for 0.8 s */
        CHECK(feed(t, i, show, &tr, err) == FER_OK);
        seen[i] = tr.n;
        ids[i] = tr.n ? tr.tracks[0].id : 0;
        fer_tracks_free(&tr);
    }
    CHECK(seen[5] == 1 && ids[5] == 1);
    CHECK(seen[28] == 0);                 /* ended within 0.5 s and a detection */
    CHECK(seen[35] == 1 && ids[35] == 2); /* back, with a new id */
    fer_tracker_free(t);
}

TEST(bad_options_and_frames_are_refused)
{
    if (!engine)
        return;
    char err[FER_ERR_LEN];
    struct fer_tracker_options o;
    fer_tracker_options_default(&o);
    o.detect_every = 0;
    fer_tracker *t = NULL;
    CHECK(fer_tracker_new(engine, &o, &t, err) == FER_ERR_ARG && t == NULL);
    CHECK(strstr(err, "detect_every") != NULL);
    fer_tracker_options_default(&o);
    o.match_iou = 1.5f;
    CHECK(fer_tracker_new(engine, &o, &t, err) == FER_ERR_ARG);
    CHECK(fer_tracker_new(NULL, NULL, &t, err) == FER_ERR_ARG);
    CHECK(fer_tracker_new(engine, NULL, &t, err) == FER_OK);
    fer_image a = {0}, b = {0};
    CHECK(fer_image_new(64, 48, 3, &a, err) == FER_OK &&
          fer_image_new(80, 48, 3, &b, err) == FER_OK);
    fer_tracks tr;
    CHECK(fer_tracker_feed(t, &a, 0, &tr, err) == FER_OK && tr.n == 0);
    CHECK(fer_tracker_feed(t, &b, 0.04, &tr, err) == FER_ERR_ARG);
    CHECK(strstr(err, "80x48") != NULL);
    fer_tracks_free(&tr);
    fer_image_free(&a);
    fer_image_free(&b);
    fer_tracker_free(t);
    fer_tracker_free(NULL);
}

TEST(teardown)
{
    fer_engine_close(engine);
    fer_image_free(&portrait);
}

int main(void)
{
    RUN(setup);
    RUN(one_face_keeps_its_id_and_is_followed_between_detections);
    RUN(smoothing_follows_the_time_constant);
    RUN(a_face_that_leaves_ends_its_track_and_comes_back_new);
    RUN(bad_options_and_frames_are_refused);
    RUN(teardown);
    return check_report();
}
