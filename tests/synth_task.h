/*
 * synth_task.h - a small synthetic face task for training tests: a bright
 * blob sits in one of three places, and its place is the class (FER2013
 * labels 0, 3 and 6: angry, happy, neutral). Easy to learn, with noise, so a
 * tiny net reaches over 90% in a few epochs on one core.
 */
#ifndef FER_TESTS_SYNTH_TASK_H
#define FER_TESTS_SYNTH_TASK_H

#include <stddef.h>
#include <stdint.h>

/* Writes n faces as a FER2013 CSV (all Training rows), the same for the same seed. */
void synth_task_write_csv(const char *path, size_t n, uint64_t seed);

/* Writes a tiny architecture spec (one strided conv, pool, dropout, dense) for the task. */
void synth_task_write_arch(const char *path);

/*
 * In the test program's temporary folder (tmp_dir.h): train.csv (96 faces,
 * seed 1), val.csv (48 faces, seed 2) and tiny.cfg; their paths go to the
 * three buffers of n bytes each.
 */
void synth_task_make_files(char *train_csv, char *val_csv, char *arch, size_t n);

struct fer_train_config;
/*
 * A quick recipe for the task: AdamW 3e-3, 3 epochs, batch 16, seed 5, one
 * thread, no progress bars, small rotations and no flips (the classes differ
 * by left and right), training on train_csv, validating on val_csv.
 */
void synth_task_config(struct fer_train_config *c, const char *train_csv, const char *val_csv,
                       const char *arch, const char *out);

#endif
