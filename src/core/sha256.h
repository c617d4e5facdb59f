/*
 * sha256.h - SHA-256 (FIPS 180-4), used for model-file checksums and for the
 * data hashes a model records about how it was trained.
 */
#ifndef FER_CORE_SHA256_H
#define FER_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct fer_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t fill;
} fer_sha256;

void fer_sha256_init(fer_sha256 *c);
void fer_sha256_update(fer_sha256 *c, const void *data, size_t n);
void fer_sha256_final(fer_sha256 *c, uint8_t digest[32]);
/* Writes 64 lowercase hex characters and a NUL into hex. */
void fer_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Hashes a whole file (as stored, not decompressed). */
enum fer_status fer_sha256_file(const char *path, char hex[65], char *err);

#endif
