/*
 * csv_fields.h - what the two CSV readers of the data module share (internal):
 * FER2013's emotion,pixels,Usage rows (fer2013_csv.c) and the FER+ votes
 * (ferplus.c) are both split into byte ranges of a line, trimmed, matched
 * against the Usage names and quoted in error messages.
 */
#ifndef FER_DATA_CSV_FIELDS_H
#define FER_DATA_CSV_FIELDS_H

#include <stddef.h>

/* A byte range inside a line buffer. */
struct fer_span {
    char *p;
    size_t n;
};

/* s without the blanks (spaces and tabs) at either end. */
struct fer_span fer_span_trim(struct fer_span s);

/* The enum fer_usage that s names (exact spelling: "Training", "PublicTest",
 * "PrivateTest"), or -1. */
int fer_span_usage(struct fer_span s);

/* Up to 24 bytes of p for a message, in out: '?' for unprintable bytes,
 * "..." when cut. Returns out. */
const char *fer_csv_show(char out[32], const char *p, size_t n);

#endif
