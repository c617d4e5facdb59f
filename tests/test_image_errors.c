/*
 * test_image_errors.c - the image module on bad input and failing
 * allocations: empty, random, truncated and missing files, corrupt markers,
 * oversized headers and the caller's pixel limit, too many progressive scans,
 * randomly mutated files, and each allocation of decoding, loading, resizing
 * and encoding failing in turn. Bad input must fail with an error naming it,
 * and nothing may crash or leak.
 *
 * Fixtures are written into a fresh directory under /tmp (image_fixture.h)
 * with fer's own encoders, or by hand (PNG chunks) and with libjpeg directly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image.h"
#include "image_fixture.h"
#include "tmp_dir.h"

/* ---- bad input ---- */

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        fprintf(stderr, "  cannot write fixture %s\n", path);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* Appends a PNG chunk (length, type, data, CRC) at p; returns its size. */
static size_t png_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n)
{
    put32(p, n, 1);
    memcpy(p + 4, type, 4);
    if (n)
        memcpy(p + 8, data, n);
    put32(p + 8 + n, crc32_png(p + 4, n + 4), 1);
    return 12 + n;
}

/* Expects decoding bytes to fail with st and an error naming the input. */
static void check_bad(const uint8_t *b, size_t n, enum fer_status st, const char *needle)
{
    fer_image img;
    char err[FER_ERR_LEN] = "";
    enum fer_status got = fer_image_decode(b, n, "upload.bin", 0, 0, &img, err);
    CHECK(got == st);
    CHECK(img.data == NULL);
    CHECK(strstr(err, "upload.bin") != NULL);
    CHECK(strstr(err, needle) != NULL);
    if (got != st || !strstr(err, needle))
        fprintf(stderr, "  got %s: %s\n", fer_status_str(got), err);
}

