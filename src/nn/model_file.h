/*
 * model_file.h - the .fer model file: versioned, checksummed, self-describing.
 *
 * Layout (all integers little-endian):
 *
 *     "FERMODEL"              8 bytes magic
 *     u32 version             FER_MODEL_VERSION
 *     u32 section count
 *     per section: char name[16] (NUL-padded), u64 size, then size bytes
 *     SHA-256 of everything above, 32 bytes
 *
 * Sections: "meta" (text, key=value lines: name, classes, input size,
 * normalisation, how it was trained), "arch" (the architecture spec text),
 * "params" and "buffers" (float32), and in checkpoints "optim" (float32
 * optimizer moments) and "trainer" (text: epoch, step, schedule state).
 * Unknown sections are skipped, so later versions can add them. A wrong
 * magic, version, size or checksum is a clear error, never a crash.
 */
#ifndef FER_NN_MODEL_FILE_H
#define FER_NN_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/net.h"

#define FER_MODEL_VERSION 1
#define FER_META_MAX      128 /* a checkpoint's trainer state holds about 40 keys, a model's 45 */

/*
 * Ordered key=value text metadata; keys and values are owned copies.
 *
 * A set that fails (more than FER_META_MAX keys, out of memory, a key that could not be read
 * back) is remembered until fer_meta_clear, so that callers may ignore the status of each set:
 * fer_model_save refuses such metadata, naming the lost key, rather than write a file without it.
 */
struct fer_meta {
    int n;
    char *key[FER_META_MAX];
    char *value[FER_META_MAX];
    enum fer_status lost; /* FER_OK, or why the first failed set failed */
    char lost_key[64];    /* its key (cut if longer) */
};

/*
 * Sets (or replaces) key; value must not contain a newline (replaced by spaces). A key must be
 * non-empty without '=' or a line break (FER_ERR_ARG). Failures are also recorded in m.
 */
enum fer_status fer_meta_set(struct fer_meta *m, const char *key, const char *value);
enum fer_status fer_meta_setf(struct fer_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * FER_OK when every set on m succeeded; otherwise that status and, in err, "metadata key 'x'
 * was not stored: ..." (what, e.g. "model" or "trainer", may be NULL, names the metadata).
 */
enum fer_status fer_meta_check(const struct fer_meta *m, const char *what, char *err);
/* Removes key, if present. */
void fer_meta_unset(struct fer_meta *m, const char *key);
/*
 * Forgets a calibration: the net's temperature back to 1 and the metadata's
 * "temperature" and "temperature_fitted_on" removed. For models made from
 * another's weights (a fine-tune, an average), which the fit does not describe.
 */
void fer_model_uncalibrate(fer_net *net, struct fer_meta *m);
/* Borrowed value or NULL. */
const char *fer_meta_get(const struct fer_meta *m, const char *key);
/* Frees every key and value and forgets a failed set: m is empty and usable again. */
void fer_meta_clear(struct fer_meta *m);

/* What a checkpoint adds to a model; all fields optional (NULL / 0). */
struct fer_checkpoint_extra {
    struct fer_meta *trainer; /* epoch, step, schedule state, ... */
    float *optim;             /* save: borrowed; load: owned by the caller afterwards */
    size_t n_optim;
};

/*
 * Saves net and meta (which must hold "classes", or "task=detect") to path, atomically: the
 * file is written beside it, flushed and renamed over it. extra may be NULL.
 * Metadata (meta or extra->trainer) that lost a key (fer_meta_check) is refused.
 */
enum fer_status fer_model_save(const char *path, fer_net *net, const struct fer_meta *meta,
                               const struct fer_checkpoint_extra *extra, char *err);

/* What a caller can use: fer_model_load and fer_model_load_memory want a classifier. */
enum fer_model_kind { FER_MODEL_CLASSIFIER, FER_MODEL_DETECTOR, FER_MODEL_ANY };

/*
 * Loads a model file into a new net with activations for max_batch images.
 * meta receives the metadata (caller clears it). extra may be NULL; if given,
 * its trainer meta and optim array are filled when present.
 */
enum fer_status fer_model_load(const char *path, int max_batch, fer_net **net,
                               struct fer_meta *meta, struct fer_checkpoint_extra *extra,
                               char *err);
/* The same from bytes in memory (a model built into the binary); name labels errors. */
enum fer_status fer_model_load_memory(const uint8_t *data, size_t size, const char *name,
                                      int max_batch, fer_net **net, struct fer_meta *meta,
                                      struct fer_checkpoint_extra *extra, char *err);
/* The same for a file of the given kind; another kind is refused with a message saying so. */
enum fer_status fer_model_load_as(const char *path, enum fer_model_kind kind, int max_batch,
                                  fer_net **net, struct fer_meta *meta,
                                  struct fer_checkpoint_extra *extra, char *err);
enum fer_status fer_model_load_memory_as(const uint8_t *data, size_t size, const char *name,
                                         enum fer_model_kind kind, int max_batch, fer_net **net,
                                         struct fer_meta *meta, struct fer_checkpoint_extra *extra,
                                         char *err);

/*
 * The input normalisation a model was trained with, x = (pixel/255 - mean) / std, from meta
 * "input_mean" and "input_std". Returns 1 when both are there and std > 0; otherwise sets
 * mean 0.5, std 0.25 and returns 0.
 */
int fer_meta_norm(const struct fer_meta *m, float *mean, float *std);

/*
 * 1 when meta says "task=detect": a detector's file (nn/net.h's net without classes), which
 * has no "classes"; every other model file is a classifier and needs them.
 */
int fer_meta_is_detector(const struct fer_meta *m);

/* Parses meta "classes" ("angry,disgust,...") into names[16][16]; returns the count or -1. */
int fer_meta_classes(const struct fer_meta *m, char names[][16], int max);

#endif
