/*
 * scan.c - the multi-scale cascade scan of OpenCV 4's detectMultiScale.
 *
 * For each scale the image is shrunk (INTER_LINEAR_EXACT, resize_linear.c),
 * its integral images are built (sum, squared sum, and the 45-degree "tilted"
 * sum of Lienhart & Maydt 2002), and a window of the cascade's size slides
 * over it, with step 2 below scale 2 and step 1 from there, over the rows
 * OpenCV's stripes reach, as in CascadeClassifierImpl. Each window is
 * normalised by its standard deviation and must pass every stage of boosted
 * weak classifiers (Viola & Jones 2001). The arithmetic (int sums, float
 * feature values, double stage sums, round-half-even coordinates) and the
 * order of the boxes follow OpenCV, so the boxes are OpenCV's.
 *
 * Speed: the first stage runs on a whole row of windows at once, eight
 * windows per vector, over integral images stored column-interleaved when the
 * step is 2 (the windows of a row then read consecutive ints); the survivors
 * go on stage by stage, in vectors where they are close together, one by one
 * where they are not. Rows can run on a thread pool; boxes are kept per block
 * of rows and concatenated in order, so the result never depends on threads.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/cascade_internal.h"

/* A tree node with its feature's offsets inlined: the hot loops read one of these. */
struct opt_node {
    int32_t ofs[16]; /* Haar: 4 corners of each of 3 rectangles; LBP: 4x4 grid of block corners */
    float w[3], thr;
    int has3;
    const int32_t *subset; /* LBP: the categories that go left */
};

struct lay_data {
    struct fer_layout l;
    struct opt_node *nodes; /* per node of the cascade */
    int32_t nofs[4];        /* corners of the variance rectangle */
};

struct scratch {
    float *vnf;
    uint8_t *valid, *dec;
    double *acc;
    int32_t *idx;
};

struct chunk {
    fer_rect *r;
    size_t n, cap;
    int nomem;
    int row0, row1; /* window rows [row0, row1) of the current scale */
};

struct scan {
    const fer_cascade *c;
    int stumps;
    struct lay_data lay[2]; /* step 1, step 2 */
    const struct lay_data *cur;
    uint32_t *ii;
    int nx, step, wout, hout;
    float scale;
    struct scratch *scr;
    struct chunk *chunks;
};

/* ---- features at fixed offsets (OpenCV's "optimized features") ------------ */

static void rect_ofs(const struct fer_layout *l, int ch, const struct fer_haar_rect *r, int tilted,
                     int32_t *o)
{
    if (tilted) { /* corners (x, y), (x - h, y + h), (x + w, y + w), (x + w - h, y + w + h) */
        o[0] = fer_layout_ofs(l, ch, r->x, r->y);
        o[1] = fer_layout_ofs(l, ch, r->x - r->h, r->y + r->h);
        o[2] = fer_layout_ofs(l, ch, r->x + r->w, r->y + r->w);
        o[3] = fer_layout_ofs(l, ch, r->x + r->w - r->h, r->y + r->w + r->h);
    } else {
        o[0] = fer_layout_ofs(l, ch, r->x, r->y);
        o[1] = fer_layout_ofs(l, ch, r->x + r->w, r->y);
        o[2] = fer_layout_ofs(l, ch, r->x, r->y + r->h);
        o[3] = fer_layout_ofs(l, ch, r->x + r->w, r->y + r->h);
    }
}

