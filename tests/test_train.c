/*
 * test_train.c - the training loop end to end on a small synthetic task:
 * it learns, the same seed gives the same model for any thread count,
 * --resume continues bit for bit, evaluation metrics add up, and bad input
 * fails with a clear message.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "nn/spec.h"
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
    CHECK(fer_average_models(both, 2, 8, NULL, &net, &meta, err) == FER_OK);
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
    CHECK(fer_average_models(both, 2, 8, NULL, &net, &mavg, err) == FER_OK);
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
    CHECK(fer_average_models(mixed, 2, 8, NULL, &net, &mavg, err) == FER_ERR_ARG);
    CHECK(strstr(err, "classes") != NULL);
    CHECK(net == NULL && mavg.n == 0);
    const char *missing[] = {a, "/nonexistent/model.fer"};
    CHECK(fer_average_models(missing, 2, 8, NULL, &net, &mavg, err) == FER_ERR_IO);
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

/* The trainer state as fer wrote it before one key per field: the tuples of save_recipe then. */
static void write_old_state(struct fer_meta *t, const struct fer_train_config *c,
                            const struct fer_train_progress *p, int with_later_keys)
{
    fer_meta_setf(t, "epoch", "%d", p->epoch);
    fer_meta_setf(t, "steps", "%" PRIu64, p->steps);
    fer_meta_setf(t, "best_acc", "%.9g", p->best_acc);
    if (with_later_keys) {
        fer_meta_setf(t, "best_epoch", "%d", p->best_epoch);
        fer_meta_setf(t, "elapsed", "%.3f", p->elapsed);
    }
    fer_meta_setf(t, "seed", "%" PRIu64, c->seed);
    fer_meta_setf(t, "batch", "%d", c->batch);
    if (with_later_keys)
        fer_meta_setf(t, "epochs", "%d", c->epochs);
    fer_meta_setf(t, "optimizer", "%d %.9g %d %.9g %.9g %.9g %.9g %.9g", (int)c->optim.kind,
                  (double)c->optim.momentum, c->optim.nesterov, (double)c->optim.beta1,
                  (double)c->optim.beta2, (double)c->optim.eps, (double)c->optim.weight_decay,
                  (double)c->optim.clip_norm);
    const struct fer_schedule *s = &c->schedule;
    fer_meta_setf(t, "schedule", "%d %.9g %.9g %d %.9g %.9g %d %.9g %.9g %d", (int)s->kind,
                  (double)s->base_lr, (double)s->gamma, s->step_epochs, (double)s->min_ratio,
                  (double)s->warmup, s->patience, (double)s->plateau_scale, (double)s->plateau_best,
                  s->plateau_bad_epochs);
    const struct fer_augment *a = &c->augment;
    fer_meta_setf(t, "augment", "%.9g %.9g %.9g %.9g %.9g %.9g %.9g", (double)a->shift,
                  (double)a->rotate, (double)a->scale, (double)a->flip, (double)a->brightness,
                  (double)a->contrast, (double)a->erase);
    if (with_later_keys)
        fer_meta_setf(t, "augment_nearest", "%d", a->nearest);
    fer_meta_setf(t, "regularise", "%.9g %.9g %d", (double)c->label_smoothing, (double)c->mixup,
                  c->eval_tta);
    if (with_later_keys)
        fer_meta_setf(t, "keep_last", "%d", c->keep_last);
    fer_meta_set(t, "labels", "fer2013");
}

/* A recipe and progress with every saved field away from its default (and from the others). */
static void unusual_state(struct fer_train_config *c, struct fer_train_progress *p)
{
    fer_train_config_defaults(c);
    *p = (struct fer_train_progress){4, 123456789012ULL, 0.8125, 3, 77.5};
    c->seed = 0xfedcba9876543210ULL;
    c->batch = 24;
    c->epochs = 9;
    c->keep_last = 2;
    c->optim = (struct fer_optim_config){FER_OPTIM_ADAM, 0.85f, 0, 0.8f, 0.95f, 2e-7f, 3e-3f, 5.5f};
    c->schedule =
        (struct fer_schedule){FER_SCHED_STEP, 0.07f, 0.3f, 4, 0.02f, 1.5f, 6, 0.09f, 1.25f, 2};
    c->augment = (struct fer_augment){3.5f, 7.0f, 0.15f, 0.25f, 0.05f, 0.35f, 0.45f, 1};
    c->label_smoothing = 0.11f;
    c->mixup = 0.3f;
    c->eval_tta = 2;
}

