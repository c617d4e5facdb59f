/*
 * cascade_xml.c - reads OpenCV cascade files (XML FileStorage) with expat.
 *
 * Two layouts exist. The current one (<cascade type_id="opencv-cascade-
 * classifier">, written by opencv_traincascade) holds stages of weak trees
 * as flat number lists plus a feature table, for Haar or LBP features. The
 * old one (type_id "opencv-haar-classifier", OpenCV 1.x/2.x haartraining)
 * nests a feature inside every tree node; OpenCV 4 converts it on load
 * (cascadedetect_convert.cpp) and so does this file, with the same rules.
 * Haar features after Viola & Jones 2001, tilted ones after Lienhart & Maydt
 * 2002. The XML is parsed into a small tree first; every count, index and
 * number is checked, and any problem is FER_ERR_FORMAT naming the file and
 * line, never a crash.
 */
#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "detect/cascade_internal.h"

#define XML_MAX_DEPTH 32

/* ---- a minimal element tree ------------------------------------------------ */

struct xnode {
    size_t name, text, text_len; /* offsets into the arena; text only for leaves */
    int first, last, next;       /* children and sibling, -1 for none */
    unsigned long line;
};

struct xdoc {
    struct xnode *n;
    size_t nn, ncap;
    char *arena;
    size_t alen, acap;
    char *cur; /* character data of the innermost open element */
    size_t clen, ccap;
    int stack[XML_MAX_DEPTH];
    int depth;
    XML_Parser parser;
    enum fer_status st;
    char msg[160];
};

static void doc_fail(struct xdoc *d, enum fer_status st, const char *msg)
{
    if (d->st == FER_OK) {
        d->st = st;
        snprintf(d->msg, sizeof(d->msg), "%s", msg);
    }
    XML_StopParser(d->parser, XML_FALSE);
}

static int all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Appends n bytes and a NUL to the arena; returns the offset or (size_t)-1. */
static size_t arena_add(struct xdoc *d, const char *s, size_t n)
{
    char *a = fer_grow(d->arena, &d->acap, d->alen + n + 1, 1);
    if (!a)
        return (size_t)-1;
    d->arena = a;
    size_t off = d->alen;
    if (n) /* s is NULL for an empty element met before any text */
        memcpy(a + off, s, n);
    a[off + n] = '\0';
    d->alen += n + 1;
    return off;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xdoc *d = ud;
    (void)atts;
    if (d->st != FER_OK) /* stopped: expat may still report what it had begun */
        return;
    if (d->depth >= XML_MAX_DEPTH) {
        doc_fail(d, FER_ERR_FORMAT, "elements nested too deeply");
        return;
    }
    if (!all_space(d->cur, d->clen)) {
        doc_fail(d, FER_ERR_FORMAT, "text mixed with elements");
        return;
    }
    d->clen = 0;
    struct xnode *n = fer_grow(d->n, &d->ncap, d->nn + 1, sizeof(*n));
    if (!n) {
        doc_fail(d, FER_ERR_NOMEM, "out of memory");
        return;
    }
    d->n = n;
    size_t off = arena_add(d, name, strlen(name));
    if (off == (size_t)-1) {
        doc_fail(d, FER_ERR_NOMEM, "out of memory");
        return;
    }
    int id = (int)d->nn++;
    n[id] = (struct xnode){.name = off, .first = -1, .last = -1, .next = -1};
    n[id].line = (unsigned long)XML_GetCurrentLineNumber(d->parser);
    if (d->depth > 0) {
        int parent = d->stack[d->depth - 1];
        if (n[parent].last >= 0)
            n[n[parent].last].next = id;
        else
            n[parent].first = id;
        n[parent].last = id;
    } else if (id != 0) {
        doc_fail(d, FER_ERR_FORMAT, "more than one root element");
        return;
    }
    d->stack[d->depth++] = id;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xdoc *d = ud;
    (void)name;
    if (d->st != FER_OK || d->depth == 0)
        return;
    int id = d->stack[--d->depth];
    if (d->n[id].first < 0) {
        size_t off = arena_add(d, d->cur, d->clen);
        if (off == (size_t)-1) {
            doc_fail(d, FER_ERR_NOMEM, "out of memory");
            return;
        }
        d->n[id].text = off;
        d->n[id].text_len = d->clen;
    } else if (!all_space(d->cur, d->clen)) {
        doc_fail(d, FER_ERR_FORMAT, "text mixed with elements");
        return;
    }
    d->clen = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xdoc *d = ud;
    if (d->st != FER_OK)
        return;
    char *c = fer_grow(d->cur, &d->ccap, d->clen + (size_t)len, 1);
    if (!c) {
        doc_fail(d, FER_ERR_NOMEM, "out of memory");
        return;
    }
    d->cur = c;
    memcpy(c + d->clen, s, (size_t)len);
    d->clen += (size_t)len;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    /* OpenCV never writes one; refusing DTDs rules out entity expansion bombs */
    doc_fail(ud, FER_ERR_FORMAT, "DOCTYPE declarations are not allowed");
}

