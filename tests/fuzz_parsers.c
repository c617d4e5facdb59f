/*
 * fuzz_parsers.c - the libFuzzer targets for the parsers that read what users and clients
 * send, one binary each (built with -DFER_FUZZ_ONLY=N; `make fuzz` builds build/fuzz_<name>
 * and runs them, scripts/fuzz.sh):
 *
 *   0 cascade    cascade XML (fer_cascade_load_xml_memory), then a detection with it
 *   1 multipart  multipart/form-data: the Content-Type up to the first newline, then the body
 *   2 base64     base64 and data: URLs (fer_base64_decode)
 *   3 model      model files (fer_model_load_memory); inputs of odd length get their checksum
 *                sealed again after mutation, so the fuzzer reaches the sections behind it
 *   4 spec       architecture specs (fer_spec_parse, then fer_net_new)
 *   5 image      pictures (fer_image_decode: JPEG, PNG)
 *   6 ferplus    FER+ vote files (fer_dataset_apply_ferplus on a small FER2013 set)
 *   7 json       JSON bodies of POST /v1/feedback and /v1/predict, through the real handlers
 *                of a server with the built-in model and an in-memory SQLite store
 *   8 yunet      libfacedetection weights files (fer_yunet_import, what `fer import` reads)
 *   9 websocket  bytes a WebSocket client sends to GET /v1/stream (fer_ws_reader), in chunks
 *
 * tests/fuzz_csv.c is the FER2013 CSV reader's. Seeds, and every input that once crashed,
 * are in tests/corpus/<name>/; tests/test_fuzz_corpus.c replays them all through
 * fuzz_run_parser in the ordinary (gcc, sanitizer) test build. Each parser must return
 * FER_OK or an error with a message, and never crash, leak or read out of bounds.
 */
#ifdef FER_FUZZ

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "data/dataset.h"
#include "detect/cascade.h"
#include "detect/yunet.h"
#include "fer.h"
#include "fuzz_parsers.h"
#include "image/image.h"
#include "nn/model_file.h"
#include "nn/net.h"
#include "nn/spec.h"
#include "server/base64.h"
#include "server/multipart.h"
#include "server/server_internal.h"
#include "server/websocket.h"
#include "storage/store.h"

#include <stdio.h>
#include <unistd.h>

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
    if (net && fer_net_flops(net) < 2e6) /* parser bugs, not slow forward passes */
        fer_net_forward(net, 1, 0);
    fer_net_free(net);
    fer_meta_clear(&meta);
    free(d);
}

/*
 * Whether a parsed spec describes a small net: its input's pixels times its widest layer at
 * most 64^3. Larger ones are still parsed, but not built: building allocates their memory,
 * which costs the fuzzer far more than it learns.
 */
