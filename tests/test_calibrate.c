/*
 * test_calibrate.c - temperature scaling: the tempering formula, a fit that
 * finds a known temperature, and a model file that carries its temperature
 * into inference (and refuses one that makes no sense).
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "synth_task.h"
#include "tmp_dir.h"
#include "train/calibrate.h"
#include "train/evaluate.h"
#include "train/trainer.h"

static char train_csv[128], val_csv[128], arch_cfg[128], model[128];

/* p^(1/T) renormalised, by hand; zeros stay zero and the order of the classes holds. */
TEST(temper_follows_the_formula)
{
    float p[4] = {0.5f, 0.3f, 0.2f, 0.0f};
    fer_temper(p, 4, 1.0f);
    CHECK(p[0] == 0.5f && p[1] == 0.3f && p[2] == 0.2f && p[3] == 0.0f);
    fer_temper(p, 4, 2.0f);
    double s = sqrt(0.5) + sqrt(0.3) + sqrt(0.2);
    CHECK_NEAR(p[0], sqrt(0.5) / s, 1e-6);
    CHECK_NEAR(p[1], sqrt(0.3) / s, 1e-6);
    CHECK_NEAR(p[2], sqrt(0.2) / s, 1e-6);
    CHECK(p[3] == 0.0f);
    float q[3] = {0.6f, 0.3f, 0.1f};
    fer_temper(q, 3, 0.01f); /* 1/T = 100: no overflow, nearly one-hot */
    CHECK(q[0] > 0.999f && q[1] >= 0 && q[2] >= 0 && isfinite(q[1]));
    float none[2] = {0, 0};
    fer_temper(none, 2, 0.5f);
    CHECK(none[0] == 0 && none[1] == 0);
}

/*
 * Labels drawn from softmax(z), a "model" that reports softmax(z * s): the
 * fitted temperature is s (over-confident s > 1 needs T = s; under-confident
 * s < 1 needs T = s too).
 */
static float fit_scaled(double scale, struct fer_temperature_fit *fit)
{
    const size_t n = 6000;
    const int k = 7;
    uint8_t labels[6000];
    fer_dataset ds = {0};
    ds.n = n;
    ds.n_classes = k;
    ds.labels = labels;
    float *probs = fer_malloc(n * (size_t)k * sizeof(float));
    fer_rng rng;
    fer_rng_seed(&rng, 42, 0, 0, 0);
    for (size_t i = 0; i < n; i++) {
        double z[7], q[7], qs = 0, ps = 0;
        for (int c = 0; c < k; c++) {
            z[c] = 1.5 * (double)fer_rng_normal(&rng);
            qs += q[c] = exp(z[c]);
            ps += exp(z[c] * scale);
        }
        double u = (double)fer_rng_uniform(&rng) * qs, acc = 0;
        labels[i] = (uint8_t)(k - 1);
        for (int c = 0; c < k; c++)
            if ((acc += q[c]) >= u) {
                labels[i] = (uint8_t)c;
                break;
            }
        for (int c = 0; c < k; c++)
            probs[i * (size_t)k + (size_t)c] = (float)(exp(z[c] * scale) / ps);
    }
    char err[FER_ERR_LEN];
    CHECK(fer_fit_temperature(probs, &ds, fit, err) == FER_OK);
    fer_free(probs);
    return fit->temperature;
}

TEST(fit_finds_a_known_temperature)
{
    struct fer_temperature_fit fit;
    float t = fit_scaled(2.0, &fit);
    CHECK(t > 1.8f && t < 2.2f);
    CHECK(fit.nll_after < fit.nll_before);
    t = fit_scaled(0.5, &fit);
    CHECK(t > 0.45f && t < 0.55f);
    CHECK(fit.nll_after < fit.nll_before);
    t = fit_scaled(1.0, &fit); /* calibrated already: T stays near 1, no real gain */
    CHECK(t > 0.9f && t < 1.1f);
    CHECK(fit.nll_before - fit.nll_after < 1e-3);

    fer_dataset empty = {0};
    empty.n_classes = 7;
    char err[FER_ERR_LEN];
    CHECK(fer_fit_temperature(NULL, &empty, &fit, err) == FER_ERR_ARG);
    CHECK(strstr(err, "no faces") != NULL);
}

/* Saves model with meta "temperature" = value into path. */
static enum fer_status save_with_temperature(const char *path, const char *value)
{
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    char err[FER_ERR_LEN];
    enum fer_status st = fer_model_load(model, 64, &net, &meta, NULL, err);
    if (st == FER_OK) {
        fer_meta_set(&meta, "temperature", value);
        st = fer_model_save(path, net, &meta, NULL, err);
    }
    fer_net_free(net);
    fer_meta_clear(&meta);
    return st;
}