static void doc_free(struct xdoc *d)
{
    fer_free(d->n);
    fer_free(d->arena);
    fer_free(d->cur);
}

static const XML_Memory_Handling_Suite xml_mem = {fer_malloc, fer_realloc, fer_free};

static enum fer_status doc_parse(struct xdoc *d, const char *xml, size_t len, const char *name,
                                 char *err)
{
    memset(d, 0, sizeof(*d));
    if (len > (size_t)0x7fffffff)
        return fer_errorf(err, FER_ERR_LIMIT, "%s: file too large", name);
    d->parser = XML_ParserCreate_MM(NULL, &xml_mem, NULL);
    if (!d->parser)
        return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", name);
    XML_SetUserData(d->parser, d);
    XML_SetElementHandler(d->parser, on_start, on_end);
    XML_SetCharacterDataHandler(d->parser, on_text);
    XML_SetStartDoctypeDeclHandler(d->parser, on_doctype);
    enum XML_Status xs = XML_Parse(d->parser, xml, (int)len, XML_TRUE);
    unsigned long line = (unsigned long)XML_GetCurrentLineNumber(d->parser);
    enum fer_status st = FER_OK;
    if (d->st != FER_OK)
        st = fer_errorf(err, d->st, "%s: line %lu: %s", name, line, d->msg);
    else if (xs != XML_STATUS_OK && XML_GetErrorCode(d->parser) == XML_ERROR_NO_MEMORY)
        st = fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", name);
    else if (xs != XML_STATUS_OK)
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: line %lu: XML error: %s", name, line,
                        XML_ErrorString(XML_GetErrorCode(d->parser)));
    else if (d->nn == 0 || strcmp(d->arena + d->n[0].name, "opencv_storage") != 0)
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: root element is not <opencv_storage>", name);
    XML_ParserFree(d->parser);
    d->parser = NULL;
    return st;
}

/* ---- reading values ------------------------------------------------------ */

struct loader {
    const char *name;
    struct xdoc d;
    fer_cascade *c;
    double *nums;
    size_t cap_nums;
    char *err;
};

static const char *nname(const struct loader *L, int id)
{
    return L->d.arena + L->d.n[id].name;
}

static enum fer_status bad(struct loader *L, int id, const char *what)
{
    return fer_errorf(L->err, FER_ERR_FORMAT, "%s: line %lu: <%s>: %s", L->name,
                      id >= 0 ? L->d.n[id].line : 0UL, id >= 0 ? nname(L, id) : "?", what);
}

static int child(const struct loader *L, int id, const char *name)
{
    for (int c = L->d.n[id].first; c >= 0; c = L->d.n[c].next)
        if (strcmp(nname(L, c), name) == 0)
            return c;
    return -1;
}

/* Counts the "_" items of a sequence element; -1 if it has other children or text. */
static int items(const struct loader *L, int id)
{
    int n = 0;
    if (L->d.n[id].first < 0)
        return all_space(L->d.arena + L->d.n[id].text, L->d.n[id].text_len) ? 0 : -1;
    for (int c = L->d.n[id].first; c >= 0; c = L->d.n[c].next) {
        if (strcmp(nname(L, c), "_") != 0)
            return -1;
        n++;
    }
    return n;
}

