/*
 * test_image.c - tests of the image module's pixels: allocation, OpenCV's
 * gray formula, EXIF orientations, crop + resize (worked by hand and against
 * cv2.resize), and real photos decoded, cropped, resized and EXIF-rotated as
 * OpenCV does. The decoders and encoders are tested in test_image_codec.c,
 * bad input and failing allocations in test_image_errors.c.
 *
 * Resize and decode results are compared with OpenCV 4.6 through
 * tests/data/image_reference.txt (written by tests/image_reference.py); the
 * photos it names are checked when the shared data is present.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "image/image.h"
#include "image_fixture.h"

#define REFERENCE "tests/data/image_reference.txt"

static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

/* ---- basics ---- */

TEST(test_new_free)
{
    fer_image img;
    char err[FER_ERR_LEN];
    CHECK(fer_image_new(3, 2, 3, &img, err) == FER_OK);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 3 && img.data[17] == 0);
    fer_image_free(&img);
    CHECK(img.data == NULL && img.width == 0);
    fer_image_free(&img); /* twice is fine */
    fer_image_free(NULL);
    CHECK(fer_image_new(0, 2, 1, &img, err) == FER_ERR_ARG);
    CHECK(fer_image_new(2, 2, 2, &img, err) == FER_ERR_ARG);
    CHECK(fer_image_new(1 << 30, 1 << 30, 3, &img, err) == FER_ERR_LIMIT);
}

TEST(test_gray_formula)
{
    /* (R*9798 + G*19235 + B*3735 + 16384) >> 15, worked by hand: */
    static const uint8_t rgb[] = {255, 255, 255, 0,  0,  0,  255, 0,   0,  0,   255, 0,
                                  0,   0,   255, 10, 20, 30, 200, 100, 50, 177, 155, 128};
    static const uint8_t want[] = {255, 0, 76, 150, 29, 18, 124, 159};
    /* 255*9798+16384 = 2514874 -> 76.7 -> 76; 10,20,30: 611114 -> 18.6 -> 18;
     * 200,100,50: 4086234 -> 124.7 -> 124; 177,155,128: 5210135 -> 159.0007 -> 159
     * (the 14-bit weights 4899, 9617, 1868 would give 158.9998 -> 158; cv2 says 159) */
    fer_image src = {8, 1, 3, (uint8_t *)rgb}, gray;
    char err[FER_ERR_LEN];
    CHECK(fer_image_to_gray(&src, &gray, err) == FER_OK);
    CHECK(gray.channels == 1 && memcmp(gray.data, want, 8) == 0);
    fer_image copy;
    CHECK(fer_image_to_gray(&gray, &copy, err) == FER_OK && same_image(&gray, &copy));
    CHECK(fer_image_to_gray(&gray, &gray, err) == FER_ERR_ARG);
    fer_image_free(&gray);
    fer_image_free(&copy);
}

TEST(test_orient)
{
    static const char *want[9] = {NULL,     "123456", "321654", "654321", "456123",
                                  "142536", "415263", "635241", "362514"};
    char err[FER_ERR_LEN];
    for (int o = 1; o <= 8; o++) {
        fer_image img;
        fer_image_new(3, 2, 1, &img, NULL);
        memcpy(img.data, "123456", 6);
        CHECK(fer_image_orient(&img, o, err) == FER_OK);
        CHECK(img.width == (o >= 5 ? 2 : 3) && img.height == (o >= 5 ? 3 : 2));
        CHECK(memcmp(img.data, want[o], 6) == 0);
        if (memcmp(img.data, want[o], 6) != 0)
            fprintf(stderr, "  orientation %d gave %.6s, want %s\n", o, img.data, want[o]);
        fer_image_free(&img);
    }
    fer_image rgb = make_picture(5, 3, 3, 1);
    fer_image copy;
    fer_image_new(5, 3, 3, &copy, NULL);
    memcpy(copy.data, rgb.data, 45);
    CHECK(fer_image_orient(&rgb, 6, err) == FER_OK && fer_image_orient(&rgb, 8, err) == FER_OK);
    CHECK(same_image(&rgb, &copy));
    CHECK(fer_image_orient(&rgb, 9, err) == FER_ERR_ARG);
    fer_image_free(&rgb);
    fer_image_free(&copy);
}

/* ---- resize ---- */