static void lay_init(const fer_cascade *c, struct lay_data *d)
{
    const struct fer_layout *l = &d->l;
    struct fer_haar_rect nr = {1, 1, c->win_w - 2, c->win_h - 2, 1.f}, zero = {0, 0, 0, 0, 0.f};
    rect_ofs(l, 0, &nr, 0, d->nofs);
    for (int i = 0; i < c->nnodes; i++) {
        const struct fer_cascade_node *nd = &c->nodes[i];
        struct opt_node *o = &d->nodes[i];
        memset(o, 0, sizeof(*o));
        o->thr = nd->threshold;
        if (c->feature_type == FER_FEATURE_LBP) {
            const struct fer_lbp_feature *lf = &c->lbp[nd->feature];
            for (int k = 0; k < 16; k++)
                o->ofs[k] = fer_layout_ofs(l, 0, lf->x + (k % 4) * lf->w, lf->y + (k / 4) * lf->h);
            o->subset = c->subsets + (size_t)i * (size_t)c->subset_words;
            continue;
        }
        const struct fer_haar_feature *hf = &c->haar[nd->feature];
        for (int r = 0; r < 3; r++) {
            const struct fer_haar_rect *rr = r < hf->nrects ? &hf->r[r] : &zero;
            rect_ofs(l, hf->tilted ? l->tilted_ch : 0, rr, hf->tilted, o->ofs + 4 * r);
            o->w[r] = rr->weight;
        }
        o->has3 = o->w[2] != 0.0f; /* OptFeature::calc skips a zero third weight */
    }
}

/* ---- evaluation ------------------------------------------------------------ */

/* The sum over rectangle a (4 corner offsets at o[a..a+3]) of the window at p. */
#define RSUM(p, o, a)          BSUM(p, o, a, (a) + 1, (a) + 2, (a) + 3)
#define BSUM(p, o, a, b, c, d) ((int32_t)((p)[(o)[a]] - (p)[(o)[b]] - (p)[(o)[c]] + (p)[(o)[d]]))

/* LBPEvaluator::OptFeature::calc: the 8 outer blocks against the centre one. */
static int lbp_calc(const int32_t *o, const uint32_t *p)
{
    int32_t cv = BSUM(p, o, 5, 6, 9, 10);
    return (BSUM(p, o, 0, 1, 4, 5) >= cv ? 128 : 0) | (BSUM(p, o, 1, 2, 5, 6) >= cv ? 64 : 0) |
           (BSUM(p, o, 2, 3, 6, 7) >= cv ? 32 : 0) | (BSUM(p, o, 6, 7, 10, 11) >= cv ? 16 : 0) |
           (BSUM(p, o, 10, 11, 14, 15) >= cv ? 8 : 0) | (BSUM(p, o, 9, 10, 13, 14) >= cv ? 4 : 0) |
           (BSUM(p, o, 8, 9, 12, 13) >= cv ? 2 : 0) | (BSUM(p, o, 4, 5, 8, 9) >= cv ? 1 : 0);
}

static int in_subset(const int32_t *subset, int c)
{
    return ((uint32_t)subset[c >> 5] >> (c & 31)) & 1u;
}

/* HaarEvaluator::OptFeature::calc (float weights times int sums, in this order) < threshold. */
static int haar_left(const struct opt_node *nd, const uint32_t *q, float vnf)
{
    float v = nd->w[0] * (float)RSUM(q, nd->ofs, 0) + nd->w[1] * (float)RSUM(q, nd->ofs, 4);
    if (nd->has3)
        v += nd->w[2] * (float)RSUM(q, nd->ofs, 8);
    return v * vnf < nd->thr;
}

/*
 * Node nd for n consecutive windows (window k at p + k): dec[k] = 1 where
 * the window goes left. Haar: the feature times the window's vnf against the
 * float threshold; LBP: the category's bit in the node's subset.
 */
