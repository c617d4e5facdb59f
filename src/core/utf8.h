/*
 * utf8.h - checking UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF). JSON strings and WebSocket text messages must be valid UTF-8; messages that
 * quote what a client sent are made valid before they go out.
 */
#ifndef FER_CORE_UTF8_H
#define FER_CORE_UTF8_H

#include <stddef.h>

/* The length (1-4) of the valid sequence that starts at s, of n bytes; 0 when it is not one. */
int fer_utf8_sequence(const unsigned char *s, size_t n);
/* 1 when all n bytes at s are valid UTF-8. */
int fer_utf8_valid(const void *s, size_t n);
/* Replaces every byte of the NUL-terminated s that is not part of valid UTF-8 with '?'. */
void fer_utf8_sanitize(char *s);

#endif