static int same_state(const struct fer_train_config *a, const struct fer_train_progress *pa,
                      const struct fer_train_config *b, const struct fer_train_progress *pb)
{
    return pa->epoch == pb->epoch && pa->steps == pb->steps && pa->best_acc == pb->best_acc &&
           pa->best_epoch == pb->best_epoch && pa->elapsed == pb->elapsed && a->seed == b->seed &&
           a->batch == b->batch && a->epochs == b->epochs && a->keep_last == b->keep_last &&
           memcmp(&a->optim, &b->optim, sizeof(a->optim)) == 0 &&
           memcmp(&a->schedule, &b->schedule, sizeof(a->schedule)) == 0 &&
           memcmp(&a->augment, &b->augment, sizeof(a->augment)) == 0 &&
           a->label_smoothing == b->label_smoothing && a->mixup == b->mixup &&
           a->eval_tta == b->eval_tta;
}

/* Saves trainer as a checkpoint of the tiny net and reads its trainer metadata back. */
static int checkpoint_round_trip(const char *name, const struct fer_meta *trainer,
                                 struct fer_meta *back)
{
    char path[128], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), name);
    fer_spec *spec = NULL;
    fer_net *net = NULL, *loaded = NULL;
    struct fer_meta meta = {0}, meta_back = {0};
    fer_meta_set(&meta, "classes", "angry,disgust,fear,happy,sad,surprise,neutral");
    struct fer_checkpoint_extra extra = {(struct fer_meta *)trainer, NULL, 0};
    struct fer_checkpoint_extra got = {back, NULL, 0};
    int ok = fer_spec_load(arch_cfg, &spec, err) == FER_OK &&
             fer_net_new(spec, 7, 2, &net, err) == FER_OK &&
             fer_model_save(path, net, &meta, &extra, err) == FER_OK &&
             fer_model_load(path, 2, &loaded, &meta_back, &got, err) == FER_OK;
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    fer_free(got.optim);
    fer_spec_free(spec);
    fer_net_free(net);
    fer_net_free(loaded);
    fer_meta_clear(&meta);
    fer_meta_clear(&meta_back);
    return ok;
}

/*
 * The trainer state goes into a checkpoint one key per field and comes back the same; and
 * each key, changed alone, changes its own field alone (no two keys share a field, none is
 * written but not read).
 */
TEST(train_state_round_trips_every_field)
{
    struct fer_train_config c, got;
    struct fer_train_progress p, got_p = {0};
    char err[FER_ERR_LEN] = "";
    unusual_state(&c, &p);
    struct fer_meta t = {0}, back = {0};
    fer_train_state_write(&t, &c, &p);
    CHECK(t.n == 38); /* the fields unusual_state sets and same_state compares: keep them in step */
    CHECK(fer_meta_check(&t, NULL, err) == FER_OK);
    CHECK_STR(fer_meta_get(&t, "optim.kind"), "adam");
    CHECK_STR(fer_meta_get(&t, "schedule.kind"), "step");
    CHECK_STR(fer_meta_get(&t, "augment.shift"), "3.5");
    CHECK_STR(fer_meta_get(&t, "augment.nearest"), "1");
    CHECK_STR(fer_meta_get(&t, "steps"), "123456789012");
    CHECK(checkpoint_round_trip("state.ckpt", &t, &back));
    fer_train_config_defaults(&got);
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_OK);
    CHECK(same_state(&c, &p, &got, &got_p));

    for (int i = 0; i < back.n; i++) {
        struct fer_meta changed = {0}, again = {0};
        for (int k = 0; k < back.n; k++)
            fer_meta_set(&changed, back.key[k], back.value[k]);
        const char *key = back.key[i], *value = back.value[i], *other = "7";
        if (strcmp(key, "optim.kind") == 0)
            other = strcmp(value, "sgd") ? "sgd" : "adam";
        else if (strcmp(key, "schedule.kind") == 0)
            other = strcmp(value, "plateau") ? "plateau" : "step";
        else if (strcmp(value, "7") == 0)
            other = "6";
        fer_meta_set(&changed, key, other);
        struct fer_train_config c2;
        struct fer_train_progress p2 = {0};
        fer_train_config_defaults(&c2);
        CHECK(fer_train_state_read(&changed, &c2, &p2, err) == FER_OK);
        fer_train_state_write(&again, &c2, &p2);
        int same = again.n == changed.n;
        for (int k = 0; k < changed.n && same; k++) {
            const char *v = fer_meta_get(&again, changed.key[k]);
            same = v && strcmp(v, changed.value[k]) == 0;
        }
        if (!same)
            fprintf(stderr, "  '%s' = '%s' did not come back alone\n", key, other);
        CHECK(same);
        fer_meta_clear(&changed);
        fer_meta_clear(&again);
    }

    /* a missing or malformed field is refused, and the config is left as it was */
    struct fer_meta bad = {0};
    for (int k = 0; k < back.n; k++)
        if (strcmp(back.key[k], "schedule.gamma") != 0)
            fer_meta_set(&bad, back.key[k], back.value[k]);
    fer_train_config_defaults(&got);
    CHECK(fer_train_state_read(&bad, &got, &got_p, err) == FER_ERR_CORRUPT);
    CHECK(strstr(err, "schedule.gamma") != NULL && got.batch == 128);
    fer_meta_set(&bad, "schedule.gamma", "0.3x");
    CHECK(fer_train_state_read(&bad, &got, &got_p, err) == FER_ERR_CORRUPT);
    fer_meta_set(&bad, "schedule.gamma", "0.3");
    fer_meta_set(&bad, "optim.kind", "rmsprop");
    CHECK(fer_train_state_read(&bad, &got, &got_p, err) == FER_ERR_CORRUPT);
    fer_meta_set(&bad, "optim.kind", "adam");
    fer_meta_set(&bad, "batch", "0");
    CHECK(fer_train_state_read(&bad, &got, &got_p, err) == FER_ERR_CORRUPT);
    fer_meta_set(&bad, "batch", "24");
    CHECK(fer_train_state_read(&bad, &got, &got_p, err) == FER_OK);
    fer_meta_clear(&bad);
    fer_meta_clear(&t);
    fer_meta_clear(&back);
}

