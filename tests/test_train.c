/*
 * test_train.c - the training loop end to end on a small synthetic task:
 * it learns, the same seed gives the same model for any thread count,
 * --resume continues bit for bit, evaluation metrics add up, and bad input
 * fails with a clear message.
 */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "synth_task.h"
#include "tmp_dir.h"
#include "train/average.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/trainer.h"

static char train_csv[128], val_csv[128], arch_cfg[128];

static void base_config(struct fer_train_config *c, const char *out)
{
    synth_task_config(c, train_csv, val_csv, arch_cfg, out);
}

static float *model_params(const char *path, size_t *n, struct fer_meta *meta)
{
    fer_net *net = NULL;
    char err[FER_ERR_LEN];
    if (fer_model_load(path, 4, &net, meta, NULL, err) != FER_OK) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    float *p = fer_net_params(net, n);
    float *copy = malloc(*n * sizeof(float));
    memcpy(copy, p, *n * sizeof(float));
    fer_net_free(net);
    return copy;
}

TEST(learns_synthetic_task)
{
    struct fer_train_config c;
    char out[128], err[FER_ERR_LEN];
    test_tmp_path(out, sizeof(out), "learn.fer");
    base_config(&c, out);
    c.epochs = 8;
    c.command = "fer train --epochs 8";
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta meta = {0};
    size_t n;
    float *p = model_params(out, &n, &meta);
    CHECK(p != NULL);
    const char *acc = fer_meta_get(&meta, "val_accuracy");
    CHECK(acc && atof(acc) > 0.9);
    CHECK_STR(fer_meta_get(&meta, "classes"), "angry,disgust,fear,happy,sad,surprise,neutral");
    CHECK(fer_meta_get(&meta, "train_sha256") && strlen(fer_meta_get(&meta, "train_sha256")) == 64);
    CHECK(fer_meta_get(&meta, "input_mean") != NULL);
    /* the log has one JSON line per epoch */
    char log[128];
    test_tmp_path(log, sizeof(log), "learn.fer.log.jsonl");
    FILE *f = fopen(log, "r");
    int lines = 0;
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        lines += strstr(line, "\"val_acc\"") != NULL;
    if (f)
        fclose(f);
    CHECK(lines == 8);
    free(p);
    fer_meta_clear(&meta);
}

/* 7 -> 6 classes keeps the classifier: with a learning rate near zero the
 * 6-class model reads the faces as well as the 7-class one it came from. */
TEST(fine_tune_to_6_classes_keeps_classifier)
{
    struct fer_train_config c;
    char from[128], out[128], err[FER_ERR_LEN];
    test_tmp_path(from, sizeof(from), "learn.fer");
    test_tmp_path(out, sizeof(out), "six.fer");
    base_config(&c, out);
    c.init_path = from;
    c.n_classes = 6;
    c.epochs = 1;
    c.schedule.kind = FER_SCHED_CONSTANT;
    c.schedule.base_lr = 1e-9f;
    c.schedule.warmup = 0;
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta meta = {0};
    size_t n;
    float *p = model_params(out, &n, &meta);
    CHECK(p != NULL);
    CHECK_STR(fer_meta_get(&meta, "classes"), "angry,fear,happy,sad,surprise,neutral");
    const char *acc = fer_meta_get(&meta, "val_accuracy");
    CHECK(acc && atof(acc) > 0.9);
    free(p);
    fer_meta_clear(&meta);
}

TEST(same_seed_same_model_any_threads)
{
    struct fer_train_config c;
    char a[128], b[128], err[FER_ERR_LEN];
    test_tmp_path(a, sizeof(a), "t1.fer");
    test_tmp_path(b, sizeof(b), "t2.fer");
    base_config(&c, a);
    c.epochs = 2;
    c.mixup = 0.4f;
    CHECK(fer_train_run(&c, err) == FER_OK);
    c.out_path = b;
    c.threads = 3;
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta ma = {0}, mb = {0};
    size_t na = 0, nb = 0;
    float *pa = model_params(a, &na, &ma), *pb = model_params(b, &nb, &mb);
    CHECK(pa && pb && na == nb && memcmp(pa, pb, na * sizeof(float)) == 0);
    free(pa);
    free(pb);
    fer_meta_clear(&ma);
    fer_meta_clear(&mb);
}

