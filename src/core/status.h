/*
 * status.h - the one error enum of fer, and the convention for error messages.
 *
 * Every fallible function returns an enum fer_status (FER_OK == 0, errors are
 * negative) and, when it takes one, writes a human-readable message into a
 * caller-provided buffer of FER_ERR_LEN bytes. The message is written once,
 * where the error is found; callers pass the status on unchanged.
 */
#ifndef FER_CORE_STATUS_H
#define FER_CORE_STATUS_H

#include <stddef.h>

#define FER_ERR_LEN 512

enum fer_status {
    FER_OK = 0,
    FER_ERR_NOMEM = -1,   /* an allocation failed */
    FER_ERR_IO = -2,      /* open/read/write failed */
    FER_ERR_FORMAT = -3,  /* input is malformed (file, CSV row, spec, request) */
    FER_ERR_ARG = -4,     /* a caller or user passed an invalid argument */
    FER_ERR_CORRUPT = -5, /* checksum or structural check failed */
    FER_ERR_VERSION = -6, /* a file of an unsupported version */
    FER_ERR_LIMIT = -7,   /* a size limit was exceeded */
    FER_ERR_STATE = -8,   /* an operation was called in the wrong state */
};

/* A short static description of a status, e.g. "malformed input". */
const char *fer_status_str(enum fer_status st);

/*
 * Formats a message into err (FER_ERR_LEN bytes; NULL is allowed and ignored)
 * and returns st, so that `return fer_errorf(err, FER_ERR_IO, "...", ...)` reads
 * naturally.
 */
enum fer_status fer_errorf(char *err, enum fer_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
