/*
 * bench_nn.c - fer's training and inference throughput on an architecture,
 * the C side of bench/run.sh (bench/torch_seed.py is the PyTorch side).
 *
 *   build/bench_nn --arch models/seed.cfg --threads 2 --seconds 10 [--json]
 *
 * Measures, after a warm-up, on random data: training images/s (forward,
 * loss, backward, SGD step at batch 128), inference images/s at batch 128,
 * and the median latency of one face at batch 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/progress.h"
#include "core/rng.h"
#include "nn/net.h"
#include "nn/optim.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *arch = "models/seed.cfg";
    int threads = 2, json = 0, profile = 0, batch = 128, classes = 7;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc)
            arch = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--profile"))
            profile = 1;
        else {
            fprintf(stderr, "usage: bench_nn [--arch CFG] [--threads N] [--seconds S] "
                            "[--batch N] [--json] [--profile]\n");
            return 2;
        }
    }
    char err[FER_ERR_LEN];
    fer_spec *spec;
    fer_net *net;
    fer_pool *pool;
    fer_optim *opt;
    if (fer_spec_load(arch, &spec, err) || fer_net_new(spec, classes, batch, &net, err) ||
        fer_pool_new(threads, &pool, err) || fer_net_set_pool(net, pool, err)) {
        fprintf(stderr, "bench_nn: %s\n", err);
        return 1;
    }
    fer_spec_free(spec);
    struct fer_optim_config oc = fer_optim_defaults(FER_OPTIM_SGD);
    if (fer_optim_new(&oc, net, &opt, err)) {
        fprintf(stderr, "bench_nn: %s\n", err);
        return 1;
    }
    fer_net_init_weights(net, 1);
    fer_rng rng;
    fer_rng_seed(&rng, 1, 0, 0, 0);
    size_t side = (size_t)fer_net_input_side(net);
    size_t in = (size_t)batch * side * side * (size_t)fer_net_input_channels(net);
    for (size_t i = 0; i < in; i++)
        fer_net_input(net)[i] = fer_rng_normal(&rng);
    float *targets = calloc((size_t)batch * classes, sizeof(float));
    for (int b = 0; b < batch; b++)
        targets[b * classes + b % classes] = 1;

    /* training */
    int steps = 0;
    double t0 = 0;
    for (;;) {
        if (steps == 1)
            t0 = fer_now(); /* the first step is warm-up */
        fer_net_set_noise(net, 1, (uint64_t)steps);
        fer_net_forward(net, batch, 1);
        fer_net_loss(net, batch, targets, 0);
        fer_net_zero_grad(net);
        fer_net_backward(net, batch);
        fer_optim_step(opt, 1e-3f);
        steps++;
        if (steps > 2 && fer_now() - t0 > seconds / 2)
            break;
    }
    double train_rate = (double)(steps - 1) * batch / (fer_now() - t0);
    if (profile) {
        fer_net_profile_start(net);
        for (int s = 0; s < 3; s++) {
            fer_net_forward(net, batch, 1);
            fer_net_loss(net, batch, targets, 0);
            fer_net_zero_grad(net);
            fer_net_backward(net, batch);
        }
        fer_net_profile_print(net, stderr);
    }

    /* inference, batch 128 */
    fer_net_forward(net, batch, 0);
    int runs = 0;
    t0 = fer_now();
    while (runs < 2 || fer_now() - t0 < seconds / 4) {
        fer_net_forward(net, batch, 0);
        runs++;
    }
    double infer_rate = (double)runs * batch / (fer_now() - t0);
    if (profile) {
        fer_net_profile_start(net);
        for (int s = 0; s < 5; s++)
            fer_net_forward(net, batch, 0);
        fprintf(stderr, "inference, 5 passes:\n");
        fer_net_profile_print(net, stderr);
    }

    /* one face, single-threaded as a latency path should be; fer's own kernels (the default)
     * and im2col + OpenBLAS alternate, so that machine noise hits both alike */
    fer_net_set_pool(net, NULL, err);
    static double lat[2][1000];
    int n_lat = 0;
    t0 = fer_now();
    while (n_lat < 1000 && (n_lat < 50 || fer_now() - t0 < seconds / 4)) {
        for (int own = 1; own >= 0; own--) {
            fer_net_set_own_kernels(net, own);
            double s = fer_now();
            fer_net_forward(net, 1, 0);
            lat[own][n_lat] = (fer_now() - s) * 1e3;
        }
        n_lat++;
    }
    if (profile) { /* where one face's time goes, with fer's own kernels */
        fer_net_set_own_kernels(net, 1);
        fer_net_profile_start(net);
        for (int s = 0; s < 200; s++)
            fer_net_forward(net, 1, 0);
        fprintf(stderr, "one face, 200 forward passes:\n");
        fer_net_profile_print(net, stderr);
    }
    qsort(lat[0], (size_t)n_lat, sizeof(double), cmp_double);
    qsort(lat[1], (size_t)n_lat, sizeof(double), cmp_double);
    double median = lat[1][n_lat / 2], median_openblas = lat[0][n_lat / 2];
    double mflop = fer_net_flops(net) / 1e6;
    if (json)
        printf("{\"peer\":\"fer\",\"arch\":\"%s\",\"threads\":%d,\"train_img_s\":%.2f,"
               "\"infer_b128_img_s\":%.2f,\"infer_b1_ms\":%.4f,\"infer_b1_img_s\":%.2f,"
               "\"infer_b1_ms_openblas\":%.4f,\"mflop_per_image_forward\":%.3f}\n",
               arch, threads, train_rate, infer_rate, median, 1e3 / median, median_openblas, mflop);
    else
        printf("fer %s, %d threads: train %.1f img/s (%.0f GFLOP/s at 3x forward), infer b%d "
               "%.1f img/s, one face %.3f ms (median of %d; %.3f ms with im2col + OpenBLAS, "
               "%.2fx)\n",
               arch, threads, train_rate, train_rate * 3 * mflop / 1e3, batch, infer_rate, median,
               n_lat, median_openblas, median_openblas / median);
    fer_optim_free(opt);
    fer_net_free(net);
    fer_pool_free(pool);
    free(targets);
    return 0;
}
