/*
 * rng.h - seeded, reproducible random numbers (xoshiro256**, seeded by splitmix64).
 *
 * fer never uses rand() or global random state. Every random decision (shuffle
 * order, augmentation of image i in epoch e, a dropout mask) draws from a
 * generator seeded by fer_rng_seed(seed, stream...), so results do not depend
 * on thread scheduling and a resumed run continues exactly.
 */
#ifndef FER_CORE_RNG_H
#define FER_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fer_rng {
    uint64_t s[4];
} fer_rng;

/* Seeds from a base seed and up to three stream identifiers (epoch, index, ...). */
void fer_rng_seed(fer_rng *rng, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t fer_rng_u64(fer_rng *rng);
/* Uniform in [0, 1). */
float fer_rng_uniform(fer_rng *rng);
/* Uniform in [lo, hi). */
float fer_rng_range(fer_rng *rng, float lo, float hi);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t fer_rng_below(fer_rng *rng, uint64_t n);
/* Standard normal (Box-Muller). */
float fer_rng_normal(fer_rng *rng);
/* Fisher-Yates shuffle of idx[0..n). */
void fer_rng_shuffle(fer_rng *rng, uint32_t *idx, size_t n);

#endif
