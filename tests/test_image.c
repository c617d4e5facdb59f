/*
 * test_image.c - tests of the image module: allocation, OpenCV's gray
 * formula, EXIF orientations, PNG/JPEG round trips, CMYK JPEGs, PNG layouts
 * (palette, 16-bit, alpha, interlaced, 1-bit), crop + resize, bad input
 * (empty, random, truncated, corrupt markers, oversized headers, too many
 * progressive scans), failing allocations and mutated files.
 *
 * Fixtures are written into a fresh directory under /tmp with fer's own
 * encoders (or libpng directly, for layouts fer never writes). Resize and
 * decode results are compared with OpenCV 4.6 through
 * tests/data/image_reference.txt (written by tests/image_reference.py); the
 * photos it names are checked when the shared data is present.
 */
#include <png.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "check.h"
#include "core/alloc.h"
#include "image/image.h"

#define REFERENCE "tests/data/image_reference.txt"

static char tmp_dir[64];

static void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmp_dir, name);
}

static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

/* splitmix64 bytes, the same as synth_image() in tests/image_reference.py. */
static void synth_fill(uint64_t seed, uint8_t *out, size_t n)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[i] = (uint8_t)(z >> 56);
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = n > 0 && buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        fprintf(stderr, "  cannot write fixture %s\n", path);
}

/* A smooth RGB or gray test picture (JPEG-friendly) with a little noise. */
static fer_image make_picture(int w, int h, int cn, uint64_t seed)
{
    fer_image img;
    if (fer_image_new(w, h, cn, &img, NULL) != FER_OK)
        return img;
    uint8_t *noise = malloc((size_t)w * h * cn);
    synth_fill(seed, noise, (size_t)w * h * cn);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < cn; c++) {
                size_t i = ((size_t)y * w + x) * cn + c;
                img.data[i] = (uint8_t)(x * 200 / w + y * 40 / h + c * 5 + noise[i] % 5);
            }
    free(noise);
    return img;
}

static int same_image(const fer_image *a, const fer_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels) == 0;
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

/* ---- codecs ---- */

TEST(test_png_roundtrip)
{
    char path[256], err[FER_ERR_LEN];
    tmp_path(path, sizeof(path), "rt.png");
    for (int cn = 1; cn <= 3; cn += 2) {
        fer_image img, back, gray;
        fer_image_new(37, 23, cn, &img, NULL);
        synth_fill(40 + (uint64_t)cn, img.data, 37 * 23 * (size_t)cn);
        CHECK(fer_image_save_png(&img, path, err) == FER_OK);
        CHECK(fer_image_load(path, 0, 0, &back, err) == FER_OK);
        CHECK(back.width == 37 && back.height == 23 && back.channels == 3);
        CHECK(fer_image_load(path, 1, 0, &gray, err) == FER_OK && gray.channels == 1);
        if (cn == 3) {
            CHECK(same_image(&img, &back));
            fer_image g2;
            fer_image_to_gray(&img, &g2, NULL);
            CHECK(same_image(&g2, &gray));
            fer_image_free(&g2);
        } else {
            CHECK(same_image(&img, &gray));
            for (size_t i = 0; i < 37 * 23; i++)
                CHECK(back.data[3 * i] == img.data[i] && back.data[3 * i + 2] == img.data[i]);
        }
        fer_image_free(&img);
        fer_image_free(&back);
        fer_image_free(&gray);
    }
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */
}

