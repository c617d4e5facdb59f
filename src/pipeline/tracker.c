/*
 * tracker.c - faces followed from frame to frame (fer.h, fer_tracker_*).
 *
 * Every detect_every-th frame the detector runs, on a copy reduced to detect_width pixels
 * across, and its faces are matched to the tracks greedily by overlap (IoU, the largest
 * first): a match moves the track to the detection and takes a fresh template of the face;
 * a detection that matches nothing starts a track with a new id. Between detections each
 * track looks for its template (the face reduced to TEMPLATE x TEMPLATE pixels) in a window
 * around where it was, by normalised cross-correlation with a sub-pixel peak, and moves by
 * the best offset when the match is good enough. Tracks the detector has not seen for
 * forget_seconds end. Every track's face is classified on every frame, and its
 * probabilities are smoothed with an exponential moving average of time constant
 * smooth_seconds (frames may come at any rate).
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "fer.h"
#include "image/image.h"
#include "pipeline/engine_parts.h"

#define TEMPLATE   24   /* the template's side in pixels */
#define SEARCH     6    /* the search reaches TEMPLATE / 4 template pixels each way */
#define MIN_NCC    0.5f /* a weaker best match leaves the track where it was */
#define MAX_TRACKS 64   /* more faces than this in one frame: the least sure are not followed */

struct track {
    fer_track pub;
    float templ[TEMPLATE * TEMPLATE]; /* zero mean, unit norm; all zero when flat */
    double last_seen;                 /* when the detector last found it, seconds */
    double last_time;                 /* the time of its last frame */
};

struct fer_tracker {
    fer_engine *engine;
    struct fer_tracker_options o;
    int width, height; /* of the first frame */
    long frame;        /* frames fed so far */
    int next_id;
    struct track *tracks;
    size_t n;
};

size_t fer_tracker_options_size(void)
{
    return sizeof(struct fer_tracker_options);
}

void fer_tracker_options_default(struct fer_tracker_options *o)
{
    o->detect_every = 2;
    o->detect_width = 640;
    o->smooth_seconds = 0.5;
    o->forget_seconds = 0.5;
    o->match_iou = 0.3f;
}

enum fer_status fer_tracker_new(fer_engine *engine, const struct fer_tracker_options *opt,
                                fer_tracker **out, char *err)
{
    *out = NULL;
    struct fer_tracker_options o;
    fer_tracker_options_default(&o);
    if (opt)
        o = *opt;
    if (!engine)
        return fer_errorf(err, FER_ERR_ARG, "a tracker needs an engine");
    if (o.detect_every < 1 || o.detect_width < 0 || !(o.smooth_seconds >= 0) ||
        !(o.forget_seconds >= 0) || !(o.match_iou > 0 && o.match_iou <= 1))
        return fer_errorf(err, FER_ERR_ARG,
                          "tracker options: detect_every must be at least 1 (not %d), "
                          "detect_width 0 or more (not %d), smooth_seconds and forget_seconds "
                          "0 or more, match_iou in (0, 1]",
                          o.detect_every, o.detect_width);
    fer_tracker *t = fer_calloc(1, sizeof(*t));
    t->tracks = fer_calloc(MAX_TRACKS, sizeof(struct track));
    if (!t || !t->tracks) {
        fer_tracker_free(t);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for a tracker");
    }
    t->engine = engine;
    t->o = o;
    t->next_id = 1;
    *out = t;
    return FER_OK;
}

void fer_tracker_free(fer_tracker *t)
{
    if (!t)
        return;
    fer_free(t->tracks);
    fer_free(t);
}

void fer_tracks_free(fer_tracks *tracks)
{
    fer_free(tracks->tracks);
    memset(tracks, 0, sizeof(*tracks));
}

/* ---- looks: templates and their search ---------------------------------------------------- */

/* Normalises n values to zero mean and unit norm (all zero when they are flat). */
static void normalise(float *v, int n)
{
    double mean = 0, norm = 0;
    for (int i = 0; i < n; i++)
        mean += (double)v[i];
    mean /= n;
    for (int i = 0; i < n; i++) {
        v[i] -= (float)mean;
        norm += (double)v[i] * (double)v[i];
    }
    float scale = norm > 1e-6 ? (float)(1.0 / sqrt(norm)) : 0.0f;
    for (int i = 0; i < n; i++)
        v[i] *= scale;
}