/* --keep-last N saves the weights of the last N epochs, which average into one model. */
TEST(keep_last_epochs_for_averaging)
{
    struct fer_train_config c;
    char out[128], e1[128], e2[128], e3[128], err[FER_ERR_LEN];
    test_tmp_path(out, sizeof(out), "kept.fer");
    test_tmp_path(e1, sizeof(e1), "kept.epoch1.fer");
    test_tmp_path(e2, sizeof(e2), "kept.epoch2.fer");
    test_tmp_path(e3, sizeof(e3), "kept.epoch3.fer");
    base_config(&c, out);
    c.keep_last = 2;
    CHECK(fer_train_run(&c, err) == FER_OK);
    CHECK(access(e1, F_OK) != 0 && access(e2, F_OK) == 0 && access(e3, F_OK) == 0);
    struct fer_meta meta = {0};
    size_t n;
    float *p = model_params(e3, &n, &meta);
    CHECK(p && fer_meta_get(&meta, "epoch") && atoi(fer_meta_get(&meta, "epoch")) == 3);
    free(p);
    fer_meta_clear(&meta);
    const char *both[] = {e2, e3};
    fer_net *net = NULL;
    CHECK(fer_average_models(both, 2, 8, &net, &meta, err) == FER_OK);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

/* Weight averaging: the mean of the parameters, and errors for models that do not match. */
TEST(average_is_the_mean_of_the_weights)
{
    char a[128], b[128], six[128], err[FER_ERR_LEN];
    test_tmp_path(a, sizeof(a), "learn.fer");
    test_tmp_path(b, sizeof(b), "t1.fer");
    test_tmp_path(six, sizeof(six), "six.fer");
    size_t na, nb;
    struct fer_meta ma = {0}, mb = {0}, mavg = {0};
    float *pa = model_params(a, &na, &ma), *pb = model_params(b, &nb, &mb);
    CHECK(pa && pb && na == nb);
    const char *both[] = {a, b};
    fer_net *net = NULL;
    CHECK(fer_average_models(both, 2, 8, &net, &mavg, err) == FER_OK);
    size_t n;
    const float *p = fer_net_params(net, &n);
    CHECK(n == na);
    int exact = 1;
    for (size_t i = 0; i < n && pa && pb; i++)
        exact &= p[i] == (float)(((double)pa[i] + (double)pb[i]) / 2);
    CHECK(exact);
    CHECK(fer_meta_get(&mavg, "averaged_from") != NULL);
    CHECK(fer_meta_get(&mavg, "val_accuracy") == NULL); /* stale figures are dropped */
    CHECK(fer_meta_get(&mavg, "epoch") == NULL && fer_meta_get(&mavg, "command") == NULL);
    CHECK_STR(fer_meta_get(&mavg, "first_member_command"), "fer train --epochs 8");
    CHECK_STR(fer_meta_get(&mavg, "classes"), fer_meta_get(&ma, "classes"));
    fer_net_free(net);
    fer_meta_clear(&mavg);
    const char *mixed[] = {a, six};
    CHECK(fer_average_models(mixed, 2, 8, &net, &mavg, err) == FER_ERR_ARG);
    CHECK(strstr(err, "classes") != NULL);
    CHECK(net == NULL && mavg.n == 0);
    const char *missing[] = {a, "/nonexistent/model.fer"};
    CHECK(fer_average_models(missing, 2, 8, &net, &mavg, err) == FER_ERR_IO);
    free(pa);
    free(pb);
    fer_meta_clear(&ma);
    fer_meta_clear(&mb);
}

/* Batch-norm statistics ruined on purpose ruin accuracy; recalibration restores it. */
TEST(recalibration_restores_batch_norm)
{
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "learn.fer");
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    fer_dataset *train = NULL, *val = NULL;
    fer_pool *pool = NULL;
    struct fer_read_options ro = {0, -1, 0};
    size_t skipped;
    CHECK(fer_model_load(path, 32, &net, &meta, NULL, err) == FER_OK);
    CHECK(fer_pool_new(2, &pool, err) == FER_OK && fer_net_set_pool(net, pool, err) == FER_OK);
    CHECK(fer_dataset_read_csv(train_csv, &ro, &train, &skipped, err) == FER_OK);
    CHECK(fer_dataset_read_csv(val_csv, &ro, &val, &skipped, err) == FER_OK);
    struct fer_norm norm = {(float)atof(fer_meta_get(&meta, "input_mean")),
                            (float)atof(fer_meta_get(&meta, "input_std"))};
    struct fer_metrics before, ruined, after;
    CHECK(fer_evaluate(net, norm, val, FER_TTA_NONE, 0, &before, NULL, err) == FER_OK);
    size_t nbuf;
    float *buf = fer_net_buffers(net, &nbuf);
    CHECK(nbuf > 0);
    for (size_t i = 0; i < nbuf; i++)
        /* one BN layer: its means, then its variances; each channel off differently */
        buf[i] = i < nbuf / 2 ? (i % 2 ? 4.0f : -4.0f) : (i % 2 ? 1e-3f : 100.0f);
    CHECK(fer_evaluate(net, norm, val, FER_TTA_NONE, 0, &ruined, NULL, err) == FER_OK);
    CHECK(fer_recalibrate_bn(net, train, 0, norm.mean, norm.std, 0, err) == FER_OK);
    CHECK(fer_evaluate(net, norm, val, FER_TTA_NONE, 0, &after, NULL, err) == FER_OK);
    fprintf(stderr, "  loss %.3f, ruined %.3f, recalibrated %.3f\n", before.loss, ruined.loss,
            after.loss);
    CHECK(ruined.loss > 2 * before.loss);
    CHECK(after.accuracy > 0.9 && after.loss < 1.25 * before.loss);
    CHECK(fer_recalibrate_bn(net, train, 0, norm.mean, norm.std, 0, err) == FER_OK);
    float once = buf[0];
    CHECK(fer_recalibrate_bn(net, train, 0, norm.mean, norm.std, 0, err) == FER_OK);
    CHECK(fabsf(buf[0] - once) < 1e-5f); /* a plain average: the old statistics do not matter */
    fer_dataset_free(train);
    fer_dataset_free(val);
    fer_net_free(net);
    fer_pool_free(pool);
    fer_meta_clear(&meta);
}

