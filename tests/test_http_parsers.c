/*
 * test_http_parsers.c - the server's request parsers on their own: base64
 * (plain, data: URLs, unpadded, corrupt, over the limit) and multipart/form-data
 * (quoted boundaries, lookalike delimiters, truncation; every prefix of a body
 * under ASan).
 */
#include <stdint.h>

#include "check.h"
#include "core/alloc.h"
#include "server/base64.h"
#include "server/multipart.h"

TEST(test_base64)
{
    const char *text = "any carnal pleasure.";
    char err[FER_ERR_LEN];
    for (size_t n = 0; n <= strlen(text); n++) {
        char *e = fer_base64_encode((const uint8_t *)text, n);
        uint8_t *d;
        size_t dn;
        CHECK(e && fer_base64_decode(e, strlen(e), 100, &d, &dn, err) == FER_OK);
        CHECK(dn == n && memcmp(d, text, n) == 0);
        fer_free(d);
        fer_free(e);
    }
    uint8_t *d;
    size_t dn;
    CHECK(fer_base64_decode("data:image/png;base64,aGk=", 26, 100, &d, &dn, err) == FER_OK);
    CHECK(dn == 2 && !memcmp(d, "hi", 2));
    fer_free(d);
    CHECK(fer_base64_decode("aG\nk", 4, 100, &d, &dn, err) == FER_OK && dn == 2); /* unpadded */
    fer_free(d);
    CHECK(fer_base64_decode("aGk*", 4, 100, &d, &dn, err) == FER_ERR_FORMAT);
    CHECK(fer_base64_decode("aGk=aGk=", 8, 100, &d, &dn, err) == FER_ERR_FORMAT);
    CHECK(fer_base64_decode("a", 1, 100, &d, &dn, err) == FER_ERR_FORMAT);
    CHECK(fer_base64_decode("aGVsbG8=", 8, 3, &d, &dn, err) == FER_ERR_LIMIT);
}

TEST(test_multipart_parser)
{
    char err[FER_ERR_LEN];
    struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS];
    size_t n;
    const char *body = "preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "one\r\n--XX\r\ncontent-disposition: form-data; name=image; "
                       "filename=\"f;1.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\r\n--X\r\n"
                       "--XX--\r\nepilogue";
    CHECK(fer_multipart_parse("multipart/form-data; boundary=\"XX\"", (const uint8_t *)body,
                              strlen(body), parts, &n, err) == FER_OK);
    CHECK(n == 2);
    CHECK_STR(parts[0].name, "a");
    CHECK(parts[0].len == 3 && !memcmp(parts[0].data, "one", 3));
    CHECK_STR(parts[1].name, "image");
    CHECK_STR(parts[1].filename, "f;1.jpg");
    CHECK_STR(parts[1].content_type, "image/jpeg");
    CHECK(parts[1].len == 5 && !memcmp(parts[1].data, "\r\n--X", 5)); /* not the delimiter */
    /* truncated, no blank line, no boundary, no delimiter at all */
    CHECK(fer_multipart_parse("multipart/form-data; boundary=XX", (const uint8_t *)body,
                              strlen(body) - 20, parts, &n, err) == FER_ERR_FORMAT);
    const char *nohead = "--XX\r\nContent-Disposition: form-data; name=a\r\n";
    CHECK(fer_multipart_parse("multipart/form-data; boundary=XX", (const uint8_t *)nohead,
                              strlen(nohead), parts, &n, err) == FER_ERR_FORMAT);
    CHECK(fer_multipart_parse("multipart/form-data", (const uint8_t *)body, strlen(body), parts, &n,
                              err) == FER_ERR_FORMAT);
    CHECK(fer_multipart_parse("multipart/form-data; boundary=YY", (const uint8_t *)body,
                              strlen(body), parts, &n, err) == FER_ERR_FORMAT);
    /* every prefix of a valid body fails cleanly (ASan watches the reads) */
    for (size_t k = 0; k < strlen(body) - 10; k++) {
        uint8_t *copy = malloc(k + 1);
        memcpy(copy, body, k);
        fer_multipart_parse("multipart/form-data; boundary=XX", copy, k, parts, &n, err);
        free(copy);
    }
}

int main(void)
{
    RUN(test_base64);
    RUN(test_multipart_parser);
    return check_report();
}
