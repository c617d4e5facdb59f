/*
 * webp.c - WebP pictures through libwebp (Google's decoder, Debian's libwebp-dev): still
 * images, lossy or lossless, with or without alpha (dropped), decoded to RGB. Animated WebP
 * is refused with a message rather than read as its first frame.
 */
#include "image/webp.h"

#include <string.h>
#include <webp/decode.h>

#include "image/image.h"

int fer_webp_is(const uint8_t *b, size_t n)
{
    return n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0;
}

enum fer_status fer_webp_decode(const uint8_t *b, size_t n, const char *name, size_t limit,
                                fer_image *img, char *err)
{
    WebPBitstreamFeatures f;
    VP8StatusCode vs = WebPGetFeatures(b, n, &f);
    if (vs == VP8_STATUS_NOT_ENOUGH_DATA)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: truncated WebP", name);
    if (vs != VP8_STATUS_OK || f.width <= 0 || f.height <= 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: invalid WebP (libwebp status %d)", name,
                          (int)vs);
    if (f.has_animation)
        return fer_errorf(err, FER_ERR_FORMAT, "%s: an animated WebP; only still pictures are read",
                          name);
    if ((size_t)f.width * (size_t)f.height > limit)
        return fer_errorf(err, FER_ERR_LIMIT,
                          "%s: the WebP image is %dx%d, more than the limit of %zu pixels", name,
                          f.width, f.height, limit);
    enum fer_status st = fer_image_new(f.width, f.height, 3, img, err);
    if (st != FER_OK)
        return st;
    size_t stride = (size_t)f.width * 3, size = stride * (size_t)f.height;
    if (!WebPDecodeRGBInto(b, n, img->data, size, (int)stride)) {
        fer_image_free(img);
        return fer_errorf(err, FER_ERR_FORMAT, "%s: invalid or truncated WebP data", name);
    }
    return FER_OK;
}