/* The template of the face at box in gray. */
static enum fer_status take_template(struct track *tr, const fer_image *gray, char *err)
{
    fer_image small = {0};
    enum fer_status st =
        fer_image_crop_resize(gray, tr->pub.face.box, TEMPLATE, TEMPLATE, &small, err);
    if (st != FER_OK)
        return st;
    for (int i = 0; i < TEMPLATE * TEMPLATE; i++)
        tr->templ[i] = small.data[i];
    normalise(tr->templ, TEMPLATE * TEMPLATE);
    fer_image_free(&small);
    return FER_OK;
}

/* The correlation of the template with the TEMPLATE-square window of win (side `side`) at
 * (ox, oy). */
static float correlation(const float *templ, const float *win, int side, int ox, int oy)
{
    float patch[TEMPLATE * TEMPLATE];
    for (int y = 0; y < TEMPLATE; y++)
        memcpy(patch + y * TEMPLATE, win + (size_t)(oy + y) * (size_t)side + (size_t)ox,
               sizeof(float) * TEMPLATE);
    normalise(patch, TEMPLATE * TEMPLATE);
    float dot = 0;
    for (int i = 0; i < TEMPLATE * TEMPLATE; i++)
        dot += templ[i] * patch[i];
    return dot;
}

/* The offset of a parabola's peak through (-1, a), (0, b), (1, c), in (-0.5, 0.5). */
static float subpixel(float a, float b, float c)
{
    float d = a - 2 * b + c;
    if (d >= -1e-6f)
        return 0;
    float off = 0.5f * (a - c) / d;
    return off < -0.5f ? -0.5f : off > 0.5f ? 0.5f : off;
}

/* Moves the track to where its template matches best near its box, if it matches well. */
static enum fer_status follow(struct track *tr, const fer_image *gray, char *err)
{
    enum { SIDE = TEMPLATE + 2 * SEARCH, OFFSETS = 2 * SEARCH + 1 };
    fer_rect b = tr->pub.face.box;
    float px = (float)b.w / TEMPLATE, py = (float)b.h / TEMPLATE; /* frame pixels per cell */
    int mx = (int)lroundf(px * SEARCH), my = (int)lroundf(py * SEARCH);
    fer_rect r = {b.x - mx, b.y - my, b.w + 2 * mx, b.h + 2 * my};
    fer_image region = {0};
    enum fer_status st = fer_image_crop_resize(gray, r, SIDE, SIDE, &region, err);
    if (st != FER_OK)
        return st;
    float win[SIDE * SIDE], score[OFFSETS * OFFSETS];
    for (int i = 0; i < SIDE * SIDE; i++)
        win[i] = region.data[i];
    fer_image_free(&region);
    int best = SEARCH * OFFSETS + SEARCH;
    for (int oy = 0; oy < OFFSETS; oy++)
        for (int ox = 0; ox < OFFSETS; ox++) {
            score[oy * OFFSETS + ox] = correlation(tr->templ, win, SIDE, ox, oy);
            if (score[oy * OFFSETS + ox] > score[best] + 1e-6f)
                best = oy * OFFSETS + ox;
        }
    if (score[best] < MIN_NCC)
        return FER_OK;
    int bx = best % OFFSETS, by = best / OFFSETS;
    float fx = (float)bx, fy = (float)by;
    if (bx > 0 && bx < OFFSETS - 1)
        fx += subpixel(score[best - 1], score[best], score[best + 1]);
    if (by > 0 && by < OFFSETS - 1)
        fy += subpixel(score[best - OFFSETS], score[best], score[best + OFFSETS]);
    /* the window's cells are (b.w + 2 mx) / SIDE frame pixels wide */
    float dx = (fx - SEARCH) * (float)r.w / SIDE, dy = (fy - SEARCH) * (float)r.h / SIDE;
    tr->pub.face.box.x = b.x + (int)lroundf(dx);
    tr->pub.face.box.y = b.y + (int)lroundf(dy);
    for (int k = 0; k < 5; k++) {
        tr->pub.face.landmarks[2 * k] += (float)(tr->pub.face.box.x - b.x);
        tr->pub.face.landmarks[2 * k + 1] += (float)(tr->pub.face.box.y - b.y);
    }
    return FER_OK;
}

/* ---- detection and matching --------------------------------------------------------------- */

static float iou(fer_rect a, fer_rect b)
{
    int w = (a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w) - (a.x > b.x ? a.x : b.x);
    int h = (a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h) - (a.y > b.y ? a.y : b.y);
    if (w <= 0 || h <= 0)
        return 0;
    float inter = (float)w * (float)h;
    return inter / ((float)a.w * (float)a.h + (float)b.w * (float)b.h - inter);
}

