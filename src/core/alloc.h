/*
 * alloc.h - checked allocation with a fault-injection hook for tests.
 *
 * fer_malloc/fer_calloc/fer_realloc return NULL on failure (never abort) and
 * guard the size multiplication against overflow. Tests call
 * fer_alloc_fail_after(n) to make the (n+1)-th allocation from now fail, and
 * check that every caller cleans up and reports FER_ERR_NOMEM.
 */
#ifndef FER_CORE_ALLOC_H
#define FER_CORE_ALLOC_H

#include <stddef.h>

void *fer_malloc(size_t size);
void *fer_calloc(size_t count, size_t size);
void *fer_realloc(void *ptr, size_t size);
/* Allocation aligned to 64 bytes (a cache line, an AVX-512 vector); free with fer_free. */
void *fer_alloc_aligned(size_t count, size_t size);
void fer_free(void *ptr);
char *fer_strdup(const char *s);

/* Multiplies a*b (and c) into *out; returns 0 if it overflowed size_t. */
int fer_size_mul(size_t a, size_t b, size_t *out);

/* Fault injection: fail after n more successful allocations; -1 disables. */
void fer_alloc_fail_after(long n);

#endif
