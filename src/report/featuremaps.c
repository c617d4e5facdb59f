/*
 * featuremaps.c - what the network computes from one face: the face as the network saw it,
 * then for each chosen layer (its pooling layers and the ends of its residual stages) a row
 * of that layer's maps, the ones with the most activation first, each scaled from its own
 * lowest to its highest value (viridis: dark low, yellow high).
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/classes.h"
#include "image/view.h"

#include "core/alloc.h"
#include "report/canvas.h"
#include "report/report.h"

/* 1 when layer i is a shortcut that ends its stage: no later shortcut has its size. */
static int ends_stage(const fer_net *net, int i)
{
    int c, h, w, c2, h2, w2;
    fer_net_layer_output(net, i, &c, &h, &w);
    for (int j = i + 1; j < fer_net_layer_count(net); j++)
        if (!strcmp(fer_net_layer_kind(net, j), "shortcut") &&
            fer_net_layer_output(net, j, &c2, &h2, &w2) && h2 == h && w2 == w)
            return 0;
    return 1;
}

int fer_feature_layers_of(fer_net *net, float mean, float std, const uint8_t *face48, uint8_t *view,
                          struct fer_feature_layer *layers, int max)
{
    const int side = fer_net_input_side(net), off = (FER_FACE_SIDE - side) / 2;
    fer_face_view(face48, FER_FACE_SIDE, fer_net_input(net), side, 0, 0, 0, mean, std);
    for (int r = 0; r < side; r++)
        memcpy(view + (size_t)r * (size_t)side, face48 + (size_t)(r + off) * FER_FACE_SIDE + off,
               (size_t)side);
    fer_net_forward(net, 1, 0);
    int n = 0, stage = 0;
    for (int i = 0; i < fer_net_layer_count(net) && n < max; i++) {
        const char *kind = fer_net_layer_kind(net, i);
        int pool = !strcmp(kind, "maxpool") || !strcmp(kind, "avgpool");
        int stage_end = !strcmp(kind, "shortcut") && ends_stage(net, i);
        if (!pool && !stage_end)
            continue;
        struct fer_feature_layer *l = &layers[n++];
        l->maps = fer_net_layer_output(net, i, &l->c, &l->h, &l->w);
        if (stage_end)
            snprintf(l->name, sizeof(l->name), "layer %d: end of stage %d", i, ++stage);
        else
            snprintf(l->name, sizeof(l->name), "layer %d: %s", i, kind);
    }
    return n;
}

struct ranked {
    int channel;
    double mean;
};

static int by_mean(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->mean != y->mean)
        return x->mean > y->mean ? -1 : 1;
    return x->channel - y->channel;
}

/* The n most active maps of a layer (at most max), most active first; NULL when out of
   memory. */
static struct ranked *rank_maps(const struct fer_feature_layer *l, int max, int *n)
{
    struct ranked *r = fer_malloc((size_t)l->c * sizeof(*r));
    if (!r)
        return NULL;
    size_t plane = (size_t)l->h * (size_t)l->w;
    for (int ch = 0; ch < l->c; ch++) {
        double s = 0;
        for (size_t i = 0; i < plane; i++)
            s += (double)l->maps[(size_t)ch * plane + i];
        r[ch] = (struct ranked){ch, s / (double)plane};
    }
    qsort(r, (size_t)l->c, sizeof(*r), by_mean);
    *n = l->c < max ? l->c : max;
    return r;
}

enum fer_status fer_figure_feature_maps(const uint8_t *face, int face_w, int face_h,
                                        const char *caption, const struct fer_feature_layer *layers,
                                        int n_layers, int max_maps,
                                        const struct fer_figure_file *out, char *err)
{
    if (n_layers < 1 || n_layers > 32 || max_maps < 1 || max_maps > 64)
        return fer_errorf(err, FER_ERR_ARG, "feature maps: %d layers, %d maps each", n_layers,
                          max_maps);
    const double map = 56, gap = 6, left = 200, top = 70, row_h = map + 40;
    const double face_side = 160;
    int w = (int)(left + max_maps * (map + gap) + 10);
    double rows_h = top + n_layers * row_h + 10;
    int h = (int)(rows_h > top + face_side + 60 ? rows_h : top + face_side + 60);
    fer_canvas c;
    enum fer_status st = fer_canvas_init(&c, w, h, out, err);
    if (st != FER_OK)
        return st;
    fer_canvas_text(&c, 16, 26, 16, FER_LEFT, 1, 0x111111, "Feature maps");
    fer_canvas_text(&c, 16, 46, 12, FER_LEFT, 0, 0x555555,
                    "per layer, its most active maps first, each from its lowest (dark) to its "
                    "highest value (yellow)");
    fer_canvas_gray_image(&c, face, face_w, face_h, 16, top, face_side,
                          face_side * face_h / face_w);
    fer_canvas_text(&c, 16 + face_side / 2, top + face_side + 18, 11, FER_CENTER, 0, 0x333333,
                    "%.60s", caption ? caption : "");
    for (int li = 0; li < n_layers && st == FER_OK; li++) {
        const struct fer_feature_layer *l = &layers[li];
        int n;
        struct ranked *r = rank_maps(l, max_maps, &n);
        if (!r) {
            st = fer_errorf(err, FER_ERR_NOMEM, "out of memory ranking %d maps", l->c);
            break;
        }
        double y = top + li * row_h;
        fer_canvas_text(&c, left, y + 12, 12, FER_LEFT, 1, 0x222222, "%s", l->name);
        fer_canvas_text(&c, left + 260, y + 12, 11, FER_LEFT, 0, 0x666666,
                        "%d maps of %dx%d, %d shown", l->c, l->h, l->w, n);
        size_t plane = (size_t)l->h * (size_t)l->w;
        for (int j = 0; j < n; j++) {
            const float *v = l->maps + (size_t)r[j].channel * plane;
            float lo = FLT_MAX, hi = -FLT_MAX;
            for (size_t i = 0; i < plane; i++) {
                lo = v[i] < lo ? v[i] : lo;
                hi = v[i] > hi ? v[i] : hi;
            }
            fer_canvas_value_image(&c, v, l->w, l->h, lo, hi, left + j * (map + gap), y + 20, map,
                                   map);
        }
        fer_free(r);
    }
    if (st == FER_OK)
        st = fer_canvas_save(&c, out, err);
    fer_canvas_free(&c);
    return st;
}