/* The detector's faces in frame, found on a copy no wider than detect_width. */
static enum fer_status detect(fer_tracker *t, const fer_image *frame, const fer_image *gray,
                              struct fer_found **found, size_t *n, char *err)
{
    if (!t->o.detect_width || frame->width <= t->o.detect_width)
        return fer_engine_find_faces(t->engine, frame, gray, found, n, err);
    double s = (double)frame->width / t->o.detect_width;
    int h = (int)lround(frame->height / s);
    fer_image small = {0}, small_gray = {0};
    const fer_image *sg;
    fer_rect all = {0, 0, frame->width, frame->height};
    enum fer_status st =
        fer_image_crop_resize(frame, all, t->o.detect_width, h > 0 ? h : 1, &small, err);
    if (st == FER_OK)
        st = fer_engine_gray_of(&small, &small_gray, &sg, err);
    if (st == FER_OK)
        st = fer_engine_find_faces(t->engine, &small, sg, found, n, err);
    for (size_t i = 0; st == FER_OK && i < *n; i++) {
        struct fer_found *f = &(*found)[i];
        int x1 = (int)lround((f->box.x + f->box.w) * s),
            y1 = (int)lround((f->box.y + f->box.h) * s);
        f->box.x = (int)lround(f->box.x * s);
        f->box.y = (int)lround(f->box.y * s);
        f->box.w = (x1 < frame->width ? x1 : frame->width) - f->box.x;
        f->box.h = (y1 < frame->height ? y1 : frame->height) - f->box.y;
        for (int k = 0; k < 10; k++)
            f->landmarks[k] = (float)((double)f->landmarks[k] * s);
    }
    fer_image_free(&small);
    fer_image_free(&small_gray);
    return st;
}

/* Starts a track at time now (take_detection places it). */
static void start_track(fer_tracker *t, double now)
{
    struct track *tr = &t->tracks[t->n++];
    memset(tr, 0, sizeof(*tr));
    tr->pub.id = t->next_id++;
    tr->pub.first_seen = now;
    tr->last_seen = now;
    tr->last_time = now;
    tr->pub.face.emotion = -1; /* no probabilities yet: the first frame's are taken as they are */
}

/* Moves track tr onto detection f. */
static void take_detection(struct track *tr, const struct fer_found *f, double now)
{
    tr->pub.face.box = f->box;
    tr->pub.face.score = f->score;
    tr->pub.face.has_landmarks = f->has_landmarks;
    memcpy(tr->pub.face.landmarks, f->landmarks, sizeof(f->landmarks));
    tr->pub.detected = 1;
    tr->last_seen = now;
}

/* Matches the detections to the tracks, largest overlap first; starts tracks for the rest. */
static enum fer_status match(fer_tracker *t, const struct fer_found *found, size_t n,
                             const fer_image *gray, double now, char *err)
{
    size_t old = t->n;
    char *used = fer_calloc(n ? n : 1, 1), *taken = fer_calloc(old ? old : 1, 1);
    if (!used || !taken) {
        fer_free(used);
        fer_free(taken);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory matching %zu faces", n);
    }
    for (;;) {
        float best = t->o.match_iou;
        size_t bi = 0, bj = 0;
        int any = 0;
        for (size_t i = 0; i < old; i++)
            for (size_t j = 0; !taken[i] && j < n; j++)
                if (!used[j] && iou(t->tracks[i].pub.face.box, found[j].box) >= best) {
                    best = iou(t->tracks[i].pub.face.box, found[j].box);
                    bi = i, bj = j, any = 1;
                }
        if (!any)
            break;
        taken[bi] = used[bj] = 1;
        take_detection(&t->tracks[bi], &found[bj], now);
    }
    for (size_t j = 0; j < n && t->n < MAX_TRACKS; j++)
        if (!used[j]) {
            start_track(t, now);
            take_detection(&t->tracks[t->n - 1], &found[j], now);
        }
    enum fer_status st = FER_OK;
    for (size_t i = 0; i < t->n && st == FER_OK; i++)
        if (t->tracks[i].pub.detected)
            st = take_template(&t->tracks[i], gray, err);
    fer_free(used);
    fer_free(taken);
    return st;
}