/* Parses the whitespace-separated numbers of a leaf into L->nums; returns the count or -1. */
static int numbers(struct loader *L, int id)
{
    const struct xnode *x = &L->d.n[id];
    if (x->first >= 0)
        return -1;
    const char *s = L->d.arena + x->text, *end = s + x->text_len;
    int n = 0;
    for (;;) {
        while (s < end && isspace((unsigned char)*s))
            s++;
        if (s == end)
            return n;
        char tok[64];
        size_t k = 0;
        while (s < end && !isspace((unsigned char)*s)) {
            if (k + 1 >= sizeof(tok))
                return -1;
            tok[k++] = *s++;
        }
        tok[k] = '\0';
        char *stop;
        errno = 0;
        double v = strtod(tok, &stop);
        if (stop != tok + k || !isfinite(v) || errno == ERANGE)
            return -1;
        double *nums = fer_grow(L->nums, &L->cap_nums, (size_t)n + 1, sizeof(double));
        if (!nums)
            return -2;
        L->nums = nums;
        nums[n++] = v;
    }
}

/* OpenCV reads an int from a real by rounding; refuse values outside int. */
static int to_int(double v, int *out)
{
    if (!(v >= -2147483648.0 && v <= 2147483647.0))
        return 0;
    *out = (int)lrint(v);
    return 1;
}

static enum fer_status nums_of(struct loader *L, int id, int *count)
{
    int n = numbers(L, id);
    if (n == -2)
        return fer_errorf(L->err, FER_ERR_NOMEM, "%s: out of memory", L->name);
    if (n < 0)
        return bad(L, id, "expected a list of numbers");
    *count = n;
    return FER_OK;
}

/* A named child holding exactly one number. */
static enum fer_status scalar(struct loader *L, int parent, const char *name, double *v)
{
    int id = child(L, parent, name);
    if (id < 0) {
        char what[96];
        snprintf(what, sizeof(what), "missing <%s>", name);
        return bad(L, parent, what);
    }
    int n;
    enum fer_status st = nums_of(L, id, &n);
    if (st != FER_OK)
        return st;
    if (n != 1)
        return bad(L, id, "expected one number");
    *v = L->nums[0];
    return FER_OK;
}

static enum fer_status scalar_int(struct loader *L, int parent, const char *name, int *v)
{
    double d = 0;
    enum fer_status st = scalar(L, parent, name, &d);
    if (st == FER_OK && !to_int(d, v))
        return bad(L, child(L, parent, name), "integer out of range");
    return st;
}

/* The trimmed text of a leaf compared with s. */
static int text_is(const struct loader *L, int id, const char *s)
{
    const struct xnode *x = &L->d.n[id];
    const char *t = L->d.arena + x->text, *e = t + x->text_len;
    while (t < e && isspace((unsigned char)*t))
        t++;
    while (e > t && isspace((unsigned char)e[-1]))
        e--;
    return x->first < 0 && (size_t)(e - t) == strlen(s) && memcmp(t, s, (size_t)(e - t)) == 0;
}

/* ---- reading the two layouts -------------------------------------------- */

#define NOMEM(L) fer_errorf((L)->err, FER_ERR_NOMEM, "%s: out of memory", (L)->name)