static void decide(const struct opt_node *nd, int lbp, const uint32_t *restrict p, int n,
                   const float *restrict vnf, uint8_t *restrict dec)
{
    int32_t o[16];
    memcpy(o, nd->ofs, sizeof(o));
    if (lbp) {
        const int32_t *subset = nd->subset;
        for (int k = 0; k < n; k++)
            dec[k] = (uint8_t)in_subset(subset, lbp_calc(o, p + k));
        return;
    }
    const float w0 = nd->w[0], w1 = nd->w[1], w2 = nd->w[2], thr = nd->thr;
    const uint32_t *a0 = p + o[0], *a1 = p + o[1], *a2 = p + o[2], *a3 = p + o[3];
    const uint32_t *b0 = p + o[4], *b1 = p + o[5], *b2 = p + o[6], *b3 = p + o[7];
    const uint32_t *c0 = p + o[8], *c1 = p + o[9], *c2 = p + o[10], *c3 = p + o[11];
    for (int k = 0; k < n; k++) {
        float v = w0 * (float)(int32_t)(a0[k] - a1[k] - a2[k] + a3[k]) +
                  w1 * (float)(int32_t)(b0[k] - b1[k] - b2[k] + b3[k]);
        if (nd->has3)
            v += w2 * (float)(int32_t)(c0[k] - c1[k] - c2[k] + c3[k]);
        dec[k] = v * vnf[k] < thr;
    }
}

/*
 * Stage si of a Haar stump cascade for n consecutive windows, eight at a
 * time with the stage sums kept in registers (GCC vector extensions; plain
 * SSE2 when the compiler may not use AVX). Lane for lane these are the IEEE
 * operations of haar_left and the double sums of predictOrderedStump, in the
 * same order. Reads up to 7 windows past n: the buffers have that much slack
 * and the extra lanes are dropped.
 */
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef int64_t i64x4 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));

#define RECT8(dst, q, o)                                                                           \
    do {                                                                                           \
        u32x8 a_, b_, c_, d_;                                                                      \
        memcpy(&a_, (q) + (o)[0], sizeof(a_));                                                     \
        memcpy(&b_, (q) + (o)[1], sizeof(b_));                                                     \
        memcpy(&c_, (q) + (o)[2], sizeof(c_));                                                     \
        memcpy(&d_, (q) + (o)[3], sizeof(d_));                                                     \
        (dst) = __builtin_convertvector((i32x8)(a_ - b_ - c_ + d_), f32x8);                        \
    } while (0)

static void haar_stumps8(const struct scan *s, int si, const uint32_t *p, int n, const float *vnf,
                         double *acc)
{
    const fer_cascade *c = s->c;
    const struct fer_cascade_stage *st = &c->stages[si];
    const struct opt_node *on = s->cur->nodes + c->trees[st->first_tree].first_node;
    const float *lv = c->leaves + c->trees[st->first_tree].first_leaf;
    for (int k = 0; k < n; k += 8) {
        const uint32_t *q = p + k;
        f32x8 vn;
        f64x4 acc0 = {0, 0, 0, 0}, acc1 = {0, 0, 0, 0};
        memcpy(&vn, vnf + k, sizeof(vn));
        for (int t = 0; t < st->ntrees; t++) {
            const struct opt_node *nd = on + t;
            f32x8 r0, r1, r2;
            RECT8(r0, q, nd->ofs);
            RECT8(r1, q, nd->ofs + 4);
            f32x8 v = nd->w[0] * r0 + nd->w[1] * r1;
            if (nd->has3) {
                RECT8(r2, q, nd->ofs + 8);
                v += nd->w[2] * r2;
            }
            i32x8 m = v * vn < nd->thr;
            i32x4 mlo, mhi;
            memcpy(&mlo, &m, sizeof(mlo));
            memcpy(&mhi, (const char *)&m + sizeof(mlo), sizeof(mhi));
            i64x4 m0 = __builtin_convertvector(mlo, i64x4),
                  m1 = __builtin_convertvector(mhi, i64x4);
            double l = lv[2 * t], r = lv[2 * t + 1];
            f64x4 lf = {l, l, l, l}, rf = {r, r, r, r}, add0, add1;
            i64x4 L, R;
            memcpy(&L, &lf, sizeof(L));
            memcpy(&R, &rf, sizeof(R));
            i64x4 sel0 = (L & m0) | (R & ~m0), sel1 = (L & m1) | (R & ~m1);
            memcpy(&add0, &sel0, sizeof(add0));
            memcpy(&add1, &sel1, sizeof(add1));
            acc0 += add0;
            acc1 += add1;
        }
        memcpy(acc + k, &acc0, sizeof(acc0));
        memcpy(acc + k + 4, &acc1, sizeof(acc1));
    }
}

