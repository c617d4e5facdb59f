/*
 * test_nn.c - layers against naive references, every layer's gradient
 * against central differences, thread-count independence, optimizers,
 * schedules, spec errors, and model files (round trip, corruption, faults).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "nn/layer.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "nn/small_gemm.h"
#include "nn/spec.h"
#include "nn/stem.h"
#include "nn/tile_scatter.h"
#include "nn/winograd.h"
#include "tmp_dir.h"

static fer_net *build(const char *text, int classes, int batch)
{
    fer_spec *spec;
    fer_net *net = NULL;
    char err[FER_ERR_LEN];
    if (fer_spec_parse(text, "test.cfg", &spec, err) != FER_OK) {
        fprintf(stderr, "  spec: %s\n", err);
        return NULL;
    }
    if (fer_net_new(spec, classes, batch, &net, err) != FER_OK)
        fprintf(stderr, "  net: %s\n", err);
    fer_spec_free(spec);
    return net;
}

static void random_batch(fer_net *net, int batch, float *targets, uint64_t seed, int soft)
{
    fer_rng rng;
    fer_rng_seed(&rng, seed, 7, 0, 0);
    int c = fer_net_input_channels(net), s = fer_net_input_side(net), k = fer_net_classes(net);
    float *in = fer_net_input(net);
    for (int i = 0; i < batch * c * s * s; i++)
        in[i] = fer_rng_normal(&rng);
    for (int b = 0; b < batch; b++) {
        float sum = 0;
        for (int i = 0; i < k; i++) {
            targets[b * k + i] = soft ? fer_rng_uniform(&rng) : 0.0f;
            sum += targets[b * k + i];
        }
        if (!soft)
            targets[b * k + (int)fer_rng_below(&rng, (uint64_t)k)] = 1.0f;
        else
            for (int i = 0; i < k; i++)
                targets[b * k + i] /= sum;
    }
}

static double loss_of(fer_net *net, int batch, const float *targets)
{
    fer_net_forward(net, batch, 1);
    return fer_net_loss(net, batch, targets, 0.1f);
}

/*
 * Compares every parameter group's analytic gradient with central
 * differences on up to 24 sampled entries; returns the worst relative error
 * ||a - n|| / (||a|| + ||n||) over groups.
 */
static double grad_check(fer_net *net, int batch, uint64_t seed)
{
    float targets[64 * 16];
    random_batch(net, batch, targets, seed, 1);
    fer_net_init_weights(net, seed);
    /* non-trivial BN scales and biases so their gradients are exercised */
    struct fer_param_group *groups;
    size_t n_groups = fer_net_param_groups(net, &groups);
    fer_rng rng;
    fer_rng_seed(&rng, seed, 99, 0, 0);
    for (size_t g = 0; g < n_groups; g++)
        if (!groups[g].decay)
            for (size_t i = 0; i < groups[g].n; i++)
                groups[g].param[i] += 0.2f * fer_rng_normal(&rng);
    fer_net_weights_changed(net);
    fer_net_set_noise(net, seed, 3);
    loss_of(net, batch, targets);
    fer_net_zero_grad(net);
    fer_net_backward(net, batch);
    double worst = 0;
    const float h = 1e-3f; /* small enough that few ReLU or max-pool kinks are crossed */
    for (size_t g = 0; g < n_groups; g++) {
        struct fer_param_group *pg = &groups[g];
        size_t stride = pg->n > 24 ? pg->n / 24 : 1;
        double diff2 = 0, a2 = 0, n2 = 0;
        for (size_t i = 0; i < pg->n; i += stride) {
            float saved = pg->param[i];
            double analytic = (double)pg->grad[i];
            pg->param[i] = saved + h;
            fer_net_weights_changed(net);
            double lp = loss_of(net, batch, targets);
            pg->param[i] = saved - h;
            fer_net_weights_changed(net);
            double lm = loss_of(net, batch, targets);
            pg->param[i] = saved;
            fer_net_weights_changed(net);
            double numeric = (lp - lm) / (2.0 * (double)h);
            diff2 += (analytic - numeric) * (analytic - numeric);
            a2 += analytic * analytic;
            n2 += numeric * numeric;
        }
        /* tiny gradients (a shift that a later batch norm nearly cancels) are all float noise */
        double rel = sqrt(diff2) / (sqrt(a2) + sqrt(n2) + 1e-4);
        if (rel > worst)
            worst = rel;
        if (rel > 1e-2 || getenv("FER_GRADCHECK_VERBOSE"))
            fprintf(stderr, "  group %s: relative error %.4f (|grad| %.2e)\n", pg->name, rel,
                    sqrt(a2));
    }
    return worst;
}

TEST(gradcheck_conv_maxpool_dense)
{
    fer_net *net = build("[net]\nwidth=8\nheight=8\nchannels=2\n"
                         "[convolutional]\nfilters=4\nsize=3\nactivation=relu\n"
                         "[maxpool]\nsize=2\n"
                         "[convolutional]\nfilters=3\nsize=3\nstride=2\nactivation=relu\n"
                         "[dense]\noutput=classes\n[softmax]\n",
                         3, 4);
    CHECK(net != NULL);
    if (net)
        CHECK(grad_check(net, 4, 1) < 1e-2);
    fer_net_free(net);
}

TEST(gradcheck_batchnorm_avgpool_gap_pointwise)
{
    fer_net *net = build("[net]\nwidth=9\nheight=9\nchannels=1\n"
                         "[convolutional]\nfilters=4\nsize=3\nstride=2\nbatch_normalize=1\n"
                         "activation=relu\n"
                         "[avgpool]\nsize=2\nstride=1\n"
                         "[convolutional]\nfilters=5\nsize=1\npad=0\nactivation=linear\n"
                         "[global_avgpool]\n"
                         "[dense]\noutput=classes\n[softmax]\n",
                         4, 5);
    CHECK(net != NULL);
    if (net)
        CHECK(grad_check(net, 5, 2) < 1e-2);
    fer_net_free(net);
}

TEST(gradcheck_residual_route_dropout_bn_layer)
{
    fer_net *net = build("[net]\nwidth=6\nheight=6\nchannels=1\n"
                         "[convolutional]\nfilters=3\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                         "[convolutional]\nfilters=3\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                         "[convolutional]\nfilters=3\nsize=3\nbatch_normalize=1\n"
                         "[shortcut]\nfrom=-2\nactivation=relu\n"
                         "[route]\nlayers=-1,-3\n"
                         "[batchnorm]\nactivation=relu\n"
                         "[maxpool]\nsize=3\nstride=2\npad=1\n"
                         "[dropout]\nprobability=0.3\n"
                         "[dense]\noutput=6\nactivation=relu\n"
                         "[dense]\noutput=classes\n[softmax]\n",
                         3, 4);
    CHECK(net != NULL);
    if (net)
        CHECK(grad_check(net, 4, 3) < 1e-2);
    fer_net_free(net);
}

/* [depthwise] (the 3x3 fast path, stride 2 and 5x5), [upsample] and a shortcut across them, as
 * in YuNet's feature pyramid, on a non-square-friendly odd side. */
TEST(gradcheck_depthwise_upsample)
{
    fer_net *net = build("[net]\nwidth=7\nheight=7\nchannels=2\n"
                         "[convolutional]\nfilters=3\nsize=1\n"
                         "[depthwise]\nactivation=relu\n"
                         "[depthwise]\nsize=3\nstride=2\n"
                         "[upsample]\nstride=2\n"
                         "[convolutional]\nfilters=3\nsize=2\npad=0\nstride=1\n"
                         "[depthwise]\nsize=5\n"
                         "[route]\nlayers=-4\n"
                         "[upsample]\n"
                         "[dense]\noutput=classes\n[softmax]\n",
                         3, 3);
    CHECK(net != NULL);
    if (net)
        CHECK(grad_check(net, 3, 4) < 1e-2);
    fer_net_free(net);
}

/* The definition of a depthwise convolution, against the layer's fast 3x3 path and its generic
 * one, on a non-square input of a net without classes (a detector's kind), read by layer. */
TEST(depthwise_matches_definition_on_detector_net)
{
    fer_spec *spec = NULL;
    char err[256];
    const char *text = "[net]\nwidth=9\nheight=5\nchannels=3\n"
                       "[depthwise]\n[depthwise]\nsize=3\nstride=2\n";
    CHECK(fer_spec_parse(text, "dw", &spec, err) == FER_OK);
    fer_net *net = NULL;
    CHECK(fer_net_new(spec, 0, 2, &net, err) == FER_OK);
    fer_spec_free(spec);
    if (!net)
        return;
    CHECK(fer_net_input_width(net) == 9 && fer_net_input_height(net) == 5);
    size_t n;
    float *w = fer_net_params(net, &n);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((i * 37) % 11) / 11.0f - 0.4f;
    fer_net_weights_changed(net);
    float *in = fer_net_input(net);
    for (int i = 0; i < 2 * 3 * 9 * 5; i++)
        in[i] = (float)((i * 13) % 17) / 17.0f - 0.5f;
    fer_net_forward(net, 2, 0);
    int c, h, wd;
    const float *out = fer_net_layer_output(net, 0, &c, &h, &wd);
    CHECK(c == 3 && h == 5 && wd == 9 && fer_net_layer_output(net, 2, &c, &h, &wd) == NULL);
    double worst = 0;
    for (int b = 0; b < 2; b++)
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 9; x++) {
                    float want = w[27 + ch]; /* the bias, after the 3 x 9 weights */
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - 1, ix = x + kx - 1;
                            if (iy >= 0 && iy < 5 && ix >= 0 && ix < 9)
                                want +=
                                    w[ch * 9 + ky * 3 + kx] * in[((b * 3 + ch) * 5 + iy) * 9 + ix];
                        }
                    float got = out[((b * 3 + ch) * 5 + y) * 9 + x];
                    worst = fmax(worst, fabs((double)(got - want)));
                }
    CHECK(worst < 1e-5);
    const float *second = fer_net_layer_output(net, 1, &c, &h, &wd);
    CHECK(second && c == 3 && h == 3 && wd == 5);
    fer_net *big = NULL;
    CHECK(fer_net_resized(net, 64, 32, &big, err) == FER_OK);
    if (big) {
        fer_net_layer_output(big, 1, &c, &h, &wd);
        CHECK(c == 3 && h == 16 && wd == 32);
        size_t m;
        CHECK(memcmp(fer_net_params(big, &m), w, n * sizeof(float)) == 0 && m == n);
    }
    fer_net_free(big);
    fer_net_free(net);
}

