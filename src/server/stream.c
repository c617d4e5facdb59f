/*
 * stream.c - GET /v1/stream: live video over a WebSocket (RFC 6455), the web app's webcam
 * path. The request is upgraded; then each binary message the client sends is one frame (a
 * JPEG, PNG or WebP picture) and each is answered, in order, by one text message:
 *
 *     {"frame": 1, "time": 0.066, "faces": [<the face schema, "id" the track id>],
 *      "detected": true, "image": {"width": 640, "height": 480}, "elapsed_ms": 9.1,
 *      "timing": {"decode_ms": .., "detect_ms": .., "track_ms": .., "classify_ms": ..}}
 *
 * The first message, before any frame, is {"model": {...}, "options": {...}}. Faces are
 * followed across frames by the library's tracker (fer_tracker_*, as in `fer video`), with the
 * same options under the same names: ?detect_every=2&detect_width=640&smooth=0.5&forget=0.5.
 * A frame that cannot be read is answered {"frame": N, "error": "..."} and the stream goes on;
 * a protocol error closes it with the RFC's code and a reason. Frames are not stored: the web
 * app sends the frame it pauses on to POST /v1/predict, whose faces feedback can name.
 *
 * Each stream has its own thread, up to max_streams at once (more get 503 before the upgrade).
 * A client that sends nothing for timeout_s seconds is closed (1001); so is every stream when
 * the server stops, before libmicrohttpd's daemon is.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "core/alloc.h"
#include "core/progress.h"
#include "image/image.h"
#include "pipeline/face_json.h"
#include "server/server_internal.h"
#include "server/websocket.h"

#define READ_CHUNK (64u * 1024)

struct fer_stream {
    fer_server *srv;
    struct MHD_UpgradeResponseHandle *urh;
    MHD_socket sock;
    pthread_mutex_t send_mu;
    struct fer_tracker_options opt;
    uint8_t *extra; /* bytes libmicrohttpd read past the request's headers */
    size_t extra_len;
    fer_ws_reader *reader;
    fer_tracker *tracker;
    int width, height; /* the frames' size, which the tracker was made for */
    long frames, failed_frames;
    double started;
    char client[64]; /* for the log */
    struct fer_stream *next;
};

/* ---- the handshake (on a polling thread) ------------------------------------------------- */

/* 1 when the comma-separated header value lists token (case-insensitive). */
static int header_has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == n && !strncasecmp(p, token, n))
            return 1;
        p = end;
    }
    return 0;
}

/* Reads a query argument as a number in [lo, hi]; 0, or 1 with a 400 reply set. */
static int option_arg(struct fer_request *rq, const char *key, double lo, double hi, int integer,
                      double *out)
{
    const char *v = fer_request_arg(rq, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi) || (integer && x != floor(x))) {
        fer_reply_error(rq, MHD_HTTP_BAD_REQUEST, "%s=%.40s: expected %s from %g to %g", key, v,
                        integer ? "a whole number" : "a number", lo, hi);
        return 1;
    }
    *out = x;
    return 0;
}

/* The tracker's options from the query (fer video's option names, with '_' for '-'). */
static int read_options(struct fer_request *rq, struct fer_tracker_options *o)
{
    fer_tracker_options_default(o);
    double every = o->detect_every, width = o->detect_width, smooth = o->smooth_seconds,
           forget = o->forget_seconds;
    if (option_arg(rq, "detect_every", 1, 1000, 1, &every) ||
        option_arg(rq, "detect_width", 0, 100000, 1, &width) ||
        option_arg(rq, "smooth", 0, 3600, 0, &smooth) ||
        option_arg(rq, "forget", 0, 3600, 0, &forget))
        return 1;
    o->detect_every = (int)every;
    o->detect_width = (int)width;
    o->smooth_seconds = smooth;
    o->forget_seconds = forget;
    return 0;
}

/* Takes a place among the streams; 0 when they are all taken or the server is stopping. */
static int reserve_stream(fer_server *s)
{
    struct fer_streams *ss = &s->streams;
    pthread_mutex_lock(&ss->mu);
    int ok = !ss->stopping && ss->n_open + ss->n_reserved < s->cfg.max_streams;
    if (ok)
        ss->n_reserved++;
    pthread_mutex_unlock(&ss->mu);
    return ok;
}

static void stream_free(struct fer_stream *st)
{
    if (!st)
        return;
    fer_tracker_free(st->tracker);
    fer_ws_reader_free(st->reader);
    fer_free(st->extra);
    pthread_mutex_destroy(&st->send_mu);
    fer_free(st);
}

