/*
 * metrics.h - classification metrics from a confusion matrix.
 *
 * confusion[t * n + p] counts faces of true class t predicted as p. From it:
 * accuracy, per-class precision, recall and F1, and macro-F1 (the mean F1
 * over classes, which weighs the rare disgust class as much as happy).
 */
#ifndef FER_TRAIN_METRICS_H
#define FER_TRAIN_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "data/dataset.h"

struct fer_class_metrics {
    double precision, recall, f1;
    size_t support; /* faces of this class */
};

struct fer_metrics {
    int n_classes;
    size_t total;
    size_t confusion[FER_MAX_CLASSES * FER_MAX_CLASSES];
    double loss; /* mean cross-entropy against the hard labels */
    double accuracy;
    double macro_f1;
    struct fer_class_metrics per_class[FER_MAX_CLASSES];
};

void fer_metrics_init(struct fer_metrics *m, int n_classes);
void fer_metrics_add(struct fer_metrics *m, int truth, int predicted);
/* Computes accuracy, precision, recall, F1 and macro-F1 from the counts. */
void fer_metrics_finish(struct fer_metrics *m);

/* A human-readable report: accuracy, per-class table, confusion matrix. */
void fer_metrics_print(const struct fer_metrics *m, const char *const *names, FILE *out);
/*
 * One JSON object: {"accuracy":..,"macro_f1":..,"loss":..,"total":..,
 * "per_class":{"angry":{"precision":..,"recall":..,"f1":..,"support":..},..},
 * "classes":[..], "confusion":[[..],..]} (rows are true classes).
 */
void fer_metrics_print_json(const struct fer_metrics *m, const char *const *names, FILE *out);

#endif
