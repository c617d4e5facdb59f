/*
 * engine.c - the photo pipeline behind include/fer.h: detect faces, crop
 * each with the model's margin, resize to 48x48 with area averaging,
 * normalise exactly as in training (the same view code as evaluation), and
 * classify all faces of an image in one batch.
 *
 * Thread safety: the cascade is read-only; networks hold activations, so the
 * engine keeps a small free list of networks built from the same model bytes
 * and lends one to each call.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/classes.h"
#include "core/file.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "detect/finder.h"
#include "fer.h"
#include "image/image.h"
#include "image/view.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "pipeline/builtin_model.h"
#include "pipeline/engine_parts.h"

#define MAX_NETS 32
/* faces per forward pass: bigger batches cost start-up memory for little gain */
#define FACES_PER_NET 8

struct fer_engine {
    uint8_t *model_bytes; /* owned copy when loaded from a file; else the built-in bytes */
    const uint8_t *model;
    size_t model_len;
    char model_name[64];
    char model_version[80];
    char model_source[256];
    struct fer_meta meta;
    int n_classes;     /* the classes the engine answers in */
    int model_classes; /* the network's outputs (7 when merging disgust into angry) */
    int merge_disgust;
    char names[FER_MAX_CLASSES][16];
    float mean, std, margin;
    int tta, align;
    fer_finder *finder;
    pthread_mutex_t mu;
    fer_net *free_nets[MAX_NETS];
    int n_free;
};

size_t fer_engine_options_size(void)
{
    return sizeof(struct fer_engine_options);
}

void fer_engine_options_default(struct fer_engine_options *o)
{
    memset(o, 0, sizeof(*o));
    o->scale_factor = 1.1;
    o->min_neighbors = 5;
    o->min_face = 30;
    o->detector = FER_DETECTOR_YUNET;
    o->score_threshold = FER_DEFAULT_SCORE_THRESHOLD;
    o->nms_threshold = FER_DEFAULT_NMS_THRESHOLD;
    o->margin = -1; /* the model's own */
    o->tta = 1;
    o->detect_max_pixels = FER_DETECT_MAX_PIXELS;
}

/* A network to run, from the free list or freshly built from the model bytes. */
static enum fer_status take_net(fer_engine *e, fer_net **net, char *err)
{
    pthread_mutex_lock(&e->mu);
    *net = e->n_free ? e->free_nets[--e->n_free] : NULL;
    pthread_mutex_unlock(&e->mu);
    if (*net)
        return FER_OK;
    struct fer_meta meta = {0};
    enum fer_status st = fer_model_load_memory(e->model, e->model_len, e->model_source,
                                               FACES_PER_NET * 2, net, &meta, NULL, err);
    fer_meta_clear(&meta);
    return st;
}

