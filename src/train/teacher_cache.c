/* teacher_cache.c - a teacher's predictions kept between runs (see teacher_cache.h). */
#include "train/teacher_cache.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/sha256.h"

static const char MAGIC[8] = {'F', 'E', 'R', 'T', 'P', 'R', 'B', '1'};
#define HEADER_BYTES (8 + 32 + 8 + 4)

void fer_teacher_cache_key(const char *sha256_list, int tta, const fer_dataset *ds, uint8_t key[32])
{
    fer_sha256 c;
    fer_sha256_init(&c);
    const char tag[] = "fer teacher predictions v1";
    fer_sha256_update(&c, tag, sizeof(tag));
    fer_sha256_update(&c, sha256_list, strlen(sha256_list) + 1);
    uint8_t shape[13];
    uint64_t n = ds->n;
    for (int i = 0; i < 8; i++)
        shape[i] = (uint8_t)(n >> (8 * i));
    shape[8] = (uint8_t)ds->n_classes;
    for (int i = 0; i < 4; i++)
        shape[9 + i] = (uint8_t)((uint32_t)tta >> (8 * i));
    fer_sha256_update(&c, shape, sizeof(shape));
    fer_sha256_update(&c, ds->pixels, ds->n * (size_t)FER_FACE_PIXELS);
    fer_sha256_final(&c, key);
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int fer_teacher_cache_read(const char *path, const uint8_t key[32], const fer_dataset *ds,
                           float *probs, char *why)
{
    const size_t k = (size_t)ds->n_classes, payload = ds->n * k * sizeof(float);
    const size_t want = HEADER_BYTES + payload + 32;
    if (access(path, F_OK) != 0)
        return 0;
    uint8_t *data = NULL;
    size_t len = 0;
    char err[FER_ERR_LEN];
    if (fer_file_read(path, "teacher predictions", want, &data, &len, err) != FER_OK) {
        snprintf(why, FER_ERR_LEN, "%s", err);
        return -1;
    }
    int hit = -1;
    uint8_t digest[32];
    if (len != want || memcmp(data, MAGIC, 8) != 0) {
        snprintf(why, FER_ERR_LEN, "%s is not a teacher-prediction file of this size", path);
    } else {
        fer_sha256 c;
        fer_sha256_init(&c);
        fer_sha256_update(&c, data, len - 32);
        fer_sha256_final(&c, digest);
        if (memcmp(digest, data + len - 32, 32) != 0)
            snprintf(why, FER_ERR_LEN, "%s is damaged (checksum mismatch)", path);
        else if (memcmp(data + 8, key, 32) != 0 || get_le(data + 40, 8) != ds->n ||
                 get_le(data + 48, 4) != k)
            snprintf(why, FER_ERR_LEN, "%s holds another teacher's or data's predictions", path);
        else
            hit = 1;
    }
    if (hit == 1) {
        const uint8_t *p = data + HEADER_BYTES;
        for (size_t i = 0; i < ds->n * k; i++, p += 4) {
            uint32_t bits = (uint32_t)get_le(p, 4);
            memcpy(&probs[i], &bits, 4);
        }
    }
    fer_free(data);
    return hit;
}

enum fer_status fer_teacher_cache_write(const char *path, const uint8_t key[32],
                                        const fer_dataset *ds, const float *probs, char *err)
{
    const size_t k = (size_t)ds->n_classes, count = ds->n * k;
    const size_t len = HEADER_BYTES + count * sizeof(float) + 32;
    uint8_t *data = fer_malloc(len);
    char *tmp = fer_malloc(strlen(path) + 5);
    if (!data || !tmp) {
        fer_free(data);
        fer_free(tmp);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %s", path);
    }
    memcpy(data, MAGIC, 8);
    memcpy(data + 8, key, 32);
    put_le(data + 40, ds->n, 8);
    put_le(data + 48, k, 4);
    uint8_t *p = data + HEADER_BYTES;
    for (size_t i = 0; i < count; i++, p += 4) {
        uint32_t bits;
        memcpy(&bits, &probs[i], 4);
        put_le(p, bits, 4);
    }
    fer_sha256 c;
    fer_sha256_init(&c);
    fer_sha256_update(&c, data, len - 32);
    fer_sha256_final(&c, data + len - 32);

    strcpy(tmp, path);
    strcat(tmp, ".tmp");
    enum fer_status st = FER_OK;
    FILE *f = fopen(tmp, "wb");
    int failed = !f || fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (f && fclose(f) != 0)
        failed = 1;
    if (failed || rename(tmp, path) != 0) {
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
    fer_free(tmp);
    fer_free(data);
    return st;
}
