/*
 * cascade.c - the cascade model: growing it while a file is read, checking
 * it, releasing it, reading a file, the built-in copy.
 *
 * The built-in cascade is OpenCV's haarcascade_frontalface_default.xml
 * (Lienhart's frontal face detector, Viola & Jones 2001 with the extended
 * feature set of Lienhart & Maydt 2002), linked in by builtin_cascade.S from
 * Debian's opencv-data package and parsed like any file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "detect/cascade_internal.h"

/* Defined in builtin_cascade.S. */
extern const char fer_builtin_cascade_xml[];
extern const char fer_builtin_cascade_xml_end[];

#define MAX_FILE ((size_t)256 << 20) /* the biggest shipped cascade is 2.7 MB */

void *fer_grow(void *p, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 16, bytes;
    while (ncap < need)
        ncap *= 2;
    if (!fer_size_mul(ncap, elsize, &bytes))
        return NULL;
    void *q = fer_realloc(p, bytes);
    if (q)
        *cap = ncap;
    return q;
}

/* Room for one more element in arr (n used, capacity *cap), or return FER_ERR_NOMEM. */
#define RESERVE(arr, n, cap)                                                                       \
    do {                                                                                           \
        void *q_ = fer_grow((arr), (cap), (size_t)(n) + 1, sizeof(*(arr)));                        \
        if (!q_)                                                                                   \
            return FER_ERR_NOMEM;                                                                  \
        (arr) = q_;                                                                                \
    } while (0)

enum fer_status fer_cascade_add_stage(fer_cascade *c, float threshold)
{
    RESERVE(c->stages, c->nstages, &c->cap[0]);
    /* Data::read: (float)stageThreshold - THRESHOLD_EPS, in float */
    c->stages[c->nstages++] = (struct fer_cascade_stage){c->ntrees, 0, threshold - 1e-5f};
    return FER_OK;
}

enum fer_status fer_cascade_add_tree(fer_cascade *c)
{
    if (c->nstages == 0)
        return FER_ERR_STATE;
    RESERVE(c->trees, c->ntrees, &c->cap[1]);
    c->trees[c->ntrees++] = (struct fer_cascade_tree){c->nnodes, 0, c->nleaves};
    c->stages[c->nstages - 1].ntrees++;
    return FER_OK;
}

enum fer_status fer_cascade_add_node(fer_cascade *c, struct fer_cascade_node node,
                                     const int32_t *subset)
{
    size_t need = (size_t)(c->nnodes + 1) * (size_t)c->subset_words;
    if (c->ntrees == 0)
        return FER_ERR_STATE;
    RESERVE(c->nodes, c->nnodes, &c->cap[2]);
    if (c->subset_words > 0) {
        int32_t *sub = fer_grow(c->subsets, &c->cap[3], need, sizeof(int32_t));
        if (!sub)
            return FER_ERR_NOMEM;
        c->subsets = sub;
        memcpy(sub + need - (size_t)c->subset_words, subset,
               sizeof(int32_t) * (size_t)c->subset_words);
    }
    c->nodes[c->nnodes++] = node;
    c->trees[c->ntrees - 1].nnodes++;
    return FER_OK;
}

enum fer_status fer_cascade_add_leaf(fer_cascade *c, float value)
{
    RESERVE(c->leaves, c->nleaves, &c->cap[4]);
    c->leaves[c->nleaves++] = value;
    return FER_OK;
}

enum fer_status fer_cascade_add_haar(fer_cascade *c, const struct fer_haar_feature *f)
{
    RESERVE(c->haar, c->nfeatures, &c->cap[5]);
    c->haar[c->nfeatures++] = *f;
    return FER_OK;
}

enum fer_status fer_cascade_add_lbp(fer_cascade *c, const struct fer_lbp_feature *f)
{
    RESERVE(c->lbp, c->nfeatures, &c->cap[5]);
    c->lbp[c->nfeatures++] = *f;
    return FER_OK;
}

void fer_cascade_free(fer_cascade *c)
{
    if (!c)
        return;
    fer_free(c->name);
    fer_free(c->stages);
    fer_free(c->trees);
    fer_free(c->nodes);
    fer_free(c->leaves);
    fer_free(c->subsets);
    fer_free(c->haar);
    fer_free(c->lbp);
    fer_free(c);
}

enum fer_status fer_cascade_load_builtin(fer_cascade **out, char *err)
{
    size_t len = (size_t)(fer_builtin_cascade_xml_end - fer_builtin_cascade_xml);
    return fer_cascade_load_xml_memory(fer_builtin_cascade_xml, len,
                                       "builtin:haarcascade_frontalface_default.xml", out, err);
}

struct fer_detect_params fer_detect_defaults(void)
{
    return (struct fer_detect_params){.scale_factor = 1.1, .min_neighbors = 3};
}

enum fer_status fer_cascade_detect(const fer_cascade *c, const fer_image *gray,
                                   const struct fer_detect_params *p, fer_rect **faces, size_t *n,
                                   char *err)
{
    return fer_cascade_detect_pool(c, gray, p, NULL, faces, n, err);
}