#define MAX_VEC_NODES 8 /* trees up to this size decide all their nodes for all windows */

/*
 * Stage si for n consecutive windows, window k at p + k normalised by
 * vnf[k]: the stage sums go to acc[k]. Stump cascades take leaves 0 and 1
 * whatever the node's left/right say (predictOrderedStump); tree cascades
 * walk each tree (predictOrdered, predictCategorical). dec holds
 * MAX_VEC_NODES * n bytes.
 */
static void stage_run(const struct scan *s, int si, const uint32_t *restrict p, int n,
                      const float *restrict vnf, double *restrict acc, uint8_t *restrict dec)
{
    const fer_cascade *c = s->c;
    const struct fer_cascade_stage *st = &c->stages[si];
    const struct opt_node *on = s->cur->nodes;
    const int lbp = c->feature_type == FER_FEATURE_LBP;
    if (s->stumps && !lbp && n >= 8) {
        haar_stumps8(s, si, p, n, vnf, acc);
        return;
    }
    for (int k = 0; k < n; k++)
        acc[k] = 0;
    for (int t = st->first_tree; t < st->first_tree + st->ntrees; t++) {
        const struct fer_cascade_tree *tr = &c->trees[t];
        const struct fer_cascade_node *nd = c->nodes + tr->first_node;
        const float *lv = c->leaves + tr->first_leaf;
        if (s->stumps) {
            decide(&on[tr->first_node], lbp, p, n, vnf, dec);
            const double L = lv[0], R = lv[1];
            for (int k = 0; k < n; k++)
                acc[k] += dec[k] ? L : R;
        } else if (tr->nnodes <= MAX_VEC_NODES) {
            for (int j = 0; j < tr->nnodes; j++)
                decide(&on[tr->first_node + j], lbp, p, n, vnf, dec + (size_t)j * n);
            for (int k = 0; k < n; k++) {
                int j = 0, next;
                while ((next = dec[(size_t)j * n + k] ? nd[j].left : nd[j].right) > 0)
                    j = next;
                acc[k] += (double)lv[-next];
            }
        } else {
            for (int k = 0; k < n; k++) {
                int j = 0, next;
                uint8_t d;
                do {
                    decide(&on[tr->first_node + j], lbp, p + k, 1, vnf + k, &d);
                    next = d ? nd[j].left : nd[j].right;
                } while (next > 0 && (j = next));
                acc[k] += (double)lv[-next];
            }
        }
    }
}

/* Stage si's sum for the one window at q (scalar; Haar stumps are the common case). */
static double stage_one(const struct scan *s, int si, const uint32_t *q, float vnf, uint8_t *dec)
{
    const fer_cascade *c = s->c;
    double sum = 0;
    if (s->stumps && c->feature_type == FER_FEATURE_HAAR) {
        const struct fer_cascade_stage *st = &c->stages[si];
        const float *lv = c->leaves + c->trees[st->first_tree].first_leaf;
        const struct opt_node *nd = s->cur->nodes + c->trees[st->first_tree].first_node;
        for (int t = 0; t < st->ntrees; t++)
            sum += (double)lv[2 * t + !haar_left(nd + t, q, vnf)];
        return sum;
    }
    stage_run(s, si, q, 1, &vnf, &sum, dec);
    return sum;
}

/*
 * HaarEvaluator::setWindow for n windows: vnf = 1 / sqrt(area * sqsum -
 * sum^2) over the window inset by one pixel; a window is skipped (OpenCV's
 * result -1) unless area * vnf < 0.1.
 */
