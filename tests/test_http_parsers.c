/*
 * test_http_parsers.c - the server's request parsers on their own: base64
 * (plain, data: URLs, unpadded, corrupt, over the limit) and multipart/form-data
 * (quoted boundaries, lookalike delimiters, truncation; every prefix of a body
 * under ASan; thousands of randomly mutated bodies, headers and base64 texts).
 */
#include <stdint.h>

#include "check.h"
#include "core/alloc.h"
#include "core/rng.h"
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

/*
 * Random byte changes to a body, its Content-Type and a base64 text: each parse
 * gives parts that lie inside the body, or an error with a message. The copies
 * are heap blocks of the exact length, so ASan sees any read past the end.
 */
TEST(test_mutations)
{
    const char *body = "--b0undary\r\nContent-Disposition: form-data; name=\"image\"; "
                       "filename=\"face.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n"
                       "--b0undary\r\nContent-Disposition: form-data; name=\"tta\"\r\n\r\nflip\r\n"
                       "--b0undary--\r\n";
    const char *type = "multipart/form-data; boundary=\"b0undary\"";
    const char *b64 = "data:image/png;base64,aGVsbG8gd29ybGQsIGEgZmFjZSBpbWFnZQ==";
    static const char pick[] = "-\r\n\";=: b0aZ/+";
    const char *texts[3] = {body, type, b64};
    int ok = 0, refused = 0;
    for (int k = 0; k < 3; k++) {
        const size_t len = strlen(texts[k]);
        for (int i = 0; i < 1500; i++) {
            fer_rng rng;
            fer_rng_seed(&rng, 5, (uint64_t)k, (uint64_t)i, 0);
            /* change 1-4 bytes, and sometimes cut the end off */
            size_t n = fer_rng_below(&rng, 5) ? len : (size_t)fer_rng_below(&rng, len + 1);
            /* exactly n bytes, so a read past the end is caught; the header needs its NUL */
            char *b = malloc(n + (k == 1) + (n == 0));
            CHECK(b != NULL);
            if (!b)
                return;
            memcpy(b, texts[k], n);
            if (k == 1)
                b[n] = '\0';
            for (int j = 0, changes = 1 + (int)fer_rng_below(&rng, 4); n && j < changes; j++)
                b[fer_rng_below(&rng, n)] = fer_rng_below(&rng, 4)
                                                ? pick[fer_rng_below(&rng, sizeof(pick) - 1)]
                                                : (char)(1 + fer_rng_below(&rng, 255));
            char err[FER_ERR_LEN] = "";
            enum fer_status st;
            if (k == 2) {
                uint8_t *d = NULL;
                size_t dn = 0;
                st = fer_base64_decode(b, n, 64, &d, &dn, err);
                CHECK(st != FER_OK || dn <= 64);
                fer_free(d);
            } else {
                struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS];
                size_t np = 0;
                const uint8_t *data = (const uint8_t *)(k == 0 ? b : body);
                const size_t dlen = k == 0 ? n : strlen(body);
                st = fer_multipart_parse(k == 1 ? b : type, data, dlen, parts, &np, err);
                for (size_t q = 0; st == FER_OK && q < np; q++)
                    CHECK(parts[q].data >= data && parts[q].data + parts[q].len <= data + dlen);
            }
            if (st == FER_OK) {
                ok++;
            } else {
                refused++;
                CHECK(st == FER_ERR_FORMAT || st == FER_ERR_LIMIT);
                CHECK(err[0] != '\0');
            }
            free(b);
        }
    }
    printf("  4500 mutated inputs: %d parsed, %d refused\n", ok, refused);
}

int main(void)
{
    RUN(test_base64);
    RUN(test_multipart_parser);
    RUN(test_mutations);
    return check_report();
}
