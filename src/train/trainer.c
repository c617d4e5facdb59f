/* trainer.c - the training loop, checkpoints and exact resume (see trainer.h). */
#include "train/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "train/evaluate.h"
#include "train/group.h"

#define FER_VERSION_STRING "0.1.0"

/* Everything one run holds; freed in one place. */
struct run {
    const struct fer_train_config *c; /* the caller's (rank 0) or a copy that says nothing */
    struct fer_train_config quiet;
    struct fer_train_config cfg; /* effective recipe (after resume) */
    fer_dataset *train, *val;
    char train_sha[65], val_sha[65], ferplus_sha[65];
    const char *train_usage, *val_usage; /* the usage kept from a mixed file, or NULL */
    struct fer_teacher_report teacher;
    fer_net *net;
    fer_optim *opt;
    fer_pool *pool;
    fer_group *group;     /* the processes training together (group.h); often this one alone */
    size_t lo, hi;        /* this process's share of each global batch */
    float *stage;         /* in a group: the global batch's inputs, before this share is taken */
    double comm_wait;     /* seconds this epoch's training spent communicating with the group */
    int stopped_together; /* a failure every process of the group knows of: none waits */
    struct fer_meta meta;
    struct fer_norm norm;
    char ckpt_path[1024], log_path[1024];
    uint32_t *order;
    float *targets;
    struct fer_train_progress done; /* saved in checkpoints; its steps, on a resume, are those
                                       the optimizer (made later) continues from */
};

/* Passes a message to the run's log, if it has one. */
static void say(const struct fer_train_config *c, enum fer_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct fer_train_config *c, enum fer_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fer_logv(c->log, c->log_ctx, level, fmt, ap);
    va_end(ap);
}

/*
 * Reads the training or validation data. From a file that mixes usages (the
 * original fer2013.csv) it keeps the rows of `usage`: Training to train on,
 * PublicTest to select the epoch; `limit` then counts those rows.
 */