TEST(test_jpeg_roundtrip)
{
    char path[256], err[FER_ERR_LEN];
    tmp_path(path, sizeof(path), "rt.jpg");
    for (int cn = 1; cn <= 3; cn += 2) {
        fer_image img = make_picture(64, 48, cn, 7), back, gray;
        CHECK(fer_image_save_jpeg(&img, path, 95, err) == FER_OK);
        CHECK(fer_image_load(path, cn == 1, 0, &back, err) == FER_OK);
        CHECK(back.width == 64 && back.height == 48 && back.channels == cn);
        double total = 0;
        int worst = 0;
        for (size_t i = 0; i < (size_t)64 * 48 * cn; i++) {
            int d = abs(back.data[i] - img.data[i]);
            total += d;
            worst = d > worst ? d : worst;
        }
        CHECK(total / (64.0 * 48 * cn) < 2.0);
        CHECK(worst <= 24);
        if (total / (64.0 * 48 * cn) >= 2.0 || worst > 24)
            fprintf(stderr, "  %d channels: mean error %.2f, worst %d\n", cn,
                    total / (64.0 * 48 * cn), worst);
        /* a gray JPEG decoded as RGB has three equal channels */
        CHECK(fer_image_load(path, 0, 0, &gray, err) == FER_OK && gray.channels == 3);
        if (cn == 1)
            for (size_t i = 0; i < 64 * 48; i++)
                CHECK(gray.data[3 * i] == back.data[i] && gray.data[3 * i + 1] == back.data[i]);
        fer_image_free(&img);
        fer_image_free(&back);
        fer_image_free(&gray);
    }
    fer_image img = make_picture(8, 8, 3, 1);
    CHECK(fer_image_save_jpeg(&img, path, 0, err) == FER_ERR_ARG);
    CHECK(fer_image_save_jpeg(&img, path, 101, err) == FER_ERR_ARG);
    CHECK(fer_image_save_png(&img, "/nonexistent-dir/x.png", err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent-dir/x.png") != NULL);
    CHECK(fer_image_save_jpeg(&img, "/nonexistent-dir/x.jpg", 90, err) == FER_ERR_IO);
    fer_image_free(&img);
}

static void check_bad(const uint8_t *b, size_t n, enum fer_status st, const char *needle);

/* Adobe CMYK JPEGs become RGB with OpenCV's formula: R = K - (255 - C) * K / 256, ... */
TEST(test_jpeg_cmyk)
{
    enum { W = 16, H = 8 };
    uint8_t cmyk[W * H * 4], back[W * H * 4];
    synth_fill(17, cmyk, sizeof(cmyk));
    struct jpeg_error_mgr jerr;
    struct jpeg_compress_struct cc;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    cc.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cc);
    jpeg_mem_dest(&cc, &buf, &len);
    cc.image_width = W, cc.image_height = H, cc.input_components = 4;
    cc.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cc);
    jpeg_set_quality(&cc, 100, TRUE);
    jpeg_start_compress(&cc, TRUE);
    for (int y = 0; y < H; y++) {
        JSAMPROW row = cmyk + y * W * 4;
        jpeg_write_scanlines(&cc, &row, 1);
    }
    jpeg_finish_compress(&cc);
    jpeg_destroy_compress(&cc);
    /* what libjpeg itself decodes, as CMYK */
    struct jpeg_decompress_struct dc;
    dc.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&dc);
    jpeg_mem_src(&dc, buf, len);
    jpeg_read_header(&dc, TRUE);
    dc.out_color_space = JCS_CMYK;
    jpeg_start_decompress(&dc);
    while (dc.output_scanline < H) {
        JSAMPROW row = back + dc.output_scanline * W * 4;
        jpeg_read_scanlines(&dc, &row, 1);
    }
    jpeg_finish_decompress(&dc);
    jpeg_destroy_decompress(&dc);

    fer_image rgb, gray, g2;
    char err[FER_ERR_LEN];
    CHECK(fer_image_decode(buf, len, "cmyk.jpg", 0, 0, &rgb, err) == FER_OK);
    CHECK(fer_image_decode(buf, len, "cmyk.jpg", 1, 0, &gray, err) == FER_OK);
    if (rgb.data && gray.data) {
        CHECK(rgb.width == W && rgb.height == H && rgb.channels == 3);
        int bad = 0;
        for (int i = 0; i < W * H; i++) {
            int k = back[4 * i + 3];
            for (int c = 0; c < 3; c++)
                bad += rgb.data[3 * i + c] != k - ((255 - back[4 * i + c]) * k >> 8);
        }
        CHECK(bad == 0);
        fer_image_to_gray(&rgb, &g2, NULL);
        CHECK(same_image(&g2, &gray));
        fer_image_free(&g2);
    }
    fer_image_free(&rgb);
    fer_image_free(&gray);
    free(buf);
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
    struct jpeg_error_mgr jerr;
    struct jpeg_compress_struct cc;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    cc.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cc);
    jpeg_mem_dest(&cc, &buf, &len);
    cc.image_width = W, cc.image_height = H, cc.input_components = 3;
    cc.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cc);
    cc.scan_info = scans;
    cc.num_scans = n;
    jpeg_start_compress(&cc, TRUE);
    for (int y = 0; y < H; y++) {
        JSAMPROW row = pix + y * W * 3;
        jpeg_write_scanlines(&cc, &row, 1);
    }
    jpeg_finish_compress(&cc);
    jpeg_destroy_compress(&cc);
    check_bad(buf, len, FER_ERR_LIMIT, "progressive scans");
    free(buf);
}

