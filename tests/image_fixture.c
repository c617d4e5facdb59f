/* image_fixture.c - pictures and files for the image tests (image_fixture.h). */
#include "image_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synth_fill(uint64_t seed, uint8_t *out, size_t n)
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

fer_image make_picture(int w, int h, int cn, uint64_t seed)
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

int same_image(const fer_image *a, const fer_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels) == 0;
}

uint8_t *slurp(const char *path, size_t *len)
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

void put16(uint8_t *p, unsigned v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

void put32(uint8_t *p, uint32_t v, int be)
{
    put16(p + (be ? 0 : 2), v >> 16, be);
    put16(p + (be ? 2 : 0), v & 0xFFFF, be);
}

uint8_t *splice_exif(const uint8_t *jpg, size_t len, int orientation, int be, uint32_t ifd,
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

unsigned char *raw_jpeg(const uint8_t *pix, int w, int h, int components, J_COLOR_SPACE cs,
                        int quality, const jpeg_scan_info *scans, int n_scans, unsigned long *len)
{
    struct jpeg_error_mgr jerr;
    struct jpeg_compress_struct cc;
    unsigned char *buf = NULL;
    *len = 0;
    cc.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cc);
    jpeg_mem_dest(&cc, &buf, len);
    cc.image_width = (JDIMENSION)w, cc.image_height = (JDIMENSION)h;
    cc.input_components = components;
    cc.in_color_space = cs;
    jpeg_set_defaults(&cc);
    jpeg_set_quality(&cc, quality, TRUE);
    if (n_scans > 0) {
        cc.scan_info = scans;
        cc.num_scans = n_scans;
    }
    jpeg_start_compress(&cc, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)y * (size_t)w * (size_t)components);
        jpeg_write_scanlines(&cc, &row, 1);
    }
    jpeg_finish_compress(&cc);
    jpeg_destroy_compress(&cc);
    return buf;
}