TEST(test_bad_input)
{
    char path[256], err[FER_ERR_LEN];
    fer_image img, pic = make_picture(64, 64, 3, 5);
    size_t jlen, plen;
    test_tmp_path(path, sizeof(path), "bad.jpg");
    fer_image_save_jpeg(&pic, path, 90, NULL);
    uint8_t *jpg = slurp(path, &jlen);
    test_tmp_path(path, sizeof(path), "bad.png");
    fer_image_save_png(&pic, path, NULL);
    uint8_t *png = slurp(path, &plen);

    uint8_t junk[1000];
    synth_fill(5, junk, sizeof(junk));
    junk[0] = 0x00;
    check_bad(junk, 0, FER_ERR_FORMAT, "empty");
    check_bad(junk, sizeof(junk), FER_ERR_FORMAT, "not a JPEG, PNG or WebP");
    check_bad((const uint8_t *)"GIF89a\1\0\1\0", 10, FER_ERR_FORMAT, "GIF");
    junk[0] = 0xFF, junk[1] = 0xD8, junk[2] = 0xFF;
    check_bad(junk, sizeof(junk), FER_ERR_FORMAT, "JPEG");
    check_bad(jpg, jlen / 2, FER_ERR_FORMAT, "truncated JPEG");
    check_bad(png, plen / 2, FER_ERR_FORMAT, "truncated PNG");
    check_bad(png, 20, FER_ERR_FORMAT, "truncated PNG");

    /* a marker byte overwritten: the first DQT (FF DB) becomes FF 02 */
    uint8_t *bad = malloc(jlen > plen ? jlen : plen);
    memcpy(bad, jpg, jlen);
    for (size_t i = 2; i + 1 < jlen; i++)
        if (bad[i] == 0xFF && bad[i + 1] == 0xDB) {
            bad[i + 1] = 0x02;
            break;
        }
    check_bad(bad, jlen, FER_ERR_FORMAT, "invalid JPEG");
    /* damaged entropy data (a marker in the middle of the scan) */
    memcpy(bad, jpg, jlen);
    bad[jlen - 200] = 0xFF, bad[jlen - 199] = 0xD0 + 3;
    check_bad(bad, jlen, FER_ERR_FORMAT, "JPEG");
    /* PNG with a broken CRC in IHDR */
    memcpy(bad, png, plen);
    bad[29] ^= 0x55;
    check_bad(bad, plen, FER_ERR_FORMAT, "invalid PNG");
    free(bad);

    /* a PNG header claiming 100000x100000: refused before any pixel is allocated */
    uint8_t huge[128], ihdr[13] = {0}, idat[8] = {0x78, 0x9C, 0x03, 0, 0, 0, 0, 1};
    memcpy(huge, "\x89PNG\r\n\x1a\n", 8);
    put32(ihdr, 100000, 1);
    put32(ihdr + 4, 100000, 1);
    ihdr[8] = 8, ihdr[9] = 2; /* 8-bit RGB */
    size_t hn = 8 + png_chunk(huge + 8, "IHDR", ihdr, 13);
    hn += png_chunk(huge + hn, "IDAT", idat, sizeof(idat));
    hn += png_chunk(huge + hn, "IEND", NULL, 0);
    check_bad(huge, hn, FER_ERR_LIMIT, "100000x100000");
    /* the same for a JPEG whose SOF0 claims 65000x65000 */
    uint8_t *big = malloc(jlen);
    memcpy(big, jpg, jlen);
    for (size_t i = 2; i + 8 < jlen; i++)
        if (big[i] == 0xFF && big[i + 1] == 0xC0) {
            put16(big + i + 5, 65000, 1);
            put16(big + i + 7, 65000, 1);
            break;
        }
    check_bad(big, jlen, FER_ERR_LIMIT, "65000x65000");
    free(big);
    /* a caller's own, smaller limit */
    CHECK(fer_image_decode(png, plen, "small", 0, 4095, &img, err) == FER_ERR_LIMIT);
    CHECK(fer_image_decode(png, plen, "small", 0, 4096, &img, err) == FER_OK);
    fer_image_free(&img);

    CHECK(fer_image_load("/nonexistent/dir/face.jpg", 0, 0, &img, err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent/dir/face.jpg") != NULL);
    CHECK(fer_image_load(test_tmp_dir(), 0, 0, &img, err) == FER_ERR_IO);
    test_tmp_path(path, sizeof(path), "empty.jpg");
    write_bytes(path, NULL, 0);
    CHECK(fer_image_load(path, 0, 0, &img, err) == FER_ERR_FORMAT && strstr(err, "empty"));
    test_tmp_path(path, sizeof(path), "half.jpg");
    write_bytes(path, jpg, jlen / 2);
    CHECK(fer_image_load(path, 1, 0, &img, err) == FER_ERR_FORMAT && strstr(err, path));
    free(jpg);
    free(png);
    fer_image_free(&pic);
}

/* A progressive JPEG with 568 scans (each AC coefficient of each component
 * sent in three steps) is refused: every scan is another pass over the image. */
TEST(test_jpeg_scan_limit)
{
    enum { W = 8, H = 8, NSCAN = 1 + 3 * 63 * 3 };
    static jpeg_scan_info scans[NSCAN];
    int n = 0;
    scans[n++] = (jpeg_scan_info){3, {0, 1, 2, 0}, 0, 0, 0, 0};
    for (int c = 0; c < 3; c++)
        for (int k = 1; k < 64; k++)
            for (int al = 2; al >= 0; al--)
                scans[n++] = (jpeg_scan_info){1, {c, 0, 0, 0}, k, k, al == 2 ? 0 : al + 1, al};
    uint8_t pix[W * H * 3];
    synth_fill(23, pix, sizeof(pix));
    unsigned long len;
    unsigned char *buf = raw_jpeg(pix, W, H, 3, JCS_RGB, 75, scans, n, &len);
    check_bad(buf, len, FER_ERR_LIMIT, "progressive scans");
    free(buf);
}

/* Random byte changes must decode or fail cleanly, never crash or leak. */
TEST(test_mutations)
{
    char path[256];
    fer_image pic = make_picture(32, 24, 3, 9);
    const char *names[2] = {"m.jpg", "m.png"};
    int ok = 0, failed = 0;
    for (int k = 0; k < 2; k++) {
        test_tmp_path(path, sizeof(path), names[k]);
        if (k == 0)
            fer_image_save_jpeg(&pic, path, 80, NULL);
        else
            fer_image_save_png(&pic, path, NULL);
        size_t len;
        uint8_t *orig = slurp(path, &len), *b = malloc(len), r[8];
        for (int i = 0; i < 400; i++) {
            memcpy(b, orig, len);
            synth_fill((uint64_t)i * 7 + (uint64_t)k, r, sizeof(r));
            for (int j = 0; j < 1 + r[0] % 4; j++) {
                size_t at = ((size_t)r[1 + j] << 8 | r[5 - j]) % len;
                b[at] = r[7 - j];
            }
            fer_image img;
            char err[FER_ERR_LEN];
            enum fer_status st = fer_image_decode(b, len, names[k], i % 2, 0, &img, err);
            CHECK(st == FER_OK || st == FER_ERR_FORMAT || st == FER_ERR_LIMIT);
            if (st == FER_OK)
                ok++;
            else
                failed++;
            fer_image_free(&img);
        }
        free(orig);
        free(b);
    }
    printf("  800 mutated files: %d decoded, %d refused\n", ok, failed);
    fer_image_free(&pic);
}

/* ---- failing allocations ---- */

struct fault_case {
    const char *what;
    const uint8_t *bytes;
    size_t len;
    int want_gray;
    int op; /* 0 decode, 1 crop_resize, 2 save_png, 3 save_jpeg, 4 load */
    const fer_image *img;
    fer_rect r;
    int ow, oh;
    const char *path;
};

static enum fer_status run_fault_case(const struct fault_case *c, char *err)
{
    fer_image out = {0};
    enum fer_status st;
    switch (c->op) {
    case 0:
        st = fer_image_decode(c->bytes, c->len, c->what, c->want_gray, 0, &out, err);
        break;
    case 1:
        st = fer_image_crop_resize(c->img, c->r, c->ow, c->oh, &out, err);
        break;
    case 2:
        st = fer_image_save_png(c->img, c->path, err);
        break;
    case 3:
        st = fer_image_save_jpeg(c->img, c->path, 90, err);
        break;
    default:
        st = fer_image_load(c->path, c->want_gray, 0, &out, err);
        break;
    }
    fer_image_free(&out);
    return st;
}

TEST(test_alloc_faults)
{
    char png_path[256], jpg_path[256], err[FER_ERR_LEN];
    fer_image pic = make_picture(40, 30, 3, 11);
    test_tmp_path(png_path, sizeof(png_path), "fault.png");
    test_tmp_path(jpg_path, sizeof(jpg_path), "fault.jpg");
    fer_image_save_png(&pic, png_path, NULL);
    fer_image_save_jpeg(&pic, jpg_path, 90, NULL);
    size_t plen, jlen, elen;
    uint8_t *png = slurp(png_path, &plen), *jpg = slurp(jpg_path, &jlen);
    uint8_t *exif = splice_exif(jpg, jlen, 6, 1, 8, 1, &elen);
    const struct fault_case cases[] = {
        {"png rgb", png, plen, 0, 0, NULL, {0}, 0, 0, NULL},
        {"png gray", png, plen, 1, 0, NULL, {0}, 0, 0, NULL},
        {"jpeg exif rgb", exif, elen, 0, 0, NULL, {0}, 0, 0, NULL},
        {"jpeg exif gray", exif, elen, 1, 0, NULL, {0}, 0, 0, NULL},
        {"area", NULL, 0, 0, 1, &pic, {-3, 2, 37, 29}, 11, 9, NULL},
        {"area fast", NULL, 0, 0, 1, &pic, {0, 0, 40, 30}, 20, 15, NULL},
        {"linear", NULL, 0, 0, 1, &pic, {5, 5, 10, 10}, 48, 48, NULL},
        {"mixed", NULL, 0, 0, 1, &pic, {0, 0, 40, 10}, 20, 30, NULL},
        {"save png", NULL, 0, 0, 2, &pic, {0}, 0, 0, png_path},
        {"save jpeg", NULL, 0, 0, 3, &pic, {0}, 0, 0, jpg_path},
        {"load", NULL, 0, 1, 4, NULL, {0}, 0, 0, png_path},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int done = 0;
        for (long k = 0; k < 500 && !done; k++) {
            fer_alloc_fail_after(k);
            enum fer_status st = run_fault_case(&cases[i], err);
            fer_alloc_fail_after(-1);
            if (st == FER_OK) {
                done = 1;
            } else if (st != FER_ERR_NOMEM) {
                CHECK(st == FER_ERR_NOMEM);
                fprintf(stderr, "  %s, allocation %ld failing: %s\n", cases[i].what, k, err);
                break;
            }
        }
        CHECK(done);
    }
    free(png);
    free(jpg);
    free(exif);
    fer_image_free(&pic);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_image_errors_XXXXXX") != 0)
        return 1;
    RUN(test_bad_input);
    RUN(test_jpeg_scan_limit);
    RUN(test_mutations);
    RUN(test_alloc_faults);
    test_tmp_remove();
    return check_report();
}