static void variance_row(const struct scan *s, const uint32_t *restrict p, int n,
                         float *restrict vnf, uint8_t *restrict valid)
{
    const int32_t *o = s->cur->nofs;
    const uint32_t *q = p + s->cur->l.chstride;
    const double area = (double)(s->c->win_w - 2) * (s->c->win_h - 2);
    for (int k = 0; k < n; k++) {
        int32_t sum = (int32_t)(p[o[0] + k] - p[o[1] + k] - p[o[2] + k] + p[o[3] + k]);
        uint32_t sq = q[o[0] + k] - q[o[1] + k] - q[o[2] + k] + q[o[3] + k];
        double nf = area * sq - (double)sum * sum;
        float f = nf > 0. ? (float)(1. / sqrt(nf)) : 1.f;
        vnf[k] = f;
        valid[k] = nf > 0. && area * (double)f < 1e-1;
    }
}

static int push_rect(struct chunk *ch, fer_rect r)
{
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 64;
        fer_rect *nr = fer_realloc(ch->r, cap * sizeof(*nr));
        if (!nr)
            return 0;
        ch->r = nr;
        ch->cap = cap;
    }
    ch->r[ch->n++] = r;
    return 1;
}

/*
 * The windows of row y of the current scale, in OpenCV's order. Stage 0 runs
 * on the whole row; the survivors go on stage by stage, in blocks of 8
 * consecutive windows wherever two or more of them are still alive (vector
 * loads beat single ones), one by one elsewhere.
 */
static void scan_row(const struct scan *s, int y, struct scratch *w, struct chunk *out)
{
    const fer_cascade *c = s->c;
    const uint32_t *p = s->ii + (size_t)y * (size_t)s->cur->l.rs;
    int K = s->nx, m = 0;
    if (c->feature_type == FER_FEATURE_HAAR) {
        variance_row(s, p, K, w->vnf, w->valid);
    } else {
        for (int k = 0; k < K; k++)
            w->vnf[k] = 1.f, w->valid[k] = 1;
    }
    stage_run(s, 0, p, K, w->vnf, w->acc, w->dec);
    /* OpenCV's x loop: a window rejected by stage 0 makes it skip the next one */
    double thr = c->stages[0].threshold;
    for (int k = 0; k < K; k++) {
        if (!w->valid[k])
            continue;
        if (w->acc[k] < thr) {
            k++;
            continue;
        }
        w->idx[m++] = k;
    }
    for (int si = 1; si < c->nstages && m > 0; si++) {
        int kept = 0;
        thr = c->stages[si].threshold;
        for (int i = 0, e; i < m; i = e) {
            int start = w->idx[i];
            for (e = i + 1; e < m && w->idx[e] < start + 8; e++)
                ;
            if (e - i == 1) {
                if (stage_one(s, si, p + start, w->vnf[start], w->dec) >= thr)
                    w->idx[kept++] = start;
                continue;
            }
            stage_run(s, si, p + start, 8, w->vnf + start, w->acc, w->dec);
            for (int j = i; j < e; j++)
                if (w->acc[w->idx[j] - start] >= thr)
                    w->idx[kept++] = w->idx[j];
        }
        m = kept;
    }
    for (int i = 0; i < m && !out->nomem; i++) {
        fer_rect r = {(int)lrintf((float)(w->idx[i] * s->step) * s->scale),
                      (int)lrintf((float)y * s->scale), s->wout, s->hout};
        out->nomem = !push_rect(out, r);
    }
}

static void scan_task(void *arg, size_t task, int thread)
{
    const struct scan *s = arg;
    struct chunk *ch = &s->chunks[task];
    for (int r = ch->row0; r < ch->row1; r++)
        scan_row(s, r * s->step, &s->scr[thread], ch);
}

/* ---- the multi-scale loop ---------------------------------------------------- */

#define MAX_SCALES 10000