/* Reads a Haar feature's <rects> (1..3 items "x y w h weight") and <tilted>. */
static enum fer_status read_haar_feature(struct loader *L, int fid, int old_format)
{
    struct fer_haar_feature feat = {0}, *f = &feat;
    int rects = child(L, fid, "rects");
    if (rects < 0)
        return bad(L, fid, "missing <rects>");
    int nr = items(L, rects);
    if (nr < 1 || nr > 3)
        return bad(L, rects, "expected 1 to 3 rectangles");
    int k = 0;
    for (int r = L->d.n[rects].first; r >= 0; r = L->d.n[r].next, k++) {
        int n;
        enum fer_status st = nums_of(L, r, &n);
        if (st != FER_OK)
            return st;
        int v[4];
        if (n != 5 || !to_int(L->nums[0], &v[0]) || !to_int(L->nums[1], &v[1]) ||
            !to_int(L->nums[2], &v[2]) || !to_int(L->nums[3], &v[3]))
            return bad(L, r, "expected a rectangle: x y width height weight");
        f->r[k] = (struct fer_haar_rect){v[0], v[1], v[2], v[3], (float)L->nums[4]};
    }
    f->nrects = nr;
    /* the conversion writes rects 0 and 1 always, rect 2 only with a weight */
    if (old_format) {
        f->nrects = nr < 2 ? 2 : nr;
        if (nr == 3 && fabsf(f->r[2].weight) < FLT_EPSILON) {
            f->nrects = 2;
            memset(&f->r[2], 0, sizeof(f->r[2]));
        }
    }
    int tilted = child(L, fid, "tilted");
    if (tilted >= 0) {
        double t;
        enum fer_status st = scalar(L, fid, "tilted", &t);
        if (st != FER_OK)
            return st;
        f->tilted = fabs(t) > 0.5; /* (int)node["tilted"] != 0, rounding half to even */
    }
    return fer_cascade_add_haar(L->c, f) == FER_OK ? FER_OK : NOMEM(L);
}

static enum fer_status read_lbp_feature(struct loader *L, int fid)
{
    int rect = child(L, fid, "rect"), n;
    if (rect < 0)
        return bad(L, fid, "missing <rect>");
    enum fer_status st = nums_of(L, rect, &n);
    if (st != FER_OK)
        return st;
    struct fer_lbp_feature f;
    if (n != 4 || !to_int(L->nums[0], &f.x) || !to_int(L->nums[1], &f.y) ||
        !to_int(L->nums[2], &f.w) || !to_int(L->nums[3], &f.h))
        return bad(L, rect, "expected x y width height");
    return fer_cascade_add_lbp(L->c, &f) == FER_OK ? FER_OK : NOMEM(L);
}

/* One weak tree of the current format: internalNodes and leafValues lists. */
static enum fer_status read_weak(struct loader *L, int wid, int node_step)
{
    fer_cascade *c = L->c;
    int inodes = child(L, wid, "internalNodes"), lvals = child(L, wid, "leafValues"), n;
    if (inodes < 0 || lvals < 0)
        return bad(L, wid, "missing <internalNodes> or <leafValues>");
    enum fer_status st = fer_cascade_add_tree(c) == FER_OK ? FER_OK : NOMEM(L);
    if (st == FER_OK)
        st = nums_of(L, inodes, &n);
    if (st != FER_OK)
        return st;
    if (n == 0 || n % node_step != 0)
        return bad(L, inodes, "node list length is not a multiple of the node size");
    for (int i = 0; i < n; i += node_step) {
        struct fer_cascade_node node = {0};
        const double *v = L->nums + i;
        if (!to_int(v[0], &node.left) || !to_int(v[1], &node.right) || !to_int(v[2], &node.feature))
            return bad(L, inodes, "node index out of range");
        int32_t subset[8];
        for (int j = 0; j < c->subset_words; j++) { /* LBP: 8 words of category bits */
            double w = v[3 + j];
            if (!(w >= -2147483648.0 && w <= 4294967295.0))
                return bad(L, inodes, "category subset out of range");
            subset[j] = (int32_t)(uint32_t)(int64_t)w;
        }
        if (c->ncategories == 0)
            node.threshold = (float)v[3];
        if (fer_cascade_add_node(c, node, subset) != FER_OK)
            return NOMEM(L);
    }
    if ((st = nums_of(L, lvals, &n)) != FER_OK)
        return st;
    if (n != c->trees[c->ntrees - 1].nnodes + 1)
        return bad(L, lvals, "expected one leaf more than nodes");
    for (int i = 0; i < n; i++)
        if (fer_cascade_add_leaf(c, (float)L->nums[i]) != FER_OK)
            return NOMEM(L);
    return FER_OK;
}