/* A classifier needs square inputs and its softmax; a net without classes has none. */
TEST(net_kinds_are_checked)
{
    const char *cases[][2] = {
        {"[net]\nwidth=8\nheight=6\n[dense]\noutput=classes\n[softmax]\n", "square"},
        {"[net]\nwidth=8\nheight=6\n[depthwise]\n[softmax]\n", "no [softmax]"},
    };
    for (int k = 0; k < 2; k++) {
        fer_spec *spec = NULL;
        char err[256] = "";
        fer_net *net = NULL;
        CHECK(fer_spec_parse(cases[k][0], "kinds", &spec, err) == FER_OK);
        CHECK(fer_net_new(spec, k == 0 ? 3 : 0, 1, &net, err) == FER_ERR_FORMAT);
        CHECK(strstr(err, cases[k][1]) != NULL);
        fer_spec_free(spec);
    }
}

/* Direct convolution, the definition, to check im2col + GEMM against. */
static float naive_conv(const float *in, const float *w, float bias, int c, int h, int wd, int k,
                        int stride, int pad, int f, int y, int x)
{
    float s = bias;
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                int iy = y * stride + ky - pad, ix = x * stride + kx - pad;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                    s += in[(ch * h + iy) * wd + ix] * w[((f * c + ch) * k + ky) * k + kx];
            }
    return s;
}

/* A conv layer's shape: C x H x H in, F filters of K x K, stride S, pad P (no weights yet). */
static struct fer_layer conv_layer(int c, int h, int f, int k, int s, int pad)
{
    struct fer_layer l = {0};
    l.type = FER_LAYER_CONV;
    l.in_c = c;
    l.in_h = l.in_w = h;
    l.out_c = f;
    l.out_h = l.out_w = (h + 2 * pad - k) / s + 1;
    l.size = k;
    l.stride = s;
    l.pad = pad;
    l.in_size = (size_t)c * (size_t)h * (size_t)h;
    l.out_size = (size_t)f * (size_t)l.out_h * (size_t)l.out_w;
    l.n_w = (size_t)f * (size_t)c * (size_t)(k * k);
    l.act = FER_ACT_LINEAR;
    return l;
}

/* Runs l forward on B random images (random weights and bias from seed/stream), on fer's own
 * kernels or on im2col + OpenBLAS, and returns the worst difference from the textbook sum;
 * *made says whether the layer made its inference weights. */
static double conv_error(struct fer_layer *l, int batch, uint64_t seed, uint64_t stream,
                         int own_kernels, int *made)
{
    const int c = l->in_c, h = l->in_h, f = l->out_c, oh = l->out_h;
    float *in = malloc(sizeof(float) * (size_t)batch * l->in_size);
    float *w = malloc(sizeof(float) * l->n_w), *bias = malloc(sizeof(float) * (size_t)f);
    float *out = malloc(sizeof(float) * (size_t)batch * l->out_size);
    float *scratch_buf = malloc(fer_conv_scratch(l) * sizeof(float));
    float *scratch[1] = {scratch_buf};
    fer_rng rng;
    fer_rng_seed(&rng, seed, stream, 0, 0);
    for (size_t i = 0; i < (size_t)batch * l->in_size; i++)
        in[i] = fer_rng_normal(&rng);
    for (size_t i = 0; i < l->n_w; i++)
        w[i] = fer_rng_normal(&rng);
    for (int i = 0; i < f; i++)
        bias[i] = fer_rng_normal(&rng);
    l->w = w;
    l->b = bias;
    l->out = out;
    struct fer_pass p = {0};
    p.batch = batch;
    p.in = in;
    p.scratch = scratch;
    p.own_kernels = own_kernels;
    p.weights_gen = 1;
    fer_conv_forward(l, &p);
    *made = l->infer_w.filters != NULL;
    double worst = 0;
    for (int b = 0; b < batch; b++)
        for (int o = 0; o < f; o++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < oh; x++) {
                    float ref = naive_conv(in + (size_t)b * l->in_size, w, bias[o], c, h, h,
                                           l->size, l->stride, l->pad, o, y, x);
                    float got = out[(size_t)b * l->out_size + (size_t)(o * oh + y) * oh + x];
                    worst = fmax(worst, fabs((double)(ref - got)));
                }
    fer_free(l->infer_w.filters);
    l->infer_w.filters = NULL;
    free(in);
    free(w);
    free(bias);
    free(out);
    free(scratch_buf);
    return worst;
}

TEST(conv_matches_direct_convolution)
{
    struct fer_layer l = conv_layer(3, 7, 4, 3, 2, 1);
    int made;
    CHECK(conv_error(&l, 2, 5, 0, 0, &made) < 1e-4);
    CHECK(!made);
}

/* The stem (stem.h): one plane, 3x3, on sides that fill vectors, leave a tail or are shorter
 * than one. */
TEST(stem_matches_direct_convolution)
{
    static const int sides[] = {44, 13, 5};
    for (int k = 0; k < 3; k++) {
        struct fer_layer l = conv_layer(1, sides[k], 7, 3, 1, 1);
        CHECK(fer_stem_fits(&l));
        int made;
        const double worst = conv_error(&l, 2, 7, (uint64_t)k, 1, &made);
        if (worst >= 1e-5)
            fprintf(stderr, "  side %d: worst difference %g\n", sides[k], worst);
        CHECK(worst < 1e-5);
    }
    struct fer_layer strided = conv_layer(1, 12, 7, 3, 2, 1);
    CHECK(!fer_stem_fits(&strided));
}

/* fer_small_gemm_tn against the textbook sum with each kernel: row counts on both sides of
 * every panel size, column counts of one and two vectors and more, strides past the sizes. */
TEST(small_gemm_tn_matches_textbook_product)
{
    static const char *const kernels[] = {"avx512", "avx2", "portable"};
    static const int ms[] = {1, 5, 6, 7, 11, 14, 15, 25, 41, 131}, ns[] = {16, 32, 48, 80};
    static const int ks[] = {1, 7, 64};
    fer_rng rng;
    fer_rng_seed(&rng, 5, 0, 0, 0);
    for (int kn = 0; kn < 3; kn++) {
        if (!fer_small_gemm_use(kernels[kn]))
            continue;
        for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
            for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
                for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
                    const int m = ms[mi], n = ns[ni], k = ks[ki];
                    const size_t lda = (size_t)m + 3, ldb = (size_t)n + 16, ldc = (size_t)n + 5;
                    float *at = malloc(sizeof(float) * (size_t)k * lda);
                    float *b = malloc(sizeof(float) * (size_t)k * ldb);
                    float *c = malloc(sizeof(float) * (size_t)m * ldc);
                    for (size_t i = 0; i < (size_t)k * lda; i++)
                        at[i] = fer_rng_normal(&rng);
                    for (size_t i = 0; i < (size_t)k * ldb; i++)
                        b[i] = fer_rng_normal(&rng);
                    for (size_t i = 0; i < (size_t)m * ldc; i++)
                        c[i] = 1e30f; /* must all be written over, or stay */
                    float *packed = malloc(sizeof(float) * fer_small_gemm_tn_packed_size(k, n));
                    fer_small_gemm_tn_pack(b, k, n, ldb, packed);
                    fer_small_gemm_tn(m, n, k, at, lda, packed, c, ldc);
                    free(packed);
                    double worst = 0;
                    int untouched = 1;
                    for (int r = 0; r < m; r++) {
                        for (int j = 0; j < n; j++) {
                            double ref = 0;
                            for (int i = 0; i < k; i++)
                                ref += (double)at[(size_t)i * lda + (size_t)r] *
                                       (double)b[(size_t)i * ldb + (size_t)j];
                            worst = fmax(worst, fabs(ref - (double)c[(size_t)r * ldc + (size_t)j]));
                        }
                        for (size_t j = (size_t)n; j < ldc; j++)
                            untouched &= c[(size_t)r * ldc + j] == 1e30f;
                    }
                    if (worst >= 1e-4 || !untouched)
                        fprintf(stderr, "  %s kernel, %dx%dx%d: worst difference %g%s\n",
                                kernels[kn], m, n, k, worst,
                                untouched ? "" : ", wrote past n columns");
                    CHECK(worst < 1e-4);
                    CHECK(untouched);
                    free(at);
                    free(b);
                    free(c);
                }
    }
    fer_small_gemm_use(NULL);
}

/* fer_small_gemv against the textbook sum with each kernel: row counts around its blocks of 4,
 * lengths around its vectors of 16. */
