/*
 * dataset.h - FER2013 faces in memory, their labels, and how they are read.
 *
 * A fer_dataset holds n grayscale 48x48 faces (uint8, row-major), a hard label
 * per face and optionally a soft target distribution per face (FER+ votes).
 * Files are read in the original FER2013 CSV format, plain or gzip:
 *
 *     emotion,pixels,Usage
 *     0,70 80 82 72 ...,Training
 *
 * Class ids follow FER2013: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad,
 * 5 surprise, 6 neutral. With 6 classes disgust is merged into angry and the
 * ids become 0 angry, 1 fear, 2 happy, 3 sad, 4 surprise, 5 neutral.
 */
#ifndef FER_DATA_DATASET_H
#define FER_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/classes.h" /* FER_FACE_PIXELS, fer_class_names, fer_class_merged */
#include "core/status.h"

enum fer_usage {
    FER_USAGE_TRAINING = 0,
    FER_USAGE_PUBLIC_TEST = 1,
    FER_USAGE_PRIVATE_TEST = 2,
};
#define FER_USAGE_COUNT 3

/* "Training", "PublicTest", "PrivateTest". */
const char *fer_usage_name(enum fer_usage u);

/* --usage values besides the three usages: every row, and "not given". */
#define FER_USAGE_ALL   (-1)
#define FER_USAGE_UNSET (-2)

/*
 * Parses a --usage value: a usage name in any case ("training", "PublicTest"),
 * or "all" (FER_USAGE_ALL). Returns FER_USAGE_UNSET for anything else.
 */
int fer_usage_parse(const char *s);

/* Where labels come from (`--labels`). */
enum fer_label_source {
    FER_LABELS_FER2013 = 0,          /* the original FER2013 label */
    FER_LABELS_FERPLUS_MAJORITY = 1, /* the FER+ crowd majority, as a hard label */
    FER_LABELS_FERPLUS_SOFT = 2,     /* the FER+ vote distribution, as soft targets */
    FER_LABELS_BLEND = 3, /* the FER2013 label, with a target blended with the FER+ votes */
};
/* Parses "fer2013", "ferplus-majority", "ferplus-soft", "fer2013+ferplus"; -1 if unknown. */
const char *fer_label_source_name(enum fer_label_source s);
/* The FER+ share of a FER_LABELS_BLEND target unless one is given. */
#define FER_FERPLUS_WEIGHT_DEFAULT 0.5f
int fer_label_source_parse(const char *s);

typedef struct fer_dataset {
    size_t n;
    int n_classes;        /* 7 or 6 */
    uint8_t *pixels;      /* n * FER_FACE_PIXELS */
    uint8_t *labels;      /* n hard labels in [0, n_classes) */
    uint8_t *usage;       /* n values of enum fer_usage */
    uint32_t *usage_rank; /* n: index of the row among the file's rows of the same usage */
    float *soft;          /* n * n_classes target distributions summing to 1, or NULL */
} fer_dataset;

struct fer_read_options {
    int skip_bad_rows; /* 1: skip malformed rows and count them; 0: fail on the first one */
    int usage;         /* keep only rows of this enum fer_usage; -1 keeps all */
    size_t max_rows;   /* stop after this many kept rows; 0 means no limit */
};

/*
 * Reads a FER2013 CSV file (plain or gzip, detected from content). A
 * malformed row (wrong pixel count, value over 255, unknown label or usage,
 * broken quoting), a bad header or a truncated gzip stream fails with
 * FER_ERR_FORMAT and a message naming the file and line, unless
 * skip_bad_rows is set, in which case the row is skipped and counted in
 * *n_skipped (may be NULL). A truncated gzip stream is always an error.
 * The caller owns *out and frees it with fer_dataset_free.
 */
enum fer_status fer_dataset_read_csv(const char *path, const struct fer_read_options *opt,
                                     fer_dataset **out, size_t *n_skipped, char *err);

/*
 * Writes rows [the ones whose usage matches `usage`, or all if -1] in FER2013
 * CSV format; gzip-compressed when path ends in ".gz". Writes to a temporary
 * file and renames, so a failed write never leaves a half file behind.
 */