static enum fer_status read_current(struct loader *L, int root)
{
    fer_cascade *c = L->c;
    int id = child(L, root, "stageType");
    if (id < 0 || !text_is(L, id, "BOOST"))
        return bad(L, id >= 0 ? id : root, "only BOOST cascades are supported");
    id = child(L, root, "featureType");
    if (id >= 0 && text_is(L, id, "HAAR"))
        c->feature_type = FER_FEATURE_HAAR;
    else if (id >= 0 && text_is(L, id, "LBP"))
        c->feature_type = FER_FEATURE_LBP;
    else
        return bad(L, id >= 0 ? id : root, "feature type must be HAAR or LBP");
    enum fer_status st = scalar_int(L, root, "width", &c->win_w);
    if (st == FER_OK)
        st = scalar_int(L, root, "height", &c->win_h);
    if (st != FER_OK)
        return st;
    int fp = child(L, root, "featureParams");
    if (fp < 0)
        return bad(L, root, "missing <featureParams>");
    if (child(L, fp, "maxCatCount") >= 0 &&
        (st = scalar_int(L, fp, "maxCatCount", &c->ncategories)) != FER_OK)
        return st;
    if (c->ncategories != (c->feature_type == FER_FEATURE_LBP ? 256 : 0))
        return bad(L, fp, "maxCatCount must be 256 for LBP and 0 for Haar");
    c->subset_words = (c->ncategories + 31) / 32;
    int node_step = 3 + (c->ncategories > 0 ? c->subset_words : 1);

    int stages = child(L, root, "stages");
    if (stages < 0 || items(L, stages) < 1)
        return bad(L, stages >= 0 ? stages : root, "missing or empty <stages>");
    int declared;
    if (child(L, root, "stageNum") >= 0) {
        if ((st = scalar_int(L, root, "stageNum", &declared)) != FER_OK)
            return st;
        if (declared != items(L, stages))
            return bad(L, stages, "<stageNum> does not match the number of stages");
    }
    for (int s = L->d.n[stages].first; s >= 0; s = L->d.n[s].next) {
        double thr;
        if ((st = scalar(L, s, "stageThreshold", &thr)) != FER_OK)
            return st;
        if (fer_cascade_add_stage(c, (float)thr) != FER_OK)
            return NOMEM(L);
        int weaks = child(L, s, "weakClassifiers");
        if (weaks < 0 || items(L, weaks) < 0)
            return bad(L, s, "missing <weakClassifiers>");
        for (int w = L->d.n[weaks].first; w >= 0; w = L->d.n[w].next)
            if ((st = read_weak(L, w, node_step)) != FER_OK)
                return st;
    }
    int feats = child(L, root, "features");
    if (feats < 0 || items(L, feats) < 1)
        return bad(L, feats >= 0 ? feats : root, "missing or empty <features>");
    for (int f = L->d.n[feats].first; f >= 0; f = L->d.n[f].next) {
        st = c->feature_type == FER_FEATURE_HAAR ? read_haar_feature(L, f, 0)
                                                 : read_lbp_feature(L, f);
        if (st != FER_OK)
            return st;
    }
    return FER_OK;
}

/* A left_val/left_node (or right_) pair of an old-format node. */
static enum fer_status old_branch(struct loader *L, int nid, const char *val, const char *node,
                                  int *out)
{
    double v;
    enum fer_status st;
    if (child(L, nid, val) >= 0) {
        if ((st = scalar(L, nid, val, &v)) != FER_OK)
            return st;
        *out = -(L->c->nleaves - L->c->trees[L->c->ntrees - 1].first_leaf);
        return fer_cascade_add_leaf(L->c, (float)v) == FER_OK ? FER_OK : NOMEM(L);
    }
    if (child(L, nid, node) < 0)
        return bad(L, nid, "node has neither a value nor a child node");
    return scalar_int(L, nid, node, out);
}