TEST(small_gemv_matches_textbook_product)
{
    static const char *const kernels[] = {"avx512", "avx2", "portable"};
    static const int ms[] = {1, 3, 4, 7, 64}, ks[] = {1, 15, 16, 17, 100};
    fer_rng rng;
    fer_rng_seed(&rng, 6, 0, 0, 0);
    for (int kn = 0; kn < 3; kn++) {
        if (!fer_small_gemm_use(kernels[kn]))
            continue;
        for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
            for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
                const int m = ms[mi], k = ks[ki];
                const size_t lda = (size_t)k + 2;
                float *a = malloc(sizeof(float) * (size_t)m * lda), x[100], y[64];
                for (size_t i = 0; i < (size_t)m * lda; i++)
                    a[i] = fer_rng_normal(&rng);
                for (int i = 0; i < k; i++)
                    x[i] = fer_rng_normal(&rng);
                fer_small_gemv(m, k, a, lda, x, y);
                double worst = 0;
                for (int r = 0; r < m; r++) {
                    double ref = 0;
                    for (int i = 0; i < k; i++)
                        ref += (double)a[(size_t)r * lda + (size_t)i] * (double)x[i];
                    worst = fmax(worst, fabs(ref - (double)y[r]));
                }
                if (worst >= 1e-4)
                    fprintf(stderr, "  %s kernel, %dx%d: worst difference %g\n", kernels[kn], m, k,
                            worst);
                CHECK(worst < 1e-4);
                free(a);
            }
    }
    fer_small_gemm_use(NULL);
}

/* The vector tile scatter moves every value the element loop moves, for maps of odd and even
 * sides and 1 to 16 filters, and writes nothing else (the masked stores at a row's end). */
TEST(tile_scatter_kernels_agree)
{
    if (!fer_tile_scatter_wide_fits(16))
        return; /* no AVX-512 here: only the element loop runs */
    static const int sides[][2] = {{31, 9},  {32, 32}, {33, 33}, {37, 40}, {47, 47},
                                   {48, 31}, {50, 50}, {63, 20}, {64, 64}};
    fer_rng rng;
    fer_rng_seed(&rng, 5, 0, 0, 0);
    for (size_t k = 0; k < sizeof(sides) / sizeof(sides[0]); k++) {
        const int w = sides[k][0], h = sides[k][1], tw = (w + 1) / 2, stride = (tw + 15) / 16 * 16;
        const size_t ny = 4 * 16 * (size_t)stride, nout = 16 * (size_t)h * (size_t)w;
        float *y = malloc(sizeof(float) * ny), *a = malloc(sizeof(float) * nout),
              *b = malloc(sizeof(float) * nout);
        for (size_t i = 0; i < ny; i++)
            y[i] = fer_rng_normal(&rng);
        for (int nf = 1; nf <= 16; nf += 5)
            for (int ty = 0, last = (h + 1) / 2 - 1; ty <= last; ty += last > 0 ? last : 1) {
                for (size_t i = 0; i < nout; i++)
                    a[i] = b[i] = -1e30f;
                fer_tile_scatter_rows(h, w, y, stride, 0, a, nf, ty, ty + 1);
                fer_tile_scatter_row_wide(h, w, y, stride, b, nf, ty);
                CHECK(memcmp(a, b, sizeof(float) * nout) == 0);
            }
        free(y);
        free(a);
        free(b);
    }
}

/* Winograd's F(2x2, 3x3) and the small GEMM against the textbook sum, with each kernel, on even
 * and odd sides, with and without Winograd taking the layer (too small, stride 2, one input
 * channel, few filters). */
TEST(winograd_matches_direct_convolution)
{
    static const char *const kernels[] = {"avx512", "avx2", "portable"};
    for (int k = 0; k < 3; k++) {
        if (!fer_small_gemm_use(kernels[k]))
            continue; /* not on this CPU */
        static const int cases[][5] = {
            /* C, H(=W), F, stride, uses winograd */
            {8, 8, 64, 1, 1},   {8, 9, 64, 1, 1}, {16, 11, 64, 1, 1}, {8, 22, 64, 1, 1},
            {8, 5, 64, 1, 1},   {8, 7, 64, 1, 1}, {8, 4, 64, 1, 0},   {1, 12, 64, 1, 0},
            {8, 12, 64, 2, 0},  {8, 12, 8, 1, 0}, {8, 37, 40, 1, 1},  {4, 48, 32, 1, 0},
            {16, 48, 32, 1, 1},
        };
        for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
            struct fer_layer l =
                conv_layer(cases[t][0], cases[t][1], cases[t][2], 3, cases[t][3], 1);
            CHECK(fer_winograd_fits(&l) == cases[t][4]);
            int made;
            double worst = conv_error(&l, 2, 9, t, 1, &made);
            CHECK(made || fer_stem_fits(&l)); /* the stem needs no filters of its own */
            if (worst >= 1e-4)
                fprintf(stderr, "  case %zu (%s kernel): worst difference %g\n", t, kernels[k],
                        worst);
            CHECK(worst < 1e-4);
        }
    }
    fer_small_gemm_use(NULL);
}

/* A training step (batch-norm statistics of the batch, dropout, backward) on fer's kernels and on
 * im2col + OpenBLAS: the same loss and gradients, also after the weights moved as an optimiser
 * moves them, and when the memory for their transformed filters cannot be had. Input side
 * `side`: the Winograd layers run on side and side / 2 maps. */
static void check_training_step(int side)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "[net]\nwidth=%d\nheight=%d\nchannels=1\n"
             "[convolutional]\nfilters=8\nsize=3\nbatch_normalize=1\nactivation=relu\n"
             "[convolutional]\nfilters=16\nsize=3\nbatch_normalize=1\nactivation=relu\n"
             "[convolutional]\nfilters=16\nsize=3\nbatch_normalize=1\n"
             "[shortcut]\nfrom=-2\nactivation=relu\n"
             "[maxpool]\nsize=2\n"
             "[convolutional]\nfilters=32\nsize=3\nactivation=relu\n"
             "[global_avgpool]\n[dropout]\nprobability=0.3\n"
             "[dense]\noutput=classes\n[softmax]\n",
             side, side);
    enum { B = 4, K = 5 };
    fer_net *net = build(text, K, B);
    CHECK(net != NULL);
    if (!net)
        return;
    float targets[B * K];
    fer_net_init_weights(net, 5);
    size_t n;
    fer_net_grads(net, &n);
    float *grads[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    for (int round = 0; round < 3; round++) {
        random_batch(net, B, targets, 60 + (uint64_t)round, 1);
        if (round >= 1) { /* a step's worth of change, written as the optimiser writes it */
            struct fer_param_group *groups;
            size_t n_groups = fer_net_param_groups(net, &groups);
            for (size_t g = 0; g < n_groups; g++)
                for (size_t i = 0; i < groups[g].n; i++)
                    groups[g].param[i] -= 0.05f * groups[g].grad[i];
            fer_net_weights_changed(net);
        }
        double loss[2];
        for (int own = 0; own <= 1; own++) {
            fer_net_set_own_kernels(net, own);
            fer_net_set_noise(net, 9, (uint64_t)round); /* the same dropout masks */
            if (own && round == 2) /* no memory to transform the filters: OpenBLAS instead */
                fer_alloc_fail_after(0);
            loss[own] = loss_of(net, B, targets);
            fer_net_zero_grad(net);
            fer_net_backward(net, B);
            fer_alloc_fail_after(-1);
            memcpy(grads[own], fer_net_grads(net, &n), sizeof(float) * n);
        }
        double worst = 0, scale = 0;
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs((double)(grads[0][i] - grads[1][i])));
            scale = fmax(scale, fabs((double)grads[0][i]));
        }
        if (worst >= 1e-4 * scale || fabs(loss[0] - loss[1]) >= 1e-5)
            fprintf(stderr,
                    "  side %d, round %d: loss %g vs %g, worst gradient difference %g of %g\n",
                    side, round, loss[0], loss[1], worst, scale);
        CHECK(scale > 0);
        CHECK(worst < 1e-4 * scale);
        CHECK(fabs(loss[0] - loss[1]) < 1e-5);
    }
    fer_net_set_own_kernels(net, 1);
    free(grads[0]);
    free(grads[1]);
    fer_net_free(net);
}

TEST(training_step_same_with_own_kernels)
{
    check_training_step(12); /* even maps: 12x12 and 6x6 */
    check_training_step(11); /* odd: 11x11 and 5x5, as in the built-in network */
}

/* A whole network at inference, Winograd on and off: the same probabilities, also after the
 * weights change under it (its filters are made again) and when their memory cannot be had. */
