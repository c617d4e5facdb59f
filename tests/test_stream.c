/*
 * test_stream.c - the WebSocket framing (RFC 6455's own examples, every protocol error) and
 * GET /v1/stream on a real server on 127.0.0.1: the handshake and its refusals, frames of a
 * photo answered with tracked faces that match POST /v1/predict, fragments with a ping between
 * them, bad messages that do not end the stream, protocol errors that do (with the right close
 * code), the stream limit, the close handshake, the idle timeout, metrics, and a server that
 * stops with a stream open.
 *
 * The client here writes frames with its own code (masked, as browsers do) and reads the
 * server's frames without the library's reader, so the two sides are not the same code.
 * tests/stream_interop.sh checks the server again with an independent client library, over
 * TLS too, and tests/browser.sh with Chromium.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/progress.h"
#include "fer.h"
#include "http_client.h"
#include "server/server.h"
#include "server/websocket.h"
#include "storage/store.h"

#define PHOTO      "tests/data/photos/grace_hopper.jpg"
#define MAX_UPLOAD (1u << 20)

static fer_engine *engine;
static fer_store *store;
static fer_server *server;
static int port;
static uint8_t *photo;
static size_t photo_len;

/* ---- the framing, without a server ------------------------------------------------------- */

TEST(test_accept_key)
{
    char out[FER_WS_ACCEPT_LEN + 1];
    /* RFC 6455, section 1.3 */
    CHECK(fer_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out) == 0);
    CHECK(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK(fer_ws_accept_key("", out) == -1);
    CHECK(fer_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out) == -1);   /* 23 characters */
    CHECK(fer_ws_accept_key("dGhlIHNhbXBsZSBub25jZSE=", out) == -1); /* 17 bytes */
    CHECK(fer_ws_accept_key("dGhlIHNhbXBsZSBub25jZ!==", out) == -1); /* not base64 */
}

/* Reads every message from bytes fed all at once and one byte at a time: both must agree. */
static int read_all(const uint8_t *bytes, size_t n, int require_mask, size_t max,
                    struct fer_ws_message *out, uint8_t copies[][300], int cap, unsigned *code,
                    int *error)
{
    int count[2] = {0, 0};
    *error = 0;
    for (int pass = 0; pass < 2; pass++) {
        fer_ws_reader *r = fer_ws_reader_new(max, require_mask);
        char reason[FER_WS_MAX_CONTROL - 1];
        enum fer_ws_read k = FER_WS_READ_MORE;
        size_t step = pass ? 1 : n;
        for (size_t i = 0; i < n && k != FER_WS_READ_ERROR; i += step) {
            fer_ws_reader_feed(r, bytes + i, step < n - i ? step : n - i);
            struct fer_ws_message m;
            while ((k = fer_ws_reader_next(r, &m, code, reason)) == FER_WS_READ_MESSAGE) {
                if (count[pass] < cap) {
                    out[count[pass]] = m;
                    memcpy(copies[count[pass]], m.data, m.len < 300 ? m.len : 300);
                    out[count[pass]].data = copies[count[pass]];
                }
                count[pass]++;
            }
        }
        if (k == FER_WS_READ_ERROR)
            *error = 1;
        fer_ws_reader_free(r);
    }
    return count[0] == count[1] ? count[0] : -1;
}

