/* status.c - status strings and the error-message helper. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *fer_status_str(enum fer_status st)
{
    switch (st) {
    case FER_OK:
        return "ok";
    case FER_ERR_NOMEM:
        return "out of memory";
    case FER_ERR_IO:
        return "input/output error";
    case FER_ERR_FORMAT:
        return "malformed input";
    case FER_ERR_ARG:
        return "invalid argument";
    case FER_ERR_CORRUPT:
        return "corrupt data";
    case FER_ERR_VERSION:
        return "unsupported version";
    case FER_ERR_LIMIT:
        return "limit exceeded";
    case FER_ERR_STATE:
        return "invalid state";
    }
    return "unknown status";
}

enum fer_status fer_errorf(char *err, enum fer_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, FER_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return st;
}
