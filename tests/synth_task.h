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

#endif