TEST(test_reader_rfc_examples)
{
    struct fer_ws_message m[4];
    uint8_t copies[4][300];
    unsigned code;
    int error;
    /* RFC 6455, section 5.7 */
    const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    CHECK(read_all(hello, sizeof(hello), 0, 1000, m, copies, 4, &code, &error) == 1 && !error);
    CHECK(m[0].opcode == FER_WS_TEXT && m[0].len == 5 && !memcmp(m[0].data, "Hello", 5));
    CHECK(read_all(hello, sizeof(hello), 1, 1000, m, copies, 4, &code, &error) == 0 && error);
    CHECK(code == FER_WS_CLOSE_PROTOCOL); /* a server refuses unmasked frames */
    const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    CHECK(read_all(masked, sizeof(masked), 1, 1000, m, copies, 4, &code, &error) == 1 && !error);
    CHECK(m[0].len == 5 && !memcmp(m[0].data, "Hello", 5));
    const uint8_t fragments[] = {0x01, 0x03, 'H',  'e',  'l',  0x89, 0x02, 'h',
                                 'i',  0x8A, 0x00, 0x80, 0x02, 'l',  'o'};
    CHECK(read_all(fragments, sizeof(fragments), 0, 1000, m, copies, 4, &code, &error) == 2);
    CHECK(!error && m[0].opcode == FER_WS_PING && m[0].len == 2); /* between the fragments */
    CHECK(m[1].opcode == FER_WS_TEXT && m[1].len == 5 && !memcmp(m[1].data, "Hello", 5));
    /* lengths of 256 and 65536 bytes, in 16 and 64 bits */
    static uint8_t big[10 + 65536];
    uint8_t h[FER_WS_MAX_HEADER];
    for (size_t n = 256; n <= 65536; n *= 256) {
        size_t k = fer_ws_frame_header(h, FER_WS_BINARY, n, NULL);
        CHECK(k == (n == 256 ? 4u : 10u));
        memcpy(big, h, k);
        memset(big + k, 7, n);
        CHECK(read_all(big, k + n, 0, 65536, m, copies, 4, &code, &error) == 1 && !error);
        CHECK(m[0].opcode == FER_WS_BINARY && m[0].len == n && copies[0][0] == 7);
    }
    /* a close frame's code and reason */
    uint8_t close[2 + FER_WS_MAX_CONTROL];
    size_t n = fer_ws_close_payload(close + 2, 1000, "bye");
    close[0] = 0x88;
    close[1] = (uint8_t)n;
    CHECK(read_all(close, 2 + n, 0, 1000, m, copies, 4, &code, &error) == 1 && !error);
    CHECK(m[0].opcode == FER_WS_CLOSE && m[0].close_code == 1000 && m[0].len == 3);
    const uint8_t empty_close[] = {0x88, 0x00};
    CHECK(read_all(empty_close, 2, 0, 1000, m, copies, 4, &code, &error) == 1);
    CHECK(m[0].close_code == FER_WS_CLOSE_NO_STATUS);
}

/* One malformed input: the reader must stop with the close code wanted. */
static void expect_error(const uint8_t *bytes, size_t n, size_t max, unsigned want)
{
    struct fer_ws_message m[4];
    uint8_t copies[4][300];
    unsigned code = 0;
    int error = 0;
    read_all(bytes, n, 0, max, m, copies, 4, &code, &error);
    if (!error || code != want)
        fprintf(stderr, "  first byte %02x: error %d, code %u, wanted %u\n", bytes[0], error, code,
                want);
    CHECK(error && code == want);
}

