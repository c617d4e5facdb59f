/*
 * report.h - figures that show how a model behaves, as PNG files: the
 * confusion matrix, per-class precision/recall/F1 with true and predicted
 * class counts, a reliability diagram (calibration), a grid of the most
 * confident mistakes, training curves from `fer train` logs, and the emotion timeline of
 * a video's faces.
 *
 * The figures take plain arrays (labels, probabilities, counts), so any
 * evaluator can feed them; `fer report` runs the model and draws them all.
 */
#ifndef FER_REPORT_REPORT_H
#define FER_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define FER_CAL_MAX_BINS 50

/* Confidence (the top probability) against accuracy, in equal-width bins. */
struct fer_calibration {
    int bins;
    size_t total;
    size_t count[FER_CAL_MAX_BINS];
    double confidence[FER_CAL_MAX_BINS]; /* mean top probability of the faces in the bin */
    double accuracy[FER_CAL_MAX_BINS];   /* fraction of them read right */
    double ece; /* expected calibration error: sum of count/total * |accuracy - confidence| */
};

/* probs: n x k; labels: n. bins in [1, FER_CAL_MAX_BINS] (clamped). */
void fer_calibration_compute(const float *probs, const uint8_t *labels, size_t n, int k, int bins,
                             struct fer_calibration *out);

/*
 * Up to max indices of faces of class `truth` that the model read wrong,
 * most confident first (ties: lower index first). Returns how many.
 */
size_t fer_select_mistakes(const float *probs, const uint8_t *labels, size_t n, int k, int truth,
                           size_t max, size_t *idx);

/* confusion: k x k counts, rows true classes, columns predictions. */
enum fer_status fer_figure_confusion(const size_t *confusion, int k, const char *const *names,
                                     const char *title, const char *path, char *err);
enum fer_status fer_figure_classes(const size_t *confusion, int k, const char *const *names,
                                   const char *path, char *err);
enum fer_status fer_figure_calibration(const struct fer_calibration *cal, const char *path,
                                       char *err);
/* pixels: n 48x48 faces. Per true class, a row of its most confident mistakes. */
enum fer_status fer_figure_mistakes(const uint8_t *pixels, const float *probs,
                                    const uint8_t *labels, size_t n, int k,
                                    const char *const *names, int per_class, const char *path,
                                    char *err);

/* One line of a `fer train` log. */
struct fer_log_epoch {
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, lr;
};

/*
 * Appends the epochs of a JSONL training log to *epochs (realloc'd; *n
 * counts them). A line without "epoch" or "val_acc" is an error naming the
 * file and line.
 */
enum fer_status fer_log_read(const char *path, struct fer_log_epoch **epochs, size_t *n, char *err);
/* Curves of n epochs; stage_starts[i] is the index where stage i+2 begins (dashed line). */
enum fer_status fer_figure_curves(const struct fer_log_epoch *epochs, size_t n,
                                  const size_t *stage_starts, int n_stages, const char *path,
                                  char *err);

/* One face's course through a video (fer video's tracks): n samples of its time and its k
 * smoothed probabilities (row stride FER_MAX_CLASSES), and the frames it spent in each top
 * emotion. */
struct fer_track_history {
    int id;
    size_t n;
    double *times;
    float *probs;
    long top_frames[FER_MAX_CLASSES];
};

/*
 * The emotion timeline of a video: for each track (the longest max_tracks), its
 * probabilities over time as stacked bands, beside a bar of the share of its frames per top
 * emotion with the dominant one named. duration: the video's length in seconds (the common
 * time axis).
 */
enum fer_status fer_figure_timeline(const struct fer_track_history *tracks, size_t n, int k,
                                    const char *const *names, double duration, int max_tracks,
                                    const char *title, const char *path, char *err);

#endif
