/*
 * test_distill.c - ensembles and distillation: an ensemble's probabilities
 * are the mean of its members', members that do not fit together are
 * refused, a teacher's blend into the targets follows the formula, and a
 * distilled run records its teacher and refuses a resume with another one.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "synth_task.h"
#include "tmp_dir.h"
#include "train/distill.h"
#include "train/ensemble.h"
#include "train/teacher_cache.h"
#include "train/trainer.h"

static char train_csv[128], val_csv[128], arch_cfg[128];
static char model_a[128], model_b[128], model_six[128];

static void base_config(struct fer_train_config *c, const char *out)
{
    synth_task_config(c, train_csv, val_csv, arch_cfg, out);
    c->eval_tta = FER_TTA_NONE; /* the classes differ by left and right: no mirrored views */
    c->teacher.tta = FER_TTA_NONE;
}

/* A 7-class dataset of n faces with the given labels and blank pixels. */
static fer_dataset *tiny_dataset(size_t n, const uint8_t *labels)
{
    fer_dataset *ds = fer_calloc(1, sizeof(*ds));
    ds->n = n;
    ds->n_classes = 7;
    ds->pixels = fer_calloc(n * FER_FACE_PIXELS, 1);
    ds->labels = fer_calloc(n, 1);
    memcpy(ds->labels, labels, n);
    return ds;
}

static fer_dataset *read_csv(const char *path)
{
    struct fer_read_options ro = {0, -1, 0};
    fer_dataset *ds = NULL;
    char err[FER_ERR_LEN];
    if (fer_dataset_read_csv(path, &ro, &ds, NULL, err) != FER_OK)
        fprintf(stderr, "  %s\n", err);
    return ds;
}

/* (1 - w) * one-hot + w * p^(1/T) / sum, by hand. */
TEST(blend_follows_the_formula)
{
    const uint8_t labels[2] = {3, 0};
    const float probs[14] = {0.1f, 0, 0, 0.6f, 0.1f, 0, 0.2f,  /* agrees with label 3 */
                             0,    0, 0, 0,    0.5f, 0, 0.5f}; /* disagrees with label 0 */
    char err[FER_ERR_LEN];
    fer_dataset *ds = tiny_dataset(2, labels);
    CHECK(fer_distill_blend(ds, probs, 0.25f, 1.0f, err) == FER_OK);
    CHECK(ds->soft != NULL);
    CHECK_NEAR(ds->soft[3], 0.75 + 0.25 * 0.6, 1e-6);
    CHECK_NEAR(ds->soft[0], 0.25 * 0.1, 1e-6);
    CHECK_NEAR(ds->soft[6], 0.25 * 0.2, 1e-6);
    CHECK_NEAR(ds->soft[7 + 0], 0.75, 1e-6);
    CHECK_NEAR(ds->soft[7 + 4], 0.125, 1e-6);
    CHECK_NEAR(ds->soft[7 + 6], 0.125, 1e-6);
    CHECK(ds->labels[0] == 3 && ds->labels[1] == 0); /* hard labels stay */
    fer_dataset_free(ds);

    /* temperature 2: p^(1/2) renormalised; weight 1: the teacher alone */
    ds = tiny_dataset(2, labels);
    CHECK(fer_distill_blend(ds, probs, 1.0f, 2.0f, err) == FER_OK);
    double s = sqrt(0.1) + sqrt(0.6) + sqrt(0.1) + sqrt(0.2);
    CHECK_NEAR(ds->soft[3], sqrt(0.6) / s, 1e-6);
    CHECK_NEAR(ds->soft[0], sqrt(0.1) / s, 1e-6);
    CHECK_NEAR(ds->soft[7 + 4], 0.5, 1e-6);
    /* a second blend mixes into the soft targets already there (weight 0.5, T 0.5) */
    float before = ds->soft[3];
    CHECK(fer_distill_blend(ds, probs, 0.5f, 0.5f, err) == FER_OK);
    double q = 0.01 + 0.36 + 0.01 + 0.04;
    CHECK_NEAR(ds->soft[3], 0.5 * (double)before + 0.5 * 0.36 / q, 1e-6);
    double sum = 0;
    for (int c = 0; c < 7; c++)
        sum += (double)ds->soft[c];
    CHECK_NEAR(sum, 1.0, 1e-6);
    fer_dataset_free(ds);
}

TEST(blend_refuses_bad_settings)
{
    const uint8_t labels[1] = {2};
    const float probs[7] = {0, 0, 1, 0, 0, 0, 0};
    char err[FER_ERR_LEN];
    fer_dataset *ds = tiny_dataset(1, labels);
    CHECK(fer_distill_blend(ds, probs, 1.5f, 1.0f, err) == FER_ERR_ARG);
    CHECK(strstr(err, "weight") != NULL);
    CHECK(fer_distill_blend(ds, probs, NAN, 1.0f, err) == FER_ERR_ARG);
    CHECK(fer_distill_blend(ds, probs, 0.5f, 0.0f, err) == FER_ERR_ARG);
    CHECK(strstr(err, "temperature") != NULL);
    CHECK(fer_distill_blend(ds, probs, 0.5f, NAN, err) == FER_ERR_ARG);
    CHECK(ds->soft == NULL); /* nothing changed */
    fer_dataset_free(ds);
}

