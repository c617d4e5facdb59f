/*
 * log.h - messages from library code, passed to a caller-provided function.
 *
 * Library code never writes to stderr itself: a long operation (a training run) takes a
 * fer_log_fn and its context, and a NULL function means silence. The command line passes
 * fer_log_stderr, which prints each message as one line.
 */
#ifndef FER_CORE_LOG_H
#define FER_CORE_LOG_H

#include <stdarg.h>

enum fer_log_level {
    FER_LOG_INFO, /* what a run is doing: the data read, each epoch, the result */
    FER_LOG_WARN, /* something the user may want to fix: skipped rows, say */
};

/* Receives one message: a single line without its newline, valid only during the call. */
typedef void fer_log_fn(void *ctx, enum fer_log_level level, const char *message);

/* Formats a message and passes it to fn(ctx, ...); does nothing when fn is NULL. */
void fer_logf(fer_log_fn *fn, void *ctx, enum fer_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fer_logv(fer_log_fn *fn, void *ctx, enum fer_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* A fer_log_fn that writes the message and a newline to stderr (ctx is unused). */
void fer_log_stderr(void *ctx, enum fer_log_level level, const char *message);

#endif
