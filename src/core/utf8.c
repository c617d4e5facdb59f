/*
 * utf8.c - UTF-8 validation, after RFC 3629's table of well-formed byte sequences.
 */
#include "core/utf8.h"

#include <string.h>

int fer_utf8_sequence(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    int len = s[0] < 0x80             ? 1
              : (s[0] & 0xE0) == 0xC0 ? 2
              : (s[0] & 0xF0) == 0xE0 ? 3
              : (s[0] & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || (size_t)len > n)
        return 0;
    if (len == 2 && s[0] < 0xC2)
        return 0; /* overlong */
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((len == 3 && s[0] == 0xE0 && s[1] < 0xA0) || (len == 3 && s[0] == 0xED && s[1] >= 0xA0) ||
        (len == 4 && s[0] == 0xF0 && s[1] < 0x90) ||
        (len == 4 && (s[0] > 0xF4 || (s[0] == 0xF4 && s[1] >= 0x90))))
        return 0; /* overlong, a surrogate, or past U+10FFFF */
    return len;
}

int fer_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n;) {
        int len = fer_utf8_sequence(p + i, n - i);
        if (len == 0)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

void fer_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int len = fer_utf8_sequence(p + i, n - i);
        if (len == 0)
            p[i++] = '?';
        else
            i += (size_t)len;
    }
}
