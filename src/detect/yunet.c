/*
 * yunet.c - running the YuNet detector: the image into the net's input
 * (B, G, R planes of 0-255 values, zero-padded to multiples of 32), one
 * forward pass, and the heads decoded as libfacedetection decodes them: at
 * cell (row, col) of the map of stride s, the prior is (col * s, row * s);
 * the box centre is prior + s * (dx, dy), its size s * exp(dw, dh); each
 * landmark is prior + s * (lx, ly); the score is sqrt(sigmoid(face) *
 * sigmoid(objectness)). Candidates above the score threshold, best first
 * (a stable sort), go through greedy non-maximum suppression.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "detect/yunet.h"
#include "fer.h"
#include "nn/model_file.h"

extern const uint8_t fer_builtin_detector_start[], fer_builtin_detector_end[];

struct fer_yunet {
    fer_net *base;  /* as loaded */
    fer_net *sized; /* for the last image size, or NULL */
    int heads[12];  /* per stride 8, 16, 32: score, box, objectness, landmarks layers */
    fer_pool *pool;
};

static const int strides[3] = {8, 16, 32};

void fer_yunet_params_default(struct fer_yunet_params *p)
{
    *p = (struct fer_yunet_params){.score_threshold = FER_DEFAULT_SCORE_THRESHOLD,
                                   .nms_threshold = FER_DEFAULT_NMS_THRESHOLD,
                                   .top_k = 1000,
                                   .keep = 200,
                                   .max_pixels = FER_YUNET_MAX_PIXELS};
}

/* meta "heads": the 12 layer numbers, each a layer of the net with the channels it needs. */
static enum fer_status read_heads(fer_yunet *y, const struct fer_meta *m, const char *name,
                                  char *err)
{
    const char *s = fer_meta_get(m, "heads");
    static const int channels[4] = {1, 4, 1, 10};
    for (int i = 0; i < 12; i++) {
        char *end;
        long v = s ? strtol(s, &end, 10) : -1;
        int c, h, w;
        if (!s || end == s || v < 0 || v >= fer_net_layer_count(y->base) ||
            !fer_net_layer_output(y->base, (int)v, &c, &h, &w) || c != channels[i % 4])
            return fer_errorf(err, FER_ERR_CORRUPT,
                              "%s: metadata 'heads' does not list the 12 "
                              "head layers of a YuNet net",
                              name);
        y->heads[i] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return FER_OK;
}

enum fer_status fer_yunet_open_memory(const uint8_t *data, size_t size, const char *name,
                                      fer_yunet **out, char *err)
{
    *out = NULL;
    fer_yunet *y = fer_calloc(1, sizeof(*y));
    if (!y)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening %s", name);
    struct fer_meta meta = {0};
    enum fer_status st = fer_model_load_memory_as(data, size, name, FER_MODEL_DETECTOR, 1, &y->base,
                                                  &meta, NULL, err);
    if (st == FER_OK && fer_net_input_channels(y->base) != 3)
        st = fer_errorf(err, FER_ERR_CORRUPT, "%s: a YuNet net takes 3 channels", name);
    if (st == FER_OK)
        st = read_heads(y, &meta, name, err);
    fer_meta_clear(&meta);
    if (st != FER_OK) {
        fer_yunet_free(y);
        return st;
    }
    *out = y;
    return FER_OK;
}

enum fer_status fer_yunet_open(const char *path, fer_yunet **out, char *err)
{
    *out = NULL;
    uint8_t *data;
    size_t size;
    enum fer_status st = fer_file_read(path, "detector", (size_t)64 << 20, &data, &size, err);
    if (st != FER_OK)
        return st;
    st = fer_yunet_open_memory(data, size, path, out, err);
    fer_free(data);
    return st;
}

enum fer_status fer_yunet_open_builtin(fer_yunet **out, char *err)
{
    return fer_yunet_open_memory(fer_builtin_detector_start,
                                 (size_t)(fer_builtin_detector_end - fer_builtin_detector_start),
                                 "built-in detector (models/yunet.fer)", out, err);
}

void fer_yunet_free(fer_yunet *y)
{
    if (!y)
        return;
    fer_net_free(y->base);
    fer_net_free(y->sized);
    fer_free(y);
}

void fer_yunet_set_pool(fer_yunet *y, fer_pool *pool)
{
    y->pool = pool;
    fer_net_set_pool(y->base, pool, NULL);
    if (y->sized)
        fer_net_set_pool(y->sized, pool, NULL);
}

/* The net for a w x h image: its sides rounded up to multiples of 32. */
static enum fer_status sized_net(fer_yunet *y, int w, int h, char *err)
{
    int pw = (w + 31) / 32 * 32, ph = (h + 31) / 32 * 32;
    if (y->sized && fer_net_input_width(y->sized) == pw && fer_net_input_height(y->sized) == ph)
        return FER_OK;
    fer_net_free(y->sized);
    y->sized = NULL;
    return fer_net_resized(y->base, pw, ph, &y->sized, err);
}

/* B, G, R planes of the image's values, zero where the padding is. */
static void fill_input(fer_net *net, const fer_image *img)
{
    const int pw = fer_net_input_width(net), ph = fer_net_input_height(net);
    const size_t plane = (size_t)pw * (size_t)ph;
    float *in = fer_net_input(net);
    memset(in, 0, 3 * plane * sizeof(float));
    for (int yy = 0; yy < img->height; yy++) {
        const uint8_t *row = img->data + (size_t)yy * (size_t)img->width * (size_t)img->channels;
        float *b = in + (size_t)yy * (size_t)pw, *g = b + plane, *r = g + plane;
        if (img->channels == 1)
            for (int x = 0; x < img->width; x++)
                b[x] = g[x] = r[x] = (float)row[x];
        else
            for (int x = 0; x < img->width; x++) {
                r[x] = (float)row[3 * x];
                g[x] = (float)row[3 * x + 1];
                b[x] = (float)row[3 * x + 2];
            }
    }
}

static float sigmoid(float v)
{
    v = v > 88.3762626647949f ? 88.3762626647949f : v < -88.3762626647949f ? -88.3762626647949f : v;
    return 1.0f / (1.0f + expf(-v));
}

static float iou(const struct fer_yunet_face *a, const struct fer_yunet_face *b)
{
    float ix = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
    float iy = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
    if (ix <= 0 || iy <= 0)
        return 0;
    float inter = ix * iy;
    return inter / (a->w * a->h + b->w * b->h - inter);
}

/* Sort by score, best first; equal scores keep their order (the index breaks ties). */
struct candidate {
    struct fer_yunet_face f;
    size_t order;
};

static int by_score(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;
    if (a->f.score != b->f.score)
        return a->f.score < b->f.score ? 1 : -1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The candidates of one stride above the threshold, appended to c. */
static size_t decode_level(const fer_net *net, const int *heads, int s, float scale,
                           const struct fer_yunet_params *p, struct candidate *c, size_t n)
{
    int ch, h, w;
    const float *cls = fer_net_layer_output(net, heads[0], &ch, &h, &w);
    const float *box = fer_net_layer_output(net, heads[1], &ch, &h, &w);
    const float *obj = fer_net_layer_output(net, heads[2], &ch, &h, &w);
    const float *kps = fer_net_layer_output(net, heads[3], &ch, &h, &w);
    const size_t plane = (size_t)h * (size_t)w;
    for (int r = 0; r < h; r++)
        for (int col = 0; col < w; col++) {
            size_t at = (size_t)r * (size_t)w + (size_t)col;
            float score = sqrtf(sigmoid(cls[at]) * sigmoid(obj[at]));
            if (!(score >= p->score_threshold))
                continue;
            float px = (float)(col * s), py = (float)(r * s);
            float cx = box[at] * s + px, cy = box[plane + at] * s + py;
            float bw = expf(box[2 * plane + at]) * s, bh = expf(box[3 * plane + at]) * s;
            struct fer_yunet_face *f = &c[n].f;
            *f = (struct fer_yunet_face){
                (cx - bw / 2) * scale, (cy - bh / 2) * scale, bw * scale, bh * scale, score, {0}};
            for (int k = 0; k < 5; k++) {
                f->landmarks[2 * k] = (kps[(size_t)(2 * k) * plane + at] * s + px) * scale;
                f->landmarks[2 * k + 1] = (kps[(size_t)(2 * k + 1) * plane + at] * s + py) * scale;
            }
            if (p->min_size > 0 && f->w < (float)p->min_size && f->h < (float)p->min_size)
                continue;
            c[n].order = n;
            n++;
        }
    return n;
}

/* Greedy suppression over c (sorted), at most p->keep faces into out; returns their count. */
static size_t suppress(const struct candidate *c, size_t n, const struct fer_yunet_params *p,
                       struct fer_yunet_face *out)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < (size_t)p->keep; i++) {
        int keep = 1;
        for (size_t k = 0; k < kept && keep; k++)
            keep = iou(&c[i].f, &out[k]) <= p->nms_threshold;
        if (keep)
            out[kept++] = c[i].f;
    }
    return kept;
}

