/*
 * base64.h - base64 (RFC 4648, section 4: the standard alphabet with '+' and '/') for the
 * JSON bodies of the REST API: images sent as {"image_base64": ...} and PNGs sent back.
 */
#ifndef FER_SERVER_BASE64_H
#define FER_SERVER_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/*
 * Decodes n characters of s. Whitespace is skipped, '=' padding is optional, the URL-safe
 * letters '-' and '_' are accepted for '+' and '/', and a data-URL prefix such as
 * "data:image/png;base64," is skipped, so what a browser's FileReader gives works as is.
 * Decoding stops with FER_ERR_FORMAT at any other character, or FER_ERR_LIMIT when the
 * result would pass max_out bytes. On success *out (fer_malloc, the caller frees it with
 * fer_free) holds *out_len bytes.
 */
enum fer_status fer_base64_decode(const char *s, size_t n, size_t max_out, uint8_t **out,
                                  size_t *out_len, char *err);

/* The base64 of n bytes, NUL-terminated with padding; fer_malloc'd, NULL when out of memory. */
char *fer_base64_encode(const uint8_t *bytes, size_t n);

#endif