TEST(winograd_inference_matches_im2col)
{
    const char *text = "[net]\nwidth=22\nheight=22\nchannels=1\n"
                       "[convolutional]\nfilters=8\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                       "[convolutional]\nfilters=64\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                       "[convolutional]\nfilters=64\nsize=3\nbatch_normalize=1\n"
                       "[shortcut]\nfrom=-2\nactivation=relu\n"
                       "[maxpool]\nsize=2\n"
                       "[convolutional]\nfilters=64\nsize=3\nactivation=relu\n"
                       "[global_avgpool]\n[dense]\noutput=classes\n[softmax]\n";
    enum { B = 3, K = 5 };
    fer_net *net = build(text, K, B);
    CHECK(net != NULL);
    if (!net)
        return;
    float targets[B * K], on[B * K], off[B * K];
    fer_net_init_weights(net, 3);
    for (int round = 0; round < 3; round++) {
        random_batch(net, B, targets, 40 + (uint64_t)round, 0);
        if (round == 1) { /* new weights, through the net's own pointer */
            size_t n;
            float *w = fer_net_params(net, &n);
            for (size_t i = 0; i < n; i++)
                w[i] *= (i % 3) ? 1.1f : -0.9f;
            fer_net_weights_changed(net);
        }
        if (round == 2) { /* a new net with no memory for its filters: im2col instead */
            fer_net_free(net);
            if (!(net = build(text, K, B)))
                return;
            fer_net_init_weights(net, 4);
            random_batch(net, B, targets, 50, 0);
            fer_alloc_fail_after(0);
        }
        fer_net_set_own_kernels(net, 1);
        fer_net_forward(net, B, 0);
        fer_alloc_fail_after(-1);
        memcpy(on, fer_net_output(net), sizeof(on));
        fer_net_set_own_kernels(net, 0);
        fer_net_forward(net, B, 0);
        memcpy(off, fer_net_output(net), sizeof(off));
        double worst = 0;
        for (int i = 0; i < B * K; i++)
            worst = fmax(worst, fabs((double)(on[i] - off[i])));
        if (worst >= 1e-5)
            fprintf(stderr, "  round %d: worst difference %g\n", round, worst);
        CHECK(worst < 1e-5);
    }
    fer_net_free(net);
}

/* The 2x2 pool's rule, written out: the first maximum in row order, NaN never, 0 for a window
 * with nothing above -FLT_MAX. */
static float max2x2_rule(const float *in, int w, int y, int x)
{
    float best = -FLT_MAX;
    for (int ky = 0; ky < 2; ky++)
        for (int kx = 0; kx < 2; kx++) {
            const float v = in[(2 * y + ky) * w + 2 * x + kx];
            best = v > best ? v : best;
        }
    return best > -FLT_MAX ? best : 0;
}

/* Wrong values of layer l (a shortcut, a 2x2 max pool or the global average pool) against its
 * own rule applied to the outputs of the layers it reads, for `batch` images. */
static size_t wrong_in_combining_layer(const struct fer_layer *ls, int i, int batch)
{
    const struct fer_layer *l = &ls[i], *before = &ls[i - 1];
    size_t wrong = 0;
    for (int b = 0; b < batch; b++)
        for (size_t k = 0; k < l->out_size; k++) {
            const size_t at = (size_t)b * l->out_size + k;
            float v;
            if (l->type == FER_LAYER_SHORTCUT) {
                v = before->out[at] + ls[l->from].out[at];
                if (l->act == FER_ACT_RELU)
                    v = v > 0 ? v : 0;
            } else if (l->type == FER_LAYER_GAP) { /* the values in row order, then the mean */
                const int plane = l->in_h * l->in_w;
                const float *src = before->out + (size_t)b * before->out_size + k * (size_t)plane;
                v = 0;
                for (int q = 0; q < plane; q++)
                    v += src[q];
                v /= (float)plane;
            } else {
                const int plane = l->out_h * l->out_w, c = (int)k / plane;
                const int y = ((int)k % plane) / l->out_w, x = (int)k % l->out_w;
                v = max2x2_rule(before->out + (size_t)b * before->out_size +
                                    (size_t)c * (size_t)(l->in_h * l->in_w),
                                l->in_w, y, x);
            }
            wrong += memcmp(&v, &l->out[at], sizeof(v)) != 0;
        }
    return wrong;
}

/* In inference a [shortcut] right after a convolution, and a 2x2 [maxpool] after either, are
 * made by the convolution's threads (fer_shortcut_done_by_conv, fer_maxpool_done_by_conv):
 * after Winograd split by tile rows (16 filters) and by panels (64), and by the batch, a packed
 * 1x1 projection, a convolution with a bias and no batch norm; and one shortcut after another,
 * which adds on its own; and the global pool, one face's channels split over the threads. Each
 * must hold its rule to the bit, on 1 and 2 threads, one face and a batch, fer's kernels and
 * BLAS. */
TEST(layers_done_by_conv_keep_their_rules_in_inference)
{
    const char *text = "[net]\nwidth=12\nheight=12\nchannels=1\n"
                       "[convolutional]\nfilters=16\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                       "[convolutional]\nfilters=16\nsize=3\nbatch_normalize=1\n"
                       "[shortcut]\nfrom=-2\nactivation=relu\n"
                       "[maxpool]\nsize=2\n"
                       "[convolutional]\nfilters=64\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                       "[convolutional]\nfilters=64\nsize=3\n"
                       "[route]\nlayers=-3\n"
                       "[convolutional]\nfilters=64\nsize=1\npad=0\nbatch_normalize=1\n"
                       "[shortcut]\nfrom=-3\n"
                       "[shortcut]\nfrom=-5\nactivation=relu\n"
                       "[convolutional]\nfilters=64\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                       "[maxpool]\nsize=2\n"
                       "[global_avgpool]\n[dense]\noutput=classes\n[softmax]\n";
    enum { B = 5 };
    char err[FER_ERR_LEN];
    for (int threads = 1; threads <= 2; threads++)
        for (int own = 0; own <= 1; own++)
            for (int batch = 1; batch <= B; batch += B - 1) {
                fer_net *net = build(text, 7, B);
                fer_pool *pool = NULL;
                CHECK(net != NULL);
                if (!net || fer_pool_new(threads, &pool, err) != FER_OK ||
                    fer_net_set_pool(net, pool, err) != FER_OK) {
                    fer_net_free(net);
                    fer_pool_free(pool);
                    return;
                }
                float targets[B * 7];
                fer_net_init_weights(net, 21);
                random_batch(net, B, targets, 22, 0);
                fer_net_set_own_kernels(net, own);
                fer_net_forward(net, batch, 0);
                int n_layers, checked = 0;
                const struct fer_layer *ls = fer_net_layers(net, &n_layers);
                for (int i = 0; i < n_layers; i++) {
                    if (ls[i].type != FER_LAYER_SHORTCUT && ls[i].type != FER_LAYER_MAXPOOL &&
                        ls[i].type != FER_LAYER_GAP)
                        continue;
                    const size_t wrong = wrong_in_combining_layer(ls, i, batch);
                    if (wrong)
                        fprintf(stderr, "  layer %d, %d threads, own %d, batch %d: %zu wrong\n", i,
                                threads, own, batch, wrong);
                    CHECK(wrong == 0);
                    checked++;
                }
                CHECK(checked == 6);
                fer_net_free(net);
                fer_pool_free(pool);
            }
}

/* Weights written without fer_net_weights_changed after a pass made filters from them: the
 * check that sanitizer builds make before reusing filters (an abort there) sees it, for the
 * first layer's packed filters (a 1x1 convolution) and the second's Winograd filters (forward
 * and backward); the notice clears it. Asking for the weights is not writing them. */
TEST(weights_written_without_notice_are_caught)
{
#ifndef FER_CHECK_CACHE
    CHECK_SKIP("built without FER_CHECK_CACHE: no hash of the weights to compare");
#else
    const char *text = "[net]\nwidth=10\nheight=10\nchannels=1\n"
                       "[convolutional]\nfilters=16\nsize=1\npad=0\nactivation=relu\n"
                       "[convolutional]\nfilters=16\nsize=3\nactivation=relu\n"
                       "[global_avgpool]\n[dense]\noutput=classes\n[softmax]\n";
    enum { B = 2, K = 3 };
    fer_net *net = build(text, K, B);
    CHECK(net != NULL);
    if (!net)
        return;
    float targets[B * K];
    fer_net_init_weights(net, 6);
    random_batch(net, B, targets, 6, 0);
    struct fer_param_group *groups;
    size_t n_groups = fer_net_param_groups(net, &groups);
    CHECK(n_groups == 6 && strcmp(groups[2].name, "1.conv.weight") == 0);
    /* the first layer (1x1) on packed filters, the second on Winograd's, both ways */
    float *written[2] = {groups[0].param, groups[2].param};
    for (int k = 0; k < 2; k++) {
        loss_of(net, B, targets);
        fer_net_zero_grad(net);
        fer_net_backward(net, B);
        CHECK(!fer_net_filters_stale(net));
        size_t n;
        CHECK(fer_net_params(net, &n) == groups[0].param && !fer_net_filters_stale(net));
        written[k][1] += 0.25f;
        CHECK(fer_net_filters_stale(net));
        fer_net_weights_changed(net);
        CHECK(!fer_net_filters_stale(net));
        fer_net_forward(net, B, 0);
        CHECK(!fer_net_filters_stale(net));
    }
    fer_net_free(net);
#endif
}

/* A 2x2, stride-2 max pool of c channels, side x side to out_side x out_side, on the caller's
 * buffers, and a one-image pass over in and din. */
static struct fer_layer maxpool_layer(int c, int side, int out_side, float *out, uint32_t *arg,
                                      float *delta)
{
    struct fer_layer l = {0};
    l.type = FER_LAYER_MAXPOOL;
    l.in_c = l.out_c = c;
    l.in_h = l.in_w = side;
    l.out_h = l.out_w = out_side;
    l.size = l.stride = 2;
    l.in_size = (size_t)(c * side * side);
    l.out_size = (size_t)(c * out_side * out_side);
    l.out = out;
    l.argmax = arg;
    l.delta = delta;
    return l;
}

static struct fer_pass one_image(const float *in, float *din)
{
    struct fer_pass p = {0};
    p.batch = 1;
    p.training = 1;
    p.in = in;
    p.in_delta = din;
    return p;
}