void fer_api_stream(struct fer_request *rq)
{
    fer_server *s = rq->srv;
    if (strcmp(rq->method, "GET") != 0 || !header_has_token(rq->upgrade, "websocket") ||
        !header_has_token(rq->connection_header, "upgrade")) {
        fer_reply_error(rq, MHD_HTTP_UPGRADE_REQUIRED,
                        "%s is a WebSocket: connect with a WebSocket client (Upgrade: "
                        "websocket), then send each frame as a binary message",
                        rq->url);
        fer_reply_header(rq, "Upgrade", "websocket");
        return;
    }
    if (strcmp(rq->ws_version, "13") != 0) {
        fer_reply_error(rq, MHD_HTTP_UPGRADE_REQUIRED,
                        "WebSocket version '%.20s' is not spoken here: version 13 (RFC 6455) is",
                        rq->ws_version[0] ? rq->ws_version : "(none)");
        fer_reply_header(rq, "Sec-WebSocket-Version", "13");
        return;
    }
    char accept[FER_WS_ACCEPT_LEN + 1];
    if (fer_ws_accept_key(rq->ws_key, accept) != 0) {
        fer_reply_error(rq, MHD_HTTP_BAD_REQUEST,
                        "Sec-WebSocket-Key '%.40s' is not the base64 of 16 bytes",
                        rq->ws_key[0] ? rq->ws_key : "(none)");
        return;
    }
    if (!fer_guard_origin_may_connect(rq)) {
        fer_reply_error(rq, MHD_HTTP_FORBIDDEN,
                        "a page from '%.100s' may not open streams here (fer serve "
                        "--cors-origin allows other origins)",
                        rq->origin);
        return;
    }
    struct fer_tracker_options opt;
    if (read_options(rq, &opt))
        return;
    if (!reserve_stream(s)) {
        fer_reply_error(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "%u streams are open, the most this server takes (fer serve "
                        "--max-streams): try again later",
                        s->cfg.max_streams);
        fer_reply_header(rq, "Retry-After", "5");
        return;
    }
    struct fer_stream *st = fer_calloc(1, sizeof(*st));
    if (st)
        st->reader = fer_ws_reader_new(s->cfg.max_upload_bytes, 1);
    if (!st || !st->reader) {
        fer_free(st);
        fer_stream_release(s, NULL);
        fer_reply_error(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory for a stream");
        return;
    }
    st->srv = s;
    st->opt = opt;
    pthread_mutex_init(&st->send_mu, NULL);
    rq->stream = st;
    rq->reply.status = MHD_HTTP_SWITCHING_PROTOCOLS;
    rq->reply.upgrade = 1;
    fer_reply_header(rq, "Upgrade", "websocket");
    fer_reply_header(rq, "Sec-WebSocket-Accept", accept);
}

/* ---- sending ----------------------------------------------------------------------------- */

/* Sends one frame; -1 when the client is gone or stopped reading for timeout_s. */
static int send_frame(struct fer_stream *st, enum fer_ws_opcode op, const void *data, size_t n)
{
    uint8_t header[FER_WS_MAX_HEADER];
    struct iovec iov[2] = {{header, fer_ws_frame_header(header, op, n, NULL)}, {(void *)data, n}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    pthread_mutex_lock(&st->send_mu);
    int ok = 1;
    while (ok && (iov[0].iov_len || iov[1].iov_len)) {
        ssize_t w = sendmsg(st->sock, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = 0; /* a send timeout (SO_SNDTIMEO) counts as gone */
            break;
        }
        for (int i = 0; i < 2 && w > 0; i++) {
            size_t k = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            w -= (ssize_t)k;
        }
    }
    pthread_mutex_unlock(&st->send_mu);
    return ok ? 0 : -1;
}

static int send_json(struct fer_stream *st, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!text)
        return -1;
    int r = send_frame(st, FER_WS_TEXT, text, strlen(text));
    free(text);
    return r;
}

static int send_close(struct fer_stream *st, unsigned code, const char *reason)
{
    uint8_t payload[FER_WS_MAX_CONTROL];
    size_t n = fer_ws_close_payload(payload, code, reason);
    return send_frame(st, FER_WS_CLOSE, payload, n);
}

/* ---- one frame ------------------------------------------------------------------------- */

static double ms_round(double ms)
{
    return round(ms * 100) / 100;
}

/* The tracker for frames of this size (a new camera starts new tracks). */
static enum fer_status tracker_for(struct fer_stream *st, const fer_image *img, char *err)
{
    if (st->tracker && img->width == st->width && img->height == st->height)
        return FER_OK;
    fer_tracker_free(st->tracker);
    st->tracker = NULL;
    st->width = img->width;
    st->height = img->height;
    return fer_tracker_new(st->srv->engine, &st->opt, &st->tracker, err);
}

static json_t *frame_json(struct fer_stream *st, double time, const fer_image *img,
                          const fer_tracks *t, double decode_ms, double t0)
{
    json_t *faces = fer_tracks_faces_json(st->srv->engine, t);
    return json_pack("{s:I, s:f, s:o, s:b, s:{s:i, s:i}, s:f, s:{s:f, s:f, s:f, s:f}}", "frame",
                     (json_int_t)st->frames, "time", round(time * 1e3) / 1e3, "faces", faces,
                     "detected", t->detected, "image", "width", img->width, "height", img->height,
                     "elapsed_ms", ms_round((fer_now() - t0) * 1e3), "timing", "decode_ms",
                     ms_round(decode_ms), "detect_ms", ms_round(t->detect_ms), "track_ms",
                     ms_round(t->track_ms), "classify_ms", ms_round(t->classify_ms));
}

/* Analyses one picture and answers it; -1 when the answer cannot be sent. */
static int answer_frame(struct fer_stream *st, const uint8_t *data, size_t n)
{
    fer_server *s = st->srv;
    double t0 = fer_now();
    st->frames++;
    char msg[FER_ERR_LEN];
    fer_image img = {0};
    fer_tracks tracks = {0};
    json_t *o = NULL;
    enum fer_status status =
        fer_image_decode(data, n, "the frame", 0, s->cfg.max_pixels, &img, msg);
    double decode_ms = (fer_now() - t0) * 1e3;
    if (status == FER_OK)
        status = tracker_for(st, &img, msg);
    if (status == FER_OK)
        status = fer_tracker_feed(st->tracker, &img, t0 - st->started, &tracks, msg);
    if (status == FER_OK) {
        fer_metrics_add_stream_frame(s->metrics, tracks.n);
        o = frame_json(st, t0 - st->started, &img, &tracks, decode_ms, t0);
    } else {
        st->failed_frames++;
        o = json_pack("{s:I, s:s}", "frame", (json_int_t)st->frames, "error", msg);
    }
    fer_tracks_free(&tracks);
    fer_image_free(&img);
    return send_json(st, o);
}

/* ---- the stream's thread ----------------------------------------------------------------- */

static json_t *hello_json(struct fer_stream *st)
{
    return json_pack("{s:o, s:{s:i, s:i, s:f, s:f}, s:I}", "model", fer_api_model_json(st->srv),
                     "options", "detect_every", st->opt.detect_every, "detect_width",
                     st->opt.detect_width, "smooth", st->opt.smooth_seconds, "forget",
                     st->opt.forget_seconds, "max_message_bytes",
                     (json_int_t)st->srv->cfg.max_upload_bytes);
}

/* Handles the messages read so far; 1 when the stream is over (a close was sent or failed). */
static int handle_messages(struct fer_stream *st, const char **why)
{
    struct fer_ws_message m;
    unsigned code;
    char reason[FER_WS_MAX_CONTROL - 1];
    enum fer_ws_read k;
    while ((k = fer_ws_reader_next(st->reader, &m, &code, reason)) == FER_WS_READ_MESSAGE) {
        int sent = 0;
        switch (m.opcode) {
        case FER_WS_BINARY:
            sent = answer_frame(st, m.data, m.len);
            break;
        case FER_WS_TEXT:
            sent = send_json(st, json_pack("{s:s}", "error",
                                           "send each frame as a binary message: a JPEG, PNG or "
                                           "WebP picture"));
            break;
        case FER_WS_PING:
            sent = send_frame(st, FER_WS_PONG, m.data, m.len);
            break;
        default: /* close: answered with the same code, as the RFC asks */
            *why = "closed by the client";
            send_close(st,
                       m.close_code == FER_WS_CLOSE_NO_STATUS ? FER_WS_CLOSE_NORMAL : m.close_code,
                       "");
            return 1;
        }
        if (sent != 0) {
            *why = "the client stopped reading";
            return 1;
        }
    }
    if (k == FER_WS_READ_ERROR) {
        *why = "a protocol error";
        send_close(st, code, reason);
        return 1;
    }
    return 0;
}

/* Reads and answers until the stream ends; returns why it ended, for the log. */
static const char *serve_stream(struct fer_stream *st)
{
    fer_server *s = st->srv;
    const char *why = "the client left";
    if (send_json(st, hello_json(st)) != 0)
        return why;
    uint8_t *buf = fer_malloc(READ_CHUNK);
    if (!buf) {
        send_close(st, FER_WS_CLOSE_INTERNAL, "out of memory");
        return "out of memory";
    }
    if (st->extra_len && fer_ws_reader_feed(st->reader, st->extra, st->extra_len) != 0)
        goto out_of_memory;
    if (handle_messages(st, &why))
        goto end;
    for (;;) {
        struct pollfd p = {st->sock, POLLIN, 0};
        int ready = poll(&p, 1, (int)s->cfg.timeout_s * 1000);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            why = "idle";
            char reason[64];
            snprintf(reason, sizeof(reason), "no message for %u s", s->cfg.timeout_s);
            send_close(st, FER_WS_CLOSE_GOING_AWAY, reason);
            break;
        }
        ssize_t n = ready < 0 ? -1 : recv(st->sock, buf, READ_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (atomic_load(&s->streams.stopping)) {
                why = "the server stopped";
                send_close(st, FER_WS_CLOSE_GOING_AWAY, "the server is stopping");
            }
            break;
        }
        if (fer_ws_reader_feed(st->reader, buf, (size_t)n) != 0)
            goto out_of_memory;
        if (handle_messages(st, &why))
            break;
    }
end:
    fer_free(buf);
    return why;
out_of_memory:
    send_close(st, FER_WS_CLOSE_INTERNAL, "out of memory");
    fer_free(buf);
    return "out of memory";
}

