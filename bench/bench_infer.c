/*
 * bench_infer.c - fer's inference on a model file, the fer side of bench/onnx.sh (whose other
 * side runs the same model, exported with fer export, in ONNX Runtime).
 *
 *   build/bench_infer --model models/fer-resnet.fer --threads 1 --seconds 4
 *
 * After a warm-up, on random faces: the median and 90th percentile time of one face (batch 1) and
 * the faces per second at batch 128, both on `threads` threads and fer's own kernels (the default).
 * Prints one JSON line. With --profile, then also the time of each layer for one face (stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/progress.h"
#include "core/rng.h"
#include "nn/model_file.h"
#include "nn/net.h"

#define BATCH   128
#define MAX_LAT 20000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill_random(fer_net *net, int batch)
{
    fer_rng rng;
    fer_rng_seed(&rng, 1, 0, 0, 0);
    size_t n = (size_t)batch * (size_t)fer_net_input_channels(net) *
               (size_t)fer_net_input_width(net) * (size_t)fer_net_input_height(net);
    for (size_t i = 0; i < n; i++)
        fer_net_input(net)[i] = fer_rng_normal(&rng);
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    int threads = 1;
    double seconds = 4;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--profile"))
            profile = 1;
        else
            model = NULL, i = argc;
    }
    if (!model) {
        fprintf(stderr,
                "usage: bench_infer --model FILE.fer [--threads N] [--seconds S] [--profile]\n");
        return 2;
    }
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    fer_pool *pool = NULL;
    struct fer_meta meta = {0};
    if (fer_model_load(model, BATCH, &net, &meta, NULL, err) || fer_pool_new(threads, &pool, err) ||
        fer_net_set_pool(net, pool, err)) {
        fprintf(stderr, "bench_infer: %s\n", err);
        return 1;
    }
    fill_random(net, BATCH);

    /* one face */
    static double lat[MAX_LAT];
    int n = 0;
    for (int w = 0; w < 20; w++)
        fer_net_forward(net, 1, 0);
    double t0 = fer_now();
    while (n < MAX_LAT && (n < 50 || fer_now() - t0 < seconds / 2)) {
        double s = fer_now();
        fer_net_forward(net, 1, 0);
        lat[n++] = (fer_now() - s) * 1e3;
    }
    qsort(lat, (size_t)n, sizeof(double), cmp_double);
    const double share0 = fer_pool_weight(pool, 0); /* of one face's split layers, as paced */

    /* batch 128 */
    fer_net_forward(net, BATCH, 0);
    int runs = 0;
    t0 = fer_now();
    while (runs < 3 || fer_now() - t0 < seconds / 2) {
        fer_net_forward(net, BATCH, 0);
        runs++;
    }
    double rate = (double)runs * BATCH / (fer_now() - t0);
    printf("{\"peer\":\"fer\",\"model\":\"%s\",\"threads\":%d,\"b1_ms\":%.4f,\"b1_p90_ms\":%.4f,"
           "\"b1_runs\":%d,\"b1_thread0_share\":%.3f,\"b128_faces_s\":%.2f,\"mflop\":%.1f}\n",
           model, threads, lat[n / 2], lat[n * 9 / 10], n, share0, rate, fer_net_flops(net) / 1e6);
    if (profile && fer_net_profile_start(net) == FER_OK) {
        for (int i = 0; i < n; i++)
            fer_net_forward(net, 1, 0);
        fprintf(stderr, "one face, %d runs on %d threads:\n", n, threads);
        fer_net_profile_print(net, stderr);
    }
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
    return 0;
}
