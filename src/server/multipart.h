/*
 * multipart.h - a parser for multipart/form-data bodies (RFC 7578, RFC 2046 section 5.1)
 * held whole in memory, as the server buffers each request body up to its upload limit.
 */
#ifndef FER_SERVER_MULTIPART_H
#define FER_SERVER_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define FER_MULTIPART_MAX_PARTS 16

struct fer_multipart_part {
    char name[64];          /* the form field's name (truncated), "" when none */
    char filename[256];     /* the file name a browser sent (truncated), "" when none */
    char content_type[128]; /* the part's Content-Type (truncated), "" when none */
    const uint8_t *data;    /* borrowed from the body passed to fer_multipart_parse */
    size_t len;
};

/*
 * Copies the boundary parameter of a multipart Content-Type header value into boundary
 * (1 to 70 characters, quotes removed). FER_ERR_FORMAT when there is none or it is malformed.
 */
enum fer_status fer_multipart_boundary(const char *content_type, char boundary[72], char *err);

/*
 * Splits body (len bytes) into its parts; content_type is the request's Content-Type header
 * value, which names the boundary. parts receives up to FER_MULTIPART_MAX_PARTS parts and
 * *n_parts their count; their data point into body. FER_ERR_FORMAT for a body that does not
 * start with a delimiter, a part without its blank line or ending delimiter, or more parts
 * than fit; the message says which.
 */
enum fer_status fer_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
                                    struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS],
                                    size_t *n_parts, char *err);

#endif