TEST(test_reader_protocol_errors)
{
    const uint8_t rsv[] = {0xC1, 0x01, 'a'};
    expect_error(rsv, sizeof(rsv), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t opcode3[] = {0x83, 0x00};
    expect_error(opcode3, sizeof(opcode3), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t opcode11[] = {0x8B, 0x00};
    expect_error(opcode11, sizeof(opcode11), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t lone_continuation[] = {0x80, 0x01, 'a'};
    expect_error(lone_continuation, sizeof(lone_continuation), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t interrupted[] = {0x01, 0x01, 'a', 0x81, 0x01, 'b'};
    expect_error(interrupted, sizeof(interrupted), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t fragmented_ping[] = {0x09, 0x00};
    expect_error(fragmented_ping, sizeof(fragmented_ping), 100, FER_WS_CLOSE_PROTOCOL);
    uint8_t long_ping[2 + 126 + 2] = {0x89, 0x7E, 0x00, 0x7E};
    expect_error(long_ping, sizeof(long_ping), 1000, FER_WS_CLOSE_PROTOCOL);
    const uint8_t top_bit[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1};
    expect_error(top_bit, sizeof(top_bit), 100, FER_WS_CLOSE_PROTOCOL);
    /* too big, as one frame and as fragments that add up */
    const uint8_t big[] = {0x82, 0x7E, 0x01, 0x00};
    expect_error(big, sizeof(big), 255, FER_WS_CLOSE_TOO_BIG);
    uint8_t parts[2 * (2 + 100)] = {0x02, 100};
    parts[102] = 0x80;
    parts[103] = 100;
    expect_error(parts, sizeof(parts), 150, FER_WS_CLOSE_TOO_BIG);
    const uint8_t bad_utf8[] = {0x81, 0x02, 0xC0, 0xAF};
    expect_error(bad_utf8, sizeof(bad_utf8), 100, FER_WS_CLOSE_INVALID_DATA);
    const uint8_t split_utf8_bad[] = {0x01, 0x01, 0xE2, 0x80, 0x01, 0x41};
    expect_error(split_utf8_bad, sizeof(split_utf8_bad), 100, FER_WS_CLOSE_INVALID_DATA);
    const uint8_t close_one_byte[] = {0x88, 0x01, 0x03};
    expect_error(close_one_byte, sizeof(close_one_byte), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t close_1005[] = {0x88, 0x02, 0x03, 0xED};
    expect_error(close_1005, sizeof(close_1005), 100, FER_WS_CLOSE_PROTOCOL);
    const uint8_t close_bad_reason[] = {0x88, 0x04, 0x03, 0xE8, 0xFF, 0xFE};
    expect_error(close_bad_reason, sizeof(close_bad_reason), 100, FER_WS_CLOSE_INVALID_DATA);
    /* a character split across fragments is fine */
    struct fer_ws_message m[2];
    uint8_t copies[2][300];
    unsigned code;
    int error;
    const uint8_t split_utf8[] = {0x01, 0x01, 0xE2, 0x80, 0x02, 0x82, 0xAC};
    CHECK(read_all(split_utf8, sizeof(split_utf8), 0, 100, m, copies, 2, &code, &error) == 1);
    CHECK(!error && m[0].len == 3);
}

TEST(test_close_payload_cut_on_a_character)
{
    char reason[200];
    memset(reason, 'a', sizeof(reason));
    memcpy(reason + 121, "\xE2\x82\xAC", 3); /* a euro sign across the 123-byte limit */
    reason[199] = 0;
    uint8_t out[FER_WS_MAX_CONTROL];
    size_t n = fer_ws_close_payload(out, 1001, reason);
    CHECK(n == 2 + 121 && out[0] == 0x03 && out[1] == 0xE9);
}

/* ---- a client ---------------------------------------------------------------------------- */

struct client {
    int fd;
    char head[2048]; /* the handshake's answer */
    int status;
};

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Opens a stream with the given path and extra headers; 0 when the server answered 101. */
static int ws_open_once(struct client *c, const char *path, const char *extra)
{
    memset(c, 0, sizeof(*c));
    c->fd = raw_connect();
    if (c->fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: "
                     "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, port, extra ? extra : "");
    if (send_all(c->fd, req, (size_t)n) != 0)
        return -1;
    size_t len = 0; /* byte by byte, so nothing after the headers is consumed */
    while (len + 1 < sizeof(c->head) && !(len >= 4 && !memcmp(c->head + len - 4, "\r\n\r\n", 4))) {
        if (recv(c->fd, c->head + len, 1, 0) != 1)
            break;
        len++;
    }
    c->head[len] = 0;
    sscanf(c->head, "HTTP/1.1 %d", &c->status);
    return c->status == 101 ? 0 : -1;
}

static void ws_close_fd(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/*
 * ws_open_once, trying again for a while when all the server's streams (2 here) are taken:
 * the previous test's streams end on their own threads, a moment after their clients leave.
 */
static int ws_open(struct client *c, const char *path, const char *extra)
{
    for (int i = 0; i < 50; i++) {
        int r = ws_open_once(c, path, extra);
        if (r == 0 || c->status != 503)
            return r;
        ws_close_fd(c);
        usleep(100 * 1000);
    }
    return -1;
}

/* Sends one frame, masked; fin 0 for a fragment. */
static int ws_send(struct client *c, int opcode, int fin, const void *data, size_t n)
{
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t h[FER_WS_MAX_HEADER];
    size_t k = fer_ws_frame_header(h, (enum fer_ws_opcode)opcode, n, mask);
    if (!fin)
        h[0] &= 0x7F;
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, data, n);
    fer_ws_mask(copy, n, mask, 0);
    int r = send_all(c->fd, h, k) || send_all(c->fd, copy, n) ? -1 : 0;
    free(copy);
    return r;
}

static int recv_exact(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one server frame (written here, not with the library's reader); its opcode, or -1. */
static int ws_recv(struct client *c, char **data, size_t *len)
{
    uint8_t h[8];
    *data = NULL;
    if (recv_exact(c->fd, h, 2) != 0)
        return -1;
    uint64_t n = h[1] & 0x7F;
    int opcode = h[0] & 0x0F;
    if ((h[1] & 0x80) || !(h[0] & 0x80))
        return -2; /* the server masked a frame or fragmented one: neither is expected */
    if (n == 126) {
        if (recv_exact(c->fd, h, 2) != 0)
            return -1;
        n = (uint64_t)h[0] << 8 | h[1];
    } else if (n == 127) {
        if (recv_exact(c->fd, h, 8) != 0)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | h[i];
    }
    *data = malloc(n + 1);
    if (recv_exact(c->fd, (uint8_t *)*data, n) != 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    (*data)[n] = 0;
    *len = n;
    return opcode;
}

/* A JSON string member, or "" (never NULL). */
static const char *text_of(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* The next text message as JSON (NULL when the next frame is not text). */
static json_t *ws_recv_json(struct client *c)
{
    char *d;
    size_t n;
    int op = ws_recv(c, &d, &n);
    json_t *o = op == FER_WS_TEXT ? json_loadb(d, n, 0, NULL) : NULL;
    if (!o)
        fprintf(stderr, "  expected a JSON text message, got opcode %d: %.200s\n", op,
                d ? d : "(nothing)");
    free(d);
    return o;
}

/* The close frame's code, or -1 when the next frame is not a close. */
static int ws_recv_close(struct client *c, char *reason, size_t cap)
{
    char *d;
    size_t n;
    int op;
    while ((op = ws_recv(c, &d, &n)) == FER_WS_TEXT)
        free(d); /* answers still on their way */
    int code = -1;
    if (op == FER_WS_CLOSE && n >= 2) {
        code = (uint8_t)d[0] << 8 | (uint8_t)d[1];
        snprintf(reason, cap, "%.*s", (int)(n - 2), d + 2);
    }
    free(d);
    return code;
}

/* 1 when the server closed the connection (a read returns end of file). */
static int ws_ended(struct client *c)
{
    char b;
    return recv(c->fd, &b, 1, 0) == 0;
}

/* ---- the route --------------------------------------------------------------------------- */

TEST(test_handshake_refusals)
{
    struct resp r;
    CHECK(get("/v1/stream", NULL, &r) == 0 && is_json_error(&r, 426));
    char v[64];
    CHECK(!strcasecmp(header(&r, "Upgrade", v, sizeof(v)), "websocket"));
    resp_free(&r);
    struct client c;
    const char *bad_version =
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
        "Connection: close\r\n\r\n";
    CHECK(http_raw(bad_version, strlen(bad_version), &r) == 0 && is_json_error(&r, 426));
    CHECK(!strcmp(header(&r, "Sec-WebSocket-Version", v, sizeof(v)), "13"));
    resp_free(&r);
    const char *bad_key =
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n";
    CHECK(http_raw(bad_key, strlen(bad_key), &r) == 0 && is_json_error(&r, 400));
    CHECK(r.body && strstr(r.body, "Sec-WebSocket-Key"));
    resp_free(&r);
    CHECK(ws_open(&c, "/v1/stream", "Origin: http://evil.example\r\n") != 0 && c.status == 403);
    ws_close_fd(&c);
    CHECK(ws_open(&c, "/v1/stream?detect_every=0", NULL) != 0 && c.status == 400);
    ws_close_fd(&c);
    CHECK(ws_open(&c, "/v1/stream?smooth=abc", NULL) != 0 && c.status == 400);
    ws_close_fd(&c);
    CHECK(post("/v1/stream", "image/jpeg", "x", 1, &r) == 0 && is_json_error(&r, 405));
    resp_free(&r);
}

TEST(test_handshake_and_hello)
{
    char origin[96];
    snprintf(origin, sizeof(origin), "Origin: http://127.0.0.1:%d\r\n", port);
    struct client c;
    CHECK(ws_open(&c, "/v1/stream?detect_every=3&smooth=0.25&forget=2", origin) == 0);
    CHECK(strstr(c.head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
    CHECK(strcasestr(c.head, "Upgrade: websocket\r\n") != NULL);
    json_t *hello = ws_recv_json(&c);
    CHECK(hello != NULL);
    json_t *opt = json_object_get(hello, "options");
    CHECK(json_integer_value(json_object_get(opt, "detect_every")) == 3);
    CHECK_NEAR(json_real_value(json_object_get(opt, "smooth")), 0.25, 1e-9);
    CHECK_NEAR(json_real_value(json_object_get(opt, "forget")), 2, 1e-9);
    CHECK(json_array_size(json_object_get(json_object_get(hello, "model"), "classes")) == 7);
    json_decref(hello);
    ws_close_fd(&c);
}

/* The first face of POST /v1/predict on the photo. */
static json_t *predicted_face(void)
{
    struct resp r;
    json_t *face = NULL;
    if (post("/v1/predict", "image/jpeg", photo, photo_len, &r) == 0 && r.status == 200) {
        json_t *o = body_json(&r);
        face = json_incref(json_array_get(json_object_get(o, "faces"), 0));
        json_decref(o);
    }
    resp_free(&r);
    return face;
}

TEST(test_frames_give_tracked_faces)
{
    json_t *want = predicted_face();
    CHECK(want != NULL);
    struct client c;
    CHECK(ws_open(&c, "/v1/stream?detect_every=2&forget=30", NULL) == 0);
    json_decref(ws_recv_json(&c)); /* hello */
    for (int i = 1; i <= 4; i++) {
        CHECK(ws_send(&c, FER_WS_BINARY, 1, photo, photo_len) == 0);
        json_t *o = ws_recv_json(&c);
        CHECK(o && json_integer_value(json_object_get(o, "frame")) == i);
        CHECK(json_is_true(json_object_get(o, "detected")) == (i % 2 == 1));
        json_t *faces = json_object_get(o, "faces");
        json_t *f = json_array_get(faces, 0);
        CHECK(json_array_size(faces) == 1);
        CHECK(!strcmp(text_of(f, "id"), "1")); /* one track */
        json_t *box = json_object_get(f, "box"), *wbox = json_object_get(want, "box");
        CHECK(json_equal(box, wbox)); /* the same detector on the same picture */
        CHECK(!strcmp(text_of(f, "emotion"), text_of(want, "emotion")) && text_of(f, "emotion")[0]);
        CHECK(json_object_get(f, "landmarks") && json_object_get(f, "probabilities"));
        CHECK(json_integer_value(json_object_get(json_object_get(o, "image"), "width")) > 0);
        json_decref(o);
    }
    json_decref(want);
    ws_close_fd(&c);
}

TEST(test_fragments_and_ping)
{
    struct client c;
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    size_t third = photo_len / 3;
    CHECK(ws_send(&c, FER_WS_BINARY, 0, photo, third) == 0);
    CHECK(ws_send(&c, FER_WS_PING, 1, "are you there", 13) == 0);
    CHECK(ws_send(&c, FER_WS_CONTINUATION, 0, photo + third, third) == 0);
    CHECK(ws_send(&c, FER_WS_CONTINUATION, 1, photo + 2 * third, photo_len - 2 * third) == 0);
    char *d;
    size_t n;
    CHECK(ws_recv(&c, &d, &n) == FER_WS_PONG && n == 13 && !memcmp(d, "are you there", 13));
    free(d);
    json_t *o = ws_recv_json(&c);
    CHECK(o && json_array_size(json_object_get(o, "faces")) == 1);
    json_decref(o);
    ws_close_fd(&c);
}

TEST(test_bad_messages_keep_the_stream)
{
    struct client c;
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    CHECK(ws_send(&c, FER_WS_TEXT, 1, "{\"hello\": 1}", 12) == 0);
    json_t *o = ws_recv_json(&c);
    CHECK(o && strstr(text_of(o, "error"), "binary message"));
    json_decref(o);
    CHECK(ws_send(&c, FER_WS_BINARY, 1, "not a picture", 13) == 0);
    o = ws_recv_json(&c);
    CHECK(o && json_integer_value(json_object_get(o, "frame")) == 1);
    CHECK(o && strstr(text_of(o, "error"), "not a JPEG"));
    json_decref(o);
    CHECK(ws_send(&c, FER_WS_BINARY, 1, photo, photo_len / 2) == 0); /* a truncated JPEG */
    o = ws_recv_json(&c);
    CHECK(o && json_integer_value(json_object_get(o, "frame")) == 2);
    json_decref(o);
    CHECK(ws_send(&c, FER_WS_BINARY, 1, photo, photo_len) == 0);
    o = ws_recv_json(&c);
    CHECK(o && json_integer_value(json_object_get(o, "frame")) == 3);
    CHECK(o && json_array_size(json_object_get(o, "faces")) == 1);
    json_decref(o);
    ws_close_fd(&c);
}

TEST(test_protocol_errors_close)
{
    struct client c;
    char reason[128];
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    const uint8_t unmasked[] = {0x82, 0x01, 'x'};
    CHECK(send_all(c.fd, unmasked, sizeof(unmasked)) == 0);
    CHECK(ws_recv_close(&c, reason, sizeof(reason)) == FER_WS_CLOSE_PROTOCOL);
    CHECK(strstr(reason, "masked") != NULL);
    CHECK(ws_ended(&c));
    ws_close_fd(&c);

    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    uint8_t h[FER_WS_MAX_HEADER];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t k = fer_ws_frame_header(h, FER_WS_BINARY, 2 * MAX_UPLOAD, mask);
    CHECK(send_all(c.fd, h, k) == 0); /* declared too big: refused before the body */
    CHECK(ws_recv_close(&c, reason, sizeof(reason)) == FER_WS_CLOSE_TOO_BIG);
    CHECK(ws_ended(&c));
    ws_close_fd(&c);
}

TEST(test_close_handshake)
{
    struct client c;
    char reason[128];
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    uint8_t payload[FER_WS_MAX_CONTROL];
    size_t n = fer_ws_close_payload(payload, 4000, "done");
    CHECK(ws_send(&c, FER_WS_CLOSE, 1, payload, n) == 0);
    CHECK(ws_recv_close(&c, reason, sizeof(reason)) == 4000); /* echoed */
    CHECK(ws_ended(&c));
    ws_close_fd(&c);
}

TEST(test_stream_limit)
{
    struct client c[3];
    CHECK(ws_open(&c[0], "/v1/stream", NULL) == 0);
    CHECK(ws_open(&c[1], "/v1/stream", NULL) == 0);
    CHECK(ws_open_once(&c[2], "/v1/stream", NULL) != 0 && c[2].status == 503);
    CHECK(strstr(c[2].head, "Retry-After: 5") != NULL);
    ws_close_fd(&c[2]);
    json_decref(ws_recv_json(&c[0]));
    ws_close_fd(&c[0]); /* a client that leaves without a close frame frees its place too */
    int opened = -1;
    for (int i = 0; i < 50 && opened != 0; i++) {
        usleep(100 * 1000);
        opened = ws_open_once(&c[2], "/v1/stream", NULL);
        if (opened != 0)
            ws_close_fd(&c[2]);
    }
    CHECK(opened == 0);
    ws_close_fd(&c[1]);
    ws_close_fd(&c[2]);
}

TEST(test_idle_stream_is_closed)
{
    struct client c;
    char reason[128];
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    /* the server's timeout is 2 s: it says goodbye with 1001 */
    CHECK(ws_recv_close(&c, reason, sizeof(reason)) == FER_WS_CLOSE_GOING_AWAY);
    CHECK(strstr(reason, "no message for 2 s") != NULL);
    ws_close_fd(&c);
}

static long metric(const char *text, const char *name)
{
    char key[96];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

TEST(test_metrics_count_streams)
{
    struct resp r;
    CHECK(get("/metrics", NULL, &r) == 0 && r.status == 200);
    long frames = metric(r.body, "fer_stream_frames_total");
    resp_free(&r);
    struct client c;
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    CHECK(ws_send(&c, FER_WS_BINARY, 1, photo, photo_len) == 0);
    json_decref(ws_recv_json(&c));
    CHECK(get("/metrics", NULL, &r) == 0 && r.status == 200);
    CHECK(metric(r.body, "fer_stream_frames_total") == frames + 1);
    CHECK(metric(r.body, "fer_streams_open") >= 1);
    resp_free(&r);
    ws_close_fd(&c);
}

static void *stop_server(void *arg)
{
    (void)arg;
    fer_server_stop(server);
    return NULL;
}

TEST(test_server_stop_closes_streams)
{
    struct client c;
    char reason[128];
    CHECK(ws_open(&c, "/v1/stream", NULL) == 0);
    json_decref(ws_recv_json(&c));
    pthread_t t;
    double t0 = fer_now();
    pthread_create(&t, NULL, stop_server, NULL);
    CHECK(ws_recv_close(&c, reason, sizeof(reason)) == FER_WS_CLOSE_GOING_AWAY);
    CHECK(strstr(reason, "stopping") != NULL);
    pthread_join(t, NULL);
    server = NULL;
    CHECK(fer_now() - t0 < 1.5); /* at once, not after the 2 s idle timeout */
    ws_close_fd(&c);
}

/* ---- set-up -------------------------------------------------------------------------------- */

static int read_photo(void)
{
    FILE *f = fopen(PHOTO, "rb");
    if (!f)
        return -1;
    photo = malloc(1 << 20);
    photo_len = fread(photo, 1, 1 << 20, f);
    fclose(f);
    return photo_len > 0 ? 0 : -1;
}

int main(void)
{
    char err[FER_ERR_LEN];
    RUN(test_accept_key);
    RUN(test_reader_rfc_examples);
    RUN(test_reader_protocol_errors);
    RUN(test_close_payload_cut_on_a_character);
    struct fer_server_config c;
    fer_server_config_default(&c);
    c.port = 0;
    c.threads = 2;
    c.max_streams = 2;
    c.timeout_s = 2;
    c.max_upload_bytes = MAX_UPLOAD;
    if (read_photo() != 0 || fer_engine_open(NULL, &engine, err) != FER_OK ||
        fer_store_open("sqlite::memory:", &store, err) != FER_OK ||
        fer_server_start(&c, engine, store, &server, err) != FER_OK) {
        fprintf(stderr, "set-up: %s\n", photo ? err : "no " PHOTO);
        check_failed++;
    } else {
        port = fer_server_port(server);
        http_client_port = port;
        RUN(test_handshake_refusals);
        RUN(test_handshake_and_hello);
        RUN(test_frames_give_tracked_faces);
        RUN(test_fragments_and_ping);
        RUN(test_bad_messages_keep_the_stream);
        RUN(test_protocol_errors_close);
        RUN(test_close_handshake);
        RUN(test_stream_limit);
        RUN(test_idle_stream_is_closed);
        RUN(test_metrics_count_streams);
        RUN(test_server_stop_closes_streams);
    }
    fer_server_stop(server);
    fer_store_close(store);
    fer_engine_close(engine);
    free(photo);
    return check_report();
}