static float *ensemble_probs(const char *list, const fer_dataset *ds, fer_pool *pool,
                             double *member_acc)
{
    fer_ensemble *e = NULL;
    char err[FER_ERR_LEN];
    float *probs = malloc(ds->n * 7 * sizeof(float));
    if (fer_ensemble_load(list, 16, pool, NULL, &e, err) != FER_OK ||
        fer_ensemble_probs(e, ds, FER_TTA_NONE, 0, probs, member_acc, err) != FER_OK) {
        fprintf(stderr, "  %s\n", err);
        free(probs);
        probs = NULL;
    }
    fer_ensemble_free(e);
    return probs;
}

TEST(ensemble_is_the_mean_of_its_members)
{
    fer_pool *pool = NULL;
    char err[FER_ERR_LEN], both[300];
    CHECK(fer_pool_new(2, &pool, err) == FER_OK);
    fer_dataset *val = read_csv(val_csv);
    CHECK(val != NULL);
    if (!val || !pool)
        return;
    double acc_a, acc_b, acc_ab[2];
    float *pa = ensemble_probs(model_a, val, pool, &acc_a);
    float *pb = ensemble_probs(model_b, val, pool, &acc_b);
    snprintf(both, sizeof(both), "%s,%s", model_a, model_b);
    float *pab = ensemble_probs(both, val, pool, acc_ab);
    CHECK(pa && pb && pab);
    if (pa && pb && pab) {
        double worst = 0, differ = 0;
        for (size_t i = 0; i < val->n * 7; i++) {
            worst = fmax(worst, fabs((double)pab[i] - 0.5 * ((double)pa[i] + (double)pb[i])));
            differ = fmax(differ, fabs((double)pa[i] - (double)pb[i]));
        }
        CHECK(worst < 1e-6);
        CHECK(differ > 1e-3); /* two seeds, two models: the mean is not trivially either */
        CHECK(acc_ab[0] == acc_a && acc_ab[1] == acc_b);
        struct fer_metrics m;
        fer_metrics_from_probs(pa, val, &m);
        CHECK_NEAR(m.accuracy, acc_a, 1e-12);
        CHECK(m.total == val->n && m.accuracy > 0.8);
    }
    free(pa);
    free(pb);
    free(pab);
    fer_dataset_free(val);
    fer_pool_free(pool);
}