static int small_spec(const fer_spec *spec)
{
    double input = 1, widest = 1;
    for (int i = 0; i < spec->n_sections; i++) {
        const struct fer_spec_section *s = &spec->sections[i];
        for (int k = 0; k < s->n_kv; k++) {
            double v = strtod(s->kv[k].value, NULL);
            v = v >= 1 && v < 1e9 ? v : 1;
            const char *key = s->kv[k].key;
            if (!strcmp(s->type, "net") &&
                (!strcmp(key, "width") || !strcmp(key, "height") || !strcmp(key, "channels")))
                input *= v;
            if ((!strcmp(key, "filters") || !strcmp(key, "output")) && v > widest)
                widest = v;
        }
    }
    return input * widest <= 64.0 * 64 * 64;
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
    /* small nets only: the fuzzer is after parser bugs, not allocations and forward passes */
    if (st == FER_OK && small_spec(spec) && (st = fer_net_new(spec, 7, 1, &net, err)) == FER_OK &&
        fer_net_flops(net) < 2e6) {
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

/* Writes d to a file of this process's own; its path. */
static const char *as_file(const uint8_t *d, size_t n, const char *suffix)
{
    static char path[96];
    /* a file in memory where there is a tmpfs: a disk file costs most of an execution */
    static const char *dir;
    if (!dir)
        dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof(path), "%s/fer_fuzz_%ld%s", dir, (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (fwrite(d, 1, n, f) != n || fclose(f) != 0)
        abort();
    return path;
}

/* A copy of a dataset without soft labels, as the FER+ reader gets it (fer_malloc'd). */
static fer_dataset *clone_dataset(const fer_dataset *src)
{
    fer_dataset *ds = fer_calloc(1, sizeof(*ds));
    if (!ds)
        abort();
    *ds = *src;
    ds->pixels = fer_malloc(src->n * FER_FACE_PIXELS);
    ds->labels = fer_malloc(src->n);
    ds->usage = fer_malloc(src->n);
    ds->usage_rank = fer_malloc(src->n * sizeof(uint32_t));
    if (!ds->pixels || !ds->labels || !ds->usage || !ds->usage_rank)
        abort();
    memcpy(ds->pixels, src->pixels, src->n * FER_FACE_PIXELS);
    memcpy(ds->labels, src->labels, src->n);
    memcpy(ds->usage, src->usage, src->n);
    memcpy(ds->usage_rank, src->usage_rank, src->n * sizeof(uint32_t));
    return ds;
}

/* FER+ votes applied to a FER2013 set of four faces (two Training, two PublicTest). */
static void fuzz_ferplus(const uint8_t *d, size_t n)
{
    static fer_dataset *base;
    if (!base) {
        char *text = malloc(4 * 2304 * 4 + 200), *p = text;
        p += sprintf(p, "emotion,pixels,Usage\n");
        for (int r = 0; r < 4; r++) {
            p += sprintf(p, "%d,", r);
            for (int k = 0; k < 2304; k++)
                p += sprintf(p, k ? " %d" : "%d", (r * 31 + k) % 256);
            p += sprintf(p, ",%s\n", r < 2 ? "Training" : "PublicTest");
        }
        const char *csv = as_file((const uint8_t *)text, (size_t)(p - text), ".csv");
        struct fer_read_options o = {0, -1, 0};
        char err[FER_ERR_LEN];
        if (fer_dataset_read_csv(csv, &o, &base, NULL, err) != FER_OK)
            abort();
        free(text);
    }
    const char *path = as_file(d, n, ".ferplus.csv");
    for (int ls = FER_LABELS_FERPLUS_MAJORITY; ls <= FER_LABELS_FERPLUS_SOFT; ls++) {
        fer_dataset *ds = clone_dataset(base);
        char err[FER_ERR_LEN] = "";
        size_t unusable = 0;
        check(fer_dataset_apply_ferplus(ds, path, (enum fer_label_source)ls, 1, &unusable, err),
              err);
        fer_dataset_free(ds);
    }
}

/* JSON bodies through the real handlers, on a server made once. */
static void fuzz_json(const uint8_t *d, size_t n)
{
    static fer_server *server;
    static fer_engine *engine;
    static fer_store *store;
    char err[FER_ERR_LEN] = "";
    if (!server) {
        struct fer_server_config c;
        fer_server_config_default(&c);
        c.port = 0;
        c.max_pixels = 1 << 20; /* small pictures keep each run fast */
        c.threads = 1;
        c.log_requests = 0;
        if (fer_engine_open(NULL, &engine, err) != FER_OK ||
            fer_store_open("sqlite::memory:", &store, err) != FER_OK ||
            fer_server_start(&c, engine, store, &server, err) != FER_OK) {
            fprintf(stderr, "fuzz_json: %s\n", err);
            abort();
        }
    }
    for (int route = 0; route < 2; route++) {
        struct fer_request *rq = fer_calloc(1, sizeof(*rq));
        rq->srv = server;
        rq->reply.fd = -1;
        snprintf(rq->method, sizeof(rq->method), "POST");
        snprintf(rq->url, sizeof(rq->url), route ? "/v1/predict" : "/v1/feedback");
        snprintf(rq->content_type, sizeof(rq->content_type), "application/json");
        rq->body = fer_malloc(n ? n : 1);
        memcpy(rq->body, d, n);
        rq->len = rq->cap = n;
        if (route)
            fer_api_predict(rq);
        else
            fer_api_feedback(rq);
        /* every answer is a status with a body; errors are JSON {"error": ...} */
        if (rq->reply.status < 200 || rq->reply.status > 599 || !rq->reply.body)
            abort();
        if (rq->reply.status >= 400 && !strstr(rq->reply.body, "\"error\""))
            abort();
        fer_reply_clear(&rq->reply);
        fer_free(rq->body);
        fer_free(rq);
    }
}

static void fuzz_yunet(const uint8_t *d, size_t n)
{
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    if (fer_yunet_import((const char *)d, n, "fuzz.cpp", &net, err) == FER_OK && !net)
        abort();
    fer_net_free(net);
}

/*
 * WebSocket bytes: the first byte chooses masking required or not (bit 0) and the size of
 * the chunks fed (the rest); every message must respect the limits, every error be one of
 * the codes the reader sends, with a reason.
 */
static void fuzz_websocket(const uint8_t *d, size_t n)
{
    if (n == 0)
        return;
    enum { MAX = 4096 };
    fer_ws_reader *r = fer_ws_reader_new(MAX, d[0] & 1);
    if (!r)
        abort();
    size_t chunk = 1 + (d[0] >> 1);
    enum fer_ws_read k = FER_WS_READ_MORE;
    for (size_t i = 1; i < n && k != FER_WS_READ_ERROR; i += chunk) {
        if (fer_ws_reader_feed(r, d + i, chunk < n - i ? chunk : n - i) != 0)
            abort();
        struct fer_ws_message m;
        unsigned code;
        char reason[FER_WS_MAX_CONTROL - 1];
        while ((k = fer_ws_reader_next(r, &m, &code, reason)) == FER_WS_READ_MESSAGE) {
            if (m.len > MAX || (m.opcode == FER_WS_TEXT && !fer_utf8_valid(m.data, m.len)))
                abort();
            if (m.opcode == FER_WS_PING && m.len > FER_WS_MAX_CONTROL)
                abort();
            if (m.opcode != FER_WS_TEXT && m.opcode != FER_WS_BINARY && m.opcode != FER_WS_PING &&
                m.opcode != FER_WS_CLOSE)
                abort();
            volatile uint8_t sum = 0; /* every byte of the message is readable */
            for (size_t j = 0; j < m.len; j++)
                sum ^= m.data[j];
            (void)sum;
        }
        if (k == FER_WS_READ_ERROR &&
            ((code != FER_WS_CLOSE_PROTOCOL && code != FER_WS_CLOSE_INVALID_DATA &&
              code != FER_WS_CLOSE_TOO_BIG && code != FER_WS_CLOSE_INTERNAL) ||
             !reason[0]))
            abort();
    }
    fer_ws_reader_free(r);
}

void fuzz_run_parser(int which, const uint8_t *d, size_t n)
{
    switch (which) {
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
        fuzz_model(d, n, 0);
        break;
    case FUZZ_MODEL_SEALED:
        fuzz_model(d, n, 1);
        break;
    case 9:
        fuzz_websocket(d, n);
        break;
    case 4:
        fuzz_spec(d, n);
        break;
    case 5:
        fuzz_image(d, n);
        break;
    case 6:
        fuzz_ferplus(d, n);
        break;
    case 8:
        fuzz_yunet(d, n);
        break;
    default:
        fuzz_json(d, n);
        break;
    }
}

#ifdef FER_FUZZ_ONLY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the model target reseals the checksum on every other input, by its length */
    fuzz_run_parser(FER_FUZZ_ONLY == 3 && size % 2 ? FUZZ_MODEL_SEALED : FER_FUZZ_ONLY, data, size);
    return 0;
}
#endif

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fer_fuzz_parsers_disabled;
#endif
