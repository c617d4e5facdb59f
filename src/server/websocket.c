/*
 * websocket.c - RFC 6455 framing: the accept key (SHA-1 from GnuTLS, which libmicrohttpd
 * already uses for HTTPS), frame headers, masking, and the reader's state machine.
 *
 * The reader keeps the bytes received in `raw`; `pos` is where the next frame starts. A frame
 * is taken only once all of it is in. An unfragmented message is returned in place (unmasked
 * inside `raw`); fragments are copied into `msg` until the last one arrives. Control frames
 * (ping, pong, close) may come between fragments, as the RFC allows.
 */
#include "server/websocket.h"

#include <gnutls/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"
#include "server/base64.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int fer_ws_accept_key(const char *key, char out[FER_WS_ACCEPT_LEN + 1])
{
    uint8_t *nonce = NULL;
    size_t n = 0;
    char err[256];
    if (strlen(key) != FER_WS_KEY_LEN ||
        fer_base64_decode(key, FER_WS_KEY_LEN, 16, &nonce, &n, err) != FER_OK)
        return -1;
    fer_free(nonce);
    if (n != 16)
        return -1;
    char text[FER_WS_KEY_LEN + sizeof(WS_GUID)];
    snprintf(text, sizeof(text), "%s%s", key, WS_GUID);
    uint8_t digest[20];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, text, strlen(text), digest) != 0)
        return -1;
    char *b64 = fer_base64_encode(digest, sizeof(digest));
    if (!b64)
        return -1;
    snprintf(out, FER_WS_ACCEPT_LEN + 1, "%s", b64);
    fer_free(b64);
    return 0;
}

size_t fer_ws_frame_header(uint8_t out[FER_WS_MAX_HEADER], enum fer_ws_opcode op, uint64_t n,
                           const uint8_t *mask)
{
    size_t k = 0;
    out[k++] = (uint8_t)(0x80 | op);
    uint8_t masked = mask ? 0x80 : 0;
    if (n < 126) {
        out[k++] = (uint8_t)(masked | n);
    } else if (n <= 0xFFFF) {
        out[k++] = masked | 126;
        out[k++] = (uint8_t)(n >> 8);
        out[k++] = (uint8_t)n;
    } else {
        out[k++] = masked | 127;
        for (int s = 56; s >= 0; s -= 8)
            out[k++] = (uint8_t)(n >> s);
    }
    if (mask) {
        memcpy(out + k, mask, 4);
        k += 4;
    }
    return k;
}

void fer_ws_mask(uint8_t *data, size_t n, const uint8_t mask[4], size_t offset)
{
    for (size_t i = 0; i < n; i++)
        data[i] ^= mask[(offset + i) & 3];
}

size_t fer_ws_close_payload(uint8_t out[FER_WS_MAX_CONTROL], unsigned code, const char *reason)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason ? strlen(reason) : 0;
    if (n > FER_WS_MAX_CONTROL - 2)
        n = FER_WS_MAX_CONTROL - 2;
    while (n > 0 && !fer_utf8_valid(reason, n))
        n--; /* cut on a character boundary */
    memcpy(out + 2, reason, n);
    return n + 2;
}

struct fer_ws_reader {
    size_t max_message;
    int require_mask;
    uint8_t *raw; /* bytes received; frames start at pos */
    size_t pos, len, cap;
    uint8_t *msg; /* the fragments of the message being joined */
    size_t msg_len, msg_cap;
    int in_message;                /* a fragmented message has begun */
    enum fer_ws_opcode msg_opcode; /* its opcode, text or binary */
    int failed;
    unsigned fail_code;
    char fail_reason[FER_WS_MAX_CONTROL - 1];
};

fer_ws_reader *fer_ws_reader_new(size_t max_message, int require_mask)
{
    fer_ws_reader *r = fer_calloc(1, sizeof(*r));
    if (r) {
        r->max_message = max_message;
        r->require_mask = require_mask;
    }
    return r;
}

