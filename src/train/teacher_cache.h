/*
 * teacher_cache.h - a teacher's predictions kept on disk between the runs of
 * one training, so that a resumed distillation does not read the whole
 * training set with the teacher again (minutes for FER2013).
 *
 * The file is keyed by what the predictions depend on: the teacher files'
 * hashes, the test-time augmentation and every pixel of the training faces.
 * A file with another key, or a damaged one, is a miss, never an error: the
 * predictions are computed again and the file replaced (atomically).
 *
 * Layout (little-endian): "FERTPRB1", key (32 bytes), u64 faces, u32 classes,
 * faces x classes float32, then the SHA-256 of everything before it.
 */
#ifndef FER_TRAIN_TEACHER_CACHE_H
#define FER_TRAIN_TEACHER_CACHE_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

/* The key of a teacher's predictions on ds (sha256_list: the files' hashes). */
void fer_teacher_cache_key(const char *sha256_list, int tta, const fer_dataset *ds,
                           uint8_t key[32]);

/*
 * Fills probs (ds->n x ds->n_classes) from path when it holds predictions
 * with this key and shape, and returns 1. Returns 0 when there is no file,
 * and -1 when the file cannot be used, with the reason in why (another
 * teacher or data, damaged, not such a file).
 */
int fer_teacher_cache_read(const char *path, const uint8_t key[32], const fer_dataset *ds,
                           float *probs, char *why);

/* Writes the predictions to path (through "<path>.tmp", then renamed). */
enum fer_status fer_teacher_cache_write(const char *path, const uint8_t key[32],
                                        const fer_dataset *ds, const float *probs, char *err);

#endif
