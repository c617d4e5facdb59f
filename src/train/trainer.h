/*
 * trainer.h - the training loop: data, augmentation, optimizer, schedule,
 * evaluation every epoch, checkpoints and exact resume.
 *
 * Every random choice derives from the seed: the order of epoch e from
 * rng(seed, e), the augmentation of face i in epoch e from rng(seed, e, i),
 * dropout at step s from rng(seed, s, layer, image). A checkpoint written at
 * the end of each epoch holds the weights, batch-norm statistics, optimizer
 * moments and schedule state, so `--resume` continues bit for bit as if the
 * run had never stopped, and the same seed gives the same model for any
 * thread count.
 */
#ifndef FER_TRAIN_TRAINER_H
#define FER_TRAIN_TRAINER_H

#include <stdint.h>

#include "core/log.h"
#include "core/status.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "nn/optim.h"
#include "nn/spec.h"
#include "train/distill.h"

struct fer_train_config {
    /* data */
    const char *train_path;
    const char *val_path; /* may be NULL: no validation, the last epoch is kept */
    int n_classes;        /* 7 or 6 */
    enum fer_label_source labels;
    const char *ferplus_path;   /* needed for ferplus-* labels */
    float ferplus_weight;       /* FER+ share of the target with FER_LABELS_BLEND */
    int drop_unusable;          /* drop rows FER+ marks as not a face or unknown */
    struct fer_teacher teacher; /* distillation: a teacher's predictions in the targets */
    int skip_bad_rows;
    size_t limit;     /* use only the first `limit` training rows (0: all) */
    size_t val_limit; /* likewise for validation */

    /* model */
    const char *arch_path;       /* architecture spec (ignored with init_path or resume_path) */
    const char *init_path;       /* start from this model's weights (fine-tuning) */
    const char *resume_path;     /* continue this checkpoint */
    const char *out_path;        /* the best model on validation goes here */
    const char *checkpoint_path; /* default: out_path + ".ckpt" */
    const char *log_path;        /* default: out_path + ".log.jsonl" */
    const char *name;            /* model name in its metadata; NULL: the checkpoint's on a
                                    resume, else "fer-model" */

    /* recipe (defaults from the spec's [train] section, then the command line) */
    int epochs;
    int epochs_given; /* 1 when epochs came from the command line (overrides a checkpoint) */
    int batch;
    uint64_t seed;
    int threads;
    struct fer_optim_config optim;
    struct fer_schedule schedule;
    float label_smoothing;
    float mixup; /* alpha of the Beta distribution; 0 disables (Zhang et al. 2018) */
    struct fer_augment augment;
    int eval_tta;  /* enum fer_tta used for validation */
    int keep_last; /* also save the weights after each of the last N epochs, for fer average */

    int progress;        /* draw progress bars on stderr (default 0) */
    fer_log_fn *log;     /* receives what the run does, a line at a time ("data: ...", "epoch
                            1/30 ...", "done: ..."); NULL (the default): nothing is said */
    void *log_ctx;       /* passed to log */
    const char *command; /* the command line, recorded in the model */
};

/* How far a run has come; each checkpoint saves it with the recipe. */
struct fer_train_progress {
    int epoch;       /* epochs completed */
    uint64_t steps;  /* optimizer steps taken */
    double best_acc; /* the best validation accuracy so far; -1 before the first epoch */
    int best_epoch;  /* the epoch that reached it */
    double elapsed;  /* seconds spent training */
};

/*
 * Defaults: SGD Nesterov 0.01, cosine, 30 epochs, batch 128, seed 1, default augmentation; no
 * progress bars and no log.
 */
void fer_train_config_defaults(struct fer_train_config *c);

/*
 * Reads the [train] section of spec into c (optimizer, lr, momentum,
 * weight_decay, schedule, warmup, epochs, batch, label_smoothing, mixup,
 * shift, rotate, scale, flip, brightness, contrast, erase). Keys the user
 * set on the command line are applied afterwards by the caller.
 */
enum fer_status fer_train_config_from_spec(struct fer_train_config *c, fer_spec *spec, char *err);

/*
 * Runs training to the end (or until an error). What it does goes to c->log, progress bars
 * (c->progress) to stderr; otherwise it prints nothing.
 */
enum fer_status fer_train_run(const struct fer_train_config *c, char *err);

/*
 * A checkpoint's training state (train_state.c): one "trainer" metadata key per field, written
 * and read from one table: "epoch", "steps", "best_acc", "best_epoch", "elapsed" of p; "seed",
 * "batch", "epochs", "keep_last", "optim.*" (kind by name, momentum, nesterov, beta1, beta2,
 * eps, weight_decay, clip_norm), "schedule.*" (kind by name, base_lr, gamma, step_epochs,
 * min_ratio, warmup, patience and the plateau state plateau_scale, plateau_best,
 * plateau_bad_epochs), "augment.*" (shift, rotate, scale, flip, brightness, contrast, erase,
 * nearest), "regularise.label_smoothing", "regularise.mixup" and "eval.tta" of c. A failed set
 * is recorded in t (fer_meta_check), so fer_model_save refuses it.
 */
void fer_train_state_write(struct fer_meta *t, const struct fer_train_config *c,
                           const struct fer_train_progress *p);
/*
 * Reads that state into c and p; a field t lacks that older checkpoints lacked too (best_epoch,
 * elapsed, epochs, augment.nearest, keep_last) keeps its value in c or p. Checkpoints written
 * before the state was kept by name ("optimizer", "schedule", "augment" and "regularise" as
 * positional tuples, "augment_nearest" apart) are read as well. FER_ERR_CORRUPT, with c and p
 * unchanged, when a field is missing or malformed.
 */
enum fer_status fer_train_state_read(const struct fer_meta *t, struct fer_train_config *c,
                                     struct fer_train_progress *p, char *err);

#endif