/* A checkpoint written with the old positional tuples still loads, to the same values. */
TEST(old_format_checkpoint_still_loads)
{
    struct fer_train_config c, got;
    struct fer_train_progress p, got_p = {0};
    char err[FER_ERR_LEN] = "";
    unusual_state(&c, &p);
    struct fer_meta t = {0}, back = {0};
    write_old_state(&t, &c, &p, 1);
    CHECK(checkpoint_round_trip("old.ckpt", &t, &back));
    CHECK_STR(fer_meta_get(&back, "optimizer"), "1 0.850000024 0 0.800000012 0.949999988 "
                                                "2.00000002e-07 0.00300000003 5.5");
    fer_train_config_defaults(&got);
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_OK);
    CHECK(same_state(&c, &p, &got, &got_p));
    fer_meta_clear(&t);
    fer_meta_clear(&back);

    /* older still: no best_epoch, elapsed, epochs, augment_nearest or keep_last; the first
     * three and keep_last keep the caller's values, nearest is off as it was then */
    write_old_state(&t, &c, &p, 0);
    CHECK(checkpoint_round_trip("older.ckpt", &t, &back));
    fer_train_config_defaults(&got);
    got.augment.nearest = 1;
    got.keep_last = 5;
    got_p = (struct fer_train_progress){0};
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_OK);
    struct fer_train_config want = c;
    struct fer_train_progress want_p = p;
    want.augment.nearest = 0;
    want.epochs = 30;
    want.keep_last = 5;
    want_p.best_epoch = 0;
    want_p.elapsed = 0;
    CHECK(same_state(&want, &want_p, &got, &got_p));

    /* a tuple that is not one of the old formats is refused */
    fer_meta_set(&back, "optimizer", "1 0.85 0 0.8 0.95 2e-07 0.003"); /* 7 of 8 */
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_ERR_CORRUPT);
    CHECK(strstr(err, "optimizer") != NULL);
    fer_meta_set(&back, "optimizer", "9 0.85 0 0.8 0.95 2e-07 0.003 5.5"); /* no such kind */
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_ERR_CORRUPT);
    fer_meta_unset(&back, "optimizer");
    CHECK(fer_train_state_read(&back, &got, &got_p, err) == FER_ERR_CORRUPT);
    CHECK(strstr(err, "optim.kind") != NULL);
    fer_meta_clear(&t);
    fer_meta_clear(&back);
}

