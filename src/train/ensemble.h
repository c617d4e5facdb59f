/*
 * ensemble.h - several trained models read as one: each model's probabilities
 * (averaged over its test-time views) averaged again over the models.
 *
 * `fer eval --model a.fer,b.fer` scores an ensemble, and `fer train --teacher
 * a.fer,b.fer` distils one into the soft targets of a single network.
 */
#ifndef FER_TRAIN_ENSEMBLE_H
#define FER_TRAIN_ENSEMBLE_H

#include <stddef.h>

#include "core/pool.h"
#include "core/status.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "train/evaluate.h"

#define FER_ENSEMBLE_MAX 16

typedef struct fer_ensemble {
    int n;
    fer_net *nets[FER_ENSEMBLE_MAX];
    struct fer_meta metas[FER_ENSEMBLE_MAX];
    char paths[FER_ENSEMBLE_MAX][1024];
} fer_ensemble;

/*
 * How a member is loaded from its name in the list: fer_model_load's signature. A caller above
 * this level passes one that also knows the built-in models (`fer eval --model accurate`).
 */
typedef enum fer_status (*fer_model_loader)(const char *name, int max_batch, fer_net **net,
                                            struct fer_meta *meta,
                                            struct fer_checkpoint_extra *extra, char *err);

/*
 * Loads the comma-separated models of list ("a.fer" or "a.fer,b.fer") with
 * load (NULL: fer_model_load, files only), each with room for batches of
 * max_batch faces, working on pool. All must have the same classes and input.
 * On failure nothing stays loaded. The caller frees *out with fer_ensemble_free.
 */
enum fer_status fer_ensemble_load(const char *list, int max_batch, fer_pool *pool,
                                  fer_model_loader load, fer_ensemble **out, char *err);
void fer_ensemble_free(fer_ensemble *e);

/* Outputs of each member (they agree). */
int fer_ensemble_classes(const fer_ensemble *e);

/*
 * Runs every member over ds with test-time augmentation tta and writes the
 * mean of their probabilities (ds->n x classes) to probs. member_acc
 * (optional, e->n values) receives each member's own accuracy.
 */
enum fer_status fer_ensemble_probs(fer_ensemble *e, const fer_dataset *ds, enum fer_tta tta,
                                   int progress, float *probs, double *member_acc, char *err);

#endif
