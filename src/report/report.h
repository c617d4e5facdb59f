/*
 * report.h - figures that show how a model behaves, as PNG or SVG files: the class
 * distribution of the data, the confusion matrix (with a colour bar), per-class
 * precision/recall/F1 with true and predicted class counts, a reliability diagram
 * (calibration), a grid of evaluation faces with the model's top two guesses, the most
 * confident mistakes, the feature maps a face produces, training curves from `fer train`
 * logs, and the emotion timeline of a video's faces.
 *
 * The figures take plain arrays (labels, probabilities, counts, activations), so any
 * evaluator can feed them; `fer report` runs the model and draws them all, with an
 * index.html that shows them and the numbers.
 */
#ifndef FER_REPORT_REPORT_H
#define FER_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/net.h"

#define FER_CAL_MAX_BINS 50

/*
 * Where a figure goes: a path ending in .svg is written as SVG (vector; a unit is a pixel at
 * 96 dpi), any other as PNG at dpi (96 or 0: a unit a pixel; 192: twice as many pixels).
 */
struct fer_figure_file {
    const char *path;
    double dpi;
};

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
                                     const char *title, const struct fer_figure_file *out,
                                     char *err);
enum fer_status fer_figure_classes(const size_t *confusion, int k, const char *const *names,
                                   const struct fer_figure_file *out, char *err);
enum fer_status fer_figure_calibration(const struct fer_calibration *cal,
                                       const struct fer_figure_file *out, char *err);
/* pixels: n 48x48 faces. Per true class, a row of its most confident mistakes. */
enum fer_status fer_figure_mistakes(const uint8_t *pixels, const float *probs,
                                    const uint8_t *labels, size_t n, int k,
                                    const char *const *names, int per_class,
                                    const struct fer_figure_file *out, char *err);

/*
 * The faces per class of the evaluation data, and of the training data when train_counts is
 * not NULL, as bars with their counts.
 */
enum fer_status fer_figure_distribution(const size_t *eval_counts, const size_t *train_counts,
                                        int k, const char *const *names, const char *eval_name,
                                        const char *train_name, const struct fer_figure_file *out,
                                        char *err);

/*
 * Up to `max` distinct indices in [0, n), drawn with the seed (the same seed, the same
 * faces), in increasing order. Returns how many (min(max, n)).
 */
size_t fer_select_sample(size_t n, size_t max, uint64_t seed, size_t *idx);

/* The faces idx[0..m) (48x48 pixels) in a grid, each with its true class and the model's two
   likeliest, a wrong first guess marked in red. */
enum fer_status fer_figure_faces(const uint8_t *pixels, const float *probs, const uint8_t *labels,
                                 int k, const char *const *names, const size_t *idx, size_t m,
                                 const struct fer_figure_file *out, char *err);

/* One layer's output for one face: c maps of h x w (borrowed). */
struct fer_feature_layer {
    char name[48]; /* e.g. "layer 1: maxpool" */
    int c, h, w;
    const float *maps;
};

/*
 * Runs net on one 48x48 face (the centre view, normalised with mean and std) and points
 * layers[] at the outputs worth seeing: each pooling layer's and the last of each residual
 * stage (a shortcut that no later shortcut of the same size follows). view receives the
 * network's input window as gray pixels (side x side, the net's input side). Returns how
 * many layers (at most max); they stay valid until net runs again.
 */
int fer_feature_layers_of(fer_net *net, float mean, float std, const uint8_t *face48, uint8_t *view,
                          struct fer_feature_layer *layers, int max);

/*
 * The face (w x h gray pixels, as the network saw it) and, per layer, a row of up to
 * max_maps of its maps (those with the most activation), each scaled to its own range.
 */
enum fer_status fer_figure_feature_maps(const uint8_t *face, int face_w, int face_h,
                                        const char *caption, const struct fer_feature_layer *layers,
                                        int n_layers, int max_maps,
                                        const struct fer_figure_file *out, char *err);

/* ---- the page that shows it all ---------------------------------------------------------- */

struct fer_report_class {
    double precision, recall, f1;
    size_t support;
};

struct fer_report_figure {
    const char *file;    /* in the report's folder */
    const char *title;   /* a heading */
    const char *caption; /* what to look at */
};

struct fer_report_summary {
    const char *name;  /* the model's name */
    const char *model; /* its file */
    const char *data;  /* the evaluation data, as the user should read it */
    const char *tta;
    size_t faces;
    double accuracy, macro_f1, ece;
    int k;
    const char *const *names;
    const struct fer_report_class *classes; /* k of them */
    const struct fer_report_figure *figures;
    int n_figures;
};

/*
 * index.html: the numbers (accuracy, macro-F1, calibration error, per class) and every
 * figure with its caption, in one page with no outside resources (the figures are the
 * folder's files, named relatively, so the folder can be moved or served as it is).
 */
enum fer_status fer_report_write_html(const char *path, const struct fer_report_summary *s,
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
                                  const size_t *stage_starts, int n_stages,
                                  const struct fer_figure_file *out, char *err);

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
                                    const char *title, const struct fer_figure_file *out,
                                    char *err);

#endif