TEST(maxpool_picks_maximum)
{
    float in[16], out[4], delta[4] = {1, 2, 3, 4}, din[16] = {0};
    uint32_t arg[4];
    for (int i = 0; i < 16; i++)
        in[i] = (float)((i * 7) % 16);
    struct fer_layer l = maxpool_layer(1, 4, 2, out, arg, delta);
    struct fer_pass p = one_image(in, din);
    fer_pool_forward(&l, &p);
    /* windows {0,1,4,5}=0,7,12,3 -> 12; {2,3,6,7}=14,5,10,1 -> 14; {8,9,12,13}=8,15,4,11 -> 15;
       {10,11,14,15}=6,13,2,9 -> 13 */
    CHECK(out[0] == 12 && out[1] == 14 && out[2] == 15 && out[3] == 13);
    fer_pool_backward(&l, &p);
    CHECK(din[4] == 1 && din[2] == 2 && din[9] == 3 && din[11] == 4);
    float total = 0;
    for (int i = 0; i < 16; i++)
        total += din[i];
    CHECK(total == 10);
}

/* The 2x2 fast path against the rule written out: the first maximum in row order wins, NaN
 * never does, a window with nothing above -FLT_MAX gives 0 and passes no gradient; an odd
 * side's last row and column are left out. */
TEST(maxpool_2x2_ties_nan_and_odd_sides)
{
    float in[50], out[8], delta[8], din[50] = {0};
    uint32_t arg[8];
    for (int i = 0; i < 50; i++)
        in[i] = (float)((i * 13) % 7) - 3; /* ties everywhere */
    in[0] = NAN;                           /* window 0: NaN first, then 3, 0, 3 at 1, 5, 6 */
    in[1] = 3, in[5] = 0, in[6] = 3;
    in[2] = in[3] = in[7] = -INFINITY, in[8] = -FLT_MAX;         /* window 1: nothing */
    in[25 + 10] = in[25 + 11] = in[25 + 15] = in[25 + 16] = NAN; /* channel 1, window 2 */
    in[4] = 100;                                                 /* outside every window */
    for (int i = 0; i < 8; i++)
        delta[i] = (float)(i + 1);
    struct fer_layer l = maxpool_layer(2, 5, 2, out, arg, delta);
    struct fer_pass p = one_image(in, din);
    fer_pool_forward(&l, &p);
    fer_pool_backward(&l, &p);
    float want_din[50] = {0};
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) {
                int o = (c * 2 + y) * 2 + x, at = -1;
                float best = -FLT_MAX;
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++) {
                        int i = c * 25 + (2 * y + ky) * 5 + 2 * x + kx;
                        if (in[i] > best)
                            best = in[i], at = i;
                    }
                CHECK(out[o] == (at >= 0 ? best : 0));
                if (at >= 0)
                    want_din[at] += delta[o];
            }
    CHECK(out[0] == 3 && out[1] == 0 && out[6] == 0);
    CHECK(din[1] == 1 && din[6] == 0 && din[4] == 0);
    for (int i = 0; i < 50; i++)
        CHECK(din[i] == want_din[i]);
}

/* The 2x2 pool's vector kernel against the portable one, to the bit: sides whose output rows
 * are shorter than, as long as and longer than a vector, odd sides, ties between 0 and -0,
 * NaN, -inf and -FLT_MAX. */
TEST(maxpool_2x2_kernels_agree)
{
    static const int sides[] = {5, 11, 22, 33, 44, 64, 71};
    fer_rng rng;
    fer_rng_seed(&rng, 31, 0, 0, 0);
    for (size_t k = 0; k < sizeof(sides) / sizeof(sides[0]); k++) {
        const int side = sides[k], out_side = side / 2, c = 3;
        const size_t n_in = (size_t)(c * side * side), n_out = (size_t)(c * out_side * out_side);
        float *in = fer_malloc(sizeof(float) * n_in), *wide = fer_malloc(sizeof(float) * n_out);
        float *portable = fer_malloc(sizeof(float) * n_out);
        CHECK(in && wide && portable);
        if (in && wide && portable) {
            static const float special[] = {0.0f, -0.0f, NAN, -INFINITY, -FLT_MAX, 1.0f};
            for (size_t i = 0; i < n_in; i++) {
                const uint64_t r = fer_rng_below(&rng, 10);
                in[i] = r < 6 ? special[r] : fer_rng_normal(&rng);
            }
            struct fer_layer l = maxpool_layer(c, side, out_side, wide, NULL, NULL);
            struct fer_pass p = one_image(in, NULL);
            p.training = 0;
            fer_pool_forward(&l, &p);
            CHECK(fer_small_gemm_use("portable"));
            l.out = portable;
            fer_pool_forward(&l, &p);
            fer_small_gemm_use(NULL);
            const int same = memcmp(wide, portable, sizeof(float) * n_out) == 0;
            if (!same)
                fprintf(stderr, "  side %d: %s and portable differ\n", side,
                        fer_small_gemm_kernel());
            CHECK(same);
        }
        fer_free(in);
        fer_free(wide);
        fer_free(portable);
    }
}

static const char *RESNETISH = "[net]\nwidth=12\nheight=12\nchannels=1\n"
                               "[convolutional]\nfilters=8\nsize=3\nbatch_normalize=1\n"
                               "activation=relu\n"
                               "[convolutional]\nfilters=8\nsize=3\nbatch_normalize=1\n"
                               "[shortcut]\nfrom=-2\nactivation=relu\n"
                               "[maxpool]\nsize=2\n"
                               "[dropout]\nprobability=0.2\n"
                               "[dense]\noutput=16\nactivation=relu\n"
                               "[dense]\noutput=classes\n[softmax]\n";

/* A net whose 3x3 layers take Winograd (16 and more channels, 12x12 and 6x6 maps). */
static const char *WINOGRAD_NET = "[net]\nwidth=12\nheight=12\nchannels=1\n"
                                  "[convolutional]\nfilters=16\nsize=3\nactivation=relu\n"
                                  "[convolutional]\nfilters=32\nsize=3\nbatch_normalize=1\n"
                                  "activation=relu\n"
                                  "[maxpool]\nsize=2\n"
                                  "[convolutional]\nfilters=48\nsize=3\nactivation=relu\n"
                                  "[convolutional]\nfilters=96\nsize=3\nbatch_normalize=1\n"
                                  "activation=relu\n"
                                  "[global_avgpool]\n"
                                  "[dense]\noutput=classes\n[softmax]\n";

/* WINOGRAD_NET's first layers on a 48x48 map: one face's share of tile rows on two or three
 * threads runs in several blocks (block_tile_rows in winograd.c), the AVX-512 scatter where
 * the machine has it. */
static const char *WIDE_WINOGRAD_NET = "[net]\nwidth=48\nheight=48\nchannels=1\n"
                                       "[convolutional]\nfilters=16\nsize=3\nactivation=relu\n"
                                       "[convolutional]\nfilters=32\nsize=3\nbatch_normalize=1\n"
                                       "activation=relu\n"
                                       "[global_avgpool]\n"
                                       "[dense]\noutput=classes\n[softmax]\n";

/* out (batch x 7) = the inference of `spec` on the first `batch` of 19 random faces, on
 * `threads` threads; 0 when the net could not be made. */
/* The pool's shares set so that thread 0 takes most of each layer: the others' ranges start and
 * end inside panels and rows. */
static void skew_pool(fer_pool *pool)
{
    const double weights[3] = {0.6, 0.25, 0.15};
    fer_pool_set_weights(pool, weights);
}

static int net_outputs(const char *spec, int threads, int skew, int batch, float *out)
{
    float targets[19 * 7];
    char err[FER_ERR_LEN];
    fer_net *net = build(spec, 7, 19);
    fer_pool *pool = NULL;
    if (!net || fer_pool_new(threads, &pool, err) != FER_OK ||
        fer_net_set_pool(net, pool, err) != FER_OK) {
        fer_net_free(net);
        fer_pool_free(pool);
        return 0;
    }
    fer_net_init_weights(net, 12);
    random_batch(net, 19, targets, 12, 0);
    if (skew)
        skew_pool(pool);
    fer_net_forward(net, batch, 0);
    memcpy(out, fer_net_output(net), sizeof(float) * 7 * (size_t)batch);
    fer_net_free(net);
    fer_pool_free(pool);
    return 1;
}

static int winograd_net_outputs(const char *spec, int threads, int batch, float *out)
{
    return net_outputs(spec, threads, 0, batch, out);
}

/* Inference of 1, 2 and 19 faces on 1 and 3 threads: one face split over the threads
 * (fer_winograd_forward_shared by tile rows where a layer has fewer filter panels than threads,
 * 32 or 48 filters here, and by panels where it has as many, 96; the packed stem by filter rows;
 * the dense layers by outputs), images in groups, one at a time.
 * For each batch, every thread count gives the same outputs to the bit; across batches, the
 * same faces get the same probabilities within rounding (one face's dense layers take
 * fer_small_gemv, a batch's OpenBLAS). */
TEST(inference_same_for_any_threads_and_batch)
{
    static const int batches[] = {1, 2, 19};
    float ref[19 * 7], one[19 * 7], out[19 * 7];
    CHECK(winograd_net_outputs(WINOGRAD_NET, 1, 19, ref));
    for (int bi = 0; bi < 3; bi++) {
        const int batch = batches[bi];
        const size_t n = 7 * (size_t)batch;
        CHECK(winograd_net_outputs(WINOGRAD_NET, 1, batch, one));
        CHECK(winograd_net_outputs(WINOGRAD_NET, 3, batch, out));
        const int same = memcmp(one, out, sizeof(float) * n) == 0;
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs((double)one[i] - (double)ref[i]));
        if (!same || worst > 1e-6)
            fprintf(stderr, "  batch %d: 3 threads %s 1; %g from batch 19\n", batch,
                    same ? "same as" : "differ from", worst);
        CHECK(same);
        CHECK(worst <= 1e-6);
    }
}