static void check_resize(const uint8_t *pix, int w, int h, int cn, fer_rect r, int ow, int oh,
                         const uint8_t *want)
{
    fer_image src = {w, h, cn, (uint8_t *)pix}, out;
    char err[FER_ERR_LEN];
    CHECK(fer_image_crop_resize(&src, r, ow, oh, &out, err) == FER_OK);
    CHECK(out.width == ow && out.height == oh && out.channels == cn);
    if (memcmp(out.data, want, (size_t)ow * oh * cn) != 0) {
        CHECK(!"resize result");
        for (int i = 0; i < ow * oh * cn; i++)
            fprintf(stderr, " %d/%d", out.data[i], want[i]);
        fprintf(stderr, " (got/want)\n");
    }
    fer_image_free(&out);
}

TEST(test_resize_hand)
{
    /* 4x4 -> 2x2: means of 2x2 blocks, rounded half up as OpenCV's 2x2 path */
    static const uint8_t a[] = {0, 2, 4, 6, 2, 4, 6, 8, 10, 10, 20, 20, 10, 12, 20, 21};
    static const uint8_t a_want[] = {2, 6, 11, 20}; /* 8/4, 24/4, 42/4=10.5->11, 81/4 */
    check_resize(a, 4, 4, 1, (fer_rect){0, 0, 4, 4}, 2, 2, a_want);
    /* 4x1 -> 2x1: block sums times 1/2, rounded half to even (1.5 -> 2, 2.5 -> 2) */
    static const uint8_t b[] = {1, 2, 2, 3}, b_want[] = {2, 2};
    check_resize(b, 4, 1, 1, (fer_rect){0, 0, 4, 1}, 2, 1, b_want);
    /* 3x1 -> 2x1: overlaps 1 and 1/2 of a 1.5-wide cell: 0*2/3+90/3, 90/3+180*2/3 */
    static const uint8_t c[] = {0, 90, 180}, c_want[] = {30, 150};
    check_resize(c, 3, 1, 1, (fer_rect){0, 0, 3, 1}, 2, 1, c_want);
    /* 2x1 -> 4x1 bilinear: centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) */
    static const uint8_t d[] = {0, 200}, d_want[] = {0, 50, 150, 200};
    check_resize(d, 2, 1, 1, (fer_rect){0, 0, 2, 1}, 4, 1, d_want);
    /* crop partly outside: the border is replicated */
    static const uint8_t e[] = {1, 2, 3, 4};
    static const uint8_t e_want[] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    check_resize(e, 2, 2, 1, (fer_rect){-1, -1, 4, 4}, 4, 4, e_want);
    static const uint8_t e2_want[] = {1, 1, 2}; /* row -1 is row 0; column -1 is column 0 */
    check_resize(e, 2, 2, 1, (fer_rect){-1, -1, 3, 1}, 3, 1, e2_want);
    /* RGB 2x2 -> 1x1 */
    static const uint8_t f[] = {0, 10, 100, 4, 10, 101, 8, 10, 102, 12, 11, 103};
    static const uint8_t f_want[] = {6, 10, 102}; /* (24+2)/4, (41+2)/4, (406+2)/4 */
    check_resize(f, 2, 2, 3, (fer_rect){0, 0, 2, 2}, 1, 1, f_want);

    fer_image src = {2, 2, 1, (uint8_t *)e}, out;
    char err[FER_ERR_LEN];
    CHECK(fer_image_crop_resize(&src, (fer_rect){0, 0, 0, 2}, 4, 4, &out, err) == FER_ERR_ARG);
    CHECK(fer_image_crop_resize(&src, (fer_rect){0, 0, 2, 2}, 4, -1, &out, err) == FER_ERR_ARG);
    CHECK(fer_image_crop_resize(&src, (fer_rect){0, 0, 1 << 20, 1 << 20}, 4, 4, &out, err) ==
          FER_ERR_LIMIT);
    CHECK(fer_image_crop_resize(&src, (fer_rect){0, 0, 2, 2}, 100000, 100000, &out, err) ==
          FER_ERR_LIMIT);
    /* one axis shrinks, the other grows: averages along x, interpolates along y */
    static const uint8_t g[] = {10, 30, 50, 70};
    static const uint8_t g_want[] = {20, 60, 20, 60, 20, 60};
    check_resize(g, 4, 1, 1, (fer_rect){0, 0, 4, 1}, 2, 3, g_want);
}

