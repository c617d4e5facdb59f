/* log.c - formatting messages for a caller's fer_log_fn, and the stderr one (see log.h). */
#include "core/log.h"

#include <stdio.h>

#include "core/alloc.h"

void fer_logv(fer_log_fn *fn, void *ctx, enum fer_log_level level, const char *fmt, va_list ap)
{
    if (!fn)
        return;
    char buf[1024];
    va_list again;
    va_copy(again, ap);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    char *message = buf;
    if (len >= (int)sizeof(buf)) { /* long paths: the whole message, or else the cut one */
        char *big = fer_malloc((size_t)len + 1);
        if (big) {
            vsnprintf(big, (size_t)len + 1, fmt, again);
            message = big;
        }
    }
    va_end(again);
    fn(ctx, level, len < 0 ? "" : message);
    if (message != buf)
        fer_free(message);
}

void fer_logf(fer_log_fn *fn, void *ctx, enum fer_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fer_logv(fn, ctx, level, fmt, ap);
    va_end(ap);
}

void fer_log_stderr(void *ctx, enum fer_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "%s\n", message);
}
