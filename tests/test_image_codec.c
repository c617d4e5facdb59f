/*
 * test_image_codec.c - the image module's decoders and encoders: PNG and
 * JPEG round trips (1 and 3 channels, quality and path errors, no temporary
 * file left behind), Adobe CMYK JPEGs, PNG layouts fer never writes
 * (palette, 16-bit, alpha, interlaced, 1-bit) and EXIF orientation tags,
 * well formed and broken.
 *
 * Fixtures are written into a fresh directory under /tmp (image_fixture.h)
 * with fer's own encoders, or with libpng and libjpeg directly for layouts
 * fer never writes.
 */
#include <png.h>

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "check.h"
#include "image/image.h"
#include "image_fixture.h"
#include "tmp_dir.h"

/* ---- round trips ---- */

TEST(test_png_roundtrip)
{
    char path[256], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "rt.png");
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
    test_tmp_path(path, sizeof(path), "rt.jpg");
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

/* ---- layouts fer never writes ---- */

/* Adobe CMYK JPEGs become RGB with OpenCV's formula: R = K - (255 - C) * K / 256, ... */
TEST(test_jpeg_cmyk)
{
    enum { W = 16, H = 8 };
    uint8_t cmyk[W * H * 4], back[W * H * 4];
    synth_fill(17, cmyk, sizeof(cmyk));
    unsigned long len;
    unsigned char *buf = raw_jpeg(cmyk, W, H, 4, JCS_CMYK, 100, NULL, 0, &len);
    struct jpeg_error_mgr jerr;
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
    test_tmp_path(path, sizeof(path), "layout.png");
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

/* ---- EXIF ---- */

TEST(test_exif)
{
    char path[256], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "exif.jpg");
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

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_image_codec_XXXXXX") != 0)
        return 1;
    RUN(test_png_roundtrip);
    RUN(test_jpeg_roundtrip);
    RUN(test_jpeg_cmyk);
    RUN(test_png_layouts);
    RUN(test_exif);
    test_tmp_remove();
    return check_report();
}
