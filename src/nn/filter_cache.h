/*
 * filter_cache.h - a layer's weights as one of fer's own kernels wants them
 * (Winograd-transformed and packed, winograd.h, or packed, small_gemm.h),
 * kept between passes and made again when the weights change. Internal to nn/.
 *
 * The net counts weight changes in a generation that fer_net_init_weights and
 * fer_net_weights_changed move, and nothing else: a cache made at the current
 * generation is reused. Whoever writes weights must say so, or forward passes
 * go on, silently, with the old filters. Builds with FER_CHECK_CACHE (the
 * sanitizer builds, where the tests run) catch that: each cache keeps a hash
 * of the weights it was made from, compared on every reuse. Other builds skip
 * the hashing, which would cost training about 1% (the caches are made again
 * after every step).
 */
#ifndef FER_NN_FILTER_CACHE_H
#define FER_NN_FILTER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#ifndef FER_CHECK_CACHE
#if defined(__SANITIZE_ADDRESS__)
#define FER_CHECK_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FER_CHECK_CACHE 1
#endif
#endif
#endif

struct fer_filter_cache {
    float *filters;  /* NULL until first needed; freed with fer_free */
    uint64_t gen;    /* the net's weights generation they were made at */
    uint64_t w_hash; /* FER_CHECK_CACHE: fer_weights_hash of the weights they were made from */
};

/* A 64-bit hash of n floats' bit patterns (FNV-1a): any write to them changes it. */
uint64_t fer_weights_hash(const float *w, size_t n);

/*
 * 1 when c holds filters made at weights generation gen, which the caller
 * then uses; 0 when it must make them (fer_filter_cache_made). With
 * FER_CHECK_CACHE, a reuse first checks the n weights at w with
 * fer_filter_cache_stale and aborts with a message when they were written
 * without fer_net_weights_changed: a programmer's mistake, never bad input.
 */
int fer_filter_cache_fresh(const struct fer_filter_cache *c, const float *w, size_t n,
                           uint64_t gen);
/* Records that c->filters were just made from the n weights at w, at generation gen. */
void fer_filter_cache_made(struct fer_filter_cache *c, const float *w, size_t n, uint64_t gen);
/* 1 when c holds filters made at generation gen from weights other than the n floats at w
 * now; always 0 without FER_CHECK_CACHE, which keeps no hash to compare. */
int fer_filter_cache_stale(const struct fer_filter_cache *c, const float *w, size_t n,
                           uint64_t gen);

#endif