/* The scales detectMultiScaleNoGrouping visits: window sizes between min and max. */
static int list_scales(const fer_cascade *c, int W, int H, const struct fer_detect_params *p,
                       float *scales)
{
    int maxw = p->max_w, maxh = p->max_h, n = 0;
    if (maxw == 0 || maxh == 0)
        maxw = W, maxh = H;
    double factor = 1;
    for (int it = 0; it < 1000000; it++, factor *= p->scale_factor) {
        double ww = rint(c->win_w * factor), wh = rint(c->win_h * factor);
        if (ww > maxw || wh > maxh || ww > W || wh > H)
            return n;
        if (ww < p->min_w || wh < p->min_h)
            continue;
        if (n == MAX_SCALES)
            return -1;
        scales[n++] = (float)factor;
    }
    return -1;
}

static int grow_rects(fer_rect **a, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    fer_rect *r = fer_realloc(*a, ncap * sizeof(*r));
    if (!r)
        return 0;
    *a = r;
    *cap = ncap;
    return 1;
}

static int scaled(int v, float sc)
{
    return (int)lrintf((float)v / sc); /* cvRound(imgsz.width / scale), in float */
}

static enum fer_status check_args(const fer_cascade *c, const fer_image *g,
                                  const struct fer_detect_params *p, fer_rect **faces, size_t *n,
                                  char *err)
{
    if (!c || !g || !p || !faces || !n)
        return fer_errorf(err, FER_ERR_ARG, "detect: missing argument");
    if (g->channels != 1 || !g->data || g->width <= 0 || g->height <= 0)
        return fer_errorf(err, FER_ERR_ARG, "detect: need a non-empty gray image");
    if (!(p->scale_factor > 1.0) || !isfinite(p->scale_factor))
        return fer_errorf(err, FER_ERR_ARG, "detect: scale factor %g must be above 1",
                          p->scale_factor);
    if (p->min_w < 0 || p->min_h < 0 || p->max_w < 0 || p->max_h < 0)
        return fer_errorf(err, FER_ERR_ARG, "detect: negative size limit");
    return FER_OK;
}

/*
 * One detection: struct scan (what the threads read) and the buffers of the scaled image and
 * its integrals, sized for the first (largest) scale and reused by the others; the boxes
 * found so far.
 */
struct detect_run {
    struct scan s;
    int nthreads, nchunks, nstripes;
    uint8_t *img;
    int32_t *rscratch, *pos;
    uint32_t *tbuf;
    fer_rect *all;
    size_t nall, capall;
};

static enum fer_status out_of_memory(char *err, const fer_image *g)
{
    return fer_errorf(err, FER_ERR_NOMEM, "detect: out of memory (%dx%d image)", g->width,
                      g->height);
}

/* One thread's rows of candidate windows, rs wide; 0, or -1 when memory ran out. */
static int alloc_scratch(struct scratch *w, int rs)
{
    w->vnf = fer_calloc((size_t)rs + 8, sizeof(float)); /* 8 lanes of slack */
    w->valid = fer_malloc((size_t)rs);
    w->dec = fer_malloc((size_t)rs * MAX_VEC_NODES);
    w->acc = fer_malloc(sizeof(double) * ((size_t)rs + 8));
    w->idx = fer_malloc(sizeof(int32_t) * (size_t)rs);
    return w->vnf && w->valid && w->dec && w->acc && w->idx ? 0 : -1;
}