enum fer_status fer_yunet_decode(const fer_net *net, const int heads[12], float scale,
                                 const struct fer_yunet_params *p, struct fer_yunet_face **faces,
                                 size_t *n, char *err)
{
    *faces = NULL;
    *n = 0;
    size_t cells = 0;
    for (int l = 0; l < 3; l++) {
        int ch, h, w;
        fer_net_layer_output(net, heads[4 * l], &ch, &h, &w);
        cells += (size_t)h * (size_t)w;
    }
    struct candidate *c = fer_malloc((cells ? cells : 1) * sizeof(*c));
    if (!c)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory decoding faces");
    size_t m = 0;
    for (int l = 0; l < 3; l++)
        m = decode_level(net, heads + 4 * l, strides[l], scale, p, c, m);
    qsort(c, m, sizeof(*c), by_score);
    if (p->top_k > 0 && m > (size_t)p->top_k)
        m = (size_t)p->top_k;
    *faces = fer_malloc((m ? m : 1) * sizeof(**faces));
    if (!*faces) {
        fer_free(c);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory decoding faces");
    }
    *n = suppress(c, m, p, *faces);
    fer_free(c);
    return FER_OK;
}

enum fer_status fer_yunet_detect(fer_yunet *y, const fer_image *img,
                                 const struct fer_yunet_params *p, struct fer_yunet_face **faces,
                                 size_t *n, char *err)
{
    *faces = NULL;
    *n = 0;
    const fer_image *src = img;
    fer_image small = {0};
    float scale = 1;
    double pixels = (double)img->width * (double)img->height;
    if (p->max_pixels && pixels > (double)p->max_pixels) {
        double f = sqrt((double)p->max_pixels / pixels);
        int w = (int)(img->width * f), h = (int)(img->height * f);
        enum fer_status st = fer_image_crop_resize(img, (fer_rect){0, 0, img->width, img->height},
                                                   w < 1 ? 1 : w, h < 1 ? 1 : h, &small, err);
        if (st != FER_OK)
            return st;
        src = &small;
        scale = (float)img->width / (float)small.width;
    }
    enum fer_status st = sized_net(y, src->width, src->height, err);
    if (st == FER_OK) {
        fill_input(y->sized, src);
        fer_net_forward(y->sized, 1, 0);
        st = fer_yunet_decode(y->sized, y->heads, scale, p, faces, n, err);
    }
    fer_image_free(&small);
    return st;
}