TEST(resume_continues_exactly)
{
    struct fer_train_config c;
    char straight[128], part[128], ckpt[128], err[FER_ERR_LEN];
    test_tmp_path(straight, sizeof(straight), "straight.fer");
    test_tmp_path(part, sizeof(part), "part.fer");
    test_tmp_path(ckpt, sizeof(ckpt), "part.fer.ckpt");
    base_config(&c, straight);
    c.val_path = NULL; /* keep the last epoch, so both runs save the same epoch */
    c.schedule.kind = FER_SCHED_PLATEAU;
    CHECK(fer_train_run(&c, err) == FER_OK);
    base_config(&c, part);
    c.val_path = NULL;
    c.schedule.kind = FER_SCHED_PLATEAU;
    c.epochs = 1;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    base_config(&c, part);
    c.val_path = NULL;
    c.resume_path = ckpt;
    c.epochs = 3;
    c.epochs_given = 1;
    c.seed = 999; /* ignored: the checkpoint's seed wins */
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta ma = {0}, mb = {0};
    size_t na = 0, nb = 0;
    float *pa = model_params(straight, &na, &ma), *pb = model_params(part, &nb, &mb);
    CHECK(pa && pb && na == nb && memcmp(pa, pb, na * sizeof(float)) == 0);
    free(pa);
    free(pb);
    fer_meta_clear(&ma);
    fer_meta_clear(&mb);
}

/*
 * Training on FER2013 labels blended with FER+ votes: the model records it,
 * and a resume that asks for other labels is refused rather than silently
 * training the rest of the run on different targets.
 */
TEST(ferplus_blend_is_recorded_and_resumed)
{
    char out[128], ckpt[128], fp[128], err[FER_ERR_LEN] = "";
    test_tmp_path(out, sizeof(out), "blend.fer");
    test_tmp_path(ckpt, sizeof(ckpt), "blend.fer.ckpt");
    test_tmp_path(fp, sizeof(fp), "votes.csv");
    FILE *f = fopen(fp, "w");
    fputs("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
          "unknown,NF\n",
          f);
    for (int i = 0; i < 96; i++) /* the training rows' classes 0, 3, 6 with some dissent */
        fprintf(f, "Training,fer%07d.png,%d,%d,0,0,%d,0,1,0,0,0\n", i, i % 3 == 2 ? 7 : 1,
                i % 3 == 1 ? 7 : 1, i % 3 == 0 ? 7 : 1);
    fclose(f);

    struct fer_train_config c;
    base_config(&c, out);
    c.labels = FER_LABELS_BLEND;
    c.ferplus_path = fp;
    c.ferplus_weight = 0.25f;
    c.epochs = 1;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    struct fer_meta meta = {0};
    size_t n = 0;
    free(model_params(out, &n, &meta));
    const char *labels = fer_meta_get(&meta, "labels"), *w = fer_meta_get(&meta, "ferplus_weight");
    CHECK(labels && strcmp(labels, "fer2013+ferplus") == 0);
    CHECK(w && strcmp(w, "0.25") == 0);
    const char *sha = fer_meta_get(&meta, "ferplus_sha256");
    CHECK(sha && strlen(sha) == 64);
    fer_meta_clear(&meta);

    base_config(&c, out);
    c.resume_path = ckpt;
    c.epochs = 2;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG); /* plain FER2013 labels now */
    CHECK(strstr(err, "fer2013+ferplus 0.25") != NULL);
    c.labels = FER_LABELS_BLEND;
    c.ferplus_path = fp;
    c.ferplus_weight = 0.5f; /* another weight */
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG);
    c.ferplus_weight = 0.25f;
    CHECK(fer_train_run(&c, err) == FER_OK);
}

