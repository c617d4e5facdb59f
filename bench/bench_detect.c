/*
 * bench_detect.c - fer's Viola-Jones face detection (Viola & Jones 2001;
 * Lienhart & Maydt 2002) timed on photos, the C side of bench/detect.sh
 * (bench/opencv_detect.py is OpenCV's side), and its accuracy on dlib's
 * annotated faces.
 *
 *   build/bench_detect [--cascade XML] [--scale 1.1] [--min-neighbors 3]
 *                      [--min-size 30] [--threads 1] [--rounds 5] IMAGE...
 *   build/bench_detect --accuracy DIR [--min-neighbors 3] [--min-size 30]
 *   build/bench_detect --detector yunet [--score 0.6] [--min-size 0] ... (the same, with
 *                      YuNet on the colour image instead of the cascade; peer "fer-yunet")
 *
 * Timing: one JSON line per image with the median thread CPU time of
 * detection alone (decoding excluded) over the rounds, after a warm-up, and
 * the boxes. CPU time rather than wall time, so that other jobs on a shared
 * machine add less noise; with --threads > 1 it counts the calling thread
 * only and is not a fair measure.
 * --accuracy: recall and precision at IoU >= 0.5 against DIR/training.xml
 * (boxes in dlib's <box top= left= width= height=/> form), each true face
 * matched to at most one detection, best overlap first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "detect/cascade.h"
#include "detect/cascade_internal.h"
#include "detect/yunet.h"
#include "image/image.h"

/* CPU time of this thread: other jobs on a shared machine then cost less noise. */
static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_boxes(const fer_rect *r, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s[%d, %d, %d, %d]", i ? ", " : "", r[i].x, r[i].y, r[i].w, r[i].h);
    printf("]");
}

/* The detector under test: the cascade, or YuNet when yunet is set. */
struct detector {
    fer_cascade *cascade;
    struct fer_detect_params p;
    fer_yunet *yunet;
    struct fer_yunet_params yp;
    fer_pool *pool;
};

static const char *peer(const struct detector *d)
{
    return d->yunet ? "fer-yunet" : "fer";
}

/* Boxes of img (gray for the cascade, colour for YuNet) into *r (caller frees). */
static enum fer_status run(struct detector *d, const fer_image *img, fer_rect **r, size_t *n,
                           char *err)
{
    if (!d->yunet)
        return fer_cascade_detect_pool(d->cascade, img, &d->p, d->pool, r, n, err);
    struct fer_yunet_face *f = NULL;
    enum fer_status st = fer_yunet_detect(d->yunet, img, &d->yp, &f, n, err);
    *r = st == FER_OK ? fer_calloc(*n ? *n : 1, sizeof(fer_rect)) : NULL;
    for (size_t i = 0; *r && i < *n; i++)
        (*r)[i] = (fer_rect){(int)(f[i].x + 0.5f), (int)(f[i].y + 0.5f), (int)(f[i].w + 0.5f),
                             (int)(f[i].h + 0.5f)};
    fer_free(f);
    return st;
}

static double iou(fer_rect a, fer_rect b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    double inter = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0.0;
    return inter / ((double)a.w * a.h + (double)b.w * b.h - inter);
}

/* Greedy one-to-one matching at IoU >= 0.5, best pairs first; returns the matches. */
static int match(const fer_rect *truth, int nt, const fer_rect *det, int nd)
{
    int used_t[64] = {0}, used_d[1024] = {0}, hits = 0;
    if (nt > 64 || nd > 1024)
        return -1;
    for (;;) {
        double best = 0.5;
        int bt = -1, bd = -1;
        for (int i = 0; i < nt; i++)
            for (int j = 0; j < nd; j++)
                if (!used_t[i] && !used_d[j] && iou(truth[i], det[j]) >= best)
                    best = iou(truth[i], det[j]), bt = i, bd = j;
        if (bt < 0)
            return hits;
        used_t[bt] = used_d[bd] = 1;
        hits++;
    }
}