static enum fer_status load_split(const struct fer_train_config *c, const char *path, int usage,
                                  size_t limit, fer_dataset **out, char sha[65],
                                  const char **picked, char *err)
{
    struct fer_read_options ro = {c->skip_bad_rows, -1, 0};
    size_t skipped = 0;
    struct fer_usage_pick pick;
    enum fer_status st = fer_dataset_read_csv(path, &ro, out, &skipped, err);
    if (st == FER_OK)
        st = fer_dataset_pick_usage(*out, path, FER_USAGE_UNSET, usage, &pick, err);
    if (st != FER_OK)
        return st;
    *picked = pick.kept;
    if (limit && (*out)->n > limit) {
        if (pick.kept)
            say(c, FER_LOG_INFO, "%s: of its %zu %s rows, the first %zu (--limit)", path, (*out)->n,
                *picked, limit);
        (*out)->n = limit; /* the rows are compact: the first `limit` stay */
    } else if (pick.kept) {
        say(c, FER_LOG_INFO, "%s", pick.note);
    }
    if (skipped)
        say(c, FER_LOG_WARN, "%s: skipped %zu malformed rows", path, skipped);
    if ((*out)->n == 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s holds no faces", path);
    if (c->labels != FER_LABELS_FER2013) {
        size_t dropped = 0;
        if (!c->ferplus_path)
            return fer_errorf(err, FER_ERR_ARG, "--labels %s needs --ferplus FILE",
                              fer_label_source_name(c->labels));
        if (c->labels == FER_LABELS_BLEND)
            st = fer_dataset_blend_ferplus(*out, c->ferplus_path, c->ferplus_weight,
                                           c->drop_unusable, &dropped, err);
        else
            st = fer_dataset_apply_ferplus(*out, c->ferplus_path, c->labels, c->drop_unusable,
                                           &dropped, err);
        if (st != FER_OK)
            return st;
        if (dropped)
            say(c, FER_LOG_INFO, "%s: dropped %zu rows FER+ marks as unusable", path, dropped);
    }
    if (c->n_classes == 6 && (st = fer_dataset_merge_disgust(*out, err)) != FER_OK)
        return st;
    return fer_sha256_file(path, sha, err);
}

static void free_run(struct run *r)
{
    fer_dataset_free(r->train);
    fer_dataset_free(r->val);
    fer_optim_free(r->opt);
    fer_net_free(r->net);
    fer_pool_free(r->pool);
    fer_meta_clear(&r->meta);
    fer_free(r->order);
    fer_free(r->targets);
    fer_free(r->stage);
}

/*
 * "fer2013", ..., or "fer2013+ferplus 0.5" with the FER+ weight of a blend;
 * with a teacher, "... teacher 0.5 1 <sha256,...>" (weight, temperature and
 * the teacher files' hashes, which do not depend on where the files lie).
 */
static const char *describe_labels(const struct run *r, char *buf, size_t size)
{
    const struct fer_train_config *c = &r->cfg;
    int len;
    if (c->labels == FER_LABELS_BLEND)
        len = snprintf(buf, size, "%s %.9g", fer_label_source_name(c->labels),
                       (double)c->ferplus_weight);
    else
        len = snprintf(buf, size, "%s", fer_label_source_name(c->labels));
    if (c->teacher.models && len >= 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, " teacher %.6g %.6g %s", (double)c->teacher.weight,
                 (double)c->teacher.temperature, r->teacher.sha256);
    return buf;
}

/*
 * The recipe values a resumed run must take from its checkpoint to continue exactly
 * (fer_train_state_write), and the labels it was trained on, which a resume must repeat.
 */
static void save_recipe(struct fer_meta *t, struct run *r)
{
    r->done.steps = fer_optim_steps(r->opt);
    fer_train_state_write(t, &r->cfg, &r->done);
    char labels[sizeof(r->teacher.sha256) + 128];
    fer_meta_set(t, "labels", describe_labels(r, labels, sizeof(labels)));
}

static enum fer_status load_recipe(const struct fer_meta *t, struct run *r, char *err)
{
    enum fer_status st = fer_train_state_read(t, &r->cfg, &r->done, err);
    if (st != FER_OK)
        return st;
    /* the command line wins for these two: --epochs may extend a resumed run */
    if (r->c->epochs_given > 0)
        r->cfg.epochs = r->c->epochs;
    if (r->c->keep_last > 0)
        r->cfg.keep_last = r->c->keep_last;
    /* the data are loaded from the command line, so they must match what the run began with */
    char now[sizeof(r->teacher.sha256) + 128];
    describe_labels(r, now, sizeof(now));
    const char *labels = fer_meta_get(t, "labels"); /* absent in older checkpoints */
    if (strcmp(labels ? labels : "fer2013", now) != 0)
        return fer_errorf(err, FER_ERR_ARG,
                          "the checkpoint was trained with --labels '%s' but this resume asks "
                          "for '%s': give the same --labels (and --ferplus-weight, --teacher)",
                          labels ? labels : "fer2013", now);
    return FER_OK;
}

/*
 * 7 -> 6 classes: each row of the classifier (weights (O, I) or bias (O))
 * starts from the row of the 7-class class it descends from, so the merged
 * "angry" starts as angry and the others keep what they learned. Returns 1
 * when it copied.
 */
static int merge_classifier(const struct fer_param_group *from, const struct fer_param_group *to,
                            int classes_from, int classes_to)
{
    if (classes_from != 7 || classes_to != 6 || from->n % 7 || to->n % 6 ||
        from->n / 7 != to->n / 6)
        return 0;
    size_t row = from->n / 7;
    for (int old = 6; old >= 0; old--) /* reversed: angry, not disgust, gives row 0 */
        memcpy(to->param + (size_t)fer_class_merged(old) * row, from->param + (size_t)old * row,
               sizeof(float) * row);
    return 1;
}

/*
 * Fine-tuning to another number of classes: a new net from the same
 * architecture, with every parameter tensor whose name and size match copied
 * from the loaded one (all but the classifier) and the rest freshly initialised;
 * 7 -> 6 carries the classifier over as well (merge_classifier).
 */
static enum fer_status change_classes(struct run *r, int n_classes, uint64_t seed, char *err)
{
    fer_spec *spec;
    fer_net *net;
    enum fer_status st =
        fer_spec_parse(fer_net_spec_text(r->net), "the --init model's architecture", &spec, err);
    if (st != FER_OK)
        return st;
    st = fer_net_new(spec, n_classes, fer_net_max_batch(r->net), &net, err);
    fer_spec_free(spec);
    if (st != FER_OK)
        return st;
    fer_net_init_weights(net, seed);
    struct fer_param_group *from, *to;
    size_t n_from = fer_net_param_groups(r->net, &from), n_to = fer_net_param_groups(net, &to);
    size_t copied = 0;
    for (size_t i = 0; i < n_to && i < n_from; i++) {
        if (strcmp(from[i].name, to[i].name) != 0)
            continue;
        if (from[i].n == to[i].n) {
            memcpy(to[i].param, from[i].param, sizeof(float) * to[i].n);
            copied++;
        } else if (merge_classifier(&from[i], &to[i], fer_net_classes(r->net), n_classes)) {
            copied++;
        }
    }
    fer_net_weights_changed(net);
    size_t nb_from, nb_to;
    float *b_from = fer_net_buffers(r->net, &nb_from), *b_to = fer_net_buffers(net, &nb_to);
    if (nb_from == nb_to)
        memcpy(b_to, b_from, sizeof(float) * nb_to);
    say(r->c, FER_LOG_INFO, "--init: %d -> %d classes; kept %zu of %zu parameter tensors",
        fer_net_classes(r->net), n_classes, copied, n_to);
    fer_net_free(r->net);
    r->net = net;
    return FER_OK;
}

/* A softmax with merge= (fer average --merge-disgust) has no gradient: such models are for
 * inference. */
static enum fer_status merged_error(const char *path, char *err)
{
    return fer_errorf(err, FER_ERR_ARG,
                      "%s merges outputs in its softmax (merge=, as fer average --merge-disgust "
                      "makes): it is for inference, not training; train or fine-tune the model it "
                      "was made from",
                      path);
}

static enum fer_status setup_model(struct run *r, char *err)
{
    const struct fer_train_config *c = r->c;
    enum fer_status st;
    float *optim_state = NULL;
    size_t n_optim = 0;
    if (c->resume_path) {
        struct fer_meta trainer = {0};
        struct fer_checkpoint_extra extra = {&trainer, NULL, 0};
        st = fer_model_load(c->resume_path, r->cfg.batch, &r->net, &r->meta, &extra, err);
        if (st == FER_OK)
            st = load_recipe(&trainer, r, err);
        if (st == FER_OK && r->cfg.batch > fer_net_max_batch(r->net))
            st = fer_net_set_max_batch(r->net, r->cfg.batch, err);
        fer_meta_clear(&trainer);
        optim_state = extra.optim;
        n_optim = extra.n_optim;
        if (st != FER_OK) {
            fer_free(optim_state);
            return st;
        }
        say(c, FER_LOG_INFO, "resuming %s after epoch %d of %d", c->resume_path, r->done.epoch,
            r->cfg.epochs);
    } else if (c->init_path) {
        if ((st = fer_model_load(c->init_path, r->cfg.batch, &r->net, &r->meta, NULL, err)))
            return st;
        if (fer_net_merges_outputs(r->net))
            return merged_error(c->init_path, err);
        fer_model_uncalibrate(r->net, &r->meta); /* the fit describes the old weights */
        if (fer_net_classes(r->net) != c->n_classes &&
            (st = change_classes(r, c->n_classes, c->seed, err)) != FER_OK)
            return st;
    } else {
        fer_spec *spec;
        if ((st = fer_spec_load(c->arch_path, &spec, err)) != FER_OK)
            return st;
        st = fer_net_new(spec, c->n_classes, r->cfg.batch, &r->net, err);
        fer_spec_free(spec);
        if (st != FER_OK)
            return st;
        fer_net_init_weights(r->net, c->seed);
    }
    if (fer_net_merges_outputs(r->net)) {
        fer_free(optim_state);
        return merged_error(c->resume_path ? c->resume_path : c->arch_path, err);
    }
    if (fer_net_classes(r->net) != c->n_classes) {
        fer_free(optim_state);
        return fer_errorf(err, FER_ERR_ARG,
                          "%s has %d classes but --classes is %d (pass --classes %d)",
                          c->resume_path ? c->resume_path : c->init_path, fer_net_classes(r->net),
                          c->n_classes, fer_net_classes(r->net));
    }
    if ((st = fer_net_set_pool(r->net, r->pool, err)) != FER_OK ||
        (st = fer_optim_new(&r->cfg.optim, r->net, &r->opt, err)) != FER_OK) {
        fer_free(optim_state);
        return st;
    }
    if (optim_state) {
        size_t n;
        float *dst = fer_optim_state(r->opt, &n);
        if (n != n_optim) {
            fer_free(optim_state);
            return fer_errorf(err, FER_ERR_CORRUPT,
                              "checkpoint optimizer state has %zu values, "
                              "expected %zu",
                              n_optim, n);
        }
        memcpy(dst, optim_state, n * sizeof(float));
        fer_optim_set_steps(r->opt, r->done.steps);
        fer_free(optim_state);
    }
    return FER_OK;
}

/* Normalisation: kept from a loaded model, else measured on the training data. */
static void setup_norm(struct run *r)
{
    if (!fer_meta_norm(&r->meta, &r->norm.mean, &r->norm.std)) {
        fer_dataset_pixel_stats(r->train, &r->norm.mean, &r->norm.std);
        if (r->norm.std <= 0)
            r->norm.std = 1;
    }
}

static void describe_model(struct run *r, int epoch, const struct fer_metrics *val)
{
    const struct fer_train_config *c = r->c;
    struct fer_meta *m = &r->meta;
    const char *const *names = fer_class_names(c->n_classes);
    char classes[256] = "";
    for (int i = 0; i < c->n_classes; i++) {
        strcat(classes, names[i]);
        if (i + 1 < c->n_classes)
            strcat(classes, ",");
    }
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fer_meta_set(m, "format", "fer-model");
    /* a resume keeps the name the run began with unless --name gives another */
    if (c->name || !c->resume_path || !fer_meta_get(m, "name"))
        fer_meta_set(m, "name", c->name ? c->name : "fer-model");
    fer_meta_set(m, "classes", classes);
    fer_meta_setf(m, "input", "%dx%dx%d", fer_net_input_side(r->net), fer_net_input_side(r->net),
                  fer_net_input_channels(r->net));
    fer_meta_setf(m, "input_mean", "%.9g", (double)r->norm.mean);
    fer_meta_setf(m, "input_std", "%.9g", (double)r->norm.std);
    fer_meta_set(m, "normalisation", "x = (pixel / 255 - input_mean) / input_std");
    fer_meta_set(m, "labels", fer_label_source_name(c->labels));
    if (c->labels != FER_LABELS_FER2013) {
        fer_meta_set(m, "ferplus_data", c->ferplus_path);
        fer_meta_set(m, "ferplus_sha256", r->ferplus_sha);
    }
    if (c->labels == FER_LABELS_BLEND)
        fer_meta_setf(m, "ferplus_weight", "%.9g", (double)c->ferplus_weight);
    if (c->teacher.models) {
        fer_meta_set(m, "teacher", c->teacher.models);
        fer_meta_set(m, "teacher_sha256", r->teacher.sha256);
        fer_meta_setf(m, "teacher_weight", "%.6g", (double)c->teacher.weight);
        fer_meta_setf(m, "teacher_temperature", "%.6g", (double)c->teacher.temperature);
        fer_meta_set(m, "teacher_tta", fer_tta_name((enum fer_tta)c->teacher.tta));
        fer_meta_setf(m, "teacher_agreement", "%.6f", r->teacher.agreement);
    }
    fer_meta_set(m, "train_data", c->train_path);
    fer_meta_set(m, "train_sha256", r->train_sha);
    fer_meta_setf(m, "train_rows", "%zu", r->train->n);
    if (r->train_usage)
        fer_meta_set(m, "train_usage", r->train_usage);
    if (r->val) {
        fer_meta_set(m, "val_data", c->val_path);
        fer_meta_set(m, "val_sha256", r->val_sha);
        if (r->val_usage)
            fer_meta_set(m, "val_usage", r->val_usage);
        fer_meta_setf(m, "val_accuracy", "%.6f", val ? val->accuracy : 0.0);
        fer_meta_setf(m, "val_macro_f1", "%.6f", val ? val->macro_f1 : 0.0);
    }
    fer_meta_setf(m, "epoch", "%d", epoch);
    fer_meta_setf(m, "epochs", "%d", r->cfg.epochs);
    fer_meta_setf(m, "seed", "%" PRIu64, r->cfg.seed);
    fer_meta_setf(m, "train_seconds", "%.0f", r->done.elapsed);
    fer_meta_setf(m, "mflop_per_face", "%.1f", fer_net_flops(r->net) / 1e6);
    fer_meta_setf(m, "parameters", "%zu", fer_net_param_count(r->net));
    /* a resumed run keeps the command that started it, and says how it went on */
    if (!c->resume_path)
        fer_meta_unset(m, "resume_command"); /* an --init model's history is not this run's */
    if (c->command)
        fer_meta_set(m, c->resume_path && fer_meta_get(m, "command") ? "resume_command" : "command",
                     c->command);
    fer_meta_set(m, "created", when);
    fer_meta_set(m, "fer_version", FER_VERSION_STRING);
}

struct batch_job {
    struct run *r;
    const uint32_t *idx; /* batch image indices into train */
    int epoch;
    int side;
};

/* Where a global batch's inputs are made: the net's input, or in a group the staging area
   that this process's share is taken from. */
static float *batch_inputs(struct run *r)
{
    return r->stage ? r->stage : fer_net_input(r->net);
}

static void fill_task(void *arg, size_t i, int thread)
{
    (void)thread;
    struct batch_job *j = arg;
    struct run *r = j->r;
    uint32_t idx = j->idx[i];
    fer_rng rng;
    fer_rng_seed(&rng, r->cfg.seed, 0x61756700ULL + (uint64_t)j->epoch, idx, 1);
    float *dst = batch_inputs(r) + i * (size_t)j->side * (size_t)j->side;
    fer_augment_image(r->train->pixels + (size_t)idx * FER_FACE_PIXELS, FER_FACE_SIDE, dst, j->side,
                      &r->cfg.augment, &rng, r->norm.mean, r->norm.std, 0);
}

/* Gamma(shape, 1) by Marsaglia & Tsang (2000); for shape < 1 via the boost trick. */
static double sample_gamma(fer_rng *rng, double shape)
{
    if (shape < 1) {
        double u = (double)fer_rng_uniform(rng) + 1e-12;
        return sample_gamma(rng, shape + 1) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = fer_rng_normal(rng), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = (double)fer_rng_uniform(rng) + 1e-12;
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

/* Fills targets for a batch; with mixup blends images and targets with a shuffled partner. */
static void make_targets(struct run *r, const uint32_t *idx, int batch, int epoch, int step)
{
    const int k = r->cfg.n_classes;
    const fer_dataset *ds = r->train;
    for (int b = 0; b < batch; b++) {
        float *t = r->targets + (size_t)b * (size_t)k;
        if (ds->soft)
            memcpy(t, ds->soft + (size_t)idx[b] * (size_t)k, sizeof(float) * (size_t)k);
        else {
            memset(t, 0, sizeof(float) * (size_t)k);
            t[ds->labels[idx[b]]] = 1;
        }
    }
    if (r->cfg.mixup <= 0 || batch < 2)
        return;
    fer_rng rng;
    fer_rng_seed(&rng, r->cfg.seed, 0x6d697800ULL + (uint64_t)epoch, (uint64_t)step, 2);
    double g1 = sample_gamma(&rng, r->cfg.mixup), g2 = sample_gamma(&rng, r->cfg.mixup);
    float lam = (float)(g1 / (g1 + g2));
    if (lam < 0.5f)
        lam = 1 - lam; /* keep the first image dominant so "train accuracy" stays meaningful */
    /* partner of b is b+1 (cyclic) in this already shuffled batch */
    const size_t in = (size_t)fer_net_input_side(r->net) * (size_t)fer_net_input_side(r->net);
    float *x = batch_inputs(r);
    float *first_x = fer_malloc(in * sizeof(float));
    float *first_t = fer_malloc((size_t)k * sizeof(float));
    if (!first_x || !first_t) {
        fer_free(first_x);
        fer_free(first_t);
        return; /* no mixup for this batch rather than a failed run */
    }
    memcpy(first_x, x, in * sizeof(float));
    memcpy(first_t, r->targets, (size_t)k * sizeof(float));
    for (int b = 0; b < batch; b++) {
        float *xb = x + (size_t)b * in, *tb = r->targets + (size_t)b * (size_t)k;
        const float *xp = b + 1 < batch ? xb + in : first_x;
        const float *tp = b + 1 < batch ? tb + k : first_t;
        for (size_t i = 0; i < in; i++)
            xb[i] = lam * xb[i] + (1 - lam) * xp[i];
        for (int i = 0; i < k; i++)
            tb[i] = lam * tb[i] + (1 - lam) * tp[i];
    }
    fer_free(first_x);
    fer_free(first_t);
}

static enum fer_status write_log(struct run *r, const char *line, char *err)
{
    FILE *f = fopen(r->log_path, "a");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot append to log %s", r->log_path);
    fputs(line, f);
    if (fclose(f) != 0)
        return fer_errorf(err, FER_ERR_IO, "cannot write log %s", r->log_path);
    return FER_OK;
}

static enum fer_status save_checkpoint(struct run *r, const struct fer_metrics *val, char *err)
{
    struct fer_meta trainer = {0};
    save_recipe(&trainer, r);
    size_t n_optim;
    float *optim = fer_optim_state(r->opt, &n_optim);
    struct fer_checkpoint_extra extra = {&trainer, optim, n_optim};
    describe_model(r, r->done.epoch, val);
    enum fer_status st = fer_model_save(r->ckpt_path, r->net, &r->meta, &extra, err);
    fer_meta_clear(&trainer);
    return st;
}

/* With keep_last N, the weights after each of the last N epochs go to OUT.epochE.fer. */
static enum fer_status save_epoch_weights(struct run *r, char *err)
{
    if (r->cfg.keep_last <= 0 || r->done.epoch <= r->cfg.epochs - r->cfg.keep_last)
        return FER_OK;
    char path[1100];
    const char *out = r->c->out_path;
    size_t len = strlen(out);
    int stem = len > 4 && strcmp(out + len - 4, ".fer") == 0 ? (int)len - 4 : (int)len;
    snprintf(path, sizeof(path), "%.*s.epoch%d.fer", stem, out, r->done.epoch);
    /* r->meta describes this epoch: save_checkpoint just wrote it */
    return fer_model_save(path, r->net, &r->meta, NULL, err);
}

/* In a group: this process's share of the global batch moves from the staging area to the
   net's input. Returns the share's size. */
static int take_share(struct run *r, int batch)
{
    fer_group_share(r->group, (size_t)batch, &r->lo, &r->hi);
    if (r->stage) {
        const size_t in = (size_t)fer_net_input_side(r->net) * (size_t)fer_net_input_side(r->net);
        memcpy(fer_net_input(r->net), r->stage + r->lo * in, (r->hi - r->lo) * in * sizeof(float));
    }
    return (int)(r->hi - r->lo);
}

static void sum_over_group(void *ctx, double *v, size_t n)
{
    fer_group_sum(ctx, v, n);
}

static void grads_ready(void *ctx, size_t from)
{
    fer_group_grads_ready(ctx, from);
}

/* In a group, the net learns its share of the batch and how to sum over the others. */
static void join_net(struct run *r, int batch)
{
    if (fer_group_size(r->group) == 1)
        return;
    size_t lo, hi;
    fer_group_share(r->group, (size_t)batch, &lo, &hi);
    struct fer_net_group g = {sum_over_group, grads_ready, r->group, (int)lo, batch};
    fer_net_set_group(r->net, &g);
}

/* The images of a batch the net ranked first right, of its share [lo, hi). */
static double count_correct(struct run *r, const uint32_t *idx)
{
    const int k = r->cfg.n_classes;
    const float *p = fer_net_output(r->net);
    double correct = 0;
    for (size_t b = 0; b < r->hi - r->lo; b++) {
        int best = 0;
        for (int i = 1; i < k; i++)
            best = p[b * (size_t)k + (size_t)i] > p[b * (size_t)k + (size_t)best] ? i : best;
        correct += best == r->train->labels[idx[r->lo + b]];
    }
    return correct;
}

/*
 * One step on a global batch: every process makes the whole batch's inputs and targets (the
 * augmentation is seeded per face, so all make the same), runs its share forward and back,
 * and the gradients are summed over the group before the optimizer's step. tally gets the
 * batch's summed loss and correct count.
 */
static void train_step(struct run *r, const uint32_t *idx, int batch, int epoch, int s, float lr,
                       double tally[2])
{
    const struct fer_train_config *c = &r->cfg;
    struct batch_job j = {r, idx, epoch, fer_net_input_side(r->net)};
    fer_pool_run(r->pool, (size_t)batch, fill_task, &j);
    make_targets(r, idx, batch, epoch, s);
    const int mine = take_share(r, batch);
    fer_net_set_noise(r->net, c->seed, fer_optim_steps(r->opt));
    fer_net_forward(r->net, mine, 1);
    const float *targets = r->targets + r->lo * (size_t)c->n_classes;
    tally[0] = fer_net_loss(r->net, mine, targets, c->label_smoothing) * mine;
    fer_net_zero_grad(r->net);
    size_t n_grads;
    float *grads = fer_net_grads(r->net, &n_grads);
    fer_group_grads_begin(r->group, grads, n_grads);
    fer_net_backward(r->net, mine);
    fer_group_grads_finish(r->group);
    fer_optim_step(r->opt, lr);
    tally[1] = count_correct(r, idx);
    fer_group_sum(r->group, tally, 2);
}

static enum fer_status train_epoch(struct run *r, int epoch, double *loss_out, double *acc_out,
                                   double *rate_out, char *err)
{
    const struct fer_train_config *c = &r->cfg;
    const size_t n = r->train->n;
    const int batch = n < (size_t)c->batch ? (int)n : c->batch;
    const int steps = (int)(n / (size_t)batch); /* the last partial batch is dropped */
    for (size_t i = 0; i < n; i++)
        r->order[i] = (uint32_t)i;
    fer_rng rng;
    fer_rng_seed(&rng, c->seed, 0x6f726400ULL + (uint64_t)epoch, 0, 0);
    fer_rng_shuffle(&rng, r->order, n);
    join_net(r, batch);
    char label[48];
    snprintf(label, sizeof(label), "epoch %d/%d", epoch + 1, c->epochs);
    fer_progress bar;
    fer_progress_start(&bar, label, "img", (size_t)steps * (size_t)batch, r->c->progress);
    double loss_sum = 0, correct = 0;
    size_t seen = 0;
    double t0 = fer_now(), comm0 = fer_group_comm_seconds(r->group);
    for (int s = 0; s < steps; s++) {
        float lr = fer_schedule_lr(&c->schedule, epoch + (double)s / steps, c->epochs);
        double tally[2];
        train_step(r, r->order + (size_t)s * (size_t)batch, batch, epoch, s, lr, tally);
        loss_sum += tally[0];
        correct += tally[1];
        seen += (size_t)batch;
        char extra[96];
        snprintf(extra, sizeof(extra), "loss %.4f  acc %.1f%%  lr %.2g", loss_sum / (double)seen,
                 100.0 * correct / (double)seen, (double)lr);
        fer_progress_add(&bar, (size_t)batch, extra);
        if (!isfinite(tally[0])) {
            r->stopped_together = 1; /* the loss is the group's: all see it */
            return fer_errorf(err, FER_ERR_STATE,
                              "training diverged at epoch %d step %d (loss is %f); lower the "
                              "learning rate",
                              epoch + 1, s, tally[0] / batch);
        }
    }
    fer_progress_finish(&bar);
    double dt = fer_now() - t0;
    r->comm_wait = fer_group_comm_seconds(r->group) - comm0;
    *loss_out = seen ? loss_sum / (double)seen : 0;
    *acc_out = seen ? correct / (double)seen : 0;
    *rate_out = dt > 0 ? (double)seen / dt : 0;
    return FER_OK;
}

/* The checkpoint's and the log's paths: as given, else beside the model. */
static void set_paths(struct run *r)
{
    const struct fer_train_config *c = r->c;
    snprintf(r->ckpt_path, sizeof(r->ckpt_path), "%s",
             c->checkpoint_path ? c->checkpoint_path : c->out_path);
    if (!c->checkpoint_path)
        strncat(r->ckpt_path, ".ckpt", sizeof(r->ckpt_path) - strlen(r->ckpt_path) - 1);
    snprintf(r->log_path, sizeof(r->log_path), "%s", c->log_path ? c->log_path : c->out_path);
    if (!c->log_path)
        strncat(r->log_path, ".log.jsonl", sizeof(r->log_path) - strlen(r->log_path) - 1);
}

/* The teacher's predictions on the training faces, blended into the targets later. */
static enum fer_status load_teacher(struct run *r, char *err)
{
    const struct fer_train_config *c = r->c;
    double t_teach = fer_now();
    /* kept beside the model so that a resume need not read the faces again */
    char cache[sizeof(r->ckpt_path) + 16];
    struct fer_teacher teacher = c->teacher;
    int len = snprintf(cache, sizeof(cache), "%s.teacher", c->out_path);
    if (!teacher.cache_path && len > 0 && (size_t)len < sizeof(cache))
        teacher.cache_path = cache; /* (a path too long to extend is simply not cached) */
    say(c, FER_LOG_INFO, "teacher: %s reads the training faces", c->teacher.models);
    enum fer_status st =
        fer_distill_targets(r->train, &teacher, r->pool, c->progress, &r->teacher, err);
    if (st != FER_OK)
        return st;
    if (r->teacher.cache_note[0])
        say(c, FER_LOG_INFO, "teacher: %s", r->teacher.cache_note);
    if (r->teacher.cached || r->teacher.cache_kept)
        say(c, FER_LOG_INFO, "teacher: predictions %s %s",
            r->teacher.cached ? "read from" : "kept for a resume in", teacher.cache_path);
    say(c, FER_LOG_INFO,
        "teacher: %d model%s, agrees with %.2f%% of the labels, mean confidence %.3f; "
        "targets are %.0f%% teacher (%.1fs)",
        r->teacher.n_models, r->teacher.n_models > 1 ? "s" : "", 100 * r->teacher.agreement,
        r->teacher.mean_confidence, 100 * (double)c->teacher.weight, fer_now() - t_teach);
    return FER_OK;
}

/* The training and validation faces, the FER+ file's hash and the teacher's predictions. */
static enum fer_status load_data(struct run *r, char *err)
{
    const struct fer_train_config *c = r->c;
    double t_load = fer_now();
    enum fer_status st;
    if ((st = load_split(c, c->train_path, FER_USAGE_TRAINING, c->limit, &r->train, r->train_sha,
                         &r->train_usage, err)) != FER_OK)
        return st;
    if (c->val_path && (st = load_split(c, c->val_path, FER_USAGE_PUBLIC_TEST, c->val_limit,
                                        &r->val, r->val_sha, &r->val_usage, err)) != FER_OK)
        return st;
    if (c->labels != FER_LABELS_FER2013 &&
        (st = fer_sha256_file(c->ferplus_path, r->ferplus_sha, err)) != FER_OK)
        return st;
    if (c->teacher.models) {
        /* rank 0 computes the teacher's predictions and caches them; the others read them */
        if (fer_group_rank(r->group) != 0)
            fer_group_barrier(r->group);
        st = load_teacher(r, err);
        if (fer_group_rank(r->group) == 0)
            fer_group_barrier(r->group);
        if (st != FER_OK)
            return st;
    }
    say(c, FER_LOG_INFO, "data: %zu training faces, %zu validation faces, %d classes (%.1fs)",
        r->train->n, r->val ? r->val->n : (size_t)0, c->n_classes, fer_now() - t_load);
    return FER_OK;
}

/* The network, optimizer and normalisation (fresh, fine-tuned or resumed), and the batch
   buffers. */
static enum fer_status prepare_model(struct run *r, char *err)
{
    const struct fer_train_config *c = r->c;
    enum fer_status st;
    if ((st = setup_model(r, err)) != FER_OK)
        return st;
    setup_norm(r);
    r->order = fer_calloc(r->train->n, sizeof(uint32_t));
    r->targets = fer_calloc((size_t)r->cfg.batch * (size_t)c->n_classes, sizeof(float));
    if (!r->order || !r->targets)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
    const int ranks = fer_group_size(r->group);
    if (ranks > 1) { /* each process's net holds its share; the whole batch is staged */
        const size_t side = (size_t)fer_net_input_side(r->net);
        r->stage = fer_malloc((size_t)r->cfg.batch * side * side * sizeof(float));
        if (!r->stage)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory");
        if ((st = fer_net_set_max_batch(r->net, (r->cfg.batch + ranks - 1) / ranks, err)))
            return st;
        say(c, FER_LOG_INFO, "group: %d processes (%d on this host), each %d of every %d images",
            ranks, fer_group_local_size(r->group), (r->cfg.batch + ranks - 1) / ranks,
            r->cfg.batch);
    }
    say(c, FER_LOG_INFO,
        "model: %zu parameters, %.1f MFLOP per face; %d threads; %s lr %.3g %s, batch %d, "
        "%d epochs",
        fer_net_param_count(r->net), fer_net_flops(r->net) / 1e6, fer_pool_threads(r->pool),
        fer_optim_kind_name(r->cfg.optim.kind), (double)r->cfg.schedule.base_lr,
        fer_sched_kind_name(r->cfg.schedule.kind), r->cfg.batch, r->cfg.epochs);
    return FER_OK;
}

/* ", N processes, X% communicating" in a group (of the epoch's training time), else "". */
static const char *group_note(struct run *r, double rate, char note[64])
{
    const int n = fer_group_size(r->group);
    const double busy =
        rate > 0 ? (double)(r->train->n / (size_t)r->cfg.batch) * (double)r->cfg.batch / rate : 0;
    if (n == 1 || busy <= 0)
        return "";
    snprintf(note, 64, " on %d processes, %.0f%% communicating", n, 100 * r->comm_wait / busy);
    return note;
}

/* The epoch's line in the JSONL log, then in the run's log; val is NULL without validation. */
static enum fer_status report_epoch(struct run *r, int epoch, double t0, double loss, double acc,
                                    double rate, const struct fer_metrics *val, int improved,
                                    char *err)
{
    float lr = fer_schedule_lr(&r->cfg.schedule, epoch + 1, r->cfg.epochs);
    char line[512];
    snprintf(line, sizeof(line),
             "{\"epoch\":%d,\"train_loss\":%.5f,\"train_acc\":%.5f,\"val_loss\":%.5f,"
             "\"val_acc\":%.5f,\"val_macro_f1\":%.5f,\"lr\":%.6g,\"img_per_s\":%.1f,"
             "\"seconds\":%.1f,\"processes\":%d,\"communication_s\":%.2f,\"best\":%s}\n",
             r->done.epoch, loss, acc, val ? val->loss : 0.0, val ? val->accuracy : 0.0,
             val ? val->macro_f1 : 0.0, (double)lr, rate, fer_now() - t0, fer_group_size(r->group),
             r->comm_wait, improved ? "true" : "false");
    enum fer_status st = write_log(r, line, err);
    if (st != FER_OK)
        return st;
    char note[64];
    say(r->c, FER_LOG_INFO,
        "epoch %d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%% macro-F1 %.4f  "
        "%.0f img/s%s%s",
        r->done.epoch, r->cfg.epochs, loss, 100 * acc, val ? val->loss : 0.0,
        val ? 100 * val->accuracy : 0.0, val ? val->macro_f1 : 0.0, rate, group_note(r, rate, note),
        improved ? "  (best, saved)" : "");
    return FER_OK;
}

/* The faces [lo, hi) of ds, sharing its memory. */
static fer_dataset dataset_part(const fer_dataset *ds, size_t lo, size_t hi)
{
    fer_dataset part = *ds;
    part.n = hi - lo;
    part.pixels += lo * FER_FACE_PIXELS;
    part.labels += lo;
    part.usage = ds->usage ? ds->usage + lo : NULL;
    part.usage_rank = ds->usage_rank ? ds->usage_rank + lo : NULL;
    part.soft = ds->soft ? ds->soft + lo * (size_t)ds->n_classes : NULL;
    return part;
}

/* The validation metrics; in a group each process classifies its share of the faces and every
   process scores all of their probabilities. */
static enum fer_status validate(struct run *r, struct fer_metrics *val, char *err)
{
    const enum fer_tta tta = (enum fer_tta)r->cfg.eval_tta;
    if (fer_group_size(r->group) == 1)
        return fer_evaluate(r->net, r->norm, r->val, tta, 0, val, NULL, err);
    const size_t n = r->val->n, k = (size_t)r->val->n_classes;
    size_t lo, hi;
    fer_group_share(r->group, n, &lo, &hi);
    float *probs = fer_calloc(n * k, sizeof(float));
    if (!probs)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for validation");
    fer_dataset part = dataset_part(r->val, lo, hi);
    enum fer_status st = fer_evaluate(r->net, r->norm, &part, tta, 0, val, probs + lo * k, err);
    if (st == FER_OK)
        st = fer_group_gather_rows(r->group, probs, n, k, err);
    if (st == FER_OK)
        fer_metrics_from_probs(probs, r->val, val);
    fer_free(probs);
    return st;
}

/* The model when it is the best yet, the checkpoint and the epoch's weights, then the log
   line: rank 0's work. */
static enum fer_status save_epoch(struct run *r, int epoch, double t0, const double train[3],
                                  const struct fer_metrics *val, int improved, char *err)
{
    enum fer_status st;
    if (fer_group_rank(r->group) != 0)
        return FER_OK;
    if (improved) {
        describe_model(r, r->done.epoch, val);
        if ((st = fer_model_save(r->c->out_path, r->net, &r->meta, NULL, err)) != FER_OK)
            return st;
    }
    /* checkpoint first, then the log line: a crash between them repeats no epoch */
    if ((st = save_checkpoint(r, val, err)) != FER_OK ||
        (st = save_epoch_weights(r, err)) != FER_OK)
        return st;
    return report_epoch(r, epoch, t0, train[0], train[1], train[2], val, improved, err);
}

/*
 * In a group: rank 0's outcome of saving the epoch, then its weights, statistics and optimizer
 * state, go to every process. A failure there stops them all, and the copies of the net stay
 * the same to the bit even if the sums over the group differed in the last bits.
 */
static enum fer_status agree(struct run *r, enum fer_status st, char *err)
{
    if (fer_group_size(r->group) == 1)
        return st;
    int code = (int)st;
    fer_group_broadcast(r->group, &code, sizeof(code));
    r->stopped_together = code != FER_OK;
    if (code != FER_OK)
        return fer_group_rank(r->group) == 0
                   ? st
                   : fer_errorf(err, (enum fer_status)code, "rank 0 failed to save the epoch");
    size_t n;
    float *v = fer_net_params(r->net, &n);
    fer_group_broadcast(r->group, v, n * sizeof(float));
    v = fer_net_buffers(r->net, &n);
    fer_group_broadcast(r->group, v, n * sizeof(float));
    v = fer_optim_state(r->opt, &n);
    fer_group_broadcast(r->group, v, n * sizeof(float));
    fer_net_weights_changed(r->net);
    return FER_OK;
}

/* One epoch: training, validation, the model saved when it is the best yet, the checkpoint
   and the epoch's weights, then the log. */
static enum fer_status run_epoch(struct run *r, int epoch, char *err)
{
    double t0 = fer_now(), train[3] = {0, 0, 0}; /* loss, accuracy, images per second */
    enum fer_status st;
    if ((st = train_epoch(r, epoch, &train[0], &train[1], &train[2], err)) != FER_OK)
        return st;
    struct fer_metrics val;
    int have_val = r->val != NULL;
    if (have_val && (st = validate(r, &val, err)) != FER_OK)
        return st;
    if (have_val)
        fer_schedule_observe(&r->cfg.schedule, (float)val.loss);
    r->done.epoch = epoch + 1;
    r->done.elapsed += fer_now() - t0;
    int improved = have_val ? val.accuracy > r->done.best_acc : r->done.epoch == r->cfg.epochs;
    if (improved) {
        r->done.best_acc = have_val ? val.accuracy : 0;
        r->done.best_epoch = r->done.epoch;
    }
    st = save_epoch(r, epoch, t0, train, have_val ? &val : NULL, improved, err);
    return agree(r, st, err);
}

/*
 * In a group: whether every process read its data and made its net. A process that failed
 * returns its own error and the others a note; all stop together, so that none waits for one
 * that is gone.
 */
static enum fer_status all_started(struct run *r, enum fer_status st, char *err)
{
    if (fer_group_all_ok(r->group, st == FER_OK))
        return FER_OK;
    r->stopped_together = 1;
    return st != FER_OK ? st
                        : fer_errorf(err, FER_ERR_STATE,
                                     "another process of the group failed to start (its "
                                     "message says why)");
}

/*
 * Leaves the group. A failure the others do not know of (out of memory, say) ends the whole
 * job, after this process has said why: the others would wait for it forever.
 */
static void leave_group(struct run *r, enum fer_status st, const char *err)
{
    int alone = st != FER_OK && !r->stopped_together && fer_group_size(r->group) > 1;
    if (alone)
        say(&r->cfg, FER_LOG_WARN, "process %d of the group failed: %s", fer_group_rank(r->group),
            err);
    fer_group_close(r->group, alone);
}

/* Threads per process: as asked, else this host's cores shared by the group's processes on
   it. */
static int thread_count(const struct run *r)
{
    if (r->c->threads > 0)
        return r->c->threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long each = (cores > 0 ? cores : 1) / fer_group_local_size(r->group);
    return each > 1 ? (int)each : 1;
}

enum fer_status fer_train_run(const struct fer_train_config *c, char *err)
{
    struct run r = {0};
    r.c = c;
    r.cfg = *c;
    r.done.best_acc = -1;
    if (!c->out_path)
        return fer_errorf(err, FER_ERR_ARG, "no output model path (--out)");
    if (!c->resume_path && !c->init_path && !c->arch_path)
        return fer_errorf(err, FER_ERR_ARG, "no architecture (--arch), --init or --resume");
    enum fer_status st = fer_group_open(&r.group, err);
    if (st != FER_OK)
        return st;
    if (fer_group_rank(r.group) != 0) { /* rank 0 speaks for the group */
        r.quiet = *c;
        r.quiet.log = NULL;
        r.quiet.progress = 0;
        r.c = &r.quiet;
    }
    set_paths(&r);
    st = fer_pool_new(thread_count(&r), &r.pool, err);
    if (st == FER_OK)
        st = load_data(&r, err);
    if (st == FER_OK)
        st = prepare_model(&r, err);
    st = all_started(&r, st, err);
    if (st == FER_OK && !c->resume_path && fer_group_rank(r.group) == 0)
        remove(r.log_path); /* a fresh run starts a fresh log */
    for (int epoch = r.done.epoch; st == FER_OK && epoch < r.cfg.epochs; epoch++)
        st = run_epoch(&r, epoch, err);
    if (st == FER_OK)
        say(r.c, FER_LOG_INFO,
            "done: %s (epoch %d, validation accuracy %.2f%%), checkpoint %s, log %s", c->out_path,
            r.done.best_epoch, 100 * (r.done.best_acc > 0 ? r.done.best_acc : 0), r.ckpt_path,
            r.log_path);
    free_run(&r);
    leave_group(&r, st, err);
    return st;
}
