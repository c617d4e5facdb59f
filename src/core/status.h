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

/* enum fer_status, FER_ERR_LEN and fer_status_str are public: they live in fer.h. */
#include "fer.h"

/*
 * Formats a message into err (FER_ERR_LEN bytes; NULL is allowed and ignored)
 * and returns st, so that `return fer_errorf(err, FER_ERR_IO, "...", ...)` reads
 * naturally.
 */
enum fer_status fer_errorf(char *err, enum fer_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