TEST(ensemble_refuses_what_does_not_fit)
{
    char err[FER_ERR_LEN], list[400];
    fer_ensemble *e = NULL;
    snprintf(list, sizeof(list), "%s,,%s", model_a, model_b);
    CHECK(fer_ensemble_load(list, 4, NULL, NULL, &e, err) == FER_ERR_ARG && !e);
    CHECK(strstr(err, "empty model name") != NULL);
    snprintf(list, sizeof(list), "%s,/nonexistent/m.fer", model_a);
    CHECK(fer_ensemble_load(list, 4, NULL, NULL, &e, err) == FER_ERR_IO && !e);
    CHECK(strstr(err, "/nonexistent/m.fer") != NULL);
    snprintf(list, sizeof(list), "%s,%s", model_a, model_six);
    CHECK(fer_ensemble_load(list, 4, NULL, NULL, &e, err) == FER_ERR_ARG && !e);
    CHECK(strstr(err, "6 classes") != NULL);
    CHECK(fer_ensemble_load("", 4, NULL, NULL, &e, err) == FER_ERR_ARG && !e);
    /* a truncated member: refused, and nothing leaks (the sanitizers watch) */
    char cut[128];
    test_tmp_path(cut, sizeof(cut), "cut.fer");
    FILE *in = fopen(model_a, "rb"), *out = fopen(cut, "wb");
    char buf[2048];
    size_t got = in ? fread(buf, 1, sizeof(buf), in) : 0;
    if (out)
        fwrite(buf, 1, got / 2, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    snprintf(list, sizeof(list), "%s,%s", model_a, cut);
    CHECK(fer_ensemble_load(list, 4, NULL, NULL, &e, err) != FER_OK && !e);
    CHECK(strstr(err, "cut.fer") != NULL);
}

/* fer_distill_targets: the teacher's flip-averaged probabilities, blended by the formula. */
TEST(teacher_targets_blend_its_predictions)
{
    fer_pool *pool = NULL;
    char err[FER_ERR_LEN];
    CHECK(fer_pool_new(1, &pool, err) == FER_OK);
    fer_dataset *ds = read_csv(train_csv);
    CHECK(ds != NULL);
    if (!ds || !pool)
        return;
    float *p = ensemble_probs(model_a, ds, pool, NULL);
    struct fer_teacher t = {model_a, 0.5f, 1.0f, FER_TTA_NONE, NULL};
    struct fer_teacher_report rep;
    CHECK(fer_distill_targets(ds, &t, pool, 0, &rep, err) == FER_OK);
    CHECK(rep.n_models == 1 && strlen(rep.sha256) == 64);
    CHECK(rep.agreement > 0.8 && rep.mean_confidence > 0.3 && rep.mean_confidence <= 1);
    double worst = 0;
    for (size_t i = 0; p && ds->soft && i < ds->n; i++)
        for (int c = 0; c < 7; c++) {
            double want = 0.5 * (c == ds->labels[i]) + 0.5 * (double)p[i * 7 + (size_t)c];
            worst = fmax(worst, fabs(want - (double)ds->soft[i * 7 + (size_t)c]));
        }
    CHECK(p && ds->soft && worst < 1e-5);
    /* a calibrated copy of the teacher teaches the same: its temperature is not applied */
    char hot[128];
    test_tmp_path(hot, sizeof(hot), "a_hot.fer");
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    CHECK(fer_model_load(model_a, 4, &net, &meta, NULL, err) == FER_OK);
    CHECK(fer_meta_set(&meta, "temperature", "0.5") == FER_OK);
    CHECK(fer_model_save(hot, net, &meta, NULL, err) == FER_OK);
    fer_net_free(net);
    fer_meta_clear(&meta);
    fer_dataset *again = read_csv(train_csv);
    struct fer_teacher calibrated = {hot, 0.5f, 1.0f, FER_TTA_NONE, NULL};
    CHECK(again && fer_distill_targets(again, &calibrated, pool, 0, NULL, err) == FER_OK);
    CHECK(again && again->soft && ds->soft &&
          memcmp(again->soft, ds->soft, ds->n * 7 * sizeof(float)) == 0);
    fer_dataset_free(again);
    /* a teacher whose classes differ from the data's is refused and changes nothing */
    fer_dataset *fresh = read_csv(train_csv);
    struct fer_teacher six = {model_six, 0.5f, 1.0f, FER_TTA_NONE, NULL};
    CHECK(fresh && fer_distill_targets(fresh, &six, pool, 0, NULL, err) == FER_ERR_ARG);
    CHECK(strstr(err, "6 classes") != NULL && fresh->soft == NULL);
    fer_dataset_free(fresh);
    free(p);
    fer_dataset_free(ds);
    fer_pool_free(pool);
}

/*
 * A distilled run records its teacher (files, hashes, weight, temperature),
 * and a resume without it, with another teacher or another weight is refused.
 */
TEST(distillation_is_recorded_and_resumed)
{
    char out[128], ckpt[128], err[FER_ERR_LEN] = "";
    test_tmp_path(out, sizeof(out), "student.fer");
    test_tmp_path(ckpt, sizeof(ckpt), "student.fer.ckpt");
    struct fer_train_config c;
    base_config(&c, out);
    c.teacher.models = model_a;
    c.epochs = 1;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta meta = {0};
    fer_net *net = NULL;
    CHECK(fer_model_load(out, 4, &net, &meta, NULL, err) == FER_OK);
    fer_net_free(net);
    CHECK_STR(fer_meta_get(&meta, "teacher"), model_a);
    const char *sha = fer_meta_get(&meta, "teacher_sha256");
    CHECK(sha && strlen(sha) == 64);
    CHECK_STR(fer_meta_get(&meta, "teacher_weight"), "0.5");
    CHECK_STR(fer_meta_get(&meta, "teacher_temperature"), "1");
    CHECK_STR(fer_meta_get(&meta, "teacher_tta"), "none");
    const char *agree = fer_meta_get(&meta, "teacher_agreement");
    CHECK(agree && atof(agree) > 0.8);
    fer_meta_clear(&meta);

    base_config(&c, out);
    c.resume_path = ckpt;
    c.epochs = 2;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG); /* no teacher now */
    CHECK(strstr(err, "teacher") != NULL);
    c.teacher.models = model_b; /* another teacher */
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG);
    c.teacher.models = model_a;
    c.teacher.weight = 0.3f; /* another weight */
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG);
    c.teacher.weight = 0.5f;
    CHECK(fer_train_run(&c, err) == FER_OK);
    /* the first run kept the teacher's predictions beside the model for this resume */
    char cache[160];
    snprintf(cache, sizeof(cache), "%s.teacher", out);
    CHECK(access(cache, F_OK) == 0);
}