/* The buffers for an image scaled down by scale0, the first and largest of its scales. */
static enum fer_status alloc_run(struct detect_run *d, const fer_image *gray, float scale0,
                                 char *err)
{
    struct scan *s = &d->s;
    const fer_cascade *c = s->c;
    const int W = gray->width, H = gray->height, haar = c->feature_type == FER_FEATURE_HAAR;
    int sw0 = scaled(W, scale0), sh0 = scaled(H, scale0);
    d->nstripes = (sw0 + 1 - c->win_w + 31) / 32; /* cvCeil(working width / 32.) */
    if (d->nstripes < 0)
        d->nstripes = 0;
    int nch = haar ? (c->has_tilted ? 3 : 2) : 1;
    int pw = (sw0 + 2) / 2, rs = 2 * pw;
    if ((double)nch * (sh0 + 1) * rs > 2147483647.0)
        return fer_errorf(err, FER_ERR_LIMIT, "detect: image too large (%dx%d)", W, H);
    int32_t chstride = (int32_t)((sh0 + 1) * rs);
    s->ii = fer_calloc((size_t)nch * (size_t)chstride + 16, sizeof(uint32_t)); /* + slack */
    d->img = fer_malloc((size_t)sw0 * (size_t)sh0);
    d->rscratch = fer_malloc(sizeof(int32_t) * fer_resize_scratch_ints(sw0, sh0));
    d->pos = fer_malloc(sizeof(int32_t) * (size_t)(sw0 + 2));
    d->tbuf = fer_malloc(sizeof(uint32_t) * (size_t)(sw0 + 2));
    s->scr = fer_calloc((size_t)d->nthreads, sizeof(*s->scr));
    if (!s->ii || !d->img || !d->rscratch || !d->pos || !d->tbuf || !s->scr)
        return out_of_memory(err, gray);
    for (int t = 0; t < d->nthreads; t++)
        if (alloc_scratch(&s->scr[t], rs) != 0)
            return out_of_memory(err, gray);
    for (int k = 0; k < 2; k++) {
        struct lay_data *l = &s->lay[k];
        l->l = (struct fer_layout){
            .step = k + 1, .pw = k ? pw : rs, .rs = rs, .tilted_ch = 2, .chstride = chstride};
        l->nodes = fer_malloc(sizeof(*l->nodes) * (size_t)c->nnodes);
        if (!l->nodes)
            return out_of_memory(err, gray);
        lay_init(c, l);
    }
    return FER_OK;
}

static void free_run(struct detect_run *d)
{
    struct scan *s = &d->s;
    for (int t = 0; s->scr && t < d->nthreads; t++) {
        fer_free(s->scr[t].vnf);
        fer_free(s->scr[t].valid);
        fer_free(s->scr[t].dec);
        fer_free(s->scr[t].acc);
        fer_free(s->scr[t].idx);
    }
    for (int k = 0; k < 2; k++)
        fer_free(s->lay[k].nodes);
    for (int t = 0; t < d->nchunks; t++)
        fer_free(s->chunks[t].r);
    fer_free(s->chunks);
    fer_free(s->scr);
    fer_free(s->ii);
    fer_free(d->img);
    fer_free(d->rscratch);
    fer_free(d->pos);
    fer_free(d->tbuf);
    fer_free(d->all);
}

/* Cuts `rows` window rows into `need` chunks of `per` rows; 0, or -1 when memory ran out. */
static int plan_chunks(struct detect_run *d, int rows, int per, int need)
{
    struct scan *s = &d->s;
    if (need > d->nchunks) {
        struct chunk *nc = fer_realloc(s->chunks, sizeof(*nc) * (size_t)need);
        if (!nc)
            return -1;
        memset(nc + d->nchunks, 0, sizeof(*nc) * (size_t)(need - d->nchunks));
        s->chunks = nc;
        d->nchunks = need;
    }
    for (int t = 0; t < need; t++) {
        s->chunks[t].n = 0;
        s->chunks[t].row0 = t * per;
        s->chunks[t].row1 = (t + 1) * per < rows ? (t + 1) * per : rows;
    }
    return 0;
}

/* Appends the boxes of the first `need` chunks, in order, to d->all; 0, or -1 (memory). */
static int collect_chunks(struct detect_run *d, int need)
{
    for (int t = 0; t < need; t++) {
        struct chunk *ch = &d->s.chunks[t];
        if (ch->nomem || !grow_rects(&d->all, &d->capall, d->nall + ch->n))
            return -1;
        if (ch->n)
            memcpy(d->all + d->nall, ch->r, ch->n * sizeof(*d->all));
        d->nall += ch->n;
    }
    return 0;
}