void fer_ws_reader_free(fer_ws_reader *r)
{
    if (!r)
        return;
    fer_free(r->raw);
    fer_free(r->msg);
    fer_free(r);
}

/* Room for n more bytes after len in *buf (capacity *cap, doubling from 64 KB); -1 when out
   of memory. */
static int reserve(uint8_t **buf, size_t *cap, size_t len, size_t n)
{
    if (n <= *cap - len)
        return 0;
    size_t want = *cap ? *cap : 64 * 1024;
    while (want - len < n)
        want *= 2;
    uint8_t *p = fer_realloc(*buf, want);
    if (!p)
        return -1;
    *buf = p;
    *cap = want;
    return 0;
}

int fer_ws_reader_feed(fer_ws_reader *r, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (r->pos > 0 && r->pos == r->len) {
        r->pos = r->len = 0;
    } else if (r->pos > 0 && r->len + n > r->cap) {
        memmove(r->raw, r->raw + r->pos, r->len - r->pos); /* drop the frames taken */
        r->len -= r->pos;
        r->pos = 0;
    }
    if (reserve(&r->raw, &r->cap, r->len, n) != 0)
        return -1;
    memcpy(r->raw + r->len, data, n);
    r->len += n;
    return 0;
}

static enum fer_ws_read fail(fer_ws_reader *r, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum fer_ws_read fail(fer_ws_reader *r, unsigned code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail_reason, sizeof(r->fail_reason), fmt, ap);
    va_end(ap);
    r->failed = 1;
    r->fail_code = code;
    return FER_WS_READ_ERROR;
}

/* A frame's header, as parsed. */
struct frame {
    int fin;
    enum fer_ws_opcode opcode;
    size_t header_len;
    uint64_t payload_len;
    const uint8_t *mask; /* NULL: unmasked */
};

static int is_control(enum fer_ws_opcode op)
{
    return op >= FER_WS_CLOSE;
}

/* Parses the header at p (n bytes there): 1 done, 0 more bytes needed, or an error. */
static int parse_header(fer_ws_reader *r, const uint8_t *p, size_t n, struct frame *f)
{
    if (n < 2)
        return 0;
    f->fin = p[0] >> 7;
    f->opcode = (enum fer_ws_opcode)(p[0] & 0x0F);
    if (p[0] & 0x70)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "reserved bits set: no extension was agreed");
    if (f->opcode > FER_WS_BINARY && !is_control(f->opcode))
        return fail(r, FER_WS_CLOSE_PROTOCOL, "unknown opcode %d", f->opcode);
    if (f->opcode > FER_WS_PONG)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "unknown opcode %d", f->opcode);
    int masked = p[1] >> 7;
    if (r->require_mask && !masked)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "a client's frames must be masked");
    uint64_t len = p[1] & 0x7F;
    size_t k = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        k = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        if (p[2] & 0x80)
            return fail(r, FER_WS_CLOSE_PROTOCOL, "a frame length with its top bit set");
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p[i];
        k = 10;
    }
    if (is_control(f->opcode) && (!f->fin || len > FER_WS_MAX_CONTROL))
        return fail(r, FER_WS_CLOSE_PROTOCOL,
                    "a control frame must be whole and carry at most 125 bytes");
    if (!is_control(f->opcode) && len > r->max_message - (f->opcode ? 0 : r->msg_len))
        return fail(r, FER_WS_CLOSE_TOO_BIG, "a message over %zu bytes", r->max_message);
    if (masked && n < k + 4)
        return 0;
    f->mask = masked ? p + k : NULL;
    f->header_len = k + (masked ? 4 : 0);
    f->payload_len = len;
    return 1;
}