/* Rewrites a checkpoint's trainer state in the old tuple format, keeping all else. */
static int make_old_format(const char *ckpt)
{
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    struct fer_meta meta = {0}, trainer = {0}, old = {0};
    struct fer_checkpoint_extra extra = {&trainer, NULL, 0};
    struct fer_train_config c;
    struct fer_train_progress p = {0};
    fer_train_config_defaults(&c);
    int ok = fer_model_load(ckpt, 16, &net, &meta, &extra, err) == FER_OK &&
             fer_train_state_read(&trainer, &c, &p, err) == FER_OK;
    if (ok) {
        write_old_state(&old, &c, &p, 1);
        fer_meta_set(&old, "labels", fer_meta_get(&trainer, "labels"));
        extra.trainer = &old;
        ok = fer_meta_get(&old, "optim.kind") == NULL &&
             fer_model_save(ckpt, net, &meta, &extra, err) == FER_OK;
    }
    if (!ok)
        fprintf(stderr, "  %s\n", err);
    fer_free(extra.optim);
    fer_net_free(net);
    fer_meta_clear(&meta);
    fer_meta_clear(&trainer);
    fer_meta_clear(&old);
    return ok;
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
    free(pb);
    fer_meta_clear(&mb);

    /* the same from a checkpoint in the old tuple format */
    char old[128], old_ckpt[128];
    test_tmp_path(old, sizeof(old), "old.fer");
    test_tmp_path(old_ckpt, sizeof(old_ckpt), "old.fer.ckpt");
    base_config(&c, old);
    c.val_path = NULL;
    c.schedule.kind = FER_SCHED_PLATEAU;
    c.epochs = 1;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    CHECK(make_old_format(old_ckpt));
    base_config(&c, old);
    c.val_path = NULL;
    c.resume_path = old_ckpt;
    c.epochs = 3;
    c.epochs_given = 1;
    CHECK(fer_train_run(&c, err) == FER_OK);
    pb = model_params(old, &nb, &mb);
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

struct log_capture {
    char text[4096];
    int warnings;
};

static void capture_log(void *ctx, enum fer_log_level level, const char *message)
{
    struct log_capture *lc = ctx;
    size_t len = strlen(lc->text);
    snprintf(lc->text + len, sizeof(lc->text) - len, "%s\n", message);
    lc->warnings += level == FER_LOG_WARN;
}

/*
 * What a run does goes to the config's log function, one line per message; without one (the
 * default) training writes nothing to stderr, so it can be embedded.
 */
TEST(training_says_what_it_does_only_through_its_log)
{
    struct fer_train_config c;
    char out[128], err[FER_ERR_LEN], bad[128], captured[128];
    test_tmp_path(out, sizeof(out), "logged.fer");
    test_tmp_path(bad, sizeof(bad), "badrows.csv");
    test_tmp_path(captured, sizeof(captured), "stderr.txt");
    FILE *in = fopen(train_csv, "r"), *f = fopen(bad, "w");
    char line[8192];
    while (in && f && fgets(line, sizeof(line), in))
        fputs(line, f);
    if (f)
        fputs("0,1 2 3,Training\n", f); /* one malformed row */
    if (in)
        fclose(in);
    if (f)
        fclose(f);

    struct log_capture lc = {"", 0};
    base_config(&c, out);
    c.train_path = bad;
    c.skip_bad_rows = 1;
    c.epochs = 1;
    c.log = capture_log;
    c.log_ctx = &lc;
    CHECK(fer_train_run(&c, err) == FER_OK);
    CHECK(strstr(lc.text, "badrows.csv: skipped 1 malformed rows\n") != NULL && lc.warnings == 1);
    CHECK(strstr(lc.text, "data: 96 training faces, 48 validation faces, 7 classes (") != NULL);
    CHECK(strstr(lc.text, "\nmodel: ") != NULL);
    CHECK(strstr(lc.text, "\nepoch 1/1  train loss ") != NULL);
    CHECK(strstr(lc.text, "\ndone: ") != NULL && strstr(lc.text, "logged.fer.ckpt, log ") != NULL);

    /* the same run without a log, stderr caught in a file: nothing */
    fflush(stderr);
    int saved = dup(2);
    FILE *catcher = fopen(captured, "w");
    if (saved < 0 || !catcher) {
        CHECK(0);
        return;
    }
    dup2(fileno(catcher), 2);
    base_config(&c, out);
    c.train_path = bad;
    c.skip_bad_rows = 1;
    c.epochs = 1;
    struct fer_train_config defaults;
    fer_train_config_defaults(&defaults);
    c.progress = defaults.progress; /* off unless asked */
    enum fer_status st = fer_train_run(&c, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(catcher);
    CHECK(st == FER_OK);
    CHECK(defaults.progress == 0 && defaults.log == NULL);
    FILE *back = fopen(captured, "r");
    int said = back ? fgetc(back) : 'x';
    if (back)
        fclose(back);
    CHECK(said == EOF);
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
    RUN(train_state_round_trips_every_field);
    RUN(old_format_checkpoint_still_loads);
    RUN(resume_continues_exactly);
    RUN(ferplus_blend_is_recorded_and_resumed);
    RUN(bad_input_is_reported);
    RUN(training_says_what_it_does_only_through_its_log);
    test_tmp_remove();
    return check_report();
}
