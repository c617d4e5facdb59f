/*
 * image.c - allocation of fer_image, RGB -> gray with OpenCV's fixed-point
 * weights, and EXIF orientation: reading the tag, applying the eight
 * rotations and flips.
 */
#include "image/image.h"

#include <string.h>

#include "core/alloc.h"

/*
 * OpenCV 4.6's cvtColor(BGR2GRAY) for 8-bit data: Rec. 601 weights (0.299,
 * 0.587, 0.114) scaled by 2^15 (9798, 19235, 3735; they sum to 32768), with
 * rounding. Checked against cv2 on all 2^24 colours; the 14-bit weights of
 * OpenCV's documentation (4899, 9617, 1868) differ on about 0.3% of them.
 */
enum { GRAY_SHIFT = 15, GRAY_R = 9798, GRAY_G = 19235, GRAY_B = 3735 };

static int valid_shape(int width, int height, int channels)
{
    return width > 0 && height > 0 && (channels == 1 || channels == 3);
}

enum fer_status fer_image_new(int width, int height, int channels, fer_image *img, char *err)
{
    memset(img, 0, sizeof(*img));
    if (!valid_shape(width, height, channels))
        return fer_errorf(err, FER_ERR_ARG,
                          "cannot make a %dx%d image with %d channels (need a positive size and "
                          "1 or 3 channels)",
                          width, height, channels);
    size_t n = (size_t)width * (size_t)height; /* < 2^62: no overflow */
    if (n > FER_IMAGE_MAX_PIXELS)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "a %dx%d image is larger than the limit of %zu pixels", width, height,
                          FER_IMAGE_MAX_PIXELS);
    n *= (size_t)channels;
    uint8_t *data = fer_calloc(n, 1);
    if (!data)
        return fer_errorf(err, FER_ERR_NOMEM,
                          "out of memory allocating a %dx%dx%d image (%zu bytes)", width, height,
                          channels, n);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->data = data;
    return FER_OK;
}

void fer_image_free(fer_image *img)
{
    if (!img)
        return;
    fer_free(img->data);
    memset(img, 0, sizeof(*img));
}

void fer_image_rgb_to_gray_row(const uint8_t *rgb, uint8_t *gray, size_t n)
{
    for (size_t i = 0; i < n; i++, rgb += 3) {
        uint32_t v = rgb[0] * (uint32_t)GRAY_R + rgb[1] * (uint32_t)GRAY_G +
                     rgb[2] * (uint32_t)GRAY_B + (1u << (GRAY_SHIFT - 1));
        gray[i] = (uint8_t)(v >> GRAY_SHIFT);
    }
}

enum fer_status fer_image_to_gray(const fer_image *rgb, fer_image *gray, char *err)
{
    if (!rgb || !rgb->data || !valid_shape(rgb->width, rgb->height, rgb->channels))
        return fer_errorf(err, FER_ERR_ARG, "to_gray: the source image is empty or malformed");
    if (gray == rgb)
        return fer_errorf(err, FER_ERR_ARG, "to_gray: the output must be a different image");
    fer_image out;
    enum fer_status st = fer_image_new(rgb->width, rgb->height, 1, &out, err);
    if (st != FER_OK)
        return st;
    size_t n = (size_t)rgb->width * (size_t)rgb->height;
    if (rgb->channels == 1)
        memcpy(out.data, rgb->data, n);
    else
        fer_image_rgb_to_gray_row(rgb->data, out.data, n);
    *gray = out;
    return FER_OK;
}

static unsigned rd16(const uint8_t *p, int le)
{
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)rd16(p, 1) | (uint32_t)rd16(p + 2, 1) << 16
              : (uint32_t)rd16(p, 0) << 16 | (uint32_t)rd16(p + 2, 0);
}

int fer_image_exif_orientation(const uint8_t *tiff, size_t n)
{
    int le;
    if (!tiff || n < 8)
        return 1;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = 0;
    else
        return 1;
    if (rd16(tiff + 2, le) != 42)
        return 1;
    size_t ifd = rd32(tiff + 4, le);
    if (ifd > n || n - ifd < 2)
        return 1;
    unsigned count = rd16(tiff + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = ifd + 2 + (size_t)i * 12;
        if (e > n || n - e < 12)
            break;
        if (rd16(tiff + e, le) == 0x0112) { /* SHORT; OpenCV reads the value without the type */
            unsigned v = rd16(tiff + e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

enum fer_status fer_image_orient(fer_image *img, int orientation, char *err)
{
    if (orientation < 1 || orientation > 8)
        return fer_errorf(err, FER_ERR_ARG, "EXIF orientation %d is not in 1-8", orientation);
    if (orientation == 1)
        return FER_OK;
    if (!img || !img->data || !valid_shape(img->width, img->height, img->channels))
        return fer_errorf(err, FER_ERR_ARG, "orient: the image is empty or malformed");
    /*
     * Output pixel (x, y) comes from input pixel index base + x*dx + y*dy.
     * 2 mirrors, 3 rotates 180, 4 flips; 5-8 transpose first, as OpenCV's
     * ApplyExifOrientation does (6: rotate 90 clockwise, 8: counter-clockwise).
     */
    ptrdiff_t w = img->width, h = img->height, base = 0, dx = 1, dy = w;
    switch (orientation) {
    case 2:
        base = w - 1, dx = -1, dy = w;
        break;
    case 3:
        base = (h - 1) * w + w - 1, dx = -1, dy = -w;
        break;
    case 4:
        base = (h - 1) * w, dx = 1, dy = -w;
        break;
    case 5:
        base = 0, dx = w, dy = 1;
        break;
    case 6:
        base = (h - 1) * w, dx = -w, dy = 1;
        break;
    case 7:
        base = (h - 1) * w + w - 1, dx = -w, dy = -1;
        break;
    default: /* 8 */
        base = w - 1, dx = w, dy = -1;
        break;
    }
    int ow = orientation >= 5 ? img->height : img->width;
    int oh = orientation >= 5 ? img->width : img->height;
    int cn = img->channels;
    fer_image out;
    enum fer_status st = fer_image_new(ow, oh, cn, &out, err);
    if (st != FER_OK)
        return st;
    uint8_t *d = out.data;
    for (ptrdiff_t y = 0; y < oh; y++) {
        ptrdiff_t s = base + y * dy;
        if (cn == 1) {
            for (ptrdiff_t x = 0; x < ow; x++, s += dx)
                *d++ = img->data[s];
        } else {
            for (ptrdiff_t x = 0; x < ow; x++, s += dx, d += 3)
                memcpy(d, img->data + s * 3, 3);
        }
    }
    fer_image_free(img);
    *img = out;
    return FER_OK;
}