/* A close frame's code and reason, checked (section 7.4). */
static enum fer_ws_read read_close(fer_ws_reader *r, uint8_t *data, size_t n,
                                   struct fer_ws_message *m)
{
    m->opcode = FER_WS_CLOSE;
    m->close_code = FER_WS_CLOSE_NO_STATUS;
    m->data = data;
    m->len = 0;
    if (n == 0)
        return FER_WS_READ_MESSAGE;
    if (n == 1)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "a close frame of one byte");
    unsigned code = (unsigned)data[0] << 8 | data[1];
    int valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                (code >= 3000 && code <= 4999);
    if (!valid)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "close code %u is not one a peer may send", code);
    if (!fer_utf8_valid(data + 2, n - 2))
        return fail(r, FER_WS_CLOSE_INVALID_DATA, "a close reason that is not UTF-8");
    m->close_code = code;
    m->data = data + 2;
    m->len = n - 2;
    return FER_WS_READ_MESSAGE;
}

/* A data frame's payload: a whole message, the first or a later fragment of one. */
static enum fer_ws_read read_data(fer_ws_reader *r, const struct frame *f, uint8_t *data, size_t n,
                                  struct fer_ws_message *m)
{
    if (f->opcode == FER_WS_CONTINUATION && !r->in_message)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "a continuation frame with no message begun");
    if (f->opcode != FER_WS_CONTINUATION && r->in_message)
        return fail(r, FER_WS_CLOSE_PROTOCOL, "a new message before the last one ended");
    if (f->opcode != FER_WS_CONTINUATION && f->fin) {
        m->opcode = f->opcode; /* whole: returned where it lies */
        m->data = data;
        m->len = n;
    } else {
        if (f->opcode != FER_WS_CONTINUATION) {
            r->in_message = 1;
            r->msg_opcode = f->opcode;
            r->msg_len = 0;
        }
        if (reserve(&r->msg, &r->msg_cap, r->msg_len, n) != 0)
            return fail(r, FER_WS_CLOSE_INTERNAL, "out of memory for a message");
        if (n > 0) /* (an empty first fragment leaves msg unallocated) */
            memcpy(r->msg + r->msg_len, data, n);
        r->msg_len += n;
        if (!f->fin)
            return FER_WS_READ_MORE;
        r->in_message = 0;
        m->opcode = r->msg_opcode;
        m->data = r->msg ? r->msg : (const uint8_t *)""; /* all fragments empty */
        m->len = r->msg_len;
        r->msg_len = 0; /* the message stays in msg until the next one begins */
    }
    if (m->opcode == FER_WS_TEXT && !fer_utf8_valid(m->data, m->len))
        return fail(r, FER_WS_CLOSE_INVALID_DATA, "a text message that is not UTF-8");
    return FER_WS_READ_MESSAGE;
}

enum fer_ws_read fer_ws_reader_next(fer_ws_reader *r, struct fer_ws_message *m, unsigned *code,
                                    char reason[FER_WS_MAX_CONTROL - 1])
{
    memset(m, 0, sizeof(*m));
    for (;;) {
        if (r->failed) {
            *code = r->fail_code;
            snprintf(reason, FER_WS_MAX_CONTROL - 1, "%s", r->fail_reason);
            return FER_WS_READ_ERROR;
        }
        struct frame f = {0};
        int h = parse_header(r, r->raw + r->pos, r->len - r->pos, &f);
        if (h <= 0) {
            if (h == 0)
                return FER_WS_READ_MORE;
            continue; /* failed: reported above */
        }
        if (f.payload_len > r->len - r->pos - f.header_len)
            return FER_WS_READ_MORE;
        uint8_t *data = r->raw + r->pos + f.header_len;
        size_t n = (size_t)f.payload_len;
        if (f.mask)
            fer_ws_mask(data, n, f.mask, 0);
        r->pos += f.header_len + n;
        enum fer_ws_read k;
        switch (f.opcode) {
        case FER_WS_PONG:
            continue; /* fer sends no pings: a pong is unsolicited, and ignored */
        case FER_WS_PING:
            m->opcode = FER_WS_PING;
            m->data = data;
            m->len = n;
            return FER_WS_READ_MESSAGE;
        case FER_WS_CLOSE:
            k = read_close(r, data, n, m);
            break;
        default:
            k = read_data(r, &f, data, n, m);
            break;
        }
        if (k == FER_WS_READ_MESSAGE)
            return k; /* errors are reported at the top; a fragment asks for the next frame */
    }
}
