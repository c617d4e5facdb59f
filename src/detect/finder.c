/*
 * finder.c - one door to the detectors (finder.h). Cascades run on gray
 * images, reduced first when larger than detect_max_pixels; YuNet runs on
 * colour (its own reduction: FER_YUNET_MAX_PIXELS); `none` returns the
 * image. Boxes come back clipped to the image, in whole pixels.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/finder.h"
#include "image/image.h"

#define MAX_IDLE_YUNETS 4

struct fer_finder {
    int detector;
    fer_cascade *cascade;
    struct fer_detect_params cascade_params;
    size_t cascade_max_pixels;
    const char *yunet_path; /* NULL: the built-in model */
    struct fer_yunet_params yunet_params;
    pthread_mutex_t mu;
    fer_yunet *idle[MAX_IDLE_YUNETS];
    int n_idle;
};

static const char *const names[] = {"yunet", "haar", "lbp", "none"};

int fer_detector_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *fer_detector_name(int detector)
{
    return detector >= 0 && detector < 4 ? names[detector] : "?";
}

static enum fer_status open_cascade(fer_finder *f, const struct fer_engine_options *o, char *err)
{
    if (f->detector == FER_DETECTOR_LBP && !o->cascade_path)
        return fer_errorf(err, FER_ERR_ARG,
                          "the lbp detector needs an OpenCV LBP cascade file "
                          "(--cascade, e.g. lbpcascade_frontalface_improved.xml); fer has none "
                          "built in");
    f->cascade_params = (struct fer_detect_params){o->scale_factor, o->min_neighbors, o->min_face,
                                                   o->min_face,     o->max_face,      o->max_face};
    f->cascade_max_pixels = o->detect_max_pixels;
    return o->cascade_path ? fer_cascade_load_xml(o->cascade_path, &f->cascade, err)
                           : fer_cascade_load_builtin(&f->cascade, err);
}

static enum fer_status take_yunet(fer_finder *f, fer_yunet **y, char *err)
{
    pthread_mutex_lock(&f->mu);
    *y = f->n_idle ? f->idle[--f->n_idle] : NULL;
    pthread_mutex_unlock(&f->mu);
    if (*y)
        return FER_OK;
    return f->yunet_path ? fer_yunet_open(f->yunet_path, y, err) : fer_yunet_open_builtin(y, err);
}

static void give_yunet(fer_finder *f, fer_yunet *y)
{
    pthread_mutex_lock(&f->mu);
    if (f->n_idle < MAX_IDLE_YUNETS) {
        f->idle[f->n_idle++] = y;
        y = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    fer_yunet_free(y);
}

enum fer_status fer_finder_open(const struct fer_engine_options *o, fer_finder **out, char *err)
{
    *out = NULL;
    if (o->detector < 0 || o->detector > FER_DETECTOR_NONE)
        return fer_errorf(err, FER_ERR_ARG, "unknown detector %d", o->detector);
    if (o->cascade_path && o->detector != FER_DETECTOR_HAAR && o->detector != FER_DETECTOR_LBP)
        return fer_errorf(err, FER_ERR_ARG,
                          "a cascade file (%s) is for the haar and lbp "
                          "detectors, not %s",
                          o->cascade_path, fer_detector_name(o->detector));
    fer_finder *f = fer_calloc(1, sizeof(*f));
    if (!f)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening the face detector");
    pthread_mutex_init(&f->mu, NULL);
    f->detector = o->detector;
    fer_yunet_params_default(&f->yunet_params);
    f->yunet_params.score_threshold = o->score_threshold;
    f->yunet_params.nms_threshold = o->nms_threshold;
    f->yunet_params.min_size = o->min_face;
    if (o->detect_max_pixels && o->detect_max_pixels < f->yunet_params.max_pixels)
        f->yunet_params.max_pixels = o->detect_max_pixels;
    f->yunet_path = o->detector_path;
    enum fer_status st = FER_OK;
    if (f->detector == FER_DETECTOR_HAAR || f->detector == FER_DETECTOR_LBP) {
        st = open_cascade(f, o, err);
    } else if (f->detector == FER_DETECTOR_YUNET) {
        fer_yunet *y = NULL; /* opened once now, so that a bad file fails here */
        if ((st = take_yunet(f, &y, err)) == FER_OK)
            give_yunet(f, y);
    }
    if (st != FER_OK) {
        fer_finder_free(f);
        return st;
    }
    *out = f;
    return FER_OK;
}

void fer_finder_free(fer_finder *f)
{
    if (!f)
        return;
    fer_cascade_free(f->cascade);
    for (int i = 0; i < f->n_idle; i++)
        fer_yunet_free(f->idle[i]);
    pthread_mutex_destroy(&f->mu);
    fer_free(f);
}

int fer_finder_detector(const fer_finder *f)
{
    return f->detector;
}

/* The cascade's boxes on the gray image, reduced first when it is over the pixel bound. */
static enum fer_status cascade_find(const fer_finder *f, const fer_image *gray, fer_pool *pool,
                                    fer_rect **boxes, size_t *n, char *err)
{
    double pixels = (double)gray->width * (double)gray->height;
    if (!f->cascade_max_pixels || pixels <= (double)f->cascade_max_pixels)
        return fer_cascade_detect_pool(f->cascade, gray, &f->cascade_params, pool, boxes, n, err);
    double s = sqrt((double)f->cascade_max_pixels / pixels);
    int w = (int)(gray->width * s), h = (int)(gray->height * s);
    fer_image small = {0};
    enum fer_status st = fer_image_crop_resize(gray, (fer_rect){0, 0, gray->width, gray->height},
                                               w < 1 ? 1 : w, h < 1 ? 1 : h, &small, err);
    if (st == FER_OK)
        st = fer_cascade_detect_pool(f->cascade, &small, &f->cascade_params, pool, boxes, n, err);
    double sx = (double)gray->width / small.width, sy = (double)gray->height / small.height;
    fer_image_free(&small);
    for (size_t i = 0; st == FER_OK && i < *n; i++) {
        fer_rect *r = &(*boxes)[i];
        *r = (fer_rect){(int)lround(r->x * sx), (int)lround(r->y * sy), (int)lround(r->w * sx),
                        (int)lround(r->h * sy)};
    }
    return st;
}

static enum fer_status cascade_faces(fer_finder *f, const fer_image *img, fer_pool *pool,
                                     struct fer_found **faces, size_t *n, char *err)
{
    fer_image gray = {0};
    const fer_image *g = img;
    enum fer_status st = FER_OK;
    if (img->channels != 1) {
        if ((st = fer_image_to_gray(img, &gray, err)) != FER_OK)
            return st;
        g = &gray;
    }
    fer_rect *boxes = NULL;
    st = cascade_find(f, g, pool, &boxes, n, err);
    fer_image_free(&gray);
    if (st == FER_OK && !(*faces = fer_calloc(*n ? *n : 1, sizeof(**faces))))
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == FER_OK && i < *n; i++)
        (*faces)[i] = (struct fer_found){boxes[i], -1, 0, {0}};
    fer_free(boxes);
    return st;
}