static int accuracy(const char *dir, struct detector *d)
{
    char path[1024], err[FER_ERR_LEN];
    snprintf(path, sizeof(path), "%s/training.xml", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_detect: cannot open %s\n", path);
        return 1;
    }
    static char xml[1 << 16];
    size_t len = fread(xml, 1, sizeof(xml) - 1, f);
    fclose(f);
    xml[len] = '\0';
    int truths = 0, dets = 0, hits = 0;
    for (char *s = strstr(xml, "<image file='"); s; s = strstr(s + 1, "<image file='")) {
        char name[256];
        if (sscanf(s, "<image file='%255[^']'", name) != 1)
            continue;
        fer_rect truth[64];
        int nt = 0;
        char *end = strstr(s, "</image>");
        for (char *b = strstr(s, "<box "); b && (!end || b < end) && nt < 64;
             b = strstr(b + 1, "<box ")) {
            fer_rect r;
            if (sscanf(b, "<box top='%d' left='%d' width='%d' height='%d'", &r.y, &r.x, &r.w,
                       &r.h) == 4)
                truth[nt++] = r;
        }
        fer_image img = {0};
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fer_rect *r = NULL;
        size_t n = 0;
        if (fer_image_load(path, !d->yunet, 0, &img, err) != FER_OK ||
            run(d, &img, &r, &n, err) != FER_OK) {
            fprintf(stderr, "bench_detect: %s\n", err);
            fer_image_free(&img);
            return 1;
        }
        int h = match(truth, nt, r, (int)n);
        printf("{\"peer\": \"%s\", \"image\": \"%s\", \"faces\": %d, \"detections\": %zu, "
               "\"matched\": %d, \"boxes\": ",
               peer(d), name, nt, n, h);
        print_boxes(r, n);
        printf("}\n");
        truths += nt;
        dets += (int)n;
        hits += h;
        fer_free(r);
        fer_image_free(&img);
    }
    printf("{\"peer\": \"%s\", \"min_neighbors\": %d, \"min_size\": %d, \"score\": %g, "
           "\"faces\": %d, \"detections\": %d, \"matched\": %d, \"recall\": %.4f, "
           "\"precision\": %.4f}\n",
           peer(d), d->p.min_neighbors, d->yunet ? d->yp.min_size : d->p.min_w,
           (double)d->yp.score_threshold, truths, dets, hits, truths ? (double)hits / truths : 0.0,
           dets ? (double)hits / dets : 0.0);
    return 0;
}

/* Times every image: one JSON line each (see the top of the file). */
static int time_images(struct detector *d, char **paths, int n_paths, int threads, int rounds)
{
    char err[FER_ERR_LEN];
    double *ms = malloc(sizeof(double) * (size_t)rounds);
    int rc = 0;
    for (int i = 0; i < n_paths && ms; i++) {
        fer_image img = {0};
        if (fer_image_load(paths[i], !d->yunet, 0, &img, err) != FER_OK) {
            fprintf(stderr, "bench_detect: %s\n", err);
            rc = 1;
            continue;
        }
        fer_rect *r = NULL;
        size_t n = 0;
        enum fer_status st = FER_OK;
        for (int k = -1; k < rounds; k++) { /* k = -1 warms up */
            fer_free(r);
            r = NULL;
            double t0 = now_ms();
            st = run(d, &img, &r, &n, err);
            if (k >= 0)
                ms[k] = now_ms() - t0;
            if (st != FER_OK)
                break;
        }
        if (st != FER_OK) {
            fprintf(stderr, "bench_detect: %s\n", err);
            rc = 1;
        } else {
            qsort(ms, (size_t)rounds, sizeof(double), cmp_double);
            printf("{\"peer\": \"%s\", \"image\": \"%s\", \"width\": %d, \"height\": %d, "
                   "\"threads\": %d, \"ms\": %.3f, \"boxes\": ",
                   peer(d), paths[i], img.width, img.height, threads, ms[rounds / 2]);
            print_boxes(r, n);
            printf("}\n");
        }
        fer_free(r);
        fer_image_free(&img);
    }
    free(ms);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cascade = NULL, *acc_dir = NULL, *kind = "haar";
    struct detector d = {.p = fer_detect_defaults()};
    fer_yunet_params_default(&d.yp);
    int threads = 1, rounds = 5, first = argc;
    d.p.min_w = d.p.min_h = 30;
    d.yp.min_size = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cascade") && i + 1 < argc)
            cascade = argv[++i];
        else if (!strcmp(argv[i], "--detector") && i + 1 < argc)
            kind = argv[++i];
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            d.p.scale_factor = atof(argv[++i]);
        else if (!strcmp(argv[i], "--score") && i + 1 < argc)
            d.yp.score_threshold = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--min-neighbors") && i + 1 < argc)
            d.p.min_neighbors = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-size") && i + 1 < argc)
            d.p.min_w = d.p.min_h = d.yp.min_size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--accuracy") && i + 1 < argc)
            acc_dir = argv[++i];
        else if (argv[i][0] != '-') {
            first = i;
            break;
        } else {
            fprintf(stderr, "usage: bench_detect [--detector haar|yunet] [--cascade XML] "
                            "[--scale F] [--score S] [--min-neighbors N] [--min-size S] "
                            "[--threads N] [--rounds N] IMAGE...\n"
                            "       bench_detect --accuracy DIR [options]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 1000)
        rounds = 5;
    char err[FER_ERR_LEN];
    enum fer_status st;
    if (!strcmp(kind, "yunet"))
        st = fer_yunet_open_builtin(&d.yunet, err);
    else
        st = cascade ? fer_cascade_load_xml(cascade, &d.cascade, err)
                     : fer_cascade_load_builtin(&d.cascade, err);
    if (st == FER_OK && threads > 1)
        st = fer_pool_new(threads, &d.pool, err);
    if (st == FER_OK && d.yunet)
        fer_yunet_set_pool(d.yunet, d.pool);
    int rc = 1;
    if (st != FER_OK)
        fprintf(stderr, "bench_detect: %s\n", err);
    else
        rc = acc_dir ? accuracy(acc_dir, &d)
                     : time_images(&d, argv + first, argc - first, threads, rounds);
    fer_yunet_free(d.yunet);
    fer_pool_free(d.pool);
    fer_cascade_free(d.cascade);
    return rc;
}
