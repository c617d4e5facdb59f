/*
 * fuzz_parsers.h - the entry shared by the libFuzzer targets (tests/fuzz_parsers.c) and the
 * corpus replay in the ordinary tests (tests/test_fuzz_corpus.c).
 */
#ifndef FER_TESTS_FUZZ_PARSERS_H
#define FER_TESTS_FUZZ_PARSERS_H

#include <stddef.h>
#include <stdint.h>

/* The parsers, in the order of the Makefile's FUZZ_PARSERS (each target's number). */
#define FUZZ_PARSER_NAMES                                                                          \
    "cascade", "multipart", "base64", "model", "spec", "image", "ferplus", "json", "yunet",        \
        "websocket"
/* The model parser again, with each input's checksum sealed so the sections behind it run. */
#define FUZZ_MODEL_SEALED 100

/* Runs one input through parser `which`; aborts on a broken promise (crash, bad status). */
void fuzz_run_parser(int which, const uint8_t *d, size_t n);

#endif
