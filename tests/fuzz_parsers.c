/*
 * fuzz_parsers.c - one libFuzzer target for the parsers that read what users
 * and clients send: the first input byte picks the parser, the rest is its
 * input.
 *
 *   0 cascade XML (fer_cascade_load_xml_memory), then a detection with it
 *   1 multipart/form-data: the Content-Type up to the first newline, then the body
 *   2 base64 and data: URLs (fer_base64_decode)
 *   3 model files (fer_model_load_memory); when (byte / 6) is odd, with the
 *     checksum sealed again after mutation
 *   4 architecture specs (fer_spec_parse, then fer_net_new)
 *   5 pictures (fer_image_decode: JPEG, PNG)
 *
 * Not built by default (it needs -DFER_FUZZ and clang's -fsanitize=fuzzer);
 * `make fuzz` builds build/fuzz_parsers and build/fuzz_csv, and
 *
 *   mkdir -p build/fuzz-out
 *   build/fuzz_parsers -max_total_time=300 -max_len=65536 build/fuzz-out tests/corpus/parsers
 *
 * runs it from the seeds in tests/corpus/parsers/ (their first byte is the
 * parser's number; a real cascade makes a good extra seed: 0 followed by
 * /usr/share/opencv4/haarcascades/haarcascade_licence_plate_rus_16stages.xml).
 * Each parser must return FER_OK or an error with a message, and never crash,
 * leak or read out of bounds; the ordinary tests (test_detect,
 * test_http_parsers, test_nn, test_image_errors) replay seeded mutations of
 * the same kinds.
 */
#ifdef FER_FUZZ

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sha256.h"
#include "detect/cascade.h"
#include "image/image.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "nn/spec.h"
#include "server/base64.h"
#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A contract violation is what the fuzzer looks for: an error without a message. */
static void check(enum fer_status st, const char *err)
{
    if (st != FER_OK && err[0] == '\0')
        abort();
}

static void fuzz_cascade(const uint8_t *d, size_t n)
{
    char err[FER_ERR_LEN] = "";
    fer_cascade *c = NULL;
    enum fer_status st = fer_cascade_load_xml_memory((const char *)d, n, "fuzz.xml", &c, err);
    check(st, err);
    if ((st == FER_OK) != (c != NULL))
        abort();
    if (c) {
        uint8_t px[40 * 32];
        for (size_t i = 0; i < sizeof(px); i++)
            px[i] = (uint8_t)(i * 7 + i / 40 * 13);
        fer_image img = {.width = 40, .height = 32, .channels = 1, .data = px};
        struct fer_detect_params p = fer_detect_defaults();
        p.min_neighbors = 0;
        fer_rect *r = NULL;
        size_t nr = 0;
        check(fer_cascade_detect(c, &img, &p, &r, &nr, err), err);
        fer_free(r);
        fer_cascade_free(c);
    }
}

static void fuzz_multipart(const uint8_t *d, size_t n)
{
    const uint8_t *nl = memchr(d, '\n', n);
    size_t tlen = nl ? (size_t)(nl - d) : n;
    char *type = malloc(tlen + 1);
    if (!type)
        return;
    memcpy(type, d, tlen);
    type[tlen] = '\0';
    const uint8_t *body = nl ? nl + 1 : d + n;
    size_t blen = (size_t)(d + n - body);
    struct fer_multipart_part parts[FER_MULTIPART_MAX_PARTS];
    size_t np = 0;
    char err[FER_ERR_LEN] = "";
    enum fer_status st = fer_multipart_parse(type, body, blen, parts, &np, err);
    check(st, err);
    for (size_t i = 0; st == FER_OK && i < np; i++)
        if (parts[i].data < body || parts[i].data + parts[i].len > body + blen)
            abort();
    free(type);
}

static void fuzz_base64(const uint8_t *d, size_t n)
{
    uint8_t *out = NULL;
    size_t on = 0;
    char err[FER_ERR_LEN] = "";
    enum fer_status st = fer_base64_decode((const char *)d, n, 4096, &out, &on, err);
    check(st, err);
    if (st == FER_OK && on > 4096)
        abort();
    fer_free(out);
}

/*
 * With `reseal`, the file's trailing SHA-256 is computed again over the
 * mutated bytes first, so the fuzzer reaches the section parser behind the
 * checksum.
 */
static void fuzz_model(const uint8_t *in, size_t n, int reseal)
{
    uint8_t *d = malloc(n ? n : 1);
    if (!d)
        return;
    memcpy(d, in, n);
    if (reseal && n > 40) {
        fer_sha256 sha;
        fer_sha256_init(&sha);
        fer_sha256_update(&sha, d, n - 32);
        fer_sha256_final(&sha, d + n - 32);
    }
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    char err[FER_ERR_LEN] = "";
    enum fer_status st = fer_model_load_memory(d, n, "fuzz.fer", 2, &net, &meta, NULL, err);
    check(st, err);
    if (net)
        fer_net_forward(net, 1, 0);
    fer_net_free(net);
    fer_meta_clear(&meta);
    free(d);
}

static void fuzz_spec(const uint8_t *d, size_t n)
{
    char *text = malloc(n + 1);
    if (!text)
        return;
    memcpy(text, d, n);
    text[n] = '\0';
    fer_spec *spec = NULL;
    fer_net *net = NULL;
    char err[FER_ERR_LEN] = "";
    enum fer_status st = fer_spec_parse(text, "fuzz.cfg", &spec, err);
    check(st, err);
    /* small nets only: the fuzzer is after parser bugs, not slow forward passes */
    if (st == FER_OK && (st = fer_net_new(spec, 7, 1, &net, err)) == FER_OK &&
        fer_net_flops(net) < 50e6) {
        fer_net_init_weights(net, 1);
        fer_net_forward(net, 1, 0);
    }
    check(st, err);
    fer_net_free(net);
    fer_spec_free(spec);
    free(text);
}

static void fuzz_image(const uint8_t *d, size_t n)
{
    fer_image img = {0};
    char err[FER_ERR_LEN] = "";
    /* a small pixel limit keeps each run fast; the limit is part of what is tested */
    check(fer_image_decode(d, n, "fuzz.img", n % 2, 1 << 20, &img, err), err);
    fer_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *d = data + 1;
    const size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        fuzz_cascade(d, n);
        break;
    case 1:
        fuzz_multipart(d, n);
        break;
    case 2:
        fuzz_base64(d, n);
        break;
    case 3:
        fuzz_model(d, n, data[0] / 6 % 2);
        break;
    case 4:
        fuzz_spec(d, n);
        break;
    default:
        fuzz_image(d, n);
        break;
    }
    return 0;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fer_fuzz_parsers_disabled;
#endif
