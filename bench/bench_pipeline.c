/*
 * bench_pipeline.c - the whole photo pipeline per photo, on one thread:
 * decode, gray, detect, crop, classify (with flip TTA), as fer predict does
 * it, with the engine opened once. Prints the median over runs per photo and
 * how it splits between detection and classification.
 *
 *   build/bench_pipeline [--runs N] PHOTO...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "fer.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = 9, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        first = 3;
    }
    if (first >= argc || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench_pipeline [--runs N] PHOTO...\n");
        return 2;
    }
    char err[FER_ERR_LEN];
    fer_engine *e;
    double t_open = fer_now();
    if (fer_engine_open(NULL, &e, err) != FER_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("engine open: %.1f ms\n", (fer_now() - t_open) * 1e3);
    printf("%-36s %6s %10s %10s %10s\n", "photo", "faces", "total ms", "detect ms", "classify");
    for (int i = first; i < argc; i++) {
        double total[1000], det[1000], cls[1000];
        size_t faces = 0;
        for (int r = 0; r < runs; r++) {
            fer_analysis a;
            double t0 = fer_now();
            if (fer_engine_analyze_file(e, argv[i], 0, &a, NULL, err) != FER_OK) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            total[r] = (fer_now() - t0) * 1e3;
            det[r] = a.detect_ms;
            cls[r] = a.classify_ms;
            faces = a.n_faces;
            fer_analysis_free(&a);
        }
        qsort(total, (size_t)runs, sizeof(double), cmp_double);
        qsort(det, (size_t)runs, sizeof(double), cmp_double);
        qsort(cls, (size_t)runs, sizeof(double), cmp_double);
        const char *base = strrchr(argv[i], '/');
        printf("%-36s %6zu %10.1f %10.1f %10.1f\n", base ? base + 1 : argv[i], faces,
               total[runs / 2], det[runs / 2], cls[runs / 2]);
    }
    fer_engine_close(e);
    return 0;
}