/* Writes a PNG with libpng directly, for layouts fer's encoder never makes. */
static int write_png_raw(const char *path, int w, int h, int color, int depth, int interlace,
                         const uint8_t *rows, const png_color *pal, int npal, const uint8_t *trans,
                         int ntrans)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        if (f)
            fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trans)
        png_set_tRNS(png, info, trans, ntrans, NULL);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < h; y++)
            png_write_row(png, rows + (size_t)y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

/* Loads path as RGB and as gray; checks RGB against want and gray against the formula. */
static void check_png_layout(const char *path, const uint8_t *want, int w, int h)
{
    fer_image rgb, gray, g2;
    char err[FER_ERR_LEN];
    CHECK(fer_image_load(path, 0, 0, &rgb, err) == FER_OK);
    CHECK(fer_image_load(path, 1, 0, &gray, err) == FER_OK);
    if (!rgb.data || !gray.data) {
        fprintf(stderr, "  %s\n", err);
        fer_image_free(&rgb);
        return;
    }
    CHECK(rgb.width == w && rgb.height == h && rgb.channels == 3);
    CHECK(memcmp(rgb.data, want, (size_t)w * h * 3) == 0);
    fer_image_to_gray(&rgb, &g2, NULL);
    CHECK(same_image(&g2, &gray));
    fer_image_free(&rgb);
    fer_image_free(&gray);
    fer_image_free(&g2);
}

TEST(test_png_layouts)
{
    char path[256];
    tmp_path(path, sizeof(path), "layout.png");
    enum { W = 9, H = 7 }; /* odd sizes exercise every Adam7 pass */
    uint8_t src[W * H * 8], want[W * H * 3];
    synth_fill(99, src, sizeof(src));

    /* palette with transparency: alpha is dropped, colours kept */
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t trans[4] = {0, 128, 255, 7}, idx[W * H];
    for (int i = 0; i < W * H; i++) {
        idx[i] = src[i] % 4;
        memcpy(want + 3 * i, &pal[idx[i]], 3);
    }
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_PALETTE, 8, 0, idx, pal, 4, trans, 4) == 0);
    check_png_layout(path, want, W, H);

    /* 16-bit RGB: the high byte of each sample */
    for (int i = 0; i < W * H * 3; i++)
        want[i] = src[2 * i];
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB, 16, 0, src, NULL, 0, NULL, 0) == 0);
    check_png_layout(path, want, W, H);

    /* RGBA and gray+alpha: alpha dropped without compositing, as cv2.imread */
    for (int i = 0; i < W * H; i++)
        memcpy(want + 3 * i, src + 4 * i, 3);
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, src, NULL, 0, NULL, 0) == 0);
    check_png_layout(path, want, W, H);
    for (int i = 0; i < W * H; i++)
        memset(want + 3 * i, src[2 * i], 3);
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, src, NULL, 0, NULL, 0) == 0);
    check_png_layout(path, want, W, H);

    /* interlaced RGB */
    memcpy(want, src, sizeof(want));
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, src, NULL, 0, NULL,
                        0) == 0);
    check_png_layout(path, want, W, H);

    /* 1-bit gray, rows padded to whole bytes: bits become 0 or 255 */
    uint8_t bits[H * 2];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int on = src[y * W + x] & 1;
            if (x % 8 == 0)
                bits[y * 2 + x / 8] = 0;
            bits[y * 2 + x / 8] |= (uint8_t)(on << (7 - x % 8));
            memset(want + 3 * (y * W + x), on ? 255 : 0, 3);
        }
    CHECK(write_png_raw(path, W, H, PNG_COLOR_TYPE_GRAY, 1, 0, bits, NULL, 0, NULL, 0) == 0);
    check_png_layout(path, want, W, H);
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
        printf("  skip: %s not found (run from the repository root)\n", REFERENCE);
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

/* ---- EXIF ---- */

static void put16(uint8_t *p, unsigned v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v, int be)
{
    put16(p + (be ? 0 : 2), v >> 16, be);
    put16(p + (be ? 2 : 0), v & 0xFFFF, be);
}

/*
 * Copies a JPEG with an APP1 "Exif" segment inserted after SOI, whose IFD0
 * holds one entry (tag 0x0112 SHORT = orientation); the same bytes as
 * exif_segment() in tests/image_reference.py. ifd and count let tests break it.
 */
static uint8_t *splice_exif(const uint8_t *jpg, size_t len, int orientation, int be, uint32_t ifd,
                            unsigned count, size_t *out_len)
{
    uint8_t seg[36] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0};
    uint8_t *t = seg + 10;
    t[0] = t[1] = be ? 'M' : 'I';
    put16(t + 2, 42, be);
    put32(t + 4, ifd, be);
    put16(t + 8, count, be);
    put16(t + 10, 0x0112, be);
    put16(t + 12, 3, be);
    put32(t + 14, 1, be);
    put16(t + 18, (unsigned)orientation, be);
    uint8_t *out = malloc(len + sizeof(seg));
    memcpy(out, jpg, 2);
    memcpy(out + 2, seg, sizeof(seg));
    memcpy(out + 2 + sizeof(seg), jpg + 2, len - 2);
    *out_len = len + sizeof(seg);
    return out;
}

