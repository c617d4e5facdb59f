/*
 * calibrate.h - temperature scaling (Guo et al., "On Calibration of Modern
 * Neural Networks", 2017): one number T that makes a model's probabilities
 * say how often it is right, without changing which class it picks.
 *
 * Trained with label smoothing, soft teacher targets and weight averaging,
 * fer's models are under-confident (they are right more often than their top
 * probability says); T < 1 sharpens them, T > 1 softens an over-confident
 * model. T is fitted on held-out faces by minimising the negative
 * log-likelihood of p^(1/T), renormalised, and stored in the model file as
 * "temperature"; inference applies it (see fer_net_temperature).
 */
#ifndef FER_TRAIN_CALIBRATE_H
#define FER_TRAIN_CALIBRATE_H

#include "core/status.h"
#include "data/dataset.h"

/* The range T is searched in. */
#define FER_FIT_TEMPERATURE_MIN 0.05
#define FER_FIT_TEMPERATURE_MAX 20.0

struct fer_temperature_fit {
    float temperature;
    double nll_before; /* mean -log p(true class) at T = 1 */
    double nll_after;  /* ... at the fitted T */
};

/*
 * Fits T to probs (ds->n x ds->n_classes, uncalibrated, after test-time
 * views are averaged) against ds's hard labels. The negative log-likelihood
 * is convex in 1/T, so a golden-section search finds its minimum.
 */
enum fer_status fer_fit_temperature(const float *probs, const fer_dataset *ds,
                                    struct fer_temperature_fit *fit, char *err);

#endif