/* Drops the tracks the detector has not seen for longer than forget_seconds. */
static void forget(fer_tracker *t, double now)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++)
        if (now - t->tracks[i].last_seen <= t->o.forget_seconds)
            t->tracks[kept++] = t->tracks[i];
    t->n = kept;
}

/* ---- classification and smoothing --------------------------------------------------------- */

static enum fer_status classify(fer_tracker *t, const fer_image *gray, double now, char *err)
{
    if (t->n == 0)
        return FER_OK;
    struct fer_found *where = fer_calloc(t->n, sizeof(*where));
    fer_face *faces = fer_calloc(t->n, sizeof(*faces));
    enum fer_status st = FER_OK;
    if (!where || !faces)
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory classifying %zu faces", t->n);
    for (size_t i = 0; st == FER_OK && i < t->n; i++) {
        const fer_face *f = &t->tracks[i].pub.face;
        where[i] = (struct fer_found){f->box, f->score, f->has_landmarks, {0}};
        memcpy(where[i].landmarks, f->landmarks, sizeof(f->landmarks));
    }
    if (st == FER_OK)
        st = fer_engine_classify_found(t->engine, gray, where, t->n, faces, err);
    int k = fer_engine_class_count(t->engine);
    for (size_t i = 0; st == FER_OK && i < t->n; i++) {
        struct track *tr = &t->tracks[i];
        fer_face *f = &tr->pub.face;
        memcpy(f->crop, faces[i].crop, sizeof(f->crop));
        memcpy(tr->pub.raw_probabilities, faces[i].probabilities, sizeof(f->probabilities));
        double dt = now - tr->last_time;
        float a = f->emotion < 0 || t->o.smooth_seconds <= 0
                      ? 1.0f
                      : (float)(1.0 - exp(-(dt > 0 ? dt : 0) / t->o.smooth_seconds));
        for (int c = 0; c < k; c++)
            f->probabilities[c] += a * (faces[i].probabilities[c] - f->probabilities[c]);
        f->emotion = fer_engine_top_class(t->engine, f->probabilities);
        tr->last_time = now;
        tr->pub.frames++;
    }
    fer_free(where);
    fer_free(faces);
    return st;
}

/* ---- one frame ---------------------------------------------------------------------------- */

static enum fer_status step(fer_tracker *t, const fer_image *frame, const fer_image *gray,
                            double now, fer_tracks *out, char *err)
{
    enum fer_status st = FER_OK;
    for (size_t i = 0; i < t->n; i++)
        t->tracks[i].pub.detected = 0;
    double t0 = fer_now();
    out->detected = t->frame % t->o.detect_every == 0;
    if (out->detected) {
        struct fer_found *found = NULL;
        size_t n = 0;
        st = detect(t, frame, gray, &found, &n, err);
        out->detect_ms = (fer_now() - t0) * 1e3;
        if (st == FER_OK)
            st = match(t, found, n, gray, now, err);
        fer_free(found);
    } else {
        for (size_t i = 0; i < t->n && st == FER_OK; i++)
            st = follow(&t->tracks[i], gray, err);
        out->track_ms = (fer_now() - t0) * 1e3;
    }
    forget(t, now);
    double t1 = fer_now();
    if (st == FER_OK)
        st = classify(t, gray, now, err);
    out->classify_ms = (fer_now() - t1) * 1e3;
    return st;
}

enum fer_status fer_tracker_feed(fer_tracker *t, const fer_image *frame, double time_s,
                                 fer_tracks *out, char *err)
{
    memset(out, 0, sizeof(*out));
    if (t->frame == 0) {
        t->width = frame->width;
        t->height = frame->height;
    } else if (frame->width != t->width || frame->height != t->height) {
        return fer_errorf(err, FER_ERR_ARG,
                          "frame %ld is %dx%d, but the tracker's frames are %dx%d: a tracker "
                          "follows one video",
                          t->frame, frame->width, frame->height, t->width, t->height);
    }
    fer_image gray = {0};
    const fer_image *g;
    enum fer_status st = fer_engine_gray_of(frame, &gray, &g, err);
    if (st == FER_OK)
        st = step(t, frame, g, time_s, out, err);
    fer_image_free(&gray);
    t->frame++;
    if (st != FER_OK)
        return st;
    if (t->n) {
        out->tracks = fer_calloc(t->n, sizeof(fer_track));
        if (!out->tracks)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu tracks", t->n);
        for (size_t i = 0; i < t->n; i++)
            out->tracks[i] = t->tracks[i].pub;
        out->n = t->n;
    }
    return FER_OK;
}