static void *stream_main(void *arg)
{
    struct fer_stream *st = arg;
    fer_server *s = st->srv;
    struct timeval tv = {(time_t)s->cfg.timeout_s, 0};
    setsockopt(st->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a client not reading */
    const char *why = serve_stream(st);
    if (s->cfg.log_requests)
        fprintf(stderr,
                "fer serve: stream from %s ended (%s): %ld frames, %ld unreadable, %.1f s\n",
                st->client, why, st->frames, st->failed_frames, fer_now() - st->started);
    MHD_upgrade_action(st->urh, MHD_UPGRADE_ACTION_CLOSE);
    fer_stream_release(s, st);
    stream_free(st);
    return NULL;
}

void fer_stream_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                         size_t extra_in_size, MHD_socket sock,
                         struct MHD_UpgradeResponseHandle *urh)
{
    (void)c;
    fer_server *s = cls;
    struct fer_request *rq = con_cls;
    struct fer_stream *st = rq->stream;
    rq->stream = NULL; /* the stream's thread owns it now */
    st->urh = urh;
    st->sock = sock;
    st->started = fer_now();
    fer_request_client_text(rq, st->client, sizeof(st->client));
    if (extra_in_size && (st->extra = fer_malloc(extra_in_size))) {
        memcpy(st->extra, extra_in, extra_in_size);
        st->extra_len = extra_in_size;
    }
    struct fer_streams *ss = &s->streams;
    pthread_mutex_lock(&ss->mu);
    int open = !ss->stopping && (!extra_in_size || st->extra);
    ss->n_reserved--;
    if (open) {
        st->next = ss->open;
        ss->open = st;
        ss->n_open++;
        fer_metrics_streams_open(s->metrics, 1);
    }
    pthread_mutex_unlock(&ss->mu);
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (open && pthread_create(&thread, &attr, stream_main, st) == 0) {
        pthread_attr_destroy(&attr);
        return;
    }
    pthread_attr_destroy(&attr);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    if (open)
        fer_stream_release(s, st);
    stream_free(st);
}