/* One face of a 48x48 map on 2 and 3 threads, its tile rows in several blocks a share: the
 * same outputs to the bit as on one thread. */
TEST(one_wide_face_same_on_any_threads)
{
    float one[7], out[7];
    CHECK(winograd_net_outputs(WIDE_WINOGRAD_NET, 1, 1, one));
    for (int threads = 2; threads <= 3; threads++) {
        CHECK(winograd_net_outputs(WIDE_WINOGRAD_NET, threads, 1, out));
        CHECK(memcmp(one, out, sizeof(one)) == 0);
    }
}

/* WINOGRAD_NET with a 1x1 projection of 48 filters (8 panels of the packed product) before its
 * last 3x3 layer. */
static const char *PROJECTED_NET = "[net]\nwidth=12\nheight=12\nchannels=1\n"
                                   "[convolutional]\nfilters=16\nsize=3\nactivation=relu\n"
                                   "[convolutional]\nfilters=32\nsize=3\nbatch_normalize=1\n"
                                   "activation=relu\n"
                                   "[maxpool]\nsize=2\n"
                                   "[convolutional]\nfilters=48\nsize=1\npad=0\n"
                                   "batch_normalize=1\nactivation=relu\n"
                                   "[convolutional]\nfilters=96\nsize=3\nbatch_normalize=1\n"
                                   "activation=relu\n"
                                   "[global_avgpool]\n"
                                   "[dense]\noutput=classes\n[softmax]\n";

/* One face on 2 and 3 threads cut unevenly (thread 0's share 0.6 at first: ranges that begin and
 * end inside a panel's tile rows, among the stem's filters and the projection's panels): the
 * same outputs to the bit as on one thread. */
TEST(one_face_same_when_threads_cut_unevenly)
{
    const char *const specs[] = {WINOGRAD_NET, WIDE_WINOGRAD_NET, PROJECTED_NET};
    for (int si = 0; si < 3; si++) {
        float one[7], out[7];
        CHECK(net_outputs(specs[si], 1, 0, 1, one));
        for (int threads = 2; threads <= 3; threads++) {
            CHECK(net_outputs(specs[si], threads, 1, 1, out));
            CHECK(memcmp(one, out, sizeof(one)) == 0);
        }
    }
}

TEST(threads_give_identical_results)
{
    const int B = 19;
    float targets[19 * 7];
    float *grads1 = NULL, *out1 = NULL;
    size_t n = 0;
    for (int threads = 1; threads <= 3; threads += 2) {
        fer_net *net = build(RESNETISH, 7, B);
        CHECK(net != NULL);
        if (!net)
            return;
        fer_pool *pool = NULL;
        char err[FER_ERR_LEN];
        CHECK(fer_pool_new(threads, &pool, err) == FER_OK);
        CHECK(fer_net_set_pool(net, pool, err) == FER_OK);
        fer_net_init_weights(net, 11);
        random_batch(net, B, targets, 11, 0);
        fer_net_set_noise(net, 1, 1);
        fer_net_forward(net, B, 1);
        fer_net_loss(net, B, targets, 0);
        fer_net_zero_grad(net);
        fer_net_backward(net, B);
        float *g = fer_net_grads(net, &n);
        if (!grads1) {
            grads1 = malloc(n * sizeof(float));
            out1 = malloc(B * 7 * sizeof(float));
            memcpy(grads1, g, n * sizeof(float));
            memcpy(out1, fer_net_output(net), B * 7 * sizeof(float));
        } else {
            CHECK(memcmp(grads1, g, n * sizeof(float)) == 0);
            CHECK(memcmp(out1, fer_net_output(net), B * 7 * sizeof(float)) == 0);
        }
        fer_net_free(net);
        fer_pool_free(pool);
    }
    free(grads1);
    free(out1);
}

TEST(training_reduces_loss)
{
    fer_net *net = build(RESNETISH, 3, 16);
    CHECK(net != NULL);
    if (!net)
        return;
    fer_net_init_weights(net, 4);
    float targets[16 * 3];
    random_batch(net, 16, targets, 4, 0);
    fer_optim *opt;
    char err[FER_ERR_LEN];
    struct fer_optim_config cfg = fer_optim_defaults(FER_OPTIM_ADAMW);
    CHECK(fer_optim_new(&cfg, net, &opt, err) == FER_OK);
    double first = 0, last = 0;
    for (int step = 0; step < 40; step++) {
        fer_net_set_noise(net, 4, (uint64_t)step);
        fer_net_forward(net, 16, 1);
        last = fer_net_loss(net, 16, targets, 0);
        if (step == 0)
            first = last;
        fer_net_zero_grad(net);
        fer_net_backward(net, 16);
        fer_optim_step(opt, 3e-3f);
    }
    CHECK(last < first * 0.5);
    fer_optim_free(opt);
    fer_net_free(net);
}

TEST(sgd_and_adam_match_hand_computation)
{
    fer_net *net =
        build("[net]\nwidth=4\nheight=4\nchannels=1\n[dense]\noutput=classes\n[softmax]\n", 2, 1);
    CHECK(net != NULL);
    if (!net)
        return;
    struct fer_param_group *groups;
    CHECK(fer_net_param_groups(net, &groups) == 2);
    struct fer_param_group *w = &groups[0], *b = &groups[1];
    CHECK(w->decay == 1 && b->decay == 0 && w->n == 32 && b->n == 2);
    char err[FER_ERR_LEN];
    fer_optim *opt;
    struct fer_optim_config cfg = fer_optim_defaults(FER_OPTIM_SGD);
    cfg.weight_decay = 0.1f;
    CHECK(fer_optim_new(&cfg, net, &opt, err) == FER_OK);
    w->param[0] = 1.0f;
    w->grad[0] = 0.5f;
    b->param[0] = 1.0f;
    b->grad[0] = 0.5f;
    fer_optim_step(opt, 0.1f);
    /* d = 0.5 + 0.1*1 = 0.6; m = 0.6; nesterov update = d + 0.9 m = 1.14 */
    CHECK_NEAR(w->param[0], 1.0 - 0.1 * 1.14, 1e-6);
    /* bias: no decay: d = 0.5, update = 0.5 + 0.45 = 0.95 */
    CHECK_NEAR(b->param[0], 1.0 - 0.1 * 0.95, 1e-6);
    fer_optim_free(opt);

    cfg = fer_optim_defaults(FER_OPTIM_ADAMW);
    cfg.weight_decay = 0.01f;
    CHECK(fer_optim_new(&cfg, net, &opt, err) == FER_OK);
    w->param[0] = 2.0f;
    w->grad[0] = -3.0f;
    fer_optim_step(opt, 0.01f);
    /* first Adam step moves by lr * sign(g) (bias-corrected), plus decoupled decay */
    CHECK_NEAR(w->param[0], 2.0 + 0.01 * (1.0 - 0.01 * 2.0), 1e-5);
    CHECK(fer_optim_steps(opt) == 1);
    fer_optim_free(opt);
    fer_net_free(net);
}

TEST(schedules)
{
    struct fer_schedule s = {FER_SCHED_COSINE, 0.1f, 0.1f, 10, 0.01f, 0, 3, 1, 3.4e38f, 0};
    CHECK_NEAR(fer_schedule_lr(&s, 0, 10), 0.1, 1e-7);
    CHECK_NEAR(fer_schedule_lr(&s, 5, 10), 0.5 * (0.1 + 0.001), 1e-6);
    CHECK_NEAR(fer_schedule_lr(&s, 10, 10), 0.001, 1e-7);
    s.kind = FER_SCHED_STEP;
    s.step_epochs = 3;
    CHECK_NEAR(fer_schedule_lr(&s, 6.5, 10), 0.001, 1e-7);
    s.warmup = 2;
    CHECK(fer_schedule_lr(&s, 1, 10) < 0.06f);
    s.warmup = 0;
    s.kind = FER_SCHED_PLATEAU;
    s.patience = 1;
    fer_schedule_observe(&s, 1.0f);
    fer_schedule_observe(&s, 0.9f);
    CHECK_NEAR(fer_schedule_lr(&s, 2, 10), 0.1, 1e-7);
    fer_schedule_observe(&s, 0.95f);
    fer_schedule_observe(&s, 0.95f);
    CHECK_NEAR(fer_schedule_lr(&s, 4, 10), 0.01, 1e-7);
    CHECK(fer_sched_kind_parse("onecycle") == FER_SCHED_ONECYCLE);
    CHECK(fer_sched_kind_parse("nope") == -1);
    CHECK(fer_optim_kind_parse("adamw") == FER_OPTIM_ADAMW);
}

static void expect_spec_error(const char *text, int classes, const char *fragment)
{
    fer_spec *spec = NULL;
    fer_net *net = NULL;
    char err[FER_ERR_LEN] = "";
    enum fer_status st = fer_spec_parse(text, "bad.cfg", &spec, err);
    if (st == FER_OK) {
        st = fer_net_new(spec, classes, 2, &net, err);
        fer_spec_free(spec);
    }
    CHECK(st != FER_OK);
    CHECK(net == NULL);
    if (!strstr(err, fragment)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", err, fragment);
        CHECK(0);
    }
}

