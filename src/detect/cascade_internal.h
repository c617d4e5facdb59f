/*
 * cascade_internal.h - the cascade model as the detect/ files share it.
 *
 * A cascade is OpenCV's boosted cascade (Viola & Jones 2001) flattened into
 * arrays: stages hold consecutive weak trees, trees hold consecutive nodes and
 * nodes+1 leaves. Haar features have up to three weighted rectangles, upright
 * or rotated by 45 degrees (Lienhart & Maydt 2002); LBP features are a 3x3
 * grid of equal blocks. The layout follows OpenCV's CascadeClassifierImpl::Data
 * so that evaluation can repeat its arithmetic exactly.
 */
#ifndef FER_DETECT_CASCADE_INTERNAL_H
#define FER_DETECT_CASCADE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "detect/cascade.h"

enum { FER_FEATURE_HAAR = 0, FER_FEATURE_LBP = 1 };

/* Largest cascade window accepted from a file (the shipped ones are at most 80). */
#define FER_CASCADE_MAX_WIN 1024
/* Limits far above OpenCV's cascades (at most 50 stages, 3,000 trees) and far below a file
   made to stall detection. */
#define FER_CASCADE_MAX_STAGES 1000
#define FER_CASCADE_MAX_TREES  100000

struct fer_haar_rect {
    int x, y, w, h;
    float weight;
};

struct fer_haar_feature {
    struct fer_haar_rect r[3]; /* unused rectangles have weight 0 */
    int nrects;                /* 1..3 */
    int tilted;                /* rotated 45 degrees (Lienhart & Maydt 2002) */
};

struct fer_lbp_feature {
    int x, y, w, h; /* top-left block; the feature covers 3w x 3h */
};

/* A tree node: left/right > 0 index a node of the same tree, <= 0 a leaf (-value). */
struct fer_cascade_node {
    int feature;
    float threshold; /* ordered (Haar) features only */
    int left, right;
};

struct fer_cascade_tree {
    int first_node, nnodes, first_leaf;
};

struct fer_cascade_stage {
    int first_tree, ntrees;
    float threshold; /* as read, minus OpenCV's THRESHOLD_EPS (1e-5f) */
};

struct fer_cascade {
    char *name; /* file name, for messages */
    int feature_type;
    int win_w, win_h;
    int ncategories;  /* 256 for LBP, 0 for Haar */
    int subset_words; /* (ncategories + 31) / 32 */
    int max_nodes;    /* nodes in the largest tree; 1 means all trees are stumps */
    int has_tilted;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    struct fer_cascade_stage *stages;
    struct fer_cascade_tree *trees;
    struct fer_cascade_node *nodes;
    float *leaves;
    int32_t *subsets; /* subset_words per node (LBP) */
    struct fer_haar_feature *haar;
    struct fer_lbp_feature *lbp;
    size_t cap[6]; /* capacities of the arrays while the model is read */
};

/* realloc to room for need elements of elsize, doubling; NULL (p kept) on failure. */
void *fer_grow(void *p, size_t *cap, size_t need, size_t elsize);

/*
 * Growing a model while it is read (cascade_xml.c): a stage, a tree of the
 * last stage, a node of the last tree (subset: subset_words ints, LBP only),
 * a leaf of the last tree, a feature. FER_ERR_NOMEM when memory runs out;
 * the caller writes the message.
 */
enum fer_status fer_cascade_add_stage(fer_cascade *c, float threshold);
enum fer_status fer_cascade_add_tree(fer_cascade *c);
enum fer_status fer_cascade_add_node(fer_cascade *c, struct fer_cascade_node node,
                                     const int32_t *subset);
enum fer_status fer_cascade_add_leaf(fer_cascade *c, float value);
enum fer_status fer_cascade_add_haar(fer_cascade *c, const struct fer_haar_feature *f);
enum fer_status fer_cascade_add_lbp(fer_cascade *c, const struct fer_lbp_feature *f);

/*
 * Checks a filled-in model (indices, rectangles inside the window, leaf
 * counts) and returns FER_ERR_FORMAT with a message naming c->name when
 * something is off; on success fills in max_nodes and has_tilted. Called by
 * the XML loader before it hands a model out.
 */
enum fer_status fer_cascade_validate(fer_cascade *c, char *err);

/*
 * OpenCV's groupRectangles(rects, group_threshold, eps): clusters similar
 * boxes, averages each cluster, keeps clusters with more than
 * group_threshold members and drops small ones inside bigger ones. Works in
 * place; *n becomes the number kept. group_threshold <= 0 keeps all boxes.
 * Returns FER_ERR_NOMEM if scratch memory cannot be had.
 */
enum fer_status fer_group_rects(fer_rect *rects, size_t *n, int group_threshold, double eps,
                                char *err);

/*
 * clipObjects: boxes cut to a W x H image, empty ones dropped, in place;
 * returns how many remain.
 */
size_t fer_clip_rects(fer_rect *r, size_t n, int W, int H);

/*
 * Integral images of one pyramid level in one buffer: channel ch (0 sum, 1
 * squared sum, 2 tilted sum), row y, column x at ch * chstride + y * rs +
 * (x % step) * pw + x / step. With the scan's step 2 the windows x = 0, 2,
 * 4... of a row then read consecutive ints. Step 1 uses pw = rs.
 */
struct fer_layout {
    int step, pw, rs, tilted_ch;
    int32_t chstride;
};

int32_t fer_layout_ofs(const struct fer_layout *l, int ch, int x, int y);

/*
 * The (w + 1) x (h + 1) integral images of img (w x h, tightly packed) into
 * out in layout l: the sum, the squared sum when want_sq, the tilted sum
 * when tilted, all mod 2^32 as OpenCV's CV_32S integrals. pos and buf are
 * scratch of w + 2 ints each.
 */
void fer_integrals(const uint8_t *img, int w, int h, const struct fer_layout *l, uint32_t *out,
                   int want_sq, int tilted, int32_t *pos, uint32_t *buf);

/*
 * OpenCV's resize(src, dst, Size(dw, dh), 0, 0, INTER_LINEAR_EXACT) for
 * 8-bit gray images, bit for bit (the resize detectMultiScale uses for its
 * pyramid): 8-bit fixed-point bilinear weights, the 2x2 average when the size
 * halves exactly, a plain copy when it does not change. Strides are in
 * bytes; scratch holds fer_resize_scratch_ints(dw, dh) ints. Meant for
 * shrinking (dw <= sw, dh <= sh).
 */
void fer_resize_linear_u8(const uint8_t *src, int sw, int sh, size_t sstride, uint8_t *dst, int dw,
                          int dh, size_t dstride, int32_t *scratch);
/* Ints of scratch fer_resize_linear_u8 needs for a dw x dh output. */
size_t fer_resize_scratch_ints(int dw, int dh);

#endif
