/* base64.c - base64 encoding and a lenient but strict-about-garbage decoder (RFC 4648). */
#include "server/base64.h"

#include <string.h>

#include "core/alloc.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, -1 for whitespace, -2 for anything else. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
        return -1;
    return -2;
}

enum fer_status fer_base64_decode(const char *s, size_t n, size_t max_out, uint8_t **out,
                                  size_t *out_len, char *err)
{
    *out = NULL;
    *out_len = 0;
    /* data:[<media type>][;base64],<data> */
    if (n >= 5 && memcmp(s, "data:", 5) == 0) {
        const char *comma = memchr(s, ',', n);
        if (!comma)
            return fer_errorf(err, FER_ERR_FORMAT, "base64: a data URL without a comma");
        n -= (size_t)(comma + 1 - s);
        s = comma + 1;
    }
    size_t cap = n / 4 * 3 + 3;
    if (cap > max_out + 3)
        cap = max_out + 3;
    uint8_t *buf = fer_malloc(cap);
    if (!buf)
        return fer_errorf(err, FER_ERR_NOMEM, "base64: out of memory for %zu bytes", cap);
    uint32_t acc = 0;
    int bits = 0, padding = 0;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            padding = 1;
            continue;
        }
        int v = sextet(c);
        if (v == -1)
            continue;
        if (v < 0 || padding) {
            fer_free(buf);
            return fer_errorf(err, FER_ERR_FORMAT,
                              v < 0 ? "base64: invalid character at offset %zu"
                                    : "base64: data after '=' padding at offset %zu",
                              i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len >= max_out) {
                fer_free(buf);
                return fer_errorf(err, FER_ERR_LIMIT, "base64: decoded data over %zu bytes",
                                  max_out);
            }
            buf[len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6) { /* one lone character: 6 bits cannot make a byte */
        fer_free(buf);
        return fer_errorf(err, FER_ERR_FORMAT, "base64: truncated (a dangling character)");
    }
    *out = buf;
    *out_len = len;
    return FER_OK;
}

char *fer_base64_encode(const uint8_t *bytes, size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0), len;
    if (!fer_size_mul(groups, 4, &len) || len + 1 < len)
        return NULL;
    char *s = fer_malloc(len + 1);
    if (!s)
        return NULL;
    char *p = s;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        *p++ = ALPHABET[v >> 18];
        *p++ = ALPHABET[(v >> 12) & 63];
        *p++ = ALPHABET[(v >> 6) & 63];
        *p++ = ALPHABET[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (i + 1 < n ? (uint32_t)bytes[i + 1] << 8 : 0);
        *p++ = ALPHABET[v >> 18];
        *p++ = ALPHABET[(v >> 12) & 63];
        *p++ = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
    *p = 0;
    return s;
}