/* A YuNet box as whole pixels inside the image (empty when it lies outside). */
static fer_rect clip_box(const struct fer_yunet_face *y, int width, int height)
{
    int x0 = (int)lroundf(fmaxf(y->x, 0)), y0 = (int)lroundf(fmaxf(y->y, 0));
    int x1 = (int)lroundf(fminf(y->x + y->w, (float)width));
    int y1 = (int)lroundf(fminf(y->y + y->h, (float)height));
    return (fer_rect){x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0};
}

static enum fer_status yunet_faces(fer_finder *f, const fer_image *img, fer_pool *pool,
                                   struct fer_found **faces, size_t *n, char *err)
{
    fer_yunet *y = NULL;
    struct fer_yunet_face *found = NULL;
    enum fer_status st = take_yunet(f, &y, err);
    if (st != FER_OK)
        return st;
    fer_yunet_set_pool(y, pool);
    st = fer_yunet_detect(y, img, &f->yunet_params, &found, n, err);
    fer_yunet_set_pool(y, NULL);
    give_yunet(f, y);
    if (st == FER_OK && !(*faces = fer_calloc(*n ? *n : 1, sizeof(**faces))))
        st = fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    size_t kept = 0;
    for (size_t i = 0; st == FER_OK && i < *n; i++) {
        fer_rect r = clip_box(&found[i], img->width, img->height);
        if (r.w < 1 || r.h < 1)
            continue;
        struct fer_found *o = &(*faces)[kept++];
        *o = (struct fer_found){r, found[i].score, 1, {0}};
        memcpy(o->landmarks, found[i].landmarks, sizeof(o->landmarks));
    }
    *n = kept;
    fer_free(found);
    return st;
}

enum fer_status fer_finder_find(fer_finder *f, const fer_image *img, fer_pool *pool,
                                struct fer_found **faces, size_t *n, char *err)
{
    *faces = NULL;
    *n = 0;
    if (f->detector == FER_DETECTOR_YUNET)
        return yunet_faces(f, img, pool, faces, n, err);
    if (f->detector != FER_DETECTOR_NONE)
        return cascade_faces(f, img, pool, faces, n, err);
    if (!(*faces = fer_calloc(1, sizeof(**faces))))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    (*faces)[0] = (struct fer_found){{0, 0, img->width, img->height}, -1, 0, {0}};
    *n = 1;
    return FER_OK;
}