TEST(spec_errors_name_the_line)
{
    expect_spec_error("[net]\nwidth=8\nheight=8\n[convolutional]\nfilters=4\nsizes=3\n[softmax]\n",
                      2, "bad.cfg:6: unknown key 'sizes'");
    expect_spec_error("[net]\n[conv]\nfilters=x\n", 2, "bad.cfg:3: filters=x");
    expect_spec_error("[net]\n[magic]\n[softmax]\n", 2, "bad.cfg:2: unknown section [magic]");
    expect_spec_error("[net]\n[dense]\noutput=5\n", 2, "last layer must be [softmax]");
    expect_spec_error("[net]\n[dense]\noutput=5\n[softmax]\n", 3, "ends with 5 outputs");
    expect_spec_error("[net]\nwidth=8\nheight=8\n[conv]\nfilters=4\n[conv]\nfilters=5\n"
                      "[shortcut]\nfrom=-2\n[dense]\noutput=classes\n[softmax]\n",
                      2, "shapes differ");
    expect_spec_error("[net\n", 2, "bad.cfg:1: malformed section header");
    expect_spec_error("width=3\n", 2, "before any [section]");
    expect_spec_error("[net]\nwidth=8\nheight=8\n[maxpool]\nsize=16\n[softmax]\n", 2,
                      "leaves nothing");
    expect_spec_error("", 2, "no sections");
    const char *head = "[net]\nwidth=4\nheight=4\n[dense]\noutput=classes\n[softmax]\n";
    char text[256];
    const char *bad_merges[] = {"0", "0,0", "0,7", "-1,2", "1,x"};
    for (size_t i = 0; i < sizeof(bad_merges) / sizeof(bad_merges[0]); i++) {
        snprintf(text, sizeof(text), "%smerge=%s\n", head, bad_merges[i]);
        expect_spec_error(text, 6, "bad.cfg:6: merge=");
    }
}

/* A softmax with merge=0,1 reads exactly what the same weights without it read, with the first
 * two outputs' probabilities added; such a net is not trained. */
TEST(softmax_merge_adds_probabilities)
{
    const char *plain = "[net]\nwidth=6\nheight=6\nchannels=1\n"
                        "[convolutional]\nfilters=4\nsize=3\nactivation=relu\n"
                        "[dense]\noutput=classes\n[softmax]\n";
    char merged_text[256];
    snprintf(merged_text, sizeof(merged_text), "%smerge=2,0,5\n", plain);
    enum { B = 3 };
    fer_net *seven = build(plain, 7, B), *five = build(merged_text, 5, B);
    CHECK(seven && five);
    if (!seven || !five) {
        fer_net_free(seven);
        fer_net_free(five);
        return;
    }
    CHECK(!fer_net_merges_outputs(seven) && fer_net_merges_outputs(five));
    CHECK(fer_net_classes(five) == 5);
    fer_net_init_weights(seven, 12);
    size_t n7, n5;
    const float *w7 = fer_net_params(seven, &n7);
    float *w5 = fer_net_params(five, &n5);
    CHECK(n7 == n5);
    memcpy(w5, w7, sizeof(float) * n7);
    fer_net_weights_changed(five);
    float targets[B * 7];
    random_batch(seven, B, targets, 13, 0);
    memcpy(fer_net_input(five), fer_net_input(seven), sizeof(float) * B * 36);
    fer_net_forward(seven, B, 0);
    fer_net_forward(five, B, 0);
    const float *p7 = fer_net_output(seven), *p5 = fer_net_output(five);
    for (int b = 0; b < B; b++) {
        const float *a = p7 + b * 7, *m = p5 + b * 5;
        /* outputs 0..6 -> 1, 3, 4, 6 kept in order, 2 takes 0 and 5: [p1, p2+p0+p5, p3, p4, p6] */
        CHECK_NEAR(m[0], a[1], 1e-6);
        CHECK_NEAR(m[1], a[2] + a[0] + a[5], 1e-6);
        CHECK_NEAR(m[2], a[3], 1e-6);
        CHECK_NEAR(m[3], a[4], 1e-6);
        CHECK_NEAR(m[4], a[6], 1e-6);
        CHECK_NEAR(m[0] + m[1] + m[2] + m[3] + m[4], 1.0, 1e-5);
    }
    /* backward is a no-op on it: the gradients stay as they were */
    size_t ng;
    float *g = fer_net_grads(five, &ng);
    fer_net_zero_grad(five);
    fer_net_backward(five, B);
    double sum = 0;
    for (size_t i = 0; i < ng; i++)
        sum += fabs((double)g[i]);
    CHECK(sum == 0);
    fer_net_free(seven);
    fer_net_free(five);
}

static fer_net *trained_tiny(struct fer_meta *meta)
{
    fer_net *net = build(RESNETISH, 3, 4);
    if (!net)
        return NULL;
    fer_net_init_weights(net, 8);
    float targets[4 * 3];
    random_batch(net, 4, targets, 8, 0);
    fer_net_forward(net, 4, 1); /* moves BN running stats away from their start */
    fer_meta_set(meta, "classes", "a,b,c");
    fer_meta_set(meta, "name", "tiny\nnewline");
    return net;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

TEST(model_file_round_trip)
{
    struct fer_meta meta = {0}, back = {0}, trainer = {0}, trainer_back = {0};
    fer_net *net = trained_tiny(&meta);
    CHECK(net != NULL);
    if (!net)
        return;
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "m.fer");
    fer_meta_set(&trainer, "epoch", "3");
    float optim[5] = {1, 2, 3, 4, 5};
    struct fer_checkpoint_extra extra = {&trainer, optim, 5};
    CHECK(fer_model_save(path, net, &meta, &extra, err) == FER_OK);
    fer_net *copy = NULL;
    struct fer_checkpoint_extra got = {&trainer_back, NULL, 0};
    CHECK(fer_model_load(path, 4, &copy, &back, &got, err) == FER_OK);
    if (copy) {
        CHECK_STR(fer_meta_get(&back, "classes"), "a,b,c");
        CHECK_STR(fer_meta_get(&back, "name"), "tiny newline");
        CHECK_STR(fer_meta_get(&trainer_back, "epoch"), "3");
        CHECK(got.n_optim == 5 && got.optim && got.optim[4] == 5);
        memcpy(fer_net_input(copy), fer_net_input(net), sizeof(float) * 4 * 144);
        fer_net_forward(net, 4, 0);
        fer_net_forward(copy, 4, 0);
        CHECK(memcmp(fer_net_output(net), fer_net_output(copy), sizeof(float) * 12) == 0);
        char names[8][16];
        CHECK(fer_meta_classes(&back, names, 8) == 3);
        CHECK_STR(names[2], "c");
    }
    fer_free(got.optim);
    fer_net_free(copy);
    fer_net_free(net);
    fer_meta_clear(&meta);
    fer_meta_clear(&back);
    fer_meta_clear(&trainer);
    fer_meta_clear(&trainer_back);
}

static enum fer_status try_load(const char *path, char *err)
{
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    enum fer_status st = fer_model_load(path, 2, &net, &meta, NULL, err);
    fer_net_free(net);
    fer_meta_clear(&meta);
    return st;
}

TEST(model_file_rejects_damage)
{
    struct fer_meta meta = {0};
    fer_net *net = trained_tiny(&meta);
    if (!net)
        return;
    char path[128], bad[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "good.fer");
    test_tmp_path(bad, sizeof(bad), "bad.fer");
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
    long size = file_size(path);
    CHECK(size > 100);
    if (size <= 100)
        return;
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc((size_t)size);
    CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    /* one flipped bit anywhere */
    for (long at = 20; at < size; at += size / 7) {
        buf[at] ^= 4;
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)size, f);
        fclose(f);
        CHECK(try_load(bad, err) == FER_ERR_CORRUPT);
        CHECK(strstr(err, "checksum") != NULL);
        buf[at] ^= 4;
    }
    /* truncated at several points */
    for (long cut = 0; cut < size; cut += size / 5 + 1) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)cut, f);
        fclose(f);
        CHECK(try_load(bad, err) != FER_OK);
    }
    /* a foreign file */
    f = fopen(bad, "wb");
    fputs("emotion,pixels,Usage\n0,1 2 3,Training\n", f);
    fclose(f);
    CHECK(try_load(bad, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "not a fer model file") != NULL);
    /* a newer version */
    buf[8] = 9;
    f = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)size, f);
    fclose(f);
    CHECK(try_load(bad, err) == FER_ERR_VERSION);
    CHECK(try_load("/nonexistent.fer", err) == FER_ERR_IO);
    /* saving into a missing directory fails cleanly */
    CHECK(fer_model_save("/nonexistent/dir/m.fer", net, &meta, NULL, err) == FER_ERR_IO);
    free(buf);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

TEST(model_load_survives_allocation_failures)
{
    struct fer_meta meta = {0};
    fer_net *net = trained_tiny(&meta);
    if (!net)
        return;
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "faults.fer");
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
    int ok_at = -1;
    for (int k = 0; k < 400 && ok_at < 0; k++) {
        fer_alloc_fail_after(k);
        enum fer_status st = try_load(path, err);
        fer_alloc_fail_after(-1);
        if (st == FER_OK)
            ok_at = k;
        else
            CHECK(st == FER_ERR_NOMEM);
    }
    CHECK(ok_at > 5);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

/*
 * A set that fails is not lost silently: the metadata remembers it (unset does not forget it,
 * clear does), and fer_model_save refuses it by name, for the model's and the checkpoint's.
 */