/* Overwrites one byte of path at offset (from the end when negative). */
static void poke(const char *path, long offset)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/*
 * The teacher's predictions come back from the cache exactly, and only for
 * the same teacher, augmentation and faces; a damaged or cut file is a miss
 * that is computed again and replaced.
 */
TEST(teacher_cache_returns_the_same_predictions)
{
    fer_pool *pool = NULL;
    char err[FER_ERR_LEN], why[FER_ERR_LEN] = "", cache[128];
    CHECK(fer_pool_new(1, &pool, err) == FER_OK);
    test_tmp_path(cache, sizeof(cache), "kd.teacher");
    fer_dataset *first = read_csv(train_csv), *second = read_csv(train_csv);
    CHECK(first && second && pool);
    if (!first || !second || !pool)
        return;
    struct fer_teacher t = {model_a, 0.5f, 1.0f, FER_TTA_NONE, cache};
    struct fer_teacher_report rep;
    CHECK(fer_distill_targets(first, &t, pool, 0, &rep, err) == FER_OK);
    CHECK(!rep.cached && rep.cache_kept && rep.cache_note[0] == 0);
    CHECK(fer_distill_targets(second, &t, pool, 0, &rep, err) == FER_OK);
    CHECK(rep.cached && !rep.cache_kept);
    CHECK(rep.agreement > 0.8);
    size_t count = first->n * 7;
    CHECK(memcmp(first->soft, second->soft, count * sizeof(float)) == 0);

    uint8_t key[32], other[32];
    fer_teacher_cache_key(rep.sha256, FER_TTA_NONE, first, key);
    float *probs = fer_malloc(count * sizeof(float));
    CHECK(fer_teacher_cache_read(cache, key, first, probs, why) == 1);
    fer_teacher_cache_key(rep.sha256, FER_TTA_FLIP, first, other); /* another augmentation */
    CHECK(memcmp(key, other, 32) != 0);
    CHECK(fer_teacher_cache_read(cache, other, first, probs, why) == -1);
    CHECK(strstr(why, "another teacher") != NULL);
    second->pixels[100] ^= 1; /* other faces */
    fer_teacher_cache_key(rep.sha256, FER_TTA_NONE, second, other);
    CHECK(memcmp(key, other, 32) != 0);
    second->pixels[100] ^= 1;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s.none", cache);
    CHECK(fer_teacher_cache_read(missing, key, first, probs, why) == 0);

    poke(cache, 200); /* one prediction damaged */
    CHECK(fer_teacher_cache_read(cache, key, first, probs, why) == -1);
    CHECK(strstr(why, "damaged") != NULL);
    fer_dataset *third = read_csv(train_csv);
    CHECK(third && fer_distill_targets(third, &t, pool, 0, &rep, err) == FER_OK);
    CHECK(!rep.cached && rep.cache_kept); /* computed again, and the file replaced */
    CHECK(third && memcmp(first->soft, third->soft, count * sizeof(float)) == 0);
    CHECK(fer_teacher_cache_read(cache, key, first, probs, why) == 1);
    CHECK(truncate(cache, 1000) == 0); /* cut */
    CHECK(fer_teacher_cache_read(cache, key, first, probs, why) == -1);

    fer_free(probs);
    fer_dataset_free(third);
    fer_dataset_free(second);
    fer_dataset_free(first);
    fer_pool_free(pool);
}

static int train_model(const char *out, uint64_t seed, int classes, const char *init)
{
    struct fer_train_config c;
    char err[FER_ERR_LEN];
    base_config(&c, out);
    c.seed = seed;
    c.n_classes = classes;
    c.init_path = init;
    c.epochs = init ? 1 : 4;
    if (fer_train_run(&c, err) != FER_OK) {
        fprintf(stderr, "  training %s: %s\n", out, err);
        return -1;
    }
    return 0;
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_distill_XXXXXX") != 0)
        return 1;
    synth_task_make_files(train_csv, val_csv, arch_cfg, sizeof(train_csv));
    test_tmp_path(model_a, sizeof(model_a), "a.fer");
    test_tmp_path(model_b, sizeof(model_b), "b.fer");
    test_tmp_path(model_six, sizeof(model_six), "six.fer");
    RUN(blend_follows_the_formula);
    RUN(blend_refuses_bad_settings);
    if (train_model(model_a, 5, 7, NULL) == 0 && train_model(model_b, 6, 7, NULL) == 0 &&
        train_model(model_six, 5, 6, model_a) == 0) {
        RUN(ensemble_is_the_mean_of_its_members);
        RUN(ensemble_refuses_what_does_not_fit);
        RUN(teacher_targets_blend_its_predictions);
        RUN(distillation_is_recorded_and_resumed);
        RUN(teacher_cache_returns_the_same_predictions);
    } else {
        CHECK(!"the test models trained");
    }
    test_tmp_remove();
    return check_report();
}
