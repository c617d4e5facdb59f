/*
 * websocket.h - the WebSocket protocol (RFC 6455) as fer's server speaks it once an HTTP
 * request is upgraded: the handshake's accept key, frame headers to write, and a reader that
 * turns the bytes received into whole messages: it unmasks them, joins fragments, checks
 * that text is UTF-8, and reports every protocol error as the close code and reason to send.
 * No sockets here: stream.c moves the bytes, and the fuzzer feeds the reader directly.
 *
 *     fer_ws_reader *r = fer_ws_reader_new(max_message, 1);
 *     (bytes arrive) fer_ws_reader_feed(r, buf, n);
 *     while ((k = fer_ws_reader_next(r, &m, &code, reason)) == FER_WS_READ_MESSAGE)
 *         (handle m: binary, text, ping, close)
 *     if (k == FER_WS_READ_ERROR) (send a close frame with code and reason, then stop)
 */
#ifndef FER_SERVER_WEBSOCKET_H
#define FER_SERVER_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

enum fer_ws_opcode {
    FER_WS_CONTINUATION = 0x0,
    FER_WS_TEXT = 0x1,
    FER_WS_BINARY = 0x2,
    FER_WS_CLOSE = 0x8,
    FER_WS_PING = 0x9,
    FER_WS_PONG = 0xA,
};

/* The close codes fer sends (RFC 6455, section 7.4.1). */
enum fer_ws_close_code {
    FER_WS_CLOSE_NORMAL = 1000,
    FER_WS_CLOSE_GOING_AWAY = 1001, /* the server stops, or the client went quiet */
    FER_WS_CLOSE_PROTOCOL = 1002,
    FER_WS_CLOSE_NO_STATUS = 1005, /* received only: a close frame without a code */
    FER_WS_CLOSE_INVALID_DATA = 1007,
    FER_WS_CLOSE_TOO_BIG = 1009,
    FER_WS_CLOSE_INTERNAL = 1011,
};

#define FER_WS_MAX_HEADER  14  /* 2 bytes, an 8-byte length, a 4-byte mask */
#define FER_WS_MAX_CONTROL 125 /* the most payload a control frame may carry */
#define FER_WS_KEY_LEN     24  /* Sec-WebSocket-Key: the base64 of 16 bytes */
#define FER_WS_ACCEPT_LEN  28  /* Sec-WebSocket-Accept: the base64 of a SHA-1 */

/*
 * The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key: base64(SHA-1(key + the
 * protocol's GUID)), 28 characters and a NUL. -1 when key is not the base64 of 16 bytes.
 */
int fer_ws_accept_key(const char *key, char out[FER_WS_ACCEPT_LEN + 1]);

/*
 * Writes the header of one whole (FIN) frame carrying n payload bytes, masked with mask when
 * it is not NULL (clients mask every frame, servers none; the caller masks the payload with
 * fer_ws_mask). Returns the header's length, 2 to FER_WS_MAX_HEADER.
 */
size_t fer_ws_frame_header(uint8_t out[FER_WS_MAX_HEADER], enum fer_ws_opcode op, uint64_t n,
                           const uint8_t *mask);
/* XORs n bytes with the 4-byte mask, starting at the mask's byte `offset % 4`. */
void fer_ws_mask(uint8_t *data, size_t n, const uint8_t mask[4], size_t offset);
/* A close frame's payload: the code (big-endian) and reason, cut to fit 125 bytes on a
   character boundary. Returns its length. */
size_t fer_ws_close_payload(uint8_t out[FER_WS_MAX_CONTROL], unsigned code, const char *reason);

/* One message read: a whole data message (fragments joined) or one control frame. */
struct fer_ws_message {
    enum fer_ws_opcode opcode; /* FER_WS_TEXT, _BINARY, _PING or _CLOSE (pongs are skipped) */
    const uint8_t *data;       /* valid until the next feed or next on the reader */
    size_t len;
    unsigned close_code; /* FER_WS_CLOSE: the peer's code (FER_WS_CLOSE_NO_STATUS when none);
                            data and len are then its reason */
};

enum fer_ws_read {
    FER_WS_READ_MORE = 0,    /* no whole message yet: feed more bytes */
    FER_WS_READ_MESSAGE = 1, /* *m holds the next message */
    FER_WS_READ_ERROR = -1,  /* the peer broke the protocol: close with *code and reason */
};

typedef struct fer_ws_reader fer_ws_reader;

/*
 * A reader of messages of at most max_message bytes (longer ones are an error, close code
 * 1009). require_mask: 1 on a server, where unmasked frames are an error. NULL when out of
 * memory.
 */
fer_ws_reader *fer_ws_reader_new(size_t max_message, int require_mask);
void fer_ws_reader_free(fer_ws_reader *r);
/* Appends n received bytes; -1 when out of memory. */
int fer_ws_reader_feed(fer_ws_reader *r, const void *data, size_t n);
/*
 * The next message. On FER_WS_READ_ERROR, *code and reason (FER_WS_MAX_CONTROL - 1 bytes and a
 * NUL) say why; the reader then stays in error.
 */
enum fer_ws_read fer_ws_reader_next(fer_ws_reader *r, struct fer_ws_message *m, unsigned *code,
                                    char reason[FER_WS_MAX_CONTROL - 1]);

#endif