TEST(bad_input_is_reported)
{
    struct fer_train_config c;
    char out[128], err[FER_ERR_LEN], bad[128];
    test_tmp_path(out, sizeof(out), "bad.fer");
    base_config(&c, out);
    c.train_path = "/nonexistent/train.csv";
    CHECK(fer_train_run(&c, err) != FER_OK);
    CHECK(strstr(err, "/nonexistent/train.csv") != NULL);
    test_tmp_path(bad, sizeof(bad), "bad.csv");
    FILE *f = fopen(bad, "w");
    fputs("emotion,pixels,Usage\n0,1 2 3,Training\n", f);
    fclose(f);
    base_config(&c, out);
    c.train_path = bad;
    CHECK(fer_train_run(&c, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "bad.csv:2") != NULL);
    base_config(&c, out);
    c.arch_path = "/nonexistent.cfg";
    CHECK(fer_train_run(&c, err) == FER_ERR_IO);
    base_config(&c, out);
    c.resume_path = bad; /* not a checkpoint */
    CHECK(fer_train_run(&c, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "not a fer model file") != NULL);
    base_config(&c, out);
    c.labels = FER_LABELS_FERPLUS_MAJORITY; /* without --ferplus */
    CHECK(fer_train_run(&c, err) == FER_ERR_ARG);
}

TEST(metrics_add_up)
{
    struct fer_metrics m;
    fer_metrics_init(&m, 3);
    int truth[] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 2};
    int pred[] = {0, 0, 1, 1, 2, 2, 2, 2, 2, 0};
    for (int i = 0; i < 10; i++)
        fer_metrics_add(&m, truth[i], pred[i]);
    fer_metrics_finish(&m);
    CHECK_NEAR(m.accuracy, 0.7, 1e-12);
    /* class 0: tp 2, predicted 3, actual 3 -> p = r = 2/3 */
    CHECK_NEAR(m.per_class[0].precision, 2.0 / 3, 1e-12);
    CHECK_NEAR(m.per_class[0].recall, 2.0 / 3, 1e-12);
    /* class 1: tp 1, predicted 2, actual 2 -> 0.5; class 2: tp 4, predicted 5, actual 5 -> 0.8 */
    CHECK_NEAR(m.per_class[1].f1, 0.5, 1e-12);
    CHECK_NEAR(m.per_class[2].f1, 0.8, 1e-12);
    CHECK_NEAR(m.macro_f1, (2.0 / 3 + 0.5 + 0.8) / 3, 1e-12);
    CHECK(m.confusion[2 * 3 + 0] == 1);
    const char *names[] = {"a", "b", "c"};
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    fer_metrics_print_json(&m, names, f);
    fclose(f);
    CHECK(strstr(buf, "\"accuracy\":0.700000") != NULL);
    CHECK(strstr(buf, "\"confusion\":[[2,1,0],[0,1,1],[1,0,4]]") != NULL);
    CHECK(strstr(buf, "\"per_class\":{\"a\":{") != NULL);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_train_XXXXXX") != 0)
        return 1;
    synth_task_make_files(train_csv, val_csv, arch_cfg, sizeof(train_csv));
    RUN(metrics_add_up);
    RUN(learns_synthetic_task);
    RUN(fine_tune_to_6_classes_keeps_classifier);
    RUN(same_seed_same_model_any_threads);
    RUN(average_is_the_mean_of_the_weights);
    RUN(keep_last_epochs_for_averaging);
    RUN(recalibration_restores_batch_norm);
    RUN(resume_continues_exactly);
    RUN(ferplus_blend_is_recorded_and_resumed);
    RUN(bad_input_is_reported);
    test_tmp_remove();
    return check_report();
}