TEST(lost_metadata_key_refuses_save)
{
    struct fer_meta meta = {0}, trainer = {0};
    fer_net *net = trained_tiny(&meta);
    if (!net)
        return;
    char path[128], err[FER_ERR_LEN] = "";
    test_tmp_path(path, sizeof(path), "lost.fer");
    remove(path);
    CHECK(fer_meta_set(&meta, "k", "0") == FER_OK);
    for (int i = meta.n; i < FER_META_MAX; i++) {
        char key[16];
        snprintf(key, sizeof(key), "key%d", i);
        CHECK(fer_meta_set(&meta, key, "v") == FER_OK);
    }
    CHECK(meta.n == FER_META_MAX && fer_meta_check(&meta, NULL, err) == FER_OK);
    CHECK(fer_meta_set(&meta, "one_too_many", "x") == FER_ERR_LIMIT);
    CHECK(fer_meta_set(&meta, "k", "replaced") == FER_OK); /* an existing key still changes */
    CHECK(fer_meta_set(&meta, "two_too_many", "x") == FER_ERR_LIMIT);
    char want[128];
    snprintf(want, sizeof(want), "metadata key 'one_too_many' was not stored: more than %d keys",
             FER_META_MAX);
    CHECK(fer_meta_check(&meta, "model", err) == FER_ERR_LIMIT && strstr(err, want));
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_ERR_LIMIT);
    CHECK(strstr(err, want) != NULL && strstr(err, "lost.fer") != NULL);
    fer_meta_unset(&meta, "k"); /* room again, but the key stays lost */
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_ERR_LIMIT);
    FILE *f = fopen(path, "rb");
    CHECK(f == NULL); /* nothing written */
    if (f)
        fclose(f);

    /* a clear starts afresh; the checkpoint's trainer metadata is checked the same way */
    fer_meta_clear(&meta);
    CHECK(fer_meta_check(&meta, NULL, err) == FER_OK);
    fer_meta_set(&meta, "classes", "a,b,c");
    CHECK(fer_meta_set(&trainer, "a=b", "1") == FER_ERR_ARG); /* would read back as a -> b=1 */
    CHECK(fer_meta_get(&trainer, "a=b") == NULL && fer_meta_get(&trainer, "a") == NULL);
    struct fer_checkpoint_extra extra = {&trainer, NULL, 0};
    CHECK(fer_model_save(path, net, &meta, &extra, err) == FER_ERR_ARG);
    CHECK(strstr(err, "metadata key 'a=b' was not stored") != NULL);
    CHECK(fer_meta_set(&trainer, "", "1") == FER_ERR_ARG);
    fer_meta_clear(&trainer);

    /* allocation failures are remembered too */
    fer_alloc_fail_after(0);
    CHECK(fer_meta_set(&meta, "name", "x") == FER_ERR_NOMEM);
    fer_alloc_fail_after(-1);
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_ERR_NOMEM);
    CHECK(strstr(err, "metadata key 'name' was not stored: out of memory") != NULL);
    fer_meta_clear(&meta);

    /* values are stored whole, however long, and read back */
    fer_meta_set(&meta, "classes", "a,b,c");
    char *long_value = malloc(6001);
    memset(long_value, 'v', 6000);
    long_value[6000] = 0;
    CHECK(fer_meta_setf(&meta, "command", "%s!", long_value) == FER_OK);
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
    struct fer_meta back = {0};
    fer_net *copy = NULL;
    CHECK(fer_model_load(path, 2, &copy, &back, NULL, err) == FER_OK);
    const char *v = fer_meta_get(&back, "command");
    CHECK(v && strlen(v) == 6001 && v[6000] == '!');
    free(long_value);
    fer_net_free(copy);
    fer_meta_clear(&back);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

/* Flips random bytes of a valid spec; parsing and building must fail cleanly or work. */
TEST(spec_fuzz_never_crashes)
{
    const char *base = RESNETISH;
    size_t len = strlen(base);
    char *text = malloc(len + 1);
    fer_rng rng;
    fer_rng_seed(&rng, 77, 0, 0, 0);
    static const char alphabet[] = "[]=-,0123456789\n #abcdefghijklmnopqrstuvwxyz_";
    int built = 0;
    for (int round = 0; round < 1500; round++) {
        memcpy(text, base, len + 1);
        int flips = 1 + (int)fer_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            text[fer_rng_below(&rng, len)] = alphabet[fer_rng_below(&rng, sizeof(alphabet) - 1)];
        fer_spec *spec = NULL;
        fer_net *net = NULL;
        char err[FER_ERR_LEN];
        if (fer_spec_parse(text, "fuzz.cfg", &spec, err) == FER_OK) {
            if (fer_net_new(spec, 3, 2, &net, err) == FER_OK) {
                built++;
                fer_net_init_weights(net, 1);
                fer_net_forward(net, 2, 1);
            }
            fer_spec_free(spec);
        }
        fer_net_free(net);
    }
    CHECK(built > 0);
    free(text);
}

/* Mutates a model file and re-seals its checksum, so the section parser itself is exercised. */
TEST(model_file_fuzz_never_crashes)
{
    struct fer_meta meta = {0};
    fer_net *net = trained_tiny(&meta);
    if (!net)
        return;
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "fuzz.fer");
    CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
    long size = file_size(path);
    CHECK(size > 100);
    unsigned char *orig = malloc((size_t)size), *buf = malloc((size_t)size);
    FILE *f = fopen(path, "rb");
    CHECK(fread(orig, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    fer_rng rng;
    fer_rng_seed(&rng, 78, 0, 0, 0);
    /* mutate only the first 600 bytes: magic, version, section table, meta and arch text */
    size_t span = size > 600 ? 600 : (size_t)size - 32;
    for (int round = 0; round < 600; round++) {
        memcpy(buf, orig, (size_t)size);
        int flips = 1 + (int)fer_rng_below(&rng, 3);
        for (int k = 0; k < flips; k++)
            buf[8 + fer_rng_below(&rng, span - 8)] = (unsigned char)fer_rng_below(&rng, 256);
        fer_sha256 sha;
        fer_sha256_init(&sha);
        fer_sha256_update(&sha, buf, (size_t)size - 32);
        fer_sha256_final(&sha, buf + size - 32);
        fer_net *loaded = NULL;
        struct fer_meta m = {0};
        fer_model_load_memory(buf, (size_t)size, "fuzz.fer", 2, &loaded, &m, NULL, err);
        fer_net_free(loaded);
        fer_meta_clear(&m);
    }
    free(orig);
    free(buf);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

/* A weight or a batch-norm statistic that is NaN or infinite: refused at load, by name. */
TEST(model_with_non_finite_weights_is_refused)
{
    struct fer_meta meta = {0};
    fer_net *net = trained_tiny(&meta);
    if (!net)
        return;
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "nan.fer");
    size_t n_params, n_buffers;
    float *params = fer_net_params(net, &n_params);
    float *buffers = fer_net_buffers(net, &n_buffers);
    const float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        float keep = params[n_params / 2];
        params[n_params / 2] = bad[k];
        fer_net_weights_changed(net);
        CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
        params[n_params / 2] = keep;
        fer_net *loaded = NULL;
        struct fer_meta m = {0};
        err[0] = 0;
        CHECK(fer_model_load(path, 2, &loaded, &m, NULL, err) == FER_ERR_CORRUPT);
        CHECK(loaded == NULL && strstr(err, "not a finite number") && strstr(err, "weight"));
        fer_meta_clear(&m);
    }
    if (n_buffers) {
        float keep = buffers[0];
        buffers[0] = NAN;
        CHECK(fer_model_save(path, net, &meta, NULL, err) == FER_OK);
        buffers[0] = keep;
        fer_net *loaded = NULL;
        struct fer_meta m = {0};
        CHECK(fer_model_load(path, 2, &loaded, &m, NULL, err) == FER_ERR_CORRUPT);
        CHECK(loaded == NULL && strstr(err, "batch-norm statistic"));
        fer_meta_clear(&m);
    }
    fer_net_free(net);
    fer_meta_clear(&meta);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_nn_XXXXXX") != 0)
        return 1;
    RUN(conv_matches_direct_convolution);
    RUN(stem_matches_direct_convolution);
    RUN(small_gemm_tn_matches_textbook_product);
    RUN(small_gemv_matches_textbook_product);
    RUN(tile_scatter_kernels_agree);
    RUN(winograd_matches_direct_convolution);
    RUN(winograd_inference_matches_im2col);
    RUN(layers_done_by_conv_keep_their_rules_in_inference);
    RUN(weights_written_without_notice_are_caught);
    RUN(training_step_same_with_own_kernels);
    RUN(maxpool_picks_maximum);
    RUN(maxpool_2x2_ties_nan_and_odd_sides);
    RUN(maxpool_2x2_kernels_agree);
    RUN(gradcheck_conv_maxpool_dense);
    RUN(gradcheck_batchnorm_avgpool_gap_pointwise);
    RUN(gradcheck_residual_route_dropout_bn_layer);
    RUN(gradcheck_depthwise_upsample);
    RUN(depthwise_matches_definition_on_detector_net);
    RUN(net_kinds_are_checked);
    RUN(threads_give_identical_results);
    RUN(inference_same_for_any_threads_and_batch);
    RUN(one_wide_face_same_on_any_threads);
    RUN(one_face_same_when_threads_cut_unevenly);
    RUN(training_reduces_loss);
    RUN(sgd_and_adam_match_hand_computation);
    RUN(schedules);
    RUN(spec_errors_name_the_line);
    RUN(softmax_merge_adds_probabilities);
    RUN(model_file_round_trip);
    RUN(model_file_rejects_damage);
    RUN(model_load_survives_allocation_failures);
    RUN(lost_metadata_key_refuses_save);
    RUN(spec_fuzz_never_crashes);
    RUN(model_file_fuzz_never_crashes);
    RUN(model_with_non_finite_weights_is_refused);
    test_tmp_remove();
    return check_report();
}