/* The OpenCV 1.x layout, converted as haar_cvt::convert does. */
static enum fer_status read_old(struct loader *L, int root)
{
    fer_cascade *c = L->c;
    c->feature_type = FER_FEATURE_HAAR;
    int size = child(L, root, "size"), n;
    if (size < 0)
        return bad(L, root, "missing <size>");
    enum fer_status st = nums_of(L, size, &n);
    if (st != FER_OK)
        return st;
    if (n != 2 || !to_int(L->nums[0], &c->win_w) || !to_int(L->nums[1], &c->win_h))
        return bad(L, size, "expected width and height");
    int stages = child(L, root, "stages");
    if (stages < 0 || items(L, stages) < 1)
        return bad(L, stages >= 0 ? stages : root, "missing or empty <stages>");
    for (int s = L->d.n[stages].first; s >= 0; s = L->d.n[s].next) {
        double thr;
        if ((st = scalar(L, s, "stage_threshold", &thr)) != FER_OK)
            return st;
        if (fer_cascade_add_stage(c, (float)thr) != FER_OK)
            return NOMEM(L);
        int trees = child(L, s, "trees");
        if (trees < 0 || items(L, trees) < 0)
            return bad(L, s, "missing <trees>");
        for (int t = L->d.n[trees].first; t >= 0; t = L->d.n[t].next) {
            if (items(L, t) < 1)
                return bad(L, t, "a tree needs at least one node");
            if (fer_cascade_add_tree(c) != FER_OK)
                return NOMEM(L);
            for (int nd = L->d.n[t].first; nd >= 0; nd = L->d.n[nd].next) {
                struct fer_cascade_node node = {.feature = c->nfeatures};
                double t_node;
                int fid = child(L, nd, "feature");
                if (fid < 0)
                    return bad(L, nd, "missing <feature>");
                if ((st = read_haar_feature(L, fid, 1)) != FER_OK ||
                    (st = scalar(L, nd, "threshold", &t_node)) != FER_OK ||
                    (st = old_branch(L, nd, "left_val", "left_node", &node.left)) != FER_OK ||
                    (st = old_branch(L, nd, "right_val", "right_node", &node.right)) != FER_OK)
                    return st;
                node.threshold = (float)t_node;
                if (fer_cascade_add_node(c, node, NULL) != FER_OK)
                    return NOMEM(L);
            }
            struct fer_cascade_tree *tr = &c->trees[c->ntrees - 1];
            if (c->nleaves - tr->first_leaf != tr->nnodes + 1)
                return bad(L, t, "expected one leaf more than nodes");
        }
    }
    return FER_OK;
}

enum fer_status fer_cascade_load_xml_memory(const char *xml, size_t len, const char *name,
                                            fer_cascade **out, char *err)
{
    *out = NULL;
    if (!xml || !name)
        return fer_errorf(err, FER_ERR_ARG, "cascade: no XML given");
    struct loader L = {.name = name, .err = err};
    enum fer_status st = doc_parse(&L.d, xml, len, name, err);
    if (st != FER_OK)
        goto end;
    L.c = fer_calloc(1, sizeof(*L.c));
    if (!L.c || !(L.c->name = fer_strdup(name))) {
        st = NOMEM(&L);
        goto end;
    }
    int root = L.d.n[0].first; /* OpenCV's getFirstTopLevelNode */
    if (root < 0) {
        st = fer_errorf(err, FER_ERR_FORMAT, "%s: <opencv_storage> is empty", name);
        goto end;
    }
    if (child(&L, root, "stageType") >= 0)
        st = read_current(&L, root);
    else if (child(&L, root, "size") >= 0 && child(&L, root, "stages") >= 0)
        st = read_old(&L, root);
    else
        st = bad(&L, root, "not a cascade classifier (no <stageType> or <size>)");
    if (st == FER_OK)
        st = fer_cascade_validate(L.c, err);
end:
    doc_free(&L.d);
    fer_free(L.nums);
    if (st != FER_OK) {
        fer_cascade_free(L.c);
        return st;
    }
    *out = L.c;
    return FER_OK;
}