/* Evaluates path on val.csv (no augmentation); probs: n x 7. */
static fer_net *evaluate(const char *path, const fer_dataset *ds, float *probs, double *acc)
{
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    char err[FER_ERR_LEN];
    if (fer_model_load(path, 64, &net, &meta, NULL, err) != FER_OK) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    struct fer_norm norm;
    fer_meta_norm(&meta, &norm.mean, &norm.std);
    struct fer_metrics m;
    CHECK(fer_evaluate(net, norm, ds, FER_TTA_NONE, 0, &m, probs, err) == FER_OK);
    *acc = m.accuracy;
    fer_meta_clear(&meta);
    return net;
}

TEST(model_file_carries_its_temperature)
{
    char hot[128], bad[128], err[FER_ERR_LEN];
    test_tmp_path(hot, sizeof(hot), "hot.fer");
    test_tmp_path(bad, sizeof(bad), "bad.fer");
    CHECK(save_with_temperature(hot, "0.5") == FER_OK);
    fer_dataset *ds = NULL;
    CHECK(fer_dataset_read_for_model(val_csv, 7, FER_USAGE_ALL, FER_USAGE_PUBLIC_TEST, &ds, NULL,
                                     err) == FER_OK);
    if (!ds)
        return;
    float *raw = fer_malloc(ds->n * 7 * sizeof(float)),
          *cal = fer_malloc(ds->n * 7 * sizeof(float));
    double acc_raw = 0, acc_cal = 0;
    fer_net *a = evaluate(model, ds, raw, &acc_raw), *b = evaluate(hot, ds, cal, &acc_cal);
    CHECK(a && b && fer_net_temperature(a) == 1.0f && fer_net_temperature(b) == 0.5f);
    CHECK(acc_raw == acc_cal); /* the same classes win */
    double worst = 0;
    for (size_t i = 0; i < ds->n; i++) {
        fer_temper(raw + i * 7, 7, 0.5f);
        for (int c = 0; c < 7; c++)
            worst =
                fmax(worst, fabs((double)raw[i * 7 + (size_t)c] - (double)cal[i * 7 + (size_t)c]));
    }
    CHECK(worst < 1e-5);
    fer_net_free(a);
    fer_net_free(b);

    static const char *const wrong[] = {"0", "-1", "abc", "1e9", "0.5x", ""};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        CHECK(save_with_temperature(bad, wrong[i]) == FER_OK);
        fer_net *net = NULL;
        struct fer_meta meta = {0};
        CHECK(fer_model_load(bad, 4, &net, &meta, NULL, err) == FER_ERR_CORRUPT);
        CHECK(strstr(err, "temperature") != NULL && net == NULL);
        fer_meta_clear(&meta);
    }
    fer_free(raw);
    fer_free(cal);
    fer_dataset_free(ds);
}

/* A model trained from a calibrated one (--init) starts uncalibrated. */
TEST(training_from_a_calibrated_model_drops_the_temperature)
{
    char hot[128], tuned[128], err[FER_ERR_LEN];
    test_tmp_path(hot, sizeof(hot), "hot2.fer");
    test_tmp_path(tuned, sizeof(tuned), "tuned.fer");
    CHECK(save_with_temperature(hot, "0.7") == FER_OK);
    struct fer_train_config c;
    synth_task_config(&c, train_csv, val_csv, arch_cfg, tuned);
    c.eval_tta = FER_TTA_NONE;
    c.init_path = hot;
    c.epochs = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    CHECK(fer_model_load(tuned, 4, &net, &meta, NULL, err) == FER_OK);
    CHECK(net && fer_net_temperature(net) == 1.0f && !fer_meta_get(&meta, "temperature"));
    fer_net_free(net);
    fer_meta_clear(&meta);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_calibrate_XXXXXX") != 0)
        return 1;
    synth_task_make_files(train_csv, val_csv, arch_cfg, sizeof(train_csv));
    test_tmp_path(model, sizeof(model), "m.fer");
    RUN(temper_follows_the_formula);
    RUN(fit_finds_a_known_temperature);
    struct fer_train_config c;
    char err[FER_ERR_LEN];
    synth_task_config(&c, train_csv, val_csv, arch_cfg, model);
    c.eval_tta = FER_TTA_NONE;
    c.epochs = 2;
    if (fer_train_run(&c, err) == FER_OK) {
        RUN(model_file_carries_its_temperature);
        RUN(training_from_a_calibrated_model_drops_the_temperature);
    } else {
        fprintf(stderr, "  training the test model: %s\n", err);
        CHECK(!"the test model trained");
    }
    test_tmp_remove();
    return check_report();
}