enum fer_status fer_dataset_write_csv(const fer_dataset *ds, const char *path, int usage,
                                      char *err);

/*
 * What fer_dataset_pick_usage did: when it dropped rows, `kept` names the usage
 * whose rows stayed ("PublicTest") and `note` says so in a sentence, e.g.
 * "fer2013.csv mixes Training (28709), PublicTest (3589) and PrivateTest
 * (3589) rows: using the 3589 PublicTest rows". When the file was kept whole,
 * kept is NULL and note is "".
 */
struct fer_usage_pick {
    const char *kept;
    char note[FER_ERR_LEN];
};

/*
 * Chooses the rows of a file to use. The original fer2013.csv mixes three
 * usages in one file; the files `fer prepare` writes hold one each.
 *   usage an enum fer_usage: keeps that usage's rows (none is an error);
 *   FER_USAGE_ALL:           keeps every row;
 *   FER_USAGE_UNSET:         a file of one usage is kept whole, and a mixed
 *                            file keeps the rows of `fallback` (the usage the
 *                            data's role calls for: Training to train on,
 *                            PublicTest to select and score models).
 * pick (may be NULL) says what was kept.
 */
enum fer_status fer_dataset_pick_usage(fer_dataset *ds, const char *path, int usage, int fallback,
                                       struct fer_usage_pick *pick, char *err);

/* Merges disgust into angry: 7 classes -> 6 (labels and soft targets). */
enum fer_status fer_dataset_merge_disgust(fer_dataset *ds, char *err);
/*
 * Reads a FER2013 CSV for a model with `classes` outputs: with 6, disgust is
 * merged into angry. Malformed rows are errors. `usage`, `fallback` and pick
 * choose the rows as fer_dataset_pick_usage does.
 */
enum fer_status fer_dataset_read_for_model(const char *path, int classes, int usage, int fallback,
                                           fer_dataset **out, struct fer_usage_pick *pick,
                                           char *err);
/*
 * Removes from ds the faces whose exact pixels also occur in the CSV at
 * other_path (FER2013 has 280 PublicTest faces duplicated in Training);
 * *removed counts them. Of a file that mixes usages (the original
 * fer2013.csv), only the Training rows count.
 */
enum fer_status fer_dataset_drop_overlap(fer_dataset *ds, const char *other_path, size_t *removed,
                                         char *err);

/*
 * Replaces the labels with FER+ votes read from fer2013new.csv. Rows are
 * aligned by usage and rank: the k-th Training row of ds matches the k-th
 * Training row of the FER+ file (the files keep the original row order).
 * ds must have 7 classes (merge afterwards). With drop_unusable, rows that
 * FER+ excluded (empty image name) or whose votes are mostly "unknown" or
 * "not a face", or that have no emotion votes, are removed and counted in
 * *n_dropped; otherwise such rows keep their FER2013 label.
 */
enum fer_status fer_dataset_apply_ferplus(fer_dataset *ds, const char *ferplus_path,
                                          enum fer_label_source source, int drop_unusable,
                                          size_t *n_dropped, char *err);

/*
 * FER_LABELS_BLEND: keeps the FER2013 labels (so accuracy is still measured
 * against them) and sets each face's soft target to
 * (1 - weight) * one-hot(FER2013 label) + weight * FER+ vote distribution.
 * Faces FER+ finds unusable keep the one-hot target (or are dropped, as
 * above). weight in [0, 1]; 0 gives one-hot targets, 1 the FER+ votes alone.
 */
enum fer_status fer_dataset_blend_ferplus(fer_dataset *ds, const char *ferplus_path, float weight,
                                          int drop_unusable, size_t *n_dropped, char *err);

/* Keeps only the rows with keep[i] != 0, in order. */
enum fer_status fer_dataset_filter(fer_dataset *ds, const uint8_t *keep, char *err);

/* Per-class counts of hard labels into counts[0..n_classes). */
void fer_dataset_class_counts(const fer_dataset *ds, size_t *counts);

/* Mean and standard deviation of all pixels, scaled to [0, 1]. */
void fer_dataset_pixel_stats(const fer_dataset *ds, float *mean, float *std);

void fer_dataset_free(fer_dataset *ds);

#endif
