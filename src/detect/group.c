/*
 * group.c - OpenCV's groupRectangles: merges the overlapping windows that a
 * cascade (Viola & Jones 2001) fires on around each object.
 *
 * Two boxes are similar when every edge differs by at most
 * eps * (min widths + min heights) / 2; clusters are the connected components
 * of that relation, numbered in order of their first box (as cv::partition
 * numbers them). Each cluster with more than group_threshold boxes becomes
 * its average box (rounded through float like OpenCV), unless it lies inside
 * a bigger cluster with more support. Components are found with a sort on x
 * instead of OpenCV's all-pairs loop; the components, and so the result, are
 * the same. Last, OpenCV's clipObjects cuts the boxes to the image.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "detect/cascade_internal.h"

static int similar(const fer_rect *a, const fer_rect *b, double eps)
{
    int mw = a->w < b->w ? a->w : b->w, mh = a->h < b->h ? a->h : b->h;
    double delta = eps * (mw + mh) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

static int find_root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* saturate_cast<int>(float) and (double): round half to even, clamp. */
static int round_f(float v)
{
    return v >= 2147483647.f ? 2147483647 : v <= -2147483648.f ? (-2147483647 - 1) : (int)lrintf(v);
}

static int round_d(double v)
{
    return v >= 2147483647.0 ? 2147483647 : v <= -2147483648.0 ? (-2147483647 - 1) : (int)lrint(v);
}

enum fer_status fer_group_rects(fer_rect *rects, size_t *n, int group_threshold, double eps,
                                char *err)
{
    size_t count = *n;
    if (group_threshold <= 0 || count == 0)
        return FER_OK;
    if (count > (size_t)0x3fffffff)
        return fer_errorf(err, FER_ERR_LIMIT, "detect: too many candidate boxes (%zu)", count);
    int N = (int)count;
    int *ints = fer_malloc(sizeof(int) * (size_t)N * 3);
    uint64_t *keys = fer_malloc(sizeof(uint64_t) * (size_t)N);
    long long *sums = fer_calloc((size_t)N * 4, sizeof(long long));
    fer_rect *avg = fer_malloc(sizeof(fer_rect) * (size_t)N);
    enum fer_status st = FER_OK;
    if (!ints || !keys || !sums || !avg) {
        st = fer_errorf(err, FER_ERR_NOMEM, "detect: out of memory grouping %d boxes", N);
        goto end;
    }
    int *parent = ints, *label = ints + N, *weight = ints + 2 * N;

    /* connected components of the similarity relation, pairs found by a sweep on x */
    int maxw = 0, maxh = 0;
    for (int i = 0; i < N; i++) {
        parent[i] = i;
        keys[i] = ((uint64_t)((int64_t)rects[i].x + 2147483648LL) << 32) | (uint64_t)i;
        maxw = rects[i].w > maxw ? rects[i].w : maxw;
        maxh = rects[i].h > maxh ? rects[i].h : maxh;
    }
    double reach = eps * ((double)maxw + maxh) * 0.5; /* bounds every pair's delta */
    qsort(keys, (size_t)N, sizeof(uint64_t), cmp_u64);
    for (int a = 0; a < N; a++) {
        int ia = (int)(keys[a] & 0xffffffffu);
        for (int b = a + 1; b < N; b++) {
            int ib = (int)(keys[b] & 0xffffffffu);
            if ((double)rects[ib].x - rects[ia].x > reach)
                break;
            if (!similar(&rects[ia], &rects[ib], eps))
                continue;
            int r1 = find_root(parent, ia), r2 = find_root(parent, ib);
            if (r1 != r2)
                parent[r1 > r2 ? r1 : r2] = r1 < r2 ? r1 : r2;
        }
    }
    /* classes numbered by first appearance, as cv::partition numbers them */
    int nclasses = 0;
    for (int i = 0; i < N; i++)
        weight[i] = -1; /* class of each root, for now */
    for (int i = 0; i < N; i++) {
        int r = find_root(parent, i);
        if (weight[r] < 0)
            weight[r] = nclasses++;
        label[i] = weight[r];
    }
    for (int k = 0; k < nclasses; k++)
        weight[k] = 0;
    for (int i = 0; i < N; i++) {
        long long *s = sums + 4 * label[i];
        s[0] += rects[i].x;
        s[1] += rects[i].y;
        s[2] += rects[i].w;
        s[3] += rects[i].h;
        weight[label[i]]++;
    }
    for (int k = 0; k < nclasses; k++) {
        float s = 1.f / (float)weight[k];
        const long long *t = sums + 4 * k;
        avg[k] = (fer_rect){round_f((float)t[0] * s), round_f((float)t[1] * s),
                            round_f((float)t[2] * s), round_f((float)t[3] * s)};
    }
    size_t kept = 0;
    for (int i = 0; i < nclasses; i++) {
        fer_rect r1 = avg[i];
        int n1 = weight[i], j;
        if (n1 <= group_threshold)
            continue;
        /* filter out small boxes inside bigger, better supported ones */
        for (j = 0; j < nclasses; j++) {
            int n2 = weight[j];
            if (j == i || n2 <= group_threshold)
                continue;
            fer_rect r2 = avg[j];
            int dx = round_d(r2.w * eps), dy = round_d(r2.h * eps);
            if (r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx &&
                r1.y + r1.h <= r2.y + r2.h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == nclasses)
            rects[kept++] = r1;
    }
    *n = kept;
end:
    fer_free(ints);
    fer_free(keys);
    fer_free(sums);
    fer_free(avg);
    return st;
}

/* clipObjects: boxes cut to the image; empty ones dropped. */
size_t fer_clip_rects(fer_rect *r, size_t n, int W, int H)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int x0 = r[i].x > 0 ? r[i].x : 0, y0 = r[i].y > 0 ? r[i].y : 0;
        int x1 = r[i].x + r[i].w < W ? r[i].x + r[i].w : W;
        int y1 = r[i].y + r[i].h < H ? r[i].y + r[i].h : H;
        if (x1 - x0 > 0 && y1 - y0 > 0)
            r[j++] = (fer_rect){x0, y0, x1 - x0, y1 - y0};
    }
    return j;
}
