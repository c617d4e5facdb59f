/*
 * multipart.c - multipart/form-data parsing over a body held in memory. Every search is
 * bounded by the body's length; nothing is copied but the short header values.
 */
#include "server/multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_BYTES 8192 /* the header block of one part */

/* Copies the value of parameter `key` (key=value or key="value") from a header's tail. */
static int header_param(const char *h, size_t n, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 1 <= n; i++) {
        /* the parameter must start the header or follow ';' or whitespace */
        if (i > 0 && h[i - 1] != ';' && h[i - 1] != ' ' && h[i - 1] != '\t')
            continue;
        if (strncasecmp(h + i, key, klen) != 0 || h[i + klen] != '=')
            continue;
        size_t p = i + klen + 1, o = 0;
        if (p < n && h[p] == '"') {
            for (p++; p < n && h[p] != '"'; p++) {
                if (h[p] == '\\' && p + 1 < n)
                    p++;
                if (o + 1 < cap)
                    out[o++] = h[p];
            }
            if (p >= n)
                return 0; /* no closing quote */
        } else {
            for (; p < n && h[p] != ';' && h[p] != ' ' && h[p] != '\t'; p++)
                if (o + 1 < cap)
                    out[o++] = h[p];
        }
        out[o] = 0;
        return 1;
    }
    return 0;
}

enum fer_status fer_multipart_boundary(const char *content_type, char boundary[72], char *err)
{
    const char *semi = strchr(content_type, ';');
    if (!semi || !header_param(semi, strlen(semi), "boundary", boundary, 72))
        return fer_errorf(err, FER_ERR_FORMAT, "multipart body: no boundary in the Content-Type");
    size_t n = strlen(boundary);
    if (n == 0 || n > 70)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "multipart body: the boundary must have 1 to 70 characters");
    return FER_OK;
}

/* The first occurrence of needle in hay[from..n), or n when there is none. */
static size_t find(const uint8_t *hay, size_t n, size_t from, const char *needle, size_t k)
{
    if (from > n || n - from < k)
        return n;
    const void *p = memmem(hay + from, n - from, needle, k);
    return p ? (size_t)((const uint8_t *)p - hay) : n;
}

static void copy_trimmed(char *out, size_t cap, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

/* Reads the header lines of one part, h[0..n), into the part's name, filename and type. */
static void parse_headers(const char *h, size_t n, struct fer_multipart_part *part)
{
    size_t line = 0;
    while (line < n) {
        size_t end = line;
        while (end < n && !(h[end] == '\r' && end + 1 < n && h[end + 1] == '\n'))
            end++;
        const char *l = h + line;
        size_t len = end - line;
        const char *cd = "content-disposition:", *ct = "content-type:";
        if (len > strlen(cd) && strncasecmp(l, cd, strlen(cd)) == 0) {
            header_param(l, len, "name", part->name, sizeof(part->name));
            header_param(l, len, "filename", part->filename, sizeof(part->filename));
        } else if (len > strlen(ct) && strncasecmp(l, ct, strlen(ct)) == 0) {
            copy_trimmed(part->content_type, sizeof(part->content_type), l + strlen(ct),
                         len - strlen(ct));
        }
        line = end + 2;
    }
}

enum fer_status fer_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
                                    struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS],
                                    size_t *n_parts, char *err)
{
    *n_parts = 0;
    char boundary[72], delim[80];
    enum fer_status st = fer_multipart_boundary(content_type, boundary, err);
    if (st != FER_OK)
        return st;
    /* "\r\n--boundary": every delimiter but a first one at offset 0 starts with CRLF */
    int dn = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    size_t dlen = (size_t)dn;
    size_t p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        p = dlen - 2;
    else if ((p = find(body, len, 0, delim, dlen)) < len)
        p += dlen; /* after a preamble */
    else
        return fer_errorf(err, FER_ERR_FORMAT, "multipart body: no boundary delimiter found");
    for (;;) {
        if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-')
            return FER_OK; /* the close delimiter; an epilogue after it is ignored */
        while (p < len && (body[p] == ' ' || body[p] == '\t'))
            p++; /* transport padding */
        if (len - p < 2 || body[p] != '\r' || body[p + 1] != '\n')
            return fer_errorf(err, FER_ERR_FORMAT,
                              "multipart body: a delimiter not followed by a line break");
        p += 2;
        if (*n_parts == FER_MULTIPART_MAX_PARTS)
            return fer_errorf(err, FER_ERR_FORMAT, "multipart body: more than %d parts",
                              FER_MULTIPART_MAX_PARTS);
        struct fer_multipart_part *part = &parts[*n_parts];
        memset(part, 0, sizeof(*part));
        size_t data;
        if (len - p >= 2 && body[p] == '\r' && body[p + 1] == '\n') {
            data = p + 2; /* a part without headers */
        } else {
            size_t end = find(body, len, p, "\r\n\r\n", 4);
            if (end == len || end - p > MAX_HEADER_BYTES)
                return fer_errorf(err, FER_ERR_FORMAT,
                                  "multipart body: part %zu has no blank line after its headers",
                                  *n_parts + 1);
            parse_headers((const char *)body + p, end - p, part);
            data = end + 4;
        }
        size_t next = find(body, len, data, delim, dlen);
        if (next == len)
            return fer_errorf(err, FER_ERR_FORMAT,
                              "multipart body: part %zu is not closed by a boundary (truncated?)",
                              *n_parts + 1);
        part->data = body + data;
        part->len = next - data;
        (*n_parts)++;
        p = next + dlen;
    }
}