static int hex_nibble(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Synthetic crops and resizes against cv2.resize (INTER_AREA / INTER_LINEAR). */
TEST(test_resize_reference)
{
    FILE *f = fopen(REFERENCE, "r");
    if (!f) {
        CHECK_SKIP("%s not found (run from the repository root)", REFERENCE);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    int cases = 0, exact = 0;
    while (getline(&line, &cap, f) > 0) {
        int seed, sw, sh, cn, x, y, w, h, ow, oh, off;
        char interp[16];
        if (sscanf(line, "synth %d %d %d %d %d %d %d %d %d %d %15s %n", &seed, &sw, &sh, &cn, &x,
                   &y, &w, &h, &ow, &oh, interp, &off) != 11)
            continue;
        fer_image src, out;
        char err[FER_ERR_LEN];
        fer_image_new(sw, sh, cn, &src, NULL);
        synth_fill((uint64_t)seed, src.data, (size_t)sw * sh * cn);
        CHECK(fer_image_crop_resize(&src, (fer_rect){x, y, w, h}, ow, oh, &out, err) == FER_OK);
        int worst = 0;
        size_t n = (size_t)ow * oh * cn;
        const char *hex = line + off;
        for (size_t i = 0; i < n && out.data; i++) {
            int hi = hex_nibble(hex[2 * i]), lo = hi < 0 ? -1 : hex_nibble(hex[2 * i + 1]);
            if (lo < 0) {
                CHECK(!"reference line too short");
                break;
            }
            int d = abs(out.data[i] - (hi * 16 + lo));
            worst = d > worst ? d : worst;
        }
        int integer = strcmp(interp, "area") == 0 && w % ow == 0 && h % oh == 0;
        CHECK(worst <= (integer ? 0 : 1));
        if (worst > (integer ? 0 : 1))
            fprintf(stderr, "  synth %d (%dx%d -> %dx%d, %s): off by %d\n", seed, w, h, ow, oh,
                    interp, worst);
        cases++;
        exact += worst == 0;
        fer_image_free(&src);
        fer_image_free(&out);
    }
    free(line);
    fclose(f);
    CHECK(cases >= 20);
    printf("  %d of %d synthetic resizes byte-identical to OpenCV (others within 1)\n", exact,
           cases);
}

/* ---- real photos against OpenCV ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Checks one "photo", "area" or "exif" reference line; *cur caches the gray photo. */
static void check_photo_line(const char *dir, const char *line, char *cur_rel, fer_image *cur)
{
    char rel[256], path[600], err[FER_ERR_LEN];
    int w, h, x, y, cw, ch, ow, oh, o;
    unsigned long long fnv_rgb, fnv_gray, fnv_out, sum;
    if (sscanf(line, "photo %255s %d %d %llx %llu %llx", rel, &w, &h, &fnv_rgb, &sum, &fnv_gray) ==
        6) {
        fer_image rgb, gray;
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        CHECK(fer_image_load(path, 0, 0, &rgb, err) == FER_OK);
        CHECK(fer_image_load(path, 1, 0, &gray, err) == FER_OK);
        if (!rgb.data || !gray.data) {
            fprintf(stderr, "  %s\n", err);
            fer_image_free(&rgb);
            return;
        }
        CHECK(rgb.width == w && rgb.height == h && gray.width == w && gray.height == h);
        unsigned long long s = 0;
        for (size_t i = 0; i < (size_t)w * h; i++)
            s += gray.data[i];
        int ok = fnv64(rgb.data, (size_t)w * h * 3) == fnv_rgb && s == sum &&
                 fnv64(gray.data, (size_t)w * h) == fnv_gray;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s: decoded pixels differ from cv2.imread\n", rel);
        fer_image_free(&rgb);
        fer_image_free(cur);
        *cur = gray;
        snprintf(cur_rel, 256, "%s", rel);
    } else if (sscanf(line, "area %255s %d %d %d %d %d %d %llx", rel, &x, &y, &cw, &ch, &ow, &oh,
                      &fnv_out) == 8) {
        fer_image out;
        if (strcmp(rel, cur_rel) != 0 || !cur->data)
            return;
        CHECK(fer_image_crop_resize(cur, (fer_rect){x, y, cw, ch}, ow, oh, &out, err) == FER_OK);
        int ok = out.data && fnv64(out.data, (size_t)ow * oh) == fnv_out;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s: crop %dx%d at (%d,%d) -> %dx%d differs from cv2 INTER_AREA\n",
                    rel, cw, ch, x, y, ow, oh);
        fer_image_free(&out);
    } else if (sscanf(line, "exif %255s %d %d %d %llx", rel, &o, &w, &h, &fnv_gray) == 5) {
        size_t len, n;
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        uint8_t *raw = slurp(path, &len);
        CHECK(raw != NULL);
        if (!raw)
            return;
        uint8_t *b = splice_exif(raw, len, o, o % 2 == 0, 8, 1, &n);
        fer_image gray;
        CHECK(fer_image_decode(b, n, rel, 1, 0, &gray, err) == FER_OK);
        int ok = gray.data && gray.width == w && gray.height == h &&
                 fnv64(gray.data, (size_t)w * h) == fnv_gray;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s with EXIF orientation %d differs from cv2.imread\n", rel, o);
        fer_image_free(&gray);
        free(raw);
        free(b);
    }
}

/* A turned window: unturned it is the plain crop; a quarter turn makes a bar stand up; the
 * eyes' angle of a tilted face comes out level. */
TEST(test_crop_rotated)
{
    char err[FER_ERR_LEN];
    fer_image g = {0}, a = {0}, b = {0};
    CHECK(fer_image_new(40, 40, 1, &g, err) == FER_OK);
    for (int y = 18; y < 22; y++)
        for (int x = 4; x < 36; x++)
            g.data[y * 40 + x] = 200; /* a horizontal bar */
    CHECK(fer_image_crop_rotated(&g, 20, 20, 40, 40, 0, 40, 40, &a, err) == FER_OK);
    CHECK(a.data && memcmp(a.data, g.data, 1600) == 0);
    fer_image_free(&a);
    CHECK(fer_image_crop_rotated(&g, 20, 20, 40, 40, (float)M_PI / 2, 40, 40, &b, err) == FER_OK);
    if (b.data) { /* the bar now runs down the middle column */
        CHECK(b.data[5 * 40 + 20] > 150 && b.data[34 * 40 + 20] > 150);
        CHECK(b.data[20 * 40 + 5] < 50 && b.data[20 * 40 + 34] < 50);
    }
    fer_image_free(&b);
    /* two dots on a line at 20 degrees, turned by that angle, end on one row */
    fer_image_free(&g);
    CHECK(fer_image_new(60, 60, 1, &g, err) == FER_OK);
    float t = 20 * (float)M_PI / 180;
    int x0 = (int)lroundf(30 - 12 * cosf(t)), y0 = (int)lroundf(30 - 12 * sinf(t));
    int x1 = (int)lroundf(30 + 12 * cosf(t)), y1 = (int)lroundf(30 + 12 * sinf(t));
    g.data[y0 * 60 + x0] = g.data[y1 * 60 + x1] = 255;
    CHECK(fer_image_crop_rotated(&g, 30, 30, 60, 60, t, 60, 60, &a, err) == FER_OK);
    int rows[2] = {-1, -1}, found = 0;
    for (int y = 0; y < 60 && a.data; y++)
        for (int x = 0; x < 60; x++)
            if (a.data[y * 60 + x] > 60 && found < 2 && (found == 0 || abs(x - 30) > 5))
                rows[found++] = y;
    CHECK(found == 2 && abs(rows[0] - rows[1]) <= 1);
    fer_image_free(&a);
    fer_image_free(&g);
    CHECK(fer_image_crop_rotated(&g, 0, 0, 4, 4, 0, 4, 4, &a, err) == FER_ERR_ARG);
}

TEST(test_shared_photos)
{
    const char *dir = check_shared_data();
    if (!dir) {
        CHECK_SKIP("shared data not found (../shared/data or FER_SHARED_DATA)");
        return;
    }
    FILE *f = fopen(REFERENCE, "r");
    if (!f) {
        CHECK_SKIP("%s not found (run from the repository root)", REFERENCE);
        return;
    }
    char *line = NULL, cur_rel[256] = "";
    size_t cap = 0;
    fer_image cur = {0};
    int lines = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "photo ", 6) == 0 || strncmp(line, "area ", 5) == 0 ||
            strncmp(line, "exif ", 5) == 0) {
            check_photo_line(dir, line, cur_rel, &cur);
            lines++;
        }
    }
    free(line);
    fclose(f);
    fer_image_free(&cur);
    CHECK(lines >= 50);
    printf("  %d photo/resize/EXIF results compared with OpenCV\n", lines);

    /* decode time of a 1280x720 JPEG from memory (best of 5) */
    char path[600], err[FER_ERR_LEN];
    snprintf(path, sizeof(path), "%s/media/obama-720p.jpg", dir);
    size_t len;
    uint8_t *b = slurp(path, &len);
    if (!b)
        return;
    for (int gray = 0; gray <= 1; gray++) {
        double best = 1e9;
        for (int i = 0; i < 5; i++) {
            fer_image img;
            double t0 = now_ms();
            CHECK(fer_image_decode(b, len, "obama-720p.jpg", gray, 0, &img, err) == FER_OK);
            double t = now_ms() - t0;
            best = t < best ? t : best;
            fer_image_free(&img);
        }
        printf("  decode obama-720p.jpg (1280x720) to %s: %.1f ms\n", gray ? "gray" : "RGB", best);
    }
    free(b);
}

int main(void)
{
    RUN(test_new_free);
    RUN(test_gray_formula);
    RUN(test_orient);
    RUN(test_resize_hand);
    RUN(test_resize_reference);
    RUN(test_crop_rotated);
    RUN(test_shared_photos);
    return check_report();
}
