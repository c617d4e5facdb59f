/*
 * evaluate.h - running a trained net over a dataset and scoring it.
 */
#ifndef FER_TRAIN_EVALUATE_H
#define FER_TRAIN_EVALUATE_H

#include "core/pool.h"
#include "core/status.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "train/metrics.h"

/* Input normalisation a model was trained with: x = (pixel/255 - mean) / std. */
struct fer_norm {
    float mean, std;
};

enum fer_tta {
    FER_TTA_NONE = 0,  /* the centred image */
    FER_TTA_FLIP = 1,  /* + its mirror image (2 views) */
    FER_TTA_CROPS = 2, /* + 4 views shifted by 2 pixels, each also mirrored (10 views) */
};

/* "none", "flip" or "crops" to enum fer_tta, or -1. */
int fer_tta_parse(const char *name);
/* The name fer_tta_parse reads; "?" for a value out of range. */
const char *fer_tta_name(enum fer_tta tta);

/*
 * Classifies every face of ds (inference mode, batches of the net's max
 * batch), averaging the probabilities over the test-time views, and fills m.
 * probs (optional, ds->n x classes) receives the averaged probabilities.
 */
enum fer_status fer_evaluate(fer_net *net, struct fer_norm norm, const fer_dataset *ds,
                             enum fer_tta tta, int progress, struct fer_metrics *m, float *probs,
                             char *err);

/*
 * Scores probabilities (ds->n x classes, e.g. fer_evaluate's or an
 * ensemble's) against ds's hard labels: the top class is the prediction, the
 * loss the mean of -log p(true class).
 */
void fer_metrics_from_probs(const float *probs, const fer_dataset *ds, struct fer_metrics *m);

#endif
