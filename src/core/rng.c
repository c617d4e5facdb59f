/* rng.c - xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fer_rng_seed(fer_rng *rng, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = seed;
    /* Mix each stream id through its own splitmix round so that (1,2) != (2,1). */
    x = splitmix64(&x) ^ a;
    x = splitmix64(&x) ^ b;
    x = splitmix64(&x) ^ c;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t fer_rng_u64(fer_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float fer_rng_uniform(fer_rng *rng)
{
    return (float)(fer_rng_u64(rng) >> 40) * (1.0f / 16777216.0f);
}

float fer_rng_range(fer_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * fer_rng_uniform(rng);
}

uint64_t fer_rng_below(fer_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = fer_rng_u64(rng);
    } while (r >= limit);
    return r % n;
}

float fer_rng_normal(fer_rng *rng)
{
    double u1 = ((double)(fer_rng_u64(rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(fer_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void fer_rng_shuffle(fer_rng *rng, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)fer_rng_below(rng, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