static void give_net(fer_engine *e, fer_net *net)
{
    pthread_mutex_lock(&e->mu);
    if (e->n_free < MAX_NETS) {
        e->free_nets[e->n_free++] = net;
        net = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    fer_net_free(net);
}

enum fer_status fer_engine_open(const struct fer_engine_options *opt, fer_engine **out, char *err)
{
    *out = NULL;
    struct fer_engine_options defaults;
    if (!opt) {
        fer_engine_options_default(&defaults);
        opt = &defaults;
    }
    if (opt->scale_factor <= 1.0 || opt->scale_factor > 4.0 || opt->min_neighbors < 0 ||
        opt->min_face < 0 || opt->max_face < 0 || !(opt->score_threshold >= 0) ||
        !(opt->score_threshold <= 1) || !(opt->nms_threshold >= 0) || !(opt->nms_threshold <= 1))
        return fer_errorf(err, FER_ERR_ARG,
                          "detection parameters out of range (scale factor in (1, 4], "
                          "neighbours and sizes >= 0, thresholds in [0, 1])");
    fer_engine *e = fer_calloc(1, sizeof(*e));
    if (!e)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening the engine");
    pthread_mutex_init(&e->mu, NULL);
    enum fer_status st;
    struct fer_builtin_model builtin;
    if (fer_builtin_model_find(opt->model_path, &builtin)) {
        e->model = builtin.bytes;
        e->model_len = builtin.len;
        snprintf(e->model_source, sizeof(e->model_source), "the built-in %s model", builtin.name);
    } else {
        if ((st = fer_file_read(opt->model_path, "model", (size_t)1 << 31, &e->model_bytes,
                                &e->model_len, err)) != FER_OK)
            goto fail;
        e->model = e->model_bytes;
        snprintf(e->model_source, sizeof(e->model_source), "%s", opt->model_path);
    }
    fer_net *net = NULL;
    st = fer_model_load_memory(e->model, e->model_len, e->model_source, FACES_PER_NET * 2, &net,
                               &e->meta, NULL, err);
    if (st != FER_OK)
        goto fail;
    give_net(e, net);
    e->n_classes = e->model_classes = fer_meta_classes(&e->meta, e->names, FER_MAX_CLASSES);
    if (e->model_classes != fer_net_classes(net)) {
        st = fer_errorf(err, FER_ERR_CORRUPT, "%s names %d classes but has %d outputs",
                        e->model_source, e->model_classes, fer_net_classes(net));
        goto fail;
    }
    if (opt->merge_disgust) {
        const char *const *seven = fer_class_names(7), *const *six = fer_class_names(6);
        int fer2013 = e->model_classes == 7;
        for (int c = 0; c < 7 && fer2013; c++)
            fer2013 = strcmp(e->names[c], seven[c]) == 0;
        if (!fer2013) {
            st = fer_errorf(err, FER_ERR_ARG,
                            "merging disgust into angry needs a model of the 7 FER2013 classes; "
                            "%s is not one",
                            e->model_source);
            goto fail;
        }
        e->merge_disgust = 1;
        e->n_classes = 6;
        for (int c = 0; c < 6; c++)
            snprintf(e->names[c], sizeof(e->names[c]), "%s", six[c]);
    }
    fer_meta_norm(&e->meta, &e->mean, &e->std);
    const char *mg = fer_meta_get(&e->meta, "crop_margin");
    e->margin = opt->margin >= 0 ? opt->margin : mg ? (float)atof(mg) : 0.0f;
    e->tta = opt->tta;
    e->align = opt->align;
    const char *name = fer_meta_get(&e->meta, "name");
    snprintf(e->model_name, sizeof(e->model_name), "%s", name ? name : "unnamed");
    uint8_t digest[32];
    fer_sha256 sha;
    fer_sha256_init(&sha);
    fer_sha256_update(&sha, e->model, e->model_len);
    fer_sha256_final(&sha, digest);
    char hex[65];
    fer_sha256_hex(digest, hex);
    const char *created = fer_meta_get(&e->meta, "created");
    snprintf(e->model_version, sizeof(e->model_version), "%.12s%s%s", hex, created ? " " : "",
             created ? created : "");
    if ((st = fer_finder_open(opt, &e->finder, err)) != FER_OK)
        goto fail;
    *out = e;
    return FER_OK;
fail:
    fer_engine_close(e);
    return st;
}

void fer_engine_close(fer_engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_free; i++)
        fer_net_free(e->free_nets[i]);
    fer_finder_free(e->finder);
    fer_meta_clear(&e->meta);
    fer_free(e->model_bytes);
    pthread_mutex_destroy(&e->mu);
    fer_free(e);
}

const char *fer_engine_detector(const fer_engine *e)
{
    return fer_detector_name(fer_finder_detector(e->finder));
}

int fer_engine_class_count(const fer_engine *e)
{
    return e->n_classes;
}

const char *fer_engine_class_name(const fer_engine *e, int i)
{
    return i >= 0 && i < e->n_classes ? e->names[i] : "?";
}

const char *fer_engine_model_name(const fer_engine *e)
{
    return e->model_name;
}

const char *fer_engine_model_version(const fer_engine *e)
{
    return e->model_version;
}

const char *fer_engine_model_info(const fer_engine *e, const char *key)
{
    return fer_meta_get(&e->meta, key);
}