/* Upright rectangles must lie in the window; tilted ones span (x-h..x+w, y..y+w+h). */
static int haar_rect_ok(const struct fer_haar_rect *r, int tilted, int W, int H)
{
    if (r->w < 0 || r->h < 0 || r->x < 0 || r->y < 0 || r->x > W || r->y > H || r->w > W ||
        r->h > H || !isfinite(r->weight))
        return 0;
    if (tilted)
        return r->x - r->h >= 0 && r->x + r->w <= W && r->y + r->w + r->h <= H;
    return r->x + r->w <= W && r->y + r->h <= H;
}

static enum fer_status invalid(const fer_cascade *c, char *err, const char *what, int index)
{
    return fer_errorf(err, FER_ERR_FORMAT, "%s: %s (index %d)", c->name, what, index);
}

enum fer_status fer_cascade_validate(fer_cascade *c, char *err)
{
    if (c->win_w < 3 || c->win_h < 3 || c->win_w > FER_CASCADE_MAX_WIN ||
        c->win_h > FER_CASCADE_MAX_WIN)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: window %dx%d out of range (3 to %d)", c->name,
                          c->win_w, c->win_h, FER_CASCADE_MAX_WIN);
    if (c->nstages < 1 || c->nfeatures < 1)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: no stages or no features", c->name);
    /* OpenCV's own cascades have at most 50 stages and 3,000 trees; far more is a broken or
       hostile file that would make every detection crawl */
    if (c->nstages > FER_CASCADE_MAX_STAGES || c->ntrees > FER_CASCADE_MAX_TREES ||
        c->nfeatures > FER_CASCADE_MAX_TREES * 4)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "%s: %d stages, %d trees and %d features is more than fer reads (at "
                          "most %d stages, %d trees, %d features)",
                          c->name, c->nstages, c->ntrees, c->nfeatures, FER_CASCADE_MAX_STAGES,
                          FER_CASCADE_MAX_TREES, FER_CASCADE_MAX_TREES * 4);
    for (int s = 0; s < c->nstages; s++) {
        if (!isfinite(c->stages[s].threshold))
            return invalid(c, err, "stage threshold is not finite", s);
        if (c->stages[s].ntrees < 1)
            return invalid(c, err, "stage without weak classifiers", s);
    }
    for (int t = 0; t < c->ntrees; t++) {
        const struct fer_cascade_tree *tr = &c->trees[t];
        if (tr->nnodes < 1)
            return invalid(c, err, "tree without nodes", t);
        for (int i = 0; i < tr->nnodes; i++) {
            const struct fer_cascade_node *nd = &c->nodes[tr->first_node + i];
            if (nd->feature < 0 || nd->feature >= c->nfeatures)
                return invalid(c, err, "feature index out of range", tr->first_node + i);
            if (!isfinite(nd->threshold))
                return invalid(c, err, "node threshold is not finite", tr->first_node + i);
            /* children after their parent: evaluation always ends */
            int kids[2] = {nd->left, nd->right};
            for (int k = 0; k < 2; k++)
                if ((kids[k] > 0 && (kids[k] <= i || kids[k] >= tr->nnodes)) ||
                    (kids[k] <= 0 && -kids[k] > tr->nnodes))
                    return invalid(c, err, "tree child index out of range", tr->first_node + i);
        }
    }
    for (int l = 0; l < c->nleaves; l++)
        if (!isfinite(c->leaves[l]))
            return invalid(c, err, "leaf value is not finite", l);
    for (int f = 0; f < c->nfeatures; f++) {
        if (c->feature_type == FER_FEATURE_HAAR) {
            const struct fer_haar_feature *hf = &c->haar[f];
            for (int r = 0; r < hf->nrects; r++)
                if (!haar_rect_ok(&hf->r[r], hf->tilted, c->win_w, c->win_h))
                    return invalid(c, err, "feature rectangle outside the window", f);
        } else {
            const struct fer_lbp_feature *lf = &c->lbp[f];
            if (lf->x < 0 || lf->y < 0 || lf->w < 1 || lf->h < 1 || lf->w > c->win_w ||
                lf->h > c->win_h || lf->x + 3 * lf->w > c->win_w || lf->y + 3 * lf->h > c->win_h)
                return invalid(c, err, "LBP feature outside the window", f);
        }
    }
    c->max_nodes = 0;
    c->has_tilted = 0;
    for (int t = 0; t < c->ntrees; t++)
        if (c->trees[t].nnodes > c->max_nodes)
            c->max_nodes = c->trees[t].nnodes;
    for (int f = 0; c->feature_type == FER_FEATURE_HAAR && f < c->nfeatures; f++)
        c->has_tilted |= c->haar[f].tilted;
    return FER_OK;
}

enum fer_status fer_cascade_load_xml(const char *path, fer_cascade **out, char *err)
{
    *out = NULL;
    FILE *f;
    enum fer_status opened = fer_file_fopen_regular(path, "cascade", &f, NULL, err);
    if (opened != FER_OK)
        return opened;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    enum fer_status st = FER_OK;
    for (;;) {
        char *b = fer_grow(buf, &cap, len + 65536, 1);
        if (!b) {
            st = fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        buf = b;
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = fer_errorf(err, FER_ERR_IO, "%s: read error", path);
            break;
        }
        if (len > MAX_FILE) {
            st = fer_errorf(err, FER_ERR_LIMIT, "%s: larger than %zu bytes", path, MAX_FILE);
            break;
        }
    }
    fclose(f);
    if (st == FER_OK)
        st = fer_cascade_load_xml_memory(buf, len, path, out, err);
    fer_free(buf);
    return st;
}
