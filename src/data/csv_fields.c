/*
 * csv_fields.c - byte ranges, Usage names and quoting for the CSV readers.
 */
#include "data/csv_fields.h"

#include <string.h>

#include "data/dataset.h"

struct fer_span fer_span_trim(struct fer_span s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

int fer_span_usage(struct fer_span s)
{
    for (int u = 0; u < FER_USAGE_COUNT; u++) {
        const char *name = fer_usage_name((enum fer_usage)u);
        if (s.n == strlen(name) && memcmp(s.p, name, s.n) == 0)
            return u;
    }
    return -1;
}

const char *fer_csv_show(char out[32], const char *p, size_t n)
{
    size_t k = 0;
    for (; k < n && k < 24; k++)
        out[k] = p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?';
    if (k < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}
