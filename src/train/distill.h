/*
 * distill.h - knowledge distillation (Hinton et al. 2015) with the teacher's
 * predictions computed once, before training: each training face's target
 * becomes a blend of its label and what a trained model, or an ensemble of
 * them, reads in it.
 *
 * On FER2013, whose labels human annotators agree with only about 65% of the
 * time, the teacher's distribution softens labels it finds doubtful and names
 * the second emotion of an ambiguous face. The teacher sees each face
 * unaugmented, with test-time augmentation (flip unless set otherwise), and
 * gives its raw probabilities (a calibration temperature in its file is not
 * applied); the student sees the augmented views as usual.
 */
#ifndef FER_TRAIN_DISTILL_H
#define FER_TRAIN_DISTILL_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "data/dataset.h"
#include "train/ensemble.h"

struct fer_teacher {
    const char *models; /* comma-separated model files (see ensemble.h); NULL: no teacher */
    float weight;       /* the teacher's share of each target, in [0, 1] */
    float temperature;  /* > 0: probabilities p become p^(1/T), renormalised; 1 keeps them */
    int tta;            /* enum fer_tta the teacher reads faces with (FER_TTA_FLIP by default) */
    const char
        *cache_path; /* keep the predictions here between runs (teacher_cache.h); NULL: not */
};

#define FER_TEACHER_WEIGHT_DEFAULT      0.5f
#define FER_TEACHER_TEMPERATURE_DEFAULT 1.0f

/* What fer_distill_targets found; sha256 lists the models' hashes, comma-separated. */
struct fer_teacher_report {
    int n_models;
    double agreement;       /* share of faces whose label is the teacher's top class */
    double mean_confidence; /* mean of the teacher's top probability */
    char sha256[FER_ENSEMBLE_MAX * 65];
    int cached;                   /* 1: the predictions were read from cache_path */
    int cache_kept;               /* 1: they were written to it */
    char cache_note[FER_ERR_LEN]; /* why a cache_path file was not used, or not written */
};

/*
 * Sets each face's target to (1 - weight) * its current target (its soft
 * target, or the one-hot of its label) + weight * the teacher's softened
 * probabilities. The hard labels stay, so accuracy is still measured against
 * them. The teacher must have ds->n_classes outputs. With a cache_path, the
 * predictions are read from it when it holds this teacher's on these faces,
 * and written to it otherwise; a cache that cannot be used or written is
 * noted in the report, not an error. Nothing in ds changes on failure.
 */
enum fer_status fer_distill_targets(fer_dataset *ds, const struct fer_teacher *t, fer_pool *pool,
                                    int progress, struct fer_teacher_report *report, char *err);

/*
 * Blends probs (ds->n x ds->n_classes, each row summing to 1) into ds's
 * targets as above; the arithmetic of fer_distill_targets without a model.
 */
enum fer_status fer_distill_blend(fer_dataset *ds, const float *probs, float weight,
                                  float temperature, char *err);

#endif