/* The windows of one scale (the image shrunk by sc) that pass the cascade, added to d->all. */
static enum fer_status scan_scale(struct detect_run *d, const fer_image *gray, float sc,
                                  fer_pool *pool, char *err)
{
    struct scan *s = &d->s;
    const fer_cascade *c = s->c;
    const int W = gray->width, H = gray->height, haar = c->feature_type == FER_FEATURE_HAAR;
    int sw = scaled(W, sc), sh = scaled(H, sc);
    s->scale = sc;
    s->step = sc >= 2 ? 1 : 2;
    s->cur = &s->lay[s->step - 1];
    s->wout = (int)lrintf((float)c->win_w * sc);
    s->hout = (int)lrintf((float)c->win_h * sc);
    int ny = sh + 1 - c->win_h, nxw = sw + 1 - c->win_w;
    if (ny <= 0 || nxw <= 0 || d->nstripes == 0)
        return FER_OK;
    /* OpenCV cuts the rows into nstripes stripes of a rounded-down size, which can
     * leave the last row out (CascadeClassifierImpl::detectMultiScaleNoGrouping) */
    int stripe = ((ny / s->step + d->nstripes - 1) / d->nstripes) * s->step;
    if (stripe < s->step)
        stripe = s->step;
    if ((double)stripe * d->nstripes < ny)
        ny = stripe * d->nstripes;
    s->nx = (nxw + s->step - 1) / s->step;
    fer_resize_linear_u8(gray->data, W, H, (size_t)W, d->img, sw, sh, (size_t)sw, d->rscratch);
    fer_integrals(d->img, sw, sh, &s->cur->l, s->ii, haar, c->has_tilted, d->pos, d->tbuf);
    int rows = (ny + s->step - 1) / s->step;
    int per = pool && d->nthreads > 1 ? (rows + d->nthreads * 4 - 1) / (d->nthreads * 4) : rows;
    int need = (rows + per - 1) / per;
    if (plan_chunks(d, rows, per, need) != 0)
        return out_of_memory(err, gray);
    fer_pool_run(pool, (size_t)need, scan_task, s);
    if (collect_chunks(d, need) != 0)
        return out_of_memory(err, gray);
    return FER_OK;
}

enum fer_status fer_cascade_detect_pool(const fer_cascade *c, const fer_image *gray,
                                        const struct fer_detect_params *p, fer_pool *pool,
                                        fer_rect **faces, size_t *n, char *err)
{
    enum fer_status st = check_args(c, gray, p, faces, n, err);
    if (st != FER_OK)
        return st;
    *faces = NULL;
    *n = 0;
    struct detect_run d = {.s = {.c = c, .stumps = c->max_nodes == 1},
                           .nthreads = pool ? fer_pool_threads(pool) : 1};
    float *scales = fer_malloc(sizeof(float) * MAX_SCALES);
    int nscales = 0;
    if (!scales)
        st = out_of_memory(err, gray);
    else if ((nscales = list_scales(c, gray->width, gray->height, p, scales)) < 0)
        st = fer_errorf(err, FER_ERR_LIMIT, "detect: more than %d scales", MAX_SCALES);
    if (st == FER_OK && nscales > 0) {
        st = alloc_run(&d, gray, scales[0], err);
        for (int si = 0; st == FER_OK && si < nscales; si++)
            st = scan_scale(&d, gray, scales[si], pool, err);
        if (st == FER_OK)
            st = fer_group_rects(d.all, &d.nall, p->min_neighbors, 0.2, err);
        if (st == FER_OK) {
            *faces = d.all;
            *n = fer_clip_rects(d.all, d.nall, gray->width, gray->height);
            d.all = NULL;
        }
    }
    free_run(&d);
    fer_free(scales);
    return st;
}