void fer_stream_release(fer_server *s, struct fer_stream *st)
{
    struct fer_streams *ss = &s->streams;
    pthread_mutex_lock(&ss->mu);
    if (!st) {
        ss->n_reserved--; /* reserved, never opened */
    } else {
        for (struct fer_stream **p = &ss->open; *p; p = &(*p)->next)
            if (*p == st) {
                *p = st->next;
                ss->n_open--;
                fer_metrics_streams_open(s->metrics, -1);
                break;
            }
    }
    pthread_cond_broadcast(&ss->cv);
    pthread_mutex_unlock(&ss->mu);
}

void fer_stream_abandon(fer_server *s, struct fer_request *rq)
{
    if (!rq->stream)
        return;
    stream_free(rq->stream);
    rq->stream = NULL;
    fer_stream_release(s, NULL);
}

void fer_streams_stop(fer_server *s)
{
    struct fer_streams *ss = &s->streams;
    pthread_mutex_lock(&ss->mu);
    atomic_store(&ss->stopping, 1);
    for (struct fer_stream *st = ss->open; st; st = st->next)
        shutdown(st->sock, SHUT_RD); /* its thread reads the end, says goodbye and leaves */
    while (ss->n_open > 0)
        pthread_cond_wait(&ss->cv, &ss->mu);
    pthread_mutex_unlock(&ss->mu);
}
