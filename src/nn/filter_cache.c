/* filter_cache.c - when a layer's cached filters may be reused (see filter_cache.h). */
#include "nn/filter_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t fer_weights_hash(const float *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &w[i], sizeof(bits));
        h = (h ^ bits) * 0x100000001b3u;
    }
    return h;
}

int fer_filter_cache_stale(const struct fer_filter_cache *c, const float *w, size_t n, uint64_t gen)
{
#ifdef FER_CHECK_CACHE
    return c->filters && c->gen == gen && c->w_hash != fer_weights_hash(w, n);
#else
    (void)c;
    (void)w;
    (void)n;
    (void)gen;
    return 0;
#endif
}

int fer_filter_cache_fresh(const struct fer_filter_cache *c, const float *w, size_t n, uint64_t gen)
{
    if (!c->filters || c->gen != gen)
        return 0;
    if (fer_filter_cache_stale(c, w, n, gen)) {
        fprintf(stderr, "fer: weights were written without fer_net_weights_changed: the cached "
                        "filters of a convolution are stale\n");
        abort();
    }
    return 1;
}

void fer_filter_cache_made(struct fer_filter_cache *c, const float *w, size_t n, uint64_t gen)
{
    c->gen = gen;
#ifdef FER_CHECK_CACHE
    c->w_hash = fer_weights_hash(w, n);
#else
    (void)w;
    (void)n;
#endif
}
