/*
 * average.h - one model from several: the mean of their weights.
 *
 * Averaging the weights of checkpoints from the end of one run (stochastic
 * weight averaging, Izmailov et al. 2018) or of runs fine-tuned from one
 * model (model soups, Wortsman et al. 2022) gives a single network, at the
 * cost of one, that often generalises better than any of them. The batch-norm
 * running statistics of an average are not the average of the statistics, so
 * they are measured again on training data (recalibration).
 */
#ifndef FER_TRAIN_AVERAGE_H
#define FER_TRAIN_AVERAGE_H

#include "core/status.h"
#include "data/dataset.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "train/ensemble.h"

/*
 * Loads the n models or checkpoints (same architecture and classes) with load (NULL:
 * fer_model_load, files only) and returns in *net (max_batch images) the mean of their
 * parameters and batch-norm statistics, and in meta the first model's metadata with
 * "averaged_from" added and the validation figures removed.
 */
enum fer_status fer_average_models(const char *const *paths, int n, int max_batch,
                                   fer_model_loader load, fer_net **net, struct fer_meta *meta,
                                   char *err);

/*
 * Measures net's batch-norm running statistics again as the plain average
 * over ds (centred views, no augmentation, in batches of the net's max batch,
 * at most max_rows rows; 0 for all), in the net's pool. norm_mean and
 * norm_std are the model's input normalisation.
 */
/*
 * Replaces *net (a model of the 7 FER2013 emotions) by the same network whose
 * softmax adds the disgust probability into angry's: a 6-class model with the
 * same weights (max_batch images), which reads the 7-class model's answers
 * merged. meta gets the 6 class names; a fitted temperature is dropped.
 */
enum fer_status fer_merge_disgust(fer_net **net, struct fer_meta *meta, int max_batch, char *err);

enum fer_status fer_recalibrate_bn(fer_net *net, const fer_dataset *ds, size_t max_rows,
                                   float norm_mean, float norm_std, int progress, char *err);

#endif