enum fer_status fer_engine_classify_crops(fer_engine *e, const uint8_t *crops, size_t n,
                                          float *probs, char *err)
{
    if (n == 0)
        return FER_OK;
    fer_net *net;
    enum fer_status st = take_net(e, &net, err);
    if (st != FER_OK)
        return st;
    const int side = fer_net_input_side(net), k = e->model_classes, views = e->tta ? 2 : 1;
    const size_t in = (size_t)side * (size_t)side;
    for (size_t first = 0; first < n; first += FACES_PER_NET) {
        size_t count = n - first < FACES_PER_NET ? n - first : FACES_PER_NET;
        float *input = fer_net_input(net);
        for (size_t i = 0; i < count; i++)
            for (int v = 0; v < views; v++)
                fer_face_view(crops + (first + i) * FER_FACE_PIXELS, FER_FACE_SIDE,
                              input + (i * (size_t)views + (size_t)v) * in, side, 0, 0, v, e->mean,
                              e->std);
        fer_net_forward(net, (int)(count * (size_t)views), 0);
        const float *p = fer_net_output(net);
        for (size_t i = 0; i < count; i++) {
            float mean[FER_MAX_CLASSES];
            for (int c = 0; c < k; c++) {
                float sum = 0;
                for (int v = 0; v < views; v++)
                    sum += p[(i * (size_t)views + (size_t)v) * (size_t)k + (size_t)c];
                mean[c] = sum / (float)views;
            }
            fer_temper(mean, k, fer_net_temperature(net));
            float *out = probs + (first + i) * FER_MAX_CLASSES;
            memset(out, 0, sizeof(float) * FER_MAX_CLASSES);
            for (int c = 0; c < k; c++) {
                if (!isfinite(mean[c])) {
                    give_net(e, net);
                    return fer_errorf(err, FER_ERR_CORRUPT,
                                      "the model gave a probability that is not a finite number "
                                      "for face %zu",
                                      first + i);
                }
                out[e->merge_disgust ? fer_class_merged(c) : c] += mean[c];
            }
        }
    }
    give_net(e, net);
    return FER_OK;
}

/* The face box grown by the margin on every side (may extend past the image). */
static fer_rect with_margin(fer_rect r, float margin)
{
    int dx = (int)((float)r.w * margin + 0.5f), dy = (int)((float)r.h * margin + 0.5f);
    return (fer_rect){r.x - dx, r.y - dy, r.w + 2 * dx, r.h + 2 * dy};
}

/* The 48x48 face the model reads: the box with the margin, turned upright by the eyes when
 * aligning and the detector marked them. */
static enum fer_status crop_face(const fer_engine *e, const fer_image *g, const struct fer_found *f,
                                 fer_image *crop, char *err)
{
    fer_rect m = with_margin(f->box, e->margin);
    if (!e->align || !f->has_landmarks)
        return fer_image_crop_resize(g, m, FER_FACE_SIDE, FER_FACE_SIDE, crop, err);
    /* landmarks 0 and 1: the right eye (on the image's left), 2 and 3: the left eye */
    float angle = atan2f(f->landmarks[3] - f->landmarks[1], f->landmarks[2] - f->landmarks[0]);
    return fer_image_crop_rotated(g, (float)m.x + (float)m.w / 2, (float)m.y + (float)m.h / 2, m.w,
                                  m.h, angle, FER_FACE_SIDE, FER_FACE_SIDE, crop, err);
}

enum fer_status fer_engine_find_faces(fer_engine *e, const fer_image *img, const fer_image *gray,
                                      struct fer_found **found, size_t *n, char *err)
{
    /* YuNet reads colour; the cascades read the gray image, not one of their own */
    const fer_image *seen = fer_finder_detector(e->finder) == FER_DETECTOR_YUNET ? img : gray;
    return fer_finder_find(e->finder, seen, NULL, found, n, err);
}