TEST(test_exif)
{
    char path[256], err[FER_ERR_LEN];
    tmp_path(path, sizeof(path), "exif.jpg");
    fer_image pic = make_picture(24, 16, 3, 3), plain;
    fer_image_save_jpeg(&pic, path, 90, NULL);
    size_t len, n;
    uint8_t *jpg = slurp(path, &len);
    CHECK(jpg && fer_image_decode(jpg, len, "plain", 0, 0, &plain, err) == FER_OK);
    static const struct {
        int orientation, be;
        uint32_t ifd;
        unsigned count;
        int applied; /* orientation expected after decoding */
    } cases[] = {
        /* well formed, little- and big-endian */
        {6, 0, 8, 1, 6},
        {3, 1, 8, 1, 3},
        {8, 1, 8, 1, 8},
        /* out of range, IFD past the segment, offset that would wrap: ignored */
        {9, 0, 8, 1, 1},
        {6, 0, 1000, 1, 1},
        {6, 0, 0xFFFFFFFF, 1, 1},
        /* an entry count larger than the data: the entries present still count */
        {6, 1, 8, 0xFFFF, 6},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *b = splice_exif(jpg, len, cases[i].orientation, cases[i].be, cases[i].ifd,
                                 cases[i].count, &n);
        fer_image got, want;
        CHECK(fer_image_decode(b, n, "exif", 0, 0, &got, err) == FER_OK);
        fer_image_new(plain.width, plain.height, 3, &want, NULL);
        memcpy(want.data, plain.data, (size_t)plain.width * plain.height * 3);
        fer_image_orient(&want, cases[i].applied, NULL);
        CHECK(same_image(&got, &want));
        if (cases[i].applied == 6 && got.data) { /* rotated clockwise: top-left was bottom-left */
            CHECK(got.width == 16 && got.height == 24);
            CHECK(memcmp(got.data, plain.data + (size_t)15 * 24 * 3, 3) == 0);
        }
        fer_image_free(&got);
        fer_image_free(&want);
        free(b);
    }
    free(jpg);
    fer_image_free(&pic);
    fer_image_free(&plain);
}

/* ---- bad input ---- */

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
    tmp_path(path, sizeof(path), "bad.jpg");
    fer_image_save_jpeg(&pic, path, 90, NULL);
    uint8_t *jpg = slurp(path, &jlen);
    tmp_path(path, sizeof(path), "bad.png");
    fer_image_save_png(&pic, path, NULL);
    uint8_t *png = slurp(path, &plen);

    uint8_t junk[1000];
    synth_fill(5, junk, sizeof(junk));
    junk[0] = 0x00;
    check_bad(junk, 0, FER_ERR_FORMAT, "empty");
    check_bad(junk, sizeof(junk), FER_ERR_FORMAT, "not a JPEG or PNG");
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
    CHECK(fer_image_load(tmp_dir, 0, 0, &img, err) == FER_ERR_IO);
    tmp_path(path, sizeof(path), "empty.jpg");
    write_bytes(path, NULL, 0);
    CHECK(fer_image_load(path, 0, 0, &img, err) == FER_ERR_FORMAT && strstr(err, "empty"));
    tmp_path(path, sizeof(path), "half.jpg");
    write_bytes(path, jpg, jlen / 2);
    CHECK(fer_image_load(path, 1, 0, &img, err) == FER_ERR_FORMAT && strstr(err, path));
    free(jpg);
    free(png);
    fer_image_free(&pic);
}

/* Random byte changes must decode or fail cleanly, never crash or leak. */
TEST(test_mutations)
{
    char path[256];
    fer_image pic = make_picture(32, 24, 3, 9);
    const char *names[2] = {"m.jpg", "m.png"};
    int ok = 0, failed = 0;
    for (int k = 0; k < 2; k++) {
        tmp_path(path, sizeof(path), names[k]);
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
    tmp_path(png_path, sizeof(png_path), "fault.png");
    tmp_path(jpg_path, sizeof(jpg_path), "fault.jpg");
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

TEST(test_shared_photos)
{
    const char *dir = check_shared_data();
    if (!dir) {
        printf("  skip: shared data not found (../shared/data or FER_SHARED_DATA)\n");
        return;
    }
    FILE *f = fopen(REFERENCE, "r");
    if (!f) {
        printf("  skip: %s not found (run from the repository root)\n", REFERENCE);
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

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmp_dir);
}

int main(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/fer_test_image_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_new_free);
    RUN(test_gray_formula);
    RUN(test_orient);
    RUN(test_png_roundtrip);
    RUN(test_jpeg_roundtrip);
    RUN(test_jpeg_cmyk);
    RUN(test_jpeg_scan_limit);
    RUN(test_png_layouts);
    RUN(test_resize_hand);
    RUN(test_resize_reference);
    RUN(test_exif);
    RUN(test_bad_input);
    RUN(test_mutations);
    RUN(test_alloc_faults);
    RUN(test_shared_photos);
    remove_tmp_dir();
    return check_report();
}
