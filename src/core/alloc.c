/* alloc.c - checked allocation and the fault-injection counter used by tests. */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

void fer_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

/* Returns 1 when the injected failure fires. */
static int injected_failure(void)
{
    long n = atomic_load(&fail_countdown);
    if (n < 0)
        return 0;
    if (n == 0) {
        atomic_store(&fail_countdown, -1);
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

int fer_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *fer_malloc(size_t size)
{
    if (injected_failure())
        return NULL;
    return malloc(size ? size : 1);
}

void *fer_calloc(size_t count, size_t size)
{
    size_t total;
    if (!fer_size_mul(count, size, &total) || injected_failure())
        return NULL;
    return calloc(total ? total : 1, 1);
}

void *fer_realloc(void *ptr, size_t size)
{
    if (injected_failure())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void *fer_alloc_aligned(size_t count, size_t size)
{
    size_t total;
    if (!fer_size_mul(count, size, &total) || injected_failure())
        return NULL;
    total = (total + 63) / 64 * 64;
    void *p = aligned_alloc(64, total ? total : 64);
    if (p)
        memset(p, 0, total ? total : 64);
    return p;
}

void fer_free(void *ptr)
{
    free(ptr);
}

char *fer_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fer_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