enum fer_status fer_engine_classify_found(fer_engine *e, const fer_image *gray,
                                          const struct fer_found *found, size_t n, fer_face *out,
                                          char *err)
{
    if (n == 0)
        return FER_OK;
    uint8_t *crops = fer_malloc(n * FER_FACE_PIXELS);
    float *probs = fer_calloc(n * FER_MAX_CLASSES, sizeof(float));
    enum fer_status st = FER_OK;
    if (!crops || !probs)
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu faces", n);
    for (size_t i = 0; i < n && st == FER_OK; i++) {
        fer_image crop = {0};
        st = crop_face(e, gray, &found[i], &crop, err);
        if (st == FER_OK)
            memcpy(crops + i * FER_FACE_PIXELS, crop.data, FER_FACE_PIXELS);
        fer_image_free(&crop);
    }
    if (st == FER_OK)
        st = fer_engine_classify_crops(e, crops, n, probs, err);
    for (size_t i = 0; st == FER_OK && i < n; i++) {
        fer_face *f = &out[i];
        f->box = found[i].box;
        f->score = found[i].score;
        f->has_landmarks = found[i].has_landmarks;
        memcpy(f->landmarks, found[i].landmarks, sizeof(f->landmarks));
        memcpy(f->crop, crops + i * FER_FACE_PIXELS, FER_FACE_PIXELS);
        memcpy(f->probabilities, probs + i * FER_MAX_CLASSES, sizeof(float) * FER_MAX_CLASSES);
        f->emotion = fer_engine_top_class(e, f->probabilities);
    }
    fer_free(crops);
    fer_free(probs);
    return st;
}

int fer_engine_top_class(const fer_engine *e, const float *probabilities)
{
    int best = 0;
    for (int c = 1; c < e->n_classes; c++)
        if (probabilities[c] > probabilities[best])
            best = c;
    return best;
}

/* The gray copy of an RGB image into *gray (left empty for a gray one); *g the gray to read. */
enum fer_status fer_engine_gray_of(const fer_image *img, fer_image *gray, const fer_image **g,
                                   char *err)
{
    *g = img;
    if (img->channels == 3) {
        *g = gray;
        return fer_image_to_gray(img, gray, err);
    }
    if (img->channels != 1)
        return fer_errorf(err, FER_ERR_ARG, "images must be gray or RGB, not %d channels",
                          img->channels);
    return FER_OK;
}

enum fer_status fer_engine_analyze(fer_engine *e, const fer_image *img, fer_analysis *out,
                                   char *err)
{
    memset(out, 0, sizeof(*out));
    fer_image gray = {0};
    const fer_image *g;
    enum fer_status st = fer_engine_gray_of(img, &gray, &g, err);
    if (st != FER_OK)
        return st;
    double t0 = fer_now();
    struct fer_found *found = NULL;
    size_t n = 0;
    st = fer_engine_find_faces(e, img, g, &found, &n, err);
    double t1 = fer_now();
    out->detect_ms = (t1 - t0) * 1e3;
    if (st == FER_OK && n > 0) {
        out->faces = fer_calloc(n, sizeof(fer_face));
        st = out->faces ? fer_engine_classify_found(e, g, found, n, out->faces, err)
                        : fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu faces", n);
    }
    out->n_faces = st == FER_OK ? n : 0;
    out->classify_ms = (fer_now() - t1) * 1e3;
    if (st != FER_OK)
        fer_analysis_free(out);
    fer_free(found);
    fer_image_free(&gray);
    return st;
}

enum fer_status fer_engine_analyze_file(fer_engine *e, const char *path, size_t max_pixels,
                                        fer_analysis *out, fer_image *keep_rgb, char *err)
{
    fer_image img = {0};
    enum fer_status st = fer_image_load(path, 0, max_pixels, &img, err);
    if (st == FER_OK)
        st = fer_engine_analyze(e, &img, out, err);
    if (st == FER_OK && keep_rgb)
        *keep_rgb = img;
    else
        fer_image_free(&img);
    return st;
}

void fer_analysis_free(fer_analysis *a)
{
    fer_free(a->faces);
    a->faces = NULL;
    a->n_faces = 0;
}
